"""Capacity-aware access (2SFCA / E2SFCA) and capacity ratios per unit.

Hand-computed cases, then equality with PySAL ``access`` on the real 团城山 walking network
(facility placements and capacities are seeded random: synthetic supply on real streets and
real GHS-POP demand).
"""

from __future__ import annotations

import math
import warnings

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from shapely.geometry import Point, box

from geoplan._paths import shipped_path
from geoplan.analysis import capacity, engine
from geoplan.analysis.capacity import (
    access_by_unit,
    capacity_ratios,
    facility_ratios,
    gaussian_weight,
    per_thousand,
    travel_times_by_id,
    two_step_fca,
)
from geoplan.errors import ConfigError, DataQualityWarning, InputError
from geoplan.readers.demand import demand_from_graphml_edges
from geoplan.readers.network import mode_edge_mask


def _table(rows):
    return pd.DataFrame(rows, columns=["demand_id", "facility_id", "travel_time_s"])


# Facilities A (10 beds) and B (4 beds); demand x (100), y (200), z (50); cutoff 600 s.
HAND_PAIRS = [
    ("x", "A", 300.0),
    ("x", "B", 600.0),  # exactly at the cutoff: counts (inclusive)
    ("y", "A", 500.0),
    ("y", "B", 600.5),  # beyond: ignored
    ("z", "B", 100.0),
    ("z", "A", 900.0),  # beyond: ignored
]
HAND_SUPPLY = pd.Series({"A": 10.0, "B": 4.0})
HAND_DEMAND = pd.Series({"x": 100.0, "y": 200.0, "z": 50.0})


def test_two_step_fca_by_hand():
    # Step 1: R_A = 10 / (100 + 200) = 1/30; R_B = 4 / (100 + 50) = 2/75.
    # Step 2: x = R_A + R_B = 5/150 + 4/150 = 0.06; y = R_A = 1/30; z = R_B = 2/75.
    access = two_step_fca(_table(HAND_PAIRS), HAND_SUPPLY, HAND_DEMAND, cutoff_s=600)
    expected = pd.Series({"x": 0.06, "y": 1 / 30, "z": 2 / 75}, name="access")
    pd.testing.assert_series_equal(access, expected, rtol=0, atol=1e-15)
    ratios = facility_ratios(_table(HAND_PAIRS), HAND_SUPPLY, HAND_DEMAND, cutoff_s=600)
    np.testing.assert_allclose(ratios["demand_reached"], [300.0, 150.0])
    np.testing.assert_allclose(ratios["ratio"], [1 / 30, 2 / 75])
    # Supply is conserved: Σ access × population = Σ supply of facilities with residents.
    assert (access * HAND_DEMAND).sum() == pytest.approx(14.0)


def test_stepped_weights_by_hand():
    # Weights: t ≤ 300 → 1.0, 300 < t ≤ 600 → 0.5 (bounds inclusive, as access.weights.step_fn).
    # x–A 300 s → 1.0; x–B 600 s → 0.5; y–A 500 s → 0.5; z–B 100 s → 1.0.
    # R_A = 10 / (100·1 + 200·0.5) = 0.05; R_B = 4 / (100·0.5 + 50·1) = 0.04.
    # x = 1·0.05 + 0.5·0.04 = 0.07; y = 0.5·0.05 = 0.025; z = 1·0.04 = 0.04.
    steps = [(600, 0.5), (300, 1.0)]  # any order
    access = two_step_fca(_table(HAND_PAIRS), HAND_SUPPLY, HAND_DEMAND, cutoff_s=600, weight=steps)
    np.testing.assert_allclose(access.to_numpy(), [0.07, 0.025, 0.04], rtol=0, atol=1e-15)
    as_dict = two_step_fca(
        _table(HAND_PAIRS), HAND_SUPPLY, HAND_DEMAND, cutoff_s=600, weight={300: 1.0, 600: 0.5}
    )
    pd.testing.assert_series_equal(access, as_dict)
    # A callable gets seconds as an array.
    halves = two_step_fca(
        _table(HAND_PAIRS),
        HAND_SUPPLY,
        HAND_DEMAND,
        cutoff_s=600,
        weight=lambda t: np.where(t <= 300, 1.0, 0.5),
    )
    pd.testing.assert_series_equal(access, halves)


