"""The project file's schema: every table and key with its type, unit, range, default and meaning.

The language of the definitions (kinds, :class:`~geoplan.schema.Key`,
:class:`~geoplan.schema.Table`, validation with did-you-mean) is :mod:`geoplan.schema`.

One declarative definition (:data:`PROJECT_FILE`, :data:`SCENARIO_FILE`, :data:`BATCH_FILE`)
from which

* :func:`geoplan.schema.validate` checks a parsed TOML file and fills in the defaults
  (``load_project``, the scenario and batch readers and ``rule_from_mapping`` call it):
  unknown keys are errors with the closest known key suggested, wrong types, ranges and
  shapes are one line naming the file, the table and the key;
* :func:`reference_markdown` writes ``docs/project-file.md``
  (``python -m geoplan.workflows.config [--check]``);
* :func:`project_template` writes the fully commented project of ``geoplan init``.

Adding a key: one :class:`Key` in its table below (name, kind with range and unit, default,
meaning in en and zh), then read it where it is used (``project.network["my_key"]``: the
validated tables are plain dicts with the defaults filled) and regenerate the documentation.
"""

from __future__ import annotations

import argparse
import codecs
import difflib
import math
import re
import sys
import textwrap
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from .._compressed import is_graphml
from .._paths import REPO_ROOT
from ..analysis.rules import RULE, RULE_ID_PATTERN
from ..errors import ConfigError
from ..plans.packs import LEVELS, ROLES
from ..readers.access import PRIVATE_WAYS
from ..readers.elevation import DEM_MISSING
from ..readers.facilities import DEFAULT_BOUNDARY_TOLERANCE_M
from ..readers.network import (
    DEFAULT_WALK_SPEED_M_PER_MIN,
    SPEED_CLASSES,
    SPEED_TABLE_MODES,
)
from ..schema import (
    REFERENCE,
    AnyOf,
    AnyText,
    FileSchema,
    Flag,
    Key,
    ListOf,
    Number,
    OneOf,
    Table,
    Tables,
    Text,
    TextOrIndex,
    TextTable,
    describe_kind,
    toml_literal,
)

__all__ = [
    "BATCH_FILE",
    "CONGESTION",
    "DEFAULT_AREA_TOLERANCE_M",
    "DEFAULT_GAP_CELL_M",
    "DEFAULT_MAX_SNAP_M",
    "DOC_PATH",
    "LIMITS",
    "NATIONAL",
    "OUTPUTS",
    "PROJECT_FILE",
    "ROLES_TABLE",
    "SCENARIO_FILE",
    "SENSITIVITY",
    "SENSITIVITY_MAX_RUNS",
    "SERVICE_AREAS",
    "SPEEDS",
    "main",
    "project_template",
    "reference_markdown",
]

DEFAULT_MAX_SNAP_M = 500.0
"""``[facilities] max_snap_m`` when not given."""
DEFAULT_GAP_CELL_M = 500.0
"""``[gaps] cell_m`` when not given."""
DEFAULT_AREA_TOLERANCE_M = 100.0
"""``[boundary]``/``[units] tolerance_m`` when not given (as facilities' boundary tolerance)."""
DOC_PATH = REPO_ROOT / REFERENCE


def _encoding_problem(value: str) -> str | None:
    try:
        codecs.lookup(value)
    except LookupError:
        return "a text encoding Python knows (utf-8, gbk, gb18030, utf-16 …)"
    return None


def _facility_crs_problem(value: str) -> str | None:
    from ..readers.facilities import parse_declared_crs  # the facility reader's own parser of crs=

    try:
        parse_declared_crs(value)
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
    from ..rendering.map_options import LANGS

    return LANGS


def _basemaps() -> tuple[str, ...]:
    from ..rendering.map_options import BASEMAPS

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
ID_PREFIX = Text(r"[^\s,:=]+", "a short name without spaces, commas, colons or =")


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


