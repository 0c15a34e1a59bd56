"""Street networks: read OSM XML/PBF, osmnx GraphML or road-line files into one ``Network``.

A :class:`Network` holds two plain tables in a projected metric CRS (see ``DESIGN.md``):
``nodes`` (``node_id``, ``x``, ``y``) and ``edges`` (``u``, ``v``, ``length_m``, ``highway``,
``oneway``, ``name``, ``geometry``), one row per physical street segment. Travel times per mode
come from :meth:`Network.edge_times_s` and the speed tables below.

Speed tables (``SPEED_KPH``, km/h; ``-`` = the mode may not use the class)
--------------------------------------------------------------------------

=============== ===== ===== ===== ========== =====
highway         walk  bike  ebike motorcycle drive
=============== ===== ===== ===== ========== =====
motorway        -     -     -     -          80
trunk           4.2   15    15    50         60
primary         4.2   15    15    45         50
secondary       4.2   15    15    40         40
tertiary        4.2   15    20    35         30
motorway_link   -     -     -     -          60
trunk_link      4.2   15    15    40         45
primary_link    4.2   15    15    35         40
secondary_link  4.2   15    15    30         35
tertiary_link   4.2   15    20    25         25
unclassified    4.2   15    20    30         25
residential     4.2   15    15    25         25
living_street   4.2   10    10    15         15
service         4.2   12    12    15         15
road            4.2   12    15    25         20
busway          -     -     -     -          -
track           4.2   10    15    20         10
pedestrian      4.2   8     8     -          -
cycleway        4.2   15    15    -          -
footway         4.2   8     8     -          -
bridleway       4.2   8     8     -          -
path            4.2   10    12    -          -
steps           4.2   3     -     -          -
corridor        4.2   5     -     -          -
elevator        4.2   -     -     -          -
platform        -     -     -     -          -
raceway         -     -     -     -          -
bus_guideway    -     -     -     -          -
escape          -     -     -     -          -
via_ferrata     -     -     -     -          -
construction    -     -     -     -          -
proposed        -     -     -     -          -
abandoned       -     -     -     -          -
disused         -     -     -     -          -
(other)         4.2   12    15    20         20
=============== ===== ===== ===== ========== =====

The row order is also the importance order used to pick one class from osmnx lists such as
``['residential', 'service']`` (the first listed row wins: ``residential``). ``(other)`` is
``DEFAULT_SPEED_KPH``, used for classes not in the table (it keeps non-OSM class names usable).
A project may replace any cell of the vehicle modes (``[speeds.<mode>]`` by class, ``other``
for the last row; a speed opens a class the table closes, ``"no"`` closes one; see
:func:`speed_table`), e.g. with a county's own survey speeds.

Rules per mode (keep them simple; all documented here so reports can cite them). The class
decides first; then the OSM access tags per mode (``foot=no``, ``access=private``,
``motor_vehicle=no`` …) close ways or make them private-style, after OSRM's profiles: the
table is in :mod:`geoplan.readers.access`, and ``private_ways`` says what private-style ways are.

* **walk** — every allowed class at the one walking speed ``walk_speed_m_per_min`` (default
  70 m/min = 4.2 km/h; Chinese planning practice uses 60–80 m/min); the 4.2 in the table only
  marks the class as walkable. Both directions always (``oneway`` binds drivers only). With a
  DEM (``Network.terrain``, :mod:`geoplan.readers.elevation`) the speed on each edge follows
  Tobler's hiking function of its grade in the direction of travel.
* **bike** — about 15 km/h on roads, slower where cyclists share space or push; motorways
  excluded. Both directions, except that ``oneway`` edges are one-way for bikes too unless the
  class is a pedestrian way (footway, path, pedestrian, steps, bridleway, corridor), where a
  ``oneway`` tag is treated as a walking-flow hint. ``oneway:bicycle`` is not read.
* **ebike** (电动自行车) — a non-motor vehicle in Chinese law (道路交通安全法 第一百一十九条):
  it uses the ways a bicycle uses, one-way rules included, except steps, corridors and
  elevators (a 40–55 kg vehicle is not carried). GB 17761-2018 caps its design speed at
  25 km/h, and the law (第五十八条) at 15 km/h inside a non-motor-vehicle lane, which Chinese
  arterials have: trunk, primary, secondary roads (and cycleways) are therefore 15 km/h; on
  tertiary and unclassified roads, usually without a separate lane, 20 km/h (the design cap
  less junctions and mixed traffic); residential roads, tracks and ``road`` 15, service roads
  12, living streets 10, footways and pedestrian areas 8 (ridden at a walking pace or pushed:
  the law keeps non-motor vehicles off pavements, but a footway is often the only way into a
  compound).
* **motorcycle** (摩托车) — a motor vehicle: the classes a car uses but motorways, ``oneway``
  binding; footways, paths and cycleways stay closed (a project opens one with e.g.
  ``[speeds.motorcycle] path = 15``). Motorways are closed by default because 道路交通安全法
  第六十七条 keeps vehicles designed for less than 70 km/h off expressways (most rural
  motorcycles and electric motorcycles are), many cities ban motorcycles (禁摩/限摩), and a
  trip to a clinic does not take the expressway; ``[speeds.motorcycle] motorway = 80`` opens
  them (实施条例 第七十八条 caps motorcycles at 80 km/h there). Speeds sit below the legal caps
  of 实施条例 第四十五条 (30/40 km/h on urban roads/公路 without a centre line, 50/70 with one
  lane each way): 50 on trunk roads down to 25 on residential roads, 30 on unclassified roads
  and 20 on tracks, where a motorcycle is faster than a car on a narrow village road.
* **drive** — class speeds typical of Chinese urban roads (free-flow is not reached in town).
  The table alone decides: ``maxspeed`` tags are ignored on purpose (they are sparse and mostly
  state limits, not travel speeds). Pedestrian ways, cycleways, busways and steps are
  excluded; ``track`` is kept at 10 km/h because village roads in rural China are often
  tagged ``track``. ``oneway`` edges may be driven u→v only.

The vehicle speeds are judgement, cited above, not measurements: a county with survey speeds
should write them into ``[speeds.<mode>]``, and ``[sensitivity] speed_factor`` shows how much
the shares hang on them.

Reading rules (``read_network``). Every reader keeps the ways' access tags (``access``,
``foot``, ``bicycle``, ``motor_vehicle``, ``motorcar``, ``vehicle``, ``service``,
``electric_bicycle``, ``motorcycle``) and structure tags (``bridge``, ``tunnel``: such edges
keep grade 0 under terrain-aware walking) as edge columns of those names, None where absent:
OSM ways' tags, osmnx GraphML edge attributes (osmnx keeps ``access``, ``service``,
``bridge`` and ``tunnel`` by default; lists after simplification are joined with ``;``),
road-line columns (matched case-insensitively).

* OSM XML/PBF: only ways with a ``highway`` tag and without ``area=yes``; ways are cut at
  nodes missing from the file (runs shorter than 2 nodes are dropped, clipped extracts load)
  and split at junctions (nodes used twice or more, and way ends). ``oneway=yes|true|1`` and
  ``-1|reverse`` (those ways are reversed), ``junction=roundabout|circular`` and
  ``highway=motorway`` imply one-way unless ``oneway=no``; ``reversible``/``alternating`` are
  read as two-way.
* osmnx GraphML: the two directed edges of a two-way street (same geometry, reversed) become
  one row with ``oneway=False``; a directed edge with no reverse twin is ``oneway=True``.
* Road lines (GeoParquet, GeoJSON, GeoPackage, Shapefile): with ``u``/``v`` columns each row is
  one segment; otherwise nodes come from vertex coordinates rounded to 1 cm (1e-7° for
  geographic data) and lines are split at vertices shared by several lines, like OSM ways.
* Zero-length self-loops are dropped; self-loops with length (cul-de-sac loops) are kept.
  ``length_m`` is the source's ``length`` when it agrees with the projected geometry (within
  1 % + 0.5 m), otherwise the projected geometry length.
"""

from __future__ import annotations

import ast
import difflib
import logging
import math
import os
import time
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import CRS, Transformer
from scipy import sparse
from scipy.sparse.csgraph import connected_components, dijkstra

from .._compressed import GRAPHML_SUFFIXES, is_graphml, open_input
from ..errors import ConfigError, InputFileNotFoundError, NetworkError
from .access import ACCESS_TAGS, CLOSED, PRIVATE, PRIVATE_WAYS, access_codes
from .elevation import Terrain

__all__ = [
    "BIKE_ONEWAY_EXEMPT",
    "DEFAULT_SPEED_KPH",
    "DEFAULT_WALK_SPEED_M_PER_MIN",
    "DIRECTIONS",
    "EDGE_TAGS",
    "HIGHWAY_RANK",
    "MODES",
    "ONEWAY_MODES",
    "OTHER_CLASS",
    "SPEED_CLASSES",
    "SPEED_KPH",
    "SPEED_TABLE_MODES",
    "STRUCTURE_TAGS",
    "ModeTimes",
    "Network",
    "cheapest_csr",
    "highway_class",
    "main_component_edges",
    "mode_edge_mask",
    "read_network",
    "speed_table",
]

logger = logging.getLogger(__name__)

MODES: tuple[str, ...] = ("walk", "bike", "ebike", "motorcycle", "drive")
"""Travel modes, slowest first: walking, bicycle, e-bike (电动自行车), motorcycle (摩托车), car."""

