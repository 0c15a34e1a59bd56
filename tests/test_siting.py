"""Site selection: hand-made instances with known optima, then spopt on the real 团城山 network.

spopt (PySAL) builds the same textbook models in PuLP from a dense cost matrix and solves them
with CBC: a different formulation, modelling layer and solver from geoplan's sparse HiGHS
models, so equal optimal values are a meaningful check.
"""

from __future__ import annotations

import itertools
import math
import subprocess
import sys
import warnings

import numpy as np
import pandas as pd
import pytest

from geoplan._paths import shipped_path
from geoplan.analysis import engine, location
from geoplan.errors import ConfigError, InputError
from geoplan.readers.network import mode_edge_mask


def _table(rows) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=list(location.TABLE_COLUMNS))


def _cover_table(sets: dict[str, list[str]], time_s: float = 100.0) -> pd.DataFrame:
    """Long table from {facility: [demand, ...]}: every listed pair at ``time_s``."""
    return _table([(d, f, time_s) for f, ds in sets.items() for d in ds])


# ----------------------------------------------------------------------------- MCLP

# Greedy trap. X covers d1 and d2 (3 + 3 = 6 persons); Y covers d1 and d3 (3 + 2.5); Z covers
# d2 and d4 (3 + 2.5). With p = 2 greedy takes X first (6 > 5.5), then Y or Z adds only 2.5:
# 8.5 persons. Y + Z covers all four points: 11 persons, the optimum (= total population, so
# the LP bound is 11 as well).
TRAP_SETS = {"X": ["d1", "d2"], "Y": ["d1", "d3"], "Z": ["d2", "d4"]}
TRAP_POP = pd.Series({"d1": 3.0, "d2": 3.0, "d3": 2.5, "d4": 2.5})


def test_mclp_exact_finds_the_optimum_greedy_misses():
    table = _cover_table(TRAP_SETS)
    exact = location.mclp(table, TRAP_POP, p=2, cutoff_s=100)
    assert exact.selected == ("Y", "Z")
    assert exact.objective == pytest.approx(11.0)
    assert exact.covered_population == pytest.approx(11.0)
    assert exact.status == "optimal" and exact.gap == 0.0
    assert exact.share_covered == pytest.approx(1.0)

    greedy = location.mclp(table, TRAP_POP, p=2, cutoff_s=100, method="greedy")
    assert greedy.selected == ("X", "Y")  # tie between Y and Z goes to the earlier candidate
    assert greedy.objective == pytest.approx(8.5)
    assert greedy.status == "heuristic"
    assert greedy.bound == pytest.approx(11.0)  # LP relaxation bound
    assert greedy.gap == pytest.approx((11.0 - 8.5) / 8.5)


def test_mclp_greedy_equals_exact_when_greedy_is_optimal():
    # p = 1: the best single site is X (6 persons) for both methods.
    table = _cover_table(TRAP_SETS)
    for method in ("milp", "greedy"):
        result = location.mclp(table, TRAP_POP, p=1, cutoff_s=100, method=method)
        assert result.selected == ("X",)
        assert result.objective == pytest.approx(6.0)


def test_mclp_existing_facilities_count_and_stay_out_of_selected():
    # E (existing) already covers d1 and d3. Remaining: d2 (3) via X or Z, d4 (2.5) via Z.
    # One new site: Z (5.5 new) beats X (3 new). Covered = 3 + 2.5 + 3 + 2.5 = 11.
    table = pd.concat([_cover_table(TRAP_SETS), _cover_table({"E": ["d1", "d3"]})])
    result = location.mclp(table, TRAP_POP, p=1, cutoff_s=100, existing=["E"])
    assert result.selected == ("Z",)
    assert result.existing == ("E",)
    assert result.covered_population == pytest.approx(11.0)


def test_mclp_cutoff_is_inclusive():
    # d1 is exactly at the cutoff from A (covered); d2 is 1 ms beyond it from B (not).
    table = _table([("d1", "A", 600.0), ("d2", "B", 600.001)])
    pop = pd.Series({"d1": 5.0, "d2": 7.0})
    assert location.mclp(table, pop, p=1, cutoff_s=600).selected == ("A",)
    assert location.mclp(table, pop, p=1, cutoff_s=600).objective == pytest.approx(5.0)


def test_mclp_merges_identical_demand_rows_without_changing_answers():
    # Splitting each demand point into two ids with the same pairs (half the population
    # each) must give identical answers: the model merges them back into one row.
    table = _cover_table(TRAP_SETS)
    split = pd.concat([table, table.assign(demand_id=table["demand_id"] + "b")], ignore_index=True)
    pop = pd.concat([TRAP_POP / 2, (TRAP_POP / 2).rename(lambda i: i + "b")])
    for method in ("milp", "greedy"):
        a = location.mclp(table, TRAP_POP, p=2, cutoff_s=100, method=method)
        b = location.mclp(split, pop, p=2, cutoff_s=100, method=method)
        assert (a.selected, a.objective) == (b.selected, pytest.approx(b.objective))


def test_mclp_greedy_never_beats_exact_and_bound_holds_on_random_instances():
    rng = np.random.default_rng(3)
    for _ in range(5):
        n_dem, n_fac = 60, 15
        cover = rng.random((n_dem, n_fac)) < 0.12
        d, f = np.nonzero(cover)
        table = _table([(f"d{i}", f"f{j:02d}", 10.0) for i, j in zip(d, f, strict=True)])
        pop = pd.Series(
            rng.integers(1, 50, n_dem).astype(float), index=[f"d{i}" for i in range(n_dem)]
        )
        for p in (2, 4):
            exact = location.mclp(table, pop, p=p, cutoff_s=10)
            greedy = location.mclp(table, pop, p=p, cutoff_s=10, method="greedy")
            assert exact.status == "optimal"
            assert len(exact.selected) == len(greedy.selected) == p
            assert greedy.objective <= exact.objective + 1e-9
            assert exact.objective <= greedy.bound + 1e-6  # the LP bound is a true bound
            # brute force over all p-subsets confirms the exact optimum
            best = _brute_force_mclp(cover, pop.to_numpy(), p)
            assert exact.objective == pytest.approx(best)


