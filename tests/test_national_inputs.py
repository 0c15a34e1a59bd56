"""A national run's counties against independent paths, and its batch-file table.

Each county of :func:`geoplan.workflows.national.run_national` is compared with a `geoplan run`
whose inputs were built without the national code: the whole national PBF (no cut), the
population raster clipped by rasterio to the county, and the full registry file; facilities
beyond the travel reach must not change the figures, those just outside the county within it
must count. A plan check reading registry columns beyond the facility contract (次中心,
标准化达标) gives the same figures on a county's cut files as on the full registry.
"""

from __future__ import annotations

import json
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from conftest import local_cluster
from test_national import BOXES, _counties, national_inputs, shared_pbf  # noqa: F401

from geoplan.errors import ConfigError

RUN = ["900001", "900002"]  # 西南县, 西北县: facilities on both sides of their shared edge


@pytest.fixture(scope="module")
def national_run(national_inputs, tmp_path_factory):  # noqa: F811
    from geoplan.workflows.national import run_national

    out = tmp_path_factory.mktemp("national") / "out"
    counties = [c for c in _counties(national_inputs) if c.adcode in RUN]
    table = run_national(
        national_inputs / "national.toml", counties, out, n_workers=2, processes=False
    )
    assert set(table["status"]) == {"ok"}
    summary = json.loads((out / "national_summary.json").read_text(encoding="utf-8"))
    return out, {c.adcode: c for c in counties}, summary["buffer_m"]


def _clip_raster(source: Path, polygon, target: Path) -> None:
    """The raster's cells touching ``polygon`` (WGS84), the rest nodata: rasterio alone."""
    import rasterio
    import rasterio.mask

    with rasterio.open(source) as ds:
        data, transform = rasterio.mask.mask(
            ds, [shapely.geometry.mapping(polygon)], crop=True, all_touched=True
        )
        profile = ds.profile | {
            "height": data.shape[1],
            "width": data.shape[2],
            "transform": transform,
        }
    with rasterio.open(target, "w", **profile) as out:
        out.write(data)


def _independent_project(folder: Path, inputs: Path, adcode: str, tolerance_m: float) -> Path:
    """A project of one county from the national files, cut without geoplan's national code:
    the whole PBF, the raster clipped by rasterio, the full registry read with a tolerance."""
    folder.mkdir(parents=True, exist_ok=True)
    name, box = BOXES[adcode]
    polygon = shapely.box(*box)
    gpd.GeoDataFrame({"name": [name]}, geometry=[polygon], crs=4326).to_file(
        folder / "boundary.geojson", driver="GeoJSON"
    )
    _clip_raster(inputs / "population.tif", polygon, folder / "population.tif")
    template = (inputs / "national.toml").read_text(encoding="utf-8")
    registry = (inputs / "registry.csv").as_posix()
    text = (
        template.replace('area = "全国模板"', f'area = "{name}"')
        .replace('path = "population.tif"', f'path = "{(folder / "population.tif").as_posix()}"')
        .replace(
            'path = "registry.csv"',
            f'path = "{registry}"\nboundary_tolerance_m = {tolerance_m}',
        )
    )
    text += '\n[boundary]\npath = "boundary.geojson"\n'
    path = folder / "project.toml"
    path.write_text(text, encoding="utf-8")
    return path


def _figures(summary: dict) -> dict:
    return {
        "population_total": summary["population_total"],
        **{r["id"]: r["population_covered"] for r in summary["rules"]},
    }


def test_each_county_equals_an_independent_run_and_honours_the_reach(
    national_inputs,  # noqa: F811
    national_run,
    tmp_path,
):
    from geoplan.workflows.project import run_project

    out, counties, buffer_m = national_run
    assert buffer_m == pytest.approx(30 * 70)  # the 30-minute walk at 70 m/min
    for adcode in RUN:
        county = out / "counties" / counties[adcode].slug
        mine = _figures(json.loads((county / "summary.json").read_text(encoding="utf-8")))
        # every facility of Andorra (50 km): those beyond the reach change nothing
        whole = run_project(
            _independent_project(tmp_path / adcode / "all", national_inputs, adcode, 50_000),
            tmp_path / adcode / "all" / "out",
        )
        assert mine["population_total"] > 0
        assert _figures(whole.summary) == pytest.approx(mine, rel=1e-12), adcode
        # the facilities of the run: a few more than the county's own
        used = int(json.loads((county / "county.json").read_text(encoding="utf-8"))["facilities"])
        assert used < len(whole.facilities)

    # 莱斯卡尔德卫生院 lies in 西南县, 57 m from 西北县: it must count for 西北县
    slug = counties["900002"].slug
    mine = _figures(json.loads((out / "counties" / slug / "summary.json").read_text("utf-8")))
    own = run_project(
        _independent_project(tmp_path / "own", national_inputs, "900002", 0.0),
        tmp_path / "own" / "out",
    )
    assert "莱斯卡尔德卫生院" not in set(own.facilities["name"])
    theirs = _figures(own.summary)
    assert theirs["population_total"] == pytest.approx(mine["population_total"], rel=1e-12)
    assert theirs["medical_walk_30"] < mine["medical_walk_30"]


