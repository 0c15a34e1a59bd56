"""One hand-made file per way facility records arrive broken (tests/data/bad/README.md).

Each test names the exact message (or reason code and message) a planner sees, and checks
that nothing is lost: every record is used or rejected, ``read == used + rejected``.
"""

from __future__ import annotations

import logging
import math
from pathlib import Path

import numpy as np
import openpyxl
import pandas as pd
import pyproj
import pytest

from geoplan import coords
from geoplan._paths import shipped_path
from geoplan.analysis.engine import snap_points
from geoplan.analysis.qa import QA_COLUMNS, detect_gcj02, qa_facilities
from geoplan.errors import DataQualityWarning, InputError
from geoplan.readers.demand import boundary_from_graphml
from geoplan.readers.facilities import (
    CAPACITY_ISSUE_COLUMNS,
    REASON_CODES,
    USED_COLUMNS,
    FacilityTable,
    read_facilities,
    read_facilities_frame,
)

BAD = Path(__file__).parent / "data" / "bad"
BOUNDARY_2024 = "osm/huangshi_tuanchengshan_drive_ghspop_2024.graphml.gz"


@pytest.fixture(scope="module")
def tuanchengshan_boundary():
    """The official 团城山 boundary stored in the 2024 GraphML."""
    return boundary_from_graphml(shipped_path(BOUNDARY_2024))


def _balanced(table: FacilityTable) -> None:
    assert table.read == len(table.used) + len(table.rejects)
    assert set(table.rejects["reason_code"]) <= set(REASON_CODES)
    assert list(table.used.columns) == list(USED_COLUMNS)


def _qa(table: FacilityTable, **kwargs) -> list[tuple]:
    """(source_row, check, severity, message_en) of every QA finding."""
    frame = qa_facilities(table, **kwargs)
    assert list(frame.columns) == list(QA_COLUMNS)
    rows = [None if pd.isna(r) else int(r) for r in frame["source_row"]]
    return list(zip(rows, frame["check"], frame["severity"], frame["message_en"], strict=True))


# ---------------------------------------------------------------- encodings and structure


def test_gbk_csv(caplog):
    raw = (BAD / "gbk.csv").read_bytes()
    with pytest.raises(UnicodeDecodeError):
        raw.decode("utf-8")
    with caplog.at_level(logging.INFO, logger="geoplan.readers.facilities"):
        table = read_facilities(BAD / "gbk.csv")
    assert "gbk.csv: not UTF-8, read as gb18030" in caplog.messages
    _balanced(table)
    assert (table.read, len(table.used), table.n_rejected) == (3, 2, 1)
    assert table.used["name"].tolist() == ["示例镇卫生院（假设）", "示例村卫生室（假设）"]
    assert table.used["address"].iloc[0] == "示例镇（假设地址）"
    reject = table.rejects.iloc[0]
    assert (reject["source_row"], reject["reason_code"]) == (4, "unknown_category")
    assert reject["message_zh"] == (
        "第 4 行（名称=示例社区医疗点（假设））：类型“社区医疗点”无法识别；是否应为“社区医院”"
        "（社区医院 / community hospital）？请使用 geoplan.taxonomy.CATEGORIES 中的类型"
        "（如乡镇卫生院、社区卫生服务中心、村卫生室、全民健身中心）。"
    )


