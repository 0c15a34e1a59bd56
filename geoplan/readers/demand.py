"""Demand points (people with a location) from rasters, point/line/polygon tables and GraphML edges.

Every reader returns the **Demand** table of ``DESIGN.md``: a ``GeoDataFrame`` with
``demand_id`` (str, unique), ``population`` (float64, finite, >= 0, persons) and a Point
``geometry`` in the input's own CRS (the engine projects later), plus a few reader-specific
columns. Each call logs one INFO line with the number of points and the total population.

Population values (vector inputs) follow one policy:

- missing values (empty cell, NaN, ``NA``/``null``/``-``) and nodata sentinels (<= -9999, e.g.
  -9999, -99999, -3.4e38) are *nodata-like*: those rows are dropped with a
  :class:`~geoplan.errors.DataQualityWarning` naming them (they carry no people either way);
- any other negative number, infinity or non-numeric text (``"abc"``, ``"约3000"``) is an
  error: :class:`~geoplan.errors.InputError` naming up to ten offending records;
- zero is kept (a place with no residents is still a place);
- thousands separators (``"12,345"``) are accepted.

Records are numbered from 1 in input order ("record 1" is the first feature, or the first line
after a CSV header); ``row-<n>`` ids use the same numbering.
"""

from __future__ import annotations

import inspect
import logging
import math
import os
import re
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import CRS

from .. import limits
from .._compressed import DECOMPRESSION_ERRORS, GRAPHML_SUFFIXES, is_graphml, open_input
from .._io import read_xlsx_table
from ..errors import DataQualityWarning, InputError, InputFileNotFoundError

logger = logging.getLogger(__name__)

__all__ = [
    "POPULATION_COLUMNS",
    "RASTER_SUFFIXES",
    "boundary_from_graphml",
    "demand_from_graphml_edges",
    "demand_from_lines",
    "demand_from_points",
    "demand_from_polygons",
    "demand_from_raster",
    "raster_kind",
    "read_demand",
]

RASTER_SUFFIXES = (".tif", ".tiff", ".img", ".asc")
TABLE_SUFFIXES = (".csv", ".tsv", ".txt", ".xlsx")
VECTOR_SUFFIXES = (".geojson", ".json", ".gpkg", ".shp", ".fgb", ".parquet", ".geoparquet")

#: Population column names found automatically (case-insensitive), unless one is given.
POPULATION_COLUMNS = ("population", "pop", "人口", "人口数", "常住人口")
ID_COLUMNS = ("demand_id", "id")
UNIT_COLUMNS = ("unit_name", "unit_code")
LONLAT_COLUMNS = (("lon", "lat"), ("longitude", "latitude"), ("lng", "lat"), ("经度", "纬度"))
XY_COLUMNS = (("x", "y"),)

#: Text in a raster's tags, band description or units that marks it as a density raster.
DENSITY_MARKERS = (
    "density",
    "persons per km",
    "people per km",
    "per km2",
    "per km²",
    "/km2",
    "/km²",
    "密度",
    "人/平方公里",
)
#: Tokens in a raster's file name (lower-case, ``_`` added at both ends) that mark density.
DENSITY_NAME_MARKERS = ("_pd_", "density", "密度")

NODATA_LIKE_MAX = -9999.0
_NA_TOKENS = frozenset({"", "na", "n/a", "nan", "null", "none", "-", "--", "—", "nodata"})
_THOUSANDS = re.compile(r"^[+-]?\d{1,3}([,，]\d{3})+(\.\d*)?$")
_MAX_NAMED = 10

# shapely geometry type ids
_POINT, _LINESTRING, _LINEARRING, _POLYGON = 0, 1, 2, 3
_MULTIPOINT, _MULTILINESTRING, _MULTIPOLYGON = 4, 5, 6

PathLike = str | os.PathLike
Frame = pd.DataFrame | gpd.GeoDataFrame


# --------------------------------------------------------------------------- rasters


