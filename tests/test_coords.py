"""Tests of geoplan.coords: GCJ-02 / BD-09 / CGCS2000 <-> WGS84."""

from __future__ import annotations

import sys
from collections.abc import Callable

import geopandas as gpd
import numpy as np
import prcoords
import pyproj
import pytest
import shapely

from geoplan import coords
from geoplan._paths import shipped_path
from geoplan.coords import (
    bd09_to_gcj02,
    bd09_to_wgs84,
    gcj02_to_bd09,
    gcj02_to_wgs84,
    geometry_to_wgs84,
    normalize_crs_name,
    to_wgs84,
    wgs84_to_bd09,
    wgs84_to_gcj02,
)
from geoplan.errors import ConfigError, InputError

GEOD = pyproj.Geod(ellps="WGS84")
ALL_FUNCTIONS = [
    wgs84_to_gcj02,
    gcj02_to_wgs84,
    gcj02_to_bd09,
    bd09_to_gcj02,
    wgs84_to_bd09,
    bd09_to_wgs84,
]
ROUND_TRIPS = [(wgs84_to_gcj02, gcj02_to_wgs84), (wgs84_to_bd09, bd09_to_wgs84)]


def _in_box(lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
    return (lon >= 72.004) & (lon <= 137.8347) & (lat >= 0.8293) & (lat <= 55.8271)


def _china_grid() -> tuple[np.ndarray, np.ndarray]:
    """Every 0.5 deg from 73-135 E, 18-53 N (includes lon = 105, where sqrt|x| has a cusp)."""
    lon, lat = np.meshgrid(np.arange(73.0, 135.001, 0.5), np.arange(18.0, 53.001, 0.5))
    keep = _in_box(lon, lat)
    return lon[keep], lat[keep]


def _random_china(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return rng.uniform(73.0, 135.0, n), rng.uniform(18.0, 53.0, n)


def _distance_m(lon1, lat1, lon2, lat2) -> np.ndarray:
    return np.asarray(GEOD.inv(lon1, lat1, lon2, lat2)[2])


# --------------------------------------------------------------------------- round trips


@pytest.mark.parametrize(("forward", "inverse"), ROUND_TRIPS, ids=["gcj02", "bd09"])
def test_round_trip_grid_across_china(forward, inverse, record_property):
    lon, lat = _china_grid()
    assert lon.size == 8875
    back_lon, back_lat = inverse(*forward(lon, lat))
    err_m = _distance_m(lon, lat, back_lon, back_lat)
    max_err = float(err_m.max())
    record_property("round_trip_max_error_m", max_err)
    print(f"{forward.__name__} -> {inverse.__name__}: max round-trip error {max_err:.3e} m")
    assert max_err < 0.5
    assert max_err < 1e-3  # in fact sub-millimetre (iteration stops at 1e-10 deg)
    # and the forward transform really moved the points (typically by hundreds of metres)
    moved_m = _distance_m(lon, lat, *forward(lon, lat))
    assert moved_m.min() > 20.0 and np.median(moved_m) > 300.0


@pytest.mark.parametrize(("forward", "inverse"), ROUND_TRIPS, ids=["gcj02", "bd09"])
def test_round_trip_random_points_residual_in_degrees(forward, inverse):
    lon, lat = _random_china(100_000, seed=1)
    back_lon, back_lat = inverse(*forward(lon, lat))
    assert np.abs(back_lon - lon).max() < 1e-9
    assert np.abs(back_lat - lat).max() < 1e-9


def test_inverses_are_exact_in_their_own_direction():
    """The inverse's output maps back onto its input: forward(inverse(p)) == p."""
    lon, lat = _random_china(50_000, seed=2)
    for forward, inverse in [(wgs84_to_gcj02, gcj02_to_wgs84), (gcj02_to_bd09, bd09_to_gcj02)]:
        again_lon, again_lat = forward(*inverse(lon, lat))
        assert np.abs(again_lon - lon).max() < 1e-9
        assert np.abs(again_lat - lat).max() < 1e-9


def test_inverse_at_the_sqrt_cusp_of_lon_105():
    lon = 105.0 + np.array([-1e-12, 0.0, 1e-12, 1e-9, -1e-7])
    lat = np.full_like(lon, 35.0)
    back = gcj02_to_wgs84(*wgs84_to_gcj02(lon, lat))
    assert _distance_m(lon, lat, *back).max() < 1e-3


# --------------------------------------------------------------------------- prcoords


def test_forward_transforms_match_prcoords_scalar_functions():
    lon, lat = _random_china(300, seed=3)
    gcj = np.array(
        [prcoords.wgs_gcj((b, a)) for a, b in zip(lon, lat, strict=True)]
    )  # Coords(lat, lon)
    g_lon, g_lat = wgs84_to_gcj02(lon, lat)
    np.testing.assert_allclose(g_lon, gcj[:, 1], rtol=0, atol=1e-9)
    np.testing.assert_allclose(g_lat, gcj[:, 0], rtol=0, atol=1e-9)

    bd = np.array([prcoords.gcj_bd((b, a)) for a, b in zip(lon, lat, strict=True)])
    b_lon, b_lat = gcj02_to_bd09(lon, lat)
    np.testing.assert_allclose(b_lon, bd[:, 1], rtol=0, atol=1e-9)
    np.testing.assert_allclose(b_lat, bd[:, 0], rtol=0, atol=1e-9)

    wbd = np.array([prcoords.wgs_bd((b, a)) for a, b in zip(lon, lat, strict=True)])
    w_lon, w_lat = wgs84_to_bd09(lon, lat)
    np.testing.assert_allclose(w_lon, wbd[:, 1], rtol=0, atol=1e-9)
    np.testing.assert_allclose(w_lat, wbd[:, 0], rtol=0, atol=1e-9)


def test_inverse_transforms_match_prcoords_iterative_functions():
    """prcoords' "bored" inverses stop once a step is below 1e-5 deg, so they are only good to
    ~1.5e-7 deg (~1.5 cm); ours agree to that and reproduce the input far more exactly."""
    lon, lat = _random_china(300, seed=4)
    pairs = [
        (gcj02_to_wgs84, wgs84_to_gcj02, prcoords.gcj_wgs_bored),
        (bd09_to_gcj02, gcj02_to_bd09, prcoords.bd_gcj_bored),
        (bd09_to_wgs84, wgs84_to_bd09, prcoords.bd_wgs_bored),
    ]
    for ours, forward, theirs in pairs:
        ref = np.array([theirs((b, a)) for a, b in zip(lon, lat, strict=True)])
        out_lon, out_lat = ours(lon, lat)
        np.testing.assert_allclose(out_lon, ref[:, 1], rtol=0, atol=3e-7)
        np.testing.assert_allclose(out_lat, ref[:, 0], rtol=0, atol=3e-7)
        ours_residual = np.hypot(*(np.subtract(forward(out_lon, out_lat), (lon, lat))))
        theirs_residual = np.hypot(*(np.subtract(forward(ref[:, 1], ref[:, 0]), (lon, lat))))
        assert ours_residual.max() < 1e-9 < theirs_residual.max()


# --------------------------------------------------------------------------- outside China

OUTSIDE = {
    "Tokyo": (139.6917, 35.6895),
    "Paris": (2.3522, 48.8566),
    "Sydney": (151.2093, -33.8688),
    "New York": (-74.006, 40.7128),
    "null island": (0.0, 0.0),
    "west of box": (72.0, 40.0),
    "east of box": (137.84, 40.0),
    "south of box": (110.0, 0.8),
    "north of box": (110.0, 55.83),
}


@pytest.mark.parametrize("func", ALL_FUNCTIONS, ids=lambda f: f.__name__)
def test_points_outside_china_pass_through_unchanged(func):
    lon = np.array([p[0] for p in OUTSIDE.values()])
    lat = np.array([p[1] for p in OUTSIDE.values()])
    out_lon, out_lat = func(lon, lat)
    np.testing.assert_array_equal(out_lon, lon)
    np.testing.assert_array_equal(out_lat, lat)
    assert func(*OUTSIDE["Tokyo"]) == OUTSIDE["Tokyo"]


@pytest.mark.parametrize("func", ALL_FUNCTIONS, ids=lambda f: f.__name__)
def test_mixed_inside_and_outside_points(func):
    lon = np.array([2.3522, 114.1694, 151.2093, 116.3913])  # Paris, Hong Kong, Sydney, Beijing
    lat = np.array([48.8566, 22.3193, -33.8688, 39.9075])
    out_lon, out_lat = func(lon, lat)
    assert (out_lon[[0, 2]] == lon[[0, 2]]).all() and (out_lat[[0, 2]] == lat[[0, 2]]).all()
    moved = _distance_m(lon[[1, 3]], lat[[1, 3]], out_lon[[1, 3]], out_lat[[1, 3]])
    assert (moved > 100).all()  # Hong Kong is inside the box on purpose (Amap shifts it too)


def test_rough_box_also_shifts_neighbouring_countries():
    """Documented limitation shared by all implementations: Seoul lies inside the box."""
    seoul = (126.978, 37.5665)
    assert _distance_m(*seoul, *wgs84_to_gcj02(*seoul)) > 100


@pytest.mark.parametrize("func", ALL_FUNCTIONS, ids=lambda f: f.__name__)
def test_nan_and_inf_pass_through(func):
    lon = np.array([np.nan, 114.0, np.nan, np.inf, 114.0])
    lat = np.array([np.nan, np.nan, 22.5, 22.5, 22.5])
    out_lon, out_lat = func(lon, lat)
    assert np.isnan(out_lon[:3]).sum() == 2 and np.isnan(out_lat[:3]).sum() == 2
    np.testing.assert_array_equal(out_lon[:4], lon[:4])
    np.testing.assert_array_equal(out_lat[:4], lat[:4])
    assert np.isfinite(out_lon[4]) and out_lon[4] != 114.0
    nan_lon, nan_lat = func(float("nan"), float("nan"))
    assert np.isnan(nan_lon) and np.isnan(nan_lat)


# --------------------------------------------------------------------------- shapes, types


@pytest.mark.parametrize("func", ALL_FUNCTIONS, ids=lambda f: f.__name__)
def test_scalars_in_give_python_floats_out(func):
    for lon, lat in [(114.0, 22.5), (114, 22), (np.float64(114.0), np.float32(22.5))]:
        out = func(lon, lat)
        assert isinstance(out, tuple) and len(out) == 2
        assert type(out[0]) is float and type(out[1]) is float


@pytest.mark.parametrize("func", ALL_FUNCTIONS, ids=lambda f: f.__name__)
def test_array_shapes_are_kept_and_inputs_not_modified(func):
    lon, lat = _random_china(12, seed=5)
    lon2, lat2 = lon.reshape(3, 4), lat.reshape(3, 4)
    keep_lon, keep_lat = lon2.copy(), lat2.copy()
    out_lon, out_lat = func(lon2, lat2)
    assert out_lon.shape == (3, 4) and out_lat.shape == (3, 4)
    assert out_lon.dtype == np.float64
    np.testing.assert_array_equal(lon2, keep_lon)
    np.testing.assert_array_equal(lat2, keep_lat)
    flat_lon, flat_lat = func(lon, lat)
    np.testing.assert_array_equal(out_lon.ravel(), flat_lon)
    np.testing.assert_array_equal(out_lat.ravel(), flat_lat)
    # broadcasting a scalar against an array, lists, empty input
    b_lon, b_lat = func(114.0, np.array([22.0, 23.0]))
    assert b_lon.shape == (2,) and b_lat.shape == (2,)
    assert func([114.0], [22.0])[0].shape == (1,)
    e_lon, e_lat = func(np.empty((0,)), np.empty((0,)))
    assert e_lon.shape == (0,) and e_lat.shape == (0,)


def test_non_numeric_and_mismatched_inputs_raise_input_error():
    with pytest.raises(InputError, match="numbers"):
        wgs84_to_gcj02("a", 1.0)
    with pytest.raises(InputError, match="broadcast"):
        wgs84_to_gcj02(np.zeros(3), np.zeros(2))


@pytest.mark.parametrize("func", ALL_FUNCTIONS, ids=lambda f: f.__name__)
def test_one_million_points_is_vectorised(func: Callable):
    """No per-point Python work: a million points cost a few hundred calls, not millions.

    Counted with a profile hook (every Python and C function call is an event), not timed:
    speed lives in ``scripts/bench_coords.py``.
    """

    def calls(n: int) -> int:
        lon, lat = _random_china(n, seed=6)
        events = 0

        def hook(frame, event, arg):
            nonlocal events
            events += event in ("call", "c_call")

        sys.setprofile(hook)
        try:
            out_lon, _ = func(lon, lat)
        finally:
            sys.setprofile(None)
        assert out_lon.shape == (n,)
        return events

    assert calls(1_000_000) < 100 * max(calls(10), 10)  # a per-point loop: >= 1e6 calls


# --------------------------------------------------------------------------- names, to_wgs84


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("wgs84", "wgs84"),
        ("WGS 84", "wgs84"),
        ("EPSG:4326", "wgs84"),
        ("epsg:4326", "wgs84"),
        ("4326", "wgs84"),
        ("CGCS2000", "cgcs2000"),
        ("EPSG:4490", "cgcs2000"),
        ("4490", "cgcs2000"),
        ("gcj02", "gcj02"),
        ("GCJ-02", "gcj02"),
        (" gcj_02 ", "gcj02"),
        ("火星坐标", "gcj02"),
        ("火星坐标系", "gcj02"),
        ("高德", "gcj02"),
        ("amap", "gcj02"),
        ("bd09", "bd09"),
        ("BD-09", "bd09"),
        ("bd09ll", "bd09"),
        ("百度", "bd09"),
        ("Baidu", "bd09"),
    ],
)
def test_normalize_crs_name_aliases(text, expected):
    assert normalize_crs_name(text) == expected


