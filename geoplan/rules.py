"""Coverage rules: which facilities, which travel mode, how many minutes, what target share."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from .errors import ConfigError

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


def rule_from_mapping(data: Mapping, *, where: str = "rule") -> Rule:
    """Build a :class:`Rule` from a TOML table, with messages that name the bad key."""
    missing = [k for k in ("id", "categories", "mode", "threshold_min") if k not in data]
    if missing:
        raise ConfigError(f"{where}: missing key(s) {', '.join(missing)}")
    rule_id = str(data["id"])
    if not _RULE_ID.match(rule_id):
        raise ConfigError(
            f"{where}: id {rule_id!r} must start with a letter and use only letters, digits and _"
        )
    mode = str(data["mode"])
    if mode not in MODES:
        raise ConfigError(f"{where} {rule_id}: mode {mode!r} is not one of {', '.join(MODES)}")
    categories = data["categories"]
    if isinstance(categories, str):
        categories = [categories]
    if not categories:
        raise ConfigError(f"{where} {rule_id}: categories is empty")
    try:
        threshold = float(data["threshold_min"])
    except (TypeError, ValueError):
        raise ConfigError(f"{where} {rule_id}: threshold_min must be a number of minutes") from None
    if not threshold > 0:
        raise ConfigError(f"{where} {rule_id}: threshold_min must be positive, got {threshold}")
    target = data.get("target_share")
    if target is not None:
        target = float(target)
        if not 0 <= target <= 1:
            raise ConfigError(f"{where} {rule_id}: target_share must be within 0..1, got {target}")
    return Rule(
        id=rule_id,
        name_zh=str(data.get("name_zh", rule_id)),
        name_en=str(data.get("name_en", rule_id)),
        categories=tuple(str(c) for c in categories),
        mode=mode,
        threshold_min=threshold,
        target_share=target,
    )


def check_unique_ids(rules: Iterable[Rule]) -> None:
    """Raise if two rules share an id (output columns are keyed by it)."""
    seen: set[str] = set()
    for rule in rules:
        if rule.id in seen:
            raise ConfigError(f"rule id {rule.id!r} is used twice; rule ids must be unique")
        seen.add(rule.id)
