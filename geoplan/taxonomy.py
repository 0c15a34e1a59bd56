"""The facility taxonomy (categories, tiers, groups) and the column names geoplan accepts.

Categories follow the facility vocabulary of the five local health plans (县级 → 乡镇/街道 →
村/社区; see ``plans_digest.md`` §5) plus the fitness venues of the 15-minute fitness circle.
Every category has one ``tier`` (its level in the county–township–village chain) and one
``group``:

* ``medical`` — every provider of health care to walk-in residents: hospitals of all kinds,
  community hospitals, township hospitals, community health centres and stations, village
  clinics, clinics and TCM clinics. A rule on ``medical`` is the plans' "医疗卫生机构".
* ``ems`` — EMS (120) centres and stations; ``public_health`` — CDCs, health inspection and
  blood stations. They do not treat walk-in residents, so they are **not** ``medical``; name
  them explicitly in a rule when needed.
* ``fitness`` — sports and fitness venues (全民健身中心 … 健身路径; commercial gyms too: the
  plans' public venues are the set ``public_fitness``).
* ``childcare`` — 托育机构 (the plans' 托位 per 1,000 and 托育中心 targets); ``elderly_care`` —
  养老机构 and 医养结合 centres. Neither treats walk-in patients: not ``medical``. The
  nucleic-acid sampling points of Q's walking 采样圈 are ``public_health``.

:data:`CATEGORY_SETS` names sets across the groups for the plans' own words: ``public_fitness``
(the public venues the fitness circles list), ``primary_care`` (基层医疗卫生机构 as the plans
list them: the township–village chain), ``primary_care_statistical`` (the health statistics'
基层医疗卫生机构, with 门诊部 and 诊所) and ``hospital``. A rule may name a category, a group or
a set.

Pharmacies, dental-only practices, veterinary and cosmetic clinics are known but deliberately
**not** categories (``EXCLUDED_TYPES``): records of those types are rejected with a message
that says why.

Text matching (categories and column headers) is done on a normalised form: Unicode NFKC
(full-width → half-width), case-folded, common traditional characters mapped to simplified
(醫院 → 医院), and spaces, brackets and punctuation removed.
"""

from __future__ import annotations

import difflib
import functools
import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

__all__ = [
    "CATEGORIES",
    "CATEGORY_SETS",
    "COLUMN_ALIASES",
    "EXCLUDED_TYPES",
    "GRADE_LEVELS",
    "GROUPS",
    "GROUP_LABELS",
    "OWNERSHIPS",
    "TIERS",
    "TIER_LABELS",
    "Category",
    "bilingual",
    "closest_alias",
    "excluded_type",
    "grade_level",
    "label",
    "match_columns",
    "normalize_text",
    "parse_grade",
    "parse_ownership",
    "resolve_category",
    "suggest_category",
]

# --------------------------------------------------------------------------- normalisation

# Traditional → simplified for the characters that occur in facility names, types and headers
# (Hong Kong, Macau and Taiwan data). Not a general converter.
_TRAD_SIMP_PAIRS = (
    "醫医 衛卫 門门 診诊 療疗 場场 館馆 體体 藥药 區区 務务 綜综 婦妇 兒儿 腫肿 傳传 結结 "
    "護护 復复 養养 鎮镇 鄉乡 縣县 級级 廣广 運运 動动 籃篮 徑径 遊游 園园 處处 預预 專专 "
    "齒齿 師师 數数 註注 冊册 號号 碼码 編编 稱称 類类 別别 經经 緯纬 詳详 細细 實实 執执 "
    "業业 標标 係系 單单 構构 機机 牀床 統统 職职 臨临 腦脑 產产 達达 總总 監监 檢检 驗验 "
    "測测 質质 導导 點点 線线 營营 樓楼 層层 綠绿 騎骑 獻献 寵宠 獸兽 設设 備备 訓训 練练 "
    "網网 車车 殘残 聯联 衆众 眾众 啓启 啟启"
)
_TRAD_SIMP = str.maketrans(
    "".join(p[0] for p in _TRAD_SIMP_PAIRS.split()), "".join(p[1] for p in _TRAD_SIMP_PAIRS.split())
)
# Spaces, brackets and punctuation dropped before matching (contents of brackets are kept).
_DROP = re.compile(
    r"[\s()\[\]{}<>【】《》〈〉「」『』〔〕_\-‐‑‒–—―·・.,，。、/\\|'\"‘’“”:：;；*#&+!?！？~`^]"
)