DEFAULT_WALK_SPEED_M_PER_MIN = 70.0
"""Walking speed (m/min); Chinese plans use 60–80 m/min (standards.md §3.7)."""

DIRECTIONS: tuple[str, ...] = ("to_facility", "from_facility")
"""Which way a trip runs: from the resident to the facility (access: the circles), or from
the facility to the resident (response: an ambulance from its 急救站). They differ on one-way
streets."""

_NO = None  # the mode may not use the class
# class: (walk, bike, ebike, motorcycle, drive) in km/h. Row order = importance (HIGHWAY_RANK).
_SPEEDS_KPH: dict[str, tuple[float | None, ...]] = {
    "motorway": (_NO, _NO, _NO, _NO, 80.0),
    "trunk": (4.2, 15.0, 15.0, 50.0, 60.0),
    "primary": (4.2, 15.0, 15.0, 45.0, 50.0),
    "secondary": (4.2, 15.0, 15.0, 40.0, 40.0),
    "tertiary": (4.2, 15.0, 20.0, 35.0, 30.0),
    "motorway_link": (_NO, _NO, _NO, _NO, 60.0),
    "trunk_link": (4.2, 15.0, 15.0, 40.0, 45.0),
    "primary_link": (4.2, 15.0, 15.0, 35.0, 40.0),
    "secondary_link": (4.2, 15.0, 15.0, 30.0, 35.0),
    "tertiary_link": (4.2, 15.0, 20.0, 25.0, 25.0),
    "unclassified": (4.2, 15.0, 20.0, 30.0, 25.0),
    "residential": (4.2, 15.0, 15.0, 25.0, 25.0),
    "living_street": (4.2, 10.0, 10.0, 15.0, 15.0),
    "service": (4.2, 12.0, 12.0, 15.0, 15.0),
    "road": (4.2, 12.0, 15.0, 25.0, 20.0),
    "busway": (_NO, _NO, _NO, _NO, _NO),
    "track": (4.2, 10.0, 15.0, 20.0, 10.0),
    "pedestrian": (4.2, 8.0, 8.0, _NO, _NO),
    "cycleway": (4.2, 15.0, 15.0, _NO, _NO),
    "footway": (4.2, 8.0, 8.0, _NO, _NO),
    "bridleway": (4.2, 8.0, 8.0, _NO, _NO),
    "path": (4.2, 10.0, 12.0, _NO, _NO),
    "steps": (4.2, 3.0, _NO, _NO, _NO),
    "corridor": (4.2, 5.0, _NO, _NO, _NO),
    "elevator": (4.2, _NO, _NO, _NO, _NO),
    "platform": (_NO, _NO, _NO, _NO, _NO),
    "raceway": (_NO, _NO, _NO, _NO, _NO),
    "bus_guideway": (_NO, _NO, _NO, _NO, _NO),
    "escape": (_NO, _NO, _NO, _NO, _NO),
    "via_ferrata": (_NO, _NO, _NO, _NO, _NO),
    "construction": (_NO, _NO, _NO, _NO, _NO),
    "proposed": (_NO, _NO, _NO, _NO, _NO),
    "abandoned": (_NO, _NO, _NO, _NO, _NO),
    "disused": (_NO, _NO, _NO, _NO, _NO),
}

#: Speed (km/h) per mode and OSM ``highway`` class; ``None`` = the mode may not use the class.
#: Walk values only mark walkable classes: walking uses ``walk_speed_m_per_min`` everywhere.
SPEED_KPH: dict[str, dict[str, float | None]] = {
    mode: {cls: speeds[i] for cls, speeds in _SPEEDS_KPH.items()} for i, mode in enumerate(MODES)
}

#: Speed (km/h) per mode for classes missing from ``SPEED_KPH`` (non-OSM or rare classes).
DEFAULT_SPEED_KPH: dict[str, float | None] = {
    "walk": 4.2,
    "bike": 12.0,
    "ebike": 15.0,
    "motorcycle": 20.0,
    "drive": 20.0,
}

#: OSM highway classes from most to least important (picks one class from osmnx lists).
HIGHWAY_RANK: tuple[str, ...] = tuple(_SPEEDS_KPH)

OTHER_CLASS = "other"
"""The name of the ``(other)`` row (classes not in ``SPEED_KPH``) in ``[speeds.<mode>]``."""

SPEED_CLASSES: tuple[str, ...] = (*HIGHWAY_RANK, OTHER_CLASS)
"""The classes a ``[speeds.<mode>]`` table may set."""

SPEED_TABLE_MODES: tuple[str, ...] = tuple(m for m in MODES if m != "walk")
"""Modes with an editable speed table (walking has one speed, ``walk_speed_m_per_min``)."""

#: Classes on which a bike (and an e-bike) ignores ``oneway`` (a pedestrian-flow hint there).
BIKE_ONEWAY_EXEMPT: frozenset[str] = frozenset(
    {"footway", "path", "pedestrian", "steps", "bridleway", "corridor"}
)

ONEWAY_MODES: dict[str, frozenset[str] | None] = {
    "walk": None,
    "bike": BIKE_ONEWAY_EXEMPT,
    "ebike": BIKE_ONEWAY_EXEMPT,
    "motorcycle": frozenset(),
    "drive": frozenset(),
}
"""Per mode, the classes where ``oneway`` does not bind it (None: it never binds)."""

STRUCTURE_TAGS: tuple[str, ...] = ("bridge", "tunnel")
"""OSM way tags of structures: edges carrying one (any value but ``no``) keep grade 0 under
terrain-aware walking (a DEM measures the valley under a bridge, the hill over a tunnel)."""

EDGE_TAGS: tuple[str, ...] = (*ACCESS_TAGS, *STRUCTURE_TAGS)
"""Every OSM tag the readers keep as an edge column (None where a way lacks it)."""

_RANK = {cls: i for i, cls in enumerate(HIGHWAY_RANK)}
_FALLBACK_CLASS = "road"  # OSM's "unknown kind of road", used when a source has no class
_LENGTH_REL_TOL = 0.01
_LENGTH_ABS_TOL_M = 0.5
_NODE_GRID_PROJECTED = 0.01  # CRS units (metres): vertex rounding when deriving nodes
_NODE_GRID_DEGREES = 1e-7
_DIRECTED_TWIN_SHARE = 0.2  # line files without `oneway`: directed if this share has twins

_OSM_SUFFIXES = (".osm", ".osm.bz2", ".osm.gz", ".osm.pbf", ".pbf")
_LINE_SUFFIXES = (".parquet", ".geoparquet", ".geojson", ".gpkg", ".shp")
_ONEWAY_TRUE = frozenset({"yes", "true", "1", "t", "y"})
_ONEWAY_REVERSE = frozenset({"-1", "reverse"})
_ONEWAY_FALSE = frozenset({"no", "false", "0", "f", "n", "reversible", "alternating"})


# ----------------------------------------------------------------------------- the Network


