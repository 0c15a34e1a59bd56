"""The project file's schema: every table and key with its type, unit, range, default and meaning.

One declarative definition (:data:`PROJECT_FILE`, :data:`SCENARIO_FILE`, :data:`BATCH_FILE`)
from which

* :func:`validate` checks a parsed TOML file and fills in the defaults (``load_project``,
  the scenario and batch readers and ``rule_from_mapping`` call it): unknown keys are errors
  with the closest known key suggested, wrong types, ranges and shapes are one line naming
  the file, the table and the key;
* :func:`reference_markdown` writes ``docs/project-file.md``
  (``python -m geoplan.workflows.config [--check]``);
* :func:`project_template` writes the fully commented project of ``geoplan init``.

Adding a key: one :class:`Key` in its table below (name, kind with range and unit, default,
meaning in en and zh), then read it where it is used (``project.network["my_key"]``: the
validated tables are plain dicts with the defaults filled) and regenerate the documentation.
"""

from __future__ import annotations

import codecs
import difflib
import json
import math
import re
import sys
import textwrap
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .._compressed import is_graphml
from .._paths import REPO_ROOT
from ..analysis.engine import DEFAULT_WALK_SPEED_M_PER_MIN
from ..analysis.rules import _RULE_ID, MODES
from ..errors import ConfigError
from ..plans.packs import LEVELS
from ..readers.access import PRIVATE_WAYS
from ..readers.facilities import DEFAULT_BOUNDARY_TOLERANCE_M

__all__ = [
    "BATCH_FILE",
    "DEFAULT_AREA_TOLERANCE_M",
    "DEFAULT_GAP_CELL_M",
    "DEFAULT_MAX_SNAP_M",
    "DOC_PATH",
    "LIMITS",
    "PROJECT_FILE",
    "RULE",
    "SCENARIO_FILE",
    "FileSchema",
    "Key",
    "Table",
    "check_table",
    "check_value",
    "project_template",
    "reference_markdown",
    "validate",
]

DEFAULT_MAX_SNAP_M = 500.0
"""``[facilities] max_snap_m`` when not given."""
DEFAULT_GAP_CELL_M = 500.0
"""``[gaps] cell_m`` when not given."""
DEFAULT_AREA_TOLERANCE_M = 100.0
"""``[boundary]``/``[units] tolerance_m`` when not given (as facilities' boundary tolerance)."""
DOC_PATH = REPO_ROOT / "docs" / "project-file.md"


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
    """A table of names to ``item`` values, e.g. ``{township = "townships.gpkg"}``."""

    item: Kind

    def parse(self, value: Any) -> dict:
        if not isinstance(value, dict):
            raise _Invalid
        try:
            return {str(k): self.item.parse(v) for k, v in value.items()}
        except _Invalid:
            raise _Invalid from None

    def describe(self, unit: str = "") -> str:
        return f"a table of names to values, each {self.item.describe(unit)}"


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


def _encoding_problem(value: str) -> str | None:
    try:
        codecs.lookup(value)
    except LookupError:
        return "a text encoding Python knows (utf-8, gbk, gb18030, utf-16 …)"
    return None


def _facility_crs_problem(value: str) -> str | None:
    from ..readers.facilities import _declared_crs  # the facility reader's own parser of crs=

    try:
        _declared_crs(value)
    except ConfigError:
        return "wgs84, cgcs2000, gcj02 (高德/腾讯), bd09 (百度) or an EPSG code such as 'EPSG:4490'"
    return None


def _crs_problem(value: str) -> str | None:
    import pyproj

    try:
        pyproj.CRS.from_user_input(value)
    except pyproj.exceptions.CRSError:
        return "a coordinate reference system pyproj knows, e.g. 'EPSG:4326' or 'EPSG:32650'"
    return None


def _langs() -> tuple[str, ...]:
    from ..rendering.maps import LANGS

    return LANGS


def _basemaps() -> tuple[str, ...]:
    from ..rendering.maps import BASEMAPS

    return tuple(BASEMAPS)


def _precisions() -> tuple[str, ...]:
    from ..readers.geocode import PRECISIONS

    return PRECISIONS[:-1]  # every precision but "failed"


PATH = Text(pattern_text="a file path (text; relative to this file, geoplan:… or shared:…)")


def _credit(what: str, default_en: str, default_zh: str) -> Key:
    """The ``credit`` key of an input table (see :mod:`geoplan.readers.credits`)."""
    return Key(
        "credit",
        AnyText(),
        f'Data credit of the {what}, shown on maps and in reports ("" for your own data); '
        f"default: {default_en}",
        f'{default_zh}的数据来源署名，显示在地图与报告中（自有数据写 ""）',
        example="© OpenStreetMap contributors, ODbL 1.0",
        aliases=("attribution", "source", "license"),
    )


