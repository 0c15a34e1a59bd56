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

from geoplan import coords
from geoplan.errors import InputError
from geoplan.rendering import maps
from geoplan.taxonomy import CATEGORIES

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


@pytest.fixture()
def page_en(inputs) -> str:
    return maps.map_html(maps.coverage_map(**inputs, lang="en"))


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


def _of_rule(names: list[str], index: int) -> list[str]:
    """Layer names marked as rule ``index``'s (the switcher lists one rule's at a time)."""
    return [n for n in names if n.startswith(f'<i hidden data-gp-rule="{index}"></i>')]


def test_every_layer_is_named_in_the_layer_control_in_chinese(page):
    names = _layer_names(page)
    for index in (0, 1):
        for what in ("街道出行时间分段", "未覆盖人口", "缺口区域排名"):
            assert sum(n.endswith(what) for n in _of_rule(names, index)) == 1, (index, what)
    # the rule switcher names the rules
    for index, rule in enumerate(("15分钟步行可达医疗卫生机构", "30分钟步行可达体育健身设施")):
        assert f'<option value="{index}">{rule}</option>' in page
    assert '<span class="gp-pick-label">覆盖规则</span><select id="gp-rule"' in page
    assert "边界" in names
    facility_layers = [n for n in names if "</span> 设施：" in n]
    assert len(facility_layers) == 2  # one per category present
    medical = next(c for c in CATEGORIES.values() if c.group == "medical")
    assert any(f"设施：{medical.name_zh}（2）" in n for n in facility_layers)
    # only the first rule's layers are shown by default
    shown = re.findall(r"(feature_group_\w+)\.addTo\(map_\w+\)", page)
    assert len(shown) == 1 + 3 + 2


def test_every_layer_is_named_in_the_layer_control_in_english(page_en):
    names = _layer_names(page_en)
    for index in (0, 1):
        for what in ("Travel-time bands on the streets", "Uncovered residents", "Ranked gap areas"):
            assert sum(n.endswith(what) for n in _of_rule(names, index)) == 1, (index, what)
    for index, rule in enumerate(("15-min walk to medical", "30-min walk to fitness")):
        assert f'<option value="{index}">{rule}</option>' in page_en
    assert ">Coverage rule</span>" in page_en and ">Legend</span>" in page_en
    assert "Boundary" in names
    medical = next(c for c in CATEGORIES.values() if c.group == "medical")
    assert any(f"Facilities: {medical.name_en} (2)" in n for n in names)


def test_legend_in_chinese_with_coverage_and_notes(page):
    for text in (
        "<title>测试区 设施可达性</title>",
        '<html lang="zh-CN">',
        '<div class="gp-title">测试区 设施可达性</div>',
        "15分钟步行可达医疗卫生机构：",
        "49.5%</span>（目标 100%）",
        "30分钟步行可达体育健身设施：",
        "设施为假设情景",
        "≤ 5 | 10 分钟",
        "≤ 15 | 30 分钟（阈值内）",
        "不可达",
        "数据：",
    ):
        assert text in page, text
    assert "Test area" not in page and "hypothetical scenario" not in page


def test_legend_in_english_with_coverage_and_notes(page_en):
    for text in (
        "<title>Test area: facility access</title>",
        '<html lang="en">',
        "15-min walk to medical: ",
        "49.5%</span> (target 100%)",
        "30-min walk to fitness: ",
        "facilities are a hypothetical scenario",
        "≤ 5 | 10 min",
        "≤ 15 | 30 min (within threshold)",
        "unreachable",
        "Data: ",
    ):
        assert text in page_en, text
    assert "测试区" not in page_en and "设施为假设情景" not in page_en


CJK = re.compile(r"[\u3400-\u9fff]")


def _ui_chunks(lang: str) -> set[str]:
    """Distinctive literal pieces of the UI strings of one language."""
    k = 0 if lang == "zh" else 1
    chunks = set()
    for pair in maps.UI_STRINGS.values():
        for piece in re.split(r"\{\w+\}", pair[k]):
            piece = piece.strip(" :：()（）;；")
            if lang == "zh" and CJK.search(piece) and len(piece) >= 2:
                chunks.add(piece)
            if lang == "en" and len(piece) >= 8 and " " in piece:
                chunks.add(piece)
    return chunks


