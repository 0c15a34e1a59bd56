"""Indicator tracker: every comparator form on hand-made cases, then all 325 real rows."""

from __future__ import annotations

import math
import re

import pandas as pd
import pytest

from geoplan.plans.indicators import (
    ABOUT_TOLERANCE,
    FORMS,
    INDICATORS_FILE,
    STATUSES,
    Target,
    evaluate,
    indicator_table,
    parse_row,
    parse_target,
    read_indicators,
    target_text,
    track,
)

# text, form, value / (low, high), direction
PARSE_CASES = [
    ("≥90", "at_least", 90, None),
    (">=90", "at_least", 90, None),
    ("≧90", "at_least", 90, None),
    ("不低于3.5人", "at_least", 3.5, None),
    ("不得低于25%", "at_least", 25, None),
    ("至少1所", "at_least", 1, None),
    ("90%以上", "at_least", 90, None),
    ("保持在90%以上", "at_least", 90, None),
    ("＞85", "greater", 85, None),
    (">90", "greater", 90, None),
    ("≤14", "at_most", 14, None),
    ("18以下", "at_most", 18, None),
    ("5.6‰及以下", "at_most", 5.6, None),
    ("控制在30%以内", "at_most", 30, None),
    ("降低至32", "at_most", 32, None),
    ("＜8", "less", 8, None),
    ("<10", "less", 10, None),
    ("低于5", "less", 5, None),
    ("79左右", "about", 79, None),
    ("维持在70%左右", "about", 70, None),
    ("约2.0", "about", 2.0, None),
    ("1-2", "range", (1, 2), None),
    ("1～2", "range", (1, 2), None),
    ("10–15", "range", (10, 15), None),
    ("2—3", "range", (2, 3), None),
    ("1至2", "range", (1, 2), None),
    ("全覆盖", "full_coverage", 100, None),
    ("100%全覆盖", "full_coverage", 100, None),
    ("全部", "full_coverage", 100, None),
    ("持续提升", "better", None, "up"),
    ("稳步提高", "better", None, "up"),
    ("同比例提高", "better", None, "up"),
    ("增长", "better", None, "up"),
    ("逐年下降", "better", None, "down"),
    ("增长30%", "relative", 30, "up"),
    ("增长 30%", "relative", 30, "up"),
    ("下降10%", "relative", -10, "down"),
    ("比2015年降低10%", "relative", -10, "down"),
    ("较2015年下降3个点", "points", -3, "down"),
    ("力争每年降低0.5个百分点以上", "points", -0.5, "down"),
    ("7", "reach", 7, None),
    ("", "none", None, None),
    ("应建尽建", "full_coverage", 100, None),  # build wherever needed: every unit (issue 14)
    ("5或10", "unparsed", None, None),
]


@pytest.mark.parametrize(("text", "form", "value", "direction"), PARSE_CASES)
def test_parse_every_form(text, form, value, direction):
    target = parse_target(text)
    assert target.form == form, target
    if form == "range":
        assert (target.low, target.high) == value
    elif value is not None:
        assert target.value == pytest.approx(value)
    if direction is not None:
        assert target.direction == direction
    assert target.per_year == (text == "力争每年降低0.5个百分点以上")


@pytest.mark.parametrize(
    ("text", "note"),
    [
        ("力争每年降低0.5个百分点以上", "−0.5 points a year"),
        ("每年提高2%", "+2% a year"),
        ("较2015年下降3个点", "−3 points vs 2015"),
        ("比2015年降低10%", "−10% vs 2015"),
        ("增长30%", "baseline × 1.3"),
    ],
)
def test_change_targets_say_how_they_were_read(text, note):
    assert parse_target(text).note == note


def test_parse_cases_cover_every_form():
    assert {case[1] for case in PARSE_CASES} | {"circle", "context"} == set(FORMS)


