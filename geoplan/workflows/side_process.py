"""Output files of a large run written by a second process, on the machine's other core.

Writing a GeoPackage or a workbook is work that holds the GIL (GDAL's row-by-row inserts,
openpyxl), so a thread cannot overlap it with the run's other outputs and its maps; a second
process can. Once the demand is read, a run of at least :data:`MIN_POINTS` demand points on a
machine with two or more CPUs starts one, which imports the writers while the run computes;
the run then hands it jobs (a function and its arguments) and writes its other files and
draws its maps meanwhile. A smaller run does the jobs itself: a second process costs about a
second of CPU to start and, with its jobs' data, 300–400 MB at its peak in a 200k-point run.
So does a run too large for its per-point tables (above ``[outputs] per_point_max_points``):
there memory is what counts, and the outputs are a small share of the time.

The second process is a fresh ``python`` that imports this module from the run's own
``geoplan`` (:data:`_START`), not a :mod:`multiprocessing` child: those import the caller's
``__main__`` again, which would run a planner's script a second time. Each job is a pickle
in a private temporary folder; the run writes its path on the process's stdin and reads one
line back when the job is done, its :class:`Outcome` (error, warnings, log records, seconds,
peak memory) pickled beside it.

The files are the same either way: the same functions make them from the same arguments. If
the second process cannot start or stops, the run does the unfinished jobs itself (said in
the log); a job's error is raised, and its Python warnings and log records (WARNING and
above) are re-issued, as they would be in the run's own process.
"""

from __future__ import annotations

import contextlib
import contextvars
import itertools
import logging
import os
import pickle
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from .._gc import collector_paused
from ..progress import peak_memory_mb

logger = logging.getLogger(__name__)

__all__ = ["MIN_POINTS", "Outcome", "SideProcess", "in_this_process"]

MIN_POINTS = 100_000
"""Demand points from which a run hands work to a second process."""

_ALLOWED: contextvars.ContextVar[bool] = contextvars.ContextVar("side_process", default=True)


@contextlib.contextmanager
def in_this_process() -> Iterator[None]:
    """Runs within do all their work in their own process: for a batch, whose workers
    already keep every CPU busy with one area each."""
    token = _ALLOWED.set(False)
    try:
        yield
    finally:
        _ALLOWED.reset(token)


_DONE = b"done\n"
_SKIPPED = b"skipped\n"  # the run took the job back before the second process began it
_START = """\
import sys
sys.path.insert(0, sys.argv[1])  # this geoplan, as the run imported it...
from geoplan.workflows import side_process
sys.path.remove(sys.argv[1])  # ...and nothing else from its folder (site-packages, maybe)
side_process._serve()
"""
"""The second process's program (``python -P -c``: the working folder is not on its path);
its argument is the folder that holds the run's ``geoplan`` package."""


@dataclass
class Outcome:
    """What the second process reports of a job."""

    error: BaseException | None
    warnings: list[tuple[type[Warning], Warning, str, int]]  # category, message, file, line
    records: list[tuple[str, int, str]]  # logger name, level, message (WARNING and above)
    seconds: float
    peak_memory_mb: float | None

    def reissue(self) -> None:
        """The job's warnings and log records, here, as if the job had run here."""
        for category, message, filename, lineno in self.warnings:
            warnings.warn_explicit(message, category, filename, lineno)
        for name, level, message in self.records:
            logging.getLogger(name).log(level, "%s", message)


