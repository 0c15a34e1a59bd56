"""Rule packs: one local plan's checkable targets, each citing the plan text.

A rule pack is one local plan's checkable targets: the travel-time circles (ordinary
:class:`Rule` objects), presence rules per unit or per facility, and capacity ratios per
1,000 / 10,000 / 100,000 residents. Every rule cites the plan text it comes from (file, line,
verbatim quote) and its kind. Packs are TOML files bundled under ``geoplan/data/packs``;
users copy one, edit it and pass its path instead of an id.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from .._io import read_toml
from ..analysis.rules import MODES, RULE_ID_PATTERN, Rule, check_unique_ids, rule_from_mapping
from ..errors import ConfigError

__all__ = [
    "CAPACITY_COLUMNS",
    "CIRCLE_SOURCE_KEYS",
    "COMPARATORS",
    "KINDS",
    "LEVELS",
    "PACKS_PACKAGE_DIR",
    "PRESENCE_SCOPES",
    "AttributeFilter",
    "Citation",
    "NotModelled",
    "PresenceRule",
    "RatioTarget",
    "RulePack",
    "RuleSource",
    "available_packs",
    "compare",
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
        "中医医师数",
        "tcm_doctors",
    ),
    "family_doctors": ("家庭医生数", "家庭医生", "family_doctors"),
    "public_health_staff": ("公共卫生人员数", "公共卫生人员", "public_health_staff"),
    "staff": ("卫生人员数", "在岗职工数", "职工数", "人员数", "staff"),
    "psychiatrists": ("精神科医师数", "精神科执业医师数", "psychiatrists"),
    "psychiatric_nurses": ("精神科注册护士数", "精神科护士数", "psychiatric_nurses"),
    "tcm_beds": ("中医民族医床位数", "中医床位数", "tcm_beds"),
    "childcare_places": ("托位数", "childcare_places"),
    "sports_area_m2": ("体育场地面积", "场地面积", "sports_area_m2"),
}
"""Capacity quantities a ratio may use, with the facility-table headers accepted for each.

``beds``, ``doctors`` and ``nurses`` come from the facility reader's canonical columns; the
others are read from the facility file's own columns (first header that matches, after
:func:`geoplan.taxonomy.normalize_text`). A pack may list its own ``columns`` for a ratio.
"""

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
class PresenceRule:
    """A presence rule.

    ``scope = "unit"``: at least ``min_count`` facilities of ``categories`` (with a truthy
    ``attribute`` column when given) in each unit of ``level``, or, with ``within_min``, all
    residents of the unit within that many minutes (``mode``) of one.
    ``scope = "facility"``: each facility of ``categories`` offers the service named by the
    ``attribute`` column (是/有/yes/1/true, or a positive number).
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

    def as_dict(self) -> dict:
        """A plain dict for JSON outputs."""
        return {
            "id": self.id,
            "name_zh": self.name_zh,
            "name_en": self.name_en,
            "scope": self.scope,
            "categories": list(self.categories),
            "attribute": list(self.attribute),
            "level": self.level,
            "within_min": self.within_min,
            "mode": self.mode,
            "min_count": self.min_count,
        }


@dataclass(frozen=True)
class RatioTarget:
    """A capacity ratio target, e.g. beds per 1,000 residents ≥ 9, or nurses per doctor ≥ 1.37.

    ``numerator`` and ``denominator`` are keys of :data:`CAPACITY_COLUMNS`; the denominator
    may also be ``population``. The value is ``numerator / denominator * per``.
    ``categories`` (optional) restricts the facilities summed; ``columns`` overrides the
    accepted headers of a non-canonical numerator.
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

    @property
    def unit_label(self) -> str:
        """How the value is expressed, e.g. ``per 1,000 residents`` or ``nurses per doctor``."""
        if self.denominator == "population":
            return f"per {self.per:,.0f} residents"
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
        }


@dataclass(frozen=True)
class NotModelled:
    """A plan requirement the pack records but geoplan cannot check, and why."""

    id: str
    name_zh: str
    name_en: str
    reason: str


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

    @property
    def rule_ids(self) -> tuple[str, ...]:
        """Ids of every rule in pack order: circles, presence, ratios, then not-modelled."""
        return tuple(
            r.id for r in (*self.circles, *self.presence, *self.ratios, *self.not_modelled)
        )


def packs_dir() -> Path:
    """Folder of the bundled rule packs."""
    return Path(str(resources.files("geoplan").joinpath(*PACKS_PACKAGE_DIR)))


def available_packs() -> list[str]:
    """Ids of the bundled rule packs, sorted."""
    folder = packs_dir()
    return sorted(p.stem for p in folder.glob("*.toml")) if folder.is_dir() else []


def load_pack(id_or_path: str | Path) -> RulePack:
    """Load a bundled pack by id (``leshan_shizhong``) or any pack file by path.

    Raises
    ------
    ConfigError
        Unknown id, unreadable TOML, or a key missing or out of range (the message names it).
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
    return pack_from_mapping(data, where=path.name, path=path.resolve())


def pack_from_mapping(data: Mapping, *, where: str = "pack", path: Path | None = None) -> RulePack:
    """Build a :class:`RulePack` from parsed TOML (``[pack]``, ``[[circles]]`` …)."""
    meta = data.get("pack")
    if not isinstance(meta, Mapping) or "id" not in meta:
        raise ConfigError(f"{where}: missing [pack] table with an 'id'")
    pack_id = str(meta["id"])
    if not RULE_ID_PATTERN.match(pack_id):
        raise ConfigError(f"{where}: pack id {pack_id!r} must be letters, digits and _")
    plan_file = str(meta.get("plan_file", ""))
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
        item = NotModelled(
            id=_rule_id(table, here),
            name_zh=str(table.get("name_zh", table["id"])),
            name_en=str(table.get("name_en", table["id"])),
            reason=str(table["reason"]),
        )
        skipped.append(item)
        sources[item.id] = _source(table, here, plan_file)
    check_unique_ids([*circles, *presence, *ratios, *skipped], where=where)
    tolerance = float(meta.get("about_tolerance", 0.05))
    if not 0 <= tolerance < 1:
        raise ConfigError(f"{where}: about_tolerance must be within 0..1, got {tolerance}")
    access = data.get("access", {})
    if not isinstance(access, Mapping):
        raise ConfigError(f"{where}: [access] must be a table (cutoff_min, mode)")
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
    )


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


def _presence(table: Mapping, where: str) -> PresenceRule:
    _require(table, ("id", "scope", "categories"), where)
    rule_id = _rule_id(table, where)
    scope = str(table["scope"])
    if scope not in PRESENCE_SCOPES:
        raise ConfigError(f"{where} {rule_id}: scope must be one of {', '.join(PRESENCE_SCOPES)}")
    categories = _strings(table["categories"], where, "categories")
    if not categories:
        raise ConfigError(f"{where} {rule_id}: categories is empty")
    attribute = _strings(table.get("attribute", []), where, "attribute")
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
    )


def _ratio(table: Mapping, where: str) -> RatioTarget:
    _require(table, ("id", "numerator", "target"), where)
    rule_id = _rule_id(table, where)
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
    )