def _check_facility_mappings(table: dict, where: str) -> None:
    """``columns`` names known fields, ``categories`` maps to taxonomy keys."""
    from ..taxonomy import CATEGORIES, COLUMN_ALIASES

    for name in table.get("columns", {}):
        if name not in COLUMN_ALIASES:
            near = difflib.get_close_matches(name, list(COLUMN_ALIASES), n=1)
            hint = f"; did you mean `{near[0]}`?" if near else ""
            raise ConfigError(
                f"{where} columns: `{name}` is not a field{hint} (fields: "
                f"{', '.join(COLUMN_ALIASES)}) / 列对应中的字段名无效"
            )
    for text, key in table.get("categories", {}).items():
        if key not in CATEGORIES:
            near = difflib.get_close_matches(key, list(CATEGORIES), n=1)
            hint = f"; did you mean `{near[0]}`?" if near else ""
            raise ConfigError(
                f"{where} categories: {text!r} = {key!r} is not a category key{hint} "
                "(geoplan.taxonomy.CATEGORIES) / 类型对应的分类键无效"
            )


def _check_geocode(table: dict, where: str) -> None:
    if not table.get("admin") and not table.get("osm"):
        raise ConfigError(
            f"{where}: needs `admin` layers or `osm` files (the gazetteer sources) / "
            "须提供 admin 行政区图层或 osm 文件"
        )


SPEED = AnyOf((Number(0, 200, low_open=True), OneOf(("no",))))
"""A cell of a ``[speeds.<mode>]`` table: km/h, or ``"no"`` (the mode may not use the class)."""


def _check_speeds(table: dict, where: str) -> None:
    """Every class of a ``[speeds.<mode>]`` table is a road class (did-you-mean otherwise)."""
    for mode, speeds in table.items():
        for cls in speeds:
            if cls in SPEED_CLASSES:
                continue
            close = difflib.get_close_matches(cls, SPEED_CLASSES, n=1, cutoff=0.6)
            hint = f"; did you mean `{close[0]}`?" if close else ""
            zh = f"，应为 `{close[0]}`？" if close else ""
            raise ConfigError(
                f"{where.removesuffix('[speeds]')}[speeds.{mode}] `{cls}`: not a road class"
                f"{hint} (OSM highway values such as residential, track, or `other` for "
                f"classes not in the table) / 未知的道路等级 `{cls}`{zh}"
            )


SENSITIVITY_MAX_RUNS = 64
"""Most parameter combinations a ``[sensitivity]`` table may ask for."""


