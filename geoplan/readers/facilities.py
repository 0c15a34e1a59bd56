"""Read facility records (CSV, XLSX, GeoJSON, GeoPackage, Shapefile) into the Facilities table.

Every input record ends up either in ``FacilityTable.used`` (a GeoDataFrame in EPSG:4326 with
the columns of DESIGN.md) or in ``FacilityTable.rejects`` (one row per rejected record with a
reason code and a bilingual message naming the row and the fix), so
``read == len(used) + len(rejects)`` always.

Reason codes, checked in this order (one per record):

``notes_row``
    a table row that is a note or heading, not a facility: its first cell starts with
    ``注：``/``备注：``/``说明：``/``数据来源：``/``填表人：`` … (or ``注1.``), or it is a lone
    section heading such as ``一、乡镇卫生院``; it holds no coordinates. Government exports
    put such lines under the table.
``total_row``
    a table row whose first cell is ``合计``/``总计``/``小计``/``共计`` (or ``Total``) and that
    holds no coordinates.
``missing_name``
    the name cell is empty.
``missing_category``
    the category cell is empty (the message suggests a type read from the name).
``unknown_category``
    the category is not in :data:`geoplan.taxonomy.CATEGORIES`: the message gives the closest
    type, or says the type is left out on purpose (pharmacy, dental practice, elderly home …).
``missing_coordinates``
    longitude/latitude (or the geometry) are empty, or are the placeholder ``0, 0``.
``bad_coordinates``
    longitude/latitude are not numbers.
``unknown_crs``
    the row's coordinate-system cell (``坐标系``) names no known system.
``swapped_coordinates``
    the longitude looks like a latitude and the latitude like a longitude (China: longitude
    73–136, latitude 3–54); never swapped silently.
``out_of_range``
    the longitude is outside −180…180 or the latitude outside −90…90 (or projected
    coordinates do not convert to valid degrees).
``duplicate_id``
    the id already belongs to an earlier record (an id belongs to its first record, even if
    that record is rejected for another reason).
``outside_area``
    with ``boundary``, the point lies farther outside it than ``boundary_tolerance_m``.

Coordinates may be WGS84, CGCS2000 (taken as WGS84), GCJ-02 (高德/腾讯), BD-09 (百度) or any
EPSG system; they are converted to WGS84 (``coord_source`` records the original system).
Capacity cells (beds, doctors, nurses) that are not finite non-negative numbers, or exceed the
plausible maximum per facility (:data:`CAPACITY_MAX`, 10,000), become NaN with a
:class:`~geoplan.errors.DataQualityWarning` naming the rows; they never reject a record (its
position is fine), and ``FacilityTable.capacity_issues`` lists them (one row per cell) for
:mod:`geoplan.analysis.qa` and the run's warnings.

Tables as government exports have them: title rows above the header and blank lines are not
records; a second header row under merged group titles (``人员情况`` above ``医师数`` and
``护士数``, or a row of units such as ``张``/``人``) is combined with the first; notes and
total rows under the table are rejects (``notes_row``, ``total_row``). A workbook is read
from its first non-empty sheet unless ``sheet=`` is given; when several sheets look like
facility tables, ``sheet=`` is required.
"""

from __future__ import annotations

import csv
import functools
import io
import logging
import math
import re
import unicodedata
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import shapely

from .. import coords
from .._io import cell_text as _cell_text
from .._io import open_workbook, sheet_head, sheet_rows, write_csv
from ..errors import ConfigError, DataQualityWarning, InputError, InputFileNotFoundError
from ..messages import (
    VECTOR_SUFFIXES,
    coordinate_text,
    duplicate_id,
    outside_area,
    record_label,
)
from ..taxonomy import (
    CATEGORIES,
    COLUMN_ALIASES,
    bilingual,
    closest_alias,
    excluded_type,
    match_columns,
    normalize_text,
    parse_grade,
    parse_ownership,
    resolve_category,
)

__all__ = [
    "CAPACITY_FIELDS",
    "CAPACITY_ISSUE_COLUMNS",
    "CAPACITY_MAX",
    "CHINA_LAT_RANGE",
    "CHINA_LON_RANGE",
    "REASON_CODES",
    "USED_COLUMNS",
    "FacilityTable",
    "HeaderError",
    "capacity_problem_text",
    "capacity_value",
    "category_of",
    "declared_to_wgs84",
    "decode_text",
    "distance_outside_m",
    "header_crs",
    "in_china_ranges",
    "map_columns",
    "parse_declared_crs",
    "read_facilities",
    "read_facilities_frame",
    "read_raw_records",
    "write_rejects",
]

logger = logging.getLogger(__name__)

USED_COLUMNS: tuple[str, ...] = (
    "facility_id",
    "name",
    "category",
    "tier",
    "address",
    "beds",
    "doctors",
    "nurses",
    "grade",
    "ownership",
    "coord_source",
    "source_row",
    "geometry",
)
"""Columns of ``FacilityTable.used``, in order. ``grade`` (医院等级, normalised: 三级甲等 / 二级
/ 一级 / 未定级 …) and ``ownership`` (``public`` / ``private``) are None where the file has no
such column or the cell is blank or not recognised (:func:`geoplan.taxonomy.parse_grade`,
:func:`~geoplan.taxonomy.parse_ownership`; unrecognised cells are named in a warning)."""

REJECT_COLUMNS: tuple[str, ...] = (
    "source_row",
    "reason_code",
    "message_zh",
    "message_en",
    "facility_id",
    "name",
)
"""Leading columns of ``FacilityTable.rejects``; the input's own columns follow as text."""

REASON_CODES: tuple[str, ...] = (
    "notes_row",
    "total_row",
    "missing_name",
    "missing_category",
    "unknown_category",
    "missing_coordinates",
    "bad_coordinates",
    "unknown_crs",
    "swapped_coordinates",
    "out_of_range",
    "duplicate_id",
    "outside_area",
)
"""Every reason code :func:`read_facilities` can give, in the order the checks run."""

CAPACITY_FIELDS: tuple[str, ...] = ("beds", "doctors", "nurses")
"""Capacity columns of ``FacilityTable.used`` (float, NaN where the cell is empty or not a
non-negative number)."""

CAPACITY_ISSUE_COLUMNS: tuple[str, ...] = (
    "source_row",
    "facility_id",
    "name",
    "field",
    "column",
    "value",
    "problem",
)
"""Columns of ``FacilityTable.capacity_issues``: the record, the canonical field (``beds``,
``doctors``, ``nurses``), the input's header, the cell text, and the problem:
``not_number`` (not a finite non-negative number) or ``implausible`` (above
:data:`CAPACITY_MAX`)."""

CAPACITY_MAX: dict[str, float] = {"beds": 10_000, "doctors": 10_000, "nurses": 10_000}
"""Plausible maximum per facility. The largest hospitals in China have about 10,000 beds
(郑州大学第一附属医院); a larger value is a typo or a total, read as missing and reported."""

CHINA_LON_RANGE = (73.0, 136.0)
CHINA_LAT_RANGE = (3.0, 54.0)
"""Longitude and latitude ranges of China used to recognise swapped columns."""

DEFAULT_BOUNDARY_TOLERANCE_M = 100.0
_TABLE_SUFFIXES = {".csv", ".tsv", ".txt"}
_EXCEL_SUFFIXES = {".xlsx", ".xlsm"}
_HEADER_SCAN_ROWS = 10  # non-blank rows searched for the header (title rows may come first)
_WARN_ROWS_SHOWN = 10


# --------------------------------------------------------------------------- the table


def _no_capacity_issues() -> pd.DataFrame:
    """An empty ``capacity_issues`` table."""
    return pd.DataFrame(
        {
            c: pd.Series([], dtype="int64" if c == "source_row" else "str")
            for c in CAPACITY_ISSUE_COLUMNS
        }
    )


@dataclass(frozen=True, eq=False)
class FacilityTable:
    """Facilities read from one input.

    Attributes
    ----------
    used : geopandas.GeoDataFrame
        One row per usable record, EPSG:4326, columns :data:`USED_COLUMNS`.
    rejects : pandas.DataFrame
        One row per rejected record: :data:`REJECT_COLUMNS`, then the input's columns as text.
    read : int
        Records read (blank lines, title rows and header rows are not records; notes and
        total rows under a table are, and are rejected).
    source : str
        The file (or the label of an in-memory table) the records came from.
    capacity_issues : pandas.DataFrame
        One row per capacity cell of a used record that is not a non-negative number (read
        as NaN): :data:`CAPACITY_ISSUE_COLUMNS`.
    columns, categories : mapping
        The column and category mappings the records were read with (``columns=`` and
        ``categories=`` of :func:`read_facilities`, the latter keyed by normalised text), so
        a later step (geocoding the rejected rows) reads them the same way.
    """

    used: gpd.GeoDataFrame
    rejects: pd.DataFrame
    read: int
    source: str = ""
    capacity_issues: pd.DataFrame = field(default_factory=_no_capacity_issues)
    columns: Mapping[str, str] | None = None
    categories: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.read != len(self.used) + len(self.rejects):
            raise ValueError(
                f"FacilityTable: read ({self.read}) != used ({len(self.used)}) + rejected "
                f"({len(self.rejects)})"
            )

    @property
    def n_rejected(self) -> int:
        """Number of rejected records."""
        return len(self.rejects)

    def reason_counts(self) -> dict[str, int]:
        """Rejected records per reason code."""
        return {str(k): int(v) for k, v in self.rejects["reason_code"].value_counts().items()}


