"""Coverage rules: which facilities, which travel mode, how many minutes, what target share."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import numpy as np

from ..errors import ConfigError
from ..readers.boundaries import UNIT_TYPES
from ..readers.network import DIRECTIONS, MODES
from ..schema import Key, ListOf, Number, OneOf, Table, Text, TextTable, check_table

__all__ = [
    "MODES",
    "RULE",
    "RULE_ID_PATTERN",
    "Rule",
    "check_unique_ids",
    "rule_from_mapping",
]

RULE_ID_PATTERN = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")
"""Rule ids (and pack ids): a letter, then letters, digits or _ (they name output columns)."""


@dataclass(frozen=True)
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
    """

    id: str
    name_zh: str
    name_en: str
    categories: tuple[str, ...]
    mode: str
    threshold_min: float
    target_share: float | None = None
    direction: str = DIRECTIONS[0]
    threshold_by_type: tuple[tuple[str, float], ...] = ()
    congestion: str | None = None

    @property
    def threshold_s(self) -> float:
        """The threshold in seconds."""
        return self.threshold_min * 60.0

    @property
    def travel(self) -> tuple[str, str, str | None]:
        """``(mode, direction, congestion)``: rules that share it share one set of edge times."""
        return (self.mode, self.direction, self.congestion)

    @property
    def travel_label(self) -> str:
        """The mode, with the direction and the congestion profile when they are not the
        default: ``"drive"``, ``"drive from_facility @peak"`` (a key of summary.json)."""
        parts = [self.mode]
        if self.direction != DIRECTIONS[0]:
            parts.append(self.direction)
        if self.congestion:
            parts.append(f"@{self.congestion}")
        return " ".join(parts)

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
        """A plain dict for JSON outputs (direction, thresholds by type and congestion only
        when they are set, so a plain circle reads as before)."""
        out = {
            "id": self.id,
            "name_zh": self.name_zh,
            "name_en": self.name_en,
            "categories": list(self.categories),
            "mode": self.mode,
            "threshold_min": self.threshold_min,
            "target_share": self.target_share,
        }
        if self.direction != DIRECTIONS[0]:
            out["direction"] = self.direction
        if self.threshold_by_type:
            out["threshold_by_type"] = dict(self.threshold_by_type)
        if self.congestion:
            out["congestion"] = self.congestion
        return out


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
        Key("mode", OneOf(MODES), "Travel mode", "出行方式", required=True, example="walk"),
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
)
"""A ``[[rules]]`` table of a project file, and a ``[[circles]]`` table of a rule pack."""


def rule_from_mapping(
    data: Mapping, *, where: str = "rule", file: str = "", extra_keys: Iterable[str] = ()
) -> Rule:
    """Build a :class:`Rule` from a TOML table, checked against the schema's ``[[rules]]``.

    ``where`` names the table in messages (``[[rules]] #2``), ``file`` the file; ``extra_keys``
    are further keys the caller reads itself (a pack's citations). Unknown keys, missing ones,
    wrong types and values out of range (``threshold_min`` above 0 and at most 240 minutes,
    ``target_share`` 0..1) are a :class:`ConfigError` naming the key
    (see :data:`RULE`).
    """
    table = check_table(RULE, data, file=file, label=where, extra=extra_keys)
    return Rule(
        id=table["id"],
        name_zh=table["name_zh"],
        name_en=table["name_en"],
        categories=tuple(table["categories"]),
        mode=table["mode"],
        threshold_min=table["threshold_min"],
        target_share=table.get("target_share"),
        direction=table["direction"],
        threshold_by_type=tuple(sorted(table.get("threshold_by_type", {}).items())),
        congestion=table.get("congestion"),
    )


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
