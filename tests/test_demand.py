"""Tests for geoplan.readers.demand: hand-made rasters and tables with hand-computed answers,
real data."""

from __future__ import annotations

import logging
import math
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import rasterio
import shapely
from pyproj import Geod
from rasterio.transform import from_origin

from geoplan._paths import shipped_path
from geoplan.errors import DataQualityWarning, InputError, InputFileNotFoundError
from geoplan.readers.demand import (
    boundary_from_graphml,
    demand_from_graphml_edges,
    demand_from_lines,
    demand_from_points,
    demand_from_polygons,
    demand_from_raster,
    read_demand,
)

DATA = Path(__file__).parent / "data" / "demand"
WGS84_A = 6378137.0
WGS84_F = 1 / 298.257223563
TUANCHENGSHAN = "osm/huangshi_tuanchengshan_drive_ghspop_2024.graphml.gz"


def _write_raster(path, values, *, crs, transform, nodata=None, **tags):
    values = np.asarray(values, dtype=np.float32)
    with rasterio.open(
        path,
        "w",
        driver="GTiff",
        height=values.shape[0],
        width=values.shape[1],
        count=1,
        dtype="float32",
        crs=crs,
        transform=transform,
        nodata=nodata,
    ) as ds:
        ds.write(values, 1)
        if tags:
            ds.update_tags(**tags)
    return path


def _ellipsoid_cell_area_m2(lat_top_deg, lat_bottom_deg, dlon_deg, a=WGS84_A, f=WGS84_F):
    """Exact area of a lat/lon quadrangle on an ellipsoid, via the authalic q-function."""
    e2 = f * (2 - f)
    e = math.sqrt(e2)

    def q(lat_deg):
        s = math.sin(math.radians(lat_deg))
        return (1 - e2) * (s / (1 - e2 * s * s) - math.log((1 - e * s) / (1 + e * s)) / (2 * e))

    return a * a / 2 * math.radians(dlon_deg) * abs(q(lat_top_deg) - q(lat_bottom_deg))


def _sphere_cell_area_m2(lat_top_deg, lat_bottom_deg, dlon_deg, r):
    """R² Δλ (sin φ2 − sin φ1)."""
    s2 = math.sin(math.radians(lat_top_deg))
    s1 = math.sin(math.radians(lat_bottom_deg))
    return r * r * math.radians(dlon_deg) * abs(s2 - s1)


# --------------------------------------------------------------------------- hand-made rasters

DENSITY_3X3 = [
    [1000.0, 2500.0, -99999.0],
    [0.0, 12000.5, 300.0],
    [50.0, 7.25, 40000.0],
]


def test_density_raster_geographic_uses_true_cell_areas(tmp_path, caplog):
    res = 0.01
    west, north = 114.90, 30.23
    path = _write_raster(
        tmp_path / "grid.tif",
        DENSITY_3X3,
        crs="EPSG:4326",
        transform=from_origin(west, north, res, res),
        nodata=-99999.0,
    )
    with caplog.at_level(logging.INFO, logger="geoplan.readers.demand"):
        out = demand_from_raster(path, kind="density")

    expected = 0.0
    expected_geod = 0.0
    geod = Geod(ellps="WGS84")
    for r in range(3):
        top, bottom = north - r * res, north - (r + 1) * res
        for c in range(3):
            v = DENSITY_3X3[r][c]
            if v <= 0:
                continue
            expected += v * _ellipsoid_cell_area_m2(top, bottom, res) / 1e6
            lons = [west + c * res, west + (c + 1) * res, west + (c + 1) * res, west + c * res]
            area, _ = geod.polygon_area_perimeter(lons, [bottom, bottom, top, top])
            expected_geod += v * abs(area) / 1e6

    assert len(out) == 7  # one nodata, one zero dropped
    # 1e-10, not bit-exact: both sides difference nearby latitudes (cancellation of ~1e4 ulp)
    assert out["population"].sum() == pytest.approx(expected, rel=1e-10)
    # pyproj.Geod (geodesic cell edges instead of parallels) agrees to well under 1e-6
    assert out["population"].sum() == pytest.approx(expected_geod, rel=1e-6)
    assert list(out["demand_id"]) == ["r0_c0", "r0_c1", "r1_c1", "r1_c2", "r2_c0", "r2_c1", "r2_c2"]
    assert out.crs.to_epsg() == 4326
    first = out.geometry.iloc[0]
    assert (first.x, first.y) == pytest.approx((west + res / 2, north - res / 2))
    assert out["population"].dtype == np.float64
    assert "kind=density" in caplog.text and "7 demand points" in caplog.text