def normalize_text(text: object) -> str:
    """Normalise a category name or column header for matching.

    NFKC (full-width → half-width), case-fold, common traditional → simplified characters,
    then drop spaces, brackets (keeping their contents) and punctuation.
    """
    if text is None:
        return ""
    out = unicodedata.normalize("NFKC", str(text)).casefold().translate(_TRAD_SIMP)
    return _DROP.sub("", out.replace("\ufeff", ""))


# --------------------------------------------------------------------------- taxonomy

TIERS: tuple[str, ...] = ("county", "township", "village", "other")
"""Tiers from top to bottom of the county–township–village chain; ``other`` is outside it."""

TIER_LABELS: dict[str, tuple[str, str]] = {
    "county": ("县级及以上", "county level and above"),
    "township": ("乡镇/街道", "township or sub-district"),
    "village": ("村/社区", "village or community"),
    "other": ("其他", "other (outside the three-tier chain)"),
}

GROUP_LABELS: dict[str, tuple[str, str]] = {
    "medical": ("医疗卫生机构", "medical care"),
    "ems": ("院前急救", "emergency medical services"),
    "public_health": ("专业公共卫生机构", "public health"),
    "fitness": ("体育健身设施", "sports and fitness"),
    "childcare": ("托育服务机构", "childcare"),
    "elderly_care": ("养老服务机构", "elderly care"),
}


@dataclass(frozen=True)
class Category:
    """One facility type of the taxonomy.

    Attributes
    ----------
    key : str
        English snake_case key used in tables and rules, e.g. ``township_hospital``.
    name_zh, name_en : str
        Display names.
    tier : str
        One of :data:`TIERS`.
    group : str
        One of :data:`GROUP_LABELS` (``medical``, ``ems``, ``public_health``, ``fitness``,
        ``childcare``, ``elderly_care``).
    aliases : tuple of str
        Chinese and English spellings that map to this category (matched after
        :func:`normalize_text`; ``name_zh``, ``name_en`` and ``key`` are aliases too).
    """

    key: str
    name_zh: str
    name_en: str
    tier: str
    group: str
    aliases: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.tier not in TIERS:
            raise ValueError(f"category {self.key!r}: tier {self.tier!r} not in {TIERS}")
        if self.group not in GROUP_LABELS:
            raise ValueError(f"category {self.key!r}: group {self.group!r} is unknown")


