"""Plan checks: a rule pack's circles, presence rules and ratios, run on a project.

``compute_checks(project, pack)`` evaluates, per administrative unit of the project,

* the pack's **circles** (share of residents within the threshold, by the project's own
  network, demand and facilities; :func:`geoplan.workflows.project.compute_project` on a copy of the
  project whose rules are the circles);
* its **presence rules**: "at least one facility of categories C in (or within T minutes of)
  each unit of a level" and "each facility of category A offers service B" (an attribute
  column of the facility file such as ``中医馆``, truthy 是/有/yes/1/true or a positive number);
* its **ratios**: capacity per 1,000 / 10,000 / 100,000 residents
  (:func:`geoplan.analysis.capacity.capacity_ratios`), 医护比 and 床护比;

and the plan's indicator table (:mod:`geoplan.plans.indicators`) with the values it computed.
Whatever the inputs cannot support is reported as ``not computable`` with the reason (no
village polygons, no ``中医馆`` column …), never silently skipped.

``run_check`` writes ``checks.csv`` (one row per rule × unit), ``indicators.csv``,
``presence_gaps.csv`` (the facilities and units that fail a presence rule), one
``failing_<rule>.geojson`` per failing rule and ``summary.json``; with the pack's further
kinds (:mod:`geoplan.workflows.plan_kinds`) also ``referral.csv`` (every lower-tier facility
to its higher-tier one) and ``catchments.csv`` (per 片区).

With unit types (``[units] type_column``) every share and access figure gets an urban and a
rural row (``URBAN``, ``RURAL``) beside the all-units row.
"""

from __future__ import annotations

import logging
import math
import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd

from .. import _io
from ..analysis.capacity import (
    access_by_unit,
    capacity_ratios,
    per_thousand,
    travel_times_by_id,
    two_step_fca,
)
from ..analysis.coverage import (
    OUTSIDE_UNITS,
    column,
    compute_coverage,
    expand_categories,
    travel_time_pairs,
)
from ..analysis.gaps import find_gaps
from ..analysis.rules import Rule
from ..errors import ConfigError, DataQualityWarning
from ..limits import applied
from ..plans.indicators import INCOMPLETE, track
from ..plans.packs import (
    CAPACITY_COLUMNS,
    KINDS,
    LEVELS,
    PresenceRule,
    RatioTarget,
    RulePack,
    compare,
    load_pack,
)
from ..readers.boundaries import assign_units
from ..results import output_folder
from ..taxonomy import normalize_text
from .project import Project, RunResult, compute_project, load_project

logger = logging.getLogger(__name__)

__all__ = [
    "ALL_UNITS",
    "CHECK_COLUMNS",
    "CHECK_FILES",
    "INCOMPLETE",
    "RURAL",
    "UNIT_GROUPS",
    "URBAN",
    "CheckContext",
    "CheckResult",
    "access_per_point",
    "add_gap",
    "add_row",
    "compare",
    "compute_checks",
    "describe",
    "facility_attributes",
    "facility_quantity",
    "find_column",
    "find_columns",
    "in_scope",
    "is_aggregate",
    "not_computable",
    "parse_assume",
    "run_check",
    "service_flags",
    "truthy",
    "units_for_rows",
]

CHECK_COLUMNS = (
    "rule_id",
    "rule_type",
    "name_zh",
    "name_en",
    "kind",
    "kind_en",
    "unit_name",
    "unit_code",
    "value",
    "value_unit",
    "comparator",
    "target",
    "status",
    "shortfall",
    "shortfall_unit",
    "mode",
    "threshold_min",
    "source",
    "quote",
    "note",
    "access_2sfca",
)
"""Columns of ``checks.csv``: one row per rule × unit (plus an all-units row when > 1 unit)."""

GAP_COLUMNS = (
    "rule_id",
    "unit_name",
    "unit_code",
    "facility_id",
    "name",
    "category",
    "value",
    "reason",
)

CHECK_FILES = ("checks.csv", "indicators.csv", "presence_gaps.csv", "summary.json")
FAILING_PREFIX = "failing_"
ALL_UNITS = "(全部 / all units)"
URBAN = "(城镇 / urban)"
RURAL = "(乡村 / rural)"
UNIT_GROUPS = {URBAN: "urban", RURAL: "rural"}
"""Rows of the units of one type (``[units] type_column``): every share and access figure is
split urban/rural when the units have types."""
NOT_COMPUTABLE = "not computable"
TRUE_WORDS = frozenset(
    {"是", "有", "yes", "y", "true", "t", "1", "√", "✓", "✔", "已设置", "已建", "已建成", "具备"}
)
FALSE_WORDS = frozenset(
    {"否", "无", "没有", "no", "n", "false", "f", "0", "×", "✗", "未设置", "未建", "不具备"}
)
_POPULATION_RULE = "population_only"


# ----------------------------------------------------------------------------- small helpers


def truthy(value: object) -> bool | None:
    """Whether an attribute cell says "yes": 是/有/yes/1/true or a positive number.

    ``None`` for a blank or unrecognised cell (reported as unknown, never taken as no).
    """
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    text = normalize_text(value)
    if not text or text in ("nan", "none"):
        return None
    if text in TRUE_WORDS:
        return True
    if text in FALSE_WORDS:
        return False
    try:
        number = float(text)
    except ValueError:
        return None
    return None if math.isnan(number) else number > 0


def find_column(
    headers: Iterable[object], aliases: Sequence[str], *, exact: bool = False
) -> str | None:
    """The first header matching one of ``aliases`` (normalised: equal, else containing it).

    ``exact`` accepts equal headers only (for counts, where 公共卫生人员数 must not match
    人员数).
    """
    headers = [str(h) for h in headers]
    forms = [normalize_text(h) for h in headers]
    for alias in aliases:
        norm = normalize_text(alias)
        for header, form in zip(headers, forms, strict=True):
            if form == norm:
                return header
    if exact:
        return None
    for alias in aliases:
        norm = normalize_text(alias)
        if len(norm) < 2:
            continue
        for header, form in zip(headers, forms, strict=True):
            if norm in form:
                return header
    return None


def find_columns(headers: Iterable[object], aliases: Sequence[str]) -> list[str]:
    """Every header matching one of ``aliases`` (normalised: equal, or containing it)."""
    found = []
    for header in headers:
        form = normalize_text(header)
        for alias in aliases:
            norm = normalize_text(alias)
            if form == norm or (len(norm) >= 2 and norm in form):
                found.append(str(header))
                break
    return found


def service_flags(frame: pd.DataFrame, headers: Sequence[str]) -> pd.Series:
    """Per row: True if any of ``headers`` is truthy, False if one says no and none yes.

    None where every cell is blank or unrecognised.
    """
    flags = pd.Series([None] * len(frame), index=frame.index, dtype=object)
    for header in headers:
        values = frame[header].map(truthy)
        flags[values == True] = True  # noqa: E712
        flags[(values == False) & flags.isna()] = False  # noqa: E712
    return flags


def facility_attributes(project: Project) -> pd.DataFrame:
    """The facility files' own columns as text, with ``source_file`` and ``source_row`` to
    join on (the columns of several files are united; cells a file lacks are empty).

    Uses the facility reader's parsers (same encoding detection, header search and row
    numbers), so the rows match :func:`geoplan.workflows.project.read_project_facilities`.
    """
    from ..readers.facilities import read_raw_records

    frames = []
    for options in project.facility_tables:
        path = project.resolve(options["path"])
        frame = read_raw_records(
            path, **{k: options.get(k) for k in ("layer", "sheet", "encoding", "crs", "columns")}
        )
        frame.insert(0, "source_file", str(options["path"]))
        frames.append(frame)
    return pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]


