"""Per-point outputs at I/O speed (issue 16, item 1): the Arrow CSV writer writes the bytes
pandas wrote (BOM, quoting, number formatting, the formula guard), and ``[outputs]`` skips
or reformats the per-point tables without changing any figure."""

from __future__ import annotations

import contextlib
import json
from pathlib import Path

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


def test_an_error_writing_the_per_point_table_fails_the_run(tmp_path, monkeypatch):
    """The per-point table is written by a thread from the moment the coverage is decided;
    its error fails the run with its own message, once nothing else writes, and leaves no
    result folder."""
    from geoplan.errors import OutputError
    from geoplan.workflows.project import DEMO_PROJECT

    write_csv = _io.write_csv

    def failing(frame, path):
        if Path(path).name == "coverage_points.csv":
            raise OutputError("coverage_points.csv: no space left (test)")
        write_csv(frame, path)

    monkeypatch.setattr(_io, "write_csv", failing)
    with pytest.raises(OutputError, match="no space left"):
        run_project(DEMO_PROJECT, tmp_path / "out")
    assert not (tmp_path / "out").exists()
    assert list(tmp_path.iterdir()) == []  # nor its staging folder


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


def _g16_cases() -> np.ndarray:
    """Floats where ``%.16g`` and the shortest digits part: every bit pattern, float32
    values, rounded decimals, neighbours of powers of ten and two, runs of adjacent floats."""
    rng = np.random.default_rng(11)
    n = 20_000
    ten = 10.0 ** np.arange(-10, 20)
    two = 2.0 ** np.arange(-40, 60)
    steps = np.arange(-300, 300)
    decimals_of = rng.uniform(-1e7, 1e7, n).tolist()
    values = np.concatenate(
        [
            rng.integers(0, 2**63, n, dtype=np.uint64).view(np.float64),
            rng.normal(size=n).astype(np.float32).astype(float) * 10.0 ** rng.integers(-6, 18, n),
            [
                round(v, d)
                for v, d in zip(decimals_of, rng.integers(0, 12, n).tolist(), strict=True)
            ],
            ten,
            np.nextafter(ten, np.inf),
            np.nextafter(ten, 0),
            ten * 9.5,
            two,
            np.nextafter(two, 0),
            two * 3,
            8.5 + steps * np.spacing(8.5),
            999.9 + steps * np.spacing(999.9),
            [0.0, -0.0, 5e-324, 1e-4, 9.99e-5, 1e16, 9999999999999998.0, 2.0**53 + 2],
        ]
    )
    values = values[np.isfinite(values)]
    return np.concatenate([values, -values])


def test_xlsx_numbers_are_formatted_as_openpyxl_does():
    """Floats and integers as ``"%.16g"`` (openpyxl's safe_string) writes each one."""
    values = _g16_cases()
    assert _io._g16_float(values).to_pylist() == [format(v, ".16g") for v in values.tolist()]
    ints = np.array([0, -1, 2**53, 2**53 + 1, -(2**53) - 1, -(2**63), 2**63 - 1, 10**16])
    assert _io._g16_int(ints).to_pylist() == [format(v, ".16g") for v in ints.tolist()]
    big = np.array([0, 2**53 + 1, 2**64 - 1], dtype=np.uint64)
    assert _io._g16_int(big).to_pylist() == [format(v, ".16g") for v in big.tolist()]


def test_xlsx_rows_of_every_column_type_are_what_openpyxl_wrote(tmp_path, monkeypatch):
    """float32, extreme integers, text with None/NaN/pd.NA in object, str, string and
    categorical columns: the spliced rows equal openpyxl's, byte for byte."""
    rng = np.random.default_rng(5)
    floats = _g16_cases()[::7]
    m = len(floats)
    text = np.array(["a", None, np.nan, pd.NA, "=x", " y", "z ", "", "&<>"], dtype=object)
    text = text[rng.integers(0, len(text), m)]
    plain = np.where(pd.isna(text), None, text)
    frame = pd.DataFrame(
        {
            "f": floats,
            "f32": np.clip(floats, -3e38, 3e38).astype(np.float32),
            "i": rng.integers(-(2**63), 2**63 - 1, m, dtype=np.int64),
            "u": rng.integers(0, 2**64 - 1, m, dtype=np.uint64, endpoint=True),
            "o": text,
            "str": pd.Series(plain, dtype="str"),
            "string": pd.Series(plain, dtype="string"),
            "c": pd.Categorical(np.array(["a", "b", None], dtype=object)[rng.integers(0, 3, m)]),
        }
    )
    frame.loc[3, "f"] = np.inf
    frame.loc[4, "f"] = -np.inf
    frame.loc[5, "f"] = np.nan
    _io.write_xlsx({"t": frame}, tmp_path / "fast.xlsx")
    monkeypatch.setattr(_io, "_sheet_rows_xml", lambda frame: None)  # openpyxl, cell by cell
    _io.write_xlsx({"t": frame}, tmp_path / "slow.xlsx")
    assert _members(tmp_path / "fast.xlsx") == _members(tmp_path / "slow.xlsx")


def _gpkg_rows(path) -> dict:
    """Every row of every table of a GeoPackage (its R-tree too), but the time it was written."""
    import sqlite3

    with contextlib.closing(sqlite3.connect(path)) as db:
        names = [r[0] for r in db.execute("select name from sqlite_master where type = 'table'")]
        rows = {name: sorted(map(repr, db.execute(f'select * from "{name}"'))) for name in names}
        rows["gpkg_contents"] = [
            repr(r[:4] + r[5:]) for r in db.execute("select * from gpkg_contents")
        ]  # last_change left out
        rows["schema"] = sorted(map(repr, db.execute("select * from sqlite_master")))
    return rows