def test_xlsx_with_title_blank_notes_and_total_rows(caplog):
    with caplog.at_level(logging.INFO, logger="geoplan.readers.facilities"):
        table = read_facilities(BAD / "title_notes.xlsx")
    assert "title_notes.xlsx [医疗机构]: header found on row 3" in caplog.messages
    _balanced(table)
    # the title (row 1) and the blank rows 2, 6 and 9 are no records; 3 used + 4 rejected
    assert (table.read, len(table.used), table.n_rejected) == (7, 3, 4)
    assert table.used["source_row"].tolist() == [4, 5, 7]
    assert table.used["beds"].tolist()[:2] == [40.0, 20.0]
    assert table.used["doctors"].tolist() == [10.0, 8.0, 1.0]
    rejects = table.rejects
    assert rejects["source_row"].tolist() == [8, 10, 11, 12]
    assert rejects["reason_code"].tolist() == ["total_row", "notes_row", "notes_row", "notes_row"]
    assert rejects["message_en"].tolist() == [
        "row 8: '合计' is a total row, not a facility record; left out (nothing to fix; you may "
        "delete the row).",
        "row 10: '注：本表为测试用假设数据，床位数为编制床位。' is a note or heading, not a "
        "facility record; left out (nothing to fix; you may delete the row).",
        "row 11: '数据来源：测试数据，非真实机构。' is a note or heading, not a facility record; "
        "left out (nothing to fix; you may delete the row).",
        "row 12: '填表人：张三' is a note or heading, not a facility record; left out (nothing to "
        "fix; you may delete the row).",
    ]
    assert rejects["message_zh"].tolist()[:2] == [
        "第 8 行：“合计”是合计行，不是设施记录，未读入；无需处理，也可从表中删除该行。",
        "第 10 行：“注：本表为测试用假设数据，床位数为编制床位。”是注释或标题行，不是设施记录，"
        "未读入；无需处理，也可从表中删除该行。",
    ]
    assert rejects["facility_id"].tolist() == ["row-8", "row-10", "row-11", "row-12"]
    assert rejects["序号"].tolist()[0] == "合计"  # the raw cells are kept
    checks = [(r[0], r[1], r[2]) for r in _qa(table)]
    assert checks == [
        (8, "total_row", "info"),
        (10, "notes_row", "info"),
        (11, "notes_row", "info"),
        (12, "notes_row", "info"),
    ]


def test_xlsx_with_merged_two_row_header(caplog):
    book = openpyxl.load_workbook(BAD / "merged_header.xlsx")
    assert "G1:H1" in {str(r) for r in book.active.merged_cells.ranges}  # really merged
    with caplog.at_level(logging.INFO, logger="geoplan.readers.facilities"):
        table = read_facilities(BAD / "merged_header.xlsx")
    assert (
        "merged_header.xlsx [机构]: rows 1 and 2 are one two-row header; columns read as 序号, "
        "机构名称, 机构类别, 经度, 纬度, 床位数, 医师数, 护士数"
    ) in caplog.messages
    _balanced(table)
    assert (table.read, len(table.used), table.n_rejected) == (3, 3, 0)
    assert table.used["source_row"].tolist() == [3, 4, 5]
    assert table.used["doctors"].tolist() == [10.0, 8.0, 1.0]
    assert table.used["nurses"].tolist()[:2] == [12.0, 9.0]
    assert math.isnan(table.used["nurses"].iloc[2])
    assert table.used["beds"].tolist()[:2] == [40.0, 20.0]


def test_several_facility_sheets_need_a_choice():
    with pytest.raises(InputError) as info:
        read_facilities(BAD / "several_sheets.xlsx")
    assert str(info.value) == (
        "several_sheets.xlsx: 2 sheets look like facility tables ('2022年', '2023年'); choose "
        "one with sheet= (e.g. sheet='2022年'; command line: --sheet 2022年)"
    )
    table = read_facilities(BAD / "several_sheets.xlsx", sheet="2023年")
    _balanced(table)
    assert table.read == 2


def test_first_non_empty_sheet_is_read(caplog):
    with caplog.at_level(logging.INFO, logger="geoplan.readers.facilities"):
        table = read_facilities(BAD / "empty_first_sheet.xlsx")
    assert (
        "empty_first_sheet.xlsx: reading sheet '机构', the first non-empty of 2 sheets "
        "('Sheet1', '机构')"
    ) in caplog.messages
    _balanced(table)
    assert table.used["name"].tolist() == ["示例镇卫生院（假设）"]


def test_empty_file():
    with pytest.raises(InputError) as info:
        read_facilities(BAD / "empty.csv")
    assert str(info.value) == "empty.csv: the file is empty; add a header row and facility rows"


def test_header_only_file():
    with pytest.raises(InputError) as info:
        read_facilities(BAD / "header_only.csv")
    assert str(info.value) == (
        "header_only.csv: the header is there but no data rows follow; add one row per facility"
    )


# ---------------------------------------------------------------- record problems


