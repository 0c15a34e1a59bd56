"""gaps.gpkg, whichever process writes it: the layer ``gaps`` and, with the per-point tables,
``uncovered_points``.

A run of many demand points writes this file in a second process
(:mod:`geoplan.workflows.side_process`), which imports this module, its writers
and little else (geopandas, pyogrio): not the whole run's code, whose import would take a
second of the CPU that the run is reading its inputs on.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

import geopandas as gpd

from .. import _io

__all__ = ["GAPS_GPKG_BEGUN", "UNCOVERED_LAYER", "write_gaps_gpkg", "write_uncovered_layer"]

UNCOVERED_LAYER = "uncovered_points"
"""The layer of gaps.gpkg with one point per demand point not covered by a rule."""
GAPS_GPKG_BEGUN = ".gaps-uncovered_points.gpkg"
"""gaps.gpkg holding only :data:`UNCOVERED_LAYER`, in the staged result folder until the
layer ``gaps`` is added and it becomes gaps.gpkg (:func:`write_gaps_gpkg`)."""


def write_uncovered_layer(layer, path: Path) -> None:
    """Add ``layer`` (``project._uncovered_layer``: an Arrow table with WKB points, or a
    GeoDataFrame) to the GeoPackage ``path`` (made if missing) as :data:`UNCOVERED_LAYER`,
    as ``GeoDataFrame.to_file`` writes it (pyogrio's Arrow path)."""
    import pyogrio

    if isinstance(layer, gpd.GeoDataFrame):
        layer.to_file(path, layer=UNCOVERED_LAYER, driver="GPKG", engine="pyogrio", use_arrow=True)
        return
    pyogrio.write_arrow(
        layer,
        path,
        layer=UNCOVERED_LAYER,
        driver="GPKG",
        geometry_name="geometry",
        geometry_type="Point" if len(layer) else "Unknown",  # as geopandas infers it
        crs="EPSG:4326",
    )


def write_gaps_gpkg(gaps_wgs84: gpd.GeoDataFrame, begun: Path | None, path: Path) -> None:
    """gaps.gpkg: the layer ``gaps``, and ``uncovered_points`` when ``begun`` (a GeoPackage
    holding only that layer, :func:`write_uncovered_layer`) is given, which becomes the file.
    ``gaps`` is listed first either way: it is the layer a reader opens when none is named."""
    with _io.atomic_path(path) as tmp:
        if begun is not None:
            os.replace(begun, tmp)
        gaps_wgs84.to_file(tmp, layer="gaps", driver="GPKG", engine="pyogrio", use_arrow=True)
        if begun is not None:
            _list_first(tmp, "gaps")


def _list_first(path: Path, layer: str) -> None:
    """List ``layer`` first in the GeoPackage ``path``: readers (GDAL, so QGIS and geopandas)
    list layers in the order of the rows of ``gpkg_contents``, which is the order they were
    written in; the layer's rows there (and in ``gpkg_geometry_columns``) get the lowest rowid.
    """
    import sqlite3

    with contextlib.closing(sqlite3.connect(path)) as db, db:
        for table in ("gpkg_contents", "gpkg_geometry_columns"):
            db.execute(
                f"UPDATE {table} SET rowid = (SELECT min(rowid) - 1 FROM {table}) "
                "WHERE table_name = ?",
                (layer,),
            )
