"""Bounded work on large inputs: many facility rows, and a spreadsheet whose rows reach XFD.

Usage::

    python scripts/bench_inputs.py facilities --rows 100000   # the demo with N facilities
    python scripts/bench_inputs.py xlsx --rows 200000         # read N rows touching XFD

``facilities`` writes N facility records at random points of the 团城山 streets (half clinics,
half fitness squares), runs the demo project with them and prints the run time, the peak
memory and the size of the maps (which aggregate above ``[limits] map_facilities``).
``xlsx`` writes a workbook whose every row also holds a styled empty cell in column XFD and
reads it with :func:`geoplan.readers.facilities.read_facilities`. Everything is written to a
temporary folder.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np

from geoplan.progress import peak_memory_mb


def facilities(rows: int, folder: Path) -> None:
    import geopandas as gpd
    import shapely

    from geoplan._paths import shared_path
    from geoplan.readers.network import read_network
    from geoplan.workflows.project import DEMO_PROJECT, run_project

    net = read_network(shared_path("osm/huangshi_tuanchengshan_all_2022.graphml"))
    rng = np.random.default_rng(1)
    edges = net.edges.geometry.to_numpy()
    points = shapely.line_interpolate_point(
        edges[rng.integers(0, len(edges), rows)], rng.uniform(0, 1, rows), normalized=True
    )
    lonlat = gpd.GeoSeries(points, crs=net.crs).to_crs(4326)
    kinds = np.where(rng.uniform(size=rows) < 0.5, "诊所", "健身广场")
    lines = ["编号,名称,类型,经度,纬度"] + [
        f"F{i},设施{i},{k},{x:.6f},{y:.6f}"
        for i, (k, x, y) in enumerate(zip(kinds, lonlat.x, lonlat.y, strict=True))
    ]
    table = folder / "facilities.csv"
    table.write_text("\n".join(lines) + "\n", encoding="utf-8")
    text = DEMO_PROJECT.read_text(encoding="utf-8").replace(
        '"../facilities/tuanchengshan_scenario.csv"', f'"{table}"'
    )
    project = folder / "project.toml"
    project.write_text(text, encoding="utf-8")
    start = time.perf_counter()
    result = run_project(project, folder / "out")
    print(
        f"{rows:,} facility rows: run {time.perf_counter() - start:.1f} s, "
        f"peak {peak_memory_mb():.0f} MB"
    )
    for name in ("map.html", "map_en.html"):
        print(f"  {name}: {(folder / 'out' / name).stat().st_size:,} bytes")
    for warning in result.summary["warnings"]:
        print(f"  warning: {warning['message_en']}")
    print(f"  stages: {result.timings_s}")


def xlsx(rows: int, folder: Path) -> None:
    from openpyxl import Workbook
    from openpyxl.styles import Font

    from geoplan.readers.facilities import read_facilities

    book = Workbook()
    sheet = book.active
    sheet.append(["编号", "名称", "类型", "经度", "纬度"])
    bold = Font(bold=True)
    for i in range(rows):
        sheet.append([f"F{i}", f"示例诊所{i}", "诊所", 115.0 + (i % 1000) * 1e-5, 30.2])
        sheet.cell(row=i + 2, column=16384).font = bold
    path = folder / "xfd.xlsx"
    book.save(path)
    del book, sheet
    start = time.perf_counter()
    table = read_facilities(path)
    print(
        f"{rows:,} rows touching XFD ({path.stat().st_size:,} bytes): {len(table.used):,} "
        f"records in {time.perf_counter() - start:.1f} s, peak {peak_memory_mb():.0f} MB (writing "
        "the workbook included)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("case", choices=("facilities", "xlsx"))
    parser.add_argument("--rows", type=int, default=100_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        (facilities if args.case == "facilities" else xlsx)(args.rows, Path(tmp))


if __name__ == "__main__":
    main()