@pytest.mark.parametrize("case", ["plain", "column of None", "all covered"])
def test_uncovered_points_layer_is_what_to_file_wrote(tmp_path, case):
    """The layer written from WKB built from the coordinates equals the one
    ``GeoDataFrame.to_file`` wrote from shapely points: every row, its R-tree, its types."""
    from types import SimpleNamespace

    from geoplan.workflows.gaps_gpkg import write_uncovered_layer
    from geoplan.workflows.project import _uncovered_layer, _wgs84_points

    rng = np.random.default_rng(3)
    n = 2000
    covered = rng.random(n) < (1.0 if case == "all covered" else 0.4)
    table = pd.DataFrame(
        {
            "demand_id": pd.Series([f"D{i}" for i in range(n)], dtype="str"),
            "population": rng.uniform(0, 100, n),
            "x": rng.uniform(400_000, 450_000, n),
            "y": rng.uniform(3_300_000, 3_350_000, n),
            "r_time_s": np.where(rng.random(n) < 0.1, np.nan, rng.uniform(0, 3000, n)),
            "r_facility_id": pd.Series(np.where(covered, "F1", None), dtype="str"),
            "r_covered": covered,
            "n": rng.integers(0, 9, n),
            "unit_name": np.array(["=甲", "乙", None], dtype=object)[np.arange(n) % 3],
        }
    )
    if case == "column of None":  # a null type to Arrow: pyogrio writes it as text
        table["nothing"] = np.full(n, None, dtype=object)
    coverage = SimpleNamespace(
        table=table,
        rules=[SimpleNamespace(id="r")],
        network=SimpleNamespace(crs="EPSG:32650"),
    )
    write_uncovered_layer(_uncovered_layer(coverage), tmp_path / "fast.gpkg")
    chosen = table[~covered]
    reference = gpd.GeoDataFrame(
        chosen.drop(columns=["x", "y"]),
        geometry=_wgs84_points(chosen["x"].to_numpy(), chosen["y"].to_numpy(), "EPSG:32650"),
        crs=4326,
    )
    reference.to_file(
        tmp_path / "ref.gpkg",
        layer="uncovered_points",
        driver="GPKG",
        engine="pyogrio",
        use_arrow=True,
    )
    assert _gpkg_rows(tmp_path / "fast.gpkg") == _gpkg_rows(tmp_path / "ref.gpkg")
    assert len(gpd.read_file(tmp_path / "fast.gpkg")) == (~covered).sum()


def test_wkb_points_are_shapely_bytes_with_64_bit_offsets():
    """The WKB built from coordinates is shapely's, point for point, and its offsets are
    64-bit: 32-bit ones wrap at 2**31 bytes, i.e. above 102 million points."""
    import pyarrow as pa
    import shapely

    from geoplan.workflows.project import _wkb_points

    x, y = np.array([114.1, -0.0, 1e300]), np.array([30.5, 0.0, -1e-300])
    wkb = _wkb_points(x, y)
    assert wkb.type == pa.large_binary()
    assert wkb.to_pylist() == shapely.to_wkb(shapely.points(x, y), byte_order=1).tolist()
    offsets = np.frombuffer(wkb.buffers()[1], dtype=np.int64)
    assert offsets.tolist() == [0, 21, 42, 63]


def test_xlsx_text_at_the_edges_is_what_openpyxl_wrote(tmp_path, monkeypatch):
    """Every whitespace Python strips, at either end and inside (xml:space), texts to escape
    or neutralise, and the longest text a cell holds, as openpyxl wrote them."""
    import sys

    spaces = [c for c in map(chr, range(sys.maxunicode + 1)) if c.isspace()]
    legal = [c for c in spaces if not _io._XLSX_ILLEGAL.search(c)]
    texts = [f"{c}a" for c in legal] + [f"a{c}" for c in legal] + [f"a{c}b" for c in legal]
    texts += [*legal, "", "a&b", "<x>", "=1", "-1", "+", "@", "中文", "x" * _io.XLSX_MAX_TEXT]
    frame = pd.DataFrame({"t": pd.Series(texts, dtype="str"), "o": np.array(texts, dtype=object)})
    _io.write_xlsx({"t": frame}, tmp_path / "fast.xlsx")
    monkeypatch.setattr(_io, "_sheet_rows_xml", lambda frame: None)  # openpyxl, cell by cell
    _io.write_xlsx({"t": frame}, tmp_path / "slow.xlsx")
    assert _members(tmp_path / "fast.xlsx") == _members(tmp_path / "slow.xlsx")
    monkeypatch.undo()
    for refused in ["a\x1fb", "=" + "x" * (_io.XLSX_MAX_TEXT - 1), "x" * (_io.XLSX_MAX_TEXT + 1)]:
        assert _io._sheet_rows_xml(pd.DataFrame({"t": ["a", refused]})) is None


def test_the_cycle_collector_is_paused_within_a_run_and_restored_after():
    """A run holds back the cycle collector (its geometries are not scanned again and again)
    and gives it back as it found it: enabled, after an error too; left disabled when the
    caller had disabled it."""
    import gc

    from geoplan._gc import collector_paused
    from geoplan.workflows.project import DEMO_PROJECT, compute_project, load_project

    assert gc.isenabled()
    seen = []
    compute_project(load_project(DEMO_PROJECT), on_coverage=lambda _: seen.append(gc.isenabled()))
    assert seen == [False] and gc.isenabled()
    with pytest.raises(RuntimeError), collector_paused():
        with collector_paused():  # nested: the outer block restores it
            assert not gc.isenabled()
        assert not gc.isenabled()
        raise RuntimeError("stop")
    assert gc.isenabled()
    gc.disable()
    try:
        with collector_paused():
            pass
        assert not gc.isenabled()
    finally:
        gc.enable()