def test_chinese_map_has_no_english_ui_text_and_vice_versa(inputs, page, page_en):
    leaflet_js = maps._leaflet_assets()[0]
    zh, en = page.replace(leaflet_js, ""), page_en.replace(leaflet_js, "")
    english = _ui_chunks("en")
    assert len(english) > 20
    assert [c for c in english if c in zh] == []
    assert [c for c in english if c in en]  # the check can fail
    chinese = _ui_chunks("zh")
    assert len(chinese) > 20
    assert [c for c in chinese if c in en] == []
    # In English, Chinese text comes only from the data (names and addresses).
    data = [*inputs["facilities"]["name"], *inputs["facilities"]["address"].dropna()]
    for value in sorted(data, key=len, reverse=True):
        # escaped in HTML, or as text in the layers' data (a JSON string)
        en = en.replace(html.escape(value), "").replace(maps._js(value)[1:-1], "")
    assert CJK.findall(en) == []


def test_unknown_language_is_an_input_error(inputs):
    with pytest.raises(InputError, match="language must be one of zh, en"):
        maps.coverage_map(**inputs, lang="fr")


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
    names = [n for n in _layer_names(text) if not n.startswith("facilities:")]  # not keys
    assert any("&lt;i&gt;unknown&lt;/i&gt;" in n for n in names)
    assert not any("<i>unknown" in n for n in names)
    assert '<option value="0">&lt;b&gt;x&lt;/b&gt;</option>' in text  # the rule switcher


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
    assert re.search(r"function gpGaps\(.*?L\.divIcon\(\{className: \"gp-rank-icon\"", page, re.S)
    # each rule's gap of rank 1 has its label point (the label itself is built in the browser)
    assert [[gap["label"] is not None for gap in rule] for rule in _gaps(page)] == [[True]] * 2


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
    parts = _street_parts(page)
    assert len(parts) == 5 and [len(p) for p in parts] == [2, 2, 3, 2, 2]
    np.testing.assert_allclose(parts[0][0], [115.0, 30.205], atol=2e-6, rtol=0)
    np.testing.assert_allclose(parts[4][1], [115.02, 30.22], atol=2e-6, rtol=0)
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
    text = path.read_text(encoding="utf-8")
    assert "gpDecodeLines" in text
    assert _call_args(text, "gpFacilities") == []
    assert _gaps(text) == [[], []]  # one empty gap layer per rule
    assert [len(rows) for rows in _uncovered(text)] == [2, 4]
    assert '"boundary":feature_group_' not in text and 'id="gp-legend"' in text
    # without a boundary the map fits the demand points
    bounds = _fitted_bounds(text)
    np.testing.assert_allclose(bounds, [[30.203, 115.003], [30.218, 115.019]], atol=2e-6)


def test_missing_rule_column_is_a_clear_error(inputs):
    inputs = dict(inputs)
    inputs["street_minutes"] = inputs["street_minutes"].drop(columns="walk_fit")
    with pytest.raises(ValueError, match="street_minutes lacks column"):
        maps.coverage_map(**inputs)


TILE_HOSTS = ("tile.openstreetmap.org", "tianditu.gov.cn", "autonavi.com")


def _render(inputs, **options) -> str:
    return maps.map_html(maps.coverage_map(**{**inputs, **options}))


@pytest.mark.parametrize("basemap", [None, "none", "osm", "tianditu", "amap"])
def test_tile_urls_only_for_the_chosen_basemap(inputs, basemap):
    text = _render(inputs, basemap=basemap, basemap_key="KEY123")
    chosen = maps.BASEMAPS["none" if basemap is None else basemap]
    for template in chosen.tiles:
        assert _js_string(template) in text
    hosts = [h for h in TILE_HOSTS if h in text]
    assert hosts == [h for h in TILE_HOSTS if any(h in t for t in chosen.tiles)]
    assert ("L.tileLayer(" in text) is bool(chosen.tiles)
    assert ('"basemap":feature_group_' in text) is bool(chosen.tiles)
    if chosen.credit:
        assert html.escape(chosen.credit) in text  # in the attribution control
    if basemap == "tianditu":
        assert '"tk":"KEY123"' in text and text.count("L.tileLayer(") == 2  # vec + cva labels


def _js_string(value: str) -> str:
    return json.dumps(value, ensure_ascii=False)


def test_tianditu_needs_a_key(inputs):
    with pytest.raises(InputError, match="GEOPLAN_TIANDITU_KEY"):
        maps.coverage_map(**inputs, basemap="tianditu")
    with pytest.raises(InputError, match="letters, digits"):
        maps.coverage_map(**inputs, basemap="tianditu", basemap_key='x"};alert(1)//')
    with pytest.raises(InputError, match="basemap must be one of none, osm, tianditu, amap"):
        maps.coverage_map(**inputs, basemap=True)


