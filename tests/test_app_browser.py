"""``geoplan serve`` in a real browser (Playwright driving the Chromium found, every address but
the app's own blocked): the planner's whole flow on the demo data, and hostile text that must
never run. Screenshots of each page are saved to ``out/test-artifacts/app_*.png`` (the
README's images)."""

from __future__ import annotations

import json
import re
import threading
import zipfile

import pytest
from test_app import (
    BOUNDARY,
    DEMAND,
    DEMO,
    HOSTILE,
    NETWORK,
    RULES,
    UNKNOWN_TYPE,
    facility_workbook,
)

from geoplan.app.runs import Runner
from geoplan.app.web import create_app


@pytest.fixture
def server(tmp_path):
    """The app served by waitress on 127.0.0.1 (a free port) in a thread; its base URL."""
    import waitress

    app = create_app(tmp_path / "projects", runner=Runner(pdf=False))
    httpd = waitress.create_server(app, host="127.0.0.1", port=0, threads=4)
    thread = threading.Thread(target=httpd.run, daemon=True)
    thread.start()
    yield app, f"http://127.0.0.1:{httpd.effective_port}"
    httpd.close()
    thread.join(5)


@pytest.fixture
def browse(chromium_browser, server):
    """A page that may reach the app only; console errors, dialogs and refused URLs kept."""
    app, base = server
    context = chromium_browser.new_context(
        viewport={"width": 1280, "height": 900}, accept_downloads=True, locale="zh-CN"
    )
    context.set_default_timeout(60_000)  # a loaded 2-core CI machine: reading inputs takes time
    page = context.new_page()
    seen = {"errors": [], "dialogs": [], "blocked": []}

    def gate(route) -> None:
        url = route.request.url
        if url.startswith((base + "/", "data:", "blob:", "about:")):
            route.continue_()
        else:
            seen["blocked"].append(url)
            route.abort()

    def on_dialog(dialog) -> None:
        seen["dialogs"].append(dialog.message)
        dialog.dismiss()

    context.route("**/*", gate)
    page.on("console", lambda m: m.type == "error" and seen["errors"].append(m.text))
    page.on("pageerror", lambda exc: seen["errors"].append(f"uncaught: {exc} {exc.stack}"))
    page.on("dialog", on_dialog)
    yield app, base, page, seen
    context.close()


def shot(page, artifacts_dir, name: str) -> None:
    page.screenshot(path=str(artifacts_dir / f"app_{name}.png"), full_page=True)


