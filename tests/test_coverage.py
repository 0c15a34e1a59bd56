"""Coverage, gaps and units on a hand-drawn network with hand-computed minutes.

    A(0,0) ──── B(600,0) ──── C(1200,0)        residential streets, walked at 60 m/min

Facility F (a community health station) stands at A. Residents: P1 at 300 m (5 min), P2 at
B (10 min exactly), P3 at C (20 min). A 10-minute rule covers P1 and P2 (inclusive ≤).
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from shapely.geometry import LineString, Point, box

from geoplan.analysis.coverage import compute_coverage, expand_categories, nearest_table
from geoplan.analysis.gaps import find_gaps
from geoplan.analysis.rules import Rule
from geoplan.errors import ConfigError
from geoplan.readers.boundaries import assign_units, units_from_frame
from geoplan.readers.network import Network

CRS = "EPSG:32650"


@pytest.fixture
def line_network():
    nodes = pd.DataFrame({"node_id": [1, 2, 3], "x": [0.0, 600.0, 1200.0], "y": [0.0] * 3})
    edges = gpd.GeoDataFrame(
        {
            "u": [0, 1],
            "v": [1, 2],
            "length_m": [600.0, 600.0],
            "highway": ["residential", "residential"],
            "oneway": [False, False],
            "name": ["甲路", "乙路"],
        },
        geometry=[LineString([(0, 0), (600, 0)]), LineString([(600, 0), (1200, 0)])],
        crs=CRS,
    )
    return Network(nodes=nodes, edges=edges, crs=CRS)


@pytest.fixture
def facilities():
    return gpd.GeoDataFrame(
        {
            "facility_id": ["F", "G"],
            "name": ["甲站", "乙健身点"],
            "category": ["community_health_station", "fitness_square"],
        },
        geometry=[Point(0, 0), Point(1200, 0)],
        crs=CRS,
    )


@pytest.fixture
def demand():
    return gpd.GeoDataFrame(
        {"demand_id": ["P1", "P2", "P3"], "population": [100.0, 50.0, 25.0]},
        geometry=[Point(300, 0), Point(600, 0), Point(1200, 0)],
        crs=CRS,
    )


def rule(threshold_min, categories=("medical",)):
    return Rule("r", "规则", "rule", tuple(categories), "walk", threshold_min, 1.0)


def test_inclusive_threshold_by_hand(line_network, facilities, demand):
    cov = compute_coverage(line_network, facilities, demand, [rule(10)], walk_speed_m_per_min=60)
    points = cov.table
    np.testing.assert_allclose(points["r_time_s"], [300, 600, 1200])
    assert list(points["r_covered"]) == [True, True, False]  # P2 at exactly 10 min is in
    assert list(points["r_facility_id"]) == ["F", "F", "F"]
    (summary,) = cov.summary()
    assert summary["population_covered"] == 150.0
    assert summary["share_covered"] == pytest.approx(150 / 175)
    assert summary["met"] is False


def test_just_below_threshold_is_out(line_network, facilities, demand):
    cov = compute_coverage(line_network, facilities, demand, [rule(9.999)], walk_speed_m_per_min=60)
    assert list(cov.table["r_covered"]) == [True, False, False]


def test_rule_uses_only_its_categories(line_network, facilities, demand):
    cov = compute_coverage(
        line_network, facilities, demand, [rule(10, ["fitness"])], walk_speed_m_per_min=60
    )
    np.testing.assert_allclose(cov.table["r_time_s"], [900, 600, 0])
    assert list(cov.table["r_facility_id"]) == ["G", "G", "G"]


def test_no_facility_of_the_category_leaves_everyone_uncovered(line_network, facilities, demand):
    cov = compute_coverage(
        line_network, facilities, demand, [rule(10, ["ems"])], walk_speed_m_per_min=60
    )
    assert cov.table["r_time_s"].isna().all()
    assert not cov.table["r_covered"].any()
    assert cov.summary()[0]["population_covered"] == 0.0


def test_unknown_category_in_a_rule_is_a_config_error():
    with pytest.raises(ConfigError, match="'hospitalz' is neither a category key, a group nor a"):
        expand_categories(["hospitalz"])


def test_by_unit_splits_population(line_network, facilities, demand):
    cov = compute_coverage(line_network, facilities, demand, [rule(10)], walk_speed_m_per_min=60)
    units = units_from_frame(
        gpd.GeoDataFrame(
            {"name": ["西片", "东片"], "code": ["W", "E"]},
            geometry=[box(-10, -10, 450, 10), box(450, -10, 1210, 10)],
            crs=CRS,
        ),
        name_column="name",
        code_column="code",
    )
    names, codes = assign_units(
        cov.table["x"].to_numpy(), cov.table["y"].to_numpy(), CRS, units, outside="outside"
    )
    cov.table["unit_name"], cov.table["unit_code"] = names, codes
    table = cov.by_unit().set_index("unit_code")
    assert table.loc["W", "population"] == 100.0
    assert table.loc["E", "population"] == 75.0
    assert table.loc["E", "r_population_covered"] == 50.0
    assert table.loc["E", "r_share_covered"] == pytest.approx(50 / 75)


def test_nearest_table_joins_back_by_id(line_network, facilities, demand):
    table = nearest_table(line_network, facilities, demand, mode="walk", walk_speed_m_per_min=60)
    assert list(table["demand_id"]) == ["P1", "P2", "P3"]
    assert table["facility_id"][0] == "F"
    assert table["facility_id"][1] in {"F", "G"}  # B is 600 s from both: a tie
    assert table["facility_id"][2] == "G"
    np.testing.assert_allclose(table["travel_time_s"], [300, 600, 0])


def test_access_legs_off_the_street_by_hand(line_network, facilities):
    # F 30 m and G 40 m off the street's ends; P 40 m off it at x = 300, Q on it at x = 1000.
    # At 1 m/s: P→F 40 + 300 + 30 = 370 s (→G 980 s), Q→G 200 + 40 = 240 s (→F 1030 s)
    off = facilities.set_geometry([Point(0, 30), Point(1200, -40)], crs=CRS)
    demand = gpd.GeoDataFrame(
        {"demand_id": ["P", "Q"], "population": [1.0, 2.0]},
        geometry=[Point(300, 40), Point(1000, 0)],
        crs=CRS,
    )
    table = nearest_table(line_network, off, demand, mode="walk", walk_speed_m_per_min=60)
    assert list(table["facility_id"]) == ["F", "G"]
    np.testing.assert_allclose(table["travel_time_s"], [370, 240])
    np.testing.assert_allclose(table["demand_snap_m"], [40, 0])
    np.testing.assert_allclose(table["facility_snap_m"], [30, 40])  # the chosen facility's leg
    cov = compute_coverage(line_network, off, demand, [rule(10)], walk_speed_m_per_min=60)
    np.testing.assert_allclose(cov.table["snap_distance_m"], [40, 0])
    np.testing.assert_allclose(cov.table["r_time_s"], [370, 1030])  # medical: F only
    assert list(cov.table["r_covered"]) == [True, False]


def test_gaps_rank_uncovered_cells_by_population():
    points = pd.DataFrame(
        {
            "x": [10.0, 20.0, 600.0, 1600.0, 1700.0],
            "y": [10.0, 20.0, 10.0, 10.0, 10.0],
            "population": [5.0, 5.0, 30.0, 7.0, 0.0],
            "unit_name": ["甲", "甲", "乙", "丙", "丙"],
        }
    )
    covered = np.array([False, False, False, False, False])
    times = np.array([1000.0, 1200.0, np.nan, 950.0, 960.0])
    gaps = find_gaps(
        points,
        rule_id="r",
        covered=covered,
        travel_time_s=times,
        facility_id=np.array(["F", "F", None, "G", "G"], dtype=object),
        crs=CRS,
        cell_m=500,
    )
    # cells: [0,500) holds 10 people, [500,1000) 30 (unreachable), [1500,2000) 7 (+ a zero)
    assert list(gaps["population"]) == [30.0, 10.0, 7.0]
    assert list(gaps["rank"]) == [1, 2, 3]
    assert list(gaps["gap_id"]) == ["r-001", "r-002", "r-003"]
    assert gaps["unreachable_population"].iloc[0] == 30.0
    assert np.isnan(gaps["median_travel_time_s"].iloc[0])
    assert gaps["median_travel_time_s"].iloc[1] == 1100.0
    assert gaps["nearest_facility_id"].iloc[1] == "F"
    assert gaps["unit_name"].iloc[2] == "丙"
    assert gaps.geometry.iloc[1].equals(box(0, 0, 500, 500))


def test_gaps_merge_touching_cells_when_asked():
    points = pd.DataFrame(
        {"x": [10.0, 510.0, 2600.0], "y": [10.0, 510.0, 10.0], "population": [1.0, 2.0, 4.0]}
    )
    gaps = find_gaps(
        points,
        rule_id="r",
        covered=np.zeros(3, bool),
        travel_time_s=np.ones(3) * 2000,
        facility_id=np.array(["F"] * 3, dtype=object),
        crs=CRS,
        cell_m=500,
        merge_contiguous=True,
    )
    assert list(gaps["population"]) == [4.0, 3.0]  # the two diagonal cells form one area
    assert list(gaps["n_points"]) == [1, 2]


def test_gaps_name_the_heaviest_facility_and_unit_ties_to_the_lowest():
    """Per area the facility (and unit) nearest to most of its residents: equal weights go to
    the lowest id, missing ids are not counted, an area of missing ids names none."""
    points = pd.DataFrame(
        {
            "x": [10.0, 20.0, 30.0, 40.0, 50.0, 610.0, 620.0, 1210.0],
            "y": [10.0] * 8,
            "population": [3.0, 2.0, 1.0, 3.0, 9.0, 4.0, 4.0, 5.0],
            "unit_name": pd.array(["乙", "甲", "甲", "乙", None, "丙", "丁", None], dtype=object),
        }
    )
    facility = np.array(["G", "F", "F", "B", None, "Z", "A", None], dtype=object)
    gaps = find_gaps(
        points,
        rule_id="r",
        covered=np.zeros(8, bool),
        travel_time_s=np.full(8, 1000.0),
        facility_id=facility,
        crs=CRS,
        cell_m=500,
    )
    # cell 0: G 3, F 3, B 3 (None 9 not counted) -> "B"; units 乙 6 > 甲 3
    # cell 1: Z 4 = A 4 -> "A"; 丙 4 = 丁 4 -> the lower string, "丁" (U+4E01 < U+4E19)
    # cell 2: nothing named
    by_x = gaps.sort_values("population", ascending=False)
    assert list(by_x["population"]) == [18.0, 8.0, 5.0]
    assert list(by_x["nearest_facility_id"].iloc[:2]) == ["B", "A"]
    assert list(by_x["unit_name"].iloc[:2]) == ["乙", "丁"]
    assert pd.isna(by_x["nearest_facility_id"].iloc[2]) and pd.isna(by_x["unit_name"].iloc[2])
    same = find_gaps(
        points.assign(unit_name=pd.Series(list(points["unit_name"]))),  # pandas ≥ 3: Arrow
        rule_id="r",
        covered=np.zeros(8, bool),
        travel_time_s=np.full(8, 1000.0),
        facility_id=pd.Series(facility).array,
        crs=CRS,
        cell_m=500,
    )
    pd.testing.assert_frame_equal(gaps, same)


def test_point_xy_is_geopandas_x_and_y_reprojected():
    """point_xy's one-pass coordinates: .x/.y of the reprojected points, bit for bit; empty
    and missing points NaN; a line refused as GeoSeries.x refuses it."""
    from geoplan.analysis.coverage import point_xy

    rng = np.random.default_rng(2)
    lonlat = gpd.GeoDataFrame(
        geometry=gpd.points_from_xy(rng.uniform(114, 115, 999), rng.uniform(30, 31, 999)), crs=4326
    )
    x, y = point_xy(lonlat, "EPSG:32650")
    moved = lonlat.to_crs(32650).geometry
    assert np.array_equal(x, moved.x.to_numpy()) and np.array_equal(y, moved.y.to_numpy())
    mixed = gpd.GeoDataFrame(geometry=[Point(1, 2), Point(), None, Point(3, 4)], crs=32650)
    x, y = point_xy(mixed, "EPSG:32650")
    assert np.array_equal(x, [1, np.nan, np.nan, 3], equal_nan=True)
    assert np.array_equal(y, [2, np.nan, np.nan, 4], equal_nan=True)
    with pytest.raises(ValueError):
        point_xy(gpd.GeoDataFrame(geometry=[LineString([(0, 0), (1, 1)])], crs=32650), 32650)
