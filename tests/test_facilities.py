"""Reading facility records: formats, encodings, ids, rejects and their messages."""

from __future__ import annotations

import json
import math
from pathlib import Path

import geopandas as gpd
import numpy as np
import openpyxl
import pandas as pd
import pytest
import shapely

from geoplan import coords
from geoplan._paths import shipped_path
from geoplan.errors import ConfigError, DataQualityWarning, InputError, InputFileNotFoundError
from geoplan.readers.facilities import (
    REASON_CODES,
    USED_COLUMNS,
    FacilityTable,
    read_facilities,
    read_facilities_frame,
    write_rejects,
)

DATA = Path(__file__).parent / "data" / "facilities"
SAMPLE = DATA / "pingluo_sample.csv"
SAMPLE_HEADERS = [
    "编号",
    "名称",
    "类型",
    "经度",
    "纬度",
    "地址",
    "床位数",
    "执业（助理）医师数",
    "注册护士数",
]

# What pingluo_sample.csv must give: used records (id, category, tier, source_row) ...
SAMPLE_USED = [
    ("PL-001", "平罗县人民医院", "general_hospital", "county", 2),
    ("PL-002", "平罗县中医医院", "tcm_hospital", "county", 3),
    ("PL-003", "平罗县妇幼保健计划生育服务中心", "maternal_child_hospital", "county", 4),
    ("PL-004", "平罗县黄渠桥镇中心卫生院", "central_township_hospital", "township", 5),
    ("PL-005", "平罗县黄渠桥镇西润村卫生室", "village_clinic", "village", 6),
    ("PL-006", "平罗县城关社区卫生服务中心", "community_health_centre", "township", 7),
    ("PL-007", "平罗县城关社区卫生服务站", "community_health_station", "village", 8),
    ("PL-008", "平罗县全民健身中心", "sports_centre", "county", 9),
    ("PL-009", "姚伏镇中心卫生院", "central_township_hospital", "township", 10),
    ("row-22", "通伏乡卫生院", "township_hospital", "township", 22),
    ("PL-018", "银川市某诊所", "clinic", "other", 23),
]
# ... and rejects (source_row, reason_code, message_en, message_zh).
SAMPLE_REJECTS = [
    (
        12,
        "swapped_coordinates",
        "row 12 (name=红崖子乡卫生院): longitude 38.6 looks like a latitude; are the columns "
        "swapped? Put the longitude (73–136 in China) in '经度' and the latitude (3–54) in '纬度'.",
        "第 12 行（名称=红崖子乡卫生院）：经度 38.6 像是纬度，经纬度两列是否填反了？请把经度"
        "（中国境内 73–136）填入“经度”，纬度（3–54）填入“纬度”。",
    ),
    (
        13,
        "missing_name",
        "row 13: the name is empty; fill in the '名称' column.",
        "第 13 行：名称为空；请在“名称”列填写设施名称。",
    ),
    (
        14,
        "unknown_category",
        "row 14 (name=平罗县某大药房): category '药店' means pharmacy (药店), a type geoplan "
        "leaves out on purpose; delete the row, or change the category if the place is in fact "
        "another type (e.g. 诊所 / clinic).",
        "第 14 行（名称=平罗县某大药房）：类型“药店”属于药店（pharmacy），geoplan 有意不纳入规划"
        "设施类型；请删除该行，或如该机构实际属于其他类型（如诊所），请改写类型。",
    ),
    (
        15,
        "unknown_category",
        "row 15 (name=高庄乡某社区卫生服务站): category '社区卫生服物站' is not a known facility "
        "type; did you mean '社区卫生服务站' (社区卫生服务站 / community health station)? "
        "Otherwise use a type from geoplan.taxonomy.CATEGORIES (e.g. 乡镇卫生院, 社区卫生服务中心, "
        "村卫生室, 全民健身中心).",
        "第 15 行（名称=高庄乡某社区卫生服务站）：类型“社区卫生服物站”无法识别；是否应为"
        "“社区卫生服务站”（社区卫生服务站 / community health station）？请使用 "
        "geoplan.taxonomy.CATEGORIES 中的类型（如乡镇卫生院、社区卫生服务中心、村卫生室、"
        "全民健身中心）。",
    ),
    (
        16,
        "missing_coordinates",
        "row 16 (name=崇岗镇卫生院): the longitude/latitude is empty; fill in '经度' and '纬度' in "
        "decimal degrees.",
        "第 16 行（名称=崇岗镇卫生院）：经纬度为空；请在“经度”和“纬度”中填写十进制度数的"
        "经度和纬度。",
    ),
    (
        17,
        "bad_coordinates",
        "row 17 (name=陶乐镇卫生院): longitude '东经106.7' is not a number; write decimal degrees "
        "such as 106.4553.",
        "第 17 行（名称=陶乐镇卫生院）：经度“东经106.7”不是数字；请填写十进制度数，如 106.4553。",
    ),
    (
        18,
        "duplicate_id",
        "row 18 (name=平罗县人民医院新院区): id 'PL-001' is already used by row 2; give each "
        "facility its own id, or delete the repeated row.",
        "第 18 行（名称=平罗县人民医院新院区）：编号“PL-001”已被第 2 行使用；请为每个设施使用不同"
        "编号，或删除重复的行。",
    ),
    (
        19,
        "out_of_range",
        "row 19 (name=头闸镇卫生院): longitude 206.5 is outside -180…180; check the coordinates.",
        "第 19 行（名称=头闸镇卫生院）：经度 206.5 超出 −180…180；请核对坐标。",
    ),
    (
        21,
        "missing_category",
        "row 21 (name=宝丰镇卫生院): the category is empty; fill in the '类型' column (from the "
        "name it looks like 乡镇卫生院 / township hospital).",
        "第 21 行（名称=宝丰镇卫生院）：类型为空；请在“类型”列填写设施类型（按名称判断可能是"
        "“乡镇卫生院 / township hospital”）。",
    ),
]


