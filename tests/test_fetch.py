"""geoplan fetch: cutting an area out of a larger OSM file and raster (offline), downloading
(online, answered here by a local server with recorded responses), and a project pointed at
the results."""

from __future__ import annotations

import json
import re
import urllib.parse

import geopandas as gpd
import numpy as np
import pyogrio
import pytest
import rasterio
import shapely

from geoplan.errors import ConfigError, InputError, LimitError
from geoplan.readers.demand import demand_from_raster
from geoplan.readers.network import read_network
from geoplan.readers.osm_admin import admin_areas
from geoplan.workflows.fetch import cut_inputs, cut_osm, padded_area

HK_POLYGON = shapely.Polygon([(114.10, 22.30), (114.25, 22.28), (114.30, 22.40), (114.15, 22.45)])


@pytest.fixture(scope="module")
def andorra(shared_file):
    return shared_file("osm/andorra_ad.osm.pbf")


@pytest.fixture(scope="module")
def ordino(andorra) -> gpd.GeoDataFrame:
    """A real admin area inside the extract: the parish of Ordino (85 km²)."""
    areas, _ = admin_areas(andorra, admin_levels=[7])
    return areas[areas["name"] == "Ordino"].reset_index(drop=True)


def _highway_lines(path) -> gpd.GeoDataFrame:
    """The highway ways of an OSM file as GDAL's OSM driver reads them (an independent
    reader: not pyosmium), indexed by OSM id."""
    lines = pyogrio.read_dataframe(path, layer="lines")
    return lines[lines["highway"].notna()].set_index("osm_id").sort_index()


def _clipped(lines: gpd.GeoDataFrame, area) -> gpd.GeoDataFrame:
    """The ways whose line touches ``area``."""
    return lines[lines.intersects(area)]


@pytest.mark.parametrize("buffer_m", [0.0, 500.0, 2000.0])
def test_cut_pbf_equals_reading_the_whole_file_and_clipping(tmp_path, andorra, ordino, buffer_m):
    """The cut holds exactly the streets of the whole file that touch boundary + buffer,
    vertex for vertex (read back by GDAL, not by the cutter's pyosmium), and geoplan's
    network of the cut has their length to the millimetre."""
    result = cut_inputs(ordino, tmp_path / "cut", pbf=andorra, buffer_m=buffer_m)
    area = padded_area(ordino, buffer_m)
    expected = _clipped(_highway_lines(andorra), area)
    cut = _highway_lines(result.files["network"])
    assert 100 < len(expected) < 1614  # a real part of the country's 1,614 highway ways
    assert list(cut.index) == list(expected.index)
    assert all(
        shapely.equals_exact(a, b, tolerance=0)
        for a, b in zip(cut.geometry, expected.geometry, strict=True)
    )
    network = read_network(result.files["network"], cache=False)
    assert network.edges["length_m"].sum() == pytest.approx(
        expected.to_crs(network.crs).length.sum(), abs=1e-3
    )
    counts = result.sources[0]["counts"]
    assert counts["ways_read"] == 2696  # the tagged ways of the file (29 untagged)
    assert result.sources[0]["credit"].startswith("© OpenStreetMap")
    assert (tmp_path / "cut" / "manifest.json").is_file()
    sources = json.loads((tmp_path / "cut" / "sources.json").read_text(encoding="utf-8"))
    assert sources["sources"][0]["sha256"] == result.sources[0]["sha256"]


