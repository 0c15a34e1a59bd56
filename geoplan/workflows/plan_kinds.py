"""Plan checks of the county network: sub-centres, referral, shares, equity, named units.

The rule kinds of :data:`geoplan.plans.packs.KIND_TABLES`, evaluated on a project inside
:func:`geoplan.workflows.plan_check.compute_checks` (one row per rule × scope in
``checks.csv``, as the circles, presence rules and ratios):

* ``catchment`` — the designated 县域医疗次中心 are counted (``[roles] sub_centre`` of the
  project, or a truthy column of the facility file); every resident goes to the sub-centre
  reached first (one multi-source search) and each 片区 gets a row: its residents and the
  population-weighted percentiles of their travel time (``catchments.csv``);
* ``referral`` — each lower-tier facility to its higher-tier one (``referral.csv``), the
  share within the threshold per unit;
* ``share`` — the share of facilities with an attribute or meeting a per-facility ratio,
  filtered by grade (等级) and ownership (公立/民营);
* ``equity`` — Gini across residents and units, the concentration index, urban and rural
  means of access;
* ``named_unit`` — facilities in the units the plan names;
* ``colocation`` — facilities with a partner within a distance (两院一体).

Blank or unrecognised cells never count as "no": a share whose blanks could decide the
verdict either way is ``incomplete data``, with the range of the value in the note.
"""

from __future__ import annotations

import math

import geopandas as gpd
import numpy as np
import pandas as pd
from scipy.spatial import cKDTree

from ..analysis import engine
from ..analysis.catchments import catchment_table, percentile_column, weighted_percentile
from ..analysis.coverage import OUTSIDE_UNITS, expand_categories
from ..analysis.equity import concentration_index, gini, weighted_mean
from ..analysis.referral import ASSIGNED_BY, referral_times
from ..errors import ConfigError
from ..limits import applied
from ..plans.packs import (
    CAPACITY_COLUMNS,
    MEASURES,
    ROLES,
    CatchmentRule,
    ColocationRule,
    EquityRule,
    NamedUnitRule,
    ReferralRule,
    ShareRule,
    compare,
)
from ..readers.boundaries import units_from_frame
from ..taxonomy import grade_level, normalize_text
from .plan_check import (
    ALL_UNITS,
    INCOMPLETE,
    UNIT_GROUPS,
    CheckContext,
    access_per_point,
    add_gap,
    add_row,
    facility_quantity,
    find_column,
    find_columns,
    in_scope,
    is_aggregate,
    not_computable,
    service_flags,
    units_for_rows,
)

__all__ = [
    "ACROSS_UNITS",
    "CONCENTRATION",
    "TOWNSHIP_COLUMNS",
    "UNREACHABLE",
    "check_network_rules",
    "share_bounds",
]

TOWNSHIP_COLUMNS = ("所属乡镇", "乡镇（街道）", "乡镇街道", "所在乡镇", "乡镇", "街道", "township")
"""Headers of a facility file's township column (``[[referral]] unit_columns`` default)."""

UNREACHABLE = "(不可达 / unreachable)"
ACROSS_UNITS = "(各单元之间 / across units)"
CONCENTRATION = "(集中指数 / concentration index)"
RURAL_URBAN_RATIO = "(乡村÷城镇 / rural ÷ urban)"

_DENSITY = "density"


def check_network_rules(ctx: CheckContext) -> None:
    """Evaluate every rule of the pack's further kinds, appending rows to ``ctx``."""
    pack = ctx.pack
    for rule in pack.catchments:
        _catchments(ctx, rule)
    for rule in pack.referrals:
        _referral(ctx, rule)
    for rule in pack.shares:
        _share(ctx, rule)
    for rule in pack.equity:
        _equity(ctx, rule)
    for rule in pack.named_units:
        _named_units(ctx, rule)
    for rule in pack.colocation:
        _colocation(ctx, rule)


# ----------------------------------------------------------------------------- helpers


def _categories(ctx: CheckContext, rule_type: str, rule, categories) -> np.ndarray | None:
    """Which facilities are of ``categories``; None (and a not-computable row) when the
    taxonomy does not know one of them."""
    mask, unknown = _category_mask(ctx, categories)
    if mask is None:
        _unknown_categories(ctx, rule_type, rule, unknown)
    return mask


def _category_mask(ctx: CheckContext, categories) -> tuple[np.ndarray | None, list[str]]:
    """Which facilities are of ``categories``, and the names the taxonomy does not know (the
    mask is None when there are any); writes nothing."""
    keys: set[str] = set()
    unknown = []
    for name in categories:
        try:
            keys |= expand_categories((name,))
        except ConfigError:
            unknown.append(name)
    if unknown:
        return None, unknown
    return ctx.facilities["category"].isin(keys).to_numpy(), []


def _unknown_categories(ctx: CheckContext, rule_type: str, rule, unknown: list[str]) -> None:
    """The not-computable row of a rule naming categories the taxonomy does not know."""
    not_computable(
        ctx,
        rule_type,
        rule,
        f"facility categories {', '.join(unknown)} are not in geoplan's taxonomy, so no "
        "facility file can supply them",
    )


