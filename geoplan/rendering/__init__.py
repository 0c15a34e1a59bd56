"""Rendering: maps (folium, offline HTML), charts, the report and the headless browser."""

__all__ = [
    "browser",
    "change_maps",
    "charts",
    "maps",
    "report",
    "run_maps",
]
