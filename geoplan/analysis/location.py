"""Site selection and what-if scenarios on a long travel-time table.

Every entry point reads the same two inputs:

* ``travel_times`` — a DataFrame with ``demand_id``, ``facility_id`` and ``travel_time_s``
  (seconds, demand → facility), one row per pair; pairs beyond the cutoff may be absent
  (:func:`geoplan.analysis.engine.travel_time_matrix` gives positions: map them to ids).
  Facility ids include the existing facilities and the candidate sites. Duplicate pairs keep
  the smallest time; pairs naming a facility that is neither existing nor a candidate are ignored.
* ``demand`` — a Series of population (persons) indexed by ``demand_id`` (unique). Every
  demand id in the table must be in it; demand without any pair is simply never covered.

``existing`` facilities are always open; ``candidates`` (default: every facility id of the
table that is not existing, sorted — a site with no pair in the table is then missing, so name
candidates explicitly when that matters) are the sites that may be opened. A demand point is
*covered* when its time to an open facility is ``<= cutoff_s`` (inclusive, as in
:mod:`geoplan.analysis.coverage`). Results are :class:`SitingResult`: ``selected`` holds the
NEW sites in candidate order; ``covered_population`` counts existing and new coverage together.

Exact answers come from a mixed-integer programme solved by HiGHS (``highspy``), built with
sparse matrices. Demand points with the same covering set (same set of candidates within the
cutoff, not covered by an existing facility) are merged into one row weighted by their summed
population, which shrinks the models a lot on dense demand. ``method="greedy"`` runs a lazy
greedy (a priority queue of marginal gains that are only recomputed when they reach the top,
valid because coverage is submodular) and reports its gap against the bound of the LP
relaxation, solved by HiGHS as well (interior point). The greedy answer also warm-starts the
MILP, so a time limit always leaves a solution to report. For the p-median the heuristic is
the greedy add (each step opens the site that lowers the weighted time most).

``status`` is ``"optimal"`` (proven within ``mip_gap``), ``"time_limit"`` (best solution found
when the time limit struck) or ``"heuristic"`` (greedy). ``gap`` is
``|bound - objective| / |objective|`` (0 when both are 0) — the HiGHS/Gurobi convention — and
``bound`` is the solver's dual bound (MILP) or the LP relaxation's optimum (greedy); where the
solver has none yet, a trivial valid bound (the coverable population for MCLP, one site for
LSCP, 0 for the p-median) is reported instead.
``solve_time_s`` is the wall-clock time of the whole call (checks, model, greedy, solver).
"""

from __future__ import annotations

import heapq
import logging
import math
import os
import sys
import tempfile
import threading
import time
from collections.abc import Hashable, Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp

from ..errors import ConfigError, GeoplanError, InputError

__all__ = [
    "TABLE_COLUMNS",
    "SitingResult",
    "SubCentres",
    "TableTooShort",
    "evaluate_candidates",
    "lscp",
    "mclp",
    "pcenter",
    "pmedian",
    "sub_centres",
]

logger = logging.getLogger(__name__)

TABLE_COLUMNS: tuple[str, ...] = ("demand_id", "facility_id", "travel_time_s")
"""Columns of the long travel-time table read by every function here."""

_METHODS = ("milp", "greedy")
_SHARE_OF = ("coverable", "total")
_REL_TOL = 1e-9


# ----------------------------------------------------------------------------- results


class TableTooShort(ConfigError):
    """The travel-time table stops short of an answer: :func:`pcenter` needs a pair within
    reach of every resident (a table with a longer cutoff may have one)."""


@dataclass(frozen=True)
class SitingResult:
    """The answer of :func:`mclp`, :func:`lscp` or :func:`pmedian`.

    Attributes
    ----------
    problem : str
        ``"mclp"``, ``"lscp"``, ``"pmedian"`` (``"…-capacitated"`` with capacities) or
        ``"pcenter"``.
    method : str
        ``"milp"`` or ``"greedy"``.
    selected : tuple
        NEW facility ids to open, in candidate order.
    existing : tuple
        The existing facilities (always open).
    objective : float
        MCLP: persons covered (existing + new). LSCP: number of new sites. p-median: weighted
        time in person-seconds (plus the unserved penalty, if any). Capacitated MCLP: persons
        served within the cutoff. p-center: the longest time (s) from any resident to the
        nearest open site.
    covered_population : float
        Persons covered within the cutoff (MCLP, LSCP) or assigned to an open site (p-median).
    total_population, coverable_population : float
        All persons; persons that existing facilities and all candidates together could
        cover (MCLP, LSCP) or that have any pair in the table (p-median).
    status : str
        ``"optimal"``, ``"time_limit"`` or ``"heuristic"``.
    gap, bound : float
        Relative gap ``|bound - objective| / |objective|`` and the proven bound.
    solve_time_s : float
        Wall-clock seconds of the call.
    cutoff_s : float or None
        Coverage cutoff (seconds, inclusive); None for p-median.
    weighted_time_s : float
        p-median and p-center: sum of population × travel seconds over assigned demand (NaN
        otherwise).
    unassigned_population : float
        p-median: persons not assigned to an open site — no pair in the table at all, or left
        unserved at ``unserved_penalty_s`` (NaN otherwise).
    assignment : DataFrame or None
        p-median, p-center and capacitated models: ``demand_id``, ``facility_id``, ``share`` (of the
        point's population), ``population``, ``travel_time_s``; one row per assigned pair.
    """

    problem: str
    method: str
    selected: tuple
    existing: tuple
    objective: float
    covered_population: float
    total_population: float
    coverable_population: float
    status: str
    gap: float
    bound: float
    solve_time_s: float
    cutoff_s: float | None = None
    weighted_time_s: float = math.nan
    unassigned_population: float = math.nan
    assignment: pd.DataFrame | None = field(default=None, repr=False, compare=False)

    @property
    def share_covered(self) -> float:
        """``covered_population / total_population`` (NaN without population)."""
        if self.total_population <= 0:
            return math.nan
        return self.covered_population / self.total_population


@dataclass(frozen=True)
class SubCentres:
    """Hubs of a facility tier and the 片区 (catchment) of every facility.

    ``assignment`` has one row per facility: ``facility_id``, ``hub_id`` (None when no hub is
    reachable in the table), ``travel_time_s`` (to the hub; 0 for hubs) and ``weight``.
    """

    hubs: tuple
    weighted_time_s: float
    status: str
    gap: float
    bound: float
    solve_time_s: float
    assignment: pd.DataFrame = field(repr=False, compare=False)


# ----------------------------------------------------------------------------- public API


def mclp(
    travel_times: pd.DataFrame,
    demand: pd.Series,
    *,
    p: int,
    cutoff_s: float,
    existing: Iterable[Hashable] = (),
    candidates: Iterable[Hashable] | None = None,
    capacity: pd.Series | None = None,
    method: str = "milp",
    time_limit_s: float = 60.0,
    mip_gap: float = 0.0,
) -> SitingResult:
    """Maximal covering: open ``p`` new sites to cover the most persons within ``cutoff_s``.

    Parameters
    ----------
    travel_times : DataFrame
        ``demand_id``, ``facility_id``, ``travel_time_s`` (see the module docstring).
    demand : Series
        Persons per ``demand_id``.
    p : int
        Number of NEW sites (exactly ``p``; existing facilities stay open on top).
    cutoff_s : float
        Coverage threshold in seconds, inclusive.
    existing, candidates : iterable of ids
        Facilities always open; sites that may be opened (default: all others in the table).
    capacity : Series, optional
        Persons each facility can serve, by facility id (every existing facility and
        candidate; ``inf`` = unlimited). Demand is then assigned fractionally, up to
        capacity, to open facilities within the cutoff, and the model maximises the persons
        served (MILP only).
    method : {"milp", "greedy"}
        Exact HiGHS MILP (warm-started with the greedy answer) or the lazy greedy.
    time_limit_s, mip_gap : float
        HiGHS time limit (seconds) and relative MIP gap (MILP and the LP bound).
    """
    started = time.perf_counter()
    _check_common(method, time_limit_s, mip_gap)
    cutoff_s = _check_cutoff(cutoff_s)
    table = _prepare(travel_times, demand, existing, candidates)
    _check_p(p, table.n_candidates)
    if capacity is not None:
        if method != "milp":
            raise ConfigError("capacitated MCLP is solved exactly only: use method='milp'")
        return _capacitated(
            table,
            problem="mclp",
            p=p,
            cutoff_s=cutoff_s,
            capacity=capacity,
            penalty_s=None,
            time_limit_s=time_limit_s,
            mip_gap=mip_gap,
            started=started,
        )
    cover = _cover_instance(table, cutoff_s)
    greedy = _greedy_cover(cover, p=p)
    model = _mclp_model(cover, p) if cover.n_groups else None
    if model is None:
        chosen, status, bound = greedy, "optimal", cover.base_population
    elif method == "greedy":
        lp = _solve(model, relax=True, time_limit_s=time_limit_s, mip_gap=mip_gap)
        chosen, status, bound = greedy, "heuristic", lp.bound
    else:
        solution = _solve(
            model,
            time_limit_s=time_limit_s,
            mip_gap=mip_gap,
            start=_start_x(greedy, table.n_candidates),
        )
        chosen = _chosen(solution, table.n_candidates)
        status, bound = solution.status, solution.bound
    # Coverable population is always a valid bound (HiGHS reports inf before its first one).
    bound = (
        cover.coverable_population if math.isnan(bound) else min(bound, cover.coverable_population)
    )
    covered = cover.covered_population(chosen)
    result = SitingResult(
        problem="mclp",
        method=method,
        selected=table.selected(chosen),
        existing=table.existing,
        objective=covered,
        covered_population=covered,
        total_population=table.total_population,
        coverable_population=cover.coverable_population,
        status=status,
        gap=_gap(covered, bound),
        bound=float(bound),
        solve_time_s=time.perf_counter() - started,
        cutoff_s=cutoff_s,
    )
    _log(result)
    return result


