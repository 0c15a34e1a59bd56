"""Site selection on a project: candidates, the travel-time table, the models, and 片区.

A project run (:func:`geoplan.workflows.project.compute_project`) gives the network, the demand
points and the existing facilities. Candidate sites come from a file (any table with an id and
lon/lat, or a point layer), from the network nodes at the ends of the streets the rule's
uncovered residents live on (``gap nodes``), or from a regular grid inside the boundary
snapped onto the streets; exclusion layers (polygons) remove sites. One call of
:func:`geoplan.analysis.engine.travel_time_matrix` (cutoff = the rule's threshold) gives the long
table for the rule's existing facilities and the candidates; :mod:`geoplan.analysis.location`
ranks the candidates and solves the MCLP, LSCP or p-median. "After" coverage is recomputed with
:func:`geoplan.analysis.coverage.compute_coverage` (one engine pass) for the map and the summary.

:func:`catchments` divides one tier of facilities into 片区 around ``k`` sub-centres
(:func:`geoplan.analysis.location.sub_centres`) and assigns every facility and demand point to a
hub.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from .. import _io, coords
from ..analysis import engine, location
from ..analysis.capacity import travel_times_by_id
from ..analysis.coverage import (
    Coverage,
    column,
    expand_categories,
    rule_facilities,
    rule_times,
    travel_time_pairs,
)
from ..analysis.qa import DECLARE, CoordinateCheck, check_coordinate_system
from ..analysis.rules import Rule
from ..errors import ConfigError, InputError, InputFileNotFoundError
from ..limits import applied
from ..readers.network import ModeTimes
from ..rendering.change_maps import catchments_map, sites_map
from ..results import output_folder
from ..taxonomy import COLUMN_ALIASES, match_columns
from .project import Project, RunResult, as_run, load_project
from .scenario import (
    recompute_coverage,
)

logger = logging.getLogger(__name__)

MODELS = ("mclp", "lscp", "pmedian", "pcenter")
PCENTER_MAX_MIN = 240.0
"""The longest table a p-center tries (minutes): from the rule's threshold, doubled until
every resident is within reach of a site."""
SITES_FILES = (
    "candidates.csv",
    "selected.csv",
    "sites.xlsx",
    "sites.gpkg",
    "sites_map.html",
    "summary.json",
)
"""Files every siting writes (manifest.json besides)."""
CATCHMENT_FILES = (
    "catchment_facilities.csv",
    "catchment_points.csv",
    "catchments.gpkg",
    "catchments_map.html",
    "catchments_summary.json",
)
"""Files every 片区 division writes (manifest.json besides)."""
CANDIDATE_COLUMNS = ("candidate_id", "source", "x", "y", "snap_distance_m")
"""Columns of a candidate table (plus ``geometry``, points in the network CRS)."""
_CANDIDATE_ID_ALIASES = ("candidate_id", "site_id", *COLUMN_ALIASES["facility_id"])


# --------------------------------------------------------------------------- small helpers


def find_rule(project: Project, rule_id: str) -> Rule:
    """The project's rule with id ``rule_id`` (ConfigError naming the known ids otherwise)."""
    for rule in project.rules:
        if rule.id == rule_id:
            return rule
    known = ", ".join(r.id for r in project.rules)
    raise ConfigError(f"unknown rule id {rule_id!r}; the project's rules are: {known}")


def _mode_times(result: RunResult, mode: str) -> ModeTimes:
    """``mode`` on the run's network, with the project's [network] settings (as the run)."""
    return result.network.mode_times(mode, **result.project.network_options)


def _rule_times(result: RunResult, rule: Rule) -> ModeTimes:
    """The edge times of ``rule``'s trips as the run computed them: its mode, its direction
    (a response rule runs from the site to the resident) and its congestion profile."""
    return rule_times(result.network, rule, **result.project.coverage_options)


def _candidate_frame(ids, source: str, x, y, snap_m, crs) -> gpd.GeoDataFrame:
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    return gpd.GeoDataFrame(
        {
            "candidate_id": np.asarray(ids, dtype=object),
            "source": source,
            "x": x,
            "y": y,
            "snap_distance_m": np.asarray(snap_m, dtype=float),
        },
        geometry=gpd.points_from_xy(x, y),
        crs=crs,
    )


def _study_area(result: RunResult) -> shapely.Geometry:
    """The run's study area in the network CRS (:class:`geoplan.workflows.project.StudyArea`: the
    boundary, else the units, else the hull of residents and facilities + 100 m)."""
    if result.area is not None:
        return result.area.geometry
    crs = result.network.crs
    if result.boundary is not None and not result.boundary.empty:
        return shapely.union_all(result.boundary.to_crs(crs).geometry.values)
    points = result.coverage.table
    return shapely.multipoints(np.column_stack([points["x"], points["y"]])).convex_hull.buffer(
        100.0
    )


# --------------------------------------------------------------------------- candidates


