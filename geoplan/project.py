"""Project files (TOML) → a run: load inputs, compute coverage and gaps, write every output."""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import platform
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from importlib import metadata
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd

from . import _io
from ._cache import file_sha256
from ._paths import REPO_ROOT, shared_path
from .coverage import OUTSIDE_UNITS, Coverage, column, compute_coverage
from .engine import DEFAULT_WALK_SPEED_M_PER_MIN, snap_points
from .errors import ConfigError, InputError, InputFileNotFoundError, OutputExistsError
from .gaps import find_gaps
from .rules import Rule, check_unique_ids, rule_from_mapping
from .units import assign_units, read_units, units_from_frame

logger = logging.getLogger(__name__)

DEMO_PROJECT = REPO_ROOT / "data" / "demo" / "tuanchengshan.toml"
OUTPUT_FILES = (
    "summary.json",
    "coverage_by_unit.csv",
    "coverage_points.csv",
    "gaps.csv",
    "gaps.xlsx",
    "gaps.gpkg",
    "map.html",
    "rejects.csv",
    "run.json",
)
MAP_LANG_FILES = ("map_zh.html", "map_en.html")
"""Maps in further languages (``[map] langs`` beyond the first, which writes ``map.html``)."""
GUARDED_FILES = (*OUTPUT_FILES, *MAP_LANG_FILES)
"""Every file a run may write: the overwrite guards refuse to replace any of them."""
ATTRIBUTION = (
    "© OpenStreetMap contributors, ODbL 1.0",
    "GHS-POP R2023A, European Commission JRC, CC BY 4.0",
)
SHARED_PREFIX = "shared:"
DEMAND_FAR_FROM_ROAD_M = 500.0
"""Demand points farther than this from the walk network are counted and reported."""
DEFAULT_MAX_SNAP_M = 500.0
"""``[facilities] max_snap_m`` when not given."""
DEFAULT_GAP_CELL_M = 500.0
"""``[gaps] cell_m`` when not given."""


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
        from .maps import BASEMAPS

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


_MAP_KEYS = ("langs", "basemap", "basemap_key_env")


def _map_options(table: object, where: str) -> MapOptions:
    """Parse and check the ``[map]`` table (absent: the defaults)."""
    from .maps import BASEMAPS, LANGS

    if table is None:
        return MapOptions()
    if not isinstance(table, dict):
        raise ConfigError(f"{where}: [map] must be a table")
    unknown = sorted(set(table) - set(_MAP_KEYS))
    if unknown:
        raise ConfigError(
            f"{where}: [map] has unknown key(s) {', '.join(unknown)}; allowed: "
            f"{', '.join(_MAP_KEYS)} (a basemap key is never stored in the file: it is read "
            "from the environment variable named by basemap_key_env)"
        )
    langs = table.get("langs", ["zh"])
    if (
        not isinstance(langs, list)
        or not langs
        or any(lang not in LANGS for lang in langs)
        or len(set(langs)) != len(langs)
    ):
        raise ConfigError(
            f"{where}: [map] langs must be a list of distinct languages from {list(LANGS)}, "
            f"got {langs!r}"
        )
    basemap = table.get("basemap", "none")
    if basemap not in BASEMAPS:
        raise ConfigError(
            f"{where}: [map] basemap must be one of {', '.join(BASEMAPS)}, got {basemap!r}"
        )
    env = table.get("basemap_key_env", MapOptions.basemap_key_env)
    if not isinstance(env, str) or not env:
        raise ConfigError(f"{where}: [map] basemap_key_env must be an environment variable name")
    return MapOptions(langs=tuple(langs), basemap=basemap, basemap_key_env=env)


