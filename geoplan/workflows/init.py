"""``geoplan init``: a project folder for one of the plans' places, or for any boundary.

The folder holds the boundary, a fully commented ``project.toml`` (the schema's template with
the place's plan rules, to be checked) and an empty facility table with the Chinese headers
geoplan reads. No township (乡镇/街道) or village polygons exist in geoplan's data for the
plans' places: such a project reports coverage for the whole county until the planner adds a
``[units]`` layer of their own.
"""

from __future__ import annotations

import json
from pathlib import Path

import geopandas as gpd
import pandas as pd

from .. import _io
from ..errors import ConfigError
from ..plans.places import BOUNDARY_FILE, english_name, place_boundary, plan_of
from ..results import output_folder
from .config import project_template

__all__ = ["INIT_FILES", "TEMPLATE_HEADERS", "init_from_boundary", "init_project"]

BOUNDARY_NAME = "boundary.geojson"
INIT_FILES: tuple[str, ...] = (BOUNDARY_NAME, "project.toml", "facilities_template.csv")
"""Files :func:`init_project` and :func:`init_from_boundary` write."""

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


def init_project(place: str, out_dir: str | Path, *, overwrite: bool = False) -> dict[str, Path]:
    """Create a project folder for one of the plans' places.

    Writes ``boundary.geojson`` (the polygon, WGS84, with name and adcode), ``project.toml``
    (a commented template: the boundary, placeholders for the planner's road network,
    population and facilities, and the rules of that place's plan marked as to be checked)
    and ``facilities_template.csv`` (UTF-8 with BOM, only the header
    :data:`TEMPLATE_HEADERS`).

    Parameters
    ----------
    place : str
        Name or adcode (see :func:`find_place`).
    out_dir : path
        Folder to create (or fill).
    overwrite : bool, default False
        Replace what an earlier ``init`` wrote there (its manifest lists it; the planner's
        own files stay).

    Returns
    -------
    dict
        File name → path of each file written.

    Raises
    ------
    ConfigError
        Unknown or ambiguous place.
    OutputExistsError
        The folder holds an earlier result and ``overwrite`` is False.
    """
    boundary = place_boundary(place)
    return _write_init(out_dir, boundary, _project_toml(boundary.iloc[0]), overwrite=overwrite)


def _write_init(
    out_dir: str | Path,
    boundary: gpd.GeoDataFrame,
    project_text: str,
    *,
    overwrite: bool,
    inputs: tuple[Path, ...] = (),
) -> dict[str, Path]:
    """Write the :data:`INIT_FILES` as one result (an earlier ``init`` replaced only with
    ``overwrite``; see :mod:`geoplan.results`)."""
    out_dir = Path(out_dir)
    features = json.loads(boundary.to_json(drop_id=True, ensure_ascii=False))
    with output_folder(out_dir, command="init", overwrite=overwrite, inputs=inputs) as staged:
        _io.write_text(
            staged.path / BOUNDARY_NAME,
            json.dumps(features, ensure_ascii=False, indent=1) + "\n",
        )
        _io.write_text(staged.path / "project.toml", project_text)
        _io.write_text(
            staged.path / "facilities_template.csv",
            ",".join(TEMPLATE_HEADERS) + "\n",
            encoding="utf-8-sig",
        )
    return {name: out_dir / name for name in INIT_FILES}


def _project_toml(row: pd.Series) -> str:
    """The commented project file of one place (the schema's template with the plan's rules)."""
    plan = plan_of(str(row["adcode"]))
    name, code = str(row["name"]), str(row["adcode"])
    name_en = english_name(code, name)
    header = [
        f"geoplan project: {row['full_name']} ({name_en}), adcode {code}.",
        "Created by `geoplan init`. Fill in the three inputs marked TODO, check the rules,",
        "then run:",
        "    geoplan run project.toml --out result",
        "Every table and key is listed with its meaning, range and default (docs/project-file.md);",
        "keys commented out take their default. Relative paths are relative to this file;",
        '"geoplan:..." names a file shipped with geoplan, "shared:..." one of the shared data.',
    ]
    values = {
        "project": {
            "area": name,
            "area_en": name_en,
            "notes_zh": [f"规则取自{plan.title}；规划未说明的参数（如出行方式）须核对。"],
            "notes_en": [
                f"Rules from the {name} plan ({plan.file}); travel mode and other unstated "
                "values: to check."
            ],
        },
        "boundary": {"path": BOUNDARY_NAME},
    }
    comments = {
        "boundary": [
            f"The {name} polygon (WGS84/CGCS2000), simplified, from {row['source']},",
            f"as shipped with geoplan (data/{BOUNDARY_FILE}).",
            "It is a simplified outline: check it against the official boundary before reporting.",
        ],
        "units": [
            f"None are available in geoplan's data for {name}: without them coverage is for the "
            "whole area.",
        ],
        **_TODO_COMMENTS,
    }
    rules = (
        f"# ---- Rules from the {name} plan: {plan.title}\n"
        f"# ({plan.status}; shared data plans/source/{plan.file}). TO CHECK before reporting.\n"
        "# The plan's presence rules and ratios are checked by: geoplan check project.toml "
        f"--plan {plan.pack}\n\n{plan.rules}"
    )
    return project_template(header=header, values=values, comments=comments, rules=rules)


_TODO_COMMENTS = {
    "network": ["TODO: your road network (e.g. a Geofabrik extract clipped to the boundary)."],
    "demand": ["TODO: where people live (e.g. a WorldPop or GHS-POP raster of the area)."],
    "facilities": [
        "TODO: your facility records. facilities_template.csv has the headers geoplan reads",
        f"({', '.join(TEMPLATE_HEADERS)}).",
        "坐标系 per row: WGS84, CGCS2000, GCJ-02 (高德/腾讯), BD-09 (百度) or an EPSG code;",
        "empty = the crs key. Rows without coordinates are rejected unless [geocode] places them.",
    ],
}


def init_from_boundary(
    boundary: str | Path,
    out_dir: str | Path,
    *,
    name: str | None = None,
    overwrite: bool = False,
) -> dict[str, Path]:
    """Create a blank project folder for any area from a polygon file the user gives.

    Writes ``boundary.geojson`` (the polygons in WGS84 with ``name`` and ``code``),
    ``project.toml`` (every table and key of :data:`geoplan.workflows.config.PROJECT_FILE` with its
    meaning, range and default as comments; one example rule to replace) and
    ``facilities_template.csv``. A layer of several polygons is also the ``[units]`` (one unit
    per polygon). ``name`` defaults to the polygon's name (one polygon) or the file's stem.
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
        "rules": [
            "EXAMPLE / 示例: a 15-minute walk to a medical facility. Replace it with your plan's",
            "circles (geoplan/data/packs/ holds the rules of five plans, with citations).",
        ],
        **_TODO_COMMENTS,
    }
    if len(frame) > 1:
        values["units"] = {"path": BOUNDARY_NAME, "name_column": "name", "code_column": "code"}
        comments["units"] = [f"Each of the {len(frame)} polygons of {source.name} is a unit."]
    text = project_template(header=header, values=values, comments=comments)
    return _write_init(out_dir, frame, text, overwrite=overwrite, inputs=(source,))
