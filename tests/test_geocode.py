"""Geocoding: the plans' place names against a hand-made gazetteer, real OSM files, online
providers with a fake fetch (never the network), and facility records without coordinates."""

from __future__ import annotations

import json
import math
import urllib.parse
import urllib.request
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from geoplan._paths import shipped_path
from geoplan.coords import gcj02_to_wgs84, wgs84_to_gcj02
from geoplan.errors import ConfigError, DataQualityWarning
from geoplan.readers.facilities import read_facilities
from geoplan.readers.geocode import (
    GAZETTEER_COLUMNS,
    GEOCODE_COLUMNS,
    PRECISIONS,
    AmapGeocoder,
    GazetteerGeocoder,
    Geocoder,
    GeocodeServiceError,
    TiandituGeocoder,
    gazetteer_from_admin,
    gazetteer_from_osm,
    geocode_missing,
    normalize_place,
)

DATA = Path(__file__).parent / "data" / "geocode"
COUNTIES = "boundaries/targets_admin_tianditu_wgs84.geojson"


@pytest.fixture(autouse=True)
def no_network(monkeypatch):
    """Any attempt to reach the network fails the test."""

    def refuse(*args, **kwargs):
        raise AssertionError("a test tried to use the network")

    monkeypatch.setattr(urllib.request, "urlopen", refuse)


@pytest.fixture(scope="module")
def counties() -> gpd.GeoDataFrame:
    return gpd.read_file(shipped_path(COUNTIES))


@pytest.fixture(scope="module")
def geocoder(counties) -> GazetteerGeocoder:
    """The 13 real county/city polygons + hand-drawn 平罗县 townships and villages."""
    return GazetteerGeocoder.from_sources(
        admin=[
            (counties, None),  # level column: city / district
            (DATA / "pingluo_townships.geojson", "township"),
            (DATA / "pingluo_villages.geojson", "village"),
        ]
    )


# --------------------------------------------------------------------------- text


def test_normalize_place_full_width_spaces_traditional():
    assert normalize_place("平罗县　黄渠桥镇") == "平罗县黄渠桥镇"
    assert normalize_place("ＰＩＮＧＬＵＯ  (平罗縣)") == "pingluo 平罗县"
    assert normalize_place("l’Aldosa de Canillo") == "l aldosa de canillo"
    assert normalize_place(None) == ""
    assert normalize_place(float("nan")) == ""


# --------------------------------------------------------------------------- gazetteers


def test_gazetteer_from_admin_levels_points_and_codes(counties):
    gz = gazetteer_from_admin(counties)
    assert list(gz.columns) == list(GAZETTEER_COLUMNS)
    assert len(gz) == 13
    assert set(gz["level"]) == {"city", "county"}
    row = gz[gz["code"] == "640221"].iloc[0]
    assert row["name"] == "平罗县" and row["level"] == "county"
    polygon = counties[counties["adcode"] == "640221"].geometry.iloc[0]
    assert polygon.contains(shapely.Point(row["lon"], row["lat"]))  # representative point
    villages = gazetteer_from_admin(DATA / "pingluo_villages.geojson", level="村")
    assert set(villages["level"]) == {"village"}
    assert (villages["name"] == "西润村").sum() == 2
    with pytest.raises(ConfigError, match="unknown admin level"):
        gazetteer_from_admin(counties, level="province")


def test_gazetteer_from_admin_converts_gcj02():
    frame = gpd.GeoDataFrame(
        {"name": ["某村"]}, geometry=[shapely.Point(106.66, 39.0)], crs="EPSG:4326"
    )
    gz = gazetteer_from_admin(frame, level="village", crs="gcj02")
    lon, lat = gcj02_to_wgs84(106.66, 39.0)
    assert gz["lon"].iloc[0] == pytest.approx(lon, abs=1e-9)
    assert gz["lat"].iloc[0] == pytest.approx(lat, abs=1e-9)


# --------------------------------------------------------------------------- the plans' names

