"""Registry QA: the checks of geoplan.analysis.qa, the readers' handling of export quirks, the
CLI."""

from __future__ import annotations

import logging
from pathlib import Path

import geopandas as gpd
import numpy as np
import openpyxl
import pandas as pd
import pytest
import shapely

from geoplan import coords
from geoplan._paths import shipped_path
from geoplan.analysis.qa import (
    QA_CHECKS,
    QA_COLUMNS,
    detect_gcj02,
    qa_facilities,
    tier_findings,
)
from geoplan.cli import main
from geoplan.errors import InputError, OutputExistsError
from geoplan.readers.boundaries import read_boundary
from geoplan.readers.facilities import FacilityTable, read_facilities, read_facilities_frame
from geoplan.workflows.check_facilities import check_facilities_file

BAD = Path(__file__).parent / "data" / "bad"
NETWORK = "osm/huangshi_tuanchengshan_all_2022.graphml.gz"
BOUNDARY_2024 = "osm/huangshi_tuanchengshan_drive_ghspop_2024.graphml.gz"


def _table(rows: list[dict]) -> FacilityTable:
    frame = pd.DataFrame(rows)
    for column in ("address",):
        if column not in frame:
            frame[column] = ""
    return read_facilities_frame(frame.rename(columns={"address": "地址"}))


def _checks(frame: pd.DataFrame) -> list[tuple]:
    rows = [None if pd.isna(r) else int(r) for r in frame["source_row"]]
    return list(zip(rows, frame["check"], frame["severity"], strict=True))


# ---------------------------------------------------------------- checks on used records


def test_tier_rules():
    table = _table(
        [
            # rule 2: a 卫生院 in an urban 街道 without 镇/乡
            {"名称": "团城山街道卫生院", "类型": "乡镇卫生院", "经度": 115.03, "纬度": 30.20},
            # a real township hospital: 镇 in the name
            {"名称": "某镇卫生院", "类型": "乡镇卫生院", "经度": 115.031, "纬度": 30.20},
            # rule 2 from the address
            {
                "名称": "某中心卫生院",
                "类型": "中心卫生院",
                "经度": 115.032,
                "纬度": 30.20,
                "address": "团城山街道桂林南路",
            },
            # rule 3: a 村卫生室 in a 街道 community
            {"名称": "团城山街道磁湖社区卫生室", "类型": "村卫生室", "经度": 115.033, "纬度": 30.2},
            # an urban village in a 街道: fine
            {"名称": "某街道某村卫生室", "类型": "村卫生室", "经度": 115.034, "纬度": 30.20},
            # rule 1: the name says 村卫生室, the category township
            {"名称": "某村卫生室", "类型": "乡镇卫生院", "经度": 115.035, "纬度": 30.20},
            # clinics are outside the chain: never a tier mismatch
            {"名称": "某街道诊所", "类型": "诊所", "经度": 115.036, "纬度": 30.20},
        ]
    )
    findings = tier_findings(table.used)
    assert [(f.source_row, f.check, f.severity) for f in findings] == [
        (2, "tier_mismatch", "warning"),
        (4, "tier_mismatch", "warning"),
        (5, "tier_mismatch", "warning"),
        (7, "tier_mismatch", "warning"),
    ]
    assert findings[0].message_en == (
        "row 2 (name=团城山街道卫生院): the category is 乡镇卫生院 (township hospital), which "
        "serves a 乡 or 镇, but the name or address says 街道/社区 and names no 乡 or 镇; in an "
        "urban sub-district this is usually a 社区卫生服务中心 (community health centre). Check "
        "the category."
    )
    assert findings[2].message_zh == (
        "第 5 行（名称=团城山街道磁湖社区卫生室）：类型为“村卫生室”（服务行政村），但名称或地址写的"
        "是街道，没有村、镇或乡；城市街道中对应的是社区卫生服务站，请核对类型。"
    )
    assert findings[3].message_en == (
        "row 7 (name=某村卫生室): the name reads as 村卫生室 (village clinic, village or "
        "community) but the category is 乡镇卫生院 (township hospital, township or "
        "sub-district); check the category or the name."
    )
    qa = qa_facilities(table)
    assert qa["check"].eq("tier_mismatch").sum() == 4


