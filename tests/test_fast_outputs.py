"""Per-point outputs at I/O speed (issue 16, item 1): the Arrow CSV writer writes the bytes
pandas wrote (BOM, quoting, number formatting, the formula guard), and ``[outputs]`` skips
or reformats the per-point tables without changing any figure."""

from __future__ import annotations

import json

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pytest

from geoplan import _io
from geoplan.errors import ConfigError
from geoplan.workflows.project import load_project, per_point_outputs, run_project

TEXTS = np.array(
    [
        "a",
        "=SUM(A1)",
        "+1",
        "-x",
        "@y",
        "\tz",
        "\rw",
        'q"z',
        "中文，名称",
        "a,b",
        "line\nbreak",
        "'",
        "",
        None,
    ],
    dtype=object,
)


def _tricky(n: int = 3000, seed: int = 1) -> pd.DataFrame:
    """Every kind of cell the per-point tables hold, at every float magnitude."""
    rng = np.random.default_rng(seed)
    special = [0.0, -0.0, np.nan, np.inf, -np.inf, 1e-4, 9.99e-5, 1e-5, 1e14, 1e15, 1e16]
    special += [9.999999999999998e15, 123456789012345.6, 21719658199.286813, 5e-324, 1.0, 2.5]
    floats = np.concatenate(
        [
            rng.normal(0, 1, n),
            10 ** rng.uniform(-12, 20, n),
            -(10 ** rng.uniform(-12, 20, n)),
            rng.integers(-(10**6), 10**6, n).astype(float),
            np.round(rng.uniform(0, 1000, n), 2),
            np.tile(special, n // len(special) + 1)[:n],
        ]
    )
    m = len(floats)
    text = TEXTS[rng.integers(0, len(TEXTS), m)]
    return pd.DataFrame(
        {
            "f": floats,
            "i": rng.integers(-5, 5, m),
            "u": rng.integers(0, 9, m).astype(np.uint8),
            "b": rng.random(m) < 0.5,
            "t": text,
            "s": pd.array(text, dtype="string"),
            "c": pd.Categorical(TEXTS[rng.integers(0, len(TEXTS) - 1, m)]),
            "none": np.full(m, None, dtype=object),
            "=name": np.full(m, np.nan),
            "名称": text[::-1],
        }
    )


def _both(frame: pd.DataFrame, tmp_path) -> tuple[bytes, bytes]:
    _io._csv_pandas(frame, tmp_path / "pandas.csv")
    assert _io._csv_arrow(frame, tmp_path / "arrow.csv")
    return (tmp_path / "pandas.csv").read_bytes(), (tmp_path / "arrow.csv").read_bytes()


def test_arrow_csv_writes_the_bytes_pandas_wrote(tmp_path, monkeypatch):
    monkeypatch.setattr(_io, "CSV_CHUNK_ROWS", 1000)  # several chunks
    old, new = _both(_tricky(), tmp_path)
    assert new == old
    assert new.startswith('\ufeff"f","i","u","b","t","s","c","none","\'=name","名称"\n'.encode())
    # the guard: every formula-like text cell got its leading quote
    assert b'"\'=SUM(A1)"' in new and b'"\'\tz"' in new and b'"\'+1"' in new


def test_arrow_csv_one_row_one_column_and_empty(tmp_path):
    for frame in (
        pd.DataFrame({"x": [1.0]}),
        pd.DataFrame({"x": ["=1"]}),
        pd.DataFrame({"x": pd.Series([], dtype=float), "y": pd.Series([], dtype=object)}),
    ):
        old, new = _both(frame, tmp_path)
        assert new == old


def test_other_column_types_go_through_pandas(tmp_path):
    frames = [
        pd.DataFrame({"d": pd.to_datetime(["2024-01-01", None]), "x": [1.0, 2.0]}),
        pd.DataFrame({"mixed": ["=a", 1]}),
        pd.DataFrame({"n": pd.array([1, None], dtype="Int64")}),
        pd.DataFrame({"f": np.array([0.1, 1.0], dtype=np.float32)}),
    ]
    for k, frame in enumerate(frames):
        assert not _io._csv_arrow(frame, tmp_path / f"no{k}.csv")
        _io.write_csv(frame, tmp_path / f"w{k}.csv")
        _io._csv_pandas(frame, tmp_path / f"p{k}.csv")
        assert (tmp_path / f"w{k}.csv").read_bytes() == (tmp_path / f"p{k}.csv").read_bytes()


def test_demo_tables_equal_the_pandas_writer(tmp_path):
    """The demo's CSVs, cell for cell (byte for byte), as the old writer wrote them."""
    from geoplan.workflows.project import DEMO_PROJECT, facilities_used_table

    out = tmp_path / "demo"
    result = run_project(DEMO_PROJECT, out)
    frames = {
        "coverage_points.csv": result.coverage.table.drop(columns=["x", "y"]),
        "coverage_by_unit.csv": result.by_unit,
        "rejects.csv": result.rejects,
        "facilities_used.csv": facilities_used_table(result),
    }
    for name, frame in frames.items():
        _io._csv_pandas(frame, tmp_path / name)
        assert (out / name).read_bytes() == (tmp_path / name).read_bytes(), name
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    assert summary["per_point_outputs"]["written"] is True
    assert summary["per_point_outputs"]["points"] == len(result.coverage.table)
    assert pyogrio.list_layers(out / "gaps.gpkg")[:, 0].tolist() == ["gaps", "uncovered_points"]


def _figures(out) -> dict:
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    return {k: summary[k] for k in ("population_total", "rules")}


@pytest.fixture(scope="module")
def default_run(tmp_path_factory):
    from geoplan.workflows.project import DEMO_PROJECT

    out = tmp_path_factory.mktemp("default") / "out"
    run_project(DEMO_PROJECT, out)
    return out


def test_per_point_tables_skipped_above_the_size(demo_project, tmp_path, default_run, caplog):
    project = demo_project(append="\n[outputs]\nper_point_max_points = 100\n")
    out = tmp_path / "out"
    with caplog.at_level("WARNING"):
        run_project(project, out)
    assert not (out / "coverage_points.csv").exists()
    assert not (out / "coverage_points.parquet").exists()
    assert pyogrio.list_layers(out / "gaps.gpkg")[:, 0].tolist() == ["gaps"]
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    plan = summary["per_point_outputs"]
    assert plan["written"] is False and plan["max_points"] == 100 and plan["points"] > 100
    note = [w for w in summary["warnings"] if w["check"] == "per_point_skipped"]
    assert len(note) == 1 and "per_point_max_points" in note[0]["message_en"]
    assert "逐点表" in note[0]["message_zh"]
    assert "per-point tables not written" in caplog.text
    # the aggregated tables are written, with the same figures
    for name in ("coverage_by_unit.csv", "gaps.csv", "rejects.csv"):  # facilities_used: its path
        assert (out / name).read_bytes() == (default_run / name).read_bytes(), name
    assert _figures(out) == _figures(default_run)
    assert gpd.read_file(out / "gaps.gpkg", layer="gaps").equals(
        gpd.read_file(default_run / "gaps.gpkg", layer="gaps")
    )


def test_per_point_always_and_never(demo_project):
    always = load_project(
        demo_project(append='\n[outputs]\nper_point = "always"\nper_point_max_points = 1\n')
    )
    assert per_point_outputs(always, 10**7)["written"] is True
    never = load_project(demo_project("n.toml", append='\n[outputs]\nper_point = "never"\n'))
    assert per_point_outputs(never, 1)["written"] is False
    default = load_project(demo_project("d.toml"))
    assert per_point_outputs(default, 500_000)["written"] is True
    assert per_point_outputs(default, 500_001)["written"] is False


def test_outputs_table_is_checked(demo_project):
    with pytest.raises(ConfigError, match="per_point"):
        load_project(demo_project(append='\n[outputs]\nper_point = "sometimes"\n'))
    with pytest.raises(ConfigError, match="per_point_format"):
        load_project(demo_project("f.toml", append='\n[outputs]\nper_point_format = "xlsx"\n'))


def test_per_point_parquet(demo_project, tmp_path, default_run):
    project = demo_project(append='\n[outputs]\nper_point_format = "parquet"\n')
    out = tmp_path / "out"
    result = run_project(project, out)
    assert not (out / "coverage_points.csv").exists()
    assert pyogrio.list_layers(out / "gaps.gpkg")[:, 0].tolist() == ["gaps"]
    points = gpd.read_parquet(out / "coverage_points.parquet")
    assert points.crs.to_epsg() == 4326
    csv = pd.read_csv(default_run / "coverage_points.csv", encoding="utf-8-sig")
    assert list(points.columns[:-1]) == list(csv.columns)
    table = pd.DataFrame(points.drop(columns="geometry"))
    expected = result.coverage.table.drop(columns=["x", "y"]).reset_index(drop=True)
    pd.testing.assert_frame_equal(table, expected, check_dtype=False)
    # the uncovered points are its rows with a rule not covered, at the same positions
    uncovered = gpd.read_file(default_run / "gaps.gpkg", layer="uncovered_points")
    covered = [c for c in table.columns if c.endswith("_covered")]
    chosen = points[~table[covered].all(axis=1)].reset_index(drop=True)
    assert chosen["demand_id"].tolist() == uncovered["demand_id"].tolist()
    np.testing.assert_array_equal(chosen.geometry.x, uncovered.geometry.x)
    np.testing.assert_array_equal(chosen.geometry.y, uncovered.geometry.y)
    assert _figures(out) == _figures(default_run)
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    assert summary["per_point_outputs"]["files"] == ["coverage_points.parquet"]


def _members(path) -> dict:
    import zipfile

    with zipfile.ZipFile(path) as book:  # core.xml holds the time it was written
        return {n: book.read(n) for n in book.namelist() if n != "docProps/core.xml"}


def test_xlsx_rows_are_what_openpyxl_wrote(tmp_path, monkeypatch):
    """The spliced sheet rows equal openpyxl's own, byte for byte (texts, guard, numbers)."""
    frame = _tricky(300)
    frame["big"] = np.arange(len(frame)) * 10**12 + 7
    spaces = ["  a", "b  ", "   ", " ", "x y", "&<>\"'", "a\r\nb", "\tt"]
    frame["spaces"] = np.array(spaces, dtype=object)[np.arange(len(frame)) % len(spaces)]
    frame["na"] = pd.array(["x", None] * (len(frame) // 2), dtype="string")  # pd.NA: "<NA>"
    mixed = frame.astype(object)
    mixed.iloc[5, :] = None  # an empty row
    sheets = {"gaps": pd.concat([mixed, frame], ignore_index=True), "second": frame.iloc[:40]}
    _io.write_xlsx(sheets, tmp_path / "fast.xlsx")
    monkeypatch.setattr(_io, "_sheet_rows_xml", lambda frame: None)  # openpyxl, cell by cell
    _io.write_xlsx(sheets, tmp_path / "slow.xlsx")
    fast, slow = _members(tmp_path / "fast.xlsx"), _members(tmp_path / "slow.xlsx")
    assert fast.keys() == slow.keys()
    for name in fast:
        assert fast[name] == slow[name], name


def test_xlsx_cells_openpyxl_must_write_fall_back():
    assert _io._sheet_rows_xml(pd.DataFrame({"d": pd.to_datetime(["2024-01-01"])})) is None
    assert _io._sheet_rows_xml(pd.DataFrame({"t": ["bell\x07"]})) is None
    assert _io._sheet_rows_xml(pd.DataFrame({"t": ["x" * 40_000]})) is None


def test_map_geometries_are_the_json_of_mapping():
    """Gap cells and units (polygons without holes) go to the map's JSON as before."""
    import shapely
    from shapely.geometry import mapping

    from geoplan.rendering import maps

    rng = np.random.default_rng(3)
    cells = [
        shapely.box(x, y, x + 0.0045123456, y + 0.0045) for x, y in rng.uniform(0, 50, (50, 2))
    ]
    others = [
        shapely.Point(115.12345678, 30.1),
        None,
        shapely.Polygon(),
        shapely.box(0, 0, 10, 10).difference(shapely.box(2, 2, 3, 3)),  # a hole
        shapely.MultiPolygon([shapely.box(0, 0, 1, 1), shapely.box(2, 2, 3, 3)]),
        shapely.Polygon([(0, 0, 1), (1, 0, 2), (1, 1, 3)]),  # 3D
        shapely.LineString([(0, 0), (1e-7, 3)]),
    ]
    geoms = gpd.GeoSeries(cells[:20] + others + cells[20:])
    rounded = shapely.transform(np.asarray(geoms.values), lambda c: np.round(c, 6))
    expected = [None if g is None or g.is_empty else mapping(g) for g in rounded]
    assert json.dumps(maps._geojson_geometries(geoms)) == json.dumps(expected)


def test_gap_numbers_decode_to_the_gap_rows():
    """A rule's gap areas as numbers (maps._gap_data, drawn and filled in by the browser)
    decode to each row's rank, residents, median minutes, nearest facility (its name, else the
    name of its id) and unit, names kept as they are (hostile ones too), and one box each."""
    import shapely

    from geoplan.rendering import maps

    n = 60
    rng = np.random.default_rng(4)
    names = np.array(["卫生站<一>", "A & B {{ 7*7 }}", None, '"quoted"'], dtype=object)
    gaps = gpd.GeoDataFrame(
        {
            "rule_id": "r1",
            "rank": np.arange(1, n + 1),
            "population": rng.uniform(0, 5000, n),
            "median_travel_time_s": np.where(rng.random(n) < 0.2, np.nan, rng.uniform(0, 3e3, n)),
            "nearest_facility_id": np.array(["F1", "F2", None], dtype=object)[np.arange(n) % 3],
            "nearest_facility_name": names[np.arange(n) % 4],
            "unit_name": np.array(["街道<1>", None], dtype=object)[np.arange(n) % 2],
            "_label_lat": rng.uniform(30, 31, n),
            "_label_lon": rng.uniform(114, 115, n),
        },
        geometry=[shapely.box(x, 30, x + 0.01, 30.01) for x in rng.uniform(114, 115, n)],
        crs=4326,
    )
    rule = {"id": "r1", "name_zh": "十五分钟<医疗>", "name_en": "15 min & more"}
    lookup = {"F1": "设施一", "F2": "F&2"}
    data = maps._gap_data(gaps.sample(frac=1, random_state=1), rule, lookup)  # any order
    assert np.cumsum(data["rank"]).tolist() == list(range(1, n + 1))
    for i, (_, gap) in enumerate(gaps.iterrows()):
        name, fid, unit = gap[["nearest_facility_name", "nearest_facility_id", "unit_name"]]
        if maps._missing(name):
            name = None if maps._missing(fid) else lookup[fid]
        f, u = data["facility"][i], data["unit"][i]
        assert (None if f < 0 else data["names"][f]) == name
        assert (None if u < 0 else data["units"][u]) == (None if maps._missing(unit) else unit)
        assert data["pop"][i] == round(gap["population"])
        median = gap["median_travel_time_s"]
        if np.isnan(median):
            assert data["min"][i] == -1
        else:
            assert abs(data["min"][i] / 10 - median / 60) <= 0.05 + 1e-9
    labels = gaps.loc[gaps["rank"] <= maps.MAX_RANK_LABELS, ["_label_lat", "_label_lon"]]
    np.testing.assert_allclose(data["labels"], labels.to_numpy(), atol=1e-6)
    shapes = data["shapes"]
    assert shapes["parts"] == [1] * n and shapes["rings"] == [1] * n and shapes["verts"] == [4] * n
    corners = np.column_stack([np.cumsum(shapes["lon"]), np.cumsum(shapes["lat"])]) / 1e6
    first = gaps.geometry.iloc[0]
    np.testing.assert_allclose(
        corners[:4], np.asarray(first.exterior.coords)[:4], atol=1e-6, rtol=0
    )


def test_report_reads_the_parquet_points(demo_project, tmp_path, monkeypatch):
    """The report's travel-time charts come from coverage_points.parquet when it replaces the
    CSV, and say the points are missing when they were not written."""
    from geoplan.rendering import browser, report

    def no_chromium(*args, **kwargs):
        raise FileNotFoundError("Chromium not found (disabled by the test)")

    monkeypatch.setattr(browser, "find_chromium", no_chromium)
    missing = report._TEXT["no_points"][1]
    for name, outputs, says_missing in (
        ("parquet", 'per_point_format = "parquet"', False),
        ("never", 'per_point = "never"', True),
    ):
        out = tmp_path / name
        run_project(demo_project(f"{name}.toml", append=f"\n[outputs]\n{outputs}\n"), out)
        html = report.write_reports(out, lang="en").reports[0].read_text(encoding="utf-8")
        assert (missing in html) is says_missing, name


def test_run_per_point_option_overrides_the_project(demo_project, tmp_path):
    from geoplan.cli import main

    project = demo_project(append="\n[outputs]\nper_point_max_points = 100\n")
    out = tmp_path / "always"
    assert main(["-q", "run", str(project), "--out", str(out), "--per-point", "always"]) == 0
    assert (out / "coverage_points.csv").is_file()
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    assert summary["per_point_outputs"]["written"] is True
    assert summary["per_point_outputs"]["per_point"] == "always"
    out = tmp_path / "never"
    assert (
        main(["-q", "run", str(demo_project("d.toml")), "--out", str(out), "--per-point", "never"])
        == 0
    )
    assert not (out / "coverage_points.csv").exists()
