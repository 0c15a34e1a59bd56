"""Self-contained, offline HTML coverage maps (the only module that imports folium).

:func:`coverage_map` builds a :class:`folium.Map` with one toggleable layer per theme:
boundary, per-rule travel-time bands on the streets, uncovered residents, ranked gap areas and
the share covered per unit, and the facilities by category, with a legend in one language
(``lang="zh"`` or ``"en"``; every UI string comes from one table, :data:`UI_STRINGS`).
:func:`save_map` writes it as one HTML file that loads nothing from the network: Leaflet's JS
and CSS (from ``xstatic-leaflet``) are inlined and folium's other CDN resources (jQuery,
Bootstrap, Awesome Markers, Font Awesome) are dropped — the map uses only Leaflet primitives
(circle markers, polylines, polygons, div icons), so it needs none of them. The only URLs a
map may hold are the tile templates of a basemap chosen explicitly (:data:`BASEMAPS`); for
Amap's GCJ-02 tiles every overlay coordinate is shifted from WGS84 to GCJ-02 first.

Every user-supplied string (names, addresses, titles, notes, attribution) is HTML-escaped
before it reaches a popup, tooltip, layer name or the legend, or set as text by the browser.
The data of the layers is embedded as arrays of integers and drawn by a few lines of
JavaScript (``data/map/layers.js``): street geometry once, delta-encoded, and per rule only a
band code per street; gap areas and uncovered residents as numbers, their tooltips and popups
built when opened from a table of names and the map's UI strings; uncovered residents summed
into coarser cells when zoomed out. A county with 100k streets stays a file a browser opens.

The map's own styles and layer helpers (``data/map/map.css``, ``layers.js``, ``features.js``)
and the interface around it (``data/map/ui.js`` and ``ui.css``), all inlined, are files beside
the code, not strings in it. The interface shows one rule at
a time through a rule switcher, keeps the legend and the layer list one tap away on a phone
(bottom sheets behind two buttons) and floating beside the map on a desktop, and has a static
layout for the report and for print, with the legend beside or below the map.

Hooks for tests and report images: ``window.gpMap`` (the ``L.Map``), ``window.gpLayers``
(stable keys such as ``bands:<rule_id>`` → layer), and the URL fragment
``#rule=<rule_id>&static=1`` (one rule's overlays only; ``static``: the static layout).
"""

from __future__ import annotations

import base64
import copy
import functools
import html
import json
import logging
import math
import re
from collections.abc import Mapping, Sequence
from html.parser import HTMLParser
from importlib import resources
from itertools import zip_longest
from pathlib import Path

import folium
import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import shapely
from branca.element import Element, Figure, MacroElement
from jinja2 import Template

from .._io import write_text
from ..analysis.coverage import column
from ..analysis.streets import band_edges_min
from ..coords import wgs84_to_gcj02
from ..errors import InputError
from ..messages import PRECISION_ZH
from ..taxonomy import CATEGORIES, GROUP_LABELS, TIER_LABELS
from .map_options import BASEMAPS, LANGS, Basemap

logger = logging.getLogger(__name__)

__all__ = [
    "AREA_COLOURS",
    "BAND_COLOURS",
    "BASEMAPS",
    "COMPACT_MEDIA",
    "GROUP_COLOURS",
    "LANGS",
    "MAX_RANK_LABELS",
    "UI_STRINGS",
    "UNIT_SHARE_CLASSES",
    "Basemap",
    "FeatureLayer",
    "aggregate_facilities",
    "check_offline",
    "coverage_map",
    "feature_map",
    "map_html",
    "save_map",
]

_HTML_LANG = {"zh": "zh-CN", "en": "en"}

BAND_COLOURS: tuple[str, ...] = ("#006837", "#66bd63", "#f59d3d", "#d73027", "#8c8c8c")
"""Street colours: ≤ ⅓ threshold, ≤ ⅔, ≤ threshold, > threshold, unreachable."""
_BAND_DRAW_ORDER = (4, 0, 1, 2, 3)  # unreachable at the bottom, beyond-threshold on top
_NOT_DRAWN = 5  # band code of streets a rule's mode may not use

GROUP_COLOURS: dict[str, str] = {
    "medical": "#1f5aa6",
    "fitness": "#e66101",
    "ems": "#01857a",
    "public_health": "#8c6d31",
    "childcare": "#6a51a3",
    "elderly_care": "#4d9221",
}
_OTHER_COLOUR = "#555555"
AREA_COLOURS: tuple[str, ...] = ("#08306b", "#08519c", "#2171b5", "#4292c6", "#6baed6", "#9ecae1")
"""Service-area fills from the shortest band (darkest) to the longest."""
_UNCOVERED_COLOUR = "#c51b7d"
_UNREACHABLE_COLOUR = "#1a1a1a"  # residents from whom no facility can be reached: a black ring
_GAP_COLOUR = "#7a0177"
_BOUNDARY_COLOUR = "#3a3a3a"
_BACKGROUND = "#ebe8e1"

UNIT_SHARE_CLASSES: tuple[tuple[float, str, str], ...] = (
    (0.0, "< 50%", "#a6611a"),
    (0.5, "50–80%", "#dfc27d"),
    (0.8, "80–95%", "#80cdc1"),
    (0.95, "95–<100%", "#35978f"),
    (1.0, "100%", "#01665e"),
)
"""Choropleth of the share covered per unit: (lower bound 0..1, label, fill colour)."""
_NO_RESIDENTS_COLOUR = "#bdbdbd"
_SHARE_EPS = 1e-9  # a share within this of a class bound counts as reaching it

MAX_RANK_LABELS = 10
"""Gap areas ranked this high or better get a marker with rank and uncovered population."""
_MAX_RADIUS_PX = 10.0
_MIN_RADIUS_PX = 1.5
_SIMPLIFY_M = 1.0  # street/boundary simplification tolerance in a projected CRS
_SIMPLIFY_DEG = 1e-5  # ... and in degrees when the input is geographic
_AREA_SIMPLIFY_M = 2.0  # service areas (a 50 m buffer): 2 m is 4 % of its width
_FONT = '"Noto Sans CJK SC", "Source Han Sans SC", "PingFang SC", "Microsoft YaHei", sans-serif'
COMPACT_MEDIA = "(max-width: 800px), (max-height: 520px)"
"""Screens that get the compact layout (phones upright or sideways, small tablets): the map
fills the screen and the legend and the layer list are bottom sheets behind two buttons."""

# --------------------------------------------------------------------------- UI strings

UI_STRINGS: dict[str, tuple[str, str]] = {
    "boundary": ("边界", "Boundary"),
    "data": ("数据", "Data"),
    "share_heading": ("人口覆盖率", "Share of population covered"),
    "target_paren": ("（目标 {pct}）", " (target {pct})"),
    "bands_heading": ("街道至最近设施的出行时间", "Travel time to the nearest facility (streets)"),
    "band_le": ("≤ {m} 分钟", "≤ {m} min"),
    "band_within": ("≤ {m} 分钟（阈值内）", "≤ {m} min (within threshold)"),
    "band_beyond": ("> {m} 分钟（超出阈值）", "> {m} min (beyond threshold)"),
    "unreachable": ("不可达", "unreachable"),
    "symbols": ("符号", "Symbols"),
    "other_facilities": ("其他设施", "other facilities"),
    "unreachable_symbol": (
        "不可达居民（无法到达任何设施）",
        "unreachable residents (no facility can be reached)",
    ),
    "unreachable_paren": ("（不可达 {pop}人）", " ({pop} unreachable)"),
    "uncovered_symbol": (
        "未覆盖人口（圆面积∝人口）",
        "uncovered residents (circle area ∝ people)",
    ),
    "gap_symbol": (
        "缺口区域；前 {n} 名标注排名与未覆盖人口",
        "gap area; the top {n} labelled with rank and uncovered residents",
    ),
    "units_heading": ("各单元人口覆盖率", "Share of residents covered per unit"),
    "no_residents": ("无人口", "no residents"),
    "layer_bands": ("街道出行时间分段", "Travel-time bands on the streets"),
    "layer_uncovered": ("未覆盖人口", "Uncovered residents"),
    "layer_gaps": ("缺口区域排名", "Ranked gap areas"),
    "layer_units": ("各单元覆盖率", "Share covered per unit"),
    "layer_areas": ("服务范围", "Service areas"),
    "areas_heading": (
        "服务范围（{per}；可达街道两侧 {w} 米，仅供展示）",
        "Service areas ({per}; {w} m either side of the streets reached; display only)",
    ),
    "areas_per_facility": ("每个设施", "per facility"),
    "areas_per_catchment": ("每个设施的片区", "per facility's catchment"),
    "areas_per_category": ("每类设施", "per category"),
    "areas_per_rule": ("全部设施", "all facilities"),
    "area_km2": ("面积", "area"),
    "km2": ("{a} 平方公里", "{a} km²"),
    "population_inside": ("范围内人口", "residents inside"),
    "population_within": ("时间内可达人口", "residents within the time"),
    "band": ("时间段", "band"),
    "layer_facilities": ("设施：{category}（{n}）", "Facilities: {category} ({n})"),
    "layer_basemap": ("底图：{name}", "Basemap: {name}"),
    "category": ("类别", "category"),
    "tier": ("级别", "tier"),
    "address": ("地址", "address"),
    "beds": ("床位", "beds"),
    "doctors": ("医生", "doctors"),
    "nurses": ("护士", "nurses"),
    "facility_id": ("编号", "ID"),
    "position": ("位置来源", "position"),
    "geocoded": (
        "按地址地理编码（{precision}级，匹配：{matched}）",
        "geocoded from the address ({precision} precision; matched {matched})",
    ),
    "geocoded_tip": ("地理编码位置", "geocoded position"),
    "converted": ("由 {crs} 坐标换算为 WGS84", "converted from {crs} to WGS84"),
    "cell_title": ("本格 {n} 个设施（汇总显示）", "{n} facilities in this cell (aggregated)"),
    "n_facilities": ("设施数", "facilities"),
    "names": ("名称", "names"),
    "capacity_sum": ("{what}（合计）", "{what} (total)"),
    "rule": ("覆盖规则", "rule"),
    "population": ("人口", "population"),
    "median_time": ("中位出行时间", "median travel time"),
    "nearest": ("最近设施", "nearest facility"),
    "unit": ("所在单元", "unit"),
    "share_covered": ("覆盖率", "share covered"),
    "target": ("目标", "target"),
    "gap_title": (
        "缺口 #{rank}（按未覆盖人口排名）",
        "Gap #{rank} (ranked by uncovered residents)",
    ),
    "gap_tooltip": ("缺口 #{rank}：{pop}人", "Gap #{rank}: {pop} people"),
    "people": ("{pop}人", "{pop} people"),
    "minutes": ("{m} 分钟", "{m} min"),
    "uncovered_tip": ("未覆盖人口：", "Uncovered residents: "),
    "cell_sum": ("{m} 米网格内合计", "total of a {m} m cell"),
    "cell_sum_about": (
        "约 {m} 米网格内合计（放大查看细节）",
        "total of a cell of about {m} m (zoom in for detail)",
    ),
    "to_nearest": ("至最近设施：", "To the nearest facility: "),
    "threshold": ("{rule}（阈值 {m} 分钟）", "{rule} (threshold {m} min)"),
    "banner": (
        "假设情景：图中设施并非真实设施",
        "Hypothetical scenario: the facilities shown are not real",
    ),
    "rule_pick": ("覆盖规则", "Coverage rule"),
    "legend_button": ("图例", "Legend"),
    "layers_button": ("图层", "Layers"),
    "close": ("关闭", "Close"),
    "crs_none": ("无底图（离线）", "No basemap (offline)"),
    "crs_osm": (
        "底图：OpenStreetMap（WGS84），图层未偏移",
        "Basemap: OpenStreetMap (WGS84); overlays unshifted",
    ),
    "crs_tianditu": (
        "底图：天地图（CGCS2000，与 WGS84 相差 1 米以内），图层未偏移",
        "Basemap: Tianditu (CGCS2000, within a metre of WGS84); overlays unshifted",
    ),
    "crs_amap": (
        "底图：高德地图（GCJ-02），图层已由 WGS84 转换为 GCJ-02 以对齐底图",
        "Basemap: Amap (GCJ-02); overlays shifted from WGS84 to GCJ-02 to match it",
    ),
}
"""Every UI text of the maps: key → (Chinese, English); ``{name}`` fields are filled in."""


