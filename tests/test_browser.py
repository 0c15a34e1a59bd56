"""The maps in a real browser: Debian's Chromium (Playwright) with the network blocked.

Each test opens a map written by the real pipeline (the demo project, once with hostile
facility names) and checks what a viewer gets: no console error, no request leaves the
machine, every layer in the layer control toggles, popups show names as text, and nothing in a
name runs. At phone size (390×844, touch, mobile emulation) and desktop size the map itself
covers most of the screen on load, the legend and the layer list are one tap away, the rule
switcher changes the layers shown, and a tapped facility's popup fits the screen. The demo map's
screenshots are saved to ``out/test-artifacts/`` (the README's images).
"""

from __future__ import annotations

import csv
import re
from pathlib import Path

import numpy as np
import pytest

from geoplan import coords
from geoplan.rendering.maps import MAX_RANK_LABELS
from geoplan.workflows.project import load_project, run_project

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


def _assert_every_layer_toggles(page, keys=None) -> None:
    """The overlays ``keys`` (default: every one in gpLayers) are exactly the layer control's
    visible entries; each click on one flips its layer and a second click flips it back."""
    layers = [row for row in page.evaluate(LAYERS_JS) if keys is None or row["key"] in keys]
    visible = page.locator(".leaflet-control-layers-selector:visible")
    control_ids = page.evaluate(
        "() => [...document.querySelectorAll('.leaflet-control-layers-selector')]"
        ".filter(input => input.checkVisibility()).map(input => input.layerId)"
    )
    assert sorted(control_ids) == sorted(row["id"] for row in layers)
    for row in layers:
        checkbox = visible.nth(control_ids.index(row["id"]))
        assert checkbox.is_checked() == row["on"], row["key"]
        checkbox.click()
        assert _layer_states(page)[row["key"]] is (not row["on"]), row["key"]
        checkbox.click()
        assert _layer_states(page)[row["key"]] is row["on"], row["key"]


PER_RULE = ("bands", "uncovered", "gaps", "units")
"""Layers of one rule, on while their rule is shown."""
OFF_PER_RULE = ("service",)
"""Layers of one rule that start off (the service areas: shown when the reader asks)."""


def _keys_of_rule(keys, rule: str) -> set[str]:
    """The overlays listed while ``rule`` is shown: its own and those of no rule."""
    mine = (*PER_RULE, *OFF_PER_RULE)
    return {k for k in keys if k.partition(":")[0] not in mine or k.partition(":")[2] == rule}


def test_every_layer_is_in_the_control_and_toggles(offline_page, demo_dir):
    offline_page.open(demo_dir / "map.html")
    page = offline_page.page
    keys = set(_layer_states(page))
    project = load_project(DEMO)
    rules = [r.id for r in project.rules]
    assert {"boundary"} | {f"{kind}:{r}" for kind in PER_RULE for r in rules} <= keys
    drawn = project.service_areas["rules"]  # the demo draws service areas of these
    assert {f"service:{r}" for r in rules if r in drawn} <= keys
    assert any(k.startswith("facilities:") for k in keys)
    for index, rule in enumerate(rules):  # one rule's layers at a time, by the rule switcher
        page.select_option("#gp-rule", index=index)
        _assert_every_layer_toggles(page, _keys_of_rule(keys, rule))
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
        if kind in PER_RULE:
            assert on is (rule == shown), key
        elif kind in OFF_PER_RULE:
            assert not on, key  # service areas stay off in the report's static view
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


def test_a_map_whose_frame_has_no_size_lays_out_without_error(offline_page, demo_dir):
    """A map in a frame that is hidden or torn down (the app's result page, left while the
    map loads) gets a resize with a 0-px container: fitting to it gave Leaflet NaN and an
    uncaught "Invalid LatLng object: (NaN, NaN)". It waits for a size instead, then fits."""
    page = offline_page.page
    offline_page.open(demo_dir / "map.html")
    page.evaluate(
        "() => { document.querySelector('.folium-map').style.height = '0px';"
        " window.dispatchEvent(new Event('resize')); }"
    )
    page.wait_for_timeout(300)
    assert offline_page.console_errors == []
    page.evaluate(
        "() => { document.querySelector('.folium-map').style.height = '';"
        " window.dispatchEvent(new Event('resize')); }"
    )
    page.wait_for_timeout(300)
    _assert_clean(offline_page)