def _balanced(table: FacilityTable) -> None:
    assert table.read == len(table.used) + len(table.rejects)


def _read_sample(path: Path, **kwargs) -> FacilityTable:
    """Read a variant of the sample; its one bad capacity cell warns."""
    with pytest.warns(DataQualityWarning, match=r"'床位数' \(beds\) in row\(s\) 7 \('约20'\)"):
        return read_facilities(path, **kwargs)


def _assert_sample(table: FacilityTable) -> None:
    """The exact result of pingluo_sample.csv (in any encoding)."""
    _balanced(table)
    assert table.read == 20
    used = table.used
    assert list(used.columns) == list(USED_COLUMNS)
    assert used.crs.to_epsg() == 4326
    got = list(
        zip(
            used["facility_id"],
            used["name"],
            used["category"],
            used["tier"],
            used["source_row"],
            strict=True,
        )
    )
    assert got == SAMPLE_USED
    assert used["coord_source"].eq("wgs84").all()
    assert used["source_row"].dtype == np.int64
    first = used.iloc[0]
    assert (first.geometry.x, first.geometry.y) == (106.544, 38.906)
    assert first["address"] == "城关镇（示例地址）"
    assert (first["beds"], first["doctors"], first["nurses"]) == (600.0, 210.0, 320.0)
    assert pd.isna(used.loc[2, "address"])
    centre = used.set_index("facility_id").loc["PL-006"]
    assert math.isnan(centre["beds"]) and centre["doctors"] == 8.0  # '约20' -> NaN
    assert used.set_index("facility_id").loc["PL-005", "beds"] == 0.0

    rejects = table.rejects
    assert list(rejects.columns[:6]) == [
        "source_row",
        "reason_code",
        "message_zh",
        "message_en",
        "facility_id",
        "name",
    ]
    assert list(rejects.columns[6:]) == SAMPLE_HEADERS  # the input's own columns
    got_rejects = list(
        zip(
            rejects["source_row"],
            rejects["reason_code"],
            rejects["message_en"],
            rejects["message_zh"],
            strict=True,
        )
    )
    assert got_rejects == SAMPLE_REJECTS
    # the raw cells are kept as text
    swapped = rejects.iloc[0]
    assert (swapped["编号"], swapped["经度"], swapped["纬度"]) == ("PL-010", "38.6", "106.45")
    assert swapped["床位数"] == ""
    assert rejects["facility_id"].tolist() == [
        "PL-010",
        "PL-011",
        "PL-012",
        "PL-013",
        "PL-014",
        "PL-015",
        "PL-001",
        "PL-016",
        "PL-017",
    ]
    assert set(rejects["reason_code"]) <= set(REASON_CODES)


# ---------------------------------------------------------------- CSV and encodings


def test_utf8_csv_with_chinese_headers():
    _assert_sample(_read_sample(SAMPLE))


def test_gbk_csv_is_detected(tmp_path):
    path = tmp_path / "gbk.csv"
    path.write_bytes(SAMPLE.read_text(encoding="utf-8").encode("gbk"))
    with pytest.raises(UnicodeDecodeError):
        path.read_bytes().decode("utf-8")  # really not UTF-8
    _assert_sample(_read_sample(path))


def test_gb18030_with_explicit_encoding(tmp_path):
    path = tmp_path / "gb.csv"
    path.write_bytes(SAMPLE.read_text(encoding="utf-8").encode("gb18030"))
    _assert_sample(_read_sample(path, encoding="gbk"))


def test_bom_csv(tmp_path):
    path = tmp_path / "bom.csv"
    path.write_bytes(SAMPLE.read_text(encoding="utf-8").encode("utf-8-sig"))
    table = _read_sample(path)
    _assert_sample(table)
    assert "编号" in table.rejects.columns  # no BOM glued to the first header


