"""Indicator tracker: the plans' targets (``plan_indicators.csv``) as comparisons, with status.

Each target is parsed into a :class:`Target` of one *form*:

================  ==============================================  ===========================
form              written as                                      met when
================  ==============================================  ===========================
``at_least``      ≥90, 不低于3.5, 90%以上, 至少1, 保持在…以上         current ≥ value
``greater``       ＞85, >90, 超过                                  current > value
``at_most``       ≤14, 18以下, 控制在30%以内, 降低至32               current ≤ value
``less``          ＜8, <10, 低于                                   current < value
``about``         79左右, 约…                                      see below
``range``         1-2, 1～2, 10–15, 2—3                            see below
``reach``         a plain number (达到25%)                          ≥ if the goal rises, else ≤
``full_coverage`` 全覆盖, 全部, 所有, 均 (…100%)                      current ≥ 100
``better``        持续提升, 稳步提高, 同比例提高, 增长; 逐年下降          current > baseline (or <)
``relative``      增长30%, 比2015年降低10%                          ≥ baseline × 1.3 (≤ × 0.9)
``points``        较2015年下降3个点, 每年降低0.5个百分点以上           ≤ baseline − 3 (per year)
``circle``        a travel-time circle (unit 分钟, name …圈)        reported, no comparator
``none``          baseline or inventory only                      (no target)
``context``       a population figure (常住人口 168万, 总人口)          context, not a target
``unparsed``      a target without a measurable form              (e.g. two numbers)
================  ==============================================  ===========================

Directions. A ``reach``, ``about`` or ``range`` target moves the way the plan says: its verb
(提高到 / 提升至 … rise; 降低至 / 降至 / 控制在 … fall), else its baseline (above it: rise), else
what the indicator is (mortality, incidence, smoking, out-of-pocket shares … fall; everything else
rises). 维持 / 保持 / 稳定 ("keep at"), levels such as a fertility rate, and a verb that
contradicts the baseline (北海 "提高到45%左右" from 49.45) give no direction.

"左右" (about) passes within ``ABOUT_TOLERANCE`` = ±5 % of the target (relative, editable per
call); overshooting in the plan's direction passes ("提高到90%左右" is met at 96; "27左右" for a
falling share is met at 22), and without a direction it is checked both ways. A range ("2-3个",
"力争1－2款": counts of things to build) is met from its lower end up when it rises, up to its
upper end when it falls, and between its ends without a direction. 以上/以下 include the
number (Chinese statutory usage). 应建尽建 ("build wherever one is needed") is read as full
coverage, as the packs check it. Targets the baseline already meets are "maintain" goals:
``Target.maintain`` flags them.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path

import pandas as pd

from .._paths import shared_path
from .packs import compare

__all__ = [
    "ABOUT_TOLERANCE",
    "CONTEXT",
    "FORMS",
    "INCOMPLETE",
    "STATUSES",
    "Target",
    "evaluate",
    "indicator_table",
    "missing_reason",
    "parse_row",
    "parse_target",
    "read_indicators",
    "target_text",
    "track",
]

ABOUT_TOLERANCE = 0.05
"""Relative tolerance of "左右" (about) targets: ±5 % of the target value."""

FORMS = (
    "at_least",
    "greater",
    "at_most",
    "less",
    "about",
    "range",
    "reach",
    "full_coverage",
    "better",
    "relative",
    "points",
    "circle",
    "context",
    "none",
    "unparsed",
)

CONTEXT = "context, not a target"
"""Status of population rows (projections and counts that describe the place)."""
INCOMPLETE = "incomplete data"
"""Status when blank cells in the inputs could change the answer."""

STATUSES = (
    "met",
    "not met",
    INCOMPLETE,
    "no data",
    "not computable from the inputs",
    "reported",
    CONTEXT,
    "no target",
    "unparsed",
)

INDICATORS_FILE = "plans/plan_indicators.csv"

_NUMBER = r"\d+(?:\.\d+)?"
_RANGE = re.compile(rf"^({_NUMBER})\s*[-–—~至]\s*({_NUMBER})$")
_PLAIN = re.compile(rf"^({_NUMBER})$")
_AT_LEAST_PREFIX = (
    "≥",
    ">=",
    "不得低于",
    "不得少于",
    "不低于",
    "不少于",
    "至少",
    "提升至",
    "提升到",
    "提高到",
    "保持",
)
_GREATER_PREFIX = (">", "超过", "高于")
_AT_MOST_PREFIX = (
    "≤",
    "<=",
    "不得高于",
    "不得超过",
    "不高于",
    "不超过",
    "降低至",
    "降低到",
    "降至",
    "下降到",
    "下降至",
)
_LESS_PREFIX = ("<", "低于")
_AT_LEAST_SUFFIX = ("以上", "及以上")
_AT_MOST_SUFFIX = ("以下", "及以下", "以内")
_ABOUT_WORDS = ("左右", "约")
_COVERAGE_WORDS = ("全覆盖", "全部", "所有", "均")
_BETTER_UP = ("同比例提高", "持续提升", "持续提高", "稳步提高", "稳步提升", "逐年提高", "不断提高")
_BETTER_DOWN = ("逐年下降", "持续下降", "逐年降低", "持续降低")
_GROW_ONLY = re.compile(r"(?:增长|提高|提升)(?![\d.])")
_PER_YEAR = re.compile(
    rf"每年(降低|下降|减少|提高|增长|增加)\s*({_NUMBER})\s*(个百分点|个点|%)(以上)?"
)
_SINCE = re.compile(
    rf"(?:较|比)\s*(\d{{4}})\s*年?\s*(降低|下降|减少|提高|增长|增加)\s*({_NUMBER})\s*(个百分点|个点|%)"
)
_GROWTH = re.compile(rf"(增长|提高|增加|降低|下降|减少)\s*({_NUMBER})\s*%")
_BUILD_WHERE_NEEDED = "应建尽建"
_DOWN_WORDS = ("降低", "下降", "减少")
# Verbs that give a target its direction (about and range targets; reach uses the baseline).
_UP_VERBS = ("提高到", "提高至", "提升到", "提升至", "增加到", "增加至", "增长到", "增长至")
_DOWN_VERBS = (
    "降低到",
    "降低至",
    "降至",
    "下降到",
    "下降至",
    "减少到",
    "减少至",
    "缩短到",
    "控制在",
)
_KEEP_WORDS = ("维持", "保持", "稳定")
# Indicators that are a level to hold, not to raise or lower (about targets without a verb).
_LEVEL_NAMES = ("总和生育率",)
# Population figures of the place: projections and counts, never targets.
_CONTEXT_NAMES = ("常住人口", "总人口", "户籍人口")
_CONTEXT_WORDS = ("人口", "居民数", "群众")
# Indicators whose value should fall (used only when a plain target has no baseline).
_LOWER_IS_BETTER = (
    "死亡率",
    "发病率",
    "感染率",
    "流行率",
    "吸烟率",
    "近视率",
    "龋",
    "住院日",
    "再住院率",
    "感染发生率",
    "感染发病率",
    "抗菌药物使用率",
    "个人卫生支出",
    "性别比",
    "候诊时间",
)


@dataclass(frozen=True)
class Target:
    """A parsed target.

    Attributes
    ----------
    form : str
        One of :data:`FORMS`.
    value : float or None
        The number compared with (``about``/``reach``/comparators), the relative change in
        percent (``relative``: +30 for 增长30%) or the change in points (``points``: −3).
    low, high : float or None
        Bounds of a ``range``.
    direction : str or None
        ``up`` or ``down`` for ``reach``, ``better``, ``relative`` and ``points``; for
        ``about`` and ``range`` the plan's direction, or None (checked both ways).
    per_year : bool
        ``points``/``relative`` changes that apply once per year since the baseline year.
    text : str
        The text parsed (after normalisation).
    note : str
        How the form was read, for the output table.
    """

    form: str
    value: float | None = None
    low: float | None = None
    high: float | None = None
    direction: str | None = None
    per_year: bool = False
    text: str = ""
    note: str = ""

    def threshold(
        self, baseline: float | None = None, *, years: float | None = None
    ) -> float | None:
        """The number ``current`` is compared with (None for range, circle, none, unparsed).

        ``relative`` and ``points`` need ``baseline`` (and ``years`` when ``per_year``).
        """
        if self.form in ("at_least", "greater", "at_most", "less", "about", "reach"):
            return self.value
        if self.form == "range" and self.direction is not None:
            return self.low if self.direction == "up" else self.high
        if self.form == "full_coverage":
            return 100.0
        if self.form == "better":
            return baseline
        if self.form in ("relative", "points"):
            if baseline is None or self.value is None:
                return None
            times = 1.0
            if self.per_year:
                if years is None:
                    return None
                times = years
            if self.form == "relative":
                return baseline * (1.0 + self.value / 100.0) ** times
            return baseline + self.value * times
        return None

    def comparator(self) -> str | None:
        """``>=``, ``>``, ``<=``, ``<``, ``about`` (``_up``, ``_down``), ``range`` or None.

        A range with a direction is ``>=`` its lower end (rising) or ``<=`` its upper end.
        """
        directed = {"up": "_up", "down": "_down"}.get(self.direction or "", "")
        ranged = {"up": ">=", "down": "<="}.get(self.direction or "", "range")
        return {
            "at_least": ">=",
            "greater": ">",
            "at_most": "<=",
            "less": "<",
            "about": f"about{directed}",
            "range": ranged,
            "full_coverage": ">=",
            "better": ">" if self.direction == "up" else "<",
            "relative": ">=" if self.direction == "up" else "<=",
            "points": ">=" if self.direction == "up" else "<=",
            "reach": ">=" if self.direction == "up" else "<=",
        }.get(self.form)

    def maintain(self, baseline: float | None) -> bool:
        """Whether the baseline already satisfies the target (a "maintain" goal)."""
        if baseline is None or self.form in _NO_BASELINE_STATUS:
            return False
        status = evaluate(self, baseline, baseline=baseline)
        return status == "met"


def _normalise(text: object) -> str:
    """NFKC (full-width ＞ ＜ ～ ％ and digits → half-width), no spaces, 1:x → x."""
    if text is None or (isinstance(text, float) and math.isnan(text)):
        return ""
    out = unicodedata.normalize("NFKC", str(text))
    out = out.replace("≧", "≥").replace("≦", "≤").replace("〜", "~")
    out = re.sub(r"\s+", "", out)
    return re.sub(r"(?<![\d.])1:(?=\d)", "", out)


def parse_target(text: object) -> Target:
    """Parse one target as written in a plan (see the module table for the forms).

    Examples: ``≥90``, ``＞85``, ``79左右``, ``1～2``, ``全覆盖``, ``增长30%``,
    ``较2015年下降3个点``, ``力争每年降低0.5个百分点以上``, ``不低于3.5人``.
    """
    t = _normalise(text)
    if not t:
        return Target("none", text=t, note="no target")
    per_year = _PER_YEAR.search(t)
    if per_year:
        verb, amount, unit, _ = per_year.groups()
        return _change(t, verb, amount, unit, per_year=True, when="a year")
    since = _SINCE.search(t)
    if since:
        year, verb, amount, unit = since.groups()
        return _change(t, verb, amount, unit, per_year=False, when=f"vs {year}")
    growth = _GROWTH.search(t)
    if growth and not _PLAIN.match(t):
        verb, amount = growth.groups()
        sign = -1.0 if verb in _DOWN_WORDS else 1.0
        return Target(
            "relative",
            value=sign * float(amount),
            direction="down" if sign < 0 else "up",
            text=t,
            note=f"baseline × {1 + sign * float(amount) / 100:g}",
        )
    if _BUILD_WHERE_NEEDED in t:
        return Target(
            "full_coverage",
            value=100.0,
            text=t,
            note="应建尽建 (wherever one is needed) → 100%: every unit; exceptions are the "
            "county's judgement",
        )
    words = _first_word(t)
    if words is not None:
        return words
    match = _RANGE.match(t)
    if match:
        low, high = sorted(float(v) for v in match.groups())
        return Target("range", low=low, high=high, text=t, note="inclusive range")
    return _number_target(t)


def _change(t: str, verb: str, amount: str, unit: str, *, per_year: bool, when: str) -> Target:
    """A change from the baseline: ``relative`` (in %) or ``points``, signed by the verb."""
    sign = -1.0 if verb in _DOWN_WORDS else 1.0
    percent = unit == "%"
    return Target(
        "relative" if percent else "points",
        value=sign * float(amount),
        direction="down" if sign < 0 else "up",
        per_year=per_year,
        text=t,
        note=f"{'−' if sign < 0 else '+'}{amount}{'%' if percent else ' points'} {when}",
    )


def _first_word(t: str, *, numbers_allowed: bool = False) -> Target | None:
    """The word target written first in ``t`` (coverage, better-than-baseline), if any.

    Words yield to numbers: "50%以上并逐年提高" is ≥ 50, "均达到91%以上" is ≥ 91. Coverage words
    count when the text has no number other than 100. ``numbers_allowed`` lifts both limits
    (for free-text notes whose numbers are about something else).
    """
    numbers = [] if numbers_allowed else [float(n) for n in re.findall(_NUMBER, t)]
    found: list[tuple[int, Target]] = []
    if not numbers:
        for words, direction in ((_BETTER_UP, "up"), (_BETTER_DOWN, "down")):
            for word in words:
                if word in t:
                    target = Target("better", direction=direction, text=t, note=word)
                    found.append((t.index(word), target))
        grow = _GROW_ONLY.search(t)
        if grow:
            target = Target("better", direction="up", text=t, note=grow.group())
            found.append((grow.start(), target))
    if all(n == 100 for n in numbers):
        for word in _COVERAGE_WORDS:
            if word in t:
                target = Target("full_coverage", value=100.0, text=t, note=f"{word} → 100%")
                found.append((t.index(word), target))
    if not found:
        return None
    return min(found, key=lambda item: item[0])[1]


def _number_target(t: str) -> Target:
    numbers = re.findall(_NUMBER, t)
    if len(numbers) != 1:
        return Target("unparsed", text=t, note="no single number")
    value = float(numbers[0])
    before, after = t.split(numbers[0], 1)
    if any(w in after for w in _ABOUT_WORDS) or before.endswith("约"):
        return Target("about", value=value, text=t, note="左右 (about)")
    for prefixes, form in (
        (_AT_LEAST_PREFIX, "at_least"),
        (_AT_MOST_PREFIX, "at_most"),
        (_GREATER_PREFIX, "greater"),
        (_LESS_PREFIX, "less"),
    ):
        if any(p in before for p in prefixes):
            return Target(form, value=value, text=t)
    if any(s in after for s in _AT_LEAST_SUFFIX):
        return Target("at_least", value=value, text=t, note="以上 includes the number")
    if any(s in after for s in _AT_MOST_SUFFIX):
        return Target("at_most", value=value, text=t, note="以下/以内 include the number")
    return Target("reach", value=value, text=t)


# ----------------------------------------------------------------------------- CSV rows

_LINE_REF = re.compile(r"(?:src|text|baseline\s+from)?\s*line\s*\d+", re.IGNORECASE)
_PER_UNIT = re.compile(r"/\s*(?:10\s*万|万|千)人?")
_SNIPPET_STOP = ";；,，(（)）[]【】/—:："
# Words that start a target's wording ("单位维持在90%以上" → "维持在90%以上"); the earliest in
# the few characters before the number is where the target begins.
_LEAD_WORDS = (
    *_AT_LEAST_PREFIX,
    *_AT_MOST_PREFIX,
    *_GREATER_PREFIX,
    *_LESS_PREFIX,
    *_UP_VERBS,
    *_DOWN_VERBS,
    *_KEEP_WORDS,
    "继续保持",
    "达到",
    "力争",
    "前进",
    "每年",
    "均",
    "约",
)
_LEAD_CHARS = 8
_TAIL_CHARS = 10
_TARGET_CLAUSE = re.compile(r"target:?([^;；]*)", re.IGNORECASE)


def _lead(text: str, at: int) -> str:
    """The target's words before the number at ``at``: from the earliest lead word within
    :data:`_LEAD_CHARS` characters (stopping at punctuation and digits), else nothing."""
    start = at
    while start > 0 and at - start < _LEAD_CHARS:
        char = text[start - 1]
        if char in _SNIPPET_STOP or char.isdigit():
            break
        start -= 1
    window = re.sub(r"[.…]+", "", text[start:at])
    found = [window.find(w) for w in _LEAD_WORDS if w in window]
    return window[min(found) :] if found else ""


def _tail(text: str, at: int) -> str:
    """The unit and suffix after the number ending at ``at`` (以上, 左右, 个 …), up to
    :data:`_TAIL_CHARS` characters, punctuation or the next digit; no trailing Latin."""
    end = at
    while end < len(text) and end - at < _TAIL_CHARS:
        char = text[end]
        if char in _SNIPPET_STOP or char.isdigit():
            break
        end += 1
    return re.sub(r"[A-Za-z]+$", "", text[at:end])


def target_text(target_value: object, notes: object) -> str:
    """The target as written, rebuilt from the CSV's ``target_value`` and ``notes``.

    The CSV keeps the number in ``target_value`` and the comparator (≤, 以上, 左右 …) or the
    word target (持续提升, 增长30% …) in ``notes``. This finds the first mention of the
    number in the notes that carries a comparator, else the first word target.
    """
    value = _normalise(target_value)
    notes_text = _LINE_REF.sub("", str(notes or "")).replace("->", ";").replace("→", ";")
    notes_text = _PER_UNIT.sub("", _normalise(notes_text))
    if _RANGE.match(value):
        return value
    if _PLAIN.match(value):
        number = float(value)
        for match in re.finditer(_NUMBER, notes_text):
            if float(match.group()) != number:
                continue
            before = _lead(notes_text, match.start())
            after = _tail(notes_text, match.end())
            snippet = before + match.group() + after
            if _number_target(snippet).form != "reach":
                return snippet
        if number == 100 and any(w in notes_text for w in _COVERAGE_WORDS):
            return "全覆盖"
        return value
    if value:
        return value
    # No number: a word target, written after "target" in the notes (else there is none).
    clause = _TARGET_CLAUSE.search(notes_text)
    if clause is None:
        return ""
    text = clause.group(1)
    for pattern in (_PER_YEAR, _SINCE, _GROWTH):
        match = pattern.search(text)
        if match:
            return match.group()
    words = _first_word(text, numbers_allowed=True)
    if words is not None:
        return words.note if words.form == "better" else "全覆盖"
    if _BUILD_WHERE_NEEDED in text:
        return _BUILD_WHERE_NEEDED
    return ""


def _float(value: object) -> float | None:
    try:
        number = float(str(value).strip())
    except (TypeError, ValueError):
        return None
    return None if math.isnan(number) else number


def parse_row(row: Mapping) -> Target:
    """Parse one row of ``plan_indicators.csv`` (a mapping with the CSV's columns)."""
    name = str(row.get("indicator_zh", ""))
    if str(row.get("unit", "")) == "分钟" and "圈" in name:
        value = _float(row.get("target_value"))
        return Target("circle", value=value, text=str(row.get("target_value", "")), note="圈")
    if _is_context(name, str(row.get("unit", ""))):
        return Target(
            "context",
            value=_float(row.get("target_value")),
            text=_normalise(row.get("target_value")),
            note="a population figure of the place (projection or count): context, not a target",
        )
    text = target_text(row.get("target_value"), row.get("notes"))
    if _PLAIN.match(_normalise(row.get("target_value"))) and text != "全覆盖":
        target = _number_target(text)  # a number with its comparator, never a word target
    else:
        target = parse_target(text)
    if target.form in ("reach", "about", "range"):
        target = _with_direction(target, name, _float(row.get("baseline_value")))
    return target


def _is_context(name: str, unit: str) -> bool:
    """A population figure (常住人口, 总人口, 65岁及以上常住居民数 …), not a rate or a target."""
    if name in _CONTEXT_NAMES:
        return True
    counted = unit == "万人" and any(w in name for w in _CONTEXT_WORDS)
    return counted and not any(w in name for w in ("率", "比", "占"))


def _with_direction(target: Target, name: str, baseline: float | None) -> Target:
    """``target`` with the direction the plan gives it (see the module notes), and a note."""
    lower_is_better = any(word in name for word in _LOWER_IS_BETTER)
    if target.form == "reach":
        if baseline is not None and target.value is not None and target.value != baseline:
            up, note = target.value > baseline, "direction from the baseline"
        else:
            up, note = not lower_is_better, "direction from the indicator's name"
        return replace(target, direction="up" if up else "down", note=note)
    text = target.text
    if any(word in text for word in _KEEP_WORDS):
        return replace(target, direction=None, note=f"{target.note}; 维持/保持: both ways")
    verb = (
        "up"
        if any(v in text for v in _UP_VERBS)
        else ("down" if any(v in text for v in _DOWN_VERBS) else None)
    )
    low = target.value if target.form == "about" else target.low
    high = target.value if target.form == "about" else target.high
    base = None
    if baseline is not None and low is not None and high is not None:
        base = "up" if baseline < low else ("down" if baseline > high else None)
    if verb is not None and base is not None and verb != base:
        note = f"the verb says {verb}, the baseline {baseline:g} says {base}: both ways"
        return replace(target, direction=None, note=f"{target.note}; {note}")
    if verb is not None or base is not None:
        direction = verb or base
        why = "verb" if verb is not None else "baseline"
    elif target.form == "about" and any(word in name for word in _LEVEL_NAMES):
        return replace(target, direction=None, note=f"{target.note}; a level: both ways")
    else:
        direction = "down" if lower_is_better else "up"
        why = "indicator's name"
    if target.form == "about":
        side = "at least" if direction == "up" else "at most"
        sign = "−" if direction == "up" else "+"
        note = f"左右, {direction} ({why}): {side} the target {sign} the tolerance"
    else:
        note = (
            f"range, {direction} ({why}): met from {low:g} up"
            if direction == "up"
            else f"range, {direction} ({why}): met up to {high:g}"
        )
    return replace(target, direction=direction, note=note)


def evaluate(
    target: Target,
    current: float | None,
    *,
    baseline: float | None = None,
    years: float | None = None,
    tolerance: float = ABOUT_TOLERANCE,
) -> str:
    """Status of ``current`` against ``target``: ``met``, ``not met``, ``no data`` …

    ``no data`` when ``current`` is missing, or when the target is relative to a baseline that
    is missing; ``reported`` for circles; :data:`CONTEXT` for population rows; ``no target`` /
    ``unparsed`` for those forms.
    """
    if target.form == "none":
        return "no target"
    if target.form == "context":
        return CONTEXT
    if target.form == "unparsed":
        return "unparsed"
    if current is None or (isinstance(current, float) and math.isnan(current)):
        return "no data"
    if target.form == "circle":
        return "reported"
    if target.form == "range" and target.direction is None:
        return "met" if target.low <= current <= target.high else "not met"
    limit = target.threshold(baseline, years=years)
    if limit is None:
        return "no data"
    ok = compare(current, target.comparator(), limit, tolerance=tolerance)
    return "met" if ok else "not met"


# ----------------------------------------------------------------------------- tables


def read_indicators(path: str | Path | None = None) -> pd.DataFrame:
    """The indicator table (default: the shared ``plans/plan_indicators.csv``), as text."""
    path = shared_path(INDICATORS_FILE) if path is None else Path(path)
    return pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")


_SRC_LINE = re.compile(r"src line (\d+)")
_NO_BASELINE_STATUS = ("better", "relative", "points", "none", "unparsed", "circle", "context")

_MISSING_REASONS = (
    (
        (
            "死亡率",
            "寿命",
            "发病率",
            "患病率",
            "感染率",
            "流行率",
            "素养",
            "吸烟",
            "近视",
            "龋",
            "筛查",
            "检查",
            "管理率",
            "接种率",
            "签约",
            "知晓率",
            "形成率",
            "体质",
            "锻炼",
            "生育率",
            "性别比",
            "增长率",
            "生存率",
            "阳性率",
            "治疗",
            "佩戴率",
            "空气",
            "水体",
            "报告率",
            "直报率",
            "完成率",
            "分娩率",
            "康复服务",
        ),
        "a health or survey statistic; geoplan's inputs (facilities, streets, population) "
        "do not contain it",
    ),
    (
        ("支出", "费用", "报销", "支付比例", "投入", "规模", "经费", "参保率"),
        "a financial or insurance figure, not derivable from geoplan's inputs",
    ),
    (
        (
            "住院日",
            "再住院",
            "院内感染",
            "处方",
            "就诊率",
            "住院率",
            "转诊",
            "预约",
            "候诊",
            "手术",
            "CMI",
            "药物",
            "药品",
            "排名",
            "电子病历",
            "继续医学教育",
            "科学研究",
            "及时率",
            "合理用药",
            "处置率",
        ),
        "a hospital-activity or management statistic, not derivable from geoplan's inputs",
    ),
)


def missing_reason(indicator_zh: str) -> str:
    """Why geoplan cannot compute an indicator from its inputs (a short English phrase)."""
    for words, reason in _MISSING_REASONS:
        if any(w in indicator_zh for w in words):
            return reason
    if "比例" in indicator_zh or "覆盖" in indicator_zh or "达标" in indicator_zh:
        return (
            "needs a per-facility or per-unit attribute (designation, standard, service) that "
            "is not among the inputs"
        )
    return (
        "needs counts or attributes (grade, ownership, staffing, programmes) not among the inputs"
    )


def indicator_table(
    table: pd.DataFrame | None = None,
    *,
    current: Mapping[str, float] | None = None,
    missing: Mapping[str, str] | None = None,
    incomplete: Mapping[str, str] | None = None,
    current_year: float | None = None,
    tolerance: float = ABOUT_TOLERANCE,
) -> pd.DataFrame:
    """Parse every row and evaluate baseline → target → current.

    Parameters
    ----------
    table : DataFrame, optional
        Rows of ``plan_indicators.csv`` (default: all of them).
    current : mapping, optional
        Current values keyed by ``indicator_zh`` (in the row's unit).
    missing : mapping, optional
        For indicators geoplan could compute but not from these inputs: what is missing.
    incomplete : mapping, optional
        For indicators whose answer depends on blank cells of the inputs: which (status
        :data:`INCOMPLETE`; ``current`` is still shown when given).
    current_year : float, optional
        Year of the current values, for per-year targets (default: the target year).
    tolerance : float
        Relative tolerance of ``about`` targets.

    Returns
    -------
    DataFrame
        The input columns plus ``form``, ``comparator``, ``target_text``, ``threshold`` (the
        number compared with, where it is known), ``maintain``, ``status_at_baseline``,
        ``current``, ``status``, ``missing`` and ``source_line``.
    """
    table = read_indicators() if table is None else table
    current = current or {}
    missing = missing or {}
    incomplete = incomplete or {}
    rows = []
    for record in table.to_dict("records"):
        target = parse_row(record)
        baseline = _float(record.get("baseline_value"))
        base_year = _float(record.get("baseline_year"))
        target_year = _float(record.get("target_year"))
        year = current_year if current_year is not None else target_year
        years = None if base_year is None or year is None else year - base_year
        name = str(record.get("indicator_zh", ""))
        value = current.get(name)
        if target.form == "context":
            status, why = CONTEXT, ""
        elif name in incomplete:
            status, why = INCOMPLETE, incomplete[name]
        elif value is not None and not (isinstance(value, float) and math.isnan(value)):
            status = evaluate(target, value, baseline=baseline, years=years, tolerance=tolerance)
            why = ""
        elif target.form in ("none", "unparsed"):
            status = evaluate(target, None)
            why = ""
        elif name in missing:
            status, why = "not computable from the inputs", missing[name]
        elif name in current:  # computable, but the value is missing (NaN)
            status, why = "no data", "the value is missing in the inputs (NaN)"
        else:
            status, why = "not computable from the inputs", missing_reason(name)
        at_baseline = (
            evaluate(target, baseline, baseline=baseline, years=0.0, tolerance=tolerance)
            if baseline is not None and target.form not in _NO_BASELINE_STATUS
            else None
        )
        threshold = target.threshold(baseline, years=years)
        src = _SRC_LINE.search(str(record.get("notes", "")))
        rows.append(
            {
                **record,
                "form": target.form,
                "comparator": target.comparator() or "",
                "target_text": target.text,
                "parse_note": target.note,
                "threshold": threshold if threshold is not None else math.nan,
                "range_low": target.low if target.low is not None else math.nan,
                "range_high": target.high if target.high is not None else math.nan,
                "maintain": at_baseline == "met",  # Target.maintain, at this tolerance
                "status_at_baseline": at_baseline or "",
                "current": value if value is not None else math.nan,
                "status": status,
                "missing": why,
                "source_line": int(src.group(1)) if src else None,
            }
        )
    return pd.DataFrame(rows)


def track(
    plan_file: str | None = None,
    *,
    current: Mapping[str, float] | None = None,
    missing: Mapping[str, str] | None = None,
    incomplete: Mapping[str, str] | None = None,
    tolerance: float = ABOUT_TOLERANCE,
) -> pd.DataFrame:
    """:func:`indicator_table` for one plan (``plan_file`` as in the CSV, or its file name)."""
    table = read_indicators()
    if plan_file:
        name = Path(plan_file).name
        table = table[table["plan_file"].map(lambda p: Path(p).name) == name]
    return indicator_table(
        table, current=current, missing=missing, incomplete=incomplete, tolerance=tolerance
    )
