"""Site selection and 片区 on the real 团城山 demo, checked against independent coverage runs."""

from __future__ import annotations

import json

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from shapely.geometry import box

from geoplan.analysis.coverage import column, compute_coverage
from geoplan.cli import main
from geoplan.errors import ConfigError, InputError
from geoplan.rendering import maps
from geoplan.workflows.project import DEMO_PROJECT, compute_project, load_project
from geoplan.workflows.scenario import demand_frame
from geoplan.workflows.sites import (
    CATCHMENT_FILES,
    SITES_FILES,
    catchments,
    exclude_candidates,
    find_rule,
    gap_node_candidates,
    grid_candidates,
    read_candidates,
    select_sites,
    write_catchments,
    write_sites,
)

MEDICAL = "medical_walk_15"


@pytest.fixture(scope="module")
def run():
    """The demo project run once (real OSM streets and GHS-POP population)."""
    return compute_project(load_project(DEMO_PROJECT))


@pytest.fixture(scope="module")
def rule(run):
    return find_rule(run.project, MEDICAL)


@pytest.fixture(scope="module")
def grid_mclp(run):
    return select_sites(run, rule=MEDICAL, grid_m=250, model="mclp", p=2)


def test_top_grid_candidates_add_what_a_recomputed_coverage_gains(run, rule, grid_mclp):
    """evaluate_candidates' figure = an independent compute_coverage with the site added."""
    ranked = grid_mclp.candidates.sort_values("rank")
    assert ranked["rank"].tolist() == list(range(1, len(ranked) + 1))
    assert (np.diff(ranked["new_population"].to_numpy()) <= 0).all()
    before = run.coverage.table[column(MEDICAL, "covered")].to_numpy()
    population = run.coverage.table["population"].to_numpy()
    for _, site in ranked.head(3).iterrows():
        new = gpd.GeoDataFrame(
            {"facility_id": [site["candidate_id"]], "category": ["community_health_station"]},
            geometry=[site.geometry],
            crs=run.network.crs,
        )
        facilities = pd.concat([run.facilities.to_crs(run.network.crs), new], ignore_index=True)
        again = compute_coverage(
            run.network,
            gpd.GeoDataFrame(facilities, crs=run.network.crs),
            demand_frame(run),
            [rule],
            walk_speed_m_per_min=run.project.walk_speed_m_per_min,
        )
        after = again.table[column(MEDICAL, "covered")].to_numpy()
        assert not (before & ~after).any()
        gained = after & ~before
        assert int(gained.sum()) == site["new_points"]
        assert population[gained].sum() == pytest.approx(site["new_population"], abs=1e-6)
    assert ranked["new_population"].iloc[0] > 10_000  # the east-centre is far from any site


def test_grid_candidates_sit_on_the_streets_inside_the_boundary(run, rule):
    grid = grid_candidates(run, rule, spacing_m=250)
    assert grid["candidate_id"].is_unique
    assert grid["candidate_id"].iloc[0] == "grid-0001"
    edges = run.network.edges.geometry
    nearest = edges.distance(grid.geometry.iloc[0]).min()
    assert nearest < 1e-6  # on a street
    area = run.boundary.to_crs(run.network.crs).union_all()
    assert len(grid) > 200  # 18.6 km² / (250 m)² cells, fewer after snapping duplicates
    assert area.buffer(600).contains(grid.geometry).all()
    with pytest.raises(ConfigError, match="positive"):
        grid_candidates(run, rule, spacing_m=0)


def test_gap_nodes_are_the_ends_of_the_uncovered_residents_streets(run, rule):
    nodes = gap_node_candidates(run, rule)
    assert nodes["candidate_id"].is_unique
    ids = set(run.network.nodes["node_id"].astype(np.int64))
    assert all(int(c.removeprefix("node-")) in ids for c in nodes["candidate_id"])
    table = run.network.nodes.set_index("node_id")
    first = int(nodes["candidate_id"].iloc[0].removeprefix("node-"))
    assert nodes["x"].iloc[0] == table.loc[first, "x"]
    assert (nodes["snap_distance_m"] == 0).all()


