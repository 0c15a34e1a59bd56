"""The pages of ``geoplan serve``: a Flask application over :class:`~geoplan.app.projects.Store`.

Every page is rendered on the server from Jinja templates (autoescaped: user text is always
text); the only scripts are the app's own files under ``/static`` and Leaflet (from
``xstatic-leaflet``, the maps' copy), under a Content-Security-Policy without inline scripts.
Every form carries a CSRF token (Flask-WTF); the Host header must name this server (DNS
rebinding); uploads are bounded (``MAX_CONTENT_LENGTH``). The run's own map and report are
shown in frames from ``/view/…`` under a sandbox CSP of their own: their inline scripts run
in an opaque origin that can reach nothing.
"""

from __future__ import annotations

import re
import secrets
import tempfile
import threading
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from flask import (
    Flask,
    abort,
    flash,
    g,
    jsonify,
    redirect,
    render_template,
    request,
    send_file,
    send_from_directory,
    session,
    url_for,
)
from flask_wtf.csrf import CSRFError, CSRFProtect
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge

from .. import schema, taxonomy
from ..analysis.rules import MODES, RULE_ID_PATTERN, check_unique_ids, rule_from_mapping
from ..errors import GeoplanError
from ..plans import places
from ..plans.packs import available_packs, load_pack
from ..taxonomy import CATEGORIES, GROUP_LABELS, GROUPS, TIER_LABELS
from ..workflows import config
from ..workflows.fetch import DEFAULT_BUFFER_M
from . import sources
from .preview import preview_layers
from .projects import AppError, ProjectFolder, Store, check_name
from .review import FIELDS, boundary_of, network_of, review_file, review_headers
from .runs import Runner
from .server import DEFAULT_MAX_UPLOAD_MB
from .text import LANGS, UI, tr, travel_text

__all__ = ["CSP", "create_app"]

CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; frame-src 'self'; form-action 'self'; base-uri 'none'; "
    "frame-ancestors 'none'"
)
"""The app's pages: nothing inline, nothing from elsewhere, never framed by another site."""

_VIEW_CSP = (
    "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; "
    "img-src data: blob:; font-src data:; frame-ancestors 'self'; sandbox allow-scripts"
)
"""geoplan's own map (self-contained, inline scripts): run sandboxed, no network."""
_REPORT_CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src data:; font-src data:; "
    "frame-ancestors 'self'; sandbox allow-downloads allow-popups"
)
"""The report: no scripts at all."""

_CRS_CHOICES = ("wgs84", "cgcs2000", "gcj02", "bd09")
_VIEWABLE = {"map.html", "map_en.html", "report.html", "report_en.html"}
_DOWNLOADS = (
    ("gaps.xlsx", "dl_gaps_xlsx"),
    ("gaps.csv", "dl_gaps_csv"),
    ("gaps.gpkg", "dl_gaps_gpkg"),
    ("report.pdf", "dl_report_pdf"),
    ("report.html", "dl_report_html"),
    ("map.html", "dl_map"),
    ("rejects.csv", "dl_rejects"),
    ("summary.json", "dl_summary"),
)
_MAX_ROWS = 200  # rows of a findings or rejects table shown on a page


