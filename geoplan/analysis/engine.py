"""The travel engine: exact snapping to edges and one multi-source Dijkstra pass per rule.

Times are seconds, distances metres, coordinates in the network's projected CRS. A point
enters the network on the nearest edge the mode may use: a straight access leg at an off-road
walking speed, then the along-edge part to one of the edge's end nodes (one-way aware).
"""

from __future__ import annotations

import contextlib
import contextvars
import hashlib
import itertools
import logging
import threading
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import scipy.sparse as sp
import shapely
from scipy.sparse.csgraph import dijkstra
from scipy.spatial import cKDTree

from ..errors import InputError, NetworkError
from ..limits import current
from ..readers.network import DEFAULT_WALK_SPEED_M_PER_MIN, cheapest_csr

if TYPE_CHECKING:
    import geopandas as gpd

__all__ = [
    "Nearest",
    "Snap",
    "bounded_node_times",
    "edges_unchanged",
    "facility_search",
    "nearest_facility",
    "point_times",
    "remember_part",
    "road_distance_m",
    "snap_joined",
    "snap_points",
    "transposed_street_csr",
    "travel_time_matrix",
]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Snap:
    """Where points meet the network: one entry per point.

    ``edge`` is the row of ``network.edges``, ``fraction`` the position along it from ``u``
    (0..1) and ``snap_distance_m`` the straight access leg in metres.
    """

    edge: np.ndarray
    fraction: np.ndarray
    snap_distance_m: np.ndarray

    def __len__(self) -> int:
        return len(self.edge)

    def take(self, index: np.ndarray) -> Snap:
        """The snaps of a subset of points (positions or a boolean mask)."""
        return Snap(self.edge[index], self.fraction[index], self.snap_distance_m[index])


@dataclass(frozen=True)
class Nearest:
    """Nearest facility per point: ``travel_time_s`` (NaN when none is reachable) and
    ``facility`` (position into the facility array, -1 when none is reachable).

    ``node_time_s`` holds the seconds from every network node to its nearest facility (inf
    when none is reachable) for a trip that reaches the node over a public street;
    ``node_time_private_s`` the same for a trip that started on a private street and may
    still leave through private ones (``private_ways = "endpoints"``; otherwise the same
    array as ``node_time_s``). ``node_facility`` and ``node_facility_private`` name that
    nearest facility per node (its position, -1 when none is reachable; None when not known):
    the source of the one multi-source pass, which gives catchments without a search per
    facility.
    """

    travel_time_s: np.ndarray
    facility: np.ndarray
    node_time_s: np.ndarray
    node_time_private_s: np.ndarray | None = None
    node_facility: np.ndarray | None = None
    node_facility_private: np.ndarray | None = None

    def __post_init__(self) -> None:
        if self.node_time_private_s is None:
            object.__setattr__(self, "node_time_private_s", self.node_time_s)
        if self.node_facility_private is None:
            object.__setattr__(self, "node_facility_private", self.node_facility)


def snap_points(network, x: np.ndarray, y: np.ndarray, *, usable: np.ndarray | None = None) -> Snap:
    """Snap points (network CRS, metres) to the nearest usable edge, exactly.

    The nearest point of every usable edge is found exactly (the distance is GEOS's
    point-to-segment distance, the fraction equals ``shapely.line_locate_point(...,
    normalized=True)``); among edges at the same distance the lowest row wins. Candidates come
    from a k-d tree over short pieces of the edges' straight segments and their vertices (see
    :class:`_SegmentIndex`), with a bound that proves no other edge is nearer. Indexes are
    cached by content, and so are the last few snaps of large point sets to all edges: a
    second mode then only re-snaps the points whose nearest edge it may not use.

    Parameters
    ----------
    network : Network
        The street network.
    x, y : array of float
        Point coordinates in ``network.crs``; must be finite.
    usable : bool array, optional
        Edges the mode may use; others are never snapped to.
    """
    x, y, keep, edges = _snap_inputs(network, x, y, usable)
    if len(x) == 0:
        return _no_snaps()
    return _snap_kept(edges, keep, x, y)


def _snap_inputs(network, x, y, usable) -> tuple:
    """Checked ``x``, ``y`` (flat float arrays), the usable edges (all: None) and the edges'
    coordinates (None when there is no point)."""
    x = np.ascontiguousarray(x, dtype=float).ravel()
    y = np.ascontiguousarray(y, dtype=float).ravel()
    if x.shape != y.shape:
        raise ValueError(f"x and y differ in length ({len(x)} and {len(y)})")
    geoms = np.asarray(network.edges.geometry.values)
    keep = np.ones(len(geoms), dtype=bool) if usable is None else np.asarray(usable, dtype=bool)
    if keep.shape != (len(geoms),):
        raise ValueError(f"usable has shape {keep.shape}; expected one flag per edge")
    if not keep.any():
        raise NetworkError("the network has no edge usable by this travel mode")
    if len(x) == 0:
        return x, y, keep, None
    bad = ~(np.isfinite(x) & np.isfinite(y))
    if bad.any():
        raise InputError(
            f"{int(bad.sum())} of {len(x)} points have non-finite coordinates "
            f"(first at position {int(np.flatnonzero(bad)[0])}); drop or fix them before snapping"
        )
    return x, y, keep, _edge_coordinates(geoms)


def _no_snaps() -> Snap:
    empty = np.empty(0)
    return Snap(empty.astype(np.int64), empty, empty)


def _snap_kept(edges: _EdgeCoordinates, keep: np.ndarray, x: np.ndarray, y: np.ndarray) -> Snap:
    """Snap checked points to the nearest of the ``keep`` edges (see :func:`snap_points`)."""
    if keep.mean() >= _SHARE_MIN_USABLE:
        full = _snap_all_edges(edges, x, y)
        if full is not None:
            wrong = ~keep[full.edge]
            if not wrong.any():
                return full
            # The nearest of all edges, where usable, is the nearest usable one (and the
            # lowest of the usable ones at that distance): only the others are snapped again.
            redo = np.flatnonzero(wrong)
            _put(full, redo, _snap_with(_segment_index(edges, keep), x[redo], y[redo]))
            return full
    return _snap_with(_segment_index(edges, keep), x, y)


def _put(snap: Snap, where: np.ndarray, part: Snap) -> None:
    """Overwrite the snaps of the points at ``where`` (positions) with ``part``."""
    snap.edge[where] = part.edge
    snap.fraction[where] = part.fraction
    snap.snap_distance_m[where] = part.snap_distance_m


