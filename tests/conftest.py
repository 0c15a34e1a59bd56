"""Shared fixtures, and what a test needs beyond the repository: never skipped silently.

Three things may be missing on a user's machine: the shared real data (``../shared/data``),
a Chromium-family browser and a CJK font. A test that needs one is marked ``shared_data``,
``browser`` or ``cjk_font``: automatically when it uses the fixture :func:`shared_file`,
:func:`chromium_binary` (or :func:`chromium_browser`) or :func:`cjk_font`, or by hand with
``@pytest.mark.<name>``. When the thing is missing such a test is skipped, and the run ends
with one line per missing thing listing the skipped tests; where it must be there (CI:
``.ci/run`` sets ``GEOPLAN_REQUIRE_SHARED_DATA=1``, ``GEOPLAN_REQUIRE_BROWSER=1`` and
``GEOPLAN_REQUIRE_CJK_FONT=1``; without them ``CI=true`` means the same) it fails instead.
"""

from __future__ import annotations

import functools
import os
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from geoplan._paths import shared_data_dir, shared_path, shipped_path


@dataclass(frozen=True)
class Requirement:
    """Something outside the repository that some tests need."""

    marker: str
    fixtures: tuple[str, ...]
    env: str
    what: str  # for the marker's description

    def required(self) -> bool:
        """Missing must fail: ``$<env>`` is 1 (0 allows skipping), else ``$CI`` is set."""
        value = os.environ.get(self.env, "").strip()
        if value:
            return value not in ("0", "false", "no")
        return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


REQUIREMENTS = (
    Requirement("shared_data", ("shared_file",), "GEOPLAN_REQUIRE_SHARED_DATA", "../shared/data"),
    Requirement("browser", ("chromium_binary",), "GEOPLAN_REQUIRE_BROWSER", "a Chromium browser"),
    Requirement("cjk_font", ("cjk_font",), "GEOPLAN_REQUIRE_CJK_FONT", "a CJK font"),
)


@functools.cache
def missing(marker: str) -> str | None:
    """Why the thing ``marker`` stands for is missing on this machine (None: it is there)."""
    if marker == "shared_data":
        folder = shared_data_dir()
        if not folder.is_dir():
            return f"shared data not found at {folder} (set GEOPLAN_SHARED_DATA)"
        return None
    if marker == "browser":
        from geoplan.rendering.browser import find_chromium

        try:
            find_chromium()
        except FileNotFoundError as exc:
            return str(exc)
        return None
    from geoplan.rendering.charts import find_cjk_font

    return None if find_cjk_font() else "no CJK font installed (e.g. fonts-noto-cjk)"


def pytest_configure(config) -> None:
    for req in REQUIREMENTS:
        config.addinivalue_line(
            "markers", f"{req.marker}: needs {req.what}; skipped without it unless ${req.env}=1"
        )


def pytest_collection_modifyitems(config, items) -> None:
    for item in items:
        for req in REQUIREMENTS:
            if any(name in item.fixturenames for name in req.fixtures):
                item.add_marker(req.marker)


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item) -> None:
    for req in REQUIREMENTS:
        if item.get_closest_marker(req.marker) is None:
            continue
        reason = missing(req.marker)
        if reason is None:
            continue
        if req.required():
            pytest.fail(f"{reason}; required here (${req.env} or $CI)", pytrace=False)
        pytest.skip(reason)


def pytest_terminal_summary(terminalreporter, exitstatus, config) -> None:
    """One line per skip reason: how many tests it skipped, and which (per file).

    Replaces pytest's ``-rs`` lines (``addopts`` leaves ``s`` out), which would repeat the
    reason once per test file and line.
    """
    by_reason: dict[str, Counter] = {}
    for report in terminalreporter.stats.get("skipped", []):
        reason = str(report.longrepr[2]) if isinstance(report.longrepr, tuple) else "skipped"
        reason = reason.removeprefix("Skipped: ")
        by_reason.setdefault(reason, Counter())[Path(report.nodeid.split("::")[0]).name] += 1
    for reason, files in by_reason.items():
        listing = ", ".join(f"{name} ({n})" for name, n in sorted(files.items()))
        n = files.total()
        terminalreporter.write_line(f"SKIPPED {n} test{'s' * (n != 1)}: {reason}: {listing}")


@pytest.fixture(scope="session")
def shared_file():
    """``shared_file("osm/…")``: a path in the shared data; marks the test ``shared_data``."""
    return shared_path


@pytest.fixture
def app(tmp_path):
    """``geoplan serve``'s application over a fresh data root, runs without PDF
    (tests/test_app*.py)."""
    from geoplan.app.runs import Runner
    from geoplan.app.web import create_app

    return create_app(tmp_path / "projects", runner=Runner(pdf=False))


@pytest.fixture
def pages(app):
    """The app's pages through Flask's test client (``test_app.Pages``: forms with their
    CSRF token)."""
    from test_app import Pages

    return Pages(app)


@pytest.fixture(scope="session")
def plan_indicators(shared_file) -> Path:
    """``plans/plan_indicators.csv`` of the shared data, which every ``geoplan check`` reads."""
    return shared_file("plans/plan_indicators.csv")


@pytest.fixture(scope="session")
def chromium_binary() -> str:
    """The browser's path (:func:`geoplan.rendering.browser.find_chromium`); marks the test
    ``browser``."""
    from geoplan.rendering.browser import find_chromium

    return find_chromium()


