"""``private_ways = "endpoints"``: private streets only at a trip's start or end, never between.

Hand networks at 1 m/s (seconds = metres) with every answer worked out by hand, then random
grids against an independent formulation: for each resident, a Dijkstra over private arcs
from the resident, a multi-source Dijkstra over public arcs from every node so reached, and a
last one over private arcs into the facilities (the three legs R* P* R* composed), on a graph
split at every point, instead of the engine's three-layer graph.
"""

from __future__ import annotations

import itertools
from types import SimpleNamespace

import geopandas as gpd
import networkx as nx
import numpy as np
import pandas as pd
import pytest
from shapely.geometry import LineString

from geoplan.analysis import engine


def hand_network(pairs, xy, private_names=()):
    names = list(xy)
    nodes = pd.DataFrame(
        {
            "node_id": range(len(names)),
            "x": [xy[n][0] for n in names],
            "y": [xy[n][1] for n in names],
        }
    )
    geoms = [LineString([xy[a], xy[b]]) for a, b in pairs]
    edges = gpd.GeoDataFrame(
        {
            "u": [names.index(a) for a, _ in pairs],
            "v": [names.index(b) for _, b in pairs],
            "length_m": [g.length for g in geoms],
        },
        geometry=geoms,
        crs=32650,
    )
    network = SimpleNamespace(nodes=nodes, edges=edges, crs=edges.crs)
    private = np.array([f"{a}{b}" in private_names for a, b in pairs])
    seconds = edges["length_m"].to_numpy(dtype=float)
    return network, seconds, seconds.copy(), private


def nearest(network, forward, backward, private, facilities, demand):
    fac = engine.snap_points(network, *np.array(facilities, dtype=float).T)
    dem = engine.snap_points(network, *np.array(demand, dtype=float).T)
    return engine.nearest_facility(
        network, forward, backward, fac, dem, access_speed_m_per_min=60.0, private=private
    )


# A —P— B —R— C —P— D, and a public detour B —P— E —P— G —P— D (400 m instead of 200 m)
XY = {"A": (0, 0), "B": (100, 0), "C": (200, 0), "D": (300, 0), "E": (100, -100)}
XY |= {"G": (300, -100)}
PAIRS = [("A", "B"), ("B", "C"), ("C", "D"), ("B", "E"), ("E", "G"), ("G", "D")]


def test_nobody_cuts_through_a_private_street():
    network, fw, bw, private = hand_network(PAIRS, XY, {"BC"})
    near = nearest(network, fw, bw, private, [(300, 0)], [(0, 0), (150, 1), (200, 0)])
    # A: 100 to B, then the detour 100 + 200 + 100 (B–C may not be crossed)
    # on B–C (1 m off): 1 + 50 to C, out through C–D: 100 → 151
    # C: the node joining the private street and C–D: 100
    np.testing.assert_allclose(near.travel_time_s, [500, 151, 100])
    include = nearest(network, fw, bw, None, [(300, 0)], [(0, 0), (150, 1)])
    np.testing.assert_allclose(include.travel_time_s, [300, 151])


def test_a_facility_inside_a_compound_is_reached_at_the_end_of_a_trip():
    network, fw, bw, private = hand_network(PAIRS, XY, {"BC"})
    near = nearest(network, fw, bw, private, [(150, 0)], [(0, 0), (300, 0), (100, -100)])
    # A → B (public) then into the compound: 100 + 50; D → C → clinic: 100 + 50;
    # E → B → clinic: 100 + 50
    np.testing.assert_allclose(near.travel_time_s, [150, 150, 150])


def test_private_public_private_is_fine_but_not_private_public_private_public():
    # X —R— Y —P— Z —R— W —P— F, and a public detour Z —P— H —P— F
    xy = {"X": (0, 0), "Y": (100, 0), "Z": (200, 0), "W": (300, 0), "F": (400, 0)}
    xy |= {"H": (300, 300)}
    pairs = [("X", "Y"), ("Y", "Z"), ("Z", "W"), ("W", "F"), ("Z", "H"), ("H", "F")]
    network, fw, bw, private = hand_network(pairs, xy, {"XY", "ZW"})
    detour = np.hypot(100, 300) * 2
    # from X–Y's middle: 50 out of the first compound, 100 of public street to Z; the second
    # compound (Z–W) would be a private street between two public ones: the detour instead
    near = nearest(network, fw, bw, private, [(400, 0)], [(50, 0)])
    np.testing.assert_allclose(near.travel_time_s, [150 + detour])
    # a clinic inside the second compound is the trip's end: R P R is allowed
    near = nearest(network, fw, bw, private, [(250, 0)], [(50, 0)])
    np.testing.assert_allclose(near.travel_time_s, [50 + 100 + 50])


