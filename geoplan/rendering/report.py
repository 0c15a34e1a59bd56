"""Reports of result folders: one self-contained HTML page per area, a PDF, and a gallery.

:func:`write_reports` reads what ``geoplan run/demo``, ``check``, ``scenario`` and ``batch``
wrote into a folder and assembles ``report.html`` (``report_en.html`` in English): the summary
table, per rule a static map (a Chromium screenshot of ``map.html#rule=<id>&static=1``, the
map's print layout with the legend beside it), coverage by unit, the travel-time distribution
and the largest gaps, then the plan checks and scenarios found, data credits and how to
reproduce. Images are embedded as data: URIs; the only links are relative ones to the folder's
own files. A batch folder gets a report per area and a ``gallery.html``.

What a folder holds is decided by its manifest (:mod:`geoplan.results`); a folder without a
complete one is refused:

* a **run** (``geoplan run`` or ``demo``): ``summary.json`` with ``rules`` and
  ``population_total``, ``map.html``, ``gaps.csv`` … beside it;
* a **plan check**: ``checks.csv`` beside a ``summary.json`` holding ``checks``;
* a **scenario**: ``scenario_summary.json``;
* plan checks and scenarios written later into immediate subfolders of one of these (e.g.
  ``out/demo/check/``) are part of its report.

The report's files are added to the result's manifest (``reports``), so a new run removes
them and ``report --overwrite`` replaces exactly the earlier report's files. ``--out`` names
an ``.html`` file (a PDF is printed beside it) or a ``.pdf`` (the HTML beside it); outside the
result folder they are plain files, written whole.
"""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import html
import io
import json
import logging
import math
import os
import shlex
import tempfile
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

import pandas as pd

from .. import _io, taxonomy
from .._paths import DEMO_PROJECT
from ..analysis.coverage import OUTSIDE_UNITS, column
from ..errors import InputError, OutputError, OutputExistsError
from ..plans.packs import KIND_RULE_TYPES
from ..progress import Stages
from ..readers.boundaries import UNIT_TYPES
from ..results import MANIFEST, output_files, read_manifest, report_output, require_complete
from . import browser, charts
from .maps import LANGS

logger = logging.getLogger(__name__)

__all__ = [
    "GAP_ROWS",
    "LANGS",
    "Part",
    "ResultFolder",
    "Shot",
    "Written",
    "gallery_areas",
    "gallery_html",
    "read_results",
    "write_reports",
]

GAP_ROWS = 20
"""Gap areas listed per rule (the largest by uncovered residents)."""
MAX_UNITS_IN_CHART = 40
"""Units drawn in a coverage-by-unit chart: those with the lowest shares when there are more."""
MAP_WINDOW = (1200, 1100)
"""Static maps: browser window in CSS pixels, rendered at :data:`MAP_SCALE` (print quality).

The map's static layout puts its legend beside the map (below it if it does not fit), with
text 1.8 % of the window's width: printed :data:`PRINT_WIDTH_MM` wide, 9.3 pt."""
MAP_SCALE = 1.5
PAGE_MARGINS_MM = (15, 14, 16)
"""A4 page margins of the PDF (mm): top, left and right, bottom."""
PRINT_WIDTH_MM = 210 - 2 * PAGE_MARGINS_MM[1]
"""Width of the PDF's text column (mm), the printed width of a static map."""
THUMB_WIDTH_PX = 480
"""Width of a gallery thumbnail (pixels)."""
FONT_STACK = (
    '"Noto Sans CJK SC", "Source Han Sans SC", "PingFang SC", "Microsoft YaHei", sans-serif'
)
_STAGES = ("maps", "report", "pdf")
"""The stages of writing one report."""
_HINT = "pass the --out folder of geoplan run, demo, check, scenario or batch"

_STATUS = {
    "met": ("达标", "met"),
    "not met": ("未达标", "not met"),
    "reported": ("仅报告", "reported"),
    "no data": ("无数据", "no data"),
    "no target": ("无目标", "no target"),
    "not applicable": ("不适用", "not applicable"),
    "not computable": ("无法计算", "not computable"),
    "not computable from the inputs": ("无法由输入计算", "not computable from the inputs"),
    "not modelled": ("未建模", "not modelled"),
    "incomplete data": ("数据不全", "incomplete data"),
    "context, not a target": ("背景数据，非目标", "context, not a target"),
}
_RULE_TYPES = {
    "circle": ("服务圈", "circle"),
    "presence": ("设置要求", "presence"),
    "ratio": ("配置指标", "ratio"),
    **KIND_RULE_TYPES,
    "not_modelled": ("未建模", "not modelled"),
}
_VALUE_UNITS = {
    "% of residents": ("% 居民", "% of residents"),
    "per 1,000 residents": ("每千人", "per 1,000 residents"),
    "per 10,000 residents": ("每万人", "per 10,000 residents"),
    "per 100,000 residents": ("每十万人", "per 100,000 residents"),
    "m² per resident": ("平方米/人", "m² per resident"),
    "% of facilities": ("% 机构", "% of facilities"),
    "facilities in the unit": ("单元内机构数", "facilities in the unit"),
    "facilities in the area": ("全域机构数", "facilities in the area"),
    "units meeting the rule": ("达标单元数", "units meeting the rule"),
}
_ACTIONS = {"move": ("迁移", "move"), "close": ("关闭", "close"), "add": ("新增", "add")}
_INPUT_LABELS = {
    "network": ("路网", "network"),
    "demand": ("人口", "population"),
    "facilities": ("设施", "facilities"),
    "boundary": ("边界", "boundary"),
    "units": ("行政单元", "units"),
    "geocode": ("地理编码地名", "geocoding gazetteer"),
}
_TEXT = {
    "hypothetical": (
        "假设情景：本报告中的设施为设定的假设情景，并非真实设施，结果不反映现状。",
        "Hypothetical scenario: the facilities in this report are an authored scenario, not "
        "real facilities; the results do not describe the current state.",
    ),
    "sites_note": (
        "选址为模型建议，供规划比选；新增覆盖按同一路网和人口重新计算。",
        "Sites are a model's proposals for planners to weigh; coverage after is recomputed on "
        "the same network and population.",
    ),
    "inclusive": (
        "服务圈阈值含端点：恰好 15.0 分钟的居民计入 15 分钟圈。",
        "Thresholds are inclusive: a resident exactly 15.0 minutes away is inside a "
        "15-minute circle.",
    ),
    "unit_caption": (
        "各单元覆盖人口比例；虚线为目标；区域外居民不计入任何单元。",
        "Share of residents covered per unit; the dashed line is the target; residents outside "
        "every unit count in no unit.",
    ),
    "time_caption": (
        "按人口加权的累计比例：横轴为到最近设施的出行时间，虚线为时间阈值，点线为目标。",
        "Population-weighted cumulative share by minutes to the nearest facility; dashed: the "
        "threshold, dotted: the target.",
    ),
    "no_units": (
        "缺少 coverage_by_unit.csv，仅显示全部居民。",
        "coverage_by_unit.csv is missing: all residents only.",
    ),
    "no_points": (
        "缺少 coverage_points.csv：无出行时间分布图。",
        "coverage_points.csv is missing: no travel-time chart.",
    ),
    "gap_title": ("缺口列表（未覆盖居民最多的区域）", "Gap list (where most uncovered live)"),
    "unreachable": (
        "不可达：从该处沿此出行方式可用的道路无法到达任何设施（如被单行道或通行限制隔断），"
        "既不计入覆盖，也单独列入缺口列表。",
        "Unreachable: no facility can be reached from there on the streets the mode may use "
        "(cut off by one-way streets or access restrictions); never counted as covered, and "
        "listed apart in the gap list.",
    ),
    "no_gaps_file": ("缺少 gaps.csv。", "gaps.csv is missing."),
    "no_gaps": ("没有未覆盖的居民。", "No uncovered residents."),
    "not_plan_area": (
        "项目区域不是该规划所在地区：规划目标仅作对照。",
        "The project area is not the plan's place: its targets serve as a comparison.",
    ),
    "gain_lose": (
        "新增覆盖：调整后才在服务圈内的居民；失去覆盖：调整前在、调整后不在服务圈内的居民"
        "（见 changed_points.csv）。",
        "Gain access: residents inside the circle only after the change; lose access: only "
        "before (changed_points.csv).",
    ),
    "scenario_map": (
        "情景推演地图（绿：新增覆盖，红：失去覆盖）",
        "Scenario map (green: gain access, red: lose access)",
    ),
    "hypothetical_facilities": (
        "设施：假设情景（非真实设施）。",
        "Facilities: a hypothetical scenario (not real facilities).",
    ),
    "run_json": (
        "参数、软件版本与输入文件校验值见 run.json。",
        "Parameters, versions and input checksums: run.json.",
    ),
    "no_cjk_font": (
        "未找到中文字体：图表使用英文标签（请安装 fonts-noto-cjk）。",
        "No CJK font found: the charts use English labels (install fonts-noto-cjk).",
    ),
    "gallery_no_chromium": (
        "未找到 Chromium：没有地图缩略图。",
        "Chromium was not found: no map thumbnails.",
    ),
}


# --------------------------------------------------------------------------- reading


@dataclass(frozen=True)
class Part:
    """One command's output: its folder and its summary (JSON)."""

    folder: Path
    summary: dict


@dataclass(frozen=True)
class ResultFolder:
    """What a result folder holds: a run, plan checks, scenarios and site selections (each
    may be absent)."""

    path: Path
    run: Part | None
    checks: tuple[Part, ...] = ()
    scenarios: tuple[Part, ...] = ()
    sites: tuple[Part, ...] = ()

    @property
    def area(self) -> tuple[str, str]:
        """``(area, area_en)`` from the first part that names it."""
        for part in (self.run, *self.scenarios, *self.sites):
            if part is not None:
                return str(part.summary["area"]), str(part.summary.get("area_en") or "")
        project = self.checks[0].summary.get("project", {}) if self.checks else {}
        return str(project.get("area", "")), str(project.get("area_en") or "")

    def area_in(self, lang: str) -> str:
        """The area's name in ``lang``: in English ``area_en``, else the Chinese name."""
        zh, en = self.area
        return zh if lang == "zh" else (en or zh)

    @property
    def hypothetical(self) -> bool:
        """True if any part says its facilities are a hypothetical scenario."""
        parts = (self.run, *self.scenarios, *self.sites)
        flags = [p.summary.get("facilities_hypothetical") for p in parts if p]
        flags += [p.summary.get("project", {}).get("facilities_hypothetical") for p in self.checks]
        return any(bool(flag) for flag in flags)