# target, current, baseline, years, expected status
STATUS_CASES = [
    (">=90", 90.0, None, None, "met"),  # inclusive
    (">=90", 89.99, None, None, "not met"),
    ("＞85", 85.0, None, None, "not met"),  # strict
    ("＞85", 85.1, None, None, "met"),
    ("≤14", 14.0, None, None, "met"),
    ("≤14", 14.5, None, None, "not met"),
    ("＜8", 8.0, None, None, "not met"),
    ("＜8", 7.9, None, None, "met"),
    ("79左右", 79 * (1 + ABOUT_TOLERANCE), None, None, "met"),  # the edge of ±5 %
    ("79左右", 75.1, None, None, "met"),  # 79 × 0.95 = 75.05
    ("79左右", 75.0, None, None, "not met"),
    ("79左右", 83.0, None, None, "not met"),
    ("1-2", 1.0, None, None, "met"),
    ("1-2", 2.0, None, None, "met"),
    ("1-2", 3.0, None, None, "not met"),
    ("全覆盖", 100.0, None, None, "met"),
    ("全覆盖", 99.5, None, None, "not met"),
    ("持续提升", 56.0, 55.0, None, "met"),
    ("持续提升", 55.0, 55.0, None, "not met"),
    ("持续提升", 56.0, None, None, "no data"),  # better than an unknown baseline
    ("逐年下降", 40.0, 43.5, None, "met"),
    ("增长30%", 0.45, 0.34, None, "met"),  # 0.34 × 1.3 = 0.442
    ("增长30%", 0.44, 0.34, None, "not met"),
    ("比2015年降低10%", 8.9, 10.0, None, "met"),
    ("比2015年降低10%", 9.5, 10.0, None, "not met"),
    ("较2015年下降3个点", 106.0, 109.0, None, "met"),
    ("较2015年下降3个点", 107.0, 109.0, None, "not met"),
    ("力争每年降低0.5个百分点以上", 45.0, 47.53, 5, "met"),  # 47.53 − 2.5 = 45.03
    ("力争每年降低0.5个百分点以上", 45.1, 47.53, 5, "not met"),
    ("力争每年降低0.5个百分点以上", 45.0, 47.53, None, "no data"),  # year unknown
    (">=90", 90 - 1e-8, None, None, "met"),  # within the rounding margin (1e-9 × 90)
    ("＜8", 8 - 1e-9, None, None, "not met"),
    ("每年提高2%", 1.0404, 1.0, 2, "met"),  # 1.0 × 1.02²
    ("每年提高2%", 1.04, 1.0, 2, "not met"),
    ("≥90", None, None, None, "no data"),
    ("≥90", math.nan, None, None, "no data"),
    ("", 5.0, None, None, "no target"),
    ("应建尽建", 99.0, None, None, "not met"),
    ("应建尽建", 100.0, None, None, "met"),
    ("5或10", 5.0, None, None, "unparsed"),
    ("79左右", 90.0, None, None, "not met"),  # no direction without a row: both ways
]


@pytest.mark.parametrize(("text", "current", "baseline", "years", "expected"), STATUS_CASES)
def test_status(text, current, baseline, years, expected):
    target = parse_target(text)
    assert evaluate(target, current, baseline=baseline, years=years) == expected


def test_reach_direction_and_maintain_goals():
    # A plain number rises when above the baseline, falls when below …
    up = parse_row(
        {"indicator_zh": "每千人口床位数", "baseline_value": "6.06", "target_value": "7"}
    )
    assert (up.form, up.direction) == ("reach", "up")
    down = parse_row(
        {"indicator_zh": "出生人口性别比", "baseline_value": "109.12", "target_value": "105.65"}
    )
    assert down.direction == "down"
    assert evaluate(down, 105.0) == "met"
    # … and without a baseline the indicator's name decides.
    stay = parse_row({"indicator_zh": "三级医院平均住院日", "target_value": "8", "notes": ""})
    assert stay.direction == "down"
    assert evaluate(stay, 7.5) == "met"
    # Targets the baseline already meets are "maintain" goals.
    keep = parse_target("＞85")
    assert keep.maintain(93.95)
    assert not parse_target("≥90").maintain(89.0)
    assert evaluate(keep, 86.0, baseline=93.95) == "met"  # a fall that still meets it
    assert parse_target("≤15").maintain(11.92)  # target above the baseline, "≤": maintain


