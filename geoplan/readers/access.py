"""OSM access per travel mode, after OSRM's foot, bicycle and car profiles.

Whether a mode may use a street is decided twice: by its ``highway`` class (the speed table in
:mod:`geoplan.readers.network`; access tags never open a class the table closes, so
``foot=yes`` on a motorway stays closed for walking and trunk roads stay walkable), then by its
access tags.
For the tags, the first tag of the mode's hierarchy that the way carries decides (the mode's
own tag over the general ones over ``access``), as OSRM's ``find_access_tag`` does:

==========  ============================================================
mode        hierarchy (first present wins)
==========  ============================================================
walk        foot > access
bike        bicycle > vehicle > access
ebike       electric_bicycle > bicycle > vehicle > access
motorcycle  motorcycle > motor_vehicle > vehicle > access
drive       motorcar > motor_vehicle > vehicle > access
==========  ============================================================

The e-bike (电动自行车, GB 17761-2018) is a non-motor vehicle in Chinese law (道路交通安全法
第一百一十九条), so it follows the bicycle's tags (``motor_vehicle=no`` does not close a way for
it); OSM's ``electric_bicycle`` key, under ``bicycle`` in OSM's access hierarchy, wins where a
way carries it. The motorcycle (摩托车) is a motor vehicle: OSM's ``motorcycle`` key, then the
car's general tags.

The value found is then one of three kinds:

==========  ==================================================  ==============================
mode        closed (never used)                                 private-style (``private_ways``)
==========  ==================================================  ==============================
walk        ``no``, ``agricultural``, ``forestry``,             ``private``
            ``delivery``; ``psv``, ``bus``, ``emergency``,
            ``military``
bike        ``no``, ``agricultural``, ``forestry``,             ``private``
            ``delivery``, ``use_sidepath``; ``psv``, ``bus``,
            ``emergency``, ``military``
ebike       as bike                                             as bike
motorcycle  as drive                                            as drive
drive       ``no``, ``agricultural``, ``forestry``,             ``private``, ``destination``,
            ``emergency``, ``psv``; ``bus``, ``military``       ``customers``, ``delivery``
==========  ==================================================  ==============================

Any other value (``yes``, ``designated``, ``permissive``, ``destination`` for walk, bike and
ebike …) or no tag at all leaves the way open. Values are compared in lower case; a value listing
several (``no;yes``, or an osmnx list after simplification) takes the most restrictive. Two
``service`` values count as well: ``service=private`` is a private-style way when no tag of
the hierarchy is present (an explicit ``access=yes`` or ``foot=yes`` wins over it), and
``service=emergency_access`` closes a way for driving and motorcycles whatever else it says
(OSRM's car profile does the same).

Departures from OSRM, for planners' figures: values after the ``;`` in the first column
(``psv``, ``bus``, ``emergency``, ``military`` for walking and cycling; ``bus`` and
``military`` for driving) close the way, because ``access=psv`` or ``access=military`` admits
no resident whatever OSRM's foot profile does; the car profile's restricted values are private
only on its main road classes in OSRM, everywhere here; ``:forward``/``:backward`` access
tags, ``oneway:bicycle``/``oneway:foot``, barriers on nodes and ``*:conditional`` tags are not
read.

Private-style ways follow ``[network] private_ways``:

* ``"exclude"`` (default) — not used at all, as OSRM's foot profile and osmnx's walk network
  do: residents are joined to the nearest public street.
* ``"endpoints"`` — usable only at the start or end of a trip: residents of a gated compound
  walk out of it and a clinic inside one can be reached, but no trip crosses a private way
  between two public ones (see :func:`geoplan.analysis.engine.transposed_street_csr`).
* ``"include"`` — used like public streets.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np
import pandas as pd

__all__ = [
    "ACCESS_TAGS",
    "CLOSED",
    "MODES_HIERARCHY",
    "NO_VALUES",
    "OPEN",
    "PRIVATE",
    "PRIVATE_VALUES",
    "PRIVATE_WAYS",
    "access_codes",
]

ACCESS_TAGS: tuple[str, ...] = (
    "access",
    "foot",
    "bicycle",
    "motor_vehicle",
    "motorcar",
    "vehicle",
    "service",
    "electric_bicycle",
    "motorcycle",
)
"""OSM way tags the readers keep as edge columns (None where a way lacks the tag)."""

PRIVATE_WAYS: tuple[str, ...] = ("exclude", "endpoints", "include")
"""Values of ``[network] private_ways``; the first is the default."""

MODES_HIERARCHY: dict[str, tuple[str, ...]] = {
    "walk": ("foot", "access"),
    "bike": ("bicycle", "vehicle", "access"),
    "ebike": ("electric_bicycle", "bicycle", "vehicle", "access"),
    "motorcycle": ("motorcycle", "motor_vehicle", "vehicle", "access"),
    "drive": ("motorcar", "motor_vehicle", "vehicle", "access"),
}
"""Per mode, the access tags from most specific to most general; the first present decides."""

_OTHER_USERS = frozenset({"psv", "bus", "emergency", "military"})
_CYCLE_NO = frozenset({"no", "agricultural", "forestry", "delivery", "use_sidepath"}) | _OTHER_USERS
_MOTOR_NO = frozenset({"no", "agricultural", "forestry", "emergency", "psv", "bus", "military"})
NO_VALUES: dict[str, frozenset[str]] = {
    "walk": frozenset({"no", "agricultural", "forestry", "delivery"}) | _OTHER_USERS,
    "bike": _CYCLE_NO,
    "ebike": _CYCLE_NO,
    "motorcycle": _MOTOR_NO,
    "drive": _MOTOR_NO,
}
"""Per mode, the access values that close a way."""

_MOTOR_PRIVATE = frozenset({"private", "destination", "customers", "delivery"})
PRIVATE_VALUES: dict[str, frozenset[str]] = {
    "walk": frozenset({"private"}),
    "bike": frozenset({"private"}),
    "ebike": frozenset({"private"}),
    "motorcycle": _MOTOR_PRIVATE,
    "drive": _MOTOR_PRIVATE,
}
"""Per mode, the access values of private-style ways (see ``PRIVATE_WAYS``)."""

OPEN, PRIVATE, CLOSED = 0, 1, 2
"""Access codes per edge and mode, from least to most restrictive."""

_SERVICE_PRIVATE = "private"
_SERVICE_NO_DRIVING = "emergency_access"
_MOTOR_MODES = frozenset({"drive", "motorcycle"})


def _values(value: object) -> list[str]:
    """The lower-case values of one tag (``a;b`` and osmnx lists give several)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return []
    parts = str(value).split(";")
    return [p.strip().lower() for p in parts if p.strip()]


