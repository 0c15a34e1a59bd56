"""The engine on a hand-drawn network, with hand-computed seconds.

    A(0,0) ──e0── B(100,0) ──e1── C(200,0)
                    │           ╱
                   e2         e3 (141.42 m)
                    │       ╱
                  D(100,-100)

At 1 m/s (60 m/min) every edge's seconds equal its metres. Facility F sits 10 m off e1's
middle (fraction 0.5): its access leg is 10 s.
"""

from __future__ import annotations

from types import SimpleNamespace

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from shapely.geometry import LineString

from geoplan.analysis import engine
from geoplan.readers.network import cheapest_csr, mode_edge_mask

SQRT2 = np.sqrt(2.0)


@pytest.fixture
def tiny():
    xy = {"A": (0, 0), "B": (100, 0), "C": (200, 0), "D": (100, -100)}
    names = list(xy)
    nodes = pd.DataFrame(
        {"node_id": range(4), "x": [xy[n][0] for n in names], "y": [xy[n][1] for n in names]}
    )
    pairs = [("A", "B"), ("B", "C"), ("B", "D"), ("C", "D")]
    edges = gpd.GeoDataFrame(
        {
            "u": [names.index(a) for a, _ in pairs],
            "v": [names.index(b) for _, b in pairs],
            "length_m": [100.0, 100.0, 100.0, 100 * SQRT2],
        },
        geometry=[LineString([xy[a], xy[b]]) for a, b in pairs],
        crs=32650,
    )
    return SimpleNamespace(nodes=nodes, edges=edges, crs=edges.crs)


def times(network, *, oneway_e1=False):
    forward = network.edges["length_m"].to_numpy().copy()
    backward = forward.copy()
    if oneway_e1:
        backward[1] = np.inf
    return forward, backward


def snap(network, points):
    x, y = np.array(points, dtype=float).T
    return engine.snap_points(network, x, y)


def test_snap_to_nearest_edge_with_fraction_and_access(tiny):
    s = snap(tiny, [(150, 10), (0, -5), (100, -60), (180, -3)])
    np.testing.assert_array_equal(s.edge, [1, 0, 2, 1])
    np.testing.assert_allclose(s.fraction, [0.5, 0.0, 0.6, 0.8])
    np.testing.assert_allclose(s.snap_distance_m, [10, 5, 0, 3])


def test_snap_skips_edges_the_mode_cannot_use(tiny):
    usable = np.array([True, False, True, True])
    s = engine.snap_points(tiny, np.array([150.0]), np.array([10.0]), usable=usable)
    assert s.edge[0] != 1
    # by hand: e0 and e2 are 50.99 m away (at B); e3 (the line x - y = 200) is 60/√2 = 42.43 m,
    # its foot (180, -20) is 20√2 m along its 100√2 m from C: fraction 0.2
    assert s.edge[0] == 3
    assert s.snap_distance_m[0] == pytest.approx(60 / SQRT2)
    assert s.fraction[0] == pytest.approx(0.2)


@pytest.mark.parametrize(
    ("point", "expected_s"),
    [
        ((0, -5), 5 + 100 + 50 + 10),  # access 5, A→B 100, B→F 50, F's access 10
        ((100, -60), 60 + 50 + 10),  # on e2, 60 m from B
        ((180, -3), 3 + 30 + 10),  # same edge as F, beyond it: direct 30 m back
        ((120, 4), 4 + 30 + 10),  # same edge, before F
        ((100, -200), 100 + 100 + 50 + 10),  # 100 m below D: access to D, then D→B→F
    ],
)
def test_two_way_times_by_hand(tiny, point, expected_s):
    f, b = times(tiny)
    near = engine.nearest_facility(
        tiny, f, b, snap(tiny, [(150, 10)]), snap(tiny, [point]), access_speed_m_per_min=60
    )
    assert near.travel_time_s[0] == pytest.approx(expected_s, abs=1e-9)
    assert near.facility[0] == 0


@pytest.mark.parametrize(
    ("point", "expected_s"),
    [
        # beyond F on the one-way B→C: must go on to C, round by D and B: 20 + 141.42 + 100 + 50
        ((180, -3), 3 + 20 + 100 * SQRT2 + 100 + 50 + 10),
        ((120, 4), 4 + 30 + 10),  # before F: drive on to it
        ((0, -5), 5 + 100 + 50 + 10),
    ],
)
def test_one_way_street_is_honoured_demand_to_facility(tiny, point, expected_s):
    f, b = times(tiny, oneway_e1=True)
    near = engine.nearest_facility(
        tiny, f, b, snap(tiny, [(150, 10)]), snap(tiny, [point]), access_speed_m_per_min=60
    )
    assert near.travel_time_s[0] == pytest.approx(expected_s, abs=1e-9)


def test_nearest_of_several_facilities_and_node_times(tiny):
    f, b = times(tiny)
    facilities = snap(tiny, [(150, 10), (0, 0), (100, -100)])  # F, at A, at D
    demand = snap(tiny, [(10, 0), (190, 0), (100, -90)])
    near = engine.nearest_facility(tiny, f, b, facilities, demand, access_speed_m_per_min=60)
    np.testing.assert_allclose(near.travel_time_s, [10, 40 + 10, 10])
    np.testing.assert_array_equal(near.facility, [1, 0, 2])
    np.testing.assert_allclose(near.node_time_s, [0, 60, 60, 0])