def create_app(
    root: str | Path,
    *,
    max_upload_mb: float = DEFAULT_MAX_UPLOAD_MB,
    hosts: Iterable[str] | None = ("127.0.0.1", "localhost", "::1"),
    runner: Runner | None = None,
) -> Flask:
    """The application over the data root ``root``.

    ``hosts`` are the host names the Host header may carry (None: any, for a server bound
    to all addresses on purpose); ``runner`` keeps the background runs (one per app).
    """
    app = Flask(__name__)
    app.config.update(
        SECRET_KEY=secrets.token_bytes(32),  # sessions end with the server
        MAX_CONTENT_LENGTH=int(max_upload_mb * 1024 * 1024),
        WTF_CSRF_TIME_LIMIT=None,  # a page left open for hours still submits
        SESSION_COOKIE_SAMESITE="Strict",
        SESSION_COOKIE_HTTPONLY=True,
        TEMPLATES_AUTO_RELOAD=False,
    )
    app.jinja_env.autoescape = True  # every template, whatever its name
    app.jinja_env.filters["cell"] = _cell
    store = Store(Path(root))
    runs = runner or Runner()
    app.extensions["geoplan"] = {"store": store, "runner": runs}
    allowed = None if hosts is None else {h.strip("[]").lower() for h in hosts}

    @app.before_request
    def _host_and_language() -> None:
        g.lang = session.get("lang", "zh")
        if allowed is not None and _host_name(request.host).lower() not in allowed:
            abort(400, description="bad_host")

    CSRFProtect(app)  # after the language and host check: its refusals are pages in g.lang

    @app.after_request
    def _headers(response):
        response.headers.setdefault("Content-Security-Policy", CSP)
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Referrer-Policy"] = "no-referrer"
        response.headers["Cross-Origin-Opener-Policy"] = "same-origin"
        response.headers["Cross-Origin-Resource-Policy"] = "same-origin"
        if "frame-ancestors 'self'" not in response.headers["Content-Security-Policy"]:
            response.headers["X-Frame-Options"] = "DENY"
        else:
            response.headers["X-Frame-Options"] = "SAMEORIGIN"
        response.headers.setdefault("Cache-Control", "no-store")
        return response

    @app.context_processor
    def _template_globals() -> dict[str, Any]:
        return {
            "t": lambda key, **kw: tr(key, g.lang, **kw),
            "lang": g.lang,
            "category_label": lambda key: _category_label(key, g.lang),
            "travel_text": lambda rule: travel_text(rule, g.lang),
            "check_label": lambda code: _check_label(code, g.lang),
            "severity_label": lambda sev: tr(f"sev_{sev}", g.lang) if f"sev_{sev}" in UI else sev,
        }

    _register_errors(app)
    _register_pages(app, store, runs, max_upload_mb)
    return app


def _register_errors(app: Flask) -> None:
    def page(status: int, key: str, **values) -> tuple[str, int]:
        return render_template("error.html", message=tr(key, g.lang, **values)), status

    @app.errorhandler(CSRFError)
    def _csrf(exc):
        return page(400, "csrf_error")

    @app.errorhandler(RequestEntityTooLarge)
    def _too_large(exc):
        limit = app.config["MAX_CONTENT_LENGTH"] / 1024 / 1024
        return page(413, "too_large", limit=f"{limit:g} MB")

    @app.errorhandler(404)
    def _missing(exc):
        return page(404, "not_found")

    @app.errorhandler(500)
    def _internal(exc):  # a bug: Flask has logged the traceback; the page says so in words
        return page(500, "internal_error")

    @app.errorhandler(400)
    def _bad(exc: HTTPException):
        if getattr(exc, "description", "") == "bad_host":
            return page(400, "bad_host")
        return render_template("error.html", message=str(exc.description)), 400


def _host_name(host: str | None) -> str:
    """The name of a Host header without its port: ``127.0.0.1``, ``localhost``, ``::1``."""
    host = host or ""
    if host.startswith("["):
        return host[1:].split("]", 1)[0]
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


def _local(target: str | None, default: str) -> str:
    """``target`` if it is a path on this server (no scheme, host or ``//``), else ``default``."""
    if not target or "\\" in target:
        return default
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return default
    return target


