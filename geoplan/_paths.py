"""Where geoplan finds the shared real data and keeps its cache (both outside git)."""

from __future__ import annotations

import os
from pathlib import Path

from .errors import InputFileNotFoundError

REPO_ROOT = Path(__file__).resolve().parent.parent


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


def cache_dir() -> Path:
    """Cache folder for derived data: ``$GEOPLAN_CACHE`` or ``~/.cache/geoplan`` (never in git)."""
    env = os.environ.get("GEOPLAN_CACHE")
    path = Path(env) if env else Path.home() / ".cache" / "geoplan"
    path.mkdir(parents=True, exist_ok=True)
    return path
