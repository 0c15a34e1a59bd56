"""The facility taxonomy, category matching and column-name matching."""

from __future__ import annotations

import pytest

from geoplan import taxonomy
from geoplan.taxonomy import (
    CATEGORIES,
    COLUMN_ALIASES,
    EXCLUDED_TYPES,
    GROUPS,
    TIERS,
    bilingual,
    closest_alias,
    excluded_type,
    label,
    match_columns,
    normalize_text,
    resolve_category,
    suggest_category,
)

# ---------------------------------------------------------------- the taxonomy


def test_every_category_is_well_formed():
    for key, cat in CATEGORIES.items():
        assert key == cat.key
        assert key.isascii() and key == key.lower() and " " not in key
        assert cat.tier in TIERS
        assert cat.group in taxonomy.GROUP_LABELS
        assert cat.name_zh and cat.name_en
        # each category's own names resolve to it
        assert resolve_category(cat.name_zh) == key, cat.name_zh
        assert resolve_category(cat.name_en) == key, cat.name_en
        assert resolve_category(key) == key


def test_every_alias_resolves_to_its_own_category():
    for key, cat in CATEGORIES.items():
        for alias in cat.aliases:
            assert resolve_category(alias) == key, alias
    for zh, en, aliases in EXCLUDED_TYPES.values():
        for alias in aliases:
            assert resolve_category(alias) is None, alias
            assert excluded_type(alias) == (zh, en), alias


def test_category_invalid_tier_or_group_is_refused():
    with pytest.raises(ValueError, match="tier"):
        taxonomy.Category("x", "x", "x", "city", "medical")
    with pytest.raises(ValueError, match="group"):
        taxonomy.Category("x", "x", "x", "county", "health")


def test_tiers_of_the_plan_hierarchy():
    assert TIERS == ("county", "township", "village", "other")
    tiers = {k: c.tier for k, c in CATEGORIES.items()}
    assert tiers["general_hospital"] == "county"
    assert tiers["tcm_hospital"] == "county"
    assert tiers["maternal_child_hospital"] == "county"
    assert tiers["central_township_hospital"] == "township"
    assert tiers["township_hospital"] == "township"
    assert tiers["community_health_centre"] == "township"
    assert tiers["community_hospital"] == "township"
    assert tiers["community_health_station"] == "village"
    assert tiers["village_clinic"] == "village"
    assert tiers["clinic"] == "other"


def test_groups_medical_excludes_ems_and_public_health():
    assert set(GROUPS) == {
        "medical",
        "ems",
        "public_health",
        "fitness",
        "childcare",
        "elderly_care",
    }
    medical = set(GROUPS["medical"])
    assert medical == {
        "general_hospital",
        "tcm_hospital",
        "maternal_child_hospital",
        "specialist_hospital",
        "community_hospital",
        "central_township_hospital",
        "township_hospital",
        "community_health_centre",
        "community_health_station",
        "village_clinic",
        "clinic",
        "tcm_clinic",
    }
    assert set(GROUPS["ems"]) == {"ems_centre", "ems_station"}
    assert set(GROUPS["public_health"]) == {
        "cdc",
        "health_inspection",
        "blood_station",
        "nucleic_acid_sampling_point",
    }
    assert {"sports_centre", "fitness_trail", "pitch", "fitness_station"} <= set(GROUPS["fitness"])
    # the groups partition the categories
    keys = [k for group in GROUPS.values() for k in group]
    assert sorted(keys) == sorted(CATEGORIES)


# ---------------------------------------------------------------- resolve_category


