"""E-bike and motorcycle modes, editable speed tables, rules of several modes, modes by unit
type and sensitivity bands, on hand-drawn networks with hand-computed seconds.

    B(0,60)
    │ steps 60 m
    A(0,0) ─── residential 500 m ─── C(500,0) ─── residential 1500 m ─── D(2000,0)
    └──────────── C–B: residential, straight, √(500² + 60²) = 503.59 m ──┘

The facility stands at A. Walking at 60 m/min: B 60 s (the steps), D 2000 s. By e-bike
(15 km/h on residential roads, steps closed): B (500 + 503.59) m / (15/3.6) m/s = 240.86 s,
D 2000 m → 480 s. So a resident at B walks, one at D rides.
"""

from __future__ import annotations

import math

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from shapely.geometry import LineString, Point

from geoplan.analysis.coverage import UnitTypes, compute_coverage
from geoplan.analysis.rules import Rule
from geoplan.analysis.sensitivity import sensitivity_bands
from geoplan.errors import ConfigError
from geoplan.readers.access import CLOSED, OPEN, access_codes
from geoplan.readers.network import SPEED_KPH, Network, speed_table

CRS = "EPSG:32650"
CB = math.hypot(500, 60)
EBIKE_MPS = 15 / 3.6


def build(points, edges, **tags):
    """A network of ``points`` and straight edges ``(u, v, highway[, oneway])``."""
    nodes = pd.DataFrame(
        {
            "node_id": np.arange(len(points)) + 1,
            "x": [p[0] for p in points],
            "y": [p[1] for p in points],
        }
    )
    lines = [LineString([points[e[0]], points[e[1]]]) for e in edges]
    frame = gpd.GeoDataFrame(
        {
            "u": [e[0] for e in edges],
            "v": [e[1] for e in edges],
            "length_m": [line.length for line in lines],
            "highway": [e[2] for e in edges],
            "oneway": [bool(e[3]) if len(e) > 3 else False for e in edges],
            "name": [None] * len(edges),
            **tags,
        },
        geometry=lines,
        crs=CRS,
    )
    return Network(nodes=nodes, edges=frame, crs=CRS)


@pytest.fixture
def valley():
    points = [(0.0, 0.0), (0.0, 60.0), (500.0, 0.0), (2000.0, 0.0)]  # A B C D
    return build(
        points,
        [(0, 1, "steps"), (0, 2, "residential"), (2, 3, "residential"), (2, 1, "residential")],
    )


@pytest.fixture
def clinic():
    return gpd.GeoDataFrame(
        {"facility_id": ["F"], "category": ["clinic"]}, geometry=[Point(0, 0)], crs=CRS
    )


@pytest.fixture
def residents():
    return gpd.GeoDataFrame(
        {"demand_id": ["atB", "atD"], "population": [10.0, 30.0]},
        geometry=[Point(0, 60), Point(2000, 0)],
        crs=CRS,
    )


def run(network, clinic, residents, rules, **options):
    options.setdefault("walk_speed_m_per_min", 60)
    return compute_coverage(network, clinic, residents, rules, **options)


# --------------------------------------------------------------------------- speed tables


def test_ebike_and_motorcycle_edge_times_by_hand():
    # 100 m of each class, plus a one-way tertiary road and a one-way footway
    classes = ["tertiary", "footway", "steps", "motorway", "track", "tertiary", "footway"]
    points = [(100.0 * i, 0.0) for i in range(len(classes) + 1)]
    oneway = [False] * 5 + [True, True]
    net = build(
        points, [(i, i + 1, c, o) for i, (c, o) in enumerate(zip(classes, oneway, strict=True))]
    )
    ebike_f, ebike_b = net.edge_times_s("ebike")
    moto_f, moto_b = net.edge_times_s("motorcycle")
    inf = np.inf
    # e-bike: tertiary 20 km/h → 18 s, footway 8 → 45 s, steps and motorway closed, track 15
    np.testing.assert_allclose(ebike_f, [18, 45, inf, inf, 24, 18, 45])
    # one-way binds the e-bike on the road, not on the footway (as for bicycles)
    np.testing.assert_allclose(ebike_b, [18, 45, inf, inf, 24, inf, 45])
    # motorcycle: tertiary 35 km/h → 10.29 s, footway/steps/motorway closed, track 20 → 18 s
    np.testing.assert_allclose(moto_f, [360 / 35, inf, inf, inf, 18, 360 / 35, inf])
    np.testing.assert_allclose(moto_b, [360 / 35, inf, inf, inf, 18, inf, inf])


