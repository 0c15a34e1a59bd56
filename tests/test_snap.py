"""engine.snap_points: exact nearest edge, against brute force over every edge with shapely.

The k-d tree search must give what GEOS gives when asked about every edge: the same
distance (to 1e-9 m; in practice bit for bit), the same fraction as
``shapely.line_locate_point(normalized=True)`` on the chosen edge, and among edges at the
same distance the lowest row. Hand-made networks cover the corner cases (one edge, zero-length
edges and segments, loops, ties); the real 团城山 (curved, multi-vertex edges) and Wuhan
networks cover scale.
"""

from __future__ import annotations

from types import SimpleNamespace

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from shapely.geometry import LineString

from geoplan.analysis import engine
from geoplan.errors import InputError, NetworkError
from geoplan.readers.network import mode_edge_mask, read_network


def make_network(lines: list[list[tuple[float, float]]]) -> SimpleNamespace:
    """A network of the given polylines; nodes are their first and last vertices."""
    ends = sorted({tuple(line[0]) for line in lines} | {tuple(line[-1]) for line in lines})
    pos = {xy: i for i, xy in enumerate(ends)}
    nodes = pd.DataFrame(
        {"node_id": range(len(ends)), "x": [p[0] for p in ends], "y": [p[1] for p in ends]}
    )
    geoms = [LineString(line) for line in lines]
    edges = gpd.GeoDataFrame(
        {
            "u": [pos[tuple(line[0])] for line in lines],
            "v": [pos[tuple(line[-1])] for line in lines],
            "length_m": [g.length for g in geoms],
        },
        geometry=geoms,
        crs=32650,
    )
    return SimpleNamespace(nodes=nodes, edges=edges, crs=edges.crs)


def random_lines(rng, n: int, *, decimals: int, most_vertices: int = 4) -> list:
    """``n`` random polylines of 2 to ``most_vertices`` vertices in a 1 km square, their
    coordinates rounded to ``decimals`` (shared vertices: ties)."""
    lines = []
    for _ in range(n):
        vertices = rng.integers(2, most_vertices + 1)
        lines.append([tuple(p) for p in rng.uniform(0, 1000, (vertices, 2)).round(decimals)])
    return lines


def random_points(rng, network, n: int, *, ties: int, low=-200, high=1200, decimals=None):
    """``n`` random points around a random network (rounded to ``decimals`` if given), the
    first ``ties`` exactly on its first vertices."""
    x, y = rng.uniform(low, high, n), rng.uniform(low, high, n)
    if decimals is not None:
        x, y = x.round(decimals), y.round(decimals)
    x[:ties], y[:ties] = shapely.get_coordinates(network.edges.geometry.values)[:ties].T
    return x, y


def points_over(rng, network, n: int, *, pad_m: float = 0.0, junctions: int = 0, seed: int = 0):
    """``n`` uniform points over a network's bounding box widened by ``pad_m``, then
    ``junctions`` of its nodes (sampled with ``seed``): points exactly on junctions, ties."""
    x0, y0, x1, y1 = network.edges.total_bounds
    x, y = rng.uniform(x0 - pad_m, x1 + pad_m, n), rng.uniform(y0 - pad_m, y1 + pad_m, n)
    if junctions:
        nodes = network.nodes.sample(junctions, random_state=seed)
        x = np.concatenate([x, nodes["x"].to_numpy()])
        y = np.concatenate([y, nodes["y"].to_numpy()])
    return x, y


def assert_same_snap(snap, ref):
    """Edge, fraction and distance bit for bit."""
    np.testing.assert_array_equal(snap.edge, ref.edge)
    np.testing.assert_array_equal(snap.fraction, ref.fraction)
    np.testing.assert_array_equal(snap.snap_distance_m, ref.snap_distance_m)


def brute_force(network, x, y, usable=None):
    """Per point: the minimum GEOS distance and every edge that attains it."""
    geoms = np.asarray(network.edges.geometry.values)
    dist = shapely.distance(shapely.points(x, y)[:, None], geoms[None, :])
    if usable is not None:
        dist[:, ~np.asarray(usable)] = np.inf
    return dist.min(axis=1), dist


