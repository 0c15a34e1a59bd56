"""Atomic output writing (every file appears whole or not at all), spreadsheets that cannot run
formulas, and reading TOML and XLSX inputs (streamed, within a table's width).

Every CSV and XLSX geoplan writes goes through :func:`write_csv` / :func:`write_xlsx`. Text
cells that a spreadsheet would read as a formula (starting with ``=``, ``+``, ``-``, ``@``, a
tab or a carriage return) get a leading ``'``, as OWASP recommends for CSV injection; numbers
stay numbers (a negative number too). CSV text cells are quoted (a ``;`` in a name cannot start
a new cell where Excel splits on it) and XLSX text cells are always stored as text, never as
formulas.
"""

from __future__ import annotations

import contextlib
import csv
import datetime as dt
import json
import math
import numbers
import os
import re
import tempfile
import tomllib
from collections.abc import Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .errors import ConfigError, InputError, OutputError

__all__ = [
    "FORMULA_PREFIXES",
    "TABLE_SUFFIXES",
    "XLSX_HEAD_ROWS",
    "XLSX_MAX_ROWS",
    "XLSX_SCAN_COLUMNS",
    "atomic_path",
    "cell_text",
    "json_safe",
    "neutralise",
    "open_workbook",
    "read_toml",
    "read_xlsx_table",
    "safe_table",
    "sheet_head",
    "sheet_rows",
    "write_csv",
    "write_json",
    "write_table",
    "write_text",
    "write_xlsx",
]

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
"""Text starting with one of these is a formula to a spreadsheet (OWASP CSV injection)."""
XLSX_MAX_ROWS = 1_048_576
"""Rows of one XLSX sheet, the header included (Excel's limit)."""


@contextlib.contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; move it into place only if the block succeeds."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=path.suffix, dir=path.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    tmp_path.unlink()  # writers (GDAL, openpyxl) want to create the file themselves
    try:
        yield tmp_path
        os.replace(tmp_path, path)
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


def write_text(path: str | Path, text: str, *, encoding: str = "utf-8") -> None:
    """Write ``text`` atomically."""
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding=encoding)


def neutralise(value: object) -> object:
    """``value`` with a leading ``'`` if it is text a spreadsheet would run as a formula."""
    if isinstance(value, str) and value.startswith(FORMULA_PREFIXES):
        return "'" + value
    return value