@dataclass(frozen=True, eq=False)
class Network:
    """A street network in a projected metric CRS.

    Attributes
    ----------
    nodes : pandas.DataFrame
        Index 0..n-1; ``node_id`` (int64 id from the source), ``x``, ``y`` (metres in ``crs``).
    edges : geopandas.GeoDataFrame
        Index 0..m-1, one row per street segment: ``u``, ``v`` (int positions into ``nodes``),
        ``length_m``, ``highway`` (one OSM class), ``oneway`` (bool, drivers may go only
        u→v), ``name`` (str or None), the tags of :data:`EDGE_TAGS` (str or None; optional:
        missing columns count as absent tags), ``geometry`` (LineString from u to v in ``crs``).
    crs : pyproj.CRS
        Projected CRS in metres.
    source : str
        Where the network came from (path), for logs and reports.
    terrain : Terrain, optional
        Per-edge walking-time factors from a DEM (:func:`geoplan.readers.elevation.with_terrain`);
        None: flat.
    """

    nodes: pd.DataFrame = field(repr=False)
    edges: gpd.GeoDataFrame = field(repr=False)
    crs: CRS
    source: str = ""
    terrain: Terrain | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if not isinstance(self.crs, CRS):
            object.__setattr__(self, "crs", CRS.from_user_input(self.crs))
        missing_nodes = {"node_id", "x", "y"} - set(self.nodes.columns)
        missing_edges = {"u", "v", "length_m", "highway", "oneway", "geometry"} - set(
            self.edges.columns
        )
        if missing_nodes or missing_edges:
            raise NetworkError(
                f"Network tables lack columns: nodes {sorted(missing_nodes)}, "
                f"edges {sorted(missing_edges)}"
            )
        n = len(self.nodes)
        for col in ("u", "v"):
            ends = self.edges[col].to_numpy()
            if len(ends) and (ends.min() < 0 or ends.max() >= n):
                raise NetworkError(f"Network edges column {col!r} points outside 0..{n - 1}")
        if self.terrain is not None and self.terrain.walk_factor_forward.shape != (
            len(self.edges),
        ):
            raise NetworkError("the terrain was computed for another network (edge count)")

    def __repr__(self) -> str:
        km = float(self.edges["length_m"].sum()) / 1000.0
        return (
            f"Network({len(self.nodes)} nodes, {len(self.edges)} edges, {km:.1f} km, "
            f"crs={_crs_label(self.crs)}, source={self.source!r})"
        )

    def edge_times_s(
        self,
        mode: str,
        *,
        walk_speed_m_per_min: float = DEFAULT_WALK_SPEED_M_PER_MIN,
        private_ways: str = "exclude",
        speeds: Mapping[str, Mapping[str, float | None]] | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Travel seconds per edge for one mode.

        Parameters
        ----------
        mode : {"walk", "bike", "ebike", "motorcycle", "drive"}
            Travel mode; speeds and exclusions from ``SPEED_KPH`` (see the module docstring)
            and the OSM access tags (:mod:`geoplan.readers.access`).
        walk_speed_m_per_min : float, default 70.0
            Walking speed (m/min) on every walkable edge (on flat ground, with ``terrain``);
            used by ``"walk"`` only.
        private_ways : {"exclude", "include"}
            Private-style ways closed (default) or used like public streets. ``"endpoints"``
            needs the private mask beside the times: use :meth:`mode_times`.
        speeds : mapping, optional
            A project's ``[speeds]``: per vehicle mode, km/h by class replacing the table's
            (:func:`speed_table`).

        Returns
        -------
        forward_s, backward_s : numpy.ndarray
            float64 seconds for u→v and v→u per edge; ``np.inf`` where the mode may not use the
            edge in that direction.
        """
        if private_ways == "endpoints":
            raise ConfigError(
                'private_ways = "endpoints" needs the private edges beside the times: '
                "use Network.mode_times"
            )
        forward_s, backward_s, _ = self._times_and_private(
            mode,
            walk_speed_m_per_min,
            _check_private_ways(private_ways),
            speeds=speeds,
        )
        return forward_s, backward_s

    def mode_times(
        self,
        mode: str,
        *,
        walk_speed_m_per_min: float = DEFAULT_WALK_SPEED_M_PER_MIN,
        private_ways: str = "exclude",
        largest_component: bool = True,
        direction: str = "to_facility",
        speed_factors: Mapping[str, float] | None = None,
        speeds: Mapping[str, Mapping[str, float | None]] | None = None,
    ) -> ModeTimes:
        """Everything a mode needs from the network: edge seconds, private edges, and where
        residents and facilities may join it.

        ``direction`` says which way trips run (:data:`DIRECTIONS`). The engine times trips
        from the resident to the facility; for ``"from_facility"`` (an ambulance from its
        station to the resident) the edge seconds come reversed — ``forward_s`` holds the
        seconds v→u — since a trip from the facility to the resident on the streets is a trip
        from the resident to the facility on the streets with every direction reversed. The
        main network is then found on the reversed streets too, so residents join streets
        the main network reaches and facilities streets that reach it.

        ``speed_factors`` multiplies a vehicle mode's speed per OSM class (``{"primary": 0.6}``:
        60 % of the speed table's speed — the project's ``speeds`` where given — e.g. a
        peak-hour congestion profile; classes not named keep theirs; ``"other"`` names the
        classes missing from the speed table). Walking is not slowed by traffic.

        ``private_ways`` is ``"exclude"``, ``"endpoints"`` or ``"include"`` (see
        :mod:`geoplan.readers.access`). With ``largest_component`` residents join only streets from
        which the mode's largest strongly connected component can be reached, and facilities
        only streets it can reach (private edges counted as usable;
        :func:`main_component_edges`), as osmnx keeps only that component: a
        resident whose nearest street is cut off (one-way streets at the extract's edge, an
        unconnected footway) joins the main network instead of being unreachable. ``speeds``
        as in :meth:`edge_times_s`; the terrain (if any) slows or speeds
        walking per edge and direction.
        """
        forward_s, backward_s, private = self._times_and_private(
            mode,
            walk_speed_m_per_min,
            _check_private_ways(private_ways),
            speed_factors,
            speeds=speeds,
        )
        if direction not in DIRECTIONS:
            raise ConfigError(
                f"direction must be one of {', '.join(map(repr, DIRECTIONS))}, got {direction!r}"
            )
        if direction == "from_facility":
            forward_s, backward_s = backward_s, forward_s
        demand_edges = facility_edges = None
        if largest_component:
            demand_edges, facility_edges = main_component_edges(self, forward_s, backward_s)
        return ModeTimes(
            forward_s=forward_s,
            backward_s=backward_s,
            private=private if private.any() else None,
            demand_edges=demand_edges,
            facility_edges=facility_edges,
        )

    def _times_and_private(
        self,
        mode: str,
        walk_speed_m_per_min: float,
        private_ways: str,
        speed_factors: Mapping[str, float] | None = None,
        *,
        speeds: Mapping[str, Mapping[str, float | None]] | None = None,
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Edge seconds with access applied, and the private edges left usable (endpoints)."""
        _check_mode(mode)
        factors = _check_speed_factors(speed_factors)
        length_m = self.edges["length_m"].to_numpy(dtype=np.float64)
        codes, classes = pd.factorize(self.edges["highway"].astype(object), use_na_sentinel=False)
        table, default = speed_table(mode, (speeds or {}).get(mode))
        speed_kph = [table.get(c, default) for c in classes]
        if mode == "walk":
            walk = _positive(walk_speed_m_per_min, "walk_speed_m_per_min")
            speed_kph = [None if s is None else walk * 60.0 / 1000.0 for s in speed_kph]
        if factors and mode != "walk":  # congestion slows vehicles, not people on foot
            speed_kph = [
                None if s is None else s * factors.get(c if c in table else OTHER_CLASS, 1.0)
                for c, s in zip(classes, speed_kph, strict=True)
            ]
        # seconds per metre per class; inf = excluded
        class_s_per_m = np.array(
            [np.inf if s is None else 3.6 / s for s in speed_kph], dtype=np.float64
        )
        s_per_m = class_s_per_m[codes] if len(classes) else np.zeros(0)
        access = access_codes(self.edges, mode)
        closed = access == CLOSED
        private = access == PRIVATE
        if private_ways == "exclude":
            closed |= private
        private &= ~closed & np.isfinite(s_per_m)
        if private_ways == "include":
            private[:] = False
        forward_s = np.where(np.isinf(s_per_m) | closed, np.inf, length_m * s_per_m)
        backward_s = forward_s.copy()
        if mode == "walk" and self.terrain is not None:
            forward_s *= self.terrain.walk_factor_forward
            backward_s *= self.terrain.walk_factor_backward
        exempt_classes = ONEWAY_MODES[mode]
        if exempt_classes is not None:
            oneway = self.edges["oneway"].to_numpy(dtype=bool)
            if exempt_classes and len(classes):
                exempt = np.array([c in exempt_classes for c in classes], dtype=bool)
                oneway = oneway & ~exempt[codes]
            backward_s[oneway] = np.inf
        return forward_s, backward_s, private

    def to_csr(self, mode: str, **speed_kw: Any) -> sparse.csr_array:
        """Directed n×n graph of travel seconds (``csr_array``) for ``scipy.sparse.csgraph``.

        Entry (i, j) is the fastest usable edge from node i to node j (minimum over parallel
        edges); self-loops and unusable directions are left out; zero-second edges are stored
        as explicit zeros (csgraph treats them as edges). ``speed_kw`` goes to
        :meth:`edge_times_s`.
        """
        forward_s, backward_s = self.edge_times_s(mode, **speed_kw)
        u = self.edges["u"].to_numpy(dtype=np.int64)
        v = self.edges["v"].to_numpy(dtype=np.int64)
        arc = u != v
        u, v = u[arc], v[arc]
        return cheapest_csr(
            np.concatenate([u, v]),
            np.concatenate([v, u]),
            np.concatenate([forward_s[arc], backward_s[arc]]),
            len(self.nodes),
        )


@dataclass(frozen=True, eq=False)
class ModeTimes:
    """One travel mode on one network, as every command uses it (:meth:`Network.mode_times`).

    ``forward_s``/``backward_s``: seconds per edge u→v and v→u, inf where the mode may not go;
    ``private``: edges usable only at a trip's start or end (None when there are none);
    ``demand_edges``/``facility_edges``: where residents (trips' origins) and facilities
    (destinations) may join the network (None: every edge the mode may use).
    """

    forward_s: np.ndarray
    backward_s: np.ndarray
    private: np.ndarray | None = None
    demand_edges: np.ndarray | None = None
    facility_edges: np.ndarray | None = None

    def __post_init__(self) -> None:
        usable = mode_edge_mask(self.forward_s, self.backward_s)
        for name in ("demand_edges", "facility_edges"):
            if getattr(self, name) is None:
                object.__setattr__(self, name, usable)


def mode_edge_mask(forward_s: np.ndarray, backward_s: np.ndarray) -> np.ndarray:
    """Edges a mode can use in at least one direction."""
    return np.isfinite(forward_s) | np.isfinite(backward_s)


