"""The front door (``import geoplan as gp``): what it publishes, what importing it costs, and
that its verbs give the figures a project run gives (on the shipped demo data)."""

from __future__ import annotations

import ast
import importlib
import importlib.util
import json
import os
import subprocess
import sys
import warnings
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest

import geoplan as gp
from geoplan.analysis.coverage import column, nearest_table
from geoplan.errors import ConfigError, DataQualityWarning

REPO = Path(__file__).resolve().parents[1]
PACKAGE = REPO / "geoplan"

PUBLIC = [
    "DEMO_PROJECT",
    "ConfigError",
    "Coverage",
    "DataQualityWarning",
    "FacilityTable",
    "GeoplanError",
    "InputError",
    "InputFileNotFoundError",
    "LimitError",
    "Network",
    "NetworkError",
    "OutputError",
    "OutputExistsError",
    "Project",
    "Rule",
    "RunResult",
    "__version__",
    "analysis",
    "available_packs",
    "compute_project",
    "coverage",
    "coverage_map",
    "find_gaps",
    "load_pack",
    "load_project",
    "plans",
    "read_demand",
    "read_facilities",
    "read_network",
    "read_units",
    "readers",
    "rendering",
    "run_project",
    "save_map",
    "shipped_path",
    "travel_times",
    "workflows",
]
"""The front door's names: adding or removing one is a decision, made here too."""

HEAVY = ("folium", "matplotlib", "dask", "highspy", "playwright")


def test_the_front_door_publishes_exactly_its_names():
    assert sorted(gp.__all__) == sorted(PUBLIC)
    for name in PUBLIC:
        assert getattr(gp, name) is not None, name
    assert set(PUBLIC) <= set(dir(gp))
    with pytest.raises(AttributeError, match="no attribute 'nonexistent'"):
        gp.nonexistent  # noqa: B018


