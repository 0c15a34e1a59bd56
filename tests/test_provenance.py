"""Say what was used: facilities_used.csv, geocoded and converted rows, credits from the inputs.

The defects of issue 11: rows placed by the gazetteer lifted coverage and no output said which
rows were placed, where, at what precision; the map and the report credited GHS-POP for the
user's own population file.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from geoplan import coords
from geoplan._paths import REPO_ROOT
from geoplan.workflows.project import DEMO_PROJECT, run_project

BAD = REPO_ROOT / "tests" / "data" / "bad"
DEMO_CSV = (DEMO_PROJECT.parent / "../facilities/tuanchengshan_scenario.csv").resolve()
DEMO_DEMAND = """path = "geoplan:osm/huangshi_tuanchengshan_drive_ghspop_2024.graphml.gz"
format = "graphml_edges"
population_column = "population"
group_column = "cell_id"
# Spread each cell's residents along its street every ≤ 50 m instead of one midpoint.
spacing_m = 50"""
OSM = "© OpenStreetMap contributors, ODbL 1.0"
GHS = "GHS-POP R2023A, European Commission JRC, CC BY 4.0"
USED_COLUMNS = [
    "facility_id",
    "name",
    "category",
    "tier",
    "lon",
    "lat",
    "lon_gcj02",
    "lat_gcj02",
    "coord_source",
    "geocode_precision",
    "geocode_matched",
    "snap_distance_m",
    "source_file",
    "source_row",
]


def test_demo_writes_facilities_used(demo_dir):
    table = pd.read_csv(demo_dir / "facilities_used.csv", encoding="utf-8-sig")
    assert table.columns.tolist()[: len(USED_COLUMNS)] == USED_COLUMNS
    source = pd.read_csv(DEMO_CSV, encoding="utf-8")
    assert table["facility_id"].tolist() == source["编号"].tolist()
    assert table["source_row"].tolist() == list(range(2, 12))
    # the path as the project writes it (as rejects.csv names it)
    assert set(table["source_file"]) == {"../facilities/tuanchengshan_scenario.csv"}
    assert np.allclose(table["lon"], source["经度"]) and np.allclose(table["lat"], source["纬度"])
    glon, glat = coords.wgs84_to_gcj02(source["经度"].to_numpy(), source["纬度"].to_numpy())
    assert np.abs(table["lon_gcj02"] - glon).max() < 1e-6
    assert np.abs(table["lat_gcj02"] - glat).max() < 1e-6
    assert set(table["coord_source"]) == {"wgs84"}
    assert table["geocode_precision"].isna().all()
    assert (table["snap_distance_m"] >= 0).all() and (table["snap_distance_m"] < 500).all()
    summary = json.loads((demo_dir / "summary.json").read_text(encoding="utf-8"))
    assert summary["facilities"]["geocoded"] == 0 and summary["facilities"]["converted"] == 0
    assert summary["credits"] == {
        "network": OSM,
        "demand": GHS,
        "facilities": "",
        "boundary": "",
    }


def test_geocoded_rows_are_listed_counted_and_marked(tmp_path, shared_file):
    osm = shared_file("osm/beijing_bupt_haidian_cn.osm.bz2")
    (tmp_path / "facilities.csv").write_text(
        "编号,名称,类型,经度,纬度,地址\n"
        "A,北京邮电大学社区卫生服务中心,社区卫生服务中心,,,\n"
        "B,校医院门诊部,诊所,116.3565,39.9615,\n",
        encoding="utf-8",
    )
    (tmp_path / "people.csv").write_text(
        "demand_id,lon,lat,人口\nP1,116.3560,39.9610,100\nP2,116.3530,39.9640,50\n",
        encoding="utf-8",
    )
    toml = tmp_path / "p.toml"
    toml.write_text(
        f"""
