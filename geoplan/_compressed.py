"""Compressed inputs: ``name.graphml.gz`` (or ``.bz2``, ``.xz``) read like ``name.graphml``.

The demo's networks ship gzipped (``data/osm/``); a planner's own GraphML may come packed too.
Readers recognise the type by the name without the compression suffix (:func:`is_graphml`)
and read through :func:`open_input`, which decompresses on the fly.
"""

from __future__ import annotations

import bz2
import gzip
import os
from pathlib import Path
from typing import BinaryIO

try:
    import lzma
except ImportError:  # a Python built without liblzma: only .xz inputs are refused
    lzma = None

__all__ = ["COMPRESSIONS", "DECOMPRESSION_ERRORS", "GRAPHML_SUFFIXES", "is_graphml", "open_input"]


def _open_xz(path: str | os.PathLike[str], mode: str) -> BinaryIO:
    if lzma is None:
        raise OSError(f"{path}: this Python has no lzma module to read .xz; unpack the file")
    return lzma.open(path, mode)


COMPRESSIONS = {".gz": gzip.open, ".bz2": bz2.open, ".xz": _open_xz}
"""Compression suffix → opener of the decompressed bytes."""

DECOMPRESSION_ERRORS: tuple[type[Exception], ...] = (
    OSError,  # gzip.BadGzipFile, bz2's "Invalid data stream"
    EOFError,  # a file cut short
    *(() if lzma is None else (lzma.LZMAError,)),
)
"""What reading a damaged compressed file raises."""

GRAPHML_SUFFIXES = (".graphml", *(f".graphml{suffix}" for suffix in COMPRESSIONS))
"""File name endings read as (osmnx) GraphML."""


def is_graphml(path: str | os.PathLike[str]) -> bool:
    """True for ``.graphml`` files, compressed or not."""
    return Path(path).name.lower().endswith(GRAPHML_SUFFIXES)


def open_input(path: str | os.PathLike[str]) -> BinaryIO:
    """The file's bytes, decompressed when its name ends in ``.gz``, ``.bz2`` or ``.xz``."""
    opener = COMPRESSIONS.get(Path(path).suffix.lower())
    return opener(path, "rb") if opener else open(path, "rb")  # the caller closes it