def test_mclp_summary_and_recomputed_coverage_agree(grid_mclp):
    s = grid_mclp.summary["sites"]
    assert s["model"] == "mclp" and s["p"] == 2 and len(s["selected"]) == 2
    assert s["solver"]["status"] == "optimal" and s["solver"]["gap"] == 0.0
    assert s["covered_population_after"] == pytest.approx(s["model_covered_population"], abs=1e-6)
    assert s["objective"] == pytest.approx(s["covered_population_after"], abs=1e-6)
    assert s["covered_population_after"] > s["covered_population_before"]
    # two sites beat the best single site plus nothing
    best_alone = grid_mclp.candidates["new_population"].max()
    assert s["covered_population_after"] - s["covered_population_before"] >= best_alone - 1e-6
    chosen = grid_mclp.selected()
    assert chosen["candidate_id"].tolist() == s["selected"]
    # the table the models read: ids of the run's demand and of existing + candidate sites,
    # only pairs within the rule's threshold
    times = grid_mclp.travel_times
    assert set(times["demand_id"]) <= set(grid_mclp.run.coverage.table["demand_id"])
    known = set(grid_mclp.candidates["candidate_id"]) | set(grid_mclp.siting.existing)
    assert set(times["facility_id"]) <= known
    assert set(times["facility_id"]) >= set(s["selected"])
    assert (times["travel_time_s"] <= grid_mclp.rule.threshold_s).all()
    assert chosen["gained_population"].sum() == pytest.approx(
        s["covered_population_after"] - s["covered_population_before"], abs=1e-6
    )


def test_lscp_reaches_its_target_and_pmedian_runs(run):
    lscp = select_sites(run, rule=MEDICAL, gap_nodes=True, model="lscp", target_share=0.9)
    s = lscp.summary["sites"]
    assert s["covered_population_after"] >= 0.9 * s["coverable_population"] - 1e-6
    assert s["objective"] == len(s["selected"]) == s["p"]
    # a coarse grid keeps the p-median small (333 gap nodes take HiGHS about 20 s)
    median = select_sites(run, rule=MEDICAL, grid_m=750, model="pmedian", p=2)
    m = median.summary["sites"]
    assert len(m["selected"]) == 2 and m["solver"]["status"] == "optimal"
    assert m["objective_unit"].startswith("person-seconds")
    assert m["covered_population_after"] >= m["covered_population_before"]


def test_exclusion_layers_remove_candidates(run, rule, tmp_path):
    grid = grid_candidates(run, rule, spacing_m=250)
    xs = np.sort(grid["x"].to_numpy())
    cut = float(xs[len(xs) // 2] + xs[len(xs) // 2 + 1]) / 2  # between two sites, not on one
    west = box(grid.total_bounds[0] - 10, grid.total_bounds[1] - 10, cut, 4e6)
    layer = gpd.GeoDataFrame({"name": ["保护区"]}, geometry=[west], crs=run.network.crs)
    path = tmp_path / "exclude.gpkg"
    layer.to_crs(4326).to_file(path, layer="exclude", driver="GPKG")
    kept, n = exclude_candidates(grid, [layer])
    assert n > 0 and len(kept) + n == len(grid)
    assert (kept["x"] > cut).all()
    result = select_sites(run, rule=MEDICAL, grid_m=250, exclude=[path], model="mclp", p=1)
    assert result.summary["sites"]["candidates_excluded"] == n
    assert (result.candidates["x"] > cut).all()


def test_candidates_from_a_file(run, tmp_path):
    path = tmp_path / "sites.csv"
    path.write_text(
        "编号,名称,经度,纬度\nS1,西区（假设）,115.015060,30.201168\nS2,东区（假设）,115.0300,30.2050\n",
        encoding="utf-8",
    )
    table = read_candidates(path, network_crs=run.network.crs)
    assert table["candidate_id"].tolist() == ["S1", "S2"]
    assert table["snap_distance_m"].isna().all()  # not snapped yet: select_sites does it
    result = select_sites(run, rule=MEDICAL, candidates=path, model="mclp", p=1)
    assert len(result.summary["sites"]["selected"]) == 1
    assert result.summary["sites"]["candidates_source"] == "file sites.csv"
    snapped = result.candidates.set_index("candidate_id")["snap_distance_m"]
    assert np.isfinite(snapped).all() and (snapped >= 0).all()
    assert snapped["S1"] < 5.0  # S1 is the street corner the scenario tests move to
    bad = tmp_path / "bad.csv"
    bad.write_text("编号,名称\nS1,x\n", encoding="utf-8")
    with pytest.raises(InputError, match="longitude and latitude"):
        read_candidates(bad)
    clash = tmp_path / "clash.csv"
    clash.write_text("编号,经度,纬度\nTCS-CHC-01,115.0150,30.2011\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="equal existing facility ids"):
        select_sites(run, rule=MEDICAL, candidates=clash, model="mclp", p=1)


@pytest.mark.parametrize("encoding", ["utf-8-sig", "gbk", "utf-16"])
def test_candidate_files_are_decoded_like_facility_files(tmp_path, encoding):
    path = tmp_path / "sites.csv"
    path.write_bytes("编号,名称,经度,纬度\n西1,西区,115.0150,30.2011\n".encode(encoding))
    table = read_candidates(path)
    assert table["candidate_id"].tolist() == ["西1"]
    assert (table["x"].iloc[0], table["y"].iloc[0]) == pytest.approx((115.0150, 30.2011))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"grid_m": 250, "model": "mclp"}, "needs --p"),
        ({"grid_m": 250, "gap_nodes": True, "p": 1}, "exactly one candidate source"),
        ({"grid_m": 250, "model": "best", "p": 1}, "model must be one of"),
        ({"grid_m": 250, "p": 1, "rule": "nope"}, "unknown rule id 'nope'"),
    ],
)
def test_bad_options_are_config_errors(run, kwargs, message):
    kwargs = {"rule": MEDICAL, **kwargs}
    with pytest.raises(ConfigError, match=message):
        select_sites(run, **kwargs)


