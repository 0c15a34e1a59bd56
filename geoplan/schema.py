"""Declared keys: kinds of value, keys, tables and files, and their validation.

A TOML file's schema is data: a :class:`FileSchema` of :class:`Table` s of :class:`Key` s, each
key with its kind (:class:`Number` with its range, :class:`OneOf` …), unit, default, example
and meaning in English and Chinese. :func:`validate` checks a parsed file against it: unknown
tables and keys are errors naming the closest known one (an alias, then difflib, then "it
belongs in [table]"), wrong types and ranges are one line naming the file, table and key, in
both languages; the validated tables are plain dicts with the defaults filled in. The project
file's definitions live in :mod:`geoplan.workflows.config` (and a rule's table beside
:class:`geoplan.analysis.rules.Rule`); its reference and its commented template are generated
from the same definitions.
"""

from __future__ import annotations

import difflib
import json
import math
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from .errors import ConfigError

__all__ = [
    "REFERENCE",
    "AnyOf",
    "AnyText",
    "FileSchema",
    "Flag",
    "Key",
    "Kind",
    "ListOf",
    "Number",
    "OneOf",
    "Table",
    "Tables",
    "Text",
    "TextOrIndex",
    "TextTable",
    "check_table",
    "check_value",
    "describe_kind",
    "toml_literal",
    "validate",
]

REFERENCE = "docs/project-file.md"
"""The reference of every key, named by messages (``python -m geoplan.workflows.config``
writes it)."""


# --------------------------------------------------------------------------- kinds of value


class _Invalid(Exception):
    """A value does not fit its kind; the message says what was expected."""


class Kind:
    """The type (and range) of a key's value: parses TOML values, describes itself."""

    def parse(self, value: Any) -> Any:
        """The value, normalised (numbers as float …); :class:`_Invalid` if it does not fit."""
        raise NotImplementedError

    def describe(self, unit: str = "") -> str:
        """What a value must be, e.g. ``"a number of m/min from 20 to 150"``."""
        raise NotImplementedError


@dataclass(frozen=True)
class Text(Kind):
    """A non-empty string, optionally matching ``pattern`` (described by ``pattern_text``)."""

    pattern: str | None = None
    pattern_text: str = ""
    check: Callable[[str], str | None] | None = None  # returns what is wrong, or None

    def parse(self, value: Any) -> str:
        if not isinstance(value, str) or not value.strip():
            raise _Invalid
        if self.pattern and not re.fullmatch(self.pattern, value):
            raise _Invalid
        if self.check is not None:
            problem = self.check(value)
            if problem:
                raise _Invalid(problem)
        return value

    def describe(self, unit: str = "") -> str:
        return self.pattern_text or "text"


@dataclass(frozen=True)
class AnyText(Kind):
    """Any string, the empty one included (e.g. a data credit: "" for the user's own data)."""

    def parse(self, value: Any) -> str:
        if not isinstance(value, str):
            raise _Invalid
        return value.strip()

    def describe(self, unit: str = "") -> str:
        return 'text ("" allowed)'


@dataclass(frozen=True)
class TextOrIndex(Kind):
    """A name (text) or a 0-based position (integer ≥ 0), e.g. a worksheet."""

    def parse(self, value: Any) -> str | int:
        if isinstance(value, bool):
            raise _Invalid
        if isinstance(value, int) and value >= 0:
            return value
        if isinstance(value, str) and value.strip():
            return value
        raise _Invalid

    def describe(self, unit: str = "") -> str:
        return "a name (text) or a position (0, 1, …)"


@dataclass(frozen=True)
class Number(Kind):
    """A finite number within ``low``/``high`` (each inclusive unless ``*_open``)."""

    low: float | None = None
    high: float | None = None
    low_open: bool = False
    high_open: bool = False
    integer: bool = False

    def parse(self, value: Any) -> float | int:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise _Invalid
        if not math.isfinite(value):
            raise _Invalid
        if self.integer and value != int(value):
            raise _Invalid
        low_bad = self.low is not None and (
            value <= self.low if self.low_open else value < self.low
        )
        high_bad = self.high is not None and (
            value >= self.high if self.high_open else value > self.high
        )
        if low_bad or high_bad:
            raise _Invalid
        return int(value) if self.integer else float(value)

    def range_text(self) -> str:
        """``"from 20 to 150"``, ``"above 0, at most 240"`` … (empty without bounds)."""
        low = None if self.low is None else _num(self.low)
        high = None if self.high is None else _num(self.high)
        if low is not None and high is not None and not (self.low_open or self.high_open):
            return f"from {low} to {high}"
        parts = []
        if low is not None:
            parts.append(f"above {low}" if self.low_open else f"at least {low}")
        if high is not None:
            parts.append(f"below {high}" if self.high_open else f"at most {high}")
        return ", ".join(parts)

    def describe(self, unit: str = "") -> str:
        what = "a whole number" if self.integer else "a number"
        if unit:
            what += f" of {unit}"
        bounds = self.range_text()
        return f"{what} {bounds}" if bounds else what