def test_density_raster_on_a_sphere_matches_spherical_formula(tmp_path):
    r_sphere = 6371000.0
    res = 0.5
    west, north = 10.0, 61.0
    crs = f"+proj=longlat +R={r_sphere} +no_defs"
    path = _write_raster(
        tmp_path / "sphere.tif",
        DENSITY_3X3,
        crs=crs,
        transform=from_origin(west, north, res, res),
        nodata=-99999.0,
    )
    out = demand_from_raster(path, kind="density")
    expected = sum(
        DENSITY_3X3[r][c]
        * _sphere_cell_area_m2(north - r * res, north - (r + 1) * res, res, r_sphere)
        / 1e6
        for r in range(3)
        for c in range(3)
        if DENSITY_3X3[r][c] > 0
    )
    assert out["population"].sum() == pytest.approx(expected, rel=1e-10)


def test_count_raster_projected_preserves_total_exactly(tmp_path, caplog):
    values = np.array(
        [[12.0, 0.0, -1.0], [3.5, 250.25, 7.0], [np.nan, 1.0, 99.5]],
    )
    values[0, 2] = -9999.0  # declared nodata
    path = _write_raster(
        tmp_path / "ghs_counts.tif",
        values,
        crs="EPSG:32650",
        transform=from_origin(500000.0, 3350000.0, 100.0, 100.0),
        nodata=-9999.0,
    )
    with caplog.at_level(logging.INFO, logger="geoplan.readers.demand"):
        out = demand_from_raster(path)
    valid = values[np.isfinite(values) & (values > 0)]
    assert out["population"].sum() == valid.sum() == 373.25
    assert len(out) == 6
    assert out["demand_id"].is_unique
    assert "kind=count (auto: no density marker" in caplog.text
    assert out.crs.to_epsg() == 32650
    assert out.geometry.iloc[0].x == 500050.0 and out.geometry.iloc[0].y == 3349950.0


def test_density_raster_projected_uses_pixel_area(tmp_path):
    path = _write_raster(
        tmp_path / "d.tif",
        [[100.0, 250.0]],
        crs="EPSG:32650",
        transform=from_origin(500000.0, 3350000.0, 100.0, 100.0),
    )
    out = demand_from_raster(path, kind="density")  # 100 m pixels: 0.01 km²
    assert out["population"].tolist() == pytest.approx([1.0, 2.5], rel=1e-12)
    assert out["cell_area_km2"].tolist() == pytest.approx([0.01, 0.01], rel=1e-12)


def test_auto_kind_reads_band_description(tmp_path, caplog):
    path = tmp_path / "people.tif"
    _write_raster(
        path,
        [[100.0]],
        crs="EPSG:32650",
        transform=from_origin(500000.0, 3350000.0, 100.0, 100.0),
    )
    with rasterio.open(path, "r+") as ds:
        ds.set_band_description(1, "Population density (persons per km2)")
    with caplog.at_level(logging.INFO, logger="geoplan.readers.demand"):
        out = demand_from_raster(path)
    assert out["population"].iloc[0] == pytest.approx(1.0)
    assert "kind=density (auto: metadata" in caplog.text


def test_negative_undeclared_cells_warn_and_drop(tmp_path):
    path = _write_raster(
        tmp_path / "c.tif",
        [[5.0, -3.0]],
        crs="EPSG:32650",
        transform=from_origin(500000.0, 3350000.0, 100.0, 100.0),
    )
    with pytest.warns(DataQualityWarning, match="negative"):
        out = demand_from_raster(path, kind="count")
    assert out["population"].tolist() == [5.0]


