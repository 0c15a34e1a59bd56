"""Benchmark: geoplan's nearest-facility pass against the usual ways, on the real Wuhan network.

Run: ``.venv/bin/python scripts/bench_engine.py`` (add ``pip install -e .[bench]`` for pandana).

Every contender answers the same question — seconds from every node to its nearest facility
on the walk network — and the answers are checked against each other before timings print.
Timings are medians over ``--repeats`` runs in this one process. The naive per-facility
networkx way is timed on ``--naive-sample`` facilities and scaled to all of them (labelled).
"""

from __future__ import annotations

import argparse
import statistics
import time

import networkx as nx
import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import dijkstra

from geoplan import engine
from geoplan._paths import shared_path
from geoplan.network import read_network


def timed(fn, repeats: int):
    """Median seconds of ``repeats`` calls and the last result."""
    seconds = []
    for _ in range(repeats):
        start = time.perf_counter()
        result = fn()
        seconds.append(time.perf_counter() - start)
    return statistics.median(seconds), result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--facilities", type=int, default=300)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--naive-sample", type=int, default=5)
    parser.add_argument("--seed", type=int, default=20261124)
    args = parser.parse_args()

    load_s, network = timed(
        lambda: read_network(shared_path("osm/wuhan_fua_osm_streets.parquet")), 1
    )
    n_nodes, n_edges = len(network.nodes), len(network.edges)
    forward_s, backward_s = network.edge_times_s("walk")
    rng = np.random.default_rng(args.seed)
    x0, y0, x1, y1 = network.edges.total_bounds
    snap = engine.snap_points(
        network,
        rng.uniform(x0, x1, args.facilities),
        rng.uniform(y0, y1, args.facilities),
        usable=engine.mode_edge_mask(forward_s, backward_s),
    )
    # Facilities at their edge's u node with no access leg, so that every contender can
    # answer the identical question on plain nodes.
    at_nodes = engine.Snap(snap.edge, np.zeros(len(snap)), np.zeros(len(snap)))
    source_nodes = network.edges["u"].to_numpy()[snap.edge]
    unique_sources = np.unique(source_nodes)

    rows = []
    base_s, transposed = timed(
        lambda: engine.transposed_street_csr(network, forward_s, backward_s), args.repeats
    )
    engine_s, (engine_time, _) = timed(
        lambda: engine.facility_search(network, forward_s, backward_s, at_nodes, base=transposed),
        args.repeats,
    )
    rows.append(
        (
            "geoplan engine pass (virtual nodes + Dijkstra)",
            engine_s,
            f"street CSR built once per mode: {base_s:.4f} s",
        )
    )
    scipy_s, scipy_time = timed(
        lambda: dijkstra(transposed, directed=True, indices=unique_sources, min_only=True),
        args.repeats,
    )
    rows.append(("scipy bare Dijkstra on a prebuilt CSR", scipy_s, ""))

    build_s, graph = timed(lambda: _networkx_graph(transposed), 1)
    nx_s, nx_dist = timed(
        lambda: nx.multi_source_dijkstra_path_length(graph, set(unique_sources.tolist())),
        max(1, args.repeats // 2),
    )
    rows.append(
        ("networkx multi-source Dijkstra", nx_s, f"graph build {build_s:.2f} s not counted")
    )

    sample = rng.choice(
        unique_sources, size=min(args.naive_sample, len(unique_sources)), replace=False
    )
    per_s, naive_part = timed(
        lambda: [nx.single_source_dijkstra_path_length(graph, int(s)) for s in sample], 1
    )
    naive_s = per_s / len(sample) * len(unique_sources)
    rows.append(
        (
            "naive networkx, one search per facility",
            naive_s,
            f"measured on {len(sample)} facilities, scaled to {len(unique_sources)}",
        )
    )
    pandana_row = _pandana(network, forward_s, backward_s, unique_sources, args.repeats)
    if pandana_row:
        rows.append(pandana_row)

    _check_agreement(engine_time, scipy_time, nx_dist, naive_part, sample, n_nodes)

    print(
        f"Wuhan FUA walk network: {n_nodes:,} nodes, {n_edges:,} edges (loaded in {load_s:.2f} s)"
    )
    print(
        f"{len(unique_sources)} facilities; medians of {args.repeats} runs; "
        "answers agree to 1e-6 s\n"
    )
    print(f"{'contender':48s} {'seconds':>10s} {'× engine':>10s}  note")
    for name, seconds, note in rows:
        print(f"{name:48s} {seconds:10.4f} {seconds / engine_s:10.1f}  {note}")


def _networkx_graph(csr: sp.csr_array) -> nx.DiGraph:
    coo = csr.tocoo()
    graph = nx.DiGraph()
    graph.add_nodes_from(range(csr.shape[0]))
    graph.add_weighted_edges_from(
        zip(coo.row.tolist(), coo.col.tolist(), coo.data.tolist(), strict=True)
    )
    return graph


def _pandana(network, forward_s, backward_s, sources, repeats):
    try:
        import pandana
        import pandas as pd
    except ImportError:
        print("pandana not installed (pip install -e .[bench]); skipped")
        return None
    two_way = np.isfinite(forward_s) & np.isfinite(backward_s)
    edges = network.edges[two_way]
    nodes = network.nodes

    def run():
        net = pandana.Network(
            nodes["x"],
            nodes["y"],
            edges["u"],
            edges["v"],
            pd.DataFrame({"w": forward_s[two_way]}),
            twoway=True,
        )
        net.set_pois("f", 1e9, 1, nodes["x"].to_numpy()[sources], nodes["y"].to_numpy()[sources])
        return net.nearest_pois(1e9, "f", num_pois=1)

    seconds, _ = timed(run, max(1, repeats // 2))
    return ("pandana (CH build + nearest_pois)", seconds, "walk network is all two-way")


def _check_agreement(engine_time, scipy_time, nx_dist, naive_part, sample, n_nodes):
    finite = np.isfinite(engine_time)
    np.testing.assert_allclose(engine_time[finite], scipy_time[finite], atol=1e-6)
    nx_arr = np.full(n_nodes, np.inf)
    nx_arr[list(nx_dist)] = list(nx_dist.values())
    np.testing.assert_allclose(engine_time, nx_arr, atol=1e-6)
    naive = np.full(n_nodes, np.inf)
    for dist in naive_part:
        idx = np.fromiter(dist.keys(), dtype=np.int64)
        naive[idx] = np.minimum(naive[idx], np.fromiter(dist.values(), dtype=float))
    assert (engine_time <= naive + 1e-6).all()


if __name__ == "__main__":
    main()
