"""Rendering: maps (folium, offline HTML), charts, the report and the headless browser."""
