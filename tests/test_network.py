"""geoplan.readers.network: reading OSM / GraphML / road lines into ``Network``, and per-mode times.

Hand-made cases first (a tiny OSM XML file in tests/data/network/ and road lines written to
``tmp_path``), then real files: the demo's 团城山 networks as geoplan ships them (gzipped), and
the other networks of the shared data folder (tests marked ``shared_data`` through the
``shared_file`` fixture: skipped in one line without it, required in CI).
"""

from __future__ import annotations

import logging
import re
import time
from collections import Counter
from pathlib import Path

import geopandas as gpd
import networkx as nx
import numpy as np
import osmium
import pandas as pd
import pytest
import shapely
from pyproj import CRS, Geod
from scipy.sparse import csgraph
from shapely.geometry import LineString

from geoplan._paths import shipped_path
from geoplan.errors import ConfigError, InputFileNotFoundError, NetworkError
from geoplan.readers import network as netmod
from geoplan.readers.network import (
    DEFAULT_SPEED_KPH,
    HIGHWAY_RANK,
    MODES,
    SPEED_KPH,
    Network,
    highway_class,
    read_network,
)

DATA = Path(__file__).parent / "data" / "network"
TINY_OSM = DATA / "tiny_roads.osm"
GEOD = Geod(ellps="WGS84")
TINY_LONLAT = {  # node id: (lon, lat) as in tiny_roads.osm
    1: (117.0, 30.0),
    2: (117.001, 30.0),
    3: (117.002, 30.0),
    4: (117.002, 30.001),
    5: (117.001, 30.001),
    6: (117.0, 29.999),
    7: (117.002, 29.999),
    8: (117.002, 30.002),
    9: (117.003, 30.002),
    12: (117.0015, 30.001),
    13: (117.004, 30.004),
    14: (117.0042, 30.004),
    15: (117.0041, 30.0042),
}


def geodesic_m(*node_ids: int) -> float:
    lon, lat = zip(*(TINY_LONLAT[n] for n in node_ids), strict=True)
    return GEOD.line_length(lon, lat)


def s_per_m(kph: float) -> float:
    return 3.6 / kph


# ----------------------------------------------------------------------------- tiny OSM XML


@pytest.fixture(scope="module")
def tiny() -> Network:
    return read_network(TINY_OSM)


def edge_between(net: Network, a: int, b: int) -> pd.Series:
    """The one edge joining OSM nodes a and b (either orientation)."""
    pos = {nid: i for i, nid in enumerate(net.nodes["node_id"])}
    e = net.edges
    hit = e[((e["u"] == pos[a]) & (e["v"] == pos[b])) | ((e["u"] == pos[b]) & (e["v"] == pos[a]))]
    assert len(hit) == 1, (a, b, hit)
    return hit.iloc[0]


def test_tiny_counts_and_tables(tiny):
    # junctions: way ends 1,3,4,5,6,7,8,9,13 and 2 (shared by ways 101 and 103); 12 is only
    # shared with the landuse / area=yes ways, so the footway keeps it as an inner vertex
    assert sorted(tiny.nodes["node_id"]) == [1, 2, 3, 4, 5, 6, 7, 8, 9, 13]
    assert len(tiny.edges) == 8
    assert list(tiny.nodes.index) == list(range(10))
    assert list(tiny.edges.index) == list(range(8))
    assert tiny.nodes["node_id"].dtype == np.int64
    assert tiny.crs == CRS.from_epsg(32650)  # UTM zone of 117°E, north
    assert tiny.edges.crs == tiny.crs
    assert set(tiny.edges.columns) >= {"u", "v", "length_m", "highway", "oneway", "name"}
    assert tiny.edges["oneway"].dtype == bool
    assert tiny.source == str(TINY_OSM)
    assert "10 nodes, 8 edges" in repr(tiny)