def test_project_speeds_replace_cells_open_and_close_classes():
    net = build([(0.0, 0.0), (100.0, 0.0), (200.0, 0.0), (300.0, 0.0)],
                [(0, 1, "tertiary"), (1, 2, "path"), (2, 3, "village_lane")])  # fmt: skip
    speeds = {"motorcycle": {"tertiary": 18.0, "path": 12.0, "other": None}}
    forward, _ = net.edge_times_s("motorcycle", speeds=speeds)
    # 100 m at 18 km/h = 20 s; path opened at 12 km/h = 30 s; the unknown class closed
    np.testing.assert_allclose(forward, [20, 30, np.inf])
    default, _ = net.edge_times_s("motorcycle")
    np.testing.assert_allclose(default, [360 / 35, np.inf, 360 / 20])  # (other) is 20 km/h
    # other modes keep their tables
    np.testing.assert_allclose(net.edge_times_s("ebike", speeds=speeds)[0], [18, 30, 24])
    table, other = speed_table("drive", {"residential": None})
    assert table["residential"] is None and table["primary"] == SPEED_KPH["drive"]["primary"]
    assert other == 20.0
    with pytest.raises(ConfigError, match="did you mean `tertiary`"):
        speed_table("ebike", {"teritary": 10})
    with pytest.raises(ConfigError, match="walking has no speed table"):
        speed_table("walk", {"residential": 5})


def test_access_tags_for_ebike_and_motorcycle():
    def code(mode, **tags):
        return int(access_codes(pd.DataFrame([tags]), mode)[0])

    # an e-bike is a non-motor vehicle: motor_vehicle=no leaves it in, its own key wins
    assert code("ebike", motor_vehicle="no") == OPEN
    assert code("motorcycle", motor_vehicle="no") == CLOSED
    assert code("motorcycle", motor_vehicle="no", motorcycle="yes") == OPEN
    assert code("ebike", electric_bicycle="no") == CLOSED
    assert code("bike", electric_bicycle="no") == OPEN
    assert code("ebike", bicycle="no") == CLOSED
    assert code("ebike", bicycle="no", electric_bicycle="yes") == OPEN
    assert code("motorcycle", service="emergency_access", access="yes") == CLOSED


def test_project_file_speed_tables_are_checked(tmp_path):
    import tomllib

    from geoplan.schema import check_table
    from geoplan.workflows.config import SENSITIVITY, SPEEDS

    def check(text, table=SPEEDS):
        return check_table(table, tomllib.loads(text)[table.name], file="p.toml")

    good = check('[speeds.ebike]\ntertiary = 18\ntrack = "no"\n')
    assert good == {"ebike": {"tertiary": 18.0, "track": "no"}}
    assert speed_table("ebike", good["ebike"])[0]["track"] is None  # "no" closes the class
    with pytest.raises(
        ConfigError, match=r"p.toml: \[speeds.ebike\] `teritary`: .*did you mean `tertiary`"
    ):
        check("[speeds.ebike]\nteritary = 10\n")
    with pytest.raises(ConfigError, match="km/h above 0"):
        check("[speeds.ebike]\ntertiary = 0\n")
    with pytest.raises(ConfigError, match="walk_speed_m_per_min"):
        check("[speeds.walk]\nresidential = 5\n")
    with pytest.raises(ConfigError, match="at most 64"):
        check(
            "[sensitivity]\nwalk_speed_m_per_min = [50, 60, 70, 80, 90, 100, 110, 120, 130]\n"
            "speed_factor = [0.5, 0.6, 0.7, 0.8, 0.9, 1.0, 1.1, 1.2]\n",
            SENSITIVITY,
        )
    with pytest.raises(ConfigError, match="walk_speed_m_per_min and/or speed_factor"):
        check("[sensitivity]\n", SENSITIVITY)