def _designated(ctx: CheckContext, role: str, attribute) -> tuple[np.ndarray, np.ndarray] | None:
    """(designated, blank) masks over ``ctx.facilities`` for a role: listed in ``[roles]`` or
    truthy in one of the ``attribute`` columns; blank where such a column exists and is empty
    for a facility not listed. None when the project names none and no column exists."""
    fac = ctx.facilities
    ids = [str(i) for i in ctx.project.roles.get(role, [])]
    known = set(fac["facility_id"].astype(str))
    missing = [i for i in ids if i not in known]
    if missing:
        raise ConfigError(
            f"{ctx.project.path.name}: [roles] {role}: {', '.join(missing)} not among the used "
            "facilities (a misspelt id, or a row rejected: see rejects.csv) / "
            f"[roles] {role} 中的编号不在所用设施中"
        )
    headers = find_columns(ctx.attribute_columns, attribute) if attribute else []
    if not ids and not headers:
        return None
    listed = fac["facility_id"].astype(str).isin(ids).to_numpy()
    if not headers:
        return listed, np.zeros(len(fac), dtype=bool)
    flags = service_flags(fac, headers).to_numpy(dtype=object)
    designated = listed | (flags == True)  # noqa: E712
    return designated, ~designated & pd.isna(flags)


def _role_reason(role: str, attribute) -> str:
    zh, en, _ = ROLES[role]
    columns = ", ".join(attribute) if attribute else "—"
    return (
        f"no facility is designated {en} ({zh}): list their ids in the project's [roles] "
        f"{role}, or give the facility file a yes/no column (accepted headers: {columns})"
    )


def _metric(ctx: CheckContext, frame: gpd.GeoDataFrame) -> tuple[np.ndarray, np.ndarray]:
    """x, y of facilities in the network's CRS (metres)."""
    xy = frame.geometry.to_crs(ctx.run.network.crs)
    return xy.x.to_numpy(), xy.y.to_numpy()


def _resident_points(ctx: CheckContext) -> pd.DataFrame:
    """The run's demand points inside the units (x, y in the network CRS, population)."""
    points = ctx.run.coverage.table
    if "unit_name" in points:
        points = points[points["unit_name"] != OUTSIDE_UNITS]
    return points.reset_index(drop=True)


def _nearest(ctx: CheckContext, mode: str, fac: gpd.GeoDataFrame, points: pd.DataFrame):
    """One multi-source search from ``fac`` to every point by ``mode``:
    :class:`geoplan.analysis.engine.Nearest`."""
    network = ctx.run.network
    times = network.mode_times(mode, **ctx.project.network_options)
    x, y = _metric(ctx, fac)
    fac_snap = engine.snap_points(network, x, y, usable=times.facility_edges)
    dem_snap = engine.snap_points(
        network, points["x"].to_numpy(), points["y"].to_numpy(), usable=times.demand_edges
    )
    return engine.nearest_facility(
        network,
        times.forward_s,
        times.backward_s,
        fac_snap,
        dem_snap,
        access_speed_m_per_min=ctx.project.walk_speed_m_per_min,
        private=times.private,
    )


def _attribute_flags(
    ctx: CheckContext, rule_type: str, rule, fac: gpd.GeoDataFrame
) -> tuple[np.ndarray, str] | None:
    """Per facility of ``fac``: its ``rule.attribute`` yes/no column read as True, False or
    None (blank, unrecognised), and the headers used; None, with a not-computable row, when
    the facility file has no such column."""
    headers = find_columns(ctx.attribute_columns, rule.attribute)
    if not headers:
        not_computable(
            ctx,
            rule_type,
            rule,
            f"the facility file has no column for this attribute (accepted headers: "
            f"{', '.join(rule.attribute)})",
        )
        return None
    return service_flags(fac, headers).to_numpy(dtype=object), " / ".join(headers)


def _failing_points(ctx: CheckContext, rule, fac: gpd.GeoDataFrame, values) -> None:
    if len(fac):
        layer = fac[["facility_id", "name", "category", "unit_name", "geometry"]]
        ctx.failing[rule.id] = gpd.GeoDataFrame(
            layer.assign(rule_id=rule.id, value=[str(v) for v in values]),
            geometry="geometry",
            crs=fac.crs,
        )


# ----------------------------------------------------------------------------- shares


def share_bounds(
    flags: np.ndarray, member: np.ndarray
) -> tuple[float, float, float, int, int, int, int]:
    """Bounds of a share of facilities (percent) when some cells are blank.

    ``flags``: per facility True (has it / meets it), False, or None (blank, unrecognised);
    ``member``: whether it belongs to the facilities counted, True, False or None (e.g. its
    grade is blank). Returns ``(low, high, known, n, yes, no, unknown)``: the share with every
    unknown read against the target's favour and in it (a "yes" of unknown membership is left
    out for ``low`` and counted for ``high``), the share among the complete records, the
    members, yes, no and the facilities whose flag or membership is unknown.
    """
    flags = np.asarray(flags, dtype=object)
    member = np.asarray(member, dtype=object)
    yes, no, blank = (flags == True), (flags == False), pd.isna(flags)  # noqa: E712
    sure, maybe = (member == True), pd.isna(member)  # noqa: E712
    n_yes, n_no = int((sure & yes).sum()), int((sure & no).sum())
    low_den = n_yes + n_no + int((sure & blank).sum()) + int((maybe & ~yes).sum())
    high_num = n_yes + int((sure & blank).sum()) + int((maybe & ~no).sum())
    high_den = n_yes + n_no + int((sure & blank).sum()) + int((maybe & ~no).sum())
    low = 100.0 * n_yes / low_den if low_den else math.nan
    high = 100.0 * high_num / high_den if high_den else math.nan
    known = 100.0 * n_yes / (n_yes + n_no) if n_yes + n_no else math.nan
    unknown = int((sure & blank).sum() + maybe.sum())
    return low, high, known, n_yes + n_no + int((sure & blank).sum()), n_yes, n_no, unknown


def _share_status(low: float, high: float, comparator: str, target: float | None) -> str:
    """met / not met when every reading of the blanks agrees, else incomplete data."""
    if math.isnan(low) and math.isnan(high):
        return "not applicable"
    if target is None:
        return "reported" if low == high else INCOMPLETE
    passes = [compare(v, comparator, target) for v in (low, high) if not math.isnan(v)]
    if all(passes):
        return "met"
    if not any(passes):
        return "not met"
    return INCOMPLETE