def _register_pages(app: Flask, store: Store, runs: Runner, max_upload_mb: float) -> None:
    def project_or_404(slug: str) -> ProjectFolder:
        try:
            return store.get(slug)
        except KeyError:
            abort(404)

    def editable(slug: str) -> ProjectFolder:
        project = project_or_404(slug)
        if runs.busy(slug):
            raise AppError(*UI["project_busy"])
        return project

    edits = threading.Lock()  # one change at a time: project.toml is read, changed, written

    def acting(view: Callable) -> Callable:
        """A POST view: a user error is a message on the page it came from, nothing changed.
        Changes are made one at a time (waitress serves requests in several threads)."""

        def wrapped(*args, **kwargs):
            try:
                with edits:
                    return view(*args, **kwargs)
            except AppError as exc:
                flash(exc.text(g.lang), "error")
            except GeoplanError as exc:
                flash(str(exc), "error")
            back = _local(request.form.get("next") or request.referrer, url_for("index"))
            return redirect(back)

        wrapped.__name__ = view.__name__
        return wrapped

    # ------------------------------------------------------------------ frame

    @app.get("/lang/<code>")
    def language(code: str):
        if code in LANGS:
            session["lang"] = code
        return redirect(_local(request.args.get("next"), url_for("index")))

    @app.get("/static/leaflet/<path:name>")
    def leaflet(name: str):
        import xstatic.pkg.leaflet as xl

        return send_from_directory(xl.BASE_DIR, name)

    @app.get("/")
    def index():
        projects = []
        for project in store.projects():
            last = next(iter(project.runs()), None)
            projects.append({"project": project, "area": project.area(), "last": last})
        return render_template("index.html", projects=projects)

    # ------------------------------------------------------------------ new project

    @app.get("/new")
    def new():
        query = request.args.get("q", "")
        registry = sources.every_county()
        source = f"{places.REGISTRY_PACKAGE} {places.registry_version()}" if registry else ""
        return render_template(
            "new.html",
            query=query,
            found=sources.search(query),
            searched=bool(query.strip()),
            registry=registry,
            registry_source=source,
            max_candidates=sources.MAX_CANDIDATES,
        )

    @app.post("/new")
    @acting
    def create():
        adcode = request.form.get("adcode", "").strip()
        upload = request.files.get("boundary")
        example_rule = False  # init writes the place's plan rules, or one example to replace
        if adcode:
            place = sources.place_by_adcode(adcode)
            if place is None:
                raise AppError(*UI["choose_one"])
            name = request.form.get("project_name", "").strip() or place.name
            folder = store.new_folder(check_name(name))
            sources.init_place(place, folder)
            example_rule = place.plan is None  # no plan: init wrote an example rule
        elif upload is not None and upload.filename:
            area = check_name(request.form.get("area_name", ""))
            name = request.form.get("project_name", "").strip() or area
            folder = store.new_folder(check_name(name))
            with store.scratch() as scratch:
                staged = ProjectFolder(Path(scratch)).save_upload(
                    "boundary", upload.filename, upload
                )
                sources.init_boundary(Path(scratch) / staged, folder, area)
            example_rule = True
        else:
            raise AppError(*UI["choose_one"])
        project = ProjectFolder(folder)
        tables = project.tables()
        tables.setdefault("map", {})["langs"] = list(LANGS)  # a map in both languages
        if example_rule:  # not an example as if it were a rule: the rules step starts empty
            tables["rules"] = []
        project.save(tables)
        flash(tr("created", g.lang, name=project.slug), "ok")
        return redirect(url_for("overview", slug=project.slug))

    # ------------------------------------------------------------------ overview

    @app.get("/p/<slug>/")
    def overview(slug: str):
        project = project_or_404(slug)
        return render_template(
            "project.html", project=project, steps=_steps(project), runs=project.runs()
        )

    @app.get("/p/<slug>/project.zip")
    def project_zip(slug: str):
        project = project_or_404(slug)
        handle = tempfile.TemporaryFile()
        project.write_zip(handle)
        handle.seek(0)
        return send_file(
            handle,
            mimetype="application/zip",
            as_attachment=True,
            download_name=f"{project.slug}.zip",
        )

    # ------------------------------------------------------------------ facilities

    @app.get("/p/<slug>/facilities")
    def facilities(slug: str):
        project = project_or_404(slug)
        network, network_error = _network(project)
        return render_template(
            "facilities.html",
            project=project,
            steps=_steps(project),
            reviews=_reviews(project, network),
            fields=FIELDS,
            crs_choices=_CRS_CHOICES,
            category_groups=_category_groups(g.lang),
            max_rows=_MAX_ROWS,
            network_chosen=project.input_table("network") is not None,
            network_error=network_error,
        )

    @app.post("/p/<slug>/facilities/upload")
    @acting
    def facilities_upload(slug: str):
        project = editable(slug)
        files = [f for f in request.files.getlist("files") if f and f.filename]
        if not files:
            raise AppError(*UI["no_file_chosen"])
        names = [project.save_upload("facilities", f.filename, f) for f in files]
        project.set_facility_tables(project.facility_tables() + [{"path": n} for n in names])
        flash(tr("uploaded", g.lang, files=", ".join(names)), "ok")
        return redirect(url_for("facilities", slug=slug))

    @app.post("/p/<slug>/facilities/<int:index>/mapping")
    @acting
    def facilities_mapping(slug: str, index: int):
        project = editable(slug)
        tables = project.facility_tables()
        if not 0 <= index < len(tables):
            abort(404)
        table = dict(tables[index])
        review = review_headers(project, index, table)  # the facilities page reviews it
        table["columns"] = _columns_from_form(request.form, review.headers, table)
        crs = request.form.get("crs", "")
        if crs in _CRS_CHOICES:
            table["crs"] = crs
        sheet = request.form.get("sheet", "")
        if sheet in review.sheets:
            table["sheet"] = sheet
        else:
            table.pop("sheet", None)
        table["categories"] = _categories_from_form(request.form, table.get("categories", {}))
        table = {k: v for k, v in table.items() if v not in ({}, None)}
        schema.check_table(config.FACILITIES, table, file="project.toml", label="[facilities]")
        tables[index] = table
        project.set_facility_tables(tables)
        flash(tr("mapping_saved", g.lang, file=table["path"]), "ok")
        return redirect(url_for("facilities", slug=slug) + f"#file-{index}")

    @app.post("/p/<slug>/facilities/<int:index>/remove")
    @acting
    def facilities_remove(slug: str, index: int):
        project = editable(slug)
        tables = project.facility_tables()
        if not 0 <= index < len(tables):
            abort(404)
        removed = tables.pop(index)
        project.set_facility_tables(tables)
        flash(tr("removed", g.lang, file=removed["path"]), "ok")
        return redirect(url_for("facilities", slug=slug))

    # ------------------------------------------------------------------ network, population

    @app.get("/p/<slug>/inputs")
    def inputs(slug: str):
        project = project_or_404(slug)
        tables = project.tables()
        slots = {}
        for slot in ("network", "demand"):
            chosen = project.input_table(slot)
            values = tables.get(slot, {}) if chosen else {}
            slots[slot] = {
                "table": chosen,
                "files": project.files_for(slot),
                "fields": [
                    _field(k, values.get(k.name), g.lang) for k in _option_keys(slot, chosen)
                ],
            }
        return render_template(
            "inputs.html",
            project=project,
            steps=_steps(project),
            slots=slots,
            candidates=sources.local_candidates(project),
            fetched_before=sources.fetched_before(project),
            fetch=runs.fetch_state(slug),
            busy=runs.busy(slug),
            buffer_m=f"{DEFAULT_BUFFER_M:g}",
        )

    @app.post("/p/<slug>/fetch")
    @acting
    def fetch_start(slug: str):
        project = editable(slug)
        form = request.form
        online = form.get("online") == "on"
        pbf = sources.local_file(form.get("pbf", ""), project, "pbf")
        raster = sources.local_file(form.get("raster", ""), project, "raster")
        buffer_m = _number(form.get("buffer_m"))
        work = sources.fetch_into(
            project,
            pbf=pbf,
            raster=raster,
            online=online,
            buffer_m=DEFAULT_BUFFER_M if buffer_m is None else buffer_m,
            replace=form.get("replace") == "on",
        )
        runs.start_fetch(project, work)
        flash(tr("fetch_started", g.lang), "ok")
        return redirect(url_for("inputs", slug=slug) + "#fetch")

    @app.get("/p/<slug>/fetch/status")
    def fetch_status(slug: str):
        project_or_404(slug)
        state = runs.fetch_state(slug)
        return jsonify({"status": "none"} if state is None else state.as_dict())

    @app.post("/p/<slug>/inputs/<slot>")
    @acting
    def inputs_choose(slug: str, slot: str):
        if slot not in ("network", "demand"):
            abort(404)
        project = editable(slug)
        upload = request.files.get("file")
        picked = request.form.get("pick", "")
        tables = project.tables()
        current = dict(tables.get(slot) or {})
        if upload is not None and upload.filename:
            path = project.save_upload(slot, upload.filename, upload)
        elif picked:
            if picked not in project.files_for(slot):
                raise AppError("请从列表中选择文件。", "choose a file from the list")
            path = picked
        elif project.input_table(slot) is not None:
            path = current["path"]  # only the options change
        else:
            raise AppError(*UI["no_file_chosen"])
        table = {"path": path}
        for key in _option_keys(slot, table):
            value = _form_value(key, request.form.get(f"opt_{key.name}"))
            if value is not None:
                table[key.name] = value
        if slot == "network":  # keep the rest of [network] (walking speed …)
            table = {**{k: v for k, v in current.items() if k not in ("path", "credit")}, **table}
        schema.check_table(
            config.PROJECT_FILE.table(slot), table, file="project.toml", label=f"[{slot}]"
        )
        tables[slot] = table
        project.save(tables)
        flash(tr("chosen", g.lang, file=path), "ok")
        return redirect(url_for("inputs", slug=slug))

    @app.get("/p/<slug>/preview.json")
    def preview(slug: str):
        project = project_or_404(slug)
        points = [r.points for r in _reviews(project, None)]
        return jsonify(preview_layers(project, points))

    # ------------------------------------------------------------------ rules

    @app.get("/p/<slug>/rules")
    def rules(slug: str):
        project = project_or_404(slug)
        packs = []
        for pack_id in available_packs():
            try:
                pack = load_pack(pack_id)
            except GeoplanError:
                continue
            packs.append((pack_id, pack.name_zh if g.lang == "zh" else pack.name_en))
        return render_template(
            "rules.html",
            project=project,
            steps=_steps(project),
            rules=project.rules(),
            packs=packs,
            modes=MODES,
            category_groups=_category_groups(g.lang),
            group_options=[(k, v[1 if g.lang == "en" else 0]) for k, v in GROUP_LABELS.items()],
        )

    @app.post("/p/<slug>/rules/add")
    @acting
    def rules_add(slug: str):
        project = editable(slug)
        form = request.form
        cats = [c for c in form.getlist("categories") if c in CATEGORIES or c in GROUPS]
        mode = form.get("mode", "")
        threshold = _number(form.get("threshold_min"))
        target = _number(form.get("target_pct"))
        name_zh = check_name(form.get("name_zh", ""))
        name_en = form.get("name_en", "").strip()
        rules_now = project.rules()
        mapping: dict[str, Any] = {
            "id": _rule_id(cats, mode, threshold, {r.get("id") for r in rules_now}),
            "name_zh": name_zh,
            "name_en": check_name(name_en) if name_en else name_zh,
            "categories": cats,
            "mode": mode,
            "threshold_min": threshold,
        }
        if target is not None:
            mapping["target_share"] = target / 100
        rule = rule_from_mapping(mapping, where="form")
        check_unique_ids([rule_from_mapping(r) for r in rules_now] + [rule], where="rules")
        tables = project.tables()
        tables["rules"] = [*rules_now, {k: v for k, v in mapping.items() if v is not None}]
        project.save(tables)
        flash(tr("rule_added", g.lang, name=name_zh), "ok")
        return redirect(url_for("rules", slug=slug))

    @app.post("/p/<slug>/rules/<int:index>/remove")
    @acting
    def rules_remove(slug: str, index: int):
        project = editable(slug)
        tables = project.tables()
        current = list(tables.get("rules", []))
        if not 0 <= index < len(current):
            abort(404)
        removed = current.pop(index)
        tables["rules"] = current
        project.save(tables)
        flash(tr("rule_removed", g.lang, name=removed.get("name_zh", removed["id"])), "ok")
        return redirect(url_for("rules", slug=slug))

    @app.post("/p/<slug>/rules/pack")
    @acting
    def rules_pack(slug: str):
        project = editable(slug)
        pack_id = request.form.get("pack", "")
        if pack_id not in available_packs():
            abort(404)
        pack = load_pack(pack_id)
        if not pack.circles:
            raise AppError(*UI["pack_no_circles"])
        tables = project.tables()
        tables["rules"] = [
            {k: v for k, v in rule.as_dict().items() if v is not None} for rule in pack.circles
        ]
        project.save(tables)
        name = pack.name_zh if g.lang == "zh" else pack.name_en
        flash(tr("pack_applied", g.lang, name=name, n=len(pack.circles)), "ok")
        return redirect(url_for("rules", slug=slug))

    # ------------------------------------------------------------------ run

    @app.get("/p/<slug>/run")
    def run(slug: str):
        project = project_or_404(slug)
        return render_template(
            "run.html",
            project=project,
            steps=_steps(project),
            missing=_missing(project),
            state=runs.state(slug),
        )

    @app.post("/p/<slug>/run")
    @acting
    def run_start(slug: str):
        project = project_or_404(slug)
        missing = _missing(project)
        if missing:
            raise AppError(
                tr("missing", "zh") + "、".join(tr(k, "zh") for k in missing),
                tr("missing", "en") + " " + ", ".join(tr(k, "en") for k in missing),
            )
        runs.start(project)
        return redirect(url_for("run", slug=slug))

    @app.get("/p/<slug>/run/status")
    def run_status(slug: str):
        project_or_404(slug)
        state = runs.state(slug)
        if state is None:
            return jsonify({"status": "none"})
        data = state.as_dict()
        data["stage_label"] = tr(f"stage_{state.stage or 'report'}", g.lang)
        if state.status == "finished":
            data["result"] = url_for("result", slug=slug, run_id=state.run_id)
        return jsonify(data)

    # ------------------------------------------------------------------ results

    def run_or_404(project: ProjectFolder, run_id: str):
        try:
            return project.run(run_id)
        except KeyError:
            abort(404)

    @app.get("/p/<slug>/runs/<run_id>/")
    def result(slug: str, run_id: str):
        project = project_or_404(slug)
        info = run_or_404(project, run_id)
        files = set(info.files())
        suffix = "" if g.lang == "zh" else "_en"
        return render_template(
            "result.html",
            project=project,
            steps=_steps(project),
            run=info,
            summary=info.summary,
            map_name=f"map{suffix}.html" if f"map{suffix}.html" in files else "map.html",
            report_name=f"report{suffix}.html" if f"report{suffix}.html" in files else None,
            downloads=[(name, key) for name, key in _DOWNLOADS if name in files],
            has_pdf="report.pdf" in files,
        )

    @app.get("/p/<slug>/runs/<run_id>/view/<name>")
    def view(slug: str, run_id: str, name: str):
        info = run_or_404(project_or_404(slug), run_id)
        if name not in info.files():
            abort(404)
        if name not in _VIEWABLE:  # the report's links to its tables: downloads
            return send_from_directory(info.path, name, as_attachment=True)
        response = send_from_directory(info.path, name, mimetype="text/html")
        response.headers["Content-Security-Policy"] = (
            _REPORT_CSP if name.startswith("report") else _VIEW_CSP
        )
        return response

    @app.get("/p/<slug>/runs/<run_id>/download/<name>")
    def download(slug: str, run_id: str, name: str):
        info = run_or_404(project_or_404(slug), run_id)
        if name not in info.files():
            abort(404)
        return send_from_directory(info.path, name, as_attachment=True)


