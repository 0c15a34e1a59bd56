"""The coverage map of a :class:`~geoplan.analysis.coverage.Coverage`: what it shows of the
residents, facilities, gap areas and units within the map's limits, and the map itself.

``geoplan run`` (:mod:`geoplan.workflows.project`) and ``gp.coverage_map`` (the front door)
both draw through here, so a notebook's map is the map a run writes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import pandas as pd

from ..analysis.coverage import Coverage, column
from ..analysis.rules import Rule
from ..analysis.streets import street_minutes
from ..limits import Limits
from . import maps

__all__ = [
    "MAP_CELL_M",
    "MAP_MAX_POINTS",
    "MapInputs",
    "draw_coverage_map",
    "map_demand",
    "map_inputs",
    "map_units",
]

MAP_MAX_POINTS = 20_000
"""Above this many demand points the map shows uncovered residents per ``MAP_CELL_M`` cell."""
MAP_CELL_M = 100.0


@dataclass
class MapInputs:
    """What the coverage maps embed: within ``[limits] map_*``, aggregated above them."""

    demand: gpd.GeoDataFrame
    facilities: gpd.GeoDataFrame
    gaps: gpd.GeoDataFrame
    notes: list[dict]  # one warning per aggregation (also on the map, in its language)
    demand_cell_m: float | None = None  # the grid cell of aggregated residents (None: points)


def map_inputs(
    coverage: Coverage, facilities: gpd.GeoDataFrame, gaps: gpd.GeoDataFrame, limits: Limits
) -> MapInputs:
    """The demand, facilities and gaps as the maps will show them.

    Each aggregation is a warning (``check`` ``map_aggregated``, ``message_zh``,
    ``message_en``) in ``notes``: the caller logs them and reports them (summary.json); the
    map shows them in its legend.
    """
    notes = []
    demand, note = map_demand(coverage, limits)
    if note is not None:
        notes.append(note)
    shown, cell = maps.aggregate_facilities(facilities, limits.map_facilities)
    if cell is not None:
        n = len(facilities)
        notes.append(
            (
                f"设施 {n:,} 个，超过地图上限 {limits.map_facilities:,} 个：按类别和 {cell:,.0f} 米"
                "网格汇总显示（弹窗给出数量）；计算使用了全部设施。",
                f"{n:,} facilities, more than the map limit of {limits.map_facilities:,}: shown "
                f"as one marker per category and {cell:,.0f} m cell (the popup gives the count); "
                "the computation used every facility. Raise [limits] map_facilities to show each.",
            )
        )
    if len(gaps) and (gaps["rank"] > limits.map_points).any():
        n = int(gaps.groupby("rule_id").size().max())
        gaps = gaps[gaps["rank"] <= limits.map_points]
        notes.append(
            (
                f"缺口区域最多 {n:,} 个（每条规则）：地图只显示最大的 {limits.map_points:,} 个，"
                "gaps.csv 列出全部。",
                f"up to {n:,} gap areas per rule: the map shows the {limits.map_points:,} largest, "
                "gaps.csv lists them all. Raise [limits] map_points to show more.",
            )
        )
    warnings_ = [
        {"check": "map_aggregated", "message_zh": zh, "message_en": en} for zh, en in notes
    ]
    return MapInputs(demand, shown, gaps, warnings_, demand.attrs.get("cell_m"))


def draw_coverage_map(
    coverage: Coverage,
    shown: MapInputs,
    *,
    rules: Sequence[Mapping],
    notes_zh: Sequence[str] = (),
    notes_en: Sequence[str] = (),
    streets: gpd.GeoDataFrame | None = None,
    **options,
):
    """The coverage map (a folium Map, one language) of ``coverage`` as ``shown``.

    ``rules`` are the per-rule summaries (:meth:`Coverage.summary`); ``streets`` the streets
    timed along their length (:func:`geoplan.analysis.streets.street_minutes`; computed when
    not given, so that several languages can share them). The map's own notes (aggregations)
    follow ``notes_*``. ``options`` are :func:`geoplan.rendering.maps.coverage_map`'s others:
    ``title_zh``, ``title_en``, ``boundary``, ``units`` (the unit polygons with their shares,
    :func:`map_units`), ``attribution``, ``lang``, ``basemap``, ``basemap_key``,
    ``hypothetical``, ``service_areas`` (a layer per rule,
    :func:`geoplan.analysis.service_areas.service_areas`).
    """
    if streets is None:
        streets = street_minutes(coverage.network, coverage)
    return maps.coverage_map(
        facilities=shown.facilities,
        rules=rules,
        street_minutes=streets,
        demand=shown.demand,
        demand_cell_m=shown.demand_cell_m,
        gaps=shown.gaps,
        notes_zh=[*notes_zh, *(n["message_zh"] for n in shown.notes)],
        notes_en=[*notes_en, *(n["message_en"] for n in shown.notes)],
        **options,
    )


def map_units(
    units: gpd.GeoDataFrame | None, by_unit: pd.DataFrame, rules: Sequence[Rule]
) -> gpd.GeoDataFrame | None:
    """The unit polygons with their population and per-rule share covered
    (:meth:`Coverage.by_unit`); None without units."""
    if units is None:
        return None
    keys = ["unit_code", "unit_name"]
    table = by_unit.astype({k: str for k in keys})
    units = units.astype({k: str for k in keys})
    shares = [column(rule.id, "share_covered") for rule in rules]
    return units.merge(table[[*keys, "population", *shares]], on=keys, how="left")


def map_demand(
    coverage: Coverage, limits: Limits
) -> tuple[gpd.GeoDataFrame, tuple[str, str] | None]:
    """Demand for the map: every point, or uncovered residents per grid cell when many.

    Above ``MAP_MAX_POINTS`` points (or ``[limits] map_points``, if lower) residents are
    shown per ``MAP_CELL_M`` cell, doubled until no rule has more than ``map_points`` cells.
    The map is for display; coverage was decided per point. Aggregated rows carry one rule's
    uncovered population each (covered for the other rules) and its population-weighted
    mean minutes; the unreachable residents of a cell are a row of their own (minutes NaN).
    Returns the frame (its ``attrs["cell_m"]``: the cell size, when aggregated) and, when
    aggregated, a note (zh, en) saying so.
    """
    points = coverage.table
    rules = coverage.rules
    limit = limits.map_points
    threshold = min(MAP_MAX_POINTS, limit)
    if len(points) <= threshold:
        frame = points[["demand_id", "population", "x", "y"]].copy()
        for rule in rules:
            frame[column(rule.id, "covered")] = points[column(rule.id, "covered")].to_numpy()
            frame[column(rule.id, "minutes")] = points[column(rule.id, "time_s")].to_numpy() / 60
        note = None
    else:
        cell_m = MAP_CELL_M
        uncovered = [_Uncovered.of(points, rule) for rule in rules]
        while max((u.n_cells(cell_m) for u in uncovered), default=0) > limit:
            cell_m *= 2
        parts = [u.cells(rules, cell_m) for u in uncovered]
        frame = pd.concat(parts, ignore_index=True)
        note = (
            f"需求点 {len(points):,} 个（多于 {threshold:,} 个）：未覆盖居民按 {cell_m:,.0f} 米网格"
            "汇总显示；覆盖按每个需求点计算。",
            f"{len(points):,} demand points (more than {threshold:,}): uncovered residents are "
            f"shown per {cell_m:,.0f} m cell; coverage was decided per point.",
        )
    shown = gpd.GeoDataFrame(
        frame.drop(columns=["x", "y"]),
        geometry=gpd.points_from_xy(frame["x"], frame["y"]),
        crs=coverage.network.crs,
    )
    if note is not None:
        shown.attrs["cell_m"] = cell_m
    return shown, note


@dataclass(frozen=True)
class _Uncovered:
    """One rule's uncovered residents (network CRS), as :func:`map_demand` groups them; their
    coordinates taken once (every doubling of the cell reads them), the rest when grouped."""

    rule: Rule
    points: pd.DataFrame
    out: np.ndarray  # per point: not covered by the rule
    x: np.ndarray
    y: np.ndarray
    unreachable: np.ndarray

    @classmethod
    def of(cls, points: pd.DataFrame, rule: Rule) -> _Uncovered:
        out = ~points[column(rule.id, "covered")].to_numpy()
        time_s = points[column(rule.id, "time_s")].to_numpy()[out]
        x, y = points["x"].to_numpy()[out], points["y"].to_numpy()[out]
        return cls(rule, points, out, x, y, ~np.isfinite(time_s))

    def _keys(self, cell_m: float) -> tuple[np.ndarray, np.ndarray, int]:
        """Per resident, its ``cell_m`` grid cell as one int (ordered as column, row, then
        unreachable after reachable: the map row it joins); the first column and row, and the
        number of rows."""
        cx = np.floor(self.x / cell_m).astype(np.int64)
        cy = np.floor(self.y / cell_m).astype(np.int64)
        low = np.array([cx.min(), cy.min()]) if len(cx) else np.zeros(2, dtype=np.int64)
        rows = int(cy.max() - low[1]) + 1 if len(cy) else 1
        return ((cx - low[0]) * rows + (cy - low[1])) * 2 + self.unreachable, low, rows

    def n_cells(self, cell_m: float) -> int:
        """How many map rows :meth:`cells` makes at ``cell_m``."""
        return len(pd.unique(self._keys(cell_m)[0]))

    def cells(self, rules: Sequence[Rule], cell_m: float) -> pd.DataFrame:
        """The residents per ``cell_m`` grid cell, as map rows; the unreachable ones of a cell
        are a row of their own (minutes: the population-weighted mean, NaN if unreachable)."""
        key, low, rows = self._keys(cell_m)
        population = self.points["population"].to_numpy()[self.out]
        minutes = self.points[column(self.rule.id, "time_s")].to_numpy()[self.out] / 60
        cells = (
            pd.DataFrame(
                {
                    "key": key,
                    "population": population,
                    "weighted": np.where(self.unreachable, np.nan, minutes * population),
                }
            )
            .groupby("key")  # one int key: the order and sums of (column, row, unreachable)
            .sum(min_count=1)
        )
        cell = cells.index.to_numpy() // 2
        part = pd.DataFrame(
            {
                "demand_id": [f"{self.rule.id}-cell-{i}" for i in range(len(cells))],
                "population": cells["population"].to_numpy(),
                "x": (cell // rows + low[0] + 0.5) * cell_m,
                "y": (cell % rows + low[1] + 0.5) * cell_m,
            }
        )
        for other in rules:
            part[column(other.id, "covered")] = other.id != self.rule.id
            part[column(other.id, "minutes")] = np.nan
        with np.errstate(invalid="ignore", divide="ignore"):
            weighted, population = cells["weighted"].to_numpy(), cells["population"].to_numpy()
            part[column(self.rule.id, "minutes")] = weighted / population
        return part