NAME = Text()
ENV_NAME = Text(r"[A-Za-z_][A-Za-z0-9_]*", "an environment variable name (letters, digits, _)")
RULE_ID = Text(_RULE_ID.pattern, "an id: a letter, then letters, digits or _")
ID_PREFIX = Text(r"[^\s,:=]+", "a short name without spaces, commas, colons or =")


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
        return _toml(self.default)


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

    def table(self, name: str) -> Table:
        """The table called ``name``."""
        return next(t for t in self.tables if t.name == name)


# --------------------------------------------------------------------------- the project file

DEMAND_FORMATS = ("raster", "points", "lines", "polygons", "graphml_edges")
"""Kinds of demand input (the reader is chosen by suffix and geometry, see
geoplan.readers.demand)."""
DEMAND_SUFFIX_FORMATS: dict[str, tuple[str, ...]] = {
    **dict.fromkeys((".tif", ".tiff", ".img", ".asc"), ("raster",)),
    ".graphml": ("graphml_edges",),
    **dict.fromkeys((".csv", ".tsv", ".txt", ".xlsx"), ("points",)),
}
"""Formats a demand file can be by its suffix (vector layers: points, lines or polygons)."""
_VECTOR_FORMATS = ("points", "lines", "polygons")


def _check_demand(table: dict, where: str) -> None:
    """Every option given must apply to the demand file's format (by suffix)."""
    if table.get("format") == "graphml_edges" or is_graphml(str(table["path"])):
        formats: tuple[str, ...] = ("graphml_edges",)  # .graphml, also .graphml.gz/.bz2/.xz
    else:
        suffix = Path(str(table["path"])).suffix.lower()
        formats = DEMAND_SUFFIX_FORMATS.get(suffix, _VECTOR_FORMATS)
    demand = PROJECT_FILE.table("demand")
    for key in demand.keys:
        if key.applies and key.name in table and not set(key.applies) & set(formats):
            raise ConfigError(
                f"{where} {key.name}: does not apply to {' or '.join(formats)} demand "
                f"({Path(str(table['path'])).name}); it is for {', '.join(key.applies)} inputs"
                f" / 该选项不适用于此格式的人口数据"
            )


def _check_geocode(table: dict, where: str) -> None:
    if not table.get("admin") and not table.get("osm"):
        raise ConfigError(
            f"{where}: needs `admin` layers or `osm` files (the gazetteer sources) / "
            "须提供 admin 行政区图层或 osm 文件"
        )


PROJECT = Table(
    "project",
    "项目",
    "The area and how it is reported.",
    "区域及其报告方式。",
    (
        Key(
            "area",
            NAME,
            "Name of the area (titles; the one unit when there are no units)",
            "区域名称（用于标题；无统计单元时即唯一单元）",
            required=True,
            example="某县",
        ),
        Key(
            "area_en",
            NAME,
            "English name of the area",
            "区域英文名",
            default_from="area",
            example="Mou County",
        ),
        Key("notes_zh", ListOf(NAME), "Notes shown on maps and reports (Chinese)", "中文说明", []),
        Key("notes_en", ListOf(NAME), "Notes shown on maps and reports (English)", "英文说明", []),
        Key(
            "hypothetical_facilities",
            Flag(),
            "The facilities are a made-up scenario (maps and reports say so)",
            "设施为假设情景（地图与报告中注明）",
            False,
        ),
    ),
    required=True,
)

NETWORK = Table(
    "network",
    "路网",
    "The street network travel times are computed on.",
    "计算出行时间的道路网络。",
    (
        Key(
            "path",
            PATH,
            "OSM XML/PBF (.osm, .osm.bz2, .osm.pbf), osmnx GraphML, or road lines (GeoPackage, "
            "GeoJSON, Shapefile, GeoParquet)",
            "OSM XML/PBF、osmnx GraphML 或道路线图层",
            required=True,
            example="roads.osm.pbf",
        ),
        Key(
            "walk_speed_m_per_min",
            Number(20, 150),
            "Walking speed (Chinese plans use 60–80 m/min)",
            "步行速度（规划常用 60–80 米/分钟）",
            DEFAULT_WALK_SPEED_M_PER_MIN,
            unit="m/min",
            aliases=("walk_speed", "walking_speed", "speed"),
        ),
        Key(
            "private_ways",
            OneOf(PRIVATE_WAYS),
            "Private-style OSM ways (access=private, service=private; for driving also "
            "destination, customers, delivery; see geoplan/readers/access.py): "
            '"exclude" leaves them out, "endpoints" uses them only at the start or end of a '
            "trip (residents walk "
            'out of a gated compound, nobody cuts through), "include" like public streets',
            "私有道路用法（exclude 不用；endpoints 仅用于行程起点或终点；include 同公共道路）",
            PRIVATE_WAYS[0],
            aliases=("private", "private_roads", "access_private"),
        ),
        Key(
            "snap_to_largest_component",
            Flag(),
            "Join residents only to streets from which the mode's largest strongly connected "
            "part of the network can be reached, and facilities to streets it reaches; false "
            "leaves residents on cut-off streets unreachable (counted and shown as such)",
            "居民仅接入通往主路网（最大强连通部分）的道路；false 时断开道路上的居民计为不可达",
            True,
            aliases=("largest_component", "snap_largest_component"),
        ),
        _credit("network", "OpenStreetMap for OSM files and osmnx GraphML, none otherwise", "路网"),
    ),
    required=True,
)

