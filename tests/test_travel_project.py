"""Terrain, several modes and sensitivity through a whole project run (the demo with a DEM,
a walk + e-bike rule and a [sensitivity] table): summary.json, the console, the report and the
command line's ``--dem``."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from geoplan.cli import main

# A synthetic DEM over the demo (团城山, lon 114.99–115.04, lat 30.18–30.23) in EPSG:4326: a
# plane rising 10 m per 0.001° of latitude (≈ 9 % northwards). No real DEM of 黄石 is in the
# shared data; the mechanism is checked on Andorra's SRTM tile in test_elevation.py.
WEST, NORTH, STEP = 114.90, 30.30, 0.001


def write_plane_dem(path):
    import rasterio
    from rasterio.transform import from_origin

    rows, cols = 200, 250
    lat = NORTH - (np.arange(rows) + 0.5) * STEP
    z = np.tile(((lat - 30.10) * 10_000)[:, None], (1, cols)).astype(np.float32)
    with rasterio.open(
        path, "w", driver="GTiff", height=rows, width=cols, count=1, dtype="float32",
        crs="EPSG:4326", transform=from_origin(WEST, NORTH, STEP, STEP),
    ) as ds:  # fmt: skip
        ds.write(z, 1)
    return path


@pytest.fixture(scope="module")
def hilly_run(tmp_path_factory):
    """The demo (with its walk + e-bike rule and its [sensitivity] table) on a sloped DEM, run
    by the CLI (console captured)."""
    import contextlib
    import io

    from geoplan.workflows.project import DEMO_PROJECT

    tmp = tmp_path_factory.mktemp("hilly")
    dem = write_plane_dem(tmp / "dem.tif")
    facilities = (DEMO_PROJECT.parent / "../facilities/tuanchengshan_scenario.csv").resolve()
    text = DEMO_PROJECT.read_text(encoding="utf-8")
    text = text.replace('"../facilities/tuanchengshan_scenario.csv"', f'"{facilities}"')
    text = text.replace(
        "walk_speed_m_per_min = 70\n", f'walk_speed_m_per_min = 70\ndem = "{dem}"\n', 1
    )
    project = tmp / "hilly.toml"
    assert 'modes = ["walk", "ebike"]' in text and "[sensitivity]" in text
    project.write_text(text, encoding="utf-8")
    out = tmp / "out"
    console = io.StringIO()
    with contextlib.redirect_stdout(console):
        assert main(["run", str(project), "--out", str(out)]) == 0
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    return out, summary, console.getvalue()


def test_terrain_changes_walking_and_is_reported(hilly_run, demo_dir):
    _, summary, console = hilly_run
    terrain = summary["network"]["terrain"]
    assert terrain["dem"] == "dem.tif" and terrain["dem_crs"] == "EPSG:4326"
    assert terrain["nodes_missing"] == 0 and terrain["grade"] == "end nodes"
    # the plane: 10 m per 0.001° of latitude, from 30.18 to 30.23 N
    assert 750 < terrain["elevation_m"]["min"] < terrain["elevation_m"]["max"] < 1400
    assert "地形 / terrain: walking follows Tobler's hiking function on dem.tif" in console
    flat_summary = json.loads((demo_dir / "summary.json").read_text(encoding="utf-8"))
    reference = {r["id"]: r for r in flat_summary["rules"]}
    walking = [rule for rule in summary["rules"] if rule["mode"] == "walk"]
    assert len(walking) == 2
    for rule in walking:  # (the e-bike rides flat and wins nearly everyone: not compared)
        flat = reference[rule["id"]]["share_covered"]
        assert rule["share_covered"] != pytest.approx(flat, abs=1e-6)


def test_the_mixed_rule_is_the_fastest_of_its_modes(hilly_run):
    out, summary, console = hilly_run
    rules = {r["id"]: r for r in summary["rules"]}
    mixed, walk = rules["medical_walk_ebike_15"], rules["medical_walk_15"]
    assert mixed["mode"] == "walk+ebike" and mixed["modes"] == ["walk", "ebike"]
    by_mode = mixed["population_covered_by_mode"]
    assert sum(by_mode.values()) == pytest.approx(mixed["population_covered"])
    assert by_mode["ebike"] > 0 and by_mode["walk"] > 0
    assert mixed["share_covered"] > walk["share_covered"]
    points = pd.read_csv(out / "coverage_points.csv", encoding="utf-8-sig")
    time = points["medical_walk_ebike_15_time_s"].to_numpy()
    walking = points["medical_walk_15_time_s"].to_numpy()
    assert ((time <= walking + 1e-6) | np.isnan(walking)).all()
    chosen = points["medical_walk_ebike_15_mode"]
    assert set(chosen.dropna()) == {"walk", "ebike"}
    assert "最快方式 / fastest mode: walk " in console


def test_sensitivity_bands_hold_the_main_run_and_reach_the_report(hilly_run):
    out, summary, console = hilly_run
    sensitivity = summary["sensitivity"]
    assert sensitivity["walk_speed_m_per_min"] == [60, 70, 80]
    assert sensitivity["speed_factor"] == [0.8, 1.0, 1.2]
    assert len(sensitivity["runs"]) == 9
    bands = {band["id"]: band for band in sensitivity["rules"]}
    for rule in summary["rules"]:
        band = bands[rule["id"]]
        share = {
            (run["walk_speed_m_per_min"], run["speed_factor"]): run["rules"][rule["id"]][
                "share_covered"
            ]
            for run in sensitivity["runs"]
        }
        # the run at the project's own settings is the main run; faster walking covers more
        assert share[70, 1.0] == pytest.approx(rule["share_covered"], abs=1e-12)
        assert share[60, 1.0] <= share[70, 1.0] <= share[80, 1.0]
        assert (band["share_min"], band["share_max"]) == (
            min(share.values()),
            max(share.values()),
        )
        assert band["share_min"] < band["share_max"]
        assert f"敏感性 / sensitivity: {band['share_min']:.1%}–{band['share_max']:.1%}" in console
        # walking rules do not hang on vehicle speeds; the walk-or-e-bike rule does
        if rule["mode"] == "walk":
            assert share[70, 0.8] == share[70, 1.0] == share[70, 1.2], rule["id"]
        else:
            assert share[70, 0.8] < share[70, 1.2], rule["id"]
    assert "(walk 60–80 m/min, speed factor 0.8–1.2)" in console
    from geoplan.rendering.report import write_reports

    write_reports(out, pdf=False)
    write_reports(out, lang="en", pdf=False)
    zh = (out / "report.html").read_text(encoding="utf-8")
    en = (out / "report_en.html").read_text(encoding="utf-8")
    band = bands["medical_walk_15"]
    text = f"{band['share_min']:.1%}–{band['share_max']:.1%}"
    assert "敏感性区间" in zh and text in zh and "步行或电动自行车" in zh
    assert "Sensitivity band" in en and text in en and "walk or e-bike (fastest)" in en


def test_cli_dem_is_not_read_as_demand_and_no_option_is_abbreviated(tmp_path, capsys):
    from geoplan._paths import REPO_ROOT, shipped_path

    demand = tmp_path / "居民点.csv"
    demand.write_text(
        "demand_id,lon,lat,人口\nH-1,115.0357,30.2019,10\nH-2,115.0100,30.2190,20\n",
        encoding="utf-8",
    )
    dem = write_plane_dem(tmp_path / "dem.tif")
    base = [
        "-q", "traveltimes",
        "--network", str(shipped_path("osm/huangshi_tuanchengshan_all_2022.graphml.gz")),
        "--facilities", str(REPO_ROOT / "data/facilities/tuanchengshan_scenario.csv"),
        "--demand", str(demand),
    ]  # fmt: skip
    flat, hilly = tmp_path / "flat.csv", tmp_path / "hilly.csv"
    assert main([*base, "--out", str(flat)]) == 0
    assert main([*base, "--dem", str(dem), "--out", str(hilly)]) == 0
    a = pd.read_csv(flat, encoding="utf-8-sig")["travel_time_s"].to_numpy()
    b = pd.read_csv(hilly, encoding="utf-8-sig")["travel_time_s"].to_numpy()
    assert (a > 0).all() and not np.allclose(a, b)
    # a prefix is no longer completed to a longer option (--dem was read as --demand)
    assert main([*base, "--out", str(flat), "--overw"]) == 2
    assert "unrecognized arguments: --overw" in capsys.readouterr().err
    assert main(["-q", "traveltimes", "--net", "x"]) == 2
    capsys.readouterr()


BY_TYPE_RULE = """
[[rules]]
id = "medical_by_type_15"
name_zh = "15分钟医疗圈（街道步行，乡镇步行或电动自行车）"
name_en = "15-minute medical circle (walk in subdistricts, walk or e-bike in townships)"
categories = ["medical"]
modes_by_unit_type = { "街道" = ["walk"], "乡镇" = ["walk", "ebike"] }
threshold_min = 15
"""


def typed_units(path):
    """The demo's boundary cut in two at its middle longitude: west 街道, east 乡镇."""
    import geopandas as gpd
    from shapely.geometry import box

    from geoplan._paths import REPO_ROOT

    area = gpd.read_file(REPO_ROOT / "data/boundaries/huangshi_tuanchengshan_official.geojson")
    area = area.to_crs(4326)
    w, s, e, n = area.total_bounds
    mid = (w + e) / 2
    shape = area.geometry.union_all()
    halves = [shape.intersection(box(w - 1, s - 1, mid, n + 1)),
              shape.intersection(box(mid, s - 1, e + 1, n + 1))]  # fmt: skip
    units = gpd.GeoDataFrame(
        {"name": ["西片", "东片"], "code": ["W", "E"], "类型": ["街道", "乡镇"]},
        geometry=halves,
        crs=4326,
    )
    units.to_file(path, driver="GeoJSON")
    return path


