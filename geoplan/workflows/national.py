"""The whole country as one Dask job: national inputs cut into county runs, resumable.

:func:`run_national` takes a **national template project** (its ``[network]`` a national or
provincial OSM PBF or road-line layer, its ``[demand]`` a national population raster or point
layer, its ``[facilities]`` the national facility registry, and its rules) and a list of
counties (adcodes, or ``"all"``: every county and district of the registry
``geoplan[counties]``; or the polygons of a ``boundaries`` layer instead of the registry);
:func:`run_national_file` takes the same from a batch file's ``[national]`` table. Each
county is one Dask task that

1. pads the county's polygon by the travel buffer (default :func:`~geoplan.workflows.batch.
   padding_m`: the farthest any rule's trip can reach) and cuts that area out of the national
   PBF (:func:`~geoplan.workflows.fetch.cut_osm`) or road lines; the population raster
   (:func:`~geoplan.workflows.fetch.cut_raster`) or points are cut to the county itself
   (widened by the boundary's 100 m tolerance): residents count only where they live;
2. takes the registry's facilities within the same padded area (the registry is read and
   checked **once**, by the client; its rejects go to ``registry_rejects.csv``; the county's
   file keeps every registry column: see :func:`read_registry`);
3. writes ``inputs/project.toml`` (the template pointed at the cut files and the county's
   boundary) and runs it into the county's folder ``counties/<slug>/``.

**Resumable.** Each county folder is a result folder (:mod:`geoplan.results`): written into a
staging folder and swapped in whole, ``manifest.json`` last. A county whose folder holds a
finished manifest and its ``county.json`` is done and is not recomputed by a later run of the
same command; a county killed mid-way left no manifest and is redone. A county whose cut is
empty or that has no facility within reach is a finished county too (its reason is recorded;
it is never dropped from the national table). An unexpected error is not: it is retried next
time.

At the end (also after failures) the national folder gets ``national_summary.csv`` / ``.xlsx``
(one row per county × rule, plus one row per county without figures with its status and
reason; headers in Chinese and English), ``national_summary.json`` and ``index.html`` (a gallery
linking each county's map and report).
"""

from __future__ import annotations

import contextlib
import html
import json
import logging
import math
import os
import re
import shutil
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import geopandas as gpd
import pandas as pd
import shapely

from .. import _io
from ..errors import ConfigError, GeoplanError, InputError
from ..limits import current as current_limits
from ..results import read_manifest

logger = logging.getLogger(__name__)

__all__ = [
    "COUNTY_FILE",
    "NATIONAL_COLUMNS",
    "County",
    "NationalSpec",
    "counties_from",
    "county_done",
    "cut_region",
    "gallery_html",
    "national_file",
    "national_table",
    "prepare_national",
    "read_registry",
    "run_county",
    "run_national",
    "run_national_file",
]

COUNTY_FILE = "county.json"
"""Each finished county folder's record (status, reason, seconds, counts, its summary)."""
COUNTIES_DIR = "counties"
REGISTRY_FILE = "registry.parquet"
REGIONS_DIR = ".regions"

_RASTER_SUFFIXES = (".tif", ".tiff", ".vrt", ".img", ".asc")

NATIONAL_COLUMNS: dict[str, str] = {
    "adcode": "区划代码/adcode",
    "county": "区县/county",
    "slug": "文件夹/folder",
    "status": "状态/status",
    "reason": "原因/reason",
    "rule_id": "规则编号/rule_id",
    "rule_name_zh": "规则/rule (zh)",
    "rule_name_en": "规则/rule (en)",
    "mode": "方式/mode",
    "threshold_min": "时限(分钟)/threshold_min",
    "population_total": "人口/population_total",
    "population_covered": "覆盖人口/population_covered",
    "share_covered": "覆盖率/share_covered",
    "target_share": "目标/target_share",
    "met": "达标/met",
    "facilities": "设施数/facilities",
    "seconds": "用时(秒)/seconds",
}
"""Columns of the national table (keys, as in ``national_summary.json``) → zh/en headers of
the CSV and XLSX."""

STATUS_TEXT = {
    "ok": "完成 / done",
    "empty_cut": "裁剪为空 / nothing in the cut",
    "no_facilities": "范围内无设施 / no facility within reach",
    "failed": "失败 / failed",
}


@dataclass(frozen=True)
class County:
    """One county of a national run: its code, name, folder name and polygon (WGS84 WKB)."""

    adcode: str
    name: str
    slug: str
    wkb: bytes

    def frame(self) -> gpd.GeoDataFrame:
        """The polygon with ``unit_name``/``unit_code``, WGS84."""
        return gpd.GeoDataFrame(
            {"unit_name": [self.name], "unit_code": [self.adcode]},
            geometry=[shapely.from_wkb(self.wkb)],
            crs=4326,
        )