def test_tiny_geometry_runs_u_to_v(tiny):
    starts = shapely.get_coordinates(shapely.get_point(tiny.edges.geometry.values, 0))
    ends = shapely.get_coordinates(shapely.get_point(tiny.edges.geometry.values, -1))
    xy = tiny.nodes[["x", "y"]].to_numpy()
    np.testing.assert_allclose(starts, xy[tiny.edges["u"]], atol=1e-6)
    np.testing.assert_allclose(ends, xy[tiny.edges["v"]], atol=1e-6)


def test_tiny_oneway_minus_one_is_reversed(tiny):
    e = edge_between(tiny, 2, 5)
    assert e["highway"] == "tertiary" and bool(e["oneway"])
    assert tiny.nodes["node_id"][e["u"]] == 5 and tiny.nodes["node_id"][e["v"]] == 2
    assert e.geometry.coords[0][1] > e.geometry.coords[-1][1]  # runs north to south


def test_tiny_oneway_flags_and_names(tiny):
    assert bool(edge_between(tiny, 3, 4)["oneway"])  # oneway=yes
    assert bool(edge_between(tiny, 6, 7)["oneway"])  # motorway implies oneway
    assert not bool(edge_between(tiny, 1, 2)["oneway"])
    assert edge_between(tiny, 1, 2)["name"] == "测试路"
    assert edge_between(tiny, 2, 3)["name"] == "测试路"
    assert edge_between(tiny, 3, 4)["name"] is None
    loop = tiny.edges[tiny.edges["u"] == tiny.edges["v"]]
    assert len(loop) == 1 and bool(loop["oneway"].iloc[0])  # roundabout: a one-way loop
    assert loop["length_m"].iloc[0] == pytest.approx(geodesic_m(13, 14, 15, 13), rel=5e-4)


def test_tiny_lengths_match_geodesic(tiny):
    # UTM on its central meridian scales by 0.9996..1.0000 here: within 0.05 %
    for a, b, path in [
        (1, 2, (1, 2)),
        (2, 3, (2, 3)),
        (3, 4, (3, 4)),
        (2, 5, (5, 2)),
        (5, 4, (5, 12, 4)),
        (6, 7, (6, 7)),
        (8, 9, (8, 9)),
    ]:
        e = edge_between(tiny, a, b)
        assert e["length_m"] == pytest.approx(geodesic_m(*path), rel=5e-4)
        assert e["length_m"] == pytest.approx(e.geometry.length, rel=1e-9)
    assert len(edge_between(tiny, 5, 4).geometry.coords) == 3  # footway kept its vertex 12


def test_tiny_missing_node_cuts_way(tiny, caplog):
    e = edge_between(tiny, 8, 9)  # way 107 = 4, (missing 99), 8, 9 -> only 8-9 is left
    assert e["highway"] == "residential"
    pos4 = int(np.flatnonzero(tiny.nodes["node_id"] == 4)[0])
    touching4 = tiny.edges[(tiny.edges["u"] == pos4) | (tiny.edges["v"] == pos4)]
    assert set(touching4["highway"]) == {"secondary", "footway"}
    with caplog.at_level(logging.INFO, logger="geoplan.readers.network"):
        read_network(TINY_OSM)
    (line,) = [r.getMessage() for r in caplog.records if r.name == "geoplan.readers.network"]
    assert "10 nodes, 8 edges" in line
    assert "1 node refs missing from the file in 1 ways" in line
    assert "1 way pieces shorter than 2 nodes dropped" in line
    assert "1 highway areas (area=yes) skipped" in line