def grid_candidates(result: RunResult, rule: Rule, *, spacing_m: float) -> gpd.GeoDataFrame:
    """Cell centres of a ``spacing_m`` grid inside the boundary, moved onto the nearest street.

    Each centre is snapped to the nearest street the rule's mode may use and the site placed
    at that street point (``snap_distance_m`` is how far the centre was from it); cells that
    land on the same street point are kept once. Ids are ``grid-0001`` … in row order.
    """
    try:
        spacing_m = float(spacing_m)
    except (TypeError, ValueError):
        raise ConfigError(f"grid spacing must be metres, got {spacing_m!r}") from None
    if not (math.isfinite(spacing_m) and spacing_m > 0):
        raise ConfigError(f"grid spacing must be positive metres, got {spacing_m!r}")
    network = result.network
    area = _study_area(result)
    minx, miny, maxx, maxy = area.bounds
    cells = float(np.ceil((maxx - minx) / spacing_m) * np.ceil((maxy - miny) / spacing_m))
    result.project.limits.check(
        "grid_cells",
        cells,
        f"{spacing_m:g} 米网格的候选格数",
        f"cells of a {spacing_m:g} m candidate grid over the study area",
        fix="Use a coarser --grid",
    )
    xs = np.arange(minx + spacing_m / 2, maxx, spacing_m)
    ys = np.arange(maxy - spacing_m / 2, miny, -spacing_m)
    gx, gy = np.meshgrid(xs, ys)
    gx, gy = gx.ravel(), gy.ravel()
    inside = shapely.contains_xy(area, gx, gy)
    gx, gy = gx[inside], gy[inside]
    if len(gx) == 0:
        raise ConfigError(f"no {spacing_m:g} m grid cell centre lies inside the boundary")
    usable = _rule_times(result, rule).facility_edges
    snap = engine.snap_points(network, gx, gy, usable=usable)
    lines = np.asarray(network.edges.geometry.values)[snap.edge]
    on_street = shapely.line_interpolate_point(lines, snap.fraction, normalized=True)
    sx, sy = shapely.get_x(on_street), shapely.get_y(on_street)
    key = pd.DataFrame({"x": np.round(sx, 2), "y": np.round(sy, 2)})
    first = ~key.duplicated().to_numpy()
    n = int(first.sum())
    ids = [f"grid-{i + 1:0{max(4, len(str(n)))}d}" for i in range(n)]
    frame = _candidate_frame(
        ids, f"grid {spacing_m:g} m", sx[first], sy[first], snap.snap_distance_m[first], network.crs
    )
    logger.info("grid %g m: %d cells inside, %d distinct street sites", spacing_m, len(gx), n)
    return frame


def gap_node_candidates(result: RunResult, rule: Rule) -> gpd.GeoDataFrame:
    """The network nodes at both ends of the streets the rule's uncovered residents snap to.

    Deduplicated; ids are ``node-<OSM node id>``; sites sit exactly on the nodes.
    """
    points = result.coverage.table
    uncovered = ~points[column(rule.id, "covered")].to_numpy(dtype=bool)
    uncovered &= points["population"].to_numpy(dtype=float) > 0
    if not uncovered.any():
        raise ConfigError(f"rule {rule.id}: no uncovered residents, so no gap nodes to try")
    usable = _rule_times(result, rule).demand_edges
    network = result.network
    snap = engine.snap_points(
        network,
        points["x"].to_numpy()[uncovered],
        points["y"].to_numpy()[uncovered],
        usable=usable,
    )
    edges = network.edges
    nodes = np.unique(
        np.concatenate([edges["u"].to_numpy()[snap.edge], edges["v"].to_numpy()[snap.edge]])
    )
    table = network.nodes.iloc[nodes]
    ids = [f"node-{int(n)}" for n in table["node_id"]]
    logger.info("rule %s: %d gap nodes", rule.id, len(ids))
    return _candidate_frame(
        ids, "gap nodes", table["x"], table["y"], np.zeros(len(table)), network.crs
    )


def read_candidates(
    path: str | Path, *, crs: str | None = None, network_crs=None
) -> gpd.GeoDataFrame:
    """Candidate sites from a file: a table with an id and lon/lat, or a point layer.

    Parameters
    ----------
    path : str or Path
        CSV (UTF-8, GBK or UTF-16, as facility files), XLSX, or a vector file (GeoJSON,
        GPKG, Shapefile …). Tables need lon/lat columns (``lon``/``经度``, ``lat``/``纬度``
        …); the id column is ``candidate_id``, ``site_id`` or any facility-id spelling
        (``编号``, ``id`` …), else ids ``cand-1`` … are made.
    crs : str, optional
        Coordinate system of the lon/lat, as for facility files (:func:`geoplan.readers.facilities.
        read_facilities`): ``wgs84`` (default), ``cgcs2000``, ``gcj02`` (高德/腾讯), ``bd09``
        (百度) or an EPSG code, converted to WGS84; for vector files it overrides the layer's
        label. A header naming its system (``经度(GCJ-02)``) declares it too.
    network_crs : CRS, optional
        The network's projected CRS for ``x``/``y`` and the geometry (default: EPSG:4326).

    The frame's ``attrs["coord_source"]`` records the system the points were declared in.
    """
    from ..readers.facilities import declared_to_wgs84, header_crs

    path = Path(path)
    if not path.exists():
        raise InputFileNotFoundError(f"candidate file {path} does not exist")
    suffix = path.suffix.lower()
    if suffix in (".csv", ".txt", ".tsv"):
        import io

        from ..readers.facilities import (
            decode_text,  # the facility files' decoder: UTF-8, GBK, UTF-16
        )

        text = decode_text(path.read_bytes(), path.name, None)
        sep = "\t" if suffix == ".tsv" else ","
        frame = pd.read_csv(io.StringIO(text), sep=sep, dtype=str, keep_default_na=False)
        geometry = None
    elif suffix in (".xlsx", ".xlsm"):
        frame = _io.read_xlsx_table(path).fillna("")
        geometry = None
    else:
        try:
            layer = gpd.read_file(path)
        except Exception as exc:  # pyogrio raises several types for unreadable files
            raise InputError(f"{path.name}: cannot read as a point layer ({exc})") from None
        frame = pd.DataFrame(layer.drop(columns=layer.geometry.name))
        geometry = layer.geometry
    if len(frame) == 0:
        raise InputError(f"{path.name}: no candidate rows")
    found = match_columns(
        frame.columns,
        {
            "candidate_id": _CANDIDATE_ID_ALIASES,
            "lon": COLUMN_ALIASES["lon"],
            "lat": COLUMN_ALIASES["lat"],
        },
    )
    if geometry is not None:
        kinds = set(geometry.geom_type.dropna())
        if not kinds <= {"Point"}:
            raise InputError(f"{path.name}: candidate layers must hold points, found {kinds}")
        if geometry.crs is not None and geometry.crs.is_projected and crs is None:
            geometry = geometry.to_crs(4326)
        lon, lat = geometry.x.to_numpy(), geometry.y.to_numpy()
    else:
        if "lon" not in found or "lat" not in found:
            raise InputError(
                f"{path.name}: needs longitude and latitude columns (lon/经度, lat/纬度); "
                f"columns: {list(frame.columns)}"
            )
        lon = pd.to_numeric(frame[found["lon"]], errors="coerce").to_numpy(dtype=float)
        lat = pd.to_numeric(frame[found["lat"]], errors="coerce").to_numpy(dtype=float)
    bad = ~(np.isfinite(lon) & np.isfinite(lat) & (np.abs(lon) <= 180) & (np.abs(lat) <= 90))
    if bad.any():
        rows = ", ".join(str(i + 2) for i in np.flatnonzero(bad)[:5])
        raise InputError(
            f"{path.name}: {int(bad.sum())} candidate(s) without valid lon/lat degrees "
            f"(rows {rows}); fix or remove them"
        )
    if crs is None and geometry is None:
        header = header_crs(found["lon"])
        crs = None if header is None else header.label
    lon, lat, system = declared_to_wgs84(lon, lat, crs)
    if "candidate_id" in found:
        ids = frame[found["candidate_id"]].astype(str).str.strip().to_numpy(dtype=object)
        if (ids == "").any():
            raise InputError(f"{path.name}: some candidates have an empty id")
    else:
        ids = np.array([f"cand-{i + 1}" for i in range(len(frame))], dtype=object)
    dup = pd.Series(ids).duplicated()
    if dup.any():
        raise InputError(f"{path.name}: candidate ids repeat: {sorted(set(ids[dup.to_numpy()]))}")
    points = gpd.GeoSeries(gpd.points_from_xy(lon, lat), crs=4326)
    if network_crs is not None:
        points = points.to_crs(network_crs)
    frame = _candidate_frame(
        ids, f"file {path.name}", points.x, points.y, np.full(len(ids), np.nan), points.crs
    )
    frame.attrs["coord_source"] = system
    return frame


