"""Headless Chromium, offline: screenshots and PDFs of HTML pages (maps, reports).

Any Chromium-family browser will do: Debian's ``chromium``, Google Chrome or Microsoft Edge
(Windows, macOS, Linux), Chromium on macOS, or the executable named by ``$GEOPLAN_CHROMIUM``
(:func:`find_chromium`). It runs with a throw-away profile, no background networking and, unless
``--allow-network`` is given, a proxy that points nowhere (``127.0.0.1:9``), so a map that
tries to fetch anything renders with holes instead of silently going online.
"""

from __future__ import annotations

import os
import platform
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path

__all__ = ["browser_candidates", "find_chromium", "print_pdf", "screenshot"]

DEFAULT_CHROMIUM = "/usr/bin/chromium"
"""Debian's ``chromium`` package (what ``make`` installs on Debian/Ubuntu)."""
ENV_VAR = "GEOPLAN_CHROMIUM"
"""Environment variable naming the browser to use (a Chromium, Chrome or Edge executable)."""

_ON_PATH = (
    "chromium",
    "chromium-browser",
    "google-chrome",
    "google-chrome-stable",
    "microsoft-edge",
    "microsoft-edge-stable",
    "chrome",
    "msedge",
)
_MAC_APPS = (
    "Chromium.app/Contents/MacOS/Chromium",
    "Google Chrome.app/Contents/MacOS/Google Chrome",
    "Microsoft Edge.app/Contents/MacOS/Microsoft Edge",
)
_WINDOWS_ROOTS = ("PROGRAMFILES", "PROGRAMFILES(X86)", "LOCALAPPDATA")
_WINDOWS_EXES = (
    "Chromium/Application/chrome.exe",
    "Google/Chrome/Application/chrome.exe",
    "Microsoft/Edge/Application/msedge.exe",
)
_INSTALL_HINT = {
    "Linux": "on Debian/Ubuntu `apt-get install chromium`, elsewhere Chromium or Google Chrome",
    "Darwin": "install Google Chrome, Microsoft Edge or Chromium (`brew install --cask chromium`)",
    "Windows": "install Google Chrome or Microsoft Edge",
}


def browser_candidates(
    system: str | None = None,
    environ: Mapping[str, str] | None = None,
    which: Callable[[str], str | None] = shutil.which,
) -> list[str]:
    """Where a Chromium-family browser is looked for, in order (existing or not).

    Debian's /usr/bin/chromium, then Chromium, Google Chrome and Microsoft Edge on ``PATH``,
    then the usual install places on macOS (``/Applications``, ``~/Applications``) and
    Windows (``%PROGRAMFILES%``, ``%PROGRAMFILES(X86)%``, ``%LOCALAPPDATA%``).
    ``$GEOPLAN_CHROMIUM`` is not among them: :func:`find_chromium` takes it alone.
    """
    system = system or platform.system()
    environ = os.environ if environ is None else environ
    found = [DEFAULT_CHROMIUM] if system == "Linux" else []
    found += [path for path in map(which, _ON_PATH) if path]
    if system == "Darwin":
        homes = [
            Path("/Applications"),
            Path(environ.get("HOME", "~")).expanduser() / "Applications",
        ]
        found += [str(home / app) for app in _MAC_APPS for home in homes]
    if system == "Windows":
        roots = [environ[name] for name in _WINDOWS_ROOTS if environ.get(name)]
        found += [str(Path(root) / exe) for exe in _WINDOWS_EXES for root in roots]
    return list(dict.fromkeys(found))


def find_chromium(
    explicit: str | None = None,
    *,
    system: str | None = None,
    environ: Mapping[str, str] | None = None,
    which: Callable[[str], str | None] = shutil.which,
) -> str:
    """Path of the browser: ``explicit``, else ``$GEOPLAN_CHROMIUM``, else the first of
    :func:`browser_candidates` that is an executable file.

    A path that is given (``explicit`` or ``$GEOPLAN_CHROMIUM``) is used or refused, never
    replaced by another browser. ``system``, ``environ`` and ``which`` are for tests.

    Raises
    ------
    FileNotFoundError
        The given path is not an executable file, or no browser was found; the message
        says what to install.
    """
    environ = os.environ if environ is None else environ
    if explicit:
        if _executable(explicit):
            return explicit
        raise FileNotFoundError(f"browser not found at {explicit} (given with --chromium)")
    chosen = environ.get(ENV_VAR, "").strip()
    if chosen:
        if _executable(chosen):
            return chosen
        raise FileNotFoundError(f"browser not found at {chosen} (set in ${ENV_VAR})")
    system = system or platform.system()
    for candidate in browser_candidates(system, environ, which):
        if _executable(candidate):
            return candidate
    hint = _INSTALL_HINT.get(system, _INSTALL_HINT["Linux"])
    raise FileNotFoundError(
        f"no Chromium, Google Chrome or Microsoft Edge found: {hint}, or set ${ENV_VAR} to "
        "the browser's executable"
    )


