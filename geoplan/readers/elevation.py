"""Terrain from a DEM: node elevations, edge grades and Tobler's hiking function for walking.

A 15-minute walk uphill is not one downhill. With ``[network] dem`` (``traveltimes --dem``)
walking on each edge and direction runs at Tobler's hiking function of its grade::

    v = v0 · exp(−3.5 · |S + 0.05|) / exp(−3.5 · 0.05)

``v0`` is the walking speed on flat ground (``walk_speed_m_per_min``), ``S = Δh / length`` the
grade in the direction of travel: flat ground keeps ``v0``, a gentle descent (S = −5 %) is
the fastest (1.19 v0), a 10 % climb takes 1.42 × as long as flat ground and the same descent
as long as flat ground, so up and down differ. Only walking uses the terrain; the access legs
(off-road, straight) stay at ``v0``, and the vehicle modes stay flat.

How the grade is measured (as osmnx's ``add_edge_grades``):

* **Elevations** of the nodes are sampled **bilinearly** from the DEM in the DEM's own CRS
  (node coordinates are transformed to it): the four pixel centres around a node, weighted by
  distance, so a node between pixels gets neither one's value. Any raster rasterio reads
  works (GeoTIFF, SRTM ``.hgt``; zipped ``.hgt.zip`` and other one-raster zips through GDAL's
  ``/vsizip/``); values are metres.
* **Grade per edge**, junction to junction, from its end nodes by default:
  ``S = (h(v) − h(u)) / length_m``. ``sample_m`` (``[network] dem_sample_m``) samples along
  edges longer than that as well: the edge is cut into equal pieces of at most ``sample_m``,
  each piece walked at its own grade (a street over a hill is slower both ways than its
  ends say). Times along part of an edge (where a resident or facility sits on it) are the
  edge's time prorated by length: exact for the end-node grade (one speed along the edge),
  the edge's mean pace with ``sample_m``.
* **Bridges and tunnels** (edges tagged ``bridge`` or ``tunnel`` with any value but ``no``)
  and **elevators** keep grade 0: the DEM measures the valley under a bridge and the hill over
  a tunnel, and an elevator is not a slope.

**Nodes outside the DEM or on nodata** (voids, the sea, a DEM that does not cover the whole
network) are refused by default (:class:`InputError` naming how many, one of them and the
DEM's extent): a silently flat edge in hilly country would be a wrong figure. With
``missing="flat"`` (``[network] dem_missing = "flat"``) their edges count as flat instead and
the run says how many (summary.json ``terrain``, a warning). Only nodes of edges walking may
use are sampled.

Limits (say so in a plan): the DEM's resolution bounds what the grade can see (SRTM's 30–90 m
pixels smooth steps, embankments and short steep lanes; on short edges its noise gives grades
that are not there); bridges and tunnels are known only where OSM tags them; Tobler's
function is for walking on paths, fitted to hikers, not to the elderly or to stairs (steps
get the grade's speed like any edge).
"""

from __future__ import annotations

import dataclasses
import math
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import shapely
from pyproj import CRS, Transformer

from ..errors import InputError, InputFileNotFoundError
from ..limits import current

__all__ = [
    "DEM_MISSING",
    "TOBLER_K",
    "TOBLER_OPTIMUM",
    "Terrain",
    "sample_dem",
    "terrain_from_dem",
    "tobler_speed_ratio",
    "tobler_time_factor",
    "with_terrain",
]

TOBLER_K = 3.5
"""Tobler's exponent (per unit of grade)."""
TOBLER_OPTIMUM = -0.05
"""The grade Tobler's walker is fastest on (a 5 % descent)."""
DEM_MISSING: tuple[str, ...] = ("refuse", "flat")
"""What nodes outside the DEM or on nodata do: refuse (default), or leave their edges flat."""

_NOT_A_STRUCTURE = frozenset({"no", "false", "0"})
_FLAT_CLASSES = frozenset({"elevator"})
_RASTER_SUFFIXES = (".hgt", ".tif", ".tiff", ".img", ".asc", ".dem", ".bil", ".vrt", ".nc")