def _number(values: pd.Series) -> np.ndarray:
    """Numbers from text cells (thousands separators dropped); NaN where not a number."""
    text = values.astype(str).str.replace(",", "", regex=False).str.strip()
    return pd.to_numeric(text, errors="coerce").to_numpy(dtype=np.float64)


def parse_assume(items: Iterable[str]) -> dict[str, str]:
    """``["fitness_venues=all", …]`` (``--assume``) as ``{"fitness_venues": "all"}``."""
    out: dict[str, str] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip() or not value.strip():
            raise ConfigError(
                f"--assume {item!r}: 请写成 读法=选项 / write ID=OPTION, e.g. fitness_venues=all"
            )
        if key.strip() in out:
            raise ConfigError(f"--assume {key.strip()}: 重复给出 / given twice")
        out[key.strip()] = value.strip()
    return out


# ----------------------------------------------------------------------------- result


@dataclass
class CheckResult:
    """Everything a check computed, before (and after) it is written."""

    project: Project
    pack: RulePack
    checks: pd.DataFrame
    gaps: pd.DataFrame
    indicators: pd.DataFrame
    summary: dict
    failing: dict[str, gpd.GeoDataFrame] = field(default_factory=dict)
    run: RunResult | None = None
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)  # referral, catchments


@dataclass
class _Context:
    """Shared state of one check."""

    project: Project
    pack: RulePack
    run: RunResult
    facilities: gpd.GeoDataFrame  # used facilities + raw attribute columns + unit columns
    attribute_columns: list[str]
    units: gpd.GeoDataFrame | None  # unit_name, unit_code, population, geometry
    unit_level: str | None
    unit_level_source: str
    demand: gpd.GeoDataFrame
    rows: list[dict] = field(default_factory=list)
    gaps: list[dict] = field(default_factory=list)
    failing: dict[str, gpd.GeoDataFrame] = field(default_factory=dict)
    current: dict[str, float] = field(default_factory=dict)
    missing: dict[str, str] = field(default_factory=dict)
    incomplete: dict[str, str] = field(default_factory=dict)  # indicator → why (blank cells)
    notes: list[str] = field(default_factory=list)
    access_note: str = ""
    access_matrices: dict[tuple[str, float, bytes], pd.DataFrame] = field(default_factory=dict)
    value_notes: dict[str, str] = field(default_factory=dict)  # implausible values per quantity
    groups: dict[str, list[str]] = field(default_factory=dict)  # URBAN/RURAL → unit names
    figures: dict[str, dict] = field(default_factory=dict)  # per rule: summary.json figures
    tables: dict[str, list[dict]] = field(default_factory=dict)  # referral.csv, catchments.csv

    @property
    def unit_names(self) -> list[tuple[str, str]]:
        if self.units is None:
            return []
        return list(zip(self.units["unit_name"], self.units["unit_code"], strict=True))


# ----------------------------------------------------------------------------- main entry


def compute_checks(
    project: Project | str | Path,
    pack: RulePack | str | Path,
    *,
    unit_level: str | None = None,
    assume: dict[str, str] | None = None,
) -> CheckResult:
    """Evaluate a rule pack on a project (writing nothing).

    Parameters
    ----------
    project : Project or path
        The project: its network, demand, facilities, boundary and units are used; its own
        ``[[rules]]`` are replaced by the pack's circles.
    pack : RulePack, id or path
        A bundled pack id (``leshan_shizhong``) or a pack file.
    unit_level : str, optional
        Level of the project's units (``village``, ``township``, ``county``, ``city``);
        default ``[units] level`` of the project file, else ``[boundary] level`` when the
        boundary is the only unit. Unit presence rules need units of their level.
    assume : dict, optional
        Readings of the pack's ``[[assumptions]]`` (id → option) when ``pack`` is an id or
        path (:func:`geoplan.plans.packs.load_pack`).
    """
    if not isinstance(project, Project):
        project = load_project(project)
    if not isinstance(pack, RulePack):
        pack = load_pack(pack, assume=assume)
    elif assume:
        raise ConfigError("assume applies when the pack is given by id or path")
    if unit_level is not None and unit_level not in LEVELS:
        raise ConfigError(f"unit level {unit_level!r} is not one of {', '.join(LEVELS)}")
    circles, skipped = _computable_circles(pack)
    base = [r for r in circles if r.id not in pack.circle_filters]
    if not base:
        base = [
            Rule(
                _POPULATION_RULE,
                "人口",
                "population only",
                ("medical",),
                "walk",
                15.0,
            )
        ]
    # the pack's circles, not the project's rules: the project's [service_areas] (display
    # layers of its own rules) do not apply
    run = compute_project(replace(project, rules=tuple(base), service_areas=None))
    ctx = _context(project, pack, run, unit_level)
    for rule in pack.circles:
        if rule.id in skipped:
            _not_computable(ctx, "circle", rule, skipped[rule.id])
        elif rule.id in pack.circle_filters:
            _filtered_circle(ctx, rule)
        else:
            _circle(ctx, rule, run.coverage.table, run.gaps)
    for rule in pack.presence:
        if rule.scope == "facility":
            _facility_presence(ctx, rule)
        else:
            _unit_presence(ctx, rule)
    for rule in pack.ratios:
        _ratio(ctx, rule)
    if pack.network_rules:
        from .plan_kinds import check_network_rules  # it builds on this module's rows

        check_network_rules(ctx)
    for item in pack.not_modelled:
        _not_modelled(ctx, item)
    _population_indicators(ctx)
    checks = pd.DataFrame(ctx.rows, columns=list(CHECK_COLUMNS))
    checks["value"] = checks["value"].astype(float).round(4)
    checks["shortfall"] = checks["shortfall"].astype(float).round(1)
    checks["access_2sfca"] = checks["access_2sfca"].astype(float).round(4)
    gaps = pd.DataFrame(ctx.gaps, columns=list(GAP_COLUMNS))
    indicators = track(
        pack.plan_file,
        current=ctx.current,
        missing=ctx.missing,
        incomplete=ctx.incomplete,
        tolerance=pack.about_tolerance,
    )
    if indicators.empty:  # a user's own plan, outside the indicator table: no rows, no columns
        indicators = pd.DataFrame(columns=["plan_file", "indicator_zh", "form", "status"])
    indicators = indicators.drop(columns=["plan_file"]).assign(
        current_area=project.area, plan_place=pack.place_zh
    )
    summary = _summary(ctx, checks, indicators)
    tables = {name: pd.DataFrame(rows) for name, rows in ctx.tables.items()}
    return CheckResult(
        project, pack, checks, gaps, indicators, summary, ctx.failing, run, tables=tables
    )


def run_check(
    project: Project | str | Path,
    pack: RulePack | str | Path,
    out_dir: str | Path,
    *,
    overwrite: bool = False,
    unit_level: str | None = None,
    assume: dict[str, str] | None = None,
) -> CheckResult:
    """:func:`compute_checks`, then write its files into the result folder ``out_dir``.

    ``--out`` is checked and locked before any work; an earlier result there is replaced
    only with ``overwrite``, and then exactly: its manifest lists the ``failing_*.geojson``
    layers it wrote, so none is left stale and no other file is touched
    (:mod:`geoplan.results`).
    """
    if not isinstance(project, Project):
        project = load_project(project)
    inputs = [*project.input_paths()]
    if not isinstance(pack, RulePack) and Path(pack).is_file():
        inputs.append(Path(pack))
    with output_folder(out_dir, command="check", overwrite=overwrite, inputs=inputs) as staged:
        result = compute_checks(project, pack, unit_level=unit_level, assume=assume)
        out = staged.path
        _io.write_csv(result.checks, out / "checks.csv")
        _io.write_csv(result.indicators, out / "indicators.csv")
        _io.write_csv(result.gaps, out / "presence_gaps.csv")
        for name, table in result.tables.items():  # referral.csv, catchments.csv
            _io.write_csv(table, out / f"{name}.csv")
        for rule_id, layer in result.failing.items():
            with _io.atomic_path(out / f"{FAILING_PREFIX}{rule_id}.geojson") as tmp:
                layer.to_crs(4326).to_file(tmp, driver="GeoJSON")
        _io.write_json(out / "summary.json", result.summary)
    return result