def test_node_times_for_public_and_private_starts():
    network, fw, bw, private = hand_network(PAIRS, XY, {"BC"})
    near = nearest(network, fw, bw, private, [(300, 0)], [(0, 0)])
    names = list(XY)
    public = dict(zip(names, near.node_time_s, strict=True))
    from_private = dict(zip(names, near.node_time_private_s, strict=True))
    assert public["B"] == 400  # over public streets only: the detour
    assert from_private["B"] == 200  # a trip that started inside may leave through C
    assert public["A"] == from_private["A"] == 500  # A's own street is public


def test_the_matrix_agrees_with_the_nearest_pass():
    network, fw, bw, private = hand_network(PAIRS, XY, {"BC"})
    fac = engine.snap_points(network, *np.array([(300, 0), (150, -2)], dtype=float).T)
    dem = engine.snap_points(network, *np.array([(0, 0), (150, 1), (100, -50)], dtype=float).T)
    table = engine.travel_time_matrix(
        network, fw, bw, fac, dem, cutoff_s=10_000, access_speed_m_per_min=60.0, private=private
    )
    got = table.pivot(index="demand", columns="facility", values="travel_time_s")
    # to the clinic at D and to the one inside the compound (2 m off B–C)
    np.testing.assert_allclose(got.to_numpy(), [[500, 152], [151, 3], [350, 102]])
    near = engine.nearest_facility(
        network, fw, bw, fac, dem, access_speed_m_per_min=60.0, private=private
    )
    np.testing.assert_allclose(got.min(axis=1).to_numpy(), near.travel_time_s)


# ----------------------------------------------------------------------------- random grids


def _grid(rng, size=6, step=100.0, share_private=0.3, share_oneway=0.15):
    xy = {(i, j): (i * step, j * step) for i in range(size) for j in range(size)}
    pairs = []
    for i, j in xy:
        for di, dj in ((1, 0), (0, 1)):
            if (i + di, j + dj) in xy and rng.random() < 0.9:
                pairs.append(((i, j), (i + di, j + dj)))
    names = list(xy)
    nodes = pd.DataFrame(
        {
            "node_id": range(len(names)),
            "x": [xy[n][0] for n in names],
            "y": [xy[n][1] for n in names],
        }
    )
    geoms = [LineString([xy[a], xy[b]]) for a, b in pairs]
    edges = gpd.GeoDataFrame(
        {
            "u": [names.index(a) for a, _ in pairs],
            "v": [names.index(b) for _, b in pairs],
            "length_m": [g.length for g in geoms],
        },
        geometry=geoms,
        crs=32650,
    )
    network = SimpleNamespace(nodes=nodes, edges=edges, crs=edges.crs)
    seconds = edges["length_m"].to_numpy() * rng.uniform(0.5, 2.0, len(pairs))
    forward, backward = seconds.copy(), seconds.copy()
    backward[rng.random(len(pairs)) < share_oneway] = np.inf
    private = rng.random(len(pairs)) < share_private
    return network, forward, backward, private


def _reference(network, forward, backward, private, fac, dem, access_mps):
    """R* P* R*: three Dijkstras per resident on the graph split at every point."""
    arcs = {True: nx.DiGraph(), False: nx.DiGraph()}  # private arcs, public arcs
    u = network.edges["u"].to_numpy()
    v = network.edges["v"].to_numpy()

    def arc(a, b, w, kind):
        if not np.isfinite(w):
            return
        for k in (kind,) if w > 0 else (True, False):  # a zero-length arc joins both kinds
            g = arcs[k]
            if not g.has_edge(a, b) or g[a][b]["w"] > w:
                g.add_edge(a, b, w=w)

    on_edge: dict[int, list] = {}
    for kind, snap in (("f", fac), ("d", dem)):
        for i in range(len(snap)):
            on_edge.setdefault(int(snap.edge[i]), []).append((snap.fraction[i], (kind, i)))
    for e in range(len(u)):
        stops = sorted(on_edge.get(e, []), key=lambda s: s[0])
        chain = [(0.0, ("n", u[e])), *stops, (1.0, ("n", v[e]))]
        for (fa, a), (fb, b) in itertools.pairwise(chain):
            span = fb - fa
            arc(a, b, 0.0 if span == 0 else span * forward[e], bool(private[e]))
            arc(b, a, 0.0 if span == 0 else span * backward[e], bool(private[e]))
    for g in arcs.values():
        g.add_nodes_from(arcs[True].nodes)
        g.add_nodes_from(arcs[False].nodes)

    def relax(graph, start: dict) -> dict:
        work = graph.copy()
        for node, seconds in start.items():
            work.add_edge("src", node, w=seconds)
        return nx.single_source_dijkstra_path_length(work, "src", weight="w")

    times = []
    for i in range(len(dem)):
        prefix = nx.single_source_dijkstra_path_length(arcs[True], ("d", i), weight="w")
        middle = relax(arcs[False], prefix)
        suffix = relax(arcs[True], {k: s for k, s in middle.items() if k != "src"})
        best = min(
            (suffix.get(("f", j), np.inf) + fac.snap_distance_m[j] / access_mps)
            for j in range(len(fac))
        )
        times.append(best + dem.snap_distance_m[i] / access_mps if np.isfinite(best) else np.nan)
    return np.array(times)


