"""What a map may be asked for, without the renderer: its languages and basemaps.

Kept apart from :mod:`geoplan.rendering.maps` (which imports folium, 0.2 s) so that the command
line, the project file's checks and a run's first steps name them without importing it.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["BASEMAPS", "LANGS", "Basemap"]

LANGS: tuple[str, ...] = ("zh", "en")
"""Map languages: every label, layer name, popup and note is in one of them."""


@dataclass(frozen=True)
class Basemap:
    """A tile basemap: Leaflet URL templates, its coordinate system and credit."""

    key: str
    name: tuple[str, str]
    """(Chinese, English) name."""
    tiles: tuple[str, ...]
    """Leaflet URL templates, drawn bottom to top (``{tk}`` is the key option)."""
    subdomains: str
    credit: str
    gcj02: bool
    """True: the tiles are in GCJ-02, so overlays are shifted from WGS84 to GCJ-02."""
    needs_key: bool = False
    max_native_zoom: int = 18


_TIANDITU = (
    "https://t{s}.tianditu.gov.cn/%s_w/wmts?SERVICE=WMTS&REQUEST=GetTile&VERSION=1.0.0"
    "&LAYER=%s&STYLE=default&TILEMATRIXSET=w&FORMAT=tiles&TILEMATRIX={z}&TILEROW={y}"
    "&TILECOL={x}&tk={tk}"
)
BASEMAPS: dict[str, Basemap] = {
    "none": Basemap("none", ("无底图", "no basemap"), (), "", "", gcj02=False),
    "osm": Basemap(
        "osm",
        ("OpenStreetMap", "OpenStreetMap"),
        ("https://tile.openstreetmap.org/{z}/{x}/{y}.png",),
        "",
        "© OpenStreetMap contributors",
        gcj02=False,
        max_native_zoom=19,
    ),
    "tianditu": Basemap(
        "tianditu",
        ("天地图", "Tianditu"),
        (_TIANDITU % ("vec", "vec"), _TIANDITU % ("cva", "cva")),
        "01234567",
        "© 天地图 Tianditu",
        gcj02=False,
        needs_key=True,
    ),
    "amap": Basemap(
        "amap",
        ("高德地图", "Amap"),
        (
            "https://webrd0{s}.is.autonavi.com/appmaptile?lang=zh_cn&size=1&scale=1&style=8"
            "&x={x}&y={y}&z={z}",
        ),
        "1234",
        "© 高德地图 AutoNavi",
        gcj02=True,
    ),
}
"""Basemaps by name; ``none`` (the default) keeps the map offline."""