def test_write_sites(grid_mclp, tmp_path):
    out = write_sites(grid_mclp, tmp_path / "out")
    for name in SITES_FILES:
        assert (out / name).stat().st_size > 0, name
    maps.check_offline((out / "sites_map.html").read_text(encoding="utf-8"))
    with pytest.raises(FileExistsError):
        write_sites(grid_mclp, out)


def test_cli_sites_mclp_writes_every_file(tmp_path, capsys):
    out = tmp_path / "sites"
    args = ["sites", str(DEMO_PROJECT), "--rule", MEDICAL, "--grid", "250"]
    assert main([*args, "--model", "mclp", "--p", "2", "--out", str(out)]) == 0
    assert "MCLP: 2 new site(s)" in capsys.readouterr().out
    for name in SITES_FILES:
        assert (out / name).stat().st_size > 0, name
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    sites = summary["sites"]
    for key in ("model", "p", "objective", "covered_population_before", "covered_population_after"):
        assert key in sites
    assert set(sites["solver"]) >= {"status", "gap"}
    assert summary["facilities_hypothetical"] is True
    selected = pd.read_csv(out / "selected.csv", encoding="utf-8-sig")
    assert selected["candidate_id"].tolist() == sites["selected"]
    candidates = pd.read_csv(out / "candidates.csv", encoding="utf-8-sig")
    assert candidates["rank"].tolist() == list(range(1, len(candidates) + 1))
    assert candidates["selected"].sum() == 2
    book = pd.read_excel(out / "sites.xlsx", sheet_name=None)
    assert set(book) == {"selected", "candidates", "summary"}
    import pyogrio

    assert {n for n, _ in pyogrio.list_layers(out / "sites.gpkg")} == {"candidates", "selected"}


def test_cli_unknown_rule_is_a_one_line_error(tmp_path, capsys):
    args = ["sites", str(DEMO_PROJECT), "--rule", "nope", "--grid", "250", "--p", "2"]
    code = main([*args, "--out", str(tmp_path / "x")])
    assert code == 1
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("geoplan: error: unknown rule id 'nope'")
    assert "medical_walk_15" in lines[0]
    assert not (tmp_path / "x").exists()


def test_cli_needs_a_candidate_source(tmp_path):
    assert main(["-q", "sites", str(DEMO_PROJECT), "--rule", MEDICAL, "--out", str(tmp_path)]) == 2


