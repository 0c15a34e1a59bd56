"""Service areas (服务范围): the streets reachable within time bands, as polygons.

A service area is a display layer: coverage stays decided per resident
(:mod:`geoplan.analysis.coverage`). Its polygon for a band of ``b`` minutes is every point within
``width_m`` metres of a street point from which the facility is reached within ``b`` minutes
(or which it reaches, for a response rule). Street points are timed exactly as
:mod:`geoplan.analysis.streets` times the streets it draws, which is the engine's own rule for
a resident standing there (:func:`geoplan.analysis.engine.point_times`, without the access leg):
along an edge the time is the lower envelope of "V" shapes — one from each end node
(``T(u) + t·B``, ``T(v) + (1 - t)·F``, with ``F``/``B`` the edge's seconds u→v and v→u) and
one from each facility on the edge (its access leg, rising at ``F`` before it and ``B`` after
it). Each edge is cut where an arm crosses a band edge (and, where the nearest facility
matters, where two sources' arms cross), each piece is timed at its middle, the reached pieces
are buffered by ``width_m`` (round caps and joins, ``QUAD_SEGS`` segments per quarter circle)
and dissolved per area and band. Bands are cumulative: the 10-minute polygon contains the
5-minute one.

``per`` chooses what an area is:

* ``"facility"`` — each facility's own reach; areas of neighbouring facilities overlap. One
  bounded search per block of facilities (:func:`geoplan.analysis.engine.bounded_node_times`,
  limited to the largest band), never a Python loop of searches; the (facility, node) pairs
  reached are counted against the ``matrix_pairs`` limit before they are expanded.
* ``"catchment"`` — the part of the streets where the facility is the nearest (片区, no
  overlap): the rule's own multi-source pass, which returns the nearest facility per node.
* ``"category"`` — the reach of all the rule's facilities of one category together: one
  multi-source pass per category.
* ``"rule"`` — the reach of all the rule's facilities together (the rule's circle as a
  polygon): the rule's own pass.

Per area and band: ``area_km2``, ``street_km`` (the reached streets' length),
``population_inside`` (residents whose point lies inside the polygon) and
``population_within`` (residents whose own travel time, access leg included, is within the
band: the coverage's per-resident decision; for ``"rule"`` at the rule's threshold it equals
the rule's covered population when the rule has one threshold).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from ..errors import ConfigError
from ..limits import current
from ..readers.network import mode_edge_mask
from ..taxonomy import label
from . import engine
from .coverage import Coverage, RuleSearch, column
from .streets import band_edges_min, substrings

__all__ = [
    "AREA_COLUMNS",
    "DEFAULT_WIDTH_M",
    "PER",
    "QUAD_SEGS",
    "Arms",
    "Pieces",
    "count_areas",
    "reached_pieces",
    "service_areas",
]

logger = logging.getLogger(__name__)

PER: tuple[str, ...] = ("facility", "catchment", "category", "rule")
"""What one service area is (see the module docstring)."""
DEFAULT_WIDTH_M = 50.0
"""Buffer (m) around the reached streets."""
QUAD_SEGS = 4
"""Segments per quarter circle of the buffer's round caps and joins: a 50 m cap is at most
0.96 m inside the true circle."""
AREA_COLUMNS: tuple[str, ...] = (
    "rule_id",
    "per",
    "facility_id",
    "name",
    "category",
    "band_min",
    "width_m",
    "area_km2",
    "street_km",
    "population_inside",
    "population_within",
)
"""Columns of a service-area table (besides ``geometry``)."""


# --------------------------------------------------------------------------- timed pieces


@dataclass(frozen=True)
class Arms:
    """ "V" shapes along edge instances: per arm its instance, its position ``t`` along the
    instance's edge (0 = u, 1 = v), the seconds there and its source (a facility position or
    a group). An instance is an edge seen from one set of sources (one facility, or all)."""

    inst: np.ndarray
    t: np.ndarray
    s: np.ndarray
    src: np.ndarray

    @classmethod
    def concat(cls, parts: Sequence[Arms]) -> Arms:
        return cls(*(np.concatenate([getattr(p, f) for p in parts]) for f in cls._FIELDS))

    def take(self, mask: np.ndarray) -> Arms:
        return Arms(*(getattr(self, f)[mask] for f in self._FIELDS))

    _FIELDS = ("inst", "t", "s", "src")


@dataclass(frozen=True)
class Pieces:
    """Reached stretches of edge instances: ``inst``, fractions ``t0``–``t1``, the band
    (index into the band edges: every point of the piece is within that band and not the one
    before) and the source of the nearest arm."""

    inst: np.ndarray
    t0: np.ndarray
    t1: np.ndarray
    band: np.ndarray
    src: np.ndarray

    @classmethod
    def concat(cls, parts: Sequence[Pieces]) -> Pieces:
        if not parts:
            none_i, none_f = np.zeros(0, dtype=np.int64), np.zeros(0)
            return cls(none_i, none_f, none_f, none_i, none_i)
        fields = ("inst", "t0", "t1", "band", "src")
        return cls(*(np.concatenate([getattr(p, f) for p in parts]) for f in fields))

    def shifted(self, offset: int) -> Pieces:
        """The same pieces with their instances numbered from ``offset``."""
        return Pieces(self.inst + offset, self.t0, self.t1, self.band, self.src)


def reached_pieces(
    forward_s: np.ndarray,
    backward_s: np.ndarray,
    arms: Arms,
    levels_s: np.ndarray,
    *,
    switches: bool = False,
) -> Pieces:
    """The stretches of edge instances within the last band edge, cut at every band edge.

    Parameters
    ----------
    forward_s, backward_s : array of float
        Per instance, its edge's seconds u→v and v→u (inf where the mode may not go).
    arms : Arms
        The "V" shapes of every instance (end nodes at t = 0 and 1, facilities inside).
    levels_s : array of float
        Band edges in seconds, increasing (inclusive: a point at exactly a level is in it).
    switches : bool
        Also cut where the arms of two different sources cross, so that each piece has one
        nearest source (catchments); not needed when every arm of an instance has one source.
    """
    levels_s = np.asarray(levels_s, dtype=float)
    arms = arms.take(np.isfinite(arms.s))
    order = np.lexsort((arms.t, arms.inst))
    arms = Arms(arms.inst[order], arms.t[order], arms.s[order], arms.src[order])
    fwd, bwd = forward_s[arms.inst], backward_s[arms.inst]
    cut_inst, cut_t = [arms.inst], [arms.t]  # the V vertices (0 and 1 are dropped below)
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        for level in levels_s:
            rise = level - arms.s
            for t in (arms.t + rise / bwd, arms.t - rise / fwd):
                ok = np.isfinite(t) & (rise >= 0)
                cut_inst.append(arms.inst[ok])
                cut_t.append(t[ok])
        if switches:
            i, j = _arm_pairs(arms.inst)
            ok = (arms.src[i] != arms.src[j]) & (arms.t[i] < arms.t[j])
            i, j = i[ok], j[ok]
            f, b = forward_s[arms.inst[i]], backward_s[arms.inst[i]]
            t = (arms.s[j] - arms.s[i] + arms.t[j] * f + arms.t[i] * b) / (b + f)
            ok = np.isfinite(t) & (t > arms.t[i]) & (t < arms.t[j])
            cut_inst.append(arms.inst[i][ok])
            cut_t.append(t[ok])
    inst, t0, t1 = _split(np.unique(arms.inst), np.concatenate(cut_inst), np.concatenate(cut_t))
    seconds, src = _envelope(arms, inst, (t0 + t1) / 2, forward_s, backward_s)
    band = np.searchsorted(levels_s, seconds, side="left")
    first = np.ones(len(inst), dtype=bool)
    first[1:] = (inst[1:] != inst[:-1]) | (band[1:] != band[:-1]) | (src[1:] != src[:-1])
    starts = np.flatnonzero(first)
    ends = np.append(starts[1:] - 1, len(inst) - 1)
    keep = band[starts] < len(levels_s)
    starts, ends = starts[keep], ends[keep]
    return Pieces(inst[starts], t0[starts], t1[ends], band[starts], src[starts])


def _arm_pairs(inst: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Every ordered pair (i < j) of arms on the same instance (``inst`` sorted)."""
    first = np.ones(len(inst), dtype=bool)
    first[1:] = inst[1:] != inst[:-1]
    start = np.flatnonzero(first)
    size = np.diff(np.append(start, len(inst)))
    group_start = np.repeat(start, size)
    i = np.repeat(np.arange(len(inst)), np.repeat(size, size))
    j = np.repeat(group_start, np.repeat(size, size)) + _ranks(np.repeat(size, size))
    keep = i < j
    return i[keep], j[keep]