def _brute_force_mclp(cover: np.ndarray, pop: np.ndarray, p: int) -> float:
    from itertools import combinations

    return max(
        float(pop[cover[:, list(c)].any(axis=1)].sum())
        for c in combinations(range(cover.shape[1]), p)
    )


# ----------------------------------------------------------------------------- LSCP

# Set-cover trap, six points of one person each. Y = {e1, e2, e3}, Z = {e4, e5, e6},
# X = {e1, e2, e4, e5}. Greedy takes X (4 points), then needs both Y (e3) and Z (e6): 3 sites.
# Y + Z cover everything: 2 sites, the optimum (e3 only by Y and e6 only by Z force both, so
# the LP bound is 2 as well). e7 (100 persons) has no pair: it is not coverable at all.
SC_SETS = {"X": ["e1", "e2", "e4", "e5"], "Y": ["e1", "e2", "e3"], "Z": ["e4", "e5", "e6"]}
SC_POP = pd.Series({f"e{i}": 1.0 for i in range(1, 7)} | {"e7": 100.0})


def test_lscp_exact_and_greedy_full_cover_of_coverable_demand():
    table = _cover_table(SC_SETS)
    exact = location.lscp(table, SC_POP, cutoff_s=100)
    assert exact.selected == ("Y", "Z")
    assert exact.objective == 2.0
    assert exact.coverable_population == pytest.approx(6.0)
    assert exact.covered_population == pytest.approx(6.0)
    assert exact.status == "optimal"

    greedy = location.lscp(table, SC_POP, cutoff_s=100, method="greedy")
    assert greedy.selected == ("X", "Y", "Z")
    assert greedy.objective == 3.0
    assert greedy.bound == 2.0
    assert greedy.gap == pytest.approx(1 / 3)


def test_lscp_partial_target_and_existing():
    table = _cover_table(SC_SETS)
    # Half of the 6 coverable persons: X alone covers 4 → one site.
    half = location.lscp(table, SC_POP, cutoff_s=100, target_share=0.5)
    assert half.objective == 1.0 and half.selected == ("X",)
    # An existing facility covering e3 and e6 already: then X alone completes the cover.
    with_existing = pd.concat([table, _cover_table({"E": ["e3", "e6"]})])
    result = location.lscp(with_existing, SC_POP, cutoff_s=100, existing=["E"])
    assert result.selected == ("X",)
    assert result.covered_population == pytest.approx(6.0)
    # Existing facilities alone meeting the target: nothing new.
    none = location.lscp(with_existing, SC_POP, cutoff_s=100, existing=["E"], target_share=0.3)
    assert none.selected == () and none.objective == 0.0


def test_lscp_target_of_total_population_infeasible_names_coverable():
    # 6 of 106 persons are coverable: 50 % of the total cannot be reached.
    table = _cover_table(SC_SETS)
    with pytest.raises(ConfigError, match=r"cover only 6\.0 of 106\.0 persons \(5\.7%\)"):
        location.lscp(table, SC_POP, cutoff_s=100, target_share=0.5, share_of="total")
    # 5 % of 106 = 5.3 persons: one site covers at most 4, X with Y or Z only 5, so Y + Z.
    ok = location.lscp(table, SC_POP, cutoff_s=100, target_share=0.05, share_of="total")
    assert ok.selected == ("Y", "Z")
    assert ok.covered_population >= 0.05 * 106


# HiGHS 1.16 given a MIP start (the greedy answer) on this 10 × 10 cover reports "optimal"
# at 3 sites yet returns the 5-site start; the fewest sites covering every row are 4 (by
# brute force: no 3 columns cover rows 1, 6 and 8 with the rest). Found by comparing warm and
# cold solves on 3,000 random covers (60 disagreed).
MISLEADING_START = [
    "0110100100",
    "1000100000",
    "0010010000",
    "0011000100",
    "1000001011",
    "0101010010",
    "0000100000",
    "0011100110",
    "0000001000",
    "1010000011",
]


def test_lscp_is_optimal_where_a_mip_start_misleads_highs():
    rows = [
        (f"d{i}", f"f{j}", 100.0)
        for i, line in enumerate(MISLEADING_START)
        for j, bit in enumerate(line)
        if bit == "1"
    ]
    pop = pd.Series(1.0, index=[f"d{i}" for i in range(len(MISLEADING_START))])
    best = min(
        size
        for size in range(1, 11)
        for combo in itertools.combinations(range(10), size)
        if all(any(line[j] == "1" for j in combo) for line in MISLEADING_START)
    )
    assert best == 4
    result = location.lscp(_table(rows), pop, cutoff_s=100)
    assert result.objective == 4
    assert result.status == "optimal" and result.gap == 0.0
    assert result.covered_population == len(MISLEADING_START)


# ----------------------------------------------------------------------------- p-median

# Four demand points on a line at 0, 1, 10, 11 with 3, 2, 1, 2 persons; candidates at the same
# places (named by position) and at 5; time = distance. Weighted times:
#   p = 1: site 1 → 3·1 + 0 + 1·9 + 2·10 = 32 (site 0: 34, 5: 40, 10: 50, 11: 54).
#   p = 2: {0, 11} → 0 + 2·1 + 1·1 + 0 = 3;  {1, 11} → 3 + 0 + 1 + 0 = 4;  {0, 10} → 4.
# Greedy opens 1 first, then 11 (total 4): one worse than the optimum.
LINE_DEMAND = {"a": 0.0, "b": 1.0, "c": 10.0, "d": 11.0}
LINE_POP = pd.Series({"a": 3.0, "b": 2.0, "c": 1.0, "d": 2.0})
LINE_SITES = {"s00": 0.0, "s01": 1.0, "s05": 5.0, "s10": 10.0, "s11": 11.0}


