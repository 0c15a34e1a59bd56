"""Many areas on Dask: a batch equals the serial runs exactly, and one failure stops nothing.

The areas are the demo (团城山街道, real streets and GHS-POP population from the shared data)
with different subsets of its hypothetical facilities, written into ``tmp_path``.

Dask and warnings: the suite turns warnings into errors and no filter is needed here. The
one warning seen while writing these tests is distributed's ``UserWarning: Port 8787 is
already in use`` (the scheduler's HTTP server starts even with ``dashboard_address=None``,
and another cluster, e.g. a concurrent test run, may hold 8787); ``run_batch`` and the test
cluster below bind that server to a free local port instead, so it cannot occur. Should a
future release warn on cluster start or shutdown, filter that one message narrowly on the
test that starts the cluster.
"""

from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pytest
import shapely
from conftest import local_cluster

from geoplan.cli import main
from geoplan.errors import ConfigError, OutputExistsError
from geoplan.workflows.batch import (
    BATCH_FILES,
    SUMMARY_COLUMNS,
    Area,
    BatchError,
    _clipped_network,
    areas_from,
    index_html,
    padding_m,
    run_area,
    run_batch,
)
from geoplan.workflows.project import DEMO_PROJECT, OUTPUT_FILES, load_project, run_project

REPO = Path(__file__).resolve().parent.parent
SCENARIO = REPO / "data" / "facilities" / "tuanchengshan_scenario.csv"
HALVES = Path(__file__).parent / "data" / "batch" / "tuanchengshan_halves.toml"
DEMO_TOML = DEMO_PROJECT.read_text(encoding="utf-8")
FACILITIES_LINE = 'path = "../facilities/tuanchengshan_scenario.csv"'


def _write_area(folder: Path, slug: str, facilities: pd.DataFrame | None) -> None:
    """A copy of the demo project named ``slug``; ``facilities`` None → a missing file."""
    csv = folder / f"{slug}_facilities.csv"
    if facilities is not None:
        facilities.to_csv(csv, index=False, encoding="utf-8")
    assert FACILITIES_LINE in DEMO_TOML
    text = DEMO_TOML.replace(FACILITIES_LINE, f'path = "{csv.name}"').replace(
        'area = "团城山街道"', f'area = "团城山街道 {slug}"'
    )
    (folder / f"{slug}.toml").write_text(text, encoding="utf-8")


@pytest.fixture(scope="module")
def scenario() -> pd.DataFrame:
    return pd.read_csv(SCENARIO, dtype=str, encoding="utf-8-sig", keep_default_na=False)


@pytest.fixture(scope="module")
def areas_dir(tmp_path_factory, scenario) -> Path:
    """Three demo areas: all facilities, all but the first, every second one."""
    folder = tmp_path_factory.mktemp("areas")
    _write_area(folder, "all", scenario)
    _write_area(folder, "no_first", scenario.iloc[1:])
    _write_area(folder, "every_second", scenario.iloc[::2])
    return folder


@pytest.fixture(scope="module")
def serial(tmp_path_factory, areas_dir) -> dict[str, Path]:
    """Each area run on its own with ``run_project``: slug → output folder."""
    out = tmp_path_factory.mktemp("serial")
    folders = {}
    for toml in sorted(areas_dir.glob("*.toml")):
        run_project(toml, out / toml.stem)
        folders[toml.stem] = out / toml.stem
    return folders


@pytest.fixture(scope="module")
def batch(tmp_path_factory, areas_dir) -> tuple[pd.DataFrame, Path]:
    """The same areas as Dask tasks on a LocalCluster of two worker processes."""
    out = tmp_path_factory.mktemp("batch")
    table = run_batch(areas_from(areas_dir), out, n_workers=2)
    return table, out


def _summary(folder: Path) -> dict:
    return json.loads((folder / "summary.json").read_text(encoding="utf-8"))


def test_dask_batch_equals_serial_runs_exactly(batch, serial):
    table, out = batch
    n_rules = len(load_project(DEMO_PROJECT).rules)
    assert sorted(table["slug"].unique()) == sorted(serial)
    assert len(table) == 3 * n_rules
    for slug, folder in serial.items():
        expected = _summary(folder)
        assert _summary(out / slug) == expected  # every number bit-identical
        rows = table[table["slug"] == slug]
        assert (rows["population_total"] == expected["population_total"]).all()
        assert rows["population_covered"].tolist() == [
            r["population_covered"] for r in expected["rules"]
        ]
        assert rows["share_covered"].tolist() == [r["share_covered"] for r in expected["rules"]]
        assert rows["met"].tolist() == [r["met"] for r in expected["rules"]]
        for name in ("coverage_points.csv", "coverage_by_unit.csv", "gaps.csv"):
            assert (out / slug / name).read_bytes() == (folder / name).read_bytes(), name
        assert all((out / slug / name).exists() for name in OUTPUT_FILES)
    # the areas differ, so equality above is not trivially the same run three times
    assert table["population_covered"].nunique() > n_rules


