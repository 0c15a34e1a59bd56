"""The travel engine: exact snapping to edges and one multi-source Dijkstra pass per rule.

Times are seconds, distances metres, coordinates in the network's projected CRS. A point
enters the network on the nearest edge the mode may use: a straight access leg at an off-road
walking speed, then the along-edge part to one of the edge's end nodes (one-way aware).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import pandas as pd
import scipy.sparse as sp
import shapely
from scipy.sparse.csgraph import dijkstra

from .errors import NetworkError

logger = logging.getLogger(__name__)

DEFAULT_WALK_SPEED_M_PER_MIN = 70.0
"""Walking speed (m/min); Chinese plans use 60–80 m/min (standards.md §3.7)."""


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
    ``facility`` (position into the facility array, -1 when none is reachable); also
    ``node_time_s``, the seconds from every network node (inf when none is reachable)."""

    travel_time_s: np.ndarray
    facility: np.ndarray
    node_time_s: np.ndarray


def mode_edge_mask(forward_s: np.ndarray, backward_s: np.ndarray) -> np.ndarray:
    """Edges a mode can use in at least one direction."""
    return np.isfinite(forward_s) | np.isfinite(backward_s)


def snap_points(network, x: np.ndarray, y: np.ndarray, *, usable: np.ndarray | None = None) -> Snap:
    """Snap points (network CRS, metres) to the nearest usable edge, exactly.

    Parameters
    ----------
    network : Network
        The street network.
    x, y : array of float
        Point coordinates in ``network.crs``.
    usable : bool array, optional
        Edges the mode may use; others are never snapped to.
    """
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    geoms = np.asarray(network.edges.geometry.values)
    candidates = np.arange(len(geoms)) if usable is None else np.flatnonzero(usable)
    if len(candidates) == 0:
        raise NetworkError("the network has no edge usable by this travel mode")
    points = shapely.points(x, y)
    if len(points) == 0:
        empty = np.empty(0)
        return Snap(empty.astype(np.int64), empty, empty)
    tree = shapely.STRtree(geoms[candidates])
    (point_idx, tree_idx), distance = tree.query_nearest(
        points, return_distance=True, all_matches=False
    )
    edge = np.empty(len(points), dtype=np.int64)
    snap_distance_m = np.empty(len(points))
    edge[point_idx] = candidates[tree_idx]
    snap_distance_m[point_idx] = distance
    fraction = shapely.line_locate_point(geoms[edge], points, normalized=True)
    fraction = np.nan_to_num(fraction, nan=0.0)  # zero-length edges
    return Snap(edge, np.clip(fraction, 0.0, 1.0), snap_distance_m)


def _min_csr(rows: np.ndarray, cols: np.ndarray, cost: np.ndarray, n: int) -> sp.csr_array:
    """CSR matrix keeping the cheapest of parallel arcs (scipy would sum them)."""
    keep = np.isfinite(cost)
    rows, cols, cost = rows[keep], cols[keep], cost[keep]
    order = np.lexsort((cost, cols, rows))
    rows, cols, cost = rows[order], cols[order], cost[order]
    first = np.ones(len(rows), dtype=bool)
    first[1:] = (rows[1:] != rows[:-1]) | (cols[1:] != cols[:-1])
    return sp.csr_array((cost[first], (rows[first], cols[first])), shape=(n, n))


def _partial(fraction: np.ndarray, seconds: np.ndarray) -> np.ndarray:
    """Time for a fraction of an edge; zero at the very node even where the edge is closed."""
    with np.errstate(invalid="ignore"):
        return np.where(fraction == 0, 0.0, fraction * seconds)


