"""Headless Chromium, offline: screenshots and PDFs of HTML pages (maps, reports).

Chromium runs with a throw-away profile, no background networking and, unless
``--allow-network`` is given, a proxy that points nowhere (``127.0.0.1:9``), so a map that
tries to fetch anything renders with holes instead of silently going online.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

__all__ = ["find_chromium", "print_pdf", "screenshot"]

DEFAULT_CHROMIUM = "/usr/bin/chromium"


def find_chromium(explicit: str | None = None) -> str:
    """Path of the Chromium binary: ``explicit``, ``$GEOPLAN_CHROMIUM``, /usr/bin/chromium, PATH."""
    if explicit:
        if Path(explicit).is_file() and os.access(explicit, os.X_OK):
            return explicit
        raise FileNotFoundError(f"Chromium not found at {explicit} (given with --chromium)")
    candidates = [os.environ.get("GEOPLAN_CHROMIUM"), DEFAULT_CHROMIUM]
    candidates += [shutil.which(n) for n in ("chromium", "chromium-browser", "google-chrome")]
    for candidate in candidates:
        if candidate and Path(candidate).is_file() and os.access(candidate, os.X_OK):
            return candidate
    raise FileNotFoundError(
        "Chromium not found (tried --chromium, $GEOPLAN_CHROMIUM, /usr/bin/chromium and PATH); "
        "install it, e.g. `apt-get install chromium`, or pass --chromium /path/to/chrome"
    )


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