def test_utf16_csv_with_crlf(tmp_path):
    path = tmp_path / "u16.csv"
    text = SAMPLE.read_text(encoding="utf-8").replace("\n", "\r\n")
    path.write_bytes(text.encode("utf-16"))
    _assert_sample(_read_sample(path))


def test_wrong_explicit_encoding_is_an_input_error(tmp_path):
    path = tmp_path / "gbk.csv"
    path.write_bytes(SAMPLE.read_text(encoding="utf-8").encode("gbk"))
    with pytest.raises(InputError, match=r"gbk\.csv: cannot be decoded as utf-8"):
        read_facilities(path, encoding="utf-8")
    with pytest.raises(InputError, match="unknown encoding 'klingon'"):
        read_facilities(path, encoding="klingon")


def test_tab_separated_and_title_rows(tmp_path):
    path = tmp_path / "list.txt"
    path.write_text(
        "平罗县医疗机构名录（示例）\n"
        "\n"
        "名称\t类型\t经度\t纬度\n"
        "甲镇卫生院\t乡镇卫生院\t106.5\t38.9\n"
        "乙村卫生室\t村卫生室\t106.6\t38.95\n",
        encoding="utf-8",
    )
    table = read_facilities(path)
    _balanced(table)
    assert table.read == 2
    assert table.used["facility_id"].tolist() == ["row-4", "row-5"]
    assert table.used["source_row"].tolist() == [4, 5]
    assert table.used["category"].tolist() == ["township_hospital", "village_clinic"]


def test_english_headers_crs_column_and_conversions(tmp_path):
    # one row per coordinate system; the GCJ-02 / BD-09 rows hold the converted WGS84 point
    gcj = coords.wgs84_to_gcj02(106.5440, 38.9060)
    bd = coords.wgs84_to_bd09(106.5380, 38.9100)
    path = tmp_path / "english.csv"
    path.write_text(
        "ID,Name,Type,Longitude,Latitude,Address,Beds,Doctors,Nurses,CRS\n"
        "1,County Hospital,hospital,106.5440,38.9060,Main St,600,210,320,WGS84\n"
        f"2,Same hospital from Amap,county hospital,{gcj[0]!r},{gcj[1]!r},,,,,GCJ-02\n"
        f"3,TCM from Baidu,TCM hospital,{bd[0]!r},{bd[1]!r},,,,,百度坐标\n"
        '4,Town CHC,CHC,106.55,38.915,,"1,200",8,10,CGCS2000\n'
        "5,UTM station,community health station,500000,4300000,,,,,EPSG:32648\n"
        "6,Mars clinic,clinic,106.5,38.9,,,,,Mars\n"
        "7,Pitch,pitch,106.51,38.91,,,,,\n"
        "8,Placeholder clinic,clinic,0,0,,,,,\n",
        encoding="utf-8",
    )
    table = read_facilities(path)
    _balanced(table)
    used = table.used.set_index("facility_id")
    assert used.index.tolist() == ["1", "2", "3", "4", "5", "7"]
    assert used["category"].tolist() == [
        "general_hospital",
        "general_hospital",
        "tcm_hospital",
        "community_health_centre",
        "community_health_station",
        "pitch",
    ]
    assert used["coord_source"].tolist() == [
        "wgs84",
        "gcj02",
        "bd09",
        "cgcs2000",
        "epsg:32648",
        "wgs84",
    ]
    assert used.loc["2"].geometry.x == pytest.approx(106.5440, abs=1e-9)
    assert used.loc["2"].geometry.y == pytest.approx(38.9060, abs=1e-9)
    assert used.loc["3"].geometry.x == pytest.approx(106.5380, abs=1e-9)
    assert used.loc["3"].geometry.y == pytest.approx(38.9100, abs=1e-9)
    # UTM 48N false easting 500000 is the central meridian 105°E
    assert used.loc["5"].geometry.x == pytest.approx(105.0, abs=1e-9)
    assert used.loc["5"].geometry.y == pytest.approx(38.85, abs=0.01)
    assert used.loc["4", "beds"] == 1200.0
    assert used.loc["1", "address"] == "Main St"
    rejects = table.rejects
    assert rejects["reason_code"].tolist() == ["unknown_crs", "missing_coordinates"]
    assert rejects["message_en"].tolist() == [
        "row 7 (name=Mars clinic): coordinate system 'Mars' is not known; write WGS84, "
        "CGCS2000, GCJ-02 (Amap/Tencent), BD-09 (Baidu) or an EPSG code such as EPSG:4326.",
        "row 9 (name=Placeholder clinic): longitude and latitude are 0, 0 (a placeholder); fill "
        "in the real coordinates.",
    ]
    assert rejects["ID"].tolist() == ["6", "8"]


