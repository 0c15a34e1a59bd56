"""geoplan: health- and fitness-facility coverage planning for China.

From facility records, a road network and population to coverage by travel-time circle,
ranked gap lists and self-contained maps. The front door, for a notebook::

    import geoplan as gp

    network = gp.read_network("roads.osm.pbf")
    facilities = gp.read_facilities("clinics.xlsx", crs="gcj02")
    demand = gp.read_demand("population.tif")
    units = gp.read_units("townships.geojson")
    rule = gp.Rule("medical_walk_15", "15分钟步行可达医疗卫生机构", "Medical within 15 min walk",
                   ("medical",), "walk", 15.0, target_share=1.0)
    cov = gp.coverage(network, facilities, demand, [rule], units)
    cov.share("medical_walk_15"), cov.by_unit(), cov.points()
    gaps = gp.find_gaps(cov, "medical_walk_15")
    gp.coverage_map(cov, gaps=gaps)                    # a folium Map
    gp.travel_times(network, facilities, demand, mode="walk", cutoff_s=900)

or a whole project file: ``gp.run_project("project.toml", "out/")``. The layers below are
namespaces too (``gp.readers``, ``gp.analysis``, ``gp.plans``, ``gp.rendering``,
``gp.workflows``; DESIGN.md shows them). Names are imported when first used, so
``import geoplan`` stays light (no folium, matplotlib, dask, highspy or playwright).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from ._version import __version__
from .errors import (
    ConfigError,
    DataQualityWarning,
    GeoplanError,
    InputError,
    InputFileNotFoundError,
    LimitError,
    NetworkError,
    OutputError,
    OutputExistsError,
)

if TYPE_CHECKING:  # what __getattr__ gives, for editors and type checkers
    from . import analysis, plans, readers, rendering, workflows
    from ._paths import DEMO_PROJECT, shipped_path
    from .analysis.coverage import Coverage
    from .analysis.rules import Rule
    from .api import coverage, coverage_map, find_gaps, travel_times
    from .plans.packs import available_packs, load_pack
    from .readers.boundaries import read_units
    from .readers.demand import read_demand
    from .readers.facilities import FacilityTable, read_facilities
    from .readers.network import Network, read_network
    from .rendering.maps import save_map
    from .workflows.project import Project, RunResult, compute_project, load_project, run_project

_LAZY: dict[str, str] = {
    # readers: file → table
    "read_facilities": "geoplan.readers.facilities",
    "read_network": "geoplan.readers.network",
    "read_demand": "geoplan.readers.demand",
    "read_units": "geoplan.readers.boundaries",
    "FacilityTable": "geoplan.readers.facilities",
    "Network": "geoplan.readers.network",
    # analysis: tables in, tables out
    "Rule": "geoplan.analysis.rules",
    "Coverage": "geoplan.analysis.coverage",
    "coverage": "geoplan.api",
    "travel_times": "geoplan.api",
    "find_gaps": "geoplan.api",
    # plans
    "available_packs": "geoplan.plans.packs",
    "load_pack": "geoplan.plans.packs",
    # rendering
    "coverage_map": "geoplan.api",
    "save_map": "geoplan.rendering.maps",
    # workflows: project files
    "Project": "geoplan.workflows.project",
    "RunResult": "geoplan.workflows.project",
    "load_project": "geoplan.workflows.project",
    "compute_project": "geoplan.workflows.project",
    "run_project": "geoplan.workflows.project",
    # data shipped with geoplan
    "DEMO_PROJECT": "geoplan._paths",
    "shipped_path": "geoplan._paths",
}
"""Public name → the module that defines it (imported on first use)."""

_SUBPACKAGES = ("readers", "analysis", "plans", "rendering", "workflows")

__all__ = [
    "DEMO_PROJECT",
    "ConfigError",
    "Coverage",
    "DataQualityWarning",
    "FacilityTable",
    "GeoplanError",
    "InputError",
    "InputFileNotFoundError",
    "LimitError",
    "Network",
    "NetworkError",
    "OutputError",
    "OutputExistsError",
    "Project",
    "Rule",
    "RunResult",
    "__version__",
    "analysis",
    "available_packs",
    "compute_project",
    "coverage",
    "coverage_map",
    "find_gaps",
    "load_pack",
    "load_project",
    "plans",
    "read_demand",
    "read_facilities",
    "read_network",
    "read_units",
    "readers",
    "rendering",
    "run_project",
    "save_map",
    "shipped_path",
    "travel_times",
    "workflows",
]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value  # the next access is a plain attribute
        return value
    if name in _SUBPACKAGES:
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