def _code(mode: str, values: list[str]) -> int:
    """The most restrictive code of the values found for a mode."""
    code = OPEN
    for value in values:
        if value in NO_VALUES[mode]:
            return CLOSED
        if value in PRIVATE_VALUES[mode]:
            code = PRIVATE
    return code


def _classify(mode: str, tags: Mapping[str, object]) -> int:
    """Access code (``OPEN``, ``PRIVATE`` or ``CLOSED``) of one way's tags for ``mode``."""
    service = _values(tags.get("service"))
    if mode in _MOTOR_MODES and _SERVICE_NO_DRIVING in service:
        return CLOSED
    for key in MODES_HIERARCHY[mode]:
        values = _values(tags.get(key))
        if values:
            return _code(mode, values)
    return PRIVATE if _SERVICE_PRIVATE in service else OPEN


def access_codes(edges: pd.DataFrame, mode: str) -> np.ndarray:
    """Per edge, the access code for ``mode`` from the tag columns present (int8).

    Columns of :data:`ACCESS_TAGS` that are missing count as absent tags; each distinct
    combination of values is classified once.
    """
    keys = [k for k in (*MODES_HIERARCHY[mode], "service") if k in edges.columns]
    if not keys or len(edges) == 0:
        return np.full(len(edges), OPEN, dtype=np.int8)
    table = edges[keys].astype(object)
    group = table.groupby(keys, dropna=False, sort=False).ngroup().to_numpy()
    first = pd.Series(np.arange(len(group))).groupby(group).first().to_numpy()
    rows = table.to_numpy(dtype=object)
    mapped = np.array(
        [_classify(mode, dict(zip(keys, rows[i], strict=True))) for i in first], dtype=np.int8
    )
    return mapped[group]