PLAN_NAMES = [
    # text, precision, matched name
    ("平罗县黄渠桥镇西润村卫生室", "village", "西润村"),  # P L577
    ("黄渠桥镇西润村卫生室", "village", "西润村"),
    ("灵沙乡西灵村卫生室", "village", "西灵村"),
    ("红崖子乡水泉子村", "village", "水泉子村"),
    ("红崖子乡王家沟村卫生室", "village", "王家沟村"),
    ("姚伏镇中心卫生院", "township", "姚伏镇"),  # P L571
    ("黄渠桥镇中心卫生院", "township", "黄渠桥镇"),
    ("姚伏卫生院", "township", "姚伏镇"),  # 姚伏 ↔ 姚伏镇
    ("黄渠桥卫生院", "township", "黄渠桥镇"),
    ("平罗县城关社区卫生服务中心", "township", "城关镇"),  # P L565
    ("平罗县人民医院", "county", "平罗县"),
    ("钦州市第二人民医院白石湖院区", "county", "钦州市"),  # Q L507: 白石湖 unknown
    ("钦州市妇幼保健院茶山院区", "county", "钦州市"),
    ("北海市人民医院银滩分院", "county", "北海市"),  # B L332: 银滩 unknown
    ("乐山市市中区海棠街道社区医院", "county", "市中区"),  # L L165: no township layer
    ("潮州市湘桥区磷溪卫生院", "county", "湘桥区"),
    ("灵山县人民医院", "county", "灵山县"),
    ("市人民医院银滩分院", "failed", ""),  # which city? never guessed
    ("海棠街道社区医院", "failed", ""),
    ("全福街道社区医院", "failed", ""),
    ("城关村卫生室", "failed", ""),  # a village 城关村 is not the town 城关镇
    ("城市中心医院", "failed", ""),  # 市中 inside 城市中心 is not 市中区
    ("", "failed", ""),
]


@pytest.mark.parametrize(("text", "precision", "name"), PLAN_NAMES)
def test_plan_place_names(geocoder, text, precision, name):
    row = geocoder.geocode([text]).iloc[0]
    assert row["geocode_precision"] == precision, row.to_dict()
    if precision == "failed":
        assert math.isnan(row["lon"]) and math.isnan(row["lat"])
        assert not row["matched_name"] or pd.isna(row["matched_name"])
    else:
        assert row["matched_name"] == name
        assert np.isfinite([row["lon"], row["lat"]]).all()


def test_result_frame_columns_and_order(geocoder):
    texts = ["姚伏镇中心卫生院", "某诊所", "平罗县人民医院"]
    out = geocoder.geocode(texts)
    assert list(out.columns) == list(GEOCODE_COLUMNS)
    assert out["text"].tolist() == texts
    assert set(out["geocode_precision"]) <= set(PRECISIONS)
    assert (out["provider"] == "gazetteer").all()
    assert isinstance(geocoder, Geocoder)


def test_village_points_lie_in_their_township(geocoder, counties):
    out = geocoder.geocode(["平罗县黄渠桥镇西润村卫生室", "姚伏镇中心卫生院"])
    towns = gpd.read_file(DATA / "pingluo_townships.geojson").set_index("name")
    assert towns.loc["黄渠桥镇"].geometry.contains(shapely.Point(out.lon[0], out.lat[0]))
    assert towns.loc["姚伏镇"].geometry.contains(shapely.Point(out.lon[1], out.lat[1]))
    county = counties[counties["adcode"] == "640221"].geometry.iloc[0]
    assert county.contains(shapely.points(out["lon"], out["lat"])).all()


def test_ambiguous_village_falls_back_to_a_consistent_coarser_match(geocoder):
    out = geocoder.geocode(["西润村卫生室", "平罗县西润村卫生室", "姚伏镇西润村"])
    # two 西润村 in the gazetteer (one fictional, in 姚伏镇): alone it is ambiguous
    assert out["geocode_precision"].tolist() == ["failed", "county", "village"]
    assert "2 places" in out["note"][0]
    assert out["matched_name"][1] == "平罗县" and "西润村" in out["note"][1]
    assert (out.lon[2], out.lat[2]) == (106.47, 38.79)  # the one inside 姚伏镇


def test_match_outside_the_named_township_is_dropped(geocoder):
    row = geocoder.geocode(["姚伏镇西灵村"]).iloc[0]  # 西灵村 lies in 灵沙乡
    assert row["geocode_precision"] == "township"
    assert row["matched_name"] == "姚伏镇"
    assert "西灵村" in row["note"]


def _points(names, xy, level):
    frame = gpd.GeoDataFrame(
        {"name": names}, geometry=[shapely.Point(x, y) for x, y in xy], crs="EPSG:4326"
    )
    return gazetteer_from_admin(frame, level=level)