def _share_rows(
    ctx: CheckContext,
    rule_type: str,
    rule,
    fac: gpd.GeoDataFrame,
    flags: np.ndarray,
    member: np.ndarray,
    *,
    comparator: str,
    target: float | None,
    judged_at: str,
    label: str,
) -> None:
    """One row per scope of a share of facilities (units, all units, urban/rural)."""
    unit_of = fac["unit_name"].to_numpy(dtype=object)
    for unit in units_for_rows(ctx):
        here = (
            np.ones(len(fac), dtype=bool)
            if unit[0] == ALL_UNITS
            else in_scope(ctx, unit_of, unit[0])
        )
        low, high, known, n, yes, no, unknown = share_bounds(flags[here], member[here])
        judged = judged_at == "unit" or is_aggregate(unit[0]) or len(ctx.unit_names) <= 1
        status = _share_status(low, high, comparator, target if judged else None)
        note = f"{n} facilities; {yes} yes, {no} no, {unknown} blank or unknown ({label})"
        if status == INCOMPLETE or (unknown and not math.isnan(low)):
            note += f"; the share lies between {low:.1f} % and {high:.1f} %"
        if not judged and target is not None:
            note += "; the plan's target is judged for the whole area"
        value = known if not math.isnan(known) else low
        shortfall = math.nan
        if status == "not met" and comparator in (">=", ">") and target is not None:
            shortfall = float(math.ceil(target / 100.0 * n - yes - 1e-9))
        add_row(
            ctx,
            rule_type,
            rule,
            unit=unit,
            value=value,
            value_unit="% of facilities",
            comparator=comparator if target is not None else "",
            target=math.nan if target is None else target,
            status=status,
            shortfall=shortfall,
            shortfall_unit="facilities" if not math.isnan(shortfall) else "",
            note=note,
        )
        indicator = ctx.pack.sources[rule.id].indicator
        whole = unit[0] == ALL_UNITS or (len(ctx.unit_names) <= 1 and not is_aggregate(unit[0]))
        if indicator and whole and not math.isnan(value) and status != INCOMPLETE:
            ctx.current[indicator] = value
        if indicator and whole and status == INCOMPLETE:  # indicators.csv: incomplete data
            ctx.incomplete[indicator] = note
    failing = np.flatnonzero((member == True) & (flags != True))  # noqa: E712
    for i in failing:
        row = fac.iloc[i]
        reason = "no" if flags[i] is False else "blank or unrecognised value"
        add_gap(ctx, rule, row, str(flags[i]), f"{label}: {reason}")
    if len(failing):
        _failing_points(ctx, rule, fac.iloc[failing], [flags[i] for i in failing])


def _share(ctx: CheckContext, rule: ShareRule) -> None:
    chosen = _categories(ctx, "share", rule, rule.categories)
    if chosen is None:
        return
    fac = ctx.facilities[chosen].reset_index(drop=True)
    member = np.full(len(fac), True, dtype=object)
    filters = []
    if rule.grade_at_least is not None:
        if ctx.facilities["grade"].isna().all():
            not_computable(
                ctx,
                "share",
                rule,
                "the facility file has no hospital grade (医院等级 / 等级) values; add a column "
                "such as 等级 = 三级甲等 / 二级 / 一级",
            )
            return
        levels = fac["grade"].map(grade_level)
        member = _and(
            member, levels.map(lambda v: None if pd.isna(v) else v >= rule.grade_at_least)
        )
        filters.append(f"grade ≥ {rule.grade_at_least}")
    if rule.ownership is not None:
        if ctx.facilities["ownership"].isna().all():
            not_computable(
                ctx,
                "share",
                rule,
                "the facility file has no ownership (公立/民营) values; add a column such as "
                "所有制 = 公立 / 民营",
            )
            return
        member = _and(
            member, fac["ownership"].map(lambda v: None if pd.isna(v) else v == rule.ownership)
        )
        filters.append(f"ownership {rule.ownership}")
    if rule.attribute:
        found = _attribute_flags(ctx, "share", rule, fac)
        if found is None:
            return
        flags, label = found
    else:
        flags = _ratio_flags(ctx, rule, chosen)
        if flags is None:
            return
        label = (
            f"{rule.numerator} / {rule.denominator} {rule.facility_comparator} "
            f"{rule.facility_target:g} per facility"
        )
    if filters:
        label += "; " + ", ".join(filters)
    _share_rows(
        ctx,
        "share",
        rule,
        fac,
        flags,
        np.asarray(member, dtype=object),
        comparator=rule.comparator,
        target=rule.target,
        judged_at=rule.judged_at,
        label=label,
    )


def _and(left, right) -> np.ndarray:
    """Three-valued AND (True, False, None) of two sequences."""
    out = []
    for a, b in zip(left, right, strict=True):
        if a is False or b is False:
            out.append(False)
        elif a is None or b is None or pd.isna(a) or pd.isna(b):
            out.append(None)
        else:
            out.append(bool(a) and bool(b))
    return np.asarray(out, dtype=object)


def _ratio_flags(ctx: CheckContext, rule: ShareRule, chosen: np.ndarray) -> np.ndarray | None:
    """Per facility of ``chosen``: numerator / denominator meets the per-facility target
    (None where either is blank or the denominator is 0)."""
    values = []
    for key in (rule.numerator, rule.denominator):
        found = facility_quantity(ctx, key, ())
        if found is None:
            accepted = CAPACITY_COLUMNS.get(key, ()) or (key,)
            not_computable(
                ctx,
                "share",
                rule,
                f"the facility file has no {key} column (accepted headers: {', '.join(accepted)})",
            )
            return None
        values.append(found[chosen])
    num, den = values
    flags = np.full(len(num), None, dtype=object)
    ok = np.isfinite(num) & np.isfinite(den) & (den > 0)
    for i in np.flatnonzero(ok):
        flags[i] = compare(num[i] / den[i], rule.facility_comparator, rule.facility_target)
    return flags