def test_target_text_from_the_csv_columns():
    assert target_text("14", "table: ≤14; text line 77: 14.0/10万以下; src line 120") == "≤14"
    assert target_text("79", "table: 79左右 (about 79); text line 77 also") == "79左右"
    assert target_text("85", "table row gives 93.95/94.69 -> ＞85/＞85; src line 224") == ">85"
    assert target_text("0.6", "text: 不低于1:0.6; src line 452") == "不低于0.6"
    assert target_text("", "target: 增长30% (+30% over 2020); src line 203") == "增长30%"
    assert target_text("", "target: 持续提升 (keep rising); text: 力争卫生镇全覆盖") == "持续提升"
    assert target_text("", "inventory; township hospitals 实现全覆盖; src line 10") == ""
    assert target_text("1-2", "text: 培养1－2名") == "1-2"
    assert target_text("100", "所有 (all); target written as words (全覆盖/全部)") == "全覆盖"
    # the growth of a rate is the indicator itself: "每年下降5%以上" is ≥ 5
    row = {
        "indicator_zh": "县内向县外转诊人数年降幅",
        "target_value": "5",
        "notes": "每年下降5%以上",
    }
    assert (parse_row(row).form, parse_row(row).value) == ("at_least", 5.0)


def test_circle_rows_are_reported():
    row = {"indicator_zh": "15分钟健身圈", "unit": "分钟", "target_value": "15"}
    target = parse_row(row)
    assert target.form == "circle"
    assert evaluate(target, 62.0) == "reported"


@pytest.fixture(scope="module")
def real(shared_file) -> pd.DataFrame:
    """The plans' 325 indicators (``plans/plan_indicators.csv`` of the shared data), parsed."""
    return indicator_table(read_indicators(shared_file(INDICATORS_FILE)))


def test_all_325_real_rows_parse(real):
    assert len(real) == 325
    counts = real["form"].value_counts().to_dict()
    assert set(counts) <= set(FORMS)
    # every comparator form occurs in the real table
    for form in set(FORMS) - {"unparsed"}:
        assert counts.get(form, 0) > 0, form
    unparsed = real[real["form"] == "unparsed"]
    assert unparsed.empty, unparsed[["plan_file", "indicator_zh", "notes"]]
    # rows with a number have a threshold, rows without a target have none
    numeric = real["form"].isin(["at_least", "greater", "at_most", "less", "about", "reach"])
    assert real.loc[numeric, "threshold"].notna().all()
    assert real.loc[real["form"] == "none", "target_value"].eq("").all()
    assert real["source_line"].notna().all()
    # with no current values, nothing is met or missed
    assert set(real["status"]) <= {
        "not computable from the inputs",
        "no target",
        "unparsed",
        "context, not a target",
    }


def _row(real: pd.DataFrame, place: str, name: str) -> pd.Series:
    hit = real[(real["place"] == place) & (real["indicator_zh"] == name)]
    assert len(hit) == 1, (place, name)
    return hit.iloc[0]


def test_real_rows_read_as_the_plans_write_them(real):
    row = _row(real, "潮州市湘桥区", "每千人口拥有公共卫生人员数")
    assert (row["form"], row["threshold"]) == ("relative", pytest.approx(0.442))
    row = _row(real, "钦州市", "儿童青少年总体近视率")
    assert (row["form"], row["threshold"]) == ("points", pytest.approx(47.53 - 2.5))
    row = _row(real, "钦州市", "孕产妇系统管理率")
    assert (row["form"], row["maintain"], row["status_at_baseline"]) == ("greater", True, "met")
    row = _row(real, "平罗县", "每千人口医疗卫生机构床位数")
    assert (row["kind"], row["form"], row["threshold"]) == ("指导性", "reach", 5.58)
    row = _row(real, "北海市", "政府卫生投入占卫生总费用比重")  # "raise" to 45 from 49.45
    assert (row["form"], row["status_at_baseline"]) == ("about", "not met")
    row = _row(real, "乐山市市中区", "每千常住人口执业（助理）医师数")
    assert (row["form"], row["threshold"]) == ("at_least", 3.5)
    row = _row(real, "平罗县", "中医重点专科")
    assert (row["form"], row["range_low"], row["range_high"]) == ("range", 10.0, 15.0)
    row = _row(real, "钦州市", "自治区卫生镇占比")
    assert row["form"] == "better"
    row = _row(real, "潮州市湘桥区", "30天再住院率")  # 十三五 review row: missed
    assert row["status_at_baseline"] == "not met"