def _executable(path: str) -> bool:
    return Path(path).is_file() and os.access(path, os.X_OK)


def screenshot(
    html_path: str | Path,
    out_path: str | Path,
    *,
    fragment: str = "",
    width: int = 1400,
    height: int = 900,
    scale: float = 1.0,
    budget_ms: int = 5000,
    chromium: str | None = None,
    allow_network: bool = False,
    timeout_s: float = 120.0,
) -> Path:
    """Render ``html_path`` (opened at ``#fragment`` if given) to the PNG ``out_path``.

    ``width`` × ``height`` is the window in CSS pixels; ``scale`` the device pixel ratio (the
    PNG is ``scale`` times larger). Returns the PNG's path.

    Raises
    ------
    FileNotFoundError
        If the HTML file or Chromium is missing.
    RuntimeError
        If Chromium fails or writes no screenshot.
    """
    return _run(
        html_path,
        out_path,
        [
            "--hide-scrollbars",
            f"--force-device-scale-factor={scale:g}",
            f"--window-size={width},{height}",
            f"--virtual-time-budget={budget_ms}",
            "--screenshot={out}",
        ],
        fragment=fragment,
        chromium=chromium,
        allow_network=allow_network,
        timeout_s=timeout_s,
    )


def print_pdf(
    html_path: str | Path,
    pdf_path: str | Path,
    *,
    budget_ms: int = 5000,
    chromium: str | None = None,
    allow_network: bool = False,
    timeout_s: float = 120.0,
) -> Path:
    """Print ``html_path`` to the PDF ``pdf_path`` (page size and margins from its @page CSS).

    No browser header or footer (date, URL) is added. Returns the PDF's path.

    Raises
    ------
    FileNotFoundError
        If the HTML file or Chromium is missing.
    RuntimeError
        If Chromium fails or writes no PDF.
    """
    return _run(
        html_path,
        pdf_path,
        [f"--virtual-time-budget={budget_ms}", "--no-pdf-header-footer", "--print-to-pdf={out}"],
        chromium=chromium,
        allow_network=allow_network,
        timeout_s=timeout_s,
    )


def _run(
    html_path: str | Path,
    out_path: str | Path,
    options: list[str],
    *,
    fragment: str = "",
    chromium: str | None,
    allow_network: bool,
    timeout_s: float,
) -> Path:
    """Run headless Chromium offline on ``html_path``; ``{out}`` in ``options`` is the output."""
    html_path = Path(html_path).resolve()
    if not html_path.is_file():
        raise FileNotFoundError(f"no such HTML file: {html_path}")
    out_path = Path(out_path).resolve()
    out_path.parent.mkdir(parents=True, exist_ok=True)
    binary = find_chromium(chromium)
    url = html_path.as_uri() + (f"#{fragment}" if fragment else "")
    with tempfile.TemporaryDirectory(prefix="geoplan-chromium-") as profile:
        command = [
            binary,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            f"--user-data-dir={profile}",
            *(option.replace("{out}", str(out_path)) for option in options),
        ]
        if not allow_network:
            command.append("--proxy-server=127.0.0.1:9")
        command.append(url)
        if out_path.exists():
            out_path.unlink()
        try:
            done = subprocess.run(
                command, capture_output=True, text=True, timeout=timeout_s, check=False
            )
        except subprocess.TimeoutExpired as exc:
            raise RuntimeError(f"Chromium did not finish within {timeout_s:.0f} s") from exc
    if done.returncode != 0 or not out_path.is_file():
        tail = "\n".join(done.stderr.strip().splitlines()[-15:])
        raise RuntimeError(f"Chromium failed (exit code {done.returncode}):\n{tail}")
    return out_path
