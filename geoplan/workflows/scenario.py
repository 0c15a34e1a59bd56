"""What-if scenarios: add, close or move facilities and compare coverage before and after.

"Before" is :func:`geoplan.workflows.project.compute_project` (or a :class:`RunResult` already at
hand); "after" reuses its loaded network, demand points and units and runs
:func:`geoplan.analysis.coverage.compute_coverage` once more on the changed facility table — one
engine pass per rule each, nothing read from disk twice. Per demand point and rule a resident
*gains* access when covered after but not before and *loses* it the other way round, so per
rule ``after − before = gained − lost`` (persons).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
from pyproj import Transformer
from shapely.geometry import Point

from .. import _io, coords, schema
from ..analysis.coverage import OUTSIDE_UNITS, Coverage, column, compute_coverage
from ..analysis.duplicates import reject_repeats_of
from ..analysis.engine import road_distance_m
from ..analysis.preflight import reject_far_from_road
from ..analysis.qa import DECLARE, CoordinateCheck, check_coordinate_system
from ..analysis.rules import Rule
from ..errors import ConfigError, InputError, InputFileNotFoundError
from ..messages import far_from_road, percent_text
from ..readers.facilities import FacilityTable, declared_to_wgs84, read_facilities
from ..rendering.change_maps import move_lines, scenario_map
from ..results import output_folder
from ..taxonomy import CATEGORIES
from . import config
from .project import Project, RunResult, as_run, load_project

logger = logging.getLogger(__name__)

__all__ = [
    "SCENARIO_FILES",
    "SCENARIO_NOTE_EN",
    "SCENARIO_NOTE_ZH",
    "ScenarioFile",
    "ScenarioResult",
    "changed_points_table",
    "demand_frame",
    "load_scenario_file",
    "parse_ids",
    "parse_move",
    "recompute_coverage",
    "run_scenario",
    "run_scenario_file",
    "write_scenario",
]

SCENARIO_FILES = (
    "scenario_summary.json",
    "scenario_by_unit.csv",
    "changed_points.csv",
    "changed_points.gpkg",
    "scenario_map.html",
    "scenario_rejects.csv",
)
"""Files every scenario writes (manifest.json besides)."""
SCENARIO_NOTE_ZH = "本图为设施调整的情景推演（假设），并非现状或已批准的规划。"
SCENARIO_NOTE_EN = "A what-if scenario of facility changes (hypothetical), not the current state."
_ACTIONS = ("add", "close", "move")


@dataclass
class ScenarioResult:
    """Coverage before and after a set of facility changes.

    Attributes
    ----------
    before : RunResult
        The project as it is (its network, demand and units are reused for "after").
    after : Coverage
        Coverage with the changed facilities (points carry the same units as before).
    facilities_after : GeoDataFrame
        The facility table of the scenario (EPSG:4326).
    changes : DataFrame
        One row per changed facility: ``facility_id``, ``name``, ``category``, ``action``
        (add, close, move), ``lon_before``, ``lat_before``, ``lon_after``, ``lat_after``
        (NaN where not applicable) and ``moved_m`` (straight distance of a move).
    points : DataFrame
        Per demand point: ``demand_id``, ``population``, ``x``, ``y`` (network CRS),
        ``unit_name``, ``unit_code`` and per rule ``<id>_time_before_s``,
        ``<id>_time_after_s``, ``<id>_facility_before``, ``<id>_facility_after``,
        ``<id>_covered_before``, ``<id>_covered_after``, ``<id>_gained``, ``<id>_lost``.
    by_unit : DataFrame
        Per unit: population and per rule covered population before/after, change, shares,
        gained and lost persons.
    summary : dict
        What ``scenario_summary.json`` holds.
    rejects : DataFrame
        Added records that could not be used (reason in zh and en).
    """

    before: RunResult
    after: Coverage
    facilities_after: gpd.GeoDataFrame
    changes: pd.DataFrame
    points: pd.DataFrame
    by_unit: pd.DataFrame
    summary: dict
    rejects: pd.DataFrame

    @property
    def rules(self) -> tuple[Rule, ...]:
        """The project's rules."""
        return self.before.project.rules

    def describe(self) -> list[str]:
        """A few lines for the terminal: the changes and per rule before → after."""
        lines = []
        name = self.summary.get("scenario_name_zh") or ""
        if name:
            lines.append(f"{self.summary['area']}: {name}")
        for row in self.summary["changes"]:
            where = ""
            if "to_lonlat" in row:
                where = f" → {row['to_lonlat'][0]:.6f}, {row['to_lonlat'][1]:.6f}"
            moved = f" ({row['moved_m']:,.0f} m)" if "moved_m" in row else ""
            lines.append(f"  {row['action']} {row['facility_id']} {row['name']}{where}{moved}")
        for item in self.summary["rules"]:
            b, a = item["before"], item["after"]
            lines.append(
                f"  {item['name_zh']} / {item['name_en']}: {percent_text(b['share'])} → "
                f"{percent_text(a['share'])} ({item['change']['population_covered']:+,.0f}; gained "
                f"{item['gained']['population']:,.0f}, lost {item['lost']['population']:,.0f})"
            )
        if self.summary.get("facilities_hypothetical"):
            lines.append("  (facilities are a hypothetical scenario / 设施为假设情景)")
        return lines

    def changed_points(self) -> pd.DataFrame:
        """The demand points that gained or lost access under at least one rule."""
        changed = np.zeros(len(self.points), dtype=bool)
        for rule in self.rules:
            changed |= self.points[f"{rule.id}_gained"].to_numpy()
            changed |= self.points[f"{rule.id}_lost"].to_numpy()
        return self.points[changed].reset_index(drop=True)


