"""The analysis behind the plan packs' further kinds, on hand-computed answers.

Gini and concentration indices against textbook values and their pairwise definitions;
weighted percentiles and 片区 tables by hand; referral times on a four-node network whose
seconds are read off the drawing:

    A(0,0) ──e0── B(100,0) ──e1── C(200,0)
                    │           ╱
                   e2         e3 (141.42 m)
                    │       ╱
                  D(100,-100)

At 1 m/s (60 m/min) an edge's seconds equal its metres; the access legs too.
"""

from __future__ import annotations

import numpy as np
import pytest
import test_engine

from geoplan.analysis.catchments import catchment_table, weighted_percentile
from geoplan.analysis.equity import concentration_index, fractional_rank, gini, weighted_mean
from geoplan.analysis.referral import REFERRAL_COLUMNS, referral_times
from geoplan.readers.network import ModeTimes

SQRT2 = np.sqrt(2.0)

# ----------------------------------------------------------------------------- Gini


def _pairwise_gini(x, w):
    """Σᵢ Σⱼ pᵢ pⱼ |xᵢ − xⱼ| / (2 μ): the mean-absolute-difference definition."""
    x, p = np.asarray(x, float), np.asarray(w, float) / np.sum(w)
    mean = np.dot(p, x)
    return float(np.sum(np.outer(p, p) * np.abs(x[:, None] - x[None, :])) / (2 * mean))


def test_gini_textbook_values():
    # 1, 2, 3, 4, 5 (equal weights): Σ|xᵢ−xⱼ| = 40 over the 25 ordered pairs, μ = 3:
    # G = 40 / (2·25·3) = 4/15
    assert gini([1, 2, 3, 4, 5]) == pytest.approx(4 / 15, abs=1e-12)
    assert gini([3, 1, 5, 2, 4]) == pytest.approx(4 / 15, abs=1e-12)  # order does not matter
    # one of n holds everything: (n − 1) / n
    assert gini([0, 0, 0, 10]) == pytest.approx(3 / 4, abs=1e-12)
    # everyone the same: 0
    assert gini([7, 7, 7], [1, 5, 2]) == pytest.approx(0.0, abs=1e-12)
    # weights replicate people: 1 (× 3 people) and 5 (× 1): pairs 2·3·1·4 = 24, μ = 2:
    # G = 24 / (2·16·2) = 3/8
    assert gini([1, 5], [3, 1]) == pytest.approx(3 / 8, abs=1e-12)
    assert gini([1, 1, 1, 5]) == pytest.approx(3 / 8, abs=1e-12)
    # scale-free
    assert gini([10, 50], [3, 1]) == pytest.approx(3 / 8, abs=1e-12)


def test_gini_equals_the_pairwise_definition_on_random_data():
    rng = np.random.default_rng(14)
    for _ in range(20):
        n = rng.integers(2, 40)
        x = rng.gamma(2.0, 10.0, n)
        w = rng.integers(0, 500, n).astype(float) + 0.5
        assert gini(x, w) == pytest.approx(_pairwise_gini(x, w), abs=1e-12)


def test_gini_edge_cases():
    assert np.isnan(gini([0, 0, 0]))  # no access at all: nothing to divide
    assert np.isnan(gini([1, 2], [0, 0]))
    with pytest.raises(ValueError, match="non-negative"):
        gini([-1, 2])
    with pytest.raises(ValueError, match="finite"):
        gini([1, np.nan])
    with pytest.raises(ValueError, match="same length"):
        gini([1, 2], [1])


# ----------------------------------------------------------------------------- concentration


def test_concentration_index_by_hand():
    # three groups of equal size, values 1, 2, 3 ranked 10 < 20 < 30:
    # R = 1/6, 1/2, 5/6; μ = 2; cov = ((−1)(−1/3) + 0 + (1)(1/3)) / 3 = 2/9; C = 2·(2/9)/2 = 2/9
    assert concentration_index([1, 2, 3], [10, 20, 30]) == pytest.approx(2 / 9, abs=1e-12)
    # ranked the other way round: −2/9
    assert concentration_index([1, 2, 3], [30, 20, 10]) == pytest.approx(-2 / 9, abs=1e-12)
    # no relation between value and rank: 0
    assert concentration_index([2, 2, 2], [1, 2, 3]) == pytest.approx(0.0, abs=1e-12)