# --------------------------------------------------------------------------- phone and desktop

PHONE = {
    "viewport": {"width": 390, "height": 844},
    "has_touch": True,
    "is_mobile": True,
    "device_scale_factor": 3,
}
"""A phone in Chromium's mobile emulation: touch, the page's meta viewport, 3 pixels per px."""
DESKTOP = {"viewport": {"width": 1400, "height": 1000}}
DEVICES = {"phone": PHONE, "desktop": DESKTOP}
TOUCH_PX = 44
"""Smallest touch target (CSS px), as in Apple's and WCAG 2.5.5's guidance."""

MAP_SHARE_JS = """(n) => {
    /* the share of an n × n grid of viewport points where the map itself is on top */
    const map = window.gpMap.getContainer();
    const over = ".leaflet-control, .leaflet-control-container, #gp-legend, #gp-banner, " +
        "#gp-ui, .leaflet-popup, .leaflet-tooltip";
    let free = 0;
    for (let i = 0; i < n; i++) {
        for (let j = 0; j < n; j++) {
            const el = document.elementFromPoint((i + 0.5) * innerWidth / n,
                                                 (j + 0.5) * innerHeight / n);
            if (el && map.contains(el) && !el.closest(over)) { free++; }
        }
    }
    return free / (n * n);
}"""

AREA_CORNERS_JS = """() => {
    /* the study area's bounding box corners, in viewport pixels */
    const map = window.gpMap, b = window.gpLayers.boundary.getBounds();
    const box = map.getContainer().getBoundingClientRect();
    return [b.getSouthWest(), b.getNorthWest(), b.getNorthEast(), b.getSouthEast()].map(c => {
        const p = map.latLngToContainerPoint(c);
        return [p.x + box.left, p.y + box.top];
    });
}"""

SMALL_TARGETS_JS = """(min) => {
    /* visible controls a finger uses whose box is smaller than min × min CSS px */
    const sel = "button, select, a[href], label, .leaflet-control-zoom a, " +
        ".leaflet-popup-close-button";
    return [...document.querySelectorAll(sel)].filter(el => el.checkVisibility())
        .map(el => [el.outerHTML.slice(0, 80), el.getBoundingClientRect()])
        .filter(([, r]) => r.width < min - 0.5 || r.height < min - 0.5)
        .map(([html, r]) => `${html} ${Math.round(r.width)}×${Math.round(r.height)}`);
}"""


def _on_the_map(page, x: float, y: float, *, canvas: bool = False) -> bool:
    """True if the map itself (no panel, control or banner) is on top at (x, y); with
    ``canvas``, its canvas (where the markers are drawn), not a label over it."""
    return page.evaluate(
        """([x, y, canvas]) => {
            const el = document.elementFromPoint(x, y);
            return !!el && window.gpMap.getContainer().contains(el) &&
                !el.closest(".leaflet-control, .leaflet-control-container, .leaflet-popup") &&
                (!canvas || el.tagName === "CANVAS");
        }""",
        [x, y, canvas],
    )


LISTED_RULES_JS = """() => [...document.querySelectorAll("#gp-layers label")]
    .filter(label => label.checkVisibility())
    .map(label => label.querySelector("[data-gp-rule]"))
    .filter(mark => mark !== null).map(mark => Number(mark.dataset.gpRule))"""


