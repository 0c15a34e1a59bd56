"""The plan packs' further kinds on the real 团城山 network, with hand-made facilities.

The boundary is split into two units, 西片 (城乡分类代码 111: urban) and 东片 (220: rural);
the facilities carry a grade (等级), an ownership (所有制), a township (所属乡镇), a
sub-centre designation (次中心) and yes/no columns. Expected values are counted from these
rows by hand, or recomputed with an independent networkx Dijkstra (referral, 片区).
"""

from __future__ import annotations

import json
import math

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from test_checks import _rows
from test_engine_real import _reference_times

from geoplan._paths import shipped_path
from geoplan.analysis import engine
from geoplan.analysis.capacity import travel_times_by_id, two_step_fca
from geoplan.analysis.catchments import weighted_percentile
from geoplan.analysis.coverage import OUTSIDE_UNITS
from geoplan.analysis.equity import concentration_index, gini, weighted_mean
from geoplan.errors import ConfigError
from geoplan.plans.packs import pack_from_mapping
from geoplan.readers.demand import boundary_from_graphml
from geoplan.workflows.plan_check import ALL_UNITS, INCOMPLETE, RURAL, URBAN, compute_checks
from geoplan.workflows.plan_kinds import ACROSS_UNITS, CONCENTRATION
from geoplan.workflows.project import DEMO_PROJECT, load_project

DRIVE_2024 = "osm/huangshi_tuanchengshan_drive_ghspop_2024.graphml.gz"
SPLIT_LON = 115.02

HEADER = (
    "编号,名称,类型,经度,纬度,等级,所有制,所属乡镇,次中心,老年医学科,两院一体,"
    "公共卫生人员数,卫生人员数"
)
ROWS = """
H1,区人民医院,综合医院,115.030000,30.199000,三级乙等,公立,东片镇,,是,,,
H2,民营医院,综合医院,115.015000,30.195000,二级,民营,西片镇,,否,,,
H3,一级医院,综合医院,115.012000,30.200000,一级,公立,西片镇,,是,,,
H4,等级未填医院,综合医院,115.025000,30.205000,,公立,东片镇,,,,,
TE,东片卫生院,乡镇卫生院,115.035700,30.201900,,公立,东片镇,是,,是,3,10
TW,西片中心卫生院,中心卫生院,115.011000,30.190000,,公立,西片镇,是,,否,2,10
VE1,东一村卫生室,村卫生室,115.031550,30.195250,,,东片镇,,,,,
VE2,东二村卫生室,村卫生室,115.036700,30.201900,,,东片镇,,,,,
VW1,西一村卫生室,村卫生室,115.019760,30.186330,,,西片镇,,,,,
VW2,西二村卫生室,村卫生室,115.014840,30.191540,,,西片镇,,,,,
VE3,东三村卫生室（飞地）,村卫生室,115.013500,30.191000,,,东片镇,,,,,
VX,无乡镇村卫生室,村卫生室,115.026070,30.200660,,,,,,,,
"""

SOURCE = {"kind": "预期性", "source": {"line": 1, "quote": "q"}}


def _pack(**tables):
    data = {"pack": {"id": "kinds", "plan_file": "kinds_plan.txt"}}
    for key, rules in tables.items():
        data[key] = [{**rule, **SOURCE} for rule in rules]
    return pack_from_mapping(data)