def transposed_street_csr(network, forward_s: np.ndarray, backward_s: np.ndarray) -> sp.csr_array:
    """The street graph with every arc reversed (so searches run node → facility).

    Build it once per network and mode and pass it to :func:`facility_search` as ``base``.
    """
    u, v = _ends(network)
    return _min_csr(
        np.concatenate([v, u]),
        np.concatenate([u, v]),
        np.concatenate([forward_s, backward_s]),
        len(network.nodes),
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


def facility_search(
    network,
    forward_s: np.ndarray,
    backward_s: np.ndarray,
    facilities: Snap,
    *,
    access_speed_m_per_min: float = DEFAULT_WALK_SPEED_M_PER_MIN,
    base: sp.csr_array | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Seconds from every node to its nearest facility and that facility's position.

    One ``min_only`` Dijkstra on the transposed street graph (times run node → facility,
    which matters on one-way streets) plus one virtual node per facility, joined to its
    edge's end nodes with the partial edge time and the facility's access leg. Returns
    ``(seconds, facility)`` per node: inf and -1 where no facility is reachable. ``base`` is
    :func:`transposed_street_csr` of the same times, built here when not given.
    """
    if access_speed_m_per_min <= 0:
        raise ValueError("access_speed_m_per_min must be positive")
    u, v = _ends(network)
    n_nodes = len(network.nodes)
    n_fac = len(facilities)
    if n_fac == 0:
        return np.full(n_nodes, np.inf), np.full(n_nodes, -1, dtype=np.int64)
    if base is None:
        base = transposed_street_csr(network, forward_s, backward_s)
    fe, ft = facilities.edge, facilities.fraction
    f_access = facilities.snap_distance_m / (access_speed_m_per_min / 60.0)
    # Original arcs u→facility and v→facility, transposed to facility→u and facility→v.
    cols = np.column_stack([u[fe], v[fe]])
    cost = np.column_stack(
        [_partial(ft, forward_s[fe]) + f_access, _partial(1 - ft, backward_s[fe]) + f_access]
    )
    graph = _with_virtual_rows(base, cols, cost)
    virtual = n_nodes + np.arange(n_fac)
    dist, _, sources = dijkstra(
        graph, directed=True, indices=virtual, min_only=True, return_predecessors=True
    )
    facility = np.where(sources[:n_nodes] >= 0, sources[:n_nodes] - n_nodes, -1)
    return dist[:n_nodes], facility.astype(np.int64)


def nearest_facility(
    network,
    forward_s: np.ndarray,
    backward_s: np.ndarray,
    facilities: Snap,
    demand: Snap,
    *,
    access_speed_m_per_min: float = DEFAULT_WALK_SPEED_M_PER_MIN,
    base: sp.csr_array | None = None,
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
        :func:`transposed_street_csr` of the same times, reused across calls.
    """
    node_s, node_facility = facility_search(
        network,
        forward_s,
        backward_s,
        facilities,
        access_speed_m_per_min=access_speed_m_per_min,
        base=base,
    )
    u, v = _ends(network)
    access_mps = access_speed_m_per_min / 60.0
    de, dt = demand.edge, demand.fraction
    via_v = _partial(1 - dt, forward_s[de]) + node_s[v[de]]
    via_u = _partial(dt, backward_s[de]) + node_s[u[de]]
    use_u = via_u < via_v
    time = np.where(use_u, via_u, via_v)
    facility = np.where(use_u, node_facility[u[de]], node_facility[v[de]])
    if len(facilities):
        f_access = facilities.snap_distance_m / access_mps
        time, facility = _same_edge_shortcuts(
            time, facility, demand, facilities, f_access, forward_s, backward_s
        )
    reachable = np.isfinite(time)
    travel_time_s = np.where(reachable, time + demand.snap_distance_m / access_mps, np.nan)
    facility = np.where(reachable, facility, -1).astype(np.int64)
    return Nearest(travel_time_s, facility, node_s)


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
) -> pd.DataFrame:
    """Facility × demand travel times truncated at ``cutoff_s`` (inclusive), in long form.

    Bounded Dijkstras (``limit=cutoff_s``) from the facilities' virtual nodes, a block of
    facilities per call so memory stays at about ``max_cells`` floats. Only the (facility,
    node) pairs a search reached are expanded to the demand points whose edge ends at that
    node, so the work follows the pairs within reach, not facilities × demand points. Times
    run demand → facility and equal :func:`nearest_facility`'s for the nearest one. Returns
    ``demand`` and ``facility`` (positions) and ``travel_time_s``; pairs beyond the cutoff are
    absent (no sentinel values).
    """
    if not cutoff_s > 0:
        raise ValueError("cutoff_s must be positive")
    n_nodes, n_fac = len(network.nodes), len(facilities)
    if base is None:
        base = transposed_street_csr(network, forward_s, backward_s)
    u, v = _ends(network)
    access_mps = access_speed_m_per_min / 60.0
    fe, ft = facilities.edge, facilities.fraction
    f_access = facilities.snap_distance_m / access_mps
    graph = _with_virtual_rows(
        base,
        np.column_stack([u[fe], v[fe]]),
        np.column_stack(
            [_partial(ft, forward_s[fe]) + f_access, _partial(1 - ft, backward_s[fe]) + f_access]
        ),
    )
    de, dt = demand.edge, demand.fraction
    exits = [  # demand points grouped by the node they leave their edge through
        _points_by_node(v[de], _partial(1 - dt, forward_s[de]), n_nodes),
        _points_by_node(u[de], _partial(dt, backward_s[de]), n_nodes),
    ]
    shared = _same_edge_pairs(demand, facilities, f_access, forward_s, backward_s)
    d_parts, f_parts, t_parts = [shared["d"]], [shared["f"]], [shared["direct"]]
    block = max(1, int(max_cells // (n_nodes + n_fac)))
    for start in range(0, n_fac, block):
        chunk = np.arange(start, min(start + block, n_fac))
        dist = dijkstra(graph, directed=True, indices=n_nodes + chunk, limit=cutoff_s)
        f_local, node = np.nonzero(np.isfinite(dist[:, :n_nodes]))
        reached_s = dist[f_local, node]
        for order, indptr, leave_s in exits:
            counts = indptr[node + 1] - indptr[node]
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


def _points_by_node(
    node: np.ndarray, leave_s: np.ndarray, n_nodes: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Demand points sorted by exit node, a CSR index into them, and their exit seconds."""
    order = np.argsort(node, kind="stable")
    indptr = np.concatenate([[0], np.cumsum(np.bincount(node, minlength=n_nodes))])
    return order, indptr, leave_s


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