@pytest.mark.parametrize("name", ["map.html", "map_en.html"])
@pytest.mark.parametrize("device", list(DEVICES))
def test_the_map_fills_the_screen_on_load(open_offline, demo_dir, artifacts_dir, device, name):
    view = open_offline(**DEVICES[device])
    view.open(demo_dir / name, settle_ms=800)
    _assert_clean(view)
    page = view.page
    share = page.evaluate(MAP_SHARE_JS, 40)
    assert share >= 0.60, f"{device}: the map itself shows on {share:.0%} of the screen"
    # the whole area is in view, clear of every panel
    for x, y in page.evaluate(AREA_CORNERS_JS):
        assert _on_the_map(page, x, y), (device, x, y)
    # the hypothetical-scenario banner stays visible, and small
    banner = page.locator("#gp-banner")
    assert banner.is_visible()
    box, size = banner.bounding_box(), DEVICES[device]["viewport"]
    assert box["width"] * box["height"] <= 0.06 * size["width"] * size["height"]
    assert page.evaluate(SMALL_TARGETS_JS, TOUCH_PX if device == "phone" else 24) == []
    if name == "map.html":
        page.screenshot(path=str(artifacts_dir / f"demo_map_{device}.png"))


def test_phone_legend_and_layers_are_one_tap_away(open_offline, demo_dir, artifacts_dir):
    view = open_offline(**PHONE)
    view.open(demo_dir / "map.html")
    page = view.page
    legend, layers = page.locator("#gp-legend"), page.locator("#gp-layers")
    assert not legend.is_visible() and not layers.is_visible()
    page.tap("#gp-legend-button")
    assert legend.is_visible() and not layers.is_visible()
    box = page.locator("#gp-legend-panel").bounding_box()
    assert box["y"] >= 0 and box["y"] + box["height"] <= PHONE["viewport"]["height"] + 0.5
    assert "15分钟步行可达医疗卫生机构" in legend.inner_text()
    assert page.evaluate(SMALL_TARGETS_JS, TOUCH_PX) == []
    page.screenshot(path=str(artifacts_dir / "demo_map_phone_legend.png"))
    page.tap("#gp-legend-panel .gp-close")
    assert not legend.is_visible()
    page.tap("#gp-legend-button")
    assert legend.is_visible()
    page.tap("#gp-legend-button")
    assert not legend.is_visible()
    assert page.evaluate(MAP_SHARE_JS, 40) >= 0.60  # closed again: the map is back
    # the layer list: one tap, one sheet at a time, rows large enough for a finger
    page.tap("#gp-layers-button")
    assert layers.is_visible() and not legend.is_visible()
    assert page.evaluate(SMALL_TARGETS_JS, TOUCH_PX) == []
    boundary = page.locator("#gp-layers label:visible").first
    assert "边界" in boundary.inner_text()
    boundary.tap()
    assert _layer_states(page)["boundary"] is False
    boundary.tap()
    assert _layer_states(page)["boundary"] is True
    page.tap("#gp-layers .gp-close")
    assert not layers.is_visible()
    _assert_clean(view)


@pytest.mark.parametrize("device", list(DEVICES))
def test_switching_rules_changes_the_visible_layers(open_offline, demo_dir, device):
    rules = load_project(DEMO).rules
    view = open_offline(**DEVICES[device])
    view.open(demo_dir / "map.html")
    page = view.page

    def listed_rules() -> list[int]:
        """The rules of the layer list's rows, as the reader sees them."""
        if device == "phone":
            page.tap("#gp-layers-button")
        shown = page.evaluate(LISTED_RULES_JS)
        if device == "phone":
            page.tap("#gp-layers .gp-close")
        return shown

    assert listed_rules() == [0] * 5  # units, bands, uncovered, gaps, service areas
    assert page.locator("#gp-rule option:checked").inner_text() == rules[0].name_zh
    before = page.locator(".folium-map").screenshot()
    page.select_option("#gp-rule", index=1)
    for key, on in _layer_states(page).items():
        kind, _, rule = key.partition(":")
        if kind in PER_RULE:
            assert on is (rule == rules[1].id), key
        elif kind in OFF_PER_RULE:
            assert not on, key  # off until the reader turns it on
        else:
            assert on, key
    assert page.locator(".folium-map").screenshot() != before
    assert listed_rules() == [1] * 5  # one rule's layers at a time
    assert page.locator("#gp-rule option:checked").inner_text() == rules[1].name_zh
    assert page.evaluate("location.hash").endswith(f"rule={rules[1].id}")  # a link keeps it
    # the legend marks the rule shown
    current = page.locator("#gp-legend .gp-rule[data-gp-rule]:not(.gp-other-rule)")
    assert current.count() == 1 and rules[1].name_zh in current.text_content()
    # a theme turned off stays off on the next rule
    if device == "phone":
        page.tap("#gp-layers-button")
    page.locator("#gp-layers label:visible").filter(has_text="未覆盖人口").first.click()
    assert _layer_states(page)[f"uncovered:{rules[1].id}"] is False
    page.select_option("#gp-rule", index=0)
    states = _layer_states(page)
    assert states[f"uncovered:{rules[0].id}"] is False and states[f"bands:{rules[0].id}"]
    _assert_clean(view)


