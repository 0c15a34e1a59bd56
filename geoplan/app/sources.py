"""Where a project's area and data come from: the one place the app calls the place registry,
``geoplan init`` and the data fetcher, so each can be swapped for a fuller one without touching
the pages.

Today: the places ``geoplan init`` knows (:func:`geoplan.plans.places.available_places`), any
area from a boundary file, and no fetcher (the button says why). When the registry of every
county and ``geoplan fetch`` land (issue 15 items 2 and 3), :func:`search_places`,
:func:`init_place` and :func:`fetch_status` / :func:`fetch_inputs` call them instead.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..plans import places
from ..taxonomy import normalize_text
from ..workflows import init

__all__ = [
    "MAX_CANDIDATES",
    "Place",
    "every_county",
    "fetch_status",
    "init_boundary",
    "init_place",
    "search_places",
]

MAX_CANDIDATES = 30
"""At most this many places are listed for a search."""


@dataclass(frozen=True)
class Place:
    """A county, district or city a project can be made for."""

    adcode: str
    name: str
    full_name: str
    level: str
    name_en: str


def search_places(query: str) -> list[Place]:
    """Places whose adcode starts with ``query`` or whose name or full name contains it
    (after :func:`geoplan.taxonomy.normalize_text`); every place for an empty query."""
    table = places.available_places()
    rows = [Place(r.adcode, r.name, r.full_name, r.level, r.name_en) for r in table.itertuples()]
    text = normalize_text(query)
    if not text:
        return rows[:MAX_CANDIDATES]
    hits = [
        p
        for p in rows
        if p.adcode.startswith(text)
        or text in normalize_text(p.name)
        or text in normalize_text(p.full_name)
        or text in normalize_text(p.name_en)
    ]
    return hits[:MAX_CANDIDATES]


def every_county() -> bool:
    """Whether every county and district of China can be searched (the registry of
    issue 15 item 2); today only the places of the shipped plans."""
    return False


def init_place(adcode: str, folder: Path) -> None:
    """A project folder for the place ``adcode`` (``geoplan init ADCODE``)."""
    init.init_project(adcode, folder)


def init_boundary(boundary: Path, folder: Path, name: str) -> None:
    """A project folder for the area of a boundary file (``geoplan init --boundary``)."""
    init.init_from_boundary(boundary, folder, name=name)


def fetch_status() -> tuple[bool, str, str]:
    """Whether the network and population can be fetched, and why not (zh, en)."""
    return (
        False,
        "联网获取（geoplan fetch）尚未提供：请上传文件，或把文件放入项目文件夹后在此选用。",
        "Fetching (geoplan fetch) is not available yet: upload the files, or put them into the "
        "project folder and pick them here.",
    )
