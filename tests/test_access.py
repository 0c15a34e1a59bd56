"""OSM access per travel mode (geoplan.readers.access): tags, precedence and the private-ways
option.

Every case is a hand-written OSM way whose usability per mode is stated here by hand from the
table in ``geoplan/readers/access.py`` (after OSRM's foot, bicycle and car profiles): the mode's
most specific tag wins over the general ones, and ``access`` comes last.
"""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import networkx as nx
import numpy as np
import pandas as pd
import pytest
from shapely.geometry import LineString

from geoplan.analysis import engine
from geoplan.errors import ConfigError
from geoplan.readers import access
from geoplan.readers.network import read_network

# (tags, walk, bike, drive): may the mode use a residential street with these tags?
# "P" = a private-style way: unusable by default (private_ways = "exclude").
CASES = [
    ({}, True, True, True),
    ({"foot": "no"}, False, True, True),
    ({"access": "no"}, False, False, False),
    ({"access": "private"}, "P", "P", "P"),
    ({"access": "no", "foot": "yes"}, True, False, False),
    ({"access": "no", "foot": "designated"}, True, False, False),
    ({"access": "no", "bicycle": "yes"}, False, True, False),
    ({"access": "no", "motor_vehicle": "yes"}, False, False, True),
    ({"access": "private", "foot": "yes"}, True, "P", "P"),
    ({"motor_vehicle": "no"}, True, True, False),
    ({"vehicle": "no"}, True, False, False),
    ({"vehicle": "no", "bicycle": "yes"}, True, True, False),
    ({"vehicle": "no", "motorcar": "yes"}, True, False, True),
    ({"motor_vehicle": "no", "motorcar": "yes"}, True, True, True),
    ({"motorcar": "no", "motor_vehicle": "yes"}, True, True, False),
    ({"bicycle": "no"}, True, False, True),
    ({"bicycle": "use_sidepath"}, True, False, True),
    ({"access": "agricultural"}, False, False, False),
    ({"vehicle": "agricultural", "foot": "yes"}, True, False, False),
    ({"access": "destination"}, True, True, "P"),
    ({"access": "customers"}, True, True, "P"),
    ({"access": "delivery"}, False, False, "P"),
    ({"access": "psv"}, False, False, False),
    ({"access": "permissive"}, True, True, True),
    ({"access": "yes", "foot": "no", "bicycle": "yes", "motor_vehicle": "yes"}, False, True, True),
    ({"service": "private"}, "P", "P", "P"),
    ({"service": "private", "access": "yes"}, True, True, True),
    ({"service": "private", "foot": "yes"}, True, "P", "P"),
    ({"service": "emergency_access"}, True, True, False),
    ({"service": "emergency_access", "motor_vehicle": "yes"}, True, True, False),
    ({"access": "no;yes"}, False, False, False),  # several values: the most restrictive
    ({"foot": "NO"}, False, True, True),  # values are read case-insensitively
]


def _osm(tmp_path: Path, ways: list[dict[str, str]]) -> Path:
    """One OSM XML file: way i is a 100 m east-west residential street at its own latitude."""
    nodes, body = [], []
    for i, tags in enumerate(ways):
        lat = 30.0 + 0.01 * i
        a, b = 2 * i + 1, 2 * i + 2
        nodes.append(f'<node id="{a}" lat="{lat}" lon="117.0" version="1"/>')
        nodes.append(f'<node id="{b}" lat="{lat}" lon="117.001" version="1"/>')
        all_tags = {"highway": "residential", "name": f"case{i}", **tags}
        tag_xml = "".join(f'<tag k="{k}" v="{v}"/>' for k, v in all_tags.items())
        body.append(
            f'<way id="{100 + i}" version="1"><nd ref="{a}"/><nd ref="{b}"/>{tag_xml}</way>'
        )
    path = tmp_path / "ways.osm"
    path.write_text(
        '<?xml version="1.0" encoding="UTF-8"?>\n<osm version="0.6">\n'
        + "\n".join(nodes + body)
        + "\n</osm>\n",
        encoding="utf-8",
    )
    return path


