"""Runs and fetches in the background: one thread per job, one job at a time per project.

A run is ``geoplan run project.toml --out runs/<id>``
(:func:`geoplan.workflows.project.run_project`, whose stage callback drives the progress
bar) followed by ``geoplan report`` in Chinese and English
(:func:`geoplan.rendering.report.write_reports`). A second run of a project while one is
going on is refused; the pages refuse changes to a running project too, so a run never reads
a half-edited project. A fetch (``geoplan fetch`` into the project's ``inputs/``, which
rewrites ``project.toml``: :func:`geoplan.app.sources.fetch_into`) is such a job too: no run,
no second fetch and no change on the pages while it goes on.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import GeoplanError
from ..workflows.project import STAGES, run_project
from .projects import AppError, ProjectFolder
from .text import UI

__all__ = ["RUN_STAGES", "FetchState", "RunState", "Runner"]

logger = logging.getLogger(__name__)

RUN_STAGES = (
    *STAGES[: STAGES.index("gaps") + 1],
    "sensitivity",
    *STAGES[STAGES.index("gaps") + 1 :],
    "report",
)
"""The stages a run may report: the pipeline's (``sensitivity`` when the project asks for
it), then the reports."""


@dataclass
class RunState:
    """What the progress bar shows: the stage, how many are done, how it ended."""

    slug: str
    run_id: str
    stage: str = "start"
    done: int = 0
    total: int = len(STAGES) + 1  # until the run says how many (sensitivity adds one)
    status: str = "running"  # running, finished, failed
    error: str = ""
    started: float = field(default_factory=time.time)
    notes: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        """JSON for the page's progress bar."""
        return {
            "run_id": self.run_id,
            "stage": self.stage,
            "done": self.done,
            "total": self.total,
            "status": self.status,
            "error": self.error,
            "seconds": round(time.time() - self.started, 1),
        }


@dataclass
class FetchState:
    """A fetch's progress: the fraction done and the fetcher's own (bilingual) message."""

    slug: str
    fraction: float = 0.0
    message: str = ""
    status: str = "running"  # running, finished, failed
    error: str = ""
    started: float = field(default_factory=time.time)
    notes: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        """JSON for the page's progress bar (the run's fields: ``done`` of ``total`` = 100)."""
        return {
            "done": round(100 * self.fraction),
            "total": 100,
            "stage_label": self.message,
            "status": self.status,
            "error": self.error,
            "notes": list(self.notes),
            "seconds": round(time.time() - self.started, 1),
        }


_BUSY = (
    "该项目正在运行或获取数据，请等待其完成。",
    "A run or fetch of this project is going on; wait until it finishes.",
)


class Runner:
    """Starts runs and keeps their state; refuses a second run of the same project.

    ``pdf`` is :func:`~geoplan.rendering.report.write_reports`' choice of a PDF beside each
    report (None: when a browser is found)."""

    def __init__(self, *, pdf: bool | None = None) -> None:
        self.pdf = pdf  # the reports' PDF: None when Chromium is found (write_reports)
        self._lock = threading.Lock()
        self._states: dict[str, RunState] = {}
        self._fetches: dict[str, FetchState] = {}
        self._threads: dict[str, threading.Thread] = {}

    def busy(self, slug: str) -> bool:
        """Whether a run or a fetch of ``slug`` is going on."""
        with self._lock:
            return self._busy(slug)

    def _busy(self, slug: str) -> bool:
        jobs = (self._states.get(slug), self._fetches.get(slug))
        return any(job is not None and job.status == "running" for job in jobs)

    def fetch_state(self, slug: str) -> FetchState | None:
        """The latest fetch of ``slug`` started by this server (None: none)."""
        with self._lock:
            return self._fetches.get(slug)

    def start_fetch(self, project: ProjectFolder, work: Callable[[Any], Any]) -> FetchState:
        """Run ``work(progress)`` (:func:`geoplan.app.sources.fetch_into`'s job) in a thread.

        Raises
        ------
        AppError
            A run or fetch of this project is going on.
        """
        with self._lock:
            if self._busy(project.slug):
                raise AppError(*_BUSY)
            state = FetchState(project.slug)
            self._fetches[project.slug] = state
            thread = self._thread(project.slug, "fetch", self._fetch, (project, work, state))
        thread.start()
        return state

    def _thread(self, slug: str, kind: str, target: Callable, args: tuple) -> threading.Thread:
        """The project's one worker thread (a run or a fetch), registered under the lock."""
        thread = threading.Thread(
            target=target, args=args, name=f"geoplan-{kind}-{slug}", daemon=True
        )
        self._threads[slug] = thread
        return thread

    def _fetch(self, project: ProjectFolder, work: Callable, state: FetchState) -> None:
        def progress(fraction: float | None, message: str) -> None:
            with self._lock:
                if fraction is not None:
                    state.fraction = max(0.0, min(1.0, fraction))
                state.message = message

        try:
            result = work(progress)
            with self._lock:
                state.notes = list(result.notes)
                state.fraction, state.status = 1.0, "finished"
        except GeoplanError as exc:  # a user error: said on the page, as the CLI says it
            with self._lock:
                state.status, state.error = "failed", str(exc)
        except Exception as exc:  # a bug (or a library's own error): logged, said in words
            logger.exception("fetch for %s failed", project.slug)
            with self._lock:
                state.status, state.error = "failed", f"{type(exc).__name__}: {exc}"

    def state(self, slug: str) -> RunState | None:
        """The latest run of ``slug`` started by this server (None: none)."""
        with self._lock:
            return self._states.get(slug)

    def start(self, project: ProjectFolder) -> RunState:
        """Start a run of ``project`` in a thread.

        Raises
        ------
        AppError
            A run of this project is already going on.
        """
        with self._lock:
            current = self._states.get(project.slug)
            if current is not None and current.status == "running":
                raise AppError(*UI["run_busy"])
            if self._busy(project.slug):
                raise AppError(*_BUSY)
            out = project.new_run_dir()
            state = RunState(project.slug, out.name)
            self._states[project.slug] = state
            thread = self._thread(project.slug, "run", self._run, (project, out, state))
        thread.start()
        return state

    def wait(self, slug: str, timeout: float | None = None) -> None:
        """Wait for the run or fetch of ``slug`` to end (tests, shutdown)."""
        thread = self._threads.get(slug)
        if thread is not None:
            thread.join(timeout)

    def _run(self, project: ProjectFolder, out: Path, state: RunState) -> None:
        from ..rendering.report import write_reports

        def on_stage(name: str, done: int, total: int) -> None:
            with self._lock:  # total: the project's stages (with sensitivity when asked), +report
                state.stage, state.done, state.total = name or "report", done, total + 1

        try:
            run_project(project.toml, out, command="run", on_stage=on_stage)
            for lang in ("zh", "en"):
                written = write_reports(out, lang=lang, pdf=self.pdf)
                state.notes += list(written.notes)
            with self._lock:
                state.stage, state.done, state.status = "", state.total, "finished"
        except GeoplanError as exc:  # a user error: said on the page, as the CLI says it
            with self._lock:
                state.status, state.error = "failed", str(exc)
        except Exception as exc:  # a bug: logged with its traceback, said on the page
            logger.exception("run of %s failed", project.slug)
            with self._lock:
                state.status, state.error = "failed", f"{type(exc).__name__}: {exc}"