def assert_exact(network, snap, x, y, usable=None, *, ties_lowest=True):
    """Distance, edge (lowest among equals) and fraction as brute force gives them."""
    best, dist = brute_force(network, x, y, usable)
    np.testing.assert_allclose(snap.snap_distance_m, best, rtol=0, atol=1e-9)
    rows = np.arange(len(x))
    np.testing.assert_allclose(dist[rows, snap.edge], best, rtol=0, atol=1e-9)
    if ties_lowest:
        lowest = np.argmax(dist <= best[:, None] + 1e-9, axis=1)
        exact_ties = (dist == best[:, None]).sum(axis=1) > 1
        # where GEOS itself says several edges are equally near, we take the lowest
        np.testing.assert_array_equal(snap.edge[exact_ties], lowest[exact_ties])
    geoms = np.asarray(network.edges.geometry.values)
    expected = shapely.line_locate_point(geoms[snap.edge], shapely.points(x, y), normalized=True)
    expected = np.clip(np.nan_to_num(expected, nan=0.0), 0.0, 1.0)
    np.testing.assert_allclose(snap.fraction, expected, rtol=0, atol=1e-9)


@pytest.fixture(autouse=True)
def fresh_index_cache():
    engine._SNAP_CACHE.clear()
    engine._SNAP_MEMO.clear()
    yield
    engine._SNAP_CACHE.clear()
    engine._SNAP_MEMO.clear()


# ---------------------------------------------------------------------- hand-made networks


def test_one_edge_fewer_tree_items_than_neighbours_asked():
    net = make_network([[(0, 0), (10, 0)]])
    x, y = np.array([5.0, -3.0, 14.0, 10.0]), np.array([2.0, 4.0, -3.0, 0.0])
    snap = engine.snap_points(net, x, y)
    np.testing.assert_array_equal(snap.edge, [0, 0, 0, 0])
    np.testing.assert_allclose(snap.snap_distance_m, [2.0, 5.0, 5.0, 0.0])
    np.testing.assert_allclose(snap.fraction, [0.5, 0.0, 1.0, 1.0])


def test_multi_vertex_edge_fraction_is_along_the_whole_edge():
    net = make_network([[(0, 0), (10, 0), (10, 10), (30, 10)]])  # 40 m long
    snap = engine.snap_points(net, np.array([12.0, 20.0, 11.0]), np.array([5.0, 12.0, -1.0]))
    np.testing.assert_allclose(snap.fraction, [15 / 40, 30 / 40, 10 / 40])
    np.testing.assert_allclose(snap.snap_distance_m, [2.0, 2.0, np.hypot(1, 1)])


def test_zero_length_edges_and_repeated_vertices():
    lines = [
        [(0, 0), (0, 0)],  # a zero-length edge (a point)
        [(5, 5), (5, 5), (15, 5), (15, 5), (25, 5)],  # repeated vertices inside
        [(0, 20), (40, 20)],
    ]
    net = make_network(lines)
    x = np.array([-1.0, 0.0, 6.0, 15.0, 20.0, 26.0, 30.0])
    y = np.array([-1.0, 0.0, 6.0, 5.0, 4.0, 5.0, 19.0])
    snap = engine.snap_points(net, x, y)
    assert_exact(net, snap, x, y)
    assert snap.edge[0] == 0 and snap.fraction[0] == 0.0


def test_closed_loop_edge():
    square = [(0, 0), (10, 0), (10, 10), (0, 10), (0, 0)]
    net = make_network([square, [(20, 0), (30, 0)]])
    x, y = np.array([5.0, 9.0, 1.0, 16.0]), np.array([5.0, 5.0, 9.0, 1.0])
    snap = engine.snap_points(net, x, y)
    assert_exact(net, snap, x, y)
    # the centre is 5 m from all four sides: the first side in the ring (GEOS's choice)
    assert snap.fraction[0] == pytest.approx(5 / 40)


def test_multi_part_and_missing_geometries():
    """A MultiLineString edge is not joined across its gap; None geometries are skipped."""
    net = make_network([[(0, 0), (10, 0)], [(0, 20), (10, 20)]])
    geoms = list(net.edges.geometry.values)
    geoms[0] = shapely.MultiLineString([[(0, 0), (10, 0)], [(30, 0), (40, 0)]])
    net.edges = net.edges.set_geometry(geoms)
    x, y = np.array([20.0, 35.0, 5.0]), np.array([1.0, 1.0, 19.0])
    snap = engine.snap_points(net, x, y)
    assert_exact(net, snap, x, y)  # (20, 1) is 10 m from both parts, not 1 m from a bridge
    np.testing.assert_allclose(snap.snap_distance_m, [np.hypot(10, 1), 1.0, 1.0])
    np.testing.assert_allclose(snap.fraction[1], 15 / 20)
    net.edges = net.edges.set_geometry([None, geoms[1]])
    snap = engine.snap_points(net, x, y)
    np.testing.assert_array_equal(snap.edge, [1, 1, 1])