@dataclass(frozen=True)
class Project:
    """A parsed project file: where the inputs are and which rules to check."""

    path: Path
    area: str
    area_en: str
    network: dict
    demand: dict
    facilities: dict
    rules: tuple[Rule, ...]
    boundary: dict | None = None
    units: dict | None = None
    geocode: dict | None = None
    gaps: dict = field(default_factory=dict)
    notes_zh: tuple[str, ...] = ()
    notes_en: tuple[str, ...] = ()
    hypothetical_facilities: bool = False
    map: MapOptions = field(default_factory=MapOptions)

    @property
    def walk_speed_m_per_min(self) -> float:
        """Walking speed on the network (m/min)."""
        return float(self.network.get("walk_speed_m_per_min", DEFAULT_WALK_SPEED_M_PER_MIN))

    @property
    def max_snap_m(self) -> float:
        """Facilities farther than this from any road are rejected (``far_from_road``)."""
        return float(self.facilities.get("max_snap_m", DEFAULT_MAX_SNAP_M))

    @property
    def gap_cell_m(self) -> float:
        """Grid cell size of the gap lists (m)."""
        return float(self.gaps.get("cell_m", DEFAULT_GAP_CELL_M))

    @property
    def gap_merge_contiguous(self) -> bool:
        """Whether touching uncovered cells are merged into clusters."""
        return bool(self.gaps.get("merge_contiguous", False))

    def resolve(self, value: str) -> Path:
        """An input path: ``shared:…`` from the shared data folder, else relative to the file."""
        if value.startswith(SHARED_PREFIX):
            return shared_path(value[len(SHARED_PREFIX) :])
        path = Path(value)
        path = path if path.is_absolute() else (self.path.parent / path)
        if not path.exists():
            raise InputFileNotFoundError(f"{self.path.name}: input file {path} does not exist")
        return path.resolve()


def load_project(path: str | Path) -> Project:
    """Read and check a project TOML file; every problem names the key to fix."""
    path = Path(path)
    if not path.exists():
        raise InputFileNotFoundError(f"project file {path} does not exist")
    data = _io.read_toml(path)
    where = path.name
    for table in ("project", "network", "demand", "facilities"):
        needs_path = table != "project"
        if not isinstance(data.get(table), dict) or (needs_path and "path" not in data[table]):
            raise ConfigError(f"{where}: missing [{table}] table (with a 'path' key)")
    if "area" not in data["project"]:
        raise ConfigError(f"{where}: [project] needs 'area' (the name of the area)")
    raw_rules = data.get("rules")
    if not isinstance(raw_rules, list) or not raw_rules:
        raise ConfigError(f"{where}: add at least one [[rules]] table")
    rules = tuple(
        rule_from_mapping(r, where=f"{where} [[rules]] #{i + 1}") for i, r in enumerate(raw_rules)
    )
    check_unique_ids(rules)
    meta = data["project"]
    return Project(
        path=path.resolve(),
        area=str(meta["area"]),
        area_en=str(meta.get("area_en", meta["area"])),
        network=data["network"],
        demand=data["demand"],
        facilities=data["facilities"],
        rules=rules,
        boundary=data.get("boundary"),
        units=data.get("units"),
        geocode=data.get("geocode"),
        gaps=data.get("gaps", {}),
        notes_zh=tuple(meta.get("notes_zh", ())),
        notes_en=tuple(meta.get("notes_en", ())),
        hypothetical_facilities=bool(meta.get("hypothetical_facilities", False)),
        map=_map_options(data.get("map"), where),
    )


class Stages:
    """Wall time and peak memory of each stage, with an optional progress bar on stderr."""

    def __init__(self, names: tuple[str, ...], *, progress: bool = False) -> None:
        self.timings_s: dict[str, float] = {}
        self._bar = None
        if progress:
            from tqdm import tqdm

            self._bar = tqdm(total=len(names), desc="geoplan", unit="stage", file=sys.stderr)

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        """Time one stage and advance the bar."""
        if self._bar is not None:
            self._bar.set_postfix_str(name)
        start = time.perf_counter()
        yield
        self.timings_s[name] = round(time.perf_counter() - start, 4)
        logger.info("stage %s done in %.2f s", name, self.timings_s[name])
        if self._bar is not None:
            self._bar.update(1)

    def close(self) -> None:
        """Finish the progress bar."""
        if self._bar is not None:
            self._bar.close()


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


STAGES = ("load", "snap+engine", "coverage", "gaps", "write", "map")


