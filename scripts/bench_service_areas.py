"""Benchmark: service areas (服务范围) on the real Wuhan network, against the coverage pass.

Run: ``.venv/bin/python scripts/bench_service_areas.py`` (``--facilities``, ``--residents``).

Facilities and residents sit at random nodes of the Wuhan FUA walk network; one walking rule
of 15 minutes. Printed per ``per``: the seconds of :func:`service_areas` (bands 5, 10, 15)
beside the coverage pass it draws from, the polygons, and the 15-minute areas against their
convex hulls (what a hull would over-claim).
"""

from __future__ import annotations

import argparse

import geopandas as gpd
import numpy as np
import shapely
from _bench import WUHAN, peak_mb, timed

from geoplan._paths import shared_path
from geoplan.analysis.coverage import compute_coverage
from geoplan.analysis.rules import rule_from_mapping
from geoplan.analysis.service_areas import PER, service_areas
from geoplan.readers.network import read_network


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--facilities", type=int, default=300)
    parser.add_argument("--residents", type=int, default=20_000)
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--seed", type=int, default=20261207)
    args = parser.parse_args()

    network = read_network(shared_path(WUHAN), cache=False)
    rng = np.random.default_rng(args.seed)
    nodes = network.nodes
    print(f"Wuhan FUA walk network: {len(nodes):,} nodes, {len(network.edges):,} edges")

    def at_nodes(n: int, **columns) -> gpd.GeoDataFrame:
        pick = rng.choice(len(nodes), n, replace=False)
        xy = nodes[["x", "y"]].to_numpy()[pick]
        return gpd.GeoDataFrame(columns, geometry=gpd.points_from_xy(*xy.T), crs=network.crs)

    n_fac = args.facilities
    facilities = at_nodes(
        n_fac,
        facility_id=[f"F{i}" for i in range(n_fac)],
        name=[f"facility {i}" for i in range(n_fac)],
        category=np.where(np.arange(n_fac) % 3 == 0, "clinic", "community_health_station"),
    )
    residents = at_nodes(
        args.residents,
        demand_id=[f"d{i}" for i in range(args.residents)],
        population=rng.integers(1, 50, args.residents).astype(float),
    )
    rule = rule_from_mapping(
        {"id": "walk15", "categories": ["medical"], "mode": "walk", "threshold_min": 15}
    )
    cover_s, coverage = timed(
        lambda: compute_coverage(network, facilities, residents, [rule]), args.repeats
    )
    print(f"coverage pass ({n_fac} facilities, {args.residents:,} residents): {cover_s:.2f} s")
    print(f"{'per':10s} {'seconds':>8s} {'polygons':>9s} {'15-min km²':>11s} {'hulls km²':>10s}")
    for per in PER:
        seconds, areas = timed(
            lambda per=per: service_areas(
                network, coverage, facilities, "walk15", bands_min=[5, 10, 15], per=per
            ),
            args.repeats,
        )
        top = areas[areas["band_min"] == 15].geometry.values
        area = float(shapely.area(top).sum()) / 1e6
        hull = float(shapely.area(shapely.convex_hull(top)).sum()) / 1e6
        print(f"{per:10s} {seconds:8.2f} {len(areas):9,d} {area:11.1f} {hull:10.1f}")
    print(f"peak memory {peak_mb():,.0f} MB")


if __name__ == "__main__":
    main()
