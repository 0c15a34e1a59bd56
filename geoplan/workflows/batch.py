"""Many areas at once: one project run per area as Dask tasks, merged into one summary.

A batch is a list of :class:`Area` objects, read by :func:`areas_from` from

* a **folder of project files**: every ``*.toml`` in it with a ``[project]`` table is one area;
* a **batch file** (TOML) listing projects::

      [[areas]]
      project = "qinnan.toml"        # relative to the batch file, "geoplan:…", "shared:…", absolute
      slug = "qinnan"                # optional: the output folder name (default: file stem)

* or a batch file naming a **template project and a polygon layer** to split by::

      [batch]
      template = "county.toml"       # network, demand, facilities and rules of every area
      units = "townships.geojson"    # one area per polygon
      name_column = "name"           # optional (default: the usual name columns)
      code_column = "code"           # optional

  An area made from a polygon differs from the template in these ways (see
  :func:`padding_m`):

  - **demand** is clipped to the *unpadded* polygon, so the area's population and covered
    population count only its own residents (a point on an edge shared by two polygons goes
    to the first polygon in the layer's order; points in no polygon belong to no area);
  - **facilities** are kept within the polygon *padded* by the largest rule threshold × the
    fastest speed of that rule's mode (walking speed, or the fastest class in
    :data:`geoplan.readers.network.SPEED_KPH`), so residents near the edge still reach facilities
    across it. No trip within a threshold can leave that pad, so coverage is the same as in
    the unsplit template. The pad is applied as the boundary tolerance of
    :func:`geoplan.readers.facilities.read_facilities`: facilities beyond it are listed in the
    area's ``rejects.csv`` as ``outside_area``. The area's map shows the unpadded polygon.
  - **streets**: road-line layers (GeoParquet, GeoPackage, GeoJSON, Shapefile) are clipped
    to the padded polygon (lines that touch it are kept whole); OSM and GraphML networks are
    used whole (clipping them would mean rewriting the file).

  The derived inputs are written to ``<out>/<slug>/inputs/`` (part of the area's result)
  and named in ``run.json`` relative to the area folder.

:func:`run_batch` runs the areas on ``dask.distributed``: a :class:`~distributed.LocalCluster`
by default, or any running scheduler by address. Every task calls
:func:`geoplan.workflows.project.run_project` into ``<slug>/`` of the batch's staging folder
(each area a result folder of its own, with its manifest); the batch folder is swapped in whole when
every task has ended (:mod:`geoplan.results`). With a remote scheduler the
workers need geoplan installed and the same paths (inputs, ``GEOPLAN_SHARED_DATA`` and the
output folder) as the client. A failing area is logged with its error and the others go on;
after the merged outputs are written, :class:`BatchError` names the failed areas.

Merged outputs in the batch folder: ``batch_summary.csv`` (one row per area × rule),
``batch_summary.json`` (per area: status, error, seconds and the full ``summary.json``) and
``index.html`` (a self-contained table of the shares linking to every area's ``map.html``).
"""

from __future__ import annotations

import contextlib
import dataclasses
import html
import logging
import math
import os
import re
import sys
import time
import tomllib
import traceback
import unicodedata
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import geopandas as gpd
import numpy as np
import pandas as pd

from .. import _io, schema
from ..errors import ConfigError, GeoplanError, InputError
from ..readers.credits import input_credit
from ..results import MANIFEST, output_folder
from . import config
from .project import Project, load_project, run_into, run_project
from .side_process import in_this_process

logger = logging.getLogger(__name__)

__all__ = [
    "BATCH_FILES",
    "SUMMARY_COLUMNS",
    "Area",
    "BatchError",
    "areas_from",
    "dask_client",
    "index_html",
    "padding_m",
    "quiet_dask_logs",
    "resolve_path",
    "rule_row",
    "run_area",
    "run_batch",
    "summary_table",
    "unique_slug",
]

BATCH_FILES = ("batch_summary.csv", "batch_summary.json", "index.html")
SUMMARY_COLUMNS = (
    "area",
    "area_en",
    "slug",
    "rule_id",
    "rule_name_zh",
    "rule_name_en",
    "mode",
    "threshold_min",
    "population_total",
    "population_covered",
    "share_covered",
    "target_share",
    "met",
)
_RESERVED = frozenset(name.lower() for name in (*BATCH_FILES, MANIFEST))


