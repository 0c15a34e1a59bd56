"""Plan checks on the real 团城山 data: the demo as shipped, and an enriched copy.

The enriched copy adds hand-made facilities with service columns (中医馆, 中医药服务,
公共卫生医师数, 全科医生数, 发热门诊) and splits the real boundary into two "village" units,
so every kind of rule is computed; its expected values are derived from the inputs.
"""

from __future__ import annotations

import json
import math
from dataclasses import replace

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from geoplan._paths import shipped_path
from geoplan.analysis import engine
from geoplan.analysis.capacity import travel_times_by_id, two_step_fca
from geoplan.analysis.coverage import expand_categories
from geoplan.cli import main
from geoplan.errors import ConfigError
from geoplan.plans.packs import load_pack, pack_from_mapping
from geoplan.readers.demand import boundary_from_graphml
from geoplan.readers.facilities import read_facilities
from geoplan.readers.network import mode_edge_mask
from geoplan.taxonomy import GROUPS
from geoplan.workflows.plan_check import (
    ALL_UNITS,
    CHECK_COLUMNS,
    compare,
    compute_checks,
    find_column,
    find_columns,
    service_flags,
    truthy,
)
from geoplan.workflows.project import DEMO_PROJECT, compute_project, load_project

DRIVE_2024 = "osm/huangshi_tuanchengshan_drive_ghspop_2024.graphml.gz"
SPLIT_LON = 115.02

HEADER = (
    "编号,名称,类型,经度,纬度,床位数,执业(助理)医师数,注册护士数,"
    "中医馆,中医药服务,公共卫生医师数,全科医生数,发热门诊"
)
ROWS = """
E-CHC,东片社区卫生服务中心,社区卫生服务中心,115.035700,30.201900,30,12,15,是,,1,3,有
E-CHS,东片社区卫生服务站,社区卫生服务站,115.031550,30.195250,0,2,3,,有,0,1,
W-CHS1,西片社区卫生服务站一,社区卫生服务站,115.019760,30.186330,0,2,2,,否,2,1,
W-CHS2,西片社区卫生服务站二,社区卫生服务站,115.014840,30.191540,0,1,2,,,,0,
W-CLN,西片诊所,诊所,115.010970,30.208440,0,1,1,,,,,
E-TCM,东片中医诊所,中医诊所,115.026070,30.200660,0,2,1,,,,,
E-FIT,东片全民健身中心,全民健身中心,115.023340,30.193930,,,,,,,,
"""
FACILITIES = HEADER + ROWS


# ----------------------------------------------------------------------------- helpers


def test_truthy_and_columns():
    for yes in ("是", "有", "yes", "Y", "1", "true", "TRUE", "√", 2, 1.0, "３"):
        assert truthy(yes) is True, yes
    for no in ("否", "无", "no", "0", "false", 0, "×"):
        assert truthy(no) is False, no
    for unknown in ("", None, math.nan, "待定", "nan"):
        assert truthy(unknown) is None, unknown
    headers = ["编号", "是否设置中医馆", "公共卫生人员数", "中医药服务"]
    assert find_column(headers, ["中医馆", "tcm_hall"]) == "是否设置中医馆"
    assert find_column(headers, ["人员数"], exact=True) is None  # no count by containment
    assert find_columns(headers, ["中医馆", "中医药服务"]) == ["是否设置中医馆", "中医药服务"]
    frame = pd.DataFrame({"a": ["是", "否", "", "否"], "b": ["", "有", "", ""]})
    assert service_flags(frame, ["a", "b"]).tolist() == [True, True, None, False]
    assert compare(9.0, ">=", 9.0) and not compare(9.0, ">", 9.0)
    assert compare(94.9, "about", 100.0, tolerance=0.06) and not compare(94.9, "about", 100.0)
    with pytest.raises(ConfigError):
        compare(1.0, "==", 1.0)


# ----------------------------------------------------------------------------- the demo