# --------------------------------------------------------------------------- inputs


def parse_move(text: str) -> tuple[str, tuple[float, float]]:
    """``"ID=LON,LAT"`` → ``(id, (lon, lat))`` (WGS84 degrees)."""
    fid, sep, coords = str(text).rpartition("=")
    parts = coords.split(",")
    if not sep or not fid.strip() or len(parts) != 2:
        raise ConfigError(f"--move {text!r}: write ID=LON,LAT, e.g. TCS-CHC-01=115.0102,30.2031")
    try:
        lon, lat = float(parts[0]), float(parts[1])
    except ValueError:
        raise ConfigError(f"--move {text!r}: LON and LAT must be numbers (degrees)") from None
    return fid.strip(), (lon, lat)


def parse_ids(values: Iterable[str] | str | None) -> tuple[str, ...]:
    """Facility ids from ``"A,B"`` strings (repeatable); blanks dropped, order kept."""
    if values is None:
        return ()
    if isinstance(values, str):
        values = [values]
    ids = [part.strip() for value in values for part in str(value).split(",")]
    return tuple(dict.fromkeys(i for i in ids if i))


@dataclass(frozen=True)
class ScenarioFile:
    """A scenario TOML file: a ``[scenario]`` table naming a project and its changes."""

    path: Path
    project: Path
    name_zh: str = ""
    name_en: str = ""
    add: Path | None = None
    close: tuple[str, ...] = ()
    move: dict[str, tuple[float, float]] | None = None
    crs: str | None = None