def test_modes_by_unit_type_in_a_project_equal_each_units_own_rule(demo_project, tmp_path):
    from geoplan.errors import ConfigError
    from geoplan.workflows.project import compute_project, load_project

    units = typed_units(tmp_path / "units.geojson")
    table = f'\n[units]\npath = "{units}"\ntype_column = "类型"\n'
    project = load_project(demo_project("typed.toml", append=table + BY_TYPE_RULE))
    points = compute_project(project).coverage.table
    kind = points["unit_type"].to_numpy(dtype=object)
    assert set(kind) == {"urban", "rural"}  # 街道 and 乡镇 read as the unit types
    by_type = points["medical_by_type_15_time_s"].to_numpy()
    walk = points["medical_walk_15_time_s"].to_numpy()
    mixed = points["medical_walk_ebike_15_time_s"].to_numpy()
    np.testing.assert_allclose(by_type[kind == "urban"], walk[kind == "urban"])
    np.testing.assert_allclose(by_type[kind == "rural"], mixed[kind == "rural"])
    assert (mixed[kind == "rural"] < walk[kind == "rural"]).any()
    # a misspelt type would apply to nobody: refused when the file is read
    with pytest.raises(ConfigError, match=r"'乡真' is not a unit type"):
        load_project(
            demo_project("typo.toml", append=table + BY_TYPE_RULE.replace('"乡镇" =', '"乡真" ='))
        )
    # a type of the units the rule names no modes for: refused, naming it
    with pytest.raises(ConfigError, match=r"names no modes for units of type 'rural'"):
        compute_project(
            load_project(
                demo_project(
                    "partial.toml",
                    append=table + BY_TYPE_RULE.replace(', "乡镇" = ["walk", "ebike"]', ""),
                )
            )
        )
    # without a type column the rule cannot be read for anyone: said when the file is loaded
    with pytest.raises(ConfigError, match="needs a \\[units\\] table with type_column"):
        load_project(demo_project("untyped.toml", append=BY_TYPE_RULE))