# --------------------------------------------------------------------------- helpers


def _cell(value: Any) -> Any:
    """A table cell for a page: empty for None, NaN and pandas' NA."""
    import pandas as pd

    return "" if value is None or (not isinstance(value, str) and pd.isna(value)) else value


def _steps(project: ProjectFolder) -> list[dict]:
    """The six steps with whether each is done (for the step bar)."""
    has_runs = bool(project.runs())
    return [
        {"key": "step_area", "endpoint": "overview", "done": True},
        {
            "key": "step_facilities",
            "endpoint": "facilities",
            "done": bool(project.facility_tables()),
        },
        {
            "key": "step_inputs",
            "endpoint": "inputs",
            "done": all(project.input_table(s) is not None for s in ("network", "demand")),
        },
        {"key": "step_rules", "endpoint": "rules", "done": bool(project.rules())},
        {"key": "step_run", "endpoint": "run", "done": has_runs},
    ]


def _missing(project: ProjectFolder) -> list[str]:
    """The steps a run still needs (keys of :data:`UI`)."""
    missing = []
    if not project.facility_tables():
        missing.append("step_facilities")
    if project.input_table("network") is None:
        missing.append("network")
    if project.input_table("demand") is None:
        missing.append("demand")
    if not project.rules():
        missing.append("step_rules")
    return missing