# ----------------------------------------------------------------------------- colocation


def _colocation(ctx: CheckContext, rule: ColocationRule) -> None:
    chosen = _categories(ctx, "colocation", rule, rule.categories)
    if chosen is None:
        return
    headers = find_columns(ctx.attribute_columns, rule.attribute) if rule.attribute else []
    partner, unknown = _category_mask(ctx, rule.with_categories)
    if partner is None:
        if not headers:  # neither the partner category nor a column can tell
            _unknown_categories(ctx, "colocation", rule, unknown)
            return
        partner = np.zeros(len(ctx.facilities), dtype=bool)  # the column tells
    elif not partner.any() and not headers:
        not_computable(
            ctx,
            "colocation",
            rule,
            f"the facility files hold no facility of {', '.join(rule.with_categories)}, and no "
            f"column says which facilities are co-located (accepted headers: "
            f"{', '.join(rule.attribute) or '—'}); list the partner facilities or add the column",
        )
        return
    fac = ctx.facilities[chosen].reset_index(drop=True)
    near = np.zeros(len(fac), dtype=bool)
    distance = np.full(len(fac), np.inf)
    others = ctx.facilities[partner & ~chosen]
    if len(others) and len(fac):
        tree = cKDTree(np.column_stack(_metric(ctx, others)))
        distance, _ = tree.query(np.column_stack(_metric(ctx, fac)))
        near = distance <= rule.within_m + 1e-9
    if headers:
        column = service_flags(fac, headers).to_numpy(dtype=object)
        flags = np.where(near, True, column).astype(object)
    else:
        flags = np.where(near, True, False).astype(object)
    label = f"{', '.join(rule.with_categories)} within {rule.within_m:g} m"
    if headers:
        label += f" or {' / '.join(headers)}"
    _share_rows(
        ctx,
        "colocation",
        rule,
        fac,
        flags,
        np.full(len(fac), True, dtype=object),
        comparator=rule.comparator,
        target=rule.target,
        judged_at="area",
        label=label,
    )
    finite = distance[np.isfinite(distance)]
    ctx.figures[rule.id] = {
        "facilities": len(fac),
        "partners": len(others),
        "within_m": rule.within_m,
        "median_distance_m": float(np.median(finite)) if len(finite) else None,
    }


# ----------------------------------------------------------------------------- named units


def _match_unit(ctx: CheckContext, name: str) -> tuple[tuple[str, str] | None, str]:
    """The project unit named ``name`` (equal after normalising, else the one unit whose
    name contains it or is contained in it); None and why when there is none or several."""
    want = normalize_text(name)
    units = ctx.unit_names
    equal = [u for u in units if normalize_text(u[0]) == want or u[1] == name]
    if len(equal) == 1:
        return equal[0], ""
    near = [
        u
        for u in units
        if len(normalize_text(u[0])) >= 2
        and (want in normalize_text(u[0]) or normalize_text(u[0]) in want)
    ]
    if len(near) == 1:
        return near[0], f"unit {near[0][0]!r} taken for {name!r}"
    if len(equal) + len(near) > 1:
        shown = ", ".join(u[0] for u in (equal or near)[:5])
        return None, f"several units could be {name!r}: {shown}"
    level = ctx.unit_level or "undeclared-level"
    shown = ", ".join(u[0] for u in units[:8]) + (" …" if len(units) > 8 else "")
    return None, (
        f"no unit named {name!r} among the project's {len(units)} {level} units ({shown}); "
        "add a [units] layer that holds it"
    )


def _named_units(ctx: CheckContext, rule: NamedUnitRule) -> None:
    if ctx.units is None:
        not_computable(ctx, "named_unit", rule, "the project has no units or boundary")
        return
    chosen = _categories(ctx, "named_unit", rule, rule.categories)
    if chosen is None:
        return
    fac = ctx.facilities[chosen]
    flags = np.full(len(fac), True, dtype=object)
    label = ", ".join(rule.categories)
    if rule.attribute:
        found = _attribute_flags(ctx, "named_unit", rule, fac)
        if found is None:
            return
        flags, headers = found
        label += f" with {headers}"
    for name in rule.units:
        unit, why = _match_unit(ctx, name)
        if unit is None:
            add_row(ctx, "named_unit", rule, unit=(name, ""), status="not computable", note=why)
            continue
        here = (fac["unit_name"] == unit[0]).to_numpy()
        yes = int((flags[here] == True).sum())  # noqa: E712
        blank = int(pd.isna(flags[here]).sum())
        if yes >= rule.min_count:
            status = "met"
        elif yes + blank >= rule.min_count:
            status = INCOMPLETE
        else:
            status = "not met"
        note = f"{yes} facilities ({label}) in {unit[0]}"
        if blank:
            note += f"; {blank} more with a blank or unrecognised value"
        if why:
            note += f"; {why}"
        add_row(
            ctx,
            "named_unit",
            rule,
            unit=unit,
            value=float(yes),
            value_unit="facilities in the unit",
            comparator=">=",
            target=float(rule.min_count),
            status=status,
            shortfall=float(max(0, rule.min_count - yes)),
            shortfall_unit="facilities",
            note=note,
        )
        if status == "not met":
            ctx.gaps.append(
                {
                    "rule_id": rule.id,
                    "unit_name": unit[0],
                    "unit_code": unit[1],
                    "facility_id": "",
                    "name": "",
                    "category": ",".join(rule.categories),
                    "value": str(yes),
                    "reason": f"fewer than {rule.min_count} facilities in the unit",
                }
            )


