"""Bounded work: every expansion is estimated and refused above a limit the user can raise.

The defects of issue 11: ``[demand] spacing_m = 0.001`` was killed by the kernel at 22.7 GB, a
983 KB XLSX whose rows touch column XFD took 7.5 GB, and 1M facility rows gave 390 MB maps.
The refusals are asserted to happen *before* the expansion: the numpy that the expanding
module sees refuses any ``repeat``/``arange`` longer than a bound, so a test of the old code
fails on that guard instead of allocating gigabytes.
"""

from __future__ import annotations

import json
import math
import tracemalloc

import numpy as np
import pytest

from geoplan._paths import shipped_path
from geoplan.cli import main
from geoplan.errors import GeoplanError
from geoplan.workflows.project import compute_project, load_project, run_project


class _GuardedNumpy:
    """numpy, except that ``repeat`` and ``arange`` longer than ``bound`` items fail."""

    def __init__(self, bound: int) -> None:
        self._bound = bound

    def __getattr__(self, name):
        return getattr(np, name)

    def _check(self, n: float) -> None:
        if n > self._bound:
            raise AssertionError(f"an expansion to {n:,.0f} items was attempted")

    def repeat(self, a, repeats, *args, **kwargs):
        total = np.sum(repeats) if np.ndim(repeats) else float(repeats) * np.size(a)
        self._check(float(total))
        return np.repeat(a, repeats, *args, **kwargs)

    def arange(self, *args, **kwargs):
        start, stop, step = (0, args[0], 1) if len(args) == 1 else (*args, 1)[:3]
        self._check(max(0.0, math.ceil((float(stop) - float(start)) / float(step))))
        return np.arange(*args, **kwargs)


def _limit_message(exc: BaseException, name: str) -> str:
    message = str(exc)
    assert f"[limits] {name}" in message, message
    assert f"GEOPLAN_LIMIT_{name.upper()}" in message, message
    assert "\n" not in message
    return message


# --------------------------------------------------------------------------- demand points


def test_tiny_line_spacing_is_refused_before_the_points_are_made(monkeypatch):
    from geoplan.readers import demand

    # the defect: spacing_m = 0.001 on the demo's streets (a project file now refuses values
    # below 1 m; the reader itself must still bound what it makes)
    monkeypatch.setattr(demand, "np", _GuardedNumpy(10_000_000))
    with pytest.raises(GeoplanError) as caught:
        demand.demand_from_graphml_edges(
            shipped_path("osm/huangshi_tuanchengshan_drive_ghspop_2024.graphml.gz"),
            spacing_m=0.001,
        )
    message = _limit_message(caught.value, "demand_points")
    assert "spacing_m" in message
    assert "2,000,000" in message  # the default


def test_line_spacing_in_a_project_is_bounded_by_its_limit(demo_project, monkeypatch, capsys):
    from geoplan.readers import demand

    # 1 m spreads the demo's cells into about 118,000 points: above a limit of 100,000
    monkeypatch.setattr(demand, "np", _GuardedNumpy(100_000))
    path = demo_project(
        replace={"spacing_m = 50": "spacing_m = 1"}, append="\n[limits]\ndemand_points = 100000\n"
    )
    with pytest.raises(GeoplanError) as caught:
        compute_project(load_project(path))
    message = _limit_message(caught.value, "demand_points")
    assert "spacing_m" in message and "limit of 100,000" in message
    assert main(["-q", "run", str(path), "--out", str(path.parent / "out")]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("geoplan: error:") and "\n" not in err
    assert "demand_points" in err
    assert not (path.parent / "out" / "summary.json").exists()


def test_demand_point_limit_comes_from_the_project_then_the_environment(demo_project, monkeypatch):
    from geoplan.limits import DEFAULTS, Limits

    # the demo spreads its cells into 2,745 points
    low = demo_project("low.toml", append="\n[limits]\ndemand_points = 2000\n")
    with pytest.raises(GeoplanError) as caught:
        compute_project(load_project(low))
    assert "2,745" in _limit_message(caught.value, "demand_points")

    monkeypatch.setenv("GEOPLAN_LIMIT_DEMAND_POINTS", "2000")
    assert Limits.resolve().demand_points == 2000
    assert load_project(demo_project()).limits.demand_points == 2000
    high = demo_project("high.toml", append="\n[limits]\ndemand_points = 3000\n")
    assert load_project(high).limits.demand_points == 3000  # the project wins
    assert load_project(high).limits.raster_cells == DEFAULTS["raster_cells"]
    monkeypatch.setenv("GEOPLAN_LIMIT_DEMAND_POINTS", "many")
    with pytest.raises(GeoplanError, match="GEOPLAN_LIMIT_DEMAND_POINTS"):
        Limits.resolve()


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ("demand_points = 0", "demand_points: must be a whole number"),
        ("demand_points = 1.5", "demand_points: must be a whole number"),
        ('demand_points = "lots"', "demand_points: must be a whole number"),
        ("demand_pionts = 5", "did you mean `demand_points`"),  # unknown key
    ],
)
def test_limits_table_errors_name_the_key(demo_project, table, message):
    path = demo_project(append=f"\n[limits]\n{table}\n")
    with pytest.raises(GeoplanError, match=message):
        load_project(path)


