"""Self-contained, offline HTML coverage maps (the only module that imports folium).

:func:`coverage_map` builds a :class:`folium.Map` with one toggleable layer per theme:
boundary, per-rule travel-time bands on the streets, per-rule uncovered population and ranked
gap areas, and the facilities by category, plus a bilingual legend. :func:`save_map` writes it
as one HTML file that loads nothing from the network: Leaflet's JS and CSS (from
``xstatic-leaflet``) are inlined and folium's other CDN resources (jQuery, Bootstrap,
Awesome Markers, Font Awesome) are dropped — the map uses only Leaflet primitives
(circle markers, polylines, polygons, div icons), so it needs none of them.

Every user-supplied string (names, addresses, titles, notes, attribution) is HTML-escaped
before it reaches a popup, tooltip, layer name or the legend. The data of the layers is
embedded as compact JSON and drawn by a few lines of JavaScript (street geometry once,
delta-encoded; per rule only a band code per street), so a county with 100k streets stays a
file a browser opens.
"""

from __future__ import annotations

import base64
import functools
import html
import json
import math
import re
from collections.abc import Mapping, Sequence
from html.parser import HTMLParser
from itertools import zip_longest
from pathlib import Path

import folium
import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from branca.element import MacroElement
from jinja2 import Template

from ._io import write_text
from .errors import InputError
from .schema import CATEGORIES, GROUP_LABELS, TIER_LABELS

__all__ = [
    "BAND_COLOURS",
    "GROUP_COLOURS",
    "FeatureLayer",
    "coverage_map",
    "feature_map",
    "map_html",
    "save_map",
]

BAND_COLOURS: tuple[str, ...] = ("#006837", "#66bd63", "#f59d3d", "#d73027", "#8c8c8c")
"""Street colours: ≤ ⅓ threshold, ≤ ⅔, ≤ threshold, > threshold, unreachable."""
_BAND_DRAW_ORDER = (4, 0, 1, 2, 3)  # unreachable at the bottom, beyond-threshold on top

GROUP_COLOURS: dict[str, str] = {
    "medical": "#1f5aa6",
    "fitness": "#e66101",
    "ems": "#01857a",
    "public_health": "#8c6d31",
}
_OTHER_COLOUR = "#555555"
_UNCOVERED_COLOUR = "#c51b7d"
_GAP_COLOUR = "#7a0177"
_BOUNDARY_COLOUR = "#3a3a3a"
_BACKGROUND = "#ebe8e1"

MAX_RANK_LABELS = 10
"""Gap areas ranked this high or better get a numbered marker (all get a polygon and popup)."""
_MAX_RADIUS_PX = 10.0
_MIN_RADIUS_PX = 1.5
_SIMPLIFY_M = 1.0  # street/boundary simplification tolerance in a projected CRS
_SIMPLIFY_DEG = 1e-5  # ... and in degrees when the input is geographic
_FONT = '"Noto Sans CJK SC", "Source Han Sans SC", "PingFang SC", "Microsoft YaHei", sans-serif'


# --------------------------------------------------------------------------- small helpers


def _e(value: object) -> str:
    """HTML-escape any value as text."""
    return html.escape(str(value), quote=True)


def _js(value: object) -> str:
    """Compact JSON that is safe inside an HTML ``<script>`` element."""
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    return (
        text.replace("</", "<\\/")
        .replace("<!--", "<\\!--")
        .replace("\u2028", "\\u2028")
        .replace("\u2029", "\\u2029")
    )


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


def _fmt_pct(share: object) -> str:
    """0.873 → ``87.3%``, 1.0 → ``100%``; NaN → ``—``."""
    if _missing(share):
        return "—"
    text = f"{float(share) * 100:.1f}".rstrip("0").rstrip(".")
    return f"{text}%"


def _fmt_min(minutes: float) -> str:
    return f"{minutes:g}" if float(minutes).is_integer() else f"{minutes:.1f}"


def _minutes_text(minutes: object) -> str:
    if _missing(minutes) or not math.isfinite(float(minutes)):
        return "不可达 / unreachable"
    return f"{float(minutes):.1f} 分钟 min"


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


def _simplified(geoms: gpd.GeoSeries) -> gpd.GeoSeries:
    """Douglas–Peucker at about a metre, then WGS84."""
    if geoms.crs is not None and geoms.crs.is_projected:
        geoms = geoms.simplify(_SIMPLIFY_M, preserve_topology=True)
    elif len(geoms):
        geoms = geoms.simplify(_SIMPLIFY_DEG, preserve_topology=True)
    return geoms.to_crs(4326)


def _geojson_geometry(geom) -> dict | None:
    """GeoJSON geometry with coordinates rounded to 6 decimals (about 0.1 m)."""
    if geom is None or geom.is_empty:
        return None
    rounded = shapely.transform(geom, lambda c: np.round(c, 6))
    return shapely.geometry.mapping(rounded)


def _category_label(key: object) -> tuple[str, str, str]:
    """``(name_zh, name_en, group)`` of a category key; the key itself when unknown."""
    cat = CATEGORIES.get(str(key))
    if cat is None:
        return str(key), str(key), ""
    return cat.name_zh, cat.name_en, cat.group


def _tier_label(tier: object) -> str:
    if _missing(tier) or str(tier) == "":
        return "—"
    if str(tier) in TIER_LABELS:
        zh, en = TIER_LABELS[str(tier)]
        return f"{zh} / {en}"
    return str(tier)