_CATEGORY_LIST: tuple[Category, ...] = (
    # ---- hospitals (county level and above)
    Category(
        "general_hospital",
        "综合医院",
        "general hospital",
        "county",
        "medical",
        (
            "县人民医院",
            "县医院",
            "区人民医院",
            "市人民医院",
            "人民医院",
            "中心医院",
            "综合性医院",
            "总医院",
            "医院",
            "county hospital",
            "people's hospital",
            "hospital",
            "hospitals",
        ),
    ),
    Category(
        "tcm_hospital",
        "中医医院",
        "traditional Chinese medicine (TCM) hospital",
        "county",
        "medical",
        (
            "中医院",
            "中医类医院",
            "中西医结合医院",
            "民族医医院",
            "回医医院",
            "蒙医医院",
            "藏医医院",
            "维医医院",
            "TCM hospital",
            "traditional Chinese medicine hospital",
            "integrated Chinese and Western medicine hospital",
        ),
    ),
    Category(
        "maternal_child_hospital",
        "妇幼保健院",
        "maternal and child health hospital",
        "county",
        "medical",
        (
            "妇幼保健计划生育服务中心",
            "妇幼保健中心",
            "妇幼保健所",
            "妇幼保健站",
            "妇幼保健医院",
            "MCH hospital",
            "maternal and child health care hospital",
            "maternal and child health centre",
            "maternal and child health center",
        ),
    ),
    Category(
        "specialist_hospital",
        "专科医院",
        "specialist hospital",
        "county",
        "medical",
        (
            "精神病医院",
            "精神病院",
            "精神专科医院",
            "精神卫生中心",
            "精神卫生福利医院",
            "传染病医院",
            "儿童医院",
            "妇产医院",
            "妇女儿童医院",
            "肿瘤医院",
            "胸科医院",
            "结核病医院",
            "眼科医院",
            "口腔医院",
            "骨科医院",
            "皮肤病医院",
            "皮肤病防治院",
            "职业病防治院",
            "康复医院",
            "老年医院",
            "老年病医院",
            "护理院",
            "安宁疗护中心",
            "安宁疗护机构",
            "specialized hospital",
            "specialty hospital",
            "psychiatric hospital",
            "mental hospital",
            "mental health centre",
            "infectious disease hospital",
            "children's hospital",
            "cancer hospital",
            "rehabilitation hospital",
            "geriatric hospital",
            "nursing hospital",
            "stomatological hospital",
            "eye hospital",
        ),
    ),
    # ---- township / sub-district level
    Category(
        "community_hospital",
        "社区医院",
        "community hospital",
        "township",
        "medical",
        (),
    ),
    Category(
        "central_township_hospital",
        "中心卫生院",
        "central township hospital",
        "township",
        "medical",
        (
            "中心乡镇卫生院",
            "中心乡卫生院",
            "中心镇卫生院",
            "镇中心卫生院",
            "乡中心卫生院",
            "central township health centre",
            "central township health center",
        ),
    ),
    Category(
        "township_hospital",
        "乡镇卫生院",
        "township hospital",
        "township",
        "medical",
        (
            "镇卫生院",
            "乡卫生院",
            "街道卫生院",
            "苏木卫生院",
            "卫生院",
            "township health centre",
            "township health center",
            "rural health centre",
        ),
    ),
    Category(
        "community_health_centre",
        "社区卫生服务中心",
        "community health centre",
        "township",
        "medical",
        (
            "社区卫生中心",
            "卫生服务中心",
            "卫生中心",
            "community health center",
            "community health service centre",
            "community health service center",
            "CHC",
            "health centre",
            "health center",
        ),
    ),
    # ---- village / community level
    Category(
        "community_health_station",
        "社区卫生服务站",
        "community health station",
        "village",
        "medical",
        (
            "卫生服务站",
            "社区卫生站",
            "community health service station",
            "CHS",
        ),
    ),
    Category(
        "village_clinic",
        "村卫生室",
        "village clinic",
        "village",
        "medical",
        (
            "村卫生所",
            "村卫生站",
            "行政村卫生站",
            "嘎查卫生室",
            "卫生室",
            "village health room",
            "village health station",
            "village health clinic",
        ),
    ),
    # ---- clinics outside the chain
    Category(
        "clinic",
        "诊所",
        "clinic",
        "other",
        "medical",
        (
            "门诊部",
            "综合门诊部",
            "门诊",
            "医务室",
            "卫生所",
            "clinics",
            "doctors",
            "doctor",
            "polyclinic",
            "outpatient department",
            "medical centre",
            "medical center",
        ),
    ),
    Category(
        "tcm_clinic",
        "中医诊所",
        "TCM clinic",
        "other",
        "medical",
        (
            "中医门诊部",
            "中医门诊",
            "中医坐堂医诊所",
            "中医馆",
            "国医馆",
            "traditional Chinese medicine clinic",
        ),
    ),
    # ---- emergency medical services (not "medical": no walk-in care)
    Category(
        "ems_centre",
        "急救中心",
        "EMS centre",
        "county",
        "ems",
        (
            "120急救中心",
            "医疗急救中心",
            "医疗急救指挥中心",
            "紧急医学救援中心",
            "EMS center",
            "emergency medical centre",
            "emergency medical center",
            "emergency centre",
            "emergency center",
        ),
    ),
    Category(
        "ems_station",
        "急救站",
        "EMS station",
        "other",
        "ems",
        (
            "120急救站",
            "急救分站",
            "急救点",
            "救护站",
            "120",
            "ambulance station",
            "ambulance_station",
            "emergency station",
            "emergency services",
            "emergency_services",
            "ambulance",
        ),
    ),
    # ---- public-health institutions (not "medical")
    Category(
        "cdc",
        "疾病预防控制中心",
        "centre for disease control and prevention (CDC)",
        "county",
        "public_health",
        (
            "疾控中心",
            "疾控",
            "卫生防疫站",
            "防疫站",
            "CDC",
            "centre for disease control",
            "center for disease control",
            "center for disease control and prevention",
        ),
    ),
    Category(
        "health_inspection",
        "卫生监督所",
        "health inspection office",
        "county",
        "public_health",
        ("卫生计生监督所", "卫生健康监督所", "卫生监督执法局", "health inspection"),
    ),
    Category(
        "blood_station",
        "血站",
        "blood station",
        "other",
        "public_health",
        ("中心血站", "献血点", "献血屋", "blood bank", "blood donation", "blood_donation"),
    ),
    Category(
        "nucleic_acid_sampling_point",
        "核酸采样点",
        "nucleic-acid sampling point",
        "other",
        "public_health",
        (
            "核酸检测点",
            "核酸检测采样点",
            "核酸采样站",
            "核酸采样亭",
            "便民核酸采样点",
            "核酸采样屋",
            "采样点",
            "nucleic acid sampling point",
            "PCR testing site",
            "COVID-19 testing site",
            "covid testing site",
        ),
    ),
    # ---- fitness venues
    Category(
        "sports_centre",
        "全民健身中心",
        "national fitness centre",
        "county",
        "fitness",
        (
            "全民健身活动中心",
            "市民健身活动中心",
            "全民运动中心",
            "运动中心",
            "体育中心",
            "sports center",
            "sports complex",
            "national fitness center",
            "public fitness centre",
        ),
    ),
    Category(
        "gym",
        "健身房",
        "gym",
        "other",
        "fitness",
        (
            "健身馆",
            "健身会所",
            "健身中心",
            "fitness centre",
            "fitness center",
            "fitness_centre",
            "health club",
        ),
    ),
    Category(
        "stadium",
        "体育场",
        "stadium",
        "county",
        "fitness",
        ("体育场馆", "公共体育场馆", "stadium"),
    ),
    Category(
        "sports_hall",
        "体育馆",
        "sports hall",
        "county",
        "fitness",
        ("综合体育馆", "gymnasium", "sports hall", "sports_hall", "arena"),
    ),
    Category(
        "sports_park",
        "体育公园",
        "sports park",
        "county",
        "fitness",
        ("全民健身公园", "健身公园", "sports park"),
    ),
    Category(
        "fitness_trail",
        "健身步道",
        "fitness trail",
        "other",
        "fitness",
        (
            "健康步道",
            "登山步道",
            "休闲绿道",
            "绿道",
            "骑行道",
            "health trail",
            "greenway",
            "hiking trail",
            "fitness_trail",
        ),
    ),
    Category(
        "multi_sport_court",
        "社区多功能运动场",
        "community multi-sport court",
        "village",
        "fitness",
        ("多功能运动场", "multi-sport court", "multi-use games area"),
    ),
    Category(
        "fitness_square",
        "健身广场",
        "fitness square",
        "village",
        "fitness",
        ("健康广场", "文体广场", "health square"),
    ),
    Category(
        "swimming_pool",
        "游泳馆",
        "swimming pool",
        "other",
        "fitness",
        ("游泳池", "游泳场", "泳池", "swimming pool", "swimming_pool", "natatorium"),
    ),
    Category(
        "football_pitch",
        "足球场",
        "football pitch",
        "other",
        "fitness",
        (
            "社会足球场地",
            "足球场地",
            "笼式足球场",
            "soccer field",
            "soccer pitch",
            "football field",
        ),
    ),
    Category(
        "basketball_court",
        "篮球场",
        "basketball court",
        "village",
        "fitness",
        ("篮球馆", "basketball"),
    ),
    Category(
        "athletics_track",
        "田径场",
        "athletics track",
        "other",
        "fitness",
        ("田径运动场", "running track", "athletics"),
    ),
    Category(
        "pitch",
        "运动场地",
        "sports pitch",
        "other",
        "fitness",
        (
            "运动场",
            "体育场地",
            "球场",
            "羽毛球场",
            "网球场",
            "排球场",
            "门球场",
            "pitch",
            "pitches",
            "sports ground",
            "sports field",
            "playing field",
        ),
    ),
    Category(
        "fitness_station",
        "健身路径",
        "outdoor fitness equipment",
        "village",
        "fitness",
        (
            "全民健身路径",
            "健身点",
            "健身器材",
            "室外健身器材",
            "社区健身点",
            "健身站点",
            "fitness station",
            "fitness_station",
            "outdoor gym",
        ),
    ),
    # ---- childcare and elderly care (not "medical": no walk-in care)
    Category(
        "childcare",
        "托育机构",
        "childcare institution",
        "other",
        "childcare",
        (
            "托育中心",
            "托育园",
            "托育点",
            "托育服务中心",
            "托育服务机构",
            "综合托育服务中心",
            "普惠托育机构",
            "婴幼儿照护服务机构",
            "婴幼儿照护服务指导中心",
            "托儿所",
            "托幼中心",
            "childcare centre",
            "childcare center",
            "child care",
            "nursery",
            "daycare",
        ),
    ),
    Category(
        "elderly_care",
        "养老机构",
        "elderly-care institution",
        "other",
        "elderly_care",
        (
            "养老院",
            "敬老院",
            "安老院",
            "幸福院",
            "老年公寓",
            "养老服务中心",
            "医养结合机构",
            "医养结合中心",
            "医养结合服务中心",
            "日间照料中心",
            "老年人日间照料中心",
            "elderly-care home",
            "elderly care home",
            "nursing home",
            "nursing homes",
            "nursing_home",
            "care home",
        ),
    ),
)