def test_gaussian_weight_ends_and_middle():
    w = gaussian_weight(np.array([0.0, 450.0, 900.0, 1000.0]), cutoff_s=900)
    middle = (math.exp(-0.125) - math.exp(-0.5)) / (1 - math.exp(-0.5))
    np.testing.assert_allclose(w, [1.0, middle, 0.0, 0.0], rtol=0, atol=1e-15)


def test_unreached_points_get_zero_and_result_is_indexed_like_demand():
    demand = pd.Series({"w": 30.0, "z": 50.0, "y": 200.0, "x": 100.0})  # w reaches nothing
    table = _table(HAND_PAIRS)
    before = table.copy()
    access = two_step_fca(table, HAND_SUPPLY, demand, cutoff_s=600)
    assert list(access.index) == ["w", "z", "y", "x"]
    assert access["w"] == 0.0
    assert access["x"] == pytest.approx(0.06)
    pd.testing.assert_frame_equal(table, before)  # inputs untouched


def test_facility_without_residents_in_reach_adds_nothing():
    # C is reached only by the empty point e: its ratio is undefined (NaN) and adds 0.
    table = _table([*HAND_PAIRS, ("e", "C", 50.0)])
    supply = pd.Series({"A": 10.0, "B": 4.0, "C": 7.0})
    demand = pd.Series({"x": 100.0, "y": 200.0, "z": 50.0, "e": 0.0})
    ratios = facility_ratios(table, supply, demand, cutoff_s=600)
    assert math.isnan(ratios.loc["C", "ratio"])
    access = two_step_fca(table, supply, demand, cutoff_s=600)
    assert access["e"] == 0.0
    assert access["x"] == pytest.approx(0.06)


def test_categorical_ids_equal_plain_ids():
    matrix = pd.DataFrame(
        {"demand": [0, 0, 1, 2], "facility": [0, 1, 0, 1], "travel_time_s": [1.0, 2, 3, 4]}
    )
    table = travel_times_by_id(matrix, ["x", "y", "z"], ["A", "B"])
    assert isinstance(table["demand_id"].dtype, pd.CategoricalDtype)
    plain = table.astype({"demand_id": str, "facility_id": str})
    a = two_step_fca(table, HAND_SUPPLY, HAND_DEMAND, cutoff_s=600)
    b = two_step_fca(plain, HAND_SUPPLY, HAND_DEMAND, cutoff_s=600)
    pd.testing.assert_series_equal(a, b)
    # Categories in another order than the demand index.
    shuffled = travel_times_by_id(matrix.assign(demand=[2, 2, 1, 0]), ["z", "y", "x"], ["A", "B"])
    pd.testing.assert_series_equal(
        two_step_fca(shuffled, HAND_SUPPLY, HAND_DEMAND, cutoff_s=600), a
    )


@pytest.mark.parametrize(
    ("change", "error", "match"),
    [
        (dict(pairs=[("q", "A", 1.0)]), InputError, "demand_id is not in"),
        (dict(pairs=[("x", "Q", 1.0)]), InputError, "facility_id is not in"),
        (dict(pairs=[("x", "A", 1.0), ("x", "A", 2.0)]), InputError, "more than once"),
        (dict(pairs=[("x", "A", float("nan"))]), InputError, "travel_time_s"),
        (dict(supply=pd.Series({"A": np.nan, "B": 4.0})), InputError, "never taken as 0"),
        (dict(demand=pd.Series({"x": -1.0, "y": 1.0, "z": 1.0})), InputError, "negative"),
        (dict(weight="cosine"), ConfigError, "unknown"),
        (dict(weight=[(300, -1.0)]), ConfigError, "non-negative"),
        (dict(weight=lambda t: -t), ConfigError, "negative"),
        (dict(weight=lambda t: 1.0 if t < 5 else 0.0), ConfigError, "vectorize"),
        (dict(cutoff_s=0), ConfigError, "cutoff_s"),
    ],
)
def test_two_step_fca_rejects_bad_input(change, error, match):
    pairs = [("z", "A", 1.0), *change.get("pairs", [])]
    with pytest.raises(error, match=match):
        two_step_fca(
            _table(pairs),
            change.get("supply", HAND_SUPPLY),
            change.get("demand", HAND_DEMAND),
            cutoff_s=change.get("cutoff_s", 600),
            weight=change.get("weight", "step"),
        )


# ----------------------------------------------------------------------------- PySAL access


