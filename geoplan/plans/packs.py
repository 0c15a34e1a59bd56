"""Rule packs: one local plan's checkable targets, each citing the plan text.

A rule pack is one local plan's checkable targets: the travel-time circles (ordinary
:class:`Rule` objects), presence rules per unit or per facility, and capacity ratios per
1,000 / 10,000 / 100,000 residents. Every rule cites the plan text it comes from (file, line,
verbatim quote) and its kind. Packs are TOML files bundled under ``geoplan/data/packs``;
users copy one, edit it and pass its path instead of an id.

Where a plan's words allow more than one reading (which venues a fitness circle counts, what
基层医疗卫生机构 covers, whether a hospital is 二级), the pack names the reading it takes as an
``[[assumptions]]`` entry: its options, each a set of rule keys, and a default. ``load_pack(…,
assume={"fitness_venues": "all"})`` (``geoplan check --assume fitness_venues=all``) switches
one; the check's outputs say which reading each rule used. ``[[sections]]`` are the plan's own
headings (verbatim, with their line): a rule belongs to the last heading before its main
citation, and the report groups the checks as the plan groups them.
Beyond those three, the requirements the plans state about the county's network of
facilities (:data:`KIND_TABLES`, each table checked like a project file's: unknown keys are
errors naming the closest one):

* ``[[catchments]]`` — 县域医疗次中心 and their 片区: how many facilities are designated
  sub-centres, and the residents of each 片区 (residents go to the sub-centre they reach
  first) with their travel-time percentiles;
* ``[[referral]]`` — 医共体 referral: each facility of a lower tier to "its" facility of the
  higher tier (the one in the same township, else the nearest), facility-to-facility times;
* ``[[shares]]`` — the share of facilities with an attribute (标准化达标, 老年医学科) or meeting a
  per-facility ratio, over facilities filtered by grade (等级) and ownership (公立/民营);
* ``[[equity]]`` — urban–rural equity: Gini and concentration indices of access;
* ``[[named_units]]`` — "the unit named X has a facility of category Y";
* ``[[colocation]]`` — "a facility of A within d metres of one of B" (两院一体).
"""

from __future__ import annotations

import difflib
import functools
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from .._io import read_toml
from ..analysis.rules import MODES, RULE_ID_PATTERN, Rule, check_unique_ids, rule_from_mapping
from ..errors import ConfigError
from ..schema import Key, ListOf, Number, OneOf, Table, Text, check_table
from ..taxonomy import OWNERSHIPS, normalize_text

__all__ = [
    "ACCESS_KEYS",
    "ASSIGNMENTS",
    "ASSUMPTION_KEYS",
    "CAPACITY_COLUMNS",
    "CIRCLE_SOURCE_KEYS",
    "COMPARATORS",
    "FACILITY_FILTER",
    "KINDS",
    "KIND_RULE_TYPES",
    "KIND_TABLES",
    "LEVELS",
    "MEASURES",
    "NOT_MODELLED_KEYS",
    "OPTION_KEYS",
    "PACKS_PACKAGE_DIR",
    "PACK_KEYS",
    "PACK_TABLES",
    "PRESENCE_KEYS",
    "PRESENCE_SCOPES",
    "QUANTITY_UNITS",
    "RATIO_KEYS",
    "ROLES",
    "SECTION_KEYS",
    "SOURCE_KEYS",
    "Assumption",
    "AssumptionOption",
    "AttributeFilter",
    "CatchmentRule",
    "Citation",
    "ColocationRule",
    "EquityRule",
    "FacilityFilter",
    "NamedUnitRule",
    "NotModelled",
    "PresenceRule",
    "RatioTarget",
    "ReferralRule",
    "RulePack",
    "RuleSource",
    "Section",
    "ShareRule",
    "available_packs",
    "compare",
    "kind_table",
    "load_pack",
    "pack_from_mapping",
    "packs_dir",
]

KINDS: dict[str, str] = {
    "预期性": "expected (indicative)",
    "约束性": "binding",
    "指导性": "guidance",
    "未标明": "kind not stated in the plan",
}
"""Indicator kinds of the plans (P alone uses 指导性), plus 未标明 for text targets."""

LEVELS: dict[str, tuple[str, str]] = {
    "village": ("村/社区", "village or community"),
    "township": ("乡镇/街道", "township or sub-district"),
    "county": ("县/区", "county or district"),
    "city": ("市", "city"),
}
"""Administrative levels a unit-presence rule can apply to."""

COMPARATORS: dict[str, str] = {
    ">=": "≥",
    ">": "＞",
    "<=": "≤",
    "<": "＜",
    "about": "左右",
    "about_up": "左右（提高）",
    "about_down": "左右（降低）",
}
"""Comparators of ratio targets.

``about`` (左右 with no direction: 维持在70%左右) passes within the pack's tolerance (default
±5 %) on either side; ``about_up`` (提高到90%左右, a rising target) passes at or above the target
less the tolerance, ``about_down`` (27左右 from 31.4, a falling one) at or below the target plus
the tolerance: overshooting in the plan's direction passes."""

ROLES: dict[str, tuple[str, str, list[str]]] = {
    "sub_centre": (
        "县域医疗次中心（分中心）",
        "county medical sub-centre (or branch centre)",
        ["TH-03", "TH-07"],
    ),
    "medical_community_lead": (
        "医共体牵头医院（总医院）",
        "lead hospital of the county medical community",
        ["CH-01"],
    ),
}
"""Roles a plan gives facilities that no facility type says: key → (zh, en, example ids).
A project designates them in ``[roles]`` (facility ids) or by a truthy column of the facility
file that the pack names (``attribute``)."""

MEASURES: dict[str, tuple[str, str]] = {
    "travel_time": ("到最近设施的出行时间（分钟）", "minutes to the nearest facility"),
    "access_2sfca": ("两步移动搜索法可及性（每千人）", "2SFCA access per 1,000 residents"),
}
"""Access measures of ``[[equity]]`` rules."""

ASSIGNMENTS = ("same_unit", "nearest")
"""How a ``[[referral]]`` rule finds a facility's higher-tier facility: the one in the same
township (by the facility file's township column, else the project's township units), else
the nearest by travel time; or always the nearest."""

PRESENCE_SCOPES = ("unit", "facility")
CIRCLE_SOURCE_KEYS = ("indicator", "kind", "source", "mode_note", "note", "attribute")
"""Keys a pack's ``[[circles]]`` table has besides the rule's own (citations, a filter)."""


def compare(value: float, comparator: str, target: float, *, tolerance: float = 0.05) -> bool:
    """``value`` against ``target`` with one of :data:`COMPARATORS`.

    ``about`` passes within ``tolerance`` × |target| on either side, ``about_up`` above the
    target less that, ``about_down`` below the target plus that. Every comparison allows a
    rounding margin of 1e-9 × max(1, |target|).
    """
    eps = 1e-9 * max(1.0, abs(target))
    if comparator == ">=":
        return value >= target - eps
    if comparator == ">":
        return value > target + eps
    if comparator == "<=":
        return value <= target + eps
    if comparator == "<":
        return value < target - eps
    if comparator == "about":
        return abs(value - target) <= tolerance * abs(target) + eps
    if comparator == "about_up":
        return value >= target - tolerance * abs(target) - eps
    if comparator == "about_down":
        return value <= target + tolerance * abs(target) + eps
    raise ConfigError(f"comparator {comparator!r} is not one of {', '.join(COMPARATORS)}")


