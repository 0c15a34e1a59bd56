"""The verbs of the front door that are more than a name of a lower layer: coverage, travel
times, gaps and the coverage map of tables a notebook holds (``import geoplan as gp``).

Each is a thin adapter: the inputs are checked as every command checks them
(:func:`geoplan.analysis.preflight.check_inputs`: duplicate records are one facility, inputs of
different places are refused, facilities farther than ``max_snap_m`` from every street are not
used), what those checks find is issued as a :class:`~geoplan.errors.DataQualityWarning`, and
the computation is the one ``geoplan run`` does.
"""

from __future__ import annotations

import dataclasses
import logging
import warnings
from collections.abc import Sequence
from typing import TYPE_CHECKING

import geopandas as gpd
import pandas as pd

from .analysis.coverage import OUTSIDE_UNITS, Coverage, compute_coverage, travel_time_table
from .analysis.duplicates import KEEP_HINT_PYTHON
from .analysis.gaps import coverage_gaps
from .analysis.preflight import check_inputs
from .analysis.qa import DECLARE
from .analysis.rules import Rule
from .errors import ConfigError, DataQualityWarning
from .limits import Limits, applied
from .readers.boundaries import assign_units
from .readers.facilities import FacilityTable
from .readers.network import DEFAULT_WALK_SPEED_M_PER_MIN, Network

if TYPE_CHECKING:
    import folium

__all__ = ["coverage", "coverage_map", "find_gaps", "travel_times"]

logger = logging.getLogger(__name__)

DEFAULT_MAX_SNAP_M = 500.0
"""Facilities farther than this from every street are not used (``[facilities] max_snap_m``)."""
DEFAULT_UNIT_TOLERANCE_M = 100.0
"""A resident this close outside every unit counts in the nearest (``[units] tolerance_m``)."""


def coverage(
    network: Network,
    facilities: FacilityTable,
    demand: gpd.GeoDataFrame,
    rules: Sequence[Rule],
    units: gpd.GeoDataFrame | None = None,
    *,
    walk_speed_m_per_min: float = DEFAULT_WALK_SPEED_M_PER_MIN,
    private_ways: str = "exclude",
    largest_component: bool = True,
    max_snap_m: float = DEFAULT_MAX_SNAP_M,
    keep_duplicates: bool = False,
    unit_tolerance_m: float = DEFAULT_UNIT_TOLERANCE_M,
) -> Coverage:
    """Who lives within each rule's circle: per demand point, per rule and per unit.

    Parameters
    ----------
    network : Network
        From :func:`geoplan.read_network`.
    facilities : FacilityTable
        From :func:`geoplan.read_facilities` (its rejected rows stay rejected).
    demand : GeoDataFrame
        From :func:`geoplan.read_demand`: ``demand_id``, ``population``, points.
    rules : sequence of Rule
        The circles (one engine pass each); thresholds are inclusive.
    units : GeoDataFrame, optional
        From :func:`geoplan.read_units`: polygons with ``unit_name`` and ``unit_code``;
        every resident counts in the unit holding it (or the nearest within
        ``unit_tolerance_m``), else in ``"(区域外 / outside all units)"``.
    walk_speed_m_per_min, private_ways, largest_component
        The ``[network]`` settings of a project file (``docs/project-file.md``).
    max_snap_m, keep_duplicates
        The ``[facilities]`` settings: facilities farther from every street are not used;
        duplicate records are one facility unless kept.

    Returns
    -------
    Coverage
        ``.share(rule_id)``, ``.by_unit()``, ``.points()`` (a GeoDataFrame), ``.summary()``;
        :func:`find_gaps` and :func:`coverage_map` take it as it is.
    """
    rules = _rules(rules)
    used = _checked(network, facilities, demand, units, max_snap_m, keep_duplicates)
    result = compute_coverage(
        network,
        used,
        demand,
        rules,
        walk_speed_m_per_min=walk_speed_m_per_min,
        private_ways=private_ways,
        largest_component=largest_component,
    )
    if units is None:
        return result
    table = result.table
    names, codes = assign_units(
        table["x"].to_numpy(),
        table["y"].to_numpy(),
        network.crs,
        units,
        outside=OUTSIDE_UNITS,
        tolerance_m=unit_tolerance_m,
    )
    table["unit_name"], table["unit_code"] = names, codes
    return dataclasses.replace(result, units=units)


def travel_times(
    network: Network,
    facilities: FacilityTable,
    demand: gpd.GeoDataFrame,
    *,
    mode: str,
    cutoff_s: float,
    walk_speed_m_per_min: float = DEFAULT_WALK_SPEED_M_PER_MIN,
    private_ways: str = "exclude",
    largest_component: bool = True,
    max_snap_m: float = DEFAULT_MAX_SNAP_M,
    keep_duplicates: bool = False,
    limits: Limits | None = None,
) -> pd.DataFrame:
    """The long travel-time table: ``demand_id``, ``facility_id``, ``travel_time_s`` for
    every pair within ``cutoff_s`` (inclusive; pairs beyond it are absent, no sentinels).

    The pivot of every capacity and siting measure (2SFCA, MCLP …). The inputs are checked
    as by :func:`coverage`; the number of pairs is estimated before the table is expanded and
    refused above ``limits.matrix_pairs`` (default: the environment's, see
    :mod:`geoplan.limits`).
    """
    used = _checked(network, facilities, demand, None, max_snap_m, keep_duplicates)
    with applied(limits or Limits.resolve()):
        return travel_time_table(
            network,
            used,
            demand,
            mode=mode,
            cutoff_s=cutoff_s,
            walk_speed_m_per_min=walk_speed_m_per_min,
            private_ways=private_ways,
            largest_component=largest_component,
        )


