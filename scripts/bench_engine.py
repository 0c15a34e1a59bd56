"""Benchmark: geoplan's nearest-facility pass against the usual ways, on the real Wuhan network.

Run: ``.venv/bin/python scripts/bench_engine.py`` (add ``pip install -e .[bench]`` for pandana;
``--no-large`` skips the ~1M-node graph, which takes a few minutes).

Every contender answers the same question — seconds from every node to its nearest facility
on the walk network — and the answers are checked against each other before timings print.
Timings are medians over ``--repeats`` runs in this one process. The naive per-facility
networkx way is timed on ``--naive-sample`` facilities and scaled to all of them (labelled).

Three tables:

1. **Nearest facility, Wuhan FUA** (real network, 82,902 nodes; facilities at random nodes):
   the engine pass, scipy's bare multi-source Dijkstra on the same CSR, networkx
   multi-source, the naive per-facility networkx way and pandana (CH build + nearest_pois,
   also timed apart).
2. **15-minute cutoff, Wuhan FUA**: which nodes lie within 15 minutes' walk of a facility
   (facilities at random nodes, so mostly in the dense city), and how far. The engine
   answers with its one limit-free pass (then ``<= 900 s``); against it, scipy with
   ``limit=900``, per-facility ``nx.single_source_dijkstra_path_length(cutoff=)`` and the
   ``nx.ego_graph(radius=, distance=)`` way (one ego graph per facility, nodes unioned); all
   give the same node set and times.
3. **~1M nodes built from Wuhan**: the real Wuhan graph replicated in a 3 × 4 tiling (tiles
   shifted by the network's extent plus 2 km, joined by straight links between facing edge
   nodes of neighbouring tiles) — a synthetic layout made of real streets, not a real city.
   Same contenders as table 1 (networkx's graph build not counted; naive way skipped).
"""

from __future__ import annotations

import argparse

import geopandas as gpd
import networkx as nx
import numpy as np
import pandas as pd
import scipy.sparse as sp
import shapely
from _bench import WUHAN, timed
from scipy.sparse.csgraph import dijkstra

from geoplan._paths import shared_path
from geoplan.analysis import engine
from geoplan.readers.network import Network, mode_edge_mask, read_network

WALK_15_MIN_S = 900.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--facilities", type=int, default=300)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--naive-sample", type=int, default=5)
    parser.add_argument("--seed", type=int, default=20261124)
    parser.add_argument("--no-large", action="store_true", help="skip the ~1M-node graph")
    parser.add_argument("--tiles", default="3x4", help="rows x columns of the large graph")
    args = parser.parse_args()

    load_s, network = timed(lambda: read_network(shared_path(WUHAN), cache=False), 1)
    rng = np.random.default_rng(args.seed)
    print(
        f"Wuhan FUA walk network: {len(network.nodes):,} nodes, {len(network.edges):,} edges "
        f"(parsed in {load_s:.2f} s)"
    )
    nearest_table(network, args.facilities, rng, args, title="Wuhan FUA (real network)")
    cutoff_table(network, args.facilities, rng, args)
    if not args.no_large:
        rows, cols = (int(v) for v in args.tiles.lower().split("x"))
        build_s, large = timed(lambda: tiled(network, rows=rows, cols=cols), 1)
        print(
            f"\nLarge graph built from Wuhan ({rows} × {cols} tiles of the real network, joined; "
            f"a synthetic layout): {len(large.nodes):,} nodes, {len(large.edges):,} edges "
            f"(built in {build_s:.1f} s)"
        )
        nearest_table(
            large,
            args.facilities * rows * cols,
            rng,
            args,
            title=f"{rows}×{cols} tiles built from Wuhan",
            naive=False,
        )


# ---------------------------------------------------------------------------- table 1 / 3


