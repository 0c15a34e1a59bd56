"""Streets drawn as computed: each street coloured by the time along it, cut at band boundaries.

Hand networks at 60 m/min (1 m/s), so seconds equal metres; every cut point below is computed
by hand from the time at a point of a street: the better of its two ends plus the along-street
part (one-way aware), or the direct trip to a facility on the same street.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from pyproj import Transformer
from shapely.geometry import LineString, Point

from geoplan.analysis.coverage import compute_coverage
from geoplan.analysis.rules import rule_from_mapping
from geoplan.analysis.streets import street_minutes
from geoplan.readers.network import Network
from geoplan.workflows.project import run_project

CRS = 32650
X0, Y0 = 500_000.0, 3_320_000.0


def network_of(lines: list[tuple[tuple, tuple]], *, oneway=None, highway="residential"):
    """A Network of straight streets given as ((x0, y0), (x1, y1)) offsets from X0, Y0."""
    ends = sorted({p for line in lines for p in line})
    pos = {p: i for i, p in enumerate(ends)}
    nodes = pd.DataFrame(
        {
            "node_id": np.arange(len(ends)),
            "x": [X0 + p[0] for p in ends],
            "y": [Y0 + p[1] for p in ends],
        }
    )
    geoms = [LineString([(X0 + a[0], Y0 + a[1]), (X0 + b[0], Y0 + b[1])]) for a, b in lines]
    edges = gpd.GeoDataFrame(
        {
            "u": [pos[a] for a, _ in lines],
            "v": [pos[b] for _, b in lines],
            "length_m": [g.length for g in geoms],
            "highway": highway,
            "oneway": oneway if oneway is not None else [False] * len(lines),
        },
        geometry=geoms,
        crs=CRS,
    )
    return Network(nodes=nodes, edges=edges, crs=edges.crs)


def points(xy, **columns) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(columns, geometry=[Point(X0 + x, Y0 + y) for x, y in xy], crs=CRS)


def rule(mode: str, minutes: float) -> object:
    return rule_from_mapping(
        {"id": "r", "categories": ["medical"], "mode": mode, "threshold_min": minutes},
        where="test",
    )


def pieces(network, facilities_xy, mode="walk", minutes=15.0, **kw):
    facilities = points(
        facilities_xy,
        facility_id=[f"F{i}" for i in range(len(facilities_xy))],
        category=["community_health_centre"] * len(facilities_xy),
    )
    demand = points([(0, 0)], demand_id=["d"], population=[1.0])
    coverage = compute_coverage(
        network, facilities, demand, [rule(mode, minutes)], walk_speed_m_per_min=60.0, **kw
    )
    frame = street_minutes(network, coverage)
    start = shapely.get_coordinates(shapely.get_point(frame.geometry.values, 0))[:, 0] - X0
    end = shapely.get_coordinates(shapely.get_point(frame.geometry.values, -1))[:, 0] - X0
    lo, hi = np.minimum(start, end), np.maximum(start, end)
    order = np.argsort(lo)
    return lo[order], hi[order], frame["r"].to_numpy()[order] * 60, frame


def band(seconds: np.ndarray, levels=(300.0, 600.0, 900.0)) -> list[int]:
    return np.searchsorted(levels, seconds, side="left").tolist()


def test_a_facility_mid_street_sits_on_a_green_street():
    network = network_of([((0, 0), (3000, 0))])
    lo, hi, seconds, frame = pieces(network, [(1500, 5)])
    # time at x: |x - 1500| + 5 (the clinic's access leg); levels 300 / 600 / 900 s
    np.testing.assert_allclose(lo, [0, 605, 905, 1205, 1795, 2095, 2395], atol=1e-6)
    np.testing.assert_allclose(hi, [605, 905, 1205, 1795, 2095, 2395, 3000], atol=1e-6)
    assert band(seconds) == [3, 2, 1, 0, 1, 2, 3]
    assert shapely.length(frame.geometry.values).sum() == pytest.approx(3000, abs=1e-6)


def test_a_street_between_two_reachable_ends_is_cut_where_its_time_crosses():
    # A(0)–B(1000), with facilities 100 m beyond A and 300 m beyond B
    network = network_of([((0, 0), (1000, 0)), ((-100, 0), (0, 0)), ((1000, 0), (1300, 0))])
    lo, hi, seconds, _ = pieces(network, [(-100, 0), (1300, 0)])
    main = (lo >= 0) & (hi <= 1000)
    # min(100 + x, 300 + 1000 - x): ≤ 300 up to x = 200, ≤ 600 up to 500 and from 700 on
    np.testing.assert_allclose(lo[main], [0, 200, 500, 700], atol=1e-6)
    np.testing.assert_allclose(hi[main], [200, 500, 700, 1000], atol=1e-6)
    assert band(seconds[main]) == [0, 1, 2, 1]


def test_one_way_streets_are_timed_in_the_direction_a_driver_may_go():
    # one street driven A→B only (25 km/h), the clinic at B: the time shrinks towards B
    network = network_of([((0, 0), (1000, 0))], oneway=[True])
    lo, hi, seconds, _ = pieces(
        network, [(1000, 0)], mode="drive", minutes=5.0, largest_component=False
    )
    speed = 25 / 3.6
    cut = 1000 - 100 * speed  # (1000 - x) / speed = 100 s (a third of 5 minutes)
    np.testing.assert_allclose(lo, [0, cut], atol=1e-6)
    np.testing.assert_allclose(hi, [cut, 1000], atol=1e-6)
    assert band(seconds, (100.0, 200.0, 300.0)) == [1, 0]


def test_streets_a_mode_cannot_use_are_not_drawn_for_it():
    network = network_of([((0, 0), (100, 0)), ((100, 0), (200, 0))])
    network.edges.loc[1, "highway"] = "footway"
    _, _, _, frame = pieces(network, [(0, 0)], mode="drive")
    assert frame["r_usable"].tolist() == [True, False] or sorted(frame["r_usable"]) == [
        False,
        True,
    ]
    assert frame.loc[~frame["r_usable"], "r"].isna().all()


# ----------------------------------------------------------------------------- the map


def _band_lines(html: str) -> tuple[list[np.ndarray], str]:
    """The street parts (lon/lat arrays) and the first rule's band codes in a coverage map."""
    data = json.loads(re.search(r"gpDecodeLines\((\{.*?\})\);", html, re.S).group(1))
    codes = re.search(r"gpBands\(parent, gp_lines_\w+, \"(\d*)\"", html).group(1)
    lonlat = np.column_stack([np.cumsum(data["lon"]), np.cumsum(data["lat"])]) / 1e6
    parts = np.split(lonlat, np.cumsum(data["verts"])[:-1])
    return parts, codes