def find_gaps(
    coverage: Coverage,
    rule_id: str | None = None,
    *,
    cell_m: float = 500.0,
    merge_contiguous: bool = False,
) -> gpd.GeoDataFrame:
    """Ranked gap areas of one rule (all rules when ``rule_id`` is None): the uncovered
    residents per ``cell_m`` grid cell (touching cells merged with ``merge_contiguous``),
    the unreachable apart, largest first; in the network CRS, as ``gaps.csv`` lists them."""
    return coverage_gaps(
        coverage,
        None if rule_id is None else [rule_id],
        cell_m=cell_m,
        merge_contiguous=merge_contiguous,
    )


def coverage_map(
    coverage: Coverage,
    *,
    gaps: gpd.GeoDataFrame | None = None,
    boundary: gpd.GeoDataFrame | None = None,
    title: str | tuple[str, str] = ("设施可达性", "Facility access"),
    lang: str = "zh",
    basemap: str | None = None,
    basemap_key: str | None = None,
    attribution: Sequence[str] = (),
    hypothetical: bool = False,
    limits: Limits | None = None,
) -> folium.Map:
    """The coverage map of ``coverage`` (a folium Map, offline, in one language), as
    ``geoplan run`` draws it: streets in travel-time bands, uncovered residents, ranked gap
    areas (``gaps``, default :func:`find_gaps` of every rule), the units' shares (when the
    coverage has units), the facilities, a rule switcher and a legend.

    ``title`` is one text or a (中文, English) pair; ``attribution`` the data credits to show.
    Above ``limits.map_points`` / ``map_facilities`` the map aggregates, says so in its legend
    and a :class:`~geoplan.errors.DataQualityWarning`. ``save`` it with
    ``geoplan.rendering.maps.save_map`` to keep it self-contained (Leaflet inlined).
    """
    from .rendering.run_maps import draw_coverage_map, map_inputs, map_units

    if coverage.network is None or coverage.facilities is None:
        raise ConfigError("coverage_map needs a Coverage from geoplan.coverage (or a run)")
    gaps = find_gaps(coverage) if gaps is None else gaps
    title_zh, title_en = (title, title) if isinstance(title, str) else title
    shown = map_inputs(coverage, coverage.facilities, gaps, limits or Limits.resolve())
    for note in shown.notes:
        warnings.warn(note["message_en"], DataQualityWarning, stacklevel=2)
    return draw_coverage_map(
        coverage,
        shown,
        rules=coverage.summary(),
        title_zh=title_zh,
        title_en=title_en,
        boundary=boundary,
        units=map_units(coverage.units, coverage.by_unit(), coverage.rules),
        attribution=attribution,
        lang=lang,
        basemap=basemap,
        basemap_key=basemap_key,
        hypothetical=hypothetical,
    )


def _rules(rules: Sequence[Rule]) -> tuple[Rule, ...]:
    """The rules as a tuple; one type only (a list of :class:`Rule`)."""
    if isinstance(rules, Rule) or not all(isinstance(r, Rule) for r in rules):
        raise ConfigError("rules must be a list of geoplan.Rule, e.g. [gp.Rule(...)]")
    rules = tuple(rules)
    if not rules:
        raise ConfigError("rules is empty: give at least one geoplan.Rule")
    return rules


def _checked(
    network: Network,
    facilities: FacilityTable,
    demand: gpd.GeoDataFrame,
    units: gpd.GeoDataFrame | None,
    max_snap_m: float,
    keep_duplicates: bool,
) -> gpd.GeoDataFrame:
    """The facilities the computation uses, after the checks every command runs; what the
    checks found is a DataQualityWarning each (refusals are errors)."""
    if not isinstance(facilities, FacilityTable):
        raise ConfigError(
            "facilities must be a FacilityTable: read them with geoplan.read_facilities "
            "(a table in memory: geoplan.readers.facilities.read_facilities_frame)"
        )
    checked = check_inputs(
        network=network,
        demand=demand,
        table=facilities,
        max_snap_m=max_snap_m,
        units=units,
        keep_duplicates=keep_duplicates,
        keep_hint=KEEP_HINT_PYTHON,
        declare=DECLARE["python"],
        files={"facilities": facilities.source or "facilities"},
    )
    for warning in checked.warnings:
        warnings.warn(warning["message_en"], DataQualityWarning, stacklevel=3)
    rejected = len(checked.rejects) - len(facilities.rejects)
    if rejected:
        counts = checked.rejects["reason_code"].value_counts().to_dict()
        warnings.warn(
            f"{rejected} facility records not used by the checks "
            f"({', '.join(f'{k}: {v}' for k, v in counts.items())}): "
            + "; ".join(checked.rejects["message_en"].astype(str).tail(rejected).head(5)),
            DataQualityWarning,
            stacklevel=3,
        )
    return checked.used
