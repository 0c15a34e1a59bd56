"""The app's projects: ordinary project folders under one data root.

A project is what ``geoplan init`` writes (``project.toml``, ``boundary.geojson``) plus the
files the planner uploads (``inputs/``) and the runs (``runs/<id>/``, result folders of
``geoplan run``). Everything the pages change is written into ``project.toml`` (through the
schema's own writer, :func:`geoplan.workflows.config.project_template`), so
``geoplan run project.toml --out DIR`` in the folder computes what the app computed.

Nothing here joins a path from user input without checking it: project and run ids are
looked up among the folders that exist, upload names go through :func:`safe_filename`, and a
file "picked" on a page must be one :meth:`ProjectFolder.files_for` lists.
"""

from __future__ import annotations

import copy
import json
import os
import re
import shutil
import tempfile
import unicodedata
import uuid
import zipfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, BinaryIO

from .. import _io
from ..errors import GeoplanError
from ..results import JOURNAL, LOCK, STAGING_PREFIX, read_manifest
from ..workflows.config import project_template
from .text import UI

__all__ = [
    "INPUTS",
    "PROJECT_FILE",
    "RUNS",
    "SLOTS",
    "AppError",
    "ProjectFolder",
    "RunInfo",
    "Store",
    "check_name",
    "safe_filename",
]

PROJECT_FILE = "project.toml"
INPUTS = "inputs"
RUNS = "runs"
TEMPLATE = "facilities_template.csv"  # `geoplan init`'s empty table: a placeholder, not data

SLOTS: dict[str, tuple[str, ...]] = {
    "facilities": (".xlsx", ".xlsm", ".csv", ".tsv", ".txt", ".geojson", ".json", ".gpkg"),
    "network": (
        ".osm.pbf",
        ".pbf",
        ".osm",
        ".osm.bz2",
        ".osm.gz",
        ".graphml",
        ".graphml.gz",
        ".graphml.bz2",
        ".graphml.xz",
        ".gpkg",
        ".geojson",
    ),
    "demand": (
        ".tif",
        ".tiff",
        ".graphml",
        ".graphml.gz",
        ".graphml.bz2",
        ".graphml.xz",
        ".gpkg",
        ".geojson",
        ".csv",
    ),
    "boundary": (".geojson", ".json", ".gpkg"),
}
"""The file types each kind of input accepts (suffixes, longest match first)."""

_WINDOWS_RESERVED = {
    "con",
    "prn",
    "aux",
    "nul",
    *(f"com{i}" for i in range(1, 10)),
    *(f"lpt{i}" for i in range(1, 10)),
}
_NAME_CHARS = re.compile(r'[<>:"|?*]')
_MAX_STEM = 80
_RUN_ID = re.compile(r"\d{8}-\d{6}(-\d+)?")
_HIDDEN = (LOCK, JOURNAL, ".geoplan-app")


class AppError(GeoplanError):
    """A user error on a page: said in both languages, nothing changed."""

    def __init__(self, zh: str, en: str) -> None:
        super().__init__(f"{en} / {zh}")
        self.zh, self.en = zh, en

    def text(self, lang: str) -> str:
        """The message in ``lang``."""
        return self.en if lang == "en" else self.zh


def _suffix(name: str, allowed: Iterable[str]) -> str | None:
    """The longest of ``allowed`` that ``name`` ends with (case-insensitive), or None."""
    lower = name.lower()
    found = [s for s in allowed if lower.endswith(s)]
    return max(found, key=len) if found else None


def safe_filename(name: str, allowed: Iterable[str]) -> str:
    """A file name from an upload that can only name a file inside its folder.

    NFKC first (full-width ``．．／`` become ``../``), then only the part after the last ``/``
    or ``\\`` is kept; control, format (bidi overrides, zero-width) and unassigned characters
    are dropped, Windows' forbidden characters become ``_``, leading and trailing dots and
    spaces of the stem go (no hidden files), an empty stem is ``upload``, a Windows device
    name (``CON``, ``NUL`` …) gets a ``_`` in front and the stem is cut to 80 characters.
    The suffix must be one of ``allowed``.

    Raises
    ------
    AppError
        Nothing is left of the name, or its type is not accepted.
    """
    text = unicodedata.normalize("NFKC", str(name or ""))
    text = re.split(r"[/\\]", text)[-1]
    text = "".join(ch for ch in text if unicodedata.category(ch)[0] not in "CZ" or ch == " ")
    text = _NAME_CHARS.sub("_", text).rstrip(" .")
    allowed = tuple(allowed)
    suffix = _suffix(text, allowed)
    if suffix is None:
        shown = ", ".join(allowed)
        raise AppError(
            f"文件“{text or name}”的类型不被接受；可接受：{shown}",
            f"file {text or name!r}: this type is not accepted; accepted: {shown}",
        )
    stem = text[: len(text) - len(suffix)].strip(" .")
    if not stem:
        stem = "upload"
    if stem.split(".")[0].lower() in _WINDOWS_RESERVED:
        stem = "_" + stem
    return stem[:_MAX_STEM] + suffix.lower()