def _t(key: str, lang: str | None, **values: object) -> str:
    """UI string ``key`` in ``lang`` (``None``: "中文 / English"), fields filled, not escaped."""
    zh, en = UI_STRINGS[key]
    if lang is None:
        return f"{zh.format(**values)} / {en.format(**values)}"
    return (zh if lang == "zh" else en).format(**values)


def _pick(pair: Sequence[str], lang: str | None) -> str:
    """``(zh, en)`` → the one for ``lang`` ("zh / en" when ``lang`` is None)."""
    zh, en = pair
    if lang is None:
        return f"{zh} / {en}" if zh != en else zh
    return zh if lang == "zh" else en


def _colon(lang: str | None) -> str:
    return "：" if lang in ("zh", None) else ": "


def _check_lang(lang: object) -> str:
    if lang not in LANGS:
        raise InputError(f"map language must be one of {', '.join(LANGS)}, got {lang!r}")
    return str(lang)


# --------------------------------------------------------------------------- basemaps


_KEY = re.compile(r"^[A-Za-z0-9_-]{1,128}$")


def _basemap(name: str | None, key: str | None) -> Basemap:
    """The chosen :class:`Basemap`; a missing or malformed key is an :class:`InputError`."""
    spec = BASEMAPS.get("none" if name is None else str(name))
    if spec is None:
        raise InputError(f"basemap must be one of {', '.join(BASEMAPS)}, got {name!r}")
    if spec.needs_key:
        if not key:
            raise InputError(
                f"basemap {spec.key!r} needs a key: set GEOPLAN_TIANDITU_KEY (or the variable "
                "named by [map] basemap_key_env) or pass basemap_key"
            )
        if not _KEY.match(str(key)):
            raise InputError(f"the {spec.key} key must be letters, digits, '_' or '-' only")
    return spec


# --------------------------------------------------------------------------- small helpers


def _e(value: object) -> str:
    """HTML-escape any value as text; ``{`` too, so Jinja never reads ``{{``/``{%`` in it.

    folium's layer control is rendered by Jinja and its output compiled as a template once
    more (branca), so a layer name such as ``{{ 7*7 }}`` would otherwise be evaluated.
    """
    return html.escape(str(value), quote=True).replace("{", "&#123;")


def _js(value: object) -> str:
    """Compact JSON that is safe inside an HTML ``<script>`` element: no ``<`` at all (a name
    such as ``</script><img …>`` reaches the page only as ``\\u003c/script>…``)."""
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    return text.replace("<", "\\u003c").replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")


def _missing(value: object) -> bool:
    if value is None:
        return True
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


def _fmt_num(value: object) -> str:
    """A count for a popup: integral floats without decimals, NaN as a dash."""
    if _missing(value):
        return "—"
    try:
        number = float(value)
    except (TypeError, ValueError):
        return str(value)
    if not math.isfinite(number):
        return "—"
    return f"{number:,.0f}" if number.is_integer() else f"{number:,.1f}"


def _fmt_people(value: object) -> str:
    """Residents as a whole number with thousands separators (estimates carry no decimals)."""
    if _missing(value) or not math.isfinite(float(value)):
        return "—"
    return f"{round(float(value)):,}"


def _fmt_pct(share: object) -> str:
    """0.873 → ``87.3%``, 1.0 → ``100%``; NaN → ``—``."""
    if _missing(share):
        return "—"
    text = f"{float(share) * 100:.1f}".rstrip("0").rstrip(".")
    return f"{text}%"


def _fmt_min(minutes: float) -> str:
    return f"{minutes:g}" if float(minutes).is_integer() else f"{minutes:.1f}"


def _to_wgs84(frame: gpd.GeoDataFrame, what: str) -> gpd.GeoDataFrame:
    """``frame`` in EPSG:4326; a frame without CRS is accepted only if it looks like lon/lat."""
    if frame.crs is None:
        if len(frame) == 0:
            return frame.set_crs(4326)
        minx, miny, maxx, maxy = frame.total_bounds
        if -180 <= minx <= maxx <= 180 and -90 <= miny <= maxy <= 90:
            return frame.set_crs(4326)
        raise InputError(f"{what} has no CRS and its coordinates are not longitude/latitude")
    return frame.to_crs(4326)


def _require(frame: gpd.GeoDataFrame, columns: Sequence[str], what: str) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise InputError(f"{what} lacks column(s) {', '.join(missing)}")


def _gcj02_xy(xy: np.ndarray) -> np.ndarray:
    lon, lat = wgs84_to_gcj02(xy[:, 0], xy[:, 1])
    return np.column_stack([lon, lat])


def _simplified(geoms: gpd.GeoSeries, tolerance_m: float = _SIMPLIFY_M) -> gpd.GeoSeries:
    """``geoms`` simplified by about ``tolerance_m`` metres (in their own CRS).

    Passed over, as they have no vertex to remove: two-point lines (most street segments) and
    axis-aligned rectangles whose sides are over four tolerances (gap cells): a corner is at
    least side/√2 from the chord of its neighbours.
    """
    if not len(geoms):
        return geoms
    projected = geoms.crs is not None and geoms.crs.is_projected
    tolerance = tolerance_m if projected else _SIMPLIFY_DEG * tolerance_m / _SIMPLIFY_M
    values = np.asarray(geoms.values)
    kind, n = shapely.get_type_id(values), shapely.get_num_coordinates(values)
    bare = (kind == 1) & (n <= 2)
    four = np.flatnonzero((kind == 3) & (n == 5))  # polygons of four corners, no hole
    if len(four):
        x0, y0, x1, y1 = shapely.bounds(values[four]).T
        rectangle = np.isclose(shapely.area(values[four]), (x1 - x0) * (y1 - y0), rtol=1e-9)
        bare[four[rectangle & (np.minimum(x1 - x0, y1 - y0) > 4 * tolerance)]] = True
    if not bare.any():
        return geoms.simplify(tolerance, preserve_topology=True)
    out = values.copy()
    out[~bare] = shapely.simplify(values[~bare], tolerance, preserve_topology=True)
    return gpd.GeoSeries(out, index=geoms.index, crs=geoms.crs)


def _lonlat(coords: np.ndarray, crs, *, gcj02: bool) -> np.ndarray:
    """``(x, y)`` rows in ``crs`` as drawn: lon/lat rows, shifted to GCJ-02 if asked (as
    :func:`_display` moves geometries, without building them)."""
    if len(coords) and not pyproj.CRS.from_user_input(crs).equals(4326):
        to_4326 = pyproj.Transformer.from_crs(crs, 4326, always_xy=True)
        coords = np.column_stack(to_4326.transform(coords[:, 0], coords[:, 1]))
    return _gcj02_xy(coords) if gcj02 and len(coords) else coords


def _display(
    geoms: gpd.GeoSeries, *, gcj02: bool, simplify: bool = False, tolerance_m: float = _SIMPLIFY_M
) -> gpd.GeoSeries:
    """Geometries as drawn: simplified (≈``tolerance_m``) if asked, lon/lat, shifted to GCJ-02
    if asked.

    ``geoms`` must have a CRS; the result is labelled EPSG:4326 even when shifted.
    """
    if simplify:
        geoms = _simplified(geoms, tolerance_m)
    geoms = geoms.to_crs(4326)
    if gcj02 and len(geoms):
        shifted = shapely.transform(np.asarray(geoms.values), _gcj02_xy)
        geoms = gpd.GeoSeries(shifted, index=geoms.index, crs=4326)
    return geoms


def _drawable(frame: gpd.GeoDataFrame, what: str) -> gpd.GeoDataFrame:
    """``frame`` with a CRS (lon/lat if it has none, :func:`_to_wgs84`), without missing or
    empty geometries."""
    if frame.crs is None:
        frame = _to_wgs84(frame, what)
    return frame[~(frame.geometry.isna() | frame.geometry.is_empty)]


def _display_frame(
    frame: gpd.GeoDataFrame,
    what: str,
    *,
    gcj02: bool,
    simplify: bool = False,
    tolerance_m: float = _SIMPLIFY_M,
) -> gpd.GeoDataFrame:
    """``frame`` without empty geometries, its geometry as drawn (see :func:`_display`)."""
    frame = _drawable(frame, what)
    shown = _display(frame.geometry, gcj02=gcj02, simplify=simplify, tolerance_m=tolerance_m)
    return gpd.GeoDataFrame(frame.drop(columns=frame.geometry.name), geometry=shown)


def _geojson_geometries(geoms: gpd.GeoSeries) -> list[dict | None]:
    """GeoJSON geometry per geometry, coordinates rounded to 6 decimals (about 0.1 m).

    ``None`` for a missing or empty geometry. One rounding pass over all coordinates.
    """
    rounded = shapely.transform(np.asarray(geoms.values), lambda c: np.round(c, 6))
    skip = shapely.is_missing(rounded) | shapely.is_empty(rounded)
    # polygons without holes (gap cells, units): their rings at once, as mapping() gives them
    # (lists for tuples: the same JSON)
    simple = ~skip & (shapely.get_type_id(rounded) == 3) & ~shapely.has_z(rounded)
    simple[simple] = shapely.get_num_interior_rings(rounded[simple]) == 0
    shapes = [
        None if s or fast else shapely.geometry.mapping(g)
        for g, s, fast in zip(rounded.tolist(), skip.tolist(), simple.tolist(), strict=True)
    ]
    if simple.any():
        where = np.flatnonzero(simple)
        coords, index = shapely.get_coordinates(rounded[where], return_index=True)
        rings = np.split(coords, np.flatnonzero(np.diff(index)) + 1)
        for k, ring in zip(where.tolist(), rings, strict=True):
            shapes[k] = {"type": "Polygon", "coordinates": [ring.tolist()]}
    return shapes


def _category_label(key: object, lang: str | None) -> tuple[str, str]:
    """``(name, group)`` of a category key in ``lang``; the key itself when unknown."""
    cat = CATEGORIES.get(str(key))
    if cat is None:
        return str(key), ""
    return _pick((cat.name_zh, cat.name_en), lang), cat.group


def _tier_label(tier: object, lang: str) -> str:
    if _missing(tier) or str(tier) == "":
        return "—"
    if str(tier) in TIER_LABELS:
        return _pick(TIER_LABELS[str(tier)], lang)
    return str(tier)


def _rule_name(rule: Mapping, lang: str) -> str:
    return str(rule.get(f"name_{lang}", ""))


def _group_colour(group: str) -> str:
    return GROUP_COLOURS.get(group, _OTHER_COLOUR)


def _swatch_dot(colour: str, *, size: int = 10, border: str = "#fff") -> str:
    return (
        f'<span class="gp-dot" style="background:{colour};width:{size}px;height:{size}px;'
        f'border-color:{border}"></span>'
    )


def _swatch_ring() -> str:
    """The legend symbol of unreachable residents: a black ring."""
    return (
        f'<span class="gp-dot" style="width:9px;height:9px;background:#fff;'
        f'border:2.5px solid {_UNREACHABLE_COLOUR};box-shadow:none"></span>'
    )


def _swatch_line(colour: str, *, dashed: bool = False, width: int = 3) -> str:
    style = "dashed" if dashed else "solid"
    return f'<span class="gp-line" style="border-top:{width}px {style} {colour}"></span>'


def _swatch_area(colour: str) -> str:
    return (
        f'<span class="gp-area" style="background:{colour};opacity:0.55;'
        f'border:1.5px solid {colour}"></span>'
    )


def _legend_row(symbol: str, label: str) -> str:
    """One legend row: a symbol (HTML) and an already escaped label."""
    return f'<div class="gp-row"><span class="gp-sym">{symbol}</span><span>{label}</span></div>'


def _band_edges(threshold_min: float) -> tuple[float, ...]:
    return band_edges_min(threshold_min)


def _band_codes(minutes: np.ndarray, threshold_min: float) -> np.ndarray:
    """Band index per street: 0..2 within the threshold, 3 beyond, 4 unreachable."""
    minutes = np.asarray(minutes, dtype=float)
    a, b, c = _band_edges(threshold_min)
    codes = np.full(len(minutes), 4, dtype=np.int8)
    finite = np.isfinite(minutes)
    codes[finite] = 3
    codes[finite & (minutes <= c)] = 2
    codes[finite & (minutes <= b)] = 1
    codes[finite & (minutes <= a)] = 0
    return codes


def _band_labels(thresholds: Sequence[float], lang: str) -> list[str]:
    """Labels of the five bands; several thresholds are joined with ``|``."""
    ts = sorted({float(t) for t in thresholds}) or [15.0]

    def join(k: int) -> str:
        return " | ".join(_fmt_min(_band_edges(t)[k]) for t in ts)

    return [
        _t("band_le", lang, m=join(0)),
        _t("band_le", lang, m=join(1)),
        _t("band_within", lang, m=join(2)),
        _t("band_beyond", lang, m=join(2)),
        _t("unreachable", lang),
    ]