def test_raster_boundary_keeps_cells_whose_centres_are_inside(tmp_path):
    values = np.arange(1, 17, dtype=float).reshape(4, 4)
    path = _write_raster(
        tmp_path / "c.tif",
        values,
        crs="EPSG:32650",
        transform=from_origin(500000.0, 3350000.0, 100.0, 100.0),
    )
    # covers the centres of rows 1-2, cols 1-2 (values 6, 7, 10, 11)
    box = shapely.box(500100.0, 3349700.0, 500300.0, 3349900.0)
    out = demand_from_raster(path, kind="count", boundary=box)
    assert sorted(out["demand_id"]) == ["r1_c1", "r1_c2", "r2_c1", "r2_c2"]
    assert out["population"].sum() == 6 + 7 + 10 + 11
    # the same boundary given in WGS84 is reprojected to the raster's CRS
    wgs = gpd.GeoDataFrame(geometry=[box], crs="EPSG:32650").to_crs("EPSG:4326")
    out2 = demand_from_raster(path, kind="count", boundary=wgs)
    assert sorted(out2["demand_id"]) == sorted(out["demand_id"])


def test_raster_errors(tmp_path):
    with pytest.raises(InputFileNotFoundError):
        demand_from_raster(tmp_path / "missing.tif")
    path = _write_raster(
        tmp_path / "c.tif",
        [[5.0]],
        crs="EPSG:32650",
        transform=from_origin(500000.0, 3350000.0, 100.0, 100.0),
    )
    with pytest.raises(InputError, match="band"):
        demand_from_raster(path, band=2)
    with pytest.raises(InputError, match="kind"):
        demand_from_raster(path, kind="persons")  # type: ignore[arg-type]
    far = shapely.box(0.0, 0.0, 10.0, 10.0)
    with pytest.raises(InputError, match="no populated cells inside the boundary"):
        demand_from_raster(path, boundary=far)


# --------------------------------------------------------------------------- real rasters


def _independent_worldpop_total(path: Path) -> float:
    with rasterio.open(path) as ds:
        values = ds.read(1).astype(np.float64)
        t = ds.transform
        nodata = ds.nodata
    assert nodata == -99999.0
    valid = (values != nodata) & np.isfinite(values) & (values > 0)
    areas = np.array(
        [
            _ellipsoid_cell_area_m2(t.f + t.e * r, t.f + t.e * (r + 1), t.a) / 1e6
            for r in range(values.shape[0])
        ]
    )
    return float((values * areas[:, None])[valid].sum())


@pytest.mark.parametrize(
    ("name", "low", "high", "cells"),
    [
        # WorldPop 2020; official residents: HK about 7.5 million, Macau about 0.68 million.
        # Density × full cell area overshoots both by ~16-18 %: the coastal density cells
        # appear to be persons per km² of *land*, so loose ranges.
        ("worldpop_hkg_pd_2020_1km.tif", 6.5e6, 9.5e6, 1921),
        ("worldpop_mac_pd_2020_1km.tif", 0.55e6, 0.85e6, 58),
    ],
)
def test_worldpop_density_rasters(name, low, high, cells, shared_file):
    path = shared_file(f"population/{name}")
    out = read_demand(path)
    total = out["population"].sum()
    assert low < total < high
    assert len(out) == cells
    assert total == pytest.approx(_independent_worldpop_total(path), rel=1e-10)
    assert out.crs.to_epsg() == 4326
    assert out["demand_id"].is_unique and (out["population"] > 0).all()


# --------------------------------------------------------------------------- GraphML


def test_tuanchengshan_graphml_cells_counted_once():
    import networkx as nx

    path = shipped_path(TUANCHENGSHAN)
    out = demand_from_graphml_edges(path)

    graph = nx.read_graphml(path)
    cells: dict[str, float] = {}
    for _u, _v, data in graph.edges(data=True):
        cells.setdefault(data["cell_id"], float(data["population"]))
    assert len(out) == len(cells) == 765
    assert out["population"].sum() == pytest.approx(sum(cells.values()), abs=1e-6)
    assert out["population"].sum() == pytest.approx(108691.2864538, abs=1e-6)
    assert out["demand_id"].is_unique
    assert set(out["demand_id"]) == {f"cell-{c}" for c in cells}
    assert out.crs.to_epsg() == 32650
    assert {"cell_id", "area_m2"} <= set(out.columns)
    assert out.geometry.geom_type.eq("Point").all()
    boundary = boundary_from_graphml(path, name="团城山街道")
    assert boundary.crs.to_epsg() == 32650
    assert boundary["name"].tolist() == ["团城山街道"]
    assert boundary.area.iloc[0] / 1e6 == pytest.approx(18.6, abs=0.05)
    inside = out.within(boundary.geometry.iloc[0].buffer(200.0))
    assert inside.mean() > 0.95


