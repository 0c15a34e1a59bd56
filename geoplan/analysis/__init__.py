"""Analysis: tables and arrays in, tables out (travel engine, coverage, gaps, capacity,
location models, input checks). No files are written here and nothing draws.
"""

__all__ = [
    "capacity",
    "coverage",
    "duplicates",
    "engine",
    "gaps",
    "location",
    "overlap",
    "preflight",
    "qa",
    "rules",
    "sensitivity",
    "streets",
]
