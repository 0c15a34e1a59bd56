"""Benchmark: site selection at county scale on the real Wuhan street network.

Run: ``.venv/bin/python scripts/bench_siting.py`` (``--help`` for sizes; ``--window-km 10``
packs everything into a central 10 km square, a much denser and harder instance).

The network is real (OSM, Wuhan functional urban area); the candidate sites and demand points
are SYNTHETIC placements on it: seeded random positions along walkable edges (edge chosen with
probability proportional to its length, uniform position along it, no access leg) and a
synthetic population per demand point (gamma distributed, mean 50). Timings are medians over
``--repeats`` runs in this one process; MILP rows report HiGHS status and gap.
"""

from __future__ import annotations

import argparse

import numpy as np
import pandas as pd
from _bench import WUHAN, timed

from geoplan._paths import shared_path
from geoplan.analysis import engine, location
from geoplan.readers.network import mode_edge_mask, read_network


def place(network, usable: np.ndarray, n: int, rng: np.random.Generator) -> engine.Snap:
    """``n`` synthetic points on usable edges, length-weighted, uniform along the edge."""
    length = network.edges["length_m"].to_numpy()[usable]
    edge = rng.choice(usable, n, p=length / length.sum())
    return engine.Snap(edge, rng.random(n), np.zeros(n))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--candidates", type=int, default=1000)
    parser.add_argument("--demand", type=int, default=100_000)
    parser.add_argument("--cutoff-min", type=float, default=15.0)
    parser.add_argument("--p", type=int, nargs="+", default=[10, 50])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--time-limit-s", type=float, default=60.0)
    parser.add_argument("--window-km", type=float, default=None)
    parser.add_argument("--seed", type=int, default=20261124)
    args = parser.parse_args()

    load_s, network = timed(lambda: read_network(shared_path(WUHAN)), 1)
    forward_s, backward_s = network.edge_times_s("walk")
    usable = mode_edge_mask(forward_s, backward_s)
    area = "the whole network"
    if args.window_km:
        mid = network.edges.geometry.centroid
        x0, y0, x1, y1 = network.edges.total_bounds
        half = args.window_km * 500.0
        usable &= (np.abs(mid.x.to_numpy() - (x0 + x1) / 2) < half) & (
            np.abs(mid.y.to_numpy() - (y0 + y1) / 2) < half
        )
        area = f"a central {args.window_km:g} km square"
    usable = np.flatnonzero(usable)
    rng = np.random.default_rng(args.seed)
    candidates = place(network, usable, args.candidates, rng)
    demand = place(network, usable, args.demand, rng)
    population = pd.Series(rng.gamma(2.0, 25.0, args.demand))  # synthetic persons, ids 0..n-1
    cutoff_s = args.cutoff_min * 60.0
    base = engine.transposed_street_csr(network, forward_s, backward_s)

    print(f"network: {network!r} (loaded in {load_s:.2f} s)")
    print(
        f"synthetic placements on {area}: {args.candidates:,} candidate sites, "
        f"{args.demand:,} demand points ({population.sum():,.0f} synthetic persons); "
        f"walk at 70 m/min, cutoff {args.cutoff_min:g} min; seed {args.seed}; "
        f"median of {args.repeats} runs"
    )
    rows = []
    matrix_s, long = timed(
        lambda: engine.travel_time_matrix(
            network, forward_s, backward_s, candidates, demand, cutoff_s=cutoff_s, base=base
        ),
        args.repeats,
    )
    # Positions serve as ids: facility_id = candidate position, demand_id = demand position.
    table = long.rename(columns={"demand": "demand_id", "facility": "facility_id"})
    rows.append(("travel_time_matrix", matrix_s, f"{len(table):,} pairs within the cutoff"))
    rank_s, ranked = timed(
        lambda: location.evaluate_candidates(table, population, cutoff_s=cutoff_s), args.repeats
    )
    rows.append(
        (
            "evaluate_candidates",
            rank_s,
            f"best site adds {ranked['new_population'].iloc[0]:,.0f} persons",
        )
    )
    for p in args.p:
        for method in ("greedy", "milp"):
            seconds, result = timed(
                lambda p=p, method=method: location.mclp(
                    table,
                    population,
                    p=p,
                    cutoff_s=cutoff_s,
                    method=method,
                    time_limit_s=args.time_limit_s,
                ),
                args.repeats,
            )
            rows.append(
                (
                    f"mclp p={p} {method}",
                    seconds,
                    f"covered {result.covered_population:,.0f} "
                    f"({result.share_covered:.1%}), status {result.status}, "
                    f"gap {result.gap:.3%} (bound {result.bound:,.0f})",
                )
            )
    width = max(len(r[0]) for r in rows)
    print(f"{'step':<{width}}  {'median s':>9}  detail")
    for name, seconds, detail in rows:
        print(f"{name:<{width}}  {seconds:9.3f}  {detail}")
    print(
        "mclp times include checks, model building, the greedy (also the MILP's warm start) "
        f"and HiGHS (LP bound for greedy; MILP time limit {args.time_limit_s:g} s)"
    )


if __name__ == "__main__":
    main()