def _network(project: ProjectFolder) -> tuple[Any, str]:
    """The chosen network (None when none is chosen or it cannot be read) and why it cannot
    be read ("" when it can, or none is chosen): said on the page, refused by the run."""
    try:
        return network_of(project), ""
    except GeoplanError as exc:
        return None, str(exc)


def _reviews(project: ProjectFolder, network) -> list:
    """The facility files as a run reads them, checked against ``network`` too when given."""
    boundary = boundary_of(project)
    return [
        review_file(project, i, table, boundary=boundary, network=network)
        for i, table in enumerate(project.facility_tables())
    ]


def _columns_from_form(form, headers: list[str], table: dict) -> dict[str, str]:
    """The column mapping chosen on the page: a header per field, ``""`` where the user chose
    "no such column" but the reader would have found one."""
    from ..readers.facilities import map_columns

    auto = map_columns(headers)
    out = {}
    for field in FIELDS:
        chosen = form.get(f"col_{field}")
        if chosen is None:
            continue
        if chosen in headers:
            out[field] = chosen
        elif chosen == "" and field in auto:
            out[field] = ""
    return out


def _categories_from_form(form, current: dict[str, str]) -> dict[str, str]:
    """The category mapping: the page's choices for the types it listed, the rest kept."""
    out = dict(current)
    for key, value in form.items():
        if not key.startswith("type_"):
            continue
        text = form.get(f"text_{key.removeprefix('type_')}", "")
        if not text:
            continue
        if value in CATEGORIES:
            out[text] = value
        else:
            out.pop(text, None)
    return out


