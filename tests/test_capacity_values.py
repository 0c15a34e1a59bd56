"""Capacity values checked at the door: finite and plausible, or read as missing and said.

The defect of issue 11: ``beds = 1e308`` gave ``inf`` per 1,000 residents and the status
"met". Decision (DESIGN.md): a capacity cell that is not a number, negative, infinite or
above :data:`geoplan.readers.facilities.CAPACITY_MAX` per facility is read as missing (NaN) and
listed as a capacity issue naming the row; the record itself is used (its position is
fine), so coverage does not change because of a typo in a beds cell.
"""

from __future__ import annotations

import json
import math
import warnings

import pandas as pd
import pytest

from geoplan.cli import main
from geoplan.errors import DataQualityWarning
from geoplan.readers.facilities import read_facilities
from geoplan.workflows.plan_check import compute_checks
from geoplan.workflows.project import DEMO_PROJECT, load_project, run_project

DEMO_CSV = (DEMO_PROJECT.parent / "../facilities/tuanchengshan_scenario.csv").resolve()


def _with_beds(tmp_path, beds: str, *, gps: str = "") -> object:
    """The demo facilities with the community health centre's beds (and a 全科医生数 column)."""
    lines = DEMO_CSV.read_text(encoding="utf-8").splitlines()
    header = lines[0] + ",全科医生数"
    rows = [line + "," for line in lines[1:]]
    cells = rows[0].split(",")
    cells[6] = beds
    cells[-1] = gps
    rows[0] = ",".join(cells)
    path = tmp_path / "facilities.csv"
    path.write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")
    return path


@pytest.mark.parametrize("beds", ["1e308", "20000", "1e400", "-5", "inf"])
def test_implausible_beds_are_read_as_missing_naming_the_row(tmp_path, beds):
    with pytest.warns(DataQualityWarning, match="row") as caught:
        table = read_facilities(_with_beds(tmp_path, beds))
    assert len(table.used) == 10  # the facility itself is used
    assert math.isnan(table.used.loc[0, "beds"])
    (issue,) = table.capacity_issues.itertuples(index=False)
    assert (issue.source_row, issue.field, issue.value) == (2, "beds", beds)
    big = beds in ("1e308", "20000")
    assert issue.problem == ("implausible" if big else "not_number")
    if big:
        assert any("10,000" in str(w.message) for w in caught)


def test_the_plausible_maximum_is_accepted():
    from geoplan.readers.facilities import CAPACITY_MAX

    assert CAPACITY_MAX == {"beds": 10_000, "doctors": 10_000, "nurses": 10_000}


def test_beds_1e308_no_longer_meet_the_target(tmp_path, demo_project, plan_indicators):
    path = demo_project(replace={str(DEMO_CSV): str(_with_beds(tmp_path, "1e308"))})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DataQualityWarning)
        rows = compute_checks(load_project(path), "leshan_shizhong").checks.set_index("rule_id")
    beds = rows.loc["beds_per_1000"]
    assert math.isfinite(beds["value"]) and beds["status"] == "not met"
    assert "no beds value" in beds["note"]


def test_run_warns_with_the_row(tmp_path, demo_project, capsys):
    path = demo_project(replace={str(DEMO_CSV): str(_with_beds(tmp_path, "1e308"))})
    out = tmp_path / "out"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DataQualityWarning)
        assert main(["-q", "run", str(path), "--out", str(out)]) == 0
    err = capsys.readouterr().err
    assert "1e308" in err and "row 2" in err
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    assert summary["facilities"]["capacity_issues"] == 1
    (warning,) = [w for w in summary["warnings"] if w["check"] == "capacity_implausible"]
    assert "row 2" in warning["message_en"] and "第 2 行" in warning["message_zh"]


def test_check_facilities_reports_implausible_capacity(tmp_path, capsys):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DataQualityWarning)
        path = _with_beds(tmp_path, "20000")
        code = main(["check-facilities", str(path), "--out", str(tmp_path / "qa")])
    assert code == 0
    out = capsys.readouterr().out
    assert "[warning] capacity_implausible" in out and "10,000" in out


def test_other_capacity_columns_are_checked_too(tmp_path, demo_project, plan_indicators):
    path = demo_project(replace={str(DEMO_CSV): str(_with_beds(tmp_path, "30", gps="1e308"))})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DataQualityWarning)
        rows = compute_checks(load_project(path), "qinzhou").checks.set_index("rule_id")
    gps = rows[rows.index.str.contains("general_practitioner|gp", regex=True)]
    assert len(gps) >= 1
    for _, row in gps.iterrows():
        assert row["status"] in ("not met", "no data")
        assert math.isnan(row["value"]) or math.isfinite(row["value"])
        assert "implausible" in row["note"] or row["status"] == "no data"


def test_capacity_values_in_run_outputs_are_finite(tmp_path, demo_project):
    path = demo_project(replace={str(DEMO_CSV): str(_with_beds(tmp_path, "1e308"))})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DataQualityWarning)
        result = run_project(path, tmp_path / "out")
    assert result.facilities["beds"].dropna().le(10_000).all()
    used = pd.read_csv(tmp_path / "out" / "facilities_used.csv", encoding="utf-8-sig")
    assert used["beds"].dropna().le(10_000).all()
