"""Coverage per resident location, per rule and per administrative unit (threshold inclusive)."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field

import geopandas as gpd
import numpy as np
import pandas as pd

from . import engine
from .errors import ConfigError
from .rules import Rule
from .schema import CATEGORIES

logger = logging.getLogger(__name__)

OUTSIDE_UNITS = "(区域外 / outside all units)"


def column(rule_id: str, what: str) -> str:
    """Name of a per-rule column: ``what`` is ``time_s``, ``facility_id`` or ``covered``."""
    return f"{rule_id}_{what}"


def expand_categories(names: Sequence[str]) -> set[str]:
    """Category keys named directly or through their group (``medical``, ``fitness`` …)."""
    groups = {c.group for c in CATEGORIES.values()}
    keys: set[str] = set()
    for name in names:
        if name in CATEGORIES:
            keys.add(name)
        elif name in groups:
            keys.update(k for k, c in CATEGORIES.items() if c.group == name)
        else:
            raise ConfigError(
                f"rule category {name!r} is neither a category key nor a group; "
                f"groups: {', '.join(sorted(groups))}; categories: {', '.join(CATEGORIES)}"
            )
    return keys


@dataclass(frozen=True)
class Coverage:
    """The engine's answer for a set of rules.

    ``points`` has one row per demand point: ``demand_id``, ``population``, ``x``, ``y`` (metres
    in the network CRS), ``snap_distance_m`` (to the walk network), ``unit_name``/``unit_code``
    once units are assigned, and per rule ``<id>_time_s`` (NaN when unreachable),
    ``<id>_facility_id`` and ``<id>_covered``. ``node_time_s`` holds, per rule, the seconds from
    every network node to the rule's nearest facility (for display).
    """

    rules: tuple[Rule, ...]
    points: pd.DataFrame
    node_time_s: dict[str, np.ndarray] = field(default_factory=dict)

    def summary(self) -> list[dict]:
        """Per rule: population covered, share covered and whether the target is met."""
        population = self.points["population"].to_numpy()
        total = float(population.sum())
        rows = []
        for rule in self.rules:
            covered = float(population[self.points[column(rule.id, "covered")].to_numpy()].sum())
            share = covered / total if total > 0 else float("nan")
            met = None if rule.target_share is None else bool(share >= rule.target_share - 1e-12)
            rows.append(
                {
                    **rule.as_dict(),
                    "population_covered": covered,
                    "share_covered": share,
                    "met": met,
                }
            )
        return rows

    def by_unit(self) -> pd.DataFrame:
        """Population, covered population and share per administrative unit and rule."""
        points = self.points
        if "unit_name" not in points:
            points = points.assign(unit_name=OUTSIDE_UNITS, unit_code="")
        keys = ["unit_code", "unit_name"]
        frame = points[[*keys, "population"]].copy()
        for rule in self.rules:
            covered = points[column(rule.id, "covered")].to_numpy()
            frame[column(rule.id, "population_covered")] = np.where(
                covered, points["population"], 0.0
            )
        table = frame.groupby(keys, sort=True, dropna=False).sum().reset_index()
        for rule in self.rules:
            with np.errstate(invalid="ignore", divide="ignore"):
                table[column(rule.id, "share_covered")] = (
                    table[column(rule.id, "population_covered")] / table["population"]
                )
        return table


def compute_coverage(
    network,
    facilities: gpd.GeoDataFrame,
    demand: gpd.GeoDataFrame,
    rules: Sequence[Rule],
    *,
    walk_speed_m_per_min: float = engine.DEFAULT_WALK_SPEED_M_PER_MIN,
    access_speed_m_per_min: float | None = None,
) -> Coverage:
    """Nearest facility and coverage of every demand point for each rule.

    Parameters
    ----------
    network : Network
        Projected street network.
    facilities : GeoDataFrame
        Points with ``facility_id`` and ``category``; any CRS.
    demand : GeoDataFrame
        Points with ``demand_id`` and ``population``; any CRS.
    rules : sequence of Rule
        One Dijkstra pass each.
    walk_speed_m_per_min : float
        Walking speed on the network (m/min).
    access_speed_m_per_min : float, optional
        Off-road speed of the access legs; defaults to the walking speed.
    """
    access = walk_speed_m_per_min if access_speed_m_per_min is None else access_speed_m_per_min
    fac_xy = _xy(facilities, network.crs)
    dem_xy = _xy(demand, network.crs)
    points = pd.DataFrame(
        {
            "demand_id": demand["demand_id"].astype(str).to_numpy(),
            "population": demand["population"].to_numpy(dtype=float),
            "x": dem_xy[0],
            "y": dem_xy[1],
        }
    )
    facility_ids = facilities["facility_id"].astype(str).to_numpy()
    categories = facilities["category"].astype(str).to_numpy()
    snaps: dict[str, tuple] = {}
    node_time_s: dict[str, np.ndarray] = {}
    for rule in rules:
        if rule.mode not in snaps:
            forward_s, backward_s = network.edge_times_s(
                rule.mode, walk_speed_m_per_min=walk_speed_m_per_min
            )
            usable = engine.mode_edge_mask(forward_s, backward_s)
            snaps[rule.mode] = (
                forward_s,
                backward_s,
                engine.transposed_street_csr(network, forward_s, backward_s),
                engine.snap_points(network, *fac_xy, usable=usable),
                engine.snap_points(network, *dem_xy, usable=usable),
            )
            if rule.mode == "walk":
                points["snap_distance_m"] = snaps[rule.mode][4].snap_distance_m
        forward_s, backward_s, base, fac_snap, dem_snap = snaps[rule.mode]
        chosen = np.flatnonzero(np.isin(categories, list(expand_categories(rule.categories))))
        nearest = engine.nearest_facility(
            network,
            forward_s,
            backward_s,
            fac_snap.take(chosen),
            dem_snap,
            access_speed_m_per_min=access,
            base=base,
        )
        node_time_s[rule.id] = nearest.node_time_s
        found = nearest.facility >= 0
        ids = np.full(len(points), None, dtype=object)
        ids[found] = facility_ids[chosen[nearest.facility[found]]]
        points[column(rule.id, "time_s")] = nearest.travel_time_s
        points[column(rule.id, "facility_id")] = ids
        points[column(rule.id, "covered")] = nearest.travel_time_s <= rule.threshold_s
        logger.info(
            "rule %s: %d facilities, %d demand points, %d within %.1f min",
            rule.id,
            len(chosen),
            len(points),
            int(points[column(rule.id, "covered")].sum()),
            rule.threshold_min,
        )
    return Coverage(tuple(rules), points, node_time_s)


def _xy(frame: gpd.GeoDataFrame, crs) -> tuple[np.ndarray, np.ndarray]:
    """Point coordinates in ``crs`` (metres)."""
    geometry = frame.geometry
    if frame.crs is not None and not frame.crs.equals(crs):
        geometry = geometry.to_crs(crs)
    return geometry.x.to_numpy(dtype=float), geometry.y.to_numpy(dtype=float)


def nearest_table(
    network,
    facilities: gpd.GeoDataFrame,
    demand: gpd.GeoDataFrame,
    *,
    mode: str,
    walk_speed_m_per_min: float = engine.DEFAULT_WALK_SPEED_M_PER_MIN,
) -> pd.DataFrame:
    """Nearest facility per demand point for one mode, over all given facilities.

    Columns: ``demand_id``, ``facility_id`` (None when unreachable), ``travel_time_s`` (NaN
    when unreachable), ``demand_snap_m`` and ``facility_snap_m`` (access legs, metres).
    """
    forward_s, backward_s = network.edge_times_s(mode, walk_speed_m_per_min=walk_speed_m_per_min)
    usable = engine.mode_edge_mask(forward_s, backward_s)
    fac_snap = engine.snap_points(network, *_xy(facilities, network.crs), usable=usable)
    dem_snap = engine.snap_points(network, *_xy(demand, network.crs), usable=usable)
    nearest = engine.nearest_facility(
        network,
        forward_s,
        backward_s,
        fac_snap,
        dem_snap,
        access_speed_m_per_min=walk_speed_m_per_min,
    )
    found = nearest.facility >= 0
    facility_ids = facilities["facility_id"].astype(str).to_numpy()
    ids = np.full(len(demand), None, dtype=object)
    ids[found] = facility_ids[nearest.facility[found]]
    facility_snap = np.full(len(demand), np.nan)
    facility_snap[found] = fac_snap.snap_distance_m[nearest.facility[found]]
    return pd.DataFrame(
        {
            "demand_id": demand["demand_id"].astype(str).to_numpy(),
            "facility_id": ids,
            "travel_time_s": nearest.travel_time_s,
            "demand_snap_m": dem_snap.snap_distance_m,
            "facility_snap_m": facility_snap,
        }
    )