# --------------------------------------------------------------------------- coordinate systems


@dataclass(frozen=True)
class _Crs:
    """A coordinate system of input coordinates and how to reach WGS84 from it."""

    label: str  # written to ``coord_source``
    chinese: str | None = None  # "gcj02" / "bd09": converted with geoplan.coords
    pj: pyproj.CRS | None = None  # transformed with pyproj; None: already WGS84 lon/lat
    geographic: bool = True  # lon/lat degrees: range checks apply before conversion

    def to_wgs84(self, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Convert arrays of coordinates in this system to WGS84 lon/lat."""
        if self.chinese is not None:
            lon, lat = coords.to_wgs84(x, y, self.chinese)
            return np.asarray(lon, dtype=float), np.asarray(lat, dtype=float)
        if self.pj is None:
            return x.astype(float), y.astype(float)
        transformer = pyproj.Transformer.from_crs(self.pj, "EPSG:4326", always_xy=True)
        lon, lat = transformer.transform(x, y)
        return np.asarray(lon, dtype=float), np.asarray(lat, dtype=float)


_WGS84 = _Crs("wgs84")
_PRESETS = {
    "wgs84": _WGS84,
    "cgcs2000": _Crs("cgcs2000"),  # agrees with WGS84 to centimetres (see geoplan.coords)
    "gcj02": _Crs("gcj02", chinese="gcj02"),
    "bd09": _Crs("bd09", chinese="bd09"),
}
_EXTRA_CRS_NAMES = {"北京54": "EPSG:4214", "西安80": "EPSG:4610", "crs84": "OGC:CRS84"}


def _crs_from_pyproj(pj: pyproj.CRS) -> _Crs:
    """The :class:`_Crs` of a pyproj CRS (WGS84 and CGCS2000 need no conversion)."""
    if pj.is_geographic and pj.equals("EPSG:4326", ignore_axis_order=True):
        return _WGS84
    epsg = pj.to_epsg()
    if epsg == 4490:
        return _PRESETS["cgcs2000"]
    label = f"epsg:{epsg}" if epsg else pj.to_string()
    return _Crs(label, pj=pj, geographic=pj.is_geographic)


@functools.lru_cache(maxsize=256)
def _parse_crs(text: str) -> _Crs | None:
    """The coordinate system named by ``text`` (alias, EPSG code, WKT …), or None."""
    text = unicodedata.normalize("NFKC", str(text)).strip()
    if not text:
        return None
    candidates = [text]
    for suffix in ("坐标系统", "坐标系", "坐标"):
        if text.endswith(suffix) and len(text) > len(suffix):
            candidates.append(text[: -len(suffix)].strip())
    for cand in candidates:
        try:
            return _PRESETS[coords.normalize_crs_name(cand)]
        except ConfigError:
            pass
        cand = _EXTRA_CRS_NAMES.get(cand.casefold(), cand)
        if cand.isdigit():
            cand = f"EPSG:{cand}"
        try:
            return _crs_from_pyproj(pyproj.CRS.from_user_input(cand))
        except pyproj.exceptions.CRSError:
            continue
    return None


def parse_declared_crs(crs: str | None) -> _Crs | None:
    """The ``crs=`` option as a :class:`_Crs` (ConfigError when unknown)."""
    if crs is None:
        return None
    found = _parse_crs(str(crs))
    if found is None:
        raise ConfigError(
            f"unknown coordinate system crs={crs!r}; use wgs84, cgcs2000, gcj02 (高德/腾讯), "
            "bd09 (百度) or an EPSG code such as 'EPSG:32650'"
        )
    return found


_BRACKET_TEXT = re.compile(r"[(\[（【]([^)\]）】]*)[)\]）】]")


def header_crs(header: str | None) -> _Crs | None:
    """A coordinate system named in a header's brackets, e.g. ``经度(GCJ-02)``."""
    if header is None:
        return None
    for inner in _BRACKET_TEXT.findall(unicodedata.normalize("NFKC", header)):
        found = _parse_crs(inner)
        if found is not None:
            return found
    return None


# --------------------------------------------------------------------------- text helpers


def _parse_number(text: str) -> float | None:
    """A decimal number from a cell (full-width digits and a trailing ° allowed), else None."""
    text = unicodedata.normalize("NFKC", text).strip().rstrip("°").strip()
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


_COUNT_UNITS = ("张", "人", "名", "床", "个")


def _parse_count(text: str) -> float | None:
    """A non-negative count ('1,200', '120张' allowed); NaN for blank; None if not a number."""
    text = unicodedata.normalize("NFKC", text).strip().replace(",", "").replace(" ", "")
    if not text:
        return math.nan
    for unit in _COUNT_UNITS:
        text = text.removesuffix(unit)
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) and value >= 0 else None


def capacity_value(text: str, field: str) -> tuple[float, str | None]:
    """A capacity cell as a number, or NaN with the problem: ``not_number`` (not a finite
    non-negative number) or ``implausible`` (above :data:`CAPACITY_MAX` for the field)."""
    value = _parse_count(text)
    if value is None:
        return math.nan, "not_number"
    if value > CAPACITY_MAX.get(field, math.inf):
        return math.nan, "implausible"
    return value, None


def capacity_problem_text(field: str, problem: str) -> tuple[str, str]:
    """Why a capacity cell was read as missing (zh, en)."""
    if problem == "implausible":
        limit = CAPACITY_MAX[field]
        return (
            f"超过单个设施的合理上限 {limit:,}（是否多打了数字，或填了合计？）",
            f"above the plausible maximum of {limit:,} per facility (an extra digit, or a total?)",
        )
    return "不是非负数", "not a non-negative number"


def in_china_ranges(lon: Any, lat: Any) -> Any:
    """Whether lon/lat fall in the China ranges used to recognise swapped columns (floats or
    arrays; NaN is outside)."""
    return (
        (lon >= CHINA_LON_RANGE[0])
        & (lon <= CHINA_LON_RANGE[1])
        & (lat >= CHINA_LAT_RANGE[0])
        & (lat <= CHINA_LAT_RANGE[1])
    )


# --------------------------------------------------------------------------- records


@dataclass
class _Records:
    """Raw records of one input, all cells as text."""

    source: str  # file name (or label) for messages
    columns: list[str]
    values: list[list[str]]
    rows: list[int]  # source_row of each record
    kind: str = "row"  # "row" (tables) or "feature" (vector layers)
    xy: list[tuple[float, float] | None] | None = None  # geometry coordinates (vector only)
    crs: _Crs | None = None  # system of ``xy``
    geoms: np.ndarray | None = None  # each record's geometry as read (vector only)


@dataclass
class _Reject:
    """Why a record is rejected: a code from :data:`REASON_CODES` and the two messages."""

    code: str
    zh: str
    en: str


@dataclass
class _Row:
    """Working state of one record."""

    index: int
    source_row: int
    label_zh: str
    label_en: str
    facility_id: str
    name: str
    reject: _Reject | None = None
    category: str = ""
    x: float = math.nan
    y: float = math.nan
    x_text: str = ""
    y_text: str = ""
    crs: _Crs | None = None
    lon: float = math.nan
    lat: float = math.nan


def _unique_headers(cells: Sequence[str]) -> list[str]:
    """Header names, stripped; empty ones become ``column_<n>``, repeats get ``_2``, ``_3``."""
    out: list[str] = []
    seen: dict[str, int] = {}
    for i, cell in enumerate(cells):
        name = cell.strip().lstrip("\ufeff").strip() or f"column_{i + 1}"
        if name in seen:
            seen[name] += 1
            name = f"{name}_{seen[name]}"
        else:
            seen[name] = 1
        out.append(name)
    return out


def _absent_headers(mapping: Mapping[str, str] | None, headers: Sequence[str]) -> dict[str, str]:
    """The fields whose header the column ``mapping`` names but ``headers`` lack (cells
    compared stripped, as :func:`map_columns` matches them)."""
    cells = {str(h).strip() for h in headers}
    return {c: h for c, h in (mapping or {}).items() if h and h.strip() not in cells}


