"""Rule packs: the five plans' targets load, and every rule cites a line that says so."""

from __future__ import annotations

import shutil
import tomllib

import pandas as pd
import pytest

from geoplan.analysis.rules import Rule, check_unique_ids, rule_from_mapping
from geoplan.errors import ConfigError
from geoplan.plans import indicators
from geoplan.plans.packs import (
    CAPACITY_COLUMNS,
    COMPARATORS,
    KINDS,
    RulePack,
    available_packs,
    compare,
    load_pack,
    pack_from_mapping,
    packs_dir,
)
from geoplan.taxonomy import CATEGORIES, GROUPS
from geoplan.workflows import plan_check

PACKS = {
    # id: (plan file, circles, presence, ratios, not modelled)
    "qinzhou": ("qinzhou_2021-2025.txt", 2, 6, 7, 2),
    "beihai": ("beihai_2016-2020.txt", 1, 2, 9, 2),
    "xiangqiao": ("chaozhou_xiangqiao_2021-2025_draft.txt", 1, 2, 9, 1),
    "pingluo": ("pingluo_2021-2025.txt", 0, 4, 7, 2),
    "leshan_shizhong": ("leshan_shizhong_2021-2025_draft.txt", 2, 7, 4, 2),
}


def _plan_lines(path) -> list[str]:
    """Lines of a plan text numbered as ``sed -n '<n>p'`` numbers them (split on \\n only)."""
    return path.read_text(encoding="utf-8").split("\n")


@pytest.fixture(scope="module")
def packs() -> dict[str, RulePack]:
    return {pack_id: load_pack(pack_id) for pack_id in available_packs()}


def test_five_packs_are_bundled(packs):
    assert available_packs() == sorted(PACKS)
    for pack_id, (plan, n_circles, n_presence, n_ratios, n_skipped) in PACKS.items():
        pack = packs[pack_id]
        assert pack.id == pack_id
        assert pack.plan_file == plan
        assert (len(pack.circles), len(pack.presence), len(pack.ratios)) == (
            n_circles,
            n_presence,
            n_ratios,
        )
        assert len(pack.not_modelled) == n_skipped
        assert all(isinstance(c, Rule) for c in pack.circles)
        assert set(pack.sources) == set(pack.rule_ids)
        check_unique_ids(pack.circles)


def test_every_citation_is_verbatim_on_its_line(packs, shared_file):
    checked = 0
    for pack in packs.values():
        for rule_id, source in pack.sources.items():
            assert source.kind in KINDS
            for citation in source.citations:
                lines = _plan_lines(shared_file(f"plans/source/{citation.file}"))
                assert 1 <= citation.line <= len(lines), (pack.id, rule_id, citation)
                assert citation.quote in lines[citation.line - 1], (
                    f"{pack.id}/{rule_id}: {citation.quote!r} is not on "
                    f"{citation.file}:{citation.line}"
                )
                checked += 1
    assert checked > 60


def test_table_kinds_match_the_plans(packs):
    """Kinds from the indicator tables are the tables' own words (P alone uses 指导性)."""
    assert packs["pingluo"].sources["beds_per_1000"].kind == "指导性"
    assert packs["pingluo"].sources["public_health_staff_per_10000"].kind == "指导性"
    assert packs["beihai"].sources["doctors_per_1000"].kind == "约束性"
    assert packs["qinzhou"].sources["gps_per_10000"].kind == "约束性"
    assert packs["xiangqiao"].sources["gps_per_10000"].kind == "预期性"
    # L has no indicator table: its text targets carry no kind.
    assert {s.kind for s in packs["leshan_shizhong"].sources.values()} == {"未标明"}
    # The cited kind line says so wherever a table row is cited with its kind.
    for pack in packs.values():
        for source in pack.sources.values():
            if source.kind in ("预期性", "约束性", "指导性"):
                assert any(source.kind in c.quote for c in source.citations), source


def test_circles_state_their_mode(packs):
    leshan = packs["leshan_shizhong"]
    medical = next(c for c in leshan.circles if c.id == "medical_15")
    assert (medical.categories, medical.threshold_min, medical.target_share) == (
        ("medical",),
        15.0,
        1.0,
    )
    assert medical.mode == "walk"
    assert leshan.sources["medical_15"].citations[0].line == 44
    assert "tcm_15" in leshan.circle_filters
    beihai = packs["beihai"].circles[0]
    assert (beihai.threshold_min, beihai.mode) == (30.0, "walk")
    sampling = next(c for c in packs["qinzhou"].circles if c.id == "sampling_walk_15")
    assert "步行" in packs["qinzhou"].sources[sampling.id].mode_note
    for pack in packs.values():
        for circle in pack.circles:
            note = pack.sources[circle.id].mode_note
            assert note
            if circle.id != "sampling_walk_15":
                assert "未规定" in note and "no travel mode" in note