CATEGORIES: dict[str, Category] = {c.key: c for c in _CATEGORY_LIST}
"""All categories by key: hospitals, primary care, clinics, EMS, public health, fitness."""

GROUPS: dict[str, tuple[str, ...]] = {
    group: tuple(k for k, c in CATEGORIES.items() if c.group == group) for group in GROUP_LABELS
}
"""Category keys of each group. ``medical`` excludes ``ems`` and ``public_health`` on purpose."""

_PRIMARY_CARE = (
    "township_hospital",
    "central_township_hospital",
    "community_health_centre",
    "community_hospital",
    "community_health_station",
    "village_clinic",
)
CATEGORY_SETS: dict[str, tuple[str, str, tuple[str, ...]]] = {
    "public_fitness": (
        "公共体育健身设施",
        "public sports and fitness venues",
        tuple(k for k in GROUPS["fitness"] if k not in ("gym", "swimming_pool")),
    ),
    "primary_care": (
        "基层医疗卫生机构（乡镇、社区、村三级）",
        "primary care (township hospitals, community health centres and stations, village clinics)",
        _PRIMARY_CARE,
    ),
    "primary_care_statistical": (
        "基层医疗卫生机构（统计口径，含门诊部、诊所）",
        "primary care as the health statistics count it (with outpatient departments and clinics)",
        (*_PRIMARY_CARE, "clinic", "tcm_clinic"),
    ),
    "hospital": (
        "医院",
        "hospitals",
        ("general_hospital", "tcm_hospital", "maternal_child_hospital", "specialist_hospital"),
    ),
}
"""Named sets of categories across groups: key → (name_zh, name_en, category keys).

``public_fitness`` leaves out commercial gyms (健身房) and swimming pools, which the plans'
fitness circles do not list among public venues (X L333; Q L321 names 游泳池, and its pack adds
``swimming_pool`` back with that citation). ``primary_care`` is 基层医疗卫生机构 as the plans list
it (乡镇卫生院、社区卫生服务中心（站）、村卫生室), ``primary_care_statistical`` as the national
health statistics define it (also 门诊部 and 诊所)."""

