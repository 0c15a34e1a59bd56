"""Indicator tracker: every comparator form on hand-made cases, then all 325 real rows."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from geoplan.plans.indicators import (
    ABOUT_TOLERANCE,
    FORMS,
    INDICATORS_FILE,
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
    ("应建尽建", "unparsed", None, None),
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
    assert {case[1] for case in PARSE_CASES} | {"circle"} == set(FORMS)


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
    ("应建尽建", 5.0, None, None, "unparsed"),
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
    assert len(unparsed) <= 3, unparsed[["plan_file", "indicator_zh", "notes"]]
    assert set(unparsed["indicator_zh"]) <= {"公建村卫生站（完成规范化建设）"}
    # rows with a number have a threshold, rows without a target have none
    numeric = real["form"].isin(["at_least", "greater", "at_most", "less", "about", "reach"])
    assert real.loc[numeric, "threshold"].notna().all()
    assert real.loc[real["form"] == "none", "target_value"].eq("").all()
    assert real["source_line"].notna().all()
    # with no current values, nothing is met or missed
    assert set(real["status"]) <= {"not computable from the inputs", "no target", "unparsed"}


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
    assert indicator_table(rows, current={"病例组合指数（CMI）": 1.2})["status"].iloc[0] == (
        "not met"
    )
    loose = indicator_table(rows, current={"病例组合指数（CMI）": 1.2}, tolerance=0.10)
    assert loose["status"].iloc[0] == "met"


def test_target_threshold_needs_its_baseline():
    assert Target("relative", value=30.0, direction="up").threshold(None) is None
    assert Target("relative", value=30.0, direction="up").threshold(1.0) == pytest.approx(1.3)
    assert Target("full_coverage", value=100.0).threshold() == 100.0
