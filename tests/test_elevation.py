"""Terrain-aware walking: Tobler's hiking function on hand-computed sloped networks, DEMs
written here with rasterio, and an independent implementation on Andorra's SRTM tile.

The synthetic DEM is a plane ``z = 0.1 · x`` (10 m pixels, EPSG:32650): bilinear sampling of a
plane is exact, so an edge 100 m east climbs 10 m (S = +0.1) and the same edge west descends
(S = −0.1). Walking at 60 m/min, 100 m flat take 100 s; Tobler's function gives

* uphill (S = +0.1): 100 · exp(3.5 · 0.15) / exp(3.5 · 0.05) = 100 · e^0.35 = 141.907 s,
* downhill (S = −0.1): 100 · exp(3.5 · 0.05) / exp(3.5 · 0.05) = 100 s (a 10 % descent is as
  fast as flat ground),
* the optimum (S = −0.05): speed × e^0.175 = 1.1912.
"""

from __future__ import annotations

import math

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from shapely.geometry import LineString, Point

from geoplan.analysis.coverage import compute_coverage
from geoplan.analysis.rules import Rule
from geoplan.errors import InputError, InputFileNotFoundError
from geoplan.readers.elevation import (
    sample_dem,
    terrain_from_dem,
    tobler_speed_ratio,
    tobler_time_factor,
    with_terrain,
)
from geoplan.readers.network import Network

CRS = "EPSG:32650"
UP = math.exp(0.35)  # time factor of a 10 % climb


def write_dem(path, z, *, x0=0.0, y_top=200.0, pixel=10.0, nodata=None, crs=CRS):
    """A one-band GeoTIFF of the array ``z`` (rows north to south) with its top-left corner at
    (``x0``, ``y_top``)."""
    import rasterio
    from rasterio.transform import from_origin

    z = np.asarray(z, dtype=np.float32)
    with rasterio.open(
        path,
        "w",
        driver="GTiff",
        height=z.shape[0],
        width=z.shape[1],
        count=1,
        dtype="float32",
        crs=crs,
        transform=from_origin(x0, y_top, pixel, pixel),
        nodata=nodata,
    ) as ds:
        ds.write(z, 1)
    return path


def plane_dem(path, slope=0.1, width=50, height=20):
    """z = slope · x over x 0..10·width m, y 0..10·height m (value at each pixel centre)."""
    centres = (np.arange(width) + 0.5) * 10.0
    return write_dem(path, np.tile(slope * centres, (height, 1)))


def network(points, pairs, **columns):
    """A network of ``points`` (x, y) and straight residential edges ``pairs`` (u, v)."""
    nodes = pd.DataFrame(
        {
            "node_id": np.arange(len(points)) + 1,
            "x": [float(p[0]) for p in points],
            "y": [float(p[1]) for p in points],
        }
    )
    lines = [LineString([points[u], points[v]]) for u, v in pairs]
    edges = gpd.GeoDataFrame(
        {
            "u": [u for u, _ in pairs],
            "v": [v for _, v in pairs],
            "length_m": [line.length for line in lines],
            "highway": columns.pop("highway", ["residential"] * len(pairs)),
            "oneway": [False] * len(pairs),
            "name": [None] * len(pairs),
            **columns,
        },
        geometry=lines,
        crs=CRS,
    )
    return Network(nodes=nodes, edges=edges, crs=CRS)


def test_tobler_by_hand():
    assert tobler_speed_ratio(0.0) == pytest.approx(1.0)  # flat ground keeps v0
    assert tobler_speed_ratio(-0.05) == pytest.approx(math.exp(0.175))  # the fastest
    assert tobler_speed_ratio(0.1) == pytest.approx(math.exp(-0.35))
    assert tobler_speed_ratio(-0.1) == pytest.approx(1.0)
    assert tobler_time_factor(0.1) == pytest.approx(UP)
    # as a km/h figure: Tobler's 6 km/h · e^(−3.5·0.05) = 5.04 km/h on flat ground
    assert 6 * math.exp(-3.5 * 0.05) * tobler_speed_ratio(0.2) == pytest.approx(
        6 * math.exp(-3.5 * 0.25)
    )