CAPACITY_COLUMNS: dict[str, tuple[str, ...]] = {
    "beds": (),
    "doctors": (),
    "nurses": (),
    "pharmacists": ("药师（士）数", "药师数", "药师", "pharmacists"),
    "general_practitioners": (
        "全科医生数",
        "全科医师数",
        "全科医生",
        "general_practitioners",
        "gps",
    ),
    "tcm_doctors": (
        "中医类别执业（助理）医师数",
        "中医执业（助理）医师数",
        "中医类别医师数",
        "中医民族医执业（助理）医师数",
        "中医医师数",
        "tcm_doctors",
    ),
    "family_doctors": ("家庭医生数", "家庭医生", "family_doctors"),
    "public_health_staff": ("公共卫生人员数", "公共卫生人员", "public_health_staff"),
    "staff": ("卫生人员数", "在岗职工数", "职工数", "人员数", "staff"),
    "psychiatrists": ("精神科医师数", "精神科执业医师数", "psychiatrists"),
    "psychiatric_nurses": ("精神科注册护士数", "精神科护士数", "psychiatric_nurses"),
    "tcm_beds": ("中医民族医床位数", "中医床位数", "tcm_beds"),
    "technical_staff": (
        "卫生技术人员数",
        "专业技术人员数",
        "卫生技术人员",
        "专业技术人员",
        "technical_staff",
    ),
    "childcare_places": ("托位数", "婴幼儿托位数", "childcare_places"),
    "public_childcare_places": ("普惠托位数", "public_childcare_places"),
    "sports_area_m2": ("体育场地面积", "场地面积", "sports_area_m2"),
}
"""Capacity quantities a ratio may use, with the facility-table headers accepted for each.

``beds``, ``doctors`` and ``nurses`` come from the facility reader's canonical columns; the
others are read from the facility file's own columns (first header that matches, after
:func:`geoplan.taxonomy.normalize_text`). A pack may list its own ``columns`` for a ratio.
"""

QUANTITY_UNITS: dict[str, tuple[str, str]] = {"sports_area_m2": ("平方米", "m²")}
"""Units of quantities that are not counts (a ratio per resident says "m² per resident")."""

PACKS_PACKAGE_DIR = ("data", "packs")


@dataclass(frozen=True)
class Citation:
    """A verbatim quote on one line of a plan text (``sed -n '<line>p' <file>``)."""

    file: str
    line: int
    quote: str

    @property
    def label(self) -> str:
        """``file:line``."""
        return f"{self.file}:{self.line}"


@dataclass(frozen=True)
class RuleSource:
    """Where a rule comes from: its kind and one or more citations (the first is the main one).

    ``mode_note`` says how the travel mode was chosen (circles only); ``note`` holds any
    interpretation the pack makes (scope approximations, derived numbers); ``indicator`` names
    the matching ``indicator_zh`` of ``plan_indicators.csv``, if any (the check's value is
    then that indicator's current value).
    """

    kind: str
    citations: tuple[Citation, ...]
    mode_note: str | None = None
    note: str | None = None
    indicator: str | None = None

    @property
    def label(self) -> str:
        """``file:line`` of the main citation."""
        return self.citations[0].label

    @property
    def kind_en(self) -> str:
        """English gloss of the kind."""
        return KINDS[self.kind]


@dataclass(frozen=True)
class AttributeFilter:
    """Facilities of ``categories`` count only where an attribute column is truthy.

    ``columns`` are accepted headers (e.g. ``中医馆``, ``tcm_hall``); an empty ``categories``
    applies the filter to every facility of the rule.
    """

    columns: tuple[str, ...]
    categories: tuple[str, ...] = ()


@dataclass(frozen=True)
class FacilityFilter:
    """Only facilities whose cell in one of ``columns`` names one of ``values`` count.

    E.g. ``columns = ["等级", "医院等级"]``, ``values = ["二级", "二甲"]`` for the plans'
    二级医院. Cells and values are compared after :func:`geoplan.taxonomy.normalize_text`; a
    cell matches when it contains a value (``二级甲等`` contains ``二级``).
    """

    columns: tuple[str, ...]
    values: tuple[str, ...]
    name_zh: str = ""
    name_en: str = ""

    def matches(self, cell: object) -> bool | None:
        """Whether ``cell`` names one of the values; None for a blank cell (unknown)."""
        if cell is None or (isinstance(cell, float) and cell != cell):
            return None
        text = normalize_text(cell)
        if not text or text in ("nan", "none"):
            return None
        return any(normalize_text(v) in text for v in self.values)

    @property
    def label(self) -> str:
        """``name_zh / name_en``, else the columns and values."""
        if self.name_zh or self.name_en:
            return " / ".join(n for n in (self.name_zh, self.name_en) if n)
        return f"{' / '.join(self.columns)} ∈ {{{', '.join(self.values)}}}"

    def as_dict(self) -> dict:
        """A plain dict for JSON outputs."""
        return {
            "columns": list(self.columns),
            "values": list(self.values),
            "name_zh": self.name_zh,
            "name_en": self.name_en,
        }


@dataclass(frozen=True)
class PresenceRule:
    """A presence rule.

    ``scope = "unit"``: at least ``min_count`` facilities of ``categories`` (with a truthy
    ``attribute`` column when given) in each unit of ``level``, or, with ``within_min``, all
    residents of the unit within that many minutes (``mode``) of one.
    ``scope = "facility"``: each facility of ``categories`` offers the service named by the
    ``attribute`` column (是/有/yes/1/true, or a positive number).

    ``services`` holds one tuple of accepted headers per service; a facility offers what the
    rule asks when it offers every one (TOML ``attribute = [["发热门诊"], ["留观室"]]``; a flat
    list is one service). ``attribute`` is every accepted header, for display. ``where`` limits
    the facilities the rule is about (二级 hospitals); ``reported`` rules state a value and no
    target (a build instruction such as P's "新建社区卫生服务中心中医馆").
    """

    id: str
    name_zh: str
    name_en: str
    scope: str
    categories: tuple[str, ...]
    attribute: tuple[str, ...] = ()
    level: str | None = None
    within_min: float | None = None
    mode: str = "walk"
    min_count: int = 1
    services: tuple[tuple[str, ...], ...] = ()
    where: FacilityFilter | None = None
    reported: bool = False

    def as_dict(self) -> dict:
        """A plain dict for JSON outputs."""
        return {
            "id": self.id,
            "name_zh": self.name_zh,
            "name_en": self.name_en,
            "scope": self.scope,
            "categories": list(self.categories),
            "attribute": list(self.attribute),
            "services": [list(s) for s in self.services],
            "level": self.level,
            "within_min": self.within_min,
            "mode": self.mode,
            "min_count": self.min_count,
            "where": None if self.where is None else self.where.as_dict(),
            "reported": self.reported,
        }


@dataclass(frozen=True)
class RatioTarget:
    """A capacity ratio target, e.g. beds per 1,000 residents ≥ 9, or nurses per doctor ≥ 1.37.

    ``numerator`` and ``denominator`` are keys of :data:`CAPACITY_COLUMNS`; the denominator
    may also be ``population``. The value is ``numerator / denominator * per``.
    ``categories`` (optional) restricts the facilities summed; ``columns`` overrides the
    accepted headers of a non-canonical numerator; ``where`` limits the facilities by a column
    value. ``level`` is where the plan sets the target (default: the pack's ``level``, the
    plan's own area): units below it show their values without a verdict.
    """

    id: str
    name_zh: str
    name_en: str
    numerator: str
    target: float
    denominator: str = "population"
    per: float = 1000.0
    comparator: str = ">="
    categories: tuple[str, ...] = ()
    columns: tuple[str, ...] = ()
    where: FacilityFilter | None = None
    level: str | None = None

    @property
    def unit_label(self) -> str:
        """How the value is expressed: ``per 1,000 residents``, ``m² per resident``,
        ``nurses per doctors``, ``% (tcm_doctors per 100 doctors)``."""
        if self.denominator == "population":
            if self.per == 1:
                unit = QUANTITY_UNITS.get(self.numerator, ("", self.numerator))[1]
                return f"{unit} per resident"
            return f"per {self.per:,.0f} residents"
        if self.per == 100:
            return f"% ({self.numerator} per 100 {self.denominator})"
        scale = "" if self.per == 1 else f" × {self.per:g}"
        return f"{self.numerator} per {self.denominator}{scale}"

    def as_dict(self) -> dict:
        """A plain dict for JSON outputs."""
        return {
            "id": self.id,
            "name_zh": self.name_zh,
            "name_en": self.name_en,
            "numerator": self.numerator,
            "denominator": self.denominator,
            "per": self.per,
            "comparator": self.comparator,
            "target": self.target,
            "categories": list(self.categories),
            "columns": list(self.columns),
            "where": None if self.where is None else self.where.as_dict(),
            "level": self.level,
        }


