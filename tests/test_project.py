"""Project files: a run on a real OSM extract with a record placed by the offline gazetteer."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from geoplan.errors import ConfigError
from geoplan.workflows.project import load_project, run_project


@pytest.fixture
def bupt_project(tmp_path, shared_file):
    osm = shared_file("osm/beijing_bupt_haidian_cn.osm.bz2")
    (tmp_path / "facilities.csv").write_text(
        "编号,名称,类型,经度,纬度,地址\n"
        "A,北京邮电大学社区卫生服务中心,社区卫生服务中心,,,\n"
        "B,无名诊所,诊所,,,查无此地\n",
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
[[rules]]
id = "medical_walk_15"
categories = ["medical"]
mode = "walk"
threshold_min = 15
""",
        encoding="utf-8",
    )
    return toml


def test_records_without_coordinates_are_geocoded_or_rejected(bupt_project, tmp_path):
    result = run_project(bupt_project, tmp_path / "out")
    summary = json.loads((tmp_path / "out" / "summary.json").read_text(encoding="utf-8"))
    counts = {k: summary["facilities"][k] for k in ("read", "used", "rejected", "geocoded")}
    assert counts == {"read": 2, "used": 1, "rejected": 1, "geocoded": 1}
    used = result.facilities.set_index("facility_id")
    assert used.loc["A", "coord_source"] == "geocoded"
    assert used.loc["A", "geocode_precision"] == "exact"
    rejects = pd.read_csv(tmp_path / "out" / "rejects.csv", encoding="utf-8-sig")
    assert list(rejects["reason_code"]) == ["geocode_failed"]
    assert summary["population_total"] == 150.0
    # both residents stand a few hundred metres from the centre
    assert summary["rules"][0]["share_covered"] == 1.0


def test_geocode_table_needs_a_source(bupt_project, tmp_path):
    text = bupt_project.read_text(encoding="utf-8")
    start = text.index("[geocode]")
    end = text.index("[[rules]]")
    bupt_project.write_text(text[:start] + "[geocode]\n" + text[end:], encoding="utf-8")
    with pytest.raises(ConfigError, match=r"p.toml: \[geocode\]: needs `admin` layers or `osm`"):
        load_project(bupt_project)


def test_a_run_warns_when_wgs84_facilities_look_like_gcj02(tmp_path):
    from geoplan._paths import REPO_ROOT

    demo = (REPO_ROOT / "data/demo/tuanchengshan.toml").read_text(encoding="utf-8")
    scenario = REPO_ROOT / "data/facilities/tuanchengshan_scenario.csv"
    shifted = REPO_ROOT / "tests/data/bad/gcj02_as_wgs84.csv"  # GCJ-02 points read as WGS84
    for name, facilities in (("ok.toml", scenario), ("shifted.toml", shifted)):
        (tmp_path / name).write_text(
            demo.replace('"../facilities/tuanchengshan_scenario.csv"', f'"{facilities}"'),
            encoding="utf-8",
        )
    result = run_project(tmp_path / "shifted.toml", tmp_path / "out")
    (warning,) = [w for w in result.summary["warnings"] if w["check"].endswith("_suspected")]
    assert warning["check"] == "gcj02_suspected"
    assert 'crs = "gcj02"' in warning["message_en"]
    assert run_project(tmp_path / "ok.toml", tmp_path / "out_ok").summary["warnings"] == []


def test_large_demand_is_shown_per_cell_on_the_map_with_totals_kept(monkeypatch):
    from geoplan.analysis.coverage import column
    from geoplan.rendering import run_maps
    from geoplan.workflows import project

    result = project.compute_project(load_project(project.DEMO_PROJECT))
    points = result.coverage.table
    monkeypatch.setattr(run_maps, "MAP_MAX_POINTS", 100)
    shown, note = run_maps.map_demand(result.coverage, result.project.limits)
    assert len(shown) < len(points)
    assert note is not None and "100 m" in note[1]  # and the map says so
    for rule in result.project.rules:
        uncovered = points.loc[~points[column(rule.id, "covered")], "population"].sum()
        rows = shown[~shown[f"{rule.id}_covered"]]
        assert rows["population"].sum() == pytest.approx(uncovered)
        assert rows[f"{rule.id}_minutes"].min() > 15  # every uncovered resident is beyond 15 min


