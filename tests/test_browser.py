"""The maps in a real browser: Debian's Chromium (Playwright) with the network blocked.

Each test opens a map written by the real pipeline (the demo project, once with hostile
facility names) and checks what a viewer gets: no console error, no request leaves the
machine, every layer in the layer control toggles, popups show names as text, and nothing in a
name runs. The demo map's screenshot is saved to ``out/test-artifacts/`` (the README's image).
"""

from __future__ import annotations

import csv
import re
from pathlib import Path

import numpy as np
import pytest

from geoplan import coords
from geoplan.project import load_project, run_project

REPO = Path(__file__).resolve().parents[1]
DEMO = REPO / "data" / "demo" / "tuanchengshan.toml"

# Payloads that would set a global or open a dialog if any of them were parsed as HTML/JS;
# the Jinja ones would show "42" (or vanish) if a rendered page were compiled as a template.
HOSTILE_NAMES = (
    '<img src=x onerror="window.gpPwned=1;alert(1)">',
    "</script><script>window.gpPwned=2;alert(2)</script>",
)
HOSTILE_ADDRESS = '"><svg onload="window.gpPwned=3;alert(3)">{{ 6*7 }}{# gp #}'
HOSTILE_AREA = {
    "zh": "团城山<b id=gp-injected>街道</b>{{ 6*7 }}",
    "en": "Tuancheng<b id=gp-injected>shan</b>{% if 1 %}{{ 6*7 }}{% endif %}",
}

LAYERS_JS = """() => Object.entries(window.gpLayers).map(([key, layer]) => ({
    key, id: L.stamp(layer), on: window.gpMap.hasLayer(layer)}))"""


def _write_hostile_project(folder: Path) -> Path:
    """The demo project with two extra facilities and an area name that carry payloads."""
    source = REPO / "data" / "facilities" / "tuanchengshan_scenario.csv"
    with source.open(encoding="utf-8-sig", newline="") as handle:
        rows = list(csv.reader(handle))
    header, first = rows[0], rows[1]
    extra = []
    for k, name in enumerate(HOSTILE_NAMES):
        row = list(first)
        row[0] = f"EVIL-{k}"
        row[1] = name
        row[4] = f"{float(first[4]) - 0.003 * (k + 1):.6f}"  # south: still inside the area
        row[5] = HOSTILE_ADDRESS
        extra.append(row)
    facilities = folder / "facilities.csv"
    with facilities.open("w", encoding="utf-8", newline="") as handle:
        csv.writer(handle).writerows([header, *rows[1:], *extra])
    text = DEMO.read_text(encoding="utf-8")
    text = text.replace('area = "团城山街道"', f'area = "{HOSTILE_AREA["zh"]}"')
    text = re.sub(r'area_en = ".*"', f'area_en = "{HOSTILE_AREA["en"]}"', text)
    text = text.replace('"../facilities/tuanchengshan_scenario.csv"', f'"{facilities.as_posix()}"')
    project = folder / "hostile.toml"
    project.write_text(text, encoding="utf-8")
    return project