def map_columns(headers: Sequence[str], mapping: Mapping[str, str] | None = None) -> dict[str, str]:
    """``{canonical: header}`` of a header row: the user's ``mapping`` first (``columns=``; an
    empty header means "no such column"), then :func:`geoplan.taxonomy.match_columns` for the
    fields it leaves out, among the headers it does not use."""
    if not mapping:
        return match_columns(headers)
    cells = [str(h).strip() for h in headers]
    found = {c: h for c, h in mapping.items() if h and h.strip() in cells}
    found = {c: headers[cells.index(h.strip())] for c, h in found.items()}
    rest = [h for h in headers if h not in found.values()]
    found.update({c: h for c, h in match_columns(rest).items() if c not in mapping})
    return found


def _has_required(
    columns: Sequence[str], *, vector: bool, mapping: Mapping[str, str] | None = None
) -> bool:
    """Whether a header has name, category and (for tables) coordinate columns."""
    found = map_columns(columns, mapping)
    coordinates = vector or ("lon" in found and "lat" in found) or "lonlat" in found
    return "name" in found and "category" in found and coordinates


class HeaderError(InputError):
    """A table whose header lacks name, category or coordinate columns.

    ``headers`` are the cells of the row that looks most like the header (a column mapping,
    ``columns=``, can name the right ones); ``row`` is its row number (1-based, 0 for a layer).
    """

    def __init__(self, message: str, headers: Sequence[str], row: int = 0) -> None:
        super().__init__(message)
        self.headers = list(headers)
        self.row = row


def _missing_columns_error(
    source: str,
    columns: Sequence[str],
    *,
    vector: bool,
    mapping: Mapping[str, str] | None = None,
    row: int = 0,
) -> HeaderError:
    """The error for a header without the required columns: what was found, what is accepted."""
    found = map_columns(columns, mapping)
    missing = [c for c in ("name", "category") if c not in found]
    if not vector and not (("lon" in found and "lat" in found) or "lonlat" in found):
        missing += [c for c in ("lon", "lat") if c not in found]
    wanted = [*missing, "lonlat"] if {"lon", "lat"} & set(missing) else missing
    accepted = "; ".join(f"{c}: {', '.join(COLUMN_ALIASES[c])}" for c in wanted)
    shown = ", ".join(repr(c) for c in columns) or "(none)"
    absent = _absent_headers(mapping, columns)
    named = (
        "; the column mapping names headers the file does not have: "
        + ", ".join(f"{c} = {h!r}" for c, h in absent.items())
        if absent
        else ""
    )
    return HeaderError(
        f"{source}: the header has no column for {', '.join(missing)} (found {shown}){named}; "
        f"rename the header cells to one of the accepted names ({accepted}), or name the "
        'columns in the column mapping (columns = {name = "…"} in [facilities])',
        columns,
        row,
    )


def _table_records(
    source: str,
    table: list[list[str]],
    start_row: int = 1,
    mapping: Mapping[str, str] | None = None,
) -> _Records:
    """Records from rows of text cells: find the header, drop blank rows, number the rest.

    ``table[i]`` is spreadsheet row ``start_row + i``; ``mapping`` is the user's column
    mapping (see :func:`map_columns`), which the header row must satisfy.
    """
    nonblank = [i for i, row in enumerate(table) if any(c.strip() for c in row)]
    if not nonblank:
        raise InputError(f"{source}: the file is empty; add a header row and facility rows")
    header_at = next(
        (
            i
            for i in nonblank[:_HEADER_SCAN_ROWS]
            if _has_required(table[i], vector=False, mapping=mapping)
        ),
        None,
    )
    if header_at is None:  # report the row that looks most like a header
        best = max(
            nonblank[:_HEADER_SCAN_ROWS],
            key=lambda i: len(map_columns(table[i], mapping)),
        )
        raise _missing_columns_error(
            source,
            _unique_headers(table[best]),
            vector=False,
            mapping=mapping,
            row=start_row + best,
        )
    if header_at != nonblank[0]:
        logger.info("%s: header found on row %d", source, start_row + header_at)
    header = table[header_at]
    after = [i for i in nonblank if i > header_at]
    combined = _second_header(header, table[after[0]], mapping) if after else None
    if combined is not None:
        logger.info(
            "%s: rows %d and %d are one two-row header; columns read as %s",
            source,
            start_row + header_at,
            start_row + after[0],
            ", ".join(c for c in combined if c),
        )
        header, header_at = combined, after[0]
    columns = _unique_headers(header)
    width = len(columns)
    values, rows = [], []
    for i in nonblank:
        if i <= header_at:
            continue
        cells = [*table[i][:width], *[""] * (width - len(table[i]))]
        if len(table[i]) > width and any(c.strip() for c in table[i][width:]):
            logger.warning(
                "%s: row %d has more cells than the header; extra cells ignored",
                source,
                start_row + i,
            )
        values.append(cells)
        rows.append(start_row + i)
    if not values:
        raise InputError(
            f"{source}: the header is there but no data rows follow; add one row per facility"
        )
    return _Records(source, columns, values, rows)


_UNIT_CELL = re.compile(
    r"^[(（]?(张|人|名|个|所|家|床|床位|辆|台|万元|元|米|m|km|公里|千米|平方米|㎡|m2|度|°|"
    r"人次|张/千人|人/千人)[)）]?$",
    re.IGNORECASE,
)


def _second_header(
    header: Sequence[str], row: Sequence[str], mapping: Mapping[str, str] | None = None
) -> list[str] | None:
    """The header combined with the row under it when that row is a second header row.

    Government exports often head a table with two rows: group titles in merged cells
    (``人员情况`` over ``医师数`` and ``护士数``) with the other headers merged across both
    rows, or the headers with a row of units (``张``, ``人``) below. Only the top-left cell of
    a merged range holds the text, so the first row has empty cells under a group title's
    span and the second is empty where a header spans both rows.

    ``row`` is taken as a second header row when it holds text only (no numbers), its name
    cell is empty, and either all its cells are units or it has a cell under an empty header
    cell (the rest of a merged title) or its cells name a column the first row lacks.
    A cell under a group title keeps its own name when that is an accepted column name
    (``医师数``), else group and cell joined when that is (``床位`` over ``实有`` →
    ``实有床位``), else ``group/cell``; a unit joins its header as ``床位数（张）``.

    Returns
    -------
    list of str or None
        The combined header cells, or None when ``row`` is a record.
    """
    width = len(header)
    top = [c.strip() for c in header]
    sub = [c.strip() for c in [*row[:width], *[""] * (width - len(row))]]
    filled = [j for j, c in enumerate(sub) if c]
    if not filled or any(_parse_number(sub[j]) is not None for j in filled):
        return None
    names = _unique_headers(header)
    name_col = map_columns(names, mapping).get("name")
    if name_col is not None and sub[names.index(name_col)]:
        return None
    if all(_UNIT_CELL.match(unicodedata.normalize("NFKC", sub[j])) for j in filled):
        return [f"{t}（{u}）" if t and u else t or u for t, u in zip(top, sub, strict=True)]
    combined, group = [], ""
    for t, u in zip(top, sub, strict=True):
        if t:
            group = t if u else ""
            combined.append(_grouped_name(t, u) if u else t)
        else:
            group = group if u else ""
            combined.append(_grouped_name(group, u) if group and u else u)
    under_merge = any(sub[j] and not top[j] for j in filled)
    more = len(match_columns(_unique_headers(combined))) > len(match_columns(names))
    return combined if under_merge or more else None


def _grouped_name(group: str, cell: str) -> str:
    """The column name of ``cell`` under the merged group title ``group``."""
    for candidate in (cell, f"{cell}{group}", f"{group}{cell}"):
        if match_columns([candidate]):
            return candidate
    return f"{group}/{cell}"


def decode_text(data: bytes, source: str, encoding: str | None) -> str:
    """Bytes to text: ``encoding`` if given, else UTF-16 by BOM, UTF-8 (BOM or not), GB18030."""
    if encoding is not None:
        try:
            text = data.decode(encoding)
        except LookupError as exc:
            raise InputError(
                f"{source}: unknown encoding {encoding!r}; use e.g. utf-8 or gbk"
            ) from exc
        except UnicodeDecodeError as exc:
            raise InputError(
                f"{source}: cannot be decoded as {encoding} ({exc.reason} at byte {exc.start}); "
                "leave out encoding= to detect UTF-8/GBK, or give the right one"
            ) from exc
        return text.lstrip("\ufeff")
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return data.decode("utf-16")
        except UnicodeDecodeError as exc:
            raise InputError(f"{source}: broken UTF-16 text; save it as UTF-8 CSV") from exc
    for candidate in ("utf-8-sig", "gb18030"):
        try:
            text = data.decode(candidate)
        except UnicodeDecodeError:
            continue
        if candidate != "utf-8-sig":
            logger.info("%s: not UTF-8, read as %s", source, candidate)
        return text
    raise InputError(
        f"{source}: the text is neither UTF-8 nor GBK/GB18030; save it as UTF-8 CSV, or pass "
        "encoding= with its encoding"
    )