def lscp(
    travel_times: pd.DataFrame,
    demand: pd.Series,
    *,
    cutoff_s: float,
    target_share: float = 1.0,
    share_of: str = "coverable",
    existing: Iterable[Hashable] = (),
    candidates: Iterable[Hashable] | None = None,
    method: str = "milp",
    time_limit_s: float = 60.0,
    mip_gap: float = 0.0,
) -> SitingResult:
    """Set covering: the fewest new sites so that enough persons are within ``cutoff_s``.

    The target is ``target_share × reference`` persons covered (existing coverage counts),
    where the reference is, with ``share_of="coverable"`` (default), the population that the
    existing facilities and all candidates together could cover — so ``target_share=1.0``
    is the classic LSCP over coverable demand and never infeasible — or, with
    ``share_of="total"``, the whole population (a plan indicator such as "90 % of residents
    within 15 minutes"); a target above what is coverable raises :class:`ConfigError` naming
    how many persons are coverable. ``objective`` is the number of NEW sites; ``bound`` is
    rounded up to an integer.

    Parameters
    ----------
    travel_times, demand, existing, candidates, method, time_limit_s, mip_gap
        As in :func:`mclp`.
    cutoff_s : float
        Coverage threshold in seconds, inclusive.
    target_share : float
        Share of the reference population to cover, in (0, 1].
    share_of : {"coverable", "total"}
        What ``target_share`` is a share of.
    """
    started = time.perf_counter()
    _check_common(method, time_limit_s, mip_gap)
    cutoff_s = _check_cutoff(cutoff_s)
    if share_of not in _SHARE_OF:
        raise ConfigError(f"share_of must be one of {_SHARE_OF}, got {share_of!r}")
    if not 0 < target_share <= 1:
        raise ConfigError(f"target_share must be in (0, 1], got {target_share!r}")
    table = _prepare(travel_times, demand, existing, candidates)
    cover = _cover_instance(table, cutoff_s)
    total, coverable = table.total_population, cover.coverable_population
    target = target_share * (coverable if share_of == "coverable" else total)
    if target > coverable + _tol(coverable):
        raise ConfigError(
            f"LSCP target of {target_share:.1%} of the total population ({target:,.1f} persons) "
            f"cannot be met within {cutoff_s:g} s: existing facilities and all "
            f"{table.n_candidates} candidates together cover only {coverable:,.1f} of "
            f"{total:,.1f} persons ({_share(coverable, total)}); lower target_share, add "
            "candidates, or use share_of='coverable'"
        )
    need = target - cover.base_population
    remaining = float(cover.weight.sum())
    all_groups = need >= remaining - _tol(remaining)
    if need <= _tol(target) or cover.n_groups == 0:
        chosen, status, bound = np.empty(0, np.int64), "optimal", 0.0
    else:
        greedy = _greedy_cover(cover, need=None if all_groups else need)
        model = _lscp_model(cover, None if all_groups else need)
        if method == "greedy":
            lp = _solve(model, relax=True, time_limit_s=time_limit_s, mip_gap=mip_gap)
            chosen, status, bound = greedy, "heuristic", lp.bound
        else:
            solution = _solve(
                model,
                time_limit_s=time_limit_s,
                mip_gap=mip_gap,
                start=_start_x(greedy, table.n_candidates),
            )
            chosen = _chosen(solution, table.n_candidates)
            status, bound = solution.status, solution.bound
        # At least one new site is needed; LP/MILP bounds round up (integer objective).
        bound = float(max(math.ceil(bound - 1e-6), 1)) if math.isfinite(bound) else 1.0
    covered = cover.covered_population(chosen)
    if covered < target - _tol(target) - 1e-6:
        logger.warning("LSCP answer covers %.3f persons, below the target %.3f", covered, target)
    result = SitingResult(
        problem="lscp",
        method=method,
        selected=table.selected(chosen),
        existing=table.existing,
        objective=float(len(chosen)),
        covered_population=covered,
        total_population=total,
        coverable_population=coverable,
        status=status,
        gap=_gap(float(len(chosen)), bound),
        bound=bound,
        solve_time_s=time.perf_counter() - started,
        cutoff_s=cutoff_s,
    )
    _log(result)
    return result


def pmedian(
    travel_times: pd.DataFrame,
    demand: pd.Series,
    *,
    p: int,
    existing: Iterable[Hashable] = (),
    candidates: Iterable[Hashable] | None = None,
    capacity: pd.Series | None = None,
    unserved_penalty_s: float | None = None,
    method: str = "milp",
    time_limit_s: float = 60.0,
    mip_gap: float = 0.0,
) -> SitingResult:
    """p-median: open ``p`` new sites minimising population-weighted time to the nearest site.

    Assignment is restricted to the pairs in the table. Demand with no pair at all is
    reported in ``unassigned_population`` and excluded from the objective (a table truncated
    at a cutoff makes far demand unassignable). Every other person must be assigned to an
    open site; when ``p`` sites cannot reach them all the call raises :class:`ConfigError`
    unless ``unserved_penalty_s`` is given: demand may then stay unserved at that many
    seconds per person (a natural value is the table's cutoff).

    Parameters
    ----------
    travel_times, demand, existing, candidates, time_limit_s, mip_gap
        As in :func:`mclp`.
    p : int
        Number of NEW sites.
    capacity : Series, optional
        Persons each facility can serve, by facility id (``inf`` = unlimited); demand is then
        split fractionally up to capacity (MILP only).
    unserved_penalty_s : float, optional
        Seconds charged per person left unserved.
    method : {"milp", "greedy"}
        Exact MILP (warm-started with the greedy answer) or the greedy add heuristic.
    """
    started = time.perf_counter()
    _check_common(method, time_limit_s, mip_gap)
    if unserved_penalty_s is not None and not (
        math.isfinite(unserved_penalty_s) and unserved_penalty_s >= 0
    ):
        raise ConfigError(f"unserved_penalty_s must be >= 0 seconds, got {unserved_penalty_s!r}")
    table = _prepare(travel_times, demand, existing, candidates)
    _check_p(p, table.n_candidates)
    if capacity is not None:
        if method != "milp":
            raise ConfigError("capacitated p-median is solved exactly only: use method='milp'")
        return _capacitated(
            table,
            problem="pmedian",
            p=p,
            cutoff_s=None,
            capacity=capacity,
            penalty_s=unserved_penalty_s,
            time_limit_s=time_limit_s,
            mip_gap=mip_gap,
            started=started,
        )
    inst = _median_instance(table, unserved_penalty_s)
    greedy = _greedy_median(inst, p)
    if inst.n_groups == 0:
        chosen, status, bound = greedy, "optimal", None
    else:
        model = _median_model(inst, p)
        if method == "greedy":
            if not inst.all_served(greedy):
                raise _unreachable_error(p, inst, "the greedy heuristic")
            lp = _solve(model, relax=True, time_limit_s=time_limit_s, mip_gap=mip_gap)
            chosen, status, bound = greedy, "heuristic", lp.bound
        else:
            start = _start_x(greedy, table.n_candidates) if inst.all_served(greedy) else None
            solution = _solve(model, time_limit_s=time_limit_s, mip_gap=mip_gap, start=start)
            if solution.status == "infeasible":
                raise _unreachable_error(p, inst, "any choice of sites")
            chosen = _chosen(solution, table.n_candidates)
            status, bound = solution.status, solution.bound
    assignment, weighted, served, penalty_part = _nearest_assignment(
        table, chosen, unserved_penalty_s
    )
    objective = weighted + penalty_part
    # The objective itself when nothing was optimised; 0 bounds any weighted time.
    bound = objective if bound is None else (0.0 if math.isnan(bound) else max(bound, 0.0))
    result = SitingResult(
        problem="pmedian",
        method=method,
        selected=table.selected(chosen),
        existing=table.existing,
        objective=objective,
        covered_population=served,
        total_population=table.total_population,
        coverable_population=inst.assignable_population,
        status=status,
        gap=_gap(objective, bound),
        bound=float(bound),
        solve_time_s=time.perf_counter() - started,
        weighted_time_s=weighted,
        unassigned_population=table.total_population - served,
        assignment=assignment,
    )
    _log(result)
    return result