def test_the_planners_flow_in_the_browser(browse, artifacts_dir, tmp_path):
    """New project from a boundary, an Excel list with a title row, Chinese headers, a
    duplicate, a type fixed in the mapping step and a hostile name; network and population
    uploaded and drawn on the preview map; the demo's circles from the form; run with the
    progress bar; the map and report in the page; gap list and report downloaded; the
    figures are the CLI's, and no hostile text ever ran."""
    app, base, page, seen = browse
    page.goto(base + "/")
    page.click("#new-project")
    shot(page, artifacts_dir, "new")
    page.set_input_files("#boundary-form input[name=boundary]", str(BOUNDARY))
    page.fill("#boundary-form input[name=area_name]", f"团城山街道 {HOSTILE}")
    page.click("#boundary-form button[type=submit]")
    page.wait_for_url(re.compile(r"/p/[^/]+/$"))

    # facilities: upload, fix the unknown type, see the counts
    page.click(".steps li:nth-child(2) a")
    workbook = tmp_path / "卫健委名录.xlsx"
    workbook.write_bytes(facility_workbook())
    page.set_input_files("#facilities-upload input[type=file]", str(workbook))
    page.click("#facilities-upload button[type=submit]")
    page.wait_for_selector("text=读入 12 条，使用 9 条，拒绝 3 条")
    row = page.locator("table.types tr", has_text=UNKNOWN_TYPE)
    row.locator("select").select_option("community_health_station")
    page.click("form.mapping button[type=submit]")
    page.wait_for_selector("text=读入 12 条，使用 10 条，拒绝 2 条")
    assert page.locator("table.data", has_text=HOSTILE).count() >= 1  # shown as text
    shot(page, artifacts_dir, "facilities")

    # network and population: upload, then the options, then the preview map
    page.click(".steps li:nth-child(3) a")
    for slot, path in (("network", NETWORK), ("demand", DEMAND)):
        page.set_input_files(f"#slot-{slot} form.upload input[type=file]", str(path))
        page.click(f"#slot-{slot} form.upload button[type=submit]")
        page.wait_for_selector(f"#slot-{slot} code.chosen")
    net = page.locator("#slot-network form.pick")
    net.locator("input[name=opt_walk_speed_m_per_min]").fill("70")
    net.locator("select[name=opt_private_ways]").select_option("exclude")
    net.locator("input[name=opt_snap_to_largest_component]").check()
    net.locator("button[type=submit]").click()
    page.wait_for_selector("#slot-network input[name=opt_walk_speed_m_per_min][value='70']")
    dem = page.locator("#slot-demand form.pick")
    dem.locator("select[name=opt_format]").select_option("graphml_edges")
    page.locator("#slot-demand form.pick button[type=submit]").click()
    page.wait_for_selector("#slot-demand option[selected][value=graphml_edges]", state="attached")
    dem = page.locator("#slot-demand form.pick")
    dem.locator("input[name=opt_population_column]").fill("population")
    dem.locator("input[name=opt_group_column]").fill("cell_id")
    dem.locator("input[name=opt_spacing_m]").fill("50")
    dem.locator("button[type=submit]").click()
    page.wait_for_selector("#slot-demand input[name=opt_spacing_m][value='50']")
    page.wait_for_selector("#preview-map[data-ready='1']", timeout=60_000)
    counts = json.loads(page.get_attribute("#preview-map", "data-counts"))
    assert counts["boundary"] == 1 and counts["facilities"] == 10, counts
    assert counts["network"] > 1000 and counts["population"] > 100, counts
    assert page.locator("#preview-map canvas").count() == 1
    assert page.locator("#preview-errors li").count() == 0
    shot(page, artifacts_dir, "inputs")

    # rules from the form
    page.click(".steps li:nth-child(4) a")
    for name_zh, name_en, category in RULES:
        form = page.locator("#circle-form")
        form.locator("input[name=name_zh]").fill(name_zh)
        form.locator("input[name=name_en]").fill(name_en)
        form.locator("select[name=categories]").select_option(category)
        form.locator("select[name=mode]").select_option("walk")
        form.locator("input[name=threshold_min]").fill("15")
        form.locator("input[name=target_pct]").fill("100")
        form.locator("button[type=submit]").click()
        page.wait_for_selector(f"#rules >> text={name_zh}")
    shot(page, artifacts_dir, "rules")

    # run: the progress bar, then the results
    page.click(".steps li:nth-child(5) a")
    page.click("#run-form button[type=submit]")
    page.wait_for_selector("#progress")
    for _ in range(100):  # the bar moves (the page's CSP forbids wait_for_function's eval)
        if not page.locator("#progress-count").inner_text().startswith("0/"):
            break
        page.wait_for_timeout(200)
    shot(page, artifacts_dir, "run")
    page.wait_for_selector("#progress-result:not([hidden]) a", timeout=600_000)
    assert page.locator("#progress-error").is_hidden()
    page.click("#progress-result a")
    page.wait_for_selector("#summary")
    page.frame_locator("#map-frame").locator(".leaflet-container").wait_for()
    page.frame_locator("#report-frame").locator("h1").first.wait_for()
    page.wait_for_timeout(1000)
    page.screenshot(path=str(artifacts_dir / "app_result.png"))  # the top: figures, downloads
    report = page.locator("#report-frame")
    report.scroll_into_view_if_needed()
    report.screenshot(path=str(artifacts_dir / "app_report.png"))  # (a full-page shot
    # leaves frames below the first screen blank)

    # downloads
    with page.expect_download() as info:
        page.click("#downloads a[href$='/gaps.xlsx']")
    gaps = info.value
    assert gaps.suggested_filename == "gaps.xlsx"
    gaps.save_as(tmp_path / "gaps.xlsx")
    assert zipfile.is_zipfile(tmp_path / "gaps.xlsx")
    with page.expect_download() as info:
        page.click("#downloads a[href$='/report.html']")
    info.value.save_as(tmp_path / "report.html")
    assert "团城山街道" in (tmp_path / "report.html").read_text(encoding="utf-8")

    # the figures are the CLI's
    slug = page.url.split("/p/")[1].split("/")[0]
    from urllib.parse import unquote

    run = app.extensions["geoplan"]["store"].get(unquote(slug)).runs()[0]
    from geoplan.cli import main

    main(["run", str(DEMO), "--out", str(tmp_path / "demo")])
    demo = json.loads((tmp_path / "demo" / "summary.json").read_text(encoding="utf-8"))
    got = [r["population_covered"] for r in run.summary["rules"]]
    ids = [r["id"] for r in run.summary["rules"]]  # the demo's walking circles, made in the form
    assert got == [r["population_covered"] for r in demo["rules"] if r["id"] in ids]
    assert run.summary["population_total"] == demo["population_total"]
    shown = page.locator("#summary tbody tr").first.inner_text()
    assert f"{demo['rules'][0]['share_covered'] * 100:.1f} %" in shown

    # English, then every page once more: nothing hostile ran, nothing left the machine
    page.click("#lang-switch")
    page.wait_for_selector("html[lang=en]")
    assert page.locator("#summary th").first.inner_text() == "Rule"
    for step in range(1, 6):
        page.click(f".steps li:nth-child({step}) a")
        page.wait_for_load_state("load")
    page.goto(base + "/")
    assert seen["dialogs"] == []
    assert seen["blocked"] == []
    assert not seen["errors"], "\n".join(seen["errors"])