def _ranks(counts: np.ndarray) -> np.ndarray:
    """0, 1, …, c-1 for each count c, concatenated."""
    return np.arange(int(counts.sum())) - np.repeat(np.cumsum(counts) - counts, counts)


def _split(instances: np.ndarray, cut_inst: np.ndarray, cut_t: np.ndarray):
    """Every instance's [0, 1] split at its cuts inside (0, 1): (inst, t0, t1), sorted."""
    inside = (cut_t > 0) & (cut_t < 1)
    inst = np.concatenate([instances, instances, cut_inst[inside]]).astype(np.int64)
    t = np.concatenate([np.zeros(len(instances)), np.ones(len(instances)), cut_t[inside]])
    order = np.lexsort((t, inst))
    inst, t = inst[order], t[order]
    take = (inst[1:] == inst[:-1]) & (t[1:] > t[:-1])
    return inst[:-1][take], t[:-1][take], t[1:][take]


def _envelope(arms: Arms, inst, t, forward_s, backward_s) -> tuple[np.ndarray, np.ndarray]:
    """Seconds at ``t`` along ``inst`` (the lowest arm of the instance) and its source."""
    start = np.searchsorted(arms.inst, inst, side="left")
    counts = np.searchsorted(arms.inst, inst, side="right") - start
    piece = np.repeat(np.arange(len(inst)), counts)
    arm = np.repeat(start, counts) + _ranks(counts)
    dt = t[piece] - arms.t[arm]
    with np.errstate(invalid="ignore"):
        rise = np.where(dt >= 0, dt * backward_s[inst[piece]], -dt * forward_s[inst[piece]])
    value = arms.s[arm] + np.where(dt == 0, 0.0, rise)
    seconds = np.full(len(inst), np.inf)
    np.minimum.at(seconds, piece, value)
    best = value == seconds[piece]
    src = np.full(len(inst), -1, dtype=np.int64)
    first = np.flatnonzero(best)
    src_piece, at = np.unique(piece[first], return_index=True)
    src[src_piece] = arms.src[arm[first[at]]]
    return seconds, src


