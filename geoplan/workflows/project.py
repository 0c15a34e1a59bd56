"""Project files (TOML) → a run: load inputs, compute coverage and gaps, write every output."""

from __future__ import annotations

import contextlib
import dataclasses
import importlib
import logging
import os
import platform
import re
import threading
from collections.abc import Callable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING

import geopandas as gpd
import numpy as np
import pandas as pd

from .. import _io, coords, schema
from .._cache import file_sha256
from .._gc import collector_paused
from .._paths import DEMO_PROJECT, SHARED_PREFIX, SHIPPED_PREFIX, prefixed_path
from ..analysis import engine
from ..analysis.coverage import (
    OUTSIDE_UNITS,
    Coverage,
    column,
    compute_coverage,
    point_xy,
    string_column,
)
from ..analysis.gaps import coverage_gaps
from ..analysis.preflight import Checked, check_inputs
from ..analysis.rules import Rule, check_unique_ids, rule_from_mapping
from ..analysis.streets import street_minutes
from ..errors import ConfigError, InputError, InputFileNotFoundError, OutputError
from ..limits import Limits, applied, current
from ..progress import StageCallback, Stages, peak_memory_mb
from ..readers import boundaries
from ..readers.access import PRIVATE_WAYS
from ..readers.boundaries import assign_units, point_unit_types, read_units, units_from_frame
from ..readers.credits import attribution, input_credit
from ..readers.facilities import DEFAULT_BOUNDARY_TOLERANCE_M
from ..readers.network import DEFAULT_WALK_SPEED_M_PER_MIN
from ..results import Staging, output_files, output_folder
from . import config
from .config import DEFAULT_AREA_TOLERANCE_M, DEFAULT_GAP_CELL_M, DEFAULT_MAX_SNAP_M
from .gaps_gpkg import GAPS_GPKG_BEGUN, write_gaps_gpkg, write_uncovered_layer
from .side_process import SideProcess

if TYPE_CHECKING:  # folium is imported only when a map is drawn
    from ..rendering.run_maps import MapInputs

__all__ = [
    "AREA_HULL_BUFFER_M",
    "DEMO_PROJECT",
    "FACILITIES_USED_COLUMNS",
    "OUTPUT_FILES",
    "SERVICE_AREAS_FILE",
    "STAGES",
    "MapOptions",
    "Project",
    "RunResult",
    "StudyArea",
    "add_service_areas",
    "as_run",
    "compute_project",
    "facilities_used_table",
    "load_network",
    "load_project",
    "per_point_outputs",
    "read_boundary",
    "read_demand_table",
    "read_project_demand",
    "read_project_facilities",
    "run_into",
    "run_project",
    "run_stages",
    "study_area",
    "whole_demand_area",
    "write_travel_times",
]

logger = logging.getLogger(__name__)

OUTPUT_FILES = (
    "summary.json",
    "coverage_by_unit.csv",
    "coverage_points.csv",
    "gaps.csv",
    "gaps.xlsx",
    "gaps.gpkg",
    "map.html",
    "rejects.csv",
    "facilities_used.csv",
    "run.json",
)
"""Files every run writes (besides ``map_<lang>.html`` per further language and manifest.json)."""
DEMAND_FAR_FROM_ROAD_M = 500.0
"""Demand points farther than this from the walk network are counted and reported."""
AREA_HULL_BUFFER_M = 100.0
"""Without a boundary or units, the area's polygon is the hull of residents and facilities
buffered by this much (for maps, site grids and per-unit facility counts)."""


@dataclass(frozen=True)
class MapOptions:
    """The optional ``[map]`` table: languages, basemap, and where the basemap key comes from.

    The first of ``langs`` writes ``map.html``, each further one ``map_<lang>.html``. The key
    is read from the environment variable ``basemap_key_env``, never from the project file.
    """

    langs: tuple[str, ...] = ("zh",)
    basemap: str = "none"
    basemap_key_env: str = "GEOPLAN_TIANDITU_KEY"

    def files(self) -> list[tuple[str, str]]:
        """``(lang, file name)`` of every map to write."""
        return [
            (lang, "map.html" if i == 0 else f"map_{lang}.html")
            for i, lang in enumerate(self.langs)
        ]

    def key(self) -> str | None:
        """The basemap key from the environment (None if not needed); empty → an error."""
        from ..rendering.map_options import BASEMAPS

        if not BASEMAPS[self.basemap].needs_key:
            return None
        key = os.environ.get(self.basemap_key_env, "").strip()
        if not key:
            raise InputError(
                f"basemap {self.basemap!r} needs a key: set the environment variable "
                f"{self.basemap_key_env} (named by [map] basemap_key_env), or choose another "
                "basemap (--basemap none)"
            )
        return key


def _map_options(table: Mapping | None, where: str) -> MapOptions:
    """The ``[map]`` table (absent: the defaults), checked against the schema."""
    table = schema.check_table(config.MAP, table or {}, file=where, label="[map]")
    return MapOptions(
        langs=tuple(table["langs"]),
        basemap=table["basemap"],
        basemap_key_env=table["basemap_key_env"],
    )


@dataclass(frozen=True)
class Project:
    """A parsed project file: where the inputs are and which rules to check.

    The tables are the validated mappings of :mod:`geoplan.workflows.config` with the defaults
    filled in (``project.network["walk_speed_m_per_min"]``). ``facility_tables`` holds one mapping
    per facility file (``[facilities]`` or each ``[[facilities]]``); ``facilities`` is that
    mapping when there is exactly one.
    """

    path: Path
    area: str
    area_en: str
    network: dict
    demand: dict
    facility_tables: tuple[dict, ...]
    rules: tuple[Rule, ...]
    boundary: dict | None = None
    units: dict | None = None
    geocode: dict | None = None
    gaps: dict = field(default_factory=dict)
    notes_zh: tuple[str, ...] = ()
    notes_en: tuple[str, ...] = ()
    hypothetical_facilities: bool = False
    map: MapOptions = field(default_factory=MapOptions)
    limits: Limits = field(default_factory=Limits.resolve)
    roles: dict = field(default_factory=dict)
    congestion: dict = field(default_factory=dict)
    service_areas: dict | None = None
    speeds: dict = field(default_factory=dict)
    sensitivity: dict | None = None
    outputs: dict = field(default_factory=lambda: schema.check_table(config.OUTPUTS, {}))

    @property
    def facilities(self) -> dict:
        """The facility table of a project with one facility file.

        Raises :class:`ConfigError` when the project has several: read ``facility_tables``.
        """
        if len(self.facility_tables) != 1:
            raise ConfigError(
                f"{self.path.name}: this step reads one facility file, but the project has "
                f"{len(self.facility_tables)} ([[facilities]]) / 此步骤只支持一个设施文件"
            )
        return self.facility_tables[0]

    @property
    def walk_speed_m_per_min(self) -> float:
        """Walking speed on the network (m/min)."""
        return float(self.network.get("walk_speed_m_per_min", DEFAULT_WALK_SPEED_M_PER_MIN))

    @property
    def private_ways(self) -> str:
        """``[network] private_ways``: "exclude" (default), "endpoints" or "include"."""
        return str(self.network.get("private_ways", PRIVATE_WAYS[0]))

    @property
    def snap_to_largest_component(self) -> bool:
        """``[network] snap_to_largest_component``: join points to the main network (default)."""
        return bool(self.network.get("snap_to_largest_component", True))

    @property
    def network_options(self) -> dict:
        """The ``[network]`` settings and ``[speeds]`` as keyword arguments of
        ``Network.mode_times`` and :func:`geoplan.analysis.coverage.compute_coverage` (one
        definition for every command)."""
        return {
            "walk_speed_m_per_min": self.walk_speed_m_per_min,
            "private_ways": self.private_ways,
            "largest_component": self.snap_to_largest_component,
            "speeds": self.speeds,
        }

    @property
    def coverage_options(self) -> dict:
        """:attr:`network_options` with the ``[congestion]`` profiles: the keyword arguments
        of :func:`geoplan.analysis.coverage.compute_coverage` and ``rule_times``."""
        return {**self.network_options, "congestion": self.congestion}

    @property
    def dem(self) -> str | None:
        """``[network] dem``: the elevation raster for terrain-aware walking (None: flat)."""
        return self.network.get("dem")

    @property
    def max_snap_m(self) -> float:
        """Largest ``max_snap_m`` of the facility files: the limit for facilities a scenario
        adds or moves (each file's own rows are judged by its own)."""
        return max(float(t.get("max_snap_m", DEFAULT_MAX_SNAP_M)) for t in self.facility_tables)

    @property
    def keep_duplicates(self) -> bool:
        """Whether records of the same name and category within 50 m are all used
        (``[facilities] keep_duplicates``; with several files they must agree)."""
        values = {bool(t.get("keep_duplicates", False)) for t in self.facility_tables}
        if len(values) > 1:
            raise ConfigError(
                f"{self.path.name}: keep_duplicates differs between the [[facilities]] tables; "
                "duplicates are found across files, so set it the same in each / "
                "各 [[facilities]] 表的 keep_duplicates 须一致"
            )
        return values.pop()

    @property
    def snap_limits_m(self) -> float | dict[str, float]:
        """``max_snap_m``: one value, or per facility file (``source_file``) with several."""
        limits = {
            str(t["path"]): float(t.get("max_snap_m", DEFAULT_MAX_SNAP_M))
            for t in self.facility_tables
        }
        return next(iter(limits.values())) if len(self.facility_tables) == 1 else limits

    @property
    def gap_cell_m(self) -> float:
        """Grid cell size of the gap lists (m)."""
        return float(self.gaps.get("cell_m", DEFAULT_GAP_CELL_M))

    @property
    def gap_merge_contiguous(self) -> bool:
        """Whether touching uncovered cells are merged into clusters."""
        return bool(self.gaps.get("merge_contiguous", False))

    def input_paths(self) -> list[Path]:
        """The project file and every input file it names (each resolved, so it must exist)."""
        tables = [self.network, self.demand, *self.facility_tables, self.boundary, self.units]
        named = [t["path"] for t in tables if t and t.get("path")]
        if self.dem:
            named.append(self.dem)
        if self.geocode:
            named += [*self.geocode.get("admin", {}).values(), *self.geocode.get("osm", [])]
        return [self.path, *(self.resolve(str(value)) for value in named)]

    def resolve(self, value: str) -> Path:
        """An input path: ``geoplan:…`` shipped with geoplan, ``shared:…`` from the shared
        data folder, else absolute or relative to the project file."""
        special = prefixed_path(value)
        if special is not None:
            return special
        path = Path(value)
        path = path if path.is_absolute() else (self.path.parent / path)
        if not path.exists():
            raise InputFileNotFoundError(f"{self.path.name}: input file {path} does not exist")
        return path.resolve()