def test_bilinear_sampling_is_exact_on_a_plane_and_in_the_dems_crs(tmp_path):
    dem = plane_dem(tmp_path / "plane.tif")
    x = np.array([100.0, 123.4, 250.0, 7.0])
    np.testing.assert_allclose(sample_dem(dem, x, np.full(4, 100.0), CRS), [10, 12.34, 25, 0.7])
    # between four pixels of a saddle no pixel's value but the weighted mean
    saddle = write_dem(tmp_path / "saddle.tif", [[0, 10], [20, 30]], y_top=20.0)
    assert sample_dem(saddle, [10.0], [10.0], CRS)[0] == pytest.approx(15.0)
    # (7.5, 12.5): weights 9/16, 3/16, 3/16, 1/16 on 0, 10, 20, 30
    assert sample_dem(saddle, [7.5], [12.5], CRS)[0] == pytest.approx(7.5)
    # outside the raster: NaN
    assert np.isnan(sample_dem(dem, [600.0], [100.0], CRS)[0])
    # points in another CRS are transformed to the DEM's
    from pyproj import Transformer

    lon, lat = Transformer.from_crs(CRS, 4326, always_xy=True).transform(250.0, 100.0)
    assert sample_dem(dem, [lon], [lat], "EPSG:4326")[0] == pytest.approx(25.0, abs=1e-6)


def test_uphill_and_downhill_differ_by_hand(tmp_path):
    dem = plane_dem(tmp_path / "plane.tif")
    # A(100,100) → B(200,100) climbs 10 m; B → C(200,150) runs north on the contour
    net = with_terrain(network([(100, 100), (200, 100), (200, 150)], [(0, 1), (1, 2)]), dem)
    forward, backward = net.edge_times_s("walk", walk_speed_m_per_min=60)
    np.testing.assert_allclose(forward, [100 * UP, 50.0])
    np.testing.assert_allclose(backward, [100.0, 50.0])
    np.testing.assert_allclose(net.terrain.grade, [0.1, 0.0])
    np.testing.assert_allclose(net.terrain.node_elevation_m, [10, 20, 20])
    # vehicle modes stay flat: 100 m at 15 km/h
    bike_f, bike_b = net.edge_times_s("bike")
    np.testing.assert_allclose([bike_f[0], bike_b[0]], [24.0, 24.0])
    summary = net.terrain.summary()
    assert summary["elevation_m"] == {"min": 10.0, "max": 20.0}
    assert summary["nodes_missing"] == 0 and summary["grade"] == "end nodes"


def test_coverage_walks_up_to_the_facility_and_down_from_it(tmp_path):
    """Residents go to the facility: from the valley up is slower than from the hill down."""
    dem = plane_dem(tmp_path / "plane.tif")
    net = with_terrain(network([(100, 100), (200, 100)], [(0, 1)]), dem)
    facilities = gpd.GeoDataFrame(
        {"facility_id": ["hill", "valley"], "category": ["clinic", "tcm_clinic"]},
        geometry=[Point(200, 100), Point(100, 100)],
        crs=CRS,
    )
    demand = gpd.GeoDataFrame(
        {"demand_id": ["low", "mid", "high"], "population": [1.0, 1.0, 1.0]},
        geometry=[Point(100, 100), Point(150, 100), Point(200, 100)],
        crs=CRS,
    )
    rules = [
        Rule("up", "上", "up", ("clinic",), "walk", 2.0),
        Rule("down", "下", "down", ("tcm_clinic",), "walk", 2.0),
    ]
    points = compute_coverage(net, facilities, demand, rules, walk_speed_m_per_min=60).table
    # to the hill: 141.9 s from the valley, half of it from the middle (prorated), 0 on top
    np.testing.assert_allclose(points["up_time_s"], [100 * UP, 50 * UP, 0.0])
    np.testing.assert_allclose(points["down_time_s"], [0.0, 50.0, 100.0])
    assert list(points["up_covered"]) == [False, True, True]  # 141.9 s > 120 s ≥ 71 s
    assert list(points["down_covered"]) == [True, True, True]
    flat = compute_coverage(
        network([(100, 100), (200, 100)], [(0, 1)]),
        facilities,
        demand,
        rules,
        walk_speed_m_per_min=60,
    ).table
    np.testing.assert_allclose(flat["up_time_s"], [100.0, 50.0, 0.0])


