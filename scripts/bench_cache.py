"""Benchmark: reading a network from its file against reading it from geoplan's cache.

Run: ``.venv/bin/python scripts/bench_cache.py`` (``--repeats``).

For each real network in the shared data folder: ``read_network(path, cache=False)`` (parse
and build), the first cached read (parse, build and store) and later cached reads (hash the
file, load the stored tables), medians of ``--repeats`` in this one process, in a temporary
cache folder. The networks read back equal the parsed ones (checked).

Then Wuhan's snapping indexes (all edges, and two masks of 90 % and 80 % of them, as a walk
and a drive run use): built from the edges against loaded from the cache folder (checksums
verified), the in-memory copy dropped before each load; the loaded indexes snap 20,000
points exactly as the built ones (checked).
"""

from __future__ import annotations

import argparse
import os
import tempfile

import numpy as np
import pandas as pd
from _bench import WUHAN, timed

from geoplan._paths import shared_path
from geoplan.analysis import engine
from geoplan.readers.network import read_network

NETWORKS = (
    WUHAN,
    "osm/huangshi_tuanchengshan_all_2022.graphml",
    "osm/huangshi_tuanchengshan_drive_ghspop_2024.graphml",
    "osm/andorra_ad.osm.pbf",
    "osm/beijing_bupt_haidian_cn.osm.bz2",
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="geoplan_bench_cache_") as cache:  # removed after
        os.environ["GEOPLAN_CACHE"] = cache
        measure(args.repeats)


def measure(repeats: int) -> None:
    """Parse, store and load each network; then the snapping indexes."""
    print(f"cache folder {os.environ['GEOPLAN_CACHE']}; medians of {repeats} runs\n")
    print(f"{'network':48s} {'edges':>9s} {'parse s':>9s} {'store s':>9s} {'cached s':>9s} ×")
    for relative in NETWORKS:
        path = shared_path(relative)
        parse_s, parsed = timed(lambda path=path: read_network(path, cache=False), repeats)
        store_s, _ = timed(lambda path=path: read_network(path), 1)
        hit_s, cached = timed(lambda path=path: read_network(path), repeats)
        pd.testing.assert_frame_equal(parsed.nodes, cached.nodes)
        pd.testing.assert_frame_equal(
            pd.DataFrame(parsed.edges.drop(columns="geometry")),
            pd.DataFrame(cached.edges.drop(columns="geometry")),
        )
        assert (parsed.edges.geometry.values == cached.edges.geometry.values).all()
        print(
            f"{relative:48s} {len(parsed.edges):9,d} {parse_s:9.3f} {store_s:9.3f} "
            f"{hit_s:9.3f} {parse_s / hit_s:.1f}"
        )
    snapping_indexes(repeats)


def snapping_indexes(repeats: int) -> None:
    """Wuhan's three snapping indexes: built, and loaded from the cache folder."""
    network = read_network(shared_path(WUHAN))
    edges = engine._EdgeCoordinates.of(np.asarray(network.edges.geometry.values))
    rng = np.random.default_rng(16)
    masks = {
        "all edges": None,
        "90 % of them": rng.random(len(network.edges)) < 0.9,
        "80 % of them": rng.random(len(network.edges)) < 0.8,
    }

    def index(mask, *, stored: bool):
        engine._SNAP_CACHE.clear()
        return engine._segment_index(edges, mask) if stored else engine._built_index(edges, mask)

    x0, y0, x1, y1 = network.edges.total_bounds
    x, y = rng.uniform(x0, x1, 20_000), rng.uniform(y0, y1, 20_000)
    print(f"\nWuhan snapping index ({len(edges.coords):,d} vertices)   build s   load s   ×")
    for name, mask in masks.items():
        index(mask, stored=True)  # stored in the cache folder by the first use
        build_s, built = timed(lambda mask=mask: index(mask, stored=False), repeats)
        load_s, loaded = timed(lambda mask=mask: index(mask, stored=True), repeats)
        a, b = engine._snap_with(built, x, y), engine._snap_with(loaded, x, y)
        assert np.array_equal(a.edge, b.edge) and np.array_equal(a.fraction, b.fraction)
        print(f"{name:42s} {build_s:9.3f} {load_s:8.3f} {build_s / load_s:4.1f}")


if __name__ == "__main__":
    main()
