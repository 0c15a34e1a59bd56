"""The network cache: a second read skips parsing and returns an equal Network.

Every test points ``GEOPLAN_CACHE`` at its own temporary folder. "Skips parsing" is checked
by replacing the readers with functions that raise.
"""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from geopandas.testing import assert_geodataframe_equal
from pyproj import CRS
from shapely.geometry import LineString, Point

from geoplan import _cache
from geoplan._paths import shared_path, shipped_path
from geoplan.readers import network as netmod
from geoplan.readers.network import Network, read_network

TINY_OSM = Path(__file__).parent / "data" / "network" / "tiny_roads.osm"
READERS = ("_read_osm", "_read_graphml", "_read_lines")


@pytest.fixture
def cache(tmp_path, monkeypatch) -> Path:
    folder = tmp_path / "cache"
    monkeypatch.setenv("GEOPLAN_CACHE", str(folder))
    return folder


def forbid_parsing(monkeypatch) -> None:
    def refuse(path):
        raise AssertionError(f"parsed {path} although it is cached")

    for name in READERS:
        monkeypatch.setattr(netmod, name, refuse)


def count_parsing(monkeypatch) -> list[str]:
    calls: list[str] = []
    for name in READERS:
        original = getattr(netmod, name)

        def counted(path, _original=original, _name=name):
            calls.append(_name)
            return _original(path)

        monkeypatch.setattr(netmod, name, counted)
    return calls


def assert_same_network(a: Network, b: Network) -> None:
    pd.testing.assert_frame_equal(a.nodes, b.nodes, check_exact=True)
    assert_geodataframe_equal(a.edges, b.edges, check_less_precise=False)
    pd.testing.assert_frame_equal(
        pd.DataFrame(a.edges.drop(columns="geometry")),
        pd.DataFrame(b.edges.drop(columns="geometry")),
        check_exact=True,
    )
    assert (a.edges.geometry.values == b.edges.geometry.values).all()  # exact coordinates
    assert a.crs == b.crs and a.edges.crs == b.edges.crs
    assert a.crs.to_epsg(min_confidence=100) == b.crs.to_epsg(min_confidence=100)
    assert a.source == b.source
    assert repr(a) == repr(b)
    for mode in ("walk", "bike", "drive"):
        for x, y in zip(a.edge_times_s(mode), b.edge_times_s(mode), strict=True):
            np.testing.assert_array_equal(x, y)


def entries(cache: Path) -> list[Path]:
    return sorted(p for p in (cache / "network").glob("*") if not p.name.startswith("."))


SHARED = pytest.mark.shared_data


@pytest.mark.parametrize(
    "relative",
    [
        pytest.param("osm/wuhan_fua_osm_streets.parquet", marks=SHARED),  # road lines
        "osm/huangshi_tuanchengshan_all_2022.graphml.gz",  # shipped: gzipped GraphML, 中文 names
        pytest.param("osm/andorra_ad.osm.pbf", marks=SHARED),  # PBF, one-way streets
    ],
)
def test_second_read_skips_parsing_and_is_equal(cache, monkeypatch, relative):
    path = shipped_path(relative) if relative.endswith(".gz") else shared_path(relative)
    fresh = read_network(path, cache=False)
    first = read_network(path)
    assert len(entries(cache)) == 1
    forbid_parsing(monkeypatch)
    second = read_network(path)
    assert_same_network(fresh, first)
    assert_same_network(fresh, second)


def test_cache_false_neither_reads_nor_writes(cache, monkeypatch):
    calls = count_parsing(monkeypatch)
    read_network(TINY_OSM, cache=False)
    assert not (cache / "network").exists() or not entries(cache)
    read_network(TINY_OSM)  # fills the cache
    read_network(TINY_OSM, cache=False)  # ignores it
    assert calls == ["_read_osm"] * 3


def test_hit_logs_the_same_notes(cache, monkeypatch, caplog):
    with caplog.at_level(logging.INFO, logger="geoplan.readers.network"):
        read_network(TINY_OSM)
        forbid_parsing(monkeypatch)
        read_network(TINY_OSM)
    first, second = (r.getMessage() for r in caplog.records if r.name == "geoplan.readers.network")
    assert "1 node refs missing from the file in 1 ways" in first
    assert second.endswith("from cache")
    assert first.split(", ", 4)[:4] == second.split(", ", 4)[:4]  # nodes, edges, km, CRS
    assert first.split(" s; ", 1)[1] in second


def test_key_is_content_crs_and_reader(cache, tmp_path, monkeypatch):
    calls = count_parsing(monkeypatch)
    read_network(TINY_OSM)
    copy = tmp_path / "elsewhere" / "same_bytes.osm"
    copy.parent.mkdir()
    shutil.copy(TINY_OSM, copy)
    moved = read_network(copy)  # same bytes, other path: a hit that names the new path
    assert calls == ["_read_osm"]
    assert moved.source == str(copy)
    read_network(TINY_OSM, crs="EPSG:32649")  # another CRS: another entry
    assert calls == ["_read_osm"] * 2
    copy.write_bytes(TINY_OSM.read_bytes().replace(b'lat="30.0020"', b'lat="30.0021"'))
    changed = read_network(copy)  # changed content: parsed again
    assert calls == ["_read_osm"] * 3
    assert len(entries(cache)) == 3
    assert not np.array_equal(changed.nodes["y"], moved.nodes["y"])