# ----------------------------------------------------------------------------- 片区


def _catchments(ctx: CheckContext, rule: CatchmentRule) -> None:
    found = _designated(ctx, rule.role, rule.attribute)
    if found is None:
        not_computable(ctx, "catchment", rule, _role_reason(rule.role, rule.attribute))
        return
    designated, blank = found
    if rule.categories:
        chosen = _categories(ctx, "catchment", rule, rule.categories)
        if chosen is None:
            return
        designated, blank = designated & chosen, blank & chosen
    count, n_blank = int(designated.sum()), int(blank.sum())
    _, en, _ = ROLES[rule.role]
    if rule.min_count is None:
        status = "reported" if not n_blank else INCOMPLETE
    elif count >= rule.min_count:
        status = "met"
    elif count + n_blank >= rule.min_count:
        status = INCOMPLETE
    else:
        status = "not met"
    hubs = ctx.facilities[designated].reset_index(drop=True)
    note = f"{count} designated ({', '.join(hubs['name'].astype(str)) or 'none'})"
    if n_blank:
        note += f"; {n_blank} facilities have a blank designation cell"
    add_row(
        ctx,
        "catchment",
        rule,
        unit=(ALL_UNITS, ""),
        value=float(count),
        value_unit=f"designated {en}",
        comparator=">=" if rule.min_count is not None else "",
        target=math.nan if rule.min_count is None else float(rule.min_count),
        status=status,
        shortfall=(
            float(max(0, rule.min_count - count)) if rule.min_count is not None else math.nan
        ),
        shortfall_unit="facilities" if rule.min_count is not None else "",
        mode=rule.mode,
        note=note,
    )
    indicator = ctx.pack.sources[rule.id].indicator
    if indicator and not n_blank:  # the plan's count of sub-centres (县域医疗卫生次中心 3 个)
        ctx.current[indicator] = float(count)
    elif indicator:
        ctx.incomplete[indicator] = note
    ctx.figures[rule.id] = {"designated": count, "blank": n_blank, "catchments": []}
    if count == 0:
        return
    points = _resident_points(ctx)
    nearest = _nearest(ctx, rule.mode, hubs, points)
    population = points["population"].to_numpy(dtype=np.float64)
    percentiles = tuple(sorted({*rule.percentiles, rule.percentile}))
    threshold_s = None if rule.threshold_min is None else rule.threshold_min * 60.0
    time_s = np.nan_to_num(nearest.travel_time_s, nan=np.inf)
    table = catchment_table(
        nearest.facility,
        time_s,
        population,
        len(hubs),
        percentiles=percentiles,
        threshold_s=threshold_s,
    )
    judged = percentile_column(rule.percentile)
    total = float(population.sum())
    failing = []
    for i, stats in table.iterrows():
        hub = hubs.iloc[i]
        checks, parts = [], []
        if rule.threshold_min is not None and stats["population"] > 0:
            ok = compare(stats[judged], "<=", rule.threshold_min)
            checks.append(ok)
            parts.append(
                f"P{rule.percentile:g} {stats[judged]:.1f} min "
                f"{'≤' if ok else '>'} {rule.threshold_min:g} min"
            )
        for bound, comparator in ((rule.min_population, ">="), (rule.max_population, "<=")):
            if bound is not None:
                ok = compare(stats["population"], comparator, bound)
                checks.append(ok)
                parts.append(
                    f"{stats['population']:,.0f} residents {comparator} {bound:,.0f}: "
                    f"{'yes' if ok else 'no'}"
                )
        if stats["population"] <= 0:
            row_status = "no data"
        elif not checks:
            row_status = "reported"
        else:
            row_status = "met" if all(checks) else "not met"
        if row_status == "not met":
            failing.append(i)
        shown = ", ".join(f"P{q:g} {stats[percentile_column(q)]:.1f}" for q in percentiles)
        note = (
            f"{stats['population']:,.0f} residents ({stats['population'] / total:.1%} of the "
            f"area); minutes {shown}, mean {stats['mean_min']:.1f}, max {stats['max_min']:.1f}"
        )
        if parts:
            note += "; " + "; ".join(parts)
        add_row(
            ctx,
            "catchment",
            rule,
            unit=(f"{hub['name']}（片区 / catchment）", str(hub["facility_id"])),
            value=stats[judged],
            value_unit=f"min (P{rule.percentile:g}, population-weighted)",
            comparator="<=" if rule.threshold_min is not None else "",
            target=math.nan if rule.threshold_min is None else rule.threshold_min,
            status=row_status,
            mode=rule.mode,
            threshold_min=math.nan if rule.threshold_min is None else rule.threshold_min,
            note=note,
        )
        record = {
            "rule_id": rule.id,
            "hub_id": str(hub["facility_id"]),
            "hub_name": str(hub["name"]),
            "hub_unit": str(hub["unit_name"]),
            "mode": rule.mode,
            "population": float(stats["population"]),
            "share_of_area": float(stats["population"] / total) if total else math.nan,
            **{percentile_column(q): float(stats[percentile_column(q)]) for q in percentiles},
            "mean_min": float(stats["mean_min"]),
            "max_min": float(stats["max_min"]),
            "threshold_min": rule.threshold_min,
            "share_within": float(stats.get("share_within", math.nan)),
            "status": row_status,
        }
        record.update(_group_population(ctx, points, nearest.facility == i))
        ctx.tables.setdefault("catchments", []).append(record)
        ctx.figures[rule.id]["catchments"].append(
            {k: record[k] for k in ("hub_id", "hub_name", "population", judged)}
        )
    unreachable = float(population[nearest.facility < 0].sum())
    ctx.figures[rule.id]["unreachable_population"] = unreachable
    if unreachable > 0:
        add_row(
            ctx,
            "catchment",
            rule,
            unit=(UNREACHABLE, ""),
            value=unreachable,
            value_unit="residents reaching no sub-centre",
            status="not met" if rule.threshold_min is not None else "reported",
            mode=rule.mode,
            note=f"by {rule.mode}, no designated {en} can be reached from these residents",
        )
    for label in ctx.groups:
        members = in_scope(ctx, points["unit_name"].to_numpy(), label)
        reach = members & (nearest.facility >= 0)
        value = math.nan
        if population[reach].sum() > 0:
            value = weighted_percentile(time_s[reach], population[reach], rule.percentile) / 60
        add_row(
            ctx,
            "catchment",
            rule,
            unit=(label, ""),
            value=value,
            value_unit=f"min (P{rule.percentile:g}, population-weighted)",
            status="reported" if not math.isnan(value) else "no data",
            mode=rule.mode,
            note=f"{population[members].sum():,.0f} {UNIT_GROUPS[label]} residents to their "
            f"nearest {en}",
        )
    if failing:
        _failing_points(ctx, rule, hubs.iloc[failing], [table.loc[i, judged] for i in failing])