def test_cut_keeps_ways_whole_and_does_not_grow_by_order(tmp_path, andorra, ordino):
    """A kept way's nodes outside the area do not pull in further ways (the cut does not
    depend on the order of the file): every kept way touches the area; crossing ways are
    kept to their ends; tagged nodes inside are kept (points of interest)."""
    area = padded_area(ordino, 0.0)
    counts = cut_osm(andorra, area, tmp_path / "o.osm.pbf")
    lines = pyogrio.read_dataframe(tmp_path / "o.osm.pbf", layer="lines")
    assert lines.intersects(area).all()
    assert not lines.within(area).all()
    points = pyogrio.read_dataframe(tmp_path / "o.osm.pbf", layer="points")
    whole = pyogrio.read_dataframe(andorra, layer="points")
    inside = set(whole[whole.intersects(area)]["osm_id"])
    assert len(inside) > 10 and inside <= set(points["osm_id"])
    others = points[~points["osm_id"].isin(inside)]  # tagged nodes of kept ways, outside
    assert not others.intersects(area).any()
    areas = pyogrio.read_dataframe(tmp_path / "o.osm.pbf", layer="multipolygons")
    kept_ways = shapely.union_all([*lines.geometry, *areas.geometry.boundary]).buffer(1e-9)
    assert others.intersects(kept_ways).all()
    assert counts["tagged_nodes"] >= len(inside)


def test_cut_a_clipped_extract_with_missing_nodes(tmp_path, shared_file):
    """Helsinki's test extract has ways whose nodes are not in it: the cut loads."""
    helsinki = shared_file("osm/helsinki_test_fi.osm.pbf")
    whole = read_network(helsinki, cache=False)
    box = gpd.GeoDataFrame(
        geometry=[shapely.box(*whole.edges.to_crs(4326).total_bounds).buffer(-0.002)], crs=4326
    )
    result = cut_inputs(box, tmp_path / "h", pbf=helsinki, buffer_m=0)
    expected = _clipped(_highway_lines(helsinki), padded_area(box, 0))
    assert list(_highway_lines(result.files["network"]).index) == list(expected.index)
    assert 0 < len(read_network(result.files["network"], cache=False).edges)


def test_cut_refuses_an_extract_of_elsewhere(tmp_path, andorra):
    far = gpd.GeoDataFrame(geometry=[HK_POLYGON], crs=4326)
    with pytest.raises(
        InputError,
        match=r"no way or tagged node in the area \(file extent lon/lat 1\.4221, 42\.4351.* "
        "another province",
    ):
        cut_inputs(far, tmp_path / "x", pbf=andorra)
    assert not (tmp_path / "x").exists()  # nothing half-written
    with pytest.raises(ConfigError, match="give --pbf or --raster"):
        cut_inputs(far, tmp_path / "x")
    with pytest.raises(ConfigError, match="must be ≥ 0"):
        cut_inputs(far, tmp_path / "x", pbf=andorra, buffer_m=-1)


def test_cut_raster_equals_reading_the_whole_raster(tmp_path, shared_file):
    """A windowed cut of a density raster gives the residents of the whole raster inside the
    boundary, cell for cell; it stays density under any name."""
    source = shared_file("population/worldpop_hkg_pd_2020_1km.tif")
    boundary = gpd.GeoDataFrame(geometry=[HK_POLYGON], crs=4326)
    result = cut_inputs(boundary, tmp_path / "r", raster=source, buffer_m=1000)
    cut_file = result.files["population"]
    stats = result.sources[0]["raster"]
    assert stats["kind"] == "density" and stats["cells"] < 74 * 50
    whole = demand_from_raster(source, boundary=boundary)
    cut = demand_from_raster(cut_file, boundary=boundary)
    assert len(whole) == len(cut) > 100

    def cells(frame):  # x, y, population per cell, in the order of x then y
        xy = shapely.get_coordinates(frame.geometry.to_numpy())
        table = np.column_stack([xy, frame["population"].to_numpy()])
        return table[np.lexsort((table[:, 1], table[:, 0]))]

    np.testing.assert_allclose(cells(cut), cells(whole), rtol=1e-9)  # float rounding of areas
    renamed = tmp_path / "population.tif"
    renamed.write_bytes(cut_file.read_bytes())
    assert demand_from_raster(renamed, boundary=boundary)["population"].sum() == pytest.approx(
        whole["population"].sum()
    )
    with rasterio.open(cut_file) as ds:
        assert ds.nodata == -99999 and ds.crs.to_epsg() == 4326
        assert ds.units == ("persons per km²",)
    assert "WorldPop" in result.sources[0]["credit"]