@pytest.fixture(scope="module")
def demo_out(tmp_path_factory, plan_indicators):
    out = tmp_path_factory.mktemp("check") / "leshan"
    code = main(["-q", "check", str(DEMO_PROJECT), "--plan", "leshan_shizhong", "--out", str(out)])
    assert code == 0
    return out


def test_demo_check_writes_the_files(demo_out):
    pack = load_pack("leshan_shizhong")
    for name in ("checks.csv", "indicators.csv", "presence_gaps.csv", "summary.json"):
        assert (demo_out / name).exists(), name
    assert (demo_out / "checks.csv").read_bytes().startswith(b"\xef\xbb\xbf")  # BOM for Excel
    checks = pd.read_csv(demo_out / "checks.csv", encoding="utf-8-sig", dtype={"unit_code": str})
    assert tuple(checks.columns) == CHECK_COLUMNS
    # the demo has one unit (the 街道 boundary): one row per rule (a named-unit rule has one
    # per unit the plan names)
    named = {r.id: len(r.units) for r in pack.named_units}
    expected = [i for i in pack.rule_ids for _ in range(named.get(i, 1))]
    assert checks["rule_id"].tolist() == expected
    rows = checks.set_index("rule_id")
    summary = json.loads((demo_out / "summary.json").read_text(encoding="utf-8"))
    assert [c["rule_id"] for c in summary["checks"]] == list(pack.rule_ids)
    assert summary["area_differs_from_plan"] is True
    population = summary["project"]["population_in_units"]

    # the 15-minute circle is computed for the 街道 and judged against 100 %
    medical = rows.loc["medical_15"]
    assert medical["unit_name"] == "团城山街道"
    assert medical["status"] in ("met", "not met")
    assert medical["status"] == ("met" if medical["value"] >= 100 else "not met")
    assert medical["mode"] == "walk" and medical["threshold_min"] == 15
    assert medical["target"] == 100
    assert medical["source"].startswith("leshan_shizhong_2021-2025_draft.txt:44")
    run = compute_project(load_project(DEMO_PROJECT))
    by_unit = run.by_unit.set_index("unit_name")
    own = by_unit.loc["团城山街道", "medical_walk_15_share_covered"] * 100
    assert medical["value"] == pytest.approx(own, abs=1e-3)  # same circle as the demo's rule
    assert population == pytest.approx(by_unit.loc["团城山街道", "population"])

    # ratios from the facility file's 床位数 / 医师数 / 护士数
    table = read_facilities(
        DEMO_PROJECT.parent.parent / "facilities" / "tuanchengshan_scenario.csv"
    ).used
    health = table[
        table["category"].isin(GROUPS["medical"] + GROUPS["ems"] + GROUPS["public_health"])
    ]
    for rule_id, column, target in (
        ("beds_per_1000", "beds", 9),
        ("doctors_per_1000", "doctors", 3.5),
        ("nurses_per_1000", "nurses", 4.5),
    ):
        row = rows.loc[rule_id]
        expected = health[column].sum() / population * 1000
        assert row["value"] == pytest.approx(expected, abs=1e-4)
        assert row["target"] == target
        assert row["status"] == ("met" if expected >= target else "not met")
        needed = max(0.0, target * population / 1000 - health[column].sum())
        assert row["shortfall"] == pytest.approx(needed, abs=0.1)
        assert row["access_2sfca"] > 0
        # 2SFCA conserves supply: every facility has residents in reach, so the mean access
        # × residents is the whole supply (the rounding of the value to 1e-4 aside).
        assert row["access_2sfca"] * population / 1000 == pytest.approx(
            health[column].sum(), rel=1e-3
        )

    # what the inputs cannot support is said plainly
    for rule_id, words in (
        ("tcm_15", "中医馆"),
        ("tcm_hall_primary", "中医馆"),
        ("tcm_service_village", "中医药服务"),
        ("village_primary_care", "village"),
        ("psych_clinic_district", "county"),
        ("family_doctors_per_10000", "家庭医生数"),
    ):
        assert rows.loc[rule_id, "status"] == "not computable", rule_id
        assert words in rows.loc[rule_id, "note"], rule_id
    reasons = {c["rule_id"]: c["reason"] for c in summary["not_computable"]}
    assert "village or community (村/社区) polygons" in reasons["village_primary_care"]
    assert set(rows.index[rows["status"] == "not modelled"]) == {
        "community_health_service_coverage",
    }

    # one map layer per failing rule, and only those
    failing = {p.stem.removeprefix("failing_") for p in demo_out.glob("failing_*.geojson")}
    assert failing == set(rows.index[rows["status"] == "not met"])
    for rule_id in failing:
        layer = gpd.read_file(demo_out / f"failing_{rule_id}.geojson")
        assert len(layer) > 0 and layer.crs.to_epsg() == 4326