def _read_text_table(
    path: Path, encoding: str | None, mapping: Mapping[str, str] | None = None
) -> _Records:
    data = path.read_bytes()
    text = decode_text(data, path.name, encoding)
    if not text.strip():
        raise InputError(f"{path.name}: the file is empty; add a header row and facility rows")
    head = [line for line in text.splitlines()[:50] if line.strip()][:20]
    if path.suffix.lower() == ".tsv":
        delimiter = "\t"
    else:  # the separator used most often in the first lines (title rows have none)
        counts = {d: sum(line.count(d) for line in head) for d in (",", "\t", ";", "|")}
        delimiter = max(counts, key=counts.get) if any(counts.values()) else ","
    try:
        table = list(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter))
    except csv.Error as exc:
        raise InputError(f"{path.name}: not a readable CSV table ({exc}); check quoting") from exc
    return _table_records(path.name, table, mapping=mapping)


def _read_excel(
    path: Path, sheet: str | int | None, mapping: Mapping[str, str] | None = None
) -> _Records:
    """Records of a worksheet, streamed within the table's width (see :func:`_io.sheet_rows`)."""
    book = open_workbook(path)
    try:
        names = book.sheetnames
        others: list[str] = []  # other sheets that look like facility tables
        if sheet is None:
            ws, others = _default_sheet(book, path.name, mapping)
        elif isinstance(sheet, int) and 0 <= sheet < len(names):
            ws = book.worksheets[sheet]
        elif isinstance(sheet, str) and sheet in names:
            ws = book[sheet]
        else:
            raise InputError(
                f"{path.name}: no sheet {sheet!r}; the workbook has {', '.join(map(repr, names))}"
            )
        rows = sheet_rows(ws, f"{path.name} [{ws.title}]")
        table = [[_cell_text(v) for v in row] for row in rows]
    finally:
        book.close()
    try:
        return _table_records(f"{path.name} [{ws.title}]", table, mapping=mapping)
    except InputError as exc:
        if not others:
            raise
        raise InputError(
            f"{exc}. The sheet {others[0]!r} looks like a facility table: choose it with "
            f"sheet={others[0]!r} (command line: --sheet {others[0]})"
        ) from exc


def _sheet_head(ws: Any) -> list[list[str]]:
    """The first non-blank rows of a worksheet, enough to find a header."""
    return [[_cell_text(v) for v in row] for row in sheet_head(ws, _HEADER_SCAN_ROWS)]


def _default_sheet(
    book: Any, source: str, mapping: Mapping[str, str] | None = None
) -> tuple[Any, list[str]]:
    """The first non-empty worksheet, and the names of other sheets that look like tables.

    Raises
    ------
    InputError
        Several sheets look like facility tables (a header with name, category and
        coordinate columns): the caller must choose one.
    """
    heads = [(ws, _sheet_head(ws)) for ws in book.worksheets]
    tables = [
        ws.title
        for ws, head in heads
        if any(_has_required(r, vector=False, mapping=mapping) for r in head)
    ]
    if len(tables) > 1:
        shown = ", ".join(repr(t) for t in tables)
        raise InputError(
            f"{source}: {len(tables)} sheets look like facility tables ({shown}); choose one "
            f"with sheet= (e.g. sheet={tables[0]!r}; command line: --sheet {tables[0]})"
        )
    nonempty = [ws for ws, head in heads if head]
    ws = nonempty[0] if nonempty else book.worksheets[0]
    if len(book.worksheets) > 1:
        logger.info(
            "%s: reading sheet %r, the first non-empty of %d sheets (%s)",
            source,
            ws.title,
            len(book.worksheets),
            ", ".join(repr(w.title) for w in book.worksheets),
        )
    return ws, [t for t in tables if t != ws.title]


def _vector_records(
    source: str,
    frame: gpd.GeoDataFrame,
    declared: _Crs | None,
    mapping: Mapping[str, str] | None = None,
) -> _Records:
    """Records from a GeoDataFrame: geometry gives the coordinates, other columns the cells."""
    geom_name = frame.geometry.name
    columns = [str(c) for c in frame.columns if c != geom_name]
    props = frame.drop(columns=geom_name)
    if declared is not None:
        crs = declared
    elif frame.crs is None:
        logger.warning("%s: the layer has no CRS; coordinates taken as WGS84 lon/lat", source)
        crs = _WGS84
    else:
        crs = _crs_from_pyproj(pyproj.CRS.from_user_input(frame.crs))
    geoms = frame.geometry.to_numpy()
    values, rows, xy = [], [], []
    polygons = 0
    for i, (cells, geom) in enumerate(
        zip(props.itertuples(index=False, name=None), geoms, strict=True)
    ):
        text = [_cell_text(v) for v in cells]
        empty = geom is None or geom.is_empty
        if empty and not any(t.strip() for t in text):  # a blank feature is no record
            continue
        point = None
        if not empty:
            if geom.geom_type != "Point":
                polygons += 1
                geom = geom.representative_point()
            point = (float(geom.x), float(geom.y))
        values.append(text)
        rows.append(i + 1)
        xy.append(point)
    if polygons:
        logger.info("%s: %d non-point features placed at an interior point", source, polygons)
    if not values:
        raise InputError(f"{source}: the layer has no features; add one feature per facility")
    if not _has_required(columns, vector=True, mapping=mapping):
        raise _missing_columns_error(source, columns, vector=True, mapping=mapping)
    kept = geoms[np.asarray(rows) - 1]  # rows are 1-based feature positions
    return _Records(source, columns, values, rows, kind="feature", xy=xy, crs=crs, geoms=kept)


def _read_vector(
    path: Path,
    layer: str | int | None,
    encoding: str | None,
    declared: _Crs | None,
    mapping: Mapping[str, str] | None = None,
) -> _Records:
    import pyogrio

    try:
        layers = [str(name) for name, _ in pyogrio.list_layers(path)]
    except Exception as exc:  # pyogrio DataSourceError and friends
        raise InputError(
            f"{path.name}: cannot be read as a GIS layer ({exc}); check the file is complete "
            "GeoJSON, GeoPackage or Shapefile"
        ) from exc
    if layer is not None and (
        (isinstance(layer, str) and layer not in layers)
        or (isinstance(layer, int) and not 0 <= layer < len(layers))
    ):
        raise InputError(f"{path.name}: no layer {layer!r}; the file has {', '.join(layers)}")
    if layer is None and len(layers) > 1:
        logger.info("%s: %d layers, reading the first (%s)", path.name, len(layers), layers[0])
    options: dict[str, Any] = {"layer": layers[0] if layer is None and layers else layer}
    if encoding is not None:
        options["encoding"] = encoding
    try:
        frame = gpd.read_file(path, engine="pyogrio", **options)
    except Exception as exc:
        raise InputError(f"{path.name}: cannot be read as a GIS layer ({exc})") from exc
    if encoding is None and _looks_like_misread_gbk(path, frame):
        logger.info("%s: no .cpg file and Latin-1 text; attributes read as GBK", path.name)
        try:
            frame = gpd.read_file(path, engine="pyogrio", **options, encoding="gb18030")
        except Exception:  # not GBK after all: keep the first reading
            logger.info("%s: not GBK either; attributes kept as read", path.name)
    return _vector_records(path.name, frame, declared, mapping)


_LATIN1_HIGH = re.compile(r"[\u0080-\u00ff]")


def _looks_like_misread_gbk(path: Path, frame: pd.DataFrame) -> bool:
    """A Shapefile without ``.cpg`` whose text came out as Latin-1 (Chinese DBFs are GBK)."""
    if path.suffix.lower() != ".shp" or any(path.with_suffix(s).exists() for s in (".cpg", ".CPG")):
        return False
    texts = [str(c) for c in frame.columns]
    for column in frame.columns:
        if frame[column].dtype == object or pd.api.types.is_string_dtype(frame[column]):
            texts.extend(str(v) for v in frame[column].head(50) if isinstance(v, str))
    return any(_LATIN1_HIGH.search(t) for t in texts)


# --------------------------------------------------------------------------- public API


