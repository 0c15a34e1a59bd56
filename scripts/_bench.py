"""What the benchmark scripts share: the timing helper, peak memory and the Wuhan network.

Imported as a sibling module (``python scripts/bench_*.py`` puts ``scripts/`` on the path).
"""

from __future__ import annotations

import resource
import statistics
import time

WUHAN = "osm/wuhan_fua_osm_streets.parquet"
"""The real Wuhan FUA street network (shared data), the benchmarks' city-scale graph."""


def timed(fn, repeats: int):
    """Median seconds of ``repeats`` calls and the last result."""
    seconds = []
    result = None
    for _ in range(repeats):
        start = time.perf_counter()
        result = fn()
        seconds.append(time.perf_counter() - start)
    return statistics.median(seconds), result


def peak_mb() -> float:
    """Peak resident memory of this process so far (MB; Linux reports KB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
