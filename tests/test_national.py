"""A national run simulated on the shared data: synthetic "counties" cut out of Andorra's PBF,
a synthetic population raster and a facility registry; every county equals a serial run of its
cut inputs, a run stopped or failing part-way resumes only the missing counties, and the
national table is the concatenation of the counties' summaries."""

from __future__ import annotations

import json
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from conftest import local_cluster

from geoplan.errors import ConfigError, LimitError

# 2 × 2 boxes over Andorra (lon 1.42–1.78, lat 42.43–42.66) and one box far outside it
BOXES = {
    "900001": ("西南县", (1.40, 42.42, 1.56, 42.53)),
    "900002": ("西北县", (1.40, 42.53, 1.56, 42.67)),
    "900003": ("东南县", (1.56, 42.42, 1.80, 42.53)),  # no facility within reach
    "900004": ("东北县", (1.56, 42.53, 1.80, 42.67)),
    "900005": ("域外县", (3.00, 42.00, 3.10, 42.10)),  # outside the extract: an empty cut
}
FACILITIES = [  # name, category, lon, lat (towns of Andorra; none within 3 km of 东南县)
    ("安道尔城卫生院", "卫生院", 1.5218, 42.5063),
    ("圣胡利娅卫生院", "卫生院", 1.4913, 42.4636),
    ("马萨纳社区卫生服务中心", "社区卫生服务中心", 1.5148, 42.5450),
    ("奥尔迪诺卫生院", "卫生院", 1.5331, 42.5556),
    ("卡尼略卫生院", "卫生院", 1.5975, 42.5676),
    ("索尔德乌卫生院", "卫生院", 1.6680, 42.5770),
    ("莱斯卡尔德卫生院", "卫生院", 1.52655, 42.52949),  # on a street in 西南县, 57 m from 西北县
]
EXTRA = {  # registry columns beyond the facility contract: roles, yes/no services, capacity
    "安道尔城卫生院": {"次中心": "是", "标准化达标": "是", "床位数": "40", "所有制": "公立"},
    "圣胡利娅卫生院": {"次中心": "", "标准化达标": "否", "床位数": "10", "所有制": "公立"},
    "马萨纳社区卫生服务中心": {"次中心": "是", "标准化达标": "是", "床位数": "", "所有制": "民营"},
    "奥尔迪诺卫生院": {"次中心": "", "标准化达标": "否", "床位数": "12", "所有制": "公立"},
    "莱斯卡尔德卫生院": {"次中心": "", "标准化达标": "是", "床位数": "8", "所有制": "公立"},
}
TEMPLATE = """\
[project]
area = "全国模板"
area_en = "National template"

[network]
path = "{pbf}"
walk_speed_m_per_min = 70

[demand]
path = "population.tif"

[facilities]
path = "registry.csv"
crs = "wgs84"

[[rules]]
id = "medical_walk_15"
name_zh = "15分钟步行可达医疗卫生机构"
name_en = "Medical facility within a 15-minute walk"
categories = ["medical"]
mode = "walk"
threshold_min = 15
target_share = 1.0

[[rules]]
id = "medical_walk_30"
name_zh = "30分钟步行可达医疗卫生机构"
name_en = "Medical facility within a 30-minute walk"
categories = ["medical"]
mode = "walk"
threshold_min = 30
target_share = 0.9
"""


@pytest.fixture(scope="module")
def national_inputs(tmp_path_factory, shared_file):
    import rasterio
    from rasterio.features import rasterize
    from rasterio.transform import from_origin

    pbf = shared_file("osm/andorra_ad.osm.pbf")
    folder = tmp_path_factory.mktemp("national_inputs")
    rng = np.random.default_rng(16)
    cell = 0.01
    width, height = 44, 28  # lon 1.38–1.82, lat 42.40–42.68
    transform = from_origin(1.38, 42.68, cell, cell)
    # residents where the streets are (as in a real raster): cells crossed by a highway
    streets = rasterize(_highways(pbf), out_shape=(height, width), transform=transform)
    counts = np.where(streets > 0, rng.integers(1, 400, size=(height, width)), -1)
    counts = counts.astype("float32")
    profile = {
        "driver": "GTiff",
        "width": width,
        "height": height,
        "count": 1,
        "dtype": "float32",
        "crs": "EPSG:4326",
        "transform": transform,
        "nodata": -1,
    }
    with rasterio.open(folder / "population.tif", "w", **profile) as out:
        out.write(counts, 1)
    registry = pd.DataFrame(
        [
            {
                "编号": f"F{i + 1:03d}",
                "名称": n,
                "类型": c,
                "经度": x,
                "纬度": y,
                **EXTRA.get(n, {}),
            }
            for i, (n, c, x, y) in enumerate(FACILITIES)
        ]
        + [{"编号": "F999", "名称": "=坏记录", "类型": "卫生院", "经度": "", "纬度": ""}]
    )
    registry.to_csv(folder / "registry.csv", index=False, encoding="utf-8")
    (folder / "national.toml").write_text(TEMPLATE.format(pbf=pbf.as_posix()), encoding="utf-8")
    boundaries = gpd.GeoDataFrame(
        {"code": list(BOXES), "name": [v[0] for v in BOXES.values()]},
        geometry=[shapely.box(*v[1]) for v in BOXES.values()],
        crs=4326,
    )
    boundaries.to_file(folder / "counties.geojson", driver="GeoJSON")
    return folder


