"""Time geoplan fetch's offline cut of an area out of a larger OSM file (pyosmium, 3 passes).

python scripts/bench_cut.py [--pbf FILE] [--bbox W,S,E,N] [--repeats 3]

Default: the shared Andorra extract (72,443 objects) and a 5 km box in it. On a province
extract give its PBF and a county's box; the line says objects per second and peak memory.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import osmium
import shapely
from _bench import timed

from geoplan._paths import shared_path
from geoplan.progress import peak_memory_mb
from geoplan.workflows.fetch import cut_osm


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--pbf", type=Path, default=None)
    parser.add_argument("--bbox", default="1.50,42.50,1.56,42.55", help="W,S,E,N in degrees")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    pbf = args.pbf or shared_path("osm/andorra_ad.osm.pbf")
    area = shapely.box(*(float(v) for v in args.bbox.split(",")))
    objects = sum(1 for _ in osmium.FileProcessor(str(pbf)))
    with tempfile.TemporaryDirectory() as folder:
        target = Path(folder) / "cut.osm.pbf"
        seconds, counts = timed(lambda: cut_osm(pbf, area, target), args.repeats)
        size = target.stat().st_size
    print(
        f"cut {pbf.name} ({objects:,} objects, {pbf.stat().st_size / 1e6:.1f} MB) to "
        f"{args.bbox}: {seconds:.2f} s, {objects / seconds:,.0f} objects/s, "
        f"{counts['ways']:,} ways and {counts['nodes']:,} nodes kept ({size / 1e6:.2f} MB), "
        f"peak {peak_memory_mb():.0f} MB"
    )


if __name__ == "__main__":
    main()