def load_scenario_file(path: str | Path) -> ScenarioFile | None:
    """Read a scenario file; None when the TOML has no ``[scenario]`` table (a project file).

    Keys of ``[scenario]``: ``project`` (path relative to the file), optional ``name_zh``,
    ``name_en``, ``add`` (facility file), ``close`` (list of ids), ``[[scenario.move]]``
    tables with ``id``, ``lon``, ``lat``, and ``crs``: the coordinate system of ``add`` and
    the moves (``wgs84`` by default; ``gcj02``, ``bd09``, ``cgcs2000`` or an EPSG code).
    """
    path = Path(path)
    if not path.exists():
        raise InputFileNotFoundError(f"project or scenario file {path} does not exist")
    data = _io.read_toml(path)
    if "scenario" not in data:
        return None
    table = schema.validate(data, config.SCENARIO_FILE, file=path.name)["scenario"]

    def local(value: str) -> Path:
        target = Path(value)
        target = target if target.is_absolute() else path.parent / target
        if not target.exists():
            raise InputFileNotFoundError(f"{path.name}: file {target} does not exist")
        return target.resolve()

    move = {str(item["id"]): (item["lon"], item["lat"]) for item in table["move"]}
    crs = table.get("crs")
    return ScenarioFile(
        path=path.resolve(),
        project=local(table["project"]),
        name_zh=table["name_zh"],
        name_en=table["name_en"],
        add=local(table["add"]) if table.get("add") else None,
        close=parse_ids(table["close"]),
        move=move,
        crs=crs,
    )


def _check_lonlat(fid: str, lon: float, lat: float) -> None:
    if not (math.isfinite(lon) and math.isfinite(lat) and -180 <= lon <= 180 and -90 <= lat <= 90):
        raise ConfigError(f"move {fid}: ({lon}, {lat}) is not a longitude/latitude in degrees")


def _added_table(
    add: str | Path | FacilityTable | gpd.GeoDataFrame | None,
    before: RunResult,
    crs: str | None,
) -> tuple[gpd.GeoDataFrame | None, pd.DataFrame, list[CoordinateCheck]]:
    """The added facilities (used, EPSG:4326), their rejects and their coordinate check.

    A file is read like the project's facilities (in ``crs``, within the boundary); records
    repeating an existing facility (or each other) are rejected as ``duplicate``.
    """
    if add is None:
        return None, pd.DataFrame(), []
    checks = []
    if isinstance(add, (str, Path)):
        name = Path(add).name
        add = read_facilities(add, crs=crs, boundary=before.boundary)
        add = reject_repeats_of(before.facilities, add, keep=before.project.keep_duplicates)
        if len(add.used):
            checks.append(
                check_coordinate_system(
                    add.used,
                    before.network,
                    input="added",
                    what=(f"新增设施文件 {name}", f"added facilities ({name})"),
                    declare=DECLARE["scenario"],
                )
            )
    if isinstance(add, FacilityTable):
        return add.used.to_crs(4326), add.rejects, checks
    if isinstance(add, gpd.GeoDataFrame):
        missing = [c for c in ("facility_id", "category") if c not in add.columns]
        if missing:
            raise InputError(f"added facilities lack column(s) {', '.join(missing)}")
        unknown = sorted(set(add["category"].astype(str)) - set(CATEGORIES))
        if unknown:
            raise InputError(f"added facilities have unknown categories: {unknown}")
        frame = add if add.crs is not None else add.set_crs(4326)
        return frame.to_crs(4326), pd.DataFrame(), checks
    raise InputError(
        f"add must be a facility file, a FacilityTable or a GeoDataFrame, got {type(add).__name__}"
    )


def _changed_facilities(
    before: RunResult,
    *,
    add: str | Path | FacilityTable | gpd.GeoDataFrame | None,
    close: tuple[str, ...],
    move: Mapping[str, tuple[float, float]],
    crs: str | None = None,
) -> tuple[gpd.GeoDataFrame, pd.DataFrame, pd.DataFrame, list[CoordinateCheck]]:
    """The scenario's facility table, the change list, the rejected added records and the
    coordinate checks of the points given (added file, moves).

    ``close`` comes from :func:`parse_ids` (unique, order kept); ``move`` positions and the
    ``add`` file are in ``crs`` (None: WGS84).
    """
    used = before.facilities.reset_index(drop=True)
    ids = used["facility_id"].astype(str)
    move, checks = _moves_in_wgs84(before, move, crs)
    _check_changes(before, set(ids), close, move)
    max_snap_m = before.project.max_snap_m
    after = used[~ids.isin(close)].copy()
    if move:
        after = _moved(before, after, move, max_snap_m)
    added, add_rejects, add_checks = _added_table(add, before, crs)
    checks = add_checks + checks
    if added is not None and len(added):
        added, add_rejects = _checked_additions(before, after, added, add_rejects, max_snap_m)
        after = pd.concat([after, added], ignore_index=True)
    if len(add_rejects):
        logger.warning("%d added record(s) rejected (see the scenario's rejects)", len(add_rejects))
    facilities_after = gpd.GeoDataFrame(after, geometry="geometry", crs=4326).reset_index(drop=True)
    changes = _change_table(used, close, move, added)
    changes["moved_m"] = _moved_m(changes, before.network.crs)
    return facilities_after, changes, add_rejects, checks