def test_cut_raster_limits_and_outside(tmp_path, shared_file, monkeypatch):
    source = shared_file("population/worldpop_hkg_pd_2020_1km.tif")
    boundary = gpd.GeoDataFrame(geometry=[HK_POLYGON], crs=4326)
    monkeypatch.setenv("GEOPLAN_LIMIT_RASTER_CELLS", "100")
    with pytest.raises(LimitError, match="raster_cells limit of 100"):
        cut_inputs(boundary, tmp_path / "r", raster=source)
    monkeypatch.delenv("GEOPLAN_LIMIT_RASTER_CELLS")
    far = gpd.GeoDataFrame(geometry=[shapely.box(1.4, 42.4, 1.6, 42.6)], crs=4326)
    with pytest.raises(InputError, match="outside the raster"):
        cut_inputs(far, tmp_path / "r", raster=source)


def test_cut_units_from_the_extract(tmp_path, andorra, ordino):
    result = cut_inputs(
        ordino, tmp_path / "u", pbf=andorra, buffer_m=500, units=True, units_level=7
    )
    units = gpd.read_file(result.files["units"])
    assert units["name"].tolist() == ["Ordino"]
    assert any("cover 100.0%" in note for note in result.notes)


# --------------------------------------------------------------------------- a project


def _init_project(tmp_path, frame: gpd.GeoDataFrame, name: str):
    from geoplan.cli import main

    boundary = tmp_path / f"{name}.geojson"
    frame[["geometry"]].assign(name=name).to_file(boundary)
    assert main(["-q", "init", "--boundary", str(boundary), "--out", str(tmp_path / name)]) == 0
    return tmp_path / name


def test_fetch_project_cuts_and_points_the_project_at_the_files(tmp_path, andorra, ordino):
    from geoplan.cli import main
    from geoplan.workflows.project import load_project

    folder = _init_project(tmp_path, ordino, "ordino")
    before = (folder / "project.toml").read_text(encoding="utf-8").splitlines()
    argv = ["fetch", str(folder), "--pbf", str(andorra), "--buffer-m", "500", "--units"]
    assert main([*argv, "--units-level", "7"]) == 0
    text = (folder / "project.toml").read_text(encoding="utf-8")
    project = load_project(folder / "project.toml")
    assert project.network["path"] == "inputs/network.osm.pbf"
    assert project.network["credit"] == "© OpenStreetMap contributors, ODbL 1.0"
    assert project.units["path"] == "inputs/units.geojson" and project.units["level"] == "township"
    assert project.demand["path"] == before_demand(before)  # untouched: no raster given
    network = read_network(project.resolve(project.network["path"]), cache=False)
    assert len(network.edges) > 300
    # every comment line is still there, in order (but the commented-out keys now set, and
    # the [units] heading now active)
    comments = [
        line
        for line in before
        if line.startswith("#") and line != "# [units]" and not re.match(r"# \w+ = ", line)
    ]
    assert [line for line in text.splitlines() if line in set(comments)] == comments
    sources = json.loads((folder / "inputs" / "sources.json").read_text(encoding="utf-8"))
    assert [s["kind"] for s in sources["sources"]] == ["network", "units"]
    # a second fetch replaces the first only with --overwrite
    assert main(["-q", *argv, "--units-level", "7"]) == 1
    assert main(["-q", *argv, "--units-level", "7", "--overwrite", "--no-network"]) == 0
    assert not (folder / "inputs" / "network.osm.pbf").exists()


def before_demand(lines: list[str]) -> str:
    start = lines.index("[demand]")
    return next(
        line.split("=", 1)[1].strip().strip('"')
        for line in lines[start:]
        if line.startswith("path =")
    )