@pytest.mark.parametrize(
    ("text", "key"),
    [
        # the plans' vocabulary (plans_digest.md §5.6)
        ("综合医院", "general_hospital"),
        ("县人民医院", "general_hospital"),
        ("县医院", "general_hospital"),
        ("市人民医院", "general_hospital"),
        ("潮州市中心医院", "general_hospital"),
        ("二级综合医院", "general_hospital"),
        ("中医医院", "tcm_hospital"),
        ("中医院", "tcm_hospital"),
        ("平罗县中医医院", "tcm_hospital"),
        ("中西医结合医院", "tcm_hospital"),
        ("妇幼保健院", "maternal_child_hospital"),
        ("县妇幼保健计划生育服务中心", "maternal_child_hospital"),
        ("精神病医院", "specialist_hospital"),
        ("传染病医院", "specialist_hospital"),
        ("儿童医院", "specialist_hospital"),
        ("区肿瘤医院", "specialist_hospital"),
        ("康复医院", "specialist_hospital"),
        ("老年医院", "specialist_hospital"),
        ("护理院", "specialist_hospital"),
        ("社区医院", "community_hospital"),
        ("乡镇卫生院", "township_hospital"),
        ("镇卫生院", "township_hospital"),
        ("乡卫生院", "township_hospital"),
        ("卫生院", "township_hospital"),
        ("红崖子乡卫生院", "township_hospital"),
        ("中心卫生院", "central_township_hospital"),
        ("中心乡镇卫生院", "central_township_hospital"),
        ("平罗县黄渠桥镇中心卫生院", "central_township_hospital"),
        ("姚伏镇中心卫生院", "central_township_hospital"),
        ("社区卫生服务中心", "community_health_centre"),
        ("平罗县城关社区卫生服务中心", "community_health_centre"),
        ("社区卫生服务中心（站）", "community_health_centre"),
        ("社区卫生服务站", "community_health_station"),
        ("XX社区卫生服务站", "community_health_station"),
        ("村卫生室", "village_clinic"),
        ("村卫生所（室）", "village_clinic"),
        ("村卫生站", "village_clinic"),
        ("行政村卫生站", "village_clinic"),
        ("平罗县黄渠桥镇西润村卫生室", "village_clinic"),
        ("诊所", "clinic"),
        ("门诊部", "clinic"),
        ("中医诊所", "tcm_clinic"),
        ("中医门诊部", "tcm_clinic"),
        ("中医坐堂医诊所", "tcm_clinic"),
        ("急救中心（站）", "ems_centre"),
        ("急救站", "ems_station"),
        ("120", "ems_station"),
        ("疾病预防控制中心", "cdc"),
        ("全民健身中心", "sports_centre"),
        ("体育馆", "sports_hall"),
        ("体育场", "stadium"),
        ("体育公园", "sports_park"),
        ("健身步道", "fitness_trail"),
        ("健康步道", "fitness_trail"),
        ("社区多功能运动场", "multi_sport_court"),
        ("健身广场", "fitness_square"),
        ("健康广场", "fitness_square"),
        ("游泳馆", "swimming_pool"),
        ("游泳池", "swimming_pool"),
        ("足球场", "football_pitch"),
        ("社会足球场地", "football_pitch"),
        ("篮球场", "basketball_court"),
        ("田径场", "athletics_track"),
        ("健身路径", "fitness_station"),
        # English and OSM values
        ("community health centre", "community_health_centre"),
        ("Community Health Center", "community_health_centre"),
        ("CHC", "community_health_centre"),
        ("township hospital", "township_hospital"),
        ("village clinic", "village_clinic"),
        ("hospital", "general_hospital"),
        ("hospitals", "general_hospital"),
        ("clinic", "clinic"),
        ("clinics", "clinic"),
        ("doctors", "clinic"),
        ("sports_centre", "sports_centre"),
        ("fitness_centre", "gym"),
        ("gym", "gym"),
        ("pitch", "pitch"),
        ("fitness_station", "fitness_station"),
        ("swimming_pool", "swimming_pool"),
        ("emergency_services", "ems_station"),
        ("ambulance station", "ems_station"),
        # normalisation: full-width, case, spaces, traditional characters
        ("ＣＨＣ", "community_health_centre"),
        ("  township   HOSPITAL ", "township_hospital"),
        ("社区 卫生 服务 站", "community_health_station"),
        ("鏡湖醫院", "general_hospital"),
        ("衛生中心", "community_health_centre"),
        ("九澳康復醫院", "specialist_hospital"),
    ],
)
def test_resolve_category(text, key):
    assert resolve_category(text) == key


@pytest.mark.parametrize("text", ["", "   ", None, "xyz", "中心", "卫生", "pharmacy", "牙科诊所"])
def test_resolve_category_none(text):
    assert resolve_category(text) is None