DEMAND = Table(
    "demand",
    "人口",
    "Where residents live. The reader is chosen by the file's suffix and geometry "
    "(rasters, point tables or layers, lines, polygons, GraphML edges); options that do not "
    "apply to the file's format are refused.",
    "居民分布。按文件后缀与几何类型选择读取方式；不适用于该格式的选项将被拒绝。",
    (
        Key(
            "path",
            PATH,
            "Population raster (.tif: counts per cell, or density per km²), points with a "
            "population (CSV/XLSX with lon/lat or 经度/纬度, GeoJSON, GPKG), polygons with totals, "
            "lines with a population, or an osmnx GraphML whose edges carry population",
            "人口栅格、带人口的点（表格或图层）、带总人口的面、带人口的线，或边上带人口的 GraphML",
            required=True,
            example="population.tif",
        ),
        Key(
            "format",
            OneOf(("auto", "graphml_edges")),
            "auto: by suffix and geometry; graphml_edges: population on GraphML edges",
            "auto：按后缀与几何判断；graphml_edges：GraphML 边上的人口",
            "auto",
        ),
        Key(
            "population_column",
            NAME,
            "Column (or edge attribute) with persons; default: the one column named population, "
            "pop, 人口, 人口数 or 常住人口 (GraphML edges: population)",
            "人口字段；默认自动识别 population/pop/人口/人口数/常住人口",
            applies=("points", "lines", "polygons", "graphml_edges"),
            aliases=("population", "pop_column", "pop"),
            example="人口",
        ),
        Key(
            "id_column",
            NAME,
            "Column with point ids; default demand_id or id, else row-<n>",
            "编号字段；默认 demand_id 或 id",
            applies=("points", "lines", "polygons"),
            example="id",
        ),
        Key(
            "group_column",
            NAME,
            "Column naming the population cell a line belongs to (lines of one cell share its "
            "population; GraphML edges: cell_id)",
            "线所属人口格网的字段（同一格网的线共享其人口）",
            applies=("lines", "graphml_edges"),
            example="cell_id",
        ),
        Key(
            "spacing_m",
            Number(1, 10_000),
            "Spread each line's residents along it at most this far apart (default: one point "
            "at the midpoint)",
            "沿线按不超过该间距分布居民点（默认取中点）",
            unit="m",
            applies=("lines", "graphml_edges"),
            aliases=("spacing",),
            example=50,
        ),
        Key(
            "crs",
            Text(check=_crs_problem),
            "Coordinate system of x/y columns of a table (lon/lat columns are WGS84)",
            "表格 x/y 坐标的坐标系（经纬度列为 WGS84）",
            applies=("points",),
            aliases=("coordinate_system", "srs", "epsg"),
            example="EPSG:32650",
        ),
        Key(
            "kind",
            OneOf(("auto", "count", "density")),
            "Raster cells are persons per cell (count) or per km² (density); auto: from the "
            "raster's tags and name",
            "栅格值为每格人数（count）或每平方公里人数（density）；auto 自动判断",
            applies=("raster",),
            example="count",
        ),
        Key(
            "band",
            Number(1, integer=True),
            "Raster band (1-based; default 1)",
            "栅格波段（从 1 起）",
            applies=("raster",),
            example=1,
        ),
        Key(
            "points",
            OneOf(("centroid", "representative")),
            "Where a polygon's residents are placed: its centroid, or a point surely inside it "
            "(default: the centroid when it lies inside)",
            "面内居民点位置：质心，或保证在面内的代表点",
            applies=("polygons",),
            example="representative",
        ),
        _credit(
            "population",
            "GHS-POP for GHS-POP files, WorldPop for WorldPop rasters, none for your own data",
            "人口",
        ),
    ),
    required=True,
    check=_check_demand,
)

