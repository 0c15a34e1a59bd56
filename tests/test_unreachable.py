"""Unreachable residents are a result: snapped to the main network by default, else counted
and shown (console, summary.json, coverage_by_unit.csv, gap list, map, report).

The hand network (metres in UTM 50N, offset from X0, Y0)::

                    D(0,1000) ────────── C(1000,1000)
                       │                     │
                       │                     │
    G(-500,0) ─oneway─▶ A(0,0) ────────────  B(1000,0) ──oneway──▶ E(1500,0)
                                                                     │
                                                                   F(1500,500)

The square is two-way; B→E is one-way and E–F a dead end, so a driver at E or F can never get
back: the one-way trap an extract's edge leaves. G→A is one-way into the square: drivers there
get in. The clinic sits at A. Resident group "trap" (100 people) lives beside E–F, "town" (200)
beside A–B, "source" (30) beside G–A.
"""

from __future__ import annotations

import json
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from pyproj import Transformer
from shapely.geometry import LineString

from geoplan.analysis.gaps import find_gaps
from geoplan.cli import main
from geoplan.workflows.project import run_project

X0, Y0 = 500_000.0, 3_320_000.0
TO_LONLAT = Transformer.from_crs(32650, 4326, always_xy=True)


def _lonlat(x: float, y: float) -> tuple[float, float]:
    lon, lat = TO_LONLAT.transform(X0 + x, Y0 + y)
    return round(lon, 8), round(lat, 8)


