"""Coverage per resident location, per rule and per administrative unit (threshold inclusive)."""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import geopandas as gpd
import numpy as np
import pandas as pd
import scipy.sparse as sp
import shapely
from pyproj import Transformer

from ..errors import ConfigError
from ..readers.network import DEFAULT_WALK_SPEED_M_PER_MIN, ModeTimes, Network, mode_edge_mask
from ..taxonomy import CATEGORIES, CATEGORY_SETS
from . import engine
from .capacity import travel_times_by_id
from .rules import Rule, travel_label

__all__ = [
    "OUTSIDE_UNITS",
    "Coverage",
    "ModeSearch",
    "ModeSetup",
    "RulePass",
    "RuleSearch",
    "UnitTypes",
    "column",
    "compute_coverage",
    "expand_categories",
    "nearest_table",
    "point_xy",
    "rule_facilities",
    "rule_facility_positions",
    "rule_pass",
    "rule_times",
    "string_column",
    "travel_time_pairs",
    "travel_time_table",
]

logger = logging.getLogger(__name__)

OUTSIDE_UNITS = "(区域外 / outside all units)"


def column(rule_id: str, what: str) -> str:
    """Name of a per-rule column, ``<rule_id>_<what>``: the one place the convention is spelt.

    ``what`` is ``time_s``, ``facility_id`` or ``covered`` (:attr:`Coverage.table`),
    ``population``, ``population_covered``, ``share_covered`` … (:meth:`Coverage.by_unit`),
    or a scenario's ``covered_before`` / ``covered_after``.
    """
    return f"{rule_id}_{what}"


def expand_categories(names: Sequence[str]) -> set[str]:
    """Category keys named directly, through their group (``medical``, ``fitness`` …) or
    through a named set (:data:`geoplan.taxonomy.CATEGORY_SETS`: ``public_fitness`` …)."""
    groups = {c.group for c in CATEGORIES.values()}
    keys: set[str] = set()
    for name in names:
        if name in CATEGORIES:
            keys.add(name)
        elif name in groups:
            keys.update(k for k, c in CATEGORIES.items() if c.group == name)
        elif name in CATEGORY_SETS:
            keys.update(CATEGORY_SETS[name][2])
        else:
            raise ConfigError(
                f"rule category {name!r} is neither a category key, a group nor a set; "
                f"groups: {', '.join(sorted(groups))}; sets: {', '.join(CATEGORY_SETS)}; "
                f"categories: {', '.join(CATEGORIES)}"
            )
    return keys


@dataclass(frozen=True, eq=False)
class ModeSetup:
    """One travel mode on the network, ready for engine passes: its edge ``times``, the
    transposed street graph ``base``, and where all facilities and residents join it.

    Built once per travel (:attr:`Rule.travels`: mode, direction, congestion profile) and run
    (:func:`compute_coverage`); a uniform change of speed (a sensitivity run) scales the times
    and the graph and keeps the snaps (:meth:`scaled`).
    """

    mode: str
    times: ModeTimes
    base: sp.csr_array
    facilities: engine.Snap
    demand: engine.Snap

    def scaled(self, ratio: float) -> ModeSetup:
        """The same mode with every edge time × ``ratio`` (> 0): snaps, private edges and the
        edges residents and facilities join are unchanged (a positive factor changes no
        edge's usability, nor which of parallel arcs is the cheapest)."""
        if ratio == 1.0:
            return self
        times = ModeTimes(
            forward_s=self.times.forward_s * ratio,
            backward_s=self.times.backward_s * ratio,
            private=self.times.private,
            demand_edges=self.times.demand_edges,
            facility_edges=self.times.facility_edges,
        )
        base = sp.csr_array(
            (self.base.data * ratio, self.base.indices, self.base.indptr), shape=self.base.shape
        )
        return dataclasses.replace(self, times=times, base=base)


@dataclass(frozen=True, eq=False)
class UnitTypes:
    """The type of the unit (``[units] type_column``) of every demand point, network node and
    edge (None outside every unit or where the unit has none), for ``modes_by_unit_type``.

    Residents follow ``points``; ``nodes`` and ``edges`` only decide which mode the maps draw
    on a street (None: every mode of the rule).
    """

    points: np.ndarray
    nodes: np.ndarray | None = None
    edges: np.ndarray | None = None