def test_fetch_project_raster(tmp_path, shared_file):
    from geoplan.workflows.fetch import fetch_project
    from geoplan.workflows.project import load_project

    folder = _init_project(tmp_path, gpd.GeoDataFrame(geometry=[HK_POLYGON], crs=4326), "hk")
    raster = shared_file("population/worldpop_hkg_pd_2020_1km.tif")
    result = fetch_project(folder, raster=raster, buffer_m=0)
    project = load_project(result.project)
    assert project.demand["path"] == "inputs/worldpop_hkg_pd_2020_1km.tif"
    assert "WorldPop" in project.demand["credit"]
    demand = demand_from_raster(project.resolve(project.demand["path"]), boundary=HK_POLYGON)
    whole = demand_from_raster(raster, boundary=HK_POLYGON)
    assert demand["population"].sum() == pytest.approx(whole["population"].sum())


def test_nothing_is_downloaded_without_online(tmp_path, ordino, capsys):
    from geoplan.cli import main

    folder = _init_project(tmp_path, ordino, "o")
    text = (folder / "project.toml").read_text(encoding="utf-8")
    assert main(["fetch", str(folder)]) == 1
    err = capsys.readouterr().err
    assert err.startswith("geoplan: error:") and "--online" in err and err.count("\n") == 1
    assert not (folder / "inputs").exists()
    assert (folder / "project.toml").read_text(encoding="utf-8") == text
    assert main(["fetch", "--boundary", str(tmp_path / "o.geojson")]) == 1
    assert "--out goes with --boundary" in capsys.readouterr().err


def test_set_table_keys_keeps_everything_else():
    from geoplan.workflows.fetch import set_table_keys

    text = '# head\n[network]\n# credit = "x"\npath = "a.pbf"  # old\n\n# ---- [demand]\n[demand]\n'
    out = set_table_keys(text, "network", {"path": "inputs/n.osm.pbf", "credit": "© OSM"})
    assert out.splitlines() == [
        "# head",
        "[network]",
        'credit = "© OSM"',
        'path = "inputs/n.osm.pbf"',
        "",
        "# ---- [demand]",
        "[demand]",
    ]
    out = set_table_keys(out, "units", {"path": 'u "1".geojson'})
    assert out.endswith('[units]\npath = "u \\"1\\".geojson"\n')
    commented = '[a]\nx = 1\n# [units]\n# path = "t.gpkg"\n# name_column = "name"\n'
    assert set_table_keys(commented, "units", {"path": "u.geojson"}).splitlines()[2:] == [
        "[units]",
        'path = "u.geojson"',
        '# name_column = "name"',
    ]


def test_set_table_keys_edits_the_one_element_of_an_array_of_tables():
    """Defect: a national template whose registry was ``[[facilities]]`` (one element) got a
    second ``[facilities]`` table appended in every county's project, which no longer
    parsed ("Cannot declare ('facilities',) twice"): every county failed."""
    import tomllib

    from geoplan.workflows.fetch import set_table_keys

    text = (
        '[[facilities]]\npath = "registry.csv"\ncolumns = {name = "名称"}\n\n[[rules]]\nid = "a"\n'
    )
    out = set_table_keys(
        text,
        "facilities",
        {"path": "f.gpkg", "columns": {"name": "名称", "facility_id": "facility_id"}},
    )
    parsed = tomllib.loads(out)
    assert parsed["facilities"] == [
        {"path": "f.gpkg", "columns": {"name": "名称", "facility_id": "facility_id"}}
    ]
    assert parsed["rules"] == [{"id": "a"}]
    with pytest.raises(ValueError, match="2 elements"):
        set_table_keys(text + '[[facilities]]\npath = "b.csv"\n', "facilities", {"path": "x"})


# --------------------------------------------------------------------------- online (recorded)

# What osmnx's network_type="all" query asks Overpass for (osmnx 2.x _get_osm_filter).
_OVERPASS_EXCLUDED = {
    "abandoned",
    "construction",
    "no",
    "planned",
    "platform",
    "proposed",
    "raceway",
    "razed",
}