@dataclass(frozen=True)
class CatchmentRule:
    """``[[catchments]]``: designated sub-centres (``role``) and their 片区.

    Facilities of ``categories`` (any, when empty) designated by the project's ``[roles]``
    or a truthy ``attribute`` column are counted (``min_count``: at least so many; None:
    reported). Every resident goes to the sub-centre reached first by ``mode`` (one
    multi-source search); per 片区 the residents and the population-weighted travel-time
    ``percentiles`` are reported, and judged against ``threshold_min`` (the ``percentile``-th
    percentile at most that many minutes, inclusive) and the population bounds.
    """

    id: str
    name_zh: str
    name_en: str
    role: str
    mode: str
    attribute: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    min_count: int | None = None
    percentiles: tuple[float, ...] = (50.0, 90.0)
    percentile: float = 90.0
    threshold_min: float | None = None
    min_population: float | None = None
    max_population: float | None = None


@dataclass(frozen=True)
class ReferralRule:
    """``[[referral]]``: each facility of ``from_categories`` to its facility of
    ``to_categories`` (optionally only those designated ``to_role``), travel time by ``mode``.

    ``assign``: ``same_unit`` (the higher-tier facility of the same township: the facility
    file's township column ``unit_columns``, else the project's township units; the nearest
    of them when several; the nearest overall when the township has none) or ``nearest``.
    With ``threshold_min`` at least ``target_share`` of the lower tier must be within it
    (inclusive); without, the times are reported.
    """

    id: str
    name_zh: str
    name_en: str
    from_categories: tuple[str, ...]
    to_categories: tuple[str, ...]
    mode: str
    assign: str = "same_unit"
    to_role: str | None = None
    to_attribute: tuple[str, ...] = ()
    unit_columns: tuple[str, ...] = ()
    threshold_min: float | None = None
    target_share: float = 1.0


@dataclass(frozen=True)
class ShareRule:
    """``[[shares]]``: the share of facilities (percent) that have ``attribute`` (a truthy
    column) or whose ``numerator / denominator`` compares with ``facility_target`` by
    ``facility_comparator``, among facilities of ``categories`` with grade level at least
    ``grade_at_least`` (3 三级, 2 二级, 1 一级) and of ``ownership``. ``target`` (percent, by
    ``comparator``) is judged for the whole area (``judged_at = "area"``, the plans' district-wide
    shares; units are reported) or per unit. A blank cell is "incomplete data", never "no".
    """

    id: str
    name_zh: str
    name_en: str
    categories: tuple[str, ...]
    attribute: tuple[str, ...] = ()
    numerator: str | None = None
    denominator: str | None = None
    facility_comparator: str = ">="
    facility_target: float | None = None
    grade_at_least: int | None = None
    ownership: str | None = None
    comparator: str = ">="
    target: float | None = None
    judged_at: str = "area"


@dataclass(frozen=True)
class EquityRule:
    """``[[equity]]``: how evenly access to ``categories`` (by ``mode``) is spread.

    ``measure``: ``travel_time`` (minutes to the nearest facility) or ``access_2sfca``
    (two-step floating catchment supply of ``supply`` — a capacity quantity, or
    ``facilities`` for one per facility — per 1,000 residents within ``cutoff_min``).
    Reported: the population-weighted Gini across residents and across units, the
    concentration index against ``rank_by`` (``density``: residents per km² of the unit, or
    a numeric column of the units layer) and the urban and rural means; ``max_gini`` judges
    the residents' Gini (at most, inclusive).
    """

    id: str
    name_zh: str
    name_en: str
    categories: tuple[str, ...]
    mode: str
    measure: str = "travel_time"
    supply: str = "facilities"
    cutoff_min: float = 15.0
    rank_by: str = "density"
    max_gini: float | None = None


@dataclass(frozen=True)
class NamedUnitRule:
    """``[[named_units]]``: each unit named in ``units`` holds at least ``min_count``
    facilities of ``categories`` (with a truthy ``attribute`` column when given)."""

    id: str
    name_zh: str
    name_en: str
    units: tuple[str, ...]
    categories: tuple[str, ...]
    attribute: tuple[str, ...] = ()
    min_count: int = 1


@dataclass(frozen=True)
class ColocationRule:
    """``[[colocation]]``: each facility of ``categories`` has one of ``with_categories``
    within ``within_m`` metres (straight line, inclusive), or a truthy ``attribute`` column
    saying so (两院一体 = 是). The share of them (percent) is judged by ``comparator`` and
    ``target`` (None: reported)."""

    id: str
    name_zh: str
    name_en: str
    categories: tuple[str, ...]
    with_categories: tuple[str, ...]
    within_m: float
    attribute: tuple[str, ...] = ()
    comparator: str = ">="
    target: float | None = None


@dataclass(frozen=True)
class NotModelled:
    """A plan requirement the pack records but geoplan cannot check, and why."""

    id: str
    name_zh: str
    name_en: str
    reason: str


@dataclass(frozen=True)
class AssumptionOption:
    """One reading of an assumption: the rule keys it sets (``set``) and removes (``unset``)."""

    key: str
    name_zh: str
    name_en: str
    set: Mapping[str, object] = field(default_factory=dict)
    unset: tuple[str, ...] = ()


@dataclass(frozen=True)
class Assumption:
    """A reading of the plan the pack has to choose, named and switchable.

    ``rules`` are the ids it applies to; ``options`` the readings (in the file's order);
    ``default`` the pack's choice and ``chosen`` the one this pack was loaded with.
    """

    id: str
    name_zh: str
    name_en: str
    rules: tuple[str, ...]
    options: Mapping[str, AssumptionOption]
    default: str
    chosen: str
    note: str = ""
    citations: tuple[Citation, ...] = ()

    @property
    def option(self) -> AssumptionOption:
        """The chosen option."""
        return self.options[self.chosen]

    def describe(self) -> str:
        """One line: ``id = chosen (default; also: …)``."""
        others = [k for k in self.options if k != self.chosen]
        mark = "default" if self.chosen == self.default else f"default {self.default}"
        also = f"; also: {', '.join(others)}" if others else ""
        return f"{self.id} = {self.chosen} ({mark}{also})"

    def as_dict(self) -> dict:
        """A plain dict for JSON outputs."""
        return {
            "id": self.id,
            "name_zh": self.name_zh,
            "name_en": self.name_en,
            "rules": list(self.rules),
            "default": self.default,
            "chosen": self.chosen,
            "chosen_zh": self.option.name_zh,
            "chosen_en": self.option.name_en,
            "options": {
                k: {"name_zh": o.name_zh, "name_en": o.name_en} for k, o in self.options.items()
            },
            "note": self.note,
            "sources": [c.label for c in self.citations],
        }


@dataclass(frozen=True)
class Section:
    """A heading of the plan (or a 领域 cell of its indicator table): the rules whose main
    citation follows it, up to the next one, are grouped under it."""

    file: str
    line: int
    quote: str
    title_zh: str
    title_en: str

    def as_dict(self) -> dict:
        """A plain dict for JSON outputs."""
        return {
            "file": self.file,
            "line": self.line,
            "title_zh": self.title_zh,
            "title_en": self.title_en,
        }