def test_fractional_rank_weights_and_ties():
    # weights 1, 2, 1 ranked 5 < 7 < 9: below + half own = 1/8, 1/4 + 1/4, 3/4 + 1/8
    np.testing.assert_allclose(fractional_rank([9, 5, 7], [1, 1, 2]), [7 / 8, 1 / 8, 1 / 2])
    # a tie shares the mid-rank of its group: two of 1/4 each at rank 1 → 1/4 both
    np.testing.assert_allclose(fractional_rank([1, 1, 2], [1, 1, 2]), [1 / 4, 1 / 4, 3 / 4])


def test_concentration_index_ranked_by_the_value_itself_is_the_gini():
    rng = np.random.default_rng(3)
    x = rng.gamma(2.0, 5.0, 50)
    w = rng.integers(1, 100, 50).astype(float)
    assert concentration_index(x, x, w) == pytest.approx(gini(x, w), abs=1e-12)
    # and it equals 1 − 2 × the area under the concentration curve (trapezoids)
    rank = rng.normal(size=50)
    order = np.argsort(rank)
    p = w[order] / w.sum()
    curve = np.cumsum(p * x[order]) / np.dot(p, x[order])
    area = np.sum(p * (curve + np.concatenate([[0], curve[:-1]])) / 2)
    assert concentration_index(x, rank, w) == pytest.approx(1 - 2 * area, abs=1e-12)


def test_weighted_mean():
    assert weighted_mean([10, 20], [3, 1]) == pytest.approx(12.5)
    assert np.isnan(weighted_mean([10, 20], [0, 0]))


# ----------------------------------------------------------------------------- 片区


def test_weighted_percentile_is_the_smallest_time_within_which_the_share_lives():
    t = [5, 10, 20, 40]
    w = [10, 30, 40, 20]  # cumulative 10, 40, 80, 100
    assert weighted_percentile(t, w, 10) == 5
    assert weighted_percentile(t, w, 40) == 10  # exactly 40 % within 10
    assert weighted_percentile(t, w, 41) == 20
    assert weighted_percentile(t, w, 80) == 20
    assert weighted_percentile(t, w, 90) == 40
    assert weighted_percentile(t, w, 100) == 40
    assert weighted_percentile([40, 5, 20, 10], [20, 10, 40, 30], 50) == 20  # any order
    assert np.isnan(weighted_percentile([], [], 50))
    with pytest.raises(ValueError):
        weighted_percentile(t, w, 0)


def test_catchment_table_by_hand():
    hub = np.array([0, 0, 1, 1, 1, -1])
    time_s = np.array([60, 600, 120, 1200, 1800, np.inf])
    population = np.array([100, 100, 50, 30, 20, 999])
    table = catchment_table(
        hub, time_s, population, 2, percentiles=(50, 90), threshold_s=1200.0
    ).set_index("hub")
    assert table.loc[0, "population"] == 200 and table.loc[0, "points"] == 2
    assert table.loc[0, "p50_min"] == 1  # 100 of 200 within 1 minute
    assert table.loc[0, "p90_min"] == 10
    assert table.loc[0, "mean_min"] == pytest.approx((60 + 600) / 2 / 60)
    assert table.loc[0, "share_within"] == 1.0
    assert table.loc[1, "population"] == 100
    assert table.loc[1, "p50_min"] == 2  # 50 of 100 within 2 minutes
    assert table.loc[1, "p90_min"] == 30  # 80 within 20, so the 90th needs 30
    assert table.loc[1, "max_min"] == 30
    assert table.loc[1, "share_within"] == pytest.approx(0.8)  # 1200 s is inclusive
    # the unreachable residents (hub −1) are in no 片区
    assert table["population"].sum() == 300


# ----------------------------------------------------------------------------- referral


tiny = test_engine.tiny  # the same drawing as the engine's tests (a pytest fixture)


def _times(network, *, oneway_e1=False):
    forward = network.edges["length_m"].to_numpy().copy()
    backward = forward.copy()
    if oneway_e1:
        backward[1] = np.inf  # e1 only B → C
    return ModeTimes(forward, backward)


def _xy(points):
    x, y = np.array(points, dtype=float).T
    return x, y


# lower tier (village clinics) at A, 10 m above e1 near C (fraction 0.9 from B) and on e2's
# middle; higher tier (township hospitals) 5 m above B and at D
LOWER = [(0, 0), (190, 10), (100, -50)]
UPPER = [(100, 5), (100, -100)]


