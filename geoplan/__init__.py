"""geoplan: health- and fitness-facility coverage planning for China.

From facility records, a road network and population to coverage by travel-time circle,
ranked gap lists and self-contained maps.
"""

from __future__ import annotations

from ._version import __version__
from .analysis.rules import Rule
from .errors import (
    ConfigError,
    DataQualityWarning,
    GeoplanError,
    InputError,
    InputFileNotFoundError,
    NetworkError,
    OutputError,
    OutputExistsError,
)

__all__ = [
    "ConfigError",
    "DataQualityWarning",
    "GeoplanError",
    "InputError",
    "InputFileNotFoundError",
    "NetworkError",
    "OutputError",
    "OutputExistsError",
    "Rule",
    "__version__",
]