@dataclass(frozen=True)
class RulePack:
    """One plan's checkable targets (see the module notes); ``sources`` is keyed by rule id.

    ``access_cutoff_min``/``access_mode`` (``[access]`` in the file) set the catchment of the
    two-step floating catchment (2SFCA) supplement reported beside each per-resident ratio; it
    is geoplan's addition, not a plan target (default: the first circle's threshold and mode,
    else 15 minutes' walk).
    """

    id: str
    name_zh: str
    name_en: str
    circles: tuple[Rule, ...]
    presence: tuple[PresenceRule, ...]
    ratios: tuple[RatioTarget, ...]
    sources: Mapping[str, RuleSource]
    place_zh: str = ""
    place_en: str = ""
    plan_file: str = ""
    period: str = ""
    status: str = ""
    circle_filters: Mapping[str, AttributeFilter] = field(default_factory=dict)
    not_modelled: tuple[NotModelled, ...] = ()
    notes: tuple[str, ...] = ()
    about_tolerance: float = 0.05
    access_cutoff_min: float | None = None
    access_mode: str = "walk"
    path: Path | None = None
    level: str | None = None
    assumptions: tuple[Assumption, ...] = ()
    sections: tuple[Section, ...] = ()
    catchments: tuple[CatchmentRule, ...] = ()
    referrals: tuple[ReferralRule, ...] = ()
    shares: tuple[ShareRule, ...] = ()
    equity: tuple[EquityRule, ...] = ()
    named_units: tuple[NamedUnitRule, ...] = ()
    colocation: tuple[ColocationRule, ...] = ()

    @property
    def network_rules(self) -> tuple:
        """The rules of :data:`KIND_TABLES`, in file order of their kinds."""
        return (
            *self.catchments,
            *self.referrals,
            *self.shares,
            *self.equity,
            *self.named_units,
            *self.colocation,
        )

    @property
    def rule_ids(self) -> tuple[str, ...]:
        """Ids of every rule in pack order: circles, presence, ratios, the kinds of
        :data:`KIND_TABLES`, then not-modelled."""
        return tuple(
            r.id
            for r in (
                *self.circles,
                *self.presence,
                *self.ratios,
                *self.network_rules,
                *self.not_modelled,
            )
        )

    def assumption(self, assumption_id: str) -> Assumption:
        """The assumption named ``assumption_id`` (KeyError if the pack has none)."""
        for item in self.assumptions:
            if item.id == assumption_id:
                return item
        raise KeyError(assumption_id)

    def assumptions_of(self, rule_id: str) -> tuple[Assumption, ...]:
        """The assumptions that apply to a rule."""
        return tuple(a for a in self.assumptions if rule_id in a.rules)

    def section_of(self, rule_id: str) -> Section | None:
        """The plan's heading a rule falls under: the last section at or before its main
        citation's line (in the same file), else None."""
        main = self.sources[rule_id].citations[0]
        found = None
        for section in self.sections:
            if section.file == main.file and section.line <= main.line:
                found = section
        return found


def packs_dir() -> Path:
    """Folder of the bundled rule packs."""
    return Path(str(resources.files("geoplan").joinpath(*PACKS_PACKAGE_DIR)))


def available_packs() -> list[str]:
    """Ids of the bundled rule packs, sorted."""
    folder = packs_dir()
    return sorted(p.stem for p in folder.glob("*.toml")) if folder.is_dir() else []


def load_pack(id_or_path: str | Path, *, assume: Mapping[str, str] | None = None) -> RulePack:
    """Load a bundled pack by id (``leshan_shizhong``) or any pack file by path.

    ``assume`` chooses options of the pack's ``[[assumptions]]`` by id (the others keep their
    defaults).

    Raises
    ------
    ConfigError
        Unknown id, unreadable TOML, a key missing or out of range, or an unknown assumption
        or option (the message names it and the choices).
    """
    text = str(id_or_path)
    path = Path(text)
    if not (path.suffix.lower() == ".toml" or path.exists()):
        if text not in available_packs():
            raise ConfigError(
                f"rule pack {text!r} is neither a bundled pack ({', '.join(available_packs())}) "
                "nor an existing .toml file"
            )
        path = packs_dir() / f"{text}.toml"
    if not path.is_file():
        raise ConfigError(f"rule pack file {path} does not exist")
    data = read_toml(path)
    return pack_from_mapping(data, where=path.name, path=path.resolve(), assume=assume)


def pack_from_mapping(
    data: Mapping,
    *,
    where: str = "pack",
    path: Path | None = None,
    assume: Mapping[str, str] | None = None,
) -> RulePack:
    """Build a :class:`RulePack` from parsed TOML (``[pack]``, ``[[circles]]`` …), with the
    ``[[assumptions]]`` options ``assume`` names (else their defaults) applied to the rules."""
    meta = data.get("pack")
    if not isinstance(meta, Mapping) or "id" not in meta:
        raise ConfigError(f"{where}: missing [pack] table with an 'id'")
    _check_pack_tables(data, where)
    _known_keys(meta, PACK_KEYS, f"{where} [pack]")
    pack_id = str(meta["id"])
    if not RULE_ID_PATTERN.match(pack_id):
        raise ConfigError(f"{where}: pack id {pack_id!r} must be letters, digits and _")
    plan_file = str(meta.get("plan_file", ""))
    level = meta.get("level")
    if level is not None and level not in LEVELS:
        raise ConfigError(f"{where}: [pack] level must be one of {', '.join(LEVELS)}")
    data, assumptions = _apply_assumptions(data, assume or {}, where, plan_file)
    sources: dict[str, RuleSource] = {}
    circles: list[Rule] = []
    filters: dict[str, AttributeFilter] = {}
    for i, table in enumerate(_tables(data, "circles", where)):
        here = f"{where} [[circles]] #{i + 1}"
        rule = rule_from_mapping(
            table, where=f"[[circles]] #{i + 1}", file=where, extra_keys=CIRCLE_SOURCE_KEYS
        )
        circles.append(rule)
        sources[rule.id] = _source(table, here, plan_file, circle=True)
        if "attribute" in table:
            filters[rule.id] = _attribute_filter(table["attribute"], here)
    presence = []
    for i, table in enumerate(_tables(data, "presence", where)):
        here = f"{where} [[presence]] #{i + 1}"
        rule = _presence(table, here)
        presence.append(rule)
        sources[rule.id] = _source(table, here, plan_file)
    ratios = []
    for i, table in enumerate(_tables(data, "ratios", where)):
        here = f"{where} [[ratios]] #{i + 1}"
        rule = _ratio(table, here)
        ratios.append(rule)
        sources[rule.id] = _source(table, here, plan_file)
    skipped = []
    for i, table in enumerate(_tables(data, "not_modelled", where)):
        here = f"{where} [[not_modelled]] #{i + 1}"
        _require(table, ("id", "reason"), here)
        _known_keys(table, (*NOT_MODELLED_KEYS, *SOURCE_KEYS), here)
        item = NotModelled(
            id=_rule_id(table, here),
            name_zh=str(table.get("name_zh", table["id"])),
            name_en=str(table.get("name_en", table["id"])),
            reason=str(table["reason"]),
        )
        skipped.append(item)
        sources[item.id] = _source(table, here, plan_file)
    kinds: dict[str, list] = {}
    for key in KIND_TABLES:
        kinds[key] = []
        for i, table in enumerate(_tables(data, key, where)):
            rule = _kind_rule(key, table, where, i)
            kinds[key].append(rule)
            sources[rule.id] = _source(table, f"{where} [[{key}]] #{i + 1}", plan_file)
    network_rules = [r for rules in kinds.values() for r in rules]
    check_unique_ids([*circles, *presence, *ratios, *network_rules, *skipped], where=where)
    tolerance = float(meta.get("about_tolerance", 0.05))
    if not 0 <= tolerance < 1:
        raise ConfigError(f"{where}: about_tolerance must be within 0..1, got {tolerance}")
    access = data.get("access", {})
    if not isinstance(access, Mapping):
        raise ConfigError(f"{where}: [access] must be a table (cutoff_min, mode)")
    _known_keys(access, ACCESS_KEYS, f"{where} [access]")
    cutoff = access.get("cutoff_min")
    if cutoff is not None and not float(cutoff) > 0:
        raise ConfigError(f"{where}: [access] cutoff_min must be positive")
    access_mode = _mode(access, f"{where} [access]")
    return RulePack(
        id=pack_id,
        name_zh=str(meta.get("name_zh", pack_id)),
        name_en=str(meta.get("name_en", pack_id)),
        circles=tuple(circles),
        presence=tuple(presence),
        ratios=tuple(ratios),
        sources=sources,
        place_zh=str(meta.get("place_zh", "")),
        place_en=str(meta.get("place_en", "")),
        plan_file=plan_file,
        period=str(meta.get("period", "")),
        status=str(meta.get("status", "")),
        circle_filters=filters,
        not_modelled=tuple(skipped),
        notes=tuple(str(n) for n in meta.get("notes", ())),
        about_tolerance=tolerance,
        access_cutoff_min=None if cutoff is None else float(cutoff),
        access_mode=access_mode,
        path=path,
        level=None if level is None else str(level),
        assumptions=assumptions,
        sections=_sections(data, where, plan_file),
        catchments=tuple(kinds["catchments"]),
        referrals=tuple(kinds["referral"]),
        shares=tuple(kinds["shares"]),
        equity=tuple(kinds["equity"]),
        named_units=tuple(kinds["named_units"]),
        colocation=tuple(kinds["colocation"]),
    )


