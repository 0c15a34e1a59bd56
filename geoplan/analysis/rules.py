"""Coverage rules: which facilities, which travel mode, how many minutes, what target share."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from ..errors import ConfigError

MODES = ("walk", "bike", "drive")
_RULE_ID = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")


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


def rule_from_mapping(
    data: Mapping, *, where: str = "rule", file: str = "", extra_keys: Iterable[str] = ()
) -> Rule:
    """Build a :class:`Rule` from a TOML table, checked against the schema's ``[[rules]]``.

    ``where`` names the table in messages (``[[rules]] #2``), ``file`` the file; ``extra_keys``
    are further keys the caller reads itself (a pack's citations). Unknown keys, missing ones,
    wrong types and values out of range (``threshold_min`` above 0 and at most 240 minutes,
    ``target_share`` 0..1) are a :class:`ConfigError` naming the key
    (see :data:`geoplan.workflows.config.RULE`).
    """
    from ..workflows.config import RULE, check_table

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