def read_facilities(
    path: str | Path,
    *,
    layer: str | int | None = None,
    sheet: str | int | None = None,
    encoding: str | None = None,
    crs: str | None = None,
    boundary: Any = None,
    boundary_tolerance_m: float = DEFAULT_BOUNDARY_TOLERANCE_M,
    columns: Mapping[str, str] | None = None,
    categories: Mapping[str, str] | None = None,
) -> FacilityTable:
    """Read facility records from a file.

    Parameters
    ----------
    path : str or Path
        ``.csv``/``.tsv``/``.txt`` (UTF-8 with or without BOM, GBK/GB18030 or UTF-16, detected),
        ``.xlsx``/``.xlsm``, ``.geojson``/``.json``, ``.gpkg``, ``.shp`` or ``.fgb``.
    layer : str or int, optional
        Layer of a GeoPackage (default: the first).
    sheet : str or int, optional
        Worksheet of a workbook, by name or position. Default: the first non-empty sheet (the
        log says which); when several sheets look like facility tables, an InputError asks
        for ``sheet=``.
    encoding : str, optional
        Text encoding of a CSV (or Shapefile attributes); overrides detection.
    crs : str, optional
        Coordinate system of the coordinates: ``wgs84`` (default), ``cgcs2000``, ``gcj02``,
        ``bd09`` or an EPSG code. For tables it applies to rows whose ``坐标系``/``crs`` cell is
        empty; for GIS layers it overrides the layer's own CRS label (GCJ-02 data are
        usually labelled EPSG:4326).
    boundary : GeoDataFrame, GeoSeries or shapely geometry, optional
        Study area (any CRS; bare geometries are taken as WGS84). Records farther outside it
        than ``boundary_tolerance_m`` are rejected as ``outside_area``.
    boundary_tolerance_m : float, default 100
        Distance outside the boundary still accepted, metres.
    columns : mapping, optional
        The column mapping: canonical field (a key of
        :data:`geoplan.taxonomy.COLUMN_ALIASES`: ``name``, ``category``, ``lon`` …) → the
        file's header for it; ``""`` means the file has no such column. Fields left out are
        recognised by their header as usual (``[facilities] columns``).
    categories : mapping, optional
        Category text as written in the file → taxonomy key (:data:`CATEGORIES`), used before
        the taxonomy's own aliases (``[facilities] categories``; e.g. ``{"卫生服务中心" =
        "community_health_centre"}``). Texts are compared after
        :func:`geoplan.taxonomy.normalize_text`.

    Returns
    -------
    FacilityTable

    Raises
    ------
    InputFileNotFoundError
        The file does not exist.
    HeaderError
        A header without name/category/coordinate columns (its ``headers`` are the cells of
        the likeliest header row, for a column mapping).
    InputError
        Empty file, no data rows, an unreadable file, an unsupported extension, or a
        workbook with several facility sheets and no ``sheet=``.
    ConfigError
        A column mapping naming an unknown field, or a category mapped to no taxonomy key.
    """
    path = Path(path)
    if not path.exists():
        raise InputFileNotFoundError(
            f"facility file {str(path)!r} not found; check the path (relative paths start at "
            f"{Path.cwd()})"
        )
    if path.is_dir():
        raise InputError(f"{path}: is a folder; give the facility file itself")
    if path.stat().st_size == 0:
        raise InputError(f"{path.name}: the file is empty; add a header row and facility rows")
    suffix = path.suffix.lower()
    declared = parse_declared_crs(crs)
    mapping = _checked_columns(columns)
    records = _read_records(
        path, layer=layer, sheet=sheet, encoding=encoding, declared=declared, mapping=mapping
    )
    ignored = [
        name
        for name, value, kinds in (
            ("sheet", sheet, _EXCEL_SUFFIXES),
            ("layer", layer, {".gpkg"}),
            ("encoding", encoding, _TABLE_SUFFIXES | {".shp"}),
        )
        if value is not None and suffix not in kinds
    ]
    if ignored:
        logger.warning("%s: option(s) %s do not apply to %s files", path.name, ignored, suffix)
    return _build(
        records,
        declared,
        boundary,
        boundary_tolerance_m,
        source=str(path),
        mapping=mapping,
        categories=_checked_categories(categories),
    )


def _checked_columns(columns: Mapping[str, str] | None) -> dict[str, str] | None:
    """The ``columns=`` mapping, its fields checked against :data:`COLUMN_ALIASES`."""
    if not columns:
        return None
    unknown = [c for c in columns if c not in COLUMN_ALIASES]
    if unknown:
        raise ConfigError(
            f"column mapping: unknown field(s) {', '.join(map(repr, unknown))}; the fields are "
            f"{', '.join(COLUMN_ALIASES)}"
        )
    return {str(c): str(h) for c, h in columns.items()}


def category_of(text: str, categories: Mapping[str, str]) -> str | None:
    """The taxonomy key of a category cell: the project's ``categories`` mapping (keyed by
    normalised text, :func:`_checked_categories`) first, then the taxonomy's own names."""
    text = text.strip()
    if not text:
        return None
    return categories.get(normalize_text(text)) or resolve_category(text)


def _checked_categories(categories: Mapping[str, str] | None) -> dict[str, str]:
    """The ``categories=`` mapping keyed by normalised text, its values checked."""
    out: dict[str, str] = {}
    for text, key in (categories or {}).items():
        if key not in CATEGORIES:
            raise ConfigError(
                f"category mapping: {text!r} = {key!r} is not a category key of the taxonomy "
                "(geoplan.taxonomy.CATEGORIES, e.g. community_health_centre)"
            )
        out[normalize_text(text)] = key
    return out


def _read_records(path: Path, *, layer, sheet, encoding, declared, mapping=None) -> _Records:
    """The file's records by format (encodings, header search, spreadsheet row numbers)."""
    suffix = path.suffix.lower()
    if suffix in _TABLE_SUFFIXES:
        return _read_text_table(path, encoding, mapping)
    if suffix in _EXCEL_SUFFIXES:
        return _read_excel(path, sheet, mapping)
    if suffix in VECTOR_SUFFIXES:
        return _read_vector(path, layer, encoding, declared, mapping)
    if suffix == ".xls":
        raise InputError(
            f"{path.name}: old Excel .xls files are not supported; save the sheet as .xlsx or CSV"
        )
    raise InputError(
        f"{path.name}: unknown file type {suffix or '(no extension)'!r}; give a CSV, XLSX, "
        "GeoJSON, GeoPackage or Shapefile"
    )


def declared_to_wgs84(lon: Any, lat: Any, crs: str | None) -> tuple[np.ndarray, np.ndarray, str]:
    """Coordinates declared in ``crs`` (any value ``read_facilities(crs=)`` takes; None is
    WGS84) as WGS84 lon/lat arrays, with the system's label (``wgs84``, ``gcj02`` …)."""
    system = parse_declared_crs(crs) or _WGS84
    lon, lat = system.to_wgs84(np.asarray(lon, dtype=float), np.asarray(lat, dtype=float))
    return lon, lat, system.label


def read_raw_records(
    path: str | Path,
    *,
    layer: str | int | None = None,
    sheet: str | int | None = None,
    encoding: str | None = None,
    crs: str | None = None,
    columns: Mapping[str, str] | None = None,
) -> pd.DataFrame:
    """A facility file's own columns as read, with ``source_row`` matching
    :func:`read_facilities` (for attribute columns the taxonomy does not know, e.g. 中医馆);
    ``columns`` is the column mapping, as there (it decides which row is the header)."""
    path = Path(path)
    records = _read_records(
        path,
        layer=layer,
        sheet=sheet,
        encoding=encoding,
        declared=parse_declared_crs(crs),
        mapping=_checked_columns(columns),
    )
    frame = pd.DataFrame(records.values, columns=records.columns, dtype=object)
    frame = frame.loc[:, ~frame.columns.duplicated()]
    frame["source_row"] = np.asarray(records.rows, dtype=np.int64)
    return frame


def read_facilities_frame(
    frame: pd.DataFrame,
    *,
    source: str = "table",
    crs: str | None = None,
    boundary: Any = None,
    boundary_tolerance_m: float = DEFAULT_BOUNDARY_TOLERANCE_M,
) -> FacilityTable:
    """Read facility records from an in-memory table, with the same checks as files.

    Parameters
    ----------
    frame : DataFrame or GeoDataFrame
        A DataFrame with the same columns a file would have (``source_row`` is the position
        + 2, as in a spreadsheet with its header on row 1), or a GeoDataFrame whose point
        geometry gives the coordinates (``source_row`` is the position + 1). Not modified.
    source : str
        Name used in messages.
    crs, boundary, boundary_tolerance_m
        As in :func:`read_facilities`.

    Returns
    -------
    FacilityTable
    """
    declared = parse_declared_crs(crs)
    if _has_geometry(frame):
        if len(frame) == 0:
            raise InputError(f"{source}: the table has no rows; add one row per facility")
        records = _vector_records(source, frame, declared)
    else:
        columns = _unique_headers([_cell_text(c) for c in frame.columns])
        if not _has_required(columns, vector=False):
            raise _missing_columns_error(source, columns, vector=False)
        table = [[_cell_text(v) for v in row] for row in frame.itertuples(index=False, name=None)]
        if not any(any(c.strip() for c in row) for row in table):
            raise InputError(f"{source}: the table has no rows; add one row per facility")
        records = _table_records(source, [columns, *table], start_row=1)
    return _build(records, declared, boundary, boundary_tolerance_m, source=source)