def pcenter(
    travel_times: pd.DataFrame,
    demand: pd.Series,
    *,
    p: int,
    existing: Iterable[Hashable] = (),
    candidates: Iterable[Hashable] | None = None,
    time_limit_s: float = 60.0,
) -> SitingResult:
    """p-center: open ``p`` new sites minimising the LONGEST time from a resident to the
    nearest open site (an ambulance's worst response: 院前急救 station siting).

    Exact, in two steps, both with HiGHS. (1) The optimal radius is one of the table's times:
    a bisection over them, each step asking whether ``p`` new sites (with the existing ones)
    cover every resident within that radius — a set-covering MILP on the merged covering
    sets (:func:`lscp`'s model; a greedy cover of at most ``p`` sites answers yes without
    it). (2) Among the choices that achieve the radius, the one with the least
    population-weighted time (a p-median restricted to pairs within the radius), since the
    radius alone leaves most sites free.

    Residents are the demand points with population above 0. A resident with no pair in the
    table (beyond its cutoff from every site) makes the longest time unknowable: that raises
    :class:`TableTooShort` (compute the table with a longer cutoff), as does a ``p`` too small
    for the table to reach everyone. ``status`` is ``"optimal"`` when every bisection step
    was decided and the sites were chosen within ``time_limit_s`` (spread over the steps);
    otherwise ``"time_limit"``, with ``bound`` the shortest radius not proven too short (the
    objective is then only an upper bound on the optimum).

    Parameters
    ----------
    travel_times, demand, existing, candidates, time_limit_s
        As in :func:`mclp`; ``travel_times`` runs from the facility to the resident for a
        response (``direction = "from_facility"``).
    p : int
        Number of NEW sites.
    """
    started = time.perf_counter()
    _check_common("milp", time_limit_s, 0.0)
    table = _prepare(travel_times, demand, existing, candidates)
    _check_p(p, table.n_candidates)
    people = table.population > 0
    if not people.any():
        raise ConfigError("p-center needs demand with population above 0 / 需有人口大于 0 的需求点")
    paired = np.zeros(len(people), dtype=bool)
    paired[table.row] = True
    lost = people & ~paired
    if lost.any():
        raise TableTooShort(
            f"p-center: {int(lost.sum()):,} demand points ({table.population[lost].sum():,.1f} "
            "persons) have no pair in the table, so no site reaches them within its cutoff and "
            "the longest time cannot be known; compute the table with a longer cutoff, e.g. "
            f"ids {_examples(table.demand_ids[lost].tolist())} / 部分居民在出行时间表的上限内"
            "无任何站点可达，无法求最长时间，请加长时间上限"
        )
    mask = people[table.row]
    radii = np.unique(table.time_s[mask])
    nearest_any = np.full(len(people), np.inf)
    np.minimum.at(nearest_any, table.row[mask], table.time_s[mask])
    lo, hi = int(np.searchsorted(radii, nearest_any[people].max())), len(radii) - 1
    deadline = started + time_limit_s
    proven_lo, undecided = lo, False

    def feasible(k: int) -> bool | None:
        """Can p new sites cover every resident within radii[k]? None: not decided in time."""
        cover = _cover_instance(table, float(radii[k]))
        if cover.n_groups == 0:
            return True
        greedy = _greedy_cover(cover)
        if len(greedy) <= p:
            return True
        left = deadline - time.perf_counter()
        if left <= 0:
            return None
        solution = _solve(
            _lscp_model(cover, None),
            time_limit_s=left,
            mip_gap=0.0,
            start=_start_x(greedy, table.n_candidates),
        )
        if _chosen(solution, table.n_candidates).size <= p:
            return True
        if solution.status == "optimal" or solution.bound > p + 1e-6:
            return False
        return None

    reach_all = feasible(hi)
    if reach_all is None:
        raise ConfigError(
            f"p-center: time_limit_s={time_limit_s:g} ran out before p={p} new sites were "
            "known to reach every resident within the table; raise time_limit_s / "
            "求解时间不足，请加大 time_limit_s"
        )
    if not reach_all:
        need = lscp(
            _table_frame(table),
            demand,
            cutoff_s=max(float(radii[hi]), math.ulp(0.0)),  # lscp needs a cutoff above 0
            existing=table.existing,
            candidates=table.candidates,
        )
        raise TableTooShort(
            f"p-center: p={p} new sites cannot reach every resident within the table "
            f"(its longest time {radii[hi]:,.1f} s); covering them all takes "
            f"{int(need.objective)} new sites: raise p or the table's cutoff / "
            f"新增 {p} 个站点无法在时间表内覆盖全部居民，需 {int(need.objective)} 个"
        )
    while lo < hi:
        mid = (lo + hi) // 2
        answer = feasible(mid)
        if answer:
            hi = mid
        else:
            lo = mid + 1
            if answer is None:
                undecided = True
            else:
                proven_lo = max(proven_lo, lo)
    radius = float(radii[hi])
    within = mask & (table.time_s <= radius)
    served = people.nonzero()[0]
    sites = pmedian(
        _table_frame(table, within),
        pd.Series(table.population[served], index=table.demand_ids[served]),
        p=p,
        existing=table.existing,
        candidates=table.candidates,
        time_limit_s=max(deadline - time.perf_counter(), 1.0),
    )
    status = "time_limit" if undecided or sites.status != "optimal" else "optimal"
    bound = radius if not undecided else float(radii[proven_lo])
    result = SitingResult(
        problem="pcenter",
        method="milp",
        selected=sites.selected,
        existing=table.existing,
        objective=radius,
        covered_population=sites.covered_population,
        total_population=table.total_population,
        coverable_population=float(table.population[people].sum()),
        status=status,
        gap=_gap(radius, bound),
        bound=bound,
        solve_time_s=time.perf_counter() - started,
        weighted_time_s=sites.weighted_time_s,
        unassigned_population=table.total_population - sites.covered_population,
        assignment=sites.assignment,
    )
    _log(result)
    return result


def _table_frame(table: _Table, keep: np.ndarray | None = None) -> pd.DataFrame:
    """A prepared table (its pairs where ``keep``) back as the long ``TABLE_COLUMNS`` frame."""
    keep = np.ones(len(table.row), dtype=bool) if keep is None else keep
    return pd.DataFrame(
        {
            "demand_id": table.demand_ids[table.row[keep]],
            "facility_id": table.facility_ids()[table.col[keep]],
            "travel_time_s": table.time_s[keep],
        }
    )


def evaluate_candidates(
    travel_times: pd.DataFrame,
    demand: pd.Series,
    *,
    cutoff_s: float,
    existing: Iterable[Hashable] = (),
    candidates: Iterable[Hashable] | None = None,
) -> pd.DataFrame:
    """What each candidate alone would add: persons newly brought within ``cutoff_s``.

    One grouped sum over the table (no search per candidate). Returns one row per candidate,
    best first: ``rank`` (1, 2, … in that order), ``candidate_id``, ``new_population``
    (persons not covered by the existing facilities that the candidate would cover) and
    ``new_points`` (such demand points, zero-population points included). Ties keep the
    order of more points first, then candidate order.
    """
    cutoff_s = _check_cutoff(cutoff_s)
    table = _prepare(travel_times, demand, existing, candidates)
    n_cand, n_exist = table.n_candidates, table.n_existing
    within = table.time_s <= cutoff_s
    base = np.zeros(len(table.population), dtype=bool)
    base[table.row[within & (table.col < n_exist)]] = True
    new = within & (table.col >= n_exist) & ~base[table.row]
    rows, cols = table.row[new], table.col[new] - n_exist
    new_population = np.bincount(cols, weights=table.population[rows], minlength=n_cand)
    new_points = np.bincount(cols, minlength=n_cand).astype(np.int64)
    order = np.lexsort((np.arange(n_cand), -new_points, -new_population))
    return pd.DataFrame(
        {
            "rank": np.arange(1, n_cand + 1, dtype=np.int64),
            "candidate_id": [table.candidates[i] for i in order],
            "new_population": new_population[order],
            "new_points": new_points[order],
        }
    )