def _moves_in_wgs84(
    before: RunResult, move: Mapping[str, tuple[float, float]], crs: str | None
) -> tuple[dict[str, tuple[float, float]], list[CoordinateCheck]]:
    """The ``move`` positions in WGS84, and the coordinate check of the positions given."""
    move = {str(k): (float(v[0]), float(v[1])) for k, v in move.items()}
    if not move:
        return move, []
    lon, lat, system = declared_to_wgs84(
        [v[0] for v in move.values()], [v[1] for v in move.values()], crs
    )
    move = {fid: (float(a), float(b)) for fid, a, b in zip(move, lon, lat, strict=True)}
    check = check_coordinate_system(
        gpd.GeoSeries(gpd.points_from_xy(lon, lat), crs=4326),
        before.network,
        input="move",
        what=("--move 给出的位置", "positions given by --move"),
        declare=DECLARE["scenario"],
        declared=system,
        quiet_when_few=True,  # a move or two can never be judged: recorded, not warned
    )
    return move, [check]


def _check_changes(
    before: RunResult,
    known: set[str],
    close: tuple[str, ...],
    move: Mapping[str, tuple[float, float]],
) -> None:
    """Refuse closing or moving a facility the run does not have, or both at once."""
    rejected_ids = set(before.rejects.get("facility_id", pd.Series(dtype=object)).astype(str))

    def unknown_error(what: str, fid: str) -> ConfigError:
        hint = " (it was rejected in the run: see rejects.csv)" if fid in rejected_ids else ""
        shown = ", ".join(sorted(known)[:12]) + (" …" if len(known) > 12 else "")
        return ConfigError(
            f"cannot {what} {fid!r}: no such facility in the run{hint}; ids: {shown}"
        )

    for fid in close:
        if fid not in known:
            raise unknown_error("close", fid)
    for fid, (lon, lat) in move.items():
        if fid not in known:
            raise unknown_error("move", fid)
        if fid in close:
            raise ConfigError(f"{fid!r} is both closed and moved; choose one")
        _check_lonlat(fid, lon, lat)


def _moved(
    before: RunResult,
    after: pd.DataFrame,
    move: Mapping[str, tuple[float, float]],
    max_snap_m: float,
) -> pd.DataFrame:
    """``after`` with the moved facilities at their new positions; a new position farther
    than ``max_snap_m`` from every road is refused (the far-from-road rule)."""
    moved = after["facility_id"].astype(str).isin(list(move))
    after.loc[moved, "geometry"] = [
        Point(*move[fid]) for fid in after.loc[moved, "facility_id"].astype(str)
    ]
    moved_frame = gpd.GeoDataFrame(after[moved], geometry="geometry", crs=4326)
    distance = road_distance_m(before.network, moved_frame.geometry)
    far = distance > max_snap_m
    if far.any():
        fid = str(moved_frame["facility_id"].astype(str)[far].iloc[0])
        label = (f"设施 {fid} 移动后的位置", f"the moved position of {fid}")
        zh, en = far_from_road(label, float(distance[far][0]), max_snap_m)
        raise ConfigError(f"{en} (--move takes LON,LAT in WGS84 degrees) / {zh}")
    return after