def safe_table(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``frame`` whose text cells and column names are neutralised.

    Only text changes: numeric, boolean and date columns are left as they are, so a negative
    number stays a number.
    """
    out = frame.copy(deep=False)
    out.columns = [neutralise(str(c)) if not isinstance(c, str) else neutralise(c) for c in out]
    for k in range(out.shape[1]):
        column = out.iloc[:, k]
        if isinstance(column.dtype, pd.CategoricalDtype):
            column = column.astype(object)
        if not (pd.api.types.is_object_dtype(column) or pd.api.types.is_string_dtype(column)):
            continue
        try:  # non-text values (numbers in an object column) are left alone: na=False
            risky = column.str.startswith(FORMULA_PREFIXES, na=False).astype(bool)
        except AttributeError:  # no text at all in the column
            continue
        if risky.any():
            column = column.copy()
            column[risky] = "'" + column[risky]
            out.isetitem(k, column)
    return out


def write_csv(frame: pd.DataFrame, path: str | Path) -> None:
    """Write a table as CSV in UTF-8 with BOM (so Excel shows Chinese), atomically and safely.

    Text cells and column names are neutralised (:func:`safe_table`) and quoted; numbers are
    written as numbers. Tables of text, whole-number, boolean and float64 columns are formatted
    column by column through Arrow (:func:`_csv_arrow`, the same bytes, about three times as fast
    as pandas); any other column type goes through pandas' writer (:func:`_csv_pandas`).
    """
    with atomic_path(path) as tmp:
        if not _csv_arrow(frame, tmp):
            _csv_pandas(frame, tmp)


def _csv_pandas(frame: pd.DataFrame, path: Path) -> None:
    """The reference writer: pandas with every non-number quoted, UTF-8 with BOM."""
    safe_table(frame).to_csv(path, index=False, encoding="utf-8-sig", quoting=csv.QUOTE_NONNUMERIC)


CSV_CHUNK_ROWS = 200_000
"""Rows formatted at once by :func:`_csv_arrow` (bounds its memory)."""
_FORMULA_START = "^[" + re.escape("".join(FORMULA_PREFIXES)) + "]"


def _csv_arrow(frame: pd.DataFrame, path: Path) -> bool:
    """Write ``frame`` as :func:`_csv_pandas` would, byte for byte, formatting through Arrow.

    What pandas (``csv.QUOTE_NONNUMERIC``) writes, and this reproduces: text quoted with
    ``"`` doubled and neutralised; a missing text or float value as ``""``; floats as Python's
    ``repr`` (``1.0``, ``1e-05``, ``inf``); integers as digits; booleans as ``True``/``False``;
    rows ending in ``\n``. (``pyarrow.csv.write_csv`` differs in each of these: ``1``,
    ``0.00001``, ``true``, an unquoted empty cell.) Returns False, writing nothing, when a
    column is of another type (dates, nullable integers, mixed objects): pandas writes those.
    """
    import pyarrow as pa

    if frame.shape[1] == 0 or frame.columns.duplicated().any():
        return False
    kinds = []
    for k in range(frame.shape[1]):
        kind = _arrow_kind(frame.iloc[:, k])
        if kind is None:
            return False
        kinds.append(kind)
    header = safe_table(frame.iloc[:0]).to_csv(index=False, quoting=csv.QUOTE_NONNUMERIC)
    with open(path, "wb") as out:
        out.write(("\ufeff" + header).encode("utf-8"))
        with ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
            for start in range(0, len(frame), CSV_CHUNK_ROWS):
                part = frame.iloc[start : start + CSV_CHUNK_ROWS]
                columns = [part.iloc[:, k] for k in range(part.shape[1])]
                cells = list(pool.map(_arrow_cells, columns, kinds))  # Arrow frees the GIL
                out.write(_joined_rows(cells, pa))
    return True


def _arrow_kind(column: pd.Series) -> str | None:
    """How :func:`_csv_arrow` formats a column ("float", "int", "bool", "text"), or None."""
    dtype = column.dtype
    if isinstance(dtype, pd.CategoricalDtype):
        return "text" if _all_text(column.cat.categories) else None
    if dtype == np.float64:
        return "float"
    if dtype.kind in "iu" and isinstance(dtype, np.dtype):
        return "int"
    if dtype == np.bool_:
        return "bool"
    if pd.api.types.is_object_dtype(dtype) or pd.api.types.is_string_dtype(dtype):
        return "text" if _all_text(column) else None
    return None


def _all_text(values) -> bool:
    """Whether every value is a ``str`` or missing (None, NaN, pd.NA)."""
    import pyarrow as pa

    if isinstance(values.dtype, pd.StringDtype):
        return True
    try:
        kind = _arrow_text(values, typed=False).type
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        return False
    return pa.types.is_string(kind) or pa.types.is_large_string(kind) or pa.types.is_null(kind)


def _arrow_text(values, *, typed: bool = True):
    """A text column (object, pandas string or categorical of text) as an Arrow array;
    missing values are nulls. ``typed``: as large strings (else Arrow infers the type)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if isinstance(values.dtype, pd.CategoricalDtype):
        values = values.astype(object)
    if isinstance(values.dtype, pd.StringDtype):
        array = pa.array(values, from_pandas=True)  # Arrow-backed: no copy
    else:
        array = pa.array(np.asarray(values, dtype=object), from_pandas=True)
    if isinstance(array, pa.ChunkedArray):
        array = array.combine_chunks()
    return pc.cast(array, pa.large_string()) if typed else array


def _arrow_cells(column: pd.Series, kind: str):
    """The CSV text of each cell of ``column`` (an Arrow string array without nulls)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if kind == "int":
        return pc.cast(pa.array(column.to_numpy()), pa.large_string())
    if kind == "bool":
        return pc.if_else(pa.array(column.to_numpy()), _text("True"), _text("False"))
    if kind == "float":
        return _float_cells(column.to_numpy(), pa, pc)
    text = _arrow_text(column)
    risky = pc.fill_null(pc.match_substring_regex(text, _FORMULA_START), False)
    if pc.any(risky).as_py():
        text = pc.if_else(risky, pc.binary_join_element_wise(_text("'"), text, _text("")), text)
    if pc.any(pc.match_substring(text, '"')).as_py():
        text = pc.replace_substring(text, '"', '""')
    return pc.fill_null(
        pc.binary_join_element_wise(_text('"'), text, _text('"'), _text("")), _text('""')
    )


def _float_cells(values: np.ndarray, pa, pc):
    """Floats as Python's ``repr`` writes them; a NaN as ``""`` (pandas' quoted empty cell).

    Arrow's shortest round-trip digits are Python's; only the notation can differ: Arrow
    leaves out ``.0`` of whole numbers (added here) and switches to an exponent at other
    magnitudes than Python (which does below 1e-4 and from 1e16), so the values either writes
    with an exponent are written by ``repr`` itself.
    """
    text = pc.cast(pa.array(values), pa.large_string())
    finite = np.isfinite(values)
    size = np.abs(np.where(finite, values, 1.0))
    exponent = pc.match_substring(text, "e").to_numpy(zero_copy_only=False)
    odd = finite & (((size < 1e-4) & (size != 0)) | (size >= 1e16) | exponent)
    if odd.any():
        where = np.flatnonzero(odd)
        fixed = np.array(text.to_numpy(zero_copy_only=False), dtype=object)
        fixed[where] = [repr(float(v)) for v in values[where]]
        text = pa.array(fixed, type=pa.large_string())
    whole = finite & ~odd & (values == np.trunc(np.where(finite, values, 0.0)))
    if whole.any():  # written by Arrow without a decimal point
        joined = pc.binary_join_element_wise(text, _text(".0"), _text(""))
        text = pc.if_else(pa.array(whole), joined, text)
    missing = np.isnan(values)
    return pc.if_else(pa.array(missing), _text('""'), text) if missing.any() else text


def _joined_rows(cells: list, pa) -> memoryview:
    """The rows ``cell,cell,…\n`` of columns of cell text, as UTF-8 bytes."""
    import pyarrow.compute as pc

    last = pc.binary_join_element_wise(cells[-1], _text("\n"), _text(""))
    rows = pc.binary_join_element_wise(*cells[:-1], last, _text(",")) if len(cells) > 1 else last
    return _buffer_text(rows)


def _buffer_text(strings) -> memoryview:
    """The text of an Arrow large-string array without nulls, end to end, as UTF-8 bytes
    (it lies in the array's data buffer, between the first and last offsets)."""
    if len(strings) == 0:
        return memoryview(b"")
    offsets = np.frombuffer(strings.buffers()[1], dtype=np.int64)[strings.offset :]
    return memoryview(strings.buffers()[2])[offsets[0] : offsets[len(strings)]]


def _text(value: str):
    """``value`` as an Arrow large-string scalar (the type of every cell array)."""
    import pyarrow as pa

    return pa.scalar(value, pa.large_string())


def _xlsx_value(value: object) -> tuple[object, bool]:
    """``(cell value, is text)`` for openpyxl: numbers as numbers, missing values empty."""
    if value is None or value is pd.NaT:
        return None, False
    if isinstance(value, bool | np.bool_):
        return bool(value), False
    if isinstance(value, numbers.Integral):
        return int(value), False
    if isinstance(value, numbers.Real):
        number = float(value)
        if math.isnan(number):
            return None, False
        if math.isinf(number):  # no infinity in a spreadsheet: text, neutralised like any
            return neutralise("inf" if number > 0 else "-inf"), True
        return number, False
    if isinstance(value, pd.Timestamp):
        value = value.to_pydatetime()
    if isinstance(value, dt.datetime | dt.date) and getattr(value, "tzinfo", None) is None:
        return value, False
    return neutralise(str(value)), True


def write_xlsx(sheets: Mapping[str, pd.DataFrame], path: str | Path) -> None:
    """Write tables as the sheets of one XLSX workbook, atomically; no cell is a formula.

    Text cells (and column names) are neutralised like :func:`write_csv` and stored with the
    cell type "string", so even a value that starts with ``=`` stays text.

    Raises
    ------
    OutputError
        A table has more rows than an XLSX sheet holds (use CSV or Parquet for it).
    """
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell

    for name, frame in sheets.items():
        if len(frame) + 1 > XLSX_MAX_ROWS:
            raise OutputError(
                f"{Path(path).name}: sheet {name!r} has {len(frame):,} rows, more than an XLSX "
                f"sheet holds ({XLSX_MAX_ROWS - 1:,}); write .csv or .parquet instead"
            )
    fast_rows = [_sheet_rows_xml(frame) for frame in sheets.values()]
    fast = all(rows is not None for rows in fast_rows)
    book = Workbook(write_only=True)
    for name, frame in sheets.items():
        sheet = book.create_sheet(title=name)

        def cell(value: object, sheet=sheet) -> object:
            value, text = _xlsx_value(value)
            if not text:
                return value
            out = WriteOnlyCell(sheet, value=value)
            out.data_type = "s"  # never "f" (formula), whatever the text starts with
            return out

        sheet.append([cell(str(c)) for c in frame.columns])
        if not fast:
            for row in frame.itertuples(index=False, name=None):
                sheet.append([cell(v) for v in row])
    with atomic_path(path) as tmp:
        book.save(tmp)
        if fast:
            _splice_rows(tmp, fast_rows)


_XML_ESCAPES = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;"})
_XLSX_ILLEGAL = re.compile(r"[\000-\010]|[\013-\014]|[\016-\037]")
"""Characters openpyxl refuses in a cell (it raises; the slow path keeps that error)."""
XLSX_MAX_TEXT = 32_767
"""Longest text of an XLSX cell."""


def _sheet_rows_xml(frame: pd.DataFrame) -> bytes | None:
    """The ``<row>`` elements of a sheet's data rows (from row 2) as UTF-8, as openpyxl's
    write-only mode writes them, byte for byte, many times faster; None when a cell needs
    openpyxl itself (a date, text it refuses or truncates).

    Each cell is decided by :func:`_xlsx_value` as before: missing values are left out,
    text is an inline string (neutralised; ``xml:space="preserve"`` when it has outer
    spaces), numbers and booleans are written as ``"%.16g"`` (openpyxl's ``safe_string``).
    Built column by column through Arrow: numbers formatted as arrays, each distinct text
    escaped once, the rows joined without a Python object per cell.
    """
    import pyarrow as pa
    import pyarrow.compute as pc
    from openpyxl.utils import get_column_letter

    n = len(frame)
    if n == 0:
        return b""
    numbers = pc.cast(pa.array(np.arange(2, n + 2)), pa.large_string())
    columns = []
    for k in range(frame.shape[1]):
        letter = get_column_letter(k + 1)
        column = frame.iloc[:, k]
        dtype = column.dtype
        if isinstance(dtype, np.dtype) and dtype.kind == "f":
            cells = _float_sheet_cells(letter, numbers, column.to_numpy(dtype=float))
        elif isinstance(dtype, np.dtype) and dtype.kind in "iu":
            values = column.to_numpy()
            cells = _sheet_cells(letter, numbers, "n", _g16_int(values))
        elif isinstance(dtype, np.dtype) and dtype.kind == "b":
            digit = pc.if_else(pa.array(column.to_numpy()), _text("1"), _text("0"))
            cells = _sheet_cells(letter, numbers, "b", digit)
        elif _arrow_kind(column) == "text":  # text (or missing) only: each distinct once
            cells = _text_sheet_cells(letter, numbers, column)
        else:
            cells = _object_sheet_cells(letter, column)
        if cells is None:
            return None
        columns.append(cells)
    opened = pc.binary_join_element_wise(_text('<row r="'), numbers, _text('">'), _text(""))
    return bytes(
        _buffer_text(pc.binary_join_element_wise(opened, *columns, _text("</row>"), _text("")))
    )


def _sheet_cells(letter: str, numbers, kind: str, values):
    """Cells ``<c r="A2" t="n"><v>…</v></c>`` of one column (``numbers``: the row numbers)."""
    import pyarrow.compute as pc

    return pc.binary_join_element_wise(
        _text(f'<c r="{letter}'),
        numbers,
        _text(f'" t="{kind}"><v>'),
        values,
        _text("</v></c>"),
        _text(""),
    )


def _float_sheet_cells(letter: str, numbers, values: np.ndarray):
    """A float column's cells: finite values as numbers, NaN left out, infinities as text."""
    import pyarrow as pa
    import pyarrow.compute as pc

    finite = np.isfinite(values)
    cells = _sheet_cells(letter, numbers, "n", _g16_float(np.where(finite, values, 0.0)))
    if finite.all():
        return cells
    cells = pc.if_else(pa.array(finite), cells, _text(""))
    infinite = np.flatnonzero(np.isinf(values))
    if infinite.size:  # as _xlsx_value: text, neutralised
        texts = [
            _text_cell(letter, int(i) + 2, neutralise("inf" if values[i] > 0 else "-inf"))
            for i in infinite
        ]
        cells = _replaced(cells, infinite, texts)
    return cells


def _g16_float(values: np.ndarray):
    """Finite floats as ``"%.16g"`` writes them (Arrow strings).

    Arrow writes the shortest digits that read back (``repr``'s) in plain notation where
    ``%.16g`` does too, without ``.0``. ``%.16g`` rounds the exact binary value to 16
    digits instead: the same digits when the shortest ones are 16, and when they are fewer
    and the value lies closer to them than half a unit of the 16th digit, which holds
    whenever half its spacing (``np.spacing``) does. Every other value (an exponent in
    either notation, 17 shortest digits, a spacing that does not tell, a power of two whose
    spacing is uneven) is formatted by Python itself.
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    text = pc.cast(pa.array(values), pa.large_string())
    size = np.abs(values)
    exponent = pc.match_substring(text, "e").to_numpy(zero_copy_only=False)
    odd = ((size < 1e-4) & (size != 0)) | (size >= 1e16) | exponent
    digits = pc.utf8_length(pc.replace_substring(pc.utf8_ltrim(text, "-0."), ".", ""))
    digits = digits.to_numpy(zero_copy_only=False)
    odd |= digits > 16
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        # the decimal exponent, one too small near a power of ten (then more go to Python)
        low = np.floor(np.log10(np.where(size > 0, size, 1.0)) - 1e-9)
        unclear = np.spacing(size) >= 10.0 ** (low - 15)
    odd |= (digits < 16) & (size != 0) & (unclear | (np.frexp(size)[0] == 0.5))
    return _python_g16(text, values, odd)


def _g16_int(values: np.ndarray):
    """Integers as ``"%.16g"`` writes them (as a float: digits up to 2**53, else Python's)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    text = pc.cast(pa.array(values), pa.large_string())
    odd = (values > 2**53) | (values < -(2**53)) if values.dtype.kind == "i" else values > 2**53
    return _python_g16(text, values, odd)


def _python_g16(text, values: np.ndarray, odd: np.ndarray):
    """``text`` (Arrow strings of ``values``) with the values where ``odd`` is true formatted
    by Python's ``"%.16g"`` instead."""
    if not odd.any():
        return text
    where = np.flatnonzero(odd)
    return _replaced(text, where, [format(v, ".16g") for v in values[where].tolist()])


def _replaced(strings, where: np.ndarray, texts: list[str]):
    """Arrow large strings ``strings`` with the elements at the indices ``where`` replaced by
    ``texts``."""
    import pyarrow as pa

    fixed = np.array(strings.to_numpy(zero_copy_only=False), dtype=object)
    fixed[where] = texts
    return pa.array(fixed, type=pa.large_string())


def _text_sheet_cells(letter: str, numbers, column: pd.Series):
    """The cells of a column of text, each distinct text escaped once; None if a text needs
    openpyxl (too long, or a character it refuses). A missing value (None, NaN) has no
    cell; ``pd.NA`` is the text ``<NA>``, as :func:`_xlsx_value` writes it."""
    import pyarrow as pa
    import pyarrow.compute as pc

    encoded = pc.dictionary_encode(_arrow_text(column))
    distinct = encoded.dictionary
    n_distinct = len(distinct)
    # the end of each distinct text's cell: plain texts joined here, the others by Python
    ends = pc.binary_join_element_wise(
        _text("><is><t>"), distinct, _text("</t></is></c>"), _text("")
    )
    plain = pc.and_(
        pc.match_substring_regex(distinct, _PLAIN_TEXT),
        pc.less_equal(pc.utf8_length(distinct), XLSX_MAX_TEXT),
    )
    ends = ends.to_numpy(zero_copy_only=False)
    others = np.flatnonzero(~plain.to_numpy(zero_copy_only=False))
    for i, raw in zip(others, distinct.take(others).to_pylist(), strict=True):
        value = neutralise(raw)
        if len(value) > XLSX_MAX_TEXT or _XLSX_ILLEGAL.search(value):
            return None
        ends[i] = _text_cell("", 0, value).partition('t="inlineStr"')[2]
    na_end = _text_cell("", 0, "<NA>").partition('t="inlineStr"')[2]
    ends = [*ends, na_end, ""]  # then no cell
    codes = encoded.indices.to_numpy(zero_copy_only=False)
    missing = np.flatnonzero(encoded.indices.is_null().to_numpy(zero_copy_only=False))
    if missing.size:
        codes = np.where(np.isnan(codes), 0, codes).astype(np.int64)
        if isinstance(column.dtype, pd.StringDtype):
            na = np.full(missing.size, column.dtype.na_value is pd.NA)
        elif isinstance(column.dtype, pd.CategoricalDtype):
            na = np.zeros(missing.size, dtype=bool)  # NaN as an object
        else:
            na = np.array([v is pd.NA for v in column.to_numpy()[missing]], dtype=bool)
        codes[missing] = np.where(na, n_distinct, n_distinct + 1)
    end = pa.array(ends, type=pa.large_string()).take(pa.array(codes))
    cells = pc.binary_join_element_wise(
        _text(f'<c r="{letter}'), numbers, _text('" t="inlineStr"'), end, _text("")
    )
    if not missing.size:
        return cells
    return pc.if_else(pa.array(codes == n_distinct + 1), _text(""), cells)


def _object_sheet_cells(letter: str, column: pd.Series):
    """The cells of a column of mixed values, one by one as :func:`_xlsx_value` decides;
    None if a cell needs openpyxl (a date, text it refuses or truncates)."""
    import pyarrow as pa

    cells = []
    for r, raw in enumerate(column.tolist(), start=2):
        value, text = _xlsx_value(raw)
        if value is None:
            cells.append("")
        elif text:
            if len(value) > XLSX_MAX_TEXT or _XLSX_ILLEGAL.search(value):
                return None
            cells.append(_text_cell(letter, r, value))
        elif isinstance(value, bool):
            cells.append(f'<c r="{letter}{r}" t="b"><v>{value:d}</v></c>')
        elif isinstance(value, int | float):
            cells.append(f'<c r="{letter}{r}" t="n"><v>{value:.16g}</v></c>')
        else:  # dates: openpyxl's own conversion
            return None
    return pa.array(cells, type=pa.large_string())


_SPACES = (
    r"\t\n\x0b\x0c\r\x1c-\x1f \x85\xa0\x{1680}\x{2000}-\x{200a}\x{2028}\x{2029}\x{202f}"
    r"\x{205f}\x{3000}"
)
"""Python's whitespace (``str.isspace``), as a character class of Arrow's regular expressions."""
_ILLEGAL = r"\x00-\x08\x0b\x0c\x0e-\x1f"
_PLAIN_TEXT = f"^[^{_SPACES}{_ILLEGAL}&<>=+\\-@]([^{_ILLEGAL}&<>]*[^{_SPACES}{_ILLEGAL}&<>])?$"
"""Text an inline-string cell holds as it is: not empty, nothing to escape or neutralise, no
outer whitespace (so no ``xml:space``), no character openpyxl refuses."""


def _text_cell(letter: str, row: int, value: str) -> str:
    """An inline-string cell as openpyxl writes it."""
    if value == "":
        return f'<c r="{letter}{row}" t="inlineStr" />'
    stripped = value.strip()
    space = ' xml:space="preserve"' if stripped and stripped != value else ""
    escaped = value.translate(_XML_ESCAPES)
    return f'<c r="{letter}{row}" t="inlineStr"><is><t{space}>{escaped}</t></is></c>'


def _splice_rows(path: Path, sheets_rows: list[bytes]) -> None:
    """Put each sheet's data rows after its header row in the workbook openpyxl wrote."""
    import zipfile

    rebuilt = path.with_name(path.name + ".rows")
    try:
        with (
            zipfile.ZipFile(path) as source,
            zipfile.ZipFile(rebuilt, "w") as target,
        ):
            for info in source.infolist():
                data = source.read(info.filename)
                match = re.fullmatch(r"xl/worksheets/sheet(\d+)\.xml", info.filename)
                if match:
                    rows = sheets_rows[int(match.group(1)) - 1]
                    head, sep, tail = data.partition(b"</sheetData>")
                    if not sep:
                        raise OutputError(f"{path.name}: unexpected worksheet {info.filename}")
                    data = b"".join((head, rows, sep, tail))
                target.writestr(info, data, compresslevel=1)  # the same content, faster
        os.replace(rebuilt, path)
    finally:
        if rebuilt.exists():
            rebuilt.unlink()


TABLE_SUFFIXES = (".csv", ".xlsx", ".parquet")
"""Table formats a user may name with ``--out``: the extension decides."""


def write_table(frame: pd.DataFrame, path: str | Path, *, sheet: str = "table") -> None:
    """Write a table in the format its extension names (:data:`TABLE_SUFFIXES`), atomically.

    Parquet keeps types and text exactly (it is not opened by spreadsheets as text).
    """
    suffix = Path(path).suffix.lower()
    if suffix == ".csv":
        write_csv(frame, path)
    elif suffix == ".xlsx":
        write_xlsx({sheet: frame}, path)
    elif suffix == ".parquet":
        with atomic_path(path) as tmp:
            frame.to_parquet(tmp, index=False)
    else:
        raise OutputError(
            f"{path}: geoplan writes {', '.join(TABLE_SUFFIXES)} tables, not {suffix or 'none'}"
        )


def json_safe(value: object) -> object:
    """``value`` with NaN/inf as None (and numpy scalars as Python ones), for :func:`write_json`."""
    if isinstance(value, dict):
        return {k: json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, np.generic):
        return json_safe(value.item())
    return value


def write_json(path: str | Path, data: object) -> None:
    """Write ``data`` as indented UTF-8 JSON, atomically; never NaN or Infinity.

    Raises :class:`OutputError` naming the first non-finite number (JSON has none, and
    ``report`` and other readers would fail on ``NaN``/``Infinity``).
    """
    try:
        text = json.dumps(data, ensure_ascii=False, indent=2, allow_nan=False)
    except ValueError:
        where = _non_finite(data, "") or "a value"
        raise OutputError(
            f"{Path(path).name}: {where} is not a finite number; nothing was written "
            "(JSON cannot hold NaN or Infinity) / 数值非有限，未写出"
        ) from None
    write_text(path, text + "\n")


def _non_finite(value: object, where: str) -> str | None:
    """The key path of the first NaN/Infinity in ``value`` (None if there is none)."""
    if isinstance(value, float) and not math.isfinite(value):
        return where or "the value"
    if isinstance(value, dict):
        for key, item in value.items():
            found = _non_finite(item, f"{where}.{key}" if where else str(key))
            if found:
                return found
    if isinstance(value, list | tuple):
        for i, item in enumerate(value):
            found = _non_finite(item, f"{where}[{i}]")
            if found:
                return found
    return None


def read_toml(path: Path) -> dict:
    """The tables of a UTF-8 TOML file; a :class:`ConfigError` naming the file if it is not one."""
    if path.is_dir():
        raise ConfigError(
            f"{path} is a folder; give the .toml file in it / 这是文件夹，请给出 .toml 文件"
        )
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: not a valid UTF-8 TOML file ({exc})") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot be read ({exc.strerror or exc})") from None


XLSX_SCAN_COLUMNS = 1024
"""Columns searched for a worksheet table's last column (a header wider than this is no table)."""
XLSX_HEAD_ROWS = 10
"""Non-blank rows at the top of a worksheet whose width sets the table's width."""


def cell_text(value: Any) -> str:
    """A cell as text: '' for missing, integral floats without '.0', dates in ISO form."""
    if value is None or value is pd.NA or value is pd.NaT:
        return ""
    if isinstance(value, bool | np.bool_):
        return str(bool(value))
    if isinstance(value, float | np.floating):
        value = float(value)
        if math.isnan(value):
            return ""
        if value.is_integer() and abs(value) < 1e15:
            return str(int(value))
        return repr(value)
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    return str(value)


def read_xlsx_table(path: Path) -> pd.DataFrame:
    """The first worksheet of a workbook as text: the first row is the header, blank rows are
    dropped, empty cells are NaN (streamed and bounded as :func:`sheet_rows`)."""
    book = open_workbook(path)
    try:
        rows = sheet_rows(book.worksheets[0], f"{path.name} [{book.worksheets[0].title}]")
    finally:
        book.close()
    rows = [[cell_text(v) or None for v in row] for row in rows if any(not _blank(v) for v in row)]
    if not rows:
        raise InputError(f"{path.name}: the first worksheet is empty")
    header = [cell_text(v) for v in rows[0]]
    return pd.DataFrame(rows[1:], columns=header, dtype=object)


def open_workbook(path: Path):
    """An XLSX workbook opened for streaming (read-only, cached values); close it after use."""
    import openpyxl

    try:
        return openpyxl.load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # zipfile / openpyxl errors of a corrupt or misnamed file
        raise InputError(
            f"{path.name}: cannot be opened as an Excel .xlsx workbook ({exc}); save it again "
            "as .xlsx or CSV"
        ) from exc


def _blank(value) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def sheet_head(ws, rows: int = XLSX_HEAD_ROWS) -> list[tuple]:
    """The first ``rows`` non-blank rows of a worksheet, at most :data:`XLSX_SCAN_COLUMNS` wide.

    Streams: a sheet whose rows touch column XFD (16,384) costs no more than a narrow one.
    """
    head = []
    for row in ws.iter_rows(values_only=True, max_col=XLSX_SCAN_COLUMNS):
        if any(not _blank(v) for v in row):
            head.append(row)
            if len(head) >= rows:
                break
    return head


def sheet_rows(ws, source: str) -> list[tuple]:
    """Every row of a worksheet's table as a tuple of cell values, streamed and bounded.

    The table is as wide as the widest of its first :data:`XLSX_HEAD_ROWS` non-blank rows
    (title, header and first records; cells right of that are not read, so formatting that
    reaches column XFD costs nothing); rows × that width must stay within the
    ``xlsx_cells`` limit (:mod:`geoplan.limits`), counted while streaming (the size a sheet
    declares is often inflated by formatting, so it is not trusted).
    """
    from .limits import current

    head = sheet_head(ws)
    width = max(
        (max((j + 1 for j, v in enumerate(row) if not _blank(v)), default=0) for row in head),
        default=0,
    )
    if width == 0:
        return []
    limits = current()
    ws.reset_dimensions()  # rows as the file holds them, not padded to a declared size
    out = []
    for row in ws.iter_rows(values_only=True, max_col=width):
        out.append(row)
        if len(out) * width > limits.xlsx_cells:
            limits.check(
                "xlsx_cells",
                len(out) * width,
                f"工作表 {source} 读取的单元格数",
                f"cells of worksheet {source} (at least {len(out):,} rows × {width:,} table "
                "columns)",
                fix="Delete the rows below the table that hold only formatting (or save it as CSV)",
            )
    return out
