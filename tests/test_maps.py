"""The offline HTML coverage map: layers, legend, escaping, no network resources."""

from __future__ import annotations

import html
import json
import re
from html.parser import HTMLParser

import folium
import geopandas as gpd
import numpy as np
import pytest
from shapely.geometry import LineString, Point, Polygon, box

from geoplan import maps
from geoplan.schema import CATEGORIES

HOSTILE = '<script>alert("x")</script> & 卫生站'
HOSTILE_2 = '"><img src=x onerror=alert(1)>'
ATTRIBUTION = (
    "© OpenStreetMap contributors, ODbL 1.0",
    "GHS-POP R2023A, European Commission JRC, CC BY 4.0",
)
UTM50 = 32650  # Huangshi, Hubei


def _utm(geoms) -> gpd.GeoSeries:
    return gpd.GeoSeries(geoms, crs=4326).to_crs(UTM50)


@pytest.fixture()
def inputs() -> dict:
    """A 2 km square around (115.0, 30.2) with three facilities, five streets, six points."""
    x0, y0, d = 115.0, 30.2, 0.02
    boundary = gpd.GeoDataFrame({"name": ["测试区"]}, geometry=_utm([box(x0, y0, x0 + d, y0 + d)]))
    medical = next(k for k, c in CATEGORIES.items() if c.group == "medical")
    fitness = next(k for k, c in CATEGORIES.items() if c.group == "fitness")
    facilities = gpd.GeoDataFrame(
        {
            "facility_id": ["f1", "f2", "f3"],
            "name": ["团城山社区卫生服务中心", HOSTILE, "全民健身中心"],
            "category": [medical, medical, fitness],
            "tier": ["township", "village", "county"],
            "address": ["湖北路 1 号", HOSTILE_2, None],
            "beds": [40.0, np.nan, np.nan],
            "doctors": [12.0, 1.0, np.nan],
            "nurses": [20.0, np.nan, np.nan],
        },
        geometry=[
            Point(x0 + 0.005, y0 + 0.005),
            Point(x0 + 0.015, y0 + 0.004),
            Point(x0 + 0.01, y0 + 0.016),
        ],
        crs=4326,
    )
    streets = gpd.GeoDataFrame(
        {
            "walk_med": [3.0, 8.0, 14.0, 22.0, np.nan],
            "walk_fit": [12.0, 25.0, np.nan, 31.0, 40.0],
        },
        geometry=_utm(
            [
                LineString([(x0, y0 + 0.005), (x0 + 0.01, y0 + 0.005)]),
                LineString([(x0 + 0.01, y0 + 0.005), (x0 + 0.02, y0 + 0.005)]),
                LineString([(x0 + 0.01, y0), (x0 + 0.01, y0 + 0.01), (x0 + 0.012, y0 + 0.015)]),
                LineString([(x0 + 0.01, y0 + 0.01), (x0 + 0.01, y0 + 0.02)]),
                LineString([(x0 + 0.018, y0 + 0.015), (x0 + 0.02, y0 + 0.02)]),
            ]
        ),
    )
    pts = [
        (x0 + 0.003, y0 + 0.003),
        (x0 + 0.012, y0 + 0.006),
        (x0 + 0.006, y0 + 0.012),
        (x0 + 0.016, y0 + 0.017),
        (x0 + 0.018, y0 + 0.018),
        (x0 + 0.019, y0 + 0.011),
    ]
    demand = gpd.GeoDataFrame(
        {
            "demand_id": [f"d{i}" for i in range(6)],
            "population": [120.0, 80.0, 300.0, 450.0, 60.0, 0.0],
            "walk_med_covered": [True, True, True, False, False, False],
            "walk_med_minutes": [2.5, 9.0, 14.9, 21.0, np.nan, 30.0],
            "walk_fit_covered": [True, False, False, False, False, False],
            "walk_fit_minutes": [12.0, 20.0, 24.0, 33.0, np.nan, 35.0],
        },
        geometry=_utm([Point(p) for p in pts]),
    )
    gaps = gpd.GeoDataFrame(
        {
            "gap_id": ["walk_med-1", "walk_fit-1"],
            "rule_id": ["walk_med", "walk_fit"],
            "rank": [1, 1],
            "population": [510.0, 890.0],
            "median_travel_time_s": [1260.0, np.nan],
            "nearest_facility_name": [HOSTILE, None],
        },
        geometry=_utm(
            [
                box(x0 + 0.014, y0 + 0.014, x0 + 0.02, y0 + 0.02),
                Polygon([(x0 + 0.004, y0 + 0.01), (x0 + 0.02, y0 + 0.01), (x0 + 0.02, y0 + 0.02)]),
            ]
        ),
    )
    rules = [
        {
            "id": "walk_med",
            "name_zh": "15分钟步行可达医疗卫生机构",
            "name_en": "15-min walk to medical",
            "mode": "walk",
            "threshold_min": 15.0,
            "share_covered": 500 / 1010,
            "target_share": 1.0,
            "categories": ["medical"],
        },
        {
            "id": "walk_fit",
            "name_zh": "30分钟步行可达体育健身设施",
            "name_en": "30-min walk to fitness",
            "mode": "walk",
            "threshold_min": 30.0,
            "share_covered": 120 / 1010,
            "target_share": None,
            "categories": ["fitness"],
        },
    ]
    return {
        "title_zh": "测试区 设施可达性",
        "title_en": "Test area: facility access",
        "boundary": boundary,
        "facilities": facilities,
        "rules": rules,
        "street_minutes": streets,
        "demand": demand,
        "gaps": gaps,
        "notes_zh": ["设施为假设情景"],
        "notes_en": ["facilities are a hypothetical scenario"],
        "attribution": ATTRIBUTION,
    }