@dataclass(frozen=True, eq=False)
class ModeSearch:
    """One mode's engine pass for a rule: the mode's ``times``, where the rule's
    ``facilities`` meet it, the pass's answer (``nearest``, node times included) and the
    speed of the access legs. ``points``/``nodes``/``edges`` say where the mode counts (a
    rule by unit type; None: everywhere)."""

    mode: str
    times: ModeTimes
    facilities: engine.Snap
    nearest: engine.Nearest
    access_speed_m_per_min: float
    points: np.ndarray | None = None
    nodes: np.ndarray | None = None
    edges: np.ndarray | None = None
    demand: engine.Snap | None = None


@dataclass(frozen=True, eq=False)
class RuleSearch:
    """One rule's engine passes (one per mode), kept for display (streets timed along their
    length, before/after maps). ``times``, ``facilities``, ``nearest`` and
    ``access_speed_m_per_min`` and ``demand`` (where the demand points meet the network) are
    those of a rule's one pass; ``chosen`` the rule's facilities as positions in the facility
    table the coverage was computed with (the order of each pass's ``facilities``)."""

    passes: tuple[ModeSearch, ...]
    chosen: np.ndarray | None = None

    def _single(self) -> ModeSearch:
        if len(self.passes) != 1:
            raise ConfigError(
                "this step needs a rule of one travel mode; the rule has one pass per mode "
                "(read .passes) / 此步骤需单一出行方式的规则"
            )
        return self.passes[0]

    @property
    def times(self) -> ModeTimes:
        return self._single().times

    @property
    def facilities(self) -> engine.Snap:
        return self._single().facilities

    @property
    def nearest(self) -> engine.Nearest:
        return self._single().nearest

    @property
    def access_speed_m_per_min(self) -> float:
        return self._single().access_speed_m_per_min

    @property
    def demand(self) -> engine.Snap | None:
        return self._single().demand

    @property
    def node_time_s(self) -> np.ndarray:
        """Seconds from every node to the rule's nearest facility by the fastest of the
        modes that count there."""
        best = None
        for one in self.passes:
            seconds = one.nearest.node_time_s
            if one.nodes is not None:
                seconds = np.where(one.nodes, seconds, np.inf)
            best = seconds if best is None else np.fmin(best, seconds)
        return best