def demand_from_raster(
    path: PathLike,
    *,
    kind: Literal["auto", "count", "density"] = "auto",
    band: int = 1,
    boundary: gpd.GeoDataFrame | gpd.GeoSeries | shapely.Geometry | None = None,
) -> gpd.GeoDataFrame:
    """One demand point per populated raster cell, at the cell centre.

    Parameters
    ----------
    path
        A single-band or multi-band raster readable by rasterio (GeoTIFF, .img, .asc ...).
    kind
        ``"count"``: cell values are persons per cell. ``"density"``: persons per km²; the
        population is density × the cell's true area in km². ``"auto"`` (default): density
        when the dataset or band tags, the band description or units contain a marker from
        :data:`DENSITY_MARKERS` (``"density"``, ``"persons per km"`` ...) or the file name
        contains ``_pd_`` / ``density`` (WorldPop's ``*_pd_*`` files), otherwise count. The
        choice and its reason are logged.
    band
        1-based band number.
    boundary
        Optional polygon(s): keep only cells whose centre lies inside or on the boundary. A
        GeoDataFrame/GeoSeries is reprojected to the raster's CRS; a bare shapely geometry must
        already be in it. The returned total is then the *clipped* total (cells cut by the
        boundary count fully or not at all, by their centre).

    Returns
    -------
    GeoDataFrame
        ``demand_id`` (``r<row>_c<col>``, 0-based in the whole raster), ``population``,
        ``row``, ``col``, ``cell_area_km2`` (density rasters only), ``geometry`` (cell centre),
        in the raster's CRS.

    Notes
    -----
    Cells that are nodata (including the dataset mask), NaN, zero or negative are dropped;
    negative values that are not the declared nodata raise a DataQualityWarning, infinite values
    an InputError. Cell areas: for a geographic CRS each row's area is the exact area of the
    latitude/longitude quadrangle on the CRS's ellipsoid,
    ``Δλ · |A(φ2) − A(φ1)|`` with ``A(φ) = b²/2 · (sinφ/(1 − e² sin²φ) + artanh(e sinφ)/e)``
    (which reduces to ``R² Δλ (sinφ2 − sinφ1)`` on a sphere); for a projected CRS the pixel
    area (``|det(transform)|`` × the CRS unit in metres, squared), i.e. map-plane area, without
    correcting the projection's scale distortion.
    """
    import rasterio
    from rasterio.errors import RasterioIOError

    path = _existing_path(path, "path")
    if kind not in ("auto", "count", "density"):
        raise InputError(f"kind must be 'auto', 'count' or 'density'; got {kind!r}")
    try:
        ds = rasterio.open(path)
    except RasterioIOError as exc:
        raise InputError(f"cannot read raster {path}: {exc}") from exc
    with ds:
        if not isinstance(band, int | np.integer) or not 1 <= band <= ds.count:
            raise InputError(f"band must be an integer from 1 to {ds.count} for {path.name}")
        if ds.crs is None:
            raise InputError(
                f"raster {path.name} has no CRS; assign one (e.g. gdal_edit.py -a_srs EPSG:4326)"
            )
        crs = CRS.from_wkt(ds.crs.to_wkt())
        chosen, reason = raster_kind(ds, band, path, kind)
        transform = ds.transform
        nodata = ds.nodatavals[band - 1]

        geom = None
        row0, col0, height, width = 0, 0, ds.height, ds.width
        if boundary is not None:
            geom = _boundary_geometry(boundary, crs)
            if transform.b == 0 and transform.d == 0:
                row0, col0, height, width = _window_of(geom.bounds, transform, ds.height, ds.width)
        window = rasterio.windows.Window(col0, row0, width, height)
        limits.current().check(
            "raster_cells",
            height * width,
            f"栅格 {path.name} 读取的像元数",
            f"cells of raster {path.name} read at once ({height:,} rows × {width:,} columns)",
            fix="Give a [boundary] to read only its window, or clip the raster to the area",
        )
        if height > 0 and width > 0:
            values = ds.read(band, window=window).astype(np.float64)
            valid_mask = ds.read_masks(band, window=window) > 0
        else:
            values = np.zeros((0, 0))
            valid_mask = np.zeros((0, 0), dtype=bool)

    finite = np.isfinite(values)
    if np.any(valid_mask & np.isposinf(values)):
        r, c = np.nonzero(valid_mask & np.isposinf(values))
        cells = ", ".join(
            f"r{a + row0}_c{b + col0}" for a, b in zip(r[:_MAX_NAMED], c[:_MAX_NAMED], strict=True)
        )
        raise InputError(f"raster {path.name}: {r.size} cells hold +inf ({cells})")
    negative = valid_mask & finite & (values < 0)
    if negative.any():
        warnings.warn(
            f"raster {path.name}: dropped {int(negative.sum())} cells with negative values that "
            f"are not the declared nodata ({nodata}); declare the nodata value if they are "
            "nodata",
            DataQualityWarning,
            stacklevel=2,
        )
    keep = valid_mask & finite & (values > 0)
    _check_points(int(np.count_nonzero(keep)), f"populated cells of raster {path.name}")
    rows, cols = np.nonzero(keep)
    cell_values = values[rows, cols]
    rows = rows.astype(np.int64) + row0
    cols = cols.astype(np.int64) + col0

    xs = transform.c + transform.a * (cols + 0.5) + transform.b * (rows + 0.5)
    ys = transform.f + transform.d * (cols + 0.5) + transform.e * (rows + 0.5)
    if geom is not None and rows.size:
        geom = shapely.from_wkb(shapely.to_wkb(geom))  # a private copy: prepare() marks it
        shapely.prepare(geom)
        inside = shapely.intersects_xy(geom, xs, ys)
        rows, cols, xs, ys, cell_values = (a[inside] for a in (rows, cols, xs, ys, cell_values))

    extras: dict[str, np.ndarray] = {"row": rows, "col": cols}
    if chosen == "density":
        area_km2 = _cell_areas_km2(crs, transform, rows, path.name)
        population = cell_values * area_km2
        extras["cell_area_km2"] = area_km2
    else:
        population = cell_values
    if rows.size == 0:
        where = " inside the boundary" if boundary is not None else ""
        raise InputError(
            f"raster {path.name} band {band} has no populated cells{where}; check the band, the "
            "nodata value and that the boundary is in the raster's area and CRS"
        )
    ids = np.array(
        [f"r{r}_c{c}" for r, c in zip(rows.tolist(), cols.tolist(), strict=True)], dtype=object
    )
    clipped = ", clipped to boundary" if boundary is not None else ""
    return _finish(
        ids,
        population,
        shapely.points(xs, ys),
        crs,
        extras,
        func="demand_from_raster",
        source=path.name,
        detail=f"kind={chosen} ({reason}){clipped}",
    )


def raster_kind(ds: Any, band: int, path: Path, kind: str) -> tuple[str, str]:
    """Resolve ``kind="auto"`` from metadata and file name; return (kind, reason)."""
    if kind != "auto":
        return kind, "given"
    texts = [f"{k}={v}" for k, v in ds.tags().items()]
    texts += [f"{k}={v}" for k, v in ds.tags(band).items()]
    texts += [t for t in (ds.descriptions[band - 1], ds.units[band - 1]) if t]
    for text in texts:
        low = text.lower()
        for marker in DENSITY_MARKERS:
            if marker in low:
                return "density", f"auto: metadata {text[:60]!r} contains {marker!r}"
    name = f"_{path.stem.lower()}_"
    for marker in DENSITY_NAME_MARKERS:
        if marker in name:
            return "density", f"auto: file name contains {marker!r}"
    return "count", "auto: no density marker in metadata or file name"


def _window_of(
    bounds: tuple[float, float, float, float], transform: Any, height: int, width: int
) -> tuple[int, int, int, int]:
    """Raster window (row0, col0, height, width) covering ``bounds``, clipped to the raster."""
    minx, miny, maxx, maxy = bounds
    inv = ~transform
    cs, rs = zip(*(inv * (x, y) for x in (minx, maxx) for y in (miny, maxy)), strict=True)
    c0 = min(max(math.floor(min(cs)), 0), width)
    c1 = min(max(math.ceil(max(cs)), 0), width)
    r0 = min(max(math.floor(min(rs)), 0), height)
    r1 = min(max(math.ceil(max(rs)), 0), height)
    return r0, c0, r1 - r0, c1 - c0


def _cell_areas_km2(crs: CRS, transform: Any, rows: np.ndarray, name: str) -> np.ndarray:
    """True area in km² of the cells in ``rows`` (see :func:`demand_from_raster`)."""
    if crs.is_geographic:
        if transform.b != 0 or transform.d != 0:
            raise InputError(
                f"raster {name}: density on a rotated geographic grid is not supported; "
                "warp it to a north-up grid first (gdalwarp)"
            )
        to_rad = crs.axis_info[0].unit_conversion_factor  # radians per CRS angular unit
        ellipsoid = crs.ellipsoid
        if ellipsoid is None:
            raise InputError(f"raster {name}: its geographic CRS has no ellipsoid")
        a = ellipsoid.semi_major_metre
        b = ellipsoid.semi_minor_metre
        e2 = max(1.0 - (b / a) ** 2, 0.0)
        lat_edge1 = np.clip((transform.f + transform.e * rows) * to_rad, -np.pi / 2, np.pi / 2)
        lat_edge2 = np.clip(
            (transform.f + transform.e * (rows + 1)) * to_rad, -np.pi / 2, np.pi / 2
        )
        dlon = abs(transform.a) * to_rad
        band = np.abs(_zone_area(lat_edge2, a, e2) - _zone_area(lat_edge1, a, e2))
        return dlon * band / 1e6
    if crs.is_projected:
        to_m = crs.axis_info[0].unit_conversion_factor  # metres per CRS linear unit
        pixel = abs(transform.a * transform.e - transform.b * transform.d) * to_m**2 / 1e6
        return np.full(rows.shape, pixel, dtype=np.float64)
    raise InputError(
        f"raster {name}: cannot compute cell areas in CRS {crs.name!r} (neither geographic nor "
        "projected); pass kind='count' or reproject the raster"
    )