def read_exclusions(path: str | Path) -> gpd.GeoDataFrame:
    """Polygons where no site may go (any vector layer; no CRS = lon/lat)."""
    path = Path(path)
    if not path.exists():
        raise InputFileNotFoundError(f"exclusion file {path} does not exist")
    try:
        layer = gpd.read_file(path)
    except Exception as exc:  # pyogrio raises several types for unreadable files
        raise InputError(f"{path.name}: cannot read as a polygon layer ({exc})") from None
    layer = layer[layer.geometry.notna() & ~layer.geometry.is_empty]
    kinds = set(layer.geometry.geom_type)
    if not kinds or not kinds <= {"Polygon", "MultiPolygon"}:
        raise InputError(
            f"{path.name}: exclusion layers must hold polygons, found {sorted(kinds) or 'none'}"
        )
    if layer.crs is None:
        layer = layer.set_crs(4326)
    return layer


def exclude_candidates(
    candidates: gpd.GeoDataFrame, exclusions: Sequence[gpd.GeoDataFrame]
) -> tuple[gpd.GeoDataFrame, int]:
    """Drop candidates inside (or on the edge of) any exclusion polygon; returns the count."""
    keep = np.ones(len(candidates), dtype=bool)
    for layer in exclusions:
        area = shapely.union_all(layer.to_crs(candidates.crs).geometry.values)
        keep &= ~shapely.intersects_xy(area, candidates["x"].to_numpy(), candidates["y"].to_numpy())
    return candidates[keep].reset_index(drop=True), int((~keep).sum())


# --------------------------------------------------------------------------- the table


def existing_facilities(result: RunResult, rule: Rule) -> gpd.GeoDataFrame:
    """The run's facilities of the rule's categories."""
    return rule_facilities(result.facilities, rule)


def site_travel_times(
    result: RunResult, rule: Rule, candidates: gpd.GeoDataFrame, *, cutoff_s: float | None = None
) -> tuple[pd.DataFrame, tuple, tuple]:
    """The long table (``demand_id``, ``facility_id``, ``travel_time_s``) within the threshold
    (or ``cutoff_s``).

    One :func:`geoplan.analysis.engine.travel_time_matrix` call over the rule's existing facilities
    and the candidates (snapped exactly as :func:`geoplan.analysis.coverage.compute_coverage` snaps
    facilities). Returns the table (ids as categoricals, as
    :func:`geoplan.analysis.capacity.travel_times_by_id` names them), the existing ids and the
    candidate ids.
    """
    network = result.network
    existing = existing_facilities(result, rule)
    existing_ids = tuple(existing["facility_id"].astype(str))
    candidate_ids = tuple(candidates["candidate_id"].astype(str))
    clash = sorted(set(existing_ids) & set(candidate_ids))
    if clash:
        raise ConfigError(f"candidate ids equal existing facility ids: {clash[:5]}")
    ex = existing.geometry.to_crs(network.crs)
    cand = candidates.geometry.to_crs(network.crs)
    fx = np.concatenate([ex.x.to_numpy(dtype=float), cand.x.to_numpy(dtype=float)])
    fy = np.concatenate([ex.y.to_numpy(dtype=float), cand.y.to_numpy(dtype=float)])
    points = result.coverage.table
    with applied(result.project.limits):
        matrix = travel_time_pairs(
            network,
            (fx, fy),
            (points["x"].to_numpy(), points["y"].to_numpy()),
            mode=rule.mode,
            cutoff_s=rule.threshold_s if cutoff_s is None else cutoff_s,
            **result.project.network_options,
            times=_rule_times(result, rule),
        )
    table = travel_times_by_id(matrix, points["demand_id"], [*existing_ids, *candidate_ids])
    return table, existing_ids, candidate_ids


# --------------------------------------------------------------------------- site selection