def test_suffix_variants_both_ways():
    g = GazetteerGeocoder(
        [
            _points(["黄渠桥"], [(106.66, 39.0)], "township"),  # OSM-style name without 镇
            _points(["中心村"], [(106.5, 38.8)], "village"),
        ]
    )
    out = g.geocode(
        ["黄渠桥镇卫生院", "平罗县黄渠桥镇中心卫生院", "中心卫生院", "中心镇", "中心村"]
    )
    # 中心 inside the type word 中心卫生院 is no place; 中心镇 is not the village 中心村
    assert out["geocode_precision"].tolist() == [
        "township",
        "township",
        "failed",
        "failed",
        "village",
    ]


def test_code_prefixes_decide_without_polygons():
    gz = pd.concat(
        [
            gazetteer_from_admin(
                gpd.GeoDataFrame(
                    {"name": ["平罗县"], "adcode": ["640221"]},
                    geometry=[shapely.Point(106.54, 38.9)],
                    crs="EPSG:4326",
                ),
                level="county",
            ),
            gazetteer_from_admin(
                gpd.GeoDataFrame(
                    {"name": ["新村", "新村"], "code": ["640221100201", "640122100201"]},
                    geometry=[shapely.Point(106.6, 38.95), shapely.Point(106.2, 38.5)],
                    crs="EPSG:4326",
                ),
                level="village",
            ),
        ],
        ignore_index=True,
    )
    out = GazetteerGeocoder(gpd.GeoDataFrame(gz, crs="EPSG:4326")).geocode(
        ["平罗县新村卫生室", "新村卫生室"]
    )
    assert out["geocode_precision"].tolist() == ["village", "failed"]
    assert out["matched_code"][0] == "640221100201"


# --------------------------------------------------------------------------- OSM


@pytest.fixture(scope="module")
def andorra(shared_file):
    return gazetteer_from_osm(shared_file("osm/andorra_ad.osm.pbf"))


def test_osm_andorra_places(andorra):
    counts = andorra["level"].value_counts()
    assert counts["village"] >= 52  # 32 villages + 20 hamlets, plus neighbourhoods/localities
    assert counts["township"] >= 7  # the 7 towns
    assert counts["street"] > 100 and counts["exact"] > 50
    out = GazetteerGeocoder(andorra).geocode(
        [
            "Canillo",
            "Ordino",
            "Aubinyà",
            "Prats, Canillo",
            "Prats, Ordino",  # Prats is not in Ordino parish (its OSM polygon says so)
            "Farmacia D Encamp",
            "Carrer Doctor Vilanova, Andorra la Vella",
            "Carrer de Sant Jordi, Andorra la Vella",  # that street is in Pas de la Casa
            "Ordinoville",  # word ends respected in Latin script
        ]
    )
    assert out["geocode_precision"].tolist() == [
        "township",
        "township",
        "village",
        "village",
        "township",
        "exact",
        "street",
        "township",  # the town Andorra la Vella; the street is left out
        "failed",
    ]
    assert out["matched_name"][4] == "Ordino"
    assert "Carrer de Sant Jordi" in out["note"][7]
    assert ((out["lon"].dropna() > 1.4) & (out["lon"].dropna() < 1.8)).all()
    assert ((out["lat"].dropna() > 42.4) & (out["lat"].dropna() < 42.7)).all()


def test_osm_chinese_names_beijing_and_shanghai(shared_file):
    beijing = GazetteerGeocoder(
        gazetteer_from_osm(shared_file("osm/beijing_bupt_haidian_cn.osm.bz2"))
    )
    out = beijing.geocode(
        ["北京邮电大学社区卫生服务中心", "北京中仁中医医院", "海淀区西土城路10号"]
    )
    assert out["geocode_precision"].tolist() == ["exact", "exact", "street"]
    assert out["matched_name"][0] == "校医院（北京邮电大学社区卫生服务中心）"
    assert out["matched_name"][2] == "西土城路"
    assert out["lon"].between(116.3, 116.4).all() and out["lat"].between(39.9, 40.0).all()
    shanghai = GazetteerGeocoder(
        gazetteer_from_osm(shared_file("osm/shanghai_shu_baoshan_cn.osm.bz2"))
    )
    out = shanghai.geocode(["宝山区上大路99号", "钱伟长图书馆", "上海大学宝山校区"])
    assert out["geocode_precision"].tolist() == ["street", "exact", "exact"]
    assert out["matched_name"].tolist()[:2] == ["上大路", "钱伟长图书馆"]


