"""Benchmark: the computation's stages of one project, wall and CPU seconds and peak memory.

Run: ``.venv/bin/python scripts/bench_stages.py PROJECT.toml [--repeats N]`` — e.g. the
project ``scripts/bench_run.py`` writes for its synthetic Wuhan inputs. Each run is
``compute_project`` (load, check, snap+engine, coverage, gaps; nothing written) in a fresh
child process; per stage it prints the wall seconds, the CPU seconds of the process (on a
machine shared with other work, CPU seconds compare two versions better than wall seconds)
and the process's peak resident memory when the stage ends.

To compare with another commit, run its copy of this package on the same inputs, alternating:
``git archive <commit> | tar -x -C /tmp/base`` and ``PYTHONPATH=/tmp/base
GEOPLAN_SHARED_DATA=../shared/data .venv/bin/python scripts/bench_stages.py PROJECT.toml``.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys

from _bench import watch_stages

OWN = ("snap+engine", "coverage", "gaps")
"""The stages summed in the last column (the engine's part of the computation)."""


def child(project: str) -> None:
    """One ``compute_project`` here; prints per stage (wall s, CPU s, peak MB) as JSON."""
    from geoplan.workflows.project import compute_project, load_project

    out = watch_stages()
    compute_project(load_project(project))
    print(json.dumps(out))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("project", help="a project file (.toml)")
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.project)
        return
    for _ in range(args.repeats):
        cmd = [sys.executable, __file__, "--child", args.project]
        done = subprocess.run(cmd, capture_output=True, text=True, check=True)
        stages = json.loads(done.stdout.strip().splitlines()[-1])
        with open("/proc/loadavg", encoding="ascii") as f:
            load = f.read().split()[0]
        row = "  ".join(
            f"{k} {w:.2f} s ({c:.2f} CPU) {m:,.0f} MB" for k, (w, c, m) in stages.items()
        )
        own = [stages[k] for k in OWN if k in stages]
        print(
            f"load average {load}: {row}  | {' + '.join(OWN)}: {sum(w for w, _, _ in own):.2f} s "
            f"({sum(c for _, c, _ in own):.2f} CPU)"
        )


if __name__ == "__main__":
    main()