def test_ties_go_to_the_lowest_edge_row():
    # a cross: four edges meet at (0, 0); points on the diagonals are equally far from two
    arms = [[(0, 0), (100, 0)], [(0, 0), (0, 100)], [(-100, 0), (0, 0)], [(0, -100), (0, 0)]]
    net = make_network(arms)
    x = np.array([0.0, 10.0, -10.0, -10.0, 10.0])
    y = np.array([0.0, 10.0, 10.0, -10.0, -10.0])
    snap = engine.snap_points(net, x, y)
    np.testing.assert_array_equal(snap.edge, [0, 0, 1, 2, 0])
    assert_exact(net, snap, x, y)


def test_points_on_vertices_and_nodes_snap_at_zero_distance():
    net = make_network([[(0, 0), (10, 0), (10, 10)], [(10, 10), (20, 10)]])
    x, y = np.array([10.0, 10.0, 20.0, 0.0]), np.array([0.0, 10.0, 10.0, 0.0])
    snap = engine.snap_points(net, x, y)
    np.testing.assert_array_equal(snap.snap_distance_m, 0.0)
    np.testing.assert_array_equal(snap.edge, [0, 0, 1, 0])
    np.testing.assert_allclose(snap.fraction, [0.5, 1.0, 1.0, 0.0])


def test_unusable_edges_are_never_chosen():
    net = make_network([[(0, 0), (100, 0)], [(0, 5), (100, 5)], [(0, 50), (100, 50)]])
    rng = np.random.default_rng(3)
    x, y = rng.uniform(-50, 150, 200), rng.uniform(-50, 100, 200)
    usable = np.array([False, True, True])
    snap = engine.snap_points(net, x, y, usable=usable)
    assert usable[snap.edge].all()
    assert_exact(net, snap, x, y, usable)
    with pytest.raises(NetworkError, match="no edge usable"):
        engine.snap_points(net, x, y, usable=np.zeros(3, dtype=bool))


def test_empty_input_and_bad_coordinates():
    net = make_network([[(0, 0), (10, 0)]])
    empty = engine.snap_points(net, np.array([]), np.array([]))
    assert len(empty) == 0 and empty.edge.dtype == np.int64
    with pytest.raises(InputError, match="non-finite"):
        engine.snap_points(net, np.array([1.0, np.nan]), np.array([1.0, 2.0]))
    with pytest.raises(InputError, match="non-finite"):
        engine.snap_points(net, np.array([np.inf]), np.array([1.0]))


def test_dense_grid_with_far_points_exercises_every_round(monkeypatch):
    """A street grid with points near and far; small first rounds force the growing ones."""
    lines = [[(0, j * 50.0), (500, j * 50.0)] for j in range(11)]
    lines += [[(i * 50.0, 0), (i * 50.0, 500)] for i in range(11)]
    net = make_network(lines)
    rng = np.random.default_rng(11)
    x = np.concatenate([rng.uniform(-20, 520, 2000), rng.uniform(-5000, 5000, 500)])
    y = np.concatenate([rng.uniform(-20, 520, 2000), rng.uniform(-5000, 5000, 500)])
    x[:50], y[:50] = 25.0, 25.0 + rng.integers(0, 10, 50) * 50.0  # ties between 4 streets
    reference = engine.snap_points(net, x, y)
    assert_exact(net, reference, x, y)
    for rounds in ((2,), (1, 2), (3, 16, 64)):
        engine._SNAP_CACHE.clear()
        monkeypatch.setattr(engine, "_SNAP_ROUNDS_K", rounds)
        monkeypatch.setattr(engine, "_SNAP_CHUNK", 97)
        monkeypatch.setattr(engine, "_SNAP_CELLS", 50)
        snap = engine.snap_points(net, x, y)
        np.testing.assert_array_equal(snap.edge, reference.edge)
        np.testing.assert_array_equal(snap.snap_distance_m, reference.snap_distance_m)
        np.testing.assert_array_equal(snap.fraction, reference.fraction)