def facilities_at_nodes(
    network, n: int, rng, *, where: str = "bbox"
) -> tuple[engine.Snap, np.ndarray]:
    """Facilities at nodes, as a Snap (at the u end of an edge) and as node positions.

    ``where="bbox"``: random points of the bounding box snapped to the network, then moved
    onto their edge's u node (many land on the fringe); ``"nodes"``: random distinct nodes
    (so facilities are where the streets are dense, like real ones). At a node with no
    access leg every contender can answer the identical question.
    """
    if where == "nodes":
        edges = network.edges
        first_edge = pd.Series(np.arange(len(edges))).groupby(edges["u"].to_numpy()).first()
        chosen = rng.choice(first_edge.index.to_numpy(), size=n, replace=False)
        edge = first_edge.loc[chosen].to_numpy()
        snap = engine.Snap(edge, np.zeros(n), np.zeros(n))
        return snap, np.unique(chosen)
    forward_s, backward_s = network.edge_times_s("walk")
    x0, y0, x1, y1 = network.edges.total_bounds
    snap = engine.snap_points(
        network,
        rng.uniform(x0, x1, n),
        rng.uniform(y0, y1, n),
        usable=mode_edge_mask(forward_s, backward_s),
    )
    at_nodes = engine.Snap(snap.edge, np.zeros(len(snap)), np.zeros(len(snap)))
    return at_nodes, np.unique(network.edges["u"].to_numpy()[snap.edge])


def nearest_table(network, n_facilities, rng, args, *, title: str, naive: bool = True) -> None:
    n_nodes = len(network.nodes)
    forward_s, backward_s = network.edge_times_s("walk")
    at_nodes, unique_sources = facilities_at_nodes(network, n_facilities, rng)

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
    rows.append(("scipy bare Dijkstra on a prebuilt CSR", scipy_s, "same CSR, no virtual nodes"))

    nx_rows, nx_dist, naive_part = _networkx_nearest(transposed, unique_sources, rng, args, naive)
    rows.extend(nx_rows)
    rows.extend(_pandana(network, forward_s, backward_s, unique_sources, args.repeats))

    _check_agreement(engine_time, scipy_time, nx_dist, naive_part, n_nodes)
    print(
        f"\n[{title}] nearest facility from every node, walk: {len(unique_sources)} facilities; "
        f"medians of {args.repeats} runs; answers agree to 1e-6 s"
    )
    _print_rows(rows, engine_s)
    print(
        f"engine vs scipy bare Dijkstra on the same CSR: {engine_s / scipy_s:.2f}× the time "
        "(the engine's extra work: one row per facility appended to the CSR)"
    )