def sub_centres(
    travel_times_between_facilities: pd.DataFrame,
    weights: pd.Series,
    *,
    k: int,
    candidates: Iterable[Hashable] | None = None,
    unserved_penalty_s: float | None = None,
    time_limit_s: float = 60.0,
    mip_gap: float = 0.0,
) -> SubCentres:
    """Choose ``k`` hubs in a facility tier and the 片区 of every facility (a p-median).

    Parameters
    ----------
    travel_times_between_facilities : DataFrame
        Long table between the tier's facilities: ``from_id``, ``to_id``, ``travel_time_s``
        (or ``demand_id``, ``facility_id``, ``travel_time_s``), seconds from a facility to a
        possible hub. Rows naming facilities outside ``weights`` are ignored; every facility
        reaches itself in 0 s even when the table omits it.
    weights : Series
        Weight per facility id (the tier), e.g. population served or beds.
    k : int
        Number of hubs.
    candidates : iterable of ids, optional
        Facilities that may become hubs (default: all of the tier).
    unserved_penalty_s, time_limit_s, mip_gap
        As in :func:`pmedian`.
    """
    started = time.perf_counter()
    table = travel_times_between_facilities
    if {"from_id", "to_id", "travel_time_s"} <= set(table.columns):
        table = table.rename(columns={"from_id": "demand_id", "to_id": "facility_id"})
    missing = [c for c in TABLE_COLUMNS if c not in table.columns]
    if missing:
        raise InputError(
            f"travel_times_between_facilities lacks columns {missing}; expected from_id, "
            "to_id, travel_time_s (or demand_id, facility_id, travel_time_s)"
        )
    weights = _demand_series(weights, name="weights")
    tier = weights.index
    keep = table["demand_id"].isin(tier) & table["facility_id"].isin(tier)
    ids = tier.to_numpy(dtype=object)
    selfs = pd.DataFrame({"demand_id": ids, "facility_id": ids, "travel_time_s": 0.0})
    long = pd.concat([table.loc[keep, list(TABLE_COLUMNS)], selfs], ignore_index=True).astype(
        {"travel_time_s": float}
    )
    hubs_allowed = (
        tuple(ids.tolist()) if candidates is None else _id_tuple(candidates, "candidates")
    )
    in_tier = set(ids.tolist())
    outside = [c for c in hubs_allowed if c not in in_tier]
    if outside:
        raise ConfigError(f"hub candidates not in weights: {_examples(outside)}")
    if (
        isinstance(k, bool)
        or not isinstance(k, (int, np.integer))
        or not 0 < k <= len(hubs_allowed)
    ):
        raise ConfigError(
            f"k must be an integer in 1..{len(hubs_allowed)} (hub candidates), got {k!r}"
        )
    result = pmedian(
        long,
        weights,
        p=k,
        candidates=hubs_allowed,
        unserved_penalty_s=unserved_penalty_s,
        time_limit_s=time_limit_s,
        mip_gap=mip_gap,
    )
    hubs = result.selected
    assigned = result.assignment
    frame = pd.DataFrame({"facility_id": ids, "weight": weights.to_numpy(dtype=float)})
    lookup = assigned.drop_duplicates("demand_id").set_index("demand_id").reindex(tier)
    hub_col = lookup["facility_id"].to_numpy(dtype=object, copy=True)
    hub_col[pd.isna(hub_col)] = None
    time_col = lookup["travel_time_s"].to_numpy(dtype=float, copy=True)
    is_hub = np.isin(ids, np.array(hubs, dtype=object)) if hubs else np.zeros(len(ids), bool)
    hub_col[is_hub] = ids[is_hub]
    time_col[is_hub] = 0.0
    frame.insert(1, "hub_id", hub_col)
    frame.insert(2, "travel_time_s", time_col)
    return SubCentres(
        hubs=hubs,
        weighted_time_s=result.weighted_time_s,
        status=result.status,
        gap=result.gap,
        bound=result.bound,
        solve_time_s=time.perf_counter() - started,
        assignment=frame,
    )


# ----------------------------------------------------------------------------- input checks


@dataclass(frozen=True)
class _Table:
    """The travel-time table as integer pairs: ``col`` < ``n_existing`` are existing."""

    demand_ids: pd.Index
    population: np.ndarray
    existing: tuple
    candidates: tuple
    row: np.ndarray
    col: np.ndarray
    time_s: np.ndarray

    @property
    def n_existing(self) -> int:
        return len(self.existing)

    @property
    def n_candidates(self) -> int:
        return len(self.candidates)

    @property
    def n_facilities(self) -> int:
        """Existing facilities and candidates: the range of ``col``."""
        return self.n_existing + self.n_candidates

    def facility_ids(self) -> np.ndarray:
        """Ids by facility position (``col``), as an object array."""
        ids = np.empty(self.n_facilities, dtype=object)
        ids[:] = [*self.existing, *self.candidates]
        return ids

    @property
    def total_population(self) -> float:
        return float(self.population.sum())

    def selected(self, chosen: np.ndarray) -> tuple:
        """Candidate ids of candidate positions, in candidate order."""
        return tuple(self.candidates[j] for j in np.sort(np.asarray(chosen, dtype=np.int64)))


def _check_common(method: str, time_limit_s: float, mip_gap: float) -> None:
    if method not in _METHODS:
        raise ConfigError(f"method must be one of {_METHODS}, got {method!r}")
    if not (time_limit_s > 0):
        raise ConfigError(f"time_limit_s must be positive, got {time_limit_s!r}")
    if not (mip_gap >= 0):
        raise ConfigError(f"mip_gap must be >= 0, got {mip_gap!r}")


def _check_cutoff(cutoff_s: float) -> float:
    try:
        value = float(cutoff_s)
    except (TypeError, ValueError):
        raise ConfigError(f"cutoff_s must be a number of seconds, got {cutoff_s!r}") from None
    if not (math.isfinite(value) and value > 0):
        raise ConfigError(f"cutoff_s must be positive and finite, got {cutoff_s!r}")
    return value


def _check_p(p: int, n_candidates: int) -> None:
    if isinstance(p, bool) or not isinstance(p, (int, np.integer)) or p < 0:
        raise ConfigError(f"p must be a non-negative integer, got {p!r}")
    if p > n_candidates:
        raise ConfigError(f"p={p} new sites requested but there are only {n_candidates} candidates")


def _examples(values: Iterable[Any], n: int = 5) -> str:
    values = list(values)
    shown = ", ".join(repr(v) for v in values[:n])
    return shown + (f" … ({len(values)} in all)" if len(values) > n else "")


def _id_tuple(values: Iterable[Hashable], name: str) -> tuple:
    """Ids as a tuple without duplicates (first kept); a bare string is an error."""
    if isinstance(values, (str, bytes)):
        raise ConfigError(f"{name} must be a list of facility ids, not the string {values!r}")
    return tuple(dict.fromkeys(_plain(v) for v in values))


def _plain(value: Any) -> Any:
    """numpy scalars as Python scalars (tidy tuples of ids)."""
    return value.item() if isinstance(value, np.generic) else value


def _sorted_ids(values: np.ndarray) -> list:
    items = [_plain(v) for v in values.tolist()]
    try:
        return sorted(items)
    except TypeError:
        return items


def _demand_series(demand: pd.Series, *, name: str = "demand") -> pd.Series:
    if not isinstance(demand, pd.Series):
        raise InputError(
            f"{name} must be a pandas Series of persons indexed by id (e.g. "
            "demand.set_index('demand_id')['population']), "
            f"got {type(demand).__name__}"
        )
    if demand.index.has_duplicates:
        dup = demand.index[demand.index.duplicated()].unique().tolist()
        raise InputError(f"{name} index has duplicate ids: {_examples(dup)}")
    try:
        values = demand.to_numpy(dtype=float)
    except (TypeError, ValueError):
        raise InputError(f"{name} values must be numbers (persons)") from None
    bad = ~np.isfinite(values) | (values < 0)
    if bad.any():
        raise InputError(
            f"{name} has {int(bad.sum())} missing, infinite or negative values, e.g. ids "
            f"{_examples(demand.index[bad].tolist())}"
        )
    return demand


