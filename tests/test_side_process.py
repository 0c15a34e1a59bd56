"""The second process that writes a large run's gaps.gpkg and gaps.xlsx
(:mod:`geoplan.workflows.side_process`): the same files as the run's own process, its errors
raised in the run, its jobs done by the run when it stops, and a planner's script run once."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pyogrio
import pytest
from test_fast_outputs import _gpkg_rows

from geoplan.workflows import side_process
from geoplan.workflows.project import DEMO_PROJECT, run_project
from geoplan.workflows.side_process import SideProcess, in_this_process


@pytest.fixture
def two_cpus(monkeypatch):
    """A second process starts only with two CPUs or more: as on CI, whatever this machine has."""
    monkeypatch.setattr(os, "cpu_count", lambda: 2)


@pytest.fixture
def any_size(monkeypatch):
    """Every run is large enough for a second process (the demo's 1,500 points too)."""
    monkeypatch.setattr(side_process, "MIN_POINTS", 0)


@pytest.fixture
def source(tmp_path):
    path = tmp_path / "source.txt"
    path.write_text("甲乙丙, a file to copy\n", encoding="utf-8")
    return path


def _ended(pid: int, within_s: float = 20.0) -> bool:
    """True once the process ``pid`` is gone (reaped), polling up to ``within_s``."""
    if sys.platform == "win32":  # os.kill(pid, 0) would end it there
        pytest.skip("no signal 0 on Windows to ask whether a process is gone")
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.05)
    return False


def test_below_the_size_the_jobs_are_done_here_when_asked(tmp_path, source, two_cpus, monkeypatch):
    monkeypatch.setattr(side_process, "MIN_POINTS", 10)
    copy = tmp_path / "copy.txt"
    with SideProcess() as side:
        side.start_for(9)
        assert not side.started
        side.submit(shutil.copyfile, source, copy)
        assert not copy.exists()  # kept for this process
        side.run_kept()
        assert copy.read_bytes() == source.read_bytes()
        copy.unlink()
        side.finish()  # nothing kept any more
        assert not copy.exists()
    assert side.peak_memory_mb is None


def test_jobs_done_by_the_second_process(tmp_path, source, two_cpus, monkeypatch):
    monkeypatch.setattr(side_process, "MIN_POINTS", 10)
    copy = tmp_path / "copy.txt"
    with SideProcess() as side:
        side.start_for(10)
        assert side.started
        pid, folder = side._process.pid, side._folder
        side.submit(shutil.copyfile, source, copy)
        side.run_kept()  # nothing kept: the job is the second process's
        side.finish()
        assert copy.read_bytes() == source.read_bytes()
    assert side.peak_memory_mb > 10  # MB: a Python process that imported the writers
    assert not folder.exists()  # its job files are removed
    assert _ended(pid)


def test_movable_jobs_not_begun_are_done_by_the_run(tmp_path, source, two_cpus, any_size):
    """When the run has nothing left but to wait, it takes back the movable jobs at the end of
    the queue that the second process has not begun, and does them itself; a job that is not
    movable, or already begun, stays the second process's."""
    with SideProcess() as side:
        side.start_for(1)
        side.submit(time.sleep, 1.0)  # busy (and first importing) when the run finishes
        side.submit(shutil.copyfile, source, tmp_path / "theirs.txt")  # not movable
        side.submit(shutil.copy, source, tmp_path / "ours.txt", movable=True)
        side.finish()
        assert set(side.record()["job_seconds"]) == {"sleep", "copyfile"}  # not "copy"
        assert side.record()["taken_back"] == ["copy"]
    for name in ("theirs.txt", "ours.txt"):
        assert (tmp_path / name).read_bytes() == source.read_bytes(), name

    with SideProcess() as side:
        side.start_for(1)
        side.submit(shutil.copy, source, tmp_path / "begun.txt", movable=True)
        deadline = time.monotonic() + 60
        while not list(side._folder.glob("*.result")) and time.monotonic() < deadline:
            time.sleep(0.02)  # done by the second process before the run finishes
        side.finish()
        assert set(side.record()["job_seconds"]) == {"copy"}
        assert side.record()["taken_back"] == []
    assert (tmp_path / "begun.txt").read_bytes() == source.read_bytes()


def test_a_movable_job_done_by_the_run_raises_its_error(tmp_path, two_cpus, any_size):
    with SideProcess() as side:
        side.start_for(1)
        pid = side._process.pid
        side.submit(time.sleep, 1.0)
        side.submit(shutil.copy, tmp_path / "missing.txt", tmp_path / "c.txt", movable=True)
        with pytest.raises(FileNotFoundError, match=r"missing\.txt"):
            side.finish()
    assert _ended(pid)  # leaving waited for the second process's job, then ended it