@dataclass(frozen=True)
class Flag(Kind):
    """``true`` or ``false``."""

    def parse(self, value: Any) -> bool:
        if not isinstance(value, bool):
            raise _Invalid
        return value

    def describe(self, unit: str = "") -> str:
        return "true or false"


@dataclass(frozen=True)
class OneOf(Kind):
    """One of a fixed set of strings (``choices`` may be a callable, for lazy imports)."""

    choices: tuple[str, ...] | Callable[[], Iterable[str]]

    def values(self) -> tuple[str, ...]:
        """The accepted strings."""
        found = self.choices() if callable(self.choices) else self.choices
        return tuple(found)

    def parse(self, value: Any) -> str:
        if not isinstance(value, str) or value not in self.values():
            raise _Invalid
        return value

    def describe(self, unit: str = "") -> str:
        return "one of " + ", ".join(f'"{v}"' for v in self.values())


@dataclass(frozen=True)
class ListOf(Kind):
    """A list of ``item`` values (a single value is accepted as a list of one if ``single``)."""

    item: Kind
    single: bool = False
    non_empty: bool = False
    distinct: bool = False

    def parse(self, value: Any) -> list:
        if self.single and not isinstance(value, list):
            value = [value]
        if not isinstance(value, list):
            raise _Invalid
        try:
            items = [self.item.parse(v) for v in value]
        except _Invalid:
            raise _Invalid from None
        if (self.non_empty and not items) or (self.distinct and len(set(items)) != len(items)):
            raise _Invalid
        return items

    def describe(self, unit: str = "") -> str:
        what = "a list of " + ("distinct " if self.distinct else "")
        what += f"values, each {self.item.describe(unit)}"
        if self.non_empty:
            what = "a non-empty " + what.removeprefix("a ")
        if self.single:
            what += " (or one such value)"
        return what


@dataclass(frozen=True)
class TextTable(Kind):
    """A table of names to ``item`` values, e.g. ``{township = "townships.gpkg"}``.

    ``names`` restricts the names (a misspelt one is refused with the closest known one);
    ``non_empty`` refuses ``{}``.
    """

    item: Kind
    names: tuple[str, ...] | None = None
    non_empty: bool = False

    def parse(self, value: Any) -> dict:
        if not isinstance(value, dict) or (self.non_empty and not value):
            raise _Invalid
        for name in value if self.names is not None else ():
            if name not in self.names:
                close = difflib.get_close_matches(str(name), self.names, n=1)
                hint = f" (did you mean {close[0]!r}?)" if close else ""
                raise _Invalid(f"{self.describe()}; {name!r} is not known{hint}")
        try:
            return {str(k): self.item.parse(v) for k, v in value.items()}
        except _Invalid:
            raise _Invalid from None

    def describe(self, unit: str = "") -> str:
        if self.names is None:
            names = "names"
        elif len(self.names) <= 8:
            names = f"names ({', '.join(self.names)})"
        else:
            names = f"known names ({', '.join(self.names[:3])} … {self.names[-1]})"
        return f"a table of {names} to values, each {self.item.describe(unit)}"


@dataclass(frozen=True)
class AnyOf(Kind):
    """A value of the first of ``kinds`` it fits, e.g. a speed or ``"no"``."""

    kinds: tuple[Kind, ...]

    def parse(self, value: Any) -> Any:
        for kind in self.kinds:
            try:
                return kind.parse(value)
            except _Invalid:
                continue
        raise _Invalid

    def describe(self, unit: str = "") -> str:
        return " or ".join(kind.describe(unit) for kind in self.kinds)