def load_project(path: str | Path) -> Project:
    """Read and check a project TOML file; every problem names the file, table and key.

    The tables and keys are those of :data:`geoplan.workflows.config.PROJECT_FILE`
    (``docs/project-file.md``).
    """
    path = Path(path)
    if not path.exists():
        raise InputFileNotFoundError(f"project file {path} does not exist")
    if path.is_dir():
        found = sorted(p.name for p in path.glob("*.toml"))
        hint = f" ({', '.join(found[:5])})" if found else ""
        raise ConfigError(
            f"{path} is a folder; give the project .toml file in it{hint} / "
            "这是文件夹，请给出其中的项目 .toml 文件"
        )
    where = path.name
    tables = schema.validate(_io.read_toml(path), config.PROJECT_FILE, file=where)
    rules = tuple(
        rule_from_mapping(r, where=f"[[rules]] #{i + 1}", file=where)
        for i, r in enumerate(tables["rules"])
    )
    check_unique_ids(rules, where=where)
    meta = tables["project"]
    project = Project(
        path=path.resolve(),
        area=meta["area"],
        area_en=meta["area_en"],
        network=tables["network"],
        demand=tables["demand"],
        facility_tables=_facility_tables(tables["facilities"], where),
        rules=rules,
        boundary=tables.get("boundary"),
        units=tables.get("units"),
        geocode=tables.get("geocode"),
        gaps=tables.get("gaps") or schema.check_table(config.GAPS, {}),
        notes_zh=tuple(meta["notes_zh"]),
        notes_en=tuple(meta["notes_en"]),
        hypothetical_facilities=meta["hypothetical_facilities"],
        map=_map_options(tables.get("map"), where),
        limits=Limits.resolve(tables.get("limits"), where=where),
        roles=tables.get("roles") or {},
        congestion=tables.get("congestion") or {},
        service_areas=tables.get("service_areas"),
        speeds=tables.get("speeds") or {},
        sensitivity=tables.get("sensitivity"),
        outputs=tables.get("outputs") or schema.check_table(config.OUTPUTS, {}),
    )
    project.keep_duplicates  # noqa: B018 - the files must agree: said now, before any work
    _check_rule_references(project, where)
    _check_unit_type_rules(project, where)
    return project


def _check_rule_references(project: Project, where: str) -> None:
    """What rules name must exist: congestion profiles, unit types; [service_areas] rules."""
    for rule in project.rules:
        if rule.congestion and rule.congestion not in project.congestion:
            known = ", ".join(project.congestion) or "none"
            raise ConfigError(
                f"{where}: rule {rule.id!r} congestion = {rule.congestion!r}: no such "
                f"[congestion] profile (defined: {known}) / 未定义的拥堵情景"
            )
        if rule.threshold_by_type and not (project.units or {}).get("type_column"):
            raise ConfigError(
                f"{where}: rule {rule.id!r} sets threshold_by_type, but [units] has no "
                "type_column (the column saying which units are urban and which rural) / "
                "按单元类型设阈值须在 [units] 中设置 type_column"
            )
    rules = {r.id: r for r in project.rules}
    for rule_id in (project.service_areas or {}).get("rules", []):
        if rule_id not in rules:
            raise ConfigError(
                f"{where}: [service_areas] rules: {rule_id!r} is not a rule of the project "
                f"(rules: {', '.join(rules)}) / 服务范围引用了不存在的规则"
            )
        if rules[rule_id].mixed:
            raise ConfigError(
                f"{where}: [service_areas] rules: {rule_id!r} travels by several modes "
                f"({rules[rule_id].mode_label}); service areas are drawn on one mode's streets: "
                "name a rule of one mode / 服务范围须为单一出行方式的规则"
            )


def _check_unit_type_rules(project: Project, where: str) -> None:
    """Rules by unit type need ``[units]`` with a ``type_column`` (said before any work)."""
    by_type = [r.id for r in project.rules if r.modes_by_unit_type]
    if by_type and not (project.units or {}).get("type_column"):
        raise ConfigError(
            f"{where}: rule {by_type[0]!r} chooses modes by unit type (modes_by_unit_type), "
            "which needs a [units] table with type_column naming the units' type column / "
            "按单元类型选择出行方式的规则需要 [units] 表及其 type_column"
        )


def _facility_tables(tables: list[dict], where: str) -> tuple[dict, ...]:
    """The facility tables with their id prefixes: with several files each gets one (its own
    ``id_prefix``, else the file's name without suffix) and no two may share one."""
    if len(tables) > 1:
        tables = [{"id_prefix": _file_stem(t["path"]), **t} for t in tables]
    seen: dict[str, int] = {}
    for i, table in enumerate(tables):
        prefix = table.get("id_prefix")
        if prefix is None:
            continue
        if prefix in seen:
            raise ConfigError(
                f"{where}: [[facilities]] #{seen[prefix] + 1} and #{i + 1} would share the id "
                f"prefix {prefix!r}; give them different id_prefix values / 设施编号前缀重复"
            )
        seen[prefix] = i
    return tuple(tables)


def _file_stem(value: str) -> str:
    """``health`` of ``shared:lists/health.xlsx``; characters not allowed in ids become _."""
    name = Path(value.removeprefix(SHARED_PREFIX).removeprefix(SHIPPED_PREFIX)).name
    name = name.split(".")[0]
    return re.sub(r"[\s,:=]+", "_", name) or "file"


@dataclass
class RunResult:
    """What a run computed, before (and after) it is written."""

    project: Project
    summary: dict
    coverage: Coverage
    by_unit: pd.DataFrame
    gaps: gpd.GeoDataFrame
    facilities: gpd.GeoDataFrame
    rejects: pd.DataFrame
    boundary: gpd.GeoDataFrame | None
    network: object
    timings_s: dict[str, float]
    inputs: dict[str, str]
    units: gpd.GeoDataFrame | None = None
    area: StudyArea | None = None
    credits: dict[str, str] = field(default_factory=dict)
    service_areas: gpd.GeoDataFrame | None = None

    @property
    def attribution(self) -> list[str]:
        """The data credits a map or report shows (distinct, non-empty, in input order)."""
        return attribution(self.credits)


STAGES = ("load", "check", "snap+engine", "coverage", "gaps", "service_areas", "write", "map")
"""The stages of a run (``sensitivity`` after ``gaps`` when the project asks for it)."""


def run_stages(project: Project) -> tuple[str, ...]:
    """The stages a run of ``project`` goes through (:data:`STAGES`, with ``sensitivity``
    when the project has ``[sensitivity]``), as ``on_stage`` reports them."""
    if project.sensitivity is None:
        return STAGES
    at = STAGES.index("gaps") + 1
    return (*STAGES[:at], "sensitivity", *STAGES[at:])