@pytest.mark.parametrize("piece_m", [0.5, 20.0, 1000.0])
def test_piece_length_changes_speed_not_answers(monkeypatch, piece_m):
    rng = np.random.default_rng(5)
    lines = [
        [tuple(p) for p in rng.uniform(0, 300, (rng.integers(2, 6), 2)).round(1)] for _ in range(40)
    ]
    net = make_network(lines)
    x, y = rng.uniform(-100, 400, 1500), rng.uniform(-100, 400, 1500)
    monkeypatch.setattr(engine, "_PIECE_M", piece_m)
    snap = engine.snap_points(net, x, y)
    assert_exact(net, snap, x, y)


def test_answers_do_not_depend_on_the_other_points():
    rng = np.random.default_rng(8)
    lines = [[(0, 0), (100, 0)], [(0, 0), (0, 100)], [(100, 0), (100, 100)], [(0, 100), (100, 100)]]
    net = make_network(lines)
    x, y = rng.uniform(-50, 150, 300), rng.uniform(-50, 150, 300)
    x[:20], y[:20] = 50.0, 50.0  # the centre: equally far from all four
    full = engine.snap_points(net, x, y)
    perm = rng.permutation(300)
    shuffled = engine.snap_points(net, x[perm], y[perm])
    np.testing.assert_array_equal(shuffled.edge, full.edge[perm])
    np.testing.assert_array_equal(shuffled.fraction, full.fraction[perm])
    one = engine.snap_points(net, x[:1], y[:1])
    assert one.edge[0] == full.edge[0] == 0


def test_index_is_reused_and_keyed_by_content():
    net = make_network([[(0, 0), (10, 0)], [(0, 5), (10, 5)]])
    engine.snap_points(net, np.array([1.0]), np.array([1.0]))
    engine.snap_points(net, np.array([2.0]), np.array([4.0]))
    assert len(engine._SNAP_CACHE) == 1
    engine.snap_points(net, np.array([2.0]), np.array([4.0]), usable=np.array([True, False]))
    assert len(engine._SNAP_CACHE) == 2
    with pytest.raises(ValueError, match="one flag per edge"):
        engine.snap_points(net, np.array([2.0]), np.array([4.0]), usable=np.array([True]))
    moved = make_network([[(0, 0), (10, 0)], [(0, 50), (10, 50)]])  # same shape, other place
    snap = engine.snap_points(moved, np.array([2.0]), np.array([4.0]))
    assert snap.edge[0] == 0 and snap.snap_distance_m[0] == 4.0


def test_sharing_a_snap_to_all_edges_between_modes_changes_nothing(monkeypatch):
    """Re-snapping only the misfits of an all-edges snap equals snapping the mode directly."""
    rng = np.random.default_rng(21)
    net = make_network(random_lines(rng, 300, decimals=2))
    x, y = random_points(rng, net, 30_000, ties=100)
    masks = {"all": None, "most": rng.random(300) < 0.95, "half": rng.random(300) < 0.5}
    monkeypatch.setattr(engine, "_MEMO_MIN_POINTS", 1000)
    shared = {name: engine.snap_points(net, x, y, usable=m) for name, m in masks.items()}
    assert len(engine._SNAP_MEMO) == 1  # "all" and "most" shared one snap; "half" did not
    shared["all"].edge[:] = -1  # callers may change their arrays; the memo keeps its own
    again = engine.snap_points(net, x, y, usable=masks["most"])
    np.testing.assert_array_equal(again.edge, shared["most"].edge)
    engine._SNAP_CACHE.clear()
    engine._SNAP_MEMO.clear()
    monkeypatch.setattr(engine, "_SHARE_MIN_USABLE", 2.0)  # never share
    for name, mask in masks.items():
        direct = engine.snap_points(net, x, y, usable=mask)
        if name != "all":
            np.testing.assert_array_equal(direct.edge, shared[name].edge)
        np.testing.assert_array_equal(direct.fraction, shared[name].fraction)
        np.testing.assert_array_equal(direct.snap_distance_m, shared[name].snap_distance_m)
        sample = slice(0, 2000)
        assert_exact(net, direct.take(sample), x[sample], y[sample], mask)
    assert not engine._SNAP_MEMO