def test_offline_check_rejects_tile_urls_nobody_chose(inputs):
    m = maps.coverage_map(**inputs)
    m.add_child(maps._Script('L.tileLayer("https://evil.example/{z}/{x}/{y}.png");', wrap=False))
    with pytest.raises(RuntimeError, match=r"tile URL https://evil\.example"):
        maps.map_html(m)
    chosen = maps.coverage_map(**inputs, basemap="osm")
    chosen.add_child(maps._Script('L.tileLayer("//evil.example/{z}/{x}/{y}.png");', wrap=False))
    with pytest.raises(RuntimeError, match="tile URL //evil"):
        maps.map_html(chosen)
    # a chosen basemap allows its tile templates, never a remote script or style sheet
    linked = maps.coverage_map(**inputs, basemap="osm")
    linked.get_root().header.add_child(folium.JavascriptLink("https://example.org/evil.js"))
    with pytest.raises(RuntimeError, match=r"evil\.js"):
        maps.map_html(linked)


CRS_NOTES = {
    ("none", "zh"): "无底图（离线）",
    ("none", "en"): "No basemap (offline)",
    ("osm", "zh"): "OpenStreetMap（WGS84），图层未偏移",
    ("osm", "en"): "OpenStreetMap (WGS84); overlays unshifted",
    ("tianditu", "zh"): "天地图（CGCS2000",
    ("tianditu", "en"): "Tianditu (CGCS2000, within a metre of WGS84); overlays unshifted",
    ("amap", "zh"): "高德地图（GCJ-02），图层已由 WGS84 转换为 GCJ-02 以对齐底图",
    ("amap", "en"): "Amap (GCJ-02); overlays shifted from WGS84 to GCJ-02 to match it",
}


@pytest.mark.parametrize(("basemap", "lang"), list(CRS_NOTES))
def test_crs_note_names_the_basemap_coordinates(inputs, basemap, lang):
    text = _render(inputs, basemap=basemap, basemap_key="KEY", lang=lang)
    note = re.search(r'<div class="gp-crs" id="gp-crs-note">([^<]*)</div>', text)
    assert note is not None and CRS_NOTES[basemap, lang] in note.group(1)


def _call_args(text: str, function: str) -> list[list]:
    """The JSON rows passed to every ``function(parent, rows, …)`` call in the page."""
    decoder = json.JSONDecoder()
    out = []
    for match in re.finditer(rf"{function}\((?:map_\w+, )?parent, ", text):
        rows, _ = decoder.raw_decode(text, match.end())
        out.append(rows)
    return out


def _street_parts(text: str) -> list[np.ndarray]:
    """The street parts of ``gpDecodeLines``'s numbers, decoded: (lon, lat) per vertex."""
    found = re.search(r"gpDecodeLines\((\{.*?\})\);", text)
    assert found is not None
    data = json.loads(found.group(1))
    lonlat = np.column_stack([np.cumsum(data["lon"]), np.cumsum(data["lat"])]) / 1e6
    return np.split(lonlat, np.cumsum(data["verts"])[:-1])


def _uncovered(text: str) -> list[list[list]]:
    """Per rule, the uncovered points of ``gpUncovered``'s numbers, decoded independently of
    the code that wrote them: ``[lat, lon, residents, minutes or None]``."""
    out = []
    for data in _call_args(text, "gpUncovered"):
        lat, lon = np.cumsum(data["lat"]) / 1e6, np.cumsum(data["lon"]) / 1e6
        out.append(
            [
                [la, lo, p / 10, None if t < 0 else t / 10]
                for la, lo, p, t in zip(lat, lon, data["pop"], data["min"], strict=True)
            ]
        )
    return out


def _gaps(text: str) -> list[list[dict]]:
    """Per rule, the gap areas of ``gpGaps``'s numbers, decoded: rank, residents, median
    minutes (None: unreachable), nearest facility, unit, label point and rings (lon, lat)."""
    out = []
    for data in _call_args(text, "gpGaps"):
        shapes = data["shapes"]
        lat, lon = np.cumsum(shapes["lat"]) / 1e6, np.cumsum(shapes["lon"]) / 1e6
        vertex = np.r_[0, np.cumsum(shapes["verts"])]
        ring = np.r_[0, np.cumsum(shapes["rings"])]
        part = np.r_[0, np.cumsum(shapes["parts"])]
        rows = []
        for i, rank in enumerate(np.cumsum(data["rank"]).tolist()):
            rings = [
                np.column_stack([lon[vertex[r] : vertex[r + 1]], lat[vertex[r] : vertex[r + 1]]])
                for p in range(part[i], part[i + 1])
                for r in range(ring[p], ring[p + 1])
            ]
            f, u = data["facility"][i], data["unit"][i]
            rows.append(
                {
                    "rank": rank,
                    "population": data["pop"][i],
                    "minutes": None if data["min"][i] < 0 else data["min"][i] / 10,
                    "nearest": None if f < 0 else data["names"][f],
                    "unit": None if u < 0 else data["units"][u],
                    "label": data["labels"][i] if i < len(data["labels"]) else None,
                    "rings": rings,
                }
            )
        out.append(rows)
    return out