@dataclass
class SitesResult:
    """A site selection on a project.

    Attributes
    ----------
    run : RunResult
        The project run (existing coverage = "before").
    rule : Rule
        The rule whose threshold and facilities were used.
    candidates : GeoDataFrame
        Ranked candidates (network CRS): ``rank``, ``candidate_id``, ``source``,
        ``new_population``, ``new_points`` (what the site alone adds), ``selected``, ``x``,
        ``y``, ``lon``, ``lat``, ``snap_distance_m``.
    siting : SitingResult
        The model's answer (``selected``, ``objective``, ``status``, ``gap`` …).
    after : Coverage
        The rule's coverage with the selected sites open (recomputed by the engine).
    travel_times : DataFrame
        The long table the models read.
    summary : dict
        What ``summary.json`` holds.
    """

    run: RunResult
    rule: Rule
    model: str
    p: int | None
    candidates: gpd.GeoDataFrame
    siting: location.SitingResult
    after: Coverage
    travel_times: pd.DataFrame
    summary: dict

    def selected(self) -> gpd.GeoDataFrame:
        """The selected sites with what each brings: ``gained_population`` (residents newly
        covered whose nearest facility is the site) and ``assigned_population`` (residents
        whose nearest facility after is the site)."""
        chosen = self.candidates[self.candidates["selected"]].copy()
        points = self.after.table
        before = self.run.coverage.table[column(self.rule.id, "covered")].to_numpy()
        covered = points[column(self.rule.id, "covered")].to_numpy()
        nearest = points[column(self.rule.id, "facility_id")].astype(object)
        population = points["population"].to_numpy()
        gained = pd.Series(population * (covered & ~before)).groupby(nearest.to_numpy()).sum()
        assigned = pd.Series(population * covered).groupby(nearest.to_numpy()).sum()
        ids = chosen["candidate_id"]
        chosen["gained_population"] = ids.map(gained).fillna(0.0).to_numpy()
        chosen["assigned_population"] = ids.map(assigned).fillna(0.0).to_numpy()
        order = pd.Index(self.siting.selected)
        chosen["order"] = order.get_indexer(ids) + 1
        return chosen.sort_values("order").reset_index(drop=True)


def select_sites(
    project: Project | RunResult | str | Path,
    *,
    rule: str,
    model: str = "mclp",
    p: int | None = None,
    candidates: str | Path | gpd.GeoDataFrame | None = None,
    candidates_crs: str | None = None,
    grid_m: float | None = None,
    gap_nodes: bool = False,
    exclude: Sequence[str | Path | gpd.GeoDataFrame] = (),
    target_share: float = 1.0,
    method: str = "milp",
    time_limit_s: float = 60.0,
) -> SitesResult:
    """Rank candidate sites and choose new ones for one rule of a project.

    Parameters
    ----------
    project : Project, RunResult, str or Path
        The project (file) or a run already computed.
    rule : str
        Rule id: its categories give the existing facilities, its mode and threshold the
        coverage.
    model : {"mclp", "lscp", "pmedian", "pcenter"}
        Maximal covering (``p`` new sites), set covering (fewest new sites reaching
        ``target_share`` of the coverable residents), p-median (``p`` sites, least
        population-weighted time; residents beyond the threshold count at the threshold) or
        p-center (``p`` sites, the shortest longest time — an ambulance's worst response;
        exact only, on a table from the threshold doubled until it reaches every resident,
        at most :data:`PCENTER_MAX_MIN`).
    p : int, optional
        New sites (mclp, pmedian).
    candidates, grid_m, gap_nodes
        Exactly one candidate source: a file or GeoDataFrame (``candidate_id`` and points),
        a grid spacing in metres, or the gap nodes.
    candidates_crs : str, optional
        Coordinate system of a candidate file (default WGS84).
    exclude : sequence of paths or GeoDataFrames
        Polygon layers where no site may go.
    target_share : float
        LSCP: share of the coverable residents to cover.
    method, time_limit_s
        Passed to the :mod:`geoplan.analysis.location` model (``"milp"`` or ``"greedy"``).
    """
    if model not in MODELS:
        raise ConfigError(f"model must be one of {', '.join(MODELS)}, got {model!r}")
    if model == "pcenter" and method != "milp":
        raise ConfigError(
            "the pcenter model is solved exactly only (method milp) / p-center 仅支持精确求解"
        )
    if model in ("mclp", "pmedian", "pcenter") and p is None:
        raise ConfigError(f"the {model} model needs --p (the number of new sites)")
    sources = [candidates is not None, grid_m is not None, bool(gap_nodes)]
    if sum(sources) != 1:
        raise ConfigError("give exactly one candidate source: --candidates, --grid or --gap-nodes")
    if isinstance(project, (str, Path)):
        project = load_project(project)
    the_project = project.project if isinstance(project, RunResult) else project
    the_rule = find_rule(the_project, rule)  # before the (slower) run
    if the_rule.threshold_by_type:
        raise ConfigError(
            f"rule {the_rule.id!r} sets threshold_by_type: site selection judges every "
            "resident by one threshold, so choose a rule without it (e.g. a copy per unit "
            "type) / 选址按单一时间阈值计算，请选用未按单元类型设阈值的规则"
        )
    run = as_run(project)
    network = run.network
    table, checks = _candidates(run, the_rule, candidates, candidates_crs, grid_m, gap_nodes)
    n_all = len(table)
    layers = [e if isinstance(e, gpd.GeoDataFrame) else read_exclusions(e) for e in exclude]
    table, n_excluded = exclude_candidates(table, layers)
    if len(table) == 0:
        raise ConfigError(f"all {n_all} candidates fall inside the exclusion layers")
    if np.isnan(table["snap_distance_m"]).any():
        usable = _rule_times(run, the_rule).facility_edges
        snap = engine.snap_points(
            network, table["x"].to_numpy(), table["y"].to_numpy(), usable=usable
        )
        table["snap_distance_m"] = snap.snap_distance_m
    travel_times, existing_ids, candidate_ids = site_travel_times(run, the_rule, table)
    points = run.coverage.table
    demand = pd.Series(
        points["population"].to_numpy(dtype=float), index=points["demand_id"].astype(str)
    )
    cutoff_s = the_rule.threshold_s
    ranked = location.evaluate_candidates(
        travel_times, demand, cutoff_s=cutoff_s, existing=existing_ids, candidates=candidate_ids
    )
    common = {"existing": existing_ids, "candidates": candidate_ids, "method": method}
    common["time_limit_s"] = time_limit_s
    if model == "pcenter":
        answer = _pcenter(run, the_rule, table, demand, p=p, time_limit_s=time_limit_s)
    else:
        answer = _solve(model, travel_times, demand, cutoff_s, p, target_share, common)
    chosen = set(answer.selected)
    table = table.merge(ranked, on="candidate_id", how="left")
    table = table.sort_values("rank", kind="stable").reset_index(drop=True)
    table["selected"] = table["candidate_id"].isin(chosen)
    table["lon"], table["lat"] = coords.projected_to_lonlat(
        table["x"], table["y"], network.crs, digits=7
    )
    table = gpd.GeoDataFrame(table, geometry="geometry", crs=network.crs)
    after = _after_coverage(run, the_rule, table[table["selected"]])
    summary = _sites_summary(
        run, the_rule, model, p, answer, after, table, n_all, n_excluded, target_share
    )
    summary["warnings"] = [c.warning for c in checks if c.warning is not None]
    summary["coordinate_checks"] = [c.entry() for c in checks]
    summary["credits"] = run.credits
    return SitesResult(run, the_rule, model, p, table, answer, after, travel_times, summary)