def _check_sensitivity(table: dict, where: str) -> None:
    varied = [table.get(k) for k in ("walk_speed_m_per_min", "speed_factor")]
    if not any(varied):
        raise ConfigError(
            f"{where}: name walk_speed_m_per_min and/or speed_factor values to vary / "
            "须给出 walk_speed_m_per_min 或 speed_factor 的取值"
        )
    runs = math.prod(len(v) for v in varied if v)
    if runs > SENSITIVITY_MAX_RUNS:
        raise ConfigError(
            f"{where}: {runs} combinations of values; at most {SENSITIVITY_MAX_RUNS} / "
            f"取值组合过多（{runs} 个）"
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
        Key(
            "dem",
            PATH,
            "Elevation raster (GeoTIFF, SRTM .hgt or .hgt.zip …, metres): walking follows "
            "Tobler's hiking function of each edge's grade in the direction of travel (uphill "
            "slower than downhill; flat ground keeps walk_speed_m_per_min); edges tagged "
            "bridge or tunnel keep grade 0 (see geoplan/readers/elevation.py)",
            "数字高程模型（米）：步行速度按托布勒徒步函数随坡度变化（上坡慢于下坡，平地为步行速度）；"
            "桥梁与隧道按平地计",
            aliases=("elevation", "dem_path", "srtm"),
            example="srtm_N29E115.hgt.zip",
        ),
        Key(
            "dem_sample_m",
            Number(1, 10_000),
            "Also sample the DEM along edges longer than this (each piece at its own grade); "
            "default: the grade between an edge's end nodes only",
            "沿长于该值的路段加密采样高程（默认只用路段两端节点的坡度）",
            unit="m",
            aliases=("dem_sample", "dem_spacing_m"),
            example=30,
        ),
        Key(
            "dem_missing",
            OneOf(DEM_MISSING),
            "Nodes outside the DEM or on its nodata cells: refuse (the default), or count "
            "their edges as flat (reported in summary.json and as a warning)",
            "节点位于高程数据范围外或无数据处：refuse 拒绝运行；flat 按平地计并报告",
            DEM_MISSING[0],
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
        Key(
            "columns",
            TextTable(AnyText()),
            "Column mapping: field → the file's header for it (fields: facility_id, name, "
            'category, lon, lat, lonlat, address, beds, doctors, nurses, crs; "" = the file has '
            "no such column); fields left out are recognised by their header "
            "(`geoplan serve` writes it)",
            '列对应：字段 → 文件中的表头（"" 表示无此列）；未列出的字段按表头自动识别',
            example={"name": "机构名称", "category": "机构类别"},
            aliases=("column_mapping", "mapping", "headers"),
        ),
        Key(
            "categories",
            TextTable(Text()),
            "Category mapping: a type as written in the file → a taxonomy key "
            "(geoplan.taxonomy.CATEGORIES), used before the taxonomy's own names",
            "类型对应：文件中的类型写法 → 分类键（优先于内置别名）",
            example={"卫生服务中心": "community_health_centre"},
            aliases=("category_mapping", "types"),
        ),
        _credit("facility list", "none (your own data)", "设施名录"),
    ),
    required=True,
    shape="table_or_array",
    check=_check_facility_mappings,
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
            "type_column",
            NAME,
            "Column with each unit's type (e.g. 街道/乡镇, urban/rural) for rules with "
            "modes_by_unit_type",
            "单元类型字段（如 街道/乡镇），供按单元类型选择出行方式的规则使用",
            aliases=("type", "unit_type", "kind_column"),
            example="类型",
        ),
        Key(
            "level",
            OneOf(tuple(LEVELS)),
            "Administrative level of the units",
            "单元行政级别",
            example="township",
        ),
        Key(
            "type_column",
            NAME,
            "Column saying whether a unit is urban or rural: urban/rural, 城镇/城区/街道 or "
            "乡村/农村/乡镇, or the NBS 城乡分类代码 (1xx 城镇: 111, 112, 121, 122, 123; 2xx 乡村: "
            "210, 220); rules may then judge them differently (threshold_by_type, "
            "modes_by_unit_type) and plan checks split every figure urban/rural (a blank cell: "
            "the unit is in neither group; any other value is an error)",
            "单元城乡类型字段：urban/rural、城镇/城区/街道、乡村/农村/乡镇，或国家统计局城乡分类代码"
            "（1 开头为城镇，2 开头为乡村）；规则可按类型设阈值或出行方式，规划核查据此分城乡统计",
            aliases=("urban_rural_column", "type", "urban_rural", "城乡分类代码", "kind_column"),
            example="城乡分类代码",
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

PER_POINT_CHOICES = ("auto", "always", "never")
"""``[outputs] per_point``: by size (``per_point_max_points``), always, or never."""
PER_POINT_FORMATS = ("csv", "parquet")
"""``[outputs] per_point_format``."""
DEFAULT_PER_POINT_MAX_POINTS = 500_000
"""``[outputs] per_point_max_points`` when not given."""

OUTPUTS = Table(
    "outputs",
    "输出",
    "Which result files a run writes. The per-point tables (coverage_points.csv, one row per "
    "demand point, and the uncovered_points layer of gaps.gpkg) are written up to "
    'per_point_max_points demand points; above, only when asked (per_point = "always"), and '
    "the run says so (a warning, and per_point_outputs in summary.json). The aggregated "
    "tables (coverage_by_unit.csv, gaps.csv/.xlsx/.gpkg layer gaps) are always written and "
    "their figures do not depend on these keys.",
    "运行写出哪些结果文件。逐点表（coverage_points.csv，每个需求点一行；gaps.gpkg 的 "
    "uncovered_points 图层）在需求点数不超过 per_point_max_points 时写出；超过时仅在要求时写出"
    '（per_point = "always"），并在警告与 summary.json 的 per_point_outputs 中说明。汇总表'
    "（按单元、缺口）始终写出，其数字不受这些设置影响。",
    (
        Key(
            "per_point",
            OneOf(PER_POINT_CHOICES),
            "Per-point tables: auto (up to per_point_max_points demand points), always, never",
            "逐点表：auto（不超过 per_point_max_points 个需求点时写出）、always（总是）、"
            "never（从不）",
            "auto",
        ),
        Key(
            "per_point_max_points",
            Number(1, integer=True),
            "With per_point = auto, the most demand points whose per-point tables are written",
            "per_point = auto 时写出逐点表的需求点数上限",
            DEFAULT_PER_POINT_MAX_POINTS,
            unit="points",
        ),
        Key(
            "per_point_format",
            OneOf(PER_POINT_FORMATS),
            "csv: coverage_points.csv and the uncovered_points layer of gaps.gpkg; parquet: "
            "coverage_points.parquet instead (GeoParquet, WGS84 points, the same columns; the "
            "uncovered points are its rows with a <rule>_covered false), several times faster",
            "csv：coverage_points.csv 与 gaps.gpkg 的 uncovered_points 图层；parquet：改写 "
            "coverage_points.parquet（GeoParquet，WGS84 点，列相同；未覆盖点即某规则 _covered 为 "
            "false 的行），快数倍",
            "csv",
        ),
    ),
)

SPEEDS = Table(
    "speeds",
    "速度表",
    "Speeds of the vehicle modes by road class, replacing the defaults of "
    "geoplan/readers/network.py cell by cell: one [speeds.<mode>] table per mode (bike, ebike, "
    "motorcycle, drive), e.g. [speeds.ebike] with tertiary = 18 and track = 12; a speed opens "
    'a class the default table closes, "no" closes one. Walking has one speed, [network] '
    "walk_speed_m_per_min.",
    "各交通方式按道路等级的速度（公里/小时），逐项替换默认速度表：每种方式一个 [speeds.<方式>] "
    '表；给出速度即开放该等级，"no" 为禁止通行。步行速度见 [network] walk_speed_m_per_min。',
    tuple(
        Key(
            mode,
            TextTable(SPEED),
            f"[speeds.{mode}]: {mode} speeds by road class (OSM highway values, `other` for "
            'classes not in the table; "no" closes a class)',
            f"[speeds.{mode}]：{zh}分道路等级速度",
            unit="km/h",
            example=example,
        )
        for mode, zh, example in zip(
            SPEED_TABLE_MODES,
            ("自行车", "电动自行车", "摩托车", "驾车"),
            (
                {"residential": 12},
                {"residential": 18, "track": 12},
                {"track": 25},
                {"primary": 40, "residential": 20},
            ),
            strict=True,
        )
    ),
    check=_check_speeds,
    unknown_hint=(
        " (walking has one speed: [network] walk_speed_m_per_min; speed tables are for "
        "bike, ebike, motorcycle and drive)"
    ),
)

SENSITIVITY = Table(
    "sensitivity",
    "敏感性分析",
    "Rerun every rule with other speeds and report each share as a band (min–max) in "
    "summary.json, the console and the report: every combination of the values given (the "
    "network, snapping and units are reused; only the engine passes repeat).",
    "以不同速度重算各规则，覆盖率以区间（最小–最大）报告于 summary.json、控制台与报告；"
    "取值两两组合，路网与接入点复用，仅重复路径计算。",
    (
        Key(
            "walk_speed_m_per_min",
            ListOf(Number(20, 150), non_empty=True, distinct=True),
            "Walking speeds to try (Chinese plans use 60–80 m/min); also the speed of every "
            "mode's access legs",
            "步行速度取值（规划常用 60–80 米/分钟），也用于各方式的接驳步行段",
            unit="m/min",
            example=[60, 70, 80],
            aliases=("walk_speed", "walk_speeds", "walking_speed"),
        ),
        Key(
            "speed_factor",
            ListOf(Number(0.1, 5), non_empty=True, distinct=True),
            "Factors every speed of the vehicle modes' tables is multiplied by (bike, ebike, "
            "motorcycle, drive; 1 = the tables as they are)",
            "车辆速度表整体乘数（自行车、电动自行车、摩托车、驾车；1 为原速度）",
            example=[0.8, 1.0, 1.2],
            aliases=("speed_factors", "factor", "factors"),
        ),
    ),
    check=_check_sensitivity,
)


def _role_keys() -> tuple[Key, ...]:
    return tuple(
        Key(
            role,
            ListOf(NAME, single=True, distinct=True),
            f"Ids of the facilities designated {en} (as the used facilities name them: "
            "`<id_prefix>:<id>` with several facility files); a truthy column of the facility "
            "file named in the plan pack designates them too",
            f"指定为{zh}的设施编号",
            example=example,
        )
        for role, (zh, en, example) in ROLES.items()
    )


ROLES_TABLE = Table(
    "roles",
    "设施角色",
    "Roles the plans give some facilities (a county sub-centre, the lead hospital of the "
    "medical community …) that no facility type says: the ids of the designated facilities. "
    "Plan packs' sub-centre and referral rules read them (a facility is also designated by "
    "a truthy column of its file, e.g. 次中心 = 是).",
    "规划赋予部分设施的角色（县域医疗次中心、医共体牵头医院等）：列出被指定设施的编号。",
    _role_keys(),
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
        _limit(
            "service_area_features",
            "Most service-area polygons of a run (areas × bands, every rule of [service_areas])",
            "服务范围多边形数上限",
            "polygons",
        ),
        _limit(
            "batch_areas",
            "Most counties (tasks) of one national batch (geoplan batch --national)",
            "全国批量运行的区县数上限",
            "counties",
        ),
    ),
)