@pytest.mark.parametrize("text", ["utm50", "", "EPSG:3857", "bd09mc", "gcj03"])
def test_normalize_crs_name_unknown_lists_accepted_names(text):
    with pytest.raises(ConfigError) as info:
        normalize_crs_name(text)
    message = str(info.value)
    assert repr(text) in message
    for name in ("wgs84", "cgcs2000", "gcj02", "bd09", "火星坐标", "百度"):
        assert name in message
    assert isinstance(info.value, ValueError)


def test_bd09mc_gets_a_specific_hint():
    with pytest.raises(ConfigError, match="Mercator"):
        normalize_crs_name("bd09mc")


def test_to_wgs84_dispatches_on_the_name():
    lon, lat = _random_china(100, seed=7)
    np.testing.assert_array_equal(to_wgs84(lon, lat, "火星坐标")[0], gcj02_to_wgs84(lon, lat)[0])
    np.testing.assert_array_equal(to_wgs84(lon, lat, "百度")[1], bd09_to_wgs84(lon, lat)[1])
    for name in ("EPSG:4326", "cgcs2000", "EPSG:4490"):
        out_lon, out_lat = to_wgs84(lon, lat, name)
        np.testing.assert_array_equal(out_lon, lon)
        np.testing.assert_array_equal(out_lat, lat)
        assert out_lon is not lon  # a copy, never the caller's array
    assert to_wgs84(114, 22, "wgs84") == (114.0, 22.0)
    with pytest.raises(ConfigError):
        to_wgs84(lon, lat, "mars")