def tobler_speed_ratio(grade: np.ndarray | float) -> np.ndarray:
    """Walking speed on ``grade`` (rise over run, in the direction of travel) over the speed on
    flat ground: ``exp(−3.5·|S + 0.05|) / exp(−3.5·0.05)``."""
    grade = np.asarray(grade, dtype=np.float64)
    return np.exp(-TOBLER_K * np.abs(grade - TOBLER_OPTIMUM) - TOBLER_K * TOBLER_OPTIMUM)


def tobler_time_factor(grade: np.ndarray | float) -> np.ndarray:
    """Walking time on ``grade`` over the time on flat ground (1 / :func:`tobler_speed_ratio`)."""
    return 1.0 / tobler_speed_ratio(grade)


@dataclass(frozen=True, eq=False)
class Terrain:
    """What a DEM does to walking on one network (``Network.terrain``).

    ``walk_factor_forward``/``walk_factor_backward``: per edge, the walking time u→v and v→u
    over the time on flat ground (1 on flat ground, bridges, tunnels, elevators and edges
    walking may not use); ``node_elevation_m``: per node (NaN where not sampled or missing);
    ``grade``: per edge, the end-node grade u→v (0 where kept flat). The rest says how it was
    made, for summary.json.
    """

    node_elevation_m: np.ndarray
    grade: np.ndarray
    walk_factor_forward: np.ndarray
    walk_factor_backward: np.ndarray
    source: str
    dem_crs: str
    sample_m: float | None
    missing: str
    nodes_sampled: int
    nodes_missing: int
    edges_flat_missing: int
    edges_structures: int

    def summary(self) -> dict:
        """What summary.json and run.json say about the terrain."""
        z = self.node_elevation_m[np.isfinite(self.node_elevation_m)]
        sloped = np.abs(self.grade)
        return {
            "dem": Path(self.source).name,
            "dem_crs": self.dem_crs,
            "grade": "end nodes"
            if self.sample_m is None
            else f"sampled every {self.sample_m:g} m along edges",
            "dem_sample_m": self.sample_m,
            "dem_missing": self.missing,
            "nodes_sampled": self.nodes_sampled,
            "nodes_missing": self.nodes_missing,
            "edges_flat_missing": self.edges_flat_missing,
            "edges_bridge_tunnel_elevator": self.edges_structures,
            "elevation_m": None
            if z.size == 0
            else {"min": round(float(z.min()), 1), "max": round(float(z.max()), 1)},
            "edges_grade_over_10pct": int((sloped > 0.10).sum()),
        }


def with_terrain(network, path: str | Path, **options) -> object:
    """``network`` with the :class:`Terrain` of the DEM at ``path`` (:func:`terrain_from_dem`)."""
    return dataclasses.replace(network, terrain=terrain_from_dem(network, path, **options))