def test_longest_alias_wins_and_short_ascii_aliases_match_exactly():
    # 中心卫生院 contains 卫生院; 社区卫生服务中心 and 社区卫生服务站 share a prefix
    assert resolve_category("某镇中心卫生院") == "central_township_hospital"
    assert resolve_category("某镇卫生院") == "township_hospital"
    assert resolve_category("县人民医院社区卫生服务站") == "community_health_station"
    assert resolve_category("口腔医院") == "specialist_hospital"  # not the excluded 口腔诊所
    assert resolve_category("动物医院") is None  # not a 医院 for people
    # "chc", "gym", "120", "vet" only as the whole text
    assert resolve_category("chcx") is None
    assert resolve_category("1203") is None


def test_excluded_types():
    assert excluded_type("pharmacies") == ("药店", "pharmacy")
    assert excluded_type("萬輝大藥房") == ("药店", "pharmacy")
    assert excluded_type("dentists") == ("口腔/牙科诊所", "dental practice")
    assert excluded_type("nursing_homes") is None  # a category since issue 14
    assert excluded_type("宠物医院") == ("动物医院", "veterinary clinic")
    assert excluded_type("乡镇卫生院") is None
    assert excluded_type("xyz") is None


def test_suggest_category_for_typos():
    assert suggest_category("社区卫生服物站") == "community_health_station"
    assert closest_alias("社区卫生服物站") == ("社区卫生服务站", "community_health_station")
    assert suggest_category("rehabilitation") == "specialist_hospital"
    assert closest_alias("rehabilitation") == ("rehabilitation hospital", "specialist_hospital")
    assert suggest_category("township hospitl") == "township_hospital"
    assert suggest_category("") is None
    assert suggest_category("完全无关的文字") is None


def test_normalize_text():
    assert normalize_text("（村卫生所）") == "村卫生所"
    assert normalize_text("Ｃommunity  Health-Centre") == "communityhealthcentre"
    assert normalize_text("醫院") == "医院"
    assert normalize_text("\ufeff名称") == "名称"
    assert normalize_text(None) == ""


# ---------------------------------------------------------------- labels


def test_label_and_bilingual():
    assert label("township_hospital") == ("乡镇卫生院", "township hospital")
    assert bilingual("community_health_centre") == "社区卫生服务中心 / community health centre"
    assert bilingual("village_clinic") == "村卫生室 / village clinic"
    assert bilingual("township") == "乡镇/街道 / township or sub-district"
    assert bilingual("medical") == "医疗卫生机构 / medical care"
    with pytest.raises(KeyError, match="nope"):
        label("nope")


# ---------------------------------------------------------------- columns


def test_match_columns_chinese_headers_with_brackets():
    headers = [
        "序号",
        "机构编码",
        "机构名称",
        "机构类别",
        "经度（WGS84）",
        "纬度(WGS84)",
        "详细地址",
        "实有床位数",
        "执业（助理）医师数",
        "注册护士数",
        "坐标系",
    ]
    assert match_columns(headers) == {
        "facility_id": "机构编码",  # preferred over 序号
        "name": "机构名称",
        "category": "机构类别",
        "lon": "经度（WGS84）",
        "lat": "纬度(WGS84)",
        "address": "详细地址",
        "beds": "实有床位数",
        "doctors": "执业（助理）医师数",
        "nurses": "注册护士数",
        "crs": "坐标系",
    }


def test_match_columns_english_traditional_and_combined():
    assert match_columns(["ID", "Name", "TYPE", "Longitude", "Latitude", "Beds"]) == {
        "facility_id": "ID",
        "name": "Name",
        "category": "TYPE",
        "lon": "Longitude",
        "lat": "Latitude",
        "beds": "Beds",
    }
    assert match_columns(["編號", "名稱", "類型", "經度", "緯度"]) == {
        "facility_id": "編號",
        "name": "名稱",
        "category": "類型",
        "lon": "經度",
        "lat": "緯度",
    }
    assert match_columns(["名称", "类型", "经纬度"]) == {
        "name": "名称",
        "category": "类型",
        "lonlat": "经纬度",
    }
    assert match_columns(["执业医师数", "护士数"]) == {"doctors": "执业医师数", "nurses": "护士数"}
    assert match_columns(["备注", "联系电话"]) == {}


