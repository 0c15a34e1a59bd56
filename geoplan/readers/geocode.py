"""Geocode facility addresses and names to WGS84 points, with a precision flag.

Chinese facility lists often have a name and an address but no coordinates, and planning
documents name places only ("黄渠桥镇西润村卫生室", "姚伏镇中心卫生院", "白石湖院区"). This module
turns such texts into points and says how precise each point is:

``exact``
    a named facility or building (an OSM amenity, or an online provider's POI/door number);
``street``
    a named street;
``village``
    a village or community (村/社区), or a hamlet;
``township``
    a township, town or sub-district (乡/镇/街道);
``county``
    a county, district or city (县/区/市);
``failed``
    nothing matched, or the text is ambiguous: no point is given (never a guess).

Geocoders
---------
:class:`GazetteerGeocoder` works offline from what the user has: admin boundary layers
(county, township and village polygons or points with names and codes; each unit becomes its
representative point) and OSM files (``place=*`` nodes and areas, named streets, named
amenities). It finds the longest gazetteer names contained in the text (after normalising
full-width characters, admin suffixes such as 黄渠桥镇 ↔ 黄渠桥, and facility type words such as
卫生室 or 社区卫生服务中心) and keeps the most precise match that is consistent with every coarser
match in the same text (a village must lie inside the township and county the text names, when
their polygons or codes are known).

:class:`TiandituGeocoder` (天地图, CGCS2000 ≈ WGS84) and :class:`AmapGeocoder` (高德, GCJ-02,
converted with :func:`geoplan.coords.gcj02_to_wgs84`) call online services. They need an API key
and ``online=True``; they send the texts to the provider, so they are never used by default.
Their answers are cached on disk under ``geoplan._paths.cache_dir() / "geocode"``.

:func:`geocode_missing` geocodes the facility records that
:func:`geoplan.readers.facilities.read_facilities` rejected only for ``missing_coordinates``.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import math
import os
import re
import unicodedata
import urllib.parse
import urllib.request
import warnings
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from .. import coords
from .._io import write_text
from .._paths import cache_dir as _default_cache_dir
from ..errors import (
    ConfigError,
    DataQualityWarning,
    GeoplanError,
    InputError,
    InputFileNotFoundError,
)
from ..messages import duplicate_id, geocode_failed, geocoded_outside_area, record_label
from ..taxonomy import (
    CATEGORIES,
    normalize_text,
    parse_grade,
    parse_ownership,
)
from .boundaries import CODE_COLUMNS, NAME_COLUMNS, first_present
from .facilities import (
    CAPACITY_FIELDS,
    DEFAULT_BOUNDARY_TOLERANCE_M,
    REJECT_COLUMNS,
    USED_COLUMNS,
    FacilityTable,
    capacity_problem_text,
    capacity_value,
    category_of,
    distance_outside_m,
    map_columns,
)

__all__ = [
    "GAZETTEER_COLUMNS",
    "GEOCODE_COLUMNS",
    "GEOCODE_REASON_CODES",
    "LEVELS",
    "PRECISIONS",
    "AmapGeocoder",
    "GazetteerGeocoder",
    "GeocodeServiceError",
    "Geocoder",
    "TiandituGeocoder",
    "gazetteer_from_admin",
    "gazetteer_from_osm",
    "geocode_missing",
    "normalize_place",
]

logger = logging.getLogger(__name__)

PRECISIONS: tuple[str, ...] = ("exact", "street", "village", "township", "county", "failed")
"""Values of ``geocode_precision``, from the most to the least precise."""

LEVELS: tuple[str, ...] = ("city", "county", "township", "village", "street", "exact")
"""Gazetteer levels from coarse to fine; ``city`` is reported as ``county`` precision."""

_LEVEL_PRECISION = {
    "city": "county",
    "county": "county",
    "township": "township",
    "village": "village",
    "street": "street",
    "exact": "exact",
}
_RANK = {level: i for i, level in enumerate(LEVELS)}

GEOCODE_COLUMNS: tuple[str, ...] = (
    "text",
    "lon",
    "lat",
    "geocode_precision",
    "matched_name",
    "matched_code",
    "provider",
    "note",
)
"""Columns of every :meth:`Geocoder.geocode` result (one row per input text, same order)."""

GAZETTEER_COLUMNS: tuple[str, ...] = ("name", "level", "code", "source", "lon", "lat", "geometry")
"""Columns of a gazetteer (GeoDataFrame, EPSG:4326): ``lon``/``lat`` is the point reported,
``geometry`` the polygon (admin units) or the point itself."""

GEOCODE_REASON_CODES: tuple[str, ...] = ("geocode_failed",)
"""Reason code :func:`geocode_missing` gives to records it could not place."""


class GeocodeServiceError(GeoplanError, RuntimeError):
    """An online geocoding service could not be used (network error, invalid key, quota)."""


@runtime_checkable
class Geocoder(Protocol):
    """Anything that turns texts into WGS84 points with a precision flag."""

    provider: str

    def geocode(self, texts: Sequence[str]) -> pd.DataFrame:
        """One row per text, in order, with the columns :data:`GEOCODE_COLUMNS`.

        ``lon``/``lat`` are WGS84 degrees (NaN when ``geocode_precision == "failed"``).
        """
        ...


# --------------------------------------------------------------------------- text


_CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")
_SPACE_BETWEEN_CJK = re.compile(r"(?<=[\u3400-\u9fff]) (?=[\u3400-\u9fff])")


def normalize_place(text: object) -> str:
    """Normalise a place name or address for matching.

    NFKC (full-width → half-width), case-folded, common traditional characters simplified (as
    :func:`geoplan.taxonomy.normalize_text`); punctuation and brackets become single spaces,
    and spaces between Chinese characters are dropped (``"平罗县 黄渠桥镇"`` →
    ``"平罗县黄渠桥镇"``).
    """
    if text is None or (isinstance(text, float) and math.isnan(text)):
        return ""
    raw = unicodedata.normalize("NFKC", str(text))
    out = "".join(normalize_text(ch) or " " for ch in raw)
    out = re.sub(r"\s+", " ", out).strip()
    return _SPACE_BETWEEN_CJK.sub("", out)


# Admin suffixes and the level group they imply ("county" covers 市/县/区).
_SUFFIX_GROUP: dict[str, str] = {
    "特别行政区": "province",
    "自治区": "province",
    "省": "province",
    "自治州": "county",
    "地区": "county",
    "盟": "county",
    "市": "county",
    "自治县": "county",
    "自治旗": "county",
    "县": "county",
    "区": "county",
    "旗": "county",
    "街道办事处": "township",
    "街道办": "township",
    "街道": "township",
    "民族乡": "township",
    "镇": "township",
    "乡": "township",
    "苏木": "township",
    "社区居委会": "village",
    "村民委员会": "village",
    "居委会": "village",
    "村委会": "village",
    "社区": "village",
    "嘎查": "village",
    "村": "village",
}
_SUFFIXES = sorted(_SUFFIX_GROUP, key=len, reverse=True)
_LEVEL_GROUP = {"city": "county", "county": "county", "township": "township", "village": "village"}

# Facility type words (the taxonomy's Chinese names and aliases, plus campus words): a name that
# lies entirely inside one (e.g. a village 中心村 inside 中心卫生院) is not a place. Type words
# that begin with an admin suffix (村卫生室, 镇卫生院, 县人民医院) are left out, so that the suffix
# still tells the level ("城关村卫生室" is in a village, not in the town 城关镇).
_EXTRA_TYPE_WORDS = ("院区", "新院区", "分院", "总院", "医共体", "卫生服务中心", "社区卫生服务中心")


def _type_words() -> tuple[str, ...]:
    words: set[str] = set(_EXTRA_TYPE_WORDS)
    for category in CATEGORIES.values():
        for alias in (category.name_zh, *category.aliases):
            word = normalize_place(alias)
            if len(word) >= 2 and _CJK.search(word) and " " not in word:
                words.add(word)
    leading = ("中心乡", "中心镇", *_SUFFIX_GROUP)
    kept = {w for w in words if w.startswith(("社区卫生", "社区医院")) or not w.startswith(leading)}
    return tuple(sorted(kept, key=len, reverse=True))


_TYPE_WORDS = _type_words()


def _type_spans(text: str) -> tuple[np.ndarray, set[int]]:
    """Positions covered by facility type words (greedy, longest first) and their starts."""
    mask = np.zeros(len(text), dtype=bool)
    starts: set[int] = set()
    i = 0
    while i < len(text):
        for word in _TYPE_WORDS:
            if text.startswith(word, i):
                mask[i : i + len(word)] = True
                starts.add(i)
                i += len(word)
                break
        else:
            i += 1
    return mask, starts


def _bare_name(name: str) -> str | None:
    """The name without its admin suffix (黄渠桥镇 → 黄渠桥), if at least 2 characters remain."""
    if not _CJK.search(name):
        return None
    for suffix in _SUFFIXES:
        if name.endswith(suffix) and len(name) - len(suffix) >= 2:
            return name[: -len(suffix)]
    return None


def _name_variants(name: str) -> list[str]:
    """Normalised spellings of a gazetteer name: the whole name, and for names with brackets
    ("校医院（北京邮电大学社区卫生服务中心）") the bracketed and the outer part (≥ 4 characters)."""
    out = [normalize_place(name)]
    raw = unicodedata.normalize("NFKC", name)
    for inner in re.findall(r"[(\[（【]([^)\]）】]+)[)\]）】]", raw):
        outer = re.sub(r"[(\[（【][^)\]）】]*[)\]）】]", " ", raw)
        for part in (inner, outer):
            part = normalize_place(part)
            if len(part) >= 4:
                out.append(part)
    return [v for v in dict.fromkeys(out) if v]


def _is_word_char(ch: str) -> bool:
    """A letter or digit of a spaced script (Latin …), where matches must respect word ends."""
    return ch.isalnum() and not _CJK.match(ch)


# --------------------------------------------------------------------------- gazetteers


_ADMIN_LEVEL_ALIASES: dict[str, str] = {
    "city": "city",
    "prefecture": "city",
    "地级市": "city",
    "市": "city",
    "county": "county",
    "district": "county",
    "县": "county",
    "区": "county",
    "区县": "county",
    "县区": "county",
    "county-level": "county",
    "township": "township",
    "town": "township",
    "street": "township",  # 街道 in Amap/DataV admin layers
    "subdistrict": "township",
    "乡镇": "township",
    "街道": "township",
    "乡": "township",
    "镇": "township",
    "乡镇街道": "township",
    "village": "village",
    "community": "village",
    "村": "village",
    "社区": "village",
    "村社区": "village",
    "行政村": "village",
}


def _admin_level(value: object, *, where: str) -> str:
    key = normalize_text(value)
    level = _ADMIN_LEVEL_ALIASES.get(key)
    if level is None:
        raise ConfigError(
            f"{where}: unknown admin level {value!r}; use county (县/区, or city 市), township "
            "(乡镇/街道) or village (村/社区)"
        )
    return level


def _empty_gazetteer() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {
            "name": pd.Series([], dtype="str"),
            "level": pd.Series([], dtype="str"),
            "code": pd.Series([], dtype="str"),
            "source": pd.Series([], dtype="str"),
            "lon": pd.Series([], dtype=float),
            "lat": pd.Series([], dtype=float),
        },
        geometry=gpd.GeoSeries([], crs="EPSG:4326"),
    )


def _gazetteer_frame(
    names: Sequence[str],
    levels: Sequence[str],
    codes: Sequence[str],
    source: str | Sequence[str],
    lon: Sequence[float],
    lat: Sequence[float],
    geometry: Sequence[Any],
) -> gpd.GeoDataFrame:
    n = len(names)
    sources = [source] * n if isinstance(source, str) else list(source)
    frame = gpd.GeoDataFrame(
        {
            "name": pd.Series(list(names), dtype="str"),
            "level": pd.Series(list(levels), dtype="str"),
            "code": pd.Series(list(codes), dtype="str"),
            "source": pd.Series(sources, dtype="str"),
            "lon": np.asarray(lon, dtype=float),
            "lat": np.asarray(lat, dtype=float),
        },
        geometry=gpd.GeoSeries(list(geometry), crs="EPSG:4326"),
    )
    return frame[list(GAZETTEER_COLUMNS)]


def gazetteer_from_admin(
    layer: str | Path | gpd.GeoDataFrame,
    *,
    level: str | None = None,
    name_column: str | None = None,
    code_column: str | None = None,
    level_column: str = "level",
    crs: str | None = None,
    layer_name: str | None = None,
) -> gpd.GeoDataFrame:
    """Gazetteer entries from an admin-unit layer (polygons, or points for villages).

    Parameters
    ----------
    layer : path or GeoDataFrame
        Any file geopandas reads (GeoJSON, GeoPackage, Shapefile …) or a GeoDataFrame.
    level : str, optional
        ``county`` (县/区; ``city`` for 市), ``township`` (乡镇/街道) or ``village`` (村/社区),
        Chinese names accepted. Default: read each row's level from ``level_column``
        (``city``, ``district``, ``street`` as in Amap/DataV/Tianditu layers).
    name_column, code_column : str, optional
        Default: the first of :data:`geoplan.readers.boundaries.NAME_COLUMNS` /
        ``CODE_COLUMNS`` present.
    level_column : str, default "level"
        Column holding each row's level when ``level`` is not given.
    crs : str, optional
        Coordinate system of the coordinates when the layer's label is wrong (``gcj02`` or
        ``bd09`` layers are usually labelled EPSG:4326); converted to WGS84.
    layer_name : str, optional
        Layer of a multi-layer file.

    Returns
    -------
    geopandas.GeoDataFrame
        :data:`GAZETTEER_COLUMNS`; ``lon``/``lat`` is each unit's representative point (inside
        the polygon), ``geometry`` the polygon in EPSG:4326.
    """
    if isinstance(layer, gpd.GeoDataFrame):
        frame, source = layer, "admin layer"
    else:
        path = Path(layer)
        if not path.exists():
            raise InputFileNotFoundError(f"admin layer {path} does not exist")
        frame = gpd.read_file(path, layer=layer_name) if layer_name else gpd.read_file(path)
        source = path.name
    if len(frame) == 0:
        return _empty_gazetteer()
    for given in (name_column, code_column):
        if given and given not in frame:
            raise InputError(
                f"{source}: column {given!r} not found; columns: {list(frame.columns)}"
            )
    name_col = name_column or first_present(frame, NAME_COLUMNS)
    if name_col is None:
        raise InputError(
            f"{source}: no name column (looked for {', '.join(NAME_COLUMNS)}); pass name_column="
        )
    code_col = code_column or first_present(frame, CODE_COLUMNS)
    frame = frame[frame.geometry.notna() & ~frame.geometry.is_empty]
    if crs is not None:
        frame = coords.geometry_to_wgs84(frame, crs)
    elif frame.crs is None:
        frame = frame.set_crs("EPSG:4326")
    elif not frame.crs.equals("EPSG:4326"):
        frame = frame.to_crs("EPSG:4326")
    if level is not None:
        levels = [_admin_level(level, where=source)] * len(frame)
    elif level_column in frame:
        levels = [_admin_level(v, where=source) for v in frame[level_column]]
    else:
        raise ConfigError(
            f"{source}: give level= (county, township or village) or a {level_column!r} column"
        )
    names = [str(v).strip() if isinstance(v, str) else "" for v in frame[name_col]]
    codes = [_code_text(v) for v in frame[code_col]] if code_col else [""] * len(frame)
    geoms = frame.geometry.to_numpy()
    points = shapely.point_on_surface(geoms)
    keep = [bool(n) for n in names]
    return _gazetteer_frame(
        [n for n, k in zip(names, keep, strict=True) if k],
        [lv for lv, k in zip(levels, keep, strict=True) if k],
        [c for c, k in zip(codes, keep, strict=True) if k],
        source,
        shapely.get_x(points)[keep],
        shapely.get_y(points)[keep],
        geoms[keep],
    )


def _code_text(value: object) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


# ---- OSM

_PLACE_LEVEL = {
    "city": "city",
    "municipality": "county",
    "county": "county",
    "district": "county",
    "town": "township",
    "township": "township",
    "suburb": "township",
    "borough": "township",
    "quarter": "village",
    "neighbourhood": "village",
    "village": "village",
    "hamlet": "village",
    "isolated_dwelling": "village",
    "locality": "village",
    "square": "exact",
}
# OSM admin_level → level, following the scheme used for China (5 prefecture, 6 county,
# 8 township/sub-district, 9–10 village/community); 7 is taken as county.
_ADMIN_LEVEL_OSM = {
    "5": "city",
    "6": "county",
    "7": "county",
    "8": "township",
    "9": "village",
    "10": "village",
}
_FEATURE_KEYS = ("amenity", "healthcare", "leisure")
_NAME_KEYS = ("name", "name:zh", "name:zh-Hans", "official_name", "alt_name", "short_name")
_NOT_STREETS = {"bus_stop", "platform", "elevator", "street_lamp", "traffic_signals", "crossing"}
_STREET_JOIN_M = 1000.0  # pieces of a street with one name within this distance are one street


def _osm_names(tags: Any) -> list[str]:
    names: list[str] = []
    for key in _NAME_KEYS:
        value = tags.get(key)
        if value:
            names.extend(part.strip() for part in str(value).split(";") if part.strip())
    return list(dict.fromkeys(names))


def _osm_level(tags: Any) -> str | None:
    place = tags.get("place")
    if place in _PLACE_LEVEL:
        return _PLACE_LEVEL[place]
    if tags.get("boundary") == "administrative":
        return _ADMIN_LEVEL_OSM.get(tags.get("admin_level", ""))
    if any(tags.get(key) for key in _FEATURE_KEYS):
        return "exact"
    return None


class _OsmCollector:
    """pyosmium callbacks collecting named places, streets and features."""

    def __init__(self) -> None:
        import osmium

        self._wkb = osmium.geom.WKBFactory()
        self.names: list[str] = []
        self.levels: list[str] = []
        self.lon: list[float] = []
        self.lat: list[float] = []
        self.geoms: list[Any] = []
        self.streets: dict[str, list[np.ndarray]] = {}

    def _add(self, names: list[str], level: str, lon: float, lat: float, geom: Any) -> None:
        for name in names:
            self.names.append(name)
            self.levels.append(level)
            self.lon.append(lon)
            self.lat.append(lat)
            self.geoms.append(geom if geom is not None else shapely.Point(lon, lat))

    def node(self, n: Any) -> None:
        level = _osm_level(n.tags)
        if level is None or not n.location.valid():
            return
        names = _osm_names(n.tags)
        if names:
            self._add(names, level, n.location.lon, n.location.lat, None)

    def way(self, w: Any) -> None:
        tags = w.tags
        names = _osm_names(tags)
        if not names:
            return
        xy = np.array(
            [(nd.location.lon, nd.location.lat) for nd in w.nodes if nd.location.valid()],
            dtype=float,
        ).reshape(-1, 2)
        if len(xy) == 0:
            return
        highway = tags.get("highway")
        if highway and highway not in _NOT_STREETS and tags.get("area") != "yes":
            for name in names:
                self.streets.setdefault(name, []).append(xy)
            return
        if w.is_closed():
            return  # polygons arrive in area()
        level = _osm_level(tags)
        if level is not None:
            mid = xy[len(xy) // 2]
            self._add(names, level, float(mid[0]), float(mid[1]), None)

    def area(self, a: Any) -> None:
        tags = a.tags
        if tags.get("highway") and tags.get("area") != "yes":
            return
        level = _osm_level(tags)
        names = _osm_names(tags)
        if level is None or not names:
            return
        try:
            geom = shapely.from_wkb(self._wkb.create_multipolygon(a))
        except RuntimeError:  # incomplete or broken rings in a clipped extract
            return
        if geom is None or geom.is_empty:
            return
        point = shapely.point_on_surface(geom)
        keep = geom if _RANK[level] <= _RANK["village"] else None
        self._add(names, level, point.x, point.y, keep)

    def street_rows(self) -> tuple[list[str], list[float], list[float]]:
        """One entry per street: pieces of one name within ``_STREET_JOIN_M`` are joined."""
        names: list[str] = []
        lon: list[float] = []
        lat: list[float] = []
        for name, pieces in self.streets.items():
            for cluster in _cluster_pieces(pieces):
                xy = np.concatenate([pieces[i] for i in cluster])
                centre = xy.mean(axis=0)
                scale = np.array([math.cos(math.radians(centre[1])), 1.0])
                nearest = int(np.argmin((((xy - centre) * scale) ** 2).sum(axis=1)))
                names.append(name)
                lon.append(float(xy[nearest, 0]))
                lat.append(float(xy[nearest, 1]))
        return names, lon, lat


def _cluster_pieces(pieces: list[np.ndarray]) -> list[list[int]]:
    """Group street pieces whose vertices come within ``_STREET_JOIN_M`` of each other."""
    n = len(pieces)
    parent = list(range(n))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    if n > 1:
        lat0 = float(np.mean([p[:, 1].mean() for p in pieces]))
        scale = np.array([111_320.0 * math.cos(math.radians(lat0)), 110_574.0])
        metric = [p * scale for p in pieces]
        lines = [shapely.LineString(m) if len(m) > 1 else shapely.Point(m[0]) for m in metric]
        tree = shapely.STRtree(lines)
        left, right = tree.query(lines, predicate="dwithin", distance=_STREET_JOIN_M)
        for i, j in zip(left.tolist(), right.tolist(), strict=True):
            ri, rj = find(i), find(j)
            if ri != rj:
                parent[rj] = ri
    groups: dict[int, list[int]] = {}
    for i in range(n):
        groups.setdefault(find(i), []).append(i)
    return list(groups.values())


def gazetteer_from_osm(path: str | Path) -> gpd.GeoDataFrame:
    """Gazetteer entries from an OSM XML/PBF file (read with pyosmium).

    ``place=city`` → ``city`` (reported as county precision); ``place=town``/``suburb`` →
    ``township``; ``place=village``/``hamlet``/``neighbourhood``/``locality`` → ``village``;
    ``boundary=administrative`` areas by ``admin_level`` (5 city, 6–7 county, 8 township,
    9–10 village); named streets (``highway=*`` ways; pieces of one name within 1 km form one
    street, located at its vertex nearest the middle) → ``street``; named ``amenity``,
    ``healthcare`` and ``leisure`` features → ``exact``. ``name``, ``name:zh``,
    ``official_name``, ``alt_name`` and ``short_name`` are all entered. Area places and admin
    areas keep their polygon for consistency checks.
    """
    import osmium

    path = Path(path)
    if not path.exists():
        raise InputFileNotFoundError(f"OSM file {path} does not exist")
    collector = _OsmCollector()
    try:
        handler = osmium.make_simple_handler(
            node=collector.node, way=collector.way, area=collector.area
        )
        handler.apply_file(str(path), locations=True)
    except RuntimeError as exc:
        raise InputError(f"{path}: cannot read as OSM XML/PBF ({exc})") from exc
    s_names, s_lon, s_lat = collector.street_rows()
    names = collector.names + s_names
    if not names:
        return _empty_gazetteer()
    return _gazetteer_frame(
        names,
        collector.levels + ["street"] * len(s_names),
        [""] * len(names),
        path.name,
        collector.lon + s_lon,
        collector.lat + s_lat,
        collector.geoms + [shapely.Point(x, y) for x, y in zip(s_lon, s_lat, strict=True)],
    )


# --------------------------------------------------------------------------- gazetteer geocoder


@dataclass(frozen=True)
class _Match:
    start: int
    end: int
    entry: int
    bare: bool


def _code_prefix(code: str) -> str | None:
    """The part of an admin code that its sub-units share (640221 → 640221, 450700 → 4507)."""
    if not code.isdigit() or len(code) < 6:
        return None
    while len(code) > 6 and code.endswith("000"):
        code = code[:-3]
    while len(code) > 2 and len(code) <= 6 and code.endswith("00"):
        code = code[:-2]
    return code


class GazetteerGeocoder:
    """Offline geocoder over a gazetteer of admin units, OSM places, streets and features.

    Parameters
    ----------
    gazetteer : GeoDataFrame or sequence of GeoDataFrames
        Entries with :data:`GAZETTEER_COLUMNS` (see :func:`gazetteer_from_admin`,
        :func:`gazetteer_from_osm`). Earlier entries win ties between duplicates.
    tolerance_m : float, default 200
        A point this close to a polygon counts as inside it (borders of different sources
        rarely agree exactly).
    ambiguity_m : float, default 1000
        Matches of one level farther apart than this are different places: the text is
        ambiguous at that level and a coarser consistent match is reported instead (or
        ``failed`` when there is none).

    Notes
    -----
    For each text: the longest gazetteer names it contains are found (a name inside a longer
    matched name is dropped; a name inside a facility type word such as 中心卫生院 is ignored;
    a name without its admin suffix, e.g. 黄渠桥 for 黄渠桥镇, is accepted unless the text gives
    it a suffix of another level, e.g. 城关村 for the town 城关镇; two-character short forms must
    end at a boundary). A match is dropped when a coarser match of the same text has known
    polygons (or admin codes) and none contains it. The most precise remaining level wins.
    """

    provider = "gazetteer"

    def __init__(
        self,
        gazetteer: gpd.GeoDataFrame | Sequence[gpd.GeoDataFrame],
        *,
        tolerance_m: float = 200.0,
        ambiguity_m: float = 1000.0,
    ) -> None:
        frames = [gazetteer] if isinstance(gazetteer, pd.DataFrame) else list(gazetteer)
        frames = [f for f in frames if len(f)]
        for frame in frames:
            missing = [c for c in GAZETTEER_COLUMNS if c not in frame.columns]
            if missing:
                raise InputError(f"gazetteer: missing column(s) {', '.join(missing)}")
            bad = sorted(set(frame["level"]) - set(LEVELS))
            if bad:
                raise InputError(f"gazetteer: unknown level(s) {bad}; use one of {LEVELS}")
        if frames:
            table = pd.concat([f[list(GAZETTEER_COLUMNS)] for f in frames], ignore_index=True)
            self._table = gpd.GeoDataFrame(table, geometry="geometry", crs="EPSG:4326")
        else:
            self._table = _empty_gazetteer()
        self.tolerance_m = float(tolerance_m)
        self.ambiguity_m = float(ambiguity_m)
        self._names = self._table["name"].astype(str).tolist()
        self._rank = np.array([_RANK[v] for v in self._table["level"]], dtype=int)
        self._group = [_LEVEL_GROUP.get(v) for v in self._table["level"]]
        self._codes = ["" if pd.isna(c) else str(c) for c in self._table["code"]]
        self._prefix = [_code_prefix(c) for c in self._codes]
        self._lon = self._table["lon"].to_numpy(dtype=float)
        self._lat = self._table["lat"].to_numpy(dtype=float)
        geoms = self._table.geometry.to_numpy()
        is_area = np.isin(shapely.get_type_id(geoms), (3, 6))  # Polygon, MultiPolygon
        self._poly: list[Any] = [g if a else None for g, a in zip(geoms, is_area, strict=True)]
        for g in self._poly:
            if g is not None:
                shapely.prepare(g)
        self._index: dict[str, list[tuple[int, bool]]] = {}
        for i, name in enumerate(self._names):
            for key in _name_variants(name):
                self._index.setdefault(key, []).append((i, False))
            bare = _bare_name(normalize_place(name)) if self._group[i] else None
            if bare:
                self._index.setdefault(bare, []).append((i, True))
        self._lengths = sorted({len(k) for k in self._index}, reverse=True)

    @classmethod
    def from_sources(
        cls,
        *,
        admin: Mapping[str, Any] | Iterable[tuple[Any, str]] = (),
        osm: Iterable[str | Path] = (),
        **options: Any,
    ) -> GazetteerGeocoder:
        """Build a geocoder from admin layers and OSM files.

        Parameters
        ----------
        admin : mapping level → layer, or iterable of (layer, level)
            Admin layers (paths or GeoDataFrames) for :func:`gazetteer_from_admin`; level
            ``None`` reads each row's ``level`` column.
        osm : iterable of paths
            OSM XML/PBF files for :func:`gazetteer_from_osm`.
        **options
            ``tolerance_m``, ``ambiguity_m``.
        """
        pairs = (
            [(layer, level) for level, layer in admin.items()]
            if isinstance(admin, Mapping)
            else list(admin)
        )
        frames = [gazetteer_from_admin(layer, level=level) for layer, level in pairs]
        frames += [gazetteer_from_osm(path) for path in osm]
        return cls(frames, **options)

    @property
    def gazetteer(self) -> gpd.GeoDataFrame:
        """The entries searched (a copy)."""
        return self._table.copy()

    def geocode(self, texts: Sequence[str]) -> pd.DataFrame:
        """Geocode texts (addresses, facility or place names).

        Returns
        -------
        pandas.DataFrame
            :data:`GEOCODE_COLUMNS`, one row per text in order; ``note`` says why a text
            failed or was placed coarser than its finest match (ambiguity).
        """
        rows = [self._one(t) for t in texts]
        return _result_frame(texts, rows, self.provider)

    # ---- matching

    def _matches(self, text: str) -> list[_Match]:
        n = len(text)
        raw: list[_Match] = []
        for i in range(n):
            for length in self._lengths:
                if i + length > n:
                    continue
                hits = self._index.get(text[i : i + length])
                if hits:
                    raw.extend(_Match(i, i + length, e, bare) for e, bare in hits)
        if not raw:
            return []
        type_mask, type_starts = _type_spans(text)
        anchors = {m.start for m in raw if not m.bare or m.end - m.start >= 3}
        kept = [m for m in raw if self._accept(m, text, type_mask, type_starts, anchors)]
        best: dict[int, _Match] = {}
        for m in kept:  # the longest occurrence of each entry
            old = best.get(m.entry)
            if old is None or (m.end - m.start) > (old.end - old.start):
                best[m.entry] = m
        spans = {(m.start, m.end) for m in best.values()}
        return [
            m
            for m in best.values()
            if not any(
                s <= m.start and m.end <= e and (e - s) > (m.end - m.start) for s, e in spans
            )
        ]

    def _accept(
        self,
        m: _Match,
        text: str,
        type_mask: np.ndarray,
        type_starts: set[int],
        anchors: set[int],
    ) -> bool:
        if type_mask[m.start : m.end].all():
            return False
        key = text[m.start : m.end]
        if _is_word_char(key[0]) and m.start > 0 and _is_word_char(text[m.start - 1]):
            return False
        if _is_word_char(key[-1]) and m.end < len(text) and _is_word_char(text[m.end]):
            return False
        if not m.bare:
            return True
        rest = text[m.end :]
        if not rest or rest[0] == " " or m.end in type_starts:
            return True
        suffix = next((s for s in _SUFFIXES if rest.startswith(s)), None)
        if suffix is not None:
            return _SUFFIX_GROUP[suffix] == self._group[m.entry]
        if m.end - m.start >= 3:
            return True
        return rest[0] in "第0123456789" or m.end in anchors

    def _contains(self, outer: int, inner: int) -> bool | None:
        """Whether entry ``outer`` contains entry ``inner`` (None: cannot tell)."""
        poly = self._poly[outer]
        if poly is not None:
            x, y = self._lon[inner], self._lat[inner]
            if shapely.contains_xy(poly, x, y):
                return True
            d_deg = float(shapely.distance(poly, shapely.Point(x, y)))
            return d_deg * 111_000.0 <= self.tolerance_m
        a, b = self._prefix[outer], self._codes[inner]
        if a is not None and b.isdigit() and len(b) >= 6:
            return bool(b.startswith(a) and b != self._codes[outer])
        return None

    def _distance_m(self, i: int, j: int) -> float:
        lat = math.radians((self._lat[i] + self._lat[j]) / 2)
        dx = (self._lon[i] - self._lon[j]) * 111_320.0 * math.cos(lat)
        dy = (self._lat[i] - self._lat[j]) * 110_574.0
        return math.hypot(dx, dy)

    def _one(self, text: str) -> dict[str, Any]:
        norm = normalize_place(text)
        if not norm:
            return _failed("empty text")
        matches = self._matches(norm)
        if not matches:
            return _failed("no gazetteer name found in the text")
        by_span: dict[tuple[int, int], list[int]] = {}
        for m in matches:
            by_span.setdefault((m.start, m.end), []).append(m.entry)
        span_of = {m.entry: (m.start, m.end) for m in matches}
        support: dict[int, int] = {}
        dropped: list[str] = []
        for m in matches:
            c = m.entry
            ok, confirmed = True, 0
            for span, entries in by_span.items():
                if span == span_of[c]:
                    continue
                coarser = [a for a in entries if self._rank[a] < self._rank[c]]
                if not coarser:
                    continue
                verdicts = [self._contains(a, c) for a in coarser]
                if any(v is True for v in verdicts):
                    confirmed += 1
                elif any(v is False for v in verdicts):  # polygon evidence beats none
                    ok = False
                    outer = self._names[coarser[0]]
                    dropped.append(f"a {self._names[c]} outside {outer} was left out")
                    break
            if ok:
                support[c] = confirmed
        notes: list[str] = list(dict.fromkeys(dropped))
        if not support:
            return _failed("; ".join(notes))
        for rank in sorted({int(self._rank[c]) for c in support}, reverse=True):
            level = [c for c in support if self._rank[c] == rank]
            top = max(support[c] for c in level)
            level = [c for c in level if support[c] == top]
            first = min(level)  # earliest entry: sources given first win ties
            if all(self._distance_m(first, c) <= self.ambiguity_m for c in level):
                if LEVELS[rank] == "city":
                    notes.append(f"{self._names[first]} is a city: its representative point")
                note = "; ".join(notes)
                return {
                    "lon": float(self._lon[first]),
                    "lat": float(self._lat[first]),
                    "geocode_precision": _LEVEL_PRECISION[LEVELS[rank]],
                    "matched_name": self._names[first],
                    "matched_code": self._codes[first],
                    "note": note,
                }
            names = sorted({self._names[c] for c in level})
            notes.append(
                f"{'/'.join(names)} ({LEVELS[rank]}): {len(level)} places match, too far apart "
                "to choose; name the township or county"
            )
        return _failed("; ".join(notes))


def _failed(note: str) -> dict[str, Any]:
    return {
        "lon": math.nan,
        "lat": math.nan,
        "geocode_precision": "failed",
        "matched_name": "",
        "matched_code": "",
        "note": note,
    }


def _result_frame(texts: Sequence[str], rows: list[dict[str, Any]], provider: str) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "text": pd.Series([str(t) if t is not None else "" for t in texts], dtype="str"),
            "lon": np.array([r["lon"] for r in rows], dtype=float),
            "lat": np.array([r["lat"] for r in rows], dtype=float),
            "geocode_precision": pd.Series([r["geocode_precision"] for r in rows], dtype="str"),
            "matched_name": pd.Series([r["matched_name"] for r in rows], dtype="str"),
            "matched_code": pd.Series([r["matched_code"] for r in rows], dtype="str"),
            "provider": pd.Series([provider] * len(rows), dtype="str"),
            "note": pd.Series([r["note"] for r in rows], dtype="str"),
        },
        columns=list(GEOCODE_COLUMNS),
    )


# --------------------------------------------------------------------------- online providers


def _urllib_fetch(url: str, *, timeout_s: float = 10.0) -> dict:
    """GET ``url`` and parse the JSON answer."""
    request = urllib.request.Request(url, headers={"User-Agent": "geoplan"})
    try:
        with urllib.request.urlopen(request, timeout=timeout_s) as response:
            return json.loads(response.read().decode("utf-8"))
    except (OSError, ValueError) as exc:
        raise GeocodeServiceError(f"geocoding request failed: {exc}") from exc


class _OnlineGeocoder:
    """Shared machinery of the online providers: switch, key, fetch and the disk cache."""

    provider = ""
    key_env = ""
    label = ""

    def __init__(
        self,
        api_key: str | None = None,
        *,
        online: bool = False,
        fetch: Callable[[str], dict] | None = None,
        cache: bool = True,
        cache_dir: str | Path | None = None,
        timeout_s: float = 10.0,
    ) -> None:
        if not online:
            raise ConfigError(
                f"{self.label} geocoding sends the addresses to an online service; pass "
                "online=True to allow it (or use the offline GazetteerGeocoder)"
            )
        key = api_key or os.environ.get(self.key_env, "")
        if not key:
            raise ConfigError(
                f"{self.label} geocoding needs an API key: pass api_key= or set ${self.key_env}"
            )
        self._key = key
        self._fetch = fetch or (lambda url: _urllib_fetch(url, timeout_s=timeout_s))
        self._cache = cache
        self._cache_dir = Path(cache_dir) if cache_dir is not None else None

    # ---- cache

    def _cache_key(self, text: str) -> str:
        """What identifies an answer besides the provider (the text; never the API key)."""
        return text

    def cache_path(self, text: str) -> Path:
        """The cache file of one text: JSON keyed by provider and text."""
        root = self._cache_dir if self._cache_dir is not None else _default_cache_dir()
        key = f"{self.provider}\n{self._cache_key(text)}"
        digest = hashlib.sha256(key.encode("utf-8")).hexdigest()[:32]
        return root / "geocode" / self.provider / f"{digest}.json"

    def _cached(self, text: str) -> dict | None:
        if not self._cache:
            return None
        path = self.cache_path(text)
        if not path.exists():
            return None
        try:
            record = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        if record.get("provider") != self.provider or record.get("key") != self._cache_key(text):
            return None
        return record.get("answer")

    def _store(self, text: str, answer: dict) -> None:
        if not self._cache:
            return
        record = {
            "provider": self.provider,
            "key": self._cache_key(text),
            "text": text,
            "answer": answer,
        }
        write_text(self.cache_path(text), json.dumps(record, ensure_ascii=False, indent=1))

    # ---- provider specifics

    def _url(self, text: str) -> str:
        raise NotImplementedError

    def _parse(self, answer: dict) -> tuple[dict[str, Any] | None, bool]:
        """(result row or None for a service error, whether the answer may be cached)."""
        raise NotImplementedError

    # ---- API

    def geocode(self, texts: Sequence[str]) -> pd.DataFrame:
        """Geocode texts online (cached answers are reused).

        Raises
        ------
        GeocodeServiceError
            When every request of the batch failed (network down, invalid key, quota).
        """
        rows: list[dict[str, Any]] = []
        errors: list[str] = []
        asked = 0
        for text in texts:
            query = str(text).strip() if text is not None else ""
            if not query:
                rows.append(_failed("empty text"))
                continue
            answer = self._cached(query)
            from_cache = answer is not None
            if answer is None:
                asked += 1
                try:
                    answer = self._fetch(self._url(query))
                except GeocodeServiceError as exc:
                    errors.append(str(exc))
                    rows.append(_failed(str(exc)))
                    continue
            row, cacheable = self._parse(answer)
            if row is None:
                message = f"{self.label} error: {_service_message(answer)}"
                errors.append(message)
                rows.append(_failed(message))
                continue
            if cacheable and not from_cache:
                self._store(query, answer)
            rows.append(row)
        if asked and len(errors) == asked:
            raise GeocodeServiceError(
                f"{self.label}: all {asked} request(s) failed, e.g. {errors[0]}; check the API "
                "key, quota and network"
            )
        if errors:
            logger.warning("%s: %d request(s) failed: %s", self.label, len(errors), errors[0])
        return _result_frame(texts, rows, self.provider)


def _service_message(answer: Any) -> str:
    if isinstance(answer, dict):
        for key in ("info", "msg", "message"):
            if answer.get(key):
                return f"{answer.get(key)} (status {answer.get('status')})"
    return repr(answer)[:200]


def _precision_of(level: str, table: Mapping[str, str]) -> str:
    return table.get(str(level).strip(), "failed")


_TIANDITU_LEVELS = {
    "门址": "exact",
    "门牌号": "exact",
    "兴趣点": "exact",
    "POI": "exact",
    "poi": "exact",
    "建筑物": "exact",
    "道路": "street",
    "交叉路口": "street",
    "道路交叉路口": "street",
    "村庄": "village",
    "村": "village",
    "社区": "village",
    "乡镇": "township",
    "街道": "township",
    "区县": "county",
    "县": "county",
}


class TiandituGeocoder(_OnlineGeocoder):
    """天地图 (Tianditu) geocoder; answers are CGCS2000, taken as WGS84 (< 1 m apart).

    Parameters
    ----------
    api_key : str, optional
        A Tianditu server key (``tk``); default ``$GEOPLAN_TIANDITU_KEY``.
    online : bool
        Must be True: the texts are sent to api.tianditu.gov.cn.
    fetch : callable(url) -> dict, optional
        Replaces the HTTP GET (tests pass a fake).
    cache : bool, default True
        Reuse and store answers under ``cache_dir/geocode/tianditu/``.
    cache_dir : path, optional
        Default :func:`geoplan._paths.cache_dir`.
    timeout_s : float, default 10
        Timeout of the default fetch.

    Notes
    -----
    The answer's ``level`` sets the precision: 门址/兴趣点 → exact, 道路 → street, 村庄 →
    village, 乡镇/街道 → township, 区县 → county; coarser or unknown levels → failed.
    """

    provider = "tianditu"
    key_env = "GEOPLAN_TIANDITU_KEY"
    label = "Tianditu"
    endpoint = "https://api.tianditu.gov.cn/geocoder"

    def _url(self, text: str) -> str:
        ds = json.dumps({"keyWord": text}, ensure_ascii=False)
        return f"{self.endpoint}?{urllib.parse.urlencode({'ds': ds, 'tk': self._key})}"

    def _parse(self, answer: dict) -> tuple[dict[str, Any] | None, bool]:
        if not isinstance(answer, dict) or str(answer.get("status")) != "0":
            return None, False
        loc = answer.get("location")
        if (
            not isinstance(loc, dict)
            or loc.get("lon") in (None, "")
            or loc.get("lat")
            in (
                None,
                "",
            )
        ):
            return _failed("no result"), True
        level = str(loc.get("level", ""))
        precision = _precision_of(level, _TIANDITU_LEVELS)
        if precision == "failed":
            return _failed(f"only matched at level {level or '?'}"), True
        return {
            "lon": float(loc["lon"]),
            "lat": float(loc["lat"]),
            "geocode_precision": precision,
            "matched_name": str(loc.get("keyWord", "")),
            "matched_code": "",
            "note": f"level {level}; score {loc.get('score', '')}",
        }, True


_AMAP_LEVELS = {
    "门牌号": "exact",
    "单元号": "exact",
    "兴趣点": "exact",
    "楼栋": "exact",
    "道路": "street",
    "道路交叉路口": "street",
    "村庄": "village",
    "乡镇": "township",
    "开发区": "township",
    "热点商圈": "township",
    "区县": "county",
}


class AmapGeocoder(_OnlineGeocoder):
    """高德 (Amap) geocoder; its GCJ-02 answers are converted to WGS84.

    Parameters
    ----------
    api_key : str, optional
        An Amap Web-service key; default ``$GEOPLAN_AMAP_KEY``.
    online : bool
        Must be True: the texts are sent to restapi.amap.com.
    city : str, optional
        Restrict the search to a city (name or adcode), e.g. ``"640200"``.
    fetch, cache, cache_dir, timeout_s
        As in :class:`TiandituGeocoder` (cache folder ``geocode/amap/``).

    Notes
    -----
    The answer's ``level`` sets the precision: 门牌号/兴趣点 → exact, 道路 → street, 村庄 →
    village, 乡镇/开发区 → township, 区县 → county; 市/省/未知 → failed.
    """

    provider = "amap"
    key_env = "GEOPLAN_AMAP_KEY"
    label = "Amap"
    endpoint = "https://restapi.amap.com/v3/geocode/geo"

    def __init__(self, api_key: str | None = None, *, city: str | None = None, **kw: Any) -> None:
        super().__init__(api_key, **kw)
        self.city = city

    def _cache_key(self, text: str) -> str:
        """The text, and the city restriction when one is set."""
        return f"{self.city}|{text}" if self.city else text

    def _url(self, text: str) -> str:
        params = {"address": text, "key": self._key, "output": "JSON"}
        if self.city:
            params["city"] = self.city
        return f"{self.endpoint}?{urllib.parse.urlencode(params)}"

    def _parse(self, answer: dict) -> tuple[dict[str, Any] | None, bool]:
        if not isinstance(answer, dict) or str(answer.get("status")) != "1":
            return None, False
        found = answer.get("geocodes") or []
        if not found:
            return _failed("no result"), True
        first = found[0]
        level = str(first.get("level", ""))
        precision = _precision_of(level, _AMAP_LEVELS)
        if precision == "failed":
            return _failed(f"only matched at level {level or '?'}"), True
        try:
            gx, gy = (float(v) for v in str(first["location"]).split(","))
        except (KeyError, ValueError):
            return _failed("answer without a location"), True
        lon, lat = coords.gcj02_to_wgs84(gx, gy)
        return {
            "lon": lon,
            "lat": lat,
            "geocode_precision": precision,
            "matched_name": str(first.get("formatted_address", "")),
            "matched_code": str(first.get("adcode", "")),
            "note": f"level {level}; {len(found)} candidate(s)",
        }, True


# --------------------------------------------------------------------------- facility records


def _input_columns(rejects: pd.DataFrame) -> dict[str, str]:
    """Original header → rejects column, for the input columns carried by the rejects."""
    out: dict[str, str] = {}
    for column in rejects.columns[len(REJECT_COLUMNS) :]:
        column = str(column)
        if column == "geometry":
            continue
        original = column
        if column.startswith("input_") and column[len("input_") :] in REJECT_COLUMNS:
            original = column[len("input_") :]
        out[original] = column
    return out


def _query_text(address: str, name: str) -> str:
    address, name = address.strip(), name.strip()
    if address and name and name not in address:
        return f"{address} {name}"
    return address or name


def geocode_missing(
    table: FacilityTable,
    geocoder: Geocoder,
    *,
    min_precision: str = "county",
    boundary: Any = None,
    boundary_tolerance_m: float = DEFAULT_BOUNDARY_TOLERANCE_M,
) -> FacilityTable:
    """Geocode the records rejected only for ``missing_coordinates``.

    The text geocoded is the record's address followed by its name (either alone when the
    other is empty). Records placed at ``min_precision`` or finer move into ``used`` with
    ``coord_source = "geocoded"`` and the columns ``geocode_precision``, ``geocode_provider``
    and ``geocode_matched`` (empty for records that had coordinates). The others stay rejected
    with reason ``geocode_failed`` and a zh/en message naming the text tried; a geocoded id
    already used by an earlier record becomes ``duplicate_id``; with ``boundary``, a point
    farther outside it than ``boundary_tolerance_m`` becomes ``outside_area``.
    ``read == len(used) + len(rejects)`` still holds.

    Parameters
    ----------
    table : FacilityTable
        From :func:`geoplan.readers.facilities.read_facilities`.
    geocoder : Geocoder
        E.g. a :class:`GazetteerGeocoder`.
    min_precision : str, default "county"
        Coarsest precision accepted (``exact``, ``street``, ``village``, ``township``,
        ``county``).
    boundary : GeoDataFrame, GeoSeries or shapely geometry, optional
        Study area (bare geometries are WGS84).
    boundary_tolerance_m : float, default 100

    Returns
    -------
    FacilityTable
        A new table; ``table`` is not modified.
    """
    if min_precision not in PRECISIONS[:-1]:
        raise ConfigError(f"min_precision must be one of {PRECISIONS[:-1]}, not {min_precision!r}")
    accept = set(PRECISIONS[: PRECISIONS.index(min_precision) + 1])
    used = _with_geocode_columns(table.used)
    rejects = table.rejects
    todo = rejects.index[rejects["reason_code"] == "missing_coordinates"]
    if len(todo) == 0:
        return dataclasses.replace(table, used=used, rejects=rejects.copy())
    inputs = _input_columns(rejects)
    cols = map_columns(list(inputs), table.columns)  # as the records were read
    kind = "feature" if "geometry" in rejects.columns else "row"

    def cell(i: Any, canonical: str) -> str:
        header = cols.get(canonical)
        if header is None:
            return ""
        value = rejects.at[i, inputs[header]]
        return (
            "" if value is None or (isinstance(value, float) and math.isnan(value)) else str(value)
        )

    queries = {i: _query_text(cell(i, "address"), str(rejects.at[i, "name"])) for i in todo}
    asked = [i for i in todo if queries[i]]
    answers = geocoder.geocode([queries[i] for i in asked]) if asked else None
    provider = getattr(geocoder, "provider", type(geocoder).__name__)

    taken = set(used["facility_id"])
    new_rows: list[dict[str, Any]] = []
    issues: list[dict[str, Any]] = []
    updates: dict[Any, tuple[str, str, str]] = {}
    outside = None
    if asked and boundary is not None:  # metres outside, as read_facilities measures them
        outside = distance_outside_m(boundary, answers["lon"], answers["lat"])
    for k, i in enumerate(asked):
        answer = answers.iloc[k]
        source_row = int(rejects.at[i, "source_row"])
        name = str(rejects.at[i, "name"])
        fid = str(rejects.at[i, "facility_id"])
        label = record_label(kind, source_row, name)
        text = queries[i]
        precision = str(answer["geocode_precision"])
        if precision not in accept:
            note = "" if pd.isna(answer["note"]) or not answer["note"] else str(answer["note"])
            texts = geocode_failed(label, text, provider, precision, min_precision, note)
            updates[i] = ("geocode_failed", *texts)
            continue
        if fid in taken:
            texts = duplicate_id(label, fid, ("其他记录", "another record"))
            updates[i] = ("duplicate_id", *texts)
            continue
        if outside is not None and outside[k] > boundary_tolerance_m:
            texts = geocoded_outside_area(label, text, str(answer["matched_name"]), outside[k])
            updates[i] = ("outside_area", *texts)
            continue
        taken.add(fid)
        row, row_issues = _used_row(
            i, cell, cols, answer, provider, source_row, fid, name, kind, table.categories
        )
        new_rows.append(row)
        issues.extend(row_issues)

    keep = rejects.index.difference([i for i in asked if i not in updates])
    out_rejects = rejects.loc[keep].copy()
    for i, (code, zh, en) in updates.items():
        out_rejects.loc[i, ["reason_code", "message_zh", "message_en"]] = [code, zh, en]
    out_rejects = out_rejects.sort_values("source_row", kind="stable").reset_index(drop=True)
    if new_rows:
        added = gpd.GeoDataFrame(pd.DataFrame(new_rows), geometry="geometry", crs="EPSG:4326")
        used = pd.concat([used, added.astype(used.dtypes.to_dict())], ignore_index=True)
        used = used.sort_values("source_row", kind="stable").reset_index(drop=True)
        used = gpd.GeoDataFrame(used, geometry="geometry", crs="EPSG:4326")
    extra: dict[str, Any] = {}
    if issues:
        extra["capacity_issues"] = pd.concat(
            [table.capacity_issues, pd.DataFrame(issues)], ignore_index=True
        ).astype(table.capacity_issues.dtypes.to_dict())
    return dataclasses.replace(table, used=used, rejects=out_rejects, **extra)


_GEOCODE_USED_COLUMNS = ("geocode_precision", "geocode_provider", "geocode_matched")


def _with_geocode_columns(used: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    used = used.copy()
    for column in _GEOCODE_USED_COLUMNS:
        if column not in used:
            used[column] = pd.Series([None] * len(used), index=used.index, dtype="str")
    order = [c for c in USED_COLUMNS if c != "geometry"]
    rest = [c for c in used.columns if c not in USED_COLUMNS]
    return used[[*order, *rest, "geometry"]]


def _used_row(
    i: Any,
    cell: Callable[[Any, str], str],
    cols: Mapping[str, str],
    answer: pd.Series,
    provider: str,
    source_row: int,
    fid: str,
    name: str,
    kind: str,
    categories: Mapping[str, str],
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The ``used`` row of a geocoded record, and its capacity cells that are not numbers
    (its category read through the table's ``categories`` mapping, as the reader did)."""
    category = category_of(cell(i, "category"), categories)
    if category is None:  # cannot happen for missing_coordinates rows; be safe
        raise InputError(f"row {source_row}: category {cell(i, 'category')!r} is unknown")
    row: dict[str, Any] = {
        "facility_id": fid,
        "name": name,
        "category": category,
        "tier": CATEGORIES[category].tier,
        "address": cell(i, "address").strip() or None,
    }
    issues: list[dict[str, Any]] = []
    for canonical in CAPACITY_FIELDS:
        text = cell(i, canonical)
        value, problem = capacity_value(text, canonical)
        if problem is not None:
            where = "feature" if kind == "feature" else "row"
            zh, en = capacity_problem_text(canonical, problem)
            warnings.warn(
                f"{where} {source_row}: {cols[canonical]!r} ({canonical}) {text!r} is {en}; read "
                f"as missing (NaN). 该单元格{zh}，按缺失处理。",
                DataQualityWarning,
                stacklevel=4,
            )
            issues.append(
                {
                    "source_row": source_row,
                    "facility_id": fid,
                    "name": name,
                    "field": canonical,
                    "column": cols[canonical],
                    "value": text,
                    "problem": problem,
                }
            )
        row[canonical] = value
    for attribute, parse in (("grade", parse_grade), ("ownership", parse_ownership)):
        row[attribute] = parse(cell(i, attribute)) if attribute in cols else None
    row.update(
        {
            "coord_source": "geocoded",
            "source_row": source_row,
            "geocode_precision": str(answer["geocode_precision"]),
            "geocode_provider": provider,
            "geocode_matched": str(answer["matched_name"]),
            "geometry": shapely.Point(float(answer["lon"]), float(answer["lat"])),
        }
    )
    return row, issues