# ----------------------------------------------------------------------------- context


def _computable_circles(pack: RulePack) -> tuple[list[Rule], dict[str, str]]:
    circles, skipped = [], {}
    for rule in pack.circles:
        unknown = [c for c in rule.categories if not _known_category(c)]
        if unknown:
            skipped[rule.id] = (
                f"facility categories {', '.join(unknown)} are not in geoplan's taxonomy, so no "
                "facility file can supply them"
            )
        else:
            circles.append(rule)
    return circles, skipped


def _known_category(name: str) -> bool:
    try:
        expand_categories([name])
    except ConfigError:
        return False
    return True


def _context(project: Project, pack: RulePack, run: RunResult, unit_level: str | None) -> _Context:
    attributes = facility_attributes(project)
    used = run.facilities.copy()
    keys = ["source_file", "source_row"]
    extra = [c for c in attributes.columns if c not in keys]
    clash = {c: f"input_{c}" for c in extra if c in used.columns}
    attributes = attributes.rename(columns=clash)
    extra = [clash.get(c, c) for c in extra]
    facilities = used.merge(attributes, on=keys, how="left")
    facilities = gpd.GeoDataFrame(facilities, geometry="geometry", crs=used.crs)
    units = _units(run)
    if units is not None:
        names, codes = assign_units(
            facilities.geometry.x.to_numpy(),
            facilities.geometry.y.to_numpy(),
            facilities.crs,
            units,
            outside=OUTSIDE_UNITS,
            tolerance_m=run.area.unit_tolerance_m if run.area is not None else 0.0,
        )
    else:
        names = np.full(len(facilities), ALL_UNITS, dtype=object)
        codes = np.full(len(facilities), "", dtype=object)
    facilities["unit_name"], facilities["unit_code"] = names, codes
    level, level_source = _unit_level(project, unit_level)
    points = run.coverage.table
    demand = gpd.GeoDataFrame(
        points[["demand_id", "population"]].copy(),
        geometry=gpd.points_from_xy(points["x"], points["y"]),
        crs=run.network.crs,
    )
    ctx = _Context(
        project=project,
        pack=pack,
        run=run,
        facilities=facilities,
        attribute_columns=extra,
        units=units,
        unit_level=level,
        unit_level_source=level_source,
        demand=demand,
        groups=_unit_groups(units),
    )
    if "unit_name" in points:
        outside = float(points.loc[points["unit_name"] == OUTSIDE_UNITS, "population"].sum())
    else:
        outside = 0.0
    if outside > 0:
        ctx.notes.append(
            f"{outside:,.0f} residents lie outside every unit; they count in no unit's values."
        )
    return ctx


def _unit_groups(units: gpd.GeoDataFrame | None) -> dict[str, list[str]]:
    """URBAN/RURAL → the names of the units of that type (only with several units, some typed)."""
    if units is None or "unit_type" not in units or len(units) < 2:
        return {}
    kinds = units["unit_type"].to_numpy(dtype=object)
    names = units["unit_name"].astype(str).to_numpy(dtype=object)
    groups = {label: names[kinds == kind].tolist() for label, kind in UNIT_GROUPS.items()}
    return {label: members for label, members in groups.items() if members}


def in_scope(ctx: _Context, unit_names: np.ndarray, scope: str) -> np.ndarray:
    """Which of ``unit_names`` (a unit per point or facility) a row's scope holds: one unit, a
    group of units (URBAN/RURAL), or every unit (ALL_UNITS: all but those outside every
    unit)."""
    unit_names = np.asarray(unit_names, dtype=object)
    if scope == ALL_UNITS:
        return unit_names != OUTSIDE_UNITS
    if scope in ctx.groups:
        return np.isin(unit_names, ctx.groups[scope])
    return unit_names == scope


def is_aggregate(scope: str) -> bool:
    """Whether a row is an aggregate (all units, or urban/rural) rather than one unit."""
    return scope == ALL_UNITS or scope in UNIT_GROUPS


def _units(run: RunResult) -> gpd.GeoDataFrame | None:
    """The run's units (its [units] layer, else the boundary) with their residents."""
    if run.units is None:
        return None
    by_unit = run.by_unit[run.by_unit["unit_name"] != OUTSIDE_UNITS]
    population = by_unit.set_index(["unit_code", "unit_name"])["population"]
    keys = pd.MultiIndex.from_arrays([run.units["unit_code"], run.units["unit_name"]])
    units = run.units.copy()
    units["population"] = population.reindex(keys).fillna(0.0).to_numpy(dtype=np.float64)
    return units


def _unit_level(project: Project, given: str | None) -> tuple[str | None, str]:
    if given is not None:
        return given, "given (--unit-level)"
    if project.units:
        level = project.units.get("level")
        return (level, "[units] level") if level in LEVELS else (None, "[units] has no level")
    level = (project.boundary or {}).get("level")
    if level in LEVELS:
        return level, "[boundary] level"
    what = "study-area boundary" if project.boundary else "whole area (no boundary or units)"
    return None, f"the only unit is the {what} ({project.area}), level not declared"


# ----------------------------------------------------------------------------- rows


def add_gap(ctx: _Context, rule, row: pd.Series, value: str, reason: str) -> None:
    """One facility that fails ``rule`` into presence_gaps.csv (``row``: the facility's row
    of the facility table; ``value``: what the file says; ``reason``: why it fails)."""
    ctx.gaps.append(
        {
            "rule_id": rule.id,
            "unit_name": row["unit_name"],
            "unit_code": row["unit_code"],
            "facility_id": row["facility_id"],
            "name": row["name"],
            "category": row["category"],
            "value": value,
            "reason": reason,
        }
    )


def _row(
    ctx: _Context,
    rule_type: str,
    rule,
    *,
    unit: tuple[str, str],
    value: float = math.nan,
    value_unit: str = "",
    comparator: str = "",
    target: float = math.nan,
    status: str,
    shortfall: float = math.nan,
    shortfall_unit: str = "",
    mode: str = "",
    threshold_min: float = math.nan,
    note: str = "",
    access_2sfca: float = math.nan,
) -> None:
    """Append one row of ``checks.csv`` for ``rule`` (any pack rule: id, name_zh, name_en)."""
    source = ctx.pack.sources[rule.id]
    readings = [
        f"reading {a.id} = {a.chosen} ({a.option.name_en})"
        for a in ctx.pack.assumptions_of(rule.id)
    ]
    notes = [n for n in (note, source.note, *readings) if n]
    ctx.rows.append(
        {
            "rule_id": rule.id,
            "rule_type": rule_type,
            "name_zh": rule.name_zh,
            "name_en": rule.name_en,
            "kind": source.kind,
            "kind_en": KINDS[source.kind],
            "unit_name": unit[0],
            "unit_code": unit[1],
            "value": value,
            "value_unit": value_unit,
            "comparator": comparator,
            "target": target,
            "status": status,
            "shortfall": shortfall,
            "shortfall_unit": shortfall_unit,
            "mode": mode,
            "threshold_min": threshold_min,
            "source": " ".join(
                [source.label, *(f"(+{c.file}:{c.line})" for c in source.citations[1:])]
            ),
            "quote": source.citations[0].quote,
            "note": " | ".join(notes),
            "access_2sfca": access_2sfca,
        }
    )