def test_column_aliases_cover_the_brief():
    assert {"编号", "机构编码", "机构代码", "id", "facility_id", "code"} <= set(
        COLUMN_ALIASES["facility_id"]
    )
    assert {"名称", "机构名称", "单位名称", "name"} <= set(COLUMN_ALIASES["name"])
    assert {"类型", "机构类型", "机构类别", "类别", "category", "type"} <= set(
        COLUMN_ALIASES["category"]
    )
    assert {"经度", "lon", "lng", "longitude", "x"} <= set(COLUMN_ALIASES["lon"])
    assert {"纬度", "lat", "latitude", "y"} <= set(COLUMN_ALIASES["lat"])
    assert {"床位数", "编制床位", "实有床位", "床位", "beds"} <= set(COLUMN_ALIASES["beds"])


# ---------------------------------------------------------------- issue 14: new categories


@pytest.mark.parametrize(
    ("text", "key"),
    [
        # childcare (托育): Q L486 托育中心（园）, P L519 普惠托育机构, X L361 婴幼儿照护服务机构
        ("托育机构", "childcare"),
        ("钦南区公办综合性托育中心", "childcare"),
        ("某社区普惠托育点", "childcare"),
        ("婴幼儿照护服务机构", "childcare"),
        ("平罗县婴幼儿照护服务指导中心", "childcare"),
        ("托儿所", "childcare"),
        ("childcare centre", "childcare"),
        # elderly care (养老, 医养结合): Q L492, P L652, L L118
        ("养老机构", "elderly_care"),
        ("敬老院", "elderly_care"),
        ("某镇医养结合服务中心", "elderly_care"),
        ("社区日间照料中心", "elderly_care"),
        ("nursing home", "elderly_care"),
        # nucleic-acid sampling points: Q L325 步行15分钟核酸"采样圈"
        ("核酸采样点", "nucleic_acid_sampling_point"),
        ("钦州港便民核酸采样点", "nucleic_acid_sampling_point"),
        ("核酸检测采样点", "nucleic_acid_sampling_point"),
        ("人民医院核酸采样点", "nucleic_acid_sampling_point"),
        ("COVID-19 testing site", "nucleic_acid_sampling_point"),
    ],
)
def test_new_categories_resolve(text, key):
    assert resolve_category(text) == key


def test_new_categories_are_their_own_groups_not_medical():
    assert label("childcare") == ("托育机构", "childcare institution")
    assert label("elderly_care")[0] == "养老机构"
    assert label("nucleic_acid_sampling_point")[0] == "核酸采样点"
    assert set(GROUPS["childcare"]) == {"childcare"}
    assert set(GROUPS["elderly_care"]) == {"elderly_care"}
    for key in ("childcare", "elderly_care", "nucleic_acid_sampling_point"):
        assert key not in GROUPS["medical"], key  # no walk-in care: never "医疗卫生机构"
    assert resolve_category("某镇卫生院") == "township_hospital"  # not elderly care


def test_named_category_sets():
    """Sets across groups, for the plans' own words (the fitness circle's public venues,
    基层医疗卫生机构 as the plans list it and as the statistics count it)."""
    from geoplan.analysis.coverage import expand_categories

    public = expand_categories(["public_fitness"])
    assert public == set(GROUPS["fitness"]) - {"gym", "swimming_pool"}
    chain = expand_categories(["primary_care"])
    assert chain == {
        "township_hospital",
        "central_township_hospital",
        "community_health_centre",
        "community_hospital",
        "community_health_station",
        "village_clinic",
    }
    assert expand_categories(["primary_care_statistical"]) == chain | {"clinic", "tcm_clinic"}
    assert expand_categories(["hospital"]) == {
        "general_hospital",
        "tcm_hospital",
        "maternal_child_hospital",
        "specialist_hospital",
    }
    for key, (zh, en, members) in taxonomy.CATEGORY_SETS.items():
        assert zh and en and set(members) <= set(CATEGORIES), key
        assert key not in CATEGORIES and key not in GROUPS, key
        assert label(key) == (zh, en)
