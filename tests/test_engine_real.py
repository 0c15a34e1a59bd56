"""The engine against an independent networkx Dijkstra on the real 团城山 network.

The reference splits every edge at the points snapped to it (a node per point, the access
leg as its own arc) and runs networkx's multi-source Dijkstra on the reversed graph: a
different formulation from the engine's virtual facility nodes and same-edge shortcuts.
"""

from __future__ import annotations

import itertools

import networkx as nx
import numpy as np
import pytest
import shapely

from geoplan.analysis import engine
from geoplan.readers.network import mode_edge_mask


def _reference_times(network, forward_s, backward_s, fac, dem, access_mps):
    graph = nx.DiGraph()
    u = network.edges["u"].to_numpy()
    v = network.edges["v"].to_numpy()

    def arc(a, b, w):
        if np.isfinite(w) and (not graph.has_edge(a, b) or graph[a][b]["w"] > w):
            graph.add_edge(a, b, w=w)

    on_edge: dict[int, list[tuple[float, object]]] = {}
    for kind, snap in (("f", fac), ("d", dem)):
        for i in range(len(snap)):
            on_edge.setdefault(int(snap.edge[i]), []).append((snap.fraction[i], (kind, i)))
            leg = snap.snap_distance_m[i] / access_mps
            arc((kind, i, "site"), (kind, i), leg)
            arc((kind, i), (kind, i, "site"), leg)
    for e in range(len(u)):
        stops = sorted(on_edge.get(e, []), key=lambda s: s[0])
        chain = [(0.0, ("n", u[e])), *stops, (1.0, ("n", v[e]))]
        for (fa, a), (fb, b) in itertools.pairwise(chain):
            arc(a, b, _partial(fb - fa, forward_s[e]))
            arc(b, a, _partial(fb - fa, backward_s[e]))
    reverse = graph.reverse(copy=False)
    sources = [("f", i, "site") for i in range(len(fac))]
    dist = nx.multi_source_dijkstra_path_length(reverse, sources, weight="w")
    return np.array([dist.get(("d", i, "site"), np.nan) for i in range(len(dem))])


def _partial(fraction: float, seconds: float) -> float:
    """Seconds for a fraction of an edge; two points at the same place are 0 apart."""
    return 0.0 if fraction == 0 else fraction * seconds


def _random_points(network, n, rng):
    x0, y0, x1, y1 = network.edges.total_bounds
    return rng.uniform(x0, x1, n), rng.uniform(y0, y1, n)


@pytest.mark.parametrize("mode", ["walk", "drive"])
def test_nearest_times_equal_networkx_on_tuanchengshan(tuanchengshan_walk, mode):
    network = tuanchengshan_walk
    rng = np.random.default_rng(20261124)
    forward_s, backward_s = network.edge_times_s(mode, walk_speed_m_per_min=70.0)
    usable = mode_edge_mask(forward_s, backward_s)
    fac = engine.snap_points(network, *_random_points(network, 12, rng), usable=usable)
    dem = engine.snap_points(network, *_random_points(network, 400, rng), usable=usable)
    near = engine.nearest_facility(
        network, forward_s, backward_s, fac, dem, access_speed_m_per_min=70.0
    )
    expected = _reference_times(network, forward_s, backward_s, fac, dem, 70.0 / 60)
    np.testing.assert_array_equal(np.isnan(near.travel_time_s), np.isnan(expected))
    ok = ~np.isnan(expected)
    assert ok.sum() > 300
    np.testing.assert_allclose(near.travel_time_s[ok], expected[ok], rtol=0, atol=1e-6)


def test_snap_distance_is_the_true_nearest_edge_distance(tuanchengshan_walk):
    network = tuanchengshan_walk
    rng = np.random.default_rng(7)
    x, y = _random_points(network, 300, rng)
    snap = engine.snap_points(network, x, y)
    geoms = np.asarray(network.edges.geometry.values)
    brute = shapely.distance(shapely.points(x, y)[:, None], geoms[None, :]).min(axis=1)
    np.testing.assert_allclose(snap.snap_distance_m, brute, atol=1e-9)