def test_bridges_tunnels_and_elevators_keep_grade_zero(tmp_path):
    dem = plane_dem(tmp_path / "plane.tif")
    points = [(100, 100), (200, 100), (300, 100), (400, 100), (400, 140)]
    net = with_terrain(
        network(
            points,
            [(0, 1), (1, 2), (2, 3), (3, 4)],
            bridge=["yes", "no", None, None],
            tunnel=[None, None, "building_passage", None],
        ),
        dem,
    )
    forward, backward = net.edge_times_s("walk", walk_speed_m_per_min=60)
    np.testing.assert_allclose(forward, [100.0, 100 * UP, 100.0, 40.0])
    np.testing.assert_allclose(backward, [100.0, 100.0, 100.0, 40.0])
    assert net.terrain.summary()["edges_bridge_tunnel_elevator"] == 2
    lift = with_terrain(
        network([(100, 100), (200, 100)], [(0, 1)], highway=["elevator"]), dem
    ).edge_times_s("walk", walk_speed_m_per_min=60)
    np.testing.assert_allclose(lift, [[100.0], [100.0]])


def test_sampling_along_an_edge_sees_the_hill_its_ends_do_not(tmp_path):
    # a ridge at x = 155 m (a pixel centre): z = 20 − 0.2·|x − 155|
    centres = (np.arange(40) + 0.5) * 10.0
    ridge = write_dem(tmp_path / "ridge.tif", np.tile(20 - 0.2 * np.abs(centres - 155), (20, 1)))
    flat_ends = network([(105, 100), (205, 100)], [(0, 1)])  # both ends at 10 m
    ends = with_terrain(flat_ends, ridge).edge_times_s("walk", walk_speed_m_per_min=60)
    np.testing.assert_allclose(ends, [[100.0], [100.0]])
    sampled = with_terrain(flat_ends, ridge, sample_m=50)
    # two 50 m pieces: +20 % then −20 %; each way one climb and one descent
    both = 50 * math.exp(3.5 * 0.25 - 0.175) + 50 * math.exp(3.5 * 0.15 - 0.175)
    np.testing.assert_allclose(
        sampled.edge_times_s("walk", walk_speed_m_per_min=60), [[both], [both]]
    )
    assert sampled.terrain.summary()["grade"] == "sampled every 50 m along edges"
    # an edge shorter than sample_m keeps its end-node grade
    short = with_terrain(network([(105, 100), (135, 100)], [(0, 1)]), ridge, sample_m=50)
    np.testing.assert_allclose(short.terrain.grade, [0.2])


def test_nodes_outside_the_dem_are_refused_or_walked_flat_and_counted(tmp_path):
    dem = plane_dem(tmp_path / "plane.tif")  # x 0..500 m
    net = network([(100, 100), (200, 100), (700, 100)], [(0, 1), (1, 2)])
    with pytest.raises(InputError, match=r"1 walkable edges .* 1 nodes .*dem_missing"):
        with_terrain(net, dem)
    flat = with_terrain(net, dem, missing="flat")
    forward, _ = flat.edge_times_s("walk", walk_speed_m_per_min=60)
    np.testing.assert_allclose(forward, [100 * UP, 500.0])
    summary = flat.terrain.summary()
    assert (summary["nodes_missing"], summary["edges_flat_missing"]) == (1, 1)
    # nodata is missing too
    z = np.tile((np.arange(50) + 0.5), (20, 1)).astype(float)
    z[:, 18:22] = -9999  # x 180..220 m
    holes = write_dem(tmp_path / "holes.tif", z, nodata=-9999)
    with pytest.raises(InputError, match="nodata"):
        with_terrain(network([(100, 100), (200, 100)], [(0, 1)]), holes)


def test_bad_dems_are_clear_errors(tmp_path):
    net = network([(100, 100), (200, 100)], [(0, 1)])
    with pytest.raises(InputFileNotFoundError, match="not found"):
        terrain_from_dem(net, tmp_path / "nope.tif")
    text = tmp_path / "dem.tif"
    text.write_text("not a raster", encoding="utf-8")
    with pytest.raises(InputError, match="cannot read as a DEM raster"):
        terrain_from_dem(net, text)
    import rasterio
    from rasterio.transform import from_origin

    bare = tmp_path / "bare.tif"
    with rasterio.open(
        bare, "w", driver="GTiff", height=2, width=2, count=1, dtype="float32",
        transform=from_origin(0, 200, 10, 10),
    ) as ds:  # fmt: skip
        ds.write(np.zeros((2, 2), dtype=np.float32), 1)
    with pytest.raises(InputError, match="no coordinate system"):
        terrain_from_dem(net, bare)
    with pytest.raises(InputError, match="dem_sample_m"):
        terrain_from_dem(net, plane_dem(tmp_path / "p.tif"), sample_m=0)


