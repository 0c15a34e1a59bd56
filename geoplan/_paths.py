"""Where geoplan finds its own data, the shared real data and its cache.

* **Shipped data** (:func:`shipped_data_dir`): the inputs of the demo and the plans' places,
  kept in the repository's ``data/`` folder and packed into the wheel as ``geoplan/shipped/``
  (``pyproject.toml`` maps one onto the other), so a clone and a ``pip install`` both have them.
  A project file names them ``geoplan:osm/…`` (:data:`SHIPPED_PREFIX`).
* **Shared data** (:func:`shared_data_dir`): everything else, outside git
  (``$GEOPLAN_SHARED_DATA``, default ``../shared/data`` beside the repository); a project file
  names them ``shared:osm/…`` (:data:`SHARED_PREFIX`).
* **Cache** (:func:`cache_dir`): derived data, outside git.
"""

from __future__ import annotations

import os
from pathlib import Path

from .errors import InputFileNotFoundError

__all__ = [
    "DEMO_PROJECT",
    "REPO_ROOT",
    "SHARED_PREFIX",
    "SHIPPED_PREFIX",
    "cache_dir",
    "prefixed_path",
    "shared_data_dir",
    "shared_path",
    "shipped_data_dir",
    "shipped_path",
]

REPO_ROOT = Path(__file__).resolve().parent.parent
_WHEEL_DATA = Path(__file__).resolve().parent / "shipped"
SHIPPED_PREFIX = "geoplan:"
"""Input paths starting with this are shipped data files (:func:`shipped_path`)."""
SHARED_PREFIX = "shared:"
"""Input paths starting with this are shared data files (:func:`shared_path`)."""


def shipped_data_dir() -> Path:
    """geoplan's own data: ``geoplan/shipped/`` when installed from a wheel, else ``data/``."""
    return _WHEEL_DATA if _WHEEL_DATA.is_dir() else REPO_ROOT / "data"


DEMO_PROJECT = shipped_data_dir() / "demo" / "tuanchengshan.toml"
"""The demo project (团城山街道); its inputs ship with geoplan."""


def shipped_path(relative: str) -> Path:
    """Path of one shipped data file (``demo/…``, ``osm/…``, ``boundaries/…``)."""
    folder = shipped_data_dir()
    path = folder / relative
    if not path.is_file():
        shipped = sorted(
            p.relative_to(folder).as_posix()
            for p in folder.rglob("*")
            if p.is_file() and p.name != "README.md"
        )
        raise InputFileNotFoundError(
            f"{SHIPPED_PREFIX}{relative}: geoplan ships no such file (looked in {folder}); "
            f"it ships: {', '.join(shipped) or 'nothing: reinstall geoplan'}"
        )
    return path


def shared_data_dir() -> Path:
    """The shared real-data folder: ``$GEOPLAN_SHARED_DATA``, else ``../shared/data``."""
    env = os.environ.get("GEOPLAN_SHARED_DATA")
    return Path(env) if env else (REPO_ROOT.parent / "shared" / "data")


def shared_path(relative: str) -> Path:
    """Path of one shared data file; raise a clear error saying where it was expected."""
    path = shared_data_dir() / relative
    if not path.exists():
        raise InputFileNotFoundError(
            f"shared data file {relative!r} not found at {path}; set GEOPLAN_SHARED_DATA to the "
            "folder that holds geoplan's shared data (default: ../shared/data beside the repo)"
        )
    return path


def prefixed_path(value: str) -> Path | None:
    """``geoplan:…`` → :func:`shipped_path`, ``shared:…`` → :func:`shared_path`; else None."""
    if value.startswith(SHIPPED_PREFIX):
        return shipped_path(value[len(SHIPPED_PREFIX) :])
    if value.startswith(SHARED_PREFIX):
        return shared_path(value[len(SHARED_PREFIX) :])
    return None


def cache_dir() -> Path:
    """Cache folder for derived data: ``$GEOPLAN_CACHE`` or ``~/.cache/geoplan`` (never in git)."""
    env = os.environ.get("GEOPLAN_CACHE")
    path = Path(env) if env else Path.home() / ".cache" / "geoplan"
    path.mkdir(parents=True, exist_ok=True)
    return path