# --------------------------------------------------------------------------- several modes


def test_fastest_of_modes_by_hand(valley, clinic, residents):
    rule = Rule("r", "甲", "r", ("clinic",), None, 10.0, modes=["walk", "ebike"])
    cov = run(valley, clinic, residents, [rule])
    points = cov.table
    np.testing.assert_allclose(points["r_time_s"], [60.0, 2000 / EBIKE_MPS])
    assert list(points["r_mode"]) == ["walk", "ebike"]
    assert list(points["r_covered"]) == [True, True]
    (summary,) = cov.summary()
    assert summary["population_covered_by_mode"] == {"walk": 10.0, "ebike": 30.0}
    assert summary["mode"] == "walk+ebike" and summary["modes"] == ["walk", "ebike"]
    # the e-bike alone reaches B the long way round
    ebike = run(valley, clinic, residents, [Rule("e", "乙", "e", ("clinic",), "ebike", 10.0)])
    np.testing.assert_allclose(ebike.table["e_time_s"], [(500 + CB) / EBIKE_MPS, 480.0])


def test_several_modes_equal_the_minimum_of_single_mode_runs(valley, clinic):
    rng = np.random.default_rng(7)
    xy = np.column_stack([rng.uniform(0, 2000, 40), rng.uniform(-50, 100, 40)])
    people = gpd.GeoDataFrame(
        {"demand_id": [f"P{i}" for i in range(40)], "population": rng.uniform(1, 9, 40)},
        geometry=[Point(x, y) for x, y in xy],
        crs=CRS,
    )
    modes = ("walk", "bike", "ebike", "motorcycle")
    rules = [Rule("mix", "混合", "mix", ("clinic",), None, 8.0, modes=modes)] + [
        Rule(m, m, m, ("clinic",), m, 8.0) for m in modes
    ]
    points = run(valley, clinic, people, rules).table
    single = np.column_stack([points[f"{m}_time_s"].to_numpy() for m in modes])
    np.testing.assert_allclose(points["mix_time_s"], single.min(axis=1))
    assert list(points["mix_mode"]) == [modes[i] for i in single.argmin(axis=1)]
    assert list(points["mix_covered"]) == list(single.min(axis=1) <= 480)
    assert points["mix_covered"].sum() > points["walk_covered"].sum()


def test_ties_go_to_the_first_mode_listed(valley, clinic):
    at_clinic = gpd.GeoDataFrame(
        {"demand_id": ["here"], "population": [1.0]}, geometry=[Point(0, 0)], crs=CRS
    )
    for modes in (["walk", "ebike"], ["ebike", "walk"]):
        rule = Rule("r", "r", "r", ("clinic",), None, 5.0, modes=modes)
        points = run(valley, clinic, at_clinic, [rule]).table
        assert points["r_time_s"].iloc[0] == 0.0 and points["r_mode"].iloc[0] == modes[0]


def test_modes_by_unit_type_equal_the_single_mode_run_inside_each_unit(valley, clinic, residents):
    rule = Rule(
        "u", "城乡", "u", ("clinic",), None, 5.0,
        modes_by_unit_type={"urban": ["walk"], "rural": ["walk", "ebike"]},
    )  # fmt: skip
    single = [Rule(m, m, m, ("clinic",), m, 5.0) for m in ("walk", "ebike")]
    with pytest.raises(ConfigError, match="the units' types are needed"):
        run(valley, clinic, residents, [rule])
    for types in (["urban", "rural"], ["rural", "urban"]):
        cov = run(
            valley, clinic, residents, [rule, *single],
            unit_types=UnitTypes(np.array(types, dtype=object)),
        )  # fmt: skip
        points = cov.table
        walk, ebike = points["walk_time_s"].to_numpy(), points["ebike_time_s"].to_numpy()
        expected = np.where(np.array(types) == "urban", walk, np.fmin(walk, ebike))
        np.testing.assert_allclose(points["u_time_s"], expected)
    # urban D walks 2000 s (not covered in 5 min); rural B walks 60 s
    assert list(points["u_covered"]) == [True, False]
    with pytest.raises(ConfigError, match="names no modes for 'suburb'"):
        run(valley, clinic, residents, [rule],
            unit_types=UnitTypes(np.array(["urban", "suburb"], dtype=object)))  # fmt: skip
    fallback = Rule(
        "d", "d", "d", ("clinic",), None, 10.0,
        modes_by_unit_type={"urban": ["walk"], "default": ["ebike"]},
    )  # fmt: skip
    points = run(
        valley, clinic, residents, [fallback],
        unit_types=UnitTypes(np.array([None, "urban"], dtype=object)),
    ).table  # fmt: skip
    np.testing.assert_allclose(points["d_time_s"], [(500 + CB) / EBIKE_MPS, 2000.0])