TEXT_SIZES_JS = """(selector) => {
    /* font size (CSS px) of every visible text in the element */
    const walker = document.createTreeWalker(document.querySelector(selector),
                                             NodeFilter.SHOW_TEXT);
    const sizes = [];
    while (walker.nextNode()) {
        const parent = walker.currentNode.parentElement;
        if (walker.currentNode.textContent.trim() && parent.checkVisibility()) {
            sizes.push(parseFloat(getComputedStyle(parent).fontSize));
        }
    }
    return sizes;
}"""

FACILITY_POINTS_JS = """() => {
    /* [x, y, name] of every facility marker, in viewport pixels */
    const map = window.gpMap, box = map.getContainer().getBoundingClientRect();
    return Object.entries(window.gpLayers)
        .filter(([key]) => key.startsWith("facilities:"))
        .flatMap(([, group]) => group.getLayers())
        .map(marker => {
            const p = map.latLngToContainerPoint(marker.getLatLng());
            const html = marker.getPopup().getContent();
            const doc = new DOMParser().parseFromString(html, "text/html");
            return [p.x + box.left, p.y + box.top, doc.querySelector("b").textContent];
        });
}"""


@pytest.mark.parametrize("which", ["demo", "hostile"])
def test_a_tapped_facility_popup_fits_the_phone_screen(open_offline, demo_dir, hostile_dir, which):
    """Tap each facility on screen, on its marker and 15 px beside it (a finger is 44 px):
    the nearest facility's popup opens, inside the map and the screen, its text wrapped."""
    folder = demo_dir if which == "demo" else hostile_dir
    view = open_offline(**PHONE)
    view.open(folder / "map.html")
    page = view.page
    width, height = PHONE["viewport"]["width"], PHONE["viewport"]["height"]
    tapped = 0
    for i in range(len(page.evaluate(FACILITY_POINTS_JS))):
        for dx, dy in ((0, 0), (15, 0) if i % 2 else (0, -15)):
            markers = page.evaluate(FACILITY_POINTS_JS)
            x, y = markers[i][0] + dx, markers[i][1] + dy
            if not (0 < x < width and 0 < y < height and _on_the_map(page, x, y, canvas=True)):
                continue  # off screen, or under a gap label
            nearest = min(markers, key=lambda m: (m[0] - x) ** 2 + (m[1] - y) ** 2)[2]
            page.touchscreen.tap(x, y)
            popup = page.locator(".leaflet-popup")
            popup.wait_for(state="visible", timeout=3000)
            page.wait_for_timeout(350)  # the map pans the popup into view
            box = popup.bounding_box()
            frame = page.locator(".folium-map").bounding_box()
            assert box["x"] >= frame["x"] - 0.5 and box["y"] >= frame["y"] - 0.5, box
            assert box["x"] + box["width"] <= min(width, frame["x"] + frame["width"]) + 0.5
            assert box["y"] + box["height"] <= min(height, frame["y"] + frame["height"]) + 0.5
            content = page.locator(".leaflet-popup-content")
            overflow = content.evaluate("c => c.scrollWidth - c.clientWidth")
            assert overflow <= 1, f"{nearest}: text wider than its popup by {overflow} px"
            assert min(page.evaluate(TEXT_SIZES_JS, ".leaflet-popup-content")) >= 14
            assert nearest in content.inner_text() and "类别" in content.inner_text()
            assert page.evaluate(SMALL_TARGETS_JS, TOUCH_PX) == []  # the close button too
            page.tap(".leaflet-popup-close-button")
            page.wait_for_function("() => !document.querySelector('.leaflet-popup')")
            tapped += 1
    assert tapped >= 10
    assert page.evaluate("() => window.gpPwned") is None
    _assert_clean(view)


