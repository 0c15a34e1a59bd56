"""`geoplan report`: the HTML/PDF report of a result folder and the gallery of a batch.

Everything is built from real runs of the demo project (团城山街道) into ``tmp_path``: the
Chinese report with its PDF through the CLI, the English one and a copy with hostile strings
without Chromium (the fallback path, and fast), a two-area batch through ``run_batch``. The
report is opened in Debian's Chromium (Playwright, network blocked) and its screenshot saved to
``out/test-artifacts/report.png`` (the first rule's static map to ``report_map.png``). The static
maps themselves are checked at the report's window size: legend beside or below the map, never
over it, and at least 9 pt once printed.
"""

from __future__ import annotations

import base64
import hashlib
import html
import json
import re
import shutil
from html.parser import HTMLParser
from pathlib import Path

import pandas as pd
import pytest

from geoplan.cli import main
from geoplan.rendering import browser, report
from geoplan.rendering.maps import check_offline
from geoplan.workflows.batch import areas_from, run_batch
from geoplan.workflows.project import DEMO_PROJECT

REPO = Path(__file__).resolve().parents[1]
SCENARIO = REPO / "data" / "facilities" / "tuanchengshan_scenario.csv"
RELOCATION = REPO / "data" / "demo" / "relocation.toml"
CJK = re.compile(r"[\u3400-\u9fff\u3000-\u303f\uff00-\uffef]")
PNG = b"\x89PNG\r\n\x1a\n"
IMG = re.compile(r"<img src='data:image/png;base64,([A-Za-z0-9+/=]+)'")

HOSTILE_AREA = "团城山<b id=gp-injected>街道</b>"
HOSTILE_NOTE = '<img src=x onerror="window.gpPwned=1;alert(1)">'
HOSTILE_FACILITY = "</script><script>window.gpPwned=2;alert(2)</script>"


def _no_chromium(*args, **kwargs):
    raise FileNotFoundError("Chromium not found (disabled by the test)")


@pytest.fixture(scope="module")
def zh_report(demo_dir, chromium_binary) -> Path:
    """The Chinese report and PDF, written by the CLI with the defaults (needs a browser)."""
    assert main(["-q", "report", str(demo_dir)]) == 0
    return demo_dir / "report.html"