def _pysal(cost_df, supply, demand, **kw):
    """``access.Access(...).two_stage_fca`` on the same cost table (ids as plain strings)."""
    import access

    with warnings.catch_warnings():
        # access 1.1.10 calls DataFrame.set_index(inplace=True), deprecated in pandas 3.
        warnings.filterwarnings(
            "ignore", message="The inplace keyword", category=pd.errors.Pandas4Warning
        )
        model = access.Access(
            demand_df=demand.rename("pop").rename_axis("demand_id").reset_index(),
            demand_index="demand_id",
            demand_value="pop",
            supply_df=supply.rename("beds").rename_axis("facility_id").reset_index(),
            supply_index="facility_id",
            supply_value="beds",
            cost_df=cost_df,
            cost_origin="demand_id",
            cost_dest="facility_id",
            cost_name="travel_time_s",
        )
        if "weight_fn" in kw:
            result = model.enhanced_two_stage_fca(name="a", **kw)
        else:
            result = model.two_stage_fca(name="a", **kw)
    # access leaves points that reach nothing NaN; geoplan gives them 0.
    return result["a_beds"].reindex(demand.index)


def test_pysal_inclusive_cutoff_and_steps_agree_on_ties():
    # Ties exactly at the cutoff (600 s) and at a step bound (300 s): both libraries count
    # t == bound in the lower step / inside the catchment.
    from access import weights

    table = _table(HAND_PAIRS)
    ours = two_step_fca(table, HAND_SUPPLY, HAND_DEMAND, cutoff_s=600)
    theirs = _pysal(table, HAND_SUPPLY, HAND_DEMAND, max_cost=600)
    np.testing.assert_allclose(ours, theirs, rtol=0, atol=1e-15)
    steps = {300: 1.0, 600: 0.5}
    ours = two_step_fca(table, HAND_SUPPLY, HAND_DEMAND, cutoff_s=600, weight=steps)
    theirs = _pysal(table, HAND_SUPPLY, HAND_DEMAND, max_cost=600, weight_fn=weights.step_fn(steps))
    np.testing.assert_allclose(ours, theirs, rtol=0, atol=1e-15)


@pytest.fixture(scope="module")
def real_case(tuanchengshan_walk):
    """15 seeded facilities on the real 团城山 walk network, real GHS-POP demand, 900 s."""
    network = tuanchengshan_walk
    demand = demand_from_graphml_edges(
        shipped_path("osm/huangshi_tuanchengshan_drive_ghspop_2024.graphml.gz")
    ).to_crs(network.crs)
    forward_s, backward_s = network.edge_times_s("walk")
    usable = mode_edge_mask(forward_s, backward_s)
    rng = np.random.default_rng(20261124)
    x0, y0, x1, y1 = network.edges.total_bounds
    fac = engine.snap_points(
        network, rng.uniform(x0, x1, 15), rng.uniform(y0, y1, 15), usable=usable
    )
    dem = engine.snap_points(
        network, demand.geometry.x.to_numpy(), demand.geometry.y.to_numpy(), usable=usable
    )
    matrix = engine.travel_time_matrix(network, forward_s, backward_s, fac, dem, cutoff_s=900)
    facility_ids = [f"fac-{i:02d}" for i in range(15)]
    supply = pd.Series(rng.integers(5, 300, 15).astype(float), index=facility_ids)
    population = pd.Series(demand["population"].to_numpy(), index=demand["demand_id"])
    table = travel_times_by_id(matrix, demand["demand_id"].to_numpy(), facility_ids)
    return table, supply, population


def _pysal_gaussian_dai(cutoff_s):
    """Dai (2010) Gaussian written out independently, one number at a time (as access does)."""
    floor = math.exp(-0.5)
    return lambda t: max(0.0, (math.exp(-0.5 * (t / cutoff_s) ** 2) - floor) / (1 - floor))