class BatchError(GeoplanError):
    """Some areas of a batch failed; the others' outputs and the merged files were written.

    Attributes
    ----------
    failed : dict
        ``slug -> "ErrorType: message"`` of each failed area.
    table : DataFrame
        The merged summary of the areas that succeeded (as written to ``batch_summary.csv``).
    """

    def __init__(self, message: str, *, failed: dict[str, str], table: pd.DataFrame) -> None:
        super().__init__(message)
        self.failed = failed
        self.table = table


@dataclass(frozen=True)
class Area:
    """One area of a batch: a project file, or one polygon of a layer cut from a template.

    Exactly one of ``project`` and ``template`` is set; ``units``/``unit_index`` (and the
    optional ``name_column``/``code_column``) go with ``template``.
    """

    name: str
    slug: str
    project: Path | None = None
    template: Path | None = None
    units: Path | None = None
    unit_index: int | None = None
    code: str = ""
    name_column: str | None = None
    code_column: str | None = None

    def __post_init__(self) -> None:
        if (self.project is None) == (self.template is None):
            raise ConfigError(f"area {self.name!r}: give either a project or a template")
        if self.template is not None and (self.units is None or self.unit_index is None):
            raise ConfigError(f"area {self.name!r}: a template area needs units and unit_index")


# --------------------------------------------------------------------------- reading areas


def areas_from(config_or_dir: str | Path) -> list[Area]:
    """The areas of a batch: a folder of project TOML files, or a batch TOML file.

    Parameters
    ----------
    config_or_dir
        A folder (every ``*.toml`` with a ``[project]`` table, sorted by name), or a batch file
        with ``[[areas]] project = …`` entries and/or a ``[batch]`` table with ``template``,
        ``units`` and optional ``name_column``/``code_column`` (one area per polygon).

    Returns
    -------
    list of Area
        With unique folder-safe slugs. Project files are parsed when they run, so a broken
        one fails as its own area instead of stopping the batch.
    """
    path = Path(config_or_dir)
    if path.is_dir():
        areas = _areas_from_dir(path)
    elif path.is_file():
        areas = _areas_from_file(path)
    else:
        raise ConfigError(f"{path}: no such batch file or folder of project files")
    if not areas:
        raise ConfigError(f"{path}: no areas found (need project .toml files or a batch file)")
    return areas


def _areas_from_dir(folder: Path) -> list[Area]:
    areas: list[Area] = []
    seen: set[str] = set()
    for toml_path in sorted(folder.glob("*.toml")):
        data = _try_toml(toml_path)
        if (
            data is not None
            and "project" not in data
            and data.keys() & {"batch", "areas", "national"}
        ):
            logger.warning("%s: a batch file, not a project; skipped", toml_path)
            continue
        areas.append(_project_area(toml_path.resolve(), data, seen, slug=None))
    return areas


def _areas_from_file(path: Path) -> list[Area]:
    data = _try_toml(path)
    if data is None:
        raise ConfigError(f"{path}: not a valid UTF-8 TOML file")
    if "project" in data and "batch" not in data and "areas" not in data:
        raise ConfigError(
            f"{path}: a single project file; give a folder of project files or a batch file "
            "with [[areas]] or [batch] (see geoplan.workflows.batch)"
        )
    where = path.name
    tables = schema.validate(data, config.BATCH_FILE, file=where)
    if "national" in tables:
        raise ConfigError(
            f"{where}: [national] 是全国批量，用 geoplan batch {where} 运行 / a [national] table "
            f"is a national run: run it with `geoplan batch {where}` (or "
            "geoplan.workflows.national.run_national_file), and keep [[areas]]/[batch] in "
            "another file"
        )
    if not tables:
        raise ConfigError(f"{where}: a batch file needs [[areas]] tables or a [batch] table")
    seen: set[str] = set()
    areas: list[Area] = []
    for i, entry in enumerate(tables.get("areas", [])):
        project_path = resolve_path(path, entry["project"], key=f"[[areas]] #{i + 1} project")
        slug = entry.get("slug")
        areas.append(_project_area(project_path, _try_toml(project_path), seen, slug=slug))
    if "batch" in tables:
        areas.extend(_template_areas(path, tables["batch"], seen))
    return areas


