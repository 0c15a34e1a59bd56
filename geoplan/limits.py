"""Bounds on the work a command may do: sizes are estimated before anything is expanded.

Every expansion whose size follows from an input or a parameter is estimated first and, above
its limit, refused with a one-line :class:`~geoplan.errors.LimitError` that names the limit and
how to raise it. Maps do not refuse: above their limits they aggregate and say so.

=========================  ===========  ==================================================
limit                      default      what it bounds
=========================  ===========  ==================================================
``demand_points``          2,000,000    demand points: lines spread every ``spacing_m``,
                                        populated raster cells, points, polygons
``raster_cells``           50,000,000   cells of a population raster read at once (its
                                        window)
``grid_cells``             2,000,000    cells of a candidate grid (``sites --grid``)
``matrix_pairs``           50,000,000   (demand, facility) pairs of a travel-time table
                                        within the cutoff (2SFCA, site selection), and
                                        (facility, node) pairs of per-facility service areas
``xlsx_cells``             20,000,000   cells of a worksheet read (rows × the table's
                                        columns)
``map_facilities``         5,000        facility markers on one map (above: one marker per
                                        grid cell)
``map_points``             20,000       resident points or gap areas per rule on one map
                                        (above: coarser cells, or the largest gaps)
``service_area_features``  20,000       service-area polygons of a run (areas × bands over
                                        every rule of ``[service_areas]``), counted before
                                        they are built
``batch_areas``            3,000        counties (tasks) of one national batch (China
                                        has 2,898 county-level units)
=========================  ===========  ==================================================

A limit is taken from the project's ``[limits]`` table, else from the environment variable
``GEOPLAN_LIMIT_<NAME>`` (e.g. ``GEOPLAN_LIMIT_DEMAND_POINTS=5000000``; commands without a
project, such as ``traveltimes`` and ``check-facilities``, use these), else the default. The
defaults keep a county (about 1M demand points) within a few GB of memory.

Code deep in the readers asks :func:`current`, which is the limits of the project being
computed (:func:`applied`) or those of the environment.
"""

from __future__ import annotations

import contextlib
import contextvars
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

from .errors import ConfigError, LimitError

__all__ = ["DEFAULTS", "ENV_PREFIX", "Limits", "applied", "current"]

ENV_PREFIX = "GEOPLAN_LIMIT_"

DEFAULTS: dict[str, int] = {
    "demand_points": 2_000_000,
    "raster_cells": 50_000_000,
    "grid_cells": 2_000_000,
    "matrix_pairs": 50_000_000,
    "xlsx_cells": 20_000_000,
    "map_facilities": 5_000,
    "map_points": 20_000,
    "service_area_features": 20_000,
    "batch_areas": 3_000,
}
"""Each limit's default (see the module docstring)."""


@dataclass(frozen=True)
class Limits:
    """The limits in force (see the module docstring for their meaning)."""

    demand_points: int = DEFAULTS["demand_points"]
    raster_cells: int = DEFAULTS["raster_cells"]
    grid_cells: int = DEFAULTS["grid_cells"]
    matrix_pairs: int = DEFAULTS["matrix_pairs"]
    xlsx_cells: int = DEFAULTS["xlsx_cells"]
    map_facilities: int = DEFAULTS["map_facilities"]
    map_points: int = DEFAULTS["map_points"]
    service_area_features: int = DEFAULTS["service_area_features"]
    batch_areas: int = DEFAULTS["batch_areas"]

    @classmethod
    def resolve(cls, table: Mapping | None = None, *, where: str = "project") -> Limits:
        """The limits of a ``[limits]`` table (None: none given), the environment, the defaults.

        Raises
        ------
        ConfigError
            An unknown key, or a value (in the table or the environment) that is not a
            positive whole number.
        """
        table = {} if table is None else table
        if not isinstance(table, Mapping):
            raise ConfigError(f"{where}: [limits] must be a table")
        unknown = sorted(set(table) - set(DEFAULTS))
        if unknown:
            raise ConfigError(
                f"{where}: [limits] has unknown key(s) {', '.join(unknown)}; known: "
                f"{', '.join(DEFAULTS)}"
            )
        values = {}
        for name in DEFAULTS:
            env = ENV_PREFIX + name.upper()
            if name in table:
                values[name] = _positive_int(table[name], f"{where}: [limits] {name}")
            elif os.environ.get(env, "").strip():
                values[name] = _positive_int(os.environ[env].strip(), f"environment {env}")
        return cls(**values)

    def check(self, name: str, estimate: float, what_zh: str, what_en: str, fix: str = "") -> None:
        """Raise :class:`LimitError` when ``estimate`` exceeds the limit ``name``.

        ``what_zh``/``what_en`` say what would be made (``需求点`` / ``demand points from
        spreading lines``); ``fix`` (English) what else the user can change.
        """
        limit = getattr(self, name)
        if estimate <= limit:
            return
        env = ENV_PREFIX + name.upper()
        how = f"[limits] {name} in the project file, or the environment variable {env}"
        raise LimitError(
            f"{what_zh}将达 {estimate:,.0f}，超过上限 {limit:,}（可在项目文件 [limits] {name} "
            f"或环境变量 {env} 中调高）/ {what_en}: {estimate:,.0f} would exceed the "
            f"limit of {limit:,}; refused before the work is done. "
            + (f"{fix}, or raise the limit ({how})" if fix else f"Raise the limit ({how})")
            + " if the machine has the memory"
        )


def _positive_int(value: object, where: str) -> int:
    number = value
    if isinstance(value, str):
        try:
            number = int(value.replace("_", "").replace(",", ""))
        except ValueError:
            number = None
    if isinstance(number, bool) or not isinstance(number, int) or number <= 0:
        raise ConfigError(f"{where} must be a positive whole number, got {value!r}")
    return number


_CURRENT: contextvars.ContextVar[Limits | None] = contextvars.ContextVar(
    "geoplan_limits", default=None
)


def current() -> Limits:
    """The limits in force: those :func:`applied`, else from the environment and defaults."""
    limits = _CURRENT.get()
    return Limits.resolve() if limits is None else limits


@contextlib.contextmanager
def applied(limits: Limits) -> Iterator[Limits]:
    """Make ``limits`` the :func:`current` ones inside the block (a project's, for its run)."""
    token = _CURRENT.set(limits)
    try:
        yield limits
    finally:
        _CURRENT.reset(token)