def test_track_one_plan_with_current_values(shared_file):  # track() reads the shared table
    table = track(
        "leshan_shizhong_2021-2025_draft.txt",
        current={"每千常住人口床位数": 9.2, "居民15分钟到达医疗卫生机构的比例": 97.0},
        missing={"每万人拥有家庭医生数": "needs a 家庭医生数 column"},
    )
    assert set(table["place"]) == {"乐山市市中区"}
    by_name = table.set_index("indicator_zh")
    assert by_name.loc["每千常住人口床位数", "status"] == "met"
    assert by_name.loc["居民15分钟到达医疗卫生机构的比例", "status"] == "not met"
    assert by_name.loc["每万人拥有家庭医生数", "status"] == "not computable from the inputs"
    assert by_name.loc["每万人拥有家庭医生数", "missing"] == "needs a 家庭医生数 column"
    assert "health" in by_name.loc["孕产妇死亡率", "missing"]
    assert by_name.loc["区属医疗机构数", "status"] == "no target"


@pytest.mark.parametrize("tolerance", [ABOUT_TOLERANCE, 0.2])
def test_maintain_means_met_at_the_baseline(real, tolerance):
    table = real if tolerance == ABOUT_TOLERANCE else indicator_table(tolerance=tolerance)
    assert table["maintain"].sum() > 10
    pd.testing.assert_series_equal(
        table["maintain"], table["status_at_baseline"] == "met", check_names=False
    )
    if tolerance == ABOUT_TOLERANCE:  # Target.maintain uses the default tolerance
        for record in table.to_dict("records"):
            baseline = record["baseline_value"]
            expected = parse_row(record).maintain(float(baseline) if baseline else None)
            assert record["maintain"] == expected, record["indicator_zh"]


def test_tolerance_is_a_parameter(shared_file):
    rows = read_indicators(shared_file(INDICATORS_FILE))
    rows = rows[rows["indicator_zh"] == "病例组合指数（CMI）"]
    # 1.1左右, rising: met from 1.1 × 0.95 = 1.045 up (1.1 × 0.9 = 0.99 at ±10 %)
    assert indicator_table(rows, current={"病例组合指数（CMI）": 1.04})["status"].iloc[0] == (
        "not met"
    )
    loose = indicator_table(rows, current={"病例组合指数（CMI）": 1.04}, tolerance=0.10)
    assert loose["status"].iloc[0] == "met"


def test_target_threshold_needs_its_baseline():
    assert Target("relative", value=30.0, direction="up").threshold(None) is None
    assert Target("relative", value=30.0, direction="up").threshold(1.0) == pytest.approx(1.3)
    assert Target("full_coverage", value=100.0).threshold() == 100.0


# ----------------------------------------------------------------------------- issue 14: tracker
#
# The plans' "左右", ranges, 不低于/不高于 and the rows that are not targets, tested on every row
# of the real table that has the form (the tests iterate over the CSV, so a new row is tested
# too, and an unknown 左右 row fails until its direction is written down here).

