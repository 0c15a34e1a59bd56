"""Service areas (服务范围) and response rules on hand networks.

Walking at 60 m/min (1 m/s) seconds equal metres; driving a residential street at 25 km/h
covers 25 / 3.6 m per second. Every figure below is worked out by hand from the streets'
lengths: a service area's polygon must be the buffer of exactly the stretches reached within
its band, and a response rule (station → resident) must run the other way on one-way streets.
"""

from __future__ import annotations

import itertools
import math

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pytest
import shapely
from shapely.geometry import LineString
from test_streets import X0, Y0, network_of, points

from geoplan.analysis.coverage import compute_coverage, rule_times
from geoplan.analysis.rules import rule_from_mapping
from geoplan.analysis.service_areas import QUAD_SEGS, service_areas
from geoplan.errors import ConfigError

DRIVE_MPS = 25 / 3.6  # residential, drive (SPEED_KPH)
WIDTH = 50.0


def make_rule(rule_id="r", mode="walk", minutes=15.0, **extra):
    table = {
        "id": rule_id,
        "categories": ["medical"],
        "mode": mode,
        "threshold_min": minutes,
        **extra,
    }
    return rule_from_mapping(table, where="test")


def facilities_at(xy, categories=None):
    return points(
        xy,
        facility_id=[f"F{i}" for i in range(len(xy))],
        name=[f"facility {i}" for i in range(len(xy))],
        category=categories or ["community_health_centre"] * len(xy),
    )


def residents(xy, population=None):
    return points(
        xy,
        demand_id=[f"d{i}" for i in range(len(xy))],
        population=population or [1.0] * len(xy),
    )


def coverage_of(network, fac, rules, demand_xy=((0, 0),), **kw):
    return compute_coverage(
        network, fac, residents(list(demand_xy)), rules, walk_speed_m_per_min=60.0, **kw
    )


def lines(*coords) -> shapely.Geometry:
    """The union of straight lines given as offsets from X0, Y0."""
    return shapely.union_all([LineString([(X0 + x, Y0 + y) for x, y in line]) for line in coords])


def assert_same_area(polygon, reached, *, width=WIDTH):
    """``polygon`` is the buffer of ``reached`` (lines) and nothing else (a 1 m² slack over
    areas of 0.1 km² for the dissolve's vertex arithmetic)."""
    expected = shapely.buffer(reached, width, quad_segs=QUAD_SEGS)
    assert shapely.area(shapely.symmetric_difference(polygon, expected)) < 1.0
    assert polygon.area == pytest.approx(expected.area, rel=1e-9, abs=0.5)


# --------------------------------------------------------------------------- polygons


def test_facility_area_is_the_buffer_of_the_stretch_reached_in_each_band():
    net = network_of([((0, 0), (1000, 0))])
    fac = facilities_at([(400, 0)])
    cov = coverage_of(net, fac, [make_rule()])
    areas = service_areas(net, cov, fac, "r", bands_min=[5, 10], per="facility")
    assert list(areas["band_min"]) == [5.0, 10.0]
    assert list(areas["facility_id"]) == ["F0", "F0"]
    # 5 min = 300 m either side of x = 400; 10 min: 600 m to the left stops at the street's end
    assert_same_area(areas.geometry.iloc[0], lines([(100, 0), (700, 0)]))
    assert_same_area(areas.geometry.iloc[1], lines([(0, 0), (1000, 0)]))
    assert list(areas["street_km"]) == pytest.approx([0.6, 1.0])
    assert list(areas["area_km2"]) == pytest.approx(
        [a.area / 1e6 for a in areas.geometry], rel=1e-12
    )


def test_access_leg_of_a_facility_off_the_street_shortens_its_reach():
    net = network_of([((0, 0), (1000, 0))])
    fac = facilities_at([(400, 30)])  # 30 m off: 30 s of walking before the street
    cov = coverage_of(net, fac, [make_rule()])
    areas = service_areas(net, cov, fac, "r", bands_min=[5], per="facility")
    assert_same_area(areas.geometry.iloc[0], lines([(130, 0), (670, 0)]))