RULE_ID = Text(RULE_ID_PATTERN.pattern, "an id: a letter, then letters, digits or _")

CONGESTION = Table(
    "congestion",
    "拥堵",
    "Speed factors per road class for a time of day, each a profile a rule names with "
    '`congestion = "<profile>"`: e.g. `peak = {primary = 0.6, secondary = 0.7}` drives '
    "primary roads at 60 % of the speed table's speed (the project's [speeds.<mode>] where "
    "given, else geoplan/readers/network.py's); classes not named keep their speed, `other` "
    "names the classes missing from the table. Vehicle modes only: walking is not slowed.",
    "按时段的道路等级速度系数（拥堵情景）：规则以 congestion 引用，如 peak = {primary = 0.6} "
    "即主干道按速度表的 60% 计。",
    (),
    free_keys=Key(
        "profile",
        TextTable(Number(0, 2, low_open=True), names=SPEED_CLASSES, non_empty=True),
        "A congestion profile: OSM road class → factor multiplying its speed (above 0, at most 2)",
        "拥堵情景：道路等级 → 速度系数（大于 0，至多 2）",
        example=("peak", {"primary": 0.6, "secondary": 0.7, "tertiary": 0.8}),
    ),
)

SERVICE_AREAS = Table(
    "service_areas",
    "服务范围",
    "Service areas (服务范围) as polygons: the streets reachable within each band, cut at the "
    "band's exact edge and buffered by width_m, dissolved per facility (or catchment, "
    "category, rule) and band; written to service_areas.gpkg (one layer per rule, WGS84) and "
    "drawn on the map as a layer per rule (off until switched on). Display layers: coverage "
    "stays decided per resident.",
    "服务范围（多边形）：各时间段内可达的街道（在段界处精确截断）按 width_m 缓冲后按设施（或片区、"
    "类别、规则）与时间段合并；写入 service_areas.gpkg（每条规则一层，WGS84），并作为地图图层。"
    "仅供展示：覆盖率仍按每位居民计算。",
    (
        Key(
            "rules",
            ListOf(RULE_ID, single=True, non_empty=True, distinct=True),
            "Rules whose service areas are drawn (default: every rule of one travel mode; a "
            "rule of several modes has no one street network to draw)",
            "绘制服务范围的规则（默认为全部单一出行方式的规则；多种出行方式的规则无法绘制）",
            example=["medical_walk_15"],
        ),
        Key(
            "bands_min",
            ListOf(Number(0, 240, low_open=True), single=True, non_empty=True, distinct=True),
            "Time bands (each polygon holds everything within its band: 5 includes less than "
            "10); default: each rule's street bands, ⅓, ⅔ and 1 × its threshold",
            "时间段（分钟；每个多边形含该时间内可达的全部范围）；默认为规则阈值的 ⅓、⅔ 与 1 倍",
            unit="minutes",
            example=[5, 10, 15],
            aliases=("bands", "minutes"),
        ),
        Key(
            "per",
            OneOf(("facility", "catchment", "category", "rule")),
            "facility: each facility's own reach (areas overlap); catchment: the part where the "
            "facility is the nearest (片区, no overlap); category: reach of all facilities of "
            "a category together; rule: of all the rule's facilities together",
            "facility：每个设施各自的可达范围（可重叠）；catchment：以该设施为最近设施的范围（片区，"
            "不重叠）；category：同类设施合并；rule：规则的全部设施合并",
            "facility",
        ),
        Key(
            "width_m",
            Number(1, 1000),
            "Buffer around the reached streets: the polygon is every point within this "
            "distance of a street point reached within the band",
            "可达街道的缓冲宽度：多边形为距可达街道该距离以内的范围",
            50.0,
            unit="m",
            aliases=("buffer_m", "width", "buffer"),
        ),
    ),
)