EXCLUDED_TYPES: dict[str, tuple[str, str, tuple[str, ...]]] = {
    "pharmacy": (
        "药店",
        "pharmacy",
        ("药房", "大药房", "药店", "pharmacy", "pharmacies", "chemist", "drugstore"),
    ),
    "dental": (
        "口腔/牙科诊所",
        "dental practice",
        ("口腔诊所", "牙科诊所", "口腔门诊部", "牙科", "牙医", "dentist", "dentists", "dental"),
    ),
    "veterinary": (
        "动物医院",
        "veterinary clinic",
        ("动物医院", "宠物医院", "兽医", "veterinary", "vet"),
    ),
    "cosmetic": (
        "医疗美容机构",
        "cosmetic clinic",
        ("医疗美容", "美容医院", "整形医院", "cosmetic clinic"),
    ),
}
"""Facility types geoplan knows but does not plan for: key → (name_zh, name_en, aliases)."""


# --------------------------------------------------------------------------- alias index

_EXCLUDED_PREFIX = "excluded:"


_DISPLAY: dict[str, str] = {}  # normalised alias -> its first spelling, for messages


def _build_index() -> dict[str, str]:
    index: dict[str, str] = {}

    def add(alias: str, target: str) -> None:
        norm = normalize_text(alias)
        if not norm:
            return
        if index.get(norm, target) != target:
            raise ValueError(f"alias {alias!r} maps to both {index[norm]!r} and {target!r}")
        index[norm] = target
        _DISPLAY.setdefault(norm, alias)

    for cat in _CATEGORY_LIST:
        for alias in (cat.name_zh, cat.name_en, *cat.aliases, cat.key):
            add(alias, cat.key)
    for key, (zh, en, aliases) in EXCLUDED_TYPES.items():
        for alias in (zh, en, *aliases):
            add(alias, _EXCLUDED_PREFIX + key)
    return index