def run_project(
    project: Project | str | Path,
    out_dir: str | Path,
    *,
    overwrite: bool = False,
    progress: bool = False,
    lang: str | None = None,
    basemap: str | None = None,
) -> RunResult:
    """Run a project end to end and write its outputs into ``out_dir``.

    Refuses to overwrite existing outputs unless ``overwrite``. Writes ``summary.json``,
    ``coverage_by_unit.csv``, ``coverage_points.csv``, ``gaps.csv``/``.xlsx``/``.gpkg``,
    ``map.html`` (plus ``map_<lang>.html`` per further ``[map] langs``), ``rejects.csv`` and
    ``run.json``. ``lang`` (one map in that language) and ``basemap`` override ``[map]``.
    """
    if not isinstance(project, Project):
        project = load_project(project)
    project = _with_map_overrides(project, lang=lang, basemap=basemap)
    basemap_key = project.map.key()  # fail before computing when the key is missing
    out_dir = Path(out_dir)
    _check_outputs_free(out_dir, overwrite=overwrite)
    stages = Stages(STAGES, progress=progress)
    try:
        result = compute_project(project, stages)
        with stages.stage("write"):
            _write_tables(result, out_dir)
        with stages.stage("map"):
            _write_maps(result, out_dir, basemap_key=basemap_key)
        _write_run_record(result, out_dir / "run.json", stages.timings_s)
    finally:
        stages.close()
    return result


def compute_project(project: Project, stages: Stages | None = None) -> RunResult:
    """Load a project's inputs and compute coverage, units and gaps, writing nothing."""
    stages = stages or Stages(STAGES)
    from .demand import boundary_from_graphml, demand_from_graphml_edges, read_demand
    from .facilities import read_facilities
    from .network import read_network

    inputs: dict[str, str] = {}
    with stages.stage("load"):
        network_path = project.resolve(project.network["path"])
        inputs["network"] = str(network_path)
        network = read_network(network_path)
        boundary = None
        if project.boundary:
            boundary_path = project.resolve(project.boundary["path"])
            inputs["boundary"] = str(boundary_path)
            if project.boundary.get("format") == "graphml" or boundary_path.suffix == ".graphml":
                boundary = boundary_from_graphml(boundary_path, name=project.area)
            else:
                boundary = read_units(boundary_path)
        demand_path = project.resolve(project.demand["path"])
        inputs["demand"] = str(demand_path)
        demand_options = {k: v for k, v in project.demand.items() if k not in ("path", "format")}
        if project.demand.get("format") == "graphml_edges":
            demand = demand_from_graphml_edges(demand_path, **demand_options)
        else:
            demand = read_demand(demand_path, **demand_options)
        facility_path = project.resolve(project.facilities["path"])
        inputs["facilities"] = str(facility_path)
        table = read_facilities(
            facility_path,
            **{
                k: v
                for k, v in project.facilities.items()
                if k in ("sheet", "layer", "encoding", "crs", "boundary_tolerance_m")
            },
            boundary=boundary,
        )
        if project.geocode is not None:
            table = _geocode(project, table, boundary, inputs)
        units = _units(project, boundary, inputs)
    with stages.stage("snap+engine"):
        warnings_ = _coordinate_warnings(table.used, network)
        used, rejects = _reject_far_from_road(
            network, table.used, table.rejects, project.max_snap_m
        )
        coverage = compute_coverage(
            network, used, demand, project.rules, walk_speed_m_per_min=project.walk_speed_m_per_min
        )
    with stages.stage("coverage"):
        points = coverage.points
        if units is not None:
            names, codes = assign_units(
                points["x"].to_numpy(),
                points["y"].to_numpy(),
                network.crs,
                units,
                outside=OUTSIDE_UNITS,
            )
            points["unit_name"], points["unit_code"] = names, codes
        by_unit = coverage.by_unit()
    with stages.stage("gaps"):
        gaps = pd.concat(
            [
                find_gaps(
                    points,
                    rule_id=rule.id,
                    covered=points[column(rule.id, "covered")].to_numpy(),
                    travel_time_s=points[column(rule.id, "time_s")].to_numpy(),
                    facility_id=points[column(rule.id, "facility_id")].to_numpy(),
                    crs=network.crs,
                    cell_m=project.gap_cell_m,
                    merge_contiguous=project.gap_merge_contiguous,
                )
                for rule in project.rules
            ],
            ignore_index=True,
        )
        gaps = gpd.GeoDataFrame(gaps, geometry="geometry", crs=network.crs)
        names = dict(zip(used["facility_id"], used["name"], strict=True))
        gaps["nearest_facility_name"] = gaps["nearest_facility_id"].map(names)
    summary = _summary(project, coverage, table.read, used, rejects, points)
    summary["warnings"] = warnings_
    return RunResult(
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
        units,
    )