@pytest.fixture()
def page(inputs, tmp_path) -> str:
    path = tmp_path / "map.html"
    maps.save_map(maps.coverage_map(**inputs), path)
    return path.read_text(encoding="utf-8")


def _layer_names(text: str) -> list[str]:
    """Overlay names as the browser sees them (folium writes them as JSON strings)."""
    keys = re.findall(r'("(?:[^"\\]|\\.)*")\s*:\s*feature_group_\w+', text)
    return [json.loads(k) for k in keys]


class _Attrs(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag, attrs) -> None:
        self.urls += [v for k, v in attrs if k in ("src", "href") and v]


def test_every_layer_is_named_in_the_layer_control(page):
    names = _layer_names(page)
    for rule in ("15分钟步行可达医疗卫生机构", "30分钟步行可达体育健身设施"):
        for what in ("出行时间分段", "未覆盖人口", "缺口区域排名"):
            assert any(f"{rule}：{what}" in n for n in names), (rule, what)
    for what in ("travel-time bands", "uncovered population", "ranked gap areas"):
        assert sum(what in n for n in names) == 2
    assert any("边界 / Boundary" in n for n in names)
    facility_layers = [n for n in names if "Facilities:" in n]
    assert len(facility_layers) == 2  # one per category present
    # only the first rule's layers are shown by default
    shown = re.findall(r"(feature_group_\w+)\.addTo\(map_\w+\)", page)
    assert len(shown) == 1 + 3 + 2


def test_legend_in_both_languages_with_coverage_and_notes(page):
    for text in (
        "测试区 设施可达性",
        "Test area: facility access",
        "15分钟步行可达医疗卫生机构 / 15-min walk to medical: ",
        "49.5%</span> (目标 target 100%)",
        "30-min walk to fitness: ",
        "设施为假设情景",
        "facilities are a hypothetical scenario",
        "≤ 5 | 10 分钟",
        "unreachable",
    ):
        assert text in page, text


def test_attribution_in_legend_and_attribution_control(page):
    for text in ATTRIBUTION:
        assert page.count(html.escape(text)) >= 2  # legend and attribution control


def test_user_strings_are_escaped(page):
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; 卫生站" in page
    assert "&quot;&gt;&lt;img src=x onerror=alert(1)&gt;" in page
    assert "<script>alert(" not in page
    assert "<img src=x" not in page
    assert "alert(1)>" not in page


def test_every_user_string_is_escaped(inputs):
    inputs = dict(inputs)
    evil = "<b>x</b>"
    inputs["title_zh"] = inputs["title_en"] = evil
    inputs["notes_zh"] = inputs["notes_en"] = [evil]
    inputs["attribution"] = [evil]
    inputs["rules"] = [{**r, "name_zh": evil, "name_en": evil} for r in inputs["rules"]]
    facilities = inputs["facilities"].copy()
    facilities["category"] = ["<i>unknown</i>", *facilities["category"].iloc[1:]]
    facilities["tier"] = [evil] * 3
    inputs["facilities"] = facilities
    text = maps.map_html(maps.coverage_map(**inputs))
    assert "<b>x</b>" not in text and "<i>unknown</i>" not in text
    assert "&lt;b&gt;x&lt;/b&gt;" in text and "&lt;i&gt;unknown&lt;/i&gt;" in text
    # layer names are HTML for Leaflet's layer control: escaped, then JSON-encoded by folium
    assert any("&lt;b&gt;x&lt;/b&gt;" in n for n in _layer_names(text))
    assert not any("<b>x" in n for n in _layer_names(text))