@pytest.fixture(scope="module")
def cases_network(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("access")
    network = read_network(_osm(tmp, [tags for tags, *_ in CASES]), cache=False)
    order = network.edges["name"].str.slice(4).astype(int).to_numpy()
    return network, np.argsort(order)


@pytest.mark.parametrize("mode", ["walk", "bike", "drive"])
@pytest.mark.parametrize("private_ways", ["exclude", "include"])
def test_each_tag_case_by_hand(cases_network, mode, private_ways):
    network, row = cases_network
    column = {"walk": 1, "bike": 2, "drive": 3}[mode]
    forward, backward = network.edge_times_s(mode, private_ways=private_ways)
    for i, case in enumerate(CASES):
        expected = case[column]
        if expected == "P":
            expected = private_ways == "include"
        usable = bool(np.isfinite(forward[row[i]]) and np.isfinite(backward[row[i]]))
        assert usable == expected, (mode, private_ways, case[0])


def test_private_edges_under_endpoints(cases_network):
    network, row = cases_network
    for mode, column in (("walk", 1), ("bike", 2), ("drive", 3)):
        times = network.mode_times(mode, private_ways="endpoints", largest_component=False)
        private = [i for i, case in enumerate(CASES) if case[column] == "P"]
        assert sorted(np.flatnonzero(times.private)) == sorted(row[private])
        # private edges keep their times (usable at the ends); excluded ones stay closed
        assert np.isfinite(times.forward_s[row[private]]).all()
        closed = [i for i, case in enumerate(CASES) if case[column] is False]
        assert np.isinf(times.forward_s[row[closed]]).all()


def test_unknown_private_ways_value_is_refused(cases_network):
    network, _ = cases_network
    with pytest.raises(ConfigError, match=r"private_ways.*exclude.*endpoints.*include"):
        network.edge_times_s("walk", private_ways="gated")
    with pytest.raises(ConfigError, match="mode_times"):
        network.edge_times_s("walk", private_ways="endpoints")


def test_table_is_documented():
    doc = access.__doc__
    for mode in access.MODES_HIERARCHY:
        assert " > ".join(access.MODES_HIERARCHY[mode]) in doc
    for values in (*access.NO_VALUES.values(), *access.PRIVATE_VALUES.values()):
        for value in values:
            assert f"``{value}``" in doc


# ----------------------------------------------------------------------------- readers


def test_graphml_edges_carry_access_tags(tmp_path):
    graph = nx.MultiDiGraph(crs="EPSG:4326")
    graph.add_node(1, x=117.0, y=30.0)
    graph.add_node(2, x=117.001, y=30.0)
    graph.add_node(3, x=117.002, y=30.0)
    graph.add_edge(1, 2, highway="residential", access="private", length=96.4)
    graph.add_edge(2, 1, highway="residential", access="private", length=96.4)
    graph.add_edge(2, 3, highway="footway", foot="no", service="['private', 'driveway']")
    path = tmp_path / "g.graphml"
    nx.write_graphml(graph, path)
    network = read_network(path, cache=False)
    edges = network.edges.sort_values("u").reset_index(drop=True)
    assert edges.loc[0, "access"] == "private"
    assert edges.loc[1, "foot"] == "no"
    assert edges.loc[1, "service"] == "private;driveway"
    forward, _ = network.edge_times_s("walk")
    assert np.isinf(forward).all()  # one private, one foot=no
    forward, _ = network.edge_times_s("walk", private_ways="include")
    assert np.isfinite(forward).tolist() == [True, False]


def test_line_files_carry_access_columns(tmp_path):
    frame = gpd.GeoDataFrame(
        {
            "highway": ["primary", "primary"],
            "Motor_Vehicle": ["no", None],
            "geometry": [LineString([(0, 0), (100, 0)]), LineString([(100, 0), (200, 0)])],
        },
        crs=32650,
    )
    path = tmp_path / "roads.gpkg"
    frame.to_file(path)
    network = read_network(path, cache=False)
    forward, _ = network.edge_times_s("drive")
    by_x = np.argsort(network.edges.geometry.centroid.x.to_numpy())
    assert np.isinf(forward[by_x[0]]) and np.isfinite(forward[by_x[1]])
    assert np.isfinite(network.edge_times_s("walk")[0]).all()


def test_network_without_tag_columns_is_open():
    """Hand-built Network tables without tag columns: every class rule as before."""
    from geoplan.readers.network import Network

    nodes = pd.DataFrame({"node_id": [1, 2], "x": [0.0, 100.0], "y": [0.0, 0.0]})
    edges = gpd.GeoDataFrame(
        {"u": [0], "v": [1], "length_m": [100.0], "highway": ["residential"], "oneway": [False]},
        geometry=[LineString([(0, 0), (100, 0)])],
        crs=32650,
    )
    network = Network(nodes=nodes, edges=edges, crs=edges.crs)
    assert np.isfinite(network.edge_times_s("drive")[0]).all()


def test_cache_key_changes_with_the_access_reader(tmp_path, monkeypatch):
    """The built network is cached by input sha256 + reader code: tags are part of the table."""
    monkeypatch.setenv("GEOPLAN_CACHE", str(tmp_path / "cache"))
    path = _osm(tmp_path, [{"foot": "no"}])
    first = read_network(path)
    again = read_network(path)
    assert again.edges["foot"].tolist() == ["no"] == first.edges["foot"].tolist()
    assert np.isinf(again.edge_times_s("walk")[0]).all()


def test_engine_sees_the_access_rules(tmp_path):
    """A walk from A to C: the direct way (foot=no) is closed, the detour is taken."""
    # A(0) --foot=no-- C(0.002)  and  A -- B(0.001, 30.001) -- C open
    path = tmp_path / "detour.osm"
    path.write_text(
        """<?xml version="1.0" encoding="UTF-8"?><osm version="0.6">
<node id="1" lat="30.0" lon="117.0" version="1"/>
<node id="2" lat="30.001" lon="117.001" version="1"/>
<node id="3" lat="30.0" lon="117.002" version="1"/>
<way id="1" version="1"><nd ref="1"/><nd ref="3"/><tag k="highway" v="primary"/>
<tag k="foot" v="no"/></way>
<way id="2" version="1"><nd ref="1"/><nd ref="2"/><nd ref="3"/>
<tag k="highway" v="footway"/></way></osm>""",
        encoding="utf-8",
    )
    network = read_network(path, cache=False)
    times = network.mode_times("walk", walk_speed_m_per_min=60.0)
    xy = network.nodes[["x", "y"]].to_numpy()
    ids = network.nodes["node_id"].to_numpy()
    a, c = xy[ids == 1][0], xy[ids == 3][0]
    fac = engine.snap_points(network, [c[0]], [c[1]], usable=times.facility_edges)
    dem = engine.snap_points(network, [a[0]], [a[1]], usable=times.demand_edges)
    near = engine.nearest_facility(network, times.forward_s, times.backward_s, fac, dem)
    footway = network.edges.loc[network.edges["highway"] == "footway", "length_m"].sum()
    assert near.travel_time_s[0] == pytest.approx(footway)  # 1 m/s: seconds = metres