def _geocode(project: Project, table, boundary, inputs: dict):
    """Place records without coordinates from the [geocode] gazetteer sources (offline)."""
    from .geocode import GazetteerGeocoder, geocode_missing

    config = project.geocode
    admin = {level: project.resolve(path) for level, path in config.get("admin", {}).items()}
    osm = [project.resolve(path) for path in config.get("osm", [])]
    for level, path in admin.items():
        inputs[f"geocode_{level}"] = str(path)
    for i, path in enumerate(osm):
        inputs[f"geocode_osm_{i + 1}"] = str(path)
    if not admin and not osm:
        raise ConfigError(f"{project.path.name}: [geocode] needs 'admin' layers or 'osm' files")
    geocoder = GazetteerGeocoder.from_sources(admin=admin, osm=osm)
    return geocode_missing(
        table,
        geocoder,
        min_precision=config.get("min_precision", "county"),
        boundary=boundary,
    )


def _units(project: Project, boundary, inputs: dict) -> gpd.GeoDataFrame | None:
    """The admin units: the [units] layer if given, else the boundary as one unit."""
    if project.units:
        path = project.resolve(project.units["path"])
        inputs["units"] = str(path)
        return read_units(
            path,
            name_column=project.units.get("name_column"),
            code_column=project.units.get("code_column"),
        )
    if boundary is None:
        return None
    frame = boundary.assign(unit_name=project.area, unit_code=boundary.get("unit_code", ""))
    return units_from_frame(frame, name_column="unit_name", code_column="unit_code")


def _coordinate_warnings(used: gpd.GeoDataFrame, network) -> list[dict]:
    """Facilities declared WGS84 that sit where GCJ-02/BD-09 positions would: a warning."""
    from .qa import detect_gcj02

    finding = detect_gcj02(used, network)
    if finding is None:
        return []
    logger.warning("%s", finding.message_en)
    return [
        {
            "check": finding.check,
            "message_zh": finding.message_zh,
            "message_en": finding.message_en,
            **{k: float(v) for k, v in finding.values.items()},
        }
    ]


def _reject_far_from_road(network, used, rejects, max_snap_m: float):
    """Move facilities farther than ``max_snap_m`` from any road into the rejects."""
    xy = used.geometry.to_crs(network.crs)
    snap = snap_points(network, xy.x.to_numpy(), xy.y.to_numpy())
    far = snap.snap_distance_m > max_snap_m
    if not far.any():
        return used, rejects
    rows = used["source_row"].to_numpy()[far]
    names = used["name"].to_numpy()[far]
    metres = snap.snap_distance_m[far]
    extra = pd.DataFrame(
        {
            "source_row": rows,
            "reason_code": "far_from_road",
            "message_zh": [
                f"第{r}行（{n}）：距最近道路 {d:.0f} 米，超过 {max_snap_m:.0f} 米；请核对坐标"
                for r, n, d in zip(rows, names, metres, strict=True)
            ],
            "message_en": [
                f"row {r} ({n}): {d:.0f} m from the nearest road, more than {max_snap_m:.0f} m; "
                "check the coordinates or raise facilities.max_snap_m"
                for r, n, d in zip(rows, names, metres, strict=True)
            ],
            "facility_id": used["facility_id"].to_numpy()[far],
            "name": names,
        }
    )
    return used[~far].reset_index(drop=True), pd.concat([rejects, extra], ignore_index=True)


def _summary(project, coverage, read, used, rejects, points) -> dict:
    far = None
    if "snap_distance_m" in points:
        far = points["snap_distance_m"] > DEMAND_FAR_FROM_ROAD_M
    return {
        "area": project.area,
        "area_en": project.area_en,
        "population_total": float(points["population"].sum()),
        "demand_points": len(points),
        "rules": coverage.summary(),
        "facilities": {"read": int(read), "used": len(used), "rejected": len(rejects)},
        "facilities_hypothetical": project.hypothetical_facilities,
        "notes_zh": list(project.notes_zh),
        "notes_en": list(project.notes_en),
        "walk_speed_m_per_min": project.walk_speed_m_per_min,
        "demand_far_from_road": None
        if far is None
        else {
            "threshold_m": DEMAND_FAR_FROM_ROAD_M,
            "points": int(far.sum()),
            "population": float(points.loc[far, "population"].sum()),
        },
    }


def _check_outputs_free(out_dir: Path, *, overwrite: bool) -> None:
    if overwrite or not out_dir.exists():
        return
    existing = [name for name in GUARDED_FILES if (out_dir / name).exists()]
    if existing:
        raise OutputExistsError(
            f"{out_dir} already holds {', '.join(existing)}; "
            "choose another --out or add --overwrite"
        )