def _category_groups(lang: str) -> list[tuple[str, list[tuple[str, str]]]]:
    """Categories by group, labelled in ``lang`` (for selects)."""
    i = 1 if lang == "en" else 0
    out = []
    for group, (zh, en) in GROUP_LABELS.items():
        members = [
            (key, f"{(c.name_en if i else c.name_zh)} · {TIER_LABELS[c.tier][i]}")
            for key, c in CATEGORIES.items()
            if c.group == group
        ]
        out.append(((zh, en)[i], members))
    return out


def _check_label(code: str, lang: str) -> str:
    """The title of a QA check (:data:`geoplan.analysis.qa.QA_CHECKS`) in ``lang``."""
    from ..analysis.qa import QA_CHECKS

    titles = QA_CHECKS.get(code)
    return code if titles is None else titles[2 if lang == "en" else 1]


def _category_label(key: str, lang: str) -> str:
    """A category, tier, group or named-set key's name in ``lang`` (the key itself when it is
    none of them)."""
    try:
        return taxonomy.label(key)[1 if lang == "en" else 0]
    except KeyError:
        return key


def _option_keys(slot: str, table: dict | None) -> list[schema.Key]:
    """The schema's keys a page offers for ``[network]`` / ``[demand]`` (for the file's format)."""
    spec = config.PROJECT_FILE.table(slot)
    keys = [k for k in spec.keys if k.name not in ("path", "credit")]
    if slot != "demand" or table is None:
        return [k for k in keys if isinstance(k.kind, schema.Number | schema.OneOf | schema.Flag)]
    formats = _demand_formats(str(table["path"]))
    return [k for k in keys if not k.applies or set(k.applies) & set(formats)]


