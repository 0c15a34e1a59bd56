"""The demo ships with geoplan: its inputs in ``data/``, read compressed, inside the wheel.

* the shipped files are the shared data files (decompressed byte for byte; the boundary
  polygon coordinate for coordinate), and the demo gives the same outputs from either;
* the demo runs with no shared data at all, from a copy of its project file anywhere;
* gzip/xz/bz2 GraphML reads like the plain file (network, demand, boundary, cache);
* a wheel built from the repository, installed into a fresh virtual environment outside it,
  runs ``geoplan demo`` and ``geoplan init 平罗县`` with no shared data (slow).
"""

from __future__ import annotations

import bz2
import gzip
import json
import lzma
import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pytest
import shapely

from geoplan import _cache
from geoplan._paths import REPO_ROOT, SHIPPED_PREFIX, prefixed_path, shipped_data_dir, shipped_path
from geoplan.errors import InputError, InputFileNotFoundError, NetworkError
from geoplan.plans.places import BOUNDARY_FILE
from geoplan.readers.demand import boundary_from_graphml, demand_from_graphml_edges, read_demand
from geoplan.readers.network import read_network
from geoplan.workflows.project import compute_project, load_project, run_project

WALK = "osm/huangshi_tuanchengshan_all_2022.graphml"
DRIVE = "osm/huangshi_tuanchengshan_drive_ghspop_2024.graphml"
BOUNDARY = "boundaries/huangshi_tuanchengshan_official.geojson"
TABLES = ("summary.json", "coverage_by_unit.csv", "coverage_points.csv", "gaps.csv")
"""Demo outputs compared byte for byte (maps differ only in folium's random element ids)."""


# --------------------------------------------------------------------------- the files