def test_tiny_edge_times_by_hand(tiny):
    e = tiny.edges
    fw, bw = tiny.edge_times_s("walk")
    length = e["length_m"].to_numpy()
    motorway = (e["highway"] == "motorway").to_numpy()
    np.testing.assert_allclose(fw[~motorway], length[~motorway] / 70.0 * 60.0)
    np.testing.assert_array_equal(fw, bw)  # walking ignores oneway
    assert np.isinf(fw[motorway]).all() and np.isinf(bw[motorway]).all()
    fw60, _ = tiny.edge_times_s("walk", walk_speed_m_per_min=60.0)
    np.testing.assert_allclose(fw60[~motorway], length[~motorway])  # 1 m/s

    pairs = {"res": (1, 2), "sec": (3, 4), "ter": (2, 5), "foot": (5, 4), "mot": (6, 7)}
    i = {key: int(edge_between(tiny, *pair).name) for key, pair in pairs.items()}
    fd, bd = tiny.edge_times_s("drive")
    assert fd[i["res"]] == pytest.approx(length[i["res"]] * s_per_m(25.0))
    assert bd[i["res"]] == pytest.approx(length[i["res"]] * s_per_m(25.0))
    assert fd[i["sec"]] == pytest.approx(length[i["sec"]] * s_per_m(40.0))
    assert np.isinf(bd[i["sec"]])  # one-way: no driving v->u ...
    assert np.isfinite(bw[i["sec"]])  # ... but walking back is fine
    assert fd[i["ter"]] == pytest.approx(length[i["ter"]] * s_per_m(30.0))
    assert np.isinf(bd[i["ter"]])
    assert np.isinf(fd[i["foot"]]) and np.isinf(bd[i["foot"]])  # no cars on footways
    assert fd[i["mot"]] == pytest.approx(length[i["mot"]] * s_per_m(80.0))
    assert np.isinf(bd[i["mot"]])

    fb, bb = tiny.edge_times_s("bike")
    assert fb[i["res"]] == pytest.approx(length[i["res"]] * s_per_m(15.0))
    assert np.isinf(bb[i["sec"]])  # a one-way road binds cyclists too
    assert fb[i["foot"]] == pytest.approx(length[i["foot"]] * s_per_m(8.0))
    assert bb[i["foot"]] == pytest.approx(fb[i["foot"]])  # oneway footway: walking-flow hint
    assert np.isinf(fb[i["mot"]]) and np.isinf(bb[i["mot"]])


def test_edge_times_validation(tiny):
    with pytest.raises(ConfigError, match="walk, bike, ebike, motorcycle, drive") as info:
        tiny.edge_times_s("car")
    assert isinstance(info.value, ValueError)
    with pytest.raises(ConfigError, match="walk_speed_m_per_min"):
        tiny.edge_times_s("walk", walk_speed_m_per_min=0.0)
    with pytest.raises(ConfigError, match="walk_speed_m_per_min"):
        tiny.edge_times_s("walk", walk_speed_m_per_min="fast")
    with pytest.raises(ConfigError):
        tiny.to_csr("boat")


def test_to_csr_drive_on_tiny(tiny):
    graph = tiny.to_csr("drive")
    n = len(tiny.nodes)
    assert graph.shape == (n, n)
    fd, bd = tiny.edge_times_s("drive")
    e = tiny.edges
    finite = int(np.isfinite(fd[e["u"] != e["v"]]).sum() + np.isfinite(bd[e["u"] != e["v"]]).sum())
    assert graph.nnz == finite  # no parallel edges here, loop left out
    pos = {nid: i for i, nid in enumerate(tiny.nodes["node_id"])}
    dist = csgraph.dijkstra(graph, indices=pos[1])
    t12 = fd[int(edge_between(tiny, 1, 2).name)]
    t23 = fd[int(edge_between(tiny, 2, 3).name)]
    t34 = fd[int(edge_between(tiny, 3, 4).name)]
    assert dist[pos[4]] == pytest.approx(t12 + t23 + t34)
    assert np.isinf(dist[pos[5]])  # 5 -> 2 is one-way, and 5-4 is a footway
    walk = csgraph.dijkstra(tiny.to_csr("walk", walk_speed_m_per_min=60.0), indices=pos[1])
    assert walk[pos[5]] == pytest.approx(
        edge_between(tiny, 1, 2)["length_m"] + edge_between(tiny, 2, 5)["length_m"]
    )