def test_printing_the_map_puts_the_legend_below_it(open_offline, demo_dir):
    """Printing (beforeprint) lays the page out on A4 with the legend below the map, draws
    the map for that size, and puts everything back afterwards."""
    view = open_offline(**DESKTOP)
    view.open(demo_dir / "map.html")
    page = view.page
    canvases = page.locator(".folium-map canvas").count()
    page.evaluate("() => window.dispatchEvent(new Event('beforeprint'))")
    frame = page.locator(".folium-map").bounding_box()
    legend = page.locator("#gp-legend").bounding_box()
    assert frame["width"] == pytest.approx(718, abs=1)  # A4 less 10 mm margins, at 96 px/in
    assert legend["y"] >= frame["y"] + frame["height"] - 0.5  # below the map, not over it
    assert not page.locator("#gp-layers").is_visible()
    assert not page.locator(".leaflet-control-zoom").is_visible()
    for x, y in page.evaluate(AREA_CORNERS_JS):
        assert frame["x"] <= x <= frame["x"] + frame["width"], x
        assert frame["y"] <= y <= frame["y"] + frame["height"], y
    # the canvases as drawn for paper (Chromium would print them as last painted on screen)
    assert page.locator("canvas.gp-print-copy").count() == canvases
    assert page.pdf(prefer_css_page_size=True)[:4] == b"%PDF"
    page.evaluate("() => window.dispatchEvent(new Event('afterprint'))")
    assert page.locator("canvas.gp-print-copy").count() == 0
    assert page.locator("#gp-layers").is_visible() and page.locator("#gp-legend").is_visible()
    assert page.evaluate(MAP_SHARE_JS, 40) >= 0.60
    _assert_clean(view)


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


# --------------------------------------------------------------------------- gaps and levels

CLICK_GAP_JS = """([key, row]) => {
    /* centre gap area `row` of layer `key` and return a point inside it, clear of labels */
    const group = window.gpLayers[key];
    const area = group.getLayers().find(l => l.gpRow === row && l instanceof L.Polygon);
    const ring = area.getLatLngs()[0][0];
    const inside = L.latLng((3 * ring[0].lat + ring[2].lat) / 4,
                            (3 * ring[0].lng + ring[2].lng) / 4);
    window.gpMap.setView(inside, 17, {animate: false});
    const p = window.gpMap.latLngToContainerPoint(inside);
    const box = window.gpMap.getContainer().getBoundingClientRect();
    return [p.x + box.left, p.y + box.top];
}"""


GAP_LABELS_JS = """(key) => window.gpLayers[key].getLayers()
    .filter(l => l instanceof L.Marker && l.gpRow !== undefined)
    .map(l => [l.gpRow, l.options.icon.options.html.textContent])"""


def _open_gap_popup(page, key: str, row: int) -> str:
    """Click gap area ``row`` (0: rank 1) of layer ``key`` like a user; the popup's text."""
    page.evaluate("() => { window.gpMap.closePopup(); }")
    page.wait_for_function("() => !document.querySelector('.leaflet-popup')")  # faded out
    page.mouse.click(*page.evaluate(CLICK_GAP_JS, [key, row]))
    popup = page.locator(".leaflet-popup-content")
    popup.wait_for(state="visible", timeout=3000)
    return popup.inner_text()


