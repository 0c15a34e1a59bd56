"""Administrative areas from an OSM extract: township (乡镇/街道) units where no unit file exists.

OSM maps China's divisions as ``boundary=administrative`` relations with an ``admin_level``:
4 province, 5 prefecture, 6 county, **8 township** (乡、镇、街道; the level geoplan uses by
default), 10 village or community where mapped. Levels differ elsewhere (Andorra's parishes are
7). :func:`admin_areas` assembles every such relation (and closed way) of a file into polygons
with pyosmium's area handler, which joins the member ways into multipolygons; a relation whose
ways are not all in the extract cannot be built and is named in the notes, never dropped
silently. :func:`township_units` keeps the areas of one level that lie inside a study area.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from pathlib import Path

import geopandas as gpd
import numpy as np
import shapely

from ..errors import InputError, InputFileNotFoundError

__all__ = ["DEFAULT_ADMIN_LEVEL", "admin_areas", "township_units"]

logger = logging.getLogger(__name__)

DEFAULT_ADMIN_LEVEL = 8
"""OSM ``admin_level`` of China's township-level divisions (乡、镇、街道)."""

MIN_INSIDE_SHARE = 0.5
"""An area belongs to a study area when at least this share of it lies inside."""

_CODE_TAGS = ("ref:admin:CN:mca", "ref:admin:CN", "ref:admin:CN:nbs", "ref")
_NAME_TAGS = ("name:zh", "name", "name:zh-Hans")


def admin_areas(
    path: str | os.PathLike[str], *, admin_levels: Sequence[int] | None = None
) -> tuple[gpd.GeoDataFrame, list[dict]]:
    """Every ``boundary=administrative`` area of an OSM file (XML, ``.bz2``/``.gz``, PBF).

    Parameters
    ----------
    path
        The OSM file.
    admin_levels
        Keep only these levels (default: all).

    Returns
    -------
    (GeoDataFrame, list of dict)
        ``osm_id`` (``r<id>`` for relations, ``w<id>`` for closed ways), ``name``, ``code``
        (``ref:admin:CN:mca``, ``ref:admin:CN`` …, else the OSM id), ``admin_level`` (int),
        ``geometry`` (MultiPolygon, EPSG:4326); and the relations of those levels that could
        not be built from the extract (``osm_id``, ``name``, ``admin_level``: their member
        ways are not all in it).
    """
    import osmium

    path = Path(path)
    if not path.is_file():
        raise InputFileNotFoundError(f"OSM 文件不存在 / OSM file not found: {path}")
    wanted = None if admin_levels is None else {int(level) for level in admin_levels}
    factory = osmium.geom.WKBFactory()
    rows: list[dict] = []
    relations: dict[int, tuple[str, int]] = {}
    try:
        processor = osmium.FileProcessor(str(path)).with_areas(
            osmium.filter.TagFilter(("boundary", "administrative"))
        )
        processor = processor.with_filter(osmium.filter.TagFilter(("boundary", "administrative")))
        for obj in processor:
            level = _level(obj.tags.get("admin_level"))
            if level is None or (wanted is not None and level not in wanted):
                continue
            if obj.is_relation():
                relations[obj.id] = (_name(obj.tags), level)
            elif obj.is_area():
                try:
                    geometry = shapely.from_wkb(factory.create_multipolygon(obj))
                except RuntimeError as exc:  # osmium could not close the rings
                    logger.info("area %s not built: %s", obj.orig_id(), exc)
                    continue
                kind = "w" if obj.from_way() else "r"
                rows.append(
                    {
                        "osm_id": f"{kind}{obj.orig_id()}",
                        "name": _name(obj.tags),
                        "code": _code(obj.tags) or f"osm-{kind}{obj.orig_id()}",
                        "admin_level": level,
                        "geometry": geometry,
                    }
                )
    except RuntimeError as exc:  # a damaged or unknown file
        raise InputError(f"无法读取 OSM 文件 / cannot read OSM file {path.name}: {exc}") from exc
    built = {int(r["osm_id"][1:]) for r in rows if r["osm_id"].startswith("r")}
    incomplete = [
        {"osm_id": f"r{i}", "name": relations[i][0], "admin_level": relations[i][1]}
        for i in sorted(set(relations) - built)
    ]
    frame = gpd.GeoDataFrame(
        rows or None,
        columns=["osm_id", "name", "code", "admin_level", "geometry"],
        geometry="geometry",
        crs="EPSG:4326",
    )
    return frame, incomplete