def main_component_edges(
    network, forward_s: np.ndarray, backward_s: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Edges joined to the mode's largest strongly connected component (by nodes).

    Returns ``(origins, destinations)``: edges from which a trip can reach that component
    (leaving through an end the mode may go to, that reaches it) and edges a trip from it can
    reach. A resident joined to the first reaches every facility joined to the second, since
    from every node of the component every other is reached; a resident on a one-way street
    that leads into the main network stays where it is, one on a street it can never leave
    (or that has no way back) does not. Ties go to the component scipy labels first.
    """
    u, v = _edge_ends(network)
    transposed = cheapest_csr(  # arcs reversed: the engine's own street graph without facilities
        np.concatenate([v, u]),
        np.concatenate([u, v]),
        np.concatenate([forward_s, backward_s]),
        len(network.nodes),
    )
    _, labels = connected_components(transposed, directed=True, connection="strong")
    main = np.flatnonzero(labels == int(np.argmax(np.bincount(labels))))
    # one unweighted multi-source search each way: reaches main / reached from main
    reach = []
    for graph in (transposed, transposed.T.tocsr()):
        hops = dijkstra(graph, directed=True, indices=main, min_only=True, unweighted=True)
        reach.append(np.isfinite(hops))
    to_main, from_main = reach
    fwd, bwd = np.isfinite(forward_s), np.isfinite(backward_s)
    origins = (fwd & to_main[v]) | (bwd & to_main[u])
    destinations = (fwd & from_main[u]) | (bwd & from_main[v])
    return origins, destinations


def cheapest_csr(rows: np.ndarray, cols: np.ndarray, cost: np.ndarray, n: int) -> sparse.csr_array:
    """An n×n CSR matrix of arcs ``rows → cols`` keeping the cheapest of parallel arcs (scipy
    would sum them); arcs of infinite cost are left out. Canonical (sorted columns, no
    duplicates), int64 indices.

    One sort of the arcs by ``row × n + col`` (instead of three keys with the cost: 3.5×
    faster), the cheapest of each run of parallel arcs taken by ``minimum.reduceat``, and the
    CSR arrays built directly.
    """
    keep = np.isfinite(cost)
    key = rows[keep].astype(np.int64) * n + cols[keep]
    order = np.argsort(key, kind="stable")
    key, cost = key[order], cost[keep][order]
    first = np.ones(len(key), dtype=bool)
    first[1:] = key[1:] != key[:-1]
    starts = np.flatnonzero(first)
    row, col = np.divmod(key[starts], n)
    indptr = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(np.bincount(row, minlength=n), out=indptr[1:])
    data = np.minimum.reduceat(cost, starts) if len(starts) else cost
    return sparse.csr_array((data, col, indptr), shape=(n, n))


def _edge_ends(network) -> tuple[np.ndarray, np.ndarray]:
    edges = network.edges
    return edges["u"].to_numpy(dtype=np.int64), edges["v"].to_numpy(dtype=np.int64)


def _check_mode(mode: str) -> None:
    if mode not in MODES:
        raise ConfigError(f"unknown travel mode {mode!r}; valid modes: {', '.join(MODES)}")


def _check_speed_factors(factors: Mapping[str, float] | None) -> dict[str, float]:
    """Speed factors per OSM class, checked: known classes (or ``other``), finite and > 0."""
    if not factors:
        return {}
    known = SPEED_CLASSES
    out = {}
    for name, value in factors.items():
        if name not in known:
            close = difflib.get_close_matches(str(name), known, n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise ConfigError(
                f"speed factor for unknown road class {name!r}{hint} (classes: the rows of "
                f"SPEED_KPH, or {OTHER_CLASS!r} for the others) / 未知的道路等级"
            )
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ConfigError(f"speed factor of {name!r} must be a number, got {value!r}")
        if not (math.isfinite(value) and value > 0):
            raise ConfigError(f"speed factor of {name!r} must be above 0, got {value!r}")
        out[str(name)] = float(value)
    return out


def _positive(value: object, name: str) -> float:
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        number = math.nan
    if not (math.isfinite(number) and number > 0):
        raise ConfigError(f"{name} must be a positive number, got {value!r}")
    return number


def speed_table(
    mode: str, overrides: Mapping[str, float | None] | None = None
) -> tuple[dict[str, float | None], float | None]:
    """A mode's speeds (km/h) by class and its speed for other classes, with a project's
    ``[speeds.<mode>]`` cells replacing the defaults.

    ``overrides`` maps classes of :data:`SPEED_CLASSES` (``other`` is the row of classes not
    in the table) to km/h, or to None or ``"no"`` (as a project file writes it) to close the
    class; a speed opens a class the default table closes. Unknown classes and walking (which
    has one speed, ``walk_speed_m_per_min``) are a :class:`ConfigError`.
    """
    _check_mode(mode)
    table = dict(SPEED_KPH[mode])
    default = DEFAULT_SPEED_KPH[mode]
    if not overrides:
        return table, default
    if mode not in SPEED_TABLE_MODES:
        raise ConfigError(
            f"{mode}: walking has no speed table; its speed is [network] walk_speed_m_per_min "
            "/ 步行无分路类速度表，步行速度见 [network] walk_speed_m_per_min"
        )
    for cls, kph in overrides.items():
        kph = None if kph == "no" else kph
        if cls not in SPEED_CLASSES:
            close = difflib.get_close_matches(str(cls), SPEED_CLASSES, n=1, cutoff=0.6)
            hint = f"; did you mean `{close[0]}`?" if close else ""
            raise ConfigError(
                f"[speeds.{mode}] `{cls}`: not a road class{hint} (classes: OSM highway values "
                f"{', '.join(HIGHWAY_RANK[:6])} …, or `{OTHER_CLASS}` for classes not in the "
                f"table) / 未知的道路等级 `{cls}`"
            )
        if kph is not None and not (isinstance(kph, int | float) and 0 < kph <= 200):
            raise ConfigError(f"[speeds.{mode}] {cls}: speed must be km/h above 0, at most 200")
        if cls == OTHER_CLASS:
            default = None if kph is None else float(kph)
        else:
            table[cls] = None if kph is None else float(kph)
    return table, default


def _check_private_ways(value: object) -> str:
    if value not in PRIVATE_WAYS:
        raise ConfigError(
            f"private_ways must be one of {', '.join(map(repr, PRIVATE_WAYS))}, got {value!r}"
        )
    return str(value)


def highway_class(value: object) -> str | None:
    """One OSM ``highway`` class from a tag value, an osmnx list, its string form or ``a;b``.

    The most important class wins (order of ``HIGHWAY_RANK``; unknown classes rank last, ties
    keep the first listed). Returns None for missing values.
    """
    parts = _split_multi(value)
    if not parts:
        return None
    parts = [p.lower() for p in parts]
    return min(parts, key=lambda p: _RANK.get(p, len(_RANK)))


def _split_multi(value: object) -> list[str]:
    """Items of an osmnx list value (list, ``"['a', 'b']"``) or an OSM ``a;b`` tag."""
    if value is None:
        return []
    if isinstance(value, float) and math.isnan(value):
        return []
    if isinstance(value, (list, tuple, np.ndarray)):
        items = [str(x) for x in value if x is not None]
    else:
        text = str(value).strip()
        items = [text]
        if text.startswith("[") and text.endswith("]"):
            try:
                parsed = ast.literal_eval(text)
            except (ValueError, SyntaxError):
                parsed = text[1:-1].split(",")
            items = [str(x).strip(" '\"") for x in parsed] if isinstance(parsed, list) else items
        elif ";" in text:
            items = text.split(";")
    return [s.strip() for s in items if s and s.strip() and s.strip().lower() != "nan"]


def _text_value(value: object) -> str | None:
    """A tag's text: osmnx lists and ``a;b`` values joined by ``;`` (duplicates once)."""
    parts = list(dict.fromkeys(_split_multi(value)))
    return ";".join(parts) if parts else None


def _oneway_code(value: object) -> int | None:
    """1 = one-way u→v, -1 = one-way v→u, 0 = two-way, None = not stated."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    if isinstance(value, (bool, np.bool_)):
        return 1 if value else 0
    if isinstance(value, (int, np.integer)):
        return 1 if value == 1 else (-1 if value == -1 else 0)
    text = str(value).strip().lower()
    if text in _ONEWAY_TRUE:
        return 1
    if text in _ONEWAY_REVERSE:
        return -1
    if text in _ONEWAY_FALSE:
        return 0
    return None


# ----------------------------------------------------------------------------- reading


@dataclass
class _Raw:
    """A network as read, before projection: edges already u→v, one row per segment."""

    node_id: np.ndarray  # int64 (n,)
    node_xy: np.ndarray  # float (n, 2) in src_crs, x = lon for geographic data
    u: np.ndarray  # int64 positions
    v: np.ndarray
    geometry: np.ndarray  # shapely LineStrings in src_crs
    highway: np.ndarray  # object: str
    oneway: np.ndarray  # bool
    name: np.ndarray  # object: str or None
    src_crs: CRS
    length_src_m: np.ndarray | None = None
    notes: list[str] = field(default_factory=list)
    tags: dict[str, np.ndarray] = field(default_factory=dict)  # EDGE_TAGS, object per edge


def read_network(path: str | os.PathLike[str], *, crs: Any = None, cache: bool = True) -> Network:
    """Read a street network from OSM XML/PBF, osmnx GraphML or a road-line file.

    Parameters
    ----------
    path : str or path-like
        ``.osm``, ``.osm.bz2``, ``.osm.gz``, ``.osm.pbf``/``.pbf`` (pyosmium), ``.graphml``
        (osmnx; also ``.graphml.gz``/``.bz2``/``.xz``, decompressed on the fly), or
        LineStrings in ``.parquet``/``.geoparquet``/``.geojson``/``.gpkg``/``.shp``.
    crs : anything ``pyproj.CRS.from_user_input`` accepts, optional
        Projected metric CRS of the result. Default: the source CRS when it is projected in
        metres, else the UTM zone of the data's centre.
    cache : bool, default True
        Keep the built network in geoplan's cache (``$GEOPLAN_CACHE``, else
        ``~/.cache/geoplan``) and reuse it when the same file (by SHA-256), the same ``crs``
        and the same reading code come again; a damaged entry is rebuilt. False reads the
        file and leaves the cache alone.

    Returns
    -------
    Network

    Raises
    ------
    InputFileNotFoundError
        ``path`` does not exist.
    NetworkError
        Unknown suffix, unreadable file, or nothing usable (no highway ways, no edges).
    ConfigError
        ``crs`` is not a projected CRS in metres.
    """
    start = time.perf_counter()
    path = Path(path)
    if not path.is_file():
        raise InputFileNotFoundError(f"network file not found: {path}")
    target = _user_crs(crs)
    lower = path.name.lower()
    if is_graphml(path):
        kind = "graphml"
    elif lower.endswith(_OSM_SUFFIXES):
        kind = "osm"
    elif lower.endswith(_LINE_SUFFIXES):
        kind = "lines"
    else:
        raise NetworkError(
            f"{path}: unknown network file type; use OSM XML/PBF "
            f"({', '.join(_OSM_SUFFIXES)}), osmnx GraphML ({', '.join(GRAPHML_SUFFIXES)}), "
            f"or road lines ({', '.join(_LINE_SUFFIXES)})"
        )
    key = _cache_key(path, kind, target) if cache else None
    cached = None if key is None else _from_cache(key, source=str(path))
    if cached is not None:
        network, notes = cached
        notes = [*notes, "from cache"]
    else:
        if kind == "graphml":
            raw = _read_graphml(path)
        elif kind == "osm":
            raw = _read_osm(path)
        else:
            raw = _read_lines(path)
        network = _finalize(raw, target=target, source=str(path))
        notes = raw.notes
        unknown = sorted(set(network.edges["highway"]) - set(HIGHWAY_RANK))
        if unknown:
            notes.append(f"classes not in SPEED_KPH (default speeds): {', '.join(unknown[:10])}")
        if key is not None:
            _to_cache(key, network, notes)
    km = float(network.edges["length_m"].sum()) / 1000.0
    logger.info(
        "read_network %s: %d nodes, %d edges, %.1f km, %s, %.2f s%s",
        path.name,
        len(network.nodes),
        len(network.edges),
        km,
        _crs_label(network.crs),
        time.perf_counter() - start,
        "".join(f"; {note}" for note in notes),
    )
    return network


# ---- the network cache (geoplan._cache)

_CACHE_KIND = "network"
_CACHE_LAYOUT = 3  # bump when the cached tables change shape (3: ebike, motorcycle, bridge tags)


def _cache_key(path: Path, kind: str, target: CRS | None) -> str:
    """Everything a built network depends on: file bytes, reader, CRS, code and libraries."""
    from importlib import metadata

    import pyproj

    from .. import _cache, _compressed

    versions = []
    for dist in ("numpy", "pandas", "geopandas", "shapely", "pyogrio", "networkx", "osmium"):
        try:
            versions.append(f"{dist}={metadata.version(dist)}")
        except metadata.PackageNotFoundError:
            versions.append(f"{dist}=none")
    return _cache.digest(
        _CACHE_KIND,
        _CACHE_LAYOUT,
        _cache.file_sha256(path),
        kind,
        "auto" if target is None else target.to_wkt(),
        _cache.source_sha256([__file__, _cache.__file__, _compressed.__file__]),
        ",".join(versions),
        f"GEOS={shapely.geos_version_string}",
        f"pyproj={pyproj.__version__},PROJ={pyproj.proj_version_str}",
    )


def _from_cache(key: str, *, source: str) -> tuple[Network, list[str]] | None:
    """The cached network for ``key`` (None when absent or not usable: then rebuilt)."""
    from .. import _cache

    entry = _cache.load(_CACHE_KIND, key)
    if entry is None:
        return None
    try:
        edges = entry.tables["edges"]
        geom_types = shapely.get_type_id(np.asarray(edges.geometry.values))
        if not isinstance(edges, gpd.GeoDataFrame) or (geom_types != 1).any():
            raise NetworkError("edge geometries are not all LineStrings")
        network = Network(
            nodes=entry.tables["nodes"],
            edges=edges,
            crs=CRS.from_json(entry.meta["crs"]),
            source=source,
        )
        if not network.crs.equals(edges.crs):
            raise NetworkError("the CRS of the edges differs from the network's")
        notes = [str(note) for note in entry.meta["notes"]]
    except Exception as exc:  # a bad entry (pyproj, pandas, NetworkError …): rebuild
        logger.warning("cached network %s unusable (%s); rebuilding it", key[:12], exc)
        return None
    return network, notes


def _to_cache(key: str, network: Network, notes: list[str]) -> None:
    from .. import _cache

    _cache.save(
        _CACHE_KIND,
        key,
        {"nodes": network.nodes, "edges": network.edges},
        {"crs": network.crs.to_json(), "notes": list(notes), "source": network.source},
    )


def _user_crs(crs: Any) -> CRS | None:
    if crs is None:
        return None
    try:
        target = CRS.from_user_input(crs)
    except Exception as exc:  # pyproj raises CRSError (a ValueError) or TypeError
        raise ConfigError(f"crs {crs!r} is not a valid CRS: {exc}") from exc
    if not _is_metric_projected(target):
        raise ConfigError(
            f"crs {crs!r} must be a projected CRS in metres (e.g. a UTM zone such as EPSG:32650)"
        )
    return target


def _is_metric_projected(crs: CRS) -> bool:
    return bool(
        crs.is_projected and crs.axis_info and crs.axis_info[0].unit_name in ("metre", "meter")
    )


# ---- OSM XML / PBF


class _WayCollector:
    """pyosmium way handler: keeps tags and node refs/locations of highway ways."""

    def __init__(self) -> None:
        self.ref: list[int] = []
        self.lon: list[float] = []
        self.lat: list[float] = []
        self.valid: list[bool] = []
        self.way_len: list[int] = []
        self.highway: list[str | None] = []
        self.oneway: list[int] = []
        self.name: list[str | None] = []
        self.tags: dict[str, list[str | None]] = {key: [] for key in EDGE_TAGS}
        self.n_area = 0

    def way(self, w: Any) -> None:
        tags = w.tags
        if tags.get("area") == "yes":
            self.n_area += 1
            return
        hw = highway_class(tags.get("highway"))
        code = _oneway_code(tags.get("oneway"))
        if code is None:
            implied = tags.get("junction") in ("roundabout", "circular") or hw == "motorway"
            code = 1 if implied else 0
        count = 0
        for node in w.nodes:
            loc = node.location
            self.ref.append(node.ref)
            if loc.valid():
                self.lon.append(loc.lon)
                self.lat.append(loc.lat)
                self.valid.append(True)
            else:
                self.lon.append(math.nan)
                self.lat.append(math.nan)
                self.valid.append(False)
            count += 1
        self.way_len.append(count)
        self.highway.append(hw)
        self.oneway.append(code)
        self.name.append(_text_value(tags.get("name")))
        for key, values in self.tags.items():
            values.append(tags.get(key))


def _read_osm(path: Path) -> _Raw:
    import osmium

    collector = _WayCollector()
    try:
        handler = osmium.make_simple_handler(way=collector.way)
        handler.apply_file(str(path), locations=True, filters=[osmium.filter.KeyFilter("highway")])
    except RuntimeError as exc:
        raise NetworkError(f"{path}: cannot read as OSM XML/PBF ({exc})") from exc
    n_ways = len(collector.way_len)
    if n_ways == 0:
        raise NetworkError(
            f"{path}: no OSM ways with a highway tag; use an extract that contains the street "
            "network (e.g. from Geofabrik or an Overpass query for highway=*)"
        )
    ref = np.asarray(collector.ref, dtype=np.int64)
    lonlat = np.column_stack(
        [np.asarray(collector.lon, dtype=np.float64), np.asarray(collector.lat, dtype=np.float64)]
    )
    valid = np.asarray(collector.valid, dtype=bool)
    way_len = np.asarray(collector.way_len, dtype=np.int64)
    way_of = np.repeat(np.arange(n_ways), way_len)
    notes = []
    if collector.n_area:
        notes.append(f"{collector.n_area} highway areas (area=yes) skipped")
    n_missing = int((~valid).sum())
    if n_missing:
        ways_hit = int(np.unique(way_of[~valid]).size)
        notes.append(f"{n_missing} node refs missing from the file in {ways_hit} ways (ways cut)")

    # runs of consecutive present nodes; a run breaks at way starts and missing nodes
    way_start = np.zeros(len(ref), dtype=bool)
    way_start[(np.cumsum(way_len) - way_len)[way_len > 0]] = True
    prev_invalid = np.zeros(len(ref), dtype=bool)
    prev_invalid[1:] = ~valid[:-1]
    run_start = valid & (way_start | prev_invalid)
    keep = valid.copy()
    run_of = np.cumsum(run_start) - 1
    # drop repeated consecutive nodes inside a run
    dup = np.zeros(len(ref), dtype=bool)
    dup[1:] = keep[1:] & keep[:-1] & (ref[1:] == ref[:-1]) & (run_of[1:] == run_of[:-1])
    keep &= ~dup
    idx = np.flatnonzero(keep)
    runs, run_of_kept = np.unique(run_of[idx], return_inverse=True)
    run_size = np.bincount(run_of_kept, minlength=len(runs))
    short = run_size[run_of_kept] < 2
    n_short = int((run_size < 2).sum())
    if n_short:
        notes.append(f"{n_short} way pieces shorter than 2 nodes dropped")
    idx = idx[~short]
    if idx.size == 0:
        raise NetworkError(f"{path}: highway ways have no usable node locations")
    ids = ref[idx]
    node_id, first, node_idx = np.unique(ids, return_index=True, return_inverse=True)
    node_xy = lonlat[idx][first]
    _, run_idx = np.unique(run_of[idx], return_inverse=True)
    run_way = way_of[idx][np.r_[0, np.flatnonzero(np.diff(run_idx)) + 1]]
    seg_a, seg_b, seg_run = _split_runs(node_idx, run_idx, len(node_id))
    seg_way = run_way[seg_run]
    code = np.asarray(collector.oneway, dtype=np.int64)[seg_way]
    u, v, geoms = _segments(node_idx, node_xy[node_idx], seg_a, seg_b, reverse=code == -1)
    highway = np.asarray(collector.highway, dtype=object)[seg_way]
    highway[pd.isna(highway)] = _FALLBACK_CLASS
    notes.insert(0, f"{n_ways} highway ways")
    return _Raw(
        node_id=node_id.astype(np.int64),
        node_xy=node_xy,
        u=u,
        v=v,
        geometry=geoms,
        highway=highway,
        oneway=code != 0,
        name=np.asarray(collector.name, dtype=object)[seg_way],
        src_crs=CRS.from_epsg(4326),
        notes=notes,
        tags={
            key: np.asarray(values, dtype=object)[seg_way] for key, values in collector.tags.items()
        },
    )


def _split_runs(
    node_idx: np.ndarray, run_idx: np.ndarray, n_nodes: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Split runs (ways) at junctions: run ends and nodes used twice or more.

    ``node_idx`` and ``run_idx`` are flat per-vertex arrays with runs contiguous. Returns the
    flat start/end positions of each segment and its run.
    """
    k = len(node_idx)
    count = np.bincount(node_idx, minlength=n_nodes)
    is_split = count[node_idx] >= 2
    boundary = np.flatnonzero(np.diff(run_idx)) + 1  # first vertex of each later run
    is_split[0] = is_split[k - 1] = True
    is_split[boundary] = True
    is_split[boundary - 1] = True
    split = np.flatnonzero(is_split)
    a, b = split[:-1], split[1:]
    same = run_idx[a] == run_idx[b]
    return a[same], b[same], run_idx[a[same]]


