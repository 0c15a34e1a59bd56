"""Rendering: maps (folium, offline HTML), charts, the report and the headless browser."""

__all__ = [
    "browser",
    "change_maps",
    "charts",
    "map_options",
    "maps",
    "report",
    "run_maps",
]
