"""The inputs of an area from data on hand: cut a county out of a province extract and a
national raster (offline), or download them (only with ``online=True``).

:func:`cut_inputs` cuts the area's boundary plus a buffer out of

* a large **OSM file** (PBF or XML, e.g. a Geofabrik province extract): streamed once with
  pyosmium to find what lies in the area (every node inside, every way with at least one node
  inside, kept whole with all its nodes, every relation with a kept member), then once more to
  write those objects to ``network.osm.pbf``. This is osmium-tool's ``complete_ways``
  strategy: a street that crosses the buffered edge is kept to its end, so no trip that
  starts inside is cut short. The file must be sorted (nodes, then ways, then relations), as
  every published extract is;
* a large **population raster** (a national WorldPop or GHS-POP GeoTIFF): only the window
  over the buffered area is read, cells whose area does not touch it are set to nodata, and
  the file keeps its name, values, CRS, tags and nodata, with a density raster's units said in
  the band metadata (a cut of a ``*_pd_*`` density file stays density);
* with ``units=True``, the townships (乡镇/街道) of the OSM file, assembled from its
  ``boundary=administrative`` relations (:mod:`geoplan.readers.osm_admin`).

:func:`fetch_inputs` downloads the same: the streets of boundary + buffer through osmnx
(Overpass API; ``osmnx.settings`` decide the server) and a population raster from a URL
(read through GDAL's ``/vsicurl/``: only the window's bytes are fetched). Nothing is
downloaded unless ``online=True``; tests answer with recorded responses from a local
server, never the internet.

:func:`fetch_project` does either for a project folder made by ``geoplan init``: it writes
``PROJECT/inputs/`` (a result folder with its manifest and ``sources.json``: every file with
its source, date, size, sha256 and credit) and points ``project.toml``'s ``[network]``,
``[demand]`` (and ``[units]``) at the new files with their credits, keeping every comment.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import logging
import math
import re
from array import array
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import shapely

from .. import _io
from .._cache import file_sha256
from ..errors import ConfigError, InputError, InputFileNotFoundError, LimitError
from ..limits import current as current_limits
from ..readers.credits import GHS_POP, OSM, WORLDPOP
from ..results import output_folder

__all__ = [
    "DEFAULT_BUFFER_M",
    "DEFAULT_WORLDPOP_YEAR",
    "INPUTS_FOLDER",
    "SOURCES_FILE",
    "WORLDPOP_URL",
    "WORLDPOP_YEARS",
    "FetchResult",
    "Progress",
    "cut_inputs",
    "cut_layer",
    "cut_osm",
    "cut_raster",
    "fetch_inputs",
    "fetch_project",
    "padded_area",
    "set_table_keys",
]

logger = logging.getLogger(__name__)

Progress = Callable[[float | None, str], None]
"""Called with (overall fraction 0..1, or None when unknown; a "中文 / English" message)."""

DEFAULT_BUFFER_M = 2000.0
"""Metres added around the boundary: residents near the edge reach streets and facilities
across it."""
SOURCES_FILE = "sources.json"
NETWORK_FILE = "network.osm.pbf"
GRAPHML_FILE = "network.graphml"
UNITS_FILE = "units.geojson"
_FLUSH = 100_000  # nodes or ways tested against the area at once


@dataclass
class FetchResult:
    """What :func:`cut_inputs`, :func:`fetch_inputs` or :func:`fetch_project` wrote."""

    folder: Path
    """The result folder holding the files (with ``manifest.json`` and ``sources.json``)."""
    files: dict[str, Path] = field(default_factory=dict)
    """``network``, ``population``, ``units`` → the file written."""
    sources: list[dict] = field(default_factory=list)
    """Per file: kind, file, source, retrieved (UTC ISO time), bytes, sha256, credit, counts."""
    project: Path | None = None
    """The project file pointed at the new files (:func:`fetch_project`), else None."""
    notes: list[str] = field(default_factory=list)
    """Bilingual lines to show."""

    def to_dict(self) -> dict:
        """JSON-ready fields."""
        return {
            "folder": str(self.folder),
            "files": {k: str(v) for k, v in self.files.items()},
            "sources": self.sources,
            "project": None if self.project is None else str(self.project),
            "notes": list(self.notes),
        }


# --------------------------------------------------------------------------- the area


def padded_area(boundary: Any, buffer_m: float = DEFAULT_BUFFER_M) -> shapely.Geometry:
    """The boundary (a polygon file, a GeoDataFrame or GeoSeries) plus ``buffer_m`` metres,
    as one polygon in WGS84 (buffered in the area's UTM zone)."""
    if not (isinstance(buffer_m, int | float) and math.isfinite(buffer_m) and buffer_m >= 0):
        raise ConfigError(f"--buffer-m 须为非负数 / --buffer-m must be ≥ 0 metres, got {buffer_m}")
    if isinstance(boundary, str | Path):
        path = Path(boundary)
        if not path.is_file():
            raise InputFileNotFoundError(f"边界文件不存在 / boundary file not found: {path}")
        boundary = gpd.read_file(path)
    if isinstance(boundary, gpd.GeoDataFrame):
        boundary = boundary.geometry
    if not isinstance(boundary, gpd.GeoSeries) or boundary.empty:
        raise InputError("边界为空 / the boundary holds no polygon")
    if boundary.crs is None:
        raise InputError("边界没有坐标系 / the boundary has no coordinate system; save it with one")
    kinds = set(boundary.geom_type.dropna())
    if not kinds or not kinds <= {"Polygon", "MultiPolygon"}:
        raise InputError(f"边界须为面 / the boundary must be polygons, found {sorted(kinds)}")
    series = boundary.to_crs(4326)
    metric = series.estimate_utm_crs()
    outline = shapely.union_all(series.to_crs(metric).make_valid().to_numpy())
    padded = outline.buffer(buffer_m, quad_segs=8) if buffer_m > 0 else outline
    return gpd.GeoSeries([padded], crs=metric).to_crs(4326).iloc[0]


def _say(progress: Progress | None, fraction: float | None, message: str) -> None:
    logger.info(message)
    if progress is not None:
        progress(fraction, message)


# --------------------------------------------------------------------------- OSM


def cut_osm(
    source: str | Path,
    area: shapely.Geometry,
    target: str | Path,
    *,
    progress: Progress | None = None,
) -> dict[str, int]:
    """Cut ``area`` (WGS84 polygon) out of an OSM file into ``target`` (PBF or XML by suffix).

    Keeps every tagged way whose line touches the area, whole (with all its nodes, also those
    outside: a street that crosses the edge is kept to its end); every tagged node inside or
    on the area (points of interest); and every relation with a kept way or node as a member
    (its other members are not added). Untagged ways (members of multipolygons) are left out.

    Two streaming passes. In the first, pyosmium keeps every node's location in its C++
    index and hands Python only the tagged objects, a small part of a file (most nodes carry
    no tags); each way's line is built in C++ and tested against the area with shapely. The
    second writes the kept objects, the others filtered out in C++.

    Returns
    -------
    dict
        ``ways`` and ``ways_read`` (tagged ways kept, read), ``tagged_nodes`` (kept inside),
        ``nodes`` (written: those and the kept ways' nodes), ``relations`` and
        ``relations_read``.

    Raises
    ------
    InputError
        The file cannot be read, is not sorted (a node after a way), or nothing lies in the
        area (the message gives the file's extent when its header has one).
    """
    import osmium

    source = Path(source)
    if not source.is_file():
        raise InputFileNotFoundError(f"OSM 文件不存在 / OSM file not found: {source}")
    shapely.prepare(area)
    minx, miny, maxx, maxy = area.bounds
    factory = osmium.geom.WKBFactory()
    # kept ids in plain Python/array containers: osmium's IdTracker allocates a dense chunk
    # per id range, slow and large for the scattered ids of one county in a province
    node_ids = array("q")  # tagged nodes inside, then every node of a kept way
    way_ids: set[int] = set()
    relation_ids: set[int] = set()
    ids, xs, ys = array("q"), array("d"), array("d")  # tagged nodes in the area's box
    batch_ids, batch_lines = array("q"), []  # ways whose lines are tested together
    counts = dict.fromkeys(("ways_read", "ways", "tagged_nodes", "relations_read", "relations"), 0)

    # the batches are replaced, not emptied in place, after each flush: an array whose buffer
    # a numpy view still exports cannot be resized (``BufferError``, seen now and then when
    # the cut ran in a Dask worker thread; not root-caused)
    def flush_nodes() -> None:
        nonlocal ids, xs, ys
        if not ids:
            return
        inside = shapely.intersects_xy(area, np.frombuffer(xs), np.frombuffer(ys))
        node_ids.extend(np.frombuffer(ids, dtype=np.int64)[inside].tolist())
        counts["tagged_nodes"] += int(inside.sum())
        ids, xs, ys = array("q"), array("d"), array("d")

    def flush_ways() -> None:
        nonlocal batch_ids, batch_lines
        if not batch_lines:
            return
        lines = np.asarray(batch_lines, dtype=object)
        built = np.asarray([not isinstance(x, shapely.Geometry) for x in batch_lines])
        if built.any():
            lines[built] = shapely.from_wkb(lines[built])
        hit = shapely.intersects(area, lines)
        way_ids.update(np.frombuffer(batch_ids, dtype=np.int64)[hit].tolist())
        batch_ids, batch_lines = array("q"), []

    # pass 1: which tagged ways touch the area (nodes only as locations, in C++)
    seen_way = False
    processor = (
        osmium.FileProcessor(str(source), osmium.osm.NODE | osmium.osm.WAY)
        .with_locations()
        .with_filter(osmium.filter.EmptyTagFilter())
    )
    try:
        for obj in processor:
            if obj.is_node():
                if seen_way:
                    raise InputError(
                        f"{source.name} 未排序（路段后出现节点）/ {source.name} is not sorted (a "
                        "node after a way); sort it first: osmium sort IN -o OUT"
                    )
                location = obj.location
                if location.valid() and minx <= location.lon <= maxx:
                    if miny <= location.lat <= maxy:
                        ids.append(obj.id)
                        xs.append(location.lon)
                        ys.append(location.lat)
                        if len(ids) >= _FLUSH:
                            flush_nodes()
            else:
                seen_way = True
                counts["ways_read"] += 1
                line = _way_line(obj, factory)
                if line is not None:
                    batch_ids.append(obj.id)
                    batch_lines.append(line)
                    if len(batch_lines) >= _FLUSH:
                        flush_ways()
                        _say(progress, None, f"读取路段 / ways read: {counts['ways_read']:,}")
        flush_nodes()
        flush_ways()
        # pass 2: the kept ways' nodes, and the relations with a kept member
        entity = osmium.osm.osm_entity_bits
        members = osmium.FileProcessor(str(source), entity.WAY | entity.RELATION).with_filter(
            osmium.filter.IdFilter(way_ids).enable_for(entity.WAY)
        )
        kept_nodes: set[int] | None = None
        for obj in members:
            if obj.is_way():
                node_ids.extend(n.ref for n in obj.nodes)  # outside the area too
                continue
            if kept_nodes is None:
                kept_nodes = set(node_ids)
            counts["relations_read"] += 1
            if any(
                (m.type == "w" and m.ref in way_ids) or (m.type == "n" and m.ref in kept_nodes)
                for m in obj.members
            ):
                relation_ids.add(obj.id)
    except RuntimeError as exc:
        raise InputError(f"无法读取 OSM 文件 / cannot read OSM file {source.name}: {exc}") from exc
    counts["ways"], counts["relations"] = len(way_ids), len(relation_ids)
    if not way_ids and counts["tagged_nodes"] == 0:
        raise InputError(
            f"{source.name} 在区域内没有任何道路或要素 / {source.name} has no way or tagged node "
            f"in the area ({_header_box(source)}area lon/lat "
            f"{', '.join(f'{v:.4f}' for v in area.bounds)}): is it the extract of another "
            "province?"
        )
    # pass 3: write them (the others filtered out in C++)
    _say(progress, None, f"写出 / writing {Path(target).name}")
    unique_nodes = np.unique(np.frombuffer(node_ids, dtype=np.int64)).tolist()
    writing = (
        osmium.FileProcessor(str(source))
        .with_filter(osmium.filter.IdFilter(unique_nodes).enable_for(entity.NODE))
        .with_filter(osmium.filter.IdFilter(way_ids).enable_for(entity.WAY))
        .with_filter(osmium.filter.IdFilter(relation_ids).enable_for(entity.RELATION))
    )
    written = 0
    with osmium.SimpleWriter(str(target), overwrite=True) as writer:
        for obj in writing:
            writer.add(obj)
            written += obj.is_node()
    counts["nodes"] = written
    return counts


def _way_line(way: Any, factory: Any) -> bytes | shapely.Geometry | None:
    """The way's line as WKB (built in C++); from the nodes that have a location when some
    are missing from a clipped extract; a point for a way of one place; None without any."""
    import osmium

    try:
        return bytes.fromhex(factory.create_linestring(way))  # GEOS reads binary 10× faster
    except (RuntimeError, osmium.InvalidLocationError):  # missing, or one distinct place
        xy = [(n.lon, n.lat) for n in way.nodes if n.location.valid()]
        if not xy:
            return None
        return shapely.LineString(xy) if len(set(xy)) > 1 else shapely.Point(xy[0])


def _header_box(source: Path) -> str:
    """``"file extent lon/lat …; "`` from the file's header, or ``""`` when it has none."""
    import osmium

    reader = osmium.io.Reader(str(source), osmium.osm.osm_entity_bits.NOTHING)
    try:
        box = reader.header().box()
    finally:
        reader.close()
    if not box.valid():
        return ""
    corners = (box.bottom_left, box.top_right)
    return (
        "file extent lon/lat "
        + ", ".join(
            f"{v:.4f}" for v in (corners[0].lon, corners[0].lat, corners[1].lon, corners[1].lat)
        )
        + "; "
    )


# --------------------------------------------------------------------------- vector layers

LAYER_SUFFIXES = (".parquet", ".geoparquet", ".geojson", ".gpkg", ".shp")
"""Vector layers :func:`cut_layer` reads (road lines, demand points)."""


def cut_layer(source: str | Path, area: gpd.GeoSeries, target: str | Path) -> tuple[int, int]:
    """The features of a vector layer that touch ``area`` (one polygon, any CRS), kept whole,
    written to ``target`` (GeoParquet in the layer's CRS) when there is at least one.

    Returns ``(kept, total)`` features.

    Raises
    ------
    ConfigError
        The layer has no CRS (the area cannot be placed on it).
    """
    source = Path(source)
    if source.suffix.lower() in (".parquet", ".geoparquet"):
        layer = gpd.read_parquet(source)
    else:
        layer = gpd.read_file(source)
    if layer.crs is None:
        raise ConfigError(f"{source.name}: 图层没有坐标系 / the layer has no CRS; save it with one")
    mask = area.to_crs(layer.crs).iloc[0]
    kept = layer[layer.intersects(mask)]
    if len(kept):
        with _io.atomic_path(Path(target)) as tmp:
            kept.to_parquet(tmp)
    return len(kept), len(layer)


# --------------------------------------------------------------------------- raster


def cut_raster(
    source: str | Path,
    area: shapely.Geometry,
    target: str | Path,
    *,
    band: int | None = None,
    all_touched: bool = True,
) -> dict[str, Any]:
    """Cut ``area`` (WGS84 polygon) out of a raster into ``target`` (GeoTIFF).

    Reads only the window over the area (in the raster's CRS); cells whose square does not
    touch the area become nodata (rasterio's ``all_touched``), so every cell a project's
    boundary test (by cell centre) could keep is kept; with ``all_touched=False`` only the
    cells whose centre lies in the area are kept (an area that is already the boundary plus
    its tolerance: no cell the run would count as outside). Values, data type, CRS, transform
    (cell grid), tags and nodata are the source's; without a nodata value one is chosen (NaN
    for floats, the type's minimum for integers). A density raster (per km²) says so in its
    band units, whatever its new name.

    Returns
    -------
    dict
        ``cells`` (of the window), ``kept_cells`` (not nodata), ``window`` (row, col, height,
        width in the source), ``kind`` (count or density, as the source was read), ``nodata``.

    Raises
    ------
    InputError
        The area lies outside the raster.
    LimitError
        The window has more cells than the ``raster_cells`` limit.
    """
    import rasterio
    import rasterio.features
    import rasterio.windows
    from rasterio.warp import transform_geom

    from ..readers.demand import raster_kind

    source_name = str(source)
    try:
        ds = rasterio.open(source_name)
    except rasterio.errors.RasterioIOError as exc:
        raise InputError(f"无法读取栅格 / cannot read raster {source_name}: {exc}") from exc
    with ds:
        if ds.crs is None:
            raise InputError(f"{source_name}: 栅格没有坐标系 / the raster has no CRS")
        shape = shapely.geometry.shape(
            transform_geom("EPSG:4326", ds.crs, shapely.geometry.mapping(area))
        )
        window = _covering_window(rasterio.windows.from_bounds(*shape.bounds, ds.transform))
        try:
            window = window.intersection(rasterio.windows.Window(0, 0, ds.width, ds.height))
            height, width = int(window.height), int(window.width)
        except rasterio.errors.WindowError:  # no overlap
            height = width = 0
        if height <= 0 or width <= 0:
            raise InputError(
                f"区域在栅格范围之外 / the area lies outside the raster {Path(source_name).name} "
                f"(raster bounds {tuple(round(v, 4) for v in ds.bounds)} in {ds.crs})"
            )
        limit = current_limits().raster_cells
        if height * width > limit:
            raise LimitError(
                f"栅格窗口过大 / the raster window has {height * width:,} cells, above the "
                f"raster_cells limit of {limit:,}; raise it with GEOPLAN_LIMIT_RASTER_CELLS"
            )
        bands = list(range(1, ds.count + 1)) if band is None else [band]
        data = ds.read(bands, window=window)
        transform = ds.window_transform(window)
        nodata = ds.nodata
        if nodata is None:
            nodata = (
                float("nan") if np.issubdtype(data.dtype, np.floating) else np.iinfo(data.dtype).min
            )
        outside = rasterio.features.geometry_mask(
            [shapely.geometry.mapping(shape)],
            out_shape=(height, width),
            transform=transform,
            all_touched=all_touched,
        )
        data[:, outside] = nodata
        kind, _ = raster_kind(ds, bands[0], Path(source_name), "auto")
        profile = ds.profile | {
            "driver": "GTiff",
            "height": height,
            "width": width,
            "transform": transform,
            "count": len(bands),
            "nodata": nodata,
            "compress": "deflate",
        }
        profile.pop("blockxsize", None), profile.pop("blockysize", None)
        profile["tiled"] = False
        tags = ds.tags()
        band_tags = [ds.tags(b) for b in bands]
        descriptions = [ds.descriptions[b - 1] for b in bands]
        units = [ds.units[b - 1] for b in bands]
    target = Path(target)
    with _io.atomic_path(target) as tmp, rasterio.open(tmp, "w", **profile) as out:
        out.write(data)
        out.update_tags(**tags, GEOPLAN_CUT_FROM=Path(source_name).name)
        for i, b_tags in enumerate(band_tags, start=1):
            out.update_tags(i, **b_tags)
            if descriptions[i - 1]:
                out.set_band_description(i, descriptions[i - 1])
            unit = units[i - 1] or ("persons per km²" if kind == "density" else "")
            if unit:
                out.set_band_unit(i, unit)
    valid = ~outside
    if not (isinstance(nodata, float) and math.isnan(nodata)):
        valid &= (data[0] != nodata) & ~np.isnan(data[0].astype(float))
    else:
        valid &= ~np.isnan(data[0])
    return {
        "cells": height * width,
        "kept_cells": int(valid.sum()),
        "window": [int(window.row_off), int(window.col_off), height, width],
        "kind": kind,
        "nodata": None if isinstance(nodata, float) and math.isnan(nodata) else nodata,
    }


def _covering_window(window):
    """The whole cells ``window`` (fractional) touches: first row and column floored, last
    ceiled. (rasterio 1.4's ``round_lengths`` ignores ``op="ceil"``, and rounding offset and
    length apart loses the last row or column anyway.)"""
    from rasterio.windows import Window

    col0, row0 = math.floor(window.col_off), math.floor(window.row_off)
    col1 = math.ceil(window.col_off + window.width)
    row1 = math.ceil(window.row_off + window.height)
    return Window(col0, row0, col1 - col0, row1 - row0)


# --------------------------------------------------------------------------- cut


def cut_inputs(
    boundary: Any,
    out_dir: str | Path,
    *,
    pbf: str | Path | None = None,
    raster: str | Path | None = None,
    buffer_m: float = DEFAULT_BUFFER_M,
    network: bool = True,
    units: bool = False,
    units_level: int | None = None,
    overwrite: bool = False,
    progress: Progress | None = None,
) -> FetchResult:
    """Cut boundary + ``buffer_m`` out of an OSM file and/or a raster the user has (offline).

    Writes into ``out_dir`` (a result folder: :mod:`geoplan.results`) ``network.osm.pbf``, the
    raster under its own name, with ``units=True`` ``units.geojson`` (the townships of the
    OSM file inside the boundary, :func:`geoplan.readers.osm_admin.township_units`), and
    ``sources.json``.
    """
    if units and pbf is None:
        raise ConfigError("--units 需要 --pbf / --units needs --pbf (the townships come from it)")
    pbf_network = pbf if network else None
    if pbf_network is None and raster is None and not units:
        raise ConfigError("给出 --pbf 或 --raster / give --pbf or --raster (or --online)")
    frame = _boundary_frame(boundary)
    area = padded_area(frame, buffer_m)
    inputs = [p for p in (pbf, raster) if p is not None]
    result = FetchResult(folder=Path(out_dir))
    steps = (pbf_network is not None) + (raster is not None) + units
    done = 0
    with output_folder(out_dir, command="fetch", overwrite=overwrite, inputs=inputs) as staged:
        if pbf_network is not None:
            _say(progress, done / steps, f"裁剪路网 / cutting {Path(pbf).name}")
            counts = cut_osm(pbf, area, staged.path / NETWORK_FILE, progress=progress)
            result.files["network"] = result.folder / NETWORK_FILE
            result.sources.append(
                _source("network", staged.path / NETWORK_FILE, str(Path(pbf).resolve()), OSM)
                | {"buffer_m": buffer_m, "counts": counts}
            )
            result.notes.append(
                f"路网：{Path(pbf).name} 中 {counts['ways']:,} 条路段（共 {counts['ways_read']:,}）"
                f"位于边界外扩 {buffer_m:,.0f} 米内 / network: {counts['ways']:,} of "
                f"{counts['ways_read']:,} ways of {Path(pbf).name} lie within {buffer_m:,.0f} m "
                "of the boundary (kept whole)"
            )
            done += 1
        if raster is not None:
            _say(progress, done / steps, f"裁剪人口栅格 / cutting {Path(raster).name}")
            name = (
                Path(raster).name
                if Path(raster).suffix.lower() in (".tif", ".tiff")
                else (Path(raster).stem + ".tif")
            )
            stats = cut_raster(raster, area, staged.path / name)
            result.files["population"] = result.folder / name
            credit = _population_credit(Path(raster))
            result.sources.append(
                _source("population", staged.path / name, str(Path(raster).resolve()), credit)
                | {"buffer_m": buffer_m, "raster": stats}
            )
            result.notes.append(
                f"人口：{Path(raster).name} 的 {stats['kept_cells']:,} 个栅格（{stats['kind']}）/ "
                f"population: {stats['kept_cells']:,} cells of {Path(raster).name} "
                f"({stats['kind']}) within {buffer_m:,.0f} m of the boundary"
            )
            done += 1
        if units:
            from ..readers.osm_admin import DEFAULT_ADMIN_LEVEL, township_units

            _say(progress, done / steps, f"乡镇单元 / townships from {Path(pbf).name}")
            level = units_level or DEFAULT_ADMIN_LEVEL
            found, notes = township_units(pbf, frame, admin_level=level)
            layer = found[["name", "code", "admin_level", "osm_id", "geometry"]]
            _io.write_text(
                staged.path / UNITS_FILE, layer.to_json(drop_id=True, ensure_ascii=False)
            )
            result.files["units"] = result.folder / UNITS_FILE
            result.sources.append(
                _source("units", staged.path / UNITS_FILE, str(Path(pbf).resolve()), OSM)
                | {"admin_level": level, "count": len(found)}
            )
            result.notes.extend(notes)
        _write_sources(staged.path, result)
    _say(progress, 1.0, f"完成 / done: {', '.join(result.files)} in {result.folder}")
    return result


def _boundary_frame(boundary: Any) -> gpd.GeoDataFrame:
    if isinstance(boundary, str | Path):
        path = Path(boundary)
        if not path.is_file():
            raise InputFileNotFoundError(f"边界文件不存在 / boundary file not found: {path}")
        boundary = gpd.read_file(path)
    if isinstance(boundary, gpd.GeoSeries):
        boundary = gpd.GeoDataFrame(geometry=boundary)
    if not isinstance(boundary, gpd.GeoDataFrame):
        raise ConfigError(f"boundary must be a polygon file or a GeoDataFrame, got {boundary!r}")
    if boundary.crs is None:
        raise InputError("边界没有坐标系 / the boundary has no coordinate system; save it with one")
    return boundary


def _population_credit(path: Path) -> str:
    name = path.name.lower()
    if any(mark in name for mark in ("ghspop", "ghs_pop", "ghs-pop")):
        return GHS_POP
    if "worldpop" in name or re.match(r"^[a-z]{3}_(ppp|pd)_\d{4}", name):
        return WORLDPOP
    return ""


def _source(kind: str, path: Path, source: str, credit: str) -> dict:
    return {
        "kind": kind,
        "file": path.name,
        "source": source,
        "retrieved": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "bytes": path.stat().st_size,
        "sha256": file_sha256(path),
        "credit": credit,
    }


def _write_sources(folder: Path, result: FetchResult) -> None:
    _io.write_text(
        folder / SOURCES_FILE,
        json.dumps({"sources": result.sources, "notes": result.notes}, ensure_ascii=False, indent=1)
        + "\n",
    )


# --------------------------------------------------------------------------- download

WORLDPOP_URL = (
    "https://data.worldpop.org/GIS/Population/Global_2000_2020/{year}/CHN/chn_ppp_{year}.tif"
)
"""WorldPop's 100 m China population counts (unconstrained, persons per cell) of a year
(:data:`WORLDPOP_YEARS`): read through GDAL's ``/vsicurl/``, only the window over the area is
fetched."""

WORLDPOP_YEARS = (2000, 2020)
"""The first and last year of :data:`WORLDPOP_URL`."""
DEFAULT_WORLDPOP_YEAR = WORLDPOP_YEARS[1]
"""The year fetched unless told otherwise: the latest."""


def fetch_inputs(
    boundary: Any,
    out_dir: str | Path,
    *,
    buffer_m: float = DEFAULT_BUFFER_M,
    network: bool = True,
    population: bool = True,
    population_url: str | None = None,
    year: int = DEFAULT_WORLDPOP_YEAR,
    online: bool = False,
    overwrite: bool = False,
    progress: Progress | None = None,
) -> FetchResult:
    """Download the streets and a population raster of boundary + ``buffer_m`` (online only).

    * ``network.graphml``: every street and path (osmnx ``network_type="all"``, simplified,
      disconnected pieces kept) from the Overpass API named by ``osmnx.settings.overpass_url``;
      osmnx's response cache goes to geoplan's cache folder unless set otherwise.
    * the population raster at ``population_url`` (default :data:`WORLDPOP_URL` of ``year``),
      cut as :func:`cut_raster` does, reading only the window's bytes over HTTP.

    Raises
    ------
    ConfigError
        ``online`` is not set: nothing is downloaded without it (use ``cut_inputs`` with
        files on hand instead).
    """
    if not online:
        raise ConfigError(
            "下载需要 --online（会访问 Overpass API 与 WorldPop）/ downloading needs --online "
            "(it contacts the Overpass API and WorldPop); offline, cut from files you have: "
            "--pbf PROVINCE.osm.pbf --raster NATIONAL.tif"
        )
    if not (network or population):
        raise ConfigError("没有要下载的内容 / nothing to fetch: both network and population off")
    first, last = WORLDPOP_YEARS
    if not first <= int(year) <= last:
        raise ConfigError(f"WorldPop years are {first}–{last}, got {year} / WorldPop 年份无效")
    frame = _boundary_frame(boundary)
    area = padded_area(frame, buffer_m)
    url = population_url or WORLDPOP_URL.format(year=int(year))
    result = FetchResult(folder=Path(out_dir))
    steps = network + population
    with output_folder(out_dir, command="fetch", overwrite=overwrite) as staged:
        if network:
            import osmnx as ox

            _say(progress, 0.0, f"下载路网 / downloading streets from {ox.settings.overpass_url}")
            with _osmnx_cache():
                try:
                    graph = ox.graph_from_polygon(
                        area, network_type="all", retain_all=True, truncate_by_edge=True
                    )
                except Exception as exc:  # osmnx raises several kinds (HTTP, empty response)
                    raise InputError(
                        f"下载路网失败 / downloading the streets failed ({type(exc).__name__}: "
                        f"{exc}); check the connection or cut from an extract: --pbf FILE"
                    ) from exc
            ox.save_graphml(graph, staged.path / GRAPHML_FILE)
            result.files["network"] = result.folder / GRAPHML_FILE
            result.sources.append(
                _source("network", staged.path / GRAPHML_FILE, ox.settings.overpass_url, OSM)
                | {
                    "buffer_m": buffer_m,
                    "counts": {"nodes": graph.number_of_nodes(), "edges": graph.number_of_edges()},
                }
            )
            result.notes.append(
                f"路网：从 Overpass 下载 {graph.number_of_edges():,} 条边 / network: "
                f"{graph.number_of_edges():,} edges downloaded from {ox.settings.overpass_url}"
            )
        if population:
            _say(progress, network / steps, f"下载人口栅格 / reading {url}")
            name = Path(url.split("?")[0]).name or "population.tif"
            if not name.lower().endswith((".tif", ".tiff")):
                name += ".tif"
            import rasterio

            try:
                # no directory listing or side-car probes: only the file's own byte ranges
                with rasterio.Env(GDAL_DISABLE_READDIR_ON_OPEN="EMPTY_DIR"):
                    stats = cut_raster(f"/vsicurl/{url}", area, staged.path / name)
            except InputError as exc:
                raise InputError(
                    f"{exc}; 检查网络或下载地址 / check the connection and the URL, or cut from a "
                    "raster you have: --raster FILE"
                ) from exc
            result.files["population"] = result.folder / name
            result.sources.append(
                _source("population", staged.path / name, url, _population_credit(Path(name)))
                | {"buffer_m": buffer_m, "raster": stats}
            )
            result.notes.append(
                f"人口：{name} 的 {stats['kept_cells']:,} 个栅格 / population: "
                f"{stats['kept_cells']:,} cells of {name} ({stats['kind']})"
            )
        _write_sources(staged.path, result)
    _say(progress, 1.0, f"完成 / done: {', '.join(result.files)} in {result.folder}")
    return result


@contextlib.contextmanager
def _osmnx_cache():
    """osmnx's response cache in geoplan's cache folder (not ``./cache`` of the working
    directory) unless the user set one."""
    import osmnx as ox

    from .._paths import cache_dir

    default = ox.settings.cache_folder in ("./cache", "cache")
    before = ox.settings.cache_folder
    if default:
        ox.settings.cache_folder = str(cache_dir() / "overpass")
    try:
        yield
    finally:
        ox.settings.cache_folder = before


# --------------------------------------------------------------------------- a project

INPUTS_FOLDER = "inputs"
"""The folder :func:`fetch_project` writes inside a project folder."""


def fetch_project(
    project: str | Path,
    *,
    pbf: str | Path | None = None,
    raster: str | Path | None = None,
    online: bool = False,
    buffer_m: float = DEFAULT_BUFFER_M,
    network: bool = True,
    population: bool = True,
    units: bool = False,
    units_level: int | None = None,
    population_url: str | None = None,
    year: int = DEFAULT_WORLDPOP_YEAR,
    overwrite: bool = False,
    progress: Progress | None = None,
) -> FetchResult:
    """Cut (``pbf``/``raster``) or download (``online=True``) a project's inputs and point its
    ``project.toml`` at them.

    ``project`` is a project folder (its ``project.toml``) or a project TOML file; its
    ``[boundary]`` is the area. The files go into ``PROJECT/inputs/`` (a result folder:
    ``overwrite`` replaces an earlier fetch), then ``[network]``, ``[demand]`` and, with
    ``units``, ``[units]`` get ``path`` and ``credit`` (a table written commented out by
    ``geoplan init`` is switched on); every other line and comment stays. The tables set are
    checked against the project schema before the file is replaced (only they: a project the
    app is still filling in, without ``[[rules]]`` yet, can be fetched for).
    """
    toml_path = Path(project)
    if toml_path.is_dir():
        toml_path = toml_path / "project.toml"
    if not toml_path.is_file():
        raise InputFileNotFoundError(
            f"项目文件不存在 / project file not found: {toml_path} (make one with geoplan init)"
        )
    data = _io.read_toml(toml_path)
    boundary_table = data.get("boundary") or {}
    if "path" not in boundary_table:
        raise ConfigError(
            f"{toml_path.name}: 没有 [boundary] path / no [boundary] path: fetch needs the area's "
            "polygon (geoplan init writes it)"
        )
    boundary = _resolve(toml_path, boundary_table["path"])
    out_dir = toml_path.parent / INPUTS_FOLDER
    offline = pbf is not None or raster is not None
    if offline and online:
        raise ConfigError(
            "--online 与 --pbf/--raster 不能同用 / --online downloads; --pbf/--raster cut "
            "offline: choose one"
        )
    if offline:
        result = cut_inputs(
            boundary,
            out_dir,
            pbf=pbf,
            raster=raster if population else None,
            buffer_m=buffer_m,
            network=network,
            units=units,
            units_level=units_level,
            overwrite=overwrite,
            progress=progress,
        )
    else:
        result = fetch_inputs(
            boundary,
            out_dir,
            buffer_m=buffer_m,
            network=network,
            population=population,
            population_url=population_url,
            year=year,
            online=online,
            overwrite=overwrite,
            progress=progress,
        )
    tables: dict[str, dict[str, str]] = {}
    for source in result.sources:
        rel = f"{INPUTS_FOLDER}/{source['file']}"
        if source["kind"] == "network" and network:
            tables["network"] = {"path": rel, "credit": source["credit"]}
        elif source["kind"] == "population":
            tables["demand"] = {"path": rel, "credit": source["credit"]}
        elif source["kind"] == "units":
            tables["units"] = {
                "path": rel,
                "name_column": "name",
                "code_column": "code",
                "level": "township",
                "credit": source["credit"],
            }
    text = toml_path.read_text(encoding="utf-8")
    for table, values in tables.items():
        text = set_table_keys(text, table, values)
    from .. import schema
    from . import config

    edited = _toml_loads(text, toml_path)
    for table in tables:  # the tables the fetch set; the rest is the planner's, as it was (a
        # project of `geoplan serve` has no [[rules]] until its rules step: still fetched for)
        schema.check_table(
            config.PROJECT_FILE.table(table), edited[table], file=toml_path.name, label=f"[{table}]"
        )
    _io.write_text(toml_path, text)
    result.project = toml_path
    result.notes.append(
        f"{toml_path.name} 已指向新文件 / {toml_path.name} now reads "
        + ", ".join(f"[{t}] {v['path']}" for t, v in tables.items())
    )
    return result


def _resolve(toml_path: Path, value: str) -> Path:
    """A path of a project file: ``geoplan:…``, ``shared:…``, absolute or relative to it."""
    from .._paths import prefixed_path

    special = prefixed_path(str(value))
    if special is not None:
        return special
    path = Path(value)
    return path if path.is_absolute() else toml_path.parent / path


def _toml_loads(text: str, path: Path) -> dict:
    import tomllib

    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:  # pragma: no cover - set_table_keys writes TOML
        raise ConfigError(f"{path.name}: {exc}") from exc


_HEADER = re.compile(r"^(#\s*)?\[([A-Za-z_][\w.]*)\]\s*$")


def _toml_value(value: object) -> str:
    """A string, number or flat mapping as a TOML value (a mapping as an inline table)."""
    if isinstance(value, dict):
        pairs = (f"{_toml_value(str(k))} = {_toml_value(v)}" for k, v in value.items())
        return "{" + ", ".join(pairs) + "}"
    return json.dumps(value, ensure_ascii=False)


def set_table_keys(text: str, table: str, values: dict[str, str | dict | None]) -> str:
    """``text`` (a TOML file) with ``key = "value"`` set in ``[table]``, comments kept; a key
    whose value is None is removed (its line commented out), one whose value is a mapping is
    written as an inline table.

    A key already set is replaced; one written commented out (``# key = …``, as
    ``geoplan init`` writes every optional key) is replaced by the active line in its place;
    any other is added under the heading. A heading written commented out (``# [units]``) is
    switched on; a table that is missing is appended at the end. A table written as the one
    element of an array (``[[facilities]]``) is that element.
    """
    lines = text.splitlines()
    elements = [i for i, line in enumerate(lines) if line.strip() == f"[[{table}]]"]
    if len(elements) > 1:
        raise ValueError(f"[[{table}]] has {len(elements)} elements; one table is edited at once")
    start = elements[0] if elements else None
    for i, line in enumerate(lines if start is None else ()):
        match = _HEADER.match(line.strip())
        if match and match.group(2) == table:
            start = i
            if match.group(1) is None:
                break  # an active heading wins over a commented one
    if start is None:
        lines += ["", f"[{table}]"]
        start = len(lines) - 1
    if not elements:
        lines[start] = f"[{table}]"
    end = len(lines)
    for j in range(start + 1, len(lines)):
        stripped = lines[j].strip()
        if stripped.startswith(("[", "# ---- [")):
            end = j
            break
    pending = dict(values)
    for j in range(start + 1, end):
        match = re.match(r"^(#\s*)?([A-Za-z_]\w*)\s*=", lines[j].strip())
        if match and match.group(2) in pending:
            key = match.group(2)
            if pending[key] is None:  # removed: an active line is commented out
                if match.group(1) is None:
                    lines[j] = f"# {lines[j].strip()}"
            elif match.group(1) is None or all(
                not re.match(rf"^{key}\s*=", lines[k].strip()) for k in range(start + 1, end)
            ):
                lines[j] = f"{key} = {_toml_value(pending.pop(key))}"
    added = [f"{k} = {_toml_value(v)}" for k, v in pending.items() if v is not None]
    lines[start + 1 : start + 1] = added
    return "\n".join(lines) + "\n"