[project]
area = "北邮"
[network]
path = "{osm}"
[demand]
path = "people.csv"
[facilities]
path = "facilities.csv"
[geocode]
osm = ["{osm}"]
min_precision = "street"
[map]
langs = ["zh", "en"]
[[rules]]
id = "medical_walk_15"
categories = ["medical"]
mode = "walk"
threshold_min = 15
""",
        encoding="utf-8",
    )
    out = tmp_path / "out"
    run_project(toml, out)
    table = pd.read_csv(out / "facilities_used.csv", encoding="utf-8-sig").set_index("facility_id")
    assert table.loc["A", "coord_source"] == "geocoded"
    assert table.loc["A", "geocode_precision"] == "exact"
    assert "北京邮电大学社区卫生服务中心" in table.loc["A", "geocode_matched"]  # the OSM name
    assert table.loc["B", "coord_source"] == "wgs84"
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    assert summary["facilities"]["geocoded"] == 1
    assert summary["facilities"]["geocode_precision"] == {"exact": 1}
    assert "北京邮电大学社区卫生服务中心" in (out / "map.html").read_text(encoding="utf-8")
    assert "按地址地理编码（精确点位级" in (out / "map.html").read_text(encoding="utf-8")
    assert "geocoded from the address (exact precision" in (out / "map_en.html").read_text(
        encoding="utf-8"
    )
    # the user's own population: no GHS-POP credit on the map or in the summary
    assert summary["credits"]["demand"] == ""
    for name in ("map.html", "map_en.html"):
        html = (out / name).read_text(encoding="utf-8")
        assert "GHS-POP" not in html and "OpenStreetMap contributors" in html


def test_converted_rows_are_counted_and_marked(demo_project, tmp_path):
    path = demo_project(
        replace={str(DEMO_CSV): str(BAD / "gcj02_as_wgs84.csv"), 'crs = "wgs84"': 'crs = "gcj02"'}
    )
    out = tmp_path / "out"
    run_project(path, out)
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    assert summary["facilities"]["converted"] == summary["facilities"]["used"] > 0
    assert summary["facilities"]["coord_source"] == {"gcj02": summary["facilities"]["used"]}
    table = pd.read_csv(out / "facilities_used.csv", encoding="utf-8-sig")
    source = pd.read_csv(BAD / "gcj02_as_wgs84.csv", encoding="utf-8").set_index("编号")
    given = source.loc[table["facility_id"]]
    # the GCJ-02 columns give back the input, the WGS84 ones its conversion
    assert np.abs(table["lon_gcj02"].to_numpy() - given["经度"].to_numpy()).max() < 1e-6
    lon, _ = coords.gcj02_to_wgs84(given["经度"].to_numpy(), given["纬度"].to_numpy())
    assert np.abs(table["lon"].to_numpy() - lon).max() < 1e-6
    assert "由 GCJ-02 坐标换算为 WGS84" in (out / "map.html").read_text(encoding="utf-8")
    assert "converted from GCJ-02 to WGS84" in (out / "map_en.html").read_text(encoding="utf-8")


def test_user_population_is_not_credited_to_ghs_pop(demo_project, tmp_path):
    people = tmp_path / "people.csv"
    people.write_text("id,lon,lat,人口\nP1,115.02,30.20,1000\nP2,115.03,30.19,500\n")
    path = demo_project(replace={DEMO_DEMAND: f'path = "{people}"'})
    out = tmp_path / "out"
    run_project(path, out)
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    assert summary["credits"]["demand"] == ""
    assert "GHS-POP" not in (out / "map.html").read_text(encoding="utf-8")
    assert OSM in (out / "map.html").read_text(encoding="utf-8")

    from geoplan.rendering.report import _Report, read_results

    report = _Report(read_results(out), "en", out / "report.html", chrome=None)
    credits = report.credits()
    assert "GHS-POP" not in credits and "OpenStreetMap" in credits
    assert "user data" in credits


def test_credit_keys_and_recognised_sources(demo_project, tmp_path, shared_file):
    from geoplan.readers.credits import input_credit

    path = demo_project()
    text = path.read_text(encoding="utf-8").replace(
        "spacing_m = 50", 'spacing_m = 50\ncredit = "黄石市统计局 2023 / Huangshi statistics 2023"'
    )
    path.write_text(text, encoding="utf-8")
    out = tmp_path / "out"
    run_project(path, out)
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    assert summary["credits"]["demand"] == "黄石市统计局 2023 / Huangshi statistics 2023"
    assert "Huangshi statistics 2023" in (out / "map_en.html").read_text(encoding="utf-8")
    assert GHS not in (out / "map_en.html").read_text(encoding="utf-8")

    worldpop = shared_file("population/worldpop_hkg_pd_2020_1km.tif")
    assert "WorldPop" in input_credit("demand", worldpop, {})
    assert input_credit("demand", tmp_path / "people.csv", {}) == ""
    assert input_credit("network", shared_file("osm/andorra_ad.osm.pbf"), {}) == OSM
    assert input_credit("network", shared_file("osm/wuhan_fua_osm_streets.parquet"), {}) == OSM
    assert input_credit("network", tmp_path / "roads.gpkg", {"credit": ""}) == ""
    with pytest.raises(Exception, match="credit"):
        input_credit("demand", worldpop, {"credit": 5})


def test_a_credit_must_be_text(demo_project):
    from geoplan.errors import ConfigError
    from geoplan.workflows.project import load_project

    path = demo_project(replace={"spacing_m = 50": "spacing_m = 50\ncredit = 2023"})
    with pytest.raises(ConfigError, match=r"\[demand\] credit: must be text"):
        load_project(path)