def _texts(text: str) -> dict[str, str]:
    """The UI strings the layers' JavaScript fills in (``gp_text_*``)."""
    found = re.search(r"var gp_text_map_\w+ = (\{.*?\});\n", text)
    assert found is not None
    return json.loads(found.group(1))


_INTERFACE = re.compile(
    r"gpInterface\((map_\w+), (layer_control_\w+), (\{[^}]*\}),\s*(\[[^\]]*\]), "
    r"(null|\[\[[^\]]*\],\[[^\]]*\]\]), "
)


def _interface_call(text: str) -> re.Match:
    """The ``gpInterface(map, control, layers, rules, bounds, options)`` call of the page."""
    found = _INTERFACE.search(text)
    assert found is not None, "no gpInterface call"
    return found


def _fitted_bounds(text: str) -> list[list[float]]:
    """The ``[[south, west], [north, east]]`` the map fits to (``gpInterface``)."""
    return json.loads(_interface_call(text).group(5))


def _facility_lonlat(text: str) -> np.ndarray:
    rows = [r for call in _call_args(text, "gpFacilities") for r in call]
    return np.array([[r[1], r[0]] for r in rows])


@pytest.mark.parametrize("basemap", ["none", "osm", "tianditu", "amap"])
def test_overlays_are_shifted_to_gcj02_only_for_amap(inputs, basemap):
    text = _render(inputs, basemap=basemap, basemap_key="KEY")
    wgs = np.array([[p.x, p.y] for p in inputs["facilities"].geometry])
    order = [0, 1, 2]  # medical f1, f2, then fitness f3
    shown = _facility_lonlat(text)
    if basemap == "amap":
        lon, lat = coords.wgs84_to_gcj02(wgs[:, 0], wgs[:, 1])
        expected = np.column_stack([lon, lat])[order]
        assert np.abs(expected - wgs).max() > 1e-3  # the check can fail: GCJ-02 moves points
    else:
        expected = wgs[order]
    np.testing.assert_allclose(shown, expected, atol=1e-6, rtol=0)
    # the streets, the uncovered points and the bounds move with the facilities
    street = _street_parts(text)[0][0]
    x0, y0 = 115.0, 30.205
    shift = basemap == "amap"
    expect = np.array(coords.wgs84_to_gcj02(x0, y0)) if shift else np.array([x0, y0])
    np.testing.assert_allclose(street, expect, atol=2e-6, rtol=0)
    uncovered = _uncovered(text)[0][0]  # d3 at (115.016, 30.217)
    expect = np.array(coords.wgs84_to_gcj02(115.016, 30.217)) if shift else [115.016, 30.217]
    np.testing.assert_allclose([uncovered[1], uncovered[0]], expect, atol=2e-6, rtol=0)
    bounds = _fitted_bounds(text)
    corner = coords.wgs84_to_gcj02(115.0, 30.2) if shift else (115.0, 30.2)
    np.testing.assert_allclose(bounds[0][::-1], corner, atol=2e-6, rtol=0)


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_banner_only_for_a_hypothetical_scenario(inputs, lang):
    text = {
        "zh": "假设情景：图中设施并非真实设施",
        "en": "Hypothetical scenario: the facilities shown are not real",
    }
    shown = _render(inputs, lang=lang, hypothetical=True)
    assert re.search(
        rf'<div class="gp-banner" id="gp-banner">⚠ {re.escape(text[lang])}</div>', shown
    )
    assert 'id="gp-banner"' not in _render(inputs, lang=lang)


def test_scale_bar_is_metric(page):
    assert 'L.control.scale({position: "bottomright", imperial: false' in page


def _units(inputs, shares: list[float], names: list[str] | None = None) -> gpd.GeoDataFrame:
    """One 2 km-wide strip per share, side by side, in UTM."""
    x0, y0 = 115.0, 30.2
    n = len(shares)
    names = names or [f"单元{i}" for i in range(n)]
    return gpd.GeoDataFrame(
        {
            "unit_name": names,
            "population": [1000.0 + i for i in range(n)],
            "walk_med_share_covered": shares,
            "walk_fit_share_covered": [1.0] * n,
        },
        geometry=_utm([box(x0 + i * 0.004, y0, x0 + (i + 1) * 0.004, y0 + 0.02) for i in range(n)]),
    )


