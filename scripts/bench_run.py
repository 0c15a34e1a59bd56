"""Benchmark: a whole ``geoplan run`` on the real Wuhan network with a million demand points.

Run: ``.venv/bin/python scripts/bench_run.py`` (``--points`` one or more sizes, default 200,000
and 1,000,000; ``--facilities``, ``--repeats``).

The network is real (the Wuhan FUA streets, 82,902 nodes). The demand and the facilities are
**synthetic placements on that real network**: ``--points`` seeded uniform points in the
network's bounding box with a random population (1–200 persons each), written to a temporary
GeoParquet, and ``--facilities`` records of random medical and fitness categories placed on
random streets (within 30 m of one), written as a temporary CSV with Chinese headers
(``编号,名称,类型,经度,纬度``, WGS84). A temporary project file has three rules: walk 15 min
to medical, walk 15 min to fitness, drive 15 min to medical.

Each run is ``geoplan.workflows.project.run_project`` in a fresh child process, so that its peak
memory (``run.json``'s ``peak_memory_mb``, the process's maximum resident set) is its own. A
run of 100,000 points or more writes gaps.gpkg and gaps.xlsx in a second process
(:mod:`geoplan.workflows.side_process`): its peak (``run.json``'s ``side_process``) is the
``side MB`` column, and the memory a run is held to is the sum of both peaks (an upper bound:
the two need not peak at once).
geoplan's modules are compiled to bytecode first, as ``make`` and a regular pip install do.
The first run starts from an empty network cache (``GEOPLAN_CACHE`` in the temporary folder),
the others reuse it. ``--profile`` adds the ten most expensive functions of one warm run.

Side by side in the same invocation, for each size: **the computation alone**
(``compute_project``: load, check, snap+engine, coverage, gaps, sensitivity; nothing written)
in its own child process, and **the run end to end** (``run_project``: the same plus every
output file and the maps), each warm; the difference is the outputs' time, and the ratio
outputs / computation is what issue 16 bounds (at most 1×; end to end at most 10 s and
1.5 GB with 1M points, 4 s with 200k).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from _bench import FITNESS_TYPES, MEDICAL_TYPES, WUHAN, inputs_and_rules, watch_stages
from pyproj import Transformer

from geoplan._paths import shared_path
from geoplan.progress import peak_memory_mb
from geoplan.workflows.project import STAGES  # the run's stages, in order

TARGET_S = 10.0
TARGET_MB = 1536.0
TARGETS_S = {200_000: 4.0, 1_000_000: 10.0}
"""Issue 16: seconds end to end by demand points (1.5 GB at 1M points)."""

PROJECT = """\
# Benchmark project written by scripts/bench_run.py: a real network (Wuhan FUA, OSM) with
# SYNTHETIC demand points and facilities placed at random on it.
[project]
area = "武汉（基准测试，合成需求与设施）"
area_en = "Wuhan FUA benchmark (synthetic demand and facilities on the real network)"
notes_zh = ["需求点与设施为随机合成，仅用于性能测试。"]
notes_en = ["Demand points and facilities are random synthetic placements, for timing only."]
hypothetical_facilities = true

