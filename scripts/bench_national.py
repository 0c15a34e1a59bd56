"""Benchmark: a simulated national run — many synthetic counties cut from the Wuhan network.

Run: ``.venv/bin/python scripts/bench_national.py`` (``--counties``, ``--workers``,
``--cell-m``, ``--keep``).

National inputs, in a temporary folder:

* **network**: the real Wuhan FUA streets (shared data, GeoParquet of lines, 55 × 45 km), used
  as the national road layer (each county's lines are cut out of it);
* **population**: a SYNTHETIC count raster over the same extent (``--cell-m`` cells, 100 m by
  default, EPSG:32650): each cell crossed by a street holds a seeded random 1–300 residents,
  the others are nodata (residents live along streets, as in GHS-POP; a uniform raster would
  be refused by the run's overlap check);
* **registry**: ``--facilities`` SYNTHETIC medical and fitness facilities on random streets
  (a CSV with ``编号,名称,类型,经度,纬度``);
* **counties**: a grid of ``--counties`` rectangles tiling the extent (GeoJSON with codes);
* the template: walk 15 min to medical, walk 15 min to fitness, e-bike 15 min to medical.

It runs :func:`geoplan.workflows.national.run_national` on a ``LocalCluster`` of
``--workers`` processes (one thread each) and prints the measured throughput (counties per
minute of wall time, the median county, the cut's and the run's share), the parallel
efficiency (sum of county times / (wall × workers)), and the extrapolation to China's 2,898
county-level units on this machine and on 32 workers, recomputed from the measurement.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from _bench import FITNESS_TYPES, MEDICAL_TYPES, WUHAN, inputs_and_rules
from pyproj import Transformer

from geoplan._paths import shared_path

CHINA_COUNTIES = 2898

TEMPLATE = """\
# National template written by scripts/bench_national.py: a real road layer (Wuhan FUA, OSM)
# with a SYNTHETIC population raster and SYNTHETIC facilities.
[project]
area = "全国（基准测试）"
area_en = "National benchmark (synthetic)"
hypothetical_facilities = true