# --------------------------------------------------------------------------- sources


def _node_arms(network, times, node_s, node_s_private, node_src, node_src_private) -> Arms:
    """The end-node arms of every edge (one instance per edge) from one multi-source pass;
    a point on a private street leaves it by the private node times (as streets.py)."""
    u = network.edges["u"].to_numpy(dtype=np.int64)
    v = network.edges["v"].to_numpy(dtype=np.int64)
    edges = np.arange(len(u))
    private = times.private if times.private is not None else np.zeros(len(u), dtype=bool)
    if node_src is None:  # node times without their sources: one source, -1
        node_src = node_src_private = np.full(len(node_s), -1, dtype=np.int64)
    s_u = np.where(private, node_s_private[u], node_s[u])
    s_v = np.where(private, node_s_private[v], node_s[v])
    src_u = np.where(private, node_src_private[u], node_src[u])
    src_v = np.where(private, node_src_private[v], node_src[v])
    return Arms(
        np.concatenate([edges, edges]),
        np.concatenate([np.zeros(len(u)), np.ones(len(u))]),
        np.concatenate([s_u, s_v]),
        np.concatenate([src_u, src_v]).astype(np.int64),
    )


def _facility_arms(facilities: engine.Snap, access_s: np.ndarray, inst, src) -> Arms:
    """The arms of facilities on their own edges' instances."""
    return Arms(np.asarray(inst), facilities.fraction.copy(), access_s.copy(), np.asarray(src))