def check_name(text: str) -> str:
    """A name typed into a form: trimmed, one line, no control characters."""
    text = unicodedata.normalize("NFC", str(text or "")).strip()
    if not text or any(unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp") for ch in text):
        raise AppError(*UI["bad_name"])
    return text[:200]


def _slug(name: str) -> str:
    """A folder name for a project: letters and digits of any script, ``-`` for the rest."""
    text = unicodedata.normalize("NFKC", name)
    text = re.sub(r"[^\w]+", "-", text, flags=re.UNICODE).strip("-_")
    return text[:40] or "project"


@dataclass(frozen=True)
class RunInfo:
    """A finished run of a project (a complete result folder under ``runs/``)."""

    id: str
    path: Path
    finished: str
    summary: dict

    def files(self) -> list[str]:
        """The files the run's manifest lists (and reports added to it)."""
        manifest = read_manifest(self.path) or {}
        names = [f["path"] for f in manifest.get("files", [])]
        for report in (manifest.get("reports") or {}).values():
            names += [f["path"] for f in report.get("files", [])]
        return names


class ProjectFolder:
    """One project folder: its project file as plain tables, its inputs and its runs.

    The project file is parsed once per version of the file (a page's steps, inputs and
    reviews share one reading); a file written since (a save, a fetch, an editor: each
    replaces the file, so its inode, time or size change) is read again.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._parsed: tuple[tuple[int, int, int], dict[str, Any]] | None = None

    @property
    def slug(self) -> str:
        """The folder's name (the project's id in addresses)."""
        return self.path.name

    @property
    def toml(self) -> Path:
        """``project.toml``."""
        return self.path / PROJECT_FILE

    # ---------------------------------------------------------------- the project file

    def tables(self) -> dict[str, Any]:
        """The project file's tables as parsed (not yet checked against the schema): a copy,
        so a change reaches the file only through :meth:`save`."""
        try:
            stat = self.toml.stat()
            version = (stat.st_ino, stat.st_mtime_ns, stat.st_size)
        except OSError:  # gone: read_toml says so
            version = None
        if self._parsed is None or version is None or self._parsed[0] != version:
            self._parsed = (version, _io.read_toml(self.toml))
        return copy.deepcopy(self._parsed[1])

    def area(self) -> str:
        """``[project] area``."""
        return str(self.tables().get("project", {}).get("area", self.slug))

    def save(self, tables: Mapping[str, Any]) -> None:
        """Write ``tables`` as the project file (commented, every key documented)."""
        header = [
            f"geoplan project: {tables.get('project', {}).get('area', self.slug)}.",
            "Written by `geoplan serve` (the local app); edit it here or in the app. Run it with:",
            "    geoplan run project.toml --out result",
            "Every table and key is listed with its meaning, range and default "
            "(docs/project-file.md). Relative paths are relative to this file.",
        ]
        values = {"rules": [], **tables}  # none yet: not the template's example rule
        _io.write_text(self.toml, project_template(header=header, values=values))

    def facility_tables(self) -> list[dict]:
        """The ``[[facilities]]`` tables, without ``geoplan init``'s empty template."""
        raw = self.tables().get("facilities", [])
        tables = raw if isinstance(raw, list) else [raw]
        return [t for t in tables if t.get("path") != TEMPLATE]

    def set_facility_tables(self, tables: list[dict]) -> None:
        """Replace the facility tables (none: ``geoplan init``'s template stands in)."""
        data = self.tables()
        data["facilities"] = tables or [{"path": TEMPLATE}]
        self.save(data)

    def input_table(self, name: str) -> dict | None:
        """``[network]`` or ``[demand]`` when its file exists in the folder, else None."""
        table = self.tables().get(name)
        if not table or not table.get("path"):
            return None
        return table if self.resolve(str(table["path"])) is not None else None

    def resolve(self, rel: str) -> Path | None:
        """The file ``rel`` (relative to the project file) if it exists inside the folder."""
        path = (self.path / rel).resolve()
        root = self.path.resolve()
        return path if path.is_relative_to(root) and path.is_file() else None

    def rules(self) -> list[dict]:
        """``[[rules]]`` as written."""
        return list(self.tables().get("rules", []))

    # ---------------------------------------------------------------- files

    def files_for(self, slot: str) -> list[str]:
        """Files in the folder (not in ``runs/``, not hidden) a ``slot`` accepts, relative
        POSIX paths, sorted."""
        found = []
        root = self.path.resolve()
        for path in sorted(root.rglob("*")):
            rel = path.relative_to(root)
            if rel.parts[0] in (RUNS, *_HIDDEN) or any(p.startswith(".") for p in rel.parts):
                continue
            if path.is_file() and not path.is_symlink() and _suffix(path.name, SLOTS[slot]):
                if rel.as_posix() not in (TEMPLATE, "boundary.geojson") or slot == "boundary":
                    found.append(rel.as_posix())
        return found

    def save_upload(self, slot: str, filename: str, stream: BinaryIO) -> str:
        """Store an uploaded file under ``inputs/`` with a safe, unused name; its relative
        path. Written to a temporary name first, so no half file is ever seen."""
        name = safe_filename(filename, SLOTS[slot])
        folder = self.path / INPUTS
        folder.mkdir(exist_ok=True)
        target = _unused(folder, name)
        if target.resolve().parent != folder.resolve():  # cannot happen after safe_filename
            raise AppError("文件名无效。", "invalid file name")
        tmp = folder / f".upload-{uuid.uuid4().hex}"
        with open(tmp, "xb") as handle:
            shutil.copyfileobj(stream, handle, 1 << 20)
        os.replace(tmp, target)
        return target.relative_to(self.path).as_posix()

    # ---------------------------------------------------------------- runs

    def new_run_dir(self) -> Path:
        """A fresh, not yet existing ``runs/<yyyymmdd-hhmmss>`` folder path."""
        stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
        base = self.path / RUNS
        path, n = base / stamp, 1
        while path.exists():
            n += 1
            path = base / f"{stamp}-{n}"
        return path

    def runs(self) -> list[RunInfo]:
        """Complete runs, newest first."""
        base = self.path / RUNS
        found = []
        if base.is_dir():
            for folder in base.iterdir():
                manifest = read_manifest(folder) if _RUN_ID.fullmatch(folder.name) else None
                if not manifest or not manifest.get("finished"):
                    continue
                try:
                    summary = json.loads((folder / "summary.json").read_text(encoding="utf-8"))
                except (OSError, ValueError):
                    continue
                finished = str(manifest.get("finished_at", ""))
                found.append(RunInfo(folder.name, folder, finished, summary))
        return sorted(found, key=lambda r: r.id, reverse=True)

    def run(self, run_id: str) -> RunInfo:
        """The run ``run_id`` (looked up among the runs, never joined blindly)."""
        for info in self.runs():
            if info.id == run_id:
                return info
        raise KeyError(run_id)

    def write_zip(self, handle: BinaryIO) -> None:
        """The whole project folder as a zip (without locks and unfinished files)."""
        root = self.path.resolve()
        with zipfile.ZipFile(handle, "w", zipfile.ZIP_DEFLATED) as archive:
            for path in sorted(root.rglob("*")):
                rel = path.relative_to(root)
                if any(p.startswith((STAGING_PREFIX, ".upload-")) for p in rel.parts):
                    continue
                if rel.name in _HIDDEN or path.is_symlink() or not path.is_file():
                    continue
                archive.write(path, (Path(self.slug) / rel).as_posix())