def test_nearest_usable_edge_behind_a_long_unusable_one():
    """Hundreds of pieces of a motorway-like edge come first; the search keeps growing."""
    lines = [[(0, 0), (2000, 0)], [(0, 500), (2000, 500)]]
    lines += [[(5000 + 10 * i, 0), (5000 + 10 * i, 5)] for i in range(30)]
    net = make_network(lines)
    usable = np.ones(len(lines), dtype=bool)
    usable[0] = False  # 1 of 32 edges: snapped to all edges first, then again
    x, y = np.linspace(100, 1900, 50), np.full(50, 1.0)
    snap = engine.snap_points(net, x, y, usable=usable)
    np.testing.assert_array_equal(snap.edge, 1)
    np.testing.assert_allclose(snap.snap_distance_m, 499.0)
    assert_exact(net, snap, x, y, usable)


# ---------------------------------------------------------------------- real networks


def test_tuanchengshan_curved_edges_equal_brute_force(tuanchengshan_walk):
    network = tuanchengshan_walk
    assert (shapely.get_num_coordinates(network.edges.geometry.values) > 2).sum() > 300
    x, y = points_over(
        np.random.default_rng(20261124), network, 3000, pad_m=3000.0, junctions=200, seed=1
    )
    snap = engine.snap_points(network, x, y)
    assert_exact(network, snap, x, y)
    forward_s, backward_s = network.edge_times_s("drive")
    usable = mode_edge_mask(forward_s, backward_s)
    assert not usable.all()
    snap = engine.snap_points(network, x, y, usable=usable)
    assert_exact(network, snap, x, y, usable)


@pytest.mark.slow
def test_wuhan_equals_the_strtree_nearest_query(shared_file):
    """200,000 points over the Wuhan FUA against GEOS's own nearest-edge query."""
    network = read_network(shared_file("osm/wuhan_fua_osm_streets.parquet"))
    x, y = points_over(np.random.default_rng(42), network, 200_000)
    snap = engine.snap_points(network, x, y)
    geoms = np.asarray(network.edges.geometry.values)
    points = shapely.points(x, y)
    (point_idx, edge_idx), dist = shapely.STRtree(geoms).query_nearest(
        points, return_distance=True, all_matches=True
    )
    best = np.full(len(x), np.inf)
    np.minimum.at(best, point_idx, dist)
    np.testing.assert_allclose(snap.snap_distance_m, best, rtol=0, atol=1e-9)
    lowest = np.full(len(x), len(geoms))
    np.minimum.at(lowest, point_idx, edge_idx)
    np.testing.assert_array_equal(snap.edge, lowest)  # ties: the lowest row
    expected = shapely.line_locate_point(geoms[snap.edge], points, normalized=True)
    np.testing.assert_allclose(snap.fraction, expected, rtol=0, atol=1e-9)


# ---------------------------------------------------------------------- joined edges


def two_step(network, x, y, usable, joined):
    """The reference of :func:`engine.snap_joined`: snap to the usable edges, then snap the
    points that landed on an edge not joined again, to the joined ones."""
    snap = engine.snap_points(network, x, y, usable=usable)
    moved = ~np.asarray(joined)[snap.edge]
    if moved.any():
        part = engine.snap_points(network, x[moved], y[moved], usable=joined)
        snap.edge[moved] = part.edge
        snap.fraction[moved] = part.fraction
        snap.snap_distance_m[moved] = part.snap_distance_m
    return snap, moved


def assert_same_joined(network, x, y, usable, joined):
    snap, moved = engine.snap_joined(network, x, y, usable=usable, joined=joined)
    engine._SNAP_CACHE.clear()
    engine._SNAP_MEMO.clear()
    ref, ref_moved = two_step(network, x, y, usable, joined)
    np.testing.assert_array_equal(moved, ref_moved)
    assert_same_snap(snap, ref)
    return moved