def test_a_rule_of_several_modes_refuses_steps_that_need_one():
    rule = Rule("r", "r", "r", ("clinic",), None, 5.0, modes=["walk", "ebike"])
    with pytest.raises(ConfigError, match="several travel modes"):
        rule.mode  # noqa: B018
    with pytest.raises(ConfigError, match="mode or modes, not both"):
        Rule("r", "r", "r", ("clinic",), "walk", 5.0, modes=["walk"])
    with pytest.raises(ConfigError, match="named twice"):
        Rule("r", "r", "r", ("clinic",), None, 5.0, modes=["walk", "walk"])
    with pytest.raises(ConfigError, match="unknown travel mode 'boat'"):
        Rule("r", "r", "r", ("clinic",), None, 5.0, modes=["walk", "boat"])


# --------------------------------------------------------------------------- sensitivity


def test_sensitivity_bands_equal_independent_runs(valley, clinic, residents):
    rules = [
        Rule("walk", "步行", "walk", ("clinic",), "walk", 1.1),
        Rule("mix", "混合", "mix", ("clinic",), None, 7.0, modes=["walk", "ebike"]),
        Rule("drive", "驾车", "drive", ("clinic",), "drive", 5.0),
    ]
    cov = run(valley, clinic, residents, rules)
    walks, factors = [50.0, 60.0, 70.0], [0.8, 1.0, 1.25]
    result = sensitivity_bands(
        cov, walk_speeds=walks, speed_factors=factors, walk_speed_m_per_min=60
    )
    assert len(result["runs"]) == 9
    # walk: 3 speeds (the factor does not change it: remembered); mix: 9 combinations × 2
    # modes; drive: 9 (its access legs walk at each walking speed)
    assert result["engine_passes"] == 3 + 18 + 9
    total = 40.0
    shares = {r.id: [] for r in rules}
    for walk in walks:
        for factor in factors:
            scaled = {
                mode: {cls: None if kph is None else kph * factor for cls, kph in table.items()}
                | {"other": 20.0 * factor}
                for mode, table in SPEED_KPH.items()
                if mode != "walk"
            }
            alone = run(valley, clinic, residents, rules, walk_speed_m_per_min=walk, speeds=scaled)
            run_row = next(
                r for r in result["runs"]
                if r["walk_speed_m_per_min"] == walk and r["speed_factor"] == factor
            )  # fmt: skip
            for row in alone.summary():
                assert run_row["rules"][row["id"]]["share_covered"] == pytest.approx(
                    row["share_covered"]
                )
                shares[row["id"]].append(row["share_covered"])
    bands = {band["id"]: band for band in result["rules"]}
    for rid, values in shares.items():
        assert (bands[rid]["share_min"], bands[rid]["share_max"]) == (min(values), max(values))
    # by hand: B is 60 m of steps from the clinic: 72 s at 50 m/min (> 66 s), 60 s at 60 m/min
    assert (bands["walk"]["share_min"], bands["walk"]["share_max"]) == (0.0, 10 / total)
    # D by e-bike: 2000 m at 15 km/h × 0.8, × 1, × 1.25 = 600, 480, 384 s; within 7 min only
    # the last; B always walks
    assert (bands["mix"]["share_min"], bands["mix"]["share_max"]) == (10 / total, 1.0)
    # by car (25 km/h on residential roads): B 1003.6 m → 180.6 s at × 0.8, D 2000 m → 360 s
    # at × 0.8 (> 5 min), 288 s at × 1
    assert (bands["drive"]["share_min"], bands["drive"]["share_max"]) == (10 / total, 1.0)