# The direction each "左右" target moves in, as the plan writes it: the verb (提高到 …), else
# the baseline, else what the indicator is (a cost share falls); None: checked both ways
# (维持 "keep at", a fertility rate, or a verb and a baseline that disagree).
ABOUT_DIRECTIONS = {
    ("钦州市", "人均预期寿命"): "up",  # 77.55 → 79左右
    ("钦州市", "每千人口拥有3岁以下婴幼儿托位数"): "up",  # 1.14 → 4.5左右
    ("钦州市", "个人卫生支出占卫生总费用比重"): "down",  # 31.4 → 27左右
    ("钦州市", "县域内就诊率"): "up",  # 提高到90%左右
    ("钦州市", "婚前医学检查率"): "up",  # 97%左右, a coverage rate
    ("北海市", "人均预期寿命"): "up",  # 79.32 → 80岁左右
    ("北海市", "总和生育率"): None,  # 2.0左右: a level, not a direction
    ("北海市", "政策范围内住院费用医保支付比例"): "up",  # 75左右
    ("北海市", "个人卫生支出占卫生总费用的比例"): "down",  # 28左右
    ("北海市", "农村患者县域内就诊率"): "up",  # 90%左右
    ("北海市", "政府卫生投入占卫生总费用比重"): None,  # 提高到45%左右 from 49.45: they disagree
    ("北海市", "社会卫生投入占卫生总费用比重"): "up",  # 4.4 → 27%左右
    ("平罗县", "城乡居民医保政策范围内住院费用支付比例"): None,  # 维持在70%左右
    ("平罗县", "职工医保政策范围内住院费用支付比例"): None,  # 维持在85%左右
    ("乐山市市中区", "病例组合指数（CMI）"): "up",  # 1.1左右
    ("乐山市市中区", "微创手术占比"): "up",  # 25%左右
    ("乐山市市中区", "四级手术占比"): "up",  # 力争40%左右
}


def _status_at(row: pd.Series, current: float) -> str:
    target = parse_row(row.to_dict())
    baseline = float(row["baseline_value"]) if row["baseline_value"] else None
    return evaluate(target, current, baseline=baseline)


def test_every_about_target_passes_when_it_overshoots_in_the_plans_direction(real):
    about = real[real["target_text"].str.contains("左右")]
    assert len(about) == len(ABOUT_DIRECTIONS) == 17
    tol = ABOUT_TOLERANCE
    for _, row in about.iterrows():
        key = (row["place"], row["indicator_zh"])
        assert key in ABOUT_DIRECTIONS, f"write down the direction of {key}"
        direction = ABOUT_DIRECTIONS[key]
        value = float(row["threshold"])
        assert row["form"] == "about", key
        assert parse_row(row.to_dict()).direction == direction, key
        # within the tolerance: met either way; far above / below: met only in the direction
        for factor in (1.0, 1 + 0.9 * tol, 1 - 0.9 * tol):
            assert _status_at(row, value * factor) == "met", (key, factor)
        above = _status_at(row, value * (1 + 3 * tol))
        below = _status_at(row, value * (1 - 3 * tol))
        assert above == ("met" if direction == "up" else "not met"), key
        assert below == ("met" if direction == "down" else "not met"), key
        assert (
            row["comparator"] == {"up": "about_up", "down": "about_down", None: "about"}[direction]
        ), key


def test_the_issues_two_about_examples(real):
    rise = _row(real, "钦州市", "县域内就诊率")  # 提高到90%左右
    assert _status_at(rise, 96.0) == "met"
    fall = _row(real, "钦州市", "个人卫生支出占卫生总费用比重")  # 27左右, from 31.4
    assert _status_at(fall, 22.0) == "met"
    assert _status_at(fall, 30.0) == "not met"


# The one-sided words of the table, and the form each must give (the test's own reading).
ONE_SIDED = (
    ("不得低于", "at_least"),
    ("不低于", "at_least"),
    ("不少于", "at_least"),
    ("至少", "at_least"),
    ("不高于", "at_most"),
    ("不超过", "at_most"),
    ("不得超过", "at_most"),
    ("以上", "at_least"),
    ("以下", "at_most"),
    ("以内", "at_most"),
    ("≥", "at_least"),
    ("≤", "at_most"),
    (">", "greater"),
    ("<", "less"),
)


CHANGE = re.compile(r"每年|较|比\d|(增长|提高|降低|下降)\d")