def test_to_csr_takes_fastest_parallel_edge_and_keeps_zero():
    nodes = pd.DataFrame({"node_id": [10, 20, 30], "x": [0.0, 100.0, 100.0], "y": [0.0] * 3})
    edges = gpd.GeoDataFrame(
        {
            "u": [0, 0, 1],
            "v": [1, 1, 2],
            "length_m": [100.0, 140.0, 0.0],
            "highway": ["residential", "primary", "service"],
            "oneway": [False, False, False],
            "name": [None, None, None],
        },
        geometry=[
            LineString([(0, 0), (100, 0)]),
            LineString([(0, 0), (50, 10), (100, 0)]),
            LineString([(100, 0), (100, 0)]),
        ],
        crs=32650,
    )
    net = Network(nodes=nodes, edges=edges, crs=CRS.from_epsg(32650), source="hand")
    graph = net.to_csr("drive")
    # residential 100 m at 25 km/h = 14.4 s; primary 140 m at 50 km/h = 10.08 s
    assert graph[0, 1] == pytest.approx(10.08)
    assert graph[1, 0] == pytest.approx(10.08)
    assert graph.nnz == 4  # 0-1 both ways, 1-2 both ways (explicit zeros)
    assert csgraph.dijkstra(graph, indices=0)[2] == pytest.approx(10.08)


# ----------------------------------------------------------------------------- road lines

X0, Y0 = 500_000.0, 3_400_000.0


def hand_lines() -> gpd.GeoDataFrame:
    """L1 (140 m, bends at (0,60)), L2 ends on L1's vertex (0,30), L3 one-way, L4 reversed."""

    def line(*pts):
        return LineString([(X0 + x, Y0 + y) for x, y in pts])

    return gpd.GeoDataFrame(
        {
            "highway": ["residential", "service", "primary", "footway"],
            "oneway": [None, "no", "yes", "-1"],
            "name": ["甲路", None, "乙路", None],
        },
        geometry=[
            line((0, 0), (0, 30), (0, 60), (80, 60)),
            line((-50, 30), (0, 30)),
            line((80, 60), (80, 0)),
            line((80, 0), (0, 0)),
        ],
        crs=32650,
    )


def write_lines(frame: gpd.GeoDataFrame, path: Path) -> Path:
    if path.suffix == ".parquet":
        frame.to_parquet(path)
    else:
        frame.to_file(path)
    return path


@pytest.mark.parametrize("suffix", [".gpkg", ".geojson", ".shp", ".parquet"])
def test_lines_without_uv_exact_lengths(tmp_path, suffix):
    net = read_network(write_lines(hand_lines(), tmp_path / f"roads{suffix}"))
    assert net.crs == CRS.from_epsg(32650)
    assert len(net.nodes) == 5  # (0,0) (0,30) (80,60) (-50,30) (80,0); (0,60) is no junction
    e = net.edges
    assert sorted(e["length_m"].round(9)) == [30.0, 50.0, 60.0, 80.0, 110.0]
    residential = e[e["highway"] == "residential"]
    assert sorted(residential["length_m"]) == [30.0, 110.0]
    assert set(residential["name"]) == {"甲路"}
    fw, bw = net.edge_times_s("walk")
    # L1 is 140 m: at 70 m/min that is 120 s, whichever piece it is cut into
    assert fw[residential.index].sum() == pytest.approx(120.0)
    np.testing.assert_array_equal(fw, bw)
    fd, bd = net.edge_times_s("drive")
    primary = int(e.index[e["highway"] == "primary"][0])
    assert fd[primary] == pytest.approx(60.0 * 3.6 / 50.0)  # 4.32 s
    assert np.isinf(bd[primary])
    foot = e[e["highway"] == "footway"].iloc[0]
    assert bool(foot["oneway"])
    assert foot.geometry.coords[0] == (X0, Y0)  # oneway=-1: turned to run (0,0) -> (80,0)
    assert net.nodes.loc[foot["u"], ["x", "y"]].tolist() == [X0, Y0]
    assert not e.loc[e["highway"] != "footway", "oneway"].drop(primary).any()