def _zone_area(phi: np.ndarray, a: float, e2: float) -> np.ndarray:
    """Ellipsoid area between the equator and latitude ``phi`` per radian of longitude, m²."""
    s = np.sin(phi)
    if e2 < 1e-15:
        return a * a * s
    e = math.sqrt(e2)
    b2 = a * a * (1.0 - e2)
    return 0.5 * b2 * (s / (1.0 - e2 * s * s) + np.arctanh(e * s) / e)


def _boundary_geometry(boundary: Any, crs: CRS) -> shapely.Geometry:
    """The boundary as one polygonal shapely geometry in ``crs``."""
    if isinstance(boundary, gpd.GeoDataFrame):
        boundary = boundary.geometry
    if isinstance(boundary, gpd.GeoSeries):
        if len(boundary) == 0:
            raise InputError("boundary is empty (no rows)")
        if boundary.crs is not None and not CRS.from_user_input(boundary.crs).equals(crs):
            boundary = boundary.to_crs(crs)
        geom = boundary.union_all()
    elif isinstance(boundary, shapely.Geometry):
        geom = boundary
    else:
        raise InputError(
            "boundary must be a GeoDataFrame, GeoSeries or shapely geometry; "
            f"got {type(boundary).__name__}"
        )
    if geom is None or geom.is_empty or geom.area <= 0:
        raise InputError("boundary has no area (empty or not a polygon)")
    if not geom.is_valid:
        geom = shapely.make_valid(geom)
    return geom


# --------------------------------------------------------------------------- points


def demand_from_points(
    path_or_frame: PathLike | Frame,
    *,
    population_column: str | None = None,
    id_column: str | None = None,
    crs: Any = None,
) -> gpd.GeoDataFrame:
    """Demand points from a point layer or a table with coordinates.

    Parameters
    ----------
    path_or_frame
        A CSV/TSV/TXT/XLSX table with coordinate columns (``lon``/``lat``,
        ``longitude``/``latitude``, ``lng``/``lat``, ``经度``/``纬度`` or ``x``/``y``,
        case-insensitive), a point vector file (GeoJSON, GPKG, Shapefile, GeoParquet ...), or
        a (Geo)DataFrame of either kind. CSV text is read as UTF-8 (with or without BOM),
        else GB18030.
    population_column
        Column with persons per point; default: the one column named like
        :data:`POPULATION_COLUMNS` (``population``, ``pop``, ``人口``, ``人口数``,
        ``常住人口``; case-insensitive). Several such columns → InputError (choose one).
    id_column
        Column with point ids; default ``demand_id`` or ``id`` if present, else ``row-<n>``.
    crs
        CRS of table coordinates. Default: EPSG:4326 for lon/lat columns; for ``x``/``y``
        columns EPSG:4326 only when every value is a plausible longitude/latitude, otherwise
        an InputError asks for it. Ignored for layers that carry their own CRS.

    Returns
    -------
    GeoDataFrame
        ``demand_id``, ``population`` (persons), ``unit_name``/``unit_code`` when present,
        ``geometry`` (Point) in the input's CRS.
    """
    frame, source = _load(path_or_frame)
    return _points(frame, source, population_column=population_column, id_column=id_column, crs=crs)


def _points(
    frame: Frame,
    source: str,
    *,
    population_column: str | None,
    id_column: str | None,
    crs: Any,
    func: str = "demand_from_points",
) -> gpd.GeoDataFrame:
    _require_rows(frame, source)
    ids, labels = _ids(frame, id_column, source)
    pop_col = _population_column(frame, population_column, source)
    population = _population(frame[pop_col], labels, source=source, column=pop_col)
    keep = ~np.isnan(population)
    detail = f"population column {pop_col!r}"

    if isinstance(frame, gpd.GeoDataFrame):
        out_crs = _frame_crs(frame, source)
        geoms = _geometry_array(frame)
        types = shapely.get_type_id(geoms)
        single_multi = (types == _MULTIPOINT) & (shapely.get_num_geometries(geoms) == 1)
        if single_multi.any():  # only those: taking part 0 of every point copies them all
            geoms = geoms.copy()
            geoms[single_multi] = shapely.get_geometry(geoms[single_multi], 0)
            types = shapely.get_type_id(geoms)
        bad = keep & ((types != _POINT) | shapely.is_empty(geoms))
        _raise_rows(bad, labels, f"{source}: need one Point per record; these are not", types)
    else:
        geoms, out_crs, note = _table_points(frame, labels, keep, source, crs)
        detail += f", {note}"
    extras = _unit_columns(frame, keep)
    return _finish(
        ids[keep], population[keep], geoms[keep], out_crs, extras, func, source, detail, unique=True
    )


def _table_points(
    frame: pd.DataFrame, labels: np.ndarray, keep: np.ndarray, source: str, crs: Any
) -> tuple[np.ndarray, CRS, str]:
    """Points from coordinate columns of a plain table, their CRS and a note for the log."""
    pair = None
    lonlat = True
    for candidates, is_lonlat in ((LONLAT_COLUMNS, True), (XY_COLUMNS, False)):
        for xname, yname in candidates:
            xcol = _match_column(frame, xname)
            ycol = _match_column(frame, yname)
            if xcol is not None and ycol is not None:
                pair, lonlat = (xcol, ycol), is_lonlat
                break
        if pair is not None:
            break
    if pair is None:
        raise InputError(
            f"{source}: no coordinate columns; expected lon/lat, longitude/latitude, 经度/纬度 "
            f"or x/y; found {list(map(str, frame.columns))}"
        )
    x = _numbers(frame[pair[0]])
    y = _numbers(frame[pair[1]])
    bad = keep & ~(np.isfinite(x) & np.isfinite(y))
    _raise_rows(bad, labels, f"{source}: missing or non-numeric coordinates in {pair}")
    in_range = (np.abs(x) <= 180) & (np.abs(y) <= 90)
    if crs is not None:
        out_crs = CRS.from_user_input(crs)
        note = f"coordinates {pair} in the given CRS"
    elif lonlat:
        out_crs = CRS.from_epsg(4326)
        note = f"coordinates {pair} as EPSG:4326"
    elif bool(np.all(in_range[keep])):
        out_crs = CRS.from_epsg(4326)
        note = f"coordinates {pair} assumed EPSG:4326 (all within lon/lat range; else pass crs=)"
    else:
        raise InputError(
            f"{source}: columns {pair} are not longitude/latitude; pass crs= (e.g. 'EPSG:32650')"
        )
    if out_crs.is_geographic:
        _raise_rows(
            keep & ~in_range,
            labels,
            f"{source}: coordinates out of longitude/latitude range in {pair} "
            "(are the columns swapped?)",
        )
    return shapely.points(x, y), out_crs, note