def write_trap_project(folder: Path, *, network_table: str = "", mode: str = "drive") -> Path:
    xy = {"A": (0, 0), "B": (1000, 0), "C": (1000, 1000), "D": (0, 1000)}
    xy |= {"E": (1500, 0), "F": (1500, 500)}
    streets = [("A", "B", "no"), ("B", "C", "no"), ("C", "D", "no"), ("D", "A", "no")]
    xy |= {"G": (-500, 0)}
    streets += [("B", "E", "yes"), ("E", "F", "no"), ("G", "A", "yes")]
    lines = gpd.GeoDataFrame(
        {
            "highway": ["residential"] * len(streets),
            "oneway": [ow for _, _, ow in streets],
            "geometry": [
                LineString([(X0 + xy[a][0], Y0 + xy[a][1]), (X0 + xy[b][0], Y0 + xy[b][1])])
                for a, b, _ in streets
            ],
        },
        crs=32650,
    )
    lines.to_file(folder / "roads.gpkg")
    lon, lat = _lonlat(5, 5)
    (folder / "clinics.csv").write_text(
        f"编号,名称,类型,经度,纬度\nK1,甲社区卫生服务中心,社区卫生服务中心,{lon},{lat}\n",
        encoding="utf-8",
    )
    rows = ["demand_id,lon,lat,population"]
    for i, (x, y, pop) in enumerate([(1510, 250, 60), (1510, 300, 40)]):
        rows.append(f"trap{i},{','.join(map(str, _lonlat(x, y)))},{pop}")
    rows.append(f"town0,{','.join(map(str, _lonlat(500, 10)))},200")
    rows.append(f"source0,{','.join(map(str, _lonlat(-250, 10)))},30")
    (folder / "people.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    project = folder / "trap.toml"
    project.write_text(
        f"""
[project]
area = "陷阱镇"
area_en = "Trap town"
[network]
path = "roads.gpkg"
{network_table}
[demand]
path = "people.csv"
[facilities]
path = "clinics.csv"
[gaps]
cell_m = 250
[[rules]]
id = "medical_{mode}_15"
name_zh = "15分钟到达医疗机构"
name_en = "Medical facility within 15 minutes"
categories = ["medical"]
mode = "{mode}"
threshold_min = 15
""",
        encoding="utf-8",
    )
    return project


def test_drive_demand_snaps_to_the_main_network_by_default(tmp_path):
    result = run_project(write_trap_project(tmp_path), tmp_path / "out")
    rule = result.summary["rules"][0]
    assert rule["points_unreachable"] == 0 and rule["population_unreachable"] == 0.0
    assert rule["population_covered"] == 330.0  # the trapped residents reach the clinic
    points = result.coverage.table.set_index("demand_id")
    # trap0 is 510 m from B–C (x = 1000): a 510 m walk at 70 m/min, 250 m to B and 995 m
    # towards A by car at 25 km/h, and the clinic's own 5 m access leg
    walk, car = 70 / 60, 25 / 3.6
    assert points.loc["trap0", "medical_drive_15_time_s"] == pytest.approx(
        510 / walk + (250 + 995) / car + 5 / walk,
        abs=0.01,  # coordinates rounded to 1e-8°
    )
    # the source group stays on its one-way street into town: 250 m to A by car
    assert points.loc["source0", "medical_drive_15_time_s"] == pytest.approx(
        10 / walk + (250 + 5) / car + 5 / walk, abs=0.01
    )
    moved = result.summary["network"]["modes"]["drive"]
    assert (moved["demand_points_moved"], moved["population_moved"]) == (2, 100.0)


def test_unreachable_residents_are_counted_and_shown_everywhere(tmp_path, capsys):
    project = write_trap_project(tmp_path, network_table="snap_to_largest_component = false")
    out = tmp_path / "out"
    assert main(["run", str(project), "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "不可达 / unreachable: 100 residents (2 points)" in printed

    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    rule = summary["rules"][0]
    assert (rule["points_unreachable"], rule["population_unreachable"]) == (2, 100.0)
    assert rule["population_covered"] == 230.0
    assert summary["network"]["snap_to_largest_component"] is False

    by_unit = pd.read_csv(out / "coverage_by_unit.csv")
    assert by_unit["medical_drive_15_population_unreachable"].sum() == 100.0

    gaps = pd.read_csv(out / "gaps.csv")
    unreachable = gaps[gaps["reason"] == "unreachable"]
    assert unreachable["population"].sum() == 100.0
    assert unreachable["median_travel_time_min"].isna().all()
    assert unreachable["reason_zh"].str.contains("不可达").all()
    assert unreachable["reason_en"].str.contains("unreachable").all()

    html = (out / "map.html").read_text(encoding="utf-8")
    assert "不可达居民" in html  # the legend class
    assert '"unreachableStyle"' in html or "unreachableStyle" in html

    assert main(["report", str(out), "--no-pdf"]) == 0
    report = (out / "report.html").read_text(encoding="utf-8")
    assert "不可达" in report and "100" in report


def test_gap_rows_split_unreachable_from_beyond_threshold():
    points = pd.DataFrame(
        {"x": [10.0, 20.0, 30.0], "y": [10.0, 20.0, 30.0], "population": [5.0, 7.0, 11.0]}
    )
    gaps = find_gaps(
        points,
        rule_id="r",
        covered=np.array([False, False, True]),
        travel_time_s=np.array([1200.0, np.nan, 60.0]),
        facility_id=np.array(["K", None, "K"], dtype=object),
        crs=32650,
        cell_m=500,
    )
    assert gaps["reason"].tolist() == ["unreachable", "beyond_threshold"]
    assert gaps["population"].tolist() == [7.0, 5.0]
    assert np.isnan(gaps["median_travel_time_s"].iloc[0])
    assert gaps["median_travel_time_s"].iloc[1] == 1200.0
    assert gaps["unreachable_population"].tolist() == [7.0, 0.0]


def test_a_real_extract_cut_by_one_way_streets(tmp_path, shared_file):
    """上海大学宝山校区 (OSM XML): a 50 m grid of residents, a drive rule to one clinic.

    The extract's edge cuts one-way streets, so drivers on part of it can never come back:
    about a fifth of the grid is unreachable when snapped to the nearest drivable street,
    none once snapped to the largest strongly connected part, and the run says how many moved.
    """
    from geoplan.readers.network import read_network

    osm = shared_file("osm/shanghai_shu_baoshan_cn.osm.bz2")
    network = read_network(osm)
    x0, y0, x1, y1 = network.edges.total_bounds
    gx, gy = np.meshgrid(np.arange(x0, x1, 50.0), np.arange(y0, y1, 50.0))
    to_lonlat = Transformer.from_crs(network.crs, 4326, always_xy=True)
    lon, lat = to_lonlat.transform(gx.ravel(), gy.ravel())
    pd.DataFrame(
        {"demand_id": [f"g{i}" for i in range(len(lon))], "lon": lon, "lat": lat, "population": 1.0}
    ).to_csv(tmp_path / "grid.csv", index=False)
    clon, clat = to_lonlat.transform((x0 + x1) / 2, (y0 + y1) / 2)
    (tmp_path / "clinic.csv").write_text(
        f"编号,名称,类型,经度,纬度\nK,校区诊所,诊所,{clon:.7f},{clat:.7f}\n", encoding="utf-8"
    )
    counts = {}
    for largest in ("true", "false"):
        (tmp_path / "p.toml").write_text(
            f"""
[project]
area = "宝山校区"
[network]
path = "{osm}"
snap_to_largest_component = {largest}
[demand]
path = "grid.csv"
[facilities]
path = "clinic.csv"
[[rules]]
id = "clinic_drive_10"
categories = ["medical"]
mode = "drive"
threshold_min = 10
""",
            encoding="utf-8",
        )
        result = run_project(tmp_path / "p.toml", tmp_path / f"out-{largest}")
        counts[largest] = (
            result.summary["rules"][0]["points_unreachable"],
            result.summary["network"]["modes"]["drive"]["demand_points_moved"],
        )
    n = len(lon)
    assert counts["false"][0] > 0.15 * n and counts["false"][1] == 0
    # every resident the cut-off streets trapped moved; those on streets leading in stayed
    assert counts["true"][0] == 0 and counts["true"][1] == counts["false"][0]


def test_main_component_edges_by_hand(tmp_path):
    """Residents may join streets that lead into the main network, facilities streets it reaches."""
    from geoplan.readers.network import read_network

    write_trap_project(tmp_path)
    network = read_network(tmp_path / "roads.gpkg", cache=False)
    corners = {(0, 0): "A", (1000, 0): "B", (1000, 1000): "C", (0, 1000): "D"}
    corners |= {(1500, 0): "E", (1500, 500): "F", (-500, 0): "G"}
    xy = np.round(network.nodes[["x", "y"]].to_numpy() - [X0, Y0]).astype(int)
    name = [corners[(x, y)] for x, y in xy]
    label = [
        "".join(sorted(name[u] + name[v]))
        for u, v in zip(network.edges["u"], network.edges["v"], strict=True)
    ]
    times = network.mode_times("drive")
    residents = {lab for lab, ok in zip(label, times.demand_edges, strict=True) if ok}
    facilities = {lab for lab, ok in zip(label, times.facility_edges, strict=True) if ok}
    assert residents == {"AB", "BC", "CD", "AD", "AG"}  # not the trap B→E, E–F
    assert facilities == {"AB", "BC", "CD", "AD", "BE", "EF"}  # not G→A: nothing drives to G
    walk = network.mode_times("walk")
    assert walk.demand_edges.all() and walk.facility_edges.all()


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ('private_ways = "gated"', r'\[network\] private_ways: must be one of "exclude"'),
        ('snap_to_largest_component = "yes"', r"\[network\] snap_to_largest_component: must"),
    ],
)
def test_network_keys_are_checked(tmp_path, line, message):
    from geoplan.errors import ConfigError
    from geoplan.workflows.project import load_project

    with pytest.raises(ConfigError, match=message):
        load_project(write_trap_project(tmp_path, network_table=line))