def _area_colour(k: int, bands: Sequence[Sequence[float]]) -> str:
    """Fill of band ``k`` (0 = the shortest) when the longest rule has ``n`` bands."""
    n = max((len(b) for b in bands), default=1)
    step = (len(AREA_COLOURS) - 1) / max(n - 1, 1)
    return AREA_COLOURS[min(len(AREA_COLOURS) - 1, round(k * step))]


def _area_labels(bands: Sequence[Sequence[float]], lang: str) -> list[str]:
    """Legend labels of the service-area bands; rules' different minutes joined with ``|``."""
    n = max((len(b) for b in bands), default=0)
    labels = []
    for k in range(n):
        minutes = sorted({float(b[k]) for b in bands if k < len(b)})
        labels.append(_t("band_le", lang, m=" | ".join(_fmt_min(m) for m in minutes)))
    return labels


def _area_data(areas: gpd.GeoDataFrame, rule_id: str, bands, lang: str) -> dict[str, list]:
    """A rule's service areas (``areas`` as drawn, :func:`_display_frame`) for ``gpAreas``,
    the longest band first so that shorter ones lie on top: ``shapes`` (:func:`_encode_shapes`)
    and ``rows`` of ``[band index, tooltip, popup]``."""
    mine = areas[areas["rule_id"] == rule_id]
    index = {float(b): k for k, b in enumerate(bands)}
    mine = mine.assign(_k=[index[float(b)] for b in mine["band_min"]])
    mine = mine.sort_values("_k", ascending=False, kind="stable")
    rows = []
    for _, row in mine.iterrows():
        band = _t("band_le", lang, m=_fmt_min(float(row["band_min"])))
        name = str(row["name"])
        if row["per"] == "category" and "category" in row:
            name = _category_label(row["category"], lang)[0]
        fields = [
            ("band", band),
            ("area_km2", _t("km2", lang, a=f"{float(row['area_km2']):.2f}")),
            ("population_inside", _t("people", lang, pop=_fmt_people(row["population_inside"]))),
            ("population_within", _t("people", lang, pop=_fmt_people(row["population_within"]))),
        ]
        if row["per"] in ("facility", "catchment"):
            fields.append(("facility_id", row["facility_id"]))
        rows.append([int(row["_k"]), _e(f"{name}: {band}"), _popup(name, fields, lang)])
    return {"shapes": _encode_shapes(mine.geometry), "rows": rows}


def _share_colours(share: np.ndarray) -> list[str]:
    """Fill colour per unit from its share covered (:data:`UNIT_SHARE_CLASSES`; NaN grey)."""
    share = np.asarray(share, dtype=float)
    bounds = np.array([c[0] for c in UNIT_SHARE_CLASSES[1:]]) - _SHARE_EPS
    index = np.searchsorted(bounds, np.nan_to_num(share, nan=0.0), side="right")
    colours = [UNIT_SHARE_CLASSES[i][2] for i in index.tolist()]
    return [
        _NO_RESIDENTS_COLOUR if math.isnan(s) else c for s, c in zip(share, colours, strict=True)
    ]


# --------------------------------------------------------------------------- map elements


