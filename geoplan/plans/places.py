"""The places of the five health plans: their polygons, names and plans.

geoplan ships one WGS84/CGCS2000 polygon for each of 13 counties, districts and cities named
by the plans (``data/boundaries/targets_admin_tianditu_wgs84.geojson``, copied from the shared
data; source and licence in ``data/boundaries/README.md``): 钦州市 and its
钦南区/钦北区/灵山县/浦北县, 北海市 and its 海城区/银海区/铁山港区/合浦县, 潮州市湘桥区, 平罗县
and 乐山市市中区, each with the plan that names it (:func:`plan_of`: title, file and rule
pack). ``geoplan init`` (:mod:`geoplan.workflows.init`) makes a project folder for one of them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import geopandas as gpd
import pandas as pd

from .._paths import shipped_path
from ..errors import ConfigError
from ..taxonomy import normalize_text

__all__ = [
    "BOUNDARY_FILE",
    "Plan",
    "available_places",
    "english_name",
    "find_place",
    "place_boundary",
    "plan_of",
]

BOUNDARY_FILE = "boundaries/targets_admin_tianditu_wgs84.geojson"
"""The 13 polygons, relative to geoplan's shipped data (WGS84/CGCS2000; never the GCJ-02 file)."""

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
class Plan:
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

_PLANS: dict[str, Plan] = {
    "4507": Plan(
        "Q",
        "钦州市卫生健康发展“十四五”规划（2021—2025）",
        "qinzhou_2021-2025.txt",
        "issued 2023-01-06 (钦政发〔2023〕1号)",
        _FITNESS_15.format(quote="打造具有创新活力的“15分钟健身圈”", where="钦州 plan, Q L321"),
        "qinzhou",
    ),
    "4505": Plan(
        "B",
        "北海市卫生与健康“十三五”规划（2016—2020）",
        "beihai_2016-2020.txt",
        "13th Five-Year plan, expired",
        _PRIMARY_30,
        "beihai",
    ),
    "445102": Plan(
        "X",
        "湘桥区卫生健康事业发展“十四五”规划（征求意见稿）",
        "chaozhou_xiangqiao_2021-2025_draft.txt",
        "draft for comment, 2022-10",
        _FITNESS_15.format(quote="努力构建全区15分钟健身圈", where="湘桥区 plan, X L333"),
        "xiangqiao",
    ),
    "640221": Plan(
        "P",
        "平罗县卫生健康事业发展“十四五”规划（2021—2025年）",
        "pingluo_2021-2025.txt",
        "no issuer or date in the file",
        _PINGLUO,
        "pingluo",
    ),
    "511102": Plan(
        "L",
        "乐山市市中区“十四五”卫生健康发展规划（征求意见稿）",
        "leshan_shizhong_2021-2025_draft.txt",
        "draft",
        _MEDICAL_15,
        "leshan_shizhong",
    ),
}


def plan_of(adcode: str) -> Plan:
    """The plan of the place with this adcode (a county's own plan, else its city's)."""
    return _PLANS.get(adcode) or _PLANS[adcode[:4]]


def english_name(adcode: str, default: str = "") -> str:
    """The English name of one of the places (``default`` for any other adcode)."""
    return _ENGLISH.get(adcode, default)


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
    """The places geoplan knows (``geoplan init`` makes a project for each).

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
            "name_en": english_name(code, name),
            "plan": plan_of(code).file,
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