def _write_tables(result: RunResult, out_dir: Path) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    _io.write_text(
        out_dir / "summary.json", json.dumps(result.summary, ensure_ascii=False, indent=2) + "\n"
    )
    _io.write_csv(result.by_unit, out_dir / "coverage_by_unit.csv")
    points = result.coverage.points.drop(columns=["x", "y"])
    _io.write_csv(points, out_dir / "coverage_points.csv")
    _io.write_csv(result.rejects, out_dir / "rejects.csv")
    gaps_wgs84 = result.gaps.to_crs(4326)
    table = pd.DataFrame(gaps_wgs84.drop(columns="geometry"))
    centre = gaps_wgs84.geometry.representative_point()
    table["lon"], table["lat"] = centre.x.round(6), centre.y.round(6)
    table["median_travel_time_min"] = (table["median_travel_time_s"] / 60).round(2)
    _io.write_csv(table, out_dir / "gaps.csv")
    with _io.atomic_path(out_dir / "gaps.xlsx") as tmp:
        with pd.ExcelWriter(tmp, engine="openpyxl") as writer:
            table.to_excel(writer, sheet_name="gaps", index=False)
            result.by_unit.to_excel(writer, sheet_name="coverage_by_unit", index=False)
    with _io.atomic_path(out_dir / "gaps.gpkg") as tmp:
        gaps_wgs84.to_file(tmp, layer="gaps", driver="GPKG", engine="pyogrio", use_arrow=True)
        uncovered = _uncovered_points(result)
        uncovered.to_file(
            tmp, layer="uncovered_points", driver="GPKG", engine="pyogrio", use_arrow=True
        )


def _uncovered_points(result: RunResult) -> gpd.GeoDataFrame:
    """Demand points not covered by at least one rule, in WGS84, with per-rule columns."""
    points = result.coverage.points
    any_uncovered = np.zeros(len(points), dtype=bool)
    for rule in result.project.rules:
        any_uncovered |= ~points[column(rule.id, "covered")].to_numpy()
    chosen = points[any_uncovered]
    frame = gpd.GeoDataFrame(
        chosen.drop(columns=["x", "y"]),
        geometry=gpd.points_from_xy(chosen["x"], chosen["y"]),
        crs=result.network.crs,
    )
    return frame.to_crs(4326)


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


def _write_maps(result: RunResult, out_dir: Path, *, basemap_key: str | None) -> None:
    """One coverage map per ``[map] langs`` (``map.html``, then ``map_<lang>.html``)."""
    from . import maps

    demand = _map_demand(result)
    edges = result.network.edges
    street_minutes = gpd.GeoDataFrame(geometry=edges.geometry.values, crs=result.network.crs)
    u = edges["u"].to_numpy()
    v = edges["v"].to_numpy()
    for rule in result.project.rules:
        node_s = result.coverage.node_time_s[rule.id]
        # Display only: a street's colour is its better end's time.
        street_s = np.minimum(node_s[u], node_s[v])
        street_minutes[rule.id] = np.where(np.isfinite(street_s), street_s / 60, np.nan)
    project = result.project
    units = _map_units(result)
    for lang, name in project.map.files():
        m = maps.coverage_map(
            title_zh=f"{project.area} 设施可达性",
            title_en=f"{project.area_en}: facility access",
            boundary=result.boundary,
            facilities=result.facilities,
            rules=result.summary["rules"],
            street_minutes=street_minutes,
            demand=demand,
            gaps=result.gaps,
            notes_zh=project.notes_zh,
            notes_en=project.notes_en,
            attribution=ATTRIBUTION,
            lang=lang,
            basemap=project.map.basemap,
            basemap_key=basemap_key,
            units=units,
            hypothetical=project.hypothetical_facilities,
        )
        maps.save_map(m, out_dir / name)


def _map_units(result: RunResult) -> gpd.GeoDataFrame | None:
    """The run's unit polygons with their population and per-rule share covered."""
    if result.units is None:
        return None
    keys = ["unit_code", "unit_name"]
    table = result.by_unit.astype({k: str for k in keys})
    units = result.units.astype({k: str for k in keys})
    shares = [column(rule.id, "share_covered") for rule in result.project.rules]
    return units.merge(table[[*keys, "population", *shares]], on=keys, how="left")