PACK = _pack(
    catchments=[
        {
            "id": "sub_centres",
            "attribute": ["次中心"],
            "categories": ["township_hospital", "central_township_hospital"],
            "mode": "drive",
            "min_count": 3,
            "percentiles": [50, 90],
            "threshold_min": 15,
        }
    ],
    referral=[
        {
            "id": "village_to_township",
            "from_categories": ["village_clinic"],
            "to_categories": ["township_hospital", "central_township_hospital"],
            "mode": "drive",
            "threshold_min": 2,
        },
        {
            "id": "township_to_lead",
            "from_categories": ["township_hospital", "central_township_hospital"],
            "to_categories": ["general_hospital"],
            "to_role": "medical_community_lead",
            "assign": "nearest",
            "mode": "drive",
        },
    ],
    shares=[
        {
            "id": "geriatrics",
            "categories": ["general_hospital"],
            "attribute": ["老年医学科"],
            "grade_at_least": 2,
            "target": 65,
        },
        {
            "id": "geriatrics_public",
            "categories": ["general_hospital"],
            "attribute": ["老年医学科"],
            "grade_at_least": 3,
            "ownership": "public",
            "target": 60,
        },
        {
            "id": "public_health_quarter",
            "categories": ["township_hospital", "central_township_hospital"],
            "numerator": "public_health_staff",
            "denominator": "staff",
            "facility_target": 0.25,
            "target": 100,
        },
    ],
    equity=[
        {
            "id": "primary_equity",
            "categories": ["township_hospital", "central_township_hospital", "village_clinic"],
            "mode": "walk",
        },
        {
            "id": "primary_equity_income",
            "categories": ["township_hospital", "central_township_hospital", "village_clinic"],
            "mode": "walk",
            "rank_by": "人均可支配收入",
            "max_gini": 0.2,
        },
        {
            "id": "primary_access_equity",
            "categories": ["township_hospital", "central_township_hospital", "village_clinic"],
            "mode": "walk",
            "measure": "access_2sfca",
            "supply": "facilities",
            "cutoff_min": 15,
        },
    ],
    named_units=[
        {
            "id": "named_township",
            "units": ["东片", "西片街道", "南片"],
            "categories": ["township_hospital"],
        }
    ],
    colocation=[
        {
            "id": "two_in_one",
            "categories": ["township_hospital", "central_township_hospital"],
            "with_categories": ["village_clinic"],
            "within_m": 150,
            "attribute": ["两院一体"],
            "target": 100,
        }
    ],
)


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    folder = tmp_path_factory.mktemp("kinds")
    (folder / "facilities.csv").write_text(HEADER + ROWS, encoding="utf-8")
    boundary = boundary_from_graphml(shipped_path(DRIVE_2024), name="团城山").to_crs(4326)
    area = boundary.geometry.union_all()
    west = shapely.box(100, 0, SPLIT_LON, 60).intersection(area)
    east = shapely.box(SPLIT_LON, 0, 130, 60).intersection(area)
    units = gpd.GeoDataFrame(
        {
            "name": ["西片", "东片"],
            "code": ["W", "E"],
            "城乡分类代码": [111, 220],
            "人均可支配收入": [52000, "41000"],
        },
        geometry=[west, east],
        crs=4326,
    )
    units.to_file(folder / "units.geojson", driver="GeoJSON")
    text = DEMO_PROJECT.read_text(encoding="utf-8")
    text = text.replace(
        'path = "../facilities/tuanchengshan_scenario.csv"', 'path = "facilities.csv"'
    ).replace(
        "[gaps]",
        '[units]\npath = "units.geojson"\nname_column = "name"\ncode_column = "code"\n'
        'type_column = "城乡分类代码"\nlevel = "township"\n\n'
        '[roles]\nmedical_community_lead = ["H1"]\n\n[gaps]',
    )
    path = folder / "project.toml"
    path.write_text(text, encoding="utf-8")
    return load_project(path)


@pytest.fixture(scope="module")
def result(project, plan_indicators):
    return compute_checks(project, PACK)


def _inside(points):
    """The demand points inside the units (as the plan checks count residents)."""
    return points[points["unit_name"] != OUTSIDE_UNITS].reset_index(drop=True)


def _facilities(result):
    return result.run.facilities.set_index("facility_id")


# ----------------------------------------------------------------------------- parsing


def test_unknown_tables_and_keys_are_refused_with_the_closest_name():
    with pytest.raises(ConfigError, match=r"did you mean \[\[referral\]\]"):
        pack_from_mapping({"pack": {"id": "p"}, "referal": []})
    with pytest.raises(ConfigError, match="threshold_min"):
        _pack(referral=[{**PACK_REFERRAL, "threshold_mins": 10}])
    with pytest.raises(ConfigError, match="either attribute"):
        _pack(shares=[{"id": "s", "categories": ["general_hospital"]}])
    with pytest.raises(ConfigError, match="numerator, denominator and facility_target"):
        _pack(shares=[{"id": "s", "categories": ["clinic"], "numerator": "beds"}])
    with pytest.raises(ConfigError, match="min_population is above"):
        _pack(catchments=[{"id": "c", "mode": "walk", "min_population": 9, "max_population": 1}])
    with pytest.raises(ConfigError, match="supply"):
        _pack(
            equity=[
                {
                    "id": "e",
                    "categories": ["clinic"],
                    "mode": "walk",
                    "measure": "access_2sfca",
                    "supply": "bedz",
                }
            ]
        )
    with pytest.raises(ConfigError, match=r"unique|duplicate"):
        _pack(shares=[SHARE, SHARE])
    assert PACK.rule_ids[:2] == ("sub_centres", "village_to_township")