def test_unit_choropleth_classes_and_popups(inputs):
    shares = [0.49, 0.5, 0.8, 0.95, 1.0, 0.95 - 1e-12, np.nan]
    text = _render(inputs, units=_units(inputs, shares))
    calls = _call_args(text, "gpUnits")
    assert len(calls) == 2  # one layer per rule
    colours = [row[1] for row in calls[0]]
    palette = [c[2] for c in maps.UNIT_SHARE_CLASSES]
    assert colours == [*palette, palette[3], "#bdbdbd"]
    assert [row[1] for row in calls[1]] == [palette[4]] * len(shares)
    popup = calls[0][0][2]
    for part in (
        "<b>单元0</b>",
        "15分钟步行可达医疗卫生机构",
        "1,000",
        "49%",
        "<th>目标</th><td>100%</td>",
    ):
        assert part in popup, part
    for _, label, colour in maps.UNIT_SHARE_CLASSES:
        assert f'{colour}"></span></span><span>{html.escape(label)}</span>' in text
    assert "units:walk_med" in text and "units:walk_fit" in text
    # the second rule has no target: a dash
    assert "<th>目标</th><td>—</td>" in calls[1][0][2]


def test_units_need_their_share_columns(inputs):
    units = _units(inputs, [0.5, 0.6, 0.7]).drop(columns="walk_fit_share_covered")
    with pytest.raises(InputError, match=r"units lacks column.*walk_fit_share_covered"):
        maps.coverage_map(**inputs, units=units)


@pytest.mark.parametrize(("lang", "people"), [("zh", "{pop}人"), ("en", "{pop} people")])
def test_gap_labels_carry_rank_and_uncovered_population(inputs, lang, people):
    text = _render(inputs, lang=lang)
    (gap,) = _gaps(text)[0]
    assert gap["rank"] == 1 and gap["population"] == 510
    # the label point lies in the area (a representative point)
    assert Polygon(gap["rings"][0]).contains(Point(gap["label"][::-1]))
    assert _texts(text)["people"] == people


def test_gap_label_only_for_the_top_ranks(inputs):
    gaps = inputs["gaps"].iloc[[0]].copy()
    gaps["rank"] = [maps.MAX_RANK_LABELS + 1]
    (gap,) = _gaps(_render(inputs, gaps=gaps))[0]
    assert gap["rank"] == maps.MAX_RANK_LABELS + 1 and gap["label"] is None


HOSTILE_NAMES = ("<img src=x onerror=alert(1)>", "</script><script>alert(1)</script>")


@pytest.mark.parametrize("lang", ["zh", "en"])
@pytest.mark.parametrize("evil", HOSTILE_NAMES)
def test_hostile_names_appear_only_escaped(inputs, lang, evil):
    facilities = inputs["facilities"].copy()
    facilities["name"] = evil
    facilities["address"] = evil
    gaps = inputs["gaps"].copy()
    gaps["nearest_facility_name"] = evil
    rules = [{**r, "name_zh": evil, "name_en": evil} for r in inputs["rules"]]
    text = _render(
        {**inputs, "facilities": facilities, "gaps": gaps, "rules": rules},
        title_zh=evil,
        title_en=evil,
        notes_zh=[evil],
        notes_en=[evil],
        attribution=[evil],
        units=_units(inputs, [0.5, 0.9, 1.0], names=[evil] * 3),
        lang=lang,
        hypothetical=True,
    )
    assert evil not in text
    assert "<script>alert" not in text and "<img src=x" not in text
    assert text.count(html.escape(evil)) >= 10


def test_hooks_name_every_overlay_of_the_layer_control(inputs):
    text = _render(inputs, units=_units(inputs, [0.5, 0.9, 1.0]), basemap="osm")
    hooks = _interface_call(text)
    layers = dict(re.findall(r'"([^"]+)":(feature_group_\w+)', hooks.group(3)))
    medical = next(k for k, c in CATEGORIES.items() if c.group == "medical")
    fitness = next(k for k, c in CATEGORIES.items() if c.group == "fitness")
    expected = {"basemap", "boundary", f"facilities:{medical}", f"facilities:{fitness}"}
    expected |= {
        f"{kind}:{rule}"
        for kind in ("bands", "uncovered", "gaps", "units")
        for rule in ("walk_med", "walk_fit")
    }
    assert set(layers) == expected
    control = re.search(r"overlays :  \{(.*?)\},\s*\};", text, re.S).group(1)
    assert sorted(re.findall(r"feature_group_\w+", control)) == sorted(layers.values())
    assert json.loads(hooks.group(4)) == ["walk_med", "walk_fit"]
    assert f"var {hooks.group(2)} = L.control.layers(" in text.replace("let ", "var ")
    assert "window.gpMap = map;" in text and "window.gpLayers = layers;" in text
    assert 'params.get("static") === "1"' in text