def _check_default_reading(
    rule: Mapping, option: AssumptionOption, where: str, rule_id: str
) -> None:
    """The rule's own table must already read as the default option says: a value written
    in both places that disagrees would be silently replaced by the option's."""
    differ = [k for k, v in option.set.items() if k in rule and rule[k] != v]
    differ += [k for k in option.unset if k in rule]
    if differ:
        raise ConfigError(
            f"{where}: rule {rule_id!r} disagrees with the default reading {option.key!r} on "
            f"{', '.join(differ)}; write the rule as the default reads it / 规则与默认读法不一致"
        )


def _apply_assumptions(
    data: Mapping, assume: Mapping[str, str], where: str, plan_file: str
) -> tuple[Mapping, tuple[Assumption, ...]]:
    """``data`` with every assumption's chosen option applied to its rules' tables."""
    tables = _tables(data, "assumptions", where)
    known = [str(t.get("id")) for t in tables]
    for name in assume:
        if name not in known:
            choices = ", ".join(known) or "none"
            raise ConfigError(
                f"{where}: 规则包没有这个读法 / unknown assumption {name!r}; this pack has: "
                f"{choices}"
            )
    rule_tables = {
        str(t["id"]): (key, k)
        for key, value in data.items()
        if key not in ("assumptions", "sections") and isinstance(value, list)
        for k, t in enumerate(value)
        if isinstance(t, Mapping) and "id" in t
    }
    out = {k: [dict(t) for t in v] if isinstance(v, list) else v for k, v in data.items()}
    result = []
    for i, table in enumerate(tables):
        here = f"{where} [[assumptions]] #{i + 1}"
        _require(table, ("id", "rules", "default", "options"), here)
        assumption_id = _rule_id(table, here)
        _known_keys(table, (*ASSUMPTION_KEYS, *SOURCE_KEYS), f"{here} {assumption_id}")
        rules = _strings(table["rules"], here, "rules")
        missing = [r for r in rules if r not in rule_tables]
        if not rules or missing:
            raise ConfigError(
                f"{here} {assumption_id}: rules {missing or '[]'} are not in the pack"
            )
        raw = table["options"]
        if not isinstance(raw, Mapping) or not raw:
            raise ConfigError(f"{here} {assumption_id}: options must be a table of options")
        options = {}
        for key, option in raw.items():
            if not isinstance(option, Mapping) or not isinstance(option.get("set", {}), Mapping):
                raise ConfigError(f"{here} {assumption_id}: option {key!r} needs set = {{…}}")
            _known_keys(option, OPTION_KEYS, f"{here} {assumption_id} option {key!r}")
            options[str(key)] = AssumptionOption(
                key=str(key),
                name_zh=str(option.get("name_zh", key)),
                name_en=str(option.get("name_en", key)),
                set=dict(option.get("set", {})),
                unset=_strings(option.get("unset", []), here, "unset"),
            )
        default = str(table["default"])
        chosen = str(assume.get(assumption_id, default))
        for name, value in (("default", default), ("chosen", chosen)):
            if value not in options:
                raise ConfigError(
                    f"{here} {assumption_id}: 没有这个选项 / {name} option {value!r} is not one "
                    f"of {', '.join(options)}"
                )
        for rule_id in rules:
            key, k = rule_tables[rule_id]
            rule = out[key][k]
            _check_default_reading(rule, options[default], f"{here} {assumption_id}", rule_id)
            rule.update(options[chosen].set)
            for name in options[chosen].unset:
                rule.pop(name, None)
        citations = ()
        if "source" in table:
            citations = _source({**table, "kind": "未标明"}, here, plan_file).citations
        result.append(
            Assumption(
                id=assumption_id,
                name_zh=str(table.get("name_zh", assumption_id)),
                name_en=str(table.get("name_en", assumption_id)),
                rules=rules,
                options=options,
                default=default,
                chosen=chosen,
                note=str(table.get("note", "")),
                citations=citations,
            )
        )
    return out, tuple(result)


def _sections(data: Mapping, where: str, plan_file: str) -> tuple[Section, ...]:
    sections = []
    for i, table in enumerate(_tables(data, "sections", where)):
        here = f"{where} [[sections]] #{i + 1}"
        _require(table, ("line", "title"), here)
        _known_keys(table, SECTION_KEYS, here)
        line = table["line"]
        if not isinstance(line, int) or line < 1:
            raise ConfigError(f"{here}: line must be a line number ≥ 1")
        title = str(table["title"])
        sections.append(
            Section(
                file=str(table.get("file", plan_file)),
                line=line,
                quote=str(table.get("quote", title)),
                title_zh=title,
                title_en=str(table.get("title_en", title)),
            )
        )
    return tuple(sorted(sections, key=lambda s: (s.file, s.line)))


def _tables(data: Mapping, key: str, where: str) -> list[Mapping]:
    tables = data.get(key, [])
    if not isinstance(tables, list) or not all(isinstance(t, Mapping) for t in tables):
        raise ConfigError(f"{where}: {key} must be an array of tables ([[{key}]])")
    return tables


def _require(table: Mapping, keys: Iterable[str], where: str) -> None:
    missing = [k for k in keys if k not in table]
    if missing:
        raise ConfigError(f"{where}: missing key(s) {', '.join(missing)}")


def _rule_id(table: Mapping, where: str) -> str:
    rule_id = str(table["id"])
    if not RULE_ID_PATTERN.match(rule_id):
        raise ConfigError(
            f"{where}: id {rule_id!r} must start with a letter and use only letters, digits and _"
        )
    return rule_id


def _mode(table: Mapping, where: str) -> str:
    mode = str(table.get("mode", "walk"))
    if mode not in MODES:
        raise ConfigError(f"{where}: mode {mode!r} is not one of {', '.join(MODES)}")
    return mode


def _strings(value: object, where: str, key: str) -> tuple[str, ...]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
        raise ConfigError(f"{where}: {key} must be a string or a list of strings")
    return tuple(value)