def test_leshan_ratio_targets(packs):
    ratios = {r.id: r for r in packs["leshan_shizhong"].ratios}
    assert (ratios["beds_per_1000"].target, ratios["beds_per_1000"].per) == (9.0, 1000.0)
    assert (ratios["doctors_per_1000"].comparator, ratios["doctors_per_1000"].target) == (
        ">=",
        3.5,
    )
    assert ratios["nurses_per_1000"].target == 4.5
    beihai = {r.id: r for r in packs["beihai"].ratios}
    assert (beihai["nurses_per_doctor"].denominator, beihai["nurses_per_doctor"].target) == (
        "doctors",
        1.37,
    )
    assert beihai["nurses_per_bed_hospitals"].target == 0.6


def test_categories_and_quantities_are_known(packs):
    names = set(CATEGORIES) | set(GROUPS)
    for pack in packs.values():
        for rule in (*pack.presence, *pack.ratios):
            assert set(rule.categories) <= names, rule.id
        for rule in pack.ratios:
            assert rule.numerator in CAPACITY_COLUMNS
            assert rule.denominator == "population" or rule.denominator in CAPACITY_COLUMNS
        for circle in pack.circles:
            if circle.id != "sampling_walk_15":  # sampling points: not in the taxonomy
                assert set(circle.categories) <= names, circle.id


def test_linked_indicators_exist_in_the_table(packs, shared_file):
    table = pd.read_csv(shared_file("plans/plan_indicators.csv"), dtype=str)
    for pack in packs.values():
        names = set(table.loc[table["plan_file"].str.endswith(pack.plan_file), "indicator_zh"])
        linked = [s.indicator for s in pack.sources.values() if s.indicator]
        assert linked, pack.id
        assert set(linked) <= names, (pack.id, set(linked) - names)


def test_a_copied_pack_loads_by_path(tmp_path):
    path = tmp_path / "my_plan.toml"
    shutil.copy(packs_dir() / "leshan_shizhong.toml", path)
    text = path.read_text(encoding="utf-8")
    path.write_text(
        text.replace('id = "leshan_shizhong"', 'id = "my_plan"', 1).replace(
            'mode = "walk"', 'mode = "drive"', 1
        ),
        encoding="utf-8",
    )
    pack = load_pack(path)
    assert pack.id == "my_plan"
    assert pack.circles[0].mode == "drive"
    assert pack.path == path.resolve()
    assert load_pack(str(path)).id == "my_plan"


def _minimal(**circle) -> dict:
    base = {
        "id": "c1",
        "categories": ["medical"],
        "mode": "walk",
        "threshold_min": 15,
        "mode_note": "not stated",
        "kind": "预期性",
        "source": {"file": "x.txt", "line": 3, "quote": "q"},
    }
    return {"pack": {"id": "p"}, "circles": [{**base, **circle}]}


def test_pack_errors_name_the_problem(tmp_path):
    with pytest.raises(ConfigError, match="neither a bundled pack"):
        load_pack("no_such_plan")
    with pytest.raises(ConfigError, match="does not exist"):
        load_pack(tmp_path / "missing.toml")
    assert pack_from_mapping(_minimal()).circles[0].id == "c1"
    with pytest.raises(ConfigError, match="kind"):
        pack_from_mapping(_minimal(kind="重要"))
    with pytest.raises(ConfigError, match="mode_note"):
        pack_from_mapping(_minimal(mode_note=""))
    bad_source = _minimal()
    del bad_source["circles"][0]["source"]
    with pytest.raises(ConfigError, match="source"):
        pack_from_mapping(bad_source)
    with pytest.raises(ConfigError, match="line"):
        pack_from_mapping(_minimal(source={"file": "x.txt", "line": 0, "quote": "q"}))
    twice = _minimal()
    twice["circles"].append(dict(twice["circles"][0]))
    with pytest.raises(ConfigError, match="used twice"):
        pack_from_mapping(twice)
    ratio = {
        "id": "r",
        "numerator": "unicorns",
        "target": 1,
        "kind": "预期性",
        "source": {"file": "x.txt", "line": 1, "quote": "q"},
    }
    with pytest.raises(ConfigError, match="unicorns"):
        pack_from_mapping({"pack": {"id": "p"}, "ratios": [ratio]})
    with pytest.raises(ConfigError, match="comparator"):
        pack_from_mapping(
            {"pack": {"id": "p"}, "ratios": [{**ratio, "numerator": "beds", "comparator": "=="}]}
        )
    presence = {
        "id": "u",
        "scope": "unit",
        "categories": ["village_clinic"],
        "kind": "预期性",
        "source": {"file": "x.txt", "line": 1, "quote": "q"},
    }
    with pytest.raises(ConfigError, match="level"):
        pack_from_mapping({"pack": {"id": "p"}, "presence": [presence]})
    with pytest.raises(ConfigError, match="attribute"):
        pack_from_mapping({"pack": {"id": "p"}, "presence": [{**presence, "scope": "facility"}]})