def test_raster_window_is_bounded_before_it_is_read(monkeypatch, shared_file):
    from geoplan.readers.demand import demand_from_raster

    path = shared_file("population/worldpop_hkg_pd_2020_1km.tif")  # 74 × 50 cells
    monkeypatch.setenv("GEOPLAN_LIMIT_RASTER_CELLS", "1000")
    with pytest.raises(GeoplanError) as caught:
        demand_from_raster(path)
    assert "3,700" in _limit_message(caught.value, "raster_cells")
    monkeypatch.setenv("GEOPLAN_LIMIT_RASTER_CELLS", "5000")
    assert len(demand_from_raster(path)) > 0


def test_populated_raster_cells_count_as_demand_points(monkeypatch, shared_file):
    from geoplan.readers.demand import demand_from_raster

    path = shared_file("population/worldpop_hkg_pd_2020_1km.tif")
    monkeypatch.setenv("GEOPLAN_LIMIT_DEMAND_POINTS", "100")
    with pytest.raises(GeoplanError) as caught:
        demand_from_raster(path)
    _limit_message(caught.value, "demand_points")


# --------------------------------------------------------------------------- spreadsheets


def _xlsx_touching_xfd(path, rows: int) -> None:
    """A facility table whose every row also holds a styled empty cell in column XFD."""
    from openpyxl import Workbook
    from openpyxl.styles import Font

    book = Workbook()
    sheet = book.active
    sheet.append(["编号", "名称", "类型", "经度", "纬度"])
    bold = Font(bold=True)
    for i in range(rows):
        sheet.append([f"F{i}", f"示例诊所{i}（假设）", "诊所", 115.01 + i * 1e-4, 30.2])
        sheet.cell(row=i + 2, column=16384).font = bold
    book.save(path)