def test_demo_indicators(demo_out, plan_indicators):
    indicators = pd.read_csv(demo_out / "indicators.csv", encoding="utf-8-sig")
    table = pd.read_csv(plan_indicators, dtype=str)
    assert len(indicators) == table["plan_file"].str.contains("leshan").sum()
    by_name = indicators.set_index("indicator_zh")
    checks = pd.read_csv(demo_out / "checks.csv", encoding="utf-8-sig").set_index("rule_id")
    beds = by_name.loc["每千常住人口床位数"]
    assert beds["current"] == pytest.approx(checks.loc["beds_per_1000", "value"], abs=1e-3)
    assert beds["status"] == checks.loc["beds_per_1000", "status"]
    share = by_name.loc["居民15分钟到达医疗卫生机构的比例"]
    assert share["current"] == pytest.approx(checks.loc["medical_15", "value"], abs=1e-3)
    assert share["status"] in ("met", "not met")
    assert share["threshold"] == 100
    assert share["status"] == ("met" if share["current"] >= 100 else "not met")
    assert by_name.loc["中医15分钟可及圈", "status"] == "not computable from the inputs"
    assert "中医馆" in by_name.loc["中医15分钟可及圈", "missing"]
    assert by_name.loc["孕产妇死亡率", "status"] == "not computable from the inputs"
    assert set(indicators["current_area"]) == {"团城山街道"}


def test_check_refuses_to_overwrite(demo_out, capsys):
    args = ["check", str(DEMO_PROJECT), "--plan", "leshan_shizhong", "--out", str(demo_out)]
    assert main(["-q", *args]) == 1
    assert "--overwrite" in capsys.readouterr().err


def test_check_overwrite_replaces_exactly_the_earlier_checks_files(
    tmp_path, capsys, plan_indicators
):
    out = tmp_path / "check"
    args = ["-q", "check", str(DEMO_PROJECT), "--out", str(out)]
    assert main([*args, "--plan", "leshan_shizhong"]) == 0
    assert (out / "failing_medical_15.geojson").is_file()
    mine = out / "failing_my_notes.geojson"
    mine.write_text("{}", encoding="utf-8")
    assert main([*args, "--plan", "qinzhou", "--overwrite"]) == 0
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    assert "failing_medical_15.geojson" not in summary["failing_layers"]
    layers = {p.name for p in out.glob("failing_*.geojson")}
    assert layers == {*summary["failing_layers"], mine.name}  # the earlier layer is gone
    assert mine.read_text(encoding="utf-8") == "{}"  # a file geoplan did not write stays