def _template_areas(path: Path, batch: dict, seen: set[str]) -> list[Area]:
    from ..readers.boundaries import read_units

    template = resolve_path(path, str(batch["template"]), key="[batch] template")
    units_path = resolve_path(path, str(batch["units"]), key="[batch] units")
    name_column = batch.get("name_column")
    code_column = batch.get("code_column")
    units = read_units(units_path, name_column=name_column, code_column=code_column)
    if units.crs is None:
        raise ConfigError(f"{units_path}: the units layer has no CRS; save it with one")
    load_project(template)  # a broken template stops the batch at once, not once per area
    areas = []
    for i, (name, code) in enumerate(zip(units["unit_name"], units["unit_code"], strict=True)):
        areas.append(
            Area(
                name=str(name),
                slug=_unique_slug(_slugify(str(name)) or f"unit-{i + 1}", seen),
                template=template,
                units=units_path,
                unit_index=i,
                code=str(code),
                name_column=name_column,
                code_column=code_column,
            )
        )
    return areas


def _project_area(path: Path, data: dict | None, seen: set[str], *, slug: str | None) -> Area:
    meta = (data or {}).get("project")
    name = str(meta.get("area", path.stem)) if isinstance(meta, dict) else path.stem
    base = _slugify(str(slug)) if slug else _slugify(path.stem)
    return Area(name=name, slug=_unique_slug(base or "area", seen), project=path)


def _try_toml(path: Path) -> dict | None:
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        return None


def resolve_path(base_file: Path, value: str, *, key: str) -> Path:
    """A path from a batch file: ``geoplan:…``, ``shared:…``, absolute, or relative to it."""
    from .._paths import prefixed_path

    special = prefixed_path(value)
    if special is not None:
        return special
    path = Path(value)
    path = path if path.is_absolute() else base_file.parent / path
    if not path.exists():
        raise ConfigError(f"{base_file.name}: {key}: file {path} does not exist")
    return path.resolve()


def _slugify(text: str) -> str:
    """A folder name: letters (any script), digits, ``.``, ``_`` and ``-``; at most 80."""
    text = unicodedata.normalize("NFKC", text)
    return re.sub(r"[^\w.-]+", "-", text).strip("-._")[:80]


def unique_slug(text: str, seen: set[str], default: str = "area") -> str:
    """A folder name for ``text`` (letters of any script, digits, ``.``, ``_``, ``-``) not yet
    in ``seen`` (compared without case); added to it."""
    return _unique_slug(_slugify(text) or default, seen)


def _unique_slug(slug: str, seen: set[str]) -> str:
    if slug.lower() in _RESERVED:
        slug = f"{slug}-area"
    candidate, n = slug, 1
    while candidate.lower() in seen:
        n += 1
        candidate = f"{slug}-{n}"
    seen.add(candidate.lower())
    return candidate


# --------------------------------------------------------------------------- one area


def run_area(area: Area, out_dir: str | Path, *, overwrite: bool = False) -> dict[str, Any]:
    """Run one area into ``out_dir/<slug>``; never raises (errors are returned).

    Returns
    -------
    dict
        ``slug``, ``area``, ``ok``, ``error`` (``"Type: message"`` or None), ``traceback``
        (only for unexpected errors), ``seconds`` and ``summary`` (the area's
        ``summary.json`` content, or None).
    """
    start = time.perf_counter()
    record: dict[str, Any] = {"slug": area.slug, "area": area.name, "ok": False}
    try:
        area_dir = Path(out_dir) / area.slug
        with in_this_process():  # the batch's workers keep the CPUs busy, an area each
            if area.project is not None:
                result = run_project(area.project, area_dir, overwrite=overwrite)
            else:
                template = load_project(area.template)
                key = template.map.key()
                inputs = [*template.input_paths(), area.units]
                with output_folder(
                    area_dir, command="run", overwrite=overwrite, inputs=inputs
                ) as staged:  # the cut inputs are part of the area's result (inputs/)
                    project = _template_project(area, staged.path, template)
                    result = run_into(project, staged, basemap_key=key)
        record.update(ok=True, error=None, summary=result.summary, area=result.summary["area"])
    except Exception as exc:  # one area must not stop the batch: report and go on
        record.update(error=f"{type(exc).__name__}: {exc}", summary=None)
        if not isinstance(exc, GeoplanError):
            record["traceback"] = traceback.format_exc()
    record["seconds"] = round(time.perf_counter() - start, 3)
    return record