# --------------------------------------------------------------------------- online providers


class FakeFetch:
    """Records the URLs and answers from a table keyed by the text sent."""

    def __init__(self, answers):
        self.answers = answers
        self.urls: list[str] = []

    def __call__(self, url: str) -> dict:
        self.urls.append(url)
        query = urllib.parse.parse_qs(urllib.parse.urlparse(url).query)
        text = json.loads(query["ds"][0])["keyWord"] if "ds" in query else query["address"][0]
        return self.answers[text]


def _tianditu(lon, lat, level):
    return {
        "msg": "ok",
        "status": "0",
        "location": {"lon": lon, "lat": lat, "level": level, "score": 90, "keyWord": "x"},
    }


def test_online_providers_need_the_switch_and_a_key(monkeypatch, tmp_path):
    with pytest.raises(ConfigError, match="online=True"):
        TiandituGeocoder("KEY")
    monkeypatch.delenv("GEOPLAN_AMAP_KEY", raising=False)
    with pytest.raises(ConfigError, match="API key"):
        AmapGeocoder(online=True, fetch=FakeFetch({}), cache_dir=tmp_path)


def test_tianditu_fake_fetch_precision_and_cache(tmp_path):
    fetch = FakeFetch(
        {
            "平罗县黄渠桥镇西润村卫生室": _tianditu("106.6601", "39.0003", "兴趣点"),
            "平罗县姚伏镇": _tianditu(106.47, 38.79, "乡镇"),
            "宁夏": _tianditu(106.2, 37.3, "省"),
            "无此地": {"msg": "ok", "status": "0"},
        }
    )
    g = TiandituGeocoder("SECRET", online=True, fetch=fetch, cache_dir=tmp_path)
    texts = ["平罗县黄渠桥镇西润村卫生室", "平罗县姚伏镇", "宁夏", "无此地"]
    out = g.geocode(texts)
    assert out["geocode_precision"].tolist() == ["exact", "township", "failed", "failed"]
    assert out["lon"][0] == pytest.approx(106.6601)  # CGCS2000 taken as WGS84: unchanged
    assert (out["provider"] == "tianditu").all()
    assert len(fetch.urls) == 4
    assert fetch.urls[0].startswith("https://api.tianditu.gov.cn/geocoder?")
    assert "tk=SECRET" in fetch.urls[0]
    files = sorted((tmp_path / "geocode" / "tianditu").glob("*.json"))
    assert len(files) == 4
    record = json.loads(g.cache_path(texts[0]).read_text(encoding="utf-8"))
    assert record["provider"] == "tianditu" and record["text"] == texts[0]
    assert "SECRET" not in "".join(f.read_text(encoding="utf-8") for f in files)
    again = TiandituGeocoder("OTHER", online=True, fetch=FakeFetch({}), cache_dir=tmp_path)
    pd.testing.assert_frame_equal(again.geocode(texts), out)  # all from the cache