def test_check_accepts_a_pack_path_and_reports_on_stdout(tmp_path, capsys, plan_indicators):
    pack = tmp_path / "mine.toml"
    source = load_pack("beihai").path
    pack.write_text(source.read_text(encoding="utf-8"), encoding="utf-8")
    out = tmp_path / "out"
    assert main(["check", str(DEMO_PROJECT), "--plan", str(pack), "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "primary_care_30" in text and "nurses_per_doctor" in text
    checks = pd.read_csv(out / "checks.csv", encoding="utf-8-sig").set_index("rule_id")
    assert checks.loc["primary_care_30", "status"] == "reported"  # no share in the plan
    assert checks.loc["primary_care_30", "threshold_min"] == 30


def test_unknown_pack_and_level(tmp_path, capsys):
    assert main(["check", str(DEMO_PROJECT), "--plan", "nowhere", "--out", str(tmp_path)]) == 1
    assert "bundled pack" in capsys.readouterr().err
    with pytest.raises(ConfigError, match="unit level"):
        compute_checks(DEMO_PROJECT, "pingluo", unit_level="province")


# ----------------------------------------------------------------------------- enriched


@pytest.fixture(scope="module")
def enriched(tmp_path_factory, plan_indicators):
    folder = tmp_path_factory.mktemp("enriched")
    (folder / "facilities.csv").write_text(FACILITIES, encoding="utf-8")
    boundary = boundary_from_graphml(shipped_path(DRIVE_2024), name="团城山").to_crs(4326)
    area = boundary.geometry.union_all()
    west = shapely.box(100, 0, SPLIT_LON, 60).intersection(area)
    east = shapely.box(SPLIT_LON, 0, 130, 60).intersection(area)
    units = gpd.GeoDataFrame(
        {"name": ["西片", "东片"], "code": ["W", "E"]}, geometry=[west, east], crs=4326
    )
    units.to_file(folder / "villages.geojson", driver="GeoJSON")
    project = DEMO_PROJECT.read_text(encoding="utf-8")
    project = project.replace(
        'path = "../facilities/tuanchengshan_scenario.csv"', 'path = "facilities.csv"'
    ).replace(
        "[gaps]",
        '[units]\npath = "villages.geojson"\nname_column = "name"\ncode_column = "code"\n'
        'level = "village"\n\n[gaps]',
    )
    path = folder / "project.toml"
    path.write_text(project, encoding="utf-8")
    return load_project(path)


@pytest.fixture(scope="module")
def leshan(enriched):
    return compute_checks(enriched, "leshan_shizhong")


def _rows(result, rule_id):
    rows = result.checks[result.checks["rule_id"] == rule_id]
    return rows.set_index("unit_name")


def test_enriched_facility_presence(leshan):
    hall = _rows(leshan, "tcm_hall_primary")
    assert hall.loc["东片", "status"] == "met" and hall.loc["东片", "value"] == 100
    assert hall.loc["西片", "status"] == "not applicable"
    assert hall.loc[ALL_UNITS, "status"] == "met"
    village = _rows(leshan, "tcm_service_village")
    assert village.loc["东片", "status"] == "met"
    assert village.loc["西片", "status"] == "not met"
    assert village.loc["西片", ("value", "shortfall")].tolist() == [0.0, 2.0]
    # yes (E-CHS), no (W-CHS1), blank (W-CHS2): the share is over the two with a value
    assert village.loc[ALL_UNITS, "value"] == 50
    assert village.loc[ALL_UNITS, "status"] == "not met"  # a "no" decides it
    assert "blank cells are unknown, not no" in village.loc[ALL_UNITS, "note"]
    gaps = leshan.gaps[leshan.gaps["rule_id"] == "tcm_service_village"].set_index("facility_id")
    assert set(gaps.index) == {"W-CHS1", "W-CHS2"}
    assert gaps.loc["W-CHS1", "reason"].endswith("no")
    assert "blank" in gaps.loc["W-CHS2", "reason"]
    assert set(leshan.failing["tcm_service_village"]["facility_id"]) == {"W-CHS1", "W-CHS2"}
    physician = _rows(leshan, "public_health_physician")  # counts: 1, 0 (east); 2, blank (west)
    assert physician.loc["东片", ("value", "status")].tolist() == [50, "not met"]
    # issue 14: a blank cell counted as "no" (west: 50 %, not met); it is unknown
    assert physician.loc["西片", ("value", "status")].tolist() == [100, "incomplete data"]
    assert physician.loc[ALL_UNITS, "status"] == "not met"
    assert (_rows(leshan, "fever_clinic_central")["status"] == "not applicable").all()
    assert _rows(leshan, "fever_sentinel_primary").loc["东片", "status"] == "met"


def test_enriched_unit_presence_and_levels(leshan, enriched):
    villages = _rows(leshan, "village_primary_care")
    assert villages.loc["东片", "value"] == 2 and villages.loc["西片", "value"] == 2
    assert (villages["status"] == "met").all()
    assert villages.loc[ALL_UNITS, ("value", "target")].tolist() == [2, 2]
    psych = _rows(leshan, "psych_clinic_district")
    assert psych["status"].tolist() == ["not computable"]
    assert "village" in psych["note"].iloc[0]  # the units are villages, the rule wants a county
    assert leshan.summary["project"]["unit_level"] == "village"
    # declared otherwise, the village rule is the one that cannot be computed
    county = compute_checks(enriched, "leshan_shizhong", unit_level="county")
    assert _rows(county, "village_primary_care")["status"].tolist() == ["not computable"]
    assert "精神心理门诊" in _rows(county, "psych_clinic_district")["note"].iloc[0]


def test_enriched_circles(leshan, enriched):
    medical = _rows(leshan, "medical_15")
    tcm = _rows(leshan, "tcm_15")
    assert set(medical.index) == {"西片", "东片", ALL_UNITS}
    # TCM: the TCM clinic, the centre with a 中医馆 and the station offering TCM — a subset
    assert (tcm["status"] == "reported").all()
    assert 0 < tcm.loc[ALL_UNITS, "value"] <= medical.loc[ALL_UNITS, "value"] + 1e-9
    assert "not counted" in tcm.loc[ALL_UNITS, "note"]  # W-CHS2 has no value
    run = compute_project(replace(enriched, rules=(leshan.pack.circles[0],)))
    by_unit = run.by_unit.set_index("unit_name")
    for unit in ("西片", "东片"):
        share = by_unit.loc[unit, "medical_15_share_covered"] * 100
        assert medical.loc[unit, "value"] == pytest.approx(share, abs=1e-3)
        pop = by_unit.loc[unit, "population"]
        covered = by_unit.loc[unit, "medical_15_population_covered"]
        if medical.loc[unit, "status"] == "not met":
            assert medical.loc[unit, "shortfall"] == pytest.approx(pop - covered, abs=0.1)


def test_enriched_ratios(leshan):
    assert leshan.summary["project"]["units"] == 2
    run_units = leshan.run.by_unit.set_index("unit_name")["population"]
    # beds 30 / 0, doctors 16 / 4, nurses 19 / 5 (east / west; the fitness centre has none)
    for rule_id, east, west in (
        ("beds_per_1000", 30, 0),
        ("doctors_per_1000", 16, 4),
        ("nurses_per_1000", 19, 5),
    ):
        rows = _rows(leshan, rule_id)
        assert rows.loc["东片", "value"] == pytest.approx(east / run_units["东片"] * 1000, 1e-3)
        assert rows.loc["西片", "value"] == pytest.approx(west / run_units["西片"] * 1000, 1e-3)
        total = run_units["东片"] + run_units["西片"]
        assert rows.loc[ALL_UNITS, "value"] == pytest.approx((east + west) / total * 1000, 1e-3)
        # issue 14: the district's per-1,000 targets were judged per 社区 (every unit without
        # a hospital failed); they are judged for the project's area, the units are shown
        assert rows.loc[ALL_UNITS, "status"] == "not met"
        assert (rows.loc[["东片", "西片"], "status"] == "reported").all()
        assert "not judged" in rows.loc["西片", "note"]
        assert np.isfinite(rows["access_2sfca"]).all()
    failing = leshan.failing["beds_per_1000"]
    assert failing["unit_name"].tolist() == [ALL_UNITS]  # the area, not each 社区
    indicators = leshan.indicators.set_index("indicator_zh")
    assert indicators.loc["每千常住人口床位数", "current"] == pytest.approx(
        _rows(leshan, "beds_per_1000").loc[ALL_UNITS, "value"], abs=1e-3
    )


def test_enriched_other_packs(enriched):
    qinzhou = compute_checks(enriched, "qinzhou")
    gps = _rows(qinzhou, "gps_per_10000")  # 全科医生数: east 3 + 1, west 1 + 0
    run_units = qinzhou.run.by_unit.set_index("unit_name")["population"]
    assert gps.loc["东片", "value"] == pytest.approx(4 / run_units["东片"] * 10_000, 1e-3)
    assert gps.loc["西片", "value"] == pytest.approx(1 / run_units["西片"] * 10_000, 1e-3)
    # issue 14: the sampling circle's category did not exist; now it is a circle like any
    sampling = _rows(qinzhou, "sampling_walk_15")
    assert (sampling["status"] == "reported").all() and (sampling["value"] == 0).all()
    assert "no facility of these categories" in sampling.loc[ALL_UNITS, "note"]
    assert (_rows(qinzhou, "fitness_15")["status"] == "reported").all()
    assert (_rows(qinzhou, "village_primary_care")["status"] == "met").all()
    assert _rows(qinzhou, "pharmacists_per_1000")["status"].tolist() == ["not computable"]

    beihai = compute_checks(enriched, "beihai")
    ratio = _rows(beihai, "nurses_per_doctor")  # 医护比: east 19 / 16, west 5 / 4
    assert ratio.loc["东片", "value"] == pytest.approx(19 / 16)
    assert ratio.loc["西片", "value"] == pytest.approx(5 / 4)
    assert ratio.loc[ALL_UNITS, "value"] == pytest.approx(24 / 20)
    assert ratio.loc[ALL_UNITS, "status"] == "not met"  # below 1 : 1.37, for the city
    assert (ratio.loc[["东片", "西片"], "status"] == "reported").all()
    beds = _rows(beihai, "nurses_per_bed_hospitals")  # no hospital in the area
    assert (beds["status"] == "no data").all()
    primary = _rows(beihai, "primary_beds_per_1000")
    assert primary.loc["东片", "value"] == pytest.approx(30 / run_units["东片"] * 1000, 1e-3)
    county = _rows(beihai, "tcm_hospital_per_county")
    assert county["status"].tolist() == ["not computable"]

    pingluo = compute_checks(enriched, "pingluo")  # no circles at all
    assert not (pingluo.checks["rule_type"] == "circle").any()
    assert _rows(pingluo, "public_health_physician").loc["东片", "status"] == "not met"
    assert _rows(pingluo, "beds_per_1000").loc[ALL_UNITS, "status"] == "not met"

    xiangqiao = compute_checks(enriched, "xiangqiao")
    fitness = _rows(xiangqiao, "fitness_15")
    # issue 14: X L333 "努力构建全区 15 分钟健身圈" sets no share; checks.csv said "not met"
    # while indicators.csv said "reported" — both say reported now
    assert (fitness["status"] == "reported").all() and fitness["target"].isna().all()
    tracked = xiangqiao.indicators.set_index("indicator_zh").loc["15分钟健身圈"]
    assert tracked["status"] == "reported"
    assert tracked["current"] == pytest.approx(fitness.loc[ALL_UNITS, "value"], abs=1e-3)
    assert _rows(xiangqiao, "sports_area_per_capita")["status"].tolist() == ["not computable"]


# Hospitals with a grade and both rooms P L485 asks for, and central township hospitals with
# a fever clinic and an isolation ward (P L567–569, L649); beside the enriched facilities.
GRADED = """
H-2A,东片二级医院,综合医院,115.036000,30.202200,,,,,,,,有,二级甲等,有,
H-2B,西片二级中医院,中医医院,115.011270,30.208740,,,,,,,,有,二级,无,
H-3,东片三级医院,综合医院,115.026370,30.200960,,,,,,,,,三级甲等,,
H-X,东片专科医院,专科医院,115.031850,30.195550,,,,,,,,是,,是,
C-1,西片中心卫生院,中心卫生院,115.020060,30.186630,,,,,,,,有,,,有
C-2,西片第二中心卫生院,中心卫生院,115.015140,30.191840,,,,,,,,有,,,
"""


@pytest.fixture(scope="module")
def graded(enriched, tmp_path_factory):
    """The enriched project with :data:`GRADED` and its boundary declared a county."""
    folder = tmp_path_factory.mktemp("graded")
    header = HEADER + ",医院等级,留观室,隔离医学观察病区"
    rows = [r + ",,," for r in ROWS.strip().splitlines()] + GRADED.strip().splitlines()
    (folder / "facilities.csv").write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")
    source = enriched.path.parent
    (folder / "villages.geojson").write_bytes((source / "villages.geojson").read_bytes())
    text = enriched.path.read_text(encoding="utf-8")
    assert "[boundary]\n" in text
    text = text.replace("[boundary]\n", '[boundary]\nlevel = "county"\n')
    (folder / "project.toml").write_text(text, encoding="utf-8")
    return load_project(folder / "project.toml")


def test_grade_ii_hospitals_need_both_rooms(graded):
    """P L485 "二级医院要在医院独立区域规范设置发热门诊和留观室": the rule checked every
    hospital and only 发热门诊 (old: H-2B, without 留观室, passed; H-3, grade III, failed)."""
    result = compute_checks(graded, "pingluo")
    fever = _rows(result, "fever_clinic_hospitals")
    assert fever.loc[ALL_UNITS, ("value", "status")].tolist() == [50, "not met"]
    assert "1 facilities of the categories have no value" in fever.loc[ALL_UNITS, "note"]
    assert "reading hospital_grade = grade_ii" in fever.loc[ALL_UNITS, "note"]
    gaps = result.gaps[result.gaps["rule_id"] == "fever_clinic_hospitals"]
    assert gaps["facility_id"].tolist() == ["H-2B"]  # H-3 is grade III, H-X has no grade
    assert "留观室" in gaps["reason"].iloc[0]
    every = compute_checks(graded, "pingluo", assume={"hospital_grade": "every_hospital"})
    fever = _rows(every, "fever_clinic_hospitals")
    # H-2A and H-X yes, H-2B no, H-3 blank: 2 of the 3 with a value
    assert fever.loc[ALL_UNITS, "value"] == pytest.approx(200 / 3)
    assert every.summary["pack"]["assumptions"][0]["chosen"] == "every_hospital"


def test_county_counts_over_the_whole_area(graded, enriched):
    """P L567–569 至少有1所 / L649 2-3个 中心卫生院 with a fever clinic and an isolation ward:
    counted over the project's area when its boundary is declared a county."""
    result = compute_checks(graded, "pingluo")
    one = _rows(result, "fever_isolation_central_1")
    assert one.index.tolist() == [ALL_UNITS]
    assert one.loc[ALL_UNITS, ("value", "target", "status")].tolist() == [1, 1, "met"]
    two = _rows(result, "fever_isolation_central_2_3")  # C-2's ward is blank: maybe
    assert two.loc[ALL_UNITS, ("value", "target", "status")].tolist() == [
        1,
        2,
        "incomplete data",
    ]
    assert _rows(result, "recommended_standard_township")["status"].tolist() == ["not computable"]
    tracked = result.indicators.set_index("indicator_zh")
    assert tracked.loc["开设发热门诊、隔离医学病区的中心卫生院", "status"] == "incomplete data"
    # no declared county: say how to get one
    plain = _rows(compute_checks(enriched, "pingluo"), "fever_isolation_central_1")
    assert plain["status"].tolist() == ["not computable"]
    assert '[boundary] level = "county"' in plain["note"].iloc[0]


def test_check_cli_takes_assumptions(tmp_path, capsys, plan_indicators):
    out = tmp_path / "check"
    args = ["check", str(DEMO_PROJECT), "--plan", "qinzhou", "--out", str(out)]
    assert main([*args, "--assume", "fitness_venues=all"]) == 0
    text = capsys.readouterr().out
    assert "reading: fitness_venues = all (default public" in text
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    readings = {a["id"]: a["chosen"] for a in summary["pack"]["assumptions"]}
    assert readings == {"fitness_venues": "all", "village_reach": "in_village"}
    assert main([*args, "--overwrite", "--assume", "fitness_venues"]) == 1
    assert "ID=OPTION" in capsys.readouterr().err
    assert main([*args, "--overwrite", "--assume", "fitness_venue=all"]) == 1
    assert "unknown assumption 'fitness_venue'" in capsys.readouterr().err


def test_enriched_access_2sfca_equals_2sfca_of_the_ratios_own_facilities(leshan, enriched):
    """The supplement's shared travel-time matrix gives what a matrix of only the ratio's
    facilities (health facilities reporting doctors) gives, per unit."""
    run = leshan.run
    network, points, used = run.network, run.coverage.table, run.facilities
    walk = enriched.walk_speed_m_per_min
    health = expand_categories(("medical", "ems", "public_health"))
    supply = used[used["category"].isin(health) & used["doctors"].notna()]
    assert 0 < len(supply) < len(used)  # the fitness centre is left out
    forward_s, backward_s = network.edge_times_s("walk", walk_speed_m_per_min=walk)
    usable = mode_edge_mask(forward_s, backward_s)
    xy = supply.geometry.to_crs(network.crs)
    matrix = engine.travel_time_matrix(
        network,
        forward_s,
        backward_s,
        engine.snap_points(network, xy.x.to_numpy(), xy.y.to_numpy(), usable=usable),
        engine.snap_points(network, points["x"].to_numpy(), points["y"].to_numpy(), usable=usable),
        cutoff_s=15 * 60.0,  # the pack's first circle: 15 minutes' walk
        access_speed_m_per_min=walk,
    )
    ids = supply["facility_id"].to_numpy()
    demand = pd.Series(points["population"].to_numpy(), index=points["demand_id"].to_numpy())
    doctors = pd.Series(supply["doctors"].to_numpy(), index=ids)
    access = two_step_fca(
        travel_times_by_id(matrix, demand.index, ids), doctors, demand, cutoff_s=900.0
    ).to_numpy()
    rows = _rows(leshan, "doctors_per_1000")
    for unit in ("东片", "西片"):
        inside = (points["unit_name"] == unit).to_numpy()
        expected = np.average(access[inside], weights=demand.to_numpy()[inside]) * 1000
        assert expected > 0
        assert rows.loc[unit, "access_2sfca"] == pytest.approx(expected, abs=1e-4)
    population = leshan.summary["project"]["population_in_units"]
    assert rows.loc[ALL_UNITS, "access_2sfca"] * population / 1000 == pytest.approx(
        doctors.sum(), rel=1e-3
    )


def test_ratios_per_million(enriched):
    """``per`` of a million (the column label of capacity_ratios is 'per_1000000')."""
    source = {"file": "x.txt", "line": 1, "quote": "q"}
    pack = pack_from_mapping(
        {
            "pack": {"id": "million"},
            "ratios": [
                {
                    "id": "beds_per_million",
                    "numerator": "beds",
                    "target": 1000,
                    "per": 1_000_000,
                    "kind": "预期性",
                    "source": source,
                },
                {
                    "id": "nurses_per_doctor_million",
                    "numerator": "nurses",
                    "denominator": "doctors",
                    "target": 1,
                    "per": 1_000_000,
                    "kind": "预期性",
                    "source": source,
                },
            ],
        }
    )
    result = compute_checks(enriched, pack)
    run_units = result.run.by_unit.set_index("unit_name")["population"]
    beds = _rows(result, "beds_per_million")
    assert beds.loc["东片", "value"] == pytest.approx(30 / run_units["东片"] * 1e6, 1e-6)
    assert beds.loc["西片", "value"] == 0
    assert beds.loc["东片", "value_unit"] == "per 1,000,000 residents"
    nurses = _rows(result, "nurses_per_doctor_million")  # east 19 / 16, west 5 / 4
    assert nurses.loc["东片", "value"] == pytest.approx(19 / 16 * 1e6)
    assert nurses.loc[ALL_UNITS, "value"] == pytest.approx(24 / 20 * 1e6)
    assert (nurses["status"] == "met").all()