def _group_colour(group: str) -> str:
    return GROUP_COLOURS.get(group, _OTHER_COLOUR)


def _swatch_dot(colour: str, *, size: int = 10, border: str = "#fff") -> str:
    return (
        f'<span class="gp-dot" style="background:{colour};width:{size}px;height:{size}px;'
        f'border-color:{border}"></span>'
    )


def _swatch_line(colour: str, *, dashed: bool = False, width: int = 3) -> str:
    style = "dashed" if dashed else "solid"
    return f'<span class="gp-line" style="border-top:{width}px {style} {colour}"></span>'


def _band_edges(threshold_min: float) -> tuple[float, float, float]:
    return threshold_min / 3, 2 * threshold_min / 3, threshold_min


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


def _band_labels(thresholds: Sequence[float]) -> list[str]:
    """Bilingual labels of the five bands; several thresholds are joined with ``|``."""
    ts = sorted({float(t) for t in thresholds}) or [15.0]

    def join(k: int) -> str:
        return " | ".join(_fmt_min(_band_edges(t)[k]) for t in ts)

    return [
        f"≤ {join(0)} 分钟 min",
        f"≤ {join(1)} 分钟 min",
        f"≤ {join(2)} 分钟 min（阈值内 within threshold）",
        f"> {join(2)} 分钟 min（超出阈值 beyond threshold）",
        "不可达 unreachable",
    ]


# --------------------------------------------------------------------------- map elements


class _Script(MacroElement):
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