@dataclass(frozen=True)
class NationalSpec:
    """What every county task needs (plain paths: sent to the workers)."""

    template: Path
    out_dir: Path
    buffer_m: float
    reach_m: float
    """The rules' farthest reach (:func:`~geoplan.workflows.batch.padding_m`); a smaller
    ``buffer_m`` cuts trips that leave the county by more (reported)."""
    network: Path
    demand: Path
    registry: Path
    facility_tolerance_m: float = 0.0
    dem: Path | None = None
    registry_ids: bool = False
    """Whether the registry has no id column, so its rows' ids (``row-<n>``, in the
    registry's column ``facility_id``) are the counties' ids: their files are read with
    that column as the id, not numbered again."""


# --------------------------------------------------------------------------- the counties


def counties_from(
    counties: str | Sequence[str],
    *,
    boundaries: str | Path | None = None,
    name_column: str | None = None,
    code_column: str | None = None,
) -> list[County]:
    """The counties of a national run, with their polygons.

    Parameters
    ----------
    counties
        ``"all"``, or adcodes (a list, or one comma-separated string).
    boundaries
        A polygon layer (any CRS) to take the counties from, by its code column; default: the
        registry of every county of China (``pip install geoplan[counties]``).
    """
    from .batch import unique_slug

    wanted = _wanted(counties)
    rows: list[tuple[str, str, Any]] = []
    if boundaries is not None:
        from ..readers.boundaries import read_units

        units = read_units(Path(boundaries), name_column=name_column, code_column=code_column)
        if units.crs is None:
            raise ConfigError(f"{boundaries}: 边界图层没有坐标系 / the layer has no CRS")
        units = units.to_crs(4326)
        codes = [str(c) for c in units["unit_code"]]
        if wanted is None:
            chosen = list(range(len(units)))
        else:
            missing = [c for c in wanted if c not in codes]
            if missing:
                raise ConfigError(
                    f"{Path(boundaries).name} 中没有这些代码 / no polygon with code(s) "
                    f"{', '.join(missing[:10])} in {Path(boundaries).name}"
                )
            chosen = [codes.index(c) for c in wanted]
        for i in chosen:
            rows.append((codes[i], str(units["unit_name"].iloc[i]), units.geometry.iloc[i]))
    else:
        from ..plans.places import county_places, find_place, place_boundary

        places = county_places() if wanted is None else [find_place(c) for c in wanted]
        for place in places:
            boundary = place_boundary(place)
            rows.append((place.adcode, place.name, boundary.geometry.iloc[0]))
    if not rows:
        raise ConfigError("没有区县 / no counties to run")
    seen: set[str] = set()
    out = []
    for code, name, geometry in rows:
        slug = unique_slug(f"{code}-{name}" if code else name, seen, "county")
        out.append(County(adcode=code, name=name, slug=slug, wkb=shapely.to_wkb(geometry)))
    return out


def _wanted(counties: str | Sequence[str]) -> list[str] | None:
    """The adcodes asked for (comma-separated texts split), or None for ``"all"``."""
    if isinstance(counties, str):
        counties = [counties]
    codes = [c.strip() for item in counties for c in str(item).split(",") if c.strip()]
    if not codes:
        raise ConfigError('给出区划代码或 all / give adcodes or "all"')
    if any(c.lower() == "all" for c in codes):
        if len(codes) > 1:
            raise ConfigError('"all" 不能与区划代码同时给出 / "all" cannot be listed with adcodes')
        return None
    return list(dict.fromkeys(codes))


# --------------------------------------------------------------------------- preparing