@pytest.fixture(scope="module")
def hostile_dir(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("hostile")
    run_project(load_project(_write_hostile_project(folder)), folder / "out")
    return folder / "out"


def _assert_clean(view) -> None:
    assert view.console_errors == []
    assert view.blocked == []
    assert view.dialogs == []


def _layer_states(page) -> dict[str, bool]:
    return {row["key"]: row["on"] for row in page.evaluate(LAYERS_JS)}


# --------------------------------------------------------------------------- the demo map


@pytest.mark.parametrize("name", ["map.html", "map_en.html"])
def test_demo_map_opens_offline_and_is_saved_as_screenshot(
    offline_page, demo_dir, artifacts_dir, name
):
    offline_page.open(demo_dir / name, settle_ms=800)
    _assert_clean(offline_page)
    page = offline_page.page
    # Something was drawn: streets on the canvas, facilities, the legend and the scale bar.
    assert page.locator("#gp-legend").is_visible()
    assert page.locator(".leaflet-control-scale-line").first.inner_text().strip()
    assert page.locator("#gp-banner").is_visible()  # the demo's facilities are hypothetical
    shot = artifacts_dir / name.replace(".html", ".png").replace("map", "demo_map")
    page.screenshot(path=str(shot))
    assert shot.stat().st_size > 50_000


def _assert_every_layer_toggles(page) -> None:
    """Every overlay in gpLayers is in the layer control (and only those); each click flips it."""
    layers = page.evaluate(LAYERS_JS)
    control_ids = page.evaluate(
        "() => [...document.querySelectorAll('.leaflet-control-layers-selector')]"
        ".map(input => input.layerId)"
    )
    assert sorted(control_ids) == sorted(row["id"] for row in layers)
    for row in layers:
        checkbox = page.locator(".leaflet-control-layers-selector").nth(
            control_ids.index(row["id"])
        )
        assert checkbox.is_checked() == row["on"], row["key"]
        checkbox.click()
        assert _layer_states(page)[row["key"]] is (not row["on"]), row["key"]
        checkbox.click()
        assert _layer_states(page)[row["key"]] is row["on"], row["key"]


def test_every_layer_is_in_the_control_and_toggles(offline_page, demo_dir):
    offline_page.open(demo_dir / "map.html")
    page = offline_page.page
    keys = set(_layer_states(page))
    rules = [r.id for r in load_project(DEMO).rules]
    kinds = ("bands", "uncovered", "gaps", "units")
    assert {"boundary"} | {f"{kind}:{r}" for kind in kinds for r in rules} <= keys
    assert any(k.startswith("facilities:") for k in keys)
    _assert_every_layer_toggles(page)
    _assert_clean(offline_page)


@pytest.fixture(scope="module")
def feature_maps(tmp_path_factory) -> dict[str, Path]:
    """The relocation scenario's difference map and the MCLP sites map of the demo."""
    from geoplan import cli

    out = tmp_path_factory.mktemp("feature-maps")
    relocation = REPO / "data" / "demo" / "relocation.toml"
    assert cli.main(["-q", "scenario", str(relocation), "--out", str(out / "scenario")]) == 0
    sites = ["-q", "sites", str(DEMO), "--rule", "medical_walk_15", "--grid", "250"]
    assert cli.main([*sites, "--model", "mclp", "--p", "2", "--out", str(out / "sites")]) == 0
    return {
        "scenario": out / "scenario" / "scenario_map.html",
        "sites": out / "sites" / "sites_map.html",
    }


@pytest.mark.parametrize("which", ["scenario", "sites"])
def test_scenario_and_sites_maps_open_offline_and_toggle(offline_page, feature_maps, which):
    offline_page.open(feature_maps[which])
    page = offline_page.page
    keys = set(_layer_states(page))
    assert "boundary" in keys and "features:0" in keys
    _assert_every_layer_toggles(page)
    _assert_clean(offline_page)


def test_layers_that_are_shown_draw_features(offline_page, demo_dir):
    offline_page.open(demo_dir / "map.html")
    counts = offline_page.page.evaluate(
        """() => Object.fromEntries(Object.entries(window.gpLayers).map(
            ([key, layer]) => [key, layer.getLayers ? layer.getLayers().length : 1]))"""
    )
    summary = {k: v for k, v in counts.items() if k.split(":")[0] in ("bands", "facilities")}
    assert summary and all(n > 0 for n in summary.values()), summary


def test_rule_fragment_shows_one_rule_and_static_hides_the_control(offline_page, demo_dir):
    rules = [r.id for r in load_project(DEMO).rules]
    shown = rules[-1]
    offline_page.open(demo_dir / "map.html", fragment=f"rule={shown}&static=1")
    page = offline_page.page
    states = _layer_states(page)
    for key, on in states.items():
        kind, _, rule = key.partition(":")
        if kind in ("bands", "uncovered", "gaps", "units"):
            assert on is (rule == shown), key
        else:
            assert on, key  # boundary and facilities stay
    assert not page.locator(".leaflet-control-layers").first.is_visible()
    assert page.locator("#gp-legend").is_visible()
    _assert_clean(offline_page)


def test_unknown_rule_in_fragment_keeps_the_defaults(offline_page, demo_dir):
    offline_page.open(demo_dir / "map.html")
    defaults = _layer_states(offline_page.page)
    offline_page.open(demo_dir / "map.html", fragment="rule=no_such_rule")
    assert _layer_states(offline_page.page) == defaults
    _assert_clean(offline_page)


# --------------------------------------------------------------------------- hostile input


def _click_facility(page, name: str) -> str:
    """Click the marker of the facility called ``name`` like a user; return the popup's text."""
    point = page.evaluate(
        """(name) => {
            for (const [key, group] of Object.entries(window.gpLayers)) {
                if (!key.startsWith('facilities:')) continue;
                for (const marker of group.getLayers()) {
                    const popup = marker.getPopup && marker.getPopup();
                    const content = popup ? popup.getContent() : '';
                    // DOMParser neither runs scripts nor loads images: safe to read text.
                    const text = typeof content === 'string'
                        ? new DOMParser().parseFromString(content, 'text/html').body.textContent
                        : (content && content.textContent) || '';
                    if (text.includes(name)) {
                        // Centre it, clear of the legend and the layer control.
                        window.gpMap.setView(marker.getLatLng(), window.gpMap.getZoom(),
                                             {animate: false});
                        const p = window.gpMap.latLngToContainerPoint(marker.getLatLng());
                        const box = window.gpMap.getContainer().getBoundingClientRect();
                        return [p.x + box.left, p.y + box.top];
                    }
                }
            }
            return null;
        }""",
        name,
    )
    assert point is not None, f"no facility marker for {name!r}"
    page.mouse.click(*point)
    popup = page.locator(".leaflet-popup-content")
    popup.wait_for(state="visible", timeout=3000)
    return popup.inner_text()


@pytest.mark.parametrize("name", ["map.html", "map_en.html"])
def test_hostile_names_show_as_text_and_never_run(offline_page, hostile_dir, name):
    offline_page.open(hostile_dir / name)
    page = offline_page.page
    for hostile in HOSTILE_NAMES:
        text = _click_facility(page, hostile)
        assert hostile in text
        assert HOSTILE_ADDRESS in text
        page.evaluate("() => { window.gpMap.closePopup(); }")
        page.wait_for_function("() => !document.querySelector('.leaflet-popup')")
    # Tooltips and the layer control carry names too: hover every marker once.
    page.evaluate(
        """() => Object.entries(window.gpLayers).forEach(([key, group]) => {
            if (key.startsWith('facilities:'))
                group.eachLayer(m => m.openTooltip && m.openTooltip());
        })"""
    )
    page.wait_for_timeout(200)
    assert page.evaluate("() => window.gpPwned") is None
    injected = page.evaluate(
        "() => document.querySelectorAll('#gp-injected, img[src=\"x\"], svg[onload]').length"
    )
    assert injected == 0
    area = HOSTILE_AREA["en" if name.endswith("_en.html") else "zh"]
    assert area in page.locator("#gp-legend").inner_text()
    assert area in page.title()
    _assert_clean(offline_page)


# --------------------------------------------------------------------------- languages


CJK = re.compile(r"[\u3400-\u9fff]")


def test_english_map_labels_are_english(offline_page, demo_dir):
    offline_page.open(demo_dir / "map_en.html")
    page = offline_page.page
    assert page.evaluate("document.documentElement.lang").startswith("en")
    labels = page.locator(".leaflet-control-layers-overlays label").all_inner_texts()
    assert labels
    # Layer names are UI text plus rule and category names: none of it Chinese.
    assert [t for t in labels if CJK.search(t)] == []
    legend = page.locator("#gp-legend").inner_text()
    assert "Medical facility within a 15-minute walk" in legend
    assert not CJK.search(legend.replace("团城山", ""))  # only data values may be Chinese


def test_chinese_map_labels_are_chinese(offline_page, demo_dir):
    offline_page.open(demo_dir / "map.html")
    page = offline_page.page
    assert page.evaluate("document.documentElement.lang").startswith("zh")
    labels = page.locator(".leaflet-control-layers-overlays label").all_inner_texts()
    assert labels and all(CJK.search(t) for t in labels)
    legend = page.locator("#gp-legend").inner_text()
    assert "15分钟步行可达医疗卫生机构" in legend
    assert "Share of population" not in legend


# --------------------------------------------------------------------------- basemaps

TILE_PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d4944415478da63f8ffff3f0005fe02fea7d6a4b00000000049454e44ae426082"
)
TILE_HOSTS = {
    "osm": r"^https://tile\.openstreetmap\.org/\d+/\d+/\d+\.png$",
    "tianditu": r"^https://t[0-7]\.tianditu\.gov\.cn/(vec|cva)_w/wmts\?.*tk=TESTKEY",
    "amap": r"^https://webrd0[1-4]\.is\.autonavi\.com/appmaptile\?.*x=\d+&y=\d+&z=\d+",
}
CREDITS = {"osm": "OpenStreetMap", "tianditu": "天地图", "amap": "高德"}
CRS_WORDS = {"none": "离线", "osm": "WGS84", "tianditu": "CGCS2000", "amap": "GCJ-02"}