def _has_geometry(frame: pd.DataFrame) -> bool:
    """Whether ``frame`` is a GeoDataFrame with an active geometry column."""
    if not isinstance(frame, gpd.GeoDataFrame):
        return False
    try:
        frame.geometry  # noqa: B018 - raises AttributeError without an active geometry
    except AttributeError:
        return False
    return True


def write_rejects(table: FacilityTable, path: str | Path) -> Path:
    """Write ``table.rejects`` as CSV in UTF-8 with BOM (opens in Excel), atomically.

    Returns
    -------
    Path
        The written file.
    """
    path = Path(path)
    write_csv(table.rejects, path)
    return path


# --------------------------------------------------------------------------- the checks


def _reject_category(row: _Row, text: str, column: str) -> _Reject:
    """The ``missing_category`` / ``unknown_category`` reject of a row."""
    if not text:
        guess = resolve_category(row.name)
        hint_zh = f"（按名称判断可能是“{bilingual(guess)}”）" if guess else ""
        hint_en = f" (from the name it looks like {bilingual(guess)})" if guess else ""
        return _Reject(
            "missing_category",
            f"{row.label_zh}：类型为空；请在“{column}”列填写设施类型{hint_zh}。",
            f"{row.label_en}: the category is empty; fill in the {column!r} column{hint_en}.",
        )
    excluded = excluded_type(text)
    if excluded is not None:
        zh_type, en_type = excluded
        return _Reject(
            "unknown_category",
            f"{row.label_zh}：类型“{text}”属于{zh_type}（{en_type}），geoplan 有意不纳入规划设施"
            "类型；请删除该行，或如该机构实际属于其他类型（如诊所），请改写类型。",
            f"{row.label_en}: category {text!r} means {en_type} ({zh_type}), a type geoplan "
            "leaves out on purpose; delete the row, or change the category if the place is in "
            "fact another type (e.g. 诊所 / clinic).",
        )
    near = closest_alias(text)
    ask_zh = f"是否应为“{near[0]}”（{bilingual(near[1])}）？" if near else ""
    ask_en = f" did you mean {near[0]!r} ({bilingual(near[1])})? Otherwise" if near else ""
    return _Reject(
        "unknown_category",
        f"{row.label_zh}：类型“{text}”无法识别；{ask_zh}请使用 geoplan.taxonomy.CATEGORIES 中的"
        "类型（如乡镇卫生院、社区卫生服务中心、村卫生室、全民健身中心）。",
        f"{row.label_en}: category {text!r} is not a known facility type;{ask_en} use a type "
        "from geoplan.taxonomy.CATEGORIES (e.g. 乡镇卫生院, 社区卫生服务中心, 村卫生室, "
        "全民健身中心).",
    )


def _parse_table_coordinates(
    row: _Row, get, cols: dict[str, str], default_crs: _Crs
) -> _Reject | None:
    """Fill ``row.x/y/crs`` from the table's cells, or return the reject."""
    if "lon" in cols and "lat" in cols:
        x_text, y_text = get("lon").strip(), get("lat").strip()
        where_zh = f"“{cols['lon']}”和“{cols['lat']}”"
        where_en = f"{cols['lon']!r} and {cols['lat']!r}"
    else:
        both = get("lonlat").strip()
        parts = [p for p in re.split(r"[,，;；\s]+", both) if p]
        where_zh = where_en = repr(cols["lonlat"])
        if both and len(parts) != 2:
            return _Reject(
                "bad_coordinates",
                f"{row.label_zh}：坐标“{both}”不是“经度,纬度”格式；请写成如 106.4553,38.8481。",
                f"{row.label_en}: coordinates {both!r} are not 'longitude,latitude'; write e.g. "
                "106.4553,38.8481.",
            )
        x_text, y_text = [*parts, "", ""][:2] if both else ("", "")
    row.x_text, row.y_text = x_text, y_text
    if not x_text or not y_text:
        return _Reject(
            "missing_coordinates",
            f"{row.label_zh}：经纬度为空；请在{where_zh}中填写十进制度数的经度和纬度。",
            f"{row.label_en}: the longitude/latitude is empty; fill in {where_en} in decimal "
            "degrees.",
        )
    x, y = _parse_number(x_text), _parse_number(y_text)
    if x is None or y is None:
        bad = [
            (t, zh, en)
            for v, t, zh, en in ((x, x_text, "经度", "longitude"), (y, y_text, "纬度", "latitude"))
            if v is None
        ]
        zh = "、".join(f"{z}“{t}”" for t, z, _ in bad)
        en = " and ".join(f"{e} {t!r}" for t, _, e in bad)
        return _Reject(
            "bad_coordinates",
            f"{row.label_zh}：{zh}不是数字；请填写十进制度数，如 106.4553。",
            f"{row.label_en}: {en} {'is' if len(bad) == 1 else 'are'} not a number; write "
            "decimal degrees such as 106.4553.",
        )
    row.x, row.y = x, y
    crs_text = get("crs").strip() if "crs" in cols else ""
    row.crs = _parse_crs(crs_text) if crs_text else default_crs
    if row.crs is None:
        return _Reject(
            "unknown_crs",
            f"{row.label_zh}：坐标系“{crs_text}”无法识别；请填写 WGS84、CGCS2000、"
            "GCJ-02（高德/腾讯）、BD-09（百度）或 EPSG 代码（如 EPSG:4326）。",
            f"{row.label_en}: coordinate system {crs_text!r} is not known; write WGS84, "
            "CGCS2000, GCJ-02 (Amap/Tencent), BD-09 (Baidu) or an EPSG code such as EPSG:4326.",
        )
    return None


def _check_degrees(rows: list[_Row], cols: dict[str, str]) -> None:
    """Placeholder, swapped and range checks on lon/lat degrees (before conversion)."""
    lon_col = cols.get("lon", cols.get("lonlat", "geometry"))
    lat_col = cols.get("lat", cols.get("lonlat", "geometry"))
    for row in rows:
        lon_t = row.x_text or coordinate_text(row.x)
        lat_t = row.y_text or coordinate_text(row.y)
        swapped = not in_china_ranges(row.x, row.y) and in_china_ranges(row.y, row.x)
        if row.x == 0 and row.y == 0:
            row.reject = _Reject(
                "missing_coordinates",
                f"{row.label_zh}：经纬度为 0, 0（占位值）；请填写真实坐标。",
                f"{row.label_en}: longitude and latitude are 0, 0 (a placeholder); fill in the "
                "real coordinates.",
            )
        elif swapped and not row.x_text:  # from a geometry
            row.reject = _Reject(
                "swapped_coordinates",
                f"{row.label_zh}：经度 {lon_t} 像是纬度，坐标是否颠倒了？点坐标应为（经度, 纬度）："
                "x 为经度（中国境内 73–136），y 为纬度（3–54）。",
                f"{row.label_en}: longitude {lon_t} looks like a latitude; are the coordinates "
                "swapped? Store points as (longitude, latitude): x is the longitude (73–136 in "
                "China), y the latitude (3–54).",
            )
        elif swapped:
            row.reject = _Reject(
                "swapped_coordinates",
                f"{row.label_zh}：经度 {lon_t} 像是纬度，经纬度两列是否填反了？请把经度（中国境内 "
                f"73–136）填入“{lon_col}”，纬度（3–54）填入“{lat_col}”。",
                f"{row.label_en}: longitude {lon_t} looks like a latitude; are the columns "
                f"swapped? Put the longitude (73–136 in China) in {lon_col!r} and the latitude "
                f"(3–54) in {lat_col!r}.",
            )
        elif abs(row.x) > 180 or abs(row.y) > 90:
            what_zh, what_en, value = (
                ("经度", "longitude", lon_t) if abs(row.x) > 180 else ("纬度", "latitude", lat_t)
            )
            limit = "180" if abs(row.x) > 180 else "90"
            projected = max(abs(row.x), abs(row.y)) > 1000
            row.reject = _Reject(
                "out_of_range",
                f"{row.label_zh}：{what_zh} {value} 超出 −{limit}…{limit}"
                + (
                    "；这像是投影坐标（米），请换算为 WGS84 经纬度，或在“坐标系”列注明坐标系"
                    "（如 EPSG:32648）。"
                    if projected
                    else "；请核对坐标。"
                ),
                f"{row.label_en}: {what_en} {value} is outside -{limit}…{limit}"
                + (
                    "; these look like projected metres: convert them to WGS84 degrees, or name "
                    "the coordinate system in a 坐标系/crs column (e.g. EPSG:32648)."
                    if projected
                    else "; check the coordinates."
                ),
            )