MAP_MAX_POINTS = 20_000
"""Above this many demand points the map shows uncovered residents per ``MAP_CELL_M`` cell."""
MAP_CELL_M = 100.0


def _map_demand(result: RunResult) -> gpd.GeoDataFrame:
    """Demand for the map: every point, or uncovered residents per 100 m cell when many.

    The map is for display; coverage was decided per point. Aggregated rows carry one rule's
    uncovered population each (covered for the other rules) and its population-weighted
    mean minutes.
    """
    points = result.coverage.points
    rules = result.project.rules
    if len(points) <= MAP_MAX_POINTS:
        frame = points[["demand_id", "population", "x", "y"]].copy()
        for rule in rules:
            frame[f"{rule.id}_covered"] = points[column(rule.id, "covered")].to_numpy()
            frame[f"{rule.id}_minutes"] = points[column(rule.id, "time_s")].to_numpy() / 60
    else:
        parts = []
        cell_x = np.floor(points["x"].to_numpy() / MAP_CELL_M)
        cell_y = np.floor(points["y"].to_numpy() / MAP_CELL_M)
        for rule in rules:
            out = ~points[column(rule.id, "covered")].to_numpy()
            pop = points["population"].to_numpy()[out]
            minutes = points[column(rule.id, "time_s")].to_numpy()[out] / 60
            cells = (
                pd.DataFrame(
                    {
                        "cx": cell_x[out],
                        "cy": cell_y[out],
                        "population": pop,
                        "weighted": np.where(np.isfinite(minutes), minutes * pop, np.nan),
                    }
                )
                .groupby(["cx", "cy"], as_index=False)
                .sum(min_count=1)
            )
            part = pd.DataFrame(
                {
                    "demand_id": [f"{rule.id}-cell-{i}" for i in range(len(cells))],
                    "population": cells["population"].to_numpy(),
                    "x": (cells["cx"].to_numpy() + 0.5) * MAP_CELL_M,
                    "y": (cells["cy"].to_numpy() + 0.5) * MAP_CELL_M,
                }
            )
            for other in rules:
                part[f"{other.id}_covered"] = other.id != rule.id
                part[f"{other.id}_minutes"] = np.nan
            with np.errstate(invalid="ignore", divide="ignore"):
                part[f"{rule.id}_minutes"] = (cells["weighted"] / cells["population"]).to_numpy()
            parts.append(part)
        frame = pd.concat(parts, ignore_index=True)
    return gpd.GeoDataFrame(
        frame.drop(columns=["x", "y"]),
        geometry=gpd.points_from_xy(frame["x"], frame["y"]),
        crs=result.network.crs,
    )


def _write_run_record(result: RunResult, path: Path, timings_s: dict[str, float]) -> None:
    record = {
        "project": str(result.project.path),
        "finished_at": datetime.now().astimezone().isoformat(timespec="seconds"),
        "inputs": {
            name: {"path": p, "sha256": file_sha256(p)} for name, p in result.inputs.items()
        },
        "parameters": {
            "walk_speed_m_per_min": result.project.walk_speed_m_per_min,
            "facilities_max_snap_m": result.project.max_snap_m,
            "gap_cell_m": result.project.gap_cell_m,
            "gap_merge_contiguous": result.project.gap_merge_contiguous,
            "rules": [r.as_dict() for r in result.project.rules],
            "network_crs": result.network.crs.to_string(),
        },
        "stage_timings_s": timings_s,
        "peak_memory_mb": _peak_memory_mb(),
        "versions": _versions(),
        "python": platform.python_version(),
        "platform": platform.platform(),
    }
    _io.write_text(path, json.dumps(record, ensure_ascii=False, indent=2) + "\n")


def _peak_memory_mb() -> float:
    import resource

    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


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
) -> pd.DataFrame:
    """Read the three inputs, compute the nearest-facility table and write it as CSV."""
    from .coverage import nearest_table
    from .demand import read_demand
    from .facilities import read_facilities
    from .network import read_network

    out = Path(out)
    if out.exists() and not overwrite:
        raise OutputExistsError(f"{out} exists; choose another --out or add --overwrite")
    table = nearest_table(
        read_network(network),
        read_facilities(facilities).used,
        read_demand(demand),
        mode=mode,
        walk_speed_m_per_min=walk_speed_m_per_min,
    )
    _io.write_csv(table, out)
    return table