def _source(table: Mapping, where: str, plan_file: str, *, circle: bool = False) -> RuleSource:
    _require(table, ("kind", "source"), where)
    kind = str(table["kind"])
    if kind not in KINDS:
        raise ConfigError(f"{where}: kind {kind!r} is not one of {', '.join(KINDS)}")
    raw = table["source"]
    raw = [raw] if isinstance(raw, Mapping) else raw
    if not isinstance(raw, list) or not raw:
        raise ConfigError(f"{where}: source must be a table {{file, line, quote}} or a list")
    citations = []
    for item in raw:
        if not isinstance(item, Mapping) or "line" not in item or "quote" not in item:
            raise ConfigError(f"{where}: each source needs line and quote (file defaults)")
        file = str(item.get("file", citations[0].file if citations else plan_file))
        line = item["line"]
        if not file or not isinstance(line, int) or line < 1 or not str(item["quote"]):
            raise ConfigError(f"{where}: source needs a file name, a line ≥ 1 and a quote")
        citations.append(Citation(file, line, str(item["quote"])))
    mode_note = table.get("mode_note")
    if circle and not mode_note:
        raise ConfigError(f"{where}: circles need a mode_note (does the plan state the mode?)")
    note = table.get("note")
    indicator = table.get("indicator")
    return RuleSource(
        kind=kind,
        citations=tuple(citations),
        mode_note=None if mode_note is None else str(mode_note),
        note=None if note is None else str(note),
        indicator=None if indicator is None else str(indicator),
    )


def _attribute_filter(value: object, where: str) -> AttributeFilter:
    if not isinstance(value, Mapping) or "columns" not in value:
        raise ConfigError(f"{where}: attribute must be a table {{columns = [...], categories}}")
    return AttributeFilter(
        columns=_strings(value["columns"], where, "attribute.columns"),
        categories=_strings(value.get("categories", []), where, "attribute.categories"),
    )


PRESENCE_KEYS = (
    "id",
    "name_zh",
    "name_en",
    "scope",
    "categories",
    "attribute",
    "level",
    "within_min",
    "mode",
    "min_count",
    "reported",
    "where",
)
"""The keys of a ``[[presence]]`` rule besides its citation (:data:`SOURCE_KEYS`)."""
RATIO_KEYS = (
    "id",
    "name_zh",
    "name_en",
    "numerator",
    "target",
    "denominator",
    "per",
    "comparator",
    "categories",
    "columns",
    "where",
    "level",
)
"""The keys of a ``[[ratios]]`` rule besides its citation (:data:`SOURCE_KEYS`)."""


PACK_KEYS = (
    "id",
    "name_zh",
    "name_en",
    "place_zh",
    "place_en",
    "plan_file",
    "period",
    "status",
    "level",
    "about_tolerance",
    "notes",
)
"""The keys of a pack's ``[pack]`` table."""
ACCESS_KEYS = ("cutoff_min", "mode")
"""The keys of a pack's ``[access]`` table."""
NOT_MODELLED_KEYS = ("id", "name_zh", "name_en", "reason")
"""The keys of a ``[[not_modelled]]`` entry besides its citation (:data:`SOURCE_KEYS`)."""
ASSUMPTION_KEYS = ("id", "name_zh", "name_en", "rules", "default", "options")
"""The keys of an ``[[assumptions]]`` entry besides its citation (:data:`SOURCE_KEYS`)."""
OPTION_KEYS = ("name_zh", "name_en", "set", "unset")
"""The keys of one option of an ``[[assumptions]]`` entry."""
SECTION_KEYS = ("line", "title", "title_en", "file", "quote")
"""The keys of a ``[[sections]]`` heading."""


def _known_keys(table: Mapping, known: tuple[str, ...], where: str) -> None:
    """Refuse a key the pack's reader does not read (a misspelt ``min_count`` would change a
    figure without a word), naming the closest known one."""
    for name in table:
        if name in known:
            continue
        close = difflib.get_close_matches(str(name), known, n=1, cutoff=0.6)
        if close:
            en, zh = f"did you mean `{close[0]}`?", f"，应为 `{close[0]}`？"
        else:
            en, zh = f"known keys: {', '.join(known)}", ""
        raise ConfigError(
            f"{where}: `{name}`: unknown key; {en} / {where} 中没有 `{name}` 这个键{zh}"
        )


def _presence(table: Mapping, where: str) -> PresenceRule:
    _require(table, ("id", "scope", "categories"), where)
    rule_id = _rule_id(table, where)
    _known_keys(table, (*PRESENCE_KEYS, *SOURCE_KEYS), f"{where} {rule_id}")
    scope = str(table["scope"])
    if scope not in PRESENCE_SCOPES:
        raise ConfigError(f"{where} {rule_id}: scope must be one of {', '.join(PRESENCE_SCOPES)}")
    categories = _strings(table["categories"], where, "categories")
    if not categories:
        raise ConfigError(f"{where} {rule_id}: categories is empty")
    services = _services(table.get("attribute", []), f"{where} {rule_id}")
    attribute = tuple(h for service in services for h in service)
    level = table.get("level")
    if scope == "unit" and level not in LEVELS:
        raise ConfigError(f"{where} {rule_id}: unit rules need level = one of {', '.join(LEVELS)}")
    if scope == "facility" and not attribute:
        raise ConfigError(f"{where} {rule_id}: facility rules need attribute (column headers)")
    within = table.get("within_min")
    if within is not None and not float(within) > 0:
        raise ConfigError(f"{where} {rule_id}: within_min must be positive")
    mode = _mode(table, f"{where} {rule_id}")
    min_count = int(table.get("min_count", 1))
    if min_count < 1:
        raise ConfigError(f"{where} {rule_id}: min_count must be ≥ 1")
    reported = table.get("reported", False)
    if not isinstance(reported, bool):
        raise ConfigError(f"{where} {rule_id}: reported must be true or false")
    return PresenceRule(
        id=rule_id,
        name_zh=str(table.get("name_zh", rule_id)),
        name_en=str(table.get("name_en", rule_id)),
        scope=scope,
        categories=categories,
        attribute=attribute,
        level=None if level is None else str(level),
        within_min=None if within is None else float(within),
        mode=mode,
        min_count=min_count,
        services=services,
        where=_facility_filter(table.get("where"), f"{where} {rule_id}"),
        reported=reported,
    )


def _services(value: object, where: str) -> tuple[tuple[str, ...], ...]:
    """``attribute``: a list of headers (one service) or a list of such lists (all needed)."""
    if isinstance(value, list) and value and all(isinstance(v, list) for v in value):
        services = tuple(_strings(v, where, "attribute") for v in value)
        if not all(services):
            raise ConfigError(f"{where}: attribute has an empty list of headers")
        return services
    headers = _strings(value, where, "attribute")
    return (headers,) if headers else ()


FACILITY_FILTER = Table(
    "where",
    "设施筛选",
    "Only facilities whose cell in one of the columns names one of the values count "
    "(a presence or ratio rule's where = {…}; e.g. the plans' 二级医院)",
    "仅统计指定列中含有所列取值的设施（如二级医院）",
    (
        Key(
            "columns",
            ListOf(Text(), single=True, non_empty=True),
            "Accepted headers of the facility file's column",
            "设施表中该字段的可接受列名",
            required=True,
            example=["医院等级", "等级"],
        ),
        Key(
            "values",
            ListOf(Text(), single=True, non_empty=True),
            "Values a cell names (a cell containing one counts: 二级甲等 contains 二级)",
            "取值（单元格包含其一即计入）",
            required=True,
            example=["二级", "二甲"],
        ),
        Key("name_zh", Text(), "Chinese name of the facilities kept", "所筛选设施的中文名称"),
        Key("name_en", Text(), "English name of the facilities kept", "所筛选设施的英文名称"),
    ),
)
"""A pack rule's ``where = {…}`` (:class:`FacilityFilter`): unknown keys are refused."""


