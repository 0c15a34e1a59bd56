"""The places of the five health plans, and ``geoplan init`` for a new project there.

geoplan ships one WGS84/CGCS2000 polygon for each of 13 counties, districts and cities named
by the plans (``data/boundaries/targets_admin_tianditu_wgs84.geojson``, copied from the shared
data; source and licence in ``data/boundaries/README.md``): 钦州市 and its
钦南区/钦北区/灵山县/浦北县, 北海市 and its 海城区/银海区/铁山港区/合浦县, 潮州市湘桥区, 平罗县
and 乐山市市中区. :func:`init_project` writes a project folder for one of them: the boundary,
a commented ``project.toml`` with the rules of that place's plan (to be checked), and an empty
facility table with the Chinese headers geoplan reads.

No township (乡镇/街道) or village polygons exist in geoplan's data for these places; the
project therefore reports coverage for the whole county only until the planner adds a
``[units]`` layer of their own.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import pandas as pd

from .. import _io
from .._paths import shipped_path
from ..errors import ConfigError
from ..results import output_folder
from ..taxonomy import normalize_text
from ..workflows.config import project_template

__all__ = [
    "BOUNDARY_FILE",
    "INIT_FILES",
    "TEMPLATE_HEADERS",
    "available_places",
    "find_place",
    "init_from_boundary",
    "init_project",
    "place_boundary",
]

BOUNDARY_FILE = "boundaries/targets_admin_tianditu_wgs84.geojson"
"""The 13 polygons, relative to geoplan's shipped data (WGS84/CGCS2000; never the GCJ-02 file)."""

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

# Parents of the 13 places (adcode prefixes), for full names such as 乐山市市中区.
_PROVINCES = {"44": "广东省", "45": "广西壮族自治区", "51": "四川省", "64": "宁夏回族自治区"}
_PREFECTURES = {
    "4451": "潮州市",
    "4505": "北海市",
    "4507": "钦州市",
    "5111": "乐山市",
    "6402": "石嘴山市",
}
_ENGLISH = {
    "450700": "Qinzhou",
    "450702": "Qinnan District, Qinzhou",
    "450703": "Qinbei District, Qinzhou",
    "450721": "Lingshan County, Qinzhou",
    "450722": "Pubei County, Qinzhou",
    "450500": "Beihai",
    "450502": "Haicheng District, Beihai",
    "450503": "Yinhai District, Beihai",
    "450512": "Tieshangang District, Beihai",
    "450521": "Hepu County, Beihai",
    "445102": "Xiangqiao District, Chaozhou",
    "640221": "Pingluo County, Shizuishan",
    "511102": "Shizhong District, Leshan",
}


@dataclass(frozen=True)
class _Plan:
    """What one plan asks for, as project rules (see plans/plans_digest.md)."""

    code: str
    title: str
    file: str
    status: str
    rules: str  # TOML text of the [[rules]] tables, with comments
    pack: str  # id of the plan's rule pack (geoplan check --plan)


_MEDICAL_15 = """\
# From the plan: "居民15分钟到达医疗卫生机构的比例达到100%" (2025 target, 乐山市市中区 plan L44).
# TO CHECK / 待核对: the plan names no travel mode; walking is assumed here. Change mode to
# "bike" or "drive" if the district means another mode. "医疗卫生机构" is undefined in the plan:
# "medical" counts every hospital, health centre, clinic and village clinic.
[[rules]]
id = "medical_walk_15"
name_zh = "居民15分钟到达医疗卫生机构"
name_en = "Medical facility within 15 minutes"
categories = ["medical"]
mode = "walk"
threshold_min = 15
target_share = 1.0

# The plan also wants a "15分钟可及圈" for TCM (L148) without a number; uncomment to check it.
# Only TCM hospitals and clinics are a category: 中医馆 inside health centres are not
# separate records.
# [[rules]]
# id = "tcm_walk_15"
# name_zh = "中医服务15分钟可及圈"
# name_en = "TCM service within 15 minutes"
# categories = ["tcm_hospital", "tcm_clinic"]
# mode = "walk"
# threshold_min = 15
"""