def test_snap_joined_ties_between_a_joined_and_a_cut_off_edge():
    # rows: 0 cut off (usable, not joined), 1 joined, 2 motorway (not usable) nearest of all,
    # 3 joined with a cut-off twin at the same distance on the other side (row 4)
    lines = [
        [(0, 10), (100, 10)],
        [(0, -10), (100, -10)],
        [(0, 0), (100, 0)],
        [(500, -10), (600, -10)],
        [(500, 10), (600, 10)],
    ]
    net = make_network(lines)
    usable = np.array([True, True, False, True, True])
    joined = np.array([False, True, False, True, False])
    x = np.array([50.0, 50.0, 50.0, 550.0, 550.0])
    y = np.array([1.0, -1.0, 0.0, 0.0, 12.0])
    snap, moved = engine.snap_joined(net, x, y, usable=usable, joined=joined)
    # on the motorway at y=0 both streets are 10 m away: the cut-off one has the lower row
    np.testing.assert_array_equal(moved, [True, False, True, False, True])
    np.testing.assert_array_equal(snap.edge, [1, 1, 1, 3, 3])
    np.testing.assert_allclose(snap.snap_distance_m, [11, 9, 10, 10, 22])
    assert_same_joined(net, x, y, usable, joined)
    joined_low = np.array([True, False, False, False, True])  # now the joined one is lower
    moved = assert_same_joined(net, x, y, usable | joined_low, joined_low)
    assert not moved[2]


def test_snap_joined_equals_snapping_twice_on_random_masks(monkeypatch):
    rng = np.random.default_rng(7)
    net = make_network(random_lines(rng, 300, decimals=0))
    x, y = random_points(rng, net, 20_000, ties=200, decimals=0)
    monkeypatch.setattr(engine, "_MEMO_MIN_POINTS", 1000)
    for share_usable, share_joined in ((0.95, 0.9), (0.6, 0.5), (1.0, 1.0), (0.97, 0.97)):
        usable = rng.random(300) < share_usable
        joined = usable & (rng.random(300) < share_joined / share_usable)
        moved = assert_same_joined(net, x, y, usable, joined)
        assert moved.any() == bool((usable & ~joined).any())


def test_snap_joined_tuanchengshan_modes(tuanchengshan_walk):
    network = tuanchengshan_walk
    x, y = points_over(np.random.default_rng(3), network, 5000, pad_m=500.0, junctions=300, seed=2)
    for mode in ("walk", "drive"):
        times = network.mode_times(mode)
        usable = mode_edge_mask(times.forward_s, times.backward_s)
        assert_same_joined(network, x, y, usable, times.demand_edges)


@pytest.mark.slow
def test_snap_joined_wuhan_modes(shared_file):
    """200,000 points over the Wuhan FUA, walk and drive: one index per mode, same answer."""
    network = read_network(shared_file("osm/wuhan_fua_osm_streets.parquet"))
    x, y = points_over(np.random.default_rng(16), network, 200_000)
    for mode in ("walk", "drive"):
        times = network.mode_times(mode)
        usable = mode_edge_mask(times.forward_s, times.backward_s)
        assert not times.demand_edges.all() and not usable.all()
        moved = assert_same_joined(network, x, y, usable, times.demand_edges)
        assert moved.sum() > 10


def test_a_remembered_part_of_a_snap_equals_snapping_the_part(monkeypatch):
    """``remember_part``: the snaps of a subset of the points, taken from a remembered snap
    of them all, are those a fresh snap of the subset gives (ties on vertices included), and
    a later snap of the subset computes nothing."""
    rng = np.random.default_rng(16)
    net = make_network(random_lines(rng, 300, decimals=2))
    x, y = random_points(rng, net, 30_000, ties=200)
    inside = rng.random(len(x)) < 0.6
    monkeypatch.setattr(engine, "_MEMO_MIN_POINTS", 1000)
    fresh = engine.snap_points(net, x[inside], y[inside])
    engine._SNAP_MEMO.clear()
    engine.remember_part(net, x, y, inside)  # nothing remembered yet: does nothing
    assert not engine._SNAP_MEMO
    engine.snap_points(net, x, y)
    engine.remember_part(net, x, y, inside)
    assert len(engine._SNAP_MEMO) == 2
    monkeypatch.setattr(engine, "_snap_with", lambda *args: pytest.fail("snapped again"))
    for mask in (None, np.ones(300, dtype=bool)):
        assert_same_snap(engine.snap_points(net, x[inside], y[inside], usable=mask), fresh)
    every = np.ones(300, dtype=bool)
    joined, moved = engine.snap_joined(net, x[inside], y[inside], usable=every, joined=every)
    assert not moved.any()
    np.testing.assert_array_equal(joined.fraction, fresh.fraction)


