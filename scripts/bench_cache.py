"""Benchmark: reading a network from its file against reading it from geoplan's cache.

Run: ``.venv/bin/python scripts/bench_cache.py`` (``--repeats``).

For each real network in the shared data folder: ``read_network(path, cache=False)`` (parse
and build), the first cached read (parse, build and store) and later cached reads (hash the
file, load the stored tables), medians of ``--repeats`` in this one process, in a temporary
cache folder. The networks read back equal the parsed ones (checked).
"""

from __future__ import annotations

import argparse
import os
import tempfile

import pandas as pd
from _bench import WUHAN, timed

from geoplan._paths import shared_path
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
    os.environ["GEOPLAN_CACHE"] = tempfile.mkdtemp(prefix="geoplan_bench_cache_")
    print(f"cache folder {os.environ['GEOPLAN_CACHE']}; medians of {args.repeats} runs\n")
    print(f"{'network':48s} {'edges':>9s} {'parse s':>9s} {'store s':>9s} {'cached s':>9s} ×")
    for relative in NETWORKS:
        path = shared_path(relative)
        parse_s, parsed = timed(lambda path=path: read_network(path, cache=False), args.repeats)
        store_s, _ = timed(lambda path=path: read_network(path), 1)
        hit_s, cached = timed(lambda path=path: read_network(path), args.repeats)
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


if __name__ == "__main__":
    main()
