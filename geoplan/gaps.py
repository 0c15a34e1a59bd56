"""Ranked gap lists: uncovered residents merged into contiguous grid-cell clusters."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from scipy import ndimage

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
)


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
    ``merge_contiguous``, cells that touch (8-neighbourhood) form one area. Each area reports
    its population, travel times (seconds; NaN where no facility is reachable), the facility
    nearest to most of its residents, and the unit holding most of them.

    Parameters
    ----------
    points : DataFrame
        ``x``, ``y`` (metres), ``population`` and optionally ``unit_name``, one row per point.
    covered, travel_time_s, facility_id : arrays
        Per point, for the rule.
    """
    if cell_m <= 0:
        raise ValueError("cell_m must be positive")
    mask = ~np.asarray(covered, dtype=bool) & (points["population"].to_numpy() > 0)
    if not mask.any():
        return gpd.GeoDataFrame(
            {c: [] for c in GAP_COLUMNS}, geometry=gpd.GeoSeries([], crs=crs), crs=crs
        )
    x = points["x"].to_numpy()[mask]
    y = points["y"].to_numpy()[mask]
    ix = np.floor(x / cell_m).astype(np.int64)
    iy = np.floor(y / cell_m).astype(np.int64)
    ox, oy = ix.min(), iy.min()
    grid = np.zeros((iy.max() - oy + 1, ix.max() - ox + 1), dtype=bool)
    grid[iy - oy, ix - ox] = True
    if merge_contiguous:
        labels, _ = ndimage.label(grid, structure=np.ones((3, 3), dtype=int))
    else:
        labels = np.arange(grid.size).reshape(grid.shape)
    units = points["unit_name"].to_numpy()[mask] if "unit_name" in points else None
    table = pd.DataFrame(
        {
            "cluster": labels[iy - oy, ix - ox],
            "population": points["population"].to_numpy()[mask],
            "time": np.asarray(travel_time_s, dtype=float)[mask],
            "facility": np.asarray(facility_id, dtype=object)[mask],
            "unit": units if units is not None else "",
            "ix": ix,
            "iy": iy,
        }
    )
    rows = []
    for cluster, part in table.groupby("cluster", sort=False):
        times = part["time"].to_numpy()
        finite = np.isfinite(times)
        cells = part[["ix", "iy"]].drop_duplicates().to_numpy()
        boxes = shapely.box(
            cells[:, 0] * cell_m,
            cells[:, 1] * cell_m,
            (cells[:, 0] + 1) * cell_m,
            (cells[:, 1] + 1) * cell_m,
        )
        rows.append(
            {
                "cluster": cluster,
                "population": float(part["population"].sum()),
                "n_points": len(part),
                "median_travel_time_s": float(np.median(times[finite])) if finite.any() else np.nan,
                "max_travel_time_s": float(times[finite].max()) if finite.any() else np.nan,
                "unreachable_population": float(part["population"].to_numpy()[~finite].sum()),
                "nearest_facility_id": _heaviest(part, "facility"),
                "unit_name": _heaviest(part, "unit"),
                "geometry": shapely.union_all(boxes),
            }
        )
    gaps = pd.DataFrame(rows).sort_values(
        ["population", "cluster"], ascending=[False, True], kind="stable"
    )
    gaps["rank"] = np.arange(1, len(gaps) + 1)
    gaps["rule_id"] = rule_id
    gaps["gap_id"] = [f"{rule_id}-{r:03d}" for r in gaps["rank"]]
    return gpd.GeoDataFrame(gaps[[*GAP_COLUMNS, "geometry"]], geometry="geometry", crs=crs)


def _heaviest(part: pd.DataFrame, key: str):
    """The value of ``key`` holding the most population in ``part`` (None if all missing)."""
    weights = part.dropna(subset=[key]).groupby(key)["population"].sum()
    if weights.empty:
        return None
    return weights.sort_values(ascending=False, kind="stable").index[0]