FACILITIES = Table(
    "facilities",
    "设施",
    "Facility records. One [facilities] table, or one [[facilities]] table per file (e.g. "
    "the health and the fitness lists of different offices): each file is read with its own "
    "options, the rows are concatenated, `source_file` records the file of every row, and "
    "with several files every id becomes `<id_prefix>:<id>` (the prefix defaults to the "
    "file's name without suffix) so ids stay unique.",
    "设施名录。一个 [facilities] 表，或每个文件一个 [[facilities]] 表（如卫健与体育部门的名录）；"
    "多个文件时编号加前缀 `<id_prefix>:`，保证唯一。",
    (
        Key(
            "path",
            PATH,
            "CSV (UTF-8, GBK, UTF-16), XLSX, GeoJSON, GeoPackage or Shapefile with name, type and "
            "coordinates (Chinese or English headers; facilities_template.csv has them)",
            "CSV、XLSX、GeoJSON、GeoPackage 或 Shapefile，含名称、类型与坐标",
            required=True,
            example="facilities_template.csv",
            hint="; for several facility files write one [[facilities]] table per file",
        ),
        Key(
            "sheet",
            TextOrIndex(),
            "Worksheet of a workbook (default: the first non-empty)",
            "工作表（默认第一个非空表）",
            example="Sheet1",
        ),
        Key(
            "layer",
            TextOrIndex(),
            "Layer of a GeoPackage (default: the first)",
            "图层",
            example="facilities",
        ),
        Key(
            "encoding",
            Text(check=_encoding_problem),
            "Text encoding of a CSV (default: detected)",
            "CSV 编码（默认自动识别）",
            example="gbk",
        ),
        Key(
            "crs",
            Text(check=_facility_crs_problem),
            "Coordinate system of the coordinates: wgs84, cgcs2000, gcj02 (高德/腾讯), bd09 (百度) "
            "or an EPSG code; a row's 坐标系 cell overrides it (default: wgs84, or the header's)",
            "坐标系：wgs84、cgcs2000、gcj02（高德/腾讯）、bd09（百度）或 EPSG 代码",
            aliases=("coordinate_system", "coordinates", "srs", "epsg", "坐标系"),
            example="wgs84",
        ),
        Key(
            "max_snap_m",
            Number(0, 10_000, low_open=True),
            "Facilities farther than this from any street are rejected (far_from_road)",
            "距最近道路超过该距离的设施被拒绝",
            DEFAULT_MAX_SNAP_M,
            unit="m",
            aliases=("max_snap", "snap_m", "snap_distance_m"),
        ),
        Key(
            "boundary_tolerance_m",
            Number(0, 100_000),
            "Facilities farther than this outside the boundary are rejected (outside_area)",
            "位于边界外超过该距离的设施被拒绝",
            DEFAULT_BOUNDARY_TOLERANCE_M,
            unit="m",
        ),
        Key(
            "id_prefix",
            ID_PREFIX,
            "Prefix of this file's ids (`<prefix>:<id>`); default with several files: the "
            "file's name without suffix, with one file: none",
            "本文件设施编号的前缀；多个文件时默认取文件名",
            example="health",
        ),
        Key(
            "keep_duplicates",
            Flag(),
            "Use every record of the same name and type within 50 m (default: the most "
            "complete is used, the others are rejected as duplicate); the same in every file",
            "同名同类且相距 50 米以内的记录全部使用（默认只用最完整的一条，其余作为重复记录拒绝）",
            False,
        ),
        _credit("facility list", "none (your own data)", "设施名录"),
    ),
    required=True,
    shape="table_or_array",
)

BOUNDARY = Table(
    "boundary",
    "边界",
    "The study area. Residents farther than tolerance_m outside it are not counted in any "
    "figure (summary.json reports them as demand_outside_area); without a boundary the area "
    "is the union of the units, and without units every resident of the demand file.",
    "研究区域边界。位于边界外超过 tolerance_m 的居民不计入任何指标；无边界时以统计单元合并为区域，"
    "都没有时以需求文件的全部居民为区域。",
    (
        Key(
            "path",
            PATH,
            "Polygon layer (GeoJSON, GPKG, Shapefile) or a GraphML with a boundary attribute",
            "面图层，或带 boundary 属性的 GraphML",
            required=True,
            example="boundary.geojson",
        ),
        Key(
            "format",
            OneOf(("auto", "graphml")),
            "graphml: the WKT boundary stored in a GraphML file's graph attributes",
            "graphml：GraphML 图属性中的边界",
            "auto",
        ),
        Key(
            "level",
            OneOf(tuple(LEVELS)),
            "Administrative level of the area when it is the only unit (for plan checks)",
            "区域作为唯一统计单元时的行政级别（规划核查用）",
            example="county",
        ),
        Key(
            "tolerance_m",
            Number(0, 10_000),
            "Residents up to this far outside still belong to the area (simplified outlines)",
            "位于边界外该距离以内的居民仍属本区域（边界为简化轮廓时）",
            DEFAULT_AREA_TOLERANCE_M,
            unit="m",
        ),
        _credit("boundary", "none (your own data)", "边界"),
    ),
)