# --------------------------------------------------------------------------- geometries


def test_geometry_to_wgs84_on_shapely_geometries():
    poly = shapely.Polygon(
        [(114.0, 22.0), (114.1, 22.0), (114.1, 22.1), (114.0, 22.1)],
        holes=[[(114.02, 22.02), (114.05, 22.02), (114.05, 22.05)]],
    )
    out = geometry_to_wgs84(poly, "gcj02")
    assert isinstance(out, shapely.Polygon) and len(out.interiors) == 1
    expected = np.column_stack(gcj02_to_wgs84(*shapely.get_coordinates(poly).T))
    np.testing.assert_array_equal(shapely.get_coordinates(out), expected)

    point_z = geometry_to_wgs84(shapely.Point(114.0, 22.5, 12.5), "bd09")
    assert point_z.has_z and point_z.z == 12.5
    assert (point_z.x, point_z.y) == bd09_to_wgs84(114.0, 22.5)

    many = geometry_to_wgs84([shapely.Point(114.0, 22.5), None, shapely.Point(2.35, 48.85)], "gcj")
    assert many.shape == (3,) and many[1] is None
    assert (many[2].x, many[2].y) == (2.35, 48.85)


def test_geometry_to_wgs84_on_geodataframe_keeps_columns_and_relabels():
    frame = gpd.GeoDataFrame(
        {"name": ["a", "b"]},
        geometry=[shapely.Point(114.0, 22.5), shapely.Point(116.4, 39.9)],
        crs="EPSG:4326",  # GCJ-02 files are usually mislabelled like this
    ).rename_geometry("geom")
    before = frame.copy()
    out = geometry_to_wgs84(frame, "GCJ-02")
    assert isinstance(out, gpd.GeoDataFrame)
    assert out.geometry.name == "geom" and out.crs.to_epsg() == 4326
    assert list(out["name"]) == ["a", "b"]
    assert (out.geometry.x.iloc[0], out.geometry.y.iloc[0]) == gcj02_to_wgs84(114.0, 22.5)
    assert frame.geom_equals(before).all()  # input untouched

    series = geometry_to_wgs84(frame.geometry, "gcj02")
    assert isinstance(series, gpd.GeoSeries) and series.crs.to_epsg() == 4326
    assert series.geom_equals(out.geometry).all()