def _overpass_answer(path) -> dict:
    """The answer Overpass gives osmnx for the area of an OSM file: its highway ways that
    pass the "all" filter, and their nodes, in Overpass JSON (recorded from the shared
    extract at test time; nothing of it is stored in the repository)."""
    import osmium

    nodes, ways = {}, []
    for obj in osmium.FileProcessor(str(path)):
        if obj.is_node():
            nodes[obj.id] = {
                "type": "node",
                "id": obj.id,
                "lat": obj.location.lat,
                "lon": obj.location.lon,
            }
        elif obj.is_way():
            tags = dict(obj.tags)
            if (
                "highway" in tags
                and tags.get("area") != "yes"
                and tags["highway"] not in _OVERPASS_EXCLUDED
            ):
                ways.append(
                    {"type": "way", "id": obj.id, "nodes": [n.ref for n in obj.nodes], "tags": tags}
                )
    used = {ref for way in ways for ref in way["nodes"]}
    elements = [nodes[ref] for ref in sorted(used)] + ways
    return {"version": 0.6, "generator": "recorded for geoplan's tests", "elements": elements}


class _Recorded:
    """A local HTTP server answering as Overpass (status, interpreter) and as a file host
    with byte ranges (GDAL's /vsicurl/), recording every request."""

    def __init__(self, overpass: dict, files: dict[str, bytes]):
        import http.server
        import threading

        self.requests: list[tuple[str, str, str]] = []
        recorded = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def _send(self, code, body=b"", kind="text/plain", extra=None):
                self.send_response(code)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(body)))
                for key, value in (extra or {}).items():
                    self.send_header(key, value)
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(body)

            def do_POST(self):
                length = int(self.headers.get("Content-Length", 0))
                body = self.rfile.read(length).decode("utf-8")
                recorded.requests.append(("POST", self.path, body))
                if self.path == "/api/interpreter":
                    self._send(200, json.dumps(overpass).encode(), "application/json")
                else:
                    self._send(404)

            def do_HEAD(self):
                self.do_GET()

            def do_GET(self):
                recorded.requests.append((self.command, self.path, self.headers.get("Range", "")))
                if self.path == "/api/status":
                    text = (  # Overpass's status page: line 5 says a slot is free
                        "Connected as: 1\nCurrent time: 2026-12-07T00:00:00Z\n"
                        "Announced endpoint: none\nRate limit: 2\n2 slots available now.\n"
                    )
                    return self._send(200, text.encode())
                data = files.get(self.path)
                if data is None:
                    return self._send(404)
                ranged = re.match(r"bytes=(\d+)-(\d*)", self.headers.get("Range", ""))
                if not ranged:
                    return self._send(200, data, "image/tiff", {"Accept-Ranges": "bytes"})
                start = int(ranged.group(1))
                end = min(int(ranged.group(2) or len(data) - 1), len(data) - 1)
                extra = {"Content-Range": f"bytes {start}-{end}/{len(data)}"}
                self._send(
                    206, data[start : end + 1], "image/tiff", extra | {"Accept-Ranges": "bytes"}
                )

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def recorded(shared_file, monkeypatch, tmp_path):
    """The stub server, with osmnx and GDAL pointed at it (no proxy, no cache of osmnx)."""
    import osmnx as ox

    beijing = shared_file("osm/beijing_bupt_haidian_cn.osm.bz2")
    raster = shared_file("population/worldpop_hkg_pd_2020_1km.tif")
    server = _Recorded(
        _overpass_answer(beijing), {"/wp/worldpop_hkg_pd_2020_1km.tif": raster.read_bytes()}
    )
    for key in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    monkeypatch.setattr(ox.settings, "overpass_url", f"{server.url}/api")
    monkeypatch.setattr(ox.settings, "use_cache", False)
    monkeypatch.setattr(ox.settings, "cache_folder", str(tmp_path / "osmnx-cache"))
    yield server, beijing, raster
    server.close()


