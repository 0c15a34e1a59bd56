"""What the benchmark scripts share: the timing helpers, peak memory and the Wuhan network.

Imported as a sibling module (``python scripts/bench_*.py`` puts ``scripts/`` on the path).
"""

from __future__ import annotations

import statistics
import time
from contextlib import contextmanager

from geoplan.progress import peak_memory_mb

WUHAN = "osm/wuhan_fua_osm_streets.parquet"
"""The real Wuhan FUA street network (shared data), the benchmarks' city-scale graph."""

MEDICAL_TYPES = ("社区卫生服务中心", "社区卫生服务站", "综合医院", "诊所", "村卫生室")
FITNESS_TYPES = ("全民健身中心", "健身广场", "健身路径", "体育馆", "社区多功能运动场")
"""Facility types the synthetic facilities are drawn from (as a 卫健委 list writes them)."""

_VEHICLE_RULE = {
    "drive": ("15分钟车程可达医疗卫生机构", "Medical facility within a 15-minute drive"),
    "ebike": (
        "15分钟电动自行车可达医疗卫生机构",
        "Medical facility within a 15-minute e-bike ride",
    ),
}


def inputs_and_rules(vehicle: str) -> str:
    """The project-file tables after ``[network]`` shared by the benchmark projects:
    ``[demand]``, ``[facilities]`` and ``[gaps]`` (``{demand}``/``{facilities}`` left to
    format) and three rules — medical and fitness within a 15-minute walk, medical within 15
    minutes by ``vehicle``."""
    name_zh, name_en = _VEHICLE_RULE[vehicle]
    return f"""
[demand]
path = "{{demand}}"

[facilities]
path = "{{facilities}}"
crs = "wgs84"
max_snap_m = 500

[gaps]
cell_m = 500

[[rules]]
id = "medical_walk_15"
name_zh = "15分钟步行可达医疗卫生机构"
name_en = "Medical facility within a 15-minute walk"
categories = ["medical"]
mode = "walk"
threshold_min = 15

[[rules]]
id = "fitness_walk_15"
name_zh = "15分钟健身圈（步行）"
name_en = "Fitness venue within a 15-minute walk"
categories = ["fitness"]
mode = "walk"
threshold_min = 15

[[rules]]
id = "medical_{vehicle}_15"
name_zh = "{name_zh}"
name_en = "{name_en}"
categories = ["medical"]
mode = "{vehicle}"
threshold_min = 15
"""


def timed(fn, repeats: int):
    """Median seconds of ``repeats`` calls and the last result."""
    seconds = []
    result = None
    for _ in range(repeats):
        start = time.perf_counter()
        result = fn()
        seconds.append(time.perf_counter() - start)
    return statistics.median(seconds), result


def watch_stages() -> dict[str, tuple[float, float, float]]:
    """Per stage of the geoplan runs of this process from now on (``Stages.stage`` wrapped),
    filled as each stage ends: wall seconds, CPU seconds of the process, and the process's
    peak resident memory (MB) when it ends."""
    from geoplan.progress import Stages

    out: dict[str, tuple[float, float, float]] = {}
    original = Stages.stage

    @contextmanager
    def stage(self, name):
        wall, cpu = time.perf_counter(), time.process_time()
        with original(self, name):
            yield
        out[name] = (time.perf_counter() - wall, time.process_time() - cpu, peak_memory_mb())

    Stages.stage = stage
    return out