def run_project(
    project: Project | str | Path,
    out_dir: str | Path,
    *,
    overwrite: bool = False,
    progress: bool = False,
    lang: str | None = None,
    basemap: str | None = None,
    command: str = "run",
    on_stage: StageCallback | None = None,
    per_point: str | None = None,
) -> RunResult:
    """Run a project end to end and write its outputs into the result folder ``out_dir``.

    Writes ``summary.json``, ``coverage_by_unit.csv``, ``coverage_points.csv``,
    ``gaps.csv``/``.xlsx``/``.gpkg``, ``map.html`` (plus ``map_<lang>.html`` per further
    ``[map] langs``), ``rejects.csv``, ``facilities_used.csv``, ``run.json`` and
    ``manifest.json``, all at once (see :mod:`geoplan.results`: ``--out`` is checked and
    locked before any work, an earlier result is replaced only with ``overwrite``). ``lang``
    (one map in that language) and ``basemap`` override ``[map]``; ``command`` is recorded in
    the manifest; ``on_stage`` is told as each stage starts (:data:`StageCallback`);
    ``per_point`` (auto/always/never) overrides ``[outputs] per_point``.
    """
    if not isinstance(project, Project):
        project = load_project(project)
    project = _with_map_overrides(project, lang=lang, basemap=basemap)
    if per_point is not None:
        outputs = {**project.outputs, "per_point": per_point}
        outputs = schema.check_table(config.OUTPUTS, outputs, label="--per-point")
        project = dataclasses.replace(project, outputs=outputs)
    basemap_key = project.map.key()  # fail before computing when the key is missing
    with output_folder(
        out_dir, command=command, overwrite=overwrite, inputs=project.input_paths()
    ) as staged:
        return run_into(
            project, staged, progress=progress, basemap_key=basemap_key, on_stage=on_stage
        )


def run_into(
    project: Project,
    staged: Staging,
    *,
    progress: bool = False,
    basemap_key: str | None = None,
    on_stage: StageCallback | None = None,
) -> RunResult:
    """Compute ``project`` and write its outputs into an open result folder (``staged``)."""
    stages = Stages(run_stages(project), progress=progress, on_stage=on_stage)
    renderer = _import_meanwhile("geoplan.rendering.maps")  # folium: 0.2 s, needed last
    try:
        with (
            collector_paused(),  # its geometries are not scanned for cycles again and again
            SideProcess() as side,  # a large run: gaps.gpkg/.xlsx by a second process
            ThreadPoolExecutor(max_workers=1, thread_name_prefix="geoplan-per-point") as writer,
        ):

            def start_side(n_points: int) -> None:
                # not for a run too large for its per-point tables: memory counts most there
                plan = per_point_outputs(project, n_points)
                if plan["written"] or n_points <= plan["max_points"]:
                    side.start_for(n_points)

            uncovered: list[Path] = []  # gaps.gpkg begun with its layer uncovered_points
            per_point: list[Future] = []  # the per-point table, written by a thread

            def hand_over_points(coverage: Coverage) -> None:
                # the per-point tables, written while this process finds the gaps
                plan = per_point_outputs(project, len(coverage.table))
                if not plan["written"]:
                    return
                # a shallow copy: this thread adds columns to the table later and changes none
                # of these (the written table equals the result's: test_fast_outputs)
                points = coverage.table.copy(deep=False)
                crs = coverage.network.crs
                per_point.append(
                    writer.submit(_write_per_point, points, plan["format"], crs, staged.path)
                )
                if plan["format"] == "csv":  # the largest layer of gaps.gpkg
                    uncovered.append(staged.path / GAPS_GPKG_BEGUN)
                    side.submit(write_uncovered_layer, _uncovered_layer(coverage), uncovered[0])

            result = compute_project(
                project,
                stages,
                sensitivity=True,
                on_demand_read=start_side,
                on_coverage=hand_over_points,
            )
            with stages.stage("write"):
                _write_tables(
                    result,
                    staged.path,
                    side,
                    begun=uncovered[0] if uncovered else None,
                    per_point=per_point[0] if per_point else None,
                )
                shown = _map_inputs(result)  # what the maps can embed; aggregation is a warning
                _io.write_json(staged.path / "summary.json", result.summary)
            with stages.stage("map"):
                _write_maps(result, shown, staged.path, basemap_key=basemap_key)
                side.finish()  # the second process's files
        _write_run_record(result, staged, stages.timings_s, side_process=side.record())
    finally:
        stages.close()
        renderer.join()  # a failed run raises once the import is done (a clean exit)
    return result


def _import_meanwhile(module: str) -> threading.Thread:
    """Import ``module`` on a thread, while the run reads its inputs (much of which releases
    the GIL, and the other CPU is idle then); the run's own import of it waits for it (the
    import lock) or finds it done. An error is left for that import to raise."""

    def load() -> None:
        with contextlib.suppress(Exception):
            importlib.import_module(module)

    thread = threading.Thread(target=load, name="geoplan-import")
    thread.start()
    return thread


def compute_project(
    project: Project,
    stages: Stages | None = None,
    *,
    sensitivity: bool = False,
    on_demand_read: Callable[[int], None] | None = None,
    on_coverage: Callable[[Coverage], None] | None = None,
) -> RunResult:
    """Load a project's inputs and compute coverage, units and gaps, writing nothing.

    The inputs are checked first (:func:`geoplan.analysis.preflight.check_inputs`: duplicates, one
    place, coordinate systems, far from road, capacity values); work is bounded by the
    project's ``[limits]`` (:mod:`geoplan.limits`). With ``sensitivity`` a project's
    ``[sensitivity]`` runs too (summary.json ``sensitivity``). ``on_demand_read`` is told the
    number of demand points as soon as they are read; ``on_coverage`` the coverage (its
    per-point table as the result will hold it) as soon as it is decided, before the gaps.
    """
    # the network is this run's own; its geometries are not scanned for cycles again and again
    with applied(project.limits), engine.edges_unchanged(), collector_paused():
        return _compute_project(
            project,
            stages or Stages(STAGES),
            sensitivity=sensitivity,
            on_demand_read=on_demand_read,
            on_coverage=on_coverage,
        )


def load_network(project: Project, inputs: dict | None = None):
    """The project's network, with the terrain of ``[network] dem`` when given."""
    from ..readers.elevation import with_terrain
    from ..readers.network import read_network

    path = project.resolve(project.network["path"])
    if inputs is not None:
        inputs["network"] = str(path)
    network = read_network(path)
    if project.dem:
        dem = project.resolve(project.dem)
        if inputs is not None:
            inputs["dem"] = str(dem)
        network = with_terrain(
            network,
            dem,
            sample_m=project.network.get("dem_sample_m"),
            missing=project.network["dem_missing"],
        )
    return network


