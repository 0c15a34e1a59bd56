"""GCJ-02 checks everywhere: every file of points goes through one declaration and detection.

The defects of issue 11: a file with fewer than 5 points was not tested and said "no
findings"; ``scenario --add`` and ``sites --candidates`` read Amap coordinates as WGS84
without the check; ``traveltimes`` had no way to declare a coordinate system; the warning in
``run`` was hidden by ``-q`` and named a ``--crs`` option ``run`` does not have.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import shapely

from geoplan import coords
from geoplan._paths import REPO_ROOT, shipped_path
from geoplan.cli import main
from geoplan.workflows.project import DEMO_PROJECT, compute_project, load_project

BAD = REPO_ROOT / "tests" / "data" / "bad"
NETWORK = shipped_path("osm/huangshi_tuanchengshan_all_2022.graphml.gz")
DEMO_CSV = (DEMO_PROJECT.parent / "../facilities/tuanchengshan_scenario.csv").resolve()


def _street_points(n: int, seed: int = 3) -> tuple[np.ndarray, np.ndarray]:
    """WGS84 lon/lat of ``n`` points 10 m beside random streets of the 团城山 network."""
    from geoplan.readers.network import read_network

    net = read_network(NETWORK)
    rng = np.random.default_rng(seed)
    geoms = net.edges.geometry.to_numpy()
    long_enough = np.flatnonzero(net.edges["length_m"].to_numpy() > 100)
    idx = rng.choice(long_enough, n, replace=False)
    p = shapely.line_interpolate_point(geoms[idx], 0.5, normalized=True)
    xy = np.column_stack([shapely.get_x(p) + 10, shapely.get_y(p)])
    import pyproj

    to = pyproj.Transformer.from_crs(net.crs, 4326, always_xy=True)
    lon, lat = to.transform(xy[:, 0], xy[:, 1])
    return np.asarray(lon), np.asarray(lat)


def _gcj02_file(path: Path, n: int = 8, *, id_prefix: str = "NEW", seed: int = 3) -> tuple:
    """New facilities whose true WGS84 positions are beside streets, written in GCJ-02."""
    lon, lat = _street_points(n, seed)
    glon, glat = coords.wgs84_to_gcj02(lon, lat)
    rows = [
        f"{id_prefix}-{i},新建社区卫生服务站{i}（假设）,社区卫生服务站,{a:.7f},{b:.7f}\n"
        for i, (a, b) in enumerate(zip(glon, glat, strict=True))
    ]
    path.write_text("编号,名称,类型,经度,纬度\n" + "".join(rows), encoding="utf-8")
    return lon, lat


# --------------------------------------------------------------------------- too few points


def test_check_facilities_says_not_checked_for_a_small_file(tmp_path, capsys):
    small = tmp_path / "three.csv"
    small.write_text(
        "".join(DEMO_CSV.read_text(encoding="utf-8").splitlines(keepends=True)[:4]),
        encoding="utf-8",
    )
    out = str(tmp_path / "qa")
    args = ["check-facilities", str(small), "--network", str(NETWORK), "--out", out]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "not checked: fewer than 5 points" in out
    assert "gcj02_suspected" in out
    assert "no findings / 未发现问题" not in out
    assert "no findings among the checks that ran" in out


def test_run_says_not_checked_for_few_facilities(demo_project, tmp_path):
    small = tmp_path / "three.csv"
    small.write_text(
        "".join(DEMO_CSV.read_text(encoding="utf-8").splitlines(keepends=True)[:4]),
        encoding="utf-8",
    )
    result = compute_project(load_project(demo_project(replace={str(DEMO_CSV): str(small)})))
    (warning,) = [w for w in result.summary["warnings"] if w["check"] == "coordinates_not_checked"]
    assert "fewer than 5 points" in warning["message_en"] and "少于 5 个" in warning["message_zh"]
    (entry,) = result.summary["coordinate_checks"]
    assert entry["input"] == "facilities" and entry["status"] == "not checked"
    assert entry["points"] == 3


def test_the_demo_facilities_are_checked(demo_dir):
    summary = json.loads((demo_dir / "summary.json").read_text(encoding="utf-8"))
    (entry,) = summary["coordinate_checks"]
    assert entry == {"input": "facilities", "status": "clear", "points": 10, "declared": "wgs84"}


# --------------------------------------------------------------------------- run: message, -q


def test_run_names_the_project_key_and_warns_even_when_quiet(demo_project, capsys):
    path = demo_project(replace={str(DEMO_CSV): str(BAD / "gcj02_as_wgs84.csv")})
    out = path.parent / "out"
    assert main(["-q", "run", str(path), "--out", str(out)]) == 0
    err = capsys.readouterr().err
    assert "GCJ-02" in err  # -q silences progress, not warnings
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    (warning,) = [w for w in summary["warnings"] if w["check"] == "gcj02_suspected"]
    assert "[facilities]" in warning["message_en"] and 'crs = "gcj02"' in warning["message_en"]
    assert "--crs" not in warning["message_en"] and "--crs" not in warning["message_zh"]
    assert "--crs" not in err


# --------------------------------------------------------------------------- scenario --add


def test_scenario_add_checks_and_declares_the_coordinate_system(demo_project, tmp_path, capsys):
    add = tmp_path / "add.csv"
    lon, lat = _gcj02_file(add)
    project = demo_project()
    out = tmp_path / "s1"
    assert main(["-q", "scenario", str(project), "--add", str(add), "--out", str(out)]) == 0
    err = capsys.readouterr().err
    assert "GCJ-02" in err and "--crs gcj02" in err
    summary = json.loads((out / "scenario_summary.json").read_text(encoding="utf-8"))
    (warning,) = [w for w in summary["warnings"] if w["check"] == "gcj02_suspected"]
    assert "--crs gcj02" in warning["message_en"]

    out = tmp_path / "s2"
    args = ["-q", "scenario", str(project), "--add", str(add), "--crs", "gcj02"]
    assert main([*args, "--out", str(out)]) == 0
    assert "GCJ-02" not in capsys.readouterr().err
    summary = json.loads((out / "scenario_summary.json").read_text(encoding="utf-8"))
    added = [c for c in summary["changes"] if c["action"] == "add"]
    got = np.array([c["to_lonlat"] for c in added])
    assert np.abs(got - np.column_stack([lon, lat]).round(6)).max() < 2e-6  # converted


def test_scenario_move_coordinates_follow_the_declaration(demo_project, tmp_path):
    from geoplan.workflows.scenario import run_scenario_file

    lon, lat = _street_points(1, seed=11)
    glon, glat = coords.wgs84_to_gcj02(lon[0], lat[0])
    result = run_scenario_file(
        demo_project(),
        add=None,
        close=[],
        move=[f"TCS-CLN-01={glon:.7f},{glat:.7f}"],
        crs="gcj02",
        out=tmp_path / "m",
        overwrite=False,
    )
    (move,) = result.summary["changes"]
    assert move["to_lonlat"] == pytest.approx([lon[0], lat[0]], abs=2e-6)
    checks = {c["input"]: c for c in result.summary["coordinate_checks"]}
    assert checks["move"]["status"] == "declared"
    result = run_scenario_file(
        demo_project(),
        add=None,
        close=[],
        move=[f"TCS-CLN-01={lon[0]:.7f},{lat[0]:.7f}"],
        crs=None,
        out=tmp_path / "m2",
        overwrite=False,
    )
    checks = {c["input"]: c for c in result.summary["coordinate_checks"]}
    assert checks["move"]["status"] == "not checked"


def test_scenario_file_declares_the_coordinate_system_of_its_changes(demo_project, tmp_path):
    from geoplan.workflows.scenario import load_scenario_file

    add = tmp_path / "add.csv"
    _gcj02_file(add)
    spec = tmp_path / "s.toml"
    spec.write_text(
        f'[scenario]\nproject = "{demo_project()}"\nadd = "add.csv"\ncrs = "gcj02"\n',
        encoding="utf-8",
    )
    assert load_scenario_file(spec).crs == "gcj02"


# --------------------------------------------------------------------------- sites, traveltimes


def test_sites_candidates_are_checked(demo_project, tmp_path, capsys):
    candidates = tmp_path / "cand.csv"
    lon, lat = _street_points(8, seed=5)
    glon, glat = coords.wgs84_to_gcj02(lon, lat)
    pd.DataFrame({"candidate_id": [f"C{i}" for i in range(8)], "lon": glon, "lat": glat}).to_csv(
        candidates, index=False
    )
    args = ["-q", "sites", str(demo_project()), "--rule", "medical_walk_15", "--p", "1"]
    assert main([*args, "--candidates", str(candidates), "--out", str(tmp_path / "a")]) == 0
    err = capsys.readouterr().err
    assert "GCJ-02" in err and "--candidates-crs gcj02" in err
    summary = json.loads((tmp_path / "a" / "summary.json").read_text(encoding="utf-8"))
    assert [w["check"] for w in summary["warnings"]] == ["gcj02_suspected"]
    more = ["--candidates", str(candidates), "--candidates-crs", "gcj02"]
    assert main([*args, *more, "--out", str(tmp_path / "b")]) == 0
    assert "GCJ-02" not in capsys.readouterr().err
    selected = pd.read_csv(tmp_path / "b" / "candidates.csv", encoding="utf-8-sig")
    got = selected.set_index("candidate_id").loc[[f"C{i}" for i in range(8)], ["lon", "lat"]]
    # candidates are placed as given once converted (then snapped for the travel times)
    assert np.abs(got.to_numpy() - np.column_stack([lon, lat])).max() < 1e-6


def test_candidates_accept_the_facility_files_coordinate_systems(tmp_path):
    from geoplan.workflows.sites import read_candidates

    path = tmp_path / "cand.csv"
    path.write_text("id,经度,纬度\nA,115.02,30.2\n", encoding="utf-8")
    assert read_candidates(path, crs="EPSG:4490").geometry.x.iloc[0] == pytest.approx(115.02)
    assert read_candidates(path, crs="高德").geometry.x.iloc[0] < 115.02


def test_traveltimes_takes_the_declaration_and_warns_without_it(tmp_path, capsys):
    facilities = tmp_path / "fac.csv"
    lon, lat = _gcj02_file(facilities)
    demand = tmp_path / "people.csv"
    demand.write_text(
        "id,lon,lat,人口\n"
        + "".join(
            f"P{i},{a:.6f},{b:.6f},10\n" for i, (a, b) in enumerate(zip(lon, lat, strict=True))
        ),
        encoding="utf-8",
    )
    base = ["-q", "traveltimes", "--network", str(NETWORK), "--facilities", str(facilities)]
    base += ["--demand", str(demand)]
    assert main([*base, "--out", str(tmp_path / "a.csv")]) == 0
    err = capsys.readouterr().err
    assert "GCJ-02" in err and "--crs gcj02" in err
    assert main([*base, "--crs", "gcj02", "--out", str(tmp_path / "b.csv")]) == 0
    assert "GCJ-02" not in capsys.readouterr().err
    declared = pd.read_csv(tmp_path / "b.csv", encoding="utf-8-sig")
    # each resident stands on its facility once the facilities are converted
    assert (declared["facility_id"] == [f"NEW-{i}" for i in range(len(lon))]).all()
    # two access legs of 10 m (to 6 decimals of a degree) at 70 m/min: 17.1 s
    assert declared["travel_time_s"].max() < 18