def _group_population(ctx: CheckContext, points: pd.DataFrame, mask: np.ndarray) -> dict:
    """Urban and rural residents among ``points[mask]`` (only when the units have types)."""
    if not ctx.groups:
        return {}
    population = points["population"].to_numpy(dtype=np.float64)
    units = points["unit_name"].to_numpy()
    return {
        f"population_{UNIT_GROUPS[label]}": float(
            population[mask & in_scope(ctx, units, label)].sum()
        )
        for label in ctx.groups
    }


# ----------------------------------------------------------------------------- referral


def _referral(ctx: CheckContext, rule: ReferralRule) -> None:
    lower_mask = _categories(ctx, "referral", rule, rule.from_categories)
    if lower_mask is None:
        return
    upper_mask = _categories(ctx, "referral", rule, rule.to_categories)
    if upper_mask is None:
        return
    if rule.to_role is not None:
        found = _designated(ctx, rule.to_role, rule.to_attribute)
        if found is None:
            not_computable(ctx, "referral", rule, _role_reason(rule.to_role, rule.to_attribute))
            return
        upper_mask = upper_mask & found[0]
    lower_mask = lower_mask & ~upper_mask  # a facility is not referred to itself
    fac = ctx.facilities
    lower, upper = fac[lower_mask].reset_index(drop=True), fac[upper_mask].reset_index(drop=True)
    if len(upper) == 0:
        not_computable(
            ctx,
            "referral",
            rule,
            f"the facility files hold no higher-tier facility ({', '.join(rule.to_categories)}"
            + (f", designated {rule.to_role}" if rule.to_role else "")
            + ")",
        )
        return
    lower_unit = upper_unit = None
    how = "nearest by travel time"
    if rule.assign == "same_unit":
        lower_unit, upper_unit, how = _townships(ctx, rule, lower, upper)
    network = ctx.run.network
    times = network.mode_times(rule.mode, **ctx.project.network_options)
    with applied(ctx.project.limits):
        table = referral_times(
            network,
            times,
            _metric(ctx, lower),
            _metric(ctx, upper),
            lower_unit=lower_unit,
            upper_unit=upper_unit,
            assign=rule.assign,
            access_speed_m_per_min=ctx.project.walk_speed_m_per_min,
        )
    minutes = table["time_s"].to_numpy() / 60.0
    threshold = rule.threshold_min
    within = np.isfinite(minutes) & (minutes <= (threshold if threshold is not None else np.inf))
    unit_of = lower["unit_name"].to_numpy(dtype=object)
    for unit in units_for_rows(ctx):
        here = (
            np.ones(len(lower), dtype=bool)
            if unit[0] == ALL_UNITS
            else in_scope(ctx, unit_of, unit[0])
        )
        n = int(here.sum())
        t = minutes[here]
        reached = t[np.isfinite(t)]
        note = f"{n} facilities ({', '.join(rule.from_categories)}) → {how}"
        if len(reached):
            note += f"; minutes median {np.median(reached):.1f}, max {reached.max():.1f}"
        if len(reached) < n:
            note += f"; {n - len(reached)} cannot reach theirs by {rule.mode}"
        if n == 0:
            status, value, unit_label = "not applicable", math.nan, "% of facilities"
        elif threshold is None:
            status = "reported" if len(reached) == n else "not met"
            value = float(np.median(reached)) if len(reached) else math.nan
            unit_label = "min (median referral time)"
        else:
            value = 100.0 * within[here].sum() / n
            ok = compare(value, ">=", 100.0 * rule.target_share)
            status, unit_label = ("met" if ok else "not met"), "% of facilities"
        shortfall = math.nan
        if threshold is not None and status == "not met":
            shortfall = float(math.ceil(rule.target_share * n - within[here].sum() - 1e-9))
        add_row(
            ctx,
            "referral",
            rule,
            unit=unit,
            value=value,
            value_unit=unit_label,
            comparator=">=" if threshold is not None else "",
            target=math.nan if threshold is None else 100.0 * rule.target_share,
            status=status,
            shortfall=shortfall,
            shortfall_unit="facilities" if not math.isnan(shortfall) else "",
            mode=rule.mode,
            threshold_min=math.nan if threshold is None else threshold,
            note=note,
        )
    failing = []
    for k, row in table.iterrows():
        low = lower.iloc[k]
        up = upper.iloc[row["upper"]] if row["upper"] >= 0 else None
        near = upper.iloc[row["nearest"]] if row["nearest"] >= 0 else None
        ok = bool(within[k]) if threshold is not None else None
        ctx.tables.setdefault("referral", []).append(
            {
                "rule_id": rule.id,
                "facility_id": str(low["facility_id"]),
                "name": str(low["name"]),
                "category": str(low["category"]),
                "unit_name": str(low["unit_name"]),
                "township": "" if lower_unit is None else str(lower_unit[k] or ""),
                "to_facility_id": "" if up is None else str(up["facility_id"]),
                "to_name": "" if up is None else str(up["name"]),
                "to_category": "" if up is None else str(up["category"]),
                "assigned_by": row["assigned_by"],
                "assigned_by_zh": ASSIGNED_BY[row["assigned_by"]][0],
                "mode": rule.mode,
                "travel_time_min": minutes[k],
                "nearest_facility_id": "" if near is None else str(near["facility_id"]),
                "nearest_name": "" if near is None else str(near["name"]),
                "nearest_time_min": row["nearest_time_s"] / 60.0,
                "threshold_min": threshold,
                "within": ok,
            }
        )
        if (threshold is not None and not ok) or not np.isfinite(minutes[k]):
            failing.append(k)
            reason = (
                f"cannot reach {'' if up is None else up['name']} by {rule.mode}"
                if not np.isfinite(minutes[k])
                else f"{minutes[k]:.1f} min to {up['name']}, above {threshold:g} min"
            )
            add_gap(ctx, rule, low, f"{minutes[k]:.1f}", reason)
    reached = minutes[np.isfinite(minutes)]
    ctx.figures[rule.id] = {
        "facilities": len(lower),
        "higher_tier": len(upper),
        "assigned_by": pd.Series(table["assigned_by"]).value_counts().astype(int).to_dict(),
        "median_min": float(np.median(reached)) if len(reached) else None,
        "max_min": float(reached.max()) if len(reached) else None,
        "unreachable": int(len(minutes) - len(reached)),
    }
    if failing:
        _failing_points(ctx, rule, lower.iloc[failing], [minutes[k] for k in failing])


