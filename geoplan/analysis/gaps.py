"""Ranked gap lists: uncovered residents per grid cell (or merged clusters), by reason."""

from __future__ import annotations

from collections.abc import Sequence

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from scipy import ndimage

from ..messages import reason
from .coverage import Coverage, column

__all__ = ["GAP_COLUMNS", "GAP_REASONS", "coverage_gaps", "find_gaps"]

GAP_COLUMNS = (
    "gap_id",
    "rule_id",
    "rank",
    "population",
    "n_points",
    "median_travel_time_s",
    "max_travel_time_s",
    "unreachable_population",
    "nearest_facility_id",
    "unit_name",
    "reason",
    "reason_zh",
    "reason_en",
)

GAP_REASONS: dict[str, tuple[str, str]] = {
    code: reason(code) for code in ("beyond_threshold", "unreachable")
}
"""Why residents are in a gap area: ``reason`` code → (中文, English) (from
:data:`geoplan.messages.REASONS`)."""


def coverage_gaps(
    coverage: Coverage,
    rule_ids: Sequence[str] | None = None,
    *,
    cell_m: float = 500.0,
    merge_contiguous: bool = False,
) -> gpd.GeoDataFrame:
    """The ranked gap areas of ``coverage`` (:func:`find_gaps`), rule after rule.

    ``rule_ids`` default to every rule of the coverage. Areas are in the network CRS; with the
    coverage's facilities known, ``nearest_facility_name`` names the nearest facility.
    """
    rules = coverage.rules if rule_ids is None else [coverage.rule(r) for r in rule_ids]
    points = coverage.table
    crs = None if coverage.network is None else coverage.network.crs
    units = _unit_codes(points)  # once for every rule
    gaps = pd.concat(
        [
            _gap_areas(
                points,
                rule_id=rule.id,
                covered=points[column(rule.id, "covered")].to_numpy(),
                travel_time_s=points[column(rule.id, "time_s")].to_numpy(),
                facilities=_codes(points[column(rule.id, "facility_id")]),
                units=units,
                crs=crs,
                cell_m=cell_m,
                merge_contiguous=merge_contiguous,
            )
            for rule in rules
        ],
        ignore_index=True,
    )
    gaps = gpd.GeoDataFrame(gaps, geometry="geometry", crs=crs)
    if coverage.facilities is not None:
        used = coverage.facilities
        names = dict(zip(used["facility_id"], used["name"], strict=True))
        gaps["nearest_facility_name"] = gaps["nearest_facility_id"].map(names)
    return gaps


def find_gaps(
    points: pd.DataFrame,
    *,
    rule_id: str,
    covered: np.ndarray,
    travel_time_s: np.ndarray,
    facility_id: np.ndarray,
    crs,
    cell_m: float = 500.0,
    merge_contiguous: bool = False,
) -> gpd.GeoDataFrame:
    """Uncovered population per gap area, largest first.

    Uncovered demand points are binned into ``cell_m`` × ``cell_m`` grid cells (metres, in the
    network CRS, aligned on multiples of ``cell_m``). Each cell is a gap area, or, with
    ``merge_contiguous``, cells that touch (8-neighbourhood) form one area. Residents from
    whom no facility can be reached are listed apart from those beyond the threshold (their
    own areas, ``reason = "unreachable"``, travel times NaN), so an area's times are never a
    mix. Each area reports its population, travel times (seconds), the facility nearest to
    most of its residents, the unit holding most of them and its reason (``GAP_REASONS``).

    Parameters
    ----------
    points : DataFrame
        ``x``, ``y`` (metres), ``population`` and optionally ``unit_name``, one row per point.
    covered, travel_time_s, facility_id : arrays
        Per point, for the rule.
    """
    return _gap_areas(
        points,
        rule_id=rule_id,
        covered=covered,
        travel_time_s=travel_time_s,
        facilities=_codes(facility_id),
        units=_unit_codes(points),
        crs=crs,
        cell_m=cell_m,
        merge_contiguous=merge_contiguous,
    )