_ALIAS_INDEX: dict[str, str] = _build_index()
# Aliases tried as substrings, longest first. Short ASCII aliases ("chc", "gym", "120", "vet")
# only match exactly: as substrings they would hit unrelated words.
_CONTAINED: tuple[tuple[str, str], ...] = tuple(
    sorted(
        ((a, t) for a, t in _ALIAS_INDEX.items() if not (a.isascii() and len(a) <= 3)),
        key=lambda item: -len(item[0]),
    )
)


@functools.lru_cache(maxsize=4096)
def _match(norm: str) -> str | None:
    """Target (a category key or ``excluded:<key>``) for normalised text, or None."""
    if not norm:
        return None
    exact = _ALIAS_INDEX.get(norm)
    if exact is not None:
        return exact
    best: tuple[int, int] | None = None
    target = None
    for alias, tgt in _CONTAINED:
        if best is not None and len(alias) < best[0]:
            break  # sorted by length: nothing longer is left
        end = norm.rfind(alias)
        if end < 0:
            continue
        end += len(alias)
        # Equal lengths: the alias ending later wins (the type word ends a Chinese name).
        if best is None or end > best[1]:
            best, target = (len(alias), end), tgt
    return target


def resolve_category(text: object) -> str | None:
    """The category key named by ``text``, or None.

    An exact alias match after :func:`normalize_text` wins; otherwise the longest alias
    contained in the text, so "平罗县黄渠桥镇中心卫生院" is ``central_township_hospital`` (not
    ``township_hospital``) and "XX社区卫生服务站" is ``community_health_station`` (not the
    centre). Types in :data:`EXCLUDED_TYPES` (pharmacies, dentists …) give None.
    """
    target = _match(normalize_text(text))
    if target is None or target.startswith(_EXCLUDED_PREFIX):
        return None
    return target


def excluded_type(text: object) -> tuple[str, str] | None:
    """``(name_zh, name_en)`` when ``text`` names a type geoplan deliberately leaves out."""
    target = _match(normalize_text(text))
    if target is None or not target.startswith(_EXCLUDED_PREFIX):
        return None
    zh, en, _ = EXCLUDED_TYPES[target.removeprefix(_EXCLUDED_PREFIX)]
    return zh, en


_SUGGEST_ALIASES: tuple[str, ...] = tuple(
    a for a, t in _ALIAS_INDEX.items() if not t.startswith(_EXCLUDED_PREFIX)
)


def closest_alias(text: object) -> tuple[str, str] | None:
    """``(alias, category_key)`` of the alias closest to ``text`` (difflib), or None."""
    norm = normalize_text(text)
    if not norm:
        return None
    found = difflib.get_close_matches(norm, _SUGGEST_ALIASES, n=1, cutoff=0.6)
    if not found:
        return None
    return _DISPLAY[found[0]], _ALIAS_INDEX[found[0]]


def suggest_category(text: object) -> str | None:
    """Category key of the alias closest to ``text`` (difflib ratio ≥ 0.6), for messages."""
    found = closest_alias(text)
    return None if found is None else found[1]


# --------------------------------------------------------------------------- labels


def label(key: str) -> tuple[str, str]:
    """``(name_zh, name_en)`` of a category key (tier, group and set keys work too)."""
    if key in CATEGORIES:
        cat = CATEGORIES[key]
        return cat.name_zh, cat.name_en
    if key in TIER_LABELS:
        return TIER_LABELS[key]
    if key in GROUP_LABELS:
        return GROUP_LABELS[key]
    if key in CATEGORY_SETS:
        return CATEGORY_SETS[key][:2]
    raise KeyError(f"{key!r} is not a category, tier, group or set key")