def _townships(
    ctx: CheckContext, rule: ReferralRule, lower: gpd.GeoDataFrame, upper: gpd.GeoDataFrame
) -> tuple[np.ndarray | None, np.ndarray | None, str]:
    """The township of each facility: the facility file's township column, else the
    project's units when they are townships; and how the higher-tier facility is found."""
    header = find_column(ctx.attribute_columns, rule.unit_columns or TOWNSHIP_COLUMNS, exact=True)
    if header is not None:

        def cells(frame):
            return frame[header].map(lambda v: "" if pd.isna(v) else normalize_text(v))

        return (
            cells(lower).to_numpy(dtype=object),
            cells(upper).to_numpy(dtype=object),
            f"the higher-tier facility of the same township (column {header}), else the nearest",
        )
    if ctx.unit_level == "township":

        def units(frame):
            return frame["unit_name"].map(lambda v: "" if v == OUTSIDE_UNITS else v)

        return (
            units(lower).to_numpy(dtype=object),
            units(upper).to_numpy(dtype=object),
            "the higher-tier facility of the same township unit, else the nearest",
        )
    return (
        None,
        None,
        (
            "the nearest higher-tier facility (townships unknown: no township column in the "
            "facility file and the units are not townships)"
        ),
    )


# ----------------------------------------------------------------------------- equity