_PRIMARY_30 = """\
# From the plan: "打造30分钟基层医疗服务圈" (北海 13th Five-Year plan, B L333). The plan covers
# 2016–2020: its targets have expired; check the current plan before reporting.
# TO CHECK / 待核对: the plan names no travel mode and no target share; walking is assumed here
# (30 minutes of driving is a very different circle). "基层医疗卫生机构" = township hospitals,
# community health centres and stations, village clinics.
[[rules]]
id = "primary_care_30"
name_zh = "30分钟基层医疗服务圈"
name_en = "Primary care within 30 minutes"
categories = [
    "central_township_hospital",
    "township_hospital",
    "community_hospital",
    "community_health_centre",
    "community_health_station",
    "village_clinic",
]
mode = "walk"
threshold_min = 30
"""

_FITNESS_15 = """\
# From the plan: "{quote}" ({where}). No target share is given.
# TO CHECK / 待核对: the plan names no travel mode; walking is assumed here.
[[rules]]
id = "fitness_walk_15"
name_zh = "15分钟健身圈"
name_en = "Fitness venue within a 15-minute walk"
categories = ["fitness"]
mode = "walk"
threshold_min = 15
"""

_PINGLUO = """\
# The 平罗县 plan sets NO travel-time goal (its rules are presence rules, e.g. standardised
# village clinics in 黄渠桥镇西润村, 灵沙乡西灵村, 红崖子乡水泉子村 and 王家沟村, P L577).
# EXAMPLE ONLY / 仅为示例, not from the plan: replace or delete this rule.
[[rules]]
id = "medical_walk_15"
name_zh = "15分钟步行可达医疗卫生机构（示例，非规划指标）"
name_en = "Medical facility within a 15-minute walk (example, not a plan target)"
categories = ["medical"]
mode = "walk"
threshold_min = 15
"""

_PLANS: dict[str, _Plan] = {
    "4507": _Plan(
        "Q",
        "钦州市卫生健康发展“十四五”规划（2021—2025）",
        "qinzhou_2021-2025.txt",
        "issued 2023-01-06 (钦政发〔2023〕1号)",
        _FITNESS_15.format(quote="打造具有创新活力的“15分钟健身圈”", where="钦州 plan, Q L321"),
        "qinzhou",
    ),
    "4505": _Plan(
        "B",
        "北海市卫生与健康“十三五”规划（2016—2020）",
        "beihai_2016-2020.txt",
        "13th Five-Year plan, expired",
        _PRIMARY_30,
        "beihai",
    ),
    "445102": _Plan(
        "X",
        "湘桥区卫生健康事业发展“十四五”规划（征求意见稿）",
        "chaozhou_xiangqiao_2021-2025_draft.txt",
        "draft for comment, 2022-10",
        _FITNESS_15.format(quote="努力构建全区15分钟健身圈", where="湘桥区 plan, X L333"),
        "xiangqiao",
    ),
    "640221": _Plan(
        "P",
        "平罗县卫生健康事业发展“十四五”规划（2021—2025年）",
        "pingluo_2021-2025.txt",
        "no issuer or date in the file",
        _PINGLUO,
        "pingluo",
    ),
    "511102": _Plan(
        "L",
        "乐山市市中区“十四五”卫生健康发展规划（征求意见稿）",
        "leshan_shizhong_2021-2025_draft.txt",
        "draft",
        _MEDICAL_15,
        "leshan_shizhong",
    ),
}


def _plan_of(adcode: str) -> _Plan:
    return _PLANS.get(adcode) or _PLANS[adcode[:4]]


def _level(name: str, adcode: str) -> str:
    if adcode.endswith("00"):
        return "city"
    return "county" if name.endswith(("县", "旗")) else "district"


def _full_name(name: str, adcode: str) -> str:
    parts = [_PROVINCES.get(adcode[:2], "")]
    if not adcode.endswith("00"):
        parts.append(_PREFECTURES.get(adcode[:4], ""))
    return "".join(parts) + name