def test_catchments_assign_every_facility_and_point_to_a_hub(run, tmp_path):
    result = catchments(run, k=2, categories=["medical"])
    hubs = set(result.hubs)
    assert len(hubs) == 2
    fac = result.facilities
    assert set(fac["facility_id"]) >= hubs
    assert fac["hub_id"].isin(hubs).all()
    for hub in hubs:
        assert fac.set_index("facility_id").loc[hub, "hub_id"] == hub
        assert fac.set_index("facility_id").loc[hub, "travel_time_s"] == 0.0
    points = result.points
    assert points["hub_id"].isin(hubs).all()
    assert result.areas["population"].sum() == pytest.approx(points["population"].sum())
    # weights are residents nearest to each facility: they add up to everyone reachable
    assert fac["weight"].sum() == pytest.approx(points["population"].sum(), rel=1e-9)
    out = write_catchments(result, tmp_path / "c")
    for name in CATCHMENT_FILES:
        assert (out / name).stat().st_size > 0, name
    with pytest.raises(ConfigError, match="need at least as many"):
        catchments(run, k=2, tier="township", categories=["medical"])


def test_cli_catchments(tmp_path, capsys):
    out = tmp_path / "c"
    args = ["catchments", str(DEMO_PROJECT), "--rule", MEDICAL, "--k", "2", "--out", str(out)]
    assert main(args) == 0
    assert "2 sub-centres" in capsys.readouterr().out
    assert json.loads((out / "manifest.json").read_text(encoding="utf-8"))["command"] == (
        "catchments"
    )
    for name in CATCHMENT_FILES:
        assert (out / name).exists(), name
    summary = json.loads((out / "catchments_summary.json").read_text(encoding="utf-8"))
    assert summary["k"] == 2 and len(summary["hubs"]) == 2
    assert [row["hub_id"] for row in summary["per_hub"]] == summary["hubs"]
    points = pd.read_csv(out / "catchment_points.csv", encoding="utf-8-sig")
    assert sum(row["population"] for row in summary["per_hub"]) == pytest.approx(
        points["population"].sum()
    )


def test_the_old_catchments_flag_still_works_and_says_where_it_went(tmp_path, capsys):
    old = ["sites", str(DEMO_PROJECT), "--rule", MEDICAL, "--catchments", "2"]
    assert main([*old, "--out", str(tmp_path / "old")]) == 0
    captured = capsys.readouterr()
    assert "geoplan catchments PROJECT --rule RULE --k K" in captured.err
    new = ["catchments", str(DEMO_PROJECT), "--rule", MEDICAL, "--k", "2"]
    assert main(["-q", *new, "--out", str(tmp_path / "new")]) == 0
    for name in ("catchment_facilities.csv", "catchment_points.csv"):
        assert (tmp_path / "old" / name).read_bytes() == (tmp_path / "new" / name).read_bytes()


def test_tier_belongs_to_catchments(tmp_path, capsys):
    args = ["sites", str(DEMO_PROJECT), "--rule", MEDICAL, "--grid", "500", "--tier", "township"]
    assert main([*args, "--out", str(tmp_path / "s")]) == 1
    assert "--tier goes with geoplan catchments" in capsys.readouterr().err


def test_pcenter_sites_bring_the_longest_walk_down_to_the_models_figure(run):
    """The p-center's radius is the longest time of the coverage recomputed with the chosen
    sites (a separate engine pass), and no longer than without them."""
    result = select_sites(run, rule=MEDICAL, grid_m=500, model="pcenter", p=2)
    points = run.coverage.table
    people = points["population"].to_numpy() > 0
    before = points[column(MEDICAL, "time_s")].to_numpy()[people].max()
    after = result.after.table[column(MEDICAL, "time_s")].to_numpy()[people].max()
    assert result.siting.status == "optimal"
    assert len(result.siting.selected) == 2
    assert after == pytest.approx(result.siting.objective, rel=1e-9)
    assert after < before
    assert result.summary["sites"]["objective_unit"].startswith("seconds")
    with pytest.raises(ConfigError, match="exactly only"):
        select_sites(run, rule=MEDICAL, grid_m=500, model="pcenter", p=2, method="greedy")