@pytest.mark.parametrize("variant", ["step", "stepped", "gaussian", "pysal_gaussian"])
def test_equal_to_pysal_access_on_real_network(real_case, variant):
    from access import weights

    table, supply, population = real_case
    cutoff_s = 900.0
    times = table["travel_time_s"].to_numpy()
    assert len(table) > 300 and times.max() <= cutoff_s
    assert table["facility_id"].nunique() >= 10
    # No tie at the cutoff or at a step bound (both libraries are inclusive anyway, see above).
    assert not np.isin(times, [300.0, 600.0, 900.0]).any()
    steps = [(300, 1.0), (600, 0.68), (900, 0.22)]
    ours_weight, pysal_kw = {
        "step": ("step", {}),
        "stepped": (steps, {"weight_fn": weights.step_fn(dict(steps))}),
        "gaussian": ("gaussian", {"weight_fn": _pysal_gaussian_dai(cutoff_s)}),
        "pysal_gaussian": (weights.gaussian(450.0), {"weight_fn": weights.gaussian(450.0)}),
    }[variant]
    ours = two_step_fca(table, supply, population, cutoff_s=cutoff_s, weight=ours_weight)
    cost = table.astype({"demand_id": str, "facility_id": str})
    theirs = _pysal(cost, supply, population, max_cost=cutoff_s, **pysal_kw)
    reached = theirs.notna().to_numpy()
    assert 100 < reached.sum() < len(population)  # some points reach nothing
    assert (ours[~reached] == 0).all()
    assert np.isfinite(theirs[reached]).all()
    diff = np.abs(ours[reached].to_numpy() - theirs[reached].to_numpy())
    assert diff.max() <= 1e-9, diff.max()
    assert (ours[reached] > 0).mean() > 0.9


# ----------------------------------------------------------------------------- per unit


def test_per_thousand():
    assert per_thousand(485, 100_000) == pytest.approx(4.85)
    assert per_thousand(3, 10_000, per=10_000) == pytest.approx(3.0)
    assert math.isnan(per_thousand(5, 0))
    np.testing.assert_allclose(per_thousand(np.array([1.0, 2.0]), [500, 0]), [2.0, np.nan])
    series = per_thousand(pd.Series({"a": 6.0, "b": 1.0}), pd.Series({"b": 2000.0, "a": 1000}))
    pd.testing.assert_series_equal(series, pd.Series({"a": 6.0, "b": 0.5}))
    with pytest.raises(InputError, match="negative"):
        per_thousand(1, -5)
    with pytest.raises(ConfigError, match="per"):
        per_thousand(1, 5, per=0)


@pytest.fixture
def two_units():
    # West [0,10]×[0,10] with 20,000 residents, east [10,20]×[0,10] with 5,000 (metres).
    return gpd.GeoDataFrame(
        {"unit_name": ["西", "东"], "unit_code": ["W", "E"], "population": [20_000.0, 5_000.0]},
        geometry=[box(0, 0, 10, 10), box(10, 0, 20, 10)],
        crs="EPSG:32650",
    )


def test_capacity_ratios_by_hand(two_units):
    facilities = gpd.GeoDataFrame(
        {
            "facility_id": ["h1", "c1", "c2", "e1", "far"],
            "beds": [100.0, 20.0, np.nan, 10.0, 50.0],
            "doctors": [40.0, 5.0, 3.0, np.nan, 9.0],
            "nurses": [50.0, np.nan, 4.0, 6.0, 9.0],
        },
        geometry=[Point(2, 2), Point(5, 5), Point(8, 1), Point(15, 5), Point(50, 50)],
        crs="EPSG:32650",
    )
    before = facilities.copy()
    with pytest.warns(DataQualityWarning, match="1 of 5 facilities lie outside"):
        table = capacity_ratios(facilities, two_units)
    pd.testing.assert_frame_equal(facilities, before)
    west, east = table.iloc[0], table.iloc[1]
    assert list(table["unit_code"]) == ["W", "E"]
    assert list(table["n_facilities"]) == [3, 1]
    # West: beds 100 + 20 = 120 known (c2 missing) → 120 / 20,000 × 1,000 = 6.0.
    assert west["beds"] == 120.0 and west["beds_missing"] == 1
    assert west["beds_per_1000"] == pytest.approx(6.0)
    # West doctors 40 + 5 + 3 = 48 → 2.4 per 1,000; nurses 50 + 4 = 54 (c1 missing) → 2.7.
    assert west["doctors_per_1000"] == pytest.approx(2.4)
    assert west["nurses"] == 54.0 and west["nurses_missing"] == 1
    assert west["nurses_per_1000"] == pytest.approx(2.7)
    # 医护比 over facilities with both numbers (h1, c2): nurses 54 / doctors 43.
    assert west["nurses_per_doctor"] == pytest.approx(54 / 43)
    # 床护比 over h1 only (c1 lacks nurses, c2 lacks beds): 50 / 100.
    assert west["nurses_per_bed"] == pytest.approx(0.5)
    # East: beds 10 / 5,000 × 1,000 = 2.0; doctors unknown → 0 known, 1 missing.
    assert east["beds_per_1000"] == pytest.approx(2.0)
    assert east["doctors"] == 0.0 and east["doctors_missing"] == 1
    assert math.isnan(east["nurses_per_doctor"])
    assert east["nurses_per_bed"] == pytest.approx(0.6)
    # Per 10,000 and facilities in WGS84 (reprojected to the units' CRS).
    wgs = facilities.iloc[:4].to_crs("EPSG:4326")
    per_10k = capacity_ratios(wgs, two_units, columns=("doctors",), per=10_000)
    assert per_10k["doctors_per_10000"].tolist() == pytest.approx([24.0, 0.0])
    assert "beds" not in per_10k and "nurses_per_doctor" not in per_10k


