"""Inputs must describe one place: network, demand, facilities, boundary and units overlap.

:func:`check_overlap` measures, before anything is computed, how well each pair of inputs
fits (every share is of what the second input holds):

``demand_near_network``
    residents within :data:`NEAR_STREET_M` of a street of the network;
``facilities_near_network``
    facilities (with a position) within ``max_snap_m`` of a street;
``boundary_on_network``
    the boundary's area within :data:`NEAR_AREA_M` of the network's convex hull (lakes and
    hills hold no streets, so the hull, not the streets, is the network's extent);
``demand_in_boundary``
    residents inside the boundary (or within its ``tolerance_m``); it only refuses: residents
    partly outside are reported by the run (``demand_outside_area``);
``facilities_in_boundary``
    facilities with a position that are inside the boundary (the others were rejected as
    ``outside_area`` when read);
``demand_in_units``
    residents inside one of the ``[units]`` polygons.

A share below :data:`REFUSE_SHARE` means the inputs are of different places (or one covers
only a corner of another): :class:`~geoplan.errors.InputError`, one line naming the input
that does not fit (the one in the most failing and fewest fitting pairs), its WGS84 extent
and the others'. Facilities are refused only when none fits (a county list over a town's
network is normal: the rest are rejected row by row); a boundary wider than the network
never is by itself (it harms no figure while the residents lie on the network), but counts
when naming the input that does not fit. A partial fit (residents below :data:`WARN_SHARE`,
the boundary below :data:`WARN_AREA_SHARE`, any facility) is a warning for ``summary.json``
``warnings``.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import shapely

from ..errors import InputError
from . import engine
from .coverage import point_xy

__all__ = [
    "NEAR_AREA_M",
    "NEAR_STREET_M",
    "REFUSE_SHARE",
    "WARN_AREA_SHARE",
    "WARN_SHARE",
    "Overlap",
    "check_overlap",
]

logger = logging.getLogger(__name__)

NEAR_STREET_M = 500.0
"""Residents farther than this from every street are "not on the network" (metres)."""
NEAR_AREA_M = 1000.0
"""The network's extent: its convex hull widened by this (metres)."""
REFUSE_SHARE = 0.5
"""Below this share two inputs are taken to describe different places: refused."""
WARN_SHARE = 0.99
"""Residents: below this share the overlap is partial: a warning."""
WARN_AREA_SHARE = 0.9
"""The boundary's area on the network: below this share, a warning."""

_NAMES = {
    "network": ("路网", "network"),
    "demand": ("人口", "population (demand)"),
    "facilities": ("设施", "facilities"),
    "boundary": ("边界", "boundary"),
    "units": ("行政单元", "units"),
}


@dataclass
class Overlap:
    """What :func:`check_overlap` measured: shares per relation and the warnings."""

    shares: dict[str, float] = field(default_factory=dict)
    warnings: list[dict] = field(default_factory=list)


@dataclass(frozen=True)
class _Relation:
    name: str
    inputs: tuple[str, str]
    share: float  # 0..1
    refuse: bool  # this relation alone refuses the inputs
    warn: bool
    zh: str
    en: str

    @property
    def fits(self) -> bool:
        """Whether the two inputs fit (for naming the odd one out of a refusal)."""
        return self.share >= REFUSE_SHARE and not self.refuse


def _share(part: float, whole: float) -> float:
    return float(part / whole) if whole > 0 else 1.0


def _bounds_wgs84(bounds: Sequence[float], crs) -> tuple[float, float, float, float]:
    if crs is None or pyproj.CRS.from_user_input(crs).equals("EPSG:4326", ignore_axis_order=True):
        return tuple(float(b) for b in bounds)
    to = pyproj.Transformer.from_crs(crs, 4326, always_xy=True)
    return tuple(float(b) for b in to.transform_bounds(*bounds))


def _bbox_text(b: Sequence[float]) -> str:
    def lon(v: float) -> str:
        return f"{abs(v):.3f}°{'E' if v >= 0 else 'W'}"

    def lat(v: float) -> str:
        return f"{abs(v):.3f}°{'N' if v >= 0 else 'S'}"

    return f"{lon(b[0])}–{lon(b[2])}, {lat(b[1])}–{lat(b[3])}"