def test_feature_map_language(inputs):
    layer = maps.FeatureLayer("x", inputs["facilities"], kind="points")
    common = {
        "title_zh": "标题",
        "title_en": "Title",
        "boundary": inputs["boundary"],
        "layers": [layer],
    }
    both = maps.map_html(maps.feature_map(**common))
    assert "边界 / Boundary" in both and "<title>标题 / Title</title>" in both
    zh = maps.map_html(maps.feature_map(**common, lang="zh"))
    assert "边界" in _layer_names(zh) and "Boundary" not in _layer_names(zh)
    assert "<title>标题</title>" in zh and '<div class="gp-subtitle">' not in zh
    en = maps.map_html(maps.feature_map(**common, lang="en"))
    assert "Boundary" in _layer_names(en) and "边界" not in en and '<html lang="en">' in en
    with pytest.raises(InputError, match="language"):
        maps.feature_map(**common, lang="de")


def test_save_map_leaves_only_the_file(inputs, tmp_path):
    maps.save_map(maps.coverage_map(**inputs), tmp_path / "out" / "map.html")
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["map.html"]


def test_frame_without_crs_must_be_lon_lat(inputs):
    inputs = dict(inputs)
    inputs["demand"] = inputs["demand"].set_crs(None, allow_override=True)
    with pytest.raises(ValueError, match="demand has no CRS"):
        maps.coverage_map(**inputs)


def test_uncovered_circles_are_the_uncovered_residents(page):
    med, fit = _uncovered(page)
    # [lat, lon, residents, minutes]; d5 has no residents, d4's minutes are NaN (unreachable)
    assert [row[2:] for row in med] == [[450.0, 21.0], [60.0, None]]
    assert [row[2:] for row in fit] == [[80.0, 20.0], [300.0, 24.0], [450.0, 33.0], [60.0, None]]
    np.testing.assert_allclose(
        [row[:2] for row in med], [[30.217, 115.016], [30.218, 115.018]], atol=2e-6, rtol=0
    )


def test_gap_popups_name_rule_residents_time_nearest_and_unit(inputs):
    gaps = inputs["gaps"].assign(
        nearest_facility_name=[None, None], nearest_facility_id=["f1", "zz"], unit_name=["甲", None]
    )
    text = _render(inputs, gaps=gaps)
    (med,), (fit,) = _gaps(text)
    assert (med["rank"], med["population"], med["minutes"]) == (1, 510, 21.0)
    assert med["nearest"] == "团城山社区卫生服务中心"  # looked up by its id
    assert med["unit"] == "甲"
    assert (fit["rank"], fit["population"], fit["minutes"]) == (1, 890, None)  # unreachable
    assert fit["nearest"] == "zz"  # an id not among the facilities stays as it is
    assert fit["unit"] is None
    # the popup's words and the rule's name (the browser fills them in: test_browser.py)
    texts = _texts(text)
    assert (texts["gap_title"], texts["gap_tooltip"]) == (
        "缺口 #{rank}（按未覆盖人口排名）",
        "缺口 #{rank}：{pop}人",
    )
    assert [texts[k] for k in ("rule", "population", "median_time", "nearest", "unit")] == [
        "覆盖规则",
        "人口",
        "中位出行时间",
        "最近设施",
        "所在单元",
    ]
    assert '"rule":"15分钟步行可达医疗卫生机构"' in text


JINJA = '{{ "gp" ~ "pwned" }}{# gp-comment #}'


def test_jinja_syntax_in_user_strings_stays_text(inputs):
    """Rendered output is never compiled as a template again (branca would do so)."""
    facilities = inputs["facilities"].copy()
    facilities["name"] = JINJA
    facilities["category"] = [JINJA, *facilities["category"].iloc[1:]]
    gaps = inputs["gaps"].assign(nearest_facility_name=JINJA)
    rules = [{**r, "name_zh": JINJA, "name_en": JINJA} for r in inputs["rules"]]
    text = _render(
        {**inputs, "facilities": facilities, "gaps": gaps, "rules": rules},
        title_zh=JINJA,
        notes_zh=[JINJA],
        attribution=[JINJA],
        units=_units(inputs, [0.5, 0.9, 1.0], names=[JINJA] * 3),
    )
    assert "gppwned" not in text
    shown = html.escape(JINJA).replace("{", "&#123;")
    assert text.count(shown) >= 10  # legend, popups, tooltips, layer names
    assert f"<title>{shown}</title>" in text
    assert any(JINJA in html.unescape(n) for n in _layer_names(text))  # the layer control
    assert _js_string(f"facilities:{JINJA}") in text  # a gpLayers key, data as it is