def _compute_project(
    project: Project,
    stages: Stages,
    *,
    sensitivity: bool = False,
    on_demand_read: Callable[[int], None] | None = None,
    on_coverage: Callable[[Coverage], None] | None = None,
) -> RunResult:
    inputs: dict[str, str] = {}
    with stages.stage("load"):
        network = load_network(project, inputs)
        boundary = read_boundary(project, inputs)
        demand = read_project_demand(project, inputs)
        if on_demand_read is not None:
            on_demand_read(len(demand))
        table, _ = read_project_facilities(project, boundary, inputs)
        units_layer = _units_layer(project, inputs)
        credits = _credits(project, inputs)
    with stages.stage("check"):
        x, y = point_xy(demand, network.crs)  # arrays: no reprojected geometry (1M: ~1 s)
        checked = check_inputs(
            network=network,
            demand=demand,
            table=table,
            max_snap_m=project.snap_limits_m,
            boundary=boundary,
            boundary_tolerance_m=float(
                (project.boundary or {}).get("tolerance_m", DEFAULT_AREA_TOLERANCE_M)
            ),
            units=units_layer,
            keep_duplicates=project.keep_duplicates,
            files={k: Path(v).name for k, v in inputs.items()},
            area=project.area,
            demand_xy=(x, y),
        )
        used, rejects = checked.used, checked.rejects
    with stages.stage("snap+engine"):
        area = study_area(project, boundary, units_layer, network.crs)
        outside = {"points": 0, "population": 0.0}
        if area is not None:
            every = (x, y)
            demand, (x, y), outside, inside = _residents(demand, every, area, project)
            # the check snapped every point: the engine takes the residents' snaps from it
            engine.remember_part(network, *every, inside)
        if area is None:
            area = whole_demand_area(project, pd.DataFrame({"x": x, "y": y}), used, network.crs)
        # units first: a rule may judge residents by their unit's type (threshold_by_type,
        # modes_by_unit_type)
        names, codes = _resident_units(area, x, y, network.crs, project)
        coverage = compute_coverage(
            network,
            used,
            demand,
            project.rules,
            **project.coverage_options,
            unit_types=_unit_types(project, network, area, names, codes),
            demand_xy=(x, y),
        )
    with stages.stage("coverage"):
        points = coverage.table
        points["unit_name"], points["unit_code"] = string_column(names), string_column(codes)
        coverage = dataclasses.replace(coverage, units=area.units)
        by_unit = coverage.by_unit()
        if on_coverage is not None:
            on_coverage(coverage)
    with stages.stage("gaps"):
        gaps = coverage_gaps(
            coverage, cell_m=project.gap_cell_m, merge_contiguous=project.gap_merge_contiguous
        )
    summary = _summary(project, coverage, checked, points)
    summary["study_area"] = {"source": area.source, "tolerance_m": area.tolerance_m}
    summary["demand_outside_area"] = outside
    summary["credits"] = credits
    # which per-point tables a run of it writes ([outputs]); said when skipped at write time
    summary["per_point_outputs"] = per_point_outputs(project, len(coverage.table))
    _terrain_summary(network, summary)
    if sensitivity and project.sensitivity is not None:
        from ..analysis.sensitivity import sensitivity_bands

        with stages.stage("sensitivity"):
            summary["sensitivity"] = sensitivity_bands(
                coverage,
                walk_speeds=project.sensitivity.get("walk_speed_m_per_min"),
                speed_factors=project.sensitivity.get("speed_factor"),
                walk_speed_m_per_min=project.walk_speed_m_per_min,
            )
    result = RunResult(
        project,
        summary,
        coverage,
        by_unit,
        gaps,
        used,
        rejects,
        boundary,
        network,
        stages.timings_s,
        inputs,
        area.units,
        area,
        credits,
    )
    with stages.stage("service_areas"):
        add_service_areas(result)  # display layers, after every figure is decided
    return result


def _resident_units(area: StudyArea, x, y, crs, project: Project):
    """Each resident's unit name and code (``x``/``y`` in the network CRS)."""
    if area.source == "demand":  # one unit holding every resident by construction
        names, codes = np.empty(len(x), dtype=object), np.empty(len(x), dtype=object)
        names[:], codes[:] = project.area, ""  # one shared str (np.full makes one per point)
        return names, codes
    return assign_units(
        x, y, crs, area.units, outside=OUTSIDE_UNITS, tolerance_m=area.unit_tolerance_m
    )


SERVICE_AREAS_FILE = "service_areas.gpkg"
"""What a run with ``[service_areas]`` adds: one layer per rule (WGS84)."""


def add_service_areas(result: RunResult) -> None:
    """The ``[service_areas]`` of a run (:mod:`geoplan.analysis.service_areas`), into
    ``result.service_areas`` (network CRS, every rule's areas) and ``summary["service_areas"]``.

    The polygons are counted first (areas × bands over every rule) and refused above the
    ``service_area_features`` limit; nothing happens without ``[service_areas]``.
    """
    from ..analysis.service_areas import count_areas, service_areas
    from ..analysis.streets import band_edges_min

    options = result.project.service_areas
    if options is None:
        return
    named = options.get("rules")  # default: every rule of one mode (checked when loaded)
    rules = [r for r in result.project.rules if (r.id in named if named else not r.mixed)]
    if not rules:  # the project's rules were replaced (a plan check, a notebook): none to draw
        return
    per, width_m = options["per"], float(options["width_m"])
    bands = {
        r.id: sorted(options.get("bands_min") or band_edges_min(r.threshold_min)) for r in rules
    }
    total = sum(
        count_areas(result.coverage, result.facilities, r.id, per) * len(bands[r.id]) for r in rules
    )
    current().check(
        "service_area_features",
        total,
        "服务范围多边形数",
        f"service-area polygons ({per} × bands over {len(rules)} rule(s))",
        fix='Use per = "category" or "rule", fewer bands_min, or fewer [service_areas] rules',
    )
    frames = [
        service_areas(
            result.network,
            result.coverage,
            result.facilities,
            r.id,
            bands_min=bands[r.id],
            per=per,
            width_m=width_m,
        )
        for r in rules
    ]
    result.service_areas = pd.concat(frames, ignore_index=True)
    result.summary["service_areas"] = {
        "file": SERVICE_AREAS_FILE,
        "per": per,
        "width_m": width_m,
        "rules": [
            {"rule_id": r.id, "bands_min": bands[r.id], "polygons": len(frame)}
            for r, frame in zip(rules, frames, strict=True)
        ],
    }


def _unit_types(project: Project, network, area: StudyArea, names, codes):
    """The unit type (``[units] type_column``) of every resident (``""`` outside every unit
    or where the unit has none) and, when rules choose modes by it, of every network node and
    edge midpoint; None when the units have no types."""
    from ..analysis.coverage import UnitTypes

    units = area.units
    by_mode = any(rule.modes_by_unit_type for rule in project.rules)
    if units is None or "unit_type" not in units:
        if by_mode:
            raise ConfigError(
                f"{project.path.name}: rules choose modes by unit type, but the units have no "
                "type column ([units] type_column) / 单元缺少类型字段"
            )
        return None
    points = point_unit_types(names, codes, units)
    if not by_mode:
        return UnitTypes(points)
    _check_unit_types(project, set(units["unit_type"].dropna()))

    import shapely

    node_x, node_y = network.nodes["x"].to_numpy(), network.nodes["y"].to_numpy()
    middle = shapely.line_interpolate_point(
        np.asarray(network.edges.geometry.values), 0.5, normalized=True
    )
    places = {}
    for what, (x, y) in (
        ("nodes", (node_x, node_y)),
        ("edges", (shapely.get_x(middle), shapely.get_y(middle))),
    ):
        places[what] = point_unit_types(
            *assign_units(
                x, y, network.crs, units, outside=OUTSIDE_UNITS, tolerance_m=area.unit_tolerance_m
            ),
            units,
        )
    return UnitTypes(points, places["nodes"], places["edges"])


def _check_unit_types(project: Project, found: set[str]) -> None:
    """Every type of the units is named by each rule by unit type, and every type a rule
    names is found among the units (a misspelt one would silently apply to nobody)."""
    import difflib

    from ..analysis.rules import DEFAULT_UNIT_TYPE

    column = project.units["type_column"]
    for rule in project.rules:
        named = {kind for kind, _ in rule.modes_by_unit_type}
        if not named:
            continue
        for kind in sorted(named - found - {DEFAULT_UNIT_TYPE}):
            close = difflib.get_close_matches(kind, sorted(found), n=1, cutoff=0.5)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise ConfigError(
                f"{project.path.name}: rule {rule.id!r} modes_by_unit_type names {kind!r}, which "
                f"no unit has in column {column!r} (types: {', '.join(sorted(found))}){hint} / "
                f"单元类型 {kind!r} 不存在"
            )
        if DEFAULT_UNIT_TYPE not in named:
            for kind in sorted(found - named):
                raise ConfigError(
                    f"{project.path.name}: rule {rule.id!r} modes_by_unit_type names no modes "
                    f"for units of type {kind!r} (column {column!r}); add `{kind} = [...]` or "
                    f"`{DEFAULT_UNIT_TYPE} = [...]` / 规则未给出类型 {kind!r} 的出行方式"
                )


def _terrain_summary(network, summary: dict) -> None:
    """summary.json ``network.terrain`` (and a warning when edges were left flat)."""
    terrain = network.terrain
    if terrain is None:
        return
    summary["network"]["terrain"] = block = terrain.summary()
    warning = _terrain_warning(block)
    if warning is not None:
        summary.setdefault("warnings", []).append(warning)


def _terrain_warning(block: dict) -> dict | None:
    """The warning (logged, and returned as a summary.json entry) when nodes off the DEM left
    edges walked as flat (``block``: :meth:`Terrain.summary`); None when every edge followed
    the terrain."""
    if not block["edges_flat_missing"]:
        return None
    zh = (
        f"{block['nodes_missing']:,} 个路网节点位于高程数据范围外或无数据处，"
        f'{block["edges_flat_missing"]:,} 条路段按平地计算（dem_missing = "flat"）。'
    )
    en = (
        f"{block['nodes_missing']:,} network nodes lie outside the DEM or on nodata: "
        f"{block['edges_flat_missing']:,} edges were walked as flat "
        '(dem_missing = "flat").'
    )
    logger.warning("%s", en)
    return {"check": "dem_missing", "message_zh": zh, "message_en": en}