def _union(boxes: Sequence[Sequence[float]]) -> tuple[float, float, float, float]:
    a = np.asarray(boxes, dtype=float)
    return (a[:, 0].min(), a[:, 1].min(), a[:, 2].max(), a[:, 3].max())


def _pct(share: float) -> str:
    return f"{share:.0%}" if share >= 0.01 or share == 0 else f"{share:.1%}"


def check_overlap(
    *,
    network,
    demand: gpd.GeoDataFrame,
    facilities: gpd.GeoDataFrame,
    facility_snap_m: np.ndarray,
    max_snap_m: float | np.ndarray,
    facilities_outside: int = 0,
    boundary: gpd.GeoDataFrame | None = None,
    boundary_tolerance_m: float = NEAR_STREET_M,
    units: gpd.GeoDataFrame | None = None,
    files: dict[str, str] | None = None,
    area: str = "",
    demand_xy: tuple[np.ndarray, np.ndarray] | None = None,
) -> Overlap:
    """Measure how the inputs overlap; refuse inputs of different places, warn when partial.

    Parameters
    ----------
    network : Network
        The street network (its ``crs`` is metric).
    demand : GeoDataFrame
        Demand points with ``population``, any CRS.
    facilities : GeoDataFrame
        The facilities read and used so far (before ``far_from_road``), any CRS.
    facility_snap_m : array of float
        Each facility's distance to the nearest street (metres).
    max_snap_m : float or array of float
        Facilities farther than this (one value, or one per facility) from every street are
        not on the network.
    facilities_outside : int
        Records rejected as ``outside_area`` when read (they had a position).
    boundary, units : GeoDataFrame, optional
        The study area and the ``[units]`` layer (None: not given).
    boundary_tolerance_m : float
        Residents this close outside the boundary belong to the area (``[boundary]
        tolerance_m``); those farther out are reported by the run as ``demand_outside_area``,
        so this relation only refuses (a population of another place), it does not warn.
    files : dict, optional
        Input name → file name, for the messages.
    area : str
        The project's area name, for the messages.
    demand_xy : (x, y) arrays, optional
        The demand points' coordinates in the network CRS (:func:`point_xy` of ``demand``).

    Returns
    -------
    Overlap

    Raises
    ------
    InputError
        Two inputs overlap less than :data:`REFUSE_SHARE` (one line naming the input).
    """
    crs = network.crs
    nodes = network.nodes
    net_box = (nodes["x"].min(), nodes["y"].min(), nodes["x"].max(), nodes["y"].max())
    boxes: dict[str, tuple[float, float, float, float]] = {"network": _bounds_wgs84(net_box, crs)}
    x, y = point_xy(demand, crs) if demand_xy is None else demand_xy
    if len(x) != len(demand):
        raise ValueError(f"demand_xy has {len(x)} points; demand has {len(demand)}")
    residents = _Residents(x, y, demand["population"].to_numpy(dtype=float))
    if len(x):
        boxes["demand"] = _bounds_wgs84((x.min(), y.min(), x.max(), y.max()), crs)
    relations = [_demand_near_network(network, residents, net_box)]
    if len(facilities):
        fac = (
            facilities.geometry.to_crs(4326) if facilities.crs is not None else facilities.geometry
        )
        boxes["facilities"] = tuple(float(v) for v in fac.total_bounds)
        relations.append(_facilities_near_network(len(facilities), facility_snap_m, max_snap_m))
    if boundary is not None and not boundary.empty:
        shape = shapely.union_all(boundary.to_crs(crs).geometry.to_numpy())
        boxes["boundary"] = _bounds_wgs84(shape.bounds, crs)
        relations += _boundary_relations(
            shape, nodes, residents, boundary_tolerance_m, len(facilities), facilities_outside
        )
    if units is not None and not units.empty:
        shape = shapely.union_all(units.to_crs(crs).geometry.to_numpy())
        boxes["units"] = _bounds_wgs84(shape.bounds, crs)
        relations.append(_demand_in_units(shape, residents))
    failing = [r for r in relations if r.refuse]
    if failing:
        raise InputError(_refusal(failing, relations, boxes, files or {}, area))
    result = Overlap(shares={r.name: r.share for r in relations})
    for r in relations:
        if r.warn:
            result.warnings.append(
                {
                    "check": r.name,
                    "message_zh": f"输入部分重叠：{r.zh}。",
                    "message_en": f"inputs overlap only partly: {r.en}.",
                    "share": r.share,
                }
            )
            logger.warning("inputs overlap only partly: %s", r.en)
    return result


