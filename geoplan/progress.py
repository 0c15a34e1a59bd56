"""Progress of a long command: wall time of each stage, with an optional bar on stderr and an
optional callback (the local app's progress bar)."""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

__all__ = ["StageCallback", "Stages", "peak_memory_mb"]

logger = logging.getLogger(__name__)

StageCallback = Callable[[str, int, int], None]
"""``on_stage(name, done, total)``: called as each stage starts (``done`` stages finished of
``total``) and once more when the last one ends (``name`` = ``""``, ``done == total``)."""


class Stages:
    """Wall time and peak memory of each stage, with an optional progress bar on stderr and an
    optional ``on_stage`` callback (:data:`StageCallback`)."""

    def __init__(
        self,
        names: tuple[str, ...],
        *,
        progress: bool = False,
        on_stage: StageCallback | None = None,
    ) -> None:
        self.timings_s: dict[str, float] = {}
        self._bar = None
        self._names = names
        self._on_stage = on_stage
        if progress:
            from tqdm import tqdm

            self._bar = tqdm(total=len(names), desc="geoplan", unit="stage", file=sys.stderr)

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        """Time one stage and advance the bar."""
        if self._bar is not None:
            self._bar.set_postfix_str(name)
        if self._on_stage is not None:
            self._on_stage(name, len(self.timings_s), len(self._names))
        start = time.perf_counter()
        yield
        self.timings_s[name] = round(time.perf_counter() - start, 4)
        logger.info("stage %s done in %.2f s", name, self.timings_s[name])
        if self._bar is not None:
            self._bar.update(1)
        if self._on_stage is not None and len(self.timings_s) == len(self._names):
            self._on_stage("", len(self._names), len(self._names))

    def close(self) -> None:
        """Finish the progress bar."""
        if self._bar is not None:
            self._bar.close()


def peak_memory_mb() -> float | None:
    """This process's peak resident memory (MB); None where the OS does not say (Windows)."""
    try:
        import resource
    except ImportError:
        return None
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