def _checked_additions(
    before: RunResult,
    after: pd.DataFrame,
    added: gpd.GeoDataFrame,
    rejects: pd.DataFrame,
    max_snap_m: float,
) -> tuple[gpd.GeoDataFrame, pd.DataFrame]:
    """The added facilities near a road (the others join ``rejects``); ids that repeat an
    existing facility or each other are refused."""
    added = added.reset_index(drop=True)
    added = added.assign(snap_distance_m=road_distance_m(before.network, added.geometry))
    added, rejects = reject_far_from_road(added, rejects, max_snap_m)
    added = added.drop(columns="snap_distance_m")
    clash = sorted(set(added["facility_id"].astype(str)) & set(after["facility_id"].astype(str)))
    if clash:
        raise ConfigError(
            f"added facility id(s) {', '.join(clash)} already exist; close them too, give "
            "the new records other ids, or use --move"
        )
    dup = added["facility_id"].astype(str)
    if dup.duplicated().any():
        raise ConfigError(f"added facility ids repeat: {sorted(set(dup[dup.duplicated()]))}")
    return added, rejects


_CHANGE_COLUMNS = (
    "facility_id",
    "name",
    "category",
    "action",
    "lon_before",
    "lat_before",
    "lon_after",
    "lat_after",
)


def _change_table(
    used: gpd.GeoDataFrame,
    close: tuple[str, ...],
    move: Mapping[str, tuple[float, float]],
    added: gpd.GeoDataFrame | None,
) -> pd.DataFrame:
    """One row per change: closures, moves, additions (WGS84 before and after)."""
    ids = used["facility_id"].astype(str)
    names = dict(zip(ids, used["name"].astype(str), strict=True))
    cats = dict(zip(ids, used["category"].astype(str), strict=True))
    lonlat_before = {fid: (g.x, g.y) for fid, g in zip(ids, used.geometry, strict=True)}
    rows = []
    for fid in close:
        lon, lat = lonlat_before[fid]
        rows.append((fid, names[fid], cats[fid], "close", lon, lat, np.nan, np.nan))
    for fid, (lon, lat) in move.items():
        lon0, lat0 = lonlat_before[fid]
        rows.append((fid, names[fid], cats[fid], "move", lon0, lat0, lon, lat))
    if added is not None:
        for _, row in added.iterrows():
            g = row.geometry
            name = str(row.get("name", row["facility_id"]))
            fid, category = str(row["facility_id"]), str(row["category"])
            rows.append((fid, name, category, "add", np.nan, np.nan, g.x, g.y))
    return pd.DataFrame(rows, columns=list(_CHANGE_COLUMNS))


def _moved_m(changes: pd.DataFrame, crs) -> np.ndarray:
    """Straight distance (m, network CRS) of each move; NaN for other actions."""
    out = np.full(len(changes), np.nan)
    move = (changes["action"] == "move").to_numpy()
    if move.any():
        to = Transformer.from_crs(4326, crs, always_xy=True)
        x0, y0 = to.transform(changes["lon_before"][move], changes["lat_before"][move])
        x1, y1 = to.transform(changes["lon_after"][move], changes["lat_after"][move])
        out[move] = np.hypot(np.asarray(x1) - x0, np.asarray(y1) - y0)
    return out


# --------------------------------------------------------------------------- the scenario


def demand_frame(result: RunResult) -> gpd.GeoDataFrame:
    """A run's demand points as a GeoDataFrame in the network CRS (for recomputing)."""
    points = result.coverage.table
    return gpd.GeoDataFrame(
        {"demand_id": points["demand_id"].to_numpy(), "population": points["population"]},
        geometry=gpd.points_from_xy(points["x"], points["y"]),
        crs=result.network.crs,
    )