class SideProcess:
    """Does a run's jobs in a second process once :meth:`start_for` started one, else in this
    process. A context manager: leaving it ends the second process (after the jobs it has,
    so that nothing writes into the result folder afterwards) and removes its job files."""

    def __init__(self) -> None:
        self.peak_memory_mb: float | None = None
        """The second process's peak resident memory (MB), once its jobs are done."""
        self.job_seconds: dict[str, float] = {}
        """Seconds the second process took for each job (by function name)."""
        self.taken_back: list[str] = []
        """Jobs (by function name) the run took back and did itself (:meth:`finish`)."""
        self._process: subprocess.Popen | None = None
        self._folder: Path | None = None
        self._sent: list[_Job] = []  # not answered yet
        self._numbers = itertools.count(1)  # of the job files
        self._kept: list[tuple[Callable, tuple]] = []  # for this process

    def __enter__(self) -> SideProcess:
        return self

    def __exit__(self, *exc) -> None:
        if self._process is not None:
            self._stop(wait=bool(self._sent))  # idle: it only has to exit, in its own time
        if self._folder is not None:
            shutil.rmtree(self._folder, ignore_errors=True)

    @property
    def started(self) -> bool:
        """True while a second process takes the jobs."""
        return self._process is not None

    def start_for(self, n_points: int) -> None:
        """Start the second process (it imports the output code) when ``n_points`` demand
        points are worth it; a process that cannot start is logged, and the jobs done here."""
        if n_points < MIN_POINTS or (os.cpu_count() or 1) < 2 or self.started:
            return
        if not _ALLOWED.get():  # within in_this_process()
            return
        if not sys.executable:  # embedded Python: no interpreter to start
            return
        package_root = str(Path(__file__).resolve().parents[2])  # the folder holding geoplan/
        try:
            self._folder = Path(tempfile.mkdtemp(prefix="geoplan-side-"))
            self._process = subprocess.Popen(
                [sys.executable, "-P", "-c", _START, package_root],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
            )
        except OSError as exc:
            logger.info("outputs written in this process: no second process (%s)", exc)
            if self._folder is not None:
                shutil.rmtree(self._folder, ignore_errors=True)
                self._folder = None

    def submit(self, function: Callable, *args, movable: bool = False) -> None:
        """Do ``function(*args)`` (a module-level function): in the second process from now
        on, else here, kept for :meth:`run_kept` (or :meth:`finish`). A ``movable`` job (one
        that needs no earlier job done) is done here by :meth:`finish` if the second process
        has not begun it by then."""
        if not self.started:
            self._kept.append((function, args))
            return
        job = self._folder / f"job{next(self._numbers)}.pickle"
        with open(job, "wb") as file:
            pickle.dump((function, args), file, protocol=pickle.HIGHEST_PROTOCOL)
        self._sent.append(_Job(job, function, args, movable))
        try:
            self._process.stdin.write(os.fsencode(job) + b"\n")
            self._process.stdin.flush()
        except OSError:  # it stopped: finish() finds no answer and does the job here
            pass

    def run_kept(self) -> None:
        """Do here, now, the jobs kept for this process (none while a second one takes them)."""
        kept, self._kept = self._kept, []
        for function, args in kept:
            function(*args)

    def finish(self) -> None:
        """Wait for the second process's jobs and do the rest here; raises a job's error.

        The last jobs sent, if movable and not begun by the second process, are taken back
        and done here meanwhile: this process has nothing else to do by now."""
        if self._sent:
            self._take_back()
            self._collect()
        self.run_kept()

    def _take_back(self) -> None:
        """Claim the movable jobs at the end of the queue that the second process has not
        begun (each job file is renamed by whichever process claims it first), and do them."""
        for sent in reversed(self._sent):
            if not sent.movable or not self.started:
                break
            try:
                os.rename(sent.path, sent.path.with_suffix(".taken"))
            except OSError:  # begun (or done) by the second process
                break
            sent.taken = True
        for sent in self._sent:
            if sent.taken:
                self.taken_back.append(sent.function.__name__)
                sent.function(*sent.args)

    def _collect(self) -> None:
        """The outcome of each job sent, in order; a job without one is done here."""
        while self._sent:
            sent = self._sent.pop(0)
            outcome = self._answer(sent.path) if self.started else None
            if outcome is None and self.started:
                code = self._stop()
                logger.warning("the second process stopped (exit %s): doing its jobs", code)
            if sent.taken:  # done here already (the second process skipped it)
                continue
            if not isinstance(outcome, Outcome):  # none: done here
                sent.function(*sent.args)
                continue
            self.peak_memory_mb = outcome.peak_memory_mb
            self.job_seconds[sent.function.__name__] = round(outcome.seconds, 3)
            outcome.reissue()
            if outcome.error is not None:
                raise outcome.error

    def record(self) -> dict | None:
        """What run.json says of the second process (None when it did no job): its peak
        memory, seconds per job, and the jobs the run took back."""
        if not self.job_seconds and not self.taken_back:
            return None
        return {
            "peak_memory_mb": self.peak_memory_mb,
            "job_seconds": dict(self.job_seconds),
            "taken_back": list(self.taken_back),
        }

    def _answer(self, job: Path) -> Outcome | bytes | None:
        """The next answer of the second process, for ``job``: its outcome, :data:`_SKIPPED`,
        or None if it stopped first (or left no outcome to read)."""
        line = self._process.stdout.readline()
        if line == _SKIPPED:
            return line
        return _outcome(job) if line == _DONE else None

    def _stop(self, *, wait: bool = True) -> int | None:
        """End the second process (the end of its input) and its exit code; without ``wait``
        a thread waits for it, and None is returned."""
        process, self._process = self._process, None
        try:
            process.stdin.close()
        except OSError:
            pass
        if not wait:
            reaper = threading.Thread(target=_reap, args=(process,), name="geoplan-side")
            reaper.daemon = True
            reaper.start()
            return None
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()
        return _reap(process)


