"""Administrative units: read any polygon layer with names/codes and assign points to it."""

from __future__ import annotations

import logging
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd

from .._compressed import is_graphml
from ..errors import InputError, InputFileNotFoundError

__all__ = [
    "CODE_COLUMNS",
    "NAME_COLUMNS",
    "assign_units",
    "first_present",
    "read_boundary",
    "read_units",
    "units_from_frame",
]

logger = logging.getLogger(__name__)

NAME_COLUMNS = ("unit_name", "name", "名称", "name_zh", "NAME", "行政区划名称", "区划名称", "乡镇")
CODE_COLUMNS = ("unit_code", "adcode", "code", "代码", "区划代码", "行政区划代码", "CODE")


def read_units(
    path: str | Path, *, name_column: str | None = None, code_column: str | None = None
) -> gpd.GeoDataFrame:
    """Read a polygon layer as units with ``unit_name`` and ``unit_code`` columns."""
    path = Path(path)
    if not path.exists():
        raise InputFileNotFoundError(f"units file {path} does not exist")
    try:
        frame = gpd.read_file(path)
    except Exception as exc:  # pyogrio DataSourceError and friends: a broken or foreign file
        raise InputError(
            f"{path.name}: cannot be read as a polygon layer ({exc}); check the file is complete "
            "GeoJSON, GeoPackage or Shapefile / 无法读取该面图层文件，请检查文件是否完整"
        ) from exc
    return units_from_frame(frame, name_column=name_column, code_column=code_column, source=path)


def read_boundary(
    path: str | Path, *, name: str | None = None, graphml: bool | None = None
) -> gpd.GeoDataFrame:
    """A study area's polygons, the one boundary reader of every command: a polygon layer
    (any file ``geopandas.read_file`` reads, as units: ``unit_name``, ``unit_code``), or a
    GraphML street graph with a ``boundary`` graph attribute (``name``: its name; the 2024
    团城山 file). ``graphml`` forces or forbids the GraphML reading (default: by content)."""
    path = Path(path)
    if not path.exists():
        raise InputFileNotFoundError(f"boundary file {str(path)!r} not found; check the path")
    if graphml or (graphml is None and is_graphml(path)):
        from .demand import boundary_from_graphml

        return boundary_from_graphml(path, name=name)
    try:
        frame = gpd.read_file(path, engine="pyogrio")
    except Exception as exc:  # pyogrio DataSourceError and friends
        raise InputError(f"{path.name}: cannot be read as a polygon layer ({exc})") from exc
    if not frame.geometry.geom_type.isin(["Polygon", "MultiPolygon"]).any():
        raise InputError(
            f"{path.name}: no polygon in the layer; give the study area as a polygon layer"
        )
    return units_from_frame(frame, source=path.name)


def units_from_frame(
    frame: gpd.GeoDataFrame,
    *,
    name_column: str | None = None,
    code_column: str | None = None,
    source: object = "units",
) -> gpd.GeoDataFrame:
    """Normalise a polygon GeoDataFrame to ``unit_name``, ``unit_code``, ``geometry``."""
    if len(frame) == 0:
        raise InputError(f"{source}: the units layer has no polygons")
    kinds = set(frame.geometry.geom_type.dropna())
    if not kinds <= {"Polygon", "MultiPolygon"}:
        raise InputError(f"{source}: units must be polygons, found {', '.join(sorted(kinds))}")
    name = name_column or first_present(frame, NAME_COLUMNS)
    code = code_column or first_present(frame, CODE_COLUMNS)
    for given in (name_column, code_column):
        if given and given not in frame:
            raise InputError(
                f"{source}: column {given!r} not found; columns: {list(frame.columns)}"
            )
    codes = (
        frame[code].astype(str)
        if code
        else pd.Series([f"unit-{i + 1}" for i in range(len(frame))], index=frame.index)
    )
    names = frame[name].astype(str) if name else codes
    return gpd.GeoDataFrame(
        {"unit_name": names.to_numpy(), "unit_code": codes.to_numpy()},
        geometry=frame.geometry.to_numpy(),
        crs=frame.crs,
    )


def assign_units(
    x: np.ndarray,
    y: np.ndarray,
    crs,
    units: gpd.GeoDataFrame,
    *,
    outside: str,
    tolerance_m: float = 0.0,
) -> tuple[np.ndarray, np.ndarray]:
    """Unit name and code of each point: the first unit containing it, else the nearest unit
    within ``tolerance_m`` metres, else ``outside`` (with code "")."""
    points = gpd.GeoDataFrame(geometry=gpd.points_from_xy(x, y), crs=crs)
    polygons = units.to_crs(crs) if units.crs is not None and crs is not None else units
    hits = gpd.sjoin(points, polygons, how="left", predicate="within")
    hits = hits[~hits.index.duplicated(keep="first")].sort_index()
    names = hits["unit_name"].to_numpy(dtype=object)
    codes = hits["unit_code"].to_numpy(dtype=object)
    missing = np.flatnonzero(pd.isna(names))
    if tolerance_m > 0 and len(missing):
        metric = points.crs if points.crs is None or points.crs.is_projected else None
        metric = metric or points.iloc[missing].estimate_utm_crs()
        near = gpd.sjoin_nearest(
            points.iloc[missing].to_crs(metric),
            polygons[["unit_name", "unit_code", "geometry"]].to_crs(metric),
            how="inner",
            max_distance=tolerance_m,
        )
        near = near[~near.index.duplicated(keep="first")]
        rows = points.index.get_indexer(near.index)
        names[rows] = near["unit_name"].to_numpy(dtype=object)
        codes[rows] = near["unit_code"].to_numpy(dtype=object)
    unplaced = pd.isna(names)
    names[unplaced] = outside
    codes[unplaced] = ""
    return names, codes


def first_present(frame: pd.DataFrame, candidates: tuple[str, ...]) -> str | None:
    lower = {str(c).lower(): c for c in frame.columns}
    for candidate in candidates:
        if candidate.lower() in lower:
            return lower[candidate.lower()]
    return None