@pytest.mark.parametrize("seed", range(6))
def test_random_grids_equal_the_three_leg_formulation(seed):
    rng = np.random.default_rng(seed)
    network, forward, backward, private = _grid(rng)
    fac = engine.snap_points(network, *rng.uniform(-20, 520, (2, 4)))
    dem = engine.snap_points(network, *rng.uniform(-20, 520, (2, 60)))
    near = engine.nearest_facility(
        network, forward, backward, fac, dem, access_speed_m_per_min=60.0, private=private
    )
    expected = _reference(network, forward, backward, private, fac, dem, 1.0)
    np.testing.assert_array_equal(np.isnan(near.travel_time_s), np.isnan(expected))
    ok = np.isfinite(expected)
    np.testing.assert_allclose(near.travel_time_s[ok], expected[ok], rtol=1e-12, atol=1e-9)
    table = engine.travel_time_matrix(
        network,
        forward,
        backward,
        fac,
        dem,
        cutoff_s=1e9,
        access_speed_m_per_min=60.0,
        private=private,
    )
    best = table.groupby("demand")["travel_time_s"].min()
    np.testing.assert_allclose(best.to_numpy(), near.travel_time_s[best.index.to_numpy()])
    assert set(best.index) == set(np.flatnonzero(ok))


# ----------------------------------------------------------------------------- a project run


def test_the_project_key_reaches_every_trip(tmp_path):
    """A gated compound street (access=private) between two public streets, as a project.

    Resident "out" lives at node 1 west of the compound, "in" inside it; the clinic sits east
    of it at node 4. Through the compound: 1-2-3-4; around it: 1-2-5-4.
    """
    from geoplan.workflows.project import run_project

    osm = tmp_path / "compound.osm"
    osm.write_text(
        """<?xml version="1.0" encoding="UTF-8"?><osm version="0.6">
<node id="1" lat="30.0" lon="117.000" version="1"/>
<node id="2" lat="30.0" lon="117.001" version="1"/>
<node id="3" lat="30.0" lon="117.002" version="1"/>
<node id="4" lat="30.0" lon="117.003" version="1"/>
<node id="5" lat="30.002" lon="117.002" version="1"/>
<way id="1" version="1"><nd ref="1"/><nd ref="2"/><tag k="highway" v="residential"/></way>
<way id="2" version="1"><nd ref="2"/><nd ref="3"/><tag k="highway" v="service"/>
<tag k="access" v="private"/></way>
<way id="3" version="1"><nd ref="3"/><nd ref="4"/><tag k="highway" v="residential"/></way>
<way id="4" version="1"><nd ref="2"/><nd ref="5"/><nd ref="4"/>
<tag k="highway" v="residential"/></way></osm>""",
        encoding="utf-8",
    )
    (tmp_path / "clinic.csv").write_text(
        "编号,名称,类型,经度,纬度\nK,东诊所,诊所,117.003,30.0\n", encoding="utf-8"
    )
    (tmp_path / "people.csv").write_text(
        "demand_id,lon,lat,population\nout,117.000,30.0,10\nin,117.0015,30.0,20\n",
        encoding="utf-8",
    )
    seconds = {}
    for option in ("exclude", "endpoints", "include"):
        (tmp_path / "p.toml").write_text(
            f"""
[project]
area = "小区"
[network]
path = "compound.osm"
walk_speed_m_per_min = 60
private_ways = "{option}"
[demand]
path = "people.csv"
[facilities]
path = "clinic.csv"
[[rules]]
id = "clinic_walk_15"
categories = ["medical"]
mode = "walk"
threshold_min = 15
""",
            encoding="utf-8",
        )
        result = run_project(tmp_path / "p.toml", tmp_path / option)
        points = result.coverage.table.set_index("demand_id")["clinic_walk_15_time_s"]
        seconds[option] = points.to_dict()
        private = result.summary["network"]["modes"]["walk"]["private_edges"]
        assert private == (1 if option == "endpoints" else 0)
    edges = result.network.edges  # lengths from the network itself (1 m/s: seconds = metres)
    through = edges.loc[edges["geometry"].length < 200, "length_m"].sum()  # 1-2, 2-3, 3-4
    around = edges.loc[edges["geometry"].length > 200, "length_m"].sum()  # 2-5-4
    first = edges.loc[edges["geometry"].centroid.x.idxmin(), "length_m"]  # 1-2
    assert seconds["include"]["out"] == pytest.approx(through)
    assert seconds["endpoints"]["out"] == pytest.approx(first + around)  # never through
    assert seconds["exclude"]["out"] == pytest.approx(first + around)
    # inside: half of the compound street, then 3-4 (endpoints and include alike)
    assert seconds["endpoints"]["in"] == pytest.approx(seconds["include"]["in"])
    assert seconds["endpoints"]["in"] < seconds["exclude"]["in"]
