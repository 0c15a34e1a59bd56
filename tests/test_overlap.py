"""Inputs must describe one place: refused when they do not, a warning when only partly.

The defects of issue 11: a European city's network under a Chinese county's facilities and
population exited 0 with "used 0, rejected 21 … 0.0%", and a population file of another
place gave "38,000 residents … 0.0%". The inputs here are real files of the shared data:
the Andorra PBF, the WorldPop Macau raster, the OSM health facilities of Macau, the 13 plan
counties' boundaries, under the 团城山 demo.
"""

from __future__ import annotations

import json

import pandas as pd
import pytest

from geoplan._paths import shipped_path
from geoplan.cli import main
from geoplan.coords import projected_to_lonlat
from geoplan.errors import InputError
from geoplan.workflows.project import compute_project, load_project

DEMO_NETWORK = '"geoplan:osm/huangshi_tuanchengshan_all_2022.graphml.gz"'
DEMO_DEMAND = """path = "geoplan:osm/huangshi_tuanchengshan_drive_ghspop_2024.graphml.gz"
format = "graphml_edges"
population_column = "population"
group_column = "cell_id"
# Spread each cell's residents along its street every ≤ 50 m instead of one midpoint.
spacing_m = 50"""
DEMO_BOUNDARY = """[boundary]
# The official boundary polygon (stored in the 2024 file's graph attributes; EPSG:32650).
path = "geoplan:boundaries/huangshi_tuanchengshan_official.geojson"
"""


@pytest.fixture
def andorra(shared_file):
    """The Andorra PBF of the shared data: a network of another country."""
    return shared_file("osm/andorra_ad.osm.pbf")


def _refused(path, capsys) -> str:
    """Run the project from the command line; it must fail with one line. Returns the line."""
    code = main(["-q", "run", str(path), "--out", str(path.parent / "out")])
    lines = capsys.readouterr().err.strip().splitlines()
    assert code == 1, lines
    # one error line (after the warnings of reading, which -q does not silence)
    assert lines[-1].startswith("geoplan: error:"), lines
    assert all(line.startswith("geoplan: WARNING:") for line in lines[:-1]), lines
    assert not (path.parent / "out" / "summary.json").exists()
    return lines[-1]


def test_network_of_another_country_is_refused_naming_it(demo_project, capsys, andorra):
    path = demo_project(replace={DEMO_NETWORK: f'"{andorra}"'})
    err = _refused(path, capsys)
    assert "network" in err and "andorra_ad.osm.pbf" in err
    assert "1.4" in err and "42.4" in err  # Andorra's extent …
    assert "114.9" in err and "30.1" in err  # … against 团城山's
    assert "km away" in err and "团城山街道" in err
    assert "路网" in err  # Chinese too


def test_network_of_another_country_without_a_boundary(demo_project, capsys, andorra):
    path = demo_project(replace={DEMO_NETWORK: f'"{andorra}"', DEMO_BOUNDARY: ""})
    err = _refused(path, capsys)
    assert "the network (" in err and "andorra_ad.osm.pbf" in err
    assert "0 of the 10 facilities" in err


def test_population_of_another_place_is_refused_naming_it(demo_project, capsys, shared_file):
    macau = shared_file("population/worldpop_mac_pd_2020_1km.tif")
    path = demo_project(replace={DEMO_DEMAND: f'path = "{macau}"'})
    err = _refused(path, capsys)
    assert "population (demand)" in err and "worldpop_mac_pd_2020_1km.tif" in err
    assert "113.5" in err and "22.1" in err  # Macau's extent
    assert "0% of the" in err


def test_population_of_another_place_without_a_boundary(demo_project, capsys, shared_file):
    macau = shared_file("population/worldpop_mac_pd_2020_1km.tif")
    path = demo_project(replace={DEMO_DEMAND: f'path = "{macau}"', DEMO_BOUNDARY: ""})
    err = _refused(path, capsys)
    # the facilities fit the network, so the population is the input that does not
    assert "the population (demand)" in err and "worldpop_mac_pd_2020_1km.tif" in err


def test_facilities_of_another_place_are_refused_naming_them(demo_project, capsys, shared_file):
    macau = shared_file("facilities/macau_islands_health_osm.geojson")
    path = demo_project(
        replace={str(_demo_facilities()): str(macau), DEMO_BOUNDARY: "", 'crs = "wgs84"\n': ""}
    )
    err = _refused(path, capsys)
    assert "facilities" in err and "macau_islands_health_osm.geojson" in err
    # 13 health facilities and an elderly home (安老院: elderly_care since issue 14)
    assert "0 of the 14 facilities" in err


def test_boundary_of_another_place_is_refused_naming_it(demo_project, capsys):
    counties = shipped_path("boundaries/targets_admin_tianditu_wgs84.geojson")
    path = demo_project(replace={DEMO_BOUNDARY: f'[boundary]\npath = "{counties}"\n'})
    err = _refused(path, capsys)
    assert "the boundary (targets_admin_tianditu_wgs84.geojson)" in err