def test_swapped_coordinates():
    table = read_facilities(BAD / "swapped.csv")
    _balanced(table)
    assert (table.read, len(table.used), table.n_rejected) == (2, 1, 1)
    reject = table.rejects.iloc[0]
    assert (reject["source_row"], reject["reason_code"]) == (3, "swapped_coordinates")
    assert reject["message_en"] == (
        "row 3 (name=示例社区卫生服务站（假设）): longitude 30.1953 looks like a latitude; are the "
        "columns swapped? Put the longitude (73–136 in China) in '经度' and the latitude (3–54) "
        "in '纬度'."
    )
    assert reject["message_zh"] == (
        "第 3 行（名称=示例社区卫生服务站（假设））：经度 30.1953 像是纬度，经纬度两列是否填反了？"
        "请把经度（中国境内 73–136）填入“经度”，纬度（3–54）填入“纬度”。"
    )


def test_duplicates():
    table = read_facilities(BAD / "duplicates.csv")
    _balanced(table)
    assert (table.read, len(table.used), table.n_rejected) == (5, 4, 1)
    assert _qa(table) == [
        (
            3,
            "duplicate_id",
            "error",
            "row 3 (name=示例社区卫生服务站（假设）): id 'D-01' is already used by row 2; give "
            "each facility its own id, or delete the repeated row.",
        ),
        (
            4,
            "duplicate",
            "error",
            "row 4 (name=示例社区卫生服务中心（假设）): same name and category (community "
            "health centre) as row 2, 20 m away: a repeated record of one facility; row 2 is "
            "kept and this one is not counted. If they are two facilities, give them distinct "
            "names, or add --keep-duplicates.",
        ),
        (
            5,
            "duplicate_coordinates",
            "warning",
            "row 5 (name=示例健身广场（假设）): exactly the coordinates of row 2 (name=示例社区卫生"
            "服务中心（假设）); check whether one is a placeholder or both were geocoded to one "
            "point (e.g. a town centre).",
        ),
    ]
    zh = qa_facilities(table)["message_zh"].tolist()
    assert zh[1] == (
        "第 4 行（名称=示例社区卫生服务中心（假设））：与第 2 行同名同类（社区卫生服务中心），"
        "相距 20 米，视为同一设施的重复记录，保留第 2 行，本行不计入；如确为两个设施，请区分名称，"
        "或在命令行加 --keep-duplicates。"
    )
    # kept on purpose: a warning that they share a name
    kept = qa_facilities(table, keep_duplicates=True)
    assert kept["check"].tolist()[1] == "duplicate_name_nearby"
    assert kept["severity"].tolist()[1] == "warning"
    # a tighter radius no longer calls the 20 m pair a duplicate
    checks = qa_facilities(table, same_name_m=10)["check"].tolist()
    assert checks == ["duplicate_id", "duplicate_coordinates"]