def _line_table(cutoff: float = math.inf) -> pd.DataFrame:
    rows = [
        (d, f, abs(x - y))
        for d, x in LINE_DEMAND.items()
        for f, y in LINE_SITES.items()
        if abs(x - y) <= cutoff
    ]
    return _table(rows)


def test_pmedian_exact_and_greedy_on_a_line():
    table = _line_table()
    one = location.pmedian(table, LINE_POP, p=1)
    assert one.selected == ("s01",) and one.objective == pytest.approx(32.0)
    two = location.pmedian(table, LINE_POP, p=2)
    assert two.selected == ("s00", "s11")
    assert two.objective == pytest.approx(3.0) and two.weighted_time_s == pytest.approx(3.0)
    assert two.status == "optimal" and two.covered_population == pytest.approx(8.0)
    got = two.assignment.set_index("demand_id")["facility_id"].to_dict()
    assert got == {"a": "s00", "b": "s00", "c": "s11", "d": "s11"}

    greedy = location.pmedian(table, LINE_POP, p=2, method="greedy")
    assert greedy.selected == ("s01", "s11") and greedy.objective == pytest.approx(4.0)
    assert greedy.status == "heuristic"
    assert greedy.bound <= 3.0 + 1e-9


def test_pmedian_existing_and_unassignable_demand():
    # Existing site at 11 serves c and d. One new site: 0 gives 0 + 2 + 1 + 0 = 3, 1 gives
    # 3 + 0 + 1 + 0 = 4. Point e has no pair at all: unassignable, outside the objective.
    table = _line_table()
    pop = pd.concat([LINE_POP, pd.Series({"e": 50.0})])
    result = location.pmedian(table, pop, p=1, existing=["s11"])
    assert result.selected == ("s00",)
    assert result.objective == pytest.approx(3.0)
    assert result.unassigned_population == pytest.approx(50.0)
    assert result.coverable_population == pytest.approx(8.0)


def test_pmedian_truncated_table_needs_a_penalty_to_leave_demand_unserved():
    # Pairs up to 2 only: a, b reach s00/s01; c, d reach s10/s11. p = 1 cannot serve both
    # ends → error; with a penalty of 100 s/person the best single site serves the heavier
    # end: s00 → a 0 + b 2 = 2 plus (1 + 2)·100 unserved = 302 (s01: 3 + 300 = 303).
    table = _line_table(cutoff=2.0)
    with pytest.raises(ConfigError, match="unserved_penalty_s"):
        location.pmedian(table, LINE_POP, p=1)
    result = location.pmedian(table, LINE_POP, p=1, unserved_penalty_s=100.0)
    assert result.selected == ("s00",)
    assert result.objective == pytest.approx(302.0)
    assert result.weighted_time_s == pytest.approx(2.0)
    assert result.unassigned_population == pytest.approx(3.0)


def test_pmedian_greedy_handles_zero_second_pairs():
    # A demand point at a candidate site (0 s) is served: a zero time is still a pair.
    table = _table([("a", "A", 0.0), ("b", "B", 0.0), ("b", "A", 5.0)])
    pop = pd.Series({"a": 1.0, "b": 1.0})
    for method in ("milp", "greedy"):
        result = location.pmedian(table, pop, p=1, method=method)
        assert result.selected == ("A",) and result.objective == pytest.approx(5.0)


# ----------------------------------------------------------------------------- capacitated


def test_capacitated_pmedian_splits_demand_up_to_capacity():
    # One demand point (10 persons). Existing A: 1 s, capacity 6. Candidates B: 3 s,
    # capacity 100; C: 2 s, capacity 3. With C, only 9 persons fit (infeasible); with B:
    # 6 at A (6 s) + 4 at B (12 s) = 18 person-seconds.
    table = _table([("x", "A", 1.0), ("x", "B", 3.0), ("x", "C", 2.0)])
    pop = pd.Series({"x": 10.0})
    cap = pd.Series({"A": 6.0, "B": 100.0, "C": 3.0})
    result = location.pmedian(table, pop, p=1, existing=["A"], capacity=cap)
    assert result.problem == "pmedian-capacitated"
    assert result.selected == ("B",)
    assert result.objective == pytest.approx(18.0)
    shares = result.assignment.set_index("facility_id")["share"]
    assert shares["A"] == pytest.approx(0.6) and shares["B"] == pytest.approx(0.4)
    # Uncapacitated, everyone would stay at A (10 person-seconds) and C is as good as B.
    assert location.pmedian(table, pop, p=1, existing=["A"]).objective == pytest.approx(10.0)
    # Too little capacity and no penalty: a clear error; with a penalty the rest is unserved.
    small = pd.Series({"A": 6.0, "B": 1.0, "C": 3.0})
    with pytest.raises(ConfigError, match="cannot all be assigned"):
        location.pmedian(table, pop, p=1, existing=["A"], capacity=small)
    # C: 6·1 + 3·2 = 12, plus 1 person × 50 s unserved = 62 (B: 6 + 3 + 3·50 = 159).
    pen = location.pmedian(table, pop, p=1, existing=["A"], capacity=small, unserved_penalty_s=50)
    assert pen.selected == ("C",) and pen.objective == pytest.approx(62.0)
    assert pen.unassigned_population == pytest.approx(1.0)