class _Verbatim(Element):
    """Markup put into the page as it is (branca's ``Element(text)`` compiles it as Jinja)."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self._text = text

    def render(self, **kwargs) -> str:
        # Jinja drops one trailing newline of a template; keep the page as it was.
        return self._text.removesuffix("\n")


class _Macro(MacroElement):
    """A :class:`MacroElement` whose rendered macros go into the page verbatim.

    branca's ``MacroElement.render`` wraps each macro's output in ``Element(output)``, which
    compiles that output as a Jinja template once more: the layer data (megabytes for a
    county) would be lexed by Jinja, and ``{{ … }}`` in a name would be evaluated.
    """

    def render(self, **kwargs) -> None:
        figure = self.get_root()
        if not isinstance(figure, Figure):
            raise RuntimeError("a map element can only be rendered inside a folium Figure")
        module = self._template.module
        for part in ("header", "html", "script"):
            macro = getattr(module, part, None)
            if macro is not None:
                section = getattr(figure, part)
                section.add_child(_Verbatim(macro(self, kwargs)), name=self.get_name())
        for element in self._children.values():
            element.render(**kwargs)


class _Script(_Macro):
    """A JavaScript snippet in the map script; the parent layer is the variable ``parent``."""

    _template = Template("{% macro script(this, kwargs) %}{{ this.code() }}{% endmacro %}")

    def __init__(self, code: str, *, wrap: bool = True) -> None:
        super().__init__()
        self._name = "GeoplanScript"
        self._code = code
        self._wrap = wrap

    def code(self) -> str:
        if not self._wrap:
            return self._code
        return f"(function (parent) {{\n{self._code}\n}})({self._parent.get_name()});"


class _Setup(_Macro):
    """Panes, helpers, scale bar, attribution, the interface's HTML; language and tiles.

    ``lang`` becomes ``<html lang>`` and ``tile_urls`` are the only URL templates
    :func:`map_html` lets through (see :func:`check_offline`).
    """

    _template = Template(
        """
{% macro header(this, kwargs) %}
<style>
{{ this.css }}
</style>
<script>
{{ this.helpers }}
gpEarlyLayout({{ this.compact }});
</script>
{% endmacro %}
{% macro html(this, kwargs) %}
{{ this.body_html }}
{% endmacro %}
{% macro script(this, kwargs) %}
(function (map) {
    map.createPane("gpBoundary").style.zIndex = 340;
    map.createPane("gpUnits").style.zIndex = 350;
    map.createPane("gpBands").style.zIndex = 360;
    map.attributionControl.setPrefix("Leaflet");
    {%- for text in this.attribution %}
    map.attributionControl.addAttribution({{ text }});
    {%- endfor %}
    L.control.scale({position: "bottomright", imperial: false, maxWidth: 160}).addTo(map);
})({{ this._parent.get_name() }});
{% endmacro %}
"""
    )

    def __init__(
        self,
        *,
        body_html: str,
        attribution: Sequence[str],
        lang: str | None,
        tile_urls: Sequence[str] = (),
    ) -> None:
        super().__init__()
        self._name = "GeoplanSetup"
        self.body_html = body_html
        self.attribution = [_js(_e(a)) for a in attribution]
        self.css = _asset("map.css", **_CSS_VALUES) + _asset("ui.css")
        self.helpers = _asset("layers.js", **_JS_VALUES) + _asset("ui.js")
        self.compact = _js(COMPACT_MEDIA)
        self.lang = _HTML_LANG.get(lang or "zh", "zh-CN")
        self.tile_urls = tuple(tile_urls)


class _KeepInFront(_Macro):
    """Keep facility layers on top and unit hit areas at the bottom when overlays change.

    Runs on ``overlayadd`` (the layer control) and ``gpreorder`` (the URL fragment).
    """

    _template = Template(
        """
{% macro script(this, kwargs) %}
(function (map, front, back) {
    map.on("overlayadd gpreorder", function () {
        back.forEach(function (g) { if (map.hasLayer(g)) { g.bringToBack(); } });
        front.forEach(function (g) { if (map.hasLayer(g)) { g.bringToFront(); } });
    });
})({{ this._parent.get_name() }}, [{% for g in this.front %}{{ g.get_name() }},{% endfor %}],
   [{% for g in this.back %}{{ g.get_name() }},{% endfor %}]);
{% endmacro %}
"""
    )

    def __init__(
        self, front: Sequence[folium.FeatureGroup], back: Sequence[folium.FeatureGroup] = ()
    ) -> None:
        super().__init__()
        self._name = "GeoplanKeepInFront"
        self.front = list(front)
        self.back = list(back)


class _Interface(_Macro):
    """The page's interface, ``gpInterface`` of ``data/map/ui.js``.

    ``window.gpMap``, ``window.gpLayers`` (``layers``: stable key → layer group), the rule
    switcher showing one rule's overlays at a time (``#rule=<id>`` too), the legend and layer
    panels (floating cards on a desktop, bottom sheets on a phone), the static print layout
    (``&static=1``), and fitting ``bounds`` into the part of the map no panel covers.
    :func:`feature_map` keys its layers ``boundary`` and ``features:<index>`` (no rules).
    """

    _template = Template(
        """
{% macro script(this, kwargs) %}
gpInterface({{ this._parent.get_name() }}, {{ this.control.get_name() }}, {{ this.layers_js() }},
            {{ this.rules }}, {{ this.bounds }}, {{ this.options }});
{% endmacro %}
"""
    )

    def __init__(
        self,
        control: folium.LayerControl,
        layers: Mapping[str, folium.FeatureGroup],
        rule_ids: Sequence[str],
        bounds: list[list[float]] | None,
    ) -> None:
        super().__init__()
        self._name = "GeoplanInterface"
        self.control = control
        self.layers = dict(layers)
        self.rules = _js(list(rule_ids))
        self.bounds = _js(
            None if bounds is None else [[round(v, 6) for v in corner] for corner in bounds]
        )
        self.options = _js({"compact": COMPACT_MEDIA})

    def layers_js(self) -> str:
        items = ",".join(f"{_js(key)}:{group.get_name()}" for key, group in self.layers.items())
        return "{" + items + "}"


def _asset(name: str, **values: object) -> str:
    """A file of ``geoplan/data/map/`` (the maps' CSS and JavaScript) as text, its
    ``%NAME%`` placeholders filled in from ``values``."""
    text = _asset_text(name)
    for key, value in values.items():
        text = text.replace(f"%{key}%", str(value))
    left = re.findall(r"%[A-Z_]+%", text)
    if left:
        raise RuntimeError(f"{name}: placeholders {sorted(set(left))} not filled in")
    return text


@functools.cache
def _asset_text(name: str) -> str:
    text = resources.files("geoplan").joinpath("data", "map", name).read_text(encoding="utf-8")
    if re.search(r"</(?:script|style)", text, re.I):
        raise RuntimeError(f"{name} cannot be inlined (it contains a closing tag)")
    return text


_CSS_VALUES = {"FONT": _FONT, "BACKGROUND": _BACKGROUND, "GAP_COLOUR": _GAP_COLOUR}

_JS_VALUES = {"MIN": _MIN_RADIUS_PX, "MAX": _MAX_RADIUS_PX}

_JS_TEXTS = (
    "uncovered_tip",
    "to_nearest",
    "minutes",
    "unreachable",
    "cell_sum",
    "cell_sum_about",
    "gap_title",
    "gap_tooltip",
    "people",
    "rule",
    "population",
    "median_time",
    "nearest",
    "unit",
)
"""UI strings the layers' JavaScript fills in (``{name}`` fields and all) for the tooltips
and popups it builds from numbers (``gp_text_*``, one language per map)."""


# --------------------------------------------------------------------------- layers


def _parts(geoms: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``shapely.get_parts(geoms, return_index=True)``, without copying every geometry when
    none has several parts (Wuhan's 92,667 streets: 0.003 s instead of 0.075–0.085 s)."""
    single = np.isin(shapely.get_type_id(geoms), (0, 1, 2, 3))  # not multi, not missing
    if single.all():
        return geoms, np.arange(len(geoms))
    return shapely.get_parts(geoms, return_index=True)


def _encode_lines(
    geoms: gpd.GeoSeries, *, gcj02: bool = False
) -> tuple[dict[str, list[int]], np.ndarray]:
    """Lines (any CRS) as drawn (:func:`_lonlat`) in numbers for ``gpDecodeLines``, and each
    line part's row.

    ``verts``: vertices per part (MultiLineStrings become several parts of the same row);
    ``lat``, ``lon``: every vertex in 1e-6 degrees, delta-encoded over the whole sequence
    (:func:`_lat_lon`).
    """
    parts, row = _parts(np.asarray(geoms.values))
    keep = ~shapely.is_empty(parts)
    parts, row = parts[keep], row[keep]
    coords, which = shapely.get_coordinates(parts, return_index=True)
    verts = np.bincount(which, minlength=len(parts)).tolist()
    return {"verts": verts, **_lat_lon(_lonlat(coords, geoms.crs, gcj02=gcj02))}, row


def _boundary_layer(
    boundary: gpd.GeoDataFrame, lang: str | None, *, fill_opacity: float = 0.65
) -> folium.FeatureGroup:
    """The study area outline (``boundary`` as drawn, see :func:`_display_frame`)."""
    group = folium.FeatureGroup(name=_e(_t("boundary", lang)), show=True)
    features = [g for g in _geojson_geometries(boundary.geometry) if g]
    style = {
        "color": _BOUNDARY_COLOUR,
        "weight": 2,
        "dashArray": "6 4",
        "fill": fill_opacity > 0,
        "fillColor": "#ffffff",
        "fillOpacity": fill_opacity,
    }
    data = {"type": "GeometryCollection", "geometries": features}
    code = (
        f"var style = {_js(style)};\n"
        f"L.geoJSON({_js(data)}, {{style: function () {{ return style; }}, "
        'pane: "gpBoundary", interactive: false}).addTo(parent);'
    )
    group.add_child(_Script(code))
    return group


def _basemap_layer(spec: Basemap, key: str | None, lang: str) -> folium.FeatureGroup:
    """The basemap's tile layers in one group (an overlay of the layer control)."""
    group = folium.FeatureGroup(
        name=_e(_t("layer_basemap", lang, name=_pick(spec.name, lang))), show=True
    )
    options: dict = {"maxNativeZoom": spec.max_native_zoom, "maxZoom": 20}
    if spec.subdomains:
        options["subdomains"] = spec.subdomains
    if spec.needs_key:
        options["tk"] = str(key)
    code = "\n".join(
        f"L.tileLayer({_js(url)}, {_js(options)}).addTo(parent);" for url in spec.tiles
    )
    group.add_child(_Script(code))
    return group


def _band_styles() -> list[dict]:
    styles = [{"color": c, "weight": 2.6, "opacity": 0.95} for c in BAND_COLOURS[:4]]
    styles.append({"color": BAND_COLOURS[4], "weight": 1.2, "opacity": 0.8, "dashArray": "3 3"})
    return styles


def _deltas(values: np.ndarray) -> list[int]:
    """Integers as their differences from the one before (the first as it is): short in JSON
    when neighbours are close (``gpUndelta`` in ``layers.js`` adds them up again)."""
    values = np.asarray(values, dtype=np.int64)
    return np.diff(values, prepend=0).tolist()


def _lat_lon(lonlat: np.ndarray) -> dict[str, list[int]]:
    """``(lon, lat)`` rows (degrees) as ``lat`` and ``lon`` in 1e-6 degrees, each
    delta-encoded (:func:`_deltas`) over the whole sequence."""
    q = np.round(lonlat * 1e6)
    return {"lat": _deltas(q[:, 1]), "lon": _deltas(q[:, 0])}


def _uncovered_data(
    demand: gpd.GeoDataFrame, rule_id: str, lonlat: np.ndarray
) -> dict[str, list[int]]:
    """The uncovered points (``demand`` as drawn, its points' ``lonlat`` rows) as numbers for
    ``gpUncovered``.

    ``lat``, ``lon``: 1e-6 degrees, delta-encoded (:func:`_lat_lon`); ``pop``: residents in
    tenths; ``min``: minutes to the nearest facility in tenths, -1 when none can be reached.
    """
    covered = (
        demand[column(rule_id, "covered")].astype("boolean").fillna(False).to_numpy(dtype=bool)
    )
    population = pd.to_numeric(demand["population"], errors="coerce").to_numpy(dtype=float)
    minutes = pd.to_numeric(demand[f"{rule_id}_minutes"], errors="coerce").to_numpy(dtype=float)
    mask = ~covered & (population > 0)
    return {
        **_lat_lon(lonlat[mask]),
        "pop": _tenths(population[mask]).tolist(),
        "min": _tenths(minutes[mask]).tolist(),
    }


def _radius_scale(populations: Sequence[np.ndarray]) -> float:
    """``k`` of ``radius_px = k * sqrt(population)``, shared by all rules (one array of the
    uncovered points' residents per rule).

    The most populous point gets ``_MAX_RADIUS_PX`` on a map with up to 500 points; with more
    points the largest circle shrinks (down to 3 px) so a county's points do not merge into
    one blot.
    """
    max_pop = max((float(np.max(p)) for p in populations if len(p)), default=0.0)
    if max_pop <= 0:
        return 0.0
    n = max((len(p) for p in populations), default=0)
    largest = min(_MAX_RADIUS_PX, max(3.0, _MAX_RADIUS_PX * math.sqrt(500 / max(n, 1))))
    return largest / math.sqrt(max_pop)


def _popup(title: str, fields: Sequence[tuple[str, object]], lang: str) -> str:
    """A popup: bold title and a table of (UI key, value); every text escaped."""
    return _popup_html(title, [(_t(k, lang), v) for k, v in fields])


def _popup_html(title: str, rows: Sequence[tuple[str, object]]) -> str:
    """A popup: bold title and a table of (label, value); every text escaped."""
    cells = "".join(f"<tr><th>{_e(k)}</th><td>{_e(v)}</td></tr>" for k, v in rows)
    return f'<div class="gp-pop"><b>{_e(title)}</b><table>{cells}</table></div>'


_CRS_LABELS = {"gcj02": "GCJ-02", "bd09": "BD-09"}
_AS_WGS84 = ("wgs84", "cgcs2000", "")


def _position_text(row: Mapping, lang: str) -> str | None:
    """How a facility's point was obtained, when not read as WGS84: geocoded or converted."""
    source = "" if _missing(row.get("coord_source")) else str(row.get("coord_source"))
    if source == "geocoded":
        precision = "" if _missing(row.get("geocode_precision")) else str(row["geocode_precision"])
        matched = "" if _missing(row.get("geocode_matched")) else str(row["geocode_matched"])
        shown = PRECISION_ZH.get(precision, precision) if lang == "zh" else precision
        return _t("geocoded", lang, precision=shown or "—", matched=matched or "—")
    if source in _AS_WGS84:
        return None
    return _t("converted", lang, crs=_CRS_LABELS.get(source, source.upper()))


def _records(frame: pd.DataFrame) -> list[dict]:
    """The rows of ``frame`` (but its geometry) as dicts of Python values, as
    ``DataFrame.to_dict("records")`` gives them, column by column (not a Series per row)."""
    geometry = frame.geometry.name if isinstance(frame, gpd.GeoDataFrame) else None
    names = [c for c in frame.columns if c != geometry]
    columns = [frame[name].tolist() for name in names]
    return [dict(zip(names, values, strict=True)) for values in zip(*columns, strict=True)]


def _facility_popup(row: Mapping, lang: str) -> tuple[str, str]:
    """(tooltip, popup) HTML for one facility (or a cell of them), every value escaped.

    A geocoded or converted point says so (popup row "position", and the tooltip for
    geocoded ones); a row with ``n_facilities`` > 1 is a grid cell of aggregated facilities.
    """
    name = "" if _missing(row.get("name")) else str(row.get("name"))
    category, _ = _category_label(row.get("category"), lang)
    count = row.get("n_facilities")
    if not _missing(count) and int(count) > 1:
        title = _t("cell_title", lang, n=f"{int(count):,}")
        rows = [
            (_t("category", lang), category),
            (_t("tier", lang), _tier_label(row.get("tier"), lang)),
            (_t("n_facilities", lang), f"{int(count):,}"),
            (_t("names", lang), name),
        ]
        rows += [
            (_t("capacity_sum", lang, what=_t(key, lang)), _fmt_num(row.get(key)))
            for key in ("beds", "doctors", "nurses")
        ]
        return f"<b>{_e(title)}</b><br>{_e(category)}", _popup_html(title, rows)
    tooltip = f"<b>{_e(name)}</b><br>{_e(category)}"
    if not _missing(row.get("coord_source")) and str(row.get("coord_source")) == "geocoded":
        tooltip += f"<br><i>{_e(_t('geocoded_tip', lang))}</i>"
    fields = [
        ("category", category),
        ("tier", _tier_label(row.get("tier"), lang)),
        ("address", "—" if _missing(row.get("address")) else str(row.get("address"))),
        ("beds", _fmt_num(row.get("beds"))),
        ("doctors", _fmt_num(row.get("doctors"))),
        ("nurses", _fmt_num(row.get("nurses"))),
        ("facility_id", "—" if _missing(row.get("facility_id")) else str(row.get("facility_id"))),
    ]
    position = _position_text(row, lang)
    if position is not None:
        fields.append(("position", position))
    return tooltip, _popup(name, fields, lang)


def aggregate_facilities(
    facilities: gpd.GeoDataFrame, limit: int
) -> tuple[gpd.GeoDataFrame, float | None]:
    """Facilities as a map shows them: each one, or above ``limit`` one marker per category
    and grid cell.

    The cell (100 m, doubled until at most ``limit`` markers remain, or one cell holds every
    facility of a category) is laid in the local UTM zone; a marker sits at the mean position
    of its facilities and carries ``n_facilities``, their names (the first five) and their
    summed beds, doctors and nurses. Returns the frame (EPSG:4326) and the cell size in metres
    (None when nothing was aggregated). Display only: every computation uses each facility.
    """
    if len(facilities) <= limit:
        return facilities, None
    frame = _to_wgs84(facilities, "facilities")
    metric = frame.geometry.to_crs(frame.geometry.estimate_utm_crs())
    x, y = metric.x.to_numpy(), metric.y.to_numpy()
    extent = max(float(np.ptp(x)), float(np.ptp(y)), 1.0)
    category = frame["category"].astype(str).to_numpy()
    cell = 100.0
    while True:
        keys = pd.DataFrame(
            {"category": category, "cx": np.floor(x / cell), "cy": np.floor(y / cell)}
        )
        if len(keys.drop_duplicates()) <= limit or cell > 2 * extent:
            break
        cell *= 2
    table = keys.assign(
        x=x,
        y=y,
        name=frame["name"].astype(str).to_numpy() if "name" in frame else "",
        **{c: frame[c].to_numpy(dtype=float) for c in ("beds", "doctors", "nurses") if c in frame},
    )
    sums = {
        c: (c, lambda v: v.sum(min_count=1)) for c in ("beds", "doctors", "nurses") if c in table
    }
    grouped = table.groupby(["category", "cx", "cy"], sort=False).agg(
        n_facilities=("x", "size"),
        x=("x", "mean"),
        y=("y", "mean"),
        name=("name", lambda v: "、".join(v.iloc[:5]) + (" …" if len(v) > 5 else "")),
        **sums,
    )
    grouped = grouped.reset_index()
    grouped["tier"] = grouped["category"].map(
        lambda c: CATEGORIES[c].tier if c in CATEGORIES else ""
    )
    out = gpd.GeoDataFrame(
        grouped.drop(columns=["cx", "cy", "x", "y"]),
        geometry=gpd.points_from_xy(grouped["x"], grouped["y"]),
        crs=metric.crs,
    ).to_crs(4326)
    return out, cell


def _encode_shapes(geoms: gpd.GeoSeries) -> dict[str, list[int]]:
    """(Multi)Polygons in WGS84 as numbers for ``gpShapes`` in ``layers.js``.

    ``parts``: polygons per geometry; ``rings``: rings per polygon (exterior first);
    ``verts``: vertices per ring (the closing one left out); ``lat``, ``lon``: every vertex
    (:func:`_lat_lon`).
    """
    polygons, which = _parts(np.asarray(geoms.values))
    polygonal = shapely.get_type_id(polygons) == 3
    polygons, which = polygons[polygonal], which[polygonal]
    rings, ring_of = shapely.get_rings(polygons, return_index=True)
    coords, vertex_of = shapely.get_coordinates(rings, return_index=True)
    counts = np.bincount(vertex_of, minlength=len(rings))
    keep = np.ones(len(coords), dtype=bool)
    keep[np.cumsum(counts)[counts > 0] - 1] = False  # the closing vertex repeats the first
    return {
        "parts": np.bincount(which, minlength=len(geoms)).tolist(),
        "rings": np.bincount(ring_of, minlength=len(polygons)).tolist(),
        "verts": np.maximum(counts - 1, 0).tolist(),
        **_lat_lon(coords[keep]),
    }


def _rounded(x: np.ndarray) -> np.ndarray:
    """Floats rounded to integers; -1 where not finite (missing)."""
    finite = np.isfinite(x)
    return np.where(finite, np.round(np.where(finite, x, 0.0)), -1).astype(np.int64)


def _tenths(values: object, scale: float = 1.0) -> np.ndarray:
    """``values * scale`` in tenths, rounded (integers); -1 where missing or not finite."""
    x = pd.to_numeric(pd.Series(values), errors="coerce").to_numpy(dtype=float) * scale
    return _rounded(x * 10)


def _indices(values: Sequence) -> tuple[list[int], list[str]]:
    """Each value's index into a table of the distinct values as text (-1: missing)."""
    series = pd.Series(values, dtype=object)
    if pd.api.types.infer_dtype(series, skipna=True) != "string":  # 1 and 1.0 differ as text
        codes, table = pd.factorize(series.map(_text_or_none))
        return codes.tolist(), [str(v) for v in table]
    codes, table = pd.factorize(series)  # text and missing only: each distinct text once
    return codes.tolist(), [str(v) for v in table]


def _text_or_none(value: object) -> str | None:
    return None if _missing(value) else str(value)


def _gap_data(
    gaps: gpd.GeoDataFrame, rule: Mapping, facility_names: Mapping[str, str]
) -> dict[str, list]:
    """A rule's gap areas (``gaps`` as drawn, with ``_label_lat``/``_label_lon``) as numbers
    for ``gpGaps``, by rank; the texts of its popups are built in the browser.

    ``rank``: delta-encoded; ``pop``: uncovered residents, rounded (-1: missing); ``min``:
    median minutes in tenths (-1: unreachable); ``facility`` and ``unit``: indices into
    ``names`` and ``units`` (-1: none; a facility without a name is named by its id, looked
    up in ``facility_names``); ``labels``: ``[lat, lon]`` of the areas ranked up to
    :data:`MAX_RANK_LABELS`; ``shapes``: the areas (:func:`_encode_shapes`).
    """
    rule_gaps = gaps[gaps["rule_id"].astype(str) == str(rule["id"])].sort_values("rank")
    n = len(rule_gaps)

    def column_of(name: str) -> pd.Series:
        return rule_gaps[name] if name in rule_gaps else pd.Series([None] * n, dtype=object)

    names = column_of("nearest_facility_name").to_numpy(dtype=object, copy=True)
    ids = column_of("nearest_facility_id").to_numpy(dtype=object)
    unnamed = pd.isna(names)
    names[unnamed] = [
        None if _missing(fid) else facility_names.get(str(fid), str(fid)) for fid in ids[unnamed]
    ]
    facility, name_table = _indices(names)
    unit, unit_table = _indices(column_of("unit_name").to_numpy(dtype=object))
    ranks = rule_gaps["rank"].astype(int).to_numpy()
    population = pd.to_numeric(rule_gaps["population"], errors="coerce").to_numpy(dtype=float)
    top = ranks <= MAX_RANK_LABELS
    return {
        "rank": _deltas(ranks),
        "pop": _rounded(population).tolist(),
        "min": _tenths(column_of("median_travel_time_s").to_numpy(), 1 / 60).tolist(),
        "facility": facility,
        "unit": unit,
        "names": name_table,
        "units": unit_table,
        "labels": np.round(
            rule_gaps.loc[top, ["_label_lat", "_label_lon"]].to_numpy(dtype=float), 6
        ).tolist(),
        "shapes": _encode_shapes(rule_gaps.geometry),
    }


def _unit_rows(units: gpd.GeoDataFrame, rule: Mapping, lang: str) -> list[list]:
    """Rows for ``gpUnits``: geometry, fill colour by share covered, popup."""
    share = pd.to_numeric(units[column(rule["id"], "share_covered")], errors="coerce").to_numpy(
        float
    )
    target = rule.get("target_share")
    rows = []
    for geometry, name, population, colour, value in zip(
        _geojson_geometries(units.geometry),
        units["unit_name"].tolist(),
        units["population"].tolist(),
        _share_colours(share),
        share,
        strict=True,
    ):
        if geometry is None:
            continue
        fields = [
            ("rule", _rule_name(rule, lang)),
            ("population", _fmt_people(population)),
            ("share_covered", _fmt_pct(value)),
            ("target", _fmt_pct(target)),
        ]
        rows.append([geometry, colour, _popup(str(name), fields, lang)])
    return rows


# --------------------------------------------------------------------------- legend


def _legend_html(
    *,
    title: str,
    crs_note: str,
    rules: Sequence[Mapping],
    groups_present: Sequence[str],
    notes: Sequence[str],
    attribution: Sequence[str],
    has_boundary: bool,
    has_units: bool,
    lang: str,
    has_unreachable: bool = False,
    areas: Mapping | None = None,
) -> str:
    parts = [
        '<div class="gp-legend" id="gp-legend">',
        f'<div class="gp-title">{_e(title)}</div>',
        f'<div class="gp-crs" id="gp-crs-note">{_e(crs_note)}</div>',
    ]
    parts += [f'<div class="gp-note">⚠ {_e(note)}</div>' for note in notes if note]
    if rules:
        parts.append(f'<div class="gp-h">{_e(_t("share_heading", lang))}</div>')
        for index, rule in enumerate(rules):
            share = rule.get("share_covered")
            target = rule.get("target_share")
            cls = ""
            if not _missing(target) and not _missing(share):
                cls = "gp-met" if float(share) >= float(target) - 1e-12 else "gp-unmet"
            target_text = "" if _missing(target) else _t("target_paren", lang, pct=_fmt_pct(target))
            unreachable = rule.get("population_unreachable")
            if not _missing(unreachable) and float(unreachable) > 0:
                target_text += _t("unreachable_paren", lang, pop=_fmt_people(unreachable))
            parts.append(
                f'<div class="gp-rule" data-gp-rule="{index}">'
                f"{_e(_rule_name(rule, lang) + _colon(lang))}"
                f'<span class="{cls}">{_e(_fmt_pct(share))}</span>{_e(target_text)}</div>'
            )
        parts.append(f'<div class="gp-h">{_e(_t("bands_heading", lang))}</div>')
        labels = _band_labels([float(r["threshold_min"]) for r in rules], lang)
        for k, label in enumerate(labels):
            swatch = _swatch_line(BAND_COLOURS[k], dashed=k == 4, width=2 if k == 4 else 3)
            parts.append(_legend_row(swatch, _e(label)))
        if has_units:
            parts.append(f'<div class="gp-h">{_e(_t("units_heading", lang))}</div>')
            for _, label, colour in UNIT_SHARE_CLASSES:
                parts.append(_legend_row(_swatch_area(colour), _e(label)))
        if areas:
            per = _t(f"areas_per_{areas['per']}", lang)
            heading = _t("areas_heading", lang, per=per, w=_fmt_num(areas["width_m"]))
            parts.append(f'<div class="gp-h">{_e(heading)}</div>')
            for k, label in enumerate(_area_labels(areas["bands"], lang)):
                parts.append(_legend_row(_swatch_area(_area_colour(k, areas["bands"])), _e(label)))
    parts.append(f'<div class="gp-h">{_e(_t("symbols", lang))}</div>')
    for group in groups_present:
        label = _pick(GROUP_LABELS[group], lang) if group in GROUP_LABELS else None
        label = label or _t("other_facilities", lang)
        parts.append(_legend_row(_swatch_dot(_group_colour(group)), _e(label)))
    if rules:
        dot = _swatch_dot(_UNCOVERED_COLOUR, size=12, border=_UNCOVERED_COLOUR)
        parts.append(_legend_row(dot, _e(_t("uncovered_symbol", lang))))
        if has_unreachable:
            parts.append(_legend_row(_swatch_ring(), _e(_t("unreachable_symbol", lang))))
        area = (
            '<span class="gp-area" style="background:rgba(122,1,119,0.1);'
            f'border:2px solid {_GAP_COLOUR}"></span>'
        )
        parts.append(_legend_row(area, _e(_t("gap_symbol", lang, n=MAX_RANK_LABELS))))
    parts.extend(_legend_footer(has_boundary=has_boundary, attribution=attribution, lang=lang))
    return "\n".join(parts)


def _legend_footer(
    *, has_boundary: bool, attribution: Sequence[str], lang: str | None
) -> list[str]:
    """The legend's last lines: the boundary symbol, the data attribution, the closing tag."""
    parts = []
    if has_boundary:
        line = _swatch_line(_BOUNDARY_COLOUR, dashed=True, width=2)
        parts.append(_legend_row(line, _e(_t("boundary", lang))))
    if attribution:
        credits = "; ".join(attribution)
        parts.append(f'<div class="gp-attr">{_e(_t("data", lang) + _colon(lang) + credits)}</div>')
    parts.append("</div>")
    return parts


_ICONS = {
    "legend": (
        '<svg class="gp-icon" width="18" height="18" viewBox="0 0 18 18" aria-hidden="true">'
        f'<rect x="1" y="2" width="4" height="3" fill="{BAND_COLOURS[0]}"/>'
        f'<rect x="1" y="7.5" width="4" height="3" fill="{BAND_COLOURS[2]}"/>'
        f'<rect x="1" y="13" width="4" height="3" fill="{BAND_COLOURS[3]}"/>'
        '<path d="M7 3.5H17M7 9H17M7 14.5H17" stroke="currentColor" stroke-width="1.6"/></svg>'
    ),
    "layers": (
        '<svg class="gp-icon" width="18" height="18" viewBox="0 0 18 18" aria-hidden="true">'
        '<path d="M9 2L17 6.5L9 11L1 6.5ZM2.5 10L9 13.7L15.5 10M2.5 13L9 16.7L15.5 13" '
        'fill="none" stroke="currentColor" stroke-width="1.5" stroke-linejoin="round"/></svg>'
    ),
}


def _rule_mark(index: int) -> str:
    """Marks a layer-control entry as rule ``index``'s (the switcher hides other rules')."""
    return f'<i hidden data-gp-rule="{index}"></i>'


def _interface_html(
    legend: str, *, rules: Sequence[Mapping], lang: str | None, banner: str = ""
) -> str:
    """The interface around the ``legend`` HTML (``data/map/ui.js`` wires it up).

    A bar with the rule switcher (two rules or more; one rule is named) and the buttons of the
    two panels, the layer panel (Leaflet's layer control is moved into ``#gp-layers-list``),
    the legend panel, then the ``banner``. Every text is escaped.
    """
    if len(rules) > 1:
        options = "".join(
            f'<option value="{i}">{_e(_rule_name(rule, lang))}</option>'
            for i, rule in enumerate(rules)
        )
        pick = (
            f'<label class="gp-pick"><span class="gp-pick-label">{_e(_t("rule_pick", lang))}'
            f'</span><select id="gp-rule" class="gp-select">{options}</select></label>'
        )
    elif rules:
        pick = f'<span class="gp-rule-name">{_e(_rule_name(rules[0], lang))}</span>'
    else:
        pick = ""
    panel_ids = {"legend": "gp-legend-panel", "layers": "gp-layers"}

    def button(which: str) -> str:
        return (
            f'<button type="button" class="gp-button" id="gp-{which}-button" '
            f'aria-controls="{panel_ids[which]}" aria-expanded="true">{_ICONS[which]}'
            f"<span>{_e(_t(f'{which}_button', lang))}</span></button>"
        )

    def panel(which: str, body: str) -> str:
        name = _e(_t(f"{which}_button", lang))
        return (
            f'<div class="gp-panel" id="{panel_ids[which]}" role="region" aria-label="{name}">'
            f'<div class="gp-panel-head"><b>{name}</b><button type="button" class="gp-close" '
            f'data-gp-panel="{which}" aria-label="{_e(_t("close", lang))}">×</button></div>\n'
            f"{body}\n</div>"
        )

    return "\n".join(
        [
            '<div class="gp-ui" id="gp-ui">',
            f'<div class="gp-bar">{pick}{button("legend")}{button("layers")}</div>',
            panel("layers", '<div id="gp-layers-list"></div>'),
            panel("legend", legend),
            "</div>",
            banner,
        ]
    )


# --------------------------------------------------------------------------- public API


def coverage_map(
    *,
    title_zh: str,
    title_en: str,
    boundary: gpd.GeoDataFrame | None,
    facilities: gpd.GeoDataFrame,
    rules: Sequence[Mapping],
    street_minutes: gpd.GeoDataFrame,
    demand: gpd.GeoDataFrame,
    gaps: gpd.GeoDataFrame,
    demand_cell_m: float | None = None,
    notes_zh: Sequence[str] = (),
    notes_en: Sequence[str] = (),
    attribution: Sequence[str] = (),
    lang: str = "zh",
    basemap: str | None = None,
    basemap_key: str | None = None,
    units: gpd.GeoDataFrame | None = None,
    hypothetical: bool = False,
    service_areas: gpd.GeoDataFrame | None = None,
) -> folium.Map:
    """Build the coverage map of a project, in one language.

    Parameters
    ----------
    title_zh, title_en : str
        Map title (legend and HTML ``<title>``); the one for ``lang`` is shown.
    boundary : GeoDataFrame or None
        Study-area polygons, any CRS.
    facilities : GeoDataFrame
        Points with ``facility_id``, ``name``, ``category`` (taxonomy key), ``tier``,
        ``address``, ``beds``, ``doctors``, ``nurses`` (NaN allowed; missing columns shown
        as "—").
    rules : sequence of mappings
        Each with ``id``, ``name_zh``, ``name_en``, ``threshold_min`` (minutes),
        ``share_covered`` (0..1) and ``target_share`` (0..1 or None).
    street_minutes : GeoDataFrame
        Street lines (or pieces of them, :func:`geoplan.analysis.streets.street_minutes`) with one
        float column per rule id: minutes to that rule's nearest facility, every point of the
        line in the band of that value (NaN = unreachable); optionally ``<id>_usable`` (bool,
        False: the rule's mode may not use the street, which is then not drawn for it).
    demand : GeoDataFrame
        Points with ``population`` and per rule ``<id>_covered`` and ``<id>_minutes``.
    demand_cell_m : float, optional
        The grid cell (metres) of ``demand`` when its points are cells of aggregated residents
        (:func:`geoplan.rendering.run_maps.map_demand`); only said in the tooltips.
    gaps : GeoDataFrame
        Polygons with ``rule_id``, ``rank``, ``population``, ``median_travel_time_s`` and
        ``nearest_facility_name`` (or ``nearest_facility_id``, looked up in ``facilities``).
    notes_zh, notes_en : sequences of str
        Warnings shown in the legend (those for ``lang``).
    attribution : sequence of str
        Data credits, shown in the legend and the map's attribution control.
    lang : {"zh", "en"}
        Language of every label, layer name, popup, note and ``<html lang>``.
    basemap : {None, "none", "osm", "tianditu", "amap"}
        Tiles under the overlays (an explicit opt-in: the map is then no longer offline).
        ``amap`` is GCJ-02: every overlay is shifted from WGS84 to GCJ-02 to match it.
    basemap_key : str, optional
        The Tianditu key (``tk``), required for ``tianditu``; it is written into the HTML.
    units : GeoDataFrame, optional
        Unit polygons (any CRS) with ``unit_name``, ``population`` and per rule
        ``<id>_share_covered`` (0..1): one choropleth layer per rule.
    hypothetical : bool
        Show a banner that the facilities are a hypothetical scenario.
    service_areas : GeoDataFrame, optional
        Polygons of :func:`geoplan.analysis.service_areas.service_areas` (``rule_id``,
        ``per``, ``facility_id``, ``name``, ``category``, ``band_min``, ``width_m``,
        ``area_km2``, ``population_inside``, ``population_within``; any CRS): one layer per
        rule with areas, ``service:<rule id>``, off until the reader turns it on.

    Returns
    -------
    folium.Map
        Write it with :func:`save_map` (``Map.save`` would reference CDNs).
    """
    lang = _check_lang(lang)
    spec = _basemap(basemap, basemap_key)
    rules = list(rules)
    for rule in rules:
        missing = [k for k in ("id", "name_zh", "name_en", "threshold_min") if k not in rule]
        if missing:
            raise InputError(f"rule {rule.get('id', '?')!r} lacks key(s) {', '.join(missing)}")
    rule_ids = [str(r["id"]) for r in rules]
    _require(street_minutes, rule_ids, "street_minutes")
    _require(
        demand,
        ["population", *(f"{i}_{w}" for i in rule_ids for w in ("covered", "minutes"))],
        "demand",
    )
    _require(gaps, ["rule_id", "rank", "population"], "gaps")
    _require(facilities, ["category"], "facilities")
    if units is not None:
        _require(
            units,
            ["unit_name", "population", *(column(i, "share_covered") for i in rule_ids)],
            "units",
        )

    # Everything as drawn: simplified, lon/lat, and shifted to GCJ-02 for a GCJ-02 basemap.
    shift = spec.gcj02
    facilities = _display_frame(facilities, "facilities", gcj02=shift)
    demand = _display_frame(demand, "demand", gcj02=shift)
    if boundary is not None and boundary.empty:
        boundary = None
    if boundary is not None:
        boundary = _display_frame(boundary, "boundary", gcj02=shift, simplify=True)
    if units is not None:
        units = _display_frame(units, "units", gcj02=shift, simplify=True)
    area_bands: dict[str, list[float]] = {}
    if service_areas is not None and len(service_areas):
        _require(service_areas, ["rule_id", "per", "band_min", "name", "width_m"], "areas")
        service_areas = _display_frame(
            service_areas, "service_areas", gcj02=shift, simplify=True, tolerance_m=_AREA_SIMPLIFY_M
        )
        for rid, frame in service_areas.groupby("rule_id", sort=False):
            area_bands[str(rid)] = sorted({float(b) for b in frame["band_min"]})
    streets = _drawable(street_minutes, "street_minutes")
    gaps = _drawable(gaps, "gaps")
    labels = _display(gaps.geometry.representative_point(), gcj02=shift)
    gaps = _display_frame(
        gaps.assign(_label_lat=labels.y.to_numpy(), _label_lon=labels.x.to_numpy()),
        "gaps",
        gcj02=shift,
        simplify=True,
    )

    bounds = _bounds(boundary, demand, gaps) or _bounds(facilities)
    m = _new_map(bounds)
    title = title_zh if lang == "zh" else title_en
    m.get_root().title = _e(title)
    layers: dict[str, folium.FeatureGroup] = {}
    if spec.tiles:
        layers["basemap"] = _basemap_layer(spec, basemap_key, lang).add_to(m)

    categories = list(dict.fromkeys(facilities["category"].dropna()))
    groups_present = list(dict.fromkeys(_category_label(c, lang)[1] for c in categories))
    lonlat = np.column_stack([demand.geometry.x.to_numpy(), demand.geometry.y.to_numpy()])
    uncovered = {rid: _uncovered_data(demand, rid, lonlat) for rid in rule_ids}
    legend = _legend_html(
        title=title,
        crs_note=_t(f"crs_{spec.key}", lang),
        rules=rules,
        groups_present=groups_present,
        notes=list(notes_zh if lang == "zh" else notes_en),
        attribution=list(attribution),
        has_boundary=boundary is not None,
        has_units=units is not None and bool(rules),
        lang=lang,
        has_unreachable=any(-1 in data["min"] for data in uncovered.values()),
        areas=None
        if not area_bands
        else {
            "per": str(service_areas["per"].iloc[0]),
            "width_m": float(service_areas["width_m"].iloc[0]),
            "bands": list(area_bands.values()),
        },
    )
    banner = f'<div class="gp-banner" id="gp-banner">⚠ {_e(_t("banner", lang))}</div>'
    credits = [*attribution, *([spec.credit] if spec.credit else [])]
    setup = _Setup(
        body_html=_interface_html(
            legend, rules=rules, lang=lang, banner=banner if hypothetical else ""
        ),
        attribution=credits,
        lang=lang,
        tile_urls=spec.tiles,
    )
    m.add_child(setup)

    if boundary is not None:
        fill = 0.25 if spec.tiles else 0.65
        layers["boundary"] = _boundary_layer(boundary, lang, fill_opacity=fill).add_to(m)

    # Street geometry once (delta-encoded), band codes per rule.
    lines, part_row = _encode_lines(_simplified(streets.geometry), gcj02=shift)
    lines_var = f"gp_lines_{m.get_name()}"
    text_var = f"gp_text_{m.get_name()}"
    if rules:
        m.add_child(_Script(f"var {lines_var} = gpDecodeLines({_js(lines)});", wrap=False))
        texts = {key: _pick(UI_STRINGS[key], lang) for key in _JS_TEXTS}
        m.add_child(_Script(f"var {text_var} = {_js(texts)};", wrap=False))

    k = _radius_scale([np.asarray(data["pop"]) / 10 for data in uncovered.values()])
    facility_names = {}
    if "facility_id" in facilities and "name" in facilities:
        facility_names = dict(
            zip(facilities["facility_id"].astype(str), facilities["name"].astype(str), strict=True)
        )
    band_styles = _band_styles()
    uncovered_style = {
        "color": _UNCOVERED_COLOUR,
        "weight": 0.6,
        "opacity": 0.7,
        "fillColor": _UNCOVERED_COLOUR,
        "fillOpacity": 0.3,
    }
    unreachable_style = {
        "color": _UNREACHABLE_COLOUR,
        "weight": 2.5,
        "opacity": 0.95,
        "fillColor": "#ffffff",
        "fillOpacity": 0.6,
    }
    gap_style = {
        "color": _GAP_COLOUR,
        "weight": 1.5,
        "dashArray": "5 3",
        "fillColor": _GAP_COLOUR,
        "fillOpacity": 0.1,
    }
    unit_style = {"color": "#4d4d4d", "weight": 1, "opacity": 0.8, "fillOpacity": 0.3}
    unit_groups = []
    for i, rule in enumerate(rules):
        rid = str(rule["id"])
        name = _rule_name(rule, lang)
        threshold = float(rule["threshold_min"])
        mark = _rule_mark(i)

        if units is not None:
            group = folium.FeatureGroup(
                name=f"{mark}{_swatch_area(UNIT_SHARE_CLASSES[2][2])} "
                + _e(_t("layer_units", lang)),
                show=i == 0,
            )
            rows = _unit_rows(units, rule, lang)
            group.add_child(_Script(f"gpUnits(parent, {_js(rows)}, {_js(unit_style)});"))
            layers[f"units:{rid}"] = group.add_to(m)
            unit_groups.append(group)

        minutes = pd.to_numeric(streets[rid], errors="coerce").to_numpy(dtype=float)
        band = _band_codes(minutes, threshold)
        if f"{rid}_usable" in streets:  # streets the rule's mode may not use: not drawn
            band[~streets[f"{rid}_usable"].to_numpy(dtype=bool)] = _NOT_DRAWN
        codes = (band[part_row] + ord("0")).astype(np.uint8).tobytes().decode("ascii")  # 0-5
        bands = folium.FeatureGroup(
            name=f"{mark}{_swatch_line(BAND_COLOURS[0])} " + _e(_t("layer_bands", lang)),
            show=i == 0,
        )
        bands.add_child(
            _Script(
                f"gpBands(parent, {lines_var}, {_js(codes)}, {_js(band_styles)}, "
                f"{_js(list(_BAND_DRAW_ORDER))});"
            )
        )
        layers[f"bands:{rid}"] = bands.add_to(m)

        circles = folium.FeatureGroup(
            name=f"{mark}{_swatch_dot(_UNCOVERED_COLOUR, border=_UNCOVERED_COLOUR)} "
            + _e(_t("layer_uncovered", lang)),
            show=i == 0,
        )
        options = {
            "k": k,
            "cell_m": demand_cell_m,
            "style": uncovered_style,
            "unreachableStyle": unreachable_style,
            "threshold": _t("threshold", lang, rule=name, m=_fmt_min(threshold)),
        }
        circles.add_child(
            _Script(
                f"gpUncovered({m.get_name()}, parent, {_js(uncovered[rid])}, {_js(options)}, "
                f"{text_var});"
            )
        )
        layers[f"uncovered:{rid}"] = circles.add_to(m)

        gap_group = folium.FeatureGroup(
            name=f'{mark}<span class="gp-rank" style="display:inline-block;width:16px;'
            'font-size:10px;line-height:14px">1</span> ' + _e(_t("layer_gaps", lang)),
            show=i == 0,
        )
        data = _gap_data(gaps, rule, facility_names)
        options = {"style": gap_style, "rule": name}
        gap_group.add_child(
            _Script(f"gpGaps({m.get_name()}, parent, {_js(data)}, {_js(options)}, {text_var});")
        )
        layers[f"gaps:{rid}"] = gap_group.add_to(m)

        if rid in area_bands:
            bands = area_bands[rid]
            styles = [
                {
                    "color": _area_colour(k, list(area_bands.values())),
                    "weight": 1,
                    "opacity": 0.7,
                    "fillColor": _area_colour(k, list(area_bands.values())),
                    "fillOpacity": 0.18,
                }
                for k in range(len(bands))
            ]
            area_group = folium.FeatureGroup(
                name=f"{mark}{_swatch_area(AREA_COLOURS[1])} " + _e(_t("layer_areas", lang)),
                show=False,
            )
            data = _area_data(service_areas, rid, bands, lang)
            area_group.add_child(_Script(f"gpAreas(parent, {_js(data)}, {_js(styles)});"))
            layers[f"service:{rid}"] = area_group.add_to(m)

    facility_groups = []
    for category in categories:
        label, group = _category_label(category, lang)
        subset = facilities[facilities["category"] == category]
        rows = []
        for row, geom in zip(_records(subset), subset.geometry, strict=True):
            tooltip, popup = _facility_popup(row, lang)
            rows.append([round(geom.y, 6), round(geom.x, 6), tooltip, popup])
        n = int(subset["n_facilities"].sum()) if "n_facilities" in subset else len(rows)
        colour = _group_colour(group)
        style = {
            "radius": 6.5,
            "color": "#ffffff",
            "weight": 1.5,
            "opacity": 1,
            "fillColor": colour,
            "fillOpacity": 0.95,
        }
        fg = folium.FeatureGroup(
            name=f"{_swatch_dot(colour)} " + _e(_t("layer_facilities", lang, category=label, n=n)),
            show=True,
        )
        fg.add_child(_Script(f"gpFacilities(parent, {_js(rows)}, {_js(style)});"))
        layers[f"facilities:{category}"] = fg.add_to(m)
        facility_groups.append(fg)
    if facility_groups or unit_groups:
        m.add_child(_KeepInFront(facility_groups, unit_groups))

    control = folium.LayerControl(collapsed=False, position="topright").add_to(m)
    m.add_child(_Interface(control, layers, rule_ids, bounds))
    return m


_MIN_SPAN_DEG = 0.01  # smallest box a map is fitted to (about 1 km)


def _bounds(*frames: gpd.GeoDataFrame | None) -> list[list[float]] | None:
    """``[[south, west], [north, east]]`` around the frames (lon/lat); None if none has any."""
    boxes = [f.total_bounds for f in frames if f is not None and not f.empty]
    boxes = [b for b in boxes if np.all(np.isfinite(b))]
    if not boxes:
        return None
    arr = np.array(boxes)
    south, west = float(arr[:, 1].min()), float(arr[:, 0].min())
    north, east = float(arr[:, 3].max()), float(arr[:, 2].max())
    if north - south < _MIN_SPAN_DEG and east - west < _MIN_SPAN_DEG:
        # one point (a single resident): Leaflet cannot fit an empty box (NaN centre)
        pad = _MIN_SPAN_DEG / 2
        south, west, north, east = south - pad, west - pad, north + pad, east + pad
    return [[south, west], [north, east]]


def _new_map(bounds: list[list[float]] | None) -> folium.Map:
    """An empty map (no tiles, canvas, fine zoom steps) centred on ``bounds`` (else China)."""
    centre = (
        [35.0, 105.0]
        if bounds is None
        else [(bounds[0][0] + bounds[1][0]) / 2, (bounds[0][1] + bounds[1][1]) / 2]
    )
    return folium.Map(
        location=centre,
        zoom_start=13,
        tiles=None,
        prefer_canvas=True,
        control_scale=False,
        zoom_snap=0.25,
        zoom_delta=0.5,
    )


# --------------------------------------------------------------------------- offline HTML

_SCRIPT_SRC = re.compile(r"<script\b[^>]*\bsrc\s*=\s*[\"']([^\"']+)[\"'][^>]*>\s*</script>", re.I)
_LINK_HREF = re.compile(r"<link\b[^>]*\bhref\s*=\s*[\"']([^\"']+)[\"'][^>]*>", re.I)
_DROPPED = (
    "jquery",
    "bootstrap",
    "awesome-markers",
    "awesome_markers",
    "fontawesome",
    "font-awesome",
    "leaflet.awesome.rotate",
    "glyphicons",
)
_REMOTE = re.compile(r"^\s*(?:[a-z][a-z0-9+.-]*:)?//", re.I)
_CSS_REMOTE = re.compile(r"url\(\s*[\"']?\s*(?:https?:)?//|@import", re.I)
_TILE_TEMPLATE = re.compile(r"//[^\s\"'<>\\]{0,500}?\{[xyz]\}[^\s\"'<>\\]*", re.I)
"""A tile URL template from its ``//``; the literal start lets ``re`` skip ahead through a 30 MB
page (an optional scheme in front made it try every position: 0.6 s for the Wuhan map), and the
bounded run to the first ``{x}`` keeps base64 images, full of ``//``, linear (an unbounded run
re-scanned each image to its end from every ``//``: 2.7 s on a 1.6 MB report)."""
_SCHEME_BEFORE = re.compile(r"https?:\Z", re.I)


@functools.lru_cache(maxsize=1)
def _leaflet_assets() -> tuple[str, str]:
    """Leaflet's JS and CSS from xstatic-leaflet, with the CSS images as data URIs."""
    import xstatic.pkg.leaflet as xl

    base = Path(xl.BASE_DIR)
    js = (base / "leaflet.js").read_text(encoding="utf-8")
    css = (base / "leaflet.css").read_text(encoding="utf-8")

    def inline(match: re.Match) -> str:
        data = (base / match.group(1)).read_bytes()
        return f"url(data:image/png;base64,{base64.b64encode(data).decode('ascii')})"

    css = re.sub(r"url\((images/[\w.-]+\.png)\)", inline, css)
    if re.search(r"</script", js, re.I) or re.search(r"</style", css, re.I):
        raise RuntimeError("Leaflet assets cannot be inlined (they contain a closing tag)")
    return js, css


class _ResourceFinder(HTMLParser):
    """Collects ``src``/``href``-like attributes of the markup (script contents are skipped)."""

    _ATTRS = frozenset({"src", "href", "srcset", "data", "poster", "background", "action"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.remote: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if name in self._ATTRS and value and _REMOTE.match(value):
                self.remote.append(f"<{tag} {name}={value!r}>")

    handle_startendtag = handle_starttag


def _needs_jquery(m: folium.Map) -> bool:
    """True if an element whose folium template calls jQuery's ``$`` is on the map."""
    stack = [m]
    while stack:
        element = stack.pop()
        if isinstance(element, folium.Popup) or getattr(element, "objects_to_stay_in_front", None):
            return True
        stack.extend(element._children.values())
    return False


def _tile_templates(text: str) -> list[str]:
    """Every tile URL template (``…{x}…``) in ``text``, with its ``http:``/``https:`` if any."""
    urls = []
    for match in _TILE_TEMPLATE.finditer(text):
        scheme = _SCHEME_BEFORE.search(text, max(0, match.start() - 6), match.start())
        urls.append((scheme.group(0) if scheme else "") + match.group(0))
    return urls


def check_offline(text: str, tile_urls: Sequence[str] = ()) -> None:
    """Raise if the HTML references a network resource.

    Markup attributes (``<script src>``, ``<link href>``, ``<img src>`` …) and style sheets
    may not point online at all; a tile URL template (``…{x}…``) anywhere, scripts included,
    must be one of ``tile_urls``, the templates of an explicitly chosen basemap.
    """
    finder = _ResourceFinder()
    finder.feed(text)
    finder.close()
    problems = list(finder.remote)
    for style in re.findall(r"<style\b[^>]*>(.*?)</style>", text, re.I | re.S):
        if _CSS_REMOTE.search(style):
            problems.append("a <style> block with a remote url() or @import")
    allowed = set(tile_urls)
    problems += [f"tile URL {url}" for url in _tile_templates(text) if url not in allowed]
    if problems:
        raise RuntimeError(
            "the map HTML would load resources from the network: "
            + "; ".join(problems)
            + " (a folium update may have added a CDN resource; inline or drop it in maps.py)"
        )


def _setup_of(m: folium.Map) -> _Setup | None:
    """The map's :class:`_Setup` element (language, basemap tiles), if any."""
    stack = [m]
    while stack:
        element = stack.pop()
        if isinstance(element, _Setup):
            return element
        stack.extend(element._children.values())
    return None


def map_html(m: folium.Map) -> str:
    """Render ``m`` as self-contained HTML: Leaflet inlined, other CDN resources dropped.

    Raises
    ------
    RuntimeError
        If a resource on the network is still referenced after rendering.
    """
    if _needs_jquery(m):
        raise RuntimeError(
            "the map uses folium.Popup or keep_in_front, whose code needs jQuery, which the "
            "offline HTML leaves out; bind popups with Leaflet as maps.py does"
        )
    setup = _setup_of(m)
    text = m.get_root().render()
    if setup is not None:
        text = re.sub(r"<html>", f'<html lang="{setup.lang}">', text, count=1)
    js, css = _leaflet_assets()

    def script(match: re.Match) -> str:
        url = match.group(1)
        if re.search(r"/leaflet(?:-src)?(?:\.min)?\.js$", url):
            return f"<script>\n{js}\n</script>"
        if any(d in url.lower() for d in _DROPPED):
            return ""
        return match.group(0)

    def link(match: re.Match) -> str:
        url = match.group(1)
        if re.search(r"/leaflet(?:\.min)?\.css$", url):
            return f"<style>\n{css}\n</style>"
        if any(d in url.lower() for d in _DROPPED):
            return ""
        return match.group(0)

    text = _SCRIPT_SRC.sub(script, text)
    text = _LINK_HREF.sub(link, text)
    check_offline(text, () if setup is None else setup.tile_urls)
    return text


def save_map(m: folium.Map, path: str | Path) -> None:
    """Write ``m`` as one self-contained HTML file (atomically), loading nothing online."""
    write_text(path, map_html(m))


# --------------------------------------------------------------------------- feature maps

_FEATURE_KINDS = ("points", "lines", "areas", "markers")
_MARKER_SHAPES = ("cross", "arrow", "plus", "star", "ring", "label")
_COLOUR = re.compile(r"^#[0-9a-fA-F]{3,8}$")


class FeatureLayer:
    """One toggleable layer of :func:`feature_map`.

    Parameters
    ----------
    name : str
        Layer-control label (escaped).
    frame : GeoDataFrame
        The features, any CRS (a frame without CRS must be lon/lat).
    kind : {"points", "lines", "areas", "markers"}
        Circle markers, polylines, polygons, or fixed-size symbols (``shape``).
    style : mapping
        Leaflet path options for every feature (``color``, ``weight``, ``fillOpacity`` …;
        points also ``radius``); markers read ``color`` and ``size`` (px).
    colour_column, radius_column, tooltip_column : str, optional
        Per-feature colour (``#rrggbb``; the fill of points, the line of lines, both for
        areas and markers), circle radius in pixels, and plain-text tooltip (escaped; line
        breaks kept).
    shape : {"cross", "arrow", "plus", "star", "ring", "label"}
        Symbol of a markers layer; ``arrow`` points along ``rotation_column`` (degrees
        clockwise from north) and ``label`` shows ``label_column``'s text in a disc.
    show : bool
        Whether the layer is on when the map opens.
    swatch : str, optional
        Colour of the layer-control swatch (default: the style's colour).
    """

    def __init__(
        self,
        name: str,
        frame: gpd.GeoDataFrame,
        *,
        kind: str = "points",
        style: Mapping | None = None,
        colour_column: str | None = None,
        radius_column: str | None = None,
        tooltip_column: str | None = None,
        shape: str = "cross",
        rotation_column: str | None = None,
        label_column: str | None = None,
        show: bool = True,
        swatch: str | None = None,
    ) -> None:
        if kind not in _FEATURE_KINDS:
            raise InputError(f"layer {name!r}: kind must be one of {_FEATURE_KINDS}, got {kind!r}")
        if shape not in _MARKER_SHAPES:
            raise InputError(f"layer {name!r}: shape must be one of {_MARKER_SHAPES}")
        columns = (colour_column, radius_column, tooltip_column, rotation_column, label_column)
        _require(frame, [c for c in columns if c is not None], f"layer {name!r}")
        self.name = str(name)
        self.frame = frame
        self.kind = kind
        self.style = dict(style or {})
        self.colour_column = colour_column
        self.radius_column = radius_column
        self.tooltip_column = tooltip_column
        self.shape = shape
        self.rotation_column = rotation_column
        self.label_column = label_column
        self.show = bool(show)
        self.swatch = swatch


def _safe_colour(value: object, default: str = _OTHER_COLOUR) -> str:
    """A ``#rgb``/``#rrggbb`` colour, else ``default`` (never raw text into HTML/CSS)."""
    text = "" if _missing(value) else str(value)
    return text if _COLOUR.match(text) else default


def _tooltip_html(value: object) -> str | None:
    if _missing(value) or str(value) == "":
        return None
    return "<br>".join(_e(line) for line in str(value).splitlines())


def _marker_svg(shape: str, colour: str, size: int, rotation_deg: float, label: str) -> str:
    """Inline SVG (or a disc with escaped text) for one marker; no fonts or files needed."""
    s = size
    h = s / 2
    if shape == "label":
        return (
            f'<div class="gp-rank" style="background:{colour};width:{s}px;height:{s}px;'
            f'line-height:{s - 3}px">{_e(label)}</div>'
        )
    if shape == "cross":
        a, b = s * 0.2, s * 0.8
        path = f"M{a:.1f} {a:.1f}L{b:.1f} {b:.1f}M{b:.1f} {a:.1f}L{a:.1f} {b:.1f}"
        body = (
            f'<path d="{path}" stroke="#fff" stroke-width="{s * 0.34:.1f}" '
            'stroke-linecap="round"/>'
            f'<path d="{path}" stroke="{colour}" stroke-width="{s * 0.2:.1f}" '
            'stroke-linecap="round"/>'
        )
    elif shape == "arrow":
        body = (
            f'<path d="M{s * 0.1:.1f} {s * 0.15:.1f}L{s * 0.95:.1f} {h:.1f}L{s * 0.1:.1f} '
            f'{s * 0.85:.1f}L{s * 0.3:.1f} {h:.1f}Z" fill="{colour}" stroke="#fff" '
            'stroke-width="1.2" stroke-linejoin="round" '
            f'transform="rotate({rotation_deg - 90:.1f} {h:.1f} {h:.1f})"/>'
        )
    elif shape == "plus":
        a, b = s * 0.28, s * 0.72
        body = (
            f'<circle cx="{h:.1f}" cy="{h:.1f}" r="{h - 1:.1f}" fill="{colour}" stroke="#fff" '
            'stroke-width="1.5"/>'
            f'<path d="M{h:.1f} {a:.1f}V{b:.1f}M{a:.1f} {h:.1f}H{b:.1f}" stroke="#fff" '
            f'stroke-width="{s * 0.14:.1f}" stroke-linecap="round"/>'
        )
    elif shape == "star":
        angles = np.deg2rad(np.arange(10) * 36.0 - 90.0)
        radii = np.where(np.arange(10) % 2 == 0, h - 1, (h - 1) * 0.45)
        points = " ".join(
            f"{h + r * math.cos(t):.1f},{h + r * math.sin(t):.1f}"
            for r, t in zip(radii, angles, strict=True)
        )
        body = (
            f'<polygon points="{points}" fill="{colour}" stroke="#fff" stroke-width="1.5" '
            'stroke-linejoin="round"/>'
        )
    else:  # ring
        body = (
            f'<circle cx="{h:.1f}" cy="{h:.1f}" r="{h - 2:.1f}" fill="#fff" fill-opacity="0.6" '
            f'stroke="{colour}" stroke-width="2.5" stroke-dasharray="3 2"/>'
        )
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{s}" height="{s}" '
        f'viewBox="0 0 {s} {s}" style="overflow:visible">{body}</svg>'
    )


def _feature_rows(layer: FeatureLayer, frame: gpd.GeoDataFrame) -> list[list]:
    """``[geometry or [lat, lon], colour, radius, tooltip, marker html]`` per feature.

    ``frame`` is ``layer.frame`` as drawn (:func:`_display_frame`, lines and areas simplified).
    """
    n = len(frame)
    default = _safe_colour(layer.style.get("color"), _OTHER_COLOUR)

    def values(column: str | None) -> list:
        return [None] * n if column is None else frame[column].tolist()

    colours, radii, tips = (
        values(layer.colour_column),
        values(layer.radius_column),
        values(layer.tooltip_column),
    )
    rotations, labels = values(layer.rotation_column), values(layer.label_column)
    size = int(layer.style.get("size", 18))
    if layer.kind in ("points", "markers"):
        points = [g if g.geom_type == "Point" else g.representative_point() for g in frame.geometry]
        places: list = [[round(p.y, 6), round(p.x, 6)] for p in points]
    else:
        places = _geojson_geometries(frame.geometry)
    rows = []
    for i, where in enumerate(places):
        if where is None:
            continue
        colour = None if layer.colour_column is None else _safe_colour(colours[i], default)
        radius = None
        if not _missing(radii[i]) and math.isfinite(float(radii[i])):
            radius = round(float(radii[i]), 2)
        marker = None
        if layer.kind == "markers":
            rotation = 0.0 if _missing(rotations[i]) else float(rotations[i])
            label = "" if _missing(labels[i]) else str(labels[i])
            marker = _marker_svg(layer.shape, colour or default, size, rotation, label)
        rows.append([where, colour, radius, _tooltip_html(tips[i]), marker])
    return rows


_LEGEND_SYMBOLS = (
    "dot",
    "line",
    "dashed",
    "area",
    "cross",
    "arrow",
    "plus",
    "star",
    "ring",
    "label",
    "text",
)


def _legend_symbol(symbol: str, colour: str) -> str:
    if symbol == "dot":
        return _swatch_dot(colour, size=11)
    if symbol in ("line", "dashed"):
        return _swatch_line(colour, dashed=symbol == "dashed", width=3)
    if symbol == "area":
        return _swatch_area(colour)
    if symbol == "text":
        return ""
    return _marker_svg(symbol, colour, 16, 90.0, "1" if symbol == "label" else "")


def _capped_layers(
    layers: Sequence[FeatureLayer], max_points: int | None
) -> tuple[list[FeatureLayer], list[tuple[str, str]]]:
    """The layers with each points/markers layer cut to ``max_points`` features, and a note
    (zh, en) per layer cut."""
    from ..limits import current

    limit = current().map_points if max_points is None else max_points
    out, notes = [], []
    for layer in layers:
        n = len(layer.frame)
        if layer.kind not in ("points", "markers") or n <= limit:
            out.append(layer)
            continue
        frame = layer.frame
        if layer.radius_column is not None:
            frame = frame.sort_values(layer.radius_column, ascending=False, kind="stable")
        cut = copy.copy(layer)
        cut.frame = frame.head(limit)
        cut.name = f"{layer.name} — {limit:,} / {n:,}"
        out.append(cut)
        notes.append(
            (
                f"图层“{layer.name}”有 {n:,} 个要素，超过地图上限 {limit:,}："
                "只显示最大（或排在最前）的部分；完整数据见输出表格。",
                f"layer {layer.name!r} has {n:,} features, more than the map limit of "
                f"{limit:,}: only the largest (or first) are shown; the output tables hold "
                "them all. Raise [limits] map_points to show more.",
            )
        )
        logger.warning("%s", notes[-1][1])
    return out, notes


def _feature_legend(
    title_zh: str,
    title_en: str,
    notes_zh: Sequence[str],
    notes_en: Sequence[str],
    legend: Sequence[tuple[str, Sequence[tuple[str, str, str]]]],
    lang: str | None,
) -> list[str]:
    """The legend's HTML parts of a feature map: title, notes and the caller's sections (every
    text escaped; the footer is added by the caller)."""
    parts = ['<div class="gp-legend" id="gp-legend">']
    if lang is None:
        parts.append(f'<div class="gp-title">{_e(title_zh)}</div>')
        parts.append(f'<div class="gp-subtitle">{_e(title_en)}</div>')
        notes = [
            "<br>".join(_e(t) for t in pair if t)
            for pair in zip_longest(notes_zh, notes_en, fillvalue="")
        ]
    else:
        parts.append(f'<div class="gp-title">{_e(_pick((title_zh, title_en), lang))}</div>')
        notes = [_e(t) for t in (notes_zh if lang == "zh" else notes_en) if t]
    parts += [f'<div class="gp-note">⚠ {note}</div>' for note in notes]
    for heading, rows in legend:
        parts.append(f'<div class="gp-h">{_e(heading)}</div>')
        for symbol, colour, label in rows:
            if symbol not in _LEGEND_SYMBOLS:
                raise InputError(f"legend symbol must be one of {_LEGEND_SYMBOLS}, got {symbol!r}")
            if symbol == "text":
                parts.append(f'<div class="gp-rule">{_e(label)}</div>')
                continue
            parts.append(_legend_row(_legend_symbol(symbol, _safe_colour(colour)), _e(label)))
    return parts


def _feature_group(layer: FeatureLayer, frame: gpd.GeoDataFrame) -> folium.FeatureGroup:
    """One feature layer as a toggleable group, named with its swatch."""
    colour = _safe_colour(layer.swatch or layer.style.get("color"))
    if layer.kind == "lines":
        swatch = _swatch_line(colour)
    elif layer.kind == "areas":
        swatch = _legend_symbol("area", colour)
    elif layer.kind == "markers":
        swatch = _legend_symbol(layer.shape if layer.shape != "label" else "dot", colour)
    else:
        swatch = _swatch_dot(colour)
    group = folium.FeatureGroup(name=f"{swatch} {_e(layer.name)}", show=layer.show)
    style = {k: v for k, v in layer.style.items() if k != "size"}
    size = int(layer.style.get("size", 18))
    group.add_child(
        _Script(
            f"gpFeatureLayer(parent, {_js(layer.kind)}, {_js(_feature_rows(layer, frame))}, "
            f"{_js(style)}, {size});"
        )
    )
    return group


def feature_map(
    *,
    title_zh: str,
    title_en: str,
    boundary: gpd.GeoDataFrame | None,
    layers: Sequence[FeatureLayer],
    legend: Sequence[tuple[str, Sequence[tuple[str, str, str]]]] = (),
    notes_zh: Sequence[str] = (),
    notes_en: Sequence[str] = (),
    attribution: Sequence[str] = (),
    lang: str | None = None,
    max_points: int | None = None,
) -> folium.Map:
    """A map of generic feature layers with a legend (scenarios, sites, 片区).

    Parameters
    ----------
    title_zh, title_en : str
        Map title (legend and HTML ``<title>``).
    boundary : GeoDataFrame or None
        Study-area polygons, any CRS; the map fits to it (else to the layers).
    layers : sequence of FeatureLayer
        Drawn in order (later on top); each is one entry of the layer control.
    legend : sequence of (heading, rows)
        Legend sections; each row is ``(symbol, colour, label)`` with symbol one of
        ``dot``, ``line``, ``dashed``, ``area``, ``cross``, ``arrow``, ``plus``, ``star``,
        ``ring``, ``label`` (a numbered disc) or ``text`` (the label alone). Every text is
        escaped.
    notes_zh, notes_en, attribution : sequences of str
        Warnings shown in the legend and data credits.
    lang : {None, "zh", "en"}
        ``None`` (default): title, notes and the map's own labels in both languages; else
        only those of ``lang`` (layer and legend texts are the caller's).
    max_points : int, optional
        Most features of a points or markers layer the map embeds (default: the
        ``map_points`` limit, :mod:`geoplan.limits`); a larger layer shows its largest
        (``radius_column``) or first features, and its name and a note say so.

    Returns
    -------
    folium.Map
        Write it with :func:`save_map`.
    """
    if lang is not None:
        _check_lang(lang)
    layers, capped = _capped_layers(layers, max_points)
    notes_zh = [*notes_zh, *(zh for zh, _ in capped)]
    notes_en = [*notes_en, *(en for _, en in capped)]
    if boundary is not None and boundary.empty:
        boundary = None
    if boundary is not None:
        boundary = _display_frame(boundary, "boundary", gcj02=False, simplify=True)
    shown = [
        _display_frame(
            layer.frame,
            f"layer {layer.name!r}",
            gcj02=False,
            simplify=layer.kind in ("lines", "areas"),
        )
        for layer in layers
    ]
    bounds = _bounds(boundary) or _bounds(*shown)
    m = _new_map(bounds)
    m.get_root().title = _e(_pick((title_zh, title_en), lang))
    parts = _feature_legend(title_zh, title_en, notes_zh, notes_en, legend, lang)
    parts.extend(
        _legend_footer(has_boundary=boundary is not None, attribution=attribution, lang=lang)
    )
    body = _interface_html("\n".join(parts), rules=(), lang=lang)
    m.add_child(_Setup(body_html=body, attribution=attribution, lang=lang))
    m.add_child(_Script(_asset("features.js"), wrap=False))
    hooked: dict[str, folium.FeatureGroup] = {}
    if boundary is not None:
        hooked["boundary"] = _boundary_layer(boundary, lang).add_to(m)
    in_front = []
    for index, (layer, frame) in enumerate(zip(layers, shown, strict=True)):
        group = _feature_group(layer, frame)
        hooked[f"features:{index}"] = group.add_to(m)
        if layer.kind == "points":
            in_front.append(group)
    if in_front:
        m.add_child(_KeepInFront(in_front))
    control = folium.LayerControl(collapsed=False, position="topright").add_to(m)
    m.add_child(_Interface(control, hooked, [], bounds))
    return m