def terrain_from_dem(
    network,
    path: str | Path,
    *,
    sample_m: float | None = None,
    missing: str = "refuse",
) -> Terrain:
    """Node elevations, grades and Tobler's walking-time factors of ``network`` from a DEM.

    Parameters
    ----------
    network : Network
        Projected network; only edges walking may use (any access, private ways included)
        are sampled.
    path : str or path-like
        A raster rasterio reads (GeoTIFF, ``.hgt``, a zip holding one raster …), metres.
    sample_m : float, optional
        Also sample along edges longer than this (pieces of at most ``sample_m`` metres);
        None: the end nodes' grade only.
    missing : {"refuse", "flat"}
        Nodes outside the DEM or on nodata: an :class:`InputError` (default), or their edges
        are flat (counted in :meth:`Terrain.summary`).
    """
    if missing not in DEM_MISSING:
        raise InputError(f"dem_missing must be one of {', '.join(DEM_MISSING)}, got {missing!r}")
    if sample_m is not None and not (math.isfinite(sample_m) and sample_m > 0):
        raise InputError(f"dem_sample_m must be positive metres, got {sample_m!r}")
    edges = network.edges
    n_nodes = len(network.nodes)
    u = edges["u"].to_numpy(dtype=np.int64)
    v = edges["v"].to_numpy(dtype=np.int64)
    forward, backward = network.edge_times_s("walk", private_ways="include")
    walkable = np.isfinite(forward) | np.isfinite(backward)
    structures = _structures(edges)
    flat = structures | ~walkable
    sloped = ~flat & (u != v)
    needed = np.zeros(n_nodes, dtype=bool)
    needed[u[sloped]] = needed[v[sloped]] = True
    node_z = np.full(n_nodes, np.nan)
    x = network.nodes["x"].to_numpy(dtype=np.float64)
    y = network.nodes["y"].to_numpy(dtype=np.float64)
    with _Dem(path) as dem:
        node_z[needed] = dem.sample(x[needed], y[needed], network.crs)
        pieces = None
        if sample_m is not None:
            pieces = _along_edges(network, np.flatnonzero(sloped), sample_m, node_z, dem)
    length = edges["length_m"].to_numpy(dtype=np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        grade = np.where(sloped & (length > 0), (node_z[v] - node_z[u]) / length, 0.0)
    lost = sloped & ~np.isfinite(grade)
    if pieces is not None:
        lost |= pieces.lost
    missing_nodes = needed & ~np.isfinite(node_z)
    if lost.any() and missing == "refuse":
        raise InputError(_missing_message(network, path, dem.bounds_text, missing_nodes, lost))
    grade = np.where(lost, 0.0, grade)
    forward_f, backward_f = tobler_time_factor(grade), tobler_time_factor(-grade)
    if pieces is not None:
        forward_f[pieces.edge] = pieces.forward
        backward_f[pieces.edge] = pieces.backward
    forward_f[lost | flat] = backward_f[lost | flat] = 1.0
    return Terrain(
        node_elevation_m=node_z,
        grade=grade,
        walk_factor_forward=forward_f,
        walk_factor_backward=backward_f,
        source=str(path),
        dem_crs=dem.crs_text,
        sample_m=None if sample_m is None else float(sample_m),
        missing=missing,
        nodes_sampled=int(needed.sum()),
        nodes_missing=int(missing_nodes.sum()),
        edges_flat_missing=int(lost.sum()),
        edges_structures=int((structures & walkable).sum()),
    )


def sample_dem(path: str | Path, x: np.ndarray, y: np.ndarray, crs) -> np.ndarray:
    """Bilinear DEM values (metres) at points ``x``/``y`` in ``crs``; NaN outside the DEM or
    where a pixel used is nodata."""
    with _Dem(path) as dem:
        return dem.sample(np.asarray(x, dtype=float), np.asarray(y, dtype=float), crs)


@dataclass(frozen=True)
class _Pieces:
    """Walking-time factors of the edges sampled along their length."""

    edge: np.ndarray
    forward: np.ndarray
    backward: np.ndarray
    lost: np.ndarray  # per network edge: an inner sample fell outside the DEM or on nodata


def _along_edges(network, candidates: np.ndarray, sample_m: float, node_z, dem) -> _Pieces:
    """Cut the edges longer than ``sample_m`` into equal pieces and time each at its grade.

    The pieces' ends are the end nodes and points at equal distances along the geometry;
    the factor of an edge is the mean of its pieces' (equal lengths).
    """
    geoms = np.asarray(network.edges.geometry.values)[candidates]
    geo_len = shapely.length(geoms)
    n_pieces = np.maximum(1, np.ceil(geo_len / sample_m)).astype(np.int64)
    long = n_pieces > 1
    edge, geoms, geo_len, n_pieces = (
        candidates[long],
        geoms[long],
        geo_len[long],
        n_pieces[long],
    )
    lost = np.zeros(len(network.edges), dtype=bool)
    if edge.size == 0:
        empty = np.zeros(0)
        return _Pieces(edge, empty, empty, lost)
    inner = n_pieces - 1
    which = np.repeat(np.arange(edge.size), inner)
    k = np.arange(which.size) - np.repeat(np.cumsum(inner) - inner, inner) + 1
    points = shapely.line_interpolate_point(geoms[which], k / n_pieces[which], normalized=True)
    px, py = shapely.get_x(points), shapely.get_y(points)
    inner_z = dem.sample(px, py, network.crs)
    u = network.edges["u"].to_numpy(dtype=np.int64)[edge]
    v = network.edges["v"].to_numpy(dtype=np.int64)[edge]
    # profile per edge: h(u), inner samples, h(v); consecutive differences are the rises
    size = n_pieces + 1
    starts = np.cumsum(size) - size
    profile = np.empty(int(size.sum()))
    profile[starts] = node_z[u]
    profile[starts + n_pieces] = node_z[v]
    inner_pos = np.repeat(starts, inner) + k
    profile[inner_pos] = inner_z
    piece_of = np.repeat(np.arange(edge.size), n_pieces)
    first = np.repeat(starts, n_pieces) + (
        np.arange(piece_of.size) - np.repeat(np.cumsum(n_pieces) - n_pieces, n_pieces)
    )
    rise = profile[first + 1] - profile[first]
    run = (geo_len / n_pieces)[piece_of]
    grade = rise / run
    bad = ~np.isfinite(grade)
    lost[edge[np.unique(piece_of[bad])]] = True
    grade = np.where(bad, 0.0, grade)
    forward = np.bincount(piece_of, tobler_time_factor(grade)) / n_pieces
    backward = np.bincount(piece_of, tobler_time_factor(-grade)) / n_pieces
    return _Pieces(edge, forward, backward, lost)


def _structures(edges) -> np.ndarray:
    """Edges that keep grade 0: tagged bridge or tunnel (any value but no), or elevators."""
    flat = edges["highway"].isin(_FLAT_CLASSES).to_numpy(dtype=bool, copy=True)
    for key in ("bridge", "tunnel"):
        if key in edges:
            codes, uniques = pd.factorize(edges[key], use_na_sentinel=True)  # few values
            tagged = np.array([_is_structure(value) for value in uniques], dtype=bool)
            flat |= (codes >= 0) & tagged[np.maximum(codes, 0)] if len(uniques) else False
    return flat


def _is_structure(value: object) -> bool:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return False
    parts = [p.strip().lower() for p in str(value).split(";") if p.strip()]
    return any(p not in _NOT_A_STRUCTURE for p in parts)


def _missing_message(network, path, bounds_text: str, missing_nodes, lost) -> str:
    where = ""
    nodes = np.flatnonzero(missing_nodes)
    if nodes.size:
        to_wgs84 = Transformer.from_crs(network.crs, CRS.from_epsg(4326), always_xy=True)
        lon, lat = to_wgs84.transform(
            float(network.nodes["x"].iloc[nodes[0]]), float(network.nodes["y"].iloc[nodes[0]])
        )
        where = (
            f" (e.g. node {int(network.nodes['node_id'].iloc[nodes[0]])} at {lon:.5f}, {lat:.5f})"
        )
    return (
        f"DEM {Path(str(path)).name}: {int(lost.sum()):,} walkable edges have ends or samples "
        f"outside the DEM or on its nodata cells: {int(missing_nodes.sum()):,} nodes{where}; "
        f"the DEM covers {bounds_text}. Use a DEM covering the whole network (fill its voids), "
        'or set [network] dem_missing = "flat" to count those edges as flat (reported) / '
        f"{int(missing_nodes.sum()):,} 个路网节点位于高程数据范围外或无数据处"
    )


class _Dem:
    """An open DEM: bilinear sampling in its own CRS, one window read per call."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        if not self.path.is_file():
            raise InputFileNotFoundError(f"DEM file not found: {self.path}")
        self.uri = _dem_uri(self.path)

    def __enter__(self) -> _Dem:
        import rasterio

        try:
            self.ds = rasterio.open(self.uri)
        except rasterio.errors.RasterioIOError as exc:
            raise InputError(f"{self.path.name}: cannot read as a DEM raster ({exc})") from exc
        if self.ds.crs is None:
            self.ds.close()
            raise InputError(
                f"{self.path.name}: the DEM has no coordinate system; save it with its CRS "
                "(SRTM tiles are EPSG:4326)"
            )
        self.crs = CRS.from_user_input(self.ds.crs)
        code = self.crs.to_epsg()
        self.crs_text = f"EPSG:{code}" if code else self.crs.name
        left, bottom, right, top = self.ds.bounds
        to_wgs84 = Transformer.from_crs(self.crs, CRS.from_epsg(4326), always_xy=True)
        (w, e), (s, n) = to_wgs84.transform([left, right], [bottom, top])
        self.bounds_text = (
            f"lon {min(w, e):.4f}–{max(w, e):.4f}, lat {min(s, n):.4f}–{max(s, n):.4f}"
        )
        return self

    def __exit__(self, *exc: object) -> None:
        self.ds.close()

    def sample(self, x: np.ndarray, y: np.ndarray, crs) -> np.ndarray:
        """Bilinear values at ``x``/``y`` (in ``crs``): pixel centres around each point, NaN
        outside the raster or where a pixel with weight is nodata."""
        from rasterio.windows import Window

        out = np.full(len(x), np.nan)
        if len(x) == 0:
            return out
        crs = CRS.from_user_input(crs)
        if not crs.equals(self.crs):
            x, y = Transformer.from_crs(crs, self.crs, always_xy=True).transform(x, y)
            x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
        ds = self.ds
        col, row = ~ds.transform * (x, y)
        col, row = np.asarray(col, dtype=float), np.asarray(row, dtype=float)
        h, w = ds.height, ds.width
        inside = np.isfinite(col) & np.isfinite(row) & (col >= 0) & (col <= w)
        inside &= (row >= 0) & (row <= h)
        if not inside.any():
            return out
        px = np.clip(col[inside] - 0.5, 0.0, w - 1)  # pixel-centre grid; edge half-pixels clamp
        py = np.clip(row[inside] - 0.5, 0.0, h - 1)
        j0 = np.minimum(np.floor(px).astype(np.int64), max(w - 2, 0))
        i0 = np.minimum(np.floor(py).astype(np.int64), max(h - 2, 0))
        j1, i1 = np.minimum(j0 + 1, w - 1), np.minimum(i0 + 1, h - 1)
        wx, wy = px - j0, py - i0
        r_lo, r_hi, c_lo, c_hi = int(i0.min()), int(i1.max()), int(j0.min()), int(j1.max())
        cells = (r_hi - r_lo + 1) * (c_hi - c_lo + 1)
        current().check(
            "raster_cells",
            cells,
            "高程栅格读取的像元数",
            f"DEM cells read around the network ({self.path.name})",
            fix="Use a DEM clipped to the area",
        )
        window = Window(c_lo, r_lo, c_hi - c_lo + 1, r_hi - r_lo + 1)
        band = ds.read(1, window=window, masked=True)
        grid = np.ma.filled(band.astype(np.float64), np.nan)
        scale, offset = ds.scales[0], ds.offsets[0]
        if scale not in (None, 1.0) or offset not in (None, 0.0):
            grid = grid * (scale or 1.0) + (offset or 0.0)
        value = np.zeros(len(px))
        valid = np.ones(len(px), dtype=bool)
        for ii, jj, weight in (
            (i0, j0, (1 - wx) * (1 - wy)),
            (i0, j1, wx * (1 - wy)),
            (i1, j0, (1 - wx) * wy),
            (i1, j1, wx * wy),
        ):
            z = grid[ii - r_lo, jj - c_lo]
            used = weight > 0
            valid &= ~used | np.isfinite(z)
            value += np.where(used, weight * np.where(np.isfinite(z), z, 0.0), 0.0)
        out[np.flatnonzero(inside)] = np.where(valid, value, np.nan)
        return out


def _dem_uri(path: Path) -> str:
    """What rasterio opens: the path, or ``/vsizip/…`` the one raster inside a zip."""
    if path.name.lower().endswith(".zip"):
        try:
            with zipfile.ZipFile(path) as archive:
                names = [n for n in archive.namelist() if not n.endswith("/")]
        except zipfile.BadZipFile as exc:
            raise InputError(f"{path.name}: not a readable zip file ({exc})") from exc
        rasters = [n for n in names if n.lower().endswith(_RASTER_SUFFIXES)]
        if len(rasters) != 1:
            raise InputError(
                f"{path.name}: a zipped DEM must hold one raster; found "
                f"{', '.join(rasters or names) or 'nothing'}"
            )
        return f"/vsizip/{path.resolve()}/{rasters[0]}"
    return str(path)