def test_outside_china_and_clean_table():
    table = _table(
        [
            {"名称": "某镇卫生院", "类型": "乡镇卫生院", "经度": 106.5, "纬度": 38.9},
            {"名称": "Hospital X", "类型": "hospital", "经度": -1.5, "纬度": 42.5},
        ]
    )
    qa = qa_facilities(table)
    assert _checks(qa) == [(3, "outside_china", "warning")]
    assert qa["message_zh"].iloc[0] == (
        "第 3 行（名称=Hospital X）：坐标 -1.5, 42.5 在中国范围（东经 73–136°、北纬 3–54°）之外；"
        "请核对坐标（是否录入错误或正负号错误）。"
    )
    clean = qa_facilities(
        _table([{"名称": "某镇卫生院", "类型": "卫生院", "经度": 106.5, "纬度": 38.9}])
    )
    assert clean.empty and list(clean.columns) == list(QA_COLUMNS)
    assert str(clean["source_row"].dtype) == "Int64"


def test_findings_are_ordered_file_first_then_by_row(tuanchengshan_walk):
    table = read_facilities(BAD / "gcj02_as_wgs84.csv")
    frame = table.used.drop(columns="geometry").rename(columns={"name": "名称", "category": "类型"})
    frame["经度"], frame["纬度"] = table.used.geometry.x, table.used.geometry.y
    frame = frame[["名称", "类型", "经度", "纬度"]]
    frame.loc[len(frame)] = ["大泉路社区卫生服务站（假设）", "社区卫生服务站", 115.0150, 30.2170]
    qa = qa_facilities(read_facilities_frame(frame), network=tuanchengshan_walk)
    assert _checks(qa) == [
        (None, "gcj02_suspected", "error"),
        (12, "duplicate", "error"),  # the same station twice: a run keeps one
    ]
    assert set(qa["check"]) <= set(QA_CHECKS)


def test_detect_needs_enough_declared_points(tuanchengshan_walk):
    table = read_facilities(BAD / "gcj02_as_wgs84.csv")
    assert detect_gcj02(table.used.iloc[:4], tuanchengshan_walk) is None
    few = detect_gcj02(table.used.iloc[:4], tuanchengshan_walk, min_points=3)
    assert few is not None and few.check == "gcj02_suspected"
    assert few.values["n_points"] == 4.0
    series = detect_gcj02(table.used.geometry, tuanchengshan_walk)  # a GeoSeries
    assert series is not None and series.check == "gcj02_suspected"
    assert series.values == detect_gcj02(table.used, tuanchengshan_walk).values
    # projected input is converted first
    utm = table.used.to_crs(tuanchengshan_walk.crs)
    assert detect_gcj02(utm, tuanchengshan_walk).check == "gcj02_suspected"
    assert detect_gcj02(table.used, tuanchengshan_walk, systems=("bd09",)) is None


def test_gcj02_detection_on_random_points_near_roads(tuanchengshan_walk):
    """50 draws of 10 WGS84 points 5–60 m beside random streets: never flagged as read;
    flagged in most draws once shifted to GCJ-02."""
    net = tuanchengshan_walk
    rng = np.random.default_rng(7)
    geoms = net.edges.geometry.to_numpy()
    weights = net.edges["length_m"].to_numpy() / net.edges["length_m"].sum()
    detected = 0
    for _ in range(50):
        idx = rng.choice(len(geoms), 10, p=weights)
        p = shapely.line_interpolate_point(geoms[idx], rng.uniform(0, 1, 10), normalized=True)
        angle, r = rng.uniform(0, 2 * np.pi, 10), rng.uniform(5, 60, 10)
        pts = shapely.points(
            shapely.get_x(p) + r * np.cos(angle), shapely.get_y(p) + r * np.sin(angle)
        )
        wgs = gpd.GeoSeries(pts, crs=net.crs).to_crs(4326)
        assert detect_gcj02(wgs, net) is None
        lon, lat = coords.wgs84_to_gcj02(wgs.x.to_numpy(), wgs.y.to_numpy())
        found = detect_gcj02(gpd.GeoSeries(gpd.points_from_xy(lon, lat), crs=4326), net)
        detected += found is not None and found.check == "gcj02_suspected"
    assert detected >= 40


# ---------------------------------------------------------------- readers: export quirks