def township_units(
    path: str | os.PathLike[str],
    boundary: gpd.GeoDataFrame,
    *,
    admin_level: int = DEFAULT_ADMIN_LEVEL,
) -> tuple[gpd.GeoDataFrame, list[str]]:
    """The areas of one ``admin_level`` of an OSM file that lie inside ``boundary``.

    An area is inside when at least :data:`MIN_INSIDE_SHARE` of it lies in the boundary (OSM
    outlines and the county polygon never match exactly, so neighbours overlap a little);
    areas are kept whole, not cut. The notes say how much of the boundary the units cover
    (residents outside every unit are reported as such by a run) and which relations could
    not be built.

    Raises
    ------
    InputError
        No area of that level lies inside; the message lists the levels that do.
    """
    areas, incomplete = admin_areas(path)
    if boundary.crs is None:
        raise InputError("边界没有坐标系 / the boundary has no coordinate system")
    metric = boundary.to_crs(4326).estimate_utm_crs()
    outline = shapely.union_all(boundary.to_crs(metric).geometry.to_numpy())

    def inside(frame: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
        """The areas at least MIN_INSIDE_SHARE inside the boundary."""
        shapes = frame.to_crs(metric).geometry.to_numpy()
        share = shapely.area(shapely.intersection(shapes, outline)) / np.maximum(
            shapely.area(shapes), 1e-9
        )
        return frame[np.asarray(share) >= MIN_INSIDE_SHARE]

    units = inside(areas[areas["admin_level"] == admin_level]).reset_index(drop=True)
    name = Path(path).name
    notes = _incomplete_note(name, [r for r in incomplete if r["admin_level"] == admin_level])
    if units.empty:  # which levels would do: only now are the other levels' areas cut
        levels = inside(areas)["admin_level"].value_counts().sort_index()
        found = ", ".join(f"{level} ({count})" for level, count in levels.items()) or "none"
        raise InputError(
            f"{name} 在边界内没有 admin_level={admin_level} 的行政区 / {name} has no "
            f"admin_level={admin_level} administrative area inside the boundary; levels inside "
            f"(areas): {found}. Choose one of them, or give a unit file"
        )
    covered = _covered_share(units.to_crs(metric), outline)
    notes.append(
        f"{len(units)} 个乡镇级单元取自 {name}（admin_level={admin_level}），覆盖边界面积的 "
        f"{covered:.1%} / {len(units)} units from {name} (admin_level={admin_level}) cover "
        f"{covered:.1%} of the boundary's area"
        + (
            "; residents outside every unit are reported as outside all units / "
            "单元外的居民单列为“不在任何单元内”"
            if covered < 0.99
            else ""
        )
    )
    return units, notes


def _incomplete_note(name: str, incomplete: list[dict]) -> list[str]:
    if not incomplete:
        return []
    named = ", ".join(f"{r['name'] or '?'} ({r['osm_id']})" for r in incomplete[:10])
    more = f" … (+{len(incomplete) - 10})" if len(incomplete) > 10 else ""
    level = incomplete[0]["admin_level"]
    return [
        f"{name} 中 {len(incomplete)} 个 admin_level={level} 的行政区关系不完整（成员路段不全），"
        f"未能生成，可能位于边界外 / {len(incomplete)} admin_level={level} relation(s) of {name} "
        f"are incomplete in the extract and could not be built (they may lie outside the "
        f"boundary): {named}{more}"
    ]


def _covered_share(units: gpd.GeoDataFrame, outline: shapely.Geometry) -> float:
    union = shapely.union_all(units.geometry.to_numpy())
    return float(shapely.area(shapely.intersection(union, outline)) / shapely.area(outline))


def _level(value: object) -> int | None:
    try:
        return int(str(value).strip())
    except (TypeError, ValueError):
        return None


def _name(tags) -> str:
    for key in _NAME_TAGS:
        value = tags.get(key)
        if value:
            return str(value)
    return ""


def _code(tags) -> str:
    for key in _CODE_TAGS:
        value = tags.get(key)
        if value:
            return str(value)
    return ""
