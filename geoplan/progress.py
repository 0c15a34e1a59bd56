"""Progress of a long command: wall time of each stage, with an optional bar on stderr."""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["Stages"]

logger = logging.getLogger(__name__)


class Stages:
    """Wall time and peak memory of each stage, with an optional progress bar on stderr."""

    def __init__(self, names: tuple[str, ...], *, progress: bool = False) -> None:
        self.timings_s: dict[str, float] = {}
        self._bar = None
        if progress:
            from tqdm import tqdm

            self._bar = tqdm(total=len(names), desc="geoplan", unit="stage", file=sys.stderr)

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        """Time one stage and advance the bar."""
        if self._bar is not None:
            self._bar.set_postfix_str(name)
        start = time.perf_counter()
        yield
        self.timings_s[name] = round(time.perf_counter() - start, 4)
        logger.info("stage %s done in %.2f s", name, self.timings_s[name])
        if self._bar is not None:
            self._bar.update(1)

    def close(self) -> None:
        """Finish the progress bar."""
        if self._bar is not None:
            self._bar.close()
