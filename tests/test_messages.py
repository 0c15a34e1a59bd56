"""One home per message: every reason code has its (zh, en) title in geoplan.messages, and
the far-from-road rule gives one message wherever it applies."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from shapely.geometry import Point

from geoplan import messages
from geoplan.analysis.gaps import GAP_REASONS
from geoplan.analysis.preflight import reject_far_from_road
from geoplan.analysis.qa import QA_CHECKS
from geoplan.readers.facilities import REASON_CODES
from geoplan.readers.geocode import GEOCODE_REASON_CODES

PACKAGE = Path(__file__).resolve().parents[1] / "geoplan"


def test_every_reason_code_has_its_titles_in_the_catalogue():
    codes = {*REASON_CODES, *GEOCODE_REASON_CODES, *QA_CHECKS, *GAP_REASONS, "far_from_road"}
    assert codes <= set(messages.REASONS)
    for code in codes:
        zh, en = messages.reason(code)
        assert zh and en and zh != en
    for code, (_, zh, en) in QA_CHECKS.items():
        assert (zh, en) == messages.REASONS[code]
    with pytest.raises(KeyError, match="nope"):
        messages.reason("nope")


def test_a_record_is_named_one_way():
    assert messages.record_label("row", 12, "卫生院") == (
        "第 12 行（名称=卫生院）",
        "row 12 (name=卫生院)",
    )
    assert messages.record_label("feature", 3) == ("第 3 个要素", "feature 3")
    assert messages.record_kind("clinics.GeoJSON") == "feature"
    assert messages.record_kind("clinics.xlsx") == "row"


def test_far_from_road_rejects_with_the_one_message():
    used = gpd.GeoDataFrame(
        {
            "facility_id": ["a", "b", "c"],
            "name": ["近", "远", "正好"],
            "source_row": [2, 3, 4],
            "snap_distance_m": [10.0, 1334.6, 500.0],
        },
        geometry=[Point(115.0, 30.2)] * 3,
        crs=4326,
    )
    kept, rejects = reject_far_from_road(used, pd.DataFrame(), 500.0)
    assert kept["facility_id"].tolist() == ["a", "c"]  # the limit is inclusive
    assert rejects["reason_code"].tolist() == ["far_from_road"]
    zh, en = messages.far_from_road(messages.record_label("row", 3, "远"), 1334.6, 500.0)
    assert (rejects["message_zh"].iloc[0], rejects["message_en"].iloc[0]) == (zh, en)
    assert en.startswith("row 3 (name=远): 1,335 m from the nearest road, more than 500 m")
    assert "max_snap_m" in zh and "max_snap_m" in en


def test_a_table_without_rows_is_named_by_id():
    used = gpd.GeoDataFrame(
        {"facility_id": ["new-1"], "snap_distance_m": [np.float64(900.0)]},
        geometry=[Point(115.0, 30.2)],
        crs=4326,
    )
    _, rejects = reject_far_from_road(used, pd.DataFrame(), 500.0)
    assert rejects["message_en"].iloc[0].startswith("facility new-1 (new-1): 900 m from")


@pytest.mark.parametrize(
    "phrase",
    [
        "m from the nearest road",  # far_from_road
        "距最近道路 {",
        "is already used by",  # duplicate_id
        "m outside the study area (tolerance",  # outside_area
        "the place geocoded from",  # geocoded_outside_area
        "位置在研究区边界外",
        "coarser than the required",  # geocode_failed
    ],
)
def test_each_message_is_written_in_one_module(phrase):
    homes = [
        str(p.relative_to(PACKAGE))
        for p in sorted(PACKAGE.rglob("*.py"))
        if phrase in p.read_text(encoding="utf-8")
    ]
    assert homes == ["messages.py"]