def _highways(pbf: Path) -> list:
    import osmium

    factory = osmium.geom.WKBFactory()
    lines = []
    for way in (
        osmium.FileProcessor(str(pbf))
        .with_locations()
        .with_filter(osmium.filter.KeyFilter("highway"))
    ):
        if way.is_way():
            try:
                lines.append(shapely.from_wkb(bytes.fromhex(factory.create_linestring(way))))
            except RuntimeError:
                continue
    return lines


def shared_pbf(folder: Path) -> Path:
    text = (folder / "national.toml").read_text(encoding="utf-8")
    return Path(text.split('path = "', 1)[1].split('"', 1)[0])


def _counties(folder: Path):
    from geoplan.workflows.national import counties_from

    return counties_from(
        "all", boundaries=folder / "counties.geojson", name_column="name", code_column="code"
    )


def _run(folder: Path, out: Path, **kwargs):
    from geoplan.workflows.national import run_national

    ran: list[str] = []
    table = run_national(
        folder / "national.toml",
        _counties(folder),
        out,
        n_workers=2,
        processes=False,
        on_record=lambda r: ran.append(r["adcode"]),
        **kwargs,
    )
    return table, ran


def _edited_template(inputs: Path, folder: Path, old: str, new: str) -> Path:
    """The template with ``old`` replaced by ``new``, written into ``folder`` beside copies of
    the registry and the raster it names."""
    text = (inputs / "national.toml").read_text(encoding="utf-8")
    assert old in text
    folder.mkdir(parents=True, exist_ok=True)
    for name in ("registry.csv", "population.tif"):
        (folder / name).write_bytes((inputs / name).read_bytes())
    (folder / "national.toml").write_text(text.replace(old, new), encoding="utf-8")
    return folder / "national.toml"


def _county(inputs: Path, adcode: str):
    (county,) = [c for c in _counties(inputs) if c.adcode == adcode]
    return county


def _status(table: pd.DataFrame) -> dict[str, str]:
    return dict(zip(table["adcode"], table["status"], strict=False))


