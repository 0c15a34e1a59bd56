"""A cache of derived tables under :func:`geoplan._paths.cache_dir`, keyed by input content.

An entry is a folder ``<cache>/<kind>/<key>/`` holding one Parquet file per table, one
``.npy`` file per bare array, and a ``manifest.json`` (format version, key, per-table row
counts, column types, geometry CRS, per-array dtype and shape, the SHA-256 of every file,
and free ``meta``). Entries are written into a temporary folder and renamed into place, so
readers see whole entries or none. Nothing is trusted blindly: a manifest that does not
parse, a missing or altered file (checksum), or tables that disagree with the manifest make
:func:`load` delete the entry and answer None, so the caller rebuilds.

Keys come from :func:`digest` over everything the result depends on (the input file's
SHA-256 from :func:`file_sha256`, options, a fingerprint of the code from
:func:`source_sha256`, library versions); nothing is ever looked up by path alone.
Nothing is evicted: delete the folder (``$GEOPLAN_CACHE`` or ``~/.cache/geoplan``) to reclaim
space.
"""

from __future__ import annotations

import collections
import hashlib
import io
import itertools
import json
import logging
import os
import shutil
import tempfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import shapely
from pyproj import CRS

from ._paths import cache_dir

__all__ = ["FORMAT_VERSION", "Entry", "digest", "file_sha256", "load", "save", "source_sha256"]

logger = logging.getLogger(__name__)

FORMAT_VERSION = 1
"""Layout of an entry; entries written with another version are ignored and replaced."""

_MANIFEST = "manifest.json"
_GEOMETRY = "geometry"  # column type tag in the manifest
_TYPES = {"int64", "float64", "bool", "object"}


@dataclass(frozen=True)
class Entry:
    """A cache entry as loaded: its tables and arrays (by name) and the ``meta`` it was
    saved with."""

    tables: dict[str, pd.DataFrame | np.ndarray]
    meta: dict[str, Any]


def file_sha256(path: str | os.PathLike[str], *, block_bytes: int = 1 << 20) -> str:
    """Hex SHA-256 of a file's bytes."""
    h = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(block_bytes), b""):
            h.update(block)
    return h.hexdigest()


def source_sha256(paths: Iterable[str | os.PathLike[str]]) -> str:
    """Hex SHA-256 over source files: a key part that changes whenever the code does."""
    h = hashlib.sha256()
    for path in paths:
        h.update(Path(path).read_bytes())
        h.update(b"\0")
    return h.hexdigest()


def digest(*parts: object) -> str:
    """A cache key: hex SHA-256 over the ``str`` of each part (and the format version)."""
    h = hashlib.sha256(f"geoplan-cache-v{FORMAT_VERSION}".encode())
    for part in parts:
        h.update(b"\0")
        h.update(str(part).encode("utf-8"))
    return h.hexdigest()


def load(kind: str, key: str) -> Entry | None:
    """The entry ``kind/key``, or None when absent; a damaged entry is deleted (None)."""
    try:
        folder = cache_dir() / kind / key
    except OSError:
        return None
    if not folder.is_dir():
        return None
    try:
        return _read_entry(folder, key)
    except Exception as exc:  # anything wrong with an entry means: rebuild it
        logger.warning("cache entry %s is damaged (%s); rebuilding it", folder, exc)
        shutil.rmtree(folder, ignore_errors=True)
        return None


def save(
    kind: str, key: str, tables: Mapping[str, pd.DataFrame | np.ndarray], meta: Mapping[str, Any]
) -> bool:
    """Store ``tables`` (DataFrames, GeoDataFrames or numpy arrays) and ``meta`` (JSON) as
    ``kind/key``.

    Column types kept exactly: int64, float64, bool, object (str or None) and one geometry
    column (WKB, with its CRS); arrays of numbers (any shape) as ``.npy``, which loads
    several times faster than Parquet. Returns False, logging why, when the entry cannot be
    written (read-only cache, unsupported column); the caller goes on without the cache.
    """
    try:
        parent = cache_dir() / kind
        parent.mkdir(parents=True, exist_ok=True)
        folder = parent / key
        tmp = Path(tempfile.mkdtemp(prefix=f".{key[:16]}.", dir=parent))
    except OSError as exc:
        logger.warning("cannot write to the cache (%s); going on without it", exc)
        return False
    try:
        manifest: dict[str, Any] = {
            "format_version": FORMAT_VERSION,
            "key": key,
            "meta": dict(meta),
            "tables": {},
        }
        for name, value in tables.items():
            if isinstance(value, np.ndarray):
                record = _write_array(value, tmp / f"{name}.npy")
            else:
                record = _write_table(value, tmp / f"{name}.parquet")
            record["sha256"] = file_sha256(tmp / record["file"])
            manifest["tables"][name] = record
        (tmp / _MANIFEST).write_text(json.dumps(manifest, ensure_ascii=False), encoding="utf-8")
        shutil.rmtree(folder, ignore_errors=True)  # a damaged entry left behind
        os.replace(tmp, folder)
    except OSError as exc:
        if folder.is_dir():  # another process stored the same entry first: keep theirs
            return True
        logger.warning("cannot write cache entry %s (%s); going on without it", folder, exc)
        return False
    except (TypeError, ValueError, pa.ArrowException) as exc:
        logger.warning("cannot cache %s/%s (%s); going on without it", kind, key[:12], exc)
        return False
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return True