def test_graphml_edge_without_geometry_uses_node_line(tmp_path):
    import networkx as nx

    graph = nx.MultiDiGraph(crs="EPSG:32650")
    graph.add_node("1", x="0", y="0")
    graph.add_node("2", x="100", y="0")
    graph.add_edge("1", "2", population="10", area="5", cell_id="7")
    graph.add_edge("2", "1", population="10", area="5", cell_id="7")
    path = tmp_path / "g.graphml"
    nx.write_graphml(graph, path)
    out = demand_from_graphml_edges(path)
    assert out["demand_id"].tolist() == ["cell-7"]
    assert out["population"].tolist() == [10.0]
    assert (out.geometry.iloc[0].x, out.geometry.iloc[0].y) == (50.0, 0.0)


# --------------------------------------------------------------------------- lines


def test_lines_group_with_two_populations_is_an_error():
    with pytest.raises(InputError, match=r"cell_id='c2'.*5.*7"):
        demand_from_lines(DATA / "lines_cells_conflict.geojson", group_column="cell_id")


def test_lines_group_counted_once_at_first_line_midpoint():
    lines = gpd.GeoDataFrame(
        # OSM way ids repeat across the two directions: not used as ids when grouping
        {"id": [7, 7, 8], "cell_id": ["a", "a", "b"], "population": [4.0, 4.0, 2.5]},
        geometry=[
            shapely.LineString([(0, 0), (10, 0)]),
            shapely.LineString([(10, 0), (0, 0), (0, 50)]),
            shapely.LineString([(0, 0), (0, 4)]),
        ],
        crs="EPSG:32650",
    )
    before = lines.copy()
    out = demand_from_lines(lines, group_column="cell_id")
    pd.testing.assert_frame_equal(lines, before)
    assert out["demand_id"].tolist() == ["a", "b"]
    assert out["population"].tolist() == [4.0, 2.5]
    assert [(p.x, p.y) for p in out.geometry] == [(5.0, 0.0), (0.0, 2.0)]
    with pytest.raises(InputError, match="unique"):
        demand_from_lines(lines)  # without grouping the repeated ids are an error
    ungrouped = demand_from_lines(lines.drop(columns="id"))
    assert ungrouped["population"].sum() == 10.5
    assert ungrouped["demand_id"].tolist() == ["row-1", "row-2", "row-3"]


# --------------------------------------------------------------------------- points


def test_points_csv_with_chinese_population_header(caplog):
    with caplog.at_level(logging.INFO, logger="geoplan.readers.demand"):
        out = demand_from_points(DATA / "points_renkou.csv")
    assert out["demand_id"].tolist() == ["P1", "P2", "P3"]
    assert out["population"].tolist() == [1200.0, 3450.0, 0.0]
    assert out.crs.to_epsg() == 4326
    assert (out.geometry.iloc[0].x, out.geometry.iloc[0].y) == (114.95, 30.20)
    assert "population column '人口'" in caplog.text
    assert "total population 4650.0" in caplog.text


def test_points_csv_gb18030_and_xy_columns(tmp_path):
    path = tmp_path / "gbk.csv"
    path.write_bytes("X,Y,常住人口\n500000,3350000,12\n500100,3350000,8.5\n".encode("gb18030"))
    with pytest.raises(InputError, match="crs="):
        demand_from_points(path)
    out = demand_from_points(path, crs="EPSG:32650")
    assert out["population"].sum() == 20.5
    assert out.crs.to_epsg() == 32650
    assert out["demand_id"].tolist() == ["row-1", "row-2"]