def padding_m(project: Project) -> float:
    """How far beyond an area's edge a trip can reach: max over rules of minutes × top speed.

    The top speed of a mode is the walking speed for ``walk`` (the fastest grade of Tobler's
    function, 1.19 ×, with a DEM) and the fastest class of the mode's speed table (the
    project's ``[speeds]`` included, or the default speed) for the vehicle modes; a rule of
    several modes counts its fastest.
    """
    from ..readers.elevation import TOBLER_OPTIMUM, tobler_speed_ratio
    from ..readers.network import speed_table

    def top_m_per_min(mode: str) -> float:
        if mode == "walk":
            fastest = float(tobler_speed_ratio(TOBLER_OPTIMUM)) if project.dem else 1.0
            return project.walk_speed_m_per_min * fastest
        table, default = speed_table(mode, project.speeds.get(mode))
        speeds = [s for s in (*table.values(), default) if s]
        return max(speeds) * 1000.0 / 60.0

    return max(
        rule.threshold_min * max(top_m_per_min(mode) for mode in rule.modes)
        for rule in project.rules
    )


def _template_project(area: Area, area_dir: Path, template: Project) -> Project:
    """The template cut to one polygon: its demand, padded facilities and streets, written
    into ``area_dir/inputs``."""
    from ..readers.boundaries import read_units

    units = read_units(area.units, name_column=area.name_column, code_column=area.code_column)
    if units.crs is None:
        raise ConfigError(f"{area.units}: the units layer has no CRS; save it with one")
    polygon = units.iloc[[area.unit_index]]
    metric = polygon.geometry.estimate_utm_crs()
    pad = padding_m(template)
    padded = polygon.geometry.to_crs(metric).buffer(pad)

    demand = _template_demand(template)
    inside = _first_unit(demand, units) == area.unit_index
    if not inside.any():
        raise InputError(f"area {area.name!r}: no demand point lies inside its polygon")
    inputs = area_dir / "inputs"
    inputs.mkdir(parents=True, exist_ok=True)
    demand_path = inputs / "demand.parquet"
    with _io.atomic_path(demand_path) as tmp:
        demand.loc[inside, ["demand_id", "population", "geometry"]].to_parquet(tmp)
    boundary_path = inputs / "boundary.geojson"
    boundary = gpd.GeoDataFrame(
        {"unit_name": [area.name], "unit_code": [area.code]},
        geometry=polygon.geometry.to_crs(4326).to_numpy(),
        crs=4326,
    )
    with _io.atomic_path(boundary_path) as tmp:
        boundary.to_file(tmp, driver="GeoJSON")
    facility_tables = tuple(
        {**t, "boundary_tolerance_m": max(pad, float(t.get("boundary_tolerance_m", 0.0)))}
        for t in template.facility_tables
    )
    note_zh = (
        f"本区域由模板 {template.path.name} 按 {Path(area.units).name} 的多边形切分："
        f"人口仅计多边形内；设施与道路取边界外 {pad:,.0f} 米以内。"
    )
    note_en = (
        f"Cut from template {template.path.name} by a polygon of {Path(area.units).name}: "
        f"residents inside the polygon only; facilities and streets within {pad:,.0f} m of it."
    )
    return dataclasses.replace(
        template,
        area=area.name,
        area_en=area.name,
        demand={
            "path": str(demand_path.resolve()),
            "credit": input_credit(
                "demand", template.resolve(template.demand["path"]), template.demand
            ),
        },
        boundary={"path": str(boundary_path.resolve())},
        facility_tables=facility_tables,
        network=_clipped_network(template, padded, inputs),
        notes_zh=(*template.notes_zh, note_zh),
        notes_en=(*template.notes_en, note_en),
    )


def _template_demand(project: Project) -> gpd.GeoDataFrame:
    """The template's demand points, read as
    :func:`geoplan.workflows.project.compute_project` does."""
    from .project import read_project_demand

    return read_project_demand(project)


def _first_unit(points: gpd.GeoDataFrame, units: gpd.GeoDataFrame) -> np.ndarray:
    """Per point, the position of the first polygon that touches it (-1: none)."""
    polygons = gpd.GeoDataFrame(
        {"_unit": np.arange(len(units))}, geometry=units.geometry.to_numpy(), crs=units.crs
    ).to_crs(points.crs)
    left = gpd.GeoDataFrame(geometry=points.geometry.to_numpy(), crs=points.crs)
    hits = gpd.sjoin(left, polygons, how="inner", predicate="intersects")
    first = hits.groupby(level=0)["_unit"].min()
    out = np.full(len(points), -1, dtype=np.int64)
    out[first.index.to_numpy()] = first.to_numpy()
    return out