def test_no_network_resources_and_leaflet_inline(page):
    finder = _Attrs()
    finder.feed(page)
    assert not any(re.match(r"\s*(https?:)?//", u) for u in finder.urls), finder.urls
    assert not re.search(r"""(?:src|href)\s*=\s*["']?\s*(?:https?:)?//""", _without_scripts(page))
    assert not re.search(r"<script\b[^>]*\bsrc\s*=", page)  # every script is inline
    assert not re.search(r"<link\b[^>]*stylesheet", page)  # every style sheet is inline
    assert "cdn.jsdelivr" not in page and "code.jquery" not in page
    assert "bootstrap" not in page.lower()
    assert re.search(r't\.version="1\.\d+\.\d+"', page)  # Leaflet's own code, inline
    assert ".leaflet-container" in page  # Leaflet's CSS inline
    assert "data:image/png;base64," in page  # layer-control icon inline


def _without_scripts(text: str) -> str:
    return re.sub(r"<script\b[^>]*>.*?</script>", "", text, flags=re.S | re.I)


def test_no_tiles_and_rank_markers_are_div_icons(page):
    assert "L.tileLayer" not in page
    assert "gpGaps(" in page and "L.divIcon" in page


def test_remote_resource_left_after_rendering_raises(inputs):
    m = maps.coverage_map(**inputs)
    m.get_root().header.add_child(folium.JavascriptLink("https://example.org/evil.js"))
    with pytest.raises(RuntimeError, match="network"):
        maps.map_html(m)


def test_folium_popup_needing_jquery_raises(inputs):
    m = maps.coverage_map(**inputs)
    folium.CircleMarker([30.2, 115.0], popup=folium.Popup("x")).add_to(m)
    with pytest.raises(RuntimeError, match="jQuery"):
        maps.map_html(m)


def test_street_bands_encoded_once_with_codes_per_rule(page):
    lines = re.search(r"gpDecodeLines\((\[.*?\]\])\)", page)
    assert lines is not None
    parts = json.loads(lines.group(1))
    assert len(parts) == 5
    # delta encoding: first vertex absolute (1e-6 degrees, lat first)
    assert parts[0][0] == pytest.approx(30_205_000, abs=2)
    assert parts[0][1] == pytest.approx(115_000_000, abs=2)
    codes = re.findall(r'gpBands\(parent, gp_lines_\w+, "(\d+)"', page)
    # walk_med (15 min): 3, 8, 14, 22, NaN; walk_fit (30 min): 12, 25, NaN, 31, 40
    assert codes == ["01234", "12433"]


def test_band_codes():
    minutes = np.array([0.0, 5.0, 5.01, 10.0, 15.0, 15.01, np.nan, np.inf])
    assert maps._band_codes(minutes, 15.0).tolist() == [0, 0, 1, 1, 2, 3, 4, 4]
    assert maps._band_codes(np.array([12.0, 25.0, 31.0]), 30.0).tolist() == [1, 2, 3]


def test_empty_inputs_still_render(inputs, tmp_path):
    inputs = dict(inputs)
    inputs["boundary"] = None
    inputs["facilities"] = inputs["facilities"].iloc[:0]
    inputs["gaps"] = inputs["gaps"].iloc[:0]
    path = tmp_path / "empty.html"
    maps.save_map(maps.coverage_map(**inputs), path)
    assert "gpDecodeLines" in path.read_text(encoding="utf-8")


def test_missing_rule_column_is_a_clear_error(inputs):
    inputs = dict(inputs)
    inputs["street_minutes"] = inputs["street_minutes"].drop(columns="walk_fit")
    with pytest.raises(ValueError, match="street_minutes lacks column"):
        maps.coverage_map(**inputs)


def test_basemap_is_an_explicit_opt_in(inputs):
    assert "tile.openstreetmap.org" not in maps.map_html(maps.coverage_map(**inputs))
    with_tiles = maps.map_html(maps.coverage_map(**inputs, basemap=True))
    assert "tile.openstreetmap.org" in with_tiles


def test_save_map_leaves_only_the_file(inputs, tmp_path):
    maps.save_map(maps.coverage_map(**inputs), tmp_path / "out" / "map.html")
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["map.html"]


def test_frame_without_crs_must_be_lon_lat(inputs):
    inputs = dict(inputs)
    inputs["demand"] = inputs["demand"].set_crs(None, allow_override=True)
    with pytest.raises(ValueError, match="demand has no CRS"):
        maps.coverage_map(**inputs)


def test_uncovered_circles_shrink_when_there_are_many_points():
    few = [[[0, 0, 100.0, None]] * 10]
    many = [[[0, 0, 100.0, None]] * 50_000]
    assert maps._radius_scale(few) * 10 == pytest.approx(maps._MAX_RADIUS_PX)
    assert maps._radius_scale(many) * 10 == pytest.approx(3.0)
    assert maps._radius_scale([[]]) == 0.0