UNITS = Table(
    "units",
    "统计单元",
    "Administrative units (乡镇/街道, 村/社区) coverage is reported per. Without units the "
    "boundary, or else the whole area, is the one unit, named after [project] area.",
    "分单元统计的行政单元；无单元时以边界（或整个区域）为唯一单元。",
    (
        Key("path", PATH, "Polygon layer", "面图层", required=True, example="townships.gpkg"),
        Key(
            "name_column",
            NAME,
            "Column with unit names (default: name, 名称, 乡镇 …)",
            "单元名称字段",
            example="name",
        ),
        Key(
            "code_column",
            NAME,
            "Column with unit codes (default: code, adcode, 代码 …)",
            "单元代码字段",
            example="code",
        ),
        Key(
            "level",
            OneOf(tuple(LEVELS)),
            "Administrative level of the units",
            "单元行政级别",
            example="township",
        ),
        Key(
            "tolerance_m",
            Number(0, 10_000),
            "A resident outside every unit but this close to one counts in the nearest",
            "不在任何单元内、但距某单元不超过该距离的居民计入最近单元",
            DEFAULT_AREA_TOLERANCE_M,
            unit="m",
        ),
        _credit("units", "none (your own data)", "统计单元"),
    ),
)

GEOCODE = Table(
    "geocode",
    "地理编码",
    "Place records without coordinates from an offline gazetteer (each placed row keeps its "
    "precision); rows that cannot be placed finely enough stay rejected.",
    "用离线地名库为无坐标的记录定位；精度不足的记录仍被拒绝。",
    (
        Key(
            "admin",
            TextTable(PATH),
            'Admin polygon layers by level, e.g. {township = "townships.gpkg"}',
            "按级别的行政区面图层",
            {},
        ),
        Key(
            "osm", ListOf(PATH), "OSM XML/PBF files whose named places are searched", "OSM 文件", []
        ),
        Key(
            "min_precision",
            OneOf(_precisions),
            "Coarsest precision accepted",
            "可接受的最粗精度",
            "county",
        ),
    ),
    check=_check_geocode,
)

GAPS = Table(
    "gaps",
    "缺口清单",
    "The ranked lists of uncovered residents.",
    "未覆盖居民的排序清单。",
    (
        Key(
            "cell_m",
            Number(10, 50_000),
            "Uncovered residents are listed per grid cell of this size",
            "按该尺寸的网格汇总未覆盖居民",
            DEFAULT_GAP_CELL_M,
            unit="m",
            aliases=("cell", "cell_size", "cell_size_m"),
        ),
        Key(
            "merge_contiguous",
            Flag(),
            "Merge touching cells into one gap area",
            "合并相邻网格为一个缺口区域",
            False,
        ),
    ),
)

MAP = Table(
    "map",
    "地图",
    "The interactive maps (offline unless a basemap is chosen).",
    "交互地图（除非选择底图，否则离线）。",
    (
        Key(
            "langs",
            ListOf(OneOf(_langs), non_empty=True, distinct=True),
            "Map languages: the first writes map.html, each further one map_<lang>.html",
            "地图语言：第一个写 map.html，其余写 map_<lang>.html",
            ["zh"],
        ),
        Key(
            "basemap",
            OneOf(_basemaps),
            "Tiles under the overlays (loaded from the internet when the map is opened; amap "
            "shifts every overlay to GCJ-02)",
            "底图（打开地图时联网加载；amap 将叠加层转换为 GCJ-02）",
            "none",
        ),
        Key(
            "basemap_key_env",
            ENV_NAME,
            "Environment variable holding the basemap key (never the key itself)",
            "存放底图密钥的环境变量名（文件中不写密钥）",
            "GEOPLAN_TIANDITU_KEY",
        ),
    ),
    unknown_hint=(
        " (a basemap key is never stored in the file: it is read from the environment "
        "variable named by basemap_key_env)"
    ),
)