@dataclass(frozen=True)
class Coverage:
    """The engine's answer for a set of rules: one row per demand point, wide.

    ``table`` has one row per demand point: ``demand_id``, ``population``, ``x``, ``y`` (metres
    in the network CRS), ``snap_distance_m`` (to the walk network), ``unit_name``/``unit_code``
    once units are assigned, and per rule ``<id>_time_s`` (NaN when unreachable),
    ``<id>_facility_id``, ``<id>_covered`` (:func:`column` names them) and, for a rule of
    several modes, ``<id>_mode`` (the mode that reached the facility first; None when
    unreachable). ``searches`` keeps each rule's engine passes; ``snapping`` per mode how
    demand met the network (:func:`compute_coverage`). ``network`` and ``facilities`` are
    what was searched (the facilities in WGS84, as read), ``units`` the unit polygons the
    points were assigned to (None without units), so gaps and maps can be made from a
    Coverage alone. ``setups`` keeps each mode's network and snaps (reused by sensitivity
    runs), ``unit_types`` the unit types the rules by unit type used.
    """

    rules: tuple[Rule, ...]
    table: pd.DataFrame
    searches: dict[str, RuleSearch] = field(default_factory=dict)
    snapping: dict[str, dict] = field(default_factory=dict)
    network: Network | None = None
    facilities: gpd.GeoDataFrame | None = None
    units: gpd.GeoDataFrame | None = None

    setups: dict[tuple, ModeSetup] = field(default_factory=dict, repr=False, compare=False)
    unit_types: UnitTypes | None = field(default=None, repr=False, compare=False)

    def rule(self, rule_id: str) -> Rule:
        """The rule called ``rule_id`` (a :class:`ConfigError` naming the rules otherwise)."""
        for rule in self.rules:
            if rule.id == rule_id:
                return rule
        known = ", ".join(r.id for r in self.rules)
        raise ConfigError(f"no rule {rule_id!r} in this coverage; its rules: {known}")

    def share(self, rule_id: str) -> float:
        """Share of the residents (population-weighted, 0..1) within the rule's circle;
        NaN when there are no residents."""
        rule = self.rule(rule_id)
        population = self.table["population"].to_numpy(dtype=float)
        total = float(population.sum())
        covered = float(population[self.table[column(rule.id, "covered")].to_numpy()].sum())
        return covered / total if total > 0 else float("nan")

    def points(self) -> gpd.GeoDataFrame:
        """The demand points as a GeoDataFrame in the network CRS: :attr:`table` with the
        coordinates as point geometry (``.to_crs(4326)`` for longitude and latitude)."""
        if self.network is None:
            raise ConfigError("this coverage does not know its network CRS (built by hand)")
        return gpd.GeoDataFrame(
            self.table.drop(columns=["x", "y"]),
            geometry=gpd.points_from_xy(self.table["x"], self.table["y"]),
            crs=self.network.crs,
        )

    @property
    def node_time_s(self) -> dict[str, np.ndarray]:
        """Per rule, the seconds from every network node to the nearest facility (display)."""
        return {rid: search.node_time_s for rid, search in self.searches.items()}

    def summary(self) -> list[dict]:
        """Per rule: population covered, share covered, whether the target is met, and the
        residents no facility can be reached from (``population_unreachable``, with
        ``points_unreachable``: never hidden, also when zero); a rule of several modes adds
        the residents covered per winning mode (``population_covered_by_mode``). A rule with
        thresholds by unit type adds ``by_type``: per type its threshold, population, covered
        and share; residents without a type are judged by ``threshold_min`` and counted as
        ``outside_units`` (in no unit: ``unit_name`` is :data:`OUTSIDE_UNITS`) or ``untyped``
        (in a unit that has no type, or, before the units are assigned, all of them)."""
        population = self.table["population"].to_numpy()
        total = float(population.sum())
        rows = []
        for rule in self.rules:
            covered_mask = self.table[column(rule.id, "covered")].to_numpy()
            covered = float(population[covered_mask].sum())
            unreachable = self.unreachable(rule.id)
            share = covered / total if total > 0 else float("nan")
            met = None if rule.target_share is None else bool(share >= rule.target_share - 1e-12)
            row = {
                **rule.as_dict(),
                "population_covered": covered,
                "share_covered": share,
                "met": met,
                "population_unreachable": float(population[unreachable].sum()),
                "points_unreachable": int(unreachable.sum()),
            }
            if rule.threshold_by_type and "unit_type" in self.table:
                row["by_type"] = _by_type(rule, self.table, population, covered_mask)
            if rule.mixed:
                chosen = self.table[column(rule.id, "mode")].to_numpy(dtype=object)
                row["population_covered_by_mode"] = {
                    mode: float(population[covered_mask & (chosen == mode)].sum())
                    for mode in rule.modes
                }
            rows.append(row)
        return rows

    def unreachable(self, rule_id: str) -> np.ndarray:
        """Demand points from which no facility of the rule can be reached (bool)."""
        return np.isnan(self.table[column(rule_id, "time_s")].to_numpy(dtype=float))

    def by_unit(self) -> pd.DataFrame:
        """Population, covered and unreachable population and share covered per unit and rule
        (with the unit's ``unit_type`` when the points carry one)."""
        points = self.table
        if "unit_name" not in points:
            points = points.assign(unit_name=OUTSIDE_UNITS, unit_code="")
        keys = ["unit_code", "unit_name", *(["unit_type"] if "unit_type" in points else [])]
        frame = points[[*keys, "population"]].copy()
        for rule in self.rules:
            covered = points[column(rule.id, "covered")].to_numpy()
            frame[column(rule.id, "population_covered")] = np.where(
                covered, points["population"], 0.0
            )
            frame[column(rule.id, "population_unreachable")] = np.where(
                self.unreachable(rule.id), points["population"], 0.0
            )
        table = frame.groupby(keys, sort=True, dropna=False).sum().reset_index()
        for rule in self.rules:
            with np.errstate(invalid="ignore", divide="ignore"):
                table[column(rule.id, "share_covered")] = (
                    table[column(rule.id, "population_covered")] / table["population"]
                )
        return table