def _read_boundaries() -> gpd.GeoDataFrame:
    frame = gpd.read_file(shipped_path(BOUNDARY_FILE))
    frame["adcode"] = frame["adcode"].astype(str)
    return frame


def available_places() -> pd.DataFrame:
    """The places :func:`init_project` knows.

    Returns
    -------
    pandas.DataFrame
        ``adcode``, ``name``, ``level`` (``city``, ``district`` or ``county``),
        ``full_name`` (with province and prefecture), ``name_en`` and ``plan`` (the plan's
        file in ``plans/source/``), one row per polygon of :data:`BOUNDARY_FILE`.
    """
    return _places(_read_boundaries())


def _places(frame: gpd.GeoDataFrame) -> pd.DataFrame:
    """:func:`available_places` of the polygons ``frame`` (as read by ``_read_boundaries``)."""
    rows = [
        {
            "adcode": code,
            "name": name,
            "level": _level(name, code),
            "full_name": _full_name(name, code),
            "name_en": _ENGLISH.get(code, name),
            "plan": _plan_of(code).file,
        }
        for code, name in zip(frame["adcode"], frame["name"], strict=True)
    ]
    return pd.DataFrame(rows).astype("str")


def _short(name: str) -> str:
    return re.sub(r"(自治县|县|区|市)$", "", name) if len(name) > 2 else name


def find_place(place: str) -> pd.Series:
    """The row of :func:`available_places` named by ``place``.

    ``place`` is an adcode (``"445102"``), a name (``"湘桥区"``, ``"平罗县"``), a full name
    (``"乐山市市中区"``, ``"宁夏回族自治区石嘴山市平罗县"``) or a short name (``"钦州"``,
    ``"湘桥"``).

    Raises
    ------
    ConfigError
        No place matches (the message lists the places), or several do (it lists those).
    """
    return _find(place, available_places())


def _find(place: str, places: pd.DataFrame) -> pd.Series:
    """:func:`find_place` among ``places`` (a table of :func:`available_places`)."""
    query = normalize_text(place)
    if not query:
        raise ConfigError("give a place name or adcode, e.g. 平罗县 or 640221")
    names = [normalize_text(n) for n in places["name"]]
    fulls = [normalize_text(f) for f in places["full_name"]]
    shorts = [normalize_text(_short(n)) for n in places["name"]]
    steps = (
        [c == query for c in places["adcode"]],
        [n == query for n in names],
        [f == query for f in fulls],
        [query.endswith(n) for n in names],  # with a parent: 潮州市湘桥区, 乐山市中区
        [s == query for s in shorts],  # 钦州, 湘桥, 平罗
        [query in n for n in names],  # part of a name: 钦 → 钦州市, 钦南区, 钦北区
    )
    for step in steps:
        hit = places[step]
        if len(hit) == 1:
            return hit.iloc[0]
        if len(hit) > 1:
            raise ConfigError(
                f"place {place!r} matches {len(hit)} places: {_listing(hit)}; give the full "
                "name or the adcode"
            )
    raise ConfigError(f"unknown place {place!r}; known places: {_listing(places)}")


def _listing(frame: pd.DataFrame) -> str:
    return ", ".join(f"{r.full_name} ({r.adcode})" for r in frame.itertuples())


def place_boundary(place: str) -> gpd.GeoDataFrame:
    """The polygon of one place (WGS84) with ``name``, ``adcode``, ``level`` and ``source``."""
    frame = _read_boundaries()  # read once: it gives the places and the polygon
    row = _find(place, _places(frame))
    hit = frame[frame["adcode"] == row["adcode"]]
    return gpd.GeoDataFrame(
        {
            "name": [row["name"]],
            "adcode": [row["adcode"]],
            "level": [row["level"]],
            "full_name": [row["full_name"]],
            "source": [str(hit["source"].iloc[0]) if "source" in hit else ""],
        },
        geometry=hit.geometry.to_numpy(),
        crs="EPSG:4326",
    )


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
    plan = _plan_of(str(row["adcode"]))
    name, code = str(row["name"]), str(row["adcode"])
    name_en = _ENGLISH.get(code, name)
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
