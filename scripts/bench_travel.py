"""Benchmark: terrain-aware walking and rules of several modes on the real Wuhan network.

Run: ``.venv/bin/python scripts/bench_travel.py`` (``--points``, ``--facilities``, ``--repeats``).

The network is real (the Wuhan FUA streets, 82,902 nodes); the demand (``--points`` seeded
uniform points in the network's bounding box) and the facilities (random nodes) are synthetic,
and so is the DEM: **no DEM of Wuhan is in the shared data**, so a GeoTIFF of smooth hills
(−35 to 95 m, slopes up to ~15 %, 90 m pixels, EPSG:32650) covering the network is written
to a temporary folder.

Two questions (the goals of issue 13), each a median over ``--repeats`` runs in this process,
the runs compared interleaved (so that load from other processes falls on both alike):

1. **Terrain**: one walk rule by :func:`geoplan.analysis.coverage.compute_coverage` on the
   flat network, against the same with the DEM read first
   (:func:`geoplan.readers.elevation.with_terrain`: bilinear sampling of every walkable node,
   grades, Tobler factors) — goal ≤ 1.5 ×.
2. **Several modes**: one rule ``modes = ["walk", "ebike"]`` against the sum of the two
   single-mode rules run apart — goal ≤ 1 ×.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
from pathlib import Path

import geopandas as gpd
import numpy as np
from _bench import WUHAN, timed

from geoplan._paths import shared_path
from geoplan.analysis.coverage import compute_coverage
from geoplan.analysis.rules import Rule
from geoplan.readers.elevation import with_terrain
from geoplan.readers.network import read_network


def hills_dem(path: Path, bounds, pixel: float = 90.0) -> Path:
    """Smooth synthetic hills (metres) over ``bounds`` (EPSG:32650) as a GeoTIFF."""
    import rasterio
    from rasterio.transform import from_origin

    west, south, east, north = bounds
    west, south, east, north = west - 1000, south - 1000, east + 1000, north + 1000
    cols, rows = int((east - west) / pixel) + 1, int((north - south) / pixel) + 1
    x = west + (np.arange(cols) + 0.5) * pixel
    y = north - (np.arange(rows) + 0.5) * pixel
    z = 30 + 40 * np.sin(x / 1500.0)[None, :] * np.cos(y / 2300.0)[:, None]
    z = z + 25 * np.sin((x[None, :] + y[:, None]) / 250.0)
    with rasterio.open(
        path, "w", driver="GTiff", height=rows, width=cols, count=1, dtype="float32",
        crs="EPSG:32650", transform=from_origin(west, north, pixel, pixel),
    ) as ds:  # fmt: skip
        ds.write(z.astype(np.float32), 1)
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=200_000)
    parser.add_argument("--facilities", type=int, default=300)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    rng = np.random.default_rng(13)
    network = read_network(shared_path(WUHAN))
    bounds = network.edges.total_bounds
    x = rng.uniform(bounds[0], bounds[2], args.points)
    y = rng.uniform(bounds[1], bounds[3], args.points)
    demand = gpd.GeoDataFrame(
        {
            "demand_id": np.arange(args.points).astype(str),
            "population": rng.uniform(1, 200, x.size),
        },
        geometry=gpd.points_from_xy(x, y),
        crs=network.crs,
    )
    at = rng.choice(len(network.nodes), args.facilities, replace=False)
    facilities = gpd.GeoDataFrame(
        {"facility_id": [f"F{i}" for i in range(at.size)], "category": "clinic"},
        geometry=gpd.points_from_xy(network.nodes["x"].iloc[at], network.nodes["y"].iloc[at]),
        crs=network.crs,
    )
    walk = Rule("walk", "步行", "walk", ("clinic",), "walk", 15.0)
    ebike = Rule("ebike", "电动自行车", "ebike", ("clinic",), "ebike", 15.0)
    both = Rule(
        "both", "步行或电动自行车", "both", ("clinic",), None, 15.0, modes=["walk", "ebike"]
    )

    def run(net, rules):
        return compute_coverage(net, facilities, demand, rules, walk_speed_m_per_min=70)

    print(
        f"Wuhan FUA: {len(network.nodes):,} nodes, {len(network.edges):,} edges; "
        f"{args.points:,} points, {args.facilities} facilities; medians of {args.repeats}"
    )
    with tempfile.TemporaryDirectory() as tmp:
        dem = hills_dem(Path(tmp) / "hills.tif", bounds)
        run(network, [walk])  # warm-up: imports, caches
        run(with_terrain(network, dem), [walk])
        # interleaved, so that load from other processes falls on both alike
        flat_t, terrain_t = [], []
        for _ in range(args.repeats):
            seconds, flat = timed(lambda: run(network, [walk]), 1)
            flat_t.append(seconds)
            seconds, hilly = timed(lambda: run(with_terrain(network, dem), [walk]), 1)
            terrain_t.append(seconds)
        flat_s, terrain_s = statistics.median(flat_t), statistics.median(terrain_t)
        build_s, hilly_net = timed(lambda: with_terrain(network, dem), args.repeats)
    summary = hilly_net.terrain.summary()
    share = [c.summary()[0]["share_covered"] for c in (flat, hilly)]
    print("\n| walk rule, 15 min | seconds | × flat |\n| --- | ---: | ---: |")
    print(f"| flat | {flat_s:.2f} | 1.00 |")
    print(f"| with the DEM (read + run) | {terrain_s:.2f} | {terrain_s / flat_s:.2f} |")
    print(f"| of which reading the DEM | {build_s:.2f} | {build_s / flat_s:.2f} |")
    print(
        f"\nshare covered flat {share[0]:.4f}, on the hills {share[1]:.4f}; "
        f"elevation {summary['elevation_m']}, {summary['nodes_sampled']:,} nodes sampled, "
        f"{summary['edges_grade_over_10pct']:,} edges steeper than 10 %"
    )
    walk_t, ebike_t, both_t = [], [], []
    for _ in range(args.repeats):
        walk_t.append(timed(lambda: run(network, [walk]), 1)[0])
        ebike_t.append(timed(lambda: run(network, [ebike]), 1)[0])
        seconds, mixed = timed(lambda: run(network, [both]), 1)
        both_t.append(seconds)
    single_s = [statistics.median(walk_t), statistics.median(ebike_t)]
    both_s = statistics.median(both_t)
    print("\n| rule | seconds |\n| --- | ---: |")
    print(f"| walk | {single_s[0]:.2f} |\n| ebike | {single_s[1]:.2f} |")
    print(f"| walk + ebike (one rule) | {both_s:.2f} ({both_s / sum(single_s):.2f} × the sum) |")
    by_mode = mixed.summary()[0]["population_covered_by_mode"]
    print(f"\nwalk + ebike covered by mode: {by_mode}")


if __name__ == "__main__":
    main()