def test_capacity_ratios_without_facilities(two_units):
    """No facility at all: sums 0, ratios per resident 0 and 医护比 undefined (plan checks)."""
    empty = gpd.GeoDataFrame(
        {"facility_id": [], "doctors": [], "nurses": []}, geometry=[], crs="EPSG:32650"
    )
    table = capacity_ratios(empty, two_units, per=10_000)
    assert table["n_facilities"].tolist() == [0, 0]
    assert table["doctors"].tolist() == [0.0, 0.0] and table["nurses_missing"].tolist() == [0, 0]
    assert table["doctors_per_10000"].tolist() == [0.0, 0.0]
    assert table["nurses_per_doctor"].isna().all()


def test_capacity_ratios_needs_a_capacity_column(two_units):
    facilities = gpd.GeoDataFrame({"facility_id": ["a"]}, geometry=[Point(1, 1)], crs="EPSG:32650")
    with pytest.raises(InputError, match="none of the capacity columns"):
        capacity_ratios(facilities, two_units)


def test_access_by_unit_by_hand():
    access = pd.Series({"a": 0.002, "b": 0.0, "c": 0.004, "d": 0.001, "e": 0.0})
    demand = pd.Series({"a": 100.0, "b": 300.0, "c": 100.0, "d": 50.0, "e": 0.0})
    unit_of = pd.Series({"a": "北", "b": "北", "c": "北", "d": "南", "e": "南"}, name="unit_name")
    table = access_by_unit(access, demand, unit_of)
    assert table.index.name == "unit_name"
    north, south = table.loc["北"], table.loc["南"]
    # 北: (0.002·100 + 0·300 + 0.004·100) / 500 = 0.0012; min 0 (b); zero share 300/500.
    assert north["population"] == 500 and north["n_points"] == 3
    assert north["access_mean"] == pytest.approx(0.0012)
    assert north["access_min"] == 0.0
    assert north["share_zero_access"] == pytest.approx(0.6)
    # 南: only d has residents (e is empty): mean 0.001, min 0.001, zero share 0.
    assert south["access_mean"] == pytest.approx(0.001)
    assert south["access_min"] == pytest.approx(0.001)
    assert south["share_zero_access"] == 0.0
    with pytest.raises(InputError, match="missing or infinite"):
        access_by_unit(access.replace(0.0, np.nan), demand, unit_of)
    with pytest.raises(InputError, match="unit_of lacks 1"):
        access_by_unit(access, demand, unit_of.drop("e"))
    # Series in another order are aligned by id, not by position.
    shuffled = access_by_unit(
        access.iloc[::-1], demand, unit_of.loc[["c", "e", "a", "d", "b"]].rename("unit_name")
    )
    pd.testing.assert_frame_equal(shuffled, table)
    with pytest.raises(InputError, match=r"access lacks 2 demand ids \(b, d\)"):
        access_by_unit(access.drop(["b", "d"]), demand, unit_of)
    with pytest.raises(InputError, match="access index has duplicate ids: a"):
        access_by_unit(pd.concat([access, access.loc[["a"]]]), demand, unit_of)
    with pytest.raises(InputError, match="unit_of must be a pandas Series"):
        access_by_unit(access, demand, unit_of.to_dict())


def test_module_exports():
    assert set(capacity.__all__) <= set(dir(capacity))