def _candidates(
    run: RunResult,
    rule: Rule,
    candidates: str | Path | gpd.GeoDataFrame | None,
    candidates_crs: str | None,
    grid_m: float | None,
    gap_nodes: bool,
) -> tuple[gpd.GeoDataFrame, list[CoordinateCheck]]:
    """The candidate table from its one source (:data:`CANDIDATE_COLUMNS`), and the
    coordinate check of a candidate file."""
    network = run.network
    if grid_m is not None:
        return grid_candidates(run, rule, spacing_m=grid_m), []
    if gap_nodes:
        return gap_node_candidates(run, rule), []
    if isinstance(candidates, gpd.GeoDataFrame):
        if "candidate_id" not in candidates.columns:
            raise InputError("candidate GeoDataFrame needs a candidate_id column")
        points = candidates.geometry.to_crs(network.crs)
        table = _candidate_frame(
            candidates["candidate_id"].astype(str),
            candidates.get("source", pd.Series("table", index=candidates.index)).astype(str),
            points.x,
            points.y,
            np.full(len(candidates), np.nan),
            network.crs,
        )
        return table, []
    with applied(run.project.limits):
        table = read_candidates(candidates, crs=candidates_crs, network_crs=network.crs)
    name = Path(candidates).name
    check = check_coordinate_system(
        table.geometry,
        network,
        input="candidates",
        what=(f"候选点文件 {name}", f"candidates ({name})"),
        declare=DECLARE["candidates"],
        declared=table.attrs.get("coord_source", "wgs84"),
    )
    return table, [check]


def _solve(model, travel_times, demand, cutoff_s, p, target_share, common):
    """The siting model's answer (:mod:`geoplan.analysis.location`)."""
    if model == "mclp":
        return location.mclp(travel_times, demand, p=p, cutoff_s=cutoff_s, **common)
    if model == "lscp":
        return location.lscp(
            travel_times, demand, cutoff_s=cutoff_s, target_share=target_share, **common
        )
    return location.pmedian(travel_times, demand, p=p, unserved_penalty_s=cutoff_s, **common)


def _pcenter(run: RunResult, rule: Rule, candidates, demand, *, p: int, time_limit_s: float):
    """p-center on a table long enough for it: the rule's threshold, doubled while some
    resident is beyond every site (:class:`geoplan.analysis.location.TableTooShort`)."""
    cutoff_s = rule.threshold_s
    while True:
        table, existing, ids = site_travel_times(run, rule, candidates, cutoff_s=cutoff_s)
        try:
            return location.pcenter(
                table, demand, p=p, existing=existing, candidates=ids, time_limit_s=time_limit_s
            )
        except location.TableTooShort:
            if cutoff_s >= PCENTER_MAX_MIN * 60:
                raise
            cutoff_s = min(2 * cutoff_s, PCENTER_MAX_MIN * 60)
            logger.info("p-center: the table is extended to %.0f min", cutoff_s / 60)


def _after_coverage(run: RunResult, rule: Rule, chosen: gpd.GeoDataFrame) -> Coverage:
    """The rule's coverage with the chosen sites added to the existing facilities."""
    existing = run.facilities.to_crs(run.network.crs)
    category = sorted(expand_categories(rule.categories))[0]
    new = gpd.GeoDataFrame(
        {
            "facility_id": chosen["candidate_id"].astype(str).to_numpy(),
            "name": [f"新选址 new site {c}" for c in chosen["candidate_id"]],
            "category": category,
        },
        geometry=chosen.geometry.values,
        crs=run.network.crs,
    )
    facilities = pd.concat([existing, new], ignore_index=True)
    return recompute_coverage(run, gpd.GeoDataFrame(facilities, crs=run.network.crs), [rule])


def _sites_summary(run, rule, model, p, answer, after, table, n_all, n_excluded, target) -> dict:
    points = run.coverage.table
    population = points["population"].to_numpy()
    total = float(population.sum())
    before = float(population[points[column(rule.id, "covered")].to_numpy()].sum())
    covered_after = float(population[after.table[column(rule.id, "covered")].to_numpy()].sum())
    if model in ("mclp", "lscp") and not math.isclose(
        covered_after, answer.covered_population, rel_tol=1e-9, abs_tol=1e-6
    ):
        logger.warning(
            "recomputed coverage %.3f differs from the model's %.3f",
            covered_after,
            answer.covered_population,
        )
    objective_unit = {
        "mclp": "persons covered",
        "lscp": "new sites",
        "pmedian": "person-seconds (weighted travel time, uncovered at the threshold)",
        "pcenter": "seconds (the longest time from a resident to the nearest site)",
    }[model]
    project = run.project
    return {
        "area": project.area,
        "area_en": project.area_en,
        "facilities_hypothetical": project.hypothetical_facilities,
        "notes_zh": list(project.notes_zh),
        "notes_en": list(project.notes_en),
        "rule": rule.as_dict(),
        "population_total": total,
        "sites": {
            "model": model,
            "p": p if model != "lscp" else len(answer.selected),
            "target_share_of_coverable": target if model == "lscp" else None,
            "candidates_source": str(table["source"].iloc[0]) if len(table) else None,
            "candidates_total": n_all,
            "candidates_excluded": n_excluded,
            "candidates_used": len(table),
            "existing_facilities": len(answer.existing),
            "selected": list(answer.selected),
            "objective": answer.objective,
            "objective_unit": objective_unit,
            "covered_population_before": before,
            "covered_population_after": covered_after,
            "share_before": before / total if total > 0 else None,
            "share_after": covered_after / total if total > 0 else None,
            "model_covered_population": answer.covered_population,
            "coverable_population": answer.coverable_population,
            "solver": {
                "method": answer.method,
                "status": answer.status,
                "gap": answer.gap,
                "bound": answer.bound,
                "solve_time_s": round(answer.solve_time_s, 4),
            },
        },
    }