def test_area_follows_branches_and_stops_at_the_band_on_each():
    # a T: 200 m to the junction, then 160 m more on each branch within 6 min (360 s)
    net = network_of([((0, 0), (200, 0)), ((200, 0), (500, 0)), ((200, 0), (200, 400))])
    fac = facilities_at([(0, 0)])
    cov = coverage_of(net, fac, [make_rule()])
    areas = service_areas(net, cov, fac, "r", bands_min=[6], per="facility")
    reached = lines([(0, 0), (360, 0)], [(200, 0), (200, 160)])
    assert_same_area(areas.geometry.iloc[0], reached)
    assert areas["street_km"].iloc[0] == pytest.approx(0.52)


def test_catchments_split_where_two_facilities_are_equally_near():
    # F1 is 100 m off the street: a point x m from the left is 100 + 1000 - x s from F1,
    # x s from F0; equal at x = 550
    net = network_of([((0, 0), (1000, 0))])
    fac = facilities_at([(0, 0), (1000, 100)])
    cov = coverage_of(net, fac, [make_rule()])
    catch = service_areas(net, cov, fac, "r", bands_min=[15], per="catchment")
    assert list(catch["facility_id"]) == ["F0", "F1"]
    assert list(catch["street_km"]) == pytest.approx([0.55, 0.45])
    assert_same_area(catch.geometry.iloc[0], lines([(0, 0), (550, 0)]))
    assert_same_area(catch.geometry.iloc[1], lines([(550, 0), (1000, 0)]))
    # each facility's own reach overlaps: F0 900 m, F1 from x = 200 (100 + 800 = 900 s)
    own = service_areas(net, cov, fac, "r", bands_min=[15], per="facility")
    assert list(own["street_km"]) == pytest.approx([0.9, 0.8])
    # all together: the whole street
    together = service_areas(net, cov, fac, "r", bands_min=[15], per="rule")
    assert list(together["street_km"]) == pytest.approx([1.0])


def test_category_areas_are_the_reach_of_each_category_together():
    net = network_of([((0, 0), (1000, 0))])
    fac = facilities_at(
        [(0, 0), (1000, 0), (500, 0)],
        categories=["community_health_centre", "community_health_centre", "general_hospital"],
    )
    cov = coverage_of(net, fac, [make_rule()])
    areas = service_areas(net, cov, fac, "r", bands_min=[2], per="category")
    assert list(areas["category"]) == ["community_health_centre", "general_hospital"]
    # 2 min = 120 m: the two centres reach 0–120 and 880–1000, the hospital 380–620
    assert list(areas["street_km"]) == pytest.approx([0.24, 0.24])
    assert_same_area(areas.geometry.iloc[0], lines([(0, 0), (120, 0)], [(880, 0), (1000, 0)]))
    assert_same_area(areas.geometry.iloc[1], lines([(380, 0), (620, 0)]))


def test_population_inside_is_by_place_and_within_is_by_travel_time():
    net = network_of([((0, 0), (1000, 0))])
    fac = facilities_at([(0, 0)])
    # d0: 40 m off the street at x = 100 (inside the 50 m buffer, 140 s away);
    # d1: 60 m off at x = 100 (outside the buffer, 160 s away);
    # d2: on the street at x = 250 (inside, 250 s: beyond the 4-min band);
    # d3: on the street at x = 700 (outside the 4-min polygon, inside the 12-min one)
    demand = [(100, 40), (100, 60), (250, 0), (700, 0)]
    cov = compute_coverage(
        net,
        fac,
        residents(demand, [1.0, 10.0, 100.0, 1000.0]),
        [make_rule(minutes=4)],
        walk_speed_m_per_min=60.0,
    )
    areas = service_areas(net, cov, fac, "r", bands_min=[4, 12], per="rule")
    # 4 min = 240 m: polygon = buffer of 0–240; d1 is outside every 50 m buffer, yet within
    assert list(areas["population_inside"]) == [1.0 + 100.0, 1.0 + 100.0 + 1000.0]
    assert list(areas["population_within"]) == [11.0, 1111.0]
    # the rule's band at its threshold holds its covered population
    covered = cov.summary()[0]["population_covered"]
    assert areas["population_within"].iloc[0] == covered


def test_bands_are_cumulative_and_facility_rows_follow_band_order():
    net = network_of([((0, 0), (1000, 0))])
    fac = facilities_at([(0, 0), (1000, 0)])
    cov = coverage_of(net, fac, [make_rule()])
    areas = service_areas(net, cov, fac, "r", bands_min=[10, 2, 5], per="facility")
    assert list(areas["band_min"]) == [2.0, 5.0, 10.0] * 2
    for _, group in areas.groupby("facility_id"):
        geoms = list(group.geometry)
        for small, big in itertools.pairwise(geoms):
            assert big.buffer(1e-6).contains(small)


