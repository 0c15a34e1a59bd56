"""Data credits from the inputs: what each map and report credits is what the run read.

Each input table of a project may say its own credit (``[network] credit = "…"``, likewise
``[demand]``, ``[facilities]``, ``[boundary]``, ``[units]``; an empty string means the user's
own data, credited to nobody). Without one, the credit follows the recognised source:

* a network read from OSM (``.osm``, ``.osm.pbf``, ``.osm.bz2``, osmnx GraphML, or a line
  file with osmnx's ``u``/``v``/``key`` or an ``osmid`` column): OpenStreetMap;
* demand from a GHS-POP file (``ghspop``/``ghs_pop`` in the name, as the demo's GraphML):
  GHS-POP; from a WorldPop raster (``worldpop`` in the name or its tags): WorldPop;
* anything else (the user's population points, polygons, facility lists, boundaries): no
  credit ("user data").

The ``[geocode]`` gazetteer's OSM files are credited to OpenStreetMap.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path

from .._compressed import GRAPHML_SUFFIXES
from ..errors import ConfigError

__all__ = ["GHS_POP", "OSM", "WORLDPOP", "attribution", "input_credit"]

OSM = "© OpenStreetMap contributors, ODbL 1.0"
GHS_POP = "GHS-POP R2023A, European Commission JRC, CC BY 4.0"
WORLDPOP = "WorldPop (www.worldpop.org), CC BY 4.0"

_OSM_SUFFIXES = (".osm", ".pbf", ".bz2", ".gz", *GRAPHML_SUFFIXES)  # GraphML also packed
_RASTER_SUFFIXES = (".tif", ".tiff", ".img", ".asc")


def input_credit(kind: str, path: str | Path, table: Mapping) -> str:
    """The credit of one input: its table's ``credit`` key, else by recognised source.

    Parameters
    ----------
    kind : {"network", "demand", "facilities", "boundary", "units", "geocode"}
        Which input.
    path : str or Path
        The file read.
    table : mapping
        The input's project table (``credit`` is read from it).

    Returns
    -------
    str
        The credit line; ``""`` for the user's own data.
    """
    if "credit" in table:
        credit = table["credit"]
        if not isinstance(credit, str):
            raise ConfigError(
                f'[{kind}] credit must be text (the data credit; "" for your own data), got '
                f"{credit!r}"
            )
        return credit.strip()
    path = Path(path)
    name = path.name.lower()
    if kind in ("network", "geocode"):
        return OSM if name.endswith(_OSM_SUFFIXES) or _osm_columns(path) else ""
    if kind == "demand":
        if any(mark in name for mark in ("ghspop", "ghs_pop", "ghs-pop")):
            return GHS_POP
        if "worldpop" in name or (name.endswith(_RASTER_SUFFIXES) and _worldpop_tags(path)):
            return WORLDPOP
    return ""


def _osm_columns(path: Path) -> bool:
    """Whether a line file carries osmnx's edge keys or OSM ids (derived from OSM)."""
    try:
        if path.suffix.lower() in (".parquet", ".geoparquet"):
            import pyarrow.parquet as pq

            columns = set(pq.read_schema(path).names)
        else:
            import pyogrio

            columns = set(pyogrio.read_info(path)["fields"])
    except Exception:  # unreadable here: the network reader reports it
        return False
    return {"u", "v", "key"} <= columns or bool({"osmid", "osm_id"} & columns)


def _worldpop_tags(path: Path) -> bool:
    try:
        import rasterio

        with rasterio.open(path) as ds:
            text = " ".join(f"{k}={v}" for k, v in ds.tags().items())
    except Exception:  # unreadable here: the demand reader reports it
        return False
    return "worldpop" in text.lower()


def attribution(credits: Mapping[str, str] | Iterable[str]) -> list[str]:
    """The distinct non-empty credits, in input order (for a map's attribution)."""
    values = credits.values() if isinstance(credits, Mapping) else credits
    return list(dict.fromkeys(c for c in values if c))