# --------------------------------------------------------------------------- outputs


def _candidate_table(result: SitesResult) -> pd.DataFrame:
    table = pd.DataFrame(result.candidates.drop(columns=["geometry", "x", "y"]))
    first = ["rank", "candidate_id", "new_population", "new_points", "selected", "lon", "lat"]
    return table[[*first, *(c for c in table.columns if c not in first)]]


def _selected_table(result: SitesResult) -> pd.DataFrame:
    chosen = pd.DataFrame(result.selected().drop(columns=["geometry", "x", "y"]))
    chosen = chosen.rename(columns={"rank": "rank_alone", "new_population": "new_population_alone"})
    first = ["order", "candidate_id", "lon", "lat", "gained_population", "assigned_population"]
    return chosen[[*first, *(c for c in chosen.columns if c not in first)]]


def _flat(prefix: str, value, rows: list) -> None:
    if isinstance(value, dict):
        for k, v in value.items():
            _flat(f"{prefix}.{k}" if prefix else k, v, rows)
    else:
        rows.append(
            (prefix, json.dumps(value, ensure_ascii=False) if isinstance(value, list) else value)
        )


def write_sites(result: SitesResult, out_dir: str | Path, *, overwrite: bool = False) -> Path:
    """Write candidates.csv, selected.csv, sites.xlsx, sites.gpkg, sites_map.html and
    summary.json into the result folder ``out_dir`` (see :mod:`geoplan.results`)."""
    with output_folder(out_dir, command="sites", overwrite=overwrite) as staged:
        _write_sites_files(result, staged.path)
    return Path(out_dir)


def _write_sites_files(result: SitesResult, out_dir: Path) -> None:
    candidates = _candidate_table(result)
    selected = _selected_table(result)
    _io.write_csv(candidates, out_dir / "candidates.csv")
    _io.write_csv(selected, out_dir / "selected.csv")
    rows: list = []
    _flat("", _io.json_safe(result.summary), rows)
    _io.write_xlsx(
        {
            "selected": selected,
            "candidates": candidates,
            "summary": pd.DataFrame(rows, columns=["key", "value"]),
        },
        out_dir / "sites.xlsx",
    )
    with _io.atomic_path(out_dir / "sites.gpkg") as tmp:
        for name, table in (("candidates", candidates), ("selected", selected)):
            gpd.GeoDataFrame(
                table, geometry=gpd.points_from_xy(table["lon"], table["lat"]), crs=4326
            ).to_file(tmp, layer=name, driver="GPKG")
    _io.write_json(out_dir / "summary.json", _io.json_safe(result.summary))
    from ..rendering import maps

    maps.save_map(sites_map(result), out_dir / "sites_map.html")


# --------------------------------------------------------------------------- 片区 (catchments)


@dataclass
class Catchments:
    """Sub-centres of one tier and their 片区.

    Attributes
    ----------
    hubs : tuple
        Facility ids chosen as sub-centres.
    facilities : GeoDataFrame
        The tier's facilities (EPSG:4326) with ``hub_id``, ``travel_time_s`` (to the hub)
        and ``weight``.
    points : DataFrame
        Per demand point: ``demand_id``, ``population``, ``x``, ``y``, ``facility_id``
        (nearest facility of the tier), ``hub_id`` (nearest hub) and ``hub_time_s``.
    areas : GeoDataFrame
        Per hub: ``hub_id``, ``name``, ``facilities``, ``population`` and the convex hull of
        its facilities and points (network CRS; display only).
    sub_centres : SubCentres
        The solver's answer.
    summary : dict
        What ``catchments_summary.json`` holds.
    """

    run: RunResult
    hubs: tuple
    facilities: gpd.GeoDataFrame
    points: pd.DataFrame
    areas: gpd.GeoDataFrame
    sub_centres: location.SubCentres
    summary: dict


