"""The preview map's layers (GeoJSON, WGS84): boundary, streets, population, facilities.

The inputs are read by the library's readers exactly as a run reads them; the layers are
thinned for the browser (at most :data:`MAX_STREETS` street segments — the main roads first —
and :data:`MAX_POINTS` population points, larger cells above that). A preview shows what was
read; it decides nothing.
"""

from __future__ import annotations

import json
from typing import Any

import geopandas as gpd
import numpy as np
import shapely

from ..errors import GeoplanError
from ..taxonomy import CATEGORIES
from ..workflows.project import read_demand_table
from .projects import ProjectFolder
from .review import boundary_of, network_of

__all__ = ["MAX_POINTS", "MAX_STREETS", "preview_layers"]

MAX_STREETS = 20_000
MAX_POINTS = 5_000
_MAIN_ROADS = ("motorway", "trunk", "primary", "secondary", "tertiary")


def preview_layers(project: ProjectFolder, facilities: list[gpd.GeoDataFrame]) -> dict[str, Any]:
    """``{"boundary", "network", "population", "facilities"}`` FeatureCollections (missing
    inputs are empty) and ``errors`` (what could not be read, per layer)."""
    layers: dict[str, Any] = {"errors": {}}
    readers = {
        "boundary": lambda: _boundary(project),
        "network": lambda: _streets(project),
        "population": lambda: _population(project),
        "facilities": lambda: _facilities(facilities),
    }
    for name, read in readers.items():
        try:
            frame = read()
        except GeoplanError as exc:
            layers["errors"][name] = str(exc)
            frame = None
        layers[name] = _collection(frame)
    return layers


def _collection(frame: gpd.GeoDataFrame | None) -> dict:
    if frame is None or frame.empty:
        return {"type": "FeatureCollection", "features": []}
    return json.loads(frame.to_crs(4326).to_json(drop_id=True, ensure_ascii=False))


def _boundary(project: ProjectFolder) -> gpd.GeoDataFrame | None:
    frame = boundary_of(project)
    if frame is None:
        return None
    metric = frame.to_crs(frame.estimate_utm_crs())
    metric["geometry"] = metric.geometry.simplify(10.0)
    return metric[["unit_name", "geometry"]]


def _streets(project: ProjectFolder) -> gpd.GeoDataFrame | None:
    network = network_of(project)
    if network is None:
        return None
    edges = network.edges[["highway", "geometry"]]
    if len(edges) > MAX_STREETS:
        main = edges["highway"].astype(str).str.startswith(_MAIN_ROADS)
        edges = edges[main] if main.sum() <= MAX_STREETS else edges[main].head(MAX_STREETS)
    edges = edges.copy()
    edges["geometry"] = edges.geometry.simplify(2.0)
    return gpd.GeoDataFrame(edges, geometry="geometry", crs=network.crs)


def _population(project: ProjectFolder) -> gpd.GeoDataFrame | None:
    table = project.input_table("demand")
    if table is None:
        return None
    points = read_demand_table(table, project.resolve(str(table["path"])))
    points = points.to_crs(points.estimate_utm_crs())
    cell = 100.0
    while True:
        x = np.floor(points.geometry.x.to_numpy() / cell)
        y = np.floor(points.geometry.y.to_numpy() / cell)
        keys = np.stack([x, y], axis=1)
        cells, inverse = np.unique(keys, axis=0, return_inverse=True)
        if len(cells) <= MAX_POINTS:
            break
        cell *= 2
    population = np.bincount(inverse.ravel(), weights=points["population"].to_numpy())
    return gpd.GeoDataFrame(
        {"population": np.round(population, 1)},
        geometry=shapely.points((cells[:, 0] + 0.5) * cell, (cells[:, 1] + 0.5) * cell),
        crs=points.crs,
    )


def _facilities(frames: list[gpd.GeoDataFrame]) -> gpd.GeoDataFrame | None:
    frames = [f for f in frames if f is not None and not f.empty]
    if not frames:
        return None
    used = gpd.GeoDataFrame(
        np.concatenate([f[["name", "category", "geometry"]].to_numpy() for f in frames]),
        columns=["name", "category", "geometry"],
        geometry="geometry",
        crs=4326,
    )
    used["category_zh"] = [CATEGORIES[c].name_zh for c in used["category"]]
    used["category_en"] = [CATEGORIES[c].name_en for c in used["category"]]
    used["group"] = [CATEGORIES[c].group for c in used["category"]]
    return used