def _unused(folder: Path, name: str) -> Path:
    """``folder/name``, or ``name`` with ``-2``, ``-3`` … before its suffix if taken."""
    target = folder / name
    stem, dot, rest = name.partition(".")
    n = 1
    while target.exists():
        n += 1
        target = folder / f"{stem}-{n}{dot}{rest}"
    return target


class Store:
    """The data root: one folder per project."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root).expanduser().resolve()
        self.root.mkdir(parents=True, exist_ok=True)

    def projects(self) -> list[ProjectFolder]:
        """Every project folder (one holding a ``project.toml``), by name."""
        return [
            ProjectFolder(p)
            for p in sorted(self.root.iterdir())
            if p.is_dir() and not p.name.startswith(".") and (p / PROJECT_FILE).is_file()
        ]

    def get(self, slug: str) -> ProjectFolder:
        """The project ``slug`` (looked up among the folders; KeyError if none)."""
        for project in self.projects():
            if project.slug == slug:
                return project
        raise KeyError(slug)

    def new_folder(self, name: str) -> Path:
        """A free folder path for a project called ``name``."""
        return _unused(self.root, _slug(name))

    def scratch(self) -> tempfile.TemporaryDirectory:
        """A temporary folder inside the root (uploads read before a project exists)."""
        base = self.root / ".geoplan-app"
        base.mkdir(exist_ok=True)
        return tempfile.TemporaryDirectory(dir=base)