def test_import_geoplan_loads_no_heavy_library():
    code = (
        "import sys, geoplan\n"
        f"heavy = [m for m in {HEAVY!r} if m in sys.modules]\n"
        "print(','.join(heavy))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "", f"import geoplan loaded {done.stdout.strip()}"


def test_the_notebook_verbs_load_no_browser_solver_or_dask():
    # reading and computing coverage needs none of them (folium comes with the map only)
    code = (
        "import sys, geoplan as gp\n"
        "gp.read_facilities, gp.read_network, gp.read_demand, gp.read_units, gp.coverage\n"
        "gp.find_gaps, gp.travel_times, gp.load_project\n"
        f"print(','.join(m for m in {HEAVY!r} if m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == ""


def _modules() -> list[Path]:
    return sorted(PACKAGE.rglob("*.py"))


@pytest.mark.parametrize("path", _modules(), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_every_module_says_what_it_exports(path):
    """``__all__`` in every module: each entry exists, and every public function and class
    the module defines is in it (a package lists its modules)."""
    parts = path.relative_to(REPO).with_suffix("").parts
    name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
    if name == "geoplan.__main__":
        return  # running it is its only purpose (python -m geoplan)
    module = importlib.import_module(name)
    assert hasattr(module, "__all__"), f"{name} has no __all__"
    is_package = path.name == "__init__.py"
    missing = [
        n
        for n in module.__all__
        if not hasattr(module, n)
        and not (is_package and importlib.util.find_spec(f"{name}.{n}") is not None)
    ]
    assert not missing, f"{name}.__all__ names what it does not have: {missing}"
    tree = ast.parse(path.read_text(encoding="utf-8"))
    defined = [
        n.name
        for n in tree.body
        if isinstance(n, ast.FunctionDef | ast.ClassDef) and not n.name.startswith("_")
    ]
    unlisted = sorted(set(defined) - set(module.__all__))
    assert not unlisted, f"{name} defines public {unlisted} but does not export them"
    if path.name == "__init__.py" and name != "geoplan":
        modules = sorted(p.stem for p in path.parent.glob("*.py") if p.stem != "__init__")
        assert sorted(module.__all__) == modules


# --------------------------------------------------------------------------- the verbs


@pytest.fixture(scope="module")
def demo():
    """The demo's inputs read through the front door, and the demo project's own run."""
    network = gp.read_network(gp.shipped_path("osm/huangshi_tuanchengshan_all_2022.graphml.gz"))
    facilities = gp.read_facilities(
        gp.shipped_path("facilities/tuanchengshan_scenario.csv"), crs="wgs84"
    )
    demand = gp.read_demand(
        gp.shipped_path("osm/huangshi_tuanchengshan_drive_ghspop_2024.graphml.gz"),
        population_column="population",
        group_column="cell_id",
        spacing_m=50,
    )
    units = gp.read_units(gp.shipped_path("boundaries/huangshi_tuanchengshan_official.geojson"))
    run = gp.compute_project(gp.load_project(gp.DEMO_PROJECT))
    return network, facilities, demand, units, run


def test_coverage_gives_the_figures_of_a_project_run(demo):
    network, facilities, demand, units, run = demo
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the demo's inputs raise no data-quality warning
        cov = gp.coverage(network, facilities, demand, list(run.project.rules), units)
    assert isinstance(cov, gp.Coverage)
    for row in run.summary["rules"]:
        assert cov.share(row["id"]) == pytest.approx(row["share_covered"], rel=1e-12)
    pd.testing.assert_frame_equal(cov.by_unit(), run.by_unit, check_exact=False, rtol=1e-12)
    points = cov.points()
    assert isinstance(points, gpd.GeoDataFrame) and points.crs == network.crs
    assert len(points) == len(run.coverage.table)
    np.testing.assert_array_equal(points.geometry.x.to_numpy(), run.coverage.table["x"].to_numpy())
    rule = run.project.rules[0].id
    np.testing.assert_array_equal(
        points[column(rule, "covered")].to_numpy(),
        run.coverage.table[column(rule, "covered")].to_numpy(),
    )
    with pytest.raises(ConfigError, match=r"no rule 'nope'.*medical_walk_15"):
        cov.share("nope")


def test_find_gaps_is_the_runs_gap_list(demo):
    network, facilities, demand, units, run = demo
    cov = gp.coverage(network, facilities, demand, list(run.project.rules), units)
    rule = run.project.rules[0].id
    gaps = gp.find_gaps(cov, rule)
    expected = run.gaps[run.gaps["rule_id"] == rule].reset_index(drop=True)
    assert len(gaps) == len(expected) > 0
    pd.testing.assert_frame_equal(
        pd.DataFrame(gaps.drop(columns="geometry")),
        pd.DataFrame(expected.drop(columns="geometry")),
    )
    assert gaps.geometry.geom_equals(expected.geometry).all()
    assert len(gp.find_gaps(cov)) == len(run.gaps)  # every rule


def test_travel_times_is_the_long_table_within_the_cutoff(demo):
    network, facilities, demand, _, _ = demo
    cutoff_s = 600.0
    table = gp.travel_times(network, facilities, demand, mode="walk", cutoff_s=cutoff_s)
    assert list(table.columns) == ["demand_id", "facility_id", "travel_time_s"]
    assert (table["travel_time_s"] <= cutoff_s).all() and table["travel_time_s"].notna().all()
    assert not table.duplicated(["demand_id", "facility_id"]).any()
    # its nearest pair per resident is the engine's nearest facility, where that is in reach
    nearest = nearest_table(network, facilities.used, demand, mode="walk")
    within = nearest[nearest["travel_time_s"] <= cutoff_s].set_index("demand_id")
    best = table.astype({"demand_id": str}).groupby("demand_id")["travel_time_s"].min()
    assert set(best.index) == set(within.index)
    np.testing.assert_allclose(
        best.loc[within.index].to_numpy(), within["travel_time_s"].to_numpy(), rtol=1e-9
    )


def test_coverage_map_is_the_runs_map(demo, tmp_path):
    from geoplan.rendering.maps import map_html

    network, facilities, demand, units, run = demo
    cov = gp.coverage(network, facilities, demand, list(run.project.rules), units)
    m = gp.coverage_map(cov, title=("团城山", "Tuanchengshan"), lang="en")
    html = map_html(m)  # checks that it is offline
    for rule in run.project.rules:
        assert rule.name_en in html
    gp.save_map(m, tmp_path / "map.html")
    assert (tmp_path / "map.html").stat().st_size > 100_000


def test_the_verbs_refuse_what_they_cannot_use(demo):
    network, facilities, demand, _, run = demo
    rule = run.project.rules[0]
    with pytest.raises(ConfigError, match=r"list of geoplan\.Rule"):
        gp.coverage(network, facilities, demand, rule)
    with pytest.raises(ConfigError, match="FacilityTable"):
        gp.coverage(network, facilities.used, demand, [rule])


def test_what_the_checks_find_is_a_warning(demo):
    from geoplan.readers.facilities import read_facilities_frame

    network, _, demand, _, run = demo
    csv = pd.read_csv(gp.shipped_path("facilities/tuanchengshan_scenario.csv"), dtype=str)
    again = csv.iloc[[0]].assign(编号="TCS-CHC-01-COPY")  # the same clinic under a second id
    twice = read_facilities_frame(pd.concat([csv, again], ignore_index=True))
    with pytest.warns(DataQualityWarning, match="duplicate"):
        cov = gp.coverage(network, twice, demand, [run.project.rules[0]])
    rule = run.project.rules[0].id
    assert cov.share(rule) == pytest.approx(run.summary["rules"][0]["share_covered"])


def test_the_example_notebook_runs_top_to_bottom(tmp_path):
    env = {**os.environ, "GEOPLAN_EXAMPLE_OUT": str(tmp_path)}
    done = subprocess.run(
        [sys.executable, "-W", "error::UserWarning", str(REPO / "docs" / "example_notebook.py")],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "Medical facility within a 15-minute walk: 46.5% of residents" in done.stdout
    assert (tmp_path / "map.html").is_file()
    summary = json.dumps(done.stdout)
    assert "Traceback" not in summary