@dataclass(frozen=True)
class Tables(Kind):
    """An array of tables (``[[scenario.move]]``), each checked against ``table``."""

    table: Table

    def parse(self, value: Any) -> list:
        raise AssertionError("Tables are checked by check_table")  # needs file and label

    def describe(self, unit: str = "") -> str:
        return f"an array of tables ([[{self.table.name}]])"


def _num(value: float) -> str:
    return f"{value:g}" if abs(value) < 1e6 else f"{value:,.0f}"


# --------------------------------------------------------------------------- keys and tables


@dataclass(frozen=True)
class Key:
    """One key of a table.

    ``default`` is filled in when the key is absent (None: left absent, the reader decides);
    ``default_from`` copies another key's value instead (``area_en`` from ``area``).
    ``aliases`` are names people write by mistake (suggested back as this key);
    ``applies`` names the input formats the key is for; ``hint`` is added to a type error.
    """

    name: str
    kind: Kind
    en: str
    zh: str
    default: Any = None
    required: bool = False
    unit: str = ""
    example: Any = None
    default_from: str | None = None
    aliases: tuple[str, ...] = ()
    applies: tuple[str, ...] = ()
    hint: str = ""

    def default_text(self) -> str:
        """The default as written in the documentation."""
        if self.required:
            return "required"
        if self.default_from:
            return f"= {self.default_from}"
        if self.default is None:
            return "—"
        return toml_literal(self.default)


@dataclass(frozen=True)
class Table:
    """A table of a TOML file.

    ``shape``: ``"table"`` (``[name]``), ``"array"`` (``[[name]]``, at least one) or
    ``"table_or_array"`` (either; read as a list). ``check`` runs on the validated table
    (cross-key rules); ``unknown_hint`` is added to unknown-key errors.
    """

    name: str
    short_zh: str
    en: str
    zh: str
    keys: tuple[Key, ...]
    required: bool = False
    shape: str = "table"
    check: Callable[[dict, str], None] | None = None
    unknown_hint: str = ""
    free_keys: Key | None = None
    """Any other key, named by an id, takes this key's kind (``[congestion]``'s profiles)."""

    def key(self, name: str) -> Key:
        """The key called ``name``."""
        return next(k for k in self.keys if k.name == name)

    @property
    def title(self) -> str:
        """``[name]`` or ``[[name]]``."""
        return f"[[{self.name}]]" if self.shape == "array" else f"[{self.name}]"


@dataclass(frozen=True)
class FileSchema:
    """The tables of one kind of TOML file."""

    name: str
    en: str
    zh: str
    tables: tuple[Table, ...]
    extra: Mapping[str, Table] = field(default_factory=dict)  # sub-tables (documentation)

    def __post_init__(self) -> None:
        _FILES.append(self)  # an unknown key's "it belongs in [table]" looks at every file

    def table(self, name: str) -> Table:
        """The table called ``name``."""
        return next(t for t in self.tables if t.name == name)


_FILES: list[FileSchema] = []


# --------------------------------------------------------------------------- validation


def validate(data: Mapping[str, Any], schema: FileSchema, *, file: str) -> dict[str, Any]:
    """Check a parsed TOML file against ``schema``; the tables with defaults filled in.

    Returns a dict with every table of the schema that is present or required: plain dicts
    (``"table"``), lists of dicts (``"array"``, ``"table_or_array"``). Absent optional tables
    are missing from the result. ``file`` names the file in messages.

    Raises
    ------
    ConfigError
        One line naming the file, the table and the key: unknown tables or keys (with the
        closest known name), missing required ones, wrong types, values out of range.
    """
    known = {t.name.split(".")[0]: t for t in schema.tables}
    for name, value in data.items():
        if name not in known:
            raise ConfigError(_unknown_table(file, name, value, schema))
    out: dict[str, Any] = {}
    for table in schema.tables:
        raw = data.get(table.name)
        if raw is None:
            if table.required:
                raise ConfigError(
                    f"{file}: missing {table.title} table ({_first_sentence(table.en)}); "
                    f"see {REFERENCE} / "
                    f"缺少 {table.title}（{table.short_zh}）"
                )
            continue
        out[table.name] = _check_shape(table, raw, file)
    return out


