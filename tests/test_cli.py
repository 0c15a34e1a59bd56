"""The command line end to end: the demo's outputs, exit codes and one-line errors."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pandas as pd
import pytest

from geoplan.cli import main
from geoplan.readers.network import DEFAULT_WALK_SPEED_M_PER_MIN
from geoplan.workflows.project import OUTPUT_FILES, STAGES


@pytest.fixture(scope="module")
def demo_out(tmp_path_factory):
    out = tmp_path_factory.mktemp("demo")
    assert main(["-q", "demo", "--out", str(out)]) == 0
    return out


def test_demo_writes_every_output(demo_out):
    for name in OUTPUT_FILES:
        assert (demo_out / name).stat().st_size > 0, name


def test_demo_summary_schema_and_numbers(demo_out):
    summary = json.loads((demo_out / "summary.json").read_text(encoding="utf-8"))
    assert summary["area"] == "团城山街道"
    # GHS-POP cells on the 2024 street segments, each cell counted once
    assert summary["population_total"] == pytest.approx(108691.2864538, abs=1e-3)
    fac = summary["facilities"]
    assert fac["read"] == fac["used"] + fac["rejected"] == 10
    assert summary["facilities_hypothetical"] is True
    ids = [r["id"] for r in summary["rules"]]
    assert ids == ["medical_walk_15", "fitness_walk_15", "medical_walk_ebike_15"]
    for rule in summary["rules"]:
        assert set(rule) >= {
            "id",
            "name_zh",
            "name_en",
            "mode",
            "threshold_min",
            "population_covered",
            "share_covered",
            "target_share",
            "met",
        }
        assert rule["share_covered"] == pytest.approx(
            rule["population_covered"] / summary["population_total"]
        )
        assert 0 < rule["share_covered"] < 1
        assert rule["met"] is False  # target 100%: the scenario leaves people uncovered
    # the rural-style rule: the faster of walking and e-bike covers more than walking alone
    walk, mixed = summary["rules"][0], summary["rules"][2]
    assert mixed["share_covered"] > walk["share_covered"]
    assert sum(mixed["population_covered_by_mode"].values()) == pytest.approx(
        mixed["population_covered"]
    )
    # [sensitivity]: 3 walking speeds × 3 speed factors, each band around the main share
    sensitivity = summary["sensitivity"]
    assert len(sensitivity["runs"]) == 9
    for rule, band in zip(summary["rules"], sensitivity["rules"], strict=True):
        assert band["id"] == rule["id"]
        assert band["share_min"] < rule["share_covered"] < band["share_max"]


def test_demo_tables_agree(demo_out):
    summary = json.loads((demo_out / "summary.json").read_text(encoding="utf-8"))
    points = pd.read_csv(demo_out / "coverage_points.csv", encoding="utf-8-sig")
    by_unit = pd.read_csv(demo_out / "coverage_by_unit.csv", encoding="utf-8-sig")
    gaps = pd.read_csv(demo_out / "gaps.csv", encoding="utf-8-sig")
    assert points["population"].sum() == pytest.approx(summary["population_total"], abs=1e-6)
    assert by_unit["population"].sum() == pytest.approx(summary["population_total"], abs=1e-6)
    for rule in summary["rules"]:
        rid = rule["id"]
        covered = points.loc[points[f"{rid}_covered"], "population"].sum()
        assert covered == pytest.approx(rule["population_covered"])
        # inclusive threshold, decided per point from its own travel time
        assert (points[f"{rid}_covered"] == (points[f"{rid}_time_s"] <= 15 * 60)).all()
        uncovered = summary["population_total"] - rule["population_covered"]
        rule_gaps = gaps[gaps["rule_id"] == rid]
        assert rule_gaps["population"].sum() == pytest.approx(uncovered, abs=1e-6)
        assert list(rule_gaps["rank"]) == list(range(1, len(rule_gaps) + 1))
        assert rule_gaps["population"].is_monotonic_decreasing


def test_csv_outputs_have_a_bom_for_excel(demo_out):
    assert (demo_out / "gaps.csv").read_bytes().startswith(b"\xef\xbb\xbf")


def test_run_record_has_hashes_versions_and_timings(demo_out):
    record = json.loads((demo_out / "run.json").read_text(encoding="utf-8"))
    assert all(len(v["sha256"]) == 64 for v in record["inputs"].values())
    assert set(record["inputs"]) >= {"network", "demand", "facilities", "boundary"}
    for entry in record["inputs"].values():  # the SHA-256 of the file's bytes
        assert entry["sha256"] == hashlib.sha256(Path(entry["path"]).read_bytes()).hexdigest()
    assert record["versions"]["scipy"]
    assert record["stage_timings_s"]["snap+engine"] >= 0
    # the demo's [sensitivity] is a stage of its own, after the gaps
    at = STAGES.index("gaps") + 1
    assert list(record["stage_timings_s"]) == [*STAGES[:at], "sensitivity", *STAGES[at:]]
    # the demo's [facilities] max_snap_m and [gaps] table, as the run used them
    parameters = record["parameters"]
    assert parameters["facilities_max_snap_m"] == 500.0
    assert parameters["gap_cell_m"] == 500.0 and parameters["gap_merge_contiguous"] is False
    assert parameters["walk_speed_m_per_min"] == 70.0
    assert parameters["sensitivity"] == {
        "walk_speed_m_per_min": [60, 70, 80],
        "speed_factor": [0.8, 1.0, 1.2],
    }
    assert parameters["dem"] is None and parameters["speeds"] == {}


def test_refuses_to_overwrite(demo_out, capsys):
    assert main(["demo", "--out", str(demo_out)]) == 1
    err = capsys.readouterr().err
    assert err.startswith("geoplan: error: ")
    assert "--overwrite" in err
    assert err.count("\n") == 1


def test_missing_project_file_is_one_line(tmp_path, capsys):
    assert main(["run", str(tmp_path / "nope.toml"), "--out", str(tmp_path / "o")]) == 1
    err = capsys.readouterr().err
    assert err == f"geoplan: error: project file {tmp_path / 'nope.toml'} does not exist\n"


def test_bad_project_names_the_key(tmp_path, capsys):
    bad = tmp_path / "p.toml"
    bad.write_text(
        '[project]\narea = "x"\n[network]\npath = "n"\n[demand]\npath = "d"\n'
        '[facilities]\npath = "f"\n[[rules]]\nid = "r"\ncategories = ["medical"]\n'
        'mode = "swim"\nthreshold_min = 15\n',
        encoding="utf-8",
    )
    assert main(["run", str(bad), "--out", str(tmp_path / "o")]) == 1
    assert capsys.readouterr().err == (
        'geoplan: error: p.toml: [[rules]] #1 mode: must be one of "walk", "bike", "ebike", '
        '"motorcycle", "drive", '
        'got the text "swim" / mode（出行方式）的类型或取值范围不对\n'
    )


def test_usage_error_exits_2(capsys):
    assert main(["run"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("usage: geoplan run") and "required: project" in err


def test_traveltimes_command_keeps_the_inputs_ids(tmp_path, capsys):
    from geoplan._paths import REPO_ROOT, shipped_path

    demand = tmp_path / "居民点.csv"
    demand.write_text(
        "demand_id,lon,lat,人口\nH-1,115.0357,30.2019,10\nH-2,115.0100,30.2190,20\n",
        encoding="utf-8",
    )
    out = tmp_path / "times.csv"
    args = [
        "traveltimes",
        "--network", str(shipped_path("osm/huangshi_tuanchengshan_all_2022.graphml.gz")),
        "--facilities", str(REPO_ROOT / "data/facilities/tuanchengshan_scenario.csv"),
        "--demand", str(demand),
        "--mode", "walk",
        "--out", str(out),
    ]  # fmt: skip
    assert main(args) == 0
    table = pd.read_csv(out, encoding="utf-8-sig")
    assert list(table.columns) == [
        "demand_id", "facility_id", "travel_time_s", "demand_snap_m", "facility_snap_m",
    ]  # fmt: skip
    assert list(table["demand_id"]) == ["H-1", "H-2"]
    # H-1 stands at the community health centre, H-2 beside the 大泉路 court
    assert list(table["facility_id"]) == ["TCS-CHC-01", "TCS-FIT-03"]
    assert table["travel_time_s"].iloc[0] < 60
    assert main(args) == 1  # exists: refuses without --overwrite
    assert "--overwrite" in capsys.readouterr().err
    # the default walking speed is the engine's: half of it doubles every time
    assert main([*args, "--overwrite", "--walk-speed", str(DEFAULT_WALK_SPEED_M_PER_MIN / 2)]) == 0
    slow = pd.read_csv(out, encoding="utf-8-sig")
    assert slow["travel_time_s"].to_numpy() == pytest.approx(2 * table["travel_time_s"].to_numpy())


def test_every_command_is_one_entry_of_the_table(capsys):
    """The CLI is a command table: each command registers its parser and its handler."""
    from geoplan import cli

    assert main(["--help"]) == 0
    text = capsys.readouterr().out
    for name, command in cli._COMMANDS.items():
        assert name in text
        assert main([name, "--help"]) == 0, name
        assert command.help
        assert callable(command.handle) and callable(command.arguments)
    assert "catchments" in cli._COMMANDS and "sites" in cli._COMMANDS


def test_help_shows_the_defaults_of_the_modules_that_own_them(monkeypatch, capsys):
    """``serve`` and ``fetch`` take their defaults from the app's server module and the fetch
    workflow (changed there, the command line follows), and ``serve --help`` loads no Flask."""
    import sys

    from geoplan.app import server
    from geoplan.cli import _parser
    from geoplan.workflows import fetch

    monkeypatch.setattr(server, "DEFAULT_PORT", 9123)
    monkeypatch.setattr(server, "DEFAULT_HOST", "::1")
    monkeypatch.setattr(server, "DEFAULT_MAX_UPLOAD_MB", 321)
    monkeypatch.setattr(fetch, "DEFAULT_BUFFER_M", 1234.0)
    monkeypatch.setattr(fetch, "DEFAULT_WORLDPOP_YEAR", 2015)
    args = _parser().parse_args(["serve"])
    assert (args.port, args.host, args.max_upload_mb) == (9123, "::1", 321)
    args = _parser().parse_args(["fetch", "p"])
    assert (args.buffer_m, args.year) == (1234.0, 2015)
    monkeypatch.delitem(sys.modules, "flask", raising=False)
    assert main(["serve", "--help"]) == 0
    said = " ".join(capsys.readouterr().out.split())
    assert "(default 9123)" in said and "(default ::1)" in said and "MB (default 321)" in said
    assert "flask" not in sys.modules
    assert main(["fetch", "--help"]) == 0
    said = " ".join(capsys.readouterr().out.split())
    assert "(default 1234)" in said and "2000–2020, default 2015" in said