def test_amap_gcj02_answers_become_wgs84_real_pair(monkeypatch, tmp_path, shared_file):
    """湘桥区's centroid from the GCJ-02 (Amap) file, converted, lands on the WGS84 file's."""
    monkeypatch.setenv("GEOPLAN_CACHE", str(tmp_path))
    monkeypatch.setenv("GEOPLAN_AMAP_KEY", "AMAPKEY")
    wgs = gpd.read_file(shipped_path(COUNTIES)).set_index("adcode")
    gcj = gpd.read_file(shared_file("boundaries/targets_admin_amap_gcj02.geojson"))
    gcj = gcj.set_index("adcode")
    centre_gcj = shapely.centroid(gcj.loc["445102"].geometry)
    centre_wgs = shapely.centroid(wgs.loc["445102"].geometry)
    answer = {
        "status": "1",
        "info": "OK",
        "count": "1",
        "geocodes": [
            {
                "formatted_address": "广东省潮州市湘桥区",
                "adcode": "445102",
                "location": f"{centre_gcj.x:.6f},{centre_gcj.y:.6f}",
                "level": "区县",
            }
        ],
    }
    city = {"status": "1", "count": "1", "geocodes": [{"location": "1,1", "level": "市"}]}
    fetch = FakeFetch({"潮州市湘桥区": answer, "潮州市": city})
    g = AmapGeocoder(online=True, fetch=fetch, city="445100")
    out = g.geocode(["潮州市湘桥区", "潮州市"])
    assert out["geocode_precision"].tolist() == ["county", "failed"]
    assert out["matched_code"][0] == "445102"
    lon, lat = out["lon"][0], out["lat"][0]
    expected = gcj02_to_wgs84(float(f"{centre_gcj.x:.6f}"), float(f"{centre_gcj.y:.6f}"))
    assert (lon, lat) == pytest.approx(expected, abs=1e-9)
    assert wgs84_to_gcj02(lon, lat) == pytest.approx((centre_gcj.x, centre_gcj.y), abs=2e-6)
    metres = lambda dx, dy: math.hypot(dx * 103_000, dy * 111_000)  # noqa: E731 (23.7° N)
    assert metres(centre_gcj.x - centre_wgs.x, centre_gcj.y - centre_wgs.y) > 400  # raw
    assert metres(lon - centre_wgs.x, lat - centre_wgs.y) < 50  # converted
    assert "city=445100" in fetch.urls[0] and "key=AMAPKEY" in fetch.urls[0]
    cached = list((tmp_path / "geocode" / "amap").glob("*.json"))
    assert len(cached) == 2  # cache_dir() from $GEOPLAN_CACHE


def test_service_errors_are_not_cached_and_raise_when_all_fail(tmp_path):
    bad = {"status": "0", "info": "INVALID_USER_KEY", "infocode": "10001"}
    fetch = FakeFetch({"平罗县": bad, "姚伏镇": bad})
    g = AmapGeocoder("WRONG", online=True, fetch=fetch, cache_dir=tmp_path)
    with pytest.raises(GeocodeServiceError, match="INVALID_USER_KEY"):
        g.geocode(["平罗县", "姚伏镇"])
    assert not (tmp_path / "geocode").exists() or not any((tmp_path / "geocode").rglob("*.json"))


# --------------------------------------------------------------------------- facility records


def test_geocode_missing_moves_resolved_records(geocoder, counties):
    table = read_facilities(DATA / "pingluo_missing_coords.csv")
    assert table.reason_counts() == {"missing_coordinates": 8, "unknown_category": 1}
    boundary = counties[counties["adcode"] == "640221"]
    with pytest.warns(DataQualityWarning, match="约12"):
        out = geocode_missing(table, geocoder, boundary=boundary)
    assert out.read == table.read == len(out.used) + len(out.rejects)
    used = out.used.set_index("facility_id")
    assert used.loc["G-001", "coord_source"] == "wgs84"
    assert pd.isna(used.loc["G-001", "geocode_precision"])
    expected = {"G-002": "village", "G-003": "township", "G-004": "township", "G-008": "township"}
    for fid, precision in expected.items():
        assert used.loc[fid, "coord_source"] == "geocoded"
        assert used.loc[fid, "geocode_precision"] == precision
        assert used.loc[fid, "geocode_provider"] == "gazetteer"
    assert used.loc["G-002", "geocode_matched"] == "西润村"
    assert used.loc["G-002", "category"] == "village_clinic"
    assert used.loc["G-003", "beds"] == 30 and math.isnan(used.loc["G-003", "nurses"])
    assert out.used["source_row"].is_monotonic_increasing
    assert out.used.crs.equals("EPSG:4326")
    reasons = dict(zip(out.rejects["source_row"], out.rejects["reason_code"], strict=True))
    assert reasons == {
        6: "geocode_failed",  # 西润村卫生室: two places of that name
        7: "geocode_failed",  # 某诊所: nothing
        8: "duplicate_id",  # G-001 again
        9: "outside_area",  # 灵山县, not 平罗县
        11: "unknown_category",  # untouched
    }
    failed = out.rejects[out.rejects["source_row"] == 6].iloc[0]
    assert "“西润村卫生室”" in failed["message_zh"] and "'西润村卫生室'" in failed["message_en"]
    assert "2 places" in failed["message_en"]
    assert "G-003" in set(out.capacity_issues["facility_id"])
    assert out.capacity_issues.values.tolist() == [
        [4, "G-003", "姚伏镇中心卫生院", "nurses", "注册护士数", "约12", "not_number"]
    ]
    # 灵山县's point, measured from 平罗县 in UTM 48N (the county's zone)
    far = gazetteer_from_admin(counties[counties["adcode"] == "450721"])
    point = gpd.GeoSeries(gpd.points_from_xy(far["lon"], far["lat"]), crs=4326).to_crs(32648)
    metres = boundary.to_crs(32648).geometry.iloc[0].distance(point.iloc[0])
    assert 1_700_000 < metres < 2_000_000
    outside = out.rejects[out.rejects["source_row"] == 9].iloc[0]
    assert outside["message_en"] == (
        "row 9 (name=灵山县人民医院): the place geocoded from '广西钦州市灵山县 灵山县人民医院' "
        f"(灵山县) lies {metres:,.0f} m outside the study area; fill in the coordinates or check "
        "the address."
    )
    assert f"在研究区边界外 {metres:,.0f} 米" in outside["message_zh"]
    assert len(table.used) == 1  # the input table is unchanged