@dataclass
class _Job:
    """A job sent to the second process: its file, what it does, and whether the run may
    take it back (:meth:`SideProcess.finish`) and did."""

    path: Path
    function: Callable
    args: tuple
    movable: bool = False
    taken: bool = False


def _reap(process: subprocess.Popen) -> int:
    """Wait for ``process`` to end, close its pipes; its exit code."""
    with process:  # closes stdin and stdout, then waits
        pass
    return process.returncode


def _outcome(job: Path) -> Outcome | None:
    """The :class:`Outcome` of a job the second process did; None when it has none to read."""
    try:
        return pickle.loads(job.with_suffix(".result").read_bytes())
    except Exception as exc:  # e.g. an error that does not unpickle: the job is done here
        logger.warning("no readable outcome of %s (%s)", job.name, exc)
        return None


def _serve() -> None:
    """The second process: import the writers, then do each job named on stdin."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C stops the run, which ends this
    answers = sys.stdout.buffer
    sys.stdout = sys.stderr  # nothing but the answers on the pipe
    import openpyxl  # noqa: F401
    import pyogrio  # noqa: F401

    from . import gaps_gpkg  # noqa: F401  (the jobs' module; not the whole run's code)

    for line in sys.stdin.buffer:
        job = Path(os.fsdecode(line.rstrip(b"\n")))
        begun = job.with_suffix(".begun")
        try:  # claimed here, unless the run took it back first (SideProcess._take_back)
            os.rename(job, begun)
        except OSError:
            answers.write(_SKIPPED)
        else:
            job.with_suffix(".result").write_bytes(_do(begun))
            answers.write(_DONE)
        answers.flush()


def _do(job: Path) -> bytes:
    """In the second process: do ``job``; its pickled :class:`Outcome` (empty when its error
    does not pickle: the run then does the job itself, and raises the error)."""
    records: list[tuple[str, int, str]] = []
    handler = _Records(records)
    logging.getLogger().addHandler(handler)
    start = time.perf_counter()
    error: BaseException | None = None
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")  # the run's own filters decide when reissued
        try:
            with collector_paused():  # a layer's geometries, not scanned for cycles each time
                function, args = pickle.loads(job.read_bytes())
                function(*args)
        except Exception as exc:
            error = exc
    logging.getLogger().removeHandler(handler)
    said = [(w.category, w.message, w.filename, w.lineno) for w in caught]
    outcome = Outcome(error, said, records, time.perf_counter() - start, peak_memory_mb())
    try:
        return pickle.dumps(outcome)
    except Exception:
        return b""


class _Records(logging.Handler):
    """Collects the log records of WARNING and above as (logger, level, message)."""

    def __init__(self, into: list[tuple[str, int, str]]) -> None:
        super().__init__(logging.WARNING)
        self.into = into

    def emit(self, record: logging.LogRecord) -> None:
        self.into.append((record.name, record.levelno, record.getMessage()))