def test_shipped_files_are_the_shared_files(shared_file):
    for name in (WALK, DRIVE):
        shipped = gzip.decompress(shipped_path(f"{name}.gz").read_bytes())
        assert shipped == shared_file(name).read_bytes(), name
    assert shipped_path(BOUNDARY_FILE).read_bytes() == shared_file(BOUNDARY_FILE).read_bytes()
    original = boundary_from_graphml(shared_file(DRIVE))
    ours = gpd.read_file(shipped_path(BOUNDARY))
    assert ours.crs == original.crs
    assert shapely.equals_exact(ours.geometry.iloc[0], original.geometry.iloc[0], tolerance=0)
    # the script that wrote them agrees (it compares the decompressed bytes)
    script = REPO_ROOT / "scripts" / "ship_demo_data.py"
    done = subprocess.run(
        [sys.executable, str(script), "--check"], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr


def test_shipped_boundary_is_the_graph_attribute_exactly():
    graph = boundary_from_graphml(shipped_path(f"{DRIVE}.gz"))
    ours = gpd.read_file(shipped_path(BOUNDARY))
    assert ours.crs.to_epsg() == 32650 == graph.crs.to_epsg()
    assert shapely.equals_exact(ours.geometry.iloc[0], graph.geometry.iloc[0], tolerance=0)
    assert ours["name"].tolist() == ["团城山街道"]


def test_every_shipped_folder_says_where_its_files_come_from():
    folder = shipped_data_dir()
    for sub in ("osm", "boundaries", "facilities"):
        readme = (folder / sub / "README.md").read_text(encoding="utf-8")
        files = [p.name for p in (folder / sub).iterdir() if p.name != "README.md"]
        assert files
        for name in files:
            assert name in readme, (sub, name)
    osm = (folder / "osm" / "README.md").read_text(encoding="utf-8")
    assert "© OpenStreetMap contributors" in osm and "ODbL" in osm
    assert "GHS-POP R2023A" in osm and "CC BY 4.0" in osm
    # nothing from Amap (GCJ-02, terms forbid shipping) among the shipped files
    assert not any("amap" in p.name or "gcj" in p.name for p in folder.rglob("*"))


# --------------------------------------------------------------------------- the demo


def test_demo_equals_the_run_on_the_shared_files(demo_dir, demo_project, tmp_path, shared_file):
    """The demo with its inputs replaced by the shared originals writes the same tables."""
    replace = {
        f'"{SHIPPED_PREFIX}{WALK}.gz"': f'"shared:{WALK}"',
        f'"{SHIPPED_PREFIX}{DRIVE}.gz"': f'"shared:{DRIVE}"',
        f'path = "{SHIPPED_PREFIX}{BOUNDARY}"': f'path = "shared:{DRIVE}"\nformat = "graphml"',
    }
    project = demo_project("shared.toml", replace)
    result = run_project(project, tmp_path / "out")
    assert set(result.inputs.values()) >= {str(shared_file(WALK)), str(shared_file(DRIVE))}
    for name in TABLES:
        assert (tmp_path / "out" / name).read_bytes() == (demo_dir / name).read_bytes(), name
    summary = json.loads((demo_dir / "summary.json").read_text(encoding="utf-8"))
    assert summary["population_total"] == pytest.approx(108691.28645381358, rel=1e-12)
    assert [round(r["share_covered"], 4) for r in summary["rules"]] == [0.465, 0.5053, 0.9745]


def test_demo_needs_no_shared_data_and_runs_from_a_copy(
    demo_dir, demo_project, tmp_path, monkeypatch
):
    monkeypatch.setenv("GEOPLAN_SHARED_DATA", str(tmp_path / "nowhere"))
    project = load_project(demo_project())  # a copy in tmp_path: its geoplan: paths still work
    result = compute_project(project, sensitivity=True)
    for role, path in result.inputs.items():
        if role != "facilities":
            assert Path(path).is_relative_to(shipped_data_dir()), (role, path)
    expected = json.loads((demo_dir / "summary.json").read_text(encoding="utf-8"))
    assert json.loads(json.dumps(result.summary)) == expected


def test_geoplan_prefix_names_shipped_files_and_lists_them_when_wrong():
    assert prefixed_path(f"{SHIPPED_PREFIX}{BOUNDARY_FILE}") == shipped_path(BOUNDARY_FILE)
    assert prefixed_path("osm/x.graphml") is None
    with pytest.raises(InputFileNotFoundError) as info:
        prefixed_path(f"{SHIPPED_PREFIX}osm/wuhan.graphml")
    message = str(info.value)
    assert "geoplan:osm/wuhan.graphml: geoplan ships no such file" in message
    assert f"{WALK}.gz" in message and BOUNDARY in message


# --------------------------------------------------------------------------- compressed


@pytest.fixture(scope="module")
def plain_walk(tmp_path_factory) -> Path:
    """The walk network decompressed, and copies packed with gzip, bz2 and xz beside it."""
    folder = tmp_path_factory.mktemp("graphml")
    raw = gzip.decompress(shipped_path(f"{WALK}.gz").read_bytes())
    (folder / "walk.graphml").write_bytes(raw)
    (folder / "walk.graphml.gz").write_bytes(gzip.compress(raw))
    (folder / "walk.graphml.bz2").write_bytes(bz2.compress(raw))
    (folder / "walk.graphml.xz").write_bytes(lzma.compress(raw))
    return folder / "walk.graphml"


@pytest.mark.parametrize("suffix", [".gz", ".bz2", ".xz"])
def test_compressed_graphml_network_equals_the_plain_one(plain_walk, suffix):
    plain = read_network(plain_walk, cache=False)
    packed = read_network(plain_walk.with_name(plain_walk.name + suffix), cache=False)
    pd.testing.assert_frame_equal(packed.nodes, plain.nodes)
    pd.testing.assert_frame_equal(packed.edges, plain.edges)
    assert packed.crs == plain.crs


def test_compressed_graphml_network_is_cached(plain_walk, monkeypatch, tmp_path):
    monkeypatch.setenv("GEOPLAN_CACHE", str(tmp_path))
    path = plain_walk.with_name(plain_walk.name + ".xz")
    first = read_network(path)
    calls = []
    monkeypatch.setattr("geoplan.readers.network._read_graphml", lambda p: calls.append(p))
    second = read_network(path)  # from the cache: the reader is never called
    assert calls == []
    pd.testing.assert_frame_equal(second.edges, first.edges)
    assert len(list((tmp_path / "network").iterdir())) == 1
    assert _cache.file_sha256(path) != _cache.file_sha256(plain_walk)  # keyed by the file read


def test_compressed_graphml_demand_and_boundary_equal_the_plain_ones(tmp_path):
    raw = gzip.decompress(shipped_path(f"{DRIVE}.gz").read_bytes())
    plain = tmp_path / "drive.graphml"
    plain.write_bytes(raw)
    packed = tmp_path / "drive.graphml.xz"
    packed.write_bytes(lzma.compress(raw))
    expected = demand_from_graphml_edges(plain, spacing_m=50)
    for path in (packed, shipped_path(f"{DRIVE}.gz")):
        pd.testing.assert_frame_equal(read_demand(path, spacing_m=50), expected)
        got, want = boundary_from_graphml(path), boundary_from_graphml(plain)
        assert shapely.equals_exact(got.geometry.iloc[0], want.geometry.iloc[0], tolerance=0)


def test_damaged_compressed_graphml_is_a_clear_error(tmp_path):
    bad = tmp_path / "roads.graphml.gz"
    bad.write_bytes(gzip.compress(b"<graphml><graph>")[:-6])  # cut short
    with pytest.raises(NetworkError, match=r"roads\.graphml\.gz: cannot read as GraphML"):
        read_network(bad, cache=False)
    with pytest.raises(InputError, match=r"cannot read GraphML .*roads\.graphml\.gz"):
        read_demand(bad)
    other = tmp_path / "roads.osm.xz"
    other.write_bytes(lzma.compress(b"<osm/>"))
    with pytest.raises(NetworkError, match=r"unknown network file type.*\.graphml\.xz"):
        read_network(other)


# --------------------------------------------------------------------------- the wheel


def _venv_python(venv: Path) -> Path:
    return venv / ("Scripts/python.exe" if os.name == "nt" else "bin/python")


def _run(command: list, *, env: dict, cwd: Path, timeout: float = 300) -> str:
    done = subprocess.run(
        [str(c) for c in command],
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd,
        timeout=timeout,
        check=False,
    )
    assert done.returncode == 0, f"{command}\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done.stdout


@pytest.mark.slow
def test_wheel_runs_demo_and_init_without_shared_data(demo_dir, tmp_path):
    """Build the wheel from a copy of the sources, install it into a new venv, run it there.

    The venv borrows the dependencies of the running environment through a ``.pth`` file
    (``--system-site-packages`` would give the base interpreter's packages, not this venv's)
    and gets geoplan itself only from the wheel (``--no-deps``), so nothing is downloaded but
    the build backend (setuptools, from pip's cache or the index).
    """
    source = tmp_path / "src"
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info")
    for name in ("geoplan", "data"):
        shutil.copytree(REPO_ROOT / name, source / name, ignore=ignore)
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(REPO_ROOT / name, source / name)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "GEOPLAN_"))}
    env |= {"GEOPLAN_SHARED_DATA": str(tmp_path / "nowhere"), "GEOPLAN_CACHE": str(tmp_path)}
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check"]
    _run([*pip, "wheel", "--no-deps", "-q", "-w", tmp_path / "dist", source], env=env, cwd=source)
    (wheel,) = (tmp_path / "dist").glob("geoplan-*.whl")
    shipped = {
        p.relative_to(REPO_ROOT / "data").as_posix()
        for p in (REPO_ROOT / "data").rglob("*")
        if p.is_file()
    }
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
    assert {f"geoplan/shipped/{name}" for name in shipped} <= names
    assert not [n for n in names if n.startswith(("tests/", "data/", "scripts/"))]

    venv = tmp_path / "venv"
    _run([sys.executable, "-m", "venv", "--without-pip", venv], env=env, cwd=tmp_path)
    python = _venv_python(venv)
    site = _run(
        [python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        env=env,
        cwd=tmp_path,
    ).strip()
    borrowed = {sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]}
    Path(site, "borrowed-deps.pth").write_text("\n".join(sorted(borrowed)) + "\n")
    _run([*pip, "--python", python, "install", "--no-deps", "-q", wheel], env=env, cwd=tmp_path)
    where = _run([python, "-c", "import geoplan; print(geoplan.__file__)"], env=env, cwd=tmp_path)
    assert Path(where.strip()).is_relative_to(venv)

    geoplan = python.parent / ("geoplan.exe" if os.name == "nt" else "geoplan")
    _run([geoplan, "-q", "demo", "--out", tmp_path / "demo"], env=env, cwd=tmp_path)
    ours = json.loads((tmp_path / "demo" / "summary.json").read_text(encoding="utf-8"))
    assert ours == json.loads((demo_dir / "summary.json").read_text(encoding="utf-8"))
    record = json.loads((tmp_path / "demo" / "run.json").read_text(encoding="utf-8"))
    assert all(Path(i["path"]).is_relative_to(venv) for i in record["inputs"].values())

    _run([geoplan, "-q", "init", "平罗县", "--out", tmp_path / "pingluo"], env=env, cwd=tmp_path)
    boundary = gpd.read_file(tmp_path / "pingluo" / "boundary.geojson")
    assert boundary["adcode"].tolist() == ["640221"]
    places = gpd.read_file(shipped_path(BOUNDARY_FILE))
    expected = places.loc[places["adcode"].astype(str) == "640221"].geometry.iloc[0]
    assert shapely.equals_exact(boundary.geometry.iloc[0], expected, tolerance=1e-6)
    assert (tmp_path / "pingluo" / "project.toml").is_file()