def test_a_job_error_is_raised_in_the_run(tmp_path, two_cpus, any_size):
    with SideProcess() as side:
        side.start_for(1)
        pid = side._process.pid
        side.submit(shutil.copyfile, tmp_path / "missing.txt", tmp_path / "copy.txt")
        with pytest.raises(FileNotFoundError, match=r"missing\.txt"):
            side.finish()
    assert _ended(pid)


def test_jobs_of_a_stopped_second_process_are_done_here(
    tmp_path, source, two_cpus, any_size, caplog
):
    copies = [tmp_path / "before.txt", tmp_path / "after.txt"]
    with SideProcess() as side:
        side.start_for(1)
        side.submit(shutil.copyfile, source, tmp_path / "first.txt")
        side._process.kill()
        side._process.wait()
        for copy in copies:  # sent after it stopped: its stdin is a broken pipe
            side.submit(shutil.copyfile, source, copy)
        with caplog.at_level("WARNING", logger="geoplan.workflows.side_process"):
            side.finish()
        assert not side.started
    assert "the second process stopped" in caplog.text
    for copy in [tmp_path / "first.txt", *copies]:
        assert copy.read_bytes() == source.read_bytes(), copy.name


def test_a_run_writes_the_same_files_with_a_second_process(tmp_path, demo_dir, two_cpus, any_size):
    """The demo run with gaps.gpkg and gaps.xlsx written by a second process: every row of
    every GeoPackage table, every cell of the workbook and every other table as the run's
    own process wrote them (``demo_dir``)."""
    out = tmp_path / "side"
    run_project(DEMO_PROJECT, out)
    record = json.loads((out / "run.json").read_text(encoding="utf-8"))["side_process"]
    assert record["peak_memory_mb"] > 10
    # each job done once: by the second process, or taken back by the run when not begun
    assert not set(record["job_seconds"]) & set(record["taken_back"])
    assert set(record["job_seconds"]) | set(record["taken_back"]) == {
        "write_uncovered_layer",
        "write_gaps_gpkg",
        "write_xlsx",
    }
    assert "write_uncovered_layer" in record["job_seconds"]  # not movable
    own = json.loads((demo_dir / "run.json").read_text(encoding="utf-8"))
    assert own["side_process"] is None  # the demo is below the size
    assert _gpkg_rows(out / "gaps.gpkg") == _gpkg_rows(demo_dir / "gaps.gpkg")
    for sheet in ("gaps", "coverage_by_unit"):
        pd.testing.assert_frame_equal(
            pd.read_excel(out / "gaps.xlsx", sheet_name=sheet),
            pd.read_excel(demo_dir / "gaps.xlsx", sheet_name=sheet),
        )
    for name in ("coverage_points.csv", "gaps.csv", "coverage_by_unit.csv", "summary.json"):
        assert (out / name).read_bytes() == (demo_dir / name).read_bytes(), name
    # gaps.gpkg, begun with its uncovered layer, left nothing behind (demo_dir is shared: other
    # tests add reports to it)
    written = {p.name for p in out.iterdir()}
    assert not [name for name in written if name.startswith(".")]
    assert written <= {p.name for p in demo_dir.iterdir()}
    assert pyogrio.list_layers(out / "gaps.gpkg")[:, 0].tolist() == ["gaps", "uncovered_points"]


def test_a_script_without_a_main_guard_runs_once(tmp_path):
    """The second process is not a multiprocessing child: it does not run the caller's
    ``__main__`` again (a planner's script with no ``if __name__ == "__main__"``)."""
    if (os.cpu_count() or 1) < 2:
        pytest.skip("one CPU: a run starts no second process")
    out = tmp_path / "out"
    script = tmp_path / "plan.py"
    script.write_text(
        "from geoplan.workflows import side_process\n"
        "from geoplan.workflows.project import DEMO_PROJECT, run_project\n"
        "side_process.MIN_POINTS = 0\n"
        "print('script ran')\n"
        f"run_project(DEMO_PROJECT, {str(out)!r})\n",
        encoding="utf-8",
    )
    done = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, timeout=300, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.count("script ran") == 1
    record = json.loads((out / "run.json").read_text(encoding="utf-8"))
    assert record["side_process"]["peak_memory_mb"] > 10


def test_batch_workers_do_all_their_work_in_their_own_process(two_cpus, any_size):
    with in_this_process(), SideProcess() as side:
        side.start_for(10**6)
        assert not side.started
    with SideProcess() as side:  # outside it again: a second process
        side.start_for(1)
        assert side.started