def test_referral_nearest_on_the_four_node_network(tiny):
    table = referral_times(
        tiny, _times(tiny), _xy(LOWER), _xy(UPPER), assign="nearest", access_speed_m_per_min=60
    )
    assert tuple(table.columns) == REFERRAL_COLUMNS
    # A → B 100 s + B's 5 m leg = 105 s (D: 200 s)
    # (190, 10): 10 s leg, 90 s along e1 to B, 5 s leg = 105 s (D: 10 + 10 + 141.42 s)
    # (100, −50): on e2, 50 s to D (B: 55 s)
    np.testing.assert_array_equal(table["upper"], [0, 0, 1])
    np.testing.assert_allclose(table["time_s"], [105.0, 105.0, 50.0])
    np.testing.assert_array_equal(table["nearest"], table["upper"])
    np.testing.assert_allclose(table["nearest_time_s"], table["time_s"])
    assert set(table["assigned_by"]) == {"nearest"}


def test_referral_same_township_beats_nearer(tiny):
    table = referral_times(
        tiny,
        _times(tiny),
        _xy(LOWER),
        _xy(UPPER),
        lower_unit=np.array(["甲镇", "乙镇", None], dtype=object),
        upper_unit=np.array(["丙镇", "甲镇"], dtype=object),
        assign="same_unit",
        access_speed_m_per_min=60,
    )
    # A's township (甲镇) has the hospital at D: A → B → D = 200 s, though B's is nearer
    assert table.loc[0, "upper"] == 1 and table.loc[0, "time_s"] == pytest.approx(200.0)
    assert table.loc[0, "assigned_by"] == "same_unit"
    assert table.loc[0, "nearest"] == 0 and table.loc[0, "nearest_time_s"] == pytest.approx(105)
    # 乙镇 has no hospital: the nearest; the third's township is unknown: the nearest
    assert table.loc[1, "assigned_by"] == "nearest_no_unit_facility"
    assert table.loc[1, "upper"] == 0 and table.loc[1, "time_s"] == pytest.approx(105.0)
    assert table.loc[2, "assigned_by"] == "nearest_unit_unknown"
    assert table.loc[2, "upper"] == 1 and table.loc[2, "time_s"] == pytest.approx(50.0)


def test_referral_respects_one_way_streets_from_lower_to_higher(tiny):
    # e1 only B → C: the clinic on e1 cannot go back to B; it goes on to C, then C → D → B:
    # leg 10 + 10 + 141.42 + 100 + leg 5
    table = referral_times(
        tiny,
        _times(tiny, oneway_e1=True),
        _xy(LOWER[1:2]),
        _xy(UPPER[:1]),
        assign="nearest",
        access_speed_m_per_min=60,
    )
    assert table.loc[0, "time_s"] == pytest.approx(10 + 10 + 100 * SQRT2 + 100 + 5)


def test_referral_closed_streets_and_empty_tiers(tiny):
    times = _times(tiny)
    forward, backward = times.forward_s.copy(), times.backward_s.copy()
    forward[0] = backward[0] = np.inf  # A's street closed to the mode: A is cut off
    closed = ModeTimes(forward, backward)
    table = referral_times(
        tiny,
        closed,
        _xy([(0, 0), (100, -50)]),
        _xy(UPPER),
        lower_unit=np.array(["甲镇", "甲镇"], dtype=object),
        upper_unit=np.array(["甲镇", "乙镇"], dtype=object),
        access_speed_m_per_min=60,
    )
    # A snaps to the nearest usable edge instead (e2 at B, 100 m away): no NaN from a closed
    # street, a long access leg — as residents are treated
    assert table.loc[0, "time_s"] == pytest.approx(100 + 5)
    empty = referral_times(tiny, times, _xy(LOWER), (np.array([]), np.array([])))
    assert len(empty) == 3 and (empty["upper"] == -1).all() and empty["time_s"].isna().all()
    with pytest.raises(ValueError, match="assign"):
        referral_times(tiny, times, _xy(LOWER), _xy(UPPER), assign="closest")