def _units_for_rows(ctx: _Context) -> list[tuple[str, str]]:
    """The rows of a rule: each unit, then (with several units) all of them, then urban and
    rural when the units have types."""
    units = ctx.unit_names
    if len(units) <= 1:
        return units or [(ALL_UNITS, "")]
    return [*units, (ALL_UNITS, ""), *((label, "") for label in ctx.groups)]


def _not_computable(ctx: _Context, rule_type: str, rule, reason: str) -> None:
    circle = isinstance(rule, Rule)
    _row(
        ctx,
        rule_type,
        rule,
        unit=(ALL_UNITS, ""),
        status=NOT_COMPUTABLE,
        mode=rule.mode if circle else "",
        threshold_min=rule.threshold_min if circle else math.nan,
        note=reason,
    )
    indicator = ctx.pack.sources[rule.id].indicator
    if indicator:
        ctx.missing[indicator] = reason


def _not_modelled(ctx: _Context, item) -> None:
    _row(
        ctx,
        "not_modelled",
        item,
        unit=(ALL_UNITS, ""),
        status="not modelled",
        note=item.reason,
    )
    indicator = ctx.pack.sources[item.id].indicator
    if indicator:
        ctx.missing[indicator] = f"not modelled: {item.reason}"


# ----------------------------------------------------------------------------- circles


def _circle(ctx: _Context, rule: Rule, points: pd.DataFrame, gaps: gpd.GeoDataFrame) -> None:
    covered = points[column(rule.id, "covered")].to_numpy()
    population = points["population"].to_numpy(dtype=np.float64)
    unit_of = points["unit_name"].to_numpy() if "unit_name" in points else None
    target = rule.target_share
    failing_units = []
    absent = ""
    if not ctx.facilities["category"].isin(expand_categories(rule.categories)).any():
        absent = (
            f"; no facility of these categories ({', '.join(rule.categories)}) is in the "
            "facility file: add them, or the share is 0"
        )
    for unit in _units_for_rows(ctx):
        if unit_of is None:
            mask = np.ones(len(points), bool)
        else:
            mask = in_scope(ctx, unit_of, unit[0])
        pop = float(population[mask].sum())
        cov = float(population[mask & covered].sum())
        share = cov / pop if pop > 0 else math.nan
        if math.isnan(share):
            status, shortfall = "no data", math.nan
        elif target is None:
            status, shortfall = "reported", math.nan
        else:
            ok = share >= target - 1e-12
            status = "met" if ok else "not met"
            shortfall = max(0.0, target * pop - cov)
            if not ok and not is_aggregate(unit[0]):
                failing_units.append(unit[0])
        _row(
            ctx,
            "circle",
            rule,
            unit=unit,
            value=share * 100,
            value_unit="% of residents",
            comparator=">=" if target is not None else "",
            target=math.nan if target is None else target * 100,
            status=status,
            shortfall=shortfall,
            shortfall_unit="residents" if target is not None else "",
            mode=rule.mode,
            threshold_min=rule.threshold_min,
            note=f"{pop - cov:,.0f} of {pop:,.0f} residents beyond {rule.threshold_min:g} min"
            + absent,
        )
        indicator = ctx.pack.sources[rule.id].indicator
        whole_area = unit[0] == ALL_UNITS or len(ctx.unit_names) == 1
        if indicator and whole_area and not math.isnan(share):
            ctx.current[indicator] = share * 100
    if failing_units:
        layer = gaps[gaps["rule_id"] == rule.id]
        if "unit_name" in layer:
            layer = layer[layer["unit_name"].isin(failing_units)]
        ctx.failing[rule.id] = gpd.GeoDataFrame(layer, geometry="geometry", crs=gaps.crs)


def _filtered_circle(ctx: _Context, rule: Rule) -> None:
    flt = ctx.pack.circle_filters[rule.id]
    headers = find_columns(ctx.attribute_columns, flt.columns)
    if not headers:
        reason = (
            f"the facility file has no column telling which facilities offer the service "
            f"(accepted headers: {', '.join(flt.columns)})"
        )
        _not_computable(ctx, "circle", rule, reason)
        return
    fac = ctx.facilities
    keys = expand_categories(rule.categories)
    needs = expand_categories(flt.categories) if flt.categories else keys
    flags = service_flags(fac, headers)
    chosen = fac["category"].isin(keys) & (~fac["category"].isin(needs) | (flags == True))  # noqa: E712
    coverage = compute_coverage(
        ctx.run.network,
        fac[chosen.to_numpy()],
        ctx.demand,
        [rule],
        **ctx.project.network_options,
        unit_types=ctx.run.coverage.unit_types,
    )
    points = coverage.table
    base = ctx.run.coverage.table
    if "unit_name" in base:
        points["unit_name"], points["unit_code"] = base["unit_name"], base["unit_code"]
    gaps = find_gaps(
        points,
        rule_id=rule.id,
        covered=points[column(rule.id, "covered")].to_numpy(),
        travel_time_s=points[column(rule.id, "time_s")].to_numpy(),
        facility_id=points[column(rule.id, "facility_id")].to_numpy(),
        crs=ctx.run.network.crs,
        cell_m=ctx.project.gap_cell_m,
        merge_contiguous=ctx.project.gap_merge_contiguous,
    )
    gaps = gpd.GeoDataFrame(gaps, geometry="geometry", crs=ctx.run.network.crs)
    _circle(ctx, rule, points, gaps)
    unknown = int(((flags.isna()) & fac["category"].isin(needs)).sum())
    if unknown:  # said on the all-units row (else the rule's only row)
        rows = [r for r in ctx.rows if r["rule_id"] == rule.id]
        row = next((r for r in rows if r["unit_name"] == ALL_UNITS), rows[-1])
        row["note"] += (
            f" | {unknown} facilities have no value in {' / '.join(headers)}: not counted"
        )


# ----------------------------------------------------------------------------- presence


def _service_headers(ctx: _Context, rule: PresenceRule) -> list[list[str]] | None:
    """Per service the rule asks for, the facility file's headers for it ([] for none asked).

    None, recorded as not computable, when the file has no column for one of the services.
    """
    found = [find_columns(ctx.attribute_columns, service) for service in rule.services]
    missing = [s for s, headers in zip(rule.services, found, strict=True) if not headers]
    if not missing:
        return found
    reason = "; ".join(
        f"the facility file has no column for this service (accepted headers: {', '.join(s)})"
        for s in missing
    )
    _not_computable(ctx, "presence", rule, reason)
    return None


def _offers(frame: pd.DataFrame, services: Sequence[Sequence[str]]) -> pd.Series:
    """Per facility: True when it offers every service, False when it lacks one, None when no
    service is missing but one is blank or unrecognised (unknown, never taken as no)."""
    result = pd.Series([True] * len(frame), index=frame.index, dtype=object)
    unknown = pd.Series(False, index=frame.index)
    for headers in services:
        flags = service_flags(frame, headers)
        result[flags == False] = False  # noqa: E712
        unknown |= flags.isna()
    result[unknown & (result == True)] = None  # noqa: E712
    return result


def _where(ctx: _Context, rule, rule_type: str) -> tuple[np.ndarray, np.ndarray] | None:
    """``(matches, unknown)`` over ``ctx.facilities`` for a rule's ``where`` filter (all True,
    none unknown without one). A blank cell is unknown: the rule may or may not apply there.

    None, recorded as not computable, when the facility file has none of the filter's columns.
    """
    n = len(ctx.facilities)
    if rule.where is None:
        return np.ones(n, bool), np.zeros(n, bool)
    headers = find_columns(ctx.attribute_columns, rule.where.columns)
    if not headers:
        reason = (
            f"the facility file has no column telling which facilities are {rule.where.label} "
            f"(accepted headers: {', '.join(rule.where.columns)})"
        )
        for assumption in ctx.pack.assumptions_of(rule.id):
            others = [k for k in assumption.options if k != assumption.chosen]
            reason += f"; another reading: --assume {assumption.id}={'|'.join(others)}"
        _not_computable(ctx, rule_type, rule, reason)
        return None
    match = pd.Series([None] * n, index=ctx.facilities.index, dtype=object)
    for header in headers:
        cells = ctx.facilities[header].map(rule.where.matches)
        match[cells == True] = True  # noqa: E712
        match[(cells == False) & match.isna()] = False  # noqa: E712
    return (match == True).to_numpy(bool), match.isna().to_numpy(bool)  # noqa: E712