def _nearest_pieces(
    network,
    search: RuleSearch,
    facilities: engine.Snap,
    nearest: engine.Nearest,
    levels_s,
    *,
    switches: bool,
) -> Pieces:
    """Pieces of one multi-source pass (every edge one instance), sources = facility positions."""
    times = search.times
    access_s = facilities.snap_distance_m / (search.access_speed_m_per_min / 60.0)
    arms = Arms.concat(
        [
            _node_arms(
                network,
                times,
                nearest.node_time_s,
                nearest.node_time_private_s,
                nearest.node_facility,
                nearest.node_facility_private,
            ),
            _facility_arms(facilities, access_s, facilities.edge, np.arange(len(facilities))),
        ]
    )
    return reached_pieces(times.forward_s, times.backward_s, arms, levels_s, switches=switches)


def _facility_pieces(network, search: RuleSearch, levels_s) -> tuple[Pieces, np.ndarray]:
    """Each facility's own reach: instances (facility, edge) from bounded searches, block by
    block. Returns the pieces (sources = facility positions) and each instance's edge."""
    times, facilities = search.times, search.facilities
    u = network.edges["u"].to_numpy(dtype=np.int64)
    v = network.edges["v"].to_numpy(dtype=np.int64)
    n_edges, n_nodes = len(u), len(network.nodes)
    private = times.private if times.private is not None else np.zeros(n_edges, dtype=bool)
    usable = mode_edge_mask(times.forward_s, times.backward_s)
    # the usable edges at each node (CSR)
    ends = np.concatenate([u[usable], v[usable]])
    edge_ids = np.concatenate([np.flatnonzero(usable)] * 2)
    order = np.argsort(ends, kind="stable")
    node_edges = edge_ids[order]
    indptr = np.concatenate([[0], np.cumsum(np.bincount(ends, minlength=n_nodes))])
    access_s = facilities.snap_distance_m / (search.access_speed_m_per_min / 60.0)
    limits = current()
    pairs = 0
    parts, inst_edges = [], []
    offset = 0
    blocks = engine.bounded_node_times(
        network,
        times.forward_s,
        times.backward_s,
        facilities,
        cutoff_s=float(levels_s[-1]),
        access_speed_m_per_min=search.access_speed_m_per_min,
        private=times.private,
    )
    for chunk, by_kind in blocks:
        public = by_kind[False]
        from_private = by_kind.get(True, public)
        f_local, node = np.nonzero(np.isfinite(public) | np.isfinite(from_private))
        pairs += len(node)
        limits.check(
            "matrix_pairs",
            pairs,
            "服务范围的（设施, 路网节点）对数",
            f"(facility, street node) pairs within {levels_s[-1] / 60:g} min of the service "
            f"areas (at least, after {chunk[-1] + 1:,} of {len(facilities):,} facilities)",
            fix='Use per = "catchment" or "category", or shorter bands_min',
        )
        counts = indptr[node + 1] - indptr[node]
        f_rep = np.repeat(f_local, counts)
        e_rep = node_edges[np.repeat(indptr[node], counts) + _ranks(counts)]
        own = facilities.edge[chunk]
        key = np.unique(
            np.concatenate([f_rep, np.arange(len(chunk))]) * n_edges + np.concatenate([e_rep, own])
        )
        f_inst, e_inst = key // n_edges, key % n_edges
        n_inst = len(key)
        inst = np.arange(n_inst)
        # a point on a private street leaves it by the private node times (as streets.py)
        s_u = _row_times(public, from_private, f_inst, u[e_inst], private[e_inst])
        s_v = _row_times(public, from_private, f_inst, v[e_inst], private[e_inst])
        own_inst = np.searchsorted(key, np.arange(len(chunk)) * n_edges + own)
        arms = Arms.concat(
            [
                Arms(
                    np.concatenate([inst, inst]),
                    np.concatenate([np.zeros(n_inst), np.ones(n_inst)]),
                    np.concatenate([s_u, s_v]),
                    np.concatenate([chunk[f_inst], chunk[f_inst]]),
                ),
                Arms(own_inst, facilities.fraction[chunk], access_s[chunk], chunk),
            ]
        )
        part = reached_pieces(times.forward_s[e_inst], times.backward_s[e_inst], arms, levels_s)
        parts.append(part.shifted(offset))
        inst_edges.append(e_inst)
        offset += n_inst
    edges = np.concatenate(inst_edges) if inst_edges else np.zeros(0, dtype=np.int64)
    return Pieces.concat(parts), edges