[network]
path = "{network}"
walk_speed_m_per_min = 70
""" + inputs_and_rules("ebike")


def write_inputs(folder: Path, n_counties: int, n_facilities: int, cell_m: float, seed: int):
    """The national template, raster, registry and county grid; returns (template, grid)."""
    import rasterio
    from rasterio.features import rasterize
    from rasterio.transform import from_origin

    network = shared_path(WUHAN)
    edges = gpd.read_parquet(network)
    crs = edges.crs
    rng = np.random.default_rng(seed)
    x0, y0, x1, y1 = edges.total_bounds
    width, height = math.ceil((x1 - x0) / cell_m), math.ceil((y1 - y0) / cell_m)
    transform = from_origin(x0, y1, cell_m, cell_m)
    streets = rasterize(edges.geometry.values, out_shape=(height, width), transform=transform)
    counts = np.where(streets > 0, rng.integers(1, 301, (height, width)), -1).astype("float32")
    raster = folder / "population_synthetic.tif"
    with rasterio.open(
        raster,
        "w",
        driver="GTiff",
        width=width,
        height=height,
        count=1,
        dtype="float32",
        crs=crs,
        transform=transform,
        nodata=-1,
        compress="deflate",
    ) as out:
        out.write(counts, 1)

    lines = np.asarray(edges.geometry.values)[rng.integers(0, len(edges), n_facilities)]
    points = shapely.line_interpolate_point(lines, rng.uniform(0, 1, n_facilities), normalized=True)
    lon, lat = Transformer.from_crs(crs, 4326, always_xy=True).transform(
        shapely.get_x(points), shapely.get_y(points)
    )
    medical = rng.random(n_facilities) < 0.5
    kinds = np.where(
        medical, rng.choice(MEDICAL_TYPES, n_facilities), rng.choice(FITNESS_TYPES, n_facilities)
    )
    registry = folder / "registry_synthetic.csv"
    pd.DataFrame(
        {
            "编号": [f"F{i:05d}" for i in range(n_facilities)],
            "名称": [f"合成设施{i}（{k}）" for i, k in enumerate(kinds)],
            "类型": kinds,
            "经度": np.round(lon, 6),
            "纬度": np.round(lat, 6),
        }
    ).to_csv(registry, index=False, encoding="utf-8-sig")

    cols = max(1, round(math.sqrt(n_counties * (x1 - x0) / (y1 - y0))))
    rows = math.ceil(n_counties / cols)
    dx, dy = (x1 - x0) / cols, (y1 - y0) / rows
    boxes = [
        shapely.box(x0 + i * dx, y0 + j * dy, x0 + (i + 1) * dx, y0 + (j + 1) * dy)
        for j in range(rows)
        for i in range(cols)
    ][:n_counties]
    grid = gpd.GeoDataFrame(
        {
            "code": [f"{990000 + k:06d}" for k in range(len(boxes))],
            "name": [f"合成县{k + 1}" for k in range(len(boxes))],
        },
        geometry=boxes,
        crs=crs,
    ).to_crs(4326)
    grid_path = folder / "counties_synthetic.geojson"
    grid.to_file(grid_path, driver="GeoJSON")
    template = folder / "national_bench.toml"
    template.write_text(
        TEMPLATE.format(network=network, demand=raster, facilities=registry), encoding="utf-8"
    )
    return template, grid_path, (width * height, int((counts > 0).sum()), dx, dy)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--counties", type=int, default=24)
    parser.add_argument("--workers", type=int, default=min(2, os.cpu_count() or 1))
    parser.add_argument("--facilities", type=int, default=600)
    parser.add_argument("--cell-m", type=float, default=100.0)
    parser.add_argument("--seed", type=int, default=20261207)
    parser.add_argument("--keep", type=Path, help="write inputs and outputs here and keep them")
    args = parser.parse_args()

    from geoplan.workflows.national import counties_from, run_national

    with tempfile.TemporaryDirectory(prefix="geoplan-national-") as tmp:
        folder = args.keep or Path(tmp)
        folder.mkdir(parents=True, exist_ok=True)
        os.environ.setdefault("GEOPLAN_CACHE", str(folder / "cache"))
        start = time.perf_counter()
        template, grid, (cells, populated, dx, dy) = write_inputs(
            folder, args.counties, args.facilities, args.cell_m, args.seed
        )
        print(
            f"inputs: Wuhan FUA streets; synthetic raster {cells:,} cells of {args.cell_m:.0f} m "
            f"({populated:,} populated); {args.facilities} synthetic facilities; "
            f"{args.counties} counties of {dx / 1000:.1f} × {dy / 1000:.1f} km "
            f"({time.perf_counter() - start:.1f} s to write)"
        )
        counties = counties_from("all", boundaries=grid, name_column="name", code_column="code")
        out = folder / "national"
        load = os.getloadavg()[0]
        start = time.perf_counter()
        table = run_national(
            template, counties, out, n_workers=args.workers, processes=True, overwrite=True
        )
        wall = time.perf_counter() - start
        records = json.loads((out / "national_summary.json").read_text(encoding="utf-8"))
        done = [r for r in records["counties"] if r["status"] == "ok"]
        seconds = [r["seconds"] for r in records["counties"] if r.get("seconds")]
        run_s, points, stages = [], [], {}
        for r in done:
            run = json.loads((out / "counties" / r["slug"] / "run.json").read_text("utf-8"))
            run_s.append(sum(run["stage_timings_s"].values()))
            for name, value in run["stage_timings_s"].items():
                stages.setdefault(name, []).append(value)
            points.append(r["summary"].get("demand_points") or 0)
        status = table.drop_duplicates("slug")["status"].value_counts().to_dict()
        median = statistics.median(seconds)
        median_run = statistics.median(run_s) if run_s else float("nan")
        efficiency = sum(seconds) / (wall * args.workers)
        per_minute = len(seconds) / wall * 60
        print(f"status: {status}")
        print(
            f"wall {wall:.1f} s for {len(seconds)} counties on {args.workers} worker process(es), "
            f"load average before {load:.1f}: {per_minute:.1f} counties/minute"
        )
        print(
            f"per county: median {median:.2f} s (min {min(seconds):.2f}, max {max(seconds):.2f}), "
            f"of which the run's stages {median_run:.2f} s and cutting/writing the inputs "
            f"{median - median_run:.2f} s; median demand points "
            f"{statistics.median(points) if points else 0:,.0f}"
        )
        print(
            "median stage seconds: "
            + ", ".join(f"{k} {statistics.median(v):.2f}" for k, v in stages.items())
        )
        print(f"parallel efficiency e = sum(county s) / (wall × workers) = {efficiency:.2f}")
        here = CHINA_COUNTIES / per_minute
        on32 = CHINA_COUNTIES * median / (32 * efficiency) / 60
        print(
            f"extrapolation to {CHINA_COUNTIES:,} counties of this size: on this machine "
            f"({args.workers} workers) {here:.0f} min = {here / 60:.1f} h; on 32 workers at the "
            f"same per-county time and efficiency {on32:.1f} min"
        )
        if args.keep is None:
            print("(inputs and outputs removed; --keep DIR keeps them)", file=sys.stderr)


if __name__ == "__main__":
    main()