# --------------------------------------------------------------------------- lines


def demand_from_lines(
    path_or_frame: PathLike | gpd.GeoDataFrame,
    *,
    population_column: str | None = None,
    group_column: str | None = None,
    id_column: str | None = None,
    spacing_m: float | None = None,
) -> gpd.GeoDataFrame:
    """Demand points at the midpoints of lines that each carry a population.

    Parameters
    ----------
    path_or_frame
        A line vector file or GeoDataFrame (LineString / MultiLineString).
    population_column
        Persons per line (or per group); default found as in :func:`demand_from_points`.
    group_column
        Optional column naming a population cell shared by several lines (e.g. ``cell_id``
        when both directions of a street carry the same cell). Rows sharing a value are ONE
        cell, counted once, placed at the midpoint of the group's first line; their
        populations must be equal (relative tolerance 1e-9), else InputError naming the group.
    id_column
        Ids when not grouping (default ``demand_id``/``id``/``row-<n>``). With
        ``group_column`` the id is the group value as text, and ``id_column`` (if given) only
        names records in messages.
    spacing_m
        Spread each line's population evenly over points at most this far apart along it
        (line length in CRS units, metres for projected data) instead of one midpoint; ids
        become ``<id>#<k>``. The total is unchanged.

    Returns
    -------
    GeoDataFrame
        ``demand_id``, ``population`` (persons), the group column (if any),
        ``unit_name``/``unit_code`` when present, ``geometry`` (Point) in the input's CRS.
    """
    frame, source = _load(path_or_frame, need_geometry=True)
    return _lines(
        frame,
        source,
        population_column=population_column,
        group_column=group_column,
        id_column=id_column,
        spacing_m=spacing_m,
    )


def _lines(
    frame: gpd.GeoDataFrame,
    source: str,
    *,
    population_column: str | None,
    group_column: str | None,
    id_column: str | None,
    carry: Sequence[str] = (),
    func: str = "demand_from_lines",
    finish: bool = True,
    spacing_m: float | None = None,
) -> gpd.GeoDataFrame:
    _require_rows(frame, source)
    out_crs = _frame_crs(frame, source)
    ids, labels = _ids(frame, id_column, source, auto=group_column is None)
    pop_col = _population_column(frame, population_column, source)
    population = _population(frame[pop_col], labels, source=source, column=pop_col)
    keep = ~np.isnan(population)
    geoms = _geometry_array(frame)
    types = shapely.get_type_id(geoms)
    is_line = np.isin(types, (_LINESTRING, _LINEARRING, _MULTILINESTRING))
    bad = keep & (~is_line | shapely.is_empty(geoms))
    _raise_rows(bad, labels, f"{source}: need a LineString per record; these are not", types)
    carry = [c for c in (*UNIT_COLUMNS, *carry) if c in frame.columns]

    if group_column is None:
        idx = np.flatnonzero(keep)
        out_ids = ids[idx]
        detail = f"population column {pop_col!r}"
        extras = {}
    else:
        gcol = _match_column(frame, group_column)
        if gcol is None:
            raise InputError(
                f"{source}: group column {group_column!r} not found; columns: "
                f"{list(map(str, frame.columns))}"
            )
        values = frame[gcol]
        _raise_rows(keep & values.isna().to_numpy(), labels, f"{source}: empty {gcol!r}")
        kept = np.flatnonzero(keep)
        codes, uniques = pd.factorize(values.iloc[kept], sort=False)
        _check_groups(codes, uniques, population[kept], labels[kept], gcol, source)
        _, first = np.unique(codes, return_index=True)
        idx = kept[np.sort(first)]
        out_ids = _as_text(values.iloc[idx]).to_numpy(dtype=object)
        extras = {gcol: out_ids.copy()}
        detail = (
            f"population column {pop_col!r}, {kept.size} lines grouped by {gcol!r} into "
            f"{idx.size} cells"
        )
    for c in carry:
        extras[c] = frame[c].to_numpy()[idx]
    out_pop = population[idx]
    if spacing_m is None:
        points = shapely.line_interpolate_point(geoms[idx], 0.5, normalized=True)
    else:
        line, position, pieces, piece = _pieces_along(geoms[idx], spacing_m)
        points = shapely.line_interpolate_point(geoms[idx][line], position, normalized=True)
        out_pop = out_pop[line] / pieces
        out_ids = np.array([f"{i}#{k}" for i, k in zip(out_ids[line], piece, strict=True)])
        extras = {k: np.asarray(v)[line] for k, v in extras.items()}
        detail += f", spread every ≤ {spacing_m:g} m into {len(points)} points"
    if not finish:
        return gpd.GeoDataFrame(
            {"demand_id": out_ids, "population": out_pop, **extras},
            geometry=points,
            crs=out_crs,
        )
    return _finish(out_ids, out_pop, points, out_crs, extras, func, source, detail)