@dataclass(frozen=True)
class _Residents:
    """The demand points in the network CRS (metres) and their population."""

    x: np.ndarray
    y: np.ndarray
    population: np.ndarray

    @property
    def total(self) -> float:
        return float(self.population.sum())


def _demand_near_network(network, residents: _Residents, net_box) -> _Relation:
    """The share of the residents within :data:`NEAR_STREET_M` of a street."""
    near = _near_streets(network, residents.x, residents.y, net_box)
    total, within = residents.total, float(residents.population[near].sum())
    share = _share(within, total)
    return _Relation(
        "demand_near_network",
        ("network", "demand"),
        share,
        share < REFUSE_SHARE,
        share < WARN_SHARE,
        f"{_pct(share)} 的居民（{total:,.0f} 人中 {within:,.0f} 人）距路网街道 "
        f"{NEAR_STREET_M:,.0f} 米以内",
        f"{_pct(share)} of the {total:,.0f} residents are within {NEAR_STREET_M:,.0f} m of a "
        "street of the network",
    )


def _facilities_near_network(
    n_fac: int, facility_snap_m: np.ndarray, max_snap_m: float | np.ndarray
) -> _Relation:
    """The share of the facilities within their ``max_snap_m`` of a street."""
    limit = np.broadcast_to(np.asarray(max_snap_m, dtype=float), (n_fac,))
    fitting = int((np.asarray(facility_snap_m) <= limit).sum())
    within = f"{limit[0]:,.0f} m" if np.all(limit == limit[0]) else "their file's max_snap_m"
    within_zh = f"{limit[0]:,.0f} 米" if np.all(limit == limit[0]) else "各自文件的 max_snap_m"
    return _Relation(
        "facilities_near_network",
        ("network", "facilities"),
        fitting / n_fac,
        fitting == 0,
        fitting < n_fac,
        f"{n_fac:,} 个设施中 {fitting:,} 个距路网街道 {within_zh}以内"
        "（其余作为 far_from_road 拒绝）",
        f"{fitting:,} of the {n_fac:,} facilities are within {within} of a street of "
        "the network (the others are rejected as far_from_road)",
    )


def _boundary_relations(
    shape: shapely.Geometry,
    nodes: pd.DataFrame,
    residents: _Residents,
    tolerance_m: float,
    n_fac: int,
    facilities_outside: int,
) -> list[_Relation]:
    """The boundary against the network's extent, the residents and the facilities."""
    hull = shapely.multipoints(np.column_stack([nodes["x"], nodes["y"]])).convex_hull
    share = _share(shape.intersection(hull.buffer(NEAR_AREA_M)).area, shape.area)
    relations = [
        _Relation(
            "boundary_on_network",
            ("network", "boundary"),
            share,
            False,  # a boundary wider than the network's data harms no figure
            share < WARN_AREA_SHARE,
            f"边界面积的 {_pct(share)} 在路网范围（凸包外扩 {NEAR_AREA_M:,.0f} 米）内",
            f"{_pct(share)} of the boundary's area lies within the network's extent (its hull "
            f"widened by {NEAR_AREA_M:,.0f} m)",
        )
    ]
    widened = shape.buffer(tolerance_m) if tolerance_m > 0 else shape
    shapely.prepare(widened)
    inside = shapely.intersects_xy(widened, residents.x, residents.y)
    share = _share(residents.population[inside].sum(), residents.total)
    relations.append(
        _Relation(
            "demand_in_boundary",
            ("boundary", "demand"),
            share,
            share < REFUSE_SHARE,
            False,  # the run reports the residents outside (demand_outside_area)
            f"{_pct(share)} 的居民在边界内（含 {tolerance_m:,.0f} 米容差）",
            f"{_pct(share)} of the residents are inside the boundary (or within "
            f"{tolerance_m:,.0f} m of it)",
        )
    )
    located = n_fac + facilities_outside
    if located:
        relations.append(
            _Relation(
                "facilities_in_boundary",
                ("boundary", "facilities"),
                n_fac / located,
                n_fac == 0,
                facilities_outside > 0,
                f"有坐标的 {located:,} 个设施中 {n_fac:,} 个在边界内（其余作为 outside_area 拒绝）",
                f"{n_fac:,} of the {located:,} facilities with a position are inside the "
                "boundary (the others are rejected as outside_area)",
            )
        )
    return relations


