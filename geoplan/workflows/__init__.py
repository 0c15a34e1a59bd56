"""Workflows: the project file and the commands built on it (run, plan check, scenario, sites,
batch, national, init, fetch), each reading its inputs, calling the layers below and writing
one result folder.
"""

__all__ = [
    "batch",
    "check_facilities",
    "config",
    "fetch",
    "gaps_gpkg",
    "init",
    "national",
    "plan_check",
    "plan_kinds",
    "project",
    "scenario",
    "side_process",
    "sites",
]