def bilingual(key: str) -> str:
    """``"中文 / English"`` for a category (or tier or group) key."""
    zh, en = label(key)
    return f"{zh} / {en}"


# --------------------------------------------------------------------------- columns

COLUMN_ALIASES: dict[str, tuple[str, ...]] = {
    "facility_id": (
        "facility_id",
        "编号",
        "机构编码",
        "机构代码",
        "机构编号",
        "设施编号",
        "组织机构代码",
        "统一社会信用代码",
        "编码",
        "代码",
        "id",
        "fid",
        "code",
        "osm_id",
        "序号",
    ),
    "name": (
        "name",
        "名称",
        "机构名称",
        "单位名称",
        "医疗机构名称",
        "设施名称",
        "场馆名称",
        "场地名称",
        "机构",
        "facility_name",
        "facility",
    ),
    # grade and ownership come before category: their headers (经济类型, 医院等级) must not be
    # taken for the category column, which accepts any header containing 类型 or 类别
    "grade": (
        "grade",
        "医院等级",
        "医院级别",
        "机构等级",
        "机构级别",
        "评审等级",
        "等级",
        "级别",
        "hospital_grade",
    ),
    "ownership": (
        "ownership",
        "公立民营",
        "公立/民营",
        "所有制",
        "所有制形式",
        "经济类型",
        "经济性质",
        "举办性质",
        "机构性质",
        "办医主体",
        "举办主体",
        "public_private",
    ),
    "category": (
        "category",
        "类型",
        "机构类型",
        "机构类别",
        "机构分类",
        "设施类型",
        "设施类别",
        "场馆类型",
        "类别",
        "分类",
        "种类",
        "type",
        "facility_type",
        "kind",
        "class",
        "amenity",
        "healthcare",
        "leisure",
    ),
    "lon": ("lon", "经度", "东经", "经度坐标", "lng", "long", "longitude", "x"),
    "lat": ("lat", "纬度", "北纬", "纬度坐标", "latitude", "y"),
    "lonlat": ("经纬度", "坐标", "经纬度坐标", "lnglat", "lonlat", "coordinates"),
    "address": ("address", "地址", "详细地址", "机构地址", "单位地址", "所在地址", "addr:street"),
    "beds": (
        "beds",
        "床位数",
        "编制床位",
        "编制床位数",
        "实有床位",
        "实有床位数",
        "开放床位",
        "开放床位数",
        "床位",
        "bed_count",
    ),
    "doctors": (
        "doctors",
        "执业(助理)医师数",
        "执业（助理）医师数",
        "执业(助理)医师",
        "执业医师数",
        "执业医师",
        "医师数",
        "医生数",
        "physicians",
    ),
    "nurses": ("nurses", "注册护士数", "注册护士", "护士数", "护士"),
    "crs": (
        "crs",
        "坐标系",
        "坐标系统",
        "坐标体系",
        "坐标类型",
        "coord_system",
        "coordinate_system",
        "srs",
    ),
    "osm_type": ("osm_type",),
}
"""Accepted header spellings per canonical column, in priority order (first found wins).

Headers are compared after :func:`normalize_text`, also with any bracketed part removed, so
``经度（WGS84）`` is ``lon`` and ``执业（助理）医师数`` is ``doctors``. ``lonlat`` is a single
"lon,lat" column, used only when separate ``lon``/``lat`` columns are absent. An ``osm_id`` id
column is combined with ``osm_type`` into ids such as ``node/123``.
"""

_BRACKETED = re.compile(r"[(\[（【][^)\]）】]*[)\]）】]")


def _header_forms(header: object) -> tuple[str, str]:
    """Normalised header with and without its bracketed parts."""
    text = unicodedata.normalize("NFKC", str(header))
    return normalize_text(text), normalize_text(_BRACKETED.sub("", text))