def _scope_note(rule, unknown: int) -> str:
    if rule.where is None:
        return ""
    text = f"; only {rule.where.label}"
    if unknown:
        text += (
            f"; {unknown} facilities of the categories have no value in "
            f"{' / '.join(rule.where.columns)}: not known whether the rule applies to them"
        )
    return text


def _facility_presence(ctx: _Context, rule: PresenceRule) -> None:
    services = _service_headers(ctx, rule)
    if services is None:
        return
    scoped = _where(ctx, rule, "presence")
    if scoped is None:
        return
    matches, unknown_scope = scoped
    in_categories = ctx.facilities["category"].isin(expand_categories(rule.categories))
    in_categories = in_categories.to_numpy(bool)
    fac = ctx.facilities[in_categories & matches]
    undecided = ctx.facilities[in_categories & unknown_scope]
    flags = _offers(fac, services)
    headers = [h for service in services for h in service]
    label = " + ".join(" / ".join(service) for service in services)
    indicator = ctx.pack.sources[rule.id].indicator
    failing = []
    for unit in _units_for_rows(ctx):
        whole = unit[0] == ALL_UNITS
        here = fac if whole else fac[in_scope(ctx, fac["unit_name"], unit[0])]
        here_flags = flags.loc[here.index]
        n = len(here)
        n_undecided = (
            len(undecided) if whole else int(in_scope(ctx, undecided["unit_name"], unit[0]).sum())
        )
        yes = int((here_flags == True).sum())  # noqa: E712
        no = int((here_flags == False).sum())  # noqa: E712
        blank = n - yes - no
        if n == 0 and not n_undecided:
            status = "not applicable"
        elif rule.reported:
            status = "reported"
        elif no:
            status = "not met"  # whatever the blank cells say
        elif blank or n_undecided:
            status = INCOMPLETE
        else:
            status = "met"
        value = 100.0 * yes / (yes + no) if yes + no else math.nan
        note = (
            f"{n} facilities of the categories; {yes} yes, {no} no, {blank} blank (column {label})"
        )
        if blank:
            note += (
                f"; blank cells are unknown, not no: the value is over the {yes + no} "
                "facilities with one"
            )
        note += _scope_note(rule, n_undecided)
        _row(
            ctx,
            "presence",
            rule,
            unit=unit,
            value=value,
            value_unit="% of facilities",
            comparator="" if rule.reported else ">=",
            target=math.nan if rule.reported else 100.0,
            status=status,
            shortfall=float(n - yes) if n and not rule.reported else math.nan,
            shortfall_unit="" if rule.reported else "facilities",
            note=note,
        )
        if indicator and (whole or (len(ctx.unit_names) <= 1 and not is_aggregate(unit[0]))):
            if yes + no:
                ctx.current[indicator] = value
            if status == INCOMPLETE:
                ctx.incomplete[indicator] = note
    if rule.reported:
        return
    for idx, row in fac.iterrows():
        if flags.loc[idx] is True:
            continue
        reason = "no" if flags.loc[idx] is False else "blank or unrecognised value"
        failing.append(idx)
        value = " / ".join("" if pd.isna(row[h]) else str(row[h]) for h in headers)
        add_gap(ctx, rule, row, value, f"{label}: {reason}")
    if failing:
        layer = fac.loc[failing, ["facility_id", "name", "category", "unit_name", "geometry"]]
        values = fac.loc[failing, headers].astype(str).agg(" / ".join, axis=1)
        layer = layer.assign(rule_id=rule.id, value=values)
        ctx.failing[rule.id] = gpd.GeoDataFrame(layer, geometry="geometry", crs=fac.crs)


def _unit_presence(ctx: _Context, rule: PresenceRule) -> None:
    level_zh, level_en = LEVELS[rule.level]
    area_level = (ctx.project.boundary or {}).get("level")
    whole_area = ctx.units is not None and ctx.unit_level != rule.level
    whole_area = whole_area and area_level == rule.level
    if ctx.units is None or (ctx.unit_level != rule.level and not whole_area):
        if ctx.units is None:
            have = "the project has no units or boundary"
        elif ctx.unit_level is None:
            have = f"the project's units have no declared level ({ctx.unit_level_source})"
        else:
            have = f"the project's units are {LEVELS[ctx.unit_level][1]} units"
        reason = (
            f"needs {level_en} ({level_zh}) polygons as units: {have}; add a [units] layer of "
            f'{level_en} polygons with level = "{rule.level}" (or, for a count over the '
            f'project\'s whole area, declare [boundary] level = "{rule.level}")'
        )
        _not_computable(ctx, "presence", rule, reason)
        return
    services = _service_headers(ctx, rule)
    if services is None:
        return
    scoped = _where(ctx, rule, "presence")
    if scoped is None:
        return
    matches, unknown_scope = scoped
    in_categories = ctx.facilities["category"].isin(expand_categories(rule.categories))
    keep = in_categories.to_numpy(bool) & (matches | unknown_scope)
    fac = ctx.facilities[keep]
    offers = _offers(fac, services) if services else pd.Series(True, index=fac.index, dtype=object)
    yes = (offers == True).to_numpy(bool) & matches[keep]  # noqa: E712
    maybe = ~(offers == False).to_numpy(bool) & ~yes  # noqa: E712
    within_share = None
    if rule.within_min is not None and not whole_area:
        within_share = _within_shares(ctx, rule, fac[yes])
    unit_of = fac["unit_name"].to_numpy()
    if whole_area:
        units = [(ALL_UNITS, "", unit_of != OUTSIDE_UNITS)]
    else:
        units = [(name, code, unit_of == name) for name, code in ctx.unit_names]
    failing, counts, statuses = [], [], []
    for name, code, here in units:
        count = int((yes & here).sum())
        n_maybe = int((maybe & here).sum())
        counts.append(count)
        note = f"{count} facilities in the unit"
        if whole_area:
            note = (
                f"{count} facilities in the project's area, counted as one {level_en} "
                f"([boundary] level = {rule.level})"
            )
        if services:
            note += f" with {' + '.join(' / '.join(s) for s in services)}"
        ok = count >= rule.min_count
        if not ok and within_share is not None:
            share = within_share.get(name, math.nan)
            note += f"; {share:.0%} of residents within {rule.within_min:g} min of one"
            ok = bool(share >= 1.0 - 1e-12)
        if n_maybe:
            what = "service" + (f" or {rule.where.label}" if rule.where else "")
            note += f"; {n_maybe} more have a blank {what} value: unknown, not no"
        if rule.reported:
            status = "reported"
        elif ok:
            status = "met"
        elif count + n_maybe >= rule.min_count:
            status = INCOMPLETE
        else:
            status = "not met"
        statuses.append(status)
        if status in ("not met", INCOMPLETE) and not whole_area:
            failing.append(name)
            ctx.gaps.append(
                {
                    "rule_id": rule.id,
                    "unit_name": name,
                    "unit_code": code,
                    "facility_id": "",
                    "name": "",
                    "category": ",".join(rule.categories),
                    "value": str(count),
                    "reason": f"fewer than {rule.min_count} facilities in the unit",
                }
            )
        _row(
            ctx,
            "presence",
            rule,
            unit=(name, code),
            value=float(count),
            value_unit="facilities in the area" if whole_area else "facilities in the unit",
            comparator="" if rule.reported else ">=",
            target=math.nan if rule.reported else float(rule.min_count),
            status=status,
            shortfall=math.nan if rule.reported else float(max(0, rule.min_count - count)),
            shortfall_unit="" if rule.reported else "facilities",
            mode=rule.mode if rule.within_min else "",
            threshold_min=rule.within_min or math.nan,
            note=note,
        )
        indicator = ctx.pack.sources[rule.id].indicator
        if indicator and status == INCOMPLETE:
            ctx.incomplete[indicator] = note
    status_of = {u[0]: status for u, status in zip(units, statuses, strict=True)}
    scopes = [(ALL_UNITS, list(status_of)), *ctx.groups.items()]
    for scope, members in scopes if len(units) > 1 else ():
        n_fail = len(set(failing) & set(members))
        member_statuses = [status_of[m] for m in members if m in status_of]
        _row(
            ctx,
            "presence",
            rule,
            unit=(scope, ""),
            value=float(len(members) - n_fail),
            value_unit="units meeting the rule",
            comparator=">=",
            target=float(len(members)),
            status="not met" if "not met" in member_statuses else (INCOMPLETE if n_fail else "met"),
            shortfall=float(n_fail),
            shortfall_unit="units",
        )
    indicator = ctx.pack.sources[rule.id].indicator
    if indicator and counts:
        ctx.current[indicator] = float(min(counts))
    if failing:
        layer = ctx.units[ctx.units["unit_name"].isin(failing)]
        ctx.failing[rule.id] = gpd.GeoDataFrame(
            layer.assign(rule_id=rule.id), geometry="geometry", crs=ctx.units.crs
        )
    elif whole_area and ctx.rows[-1]["status"] == "not met":
        ctx.failing[rule.id] = _area_layer(ctx).assign(rule_id=rule.id)