RULE = Table(
    "rules",
    "规则",
    "One travel-time circle per table: the share of residents within threshold_min of a "
    "facility of the categories, by the mode (inclusive: 15.0 minutes is inside).",
    "每个表一个出行时间圈：指定类别设施在 threshold_min 分钟内可达的居民比例（含边界）。",
    (
        Key(
            "id",
            RULE_ID,
            "Rule id (output columns are named by it)",
            "规则编号",
            required=True,
            example="medical_walk_15",
        ),
        Key(
            "name_zh",
            NAME,
            "Chinese name",
            "中文名称",
            default_from="id",
            example="15分钟步行可达医疗卫生机构",
        ),
        Key(
            "name_en",
            NAME,
            "English name",
            "英文名称",
            default_from="id",
            example="Medical facility within a 15-minute walk",
        ),
        Key(
            "categories",
            ListOf(NAME, single=True, non_empty=True),
            "Facility categories or groups (medical, fitness …; see geoplan.taxonomy)",
            "设施类别或类组",
            required=True,
            example=["medical"],
        ),
        Key("mode", OneOf(MODES), "Travel mode", "出行方式", required=True, example="walk"),
        Key(
            "threshold_min",
            Number(0, 240, low_open=True),
            "Travel time limit (inclusive)",
            "出行时间上限（含）",
            required=True,
            unit="minutes",
            example=15,
            aliases=("threshold", "minutes", "time_min"),
        ),
        Key(
            "target_share",
            Number(0, 1),
            "The plan's target share of residents (1.0 = 100 %; absent: reported only)",
            "规划目标比例（1.0 即 100%）",
            aliases=("target",),
            example=1.0,
        ),
    ),
    required=True,
    shape="array",
)


def _limit(name: str, en: str, zh: str, unit: str) -> Key:
    from ..limits import DEFAULTS, ENV_PREFIX

    return Key(
        name,
        Number(1, integer=True),
        f"{en}; default {DEFAULTS[name]:,}, or the environment variable {ENV_PREFIX}{name.upper()}",
        zh,
        unit=unit,
        example=DEFAULTS[name],
    )


LIMITS = Table(
    "limits",
    "上限",
    "Bounds on the work a run may do: each size is estimated before the work and refused above "
    "its limit (maps aggregate instead). A key here wins over the environment variable "
    "GEOPLAN_LIMIT_<NAME>, which wins over the default.",
    "运行工作量上限：先估算规模，超过上限即拒绝（地图则改为汇总显示）。此处的值优先于环境变量。",
    (
        _limit(
            "demand_points",
            "Most demand points (lines spread every spacing_m, raster cells, points, polygons)",
            "需求点数上限",
            "points",
        ),
        _limit(
            "raster_cells",
            "Most cells of a population raster read at once",
            "栅格像元数上限",
            "cells",
        ),
        _limit("grid_cells", "Most cells of a sites --grid", "选址网格数上限", "cells"),
        _limit(
            "matrix_pairs",
            "Most (demand point, facility) pairs of a travel-time table (2SFCA, siting)",
            "出行时间表对数上限",
            "pairs",
        ),
        _limit(
            "xlsx_cells",
            "Most cells of a worksheet read (rows × the table's columns)",
            "工作表单元格数上限",
            "cells",
        ),
        _limit(
            "map_facilities",
            "Most facility markers on a map (more are shown per grid cell)",
            "地图设施标记数上限（超过则按网格汇总）",
            "markers",
        ),
        _limit(
            "map_points",
            "Most resident points or gap areas per rule on a map (more: coarser cells, or the "
            "largest)",
            "地图每条规则的居民点或缺口区域数上限",
            "features",
        ),
    ),
)

PROJECT_FILE = FileSchema(
    "project file",
    "A project: the area, its inputs and the rules to check.",
    "项目文件：区域、输入数据与核查规则。",
    (PROJECT, NETWORK, DEMAND, FACILITIES, BOUNDARY, UNITS, GEOCODE, GAPS, MAP, LIMITS, RULE),
)

# --------------------------------------------------------------------------- scenario, batch

MOVE = Table(
    "scenario.move",
    "迁址",
    "A facility moved to a new position.",
    "迁址的设施。",
    (
        Key("id", NAME, "Facility id", "设施编号", required=True, example="TCS-CHC-01"),
        Key(
            "lon",
            Number(-180, 180),
            "New longitude (WGS84, or the [scenario] crs)",
            "新经度",
            required=True,
            unit="degrees",
            example=115.01506,
        ),
        Key(
            "lat",
            Number(-90, 90),
            "New latitude (WGS84, or the [scenario] crs)",
            "新纬度",
            required=True,
            unit="degrees",
            example=30.201168,
        ),
    ),
    shape="array",
)