def test_csv_two_row_header_with_group_units_and_notes(tmp_path, caplog):
    path = tmp_path / "export.csv"
    path.write_text(
        "表1 示例县医疗机构（假设）,,,,,,\n"
        "名称,类型,经度,纬度,床位,,人员情况\n"
        ",,,,编制,实有,医师数\n"
        "甲镇卫生院,乡镇卫生院,106.5,38.9,30,25,6\n"
        "\n"
        "一、村卫生室,,,,,,\n"
        "乙村卫生室,村卫生室,106.6,38.95,,,1\n"
        "小计,,,,30,25,7\n"
        "注1. 床位为 2023 年末数,,,,,,\n"
        "Source: test,,,,,,\n",
        encoding="utf-8",
    )
    with caplog.at_level(logging.INFO, logger="geoplan.readers.facilities"):
        table = read_facilities(path)
    assert (
        "export.csv: rows 2 and 3 are one two-row header; columns read as 名称, 类型, 经度, 纬度, "
        "编制床位, 实有床位, 医师数"
    ) in caplog.messages
    assert table.read == len(table.used) + len(table.rejects) == 6
    assert table.used["beds"].tolist() == [30.0, pytest.approx(np.nan, nan_ok=True)]
    assert table.used["doctors"].tolist() == [6.0, 1.0]
    assert list(zip(table.rejects["source_row"], table.rejects["reason_code"], strict=True)) == [
        (6, "notes_row"),
        (8, "total_row"),
        (9, "notes_row"),
        (10, "notes_row"),
    ]
    assert table.rejects["message_en"].iloc[0] == (
        "row 6: '一、村卫生室' is a note or heading, not a facility record; left out (nothing to "
        "fix; you may delete the row)."
    )


def test_units_row_under_the_header(tmp_path):
    path = tmp_path / "units.csv"
    path.write_text(
        "名称,类型,经度,纬度,床位数,医师数\n,,,,（张）,人\n甲镇卫生院,乡镇卫生院,106.5,38.9,30,6\n",
        encoding="utf-8",
    )
    table = read_facilities(path)
    assert table.read == 1
    assert (table.used["beds"].iloc[0], table.used["doctors"].iloc[0]) == (30.0, 6.0)
    assert table.used["source_row"].tolist() == [3]


def test_rows_that_only_look_like_notes_are_records(tmp_path):
    path = tmp_path / "records.csv"
    path.write_text(
        "名称,类型,经度,纬度\n"
        ",乡镇卫生院,,\n"  # text under the header, but no second header row: a record
        "合计,村卫生室,106.5,38.9\n"  # coordinates: a record (odd name, but a record)
        "注射室,诊所,106.6,38.9\n",  # 注 without a colon
        encoding="utf-8",
    )
    table = read_facilities(path)
    assert table.read == 3
    assert table.used["name"].tolist() == ["合计", "注射室"]
    assert table.rejects[["source_row", "reason_code"]].values.tolist() == [[2, "missing_name"]]


def test_description_sheet_first_names_the_table_sheet(tmp_path):
    path = tmp_path / "book.xlsx"
    book = openpyxl.Workbook()
    book.active.title = "说明"
    book.active.append(["本表为测试用假设数据"])
    sheet = book.create_sheet("机构")
    sheet.append(["名称", "类型", "经度", "纬度"])
    sheet.append(["甲镇卫生院", "乡镇卫生院", 106.5, 38.9])
    book.save(path)
    with pytest.raises(InputError) as info:
        read_facilities(path)
    assert str(info.value).endswith(
        ". The sheet '机构' looks like a facility table: choose it with sheet='机构' (command "
        "line: --sheet 机构)"
    )
    assert str(info.value).startswith("book.xlsx [说明]: the header has no column for")


# ---------------------------------------------------------------- files and the command


def test_read_boundary(tmp_path):
    graphml = read_boundary(shipped_path(BOUNDARY_2024))
    assert graphml.geometry.iloc[0].geom_type in {"Polygon", "MultiPolygon"}
    path = tmp_path / "area.geojson"
    graphml.to_crs(4326).to_file(path, engine="pyogrio")
    assert read_boundary(path).to_crs(graphml.crs).geometry.iloc[0].area == pytest.approx(
        graphml.geometry.iloc[0].area, rel=1e-6
    )
    points = tmp_path / "points.geojson"
    gpd.GeoDataFrame(geometry=gpd.points_from_xy([115.0], [30.2]), crs=4326).to_file(points)
    with pytest.raises(InputError, match=r"points\.geojson: no polygon in the layer"):
        read_boundary(points)