def test_every_one_sided_target_is_inclusive_or_strict_as_written(real):
    tested = {word: 0 for word, _ in ONE_SIDED}
    for _, row in real.iterrows():
        text = row["target_text"]
        word, form = next(((w, f) for w, f in ONE_SIDED if w in text), (None, None))
        if word is None or CHANGE.search(text):  # 每年降低0.5个百分点以上: a change, not a level
            continue
        tested[word] += 1
        key = (row["place"], row["indicator_zh"], text)
        assert row["form"] == form, key
        value = float(row["threshold"])
        step = max(abs(value) * 0.1, 0.5)
        at, up, down = (_status_at(row, v) for v in (value, value + step, value - step))
        if form == "at_least":
            assert (at, up, down) == ("met", "met", "not met"), key
        elif form == "at_most":
            assert (at, up, down) == ("met", "not met", "met"), key
        elif form == "greater":
            assert (at, up, down) == ("not met", "met", "not met"), key
        else:
            assert (at, up, down) == ("not met", "not met", "met"), key
    # the plans write 不低于, 不少于, 不得低于, 以上, 以下 …; 不高于 is in none of the 325 rows
    for word in ("不得低于", "不低于", "不少于", "以上", "以下", "≥", "≤"):
        assert tested[word] > 0, word


def test_every_range_target_passes_above_its_upper_end(real):
    """ "2-3个中心卫生院…", "力争1－2款": counts of things to build; more is not a failure."""
    ranges = real[real["form"] == "range"]
    assert len(ranges) >= 5
    for _, row in ranges.iterrows():
        key = (row["place"], row["indicator_zh"])
        low, high = float(row["range_low"]), float(row["range_high"])
        assert parse_row(row.to_dict()).direction == "up", key
        assert _status_at(row, low) == "met" and _status_at(row, high) == "met", key
        assert _status_at(row, high + 1) == "met", key
        assert _status_at(row, low - 0.5) == "not met", key


def test_population_rows_are_context_not_targets(real):
    for place, name in (("北海市", "常住人口"), ("潮州市湘桥区", "总人口")):
        row = _row(real, place, name)
        assert row["form"] == "context", (place, name)
        assert row["status"] == "context, not a target"
        assert row["comparator"] == "" and math.isnan(row["threshold"])
    table = indicator_table(
        read_indicators_for("潮州市湘桥区"), current={"总人口": 12.0, "人口自然增长率": 3.0}
    )
    by_name = table.set_index("indicator_zh")
    assert by_name.loc["总人口", "status"] == "context, not a target"  # not "not met"
    assert by_name.loc["总人口", "current"] == 12.0  # shown beside the projection
    assert "context, not a target" in STATUSES


def read_indicators_for(place: str) -> pd.DataFrame:
    table = read_indicators()
    return table[table["place"] == place]


def test_build_wherever_needed_is_every_village(real):
    """湘桥 "应建尽建" is checked by the pack as every village: the tracker reads it so too."""
    row = _row(real, "潮州市湘桥区", "公建村卫生站（完成规范化建设）")
    assert (row["form"], row["threshold"]) == ("full_coverage", 100.0)
    assert "应建尽建" in row["parse_note"]
    assert parse_target("应建尽建").form == "full_coverage"


def test_target_text_is_the_plans_words_not_a_fragment(real):
    """Rebuilt targets read as the plan writes them: no stray bracket, no cut-off word."""
    assert _row(real, "潮州市湘桥区", "肺结核发病率")["target_text"] == "降至50以下"
    assert _row(real, "潮州市湘桥区", "每千人口拥有3岁以下婴幼儿托位数")["target_text"] == (
        "不少于4.5个"
    )
    for _, row in real.iterrows():
        text = row["target_text"]
        for left, right in ("()", "（）", "[]"):
            assert text.count(left) == text.count(right), (row["indicator_zh"], text)
        assert not text.startswith(("人口", "单位", "内", "年")), (row["indicator_zh"], text)


def test_incomplete_current_values_are_said(plan_indicators):
    rows = read_indicators(plan_indicators)
    rows = rows[rows["indicator_zh"] == "设置中医馆的乡镇卫生院、社区卫生服务中心比例"]
    table = indicator_table(rows, incomplete={rows["indicator_zh"].iloc[0]: "2 of 5 blank"})
    assert table["status"].tolist() == ["incomplete data"]
    assert table["missing"].tolist() == ["2 of 5 blank"]