PROJECT_FILE = FileSchema(
    "project file",
    "A project: the area, its inputs and the rules to check.",
    "项目文件：区域、输入数据与核查规则。",
    (
        PROJECT,
        NETWORK,
        SPEEDS,
        DEMAND,
        FACILITIES,
        BOUNDARY,
        UNITS,
        ROLES_TABLE,
        GEOCODE,
        GAPS,
        CONGESTION,
        SERVICE_AREAS,
        MAP,
        OUTPUTS,
        SENSITIVITY,
        LIMITS,
        RULE,
    ),
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

NATIONAL = Table(
    "national",
    "全国批量",
    "A national run (geoplan batch FILE, or geoplan batch --national): a template project "
    "whose [network] (OSM PBF or road lines), [demand] (population raster or points) and "
    "[facilities] (the facility registry, every column of which each county's facility file "
    "keeps) cover the country or a province, cut into one run per county. Command-line "
    "flags (--national, --counties, --boundaries, --buffer-m, --workers, --scheduler, --out) "
    "override these keys.",
    "全国批量运行：模板项目的路网、人口与设施登记表为全国（或全省）数据，按区县切分，每区县"
    "运行一次；命令行参数优先于这些键。",
    (
        Key(
            "template",
            PATH,
            "The national template project file (no [boundary] or [units]; one [facilities])",
            "全国模板项目",
            required=True,
            example="national.toml",
        ),
        Key(
            "counties",
            ListOf(NAME, single=True, non_empty=True),
            'The counties: "all", or adcodes (a list, or one comma-separated text); with '
            "boundaries, the codes of its polygons",
            '区县："all" 或区划代码列表',
            example=["445102", "445103"],
        ),
        Key(
            "counties_file",
            PATH,
            "A text file of adcodes, one per line (# starts a comment); instead of counties",
            "区划代码清单文件（每行一个），可代替 counties",
            example="counties.txt",
        ),
        Key(
            "boundaries",
            PATH,
            "Polygon layer of the counties (default: the registry of every county of China, "
            "geoplan[counties])",
            "区县面图层（默认：内置全国区县）",
            example="counties.gpkg",
        ),
        Key("name_column", NAME, "Column of the boundaries' names", "名称字段", example="name"),
        Key("code_column", NAME, "Column of the boundaries' codes", "代码字段", example="code"),
        Key(
            "buffer_m",
            Number(0, 1_000_000),
            "Travel buffer around each county: its streets and facilities are cut that far "
            "beyond its edge (default: the rules' farthest reach)",
            "区县外扩距离（默认：规则最远可达距离）",
            unit="m",
            example=12000,
        ),
        Key(
            "workers",
            Number(1, 10_000, integer=True),
            "Workers of the local Dask cluster (default: min(CPUs, counties))",
            "本地工作进程数",
            example=4,
        ),
        Key(
            "scheduler",
            NAME,
            "Address of a running Dask scheduler (default: a local cluster)",
            "Dask 调度器地址",
            example="tcp://10.0.0.5:8786",
        ),
        Key(
            "out",
            Text(pattern_text="a folder path (text; relative to this file, or absolute)"),
            "The national output folder (relative to this file)",
            "全国输出文件夹",
            example="china_2025",
        ),
    ),
)

BATCH_FILE = FileSchema(
    "batch file",
    "A batch file (geoplan batch FILE): [[areas]] tables and/or a [batch] table, or a "
    "[national] table.",
    "批处理文件：[[areas]] 表和/或 [batch] 表，或 [national] 表。",
    (AREAS, BATCH, NATIONAL),
)


# --------------------------------------------------------------------------- documentation


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
            f"| `{key.name}` | {_cell(describe_kind(key))} | {_cell(key.default_text())} | "
            f"{_cell(meaning)} | {_cell(key.zh)} |"
        )
    if table.free_keys is not None:
        key = table.free_keys
        lines.append(
            f"| *`<{key.name}>`* (any id) | {_cell(describe_kind(key))} | — | "
            f"{_cell(key.en)} | {_cell(key.zh)} |"
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


_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f\x85\u2028\u2029]")