def test_tile_templates_are_found_with_their_scheme():
    osm = maps.BASEMAPS["osm"].tiles[0]
    text = f'a "HTTP://evil.example/{{z}}/{{x}}.png" b \'//x.example/{{x}}\' "{osm}" http{osm[5:]}'
    assert maps._tile_templates(text) == [
        "HTTP://evil.example/{z}/{x}.png",
        "//x.example/{x}",
        osm,
        "http" + osm[5:],
    ]
    maps.check_offline(f'<script>L.tileLayer("{osm}");</script>', [osm])
    with pytest.raises(RuntimeError, match=r"tile URL http://tile\.openstreetmap"):
        maps.check_offline(f'<script>L.tileLayer("http{osm[5:]}");</script>', [osm])


def test_tile_templates_after_a_large_base64_image_are_still_found():
    """An embedded image full of ``//`` neither hides a tile URL nor makes the scan quadratic."""
    image = "data:image/png;base64," + "ab//cd+/" * 200_000  # 1.6 MB, 200,000 × "//"
    evil = "https://evil.example/{z}/{x}/{y}.png"
    page = f"<img src='{image}'><script>L.tileLayer(\"{evil}\");</script>"
    assert maps._tile_templates(page) == [evil]
    with pytest.raises(RuntimeError, match=r"tile URL https://evil\.example"):
        maps.check_offline(page)


def test_geojson_geometries_round_and_skip_missing_or_empty():
    geoms = gpd.GeoSeries([Point(115.12345678, 30.1), None, Point(), box(0, 0, 1e-7, 1)])
    shapes = maps._geojson_geometries(geoms)
    assert shapes[0] == {"type": "Point", "coordinates": (115.123457, 30.1)}
    assert shapes[1] is None and shapes[2] is None
    assert shapes[3]["type"] == "Polygon" and {x for x, _ in shapes[3]["coordinates"][0]} == {0.0}


def test_feature_map_fits_the_boundary_else_its_layers(inputs):
    layer = maps.FeatureLayer("x", inputs["facilities"], kind="points")
    common = {"title_zh": "标题", "title_en": "Title", "layers": [layer]}

    def fitted(boundary) -> list:
        text = maps.map_html(maps.feature_map(**common, boundary=boundary))
        return _fitted_bounds(text)

    assert fitted(None) == [[30.204, 115.005], [30.216, 115.015]]  # the facilities
    np.testing.assert_allclose(
        fitted(inputs["boundary"]), [[30.2, 115.0], [30.22, 115.02]], atol=1e-5
    )


def test_uncovered_circles_shrink_when_there_are_many_points():
    few = [np.full(10, 100.0)]
    many = [np.full(50_000, 100.0)]
    assert maps._radius_scale(few) * 10 == pytest.approx(maps._MAX_RADIUS_PX)
    assert maps._radius_scale(many) * 10 == pytest.approx(3.0)
    assert maps._radius_scale([np.zeros(0)]) == 0.0


@pytest.mark.parametrize("name", ["map.html", "map_en.html"])
def test_demo_gap_numbers_are_the_gap_table(demo_dir, name):
    """Every gap area of the demo's map decodes to its row of gaps.csv: one area per row
    (rank by rank, rule by rule), the same residents, median minutes, nearest facility and
    unit, and the row's point (lon, lat) inside the area drawn."""
    import pandas as pd

    table = pd.read_csv(demo_dir / "gaps.csv")
    text = (demo_dir / name).read_text(encoding="utf-8")
    rule_ids = json.loads(_interface_call(text).group(4))
    shown = _gaps(text)
    assert len(shown) == len(rule_ids) and sum(map(len, shown)) == len(table) > 20
    for rule_id, areas in zip(rule_ids, shown, strict=True):
        rows = table[table["rule_id"] == rule_id].sort_values("rank")
        assert [a["rank"] for a in areas] == rows["rank"].tolist()
        for area, (_, row) in zip(areas, rows.iterrows(), strict=True):
            assert area["population"] == round(row["population"])
            if np.isnan(row["median_travel_time_s"]):
                assert area["minutes"] is None
            else:
                assert abs(area["minutes"] - row["median_travel_time_s"] / 60) <= 0.05 + 1e-9
            assert area["nearest"] == (
                None if pd.isna(row["nearest_facility_name"]) else row["nearest_facility_name"]
            )
            assert area["unit"] == (None if pd.isna(row["unit_name"]) else row["unit_name"])
            assert (area["label"] is not None) == (row["rank"] <= maps.MAX_RANK_LABELS)
            (ring,) = area["rings"]  # the demo's gap areas are single cells
            assert len(ring) == 4
            assert Polygon(ring).buffer(1e-6).contains(Point(row["lon"], row["lat"]))