def test_units_of_another_place_are_refused_naming_them(demo_project, capsys, shared_file):
    macau = shared_file("boundaries/macau_parishes_osm.gpkg")
    path = demo_project(append=f'\n[units]\npath = "{macau}"\n')
    err = _refused(path, capsys)
    assert "the units (macau_parishes_osm.gpkg)" in err


def _demo_facilities():
    from geoplan.workflows.project import DEMO_PROJECT

    return (DEMO_PROJECT.parent / "../facilities/tuanchengshan_scenario.csv").resolve()


def test_partial_overlap_is_a_warning_printed_even_when_quiet(demo_project, tmp_path, capsys):
    # the demo's real residents, plus a village of 6,000 people 8 km east of the network
    demo = compute_project(load_project(demo_project()))
    points = demo.coverage.table
    lon, lat = projected_to_lonlat(points["x"], points["y"], demo.network.crs, digits=7)
    table = pd.DataFrame({"lon": lon, "lat": lat, "population": points["population"]})
    table.loc[len(table)] = [115.13, 30.20, 6000.0]
    table.to_csv(tmp_path / "people.csv", index=False)
    path = demo_project(replace={DEMO_DEMAND: 'path = "people.csv"'})
    out = tmp_path / "out"
    assert main(["-q", "run", str(path), "--out", str(out)]) == 0
    err = capsys.readouterr().err
    assert "overlap only partly" in err  # -q silences progress, not warnings
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    checks = {w["check"]: w for w in summary["warnings"]}
    # the village lies outside the boundary too: the run does not count it (demand_outside_area)
    assert summary["demand_outside_area"]["population"] == pytest.approx(6000)
    share = summary["population_total"] / (summary["population_total"] + 6000)
    assert checks["demand_near_network"]["share"] == pytest.approx(share, rel=1e-9)
    assert "demand_in_boundary" not in checks  # said once, as demand_outside_area
    assert summary["inputs_overlap"]["demand_near_network"] < 0.99


def test_the_demo_overlaps_fully(demo_dir):
    summary = json.loads((demo_dir / "summary.json").read_text(encoding="utf-8"))
    shares = summary["inputs_overlap"]
    assert shares["demand_near_network"] == 1.0
    assert shares["facilities_near_network"] == 1.0
    assert shares["demand_in_boundary"] == 1.0
    assert shares["boundary_on_network"] > 0.9
    assert not [w for w in summary["warnings"] if w["check"] in shares]


def test_traveltimes_refuses_inputs_of_different_places(tmp_path, capsys, andorra):
    demand = tmp_path / "people.csv"
    demand.write_text("id,lon,lat,人口\nP1,115.02,30.20,100\nP2,115.03,30.19,50\n")
    code = main(
        [
            "-q",
            "traveltimes",
            "--network",
            str(andorra),
            "--facilities",
            str(_demo_facilities()),
            "--demand",
            str(demand),
            "--out",
            str(tmp_path / "t.csv"),
        ]
    )
    err = capsys.readouterr().err.strip()
    assert code == 1 and "network" in err and "andorra" in err
    assert not (tmp_path / "t.csv").exists()


def test_overlap_error_is_an_input_error(demo_project, andorra):
    path = demo_project(replace={DEMO_NETWORK: f'"{andorra}"'})
    with pytest.raises(InputError):
        compute_project(load_project(path))


def test_known_demand_coordinates_measure_the_same_overlap():
    """A run hands the check the demand coordinates it computes anyway (``demand_xy``):
    the shares are those the check measures from the points themselves; coordinates of
    another number of points are refused."""
    import geopandas as gpd
    import numpy as np

    from geoplan.analysis.coverage import point_xy
    from geoplan.analysis.overlap import check_overlap
    from geoplan.workflows.project import DEMO_PROJECT, load_network, read_project_demand

    project = load_project(DEMO_PROJECT)
    network, demand = load_network(project), read_project_demand(project)
    none = gpd.GeoDataFrame(geometry=gpd.GeoSeries([], crs=4326))
    common = dict(network=network, demand=demand, facilities=none, facility_snap_m=np.array([]))
    own = check_overlap(**common, max_snap_m=500.0)
    x, y = point_xy(demand, network.crs)
    given = check_overlap(**common, max_snap_m=500.0, demand_xy=(x, y))
    assert given.shares == own.shares and given.warnings == own.warnings
    assert own.shares == {"demand_near_network": 1.0}  # every demo resident is near a street
    with pytest.raises(InputError):  # the coordinates given are those measured: 1,000 km off
        check_overlap(**common, max_snap_m=500.0, demand_xy=(x + 1e6, y))
    with pytest.raises(ValueError, match="demand_xy has"):
        check_overlap(**common, max_snap_m=500.0, demand_xy=(x[1:], y[1:]))