def _area_status(ctx: _Context, rule_id: str) -> str:
    """The status of a rule's all-units row (the urban and rural rows come after it)."""
    return next(
        r["status"]
        for r in reversed(ctx.rows)
        if r["rule_id"] == rule_id and r["unit_name"] == ALL_UNITS
    )


def _area_layer(ctx: _Context) -> gpd.GeoDataFrame:
    """The project's whole area (the union of its units) as one polygon."""
    return gpd.GeoDataFrame(
        {"unit_name": [ALL_UNITS], "unit_code": [""]},
        geometry=[ctx.units.geometry.union_all()],
        crs=ctx.units.crs,
    )


def _within_shares(ctx: _Context, rule: PresenceRule, fac: gpd.GeoDataFrame) -> dict[str, float]:
    probe = Rule(
        f"{rule.id}_within",
        rule.name_zh,
        rule.name_en,
        rule.categories,
        rule.mode,
        float(rule.within_min),
    )
    coverage = compute_coverage(
        ctx.run.network,
        fac,
        ctx.demand,
        [probe],
        **ctx.project.network_options,
        unit_types=ctx.run.coverage.unit_types,
    )
    points = coverage.table
    units = ctx.run.coverage.table.get("unit_name")
    if units is None:
        return {}
    frame = pd.DataFrame(
        {
            "unit": units.to_numpy(),
            "population": points["population"].to_numpy(),
            "covered": np.where(
                points[column(probe.id, "covered")].to_numpy(), points["population"], 0.0
            ),
        }
    )
    sums = frame.groupby("unit")[["population", "covered"]].sum()
    share = sums["covered"] / sums["population"].where(sums["population"] > 0)
    return share.to_dict()


# ----------------------------------------------------------------------------- ratios


def _quantity(ctx: _Context, key: str, aliases: Sequence[str]) -> np.ndarray | None:
    """Values of one capacity quantity per facility (None when the file has no such column).

    ``beds``, ``doctors`` and ``nurses`` were checked when read; another column's values that
    are negative, infinite or above :func:`_plausible_max` are read as missing (NaN) and noted.
    """
    if key in ("beds", "doctors", "nurses") and not aliases:
        values = ctx.facilities[key].to_numpy(dtype=np.float64)
        return None if np.isnan(values).all() else values
    header = find_column(
        ctx.attribute_columns, aliases or CAPACITY_COLUMNS.get(key, ()), exact=True
    )
    if header is None:
        return None
    values = _number(ctx.facilities[header])
    limit = _plausible_max(key)
    bad = ~np.isnan(values) & ~((values >= 0) & (values <= limit))
    if bad.any():
        rows = ctx.facilities["source_row"].to_numpy()[bad]
        cells = ctx.facilities[header].to_numpy()[bad]
        shown = ", ".join(f"row {r} ({c})" for r, c in zip(rows[:10], cells[:10], strict=True))
        note = (
            f"{int(bad.sum())} implausible {header!r} values (negative, infinite or above "
            f"{limit:,.0f} per facility) read as missing: {shown}"
        )
        ctx.value_notes[key] = note
        logger.warning("%s", note)
        values = np.where(bad, np.nan, values)
    return values


def _plausible_max(key: str) -> float:
    """The largest plausible value of a capacity quantity per facility: 10,000 for counts
    (beds, staff, places; :data:`geoplan.readers.facilities.CAPACITY_MAX`), 10 km² for areas
    (m²)."""
    return 10_000_000.0 if key.endswith("_m2") else 10_000.0


def _ratio(ctx: _Context, rule: RatioTarget) -> None:
    quantities = [(rule.numerator, rule.columns)]
    if rule.denominator != "population":
        quantities.append((rule.denominator, ()))
    found = []
    for key, aliases in quantities:
        values = _quantity(ctx, key, aliases)
        if values is None:
            accepted = aliases or CAPACITY_COLUMNS.get(key, ()) or (key,)
            reason = (
                f"the facility file has no {key} column (accepted headers: {', '.join(accepted)})"
            )
            _not_computable(ctx, "ratio", rule, reason)
            return
        found.append(values)
    num, den = found[0], (found[1] if len(found) > 1 else None)
    if ctx.units is None:
        _not_computable(ctx, "ratio", rule, "the project has no units or boundary")
        return
    fac = ctx.facilities
    categories = rule.categories or _default_categories(rule)
    in_categories = fac["category"].isin(expand_categories(categories)).to_numpy(bool)
    scoped = _where(ctx, rule, "ratio")
    if scoped is None:
        return
    mask = in_categories & scoped[0]
    scope_note = _scope_note(rule, int((in_categories & scoped[1]).sum()))
    level = rule.level or ctx.pack.level
    judge_units = level is None or len(ctx.units) == 1 or ctx.unit_level == level
    table = gpd.GeoDataFrame(
        {
            "facility_id": fac["facility_id"].to_numpy()[mask],
            "num": num[mask],
            **({"den": den[mask]} if den is not None else {}),
        },
        geometry=fac.geometry.to_numpy()[mask],
        crs=fac.crs,
    )
    units = ctx.units
    scopes = [(units, False)] + [(frame, True) for frame in _aggregate_units(ctx)]
    access = _access(ctx, rule, mask, num[mask]) if den is None else {}
    failing = []
    tolerance = ctx.pack.about_tolerance
    for frame, is_area in scopes:
        values = _ratio_values(table, frame, rule)
        for i in range(len(frame)):
            unit = (str(frame["unit_name"].iloc[i]), str(frame["unit_code"].iloc[i]))
            value, total, base, missing = values[i]
            if math.isnan(value):
                status, shortfall = "no data", math.nan
            elif not (is_area or judge_units):
                status, shortfall = "reported", math.nan
            else:
                ok = compare(value, rule.comparator, rule.target, tolerance=tolerance)
                status = "met" if ok else "not met"
                needed = rule.target * base / rule.per
                shortfall = (
                    max(0.0, needed - total)
                    if rule.comparator in (">=", ">")
                    else (
                        max(0.0, total - needed)
                        if rule.comparator in ("<=", "<")
                        else abs(total - needed)
                    )
                )
                if not ok and not is_area:
                    failing.append(unit[0])
            note = f"{rule.numerator} {total:,.1f} / {rule.denominator} {base:,.1f}"
            if missing:
                note += (
                    f"; {missing} facilities have no {rule.numerator} value: the sum is a "
                    "lower bound"
                )
            note += f"; facilities: {', '.join(categories)}{scope_note}"
            if not (is_area or judge_units):
                note += (
                    f"; the plan sets the target for the whole {LEVELS[level][1]} "
                    f"({LEVELS[level][0]}): a unit's value is shown, not judged"
                )
            for key in (rule.numerator, rule.denominator):
                if key in ctx.value_notes:
                    note += f"; {ctx.value_notes[key]}"
            _row(
                ctx,
                "ratio",
                rule,
                unit=unit,
                value=value,
                value_unit=rule.unit_label,
                comparator=rule.comparator,
                target=rule.target,
                status=status,
                shortfall=shortfall,
                shortfall_unit=rule.numerator,
                note=note,
                access_2sfca=access.get(unit[0], math.nan),
            )
            indicator = ctx.pack.sources[rule.id].indicator
            whole = unit[0] == ALL_UNITS or (len(units) == 1 and not is_area)
            if indicator and whole and not math.isnan(value):
                ctx.current[indicator] = value
    if failing:
        layer = units[units["unit_name"].isin(failing)]
        ctx.failing[rule.id] = gpd.GeoDataFrame(
            layer.assign(rule_id=rule.id, target=rule.target), geometry="geometry", crs=units.crs
        )
    elif not judge_units and _area_status(ctx, rule.id) == "not met":
        ctx.failing[rule.id] = _area_layer(ctx).assign(rule_id=rule.id, target=rule.target)