PACK_REFERRAL = {
    "id": "r",
    "from_categories": ["village_clinic"],
    "to_categories": ["township_hospital"],
    "mode": "drive",
}
SHARE = {"id": "s", "categories": ["general_hospital"], "attribute": ["老年医学科"]}


# ----------------------------------------------------------------------------- inputs


def test_grade_ownership_and_unit_types_are_read(result):
    fac = _facilities(result)
    assert fac.loc["H1", "grade"] == "三级乙等" and fac.loc["H2", "grade"] == "二级"
    assert fac.loc["H4", "grade"] is None
    assert fac.loc["H2", "ownership"] == "private" and fac.loc["H1", "ownership"] == "public"
    assert fac.loc["VE1", "ownership"] is None
    assert set(result.checks["unit_name"]) >= {URBAN, RURAL}


# ----------------------------------------------------------------------------- 片区


def test_sub_centres_are_counted_and_their_catchments_equal_networkx(result, project):
    count = _rows(result, "sub_centres").loc[ALL_UNITS]
    assert count["value"] == 2 and count["target"] == 3  # TE and TW are designated
    assert count["status"] == "not met" and count["shortfall"] == 1
    table = result.tables["catchments"].set_index("hub_id")
    assert set(table.index) == {"TE", "TW"}

    # independent: networkx Dijkstra from each sub-centre; each resident to the fastest
    run = result.run
    network = run.network
    times = network.mode_times("drive", **project.network_options)
    assert times.private is None  # the reference has no private edges
    points = _inside(run.coverage.table)
    fac = _facilities(result).loc[["TE", "TW"]]
    xy = fac.geometry.to_crs(network.crs)
    hubs = engine.snap_points(
        network, xy.x.to_numpy(), xy.y.to_numpy(), usable=times.facility_edges
    )
    dem = engine.snap_points(
        network, points["x"].to_numpy(), points["y"].to_numpy(), usable=times.demand_edges
    )
    mps = project.walk_speed_m_per_min / 60
    each = np.column_stack(
        [
            _reference_times(
                network, times.forward_s, times.backward_s, hubs.take(np.array([h])), dem, mps
            )
            for h in range(2)
        ]
    )
    best = np.nanmin(np.where(np.isnan(each), np.inf, each), axis=1)
    hub = np.where(np.isfinite(best), np.argmin(np.where(np.isnan(each), np.inf, each), axis=1), -1)
    population = points["population"].to_numpy()
    for h, hub_id in enumerate(("TE", "TW")):
        mine = hub == h
        assert table.loc[hub_id, "population"] == pytest.approx(population[mine].sum())
        for q in (50, 90):
            expected = weighted_percentile(best[mine], population[mine], q) / 60
            assert table.loc[hub_id, f"p{q}_min"] == pytest.approx(expected, abs=1e-6)
        within = population[mine & (best <= 15 * 60)].sum() / population[mine].sum()
        assert table.loc[hub_id, "share_within"] == pytest.approx(within)
        row = _rows(result, "sub_centres").loc[f"{fac.loc[hub_id, 'name']}（片区 / catchment）"]
        assert row["value"] == pytest.approx(table.loc[hub_id, "p90_min"], abs=1e-4)
        assert row["status"] == ("met" if row["value"] <= 15 else "not met")
    figures = {c["rule_id"]: c for c in result.summary["checks"]}["sub_centres"]["figures"]
    unreachable = population[hub < 0].sum()
    assert figures["unreachable_population"] == pytest.approx(unreachable)
    assert table["population"].sum() + unreachable == pytest.approx(population.sum())


# ----------------------------------------------------------------------------- referral