def test_streets_of_a_rule_by_unit_type_are_each_units_own_rules(demo_project, tmp_path):
    """The map's streets (:func:`geoplan.analysis.streets.street_minutes`) of a rule by unit
    type: on the streets of the 街道 half they are the walking rule's, on those of the 乡镇
    half the walk-or-e-bike rule's, minute for minute and cut for cut."""
    from geoplan.analysis.streets import street_minutes
    from geoplan.workflows.project import compute_project, load_project

    units = typed_units(tmp_path / "units.geojson")
    table = f'\n[units]\npath = "{units}"\ntype_column = "类型"\n'
    run = compute_project(load_project(demo_project("typed.toml", append=table + BY_TYPE_RULE)))
    streets = street_minutes(run.network, run.coverage)
    kind = run.coverage.unit_types.edges[streets["edge"].to_numpy()]
    by_type = streets["medical_by_type_15"].to_numpy()
    # each rule alone is cut where its own bands change: the typed rule's cuts, half by half
    alone = street_minutes(run.network, _only(run.coverage, ["medical_by_type_15"]))
    alone["kind"] = run.coverage.unit_types.edges[alone["edge"].to_numpy()]
    for unit_type, own in (("urban", "medical_walk_15"), ("rural", "medical_walk_ebike_15")):
        on = kind == unit_type
        assert on.sum() > 100
        np.testing.assert_array_equal(by_type[on], streets[own].to_numpy()[on])
        np.testing.assert_array_equal(
            streets["medical_by_type_15_usable"].to_numpy()[on], streets[f"{own}_usable"][on]
        )
        # ... the same as the unit type's own rule's cuts on its half
        mine = street_minutes(run.network, _only(run.coverage, [own]))
        mine["kind"] = run.coverage.unit_types.edges[mine["edge"].to_numpy()]
        a = alone[alone["kind"] == unit_type].reset_index(drop=True)
        b = mine[mine["kind"] == unit_type].reset_index(drop=True)
        for name in ("edge", "start_fraction", "end_fraction"):
            np.testing.assert_allclose(a[name], b[name], rtol=0, atol=1e-12)
        # (a piece's minutes are its first cut's middle: the band is what the map shows)
        assert band(a["medical_by_type_15"]) == band(b[own])
    # the e-bike is faster somewhere in the 乡镇 half: the halves are not all walking
    rural = kind == "rural"
    walk = streets["medical_walk_15"].to_numpy()
    assert (by_type[rural] < walk[rural]).any()


def band(minutes: pd.Series) -> list[int]:
    """The street band of each piece of a 15-minute rule (-1: no facility reached)."""
    from geoplan.analysis.streets import band_edges_min

    values = minutes.to_numpy(dtype=float)
    found = np.searchsorted(band_edges_min(15.0), values, side="left")
    return np.where(np.isnan(values), -1, found).tolist()


def _only(coverage, rule_ids):
    """``coverage`` with only the rules ``rule_ids`` (for drawing them alone)."""
    import dataclasses

    rules = tuple(r for r in coverage.rules if r.id in rule_ids)
    searches = {k: v for k, v in coverage.searches.items() if k in rule_ids}
    return dataclasses.replace(coverage, rules=rules, searches=searches)
