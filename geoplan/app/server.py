"""``geoplan serve``: the address check and the waitress server around :mod:`geoplan.app.web`.

Importing this module needs no web framework; :func:`serve` imports Flask and waitress (the
``app`` extra) and says how to install them when they are missing.
"""

from __future__ import annotations

import ipaddress
import sys
from pathlib import Path

from ..errors import ConfigError

__all__ = [
    "DEFAULT_HOST",
    "DEFAULT_MAX_UPLOAD_MB",
    "DEFAULT_PORT",
    "default_root",
    "is_loopback",
    "serve",
]

DEFAULT_HOST = "127.0.0.1"
"""The address served unless told otherwise: loopback, this computer only."""
DEFAULT_PORT = 8765
DEFAULT_MAX_UPLOAD_MB = 200
"""Largest request (all files of one upload together), MB; ``--max-upload-mb`` changes it.
Kept here, not in :mod:`~geoplan.app.web`, so that the command line reads it without Flask."""


def default_root() -> Path:
    """Where the app keeps its projects unless ``--root`` says otherwise."""
    return Path.home() / "geoplan-projects"


def is_loopback(host: str) -> bool:
    """Whether ``host`` (an address or ``localhost``) is reachable from this machine only."""
    if host.strip("[]").lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def serve(
    root: str | Path | None = None,
    *,
    host: str = DEFAULT_HOST,
    port: int = DEFAULT_PORT,
    max_upload_mb: float | None = None,
    expose: bool = False,
    threads: int = 4,
) -> None:
    """Serve the app with waitress until Ctrl-C.

    Binds ``host`` (loopback by default). Any other address needs ``expose=True``
    (``--i-know-this-exposes-data``) and prints a warning: the app has no login, so anyone
    who reaches the port can read and change the projects.
    """
    try:
        import waitress

        from .web import create_app
    except ImportError as exc:
        raise ConfigError(
            f"geoplan serve needs the app extra ({exc.name} is missing): "
            'pip install "geoplan[app]" / 需要安装 app 扩展'
        ) from None
    loopback = is_loopback(host)
    if not loopback and not expose:
        raise ConfigError(
            f"--host {host} would let other computers reach the app, which has no login: anyone "
            "there could read and change the projects. Add --i-know-this-exposes-data to do it "
            "anyway / 该地址可被其他计算机访问，而应用没有登录；如确需如此，请加 "
            "--i-know-this-exposes-data"
        )
    folder = Path(root) if root is not None else default_root()
    hosts = ("127.0.0.1", "localhost", "::1") if loopback else None
    if not loopback:
        print(
            f"geoplan: WARNING: serving on {host}:{port}: every computer that can reach this "
            "address can read and change all projects in "
            f"{folder} (no login) / 警告：其他计算机可访问并修改全部项目（无登录）",
            file=sys.stderr,
        )
    app = create_app(
        folder,
        max_upload_mb=DEFAULT_MAX_UPLOAD_MB if max_upload_mb is None else max_upload_mb,
        hosts=hosts,
    )
    shown = f"[{host}]" if ":" in host else host
    print(f"geoplan serve: http://{shown}:{port}/  (projects in {folder}; Ctrl-C stops)")
    waitress.serve(app, host=host, port=port, threads=threads, ident="geoplan")