def recompute_coverage(
    result: RunResult, facilities: gpd.GeoDataFrame, rules: Sequence[Rule] | None = None
) -> Coverage:
    """Coverage of ``result``'s demand on its network with other facilities (one pass per rule).

    The units of the run are carried over to the points (and their types, for rules with
    thresholds by unit type), and so are the ``[congestion]`` profiles rules name.
    """
    rules = result.project.rules if rules is None else tuple(rules)
    before = result.coverage.table
    coverage = compute_coverage(
        result.network,
        facilities,
        demand_frame(result),
        rules,
        **result.project.coverage_options,
        unit_types=result.coverage.unit_types,
    )
    for name in ("unit_name", "unit_code"):
        if name in before:
            coverage.table[name] = before[name].to_numpy()
    return coverage


def run_scenario(
    project: Project | RunResult | str | Path,
    *,
    add: str | Path | FacilityTable | gpd.GeoDataFrame | None = None,
    close: Iterable[str] = (),
    move: Mapping[str, tuple[float, float]] | None = None,
    name_zh: str = "",
    name_en: str = "",
    crs: str | None = None,
) -> ScenarioResult:
    """Compare coverage before and after adding, closing or moving facilities.

    Parameters
    ----------
    project : Project, RunResult, str or Path
        The project (file), or a run already computed (reused as "before").
    add : path, FacilityTable or GeoDataFrame, optional
        New facility records (read like the project's; records far from a road or outside
        the boundary are rejected, not added). A GeoDataFrame needs ``facility_id``,
        ``category`` (taxonomy key) and point geometry.
    close : iterable of str
        Ids of facilities to close.
    move : mapping of id to (lon, lat), optional
        New positions of facilities (in ``crs``).
    name_zh, name_en : str
        A name for the scenario (summary and map title).
    crs : str, optional
        Coordinate system of the ``add`` file and the ``move`` positions (as
        ``read_facilities(crs=)``; default WGS84). Points read as WGS84 are checked for
        GCJ-02/BD-09 positions (``warnings``, ``coordinate_checks`` in the summary).
    """
    before = as_run(project)
    move = dict(move or {})
    close = parse_ids(list(close))
    if not close and not move and add is None:
        raise ConfigError("a scenario needs at least one change: --add, --close or --move")
    facilities_after, changes, rejects, checks = _changed_facilities(
        before, add=add, close=close, move=move, crs=crs
    )
    after = recompute_coverage(before, facilities_after)
    points = _compare_points(before, after)
    by_unit = _compare_units(before, after, points)
    summary = _summary(
        before, after, points, changes, rejects, facilities_after, (name_zh, name_en)
    )
    summary["warnings"] = [c.warning for c in checks if c.warning is not None]
    summary["coordinate_checks"] = [c.entry() for c in checks]
    summary["credits"] = before.credits
    return ScenarioResult(
        before, after, facilities_after, changes, points, by_unit, summary, rejects
    )


def _compare_points(before: RunResult, after: Coverage) -> pd.DataFrame:
    b, a = before.coverage.table, after.table
    if not np.array_equal(b["demand_id"].to_numpy(), a["demand_id"].to_numpy()):
        raise AssertionError("demand points differ between before and after")
    keep = [c for c in ("demand_id", "population", "x", "y", "unit_name", "unit_code") if c in b]
    out = b[keep].copy()
    if "unit_name" not in out:
        out["unit_name"], out["unit_code"] = OUTSIDE_UNITS, ""
    for rule in before.project.rules:
        r = rule.id
        out[f"{r}_time_before_s"] = b[column(r, "time_s")].to_numpy()
        out[f"{r}_time_after_s"] = a[column(r, "time_s")].to_numpy()
        out[f"{r}_facility_before"] = b[column(r, "facility_id")].to_numpy()
        out[f"{r}_facility_after"] = a[column(r, "facility_id")].to_numpy()
        cov_b = b[column(r, "covered")].to_numpy(dtype=bool)
        cov_a = a[column(r, "covered")].to_numpy(dtype=bool)
        out[column(r, "covered_before")] = cov_b
        out[column(r, "covered_after")] = cov_a
        out[f"{r}_gained"] = cov_a & ~cov_b
        out[f"{r}_lost"] = cov_b & ~cov_a
    return out.reset_index(drop=True)