def test_referral_table_equals_networkx_between_facility_pairs(result, project):
    table = result.tables["referral"]
    village = table[table["rule_id"] == "village_to_township"].set_index("facility_id")
    # same township (所属乡镇) first: VE* → TE, VW* → TW; VX has none: the nearest
    assert village.loc["VE1", "to_facility_id"] == "TE"
    assert village.loc["VE2", "to_facility_id"] == "TE"
    assert village.loc["VW1", "to_facility_id"] == "TW"
    assert village.loc["VW2", "to_facility_id"] == "TW"
    # VE3 lies beside TW but belongs to 东片镇: referred to TE, farther than the nearest
    assert village.loc["VE3", "to_facility_id"] == "TE"
    assert village.loc["VE3", "nearest_facility_id"] == "TW"
    assert village.loc["VE3", "travel_time_min"] > village.loc["VE3", "nearest_time_min"] + 1
    assert village.loc["VX", "assigned_by"] == "nearest_unit_unknown"
    assert village.loc["VX", "to_facility_id"] == village.loc["VX", "nearest_facility_id"]

    network = result.run.network
    times = network.mode_times("drive", **project.network_options)
    fac = _facilities(result)
    xy = fac.geometry.to_crs(network.crs)
    mps = project.walk_speed_m_per_min / 60

    def reference(lower_id, upper_id):
        low = engine.snap_points(
            network,
            np.array([xy[lower_id].x]),
            np.array([xy[lower_id].y]),
            usable=times.demand_edges,
        )
        up = engine.snap_points(
            network,
            np.array([xy[upper_id].x]),
            np.array([xy[upper_id].y]),
            usable=times.facility_edges,
        )
        return _reference_times(network, times.forward_s, times.backward_s, up, low, mps)[0] / 60

    for lower_id, row in village.iterrows():
        assert row["travel_time_min"] == pytest.approx(
            reference(lower_id, row["to_facility_id"]), abs=1e-6
        )
        nearest = min(reference(lower_id, u) for u in ("TE", "TW"))
        assert row["nearest_time_min"] == pytest.approx(nearest, abs=1e-6)
        assert row["within"] == (row["travel_time_min"] <= 2)
    rows = _rows(result, "village_to_township")
    share = 100 * village["within"].sum() / len(village)
    assert rows.loc[ALL_UNITS, "value"] == pytest.approx(share)
    assert 0 < share < 100  # some within 2 minutes, some not
    assert rows.loc[ALL_UNITS, "status"] == "not met"
    assert rows.loc[ALL_UNITS, "shortfall"] == len(village) - village["within"].sum()
    gaps = result.gaps[result.gaps["rule_id"] == "village_to_township"]
    assert set(gaps["facility_id"]) == set(village.index[~village["within"].astype(bool)])

    lead = table[table["rule_id"] == "township_to_lead"].set_index("facility_id")
    assert set(lead.index) == {"TE", "TW"} and set(lead["to_facility_id"]) == {"H1"}
    for lower_id, row in lead.iterrows():
        assert row["travel_time_min"] == pytest.approx(reference(lower_id, "H1"), abs=1e-6)
    assert (_rows(result, "township_to_lead")["status"] == "reported").all()


# ----------------------------------------------------------------------------- shares


def test_shares_over_grade_and_ownership_with_blanks(result):
    # grade ≥ 二级: H1 (三级, 是), H2 (二级, 否); H3 (一级) is out; H4's grade and cell are
    # blank: the share lies between 1/3 and 2/3 — 65 % is on both sides: incomplete data
    geriatrics = _rows(result, "geriatrics").loc[ALL_UNITS]
    assert geriatrics["value"] == pytest.approx(50.0)  # among the complete records
    assert geriatrics["status"] == INCOMPLETE
    assert "33.3 % and 66.7 %" in geriatrics["note"]
    # 三级 and 公立: H1 only (H4 public, grade unknown, cell blank): 50 … 100 % vs 60 %
    public = _rows(result, "geriatrics_public").loc[ALL_UNITS]
    assert public["status"] == INCOMPLETE and public["value"] == 100
    # per-facility ratio: TE 3/10 ≥ 0.25 yes, TW 2/10 no → 50 %, one facility short
    quarter = _rows(result, "public_health_quarter")
    assert quarter.loc[ALL_UNITS, "value"] == 50 and quarter.loc[ALL_UNITS, "status"] == "not met"
    assert quarter.loc[ALL_UNITS, "shortfall"] == 1
    assert quarter.loc["东片", "value"] == 100 and quarter.loc["西片", "value"] == 0
    assert quarter.loc["东片", "status"] == "reported"  # the plan judges the whole area
    assert quarter.loc[URBAN, "value"] == 0 and quarter.loc[RURAL, "value"] == 100
    gaps = result.gaps[result.gaps["rule_id"] == "public_health_quarter"]
    assert gaps["facility_id"].tolist() == ["TW"]


# ----------------------------------------------------------------------------- equity


