"""Benchmark: snapping a million points to the real Wuhan network, exact and fast.

Run: ``.venv/bin/python scripts/bench_snap.py`` (``--points``, ``--repeats``, ``--no-large``).

Contenders, all on the same points, side by side in this one process (medians of
``--repeats``):

* **before** — geoplan's previous ``snap_points``: shapely ``STRtree.query_nearest`` then
  ``line_locate_point`` on the chosen edge (copied here verbatim);
* **geoplan exact k-d snap** — ``engine.snap_points`` now, cold (its index built, as on a
  first call) and warm (index cached, as for a second call on the same network);
* **approximate** — the issue's shortcut: a k-d tree over edge vertices densified every 20 m,
  nearest vertex only (``k=1``); its error against the exact answer is reported.

Two point sets: **uniform** over the network's bounding box (many points far from any street:
the hard case for a k-d tree) and **near streets** (a random point of a random street, moved
up to 100 m: like real demand). Both are synthetic placements on the real network. The exact
answers must equal the STRtree's (distance to 1e-9 m, fraction to 1e-9; where several edges
are equally near the engine takes the lowest row, the STRtree any). Unless ``--no-large``,
also the ~1M-node graph built from Wuhan (see ``bench_engine.py``).
"""

from __future__ import annotations

import argparse
import os

import numpy as np
import shapely
from _bench import WUHAN, timed
from bench_engine import tiled
from scipy.spatial import cKDTree

from geoplan._paths import shared_path
from geoplan.analysis import engine
from geoplan.readers.network import read_network


def strtree_snap(network, x, y):
    """geoplan's snap_points before this change (STRtree nearest + line_locate_point)."""
    geoms = np.asarray(network.edges.geometry.values)
    points = shapely.points(x, y)
    tree = shapely.STRtree(geoms)
    (point_idx, tree_idx), distance = tree.query_nearest(
        points, return_distance=True, all_matches=False
    )
    edge = np.empty(len(points), dtype=np.int64)
    snap_distance_m = np.empty(len(points))
    edge[point_idx] = tree_idx
    snap_distance_m[point_idx] = distance
    fraction = shapely.line_locate_point(geoms[edge], points, normalized=True)
    fraction = np.nan_to_num(fraction, nan=0.0)
    return engine.Snap(edge, np.clip(fraction, 0.0, 1.0), snap_distance_m)


def densified_tree(network, spacing_m: float = 20.0):
    """The approximate way: a k-d tree over vertices every ``spacing_m`` along the edges."""
    geoms = np.asarray(network.edges.geometry.values)
    dense = shapely.segmentize(geoms, spacing_m)
    coords, edge = shapely.get_coordinates(dense, return_index=True)
    return cKDTree(coords), edge


def approximate_snap(tree_edge, x, y):
    tree, edge = tree_edge
    distance, item = tree.query(np.column_stack([x, y]), k=1, workers=-1)
    return edge[item], distance


def cold_exact(network, x, y):
    engine._SNAP_CACHE.clear()
    engine._SNAP_MEMO.clear()
    return engine.snap_points(network, x, y)


def warm_exact(network, x, y):
    engine._SNAP_MEMO.clear()  # the index stays cached; the answers are computed again
    return engine.snap_points(network, x, y)


def point_sets(network, n: int, rng) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    x0, y0, x1, y1 = network.edges.total_bounds
    uniform = rng.uniform(x0, x1, n), rng.uniform(y0, y1, n)
    geoms = np.asarray(network.edges.geometry.values)
    on = shapely.line_interpolate_point(
        geoms[rng.integers(0, len(geoms), n)], rng.uniform(0, 1, n), normalized=True
    )
    angle, offset = rng.uniform(0, 2 * np.pi, n), rng.uniform(0, 100, n)
    near = (
        shapely.get_x(on) + offset * np.cos(angle),
        shapely.get_y(on) + offset * np.sin(angle),
    )
    return {"uniform in bbox": uniform, "near streets (≤100 m)": near}


def bench(network, label: str, n: int, rng, repeats: int) -> None:
    print(
        f"\n[{label}] {len(network.nodes):,} nodes, {len(network.edges):,} edges; "
        f"{n:,} points; medians of {repeats} runs; load average {os.getloadavg()[0]:.1f} "
        f"on {os.cpu_count()} CPUs"
    )
    approx_build_s, tree_edge = timed(lambda: densified_tree(network), 1)
    print(f"{'points':24s} {'contender':44s} {'seconds':>9s} {'× exact':>8s}  note")
    for name, (x, y) in point_sets(network, n, rng).items():
        cold_s, exact = timed(lambda x=x, y=y: cold_exact(network, x, y), repeats)
        warm_s, exact = timed(lambda x=x, y=y: warm_exact(network, x, y), repeats)
        rows = [
            ("geoplan exact k-d snap, cold (index built)", cold_s, ""),
            ("geoplan exact k-d snap, warm (index cached)", warm_s, ""),
        ]
        before_s, old = timed(lambda x=x, y=y: strtree_snap(network, x, y), repeats)
        check(network, exact, old, x, y)
        rows.insert(0, ("before: STRtree nearest + line_locate_point", before_s, "exact"))
        approx_s, (a_edge, a_dist) = timed(
            lambda x=x, y=y: approximate_snap(tree_edge, x, y), repeats
        )
        error = a_dist - exact.snap_distance_m
        wrong = float(np.mean(a_edge != exact.edge))
        rows.append(
            (
                "approximate: 20 m densified vertices, k=1",
                approx_s,
                f"distance error max {error.max():.1f} m, p99 {np.percentile(error, 99):.1f} m; "
                f"other edge for {wrong:.1%}; tree build {approx_build_s:.2f} s not counted",
            )
        )
        for contender, seconds, note in rows:
            print(f"{name:24s} {contender:44s} {seconds:9.3f} {seconds / warm_s:8.2f}  {note}")


def check(network, exact, old, x, y) -> None:
    """The k-d answers are the STRtree's: distance, and fraction on the chosen edge."""
    np.testing.assert_allclose(exact.snap_distance_m, old.snap_distance_m, rtol=0, atol=1e-9)
    same = exact.edge == old.edge
    np.testing.assert_allclose(exact.fraction[same], old.fraction[same], rtol=0, atol=1e-9)
    geoms = np.asarray(network.edges.geometry.values)
    points = shapely.points(x[~same], y[~same])
    # where the STRtree chose another edge it is a tie: equally near
    np.testing.assert_allclose(
        shapely.distance(geoms[exact.edge[~same]], points),
        shapely.distance(geoms[old.edge[~same]], points),
        rtol=0,
        atol=1e-9,
    )
    expected = shapely.line_locate_point(geoms[exact.edge], shapely.points(x, y), normalized=True)
    np.testing.assert_allclose(exact.fraction, expected, rtol=0, atol=1e-9)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--seed", type=int, default=20261124)
    parser.add_argument("--no-large", action="store_true", help="skip the ~1M-node graph")
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    network = read_network(shared_path(WUHAN))
    bench(network, "Wuhan FUA (real network)", args.points, rng, args.repeats)
    if not args.no_large:
        large = tiled(network)
        bench(
            large,
            "3×4 tiles built from Wuhan (synthetic layout of real streets)",
            args.points,
            rng,
            args.repeats,
        )


if __name__ == "__main__":
    main()