class _Setup(MacroElement):
    """Panes, helper functions, scale bar, attribution and the legend (fixed box)."""

    _template = Template(
        """
{% macro header(this, kwargs) %}
<style>
{{ this.css }}
</style>
<script>
{{ this.helpers }}
</script>
{% endmacro %}
{% macro html(this, kwargs) %}
{{ this.legend_html }}
{% endmacro %}
{% macro script(this, kwargs) %}
(function (map) {
    map.createPane("gpBoundary").style.zIndex = 340;
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

    def __init__(self, *, legend_html: str, attribution: Sequence[str]) -> None:
        super().__init__()
        self._name = "GeoplanSetup"
        self.legend_html = legend_html
        self.attribution = [_js(_e(a)) for a in attribution]
        self.css = _CSS
        self.helpers = _HELPERS_JS


class _KeepInFront(MacroElement):
    """Bring the facility layers back to the top whenever another overlay is switched on."""

    _template = Template(
        """
{% macro script(this, kwargs) %}
(function (map, groups) {
    map.on("overlayadd", function () {
        groups.forEach(function (g) { if (map.hasLayer(g)) { g.bringToFront(); } });
    });
})({{ this._parent.get_name() }}, [{% for g in this.groups %}{{ g.get_name() }},{% endfor %}]);
{% endmacro %}
"""
    )

    def __init__(self, groups: Sequence[folium.FeatureGroup]) -> None:
        super().__init__()
        self._name = "GeoplanKeepInFront"
        self.groups = list(groups)


class _FitBesidePanels(MacroElement):
    """Fit the map to ``bounds`` in the space left free by the legend and the layer list."""

    _template = Template(
        """
{% macro script(this, kwargs) %}
(function (map, bounds) {
    var touched = false;
    function fit() {
        var size = map.getSize(), left = 16, right = 16;
        var legend = document.getElementById("gp-legend");
        var layers = document.querySelector(".leaflet-control-layers");
        if (legend && size.x > 2.5 * legend.offsetWidth) { left += legend.offsetWidth + 10; }
        if (layers && size.x - left - layers.offsetWidth > 400) {
            right += layers.offsetWidth + 10;
        }
        map.fitBounds(bounds, {paddingTopLeft: [left, 16], paddingBottomRight: [right, 16],
                              animate: false});
    }
    fit();
    /* refit on resize until the reader moves the map */
    ["mousedown", "wheel", "touchstart", "keydown"].forEach(function (type) {
        map.getContainer().addEventListener(type, function () { touched = true; });
    });
    map.on("resize", function () { if (!touched) { fit(); } });
})({{ this._parent.get_name() }}, {{ this.bounds }});
{% endmacro %}
"""
    )

    def __init__(self, bounds: list[list[float]]) -> None:
        super().__init__()
        self._name = "GeoplanFitBounds"
        self.bounds = _js([[round(v, 6) for v in corner] for corner in bounds])


_CSS = f"""
.leaflet-container {{ background: {_BACKGROUND}; font-family: {_FONT}; }}
.leaflet-control-layers {{ font-size: 11.5px; line-height: 1.3; max-height: calc(100% - 90px);
    overflow-y: auto; }}
.leaflet-control-layers label {{ max-width: 290px; white-space: normal; margin: 2px 0; }}
.leaflet-control-attribution {{ font-size: 11px; }}
.gp-legend {{ position: fixed; left: 10px; bottom: 22px; z-index: 1000; max-width: 370px;
    max-height: calc(100% - 110px); overflow-y: auto; background: rgba(255,255,255,0.94);
    border: 1px solid #bbb; border-radius: 6px; box-shadow: 0 1px 5px rgba(0,0,0,0.3);
    padding: 9px 12px; font: 12px/1.45 {_FONT}; color: #222; }}
.gp-legend .gp-title {{ font-size: 16px; font-weight: bold; }}
.gp-legend .gp-subtitle {{ font-size: 13px; color: #444; margin-bottom: 4px; }}
.gp-legend .gp-h {{ font-weight: bold; margin: 7px 0 2px; border-bottom: 1px solid #ddd; }}
.gp-legend .gp-row {{ display: flex; align-items: center; gap: 6px; margin: 1px 0; }}
.gp-legend .gp-sym {{ flex: 0 0 26px; display: flex; justify-content: center; }}
.gp-legend .gp-note {{ background: #fff4ce; border-left: 4px solid #e0a800; padding: 3px 6px;
    margin: 4px 0; }}
.gp-legend .gp-met {{ color: #1a7a32; font-weight: bold; }}
.gp-legend .gp-unmet {{ color: #b2182b; font-weight: bold; }}
.gp-legend .gp-attr {{ margin-top: 7px; color: #666; font-size: 11px; }}
.gp-dot {{ display: inline-block; border-radius: 50%; border: 1.5px solid #fff;
    box-shadow: 0 0 0 1px rgba(0,0,0,0.25); vertical-align: middle; }}
.gp-line {{ display: inline-block; width: 24px; height: 0; vertical-align: middle; }}
.gp-area {{ display: inline-block; width: 20px; height: 12px; vertical-align: middle; }}
.gp-rank {{ background: {_GAP_COLOUR}; color: #fff; border: 1.5px solid #fff; border-radius: 50%;
    box-shadow: 0 1px 3px rgba(0,0,0,0.5); text-align: center; font: bold 11px/17px {_FONT}; }}
.gp-pop {{ font: 12px/1.4 {_FONT}; }}
.gp-pop table {{ border-collapse: collapse; margin-top: 3px; }}
.gp-pop th {{ text-align: left; font-weight: normal; color: #555; padding: 1px 8px 1px 0;
    white-space: nowrap; vertical-align: top; }}
.gp-pop td {{ padding: 1px 0; }}
"""

_HELPERS_JS = """
function gpDecodeLines(parts) {
    /* [lat0, lon0, dlat1, dlon1, ...] in 1e-6 degrees -> arrays of L.LatLng */
    return parts.map(function (a) {
        var out = [], lat = 0, lon = 0;
        for (var i = 0; i < a.length; i += 2) {
            lat += a[i]; lon += a[i + 1];
            out.push(L.latLng(lat / 1e6, lon / 1e6));
        }
        return out;
    });
}
function gpBands(group, lines, codes, styles, order) {
    var buckets = styles.map(function () { return []; });
    for (var i = 0; i < codes.length; i++) { buckets[codes.charCodeAt(i) - 48].push(lines[i]); }
    order.forEach(function (b) {
        if (buckets[b].length) {
            L.polyline(buckets[b], Object.assign({pane: "gpBands", interactive: false},
                                                 styles[b])).addTo(group);
        }
    });
}
function gpFmtInt(x) { return Math.round(x).toLocaleString("en-US"); }
function gpUncovered(group, rows, k, style, text) {
    /* rows: [lat, lon, population, minutes|null]; radius = k * sqrt(population) */
    rows.forEach(function (r) {
        var radius = Math.max(%MIN%, Math.min(%MAX%, k * Math.sqrt(r[2])));
        var tip = text.pop + gpFmtInt(r[2]) + "<br>" +
            (r[3] === null ? text.unreachable : text.time + r[3].toFixed(1) + text.unit) +
            text.threshold;
        L.circleMarker([r[0], r[1]], Object.assign({radius: radius}, style))
            .bindTooltip(tip).addTo(group);
    });
}
function gpFacilities(group, rows, style) {
    /* rows: [lat, lon, tooltip html, popup html] (already escaped) */
    rows.forEach(function (r) {
        L.circleMarker([r[0], r[1]], style).bindTooltip(r[2]).bindPopup(r[3], {maxWidth: 360})
            .addTo(group);
    });
}
function gpGaps(group, rows, style) {
    /* rows: [geojson geometry, [lat, lon] label point or null, rank, tooltip, popup] */
    rows.slice().reverse().forEach(function (r) {
        L.geoJSON(r[0], {style: function () { return style; }})
            .bindTooltip(r[3], {sticky: true}).bindPopup(r[4], {maxWidth: 360}).addTo(group);
        if (r[1] === null) { return; }
        var icon = L.divIcon({className: "gp-rank", html: String(r[2]),
                              iconSize: [20, 20], iconAnchor: [10, 10]});
        L.marker(r[1], {icon: icon, keyboard: false, riseOnHover: true,
                        zIndexOffset: 1000 - r[2]}).bindTooltip(r[3])
            .bindPopup(r[4], {maxWidth: 360}).addTo(group);
    });
}
""".replace("%MIN%", str(_MIN_RADIUS_PX)).replace("%MAX%", str(_MAX_RADIUS_PX))


# --------------------------------------------------------------------------- layers


def _encode_lines(geoms: gpd.GeoSeries) -> tuple[list[list[int]], np.ndarray]:
    """Delta-encoded integer coordinates (1e-6 degrees) per line part, and each part's row.

    ``geoms`` are in WGS84; MultiLineStrings become several parts of the same row.
    """
    values = geoms.values
    parts, row = shapely.get_parts(np.asarray(values), return_index=True)
    if len(parts) == 0:
        return [], np.zeros(0, dtype=np.int64)
    keep = ~shapely.is_empty(parts)
    parts, row = parts[keep], row[keep]
    coords, which = shapely.get_coordinates(parts, return_index=True)
    q = np.round(coords[:, ::-1] * 1e6).astype(np.int64)  # lat, lon
    delta = q.copy()
    delta[1:] -= q[:-1]
    starts = np.flatnonzero(np.r_[True, which[1:] != which[:-1]])
    delta[starts] = q[starts]
    encoded = [chunk.tolist() for chunk in np.split(delta.ravel(), starts[1:] * 2)]
    return encoded, row


def _boundary_layer(boundary: gpd.GeoDataFrame) -> folium.FeatureGroup:
    group = folium.FeatureGroup(name=_e("边界 / Boundary"), show=True)
    geoms = _simplified(boundary.geometry)
    features = [g for g in (_geojson_geometry(geom) for geom in geoms) if g is not None]
    style = {
        "color": _BOUNDARY_COLOUR,
        "weight": 2,
        "dashArray": "6 4",
        "fill": True,
        "fillColor": "#ffffff",
        "fillOpacity": 0.65,
    }
    data = {"type": "GeometryCollection", "geometries": features}
    code = (
        f"var style = {_js(style)};\n"
        f"L.geoJSON({_js(data)}, {{style: function () {{ return style; }}, "
        'pane: "gpBoundary", interactive: false}).addTo(parent);'
    )
    group.add_child(_Script(code))
    return group


def _band_styles() -> list[dict]:
    styles = [{"color": c, "weight": 2.6, "opacity": 0.95} for c in BAND_COLOURS[:4]]
    styles.append({"color": BAND_COLOURS[4], "weight": 1.2, "opacity": 0.8, "dashArray": "3 3"})
    return styles


def _uncovered_rows(demand: gpd.GeoDataFrame, rule_id: str) -> list[list]:
    covered = demand[f"{rule_id}_covered"].astype("boolean").fillna(False).to_numpy(dtype=bool)
    population = pd.to_numeric(demand["population"], errors="coerce").to_numpy(dtype=float)
    minutes = pd.to_numeric(demand[f"{rule_id}_minutes"], errors="coerce").to_numpy(dtype=float)
    mask = ~covered & (population > 0)
    xs = np.round(demand.geometry.x.to_numpy()[mask], 6)
    ys = np.round(demand.geometry.y.to_numpy()[mask], 6)
    rows = []
    for lat, lon, pop, mins in zip(ys, xs, population[mask], minutes[mask], strict=True):
        rows.append(
            [
                float(lat),
                float(lon),
                round(float(pop), 1),
                round(float(mins), 1) if math.isfinite(mins) else None,
            ]
        )
    return rows


def _radius_scale(rows_per_rule: Sequence[Sequence[Sequence]]) -> float:
    """``k`` of ``radius_px = k * sqrt(population)``, shared by all rules.

    The most populous point gets ``_MAX_RADIUS_PX`` on a map with up to 500 points; with more
    points the largest circle shrinks (down to 3 px) so a county's points do not merge into
    one blot.
    """
    max_pop = max((r[2] for rows in rows_per_rule for r in rows), default=0.0)
    if max_pop <= 0:
        return 0.0
    n = max((len(rows) for rows in rows_per_rule), default=0)
    largest = min(_MAX_RADIUS_PX, max(3.0, _MAX_RADIUS_PX * math.sqrt(500 / max(n, 1))))
    return largest / math.sqrt(max_pop)


def _facility_popup(row: Mapping) -> tuple[str, str]:
    """(tooltip, popup) HTML for one facility, every value escaped."""
    name = "" if _missing(row.get("name")) else str(row.get("name"))
    zh, en, _ = _category_label(row.get("category"))
    tooltip = f"<b>{_e(name)}</b><br>{_e(zh)} / {_e(en)}"
    fields = [
        ("类别 category", f"{zh} / {en}"),
        ("级别 tier", _tier_label(row.get("tier"))),
        ("地址 address", "—" if _missing(row.get("address")) else str(row.get("address"))),
        ("床位 beds", _fmt_num(row.get("beds"))),
        ("医生 doctors", _fmt_num(row.get("doctors"))),
        ("护士 nurses", _fmt_num(row.get("nurses"))),
        ("编号 ID", "—" if _missing(row.get("facility_id")) else str(row.get("facility_id"))),
    ]
    cells = "".join(f"<tr><th>{_e(k)}</th><td>{_e(v)}</td></tr>" for k, v in fields)
    popup = f'<div class="gp-pop"><b>{_e(name)}</b><table>{cells}</table></div>'
    return tooltip, popup


def _gap_rows(
    gaps: gpd.GeoDataFrame, rule: Mapping, facility_names: Mapping[str, str]
) -> list[list]:
    rule_gaps = gaps[gaps["rule_id"].astype(str) == str(rule["id"])]
    if rule_gaps.empty:
        return []
    rule_gaps = rule_gaps.sort_values("rank")
    label_points = rule_gaps.geometry.representative_point().to_crs(4326)
    shapes = _simplified(gpd.GeoSeries(rule_gaps.geometry, crs=gaps.crs))
    rows = []
    for (_, gap), shape, point in zip(rule_gaps.iterrows(), shapes, label_points, strict=True):
        geometry = _geojson_geometry(shape)
        if geometry is None:
            continue
        rank = int(gap["rank"])
        name = gap.get("nearest_facility_name")
        if _missing(name):
            fid = gap.get("nearest_facility_id")
            name = None if _missing(fid) else facility_names.get(str(fid), str(fid))
        median_s = gap.get("median_travel_time_s")
        median_min = None if _missing(median_s) else float(median_s) / 60
        tooltip = f"缺口 gap #{rank}: {_fmt_num(gap.get('population'))} 人 people"
        fields = [
            ("覆盖规则 rule", f"{rule.get('name_zh', '')} / {rule.get('name_en', '')}"),
            ("人口 population", _fmt_num(gap.get("population"))),
            ("中位出行时间 median travel time", _minutes_text(median_min)),
            ("最近设施 nearest facility", "—" if _missing(name) else str(name)),
        ]
        if not _missing(gap.get("unit_name")):
            fields.append(("所在单元 unit", str(gap.get("unit_name"))))
        cells = "".join(f"<tr><th>{_e(k)}</th><td>{_e(v)}</td></tr>" for k, v in fields)
        popup = (
            f'<div class="gp-pop"><b>缺口 Gap #{rank}（按人口排名 ranked by population）</b>'
            f"<table>{cells}</table></div>"
        )
        label = [round(point.y, 6), round(point.x, 6)] if rank <= MAX_RANK_LABELS else None
        rows.append([geometry, label, rank, _e(tooltip), popup])
    return rows


# --------------------------------------------------------------------------- legend


def _legend_html(
    *,
    title_zh: str,
    title_en: str,
    rules: Sequence[Mapping],
    groups_present: Sequence[str],
    notes_zh: Sequence[str],
    notes_en: Sequence[str],
    attribution: Sequence[str],
    has_boundary: bool,
) -> str:
    parts = [
        '<div class="gp-legend" id="gp-legend">',
        f'<div class="gp-title">{_e(title_zh)}</div>',
        f'<div class="gp-subtitle">{_e(title_en)}</div>',
    ]
    for zh, en in zip_longest(notes_zh, notes_en, fillvalue=""):
        lines = "<br>".join(_e(t) for t in (zh, en) if t)
        parts.append(f'<div class="gp-note">⚠ {lines}</div>')
    if rules:
        parts.append('<div class="gp-h">人口覆盖率 / Share of population covered</div>')
        for rule in rules:
            share = rule.get("share_covered")
            target = rule.get("target_share")
            cls = ""
            if not _missing(target) and not _missing(share):
                cls = "gp-met" if float(share) >= float(target) - 1e-12 else "gp-unmet"
            target_text = "" if _missing(target) else f" (目标 target {_fmt_pct(target)})"
            parts.append(
                f'<div class="gp-rule">{_e(rule.get("name_zh", ""))} / '
                f"{_e(rule.get('name_en', ''))}: "
                f'<span class="{cls}">{_e(_fmt_pct(share))}</span>{_e(target_text)}</div>'
            )
        parts.append(
            '<div class="gp-h">街道至最近设施的出行时间 / Travel time to the nearest facility '
            "(streets)</div>"
        )
        labels = _band_labels([float(r["threshold_min"]) for r in rules])
        for k, label in enumerate(labels):
            swatch = _swatch_line(BAND_COLOURS[k], dashed=k == 4, width=2 if k == 4 else 3)
            parts.append(
                f'<div class="gp-row"><span class="gp-sym">{swatch}</span>'
                f"<span>{_e(label)}</span></div>"
            )
    parts.append('<div class="gp-h">符号 / Symbols</div>')
    for group in groups_present:
        zh, en = GROUP_LABELS.get(group, ("其他设施", "other facilities"))
        parts.append(
            f'<div class="gp-row"><span class="gp-sym">{_swatch_dot(_group_colour(group))}'
            f"</span><span>{_e(zh)} / {_e(en)}</span></div>"
        )
    if rules:
        parts.append(
            f'<div class="gp-row"><span class="gp-sym">'
            f"{_swatch_dot(_UNCOVERED_COLOUR, size=12, border=_UNCOVERED_COLOUR)}</span>"
            "<span>未覆盖人口（圆面积∝人口）/ uncovered population (area ∝ people)</span></div>"
        )
        parts.append(
            f'<div class="gp-row"><span class="gp-sym"><span class="gp-area" '
            f'style="background:rgba(122,1,119,0.1);border:2px solid {_GAP_COLOUR}"></span>'
            f"</span><span>缺口区域，前 {MAX_RANK_LABELS} 名标注排名（按未覆盖人口）/ gap area, "
            f"top {MAX_RANK_LABELS} labelled with their rank by uncovered population"
            "</span></div>"
        )
    parts.extend(_legend_footer(has_boundary=has_boundary, attribution=attribution))
    return "\n".join(parts)


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
    notes_zh: Sequence[str] = (),
    notes_en: Sequence[str] = (),
    attribution: Sequence[str] = (),
    basemap: bool = False,
) -> folium.Map:
    """Build the coverage map of a project.

    Parameters
    ----------
    title_zh, title_en : str
        Map title (legend and HTML ``<title>``).
    boundary : GeoDataFrame or None
        Study-area polygons, any CRS.
    facilities : GeoDataFrame
        Points with ``facility_id``, ``name``, ``category`` (taxonomy key), ``tier``,
        ``address``, ``beds``, ``doctors``, ``nurses`` (NaN allowed; missing columns shown
        as "—").
    rules : sequence of mappings
        Each with ``id``, ``name_zh``, ``name_en``, ``threshold_min``, ``share_covered``
        (0..1) and ``target_share`` (float or None).
    street_minutes : GeoDataFrame
        Street lines with one float column per rule id: minutes to that rule's nearest
        facility (NaN = unreachable). For display only.
    demand : GeoDataFrame
        Points with ``population`` and per rule ``<id>_covered`` and ``<id>_minutes``.
    gaps : GeoDataFrame
        Polygons with ``rule_id``, ``rank``, ``population``, ``median_travel_time_s`` and
        ``nearest_facility_name`` (or ``nearest_facility_id``, looked up in ``facilities``).
    notes_zh, notes_en : sequences of str
        Shown in the legend as warnings (paired by position).
    attribution : sequence of str
        Data credits, shown in the legend and the map's attribution control.
    basemap : bool
        Add OpenStreetMap tiles (an explicit opt-in: the map is then no longer offline).

    Returns
    -------
    folium.Map
        Write it with :func:`save_map` (``Map.save`` would reference CDNs).
    """
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

    facilities = _to_wgs84(facilities, "facilities")
    demand_wgs = _to_wgs84(demand, "demand")
    if boundary is not None and boundary.empty:
        boundary = None
    boundary_wgs = None if boundary is None else _to_wgs84(boundary, "boundary")
    # Frames without CRS are accepted as lon/lat (or rejected); the others keep their
    # projected CRS until simplified.
    if boundary is not None and boundary.crs is None:
        boundary = boundary_wgs
    if street_minutes.crs is None:
        street_minutes = _to_wgs84(street_minutes, "street_minutes")
    if gaps.crs is None:
        gaps = _to_wgs84(gaps, "gaps")

    m = folium.Map(
        location=_centre(boundary_wgs, demand_wgs, facilities),
        zoom_start=13,
        tiles=None,
        prefer_canvas=True,
        control_scale=False,
        zoom_snap=0.25,
        zoom_delta=0.5,
    )
    m.get_root().title = _e(f"{title_zh} / {title_en}")
    if basemap:
        folium.TileLayer("OpenStreetMap", name=_e("OpenStreetMap 底图 / basemap")).add_to(m)

    categories = list(dict.fromkeys(facilities["category"].dropna()))
    groups_present = list(dict.fromkeys(_category_label(c)[2] for c in categories))
    legend = _legend_html(
        title_zh=title_zh,
        title_en=title_en,
        rules=rules,
        groups_present=groups_present,
        notes_zh=list(notes_zh),
        notes_en=list(notes_en),
        attribution=list(attribution),
        has_boundary=boundary_wgs is not None,
    )
    m.add_child(_Setup(legend_html=legend, attribution=attribution))

    if boundary is not None:
        _boundary_layer(boundary).add_to(m)

    # Street geometry once (delta-encoded), band codes per rule.
    streets = street_minutes[~(street_minutes.geometry.isna() | street_minutes.geometry.is_empty)]
    lines, part_row = _encode_lines(_simplified(streets.geometry))
    lines_var = f"gp_lines_{m.get_name()}"
    if rules:
        m.add_child(_Script(f"var {lines_var} = gpDecodeLines({_js(lines)});", wrap=False))

    uncovered_rows = {rid: _uncovered_rows(demand_wgs, rid) for rid in rule_ids}
    k = _radius_scale(list(uncovered_rows.values()))
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
    gap_style = {
        "color": _GAP_COLOUR,
        "weight": 1.5,
        "dashArray": "5 3",
        "fillColor": _GAP_COLOUR,
        "fillOpacity": 0.1,
    }
    for i, rule in enumerate(rules):
        rid = str(rule["id"])
        name = f"{rule['name_zh']} / {rule['name_en']}"
        threshold = float(rule["threshold_min"])
        minutes = pd.to_numeric(streets[rid], errors="coerce").to_numpy(dtype=float)
        codes = "".join(map(str, _band_codes(minutes, threshold)[part_row].tolist()))

        bands = folium.FeatureGroup(
            name=f"{_swatch_line(BAND_COLOURS[0])} "
            + _e(f"{rule['name_zh']}：出行时间分段 / {rule['name_en']}: travel-time bands"),
            show=i == 0,
        )
        bands.add_child(
            _Script(
                f"gpBands(parent, {lines_var}, {_js(codes)}, {_js(band_styles)}, "
                f"{_js(list(_BAND_DRAW_ORDER))});"
            )
        )
        bands.add_to(m)

        uncovered = folium.FeatureGroup(
            name=f"{_swatch_dot(_UNCOVERED_COLOUR, border=_UNCOVERED_COLOUR)} "
            + _e(f"{rule['name_zh']}：未覆盖人口 / {rule['name_en']}: uncovered population"),
            show=i == 0,
        )
        text = {
            "pop": _e("未覆盖人口 uncovered population: "),
            "time": _e("至最近设施 to nearest facility: "),
            "unit": _e(" 分钟 min"),
            "unreachable": _e("不可达 / unreachable"),
            "threshold": "<br>" + _e(f"{name}（阈值 threshold {_fmt_min(threshold)} 分钟 min）"),
        }
        uncovered.add_child(
            _Script(
                f"gpUncovered(parent, {_js(uncovered_rows[rid])}, {k!r}, "
                f"{_js(uncovered_style)}, {_js(text)});"
            )
        )
        uncovered.add_to(m)

        gap_group = folium.FeatureGroup(
            name='<span class="gp-rank" style="display:inline-block;width:16px;'
            'font-size:10px;line-height:14px">1</span> '
            + _e(f"{rule['name_zh']}：缺口区域排名 / {rule['name_en']}: ranked gap areas"),
            show=i == 0,
        )
        gap_group.add_child(
            _Script(
                f"gpGaps(parent, {_js(_gap_rows(gaps, rule, facility_names))}, {_js(gap_style)});"
            )
        )
        gap_group.add_to(m)

    facility_groups = []
    for category in categories:
        zh, en, group = _category_label(category)
        subset = facilities[facilities["category"] == category]
        subset = subset[~(subset.geometry.isna() | subset.geometry.is_empty)]
        rows = []
        for (_, row), geom in zip(subset.iterrows(), subset.geometry, strict=True):
            tooltip, popup = _facility_popup(row)
            rows.append([round(geom.y, 6), round(geom.x, 6), tooltip, popup])
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
            name=f"{_swatch_dot(colour)} " + _e(f"设施：{zh} / Facilities: {en} ({len(rows)})"),
            show=True,
        )
        fg.add_child(_Script(f"gpFacilities(parent, {_js(rows)}, {_js(style)});"))
        fg.add_to(m)
        facility_groups.append(fg)
    if facility_groups:
        m.add_child(_KeepInFront(facility_groups))

    folium.LayerControl(collapsed=False, position="topright").add_to(m)
    bounds = _bounds(boundary_wgs, demand_wgs, facilities)
    if bounds is not None:
        m.add_child(_FitBesidePanels(bounds))
    return m


def _bounds(*frames: gpd.GeoDataFrame | None) -> list[list[float]] | None:
    """``[[south, west], [north, east]]`` of the boundary and demand, else the facilities."""
    boundary, demand, facilities = frames
    chosen = [f for f in (boundary, demand) if f is not None and not f.empty]
    if not chosen and facilities is not None and not facilities.empty:
        chosen = [facilities]
    boxes = [f.total_bounds for f in chosen]
    boxes = [b for b in boxes if np.all(np.isfinite(b))]
    if not boxes:
        return None
    arr = np.array(boxes)
    return [
        [float(arr[:, 1].min()), float(arr[:, 0].min())],
        [float(arr[:, 3].max()), float(arr[:, 2].max())],
    ]


def _centre(*frames: gpd.GeoDataFrame | None) -> list[float]:
    bounds = _bounds(*frames)
    if bounds is None:
        return [35.0, 105.0]
    return [(bounds[0][0] + bounds[1][0]) / 2, (bounds[0][1] + bounds[1][1]) / 2]


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


def _check_offline(text: str) -> None:
    """Raise if the HTML still references a network resource."""
    finder = _ResourceFinder()
    finder.feed(text)
    finder.close()
    problems = list(finder.remote)
    for style in re.findall(r"<style\b[^>]*>(.*?)</style>", text, re.I | re.S):
        if _CSS_REMOTE.search(style):
            problems.append("a <style> block with a remote url() or @import")
    if problems:
        raise RuntimeError(
            "the map HTML would load resources from the network: "
            + "; ".join(problems)
            + " (a folium update may have added a CDN resource; inline or drop it in maps.py)"
        )


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
    text = m.get_root().render()
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

    text = _SCRIPT_SRC.sub(lambda mt: script(mt), text)
    text = _LINK_HREF.sub(lambda mt: link(mt), text)
    _check_offline(text)
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


def _feature_rows(layer: FeatureLayer) -> list[list]:
    """``[geometry or [lat, lon], colour, radius, tooltip, marker html]`` per feature."""
    frame = layer.frame
    if frame.crs is None:
        frame = _to_wgs84(frame, f"layer {layer.name!r}")
    frame = frame[~(frame.geometry.isna() | frame.geometry.is_empty)]
    if layer.kind in ("lines", "areas"):
        geoms = _simplified(frame.geometry)
    else:
        geoms = frame.geometry.to_crs(4326)
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
    rows = []
    for i, geom in enumerate(geoms):
        colour = None if layer.colour_column is None else _safe_colour(colours[i], default)
        radius = None
        if not _missing(radii[i]) and math.isfinite(float(radii[i])):
            radius = round(float(radii[i]), 2)
        if layer.kind in ("points", "markers"):
            point = geom if geom.geom_type == "Point" else geom.representative_point()
            where: object = [round(point.y, 6), round(point.x, 6)]
        else:
            where = _geojson_geometry(geom)
            if where is None:
                continue
        marker = None
        if layer.kind == "markers":
            rotation = 0.0 if _missing(rotations[i]) else float(rotations[i])
            label = "" if _missing(labels[i]) else str(labels[i])
            marker = _marker_svg(layer.shape, colour or default, size, rotation, label)
        rows.append([where, colour, radius, _tooltip_html(tips[i]), marker])
    return rows


_FEATURES_JS = """
function gpFeatureLayer(group, kind, rows, style, size) {
    /* rows: [geometry | [lat, lon], colour|null, radius|null, tooltip html|null, icon html] */
    rows.forEach(function (r) {
        var s = Object.assign({}, style), layer;
        if (r[1] !== null) {
            if (kind !== "points") { s.color = r[1]; }
            s.fillColor = r[1];
        }
        if (kind === "points") {
            if (r[2] !== null) { s.radius = r[2]; }
            layer = L.circleMarker(r[0], s);
        } else if (kind === "markers") {
            layer = L.marker(r[0], {icon: L.divIcon({className: "gp-marker", html: r[4],
                iconSize: [size, size], iconAnchor: [size / 2, size / 2]}), keyboard: false});
        } else {
            layer = L.geoJSON(r[0], {style: function () { return s; }});
        }
        if (r[3] !== null) { layer.bindTooltip(r[3], {sticky: kind !== "points"}); }
        layer.addTo(group);
    });
}
"""

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
        return (
            f'<span class="gp-area" style="background:{colour};opacity:0.55;'
            f'border:1.5px solid {colour}"></span>'
        )
    if symbol == "text":
        return ""
    return _marker_svg(symbol, colour, 16, 90.0, "1" if symbol == "label" else "")


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
) -> folium.Map:
    """A map of generic feature layers with a bilingual legend (scenarios, sites, 片区).

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
        Warnings shown in the legend (paired by position) and data credits.

    Returns
    -------
    folium.Map
        Write it with :func:`save_map`.
    """
    if boundary is not None and boundary.empty:
        boundary = None
    boundary_wgs = None if boundary is None else _to_wgs84(boundary, "boundary")
    frames = [_to_wgs84(layer.frame, f"layer {layer.name!r}") for layer in layers]
    bounds = _bounds(boundary_wgs, None, None)
    if bounds is None:
        boxes = [f.total_bounds for f in frames if not f.empty]
        boxes = [b for b in boxes if np.all(np.isfinite(b))]
        if boxes:
            arr = np.array(boxes)
            bounds = [
                [float(arr[:, 1].min()), float(arr[:, 0].min())],
                [float(arr[:, 3].max()), float(arr[:, 2].max())],
            ]
    centre = (
        [35.0, 105.0]
        if bounds is None
        else [(bounds[0][0] + bounds[1][0]) / 2, (bounds[0][1] + bounds[1][1]) / 2]
    )
    m = folium.Map(
        location=centre,
        zoom_start=13,
        tiles=None,
        prefer_canvas=True,
        control_scale=False,
        zoom_snap=0.25,
        zoom_delta=0.5,
    )
    m.get_root().title = _e(f"{title_zh} / {title_en}")
    parts = [
        '<div class="gp-legend" id="gp-legend">',
        f'<div class="gp-title">{_e(title_zh)}</div>',
        f'<div class="gp-subtitle">{_e(title_en)}</div>',
    ]
    for zh, en in zip_longest(notes_zh, notes_en, fillvalue=""):
        lines = "<br>".join(_e(t) for t in (zh, en) if t)
        parts.append(f'<div class="gp-note">⚠ {lines}</div>')
    for heading, rows in legend:
        parts.append(f'<div class="gp-h">{_e(heading)}</div>')
        for symbol, colour, label in rows:
            if symbol not in _LEGEND_SYMBOLS:
                raise InputError(f"legend symbol must be one of {_LEGEND_SYMBOLS}, got {symbol!r}")
            if symbol == "text":
                parts.append(f'<div class="gp-rule">{_e(label)}</div>')
                continue
            sym = _legend_symbol(symbol, _safe_colour(colour))
            parts.append(
                f'<div class="gp-row"><span class="gp-sym">{sym}</span>'
                f"<span>{_e(label)}</span></div>"
            )
    parts.extend(_legend_footer(has_boundary=boundary_wgs is not None, attribution=attribution))
    m.add_child(_Setup(legend_html="\n".join(parts), attribution=attribution))
    m.add_child(_Script(_FEATURES_JS, wrap=False))
    if boundary is not None:
        _boundary_layer(boundary).add_to(m)
    in_front = []
    for layer in layers:
        colour = _safe_colour(layer.swatch or layer.style.get("color"))
        if layer.kind in ("lines",):
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
                f"gpFeatureLayer(parent, {_js(layer.kind)}, {_js(_feature_rows(layer))}, "
                f"{_js(style)}, {size});"
            )
        )
        group.add_to(m)
        if layer.kind == "points":
            in_front.append(group)
    if in_front:
        m.add_child(_KeepInFront(in_front))
    folium.LayerControl(collapsed=False, position="topright").add_to(m)
    if bounds is not None:
        m.add_child(_FitBesidePanels(bounds))
    return m


def _legend_footer(*, has_boundary: bool, attribution: Sequence[str]) -> list[str]:
    """The legend's last lines: the boundary symbol, the data attribution, the closing tag."""
    parts = []
    if has_boundary:
        parts.append(
            f'<div class="gp-row"><span class="gp-sym">'
            f"{_swatch_line(_BOUNDARY_COLOUR, dashed=True, width=2)}</span>"
            "<span>边界 / boundary</span></div>"
        )
    if attribution:
        parts.append(
            '<div class="gp-attr">数据 / Data: ' + "; ".join(_e(a) for a in attribution) + "</div>"
        )
    parts.append("</div>")
    return parts