def _read_json(path: Path) -> dict:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(
            f"{path}: cannot be read as JSON ({exc}); re-run the command that wrote it"
        ) from None
    if not isinstance(data, dict):
        raise InputError(f"{path}: not a geoplan summary (a JSON object was expected)")
    return data


REPORTED = ("run", "demo", "check", "scenario")
"""Commands whose result folders get a report (a ``batch`` folder gets a gallery)."""


SITES_SUMMARIES = ("summary.json", "catchments_summary.json")
"""What ``geoplan sites`` writes (``summary.json`` with ``sites``) and ``geoplan catchments``
(``catchments_summary.json`` with ``hubs``)."""


def _part(folder: Path, command: str) -> tuple[str, Part]:
    """``(kind, part)`` of the result ``command`` wrote into ``folder`` (checked)."""
    if command in ("sites", "catchments"):
        name = next((n for n in SITES_SUMMARIES if (folder / n).is_file()), SITES_SUMMARIES[0])
        summary = _read_json(folder / name)
        if not ({"sites", "rule"} <= summary.keys() or {"hubs", "per_hub"} <= summary.keys()):
            raise InputError(f"{folder / name}: not a geoplan sites summary")
        return "sites", Part(folder, summary)
    if command == "scenario":
        summary = _read_json(folder / "scenario_summary.json")
        if not {"rules", "area"} <= summary.keys():
            raise InputError(f"{folder / 'scenario_summary.json'}: not a geoplan scenario summary")
        return "scenario", Part(folder, summary)
    summary = _read_json(folder / "summary.json")
    if command == "check":
        if "checks" not in summary:
            raise InputError(f"{folder / 'summary.json'}: not a geoplan check summary")
        return "check", Part(folder, summary)
    if not {"rules", "area", "population_total"} <= summary.keys():
        raise InputError(f"{folder / 'summary.json'}: not a geoplan run summary")
    return "run", Part(folder, summary)


def _subfolders(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))


def _existing_folder(folder: str | Path) -> Path:
    folder = Path(folder)
    if not folder.is_dir():
        raise InputError(f"{folder} is not a folder; {_HINT}")
    return folder


def read_results(folder: str | Path, notes: list[str] | None = None) -> ResultFolder:
    """The result in ``folder`` and the results written into its subfolders afterwards.

    ``folder`` must hold a complete result of ``run``, ``demo``, ``check`` or ``scenario``
    (:func:`geoplan.results.require_complete`). A plan check or scenario in an immediate
    subfolder (and a ``sites`` or ``catchments`` result) is included when its manifest names
    this result as its parent; one written
    into an earlier result of the folder is left out, and said so in ``notes``.

    Raises
    ------
    InputError
        If ``folder`` holds no complete result, or an included part was changed or is
        incomplete.
    """
    folder = _existing_folder(folder)
    manifest = require_complete(folder, commands=REPORTED)
    parts: dict[str, list[Part]] = {"run": [], "check": [], "scenario": [], "sites": []}
    kind, part = _part(folder, manifest["command"])
    parts[kind].append(part)
    for sub in _subfolders(folder):
        child = read_manifest(sub)
        if child is None:
            summaries = ("scenario_summary.json", *SITES_SUMMARIES)
            if any((sub / name).is_file() for name in summaries):
                _note(notes, f"{sub} has no {MANIFEST}: left out of the report; write it again")
            continue
        if (child.get("parent") or {}).get("id") != manifest["id"]:
            _note(
                notes,
                f"{sub} was written into an earlier result of {folder} (geoplan "
                f"{child.get('command')}): left out of the report; write it again",
            )
            continue
        if child.get("command") in ("check", "scenario", "sites", "catchments"):
            require_complete(sub)
            kind, part = _part(sub, child["command"])
            parts[kind].append(part)
    run = parts["run"][0] if parts["run"] else None
    return ResultFolder(
        folder, run, tuple(parts["check"]), tuple(parts["scenario"]), tuple(parts["sites"])
    )


def _note(notes: list[str] | None, text: str) -> None:
    """Add ``text`` to the notes the caller prints, else log it."""
    if notes is not None:
        notes.append(text)
    else:
        logger.warning("%s", text)


def gallery_areas(folder: str | Path) -> list[Path]:
    """The area result folders of a ``geoplan batch`` folder, or [] for any other folder."""
    folder = _existing_folder(folder)
    manifest = read_manifest(folder)
    if manifest is None or manifest.get("command") != "batch":
        return []
    return [
        folder / entry["path"]
        for entry in manifest.get("results", [])
        if entry.get("command") in ("run", "demo")
    ]


def _csv(path: Path, **kwargs) -> pd.DataFrame | None:
    """A CSV written by geoplan (UTF-8 with BOM), or None if it is missing."""
    if not path.is_file():
        return None
    try:
        return pd.read_csv(path, encoding="utf-8-sig", **kwargs)
    except (ValueError, UnicodeDecodeError, pd.errors.ParserError) as exc:
        raise InputError(
            f"{path}: cannot be read ({exc}); re-run the command that wrote it"
        ) from None


# --------------------------------------------------------------------------- formatting

_e = html.escape


_PER_ZH = {"facility": "个设施", "catchment": "个片区", "category": "类设施", "rule": "条规则"}
"""How ``[service_areas] per`` reads in Chinese."""


class _Tr:
    """The report's language: picks zh or en text."""

    def __init__(self, lang: str) -> None:
        self.lang = lang

    def __call__(self, zh: str, en: str) -> str:
        return zh if self.lang == "zh" else en

    def text(self, key: str) -> str:
        """A fixed sentence of :data:`_TEXT`."""
        return self(*_TEXT[key])

    def pair(self, table: dict[str, tuple[str, str]], key: object) -> str:
        """A label from a ``key -> (zh, en)`` table; unknown keys as they are."""
        zh, en = table.get(str(key), (str(key), str(key)))
        return self(zh, en)

    def name(self, item: dict, key: str = "name") -> str:
        """``item[key_zh]`` or ``item[key_en]`` by language, the other when one is empty."""
        first, second = (f"{key}_zh", f"{key}_en")[:: 1 if self.lang == "zh" else -1]
        return str(item.get(first) or item.get(second) or item.get("id") or "")

    def label(self, key: object) -> str:
        """A schema label (category, tier or group key)."""
        try:
            return self(*taxonomy.label(str(key)))
        except KeyError:
            return str(key or "")


def _missing(value: object) -> bool:
    if value is None:
        return True
    try:
        return not math.isfinite(float(value))
    except (TypeError, ValueError):
        return True


def _bands(summary: dict) -> dict[str, dict]:
    """The sensitivity band of each rule (summary.json ``sensitivity``), by rule id."""
    sensitivity = summary.get("sensitivity") or {}
    return {str(band["id"]): band for band in sensitivity.get("rules", [])}


def _band(band: dict | None) -> str:
    """``38.2 %–55.1 %``; ``–`` without a band."""
    if band is None:
        return "–"
    return f"{_pct(band.get('share_min'))}–{_pct(band.get('share_max'))}"


def _pct(share: object) -> str:
    """A share (0–1) as a percentage with one decimal, as in the summary table."""
    return "–" if _missing(share) else f"{float(share):.1%}"


def _target(share: object) -> str:
    if _missing(share):
        return "–"
    return f"{float(share):.0%}" if round(float(share) * 100, 6).is_integer() else _pct(share)


def _num(value: object, digits: int = 0) -> str:
    return "–" if _missing(value) else f"{float(value):,.{digits}f}"


def _table(
    head: Sequence[str],
    rows: Iterable[Sequence[str]],
    *,
    num: Sequence[int] = (),
    nowrap: Sequence[int] = (),
) -> str:
    """An HTML table of cells that are HTML already; ``num`` columns align right, ``nowrap``
    columns do not wrap."""

    def cell(tag: str, k: int, content: str) -> str:
        css = " ".join(c for c, cols in (("num", num), ("nw", nowrap)) if k in cols)
        return f"<{tag} class='{css}'>{content}</{tag}>" if css else f"<{tag}>{content}</{tag}>"

    head_html = "".join(cell("th", k, h) for k, h in enumerate(head))
    body = "".join(
        "<tr>" + "".join(cell("td", k, c) for k, c in enumerate(row)) + "</tr>" for row in rows
    )
    return f"<table><thead><tr>{head_html}</tr></thead><tbody>{body}</tbody></table>"


