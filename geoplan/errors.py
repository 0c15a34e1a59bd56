"""Exceptions and warnings: one package base class, each subclass also a built-in."""

from __future__ import annotations

__all__ = [
    "ConfigError",
    "DataQualityWarning",
    "GeoplanError",
    "InputError",
    "InputFileNotFoundError",
    "Interrupted",
    "LimitError",
    "NetworkError",
    "OutputError",
    "OutputExistsError",
]


class GeoplanError(Exception):
    """Base class of the errors geoplan raises on purpose (user errors: no CLI traceback)."""


class InputError(GeoplanError, ValueError):
    """An input file or table cannot be used as given (bad header, empty file, unknown format)."""


class InputFileNotFoundError(GeoplanError, FileNotFoundError):
    """An input file named by the user or the project does not exist."""


class ConfigError(GeoplanError, ValueError):
    """A project file or parameter is missing, misspelled or out of range."""


class NetworkError(GeoplanError, ValueError):
    """A road network cannot be read or has nothing usable for the requested mode."""


class LimitError(GeoplanError, ValueError):
    """Work estimated before it is done would exceed a limit (``geoplan.limits``)."""


class OutputExistsError(GeoplanError, FileExistsError):
    """An output would overwrite an existing file without ``--overwrite``."""


class OutputError(GeoplanError, OSError):
    """An output cannot be written as asked: ``--out`` is a file, read-only, locked or holds an
    input, the disk is full, or a value cannot be written (a number JSON cannot hold)."""


class Interrupted(KeyboardInterrupt):
    """Ctrl-C while writing a result; the message says what was left (nothing half-written)."""


class DataQualityWarning(UserWarning):
    """Rows were dropped, coerced or look suspicious; filter with ``warnings.filterwarnings``."""