[network]
path = "{network}"
walk_speed_m_per_min = 70
""" + inputs_and_rules("drive")


def write_inputs(
    folder: Path, n_points: int, n_facilities: int, seed: int, outputs: str = ""
) -> Path:
    """Synthetic demand (GeoParquet) and facilities (CSV) on the real network; the TOML."""
    network_path = shared_path(WUHAN)
    edges = gpd.read_parquet(network_path)
    crs = edges.crs
    rng = np.random.default_rng(seed)
    x0, y0, x1, y1 = edges.total_bounds
    demand = gpd.GeoDataFrame(
        {
            "demand_id": [f"d{i}" for i in range(n_points)],
            "population": rng.integers(1, 201, n_points).astype(float),
        },
        geometry=shapely.points(rng.uniform(x0, x1, n_points), rng.uniform(y0, y1, n_points)),
        crs=crs,
    )
    demand_path = folder / "demand_synthetic.parquet"
    demand.to_parquet(demand_path)

    lines = np.asarray(edges.geometry.values)[rng.integers(0, len(edges), n_facilities)]
    on_line = shapely.line_interpolate_point(
        lines, rng.uniform(0, 1, n_facilities), normalized=True
    )
    angle = rng.uniform(0, 2 * np.pi, n_facilities)
    offset = rng.uniform(0, 30, n_facilities)
    fx = shapely.get_x(on_line) + offset * np.cos(angle)
    fy = shapely.get_y(on_line) + offset * np.sin(angle)
    lon, lat = Transformer.from_crs(crs, 4326, always_xy=True).transform(fx, fy)
    medical = rng.random(n_facilities) < 0.5
    kinds = np.where(
        medical,
        rng.choice(MEDICAL_TYPES, n_facilities),
        rng.choice(FITNESS_TYPES, n_facilities),
    )
    facilities = pd.DataFrame(
        {
            "编号": [f"F{i:04d}" for i in range(n_facilities)],
            "名称": [f"合成设施{i}（{k}）" for i, k in enumerate(kinds)],
            "类型": kinds,
            "经度": np.round(lon, 6),
            "纬度": np.round(lat, 6),
        }
    )
    facility_path = folder / "facilities_synthetic.csv"
    facilities.to_csv(facility_path, index=False, encoding="utf-8-sig")
    project_path = folder / "wuhan_bench.toml"
    project_path.write_text(
        PROJECT.format(network=network_path, demand=demand_path, facilities=facility_path)
        + (f"\n[outputs]\n{outputs}\n" if outputs else ""),
        encoding="utf-8",
    )
    return project_path


def child(project: str, out: str, profile: bool) -> None:
    """One run in this process; prints wall seconds and per-stage peaks as JSON (last line)."""
    from geoplan.workflows.project import run_project

    stages = watch_stages()
    start = time.perf_counter()
    if profile:
        import cProfile
        import pstats

        profiler = cProfile.Profile()
        profiler.enable()
        run_project(project, out, overwrite=True)
        profiler.disable()
        stats = pstats.Stats(profiler, stream=sys.stderr).sort_stats("tottime")
        stats.print_stats(12)
        stats.sort_stats("cumulative").print_stats(40)
    else:
        run_project(project, out, overwrite=True)
    wall_s = time.perf_counter() - start
    peak_after_mb = {name: peak for name, (_, _, peak) in stages.items()}  # when each ends
    print(json.dumps({"wall_s": wall_s, "peak_after_mb": peak_after_mb}))


def child_compute(project: str) -> None:
    """The computation alone in this process (nothing written); wall seconds and peak MB."""
    from geoplan.workflows.project import compute_project, load_project

    start = time.perf_counter()
    loaded = load_project(project)
    compute_project(loaded, sensitivity=True)
    print(json.dumps({"wall_s": time.perf_counter() - start, "peak_mb": peak_memory_mb()}))


def run_compute_child(project: Path, env: dict) -> dict:
    """Seconds and peak MB of the computation alone, in a fresh child process."""
    cmd = [sys.executable, __file__, "--child-compute", str(project)]
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"child computation failed:\n{done.stderr}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def run_child(project: Path, out: Path, env: dict, *, profile: bool = False) -> dict:
    cmd = [sys.executable, __file__, "--child", str(project), str(out)]
    if profile:
        cmd.append("--profile")
    start = time.perf_counter()
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
    process_s = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"child run failed:\n{done.stderr}")
    if profile:
        print(done.stderr)
    record = json.loads((out / "run.json").read_text(encoding="utf-8"))
    reported = json.loads(done.stdout.strip().splitlines()[-1])
    wall = reported["wall_s"]
    return {
        "peak_after_mb": reported["peak_after_mb"],
        "stages": record["stage_timings_s"],
        "peak_mb": record["peak_memory_mb"],
        "side_mb": (record.get("side_process") or {}).get("peak_memory_mb", 0.0),
        "wall_s": wall,
        "process_s": process_s,
        "summary": json.loads((out / "summary.json").read_text(encoding="utf-8")),
        "sizes_mb": {p.name: p.stat().st_size / 1e6 for p in sorted(out.iterdir()) if p.is_file()},
    }


def run_batch_copies(project: Path, folder: Path, copies: int, workers: int, env: dict) -> float:
    """Seconds for ``copies`` areas (the same project) through ``run_batch`` in a child."""
    batch_dir = folder / "batch"
    batch_dir.mkdir(exist_ok=True)
    text = project.read_text(encoding="utf-8")
    for i in range(copies):
        (batch_dir / f"area{i:02d}.toml").write_text(
            text.replace('area_en = "Wuhan FUA benchmark', f'area_en = "Copy {i} of the Wuhan'),
            encoding="utf-8",
        )
    code = (
        "import sys, time; from geoplan.workflows.batch import run_batch; t = time.perf_counter(); "
        "run_batch(sys.argv[1], sys.argv[2], n_workers=int(sys.argv[3]), overwrite=True); "
        "print(time.perf_counter() - t)"
    )
    cmd = [sys.executable, "-c", code, str(batch_dir), str(folder / "out_batch"), str(workers)]
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"batch run failed:\n{done.stderr}")
    return float(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, nargs="+", default=[200_000, 1_000_000])
    parser.add_argument("--facilities", type=int, default=300)
    parser.add_argument("--repeats", type=int, default=2, help="warm runs after the cold one")
    parser.add_argument("--seed", type=int, default=20261124)
    parser.add_argument("--profile", action="store_true", help="cProfile one more warm run")
    parser.add_argument("--keep", type=Path, help="write inputs and outputs here and keep them")
    parser.add_argument(
        "--batch",
        type=int,
        default=0,
        metavar="N",
        help="also run N copies of the project with geoplan.workflows.batch.run_batch (throughput)",
    )
    parser.add_argument("--workers", type=int, default=os.cpu_count(), help="for --batch")
    parser.add_argument(
        "--per-point",
        choices=("auto", "always", "never"),
        help="[outputs] per_point of the project",
    )
    parser.add_argument(
        "--per-point-format", choices=("csv", "parquet"), help="[outputs] per_point_format"
    )
    parser.add_argument("--child", nargs=2, metavar=("PROJECT", "OUT"), help=argparse.SUPPRESS)
    parser.add_argument("--child-compute", metavar="PROJECT", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(*args.child, profile=args.profile)
        return
    if args.child_compute:
        child_compute(args.child_compute)
        return

    compile_geoplan()
    folder = args.keep or Path(tempfile.mkdtemp(prefix="geoplan_bench_run_"))
    folder.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "GEOPLAN_CACHE": str(folder / "cache")}
    side_by_side = []
    try:
        for n_points in args.points:
            side_by_side.append(
                (n_points, bench_size(args, folder / f"points_{n_points}", n_points, env))
            )
    finally:  # inputs, outputs and a cache of ~0.6 GB each time: kept only with --keep
        if args.keep is None:
            shutil.rmtree(folder, ignore_errors=True)
    print(
        f"\nComputation alone (compute_project, nothing written) vs the run end to end "
        f"(run_project, every output), warm medians of {args.repeats} each, fresh processes; "
        f"{os.cpu_count()} CPUs; load average {os.getloadavg()[0]:.1f}\n"
    )
    print(
        f"{'points':>10s}{'compute s':>11s}{'end to end s':>14s}{'outputs s':>11s}"
        f"{'outputs/compute':>17s}{'compute MB':>12s}{'e2e MB':>9s}{'target s':>10s}  met"
    )
    for n_points, row in side_by_side:
        target = TARGETS_S.get(n_points)
        met = "—" if target is None else ("yes" if row["e2e_s"] <= target else "NO")
        if n_points == 1_000_000 and target is not None:
            met += f", {'yes' if row['e2e_mb'] <= TARGET_MB else 'NO'} ≤ {TARGET_MB / 1024:.1f} GB"
        print(
            f"{n_points:>10,}{row['compute_s']:>11.2f}{row['e2e_s']:>14.2f}"
            f"{row['e2e_s'] - row['compute_s']:>11.2f}"
            f"{(row['e2e_s'] - row['compute_s']) / row['compute_s']:>16.2f}×"
            f"{row['compute_mb']:>12.0f}{row['e2e_mb']:>9.0f}"
            f"{'' if target is None else f'{target:.0f}':>10s}  {met}"
        )


def compile_geoplan() -> None:
    """geoplan's modules compiled to bytecode, as ``make`` (and pip, for a regular install)
    does: with PYTHONDONTWRITEBYTECODE set, every child would otherwise compile them again and
    time it (about 0.3 s per process)."""
    import compileall

    import geoplan

    compileall.compile_dir(Path(geoplan.__file__).parent, quiet=1)


def bench_size(args, folder: Path, n_points: int, env: dict) -> dict:
    """Cold run, then ``repeats`` × (computation alone, run end to end); the per-stage table."""
    folder.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    outputs = "\n".join(
        f'{key} = "{value}"'
        for key, value in (
            ("per_point", args.per_point),
            ("per_point_format", args.per_point_format),
        )
        if value
    )
    project = write_inputs(folder, n_points, args.facilities, args.seed, outputs)
    print(
        f"\n== {n_points:,} points: inputs written in {time.perf_counter() - start:.1f} s "
        f"to {folder}"
    )
    runs = [("cold cache", run_child(project, folder / "out_cold", env))]
    computes = []
    for i in range(args.repeats):
        computes.append(run_compute_child(project, env))
        runs.append((f"warm #{i + 1}", run_child(project, folder / f"out_warm{i + 1}", env)))
    if args.profile:
        run_child(project, folder / "out_profile", env, profile=True)

    batch_s = None
    if args.batch:
        batch_s = run_batch_copies(project, folder, args.batch, args.workers, env)
    summary = runs[-1][1]["summary"]
    print(
        f"\nWuhan FUA network (real, 82,902 nodes) with {n_points:,} synthetic demand points "
        f"and {args.facilities} synthetic facilities ({summary['facilities']['used']} used); "
        f"{os.cpu_count()} CPUs; load average {os.getloadavg()[0]:.1f}\n"
    )
    header = f"{'run':12s}" + "".join(f"{s:>12s}" for s in STAGES)
    print(header + f"{'total':>10s}{'process':>10s}{'peak MB':>10s}{'side MB':>10s}")
    for name, run in runs:
        cells = "".join(f"{run['stages'].get(s, float('nan')):12.2f}" for s in STAGES)
        print(
            f"{name:12s}{cells}{run['wall_s']:10.2f}{run['process_s']:10.2f}"
            f"{run['peak_mb']:10.0f}{run['side_mb']:10.0f}"
        )
    warm = [run for name, run in runs[1:]] or [runs[0][1]]
    median = {s: statistics.median(r["stages"].get(s, np.nan) for r in warm) for s in STAGES}
    total = statistics.median(r["wall_s"] for r in warm)
    peak = max(r["peak_mb"] + r["side_mb"] for r in warm)  # both processes' peaks, summed
    cells = "".join(f"{median[s]:12.2f}" for s in STAGES)
    print(f"{'warm median':12s}{cells}{total:10.2f}{'':10s}{peak:10.0f}   (peak + side MB)")
    after = runs[-1][1]["peak_after_mb"]
    cells = "".join(f"{after.get(s, float('nan')):12.0f}" for s in STAGES)
    print(f"{'peak MB by':12s}{cells}   (process peak when the stage ends, last run)")
    print(
        "\nshare of the warm median total: "
        + ", ".join(f"{s} {median[s] / total:.0%}" for s in STAGES)
    )
    print("outputs (MB): " + ", ".join(f"{k} {v:.1f}" for k, v in runs[-1][1]["sizes_mb"].items()))
    plan = summary.get("per_point_outputs", {})
    if plan:
        print(
            f"per-point tables: {'written' if plan['written'] else 'NOT written'} "
            f"({plan['per_point']}, {plan['points']:,} points, max {plan['max_points']:,}, "
            f"{plan['format']})"
        )
    for rule in summary["rules"]:
        print(f"  {rule['id']}: {rule['share_covered']:.1%} of the population covered")
    if batch_s is not None:
        print(
            f"\nbatch: {args.batch} copies with run_batch on {args.workers} workers in "
            f"{batch_s:.1f} s = {batch_s / args.batch:.1f} s per area "
            f"({total * args.batch / batch_s:.2f}× the throughput of one run at a time, "
            f"{total:.1f} s each)"
        )
    return {
        "compute_s": statistics.median(c["wall_s"] for c in computes) if computes else np.nan,
        "compute_mb": max((c["peak_mb"] for c in computes), default=np.nan),
        "e2e_s": total,
        "e2e_mb": peak,
    }


if __name__ == "__main__":
    main()