def long_street_run(tmp_path: Path) -> Path:
    """A 3 km street with a clinic 5 m off its middle, run as a project (1 m/s walking)."""
    to_lonlat = Transformer.from_crs(CRS, 4326, always_xy=True)
    gpd.GeoDataFrame(
        {"highway": ["residential"]},
        geometry=[LineString([(X0, Y0), (X0 + 3000, Y0)])],
        crs=CRS,
    ).to_file(tmp_path / "roads.gpkg")
    lon, lat = to_lonlat.transform(X0 + 1500, Y0 + 5)
    (tmp_path / "clinics.csv").write_text(
        f"编号,名称,类型,经度,纬度\nK1,街中诊所,社区卫生服务中心,{lon:.8f},{lat:.8f}\n",
        encoding="utf-8",
    )
    lon0, lat0 = to_lonlat.transform(X0 + 100, Y0 + 20)
    (tmp_path / "people.csv").write_text(
        f"demand_id,lon,lat,population\np,{lon0:.8f},{lat0:.8f},10\n", encoding="utf-8"
    )
    (tmp_path / "p.toml").write_text(
        """
[project]
area = "长街"
[network]
path = "roads.gpkg"
walk_speed_m_per_min = 60
[demand]
path = "people.csv"
[facilities]
path = "clinics.csv"
[[rules]]
id = "medical_walk_15"
categories = ["medical"]
mode = "walk"
threshold_min = 15
""",
        encoding="utf-8",
    )
    run_project(tmp_path / "p.toml", tmp_path / "out")
    return tmp_path / "out"


def test_the_map_paints_the_street_around_a_mid_street_clinic_green(tmp_path: Path):
    out = long_street_run(tmp_path)
    parts, codes = _band_lines((out / "map.html").read_text(encoding="utf-8"))
    to_utm = Transformer.from_crs(4326, CRS, always_xy=True)
    spans = []
    for part, code in zip(parts, codes, strict=True):
        x, _ = to_utm.transform(part[:, 0], part[:, 1])
        spans.append((x.min() - X0, x.max() - X0, code))
    spans.sort()
    green = [s for s in spans if s[2] == "0"]
    assert len(green) == 1
    assert green[0][0] == pytest.approx(1205, abs=1.0) and green[0][1] == pytest.approx(
        1795, abs=1.0
    )
    assert [s[2] for s in spans] == list("3210123")


def test_the_street_under_a_mid_street_clinic_is_green_in_chromium(
    tmp_path: Path, offline_page, artifacts_dir
):
    """The drawn map, as Chromium paints it: colours sampled beside the clinic's marker."""
    from io import BytesIO

    from PIL import Image

    from geoplan.rendering.maps import BAND_COLOURS

    out = long_street_run(tmp_path)
    lon, lat = Transformer.from_crs(CRS, 4326, always_xy=True).transform(X0 + 1500, Y0)
    offline_page.open(out / "map.html")
    page = offline_page.page
    page.evaluate(f"gpMap.setView([{lat}, {lon}], 15, {{animate: false}})")
    page.wait_for_timeout(400)
    point = page.evaluate(f"gpMap.latLngToContainerPoint([{lat}, {lon}])")
    x, y = point["x"], point["y"]
    metres_per_px = page.evaluate(
        f"gpMap.distance(gpMap.containerPointToLatLng([{x}, {y}]), "
        f"gpMap.containerPointToLatLng([{x} + 100, {y}])) / 100"
    )
    box = page.evaluate("gpMap.getContainer().getBoundingClientRect().toJSON()")
    png = page.screenshot()
    (artifacts_dir / "street_mid_clinic.png").write_bytes(png)
    image = Image.open(BytesIO(png)).convert("RGB")
    background = np.array([0xEB, 0xE8, 0xE1])
    palette = np.array([[int(c[i : i + 2], 16) for i in (1, 3, 5)] for c in BAND_COLOURS[:4]])
    painted = 0.95 * palette + 0.05 * background  # the bands' opacity over the map

    def band_at(metres: float) -> int:
        px = round(box["x"] + x + metres / metres_per_px)
        rgb = np.array([image.getpixel((px, round(box["y"] + y + dy))) for dy in (-1, 0, 1)])
        rgb = rgb[np.argmax(np.abs(rgb - background).sum(axis=1))]  # the line's own pixel
        return int(np.argmin(np.abs(painted - rgb).sum(axis=1)))

    # time at s metres from the clinic: |s| + 5 s; bands end at 300 / 600 / 900 s
    for metres, expected in ((40, 0), (-40, 0), (200, 0), (450, 1), (-450, 1), (750, 2)):
        assert band_at(metres) == expected, metres
    assert band_at(1200) == 3 and band_at(-1200) == 3
    assert offline_page.console_errors == [] and offline_page.blocked == []