def test_lines_geographic_southern_hemisphere(tmp_path):
    # Santiago de Chile: the UTM zone of the centre is 19 south (EPSG:32719)
    frame = gpd.GeoDataFrame(
        {"highway": ["residential", "residential"]},
        geometry=[
            LineString([(-70.650, -33.450), (-70.649, -33.450)]),
            LineString([(-70.649, -33.450), (-70.649, -33.449)]),
        ],
        crs=4326,
    )
    net = read_network(write_lines(frame, tmp_path / "santiago.geojson"))
    assert net.crs == CRS.from_epsg(32719)
    assert len(net.nodes) == 3 and len(net.edges) == 2
    expected = GEOD.line_length([-70.650, -70.649, -70.649], [-33.450, -33.450, -33.449])
    assert net.edges["length_m"].sum() == pytest.approx(expected, rel=1e-3)
    assert (net.nodes["y"] > 0).all()  # southern UTM has a 10,000 km false northing
    assert netmod._utm_crs(-70.6, -33.4) == CRS.from_epsg(32719)
    assert netmod._utm_crs(179.9, 10.0) == CRS.from_epsg(32660)
    assert netmod._utm_crs(-180.0, 10.0) == CRS.from_epsg(32601)


def test_lines_with_uv_fix_orientation_and_collapse_twins(tmp_path):
    a, b, c, d = (X0, Y0), (X0 + 100, Y0), (X0 + 100, Y0 + 50), (X0 + 200, Y0)
    frame = gpd.GeoDataFrame(
        {
            "u": [1, 2, 3, 2, 4],
            "v": [2, 3, 2, 4, 2],
            "key": [0, 0, 0, 0, 0],
            "highway": ["tertiary", "['residential', 'service']", "residential", "service", "x"],
        },
        geometry=[
            LineString([a, b]),
            LineString([c, b]),  # stored v -> u: must be turned around
            LineString([c, b]),  # the reverse twin of the row above
            LineString([b, d]),
            LineString([d, (X0 + 150, Y0 + 10), b]),  # 4 -> 2 on another line: no twin
        ],
        crs=32650,
    )
    net = read_network(write_lines(frame, tmp_path / "uv.parquet"))
    assert net.nodes["node_id"].tolist() == [1, 2, 3, 4]
    np.testing.assert_allclose(net.nodes[["x", "y"]].to_numpy(), [a, b, c, d])
    e = net.edges
    assert len(e) == 4  # rows 2 and 3 are one two-way street (1 pair in 5 rows: directed)
    assert e["highway"].tolist() == ["tertiary", "residential", "service", "x"]
    assert e["oneway"].tolist() == [True, False, True, True]
    starts = shapely.get_coordinates(shapely.get_point(e.geometry.values, 0))
    np.testing.assert_allclose(starts, net.nodes[["x", "y"]].to_numpy()[e["u"]])
    assert e["length_m"].iloc[1] == pytest.approx(50.0)
    # an unknown class gets DEFAULT_SPEED_KPH
    fd, _ = net.edge_times_s("drive")
    assert fd[3] == pytest.approx(e["length_m"].iloc[3] * 3.6 / DEFAULT_SPEED_KPH["drive"])


def test_crs_option(tmp_path):
    net = read_network(TINY_OSM, crs="EPSG:32649")
    assert net.crs == CRS.from_epsg(32649)
    with pytest.raises(ConfigError, match="projected CRS in metres"):
        read_network(TINY_OSM, crs=4326)


# ----------------------------------------------------------------------------- errors


