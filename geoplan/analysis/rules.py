"""Coverage rules: which facilities, which travel mode, how many minutes, what target share."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from ..errors import ConfigError
from ..readers.network import MODES
from ..schema import Key, ListOf, Number, OneOf, Table, Text, check_table

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
    """

    id: str
    name_zh: str
    name_en: str
    categories: tuple[str, ...]
    mode: str
    threshold_min: float
    target_share: float | None = None

    @property
    def threshold_s(self) -> float:
        """The threshold in seconds."""
        return self.threshold_min * 60.0

    def as_dict(self) -> dict:
        """A plain dict for JSON outputs."""
        return {
            "id": self.id,
            "name_zh": self.name_zh,
            "name_en": self.name_en,
            "categories": list(self.categories),
            "mode": self.mode,
            "threshold_min": self.threshold_min,
            "target_share": self.target_share,
        }


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