def _prepare(
    travel_times: pd.DataFrame,
    demand: pd.Series,
    existing: Iterable[Hashable],
    candidates: Iterable[Hashable] | None,
) -> _Table:
    """Check the inputs and turn the table into integer pairs (smallest time per pair)."""
    if not isinstance(travel_times, pd.DataFrame):
        raise InputError(f"travel_times must be a DataFrame, got {type(travel_times).__name__}")
    missing = [c for c in TABLE_COLUMNS if c not in travel_times.columns]
    if missing:
        raise InputError(
            f"travel_times lacks columns {missing}; expected the long table "
            "demand_id, facility_id, travel_time_s"
        )
    series = _demand_series(demand)
    population = series.to_numpy(dtype=float)
    demand_ids = pd.Index(series.index)
    existing_ids = _id_tuple(existing, "existing")
    if candidates is None:
        taken = set(existing_ids)
        uniques = pd.unique(travel_times["facility_id"].to_numpy())
        candidate_ids = tuple(f for f in _sorted_ids(uniques) if f not in taken)
    else:
        candidate_ids = _id_tuple(candidates, "candidates")
        both = set(candidate_ids) & set(existing_ids)
        if both:
            raise ConfigError(
                f"ids both existing and candidate: {_examples(sorted(both, key=str))}"
            )
    facility_index = pd.Index([*existing_ids, *candidate_ids], tupleize_cols=False)
    col = facility_index.get_indexer(travel_times["facility_id"])
    row = demand_ids.get_indexer(travel_times["demand_id"])
    unknown = row < 0
    if unknown.any():
        names = pd.unique(travel_times["demand_id"].to_numpy()[unknown]).tolist()
        raise InputError(
            f"{int(unknown.sum())} rows of travel_times name demand ids absent from demand, "
            f"e.g. {_examples(names)}; filter the table to the demand you pass"
        )
    time_s = travel_times["travel_time_s"].to_numpy(dtype=float)
    bad = ~np.isfinite(time_s) | (time_s < 0)
    if bad.any():
        raise InputError(
            f"travel_times has {int(bad.sum())} missing, infinite or negative travel_time_s "
            "values; leave unreachable pairs out of the table instead"
        )
    keep = col >= 0
    row, col, time_s = row[keep].astype(np.int64), col[keep].astype(np.int64), time_s[keep]
    pair = row * len(facility_index) + col
    if not np.all(pair[1:] > pair[:-1]):  # engine tables come sorted and unique already
        order = np.lexsort((time_s, pair))
        row, col, time_s, pair = row[order], col[order], time_s[order], pair[order]
    first = np.ones(len(row), dtype=bool)
    first[1:] = pair[1:] != pair[:-1]
    if not first.all():
        logger.info("travel_times: %d duplicate pairs, kept the fastest", int((~first).sum()))
    absent = len(facility_index) - len(np.unique(col))
    if absent:
        logger.info("%d existing or candidate facilities have no pair in the table", absent)
    return _Table(
        demand_ids=demand_ids,
        population=population,
        existing=existing_ids,
        candidates=candidate_ids,
        row=row[first],
        col=col[first],
        time_s=time_s[first],
    )


# ----------------------------------------------------------------------------- coverage models


@dataclass(frozen=True)
class _Cover:
    """Coverage instance: demand not covered by existing facilities, merged by covering set.

    ``incidence`` is groups × candidates (1 = within the cutoff), ``weight`` persons per group.
    """

    table: _Table
    base: np.ndarray
    coverable: np.ndarray
    incidence: sp.csr_array
    weight: np.ndarray

    @property
    def n_groups(self) -> int:
        return len(self.weight)

    @property
    def base_population(self) -> float:
        return float(self.table.population[self.base].sum())

    @property
    def coverable_population(self) -> float:
        return float(self.table.population[self.coverable].sum())

    def covered_population(self, chosen: np.ndarray) -> float:
        """Persons covered by the existing facilities and the chosen candidates, exactly."""
        pick = np.zeros(self.table.n_candidates, dtype=bool)
        pick[np.asarray(chosen, dtype=np.int64)] = True
        hit = (self.incidence @ pick.astype(float)) > 0
        return self.base_population + float(self.weight[hit].sum())


def _cover_instance(table: _Table, cutoff_s: float) -> _Cover:
    n_dem, n_exist, n_cand = len(table.population), table.n_existing, table.n_candidates
    within = table.time_s <= cutoff_s
    row, col = table.row[within], table.col[within]
    coverable = np.zeros(n_dem, dtype=bool)
    coverable[row] = True
    base = np.zeros(n_dem, dtype=bool)
    base[row[col < n_exist]] = True
    open_rows = ~base & (table.population > 0)
    pick = open_rows[row] & (col >= n_exist)
    r, c = row[pick], col[pick] - n_exist
    used, local = np.unique(r, return_inverse=True)
    matrix = sp.csr_array((np.ones(len(r)), (local.reshape(-1), c)), shape=(len(used), n_cand))
    matrix.sort_indices()
    group, first = _group_identical_rows(matrix)
    weight = np.bincount(group, weights=table.population[used], minlength=len(first))
    logger.debug("coverage instance: %d demand rows merged into %d groups", len(used), len(first))
    return _Cover(table, base, coverable, matrix[first], weight)


def _group_identical_rows(
    matrix: sp.csr_array, *, values: bool = False
) -> tuple[np.ndarray, np.ndarray]:
    """Group rows with identical column sets (and values): group per row, first row per group.

    Rows are hashed (two salted 64-bit sums and the length) and then compared exactly; groups
    are numbered in order of their first row.
    """
    n_rows, n_cols = matrix.shape
    if n_rows == 0:
        return np.empty(0, np.int64), np.empty(0, np.int64)
    indptr = matrix.indptr.astype(np.int64)
    indices = matrix.indices.astype(np.int64)
    lengths = np.diff(indptr)
    rng = np.random.default_rng(0x51717)
    salt = rng.integers(1, np.iinfo(np.int64).max, size=(2, n_cols), dtype=np.int64)
    salt = salt.view(np.uint64)
    h1, h2 = salt[0][indices], salt[1][indices]
    if values:
        bits = np.ascontiguousarray(matrix.data, dtype=np.float64).view(np.uint64)
        h1 = h1 ^ (bits * np.uint64(0x9E3779B97F4A7C15))
        h2 = h2 + (bits ^ np.uint64(0xC2B2AE3D27D4EB4F)) * np.uint64(0x165667B19E3779F9)
    keys = [lengths.astype(np.uint64)]
    for h in (h1, h2):
        run = np.concatenate([np.zeros(1, np.uint64), np.cumsum(h, dtype=np.uint64)])
        keys.append(run[indptr[1:]] - run[indptr[:-1]])
    _, first, inverse = np.unique(
        np.column_stack(keys), axis=0, return_index=True, return_inverse=True
    )
    inverse = inverse.reshape(-1)
    rank = np.empty(len(first), dtype=np.int64)
    order = np.argsort(first, kind="stable")
    rank[order] = np.arange(len(first))
    group, first = rank[inverse], first[order]
    # Exact check against each group's first row (hash collisions are astronomically rare).
    rep = first[group]
    row_of = np.repeat(np.arange(n_rows), lengths)
    other = indptr[rep][row_of] + (np.arange(len(indices)) - indptr[row_of])
    same = indices == indices[other]
    if values:
        same &= matrix.data == matrix.data[other]
    if not same.all():
        logger.debug("row hash collision: demand rows are not merged")
        return np.arange(n_rows, dtype=np.int64), np.arange(n_rows, dtype=np.int64)
    return group, first


def _mclp_model(cover: _Cover, p: int) -> _Model:
    """max Σ w_g y_g  s.t.  y_g ≤ Σ_{j covers g} x_j,  Σ x_j = p,  x binary, 0 ≤ y ≤ 1."""
    n_groups, n_cand = cover.incidence.shape
    link = sp.hstack([-cover.incidence, sp.identity(n_groups, format="csr")], format="csr")
    count = sp.csr_array(np.concatenate([np.ones(n_cand), np.zeros(n_groups)])[None, :])
    return _Model(
        maximize=True,
        cost=np.concatenate([np.zeros(n_cand), cover.weight]),
        lower=np.zeros(n_cand + n_groups),
        upper=np.ones(n_cand + n_groups),
        matrix=sp.vstack([link, count], format="csr"),
        row_lower=np.concatenate([np.full(n_groups, -np.inf), [p]]),
        row_upper=np.concatenate([np.zeros(n_groups), [p]]),
        integer=np.concatenate([np.ones(n_cand, bool), np.zeros(n_groups, bool)]),
        offset=cover.base_population,
    )


def _lscp_model(cover: _Cover, need: float | None) -> _Model:
    """min Σ x_j s.t. every group covered (``need`` None) or Σ w_g y_g ≥ need, y_g ≤ Σ x_j."""
    n_groups, n_cand = cover.incidence.shape
    if need is None:
        return _Model(
            maximize=False,
            cost=np.ones(n_cand),
            lower=np.zeros(n_cand),
            upper=np.ones(n_cand),
            matrix=cover.incidence.tocsr(),
            row_lower=np.ones(n_groups),
            row_upper=np.full(n_groups, np.inf),
            integer=np.ones(n_cand, bool),
        )
    link = sp.hstack([-cover.incidence, sp.identity(n_groups, format="csr")], format="csr")
    amount = sp.csr_array(np.concatenate([np.zeros(n_cand), cover.weight])[None, :])
    return _Model(
        maximize=False,
        cost=np.concatenate([np.ones(n_cand), np.zeros(n_groups)]),
        lower=np.zeros(n_cand + n_groups),
        upper=np.ones(n_cand + n_groups),
        matrix=sp.vstack([link, amount], format="csr"),
        row_lower=np.concatenate([np.full(n_groups, -np.inf), [need]]),
        row_upper=np.concatenate([np.zeros(n_groups), [np.inf]]),
        integer=np.concatenate([np.ones(n_cand, bool), np.zeros(n_groups, bool)]),
    )