def _networkx_pair_seconds(network, times: ModeTimes, lower_xy, upper_xy, access_mps):
    """Seconds of every (lower, upper) pair, computed without geoplan's engine: each facility
    joined to its nearest usable street (shapely; the lowest row on a tie), that street split
    there into two arcs each way, and networkx's Dijkstra from each lower facility."""
    import networkx as nx
    import shapely

    geoms = np.asarray(network.edges.geometry.values)
    u = network.edges["u"].to_numpy()
    v = network.edges["v"].to_numpy()
    forward, backward = times.forward_s, times.backward_s

    def join(x, y, usable):
        rows = np.flatnonzero(usable)
        point = shapely.points(x, y)
        row = rows[np.argmin(shapely.distance(point, geoms[rows]))]
        fraction = shapely.line_locate_point(geoms[row], point, normalized=True)
        return row, fraction, shapely.distance(point, geoms[row]) / access_mps

    graph = nx.MultiDiGraph()
    for e in range(len(u)):
        if np.isfinite(forward[e]):
            graph.add_edge(u[e], v[e], weight=forward[e])
        if np.isfinite(backward[e]):
            graph.add_edge(v[e], u[e], weight=backward[e])
    uppers = []
    for j, (x, y) in enumerate(zip(*upper_xy, strict=True)):
        e, s, leg = join(x, y, times.facility_edges)
        node = ("upper", j)
        if np.isfinite(forward[e]):
            graph.add_edge(u[e], node, weight=s * forward[e] + leg)
        if np.isfinite(backward[e]):
            graph.add_edge(v[e], node, weight=(1 - s) * backward[e] + leg)
        uppers.append((node, e, s, leg))
    seconds = np.full((len(lower_xy[0]), len(uppers)), np.inf)
    for i, (x, y) in enumerate(zip(*lower_xy, strict=True)):
        e, t, leg = join(x, y, times.demand_edges)
        start = ("lower", i)
        if np.isfinite(forward[e]):
            graph.add_edge(start, v[e], weight=(1 - t) * forward[e])
        if np.isfinite(backward[e]):
            graph.add_edge(start, u[e], weight=t * backward[e])
        reached = nx.single_source_dijkstra_path_length(graph, start)
        for j, (node, e_up, s, leg_up) in enumerate(uppers):
            best = reached.get(node, np.inf)
            if e_up == e:  # along their shared street, the way the mode may go
                along = (s - t) * forward[e] if s >= t else (t - s) * backward[e]
                best = min(best, along + leg_up)
            seconds[i, j] = leg + best
        graph.remove_node(start)
    return seconds


@pytest.mark.parametrize("mode", ["walk", "drive"])
def test_referral_equals_networkx_dijkstra_between_every_pair(mode):
    """On the demo's streets, each lower facility's referral is the fastest of its times to
    every higher one by networkx's Dijkstra (one-way streets by car): the demo's medical
    posts (社区卫生服务站, 诊所) and 60 random places to its other facilities and 8 more."""
    import pandas as pd
    import pyproj

    from geoplan._paths import shipped_path
    from geoplan.readers.network import read_network

    network = read_network(shipped_path("osm/huangshi_tuanchengshan_all_2022.graphml.gz"))
    times = network.mode_times(mode)
    facilities = pd.read_csv(shipped_path("facilities/tuanchengshan_scenario.csv"))
    to_net = pyproj.Transformer.from_crs(4326, network.crs, always_xy=True)
    x, y = to_net.transform(facilities["经度"].to_numpy(), facilities["纬度"].to_numpy())
    post = facilities["类型"].isin(["社区卫生服务站", "诊所"]).to_numpy()
    rng = np.random.default_rng(5)
    (x0, y0), (x1, y1) = network.nodes[["x", "y"]].min(), network.nodes[["x", "y"]].max()
    lower = (
        np.concatenate([x[post], rng.uniform(x0, x1, 60)]),
        np.concatenate([y[post], rng.uniform(y0, y1, 60)]),
    )
    upper = (
        np.concatenate([x[~post], rng.uniform(x0, x1, 8)]),
        np.concatenate([y[~post], rng.uniform(y0, y1, 8)]),
    )
    table = referral_times(
        network, times, lower, upper, assign="nearest", access_speed_m_per_min=60
    )
    seconds = _networkx_pair_seconds(network, times, lower, upper, access_mps=1.0)
    expected = seconds.min(axis=1)
    assert np.isfinite(expected).all()  # every facility reaches one
    np.testing.assert_allclose(table["time_s"], expected, rtol=1e-9, atol=1e-6)
    chosen = seconds[np.arange(len(expected)), table["upper"].to_numpy()]
    np.testing.assert_allclose(chosen, expected, rtol=1e-9, atol=1e-6)
    # the nearest is not always the same one: the pairs are a real choice
    assert len(set(table["upper"])) > 3