def _convert(rows: list[_Row], cols: dict[str, str]) -> None:
    """Range checks and conversion to WGS84, one batch per coordinate system."""
    by_crs: dict[_Crs, list[_Row]] = {}
    for row in rows:
        by_crs.setdefault(row.crs, []).append(row)
    for crs, group in by_crs.items():
        if crs.geographic:
            _check_degrees(group, cols)
            group = [r for r in group if r.reject is None]
        if not group:
            continue
        lon, lat = crs.to_wgs84(np.array([r.x for r in group]), np.array([r.y for r in group]))
        for row, lo, la in zip(group, lon, lat, strict=True):
            if not (math.isfinite(lo) and math.isfinite(la) and abs(lo) <= 180 and abs(la) <= 90):
                xy = f"{coordinate_text(row.x)}, {coordinate_text(row.y)}"
                row.reject = _Reject(
                    "out_of_range",
                    f"{row.label_zh}：坐标 {xy}（{crs.label}）"
                    "无法换算为有效经纬度；请核对坐标和坐标系。",
                    f"{row.label_en}: coordinates {xy} in {crs.label} do "
                    "not convert to a valid longitude/latitude; check the coordinates and the "
                    "coordinate system.",
                )
            else:
                row.lon, row.lat = float(lo), float(la)


def _check_duplicates(rows: list[_Row], kind: str) -> None:
    """An id belongs to its first record; later records with it are ``duplicate_id``."""
    first: dict[str, _Row] = {}
    for row in rows:
        earlier = first.setdefault(row.facility_id, row)
        if earlier is row or row.reject is not None:
            continue
        where = record_label(kind, earlier.source_row, "")
        label = (row.label_zh, row.label_en)
        row.reject = _Reject("duplicate_id", *duplicate_id(label, row.facility_id, where))


def _boundary_metric(boundary: Any) -> tuple[shapely.Geometry, pyproj.CRS]:
    """The boundary as one geometry in a metric CRS (its own if projected, else local UTM)."""
    if isinstance(boundary, gpd.GeoDataFrame | gpd.GeoSeries):
        series = gpd.GeoSeries(boundary.geometry.to_numpy(), crs=boundary.crs or "EPSG:4326")
    elif isinstance(boundary, shapely.Geometry):
        series = gpd.GeoSeries([boundary], crs="EPSG:4326")
    else:
        raise InputError(
            f"boundary must be a GeoDataFrame, GeoSeries or shapely geometry, not "
            f"{type(boundary).__name__}"
        )
    series = series[series.notna() & ~series.is_empty]
    if series.empty:
        raise InputError("the boundary has no geometry; give the study-area polygon(s)")
    if series.crs.is_geographic:
        series = series.to_crs(series.estimate_utm_crs())
    geom = shapely.union_all(series.to_numpy())
    shapely.prepare(geom)
    return geom, series.crs