def _by_type(rule: Rule, table: pd.DataFrame, population: np.ndarray, covered: np.ndarray) -> dict:
    """A typed rule's figures per unit type (see :meth:`Coverage.summary`)."""
    thresholds = dict(rule.threshold_by_type)
    kinds = table["unit_type"].fillna("").astype(str).to_numpy(dtype=object)
    if "unit_name" in table:
        outside = (table["unit_name"] == OUTSIDE_UNITS).to_numpy()
        kinds[(kinds == "") & outside] = "outside_units"
    kinds[kinds == ""] = "untyped"
    out = {}
    for kind in sorted(set(kinds), key=lambda k: (k in ("untyped", "outside_units"), k)):
        mask = kinds == kind
        total = float(population[mask].sum())
        part = float(population[mask & covered].sum())
        out[kind] = {
            "threshold_min": thresholds.get(kind, rule.threshold_min),
            "population": total,
            "population_covered": part,
            "share_covered": part / total if total > 0 else None,
        }
    return out


def rule_times(
    network,
    rule: Rule,
    *,
    mode: str | None = None,
    walk_speed_m_per_min: float = DEFAULT_WALK_SPEED_M_PER_MIN,
    private_ways: str = "exclude",
    largest_component: bool = True,
    congestion: Mapping[str, Mapping[str, float]] | None = None,
    speeds: Mapping[str, Mapping[str, float | None]] | None = None,
) -> ModeTimes:
    """The edge times of ``rule``'s trips by ``mode`` (default: the rule's one mode), its
    direction (a response rule runs from the facility) and its congestion profile (a name in
    ``congestion``, the project's ``[congestion]`` table), with the project's ``[network]``
    settings and ``[speeds]``."""
    factors = None
    if rule.congestion:
        if not congestion or rule.congestion not in congestion:
            known = ", ".join(congestion or {}) or "none"
            raise ConfigError(
                f"rule {rule.id!r} names congestion profile {rule.congestion!r}, which "
                f"[congestion] does not define (defined: {known}) / 规则引用了未定义的拥堵情景"
            )
        factors = congestion[rule.congestion]
    return network.mode_times(
        rule.mode if mode is None else mode,
        walk_speed_m_per_min=walk_speed_m_per_min,
        private_ways=private_ways,
        largest_component=largest_component,
        direction=rule.direction,
        speed_factors=factors,
        speeds=speeds,
    )