def _aggregate_units(ctx: _Context) -> list[gpd.GeoDataFrame]:
    """With several units: all of them as one (ALL_UNITS), then each group of one type
    (URBAN, RURAL), each a one-row layer of ``unit_name``, ``unit_code``, ``population``."""
    units = ctx.units
    if units is None or len(units) < 2:
        return []
    scopes = [(ALL_UNITS, np.ones(len(units), dtype=bool))]
    names = units["unit_name"].astype(str).to_numpy()
    scopes += [(label, np.isin(names, members)) for label, members in ctx.groups.items()]
    return [
        gpd.GeoDataFrame(
            {
                "unit_name": [label],
                "unit_code": [""],
                "population": [float(units.loc[mask, "population"].sum())],
            },
            geometry=[units.geometry[mask].union_all()],
            crs=units.crs,
        )
        for label, mask in scopes
    ]


def _access_catchment(pack: RulePack) -> tuple[str, float]:
    """Mode and minutes of the 2SFCA supplement's catchment."""
    if pack.access_cutoff_min is not None:
        return pack.access_mode, pack.access_cutoff_min
    circles, _ = _computable_circles(pack)
    if circles:
        return circles[0].mode, circles[0].threshold_min
    return "walk", 15.0


def _access(
    ctx: _Context, rule: RatioTarget, mask: np.ndarray, supply: np.ndarray
) -> dict[str, float]:
    """Population-weighted mean 2SFCA access per unit, × ``rule.per`` (a geoplan supplement).

    ``supply`` is the numerator of the facilities ``ctx.facilities[mask]`` (NaN: left out);
    the catchment is :func:`_access_catchment`. Keyed by unit name; the all-units entry too.
    """
    points = ctx.run.coverage.table
    if "unit_name" not in points or len(points) == 0:
        return {}
    mode, minutes = _access_catchment(ctx.pack)
    cutoff_s = minutes * 60.0
    demand = pd.Series(points["population"].to_numpy(), index=points["demand_id"].to_numpy())
    access = _access_per_point(ctx, mode, cutoff_s, mask, supply, demand)
    unit_of = pd.Series(points["unit_name"].to_numpy(), index=demand.index)
    inside = unit_of != OUTSIDE_UNITS
    table_by_unit = access_by_unit(access[inside], demand[inside], unit_of[inside])
    out = {str(k): float(v) * rule.per for k, v in table_by_unit["access_mean"].items()}
    for scope in (ALL_UNITS, *ctx.groups):
        members = in_scope(ctx, unit_of.to_numpy(), scope)
        weights = demand[members]
        if weights.sum() > 0:
            out[scope] = float((access[members] * weights).sum() / weights.sum()) * rule.per
    ctx.access_note = (
        f"access_2sfca: 2SFCA supply per {rule.per:,.0f} residents within {minutes:g} min "
        f"({mode}), population-weighted mean per unit — a geoplan supplement, not a plan target"
    )
    return out


def _access_per_point(
    ctx: _Context,
    mode: str,
    cutoff_s: float,
    mask: np.ndarray,
    supply: np.ndarray,
    demand: pd.Series,
) -> pd.Series:
    """2SFCA access of the demand points of ``demand`` (residents by demand id, any subset of
    the run's) to the facilities ``ctx.facilities[mask]`` with ``supply`` (one value per masked
    facility; NaN: left out), within ``cutoff_s`` by ``mode``."""
    rows = np.flatnonzero(np.isfinite(supply))
    if not len(rows):
        return pd.Series(0.0, index=demand.index)
    matrix = _access_matrix(ctx, mode, cutoff_s, mask)
    local = np.full(len(supply), -1, dtype=np.int64)
    local[rows] = np.arange(len(rows))
    facility = local[matrix["facility"].to_numpy()]
    kept = facility >= 0
    matrix = matrix[kept].assign(facility=facility[kept])
    ids = [f"f{i}" for i in range(len(rows))]
    times = travel_times_by_id(matrix, ctx.run.coverage.table["demand_id"].to_numpy(), ids)
    times = times[times["demand_id"].isin(demand.index)]
    return two_step_fca(times, pd.Series(supply[rows], index=ids), demand, cutoff_s=cutoff_s)


def _access_matrix(ctx: _Context, mode: str, cutoff_s: float, mask: np.ndarray) -> pd.DataFrame:
    """Travel times within the catchment from the run's demand points to ``ctx.facilities[mask]``.

    Positions into ``coverage.table`` and the masked facilities. Computed once per set of
    facilities (ratios over the same categories share it; a facility's pairs do not depend on
    the others, so each ratio keeps the rows of its facilities with a value).
    """
    key = (mode, cutoff_s, mask.tobytes())
    if key not in ctx.access_matrices:
        network = ctx.run.network
        points = ctx.run.coverage.table
        xy = ctx.facilities.geometry[mask].to_crs(network.crs)
        with applied(ctx.project.limits):
            ctx.access_matrices[key] = travel_time_pairs(
                network,
                (xy.x.to_numpy(), xy.y.to_numpy()),
                (points["x"].to_numpy(), points["y"].to_numpy()),
                mode=mode,
                cutoff_s=cutoff_s,
                **ctx.project.network_options,
            )
    return ctx.access_matrices[key]


def _default_categories(rule: RatioTarget) -> tuple[str, ...]:
    """Fitness venues for sports-ground area, health facilities for every other quantity."""
    if "sports_area_m2" in (rule.numerator, rule.denominator):
        return ("fitness",)
    return ("medical", "ems", "public_health")