def test_unknown_categories():
    table = read_facilities(BAD / "unknown_categories.csv")
    _balanced(table)
    assert (table.read, len(table.used), table.n_rejected) == (6, 1, 5)
    rejects = table.rejects
    assert rejects["reason_code"].tolist() == [
        "unknown_category",
        "unknown_category",
        "unknown_category",
        "missing_category",
        "unknown_category",
    ]
    assert rejects["message_en"].tolist() == [
        "row 2 (name=示例镇卫生院（假设）): category '乡镇卫生阮' is not a known facility type; "
        "did you mean '乡镇卫生院' (乡镇卫生院 / township hospital)? Otherwise use a type from "
        "geoplan.taxonomy.CATEGORIES (e.g. 乡镇卫生院, 社区卫生服务中心, 村卫生室, 全民健身中心).",
        "row 3 (name=示例社区卫生服务中心（假设）): category '社区卫生服物中心' is not a known "
        "facility type; did you mean '社区卫生服务中心' (社区卫生服务中心 / community health "
        "centre)? Otherwise use a type from geoplan.taxonomy.CATEGORIES (e.g. 乡镇卫生院, "
        "社区卫生服务中心, 村卫生室, 全民健身中心).",
        "row 4 (name=示例大药房（假设）): category '药店' means pharmacy (药店), a type geoplan "
        "leaves out on purpose; delete the row, or change the category if the place is in fact "
        "another type (e.g. 诊所 / clinic).",
        "row 5 (name=示例村卫生室（假设）): the category is empty; fill in the '类型' column (from "
        "the name it looks like 村卫生室 / village clinic).",
        "row 6 (name=示例宠物医院（假设）): category '宠物医院' means veterinary clinic "
        "(动物医院), a type geoplan leaves out on purpose; delete the row, or change the "
        "category if the place is in fact another type (e.g. 诊所 / clinic).",
    ]
    assert rejects["message_zh"].iloc[0] == (
        "第 2 行（名称=示例镇卫生院（假设））：类型“乡镇卫生阮”无法识别；是否应为“乡镇卫生院”"
        "（乡镇卫生院 / township hospital）？请使用 geoplan.taxonomy.CATEGORIES 中的类型"
        "（如乡镇卫生院、社区卫生服务中心、村卫生室、全民健身中心）。"
    )
    qa = _qa(table)
    assert [(r[0], r[1], r[2]) for r in qa] == [
        (2, "unknown_category", "error"),
        (3, "unknown_category", "error"),
        (4, "unknown_category", "error"),
        (5, "missing_category", "error"),
        (6, "unknown_category", "error"),
    ]
    assert [r[3] for r in qa] == rejects["message_en"].tolist()


def test_non_numeric_beds():
    with pytest.warns(DataQualityWarning) as caught:
        table = read_facilities(BAD / "bad_beds.csv")
    assert [str(w.message) for w in caught] == [
        "bad_beds.csv: '床位数' (beds) in row(s) 2 ('约20'), 4 ('-5'), 5 ('待定') is not a "
        "non-negative number; read as missing (NaN). 该列这些单元格不是非负数，按缺失处理；"
        "请改为数字。",
        "bad_beds.csv: '医师数' (doctors) in row(s) 3 ('若干') is not a non-negative number; read "
        "as missing (NaN). 该列这些单元格不是非负数，按缺失处理；请改为数字。",
    ]
    _balanced(table)
    assert (table.read, len(table.used), table.n_rejected) == (4, 4, 0)
    assert table.used["beds"].tolist()[1] == 20.0  # '20张' is a number with its unit
    issues = table.capacity_issues
    assert list(issues.columns) == list(CAPACITY_ISSUE_COLUMNS)
    assert issues[["source_row", "field", "column", "value"]].values.tolist() == [
        [2, "beds", "床位数", "约20"],
        [3, "doctors", "医师数", "若干"],
        [4, "beds", "床位数", "-5"],
        [5, "beds", "床位数", "待定"],
    ]
    assert issues["facility_id"].tolist() == ["B-01", "B-02", "B-03", "B-04"]
    qa = qa_facilities(table)
    assert qa["check"].eq("capacity_not_number").all()
    assert qa["severity"].eq("warning").all()
    assert qa["message_en"].tolist()[:2] == [
        "row 2 (name=示例镇卫生院（假设）): '床位数' (beds) is '约20', not a non-negative number; "
        "read as missing. Write a number (e.g. 20).",
        "row 3 (name=示例社区卫生服务中心（假设）): '医师数' (doctors) is '若干', not a "
        "non-negative number; read as missing. Write a number (e.g. 20).",
    ]
    assert qa["message_zh"].iloc[0] == (
        "第 2 行（名称=示例镇卫生院（假设））：“床位数”为“约20”，不是非负数，已按缺失处理；"
        "请改为数字（如 20）。"
    )


def test_far_from_any_road(tuanchengshan_walk, tuanchengshan_boundary):
    table = read_facilities(BAD / "far_from_road.csv", boundary=tuanchengshan_boundary)
    _balanced(table)
    assert (table.read, len(table.used), table.n_rejected) == (2, 2, 0)  # inside the area
    assert _qa(table, network=tuanchengshan_walk, boundary=tuanchengshan_boundary) == [
        (
            3,
            "far_from_road",
            "error",
            "row 3 (name=示例健身路径（假设）): 1,335 m from the nearest road, more than 500 m, so "
            "it is not used; check the coordinates (a GCJ-02/BD-09 offset or a typo?) and "
            "whether the network covers the place, or raise [facilities] max_snap_m.",
        )
    ]
    assert _qa(table, network=tuanchengshan_walk, max_snap_m=1500) == []
    assert _qa(table) == []  # without a network the check cannot run