def _segments(
    node_idx: np.ndarray,
    vertex_xy: np.ndarray,
    seg_a: np.ndarray,
    seg_b: np.ndarray,
    *,
    reverse: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """u, v and LineStrings of flat vertex ranges [a, b], reversed where ``reverse``."""
    n_vertices = seg_b - seg_a + 1
    seg_of = np.repeat(np.arange(len(seg_a)), n_vertices)
    offset = np.arange(seg_of.size) - np.repeat(np.cumsum(n_vertices) - n_vertices, n_vertices)
    pos = np.where(reverse[seg_of], seg_b[seg_of] - offset, seg_a[seg_of] + offset)
    geoms = shapely.linestrings(vertex_xy[pos], indices=seg_of)
    u = np.where(reverse, node_idx[seg_b], node_idx[seg_a]).astype(np.int64)
    v = np.where(reverse, node_idx[seg_a], node_idx[seg_b]).astype(np.int64)
    return u, v, np.asarray(geoms, dtype=object)


# ---- osmnx GraphML


def _read_graphml(path: Path) -> _Raw:
    import networkx as nx

    try:
        with open_input(path) as handle:
            graph = nx.read_graphml(handle, force_multigraph=True)
    except Exception as exc:  # networkx/ElementTree raise many types for bad files
        raise NetworkError(f"{path}: cannot read as GraphML ({exc})") from exc
    keys = list(graph.nodes)
    if not keys or graph.number_of_edges() == 0:
        raise NetworkError(f"{path}: the GraphML graph has no nodes or no edges")
    pos = {key: i for i, key in enumerate(keys)}
    try:
        node_xy = np.array(
            [(float(d["x"]), float(d["y"])) for _, d in graph.nodes(data=True)], dtype=np.float64
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise NetworkError(
            f"{path}: GraphML nodes need numeric 'x' and 'y' attributes (osmnx GraphML)"
        ) from exc
    notes: list[str] = []
    try:
        node_id = np.array([int(k) for k in keys], dtype=np.int64)
    except (TypeError, ValueError):
        node_id = np.arange(len(keys), dtype=np.int64)
        notes.append("GraphML node ids are not integers: node_id = position")
    src_crs = _graph_crs(graph.graph.get("crs"), node_xy, path)
    edges = list(graph.edges(keys=True, data=True))
    u = np.array([pos[e[0]] for e in edges], dtype=np.int64)
    v = np.array([pos[e[1]] for e in edges], dtype=np.int64)
    data = [e[3] for e in edges]
    geoms = _graphml_geometry(data, node_xy, u, v, notes)
    length_src = np.array([_float_or_nan(d.get("length")) for d in data], dtype=np.float64)
    highway = np.array([highway_class(d.get("highway")) for d in data], dtype=object)
    highway[pd.isna(highway)] = _FALLBACK_CLASS
    name = np.array([_text_value(d.get("name")) for d in data], dtype=object)
    tags = {
        key: np.array([_text_value(d.get(key)) for d in data], dtype=object) for key in EDGE_TAGS
    }
    if graph.is_directed():
        keep, oneway = _collapse_twins(u, v, geoms)
        notes.append(f"{len(edges)} directed edges -> {keep.size} streets")
    else:
        keep, oneway = np.arange(len(edges)), np.zeros(len(edges), dtype=bool)
    return _Raw(
        node_id=node_id,
        node_xy=node_xy,
        u=u[keep],
        v=v[keep],
        geometry=geoms[keep],
        highway=highway[keep],
        oneway=oneway,
        name=name[keep],
        src_crs=src_crs,
        length_src_m=length_src[keep],
        notes=notes,
        tags={key: values[keep] for key, values in tags.items()},
    )


def _float_or_nan(value: object) -> float:
    try:
        return float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return math.nan


def _graph_crs(value: object, node_xy: np.ndarray, path: Path) -> CRS:
    if value:
        try:
            return CRS.from_user_input(value)
        except Exception as exc:  # pyproj CRSError
            raise NetworkError(f"{path}: graph attribute crs={value!r} is not a CRS") from exc
    if np.all(np.abs(node_xy[:, 0]) <= 180) and np.all(np.abs(node_xy[:, 1]) <= 90):
        return CRS.from_epsg(4326)
    raise NetworkError(
        f"{path}: the GraphML graph has no 'crs' attribute and its coordinates are not lon/lat; "
        "add the crs graph attribute (osmnx writes it)"
    )


def _graphml_geometry(
    data: Sequence[dict[str, Any]], node_xy: np.ndarray, u: np.ndarray, v: np.ndarray, notes: list
) -> np.ndarray:
    """Edge LineStrings from the ``geometry`` WKT; straight node-to-node lines where absent."""
    wkt = np.array([d.get("geometry") for d in data], dtype=object)
    is_text = np.array([isinstance(w, str) for w in wkt], dtype=bool)
    geoms = np.full(len(data), None, dtype=object)
    if is_text.any():
        try:
            geoms[is_text] = shapely.from_wkt(wkt[is_text].astype(str))
        except shapely.errors.GEOSException as exc:
            raise NetworkError(f"bad edge geometry WKT in GraphML ({exc})") from exc
    is_line = np.array(
        [g is not None and g.geom_type == "LineString" and not g.is_empty for g in geoms],
        dtype=bool,
    )
    n_bad = int((is_text & ~is_line).sum())
    if n_bad:
        notes.append(f"{n_bad} edge geometries not LineStrings: straight lines used")
    straight = ~is_line
    if straight.any():
        ends = np.stack([node_xy[u[straight]], node_xy[v[straight]]], axis=1)
        geoms[straight] = shapely.linestrings(ends)
    return geoms


def _collapse_twins(
    u: np.ndarray, v: np.ndarray, geoms: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Pair directed edges that are the same street in opposite directions.

    Twins join the same two nodes along the same geometry reversed. Returns the kept edge
    positions (sorted; the first of each pair) and their ``oneway`` flags (False for pairs).
    """
    lo, hi = np.minimum(u, v), np.maximum(u, v)
    _, pair_of, pair_size = np.unique(
        np.column_stack([lo, hi]), axis=0, return_inverse=True, return_counts=True
    )
    pair_of = pair_of.ravel()
    # an edge that is alone between its two nodes (or a lone loop) cannot have a twin
    maybe = np.flatnonzero(pair_size[pair_of] >= 2)
    coords, which = shapely.get_coordinates(geoms[maybe], return_index=True)
    offsets = np.searchsorted(which, np.arange(len(maybe) + 1))
    groups: dict[tuple[int, int, bytes], tuple[list[int], list[int]]] = defaultdict(
        lambda: ([], [])
    )
    kept: list[int] = list(np.flatnonzero(pair_size[pair_of] < 2))
    oneway: list[bool] = [True] * len(kept)
    for k, i in enumerate(maybe.tolist()):
        c = coords[offsets[k] : offsets[k + 1]]
        fwd = c.tobytes()
        rev = c[::-1].tobytes()
        a, b = (int(u[i]), int(v[i])) if u[i] <= v[i] else (int(v[i]), int(u[i]))
        is_fwd = fwd <= rev
        groups[(a, b, fwd if is_fwd else rev)][0 if is_fwd else 1].append(i)
    for forward, backward in groups.values():
        for i, j in zip(forward, backward, strict=False):
            kept.append(min(i, j))
            oneway.append(False)
        n_pairs = min(len(forward), len(backward))
        for i in forward[n_pairs:] + backward[n_pairs:]:
            kept.append(i)
            oneway.append(True)
    order = np.argsort(kept)
    return np.asarray(kept, dtype=np.int64)[order], np.asarray(oneway, dtype=bool)[order]


# ---- road lines


def _read_lines(path: Path) -> _Raw:
    lower = path.name.lower()
    try:
        if lower.endswith((".parquet", ".geoparquet")):
            frame = gpd.read_parquet(path)
        else:
            frame = gpd.read_file(path)
    except Exception as exc:  # pyarrow / pyogrio errors for bad files
        raise NetworkError(f"{path}: cannot read road lines ({exc})") from exc
    if frame.crs is None:
        raise NetworkError(
            f"{path}: the road lines have no CRS; save them with their CRS (e.g. EPSG:32650)"
        )
    columns = {str(c).lower(): c for c in frame.columns}
    geom = np.asarray(frame.geometry.values, dtype=object)
    notes: list[str] = []
    multi = shapely.get_type_id(geom) == 5
    if multi.any():
        geom = geom.copy()
        geom[multi] = shapely.line_merge(geom[multi])
    is_line = (shapely.get_type_id(geom) == 1) & ~shapely.is_empty(geom)
    has_uv = "u" in columns and "v" in columns
    rows = np.arange(len(frame))
    if not has_uv:
        # without u/v any MultiLineString left may be split into its parts
        parts, part_row = shapely.get_parts(geom[~is_line & multi], return_index=True)
        rows = np.concatenate([rows[is_line], rows[~is_line & multi][part_row]])
        geom = np.concatenate([geom[is_line], parts])
        ok = (shapely.get_type_id(geom) == 1) & ~shapely.is_empty(geom)
        rows, geom = rows[ok], geom[ok]
        n_dropped = int(len(frame) - np.unique(rows).size)
    else:
        rows, geom = rows[is_line], geom[is_line]
        n_dropped = int(len(frame) - rows.size)
    if n_dropped:
        notes.append(f"{n_dropped} rows without a usable LineString dropped")
    if rows.size == 0:
        raise NetworkError(f"{path}: no LineString road lines found")

    def column(name: str) -> np.ndarray | None:
        col = columns.get(name)
        return None if col is None else frame[col].to_numpy(dtype=object)[rows]

    hw_values = column("highway")
    if hw_values is None:
        notes.append(f"no highway column: class {_FALLBACK_CLASS!r} for all")
        highway = np.full(rows.size, _FALLBACK_CLASS, dtype=object)
    else:
        highway = _map_unique(hw_values, highway_class)
        highway[pd.isna(highway)] = _FALLBACK_CLASS
    names = column("name")
    name = (
        np.full(rows.size, None, dtype=object) if names is None else _map_unique(names, _text_value)
    )
    ow_values = column("oneway")
    code = (
        None
        if ow_values is None
        else _map_unique(ow_values, lambda x: _oneway_code(x) or 0).astype(np.int64)
    )
    tags = {}
    for key in EDGE_TAGS:
        values = column(key)
        tags[key] = (
            np.full(rows.size, None, dtype=object)
            if values is None
            else _map_unique(values, _text_value)
        )
    src_crs = CRS.from_user_input(frame.crs)
    if has_uv:
        try:
            u_id = column("u").astype(np.int64)
            v_id = column("v").astype(np.int64)
        except (TypeError, ValueError) as exc:
            raise NetworkError(f"{path}: columns u/v must hold integer node ids") from exc
        lengths = column("length")
        return _lines_with_uv(
            u_id, v_id, geom, highway, name, code, src_crs, lengths, tags=tags, notes=notes
        )
    return _lines_derived(geom, highway, name, code, src_crs, tags=tags, notes=notes)


def _map_unique(values: np.ndarray, func: Callable[[object], object]) -> np.ndarray:
    """Apply ``func`` once per distinct value (lists are handled one by one)."""
    out = np.empty(len(values), dtype=object)
    hashable = np.array([not isinstance(x, (list, np.ndarray)) for x in values], dtype=bool)
    if hashable.any():
        codes, uniques = pd.factorize(pd.Series(values[hashable], dtype=object))
        mapped = np.array([func(x) for x in uniques] + [func(None)], dtype=object)
        out[hashable] = mapped[codes]
    for i in np.flatnonzero(~hashable):
        out[i] = func(values[i])
    return out


def _lines_with_uv(
    u_id: np.ndarray,
    v_id: np.ndarray,
    geom: np.ndarray,
    highway: np.ndarray,
    name: np.ndarray,
    code: np.ndarray | None,
    src_crs: CRS,
    lengths: np.ndarray | None,
    *,
    tags: dict[str, np.ndarray],
    notes: list[str],
) -> _Raw:
    """One segment per row; node coordinates from line ends, geometry turned to run u→v."""
    node_id, inverse = np.unique(np.concatenate([u_id, v_id]), return_inverse=True)
    m = len(u_id)
    u, v = inverse[:m].astype(np.int64), inverse[m:].astype(np.int64)
    start = shapely.get_coordinates(shapely.get_point(geom, 0))
    end = shapely.get_coordinates(shapely.get_point(geom, -1))
    grid = 1e-8 if src_crs.is_geographic else 1e-3
    node_xy = _node_xy_from_ends(u, v, start, end, len(node_id), grid=grid)
    geom = _orient(geom, node_xy, u, v, start, end, tol=10 * grid, notes=notes)
    if code is not None:
        reverse = code == -1
        u, v = np.where(reverse, v, u), np.where(reverse, u, v)
        geom = geom.copy()
        geom[reverse] = shapely.reverse(geom[reverse])
    keep, twin_oneway = _collapse_twins(u, v, geom)
    n_pairs = m - keep.size
    directed = n_pairs >= _DIRECTED_TWIN_SHARE * keep.size
    if n_pairs:
        notes.append(f"{n_pairs} reverse-twin rows merged into two-way streets")
    if code is not None:
        oneway = (code[keep] != 0) & twin_oneway
    elif directed:
        oneway = twin_oneway
    else:
        oneway = np.zeros(keep.size, dtype=bool)
    length_src = None
    if lengths is not None:
        length_src = np.array([_float_or_nan(x) for x in lengths], dtype=np.float64)[keep]
    return _Raw(
        node_id=node_id.astype(np.int64),
        node_xy=node_xy,
        u=u[keep],
        v=v[keep],
        geometry=geom[keep],
        highway=highway[keep],
        oneway=oneway,
        name=name[keep],
        src_crs=src_crs,
        length_src_m=length_src,
        notes=notes,
        tags={key: values[keep] for key, values in tags.items()},
    )


def _node_xy_from_ends(
    u: np.ndarray,
    v: np.ndarray,
    start: np.ndarray,
    end: np.ndarray,
    n_nodes: int,
    *,
    grid: float,
) -> np.ndarray:
    """Coordinates of each node from line ends whose orientation (u→v or v→u) is unknown.

    A node's position is the end coordinate found in every row that touches it; nodes left
    ambiguous (dead ends, isolated pieces) take the end opposite their neighbour's position,
    or the row's start for u. Ends are compared on a ``grid`` (CRS units).
    """
    m = len(u)
    key_s = np.round(start / grid).astype(np.int64)
    key_e = np.round(end / grid).astype(np.int64)
    cand = pd.DataFrame(
        {
            "row": np.tile(np.arange(m), 4),
            "node": np.concatenate([u, u, v, v]),
            "kx": np.concatenate([key_s[:, 0], key_e[:, 0], key_s[:, 0], key_e[:, 0]]),
            "ky": np.concatenate([key_s[:, 1], key_e[:, 1], key_s[:, 1], key_e[:, 1]]),
            "x": np.concatenate([start[:, 0], end[:, 0], start[:, 0], end[:, 0]]),
            "y": np.concatenate([start[:, 1], end[:, 1], start[:, 1], end[:, 1]]),
        }
    ).drop_duplicates(["row", "node", "kx", "ky"])
    degree = np.bincount(cand.drop_duplicates(["row", "node"])["node"], minlength=n_nodes)
    per_key = cand.groupby(["node", "kx", "ky"], sort=False).agg(
        n=("row", "size"), x=("x", "first"), y=("y", "first")
    )
    node_of = per_key.index.get_level_values("node").to_numpy()
    full = per_key["n"].to_numpy() == degree[node_of]
    n_full = np.bincount(node_of[full], minlength=n_nodes)
    sure = full & (n_full[node_of] == 1)
    node_xy = np.full((n_nodes, 2), np.nan)
    node_xy[node_of[sure]] = per_key[["x", "y"]].to_numpy()[sure]
    known = ~np.isnan(node_xy[:, 0])
    if known.all():
        return node_xy
    # ambiguous nodes: take the end opposite a known neighbour, else the forward guess
    tol = 2 * grid

    def near(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        with np.errstate(invalid="ignore"):
            return np.all(np.abs(a - b) <= tol, axis=1)

    xy_u, xy_v = node_xy[u], node_xy[v]
    u_rev = (known[u] & near(end, xy_u)) | (known[v] & near(start, xy_v))
    u_fwd = (known[u] & near(start, xy_u)) | (known[v] & near(end, xy_v))
    reversed_row = u_rev & ~u_fwd
    u_guess = np.where(reversed_row[:, None], end, start)
    v_guess = np.where(reversed_row[:, None], start, end)
    for ends, guess in ((u, u_guess), (v, v_guess)):
        todo = ~known[ends]
        first_row = pd.Series(np.flatnonzero(todo)).groupby(ends[todo]).first()
        node_xy[first_row.index.to_numpy()] = guess[first_row.to_numpy()]
        known = ~np.isnan(node_xy[:, 0])
    return node_xy


def _orient(
    geom: np.ndarray,
    node_xy: np.ndarray,
    u: np.ndarray,
    v: np.ndarray,
    start: np.ndarray,
    end: np.ndarray,
    *,
    tol: float,
    notes: list[str],
) -> np.ndarray:
    """Reverse geometries that run v→u; note lines whose ends miss their nodes by > tol."""
    d_fwd = np.hypot(*(start - node_xy[u]).T) + np.hypot(*(end - node_xy[v]).T)
    d_rev = np.hypot(*(start - node_xy[v]).T) + np.hypot(*(end - node_xy[u]).T)
    flip = d_rev < d_fwd
    off = np.minimum(d_fwd, d_rev) > tol
    if off.any():
        notes.append(f"{int(off.sum())} lines whose ends do not sit on their u/v nodes")
    if not flip.any():
        return geom
    out = geom.copy()
    out[flip] = shapely.reverse(geom[flip])
    return out


def _lines_derived(
    geom: np.ndarray,
    highway: np.ndarray,
    name: np.ndarray,
    code: np.ndarray | None,
    src_crs: CRS,
    *,
    tags: dict[str, np.ndarray],
    notes: list[str],
) -> _Raw:
    """Nodes from rounded vertex coordinates; lines split where vertices are shared."""
    coords, line_of = shapely.get_coordinates(geom, return_index=True)
    grid = _NODE_GRID_DEGREES if src_crs.is_geographic else _NODE_GRID_PROJECTED
    keys = np.round(coords / grid).astype(np.int64)
    dup = np.zeros(len(keys), dtype=bool)
    dup[1:] = np.all(keys[1:] == keys[:-1], axis=1) & (line_of[1:] == line_of[:-1])
    keys, coords, line_of = keys[~dup], coords[~dup], line_of[~dup]
    size = np.bincount(line_of, minlength=len(geom))
    ok = size[line_of] >= 2
    n_degenerate = int(((size < 2) & (size > 0)).sum())
    if n_degenerate:
        notes.append(f"{n_degenerate} lines of zero length dropped")
    keys, coords, line_of = keys[ok], coords[ok], line_of[ok]
    if line_of.size == 0:
        raise NetworkError("the road lines have no line of positive length")
    _, first, node_idx = np.unique(keys, axis=0, return_index=True, return_inverse=True)
    node_idx = node_idx.ravel()
    node_xy = coords[first]
    seg_a, seg_b, seg_line = _split_runs(node_idx, line_of, len(first))
    reverse = np.zeros(len(seg_a), dtype=bool) if code is None else code[seg_line] == -1
    u, v, geoms = _segments(node_idx, coords, seg_a, seg_b, reverse=reverse)
    oneway = np.zeros(len(seg_a), dtype=bool) if code is None else code[seg_line] != 0
    notes.append(f"{len(geom)} lines -> {len(seg_a)} segments (nodes from coordinates)")
    return _Raw(
        node_id=np.arange(len(first), dtype=np.int64),
        node_xy=node_xy,
        u=u,
        v=v,
        geometry=geoms,
        highway=highway[seg_line],
        oneway=oneway,
        name=name[seg_line],
        src_crs=src_crs,
        notes=notes,
        tags={key: values[seg_line] for key, values in tags.items()},
    )


# ---- projection and the final tables


def _utm_crs(lon: float, lat: float) -> CRS:
    """WGS84 UTM zone containing (lon, lat): EPSG:326zz north, EPSG:327zz south."""
    zone = math.floor((lon + 180.0) / 6.0) % 60 + 1
    return CRS.from_epsg((32600 if lat >= 0 else 32700) + zone)


def _target_crs(src: CRS, node_xy: np.ndarray, target: CRS | None) -> CRS:
    if target is not None:
        return target
    if _is_metric_projected(src):
        return src
    if src.is_geographic:
        lon, lat = node_xy[:, 0], node_xy[:, 1]
    else:
        to_wgs84 = Transformer.from_crs(src, CRS.from_epsg(4326), always_xy=True)
        lon, lat = to_wgs84.transform(node_xy[:, 0], node_xy[:, 1])
    return _utm_crs(
        (float(np.nanmin(lon)) + float(np.nanmax(lon))) / 2,
        (float(np.nanmin(lat)) + float(np.nanmax(lat))) / 2,
    )


def _crs_label(crs: CRS) -> str:
    code = crs.to_epsg(min_confidence=100)
    return f"EPSG:{code}" if code is not None else crs.name


def _normalized_crs(crs: CRS, sample_xy: np.ndarray) -> CRS:
    """The EPSG CRS that ``crs`` equals, if any (files often store EPSG:32650 nameless)."""
    code = crs.to_epsg()
    if code is None or crs.to_epsg(min_confidence=100) is not None:
        return crs
    candidate = CRS.from_epsg(code)
    if candidate.is_geographic != crs.is_geographic or candidate.is_projected != crs.is_projected:
        return crs
    x, y = Transformer.from_crs(crs, candidate, always_xy=True).transform(
        sample_xy[:, 0], sample_xy[:, 1]
    )
    tol = 1e-9 if crs.is_geographic else 1e-6
    same = np.allclose(x, sample_xy[:, 0], rtol=0, atol=tol) and np.allclose(
        y, sample_xy[:, 1], rtol=0, atol=tol
    )
    return candidate if same else crs


def _finalize(raw: _Raw, *, target: CRS | None, source: str) -> Network:
    src_crs = _normalized_crs(raw.src_crs, raw.node_xy[:: max(1, len(raw.node_xy) // 16)])
    crs = _target_crs(src_crs, raw.node_xy, target)
    node_xy, geoms = raw.node_xy, raw.geometry
    if not crs.equals(src_crs):
        transformer = Transformer.from_crs(src_crs, crs, always_xy=True)

        def project(xy: np.ndarray) -> np.ndarray:
            x, y = transformer.transform(xy[:, 0], xy[:, 1])
            return np.column_stack([x, y])

        node_xy = project(node_xy)
        geoms = shapely.transform(geoms, project)
    if not np.isfinite(node_xy).all():
        raise NetworkError(f"{source}: node coordinates cannot be projected to {_crs_label(crs)}")
    length_m = shapely.length(geoms)
    notes = raw.notes
    if raw.length_src_m is not None:
        src = raw.length_src_m
        agree = np.isfinite(src) & (
            np.abs(src - length_m) <= _LENGTH_REL_TOL * length_m + _LENGTH_ABS_TOL_M
        )
        n_disagree = int((np.isfinite(src) & ~agree).sum())
        if n_disagree:
            notes.append(f"{n_disagree} source lengths disagree with geometry: geometry used")
        length_m = np.where(agree, src, length_m)
    keep = ~((raw.u == raw.v) & (length_m <= 0))
    if not keep.all():
        notes.append(f"{int((~keep).sum())} zero-length self-loops dropped")
    u, v = raw.u[keep], raw.v[keep]
    if u.size == 0:
        raise NetworkError(f"{source}: no street segments left after reading")
    used = np.zeros(len(raw.node_id), dtype=bool)
    used[u] = used[v] = True
    new_pos = np.cumsum(used) - 1
    n_unused = int((~used).sum())
    if n_unused:
        notes.append(f"{n_unused} nodes without edges dropped")
    nodes = pd.DataFrame(
        {
            "node_id": raw.node_id[used].astype(np.int64),
            "x": node_xy[used, 0].astype(np.float64),
            "y": node_xy[used, 1].astype(np.float64),
        }
    )
    edges = gpd.GeoDataFrame(
        {
            "u": new_pos[u].astype(np.int64),
            "v": new_pos[v].astype(np.int64),
            "length_m": length_m[keep].astype(np.float64),
            "highway": pd.Series(raw.highway[keep], dtype=object),
            "oneway": raw.oneway[keep].astype(bool),
            "name": pd.Series(raw.name[keep], dtype=object),
            **{
                key: pd.Series(
                    raw.tags[key][keep] if key in raw.tags else np.full(keep.sum(), None),
                    dtype=object,
                )
                for key in EDGE_TAGS
            },
        },
        geometry=geoms[keep],
        crs=crs,
    )
    return Network(nodes=nodes, edges=edges, crs=crs, source=source)