@pytest.fixture(scope="module")
def basemap_dirs(tmp_path_factory, monkeypatch_module) -> dict[str, Path]:
    """The demo written once per basemap (zh only)."""
    from geoplan import cli

    monkeypatch_module.setenv("GEOPLAN_TIANDITU_KEY", "TESTKEY")
    dirs = {}
    for basemap in CRS_WORDS:
        out = tmp_path_factory.mktemp(f"basemap-{basemap}")
        code = cli.main(
            ["-q", "demo", "--out", str(out), "--overwrite", "--lang", "zh", "--basemap", basemap]
        )
        assert code == 0
        dirs[basemap] = out
    return dirs


@pytest.fixture(scope="module")
def monkeypatch_module():
    with pytest.MonkeyPatch.context() as patch:
        yield patch


@pytest.mark.parametrize("basemap", list(CRS_WORDS))
def test_basemap_tiles_credit_and_crs_note(offline_page, basemap_dirs, basemap):
    page = offline_page.page
    tiles: list[str] = []

    def serve_tile(route) -> None:
        tiles.append(route.request.url)
        route.fulfill(status=200, content_type="image/png", body=TILE_PNG)

    page.route(re.compile(r"^https?://"), serve_tile)
    offline_page.open(basemap_dirs[basemap] / "map.html", settle_ms=800)
    assert offline_page.console_errors == []
    assert offline_page.dialogs == []
    note = page.locator("#gp-crs-note")
    assert note.is_visible() and CRS_WORDS[basemap] in note.inner_text()
    attribution = page.locator(".leaflet-control-attribution").inner_text()
    assert "OpenStreetMap" in attribution  # the data credit is always there
    if basemap == "none":
        assert tiles == []
        return
    assert CREDITS[basemap] in attribution
    assert tiles, "no tile was requested"
    pattern = re.compile(TILE_HOSTS[basemap])
    assert [u for u in tiles if not pattern.search(u)] == []
    if basemap == "tianditu":  # streets and the label layer
        assert {re.search(r"/(vec|cva)_w/", u).group(1) for u in tiles} == {"vec", "cva"}


