"""What a machine may lack — the shared data, a browser, a CJK font — and what happens then.

* the browser is found where Windows, macOS and Linux put Chromium, Chrome and Edge, or where
  ``$GEOPLAN_CHROMIUM`` says (and only there, when it is set);
* without a browser ``geoplan report`` says so, writes its HTML and no PDF;
* a test needing what is missing is skipped, listed in one line, and fails where it is
  required (``$GEOPLAN_REQUIRE_…=1`` or ``$CI``): run in a pytest subprocess;
* ``scripts/install_system_deps.sh`` installs only on Debian/Ubuntu, elsewhere says what to
  install, and never stops the set-up.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from geoplan.cli import main
from geoplan.rendering.browser import DEFAULT_CHROMIUM, browser_candidates, find_chromium

REPO = Path(__file__).resolve().parents[1]


def _fake_browser(path: Path) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("#!/bin/sh\n", encoding="utf-8")
    path.chmod(0o755)
    return str(path)


def _nothing_on_path(name: str) -> None:
    return None


# --------------------------------------------------------------------------- finding it


def test_browser_found_where_windows_installs_chrome_and_edge(tmp_path):
    environ = {"PROGRAMFILES": str(tmp_path / "pf"), "LOCALAPPDATA": str(tmp_path / "local")}
    kw = {"system": "Windows", "environ": environ, "which": _nothing_on_path}
    edge = _fake_browser(tmp_path / "pf/Microsoft/Edge/Application/msedge.exe")
    assert find_chromium(**kw) == edge
    chrome = _fake_browser(tmp_path / "local/Google/Chrome/Application/chrome.exe")
    assert find_chromium(**kw) == chrome  # Chrome before Edge
    assert DEFAULT_CHROMIUM not in browser_candidates(**kw)


def test_browser_found_in_macos_applications(tmp_path):
    environ = {"HOME": str(tmp_path)}
    kw = {"system": "Darwin", "environ": environ, "which": _nothing_on_path}
    candidates = browser_candidates(**kw)
    assert "/Applications/Google Chrome.app/Contents/MacOS/Google Chrome" in candidates
    assert "/Applications/Chromium.app/Contents/MacOS/Chromium" in candidates
    edge = _fake_browser(tmp_path / "Applications/Microsoft Edge.app/Contents/MacOS/Microsoft Edge")
    assert find_chromium(**kw) == edge


def test_browser_on_linux_debian_first_then_path():
    on_path = {"google-chrome": "/opt/bin/google-chrome", "microsoft-edge": "/opt/bin/edge"}
    candidates = browser_candidates("Linux", {}, on_path.get)
    assert candidates == [DEFAULT_CHROMIUM, "/opt/bin/google-chrome", "/opt/bin/edge"]


def test_geoplan_chromium_is_used_or_refused_never_replaced(tmp_path):
    own = _fake_browser(tmp_path / "my chrome")
    other = _fake_browser(tmp_path / "other")
    which = {"chromium": other}.get
    assert find_chromium(environ={"GEOPLAN_CHROMIUM": own}, which=which) == own
    nowhere = str(tmp_path / "nowhere")
    with pytest.raises(FileNotFoundError, match=r"browser not found at .*nowhere \(set in"):
        find_chromium(environ={"GEOPLAN_CHROMIUM": nowhere}, which=which)
    assert find_chromium(environ={"GEOPLAN_CHROMIUM": " "}, system="Windows", which=which) == (
        other
    )  # blank is unset


def test_no_browser_names_what_to_install(tmp_path):
    for system, hint in (("Windows", "Microsoft Edge"), ("Darwin", "brew install --cask")):
        with pytest.raises(FileNotFoundError) as info:
            find_chromium(system=system, environ={"HOME": str(tmp_path)}, which=_nothing_on_path)
        assert hint in str(info.value) and "GEOPLAN_CHROMIUM" in str(info.value)


# --------------------------------------------------------------------------- the report


def test_report_without_a_browser_says_so_and_writes_html(demo_dir, tmp_path, monkeypatch, capsys):
    folder = tmp_path / "demo"
    shutil.copytree(demo_dir, folder, ignore=shutil.ignore_patterns("report*"))
    monkeypatch.setenv("GEOPLAN_CHROMIUM", str(tmp_path / "no-browser"))
    assert main(["report", str(folder), "--pdf"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("geoplan: error: --pdf needs Chromium: browser not found at ")
    assert len(err.strip().splitlines()) == 1
    done = subprocess.run(  # the real command: its warning goes to stderr
        [sys.executable, "-m", "geoplan", "report", str(folder)],
        capture_output=True,
        text=True,
        env={**os.environ, "GEOPLAN_CHROMIUM": str(tmp_path / "no-browser")},
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    said = [line for line in done.stdout.splitlines() if "未找到浏览器" in line]
    assert said == [  # once, in both languages, naming the path that was set
        "note: 未找到浏览器，没有静态地图和 PDF / no browser: no maps or PDF (browser not found "
        f"at {tmp_path / 'no-browser'} (set in $GEOPLAN_CHROMIUM))"
    ]
    assert "未找到浏览器" not in done.stderr
    page = (folder / "report.html").read_text(encoding="utf-8")
    assert "未找到 Chromium" in page and "GEOPLAN_CHROMIUM" in page
    assert not (folder / "report.pdf").exists()


# --------------------------------------------------------------------------- the tests


def _pytest(tmp_path: Path, **env: str) -> subprocess.CompletedProcess:
    """Run :data:`SHARED_TEST` and :data:`BROWSER_TEST` in a pytest subprocess with ``env``."""
    clean = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("GEOPLAN_REQUIRE_", "PYTEST_")) and k not in ("CI", "GEOPLAN_CHROMIUM")
    }
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", SHARED_TEST, BROWSER_TEST],
        capture_output=True,
        text=True,
        cwd=REPO,
        env={**clean, "GEOPLAN_CACHE": str(tmp_path / "cache"), **env},
        timeout=300,
        check=False,
    )


SHARED_TEST = "tests/test_places.py::test_boundary_is_the_wgs84_polygon_not_the_gcj02_one"
BROWSER_TEST = "tests/test_report.py::test_report_pdf_is_written_by_default"


def test_missing_data_and_browser_skip_in_one_line_each_or_fail_where_required(tmp_path):
    nowhere, no_browser = tmp_path / "nowhere", tmp_path / "no-browser"
    hide = {"GEOPLAN_SHARED_DATA": str(nowhere), "GEOPLAN_CHROMIUM": str(no_browser)}
    done = _pytest(tmp_path, **hide)
    assert done.returncode == 0, done.stdout
    lines = done.stdout.splitlines()
    assert (
        f"SKIPPED 1 test: shared data not found at {nowhere} (set GEOPLAN_SHARED_DATA): "
        "test_places.py (1)"
    ) in lines
    assert (
        f"SKIPPED 1 test: browser not found at {no_browser} (set in $GEOPLAN_CHROMIUM): "
        "test_report.py (1)"
    ) in lines
    assert lines[-1].startswith("2 skipped")
    required = {"GEOPLAN_REQUIRE_SHARED_DATA": "1", "GEOPLAN_REQUIRE_BROWSER": "1"}
    for env in (required, {"CI": "true"}):
        done = _pytest(tmp_path, **hide, **env)
        assert done.returncode == 1, done.stdout
        assert done.stdout.splitlines()[-1].startswith("2 errors")  # failed in setup
        for name in ("SHARED_DATA", "BROWSER"):
            assert f"; required here ($GEOPLAN_REQUIRE_{name} or $CI)" in done.stdout
    allowed = {"GEOPLAN_REQUIRE_SHARED_DATA": "0", "GEOPLAN_REQUIRE_BROWSER": "0"}
    done = _pytest(tmp_path, **hide, CI="true", **allowed)
    assert done.returncode == 0 and done.stdout.splitlines()[-1].startswith("2 skipped")


# --------------------------------------------------------------------------- system packages


def _install(tmp_path: Path, *args: str, **env: str) -> str:
    """Run the script with the browser hidden (so something is missing), as --dry-run."""
    done = subprocess.run(
        ["bash", str(REPO / "scripts/install_system_deps.sh"), *args, sys.executable],
        capture_output=True,
        text=True,
        env={**os.environ, "GEOPLAN_CHROMIUM": str(tmp_path / "none"), **env},
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr  # never stops the set-up
    return done.stdout


@pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash")
def test_install_script_uses_apt_only_on_debian(tmp_path):
    debian = tmp_path / "debian"
    debian.write_text('ID=ubuntu\nID_LIKE="debian"\n', encoding="utf-8")
    fedora = tmp_path / "fedora"
    fedora.write_text('ID=fedora\nID_LIKE="rhel centos"\n', encoding="utf-8")
    if os.geteuid() == 0 and shutil.which("apt-get"):
        out = _install(tmp_path, "--dry-run", UNAME_S="Linux", OS_RELEASE=str(debian))
        assert out.startswith("would run: apt-get install -y") and " chromium " in out
    out = _install(tmp_path, "--dry-run", UNAME_S="Linux", OS_RELEASE=str(fedora))
    assert "apt-get" not in out and "dnf install chromium" in out
    out = _install(tmp_path, "--dry-run", UNAME_S="Darwin", OS_RELEASE=str(debian))
    assert "apt-get" not in out and "brew install --cask chromium" in out
    out = _install(tmp_path, "--dry-run", UNAME_S="MINGW64_NT-10.0", OS_RELEASE=str(debian))
    assert "apt-get" not in out and "Microsoft Edge" in out
    assert out.startswith("geoplan: not installed: a browser")