def test_a_failing_run_waits_for_the_second_process(tmp_path, monkeypatch, two_cpus, any_size):
    """The run fails after handing gaps.gpkg over: the second process has finished writing
    before the result folder is cleaned up, and the error is the run's."""
    from geoplan.workflows import project

    started: list[SideProcess] = []
    start_for = SideProcess.start_for

    def watched(self, n_points):
        start_for(self, n_points)
        started.append(self)

    def broken(result):
        raise RuntimeError("facilities_used.csv could not be built")

    monkeypatch.setattr(SideProcess, "start_for", watched)
    monkeypatch.setattr(project, "facilities_used_table", broken)
    out = tmp_path / "out"
    with pytest.raises(RuntimeError, match="could not be built"):
        run_project(DEMO_PROJECT, out)
    (side,) = started
    assert not side.started and side._sent  # stopped, with its job unanswered
    assert not out.exists()
    assert not list(tmp_path.iterdir())  # no staging folder or stray file left


def test_warnings_and_log_records_of_a_job_reach_the_run(two_cpus, any_size, caplog):
    """As if the job had run here: its warning goes through the run's filters (here
    pytest's), its log record to the run's handlers, at their level and logger."""
    import logging
    import warnings

    with SideProcess() as side:
        side.start_for(1)
        side.submit(warnings.warn, "a warning from the second process", UserWarning)
        side.submit(logging.getLogger("geoplan.side-test").warning, "a %s record", "forwarded")
        side.submit(logging.getLogger("geoplan.side-test").info, "below WARNING: not sent")
        with (
            pytest.warns(UserWarning, match="a warning from the second process"),
            caplog.at_level("INFO", logger="geoplan.side-test"),
        ):
            side.finish()
        assert set(side.record()["job_seconds"]) == {"warn", "warning", "info"}
    sent = [(r.name, r.levelname, r.getMessage()) for r in caplog.records]
    assert sent == [("geoplan.side-test", "WARNING", "a forwarded record")]


@pytest.mark.parametrize(
    ("outputs", "second_process"),
    [
        ('per_point = "never"', True),  # no per-point table: gaps.gpkg's gaps layer, gaps.xlsx
        ('per_point_format = "parquet"', True),
        ("per_point_max_points = 100", False),  # skipped for their size: memory counts most
    ],
)
def test_which_runs_start_a_second_process(
    demo_project, tmp_path, two_cpus, any_size, outputs, second_process
):
    out = tmp_path / "out"
    run_project(demo_project(append=f"\n[outputs]\n{outputs}\n"), out)
    record = json.loads((out / "run.json").read_text(encoding="utf-8"))["side_process"]
    if second_process:
        done = set(record["job_seconds"]) | set(record["taken_back"])  # each once, either way
        assert done == {"write_gaps_gpkg", "write_xlsx"}
        assert len(record["job_seconds"]) + len(record["taken_back"]) == 2
    else:
        assert record is None


def test_the_second_process_imports_the_runs_own_geoplan(tmp_path):
    """A run that imported geoplan from a folder of its own (not the installed one): the
    second process imports that same copy, not whatever its working folder or the
    interpreter's path would give it."""
    copy = tmp_path / "elsewhere"
    shutil.copytree(
        Path(side_process.__file__).parents[1],
        copy / "geoplan",
        ignore=shutil.ignore_patterns("__pycache__"),
    )
    seen = tmp_path / "seen.txt"
    reveal = tmp_path / "reveal.py"
    reveal.write_text(
        f"import geoplan, pathlib\npathlib.Path({str(seen)!r}).write_text(geoplan.__file__)\n"
    )
    script = tmp_path / "run.py"
    script.write_text(
        "import os, runpy, sys\n"
        f"sys.path.insert(0, {str(copy)!r})\n"
        "from geoplan.workflows import side_process\n"
        "os.cpu_count = lambda: 2\n"
        "side_process.MIN_POINTS = 0\n"
        "with side_process.SideProcess() as side:\n"
        "    side.start_for(1)\n"
        "    assert side.started\n"
        f"    side.submit(runpy.run_path, {str(reveal)!r})\n"
        "    side.finish()\n"
        "import geoplan\n"
        "print(geoplan.__file__)\n",
        encoding="utf-8",
    )
    done = subprocess.run(
        [sys.executable, str(script)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd=Path(side_process.__file__).parents[2],  # the repository: another geoplan here
    )
    assert done.returncode == 0, done.stderr
    own = done.stdout.strip()
    assert own.startswith(str(copy))
    assert seen.read_text() == own