def _row_times(public, from_private, rows, nodes, on_private) -> np.ndarray:
    """Seconds of block rows at nodes: the private-start times where ``on_private``."""
    return np.where(on_private, from_private[rows, nodes], public[rows, nodes])


# --------------------------------------------------------------------------- polygons


def _polygons(network, pieces: Pieces, inst_edge, group, n_groups, n_bands, width_m):
    """Per band, the buffered reached streets of each group: a list (one per band) of
    ``(groups present, polygons, street_km per group)``.

    Every piece is buffered once and a group's buffers are dissolved per band (unions of
    many small polygons: 6× faster than buffering a group's lines as one MultiLineString).
    """
    geoms = np.asarray(network.edges.geometry.values)[inst_edge[pieces.inst]]
    whole = (pieces.t0 == 0) & (pieces.t1 == 1)
    lines = geoms.copy()
    if (~whole).any():
        length = shapely.length(geoms[~whole])
        lines[~whole] = substrings(
            geoms[~whole], pieces.t0[~whole] * length, pieces.t1[~whole] * length
        )
    length_m = shapely.length(lines)
    buffers = shapely.buffer(lines, width_m, quad_segs=QUAD_SEGS)
    order = np.lexsort((pieces.band, group))
    out = []
    for band in range(n_bands):
        pick = order[pieces.band[order] <= band]
        present, first = np.unique(group[pick], return_index=True)
        parts = np.split(buffers[pick], first[1:]) if len(pick) else []
        polygons = [shapely.union_all(part) for part in parts]
        street_km = np.bincount(group[pick], weights=length_m[pick], minlength=n_groups) / 1000
        out.append((present, np.asarray(polygons, dtype=object), street_km))
    return out


def _inside(polygons: np.ndarray, x, y, population) -> np.ndarray:
    """Residents whose point lies inside (or on) each polygon."""
    if len(polygons) == 0 or len(x) == 0:
        return np.zeros(len(polygons))
    tree = shapely.STRtree(shapely.points(x, y))
    poly, point = tree.query(polygons, predicate="intersects")
    return np.bincount(poly, weights=population[point], minlength=len(polygons))


# --------------------------------------------------------------------------- the areas


def count_areas(coverage: Coverage, facilities: gpd.GeoDataFrame, rule_id: str, per: str) -> int:
    """How many areas (per band) a rule's service areas would have: an estimate made before
    any is built (the ``service_area_features`` limit)."""
    search = coverage.searches[rule_id]
    chosen = search.chosen if search.chosen is not None else np.arange(len(search.facilities))
    if per in ("facility", "catchment"):
        return len(chosen)
    if per == "category":
        return int(facilities["category"].iloc[chosen].nunique())
    return 1 if len(chosen) else 0