def catchments(
    project: Project | RunResult | str | Path,
    *,
    k: int,
    tier: str | None = None,
    categories: Sequence[str] | None = None,
    mode: str = "walk",
    weight: str = "population",
    time_limit_s: float = 60.0,
) -> Catchments:
    """Choose ``k`` sub-centres among one tier of facilities and draw their 片区.

    Parameters
    ----------
    project : Project, RunResult, str or Path
        The project (file) or a run already computed.
    k : int
        Number of sub-centres (hubs).
    tier : str, optional
        Facility tier (``county``, ``township``, ``village``, ``other``).
    categories : sequence of str, optional
        Category keys or groups (``medical``); with ``tier`` both must hold.
    mode : {"walk", "bike", "drive"}
        Travel mode between facilities and to the hubs.
    weight : str
        Weight of each facility in the p-median: ``population`` (residents nearest to it
        among the tier), ``equal``, or a numeric facility column such as ``beds`` (NaN = 0).
    time_limit_s : float
        HiGHS time limit.
    """
    if tier is None and not categories:
        raise ConfigError("catchments need a facility tier or categories (e.g. tier='township')")
    run = as_run(project)
    tier_table = _tier_facilities(run.facilities, tier, categories, k)
    network = run.network
    walk = run.project.walk_speed_m_per_min
    times = _mode_times(run, mode)
    forward_s, backward_s, private = times.forward_s, times.backward_s, times.private
    base = engine.transposed_street_csr(network, forward_s, backward_s, private)
    xy = tier_table.geometry.to_crs(network.crs)
    # facilities are trips' origins (to a hub) and destinations here: both
    both = times.demand_edges & times.facility_edges
    fac_snap = engine.snap_points(network, xy.x.to_numpy(), xy.y.to_numpy(), usable=both)
    ids = tier_table["facility_id"].astype(str).to_numpy(dtype=object)
    with applied(run.project.limits):
        matrix = engine.travel_time_matrix(
            network,
            forward_s,
            backward_s,
            fac_snap,
            fac_snap,
            cutoff_s=np.inf,
            access_speed_m_per_min=walk,
            base=base,
            private=private,
        )
    between = travel_times_by_id(matrix, ids, ids)  # from a facility (demand_id) to a hub
    points = run.coverage.table
    dem_snap = engine.snap_points(
        network, points["x"].to_numpy(), points["y"].to_numpy(), usable=times.demand_edges
    )
    nearest = engine.nearest_facility(
        network,
        forward_s,
        backward_s,
        fac_snap,
        dem_snap,
        access_speed_m_per_min=walk,
        base=base,
        private=private,
    )
    population = points["population"].to_numpy(dtype=float)
    values = _hub_weights(weight, tier_table, nearest.facility, population)
    answer = location.sub_centres(
        between, pd.Series(values, index=ids), k=int(k), time_limit_s=time_limit_s
    )
    assignment = answer.assignment.set_index("facility_id").reindex(ids)
    facilities = tier_table.copy()
    facilities["hub_id"] = assignment["hub_id"].to_numpy(dtype=object)
    facilities["travel_time_s"] = assignment["travel_time_s"].to_numpy(dtype=float)
    facilities["weight"] = values
    facilities["is_hub"] = np.isin(ids, np.array(answer.hubs, dtype=object))
    hubs = np.flatnonzero(facilities["is_hub"].to_numpy())
    to_hub = engine.nearest_facility(
        network,
        forward_s,
        backward_s,
        fac_snap.take(hubs),
        dem_snap,
        access_speed_m_per_min=walk,
        base=base,
        private=private,
    )
    hub_ids = ids[hubs]
    point_table = points[["demand_id", "population", "x", "y"]].copy()
    point_table["facility_id"] = np.where(nearest.facility >= 0, ids[nearest.facility], None)
    point_table["hub_id"] = np.where(to_hub.facility >= 0, hub_ids[to_hub.facility], None)
    point_table["hub_time_s"] = to_hub.travel_time_s
    areas = _hub_areas(facilities, point_table, network.crs)
    summary = _catchments_summary(
        run, tier, categories, mode, weight, k, answer, areas, n_facilities=len(facilities)
    )
    return Catchments(run, answer.hubs, facilities, point_table, areas, answer, summary)


def _tier_facilities(
    used: gpd.GeoDataFrame, tier: str | None, categories: Sequence[str] | None, k: int
) -> gpd.GeoDataFrame:
    """The run's facilities of ``tier`` and ``categories`` (both, where given); at least ``k``."""
    used = used.reset_index(drop=True)
    keep = np.ones(len(used), dtype=bool)
    if tier is not None:
        keep &= used["tier"].astype(str).to_numpy() == tier
    if categories:
        keep &= used["category"].astype(str).isin(expand_categories(categories)).to_numpy()
    table = used[keep].reset_index(drop=True)
    if len(table) < max(int(k), 1):
        raise ConfigError(
            f"{len(table)} facilities match tier={tier!r} categories={categories!r}; "
            f"k={k} sub-centres need at least as many"
        )
    return table


def _hub_weights(
    weight: str, table: gpd.GeoDataFrame, nearest: np.ndarray, population: np.ndarray
) -> np.ndarray:
    """Each facility's weight in the p-median: the residents nearest to it (``nearest``: each
    resident's facility position, -1 when none), 1 each, or a numeric column (NaN = 0)."""
    if weight == "population":
        found = nearest >= 0
        return np.bincount(nearest[found], weights=population[found], minlength=len(table))
    if weight == "equal":
        return np.ones(len(table))
    if weight in table.columns:
        return pd.to_numeric(table[weight], errors="coerce").fillna(0.0).to_numpy()
    raise ConfigError(f"weight must be 'population', 'equal' or a facility column, got {weight!r}")


def _catchments_summary(
    run, tier, categories, mode, weight, k, answer, areas, *, n_facilities: int
) -> dict:
    """What ``catchments_summary.json`` holds."""
    return {
        "area": run.project.area,
        "area_en": run.project.area_en,
        "facilities_hypothetical": run.project.hypothetical_facilities,
        "tier": tier,
        "categories": list(categories or []),
        "mode": mode,
        "weight": weight,
        "k": int(k),
        "hubs": list(answer.hubs),
        "facilities": n_facilities,
        "weighted_time_s": answer.weighted_time_s,
        "solver": {"status": answer.status, "gap": answer.gap, "bound": answer.bound},
        "per_hub": [
            {
                "hub_id": row.hub_id,
                "name": row.name,
                "facilities": int(row.facilities),
                "population": float(row.population),
            }
            for row in areas.itertuples(index=False)
        ],
    }


def _hub_areas(facilities: gpd.GeoDataFrame, points: pd.DataFrame, crs) -> gpd.GeoDataFrame:
    """Per hub: the convex hull of its facilities and demand points (display only)."""
    fac_xy = facilities.geometry.to_crs(crs)
    fac_coords = np.column_stack([fac_xy.x.to_numpy(), fac_xy.y.to_numpy()])
    pt_coords = np.column_stack([points["x"].to_numpy(), points["y"].to_numpy()])
    fac_hub = facilities["hub_id"].astype(str).to_numpy()
    pt_hub = points["hub_id"].astype(str).to_numpy()
    population = points["population"].to_numpy()
    names = dict(zip(facilities["facility_id"].astype(str), facilities["name"], strict=True))
    rows = []
    for hub in facilities.loc[facilities["is_hub"], "facility_id"].astype(str):
        mine = fac_hub == hub
        pts = pt_hub == hub
        coords = np.concatenate([fac_coords[mine], pt_coords[pts]])
        hull = shapely.multipoints(coords).convex_hull.buffer(30.0)
        rows.append(
            {
                "hub_id": hub,
                "name": names.get(hub, hub),
                "facilities": int(mine.sum()),
                "population": float(population[pts].sum()),
                "geometry": hull,
            }
        )
    return gpd.GeoDataFrame(rows, geometry="geometry", crs=crs)