def _compare_units(before: RunResult, after: Coverage, points: pd.DataFrame) -> pd.DataFrame:
    keys = ["unit_code", "unit_name"]
    frame = points[[*keys, "population"]].copy()
    population = points["population"].to_numpy()
    for rule in before.project.rules:
        r = rule.id
        for what in ("covered_before", "covered_after", "gained", "lost"):
            frame[f"{r}_{what}"] = np.where(points[f"{r}_{what}"].to_numpy(), population, 0.0)
    table = frame.groupby(keys, sort=True, dropna=False).sum().reset_index()
    out = table[[*keys, "population"]].copy()
    with np.errstate(invalid="ignore", divide="ignore"):
        for rule in before.project.rules:
            r = rule.id
            b, a = table[column(r, "covered_before")], table[column(r, "covered_after")]
            out[column(r, "population_covered_before")] = b
            out[column(r, "population_covered_after")] = a
            out[f"{r}_change"] = a - b
            out[f"{r}_share_before"] = b / table["population"]
            out[f"{r}_share_after"] = a / table["population"]
            out[f"{r}_gained_population"] = table[f"{r}_gained"]
            out[f"{r}_lost_population"] = table[f"{r}_lost"]
    return out


def _state(row: Mapping) -> dict:
    """A row of :meth:`Coverage.summary` as the scenario summary's before/after entry."""
    return {
        "population_covered": row["population_covered"],
        "share": row["share_covered"],
        "met": row["met"],
    }


def _summary(before, after, points, changes, rejects, facilities_after, names) -> dict:
    project = before.project
    population = points["population"].to_numpy()
    total = float(population.sum())
    rules = []
    for rule, row_b, row_a in zip(
        project.rules, before.coverage.summary(), after.summary(), strict=True
    ):
        r = rule.id
        gained = points[f"{r}_gained"].to_numpy()
        lost = points[f"{r}_lost"].to_numpy()
        b, a = _state(row_b), _state(row_a)
        rules.append(
            {
                **rule.as_dict(),
                "before": b,
                "after": a,
                "change": {
                    "population_covered": a["population_covered"] - b["population_covered"],
                    "share": a["share"] - b["share"],
                },
                "gained": {
                    "population": float(population[gained].sum()),
                    "points": int(gained.sum()),
                },
                "lost": {"population": float(population[lost].sum()), "points": int(lost.sum())},
            }
        )
    change_rows = []
    for row in changes.itertuples(index=False):
        item = {
            "facility_id": row.facility_id,
            "name": row.name,
            "category": row.category,
            "action": row.action,
        }
        if row.action in ("close", "move"):
            item["from_lonlat"] = [round(row.lon_before, 6), round(row.lat_before, 6)]
        if row.action in ("add", "move"):
            item["to_lonlat"] = [round(row.lon_after, 6), round(row.lat_after, 6)]
        if row.action == "move":
            item["moved_m"] = round(float(row.moved_m), 1)
        change_rows.append(item)
    return {
        "area": project.area,
        "area_en": project.area_en,
        "scenario": "what-if (hypothetical) / 情景推演（假设）",
        "scenario_name_zh": names[0],
        "scenario_name_en": names[1],
        "facilities_hypothetical": project.hypothetical_facilities,
        "notes_zh": [*project.notes_zh, SCENARIO_NOTE_ZH],
        "notes_en": [*project.notes_en, SCENARIO_NOTE_EN],
        "population_total": total,
        "demand_points": len(points),
        "changes": change_rows,
        "facilities": {
            "before": len(before.facilities),
            "after": len(facilities_after),
            "added_rejected": len(rejects),
        },
        "rules": rules,
    }


