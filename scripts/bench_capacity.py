"""Benchmark: facility × demand matrix and 2SFCA at city scale, on the real Wuhan network.

Run: ``.venv/bin/python scripts/bench_capacity.py`` (defaults: 1,000 facilities, 1,000,000
demand points, 30-minute walk cutoff, median of 3 repeats).

The street network is real (OSM, Wuhan functional urban area, ~83k nodes). The facilities,
demand points, capacities and populations are **synthetic**: seeded uniform random placements
inside the network's bounding box, snapped to the walk network. Many such points fall in
fields or water far from any street, so their access legs are long and the pair count is lower
than real settlement patterns would give.

Stages timed (median of ``--repeats`` runs each, in this one process): snapping the points
(``engine.snap_points``), the truncated matrix (``engine.travel_time_matrix``), naming its rows
(``capacity.travel_times_by_id``) and ``capacity.two_step_fca`` (step and Gaussian weights).
"""

from __future__ import annotations

import argparse

import numpy as np
import pandas as pd
from _bench import WUHAN, timed

from geoplan._paths import shared_path
from geoplan.analysis import engine
from geoplan.analysis.capacity import travel_times_by_id, two_step_fca
from geoplan.progress import peak_memory_mb
from geoplan.readers.network import mode_edge_mask, read_network


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--facilities", type=int, default=1000)
    parser.add_argument("--demand", type=int, default=1_000_000)
    parser.add_argument("--cutoff-min", type=float, default=30.0)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--seed", type=int, default=20261124)
    args = parser.parse_args()
    cutoff_s = args.cutoff_min * 60.0

    load_s, network = timed(lambda: read_network(shared_path(WUHAN)), 1)
    print(f"network: {network!r}, loaded in {load_s:.2f} s")
    print(
        f"SYNTHETIC placements on the real network: {args.facilities:,} facilities and "
        f"{args.demand:,} demand points, uniform random in the network bounds (seed {args.seed})"
    )
    forward_s, backward_s = network.edge_times_s("walk")
    usable = mode_edge_mask(forward_s, backward_s)
    rng = np.random.default_rng(args.seed)
    x0, y0, x1, y1 = network.edges.total_bounds
    fac_xy = rng.uniform(x0, x1, args.facilities), rng.uniform(y0, y1, args.facilities)
    dem_xy = rng.uniform(x0, x1, args.demand), rng.uniform(y0, y1, args.demand)
    facility_ids = [f"fac-{i:04d}" for i in range(args.facilities)]
    demand_ids = [f"pt-{i:07d}" for i in range(args.demand)]
    supply = pd.Series(rng.integers(1, 500, args.facilities).astype(float), index=facility_ids)
    population = pd.Series(rng.uniform(0.0, 20.0, args.demand), index=demand_ids)
    rows = []

    def stage(name, seconds, note=""):
        rows.append((name, seconds, peak_memory_mb(), note))
        print(f"  {name:<34} {seconds:8.3f} s   peak RSS so far {peak_memory_mb():8.0f} MB  {note}")

    print(f"stages (median of {args.repeats}), walk mode, cutoff {cutoff_s:.0f} s:")
    base_s, base = timed(
        lambda: engine.transposed_street_csr(network, forward_s, backward_s), args.repeats
    )
    stage("street CSR (once per mode)", base_s)
    snap_f_s, fac = timed(lambda: engine.snap_points(network, *fac_xy, usable=usable), args.repeats)
    stage("snap facilities", snap_f_s)
    snap_d_s, dem = timed(lambda: engine.snap_points(network, *dem_xy, usable=usable), args.repeats)
    stage(
        "snap demand points", snap_d_s, f"median access leg {np.median(dem.snap_distance_m):.0f} m"
    )
    matrix_s, matrix = timed(
        lambda: engine.travel_time_matrix(
            network, forward_s, backward_s, fac, dem, cutoff_s=cutoff_s, base=base
        ),
        args.repeats,
    )
    stage("engine.travel_time_matrix", matrix_s, f"{len(matrix):,} rows")
    label_s, table = timed(
        lambda: travel_times_by_id(matrix, demand_ids, facility_ids), args.repeats
    )
    stage("capacity.travel_times_by_id", label_s)
    fca_s, access = timed(
        lambda: two_step_fca(table, supply, population, cutoff_s=cutoff_s), args.repeats
    )
    stage("two_step_fca (step)", fca_s, f"{int((access > 0).sum()):,} points with access > 0")
    gauss_s, _ = timed(
        lambda: two_step_fca(table, supply, population, cutoff_s=cutoff_s, weight="gaussian"),
        args.repeats,
    )
    stage("two_step_fca (gaussian)", gauss_s)
    total = matrix_s + label_s + fca_s
    print(
        f"matrix rows: {len(matrix):,}; matrix + naming + 2SFCA (step): {total:.2f} s "
        f"(target <= 5 s: {'met' if total <= 5 else 'NOT met'}); "
        f"peak RSS {peak_memory_mb():.0f} MB"
    )


if __name__ == "__main__":
    main()