def _clipped_network(project: Project, padded: gpd.GeoSeries, inputs: Path) -> dict:
    """The template's network, clipped to ``padded`` when it is a road-line layer."""
    from .fetch import LAYER_SUFFIXES, cut_layer

    path = project.resolve(project.network["path"])
    if not path.name.lower().endswith(LAYER_SUFFIXES):
        return dict(project.network)
    out = inputs / "network.parquet"
    kept, total = cut_layer(path, padded, out)
    if not kept:
        raise InputError(f"{path.name}: 区域内没有道路 / no road line in the padded area")
    logger.info("network clipped to the padded area: %d of %d lines", kept, total)
    credit = input_credit("network", path, project.network)  # the source's, not the copy's
    return {**project.network, "path": str(out.resolve()), "credit": credit}


# --------------------------------------------------------------------------- the batch


def run_batch(
    areas: Sequence[Area] | str | Path,
    out_dir: str | Path,
    *,
    scheduler: Any = None,
    n_workers: int | None = None,
    overwrite: bool = False,
    processes: bool = True,
    progress: bool = False,
) -> pd.DataFrame:
    """Run every area as a Dask task and merge the summaries.

    Parameters
    ----------
    areas
        From :func:`areas_from`, or a path handed to it.
    out_dir
        Batch folder: ``<slug>/`` per area plus ``batch_summary.csv``/``.json`` and
        ``index.html``. Must be reachable by the workers at the same path.
    scheduler
        Address of a running Dask scheduler (``tcp://host:8786``), or a connected
        ``distributed.Client`` (left open); default: a ``LocalCluster`` started and closed
        here.
    n_workers
        Workers of the local cluster (one thread each); default ``min(len(areas), CPUs)``.
        Ignored with ``scheduler``.
    overwrite
        Replace an earlier result in ``out_dir`` (see :mod:`geoplan.results`); otherwise a
        folder holding one is refused before starting. The batch is one result: written
        whole (areas included) when every task has ended, or not at all.
    processes
        Local cluster with worker processes (default) or threads in this process.
    progress
        A progress bar over finished areas on stderr.

    Returns
    -------
    DataFrame
        One row per area × rule, columns :data:`SUMMARY_COLUMNS`, in the order of ``areas``.

    Raises
    ------
    BatchError
        After everything is written, when at least one area failed (``.failed``, ``.table``).
    """
    batch_file = None
    if isinstance(areas, str | Path):
        batch_file = Path(areas)
        areas = areas_from(areas)
    areas = list(areas)
    if not areas:
        raise ConfigError("run_batch: no areas given")
    slugs = [a.slug for a in areas]
    if len({s.lower() for s in slugs}) != len(slugs):
        raise ConfigError("run_batch: area slugs must be unique (they are folder names)")
    if n_workers is not None and n_workers < 1:
        raise ConfigError(f"--workers must be at least 1, got {n_workers}")
    out_dir = Path(out_dir).resolve()
    inputs = [batch_file] + [p for a in areas for p in (a.project, a.template, a.units)]

    start = time.perf_counter()
    with output_folder(out_dir, command="batch", overwrite=overwrite, inputs=inputs) as staged:
        with quiet_dask_logs():
            records = _run_on_dask(
                areas,
                staged.path,
                scheduler=scheduler,
                n_workers=n_workers,
                processes=processes,
                progress=progress,
            )
        table = summary_table(records)
        failed = {r["slug"]: r["error"] for r in records if not r["ok"]}
        _io.write_csv(table, staged.path / "batch_summary.csv")
        document = {
            "areas": records,
            "n_areas": len(records),
            "n_failed": len(failed),
            "seconds": round(time.perf_counter() - start, 3),
        }
        _io.write_json(staged.path / "batch_summary.json", document)
        _io.write_text(staged.path / "index.html", index_html(records))
    logger.info(
        "batch: %d areas, %d failed, %.1f s, outputs in %s",
        len(records),
        len(failed),
        document["seconds"],
        out_dir,
    )
    if failed:
        listing = "; ".join(f"{slug} ({error})" for slug, error in failed.items())
        raise BatchError(
            f"{len(failed)} of {len(records)} areas failed: {listing}. The other areas' outputs "
            f"and batch_summary.csv are in {out_dir}",
            failed=failed,
            table=table,
        )
    return table