@pytest.fixture(scope="session")
def cjk_font():
    """The charts' CJK font (:func:`geoplan.rendering.charts.find_cjk_font`); marks the test
    ``cjk_font``."""
    from geoplan.rendering.charts import find_cjk_font

    return find_cjk_font()


@pytest.fixture(scope="session")
def demo_dir(tmp_path_factory) -> Path:
    """The demo project (团城山街道) run once; tests may add files but not change its outputs."""
    from geoplan.workflows.project import DEMO_PROJECT, run_project

    out = tmp_path_factory.mktemp("demo-run") / "demo"
    run_project(DEMO_PROJECT, out)
    return out


@pytest.fixture
def demo_project(tmp_path):
    """A factory of demo project copies in ``tmp_path`` with parts of its text replaced.

    ``demo_project(name, {old: new, ...}, append="...")`` writes ``name`` (the demo TOML with
    its facility path made absolute, then each ``old`` replaced by ``new``, then ``append``)
    and returns its path.
    """
    from geoplan.workflows.project import DEMO_PROJECT

    facilities = (DEMO_PROJECT.parent / "../facilities/tuanchengshan_scenario.csv").resolve()

    def make(name: str = "project.toml", replace: dict | None = None, append: str = "") -> Path:
        text = DEMO_PROJECT.read_text(encoding="utf-8")
        text = text.replace('"../facilities/tuanchengshan_scenario.csv"', f'"{facilities}"')
        for old, new in (replace or {}).items():
            assert old in text, old
            text = text.replace(old, new)
        path = tmp_path / name
        path.write_text(text + append, encoding="utf-8")
        return path

    return make


@pytest.fixture(scope="session")
def artifacts_dir() -> Path:
    """``out/test-artifacts/`` in the repo (git-ignored): screenshots the test run saves."""
    folder = Path(__file__).resolve().parents[1] / "out" / "test-artifacts"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture(scope="session")
def tuanchengshan_walk():
    """The 团城山 2022 walking network (osmnx GraphML, shipped gzipped), loaded once."""
    from geoplan.readers.network import read_network

    return read_network(shipped_path("osm/huangshi_tuanchengshan_all_2022.graphml.gz"))


# --------------------------------------------------------------------------- browser


@dataclass
class OfflinePage:
    """A Playwright page that may load only ``file:`` and ``data:`` URLs.

    ``console_errors`` collects console errors and uncaught exceptions, ``dialogs`` every
    alert/confirm/prompt that fired (each is dismissed), ``blocked`` every URL refused.
    A test may add its own ``page.route`` afterwards: the latest route wins.
    """

    page: object
    console_errors: list[str] = field(default_factory=list)
    dialogs: list[str] = field(default_factory=list)
    blocked: list[str] = field(default_factory=list)

    def open(self, path: Path, fragment: str = "", settle_ms: int = 300) -> None:
        """Load a local HTML file (optionally with ``#fragment``) and let it settle."""
        url = Path(path).resolve().as_uri() + (f"#{fragment}" if fragment else "")
        self.page.goto(url, wait_until="load")
        self.page.wait_for_timeout(settle_ms)


@pytest.fixture(scope="session")
def chromium_browser(chromium_binary):
    """The browser found (Debian's Chromium in CI) driven by Playwright, launched once."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=chromium_binary, args=["--no-sandbox", "--disable-gpu"]
        )
        yield browser
        browser.close()


@pytest.fixture
def open_offline(chromium_browser):
    """A factory: ``open_offline(**context_options)`` → a fresh :class:`OfflinePage`.

    Every page has the network blocked; its context closes at the end of the test.
    """
    contexts = []

    def make(**options) -> OfflinePage:
        context = chromium_browser.new_context(**options)
        context.set_default_timeout(10_000)  # a missing element fails in seconds, not 30 s
        contexts.append(context)
        page = context.new_page()
        state = OfflinePage(page)

        def gate(route) -> None:
            url = route.request.url
            if url.startswith(("file:", "data:", "blob:", "about:")):
                route.continue_()
            else:
                state.blocked.append(url)
                route.abort()

        def on_dialog(dialog) -> None:
            state.dialogs.append(f"{dialog.type}: {dialog.message}")
            dialog.dismiss()

        page.route("**/*", gate)
        page.on("console", lambda m: m.type == "error" and state.console_errors.append(m.text))
        page.on("pageerror", lambda exc: state.console_errors.append(f"uncaught: {exc}"))
        page.on("dialog", on_dialog)
        return state

    yield make
    for context in contexts:
        context.close()


@pytest.fixture
def offline_page(open_offline):
    """A fresh 1400×900 page with the network blocked; see :class:`OfflinePage`."""
    return open_offline(viewport={"width": 1400, "height": 900})


def local_cluster(n_workers: int = 1):
    """An in-process Dask cluster for ``--scheduler`` tests. Its scheduler's HTTP server
    (which starts even without a dashboard) takes a free loopback port, not 8787: tests
    on another xdist worker may hold 8787, and distributed's warning would fail the test."""
    from distributed import LocalCluster

    return LocalCluster(
        n_workers=n_workers,
        threads_per_worker=1,
        processes=False,
        dashboard_address=None,
        scheduler_kwargs={"dashboard_address": "127.0.0.1:0"},
    )