def _credits(project: Project, inputs: dict[str, str]) -> dict[str, str]:
    """Each input's data credit (its table's ``credit`` key, else by recognised source); with
    several facility files, one per file (``facilities_1`` …)."""
    tables = {
        "network": project.network,
        "demand": project.demand,
        "boundary": project.boundary or {},
        "units": project.units or {},
    }
    several = len(project.facility_tables) > 1
    for i, table in enumerate(project.facility_tables):
        tables[f"facilities_{i + 1}" if several else "facilities"] = table
    credits = {
        name: input_credit(name.split("_")[0], inputs[name], table)
        for name, table in tables.items()
        if name in inputs
    }
    osm = [v for k, v in inputs.items() if k.startswith("geocode_osm")]
    if osm:
        credits["geocode"] = input_credit("geocode", osm[0], {})
    return credits


# --------------------------------------------------------------------------- reading inputs


def read_boundary(project: Project, inputs: dict | None = None) -> gpd.GeoDataFrame | None:
    """The ``[boundary]`` polygons (None without a boundary;
    :func:`geoplan.readers.boundaries.read_boundary`)."""
    if not project.boundary:
        return None
    path = project.resolve(project.boundary["path"])
    if inputs is not None:
        inputs["boundary"] = str(path)
    graphml = True if project.boundary.get("format") == "graphml" else None
    return boundaries.read_boundary(path, name=project.area, graphml=graphml)


def read_project_demand(project: Project, inputs: dict | None = None) -> gpd.GeoDataFrame:
    """The demand points of ``[demand]``, read with its options (as every command reads them)."""
    path = project.resolve(project.demand["path"])
    if inputs is not None:
        inputs["demand"] = str(path)
    return read_demand_table(project.demand, path)


def read_demand_table(table: Mapping, path: Path) -> gpd.GeoDataFrame:
    """The demand points of a validated ``[demand]`` table whose file is ``path`` (resolved)."""
    from ..readers.demand import demand_from_graphml_edges, read_demand

    options = {k: v for k, v in table.items() if k not in ("path", "format", "credit")}
    if table.get("format") == "graphml_edges":
        return demand_from_graphml_edges(path, **options)
    return read_demand(path, **options)


FACILITY_READ_KEYS = (
    "sheet",
    "layer",
    "encoding",
    "crs",
    "boundary_tolerance_m",
    "columns",
    "categories",
)
"""Keys of a facility table passed to :func:`geoplan.readers.facilities.read_facilities`."""


def read_project_facilities(project: Project, boundary, inputs: dict | None = None):
    """Every facility file of the project, read, geocoded and concatenated.

    Returns the combined :class:`~geoplan.readers.facilities.FacilityTable` (``source_file`` on
    every used and rejected row: the path as written in the project; ids prefixed
    ``<id_prefix>:`` where the table has one) and, per used row, its file's ``max_snap_m``.
    """
    from ..readers.facilities import FacilityTable, read_facilities

    geocoder = _geocoder(project, inputs) if project.geocode is not None else None
    tables, limits = [], []
    several = len(project.facility_tables) > 1
    for i, options in enumerate(project.facility_tables):
        path = project.resolve(options["path"])
        if inputs is not None:
            inputs[f"facilities_{i + 1}" if several else "facilities"] = str(path)
        read = {k: options[k] for k in FACILITY_READ_KEYS if k in options}
        table = read_facilities(path, **read, boundary=boundary)
        if geocoder is not None:
            from ..readers.geocode import geocode_missing

            table = geocode_missing(
                table,
                geocoder,
                min_precision=project.geocode.get("min_precision", "county"),
                boundary=boundary,
                boundary_tolerance_m=float(
                    options.get("boundary_tolerance_m", DEFAULT_BOUNDARY_TOLERANCE_M)
                ),
            )
        tables.append(_labelled(table, options))
        limits.append(
            np.full(len(table.used), float(options.get("max_snap_m", DEFAULT_MAX_SNAP_M)))
        )
    if len(tables) == 1:
        return tables[0], limits[0]
    used = gpd.GeoDataFrame(
        pd.concat([t.used for t in tables], ignore_index=True), geometry="geometry", crs=4326
    )
    duplicated = used["facility_id"][used["facility_id"].duplicated()]
    if len(duplicated):  # distinct prefixes and ids unique per file make this impossible
        raise InputError(f"facility ids repeat across files: {sorted(set(duplicated))[:10]}")
    combined = FacilityTable(
        used,
        pd.concat([t.rejects for t in tables], ignore_index=True),
        sum(t.read for t in tables),
        "; ".join(t.source for t in tables),
        pd.concat([t.capacity_issues for t in tables], ignore_index=True),
    )
    return combined, np.concatenate(limits)


def _labelled(table, options: Mapping):
    """``table`` with ``source_file`` after ``source_row`` and ids prefixed by ``id_prefix``."""
    source = str(options["path"])
    prefix = options.get("id_prefix")

    def label(frame: pd.DataFrame) -> pd.DataFrame:
        frame = frame.copy()
        if "source_row" in frame:
            frame.insert(frame.columns.get_loc("source_row") + 1, "source_file", source)
        else:
            frame["source_file"] = source
        if prefix is not None and "facility_id" in frame:
            ids = frame["facility_id"].astype(str)
            given = frame["facility_id"].notna() & (ids != "") & (ids != "nan")
            frame.loc[given, "facility_id"] = prefix + ":" + ids[given]
        return frame

    return dataclasses.replace(
        table,
        used=gpd.GeoDataFrame(label(table.used), geometry="geometry", crs=table.used.crs),
        rejects=label(table.rejects),
        capacity_issues=label(table.capacity_issues),
    )


def _geocoder(project: Project, inputs: dict | None):
    """The offline gazetteer of ``[geocode]`` (its admin layers and OSM files)."""
    from ..readers.geocode import GazetteerGeocoder

    table = project.geocode  # the schema made sure it names admin layers or OSM files
    admin = {level: project.resolve(path) for level, path in table.get("admin", {}).items()}
    osm = [project.resolve(path) for path in table.get("osm", [])]
    if inputs is not None:
        for level, path in admin.items():
            inputs[f"geocode_{level}"] = str(path)
        for i, path in enumerate(osm):
            inputs[f"geocode_osm_{i + 1}"] = str(path)
    return GazetteerGeocoder.from_sources(admin=admin, osm=osm)


def _units_layer(project: Project, inputs: dict) -> gpd.GeoDataFrame | None:
    """The ``[units]`` layer (None without one)."""
    if not project.units:
        return None
    path = project.resolve(project.units["path"])
    inputs["units"] = str(path)
    return read_units(
        path,
        name_column=project.units.get("name_column"),
        code_column=project.units.get("code_column"),
        type_column=project.units.get("type_column"),
    )


# --------------------------------------------------------------------------- the study area


@dataclass(frozen=True)
class StudyArea:
    """The study area every command shares (run, check, scenario, sites).

    * ``source = "boundary"``: the ``[boundary]`` polygons; residents farther than
      ``[boundary] tolerance_m`` outside them are not residents of the area;
    * ``"units"``: no boundary, the union of the ``[units]`` polygons, likewise with
      ``[units] tolerance_m``;
    * ``"demand"``: neither; every resident of the demand file is in the area, whose polygon
      is the hull of the residents and the used facilities (+ :data:`AREA_HULL_BUFFER_M`).

    ``units`` are the ``[units]`` layer, else the boundary, else that hull, as one unit named
    ``[project] area``; a resident outside every unit but within ``unit_tolerance_m`` of one
    counts in the nearest.
    """

    geometry: object  # shapely geometry in the network CRS
    source: str
    tolerance_m: float
    units: gpd.GeoDataFrame
    unit_tolerance_m: float


def study_area(
    project: Project,
    boundary: gpd.GeoDataFrame | None,
    units: gpd.GeoDataFrame | None,
    crs,
) -> StudyArea | None:
    """The :class:`StudyArea` of the boundary, else the units (``crs``: the network's, metric);
    None without either (see :func:`whole_demand_area`)."""
    import shapely

    if boundary is None and units is None:
        return None
    unit_tolerance = float((project.units or {}).get("tolerance_m", DEFAULT_AREA_TOLERANCE_M))
    if boundary is None:
        geometry = shapely.union_all(units.to_crs(crs).geometry.values)
        return StudyArea(geometry, "units", unit_tolerance, units, unit_tolerance)
    geometry = shapely.union_all(boundary.to_crs(crs).geometry.values)
    tolerance = float((project.boundary or {}).get("tolerance_m", DEFAULT_AREA_TOLERANCE_M))
    if units is not None:
        return StudyArea(geometry, "boundary", tolerance, units, unit_tolerance)
    frame = boundary.assign(unit_name=project.area, unit_code=boundary.get("unit_code", ""))
    layer = units_from_frame(frame, name_column="unit_name", code_column="unit_code")
    return StudyArea(geometry, "boundary", tolerance, layer, tolerance)