PACK = {
    "pack": {"id": "registry_columns", "plan_file": "p.txt"},
    "catchments": [
        {
            "id": "sub_centres",
            "attribute": ["次中心"],
            "categories": ["township_hospital", "community_health_centre"],
            "mode": "walk",
            "percentiles": [50, 90],
        }
    ],
    "shares": [
        {
            "id": "standardised",
            "categories": ["township_hospital", "community_health_centre"],
            "attribute": ["标准化达标"],
            "target": 50,
        },
        {
            "id": "standardised_public",
            "categories": ["township_hospital", "community_health_centre"],
            "attribute": ["标准化达标"],
            "ownership": "public",
            "target": 50,
        },
    ],
}


def test_a_plan_check_on_registry_columns_equals_the_full_registry(
    national_inputs,  # noqa: F811
    national_run,
    tmp_path,
    plan_indicators,
):
    from geoplan.plans.packs import pack_from_mapping
    from geoplan.workflows.plan_check import NOT_COMPUTABLE, compute_checks

    source = {"kind": "预期性", "source": {"line": 1, "quote": "q"}}
    pack = pack_from_mapping(
        {k: v if k == "pack" else [r | source for r in v] for k, v in PACK.items()}
    )
    out, counties, buffer_m = national_run
    for adcode in RUN:
        county = out / "counties" / counties[adcode].slug
        cut = gpd.read_file(county / "inputs" / "facilities.gpkg")
        assert {"次中心", "标准化达标", "床位数", "所有制", "编号"} <= set(cut.columns)
        mine = compute_checks(county / "inputs" / "project.toml", pack)
        full = compute_checks(
            _independent_project(tmp_path / adcode, national_inputs, adcode, buffer_m + 1.0),
            pack,
        )
        columns = ["rule_id", "unit_name", "value", "status", "shortfall"]
        a = mine.checks[columns].reset_index(drop=True)
        b = full.checks[columns].reset_index(drop=True)
        pd.testing.assert_frame_equal(a, b)
        assert NOT_COMPUTABLE not in set(a["status"]), mine.checks[[*columns, "note"]]
        assert np.isfinite(a["value"].astype(float)).all()
        pd.testing.assert_frame_equal(
            mine.tables["catchments"].reset_index(drop=True),
            full.tables["catchments"].reset_index(drop=True),
        )


def test_registry_as_one_sheet_of_a_workbook(national_inputs, tmp_path):  # noqa: F811
    from geoplan.workflows.national import counties_from, prepare_national, run_county

    registry = pd.read_csv(national_inputs / "registry.csv", dtype=str, keep_default_na=False)
    book = tmp_path / "registry.xlsx"
    with pd.ExcelWriter(book) as writer:  # a cover sheet that also looks like a facility table
        registry.head(2).to_excel(writer, sheet_name="说明", index=False)
        registry.to_excel(writer, sheet_name="登记表", index=False)
    text = (national_inputs / "national.toml").read_text(encoding="utf-8")
    text = text.replace(
        'path = "registry.csv"', f'path = "{book.as_posix()}"\nsheet = "登记表"'
    ).replace('path = "population.tif"', f'path = "{national_inputs / "population.tif"}"')
    template = tmp_path / "national.toml"
    template.write_text(text, encoding="utf-8")
    spec, rejects = prepare_national(template, tmp_path / "out")
    assert len(rejects) == 1  # the bad row of the registry sheet, not of the cover sheet
    (county,) = counties_from(
        ["900002"], boundaries=national_inputs / "counties.geojson", name_column="name"
    )
    record = run_county(county, spec)
    assert record["status"] == "ok", record
    inputs = tmp_path / "out" / "counties" / county.slug / "inputs"
    project = (inputs / "project.toml").read_text(encoding="utf-8")
    assert "\nsheet" not in project and "# sheet" in project
    assert set(gpd.read_file(inputs / "facilities.gpkg")["名称"]) >= {"马萨纳社区卫生服务中心"}


# --------------------------------------------------------------------------- the [national] table