def _write_table(frame: pd.DataFrame, path: Path) -> dict[str, Any]:
    """One table as Parquet; returns its manifest record (rows, column types, CRS)."""
    geometry = frame.geometry.name if isinstance(frame, gpd.GeoDataFrame) else None
    columns: dict[str, str] = {}
    arrays = []
    for col in frame.columns:
        name = str(col)
        values = frame[col]
        if col == geometry:
            columns[name] = _GEOMETRY
            arrays.append(pa.array(shapely.to_wkb(np.asarray(values.values)), type=pa.binary()))
            continue
        kind = _column_type(values)
        columns[name] = kind
        if kind == "object":
            text = np.array(values.to_numpy(dtype=object), dtype=object, copy=True)
            text[pd.isna(values).to_numpy()] = None
            arrays.append(pa.array(text, type=pa.string()))
        else:
            arrays.append(pa.array(values.to_numpy(dtype=kind)))
    pq.write_table(pa.table(arrays, names=list(columns)), path, compression="zstd")
    crs = None
    if geometry is not None and frame.crs is not None:
        crs = CRS.from_user_input(frame.crs).to_json()
    return {"file": path.name, "rows": len(frame), "columns": columns, "crs": crs}


def _write_array(values: np.ndarray, path: Path) -> dict[str, Any]:
    """One array of numbers as ``.npy``; returns its manifest record (dtype, shape)."""
    if values.dtype.kind not in "biuf":
        raise TypeError(
            f"array {path.stem!r} has type {values.dtype}, which the cache does not keep"
        )
    np.save(path, values, allow_pickle=False)
    return {"file": path.name, "array": {"dtype": values.dtype.str, "shape": list(values.shape)}}


def _column_type(values: pd.Series) -> str:
    if values.dtype == object or pd.api.types.is_string_dtype(values.dtype):
        return "object"
    kind = str(values.dtype)
    if kind not in _TYPES:
        raise TypeError(f"column {values.name!r} has type {kind}, which the cache does not keep")
    return kind


def _read_entry(folder: Path, key: str) -> Entry:
    """The entry in ``folder``: each file read once, checked against its checksum, then parsed
    from memory; the next few files are read and checked by threads (reading and hashing
    release the GIL) while this one parses those already checked."""
    from concurrent.futures import Future, ThreadPoolExecutor

    manifest = json.loads((folder / _MANIFEST).read_text(encoding="utf-8"))
    if manifest.get("format_version") != FORMAT_VERSION or manifest.get("key") != key:
        raise ValueError("format version or key differs")
    tables = {}
    ahead = min(4, os.cpu_count() or 1)  # files read ahead of the parsing: bounds the memory
    todo = iter(manifest["tables"].items())
    with ThreadPoolExecutor(max_workers=ahead) as pool:

        def read(item: tuple[str, dict]) -> tuple[str, dict, Future]:
            return (*item, pool.submit(_checked_bytes, folder, item[1]))

        reading = collections.deque(map(read, itertools.islice(todo, ahead)))
        while reading:
            name, record, future = reading.popleft()
            data = future.result()
            if (following := next(todo, None)) is not None:
                reading.append(read(following))
            path = folder / record["file"]
            if "array" in record:
                tables[name] = _read_array(data, path, record["array"])
            else:
                tables[name] = _read_table(pa.BufferReader(data), path, record)
    pa.default_memory_pool().release_unused()  # Arrow keeps its read buffers' pages: ~20 MB
    return Entry(tables=tables, meta=manifest["meta"])


def _checked_bytes(folder: Path, record: Mapping[str, Any]) -> bytes:
    """The bytes of an entry's file, if their SHA-256 is the manifest's."""
    data = (folder / record["file"]).read_bytes()
    if hashlib.sha256(data).hexdigest() != record["sha256"]:
        raise ValueError(f"{record['file']}: checksum differs")
    return data


def _read_array(data: bytes, path: Path, record: Mapping[str, Any]) -> np.ndarray:
    """The ``.npy`` array in ``data``, read-only, on ``data``'s memory (not copied: 45 MB per
    snapping index of the Wuhan network)."""
    header = io.BytesIO(data)
    version = np.lib.format.read_magic(header)
    if version not in ((1, 0), (2, 0)):
        raise ValueError(f"{path.name}: .npy format {version} not read")
    read = (
        np.lib.format.read_array_header_1_0
        if version == (1, 0)
        else np.lib.format.read_array_header_2_0
    )
    shape, fortran, dtype = read(header)
    if dtype.hasobject:
        raise ValueError(f"{path.name}: an array of objects")
    count = int(np.prod(shape, dtype=np.int64))
    values = np.frombuffer(data, dtype=dtype, count=count, offset=header.tell())
    values = values.reshape(shape, order="F" if fortran else "C")
    if values.dtype.str != record["dtype"] or list(values.shape) != record["shape"]:
        raise ValueError(f"{path.name}: type or shape differs from the manifest")
    return values


def _read_table(source: pa.BufferReader, path: Path, record: Mapping[str, Any]) -> pd.DataFrame:
    table = pq.read_table(source)
    columns: dict[str, str] = record["columns"]
    if table.column_names != list(columns) or table.num_rows != record["rows"]:
        raise ValueError(f"{path.name}: columns or row count differ from the manifest")
    data: dict[str, Any] = {}
    geometry = None
    for name, kind in columns.items():
        values = table.column(name).to_numpy(zero_copy_only=False)
        if kind == _GEOMETRY:
            geometry = name
            data[name] = shapely.from_wkb(values)
        elif kind == "object":
            data[name] = pd.Series(values, dtype=object)
        elif kind in _TYPES:
            data[name] = np.asarray(values, dtype=kind)
        else:
            raise ValueError(f"{path.name}: unknown column type {kind!r}")
    if geometry is None:
        return pd.DataFrame(data)
    crs = None if record.get("crs") is None else CRS.from_json(record["crs"])
    return gpd.GeoDataFrame(data, geometry=geometry, crs=crs)
