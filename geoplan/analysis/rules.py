"""Coverage rules: which facilities, which travel mode, how many minutes, what target share."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import numpy as np

from ..errors import ConfigError
from ..readers.boundaries import UNIT_TYPES, parse_unit_type
from ..readers.network import DIRECTIONS, MODES
from ..schema import Key, ListOf, Number, OneOf, Table, Text, TextTable, check_table

__all__ = [
    "DEFAULT_UNIT_TYPE",
    "MODES",
    "MODE_LABELS",
    "RULE",
    "RULE_ID_PATTERN",
    "Rule",
    "check_unique_ids",
    "mode_label",
    "rule_from_mapping",
    "travel_label",
]

RULE_ID_PATTERN = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")
"""Rule ids (and pack ids): a letter, then letters, digits or _ (they name output columns)."""

DEFAULT_UNIT_TYPE = "default"
"""The ``modes_by_unit_type`` entry for residents whose unit has no type (or who are outside
every unit)."""


@dataclass(frozen=True, init=False)
class Rule:
    """One circle, e.g. "居民15分钟步行可达医疗卫生机构".

    ``categories`` holds taxonomy category keys or group names (``medical``, ``fitness``);
    ``threshold_min`` is inclusive (a resident at exactly 15.0 min is covered);
    ``target_share`` is 0..1 or None when the plan sets no number.

    ``direction`` is ``"to_facility"`` (the resident goes to the facility: every circle) or
    ``"from_facility"`` (a response rule, 院前急救: an ambulance drives from its station to the
    resident; one-way streets make the two differ). ``threshold_by_type`` gives other
    thresholds (minutes) to residents of units of a type (``("rural", 30.0)``: the unit type
    of ``[units] type_column``); residents of other units keep ``threshold_min``.
    ``congestion`` names a ``[congestion]`` profile of speed factors per road class (a time of
    day, e.g. ``"peak"``), None for the speed table as it is.
    Travel is one ``mode`` (``Rule(..., "walk", 15)``), several ``modes`` (each resident takes
    the fastest of them; ties go to the first listed) or ``modes_by_unit_type`` (per type of
    the resident's unit, e.g. ``{"urban": ("walk",), "rural": ("walk", "ebike")}``, from
    ``[units] type_column``; :data:`DEFAULT_UNIT_TYPE` for residents of units without a type).
    ``modes`` always holds every mode the rule uses, in order of first mention.
    """

    id: str
    name_zh: str
    name_en: str
    categories: tuple[str, ...]
    modes: tuple[str, ...]
    threshold_min: float
    target_share: float | None = None
    modes_by_unit_type: tuple[tuple[str, tuple[str, ...]], ...] = ()
    direction: str = DIRECTIONS[0]
    threshold_by_type: tuple[tuple[str, float], ...] = ()
    congestion: str | None = None

    def __init__(
        self,
        id: str,
        name_zh: str,
        name_en: str,
        categories: tuple[str, ...],
        mode: str | None = None,
        threshold_min: float | None = None,
        target_share: float | None = None,
        *,
        modes: Iterable[str] | None = None,
        modes_by_unit_type: Mapping[str, Iterable[str]]
        | Iterable[tuple[str, Iterable[str]]]
        | None = None,
        direction: str = DIRECTIONS[0],
        threshold_by_type: Iterable[tuple[str, float]] = (),
        congestion: str | None = None,
    ) -> None:
        if threshold_min is None:
            raise TypeError("Rule needs threshold_min")
        by_type = tuple(
            (
                _unit_type_key(kind, f"rule {id!r} modes_by_unit_type"),
                _checked_modes(kinds, f"rule {id!r} modes_by_unit_type {kind!r}"),
            )
            for kind, kinds in (
                modes_by_unit_type.items()
                if isinstance(modes_by_unit_type, Mapping)
                else (modes_by_unit_type or ())
            )
        )
        union = tuple(dict.fromkeys(m for _, kinds in by_type for m in kinds))
        if by_type and modes is not None:  # a rule rebuilt from its own fields
            if tuple(modes) != union:
                raise ConfigError(f"rule {id!r}: modes and modes_by_unit_type disagree")
            modes = None
        given = {"mode": mode, "modes": modes, "modes_by_unit_type": by_type or None}
        _check_rule_modes({k: v for k, v in given.items() if v is not None}, f"rule {id!r}")
        if by_type:
            chosen = union
        elif mode is not None:
            chosen = _checked_modes([mode], f"rule {id!r} mode")
        else:
            chosen = _checked_modes(modes, f"rule {id!r} modes")
        if congestion is not None and set(chosen) == {"walk"}:
            raise ConfigError(
                f"rule {id!r}: congestion slows vehicles, and the rule only walks; remove "
                "congestion or add a vehicle mode / 拥堵情景只影响车辆，步行规则不适用"
            )
        for name, value in (
            ("id", id),
            ("name_zh", name_zh),
            ("name_en", name_en),
            ("categories", tuple(categories)),
            ("modes", chosen),
            ("threshold_min", threshold_min),
            ("target_share", target_share),
            ("modes_by_unit_type", by_type),
            ("direction", direction),
            ("threshold_by_type", tuple(threshold_by_type)),
            ("congestion", congestion),
        ):
            object.__setattr__(self, name, value)

    @property
    def mode(self) -> str:
        """The rule's one travel mode; a :class:`ConfigError` for a rule of several (a step
        that needs one mode, e.g. siting, says so instead of using the first)."""
        if len(self.modes) == 1 and not self.modes_by_unit_type:
            return self.modes[0]
        raise ConfigError(
            f"rule {self.id!r} uses several travel modes ({self.mode_label}); this step needs a "
            f"rule of one mode: add one with `mode = ...` / 规则 {self.id} 含多种出行方式，"
            "此步骤需单一出行方式的规则"
        )

    @property
    def mixed(self) -> bool:
        """Whether residents choose among several modes (or by their unit's type)."""
        return len(self.modes) > 1 or bool(self.modes_by_unit_type)

    @property
    def mode_label(self) -> str:
        """``walk``, ``walk+ebike`` (the fastest of), or ``urban: walk; rural: walk+ebike``."""
        if self.modes_by_unit_type:
            return "; ".join(
                f"{kind}: {'+'.join(kinds)}" for kind, kinds in self.modes_by_unit_type
            )
        return "+".join(self.modes)

    def modes_for_type(self, unit_type: str | None) -> tuple[str, ...]:
        """The modes residents of a unit of ``unit_type`` (None: no type) may take; a
        :class:`ConfigError` when the rule names none for it."""
        if not self.modes_by_unit_type:
            return self.modes
        table = dict(self.modes_by_unit_type)
        key = DEFAULT_UNIT_TYPE if unit_type is None or unit_type == "" else str(unit_type)
        if key in table:
            return table[key]
        if DEFAULT_UNIT_TYPE in table:
            return table[DEFAULT_UNIT_TYPE]
        what = "residents whose unit has no type" if key == DEFAULT_UNIT_TYPE else f"{key!r}"
        raise ConfigError(
            f"rule {self.id!r}: modes_by_unit_type names no modes for {what}; add "
            f"`{key} = [...]` (or `{DEFAULT_UNIT_TYPE} = [...]`) / 规则 {self.id} "
            "未给出该类型单元的出行方式"
        )

    @property
    def threshold_s(self) -> float:
        """The threshold in seconds."""
        return self.threshold_min * 60.0

    @property
    def travels(self) -> tuple[tuple[str, str, str | None], ...]:
        """``(mode, direction, congestion)`` per mode of the rule: rules that share one share
        its edge times and snaps. Walking has no congestion (traffic does not slow it), so a
        walk leg is the same whichever profile the rule names."""
        return tuple(
            (mode, self.direction, None if mode == "walk" else self.congestion)
            for mode in self.modes
        )

    def thresholds_s(self, unit_types: np.ndarray | None, n: int) -> np.ndarray:
        """Each of ``n`` residents' threshold in seconds: ``threshold_by_type`` for residents
        whose unit type (``unit_types``, one per resident) it names, else ``threshold_min``.

        Raises :class:`ConfigError` when the rule sets thresholds by type and the residents
        have no unit types (no ``[units] type_column``).
        """
        out = np.full(n, self.threshold_s)
        if not self.threshold_by_type:
            return out
        if unit_types is None:
            raise ConfigError(
                f"rule {self.id!r} sets threshold_by_type, but the units have no type: set "
                "[units] type_column (values urban or rural) / 规则按单元类型设阈值，须在 "
                "[units] 中设置 type_column"
            )
        types = np.asarray(unit_types, dtype=object)
        for kind, minutes in self.threshold_by_type:
            out[types == kind] = minutes * 60.0
        return out

    def as_dict(self) -> dict:
        """A plain dict for JSON outputs (``mode`` is :attr:`mode_label`; a rule of several
        modes adds ``modes`` and, by unit type, ``modes_by_unit_type``; direction, thresholds by
        type and congestion only when they are set, so a plain circle reads as before)."""
        out = {
            "id": self.id,
            "name_zh": self.name_zh,
            "name_en": self.name_en,
            "categories": list(self.categories),
            "mode": self.mode_label,
            "threshold_min": self.threshold_min,
            "target_share": self.target_share,
        }
        if self.direction != DIRECTIONS[0]:
            out["direction"] = self.direction
        if self.threshold_by_type:
            out["threshold_by_type"] = dict(self.threshold_by_type)
        if self.congestion:
            out["congestion"] = self.congestion
        if self.mixed:
            out["modes"] = list(self.modes)
        if self.modes_by_unit_type:
            out["modes_by_unit_type"] = {k: list(v) for k, v in self.modes_by_unit_type}
        return out


MODE_LABELS = {
    "walk": ("步行", "walk"),
    "bike": ("骑行", "bike"),
    "ebike": ("电动自行车", "e-bike"),
    "motorcycle": ("摩托车", "motorcycle"),
    "drive": ("驾车", "drive"),
}
"""Travel modes' labels: key → (中文, English), for reports, charts and the app."""


def mode_label(rule: Mapping) -> tuple[str, str]:
    """A rule's travel as written in summary.json or a project file, as (中文, English): one
    mode, the fastest of several ("步行或电动自行车"), or the modes per unit type (城镇/乡村)."""

    def several(modes: list) -> tuple[str, str]:
        labels = [MODE_LABELS.get(str(m), (str(m), str(m))) for m in modes]
        return "或".join(z for z, _ in labels), " or ".join(e for _, e in labels)

    def kind_label(kind: object) -> tuple[str, str]:
        try:
            key = parse_unit_type(kind)
        except ValueError:
            key = None
        return UNIT_TYPES.get(key, (str(kind), str(kind)))

    by_type = rule.get("modes_by_unit_type")
    if by_type:
        parts = [(kind_label(kind), several(list(modes))) for kind, modes in by_type.items()]
        return (
            "按单元类型：" + "；".join(f"{k[0]} {zh}" for k, (zh, _) in parts),
            "by unit type: " + "; ".join(f"{k[1]} {en}" for k, (_, en) in parts),
        )
    modes = rule.get("modes") or [rule.get("mode")]
    modes = [modes] if isinstance(modes, str) else list(modes)
    if len(modes) > 1:
        zh, en = several(modes)
        return f"{zh}（取最快）", f"{en} (fastest)"
    mode = str(modes[0])
    return MODE_LABELS.get(mode, (mode, mode))


def travel_label(mode: str, direction: str = DIRECTIONS[0], congestion: str | None = None) -> str:
    """A travel's name in summary.json's ``snapping``: the mode, with the direction and the
    congestion profile when they are not the default (``"drive"``, ``"drive from_facility
    @peak"``)."""
    parts = [mode]
    if direction != DIRECTIONS[0]:
        parts.append(direction)
    if congestion:
        parts.append(f"@{congestion}")
    return " ".join(parts)


def _unit_type_key(value: object, where: str) -> str:
    """A ``modes_by_unit_type`` key as a unit type (``urban``/``rural``, read like the units'
    type column: 街道 is urban, 乡镇 rural) or :data:`DEFAULT_UNIT_TYPE`."""
    if value == DEFAULT_UNIT_TYPE:
        return DEFAULT_UNIT_TYPE
    try:
        kind = parse_unit_type(value)
    except ValueError:
        kind = None
    if kind is None:
        raise ConfigError(
            f"{where}: {value!r} is not a unit type; write urban/rural (城区/街道, 农村/乡镇 …) or "
            f"{DEFAULT_UNIT_TYPE} / 单元类型须为城区(urban)或农村(rural)"
        )
    return kind


def _checked_modes(values: Iterable[str], where: str) -> tuple[str, ...]:
    modes = tuple(values) if not isinstance(values, str) else (values,)
    if not modes:
        raise ConfigError(f"{where}: name at least one travel mode ({', '.join(MODES)})")
    for mode in modes:
        if mode not in MODES:
            raise ConfigError(f"{where}: unknown travel mode {mode!r}; modes: {', '.join(MODES)}")
    if len(set(modes)) != len(modes):
        raise ConfigError(f"{where}: a travel mode is named twice ({', '.join(modes)})")
    return modes


def _check_rule_modes(table: Mapping, where: str) -> None:
    """A rule names its travel by exactly one of mode, modes, modes_by_unit_type (the one
    check, of a file's table and of a :class:`Rule` built in Python)."""
    given = [k for k in ("mode", "modes", "modes_by_unit_type") if k in table]
    if len(given) != 1:
        if not given:
            said = "give exactly one of `mode`, `modes` or `modes_by_unit_type` (found none)"
        elif len(given) == 2:
            said = f"give {' or '.join(given)}, not both"
        else:
            said = "give only one of mode, modes or modes_by_unit_type"
        raise ConfigError(f"{where}: {said} / 须且只能给出 mode、modes、modes_by_unit_type 之一")
    if "modes_by_unit_type" in table and not table["modes_by_unit_type"]:
        raise ConfigError(f"{where}: modes_by_unit_type names no unit type / 未给出单元类型")


RULE = Table(
    "rules",
    "规则",
    "One travel-time circle per table: the share of residents within threshold_min of a "
    "facility of the categories, by the mode (inclusive: 15.0 minutes is inside).",
    "每个表一个出行时间圈：指定类别设施在 threshold_min 分钟内可达的居民比例（含边界）。",
    (
        Key(
            "id",
            Text(RULE_ID_PATTERN.pattern, "an id: a letter, then letters, digits or _"),
            "Rule id (output columns are named by it)",
            "规则编号",
            required=True,
            example="medical_walk_15",
        ),
        Key(
            "name_zh",
            Text(),
            "Chinese name",
            "中文名称",
            default_from="id",
            example="15分钟步行可达医疗卫生机构",
        ),
        Key(
            "name_en",
            Text(),
            "English name",
            "英文名称",
            default_from="id",
            example="Medical facility within a 15-minute walk",
        ),
        Key(
            "categories",
            ListOf(Text(), single=True, non_empty=True),
            "Facility categories or groups (medical, fitness …; see geoplan.taxonomy)",
            "设施类别或类组",
            required=True,
            example=["medical"],
        ),
        Key(
            "mode",
            OneOf(MODES),
            "Travel mode (walk, bike, ebike = 电动自行车, motorcycle = 摩托车, drive; speeds in "
            "geoplan/readers/network.py, editable in [speeds.<mode>]); give one of mode, modes "
            "or modes_by_unit_type",
            "出行方式",
            example="walk",
        ),
        Key(
            "modes",
            ListOf(OneOf(MODES), non_empty=True, distinct=True),
            "Several travel modes: each resident takes the fastest (the national statistic "
            "counts the fastest mode people use); ties go to the first listed; the mode "
            "chosen is recorded per resident (<id>_mode in coverage_points.csv)",
            "多种出行方式：每位居民取最快者（并列取先列出者），各居民所用方式记入结果",
            example=["walk", "ebike"],
        ),
        Key(
            "modes_by_unit_type",
            TextTable(ListOf(OneOf(MODES), single=True, non_empty=True, distinct=True)),
            "Modes per type of the resident's unit ([units] type_column: urban or rural), e.g. "
            '{urban = ["walk"], rural = ["walk", "ebike"]} (keys are read like the type column: '
            '{"街道" = ["walk"], "乡镇" = ["walk", "ebike"]} is the same; keys other than ASCII '
            "letters are quoted in TOML): each resident takes the fastest of its unit type's "
            f"modes; `{DEFAULT_UNIT_TYPE}` for units without a type; every type of the units "
            "must be named",
            "按居民所在单元类型（[units] type_column）选择出行方式，"
            "如城市街道步行、乡镇步行或电动自行车",
            example={"街道": ["walk"], "乡镇": ["walk", "ebike"]},
            aliases=("modes_by_type", "mode_by_unit_type"),
        ),
        Key(
            "threshold_min",
            Number(0, 240, low_open=True),
            "Travel time limit (inclusive)",
            "出行时间上限（含）",
            required=True,
            unit="minutes",
            example=15,
            aliases=("threshold", "minutes", "time_min"),
        ),
        Key(
            "target_share",
            Number(0, 1),
            "The plan's target share of residents (1.0 = 100 %; absent: reported only)",
            "规划目标比例（1.0 即 100%）",
            aliases=("target",),
            example=1.0,
        ),
        Key(
            "direction",
            OneOf(DIRECTIONS),
            "Which way the trip runs: to_facility (the resident travels to the facility: the "
            "circles) or from_facility (a response rule, 院前急救: the ambulance drives from its "
            "station to the resident; one-way streets make the two differ)",
            "出行方向：to_facility 居民前往设施（服务圈）；from_facility 自设施出发到达居民"
            "（院前急救响应：急救站至居民的车程，单行道上两者不同）",
            DIRECTIONS[0],
            aliases=("response", "towards"),
        ),
        Key(
            "threshold_by_type",
            TextTable(Number(0, 240, low_open=True), names=UNIT_TYPES, non_empty=True),
            "Other time limits for residents of units of a type ([units] type_column), e.g. "
            "{urban = 12, rural = 30}; residents of units of a type not named keep "
            "threshold_min",
            "按单元类型的时间上限（需 [units] type_column），如城区 12、农村 30 分钟；未列出的类型"
            "仍用 threshold_min",
            unit="minutes",
            example={"urban": 12, "rural": 30},
            aliases=("thresholds", "threshold_by_unit_type"),
        ),
        Key(
            "congestion",
            Text(RULE_ID_PATTERN.pattern, "an id: a letter, then letters, digits or _"),
            "A [congestion] profile (a time of day, e.g. peak) whose speed factors per road "
            "class apply to this rule's trips",
            "采用的 [congestion] 拥堵情景（如早晚高峰 peak），按道路等级折减速度",
            example="peak",
            aliases=("congestion_profile", "time_of_day"),
        ),
    ),
    required=True,
    shape="array",
    check=_check_rule_modes,
)
"""A ``[[rules]]`` table of a project file, and a ``[[circles]]`` table of a rule pack."""


def rule_from_mapping(
    data: Mapping, *, where: str = "rule", file: str = "", extra_keys: Iterable[str] = ()
) -> Rule:
    """Build a :class:`Rule` from a TOML table, checked against the schema's ``[[rules]]``.

    ``where`` names the table in messages (``[[rules]] #2``), ``file`` the file; ``extra_keys``
    are further keys the caller reads itself (a pack's citations). Unknown keys, missing ones,
    wrong types and values out of range (``threshold_min`` above 0 and at most 240 minutes,
    ``target_share`` 0..1; exactly one of ``mode``, ``modes``, ``modes_by_unit_type``) are a
    :class:`ConfigError` naming the key (see :data:`RULE`).
    """
    table = check_table(RULE, data, file=file, label=where, extra=extra_keys)
    prefix = f"{file}: {where}: " if file else f"{where}: "
    try:
        return Rule(
            id=table["id"],
            name_zh=table["name_zh"],
            name_en=table["name_en"],
            categories=tuple(table["categories"]),
            mode=table.get("mode"),
            threshold_min=table["threshold_min"],
            target_share=table.get("target_share"),
            modes=table.get("modes"),
            modes_by_unit_type=table.get("modes_by_unit_type"),
            direction=table["direction"],
            threshold_by_type=tuple(sorted(table.get("threshold_by_type", {}).items())),
            congestion=table.get("congestion"),
        )
    except ConfigError as exc:
        raise ConfigError(f"{prefix}{exc}") from None


def check_unique_ids(rules: Iterable[Rule], *, where: str | None = None) -> None:
    """Raise if two rules share an id (output columns are keyed by it).

    Any object with an ``id`` will do (a pack checks all its kinds of rule together);
    ``where`` prefixes the message.
    """
    seen: set[str] = set()
    for rule in rules:
        if rule.id in seen:
            prefix = f"{where}: " if where else ""
            raise ConfigError(f"{prefix}rule id {rule.id!r} is used twice; rule ids must be unique")
        seen.add(rule.id)