def match_columns(
    headers: Iterable[object], aliases: Mapping[str, tuple[str, ...]] = COLUMN_ALIASES
) -> dict[str, str]:
    """Map canonical column names to the input's own headers.

    Parameters
    ----------
    headers : iterable
        The input's column names.
    aliases : mapping, optional
        Canonical name → accepted spellings in priority order (default :data:`COLUMN_ALIASES`).

    Returns
    -------
    dict
        ``{canonical: header}`` for every canonical column found; each header is used once,
        and where several headers fit, the one matching the earliest alias wins.
    """
    headers = list(headers)
    forms = [_header_forms(h) for h in headers]
    found: dict[str, str] = {}
    taken: set[int] = set()
    for canonical, spellings in aliases.items():
        for spelling in spellings:
            norm = normalize_text(spelling)
            hit = next(
                (i for i, f in enumerate(forms) if i not in taken and norm in f),
                None,
            )
            if hit is not None:
                found[canonical] = headers[hit]
                taken.add(hit)
                break
    return found


# --------------------------------------------------------------------------- grade, ownership

GRADE_LEVELS: dict[int, tuple[str, str]] = {
    3: ("三级", "grade III"),
    2: ("二级", "grade II"),
    1: ("一级", "grade I"),
    0: ("未定级", "ungraded"),
}
"""Hospital grade levels (医院等级): 三级 / 二级 / 一级, and 0 for 未定级 (ungraded)."""

_GRADE_CLASSES = ("特", "甲", "乙", "丙")
_LEVEL_WORDS = {"三": 3, "二": 2, "一": 1, "3": 3, "2": 2, "1": 1, "iii": 3, "ii": 2, "i": 1}
_GRADE = re.compile(r"^(iii|ii|i|[一二三123])级?(特等|[特甲乙丙abc])?等?(?:医院|综合医院)?$")
_GRADE_SHORT = re.compile(r"^(iii|ii|i|[一二三123])([特甲乙丙abc])$")
_UNGRADED = frozenset({"未定级", "未评级", "未评", "无等级", "不定级", "ungraded", "未分级"})
_LATIN_CLASS = {"a": "甲", "b": "乙", "c": "丙"}


def parse_grade(value: object) -> str | None:
    """A hospital grade cell as ``三级甲等`` / ``三级`` / ``二级乙等`` / ``一级`` / ``未定级``.

    Accepts 三级甲等, 三甲, 3级甲等, 三级, III级甲等, 3A, 二乙, 一级医院, 未定级 … (after
    :func:`normalize_text`); None for a blank or unrecognised cell (reported, never guessed).
    """
    text = normalize_text(value).replace("级别", "级")
    if not text or text in ("nan", "none"):
        return None
    if text in _UNGRADED:
        return GRADE_LEVELS[0][0]
    found = _GRADE.match(text) or _GRADE_SHORT.match(text)
    if found is None:
        return None
    level = _LEVEL_WORDS[found.group(1)]
    grade_class = (found.group(2) or "")[:1]
    grade_class = _LATIN_CLASS.get(grade_class, grade_class)
    name = GRADE_LEVELS[level][0]
    return f"{name}{grade_class}等" if grade_class in _GRADE_CLASSES else name


def grade_level(grade: object) -> int | None:
    """The level (3, 2, 1; 0 for 未定级) of a grade :func:`parse_grade` wrote; None if blank."""
    text = parse_grade(grade)
    if text is None:
        return None
    return next(level for level, (zh, _) in GRADE_LEVELS.items() if text.startswith(zh))


OWNERSHIPS: dict[str, tuple[str, str]] = {
    "public": ("公立", "public"),
    "private": ("民营", "private (non-public)"),
}
"""Ownership of a facility (公立 / 民营 as the statistical yearbooks divide them)."""

# private words first: 非公立 contains 公立
_PRIVATE_WORDS = (
    "非公",
    "民营",
    "民办",
    "私立",
    "私营",
    "私人",
    "个体",
    "社会办",
    "社会资本",
    "股份",
    "联营",
    "有限责任",
    "外资",
    "合资",
    "港澳台",
    "private",
)
_PUBLIC_WORDS = ("公立", "公办", "政府办", "国有", "集体", "全民所有", "public", "government")


def parse_ownership(value: object) -> str | None:
    """``public`` or ``private`` for an ownership cell (公立, 公办, 政府办, 国有, 集体 / 民营,
    民办, 私立, 个体, 社会办, 股份 …); None for a blank or unrecognised cell."""
    text = normalize_text(value)
    if not text or text in ("nan", "none"):
        return None
    if any(normalize_text(w) in text for w in _PRIVATE_WORDS):
        return "private"
    if any(normalize_text(w) in text for w in _PUBLIC_WORDS):
        return "public"
    return None
