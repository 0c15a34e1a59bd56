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
from geoplan.taxonomy import CATEGORIES, CATEGORY_SETS, GROUPS
from geoplan.workflows import plan_check

PACKS = {
    # id: (plan file, circles, presence, ratios, not modelled); issue 14 added the plans'
    # missing targets (before: Q 2/6/7/2, B 1/2/9/2, X 1/2/9/1, P 0/4/7/2, L 2/7/4/2), and the
    # new kinds took over the not-modelled entries that waited for them (geriatrics shares,
    # L's 次中心, 推荐标准 and named community hospitals)
    "qinzhou": ("qinzhou_2021-2025.txt", 2, 6, 9, 2),
    "beihai": ("beihai_2016-2020.txt", 1, 2, 10, 2),
    "xiangqiao": ("chaozhou_xiangqiao_2021-2025_draft.txt", 1, 2, 10, 1),
    "pingluo": ("pingluo_2021-2025.txt", 0, 7, 10, 1),
    "leshan_shizhong": ("leshan_shizhong_2021-2025_draft.txt", 2, 10, 4, 1),
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
    names = set(CATEGORIES) | set(GROUPS) | set(CATEGORY_SETS)
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
    assert COMPARATORS.keys() == {">=", ">", "<=", "<", "about", "about_up", "about_down"}
    assert compare(9.0 - 1e-9, ">=", 9.0) and not compare(8.99, ">=", 9.0)
    assert compare(9.0 + 1e-6, ">", 9.0) and not compare(9.0 + 1e-9, ">", 9.0)
    assert compare(14.0 + 1e-9, "<=", 14.0) and not compare(14.01, "<=", 14.0)
    assert compare(7.99, "<", 8.0) and not compare(8.0 - 1e-9, "<", 8.0)
    assert compare(95.0, "about", 100.0) and not compare(94.9, "about", 100.0)
    assert compare(-10.5, "about", -10.0, tolerance=0.05)  # relative to |target|
    # 左右 with a direction: overshooting in the plan's direction passes
    assert compare(96.0, "about_up", 90.0) and compare(85.5, "about_up", 90.0)
    assert not compare(85.4, "about_up", 90.0)
    assert compare(22.0, "about_down", 27.0) and compare(28.35, "about_down", 27.0)
    assert not compare(28.4, "about_down", 27.0)
    with pytest.raises(ConfigError, match="not one of"):
        compare(1.0, "==", 1.0)


# ----------------------------------------------------------------------------- issue 14
#
# Each rule that read more into a plan than it says, fixed or made an explicit, switchable
# assumption; each test quotes the plan line it rests on (and checks the quote is there).


def _line(shared_file, plan: str, line: int) -> str:
    return _plan_lines(shared_file(f"plans/source/{plan}"))[line - 1]


def _rule(pack: RulePack, rule_id: str):
    found = [r for r in (*pack.circles, *pack.presence, *pack.ratios) if r.id == rule_id]
    assert len(found) == 1, rule_id
    return found[0]


def test_xiangqiao_fitness_circle_sets_no_share(packs, shared_file):
    """X L333 "努力构建全区 15 分钟健身圈": strive for a circle, no share → reported, as Q's."""
    assert "努力构建全区 15 分钟健身圈" in _line(shared_file, PACKS["xiangqiao"][0], 333)
    for pack_id in ("xiangqiao", "qinzhou"):
        assert _rule(packs[pack_id], "fitness_15").target_share is None, pack_id


def test_qinzhou_village_coverage_sets_no_travel_time(packs, shared_file):
    """Q L509 "采取派驻、邻村延伸服务、流动巡诊等方式，保障村级医疗卫生服务全覆盖": no minutes."""
    line = _line(shared_file, "qinzhou_2021-2025.txt", 509)
    assert "保障村级医疗卫生服务全覆盖" in line and "分钟" not in line
    assert _rule(packs["qinzhou"], "village_primary_care").within_min is None
    # geoplan's 15-minute reading of 邻村延伸服务 stays available, by name
    nearby = load_pack("qinzhou", assume={"village_reach": "within_15_min"})
    rule = _rule(nearby, "village_primary_care")
    assert (rule.within_min, rule.mode) == (15.0, "walk")
    assert nearby.assumption("village_reach").chosen == "within_15_min"


def test_fitness_circles_count_the_public_venues_the_plans_list(packs, shared_file):
    """X L333 and Q L321 list public venues (公共体育场馆, 健身步道 …), not commercial gyms;
    Q names 游泳池 among its 全民健身公共设施, X does not."""
    x = _line(shared_file, "chaozhou_xiangqiao_2021-2025_draft.txt", 333)
    q = _line(shared_file, "qinzhou_2021-2025.txt", 321)
    assert "公共体育场馆" in x and "健身房" not in x and "游泳" not in x
    assert "全民健身公共设施建设" in q and "游泳池" in q and "健身房" not in q
    assert _rule(packs["xiangqiao"], "fitness_15").categories == ("public_fitness",)
    assert _rule(packs["qinzhou"], "fitness_15").categories == ("public_fitness", "swimming_pool")
    for pack_id in ("xiangqiao", "qinzhou"):
        everything = load_pack(pack_id, assume={"fitness_venues": "all"})
        assert _rule(everything, "fitness_15").categories == ("fitness",), pack_id
        assumption = packs[pack_id].assumption("fitness_venues")
        assert (assumption.default, assumption.chosen) == ("public", "public")
        assert set(assumption.options) == {"public", "all"}


def test_pingluo_fever_clinics_are_grade_ii_hospitals_with_an_observation_room(packs, shared_file):
    """P L485 "二级医院要在医院独立区域规范设置发热门诊和留观室": grade II, both rooms."""
    assert "二级医院要在医院独立区域规范设置发热门诊和留观室" in _line(
        shared_file, "pingluo_2021-2025.txt", 485
    )
    rule = _rule(packs["pingluo"], "fever_clinic_hospitals")
    assert len(rule.services) == 2  # both required
    assert "发热门诊" in rule.services[0] and "留观室" in rule.services[1]
    assert rule.where is not None and "二级" in rule.where.values and "等级" in rule.where.columns
    every = load_pack("pingluo", assume={"hospital_grade": "every_hospital"})
    assert _rule(every, "fever_clinic_hospitals").where is None


def test_pingluo_tcm_hall_is_a_build_instruction_reported_not_judged(packs, shared_file):
    """P L599 "新建社区卫生服务中心中医馆": build new ones; no share of centres is set."""
    assert "新建社区卫生服务中心中医馆" in _line(shared_file, "pingluo_2021-2025.txt", 599)
    assert _rule(packs["pingluo"], "tcm_hall_chc").reported is True


def test_beihai_primary_care_is_the_plans_chain_and_switchable(packs, shared_file):
    """B L324 lists 乡镇卫生院、社区卫生服务中心 … 村卫生室; the statistics' 基层医疗卫生机构 also
    counts 门诊部 and 诊所: the pack says which it uses and switches to the other by name."""
    line = _line(shared_file, "beihai_2016-2020.txt", 324)
    assert "每千常住人口基层医疗卫生机构床位数达到1.25张" in line and "乡镇卫生院和村卫生室" in line
    beihai = packs["beihai"]
    for rule_id in ("primary_care_30", "primary_beds_per_1000"):
        assert _rule(beihai, rule_id).categories == ("primary_care",), rule_id
    assumption = beihai.assumption("primary_care_scope")
    assert assumption.default == "plan_chain" and "门诊部" in assumption.note
    statistical = load_pack("beihai", assume={"primary_care_scope": "statistical"})
    for rule_id in ("primary_care_30", "primary_beds_per_1000"):
        assert _rule(statistical, rule_id).categories == ("primary_care_statistical",)


def test_qinzhou_sampling_points_are_a_category(packs, shared_file):
    """Q L325 "重点地区建立步行15分钟核酸“采样圈”": the circle's category now exists."""
    assert "步行15分钟核酸“采样圈”" in _line(shared_file, "qinzhou_2021-2025.txt", 325)
    circle = _rule(packs["qinzhou"], "sampling_walk_15")
    assert circle.categories == ("nucleic_acid_sampling_point",)
    assert circle.categories[0] in CATEGORIES


def test_assumptions_refuse_unknown_names_and_options():
    with pytest.raises(ConfigError, match=r"unknown assumption 'fitnes'.*fitness_venues"):
        load_pack("qinzhou", assume={"fitnes": "all"})
    with pytest.raises(ConfigError, match=r"fitness_venues.*'some'.*public, all"):
        load_pack("qinzhou", assume={"fitness_venues": "some"})
    bad = _minimal()
    bad["assumptions"] = [
        {"id": "a", "rules": ["nowhere"], "default": "x", "options": {"x": {"set": {}}}}
    ]
    with pytest.raises(ConfigError, match="nowhere"):
        pack_from_mapping(bad)
    # a rule written otherwise than its default reading: the reading would silently win
    both = _minimal(categories=["medical"])
    options = {"x": {"set": {"categories": ["fitness"]}}, "y": {"set": {}}}
    both["assumptions"] = [{"id": "a", "rules": ["c1"], "default": "x", "options": options}]
    with pytest.raises(ConfigError, match=r"'c1' disagrees with the default reading 'x'"):
        pack_from_mapping(both)
    both["circles"][0]["categories"] = ["fitness"]
    assert pack_from_mapping(both).circles[0].categories == ("fitness",)


# The targets the plans set that the packs now check: (pack, rule id) → what must hold.
NEW_TARGETS = {
    ("beihai", "tcm_doctors_per_10000"): ("ratio", 3.79),  # B L404
    ("qinzhou", "public_health_staff_share"): ("ratio", 25.0),  # Q L388
    ("pingluo", "public_health_staff_share"): ("ratio", 25.0),  # P L481
    ("qinzhou", "childcare_places_per_1000"): ("ratio", 4.5),  # Q L252–256: 4.5左右
    ("xiangqiao", "childcare_places_per_1000"): ("ratio", 4.5),  # X L361: 不少于4.5个
    ("pingluo", "childcare_places_per_1000"): ("ratio", 1.5),  # P L315–320
    ("pingluo", "public_childcare_places_per_1000"): ("ratio", 1.0),  # P L325–329: 普惠 1.0
    ("leshan_shizhong", "basic_standard_primary"): ("presence", 1),  # L L75: 100%
    ("leshan_shizhong", "smoking_cessation_clinic"): ("presence", 1),  # L L130
    ("leshan_shizhong", "community_hospitals"): ("presence", 3),  # L L77
    ("pingluo", "fever_isolation_central_2_3"): ("presence", 2),  # P L649
    ("pingluo", "fever_isolation_central_1"): ("presence", 1),  # P L565–569
    ("pingluo", "recommended_standard_township"): ("presence", 1),  # P L565–567
}
# Targets the first rule kinds could not express (attribute shares, named units): rules of the
# further kinds now, each citing the plan's words.
FOR_THE_GRAMMAR = {
    ("qinzhou", "geriatrics_share"): "≥60",  # Q L268–272
    ("xiangqiao", "geriatrics_share"): "60",  # X L208
    ("pingluo", "geriatrics_share"): "≥60",  # P L343–346
    ("leshan_shizhong", "geriatrics_share"): "65%",  # L L117
    ("leshan_shizhong", "recommended_standard_20"): "20%",  # L L75
    ("leshan_shizhong", "named_community_hospitals"): "海棠街道",  # L L165
}


def test_the_plans_measurable_targets_are_rules(packs):
    for (pack_id, rule_id), (kind, number) in NEW_TARGETS.items():
        rule = _rule(packs[pack_id], rule_id)
        if kind == "ratio":
            assert rule.target == number, (pack_id, rule_id)
        else:
            assert rule.min_count == number, (pack_id, rule_id)
        quotes = [c.quote for c in packs[pack_id].sources[rule_id].citations]
        assert any(f"{number:g}" in q for q in quotes), (pack_id, rule_id)  # the plan's number
    childcare = _rule(packs["qinzhou"], "childcare_places_per_1000")
    assert (childcare.comparator, childcare.categories) == ("about_up", ("childcare",))
    share = _rule(packs["pingluo"], "public_health_staff_share")
    assert (share.numerator, share.denominator, share.per) == (
        "public_health_staff",
        "technical_staff",
        100.0,
    )
    central = _rule(packs["pingluo"], "fever_isolation_central_2_3")
    assert len(central.services) == 2 and central.level == "county"
    # the targets that waited for the new rule kinds (issue 14, items 1–5) are rules of them
    for (pack_id, rule_id), words in FOR_THE_GRAMMAR.items():
        pack = packs[pack_id]
        assert rule_id not in {n.id for n in pack.not_modelled}, (pack_id, rule_id)
        assert rule_id in {r.id for r in pack.network_rules}, (pack_id, rule_id)
        assert any(words in c.quote for c in pack.sources[rule_id].citations)
    shares = {(p, r.id): (r.target, r.grade_at_least) for p in PACKS for r in packs[p].shares}
    assert shares == {
        ("qinzhou", "geriatrics_share"): (60, 2),
        ("xiangqiao", "geriatrics_share"): (60, 2),
        ("pingluo", "geriatrics_share"): (60, 2),
        ("leshan_shizhong", "geriatrics_share"): (65, 2),
        ("leshan_shizhong", "recommended_standard_20"): (20, None),
    }
    named = packs["leshan_shizhong"].named_units[0]
    assert named.units == ("海棠街道", "全福街道") and named.categories == ("community_hospital",)
    assert packs["leshan_shizhong"].catchments[0].min_count == 3  # L77: 建成3个县域医疗卫生次中心


def test_ratio_units_read_as_a_planner_writes_them(packs):
    assert _rule(packs["xiangqiao"], "sports_area_per_capita").unit_label == "m² per resident"
    assert _rule(packs["xiangqiao"], "beds_per_1000").unit_label == "per 1,000 residents"
    share = _rule(packs["xiangqiao"], "tcm_doctor_share_township")
    assert share.unit_label == "% (tcm_doctors per 100 doctors)"
    assert _rule(packs["beihai"], "nurses_per_doctor").unit_label == "nurses per doctors"


def test_ratios_are_judged_at_the_plans_level(packs):
    levels = {pack_id: packs[pack_id].level for pack_id in PACKS}
    assert levels == {
        "qinzhou": "city",
        "beihai": "city",
        "xiangqiao": "county",
        "pingluo": "county",
        "leshan_shizhong": "county",
    }


def test_sections_are_the_plans_headings_and_hold_every_rule(packs, shared_file):
    """The report groups the checks as the plan groups them: every rule falls under one of
    the pack's ``[[sections]]``, each the plan's own heading, verbatim on its line."""
    for pack in packs.values():
        assert pack.sections, pack.id
        for section in pack.sections:
            lines = _plan_lines(shared_file(f"plans/source/{section.file}"))
            assert section.quote in lines[section.line - 1], (pack.id, section)
            assert section.title_en and section.title_en != section.title_zh
        for rule_id in pack.rule_ids:
            assert pack.section_of(rule_id) is not None, (pack.id, rule_id)
    # the indicator table's rows sit under the plan's goals (X L167 （三）发展目标)
    x = packs["xiangqiao"]
    assert x.section_of("beds_per_1000").title_zh == "（三）发展目标"
    assert x.section_of("fitness_15").line == 319


def test_a_rules_travel_choice_has_one_check_in_files_and_in_python():
    """``mode``/``modes``/``modes_by_unit_type``: the same words whether the rule is a file's
    table or a :class:`Rule` built in Python (one check, ``rules._check_rule_modes``)."""
    base = {"id": "r", "name_zh": "r", "name_en": "r", "categories": ["medical"]}
    for travel in (
        {},
        {"mode": "walk", "modes": ["walk"]},
        {"mode": "walk", "modes_by_unit_type": {"urban": ["walk"]}},
    ):
        with pytest.raises(ConfigError) as in_file:
            rule_from_mapping({**base, "threshold_min": 5, **travel}, where="x #1", file="p.toml")
        with pytest.raises(ConfigError) as in_python:
            Rule("r", "r", "r", ("medical",), threshold_min=5, **travel)
        said = str(in_file.value).removeprefix("p.toml: x #1: ")
        assert said == str(in_python.value).removeprefix("rule 'r': ")
        assert "须且只能给出" in said


_CITED = {"kind": "预期性", "source": {"file": "x.txt", "line": 1, "quote": "q"}}
"""A pack rule's citation, for the tables below."""


def test_a_pack_rules_where_is_checked_like_every_table():
    """``where = {…}`` of a presence or ratio rule: an unknown or misspelt key, or a value of
    the wrong kind, is refused naming the pack, the rule and the key (it was silently dropped:
    ``ownership = "公立"`` restricted nothing, a misspelt ``name_zh`` left the label empty)."""
    presence = {
        "id": "grade_ii_fever",
        "scope": "facility",
        "categories": ["hospital"],
        "attribute": ["发热门诊"],
        **_CITED,
    }
    ratio = {"id": "beds_grade_ii", "numerator": "beds", "target": 1, **_CITED}
    good = {"columns": ["等级"], "values": ["二级"], "name_zh": "二级医院"}
    pack = pack_from_mapping(
        {"pack": {"id": "p"}, "presence": [{**presence, "where": good}]}, where="mine.toml"
    )
    assert pack.presence[0].where.label == "二级医院"
    for kind, rule in (("presence", presence), ("ratios", ratio)):
        for where, said in (
            ({**good, "ownership": "公立"}, r"`ownership`: unknown key in where"),
            (
                {**good, "colums": ["级别"]},
                r"`colums`: unknown key in where; did you mean `columns`",
            ),
            ({**good, "nmae_zh": "x"}, r"`nmae_zh`: unknown key in where; did you mean `name_zh`"),
            ({"columns": ["等级"], "value": ["二级"]}, r"`value`: unknown key in where; did you"),
            ({**good, "values": [2]}, r"where values: must be a non-empty list of values, each"),
            ({**good, "values": []}, r"where values: must be a non-empty list"),
            ({"columns": ["等级"]}, r"where: missing `values`"),
            ("二级", r"where must be a table of keys"),
        ):
            data = {"pack": {"id": "p"}, kind: [{**rule, "where": where}]}
            with pytest.raises(ConfigError, match=said) as refused:
                pack_from_mapping(data, where="mine.toml")
            refused.match(rf"^mine\.toml \[\[{kind}\]\] #1 {rule['id']}: ")
            assert " / " in str(refused.value)  # and in Chinese


def test_a_pack_refuses_unknown_keys_of_presence_and_ratio_rules():
    """A misspelt key of a ``[[presence]]`` or ``[[ratios]]`` rule changed a figure without a
    word (``min_cuont = 3`` left one facility enough, ``pre = 10000`` counted per 1,000): it is
    refused naming the pack, the rule, the key and the closest known one, in zh/en."""
    presence = {"id": "u", "scope": "unit", "level": "village", "categories": ["village_clinic"]}
    ratio = {"id": "r", "numerator": "beds", "target": 1}
    for kind, rule, key, known in (
        ("presence", presence, "min_cuont", "min_count"),
        ("presence", presence, "withinmin", "within_min"),
        ("ratios", ratio, "pre", "per"),
        ("ratios", ratio, "comparater", "comparator"),
    ):
        data = {"pack": {"id": "p"}, kind: [{**rule, **_CITED, key: 3}]}
        with pytest.raises(ConfigError) as refused:
            pack_from_mapping(data, where="mine.toml")
        said = str(refused.value)
        assert said.startswith(f"mine.toml [[{kind}]] #1 {rule['id']}: `{key}`: unknown key")
        assert f"did you mean `{known}`?" in said and f"应为 `{known}`" in said
    ok = {"pack": {"id": "p"}, "presence": [{**presence, **_CITED, "min_count": 2}]}
    assert pack_from_mapping(ok).presence[0].min_count == 2
    # and the pack's own tables: about_tolerence kept 5 %, cutof_min no cutoff
    for table, key, known in (
        ("pack", "about_tolerence", "about_tolerance"),
        ("access", "cutof_min", "cutoff_min"),
    ):
        data = {**ok, table: {**ok.get(table, {}), key: 0.5}}
        with pytest.raises(
            ConfigError, match=rf"^mine.toml \[{table}\]: `{key}`: unknown key; "
        ) as refused:
            pack_from_mapping(data, where="mine.toml")
        refused.match(rf"did you mean `{known}`\?.*，应为 `{known}`")


def test_a_pack_refuses_unknown_keys_of_not_modelled_assumptions_and_sections():
    """``[[not_modelled]]``, ``[[assumptions]]`` (and each option) and ``[[sections]]`` read
    only their own keys: a misspelt ``unsett`` left the rule's key in place (a different
    figure, exit 0), a misspelt ``title_en`` fell back to the Chinese title."""
    presence = {"id": "u", "scope": "unit", "level": "village", "categories": ["village_clinic"]}
    presence = {**presence, **_CITED, "min_count": 2}
    option = {"set": {"min_count": 2}}
    assumption = {"id": "a", "rules": ["u"], "default": "two", "options": {"two": option}}
    base = {"pack": {"id": "p"}, "presence": [presence]}
    assert pack_from_mapping({**base, "assumptions": [assumption]}).assumptions[0].id == "a"
    for table, entry, where, key, known in (
        ("not_modelled", {"id": "n", "reason": "r", "reson_en": "r"}, "#1", "reson_en", None),
        ("not_modelled", {"id": "n", "reason": "r", "name_ne": "x"}, "#1", "name_ne", "name_en"),
        ("assumptions", {**assumption, "defualt": "two"}, "#1 a", "defualt", "default"),
        (
            "assumptions",
            {**assumption, "options": {"two": {**option, "unsett": ["min_count"]}}},
            "#1 a option 'two'",
            "unsett",
            "unset",
        ),
        ("sections", {"line": 1, "title": "一", "titel_en": "One"}, "#1", "titel_en", "title_en"),
    ):
        data = {**base, table: [entry]}
        with pytest.raises(ConfigError) as refused:
            pack_from_mapping(data, where="mine.toml")
        said = str(refused.value)
        assert said.startswith(f"mine.toml [[{table}]] {where}: `{key}`: unknown key"), said
        if known:
            assert f"did you mean `{known}`?" in said and f"应为 `{known}`" in said