def test_geometry_to_wgs84_rejects_projected_data():
    frame = gpd.GeoDataFrame(geometry=[shapely.Point(114.0, 22.5)], crs="EPSG:4326")
    with pytest.raises(InputError, match="projected"):
        geometry_to_wgs84(frame.to_crs("EPSG:32650"), "gcj02")
    with pytest.raises(InputError, match="degrees"):
        geometry_to_wgs84(shapely.Point(500_000.0, 2_500_000.0), "gcj02")


# --------------------------------------------------------------------------- real boundary pair

BOUNDARY_WGS84 = "boundaries/targets_admin_tianditu_wgs84.geojson"
BOUNDARY_GCJ02 = "boundaries/targets_admin_amap_gcj02.geojson"
ADCODES = [
    "450700",  # 钦州市
    "450702",  # 钦南区 (coastal)
    "450703",  # 钦北区
    "450721",  # 灵山县
    "450722",  # 浦北县
    "450500",  # 北海市 (coastal)
    "450502",  # 海城区 (coastal, islands)
    "450503",  # 银海区 (coastal)
    "450512",  # 铁山港区 (coastal)
    "450521",  # 合浦县 (coastal)
    "445102",  # 湘桥区
    "640221",  # 平罗县
    "511102",  # 乐山市市中区
]
# Vertices farther than this from the other boundary are not used (see the test docstring).
NEAR_BOUNDARY_M = 1000.0