def test_bad_service_area_options_are_refused():
    net = network_of([((0, 0), (1000, 0))])
    fac = facilities_at([(0, 0)])
    cov = coverage_of(net, fac, [make_rule()])
    with pytest.raises(ConfigError, match="per must be"):
        service_areas(net, cov, fac, "r", per="township")
    with pytest.raises(ConfigError, match="width_m"):
        service_areas(net, cov, fac, "r", width_m=0)
    with pytest.raises(ConfigError, match="no coverage of rule 'x'"):
        service_areas(net, cov, fac, "x")


# --------------------------------------------------------------------------- response rules

# A(0,0) → B(1000,0) one-way for drivers; B–C–A two-way back round by C(500,1000)
TRIANGLE = [((0, 0), (1000, 0)), ((1000, 0), (500, 1000)), ((500, 1000), (0, 0))]
SIDE = math.hypot(500, 1000)


def triangle():
    return network_of(TRIANGLE, oneway=[True, False, False])


def test_response_runs_from_the_station_and_the_one_way_street_makes_it_shorter():
    net = triangle()
    station = facilities_at([(0, 0)])
    rules = [
        make_rule("access", mode="drive", minutes=3),
        make_rule("response", mode="drive", minutes=3, direction="from_facility"),
    ]
    cov = coverage_of(net, station, rules, demand_xy=[(1000, 0)])
    # resident at B: to the station B → C → A (2 sides); from it A → B straight
    assert cov.table["access_time_s"].iloc[0] == pytest.approx(2 * SIDE / DRIVE_MPS)
    assert cov.table["response_time_s"].iloc[0] == pytest.approx(1000 / DRIVE_MPS)
    assert not cov.table["access_covered"].iloc[0]
    assert cov.table["response_covered"].iloc[0]
    summary = {row["id"]: row for row in cov.summary()}
    assert summary["response"]["direction"] == "from_facility"
    assert "direction" not in summary["access"]


def test_response_service_area_covers_the_streets_the_ambulance_reaches():
    net = triangle()
    station = facilities_at([(0, 0)])
    rules = [
        make_rule("access", mode="drive", minutes=3),
        make_rule("response", mode="drive", minutes=3, direction="from_facility"),
    ]
    cov = coverage_of(net, station, rules)
    reach = 180 * DRIVE_MPS  # 1250 m in 3 min
    # from A: all of A→B (1000 m), then 250 m on from B towards C; all of A–C and
    # 1250 − SIDE m on from C towards B
    response = service_areas(net, cov, station, "response", bands_min=[3], per="facility")
    assert response["street_km"].iloc[0] == pytest.approx(2.5)
    b, c = np.array([1000.0, 0.0]), np.array([500.0, 1000.0])
    on_bc = lambda d: tuple(b + (c - b) * d / SIDE)  # noqa: E731 - d metres from B
    expected = lines(
        [(0, 0), (1000, 0)],
        [(1000, 0), on_bc(250)],
        [(0, 0), (500, 1000)],
        [(500, 1000), on_bc(SIDE - (reach - SIDE))],
    )
    assert_same_area(response.geometry.iloc[0], expected)
    # to A: A–C and the same 1250 − SIDE m beyond C; none of the one-way street but its start
    access = service_areas(net, cov, station, "access", bands_min=[3], per="facility")
    assert access["street_km"].iloc[0] == pytest.approx(1.25)
    assert_same_area(
        access.geometry.iloc[0],
        lines([(0, 0), (500, 1000)], [(500, 1000), on_bc(SIDE - (reach - SIDE))]),
    )


def test_congestion_profile_slows_the_named_road_classes_only():
    net = triangle()
    station = facilities_at([(0, 0)])
    profiles = {"peak": {"residential": 0.5}, "night": {"primary": 0.5}}
    rules = [
        make_rule("free", mode="drive", minutes=3, direction="from_facility"),
        make_rule("peak", mode="drive", minutes=3, direction="from_facility", congestion="peak"),
        make_rule("night", mode="drive", minutes=3, direction="from_facility", congestion="night"),
    ]
    cov = coverage_of(net, station, rules, demand_xy=[(1000, 0)], congestion=profiles)
    assert cov.table["free_time_s"].iloc[0] == pytest.approx(144.0)
    assert cov.table["peak_time_s"].iloc[0] == pytest.approx(288.0)  # half the speed
    assert cov.table["night_time_s"].iloc[0] == pytest.approx(144.0)  # no primary road here
    assert list(cov.table[["free_covered", "peak_covered"]].iloc[0]) == [True, False]
    free = rule_times(net, rules[0])
    peak = rule_times(net, rules[1], congestion=profiles)
    assert np.allclose(
        peak.forward_s[np.isfinite(free.forward_s)], 2 * free.forward_s[np.isfinite(free.forward_s)]
    )


