"""Python's cycle collector held back while a run makes its geometries."""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Iterator

__all__ = ["collector_paused"]


@contextlib.contextmanager
def collector_paused() -> Iterator[None]:
    """No automatic collection of reference cycles within the block.

    shapely's geometries are objects the cycle collector tracks, and a run makes hundreds of
    thousands of them (demand points, street lines, gap cells): each burst of them starts a
    full collection that scans them all while holding the GIL (seven of 40–50 ms in a
    200k-point run). Reference counting frees what a run makes as before; the cycles it leaves
    are collected after the block, as usual. Within a block, or with the collector disabled by
    the caller, the block changes nothing.
    """
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()