@pytest.fixture(scope="module")
def en_report(demo_dir) -> Path:
    """The English report, Chromium missing (no maps, no PDF: the fallback path)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(browser, "find_chromium", _no_chromium)
        written = report.write_reports(demo_dir, lang="en")
    assert written.pdfs == [] and written.reports == [demo_dir / "report_en.html"]
    return demo_dir / "report_en.html"


@pytest.fixture(scope="module")
def hostile_report(demo_dir, tmp_path_factory) -> Path:
    """A copy of the demo results carrying payloads in area, notes, a rule and a facility."""
    folder = tmp_path_factory.mktemp("report-hostile") / "hostile"
    shutil.copytree(demo_dir, folder, ignore=shutil.ignore_patterns("report*"))
    summary = json.loads((folder / "summary.json").read_text(encoding="utf-8"))
    summary["area"] = HOSTILE_AREA
    summary["notes_zh"] = [HOSTILE_NOTE]
    summary["rules"][0]["name_zh"] = HOSTILE_NOTE
    (folder / "summary.json").write_text(json.dumps(summary, ensure_ascii=False), "utf-8")
    gaps = pd.read_csv(folder / "gaps.csv", encoding="utf-8-sig")
    gaps["nearest_facility_name"] = HOSTILE_FACILITY
    gaps.to_csv(folder / "gaps.csv", index=False, encoding="utf-8-sig")
    _reseal(folder)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(browser, "find_chromium", _no_chromium)
        report.write_reports(folder)
    return folder / "report.html"


def _reseal(folder: Path) -> None:
    """Record edited files in the manifest as if geoplan had written them (tests only: the
    report refuses files changed after the run)."""
    path = folder / "manifest.json"
    manifest = json.loads(path.read_text(encoding="utf-8"))
    for entry in manifest["files"]:
        data = (folder / entry["path"]).read_bytes()
        entry.update(bytes=len(data), sha256=hashlib.sha256(data).hexdigest())
    path.write_text(json.dumps(manifest), encoding="utf-8")


class _Text(HTMLParser):
    """Visible text of a page (no style or script content)."""

    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag, attrs):
        self._skip += tag in ("style", "script")

    def handle_endtag(self, tag):
        self._skip -= tag in ("style", "script")

    def handle_data(self, data):
        if not self._skip:
            self.parts.append(data)


def _visible_text(page: str) -> str:
    parser = _Text()
    parser.feed(page)
    return "".join(parser.parts)


def _rule_section(page: str, rule_id: str) -> str:
    start = page.index(f"<section class='page' id='rule-{rule_id}'>")
    return page[start : page.index("</section>", start)]


def _summary(folder: Path) -> dict:
    return json.loads((folder / "summary.json").read_text(encoding="utf-8"))


# --------------------------------------------------------------------------- the report


def test_report_holds_summary_shares_maps_and_warning(zh_report, demo_dir):
    page = zh_report.read_text(encoding="utf-8")
    summary = _summary(demo_dir)
    assert summary["facilities_hypothetical"]
    assert "class='warning'" in page and "假设情景" in page
    images = []
    gaps = pd.read_csv(demo_dir / "gaps.csv", encoding="utf-8-sig")
    assert (gaps["rule_id"] == "medical_walk_15").sum() > report.GAP_ROWS
    for rule in summary["rules"]:
        assert f"<b>{rule['share_covered']:.1%}</b>" in page  # as in the summary table
        section = _rule_section(page, rule["id"])
        static_map = base64.b64decode(IMG.search(section).group(1))
        assert static_map.startswith(PNG)
        assert int.from_bytes(static_map[16:20], "big") >= 1200  # PNG width: print quality
        images.append(static_map)
        assert "<h3>缺口列表" in section
        cells = int((gaps["rule_id"] == rule["id"]).sum())  # header + the top 20 gaps
        assert section.count("<tr>") == 1 + min(cells, report.GAP_ROWS)
    assert images[0] != images[1]  # each rule's own layers (#rule=<id>&static=1)
    top = gaps[gaps["rule_id"] == summary["rules"][0]["id"]].nsmallest(1, "rank").iloc[0]
    assert f"{top['population']:,.0f}" in page and html.escape(top["nearest_facility_name"]) in page
    check_offline(page)  # no http(s) resource anywhere
    assert not re.search(r"(src|href)\s*=\s*['\"]?(https?:)?//", page, re.I)


def test_report_pdf_is_written_by_default(zh_report):
    pdf = zh_report.with_suffix(".pdf")
    data = pdf.read_bytes()
    assert data.startswith(b"%PDF")
    assert len(re.findall(rb"/Type\s*/Page\b", data)) >= 3  # summary, one page per rule …
    assert b"/MediaBox [0 0 594.9" in data  # A4


def test_report_includes_checks_and_scenarios_found_in_subfolders(
    demo_dir, tmp_path, plan_indicators
):
    folder = tmp_path / "combined"
    shutil.copytree(demo_dir, folder, ignore=shutil.ignore_patterns("report*"))
    plan = ["check", str(DEMO_PROJECT), "--plan", "leshan_shizhong", "--out"]
    assert main(["-q", *plan, str(folder / "check")]) == 0
    assert main(["-q", "scenario", str(RELOCATION), "--out", str(folder / "scenario")]) == 0
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(browser, "find_chromium", _no_chromium)
        report.write_reports(folder)
    page = (folder / "report.html").read_text(encoding="utf-8")
    checks = _summary(folder / "check")
    section = page[page.index("<section class='page' id='checks'>") :]
    for check in checks["checks"]:
        assert html.escape(check["name_zh"]) in section
    assert section.count("<span class='bad'>未达标</span>") == checks["counts"]["not met"]
    # grouped as the plan groups them: its headings in the plan's order, each rule under its
    # own, with the line and verbatim quote of every citation
    headings = [html.escape(s["title_zh"]) for s in checks["pack"]["sections"]]
    at = [section.index(f"<h4>{h} ") for h in headings]
    assert at == sorted(at)
    for check in checks["checks"]:
        k = headings.index(html.escape(check["section"]["title_zh"]))
        end = at[k + 1] if k + 1 < len(at) else len(section)
        assert at[k] < section.index(html.escape(check["name_zh"])) < end, check["rule_id"]
        for c in check["citations"]:
            assert f"L{c['line']} 「{html.escape(c['quote'])}」" in section[at[k] : end]
    scenario = json.loads((folder / "scenario" / "scenario_summary.json").read_text("utf-8"))
    section = page[page.index("<section class='page' id='scenarios'>") :]
    for rule in scenario["rules"]:
        row = section[section.index(html.escape(rule["name_zh"])) :].split("</tr>")[0]
        cells = re.findall(r"<td[^>]*>([^<]*)</td>", row)
        assert cells == [
            f"{rule['before']['share']:.1%}",
            f"{rule['after']['share']:.1%}",
            f"{100 * rule['change']['share']:+.1f}",
            f"{rule['change']['population_covered']:+,.0f}",
            f"{rule['gained']['population']:,.0f}",
            f"{rule['lost']['population']:,.0f}",
        ]
    assert html.escape(scenario["changes"][0]["name"]) in section
    text = _visible_text(page)
    assert "✓ 规划指标核查" in text and "✓ 情景推演" in text


def test_report_says_which_reading_of_the_plan_a_check_took(tmp_path, plan_indicators):
    out = tmp_path / "check"
    args = ["-q", "check", str(DEMO_PROJECT), "--plan", "qinzhou", "--out", str(out)]
    assert main([*args, "--assume", "village_reach=within_15_min"]) == 0
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(browser, "find_chromium", _no_chromium)
        written = report.write_reports(out, lang="en")
    page = written.reports[0].read_text(encoding="utf-8")
    section = page[page.index("<section class='page' id='checks'>") :]
    assert "this check took" in section
    assert "<code>village_reach = within_15_min</code>" in section
    assert "<code>--assume village_reach=in_village</code>" in section
    assert "<code>--assume fitness_venues=all</code>" in section
    assert "(1) Healthy lifestyles" in section  # the plan's heading, in English


def test_report_includes_sites_found_in_subfolders(demo_dir, tmp_path):
    """issue 14: ``geoplan sites`` results (new sites, 片区) were left out of the report."""
    folder = tmp_path / "with-sites"
    shutil.copytree(demo_dir, folder, ignore=shutil.ignore_patterns("report*"))
    sites = ["sites", str(DEMO_PROJECT), "--rule", "medical_walk_15"]
    assert main(["-q", *sites, "--grid", "250", "--p", "2", "--out", str(folder / "sites")]) == 0
    hubs = ["catchments", str(DEMO_PROJECT), "--rule", "medical_walk_15", "--k", "2"]
    assert main(["-q", *hubs, "--out", str(folder / "hubs")]) == 0
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(browser, "find_chromium", _no_chromium)
        written = report.write_reports(folder, lang="en")
    page = written.reports[0].read_text(encoding="utf-8")
    section = page[page.index("<section class='page' id='sites'>") :].split("</section>")[0]
    summary = _summary(folder / "sites")["sites"]
    selected = pd.read_csv(folder / "sites" / "selected.csv", encoding="utf-8-sig")
    for row in selected.itertuples():
        cells = section[section.index(f"<td>{row.candidate_id}</td>") :].split("</tr>")[0]
        assert f"{row.lon:.6f}, {row.lat:.6f}" in cells
        assert f"{row.gained_population:,.0f}" in cells
    before = f"{summary['covered_population_before']:,.0f}"
    after = f"{summary['covered_population_after']:,.0f}"
    assert before in section and after in section and "MCLP, p = 2" in section
    assert "href='sites/sites_map.html'" in section
    hubs = json.loads((folder / "hubs" / "catchments_summary.json").read_text("utf-8"))
    for hub in hubs["per_hub"]:
        assert f"<td>{html.escape(str(hub['hub_id']))}</td>" in section
    assert "href='hubs/catchments_map.html'" in section
    assert "✓ Site selection" in _visible_text(page)


def test_report_absent_parts_are_named(zh_report):
    text = _visible_text(zh_report.read_text(encoding="utf-8"))
    assert "✗ 规划指标核查" in text and "geoplan check" in text
    assert "✗ 情景推演" in text and "geoplan scenario" in text


def test_hostile_strings_are_escaped(hostile_report):
    page = hostile_report.read_text(encoding="utf-8")
    for payload in (HOSTILE_AREA, HOSTILE_NOTE, HOSTILE_FACILITY):
        assert payload not in page
        assert html.escape(payload) in page
    assert "<script" not in page.lower()
    assert "gp-injected>" not in page


def test_without_chromium_the_report_says_so(hostile_report, en_report):
    page = hostile_report.read_text(encoding="utf-8")
    assert "未找到 Chromium" in page
    assert not hostile_report.with_suffix(".pdf").exists()
    for rule in _summary(hostile_report.parent)["rules"]:
        section = _rule_section(page, rule["id"])
        assert "class='note image-note'" in section  # the note in the map's place
        assert len(IMG.findall(section)) == 2  # the two charts, no map
    assert "Chromium was not found" in en_report.read_text(encoding="utf-8")


def test_english_report_has_no_chinese_ui(en_report, demo_dir):
    page = en_report.read_text(encoding="utf-8")
    assert "<html lang='en'>" in page and "Hypothetical scenario" in page
    summary = _summary(demo_dir)
    for rule in summary["rules"]:
        assert f"<b>{rule['share_covered']:.1%}</b>" in page
        assert html.escape(rule["name_en"]) in page
    data = set()  # Chinese data values may appear as they are
    for source in (summary, json.loads((demo_dir / "run.json").read_text(encoding="utf-8"))):
        data |= set(_strings(source))
    gaps = pd.read_csv(demo_dir / "gaps.csv", encoding="utf-8-sig")
    data |= set(gaps["nearest_facility_name"].dropna()) | set(gaps["unit_name"].dropna())
    text = _visible_text(page)
    for value in sorted(data, key=len, reverse=True):
        text = text.replace(value, "")
    assert CJK.findall(text) == []


def _strings(value) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for v in value.values() for s in _strings(v)]
    if isinstance(value, list):
        return [s for v in value for s in _strings(v)]
    return []


def test_report_opens_offline_with_a_cjk_font(zh_report, offline_page, artifacts_dir, cjk_font):
    offline_page.open(zh_report)
    page = offline_page.page
    assert offline_page.console_errors == [] and offline_page.blocked == []
    assert offline_page.dialogs == []
    heading = page.locator("h1").inner_text()
    assert re.search(r"[\u4e00-\u9fff]", heading)
    cdp = page.context.new_cdp_session(page)
    root = cdp.send("DOM.getDocument")["root"]["nodeId"]
    node = cdp.send("DOM.querySelector", {"nodeId": root, "selector": "h1"})["nodeId"]
    cdp.send("CSS.enable")
    fonts = cdp.send("CSS.getPlatformFontsForNode", {"nodeId": node})["fonts"]
    cjk = [f for f in fonts if "CJK" in f["familyName"]]
    assert cjk, fonts
    assert sum(f["glyphCount"] for f in cjk) >= len(re.findall(r"[\u4e00-\u9fff]", heading))
    images = page.evaluate("[...document.images].map(i => i.complete && i.naturalWidth > 0)")
    assert images and all(images)
    page.screenshot(path=str(artifacts_dir / "report.png"), full_page=True)
    assert (artifacts_dir / "report.png").stat().st_size > 100_000
    # the first rule's section: its static map with the legend beside it (the README's image)
    rule = page.locator("section.page[id^='rule-'] figure").first
    rule.screenshot(path=str(artifacts_dir / "report_map.png"))


def test_hostile_report_runs_nothing_in_a_browser(hostile_report, offline_page):
    offline_page.open(hostile_report)
    page = offline_page.page
    assert offline_page.dialogs == [] and offline_page.blocked == []
    assert page.evaluate("window.gpPwned === undefined")
    assert page.locator("#gp-injected").count() == 0
    assert HOSTILE_AREA in page.locator("h1").inner_text()  # shown as text


TEXT_SIZES_JS = """(selector) => {
    /* font size (CSS px) of every visible text of the element */
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


def _overlap(a: dict, b: dict) -> bool:
    return (
        a["x"] < b["x"] + b["width"] - 0.5
        and b["x"] < a["x"] + a["width"] - 0.5
        and a["y"] < b["y"] + b["height"] - 0.5
        and b["y"] < a["y"] + a["height"] - 0.5
    )


@pytest.mark.parametrize("name", ["map.html", "map_en.html"])
def test_static_maps_have_the_legend_outside_the_map_and_readable_in_print(
    open_offline, demo_dir, name
):
    """What the report screenshots (``#rule=<id>&static=1`` at :data:`report.MAP_WINDOW`)."""
    width, height = report.MAP_WINDOW
    rules = _summary(demo_dir)["rules"]
    for rule in rules:
        view = open_offline(viewport={"width": width, "height": height})
        view.open(demo_dir / name, fragment=f"rule={rule['id']}&static=1", settle_ms=800)
        page = view.page
        frame = page.locator(".folium-map").bounding_box()
        assert frame["width"] * frame["height"] >= 0.5 * width * height  # still a map first
        for selector in ("#gp-legend", "#gp-banner"):
            box = page.locator(selector).bounding_box()
            assert not _overlap(frame, box), selector  # beside or below the map, not over it
            assert box["x"] >= 0 and box["x"] + box["width"] <= width + 0.5, selector
            assert box["y"] >= 0 and box["y"] + box["height"] <= height + 0.5, selector
        panel = page.locator("#gp-legend-panel")
        assert panel.evaluate("e => e.scrollHeight - e.clientHeight") <= 1  # nothing cut off
        # Printed, the screenshot spans the report's text width: every legend text >= 9 pt.
        smallest = min(page.evaluate(TEXT_SIZES_JS, "#gp-legend"))
        printed_pt = smallest * (report.PRINT_WIDTH_MM / 25.4 * 72) / width
        assert printed_pt >= 9, f"legend text prints at {printed_pt:.1f} pt"
        # the share covered of the rule shown, not the others'
        shares = page.locator("#gp-legend .gp-rule:visible").all_inner_texts()
        rule_name = rule["name_en" if name == "map_en.html" else "name_zh"]
        assert len(shares) == 1 and rule_name in shares[0]
        assert view.console_errors == [] and view.blocked == []


# --------------------------------------------------------------------------- gallery


@pytest.fixture(scope="module")
def batch_dir(tmp_path_factory) -> Path:
    """A two-area batch (the demo with all facilities, and with every second one)."""
    folder = tmp_path_factory.mktemp("report-areas")
    facilities = pd.read_csv(SCENARIO, dtype=str, encoding="utf-8-sig", keep_default_na=False)
    demo = DEMO_PROJECT.read_text(encoding="utf-8")
    line = 'path = "../facilities/tuanchengshan_scenario.csv"'
    assert line in demo
    for slug, rows in (("all", facilities), ("every_second", facilities.iloc[::2])):
        rows.to_csv(folder / f"{slug}.csv", index=False, encoding="utf-8")
        text = demo.replace(line, f'path = "{slug}.csv"')
        text = text.replace('area = "团城山街道"', f'area = "团城山街道 {slug}"')
        (folder / f"{slug}.toml").write_text(text, encoding="utf-8")
    out = tmp_path_factory.mktemp("report-batch")
    run_batch(areas_from(folder), out, n_workers=2)
    return out


def test_gallery_of_a_batch_has_a_card_per_area_with_working_links(batch_dir, chromium_binary):
    assert main(["-q", "report", str(batch_dir), "--no-pdf"]) == 0
    index = (batch_dir / "gallery.html").read_text(encoding="utf-8")
    check_offline(index)
    cards = re.findall(r"<article class='card'>(.*?)</article>", index, re.S)
    assert len(cards) == 2
    for slug, card in zip(("all", "every_second"), cards, strict=True):
        summary = _summary(batch_dir / slug)
        assert html.escape(summary["area"]) in card
        for rule in summary["rules"]:
            assert f"<b>{rule['share_covered']:.1%}</b>" in card
        thumbnail = base64.b64decode(IMG.search(card).group(1))
        assert thumbnail.startswith(PNG)
        assert int.from_bytes(thumbnail[16:20], "big") == report.THUMB_WIDTH_PX
        links = set(re.findall(r"href='([^']+)'", card))
        assert links == {f"{slug}/report.html", f"{slug}/map.html"}
        for link in links:
            assert (batch_dir / link).is_file()
        assert not (batch_dir / slug / "report.pdf").exists()  # --no-pdf
    # the two areas really differ
    assert cards[0].count("%</b>") == cards[1].count("%</b>") and cards[0] != cards[1]
    shares = [re.findall(r"<b>(\d+\.\d%)</b>", card) for card in cards]
    assert len(shares[0]) == len(_summary(batch_dir / "all")["rules"])
    assert shares[0] != shares[1]  # every second facility: other shares, not just another name


# --------------------------------------------------------------------------- errors


@pytest.mark.parametrize("make", ["empty", "missing", "other"])
def test_cli_error_for_a_folder_without_results(tmp_path, capsys, make):
    folder = tmp_path / "x"
    if make != "missing":
        folder.mkdir()
    if make == "other":
        (folder / "summary.json").write_text('{"something": 1}', encoding="utf-8")
    assert main(["report", str(folder)]) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert err.startswith("geoplan: error:") and "--out folder of geoplan run" in err


def test_cli_refuses_to_overwrite_a_report(zh_report, capsys):
    assert main(["report", str(zh_report.parent), "--no-pdf"]) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "--overwrite" in err and "report.html" in err


def test_unknown_language_is_refused(demo_dir):
    from geoplan.errors import InputError

    assert report.LANGS == ("zh", "en")
    with pytest.raises(InputError, match="unknown report language 'fr'"):
        report.write_reports(demo_dir, lang="fr")
    assert main(["report", str(demo_dir), "--lang", "fr"]) == 2  # argparse: not a choice