def test_congestion_slows_the_projects_own_speeds_and_each_mode_of_a_mixed_rule():
    """[speeds.drive] and a congestion profile together: the profile multiplies the project's
    speed (50 km/h × 0.5 = 25 km/h, the default's 144 s over 1 km); a rule of several modes
    runs each in the rule's direction and profile and keeps the fastest; walking is not slowed
    by traffic."""
    net = triangle()
    station = facilities_at([(0, 0)])
    profiles = {"peak": {"residential": 0.5}, "jam": {"residential": 0.05}}
    speeds = {"drive": {"residential": 50}}

    def rule(rule_id, congestion, **travel):
        table = {"id": rule_id, "categories": ["medical"], "threshold_min": 3, **travel}
        return rule_from_mapping(
            table | {"direction": "from_facility", "congestion": congestion}, where="test"
        )

    rules = [
        rule("peak", "peak", mode="drive"),
        rule("mixed", "peak", modes=["walk", "drive"]),
        rule("jammed", "jam", modes=["walk", "drive"]),
    ]
    cov = coverage_of(
        net, station, rules, demand_xy=[(1000, 0)], congestion=profiles, speeds=speeds
    )
    row = cov.table.iloc[0]
    # A → B straight (one-way for cars, in the response direction)
    assert row["peak_time_s"] == pytest.approx(1000 / (50 * 0.5 / 3.6))
    assert (row["mixed_time_s"], row["mixed_mode"]) == (pytest.approx(144.0), "drive")
    # 2.5 km/h by car: walking (60 m/min, not slowed) is faster
    assert (row["jammed_time_s"], row["jammed_mode"]) == (pytest.approx(1000.0), "walk")
    # walking is not slowed by traffic: one walk leg for every profile
    assert set(cov.snapping) >= {"drive from_facility @peak", "walk from_facility"}
    assert not any(k.startswith("walk") and "@" in k for k in cov.snapping)
    with pytest.raises(ConfigError, match="congestion slows vehicles"):
        rule("walking", "peak", mode="walk")


def test_congestion_profiles_are_checked():
    net = triangle()
    rule = make_rule("peak", mode="drive", minutes=3, congestion="peak")
    with pytest.raises(ConfigError, match=r"'peak'.*does not define"):
        rule_times(net, rule, congestion={"am": {"primary": 0.5}})
    with pytest.raises(ConfigError, match="did you mean 'residential'"):
        rule_times(net, rule, congestion={"peak": {"residental": 0.5}})
    with pytest.raises(ConfigError, match="above 0"):
        rule_times(net, rule, congestion={"peak": {"residential": 0.0}})