def prepare_national(template: str | Path, out_dir: str | Path, *, buffer_m: float | None = None):
    """Check the template and read the registry once into ``out_dir/registry.parquet``.

    Returns the :class:`NationalSpec` and the registry's rejects (a table).
    """
    from .batch import padding_m
    from .project import FACILITY_READ_KEYS, load_project

    template = Path(template).resolve()
    project = load_project(template)
    if len(project.facility_tables) != 1:
        raise ConfigError(
            f"{template.name}: 全国运行需要一个设施登记表 / a national run reads one facility "
            f"registry ([facilities]), found {len(project.facility_tables)}"
        )
    if project.units is not None or project.boundary is not None:
        raise ConfigError(
            f"{template.name}: 全国模板不应有 [units]/[boundary]（由各区县边界代替）/ a national "
            "template has no [units] or [boundary]: each county's polygon takes their place"
        )
    _check_demand_format(project.resolve(project.demand["path"]), template)
    table = project.facility_tables[0]
    reach = padding_m(project)
    pad = reach if buffer_m is None else float(buffer_m)
    if not (math.isfinite(pad) and pad >= 0):
        raise ConfigError(f"--buffer-m 须为非负数 / --buffer-m must be ≥ 0, got {buffer_m}")
    if (note := _short_buffer_note(pad, reach)) is not None:
        logger.warning("%s / %s", *note)
    out_dir = Path(out_dir).resolve()
    out_dir.mkdir(parents=True, exist_ok=True)
    registry_path = project.resolve(table["path"])
    read = {k: table[k] for k in FACILITY_READ_KEYS if k in table}
    frame, registry = read_registry(registry_path, read)
    with _io.atomic_path(out_dir / REGISTRY_FILE) as tmp:
        frame.to_parquet(tmp, write_covering_bbox=True)  # each county reads its box only
    _io.write_csv(registry.rejects, out_dir / "registry_rejects.csv")
    if len(registry.rejects):
        logger.warning(
            "登记表 %d 条记录被拒，见 registry_rejects.csv / registry: %d of %d records rejected, "
            "listed in registry_rejects.csv",
            len(registry.rejects),
            len(registry.rejects),
            registry.read,
        )
    registry_ids = frame.attrs.get(GENERATED_IDS, False)
    if registry_ids:  # a columns mapping it cannot rewrite is refused now, not per county
        _with_registry_ids(template.read_text(encoding="utf-8"))
    spec = NationalSpec(
        template=template,
        out_dir=out_dir,
        buffer_m=pad,
        reach_m=reach,
        network=project.resolve(project.network["path"]),
        demand=project.resolve(project.demand["path"]),
        registry=out_dir / REGISTRY_FILE,
        facility_tolerance_m=float(table.get("boundary_tolerance_m", 0.0)),
        dem=project.resolve(project.dem) if project.dem else None,
        registry_ids=registry_ids,
    )
    return spec, registry.rejects


def _check_demand_format(path: Path, template: Path) -> None:
    """A national demand each county can be cut from: a raster or a vector layer (a table of
    points such as CSV/XLSX, or GraphML edges, is refused now, not once per county)."""
    from ..readers.demand import GRAPHML_SUFFIXES, TABLE_SUFFIXES

    if path.name.lower().endswith((*TABLE_SUFFIXES, *GRAPHML_SUFFIXES)):
        raise ConfigError(
            f"{template.name}: 全国人口按区县裁剪，须为栅格或矢量图层（GeoParquet、GeoPackage "
            f"等），而非 {path.name}；请先把点存为 GeoParquet / a national [demand] is cut per "
            f"county, so it must be a raster or a vector layer (GeoParquet, GeoPackage …), not "
            f"{path.name}: save the points as GeoParquet or GeoPackage first"
        )


def _short_buffer_note(buffer_m: float, reach_m: float) -> tuple[str, str] | None:
    """(中文, English) of a travel buffer smaller than the rules' farthest reach; None when it
    is not."""
    if buffer_m >= reach_m:
        return None
    return (
        f"外扩距离 {buffer_m:,.0f} 米小于规则的最远可达距离 {reach_m:,.0f} 米："
        "区县外更远的道路和设施不在各区县的输入中，边界附近的覆盖可能被低估",
        f"the travel buffer ({buffer_m:,.0f} m) is shorter than the rules' farthest reach "
        f"({reach_m:,.0f} m): streets and facilities farther out are not in the counties' "
        "inputs, so coverage near county edges can be undercounted",
    )


def read_registry(path: Path, read: dict[str, Any]):
    """The national registry, read and checked once.

    Returns ``(frame, table)``: ``frame`` is the source of every county's facility file, one
    row per accepted record with **every column of the registry** as read (text, under its
    own header, so the template's column mapping and the plan checks' attribute columns —
    次中心, 等级, 所有制, 床位数, yes/no services — find them in a county as in the registry),
    the WGS84 point, ``registry_row`` (its row in the registry) and, when the registry has no
    id column, ``facility_id`` (the ids its reading gave, ``row-<n>``); ``table`` is the
    :class:`~geoplan.readers.facilities.FacilityTable` (rejects, counts).

    ``read``: the template's ``[facilities]`` reading keys (sheet, layer, encoding, crs,
    columns, categories).
    """
    from ..readers.facilities import map_columns, read_facilities, read_raw_records

    registry = read_facilities(path, **read)
    raw = read_raw_records(
        path, **{k: read[k] for k in ("layer", "sheet", "encoding", "crs", "columns") if k in read}
    )
    headers = [c for c in raw.columns if c != "source_row"]
    clash = [c for c in headers if c.strip().casefold() in ("geometry", "registry_row")]
    if clash:
        raise ConfigError(
            f"{path.name}: 登记表的列名 {clash} 与区县文件的列冲突，请改名 / the registry's "
            f"column(s) {clash} would clash with the county files' own; rename them"
        )
    used = registry.used
    own = raw.set_index("source_row").loc[used["source_row"].to_numpy(), headers]
    columns = {c: own[c].to_numpy(dtype=object) for c in headers}
    generated = "facility_id" not in map_columns(headers, read.get("columns"))
    if generated:
        columns["facility_id"] = used["facility_id"].to_numpy(dtype=object)
    columns["registry_row"] = used["source_row"].to_numpy()
    frame = gpd.GeoDataFrame(columns, geometry=used.geometry.to_numpy(), crs=used.crs)
    frame.attrs[GENERATED_IDS] = generated
    return frame, registry