def _demand_in_units(shape: shapely.Geometry, residents: _Residents) -> _Relation:
    """The share of the residents inside one of the units."""
    shapely.prepare(shape)
    x, y = residents.x, residents.y
    inside = shapely.contains_xy(shape, x, y) | shapely.intersects_xy(shape, x, y)
    share = _share(residents.population[inside].sum(), residents.total)
    return _Relation(
        "demand_in_units",
        ("units", "demand"),
        share,
        share < REFUSE_SHARE,
        share < WARN_SHARE,
        f"{_pct(share)} 的居民在某个行政单元内（其余计入“区域外”）",
        f"{_pct(share)} of the residents lie in one of the units (the rest count as "
        "outside all units)",
    )


def _near_streets(network, x: np.ndarray, y: np.ndarray, box) -> np.ndarray:
    """Which points lie within :data:`NEAR_STREET_M` of a street (only those near the
    network's bounding box are snapped; the others cannot be)."""
    candidate = (
        (x >= box[0] - NEAR_STREET_M)
        & (x <= box[2] + NEAR_STREET_M)
        & (y >= box[1] - NEAR_STREET_M)
        & (y <= box[3] + NEAR_STREET_M)
    )
    near = np.zeros(len(x), dtype=bool)
    if candidate.all():
        near = engine.snap_points(network, x, y).snap_distance_m <= NEAR_STREET_M
    elif candidate.any():
        snap = engine.snap_points(network, x[candidate], y[candidate])
        near[candidate] = snap.snap_distance_m <= NEAR_STREET_M
    return near


def _refusal(failing, relations, boxes, files, area: str) -> str:
    """The one-line error: the input that does not fit, what does not fit, its extent vs the
    others'."""
    score: dict[str, int] = {}
    for r in relations:
        for name in r.inputs:
            score[name] = score.get(name, 0) + (-1 if r.fits else 1)
    best = max(score.values())
    odd = [name for name in _NAMES if score.get(name) == best]
    if len(odd) != 1:  # a tie: name the failing pair itself
        odd = list(failing[0].inputs)
    others = [name for name in boxes if name not in odd]
    zh_names = "、".join(_NAMES[n][0] for n in odd)
    en_names = " and ".join(_NAMES[n][1] for n in odd)
    files_text = ", ".join(files[n] for n in odd if n in files)
    where = f" ({files_text})" if files_text else ""
    unfit = [r for r in relations if not r.fits]
    reasons_zh = "；".join(r.zh for r in unfit)
    reasons_en = "; ".join(r.en for r in unfit)
    extent_zh = extent_en = ""
    mine = [boxes[n] for n in odd if n in boxes]
    theirs = [boxes[n] for n in others]
    if mine and theirs:
        a, b = _union(mine), _union(theirs)
        centre_a = ((a[0] + a[2]) / 2, (a[1] + a[3]) / 2)
        centre_b = ((b[0] + b[2]) / 2, (b[1] + b[3]) / 2)
        km = pyproj.Geod(ellps="WGS84").inv(*centre_a, *centre_b)[2] / 1000
        other_en = ", ".join(_NAMES[n][1] for n in others)
        other_zh = "、".join(_NAMES[n][0] for n in others)
        place = f", the project area {area}" if area else ""
        extent_en = (
            f" It covers {_bbox_text(a)}; the other inputs ({other_en}{place}) cover "
            f"{_bbox_text(b)}, {km:,.0f} km away (centre to centre)."
        )
        place_zh = f"，项目区域 {area}" if area else ""
        extent_zh = (
            f"其范围为 {_bbox_text(a)}；其他输入（{other_zh}{place_zh}）的范围为 {_bbox_text(b)}，"
            f"中心相距 {km:,.0f} 公里。"
        )
    return (
        f"{zh_names}{where}与其他输入不是同一地区：{reasons_zh}。{extent_zh}请检查各输入是否为同一"
        f"研究区。 / the {en_names}{where} do{'es' if len(odd) == 1 else ''} not describe the "
        f"same place as the other inputs: {reasons_en}.{extent_en} Check that every input is "
        "of the study area."
    )