def test_fetch_online_with_recorded_responses(tmp_path, recorded):
    """Streets through osmnx from (recorded) Overpass and a raster window over HTTP: the
    network equals geoplan's reading of the same OSM data, the raster the local cut."""
    from geoplan.workflows.fetch import fetch_inputs

    server, beijing, raster = recorded
    whole = read_network(beijing, cache=False)
    extent = shapely.box(*whole.edges.to_crs(4326).total_bounds)
    boundary = gpd.GeoDataFrame(geometry=[extent], crs=4326)
    hk = gpd.GeoDataFrame(geometry=[HK_POLYGON], crs=4326)
    result = fetch_inputs(boundary, tmp_path / "net", online=True, population=False, buffer_m=100)
    body = next(body for method, path, body in server.requests if path == "/api/interpreter")
    query = urllib.parse.parse_qs(body)["data"][0]
    assert query.startswith("[out:json]") and '(way["highway"]' in query
    poly = re.search(r'poly:"([^"]+)"', query) or re.search(r"poly:'([^']+)'", query)
    lat_lon = np.asarray(poly.group(1).split(), dtype=float).reshape(-1, 2)
    padded = padded_area(boundary, 100)  # osmnx asked for the boundary + buffer
    asked = shapely.Polygon(lat_lon[:, ::-1])  # osmnx asks for 500 m more, then truncates
    assert asked.covers(padded) and padded.buffer(0.01).covers(asked)
    fetched = read_network(result.files["network"], cache=False)
    kept = whole.edges[~whole.edges["highway"].isin(["construction"])]  # not asked for
    # the same streets, to the centimetre (osmnx merges a way that doubles another, so the
    # sums of edge lengths differ by one 4 m overlap; their unions do not)
    ours = shapely.union_all(kept.geometry.to_numpy())
    theirs = shapely.union_all(fetched.edges.to_crs(kept.crs).geometry.to_numpy())
    assert ours.difference(theirs.buffer(0.01)).is_empty
    assert theirs.difference(ours.buffer(0.01)).is_empty
    assert theirs.length == pytest.approx(ours.length, rel=1e-9) and ours.length > 20_000
    assert result.sources[0]["source"] == f"{server.url}/api"
    assert result.sources[0]["credit"].startswith("© OpenStreetMap")

    url = f"{server.url}/wp/worldpop_hkg_pd_2020_1km.tif"
    got = fetch_inputs(hk, tmp_path / "pop", online=True, network=False, population_url=url)
    raster_requests = [r for r in server.requests if r[1].startswith("/wp/")]
    assert raster_requests and all(r[1].endswith(".tif") for r in raster_requests)
    assert any(r[2].startswith("bytes=") for r in raster_requests)  # read by byte ranges
    local = cut_inputs(hk, tmp_path / "local", raster=raster)
    with rasterio.open(got.files["population"]) as a, rasterio.open(local.files["population"]) as b:
        assert a.transform == b.transform
        np.testing.assert_array_equal(a.read(), b.read())
    assert "WorldPop" in got.sources[0]["credit"] and got.sources[0]["source"] == url


def test_fetch_online_failure_is_one_line(tmp_path, recorded, monkeypatch):
    import osmnx as ox

    from geoplan.workflows.fetch import fetch_inputs

    server, *_ = recorded
    server.close()  # nobody answers
    monkeypatch.setattr(ox.settings, "overpass_rate_limit", False)
    monkeypatch.setattr(ox.settings, "requests_timeout", 5)
    boundary = gpd.GeoDataFrame(geometry=[HK_POLYGON], crs=4326)
    with pytest.raises(InputError, match="downloading the streets failed"):
        fetch_inputs(boundary, tmp_path / "x", online=True, population=False)
    assert not (tmp_path / "x").exists()


def test_fetch_project_online(tmp_path, recorded):
    from geoplan.workflows.fetch import fetch_project
    from geoplan.workflows.project import load_project

    _, beijing, _ = recorded
    extent = shapely.box(*read_network(beijing, cache=False).edges.to_crs(4326).total_bounds)
    folder = _init_project(tmp_path, gpd.GeoDataFrame(geometry=[extent], crs=4326), "bupt")
    result = fetch_project(folder, online=True, population=False, buffer_m=0)
    project = load_project(result.project)
    assert project.network["path"] == "inputs/network.graphml"
    assert len(read_network(project.resolve(project.network["path"]), cache=False).edges) > 300