def snap_joined(
    network, x: np.ndarray, y: np.ndarray, *, usable: np.ndarray, joined: np.ndarray
) -> tuple[Snap, np.ndarray]:
    """Snap points to the nearest ``joined`` edge, and say which ones "moved": those whose
    nearest ``usable`` edge is not joined (both boolean per edge; ``joined`` ⊆ ``usable``, as
    a mode's edges joined to its main network are among those it may use).

    The same answer as snapping to the usable edges and snapping again, to the joined ones,
    the points that landed on an edge not joined, without an index of the usable edges: the
    snap to all edges decides most points (its nearest edge is joined, or usable and not
    joined: moved); only the points nearest to an edge the mode may not use are snapped to
    the joined edges and to the few usable, not joined ones, the nearer (then the lower row,
    as :func:`snap_points` breaks ties) saying whether they moved.
    """
    x, y, joined, edges = _snap_inputs(network, x, y, joined)
    usable = np.asarray(usable, dtype=bool)
    if usable.shape != joined.shape or (joined & ~usable).any():
        raise ValueError("usable needs one flag per edge, set on every joined edge")
    if len(x) == 0:
        return _no_snaps(), np.zeros(0, dtype=bool)
    snap = _snap_kept(edges, np.ones(len(joined), dtype=bool), x, y)
    nearest = snap.edge.copy()  # the nearest of all edges
    redo = np.flatnonzero(~joined[nearest])
    moved = np.zeros(len(nearest), dtype=bool)
    if len(redo) == 0:
        return snap, moved
    _put(snap, redo, _snap_with(_segment_index(edges, joined), x[redo], y[redo]))
    moved[redo] = usable[nearest[redo]]
    other = usable & ~joined
    ask = redo[~usable[nearest[redo]]]  # nearest to an edge the mode may not use
    if len(ask) and other.any():
        near = _snap_with(_segment_index(edges, other), x[ask], y[ask])
        to_joined = snap.snap_distance_m[ask]
        moved[ask] = (near.snap_distance_m < to_joined) | (
            (near.snap_distance_m == to_joined) & (near.edge < snap.edge[ask])
        )
    return snap, moved


def _snap_with(index: _SegmentIndex | None, x: np.ndarray, y: np.ndarray) -> Snap:
    """Snap finite points with one index, in blocks, in a space-filling-curve order."""
    if index is None:
        raise NetworkError("the network has no edge usable by this travel mode")
    order = _spatial_order(x, y)  # neighbours in space, neighbours in memory: 2× faster
    xs, ys = x[order], y[order]
    seg = np.empty(len(x), dtype=np.int64)
    for start in range(0, len(x), _SNAP_CHUNK):
        part = slice(start, start + _SNAP_CHUNK)
        seg[part] = index.nearest_segment(xs[part], ys[part])
    distance_m, fraction = index.locate(seg, xs, ys)
    edge = np.empty(len(x), dtype=np.int64)
    edge[order] = index.edge[seg]
    out_fraction, out_distance_m = np.empty(len(x)), np.empty(len(x))
    out_fraction[order] = fraction
    out_distance_m[order] = distance_m
    return Snap(edge, out_fraction, out_distance_m)


def _snap_all_edges(edges: _EdgeCoordinates, x: np.ndarray, y: np.ndarray) -> Snap | None:
    """Snap to every edge, remembering the answers for large point sets (a small LRU)."""
    index = _segment_index(edges, None)
    if index is None:
        return None
    if len(x) < _MEMO_MIN_POINTS:
        return _snap_with(index, x, y)
    key = _memo_key(edges, x, y)
    with _SNAP_CACHE_LOCK:
        snap = _SNAP_MEMO.get(key)
        if snap is not None:
            _SNAP_MEMO.move_to_end(key)
    if snap is None:
        snap = _snap_with(index, x, y)
        _remember(key, snap)
    # copies: callers own their arrays, the memo must not change under them
    return Snap(snap.edge.copy(), snap.fraction.copy(), snap.snap_distance_m.copy())


def remember_part(network, x: np.ndarray, y: np.ndarray, take: np.ndarray) -> None:
    """If the snap of the points ``x, y`` to all edges is remembered, remember the snap of
    ``x[take], y[take]`` too, so that snapping those points later costs nothing.

    The numbers are the same as snapping them anew: each point's snap is its own (exact, ties
    to the lowest row), whatever other points are snapped with it. (A run with a study area
    snaps every demand point in its checks, then the residents inside the area in the engine.)
    ``take`` is a boolean mask or positions.
    """
    x = np.ascontiguousarray(x, dtype=float).ravel()
    y = np.ascontiguousarray(y, dtype=float).ravel()
    part_x, part_y = x[take], y[take]
    if len(part_x) < _MEMO_MIN_POINTS or len(part_x) == len(x):
        return  # not remembered when snapped, or the same points
    edges = _edge_coordinates(np.asarray(network.edges.geometry.values))
    with _SNAP_CACHE_LOCK:
        snap = _SNAP_MEMO.get(_memo_key(edges, x, y))
    if snap is None:
        return
    _remember(_memo_key(edges, part_x, part_y), snap.take(take))


def _remember(key: bytes, snap: Snap) -> None:
    with _SNAP_CACHE_LOCK:
        _SNAP_MEMO[key] = snap
        _SNAP_MEMO.move_to_end(key)
        while len(_SNAP_MEMO) > _SNAP_MEMO_SIZE:
            _SNAP_MEMO.popitem(last=False)


def _memo_key(edges: _EdgeCoordinates, x: np.ndarray, y: np.ndarray) -> bytes:
    """The memo's key of a snap of ``x, y`` (contiguous float arrays) to all ``edges``."""
    digest = hashlib.blake2b(edges.key, digest_size=20)
    digest.update(x.view(np.uint8))
    digest.update(y.view(np.uint8))
    return digest.digest()


# ---- exact nearest-segment search

_PIECE_M = 10.0
"""Longest piece (m) whose midpoint stands for a segment in the k-d tree."""
_SNAP_ROUNDS_K = (3, 16, 64)
"""Neighbours asked for in the first rounds (then 4× more per round, up to every item)."""
_SNAP_CELLS = 1 << 22
"""Candidates (points × neighbours) per block of a round: bounds its memory."""
_SNAP_CHUNK = 1 << 17
"""Points per block in the first round (bounds memory to a few arrays of chunk × k)."""
_SNAP_TOL_M = 1e-6
"""Slack (m) added to the bound so that rounding never drops a candidate."""
_SNAP_CACHE_SIZE = 4
"""Indexes kept (all edges and three modes' usable edges)."""
_SNAP_CACHE: OrderedDict[bytes, _SegmentIndex | None] = OrderedDict()
_SHARE_MIN_USABLE = 0.9
"""Snap to all edges first (and re-snap the few misfits) when a mode may use this share."""
_MEMO_MIN_POINTS = 10_000
"""Snaps of at least this many points to all edges are remembered ..."""
_SNAP_MEMO_SIZE = 4
"""... this many of them (each about 24 bytes per point)."""
_SNAP_MEMO: OrderedDict[bytes, Snap] = OrderedDict()
_SNAP_CACHE_LOCK = threading.Lock()
_NO_SEGMENT = np.iinfo(np.int64).max


