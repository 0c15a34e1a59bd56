"""Streets as drawn: every street timed along its length and cut where it crosses a band edge.

A point of a street is as far from the nearest facility as a resident standing exactly there
(no access leg): the better of leaving the street through either end (one-way aware, with the
end's node time) or of walking to a facility on the same street, which is
:func:`geoplan.analysis.engine.point_times`, the engine's own rule for demand points. Along an edge
that time is the lower envelope of "V" shapes: one from each end (``T(u) + t·B``,
``T(v) + (1 - t)·F`` with ``F``/``B`` the edge's seconds u→v and v→u) and one from each
facility on the edge (its access leg, rising at ``F`` before it and ``B`` after it). The
envelope can cross a band edge only where one of those arms does, so each edge is cut at every
arm's crossing of every band edge of every rule, each piece is timed at its middle, and
neighbouring pieces in the same band for every rule are joined again. A clinic half-way along
a long street therefore sits on a green stretch, whatever its ends say.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from ..readers.network import mode_edge_mask
from . import engine

__all__ = ["BAND_FRACTIONS", "band_edges_min", "street_minutes", "substrings"]

BAND_FRACTIONS: tuple[float, ...] = (1 / 3, 2 / 3, 1.0)
"""Band edges of the street colours as fractions of a rule's threshold (≤ ⅓, ≤ ⅔, ≤ 1)."""


def band_edges_min(threshold_min: float) -> tuple[float, ...]:
    """The band edges (minutes) of a rule with ``threshold_min``; the last is the threshold."""
    return tuple(threshold_min * f for f in BAND_FRACTIONS)


def street_minutes(network, coverage) -> gpd.GeoDataFrame:
    """Street pieces with, per rule, the minutes to its nearest facility along them.

    Parameters
    ----------
    network : Network
        The network the coverage was computed on.
    coverage : Coverage
        From :func:`geoplan.analysis.coverage.compute_coverage` (its ``searches`` per rule).

    Returns
    -------
    GeoDataFrame
        In ``network.crs``: ``edge`` (row of ``network.edges``), ``start_fraction`` and
        ``end_fraction`` along it, the piece's LineString, and per rule id a float column of
        minutes somewhere inside the piece (every point of the piece is in the same band of
        :func:`band_edges_min`; NaN where no facility can be reached) and ``<id>_usable``
        (False on streets no mode of the rule may use: not drawn for that rule). A rule of
        several modes shows the fastest of them (by unit type: of those of the street's unit
        type); the band edges are cut for every mode's arms, since the fastest of several
        envelopes crosses a band edge only where one of them does.
    """
    rules = [r for r in coverage.rules if r.id in coverage.searches]
    levels_s = {r.id: np.asarray(band_edges_min(r.threshold_min)) * 60.0 for r in rules}
    cuts_edge, cuts_t = [], []
    for rule in rules:
        for one in coverage.searches[rule.id].passes:
            edge, t = _crossings(network, one, levels_s[rule.id])
            cuts_edge.append(edge)
            cuts_t.append(t)
    edge, t0, t1 = _pieces(len(network.edges), cuts_edge, cuts_t)
    middle = engine.Snap(edge, (t0 + t1) / 2, np.zeros(len(edge)))
    seconds, bands, usable = {}, [], {}
    for rule in rules:
        at_middle, usable[rule.id] = _fastest_at(network, coverage.searches[rule.id], middle)
        band = np.where(
            np.isfinite(at_middle), np.searchsorted(levels_s[rule.id], at_middle, side="left"), -1
        )
        bands.append(np.where(usable[rule.id], band, -2))
        seconds[rule.id] = at_middle
    keep = _first_of_runs(edge, bands)
    edge, start, stop = edge[keep], t0[keep], _run_ends(t1, keep)
    geoms = np.asarray(network.edges.geometry.values)[edge]
    whole = (start == 0) & (stop == 1)
    geometry = geoms.copy()
    if (~whole).any():
        length = shapely.length(geoms[~whole])
        geometry[~whole] = substrings(geoms[~whole], start[~whole] * length, stop[~whole] * length)
    frame = {"edge": edge, "start_fraction": start, "end_fraction": stop}
    for rule in rules:
        s = seconds[rule.id][keep]
        ok = usable[rule.id][keep] & np.isfinite(s)
        frame[rule.id] = np.where(ok, s / 60.0, np.nan)
        frame[f"{rule.id}_usable"] = usable[rule.id][keep]
    return gpd.GeoDataFrame(pd.DataFrame(frame), geometry=geometry, crs=network.crs)