def _pieces_along(
    geoms: np.ndarray, spacing_m: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Cut each line into ``ceil(length / spacing_m)`` equal pieces and locate their centres.

    Returns, per piece: the line's position, the piece centre as a fraction of the line,
    the number of pieces of its line and the piece number (1-based).
    """
    if not spacing_m > 0:
        raise InputError(f"spacing_m must be a positive distance, got {spacing_m}")
    counts = np.maximum(1.0, np.ceil(shapely.length(geoms) / spacing_m))
    _check_points(
        float(counts.sum()),
        f"demand points from spreading {len(geoms):,} lines every {spacing_m:g} m",
        fix="Use a larger [demand] spacing_m",
    )
    counts = counts.astype(np.int64)
    line = np.repeat(np.arange(len(geoms)), counts)
    start = np.repeat(np.cumsum(counts) - counts, counts)
    piece = np.arange(counts.sum()) - start + 1
    pieces = counts[line]
    return line, (piece - 0.5) / pieces, pieces, piece


def _check_groups(
    codes: np.ndarray,
    uniques: Any,
    population: np.ndarray,
    labels: np.ndarray,
    column: str,
    source: str,
) -> None:
    """Raise InputError if rows of one group carry different populations."""
    if codes.size == 0:
        return
    lo = np.full(len(uniques), np.inf)
    hi = np.full(len(uniques), -np.inf)
    np.minimum.at(lo, codes, population)
    np.maximum.at(hi, codes, population)
    bad = np.flatnonzero(hi - lo > 1e-9 * np.maximum(1.0, np.abs(hi)))
    if bad.size == 0:
        return
    parts = []
    for g in bad[:_MAX_NAMED]:
        members = np.flatnonzero(codes == g)
        found = ", ".join(f"{labels[m]}: {population[m]:g}" for m in members[:5])
        parts.append(f"{column}={uniques[g]!r} ({found})")
    more = f" and {bad.size - _MAX_NAMED} more groups" if bad.size > _MAX_NAMED else ""
    raise InputError(
        f"{source}: rows sharing {column!r} are one population cell and must carry the same "
        f"population; {bad.size} groups differ: " + "; ".join(parts) + more
    )


# --------------------------------------------------------------------------- GraphML


def demand_from_graphml_edges(
    path: PathLike,
    *,
    population_column: str = "population",
    group_column: str | None = "cell_id",
    spacing_m: float | None = None,
) -> gpd.GeoDataFrame:
    """Demand points from population carried on the edges of an (osmnx) GraphML street graph.

    Made for ``osm/huangshi_tuanchengshan_drive_ghspop_2024.graphml``: each edge carries the
    GHS-POP population of its catchment cell (``population``, ``area`` in m², ``cell_id``, all
    strings), and both directions of a two-way street share one cell, so a cell is counted once.

    Parameters
    ----------
    path
        GraphML file; the graph attribute ``crs`` gives the CRS of node ``x``/``y`` and edge
        ``geometry`` (WKT). Edges without geometry become straight lines between their nodes.
    population_column
        Edge attribute with persons.
    group_column
        Edge attribute naming the population cell (see :func:`demand_from_lines`). ``None``
        counts every directed edge — which double-counts two-way streets.
    spacing_m
        Spread each cell's population along its first edge (see :func:`demand_from_lines`).

    Returns
    -------
    GeoDataFrame
        ``demand_id`` (``cell-<cell_id>``; ``edge-<u>-<v>-<key>`` without grouping),
        ``population`` (persons), ``cell_id`` (str), ``area_m2`` (the cell's ``area``),
        ``geometry`` (midpoint of the cell's first edge in file order), in the graph's CRS.
    """
    path = _existing_path(path, "path")
    graph = _read_graphml(path)
    crs_text = graph.graph.get("crs")
    if not crs_text:
        raise InputError(f"{path.name}: graph attribute 'crs' is missing")
    crs = CRS.from_user_input(crs_text)
    xy: dict[Any, tuple[float, float]] = {}
    for node, data in graph.nodes(data=True):
        try:
            xy[node] = (float(data["x"]), float(data["y"]))
        except (KeyError, TypeError, ValueError):
            continue
    edges = (
        list(graph.edges(keys=True, data=True))
        if graph.is_multigraph()
        else [(u, v, 0, d) for u, v, d in graph.edges(data=True)]
    )
    if not edges:
        raise InputError(f"{path.name}: the graph has no edges")
    geoms = np.empty(len(edges), dtype=object)
    missing_nodes = []
    for i, (u, v, _key, data) in enumerate(edges):
        wkt = data.get("geometry")
        if wkt:
            try:
                geoms[i] = shapely.from_wkt(wkt)
            except shapely.errors.GEOSException as exc:
                raise InputError(f"{path.name}: edge {u}->{v}: bad geometry WKT: {exc}") from exc
        elif u in xy and v in xy:
            geoms[i] = shapely.LineString([xy[u], xy[v]])
        else:
            missing_nodes.append(f"{u}->{v}")
    if missing_nodes:
        raise InputError(
            f"{path.name}: {len(missing_nodes)} edges have no geometry and nodes without x/y: "
            + ", ".join(missing_nodes[:_MAX_NAMED])
        )
    for name, label in ((population_column, "population_column"), (group_column, "group_column")):
        if name is not None and not any(name in d for *_, d in edges):
            found = sorted({k for *_, d in edges for k in d} - {"geometry"})
            raise InputError(
                f"{path.name}: no edge has the attribute {name!r} ({label}); edge attributes: "
                f"{', '.join(found[:_MAX_NAMED]) or 'none'} / 边上没有人口字段 {name!r}"
            )
    columns: dict[str, list[Any]] = {
        population_column: [d.get(population_column) for *_, d in edges],
        "area": [d.get("area") for *_, d in edges],
        "demand_id": [f"edge-{u}-{v}-{k}" for u, v, k, _ in edges],
    }
    if group_column is not None:
        columns[group_column] = [d.get(group_column) for *_, d in edges]
    frame = gpd.GeoDataFrame(
        {k: pd.Series(v, dtype=object) for k, v in columns.items()}, geometry=geoms, crs=crs
    )
    lines = _lines(
        frame,
        path.name,
        population_column=population_column,
        group_column=group_column,
        id_column="demand_id",
        carry=("area",),
        finish=False,
        spacing_m=spacing_m,
    )
    if group_column is not None:
        suffix = lines["demand_id"].str.extract(r"(#\d+)$", expand=False).fillna("")
        ids = ("cell-" + _as_text(lines[group_column]) + suffix).to_numpy(dtype=object)
        cell_ids = lines[group_column].to_numpy(dtype=object)
        detail = f"{len(edges)} edges, {len(lines)} distinct {group_column!r} cells"
    else:
        ids = lines["demand_id"].to_numpy(dtype=object)
        cell_ids = np.full(len(lines), None, dtype=object)
        detail = f"{len(edges)} edges, not grouped (two-way streets count twice)"
    extras = {"cell_id": cell_ids, "area_m2": _numbers(lines["area"])}
    return _finish(
        ids,
        lines["population"].to_numpy(dtype=np.float64),
        lines.geometry.to_numpy(),
        crs,
        extras,
        "demand_from_graphml_edges",
        path.name,
        detail,
    )


def boundary_from_graphml(path: PathLike, *, name: str | None = None) -> gpd.GeoDataFrame:
    """The ``boundary`` polygon (WKT graph attribute) of a GraphML street graph.

    Parameters
    ----------
    path
        GraphML file with graph attributes ``boundary`` (WKT) and ``boundary_crs`` (falls back
        to ``crs``).
    name
        Value of the ``name`` column.

    Returns
    -------
    GeoDataFrame
        One row: ``name``, ``geometry`` (the polygon) in ``boundary_crs``.
    """
    path = _existing_path(path, "path")
    graph = _read_graphml(path)
    wkt = graph.graph.get("boundary")
    crs_text = graph.graph.get("boundary_crs") or graph.graph.get("crs")
    if not wkt:
        raise InputError(f"{path.name}: graph attribute 'boundary' is missing")
    if not crs_text:
        raise InputError(f"{path.name}: graph attributes 'boundary_crs' and 'crs' are missing")
    try:
        geom = shapely.from_wkt(wkt)
    except shapely.errors.GEOSException as exc:
        raise InputError(f"{path.name}: graph attribute 'boundary' is not WKT: {exc}") from exc
    out = gpd.GeoDataFrame(
        {"name": pd.Series([name], dtype=object)},
        geometry=[geom],
        crs=CRS.from_user_input(crs_text),
    )
    logger.info(
        "boundary_from_graphml: %s: 1 %s, crs %s", path.name, geom.geom_type, out.crs.to_string()
    )
    return out


def _read_graphml(path: Path) -> Any:
    import xml.etree.ElementTree as ET

    import networkx as nx

    try:
        with open_input(path) as handle:
            return nx.read_graphml(handle)
    except (nx.NetworkXError, ET.ParseError, *DECOMPRESSION_ERRORS) as exc:
        raise InputError(f"cannot read GraphML {path}: {exc}") from exc


# --------------------------------------------------------------------------- polygons


def demand_from_polygons(
    path_or_frame: PathLike | gpd.GeoDataFrame,
    *,
    population_column: str | None = None,
    points: Literal["centroid", "representative"] | None = None,
    id_column: str | None = None,
) -> gpd.GeoDataFrame:
    """One demand point per polygon carrying the polygon's population total.

    Parameters
    ----------
    path_or_frame
        A polygon vector file or GeoDataFrame (Polygon / MultiPolygon), e.g. admin units with
        census totals.
    population_column
        Persons per polygon; default found as in :func:`demand_from_points`.
    points
        Where the point goes: ``"centroid"`` (may fall outside a concave or multi-part unit),
        ``"representative"`` (shapely's point guaranteed inside), or ``None`` (default): the
        centroid when it lies in the polygon, else the representative point. Centroids are
        planar in the layer's CRS (fine for units of a few km even in degrees).
    id_column
        Ids (default ``demand_id``/``id`` if present, else ``row-<n>``).

    Returns
    -------
    GeoDataFrame
        ``demand_id``, ``population`` (persons), ``unit_name``/``unit_code`` when present,
        ``geometry`` (Point) in the input's CRS.

    Notes
    -----
    One point per unit is coarse: every resident is placed at one spot. Areal weighting onto a
    finer support (e.g. a raster or street cells) is not implemented yet.
    """
    _check_points_option(points)
    frame, source = _load(path_or_frame, need_geometry=True)
    return _polygons(
        frame, source, population_column=population_column, points=points, id_column=id_column
    )


def _check_points_option(points: Any) -> None:
    if points not in (None, "centroid", "representative"):
        raise InputError(f"points must be None, 'centroid' or 'representative'; got {points!r}")


def _polygons(
    frame: gpd.GeoDataFrame,
    source: str,
    *,
    population_column: str | None,
    points: str | None,
    id_column: str | None,
) -> gpd.GeoDataFrame:
    _require_rows(frame, source)
    out_crs = _frame_crs(frame, source)
    ids, labels = _ids(frame, id_column, source)
    pop_col = _population_column(frame, population_column, source)
    population = _population(frame[pop_col], labels, source=source, column=pop_col)
    keep = ~np.isnan(population)
    geoms = _geometry_array(frame)
    types = shapely.get_type_id(geoms)
    bad = keep & (~np.isin(types, (_POLYGON, _MULTIPOLYGON)) | shapely.is_empty(geoms))
    _raise_rows(bad, labels, f"{source}: need a Polygon per record; these are not", types)
    geoms = geoms[keep]
    if points == "representative":
        pts = shapely.point_on_surface(geoms)
    else:
        pts = shapely.centroid(geoms)
        if points is None:
            outside = ~shapely.intersects(geoms, pts)
            pts = np.where(outside, shapely.point_on_surface(geoms), pts)
    extras = _unit_columns(frame, keep)
    detail = f"population column {pop_col!r}, points={points or 'centroid-if-inside'}"
    return _finish(
        ids[keep],
        population[keep],
        pts,
        out_crs,
        extras,
        "demand_from_polygons",
        source,
        detail,
        unique=True,
    )


# --------------------------------------------------------------------------- dispatch


def read_demand(path: PathLike, **kw: Any) -> gpd.GeoDataFrame:
    """Read demand from any supported file, choosing the reader by suffix and geometry type.

    Rasters (``.tif``, ``.tiff``, ``.img``, ``.asc``) → :func:`demand_from_raster`;
    ``.graphml`` (also ``.graphml.gz``/``.bz2``/``.xz``) → :func:`demand_from_graphml_edges`;
    tables (``.csv``, ``.tsv``, ``.txt``, ``.xlsx``) → :func:`demand_from_points`; vector
    files (GeoJSON, GPKG, Shapefile, FlatGeobuf, GeoParquet) → points, lines or polygons by
    their geometry type (mixed types → InputError). ``kw`` goes to the chosen reader.
    """
    path = _existing_path(path, "path")
    suffix = path.suffix.lower()
    if suffix in RASTER_SUFFIXES:
        _check_options(kw, demand_from_raster, path.name, "raster")
        return demand_from_raster(path, **kw)
    if is_graphml(path):
        _check_options(kw, demand_from_graphml_edges, path.name, "GraphML edge")
        return demand_from_graphml_edges(path, **kw)
    if suffix in TABLE_SUFFIXES:
        _check_options(kw, demand_from_points, path.name, "point")
        return demand_from_points(path, **kw)
    if suffix not in VECTOR_SUFFIXES:
        raise InputError(
            f"{path.name}: unknown demand file type {suffix!r}; supported: "
            + ", ".join(RASTER_SUFFIXES + GRAPHML_SUFFIXES + TABLE_SUFFIXES + VECTOR_SUFFIXES)
        )
    frame, source = _load(path)
    types = {_POINT}  # a plain Parquet table (no geometry): points from coordinate columns
    if isinstance(frame, gpd.GeoDataFrame):
        _require_rows(frame, source)
        geoms = _geometry_array(frame)
        types = set(shapely.get_type_id(geoms[~shapely.is_missing(geoms)]).tolist())
    if types <= {_POINT, _MULTIPOINT}:
        _check_options(kw, demand_from_points, source, "point")
        opts = {"population_column": None, "id_column": None, "crs": None, **kw}
        return _points(frame, source, **opts)
    if types <= {_LINESTRING, _LINEARRING, _MULTILINESTRING}:
        _check_options(kw, demand_from_lines, source, "line")
        opts = {"population_column": None, "group_column": None, "id_column": None, **kw}
        return _lines(frame, source, **opts)
    if types <= {_POLYGON, _MULTIPOLYGON}:
        _check_options(kw, demand_from_polygons, source, "polygon")
        opts = {"population_column": None, "points": None, "id_column": None, **kw}
        _check_points_option(opts["points"])
        return _polygons(frame, source, **opts)
    raise InputError(
        f"{source}: mixed or unsupported geometry types; split points, lines and polygons "
        "into separate files"
    )


# --------------------------------------------------------------------------- helpers


def _check_options(kw: dict, reader: Any, source: str, kind: str) -> None:
    """Refuse options ``reader`` does not take (an InputError naming them, not a TypeError)."""
    accepted = [
        name
        for name, param in inspect.signature(reader).parameters.items()
        if param.kind is inspect.Parameter.KEYWORD_ONLY
    ]
    unknown = sorted(set(kw) - set(accepted))
    if unknown:
        raise InputError(
            f"{source}: option(s) {', '.join(unknown)} do not apply to {kind} demand; "
            f"its options: {', '.join(accepted)} / 选项 {', '.join(unknown)} 不适用于此类人口数据"
        )


def _existing_path(path: PathLike, arg: str) -> Path:
    p = Path(path)
    if not p.exists():
        raise InputFileNotFoundError(f"{arg}: file {str(p)!r} does not exist")
    return p


def _load(path_or_frame: PathLike | Frame, *, need_geometry: bool = False) -> tuple[Frame, str]:
    """The input as a (Geo)DataFrame (not copied, never modified) and a label for messages."""
    if isinstance(path_or_frame, pd.DataFrame):
        frame = path_or_frame
        source = f"<{type(frame).__name__}>"
    else:
        path = _existing_path(path_or_frame, "path_or_frame")
        source = path.name
        suffix = path.suffix.lower()
        if suffix in TABLE_SUFFIXES:
            frame = _read_table(path)
        elif suffix in VECTOR_SUFFIXES:
            frame = _read_vector(path)
        else:
            raise InputError(
                f"{path.name}: unknown table/vector type {suffix!r}; supported: "
                + ", ".join(TABLE_SUFFIXES + VECTOR_SUFFIXES)
            )
    if need_geometry and not isinstance(frame, gpd.GeoDataFrame):
        raise InputError(f"{source}: needs a geometry column (a vector layer), found a table")
    return frame, source


def _read_table(path: Path) -> pd.DataFrame:
    if path.suffix.lower() == ".xlsx":
        return read_xlsx_table(path)
    sep = {".csv": ",", ".tsv": "\t"}.get(path.suffix.lower())
    last: Exception | None = None
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            return pd.read_csv(
                path, dtype=str, encoding=encoding, sep=sep, engine=None if sep else "python"
            )
        except UnicodeDecodeError as exc:
            last = exc
        except (pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
            raise InputError(f"cannot read {path.name} as a table: {exc}") from exc
    raise InputError(f"{path.name}: not UTF-8 or GB18030 text ({last})")


def _read_vector(path: Path) -> Frame:
    suffix = path.suffix.lower()
    try:
        if suffix in (".parquet", ".geoparquet"):
            try:
                return gpd.read_parquet(path)
            except ValueError:
                return pd.read_parquet(path)  # a plain table with coordinate columns
        return gpd.read_file(path)
    except InputError:
        raise
    except Exception as exc:  # pyogrio/pyarrow raise many types; report them uniformly
        raise InputError(f"cannot read {path.name}: {exc}") from exc


def _require_rows(frame: Frame, source: str) -> None:
    if len(frame) == 0:
        raise InputError(f"{source}: no records")


def _frame_crs(frame: gpd.GeoDataFrame, source: str) -> CRS:
    if frame.crs is None:
        raise InputError(f"{source}: the layer has no CRS; set one (e.g. .set_crs('EPSG:4326'))")
    return CRS.from_user_input(frame.crs)


def _geometry_array(frame: gpd.GeoDataFrame) -> np.ndarray:
    """The geometries as an object array (a missing one is None, as geopandas holds it); it
    may be the frame's own: copy it before changing it."""
    return np.asarray(frame.geometry.array, dtype=object)


def _match_column(frame: Frame, name: str) -> str | None:
    """The column called ``name`` (exact first, then case-insensitive, trimmed), or None."""
    columns = [c for c in frame.columns if not _is_geometry_column(frame, c)]
    if name in columns:
        return name
    want = name.strip().lower()
    hits = [c for c in columns if str(c).strip().lower() == want]
    return hits[0] if len(hits) == 1 else None


def _is_geometry_column(frame: Frame, column: Any) -> bool:
    return isinstance(frame, gpd.GeoDataFrame) and column == frame.geometry.name


def _population_column(frame: Frame, given: str | None, source: str) -> str:
    columns = [c for c in frame.columns if not _is_geometry_column(frame, c)]
    if given is not None:
        col = _match_column(frame, given)
        if col is None:
            raise InputError(
                f"{source}: population_column {given!r} not found; columns: "
                f"{list(map(str, columns))}"
            )
        return col
    wanted = {c.lower() for c in POPULATION_COLUMNS}
    hits = [c for c in columns if str(c).strip().lower() in wanted]
    if len(hits) == 1:
        return hits[0]
    if not hits:
        raise InputError(
            f"{source}: no population column; expected one of {list(POPULATION_COLUMNS)} or "
            f"population_column=...; columns: {list(map(str, columns))}"
        )
    raise InputError(
        f"{source}: several population columns {list(map(str, hits))}; choose one with "
        "population_column=..."
    )


def _ids(
    frame: Frame, given: str | None, source: str, *, auto: bool = True
) -> tuple[np.ndarray, np.ndarray]:
    """(ids, labels): ids as text; labels like ``record 3 (id 'A7')`` for messages.

    Without ``given`` the id column is looked up among :data:`ID_COLUMNS` if ``auto``.
    """
    n = len(frame)
    numbers = np.arange(1, n + 1)
    col = None
    if given is not None:
        col = _match_column(frame, given)
        if col is None:
            raise InputError(f"{source}: id_column {given!r} not found")
    elif auto:
        for candidate in ID_COLUMNS:
            col = _match_column(frame, candidate)
            if col is not None:
                break
    if col is None:
        ids = ("row-" + pd.Series(numbers).astype(str)).to_numpy(dtype=object)
        return ids, _RecordLabels(numbers)
    raw = frame[col]
    ids = _as_text(raw).to_numpy(dtype=object)
    labels = _RecordLabels(numbers, ids, col)
    missing = raw.isna().to_numpy() | (ids == "")  # the text is stripped
    _raise_rows(missing, labels, f"{source}: empty id in column {col!r}")
    series = pd.Series(ids, dtype=object)
    if not series.is_unique:
        dup = series.duplicated(keep=False).to_numpy()
        values = list(dict.fromkeys(ids[dup]))
        shown = ", ".join(repr(v) for v in values[:_MAX_NAMED])
        raise InputError(
            f"{source}: ids in column {col!r} must be unique; {len(values)} repeat: {shown}"
        )
    return ids, labels


def _as_text(values: pd.Series) -> pd.Series:
    """Ids as text; integral floats (``7.0`` from a numeric column) become ``"7"``."""
    missing = values.isna()
    if pd.api.types.is_float_dtype(values.dtype):
        arr = values.to_numpy(dtype=np.float64)
        if np.all(np.isnan(arr) | (arr == np.round(arr))):
            values = values.astype("Int64")
    text = values.astype(str).str.strip().astype(object)
    return text.where(~missing, None)


class _RecordLabels:
    """Labels like ``record 3 (id 'A7')`` for messages, built only for the records named.

    Indexing with one position gives its label; with a mask or positions, a subset.
    """

    def __init__(self, numbers: np.ndarray, ids: np.ndarray | None = None, column=None):
        self._numbers = np.asarray(numbers)
        self._ids = ids
        self._column = column

    def __len__(self) -> int:
        return len(self._numbers)

    def __getitem__(self, key):
        if np.ndim(key) == 0:
            if self._ids is None:
                return f"record {self._numbers[key]}"
            return f"record {self._numbers[key]} ({self._column} {self._ids[key]!r})"
        ids = None if self._ids is None else self._ids[key]
        return _RecordLabels(self._numbers[key], ids, self._column)


def _numbers(values: pd.Series) -> np.ndarray:
    """Parse numbers (text allowed, thousands separators removed); anything else → NaN."""
    if pd.api.types.is_bool_dtype(values.dtype):
        return np.full(len(values), np.nan)
    if pd.api.types.is_numeric_dtype(values.dtype):
        return values.to_numpy(dtype=np.float64, na_value=np.nan)
    text = pd.Series(
        ["" if pd.isna(v) else str(v).strip() for v in values], index=values.index, dtype=object
    )
    text = text.map(lambda s: re.sub(r"[,，]", "", s) if _THOUSANDS.match(s) else s)
    return pd.to_numeric(text, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)


def _population(values: pd.Series, labels: np.ndarray, *, source: str, column: Any) -> np.ndarray:
    """Population as float64; NaN marks nodata-like rows (dropped, with a warning)."""
    number = _numbers(values)
    if pd.api.types.is_numeric_dtype(values.dtype) and not pd.api.types.is_bool_dtype(values.dtype):
        missing = values.isna().to_numpy()
        text = None
    else:
        text = np.array(["" if pd.isna(v) else str(v).strip() for v in values], dtype=object)
        missing = np.array([t.lower() in _NA_TOKENS for t in text], dtype=bool)
    nodata = missing | (number <= NODATA_LIKE_MAX)
    invalid = ~nodata & ~(np.isfinite(number) & (number >= 0))
    if invalid.any():
        idx = np.flatnonzero(invalid)
        shown = ", ".join(
            f"{labels[i]}: {(text[i] if text is not None else number[i])!r}"
            for i in idx[:_MAX_NAMED]
        )
        more = f" and {idx.size - _MAX_NAMED} more" if idx.size > _MAX_NAMED else ""
        raise InputError(
            f"{source}: column {column!r} must hold numbers >= 0 (persons); {idx.size} records "
            f"do not: {shown}{more}. Fix the values, or leave them empty for no data"
        )
    if nodata.any():
        idx = np.flatnonzero(nodata)
        shown = ", ".join(str(labels[i]) for i in idx[:_MAX_NAMED])
        more = f" and {idx.size - _MAX_NAMED} more" if idx.size > _MAX_NAMED else ""
        warnings.warn(
            f"{source}: dropped {idx.size} records with empty or nodata population "
            f"(<= {NODATA_LIKE_MAX:g}) in column {column!r}: {shown}{more}",
            DataQualityWarning,
            stacklevel=4,
        )
    return np.where(nodata, np.nan, number)


def _raise_rows(
    bad: np.ndarray, labels: np.ndarray, message: str, types: np.ndarray | None = None
) -> None:
    """Raise InputError naming the first records flagged in ``bad``."""
    if not np.any(bad):
        return
    idx = np.flatnonzero(bad)
    names = {
        -1: "missing",
        0: "Point",
        1: "LineString",
        2: "LinearRing",
        3: "Polygon",
        4: "MultiPoint",
        5: "MultiLineString",
        6: "MultiPolygon",
        7: "GeometryCollection",
    }
    shown = ", ".join(
        str(labels[i]) + (f" [{names.get(int(types[i]), '?')}]" if types is not None else "")
        for i in idx[:_MAX_NAMED]
    )
    more = f" and {idx.size - _MAX_NAMED} more" if idx.size > _MAX_NAMED else ""
    raise InputError(f"{message}: {shown}{more}")


def _unit_columns(frame: Frame, keep: np.ndarray) -> dict[str, np.ndarray]:
    return {c: frame[c].to_numpy()[keep] for c in UNIT_COLUMNS if c in frame.columns}


def _check_points(estimate: float, what_en: str, fix: str = "") -> None:
    """Refuse more demand points than the ``demand_points`` limit, before making them."""
    limits.current().check("demand_points", estimate, "需求点数", what_en, fix=fix)


def _finish(
    ids: np.ndarray,
    population: np.ndarray,
    geoms: np.ndarray,
    crs: CRS | None,
    extras: dict[str, np.ndarray],
    func: str,
    source: str,
    detail: str,
    *,
    unique: bool = False,
) -> gpd.GeoDataFrame:
    """Assemble, check and log the Demand table (``unique``: the ids are known to be unique,
    as :func:`_ids` proves of the rows it reads)."""
    population = np.asarray(population, dtype=np.float64)
    if population.size == 0:
        raise InputError(f"{source}: no usable demand records")
    _check_points(population.size, f"demand points of {source}")
    if not np.all(np.isfinite(population)) or np.any(population < 0):
        raise InputError(f"{source}: internal error: population not finite and >= 0")
    id_series = pd.Series(ids, dtype=object)
    if not unique and not id_series.is_unique:
        dups = list(dict.fromkeys(id_series[id_series.duplicated()]))[:_MAX_NAMED]
        raise InputError(f"{source}: demand ids are not unique: {dups}")
    data: dict[str, Any] = {"demand_id": id_series.astype(str), "population": population}
    for name, values in extras.items():
        data[name] = values
    out = gpd.GeoDataFrame(data, geometry=gpd.GeoSeries(geoms), crs=crs)
    logger.info(
        "%s: %s: %d demand points, total population %.1f; %s",
        func,
        source,
        len(out),
        float(population.sum()),
        detail,
    )
    return out