def test_errors_name_the_file(tmp_path):
    with pytest.raises(InputFileNotFoundError, match=r"nowhere\.osm") as info:
        read_network(tmp_path / "nowhere.osm")
    assert isinstance(info.value, FileNotFoundError)
    odd = tmp_path / "roads.txt"
    odd.write_text("x")
    with pytest.raises(NetworkError, match=r"roads\.txt.*unknown network file type"):
        read_network(odd)
    no_roads = tmp_path / "fields.osm"
    no_roads.write_text(
        '<?xml version="1.0"?><osm version="0.6">'
        '<node id="1" lat="30" lon="117"/><node id="2" lat="30.001" lon="117"/>'
        '<node id="3" lat="30" lon="117.001"/>'
        '<way id="1"><nd ref="1"/><nd ref="2"/><nd ref="3"/><nd ref="1"/>'
        '<tag k="landuse" v="farmland"/></way></osm>'
    )
    with pytest.raises(NetworkError, match=r"fields\.osm: no OSM ways with a highway tag"):
        read_network(no_roads)
    no_crs = gpd.GeoDataFrame(geometry=[LineString([(0, 0), (1, 0)])])
    with pytest.raises(NetworkError, match="no CRS"):
        read_network(write_lines(no_crs, tmp_path / "nocrs.parquet"))
    empty = gpd.GeoDataFrame({"highway": ["primary"]}, geometry=[LineString()], crs=32650)
    with pytest.raises(NetworkError, match="no LineString"):
        read_network(write_lines(empty, tmp_path / "empty.parquet"))


# ----------------------------------------------------------------------------- the tables


def test_highway_class_picks_most_important():
    assert highway_class("['residential', 'service']") == "residential"
    assert highway_class(["footway", "cycleway", "path"]) == "cycleway"
    assert highway_class("['unclassified', 'tertiary']") == "tertiary"
    assert highway_class("primary;secondary") == "primary"
    assert highway_class("Residential") == "residential"
    assert highway_class("['weird', 'other']") == "weird"
    assert highway_class(None) is None
    assert highway_class(float("nan")) is None


def test_speed_tables_match_the_docstring():
    """The table in the module docstring is the table in the code."""
    rows = {}
    for line in netmod.__doc__.splitlines():
        pattern = r"(\(other\)|[a-z_]+)" + r"\s+(\S+)" * len(MODES)
        m = re.fullmatch(pattern, line.strip())
        if m and m.group(1) != "highway":
            rows[m.group(1)] = tuple(None if x == "-" else float(x) for x in m.groups()[1:])
    assert rows.pop("(other)") == tuple(DEFAULT_SPEED_KPH[mode] for mode in MODES)
    assert list(rows) == list(HIGHWAY_RANK)
    for cls, speeds in rows.items():
        assert speeds == tuple(SPEED_KPH[mode][cls] for mode in MODES), cls
    assert SPEED_KPH["walk"]["motorway"] is None and SPEED_KPH["walk"]["motorway_link"] is None
    for cls in ("footway", "path", "pedestrian", "steps", "cycleway", "bridleway", "corridor"):
        assert SPEED_KPH["drive"][cls] is None
    for cls in ("construction", "proposed", "abandoned", "platform"):
        assert all(SPEED_KPH[mode][cls] is None for mode in MODES)


# ----------------------------------------------------------------------------- real data


WALK_2022 = "osm/huangshi_tuanchengshan_all_2022.graphml.gz"
DRIVE_2024 = "osm/huangshi_tuanchengshan_drive_ghspop_2024.graphml.gz"


def timed_read(path: Path, **kw) -> tuple[Network, float]:
    start = time.perf_counter()
    net = read_network(path, **kw)
    return net, time.perf_counter() - start