def _greedy_cover(cover: _Cover, *, p: int | None = None, need: float | None = None) -> np.ndarray:
    """Lazy greedy: candidate positions in pick order.

    Stops after ``p`` picks, or once ``need`` persons are newly covered, or (both None) once
    every group is covered. Ties go to the earlier candidate.
    """
    by_candidate = cover.incidence.T.tocsr()
    by_candidate.sort_indices()
    weight = cover.weight
    gains = by_candidate @ weight
    heap = [(-float(g), j) for j, g in enumerate(gains)]
    heapq.heapify(heap)
    covered = np.zeros(cover.n_groups, dtype=bool)
    left, total, picks = cover.n_groups, 0.0, []
    target = None if need is None else need - _tol(need)
    while heap:
        if p is not None and len(picks) >= p:
            break
        if p is None and (left == 0 if target is None else total >= target):
            break
        _, j = heapq.heappop(heap)
        groups = by_candidate.indices[by_candidate.indptr[j] : by_candidate.indptr[j + 1]]
        fresh = ~covered[groups]
        gain = float(np.sum(weight[groups] * fresh))
        if heap and (-gain, j) > heap[0]:
            heapq.heappush(heap, (-gain, j))
            continue
        picks.append(j)
        covered[groups] = True
        left -= int(fresh.sum())
        total += gain
    return np.asarray(picks, dtype=np.int64)


# ----------------------------------------------------------------------------- p-median


@dataclass(frozen=True)
class _Median:
    """Uncapacitated p-median instance over candidates only.

    Per model group: ``fallback_s`` — the nearest existing time, or the unserved penalty when
    smaller (inf when neither); ``pairs`` — groups × candidates with times strictly below the
    fallback. Demand without such pairs is a constant and left out.
    """

    table: _Table
    pairs: sp.csr_array
    weight: np.ndarray
    fallback_s: np.ndarray
    constant: float
    assignable_population: float

    @property
    def n_groups(self) -> int:
        return len(self.weight)

    def all_served(self, chosen: np.ndarray) -> bool:
        """Whether every group has a finite time with these candidates open."""
        reach = np.isfinite(self.fallback_s)
        if not reach.all():
            pick = np.zeros(self.table.n_candidates, dtype=bool)
            pick[chosen] = True
            pairs = self.pairs  # structure only: a pair may have a time of 0
            hits = sp.csr_array(
                (pick[pairs.indices].astype(float), pairs.indices, pairs.indptr),
                shape=pairs.shape,
            )
            has = np.asarray(hits.sum(axis=1)).reshape(-1) > 0
            reach = reach | has
        return bool(reach.all())


def _median_instance(table: _Table, penalty_s: float | None) -> _Median:
    n_dem, n_exist = len(table.population), table.n_existing
    pop = table.population
    assignable = np.zeros(n_dem, dtype=bool)
    assignable[table.row] = True
    nearest_existing = np.full(n_dem, np.inf)
    ex = table.col < n_exist
    np.minimum.at(nearest_existing, table.row[ex], table.time_s[ex])
    fallback = nearest_existing if penalty_s is None else np.minimum(nearest_existing, penalty_s)
    cand = (table.col >= n_exist) & (pop[table.row] > 0)
    cand &= table.time_s < fallback[table.row]
    r, c, t = table.row[cand], table.col[cand] - n_exist, table.time_s[cand]
    used, local = np.unique(r, return_inverse=True)
    local = local.reshape(-1)
    fixed = assignable & (pop > 0)
    fixed[used] = False
    constant = float(np.sum(pop[fixed] * fallback[fixed]))
    # Merge rows with the same candidate times and the same fallback: an extra column holds
    # the fallback so that it takes part in the comparison.
    n_cand = table.n_candidates
    fb = fallback[used]
    key = sp.csr_array(
        (
            np.concatenate([t, np.where(np.isfinite(fb), fb, -1.0)]),
            (
                np.concatenate([local, np.arange(len(used))]),
                np.concatenate([c, np.full(len(used), n_cand)]),
            ),
        ),
        shape=(len(used), n_cand + 1),
    )
    key.sort_indices()
    group, first = _group_identical_rows(key, values=True)
    weight = np.bincount(group, weights=pop[used], minlength=len(first))
    pairs = sp.csr_array((t, (local, c)), shape=(len(used), n_cand))
    pairs.sort_indices()
    return _Median(
        table=table,
        pairs=pairs[first],
        weight=weight,
        fallback_s=fb[first],
        constant=constant,
        assignable_population=float(pop[assignable].sum()),
    )


def _median_model(inst: _Median, p: int) -> _Model:
    """min Σ w t z + Σ w f u  s.t.  Σ_j z_gj + u_g = 1,  z_gj ≤ x_j,  Σ x = p.

    ``u_g`` (fallback: nearest existing or unserved) exists only where the fallback is
    finite. Columns: x (candidates), z (one per pair), u (per group with a fallback).
    """
    pairs = inst.pairs.tocoo()
    g, j, t = pairs.row.astype(np.int64), pairs.col.astype(np.int64), pairs.data
    n_cand, n_groups, n_pairs = inst.table.n_candidates, inst.n_groups, len(g)
    has_fb = np.flatnonzero(np.isfinite(inst.fallback_s))
    n_fb = len(has_fb)
    n_cols = n_cand + n_pairs + n_fb
    z_cols = n_cand + np.arange(n_pairs)
    u_cols = n_cand + n_pairs + np.arange(n_fb)
    assign = _rows(
        np.concatenate([g, has_fb]), np.concatenate([z_cols, u_cols]), 1.0, n_groups, n_cols
    )
    link = _rows(
        np.tile(np.arange(n_pairs), 2),
        np.concatenate([z_cols, j]),
        np.repeat([1.0, -1.0], n_pairs),
        n_pairs,
        n_cols,
    )
    count = _rows(np.zeros(n_cand, np.int64), np.arange(n_cand), 1.0, 1, n_cols)
    cost = np.concatenate(
        [np.zeros(n_cand), inst.weight[g] * t, inst.weight[has_fb] * inst.fallback_s[has_fb]]
    )
    return _Model(
        maximize=False,
        cost=cost,
        lower=np.zeros(n_cols),
        upper=np.ones(n_cols),
        matrix=sp.vstack([assign, link, count], format="csr"),
        row_lower=np.concatenate([np.ones(n_groups), np.full(n_pairs, -np.inf), [p]]),
        row_upper=np.concatenate([np.ones(n_groups), np.zeros(n_pairs), [p]]),
        integer=np.concatenate([np.ones(n_cand, bool), np.zeros(n_pairs + n_fb, bool)]),
        offset=inst.constant,
    )


def _greedy_median(inst: _Median, p: int) -> np.ndarray:
    """Greedy add: each step opens the candidate that lowers the weighted time most."""
    n_cand = inst.table.n_candidates
    if inst.n_groups == 0:
        return np.arange(min(p, n_cand), dtype=np.int64)
    pairs = inst.pairs.tocoo()
    g, j, t = pairs.row.astype(np.int64), pairs.col.astype(np.int64), pairs.data
    finite = inst.fallback_s[np.isfinite(inst.fallback_s)]
    big = 1e3 * (max(float(t.max(initial=0.0)), float(finite.max(initial=0.0))) + 1.0)
    current = np.where(np.isfinite(inst.fallback_s), inst.fallback_s, big)
    open_ = np.zeros(n_cand, dtype=bool)
    picks = []
    for _ in range(p):
        gain = np.bincount(
            j, weights=inst.weight[g] * np.maximum(current[g] - t, 0.0), minlength=n_cand
        )
        gain[open_] = -1.0
        best = int(np.argmax(gain))
        picks.append(best)
        open_[best] = True
        here = j == best
        current[g[here]] = np.minimum(current[g[here]], t[here])
    return np.asarray(picks, dtype=np.int64)


def _unreachable_error(p: int, inst: _Median, how: str) -> ConfigError:
    return ConfigError(
        f"p-median: with p={p} new sites, {how} leaves demand that has pairs in the table "
        "unserved (no open facility among its pairs); increase p, add candidates, or pass "
        "unserved_penalty_s= to allow unserved demand at a cost"
    )


def _nearest_assignment(
    table: _Table, chosen: np.ndarray, penalty_s: float | None
) -> tuple[pd.DataFrame, float, float, float]:
    """Each demand point to its nearest open facility (ties: facility order).

    Returns the assignment table, weighted seconds, persons served and the penalty part.
    """
    open_ = np.zeros(table.n_facilities, dtype=bool)
    open_[: table.n_existing] = True
    open_[table.n_existing + np.asarray(chosen, dtype=np.int64)] = True
    sel = open_[table.col]
    if penalty_s is not None:
        sel &= table.time_s <= penalty_s
    r, c, t = table.row[sel], table.col[sel], table.time_s[sel]
    order = np.lexsort((c, t, r))
    r, c, t = r[order], c[order], t[order]
    first = np.ones(len(r), dtype=bool)
    first[1:] = r[1:] != r[:-1]
    r, c, t = r[first], c[first], t[first]
    pop = table.population
    assignment = pd.DataFrame(
        {
            "demand_id": table.demand_ids.to_numpy()[r],
            "facility_id": table.facility_ids()[c],
            "share": np.ones(len(r)),
            "population": pop[r],
            "travel_time_s": t,
        }
    )
    weighted = float(np.sum(pop[r] * t))
    served = float(pop[r].sum())
    penalty_part = 0.0
    if penalty_s is not None:
        assignable = np.zeros(len(pop), dtype=bool)
        assignable[table.row] = True
        assignable[r] = False
        penalty_part = float(penalty_s * pop[assignable].sum())
    return assignment, weighted, served, penalty_part