@contextlib.contextmanager
def quiet_dask_logs() -> Iterator[None]:
    """Keep distributed's INFO chatter (cluster start/stop) off the log unless debugging.

    ``distributed`` sets its own logger to INFO on import; with a root handler in place (the
    CLI's) every scheduler and nanny line would reach stderr. Restored afterwards.
    """
    import distributed  # noqa: F401  (sets its logger levels on first import: do it first)

    dask_logger = logging.getLogger("distributed")
    old = dask_logger.level
    if not logger.isEnabledFor(logging.DEBUG):
        dask_logger.setLevel(max(old, logging.WARNING))
    try:
        yield
    finally:
        dask_logger.setLevel(old)


def _run_on_dask(
    areas: list[Area],
    out_dir: Path,
    *,
    scheduler: Any,
    n_workers: int | None,
    processes: bool,
    progress: bool,
) -> list[dict[str, Any]]:
    """Submit one task per area, collect the records as they finish, in ``areas`` order."""
    from distributed import as_completed

    records: list[dict[str, Any] | None] = [None] * len(areas)
    with contextlib.ExitStack() as stack:
        client = dask_client(stack, scheduler, n_workers, processes, len(areas))
        futures = client.map(
            run_area,
            areas,
            out_dir=str(out_dir),
            key=[f"geoplan-area-{i:05d}" for i in range(len(areas))],
            pure=False,
        )
        position = {f.key: i for i, f in enumerate(futures)}
        bar = None
        if progress:
            from tqdm import tqdm
            from tqdm.contrib.logging import logging_redirect_tqdm

            bar = stack.enter_context(
                tqdm(total=len(areas), desc="geoplan batch", unit="area", file=sys.stderr)
            )
            stack.enter_context(logging_redirect_tqdm())  # log lines above the bar
        for future in as_completed(futures):
            i = position[future.key]
            try:
                record = future.result()
            except Exception as exc:  # run_area never raises: a worker died, a cancel…
                record = {
                    "slug": areas[i].slug,
                    "area": areas[i].name,
                    "ok": False,
                    "error": f"{type(exc).__name__}: {exc}",
                    "summary": None,
                    "seconds": None,
                }
            records[i] = record
            if not record["ok"]:
                logger.error(
                    "area %s (%s) failed: %s", record["slug"], record["area"], record["error"]
                )
                if record.get("traceback"):
                    logger.debug("%s", record["traceback"])
            if bar is not None:
                bar.set_postfix_str(record["slug"])
                bar.update(1)
    return [r for r in records if r is not None]


def dask_client(
    stack: contextlib.ExitStack, scheduler: Any, n_workers: int | None, processes: bool, n: int
):
    """A connected ``Client`` (closed by ``stack`` unless it was given)."""
    from distributed import Client, LocalCluster

    if isinstance(scheduler, Client):
        return scheduler
    if scheduler:
        if n_workers is not None:
            logger.warning("--workers is ignored with --scheduler (the cluster has its own)")
        try:
            client = stack.enter_context(Client(str(scheduler)))
        except (OSError, TimeoutError) as exc:
            raise ConfigError(f"cannot connect to the Dask scheduler {scheduler}: {exc}") from None
    else:
        cluster = stack.enter_context(
            LocalCluster(
                n_workers=n_workers or max(1, min(n, os.cpu_count() or 1)),
                threads_per_worker=1,
                processes=processes,
                dashboard_address=None,
                # the scheduler's HTTP server (health, metrics) still starts without a
                # dashboard: a free local port, not 8787, so concurrent batches never clash
                scheduler_kwargs={"dashboard_address": "127.0.0.1:0"},
            )
        )
        client = stack.enter_context(Client(cluster))
        if processes:
            # geoplan's warnings in the local worker processes reach this process's handlers.
            # Not for threads (the forwarded record would be forwarded again, forever) nor
            # for a remote scheduler (its workers' logs stay with the workers).
            client.forward_logging("geoplan", level=logging.WARNING)
    logger.info("dask: %s", client)
    return client


# --------------------------------------------------------------------------- merged outputs