def run_scenario_file(
    path: str | Path,
    *,
    out: str | Path,
    add: str | Path | None = None,
    close: Sequence[str] = (),
    move: Sequence[str] = (),
    overwrite: bool = False,
    crs: str | None = None,
) -> ScenarioResult:
    """``geoplan scenario``: a project or scenario file plus changes, written into ``out``.

    Changes named on the command line come on top of a scenario file's (a ``--move`` of the
    same id replaces the file's); ``crs`` (``--crs``) is the coordinate system of ``--add``
    and ``--move`` and overrides the file's ``crs``.
    """
    spec = load_scenario_file(path)
    moves = dict(parse_move(m) for m in move)
    closes = parse_ids(list(close))
    names = ("", "")
    project: str | Path = path
    if spec is not None:
        if add is not None and spec.add is not None:
            raise ConfigError(f"{Path(path).name} already adds {spec.add.name}; drop --add")
        project, add = spec.project, add or spec.add
        closes = tuple(dict.fromkeys([*spec.close, *closes]))
        moves = {**(spec.move or {}), **moves}
        names = (spec.name_zh, spec.name_en)
        crs = crs if crs is not None else spec.crs
    loaded = load_project(project)
    inputs = [*loaded.input_paths(), Path(path), add if isinstance(add, str | Path) else None]
    with output_folder(out, command="scenario", overwrite=overwrite, inputs=inputs) as staged:
        result = run_scenario(
            loaded,
            add=add,
            close=closes,
            move=moves,
            name_zh=names[0],
            name_en=names[1],
            crs=crs,
        )
        _write_files(result, staged.path)
    return result


# --------------------------------------------------------------------------- outputs


def changed_points_table(result: ScenarioResult) -> pd.DataFrame:
    """The changed points for CSV: lon/lat (WGS84) and minutes instead of x/y and seconds."""
    changed = result.changed_points()
    lon, lat = coords.projected_to_lonlat(changed["x"], changed["y"], result.before.network.crs)
    out = changed.drop(columns=["x", "y"])
    out.insert(2, "lon", lon)
    out.insert(3, "lat", lat)
    for rule in result.rules:
        for when in ("before", "after"):
            seconds = out.pop(f"{rule.id}_time_{when}_s")
            out.insert(
                out.columns.get_loc(f"{rule.id}_facility_{when}"),
                f"{rule.id}_time_{when}_min",
                (seconds / 60).round(2),
            )
    return out


def write_scenario(result: ScenarioResult, out_dir: str | Path, *, overwrite: bool = False) -> Path:
    """Write the scenario's summary, per-unit table, changed points and difference map into
    the result folder ``out_dir`` (see :mod:`geoplan.results`)."""
    with output_folder(out_dir, command="scenario", overwrite=overwrite) as staged:
        _write_files(result, staged.path)
    return Path(out_dir)


def _write_files(result: ScenarioResult, out_dir: Path) -> None:
    _io.write_json(out_dir / "scenario_summary.json", _io.json_safe(result.summary))
    _io.write_csv(result.by_unit, out_dir / "scenario_by_unit.csv")
    _io.write_csv(result.rejects, out_dir / "scenario_rejects.csv")
    table = changed_points_table(result)
    _io.write_csv(table, out_dir / "changed_points.csv")
    with _io.atomic_path(out_dir / "changed_points.gpkg") as tmp:
        gpd.GeoDataFrame(
            table, geometry=gpd.points_from_xy(table["lon"], table["lat"]), crs=4326
        ).to_file(tmp, layer="changed_points", driver="GPKG")
        changes = result.changes
        where_lon = changes["lon_after"].fillna(changes["lon_before"])
        where_lat = changes["lat_after"].fillna(changes["lat_before"])
        gpd.GeoDataFrame(
            changes, geometry=gpd.points_from_xy(where_lon, where_lat), crs=4326
        ).to_file(tmp, layer="facility_changes", driver="GPKG")
        moves = changes[changes["action"] == "move"]
        if len(moves):
            gpd.GeoDataFrame(moves, geometry=move_lines(moves), crs=4326).to_file(
                tmp, layer="moves", driver="GPKG"
            )
    from ..rendering import maps

    maps.save_map(scenario_map(result), out_dir / "scenario_map.html")
