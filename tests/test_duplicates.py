"""Duplicates never double-count: one record is used, the others are rejected naming it.

The defect of issue 11: a 卫健委 export with the county hospital on two rows (two 序号, same
name, type, place and beds) went through ``run`` and ``check`` without a word, and the beds,
doctors and nurses per 1,000 flipped from "not met" to "met".
"""

from __future__ import annotations

import json

import pandas as pd
import pytest

from geoplan._paths import shipped_path
from geoplan.cli import main
from geoplan.readers.facilities import read_facilities
from geoplan.workflows.plan_check import compute_checks
from geoplan.workflows.project import DEMO_PROJECT, compute_project, load_project, run_project

DEMO_CSV = (DEMO_PROJECT.parent / "../facilities/tuanchengshan_scenario.csv").resolve()
HOSPITAL = "黄石市下陆区人民医院（假设）"


def _export(tmp_path, *, second_beds: str = "600", first_beds: str = "600", name: str = "wjw.csv"):
    """The demo facilities as a 卫健委 export (序号, 机构名称 …) with the county hospital twice:
    rows 12 and 13, 3 m apart, same name, type, beds, doctors and nurses."""
    demo = pd.read_csv(DEMO_CSV, dtype=str, keep_default_na=False)
    rows = [
        [
            str(i + 1),
            r["名称"],
            r["类型"],
            r["经度"],
            r["纬度"],
            r["床位数"],
            r["执业(助理)医师数"],
            r["注册护士数"],
        ]
        for i, r in demo.iterrows()
    ]
    rows.append(["11", HOSPITAL, "综合医院", "115.028000", "30.198000", first_beds, "200", "300"])
    rows.append(["12", HOSPITAL, "综合医院", "115.028030", "30.198010", second_beds, "200", "300"])
    header = "序号,机构名称,机构类别,经度,纬度,实有床位,执业(助理)医师数,注册护士数\n"
    path = tmp_path / name
    path.write_text(header + "".join(",".join(r) + "\n" for r in rows), encoding="utf-8")
    return path


def test_the_export_reads_as_twelve_records(tmp_path):
    from geoplan.analysis.duplicates import find_duplicates

    table = read_facilities(_export(tmp_path))
    assert len(table.used) == 12  # two 序号: read_facilities alone cannot tell them apart
    found = find_duplicates(table.used)
    assert found[["position", "kept"]].values.tolist() == [[11, 10]]
    assert found["distance_m"].iloc[0] == pytest.approx(3.05, abs=0.1)


def test_run_counts_the_hospital_once_and_names_the_row_kept(tmp_path, demo_project):
    path = demo_project(replace={str(DEMO_CSV): str(_export(tmp_path))})
    out = tmp_path / "out"
    result = run_project(path, out)
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    assert summary["facilities"]["read"] == 12
    assert summary["facilities"]["used"] == 11
    assert summary["facilities"]["rejected"] == 1
    assert (result.facilities["name"] == HOSPITAL).sum() == 1
    rejects = pd.read_csv(out / "rejects.csv", encoding="utf-8-sig")
    (row,) = rejects.itertuples(index=False)
    assert (row.source_row, row.reason_code) == (13, "duplicate")
    assert "row 12" in row.message_en and "kept" in row.message_en
    assert "第 12 行" in row.message_zh and "保留" in row.message_zh
    assert "keep_duplicates = true" in row.message_en


def test_check_ratios_do_not_flip_to_met(tmp_path, demo_project, plan_indicators):
    path = demo_project(replace={str(DEMO_CSV): str(_export(tmp_path))})
    result = compute_checks(load_project(path), "leshan_shizhong")
    rows = result.checks.set_index("rule_id")
    population = result.summary["project"]["population_in_units"]
    for rule_id, column, per_facility, target in (
        ("beds_per_1000", "beds", 600, 9),
        ("doctors_per_1000", "doctors", 200, 3.5),
        ("nurses_per_1000", "nurses", 300, 4.5),
    ):
        demo = read_facilities(DEMO_CSV).used[column].sum()
        once = (demo + per_facility) / population * 1000
        assert rows.loc[rule_id, "value"] == pytest.approx(once, abs=1e-3), rule_id
        assert rows.loc[rule_id, "status"] == "not met", rule_id
        assert (demo + 2 * per_facility) / population * 1000 >= target  # twice would "meet" it


def test_keep_duplicates_is_explicit_and_still_said(tmp_path, demo_project, plan_indicators):
    path = demo_project(
        replace={
            str(DEMO_CSV): str(_export(tmp_path)),
            "max_snap_m = 500": "max_snap_m = 500\nkeep_duplicates = true",
        }
    )
    result = compute_project(load_project(path))
    assert len(result.facilities) == 12
    (warning,) = [w for w in result.summary["warnings"] if w["check"] == "duplicates_kept"]
    assert "keep_duplicates" in warning["message_en"] and "row 13" in warning["message_en"]
    rows = compute_checks(load_project(path), "leshan_shizhong").checks.set_index("rule_id")
    assert rows.loc["beds_per_1000", "status"] == "met"  # as asked


