"""``geoplan init``: a project folder for any county, district or city of China, or any area.

:func:`init_project` writes, for a place found by :func:`geoplan.plans.places.find_place`,
the boundary, a commented ``project.toml`` (the place's plan rules when geoplan ships its plan,
else an example rule) and an empty facility table; township and 街道 units come from an OSM
extract's ``boundary=administrative`` relations when one is given
(:mod:`geoplan.readers.osm_admin`). :func:`init_from_boundary` does the same for a polygon
file the user gives.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import geopandas as gpd
import pandas as pd

from .. import _io
from ..errors import ConfigError
from ..plans.places import BOUNDARY_FILE, Place, find_place, place_boundary, plan_of
from ..readers.credits import OSM
from ..results import output_folder
from .config import project_template

__all__ = [
    "INIT_FILES",
    "TEMPLATE_HEADERS",
    "UNITS_NAME",
    "init_from_boundary",
    "init_project",
]

BOUNDARY_NAME = "boundary.geojson"
UNITS_NAME = "units.geojson"
INIT_FILES: tuple[str, ...] = (BOUNDARY_NAME, "project.toml", "facilities_template.csv")
"""Files :func:`init_project` and :func:`init_from_boundary` write (``units.geojson`` too when
townships come from an OSM extract)."""

TEMPLATE_HEADERS: tuple[str, ...] = (
    "编号",
    "名称",
    "类型",
    "经度",
    "纬度",
    "坐标系",
    "地址",
    "床位数",
    "执业(助理)医师数",
    "注册护士数",
)
"""Header of ``facilities_template.csv``
(read by :func:`geoplan.readers.facilities.read_facilities`)."""


def init_project(
    place: str | Place,
    out_dir: str | Path,
    *,
    overwrite: bool = False,
    units_osm: str | Path | None = None,
    units_level: int | None = None,
) -> dict[str, Path]:
    """Create a project folder for any county, district or city of China.

    Writes ``boundary.geojson`` (the polygon, WGS84, with name and adcode), ``project.toml``
    (a commented template: the boundary, placeholders for the planner's road network,
    population and facilities, and the rules of the place's plan marked as to be checked, or
    an example rule where geoplan ships no plan for the place) and
    ``facilities_template.csv`` (UTF-8 with BOM, only the header :data:`TEMPLATE_HEADERS`).
    With ``units_osm`` also ``units.geojson``: the township-level areas (乡镇/街道) of that OSM
    extract inside the boundary, which the project then reports coverage for.

    Parameters
    ----------
    place : str or Place
        Name or adcode (see :func:`find_place`), or a :class:`Place` from
        :func:`search_places`.
    out_dir : path
        Folder to create (or fill).
    overwrite : bool, default False
        Replace what an earlier ``init`` wrote there (its manifest lists it; the planner's
        own files stay).
    units_osm : path, optional
        An OSM extract (PBF or XML) holding the area's ``boundary=administrative`` relations.
    units_level : int, optional
        Their ``admin_level`` (default 8, China's townships; see
        :mod:`geoplan.readers.osm_admin`).

    Returns
    -------
    dict
        File name → path of each file written.

    Raises
    ------
    ConfigError
        Unknown or ambiguous place (:class:`AmbiguousPlaceError` lists the candidates).
    InputError
        ``units_osm`` holds no area of that level inside the boundary.
    OutputExistsError
        The folder holds an earlier result and ``overwrite`` is False.
    """
    found = place if isinstance(place, Place) else find_place(place)
    boundary = place_boundary(found)
    units, notes = _osm_units(units_osm, units_level, boundary)
    values, comments = _units_values(found.name, units_osm, notes)
    text = _project_toml(found, boundary.iloc[0], values, comments)
    inputs = () if units_osm is None else (Path(units_osm),)
    return _write_init(out_dir, boundary, text, overwrite=overwrite, units=units, inputs=inputs)


def _osm_units(
    units_osm: str | Path | None, units_level: int | None, boundary: gpd.GeoDataFrame
) -> tuple[gpd.GeoDataFrame | None, list[str]]:
    """The township units of an OSM extract inside ``boundary`` (None without an extract)."""
    if units_osm is None:
        if units_level is not None:
            raise ConfigError(
                "--units-level 需与 --units-osm 同用 / --units-level goes with --units-osm"
            )
        return None, []
    from ..readers.osm_admin import DEFAULT_ADMIN_LEVEL, township_units

    return township_units(units_osm, boundary, admin_level=units_level or DEFAULT_ADMIN_LEVEL)


def _units_values(
    name: str, units_osm: str | Path | None, notes: Sequence[str]
) -> tuple[dict[str, dict], dict[str, list[str]]]:
    """The ``[units]`` table of an init project and its comment lines."""
    if units_osm is None:
        return {}, {
            "units": [
                f"None are available in geoplan's data for {name}: without them coverage is for",
                "the whole area. `geoplan fetch . --pbf PROVINCE.osm.pbf --units` takes the",
                "townships (乡镇/街道: OSM boundary=administrative, admin_level 8) from an OSM",
                "extract, as `geoplan init … --units-osm EXTRACT.osm.pbf` does.",
            ]
        }
    values = {
        "units": {
            "path": UNITS_NAME,
            "name_column": "name",
            "code_column": "code",
            "level": "township",
            "credit": OSM,
        }
    }
    comments = {
        "units": [
            f"The township-level areas of {Path(units_osm).name} inside the boundary",
            "(OSM boundary=administrative relations, assembled by pyosmium):",
            *notes,
        ]
    }
    return values, comments


def _write_init(
    out_dir: str | Path,
    boundary: gpd.GeoDataFrame,
    project_text: str,
    *,
    overwrite: bool,
    units: gpd.GeoDataFrame | None = None,
    inputs: tuple[Path, ...] = (),
) -> dict[str, Path]:
    """Write the :data:`INIT_FILES` (and the units) as one result (an earlier ``init``
    replaced only with ``overwrite``; see :mod:`geoplan.results`)."""
    out_dir = Path(out_dir)
    layers = {BOUNDARY_NAME: boundary}
    if units is not None:
        layers[UNITS_NAME] = units[["name", "code", "admin_level", "osm_id", "geometry"]]
    with output_folder(out_dir, command="init", overwrite=overwrite, inputs=inputs) as staged:
        for name, layer in layers.items():
            features = json.loads(layer.to_json(drop_id=True, ensure_ascii=False))
            _io.write_text(
                staged.path / name, json.dumps(features, ensure_ascii=False, indent=1) + "\n"
            )
        _io.write_text(staged.path / "project.toml", project_text)
        _io.write_text(
            staged.path / "facilities_template.csv",
            ",".join(TEMPLATE_HEADERS) + "\n",
            encoding="utf-8-sig",
        )
    return {name: out_dir / name for name in (*INIT_FILES, *layers)}


def _project_toml(
    place: Place, row: pd.Series, units: dict[str, dict], units_comments: dict[str, list[str]]
) -> str:
    """The commented project file of one place (the schema's template with the plan's rules)."""
    plan = plan_of(place.adcode)
    name, code = place.name, place.adcode
    name_en = place.name_en or name
    header = [
        f"geoplan project: {place.full_name}"
        + (f" ({place.name_en})" if place.name_en else "")
        + f", adcode {code}.",
        "Created by `geoplan init`. Fill in the three inputs marked TODO, check the rules,",
        "then run:",
        "    geoplan run project.toml --out result",
        "Every table and key is listed with its meaning, range and default (docs/project-file.md);",
        "keys commented out take their default. Relative paths are relative to this file;",
        '"geoplan:..." names a file shipped with geoplan, "shared:..." one of the shared data.',
    ]
    project: dict = {"area": name, "area_en": name_en}
    if plan is not None:
        project["notes_zh"] = [f"规则取自{plan.title}；规划未说明的参数（如出行方式）须核对。"]
        project["notes_en"] = [
            f"Rules from the {name} plan ({plan.file}); travel mode and other unstated "
            "values: to check."
        ]
    values: dict[str, dict] = {
        "project": project,
        "boundary": {"path": BOUNDARY_NAME, "level": "city" if place.level == "city" else "county"},
    }
    comments: dict[str, list[str]] = {
        "boundary": [
            f"The {name} polygon (WGS84/CGCS2000), simplified, from {row['source']}"
            + (f", as shipped with geoplan (data/{BOUNDARY_FILE})." if plan else "."),
            "It is a simplified outline: check it against the official boundary before reporting.",
        ],
        **_TODO_COMMENTS,
    }
    values.update(units)
    comments.update(units_comments)
    if plan is not None:
        rules = (
            f"# ---- Rules from the {name} plan: {plan.title}\n"
            f"# ({plan.status}; shared data plans/source/{plan.file}). TO CHECK before reporting.\n"
            "# The plan's presence rules and ratios are checked by: geoplan check project.toml "
            f"--plan {plan.pack}\n\n{plan.rules}"
        )
        return project_template(header=header, values=values, comments=comments, rules=rules)
    comments["rules"] = _EXAMPLE_RULE_COMMENTS
    return project_template(header=header, values=values, comments=comments)


_TODO_COMMENTS = {
    "network": [
        "TODO: your road network (e.g. a Geofabrik extract clipped to the boundary).",
        "`geoplan fetch . --pbf PROVINCE.osm.pbf` cuts it from an extract you have;",
        "`geoplan fetch . --online` downloads it (OSM, Overpass API).",
    ],
    "demand": [
        "TODO: where people live (e.g. a WorldPop or GHS-POP raster of the area).",
        "`geoplan fetch . --raster NATIONAL.tif` cuts it from a raster you have;",
        "`geoplan fetch . --online` reads WorldPop's China raster for the area.",
    ],
    "facilities": [
        "TODO: your facility records. facilities_template.csv has the headers geoplan reads",
        f"({', '.join(TEMPLATE_HEADERS)}).",
        "坐标系 per row: WGS84, CGCS2000, GCJ-02 (高德/腾讯), BD-09 (百度) or an EPSG code;",
        "empty = the crs key. Rows without coordinates are rejected unless [geocode] places them.",
    ],
}

_EXAMPLE_RULE_COMMENTS = [
    "EXAMPLE / 示例: a 15-minute walk to a medical facility. Replace it with your plan's",
    "circles (geoplan/data/packs/ holds the rules of five plans, with citations).",
]


def init_from_boundary(
    boundary: str | Path,
    out_dir: str | Path,
    *,
    name: str | None = None,
    overwrite: bool = False,
    units_osm: str | Path | None = None,
    units_level: int | None = None,
) -> dict[str, Path]:
    """Create a blank project folder for any area from a polygon file the user gives.

    Writes ``boundary.geojson`` (the polygons in WGS84 with ``name`` and ``code``),
    ``project.toml`` (every table and key of :data:`geoplan.workflows.config.PROJECT_FILE` with its
    meaning, range and default as comments; one example rule to replace) and
    ``facilities_template.csv``. A layer of several polygons is also the ``[units]`` (one unit
    per polygon), unless ``units_osm`` gives the units (as in :func:`init_project`). ``name``
    defaults to the polygon's name (one polygon) or the file's stem.
    """
    from ..readers.boundaries import read_units

    source = Path(boundary)
    layer = read_units(source)
    if layer.crs is None:
        raise ConfigError(f"{source}: the boundary has no coordinate system; save it with one")
    layer = layer.to_crs(4326)
    area = (name or "").strip() or (
        str(layer["unit_name"].iloc[0]) if len(layer) == 1 else source.stem.split(".")[0]
    )
    frame = gpd.GeoDataFrame(
        {"name": layer["unit_name"].to_numpy(), "code": layer["unit_code"].to_numpy()},
        geometry=layer.geometry.to_numpy(),
        crs=4326,
    )
    header = [
        f"geoplan project: {area}, from the boundary {source.name}.",
        "Created by `geoplan init --boundary`. Fill in the inputs marked TODO, replace the example",
        "rule with your plan's, then run:",
        "    geoplan run project.toml --out result",
        "Every table and key is listed with its meaning, range and default (docs/project-file.md);",
        "keys commented out take their default. Relative paths are relative to this file.",
    ]
    values: dict[str, dict] = {
        "project": {"area": area, "area_en": area},
        "boundary": {"path": BOUNDARY_NAME},
    }
    comments = {
        "boundary": [f"The polygons of {source.name}, in WGS84."],
        "rules": _EXAMPLE_RULE_COMMENTS,
        **_TODO_COMMENTS,
    }
    units, notes = _osm_units(units_osm, units_level, frame)
    inputs: tuple[Path, ...] = (source,)
    if units is not None:
        osm_values, osm_comments = _units_values(area, units_osm, notes)
        values.update(osm_values)
        comments.update(osm_comments)
        inputs += (Path(units_osm),)
    elif len(frame) > 1:
        values["units"] = {"path": BOUNDARY_NAME, "name_column": "name", "code_column": "code"}
        comments["units"] = [f"Each of the {len(frame)} polygons of {source.name} is a unit."]
    text = project_template(header=header, values=values, comments=comments)
    return _write_init(out_dir, frame, text, overwrite=overwrite, units=units, inputs=inputs)