def _gap_areas(
    points: pd.DataFrame,
    *,
    rule_id: str,
    covered: np.ndarray,
    travel_time_s: np.ndarray,
    facilities: tuple[np.ndarray, np.ndarray],
    units: tuple[np.ndarray, np.ndarray] | None,
    crs,
    cell_m: float,
    merge_contiguous: bool,
) -> gpd.GeoDataFrame:
    """:func:`find_gaps` with the facility ids and unit names as :func:`_codes` (``units``
    None: the points have no unit)."""
    if cell_m <= 0:
        raise ValueError("cell_m must be positive")
    mask = ~np.asarray(covered, dtype=bool) & (points["population"].to_numpy() > 0)
    if not mask.any():
        return gpd.GeoDataFrame(
            {c: [] for c in GAP_COLUMNS}, geometry=gpd.GeoSeries([], crs=crs), crs=crs
        )
    x = points["x"].to_numpy()[mask]
    y = points["y"].to_numpy()[mask]
    time = np.asarray(travel_time_s, dtype=float)[mask]
    unreachable = ~np.isfinite(time)
    ix = np.floor(x / cell_m).astype(np.int64)
    iy = np.floor(y / cell_m).astype(np.int64)
    ox, oy = ix.min(), iy.min()
    width = ix.max() - ox + 1  # grid columns
    cluster = np.empty(len(x), dtype=np.int64)
    for kind in (False, True):  # clusters never mix the reachable and the unreachable
        mine = unreachable == kind
        grid = np.zeros((iy.max() - oy + 1, width), dtype=bool)
        grid[iy[mine] - oy, ix[mine] - ox] = True
        if merge_contiguous:
            labels, _ = ndimage.label(grid, structure=np.ones((3, 3), dtype=int))
        else:
            labels = np.arange(grid.size).reshape(grid.shape)
        cluster[mine] = 2 * labels[iy[mine] - oy, ix[mine] - ox] + int(kind)
    # a cell holds one cluster of each kind: (cell, kind) numbers the (cell, cluster) pairs
    cell = 2 * ((iy - oy) * width + (ix - ox)) + unreachable
    table = pd.DataFrame(
        {
            "cluster": cluster,
            "population": points["population"].to_numpy()[mask],
            "time": time,
            "ix": ix,
            "iy": iy,
            "cell": cell,
        }
    )
    table["unreachable"] = np.where(unreachable, table["population"], 0.0)
    grouped = table.groupby("cluster", sort=False)
    gaps = grouped.agg(
        population=("population", "sum"),
        n_points=("population", "size"),
        median_travel_time_s=("time", "median"),
        max_travel_time_s=("time", "max"),
        unreachable_population=("unreachable", "sum"),
    )
    gaps["nearest_facility_id"] = _heaviest(table, facilities[0][mask], facilities[1])
    if units is not None:
        gaps["unit_name"] = _heaviest(table, units[0][mask], units[1])
    else:
        gaps["unit_name"] = ""
    odd = gaps.index.to_numpy() % 2 == 1  # the cluster's kind: unreachable
    gaps["reason"] = np.where(odd, "unreachable", "beyond_threshold")
    unreachable_text, beyond_text = GAP_REASONS["unreachable"], GAP_REASONS["beyond_threshold"]
    for k, name in enumerate(("reason_zh", "reason_en")):
        gaps[name] = np.where(odd, unreachable_text[k], beyond_text[k])
    if merge_contiguous:
        gaps["geometry"] = _cluster_cells(table, cell_m)
    else:  # a cluster is one cell: 2 × its number in the grid (+1 if unreachable)
        cell = gaps.index.to_numpy() // 2
        gaps["geometry"] = _boxes(cell % width + ox, cell // width + oy, cell_m)
    gaps = gaps.reset_index()
    order = np.lexsort((gaps["cluster"].to_numpy(), -gaps["population"].to_numpy()))
    gaps = gaps.take(order)  # largest population first, then by cluster
    gaps["rank"] = np.arange(1, len(gaps) + 1)
    gaps["rule_id"] = rule_id
    gaps["gap_id"] = f"{rule_id}-" + gaps["rank"].astype("str").str.zfill(3)  # 001, …, 1000
    return gpd.GeoDataFrame(gaps[[*GAP_COLUMNS, "geometry"]], geometry="geometry", crs=crs)


def _boxes(ix: np.ndarray, iy: np.ndarray, cell_m: float) -> np.ndarray:
    """The grid cells of columns ``ix`` and rows ``iy`` (``cell_m`` metres) as polygons."""
    return shapely.box(ix * cell_m, iy * cell_m, (ix + 1) * cell_m, (iy + 1) * cell_m)


def _codes(values) -> tuple[np.ndarray, np.ndarray]:
    """``values`` as integer codes (-1: missing) numbered in the values' sort order, and the
    value of each code: grouping by the codes groups and orders as by the values, without a
    Python string per point."""
    if isinstance(values, pd.Series):
        values = values.array
    if not isinstance(values, pd.api.extensions.ExtensionArray):
        values = np.asarray(values, dtype=object)
    codes, uniques = pd.factorize(values, sort=True)
    return codes, np.asarray(uniques, dtype=object)


def _unit_codes(points: pd.DataFrame) -> tuple[np.ndarray, np.ndarray] | None:
    """:func:`_codes` of the points' ``unit_name`` (None without the column)."""
    return _codes(points["unit_name"]) if "unit_name" in points else None


def _heaviest(table: pd.DataFrame, codes: np.ndarray, values: np.ndarray) -> pd.Series:
    """Per cluster, the value holding the most population (ties: the lowest value; None if all
    missing). ``codes`` follow ``table``'s rows (:func:`_codes`)."""
    known = codes >= 0
    if not known.any():
        return pd.Series(None, index=table["cluster"].unique(), dtype=object)
    if len(values) == 1:  # one value (a study area of the demand): no weights to compare
        clusters = pd.unique(table["cluster"].to_numpy()[known])
        return pd.Series(values[np.zeros(len(clusters), dtype=np.int64)], index=clusters)
    # one int key ordered as (cluster, code): a single-key groupby sums as the two-key one
    pair = table["cluster"].to_numpy()[known] * len(values) + codes[known]
    weights = pd.Series(table["population"].to_numpy()[known]).groupby(pair, sort=True).sum()
    best = pd.DataFrame(
        {
            "cluster": weights.index.to_numpy() // len(values),
            "code": weights.index.to_numpy() % len(values),
            "population": weights.to_numpy(),
        }
    ).sort_values(["cluster", "population"], ascending=[True, False], kind="stable")
    best = best.drop_duplicates("cluster")
    return pd.Series(values[best["code"].to_numpy()], index=best["cluster"].to_numpy())


def _cluster_cells(table: pd.DataFrame, cell_m: float) -> pd.Series:
    """Per cluster, the union of its grid cells (one box when the cluster is one cell, in the
    order the rows first reach them); ``table["cell"]`` numbers the (cell, cluster) pairs."""
    cells = table[~table["cell"].duplicated()]
    cells = cells.assign(geometry=_boxes(cells["ix"], cells["iy"], cell_m))
    counts = cells["cluster"].value_counts()
    single = cells[cells["cluster"].map(counts) == 1].set_index("cluster")["geometry"]
    multi = (
        cells[cells["cluster"].map(counts) > 1]
        .groupby("cluster")["geometry"]
        .agg(lambda part: shapely.union_all(part.to_numpy()))
    )
    return pd.concat([single, multi])