@pytest.fixture(scope="module")
def boundary_pair(shared_file) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]:
    """Both files indexed by adcode (the GCJ-02 one is in the shared data only)."""
    wgs = gpd.read_file(shipped_path(BOUNDARY_WGS84))
    gcj = gpd.read_file(shared_file(BOUNDARY_GCJ02))
    return wgs.set_index(wgs["adcode"].astype(str)), gcj.set_index(gcj["adcode"].astype(str))


def test_boundary_pair_joins_on_adcode(boundary_pair):
    wgs, gcj = boundary_pair
    assert wgs.index.is_unique and gcj.index.is_unique
    assert sorted(wgs.index) == sorted(gcj.index) == sorted(ADCODES)


def _median_displacement_m(
    vertices_lonlat: np.ndarray, boundary_m: shapely.Geometry, to_local: pyproj.Transformer
) -> np.ndarray:
    """Component-wise median of vertex -> nearest-boundary-point vectors (m, local metric).

    Only vertices within ``NEAR_BOUNDARY_M`` of the boundary take part.
    """
    x, y = to_local.transform(vertices_lonlat[:, 0], vertices_lonlat[:, 1])
    lines = shapely.shortest_line(shapely.points(x, y), boundary_m)
    ends = shapely.get_coordinates(lines).reshape(-1, 2, 2)
    vectors = ends[:, 1] - ends[:, 0]
    near = np.hypot(vectors[:, 0], vectors[:, 1]) < NEAR_BOUNDARY_M
    assert near.mean() > 0.6  # most of the boundary is shared; only coasts and islands differ
    return np.median(vectors[near], axis=0)