def _demand_formats(path: str) -> tuple[str, ...]:
    from .._compressed import is_graphml

    if is_graphml(path):
        return ("graphml_edges",)
    suffix = Path(path).suffix.lower()
    return config.DEMAND_SUFFIX_FORMATS.get(suffix, ("points", "lines", "polygons"))


def _field(key: schema.Key, value: Any, lang: str) -> dict[str, Any]:
    """How a page shows one key of the schema: a short label (the schema's whole meaning
    for a key without one), the meaning, widget, choices, value."""
    meaning = key.zh if lang == "zh" else key.en
    if isinstance(key.kind, schema.OneOf):
        widget, choices = "select", key.kind.values()
    elif isinstance(key.kind, schema.Flag):
        widget, choices = "checkbox", ()
        value = key.default if value is None else value
    else:
        widget, choices = "text", ()
    return {
        "name": key.name,
        "label": tr(f"opt_{key.name}", lang) if f"opt_{key.name}" in UI else meaning,
        "help": meaning,
        "widget": widget,
        "choices": choices,
        "value": value,
        "default": key.default,
    }


def _form_value(key: schema.Key, text: str | None) -> Any:
    """A form field as the key's TOML value (None: left out); wrong values are the schema's
    one-line error."""
    if isinstance(key.kind, schema.Flag):
        return None if text is None else text == "on"
    if text is None or not text.strip():
        return None
    text = text.strip()
    if isinstance(key.kind, schema.Number):
        value = _number(text)  # not empty here: a number or an AppError
        return int(value) if key.kind.integer and value == int(value) else value
    return text


def _number(text: str | None) -> float | None:
    """A number typed into a form (None when empty); AppError when it is not one."""
    if text is None or not str(text).strip():
        return None
    try:
        return float(str(text).strip())
    except ValueError:
        raise AppError(f"“{text}”不是数字。", f"{text!r} is not a number") from None


def _rule_id(categories: list[str], mode: str, threshold: float | None, taken: set) -> str:
    """An id like ``medical_walk_15`` that no other rule of the project has."""
    first = categories[0] if categories else "rule"
    minutes = "" if threshold is None else f"{threshold:g}".replace(".", "_")
    base = re.sub(r"[^A-Za-z0-9_]", "_", f"{first}_{mode}_{minutes}".strip("_"))
    base = base if re.fullmatch(RULE_ID_PATTERN.pattern, base) else f"rule_{base}"
    rule_id, n = base, 1
    while rule_id in taken:
        n += 1
        rule_id = f"{base}_{n}"
    return rule_id