def test_capacitated_mclp_serves_up_to_capacity():
    # F1 (cap 15) covers a (10) and b (20); F2 (cap 25) covers b and c (30); F3 (unlimited)
    # covers d (5) and e (1). One site: F2 serves 25, F1 15, F3 6 → F2, 25 persons.
    # Uncapacitated, F2 would cover 50.
    table = _cover_table({"F1": ["a", "b"], "F2": ["b", "c"], "F3": ["d", "e"]})
    pop = pd.Series({"a": 10.0, "b": 20.0, "c": 30.0, "d": 5.0, "e": 1.0})
    cap = pd.Series({"F1": 15.0, "F2": 25.0, "F3": np.inf})
    result = location.mclp(table, pop, p=1, cutoff_s=100, capacity=cap)
    assert result.problem == "mclp-capacitated"
    assert result.selected == ("F2",) and result.objective == pytest.approx(25.0)
    assert result.assignment["population"].sum() == pytest.approx(25.0)
    assert location.mclp(table, pop, p=1, cutoff_s=100).objective == pytest.approx(50.0)
    # Two sites: F2 (25) + F1 (15) = 40 beats F2 + F3 (31).
    two = location.mclp(table, pop, p=2, cutoff_s=100, capacity=cap)
    assert two.selected == ("F1", "F2") and two.objective == pytest.approx(40.0)
    with pytest.raises(ConfigError, match="capacity is missing"):
        location.mclp(table, pop, p=1, cutoff_s=100, capacity=cap.drop("F3"))
    with pytest.raises(ConfigError, match="method='milp'"):
        location.mclp(table, pop, p=1, cutoff_s=100, capacity=cap, method="greedy")


# ----------------------------------------------------------------------------- ranking, hubs


def test_evaluate_candidates_ranks_new_population():
    # Existing E covers d1. X newly covers d2 (3); Y newly covers d3 (2.5); Z covers d2, d4
    # (5.5). Ranking: Z, X, Y.
    table = pd.concat([_cover_table(TRAP_SETS), _cover_table({"E": ["d1"]})])
    ranked = location.evaluate_candidates(table, TRAP_POP, cutoff_s=100, existing=["E"])
    assert ranked["candidate_id"].tolist() == ["Z", "X", "Y"]
    assert ranked["rank"].tolist() == [1, 2, 3]
    assert ranked["new_population"].tolist() == pytest.approx([5.5, 3.0, 2.5])
    assert ranked["new_points"].tolist() == [2, 1, 1]


def test_evaluate_candidates_breaks_ties_by_points_then_candidate_order():
    # A and B both add 4 persons, A from one point and B from two: B first. C (900 s, beyond
    # the cutoff) and D (no pair) add nothing: the order the candidates are given decides.
    table = _table([("a", "A", 1.0), ("b1", "B", 1.0), ("b2", "B", 1.0), ("c", "C", 900.0)])
    pop = pd.Series({"a": 4.0, "b1": 2.0, "b2": 2.0, "c": 1.0})
    ranked = location.evaluate_candidates(table, pop, cutoff_s=100, candidates=["A", "D", "C", "B"])
    assert ranked["candidate_id"].tolist() == ["B", "A", "D", "C"]
    assert ranked["new_population"].tolist() == [4.0, 4.0, 0.0, 0.0]
    assert ranked["new_points"].tolist() == [2, 1, 0, 0]


def test_duplicate_pairs_keep_the_fastest_and_unknown_facilities_are_ignored():
    # d1-A appears at 500 s (beyond the cutoff) and at 50 s: the 50 s pair counts. Facility Q
    # is neither existing nor a candidate: its pair to d2 is left out.
    table = _table([("d1", "A", 500.0), ("d2", "Q", 1.0), ("d1", "A", 50.0), ("d2", "B", 80.0)])
    pop = pd.Series({"d1": 3.0, "d2": 5.0})
    result = location.mclp(table, pop, p=1, cutoff_s=60, candidates=["A", "B"])
    assert result.selected == ("A",) and result.covered_population == pytest.approx(3.0)
    assert result.coverable_population == pytest.approx(3.0)  # d2 only via Q or B at 80 s
    median = location.pmedian(table, pop, p=2, candidates=["A", "B"])
    got = median.assignment.set_index("demand_id")["travel_time_s"].to_dict()
    assert got == {"d1": 50.0, "d2": 80.0}


def test_sub_centres_partition_a_line_of_facilities():
    # Facilities at 0, 1, 2 and 10, 11, 12 (weight 1 each): hubs at 1 and 11 cost 1 + 1 per
    # cluster = 4 weighted seconds; every other pair of hubs costs more.
    pos = {"h0": 0, "h1": 1, "h2": 2, "h10": 10, "h11": 11, "h12": 12}
    rows = [(a, b, float(abs(x - y))) for a, x in pos.items() for b, y in pos.items() if a != b]
    between = pd.DataFrame(rows, columns=["from_id", "to_id", "travel_time_s"])
    result = location.sub_centres(between, pd.Series(1.0, index=list(pos)), k=2)
    assert set(result.hubs) == {"h1", "h11"}
    assert result.weighted_time_s == pytest.approx(4.0)
    hub = result.assignment.set_index("facility_id")["hub_id"].to_dict()
    assert hub == {"h0": "h1", "h1": "h1", "h2": "h1", "h10": "h11", "h11": "h11", "h12": "h11"}
    assert result.assignment["travel_time_s"].tolist() == [1.0, 0.0, 1.0, 1.0, 0.0, 1.0]
    with pytest.raises(ConfigError, match="k must be"):
        location.sub_centres(between, pd.Series(1.0, index=list(pos)), k=7)
    # Only the outer ends may be hubs: both are, at 0 + 1 + 2 seconds per cluster.
    ends = location.sub_centres(
        between, pd.Series(1.0, index=list(pos)), k=2, candidates=["h0", "h12"]
    )
    assert ends.hubs == ("h0", "h12") and ends.weighted_time_s == pytest.approx(6.0)
    with pytest.raises(ConfigError, match="not in weights"):
        location.sub_centres(between, pd.Series(1.0, index=list(pos)), k=1, candidates=["h99"])


# ----------------------------------------------------------------------------- contracts