def test_crs_option_and_header_hint(tmp_path):
    gcj = coords.wgs84_to_gcj02(106.5440, 38.9060)
    path = tmp_path / "amap.csv"
    path.write_text(f"名称,类型,经度,纬度\n县医院,县医院,{gcj[0]!r},{gcj[1]!r}\n", encoding="utf-8")
    as_is = read_facilities(path).used.geometry.iloc[0]
    converted = read_facilities(path, crs="gcj02").used
    assert converted["coord_source"].tolist() == ["gcj02"]
    assert converted.geometry.iloc[0].x == pytest.approx(106.5440, abs=1e-9)
    assert as_is.x == pytest.approx(gcj[0], abs=1e-12)
    hinted = tmp_path / "hint.csv"
    hinted.write_text(
        f"名称,类型,经度(GCJ-02),纬度(GCJ-02)\n县医院,县医院,{gcj[0]!r},{gcj[1]!r}\n",
        encoding="utf-8",
    )
    used = read_facilities(hinted).used
    assert used["coord_source"].tolist() == ["gcj02"]
    assert used.geometry.iloc[0].y == pytest.approx(38.9060, abs=1e-9)
    with pytest.raises(ConfigError, match="unknown coordinate system crs='mars'"):
        read_facilities(path, crs="mars")


def test_combined_lonlat_column(tmp_path):
    path = tmp_path / "lnglat.csv"
    path.write_text(
        '名称,类型,经纬度\n甲镇卫生院,乡镇卫生院,"106.5,38.9"\n乙村卫生室,村卫生室,106.6\n',
        encoding="utf-8",
    )
    table = read_facilities(path)
    _balanced(table)
    assert [(p.x, p.y) for p in table.used.geometry] == [(106.5, 38.9)]
    assert table.rejects["reason_code"].tolist() == ["bad_coordinates"]
    assert table.rejects["message_en"].iloc[0] == (
        "row 3 (name=乙村卫生室): coordinates '106.6' are not 'longitude,latitude'; write e.g. "
        "106.4553,38.8481."
    )


def test_projected_metres_without_crs_are_out_of_range(tmp_path):
    path = tmp_path / "utm.csv"
    path.write_text("名称,类型,x,y\n甲镇卫生院,乡镇卫生院,545123.5,4306000\n", encoding="utf-8")
    table = read_facilities(path)
    assert table.rejects["reason_code"].tolist() == ["out_of_range"]
    assert table.rejects["message_en"].iloc[0] == (
        "row 2 (name=甲镇卫生院): longitude 545123.5 is outside -180…180; these look like "
        "projected metres: convert them to WGS84 degrees, or name the coordinate system in a "
        "坐标系/crs column (e.g. EPSG:32648)."
    )


def test_full_width_numbers_and_more_rejects(tmp_path):
    path = tmp_path / "odd.csv"
    path.write_text(
        "名称,类型,经度,纬度\n"
        "甲镇卫生院,乡镇卫生院,１０６．５,３８．９\n"  # full-width digits are fine
        "乙镇卫生院,乡镇卫生院,106.5°,38.9°\n"  # so is a degree sign
        "丙镇卫生院,乡镇卫生院,abc,xyz\n"
        "丁镇卫生院,乡镇卫生院,106.5,95\n"
        "戊镇卫生院,乡镇卫生院,nan,38\n",
        encoding="utf-8",
    )
    table = read_facilities(path)
    _balanced(table)
    assert [(p.x, p.y) for p in table.used.geometry] == [(106.5, 38.9), (106.5, 38.9)]
    assert table.rejects["reason_code"].tolist() == [
        "bad_coordinates",
        "out_of_range",
        "bad_coordinates",
    ]
    assert table.rejects["message_en"].tolist() == [
        "row 4 (name=丙镇卫生院): longitude 'abc' and latitude 'xyz' are not a number; write "
        "decimal degrees such as 106.4553.",
        "row 5 (name=丁镇卫生院): latitude 95 is outside -90…90; check the coordinates.",
        "row 6 (name=戊镇卫生院): longitude 'nan' is not a number; write decimal degrees such "
        "as 106.4553.",
    ]


def test_points_outside_china_are_kept():
    frame = pd.DataFrame(
        {"name": ["Hospital Nostra Senyora de Meritxell"], "type": ["hospital"]}
        | {"lon": [1.5333], "lat": [42.5106]}
    )
    table = read_facilities_frame(frame)
    assert table.used["category"].tolist() == ["general_hospital"]
    assert table.rejects.empty


# ---------------------------------------------------------------- XLSX


