"""Write the demo's shipped inputs (``data/osm/``, ``data/boundaries/``) from the shared data.

    python scripts/ship_demo_data.py            # writes the files, prints their sizes
    python scripts/ship_demo_data.py --check    # exit 1 if a shipped file differs

The two 团城山 GraphML files are gzipped whole (level 9, no name, no time stamp; ``--check``
compares the decompressed bytes, as zlib builds may pack the same bytes differently); the 13
places' WGS84 boundaries are copied; the official 团城山 boundary is the ``boundary`` graph
attribute of the 2024 file written as GeoJSON in its own CRS (EPSG:32650), every coordinate
exactly as in the WKT. The test
``tests/test_shipped.py`` checks the same correspondence.
"""

from __future__ import annotations

import argparse
import gzip
import json
import sys
from pathlib import Path

import shapely.geometry

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from geoplan._paths import shared_path  # noqa: E402
from geoplan.readers.demand import boundary_from_graphml  # noqa: E402

NETWORKS = (
    "osm/huangshi_tuanchengshan_all_2022.graphml",
    "osm/huangshi_tuanchengshan_drive_ghspop_2024.graphml",
)
PLACES = "boundaries/targets_admin_tianditu_wgs84.geojson"
BOUNDARY = "boundaries/huangshi_tuanchengshan_official.geojson"
BOUNDARY_SOURCE = "osm/huangshi_tuanchengshan_drive_ghspop_2024.graphml"


def boundary_geojson() -> str:
    """The official 团城山 boundary as GeoJSON text (EPSG:32650, exact coordinates)."""
    frame = boundary_from_graphml(shared_path(BOUNDARY_SOURCE))
    epsg = frame.crs.to_epsg()
    feature = {
        "type": "Feature",
        "properties": {
            "name": "团城山街道",
            "name_en": "Tuanchengshan Subdistrict, Xialu District, Huangshi",
            "code": "",
            "source": f"graph attribute 'boundary' of {Path(BOUNDARY_SOURCE).name}",
        },
        # json writes repr(float): every coordinate reads back as the same double
        "geometry": shapely.geometry.mapping(frame.geometry.iloc[0]),
    }
    collection = {
        "type": "FeatureCollection",
        "name": "huangshi_tuanchengshan_official",
        "crs": {"type": "name", "properties": {"name": f"urn:ogc:def:crs:EPSG::{epsg}"}},
        "features": [feature],
    }
    return json.dumps(collection, ensure_ascii=False) + "\n"


def shipped_files() -> dict[str, bytes]:
    """Relative path under ``data/`` → the bytes it must hold (decompressed, for ``.gz``)."""
    files = {}
    for name in NETWORKS:
        files[f"{name}.gz"] = shared_path(name).read_bytes()
    files[PLACES] = shared_path(PLACES).read_bytes()
    files[BOUNDARY] = boundary_geojson().encode("utf-8")
    return files


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="compare, write nothing")
    args = parser.parse_args()
    differ = []
    for relative, data in shipped_files().items():
        path = REPO / "data" / relative
        packed = relative.endswith(".gz")
        if args.check:
            if not path.is_file():
                differ.append(relative)
            elif (gzip.decompress(path.read_bytes()) if packed else path.read_bytes()) != data:
                differ.append(relative)
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(gzip.compress(data, compresslevel=9, mtime=0) if packed else data)
        print(f"{path.stat().st_size:>8,} B  data/{relative}")
    for relative in differ:
        print(f"differs: data/{relative}", file=sys.stderr)
    return 1 if differ else 0


if __name__ == "__main__":
    sys.exit(main())