def test_a_zipped_dem_is_read_through_vsizip(tmp_path):
    import zipfile

    tif = plane_dem(tmp_path / "plane.tif")
    archive = tmp_path / "plane.tif.zip"
    with zipfile.ZipFile(archive, "w") as z:
        z.write(tif, "inner/plane.tif")
    np.testing.assert_allclose(sample_dem(archive, [250.0], [100.0], CRS), [25.0])
    two = tmp_path / "two.zip"
    with zipfile.ZipFile(two, "w") as z:
        z.write(tif, "a.tif")
        z.write(tif, "b.tif")
    with pytest.raises(InputError, match="one raster"):
        sample_dem(two, [250.0], [100.0], CRS)


@pytest.mark.slow
def test_andorra_agrees_with_an_independent_tobler_on_the_srtm_tile(shared_file):
    """Andorra's OSM network on its SRTM 3″ tile: every walkable edge's time equals an
    independent implementation (scipy's RegularGridInterpolator on the tile's pixel centres,
    the formula written out) to the millisecond."""
    import rasterio
    from pyproj import Transformer
    from scipy.interpolate import RegularGridInterpolator

    from geoplan.readers.network import read_network

    dem = shared_file("dem/srtm_N42E001_andorra.hgt.zip")
    net = read_network(shared_file("osm/andorra_ad.osm.pbf"), cache=False)
    hilly = with_terrain(net, dem, missing="flat")
    forward, backward = hilly.edge_times_s("walk", walk_speed_m_per_min=70)
    flat_f, flat_b = net.edge_times_s("walk", walk_speed_m_per_min=70)

    with rasterio.open(f"/vsizip/{dem}/N42E001.hgt") as ds:
        z = ds.read(1, masked=True).astype(float).filled(np.nan)  # voids: NaN
        t = ds.transform
    lat = t.f + (np.arange(z.shape[0]) + 0.5) * t.e  # pixel centres, north to south
    lon = t.c + (np.arange(z.shape[1]) + 0.5) * t.a
    height = RegularGridInterpolator(
        (lat[::-1], lon), z[::-1], method="linear", bounds_error=False, fill_value=np.nan
    )
    x, y = Transformer.from_crs(net.crs, 4326, always_xy=True).transform(
        net.nodes["x"].to_numpy(), net.nodes["y"].to_numpy()
    )
    node_z = height(np.column_stack([y, x]))
    u, v = net.edges["u"].to_numpy(), net.edges["v"].to_numpy()
    length = net.edges["length_m"].to_numpy()
    flat = net.edges["bridge"].notna() & (net.edges["bridge"] != "no")
    flat |= net.edges["tunnel"].notna() & (net.edges["tunnel"] != "no")
    flat |= net.edges["highway"] == "elevator"
    walkable = np.isfinite(flat_f)
    lost = walkable & ~flat & ~np.isfinite(node_z[u] - node_z[v])  # a void or off the tile
    grade = np.where(flat | lost | (u == v), 0.0, (node_z[v] - node_z[u]) / length)
    up = np.exp(-3.5 * np.abs(grade + 0.05)) / math.exp(-3.5 * 0.05)
    down = np.exp(-3.5 * np.abs(-grade + 0.05)) / math.exp(-3.5 * 0.05)
    assert walkable.sum() > 2500
    assert 0 < hilly.terrain.edges_flat_missing == lost.sum() < 10  # a few SRTM voids
    np.testing.assert_allclose(forward[walkable], (flat_f / up)[walkable], rtol=0, atol=1e-3)
    np.testing.assert_allclose(backward[walkable], (flat_b / down)[walkable], rtol=0, atol=1e-3)
    # a mountain country: elevations of the Pyrenees, up and down differ
    summary = hilly.terrain.summary()
    assert 800 < summary["elevation_m"]["min"] < 1200 < 2000 < summary["elevation_m"]["max"]
    assert summary["edges_grade_over_10pct"] > 100
    assert np.abs(forward[walkable] - backward[walkable]).max() > 10
