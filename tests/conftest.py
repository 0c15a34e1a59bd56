"""Shared fixtures: the real data beside the repo (never skipped silently)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pytest

from geoplan._paths import shared_path


@pytest.fixture(scope="session")
def demo_dir(tmp_path_factory) -> Path:
    """The demo project (团城山街道) run once; tests may add files but not change its outputs."""
    from geoplan.project import DEMO_PROJECT, run_project

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
    from geoplan.project import DEMO_PROJECT

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
    """The 团城山 2022 walking network (osmnx GraphML), loaded once."""
    from geoplan.network import read_network

    return read_network(shared_path("osm/huangshi_tuanchengshan_all_2022.graphml"))


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
def chromium_browser():
    """Debian's Chromium driven by Playwright (installed by `make test`; never skipped)."""
    from playwright.sync_api import sync_playwright

    from geoplan.browser import find_chromium

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=find_chromium(), args=["--no-sandbox", "--disable-gpu"]
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
