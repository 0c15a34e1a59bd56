"""Headless Chromium, offline: screenshots of HTML maps (used by reports and tests).

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

__all__ = ["find_chromium", "screenshot"]

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
    width: int = 1400,
    height: int = 900,
    budget_ms: int = 5000,
    chromium: str | None = None,
    allow_network: bool = False,
    timeout_s: float = 120.0,
) -> Path:
    """Render ``html_path`` to the PNG ``out_path`` and return its path.

    Raises
    ------
    FileNotFoundError
        If the HTML file or Chromium is missing.
    RuntimeError
        If Chromium fails or writes no screenshot.
    """
    html_path = Path(html_path).resolve()
    if not html_path.is_file():
        raise FileNotFoundError(f"no such HTML file: {html_path}")
    out_path = Path(out_path).resolve()
    out_path.parent.mkdir(parents=True, exist_ok=True)
    binary = find_chromium(chromium)
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
            "--hide-scrollbars",
            "--force-device-scale-factor=1",
            f"--user-data-dir={profile}",
            f"--window-size={width},{height}",
            f"--virtual-time-budget={budget_ms}",
            f"--screenshot={out_path}",
        ]
        if not allow_network:
            command.append("--proxy-server=127.0.0.1:9")
        command.append(html_path.as_uri())
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