def test_map_cells_by_hand(monkeypatch):
    """Uncovered residents per 100 m cell, by hand: each cell's population and weighted mean
    minutes, the unreachable of a cell a row of their own, rows ordered by column, row, then
    unreachable; cell centres; covered residents not shown; negative coordinates too."""
    from types import SimpleNamespace

    from geoplan.limits import Limits
    from geoplan.rendering import run_maps

    inf = np.inf
    points = pd.DataFrame(
        {
            "demand_id": list("abcdefg"),
            "population": [10.0, 30.0, 5.0, 7.0, 2.0, 4.0, 1.0],
            "x": [10.0, 90.0, 50.0, 150.0, -20.0, 20.0, 15.0],
            "y": [10.0, 50.0, 60.0, 10.0, 30.0, 120.0, 15.0],
            "r_covered": [False, False, False, False, False, False, True],
            "r_time_s": [1200.0, 2400.0, inf, 1800.0, 960.0, 3000.0, 60.0],
        }
    )
    rule = SimpleNamespace(id="r")
    coverage = SimpleNamespace(
        table=points, rules=[rule], network=SimpleNamespace(crs="EPSG:32650")
    )
    monkeypatch.setattr(run_maps, "MAP_MAX_POINTS", 1)
    shown, note = run_maps.map_demand(coverage, Limits(map_points=10))
    assert shown.attrs["cell_m"] == 100.0 and "100 m" in note[1]
    # (column, row): e (-1, 0); a, b (0, 0) and c (0, 0) unreachable; f (0, 1); d (1, 0)
    assert shown["demand_id"].tolist() == [f"r-cell-{i}" for i in range(5)]
    assert shown["population"].tolist() == [2.0, 40.0, 5.0, 4.0, 7.0]
    assert shown.geometry.x.tolist() == [-50.0, 50.0, 50.0, 50.0, 150.0]
    assert shown.geometry.y.tolist() == [50.0, 50.0, 50.0, 150.0, 50.0]
    minutes = shown["r_minutes"].to_numpy()
    expected = [16.0, (10 * 20 + 30 * 40) / 40, np.nan, 50.0, 30.0]
    np.testing.assert_allclose(minutes, expected, rtol=0, atol=1e-12)
    assert not shown["r_covered"].any()


# --------------------------------------------------------------------------- [map] table


def _demo_with_map(tmp_path, table: str) -> Path:
    """The demo project with its [map] table replaced by ``table`` (absolute input paths)."""
    from geoplan.workflows.project import DEMO_PROJECT

    text = DEMO_PROJECT.read_text(encoding="utf-8")
    text = text[: text.index("[map]")] + table
    text = text.replace(
        '"../facilities/tuanchengshan_scenario.csv"',
        f'"{(DEMO_PROJECT.parent / "../facilities/tuanchengshan_scenario.csv").resolve()}"',
    )
    path = tmp_path / "project.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_map_table_defaults_and_values(tmp_path):
    from geoplan.workflows.project import DEMO_PROJECT, MapOptions

    assert load_project(_demo_with_map(tmp_path, "")).map == MapOptions(("zh",), "none")
    demo = load_project(DEMO_PROJECT).map
    assert demo.langs == ("zh", "en")
    assert demo.files() == [("zh", "map.html"), ("en", "map_en.html")]
    table = '[map]\nlangs = ["en"]\nbasemap = "amap"\nbasemap_key_env = "MY_KEY"\n'
    options = load_project(_demo_with_map(tmp_path, table)).map
    assert options == MapOptions(("en",), "amap", "MY_KEY")
    assert options.files() == [("en", "map.html")]
    assert options.key() is None  # Amap needs no key


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ('[map]\nlangs = ["fr"]\n', r"\[map\] langs: must be a non-empty list of distinct"),
        ('[map]\nlangs = ["zh", "zh"]\n', r"\[map\] langs: must be a non-empty list of distinct"),
        ("[map]\nlangs = []\n", r"\[map\] langs: must be a non-empty list"),
        ('[map]\nbasemap = "google"\n', r'basemap: must be one of "none", "osm", "tianditu"'),
        (
            '[map]\nbasemap_key = "abc"\n',
            r"`basemap_key`: unknown key in \[map\]; did you mean "
            r"`basemap_key_env`\? \(a basemap key is never stored",
        ),
    ],
)
def test_map_table_errors_name_the_key(tmp_path, table, message):
    with pytest.raises(ConfigError, match=message):
        load_project(_demo_with_map(tmp_path, table))


def test_demo_writes_a_map_per_language(tmp_path):
    from geoplan.workflows.project import DEMO_PROJECT

    result = run_project(DEMO_PROJECT, tmp_path)
    zh = (tmp_path / "map.html").read_text(encoding="utf-8")
    en = (tmp_path / "map_en.html").read_text(encoding="utf-8")
    assert '<html lang="zh-CN">' in zh and '<html lang="en">' in en
    assert "假设情景：图中设施并非真实设施" in zh  # hypothetical_facilities = true
    assert "Hypothetical scenario: the facilities shown are not real" in en
    assert "<title>Tuanchengshan Subdistrict, Xialu District, Huangshi: facility access" in en
    # the per-unit choropleth of every rule, from the run's units and by-unit table
    for rule in result.project.rules:
        assert f'"units:{rule.id}":feature_group_' in zh
    share = result.by_unit.set_index("unit_name").loc["团城山街道", "medical_walk_15_share_covered"]
    # "<" escaped in scripts
    assert f"\\u003cth>覆盖率\\u003c/th>\\u003ctd>{share * 100:.1f}%\\u003c/td>" in zh
    assert not (tmp_path / "map_zh.html").exists()