def summary_table(records: Sequence[dict[str, Any]]) -> pd.DataFrame:
    """One row per successful area × rule, columns :data:`SUMMARY_COLUMNS`."""
    rows = []
    for record in records:
        summary = record.get("summary")
        if not record.get("ok") or summary is None:
            continue
        area = {
            "area": summary["area"],
            "area_en": summary.get("area_en", summary["area"]),
            "slug": record["slug"],
        }
        rows += [area | rule_row(summary, rule) for rule in summary["rules"]]
    return pd.DataFrame(rows, columns=list(SUMMARY_COLUMNS))


def rule_row(summary: dict, rule: dict) -> dict:
    """One rule of a run's ``summary.json`` (``rule``: one of its ``rules``) as the columns a
    batch or national summary table gives each rule."""
    return {
        "rule_id": rule["id"],
        "rule_name_zh": rule["name_zh"],
        "rule_name_en": rule["name_en"],
        "mode": rule["mode"],
        "threshold_min": rule["threshold_min"],
        "population_total": summary["population_total"],
        "population_covered": rule["population_covered"],
        "share_covered": rule["share_covered"],
        "target_share": rule["target_share"],
        "met": rule["met"],
    }


_STYLE = """
body{font-family:system-ui,"Noto Sans CJK SC","Microsoft YaHei",sans-serif;margin:1.5em;color:#222}
table{border-collapse:collapse;font-size:14px}
th,td{border:1px solid #ccc;padding:4px 8px;text-align:left}
td.num{text-align:right;font-variant-numeric:tabular-nums}
.met{background:#e3f4e1}.unmet{background:#fde8e4}.failed{color:#a11}
caption{caption-side:bottom;text-align:left;color:#555;padding-top:.6em}
"""


def index_html(records: Sequence[dict[str, Any]]) -> str:
    """A self-contained HTML page: one row per area, its shares per rule, a link to its map."""
    esc = html.escape
    rules: dict[str, dict] = {}
    for record in records:
        for rule in (record.get("summary") or {}).get("rules", []):
            rules.setdefault(rule["id"], rule)
    head = "".join(
        f'<th title="{esc(r["name_en"])}">{esc(r["name_zh"])}<br>{esc(r["name_en"])}</th>'
        for r in rules.values()
    )
    body = []
    for record in records:
        link = esc(quote(record["slug"]) + "/map.html", quote=True)
        summary = record.get("summary")
        if not record.get("ok") or summary is None:
            body.append(
                f"<tr><td>{esc(record['area'])}</td><td colspan='{len(rules) + 1}' "
                f"class='failed'>failed / 失败: {esc(str(record['error']))}</td></tr>"
            )
            continue
        by_id = {r["id"]: r for r in summary["rules"]}
        cells = []
        for rule_id in rules:
            rule = by_id.get(rule_id)
            if rule is None:
                cells.append("<td></td>")
                continue
            share = rule["share_covered"]
            text = "–" if share is None or math.isnan(share) else f"{share:.1%}"
            css = {True: "met", False: "unmet"}.get(rule["met"], "")
            mark = {True: " ✓", False: " ✗"}.get(rule["met"], "")
            cells.append(f"<td class='num {css}'>{esc(text)}{mark}</td>")
        body.append(
            f'<tr><td><a href="{link}">{esc(summary["area"])}</a></td>'
            f"<td class='num'>{summary['population_total']:,.0f}</td>{''.join(cells)}</tr>"
        )
    n_failed = sum(1 for r in records if not r.get("ok"))
    return (
        "<!DOCTYPE html>\n<html lang='zh'><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width, initial-scale=1'>"
        "<title>geoplan batch: coverage by area / 分区覆盖率</title>"
        f"<style>{_STYLE}</style></head><body>"
        f"<h1>分区覆盖率 / Coverage by area</h1>"
        f"<p>{len(records)} areas / 个区域"
        + (f", <span class='failed'>{n_failed} failed / 失败</span>" if n_failed else "")
        + ". Share of residents covered per rule; ✓ target met, ✗ not met. "
        "Click an area for its map. / "
        "各规则覆盖人口比例；✓ 达标，✗ 未达标；点击区域名查看地图。</p>"
        "<table><thead><tr><th>区域 / Area</th><th>人口 / Residents</th>"
        f"{head}</tr></thead><tbody>{''.join(body)}</tbody>"
        "<caption>Details: batch_summary.csv, batch_summary.json and each area's folder.</caption>"
        "</table></body></html>\n"
    )