@pytest.mark.slow
@pytest.mark.parametrize("adcode", ADCODES)
def test_real_gcj02_boundaries_line_up_after_conversion(adcode, boundary_pair, record_property):
    """Amap (GCJ-02) vs Tianditu (WGS84) polygons of the same unit: offset removed.

    Method: every exterior vertex of the GCJ-02 polygon, its vector to the nearest point of
    the WGS84 polygon's boundary in an azimuthal-equidistant projection at the WGS84 centroid,
    the component-wise median vector, and its length.

    * Only vertices within 1 km of the WGS84 boundary are used. The Amap polygons of coastal
      districts include sea areas and islands (e.g. 斜阳岛 of 海城区) that the simplified
      Tianditu polygons lack; without this band 钦南区 comes out at 23.5 m and 海城区 at
      30.0 m after conversion instead of 3.7 m and 24.8 m.
    * 海城区 stays the worst case (24.8 m) for a data reason, not a conversion one: its
      Tianditu polygon has only 29 vertices (涠洲岛 is a pentagon), and measuring the other
      way round (Tianditu vertices to the converted Amap boundary) also gives ~23 m.
    * Before conversion the nearest-point vectors only see the part of the GCJ-02 shift that
      is normal to the boundary, so the median is a fraction of the full shift (370-550 m
      here): 94 m (平罗县) to 306 m (银海区). The planned fixed band of 100-300 m therefore
      fails for those two; instead the median must be 20-100 % of the full shift predicted
      by ``wgs84_to_gcj02`` at the centroid and point back against it (within 45 deg).
    """
    wgs, gcj = boundary_pair
    wgs_geom = wgs.loc[adcode, "geometry"]
    gcj_geom = gcj.loc[adcode, "geometry"]
    centre = wgs_geom.centroid
    local = pyproj.CRS.from_proj4(
        f"+proj=aeqd +lat_0={centre.y} +lon_0={centre.x} +datum=WGS84 +units=m"
    )
    to_local = pyproj.Transformer.from_crs("EPSG:4326", local, always_xy=True)
    boundary_m = shapely.transform(
        wgs_geom.boundary, lambda xy: np.column_stack(to_local.transform(xy[:, 0], xy[:, 1]))
    )
    rings = [shapely.get_exterior_ring(part) for part in shapely.get_parts(gcj_geom)]
    vertices = np.concatenate([shapely.get_coordinates(ring) for ring in rings])

    before = _median_displacement_m(vertices, boundary_m, to_local)
    converted = np.column_stack(gcj02_to_wgs84(vertices[:, 0], vertices[:, 1]))
    after = _median_displacement_m(converted, boundary_m, to_local)
    before_m, after_m = float(np.hypot(*before)), float(np.hypot(*after))

    shift = np.subtract(to_local.transform(*wgs84_to_gcj02(centre.x, centre.y)), (0.0, 0.0))
    shift_m = float(np.hypot(*shift))
    cos_angle = float(-(before @ shift) / (before_m * shift_m))
    record_property("median_before_m", before_m)
    record_property("median_after_m", after_m)
    print(
        f"{adcode}: median displacement {before_m:.1f} m before, {after_m:.1f} m after "
        f"(full GCJ-02 shift {shift_m:.0f} m, cos angle {cos_angle:.2f})"
    )
    assert 0.2 * shift_m <= before_m <= shift_m
    assert cos_angle > np.cos(np.radians(45.0))
    assert after_m < 25.0


def test_whole_gcj02_layer_converts_with_geometry_to_wgs84(boundary_pair):
    """The layer converts in one call; the 湘桥区 centroid offset (README) disappears."""
    wgs, gcj = boundary_pair
    converted = geometry_to_wgs84(gcj, "gcj02")
    assert converted.crs.to_epsg() == 4326 and len(converted) == 13
    assert (converted.geometry.count_coordinates() == gcj.geometry.count_coordinates()).all()
    before = gcj.loc["445102", "geometry"].centroid
    after = converted.loc["445102", "geometry"].centroid
    truth = wgs.loc["445102", "geometry"].centroid
    assert before.x - truth.x == pytest.approx(0.0044, abs=0.0005)
    assert before.y - truth.y == pytest.approx(-0.0026, abs=0.0005)
    assert _distance_m(after.x, after.y, truth.x, truth.y) < 30.0


def test_module_constants_are_the_published_ones():
    assert coords.GCJ_A == prcoords.GCJ_A == 6378245.0
    assert coords.GCJ_EE == prcoords.GCJ_EE == 0.00669342162296594323
    assert (coords.BD_DLON, coords.BD_DLAT) == (prcoords.BD_DLON, prcoords.BD_DLAT)