# ----------------------------------------------------------------------------- capacitated


def _capacitated(
    table: _Table,
    *,
    problem: str,
    p: int,
    cutoff_s: float | None,
    capacity: pd.Series,
    penalty_s: float | None,
    time_limit_s: float,
    mip_gap: float,
    started: float,
) -> SitingResult:
    """Capacitated MCLP (``cutoff_s`` given) or p-median: fractional assignment up to capacity.

    Demand points with the same pairs (and, for the p-median, the same times) are merged.
    """
    cover = cutoff_s is not None
    pop = table.population
    cap = _capacities(capacity, table.facility_ids())
    sel = pop[table.row] > 0
    if cover:
        sel &= table.time_s <= cutoff_s
    r, c, t = table.row[sel], table.col[sel], table.time_s[sel]
    used, local = np.unique(r, return_inverse=True)
    local = local.reshape(-1)
    pairs = sp.csr_array((t, (local, c)), shape=(len(used), table.n_facilities))
    pairs.sort_indices()
    key = (
        pairs
        if not cover
        else sp.csr_array((np.ones(pairs.nnz), pairs.indices, pairs.indptr), shape=pairs.shape)
    )
    group, first = _group_identical_rows(key, values=not cover)
    weight = np.bincount(group, weights=pop[used], minlength=len(first))
    grouped = pairs[first].tocoo()
    g, j = grouped.row.astype(np.int64), grouped.col.astype(np.int64)
    model = _capacity_model(table, g, j, grouped.data, weight, cap, p, cover, penalty_s)
    solution = _solve(model, time_limit_s=time_limit_s, mip_gap=mip_gap)
    if solution.status == "infeasible":
        most = float(
            cap[: table.n_existing].sum() + np.sort(cap[table.n_existing :])[::-1][:p].sum()
        )
        raise ConfigError(
            f"capacitated p-median with p={p}: the {weight.sum():,.1f} persons with pairs "
            f"cannot all be assigned: existing facilities and the {p} largest candidates "
            f"hold at most {most:,.1f}, and each person can use only the facilities paired "
            "with it in the table; pass unserved_penalty_s= to allow unserved demand at a cost"
        )
    chosen = _chosen(solution, table.n_candidates)
    share = np.clip(solution.values[table.n_candidates : table.n_candidates + len(g)], 0.0, 1.0)
    live = share > 1e-9
    # Every member of a group takes the group's shares, at its own travel time.
    spread = pd.DataFrame({"pos": used, "g": group}).merge(
        pd.DataFrame({"g": g[live], "col": j[live], "share": share[live]}), on="g"
    )
    pos, col = spread["pos"].to_numpy(), spread["col"].to_numpy()
    time_s = _pair_time(table, pos, col)
    assigned = pop[pos] * spread["share"].to_numpy()
    assignment = pd.DataFrame(
        {
            "demand_id": table.demand_ids.to_numpy()[pos],
            "facility_id": table.facility_ids()[col],
            "share": spread["share"].to_numpy(),
            "population": assigned,
            "travel_time_s": time_s,
        }
    ).sort_values(["demand_id", "facility_id"], key=_sort_key, ignore_index=True)
    served, weighted = float(assigned.sum()), float(np.sum(assigned * time_s))
    reach = np.zeros(len(pop), dtype=bool)
    reach[table.row[table.time_s <= cutoff_s] if cover else table.row] = True
    reachable = float(pop[reach].sum())
    if cover:
        objective, bound = served, min(solution.bound, reachable)
    else:
        objective = weighted + (penalty_s or 0.0) * max(reachable - served, 0.0)
        bound = max(solution.bound, 0.0)
    result = SitingResult(
        problem=f"{problem}-capacitated",
        method="milp",
        selected=table.selected(chosen),
        existing=table.existing,
        objective=objective,
        covered_population=served,
        total_population=table.total_population,
        coverable_population=reachable,
        status=solution.status,
        gap=_gap(objective, bound),
        bound=float(bound),
        solve_time_s=time.perf_counter() - started,
        cutoff_s=cutoff_s,
        weighted_time_s=math.nan if cover else weighted,
        unassigned_population=math.nan if cover else table.total_population - served,
        assignment=assignment,
    )
    _log(result)
    return result


def _capacity_model(
    table: _Table,
    g: np.ndarray,
    j: np.ndarray,
    time_s: np.ndarray,
    weight: np.ndarray,
    cap: np.ndarray,
    p: int,
    cover: bool,
    penalty_s: float | None,
) -> _Model:
    """Columns: x (candidates), z (share of group ``g`` at facility ``j``, per pair), u
    (unserved share per group: p-median with a penalty). Rows: Σ_j z (+ u) = 1 per group
    (≤ 1 for MCLP), z ≤ x per candidate pair, Σ w z ≤ cap (× x for candidates) per facility
    of finite capacity, Σ x = p. Objective: max Σ w z (MCLP) or min Σ w t z + penalty Σ w u.
    """
    n_exist, n_cand = table.n_existing, table.n_candidates
    n_groups, n_pairs = len(weight), len(g)
    n_u = n_groups if (not cover and penalty_s is not None) else 0
    n_cols = n_cand + n_pairs + n_u
    z = n_cand + np.arange(n_pairs)
    u = n_cand + n_pairs + np.arange(n_u)
    on_cand = np.flatnonzero(j >= n_exist)
    limited = np.flatnonzero(np.isfinite(cap))
    cap_row = np.full(len(cap), -1, dtype=np.int64)
    cap_row[limited] = np.arange(len(limited))
    in_cap = cap_row[j] >= 0
    new_limited = limited[limited >= n_exist]
    blocks = [
        _rows(np.concatenate([g, np.arange(n_u)]), np.concatenate([z, u]), 1.0, n_groups, n_cols),
        _rows(
            np.tile(np.arange(len(on_cand)), 2),
            np.concatenate([z[on_cand], j[on_cand] - n_exist]),
            np.repeat([1.0, -1.0], len(on_cand)),
            len(on_cand),
            n_cols,
        ),
        _rows(
            np.concatenate([cap_row[j[in_cap]], cap_row[new_limited]]),
            np.concatenate([z[in_cap], new_limited - n_exist]),
            np.concatenate([weight[g[in_cap]], -cap[new_limited]]),
            len(limited),
            n_cols,
        ),
        _rows(np.zeros(n_cand, np.int64), np.arange(n_cand), 1.0, 1, n_cols),
    ]
    row_lower = [
        np.full(n_groups, -np.inf) if cover else np.ones(n_groups),
        np.full(len(on_cand), -np.inf),
        np.full(len(limited), -np.inf),
        [p],
    ]
    row_upper = [
        np.ones(n_groups),
        np.zeros(len(on_cand)),
        np.where(limited < n_exist, cap[limited], 0.0),
        [p],
    ]
    if cover:
        cost = np.concatenate([np.zeros(n_cand), weight[g], np.zeros(n_u)])
    else:
        unserved = np.full(n_u, penalty_s or 0.0) * weight[:n_u]
        cost = np.concatenate([np.zeros(n_cand), weight[g] * time_s, unserved])
    return _Model(
        maximize=cover,
        cost=cost,
        lower=np.zeros(n_cols),
        upper=np.ones(n_cols),
        matrix=sp.vstack(blocks, format="csr"),
        row_lower=np.concatenate(row_lower).astype(float),
        row_upper=np.concatenate(row_upper).astype(float),
        integer=np.concatenate([np.ones(n_cand, bool), np.zeros(n_pairs + n_u, bool)]),
    )


def _rows(rows: np.ndarray, cols: np.ndarray, values, n_rows: int, n_cols: int) -> sp.csr_array:
    """A sparse block from coordinates (``values`` may be a scalar)."""
    data = np.broadcast_to(np.asarray(values, dtype=float), np.shape(rows))
    return sp.csr_array((data, (rows, cols)), shape=(n_rows, n_cols))


def _pair_time(table: _Table, pos: np.ndarray, col: np.ndarray) -> np.ndarray:
    """Table time of (demand position, facility position) pairs that are in the table."""
    n_fac = table.n_facilities
    keys = table.row * n_fac + table.col  # sorted: the table is sorted by row, then col
    return table.time_s[np.searchsorted(keys, pos.astype(np.int64) * n_fac + col)]


def _sort_key(values: pd.Series) -> pd.Series:
    return values.map(str)