@pytest.mark.parametrize("name", ["map.html", "map_en.html"])
def test_a_clicked_gap_shows_its_row_of_gaps_csv(offline_page, demo_dir, name):
    """The popup of a gap area, built in the browser from numbers, says what gaps.csv says of
    it: rank, rule, residents, median minutes, nearest facility, unit."""
    import pandas as pd

    english = name.endswith("_en.html")
    table = pd.read_csv(demo_dir / "gaps.csv")
    offline_page.open(demo_dir / name)
    page = offline_page.page
    project = load_project(DEMO)
    for rule in project.rules[:2]:
        page.evaluate(
            "(i) => { const s = document.getElementById('gp-rule');"
            "s.value = String(i); s.dispatchEvent(new Event('change')); }",
            project.rules.index(rule),
        )
        rows = table[table["rule_id"] == rule.id].sort_values("rank")
        # the rank labels, filled in the browser: "rank · residents" of the top ranks
        labels = dict(page.evaluate(GAP_LABELS_JS, f"gaps:{rule.id}"))
        top = rows[rows["rank"] <= MAX_RANK_LABELS]
        assert len(top) > 1 and labels == {
            row: f"{gap['rank']} · {round(gap['population']):,}" + (" people" if english else "人")
            for row, (_, gap) in enumerate(top.iterrows())
        }, labels
        for row in (0, 1, len(rows) - 1):
            gap = rows.iloc[row]
            text = _open_gap_popup(page, f"gaps:{rule.id}", row)
            lines = [line.split("\t") for line in text.splitlines()]
            title = f"Gap #{gap['rank']} " if english else f"缺口 #{gap['rank']}（"
            assert lines[0][0].startswith(title), text
            minutes = f"{gap['median_travel_time_s'] / 60:.1f}"
            facts = dict(line for line in lines[1:] if len(line) == 2)
            assert facts == {
                ("rule" if english else "覆盖规则"): rule.name_en if english else rule.name_zh,
                ("population" if english else "人口"): f"{round(gap['population']):,}",
                ("median travel time" if english else "中位出行时间"): (
                    f"{minutes} min" if english else f"{minutes} 分钟"
                ),
                ("nearest facility" if english else "最近设施"): gap["nearest_facility_name"],
                ("unit" if english else "所在单元"): gap["unit_name"],
            }, text
    _assert_clean(offline_page)


def _synthetic_map(folder: Path, n: int, names: tuple[str, str, str]) -> Path:
    """A coverage map of ``n`` random uncovered residents (a tenth unreachable) in a 4 km
    square and three gap cells whose rule, nearest facility and unit are ``names``."""
    import geopandas as gpd
    from shapely.geometry import LineString, Point, box

    from geoplan.rendering import maps

    rng = np.random.default_rng(7)
    x0, y0 = 115.0, 30.2
    lon, lat = x0 + rng.uniform(0, 0.04, n), y0 + rng.uniform(0, 0.04, n)
    minutes = np.where(rng.random(n) < 0.1, np.nan, rng.uniform(16, 60, n))
    demand = gpd.GeoDataFrame(
        {
            "population": rng.integers(1, 200, n).astype(float),
            "r_covered": False,
            "r_minutes": minutes,
        },
        geometry=gpd.points_from_xy(lon, lat),
        crs=4326,
    ).to_crs(32650)
    gaps = gpd.GeoDataFrame(
        {
            "rule_id": "r",
            "rank": [1, 2, 3],
            "population": [900.0, 500.0, 100.0],
            "median_travel_time_s": [1800.0, np.nan, 1300.0],
            "nearest_facility_name": [names[1], None, names[1]],
            "nearest_facility_id": ["F", "F", "F"],
            "unit_name": [names[2], names[2], None],
        },
        geometry=[box(x0 + 0.01 * k, y0, x0 + 0.01 * k + 0.005, y0 + 0.005) for k in range(3)],
        crs=4326,
    )
    m = maps.coverage_map(
        title_zh="合成",
        title_en="synthetic",
        boundary=None,
        facilities=gpd.GeoDataFrame(
            {"facility_id": ["F"], "name": [names[1]], "category": ["clinic"]},
            geometry=[Point(x0 + 0.02, y0 + 0.02)],
            crs=4326,
        ),
        rules=[{"id": "r", "name_zh": names[0], "name_en": names[0], "threshold_min": 15}],
        street_minutes=gpd.GeoDataFrame(
            {"r": [20.0]}, geometry=[LineString([(x0, y0), (x0 + 0.04, y0 + 0.04)])], crs=4326
        ),
        demand=demand,
        gaps=gaps,
    )
    path = folder / f"synthetic_{n}.html"
    maps.save_map(m, path)
    return path