def test_overrides_and_overwrite_check_know_the_language_maps(tmp_path, monkeypatch):
    from geoplan.errors import InputError, OutputExistsError
    from geoplan.workflows.project import DEMO_PROJECT

    (tmp_path / "map_en.html").write_text("old", encoding="utf-8")
    with pytest.raises(OutputExistsError, match=r"map_en\.html"):
        run_project(DEMO_PROJECT, tmp_path)
    monkeypatch.delenv("GEOPLAN_TIANDITU_KEY", raising=False)
    out = tmp_path / "tianditu"
    with pytest.raises(InputError, match="set the environment variable GEOPLAN_TIANDITU_KEY"):
        run_project(DEMO_PROJECT, out, basemap="tianditu")
    assert not out.exists()  # it failed before computing or writing anything
    monkeypatch.setenv("GEOPLAN_TIANDITU_KEY", "abc123")
    run_project(DEMO_PROJECT, out, basemap="tianditu", lang="en")
    text = (out / "map.html").read_text(encoding="utf-8")
    assert '<html lang="en">' in text and '"tk":"abc123"' in text
    assert not (out / "map_en.html").exists()  # --lang: one map only
    assert "abc123" not in (DEMO_PROJECT.read_text(encoding="utf-8"))


def test_missing_key_variable_named_by_the_project(tmp_path, monkeypatch):
    from geoplan.errors import InputError

    monkeypatch.delenv("GEOPLAN_TEST_NO_SUCH_KEY", raising=False)
    table = '[map]\nbasemap = "tianditu"\nbasemap_key_env = "GEOPLAN_TEST_NO_SUCH_KEY"\n'
    project = _demo_with_map(tmp_path, table)
    with pytest.raises(InputError, match="GEOPLAN_TEST_NO_SUCH_KEY"):
        run_project(project, tmp_path / "out")


def test_optional_parameters_default_as_the_functions_do():
    import dataclasses
    import inspect

    from geoplan.analysis.gaps import find_gaps
    from geoplan.workflows import project

    demo = load_project(project.DEMO_PROJECT)
    bare = dataclasses.replace(demo, facility_tables=({"path": demo.facilities["path"]},), gaps={})
    assert (bare.max_snap_m, bare.gap_cell_m, bare.gap_merge_contiguous) == (500.0, 500.0, False)
    assert bare.gap_cell_m == inspect.signature(find_gaps).parameters["cell_m"].default
    custom = dataclasses.replace(
        demo,
        facility_tables=({**demo.facilities, "max_snap_m": 80},),
        gaps={"cell_m": 250, "merge_contiguous": True},
    )
    assert custom.max_snap_m == 80.0
    assert (custom.gap_cell_m, custom.gap_merge_contiguous) == (250.0, True)


def test_a_run_with_a_boundary_snaps_the_demand_once(demo_project, tmp_path, monkeypatch):
    """The check stage snaps every demand point to the streets; the engine takes the snaps
    of the residents inside the study area from it instead of snapping them again, and
    every figure stays the same (issue 16)."""
    import geopandas as gpd
    from shapely.geometry import box

    from geoplan._paths import REPO_ROOT
    from geoplan.analysis import engine
    from geoplan.workflows.project import compute_project

    official = "boundaries/huangshi_tuanchengshan_official.geojson"
    area = gpd.read_file(REPO_ROOT / "data" / official).to_crs(4326)
    w, s, e, n = area.total_bounds
    west = area.geometry.union_all().intersection(box(w, s, w + 0.8 * (e - w), n))
    gpd.GeoDataFrame(geometry=[west], crs=4326).to_file(tmp_path / "west.geojson")
    path = demo_project("west.toml", {f"geoplan:{official}": str(tmp_path / "west.geojson")})
    monkeypatch.setattr(engine, "_MEMO_MIN_POINTS", 1)  # the demo has a few thousand points
    snapped: list[int] = []  # points per snap computed
    real = engine._snap_with

    def counting(index, x, y):
        snapped.append(len(x))
        return real(index, x, y)

    monkeypatch.setattr(engine, "_snap_with", counting)

    def run():
        engine._SNAP_MEMO.clear()
        snapped.clear()
        return compute_project(load_project(path)), sum(snapped)

    once, points_once = run()
    monkeypatch.setattr(engine, "remember_part", lambda *args: None)  # the old way
    twice, points_twice = run()
    residents = len(once.coverage.table)
    outside = once.summary["demand_outside_area"]["points"]
    assert residents > 1000 and outside > 50
    assert points_twice - points_once == residents  # the residents' snap was not redone
    pd.testing.assert_frame_equal(once.coverage.table, twice.coverage.table, check_exact=True)
    pd.testing.assert_frame_equal(once.gaps, twice.gaps, check_exact=True)
    assert json.dumps(once.summary, sort_keys=True, default=str) == json.dumps(
        twice.summary, sort_keys=True, default=str
    )