def test_points_bad_and_missing_population(tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("lon,lat,pop\n114.9,30.2,10\n114.9,30.3,-5\n114.9,30.4,约300\n", "utf-8")
    with pytest.raises(InputError, match=r"record 2: '-5', record 3: '约300'"):
        demand_from_points(bad)
    gaps = tmp_path / "gaps.csv"
    gaps.write_text("lon,lat,pop\n114.9,30.2,10\n114.9,30.3,\n114.9,30.4,-99999\n", "utf-8")
    with pytest.warns(DataQualityWarning, match=r"dropped 2 records.*record 2, record 3"):
        out = demand_from_points(gaps)
    assert out["population"].tolist() == [10.0]


def test_points_column_choice_errors(tmp_path):
    two = tmp_path / "two.csv"
    two.write_text("lon,lat,人口,常住人口\n114.9,30.2,10,11\n", "utf-8")
    with pytest.raises(InputError, match="several population columns"):
        demand_from_points(two)
    assert demand_from_points(two, population_column="常住人口")["population"].sum() == 11
    dup = tmp_path / "dup.csv"
    dup.write_text("id,lon,lat,pop\nA,114.9,30.2,10\nA,114.9,30.3,1\n", "utf-8")
    with pytest.raises(InputError, match="unique"):
        demand_from_points(dup)
    swapped = tmp_path / "swapped.csv"
    swapped.write_text("lat,lon,pop\n114.9,30.2,10\n", "utf-8")
    with pytest.raises(InputError, match="swapped"):
        demand_from_points(swapped)


def _point_layer(tmp_path, ids, geoms, population=None) -> Path:
    """A GeoParquet point layer (EPSG:32650) with ``id`` and ``population`` columns."""
    layer = gpd.GeoDataFrame(
        {"id": ids, "population": population or [1.0] * len(ids)}, geometry=geoms, crs=32650
    )
    path = tmp_path / "points.parquet"
    layer.to_parquet(path)
    return path


def test_point_layer_rows_read_and_refused_by_record(tmp_path):
    # the fast path of a large point layer (only single-part multipoints unwrapped, ids
    # stripped and proven unique once) reads and names rows as the row-by-row reading did
    point = shapely.Point
    messy = _point_layer(
        tmp_path,
        [" A7 ", "B", "C", "D"],
        [point(0, 0), shapely.MultiPoint([(5, 5)]), point(1, 2), point(3, 3)],
        [1.0, 2.0, None, 4.0],
    )
    with pytest.warns(DataQualityWarning, match=r"dropped 1 records .*: record 3 \(id 'C'\)$"):
        out = read_demand(messy)
    assert out["demand_id"].tolist() == ["A7", "B", "D"]
    assert [g.wkt for g in out.geometry] == ["POINT (0 0)", "POINT (5 5)", "POINT (3 3)"]
    assert out["population"].tolist() == [1.0, 2.0, 4.0] and out.crs.to_epsg() == 32650
    refused = [
        (["A", "  ", "C"], "empty id in column 'id': record 2 (id '')"),
        ([7.0, None, 9.0], "empty id in column 'id': record 2 (id None)"),
        (["A", " A ", "C", "C"], "ids in column 'id' must be unique; 2 repeat: 'A', 'C'"),
        ([7.0, 8.0, 7.0], "ids in column 'id' must be unique; 1 repeat: '7'"),
    ]
    for ids, message in refused:
        path = _point_layer(tmp_path, ids, [point(i, i) for i in range(len(ids))])
        with pytest.raises(InputError) as error:
            read_demand(path)
        assert str(error.value) == f"points.parquet: {message}"
    two_parts = [point(0, 0), shapely.MultiPoint([(1, 1), (2, 2)]), point()]
    with pytest.raises(InputError) as error:
        read_demand(_point_layer(tmp_path, ["A", "B", "C"], two_parts))
    assert str(error.value) == (
        "points.parquet: need one Point per record; these are not: record 2 (id 'B') "
        "[MultiPoint], record 3 (id 'C') [Point]"
    )


def test_points_from_geodataframe_keeps_crs_and_ids():
    gdf = gpd.GeoDataFrame(
        {"demand_id": [3, 4], "Population": [1.5, 2.0], "unit_code": ["x", "y"]},
        geometry=[shapely.Point(1, 2), shapely.Point(3, 4)],
        crs="EPSG:32650",
    )
    out = demand_from_points(gdf)
    assert out["demand_id"].tolist() == ["3", "4"]
    assert out["unit_code"].tolist() == ["x", "y"]
    assert out.crs.to_epsg() == 32650


# --------------------------------------------------------------------------- polygons


def test_polygons_with_totals():
    out = demand_from_polygons(DATA / "polygons_units.geojson")
    units = gpd.read_file(DATA / "polygons_units.geojson")
    assert out["population"].sum() == 2000.5
    assert out["unit_name"].tolist() == ["甲社区", "乙社区", "丙社区"]
    assert out["unit_code"].tolist() == ["420204001", "420204002", "420204003"]
    assert out["demand_id"].tolist() == ["row-1", "row-2", "row-3"]
    # the L-shaped unit's centroid is outside it: the default falls back to a point inside
    assert all(units.geometry.iloc[i].covers(out.geometry.iloc[i]) for i in range(3))
    assert out.geometry.iloc[0].equals(units.geometry.iloc[0].centroid)
    centroids = demand_from_polygons(units, points="centroid")
    assert not units.geometry.iloc[1].covers(centroids.geometry.iloc[1])
    rep = demand_from_polygons(units, points="representative")
    assert all(units.geometry.iloc[i].covers(rep.geometry.iloc[i]) for i in range(3))


# --------------------------------------------------------------------------- dispatch


def test_read_demand_dispatches_by_suffix_and_geometry(tmp_path):
    assert read_demand(DATA / "points_renkou.csv")["population"].sum() == 4650.0
    assert read_demand(DATA / "polygons_units.geojson")["population"].sum() == 2000.5
    lines = gpd.GeoDataFrame(
        {"population": [1.0, 2.0]},
        geometry=[shapely.LineString([(0, 0), (1, 0)]), shapely.LineString([(0, 0), (0, 1)])],
        crs="EPSG:32650",
    )
    lines.to_file(tmp_path / "lines.gpkg")
    assert read_demand(tmp_path / "lines.gpkg")["population"].sum() == 3.0
    with pytest.raises(InputError, match="group"):
        read_demand(DATA / "lines_cells_conflict.geojson", group_column="cell_id")
    points = gpd.GeoDataFrame(
        {"id": ["a", "b"], "pop": [4.0, 6.5]},
        geometry=[shapely.Point(500000, 3350000), shapely.Point(500100, 3350000)],
        crs="EPSG:32650",
    )
    points.to_file(tmp_path / "points.gpkg")
    out = read_demand(tmp_path / "points.gpkg")
    assert out["demand_id"].tolist() == ["a", "b"]
    assert out["population"].tolist() == [4.0, 6.5]
    assert out.crs.to_epsg() == 32650
    # a Parquet table without geometry: points from its coordinate columns
    pd.DataFrame({"lon": [114.9, 115.0], "lat": [30.2, 30.3], "人口": [3.0, 5.0]}).to_parquet(
        tmp_path / "table.parquet"
    )
    table = read_demand(tmp_path / "table.parquet")
    assert table["population"].tolist() == [3.0, 5.0]
    assert table.crs.to_epsg() == 4326
    assert (table.geometry.iloc[1].x, table.geometry.iloc[1].y) == (115.0, 30.3)
    (tmp_path / "x.dat").write_text("?", "utf-8")
    with pytest.raises(InputError, match="unknown demand file type"):
        read_demand(tmp_path / "x.dat")
    with pytest.raises(InputFileNotFoundError):
        read_demand(tmp_path / "nope.csv")


def test_lines_spread_population_evenly_by_spacing():
    lines = gpd.GeoDataFrame(
        {"demand_id": ["a", "b"], "population": [300.0, 10.0]},
        geometry=[
            shapely.LineString([(0, 0), (250, 0)]),
            shapely.LineString([(0, 10), (40, 10)]),
        ],
        crs=32650,
    )
    out = demand_from_lines(lines, spacing_m=100)
    # 250 m → 3 pieces of 83.3 m with 100 people each at their centres; 40 m → one midpoint
    assert list(out["demand_id"]) == ["a#1", "a#2", "a#3", "b#1"]
    assert list(out["population"]) == [100.0, 100.0, 100.0, 10.0]
    assert list(out.geometry.x.round(6)) == [41.666667, 125.0, 208.333333, 20.0]
    assert out["population"].sum() == lines["population"].sum()
