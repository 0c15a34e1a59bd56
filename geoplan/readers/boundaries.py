"""Administrative units: read any polygon layer with names/codes and assign points to it.

A unit may carry a type, ``urban`` or ``rural`` (``unit_type``), read from a column of the
layer (``[units] type_column``): the words 城镇/城市/城区 or 乡村/农村, or the
three-digit 城乡分类代码 of the National Bureau of Statistics' 统计用区划和城乡划分代码
(《统计上划分城乡的规定》, 国函〔2008〕60号): codes beginning with 1 are 城镇
(111 主城区, 112 城乡结合区, 121 镇中心区, 122 镇乡结合区, 123 特殊区域), codes
beginning with 2 乡村 (210 乡中心区, 220 村庄).
"""

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
    "UNIT_TYPES",
    "UNIT_TYPE_ALIASES",
    "assign_units",
    "first_present",
    "parse_unit_type",
    "point_unit_types",
    "read_boundary",
    "read_units",
    "units_from_frame",
]

logger = logging.getLogger(__name__)

UNIT_TYPES: dict[str, tuple[str, str]] = {"urban": ("城镇", "urban"), "rural": ("乡村", "rural")}
"""Unit types: 城镇 (urban) and 乡村 (rural), as the statistics divide 城乡 (zh, en labels)."""

UNIT_TYPE_ALIASES: dict[str, tuple[str, ...]] = {
    "urban": ("urban", "城镇", "城市", "城区", "镇区", "市区", "城", "街道"),
    "rural": ("rural", "乡村", "农村", "村庄", "乡", "村", "乡镇", "镇"),
}
"""The words of a type column read as each unit type (case and spaces aside); the
三位城乡分类代码 are read too (:func:`parse_unit_type`)."""

NAME_COLUMNS = ("unit_name", "name", "名称", "name_zh", "NAME", "行政区划名称", "区划名称", "乡镇")
CODE_COLUMNS = ("unit_code", "adcode", "code", "代码", "区划代码", "行政区划代码", "CODE")


def read_units(
    path: str | Path,
    *,
    name_column: str | None = None,
    code_column: str | None = None,
    type_column: str | None = None,
) -> gpd.GeoDataFrame:
    """Read a polygon layer as units with ``unit_name`` and ``unit_code`` columns (and
    ``unit_type`` from ``type_column``, see :func:`parse_unit_type`)."""
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
    return units_from_frame(
        frame,
        name_column=name_column,
        code_column=code_column,
        type_column=type_column,
        source=path,
    )


def parse_unit_type(value: object) -> str | None:
    """``urban`` or ``rural`` for a unit-type cell; None when blank.

    Accepts the words of :data:`UNIT_TYPE_ALIASES` (城区/街道 … urban, 农村/乡镇 … rural) and
    the 城乡分类代码 (1xx 城镇,
    2xx 乡村: 111, 112, 121, 122, 123 / 210, 220; also 100, 110, 120 / 200). Raises
    ValueError for anything else (the caller names the unit).
    """
    from ..taxonomy import normalize_text

    if value is None or (isinstance(value, float) and np.isnan(value)):
        return None
    if isinstance(value, float) and value.is_integer():  # a code read as a number
        value = int(value)
    text = normalize_text(value)
    if not text or text in ("nan", "none"):
        return None
    if text.isdigit() and len(text) == 3 and text[0] in "12":
        return "urban" if text[0] == "1" else "rural"
    for kind, words in UNIT_TYPE_ALIASES.items():
        if text in words or text.removesuffix("地区") in words:
            return kind
    raise ValueError(f"{value!r} is not a unit type")


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
    type_column: str | None = None,
    source: object = "units",
) -> gpd.GeoDataFrame:
    """Normalise a polygon GeoDataFrame to ``unit_name``, ``unit_code``, ``geometry`` (and
    ``unit_type``, ``urban``/``rural``/None, when ``type_column`` is given)."""
    if len(frame) == 0:
        raise InputError(f"{source}: the units layer has no polygons")
    kinds = set(frame.geometry.geom_type.dropna())
    if not kinds <= {"Polygon", "MultiPolygon"}:
        raise InputError(f"{source}: units must be polygons, found {', '.join(sorted(kinds))}")
    name = name_column or first_present(frame, NAME_COLUMNS)
    code = code_column or first_present(frame, CODE_COLUMNS)
    for given in (name_column, code_column, type_column):
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
    columns = {"unit_name": names.to_numpy(), "unit_code": codes.to_numpy()}
    if type_column:
        columns["unit_type"] = _unit_types(frame[type_column], names, type_column, source)
    return gpd.GeoDataFrame(columns, geometry=frame.geometry.to_numpy(), crs=frame.crs)


def _unit_types(values: pd.Series, names: pd.Series, column: str, source: object) -> np.ndarray:
    """``parse_unit_type`` of each cell; an unrecognised one is an error naming the unit."""
    out = np.empty(len(values), dtype=object)
    for i, (value, name) in enumerate(zip(values, names, strict=True)):
        try:
            out[i] = parse_unit_type(value)
        except ValueError:
            raise InputError(
                f"{source}: unit {name!r} has {column} = {value!r}, which is not a unit type; "
                "write urban/rural, 城镇/城区/街道 or 乡村/农村/乡镇, or a 城乡分类代码 "
                "(111–123 城镇, 210/220 乡村) / "
                f"单元“{name}”的城乡类型“{value}”无法识别，请填写 城镇/乡村 或城乡分类代码"
            ) from None
    return out


def point_unit_types(
    names: np.ndarray, codes: np.ndarray, units: gpd.GeoDataFrame
) -> np.ndarray | None:
    """The unit type of each point assigned to ``units`` (by its unit's name and code, as
    :func:`assign_units` gives them); ``""`` outside every unit; None when the units have no
    types."""
    if "unit_type" not in units:
        return None
    key = pd.MultiIndex.from_arrays(
        [units["unit_code"].astype(str), units["unit_name"].astype(str)]
    )
    types = pd.Series(units["unit_type"].to_numpy(dtype=object), index=key)
    types = types[~types.index.duplicated(keep="first")]
    found = types.reindex(pd.MultiIndex.from_arrays([codes.astype(str), names.astype(str)]))
    return found.fillna("").to_numpy(dtype=object)


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