def _check_shape(table: Table, raw: Any, file: str) -> Any:
    if table.shape == "table":
        return check_table(table, raw, file=file, label=table.title)
    if isinstance(raw, dict) and table.shape == "table_or_array":
        return [check_table(table, raw, file=file, label=f"[{table.name}]")]
    if not isinstance(raw, list) or not raw or not all(isinstance(t, dict) for t in raw):
        shapes = f"a [{table.name}] table or " if table.shape == "table_or_array" else ""
        raise ConfigError(
            f"{file}: {table.name} must be {shapes}one or more [[{table.name}]] tables / "
            f"{table.short_zh}须写成 [[{table.name}]] 表"
        )
    return [
        check_table(table, item, file=file, label=f"[[{table.name}]] #{i + 1}")
        for i, item in enumerate(raw)
    ]


def check_table(
    table: Table, raw: Any, *, file: str = "", label: str = "", extra: Iterable[str] = ()
) -> dict[str, Any]:
    """One table's keys: unknown keys refused, values parsed, defaults filled in.

    ``label`` names the table in messages (``[network]``, ``[[rules]] #2``); ``extra`` are
    keys a caller reads itself (e.g. the citations of a rule pack's circles), passed through.
    """
    label = label or table.title
    prefix = f"{file}: " if file else ""
    if not isinstance(raw, Mapping):
        raise ConfigError(
            f"{prefix}{label} must be a table of keys, got {_show(raw)} / {label} 须为表"
        )
    extra = set(extra)
    names = {k.name for k in table.keys}
    for name in raw:
        if name not in names and name not in extra and table.free_keys is None:
            raise ConfigError(_unknown_key(prefix, name, label, table))
    out: dict[str, Any] = {name: raw[name] for name in raw if name in extra}
    if table.free_keys is not None:
        out.update(_free_keys(table, raw, names | extra, prefix, label))
    for key in table.keys:
        if key.name in raw:
            value = raw[key.name]
            if isinstance(key.kind, Tables):
                if not isinstance(value, list):
                    raise ConfigError(
                        f"{prefix}{label} {key.name}: must be {key.kind.describe()} / "
                        f"{key.zh}须为表数组"
                    )
                out[key.name] = [
                    check_table(
                        key.kind.table, item, file=file, label=f"[[{key.kind.table.name}]] #{i + 1}"
                    )
                    for i, item in enumerate(value)
                ]
                continue
            try:
                out[key.name] = key.kind.parse(value)
            except _Invalid as exc:
                expected = exc.args[0] if exc.args else describe_kind(key)
                raise ConfigError(
                    f"{prefix}{label} {key.name}: must be {expected}, got {_show(value)}{key.hint}"
                    f" / {key.name}（{key.zh}）的类型或取值范围不对"
                ) from None
        elif key.required:
            raise ConfigError(
                f"{prefix}{label}: missing `{key.name}` ({key.en}) / 缺少 {key.name}（{key.zh}）"
            )
        elif key.default is not None:
            out[key.name] = json.loads(json.dumps(key.default))  # a fresh copy
    for key in table.keys:
        if key.default_from and key.name not in out:
            out[key.name] = out[key.default_from]
    if table.check is not None:
        table.check(out, f"{prefix}{label}")
    return out


_FREE_KEY = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")


def _free_keys(table: Table, raw: Mapping, known: set[str], prefix: str, label: str) -> dict:
    """The keys of a table with free keys (e.g. ``[congestion]``'s profiles), parsed."""
    key = table.free_keys
    out = {}
    for name, value in raw.items():
        if name in known:
            continue
        if not _FREE_KEY.fullmatch(name):
            raise ConfigError(
                f"{prefix}{label} `{name}`: a {key.name} must be named by an id (a letter, then "
                f"letters, digits or _) / 名称须为字母开头的编号"
            )
        try:
            out[name] = key.kind.parse(value)
        except _Invalid as exc:
            expected = exc.args[0] if exc.args else describe_kind(key)
            raise ConfigError(
                f"{prefix}{label} {name}: must be {expected}, got {_show(value)}"
                f" / {name}（{key.zh}）的类型或取值范围不对"
            ) from None
    return out