def test_edge_coordinates_are_read_once_only_while_the_edges_are_unchanged(monkeypatch):
    """Within ``edges_unchanged`` a network's edge coordinates are read once for every snap
    (each geometry array its own); outside it every snap reads them again, so an edge edited
    in place between two snaps moves the answer."""
    rng = np.random.default_rng(5)
    net = make_network(random_lines(rng, 200, decimals=2))
    other = make_network(random_lines(rng, 150, decimals=2))
    x, y = random_points(rng, net, 2_000, ties=50)
    reads = []
    of = engine._EdgeCoordinates.of
    monkeypatch.setattr(engine._EdgeCoordinates, "of", lambda g: reads.append(g) or of(g))
    alone = [engine.snap_points(n, x, y) for n in (net, other)]
    assert len(reads) == 2
    with engine.edges_unchanged():
        for _ in range(3):
            for n, expected in zip((net, other), alone, strict=True):
                assert_same_snap(engine.snap_points(n, x, y), expected)
        engine.snap_joined(net, x, y, usable=np.ones(200, bool), joined=np.ones(200, bool))
    assert len(reads) == 4  # once per network in the block
    geoms = np.asarray(net.edges.geometry.values)
    nearest = alone[0].edge[0]
    geoms[nearest] = shapely.affinity.translate(geoms[nearest], 5_000, 5_000)  # in place
    assert engine.snap_points(net, x[:1], y[:1]).edge[0] != nearest
    assert len(reads) == 5


def test_large_indexes_are_kept_on_disk_and_rebuilt_when_damaged(monkeypatch, tmp_path):
    """A snapping index stored in the cache folder answers bit for bit as a built one; a
    different network or mode mask has its own entry; a damaged entry is rebuilt."""
    monkeypatch.setenv("GEOPLAN_CACHE", str(tmp_path))
    monkeypatch.setattr(engine, "_DISK_MIN_VERTICES", 1)
    rng = np.random.default_rng(7)
    lines = random_lines(rng, 400, decimals=1, most_vertices=5)
    net = make_network(lines)
    x, y = random_points(rng, net, 20_000, ties=300, low=-100, high=1100)
    mask = rng.random(400) < 0.8
    built = {
        name: engine.snap_points(net, x, y, usable=m) for name, m in (("all", None), ("mask", mask))
    }
    folder = tmp_path / engine._DISK_KIND
    assert len(list(folder.iterdir())) == 2  # one entry per mask
    real_build = engine._build_segment_index
    monkeypatch.setattr(engine, "_build_segment_index", lambda *a: pytest.fail("built again"))
    for name, m in (("all", None), ("mask", mask)):
        engine._SNAP_CACHE.clear()
        engine._SNAP_MEMO.clear()
        assert_same_snap(engine.snap_points(net, x, y, usable=m), built[name])
    # another network (one vertex moved) is not answered from the stored index
    lines[0] = [(lines[0][0][0] + 1.0, lines[0][0][1]), *lines[0][1:]]
    monkeypatch.setattr(engine, "_build_segment_index", real_build)
    engine.snap_points(make_network(lines), x[:10], y[:10])
    assert len(list(folder.iterdir())) == 3
    # a damaged entry (a file changed) is deleted and rebuilt, never used
    rebuilt = []
    monkeypatch.setattr(
        engine, "_build_segment_index", lambda *a: rebuilt.append(1) or real_build(*a)
    )
    for entry in folder.iterdir():
        items = entry / "items_xy.npy"
        items.write_bytes(items.read_bytes()[:-100] + bytes(100))
    engine._SNAP_CACHE.clear()
    again = engine.snap_points(net, x, y, usable=mask)
    assert rebuilt == [1]
    np.testing.assert_array_equal(again.edge, built["mask"].edge)
    np.testing.assert_array_equal(again.snap_distance_m, built["mask"].snap_distance_m)
    # one that does not hang together (checksums that fit, positions that do not): ignored
    from geoplan import _cache

    (key,) = engine._SNAP_CACHE  # the mask's index (80 % of the edges: no all-edges snap)
    entry = _cache.load(engine._DISK_KIND, engine._disk_key(key))
    assert entry is not None and engine._index_from_disk(key) is not None
    far = np.full_like(entry.tables["item_segment"], 10**9)
    tables = dict(entry.tables, item_segment=far)
    assert _cache.save(engine._DISK_KIND, engine._disk_key(key), tables, entry.meta)
    assert engine._index_from_disk(key) is None
