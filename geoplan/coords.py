"""Chinese coordinate systems (GCJ-02, BD-09, CGCS2000) to and from WGS84, vectorised.

pyproj cannot do GCJ-02 ("火星坐标", used by Amap/高德, Tencent and Google Maps in China) or
BD-09 (Baidu/百度): they are not map projections but published obfuscation formulas. This
module evaluates those formulas with numpy over whole arrays (no Python loop over points).

Formulas and constants follow the public-domain (CC0) library ``prcoords`` by Mingye Wang
(https://github.com/Artoria2e5/PRCoords), which collects the widely published versions
(eviltransform, geoChina, pycoordtrans): the Krasovsky-1940 ellipsoid ``a = 6378245.0`` m,
``ee = 0.00669342162296594323``, and Baidu's offsets ``0.0065`` deg (lon) / ``0.0060`` deg (lat).
``prcoords`` itself is scalar-only; ``tests/test_coords.py`` checks this vectorised version
against it on random points.

Conventions
-----------
* All coordinates are longitude, latitude in degrees; every function takes and returns
  ``(lon, lat)``. Scalars in give Python floats out; arrays (any shape, broadcast together)
  give float64 arrays of the broadcast shape. Inputs are never modified.
* The inverses (GCJ-02 -> WGS84, BD-09 -> GCJ-02) are solved by fixed-point iteration until
  the forward transform reproduces the input to ``1e-10`` deg (about 0.01 mm), so round trips
  are exact far below the accuracy of any real data (< 1 mm everywhere in China).
* Outside China GCJ-02 is the identity: a point passes through unchanged when
  ``lon`` is not in ``[72.004, 137.8347]`` or ``lat`` is not in ``[0.8293, 55.8271]``. This is
  the rough box that every implementation uses; it also covers neighbouring countries (parts of
  Mongolia, Korea, Japan, Vietnam, India ...), which are therefore shifted too. Hong Kong, Macau
  and Taiwan are inside the box and are shifted; check that a source there really is GCJ-02
  before converting it. The same pass-through applies to
  the BD-09 step (the box is tested on each step's own input), so all six functions agree that
  points outside the box are unchanged. NaN in gives NaN out.
* CGCS2000 (EPSG:4490) is treated as WGS84 (EPSG:4326) unchanged. The two agree to < 1 m:
  the ellipsoids differ by 0.1 mm (semi-minor axis) and the frames by centimetres at
  CGCS2000's epoch 2000.0; what remains is plate motion since then (~3 cm/yr in China).
* The original GCJ-02 implementation reportedly adds a small pseudo-random jitter (prcoords'
  notes) that the published formula does not reproduce; expect sub-metre differences against
  a provider's own conversions.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
import pyproj

from .errors import ConfigError, InputError

__all__ = [
    "CRS_ALIASES",
    "bd09_to_gcj02",
    "bd09_to_wgs84",
    "gcj02_to_bd09",
    "gcj02_to_wgs84",
    "geometry_to_wgs84",
    "normalize_crs_name",
    "projected_to_lonlat",
    "to_wgs84",
    "wgs84_to_bd09",
    "wgs84_to_gcj02",
]

# Krasovsky 1940 ellipsoid, as used by GCJ-02 (prcoords: GCJ_A, GCJ_EE).
GCJ_A = 6378245.0  # semi-major axis, m
GCJ_EE = 0.00669342162296594323  # first eccentricity squared (f = 1/298.3)

# Baidu's fixed offsets in degrees (prcoords: BD_DLON, BD_DLAT) and its angular factor.
BD_DLON = 0.0065
BD_DLAT = 0.0060
_BD_XPI = math.pi * 3000.0 / 180.0  # rad per degree in Baidu's formula
_BD_XPI_OVER_PI = 3000.0 / 180.0

# The usual "is this in China" box (prcoords.sanity_in_china_p, eviltransform.outOfChina).
CHINA_LON_MIN, CHINA_LON_MAX = 72.004, 137.8347
CHINA_LAT_MIN, CHINA_LAT_MAX = 0.8293, 55.8271

# Fixed-point iteration of the inverses: stop when the forward residual is below this (deg).
_INVERSE_TOL_DEG = 1e-10
_INVERSE_MAX_ITER = 30

_ArrayPair = tuple[np.ndarray, np.ndarray]


# --------------------------------------------------------------------------- helpers

# Points are processed in blocks of this many so that the ~50 temporaries of one evaluation
# stay in the CPU cache (a loop over blocks, not over points; about 2x faster for 1e6 points).
_BLOCK = 1 << 14


def _as_arrays(lon: Any, lat: Any) -> tuple[np.ndarray, np.ndarray, bool]:
    """Broadcast ``lon, lat`` to float64 arrays; also say whether both were scalars."""
    try:
        lon_a = np.asarray(lon, dtype=np.float64)
        lat_a = np.asarray(lat, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise InputError(f"coordinates must be numbers (degrees): {exc}") from exc
    scalar = lon_a.ndim == 0 and lat_a.ndim == 0
    try:
        lon_a, lat_a = np.broadcast_arrays(lon_a, lat_a)
    except ValueError as exc:
        raise InputError(
            f"lon and lat shapes {lon_a.shape} and {lat_a.shape} do not broadcast"
        ) from exc
    return lon_a, lat_a, scalar


def _finish(lon: np.ndarray, lat: np.ndarray, scalar: bool) -> tuple[Any, Any]:
    """Return Python floats for scalar input, arrays otherwise."""
    if scalar:
        return float(lon), float(lat)
    return lon, lat


def _in_china(lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
    """Boolean mask of points inside the rough China box (NaN is outside)."""
    return (
        (lon >= CHINA_LON_MIN)
        & (lon <= CHINA_LON_MAX)
        & (lat >= CHINA_LAT_MIN)
        & (lat <= CHINA_LAT_MAX)
    )


def _masked(func: Callable[[np.ndarray, np.ndarray], _ArrayPair], lon: Any, lat: Any) -> Any:
    """Apply ``func`` blockwise to the points inside the China box; pass the others through."""
    lon_a, lat_a, scalar = _as_arrays(lon, lat)
    out_lon = np.array(lon_a, dtype=np.float64, copy=True)  # writable, C-ordered copies
    out_lat = np.array(lat_a, dtype=np.float64, copy=True)
    flat_lon = out_lon.reshape(-1)
    flat_lat = out_lat.reshape(-1)
    inside = _in_china(flat_lon, flat_lat)
    if inside.all():
        in_lon, in_lat = flat_lon.copy(), flat_lat.copy()
    else:
        in_lon, in_lat = flat_lon[inside], flat_lat[inside]
    res_lon = np.empty_like(in_lon)
    res_lat = np.empty_like(in_lat)
    for i in range(0, in_lon.size, _BLOCK):
        block = slice(i, i + _BLOCK)
        res_lon[block], res_lat[block] = func(in_lon[block], in_lat[block])
    if inside.all():
        flat_lon[:], flat_lat[:] = res_lon, res_lat
    else:
        flat_lon[inside], flat_lat[inside] = res_lon, res_lat
    return _finish(out_lon, out_lat, scalar)


def _fixed_point_inverse(
    forward: Callable[[np.ndarray, np.ndarray], _ArrayPair],
    target_lon: np.ndarray,
    target_lat: np.ndarray,
    lon: np.ndarray,
    lat: np.ndarray,
) -> _ArrayPair:
    """Solve ``forward(lon, lat) == target`` by fixed-point iteration from a first guess.

    ``lon, lat -= forward(lon, lat) - target`` until the largest residual is below
    ``_INVERSE_TOL_DEG`` (deg). Converges fast because both obfuscations are near-translations
    (Jacobian within 1 % of the identity): each step shrinks the error 100-fold or more.
    """
    if lon.size == 0:
        return lon, lat
    for _ in range(_INVERSE_MAX_ITER):
        f_lon, f_lat = forward(lon, lat)
        f_lon -= target_lon  # residual, deg
        f_lat -= target_lat
        lon = lon - f_lon
        lat = lat - f_lat
        if max(np.abs(f_lon).max(), np.abs(f_lat).max()) < _INVERSE_TOL_DEG:
            break
    return lon, lat


def _sines(t: np.ndarray) -> tuple[np.ndarray, ...]:
    """``sin(pi t / k)`` for k = 30, 12, 3, 1, 1/2, 1/6, with ``|t| < 60``, from one ``np.sin``.

    Multiple-angle identities on ``v = pi t / 120`` (``|v| < pi / 2``, so ``cos v =
    sqrt(1 - sin^2 v)``) give 2v, 4v, 10v, 20v, 40v, 120v, 240v, 720v and replace ten trig
    calls. The added rounding error is below 2e-11 for ``|t| < 34``, i.e. below 1e-9 m in the
    GCJ-02 offset (``tests/test_coords.py`` compares with ``prcoords`` to 1e-9 deg).
    """
    s1 = np.sin(t * (math.pi / 120.0))
    s1_2 = s1 * s1
    c1 = np.sqrt(1.0 - s1_2)
    s2 = 2.0 * s1 * c1  # sin(pi t / 60)
    c2 = 1.0 - 2.0 * s1_2
    s4 = 2.0 * s2 * c2  # sin(pi t / 30)
    s2_2 = s2 * s2
    c2_2 = c2 * c2
    s10 = s2 * (16.0 * s2_2 * s2_2 - 20.0 * s2_2 + 5.0)  # sin(pi t / 12), quintuple angle
    c10 = c2 * (16.0 * c2_2 * c2_2 - 20.0 * c2_2 + 5.0)
    s20 = 2.0 * s10 * c10
    c20 = 1.0 - 2.0 * s10 * s10
    s40 = 2.0 * s20 * c20  # sin(pi t / 3)
    c40 = 1.0 - 2.0 * s20 * s20
    s120 = s40 * (3.0 - 4.0 * s40 * s40)  # sin(pi t), triple angle
    c120 = c40 * (4.0 * c40 * c40 - 3.0)
    s240 = 2.0 * s120 * c120  # sin(2 pi t)
    s720 = s240 * (3.0 - 4.0 * s240 * s240)  # sin(6 pi t)
    return s4, s10, s40, s120, s240, s720


# --------------------------------------------------------------------------- GCJ-02 core

_DEG = math.pi / 180.0


def _gcj_offset(lon: np.ndarray, lat: np.ndarray) -> _ArrayPair:
    """GCJ-02 offset ``(dlon, dlat)`` in degrees at WGS84 points (no China-box test).

    Same terms as ``prcoords.wgs_gcj``: a distortion in metres from polynomial and sine terms
    of ``x = lon - 105``, ``y = lat - 35``, turned into degrees with the Krasovsky-1940 radii of
    curvature at ``lat``. Written as in prcoords, e.g. ``sin(x * 6 * pi)``; the sines come
    from :func:`_sines`.
    """
    x = lon - 105.0
    y = lat - 35.0
    sx30, sx12, sx3, sx1, sx_2, sx_6 = _sines(x)  # sin(pi x / 30) ... sin(6 pi x)
    sy30, sy12, sy3, sy1, _, _ = _sines(y)
    shared = 2.0 * sx_6 + 2.0 * sx_2  # 2 sin(6 pi x) + 2 sin(2 pi x), in both axes
    sqrt_abs_x = np.sqrt(np.abs(x))
    xy = 0.1 * x * y
    dlat_m = (
        -100.0
        + 2.0 * x
        + 3.0 * y
        + 0.2 * y * y
        + xy
        + 0.2 * sqrt_abs_x
        + (shared + 2.0 * sy1 + 4.0 * sy3 + 16.0 * sy12 + 32.0 * sy30) * (20.0 / 3.0)
    )
    dlon_m = (
        300.0
        + x
        + 2.0 * y
        + 0.1 * x * x
        + xy
        + 0.1 * sqrt_abs_x
        + (shared + 2.0 * sx1 + 4.0 * sx3 + 15.0 * sx12 + 30.0 * sx30) * (20.0 / 3.0)
    )
    sin_lat = np.sin(lat * _DEG)
    sin2 = sin_lat * sin_lat
    magic = 1.0 - GCJ_EE * sin2
    sqrt_magic = np.sqrt(magic)
    cos_lat = np.sqrt(1.0 - sin2)  # latitude is inside the China box, so cos > 0
    # Length of one degree of latitude / longitude on the Krasovsky ellipsoid, m.
    lat_deg_m = (_DEG * GCJ_A * (1.0 - GCJ_EE)) / (magic * sqrt_magic)
    lon_deg_m = (_DEG * GCJ_A) * cos_lat / sqrt_magic
    return dlon_m / lon_deg_m, dlat_m / lat_deg_m


def _wgs_to_gcj(lon: np.ndarray, lat: np.ndarray) -> _ArrayPair:
    dlon, dlat = _gcj_offset(lon, lat)
    return lon + dlon, lat + dlat


def _gcj_to_wgs(lon: np.ndarray, lat: np.ndarray) -> _ArrayPair:
    dlon, dlat = _gcj_offset(lon, lat)  # first guess: subtract the offset taken at the GCJ point
    return _fixed_point_inverse(_wgs_to_gcj, lon, lat, lon - dlon, lat - dlat)


# --------------------------------------------------------------------------- BD-09 core


def _sin_cos_pi(t_sin: np.ndarray, t_cos: np.ndarray) -> _ArrayPair:
    """``sin(pi t_sin)`` and ``cos(pi t_cos)`` after exact reduction of ``t`` to [-1, 1].

    Subtracting an even integer is exact in floating point, and ``np.sin`` is faster on small
    arguments than on Baidu's (up to ~3000 rad).
    """
    t_sin = t_sin - 2.0 * np.round(0.5 * t_sin)
    t_cos = t_cos - 2.0 * np.round(0.5 * t_cos)
    return np.sin(math.pi * t_sin), np.cos(math.pi * t_cos)


def _gcj_to_bd(lon: np.ndarray, lat: np.ndarray) -> _ArrayPair:
    """Baidu's published GCJ-02 -> BD-09 formula (``prcoords.gcj_bd``), no box test.

    ``r = hypot(x, y) + 2e-5 sin(y * xpi)``, ``theta = atan2(y, x) + 3e-6 cos(x * xpi)`` with
    ``xpi = pi * 3000 / 180``, result ``(r cos theta + 0.0065, r sin theta + 0.006)``. The
    rotation by the tiny angle ``d = 3e-6 cos(x * xpi)`` uses ``cos d = 1 - d^2/2``,
    ``sin d = d`` (error < 1e-17), which avoids ``atan2``, ``cos`` and ``sin`` of ``theta``.
    """
    sin_y, cos_x = _sin_cos_pi(lat * _BD_XPI_OVER_PI, lon * _BD_XPI_OVER_PI)
    rho = np.sqrt(lon * lon + lat * lat)
    d = 0.000003 * cos_x
    cos_d = 1.0 - 0.5 * d * d
    scale = 1.0 + 0.00002 * sin_y / rho  # r / rho; rho > 0 as (0, 0) is outside the box
    return scale * (lon * cos_d - lat * d) + BD_DLON, scale * (lat * cos_d + lon * d) + BD_DLAT


def _bd_to_gcj(lon: np.ndarray, lat: np.ndarray) -> _ArrayPair:
    """Exact BD-09 -> GCJ-02: the usual approximate formula, then fixed-point refinement."""
    x = lon - BD_DLON
    y = lat - BD_DLAT
    sin_y, cos_x = _sin_cos_pi(y * _BD_XPI_OVER_PI, x * _BD_XPI_OVER_PI)
    rho = np.sqrt(x * x + y * y)
    d = -0.000003 * cos_x
    cos_d = 1.0 - 0.5 * d * d
    scale = 1.0 - 0.00002 * sin_y / rho
    guess_lon = scale * (x * cos_d - y * d)
    guess_lat = scale * (y * cos_d + x * d)
    return _fixed_point_inverse(_gcj_to_bd, lon, lat, guess_lon, guess_lat)


# --------------------------------------------------------------------------- public API


def wgs84_to_gcj02(lon: Any, lat: Any) -> tuple[Any, Any]:
    """Convert WGS84 to GCJ-02 (Amap/高德, Tencent).

    Parameters
    ----------
    lon, lat : float or array_like
        WGS84 longitude and latitude, degrees; any shapes that broadcast together.

    Returns
    -------
    lon, lat : float or numpy.ndarray
        GCJ-02 longitude and latitude, degrees (floats for scalar input). Points outside the
        China box, and NaN, are returned unchanged.
    """
    return _masked(_wgs_to_gcj, lon, lat)


def gcj02_to_wgs84(lon: Any, lat: Any) -> tuple[Any, Any]:
    """Convert GCJ-02 to WGS84 exactly (iterative inverse, residual < 1e-10 deg).

    Parameters
    ----------
    lon, lat : float or array_like
        GCJ-02 longitude and latitude, degrees.

    Returns
    -------
    lon, lat : float or numpy.ndarray
        WGS84 longitude and latitude, degrees; points outside the China box and NaN unchanged.
    """
    return _masked(_gcj_to_wgs, lon, lat)


def gcj02_to_bd09(lon: Any, lat: Any) -> tuple[Any, Any]:
    """Convert GCJ-02 to BD-09 (Baidu/百度 lon/lat, not Baidu Mercator ``bd09mc``).

    Parameters
    ----------
    lon, lat : float or array_like
        GCJ-02 longitude and latitude, degrees.

    Returns
    -------
    lon, lat : float or numpy.ndarray
        BD-09 longitude and latitude, degrees; points outside the China box and NaN unchanged.
    """
    return _masked(_gcj_to_bd, lon, lat)


def bd09_to_gcj02(lon: Any, lat: Any) -> tuple[Any, Any]:
    """Convert BD-09 to GCJ-02 exactly (iterative inverse, residual < 1e-10 deg).

    Parameters
    ----------
    lon, lat : float or array_like
        BD-09 longitude and latitude, degrees.

    Returns
    -------
    lon, lat : float or numpy.ndarray
        GCJ-02 longitude and latitude, degrees; points outside the China box and NaN unchanged.
    """
    return _masked(_bd_to_gcj, lon, lat)


def wgs84_to_bd09(lon: Any, lat: Any) -> tuple[Any, Any]:
    """Convert WGS84 to BD-09 (via GCJ-02).

    Parameters
    ----------
    lon, lat : float or array_like
        WGS84 longitude and latitude, degrees.

    Returns
    -------
    lon, lat : float or numpy.ndarray
        BD-09 longitude and latitude, degrees; points outside the China box and NaN unchanged.
    """
    return gcj02_to_bd09(*wgs84_to_gcj02(lon, lat))


def bd09_to_wgs84(lon: Any, lat: Any) -> tuple[Any, Any]:
    """Convert BD-09 to WGS84 exactly (via GCJ-02, both inverses iterative).

    Parameters
    ----------
    lon, lat : float or array_like
        BD-09 longitude and latitude, degrees.

    Returns
    -------
    lon, lat : float or numpy.ndarray
        WGS84 longitude and latitude, degrees; points outside the China box and NaN unchanged.
    """
    return gcj02_to_wgs84(*bd09_to_gcj02(lon, lat))


# Canonical names and their aliases. Keys are compared after ``_alias_key``.
CRS_ALIASES: dict[str, tuple[str, ...]] = {
    "wgs84": ("wgs84", "wgs 84", "wgs-84", "wgs1984", "epsg:4326", "4326", "gps", "osm"),
    "cgcs2000": ("cgcs2000", "cgcs 2000", "epsg:4490", "4490", "国家2000", "2000国家大地坐标系"),
    "gcj02": (
        "gcj02",
        "gcj-02",
        "gcj",
        "火星坐标",
        "火星坐标系",
        "国测局坐标",
        "国测局坐标系",
        "amap",
        "gaode",
        "高德",
        "高德坐标",
        "tencent",
        "腾讯",
        "腾讯坐标",
    ),
    "bd09": ("bd09", "bd-09", "bd09ll", "baidu", "百度", "百度坐标", "百度坐标系"),
}


def _alias_key(text: str) -> str:
    """Compare names case-blind, ignoring spaces, hyphens, underscores and colons."""
    return "".join(ch for ch in text.strip().lower() if ch not in " -_:：")


_ALIAS_LOOKUP: dict[str, str] = {
    _alias_key(alias): name for name, aliases in CRS_ALIASES.items() for alias in aliases
}


def normalize_crs_name(text: str) -> str:
    """Map a coordinate-system name or alias to ``wgs84``, ``cgcs2000``, ``gcj02`` or ``bd09``.

    Parameters
    ----------
    text : str
        E.g. ``"EPSG:4326"``, ``"WGS 84"``, ``"4490"``, ``"GCJ-02"``, ``"火星坐标"``,
        ``"高德"``, ``"BD-09"``, ``"百度"`` (case, spaces, ``-``, ``_`` and ``:`` ignored).

    Returns
    -------
    str
        The canonical name.

    Raises
    ------
    ConfigError
        For an unknown name; the message lists the accepted names.
    """
    key = _alias_key(str(text))
    name = _ALIAS_LOOKUP.get(key)
    if name is not None:
        return name
    accepted = "; ".join(f"{n}: {', '.join(a)}" for n, a in CRS_ALIASES.items())
    hint = ""
    if key in {"bd09mc", "baidumercator", "epsg3857", "3857", "epsg900913"}:
        hint = " (projected metres are not supported: convert Mercator to lon/lat first)"
    raise ConfigError(f"unknown coordinate system {text!r}{hint}; accepted names are {accepted}")


def to_wgs84(lon: Any, lat: Any, crs: str) -> tuple[Any, Any]:
    """Convert lon/lat from any supported Chinese system to WGS84.

    Parameters
    ----------
    lon, lat : float or array_like
        Longitude and latitude in ``crs``, degrees.
    crs : str
        Source system or alias (see :func:`normalize_crs_name`). ``wgs84`` and ``cgcs2000``
        are returned unchanged (as copies): CGCS2000 agrees with WGS84 to < 1 m.

    Returns
    -------
    lon, lat : float or numpy.ndarray
        WGS84 longitude and latitude, degrees.
    """
    name = normalize_crs_name(crs)
    if name == "gcj02":
        return gcj02_to_wgs84(lon, lat)
    if name == "bd09":
        return bd09_to_wgs84(lon, lat)
    lon_a, lat_a, scalar = _as_arrays(lon, lat)
    return _finish(lon_a.copy(), lat_a.copy(), scalar)


def geometry_to_wgs84(geom_or_gdf: Any, crs: str) -> Any:
    """Convert shapely geometries or a GeoDataFrame/GeoSeries from ``crs`` to WGS84.

    Parameters
    ----------
    geom_or_gdf : shapely geometry, array_like of geometries, GeoSeries or GeoDataFrame
        Coordinates must be lon/lat degrees in ``crs``, whatever CRS label a GeoDataFrame
        carries (GCJ-02 files are usually, wrongly, labelled EPSG:4326). Z values are kept.
    crs : str
        Source system or alias (see :func:`normalize_crs_name`).

    Returns
    -------
    Same kind as the input
        A new object; a GeoSeries/GeoDataFrame comes back labelled EPSG:4326 (only the active
        geometry column of a GeoDataFrame is converted).

    Raises
    ------
    InputError
        If a GeoSeries/GeoDataFrame carries a projected (metric) CRS, or coordinates are not
        valid degrees (``|lon| > 180`` or ``|lat| > 90``).
    """
    import shapely  # local: keep ``import geoplan.coords`` light for numeric use

    name = normalize_crs_name(crs)

    def _transform_xy(coords: np.ndarray) -> np.ndarray:
        finite = coords[:, :2][np.isfinite(coords[:, :2]).all(axis=1)]
        if finite.size and (np.abs(finite[:, 0]).max() > 180 or np.abs(finite[:, 1]).max() > 90):
            raise InputError(
                "geometry_to_wgs84 needs lon/lat degrees, but coordinates exceed +-180/+-90 "
                "(projected metres?); reproject to lon/lat first"
            )
        out = coords.copy()
        out[:, 0], out[:, 1] = to_wgs84(coords[:, 0], coords[:, 1], name)
        return out

    def _convert(geoms: Any) -> Any:
        arr = np.asarray(geoms, dtype=object)
        has_z = np.asarray(shapely.has_z(arr), dtype=bool)
        out = np.empty(arr.shape, dtype=object)
        flat_in, flat_out, flat_z = arr.reshape(-1), out.reshape(-1), has_z.reshape(-1)
        flat_out[~flat_z] = shapely.transform(flat_in[~flat_z], _transform_xy, include_z=False)
        flat_out[flat_z] = shapely.transform(flat_in[flat_z], _transform_xy, include_z=True)
        return out

    series = getattr(geom_or_gdf, "geometry", None)
    crs_label = getattr(geom_or_gdf, "crs", None)
    if series is not None and hasattr(geom_or_gdf, "set_crs"):  # GeoSeries / GeoDataFrame
        if crs_label is not None and not crs_label.is_geographic:
            raise InputError(
                f"geometry_to_wgs84 needs lon/lat degrees, but the data carry the projected CRS "
                f"{crs_label.to_string()}; reproject to lon/lat first"
            )
        import geopandas as gpd

        new = gpd.GeoSeries(_convert(series.values), index=series.index, crs="EPSG:4326")
        if isinstance(geom_or_gdf, gpd.GeoDataFrame):
            result = geom_or_gdf.copy()
            result = result.set_geometry(new.rename(series.name), crs="EPSG:4326")
            return result
        return new.rename(geom_or_gdf.name)
    if isinstance(geom_or_gdf, shapely.Geometry):
        return _convert(geom_or_gdf).item()
    return _convert(geom_or_gdf)


def projected_to_lonlat(x, y, crs, *, digits: int = 6) -> tuple[np.ndarray, np.ndarray]:
    """Projected ``x``/``y`` in ``crs`` as WGS84 lon/lat rounded to ``digits`` decimals."""
    to = pyproj.Transformer.from_crs(crs, 4326, always_xy=True)
    lon, lat = to.transform(np.asarray(x, dtype=float), np.asarray(y, dtype=float))
    return np.round(np.asarray(lon), digits), np.round(np.asarray(lat), digits)