def test_thresholds_by_unit_type_judge_urban_and_rural_residents_apart():
    from types import SimpleNamespace

    from geoplan.analysis.coverage import OUTSIDE_UNITS
    from geoplan.rendering.report import _Report, _Tr

    net = network_of([((0, 0), (1000, 0))])
    fac = facilities_at([(0, 0)])
    rule = make_rule(minutes=10, threshold_by_type={"urban": 5, "rural": 12})
    # 400 s, 400 s, 700 s, 700 s, 500 s away; types urban, rural, rural, then two without a
    # type: one outside every unit, one in a unit that has no type
    demand = residents([(400, 0), (400, 0), (700, 0), (700, 0), (500, 0)], [1, 2, 4, 8, 16.0])
    types = np.array(["urban", "rural", "rural", "", ""], dtype=object)
    cov = compute_coverage(net, fac, demand, [rule], walk_speed_m_per_min=60.0, unit_types=types)
    assert list(cov.table["r_covered"]) == [False, True, True, False, True]
    # without the residents' units, untyped residents are just that
    assert set(cov.summary()[0]["by_type"]) == {"urban", "rural", "untyped"}
    cov.table["unit_name"] = ["u", "r", "r", OUTSIDE_UNITS, "村 without a type"]  # as a run has
    row = cov.summary()[0]
    assert row["population_covered"] == 22.0
    assert row["by_type"]["urban"] == {
        "threshold_min": 5.0,
        "population": 1.0,
        "population_covered": 0.0,
        "share_covered": 0.0,
    }
    assert row["by_type"]["rural"]["population_covered"] == 6.0
    assert row["by_type"]["outside_units"] == {
        "threshold_min": 10.0,
        "population": 8.0,
        "population_covered": 0.0,
        "share_covered": 0.0,
    }
    assert row["by_type"]["untyped"] == {
        "threshold_min": 10.0,
        "population": 16.0,
        "population_covered": 16.0,
        "share_covered": 1.0,
    }
    # the report names them apart, in both languages
    for lang, untyped, outside in (
        ("zh", "未分类", "不在任何单元"),
        ("en", "untyped", "outside every unit"),
    ):
        text = _Report.travel_detail(SimpleNamespace(tr=_Tr(lang)), row)
        assert f"<td>{untyped}</td>" in text and f"<td>{outside}</td>" in text
    with pytest.raises(ConfigError, match="type_column"):
        compute_coverage(net, fac, demand, [rule], walk_speed_m_per_min=60.0)


# --------------------------------------------------------------------------- a project run


def test_demo_writes_one_service_area_layer_per_rule(demo_dir):
    import json

    summary = json.loads((demo_dir / "summary.json").read_text(encoding="utf-8"))
    meta = summary["service_areas"]
    assert meta["file"] == "service_areas.gpkg"
    layers = {name for name, _ in pyogrio.list_layers(demo_dir / meta["file"])}
    assert layers == {r["rule_id"] for r in meta["rules"]}
    for rule_meta in meta["rules"]:
        layer = gpd.read_file(demo_dir / meta["file"], layer=rule_meta["rule_id"])
        assert layer.crs.to_epsg() == 4326
        assert len(layer) == rule_meta["polygons"] > 0
        assert set(layer["band_min"]) <= set(rule_meta["bands_min"])
        assert layer.geometry.is_valid.all()
    html = (demo_dir / "map.html").read_text(encoding="utf-8")
    assert "gpAreas(" in html


# --------------------------------------------------------------------------- project keys


def test_unit_types_read_chinese_and_english_values_and_refuse_others():
    from shapely.geometry import box

    from geoplan.errors import InputError
    from geoplan.readers.boundaries import point_unit_types, units_from_frame

    frame = gpd.GeoDataFrame(
        {"name": ["A", "B", "C"], "kind": ["街道", "乡镇", " Urban "]},
        geometry=[box(0, 0, 1, 1), box(1, 0, 2, 1), box(2, 0, 3, 1)],
        crs=CRS_WGS84,
    )
    units = units_from_frame(frame, type_column="kind")
    assert list(units["unit_type"]) == ["urban", "rural", "urban"]
    names = np.array(["B", "A", "outside"], dtype=object)
    codes = np.array([*units["unit_code"].tolist()[1::-1], ""], dtype=object)
    assert list(point_unit_types(names, codes, units)) == ["rural", "urban", ""]
    frame.loc[1, "kind"] = "县城"
    with pytest.raises(InputError, match="unit 'B' has kind = '县城', which is not a unit type"):
        units_from_frame(frame, type_column="kind")


CRS_WGS84 = 4326

RESPONSE_RULE = """
[[rules]]
id = "ems_response"
name_zh = "急救响应"
name_en = "Ambulance response"
categories = ["ems_station"]
mode = "drive"
threshold_min = 12
direction = "from_facility"
"""


@pytest.mark.parametrize(
    ("append", "message"),
    [
        (RESPONSE_RULE + 'congestion = "peak"\n', "no such \\[congestion\\] profile"),
        (RESPONSE_RULE + "threshold_by_type = {urban = 12, rural = 30}\n", "type_column"),
        (RESPONSE_RULE + "threshold_by_type = {urbn = 12}\n", "did you mean 'urban'"),
        (RESPONSE_RULE.replace("from_facility", "backwards"), "direction"),
        ("[congestion]\npeak = {primry = 0.5}\n" + RESPONSE_RULE, "did you mean 'primary'"),
        ("[congestion]\npeak = {primary = 0}\n" + RESPONSE_RULE, "congestion"),
    ],
)
def test_project_refuses_response_keys_that_would_change_a_figure_unseen(
    demo_project, append, message
):
    from geoplan.workflows.project import load_project

    with pytest.raises(ConfigError, match=message):
        load_project(demo_project(append=append))