def _batch_file(folder: Path, national_inputs: Path, body: str) -> Path:  # noqa: F811
    path = folder / "china.toml"
    path.write_text(
        f'[national]\ntemplate = "{(national_inputs / "national.toml").as_posix()}"\n'
        f'boundaries = "{(national_inputs / "counties.geojson").as_posix()}"\n'
        'name_column = "name"\ncode_column = "code"\n' + body,
        encoding="utf-8",
    )
    return path


def test_national_table_in_a_batch_file(national_inputs, tmp_path, capsys):  # noqa: F811
    from geoplan.cli import main
    from geoplan.workflows.national import national_file

    (tmp_path / "list.txt").write_text("# 两个县\n900001\n\n900003  # 东南县\n", encoding="utf-8")
    path = _batch_file(
        tmp_path, national_inputs, 'counties_file = "list.txt"\nbuffer_m = 2100\nout = "china"\n'
    )
    options = national_file(path)
    assert options["counties"] == ["900001", "900003"]
    from geoplan.workflows.national import _wanted

    assert _wanted(["all"]) is None and _wanted("ALL") is None  # counties = "all" in a file
    assert _wanted(["900001, 900003", "900001"]) == ["900001", "900003"]
    with pytest.raises(ConfigError, match="all"):
        _wanted(["all", "900001"])
    assert options["out_dir"] == (tmp_path / "china").resolve()
    assert options["buffer_m"] == 2100.0 and options["code_column"] == "code"

    # misspelt keys, out-of-range values, both lists: refused before any work
    for body, message in (
        ('counties = "all"\nbufer_m = 10\n', "did you mean `buffer_m`"),
        ('counties = "all"\nbuffer_m = -1\n', "buffer_m"),
        ('counties = "all"\nworkers = 0\n', "workers"),
        ('counties = "all"\ncounties_file = "list.txt"\n', "not both"),
        ('counties = "all"\n[batch]\ntemplate = "x.toml"\nunits = "y.geojson"\n', "share"),
    ):
        bad = _batch_file(tmp_path, national_inputs, body)
        with pytest.raises(ConfigError, match=message):
            national_file(bad)
        assert main(["-q", "batch", str(bad)]) == 1
    no_out = _batch_file(tmp_path, national_inputs, 'counties = ["900001"]\n')
    assert main(["-q", "batch", str(no_out)]) == 1
    assert "needs out" in capsys.readouterr().err

    # `geoplan batch FILE` runs it; flags override the file's keys (counties, out, scheduler)
    path = _batch_file(
        tmp_path, national_inputs, 'counties = ["900001", "900003"]\nout = "china"\nworkers = 2\n'
    )
    with local_cluster() as cluster:
        args = ["batch", str(path), "--scheduler", cluster.scheduler_address]
        assert main([*args, "--counties", "900003"]) == 0
        assert "1 个区县 / counties: no_facilities 1" in capsys.readouterr().out
        table = pd.read_csv(tmp_path / "china" / "national_summary.csv", dtype=str)
        assert list(table["区划代码/adcode"]) == ["900003"]
        assert main([*args, "--out", str(tmp_path / "elsewhere")]) == 0
    table = pd.read_csv(tmp_path / "elsewhere" / "national_summary.csv", dtype=str)
    assert list(table["区划代码/adcode"].unique()) == ["900001", "900003"]


def test_an_ordinary_batch_refuses_a_national_table(national_inputs, tmp_path):  # noqa: F811
    from geoplan.workflows.batch import areas_from

    path = _batch_file(tmp_path, national_inputs, 'counties = "all"\n')
    with pytest.raises(ConfigError, match=r"\[national\]"):
        areas_from(path)


def test_a_raster_cut_keeps_every_cell_the_area_touches(tmp_path):
    """rasterio 1.4 ignores ``round_lengths(op="ceil")``: a window whose offset was floored
    lost its last row and column (a county's edge column of residents)."""
    import rasterio
    from rasterio.transform import from_origin

    from geoplan.workflows.fetch import cut_raster

    profile = {"driver": "GTiff", "width": 10, "height": 10, "count": 1, "dtype": "float32"}
    profile |= {"crs": "EPSG:4326", "transform": from_origin(0, 10, 1, 1), "nodata": -1}
    with rasterio.open(tmp_path / "ones.tif", "w", **profile) as out:
        out.write(np.ones((1, 10, 10), dtype="float32"))
    area = shapely.box(1.5, 1.5, 6.2, 6.2)  # touches cells 1..6 in both directions
    stats = cut_raster(tmp_path / "ones.tif", area, tmp_path / "cut.tif")
    assert stats["kept_cells"] == 6 * 6
    with rasterio.open(tmp_path / "cut.tif") as ds:
        assert ds.bounds == (1, 1, 7, 7)
        assert float(ds.read(1, masked=True).sum()) == 36