def _comment_line(text: str) -> str:
    """``# text`` on one line: line breaks and control characters (user text such as an area
    name) become spaces, so a comment can never end early and start TOML of its own."""
    text = _CONTROL.sub(" ", str(text))
    return f"# {text}".rstrip() if text.strip() else "#"


def _comment(text: str, width: int = _WIDTH) -> list[str]:
    """``text`` as ``# `` comment lines (``width`` counts characters: halve it for Chinese)."""
    return textwrap.wrap(
        _CONTROL.sub(" ", text),
        width,
        initial_indent="# ",
        subsequent_indent="# ",
        break_on_hyphens=False,
    ) or ["#"]


def _key_lines(key: Key, value: Any, active: bool) -> list[str]:
    about = f"{key.en}. {describe_kind(key).capitalize()}"
    if key.default is None and key.default_from is None:
        about += "; required" if key.required else "; optional"
    else:
        about += f"; default {key.default_text()}"
    lines = _comment(key.zh, _WIDTH // 2) + _comment(about + ".")
    for shown in (value, key.example, key.default):
        if shown is not None:
            break
    text = f"{key.name} = {toml_literal(shown)}"
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
    commented out with its meaning, type, range and default. A table that may repeat
    (``[[facilities]]``, ``[[rules]]``) takes a list of mappings: one is written as above,
    several as one ``[[name]]`` each with only their keys. ``comments`` adds lines under a
    table's heading; ``rules`` replaces the commented example rule with ready ``[[rules]]``
    text. User text is safe anywhere: values are TOML literals, comments stay one line each.
    """
    comments = comments or {}
    lines = [_comment_line(h) for h in header]
    for table in PROJECT_FILE.tables:
        if table is RULE and rules is not None:
            lines += ["", rules.rstrip()]
            continue
        given = values.get(table.name)
        if isinstance(given, list | tuple) and len(given) == 1 and table is not RULE:
            given = given[0]
        if isinstance(given, list | tuple):
            lines += ["", f"# ---- {table.title} {table.short_zh}"]
            lines += _comment(table.zh, _WIDTH // 2) + _comment(table.en)
            lines += [_comment_line(c) for c in comments.get(table.name, ())]
            for item in given:
                lines += ["", f"[[{table.name}]]"]
                lines += [
                    f"{key.name} = {toml_literal(item[key.name])}"
                    for key in table.keys
                    if item.get(key.name) is not None
                ]
            continue
        if table is RULE:  # a rule needs one of mode, modes, modes_by_unit_type: the example's
            given = {"mode": "walk", **(given or {})}
        active = table.required or given is not None
        lines += ["", f"# ---- {table.title} {table.short_zh}"]
        lines += _comment(table.zh, _WIDTH // 2) + _comment(table.en)
        lines += [_comment_line(c) for c in comments.get(table.name, ())]
        title = table.title if table.shape != "table_or_array" else f"[{table.name}]"
        lines.append(title if active else f"# {title}")
        for key in table.keys:
            value = (given or {}).get(key.name)
            key_active = active and (value is not None or key.required)
            lines += _key_lines(key, value, key_active)
        if table.free_keys is not None:
            key = table.free_keys
            about = f"{key.en}. {describe_kind(key).capitalize()}."
            lines += _comment(key.zh, _WIDTH // 2) + _comment(about)
            lines.append(f"# {key.example[0]} = {toml_literal(key.example[1])}")
    return "\n".join(lines).rstrip() + "\n"


# --------------------------------------------------------------------------- command line


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m geoplan.workflows.config [--check] [PATH]``: write (or compare) the reference."""
    parser = argparse.ArgumentParser(
        prog="python -m geoplan.workflows.config",
        description="Write the project-file reference (every table and key) generated from "
        "the schema.",
    )
    parser.add_argument(
        "path", nargs="?", type=Path, default=DOC_PATH, help=f"default: {DOC_PATH.name}"
    )
    parser.add_argument(
        "--check", action="store_true", help="compare instead of writing; exit 1 when it differs"
    )
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help exits 0, a usage error 2
        return int(exc.code or 0)
    text = reference_markdown()
    if args.check:
        current = args.path.read_text(encoding="utf-8") if args.path.exists() else ""
        if current != text:
            print(
                f"{args.path} is out of date: run python -m geoplan.workflows.config",
                file=sys.stderr,
            )
            return 1
        return 0
    args.path.write_text(text, encoding="utf-8")
    print(f"wrote {args.path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