def test_project_refuses_service_areas_of_an_unknown_rule(demo_project):
    from geoplan.workflows.project import load_project

    path = demo_project(replace={'"medical_walk_15", "fitness_walk_15"]': '"medical_walk_51"]'})
    with pytest.raises(ConfigError, match="'medical_walk_51' is not a rule"):
        load_project(path)


def test_service_area_polygons_are_counted_against_their_limit_before_they_are_built(
    demo_project,
):
    from geoplan.errors import LimitError
    from geoplan.workflows import project as workflow

    # the demo: 6 medical and 4 fitness facilities × 3 bands = 30 polygons
    path = demo_project(append="[limits]\nservice_area_features = 29\n")
    loaded = workflow.load_project(path)
    with pytest.raises(LimitError, match="service_area_features"):
        workflow.run_project(loaded, path.parent / "out")
    assert not (path.parent / "out" / "service_areas.gpkg").exists()


# ------------------------------------------------------------- response rules in sites, scenarios

DRIVE_RULES = """
[congestion]
peak = {primary = 0.5, secondary = 0.6, tertiary = 0.7}

[[rules]]
id = "to_clinic"
name_zh = "驾车前往"
name_en = "Drive to"
categories = ["medical"]
mode = "drive"
threshold_min = 2

[[rules]]
id = "response"
name_zh = "急救响应"
name_en = "Response"
categories = ["medical"]
mode = "drive"
threshold_min = 2
direction = "from_facility"
congestion = "peak"
"""


@pytest.fixture(scope="module")
def drive_run(tmp_path_factory):
    from geoplan.workflows.project import DEMO_PROJECT, compute_project, load_project

    text = DEMO_PROJECT.read_text(encoding="utf-8")
    facilities = (DEMO_PROJECT.parent / "../facilities/tuanchengshan_scenario.csv").resolve()
    text = text.replace('"../facilities/tuanchengshan_scenario.csv"', f'"{facilities}"')
    path = tmp_path_factory.mktemp("drive") / "project.toml"
    path.write_text(text + DRIVE_RULES, encoding="utf-8")
    return compute_project(load_project(path))


def test_sites_and_scenarios_time_a_response_rule_as_the_run_does(drive_run):
    """The site-selection table of a response rule runs from the sites (with its congestion):
    its fastest existing facility per resident is the run's own time for the rule."""
    from geoplan.workflows.scenario import recompute_coverage
    from geoplan.workflows.sites import find_rule, site_travel_times

    points = drive_run.coverage.table
    no_sites = gpd.GeoDataFrame({"candidate_id": []}, geometry=[], crs=drive_run.network.crs)
    fastest = {}
    for rule_id in ("to_clinic", "response"):
        rule = find_rule(drive_run.project, rule_id)
        table, _, _ = site_travel_times(drive_run, rule, no_sites)
        best = table.groupby("demand_id", observed=True)["travel_time_s"].min()
        run_s = pd.Series(
            points[f"{rule_id}_time_s"].to_numpy(), index=points["demand_id"].astype(str)
        )
        within = run_s[run_s <= rule.threshold_s]
        assert len(within) > 50
        assert best.reindex(within.index).to_numpy() == pytest.approx(within.to_numpy())
        fastest[rule_id] = within
    # the two directions differ on the demo's one-way streets and congested roads
    both = fastest["to_clinic"].index.intersection(fastest["response"].index)
    assert not np.allclose(fastest["to_clinic"][both], fastest["response"][both])
    again = recompute_coverage(drive_run, drive_run.facilities)
    assert again.table["response_time_s"].to_numpy() == pytest.approx(
        points["response_time_s"].to_numpy(), nan_ok=True
    )