def _data_uri(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def _href(target: Path, start: Path) -> str:
    """A relative, URL-quoted, escaped link from a page in ``start`` to ``target``."""
    rel = os.path.relpath(target.resolve(), start.resolve())
    return _e(quote(Path(rel).as_posix()), quote=True)


def _now() -> str:
    return dt.datetime.now().strftime("%Y-%m-%d %H:%M")


def _met(met: object, tr: _Tr) -> str:
    if met is None:
        return f"<span class='muted'>{tr('无目标', 'no target')}</span>"
    if met:
        return f"<span class='ok'>✓ {tr('达标', 'met')}</span>"
    return f"<span class='bad'>✗ {tr('未达标', 'not met')}</span>"


def _status(status: object, tr: _Tr) -> str:
    css = {"met": "ok", "not met": "bad"}.get(str(status), "muted")
    return f"<span class='{css}'>{_e(tr.pair(_STATUS, status))}</span>"


def _blank(value: object) -> bool:
    return value is None or str(value) in ("", "nan", "None")


def _page(title: str, lang: str, body: str, *, css: str = "") -> str:
    """A whole self-contained HTML document."""
    return (
        f"<!DOCTYPE html>\n<html lang='{'zh-CN' if lang == 'zh' else 'en'}'><head>"
        "<meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width, initial-scale=1'>"
        f"<title>{_e(title)}</title><style>{CSS}{css}</style></head><body><main>\n"
        f"{body}\n</main></body></html>\n"
    )


# --------------------------------------------------------------------------- images


@dataclass
class Shot:
    """A screenshot: PNG bytes, or the note saying why there is none."""

    png: bytes | None = None
    note: str = ""


@dataclass
class _Browser:
    """Chromium for screenshots and PDFs, or the reason it is unavailable."""

    binary: str | None
    reason: str = ""

    @classmethod
    def find(cls) -> _Browser:
        try:
            return cls(browser.find_chromium())
        except FileNotFoundError as exc:  # said once, in the notes of write_reports
            return cls(None, str(exc))

    def shoot(self, jobs: dict[str, tuple[Path, str]], tr: _Tr) -> dict[str, Shot]:
        """Screenshots of ``key -> (html file, fragment)``, a few Chromiums at a time."""
        if self.binary is None:
            note = tr(
                f"未找到 Chromium，没有地图图片（{self.reason}）",
                f"No map image: Chromium was not found ({self.reason})",
            )
            return {key: Shot(note=note) for key in jobs}
        if not jobs:
            return {}
        with tempfile.TemporaryDirectory(prefix="geoplan-report-") as tmp:

            def one(item: tuple[int, tuple[str, tuple[Path, str]]]) -> tuple[str, Shot]:
                k, (key, (page, fragment)) = item
                if not page.is_file():
                    return key, Shot(note=tr(f"缺少 {page.name}", f"{page.name} is missing"))
                out = Path(tmp) / f"shot-{k}.png"
                try:
                    browser.screenshot(
                        page,
                        out,
                        fragment=fragment,
                        width=MAP_WINDOW[0],
                        height=MAP_WINDOW[1],
                        scale=MAP_SCALE,
                        chromium=self.binary,
                    )
                except (RuntimeError, OSError) as exc:
                    first = str(exc).splitlines()[0]
                    logger.warning("screenshot of %s failed: %s", page, first)
                    return key, Shot(
                        note=tr(f"地图截图失败：{first}", f"Screenshot failed: {first}")
                    )
                return key, Shot(png=out.read_bytes())

            workers = max(1, min(4, os.cpu_count() or 1, len(jobs)))
            with ThreadPoolExecutor(max_workers=workers) as pool:
                return dict(pool.map(one, enumerate(jobs.items())))


def _figure(png: bytes | None, caption: str, note: str = "") -> str:
    """An embedded PNG with its caption, or the note in its place."""
    if png is None:
        return f"<div class='note image-note'>{_e(note)}</div>"
    return (
        f"<figure><img src='{_data_uri(png)}' alt='{_e(caption, quote=True)}'>"
        f"<figcaption>{_e(caption)}</figcaption></figure>"
    )


def _thumbnail(png: bytes) -> bytes:
    """A :data:`THUMB_WIDTH_PX` wide copy of a screenshot (PNG)."""
    from PIL import Image

    with Image.open(io.BytesIO(png)) as image:
        height = round(image.height * THUMB_WIDTH_PX / image.width)
        small = image.convert("RGB").resize((THUMB_WIDTH_PX, height), Image.Resampling.LANCZOS)
    buffer = io.BytesIO()
    small.save(buffer, format="PNG", optimize=True)
    return buffer.getvalue()


# --------------------------------------------------------------------------- one report

CSS = f"""
:root {{ --ink:#1d2733; --muted:#5f6b7a; --line:#d5dbe3; --accent:#1f3d5c; --bad:#b3261e;
  --ok:#1b7f3b; --note-bg:#fff4e5; --note:#b45309; }}
* {{ box-sizing:border-box; }}
body {{ font-family:{FONT_STACK}; color:var(--ink); margin:0; background:#f4f6f8;
  line-height:1.55; font-size:15px; }}
main {{ max-width:1040px; margin:0 auto; background:#fff; padding:36px 48px 48px; }}
h1 {{ font-size:26px; margin:0 0 4px; color:var(--accent); }}
h2 {{ font-size:20px; margin:0 0 12px; padding-bottom:6px; color:var(--accent);
  border-bottom:2px solid var(--accent); }}
h3 {{ font-size:16px; margin:22px 0 8px; }}
section {{ margin-top:40px; }}
.subtitle {{ color:var(--muted); margin:0 0 14px; }}
.meta {{ display:grid; grid-template-columns:max-content 1fr; gap:2px 16px; margin:10px 0 18px;
  font-size:14px; }}
.meta dt {{ color:var(--muted); }}
.meta dd {{ margin:0; }}
.warning {{ border:2px solid var(--bad); background:#fdecea; color:#7a1712; padding:12px 16px;
  border-radius:6px; font-weight:700; margin:14px 0; font-size:16px; }}
.note {{ background:var(--note-bg); border-left:4px solid var(--note); padding:8px 12px;
  margin:10px 0; font-size:14px; }}
.image-note {{ min-height:80px; display:flex; align-items:center; }}
.muted {{ color:var(--muted); }}
.ok {{ color:var(--ok); font-weight:700; white-space:nowrap; }}
.bad {{ color:var(--bad); font-weight:700; white-space:nowrap; }}
table {{ border-collapse:collapse; width:100%; margin:8px 0 12px; font-size:13.5px; }}
th, td {{ border-bottom:1px solid var(--line); padding:5px 8px; text-align:left;
  vertical-align:top; }}
th {{ background:#eef2f6; font-weight:700; }}
.num {{ text-align:right; font-variant-numeric:tabular-nums; white-space:nowrap; }}
.nw {{ white-space:nowrap; }}
tr {{ break-inside:avoid; }}
figure {{ margin:14px 0 20px; break-inside:avoid; }}
figure img {{ width:100%; height:auto; border:1px solid var(--line); display:block; }}
figcaption {{ color:var(--muted); font-size:13px; margin-top:4px; }}
.contents {{ padding-left:1.2em; }}
.contents li {{ margin:2px 0; list-style:none; }}
.headline {{ font-size:16px; margin:6px 0 12px; }}
code, pre {{ font-family:"Noto Sans Mono CJK SC", "DejaVu Sans Mono", monospace; font-size:13px;
  background:#f1f3f5; border-radius:3px; }}
code {{ padding:1px 4px; word-break:break-all; }}
pre {{ padding:10px 12px; white-space:pre-wrap; word-break:break-all; }}
small, .small {{ font-size:12.5px; }}
footer {{ margin-top:40px; color:var(--muted); font-size:12.5px; padding-top:10px;
  border-top:1px solid var(--line); }}
@page {{ size:A4; margin:{PAGE_MARGINS_MM[0]}mm {PAGE_MARGINS_MM[1]}mm {PAGE_MARGINS_MM[2]}mm; }}
@media print {{
  body {{ background:#fff; font-size:10.5pt; }}
  main {{ max-width:none; padding:0; }}
  section.page {{ break-before:page; margin-top:0; }}
  h2, h3 {{ break-after:avoid; }}
  table {{ font-size:9pt; }}
  thead {{ display:table-header-group; }}
  a {{ color:inherit; text-decoration:none; }}
  .warning, .note, th {{ -webkit-print-color-adjust:exact; print-color-adjust:exact; }}
}}
"""


def _map_page(run_folder: Path, lang: str) -> Path:
    """The map to show: ``map_<lang>.html`` when the run wrote one, else ``map.html``."""
    own = run_folder / f"map_{lang}.html"
    return own if own.is_file() else run_folder / "map.html"


def _shot_jobs(results: ResultFolder, lang: str) -> dict[str, tuple[Path, str]]:
    """The screenshots a report needs: each rule's static map, each scenario's map."""
    jobs: dict[str, tuple[Path, str]] = {}
    if results.run is not None:
        page = _map_page(results.run.folder, lang)
        for rule in results.run.summary["rules"]:
            jobs[f"rule:{rule['id']}"] = (page, f"rule={quote(str(rule['id']))}&static=1")
    for k, part in enumerate(results.scenarios):
        jobs[f"scenario:{k}"] = (part.folder / "scenario_map.html", "static=1")
    return jobs


@dataclass
class _Report:
    """One report's inputs and its HTML, section by section."""

    results: ResultFolder
    lang: str
    out: Path
    chrome: _Browser
    font: charts.ChartFont = field(default_factory=charts.chart_font)
    shots: dict[str, Shot] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.tr = _Tr(self.lang)
        self.run = self.results.run.summary if self.results.run else None
        run_json = self.results.run.folder / "run.json" if self.results.run else None
        self.record = _read_json(run_json) if run_json and run_json.is_file() else {}

    # -- header

    def area(self) -> str:
        return self.results.area_in(self.lang)

    def title(self) -> str:
        return self.tr(
            f"{self.area()} 设施可达性评估报告", f"{self.area()}: facility access report"
        )

    def run_date(self) -> str:
        """``finished_at`` of run.json when recorded, else the results' file time."""
        for key in ("finished_at", "started_at"):
            if self.record.get(key):
                return _e(str(self.record[key]).replace("T", " ")[:16])
        r = self.results
        if r.run is not None:
            source = r.run.folder / ("run.json" if self.record else "summary.json")
        elif r.checks:
            source = r.checks[0].folder / "summary.json"
        else:
            source = r.scenarios[0].folder / "scenario_summary.json"
        stamp = dt.datetime.fromtimestamp(source.stat().st_mtime).strftime("%Y-%m-%d %H:%M")
        return f"{stamp} <span class='muted'>({self.tr('文件时间', 'file time')})</span>"

    def header(self) -> str:
        tr = self.tr
        zh, en = self.results.area
        other = en if self.lang == "zh" else zh
        parts = [f"<h1>{_e(self.title())}</h1>"]
        if other and other != self.area():
            parts.append(f"<p class='subtitle'>{_e(other)}</p>")
        meta = [
            (tr("区域", "Area"), _e(self.area())),
            (tr("计算日期", "Run date"), self.run_date()),
            (tr("报告生成", "Report written"), _now()),
            (tr("结果文件夹", "Result folder"), f"<code>{_e(str(self.results.path))}</code>"),
        ]
        parts.append(
            "<dl class='meta'>" + "".join(f"<dt>{k}</dt><dd>{v}</dd>" for k, v in meta) + "</dl>"
        )
        if self.results.hypothetical:
            parts.append(f"<div class='warning' role='alert'>⚠ {_e(tr.text('hypothetical'))}</div>")
        notes = [
            str(note)
            for part in (self.results.run, *self.results.scenarios)
            if part is not None
            for note in part.summary.get(f"notes_{self.lang}", [])
        ]
        if notes:
            items = "".join(f"<li>{_e(n)}</li>" for n in dict.fromkeys(notes))
            parts.append(f"<h3>{tr('说明', 'Notes')}</h3><ul>{items}</ul>")
        parts.append(self.contents())
        parts += [f"<div class='note'>{_e(note)}</div>" for note in self.notices()]
        return "\n".join(parts)

    def contents(self) -> str:
        """What this report holds and, plainly, what the folder lacks."""
        tr = self.tr
        items = []

        def item(present: bool, label: str, file: str, fix: str) -> None:
            mark = "<span class='ok'>✓</span>" if present else "<span class='bad'>✗</span>"
            text = f"{_e(label)} <span class='muted'>({_e(file)})</span>"
            if not present:
                text += f" — {tr('未找到', 'not found')}: {fix}"
            items.append(f"<li>{mark} {text}</li>")

        run = "<code>geoplan run PROJECT.toml --out DIR</code>"
        item(
            self.run is not None,
            tr("覆盖率计算", "Coverage run"),
            "summary.json",
            tr(f"请运行 {run}", f"run {run}"),
        )
        if self.results.run is not None:
            folder = self.results.run.folder
            for name, zh, en in (
                (_map_page(folder, self.lang).name, "交互地图", "Interactive map"),
                ("coverage_by_unit.csv", "各单元覆盖率", "Coverage by unit"),
                ("coverage_points.csv", "出行时间分布", "Travel-time distribution"),
                ("gaps.csv", "缺口列表", "Gap list"),
            ):
                item(
                    (folder / name).is_file(),
                    tr(zh, en),
                    name,
                    tr(f"请用 {run} 重新生成", f"re-run {run}"),
                )
        check = "<code>geoplan check PROJECT.toml --plan PLAN --out DIR/check</code>"
        item(
            bool(self.results.checks),
            tr("规划指标核查", "Plan check"),
            "checks.csv",
            tr(f"请运行 {check}，再生成报告", f"run {check}, then this report again"),
        )
        scenario = "<code>geoplan scenario SCENARIO.toml --out DIR/scenario</code>"
        item(
            bool(self.results.scenarios),
            tr("情景推演", "What-if scenario"),
            "scenario_summary.json",
            tr(f"请运行 {scenario}，再生成报告", f"run {scenario}, then this report again"),
        )
        sites = "<code>geoplan sites PROJECT.toml --rule RULE … --out DIR/sites</code>"
        item(
            bool(self.results.sites),
            tr("选址", "Site selection"),
            "selected.csv",
            tr(f"请运行 {sites}，再生成报告", f"run {sites}, then this report again"),
        )
        return (
            f"<h3>{tr('本报告内容', 'In this report')}</h3>"
            f"<ul class='contents'>{''.join(items)}</ul>"
        )

    def notices(self) -> list[str]:
        notes = []
        if not self.font.cjk:
            notes.append(self.tr.text("no_cjk_font"))
        if self.chrome.binary is None:
            notes.append(
                self.tr(
                    f"未找到 Chromium：没有静态地图，也没有 PDF（{self.chrome.reason}）。",
                    f"Chromium was not found: no static maps and no PDF ({self.chrome.reason}).",
                )
            )
        return notes

    # -- summary

    def summary(self) -> str:
        if self.run is None:
            return ""
        tr, s = self.tr, self.run
        bands = _bands(s)
        rows = []
        for rule in s["rules"]:
            kinds = " / ".join(tr.label(c) for c in rule.get("categories", []))
            row = [
                f"{_e(tr.name(rule))}<br><small class='muted'>{_e(kinds)}</small>",
                _e(tr(*charts.mode_label(rule))),
                _num(rule.get("threshold_min"), 0),
                _num(rule.get("population_covered")),
                f"<b>{_pct(rule.get('share_covered'))}</b>",
            ]
            if bands:
                row.append(_band(bands.get(rule["id"])))
            row += [
                _target(rule.get("target_share")),
                _met(rule.get("met"), tr),
                _num(rule.get("population_unreachable")),
            ]
            rows.append(row)
        head = [
            tr("规则", "Rule"),
            tr("出行方式", "Mode"),
            tr("阈值（分钟）", "Threshold (min)"),
            tr("覆盖人口", "Residents covered"),
            tr("覆盖率", "Share"),
            *([tr("敏感性区间", "Sensitivity band")] if bands else []),
            tr("目标", "Target"),
            tr("是否达标", "Target met"),
            tr("不可达人口", "Unreachable"),
        ]
        total, points = _num(s.get("population_total")), _num(s.get("demand_points"))
        fac = {k: s.get("facilities", {}).get(k, "–") for k in ("read", "used", "rejected")}
        lines = [
            tr(
                f"总人口 {total} 人（{points} 个需求点）。",
                f"{total} residents ({points} demand points).",
            ),
            tr(
                f"设施记录 {fac['read']} 条，使用 {fac['used']} 条，剔除 {fac['rejected']} 条"
                "（原因见 rejects.csv）。",
                f"Facility records: {fac['read']} read, {fac['used']} used, {fac['rejected']} "
                "rejected (reasons in rejects.csv).",
            ),
        ]
        far = s.get("demand_far_from_road") or {}
        if far.get("points"):
            people, metres = _num(far.get("population")), _num(far.get("threshold_m"))
            lines.append(
                tr(
                    f"{people} 名居民（{far['points']} 个点）距道路超过 {metres} 米，"
                    "其出行时间含直线接驳段。",
                    f"{people} residents ({far['points']} points) are more than {metres} m from "
                    "a road; their times include a straight access leg.",
                )
            )
        lines += self.network_lines()
        lines += self.sensitivity_lines()
        lines += self.service_area_lines()
        lines += [
            str(w.get(f"message_{self.lang}") or w.get("message_en", ""))
            for w in s.get("warnings", [])
        ]
        if bands:  # the band is column 5: later columns move one right
            num, nowrap = (2, 3, 4, 5, 6, 8), (1, 5, 7)
        else:
            num, nowrap = (2, 3, 4, 5, 7), (1, 6)
        return (
            f"<section id='summary'><h2>{tr('概要', 'Summary')}</h2>"
            + "".join(f"<p>{_e(line)}</p>" for line in lines)
            + _table(head, rows, num=num, nowrap=nowrap)
            + f"<p class='small muted'>{_e(tr.text('unreachable'))}</p>"
            + f"<p class='small muted'>{_e(tr.text('inclusive'))}</p></section>"
        )

    def sensitivity_lines(self) -> list[str]:
        """What a [sensitivity] run varied, and how the bands read."""
        tr, sensitivity = self.tr, self.run.get("sensitivity")
        if not sensitivity:
            return []
        walks = sensitivity.get("walk_speed_m_per_min") or []
        factors = sensitivity.get("speed_factor") or []
        zh, en = [], []
        if len(walks) > 1:
            values = "、".join(_num(w) for w in walks)
            zh.append(f"步行速度 {values} 米/分钟")
            en.append(f"walking at {', '.join(_num(w) for w in walks)} m/min")
        if len(factors) > 1:
            zh.append(f"车辆速度乘以 {'、'.join(f'{f:g}' for f in factors)}")
            en.append(f"vehicle speeds × {', '.join(f'{f:g}' for f in factors)}")
        runs = len(sensitivity.get("runs", []))
        return [
            tr(
                f"敏感性分析：以{'，'.join(zh) or '相同参数'}重算各规则（共 {runs} 组），"
                "“敏感性区间”为各组覆盖率的最小值–最大值；覆盖率一栏为项目设定参数下的结果。",
                f"Sensitivity: every rule rerun with {' and '.join(en) or 'the same settings'} "
                f"({runs} runs); the band is the lowest–highest share of those runs, the share "
                "column the result with the project's own settings.",
            )
        ]

    def service_area_lines(self) -> list[str]:
        """Where the run's service areas are (display layers; coverage is per resident)."""
        tr, areas = self.tr, self.run.get("service_areas")
        if not areas:
            return []
        polygons = tr("，", ", ").join(
            f"{r['rule_id']} {r['polygons']}" for r in areas.get("rules", [])
        )
        width = _num(areas.get("width_m"))
        return [
            tr(
                f"服务范围（每{_PER_ZH.get(areas.get('per'), areas.get('per'))}，街道两侧各 "
                f"{width} 米）见 {areas.get('file')} 与交互地图（多边形数：{polygons}）；仅供展示，"
                "覆盖率按每位居民的出行时间计算。",
                f"Service areas (per {areas.get('per')}, {width} m either side of the streets) "
                f"are in {areas.get('file')} and the interactive map (polygons: {polygons}); "
                "display only, coverage is decided per resident.",
            )
        ]

    def network_lines(self) -> list[str]:
        """What the run's [network] settings did: residents joined to the main network, the
        terrain walked."""
        tr, network = self.tr, self.run.get("network") or {}
        lines = []
        terrain = network.get("terrain")
        if terrain:
            lines.append(
                tr(
                    f"地形：步行速度按托布勒徒步函数随坡度变化（高程 {terrain.get('dem')}，"
                    "上坡慢于下坡，平地为设定步行速度；桥梁、隧道与电梯按平地计）。",
                    f"Terrain: walking follows Tobler's hiking function of the grade (DEM "
                    f"{terrain.get('dem')}; uphill slower than downhill, flat ground at the set "
                    "walking speed; bridges, tunnels and elevators flat).",
                )
            )
        for mode, snapping in (network.get("modes") or {}).items():
            if snapping.get("demand_points_moved"):
                people = _num(snapping.get("population_moved"))
                points = _num(snapping.get("demand_points_moved"))
                label = tr.pair(charts.MODE_LABELS, mode)
                lines.append(
                    tr(
                        f"{label}：{people} 名居民（{points} 个点）最近的街道与主路网不连通"
                        "（如单行道或孤立路段），已接入最近的主路网街道，出行时间含直线接驳段。",
                        f"{label}: {people} residents ({points} points) whose nearest street is "
                        "cut off from the main network (one-way streets, isolated pieces) were "
                        "joined to the nearest street of the main network; their times include "
                        "the straight access leg.",
                    )
                )
        return lines

    # -- per rule

    def rule_sections(self) -> str:
        if self.run is None:
            return ""
        folder = self.results.run.folder
        by_unit = _csv(folder / "coverage_by_unit.csv", dtype={"unit_code": str})
        gaps = _csv(folder / "gaps.csv", dtype={"nearest_facility_id": str})
        ids = [str(r["id"]) for r in self.run["rules"]]
        wanted = {
            "population",
            *(column(i, "time_s") for i in ids),
            *(column(i, "covered") for i in ids),
        }
        points = _csv(folder / "coverage_points.csv", usecols=lambda c: c in wanted)
        parquet = folder / "coverage_points.parquet"  # [outputs] per_point_format = "parquet"
        if points is None and parquet.is_file():
            import pyarrow.parquet as pq

            names = [c for c in pq.read_schema(parquet).names if c in wanted]
            points = pd.read_parquet(parquet, columns=names)
        return "\n".join(
            self.rule_section(k + 1, rule, by_unit, gaps, points)
            for k, rule in enumerate(self.run["rules"])
        )

    def rule_section(self, n: int, rule: dict, by_unit, gaps, points) -> str:
        tr = self.tr
        rid, name = str(rule["id"]), tr.name(rule)
        covered, share = rule.get("population_covered"), rule.get("share_covered")
        total = self.run.get("population_total")
        uncovered = None if _missing(total) or _missing(covered) else total - covered
        minutes = _num(rule.get("threshold_min"))
        mode = tr(*charts.mode_label(rule))
        headline = tr(
            f"{_pct(share)} 的居民（{_num(covered)} 人）在{minutes}分钟{mode}范围内，"
            f"未覆盖 {_num(uncovered)} 人",
            f"{_pct(share)} of residents ({_num(covered)}) are within {minutes} minutes "
            f"({mode}); {_num(uncovered)} are not",
        )
        band = _bands(self.run).get(rid)
        if band is not None:
            headline += tr(
                f"（敏感性区间 {_band(band)}）",
                f" (sensitivity band {_band(band)})",
            )
        unreachable = rule.get("population_unreachable")
        if not _missing(unreachable) and unreachable > 0:
            headline += tr(
                f"（其中 {_num(unreachable)} 人不可达：无法到达任何设施）",
                f" ({_num(unreachable)} of them unreachable: no facility can be reached)",
            )
        if rule.get("target_share") is not None:
            target = _target(rule["target_share"])
            headline = _e(headline + tr(f"；目标 {target}：", f"; target {target}: "))
            headline += _met(rule.get("met"), tr)
        else:
            headline = _e(headline)
        shot = self.shots.get(f"rule:{rid}", Shot(note=tr("没有地图图片", "no map image")))
        map_page = _map_page(self.results.run.folder, self.lang)
        caption = tr(
            f"{name}：静态地图（交互地图见 {map_page.name}）",
            f"{name}: static map (interactive: {map_page.name})",
        )
        link = ""
        if map_page.is_file():
            link = (
                f"<p class='small'><a href='{_href(map_page, self.out.parent)}'>"
                f"{tr('打开交互地图', 'Open the interactive map')}</a> ({_e(map_page.name)})</p>"
            )
        heading = tr(f"规则 {n}：", f"Rule {n}: ") + name
        return "\n".join(
            [
                f"<section class='page' id='rule-{_e(rid, quote=True)}'>",
                f"<h2>{_e(heading)}</h2><p class='headline'>{headline}</p>",
                self.travel_detail(rule),
                _figure(shot.png, caption, shot.note),
                link,
                self.unit_chart(rule, by_unit),
                self.time_chart(rule, points),
                self.gap_table(rule, gaps, uncovered),
                "</section>",
            ]
        )

    def travel_detail(self, rule: dict) -> str:
        """How a rule's times were taken when it is not one mode towards the facility on the
        speed table: the response direction, the congestion profile, the residents covered
        per fastest mode, and the figures per unit type (``threshold_by_type``)."""
        tr, lines = self.tr, []
        if rule.get("direction") == "from_facility":
            lines.append(
                tr(
                    "响应时间：自设施（如急救站）出发到达居民，单行道按此方向计。",
                    "Response times: from the facility (e.g. an ambulance station) to the "
                    "resident; one-way streets count in that direction.",
                )
            )
        if rule.get("congestion"):
            name = str(rule["congestion"])
            lines.append(
                tr(
                    f"拥堵情景 {name}：车辆速度按 [congestion] 的道路等级系数折减。",
                    f"Congestion profile {name}: vehicle speeds × the road-class factors of "
                    "[congestion].",
                )
            )
        by_mode = rule.get("population_covered_by_mode") or {}
        if by_mode:
            people = tr("，", ", ").join(
                f"{tr.pair(charts.MODE_LABELS, m)} {_num(v)}{tr(' 人', '')}"
                for m, v in by_mode.items()
            )
            lines.append(
                tr(
                    f"覆盖的居民按其最快方式：{people}。",
                    f"Residents covered, by their fastest mode: {people}.",
                )
            )
        by_type = rule.get("by_type") or {}
        if by_type:
            minutes = _num(rule.get("threshold_min"))
            lines.append(
                tr(
                    f"时间上限按居民所在单元的类型设定（下表；其他居民为 {minutes} 分钟）。",
                    f"The time limit depends on the type of the resident's unit (below; "
                    f"{minutes} minutes for the others).",
                )
            )
        out = "".join(f"<p>{_e(line)}</p>" for line in lines)
        if by_type:
            labels = {
                **UNIT_TYPES,
                "untyped": ("未分类", "untyped"),
                "outside_units": ("不在任何单元", "outside every unit"),
            }
            head = [
                tr("单元类型", "Unit type"),
                tr("时间上限（分钟）", "Limit (min)"),
                tr("居民", "Residents"),
                tr("覆盖", "Covered"),
                tr("覆盖率", "Share"),
            ]
            rows = [
                [
                    tr.pair(labels, kind),
                    _num(v.get("threshold_min")),
                    _num(v.get("population")),
                    _num(v.get("population_covered")),
                    _pct(v.get("share_covered")),
                ]
                for kind, v in by_type.items()
            ]
            out += _table(head, rows, num=(1, 2, 3, 4))
        return out

    def unit_chart(self, rule: dict, by_unit: pd.DataFrame | None) -> str:
        tr = self.tr
        column_name = column(rule["id"], "share_covered")
        units: list[tuple[str, str, float]] = []
        note = ""
        if by_unit is None or column_name not in by_unit:
            note = tr.text("no_units")
        else:
            table = by_unit[(by_unit["unit_name"] != OUTSIDE_UNITS) & (by_unit["population"] > 0)]
            if len(table) > MAX_UNITS_IN_CHART:
                note = tr(
                    f"图中为覆盖率最低的 {MAX_UNITS_IN_CHART} 个单元（共 {len(table)} 个，"
                    "全部见 coverage_by_unit.csv）。",
                    f"The {MAX_UNITS_IN_CHART} units with the lowest shares of {len(table)} "
                    "(all in coverage_by_unit.csv).",
                )
                table = table.sort_values(column_name, kind="stable").head(MAX_UNITS_IN_CHART)
            codes = table["unit_code"] if "unit_code" in table else [None] * len(table)
            units = [
                (str(name), "" if _blank(code) else str(code), float(s))
                for name, code, s in zip(table["unit_name"], codes, table[column_name], strict=True)
            ]
        figure = charts.coverage_by_unit_chart(rule, units, lang=self.lang, font=self.font)
        html_ = _figure(charts.png_bytes(figure), tr.text("unit_caption"))
        return html_ + (f"<p class='small muted'>{_e(note)}</p>" if note else "")

    def time_chart(self, rule: dict, points: pd.DataFrame | None) -> str:
        rid = rule["id"]
        if (
            points is None
            or column(rid, "time_s") not in points
            or column(rid, "covered") not in points
        ):
            return f"<div class='note'>{_e(self.tr.text('no_points'))}</div>"
        covered = points[column(rid, "covered")].astype(str).str.lower().eq("true").to_numpy()
        figure = charts.travel_time_chart(
            rule,
            points[column(rid, "time_s")].to_numpy(dtype=float),
            points["population"].to_numpy(dtype=float),
            covered,
            lang=self.lang,
            font=self.font,
        )
        return _figure(charts.png_bytes(figure), self.tr.text("time_caption"))

    def gap_table(self, rule: dict, gaps: pd.DataFrame | None, uncovered: float | None) -> str:
        tr = self.tr
        title = f"<h3>{_e(tr.text('gap_title'))}</h3>"
        if gaps is None:
            return title + f"<div class='note'>{_e(tr.text('no_gaps_file'))}</div>"
        every = gaps[gaps["rule_id"] == rule["id"]].sort_values("rank", kind="stable")
        if every.empty:
            return title + f"<p>{_e(tr.text('no_gaps'))}</p>"
        top = every.head(GAP_ROWS)
        rows = []
        for gap in top.to_dict("records"):
            facility = (
                "–"
                if _blank(gap.get("nearest_facility_name"))
                else _e(str(gap["nearest_facility_name"]))
            )
            if not _blank(gap.get("nearest_facility_id")):
                facility += f" <small class='muted'>{_e(str(gap['nearest_facility_id']))}</small>"
            unit = gap.get("unit_name")
            minutes = _num(gap.get("median_travel_time_min"), 1)
            if gap.get("reason") == "unreachable":
                minutes = _e(tr("不可达", "unreachable"))
            rows.append(
                [
                    _num(gap.get("rank")),
                    _num(gap.get("population")),
                    minutes,
                    facility,
                    "–" if _blank(unit) else _e(self.unit_name(str(unit))),
                    _num(gap.get("lon"), 5),
                    _num(gap.get("lat"), 5),
                ]
            )
        head = [
            tr("排名", "Rank"),
            tr("未覆盖人口", "Uncovered residents"),
            tr("中位时间（分钟）", "Median minutes"),
            tr("最近设施", "Nearest facility"),
            tr("所在单元", "Unit"),
            tr("经度", "Lon"),
            tr("纬度", "Lat"),
        ]
        top_pop = float(top["population"].sum())
        total = uncovered if uncovered is not None else float(every["population"].sum())
        share = _pct(top_pop / total) if total else "–"
        lead = tr(
            f"共 {len(every)} 个缺口区域，未覆盖 {_num(total)} 人；下表为前 {len(top)} 个，"
            f"合计 {_num(top_pop)} 人（{share}）。完整列表见 gaps.csv / gaps.xlsx。",
            f"{len(every)} gap areas hold {_num(total)} uncovered residents; the top "
            f"{len(top)} below hold {_num(top_pop)} ({share}). Full list: gaps.csv / gaps.xlsx.",
        )
        return title + f"<p>{_e(lead)}</p>" + _table(head, rows, num=(0, 1, 2, 5, 6))

    def unit_name(self, name: str) -> str:
        return self.tr("（区域外）", "(outside all units)") if name == OUTSIDE_UNITS else name

    # -- plan checks and scenarios

    def checks(self) -> str:
        if not self.results.checks:
            return ""
        tr = self.tr
        blocks = []
        for part in self.results.checks:
            s, pack = part.summary, part.summary.get("pack", {})
            sep = "，" if self.lang == "zh" else ", "
            counts = sep.join(f"{tr.pair(_STATUS, k)} {v}" for k, v in s.get("counts", {}).items())
            place = pack.get(f"place_{self.lang}") or pack.get("place_zh") or ""
            blocks.append(f"<h3>{_e(tr.name(pack))}</h3>")
            blocks.append(
                f"<p>{tr('规划地区', 'Plan area')}: {_e(str(place))} · "
                f"{tr('文本状态', 'Text status')}: {_e(str(pack.get('status') or '–'))} · "
                f"{_e(counts)}</p>"
            )
            if s.get("area_differs_from_plan"):
                blocks.append(f"<div class='note'>{_e(tr.text('not_plan_area'))}</div>")
            blocks.append(self.check_readings(pack))
            for title, checks in self.check_groups(s):
                blocks.append(title)
                blocks.append(self.check_table(checks, pack.get("plan_file") or ""))
            indicators = s.get("indicators", {}).get("status", {})
            if indicators:
                listed = sep.join(f"{tr.pair(_STATUS, k)} {v}" for k, v in indicators.items())
                blocks.append(
                    f"<p class='small'>{tr('规划指标表', 'Plan indicator table')} "
                    f"(indicators.csv): {_e(listed)}</p>"
                )
            blocks.append(
                f"<p class='small muted'>{tr('文件夹', 'Folder')}: "
                f"<code>{_e(str(part.folder))}</code></p>"
            )
        return (
            f"<section class='page' id='checks'><h2>{tr('规划指标核查', 'Plan checks')}</h2>"
            + "\n".join(blocks)
            + "</section>"
        )

    def check_readings(self, pack: dict) -> str:
        """The pack's readings of the plan (its assumptions) and how to choose another."""
        tr = self.tr
        items = []
        for item in pack.get("assumptions", []):
            chosen = item.get("chosen", "")
            others = [k for k in item.get("options", {}) if k != chosen]
            reading = tr(item.get("chosen_zh", chosen), item.get("chosen_en", chosen))
            text = (
                f"<b>{_e(tr.name(item))}</b>: {_e(reading)} "
                f"(<code>{_e(item.get('id', ''))} = {_e(chosen)}</code>)"
            )
            if others:
                text += f" · {tr('其他读法', 'other readings')}: " + ", ".join(
                    f"<code>--assume {_e(item.get('id', ''))}={_e(k)}</code>" for k in others
                )
            items.append(f"<li>{text}</li>")
        if not items:
            return ""
        lead = tr(
            "规划文字可有多种理解之处，本核查采用的读法：",
            "Where the plan's words allow more than one reading, this check took:",
        )
        return f"<p class='small'>{lead}</p><ul class='small'>{''.join(items)}</ul>"

    def check_groups(self, summary: dict) -> list[tuple[str, list[dict]]]:
        """The checks grouped under the plan's headings, in the plan's order (a heading
        line each); checks of a summary without headings form one group."""
        tr = self.tr
        groups: dict[tuple, list[dict]] = {}
        for check in summary.get("checks", []):
            section = check.get("section") or {}
            key = (section.get("line") or 0, section.get("title_zh") or "", section.get("title_en"))
            groups.setdefault(key, []).append(check)
        out = []
        for (line, title_zh, title_en), checks in sorted(groups.items(), key=lambda g: g[0][0]):
            if not title_zh:
                title = ""
            else:
                where = tr(f"规划第 {line} 行", f"plan line {line}")
                title = (
                    f"<h4>{_e(tr(title_zh, title_en or title_zh))} "
                    f"<small class='muted'>{_e(where)}</small></h4>"
                )
            out.append((title, checks))
        return out

    def check_table(self, checks: list[dict], plan_file: str) -> str:
        tr = self.tr
        head = [
            tr("指标", "Rule"),
            tr("类型", "Type"),
            tr("状态", "Status"),
            tr("数值", "Value"),
            tr("目标", "Target"),
            tr("单位", "Unit"),
            tr("规划原文", "Plan text"),
        ]
        rows = []
        for check in checks:
            name = _e(tr.name(check))
            reason = str(check.get("reason") or "").split(" | ")[0]
            if reason:
                name += f"<br><small class='muted'>{_e(reason)}</small>"
            rows.append(
                [
                    name,
                    _e(tr.pair(_RULE_TYPES, check.get("rule_type"))),
                    _status(check.get("status"), tr),
                    _num(check.get("value"), 2),
                    _num(check.get("target"), 2),
                    _e(tr.pair(_VALUE_UNITS, check.get("value_unit") or "")),
                    self.citation_cell(check, plan_file),
                ]
            )
        return _table(head, rows, num=(3, 4), nowrap=(1, 2, 5))

    def citation_cell(self, check: dict, plan_file: str) -> str:
        """Each citation's line and verbatim quote (「…」); the file when not the plan's."""
        citations = check.get("citations")
        if not citations:  # a summary of an older geoplan
            return f"<small>{_e(str(check.get('source') or ''))}</small>"
        parts = []
        for c in citations:
            where = f"L{c.get('line')}"
            if c.get("file") and c.get("file") != plan_file:
                where = f"{c.get('file')}:{where}"
            parts.append(f"{_e(where)} 「{_e(str(c.get('quote') or ''))}」")
        return f"<small>{'<br>'.join(parts)}</small>"

    def scenarios(self) -> str:
        if not self.results.scenarios:
            return ""
        tr = self.tr
        head = [
            tr("规则", "Rule"),
            tr("调整前", "Before"),
            tr("调整后", "After"),
            tr("变化（百分点）", "Change (points)"),
            tr("覆盖人口变化", "Change (residents)"),
            tr("新增覆盖", "Gain access"),
            tr("失去覆盖", "Lose access"),
        ]
        blocks = []
        for k, part in enumerate(self.results.scenarios):
            s = part.summary
            changes = []
            for change in s.get("changes", []):
                moved = change.get("moved_m")
                detail = (
                    ""
                    if _missing(moved)
                    else tr(f"移动 {_num(moved)} 米", f"moved {_num(moved)} m")
                )
                changes.append(
                    [
                        f"{_e(str(change.get('name') or ''))} <small class='muted'>"
                        f"{_e(str(change.get('facility_id') or ''))}</small>",
                        _e(tr.label(change.get("category"))),
                        _e(tr.pair(_ACTIONS, change.get("action"))),
                        _e(detail),
                    ]
                )
            rows = []
            for rule in s.get("rules", []):
                delta = rule.get("change", {})
                share_delta = delta.get("share")
                people_delta = delta.get("population_covered")
                rows.append(
                    [
                        _e(tr.name(rule)),
                        _pct(rule.get("before", {}).get("share")),
                        _pct(rule.get("after", {}).get("share")),
                        "–" if _missing(share_delta) else f"{100 * share_delta:+.1f}",
                        "–" if _missing(people_delta) else f"{people_delta:+,.0f}",
                        _num(rule.get("gained", {}).get("population")),
                        _num(rule.get("lost", {}).get("population")),
                    ]
                )
            shot = self.shots.get(f"scenario:{k}", Shot(note=tr("没有地图图片", "no map image")))
            title = tr.name(s, "scenario_name") or tr("情景", "Scenario")
            blocks.append(f"<h3>{_e(title)}</h3>")
            if changes:
                changes_head = [
                    tr("设施", "Facility"),
                    tr("类别", "Category"),
                    tr("调整", "Change"),
                    tr("说明", "Detail"),
                ]
                blocks.append(_table(changes_head, changes, nowrap=(1, 2, 3)))
            blocks += [
                _table(head, rows, num=(1, 2, 3, 4, 5, 6)),
                f"<p class='small'>{_e(tr.text('gain_lose'))}</p>",
                _figure(shot.png, tr.text("scenario_map"), shot.note),
            ]
        heading = tr("情景推演（假设）", "What-if scenarios (hypothetical)")
        return f"<section class='page' id='scenarios'><h2>{heading}</h2>{''.join(blocks)}</section>"

    def sites(self) -> str:
        """New sites (model, coverage before → after, the chosen sites) and 片区."""
        if not self.results.sites:
            return ""
        tr = self.tr
        blocks = []
        for part in self.results.sites:
            if "sites" in part.summary:
                blocks.append(self.new_sites(part))
            else:
                blocks.append(self.catchments(part))
            maps = [
                n for n in ("sites_map.html", "catchments_map.html") if (part.folder / n).is_file()
            ]
            links = " · ".join(
                f"<a href='{_e(_href(part.folder / n, self.out.parent))}'>{_e(n)}</a>" for n in maps
            )
            blocks.append(
                f"<p class='small muted'>{tr('文件夹', 'Folder')}: "
                f"<code>{_e(str(part.folder))}</code>{' · ' + links if links else ''}</p>"
            )
        heading = tr("选址（假设）", "Site selection (proposals)")
        return f"<section class='page' id='sites'><h2>{heading}</h2>{''.join(blocks)}</section>"

    def new_sites(self, part: Part) -> str:
        tr = self.tr
        s, rule = part.summary["sites"], part.summary.get("rule", {})
        model = {"mclp": "MCLP", "lscp": "LSCP", "pmedian": "p-median"}.get(s.get("model"), "")
        solver = s.get("solver", {})
        facts = [
            [tr("模型", "Model"), _e(f"{model}, p = {s.get('p')}")],
            [
                tr("候选点", "Candidates"),
                _e(
                    tr(
                        f"{s.get('candidates_used')} 个（排除 {s.get('candidates_excluded')} 个）",
                        f"{s.get('candidates_used')} used ({s.get('candidates_excluded')} "
                        "excluded)",
                    )
                ),
            ],
            [
                tr("覆盖人口", "Residents covered"),
                f"{_num(s.get('covered_population_before'))} ({_pct(s.get('share_before'))}) → "
                f"{_num(s.get('covered_population_after'))} ({_pct(s.get('share_after'))})",
            ],
            [
                tr("求解", "Solver"),
                _e(f"{solver.get('method', '')} {solver.get('status', '')}")
                + ("" if _missing(solver.get("gap")) else f", gap {solver['gap']:.2%}"),
            ],
        ]
        rows = []
        selected = _csv(part.folder / "selected.csv")
        if selected is not None:
            for row in selected.to_dict("records"):
                rows.append(
                    [
                        _e(str(row.get("order", ""))),
                        _e(str(row.get("candidate_id", ""))),
                        f"{float(row.get('lon', 'nan')):.6f}, {float(row.get('lat', 'nan')):.6f}",
                        _num(row.get("gained_population")),
                    ]
                )
        head = [
            tr("顺序", "Order"),
            tr("候选点", "Candidate"),
            tr("经度, 纬度", "Lon, lat"),
            tr("新增覆盖人口", "Newly covered"),
        ]
        title = tr.name(rule) if rule else tr("选址", "Site selection")
        minutes = rule.get("threshold_min")
        mode = tr.pair(charts.MODE_LABELS, rule.get("mode"))
        circle = (
            ""
            if _missing(minutes)
            else tr(f" · {_num(minutes)} 分钟（{mode}）", f" · {_num(minutes)} min ({mode})")
        )
        return (
            f"<h3>{_e(title)}<small class='muted'>{_e(circle)}</small></h3>"
            + _table([tr("项目", "Item"), tr("结果", "Result")], facts)
            + (_table(head, rows, num=(0, 3)) if rows else "")
            + f"<p class='small'>{_e(tr.text('sites_note'))}</p>"
        )

    def catchments(self, part: Part) -> str:
        tr = self.tr
        s = part.summary
        rows = [
            [
                _e(str(h.get("hub_id", ""))),
                _e(str(h.get("name", ""))),
                _num(h.get("facilities")),
                _num(h.get("population")),
            ]
            for h in s.get("per_hub", [])
        ]
        head = [
            tr("次中心", "Sub-centre"),
            tr("名称", "Name"),
            tr("片区机构数", "Facilities"),
            tr("片区人口", "Residents"),
        ]
        mode = tr.pair(charts.MODE_LABELS, s.get("mode"))
        lead = tr(
            f"{s.get('k')} 个次中心及其片区（{mode}，按出行时间就近划分）",
            f"{s.get('k')} sub-centres and their 片区 ({mode}, nearest by travel time)",
        )
        return f"<h3>{_e(lead)}</h3>" + _table(head, rows, num=(2, 3))

    # -- credits and reproduction

    def commands(self) -> list[str]:
        """The commands that reproduce this folder and this report."""
        q = shlex.quote
        commands = []
        if self.results.run is not None:
            out = q(str(self.results.run.folder))
            project = self.record.get("project")
            if project and Path(project) == DEMO_PROJECT:
                commands.append(f"geoplan demo --out {out}")
            else:
                commands.append(f"geoplan run {q(str(project or 'PROJECT.toml'))} --out {out}")
        for part in self.results.checks:
            project = part.summary.get("project", {}).get("path") or "PROJECT.toml"
            plan = part.summary.get("pack", {}).get("id") or "PLAN"
            commands.append(
                f"geoplan check {q(str(project))} --plan {q(str(plan))} --out {q(str(part.folder))}"
            )
        for part in self.results.scenarios:
            commands.append(f"geoplan scenario SCENARIO.toml --out {q(str(part.folder))}")
        for part in self.results.sites:
            command = "sites" if "sites" in part.summary else "catchments"
            commands.append(f"geoplan {command} PROJECT.toml … --out {q(str(part.folder))}")
        english = "" if self.lang == "zh" else " --lang en"
        commands.append(f"geoplan report {q(str(self.results.path))}{english}")
        return commands

    def data_credits(self) -> dict[str, str]:
        """Each input's credit as the command recorded it (``credits`` of a summary)."""
        r = self.results
        for part in (r.run, *r.scenarios, *r.checks):
            if part is not None and isinstance(part.summary.get("credits"), dict):
                return {str(k): str(v) for k, v in part.summary["credits"].items()}
        return {}

    def credits(self) -> str:
        tr = self.tr
        credits = self.data_credits()
        colon = tr("：", ": ")
        user = tr("用户数据（无需署名）", "user data (no credit)")
        items = [
            f"<li>{_e(tr.pair(_INPUT_LABELS, name))}{colon}{_e(credit or user)}</li>"
            for name, credit in credits.items()
        ]
        if not credits:
            items = [f"<li>{tr('结果中未记录数据来源', 'the results record no data credits')}</li>"]
        parts = [
            f"<section class='page' id='credits'>"
            f"<h2>{tr('数据来源与复现', 'Data credits and reproduction')}</h2>",
            f"<h3>{tr('数据来源', 'Data credits')}</h3><ul>" + "".join(items) + "</ul>",
        ]
        if self.results.hypothetical:
            parts.append(f"<p>{_e(tr.text('hypothetical_facilities'))}</p>")
        inputs = [
            [
                _e(name),
                f"<code>{_e(Path(str(entry.get('path', ''))).name)}</code>",
                f"<code>{_e(str(entry.get('sha256', ''))[:16])}</code>",
            ]
            for name, entry in self.record.get("inputs", {}).items()
        ]
        if inputs:
            parts.append(
                f"<h3>{tr('输入文件', 'Inputs')} (run.json)</h3>"
                + _table([tr("输入", "Input"), tr("文件", "File"), "SHA-256"], inputs)
            )
        version = self.record.get("versions", {}).get("geoplan")
        parts.append(
            f"<h3>{tr('复现', 'Reproduce')}</h3>"
            f"<p>{tr('在 geoplan 仓库中运行：', 'Run in the geoplan repository:')}</p>"
            f"<pre>{_e(chr(10).join(self.commands()))}</pre>"
            f"<p class='small muted'>geoplan {_e(str(version or ''))} · "
            f"{_e(tr.text('run_json'))}</p></section>"
        )
        return "\n".join(parts)

    def html(self) -> str:
        sections = [
            self.header(),
            self.summary(),
            self.rule_sections(),
            self.checks(),
            self.scenarios(),
            self.sites(),
            self.credits(),
            f"<footer>{self.tr('由 geoplan 生成', 'Written by geoplan')} · {_now()} · "
            f"{_e(self.area())}</footer>",
        ]
        return _page(self.title(), self.lang, "\n".join(s for s in sections if s))


# --------------------------------------------------------------------------- writing


@dataclass
class Written:
    """What :func:`write_reports` wrote (and the notes it printed)."""

    reports: list[Path] = field(default_factory=list)
    pdfs: list[Path] = field(default_factory=list)
    gallery: Path | None = None
    notes: list[str] = field(default_factory=list)


def _report_name(lang: str) -> str:
    return "report.html" if lang == "zh" else "report_en.html"


def _report_paths(
    folder: Path, out: str | Path | None, lang: str, pdf: bool | None, chrome: _Browser
) -> tuple[Path, Path | None]:
    """``(HTML page, PDF or None)`` of a report: the extension of ``--out`` decides."""
    make_pdf = pdf is not False and chrome.binary is not None
    if out is None:
        page = folder / _report_name(lang)
        return page, page.with_suffix(".pdf") if make_pdf else None
    out = Path(out)
    if out.is_dir():
        raise OutputError(
            f"--out {out} is a folder; name the report file, e.g. {out / _report_name(lang)}"
        )
    suffix = out.suffix.lower()
    if suffix in (".html", ".htm"):
        return out, out.with_suffix(".pdf") if make_pdf else None
    if suffix == ".pdf":
        if pdf is False:
            raise InputError(f"--out {out} names a PDF but --no-pdf was given; drop one of them")
        if chrome.binary is None:
            raise InputError(f"--out {out}: a PDF needs Chromium ({chrome.reason}); name .html")
        return out.with_suffix(".html"), out
    raise InputError(f"--out {out}: a report is an .html file (with its PDF beside) or a .pdf")


def _report_paths_free(page: Path, pdf: Path | None) -> None:
    existing = [str(p) for p in (page, pdf) if p is not None and p.exists()]
    if existing:
        raise OutputExistsError(
            f"{', '.join(existing)} already exist(s); choose another --out or add --overwrite"
        )


@contextlib.contextmanager
def _report_files(
    folder: Path, page: Path, pdf: Path | None, *, overwrite: bool
) -> Iterator[tuple[Path, Path | None]]:
    """Where to write the page and PDF now: staged in the result ``folder`` (and listed in its
    manifest) when they go there, else temporary files beside them."""
    if page.parent.resolve() == folder.resolve() and (pdf is None or pdf.parent == page.parent):
        with report_output(folder, page=page.name, overwrite=overwrite) as staged:
            yield staged.path / page.name, None if pdf is None else staged.path / pdf.name
        return
    paths = [page] if pdf is None else [page, pdf]
    with output_files(paths, command="report", overwrite=overwrite, inputs=[folder]) as temps:
        yield temps[0], temps[1] if pdf is not None else None


def write_reports(
    result_dir: str | Path,
    *,
    out: str | Path | None = None,
    lang: str = "zh",
    pdf: bool | None = None,
    overwrite: bool = False,
    progress: bool = False,
) -> Written:
    """Write the report of ``result_dir``, or for a batch folder its areas' reports and a gallery.

    ``out`` is the report file (default ``result_dir/report.html``, ``report_en.html`` in
    English; a ``.pdf`` writes the PDF there and the HTML beside it) or, for a gallery, its
    page (default ``gallery.html`` / ``gallery_en.html``; area reports go into the area
    folders). ``pdf``: None prints a PDF beside each report when Chromium is found, True
    requires it, False never prints. Reports written into a result folder are listed in its
    manifest: ``overwrite`` replaces exactly an earlier report's files (see
    :mod:`geoplan.results`).

    Raises
    ------
    InputError
        If ``result_dir`` holds no complete geoplan result, ``lang`` or the extension of
        ``out`` is unknown, or a PDF is required and Chromium is missing.
    OutputExistsError
        If an output exists and ``overwrite`` is False.
    """
    if lang not in LANGS:
        raise InputError(f"unknown report language {lang!r}; use zh or en")
    folder = _existing_folder(result_dir)
    require_complete(folder, commands=(*REPORTED, "batch"), hashes=False)
    areas = gallery_areas(folder)
    chrome = _Browser.find()
    if pdf and chrome.binary is None:
        raise InputError(f"--pdf needs Chromium: {chrome.reason}; or use --no-pdf")
    no_browser = f"未找到浏览器，没有静态地图和 PDF / no browser: no maps or PDF ({chrome.reason})"
    written = Written(notes=[] if chrome.binary else [no_browser])
    if not areas:
        results = read_results(folder, written.notes)
        page, pdf_path = _report_paths(folder, out, lang, pdf, chrome)
        with _report_files(folder, page, pdf_path, overwrite=overwrite) as (tmp, tmp_pdf):
            stages = Stages(_STAGES, progress=progress)  # after the checks: no bar before them
            try:
                _write_one(results, page, tmp, tmp_pdf, lang, chrome, stages)
            finally:
                stages.close()
        written.reports.append(page)
        written.pdfs += [pdf_path] if pdf_path else []
        return written
    index = folder / ("gallery.html" if lang == "zh" else "gallery_en.html")
    if out is not None:
        index = Path(out)
        if index.suffix.lower() not in (".html", ".htm"):
            raise InputError(f"--out {index}: a gallery is an .html page")
    pages = [_report_paths(area, None, lang, pdf, chrome) for area in areas]
    if not overwrite:  # every area is checked before the first report is written
        for page, pdf_path in [*pages, (index, None)]:
            _report_paths_free(page, pdf_path)
    results = [read_results(area, written.notes) for area in areas]
    stages = Stages((*(area.name for area in areas), "index"), progress=progress)
    cards = []
    try:
        for area, area_results, (page, pdf_path) in zip(areas, results, pages, strict=True):
            with stages.stage(area.name):
                with _report_files(area, page, pdf_path, overwrite=overwrite) as (tmp, tmp_pdf):
                    shots = _write_one(area_results, page, tmp, tmp_pdf, lang, chrome, None)
                written.reports.append(page)
                written.pdfs += [pdf_path] if pdf_path else []
                cards.append(_Card(area_results, page, shots))
        with stages.stage("index"):
            text = gallery_html(cards, _failed_areas(folder), index, lang=lang, chrome=chrome)
            with _report_files(folder, index, None, overwrite=overwrite) as (tmp, _):
                _io.write_text(tmp, text)
            written.gallery = index
    finally:
        stages.close()
    return written


def _write_one(
    results: ResultFolder,
    page: Path,
    html_to: Path,
    pdf_to: Path | None,
    lang: str,
    chrome: _Browser,
    stages: Stages | None,
) -> dict[str, Shot]:
    """One report (and its PDF); returns its screenshots (a gallery's thumbnails).

    ``page`` is where the report will be (its links start there); ``html_to`` and ``pdf_to``
    are where it is written now.
    """
    stages = stages or Stages(_STAGES)
    report = _Report(results, lang, page, chrome)
    with stages.stage("maps"):
        report.shots = chrome.shoot(_shot_jobs(results, lang), report.tr)
    with stages.stage("report"):
        _io.write_text(html_to, report.html())
    with stages.stage("pdf"):
        if pdf_to is not None:
            browser.print_pdf(html_to, pdf_to, chromium=chrome.binary)
    logger.info("report written: %s", page)
    return report.shots


def _failed_areas(folder: Path) -> list[tuple[str, str]]:
    """``(area, error)`` of each area a batch could not run (batch_summary.json)."""
    path = folder / "batch_summary.json"
    if not path.is_file():
        return []
    records = _read_json(path).get("areas", [])
    return [
        (str(r.get("area") or r.get("slug")), str(r.get("error")))
        for r in records
        if not r.get("ok")
    ]


# --------------------------------------------------------------------------- gallery


@dataclass(frozen=True)
class _Card:
    """One area of a gallery: its results, its report page and its screenshots."""

    results: ResultFolder
    page: Path
    shots: dict[str, Shot]


GALLERY_CSS = """
main { max-width:1240px; }
.cards { display:grid; grid-template-columns:repeat(auto-fill, minmax(300px, 1fr)); gap:18px;
  margin-top:18px; }
.card { border:1px solid var(--line); border-radius:8px; padding:12px; break-inside:avoid; }
.card img { width:100%; height:auto; display:block; border-radius:4px;
  border:1px solid var(--line); }
.card h2 { font-size:17px; border:0; margin:10px 0 2px; padding:0; }
.card ul { list-style:none; padding:0; margin:6px 0; font-size:13.5px; }
.card li { display:flex; gap:8px; border-bottom:1px dotted var(--line); padding:2px 0; }
.card li span { flex:1; }
.card p { margin:2px 0; font-size:13.5px; }
.card .hyp { color:var(--bad); font-weight:700; }
.nothumb { background:#eef2f6; color:var(--muted); padding:40px 12px; text-align:center;
  font-size:13px; border-radius:4px; }
.card.failed { border-color:var(--bad); }
"""


def gallery_html(
    cards: Sequence[_Card],
    failed: Sequence[tuple[str, str]],
    index: Path,
    *,
    lang: str = "zh",
    chrome: _Browser | None = None,
) -> str:
    """The gallery page: a card per area (thumbnail, shares, relative links), failures last."""
    tr = _Tr(lang)
    items = [_card_html(card, index.parent, tr) for card in cards]
    items += [
        f"<article class='card failed'><h2>{_e(area)}</h2>"
        f"<p class='bad'>{tr('计算失败', 'failed')}: {_e(error)}</p></article>"
        for area, error in failed
    ]
    title = tr("各区域设施可达性", "Facility access by area")
    note = ""
    if chrome is not None and chrome.binary is None:
        note = f"<div class='note'>{_e(tr.text('gallery_no_chromium'))}</div>"
    intro = tr(
        f"{len(cards)} 个区域；覆盖率为各规则服务圈内居民的比例。点击卡片查看报告。",
        f"{len(cards)} areas; shares of residents inside each rule's circle. Open a card for "
        "its report.",
    )
    body = (
        f"<h1>{_e(title)}</h1><p class='subtitle'>{_e(intro)}</p>{note}"
        f"<div class='cards'>{''.join(items)}</div>"
        f"<footer>{tr('由 geoplan 生成', 'Written by geoplan')} · {_now()}</footer>"
    )
    return _page(title, lang, body, css=GALLERY_CSS)


def _card_html(card: _Card, start: Path, tr: _Tr) -> str:
    summary = card.results.run.summary
    area = card.results.area_in(tr.lang)
    first = next((s for k, s in card.shots.items() if k.startswith("rule:") and s.png), None)
    if first is not None:
        thumb = f"<img src='{_data_uri(_thumbnail(first.png))}' alt='{_e(area, quote=True)}'>"
    else:
        note = next((s.note for s in card.shots.values() if s.note), tr("没有地图图片", "no map"))
        thumb = f"<div class='nothumb'>{_e(note)}</div>"
    shares = "".join(
        f"<li><span>{_e(tr.name(r))}</span><b>{_pct(r.get('share_covered'))}</b>"
        f"{_met(r.get('met'), tr) if r.get('target_share') is not None else ''}</li>"
        for r in summary["rules"]
    )
    report = _href(card.page, start)
    links = [
        (card.page, tr("报告", "Report")),
        (_map_page(card.results.run.folder, tr.lang), tr("交互地图", "Map")),
    ]
    if card.page.with_suffix(".pdf").is_file():
        links.append((card.page.with_suffix(".pdf"), "PDF"))
    link_html = " · ".join(f"<a href='{_href(p, start)}'>{label}</a>" for p, label in links)
    warn = (
        f"<p class='hyp'>⚠ {tr('假设情景设施', 'hypothetical facilities')}</p>"
        if card.results.hypothetical
        else ""
    )
    return (
        f"<article class='card'><a class='thumb' href='{report}'>{thumb}</a>"
        f"<h2><a href='{report}'>{_e(area)}</a></h2>"
        f"<p>{tr('人口', 'Residents')} {_num(summary.get('population_total'))}</p>{warn}"
        f"<ul>{shares}</ul><p class='links'>{link_html}</p></article>"
    )