def _spatial_order(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Point order along a Z-curve over a 256 × 256 grid (a stable radix sort of uint16)."""
    if len(x) < 2:
        return np.arange(len(x))
    cells = []
    for v in (x, y):
        lo, span = float(v.min()), float(v.max() - v.min())
        cell = ((v - lo) * (255.0 / span)) if span > 0 else np.zeros(len(v))
        cell = cell.astype(np.uint16)
        for shift, mask in ((4, 0x0F0F), (2, 0x3333), (1, 0x5555)):
            cell = (cell | (cell << shift)) & mask
        cells.append(cell)
    code = (cells[0] | (cells[1] << 1)).astype(np.uint16)
    return np.argsort(code, kind="stable")


@dataclass(frozen=True, eq=False)
class _SegmentIndex:
    """The straight segments of the usable edges, and a k-d tree proving the nearest one.

    Segments are cut into pieces of at most ``_PIECE_M``; the tree holds every piece's
    midpoint (pointing to its segment) and every distinct vertex (pointing to the lowest
    segment that ends there). If a segment's nearest point to ``p`` is one of its ends, that
    vertex is an item at exactly the segment's distance ``d`` (and its segment is at most as
    far); otherwise it is the foot of the perpendicular, which lies in a piece of half-length
    at most ``half_m`` whose midpoint is on the same line, so that item is within
    ``sqrt(d² + half_m²)`` (Pythagoras). Hence once the best distance found, ``d*``, gives
    ``sqrt(d*² + half_m²) < r``, with ``r`` the distance of the nearest item not looked at,
    every segment as near as ``d*`` has been looked at (or one of lower position that is as
    near): the answer is exact. Far from the network the bound is almost ``d*`` itself.
    """

    ends: np.ndarray  # (m, 4): ax, ay, bx, by per segment, in edge order then along the edge
    edge: np.ndarray  # edge row per segment
    offset_m: np.ndarray  # length along the edge before the segment
    length_m: np.ndarray  # segment length
    edge_length_m: np.ndarray  # geometric length of the segment's edge
    tree: cKDTree
    item_segment: np.ndarray  # segment per tree item
    half_m: float
    # derived from ends and length_m: (m, 8) ax, ay, bx, by, dx, dy, len², len (one gather)
    ranking: np.ndarray = field(init=False, repr=False)

    def __post_init__(self) -> None:
        ax, ay, bx, by = self.ends.T
        dx, dy = bx - ax, by - ay
        ranking = np.column_stack([ax, ay, bx, by, dx, dy, dx * dx + dy * dy, self.length_m])
        object.__setattr__(self, "ranking", ranking)

    def nearest_segment(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Position of the nearest segment per point (the lowest position among equals).

        Rounds of k nearest items (``_SNAP_ROUNDS_K``, then 4× more each time) for the points
        not yet proven, in blocks of about ``_SNAP_CELLS`` candidates; a round asking for
        every item proves every point.
        """
        n = len(x)
        best_m = np.full(n, np.inf)
        best = np.full(n, _NO_SEGMENT, dtype=np.int64)
        todo = np.arange(n)
        rounds = list(_SNAP_ROUNDS_K)
        k = 1
        while len(todo):
            k = min(rounds.pop(0) if rounds else 4 * k, self.tree.n)
            block = max(1, _SNAP_CELLS // k)
            unproven = []
            for start in range(0, len(todo), block):
                part = todo[start : start + block]
                dist, item = self.tree.query(np.column_stack([x[part], y[part]]), k=k, workers=-1)
                dist, item = dist.reshape(len(part), k), item.reshape(len(part), k)
                self._merge(part, *self._rank(x[part], y[part], item), best_m, best)
                if k < self.tree.n:
                    reach_m = dist[:, -1]
                    unproven.append(part[self._bound_m2(best_m[part]) >= reach_m * reach_m])
            todo = np.concatenate(unproven) if unproven else todo[:0]
        return best

    def _bound_m2(self, best_m: np.ndarray) -> np.ndarray:
        """Squared radius within which every item that could still matter lies."""
        return (best_m + _SNAP_TOL_M) ** 2 + self.half_m**2

    def _rank(self, x: np.ndarray, y: np.ndarray, item: np.ndarray) -> tuple:
        """Per point, the nearest segment among its ``item`` row (``tree.n`` = none).

        Distances with GEOS's arithmetic (``Distance::pointToSegment``), bit for bit, so
        that equal distances are equal here as in shapely; ties go to the lower position.
        """
        missing = item >= self.tree.n
        seg = self.item_segment[np.where(missing, 0, item)]
        ax, ay, bx, by, dx, dy, len2, length = np.moveaxis(self.ranking[seg], -1, 0)
        ex = x[:, None] - ax
        ey = y[:, None] - ay
        with np.errstate(invalid="ignore", divide="ignore"):
            r = (ex * dx + ey * dy) / len2
            inner = np.abs(ex * dy - ey * dx) / len2 * length
        to_a = np.sqrt(ex * ex + ey * ey)
        ex = x[:, None] - bx
        ey = y[:, None] - by
        to_b = np.sqrt(ex * ex + ey * ey)
        dist = np.where(r >= 1, to_b, inner)
        dist = np.where((r <= 0) | (len2 == 0), to_a, dist)
        dist[missing] = np.inf
        low = dist.min(axis=1)
        low_seg = np.where(dist == low[:, None], seg, _NO_SEGMENT).min(axis=1)
        return low, low_seg

    @staticmethod
    def _merge(todo, low, low_seg, best_m, best) -> None:
        """Keep the better of the old best and a round's best (distance, then position)."""
        old_m, old = best_m[todo], best[todo]
        better = (low < old_m) | ((low == old_m) & (low_seg < old))
        best_m[todo] = np.where(better, low, old_m)
        best[todo] = np.where(better, low_seg, old)

    def locate(
        self, seg: np.ndarray, x: np.ndarray, y: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """Distance (m) to the chosen segments and the fraction along their edges.

        The arithmetic is GEOS's (``Distance::pointToSegment``, ``LengthIndexOfPoint``), so
        the results equal ``shapely.distance`` and ``shapely.line_locate_point``.
        """
        ax, ay, bx, by = self.ends[seg].T
        dx, dy = bx - ax, by - ay
        len2 = dx * dx + dy * dy
        with np.errstate(invalid="ignore", divide="ignore"):
            r = ((x - ax) * dx + (y - ay) * dy) / len2
            s = ((ay - y) * dx - (ax - x) * dy) / len2
        to_a = np.sqrt((x - ax) ** 2 + (y - ay) ** 2)
        to_b = np.sqrt((x - bx) ** 2 + (y - by) ** 2)
        point = len2 == 0
        distance_m = np.where(
            point | (r <= 0), to_a, np.where(r >= 1, to_b, np.abs(s) * np.sqrt(len2))
        )
        at_a = (x == ax) & (y == ay)
        at_b = (x == bx) & (y == by) & ~at_a
        r = np.where(at_a | point, 0.0, np.where(at_b, 1.0, r))
        offset, length = self.offset_m[seg], self.length_m[seg]
        along = np.where(r <= 0, offset, np.where(r <= 1, offset + r * length, offset + length))
        total = self.edge_length_m[seg]
        with np.errstate(invalid="ignore", divide="ignore"):
            fraction = np.where(total > 0, along / total, 0.0)  # zero-length edges: 0
        return distance_m, np.clip(fraction, 0.0, 1.0)


@dataclass(frozen=True, eq=False)
class _EdgeCoordinates:
    """All edges' vertices, flat: their edge row, where a new part (of a multi-part line)
    starts, and a digest of it all for cache keys."""

    coords: np.ndarray
    line: np.ndarray
    new_part: np.ndarray
    key: bytes

    @classmethod
    def of(cls, geoms: np.ndarray) -> _EdgeCoordinates:
        types = shapely.get_type_id(geoms)
        if np.isin(types, (-1, 1, 2)).all():  # missing, LineString, LinearRing
            coords, line = shapely.get_coordinates(geoms, return_index=True)
            new_part = np.zeros(len(line), dtype=bool)
        else:  # parts of multi-part lines are not joined; measures run on across them
            parts, part_edge = shapely.get_parts(geoms, return_index=True)
            coords, part = shapely.get_coordinates(parts, return_index=True)
            line = part_edge[part]
            new_part = np.ones(len(part), dtype=bool)
            new_part[1:] = part[1:] != part[:-1]
        digest = hashlib.blake2b(f"{_PIECE_M}/{len(geoms)}".encode(), digest_size=20)
        for array in (coords, line, new_part):
            digest.update(np.ascontiguousarray(array).view(np.uint8))
        return cls(coords, line, new_part, digest.digest())


_HELD: contextvars.ContextVar[dict | None] = contextvars.ContextVar("edge_coords", default=None)


@contextlib.contextmanager
def edges_unchanged() -> Iterator[None]:
    """Within this block no network's edge geometries change, so each geometry array's
    coordinates are read (and digested for the snapping caches) once instead of at every snap:
    a run snaps 5–7 times, 0.02 s each on the Wuhan network. Outside it, every snap reads them
    again (a caller may have edited the edges in place since)."""
    token = _HELD.set({})
    try:
        yield
    finally:
        _HELD.reset(token)


def _edge_coordinates(geoms: np.ndarray) -> _EdgeCoordinates:
    """:meth:`_EdgeCoordinates.of` ``geoms``, read once per array within
    :func:`edges_unchanged`."""
    held = _HELD.get()
    if held is None:
        return _EdgeCoordinates.of(geoms)
    entry = held.get(id(geoms))
    if entry is None or entry[0] is not geoms:  # the array itself is held: its id stays its own
        entry = held[id(geoms)] = (geoms, _EdgeCoordinates.of(geoms))
    return entry[1]


def _segment_index(edges: _EdgeCoordinates, keep: np.ndarray | None) -> _SegmentIndex | None:
    """The :class:`_SegmentIndex` of the kept edges (None: all), cached by content (LRU).

    None when the kept edges have no segment at all (empty geometries). (A mode does not
    share the all-edges tree with unusable items skipped: the points that need a mode's own
    answer are those nearest to an edge it may not use, exactly where that would not work.)
    """
    everything = keep is None or bool(keep.all())
    digest = hashlib.blake2b(edges.key, digest_size=20)
    if not everything:
        digest.update(np.packbits(keep).view(np.uint8))
    key = digest.digest()
    with _SNAP_CACHE_LOCK:
        if key in _SNAP_CACHE:
            _SNAP_CACHE.move_to_end(key)
            return _SNAP_CACHE[key]
    vertices = len(edges.coords) if everything else int(keep[edges.line].sum())
    on_disk = vertices >= _DISK_MIN_VERTICES
    index = _index_from_disk(key) if on_disk else None
    if index is None:
        index = _built_index(edges, None if everything else keep)
        if on_disk and index is not None:
            _index_to_disk(key, index)
    with _SNAP_CACHE_LOCK:
        _SNAP_CACHE[key] = index
        while len(_SNAP_CACHE) > _SNAP_CACHE_SIZE:
            _SNAP_CACHE.popitem(last=False)
    return index


def _built_index(edges: _EdgeCoordinates, keep: np.ndarray | None) -> _SegmentIndex | None:
    """The :class:`_SegmentIndex` of the ``keep`` edges (None: all), built (not cached)."""
    if keep is None:
        return _build_segment_index(edges.coords, edges.line, edges.new_part)
    kept = keep[edges.line]
    return _build_segment_index(edges.coords[kept], edges.line[kept], edges.new_part[kept])


# ---- large indexes kept in the cache folder (geoplan._cache): loading beats building

_DISK_MIN_VERTICES = 50_000
"""Indexes of at least this many edge vertices are kept on disk too (Wuhan's, 850k tree
items, take 0.14–0.18 s to build and 0.05–0.07 s to load: ``scripts/bench_cache.py``)."""
_DISK_KIND = "segment-index"


def _disk_key(key: bytes) -> str:
    """The cache key of an index: its content key (the edges' vertices and the kept edges),
    this module's code and the libraries that build and read it."""
    from importlib import metadata

    from .. import _cache

    return _cache.digest(
        _DISK_KIND,
        key.hex(),
        _cache.source_sha256([__file__]),
        f"numpy={np.__version__},scipy={metadata.version('scipy')}",
    )


def _index_to_disk(key: bytes, index: _SegmentIndex) -> None:
    """Store an index: its arrays and its k-d tree's nodes as scipy pickles them (as bare
    ``.npy`` arrays, which load several times faster than tables)."""
    from .. import _cache

    try:  # scipy's pickled state of a cKDTree; another layout is not stored (built each run)
        nodes, data, n, dims, leafsize, maxes, mins, indices, boxsize, _ = index.tree.__getstate__()
    except (AttributeError, TypeError, ValueError):
        return
    if boxsize is not None or dims != 2 or data.shape != (n, 2):
        return
    arrays = {
        "ends": index.ends,
        "edge": index.edge,
        "offset_m": index.offset_m,
        "length_m": index.length_m,
        "edge_length_m": index.edge_length_m,
        "items_xy": data,
        "item_segment": index.item_segment,
        "order": indices.astype(np.int64),
        "nodes": np.frombuffer(nodes, dtype=np.uint8),
    }
    meta = {
        "n": int(n),
        "leafsize": int(leafsize),
        "maxes": [float(v) for v in maxes],
        "mins": [float(v) for v in mins],
        "half_m": index.half_m,
    }
    _cache.save(_DISK_KIND, _disk_key(key), arrays, meta)


def _index_from_disk(key: bytes) -> _SegmentIndex | None:
    """The stored index of ``key``; None when absent or not whole (then it is rebuilt: a
    damaged entry is deleted by :func:`geoplan._cache.load`, one that does not hang
    together is ignored)."""
    from .. import _cache

    entry = _cache.load(_DISK_KIND, _disk_key(key))
    if entry is None:
        return None
    try:
        return _index_of_entry(entry)
    except (KeyError, TypeError, ValueError) as exc:
        logger.warning("stored snapping index does not hang together (%s); rebuilding it", exc)
        return None


def _index_of_entry(entry) -> _SegmentIndex:
    arrays, meta = entry.tables, entry.meta
    n = int(meta["n"])
    ends, edge, item_segment, order = (
        arrays[name] for name in ("ends", "edge", "item_segment", "order")
    )
    per_segment = [arrays[name] for name in ("edge", "offset_m", "length_m", "edge_length_m")]
    nodes = arrays["nodes"]
    node_bytes = cKDTree(np.zeros((1, 2))).__getstate__()[0].nbytes  # a tree of one node
    n_seg = len(ends)
    if not (
        ends.shape == (n_seg, 4)
        and n_seg > 0
        and all(a.shape == (n_seg,) for a in per_segment)
        and arrays["items_xy"].shape == (n, 2)
        and item_segment.shape == order.shape == (n,)
        and n > 0
        and nodes.nbytes >= node_bytes
        and nodes.nbytes % node_bytes == 0
        and 0 <= item_segment.min()
        and item_segment.max() < n_seg
        and 0 <= order.min()
        and order.max() < n
        and edge.min() >= 0
    ):
        raise ValueError("sizes or positions out of range")
    tree = cKDTree.__new__(cKDTree)
    tree.__setstate__(
        (
            nodes.view("S1"),
            arrays["items_xy"].astype(float, copy=False),
            n,
            2,
            int(meta["leafsize"]),
            np.array(meta["maxes"], dtype=float),
            np.array(meta["mins"], dtype=float),
            order.astype(np.intp, copy=False),
            None,
            None,
        )
    )
    return _SegmentIndex(
        ends=ends.astype(float, copy=False),
        edge=edge.astype(np.int64, copy=False),
        offset_m=arrays["offset_m"].astype(float, copy=False),
        length_m=arrays["length_m"].astype(float, copy=False),
        edge_length_m=arrays["edge_length_m"].astype(float, copy=False),
        tree=tree,
        item_segment=item_segment.astype(np.int64, copy=False),
        half_m=float(meta["half_m"]),
    )


def _build_segment_index(
    coords: np.ndarray, vertex_edge: np.ndarray, new_part: np.ndarray
) -> _SegmentIndex | None:
    """Segments from flat vertex coordinates (edges contiguous and in order), and the tree."""
    start = np.flatnonzero((vertex_edge[1:] == vertex_edge[:-1]) & ~new_part[1:])
    n_seg = len(start)
    if n_seg == 0:
        return None
    ends = np.column_stack([coords[start], coords[start + 1]])
    ax, ay, bx, by = ends.T
    dx, dy = bx - ax, by - ay
    len2 = dx * dx + dy * dy
    length_m = np.sqrt(len2)  # GEOS's length arithmetic
    edge = vertex_edge[start].astype(np.int64)
    offset_m, edge_length_m = _along_edge(edge, length_m)
    # piece midpoints
    n_pieces = np.maximum(1, np.ceil(length_m / _PIECE_M)).astype(np.int64)
    piece_seg = np.repeat(np.arange(n_seg), n_pieces)
    t = (np.arange(len(piece_seg)) - (np.cumsum(n_pieces) - n_pieces)[piece_seg] + 0.5) / (
        n_pieces[piece_seg]
    )
    mid = np.column_stack([ax[piece_seg] + t * dx[piece_seg], ay[piece_seg] + t * dy[piece_seg]])
    # distinct vertices, each for the lowest segment ending there
    both = np.ascontiguousarray(np.concatenate([ends[:, :2], ends[:, 2:]]))
    vertex, which = np.unique(both.view(np.complex128).ravel(), return_inverse=True)
    vertex_seg = np.full(len(vertex), _NO_SEGMENT, dtype=np.int64)
    np.minimum.at(vertex_seg, which, np.tile(np.arange(n_seg), 2))
    vertex_xy = np.column_stack([vertex.real, vertex.imag])
    tree = cKDTree(
        np.concatenate([mid, vertex_xy]), leafsize=16, balanced_tree=False, compact_nodes=False
    )
    return _SegmentIndex(
        ends=ends,
        edge=edge,
        offset_m=offset_m,
        length_m=length_m,
        edge_length_m=edge_length_m,
        tree=tree,
        item_segment=np.concatenate([piece_seg, vertex_seg]),
        half_m=float((length_m / (2 * n_pieces)).max()) * (1 + 1e-12),
    )


def _along_edge(edge: np.ndarray, length_m: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per segment: the length of its edge before it, and its edge's total length.

    Summed segment by segment in order, as GEOS does, so fractions match shapely's.
    """
    n = len(edge)
    first = np.ones(n, dtype=bool)
    first[1:] = edge[1:] != edge[:-1]
    position = np.arange(n) - np.maximum.accumulate(np.where(first, np.arange(n), 0))
    offset_m = np.zeros(n)
    order = np.argsort(position, kind="stable")
    bounds = np.searchsorted(position[order], np.arange(1, position.max() + 2))
    for lo, hi in itertools.pairwise(bounds):
        idx = order[lo:hi]
        offset_m[idx] = offset_m[idx - 1] + length_m[idx - 1]
    last = np.ones(n, dtype=bool)
    last[:-1] = first[1:]
    total = (offset_m + length_m)[last]
    return offset_m, total[np.cumsum(first) - 1]


def _partial(fraction: np.ndarray, seconds: np.ndarray) -> np.ndarray:
    """Time for a fraction of an edge; zero at the very node even where the edge is closed."""
    with np.errstate(invalid="ignore"):
        return np.where(fraction == 0, 0.0, fraction * seconds)


def _layered(private: np.ndarray | None) -> bool:
    return private is not None and bool(np.any(private))


def transposed_street_csr(
    network, forward_s: np.ndarray, backward_s: np.ndarray, private: np.ndarray | None = None
) -> sp.csr_array:
    """The street graph with every arc reversed (so searches run node → facility).

    Build it once per network and mode and pass it to :func:`facility_search` as ``base``.

    With ``private`` edges (usable only at a trip's start or end) the graph has three layers
    of the n nodes. A trip from a resident runs R* P* R* (private streets, then public ones,
    then private ones: out of a compound, across town, into another); read backwards from the
    facility, the layer says what the rest of the trip may still be: C (rows 0..n-1) — only
    private streets so far, B (n..2n-1) — public streets seen, A (2n..3n-1) — a private
    street before a public one seen, so only private streets may follow. Arcs: public C→B,
    B→B; private C→C, B→A, A→A. Facilities enter layer C (on a private street, or exactly at
    a node) or B; a trip that starts on a public street uses min(C, B) at its exit node, one
    that starts on a private street min(C, B, A).
    """
    u, v = _ends(network)
    rows, cols = np.concatenate([v, u]), np.concatenate([u, v])
    cost = np.concatenate([forward_s, backward_s])
    n = len(network.nodes)
    if not _layered(private):
        return cheapest_csr(rows, cols, cost, n)
    prv = np.concatenate([private, private]).astype(bool)
    pub = ~prv
    return cheapest_csr(
        np.concatenate([rows[pub], rows[pub] + n, rows[prv], rows[prv] + n, rows[prv] + 2 * n]),
        np.concatenate(
            [cols[pub] + n, cols[pub] + n, cols[prv], cols[prv] + 2 * n, cols[prv] + 2 * n]
        ),
        np.concatenate([cost[pub], cost[pub], cost[prv], cost[prv], cost[prv]]),
        3 * n,
    )


def _with_virtual_rows(base: sp.csr_array, cols: np.ndarray, cost: np.ndarray) -> sp.csr_array:
    """Append one row (a virtual node) per facility to a square CSR, without re-sorting it.

    ``cols`` and ``cost`` are (F, 2): the arcs from each virtual node to its edge's ends.
    """
    n, n_fac = base.shape[0], len(cols)
    cost = cost.copy()
    loop = cols[:, 0] == cols[:, 1]  # a self-loop edge: one arc, the cheaper
    cost[loop, 1] = np.fmin(cost[loop, 0], cost[loop, 1])
    cost[loop, 0] = np.inf
    keep = np.isfinite(cost)
    indptr = np.concatenate([base.indptr, base.indptr[-1] + np.cumsum(keep.sum(axis=1))])
    indices = np.concatenate([base.indices, cols[keep].astype(base.indices.dtype)])
    data = np.concatenate([base.data, cost[keep]])
    return sp.csr_array((data, indices, indptr), shape=(n + n_fac, n + n_fac))


def _facility_graph(
    network,
    forward_s: np.ndarray,
    backward_s: np.ndarray,
    facilities: Snap,
    access_mps: float,
    base: sp.csr_array | None,
    private: np.ndarray | None = None,
) -> sp.csr_array:
    """The transposed street graph plus one virtual node per facility (the last F rows).

    The original arcs u→facility and v→facility (partial edge time plus the facility's access
    leg), transposed to facility→u and facility→v (into layer C or B when ``private`` is
    given, see :func:`transposed_street_csr`). ``base`` is :func:`transposed_street_csr` of
    the same times, built here when None.
    """
    if base is None:
        base = transposed_street_csr(network, forward_s, backward_s, private)
    n = len(network.nodes)
    if base.shape[0] != (3 * n if _layered(private) else n):
        raise ValueError("base was built for another private-edge setting")
    u, v = _ends(network)
    fe, ft = facilities.edge, facilities.fraction
    f_access = facilities.snap_distance_m / access_mps
    cost = np.column_stack(
        [_partial(ft, forward_s[fe]) + f_access, _partial(1 - ft, backward_s[fe]) + f_access]
    )
    cols = np.column_stack([u[fe], v[fe]])
    if _layered(private):
        on_private = private[fe]
        cols = cols + n * np.column_stack([~(on_private | (ft == 0)), ~(on_private | (ft == 1))])
    return _with_virtual_rows(base, cols, cost)


@dataclass(frozen=True)
class _NodeTimes:
    """Per node: seconds to the nearest facility and its position (public / private start)."""

    public_s: np.ndarray
    public_facility: np.ndarray
    private_s: np.ndarray
    private_facility: np.ndarray


def _node_times(
    network, forward_s, backward_s, facilities: Snap, access_mps: float, base, private
) -> _NodeTimes:
    """One ``min_only`` Dijkstra from every facility's virtual node (see facility_search)."""
    n, n_fac = len(network.nodes), len(facilities)
    if n_fac == 0:
        none_s, none_f = np.full(n, np.inf), np.full(n, -1, dtype=np.int64)
        return _NodeTimes(none_s, none_f, none_s, none_f)
    graph = _facility_graph(network, forward_s, backward_s, facilities, access_mps, base, private)
    first_virtual = graph.shape[0] - n_fac
    dist, _, sources = dijkstra(
        graph,
        directed=True,
        indices=first_virtual + np.arange(n_fac),
        min_only=True,
        return_predecessors=True,
    )
    facility = np.where(sources >= 0, sources - first_virtual, -1).astype(np.int64)
    if first_virtual == n:
        return _NodeTimes(dist[:n], facility[:n], dist[:n], facility[:n])
    layer_s = dist[:first_virtual].reshape(3, n)  # C, B, A
    layer_f = facility[:first_virtual].reshape(3, n)
    best = np.argmin(layer_s[:2], axis=0)  # ties: C first
    public_s, public_f = (
        np.take_along_axis(layer_s[:2], best[None], 0)[0],
        layer_f[best, np.arange(n)],
    )
    use_a = layer_s[2] < public_s
    return _NodeTimes(
        public_s,
        public_f,
        np.where(use_a, layer_s[2], public_s),
        np.where(use_a, layer_f[2], public_f),
    )


def facility_search(
    network,
    forward_s: np.ndarray,
    backward_s: np.ndarray,
    facilities: Snap,
    *,
    access_speed_m_per_min: float = DEFAULT_WALK_SPEED_M_PER_MIN,
    base: sp.csr_array | None = None,
    private: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Seconds from every node to its nearest facility and that facility's position.

    One ``min_only`` Dijkstra on the transposed street graph (times run node → facility,
    which matters on one-way streets) plus one virtual node per facility, joined to its
    edge's end nodes with the partial edge time and the facility's access leg. Returns
    ``(seconds, facility)`` per node: inf and -1 where no facility is reachable; with
    ``private`` edges, for a trip that reaches the node over a public street. ``base`` is
    :func:`transposed_street_csr` of the same times, built here when not given.
    """
    if access_speed_m_per_min <= 0:
        raise ValueError("access_speed_m_per_min must be positive")
    node = _node_times(
        network,
        forward_s,
        backward_s,
        facilities,
        access_speed_m_per_min / 60.0,
        base,
        private,
    )
    return node.public_s, node.public_facility


def nearest_facility(
    network,
    forward_s: np.ndarray,
    backward_s: np.ndarray,
    facilities: Snap,
    demand: Snap,
    *,
    access_speed_m_per_min: float = DEFAULT_WALK_SPEED_M_PER_MIN,
    base: sp.csr_array | None = None,
    private: np.ndarray | None = None,
) -> Nearest:
    """Travel time from every demand point to its nearest facility, in one Dijkstra pass.

    A demand point's time is its access leg plus the better of leaving its edge through
    ``u`` or ``v`` (one-way aware) and continuing with :func:`facility_search`'s node times,
    or, where a facility sits on the same edge, the direct along-edge trip.

    Parameters
    ----------
    network : Network
        Gives ``nodes`` and ``edges.u``/``edges.v``.
    forward_s, backward_s : array of float
        Per-edge travel seconds u→v and v→u for the mode (inf where not allowed).
    facilities, demand : Snap
        Where facilities and demand points meet the network.
    access_speed_m_per_min : float
        Off-road speed of the access legs (m/min).
    base : csr_array, optional
        :func:`transposed_street_csr` of the same times (and ``private``), reused across calls.
    private : bool array, optional
        Edges usable only at a trip's start or end (``ModeTimes.private``); see
        :func:`transposed_street_csr`.
    """
    if access_speed_m_per_min <= 0:
        raise ValueError("access_speed_m_per_min must be positive")
    access_mps = access_speed_m_per_min / 60.0
    node = _node_times(network, forward_s, backward_s, facilities, access_mps, base, private)
    time, facility = point_times(
        network,
        forward_s,
        backward_s,
        node,
        facilities,
        facilities.snap_distance_m / access_mps,
        demand,
        private=private,
    )
    reachable = np.isfinite(time)
    travel_time_s = np.where(reachable, time + demand.snap_distance_m / access_mps, np.nan)
    facility = np.where(reachable, facility, -1).astype(np.int64)
    return Nearest(
        travel_time_s,
        facility,
        node.public_s,
        node.private_s,
        node.public_facility,
        node.private_facility,
    )


def point_times(
    network,
    forward_s: np.ndarray,
    backward_s: np.ndarray,
    node: _NodeTimes | Nearest,
    facilities: Snap,
    facility_access_s: np.ndarray,
    points: Snap,
    *,
    private: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Seconds from points on their edges (access legs not included) to the nearest facility.

    The better of leaving the edge through ``u`` or ``v`` (one-way aware, the node times of
    a trip starting on a public or a private street as the edge is) and of the direct trip
    to a facility on the same edge. ``node`` holds the node times (a :class:`Nearest` of the
    same facilities will do); returns ``(seconds, facility position)``, inf and -1 where no
    facility is reachable.
    """
    if isinstance(node, Nearest):
        node = _NodeTimes(
            node.node_time_s,
            _NO_FACILITY if node.node_facility is None else node.node_facility,
            node.node_time_private_s,
            _NO_FACILITY if node.node_facility_private is None else node.node_facility_private,
        )
    u, v = _ends(network)
    de, dt = points.edge, points.fraction
    exits = []
    for ends, leave_s, at_node in (
        (v[de], _partial(1 - dt, forward_s[de]), dt == 1),
        (u[de], _partial(dt, backward_s[de]), dt == 0),
    ):
        seconds, facility = node.public_s[ends], _facility_at(node.public_facility, ends)
        if _layered(private):
            from_private = private[de] | at_node
            seconds = np.where(from_private, node.private_s[ends], seconds)
            facility = np.where(from_private, _facility_at(node.private_facility, ends), facility)
        exits.append((leave_s + seconds, facility))
    (via_v, fac_v), (via_u, fac_u) = exits
    use_u = via_u < via_v
    time = np.where(use_u, via_u, via_v)
    facility = np.where(use_u, fac_u, fac_v)
    if len(facilities):
        time, facility = _same_edge_shortcuts(
            time, facility, points, facilities, facility_access_s, forward_s, backward_s
        )
    return time, facility


_NO_FACILITY = np.full(0, -1, dtype=np.int64)


def _facility_at(facility: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """The facility per node at ``ends`` (-1 when the node times came without facilities)."""
    return facility[ends] if len(facility) else np.full(len(ends), -1, dtype=np.int64)


def _ends(network) -> tuple[np.ndarray, np.ndarray]:
    edges = network.edges
    return edges["u"].to_numpy(dtype=np.int64), edges["v"].to_numpy(dtype=np.int64)


def _same_edge_shortcuts(time, facility, demand, facilities, f_access, forward_s, backward_s):
    """Direct along-edge trips where a demand point and a facility share an edge."""
    pairs = _same_edge_pairs(demand, facilities, f_access, forward_s, backward_s)
    d, f, direct = pairs["d"], pairs["f"], pairs["direct"]
    if len(d) == 0:
        return time, facility
    order = np.lexsort((direct, d))
    d, f, direct = d[order], f[order], direct[order]
    first = np.ones(len(d), dtype=bool)
    first[1:] = d[1:] != d[:-1]
    d, f, direct = d[first], f[first], direct[first]
    better = direct < time[d]
    time = time.copy()
    facility = facility.copy()
    time[d[better]] = direct[better]
    facility[d[better]] = f[better]
    return time, facility


def travel_time_matrix(
    network,
    forward_s: np.ndarray,
    backward_s: np.ndarray,
    facilities: Snap,
    demand: Snap,
    *,
    cutoff_s: float,
    access_speed_m_per_min: float = DEFAULT_WALK_SPEED_M_PER_MIN,
    base: sp.csr_array | None = None,
    max_cells: int = 20_000_000,
    private: np.ndarray | None = None,
) -> pd.DataFrame:
    """Facility × demand travel times truncated at ``cutoff_s`` (inclusive), in long form.

    Bounded Dijkstras (``limit=cutoff_s``) from the facilities' virtual nodes, a block of
    facilities per call so memory stays at about ``max_cells`` floats. Only the (facility,
    node) pairs a search reached are expanded to the demand points whose edge ends at that
    node, so the work follows the pairs within reach, not facilities × demand points. Times
    run demand → facility and equal :func:`nearest_facility`'s for the nearest one (with the
    same ``private`` edges). Returns ``demand`` and ``facility`` (positions) and
    ``travel_time_s``; pairs beyond the cutoff are absent (no sentinel values).
    The pairs are counted before each block is expanded and refused above the
    ``matrix_pairs`` limit (:func:`geoplan.limits.current`).
    """
    if not cutoff_s > 0:
        raise ValueError("cutoff_s must be positive")
    n_fac = len(facilities)
    access_mps = access_speed_m_per_min / 60.0
    f_access = facilities.snap_distance_m / access_mps
    exits = _exit_groups(network, forward_s, backward_s, demand, private)
    shared = _same_edge_pairs(demand, facilities, f_access, forward_s, backward_s)
    d_parts, f_parts, t_parts = [shared["d"]], [shared["f"]], [shared["direct"]]
    limits = current()
    pairs = len(shared["d"])
    blocks = bounded_node_times(
        network,
        forward_s,
        backward_s,
        facilities,
        cutoff_s=cutoff_s,
        access_speed_m_per_min=access_speed_m_per_min,
        base=base,
        max_cells=max_cells,
        private=private,
    )
    for chunk, by_kind in blocks:
        for from_private, order, indptr, leave_s in exits:
            reached = by_kind[from_private]
            f_local, node = np.nonzero(np.isfinite(reached))
            reached_s = reached[f_local, node]
            counts = indptr[node + 1] - indptr[node]
            pairs += int(counts.sum())
            limits.check(  # before these pairs are expanded
                "matrix_pairs",
                pairs,
                "出行时间表的（需求点, 设施）对数",
                f"(demand point, facility) pairs within {cutoff_s / 60:g} min in the travel-time "
                f"table (at least, after {chunk[-1] + 1:,} of {n_fac:,} facilities)",
                fix="Use fewer candidate sites (a coarser --grid) or a shorter threshold",
            )
            pair = np.repeat(np.arange(len(node)), counts)
            offset = np.arange(len(pair)) - np.repeat(np.cumsum(counts) - counts, counts)
            d = order[np.repeat(indptr[node], counts) + offset]
            d_parts.append(d)
            f_parts.append(chunk[f_local[pair]])
            t_parts.append(leave_s[d] + reached_s[pair])
    d = np.concatenate(d_parts).astype(np.int64)
    f = np.concatenate(f_parts).astype(np.int64)
    t = np.concatenate(t_parts) + demand.snap_distance_m[d] / access_mps
    keep = t <= cutoff_s
    d, f, t = d[keep], f[keep], t[keep]
    order = np.lexsort((t, f, d))
    d, f, t = d[order], f[order], t[order]
    first = np.ones(len(d), dtype=bool)
    first[1:] = (d[1:] != d[:-1]) | (f[1:] != f[:-1])
    return pd.DataFrame({"demand": d[first], "facility": f[first], "travel_time_s": t[first]})


def bounded_node_times(
    network,
    forward_s: np.ndarray,
    backward_s: np.ndarray,
    facilities: Snap,
    *,
    cutoff_s: float,
    access_speed_m_per_min: float = DEFAULT_WALK_SPEED_M_PER_MIN,
    base: sp.csr_array | None = None,
    max_cells: int = 20_000_000,
    private: np.ndarray | None = None,
):
    """Seconds from every node to each facility, within ``cutoff_s``: one block at a time.

    Bounded Dijkstras (``limit=cutoff_s``) from the facilities' virtual nodes of the
    transposed graph (times run node → facility, as in :func:`facility_search`), a block of
    facilities per call so that memory stays at about ``max_cells`` floats. Yields
    ``(chunk, by_kind)``: the facility positions of the block and, per kind of trip start,
    a dense ``len(chunk) × n_nodes`` array of seconds (inf beyond the cutoff) —
    ``by_kind[False]`` for trips reaching the node over a public street, ``by_kind[True]``
    (only with ``private`` edges) for trips that started on a private one.
    """
    n_nodes, n_fac = len(network.nodes), len(facilities)
    access_mps = access_speed_m_per_min / 60.0
    graph = _facility_graph(network, forward_s, backward_s, facilities, access_mps, base, private)
    first_virtual = graph.shape[0] - n_fac
    block = max(1, int(max_cells // graph.shape[0]))
    for start in range(0, n_fac, block):
        chunk = np.arange(start, min(start + block, n_fac))
        dist = dijkstra(graph, directed=True, indices=first_virtual + chunk, limit=cutoff_s)
        if first_virtual == n_nodes:
            yield chunk, {False: dist[:, :n_nodes]}
            continue
        # layers C, B, A: public starts use min(C, B), private ones min(C, B, A)
        layers = dist[:, :first_virtual].reshape(len(chunk), 3, n_nodes)
        public = layers[:, :2].min(axis=1)
        yield chunk, {False: public, True: np.minimum(public, layers[:, 2])}


def _exit_groups(network, forward_s, backward_s, demand: Snap, private) -> list[tuple]:
    """Demand points grouped by the node they leave their edge through.

    Per group ``(from_private, order, indptr, leave_s)``: whether the private node times apply
    (a point on a private edge, or exactly at the node), the demand positions sorted by exit
    node with a CSR index into them, and every point's seconds to that exit.
    """
    n_nodes = len(network.nodes)
    u, v = _ends(network)
    de, dt = demand.edge, demand.fraction
    groups = []
    for ends, leave_s, at_node in (
        (v[de], _partial(1 - dt, forward_s[de]), dt == 1),
        (u[de], _partial(dt, backward_s[de]), dt == 0),
    ):
        if not _layered(private):
            groups.append((False, *_points_by_node(ends, np.arange(len(de)), n_nodes), leave_s))
            continue
        from_private = private[de] | at_node
        for kind in (False, True):
            index = np.flatnonzero(from_private == kind)
            groups.append((kind, *_points_by_node(ends[index], index, n_nodes), leave_s))
    return groups


def _points_by_node(
    node: np.ndarray, index: np.ndarray, n_nodes: int
) -> tuple[np.ndarray, np.ndarray]:
    """Positions ``index`` sorted by their ``node``, and a CSR index (indptr) into them."""
    order = np.argsort(node, kind="stable")
    indptr = np.concatenate([[0], np.cumsum(np.bincount(node, minlength=n_nodes))])
    return index[order], indptr


def _same_edge_pairs(demand, facilities, f_access, forward_s, backward_s) -> dict:
    """Every (demand, facility) pair on one edge with its direct along-edge seconds."""
    de, dt, fe, ft = demand.edge, demand.fraction, facilities.edge, facilities.fraction
    shared = np.isin(de, fe)
    pairs = pd.DataFrame({"d": np.flatnonzero(shared), "edge": de[shared]}).merge(
        pd.DataFrame({"f": np.arange(len(fe)), "edge": fe}), on="edge"
    )
    d, f, e = (pairs[c].to_numpy(dtype=np.int64) for c in ("d", "f", "edge"))
    ahead = ft[f] >= dt[d]
    along = np.where(
        ahead, _partial(ft[f] - dt[d], forward_s[e]), _partial(dt[d] - ft[f], backward_s[e])
    )
    return {"d": d, "f": f, "direct": along + f_access[f]}


def road_distance_m(network, points: gpd.GeoSeries) -> np.ndarray:
    """Straight distance (m) of each point (any CRS) to the nearest street of ``network``:
    how far a facility is from every road (the ``far_from_road`` rule,
    :func:`geoplan.analysis.preflight.reject_far_from_road`)."""
    xy = points.to_crs(network.crs)
    return snap_points(network, xy.x.to_numpy(), xy.y.to_numpy()).snap_distance_m