def _equity(ctx: CheckContext, rule: EquityRule) -> None:
    if ctx.units is None:
        not_computable(ctx, "equity", rule, "the project has no units or boundary")
        return
    chosen = _categories(ctx, "equity", rule, rule.categories)
    if chosen is None:
        return
    if not chosen.any():
        not_computable(
            ctx,
            "equity",
            rule,
            f"the facility files hold no facility of {', '.join(rule.categories)}",
        )
        return
    points = _resident_points(ctx)
    population = points["population"].to_numpy(dtype=np.float64)
    measured = _measure(ctx, rule, chosen, points)
    if measured is None:
        return
    values, note = measured
    ok = np.isfinite(values)
    left_out = float(population[~ok].sum())
    if left_out > 0:
        note += f"; {left_out:,.0f} residents reach no facility and are left out"
    x, w = values[ok], population[ok]
    units = points["unit_name"].to_numpy(dtype=object)[ok]
    unit_label = MEASURES[rule.measure][1]
    g_residents = gini(x, w)
    figures = {"measure": rule.measure, "gini_residents": g_residents}
    status = "reported"
    if rule.max_gini is not None and not math.isnan(g_residents):
        status = "met" if compare(g_residents, "<=", rule.max_gini) else "not met"
    add_row(
        ctx,
        "equity",
        rule,
        unit=(ALL_UNITS, ""),
        value=g_residents,
        value_unit="Gini across residents (population-weighted)",
        comparator="<=" if rule.max_gini is not None else "",
        target=math.nan if rule.max_gini is None else rule.max_gini,
        status=status if not math.isnan(g_residents) else "no data",
        mode=rule.mode,
        note=f"{unit_label}, mean {weighted_mean(x, w):.3g}; {note}",
    )
    frame = pd.DataFrame({"unit": units, "x": x * w, "w": w}).groupby("unit", sort=False).sum()
    frame = frame[frame["w"] > 0]
    means = frame["x"] / frame["w"]
    if len(frame) > 1:
        g_units = gini(means.to_numpy(), frame["w"].to_numpy())
        figures["gini_units"] = g_units
        add_row(
            ctx,
            "equity",
            rule,
            unit=(ACROSS_UNITS, ""),
            value=g_units,
            value_unit="Gini across units (unit means, population-weighted)",
            status="reported" if not math.isnan(g_units) else "no data",
            mode=rule.mode,
            note=f"{len(frame)} units; {unit_label}",
        )
        rank = _rank(ctx, rule)
        if isinstance(rank, str):
            figures["concentration_index"] = None
            add_row(ctx, "equity", rule, unit=(CONCENTRATION, ""), status="no data", note=rank)
        else:
            r = pd.Series(units).map(rank).to_numpy(dtype=np.float64)
            has = np.isfinite(r)
            ci = concentration_index(x[has], r[has], w[has]) if has.any() else math.nan
            figures["concentration_index"] = ci
            add_row(
                ctx,
                "equity",
                rule,
                unit=(CONCENTRATION, ""),
                value=ci,
                value_unit=f"concentration index against {rule.rank_by}",
                status="reported" if not math.isnan(ci) else "no data",
                mode=rule.mode,
                note=(
                    f"{unit_label} of residents ranked by their unit's {rule.rank_by}; > 0: "
                    "higher among the higher-ranked, < 0: among the lower-ranked"
                    + (
                        f"; {(~has).sum()} residents' units have no {rule.rank_by}"
                        if not has.all()
                        else ""
                    )
                ),
            )
    group_means = {}
    for label in ctx.groups:
        members = in_scope(ctx, units, label)
        mean = weighted_mean(x[members], w[members]) if members.any() else math.nan
        group_means[UNIT_GROUPS[label]] = mean
        add_row(
            ctx,
            "equity",
            rule,
            unit=(label, ""),
            value=mean,
            value_unit=f"mean {unit_label}",
            status="reported" if not math.isnan(mean) else "no data",
            mode=rule.mode,
            note=f"{w[members].sum():,.0f} residents",
        )
    if {"urban", "rural"} <= group_means.keys():
        ratio = group_means["rural"] / group_means["urban"] if group_means["urban"] else math.nan
        figures.update(urban_mean=group_means["urban"], rural_mean=group_means["rural"])
        figures["rural_to_urban"] = ratio
        add_row(
            ctx,
            "equity",
            rule,
            unit=(RURAL_URBAN_RATIO, ""),
            value=ratio,
            value_unit=f"rural mean ÷ urban mean ({unit_label})",
            status="reported" if not math.isnan(ratio) else "no data",
            mode=rule.mode,
        )
    for unit in ctx.unit_names if len(ctx.unit_names) > 1 else ():
        mean = float(means.get(unit[0], math.nan))
        add_row(
            ctx,
            "equity",
            rule,
            unit=unit,
            value=mean,
            value_unit=f"mean {unit_label}",
            status="reported" if not math.isnan(mean) else "no data",
            mode=rule.mode,
        )
    ctx.figures[rule.id] = figures


def _measure(
    ctx: CheckContext, rule: EquityRule, chosen: np.ndarray, points: pd.DataFrame
) -> tuple[np.ndarray, str] | None:
    """Per resident point: minutes to the nearest facility (NaN: unreachable) or 2SFCA access
    per 1,000 residents; and a note."""
    fac = ctx.facilities[chosen]
    if rule.measure == "travel_time":
        nearest = _nearest(ctx, rule.mode, fac, points)
        return nearest.travel_time_s / 60.0, f"{len(fac)} facilities by {rule.mode}"
    if rule.supply == "facilities":
        supply = np.ones(len(ctx.facilities))
    else:
        supply = facility_quantity(ctx, rule.supply, ())
        if supply is None:
            accepted = CAPACITY_COLUMNS.get(rule.supply, ()) or (rule.supply,)
            not_computable(
                ctx,
                "equity",
                rule,
                f"the facility file has no {rule.supply} column (accepted headers: "
                f"{', '.join(accepted)})",
            )
            return None
    mask = chosen & np.isfinite(supply)
    cutoff_s = rule.cutoff_min * 60.0
    demand = pd.Series(points["population"].to_numpy(), index=points["demand_id"].to_numpy())
    access = access_per_point(ctx, rule.mode, cutoff_s, mask, supply[mask], demand)
    missing = int((chosen & ~np.isfinite(supply)).sum())
    note = (
        f"2SFCA: {rule.supply} of {int(mask.sum())} facilities within {rule.cutoff_min:g} min "
        f"by {rule.mode}, per 1,000 residents"
    )
    if missing:
        note += f"; {missing} facilities have no {rule.supply} value and are left out"
    return access.reindex(demand.index).to_numpy(dtype=np.float64) * 1000.0, note


def _rank(ctx: CheckContext, rule: EquityRule) -> dict[str, float] | str:
    """The ranking variable per unit name (density: residents per km²), or why there is none."""
    units = ctx.units
    if rule.rank_by == _DENSITY:
        area_km2 = units.geometry.to_crs(ctx.run.network.crs).area.to_numpy() / 1e6
        density = np.where(area_km2 > 0, units["population"].to_numpy() / area_km2, np.nan)
        return dict(zip(units["unit_name"].astype(str), density, strict=True))
    if not ctx.project.units:
        return f"the units have no column {rule.rank_by!r} (the only unit is the boundary)"
    layer = gpd.read_file(ctx.project.resolve(ctx.project.units["path"]))
    if rule.rank_by not in layer.columns:
        return (
            f"the units layer has no column {rule.rank_by!r}; its columns: "
            f"{', '.join(map(str, layer.columns[:12]))}"
        )
    named = units_from_frame(  # the layer's unit names, found as the run found them
        layer,
        name_column=ctx.project.units.get("name_column"),
        code_column=ctx.project.units.get("code_column"),
        source=ctx.project.units["path"],
    )
    values = pd.to_numeric(layer[rule.rank_by], errors="coerce").to_numpy(dtype=np.float64)
    return dict(zip(named["unit_name"].astype(str), values, strict=True))