def test_amap_overlays_are_shifted_to_gcj02(offline_page, basemap_dirs):
    """Markers drawn on the GCJ-02 basemap sit exactly where GCJ-02 puts the WGS84 input."""

    def facility_positions(folder: Path) -> np.ndarray:
        offline_page.page.route(re.compile(r"^https?://"), lambda route: route.abort())
        offline_page.open(folder / "map.html")
        rows = offline_page.page.evaluate(
            """() => Object.entries(window.gpLayers)
                .filter(([key]) => key.startsWith('facilities:'))
                .flatMap(([, group]) => group.getLayers().map(
                    m => [m.getLatLng().lng, m.getLatLng().lat]))
                .sort((a, b) => a[0] - b[0] || a[1] - b[1])"""
        )
        return np.array(rows)

    wgs = facility_positions(basemap_dirs["osm"])
    gcj = facility_positions(basemap_dirs["amap"])
    expect_lon, expect_lat = coords.wgs84_to_gcj02(wgs[:, 0], wgs[:, 1])
    order = np.lexsort((expect_lat, expect_lon))
    np.testing.assert_allclose(gcj[:, 0], np.asarray(expect_lon)[order], atol=2e-6)
    np.testing.assert_allclose(gcj[:, 1], np.asarray(expect_lat)[order], atol=2e-6)
    shift_m = np.hypot((gcj[:, 0] - wgs[:, 0]) * 96_000, (gcj[:, 1] - wgs[:, 1]) * 111_000)
    assert np.all((shift_m > 200) & (shift_m < 800))  # Huangshi: a few hundred metres