def test_rule_from_mapping_is_unchanged():
    rule = rule_from_mapping(
        {"id": "r", "categories": "fitness", "mode": "bike", "threshold_min": 10}
    )
    assert rule == Rule("r", "r", "r", ("fitness",), "bike", 10.0, None)
    assert rule.threshold_s == 600.0
    with pytest.raises(ConfigError, match="mode"):
        rule_from_mapping({"id": "r", "categories": ["x"], "mode": "fly", "threshold_min": 1})


def test_pack_files_are_plain_toml():
    for pack_id in available_packs():
        data = tomllib.loads((packs_dir() / f"{pack_id}.toml").read_text(encoding="utf-8"))
        assert data["pack"]["id"] == pack_id


def test_rule_and_pack_messages_name_the_key():
    with pytest.raises(ConfigError, match=r"^rule: missing `threshold_min` \(Travel time limit"):
        rule_from_mapping({"id": "r", "categories": ["medical"]})
    with pytest.raises(
        ConfigError, match=r"^rule: give exactly one of `mode`, `modes` or `modes_by_unit_type`"
    ):
        rule_from_mapping({"id": "r", "categories": ["medical"], "threshold_min": 5})
    good = {"id": "r", "categories": ["medical"], "mode": "walk", "threshold_min": 5}
    with pytest.raises(ConfigError, match=r"^p.toml: x #1 id: must be an id: a letter, then"):
        rule_from_mapping({**good, "id": "1r"}, where="x #1", file="p.toml")
    with pytest.raises(
        ConfigError,
        match=r'^rule mode: must be one of "walk", "bike", "ebike", "motorcycle", "drive", got the '
        r'text "fly" / ',
    ):
        rule_from_mapping({**good, "mode": "fly"})
    with pytest.raises(
        ConfigError, match=r"^rule threshold_min: must be a number of minutes above 0, at most 240"
    ):
        rule_from_mapping({**good, "threshold_min": 0})
    with pytest.raises(ConfigError, match=r"^rule threshold_min: .* got inf / "):
        rule_from_mapping({**good, "threshold_min": float("inf")})
    with pytest.raises(ConfigError, match=r"^`threshold`: unknown key in rule; did you mean"):
        rule_from_mapping({**good, "threshold": 5})
    presence = {
        "id": "u",
        "scope": "unit",
        "level": "village",
        "categories": ["village_clinic"],
        "mode": "boat",
        "kind": "预期性",
        "source": {"file": "x.txt", "line": 1, "quote": "q"},
    }
    with pytest.raises(ConfigError, match=r"^pack \[\[presence\]\] #1 u: mode 'boat' is not"):
        pack_from_mapping({"pack": {"id": "p"}, "presence": [presence]})
    with pytest.raises(ConfigError, match=r"^pack \[access\]: mode 'boat' is not one of"):
        pack_from_mapping({**_minimal(), "access": {"mode": "boat"}})
    pack = pack_from_mapping({**_minimal(), "access": {"mode": "bike", "cutoff_min": 10}})
    assert (pack.access_mode, pack.access_cutoff_min) == ("bike", 10.0)
    # ids are unique across the kinds of rule, not only among circles
    clash = {**_minimal(), "presence": [{**presence, "id": "c1", "mode": "walk"}]}
    with pytest.raises(ConfigError, match=r"^pack: rule id 'c1' is used twice"):
        pack_from_mapping(clash)
    rule = rule_from_mapping(good)
    with pytest.raises(ConfigError, match=r"^rule id 'r' is used twice"):
        check_unique_ids([rule, rule])
    with pytest.raises(ConfigError, match=r"^p.toml: rule id 'r' is used twice"):
        check_unique_ids([rule, rule], where="p.toml")


def test_compare_is_shared_and_inclusive_within_rounding():
    assert plan_check.compare is compare and indicators.compare is compare
    assert COMPARATORS.keys() == {">=", ">", "<=", "<", "about"}
    assert compare(9.0 - 1e-9, ">=", 9.0) and not compare(8.99, ">=", 9.0)
    assert compare(9.0 + 1e-6, ">", 9.0) and not compare(9.0 + 1e-9, ">", 9.0)
    assert compare(14.0 + 1e-9, "<=", 14.0) and not compare(14.01, "<=", 14.0)
    assert compare(7.99, "<", 8.0) and not compare(8.0 - 1e-9, "<", 8.0)
    assert compare(95.0, "about", 100.0) and not compare(94.9, "about", 100.0)
    assert compare(-10.5, "about", -10.0, tolerance=0.05)  # relative to |target|
    with pytest.raises(ConfigError, match="not one of"):
        compare(1.0, "==", 1.0)