def service_areas(
    network,
    coverage: Coverage,
    facilities: gpd.GeoDataFrame,
    rule_id: str,
    *,
    bands_min: Sequence[float] | None = None,
    per: str = "facility",
    width_m: float = DEFAULT_WIDTH_M,
) -> gpd.GeoDataFrame:
    """A rule's service areas: one polygon per area and band (see the module docstring).

    Parameters
    ----------
    network : Network
        The network the coverage was computed on.
    coverage : Coverage
        :func:`geoplan.analysis.coverage.compute_coverage` of the rule (its search is reused:
        its direction, congestion and private-way settings too).
    facilities : GeoDataFrame
        The facility table the coverage was computed with (``facility_id``, ``name``,
        ``category``).
    rule_id : str
        The rule.
    bands_min : sequence of float, optional
        Band edges in minutes (default: the rule's street bands, ⅓, ⅔ and 1 × its
        threshold).
    per : {"facility", "catchment", "category", "rule"}
        What an area is.
    width_m : float
        The buffer around the reached streets (m).

    Returns
    -------
    GeoDataFrame
        In ``network.crs``, :data:`AREA_COLUMNS` and ``geometry``, ordered by area, then band;
        areas that reach no street within a band have no row for it.
    """
    if per not in PER:
        raise ConfigError(f"per must be one of {', '.join(PER)}, got {per!r}")
    if not width_m > 0:
        raise ConfigError(f"width_m must be above 0, got {width_m!r}")
    rule = next((r for r in coverage.rules if r.id == rule_id), None)
    if rule is None or rule_id not in coverage.searches:
        raise ConfigError(f"no coverage of rule {rule_id!r} to draw service areas from")
    bands = sorted(float(b) for b in (bands_min or band_edges_min(rule.threshold_min)))
    levels_s = np.asarray(bands) * 60.0
    search = coverage.searches[rule_id]
    chosen = search.chosen if search.chosen is not None else np.arange(len(search.facilities))
    table = facilities.iloc[chosen].reset_index(drop=True)
    points = coverage.table
    population = points["population"].to_numpy(dtype=float)
    if per == "facility":
        pieces, inst_edge = _facility_pieces(network, search, levels_s)
        group = pieces.src
        keys = np.arange(len(table))
        within = _facility_within(network, search, levels_s, population, len(table))
    elif per in ("catchment", "rule"):
        pieces = _nearest_pieces(
            network,
            search,
            search.facilities,
            search.nearest,
            levels_s,
            switches=per == "catchment",
        )
        inst_edge = np.arange(len(network.edges))
        times = points[column(rule_id, "time_s")].to_numpy(dtype=float)
        if per == "catchment":
            group, keys = pieces.src, np.arange(len(table))
            nearest = search.nearest.facility
        else:
            group = np.zeros(len(pieces.inst), dtype=np.int64)
            keys = np.zeros(1 if len(table) else 0, dtype=np.int64)
            nearest = np.where(np.isfinite(times), 0, -1)
        within = _within_by_group(times, nearest, levels_s, population, len(keys))
    else:
        pieces, inst_edge, group, keys, within = _category_pieces(
            network, search, table, levels_s, population
        )
    rows = _area_rows(network, pieces, inst_edge, group, keys, within, bands, width_m)
    frame = _area_frame(rows, table, rule_id, per, width_m, network.crs)
    frame["population_inside"] = _inside(
        frame.geometry.values,
        points["x"].to_numpy(dtype=float),
        points["y"].to_numpy(dtype=float),
        population,
    )
    logger.info(
        "service areas of %s: %d polygons (%s, bands %s min, %g m wide)",
        rule_id,
        len(frame),
        per,
        ", ".join(f"{b:g}" for b in bands),
        width_m,
    )
    return frame[[*AREA_COLUMNS, "geometry"]]


def _area_rows(network, pieces, inst_edge, group, keys, within, bands, width_m) -> list[dict]:
    rows = []
    polygons = _polygons(network, pieces, inst_edge, group, len(keys), len(bands), width_m)
    for band, (present, geoms, street_km) in enumerate(polygons):
        for g, geom in zip(present.tolist(), geoms, strict=True):
            rows.append(
                {
                    "key": int(keys[g]),
                    "band": band,
                    "band_min": bands[band],
                    "street_km": float(street_km[g]),
                    "population_within": float(within[g, band]),
                    "geometry": geom,
                }
            )
    rows.sort(key=lambda r: (r["key"], r["band"]))
    return rows