def _workbook(path: Path) -> None:
    book = openpyxl.Workbook()
    other = book.active
    other.title = "说明"
    other.append(["本表为测试用假设数据"])
    sheet = book.create_sheet("机构")
    sheet.append(["平罗县医疗机构（示例）"])  # title row 1
    sheet.append(["序号", "机构名称", "机构类别", "经度", "纬度", "编制床位", "执业医师数"])
    sheet.append([1001, "平罗县人民医院", "县医院", 106.544, 38.906, 600, 210])
    sheet.append([None] * 7)  # blank row 4
    sheet.append([1002, "平罗县黄渠桥镇中心卫生院", "中心卫生院", 106.67, 39.02, 40.0, "n/a"])
    sheet.append([1003, "平罗县黄渠桥镇西润村卫生室", "村卫生室", 39.01, 106.65, None, None])
    sheet.append([1001.0, "重复编号诊所", "诊所", 106.55, 38.91, None, None])
    book.save(path)


def test_xlsx_sheet_title_row_and_numbers(tmp_path):
    path = tmp_path / "facilities.xlsx"
    _workbook(path)
    with pytest.warns(
        DataQualityWarning, match=r"'执业医师数' \(doctors\) in row\(s\) 5 \('n/a'\)"
    ):
        table = read_facilities(path, sheet="机构")
    _balanced(table)
    assert table.read == 4
    assert table.used["facility_id"].tolist() == ["1001", "1002"]
    assert table.used["source_row"].tolist() == [3, 5]
    assert table.used["category"].tolist() == ["general_hospital", "central_township_hospital"]
    assert table.used["beds"].tolist() == [600.0, 40.0]
    assert table.used["doctors"].iloc[0] == 210.0 and math.isnan(table.used["doctors"].iloc[1])
    assert table.rejects["source_row"].tolist() == [6, 7]
    assert table.rejects["reason_code"].tolist() == ["swapped_coordinates", "duplicate_id"]
    assert table.rejects["message_en"].iloc[1] == (
        "row 7 (name=重复编号诊所): id '1001' is already used by row 3; give each facility its "
        "own id, or delete the repeated row."
    )
    assert table.rejects["经度"].tolist() == ["39.01", "106.55"]
    # by position too
    with pytest.warns(DataQualityWarning):
        assert read_facilities(path, sheet=1).read == 4


def test_xlsx_first_sheet_by_default_and_bad_sheet(tmp_path):
    path = tmp_path / "facilities.xlsx"
    _workbook(path)
    with pytest.raises(InputError, match=r"facilities\.xlsx \[说明\]: the header has no column"):
        read_facilities(path)  # the first sheet is the notes sheet
    with pytest.raises(InputError, match="no sheet '机构表'; the workbook has '说明', '机构'"):
        read_facilities(path, sheet="机构表")


def test_corrupt_xlsx(tmp_path):
    path = tmp_path / "broken.xlsx"
    path.write_text("not a zip", encoding="utf-8")
    with pytest.raises(InputError, match=r"broken\.xlsx: cannot be opened as an Excel"):
        read_facilities(path)


# ---------------------------------------------------------------- GeoJSON / GeoPackage


def _feature(props: dict, geometry: dict | None) -> dict:
    return {"type": "Feature", "properties": props, "geometry": geometry}


def _write_geojson(path: Path) -> None:
    ring = [[106.60, 39.00], [106.61, 39.00], [106.61, 39.01], [106.60, 39.01], [106.60, 39.00]]
    features = [
        _feature(
            {"编号": "G1", "名称": "平罗县人民医院", "类型": "综合医院", "床位数": 600},
            {"type": "Point", "coordinates": [106.544, 38.906]},
        ),
        _feature(
            {"编号": "G2", "名称": "某体育公园", "类型": "体育公园", "床位数": None},
            {"type": "Polygon", "coordinates": [ring]},
        ),
        _feature({"编号": "G3", "名称": "无位置卫生院", "类型": "卫生院"}, None),
        _feature(
            {"编号": "G4", "名称": "颠倒卫生室", "类型": "村卫生室"},
            {"type": "Point", "coordinates": [38.9, 106.5]},
        ),
        _feature(
            {"编号": "G5", "名称": "某药房", "类型": "pharmacy"},
            {"type": "Point", "coordinates": [106.55, 38.91]},
        ),
    ]
    path.write_text(
        json.dumps({"type": "FeatureCollection", "features": features}, ensure_ascii=False),
        encoding="utf-8",
    )