def test_outside_the_area_and_outside_china(tuanchengshan_boundary):
    table = read_facilities(BAD / "outside_area.csv", boundary=tuanchengshan_boundary)
    _balanced(table)
    assert (table.read, len(table.used), table.n_rejected) == (3, 1, 2)
    assert table.rejects["reason_code"].tolist() == ["outside_area", "outside_area"]
    assert table.rejects["message_en"].tolist() == [
        "row 3 (name=示例综合医院（假设）): the point lies 3,723 m outside the study area "
        "(tolerance 100 m); check the coordinates (a GCJ-02/BD-09 offset or a typo?) or the "
        "boundary, or delete the row.",
        "row 4 (name=示例诊所（假设）): the point lies 10,658,782 m outside the study area "
        "(tolerance 100 m); check the coordinates (a GCJ-02/BD-09 offset or a typo?) or the "
        "boundary, or delete the row.",
    ]
    assert [r[:3] for r in _qa(table)] == [
        (3, "outside_area", "error"),
        (4, "outside_area", "error"),
    ]
    # read without the boundary: used, and QA names them (outside China too)
    loose = read_facilities(BAD / "outside_area.csv")
    _balanced(loose)
    assert _qa(loose, boundary=tuanchengshan_boundary) == [
        (
            3,
            "outside_area",
            "warning",
            "row 3 (name=示例综合医院（假设）): the point lies 3,723 m outside the study area; "
            "check the coordinates (a GCJ-02/BD-09 offset or a typo?) or the boundary.",
        ),
        (
            4,
            "outside_area",
            "warning",
            "row 4 (name=示例诊所（假设）): the point lies 10,658,782 m outside the study area; "
            "check the coordinates (a GCJ-02/BD-09 offset or a typo?) or the boundary.",
        ),
        (
            4,
            "outside_china",
            "warning",
            "row 4 (name=示例诊所（假设）): 1.5333, 42.5106 lies outside China (longitude 73–136, "
            "latitude 3–54); check the coordinates (a typo or a sign error?).",
        ),
    ]


# ---------------------------------------------------------------- GCJ-02 declared as WGS84


def _median_snap_m(network, lon: np.ndarray, lat: np.ndarray) -> float:
    x, y = pyproj.Transformer.from_crs(4326, network.crs, always_xy=True).transform(lon, lat)
    return float(np.median(snap_points(network, np.asarray(x), np.asarray(y)).snap_distance_m))


