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
``failing_<rule>.geojson`` per failing rule and ``summary.json``.
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
from ..plans.indicators import track
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
    "CHECK_COLUMNS",
    "CHECK_FILES",
    "CheckResult",
    "compare",
    "compute_checks",
    "describe",
    "facility_attributes",
    "find_column",
    "find_columns",
    "run_check",
    "service_flags",
    "truthy",
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
    notes: list[str] = field(default_factory=list)
    access_note: str = ""
    access_matrices: dict[tuple[str, float, bytes], pd.DataFrame] = field(default_factory=dict)
    value_notes: dict[str, str] = field(default_factory=dict)  # implausible values per quantity

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
    """
    if not isinstance(project, Project):
        project = load_project(project)
    if not isinstance(pack, RulePack):
        pack = load_pack(pack)
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
    run = compute_project(replace(project, rules=tuple(base)))
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
    for item in pack.not_modelled:
        _not_modelled(ctx, item)
    _population_indicators(ctx)
    checks = pd.DataFrame(ctx.rows, columns=list(CHECK_COLUMNS))
    checks["value"] = checks["value"].astype(float).round(4)
    checks["shortfall"] = checks["shortfall"].astype(float).round(1)
    checks["access_2sfca"] = checks["access_2sfca"].astype(float).round(4)
    gaps = pd.DataFrame(ctx.gaps, columns=list(GAP_COLUMNS))
    indicators = track(pack.plan_file, current=ctx.current, missing=ctx.missing)
    indicators = indicators.drop(columns=["plan_file"]).assign(
        current_area=project.area, plan_place=pack.place_zh
    )
    summary = _summary(ctx, checks, indicators)
    return CheckResult(project, pack, checks, gaps, indicators, summary, ctx.failing, run)


def run_check(
    project: Project | str | Path,
    pack: RulePack | str | Path,
    out_dir: str | Path,
    *,
    overwrite: bool = False,
    unit_level: str | None = None,
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
        result = compute_checks(project, pack, unit_level=unit_level)
        out = staged.path
        _io.write_csv(result.checks, out / "checks.csv")
        _io.write_csv(result.indicators, out / "indicators.csv")
        _io.write_csv(result.gaps, out / "presence_gaps.csv")
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
    notes = [n for n in (note, source.note) if n]
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
    units = ctx.unit_names
    return [*units, (ALL_UNITS, "")] if len(units) > 1 else units or [(ALL_UNITS, "")]


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
    for unit in _units_for_rows(ctx):
        if unit[0] == ALL_UNITS:
            mask = np.ones(len(points), bool) if unit_of is None else (unit_of != OUTSIDE_UNITS)
        else:
            mask = unit_of == unit[0]
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
            if not ok and unit[0] != ALL_UNITS:
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
            note=f"{pop - cov:,.0f} of {pop:,.0f} residents beyond {rule.threshold_min:g} min",
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
    if unknown:
        ctx.rows[-1]["note"] += (
            f" | {unknown} facilities have no value in {' / '.join(headers)}: not counted"
        )


# ----------------------------------------------------------------------------- presence


def _attribute_headers(ctx: _Context, rule: PresenceRule) -> list[str]:
    return find_columns(ctx.attribute_columns, rule.attribute) if rule.attribute else []


def _attribute_missing(ctx: _Context, rule: PresenceRule, headers: list[str]) -> bool:
    """Record the rule as not computable when the facility file lacks its service column."""
    if headers:
        return False
    reason = (
        f"the facility file has no column for this service (accepted headers: "
        f"{', '.join(rule.attribute)})"
    )
    _not_computable(ctx, "presence", rule, reason)
    return True


def _facility_presence(ctx: _Context, rule: PresenceRule) -> None:
    headers = _attribute_headers(ctx, rule)
    if _attribute_missing(ctx, rule, headers):
        return
    keys = expand_categories(rule.categories)
    fac = ctx.facilities[ctx.facilities["category"].isin(keys)]
    flags = service_flags(fac, headers)
    label = " / ".join(headers)
    failing = []
    for unit in _units_for_rows(ctx):
        here = fac if unit[0] == ALL_UNITS else fac[fac["unit_name"] == unit[0]]
        here_flags = flags.loc[here.index]
        n = len(here)
        yes = int((here_flags == True).sum())  # noqa: E712
        no = int((here_flags == False).sum())  # noqa: E712
        blank = n - yes - no
        if n == 0:
            status = "not applicable"
        else:
            status = "met" if yes == n else "not met"
        _row(
            ctx,
            "presence",
            rule,
            unit=unit,
            value=100.0 * yes / n if n else math.nan,
            value_unit="% of facilities",
            comparator=">=",
            target=100.0,
            status=status,
            shortfall=float(n - yes) if n else math.nan,
            shortfall_unit="facilities",
            note=f"{n} facilities of the categories; {yes} yes, {no} no, {blank} blank "
            f"(column {label})",
        )
        if unit[0] == ALL_UNITS or len(ctx.unit_names) <= 1:
            indicator = ctx.pack.sources[rule.id].indicator
            if indicator and n:
                ctx.current[indicator] = 100.0 * yes / n
    for idx, row in fac.iterrows():
        if flags.loc[idx] is True:
            continue
        reason = "no" if flags.loc[idx] is False else "blank or unrecognised value"
        failing.append(idx)
        ctx.gaps.append(
            {
                "rule_id": rule.id,
                "unit_name": row["unit_name"],
                "unit_code": row["unit_code"],
                "facility_id": row["facility_id"],
                "name": row["name"],
                "category": row["category"],
                "value": " / ".join("" if pd.isna(row[h]) else str(row[h]) for h in headers),
                "reason": f"{label}: {reason}",
            }
        )
    if failing:
        layer = fac.loc[failing, ["facility_id", "name", "category", "unit_name", "geometry"]]
        values = fac.loc[failing, headers].astype(str).agg(" / ".join, axis=1)
        layer = layer.assign(rule_id=rule.id, value=values)
        ctx.failing[rule.id] = gpd.GeoDataFrame(layer, geometry="geometry", crs=fac.crs)


def _unit_presence(ctx: _Context, rule: PresenceRule) -> None:
    level_zh, level_en = LEVELS[rule.level]
    if ctx.units is None or ctx.unit_level != rule.level:
        if ctx.units is None:
            have = "the project has no units or boundary"
        elif ctx.unit_level is None:
            have = f"the project's units have no declared level ({ctx.unit_level_source})"
        else:
            have = f"the project's units are {LEVELS[ctx.unit_level][1]} units"
        reason = (
            f"needs {level_en} ({level_zh}) polygons as units: {have}; add a [units] layer of "
            f'{level_en} polygons with level = "{rule.level}"'
        )
        _not_computable(ctx, "presence", rule, reason)
        return
    headers = _attribute_headers(ctx, rule)
    if rule.attribute and _attribute_missing(ctx, rule, headers):
        return
    keys = expand_categories(rule.categories)
    fac = ctx.facilities[ctx.facilities["category"].isin(keys)]
    if headers:
        fac = fac[service_flags(fac, headers) == True]  # noqa: E712
    within_share = None
    if rule.within_min is not None:
        within_share = _within_shares(ctx, rule, fac)
    failing, counts = [], []
    for unit in ctx.unit_names:
        count = int((fac["unit_name"] == unit[0]).sum())
        counts.append(count)
        note = f"{count} facilities in the unit"
        ok = count >= rule.min_count
        if not ok and within_share is not None:
            share = within_share.get(unit[0], math.nan)
            note += f"; {share:.0%} of residents within {rule.within_min:g} min of one"
            ok = bool(share >= 1.0 - 1e-12)
        if not ok:
            failing.append(unit[0])
            ctx.gaps.append(
                {
                    "rule_id": rule.id,
                    "unit_name": unit[0],
                    "unit_code": unit[1],
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
            unit=unit,
            value=float(count),
            value_unit="facilities in the unit",
            comparator=">=",
            target=float(rule.min_count),
            status="met" if ok else "not met",
            shortfall=float(max(0, rule.min_count - count)),
            shortfall_unit="facilities",
            mode=rule.mode if rule.within_min else "",
            threshold_min=rule.within_min or math.nan,
            note=note,
        )
    if len(ctx.unit_names) > 1:
        n_fail = len(failing)
        _row(
            ctx,
            "presence",
            rule,
            unit=(ALL_UNITS, ""),
            value=float(len(ctx.unit_names) - n_fail),
            value_unit="units meeting the rule",
            comparator=">=",
            target=float(len(ctx.unit_names)),
            status="met" if not n_fail else "not met",
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
    mask = fac["category"].isin(expand_categories(categories)).to_numpy()
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
    area = gpd.GeoDataFrame(
        {
            "unit_name": [ALL_UNITS],
            "unit_code": [""],
            "population": [float(units["population"].sum())],
        },
        geometry=[units.geometry.union_all()],
        crs=units.crs,
    )
    scopes = [(units, False)] + ([(area, True)] if len(units) > 1 else [])
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
            note += f"; facilities: {', '.join(categories)}"
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
            if indicator and (is_area or len(units) == 1) and not math.isnan(value):
                ctx.current[indicator] = value
    if failing:
        layer = units[units["unit_name"].isin(failing)]
        ctx.failing[rule.id] = gpd.GeoDataFrame(
            layer.assign(rule_id=rule.id, target=rule.target), geometry="geometry", crs=units.crs
        )


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
    rows = np.flatnonzero(np.isfinite(supply))
    if len(rows):
        matrix = _access_matrix(ctx, mode, cutoff_s, mask)
        local = np.full(len(supply), -1, dtype=np.int64)
        local[rows] = np.arange(len(rows))
        facility = local[matrix["facility"].to_numpy()]
        kept = facility >= 0
        matrix = matrix[kept].assign(facility=facility[kept])
        ids = [f"f{i}" for i in range(len(rows))]
        times = travel_times_by_id(matrix, demand.index, ids)
        values = pd.Series(supply[rows], index=ids)
        access = two_step_fca(times, values, demand, cutoff_s=cutoff_s)
    else:
        access = pd.Series(0.0, index=demand.index)
    unit_of = pd.Series(points["unit_name"].to_numpy(), index=demand.index)
    inside = unit_of != OUTSIDE_UNITS
    table_by_unit = access_by_unit(access[inside], demand[inside], unit_of[inside])
    out = {str(k): float(v) * rule.per for k, v in table_by_unit["access_mean"].items()}
    weights = demand[inside]
    if weights.sum() > 0:
        out[ALL_UNITS] = float((access[inside] * weights).sum() / weights.sum()) * rule.per
    ctx.access_note = (
        f"access_2sfca: 2SFCA supply per {rule.per:,.0f} residents within {minutes:g} min "
        f"({mode}), population-weighted mean per unit — a geoplan supplement, not a plan target"
    )
    return out


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
        }
        if entry["status"] in (NOT_COMPUTABLE, "not modelled"):
            entry["reason"] = rows["note"].iloc[0] if len(rows) else ""
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
            NOT_COMPUTABLE: "the inputs cannot support the rule; note says what is missing",
            "not modelled": "recorded from the plan; geoplan has no way to check it",
        },
    }


def _overall(statuses: list[str]) -> str:
    if not statuses:
        return NOT_COMPUTABLE
    for status in ("not met", NOT_COMPUTABLE, "not modelled", "met", "reported", "no data"):
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