SCENARIO = Table(
    "scenario",
    "情景",
    "A what-if scenario on a project: facilities added, closed or moved.",
    "情景：新增、关闭或迁址设施。",
    (
        Key("project", PATH, "The project file", "项目文件", required=True, example="project.toml"),
        Key("name_zh", Text(), "Chinese name of the scenario", "情景中文名", ""),
        Key("name_en", Text(), "English name of the scenario", "情景英文名", ""),
        Key(
            "add",
            PATH,
            "Facility file with facilities to add",
            "新增设施文件",
            example="new_clinics.csv",
        ),
        Key("close", ListOf(NAME, single=True), "Ids of facilities to close", "关闭的设施编号", []),
        Key("move", Tables(MOVE), "Facilities to move ([[scenario.move]])", "迁址设施", []),
        Key(
            "crs",
            Text(check=_facility_crs_problem),
            "Coordinate system of the add file and the moves: wgs84, cgcs2000, gcj02 (高德/腾讯), "
            "bd09 (百度) or an EPSG code (default: wgs84; the command line's --crs wins)",
            "新增设施文件与迁址坐标的坐标系（默认 wgs84）",
            aliases=("coordinate_system", "srs", "epsg", "坐标系"),
            example="gcj02",
        ),
    ),
    required=True,
)

SCENARIO_FILE = FileSchema(
    "scenario file",
    "A scenario file (geoplan scenario FILE): one [scenario] table.",
    "情景文件：一个 [scenario] 表。",
    (SCENARIO,),
    extra={"scenario.move": MOVE},
)

AREAS = Table(
    "areas",
    "区域",
    "One area per table: a project file.",
    "每个表一个区域（项目文件）。",
    (
        Key(
            "project",
            PATH,
            "The area's project file",
            "项目文件",
            required=True,
            example="qinnan.toml",
        ),
        Key(
            "slug",
            NAME,
            "Output folder name (default: the file's stem)",
            "输出文件夹名",
            example="qinnan",
        ),
    ),
    shape="array",
)

BATCH = Table(
    "batch",
    "模板切分",
    "A template project split by the polygons of a layer: one area per polygon.",
    "按面图层切分模板项目：每个面一个区域。",
    (
        Key(
            "template",
            PATH,
            "The template project file",
            "模板项目",
            required=True,
            example="county.toml",
        ),
        Key(
            "units",
            PATH,
            "Polygon layer: one area per polygon",
            "面图层",
            required=True,
            example="townships.geojson",
        ),
        Key("name_column", NAME, "Column with area names", "区域名称字段", example="name"),
        Key("code_column", NAME, "Column with area codes", "区域代码字段", example="code"),
    ),
)

BATCH_FILE = FileSchema(
    "batch file",
    "A batch file (geoplan batch FILE): [[areas]] tables and/or a [batch] table.",
    "批处理文件：[[areas]] 表和/或 [batch] 表。",
    (AREAS, BATCH),
)


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
                    f"see {DOC_PATH.parent.name}/{DOC_PATH.name} / "
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
        if name not in names and name not in extra:
            raise ConfigError(_unknown_key(prefix, name, label, table))
    out: dict[str, Any] = {name: raw[name] for name in raw if name in extra}
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
                expected = exc.args[0] if exc.args else _type_text(key)
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


def check_value(table: Table, name: str, value: Any, *, where: str) -> Any:
    """One value given outside a file (a command-line option) checked as ``table``'s key
    ``name`` would be; ``where`` names it in the message (``--walk-speed``)."""
    key = table.key(name)
    try:
        return key.kind.parse(value)
    except _Invalid as exc:
        expected = exc.args[0] if exc.args else _type_text(key)
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
    return (*PROJECT_FILE.tables, *SCENARIO_FILE.tables, *BATCH_FILE.tables, MOVE)


def _first_sentence(text: str) -> str:
    return text.split(". ")[0].rstrip(".").lower()


# --------------------------------------------------------------------------- documentation