def compute_coverage(
    network,
    facilities: gpd.GeoDataFrame,
    demand: gpd.GeoDataFrame,
    rules: Sequence[Rule],
    *,
    walk_speed_m_per_min: float = DEFAULT_WALK_SPEED_M_PER_MIN,
    access_speed_m_per_min: float | None = None,
    private_ways: str = "exclude",
    largest_component: bool = True,
    congestion: Mapping[str, Mapping[str, float]] | None = None,
    speeds: Mapping[str, Mapping[str, float | None]] | None = None,
    unit_types: UnitTypes | np.ndarray | None = None,
    demand_xy: tuple[np.ndarray, np.ndarray] | None = None,
) -> Coverage:
    """Nearest facility and coverage of every demand point for each rule.

    Parameters
    ----------
    network : Network
        Projected street network (with its terrain, if any: walking follows it).
    facilities : GeoDataFrame
        Points with ``facility_id`` and ``category``; any CRS.
    demand : GeoDataFrame
        Points with ``demand_id`` and ``population``; any CRS.
    rules : sequence of Rule
        One Dijkstra pass per rule and mode; a rule of several modes gives each resident the
        fastest of them (ties: the first listed), a rule by unit type the fastest of its
        unit type's modes.
    walk_speed_m_per_min : float
        Walking speed on the network (m/min).
    access_speed_m_per_min : float, optional
        Off-road speed of the access legs; defaults to the walking speed.
    private_ways : {"exclude", "endpoints", "include"}
        Private-style ways (:mod:`geoplan.readers.access`).
    largest_component : bool
        Join demand and facilities to the mode's largest strongly connected component
        (``Network.mode_times``); ``snapping`` says per mode how many points that moved.
    congestion : mapping, optional
        The ``[congestion]`` profiles (name → road class → speed factor) rules may name.
    speeds : mapping, optional
        The project's ``[speeds]`` (:func:`geoplan.readers.network.speed_table`).
    unit_types : UnitTypes or array of str, optional
        The unit type (``urban``/``rural``) of each demand point (an array, or
        :attr:`UnitTypes.points`; ``""`` or None outside every unit), for rules with
        ``threshold_by_type`` or ``modes_by_unit_type`` (a :class:`ConfigError` without it);
        kept as the ``unit_type`` column of ``table``.
    demand_xy : (x, y) arrays, optional
        The demand's coordinates in ``network.crs`` (metres) when known already
        (:func:`point_xy` of ``demand``).

    Rules sharing a travel (mode, direction and congestion profile: :attr:`Rule.travels`)
    share one set of edge times and snaps; each rule is one engine pass per mode.
    """
    access = walk_speed_m_per_min if access_speed_m_per_min is None else access_speed_m_per_min
    fac_xy = point_xy(facilities, network.crs)
    dem_xy = point_xy(demand, network.crs) if demand_xy is None else demand_xy
    if len(dem_xy[0]) != len(demand):
        raise ValueError(f"demand_xy has {len(dem_xy[0])} points; demand has {len(demand)}")
    points = pd.DataFrame(
        {
            "demand_id": demand["demand_id"].astype(str).array,
            "population": demand["population"].to_numpy(dtype=float),
            "x": dem_xy[0],
            "y": dem_xy[1],
        }
    )
    facility_ids = facilities["facility_id"].astype(str).to_numpy()
    categories = facilities["category"].astype(str).to_numpy()
    if unit_types is not None and not isinstance(unit_types, UnitTypes):
        unit_types = UnitTypes(np.asarray(unit_types, dtype=object))
    point_types = None if unit_types is None else unit_types.points
    if point_types is not None:
        points["unit_type"] = point_types
    setups: dict[tuple, ModeSetup] = {}
    searches: dict[str, RuleSearch] = {}
    snapping: dict[str, dict] = {}
    for rule in rules:
        thresholds_s = rule.thresholds_s(point_types, len(points))  # before the work
        for travel in rule.travels:
            if travel in setups:
                continue
            times = rule_times(
                network,
                rule,
                mode=travel[0],
                walk_speed_m_per_min=walk_speed_m_per_min,
                private_ways=private_ways,
                largest_component=largest_component,
                congestion=congestion,
                speeds=speeds,
            )
            label = travel_label(*travel)
            dem_snap, snapping[label] = _snap_demand(network, dem_xy, times, points)
            setups[travel] = ModeSetup(
                travel[0],
                times,
                engine.transposed_street_csr(
                    network, times.forward_s, times.backward_s, times.private
                ),
                engine.snap_points(network, *fac_xy, usable=times.facility_edges),
                dem_snap,
            )
            if travel[0] == "walk" and "snap_distance_m" not in points:
                points["snap_distance_m"] = dem_snap.snap_distance_m
        chosen = rule_facility_positions(rule, categories)
        found = rule_pass(network, rule, setups, chosen, access, unit_types)
        searches[rule.id] = RuleSearch(found.passes, chosen)
        reached = found.facility >= 0
        points[column(rule.id, "time_s")] = found.travel_time_s
        nearest = np.full(len(points), -1, dtype=np.int64)
        nearest[reached] = chosen[found.facility[reached]]
        points[column(rule.id, "facility_id")] = string_column(facility_ids, nearest)
        points[column(rule.id, "covered")] = found.travel_time_s <= thresholds_s
        if rule.mixed:
            points[column(rule.id, "mode")] = found.mode
        logger.info(
            "rule %s (%s): %d facilities, %d demand points, %d within %.1f min, %d unreachable",
            rule.id,
            rule.mode_label,
            len(chosen),
            len(points),
            int(points[column(rule.id, "covered")].sum()),
            rule.threshold_min,
            int((~reached).sum()),
        )
    return Coverage(
        tuple(rules),
        points,
        searches,
        snapping,
        network,
        facilities,
        setups=setups,
        unit_types=unit_types,
    )


def string_column(values: np.ndarray, codes: np.ndarray | None = None):
    """The column ``values[codes]`` (missing where a code is -1) as a DataFrame stores the
    object array of it, built without a Python string per row where it can be.

    ``codes`` None: ``values`` is the whole column (objects), numbered here first. Where pandas
    keeps strings in Arrow (pandas ≥ 3) the column is taken from the distinct values in Arrow
    (a million rows: ~0.03 s instead of ~0.3 s); otherwise it is the object array itself.
    """
    if codes is None:
        values = np.asarray(values, dtype=object)
        if len(values) and isinstance(values[0], str) and (values == values[0]).all():
            codes, values = np.zeros(len(values), dtype=np.int64), values[:1]  # one value
        else:
            codes, values = pd.factorize(values)
    values = np.asarray(values, dtype=object)
    codes = np.asarray(codes, dtype=np.int64)
    missing = codes < 0
    used = values[np.bincount(codes[~missing], minlength=len(values)) > 0]
    sample = np.append(used, None) if missing.any() else used
    dtype = pd.Series(sample).dtype if len(used) else None  # as pandas infers the column's
    if isinstance(dtype, pd.StringDtype) and dtype.storage == "pyarrow":
        import pyarrow as pa

        strings = [v if isinstance(v, str) else None for v in values]  # the used are str
        taken = pa.array(strings, type=pa.large_string()).take(
            pa.array(np.where(missing, 0, codes), mask=missing)
        )
        return pd.array(taken, dtype=dtype)
    out = np.full(len(codes), None, dtype=object)
    out[~missing] = values[codes[~missing]]
    return out