def test_national_run_resumes_and_equals_serial_runs(national_inputs, tmp_path, monkeypatch):
    from geoplan.results import read_manifest
    from geoplan.workflows import national
    from geoplan.workflows.project import run_project

    out = tmp_path / "china"
    # 1. a run that stops after 2 counties (the others are left for later)
    table, ran = _run(national_inputs, out, stop_after=2)
    assert sorted(ran) == ["900001", "900002"]
    status = _status(table)
    assert status["900003"] == status["900004"] == status["900005"] == "not_run"

    # 2. a restart in which one county fails mid-way (an error after its inputs were cut):
    #    it leaves no finished folder
    real = national._county_into

    def failing(county, spec, staged, record, region=None):
        if county.adcode == "900004":
            raise RuntimeError("simulated crash")
        return real(county, spec, staged, record, region)

    monkeypatch.setattr(national, "_county_into", failing)
    first = {
        c: read_manifest(out / "counties" / s)["id"]
        for c, s in zip(table["adcode"], table["slug"], strict=False)
        if c in ("900001", "900002")
    }
    table, ran = _run(national_inputs, out)
    assert sorted(ran) == ["900003", "900004", "900005"]  # not 900001/900002 again
    status = _status(table)
    assert (
        status["900004"] == "failed"
        and "simulated crash" in table.loc[table["adcode"] == "900004", "reason"].iloc[0]
    )
    assert status["900003"] == "no_facilities"
    assert status["900005"] == "empty_cut"
    assert read_manifest(out / "counties" / "900004-东北县") is None

    # 3. the restart after the crash does only the failed county
    monkeypatch.setattr(national, "_county_into", real)
    table, ran = _run(national_inputs, out)
    assert ran == ["900004"]
    status = _status(table)
    assert status == {
        "900001": "ok",
        "900002": "ok",
        "900003": "no_facilities",
        "900004": "ok",
        "900005": "empty_cut",
    }
    for code, manifest_id in first.items():  # finished counties were not recomputed
        slug = table.loc[table["adcode"] == code, "slug"].iloc[0]
        assert read_manifest(out / "counties" / slug)["id"] == manifest_id

    # a county cut from its province's cut equals its cut from the national file
    from geoplan.workflows.fetch import cut_osm, padded_area

    county = _county(national_inputs, "900002")
    record = json.loads((out / "counties" / county.slug / "county.json").read_text("utf-8"))
    assert record["network"]["via"] == "90.osm.pbf"
    national_json = json.loads((out / "national_summary.json").read_text("utf-8"))
    pad = national_json["buffer_m"]
    assert pad == national_json["rules_reach_m"] and national_json["warnings"] == []
    direct = cut_osm(
        shared_pbf(national_inputs), padded_area(county.frame(), pad), tmp_path / "d.osm.pbf"
    )
    for key in ("ways", "nodes", "relations", "tagged_nodes"):
        assert record["network"][key] == direct[key], key
    assert not (out / ".regions").exists()  # intermediate province cuts are removed

    # every county is in the table: no silent drops, a reason where there are no figures
    assert set(table["adcode"]) == set(BOXES)
    reasons = table.drop_duplicates("adcode").set_index("adcode")["reason"]
    assert "no facility" in reasons["900003"] and "no way" in reasons["900005"]

    # 4. each county equals a serial `geoplan run` of its cut inputs
    expected_rows = []
    for code, slug in table.drop_duplicates("adcode")[["adcode", "slug"]].itertuples(index=False):
        folder = out / "counties" / slug
        record = json.loads((folder / "county.json").read_text(encoding="utf-8"))
        if record["status"] != "ok":
            assert not (folder / "summary.json").exists()
            continue
        serial = run_project(folder / "inputs" / "project.toml", tmp_path / "serial" / slug)
        mine = json.loads((folder / "summary.json").read_text(encoding="utf-8"))
        assert mine["population_total"] == serial.summary["population_total"] > 0
        for a, b in zip(mine["rules"], serial.summary["rules"], strict=True):
            assert a["id"] == b["id"]
            assert a["population_covered"] == b["population_covered"]
            assert a["share_covered"] == b["share_covered"]
        for rule in mine["rules"]:
            expected_rows.append(
                (code, rule["id"], mine["population_total"], rule["population_covered"])
            )
    assert len(expected_rows) == 3 * 2

    # 5. the national table is the concatenation of the per-county summaries
    csv = pd.read_csv(out / "national_summary.csv", encoding="utf-8-sig", dtype={0: str})
    assert list(csv.columns) == list(national.NATIONAL_COLUMNS.values())
    ok = csv[csv["状态/status"] == "ok"]
    got = [
        (str(a), r, p, c)
        for a, r, p, c in ok[
            [
                "区划代码/adcode",
                "规则编号/rule_id",
                "人口/population_total",
                "覆盖人口/population_covered",
            ]
        ].itertuples(index=False)
    ]
    assert got == expected_rows
    assert len(csv) == 6 + 2  # 3 counties × 2 rules, and a row per county without figures
    xlsx = pd.read_excel(out / "national_summary.xlsx", dtype={"区划代码/adcode": str})
    assert list(xlsx.columns) == list(csv.columns) and len(xlsx) == len(csv)
    page = (out / "index.html").read_text(encoding="utf-8")
    assert "counties/900001-%E8%A5%BF%E5%8D%97%E5%8E%BF/map.html" in page
    assert "范围内无设施" in page and "裁剪为空" in page
    rejects = pd.read_csv(out / "registry_rejects.csv", encoding="utf-8-sig")
    assert len(rejects) == 1  # the registry's bad row is reported once, nationally
    text = (out / "registry_rejects.csv").read_text(encoding="utf-8-sig")
    assert "'=坏记录" in text and '"=坏记录' not in text  # a formula never reaches Excel


def test_national_refusals(national_inputs, tmp_path, monkeypatch):
    from geoplan.cli import main
    from geoplan.workflows.national import counties_from, run_national

    monkeypatch.setenv("GEOPLAN_LIMIT_BATCH_AREAS", "3")
    with pytest.raises(LimitError, match="batch_areas"):
        run_national(national_inputs / "national.toml", _counties(national_inputs), tmp_path)
    with pytest.raises(ConfigError, match="999999"):
        counties_from(
            ["999999"],
            boundaries=national_inputs / "counties.geojson",
            name_column="name",
            code_column="code",
        )
    assert main(["batch", "--national", str(national_inputs / "national.toml"), "--out", "x"]) == 1


def test_counties_from_the_registry():
    from geoplan.workflows.national import counties_from

    (county,) = counties_from("445102")
    assert county.name == "湘桥区" and county.slug == "445102-湘桥区"
    assert shapely.from_wkb(county.wkb).area > 0


