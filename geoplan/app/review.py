"""What the facilities page shows about each file, from the library's own checks.

Each file is read as a run reads it (:func:`geoplan.readers.facilities.read_facilities` with
the project's options and column/category mappings, inside the boundary), its repeated
records are rejected as a run rejects them
(:func:`geoplan.analysis.duplicates.reject_duplicates`), and
:func:`geoplan.analysis.qa.qa_facilities` lists the findings — with the project's network,
once chosen, also "far from road" and the GCJ-02/BD-09 suspicion. Nothing is computed here
that a run computes differently.
"""

from __future__ import annotations

import functools
import logging
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import geopandas as gpd
import pandas as pd

from ..analysis.duplicates import reject_duplicates
from ..analysis.qa import qa_facilities
from ..errors import DataQualityWarning, GeoplanError
from ..readers.boundaries import read_units
from ..readers.facilities import HeaderError, map_columns, read_facilities, read_raw_records
from ..taxonomy import COLUMN_ALIASES, closest_alias
from ..workflows.config import DEFAULT_MAX_SNAP_M
from ..workflows.project import FACILITY_READ_KEYS
from .projects import ProjectFolder

__all__ = ["FIELDS", "FileReview", "boundary_of", "network_of", "review_file", "review_headers"]

FIELDS: tuple[str, ...] = tuple(c for c in COLUMN_ALIASES if c != "osm_type")
"""The fields of the column mapping, in the reader's order."""

logger = logging.getLogger(__name__)


@dataclass
class FileReview:
    """One facility file as a run would read it."""

    index: int
    table: dict  # its [[facilities]] table
    headers: list[str] = field(default_factory=list)
    found: dict[str, str] = field(default_factory=dict)  # field → header (effective)
    error: str = ""
    read: int = 0
    used: int = 0
    findings: pd.DataFrame | None = None
    rejects: pd.DataFrame | None = None
    unknown: list[tuple[str, int, str | None]] = field(default_factory=list)
    sheets: list[str] = field(default_factory=list)
    points: gpd.GeoDataFrame | None = None  # the used records (WGS84)

    @property
    def rejected(self) -> int:
        """Rows not used."""
        return 0 if self.rejects is None else len(self.rejects)


@functools.lru_cache(maxsize=4)
def _cached_network(path: str, mtime_ns: int, size: int):
    from ..readers.network import read_network

    return read_network(path)


def network_of(project: ProjectFolder):
    """The project's network when chosen (read once per file version), else None."""
    table = project.input_table("network")
    if table is None:
        return None
    path = project.resolve(str(table["path"]))
    stat = path.stat()
    return _cached_network(str(path), stat.st_mtime_ns, stat.st_size)


def boundary_of(project: ProjectFolder) -> gpd.GeoDataFrame | None:
    """The project's boundary polygons (None without one)."""
    table = project.tables().get("boundary")
    path = project.resolve(str(table["path"])) if table and table.get("path") else None
    return None if path is None else read_units(path)


def review_headers(project: ProjectFolder, index: int, table: dict) -> FileReview:
    """The file's headers (as the column mapping finds them) and worksheets, without reading
    its records: what the mapping form needs; ``error`` says why they cannot be read."""
    review = FileReview(index, table)
    path = project.resolve(str(table["path"]))
    if path is None:
        review.error = f"{table['path']}: file not found / 文件不存在"
        return review
    options = {k: table[k] for k in FACILITY_READ_KEYS if k in table}
    if path.suffix.lower() in (".xlsx", ".xlsm"):
        review.sheets = _sheet_names(path)
    try:
        raw = read_raw_records(
            path, **{k: options.get(k) for k in ("sheet", "layer", "encoding", "crs", "columns")}
        )
        review.headers = [c for c in raw.columns if c != "source_row"]
    except HeaderError as exc:
        review.headers, review.error = exc.headers, str(exc)
    except GeoplanError as exc:
        review.error = str(exc)
        return review
    review.found = map_columns(review.headers, table.get("columns"))
    return review


def review_file(
    project: ProjectFolder,
    index: int,
    table: dict,
    *,
    boundary: gpd.GeoDataFrame | None,
    network=None,
) -> FileReview:
    """Read, check and describe the facility file of ``table`` (see the module notes)."""
    review = review_headers(project, index, table)
    if review.error:
        return review
    path = project.resolve(str(table["path"]))
    options = {k: table[k] for k in FACILITY_READ_KEYS if k in table}
    try:
        with warnings.catch_warnings():  # capacity cells: listed as findings instead
            warnings.simplefilter("ignore", DataQualityWarning)
            read = read_facilities(path, boundary=boundary, **options)
            keep = bool(table.get("keep_duplicates", False))
            read = reject_duplicates(read, keep=keep)
            review.findings = qa_facilities(
                read,
                boundary=boundary,
                network=network,
                max_snap_m=float(table.get("max_snap_m", DEFAULT_MAX_SNAP_M)),
                keep_duplicates=keep,
            )
    except GeoplanError as exc:
        review.error = str(exc)
        return review
    review.read, review.used, review.rejects = read.read, len(read.used), read.rejects
    review.points = read.used
    review.unknown = _unknown_types(read.rejects, review.found.get("category"))
    return review


def _unknown_types(rejects: pd.DataFrame, column: str | None) -> list[tuple[str, int, str | None]]:
    """``(type as written, rows, suggested category key)`` of the unknown categories."""
    if column is None or rejects.empty:
        return []
    rows = rejects[rejects["reason_code"] == "unknown_category"]
    cells = rows.get(f"input_{column}", rows.get(column))
    if cells is None:
        return []
    counts = cells.astype(str).str.strip().value_counts(sort=False)
    out = []
    for text, n in counts.items():
        near = closest_alias(text)
        out.append((str(text), int(n), near[1] if near else None))
    return out


def _sheet_names(path: Path) -> list[str]:
    from .._io import open_workbook

    try:
        book = open_workbook(path)
    except GeoplanError:
        return []
    try:
        return list(book.sheetnames)
    finally:
        book.close()