def _facility_filter(value: object, where: str) -> FacilityFilter | None:
    if value is None:
        return None
    table = check_table(FACILITY_FILTER, value, file=where, label="where")
    return FacilityFilter(
        columns=tuple(table["columns"]),
        values=tuple(table["values"]),
        name_zh=table.get("name_zh", ""),
        name_en=table.get("name_en", ""),
    )


def _ratio(table: Mapping, where: str) -> RatioTarget:
    _require(table, ("id", "numerator", "target"), where)
    rule_id = _rule_id(table, where)
    _known_keys(table, (*RATIO_KEYS, *SOURCE_KEYS), f"{where} {rule_id}")
    columns = _strings(table.get("columns", []), where, "columns")
    numerator = str(table["numerator"])
    denominator = str(table.get("denominator", "population"))
    for key in (numerator, denominator):
        if key != "population" and key not in CAPACITY_COLUMNS and not columns:
            raise ConfigError(
                f"{where} {rule_id}: {key!r} is not one of {', '.join(CAPACITY_COLUMNS)}; "
                "give its column headers in columns = [...]"
            )
    comparator = str(table.get("comparator", ">="))
    if comparator not in COMPARATORS:
        raise ConfigError(
            f"{where} {rule_id}: comparator {comparator!r} is not one of {', '.join(COMPARATORS)}"
        )
    try:
        target = float(table["target"])
        per = float(table.get("per", 1000))
    except (TypeError, ValueError):
        raise ConfigError(f"{where} {rule_id}: target and per must be numbers") from None
    if not per > 0:
        raise ConfigError(f"{where} {rule_id}: per must be positive")
    level = table.get("level")
    if level is not None and level not in LEVELS:
        raise ConfigError(f"{where} {rule_id}: level must be one of {', '.join(LEVELS)}")
    return RatioTarget(
        id=rule_id,
        name_zh=str(table.get("name_zh", rule_id)),
        name_en=str(table.get("name_en", rule_id)),
        numerator=numerator,
        target=target,
        denominator=denominator,
        per=per,
        comparator=comparator,
        categories=_strings(table.get("categories", []), where, "categories"),
        columns=columns,
        where=_facility_filter(table.get("where"), f"{where} {rule_id}"),
        level=None if level is None else str(level),
    )


# ----------------------------------------------------------------------------- further kinds

KIND_TABLES: tuple[str, ...] = (
    "catchments",
    "referral",
    "shares",
    "equity",
    "named_units",
    "colocation",
)
"""The pack tables beyond circles, presence and ratios (``[[catchments]]`` …), in rule order;
:func:`kind_table` gives each one's schema."""

KIND_RULE_TYPES: dict[str, tuple[str, str]] = {
    "catchment": ("次中心与片区", "sub-centres and 片区"),
    "referral": ("转诊", "referral"),
    "share": ("设施比例", "share of facilities"),
    "equity": ("公平性", "equity"),
    "named_unit": ("指定单元", "named unit"),
    "colocation": ("同址设置", "co-location"),
}
"""``rule_type`` of the checks.csv rows the kinds of :data:`KIND_TABLES` write (zh, en)."""

PACK_TABLES: tuple[str, ...] = (
    "pack",
    "access",
    "circles",
    "presence",
    "ratios",
    *KIND_TABLES,
    "not_modelled",
    "assumptions",
    "sections",
)
"""Every top-level table a pack may hold (anything else is refused, with the closest name)."""

SOURCE_KEYS = ("kind", "source", "note", "indicator")
"""Citation keys every pack rule has besides its own (read by :func:`_source`)."""