def test_bad_inputs_raise_geoplan_errors():
    table = _cover_table(TRAP_SETS)
    with pytest.raises(InputError, match="absent from demand"):
        location.mclp(table, TRAP_POP.drop("d1"), p=1, cutoff_s=100)
    with pytest.raises(ConfigError, match="only 3 candidates"):
        location.mclp(table, TRAP_POP, p=4, cutoff_s=100)
    with pytest.raises(ConfigError, match="both existing and candidate"):
        location.mclp(table, TRAP_POP, p=1, cutoff_s=100, existing=["X"], candidates=["X", "Y"])
    with pytest.raises(InputError, match="negative travel_time_s"):
        location.mclp(table.assign(travel_time_s=-1.0), TRAP_POP, p=1, cutoff_s=100)
    with pytest.raises(InputError, match="lacks columns"):
        location.mclp(table.drop(columns="travel_time_s"), TRAP_POP, p=1, cutoff_s=100)
    with pytest.raises(ConfigError, match="method"):
        location.mclp(table, TRAP_POP, p=1, cutoff_s=100, method="tabu")
    with pytest.raises(ConfigError, match="list of facility ids"):
        location.mclp(table, TRAP_POP, p=1, cutoff_s=100, existing="X")


def test_inputs_are_not_mutated_and_results_are_frozen():
    table = _cover_table(TRAP_SETS)
    pop = TRAP_POP.copy()
    before_t, before_p = table.copy(), pop.copy()
    result = location.mclp(table, pop, p=2, cutoff_s=100)
    location.pmedian(table, pop, p=2)
    location.evaluate_candidates(table, pop, cutoff_s=100)
    pd.testing.assert_frame_equal(table, before_t)
    pd.testing.assert_series_equal(pop, before_p)
    with pytest.raises(AttributeError):
        result.selected = ()


def _random_instance() -> tuple[pd.DataFrame, pd.Series]:
    """3,000 residents, 200 candidates, 30,000 random pairs at 1 s: too big for HiGHS to
    prove optimality in a millisecond."""
    rng = np.random.default_rng(11)
    n_dem, n_fac = 3000, 200
    d = rng.integers(0, n_dem, 30000)
    f = rng.integers(0, n_fac, 30000)
    table = _table([(f"d{i}", f"f{j}", 1.0) for i, j in zip(d, f, strict=True)])
    pop = pd.Series(rng.random(n_dem) * 100, index=[f"d{i}" for i in range(n_dem)])
    return table, pop


def test_time_limit_reports_status_and_gap():
    # A random instance big enough that HiGHS cannot prove optimality in a millisecond; the
    # greedy warm start guarantees a solution to report.
    table, pop = _random_instance()
    result = location.mclp(table, pop, p=20, cutoff_s=1, time_limit_s=1e-3)
    assert result.status in {"time_limit", "optimal"}
    assert len(result.selected) == 20
    assert result.bound >= result.objective - 1e-6
    # Before HiGHS has a bound of its own, the coverable population (a valid bound) is used.
    assert result.bound <= result.coverable_population
    assert result.gap == pytest.approx((result.bound - result.objective) / result.objective)
    if result.status == "time_limit":
        assert result.gap > 0


def test_out_of_time_before_any_solution_reports_the_greedy_start():
    """A time limit too short for HiGHS to complete even the greedy start (under load 1 ms
    was) raised "found no solution" although a feasible answer was known: the greedy answer
    is reported with status time_limit, the coverable population as its bound."""
    table, pop = _random_instance()
    greedy = location.mclp(table, pop, p=20, cutoff_s=1, method="greedy")
    result = location.mclp(table, pop, p=20, cutoff_s=1, time_limit_s=1e-9)
    assert result.status == "time_limit" and result.method == "milp"
    assert result.selected == greedy.selected
    assert result.objective == pytest.approx(greedy.objective)
    assert result.bound == pytest.approx(result.coverable_population)
    assert result.gap > 0


