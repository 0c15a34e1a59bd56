"""What-if scenarios on the real 团城山 demo: close, add, move, and the difference outputs."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from pyproj import Transformer

from geoplan._paths import REPO_ROOT
from geoplan.cli import main
from geoplan.errors import ConfigError
from geoplan.readers.facilities import read_facilities
from geoplan.rendering import maps
from geoplan.workflows.project import DEMO_PROJECT, compute_project, load_project
from geoplan.workflows.scenario import (
    SCENARIO_FILES,
    load_scenario_file,
    parse_ids,
    parse_move,
    run_scenario,
    write_scenario,
)

RELOCATION = REPO_ROOT / "data" / "demo" / "relocation.toml"
MOVE_TO = (115.015060, 30.201168)  # 杭州西路 × 白马路, OSM node 9923804435
MEDICAL, FITNESS = "medical_walk_15", "fitness_walk_15"
HOSTILE = '<script>alert("x")</script>新站'


@pytest.fixture(scope="module")
def before():
    """The demo project run once (real OSM streets and GHS-POP population)."""
    return compute_project(load_project(DEMO_PROJECT))


@pytest.fixture(scope="module")
def relocation(before):
    return run_scenario(before, move={"TCS-CHC-01": MOVE_TO})


def _csv(tmp_path, rows: list[str], name: str = "add.csv"):
    path = tmp_path / name
    path.write_text("编号,名称,类型,经度,纬度\n" + "\n".join(rows) + "\n", encoding="utf-8")
    return path


def _ids(before, group: str) -> list[str]:
    from geoplan.taxonomy import CATEGORIES

    used = before.facilities
    return [
        fid
        for fid, cat in zip(used["facility_id"], used["category"], strict=True)
        if CATEGORIES[cat].group == group
    ]


def test_closing_every_facility_of_a_rule_drops_its_coverage_to_zero(before):
    medical = _ids(before, "medical")
    result = run_scenario(before, close=medical)
    rules = {r["id"]: r for r in result.summary["rules"]}
    assert rules[MEDICAL]["after"]["population_covered"] == 0.0
    assert rules[MEDICAL]["after"]["share"] == 0.0
    assert not result.points[f"{MEDICAL}_covered_after"].any()
    assert result.points[f"{MEDICAL}_time_after_s"].isna().all()  # nothing to reach
    # everyone covered before lost access; the other rule is untouched
    lost = result.points[f"{MEDICAL}_lost"].to_numpy()
    np.testing.assert_array_equal(lost, result.points[f"{MEDICAL}_covered_before"].to_numpy())
    assert rules[MEDICAL]["lost"]["population"] == pytest.approx(
        rules[MEDICAL]["before"]["population_covered"], abs=1e-6
    )
    assert rules[FITNESS]["change"]["population_covered"] == 0.0
    assert rules[FITNESS]["gained"]["points"] == rules[FITNESS]["lost"]["points"] == 0
    assert set(result.changes["action"]) == {"close"}
    assert len(result.facilities_after) == len(before.facilities) - len(medical)


def test_adding_a_facility_at_a_demand_point_covers_it(before, tmp_path):
    points = before.coverage.table
    # the most populous point the medical rule leaves uncovered
    uncovered = points[~points[f"{MEDICAL}_covered"]]
    target = uncovered.loc[uncovered["population"].idxmax()]
    to_wgs84 = Transformer.from_crs(before.network.crs, 4326, always_xy=True)
    lon, lat = to_wgs84.transform(target["x"], target["y"])
    path = _csv(tmp_path, [f"NEW-1,新站（假设）,社区卫生服务站,{lon!r},{lat!r}"])
    result = run_scenario(before, add=path)
    row = result.points.set_index("demand_id").loc[target["demand_id"]]
    assert row[f"{MEDICAL}_covered_after"] and row[f"{MEDICAL}_gained"]
    assert row[f"{MEDICAL}_facility_after"] == "NEW-1"
    # off the street to the nearest street point and back: twice the access leg at 70 m/min
    assert row[f"{MEDICAL}_time_after_s"] == pytest.approx(
        2 * target["snap_distance_m"] / (70 / 60), abs=1e-3
    )
    assert result.summary["changes"] == [
        {
            "facility_id": "NEW-1",
            "name": "新站（假设）",
            "category": "community_health_station",
            "action": "add",
            "to_lonlat": [round(lon, 6), round(lat, 6)],
        }
    ]
    # adding never loses anyone
    assert not result.points[f"{MEDICAL}_lost"].any()


def test_moving_equals_closing_and_adding_exactly(before, relocation, tmp_path):
    lon, lat = MOVE_TO
    path = _csv(
        tmp_path, [f"TCS-CHC-01,团城山社区卫生服务中心（假设）,社区卫生服务中心,{lon},{lat}"]
    )
    closed_added = run_scenario(before, close=["TCS-CHC-01"], add=path)
    for rule in before.project.rules:
        for what in ("time_after_s", "facility_after", "covered_after", "gained", "lost"):
            name = f"{rule.id}_{what}"
            np.testing.assert_array_equal(
                relocation.points[name].to_numpy(), closed_added.points[name].to_numpy()
            )
    assert relocation.summary["rules"] == closed_added.summary["rules"]
    move = relocation.changes.iloc[0]
    assert move["action"] == "move" and move["lon_after"] == lon and move["lat_after"] == lat
    assert 1900 < move["moved_m"] < 2100  # about 2 km west along 杭州西路


def test_gained_and_lost_add_up_per_rule_and_per_unit(relocation):
    total = relocation.summary["population_total"]
    for item in relocation.summary["rules"]:
        change = item["after"]["population_covered"] - item["before"]["population_covered"]
        assert change == pytest.approx(
            item["gained"]["population"] - item["lost"]["population"], abs=1e-6
        )
        assert item["change"]["population_covered"] == pytest.approx(change, abs=1e-9)
        assert item["change"]["share"] == pytest.approx(change / total, abs=1e-12)
    units = relocation.by_unit
    for rule in relocation.rules:
        r = rule.id
        diff = units[f"{r}_population_covered_after"] - units[f"{r}_population_covered_before"]
        np.testing.assert_allclose(
            diff, units[f"{r}_gained_population"] - units[f"{r}_lost_population"], atol=1e-6
        )
    assert units["population"].sum() == pytest.approx(total, abs=1e-6)
    medical = next(i for i in relocation.summary["rules"] if i["id"] == MEDICAL)
    # the relocation trades the east for the west: both sides are large
    assert medical["gained"]["population"] > 10_000 and medical["lost"]["population"] > 10_000


def test_before_reuses_the_run_and_after_keeps_units(before, relocation):
    assert relocation.before is before
    np.testing.assert_array_equal(
        relocation.after.table["unit_name"].to_numpy(),
        before.coverage.table["unit_name"].to_numpy(),
    )
    b = next(r for r in before.summary["rules"] if r["id"] == MEDICAL)
    s = next(r for r in relocation.summary["rules"] if r["id"] == MEDICAL)
    assert s["before"]["population_covered"] == b["population_covered"]
    # before and after are the coverage summaries (same share and target test as a run)
    for item, b, a in zip(
        relocation.summary["rules"],
        before.coverage.summary(),
        relocation.after.summary(),
        strict=True,
    ):
        assert item["id"] == b["id"] == a["id"]
        for state, row in ((item["before"], b), (item["after"], a)):
            assert state == {
                "population_covered": row["population_covered"],
                "share": row["share_covered"],
                "met": row["met"],
            }
    assert {r["id"]: r["share_covered"] for r in before.summary["rules"]} == {
        r["id"]: r["before"]["share"] for r in relocation.summary["rules"]
    }


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"close": ["NOPE"]}, "cannot close 'NOPE'"),
        ({"move": {"NOPE": MOVE_TO}}, "cannot move 'NOPE'"),
        ({"move": {"TCS-CHC-01": (200.0, 30.2)}}, "not a longitude/latitude"),
        ({"move": {"TCS-CHC-01": (115.3, 30.5)}}, "from the nearest road"),
        ({"close": ["TCS-CHC-01"], "move": {"TCS-CHC-01": MOVE_TO}}, "both closed and moved"),
        ({}, "needs at least one change"),
    ],
)
def test_bad_changes_are_config_errors(before, kwargs, message):
    with pytest.raises(ConfigError, match=message):
        run_scenario(before, **kwargs)


def test_added_id_that_already_exists_is_refused(before, tmp_path):
    path = _csv(tmp_path, [f"TCS-CHC-01,重复,社区卫生服务中心,{MOVE_TO[0]},{MOVE_TO[1]}"])
    with pytest.raises(ConfigError, match="already exist"):
        run_scenario(before, add=path)


def test_parsers():
    assert parse_move("TCS-CHC-01=115.01506,30.201168") == ("TCS-CHC-01", (115.01506, 30.201168))
    assert parse_ids(["A,B", " C ", "A"]) == ("A", "B", "C")
    for bad in ("TCS-CHC-01", "X=115.0", "=1,2", "X=a,b"):
        with pytest.raises(ConfigError):
            parse_move(bad)


def test_scenario_file_reads_the_demo_relocation():
    spec = load_scenario_file(RELOCATION)
    assert spec.project == DEMO_PROJECT.resolve()
    assert spec.move == {"TCS-CHC-01": MOVE_TO}
    assert "假设" in spec.name_zh
    assert load_scenario_file(DEMO_PROJECT) is None  # a project file, not a scenario


def test_write_scenario_outputs(relocation, tmp_path):
    out = write_scenario(relocation, tmp_path / "out")
    for name in SCENARIO_FILES:
        assert (out / name).stat().st_size > 0, name
    summary = json.loads((out / "scenario_summary.json").read_text(encoding="utf-8"))
    medical = next(r for r in summary["rules"] if r["id"] == MEDICAL)
    assert set(medical["before"]) == set(medical["after"]) == {"population_covered", "share", "met"}
    assert set(medical["change"]) == {"population_covered", "share"}
    points = pd.read_csv(out / "changed_points.csv", encoding="utf-8-sig")
    mine = points[f"{MEDICAL}_gained"] | points[f"{MEDICAL}_lost"]
    assert mine.sum() == medical["gained"]["points"] + medical["lost"]["points"]
    # every point listed changed under some rule (the demo's walk + e-bike rule changes too)
    changed = np.zeros(len(points), dtype=bool)
    for rule in summary["rules"]:
        changed |= points[f"{rule['id']}_gained"] | points[f"{rule['id']}_lost"]
    assert changed.all() and not mine.all()
    assert points["lon"].between(114.9, 115.1).all()
    units = pd.read_csv(out / "scenario_by_unit.csv", encoding="utf-8-sig")
    assert f"{MEDICAL}_change" in units
    import geopandas as gpd
    import pyogrio

    layers = {name for name, _ in pyogrio.list_layers(out / "changed_points.gpkg")}
    assert layers == {"changed_points", "facility_changes", "moves"}
    moves = gpd.read_file(out / "changed_points.gpkg", layer="moves")
    assert moves.geometry.iloc[0].coords[-1] == pytest.approx(MOVE_TO)
    html = (out / "scenario_map.html").read_text(encoding="utf-8")
    maps.check_offline(html)  # nothing loaded from the network (save_map checks it too)
    assert "获得覆盖" in html and "失去覆盖" in html and "迁移" in html
    assert "假设" in html  # the hypothetical label stays on the map
    with pytest.raises(FileExistsError):
        write_scenario(relocation, out)


def test_user_strings_on_the_map_are_escaped(before, tmp_path):
    path = _csv(tmp_path, [f'"NEW-<b>","{HOSTILE}",社区卫生服务站,115.0150,30.2010'])
    table = read_facilities(path)
    result = run_scenario(before, add=table, close=["TCS-CLN-01"])
    out = write_scenario(result, tmp_path / "out")
    html = (out / "scenario_map.html").read_text(encoding="utf-8")
    assert "<script>alert" not in html
    assert "&lt;script&gt;alert" in html


def test_cli_scenario_with_the_demo_relocation_file(tmp_path, capsys):
    out = tmp_path / "relocation"
    assert main(["scenario", str(RELOCATION), "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "46.5% → 47.2%" in printed
    for name in SCENARIO_FILES:
        assert (out / name).exists(), name
    # outputs exist: refused without --overwrite, one line on stderr
    assert main(["-q", "scenario", str(RELOCATION), "--out", str(out)]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("geoplan: error:")


def test_cli_scenario_on_a_project_with_close_and_move(tmp_path, capsys):
    out = tmp_path / "s"
    code = main(
        [
            "-q",
            "scenario",
            str(DEMO_PROJECT),
            "--close",
            "TCS-CLN-01,TCS-CHS-04",
            "--move",
            f"TCS-FIT-01={MOVE_TO[0]},{MOVE_TO[1]}",
            "--out",
            str(out),
        ]
    )
    assert code == 0
    summary = json.loads((out / "scenario_summary.json").read_text(encoding="utf-8"))
    assert [c["action"] for c in summary["changes"]] == ["close", "close", "move"]
    assert main(["-q", "scenario", str(DEMO_PROJECT), "--move", "X=1", "--out", str(out)]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("geoplan: error: --move")