def test_access_speed_scales_only_the_legs(tiny):
    f, b = times(tiny)
    near = engine.nearest_facility(
        tiny, f, b, snap(tiny, [(150, 10)]), snap(tiny, [(0, -5)]), access_speed_m_per_min=30
    )  # 0.5 m/s: legs take twice as long
    assert near.travel_time_s[0] == pytest.approx(10 + 100 + 50 + 20)


def test_unreachable_is_nan_not_a_sentinel(tiny):
    f, b = times(tiny)
    f[:], b[:] = np.inf, np.inf
    f[0] = b[0] = 100.0  # only A-B is open; facility on e1 cannot be reached
    near = engine.nearest_facility(
        tiny, f, b, snap(tiny, [(150, 10)]), snap(tiny, [(0, -5)]), access_speed_m_per_min=60
    )
    assert np.isnan(near.travel_time_s[0])
    assert near.facility[0] == -1


def test_no_facilities_means_everyone_unreachable(tiny):
    f, b = times(tiny)
    empty = snap(tiny, [(0, 0)]).take(np.array([], dtype=int))
    near = engine.nearest_facility(tiny, f, b, empty, snap(tiny, [(0, -5), (100, 0)]))
    assert np.isnan(near.travel_time_s).all()
    assert (near.facility == -1).all()


def test_parallel_arcs_keep_the_cheapest():
    graph = cheapest_csr(np.array([0, 0]), np.array([1, 1]), np.array([5.0, 3.0]), 2)
    assert graph[0, 1] == 3.0
    assert graph.nnz == 1  # one arc kept, not the two summed (8.0)
    # closed directions (inf) are left out; a zero-second arc stays as an explicit entry
    graph = cheapest_csr(np.array([0, 1]), np.array([1, 0]), np.array([np.inf, 0.0]), 2)
    assert graph.nnz == 1 and graph[1, 0] == 0.0


@pytest.mark.parametrize("n_arcs", [0, 1, 5_000])
def test_cheapest_csr_is_the_minimum_per_pair(n_arcs):
    """Against a dense reference: per (row, col) pair the least finite cost, every other cell
    empty; parallel arcs (ties too), closed ones, zero costs; canonical CSR."""
    rng = np.random.default_rng(n_arcs)
    n = 60
    rows, cols = rng.integers(0, n, n_arcs), rng.integers(0, n, n_arcs)
    cost = rng.choice([0.0, 1.0, 2.5, 7.0, np.inf], n_arcs)  # few values: many ties
    graph = cheapest_csr(rows, cols, cost, n)
    least = np.full((n, n), np.inf)
    np.minimum.at(least, (rows, cols), cost)
    assert graph.has_canonical_format and graph.shape == (n, n)
    assert graph.nnz == int(np.isfinite(least).sum())
    r, c = np.repeat(np.arange(n), np.diff(graph.indptr)), graph.indices  # zeros included
    assert np.array_equal(graph.data, least[r, c])  # every finite pair once, at its least


def test_matrix_holds_every_pair_within_the_cutoff_inclusive(tiny):
    f, b = times(tiny, oneway_e1=True)
    facilities = snap(tiny, [(150, 10), (0, 0)])
    demand = snap(tiny, [(180, -3), (120, 4), (0, -5)])
    table = engine.travel_time_matrix(
        tiny, f, b, facilities, demand, cutoff_s=44.0, access_speed_m_per_min=60
    )
    # by hand: (120,4)→F is 4+30+10 = 44 s exactly (kept: inclusive); (0,-5)→A is 5 s;
    # (120,4)→A is 4+20+100 = 124 s and (180,-3)→F 324 s (one-way detour): beyond 44 s
    got = {(int(r.demand), int(r.facility)): r.travel_time_s for r in table.itertuples()}
    assert got.keys() == {(1, 0), (2, 1)}
    assert got[(1, 0)] == pytest.approx(44.0)
    assert got[(2, 1)] == pytest.approx(5.0)


def test_matrix_equals_one_search_per_facility(tiny_or_real):
    network, f, b, facilities, demand, cutoff = tiny_or_real
    table = engine.travel_time_matrix(
        network, f, b, facilities, demand, cutoff_s=cutoff, max_cells=3 * len(network.nodes)
    )  # several blocks
    for j in range(len(facilities)):
        one = engine.nearest_facility(network, f, b, facilities.take(np.array([j])), demand)
        expected = {i: t for i, t in enumerate(one.travel_time_s) if t <= cutoff}
        part = table[table["facility"] == j]
        assert dict(zip(part["demand"], part["travel_time_s"], strict=True)) == pytest.approx(
            expected, abs=1e-6
        )


@pytest.fixture(params=["tiny", "tuanchengshan"])
def tiny_or_real(request, tiny):
    if request.param == "tiny":
        f, b = times(tiny)
        return (
            tiny,
            f,
            b,
            snap(tiny, [(150, 10), (0, 0), (100, -90)]),
            snap(tiny, [(10, 0), (190, 0), (100, -60), (180, -3)]),
            200.0,
        )
    network = request.getfixturevalue("tuanchengshan_walk")
    rng = np.random.default_rng(3)
    x0, y0, x1, y1 = network.edges.total_bounds
    f, b = network.edge_times_s("drive")
    usable = mode_edge_mask(f, b)

    def pts(n):
        return engine.snap_points(
            network, rng.uniform(x0, x1, n), rng.uniform(y0, y1, n), usable=usable
        )

    return network, f, b, pts(8), pts(300), 300.0