def _primary_walk(result, project):
    """The walk times, the primary facilities' and the inside residents' snaps, and those
    residents: the equity rules' figures recomputed apart from the checks."""
    network = result.run.network
    times = network.mode_times("walk", **project.network_options)
    fac = _facilities(result)
    primary = ["township_hospital", "central_township_hospital", "village_clinic"]
    xy = fac[fac["category"].isin(primary)].geometry.to_crs(network.crs)
    points = _inside(result.run.coverage.table)
    facilities = engine.snap_points(
        network, xy.x.to_numpy(), xy.y.to_numpy(), usable=times.facility_edges
    )
    residents = engine.snap_points(
        network, points["x"].to_numpy(), points["y"].to_numpy(), usable=times.demand_edges
    )
    return times, facilities, residents, points


def test_equity_indices_equal_a_recomputation(result, project):
    run = result.run
    network = run.network
    times, at_facilities, at_residents, points = _primary_walk(result, project)
    near = engine.nearest_facility(
        network,
        times.forward_s,
        times.backward_s,
        at_facilities,
        at_residents,
        access_speed_m_per_min=project.walk_speed_m_per_min,
    )
    minutes = near.travel_time_s / 60
    ok = np.isfinite(minutes)
    x, w = minutes[ok], points["population"].to_numpy()[ok]
    unit = points["unit_name"].to_numpy()[ok]
    rows = _rows(result, "primary_equity")
    assert rows.loc[ALL_UNITS, "value"] == pytest.approx(gini(x, w), abs=1e-4)
    urban, rural = unit == "西片", unit == "东片"
    assert rows.loc[URBAN, "value"] == pytest.approx(weighted_mean(x[urban], w[urban]), abs=1e-4)
    assert rows.loc[RURAL, "value"] == pytest.approx(weighted_mean(x[rural], w[rural]), abs=1e-4)
    means = np.array([weighted_mean(x[m], w[m]) for m in (urban, rural)])
    sizes = np.array([w[urban].sum(), w[rural].sum()])
    assert rows.loc[ACROSS_UNITS, "value"] == pytest.approx(gini(means, sizes), abs=1e-4)
    # concentration index against each unit's residents per km²
    units = run.units.set_index("unit_name")
    km2 = units.geometry.to_crs(network.crs).area / 1e6
    residents = points.groupby("unit_name")["population"].sum()
    density = residents / km2
    rank = np.where(urban, density["西片"], density["东片"])
    assert rows.loc[CONCENTRATION, "value"] == pytest.approx(
        concentration_index(x, rank, w), abs=1e-4
    )
    assert math.isfinite(rows.loc[CONCENTRATION, "value"])
    # ranked by a column of the units layer (西片 52000 > 东片 41000, read as numbers)
    income = _rows(result, "primary_equity_income")
    by_income = np.where(urban, 52000.0, 41000.0)
    assert income.loc[CONCENTRATION, "value"] == pytest.approx(
        concentration_index(x, by_income, w), abs=1e-4
    )
    # judged: the residents' Gini at most 0.2
    assert income.loc[ALL_UNITS, "status"] == ("met" if gini(x, w) <= 0.2 else "not met")


def test_access_equity_is_the_gini_of_an_independent_2sfca(result, project):
    """2SFCA access (each facility one unit of supply, 15 minutes' walk) of the residents
    inside the units, from a matrix of their own (not the run's points) and capacity's 2SFCA:
    its population-weighted Gini is the rule's figure."""
    times, at_facilities, at_residents, points = _primary_walk(result, project)
    matrix = engine.travel_time_matrix(
        result.run.network,
        times.forward_s,
        times.backward_s,
        at_facilities,
        at_residents,
        cutoff_s=900.0,
        access_speed_m_per_min=project.walk_speed_m_per_min,
    )
    ids = [f"f{i}" for i in range(len(at_facilities))]
    demand = pd.Series(points["population"].to_numpy(), index=points["demand_id"].to_numpy())
    access = two_step_fca(
        travel_times_by_id(matrix, demand.index, ids),
        pd.Series(1.0, index=ids),
        demand,
        cutoff_s=900.0,
    )
    x = access.to_numpy() * 1000.0
    assert (x > 0).sum() > 10 and (x == 0).any()  # a real spread, not all zero
    rows = _rows(result, "primary_access_equity")
    assert rows.loc[ALL_UNITS, "value"] == pytest.approx(gini(x, demand.to_numpy()), abs=1e-4)