def test_check_facilities_file_writes_and_refuses_to_overwrite(tmp_path):
    out = tmp_path / "qa"
    report = check_facilities_file(BAD / "duplicates.csv", out=out)
    assert [p.name for p in report.written] == ["qa.csv", "rejects.csv"]
    raw = (out / "qa.csv").read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    back = pd.read_csv(out / "qa.csv", encoding="utf-8-sig", dtype=str, keep_default_na=False)
    assert list(back.columns) == list(QA_COLUMNS)
    assert back["check"].tolist() == [
        "duplicate_id",
        "duplicate",  # the same name and type 20 m away: rejected, as a run does
        "duplicate_coordinates",
    ]
    rejects = pd.read_csv(out / "rejects.csv", encoding="utf-8-sig", dtype=str)
    assert rejects["reason_code"].tolist() == ["duplicate_id", "duplicate"]
    with pytest.raises(OutputExistsError) as info:
        check_facilities_file(BAD / "duplicates.csv", out=out)
    assert str(info.value).startswith(f"{out} already holds the result of `geoplan check-")
    assert str(info.value).endswith("choose another --out or add --overwrite")
    check_facilities_file(BAD / "swapped.csv", out=out, overwrite=True)
    back = pd.read_csv(out / "qa.csv", encoding="utf-8-sig", dtype=str)
    assert back["check"].tolist() == ["swapped_coordinates"]


def test_report_text(tmp_path):
    report = check_facilities_file(BAD / "title_notes.xlsx", out=tmp_path)
    text = report.text()
    lines = text.splitlines()
    assert lines[:5] == [
        f"facility check / 设施数据检查: {BAD / 'title_notes.xlsx'}",
        "records: read 7, used 3, rejected 4 / 记录：读入 7，使用 3，拒绝 4",
        "findings: 0 errors, 0 warnings, 4 info / 问题：错误 0，警告 0，提示 4",
        "  · title_notes.xlsx [医疗机构]: header found on row 3",
        "  · not checked without --network / 未提供路网，未检查: far_from_road, gcj02_suspected, "
        "bd09_suspected",
    ]
    assert "[info] notes_row — 注释或标题行 / note or heading row: 3" in lines
    assert "[info] total_row — 合计行 / total row: 1" in lines
    assert f"wrote {tmp_path / 'qa.csv'}" in lines


def test_cli_check_facilities_on_the_gcj02_file(tmp_path, capsys):
    code = main(
        [
            "check-facilities",
            str(BAD / "gcj02_as_wgs84.csv"),
            "--network",
            str(shipped_path(NETWORK)),
            "--boundary",
            str(shipped_path(BOUNDARY_2024)),
            "--out",
            str(tmp_path),
        ]
    )
    captured = capsys.readouterr()
    assert code == 0, captured.err
    out = captured.out.splitlines()
    assert out[1] == "records: read 10, used 9, rejected 1 / 记录：读入 10，使用 9，拒绝 1"
    assert "[error] gcj02_suspected — 疑似 GCJ-02 坐标 / looks like GCJ-02 coordinates: 1" in out
    assert any('crs = "gcj02"' in line and "9 个点" in line for line in out)
    assert "[error] outside_area — 在研究区外 / outside the study area: 1" in out
    assert captured.err == ""
    # declared right: no suspicion, and the point near the boundary is inside
    code = main(
        [
            "check-facilities",
            str(BAD / "gcj02_as_wgs84.csv"),
            "--network",
            str(shipped_path(NETWORK)),
            "--boundary",
            str(shipped_path(BOUNDARY_2024)),
            "--crs",
            "gcj02",
            "--out",
            str(tmp_path),
            "--overwrite",
        ]
    )
    captured = capsys.readouterr()
    assert code == 0
    assert "records: read 10, used 10, rejected 0 / 记录：读入 10，使用 10，拒绝 0" in captured.out
    assert "no findings / 未发现问题" in captured.out


def test_cli_errors(tmp_path, capsys):
    assert main(["check-facilities", str(BAD / "header_only.csv"), "--out", str(tmp_path)]) == 1
    assert capsys.readouterr().err == (
        "geoplan: error: header_only.csv: the header is there but no data rows follow; add one "
        "row per facility\n"
    )
    assert main(["check-facilities", str(BAD / "several_sheets.xlsx"), "--out", str(tmp_path)]) == 1
    assert "--sheet 2022年" in capsys.readouterr().err
    args = ["check-facilities", str(BAD / "several_sheets.xlsx"), "--sheet", "2023年", "-q"]
    assert main([*args, "--out", str(tmp_path)]) == 0
    assert capsys.readouterr().out == ""
    assert main([*args, "--out", str(tmp_path)]) == 1  # exists now
    assert "add --overwrite" in capsys.readouterr().err