def test_cli_on_a_scheduler_given_by_address(national_inputs, tmp_path, capsys):
    from geoplan.cli import main

    out = tmp_path / "two"
    with local_cluster() as cluster:
        args = [
            "batch",
            "--national",
            str(national_inputs / "national.toml"),
            "--counties",
            "900001,900003",
            "--boundaries",
            str(national_inputs / "counties.geojson"),
            "--scheduler",
            cluster.scheduler_address,
            "--out",
            str(out),
        ]
        assert main(args) == 0
    printed = capsys.readouterr().out
    assert "2 个区县 / counties: ok 1, no_facilities 1" in printed
    table = pd.read_csv(out / "national_summary.csv", encoding="utf-8-sig", dtype=str)
    assert list(table["区划代码/adcode"].unique()) == ["900001", "900003"]


@pytest.mark.parametrize("form", ["inline", "table", "array"])
def test_registry_row_ids_reach_the_counties_when_the_template_has_no_id_column(
    national_inputs, tmp_path, form
):
    """Defect: with ``facility_id = ""`` (the registry has no id column) the registry's rows
    got ids ``row-<n>`` by their registry row, but each county read its own file with the
    template's mapping and numbered the rows again: "row-2" in a county was another
    facility than "row-2" in the registry. Now a county's ids are the registry's."""
    from geoplan.workflows.national import read_registry, run_national

    facilities = {
        "inline": ("[facilities]\n", '[facilities]\ncolumns = {facility_id = ""}\n'),
        "table": ('crs = "wgs84"\n', 'crs = "wgs84"\n\n[facilities.columns]\nfacility_id = ""\n'),
        # the registry as the one element of [[facilities]]
        "array": ("[facilities]\n", '[[facilities]]\ncolumns = {facility_id = ""}\n'),
    }
    template = _edited_template(national_inputs, tmp_path / "inputs", *facilities[form])
    registry, _ = read_registry(
        template.parent / "registry.csv", {"crs": "wgs84", "columns": {"facility_id": ""}}
    )
    ids = dict(zip(registry["名称"], registry["facility_id"], strict=True))
    assert len(set(ids.values())) == len(ids) and "row" in next(iter(ids.values()))
    # 西北县: its file holds registry rows 4, 5 and 8, which it would number 1, 2 and 3
    county = _county(national_inputs, "900002")
    out = tmp_path / "out"
    table = run_national(template, [county], out, n_workers=1, processes=False)
    assert set(table["status"]) == {"ok"}
    used = pd.read_csv(out / "counties" / county.slug / "facilities_used.csv", encoding="utf-8-sig")
    assert len(used) > 0
    assert used["facility_id"].tolist() == [ids[n] for n in used["name"]]


def test_a_demand_table_of_points_is_refused_before_any_county(national_inputs, tmp_path):
    """Defect: a CSV of points as the national [demand] failed in every county, each with a
    programming error ("AttributeError: 'DataFrame' object has no attribute 'crs'"); now one
    refusal up front that names the fix."""
    from geoplan.workflows.national import prepare_national

    template = _edited_template(
        national_inputs, tmp_path, 'path = "population.tif"', 'path = "points.csv"'
    )
    (tmp_path / "points.csv").write_text("经度,纬度,人口\n1.52,42.51,10\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"points\.csv: save the points as GeoParquet"):
        prepare_national(template, tmp_path / "out")
    assert not (tmp_path / "out" / "registry.parquet").exists()


def test_a_columns_mapping_that_cannot_take_the_registry_ids_is_refused_up_front(
    national_inputs, tmp_path
):
    """Dotted keys (``columns.facility_id = ""``) cannot be rewritten line by line: refused
    once, before any county runs, with the forms that work."""
    from geoplan.workflows.national import prepare_national

    template = _edited_template(
        national_inputs, tmp_path, 'crs = "wgs84"\n', 'crs = "wgs84"\ncolumns.facility_id = ""\n'
    )
    with pytest.raises(ConfigError, match="inline table"):
        prepare_national(template, tmp_path / "out")


def test_a_buffer_shorter_than_the_rules_reach_is_reported(national_inputs, tmp_path, caplog):
    """A --buffer-m below the rules' farthest reach (30 min × 70 m/min = 2,100 m here) cuts
    trips at the county's edge: said in the log and in national_summary.json."""
    import logging

    from geoplan.workflows.national import run_national

    with caplog.at_level(logging.WARNING):
        run_national(
            national_inputs / "national.toml",
            [_county(national_inputs, "900002")],
            tmp_path,
            n_workers=1,
            processes=False,
            buffer_m=500,
        )
    assert "shorter than the rules' farthest reach (2,100 m)" in caplog.text
    summary = json.loads((tmp_path / "national_summary.json").read_text("utf-8"))
    assert summary["buffer_m"] == 500 and summary["rules_reach_m"] == pytest.approx(2100)
    (warning,) = summary["warnings"]
    assert warning["code"] == "short_buffer" and "500 m" in warning["message_en"]
    assert "低估" in warning["message_zh"]