def test_geocode_missing_min_precision(geocoder):
    table = read_facilities(DATA / "pingluo_missing_coords.csv")
    out = geocode_missing(table, geocoder, min_precision="village")
    assert out.used["geocode_precision"].dropna().tolist() == ["village"]
    coarse = out.rejects[out.rejects["source_row"] == 4].iloc[0]
    assert coarse["reason_code"] == "geocode_failed"
    assert "township" in coarse["message_en"] and "乡镇/街道" in coarse["message_zh"]
    assert out.read == len(out.used) + len(out.rejects)
    with pytest.raises(ConfigError):
        geocode_missing(table, geocoder, min_precision="failed")


def test_geocode_missing_with_a_fake_online_provider(tmp_path):
    table = read_facilities(DATA / "pingluo_missing_coords.csv")
    answers = {
        text: {"status": "1", "count": "0", "geocodes": []}
        for text in (
            "平罗县黄渠桥镇西润村 西润村卫生室",
            "姚伏镇中心卫生院",
            "平罗县 城关社区卫生服务中心",
            "西润村卫生室",
            "某诊所",
            "平罗县城关镇 平罗县人民医院新院区",
            "广西钦州市灵山县 灵山县人民医院",
        )
    }
    gx, gy = wgs84_to_gcj02(106.83, 38.935)
    answers["红崖子乡卫生院"] = {
        "status": "1",
        "geocodes": [{"location": f"{gx},{gy}", "level": "兴趣点", "formatted_address": "红崖子"}],
    }
    g = AmapGeocoder("K", online=True, fetch=FakeFetch(answers), cache_dir=tmp_path)
    out = geocode_missing(table, g)
    hit = out.used[out.used["facility_id"] == "G-008"].iloc[0]
    assert hit["geocode_provider"] == "amap" and hit["geocode_precision"] == "exact"
    assert (hit.geometry.x, hit.geometry.y) == pytest.approx((106.83, 38.935), abs=1e-7)
    assert (out.rejects["reason_code"] == "geocode_failed").sum() == 7
    assert out.read == len(out.used) + len(out.rejects)


def test_geocode_missing_reads_the_rows_with_the_tables_own_mappings(tmp_path):
    """A file read with ``columns=`` and ``categories=`` is geocoded through the same
    mappings: its renamed address column is found and its own category word is understood
    (before: the category was resolved again without the mapping — "category '甲类单位' is
    unknown" — and a mapped address column was not read)."""
    path = tmp_path / "list.csv"
    path.write_text(
        "编号,机构,单位性质,所在地,经度,纬度\n"
        "A1,某卫生服务中心,甲类单位,平罗县黄渠桥镇,106.6,38.9\n"
        "A2,无坐标单位,甲类单位,平罗县黄渠桥镇,,\n",
        encoding="utf-8",
    )
    table = read_facilities(
        path,
        columns={"name": "机构", "category": "单位性质", "address": "所在地"},
        categories={"甲类单位": "community_health_centre"},
    )
    assert list(table.rejects["reason_code"]) == ["missing_coordinates"]
    geocoder = GazetteerGeocoder([_points(["黄渠桥"], [(106.66, 39.0)], "township")])
    out = geocode_missing(table, geocoder)
    placed = out.used[out.used["facility_id"] == "A2"].iloc[0]
    assert placed["category"] == "community_health_centre"
    assert placed["geocode_precision"] == "township"  # from the mapped address column
    assert (placed.geometry.x, placed.geometry.y) == pytest.approx((106.66, 39.0))