def typed_halves(folder):
    """The demo's boundary cut in two at its centroid, written to ``folder/units.gpkg``: the
    west half urban (城区), the east rural (乡镇). Returns the ``[units]`` table and a rule
    walking 5 min in town and 15 in the townships, and the cut's x (EPSG:32650)."""
    from shapely.geometry import box

    from geoplan._paths import shipped_path

    boundary = gpd.read_file(shipped_path("boundaries/huangshi_tuanchengshan_official.geojson"))
    boundary = boundary.to_crs(32650)
    whole = shapely.union_all(boundary.geometry.values)
    x = whole.centroid.x
    minx, miny, maxx, maxy = whole.bounds
    halves = [
        whole.intersection(box(minx, miny, x, maxy)),
        whole.intersection(box(x, miny, maxx, maxy)),
    ]
    units = gpd.GeoDataFrame(
        {"name": ["西 west", "东 east"], "kind": ["城区", "乡镇"]}, geometry=halves, crs=32650
    )
    units.to_file(folder / "units.gpkg", driver="GPKG")
    typed = """
[units]
path = "{path}"
name_column = "name"
type_column = "kind"

[[rules]]
id = "typed"
name_zh = "分城乡"
name_en = "Urban and rural"
categories = ["medical"]
mode = "walk"
threshold_min = 10
threshold_by_type = {{urban = 5, rural = 15}}
""".format(path=folder / "units.gpkg")
    return typed, x


def test_project_judges_urban_and_rural_units_by_their_own_thresholds(demo_project, tmp_path):
    """The demo cut in two (:func:`typed_halves`): the typed rule's figures per type are the
    residents' own times against their type's threshold."""
    from geoplan.workflows.project import compute_project, load_project

    typed, x = typed_halves(tmp_path)
    run = compute_project(load_project(demo_project(append=typed)))
    points = run.coverage.table
    row = next(r for r in run.summary["rules"] if r["id"] == "typed")
    pop = points["population"].to_numpy()
    time_s = points["typed_time_s"].to_numpy()
    west = points["x"].to_numpy() < x
    for kind, side, minutes in (("urban", west, 5), ("rural", ~west, 15)):
        figures = row["by_type"][kind]
        assert figures["threshold_min"] == minutes
        assert figures["population"] == pytest.approx(pop[side].sum())
        assert figures["population_covered"] == pytest.approx(
            pop[side & (time_s <= minutes * 60)].sum()
        )
    assert row["population_covered"] == pytest.approx(
        sum(row["by_type"][k]["population_covered"] for k in row["by_type"])
    )
    # the typed figures differ from the plain 15-minute rule's in the west only
    plain = points["medical_walk_15_covered"].to_numpy()
    assert (points["typed_covered"].to_numpy()[~west] == plain[~west]).all()
    assert pop[west & plain].sum() > row["by_type"]["urban"]["population_covered"]


@pytest.mark.slow
def test_report_shows_response_congestion_modes_and_figures_per_unit_type(demo_project, tmp_path):
    """The report says how each rule's times were taken and gives the typed figures of
    summary.json as a table; the service areas are named with their polygon counts."""
    import html as html_lib
    import json

    from geoplan.rendering.report import write_reports
    from geoplan.workflows.project import load_project, run_project

    mixed = """
[[rules]]
id = "mixed"
name_zh = "步行或驾车"
name_en = "Walk or drive"
categories = ["medical"]
modes = ["walk", "drive"]
threshold_min = 5
"""
    typed, _ = typed_halves(tmp_path)
    path = demo_project(append=DRIVE_RULES + typed + mixed)
    out = path.parent / "out"
    run_project(load_project(path), out)
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    write_reports(out, lang="en", pdf=False)
    text = html_lib.unescape((out / "report_en.html").read_text(encoding="utf-8"))
    response = text.split("id='rule-response'")[1].split("</section>")[0]
    assert "Response times: from the facility" in response
    assert "Congestion profile peak" in response
    assert "Congestion profile" not in text.split("id='rule-to_clinic'")[1].split("</section>")[0]
    rule = next(r for r in summary["rules"] if r["id"] == "mixed")
    drive = rule["population_covered_by_mode"]["drive"]
    assert drive > 0
    assert "by their fastest mode: walk " in text and f"drive {drive:,.0f}" in text
    areas = summary["service_areas"]["rules"]
    assert f"{areas[0]['rule_id']} {areas[0]['polygons']}" in text
    typed = next(r for r in summary["rules"] if r["id"] == "typed")["by_type"]
    section = text.split("id='rule-typed'")[1].split("</section>")[0]
    for kind, label in (("urban", "urban"), ("rural", "rural")):
        figures = typed[kind]
        row = section.split(f"<td>{label}</td>")[1].split("</tr>")[0]
        assert f">{figures['threshold_min']:g}<" in row
        assert f">{figures['population_covered']:,.0f}<" in row