def test_xlsx_rows_touching_column_xfd_are_read_within_their_table(tmp_path):
    from geoplan.readers.facilities import read_facilities

    path = tmp_path / "xfd.xlsx"
    _xlsx_touching_xfd(path, 120)
    tracemalloc.start()
    try:
        table = read_facilities(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert len(table.used) == 120
    # 120 rows × 16,384 columns would be 2M cells (the old reader: ~40 MB here, 7.5 GB for
    # the 200k-row file); the table is 120 × 5
    assert peak < 10e6, f"peak {peak / 1e6:.1f} MB"


def test_xlsx_used_range_above_the_limit_is_refused(tmp_path, monkeypatch, capsys):
    from geoplan.readers.facilities import read_facilities

    path = tmp_path / "xfd.xlsx"
    _xlsx_touching_xfd(path, 120)
    monkeypatch.setenv("GEOPLAN_LIMIT_XLSX_CELLS", "300")
    with pytest.raises(GeoplanError) as caught:
        read_facilities(path)
    assert "xfd.xlsx" in _limit_message(caught.value, "xlsx_cells")
    code = main(["-q", "check-facilities", str(path), "--out", str(tmp_path / "qa")])
    err = capsys.readouterr().err.strip()
    assert code == 1 and err.startswith("geoplan: error:") and "\n" not in err


def test_xlsx_demand_and_candidate_tables_are_bounded_too(tmp_path, monkeypatch):
    from openpyxl import Workbook
    from openpyxl.styles import Font

    from geoplan.readers.demand import demand_from_points
    from geoplan.workflows.sites import read_candidates

    book = Workbook()
    sheet = book.active
    sheet.append(["id", "lon", "lat", "人口"])
    for i in range(50):
        sheet.append([f"P{i}", 115.01 + i * 1e-4, 30.2, 100])
        sheet.cell(row=i + 2, column=16384).font = Font(bold=True)
    path = tmp_path / "points.xlsx"
    book.save(path)
    assert demand_from_points(path)["population"].sum() == 5000
    assert len(read_candidates(path)) == 50
    monkeypatch.setenv("GEOPLAN_LIMIT_XLSX_CELLS", "100")
    for reader in (demand_from_points, read_candidates):
        with pytest.raises(GeoplanError) as caught:
            reader(path)
        _limit_message(caught.value, "xlsx_cells")


# --------------------------------------------------------------------------- grids, matrices


def test_site_grid_is_estimated_before_it_is_built(demo_project, monkeypatch):
    from geoplan.workflows import sites

    run = compute_project(load_project(demo_project()))
    rule = run.project.rules[0]
    monkeypatch.setattr(sites, "np", _GuardedNumpy(10_000_000))
    with pytest.raises(GeoplanError) as caught:
        sites.grid_candidates(run, rule, spacing_m=1e-6)
    _limit_message(caught.value, "grid_cells")


def test_travel_time_table_pairs_are_bounded(demo_project, tmp_path, capsys):
    path = demo_project(append="\n[limits]\nmatrix_pairs = 1000\n")
    args = ["sites", str(path), "--rule", "medical_walk_15", "--grid", "500", "--p", "1"]
    assert main(["-q", *args, "--out", str(tmp_path / "sites")]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("geoplan: error:") and "\n" not in err
    assert "[limits] matrix_pairs" in err and "GEOPLAN_LIMIT_MATRIX_PAIRS" in err


# --------------------------------------------------------------------------- maps


def test_map_aggregates_facilities_above_its_limit_and_says_so(demo_project, tmp_path, caplog):
    # 10 facilities of 7 categories: the 4 stations must share markers
    path = demo_project(append="\n[limits]\nmap_facilities = 8\n")
    out = tmp_path / "out"
    result = run_project(path, out)
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    assert summary["facilities"]["used"] == 10  # the computation uses every facility
    notes = [w for w in summary["warnings"] if w["check"] == "map_aggregated"]
    assert notes and "10 facilities" in notes[0]["message_en"] and "8" in notes[0]["message_en"]
    assert any("map_facilities" in r.getMessage() for r in caplog.records)
    html = (out / "map.html").read_text(encoding="utf-8")
    assert notes[0]["message_zh"] in html  # said on the map, in its language
    assert (out / "map_en.html").read_text(encoding="utf-8").count(notes[0]["message_en"]) == 1
    assert 7 <= _facility_rows(html) <= 8
    assert len(result.facilities) == 10


def _facility_rows(html: str) -> int:
    """Markers passed to ``gpFacilities`` in a coverage map."""
    import re

    total = 0
    for match in re.finditer(r"gpFacilities\(parent, (\[.*?\]), \{", html):
        total += len(json.loads(match.group(1)))
    return total


def test_map_aggregates_uncovered_residents_above_its_limit(demo_project, tmp_path):
    from geoplan.analysis.coverage import column
    from geoplan.rendering.run_maps import map_demand

    path = demo_project(append="\n[limits]\nmap_points = 300\n")
    result = compute_project(load_project(path))
    shown, note = map_demand(result.coverage, result.project.limits)
    points = result.coverage.table
    for rule in result.project.rules:
        rows = shown[~shown[f"{rule.id}_covered"]]
        assert 0 < len(rows) <= 300
        uncovered = points.loc[~points[column(rule.id, "covered")], "population"].sum()
        assert rows["population"].sum() == pytest.approx(uncovered)  # totals kept
    assert note is not None and "300" in note[1]