# ----------------------------------------------------------------------------- named, co-located


def test_named_units_and_colocation(result):
    named = _rows(result, "named_township")
    assert named.loc["东片", "status"] == "met" and named.loc["东片", "value"] == 1
    assert named.loc["西片", "status"] == "not met"  # 西片街道 matched to 西片; TW is central
    assert "taken for" in named.loc["西片", "note"]
    assert named.loc["南片", "status"] == "not computable"
    # TE has VE2 about 96 m away (0.001° of longitude at 30.2°N); TW none, and 两院一体 = 否
    two = _rows(result, "two_in_one").loc[ALL_UNITS]
    assert two["value"] == 50 and two["status"] == "not met"


def test_colocation_with_a_partner_category_the_taxonomy_does_not_know(project, plan_indicators):
    """An unknown partner category: the column alone tells when the rule names one (TE 是,
    TW 否), else the rule is one not-computable row naming the category."""
    rule = {
        "categories": ["township_hospital", "central_township_hospital"],
        "with_categories": ["village_clinc"],
        "within_m": 150,
        "target": 100,
    }
    pack = _pack(
        colocation=[
            {**rule, "id": "by_column", "attribute": ["两院一体"]},
            {**rule, "id": "no_column"},
        ]
    )
    result = compute_checks(project, pack)
    by_column = _rows(result, "by_column").loc[ALL_UNITS]
    assert by_column["value"] == 50 and by_column["status"] == "not met"
    no_column = result.checks[result.checks["rule_id"] == "no_column"]
    assert no_column["status"].tolist() == ["not computable"]
    assert "village_clinc are not in geoplan's taxonomy" in no_column["note"].iloc[0]


def test_grade_ownership_and_unit_type_words():
    from geoplan.readers.boundaries import parse_unit_type
    from geoplan.taxonomy import grade_level, parse_grade, parse_ownership

    for text, grade in (
        ("三级甲等", "三级甲等"),
        ("三甲", "三级甲等"),
        ("3级甲等", "三级甲等"),
        ("III级甲等", "三级甲等"),
        ("3A", "三级甲等"),
        ("二乙", "二级乙等"),
        ("二级", "二级"),
        ("一级医院", "一级"),
        ("未定级", "未定级"),
        ("", None),
        ("很好", None),
    ):
        assert parse_grade(text) == grade, text
    assert [grade_level(g) for g in ("三级乙等", "二级", "一级", "未定级", "")] == [
        3,
        2,
        1,
        0,
        None,
    ]
    for text, owner in (
        ("公立", "public"),
        ("政府办", "public"),
        ("集体", "public"),
        ("非公立", "private"),
        ("民营", "private"),
        ("个体", "private"),
        ("股份合作", "private"),
        ("", None),
        ("其他", None),
    ):
        assert parse_ownership(text) == owner, text
    for value, kind in (
        (111, "urban"),
        ("122", "urban"),
        (220.0, "rural"),
        ("210", "rural"),
        ("城镇", "urban"),
        ("农村", "rural"),
        ("rural", "rural"),
        ("", None),
        (None, None),
    ):
        assert parse_unit_type(value) == kind, value
    with pytest.raises(ValueError):
        parse_unit_type("330")


def test_an_unknown_unit_type_is_an_error_naming_the_unit(tmp_path):
    from geoplan.errors import InputError
    from geoplan.readers.boundaries import units_from_frame

    frame = gpd.GeoDataFrame(
        {"name": ["甲", "乙"], "kind": ["城镇", "郊区"]},
        geometry=[shapely.box(0, 0, 1, 1), shapely.box(1, 0, 2, 1)],
        crs=4326,
    )
    with pytest.raises(InputError, match=r"乙.*郊区"):
        units_from_frame(frame, name_column="name", type_column="kind")
    frame.loc[1, "kind"] = "乡村"
    units = units_from_frame(frame, name_column="name", type_column="kind")
    assert units["unit_type"].tolist() == ["urban", "rural"]


PACK_TOML = """
[pack]
id = "kinds_cli"
plan_file = "kinds_plan.txt"

[[catchments]]
id = "sub_centres"
attribute = ["次中心"]
mode = "drive"
threshold_min = 15
kind = "预期性"
source = {line = 1, quote = "q"}

[[referral]]
id = "village_to_township"
from_categories = ["village_clinic"]
to_categories = ["township_hospital", "central_township_hospital"]
mode = "drive"
kind = "预期性"
source = {line = 1, quote = "q"}

[[equity]]
id = "no_facilities_equity"
categories = ["general_hospital"]
mode = "walk"
measure = "access_2sfca"
supply = "facilities"
cutoff_min = 0.01
kind = "预期性"
source = {line = 1, quote = "q"}
"""