def test_library_prints_nothing():
    # HiGHS prints a banner once per process on its first use: geoplan sends it to the log.
    code = (
        "import pandas as pd; from geoplan.analysis import location; "
        "t = pd.DataFrame({'demand_id': ['a'], 'facility_id': ['F'], 'travel_time_s': [1.0]}); "
        "location.mclp(t, pd.Series({'a': 1.0}), p=1, cutoff_s=5)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout == "" and done.stderr == ""


# ----------------------------------------------------------------------------- real network


@pytest.fixture(scope="module")
def tuanchengshan_case(tuanchengshan_walk):
    """团城山: walk network, GHS-POP demand, 30 seeded candidate sites at network nodes."""
    from geoplan.readers.demand import demand_from_graphml_edges

    network = tuanchengshan_walk
    demand = demand_from_graphml_edges(
        shipped_path("osm/huangshi_tuanchengshan_drive_ghspop_2024.graphml.gz")
    )
    forward_s, backward_s = network.edge_times_s("walk")
    usable = mode_edge_mask(forward_s, backward_s)
    points = demand.geometry.to_crs(network.crs)
    dem_snap = engine.snap_points(network, points.x.to_numpy(), points.y.to_numpy(), usable=usable)
    # Candidate sites at the u node of 30 random walkable edges with distinct u nodes.
    rng = np.random.default_rng(20261124)
    edges = rng.permutation(np.flatnonzero(usable))
    _, first = np.unique(network.edges["u"].to_numpy()[edges], return_index=True)
    chosen = edges[np.sort(first)[:30]]
    cand_snap = engine.Snap(chosen, np.zeros(30), np.zeros(30))
    long = engine.travel_time_matrix(
        network, forward_s, backward_s, cand_snap, dem_snap, cutoff_s=600
    )
    demand_ids = demand["demand_id"].to_numpy()
    cand_ids = np.array([f"site-{i:02d}" for i in range(30)], dtype=object)
    table = pd.DataFrame(
        {
            "demand_id": demand_ids[long["demand"].to_numpy()],
            "facility_id": cand_ids[long["facility"].to_numpy()],
            "travel_time_s": long["travel_time_s"].to_numpy(),
        }
    )
    pop = demand.set_index("demand_id")["population"]
    # spopt's dense demand × facility cost matrix: pairs beyond the cutoff at a large value.
    dense = np.full((len(demand), 30), 1e6)
    dense[long["demand"].to_numpy(), long["facility"].to_numpy()] = long["travel_time_s"]
    return {
        "network": network,
        "times": (forward_s, backward_s),
        "dem_snap": dem_snap,
        "cand_snap": cand_snap,
        "table": table,
        "pop": pop,
        "cand_ids": cand_ids,
        "dense": dense,
    }


def _spopt_solve(model):
    """Solve a spopt model with PuLP's bundled CBC; PuLP 3.3's own deprecation notices only."""
    import pulp

    with warnings.catch_warnings():
        warnings.filterwarnings(
            "ignore",
            message=r"(Constructing LpVariable|PULP_CBC_CMD is deprecated)",
            category=DeprecationWarning,
        )
        solver = pulp.PULP_CBC_CMD(msg=False)
        model.solve(solver)
    assert model.problem.status == 1  # optimal
    return pulp.value(model.problem.objective)


def _spopt(build, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.filterwarnings(
            "ignore", message=r"Constructing LpVariable", category=DeprecationWarning
        )
        return build(*args, **kwargs)


@pytest.mark.slow
@pytest.mark.parametrize("p", [1, 3, 5, 8])
def test_mclp_equals_spopt_on_tuanchengshan(tuanchengshan_case, p):
    from spopt.locate import MCLP

    case = tuanchengshan_case
    pop = case["pop"]
    # spopt covers where cost <= service_radius (coverage.py: aij[cost_matrix <= radius] = 1,
    # although its docstring writes d_ij < S), the same inclusive rule as geoplan.
    model = _spopt(
        MCLP.from_cost_matrix, case["dense"], pop.to_numpy(), service_radius=600, p_facilities=p
    )
    expected = _spopt_solve(model)
    result = location.mclp(case["table"], pop, p=p, cutoff_s=600, candidates=case["cand_ids"])
    assert result.status == "optimal"
    assert result.objective == pytest.approx(expected, rel=1e-9)
    spopt_sites = tuple(
        case["cand_ids"][[j for j, v in enumerate(model.fac_vars) if v.value() > 0.5]]
    )
    # the sites may differ only where several choices tie: both cover the same persons
    again = location.mclp(case["table"], pop, p=p, cutoff_s=600, candidates=spopt_sites)
    assert again.objective == pytest.approx(expected, rel=1e-9)
    greedy = location.mclp(case["table"], pop, p=p, cutoff_s=600, method="greedy")
    assert greedy.objective <= result.objective + 1e-6
    assert greedy.bound >= result.objective - 1e-6


@pytest.mark.slow
def test_mclp_with_existing_equals_spopt_predefined(tuanchengshan_case):
    from spopt.locate import MCLP

    case = tuanchengshan_case
    pop, ids = case["pop"], case["cand_ids"]
    existing = [ids[4], ids[17]]
    predefined = np.isin(ids, existing).astype(int)
    # spopt's p counts every open facility, predefined ones included.
    model = _spopt(
        MCLP.from_cost_matrix,
        case["dense"],
        pop.to_numpy(),
        service_radius=600,
        p_facilities=3 + 2,
        predefined_facilities_arr=predefined,
    )
    expected = _spopt_solve(model)
    result = location.mclp(case["table"], pop, p=3, cutoff_s=600, existing=existing)
    assert result.objective == pytest.approx(expected, rel=1e-9)
    assert not set(result.selected) & set(existing)


@pytest.mark.slow
def test_lscp_equals_spopt_on_tuanchengshan(tuanchengshan_case):
    from spopt.locate import LSCP

    case = tuanchengshan_case
    pop = case["pop"]
    # spopt's LSCP demands that every client be covered, so it gets the coverable demand
    # with people (geoplan's target_share=1.0 is relative to coverable population).
    keep = (case["dense"] <= 600).any(axis=1) & (pop.to_numpy() > 0)
    model = _spopt(LSCP.from_cost_matrix, case["dense"][keep], service_radius=600)
    expected = _spopt_solve(model)
    result = location.lscp(case["table"], pop, cutoff_s=600)
    assert result.status == "optimal"
    assert result.objective == expected
    assert result.covered_population == pytest.approx(result.coverable_population)
    greedy = location.lscp(case["table"], pop, cutoff_s=600, method="greedy")
    assert greedy.objective >= result.objective
    assert greedy.covered_population == pytest.approx(result.coverable_population)


@pytest.mark.slow
@pytest.mark.parametrize("p", [2, 6])
def test_pmedian_equals_spopt_on_tuanchengshan(tuanchengshan_case, p):
    from spopt.locate import PMedian

    case = tuanchengshan_case
    pop = case["pop"]
    # The table stops at 600 s. geoplan charges unserved_penalty_s per person left without an
    # open site among its pairs; spopt sees the same number as the cost of every missing pair.
    # Demand with no pair at all is unassignable in geoplan, so spopt gets the rest only.
    penalty = 3600.0
    dense = np.where(case["dense"] <= 600, case["dense"], penalty)
    keep = (case["dense"] <= 600).any(axis=1)
    model = _spopt(PMedian.from_cost_matrix, dense[keep], pop.to_numpy()[keep], p_facilities=p)
    expected = _spopt_solve(model)
    result = location.pmedian(case["table"], pop, p=p, unserved_penalty_s=penalty)
    assert result.status == "optimal"
    assert result.objective == pytest.approx(expected, rel=1e-7)
    assert result.unassigned_population >= pop.to_numpy()[~keep].sum() - 1e-6


@pytest.mark.slow
def test_evaluate_candidates_equals_one_search_per_candidate(tuanchengshan_case):
    case = tuanchengshan_case
    network, (forward_s, backward_s) = case["network"], case["times"]
    pop, ids = case["pop"], case["cand_ids"]
    existing = list(range(5))
    cutoff_s = 450.0
    # Candidates named explicitly: by default they come from the table, where a site with no
    # demand within the table's 600 s would be missing.
    ranked = location.evaluate_candidates(
        case["table"],
        pop,
        cutoff_s=cutoff_s,
        existing=ids[existing].tolist(),
        candidates=ids[5:].tolist(),
    ).set_index("candidate_id")
    base = engine.transposed_street_csr(network, forward_s, backward_s)

    def covered(positions):
        near = engine.nearest_facility(
            network,
            forward_s,
            backward_s,
            case["cand_snap"].take(np.asarray(positions)),
            case["dem_snap"],
            base=base,
        )
        return near.travel_time_s <= cutoff_s  # NaN (unreachable) compares False

    before = covered(existing)
    population = pop.to_numpy()
    assert len(ranked) == 25
    for j in range(5, 30):
        new = covered([*existing, j]) & ~before
        row = ranked.loc[ids[j]]
        assert row["new_points"] == new.sum()
        assert row["new_population"] == pytest.approx(population[new].sum(), rel=1e-12)
    assert (ranked["new_population"].diff().dropna() <= 0).all()


@pytest.mark.slow
def test_capacitated_pmedian_equals_brute_force_on_tuanchengshan(tuanchengshan_case):
    # Eight candidate sites, every demand point paired with all of them (no cutoff), each
    # site able to serve 40 % of the population. Brute force: for each of the 56 triples, the
    # transportation LP (dense, scipy's linprog) gives the best fractional assignment.
    from itertools import combinations

    import scipy.sparse as sps
    from scipy.optimize import linprog

    case = tuanchengshan_case
    network, (forward_s, backward_s) = case["network"], case["times"]
    sites = case["cand_snap"].take(np.arange(8))
    long = engine.travel_time_matrix(
        network, forward_s, backward_s, sites, case["dem_snap"], cutoff_s=1e7
    )
    pop = case["pop"]
    dense = np.full((len(pop), 8), np.nan)
    dense[long["demand"].to_numpy(), long["facility"].to_numpy()] = long["travel_time_s"]
    assert not np.isnan(dense).any()  # the network is connected for these sites
    ids = case["cand_ids"][:8]
    table = pd.DataFrame(
        {
            "demand_id": pop.index.to_numpy()[long["demand"].to_numpy()],
            "facility_id": ids[long["facility"].to_numpy()],
            "travel_time_s": long["travel_time_s"].to_numpy(),
        }
    )
    cap = 0.4 * pop.sum()
    w = pop.to_numpy()[pop.to_numpy() > 0]
    cost = dense[pop.to_numpy() > 0]
    n = len(w)

    def best_assignment(triple):
        c = (w[:, None] * cost[:, list(triple)]).ravel()
        a_eq = sps.kron(sps.identity(n), np.ones((1, 3)), format="csr")
        a_ub = sps.csr_matrix(
            (np.repeat(w, 3), (np.tile(np.arange(3), n), np.arange(3 * n))), shape=(3, 3 * n)
        )
        res = linprog(c, A_ub=a_ub, b_ub=np.full(3, cap), A_eq=a_eq, b_eq=np.ones(n))
        assert res.status == 0
        return res.fun

    expected = min(best_assignment(t) for t in combinations(range(8), 3))
    result = location.pmedian(table, pop, p=3, capacity=pd.Series(cap, index=ids))
    assert result.status == "optimal"
    assert result.objective == pytest.approx(expected, rel=1e-9)
    load = result.assignment.groupby("facility_id")["population"].sum()
    assert load.max() <= cap * (1 + 1e-9)
    assert result.covered_population == pytest.approx(pop.sum())
    # the capacity binds: without it the three sites would do better
    assert location.pmedian(table, pop, p=3).objective < result.objective * (1 - 1e-3)


# ----------------------------------------------------------------------------- p-center


def _distance_table(demand_x: dict[str, float], sites_x: dict[str, float]) -> pd.DataFrame:
    """Every (demand, site) pair on a line, one second per metre."""
    return _table([(d, f, abs(x - y)) for d, x in demand_x.items() for f, y in sites_x.items()])


def test_pcenter_minimises_the_longest_time_where_pmedian_serves_the_town():
    # a town of 100 at 0 and a village of 1 at 100: the p-median sits in the town, the
    # p-center halfway (50 s for both, 5,050 person-seconds)
    table = _distance_table({"town": 0, "village": 100}, {"S0": 0, "S50": 50, "S100": 100})
    pop = pd.Series({"town": 100.0, "village": 1.0})
    assert location.pmedian(table, pop, p=1).selected == ("S0",)
    result = location.pcenter(table, pop, p=1)
    assert result.problem == "pcenter"
    assert result.selected == ("S50",)
    assert result.objective == 50.0
    assert result.status == "optimal"
    assert result.bound == 50.0 and result.gap == 0.0
    assert result.weighted_time_s == 100 * 50 + 1 * 50
    assert result.covered_population == 101.0
    assert set(result.assignment["facility_id"]) == {"S50"}


def test_pcenter_counts_existing_sites_and_breaks_ties_by_weighted_time():
    table = _distance_table(
        {"a": 0, "b": 100, "c": 60}, {"S0": 0, "S50": 50, "S60": 60, "S100": 100}
    )
    pop = pd.Series({"a": 1.0, "b": 1.0, "c": 10.0})
    # with S100 open, S0 brings every resident within 40 s (c: 40 s to S100)
    with_existing = location.pcenter(table, pop, p=1, existing=["S100"])
    assert with_existing.selected == ("S0",)
    assert with_existing.existing == ("S100",)
    assert with_existing.objective == 40.0
    # p = 2: {S0, S100} and {S0, S60} both reach everyone within 40 s; {S0, S60} leaves
    # 40 person-seconds (b), {S0, S100} 400 (c): the tie goes to the lesser weighted time
    tied = location.pcenter(table, pop, p=2)
    assert tied.objective == 40.0
    assert tied.selected == ("S0", "S60")
    assert tied.weighted_time_s == 40.0


def test_pcenter_equals_brute_force_on_random_instances():
    rng = np.random.default_rng(20261207)
    for _ in range(25):
        n_dem, n_fac, p = 12, 7, int(rng.integers(1, 4))
        times = rng.integers(1, 60, size=(n_dem, n_fac)).astype(float)
        times[rng.random((n_dem, n_fac)) < 0.3] = np.nan  # pairs beyond the cutoff
        times[:, 0] = np.where(np.isnan(times[:, 0]), 90.0, times[:, 0])  # all reachable
        pop = pd.Series(rng.integers(0, 5, size=n_dem).astype(float) + (np.arange(n_dem) == 0))
        pop.index = [f"d{i}" for i in range(n_dem)]
        rows = [
            (f"d{i}", f"f{j}", times[i, j])
            for i in range(n_dem)
            for j in range(n_fac)
            if not np.isnan(times[i, j])
        ]
        table = _table(rows)
        people = pop.to_numpy() > 0
        best = (math.inf, math.inf)
        reach = np.where(np.isnan(times), np.inf, times)
        for combo in itertools.combinations(range(n_fac), p):
            nearest = reach[:, list(combo)].min(axis=1)
            radius = nearest[people].max()
            weighted = float((pop.to_numpy() * np.where(people, nearest, 0)).sum())
            best = min(best, (radius, weighted))
        result = location.pcenter(table, pop, p=p)
        assert result.status == "optimal"
        assert (result.objective, result.weighted_time_s) == pytest.approx(best)


def test_pcenter_refuses_what_it_cannot_know():
    table = _distance_table({"a": 0, "b": 100}, {"S0": 0, "S100": 100})
    far = pd.concat([table, _table([("c", "S0", 10.0)])])
    pop = pd.Series({"a": 1.0, "b": 1.0, "c": 1.0, "d": 2.0})
    with pytest.raises(ConfigError, match=r"1 demand points \(2.0 persons\) have no pair"):
        location.pcenter(far, pop, p=1)
    # S0 reaches a only, S100 b only (within the table): one site cannot reach both
    short = table[table["travel_time_s"] < 50]
    with pytest.raises(ConfigError, match="takes 2 new sites"):
        location.pcenter(short, pop.iloc[:2], p=1)
    with pytest.raises(ConfigError, match="population above 0"):
        location.pcenter(table, pd.Series({"a": 0.0, "b": 0.0}), p=1)
    with pytest.raises(ConfigError, match="only 2 candidates"):
        location.pcenter(table, pop.iloc[:2], p=3)


@pytest.fixture(scope="module")
def response_case(tuanchengshan_walk):
    """团城山: drive times FROM 30 candidate stations (sampled residents' places) to a seeded
    third of the residents within 100 m of a street, with a cutoff that reaches them all."""
    from geoplan.readers.demand import demand_from_graphml_edges

    network = tuanchengshan_walk
    demand = demand_from_graphml_edges(
        shipped_path("osm/huangshi_tuanchengshan_drive_ghspop_2024.graphml.gz")
    )
    times = network.mode_times("drive", direction="from_facility")
    points = demand.geometry.to_crs(network.crs)
    snap = engine.snap_points(
        network, points.x.to_numpy(), points.y.to_numpy(), usable=times.demand_edges
    )
    keep = (snap.snap_distance_m <= 100) & (np.random.default_rng(7).random(len(demand)) < 0.35)
    demand, snap = demand[keep].reset_index(drop=True), snap.take(keep)
    stations = snap.take(np.sort(np.random.default_rng(20261207).choice(len(demand), 30, False)))
    long = engine.travel_time_matrix(
        network, times.forward_s, times.backward_s, stations, snap, cutoff_s=7200
    )
    ids = np.array([f"st-{i:02d}" for i in range(30)], dtype=object)
    table = pd.DataFrame(
        {
            "demand_id": demand["demand_id"].to_numpy()[long["demand"].to_numpy()],
            "facility_id": ids[long["facility"].to_numpy()],
            "travel_time_s": long["travel_time_s"].to_numpy(),
        }
    )
    dense = np.full((len(demand), 30), np.inf)
    dense[long["demand"].to_numpy(), long["facility"].to_numpy()] = long["travel_time_s"]
    pop = demand.set_index("demand_id")["population"]
    assert np.isfinite(dense).all()  # every pair within the cutoff: a full cost matrix
    return {"table": table, "pop": pop, "ids": ids, "dense": dense[pop.to_numpy() > 0]}


@pytest.mark.slow
@pytest.mark.parametrize(("p", "existing"), [(2, ()), (4, ()), (2, ("st-01",))])
def test_pcenter_equals_spopt_on_tuanchengshan_response_times(response_case, p, existing):
    from spopt.locate import PCenter

    case = response_case
    predefined = np.isin(case["ids"], existing).astype(int) if existing else None
    # spopt's p counts every open facility, predefined ones included
    model = _spopt(
        PCenter.from_cost_matrix,
        case["dense"],
        p_facilities=p + len(existing),
        predefined_facilities_arr=predefined,
    )
    expected = _spopt_solve(model)
    result = location.pcenter(case["table"], case["pop"], p=p, existing=existing)
    assert result.status == "optimal"
    assert result.objective == pytest.approx(expected, rel=1e-7)
    chosen = np.isin(case["ids"], [*result.selected, *existing])
    assert case["dense"][:, chosen].min(axis=1).max() == result.objective
    spopt_sites = [j for j, v in enumerate(model.fac_vars) if v.value() > 0.5]
    assert case["dense"][:, spopt_sites].min(axis=1).max() == pytest.approx(expected, rel=1e-7)
    assert len(result.selected) == p and not set(result.selected) & set(existing)