def _capacities(capacity: pd.Series, facilities: np.ndarray) -> np.ndarray:
    if not isinstance(capacity, pd.Series):
        raise ConfigError("capacity must be a pandas Series of persons by facility id")
    missing = [f for f in facilities if f not in capacity.index]
    if missing:
        raise ConfigError(
            f"capacity is missing for {len(missing)} facilities, e.g. {_examples(missing)} "
            "(use inf for unlimited)"
        )
    values = capacity.reindex(list(facilities)).to_numpy(dtype=float)
    if np.isnan(values).any() or (values < 0).any():
        raise ConfigError("capacity values must be >= 0 persons (inf for unlimited)")
    return values


# ----------------------------------------------------------------------------- HiGHS


@dataclass(frozen=True)
class _Model:
    """A linear model for HiGHS: row-wise sparse matrix, bounds, integrality."""

    maximize: bool
    cost: np.ndarray
    lower: np.ndarray
    upper: np.ndarray
    matrix: sp.csr_array
    row_lower: np.ndarray
    row_upper: np.ndarray
    integer: np.ndarray
    offset: float = 0.0


@dataclass(frozen=True)
class _Solution:
    values: np.ndarray | None
    objective: float
    bound: float
    status: str


_HIGHS_LOCK = threading.Lock()
_HIGHS_STATE = {"banner_done": False}


def _new_highs() -> Any:
    """A silent ``highspy.Highs``; the once-per-process banner goes to the debug log."""
    try:
        import highspy
    except ImportError as exc:  # pragma: no cover - highspy is a dependency
        raise GeoplanError("site selection needs the 'highspy' package (HiGHS)") from exc
    with _HIGHS_LOCK:
        if _HIGHS_STATE["banner_done"]:
            highs = highspy.Highs()
        else:
            highs = _capture_stdout(highspy.Highs)
            _HIGHS_STATE["banner_done"] = True
    highs.setOptionValue("output_flag", False)
    return highs


def _capture_stdout(make: Any) -> Any:
    """Call ``make()`` with the process's stdout (fd 1) sent to the debug log."""
    try:
        sys.stdout.flush()
        saved = os.dup(1)
    except (OSError, ValueError, AttributeError):
        return make()
    with tempfile.TemporaryFile() as sink:
        os.dup2(sink.fileno(), 1)
        try:
            obj = make()
        finally:
            os.dup2(saved, 1)
            os.close(saved)
        sink.seek(0)
        text = sink.read().decode("utf-8", "replace").strip()
    if text:
        logger.debug("HiGHS: %s", text)
    return obj


def _solve(
    model: _Model,
    *,
    relax: bool = False,
    time_limit_s: float,
    mip_gap: float,
    start: tuple[np.ndarray, np.ndarray] | None = None,
) -> _Solution:
    """Solve with HiGHS; ``relax`` drops integrality (the LP bound)."""
    import highspy

    highs = _new_highs()
    highs.setOptionValue("time_limit", float(time_limit_s))
    highs.setOptionValue("mip_rel_gap", float(mip_gap))
    if relax:
        # Covering LPs are very degenerate: interior point (+ crossover) beats simplex
        # several times over on them.
        highs.setOptionValue("solver", "ipm")
    matrix = model.matrix.tocsr()
    matrix.sort_indices()
    n_rows, n_cols = matrix.shape
    integrality = np.zeros(n_cols, np.int32) if relax else model.integer.astype(np.int32)
    status = highs.passModel(
        int(n_cols),
        int(n_rows),
        int(matrix.nnz),
        int(highspy.MatrixFormat.kRowwise),
        int(highspy.ObjSense.kMaximize if model.maximize else highspy.ObjSense.kMinimize),
        float(model.offset),
        np.ascontiguousarray(model.cost, dtype=np.float64),
        np.ascontiguousarray(model.lower, dtype=np.float64),
        np.ascontiguousarray(model.upper, dtype=np.float64),
        np.ascontiguousarray(model.row_lower, dtype=np.float64),
        np.ascontiguousarray(model.row_upper, dtype=np.float64),
        matrix.indptr.astype(np.int32),
        matrix.indices.astype(np.int32),
        np.ascontiguousarray(matrix.data, dtype=np.float64),
        integrality,
    )
    if status == highspy.HighsStatus.kError:
        raise GeoplanError("HiGHS rejected the site-selection model (internal error)")
    if start is not None and not relax:
        index, value = start
        highs.setSolution(len(index), index.astype(np.int32), value.astype(np.float64))
    highs.run()
    model_status = highs.getModelStatus()
    info = highs.getInfo()
    has_solution = info.primal_solution_status == 2  # kSolutionStatusFeasible
    values = np.asarray(highs.getSolution().col_value) if has_solution else None
    objective = float(info.objective_function_value) if has_solution else math.nan
    names = highspy.HighsModelStatus
    if model_status == names.kOptimal:
        state = "optimal"
    elif model_status == names.kInfeasible:
        return _Solution(None, math.nan, math.nan, "infeasible")
    elif model_status == names.kTimeLimit:
        state = "time_limit"
    else:
        state = highs.modelStatusToString(model_status).lower().replace(" ", "_")
    if relax:
        # Only an optimal LP value bounds the integer optimum.
        bound = objective if state == "optimal" else math.nan
        if state != "optimal":
            logger.warning(
                "LP relaxation not solved (status %s) within time_limit_s=%g: the greedy gap "
                "is reported against a weaker bound",
                state,
                time_limit_s,
            )
        return _Solution(values, objective, bound, state)
    if values is None and start is not None and state == "time_limit":
        # Out of time before HiGHS completed even the start: the start (a feasible greedy
        # answer of the caller) is the best solution known, reported as such, without a bound.
        logger.warning(
            "HiGHS found no solution within time_limit_s=%g: the greedy start is reported",
            time_limit_s,
        )
        values = np.zeros(n_cols)
        values[start[0]] = start[1]
        return _Solution(values, math.nan, math.nan, state)
    if values is None:
        raise ConfigError(
            f"HiGHS found no solution (status {state}) within time_limit_s={time_limit_s:g}; "
            "raise time_limit_s or use method='greedy'"
        )
    bound = float(info.mip_dual_bound)
    if start is not None and not _consistent(model, values, objective, bound):
        # HiGHS 1.16 with a MIP start and presolve can report "optimal" at a value below the
        # optimum while returning the start itself (tests: MISLEADING_START); a cold solve
        # is right there. So a start's answer is checked, and solved again without it.
        logger.info("HiGHS answer from the MIP start is inconsistent: solved again without it")
        return _solve(model, time_limit_s=time_limit_s, mip_gap=mip_gap)
    logger.debug(
        "HiGHS MILP: %d cols, %d rows, %d nnz, status %s, objective %.6g, bound %.6g",
        n_cols,
        n_rows,
        matrix.nnz,
        state,
        objective,
        bound,
    )
    return _Solution(values, objective, bound, state)


def _consistent(model: _Model, values: np.ndarray, objective: float, bound: float) -> bool:
    """Whether a MILP answer holds together: integral where it must be, within the column and
    row bounds, its objective that of its values, and the bound on the right side of it."""
    tol = 1e-6
    if np.any(np.abs(values[model.integer] - np.round(values[model.integer])) > tol):
        return False
    if np.any(values < model.lower - tol) or np.any(values > model.upper + tol):
        return False
    activity = model.matrix @ values
    scale = tol * np.maximum(1.0, np.abs(activity))
    if np.any(activity < model.row_lower - scale) or np.any(activity > model.row_upper + scale):
        return False
    own = float(model.cost @ values) + model.offset
    if abs(own - objective) > tol * max(1.0, abs(objective)):
        return False
    slack = tol * max(1.0, abs(objective))
    return bound <= objective + slack if not model.maximize else bound >= objective - slack


def _start_x(picks: np.ndarray, n_cand: int) -> tuple[np.ndarray, np.ndarray]:
    """A partial start: all candidate columns, 1 for the picks."""
    value = np.zeros(n_cand)
    value[picks] = 1.0
    return np.arange(n_cand), value


def _chosen(solution: _Solution, n_cand: int) -> np.ndarray:
    return np.flatnonzero(solution.values[:n_cand] > 0.5).astype(np.int64)


# ----------------------------------------------------------------------------- small helpers


def _tol(value: float) -> float:
    return _REL_TOL * max(1.0, abs(value))


def _gap(objective: float, bound: float) -> float:
    """``|bound - objective| / |objective|``; 0 when both are 0, inf when only the objective is."""
    if not math.isfinite(bound):
        return math.inf
    diff = abs(bound - objective)
    if diff <= 1e-12 * max(1.0, abs(bound)):
        return 0.0
    return math.inf if objective == 0 else diff / abs(objective)


def _share(part: float, whole: float) -> str:
    return f"{part / whole:.1%}" if whole > 0 else "n/a"


def _log(result: SitingResult) -> None:
    logger.info(
        "%s (%s): %d new sites, objective %.6g, %s, gap %.3g, %.2f s",
        result.problem,
        result.method,
        len(result.selected),
        result.objective,
        result.status,
        result.gap,
        result.solve_time_s,
    )
