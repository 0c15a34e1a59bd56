"""Analysis: tables and arrays in, tables out (travel engine, coverage, gaps, capacity,
location models, service areas, input checks). No files are written here and nothing draws.
"""

__all__ = [
    "capacity",
    "catchments",
    "coverage",
    "duplicates",
    "engine",
    "equity",
    "gaps",
    "location",
    "overlap",
    "preflight",
    "qa",
    "referral",
    "rules",
    "sensitivity",
    "service_areas",
    "streets",
]