def check_invariants(net: Network) -> None:
    e, n = net.edges, net.nodes
    assert list(n.index) == list(range(len(n))) and list(e.index) == list(range(len(e)))
    assert n["node_id"].is_unique
    assert np.isfinite(n[["x", "y"]].to_numpy()).all()
    assert (e["length_m"] >= 0).all() and np.isfinite(e["length_m"]).all()
    assert e.geometry.geom_type.eq("LineString").all()
    assert e["highway"].map(lambda h: isinstance(h, str) and "[" not in h).all()
    xy = n[["x", "y"]].to_numpy()
    starts = shapely.get_coordinates(shapely.get_point(e.geometry.values, 0))
    ends = shapely.get_coordinates(shapely.get_point(e.geometry.values, -1))
    assert np.hypot(*(starts - xy[e["u"]]).T).max() < 0.01
    assert np.hypot(*(ends - xy[e["v"]]).T).max() < 0.01
    assert net.crs.is_projected


def test_tuanchengshan_2022_graphml_collapses_two_way_pairs():
    net, _ = timed_read(shipped_path(WALK_2022))
    check_invariants(net)
    graph = nx.read_graphml(shipped_path(WALK_2022), force_multigraph=True)  # gunzips .gz
    assert graph.number_of_nodes() == 775 and graph.number_of_edges() == 1979
    oneway = Counter(d["oneway"] for *_, d in graph.edges(data=True))
    # osmnx wrote oneway per directed edge: one-way streets once, two-way streets twice
    expected = oneway["True"] + oneway["False"] // 2
    assert expected == 1139
    # the rough rule (1979 + directed edges without a reverse edge) / 2 is 1136: it misses 6
    # one-way edges that run opposite another edge between the same junctions
    no_reverse = sum(1 for u, v in graph.edges() if not graph.has_edge(v, u))
    assert abs((1979 + no_reverse) / 2 - expected) <= 3
    assert len(net.nodes) == 775
    assert len(net.edges) == expected
    assert int(net.edges["oneway"].sum()) == oneway["True"]
    assert net.crs == CRS.from_epsg(32650)
    assert "磁湖路" in set(net.edges["name"].dropna())
    assert set(net.edges["highway"]) <= set(HIGHWAY_RANK)


def test_tuanchengshan_walk_length_matches_osmnx(tuanchengshan_walk):
    import osmnx as ox  # slow to import: only here

    graph = ox.load_graphml(shipped_path(WALK_2022))
    undirected = ox.convert.to_undirected(graph)
    osmnx_m = sum(d["length"] for *_, d in undirected.edges(data=True))
    assert undirected.number_of_edges() == len(tuanchengshan_walk.edges)
    assert tuanchengshan_walk.edges["length_m"].sum() == pytest.approx(osmnx_m, rel=0.005)
    # the projected geometry alone agrees too (UTM scale ~0.9997 at 115°E)
    assert tuanchengshan_walk.edges.geometry.length.sum() == pytest.approx(osmnx_m, rel=0.005)
    fw, bw = tuanchengshan_walk.edge_times_s("walk")
    assert np.isfinite(fw).all() and np.isfinite(bw).all()  # no motorways in 团城山
    fd, _ = tuanchengshan_walk.edge_times_s("drive")
    foot = (tuanchengshan_walk.edges["highway"] == "footway").to_numpy()
    assert foot.sum() > 50 and np.isinf(fd[foot]).all()


def test_tuanchengshan_2024_projected_graphml_keeps_crs():
    net, _ = timed_read(shipped_path(DRIVE_2024))
    check_invariants(net)
    graph = nx.read_graphml(shipped_path(DRIVE_2024), force_multigraph=True)
    assert net.crs == CRS.from_epsg(32650)
    assert len(net.nodes) == 529
    # osmnx's own count of undirected street segments, stored in the file
    assert len(net.edges) == int(graph.graph["street_segment_count"]) == 759
    assert net.edges["length_m"].sum() == pytest.approx(
        float(graph.graph["street_length_total"]), rel=1e-6
    )
    node_id = str(net.nodes["node_id"].iloc[0])
    assert net.nodes["x"].iloc[0] == float(graph.nodes[node_id]["x"])  # not reprojected
    assert net.nodes["y"].iloc[0] == float(graph.nodes[node_id]["y"])