def _ratio_values(
    table: gpd.GeoDataFrame, units: gpd.GeoDataFrame, rule: RatioTarget
) -> list[tuple[float, float, float, int]]:
    """Per unit: (value, numerator total, denominator total, facilities missing a value).

    Facilities count in the first unit holding them (:func:`capacity_ratios`). With a facility
    denominator only facilities that report both numbers count, as for 医护比 and 床护比.
    """
    columns = ["num"]
    if "den" in table:
        both = table["num"].notna() & table["den"].notna()
        table = table.assign(num=table["num"].where(both), den=table["den"].where(both))
        columns.append("den")
    with warnings.catch_warnings():
        # facilities outside every unit: counted in none
        warnings.simplefilter("ignore", DataQualityWarning)
        ratios = capacity_ratios(table, units, columns=columns, per=rule.per)
    total = ratios["num"].to_numpy(dtype=np.float64)
    base = ratios["den" if "den" in table else "population"].to_numpy(dtype=np.float64)
    value = per_thousand(total, base, per=rule.per)  # NaN without a denominator
    missing = ratios["num_missing"].to_numpy(dtype=np.int64)
    return list(zip(value.tolist(), total.tolist(), base.tolist(), missing.tolist(), strict=True))


# ----------------------------------------------------------------------------- indicators


def _population_indicators(ctx: _Context) -> None:
    """Resident population (万人) for the plans' population rows."""
    if ctx.units is None:
        return
    total = float(ctx.units["population"].sum())
    for name in ("常住人口", "总人口"):
        ctx.current.setdefault(name, total / 10_000)


# ----------------------------------------------------------------------------- summary


def _summary(ctx: _Context, checks: pd.DataFrame, indicators: pd.DataFrame) -> dict:
    pack, project = ctx.pack, ctx.project
    rule_list = []
    for rule_id in pack.rule_ids:
        rows = checks[checks["rule_id"] == rule_id]
        statuses = rows["status"].tolist()
        source = pack.sources[rule_id]
        section = pack.section_of(rule_id)
        entry = {
            "rule_id": rule_id,
            "rule_type": rows["rule_type"].iloc[0] if len(rows) else "",
            "name_zh": rows["name_zh"].iloc[0] if len(rows) else rule_id,
            "name_en": rows["name_en"].iloc[0] if len(rows) else rule_id,
            "kind": source.kind,
            "status": _overall(statuses),
            "units_met": statuses.count("met"),
            "units_not_met": statuses.count("not met"),
            "source": source.label,
            "quote": source.citations[0].quote,
            "mode_note": source.mode_note,
            "indicator": source.indicator,
            "citations": [
                {"file": c.file, "line": c.line, "quote": c.quote} for c in source.citations
            ],
            "section": None if section is None else section.as_dict(),
            "assumptions": [a.id for a in pack.assumptions_of(rule_id)],
        }
        if entry["status"] in (NOT_COMPUTABLE, "not modelled"):
            entry["reason"] = rows["note"].iloc[0] if len(rows) else ""
        if rule_id in ctx.figures:
            entry["figures"] = _json_figures(ctx.figures[rule_id])
        all_row = rows[rows["unit_name"] == ALL_UNITS] if len(rows) > 1 else rows
        if len(all_row) == 1 and entry["status"] not in (NOT_COMPUTABLE, "not modelled"):
            value = all_row["value"].iloc[0]
            target = all_row["target"].iloc[0]
            entry["value"] = None if pd.isna(value) else float(value)
            entry["target"] = None if pd.isna(target) else float(target)
            entry["value_unit"] = all_row["value_unit"].iloc[0]
        rule_list.append(entry)
    population = float(ctx.units["population"].sum()) if ctx.units is not None else None
    return {
        "pack": {
            "id": pack.id,
            "name_zh": pack.name_zh,
            "name_en": pack.name_en,
            "place_zh": pack.place_zh,
            "place_en": pack.place_en,
            "plan_file": pack.plan_file,
            "period": pack.period,
            "status": pack.status,
            "path": str(pack.path) if pack.path else None,
            "about_tolerance": pack.about_tolerance,
            "notes": list(pack.notes),
            "level": pack.level,
            "assumptions": [a.as_dict() for a in pack.assumptions],
            "sections": [s.as_dict() for s in pack.sections],
        },
        "project": {
            "path": str(project.path),
            "area": project.area,
            "area_en": project.area_en,
            "facilities_hypothetical": project.hypothetical_facilities,
            "units": len(ctx.unit_names),
            "unit_level": ctx.unit_level,
            "unit_level_source": ctx.unit_level_source,
            "population_in_units": population,
            "facilities_used": len(ctx.facilities),
            "facility_attribute_columns": ctx.attribute_columns,
        },
        "area_differs_from_plan": bool(pack.place_zh) and pack.place_zh not in project.area,
        "checks": rule_list,
        "counts": checks.groupby("status").size().astype(int).to_dict(),
        "not_computable": [
            {"rule_id": r["rule_id"], "reason": r.get("reason", "")}
            for r in rule_list
            if r["status"] == NOT_COMPUTABLE
        ],
        "failing_layers": sorted(f"{FAILING_PREFIX}{k}.geojson" for k in ctx.failing),
        "indicators": {
            "rows": len(indicators),
            "status": indicators["status"].value_counts().astype(int).to_dict(),
            "forms": indicators["form"].value_counts().astype(int).to_dict(),
        },
        "notes": [*ctx.notes, *([ctx.access_note] if ctx.access_note else [])],
        "warnings": ctx.run.summary.get("warnings", []),
        "credits": ctx.run.credits,
        "statuses": {
            "met": "the value meets the target",
            "not met": "the value misses the target (shortfall says by how much)",
            "reported": "computed; the plan sets no number to judge it by",
            "no data": "computable, but the inputs hold no value (e.g. no residents)",
            "not applicable": "the unit holds no facility the rule is about",
            INCOMPLETE: "blank cells in the inputs could change the answer; note says which",
            NOT_COMPUTABLE: "the inputs cannot support the rule; note says what is missing",
            "not modelled": "recorded from the plan; geoplan has no way to check it",
        },
    }


def _json_figures(value):
    """A rule's figures for summary.json: NaN and infinite numbers (an undefined Gini, a
    片区 without residents) become null; numpy scalars plain numbers."""
    if isinstance(value, dict):
        return {str(k): _json_figures(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_figures(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _overall(statuses: list[str]) -> str:
    if not statuses:
        return NOT_COMPUTABLE
    order = ("not met", INCOMPLETE, NOT_COMPUTABLE, "not modelled", "met", "reported", "no data")
    for status in order:
        if status in statuses:
            return status
    return statuses[0]


def describe(result: CheckResult) -> list[str]:
    """Short human-readable lines for the command line (one per rule)."""
    lines = [
        f"{result.project.area}: plan {result.pack.name_zh} ({result.pack.id})",
    ]
    if result.summary.get("area_differs_from_plan"):
        lines.append(
            f"  note: the project area is not {result.pack.place_zh}; targets are applied as a "
            "comparison"
        )
    for assumption in result.pack.assumptions:
        lines.append(f"  reading: {assumption.describe()} — {assumption.option.name_zh}")
    for entry in result.summary["checks"]:
        text = f"  [{entry['status']}] {entry['rule_id']}: {entry['name_zh']}"
        if entry.get("value") is not None:
            target = entry.get("target")
            text += f" — {entry['value']:.2f}"
            if target is not None:
                text += f" (target {target:g})"
            text += f" {entry.get('value_unit', '')}"
        if entry.get("reason"):
            text += f" — {entry['reason'].split(' | ')[0]}"
        lines.append(text)
    return lines


# ----------------------------------------------------------------------------- for plan_kinds
# The further rule kinds (geoplan.workflows.plan_kinds) build on this module's context and
# write their rows as its own kinds do, through these names.

CheckContext = _Context
add_row = _row
not_computable = _not_computable
facility_quantity = _quantity
access_per_point = _access_per_point
units_for_rows = _units_for_rows