def test_check_writes_the_tables_and_replaces_them_exactly(project, tmp_path, plan_indicators):
    from geoplan.cli import main

    pack = tmp_path / "kinds.toml"
    pack.write_text(PACK_TOML, encoding="utf-8")
    out = tmp_path / "out"
    args = ["-q", "check", str(project.path), "--out", str(out)]
    assert main([*args, "--plan", str(pack)]) == 0
    referral = pd.read_csv(out / "referral.csv", encoding="utf-8-sig")
    assert len(referral) == 6 and set(referral["to_facility_id"]) == {"TE", "TW"}
    catchments = pd.read_csv(out / "catchments.csv", encoding="utf-8-sig")
    assert set(catchments["hub_id"]) == {"TE", "TW"}
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    figures = {c["rule_id"]: c.get("figures") for c in summary["checks"]}
    assert figures["village_to_township"]["facilities"] == 6
    # nobody lives within 0.01 minutes of a hospital: access is zero everywhere, its Gini
    # undefined — said as null in summary.json, not a crash on NaN
    assert figures["no_facilities_equity"]["gini_residents"] is None
    # a pack without these kinds replaces the result: no stale referral.csv is left
    assert main([*args, "--plan", "xiangqiao", "--overwrite"]) == 0
    assert not (out / "referral.csv").exists() and not (out / "catchments.csv").exists()


def test_urban_and_rural_rows_of_the_existing_kinds(project, plan_indicators):
    """Every share and access figure gets an urban and a rural row (西片 is the only urban
    unit, 东片 the only rural one, so each group's row equals its unit's)."""
    pack = _pack(
        circles=[
            {
                "id": "medical_15",
                "categories": ["medical"],
                "mode": "walk",
                "threshold_min": 15,
                "target_share": 1.0,
                "mode_note": "walk",
            }
        ],
        ratios=[{"id": "staff_per_1000", "numerator": "staff", "target": 1}],
        presence=[
            {
                "id": "geriatrics_presence",
                "scope": "facility",
                "categories": ["general_hospital"],
                "attribute": ["老年医学科"],
            }
        ],
    )
    result = compute_checks(project, pack)
    for rule_id in ("medical_15", "staff_per_1000", "geriatrics_presence"):
        rows = _rows(result, rule_id)
        assert set(rows.index) == {"西片", "东片", ALL_UNITS, URBAN, RURAL}, rule_id
        for unit, group in (("西片", URBAN), ("东片", RURAL)):
            assert rows.loc[group, "value"] == pytest.approx(rows.loc[unit, "value"], nan_ok=True)
    circle = _rows(result, "medical_15")
    population = result.run.coverage.table.groupby("unit_name")["population"].sum()
    whole = (
        circle.loc["西片", "value"] * population["西片"]
        + circle.loc["东片", "value"] * population["东片"]
    ) / (population["西片"] + population["东片"])
    assert circle.loc[ALL_UNITS, "value"] == pytest.approx(whole, abs=1e-3)


def test_the_leshan_pack_on_these_facilities_feeds_its_indicators(project, plan_indicators):
    """L117's share is incomplete (H4's grade and cell are blank), L77's count is 2 of 3."""
    result = compute_checks(project, "leshan_shizhong")
    indicators = result.indicators.set_index("indicator_zh")
    geriatrics = indicators.loc["二级及以上综合性医院设立老年医学科的比例"]
    assert geriatrics["status"] == INCOMPLETE
    assert _rows(result, "geriatrics_share").loc[ALL_UNITS, "status"] == INCOMPLETE
    sub_centres = indicators.loc["县域医疗卫生次中心"]
    assert sub_centres["current"] == 2 and sub_centres["status"] == "not met"
    named = _rows(result, "named_community_hospitals")
    assert set(named["status"]) == {"not computable"}  # no 海棠街道 among 西片 / 东片
    referral = result.tables["referral"]
    lead = referral[referral["rule_id"] == "medical_community_lead"]
    assert set(lead["to_facility_id"]) == {"H1"}  # [roles] medical_community_lead