def test_gcj02_declared_as_wgs84_is_detected(tuanchengshan_walk):
    net = tuanchengshan_walk
    table = read_facilities(BAD / "gcj02_as_wgs84.csv")
    _balanced(table)
    assert (table.read, len(table.used)) == (10, 10)
    assert table.used["coord_source"].eq("wgs84").all()
    lon = table.used.geometry.x.to_numpy()
    lat = table.used.geometry.y.to_numpy()
    # measured here, independently of geoplan.analysis.qa
    as_read = _median_snap_m(net, lon, lat)
    converted = _median_snap_m(net, *coords.gcj02_to_wgs84(lon, lat))
    opposite = _median_snap_m(net, *coords.wgs84_to_gcj02(lon, lat))
    assert as_read > 50 and converted < 15 and opposite > 50
    finding = detect_gcj02(table.used, net)
    assert finding is not None
    assert (finding.check, finding.severity, finding.source_row) == (
        "gcj02_suspected",
        "error",
        None,
    )
    assert finding.values["median_snap_m_as_read"] == pytest.approx(as_read)
    assert finding.values["median_snap_m_converted"] == pytest.approx(converted)
    assert finding.values["median_snap_m_opposite"] == pytest.approx(opposite)
    medians = (
        f"the median distance of the 10 points to the nearest road is {as_read:,.0f} m as read "
        f"and {converted:,.0f} m after converting GCJ-02 to WGS84 ({opposite:,.0f} m when "
        "shifted the opposite way;"
    )
    assert medians in finding.message_en
    assert finding.message_en == (
        "the coordinates look like GCJ-02 (Amap/Tencent) but were read as WGS84: the median "
        "distance of the 10 points to the nearest road is 71 m as read and 9 m after converting "
        "GCJ-02 to WGS84 (66 m when shifted the opposite way; 90% of the points come closer; "
        'the conversion moves them about 580 m). Set crs = "gcj02" in the project\'s '
        "[facilities] table (command line: --crs gcj02), or add a 坐标系 column with GCJ-02."
    )
    assert finding.message_zh == (
        "坐标疑似 GCJ-02（高德/腾讯），却按 WGS84 读入：10 个点到最近道路的距离中位数按原样为 "
        "71 米，由 GCJ-02 换算为 WGS84 后为 9 米（向反方向偏移时为 66 米；90% 的点换算后更近；"
        '换算移动约 580 米）。请在项目文件 [facilities] 中设置 crs = "gcj02"（命令行 --crs '
        "gcj02），或增加“坐标系”列并填写 GCJ-02。"
    )
    qa = qa_facilities(table, network=net)
    assert qa["check"].tolist() == ["gcj02_suspected"]
    assert pd.isna(qa["source_row"].iloc[0])
    assert qa["message_en"].iloc[0] == finding.message_en


def test_gcj02_detection_is_quiet_on_correctly_declared_files(tuanchengshan_walk, tmp_path):
    net = tuanchengshan_walk
    declared = read_facilities(BAD / "gcj02_as_wgs84.csv", crs="gcj02")
    _balanced(declared)
    assert declared.used["coord_source"].eq("gcj02").all()
    assert detect_gcj02(declared.used, net) is None
    assert qa_facilities(declared, network=net).empty
    # the same (now true WGS84) positions in a file without a coordinate system
    lon = declared.used.geometry.x.to_numpy()
    lat = declared.used.geometry.y.to_numpy()
    frame = pd.DataFrame({"名称": declared.used["name"], "类型": "社区卫生服务站"})
    frame["经度"], frame["纬度"] = lon, lat
    wgs = read_facilities_frame(frame)
    assert wgs.used["coord_source"].eq("wgs84").all()
    assert detect_gcj02(wgs.used, net) is None
    assert _median_snap_m(net, lon, lat) < 15  # the true positions sit by their streets
    # a 坐标系 column declares the system as well
    path = tmp_path / "with_crs_column.csv"
    text = (BAD / "gcj02_as_wgs84.csv").read_text(encoding="utf-8").splitlines()
    path.write_text(
        "\n".join([text[0] + ",坐标系"] + [line + ",GCJ-02" for line in text[1:]]) + "\n",
        encoding="utf-8",
    )
    assert qa_facilities(read_facilities(path), network=net).empty


def test_bd09_declared_as_wgs84_is_detected(tuanchengshan_walk):
    net = tuanchengshan_walk
    true = read_facilities(BAD / "gcj02_as_wgs84.csv", crs="gcj02").used
    lon, lat = coords.wgs84_to_bd09(true.geometry.x.to_numpy(), true.geometry.y.to_numpy())
    frame = pd.DataFrame({"名称": true["name"], "类型": "社区卫生服务站", "经度": lon, "纬度": lat})
    table = read_facilities_frame(frame)
    finding = detect_gcj02(table.used, net)
    assert finding is not None and finding.check == "bd09_suspected"
    as_read = _median_snap_m(net, lon, lat)
    converted = _median_snap_m(net, *coords.bd09_to_wgs84(lon, lat))
    assert (
        f"is {as_read:,.0f} m as read and {converted:,.0f} m after converting BD-09 to WGS84"
        in finding.message_en
    )
    assert 'Set crs = "bd09"' in finding.message_en
    assert '请在项目文件 [facilities] 中设置 crs = "bd09"' in finding.message_zh
    assert read_facilities_frame(frame, crs="bd09").used.geometry.x.to_numpy() == pytest.approx(
        true.geometry.x.to_numpy(), abs=1e-9
    )