def _area_frame(rows, table, rule_id, per, width_m, crs) -> gpd.GeoDataFrame:
    frame = pd.DataFrame(
        rows, columns=["key", "band", "band_min", "street_km", "population_within", "geometry"]
    )
    key = frame["key"].to_numpy(dtype=np.int64)
    if per in ("facility", "catchment"):
        ids = table["facility_id"].astype(str).to_numpy()[key]
        names = table["name"].astype(str).to_numpy()[key]
        categories = table["category"].astype(str).to_numpy()[key]
    elif per == "category":
        cats = sorted(table["category"].astype(str).unique())
        categories = np.asarray(cats, dtype=object)[key] if len(key) else np.zeros(0, object)
        ids = np.full(len(key), "", dtype=object)
        names = np.asarray([" / ".join(label(c)) if c else c for c in categories], dtype=object)
    else:
        ids = np.full(len(key), "", dtype=object)
        names = np.full(len(key), rule_id, dtype=object)
        categories = np.full(
            len(key), ",".join(sorted(table["category"].astype(str).unique())), dtype=object
        )
    out = gpd.GeoDataFrame(
        {
            "rule_id": rule_id,
            "per": per,
            "facility_id": ids,
            "name": names,
            "category": categories,
            "band_min": frame["band_min"].to_numpy(dtype=float),
            "street_km": frame["street_km"].to_numpy(dtype=float),
            "population_within": frame["population_within"].to_numpy(dtype=float),
        },
        geometry=gpd.GeoSeries(frame["geometry"].to_numpy(), crs=crs).values,
        crs=crs,
    )
    out["area_km2"] = shapely.area(out.geometry.values) / 1e6
    out["width_m"] = float(width_m)
    return out


def _within_by_group(times, group, levels_s, population, n_groups) -> np.ndarray:
    """Residents within each band per group (``group`` -1: none), as ``(groups, bands)``."""
    out = np.zeros((n_groups, len(levels_s)))
    ok = group >= 0
    for b, level in enumerate(levels_s):
        mask = ok & (times <= level)
        out[:, b] = np.bincount(group[mask], weights=population[mask], minlength=n_groups)
    return out


def _facility_within(network, search: RuleSearch, levels_s, population, n_fac) -> np.ndarray:
    """Residents within each band of each facility (the truncated travel-time table)."""
    if search.demand is None or n_fac == 0:
        return np.zeros((n_fac, len(levels_s)))
    times = search.times
    pairs = engine.travel_time_matrix(
        network,
        times.forward_s,
        times.backward_s,
        search.facilities,
        search.demand,
        cutoff_s=float(levels_s[-1]),
        access_speed_m_per_min=search.access_speed_m_per_min,
        private=times.private,
    )
    d = pairs["demand"].to_numpy()
    f = pairs["facility"].to_numpy()
    t = pairs["travel_time_s"].to_numpy()
    out = np.zeros((n_fac, len(levels_s)))
    for b, level in enumerate(levels_s):
        mask = t <= level
        out[:, b] = np.bincount(f[mask], weights=population[d[mask]], minlength=n_fac)
    return out


def _category_pieces(network, search: RuleSearch, table, levels_s, population):
    """One multi-source pass per category of the rule's facilities."""
    categories = table["category"].astype(str).to_numpy()
    names = sorted(set(categories))
    parts, groups, within = [], [], np.zeros((len(names), len(levels_s)))
    times = search.times
    for g, name in enumerate(names):
        subset = np.flatnonzero(categories == name)
        if len(names) == 1:
            nearest = search.nearest
        else:
            nearest = engine.nearest_facility(
                network,
                times.forward_s,
                times.backward_s,
                search.facilities.take(subset),
                search.demand,
                access_speed_m_per_min=search.access_speed_m_per_min,
                private=times.private,
            )
        part = _nearest_pieces(
            network, search, search.facilities.take(subset), nearest, levels_s, switches=False
        )
        parts.append(part)
        groups.append(np.full(len(part.inst), g, dtype=np.int64))
        reached = np.where(np.isfinite(nearest.travel_time_s), 0, -1)
        within[g] = _within_by_group(nearest.travel_time_s, reached, levels_s, population, 1)[0]
    pieces = Pieces.concat(parts)
    group = np.concatenate(groups) if groups else np.zeros(0, dtype=np.int64)
    inst_edge = np.arange(len(network.edges))
    return pieces, inst_edge, group, np.arange(len(names)), within