def rule_facility_positions(rule: Rule, categories: np.ndarray) -> np.ndarray:
    """Positions of the facilities of the rule's categories (``categories`` per facility)."""
    return np.flatnonzero(np.isin(categories, list(expand_categories(rule.categories))))


@dataclass(frozen=True, eq=False)
class RulePass:
    """A rule's answer per demand point: ``travel_time_s`` (NaN when unreachable),
    ``facility`` (position among the rule's facilities, -1 when unreachable) and ``mode``
    (the fastest mode, None when unreachable), with the engine ``passes`` it came from."""

    travel_time_s: np.ndarray
    facility: np.ndarray
    mode: np.ndarray
    passes: tuple[ModeSearch, ...]


def rule_pass(
    network,
    rule: Rule,
    setups: Mapping[tuple, ModeSetup],
    chosen: np.ndarray,
    access_speed_m_per_min: float,
    unit_types: UnitTypes | None = None,
) -> RulePass:
    """One engine pass per mode of ``rule`` (facilities ``chosen`` among the setups', which
    are keyed by :attr:`Rule.travels`), and per resident the fastest of the modes that count
    for it.

    A resident's modes are the rule's (``modes``), or those of its unit's type
    (``modes_by_unit_type``: ``unit_types`` needed). Ties go to the first mode listed.
    """
    allowed = _allowed_modes(rule, unit_types)
    passes = []
    for mode, travel in zip(rule.modes, rule.travels, strict=True):
        setup = setups[travel]
        facilities = setup.facilities.take(chosen)
        nearest = engine.nearest_facility(
            network,
            setup.times.forward_s,
            setup.times.backward_s,
            facilities,
            setup.demand,
            access_speed_m_per_min=access_speed_m_per_min,
            base=setup.base,
            private=setup.times.private,
        )
        where = allowed.get(mode, (None, None, None))
        passes.append(
            ModeSearch(
                mode,
                setup.times,
                facilities,
                nearest,
                access_speed_m_per_min,
                *where,
                demand=setup.demand,
            )
        )
    return _fastest(rule, passes)


def _fastest(rule: Rule, passes: list[ModeSearch]) -> RulePass:
    """Per point the fastest pass that counts there (ties: the first)."""
    if len(passes) == 1 and passes[0].points is None:
        nearest = passes[0].nearest
        reached = nearest.facility >= 0
        mode = np.full(len(reached), None, dtype=object)
        mode[reached] = passes[0].mode
        return RulePass(nearest.travel_time_s, nearest.facility, mode, tuple(passes))
    seconds = np.vstack(
        [
            np.where(
                (True if one.points is None else one.points)
                & np.isfinite(one.nearest.travel_time_s),
                one.nearest.travel_time_s,
                np.inf,
            )
            for one in passes
        ]
    )
    best = np.argmin(seconds, axis=0)  # the first of equal times: the first mode listed
    columns = np.arange(seconds.shape[1])
    time = seconds[best, columns]
    reached = np.isfinite(time)
    facility = np.vstack([one.nearest.facility for one in passes])[best, columns]
    modes = np.array([one.mode for one in passes], dtype=object)[best]
    return RulePass(
        np.where(reached, time, np.nan),
        np.where(reached, facility, -1).astype(np.int64),
        np.where(reached, modes, None).astype(object),
        tuple(passes),
    )