def _toml(value: Any) -> str:
    """A TOML literal of a simple value."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value == int(value):
        return str(int(value))
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, list):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k} = {_toml(v)}" for k, v in value.items()) + "}"
    raise TypeError(f"no TOML literal for {value!r}")


def _type_text(key: Key) -> str:
    if isinstance(key.kind, Tables):
        return key.kind.describe()
    return key.kind.describe(key.unit)


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _table_markdown(table: Table, file_name: str) -> list[str]:
    need = "required" if table.required else "optional"
    shape = {"array": "; one or more", "table_or_array": "; one table, or one per file"}
    lines = [
        f"### `{table.title}` {table.short_zh} ({need}{shape.get(table.shape, '')})",
        "",
        f"{table.en}",
        "",
        f"{table.zh}",
        "",
        "| key | value | default | meaning | 说明 |",
        "| --- | --- | --- | --- | --- |",
    ]
    for key in table.keys:
        meaning = key.en
        if key.applies:
            meaning += f" *(for {', '.join(key.applies)})*"
        lines.append(
            f"| `{key.name}` | {_cell(_type_text(key))} | {_cell(key.default_text())} | "
            f"{_cell(meaning)} | {_cell(key.zh)} |"
        )
    lines.append("")
    return lines


def reference_markdown() -> str:
    """``docs/project-file.md``: every table and key of the project, scenario and batch files."""
    lines = [
        "# Project files / 项目文件",
        "",
        "<!-- Generated from geoplan/workflows/config.py by "
        "`python -m geoplan.workflows.config`; do not edit by hand (a test compares this file "
        "with the schema). -->",
        "",
        "A project file is TOML (UTF-8). Paths are relative to the file, absolute, "
        "`geoplan:…` (a file that ships with geoplan: `data/` in the repository, e.g. "
        "`geoplan:osm/huangshi_tuanchengshan_all_2022.graphml.gz`) or `shared:…` (read from "
        "the shared data folder, `$GEOPLAN_SHARED_DATA`). Every key "
        "below is checked when the file is read: an unknown key is an error naming the "
        "closest known one (`walk_speed`: unknown key in [network]; did you mean "
        "`walk_speed_m_per_min`?), and a value of the wrong type or out of range is an "
        "error naming the file, the table and the key. `geoplan init` writes a commented "
        "project to start from; `data/demo/tuanchengshan.toml` is a worked example.",
        "",
        "项目文件为 UTF-8 编码的 TOML。读取时检查每个键：未知键报错并提示最接近的键名，类型或取值"
        "范围错误时报错并指出文件、表与键。",
        "",
        "Numbers must be finite; ranges are inclusive unless they say *above*/*below*.",
        "",
    ]
    for schema in (PROJECT_FILE, SCENARIO_FILE, BATCH_FILE):
        lines += [f"## {schema.name.capitalize()} — {schema.zh.split('：')[0]}", ""]
        lines += [schema.en, "", schema.zh, ""]
        for table in (*schema.tables, *schema.extra.values()):
            lines += _table_markdown(table, schema.name)
    return "\n".join(lines).rstrip() + "\n"


# --------------------------------------------------------------------------- the template

_WIDTH = 98


def _comment(text: str, width: int = _WIDTH) -> list[str]:
    """``text`` as ``# `` comment lines (``width`` counts characters: halve it for Chinese)."""
    return textwrap.wrap(
        text, width, initial_indent="# ", subsequent_indent="# ", break_on_hyphens=False
    ) or ["#"]


def _key_lines(key: Key, value: Any, active: bool) -> list[str]:
    about = f"{key.en}. {_type_text(key).capitalize()}"
    if key.default is None and key.default_from is None:
        about += "; required" if key.required else "; optional"
    else:
        about += f"; default {key.default_text()}"
    lines = _comment(key.zh, _WIDTH // 2) + _comment(about + ".")
    for shown in (value, key.example, key.default):
        if shown is not None:
            break
    text = f"{key.name} = {_toml(shown)}"
    lines.append(text if active else f"# {text}")
    return lines


def project_template(
    *,
    header: Sequence[str],
    values: Mapping[str, Mapping[str, Any]],
    comments: Mapping[str, Sequence[str]] | None = None,
    rules: str | None = None,
) -> str:
    """A fully commented project file generated from the schema.

    ``values`` gives the keys written active (``{"project": {"area": "某县"}}``); a table with
    values, or a required table, is written active with its required keys (examples where no
    value is given); every other key, and every optional table without values, is written
    commented out with its meaning, type, range and default. ``comments`` adds lines under a
    table's heading; ``rules`` replaces the commented example rule with ready ``[[rules]]``
    text.
    """
    comments = comments or {}
    lines = [f"# {h}" if h else "#" for h in header]
    for table in PROJECT_FILE.tables:
        if table is RULE and rules is not None:
            lines += ["", rules.rstrip()]
            continue
        given = values.get(table.name)
        active = table.required or given is not None
        lines += ["", f"# ---- {table.title} {table.short_zh}"]
        lines += _comment(table.zh, _WIDTH // 2) + _comment(table.en)
        lines += [f"# {c}" if c else "#" for c in comments.get(table.name, ())]
        title = table.title if table.shape != "table_or_array" else f"[{table.name}]"
        lines.append(title if active else f"# {title}")
        for key in table.keys:
            value = (given or {}).get(key.name)
            key_active = active and (value is not None or key.required)
            lines += _key_lines(key, value, key_active)
    return "\n".join(lines).rstrip() + "\n"


# --------------------------------------------------------------------------- command line


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m geoplan.workflows.config [--check] [PATH]``: write (or compare) the reference."""
    args = list(sys.argv[1:] if argv is None else argv)
    check = "--check" in args
    paths = [a for a in args if a != "--check"]
    path = Path(paths[0]) if paths else DOC_PATH
    text = reference_markdown()
    if check:
        current = path.read_text(encoding="utf-8") if path.exists() else ""
        if current != text:
            print(f"{path} is out of date: run python -m geoplan.workflows.config", file=sys.stderr)
            return 1
        return 0
    path.write_text(text, encoding="utf-8")
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