def check_value(table: Table, name: str, value: Any, *, where: str) -> Any:
    """One value given outside a file (a command-line option) checked as ``table``'s key
    ``name`` would be; ``where`` names it in the message (``--walk-speed``)."""
    key = table.key(name)
    try:
        return key.kind.parse(value)
    except _Invalid as exc:
        expected = exc.args[0] if exc.args else describe_kind(key)
        raise ConfigError(
            f"{where}: must be {expected}, got {_show(value)} / {key.zh}的取值范围不对"
        ) from None


def _show(value: Any) -> str:
    if isinstance(value, dict):
        return "a table"
    if isinstance(value, list):
        return f"a list {json.dumps(value, ensure_ascii=False, default=str)[:60]}"
    if isinstance(value, str):
        return f"the text {json.dumps(value, ensure_ascii=False)[:60]}"
    return repr(value)


def _unknown_key(prefix: str, name: str, label: str, table: Table) -> str:
    head = f"{prefix}`{name}`: unknown key in {label}"
    zh = f" / {label} 中没有 `{name}` 这个键"
    folded = name.casefold()
    for key in table.keys:
        if folded in (a.casefold() for a in key.aliases) or folded == key.name.casefold():
            return (
                f"{head}; did you mean `{key.name}`?{table.unknown_hint}{zh}，应为 `{key.name}`？"
            )
    names = [k.name for k in table.keys]
    close = difflib.get_close_matches(name, names, n=1, cutoff=0.75)
    if close:
        return f"{head}; did you mean `{close[0]}`?{table.unknown_hint}{zh}，应为 `{close[0]}`？"
    homes = [t for t in _all_tables() if t is not table and name in {k.name for k in t.keys}]
    if homes and name != "path":
        where = " or ".join(t.title for t in homes)
        return f"{head}; it belongs in {where}{table.unknown_hint}{zh}，应写在 {where} 中"
    close = difflib.get_close_matches(name, names, n=1, cutoff=0.6)
    if close:
        return f"{head}; did you mean `{close[0]}`?{table.unknown_hint}{zh}，应为 `{close[0]}`？"
    return f"{head}; known keys: {', '.join(names)}{table.unknown_hint}{zh}"


def _unknown_table(file: str, name: str, value: Any, schema: FileSchema) -> str:
    if not isinstance(value, dict | list):
        homes = [t for t in schema.tables if name in {k.name for k in t.keys}]
        if homes:
            return (
                f"{file}: `{name}`: a key outside any table; it belongs in {homes[0].title} / "
                f"`{name}` 应写在 {homes[0].title} 中"
            )
        return (
            f"{file}: `{name}`: unknown top-level key; the file holds tables only / "
            f"未知的顶层键 `{name}`"
        )
    names = [t.name for t in schema.tables]
    close = difflib.get_close_matches(name, names, n=1, cutoff=0.6)
    hint = f"did you mean [{close[0]}]?" if close else f"known tables: {', '.join(names)}"
    zh = f"，应为 [{close[0]}]？" if close else ""
    return f"{file}: [{name}]: unknown table in a {schema.name}; {hint} / 未知的表 [{name}]{zh}"


def _all_tables() -> tuple[Table, ...]:
    """Every table of every kind of file defined so far (their sub-tables last)."""
    return (
        *(t for f in _FILES for t in f.tables),
        *(t for f in _FILES for t in f.extra.values()),
    )


def _first_sentence(text: str) -> str:
    return text.split(". ")[0].rstrip(".").lower()


# --------------------------------------------------------------------------- text


def toml_literal(value: Any) -> str:
    """A TOML literal of a simple value (defaults and examples in the reference and template)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value == int(value):
        return str(int(value))
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, list):
        return "[" + ", ".join(toml_literal(v) for v in value) + "]"
    if isinstance(value, dict):
        items = (f"{_toml_key(k)} = {toml_literal(v)}" for k, v in value.items())
        return "{" + ", ".join(items) + "}"
    raise TypeError(f"no TOML literal for {value!r}")


def _toml_key(key: str) -> str:
    """A TOML key: bare when it may be (letters, digits, _ and -), else quoted (user text
    such as a type written in a facility file: ``{"卫生 站" = "clinic"}``)."""
    return key if re.fullmatch(r"[A-Za-z0-9_-]+", key) else toml_literal(str(key))


def describe_kind(key: Key) -> str:
    """What a key's value must be (kind, unit and range), as messages and the reference say."""
    if isinstance(key.kind, Tables):
        return key.kind.describe()
    return key.kind.describe(key.unit)