def _allowed_modes(rule: Rule, unit_types: UnitTypes | None) -> dict[str, tuple]:
    """For a rule by unit type: per mode, where it counts (points, nodes, edges masks)."""
    if not rule.modes_by_unit_type:
        return {}
    if unit_types is None:
        raise ConfigError(
            f"rule {rule.id!r} chooses modes by unit type: the units' types are needed "
            "([units] type_column) / 按单元类型选择出行方式的规则需要单元类型"
        )

    def masks(types: np.ndarray | None, strict: bool) -> dict[str, np.ndarray] | None:
        if types is None:
            return None
        values = pd.Series(types, dtype=object).where(pd.notna(types), None)
        codes, uniques = pd.factorize(values, use_na_sentinel=False)
        out = {mode: np.zeros(len(types), dtype=bool) for mode in rule.modes}
        for k, kind in enumerate(uniques):
            kind = None if kind is None or (isinstance(kind, float) and np.isnan(kind)) else kind
            if strict:
                modes = rule.modes_for_type(kind)
            else:  # display only: streets outside every unit show every mode of the rule
                try:
                    modes = rule.modes_for_type(kind)
                except ConfigError:
                    modes = rule.modes
            for mode in modes:
                out[mode][codes == k] = True
        return out

    points = masks(unit_types.points, strict=True)
    nodes = masks(unit_types.nodes, strict=False)
    edges = masks(unit_types.edges, strict=False)
    return {
        mode: (
            points[mode],
            None if nodes is None else nodes[mode],
            None if edges is None else edges[mode],
        )
        for mode in rule.modes
    }


def _snap_demand(network, xy, times: ModeTimes, points: pd.DataFrame):
    """Demand snapped to the mode's demand edges, and how many that moved.

    A point "moved" when its nearest street the mode may use is cut off from the largest
    strongly connected component (``ModeTimes.demand_edges``): it joins the main network.
    """
    usable = mode_edge_mask(times.forward_s, times.backward_s)
    snap, moved = engine.snap_joined(network, *xy, usable=usable, joined=times.demand_edges)
    length = network.edges["length_m"].to_numpy(dtype=float)
    report = {
        "street_km": round(float(length[usable].sum()) / 1000.0, 3),
        "street_km_joined": round(float(length[times.demand_edges].sum()) / 1000.0, 3),
        "private_edges": 0 if times.private is None else int(times.private.sum()),
        "demand_points_moved": int(moved.sum()),
        "population_moved": float(points["population"].to_numpy()[moved].sum()),
    }
    if moved.any():
        logger.info(
            "%d demand points (%.0f residents) have their nearest street outside the largest "
            "connected part of the network: joined to it",
            report["demand_points_moved"],
            report["population_moved"],
        )
    return snap, report


def point_xy(frame: gpd.GeoDataFrame, crs) -> tuple[np.ndarray, np.ndarray]:
    """Point coordinates in ``crs`` (metres).

    The coordinates are transformed as arrays (the numbers ``GeoSeries.to_crs`` gives, without
    building a second geometry array: 1M points in ~0.4 s instead of ~3 s).
    """
    geoms = np.asarray(frame.geometry.array)
    coords = shapely.get_coordinates(geoms)  # one pass, where .x and .y take two
    if len(coords) == len(geoms) and bool(np.all(shapely.get_type_id(geoms) == 0)):
        x, y = coords[:, 0].copy(), coords[:, 1].copy()
    else:  # an empty or a missing point has no coordinate (NaN from .x), a line raises
        x, y = frame.geometry.x.to_numpy(dtype=float), frame.geometry.y.to_numpy(dtype=float)
    if frame.crs is not None and not frame.crs.equals(crs):
        transformer = Transformer.from_crs(frame.crs, crs, always_xy=True)
        x, y = (np.asarray(v, dtype=float) for v in transformer.transform(x, y))
    return x, y