@pytest.mark.parametrize("hostile", HOSTILE_NAMES)
def test_gap_popups_show_hostile_names_as_text(offline_page, tmp_path, hostile):
    names = (f"rule {hostile}", f"clinic {hostile}\"';", f"unit {hostile}")
    offline_page.open(_synthetic_map(tmp_path, 50, names))
    page = offline_page.page
    text = _open_gap_popup(page, "gaps:r", 0)
    for name in names:
        assert name in text
    assert names[1] in _open_gap_popup(page, "gaps:r", 1)  # named through its facility id
    assert names[2] not in _open_gap_popup(page, "gaps:r", 2)  # no unit: no unit row
    page.mouse.move(5, 5)
    page.mouse.move(*page.evaluate(CLICK_GAP_JS, ["gaps:r", 2]))  # its tooltip
    page.locator(".leaflet-tooltip").first.wait_for(state="visible", timeout=3000)
    assert page.evaluate("() => window.gpPwned") is None
    assert page.evaluate("() => document.querySelectorAll('img[src=\"x\"]').length") == 0
    _assert_clean(offline_page)


LEVELS_JS = """() => {
    const group = window.gpLayers['uncovered:r'];
    const sum = (level, far) => level.pop.reduce(
        (a, p, i) => a + ((level.min[i] < 0) === far ? p : 0), 0);
    const drawn = [];
    group.eachLayer(level => level.eachLayer(c => drawn.push(c)));
    return {levels: group.gpLevels.map(l => ({cell: l.cell, n: l.pop.length,
                                               reachable: sum(l, false), far: sum(l, true)})),
            drawn: drawn.length, level: drawn.length ? drawn[0].gpLevel.cell : null};
}"""


def test_uncovered_residents_are_summed_into_coarser_cells_when_zoomed_out(offline_page, tmp_path):
    """Above GP_DETAIL_ROWS points a zoomed-out map draws cells of 200 m, 400 m … whose
    residents add up to the points' (reachable and unreachable apart), and the points when
    zoomed in; a coarse circle's tooltip says its cell."""
    n = 6000
    offline_page.open(_synthetic_map(tmp_path, n, ("r", "f", "u")))
    page = offline_page.page
    out = page.evaluate(LEVELS_JS)
    fine, *coarse = out["levels"]
    assert fine["n"] == n and fine["cell"] is None and len(coarse) >= 3
    assert [level["cell"] for level in coarse] == [100 * 2**j for j in range(1, len(coarse) + 1)]
    for level in coarse:  # the sums of tenths of residents are exact
        assert (level["reachable"], level["far"]) == (fine["reachable"], fine["far"])
        assert level["n"] < fine["n"]
    assert out["level"] is not None and out["drawn"] < n  # fitted: cells, not points
    page.evaluate("() => { window.gpMap.setZoom(18, {animate: false}); }")
    page.wait_for_timeout(200)
    assert page.evaluate(LEVELS_JS)["level"] is None  # zoomed in: the points themselves
    page.evaluate("() => { window.gpMap.setZoom(13, {animate: false}); }")
    page.wait_for_timeout(200)
    out = page.evaluate(LEVELS_JS)
    assert out["level"] is not None
    tip = page.evaluate(
        """() => { let c = null;
            window.gpLayers['uncovered:r'].eachLayer(l => l.eachLayer(m => { c = c || m; }));
            c.fire('mouseover', {latlng: c.getLatLng()}, true);  /* as a hover does */
            return document.querySelector('.leaflet-tooltip').innerText; }"""
    )
    assert f"{out['level']:,} 米网格内合计" in tip, tip
    _assert_clean(offline_page)