GENERATED_IDS = "geoplan_generated_ids"
"""``frame.attrs`` key of :func:`read_registry`: True when the ids are the registry rows'."""


def _with_registry_ids(text: str) -> str:
    """A county's project text whose facility file is read with its column ``facility_id``
    (the registry rows' ids) as the id, whatever the template's ``columns`` said."""
    import tomllib

    from .fetch import set_table_keys

    def facilities(text: str) -> dict:  # [facilities], or the one element of [[facilities]]
        table = tomllib.loads(text).get("facilities", {})
        return table[0] if isinstance(table, list) and len(table) == 1 else table

    if re.search(r"^\[facilities\.columns\]\s*$", text, re.MULTILINE):
        text = set_table_keys(text, "facilities.columns", {"facility_id": "facility_id"})
    else:
        mapping = dict(facilities(text).get("columns", {}))
        text = set_table_keys(
            text, "facilities", {"columns": {**mapping, "facility_id": "facility_id"}}
        )
    try:
        columns = facilities(text)["columns"]
    except (tomllib.TOMLDecodeError, KeyError, TypeError, AttributeError):
        columns = {}
    if columns.get("facility_id") != "facility_id":
        raise ConfigError(
            "全国模板 [facilities] 的 columns 请写成一行内联表 columns = {…} 或 "
            "[facilities.columns] 表 / write the national template's [facilities] columns "
            "as one inline table (columns = {…}) or as a [facilities.columns] table"
        )
    return text


# --------------------------------------------------------------------------- one county