def test_geojson(tmp_path):
    path = tmp_path / "facilities.geojson"
    _write_geojson(path)
    table = read_facilities(path)
    _balanced(table)
    assert table.read == 5
    assert table.used["facility_id"].tolist() == ["G1", "G2"]
    assert table.used["source_row"].tolist() == [1, 2]
    assert table.used["category"].tolist() == ["general_hospital", "sports_park"]
    assert table.used["beds"].iloc[0] == 600.0 and math.isnan(table.used["beds"].iloc[1])
    park = table.used.geometry.iloc[1]
    assert shapely.box(106.60, 39.00, 106.61, 39.01).contains(park)  # interior point
    assert table.rejects["source_row"].tolist() == [3, 4, 5]
    assert table.rejects["reason_code"].tolist() == [
        "missing_coordinates",
        "swapped_coordinates",
        "unknown_category",
    ]
    assert table.rejects["message_en"].tolist()[:2] == [
        "feature 3 (name=无位置卫生院): the feature has no geometry; give it a point location.",
        "feature 4 (name=颠倒卫生室): longitude 38.9 looks like a latitude; are the coordinates "
        "swapped? Store points as (longitude, latitude): x is the longitude (73–136 in China), "
        "y the latitude (3–54).",
    ]
    assert table.rejects["message_zh"].iloc[0] == (
        "第 3 个要素（名称=无位置卫生院）：该要素没有几何位置；请为它加上点位。"
    )
    assert table.rejects["geometry"].tolist() == ["", "POINT (38.9 106.5)", "POINT (106.55 38.91)"]


def test_geopackage_projected_with_layers(tmp_path):
    path = tmp_path / "facilities.gpkg"
    wgs = gpd.GeoDataFrame(
        {"名称": ["甲镇卫生院", "乙村卫生室"], "类型": ["乡镇卫生院", "村卫生室"]},
        geometry=gpd.points_from_xy([106.5, 106.6], [38.9, 38.95]),
        crs="EPSG:4326",
    )
    wgs.to_crs("EPSG:32648").to_file(path, layer="utm", engine="pyogrio")
    wgs.iloc[:1].to_file(path, layer="second", engine="pyogrio")
    table = read_facilities(path)  # the first layer
    _balanced(table)
    assert table.read == 2
    assert table.used["coord_source"].tolist() == ["epsg:32648", "epsg:32648"]
    assert table.used["facility_id"].tolist() == ["row-1", "row-2"]
    xy = [(p.x, p.y) for p in table.used.geometry]
    assert xy == [pytest.approx((106.5, 38.9), abs=1e-9), pytest.approx((106.6, 38.95), abs=1e-9)]
    assert read_facilities(path, layer="second").read == 1
    with pytest.raises(InputError, match="no layer 'third'; the file has utm, second"):
        read_facilities(path, layer="third")


def test_gcj02_layer_labelled_wgs84(tmp_path):
    lon, lat = coords.wgs84_to_gcj02(106.5, 38.9)
    frame = gpd.GeoDataFrame(
        {"name": ["甲镇卫生院"], "category": ["乡镇卫生院"]},
        geometry=gpd.points_from_xy([lon], [lat]),
        crs="EPSG:4326",
    )
    path = tmp_path / "gcj.geojson"
    frame.to_file(path, engine="pyogrio")
    used = read_facilities(path, crs="GCJ-02").used
    assert used["coord_source"].tolist() == ["gcj02"]
    assert used.geometry.iloc[0].x == pytest.approx(106.5, abs=1e-9)
    assert used.geometry.iloc[0].y == pytest.approx(38.9, abs=1e-9)


# ---------------------------------------------------------------- real data: Macau OSM


MACAU = "facilities/macau_islands_health_osm.geojson"


def test_macau_osm_health_facilities(shared_file):
    table = read_facilities(shared_file(MACAU))
    _balanced(table)
    assert table.read == 25
    used = table.used
    assert len(used) == 14
    assert used["category"].value_counts().to_dict() == {
        "clinic": 7,
        "general_hospital": 5,
        "elderly_care": 1,  # the 安老院: a category since issue 14 (养老机构, 医养结合)
        "ems_station": 1,
    }
    assert used["tier"].value_counts().to_dict() == {"other": 9, "county": 5}
    # OSM ids become "<type>/<id>"
    assert used["facility_id"].iloc[0] == "node/6247491491"
    assert used.set_index("source_row").loc[3, "facility_id"] == "way/206105290"
    assert used["facility_id"].is_unique
    assert used.set_index("facility_id").loc["way/206105290", "address"] == "排角路 Rua do Pai Kok"
    assert used["coord_source"].eq("wgs84").all()
    # pharmacies (6) and dentists (2) are left out on purpose; the OSM "rehabilitation" tag
    # (3) is not a type: the message suggests 康复医院
    rejects = table.rejects
    assert rejects["reason_code"].eq("unknown_category").all()
    assert rejects["category"].value_counts().to_dict() == {
        "pharmacies": 6,
        "rehabilitation": 3,
        "dentists": 2,
    }
    assert rejects["source_row"].tolist() == [13, 14, 15, 16, 17, 18, 19, 20, 23, 24, 25]
    by_row = rejects.set_index("source_row")["message_en"]
    assert by_row[13] == (
        "feature 13 (name=仁輝藥房 Farmácia Yan Fai): category 'pharmacies' means pharmacy (药店), "
        "a type geoplan leaves out on purpose; delete the row, or change the category if the "
        "place is in fact another type (e.g. 诊所 / clinic)."
    )
    assert by_row[23].startswith(
        "feature 23 (name=九澳康復醫院 Hospital de Reabilitação Ká-Hó): category 'rehabilitation' "
        "is not a known facility type; did you mean 'rehabilitation hospital' (专科医院 / "
        "specialist hospital)?"
    )