def _networkx_nearest(transposed, unique_sources, rng, args, naive: bool):
    """networkx multi-source (and, if ``naive``, per-facility on a sample, scaled) rows."""
    rows = []
    build_s, graph = timed(lambda: _networkx_graph(transposed), 1)
    nx_s, nx_dist = timed(
        lambda: nx.multi_source_dijkstra_path_length(graph, set(unique_sources.tolist())),
        max(1, args.repeats // 2),
    )
    rows.append(
        ("networkx multi-source Dijkstra", nx_s, f"graph build {build_s:.2f} s not counted")
    )
    naive_part = None
    if naive:
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
    return rows, nx_dist, naive_part


# ---------------------------------------------------------------------------- table 2


def cutoff_table(network, n_facilities, rng, args) -> None:
    n_nodes = len(network.nodes)
    forward_s, backward_s = network.edge_times_s("walk")
    at_nodes, sources = facilities_at_nodes(network, n_facilities, rng, where="nodes")
    transposed = engine.transposed_street_csr(network, forward_s, backward_s)
    rows = []
    engine_s, (engine_time, _) = timed(
        lambda: engine.facility_search(network, forward_s, backward_s, at_nodes, base=transposed),
        args.repeats,
    )
    within = engine_time <= WALK_15_MIN_S
    rows.append(("geoplan engine pass, limit-free, then <= 900 s", engine_s, "all nodes timed"))
    scipy_s, scipy_time = timed(
        lambda: dijkstra(
            transposed, directed=True, indices=sources, min_only=True, limit=WALK_15_MIN_S
        ),
        args.repeats,
    )
    rows.append(("scipy bare Dijkstra, limit=900 s", scipy_s, "same CSR"))
    build_s, graph = timed(lambda: _networkx_graph(transposed), 1)
    cut_s, cut = timed(
        lambda: [
            nx.single_source_dijkstra_path_length(graph, int(s), cutoff=WALK_15_MIN_S)
            for s in sources
        ],
        1,
    )
    rows.append(
        (
            "networkx per facility, cutoff=900 s",
            cut_s,
            f"{len(sources)} searches; graph build {build_s:.2f} s not counted",
        )
    )
    ego_s, egos = timed(
        lambda: [
            nx.ego_graph(graph, int(s), radius=WALK_15_MIN_S, distance="weight") for s in sources
        ],
        1,
    )
    rows.append(("networkx ego_graph(radius=900 s) per facility", ego_s, "node sets unioned"))

    np.testing.assert_allclose(
        engine_time[within], scipy_time[within], rtol=0, atol=1e-6, err_msg="scipy limit"
    )
    assert (np.isfinite(scipy_time) == within).all(), "scipy limit: other node set"
    best = np.full(n_nodes, np.inf)
    for dist in cut:
        idx = np.fromiter(dist.keys(), dtype=np.int64)
        best[idx] = np.minimum(best[idx], np.fromiter(dist.values(), dtype=float))
    assert (np.isfinite(best) == within).all(), "networkx cutoff: other node set"
    np.testing.assert_allclose(engine_time[within], best[within], rtol=0, atol=1e-6)
    ego_nodes = np.zeros(n_nodes, dtype=bool)
    for ego in egos:
        ego_nodes[np.fromiter(ego.nodes, dtype=np.int64)] = True
    assert (ego_nodes == within).all(), "ego_graph: other node set"

    print(
        f"\n[Wuhan FUA (real network)] nodes within a 15-minute walk (900 s at 70 m/min) of "
        f"{len(sources)} facilities at random nodes: {int(within.sum()):,} of {n_nodes:,}; "
        "the node sets and times agree"
    )
    _print_rows(rows, engine_s)


# ---------------------------------------------------------------------------- the large graph


def tiled(network: Network, *, rows: int = 3, cols: int = 4, gap_m: float = 2000.0) -> Network:
    """The network replicated rows × cols times, tiles joined by straight two-way links.

    Neighbouring tiles are linked in 25 bands along their shared side: in each band the node
    nearest the side in one tile is joined to the node nearest the side in the other.
    """
    nodes, edges = network.nodes, network.edges
    x0, y0, x1, y1 = edges.total_bounds
    step_x, step_y = x1 - x0 + gap_m, y1 - y0 + gap_m
    n = len(nodes)
    id_step = int(nodes["node_id"].max()) + 1
    geoms = np.asarray(edges.geometry.values)
    node_parts, edge_parts, geom_parts = [], [], []
    for k in range(rows * cols):
        dx, dy = (k % cols) * step_x, (k // cols) * step_y
        node_parts.append(
            pd.DataFrame(
                {
                    "node_id": nodes["node_id"].to_numpy() + k * id_step,
                    "x": nodes["x"].to_numpy() + dx,
                    "y": nodes["y"].to_numpy() + dy,
                }
            )
        )
        part = pd.DataFrame(edges.drop(columns="geometry"))
        part["u"] += k * n
        part["v"] += k * n
        edge_parts.append(part)
        geom_parts.append(
            shapely.transform(geoms, lambda xy, dx=dx, dy=dy: xy + np.array([dx, dy]))
        )
    all_nodes = pd.concat(node_parts, ignore_index=True)
    x, y = nodes["x"].to_numpy(), nodes["y"].to_numpy()
    links = []
    for k in range(rows * cols):
        r, c = divmod(k, cols)
        if c + 1 < cols:  # east side of tile k to west side of tile k + 1
            links += _links(x, y, k * n, (k + 1) * n, along=y, out_a=x, out_b=-x)
        if r + 1 < rows:  # north side of tile k to south side of tile k + cols
            links += _links(x, y, k * n, (k + cols) * n, along=x, out_a=y, out_b=-y)
    a, b = np.array(links).T
    xy = all_nodes[["x", "y"]].to_numpy()
    link_geoms = shapely.linestrings(np.stack([xy[a], xy[b]], axis=1))
    link_frame = pd.DataFrame(
        {
            "u": a,
            "v": b,
            "length_m": shapely.length(link_geoms),
            "highway": "primary",
            "oneway": False,
            "name": None,
        }
    )
    all_edges = gpd.GeoDataFrame(
        pd.concat([*edge_parts, link_frame], ignore_index=True),
        geometry=np.concatenate([*geom_parts, link_geoms]),
        crs=network.crs,
    )
    return Network(
        nodes=all_nodes,
        edges=all_edges,
        crs=network.crs,
        source=f"{rows}x{cols} tiles built from {network.source}",
    )


def _links(x, y, offset_a, offset_b, *, along, out_a, out_b, bands: int = 25) -> list:
    """Node pairs joining tile a (its side where ``out_a`` is largest) to tile b."""
    edges_of_band = np.linspace(along.min(), along.max(), bands + 1)
    band = np.clip(np.searchsorted(edges_of_band, along, side="right") - 1, 0, bands - 1)
    pairs = []
    for i in range(bands):
        members = np.flatnonzero(band == i)
        if len(members):
            a = members[np.argmax(out_a[members])]
            b = members[np.argmax(out_b[members])]
            pairs.append((offset_a + a, offset_b + b))
    return pairs


# ---------------------------------------------------------------------------- helpers


def _print_rows(rows, engine_s: float) -> None:
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


def _pandana(network, forward_s, backward_s, sources, repeats) -> list:
    try:
        import pandana
    except ImportError:
        print("pandana not installed (pip install -e .[bench]); skipped")
        return []
    two_way = np.isfinite(forward_s) & np.isfinite(backward_s)
    edges = network.edges[two_way]
    nodes = network.nodes
    xs, ys = nodes["x"].to_numpy()[sources], nodes["y"].to_numpy()[sources]

    def build():
        return pandana.Network(
            nodes["x"],
            nodes["y"],
            edges["u"],
            edges["v"],
            pd.DataFrame({"w": forward_s[two_way]}),
            twoway=True,
        )

    def query(net):
        net.set_pois("f", 1e9, 1, xs, ys)
        return net.nearest_pois(1e9, "f", num_pois=1)

    runs = max(1, repeats // 2)
    build_s, net = timed(build, runs)
    query_s, _ = timed(lambda: query(net), runs)
    return [
        ("pandana CH build + nearest_pois", build_s + query_s, "walk network is all two-way"),
        ("  of which pandana CH build", build_s, "once per network and mode"),
        ("  of which pandana set_pois + nearest_pois", query_s, ""),
    ]


def _check_agreement(engine_time, scipy_time, nx_dist, naive_part, n_nodes):
    finite = np.isfinite(engine_time)
    np.testing.assert_allclose(engine_time[finite], scipy_time[finite], atol=1e-6)
    nx_arr = np.full(n_nodes, np.inf)
    nx_arr[list(nx_dist)] = list(nx_dist.values())
    np.testing.assert_allclose(engine_time, nx_arr, atol=1e-6)
    if naive_part is None:
        return
    naive = np.full(n_nodes, np.inf)
    for dist in naive_part:
        idx = np.fromiter(dist.keys(), dtype=np.int64)
        naive[idx] = np.minimum(naive[idx], np.fromiter(dist.values(), dtype=float))
    assert (engine_time <= naive + 1e-6).all()


if __name__ == "__main__":
    main()