def _fastest_at(network, search, points: engine.Snap) -> tuple[np.ndarray, np.ndarray]:
    """Seconds from street points to the rule's nearest facility by the fastest of its modes
    that may use the street (and count there), and whether any may (per point)."""
    best = np.full(len(points), np.inf)
    usable = np.zeros(len(points), dtype=bool)
    for one in search.passes:
        times = one.times
        access_mps = one.access_speed_m_per_min / 60.0
        at, _ = engine.point_times(
            network,
            times.forward_s,
            times.backward_s,
            one.nearest,
            one.facilities,
            one.facilities.snap_distance_m / access_mps,
            points,
            private=times.private,
        )
        here = mode_edge_mask(times.forward_s, times.backward_s)[points.edge]
        if one.edges is not None:
            here &= one.edges[points.edge]
        best = np.where(here, np.fmin(best, at), best)
        usable |= here
    return best, usable


def _crossings(network, search, levels_s: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(edge, fraction) where an arm of an edge's time envelope meets a band edge, 0 < t < 1
    (``search``: one mode's pass)."""
    times = search.times
    forward, backward = times.forward_s, times.backward_s
    u = network.edges["u"].to_numpy(dtype=np.int64)
    v = network.edges["v"].to_numpy(dtype=np.int64)
    node_u, node_v = search.nearest.node_time_s[u], search.nearest.node_time_s[v]
    if times.private is not None:  # points on a private street start "inside": their times
        node_u = np.where(times.private, search.nearest.node_time_private_s[u], node_u)
        node_v = np.where(times.private, search.nearest.node_time_private_s[v], node_v)
    edges = np.arange(len(u))
    fac = search.facilities
    f_access = fac.snap_distance_m / (search.access_speed_m_per_min / 60.0)
    fe = fac.edge
    # sources (edge, position, seconds there); arms rise at B to the right, at F to the left
    src_edge = np.concatenate([edges, edges, fe])
    src_t = np.concatenate([np.zeros(len(u)), np.ones(len(u)), fac.fraction])
    src_s = np.concatenate([node_u, node_v, f_access])
    out_edge, out_t = [], []
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        for level in levels_s:
            rise = level - src_s
            right = src_t + rise / backward[src_edge]
            left = src_t - rise / forward[src_edge]
            for t in (right, left):
                ok = np.isfinite(t) & (rise >= 0) & (t > 0) & (t < 1)
                out_edge.append(src_edge[ok])
                out_t.append(t[ok])
    return np.concatenate(out_edge), np.concatenate(out_t)


def _pieces(n_edges: int, cut_edges: list, cut_ts: list) -> tuple[np.ndarray, ...]:
    """Every edge split at its cut fractions: (edge, start, end) per piece, in edge order."""
    all_edges = np.arange(n_edges)
    edge = np.concatenate([all_edges, all_edges, *cut_edges]).astype(np.int64)
    t = np.concatenate([np.zeros(n_edges), np.ones(n_edges), *cut_ts])
    order = np.lexsort((t, edge))
    edge, t = edge[order], t[order]
    same = edge[1:] == edge[:-1]
    longer = t[1:] > t[:-1]
    take = same & longer
    return edge[:-1][take], t[:-1][take], t[1:][take]


def _first_of_runs(edge: np.ndarray, bands: list[np.ndarray]) -> np.ndarray:
    """Pieces that start a run: a new edge, or another band for some rule than the last."""
    new = np.ones(len(edge), dtype=bool)
    new[1:] = edge[1:] != edge[:-1]
    for band in bands:
        new[1:] |= band[1:] != band[:-1]
    return new


def _run_ends(t1: np.ndarray, first: np.ndarray) -> np.ndarray:
    """End fraction of each run of pieces: the end of the piece before the next run starts."""
    starts = np.flatnonzero(first)
    last = np.append(starts[1:] - 1, len(t1) - 1)
    return t1[last]


def substrings(lines: np.ndarray, start_m: np.ndarray, end_m: np.ndarray) -> np.ndarray:
    """The part of each LineString between two distances along it (metres), vectorised
    (``shapely.ops.substring`` for many lines at once)."""
    coords, which = shapely.get_coordinates(lines, return_index=True)
    step = np.zeros(len(coords))
    step[1:] = np.hypot(*(coords[1:] - coords[:-1]).T)
    first = np.ones(len(coords), dtype=bool)
    first[1:] = which[1:] != which[:-1]
    step[first] = 0.0
    along = np.cumsum(step)
    along -= np.maximum.accumulate(np.where(first, along, 0.0))
    inner = (along > start_m[which]) & (along < end_m[which])
    head = shapely.get_coordinates(shapely.line_interpolate_point(lines, start_m))
    tail = shapely.get_coordinates(shapely.line_interpolate_point(lines, end_m))
    n = len(lines)
    xy = np.concatenate([head, coords[inner], tail])
    line = np.concatenate([np.arange(n), which[inner], np.arange(n)])
    rank = np.concatenate([np.full(n, -1), np.flatnonzero(inner), np.full(n, len(coords))])
    order = np.lexsort((rank, line))
    return np.asarray(shapely.linestrings(xy[order], indices=line[order]), dtype=object)