def test_macau_boundary_rejects_points_outside_taipa(shared_file):
    parishes = gpd.read_file(shared_file("boundaries/macau_parishes_osm.gpkg"))
    taipa = parishes[parishes["name"].str.startswith("嘉模堂區")]
    assert len(taipa) == 1
    table = read_facilities(shared_file(MACAU), boundary=taipa)
    _balanced(table)
    assert len(table.used) == 7
    outside = table.rejects[table.rejects["reason_code"] == "outside_area"]
    assert outside["source_row"].tolist() == [1, 4, 6, 11, 12, 21, 22]  # 21: the 安老院
    distance = outside["message_en"].str.extract(r"lies ([\d,]+) m outside")[0]
    assert distance.tolist() == ["1,517", "1,583", "1,708", "981", "569", "788", "2,408"]
    assert outside["message_en"].iloc[4] == (
        "feature 12 (name=路環衛生站 Posto de Saúde de Coloane): the point lies 569 m outside the "
        "study area (tolerance 100 m); check the coordinates (a GCJ-02/BD-09 offset or a typo?) "
        "or the boundary, or delete the row."
    )
    # a tolerance larger than the nearest miss keeps that point
    wide = read_facilities(shared_file(MACAU), boundary=taipa, boundary_tolerance_m=600)
    assert (wide.rejects["reason_code"] == "outside_area").sum() == 6


def test_boundary_in_a_projected_crs_and_as_bare_geometry():
    counties = gpd.read_file(shipped_path("boundaries/targets_admin_tianditu_wgs84.geojson"))
    pingluo = counties[counties["adcode"].astype(str) == "640221"]
    for boundary in (pingluo.to_crs("EPSG:32648"), pingluo.geometry.iloc[0]):
        table = _read_sample(SAMPLE, boundary=boundary)
        _balanced(table)
        assert len(table.used) == 10
        last = table.rejects.iloc[-1]
        assert (last["source_row"], last["reason_code"]) == (23, "outside_area")
        assert "(name=银川市某诊所): the point lies 29," in last["message_en"]


# ---------------------------------------------------------------- in-memory tables


def test_read_facilities_frame_matches_the_file_and_does_not_mutate():
    frame = pd.read_csv(SAMPLE, dtype=str, keep_default_na=False, skip_blank_lines=False)
    before = frame.copy()
    with pytest.warns(DataQualityWarning, match="sample: '床位数'"):
        table = read_facilities_frame(frame, source="sample")
    pd.testing.assert_frame_equal(frame, before)
    # the DataFrame keeps the empty line as a row, so the rows line up with the file
    _assert_sample(table)
    assert table.source == "sample"


def test_read_facilities_frame_geodataframe():
    frame = gpd.GeoDataFrame(
        {"id": [" A ", "B"], "name": ["甲镇卫生院", "乙村卫生室"], "type": ["卫生院", "村卫生室"]},
        geometry=gpd.points_from_xy([106.5, 106.6], [38.9, 38.95]),
        crs="EPSG:4326",
    )
    table = read_facilities_frame(frame)
    assert table.used["facility_id"].tolist() == ["A", "B"]
    assert table.used["source_row"].tolist() == [1, 2]
    assert table.used.geometry.iloc[1].equals(shapely.Point(106.6, 38.95))


def test_rejected_features_keep_their_own_geometry_as_text():
    ring = shapely.box(106.60, 39.00, 106.61, 39.01)
    frame = gpd.GeoDataFrame(
        {
            "name": ["某体育公园", "无位置卫生院", "", "某药房"],
            "type": ["体育公园", "卫生院", "", "pharmacy"],
        },
        geometry=[ring, shapely.Point(), None, shapely.Point(106.55, 38.91)],
        crs="EPSG:4326",
    )
    table = read_facilities_frame(frame)
    _balanced(table)
    assert table.read == 3  # the blank feature (no cells, no geometry) is no record
    assert table.used["source_row"].tolist() == [1]
    rejects = table.rejects
    assert rejects["source_row"].tolist() == [2, 4]
    assert rejects["reason_code"].tolist() == ["missing_coordinates", "unknown_category"]
    assert rejects["geometry"].tolist() == ["", "POINT (106.55 38.91)"]
    # a rejected polygon is written as the polygon, not as the point it was placed at
    frame.loc[0, "type"] = "no such type"
    polygon = read_facilities_frame(frame).rejects
    assert polygon["geometry"].iloc[0] == shapely.to_wkt(ring, rounding_precision=7)