@pytest.mark.parametrize("damage", ["flip_byte", "truncate", "delete", "manifest", "version"])
def test_damaged_entry_is_rebuilt_not_trusted(cache, monkeypatch, damage, caplog):
    fresh = read_network(TINY_OSM, cache=False)
    read_network(TINY_OSM)
    (entry,) = entries(cache)
    edges = entry / "edges.parquet"
    manifest = entry / "manifest.json"
    if damage == "flip_byte":
        data = bytearray(edges.read_bytes())
        data[len(data) // 2] ^= 0xFF
        edges.write_bytes(bytes(data))
    elif damage == "truncate":
        edges.write_bytes(edges.read_bytes()[:100])
    elif damage == "delete":
        edges.unlink()
    elif damage == "manifest":
        manifest.write_text("{not json", encoding="utf-8")
    else:
        record = json.loads(manifest.read_text(encoding="utf-8"))
        record["format_version"] = -1
        manifest.write_text(json.dumps(record), encoding="utf-8")
    calls = count_parsing(monkeypatch)
    with caplog.at_level(logging.WARNING):
        rebuilt = read_network(TINY_OSM)
    assert calls == ["_read_osm"]
    assert "rebuilding" in caplog.text
    assert_same_network(fresh, rebuilt)
    forbid_parsing(monkeypatch)  # and the rewritten entry is good again
    assert_same_network(fresh, read_network(TINY_OSM))


def test_entry_that_loads_but_breaks_the_network_is_rebuilt(cache, monkeypatch):
    """Tables that pass their checksums but not the Network's own checks are not used."""
    fresh = read_network(TINY_OSM, cache=False)
    read_network(TINY_OSM)
    (entry,) = entries(cache)
    record = json.loads((entry / "manifest.json").read_text(encoding="utf-8"))
    record["meta"]["crs"] = CRS.from_epsg(32649).to_json()  # the edges say 32650
    (entry / "manifest.json").write_text(json.dumps(record), encoding="utf-8")
    calls = count_parsing(monkeypatch)
    assert_same_network(fresh, read_network(TINY_OSM))
    assert calls == ["_read_osm"]


def test_unwritable_cache_does_not_stop_reading(tmp_path, monkeypatch):
    blocker = tmp_path / "not_a_folder"
    blocker.write_text("x")
    monkeypatch.setenv("GEOPLAN_CACHE", str(blocker))
    net = read_network(TINY_OSM)
    assert_same_network(read_network(TINY_OSM, cache=False), net)


def test_cache_module_round_trips_types_exactly(cache):
    frame = gpd.GeoDataFrame(
        {
            "i": np.array([1, -2, 3], dtype=np.int64),
            "f": [0.1, np.nan, 1e300],
            "b": [True, False, True],
            "s": pd.Series(["磁湖路", None, ""], dtype=object),
        },
        geometry=[LineString([(0, 0), (1, 1)]), Point(2, 3), LineString([(0, 0), (1e6, 1)])],
        crs="EPSG:32650",
    )
    plain = pd.DataFrame({"n": np.arange(4, dtype=np.int64)})
    assert _cache.save("demo", "k1", {"a": frame, "b": plain}, {"note": "注"})
    entry = _cache.load("demo", "k1")
    assert entry is not None and entry.meta == {"note": "注"}
    assert_geodataframe_equal(entry.tables["a"], frame)
    assert entry.tables["a"]["s"].tolist() == ["磁湖路", None, ""]
    assert entry.tables["a"]["s"].dtype == object
    pd.testing.assert_frame_equal(entry.tables["b"], plain)
    assert _cache.load("demo", "absent") is None
    assert _cache.digest("a", 1) != _cache.digest("a", 2)


def test_cache_module_round_trips_arrays_exactly_and_checks_them(cache, caplog):
    """Bare arrays (.npy): dtype, shape, order and bits kept, read-only (they lie in the
    file's bytes, not copied); a changed file is not trusted."""
    arrays = {
        "xy": np.array([[0.1, -0.0], [np.nan, 1e300]]),
        "i": np.array([1, -2, 2**40], dtype=np.int64),
        "u": np.frombuffer(b"\x00\xff\x07", dtype=np.uint8),
        "empty": np.zeros((0, 4)),
        "fortran": np.asfortranarray(np.arange(6.0).reshape(2, 3)),
        "big_endian": np.array([1.5, -2.25], dtype=">f8"),
    }
    assert _cache.save("demo", "k3", arrays, {"n": 3})
    entry = _cache.load("demo", "k3")
    assert entry is not None and entry.meta == {"n": 3}
    for name, values in arrays.items():
        got = entry.tables[name]
        assert got.dtype == values.dtype and got.shape == values.shape, name
        assert got.tobytes() == values.tobytes(), name
        assert not got.flags.writeable, name
    assert entry.tables["fortran"].flags.f_contiguous
    npy = cache / "demo" / "k3" / "i.npy"
    npy.write_bytes(npy.read_bytes()[:-8] + np.int64(5).tobytes())
    with caplog.at_level(logging.WARNING):
        assert _cache.load("demo", "k3") is None
    assert "checksum differs" in caplog.text
    assert not (cache / "demo" / "k3").exists()
    with caplog.at_level(logging.WARNING):
        assert not _cache.save("demo", "k4", {"o": np.array(["a"], dtype=object)}, {})
    assert "does not keep" in caplog.text


def test_cache_module_refuses_unsupported_columns(cache, caplog):
    odd = pd.DataFrame({"when": pd.to_datetime(["2024-01-01"])})
    with caplog.at_level(logging.WARNING):
        assert not _cache.save("demo", "k2", {"t": odd}, {})
    assert "does not keep" in caplog.text
    assert _cache.load("demo", "k2") is None