def whole_demand_area(
    project: Project, points: pd.DataFrame, facilities: gpd.GeoDataFrame, crs
) -> StudyArea:
    """The study area of a project without boundary or units: every resident of the demand
    file; its polygon is the convex hull of the residents (``points``' ``x``/``y`` in ``crs``)
    and the facilities, + :data:`AREA_HULL_BUFFER_M`, as one unit named ``[project] area``."""
    import shapely
    from scipy.spatial import ConvexHull, QhullError

    xy = np.vstack(
        [
            points[["x", "y"]].to_numpy(dtype=float),
            shapely.get_coordinates(facilities.geometry.to_crs(crs).values),
        ]
    )
    try:
        hull = shapely.Polygon(xy[ConvexHull(xy).vertices])
    except QhullError:  # fewer than 3 points, or all on one line
        hull = shapely.multipoints(xy).convex_hull
    geometry = hull.buffer(AREA_HULL_BUFFER_M)
    frame = gpd.GeoDataFrame(
        {"unit_name": [project.area], "unit_code": [""]}, geometry=[geometry], crs=crs
    )
    units = units_from_frame(frame, name_column="unit_name", code_column="unit_code")
    return StudyArea(geometry, "demand", 0.0, units, 0.0)


def _residents(demand: gpd.GeoDataFrame, xy: tuple, area: StudyArea, project: Project):
    """The demand points inside the study area or within its tolerance of it, their ``xy``
    (coordinate arrays in the network CRS), how many were left out, and which were kept (a
    boolean mask of ``demand``). Raises :class:`InputError` when nobody is left.

    The tolerance is applied as a buffer (16 segments per quarter circle: at most 0.13 % of
    ``tolerance_m`` short at convex corners), so a million points cost two vectorised
    point-in-polygon passes.
    """
    import shapely

    x, y = xy
    shapely.prepare(area.geometry)
    inside = shapely.intersects_xy(area.geometry, x, y)
    rest = np.flatnonzero(~inside)
    if len(rest) and area.tolerance_m > 0:
        near = area.geometry.buffer(area.tolerance_m, quad_segs=16)
        shapely.prepare(near)
        inside[rest[shapely.intersects_xy(near, x[rest], y[rest])]] = True
    population = demand["population"].to_numpy(dtype=float)
    outside = {"points": int((~inside).sum()), "population": float(population[~inside].sum())}
    if outside["points"]:
        logger.warning(
            "%d demand points (%s residents) lie more than %g m outside the study area "
            "(%s) and are not counted / 研究区域外的居民点不计入",
            outside["points"],
            f"{outside['population']:,.0f}",
            area.tolerance_m,
            area.source,
        )
    if not inside.any() or population[inside].sum() <= 0:
        raise InputError(
            f"{project.path.name}: no residents of the demand file lie within the study area "
            f"({area.source}, +{area.tolerance_m:g} m); do the demand and the "
            f"{area.source} describe the same place? / 研究区域内没有居民"
        )
    if inside.all():
        return demand, xy, outside, inside
    return demand[inside].reset_index(drop=True), (x[inside], y[inside]), outside, inside


def _summary(project: Project, coverage: Coverage, checked: Checked, points) -> dict:
    far = None
    if "snap_distance_m" in points:
        far = points["snap_distance_m"] > DEMAND_FAR_FROM_ROAD_M
    used, rejects = checked.used, checked.rejects
    facilities = {
        "read": int(checked.read),
        "used": len(used),
        "rejected": len(rejects),
        **_facility_sources(used),
        "capacity_issues": checked.capacity_issues,
    }
    if len(project.facility_tables) > 1:
        facilities["files"] = [
            {
                "source_file": str(t["path"]),
                "id_prefix": t.get("id_prefix"),
                "used": int((used["source_file"] == t["path"]).sum()),
                "rejected": int((rejects["source_file"] == t["path"]).sum()),
            }
            for t in project.facility_tables
        ]
    return {
        "area": project.area,
        "area_en": project.area_en,
        "population_total": float(points["population"].sum()),
        "demand_points": len(points),
        "rules": coverage.summary(),
        "facilities": facilities,
        "facilities_hypothetical": project.hypothetical_facilities,
        "notes_zh": list(project.notes_zh),
        "notes_en": list(project.notes_en),
        "walk_speed_m_per_min": project.walk_speed_m_per_min,
        "network": {
            "private_ways": project.private_ways,
            "snap_to_largest_component": project.snap_to_largest_component,
            "modes": coverage.snapping,
            **({"speeds": project.speeds} if project.speeds else {}),
        },
        "demand_far_from_road": None
        if far is None
        else {
            "threshold_m": DEMAND_FAR_FROM_ROAD_M,
            "points": int(far.sum()),
            "population": float(points.loc[far, "population"].sum()),
        },
        "warnings": checked.warnings,
        "inputs_overlap": {k: round(v, 6) for k, v in checked.overlap.items()},
        "coordinate_checks": checked.coordinate_checks,
    }


def _facility_sources(used: gpd.GeoDataFrame) -> dict:
    """How the used facilities' positions were obtained: counts for ``summary.json``."""
    source = used["coord_source"].astype(str)
    geocoded = source == "geocoded"
    precision = (
        used["geocode_precision"] if "geocode_precision" in used else pd.Series([], dtype=str)
    )
    return {
        "geocoded": int(geocoded.sum()),
        "converted": int((~geocoded & ~source.isin(_AS_READ)).sum()),
        "coord_source": {str(k): int(v) for k, v in source.value_counts().sort_index().items()},
        "geocode_precision": {
            str(k): int(v) for k, v in precision[geocoded].value_counts().sort_index().items()
        },
    }


_AS_READ = ("wgs84", "cgcs2000")
"""Coordinate sources that need no conversion (CGCS2000 agrees with WGS84 within a metre)."""


def per_point_outputs(project: Project, points: int) -> dict:
    """Whether a run of ``project`` with ``points`` demand points writes its per-point tables
    (``[outputs]``), as ``summary.json`` records it under ``per_point_outputs``.

    ``written`` (bool), ``points``, ``per_point`` (auto/always/never), ``max_points``,
    ``format`` (csv/parquet) and ``files``: the per-point files written (``gaps.gpkg:
    uncovered_points`` names a layer), or, when skipped, those that would have been.
    """
    options = {**schema.check_table(config.OUTPUTS, {}), **(project.outputs or {})}
    mode, limit = options["per_point"], int(options["per_point_max_points"])
    fmt = options["per_point_format"]
    written = mode == "always" or (mode == "auto" and points <= limit)
    files = (
        ["coverage_points.csv", "gaps.gpkg:uncovered_points"]
        if fmt == "csv"
        else ["coverage_points.parquet"]
    )
    return {
        "written": written,
        "points": int(points),
        "per_point": mode,
        "max_points": limit,
        "format": fmt,
        "files": files,
    }


def _per_point_note(plan: dict) -> dict:
    """The warning (``check`` ``per_point_skipped``) of a run that skips its per-point tables."""
    files = ", ".join(plan["files"])
    if plan["per_point"] == "never":
        why_zh, why_en = '[outputs] per_point = "never"', '[outputs] per_point = "never"'
    else:
        why_zh = (
            f"需求点 {plan['points']:,} 个，超过 [outputs] per_point_max_points"
            f"（{plan['max_points']:,}）"
        )
        why_en = (
            f"{plan['points']:,} demand points, more than [outputs] per_point_max_points "
            f"({plan['max_points']:,})"
        )
    return {
        "check": "per_point_skipped",
        "message_zh": (
            f"未写出逐点表（{files}）：{why_zh}。按单元与缺口的汇总表照常写出，数字不变；"
            '如需逐点表，请在项目文件中设 [outputs] per_point = "always"（或 geoplan run '
            '--per-point always；可配合 per_point_format = "parquet" 以加快写出）。'
        ),
        "message_en": (
            f"per-point tables not written ({files}): {why_en}. The tables by unit and of gaps "
            "are written as always, with the same figures; to get them, set [outputs] per_point = "
            '"always" in the project file or run with --per-point always (per_point_format = '
            '"parquet" writes them faster).'
        ),
    }