@functools.cache
def kind_table(key: str) -> Table:
    """The schema (:class:`geoplan.schema.Table`) of one of :data:`KIND_TABLES`."""
    name = Text()
    names = ListOf(name, single=True, non_empty=True)
    common = (
        Key(
            "id",
            Text(RULE_ID_PATTERN.pattern, "an id: a letter, then letters, digits or _"),
            "Rule id",
            "规则编号",
            required=True,
            example="referral_village",
        ),
        Key("name_zh", name, "Chinese name", "中文名称", default_from="id"),
        Key("name_en", name, "English name", "英文名称", default_from="id"),
    )
    mode = Key("mode", OneOf(MODES), "Travel mode", "出行方式", required=True, example="drive")
    categories = Key(
        "categories",
        names,
        "Facility categories or groups (see geoplan.taxonomy)",
        "设施类别或类组",
        required=True,
        example=["township_hospital"],
    )
    attribute = Key(
        "attribute",
        ListOf(name, single=True),
        "Accepted headers of a yes/no column of the facility file (是/有/yes/1 …)",
        "设施表中是/否字段的可接受列名",
        example=["老年医学科"],
    )
    comparator = Key(
        "comparator",
        OneOf(tuple(c for c in COMPARATORS if c != "about")),
        "How the value is compared with the target",
        "比较方式",
        ">=",
    )
    percent_target = Key(
        "target",
        Number(0, 100),
        "Target share of the facilities (percent; absent: reported only)",
        "目标比例（%）",
        unit="%",
        example=95,
    )
    keys = {
        "catchments": (
            Key(
                "role",
                OneOf(tuple(ROLES)),
                "The role that designates the sub-centres ([roles] in the project, or the "
                "attribute column)",
                "指定次中心的角色",
                "sub_centre",
            ),
            attribute,
            Key(
                "categories",
                ListOf(name, single=True),
                "Only designated facilities of these categories count (default: any)",
                "仅统计这些类别的被指定设施",
                example=["township_hospital", "central_township_hospital"],
            ),
            mode,
            Key(
                "min_count",
                Number(0, integer=True),
                "At least this many designated sub-centres (absent: the count is reported)",
                "次中心数量目标（不少于）",
                example=3,
            ),
            Key(
                "percentiles",
                ListOf(Number(0, 100, low_open=True), single=True, non_empty=True, distinct=True),
                "Population-weighted travel-time percentiles reported per 片区",
                "各片区报告的人口加权出行时间百分位",
                [50, 90],
                unit="%",
            ),
            Key(
                "percentile",
                Number(0, 100, low_open=True),
                "The percentile judged against threshold_min",
                "与 threshold_min 比较的百分位",
                90,
                unit="%",
            ),
            Key(
                "threshold_min",
                Number(0, 240, low_open=True),
                "Each 片区's percentile-th travel time at most this (inclusive; absent: reported)",
                "各片区该百分位出行时间上限（含）",
                unit="minutes",
                example=30,
            ),
            Key(
                "min_population",
                Number(0),
                "Each 片区 serves at least this many residents",
                "片区服务人口下限",
                unit="persons",
            ),
            Key(
                "max_population",
                Number(0, low_open=True),
                "Each 片区 serves at most this many residents",
                "片区服务人口上限",
                unit="persons",
            ),
        ),
        "referral": (
            Key(
                "from_categories",
                names,
                "The lower tier: its facilities are referred upwards",
                "下级（转出）设施类别",
                required=True,
                aliases=("from", "lower"),
                example=["village_clinic"],
            ),
            Key(
                "to_categories",
                names,
                "The higher tier they are referred to",
                "上级（接收）设施类别",
                required=True,
                aliases=("to", "upper"),
                example=["township_hospital", "central_township_hospital"],
            ),
            Key(
                "to_role",
                OneOf(tuple(ROLES)),
                "Only higher-tier facilities designated with this role ([roles] or to_attribute)",
                "仅接收被指定该角色的上级设施",
                example="medical_community_lead",
            ),
            Key(
                "to_attribute",
                ListOf(name, single=True),
                "Headers of a yes/no column designating the higher tier's facilities "
                "(with to_role)",
                "指定上级设施的是/否字段",
                example=["医共体总医院"],
            ),
            Key(
                "assign",
                OneOf(ASSIGNMENTS),
                "same_unit: the higher-tier facility of the same township (else the nearest); "
                "nearest: always the nearest by travel time",
                "same_unit：同一乡镇的上级设施（无则最近）；nearest：出行时间最近的上级设施",
                "same_unit",
            ),
            Key(
                "unit_columns",
                ListOf(name, single=True),
                "Headers of the facility file's township column (default: 所属乡镇, 乡镇（街道）, "
                "乡镇, 街道, township); without it the project's township units decide",
                "设施表中所属乡镇字段的可接受列名",
                example=["所属乡镇"],
            ),
            mode,
            Key(
                "threshold_min",
                Number(0, 240, low_open=True),
                "Referral travel time at most this (inclusive; absent: reported)",
                "转诊出行时间上限（含）",
                unit="minutes",
                example=30,
            ),
            Key(
                "target_share",
                Number(0, 1),
                "Share of the lower tier within threshold_min (1.0 = every facility)",
                "下级设施中在时限内的比例目标",
                1.0,
            ),
        ),
        "shares": (
            categories,
            attribute,
            Key(
                "numerator",
                Text(),
                f"Per-facility ratio: numerator ({', '.join(CAPACITY_COLUMNS)})",
                "单个设施比值的分子",
                example="public_health_staff",
            ),
            Key(
                "denominator",
                Text(),
                f"Per-facility ratio: denominator ({', '.join(CAPACITY_COLUMNS)})",
                "单个设施比值的分母",
                example="technical_staff",
            ),
            Key(
                "facility_comparator",
                OneOf(tuple(c for c in COMPARATORS if c != "about")),
                "How each facility's ratio is compared with facility_target",
                "单个设施比值的比较方式",
                ">=",
            ),
            Key(
                "facility_target",
                Number(),
                "The per-facility ratio each facility must meet (e.g. 0.25 = 25 %)",
                "单个设施比值目标",
                example=0.25,
            ),
            Key(
                "grade_at_least",
                Number(1, 3, integer=True),
                "Only facilities of at least this grade level (3 三级, 2 二级, 1 一级)",
                "仅统计该等级及以上（3 三级，2 二级，1 一级）",
                example=2,
            ),
            Key(
                "ownership",
                OneOf(tuple(OWNERSHIPS)),
                "Only facilities of this ownership (public 公立 / private 民营)",
                "仅统计该所有制（public 公立 / private 民营）",
                example="public",
            ),
            comparator,
            percent_target,
            Key(
                "judged_at",
                OneOf(("area", "unit")),
                "area: the target holds for the whole area (units are reported); "
                "unit: in each unit",
                "area：对全区判断（各单元仅报告）；unit：逐单元判断",
                "area",
            ),
        ),
        "equity": (
            categories,
            mode,
            Key("measure", OneOf(tuple(MEASURES)), "Access measure", "可及性度量", "travel_time"),
            Key(
                "supply",
                Text(),
                f"Supply of access_2sfca: facilities (one each) or {', '.join(CAPACITY_COLUMNS)}",
                "两步移动搜索法的供给量",
                "facilities",
                example="beds",
            ),
            Key(
                "cutoff_min",
                Number(0, 240, low_open=True),
                "Catchment of access_2sfca",
                "两步移动搜索法的搜索半径（分钟）",
                15.0,
                unit="minutes",
            ),
            Key(
                "rank_by",
                Text(),
                "Ranking of the concentration index: density (residents per km² of the unit) "
                "or a numeric column of the units layer (e.g. 人均可支配收入)",
                "集中指数的排序变量：density（单元人口密度）或单元图层的数值字段",
                "density",
            ),
            Key(
                "max_gini",
                Number(0, 1),
                "The residents' Gini at most this (absent: reported)",
                "居民基尼系数上限",
                example=0.3,
            ),
        ),
        "named_units": (
            Key(
                "units",
                names,
                "Names of the units (as the plan names them: 海棠街道 …)",
                "单元名称",
                required=True,
                example=["海棠街道", "全福街道"],
            ),
            categories,
            attribute,
            Key(
                "min_count",
                Number(1, integer=True),
                "At least this many facilities in each named unit",
                "每个单元的设施数量下限",
                1,
            ),
        ),
        "colocation": (
            categories,
            Key(
                "with_categories",
                names,
                "The partner facilities (one within within_m of each facility)",
                "须同址或邻近的设施类别",
                required=True,
                aliases=("with", "partner", "partners"),
                example=["elderly_care"],
            ),
            Key(
                "within_m",
                Number(0, 10_000),
                "Straight-line distance counted as the same site (inclusive)",
                "视为同址的直线距离（含）",
                required=True,
                unit="m",
                example=100,
            ),
            attribute,
            comparator,
            percent_target,
        ),
    }[key]
    title = {
        "catchments": ("县域医疗次中心与片区", "county sub-centres and their 片区"),
        "referral": ("医共体转诊", "medical-community referral"),
        "shares": ("设施属性比例", "share of facilities with an attribute"),
        "equity": ("城乡公平", "urban–rural equity"),
        "named_units": ("指定单元设置", "named units"),
        "colocation": ("同址设置", "co-location"),
    }[key]
    return Table(key, title[0], title[1], title[0], (*common, *keys), shape="array")


def _kind_rule(key: str, table: Mapping, where: str, index: int):
    """One rule of ``[[key]]``, checked against :func:`kind_table` (citations passed through)."""
    here = f"[[{key}]] #{index + 1}"
    values = check_table(kind_table(key), table, file=where, label=here, extra=SOURCE_KEYS)
    values = {k: v for k, v in values.items() if k not in SOURCE_KEYS}
    for name in ("categories", "from_categories", "to_categories", "with_categories"):
        if name in values:
            values[name] = tuple(values[name])
    for name in ("attribute", "to_attribute", "unit_columns", "units"):
        if name in values:
            values[name] = tuple(values[name])
    prefix = f"{where}: {here} {values['id']}"
    if key == "catchments":
        values["percentiles"] = tuple(sorted(float(p) for p in values["percentiles"]))
        low, high = values.get("min_population"), values.get("max_population")
        if low is not None and high is not None and low > high:
            raise ConfigError(f"{prefix}: min_population is above max_population")
        return CatchmentRule(**values)
    if key == "referral":
        if values.get("to_attribute") and not values.get("to_role"):
            raise ConfigError(f"{prefix}: to_attribute needs to_role (the role it designates)")
        return ReferralRule(**values)
    if key == "shares":
        ratio = [values.get(k) is not None for k in ("numerator", "denominator", "facility_target")]
        if any(ratio) and not all(ratio):
            raise ConfigError(
                f"{prefix}: a per-facility ratio needs numerator, denominator and facility_target"
            )
        if all(ratio) == bool(values.get("attribute")):
            raise ConfigError(
                f"{prefix}: give either attribute (a yes/no column) or a per-facility ratio "
                "(numerator, denominator, facility_target)"
            )
        return ShareRule(**values)
    if key == "equity":
        if values["measure"] == "access_2sfca":
            supply = values["supply"]
            if supply != "facilities" and supply not in CAPACITY_COLUMNS:
                raise ConfigError(
                    f"{prefix}: supply {supply!r} is not facilities or one of "
                    f"{', '.join(CAPACITY_COLUMNS)}"
                )
        return EquityRule(**values)
    if key == "named_units":
        return NamedUnitRule(**values)
    return ColocationRule(**values)


def _check_pack_tables(data: Mapping, where: str) -> None:
    """Refuse a table a pack cannot hold (``[[referal]]`` would be silently ignored)."""
    for name in data:
        if name in PACK_TABLES:
            continue
        close = difflib.get_close_matches(str(name), PACK_TABLES, n=1, cutoff=0.6)
        hint = f"did you mean [[{close[0]}]]?" if close else f"known: {', '.join(PACK_TABLES)}"
        raise ConfigError(
            f"{where}: [{name}]: unknown table in a rule pack; {hint} / "
            f"规则包中没有 [{name}] 这个表"
        )
