"""Compressed inputs: ``name.graphml.xz`` (or ``.gz``, ``.bz2``) read like ``name.graphml``.

The demo's networks ship xz-compressed (``data/osm/``); a planner's own GraphML may come
gzipped. Readers decide the file type from :func:`inner_name` (the name without the
compression suffix) and read through :func:`open_input`, which decompresses on the fly.
"""

from __future__ import annotations

import bz2
import gzip
import lzma
import os
from pathlib import Path
from typing import BinaryIO

__all__ = ["COMPRESSIONS", "GRAPHML_SUFFIXES", "inner_name", "is_graphml", "open_input"]

COMPRESSIONS = {".gz": gzip.open, ".bz2": bz2.open, ".xz": lzma.open}
"""Compression suffix → opener of the decompressed bytes."""

GRAPHML_SUFFIXES = (".graphml", *(f".graphml{suffix}" for suffix in COMPRESSIONS))
"""File name endings read as (osmnx) GraphML."""


def inner_name(path: str | os.PathLike[str]) -> str:
    """The file name without a compression suffix, lower case (``a.graphml.xz`` → ``a.graphml``)."""
    name = Path(path).name.lower()
    for suffix in COMPRESSIONS:
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return name


def is_graphml(path: str | os.PathLike[str]) -> bool:
    """True for ``.graphml`` files, compressed or not."""
    return Path(path).name.lower().endswith(GRAPHML_SUFFIXES)


def open_input(path: str | os.PathLike[str]) -> BinaryIO:
    """The file's bytes, decompressed when its name ends in ``.gz``, ``.bz2`` or ``.xz``."""
    suffix = Path(path).suffix.lower()
    opener = COMPRESSIONS.get(suffix)
    return opener(path, "rb") if opener else open(path, "rb")  # the caller closes it