def _write_tables(
    result: RunResult,
    out_dir: Path,
    side: SideProcess,
    *,
    begun: Path | None,
    per_point: Future | None,
) -> None:
    """Every table of a run but summary.json: the CSVs, gaps.xlsx/.gpkg, the service areas.

    ``per_point`` is the per-point table, the largest, which a worker thread has been writing
    since the coverage was decided (:func:`run_into`; None when the run skips it): this waits
    for it last and raises its error. gaps.gpkg and gaps.xlsx are handed to ``side``: a second
    process, if it started, writes them meanwhile (GDAL's inserts and openpyxl hold the GIL);
    else they are written here, last. ``begun`` is gaps.gpkg's layer ``uncovered_points``,
    handed to ``side`` before (:func:`write_uncovered_layer`). An error here is raised once
    the thread is done too (:func:`run_into` waits for it): every file is atomic.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    plan = result.summary["per_point_outputs"]  # decided by compute_project
    if not plan["written"]:
        note = _per_point_note(plan)
        logger.warning("%s", note["message_en"])
        result.summary.setdefault("warnings", []).append(note)
    gaps_wgs84 = result.gaps.to_crs(4326)
    # movable (finish() may write it here): unless it adds to the file begun by an earlier job
    side.submit(write_gaps_gpkg, gaps_wgs84, begun, out_dir / "gaps.gpkg", movable=begun is None)
    table = pd.DataFrame(gaps_wgs84.drop(columns="geometry"))
    centre = gaps_wgs84.geometry.representative_point()
    table["lon"], table["lat"] = centre.x.round(6), centre.y.round(6)
    table["median_travel_time_min"] = (table["median_travel_time_s"] / 60).round(2)
    sheets = {"gaps": table, "coverage_by_unit": result.by_unit}
    side.submit(_io.write_xlsx, sheets, out_dir / "gaps.xlsx", movable=True)
    _io.write_csv(result.by_unit, out_dir / "coverage_by_unit.csv")
    _io.write_csv(result.rejects, out_dir / "rejects.csv")
    _io.write_csv(facilities_used_table(result), out_dir / "facilities_used.csv")
    _io.write_csv(table, out_dir / "gaps.csv")
    if result.service_areas is not None:
        _write_service_areas(result.service_areas, out_dir / SERVICE_AREAS_FILE)
    side.run_kept()  # without a second process: gaps.xlsx and gaps.gpkg, here, last
    if per_point is not None:
        per_point.result()  # its error, if it had one


def _write_per_point(points: pd.DataFrame, fmt: str, crs, out_dir: Path) -> None:
    """``coverage_points.csv`` or ``coverage_points.parquet`` (``fmt``, ``[outputs]
    per_point_format``) of a coverage's per-point table ``points`` (``x``/``y`` in ``crs``)."""
    if fmt == "csv":
        _io.write_csv(points.drop(columns=["x", "y"]), out_dir / "coverage_points.csv")
    else:
        _write_points_parquet(points, crs, out_dir / "coverage_points.parquet")


def _write_points_parquet(points: pd.DataFrame, crs, path: Path) -> None:
    """``coverage_points.parquet``: the columns of coverage_points.csv and each demand point
    in WGS84 (GeoParquet, WKB), one row per demand point."""
    frame = gpd.GeoDataFrame(
        points.drop(columns=["x", "y"]).reset_index(drop=True),
        geometry=_wgs84_points(points["x"].to_numpy(), points["y"].to_numpy(), crs),
        crs=4326,
    )
    with _io.atomic_path(path) as tmp:
        frame.to_parquet(tmp, index=False)


def _wgs84_points(x: np.ndarray, y: np.ndarray, crs) -> np.ndarray:
    """Points at ``x``, ``y`` (in ``crs``) in WGS84 (:func:`_wgs84_xy`)."""
    import shapely

    return shapely.points(*_wgs84_xy(x, y, crs))


def _wgs84_xy(x: np.ndarray, y: np.ndarray, crs) -> tuple[np.ndarray, np.ndarray]:
    """Longitudes and latitudes of ``x``, ``y`` (in ``crs``): the coordinates that
    ``GeoSeries.to_crs(4326)`` gives, transformed as arrays (without building points)."""
    from pyproj import CRS, Transformer

    transformer = Transformer.from_crs(
        CRS.from_user_input(crs), CRS.from_epsg(4326), always_xy=True
    )
    return transformer.transform(x, y)


def _write_service_areas(areas: gpd.GeoDataFrame, path: Path) -> None:
    """``service_areas.gpkg``: one layer per rule (named by its id), WGS84."""
    areas = areas.to_crs(4326)
    with _io.atomic_path(path) as tmp:
        for rule_id, layer in areas.groupby("rule_id", sort=False):
            layer = gpd.GeoDataFrame(layer.reset_index(drop=True), crs=areas.crs)
            layer.to_file(tmp, layer=str(rule_id), driver="GPKG", engine="pyogrio")


FACILITIES_USED_COLUMNS = (
    "facility_id",
    "name",
    "category",
    "tier",
    "lon",
    "lat",
    "lon_gcj02",
    "lat_gcj02",
    "coord_source",
    "geocode_precision",
    "geocode_matched",
    "snap_distance_m",
    "source_file",
    "source_row",
    "geocode_provider",
    "address",
    "beds",
    "doctors",
    "nurses",
    "grade",
    "ownership",
)
"""Columns of ``facilities_used.csv``: one row per facility the computation used."""


def facilities_used_table(result: RunResult) -> pd.DataFrame:
    """The facilities a run used, as ``facilities_used.csv`` lists them.

    WGS84 ``lon``/``lat`` (what was computed with) and the same points in GCJ-02 (to find
    them on Amap/Tencent maps); ``coord_source`` (``wgs84``, ``gcj02`` … as declared and
    converted, or ``geocoded``), the geocoder's precision and matched place, the distance to
    the street the facility was snapped to (m), and the file and row it came from.
    """
    used = result.facilities.to_crs(4326)
    lon = used.geometry.x.to_numpy()
    lat = used.geometry.y.to_numpy()
    glon, glat = coords.wgs84_to_gcj02(lon, lat)
    file = Path(result.inputs.get("facilities", "")).name
    table = pd.DataFrame(
        {
            "facility_id": used["facility_id"].to_numpy(),
            "name": used["name"].to_numpy(),
            "category": used["category"].to_numpy(),
            "tier": used["tier"].to_numpy(),
            "lon": np.round(lon, 7),
            "lat": np.round(lat, 7),
            "lon_gcj02": np.round(glon, 7),
            "lat_gcj02": np.round(glat, 7),
        }
    )
    for name in FACILITIES_USED_COLUMNS[len(table.columns) :]:
        if name == "source_file" and name not in used:
            table[name] = file
        elif name in used:
            table[name] = used[name].to_numpy()
        else:
            table[name] = None
    table["snap_distance_m"] = pd.to_numeric(table["snap_distance_m"]).round(1)
    return table


def _uncovered_points(coverage: Coverage) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    """Demand points not covered by at least one rule, with per-rule columns, and their
    WGS84 longitudes and latitudes."""
    points = coverage.table
    any_uncovered = np.zeros(len(points), dtype=bool)
    for rule in coverage.rules:
        any_uncovered |= ~points[column(rule.id, "covered")].to_numpy()
    chosen = points[any_uncovered]
    lon, lat = _wgs84_xy(chosen["x"].to_numpy(), chosen["y"].to_numpy(), coverage.network.crs)
    return chosen.drop(columns=["x", "y"]), lon, lat


def _uncovered_layer(coverage: Coverage):
    """The layer ``uncovered_points`` of gaps.gpkg (:func:`_uncovered_points`), as
    :func:`write_uncovered_layer` takes it: an Arrow table whose points are WKB built from
    the coordinate arrays (no shapely point per row), or a GeoDataFrame when a column is one
    pyogrio converts itself first (dates, all None)."""
    import pyarrow as pa

    table, lon, lat = _uncovered_points(coverage)
    plain = all(
        (isinstance(dtype, np.dtype) and dtype.kind in "biuf")
        or isinstance(dtype, pd.StringDtype)
        or (
            pd.api.types.is_object_dtype(dtype)
            and pd.api.types.infer_dtype(table[name]) == "string"
        )
        for name, dtype in table.dtypes.items()
    )
    if not plain:
        return gpd.GeoDataFrame(table, geometry=gpd.points_from_xy(lon, lat), crs=4326)
    arrow = pa.Table.from_pandas(table, preserve_index=False)
    return arrow.append_column("geometry", _wkb_points(lon, lat))