def test_read_facilities_frame_errors():
    with pytest.raises(InputError, match="mine: the header has no column for category"):
        read_facilities_frame(
            pd.DataFrame({"名称": ["a"], "经度": [1], "纬度": [2]}), source="mine"
        )
    with pytest.raises(InputError, match="table: the table has no rows"):
        read_facilities_frame(pd.DataFrame({"名称": [], "类型": [], "经度": [], "纬度": []}))


# ---------------------------------------------------------------- file-level errors


def test_missing_file():
    with pytest.raises(InputFileNotFoundError, match=r"facility file '.*nope\.csv' not found"):
        read_facilities(DATA / "nope.csv")


@pytest.mark.parametrize("content", [b"", b"  \n\n \r\n", "\ufeff\n".encode()])
def test_empty_file(tmp_path, content):
    path = tmp_path / "empty.csv"
    path.write_bytes(content)
    with pytest.raises(InputError, match=r"empty\.csv: the file is empty"):
        read_facilities(path)


def test_header_without_rows(tmp_path):
    path = tmp_path / "header.csv"
    path.write_text("名称,类型,经度,纬度\n,,,\n\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"header\.csv: the header is there but no data rows"):
        read_facilities(path)


def test_header_without_required_columns(tmp_path):
    path = tmp_path / "bad_header.csv"
    path.write_text("机构,备注,X坐标,Y坐标\n甲,乙,1,2\n", encoding="utf-8")
    with pytest.raises(InputError) as info:
        read_facilities(path)
    message = str(info.value)
    assert message.startswith(
        "bad_header.csv: the header has no column for category, lon, lat (found '机构', '备注', "
        "'X坐标', 'Y坐标'); rename the header cells to one of the accepted names (category: "
        "category, 类型, 机构类型"
    )
    assert "lon: lon, 经度" in message and "lat: lat, 纬度" in message
    assert "lonlat: 经纬度" in message


@pytest.mark.parametrize(
    ("name", "match"),
    [
        ("facilities.dat", r"facilities\.dat: unknown file type '\.dat'"),
        ("facilities", r"facilities: unknown file type '\(no extension\)'"),
        ("facilities.xls", r"facilities\.xls: old Excel \.xls files are not supported"),
    ],
)
def test_unsupported_files(tmp_path, name, match):
    path = tmp_path / name
    path.write_text("名称,类型,经度,纬度\n", encoding="utf-8")
    with pytest.raises(InputError, match=match):
        read_facilities(path)


def test_broken_geojson(tmp_path):
    path = tmp_path / "broken.geojson"
    path.write_text('{"type": "FeatureCollection", "features": [', encoding="utf-8")
    with pytest.raises(InputError, match=r"broken\.geojson: cannot be read as a GIS layer"):
        read_facilities(path)


# ---------------------------------------------------------------- the table and the rejects file


def test_facility_table_checks_its_counts():
    table = read_facilities_frame(
        pd.DataFrame({"名称": ["甲镇卫生院"], "类型": ["卫生院"], "经度": [106.5], "纬度": [38.9]})
    )
    assert table.reason_counts() == {}
    with pytest.raises(ValueError, match=r"read \(2\) != used \(1\) \+ rejected \(0\)"):
        FacilityTable(table.used, table.rejects, 2)


def test_write_rejects_is_utf8_with_bom(tmp_path):
    table = _read_sample(SAMPLE)
    out = write_rejects(table, tmp_path / "out" / "rejects.csv")
    assert out.read_bytes().startswith(b"\xef\xbb\xbf")
    back = pd.read_csv(out, encoding="utf-8-sig", dtype=str, keep_default_na=False)
    assert back["reason_code"].tolist() == [r[1] for r in SAMPLE_REJECTS]
    assert back["message_zh"].tolist() == [r[3] for r in SAMPLE_REJECTS]
    assert list(back.columns) == list(table.rejects.columns)
    assert [p.name for p in out.parent.iterdir()] == ["rejects.csv"]  # no temporary left


def test_shapefile_in_gbk_without_cpg(tmp_path):
    frame = gpd.GeoDataFrame(
        {"名称": ["甲镇卫生院"], "类型": ["乡镇卫生院"], "床位数": ["约30"]},
        geometry=gpd.points_from_xy([106.5], [38.9]),
        crs="EPSG:4326",
    )
    path = tmp_path / "facilities.shp"
    frame.to_file(path, encoding="gbk", engine="pyogrio")
    path.with_suffix(".cpg").unlink()  # as many Chinese shapefiles come
    with pytest.warns(DataQualityWarning, match=r"'床位数' \(beds\) in feature\(s\) 1") as caught:
        table = read_facilities(path)
    assert caught[0].filename == __file__  # the warning points at the caller
    assert table.used["name"].tolist() == ["甲镇卫生院"]
    assert table.used["category"].tolist() == ["township_hospital"]
