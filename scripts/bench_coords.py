"""Time the vectorised GCJ-02 / BD-09 conversions on one million points against prcoords' loop.

python scripts/bench_coords.py [--points 1000000] [--repeats 3]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import prcoords

from geoplan import coords


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--points", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    rng = np.random.default_rng(6)
    lon, lat = rng.uniform(73.0, 135.0, args.points), rng.uniform(18.0, 53.0, args.points)
    loop_n = min(args.points, 20_000)
    start = time.perf_counter()
    for x, y in zip(lon[:loop_n], lat[:loop_n], strict=True):
        prcoords.wgs_gcj((y, x))
    loop_s = (time.perf_counter() - start) * args.points / loop_n
    print(f"prcoords loop (scalar, extrapolated from {loop_n:,}): {loop_s:.2f} s")
    for name in ("wgs84_to_gcj02", "gcj02_to_wgs84", "wgs84_to_bd09", "bd09_to_wgs84"):
        func = getattr(coords, name)
        best = min(_timed(func, lon, lat) for _ in range(args.repeats))
        print(f"{name}: {args.points:,} points in {best:.3f} s ({loop_s / best:,.0f}x the loop)")


def _timed(func, lon, lat) -> float:
    start = time.perf_counter()
    func(lon, lat)
    return time.perf_counter() - start


if __name__ == "__main__":
    main()