def _wkb_points(x: np.ndarray, y: np.ndarray):
    """2D points as little-endian WKB (an Arrow large-binary array): the bytes
    ``shapely.to_wkb`` writes for ``shapely.points(x, y)``, 21 per point, without a GEOS
    object per point. 64-bit offsets: 32-bit ones would wrap above 102 million points."""
    import pyarrow as pa

    record = np.dtype([("order", "u1"), ("kind", "<u4"), ("x", "<f8"), ("y", "<f8")])
    wkb = np.empty(len(x), dtype=record)  # packed: 1 + 4 + 8 + 8 bytes
    wkb["order"], wkb["kind"], wkb["x"], wkb["y"] = 1, 1, x, y
    offsets = np.arange(0, record.itemsize * (len(x) + 1), record.itemsize, dtype=np.int64)
    buffers = [None, pa.py_buffer(offsets), pa.py_buffer(wkb.view(np.uint8))]
    return pa.Array.from_buffers(pa.large_binary(), len(x), buffers)


def _with_map_overrides(project: Project, *, lang: str | None, basemap: str | None) -> Project:
    """``project`` with ``[map]`` overridden (the command line's ``--lang``/``--basemap``)."""
    if lang is None and basemap is None:
        return project
    table = {
        "langs": [lang] if lang is not None else list(project.map.langs),
        "basemap": basemap if basemap is not None else project.map.basemap,
        "basemap_key_env": project.map.basemap_key_env,
    }
    return dataclasses.replace(project, map=_map_options(table, "command line"))


def _map_inputs(result: RunResult) -> MapInputs:
    """The run's demand, facilities and gaps as the maps will show them
    (:func:`geoplan.rendering.run_maps.map_inputs`).

    Each aggregation is logged as a warning and added to ``result.summary["warnings"]``
    (check ``map_aggregated``), so the console, summary.json and the map all say so.
    """
    from ..rendering.run_maps import map_inputs

    shown = map_inputs(result.coverage, result.facilities, result.gaps, result.project.limits)
    for warning in shown.notes:
        logger.warning("%s", warning["message_en"])
    result.summary.setdefault("warnings", []).extend(shown.notes)
    return shown


def _write_maps(
    result: RunResult, shown: MapInputs, out_dir: Path, *, basemap_key: str | None
) -> None:
    """One coverage map per ``[map] langs`` (``map.html``, then ``map_<lang>.html``)."""
    from ..rendering import maps
    from ..rendering.run_maps import draw_coverage_map, map_units

    # each street timed along its length and cut at the band edges (geoplan.analysis.streets)
    streets = street_minutes(result.network, result.coverage)
    project = result.project
    units = map_units(result.units, result.by_unit, project.rules)
    for lang, name in project.map.files():
        m = draw_coverage_map(
            result.coverage,
            shown,
            rules=result.summary["rules"],
            title_zh=f"{project.area} 设施可达性",
            title_en=f"{project.area_en}: facility access",
            boundary=result.boundary,
            units=units,
            notes_zh=project.notes_zh,
            notes_en=project.notes_en,
            attribution=result.attribution,
            lang=lang,
            basemap=project.map.basemap,
            basemap_key=basemap_key,
            hypothetical=project.hypothetical_facilities,
            streets=streets,
            service_areas=result.service_areas,
        )
        maps.save_map(m, out_dir / name)


def _write_run_record(
    result: RunResult,
    staged: Staging,
    timings_s: dict[str, float],
    *,
    side_process: dict | None = None,
) -> None:
    """run.json: inputs (a path the run derived itself is relative to the result folder);
    this process's peak memory, and its second one's (:mod:`.side_process`) peak memory and
    seconds per job, if it had one."""
    record = {
        "project": str(result.project.path),
        "finished_at": datetime.now().astimezone().isoformat(timespec="seconds"),
        "inputs": {
            name: {"path": staged.record(p), "sha256": file_sha256(p)}
            for name, p in result.inputs.items()
        },
        "parameters": {
            "walk_speed_m_per_min": result.project.walk_speed_m_per_min,
            "speeds": result.project.speeds,
            "dem": result.project.dem,
            "dem_sample_m": result.project.network.get("dem_sample_m"),
            "dem_missing": result.project.network.get("dem_missing"),
            "sensitivity": result.project.sensitivity,
            "private_ways": result.project.private_ways,
            "snap_to_largest_component": result.project.snap_to_largest_component,
            "facilities_max_snap_m": result.project.max_snap_m,
            "facility_files": [dict(t) for t in result.project.facility_tables],
            "study_area": result.summary.get("study_area"),
            "gap_cell_m": result.project.gap_cell_m,
            "gap_merge_contiguous": result.project.gap_merge_contiguous,
            "rules": [r.as_dict() for r in result.project.rules],
            "network_crs": result.network.crs.to_string(),
        },
        "stage_timings_s": timings_s,
        "peak_memory_mb": peak_memory_mb(),
        "side_process": side_process,
        "versions": _versions(),
        "python": platform.python_version(),
        "platform": platform.platform(),
    }
    _io.write_json(staged.path / "run.json", record)


def _versions() -> dict[str, str]:
    names = (
        "geoplan",
        "numpy",
        "scipy",
        "pandas",
        "shapely",
        "geopandas",
        "pyproj",
        "osmnx",
        "folium",
        "rasterio",
        "osmium",
    )
    versions = {}
    for name in names:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def write_travel_times(
    *,
    network: str | Path,
    facilities: str | Path,
    demand: str | Path,
    mode: str,
    out: str | Path,
    walk_speed_m_per_min: float = DEFAULT_WALK_SPEED_M_PER_MIN,
    overwrite: bool = False,
    crs: str | None = None,
    keep_duplicates: bool = False,
    max_snap_m: float = DEFAULT_MAX_SNAP_M,
    dem: str | Path | None = None,
    dem_missing: str = "refuse",
) -> pd.DataFrame:
    """Read the three inputs, compute the nearest-facility table and write it to ``out``.

    The format follows the extension: ``.csv`` (UTF-8 with BOM), ``.xlsx`` (one sheet
    ``travel_times``) or ``.parquet``; others are refused before any work, as is an ``out``
    that is a folder, an input, or exists without ``overwrite``.

    The facilities' coordinate system is ``crs`` (as ``read_facilities``; ``--crs``); the
    inputs go through the run's checks first (:func:`geoplan.analysis.preflight.check_inputs`:
    duplicates, one place, GCJ-02/BD-09, far from road), whose warnings are logged. Work is
    bounded by the limits of the environment (:mod:`geoplan.limits`). With a ``dem`` walking
    follows the terrain (:mod:`geoplan.readers.elevation`; ``dem_missing`` as
    ``[network] dem_missing``).
    """
    from ..analysis.coverage import nearest_table
    from ..analysis.duplicates import KEEP_HINT_CLI
    from ..analysis.qa import DECLARE
    from ..readers.demand import read_demand
    from ..readers.facilities import read_facilities
    from ..readers.network import read_network

    out = Path(out)
    walk_speed_m_per_min = schema.check_value(
        config.NETWORK, "walk_speed_m_per_min", walk_speed_m_per_min, where="--walk-speed"
    )
    if not out.is_dir() and out.suffix.lower() not in _io.TABLE_SUFFIXES:
        raise OutputError(
            f"--out {out}: geoplan writes {', '.join(_io.TABLE_SUFFIXES)} tables; name a file "
            "with one of these extensions"
        )
    inputs = [network, facilities, demand, *([dem] if dem is not None else [])]
    with output_files([out], command="traveltimes", overwrite=overwrite, inputs=inputs) as temps:
        net = read_network(network)
        if dem is not None:
            from ..readers.elevation import with_terrain

            net = with_terrain(net, dem, missing=dem_missing)
            _terrain_warning(net.terrain.summary())  # logged
        points = read_demand(demand)
        checked = check_inputs(
            network=net,
            demand=points,
            table=read_facilities(facilities, crs=crs),
            max_snap_m=max_snap_m,
            keep_duplicates=keep_duplicates,
            keep_hint=KEEP_HINT_CLI,
            declare=DECLARE["option"],
            files={
                "network": Path(network).name,
                "facilities": Path(facilities).name,
                "demand": Path(demand).name,
            },
        )
        if len(checked.rejects):
            counts = checked.rejects["reason_code"].value_counts()
            logger.warning(
                "%s: %d of %d facility records not used (%s): %s",
                Path(facilities).name,
                len(checked.rejects),
                checked.read,
                ", ".join(f"{k}: {v}" for k, v in counts.items()),
                "; ".join(checked.rejects["message_en"].astype(str).head(5)),
            )
        table = nearest_table(
            net,
            checked.used,
            points,
            mode=mode,
            walk_speed_m_per_min=walk_speed_m_per_min,
        )
        _io.write_table(table, temps[0], sheet="travel_times")
    return table


def as_run(project: Project | RunResult | str | Path) -> RunResult:
    """A run already at hand, or the project (file) computed now."""
    if isinstance(project, RunResult):
        return project
    return compute_project(project if isinstance(project, Project) else load_project(project))