def test_simplified_passes_over_two_point_lines_with_the_same_result():
    """Skipping two-point lines (nothing to remove) gives simplify's own result, geometry by
    geometry (WKB), whatever the mix: longer lines, empty, missing, points, polygons."""
    import shapely

    rng = np.random.default_rng(1)
    geoms = [  # wiggles of 0.3 m (removed) or 30 m (kept) along 50 m
        shapely.LineString(
            np.column_stack([np.sort(rng.uniform(0, 50, k)), wiggle * rng.random(k)])
        )
        for k, wiggle in zip(rng.integers(2, 6, 3000), rng.choice([0.3, 30.0], 3000), strict=True)
    ]
    geoms += [shapely.LineString([(0, 0), (0, 0)]), shapely.LineString(), None]
    geoms += [shapely.Point(1, 1), shapely.Polygon([(0, 0), (9, 0), (4.5, 0.1), (0, 0)])]
    metres = gpd.GeoSeries(geoms, crs=32650)
    degrees = metres.scale(1e-5, 1e-5, origin=(0, 0)).set_crs(4326, allow_override=True)
    for series, tolerance in ((metres, 1.0), (degrees, 1e-5)):
        new = [g if g is None else g.wkb for g in maps._simplified(series).to_numpy()]
        old = [g if g is None else g.wkb for g in series.simplify(tolerance).to_numpy()]
        given = [g if g is None else g.wkb for g in series.to_numpy()]
        assert new == old
        assert sum(a != b for a, b in zip(new, given, strict=True)) > 100  # it did simplify


def test_parts_are_shapely_get_parts():
    """The shortcut for single-part geometries (streets, cells) gives get_parts' answer:
    the same geometries in the same order, empties kept; multi-parts and missing ones go
    through get_parts itself."""
    import shapely

    from geoplan.rendering.maps import _parts

    line, empty = shapely.LineString([(0, 0), (1, 1)]), shapely.from_wkt("LINESTRING EMPTY")
    cell = shapely.box(0, 0, 1, 1)
    multi = shapely.MultiLineString([[(0, 0), (1, 0)], [(2, 0), (3, 0)]])
    for geoms in ([line, empty, cell], [line, multi, cell], [line, None, cell], []):
        values = np.array(geoms, dtype=object)
        got, got_row = _parts(values)
        want, want_row = shapely.get_parts(values, return_index=True)
        assert shapely.to_wkb(got).tolist() == shapely.to_wkb(want).tolist()
        assert got_row.tolist() == want_row.tolist()


@pytest.mark.parametrize(
    "values",
    [
        ["甲", None, "乙", "甲", np.nan, "", "乙"],
        [None, None],
        [],
        ["a", 1, 1.0, True, None, "1"],  # not all text: 1, 1.0 and True are three texts
        ["x", float("nan"), "x"],
    ],
)
def test_gap_text_indices_are_each_value_as_text(values):
    """``_indices`` (the gap popups' facility and unit names): the index of each value's text
    in the table of distinct texts, in order of first appearance; missing is -1."""
    import pandas as pd

    texts = [None if v is None or (isinstance(v, float) and v != v) else str(v) for v in values]
    codes, table = pd.factorize(pd.Series(texts, dtype=object))
    assert maps._indices(np.array(values, dtype=object)) == (codes.tolist(), list(table))


def test_simplified_equals_shapely_where_it_passes_over():
    """Two-point lines and wide axis-aligned rectangles are passed over (no vertex could go);
    every geometry comes out as ``shapely.simplify`` makes it, thin or turned boxes included."""
    import shapely
    from shapely import affinity

    rng = np.random.default_rng(7)
    shapes = []
    for _ in range(300):
        x, y = rng.uniform(-1e3, 1e3, 2)
        w, h = 10 ** rng.uniform(-1, 3, 2)  # 0.1 m to 1 km: either side of the tolerances
        shapes.append(box(x, y, x + w, y + h))
        shapes.append(affinity.rotate(shapes[-1], float(rng.uniform(1, 89))))
    shapes += [
        Polygon([(0, 0), (10, 0), (10, 10), (0, 10)], [[(2, 2), (3, 2), (3, 3), (2, 2)]]),
        Polygon([(0, 0), (10, 0), (10, 0.2), (10, 10), (0, 10)]),  # a collinear fifth corner
        Polygon([(0, 0), (5, 0), (6, 5), (0, 5)]),
        LineString([(0, 0), (1, 1)]),
        LineString([(0, 0), (1, 0.1), (5, 0)]),
    ]
    geoms = gpd.GeoSeries(shapes, crs=32650)
    for tolerance in (1.0, 2.0, 5.0):
        fast = np.asarray(maps._simplified(geoms, tolerance).values)
        plain = shapely.simplify(np.asarray(geoms.values), tolerance, preserve_topology=True)
        assert shapely.equals_exact(fast, plain, tolerance=0).all(), tolerance