def osm_highway_topology(path: Path) -> tuple[set[int], int, set[int]]:
    """Independent junction count: nodes and segments of highway ways (no area=yes)."""
    ways, all_refs = [], set()
    for obj in osmium.FileProcessor(str(path), osmium.osm.WAY):
        refs = [n.ref for n in obj.nodes]
        all_refs.update(refs)
        if "highway" in obj.tags and obj.tags.get("area") != "yes":
            ways.append(refs)
    use = Counter(r for refs in ways for r in refs)
    junctions, segments = set(), 0
    for refs in ways:
        cuts = [r for i, r in enumerate(refs) if i in (0, len(refs) - 1) or use[r] >= 2]
        junctions.update(cuts)
        segments += len(cuts) - 1
    return junctions, segments, all_refs


def test_beijing_osm_xml_drops_non_highway_ways(shared_file):
    path = shared_file("osm/beijing_bupt_haidian_cn.osm.bz2")
    net, _ = timed_read(path)
    check_invariants(net)
    junctions, segments, all_refs = osm_highway_topology(path)
    assert set(net.nodes["node_id"]) == junctions
    assert len(net.edges) == segments
    assert len(all_refs) > len(junctions)  # landuse, buildings ... were in the file
    assert net.crs == CRS.from_epsg(32650)
    assert set(net.edges["highway"]) <= set(HIGHWAY_RANK)


def test_helsinki_pbf_loads_despite_missing_nodes(caplog, shared_file):
    with caplog.at_level(logging.INFO, logger="geoplan.readers.network"):
        net, _ = timed_read(shared_file("osm/helsinki_test_fi.osm.pbf"))
    check_invariants(net)
    assert net.crs == CRS.from_epsg(32635)
    (line,) = [r.getMessage() for r in caplog.records if r.name == "geoplan.readers.network"]
    assert "missing from the file in 55 ways" in line
    assert len(net.edges) > 600 and (net.edges["length_m"] > 0).all()


def test_andorra_pbf(shared_file):
    path = shared_file("osm/andorra_ad.osm.pbf")
    net, _ = timed_read(path)
    check_invariants(net)
    assert net.crs == CRS.from_epsg(32631)
    junctions, segments, _ = osm_highway_topology(path)
    assert set(net.nodes["node_id"]) == junctions
    assert len(net.edges) == segments
    fd, bd = net.edge_times_s("drive")
    assert np.isfinite(fd).sum() > 2000 and np.isinf(bd).sum() > np.isinf(fd).sum()


def test_wuhan_parquet_is_complete(shared_file):
    net, _ = timed_read(shared_file("osm/wuhan_fua_osm_streets.parquet"))
    check_invariants(net)
    # nothing dropped: the file has no zero-length edges and no self-loops
    assert len(net.edges) == 92_667
    assert len(net.nodes) == 82_902
    assert net.edges["length_m"].sum() / 1000 == pytest.approx(7185, rel=1e-3)
    assert net.crs == CRS.from_epsg(32650)  # stored as a nameless UTM 50N, normalised
    assert not net.edges["oneway"].any()  # the file carries no oneway information
    graph = net.to_csr("drive")
    assert graph.shape == (82_902, 82_902)
    # one entry per directed node pair a car may use: the fastest of its parallel edges
    fd, bd = net.edge_times_s("drive")
    u, v = net.edges["u"].to_numpy(), net.edges["v"].to_numpy()
    arcs = pd.DataFrame(
        {"a": np.concatenate([u, v]), "b": np.concatenate([v, u]), "s": np.concatenate([fd, bd])}
    )
    fastest = arcs[np.isfinite(arcs["s"])].groupby(["a", "b"])["s"].min()
    assert 0 < graph.nnz == len(fastest) < 2 * len(net.edges)
    a, b = (fastest.index.get_level_values(k).to_numpy() for k in ("a", "b"))
    np.testing.assert_array_equal(graph[a, b], fastest.to_numpy())
