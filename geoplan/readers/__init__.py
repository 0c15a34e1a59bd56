"""Readers: input files → the contract tables (facilities, network, demand, boundaries).

Each reader checks its file at the boundary and returns a plain table (see DESIGN.md,
"Tables"); nothing here computes travel times or writes outputs.
"""

__all__ = [
    "access",
    "boundaries",
    "credits",
    "demand",
    "elevation",
    "facilities",
    "geocode",
    "network",
    "osm_admin",
]