def county_done(folder: Path) -> dict | None:
    """The record of a finished county folder (finished manifest and ``county.json``)."""
    manifest = read_manifest(folder)
    if manifest is None or not manifest.get("finished"):
        return None
    try:
        return json.loads((folder / COUNTY_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def run_county(
    county: County, spec: NationalSpec, *, overwrite: bool = False, region: dict | None = None
) -> dict[str, Any]:
    """Cut, run and write one county into ``spec.out_dir/counties/<slug>``; never raises.

    ``region`` is the result of :func:`cut_region` for the county's province: the county is
    cut from that smaller file instead of the national one (the same ways, nodes and
    relations: the region is the union of its counties' padded areas).

    Returns the county's record (also written as ``county.json`` when the county finished:
    ``ok``, ``empty_cut`` or ``no_facilities``). ``failed`` records are not written: the
    county is retried by the next run.
    """
    from ..results import output_folder

    start = time.perf_counter()
    record: dict[str, Any] = {
        "adcode": county.adcode,
        "county": county.name,
        "slug": county.slug,
        "status": "failed",
        "reason": None,
        "summary": None,
        "facilities": None,
    }
    folder = spec.out_dir / COUNTIES_DIR / county.slug
    inputs = [spec.template, spec.network, spec.demand, spec.registry]
    try:
        with output_folder(folder, command="run", overwrite=overwrite, inputs=inputs) as staged:
            try:
                _county_into(county, spec, staged, record, region)
            except InputError as exc:  # nothing of the county in the national data: recorded
                if record.get("stage") not in ("network", "demand"):
                    raise
                record.update(status="empty_cut", reason=f"{type(exc).__name__}: {exc}")
            record["seconds"] = round(time.perf_counter() - start, 3)
            record.pop("stage", None)
            _io.write_json(staged.path / COUNTY_FILE, record)
    except Exception as exc:  # one county must not stop the country: report, retry next time
        record.update(status="failed", reason=f"{type(exc).__name__}: {exc}", summary=None)
        record.pop("stage", None)
        if not isinstance(exc, GeoplanError):
            import traceback

            record["traceback"] = traceback.format_exc()
    record["seconds"] = round(time.perf_counter() - start, 3)
    return record


def _county_into(
    county: County, spec: NationalSpec, staged, record: dict, region: dict | None = None
) -> None:
    from .config import DEFAULT_AREA_TOLERANCE_M
    from .fetch import LAYER_SUFFIXES, cut_layer, cut_osm, cut_raster, padded_area, set_table_keys
    from .project import load_project, run_into
    from .side_process import in_this_process

    inputs = staged.path / "inputs"
    inputs.mkdir(parents=True, exist_ok=True)
    boundary = county.frame()
    if boundary.geometry.iloc[0] is None or boundary.geometry.iloc[0].is_empty:
        raise InputError(f"{county.name}: 边界为空 / the county polygon is empty")
    area = padded_area(boundary, spec.buffer_m)
    with _io.atomic_path(inputs / "boundary.geojson") as tmp:
        boundary.to_file(tmp, driver="GeoJSON")

    record["stage"] = "network"
    network_path = spec.network
    if _is_osm(network_path):
        network_file = "network.osm.pbf"
        if region is not None:
            if region.get("path") is None:  # the province's cut failed: so does the county's
                error = InputError if region.get("empty") else RuntimeError
                raise error(region.get("error") or "region cut failed")
            network_path = Path(region["path"])
        record["network"] = cut_osm(network_path, area, inputs / network_file)
        if region is not None:
            record["network"]["via"] = network_path.name
    elif network_path.name.lower().endswith(LAYER_SUFFIXES):
        network_file = "network.parquet"
        lines, _ = cut_layer(network_path, gpd.GeoSeries([area], crs=4326), inputs / network_file)
        if not lines:
            raise InputError(f"{network_path.name}: 区域内没有道路 / no road line in the area")
        record["network"] = {"lines": lines}
    else:  # GraphML and other whole-network files are used whole
        network_file = str(network_path)
        record["network"] = {"whole": True}

    record["stage"] = "demand"
    # residents count only inside the county (the run keeps those within the boundary's
    # tolerance): the demand is cut to the polygon widened by that tolerance, not by the
    # travel buffer (which only brings in streets and facilities)
    home = padded_area(boundary, DEFAULT_AREA_TOLERANCE_M + 1.0)
    if spec.demand.suffix.lower() in _RASTER_SUFFIXES:
        demand_file = "population.tif"
        # cells by centre: a cell merely touching the widened county would be a resident
        # "outside the study area" in the county's warnings
        stats = cut_raster(spec.demand, home, inputs / demand_file, all_touched=False)
        record["demand"] = {"kept_cells": stats["kept_cells"], "kind": stats["kind"]}
        if stats["kept_cells"] == 0:
            raise InputError("栅格在区县内没有人口 / the raster has no populated cell in the area")
    else:
        demand_file = "demand.parquet"
        n, _ = cut_layer(spec.demand, gpd.GeoSeries([home], crs=4326), inputs / demand_file)
        record["demand"] = {"points": n}
        if n == 0:
            raise InputError("区县内没有需求点 / no demand point lies in the area")

    record["stage"] = "facilities"
    registry = gpd.read_parquet(spec.registry, bbox=tuple(area.bounds))
    inside = registry[shapely.intersects(area, registry.geometry.to_numpy())]
    record["facilities"] = len(inside)
    if inside.empty:
        record.update(
            status="no_facilities",
            reason=(
                f"登记表在区县及外扩 {spec.buffer_m:,.0f} 米内无设施 / the registry has no "
                f"facility within the county and {spec.buffer_m:,.0f} m around it"
            ),
        )
        return
    with _io.atomic_path(inputs / "facilities.gpkg") as tmp:  # the registry's own columns
        inside.to_file(tmp, driver="GPKG", layer="facilities", FID="geoplan_fid")

    record["stage"] = "run"
    text = spec.template.read_text(encoding="utf-8")
    text = set_table_keys(text, "network", {"path": network_file})
    text = set_table_keys(text, "demand", {"path": demand_file})
    # the registry's rows within the padded area are the county's: none is "outside"
    tolerance = max(spec.buffer_m, spec.facility_tolerance_m)
    text = set_table_keys(
        text,
        "facilities",
        {
            "path": "facilities.gpkg",
            "crs": "wgs84",
            "boundary_tolerance_m": tolerance + 1.0,
            "layer": None,  # the county file has one layer, whatever sheet the registry was
            "sheet": None,
            "encoding": None,
        },
    )
    if spec.registry_ids:
        text = _with_registry_ids(text)
    text = set_table_keys(text, "boundary", {"path": "boundary.geojson"})
    text = set_table_keys(text, "project", {"area": county.name})
    if spec.dem is not None:  # the DEM is used whole (it is read by window)
        text = set_table_keys(text, "network", {"dem": str(spec.dem)})
    _io.write_text(inputs / "project.toml", text)
    project = load_project(inputs / "project.toml")
    with in_this_process():  # the batch's workers keep the CPUs busy, a county each
        result = run_into(project, staged, basemap_key=project.map.key())
    record.update(status="ok", summary=result.summary)


def _is_osm(path: Path) -> bool:
    return path.name.lower().endswith((".pbf", ".osm", ".osm.bz2", ".osm.gz"))


def cut_region(spec: NationalSpec, key: str, counties: Sequence[County]) -> dict[str, Any]:
    """Cut the union of ``counties``' padded areas (one province) out of the national OSM
    file into ``spec.out_dir/.regions/<key>.osm.pbf``; never raises.

    Each county is then cut from this file: streaming a province instead of the country per
    county. Returns ``path`` (None on failure), ``error``, ``empty`` (nothing of the region in
    the file), ``seconds`` and ``counts``.
    """
    from .fetch import cut_osm, padded_area

    start = time.perf_counter()
    folder = spec.out_dir / REGIONS_DIR
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / f"{key}.osm.pbf"
    partial = folder / f".{key}.{os.getpid()}.partial.osm.pbf"
    out: dict[str, Any] = {"key": key, "path": None, "error": None, "empty": False}
    try:
        area = shapely.union_all([padded_area(c.frame(), spec.buffer_m) for c in counties])
        out["counts"] = cut_osm(spec.network, area, partial)
        os.replace(partial, target)
        out["path"] = str(target)
    except Exception as exc:  # the counties report it (empty_cut, or failed and retried)
        out.update(error=f"{type(exc).__name__}: {exc}", empty=isinstance(exc, InputError))
        with contextlib.suppress(OSError):
            partial.unlink()
    out["seconds"] = round(time.perf_counter() - start, 3)
    return out


def _region_key(county: County) -> str:
    code = county.adcode
    return code[:2] if len(code) >= 2 and code[:2].isdigit() else "all"


# --------------------------------------------------------------------------- the batch file

_FILE_OPTIONS = {  # [national] key → run_national keyword
    "template": "template",
    "counties": "counties",
    "boundaries": "boundaries",
    "name_column": "name_column",
    "code_column": "code_column",
    "buffer_m": "buffer_m",
    "workers": "n_workers",
    "scheduler": "scheduler",
    "out": "out_dir",
}


def national_file(path: str | Path) -> dict[str, Any]:
    """The ``[national]`` table of a batch file as :func:`run_national` keywords.

    Keys are checked by :data:`geoplan.workflows.config.NATIONAL` (unknown or misspelt keys
    and out-of-range values are refused); paths are relative to the file; ``counties_file``
    (one adcode a line, ``#`` comments) becomes ``counties``. Keys the file leaves out are
    absent from the result.
    """
    import tomllib

    from .. import schema
    from . import config
    from .batch import resolve_path

    path = Path(path)
    where = path.name
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{path}: 批量文件不存在 / no such batch file") from None
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"{where}: 不是有效的 UTF-8 TOML 文件 / not valid TOML: {exc}") from None
    tables = schema.validate(data, config.BATCH_FILE, file=where)
    if "national" not in tables:
        raise ConfigError(
            f"{where}: 没有 [national] 表 / no [national] table (a national run needs one, or "
            "--national TEMPLATE)"
        )
    if tables.keys() & {"areas", "batch"}:
        raise ConfigError(
            f"{where}: [national] 不能与 [[areas]]/[batch] 同在一个文件 / a [national] table "
            "cannot share its file with [[areas]] or [batch]: one batch per file"
        )
    table = dict(tables["national"])
    if "counties" in table and "counties_file" in table:
        raise ConfigError(
            f"{where}: [national] 只能给 counties 或 counties_file 之一 / give counties or "
            "counties_file, not both"
        )
    for key in ("template", "boundaries", "counties_file"):
        if key in table:
            table[key] = resolve_path(path, str(table[key]), key=f"[national] {key}")
    if "out" in table:
        out = Path(str(table["out"]))
        table["out"] = out if out.is_absolute() else (path.parent / out).resolve()
    listing = table.pop("counties_file", None)
    if listing is not None:
        codes = [line.split("#", 1)[0].strip() for line in _read_lines(listing)]
        table["counties"] = [c for c in codes if c]
        if not table["counties"]:
            raise ConfigError(f"{listing.name}: 清单中没有区划代码 / the file lists no adcode")
    return {_FILE_OPTIONS[k]: v for k, v in table.items()}


def _read_lines(path: Path) -> list[str]:
    try:
        return path.read_text(encoding="utf-8-sig").splitlines()
    except UnicodeDecodeError:
        raise ConfigError(f"{path.name}: 请存为 UTF-8 / save the list as UTF-8") from None


def run_national_file(path: str | Path, **overrides: Any) -> pd.DataFrame:
    """:func:`run_national` with the keywords of a batch file's ``[national]`` table
    (:func:`national_file`); ``overrides`` that are not None win over the file's."""
    options = national_file(path)
    options.update({k: v for k, v in overrides.items() if v is not None})
    for key, flag in (("template", "template"), ("counties", "counties"), ("out_dir", "out")):
        if key not in options:
            raise ConfigError(
                f"{Path(path).name}: [national] 缺少 {flag} / [national] needs {flag} (or its "
                "command-line flag)"
            )
    return run_national(**options)


# --------------------------------------------------------------------------- the country


def run_national(
    template: str | Path,
    counties: str | Sequence[str] | Sequence[County],
    out_dir: str | Path,
    *,
    boundaries: str | Path | None = None,
    name_column: str | None = None,
    code_column: str | None = None,
    buffer_m: float | None = None,
    scheduler: Any = None,
    n_workers: int | None = None,
    processes: bool = True,
    overwrite: bool = False,
    progress: bool = False,
    stop_after: int | None = None,
    on_record: Callable[[dict], None] | None = None,
) -> pd.DataFrame:
    """Run every county of a national template as a Dask task; resume what is done.

    Parameters
    ----------
    template
        The national project file (see the module text).
    counties
        ``"all"``, adcodes, or :class:`County` objects (from :func:`counties_from`).
    out_dir
        The national folder: ``counties/<slug>/`` per county, ``national_summary.*``,
        ``index.html``, ``registry.parquet`` and ``registry_rejects.csv``.
    boundaries, name_column, code_column
        Take the counties' polygons from this layer (names and codes from these columns,
        default: the usual ones) instead of the registry.
    buffer_m
        Travel buffer around each county (default: the rules' farthest reach).
    scheduler, n_workers, processes, progress
        As in :func:`geoplan.workflows.batch.run_batch`.
    overwrite
        Recompute finished counties too (default: skip them, resume the rest).
    stop_after
        Submit at most this many of the counties still to do (a run in parts).
    on_record
        Called with each county's record as it arrives (tests, progress).

    Returns
    -------
    DataFrame
        The national table (keys of :data:`NATIONAL_COLUMNS`), every county listed.
    """
    from .batch import dask_client, quiet_dask_logs

    out_dir = Path(out_dir).resolve()
    if counties and isinstance(next(iter(counties)), County) and not isinstance(counties, str):
        chosen = list(counties)
    else:
        chosen = counties_from(
            counties,  # type: ignore[arg-type]
            boundaries=boundaries,
            name_column=name_column,
            code_column=code_column,
        )
    current_limits().check(
        "batch_areas",
        len(chosen),
        "区县任务数",
        "counties (tasks) in one batch",
        "Choose fewer counties (a province at a time)",
    )
    if n_workers is not None and n_workers < 1:
        raise ConfigError(f"--workers must be at least 1, got {n_workers}")
    spec, _ = prepare_national(template, out_dir, buffer_m=buffer_m)
    start = time.perf_counter()
    records: dict[str, dict] = {}
    todo: list[County] = []
    for county in chosen:
        done = None if overwrite else county_done(out_dir / COUNTIES_DIR / county.slug)
        if done is not None:
            records[county.slug] = {**done, "resumed": True}
        else:
            todo.append(county)
    logger.info(
        "全国运行：%d 个区县，%d 个已完成，%d 个待算 / national run: %d counties, %d done "
        "before, %d to run",
        len(chosen),
        len(chosen) - len(todo),
        len(todo),
        len(chosen),
        len(chosen) - len(todo),
        len(todo),
    )
    if stop_after is not None:
        todo = todo[: max(0, stop_after)]
    if todo:
        with quiet_dask_logs(), contextlib.ExitStack() as stack:
            from distributed import as_completed

            # intermediate province cuts, removed however the run ends
            stack.callback(shutil.rmtree, out_dir / REGIONS_DIR, ignore_errors=True)
            client = dask_client(stack, scheduler, n_workers, processes, len(todo))
            regions: dict[str, Any] = {}
            if _is_osm(spec.network):  # a province is streamed once, not once per county
                groups: dict[str, list[County]] = {}
                for county in todo:
                    groups.setdefault(_region_key(county), []).append(county)
                for key, members in groups.items():
                    if len(members) > 1:
                        regions[key] = client.submit(
                            cut_region, spec, key, members, key=f"geoplan-region-{key}", pure=False
                        )
            futures = [
                client.submit(
                    run_county,
                    county,
                    spec,
                    overwrite=overwrite,
                    region=regions.get(_region_key(county)),
                    key=f"geoplan-county-{county.slug}",
                    pure=False,
                )
                for county in todo
            ]
            by_key = {f.key: c for f, c in zip(futures, todo, strict=True)}
            bar = None
            if progress:
                from tqdm import tqdm

                bar = stack.enter_context(
                    tqdm(total=len(todo), desc="geoplan national", unit="county", file=sys.stderr)
                )
            for future in as_completed(futures):
                county = by_key[future.key]
                try:
                    record = future.result()
                except Exception as exc:  # a worker died: the county is redone next time
                    record = {
                        "adcode": county.adcode,
                        "county": county.name,
                        "slug": county.slug,
                        "status": "failed",
                        "reason": f"{type(exc).__name__}: {exc}",
                        "summary": None,
                        "facilities": None,
                        "seconds": None,
                    }
                if record["status"] == "failed":
                    logger.error("区县 / county %s failed: %s", county.slug, record["reason"])
                records[county.slug] = record
                if on_record is not None:
                    on_record(record)
                if bar is not None:
                    bar.set_postfix_str(county.slug)
                    bar.update(1)
    ordered = []
    for county in chosen:
        ordered.append(
            records.get(county.slug)
            or {
                "adcode": county.adcode,
                "county": county.name,
                "slug": county.slug,
                "status": "not_run",
                "reason": "未运行（--stop-after）/ not run yet (stopped after a part)",
                "summary": None,
                "facilities": None,
                "seconds": None,
            }
        )
    table = national_table(ordered)
    _write_national(out_dir, table, ordered, time.perf_counter() - start, spec)
    table.attrs["out_dir"] = str(out_dir)
    return table


def national_table(records: Sequence[dict]) -> pd.DataFrame:
    """One row per county × rule (finished counties), one per county without figures."""
    from .batch import rule_row

    rows = []
    for r in records:
        base = {
            "adcode": r["adcode"],
            "county": r["county"],
            "slug": r["slug"],
            "status": r["status"],
            "reason": r.get("reason"),
            "facilities": r.get("facilities"),
            "seconds": r.get("seconds"),
        }
        summary = r.get("summary")
        if r["status"] != "ok" or not summary:
            rows.append(base)
            continue
        rows += [base | rule_row(summary, rule) for rule in summary["rules"]]
    return pd.DataFrame(rows, columns=list(NATIONAL_COLUMNS))


def _write_national(
    out_dir: Path, table: pd.DataFrame, records: list[dict], seconds: float, spec: NationalSpec
):
    labelled = table.rename(columns=NATIONAL_COLUMNS)
    _io.write_csv(labelled, out_dir / "national_summary.csv")
    _io.write_xlsx({"national": labelled}, out_dir / "national_summary.xlsx")
    counts = pd.Series([r["status"] for r in records]).value_counts().to_dict()
    note = _short_buffer_note(spec.buffer_m, spec.reach_m)
    _io.write_json(
        out_dir / "national_summary.json",
        {
            "counties": [{k: v for k, v in r.items() if k != "traceback"} for r in records],
            "n_counties": len(records),
            "by_status": counts,
            "buffer_m": spec.buffer_m,
            "rules_reach_m": spec.reach_m,
            "warnings": []
            if note is None
            else [{"code": "short_buffer", "message_zh": note[0], "message_en": note[1]}],
            "seconds": round(seconds, 3),
        },
    )
    _io.write_text(out_dir / "index.html", gallery_html(records, out_dir))


def gallery_html(records: Sequence[dict], out_dir: Path | None = None) -> str:
    """A self-contained page: one row per county, its status, shares and links."""
    esc = html.escape
    rules: dict[str, dict] = {}
    for r in records:
        for rule in (r.get("summary") or {}).get("rules", []):
            rules.setdefault(rule["id"], rule)
    head = "".join(f"<th>{esc(r['name_zh'])}<br>{esc(r['name_en'])}</th>" for r in rules.values())
    body = []
    for r in records:
        base = f"{COUNTIES_DIR}/{quote(r['slug'])}"
        links = ""
        if r["status"] == "ok":
            links = f'<a href="{esc(base)}/map.html">地图 map</a>'
            if (
                out_dir is not None
                and (out_dir / COUNTIES_DIR / r["slug"] / "report.html").exists()
            ):
                links += f' · <a href="{esc(base)}/report.html">报告 report</a>'
        status = STATUS_TEXT.get(r["status"], r["status"])
        if r["status"] != "ok" or not r.get("summary"):
            body.append(
                f"<tr><td>{esc(r['adcode'])}</td><td>{esc(r['county'])}</td>"
                f"<td class='failed'>{esc(status)}: {esc(str(r.get('reason') or ''))}</td>"
                f"<td colspan='{len(rules) + 1}'></td></tr>"
            )
            continue
        by_id = {x["id"]: x for x in r["summary"]["rules"]}
        cells = []
        for rule_id in rules:
            share = (by_id.get(rule_id) or {}).get("share_covered")
            text = "–" if share is None or math.isnan(share) else f"{share:.1%}"
            cells.append(f"<td class='num'>{esc(text)}</td>")
        body.append(
            f"<tr><td>{esc(r['adcode'])}</td><td>{esc(r['county'])}</td><td>{links}</td>"
            f"<td class='num'>{r['summary']['population_total']:,.0f}</td>{''.join(cells)}</tr>"
        )
    return (
        "<!DOCTYPE html>\n<html lang='zh'><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width, initial-scale=1'>"
        "<title>全国区县覆盖率 / Coverage by county</title><style>"
        "body{font-family:system-ui,sans-serif;margin:1.5em}table{border-collapse:collapse}"
        "th,td{border:1px solid #ccc;padding:4px 8px}.num{text-align:right}.failed{color:#a11}"
        "</style></head><body><h1>全国区县覆盖率 / Coverage by county</h1>"
        f"<p>{len(records)} 个区县 / counties. 详见 national_summary.csv / details in "
        "national_summary.csv.</p><table><thead><tr><th>区划代码<br>adcode</th><th>区县<br>"
        f"county</th><th>结果<br>result</th><th>人口<br>residents</th>{head}</tr></thead>"
        f"<tbody>{''.join(body)}</tbody></table></body></html>\n"
    )