def distance_outside_m(boundary: Any, lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
    """Metres from each WGS84 point to ``boundary`` (see :func:`_boundary_metric`): 0 inside,
    NaN for points without finite coordinates."""
    geom, metric = _boundary_metric(boundary)
    lon, lat = np.asarray(lon, dtype=float), np.asarray(lat, dtype=float)
    dist = np.full(len(lon), np.nan)
    ok = np.isfinite(lon) & np.isfinite(lat)
    x, y = pyproj.Transformer.from_crs("EPSG:4326", metric, always_xy=True).transform(
        lon[ok], lat[ok]
    )
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    inside = shapely.contains_xy(geom, x, y)
    part = np.zeros(len(x))
    if (~inside).any():
        part[~inside] = shapely.distance(geom, shapely.points(x[~inside], y[~inside]))
    dist[ok] = part
    return dist


def _check_boundary(rows: list[_Row], boundary: Any, tolerance_m: float) -> None:
    if boundary is None or not rows:
        return
    dist = distance_outside_m(boundary, [r.lon for r in rows], [r.lat for r in rows])
    for row, d in zip(rows, dist, strict=True):
        if d > tolerance_m:
            label = (row.label_zh, row.label_en)
            row.reject = _Reject("outside_area", *outside_area(label, d, tolerance_m))


def _capacities(
    rows: list[_Row], records: _Records, cols: dict[str, str], issues: list[tuple]
) -> dict[str, np.ndarray]:
    """Beds, doctors and nurses of the used rows; bad cells → NaN and one warning per column
    and problem (see :func:`capacity_value`).

    Each bad cell is appended to ``issues`` as a row of :data:`CAPACITY_ISSUE_COLUMNS`.
    """
    out: dict[str, np.ndarray] = {}
    for canonical in CAPACITY_FIELDS:
        values = np.full(len(rows), np.nan)
        out[canonical] = values
        if canonical not in cols:
            continue
        j = records.columns.index(cols[canonical])
        bad: dict[str, list[tuple[int, str]]] = {}
        for k, row in enumerate(rows):
            text = records.values[row.index][j]
            values[k], problem = capacity_value(text, canonical)
            if problem is not None:
                bad.setdefault(problem, []).append((row.source_row, text))
                issues.append(
                    (
                        row.source_row,
                        row.facility_id,
                        row.name,
                        canonical,
                        cols[canonical],
                        text,
                        problem,
                    )
                )
        for problem, cells in bad.items():
            shown = ", ".join(f"{r} ({t!r})" for r, t in cells[:_WARN_ROWS_SHOWN])
            more = (
                f" and {len(cells) - _WARN_ROWS_SHOWN} more"
                if len(cells) > _WARN_ROWS_SHOWN
                else ""
            )
            unit = "feature" if records.kind == "feature" else "row"
            zh, en = capacity_problem_text(canonical, problem)
            warnings.warn(
                f"{records.source}: {cols[canonical]!r} ({canonical}) in {unit}(s) {shown}{more} "
                f"is {en}; read as missing (NaN). 该列这些单元格{zh}，按缺失处理；"
                + ("请改为数字。" if problem == "not_number" else "请核对。"),
                DataQualityWarning,
                stacklevel=5,  # the caller of read_facilities
            )
    return out


_NOTE_CELL = re.compile(
    r"^[*※#]*(?:(?:注|备注|附注|说明|填表说明|数据来源|资料来源|来源|填表人|填报人|制表人|"
    r"审核人|负责人|联系人|联系电话|填报单位|制表单位|填报日期|制表日期|统计时间|统计日期|"
    r"截止日期|截至日期|notes?|sources?)\d*:|注\d+[、.])",
    re.IGNORECASE,
)
_HEADING_CELL = re.compile(
    r"^(?:[一二三四五六七八九十]+[、.]|\([一二三四五六七八九十]+\)|"
    r"第[一二三四五六七八九十\d]+(?:部分|类|章|节))"
)
_TOTAL_CELL = re.compile(
    r"^(?:合计|总计|小计|共计|总合计|total|grandtotal|subtotal|sum)(?:[(:].*)?$", re.IGNORECASE
)


def _notes_or_total(
    cells: Sequence[str], get: Callable[[str], str], cols: dict[str, str], source_row: int
) -> _Reject | None:
    """The ``notes_row`` / ``total_row`` reject of a table row that is no record, or None.

    A row is a note when its first non-empty cell starts like ``注：``, ``数据来源：``,
    ``填表人：`` or ``注1.``, or is a lone section heading (``一、乡镇卫生院``); a total row when
    that cell is ``合计``/``总计``/``小计``/``共计``. Rows with a number in a coordinate column
    are never either.
    """
    first = next((c.strip() for c in cells if c.strip()), "")
    if not first:
        return None
    coordinate_cells = [get(c) for c in ("lon", "lat", "lonlat") if c in cols]
    if any(re.search(r"\d", unicodedata.normalize("NFKC", t)) for t in coordinate_cells):
        return None
    compact = re.sub(r"\s+", "", unicodedata.normalize("NFKC", first))
    shown = first if len(first) <= 30 else first[:30] + "…"
    zh, en = f"第 {source_row} 行", f"row {source_row}"
    if _TOTAL_CELL.match(compact):
        return _Reject(
            "total_row",
            f"{zh}：“{shown}”是合计行，不是设施记录，未读入；无需处理，也可从表中删除该行。",
            f"{en}: {shown!r} is a total row, not a facility record; left out (nothing to fix; "
            "you may delete the row).",
        )
    alone = sum(1 for c in cells if c.strip()) == 1
    if _NOTE_CELL.match(compact) or (alone and _HEADING_CELL.match(compact)):
        return _Reject(
            "notes_row",
            f"{zh}：“{shown}”是注释或标题行，不是设施记录，未读入；无需处理，也可从表中删除该行。",
            f"{en}: {shown!r} is a note or heading, not a facility record; left out (nothing to "
            "fix; you may delete the row).",
        )
    return None


def _start_row(
    records: _Records,
    index: int,
    cols: dict[str, str],
    positions: dict[str, int],
    default_crs: _Crs,
    categories: Mapping[str, str],
) -> _Row:
    """A record's id and name, then the name, category and coordinate checks."""
    cells = records.values[index]
    source_row = records.rows[index]

    def get(canonical: str) -> str:
        j = positions.get(canonical)
        return "" if j is None else cells[j]

    if records.kind == "row":
        skipped = _notes_or_total(cells, get, cols, source_row)
        if skipped is not None:
            label_zh, label_en = record_label("row", source_row, "")
            row = _Row(index, source_row, label_zh, label_en, f"row-{source_row}", "", skipped)
            return row
    name = get("name").strip()
    fid = get("facility_id").strip()
    if fid and get("osm_type").strip() and cols["facility_id"].casefold() == "osm_id":
        fid = f"{get('osm_type').strip()}/{fid}"  # OSM ids are unique per element type
    label_zh, label_en = record_label(records.kind, source_row, name)
    row = _Row(index, source_row, label_zh, label_en, fid or f"row-{source_row}", name)
    if not name:
        row.reject = _Reject(
            "missing_name",
            f"{label_zh}：名称为空；请在“{cols['name']}”列填写设施名称。",
            f"{label_en}: the name is empty; fill in the {cols['name']!r} column.",
        )
        return row
    category_text = get("category").strip()
    key = category_of(category_text, categories)
    if key is None:
        row.reject = _reject_category(row, category_text, cols["category"])
        return row
    row.category = key
    point = records.xy[index] if records.xy is not None else None
    if point is not None:
        row.x, row.y = point
        row.crs = records.crs
    elif records.xy is not None and not (("lon" in cols and "lat" in cols) or "lonlat" in cols):
        row.reject = _Reject(
            "missing_coordinates",
            f"{label_zh}：该要素没有几何位置；请为它加上点位。",
            f"{label_en}: the feature has no geometry; give it a point location.",
        )
    else:  # a table, or a feature without geometry but with coordinate columns
        row.reject = _parse_table_coordinates(row, get, cols, default_crs)
    return row


def _used_frame(
    rows: list[_Row], records: _Records, cols: dict[str, str]
) -> tuple[gpd.GeoDataFrame, pd.DataFrame]:
    """The ``used`` GeoDataFrame of the accepted rows, and their capacity issues."""
    issues: list[tuple] = []
    capacity = _capacities(rows, records, cols, issues)
    attributes = {
        name: _attribute_values(rows, records, cols, name, parse)
        for name, parse in (("grade", parse_grade), ("ownership", parse_ownership))
    }
    if "address" in cols:
        j = records.columns.index(cols["address"])
        address = [records.values[r.index][j].strip() or None for r in rows]
    else:
        address = [None] * len(rows)
    used = gpd.GeoDataFrame(
        {
            "facility_id": pd.Series([r.facility_id for r in rows], dtype="str"),
            "name": pd.Series([r.name for r in rows], dtype="str"),
            "category": pd.Series([r.category for r in rows], dtype="str"),
            "tier": pd.Series([CATEGORIES[r.category].tier for r in rows], dtype="str"),
            "address": pd.Series(address, dtype="str"),
            **capacity,
            **attributes,
            "coord_source": pd.Series([r.crs.label for r in rows], dtype="str"),
            "source_row": np.array([r.source_row for r in rows], dtype=np.int64),
        },
        geometry=gpd.GeoSeries(
            shapely.points([r.lon for r in rows], [r.lat for r in rows]), crs="EPSG:4326"
        ),
    )
    if issues:
        frame = pd.DataFrame(issues, columns=list(CAPACITY_ISSUE_COLUMNS))
        frame = frame.astype({c: "str" for c in CAPACITY_ISSUE_COLUMNS[1:]})
        frame = frame.astype({"source_row": "int64"})
        frame = frame.sort_values("source_row", kind="stable", ignore_index=True)
    else:
        frame = _no_capacity_issues()
    return used[list(USED_COLUMNS)], frame


def _attribute_values(
    rows: list[_Row], records: _Records, cols: dict[str, str], name: str, parse
) -> pd.Series:
    """The ``grade`` or ``ownership`` of the used rows, normalised by ``parse``; None where the
    file has no such column or the cell is blank. Cells ``parse`` does not recognise are read
    as None too, and named in one warning (a rule on them then says "incomplete data")."""
    if name not in cols:
        return pd.Series([None] * len(rows), dtype="object")
    j = records.columns.index(cols[name])
    cells = [records.values[r.index][j] for r in rows]
    values = [parse(text) for text in cells]
    bad = [
        (row.source_row, text)
        for row, text, value in zip(rows, cells, values, strict=True)
        if value is None and str(text).strip() not in ("", "nan", "None")
    ]
    if bad:
        shown = ", ".join(f"{r} ({t!r})" for r, t in bad[:_WARN_ROWS_SHOWN])
        more = f" and {len(bad) - _WARN_ROWS_SHOWN} more" if len(bad) > _WARN_ROWS_SHOWN else ""
        accepted = "三级甲等, 三级, 二级乙等, 一级, 未定级 …" if name == "grade" else "公立 / 民营"
        unit = "feature" if records.kind == "feature" else "row"
        warnings.warn(
            f"{records.source}: {cols[name]!r} ({name}) in {unit}(s) {shown}{more} is not "
            f"recognised ({accepted}); read as unknown. 该列这些单元格无法识别，按未知处理。",
            DataQualityWarning,
            stacklevel=5,  # the caller of read_facilities
        )
    return pd.Series(values, dtype="object")


def _rejects_frame(rows: list[_Row], records: _Records) -> pd.DataFrame:
    """The ``rejects`` DataFrame: reason and messages, then the input's cells as text."""
    data: dict[str, Any] = {
        "source_row": np.array([r.source_row for r in rows], dtype=np.int64),
        "reason_code": [r.reject.code for r in rows],
        "message_zh": [r.reject.zh for r in rows],
        "message_en": [r.reject.en for r in rows],
        "facility_id": [r.facility_id for r in rows],
        "name": [r.name for r in rows],
    }
    for j, column in enumerate(records.columns):
        key = f"input_{column}" if column in REJECT_COLUMNS else column
        data[key] = [records.values[r.index][j] for r in rows]
    if records.geoms is not None:  # the geometry as text (only rejects need it)
        geoms = records.geoms[[r.index for r in rows]]
        wkt = shapely.to_wkt(geoms, rounding_precision=7)
        data["geometry"] = np.where(shapely.is_missing(geoms) | shapely.is_empty(geoms), "", wkt)
    rejects = pd.DataFrame(data)
    text_columns = [c for c in rejects.columns if c != "source_row"]
    return rejects.astype(dict.fromkeys(text_columns, "str"))


def _build(
    records: _Records,
    declared: _Crs | None,
    boundary: Any,
    tolerance_m: float,
    *,
    source: str,
    mapping: Mapping[str, str] | None = None,
    categories: Mapping[str, str] | None = None,
) -> FacilityTable:
    """Run every check on the records and assemble the :class:`FacilityTable`.

    ``mapping`` is the column mapping (:func:`map_columns`), ``categories`` the category
    mapping keyed by normalised text (:func:`_checked_categories`).
    """
    absent = _absent_headers(mapping, records.columns)
    if absent:
        raise InputError(
            f"{records.source}: the column mapping names headers the file does not have: "
            + ", ".join(f"{c} = {h!r}" for c, h in absent.items())
            + f"; its headers are {', '.join(map(repr, records.columns))}"
        )
    cols = map_columns(records.columns, mapping)
    default_crs = declared or header_crs(cols.get("lon")) or _WGS84
    positions = {canonical: records.columns.index(h) for canonical, h in cols.items()}
    rows = [
        _start_row(records, i, cols, positions, default_crs, categories or {})
        for i in range(len(records.values))
    ]
    _convert([r for r in rows if r.reject is None], cols)
    _check_duplicates(rows, records.kind)
    _check_boundary([r for r in rows if r.reject is None], boundary, tolerance_m)

    used, capacity_issues = _used_frame([r for r in rows if r.reject is None], records, cols)
    rejects = _rejects_frame([r for r in rows if r.reject is not None], records)
    table = FacilityTable(
        used, rejects, len(rows), source, capacity_issues, mapping, categories or {}
    )
    if len(rejects):
        logger.warning(
            "%s: %d of %d facility records rejected (%s); see FacilityTable.rejects",
            records.source,
            len(rejects),
            len(rows),
            ", ".join(f"{k}: {v}" for k, v in table.reason_counts().items()),
        )
    logger.info("%s: %d facility records read, %d used", records.source, len(rows), len(used))
    return table