def test_batch_summary_files(batch, serial):
    table, out = batch
    csv = pd.read_csv(out / "batch_summary.csv", encoding="utf-8-sig", float_precision="round_trip")
    assert list(csv.columns) == list(SUMMARY_COLUMNS)
    assert len(csv) == 3 * len(load_project(DEMO_PROJECT).rules)
    pd.testing.assert_series_equal(csv["population_covered"], table["population_covered"])
    pd.testing.assert_series_equal(csv["population_total"], table["population_total"])
    document = json.loads((out / "batch_summary.json").read_text(encoding="utf-8"))
    assert document["n_areas"] == 3 and document["n_failed"] == 0
    for record in document["areas"]:
        assert record["ok"] and record["error"] is None
        assert record["summary"] == _summary(serial[record["slug"]])
    page = (out / "index.html").read_text(encoding="utf-8")
    for slug in serial:
        assert f'href="{slug}/map.html"' in page
    assert "<script" not in page and "http" not in page  # self-contained, no CDN


def test_batch_refuses_to_overwrite(batch, areas_dir):
    _, out = batch
    with pytest.raises(OutputExistsError, match=r"already holds the result of `geoplan batch`"):
        run_batch(areas_from(areas_dir), out)


@pytest.fixture(scope="module")
def with_failure(tmp_path_factory, scenario) -> Path:
    folder = tmp_path_factory.mktemp("with_failure")
    _write_area(folder, "good_a", scenario)
    _write_area(folder, "broken", None)  # its facilities file does not exist
    _write_area(folder, "good_b", scenario.iloc[::2])
    return folder


def test_failing_area_is_reported_and_the_others_finish(tmp_path, with_failure, caplog):
    with pytest.raises(BatchError, match="1 of 3 areas failed: broken") as info:
        run_batch(areas_from(with_failure), tmp_path, n_workers=2, processes=False)
    error = info.value
    assert list(error.failed) == ["broken"]
    assert error.failed["broken"].startswith("InputFileNotFoundError")
    assert "broken_facilities.csv" in error.failed["broken"]
    assert sorted(error.table["slug"].unique()) == ["good_a", "good_b"]
    assert "area broken" in caplog.text and "failed" in caplog.text
    for slug in ("good_a", "good_b"):
        assert all((tmp_path / slug / name).exists() for name in OUTPUT_FILES)
    assert all((tmp_path / name).exists() for name in BATCH_FILES)
    document = json.loads((tmp_path / "batch_summary.json").read_text(encoding="utf-8"))
    assert [r["ok"] for r in document["areas"]] == [False, True, True]  # sorted by file name
    assert "failed" in (tmp_path / "index.html").read_text(encoding="utf-8")


def test_cli_batch_exit_code_and_listing(tmp_path, with_failure, capsys):
    """``--scheduler``: a running cluster (here in-process, so the test stays fast)."""
    out = tmp_path / "out"
    with local_cluster(2) as cluster:
        argv = ["-q", "batch", str(with_failure), "--out", str(out)]
        assert main([*argv, "--scheduler", cluster.scheduler_address]) == 1
        err = capsys.readouterr().err
        assert "1 of 3 areas failed: broken (InputFileNotFoundError" in err
        assert (out / "good_a" / "map.html").exists() and (out / "batch_summary.csv").exists()
        assert main([*argv, "--scheduler", cluster.scheduler_address]) == 1
        assert "already holds" in capsys.readouterr().err
    assert main(["-q", "batch", str(with_failure), "--out", str(out), "--workers", "0"]) == 1
    assert "--workers must be at least 1" in capsys.readouterr().err


def test_template_split_by_polygons_keeps_coverage(tmp_path, serial):
    """Two halves of the demo: residents split exactly, each point's coverage unchanged."""
    areas = areas_from(HALVES)
    assert [a.name for a in areas] == ["西片 <W&1>", "东片"]
    assert [a.slug for a in areas] == ["西片-W-1", "东片"]
    table = run_batch(areas, tmp_path, n_workers=2, processes=False)
    whole = pd.read_csv(serial["all"] / "coverage_points.csv", encoding="utf-8-sig")
    parts = [
        pd.read_csv(tmp_path / a.slug / "coverage_points.csv", encoding="utf-8-sig") for a in areas
    ]
    assert sum(len(p) for p in parts) == len(whole)
    totals = table.drop_duplicates("slug")["population_total"]
    assert totals.sum() == pytest.approx(_summary(serial["all"])["population_total"], rel=1e-12)
    merged = pd.concat(parts).merge(whole, on="demand_id", suffixes=("", "_whole"))
    assert len(merged) == len(whole)
    for rule in load_project(DEMO_PROJECT).rules:
        covered = merged[f"{rule.id}_covered"]
        assert (covered == merged[f"{rule.id}_covered_whole"]).all()
        time_s = merged[f"{rule.id}_time_s"][covered]
        assert time_s.to_numpy() == pytest.approx(
            merged[f"{rule.id}_time_s_whole"][covered].to_numpy(), rel=1e-12
        )
    boundary = gpd.read_file(tmp_path / "东片" / "inputs" / "boundary.geojson")
    assert boundary["unit_name"].tolist() == ["东片"]
    page = (tmp_path / "index.html").read_text(encoding="utf-8")
    assert "西片 &lt;W&amp;1&gt;" in page and "<W&1>" not in page