def nearest_table(
    network,
    facilities: gpd.GeoDataFrame,
    demand: gpd.GeoDataFrame,
    *,
    mode: str,
    walk_speed_m_per_min: float = DEFAULT_WALK_SPEED_M_PER_MIN,
    private_ways: str = "exclude",
    largest_component: bool = True,
    speeds: Mapping[str, Mapping[str, float | None]] | None = None,
) -> pd.DataFrame:
    """Nearest facility per demand point for one mode, over all given facilities.

    Columns: ``demand_id``, ``facility_id`` (None when unreachable), ``travel_time_s`` (NaN
    when unreachable), ``demand_snap_m`` and ``facility_snap_m`` (access legs, metres).
    Demand and facilities join the network as in :func:`compute_coverage`.
    """
    times = network.mode_times(
        mode,
        walk_speed_m_per_min=walk_speed_m_per_min,
        private_ways=private_ways,
        largest_component=largest_component,
        speeds=speeds,
    )
    fac_xy, dem_xy = point_xy(facilities, network.crs), point_xy(demand, network.crs)
    fac_snap = engine.snap_points(network, *fac_xy, usable=times.facility_edges)
    dem_snap = engine.snap_points(network, *dem_xy, usable=times.demand_edges)
    nearest = engine.nearest_facility(
        network,
        times.forward_s,
        times.backward_s,
        fac_snap,
        dem_snap,
        access_speed_m_per_min=walk_speed_m_per_min,
        private=times.private,
    )
    found = nearest.facility >= 0
    facility_ids = facilities["facility_id"].astype(str).to_numpy()
    ids = np.full(len(demand), None, dtype=object)
    ids[found] = facility_ids[nearest.facility[found]]
    facility_snap = np.full(len(demand), np.nan)
    facility_snap[found] = fac_snap.snap_distance_m[nearest.facility[found]]
    return pd.DataFrame(
        {
            "demand_id": demand["demand_id"].astype(str).array,
            "facility_id": ids,
            "travel_time_s": nearest.travel_time_s,
            "demand_snap_m": dem_snap.snap_distance_m,
            "facility_snap_m": facility_snap,
        }
    )


def travel_time_pairs(
    network,
    facility_xy: tuple[np.ndarray, np.ndarray],
    demand_xy: tuple[np.ndarray, np.ndarray],
    *,
    mode: str,
    cutoff_s: float,
    walk_speed_m_per_min: float = DEFAULT_WALK_SPEED_M_PER_MIN,
    private_ways: str = "exclude",
    largest_component: bool = True,
    times: ModeTimes | None = None,
    speeds: Mapping[str, Mapping[str, float | None]] | None = None,
) -> pd.DataFrame:
    """Demand × facility travel times within ``cutoff_s`` (inclusive), by position.

    ``facility_xy`` and ``demand_xy`` are coordinate arrays in the network CRS; both join the
    network as in :func:`compute_coverage` (the mode's facility and demand edges), and the
    times are :func:`geoplan.analysis.engine.travel_time_matrix`'s: ``demand`` and
    ``facility`` (positions) and ``travel_time_s``, pairs beyond the cutoff absent.
    ``times`` are the edge times to use when made already (a rule's own, :func:`rule_times`:
    its direction and congestion); otherwise the mode's, with the ``[network]`` settings.
    """
    if times is None:
        times = network.mode_times(
            mode,
            walk_speed_m_per_min=walk_speed_m_per_min,
            private_ways=private_ways,
            largest_component=largest_component,
            speeds=speeds,
        )
    fac_snap = engine.snap_points(network, *facility_xy, usable=times.facility_edges)
    dem_snap = engine.snap_points(network, *demand_xy, usable=times.demand_edges)
    return engine.travel_time_matrix(
        network,
        times.forward_s,
        times.backward_s,
        fac_snap,
        dem_snap,
        cutoff_s=cutoff_s,
        access_speed_m_per_min=walk_speed_m_per_min,
        private=times.private,
    )


def travel_time_table(
    network,
    facilities: gpd.GeoDataFrame,
    demand: gpd.GeoDataFrame,
    *,
    mode: str,
    cutoff_s: float,
    **network_options,
) -> pd.DataFrame:
    """The long table ``demand_id``, ``facility_id``, ``travel_time_s`` within ``cutoff_s``
    (:func:`travel_time_pairs` named by id, with its ``network_options``: walking speed,
    private ways, largest component, speed tables; ids as categoricals, see
    :func:`geoplan.analysis.capacity.travel_times_by_id`)."""
    matrix = travel_time_pairs(
        network,
        point_xy(facilities, network.crs),
        point_xy(demand, network.crs),
        mode=mode,
        cutoff_s=cutoff_s,
        **network_options,
    )
    return travel_times_by_id(
        matrix, demand["demand_id"].astype(str), facilities["facility_id"].astype(str)
    )


def rule_facilities(facilities: gpd.GeoDataFrame, rule: Rule) -> gpd.GeoDataFrame:
    """The facilities of the rule's categories (groups expanded, :func:`expand_categories`)."""
    keys = expand_categories(rule.categories)
    return facilities[facilities["category"].astype(str).isin(keys)].reset_index(drop=True)