def test_the_more_complete_record_is_kept(tmp_path):
    from geoplan.analysis.duplicates import reject_duplicates

    table = read_facilities(_export(tmp_path, first_beds=""))
    deduplicated = reject_duplicates(table)
    assert deduplicated.read == len(deduplicated.used) + len(deduplicated.rejects)
    hospital = deduplicated.used[deduplicated.used["name"] == HOSPITAL]
    assert hospital["source_row"].tolist() == [13] and hospital["beds"].tolist() == [600]
    (message,) = deduplicated.rejects["message_en"].tolist()
    assert message.startswith("row 12 (name=") and "row 13 is kept" in message


def test_a_third_copy_and_another_type_of_the_same_name(tmp_path):
    path = _export(tmp_path)
    with path.open("a", encoding="utf-8") as f:
        f.write(f"13,{HOSPITAL},综合医院,115.028010,30.198000,600,200,300\n")
        f.write(f"14,{HOSPITAL},社区卫生服务站,115.028000,30.198000,,,\n")  # another type
        f.write(f"15,{HOSPITAL},综合医院,115.040000,30.198000,600,200,300\n")  # 1.1 km away
    from geoplan.analysis.duplicates import reject_duplicates

    table = reject_duplicates(read_facilities(path))
    assert table.rejects["source_row"].tolist() == [13, 14]
    assert (table.used["name"] == HOSPITAL).sum() == 3


def test_check_facilities_lists_the_duplicate_in_rejects(tmp_path, capsys):
    path = _export(tmp_path)
    assert main(["check-facilities", str(path), "--out", str(tmp_path / "qa")]) == 0
    out = capsys.readouterr().out
    assert "[error] duplicate" in out
    rejects = pd.read_csv(tmp_path / "qa" / "rejects.csv", encoding="utf-8-sig")
    assert rejects["reason_code"].tolist() == ["duplicate"]
    assert "--keep-duplicates" in rejects["message_en"].iloc[0]
    code = main(
        ["-q", "check-facilities", str(path), "--keep-duplicates", "--out", str(tmp_path / "qa2")]
    )
    assert code == 0
    qa = pd.read_csv(tmp_path / "qa2" / "qa.csv", encoding="utf-8-sig")
    assert "duplicate_name_nearby" in set(qa["check"])
    rejects = pd.read_csv(tmp_path / "qa2" / "rejects.csv", encoding="utf-8-sig")
    assert rejects.empty


def test_scenario_and_sites_use_the_deduplicated_run(tmp_path, demo_project):
    from geoplan.workflows.scenario import run_scenario
    from geoplan.workflows.sites import select_sites

    path = demo_project(replace={str(DEMO_CSV): str(_export(tmp_path))})
    run = compute_project(load_project(path))
    scenario = run_scenario(run, close=["2"])  # 序号 is the id
    assert scenario.summary["facilities"]["before"] == 11
    sites = select_sites(run, rule="medical_walk_15", grid_m=1000, p=1)
    medical = 7  # the demo's 6 medical facilities and the hospital once
    assert sites.summary["sites"]["existing_facilities"] == medical


def test_scenario_add_of_an_existing_facility_is_rejected(tmp_path, demo_project):
    from geoplan.workflows.scenario import run_scenario

    run = compute_project(load_project(demo_project()))
    add = tmp_path / "add.csv"
    add.write_text(
        "编号,名称,类型,经度,纬度\n"
        "NEW-1,团城山社区卫生服务中心（假设）,社区卫生服务中心,115.035710,30.201910\n"
        "NEW-2,新建社区卫生服务站（假设）,社区卫生服务站,115.005,30.2\n",
        encoding="utf-8",
    )
    result = run_scenario(run, add=add)
    assert result.summary["facilities"]["after"] == 11
    assert result.rejects["reason_code"].tolist() == ["duplicate"]
    assert "TCS-CHC-01" in result.rejects["message_en"].iloc[0]


def test_traveltimes_drops_duplicates_unless_kept(tmp_path, capsys):
    demand = tmp_path / "people.csv"
    demand.write_text("id,lon,lat,人口\nP1,115.0281,30.1981,100\nP2,115.0279,30.1979,50\n")
    args = [
        "traveltimes",
        "--network",
        str(shipped_path("osm/huangshi_tuanchengshan_all_2022.graphml.gz")),
        "--facilities",
        str(_export(tmp_path)),
        "--demand",
        str(demand),
    ]
    assert main(["-q", *args, "--out", str(tmp_path / "t.csv")]) == 0
    err = capsys.readouterr().err
    assert "duplicate" in err and "row 13" in err  # said, even with -q
    times = pd.read_csv(tmp_path / "t.csv", encoding="utf-8-sig")
    assert set(times["facility_id"].astype(str)) == {"11"}
    assert main(["-q", *args, "--keep-duplicates", "--out", str(tmp_path / "k.csv")]) == 0
    times = pd.read_csv(tmp_path / "k.csv", encoding="utf-8-sig")
    assert set(times["facility_id"].astype(str)) <= {"11", "12"}


def test_keep_duplicates_must_be_a_boolean(demo_project):
    from geoplan.errors import ConfigError

    path = demo_project(replace={"max_snap_m = 500": 'max_snap_m = 500\nkeep_duplicates = "yes"'})
    with pytest.raises(ConfigError, match="keep_duplicates: must be true or false"):
        load_project(path)