def test_template_area_never_replaces_a_file_geoplan_did_not_write(tmp_path):
    area = areas_from(HALVES)[1]
    (tmp_path / area.slug).mkdir()
    (tmp_path / area.slug / "map.html").write_text("kept", encoding="utf-8")
    record = run_area(area, tmp_path)
    assert not record["ok"] and record["summary"] is None
    assert record["error"].startswith("OutputExistsError") and "map.html" in record["error"]
    assert "traceback" not in record  # an expected error, not a crash
    assert not (tmp_path / area.slug / "inputs").exists()
    assert (tmp_path / area.slug / "map.html").read_text(encoding="utf-8") == "kept"


def test_areas_from_batch_file(tmp_path, areas_dir):
    batch = tmp_path / "batch.toml"
    batch.write_text(
        f'[[areas]]\nproject = "{areas_dir / "all.toml"}"\n'
        f'[[areas]]\nproject = "{areas_dir / "all.toml"}"\n'
        f'[[areas]]\nproject = "{areas_dir / "no_first.toml"}"\nslug = "index.html"\n',
        encoding="utf-8",
    )
    areas = areas_from(batch)
    assert [a.slug for a in areas] == ["all", "all-2", "index.html-area"]
    assert areas[0].name == "团城山街道 all"
    assert all(a.project is not None and a.template is None for a in areas)
    batch.write_text('[[areas]]\nproject = "nowhere.toml"\n', encoding="utf-8")
    with pytest.raises(ConfigError, match=r"nowhere\.toml"):
        areas_from(batch)
    with pytest.raises(ConfigError, match="single project file"):
        areas_from(areas_dir / "all.toml")
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(ConfigError, match="no areas"):
        areas_from(empty)
    with pytest.raises(ConfigError, match="either a project or a template"):
        Area(name="x", slug="x")


def test_padding_is_the_farthest_reach_of_any_rule():
    project = load_project(DEMO_PROJECT)
    walking = dataclasses.replace(project, rules=project.rules[:2])
    assert padding_m(walking) == 15 * 70.0  # two 15-minute walking rules at 70 m/min
    # on a DEM walkers are fastest on a 5 % descent: Tobler's 1.19 × (e^0.175)
    hilly = dataclasses.replace(walking, network={**walking.network, "dem": "hills.tif"})
    assert padding_m(hilly) == pytest.approx(15 * 70.0 * math.exp(0.175))
    # the walk + e-bike rule reaches as far as its fastest mode: e-bikes, 20 km/h at most
    assert padding_m(project) == pytest.approx(15 * 20_000 / 60)
    drive = dataclasses.replace(project.rules[0], modes=("drive",), threshold_min=10)
    faster = dataclasses.replace(project, rules=(*project.rules, drive))
    assert padding_m(faster) == pytest.approx(10 * 80_000 / 60)  # motorway, 80 km/h


def test_road_lines_are_clipped_to_the_padded_area(tmp_path):
    x0, y0 = 500_000, 3_340_000  # UTM 50N, near 黄石
    lines = gpd.GeoDataFrame(
        {"highway": ["residential", "primary"]},
        geometry=[
            shapely.LineString([(x0, y0), (x0 + 100, y0)]),
            shapely.LineString([(x0 + 5000, y0), (x0 + 5100, y0)]),
        ],
        crs=32650,
    )
    path = tmp_path / "roads.parquet"
    lines.to_parquet(path)
    project = dataclasses.replace(load_project(DEMO_PROJECT), network={"path": str(path)})
    padded = gpd.GeoSeries([shapely.box(x0, y0 - 100, x0 + 200, y0 + 100)], crs=32650)
    network = _clipped_network(project, padded, tmp_path)
    clipped = gpd.read_parquet(network["path"])
    assert clipped["highway"].tolist() == ["residential"]


def test_index_html_escapes_names():
    record = {
        "slug": "a b",
        "area": "<img src=x>",
        "ok": True,
        "error": None,
        "summary": {
            "area": "<img src=x>",
            "population_total": 10.0,
            "rules": [
                {
                    "id": "r",
                    "name_zh": "<b>",
                    "name_en": '"q"',
                    "share_covered": 0.5,
                    "met": None,
                }
            ],
        },
    }
    failed = {"slug": "f", "area": "&", "ok": False, "error": "Err: <x>", "summary": None}
    page = index_html([record, failed])
    assert "<img" not in page and "<b>" not in page and "<x>" not in page
    assert 'href="a%20b/map.html"' in page and "50.0%" in page