def write_catchments(result: Catchments, out_dir: str | Path, *, overwrite: bool = False) -> Path:
    """Write the 片区 tables, layers, map and summary into the result folder ``out_dir``."""
    with output_folder(out_dir, command="catchments", overwrite=overwrite) as staged:
        _write_catchment_files(result, staged.path)
    return Path(out_dir)


def _write_catchment_files(result: Catchments, out_dir: Path) -> None:
    crs = result.run.network.crs
    fac = result.facilities.to_crs(4326)
    fac_table = pd.DataFrame(fac.drop(columns="geometry"))
    fac_table["lon"], fac_table["lat"] = fac.geometry.x.round(7), fac.geometry.y.round(7)
    _io.write_csv(fac_table, out_dir / "catchment_facilities.csv")
    points = result.points.copy()
    points["lon"], points["lat"] = coords.projected_to_lonlat(
        points["x"], points["y"], crs, digits=7
    )
    _io.write_csv(points.drop(columns=["x", "y"]), out_dir / "catchment_points.csv")
    with _io.atomic_path(out_dir / "catchments.gpkg") as tmp:
        result.areas.to_crs(4326).to_file(tmp, layer="catchments", driver="GPKG")
        fac.to_file(tmp, layer="facilities", driver="GPKG")
    _io.write_json(out_dir / "catchments_summary.json", _io.json_safe(result.summary))
    from ..rendering import maps

    maps.save_map(catchments_map(result), out_dir / "catchments_map.html")


def describe_sites(result: SitesResult) -> list[str]:
    """A few lines for the terminal: model, selected sites, coverage before → after."""
    s = result.summary["sites"]
    rule = result.rule
    lines = [
        f"{result.run.project.area}: {rule.name_zh} / {rule.name_en}",
        f"  candidates: {s['candidates_source']}, {s['candidates_used']} used"
        + (f" ({s['candidates_excluded']} excluded)" if s["candidates_excluded"] else ""),
        f"  {s['model'].upper()}: {len(s['selected'])} new site(s), objective "
        f"{s['objective']:,.1f} {s['objective_unit']}; solver {s['solver']['status']}, "
        f"gap {s['solver']['gap']:.2%}",
        f"  covered: {s['covered_population_before']:,.0f} ({(s['share_before'] or 0):.1%}) → "
        f"{s['covered_population_after']:,.0f} ({(s['share_after'] or 0):.1%})",
    ]
    for row in result.selected().itertuples(index=False):
        lines.append(
            f"  {row.order}. {row.candidate_id} at {row.lon:.6f}, {row.lat:.6f}: "
            f"+{row.gained_population:,.0f} newly covered"
        )
    return lines


def run_sites(
    project: str | Path | Project,
    out: str | Path,
    *,
    rule: str,
    model: str = "mclp",
    p: int | None = None,
    candidates: str | Path | gpd.GeoDataFrame | None = None,
    candidates_crs: str | None = None,
    grid_m: float | None = None,
    gap_nodes: bool = False,
    exclude: Sequence[str | Path | gpd.GeoDataFrame] = (),
    target_share: float = 1.0,
    time_limit_s: float = 60.0,
    overwrite: bool = False,
) -> SitesResult:
    """``geoplan sites``: :func:`select_sites` written into the result folder ``out``
    (checked before the work starts; see :func:`write_sites` for the files)."""
    loaded = project if isinstance(project, Project) else load_project(project)
    find_rule(loaded, rule)
    inputs = [*loaded.input_paths(), *(x for x in exclude if isinstance(x, str | Path))]
    if isinstance(candidates, str | Path):
        inputs.append(candidates)
    with output_folder(out, command="sites", overwrite=overwrite, inputs=inputs) as staged:
        result = select_sites(
            loaded,
            rule=rule,
            model=model,
            p=p,
            candidates=candidates,
            candidates_crs=candidates_crs,
            grid_m=grid_m,
            gap_nodes=gap_nodes,
            exclude=exclude,
            target_share=target_share,
            time_limit_s=time_limit_s,
        )
        _write_sites_files(result, staged.path)
    return result


def run_catchments(
    project: str | Path | Project,
    out: str | Path,
    *,
    rule: str,
    k: int,
    tier: str | None = None,
    time_limit_s: float = 60.0,
    overwrite: bool = False,
) -> Catchments:
    """``geoplan catchments``: :func:`catchments` of the facilities of ``rule`` (its
    categories and mode) written into the result folder ``out`` (checked first)."""
    loaded = project if isinstance(project, Project) else load_project(project)
    the_rule = find_rule(loaded, rule)
    inputs = loaded.input_paths()
    with output_folder(out, command="catchments", overwrite=overwrite, inputs=inputs) as staged:
        result = catchments(
            loaded,
            k=k,
            tier=tier,
            categories=the_rule.categories,
            mode=the_rule.mode,
            time_limit_s=time_limit_s,
        )
        _write_catchment_files(result, staged.path)
    return result


def describe_catchments(result: Catchments) -> list[str]:
    """A few lines for the terminal: the sub-centres, their facilities and residents."""
    area, mode = result.run.project.area, result.summary["mode"]
    lines = [f"{area}: {len(result.hubs)} sub-centres ({mode})"]
    return lines + [
        f"  {row['hub_id']} {row['name']}: {row['facilities']} facilities, "
        f"{row['population']:,.0f} residents"
        for row in result.summary["per_hub"]
    ]


__all__ = [
    "CANDIDATE_COLUMNS",
    "CATCHMENT_FILES",
    "MODELS",
    "PCENTER_MAX_MIN",
    "SITES_FILES",
    "Catchments",
    "SitesResult",
    "catchments",
    "describe_catchments",
    "describe_sites",
    "exclude_candidates",
    "existing_facilities",
    "find_rule",
    "gap_node_candidates",
    "grid_candidates",
    "read_candidates",
    "read_exclusions",
    "run_catchments",
    "run_sites",
    "select_sites",
    "site_travel_times",
    "write_catchments",
    "write_sites",
]
