"""Atomic output writing (every file appears whole or not at all) and reading TOML inputs."""

from __future__ import annotations

import contextlib
import json
import math
import os
import tempfile
import tomllib
from collections.abc import Iterator
from pathlib import Path

from .errors import ConfigError, OutputError


@contextlib.contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; move it into place only if the block succeeds."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=path.suffix, dir=path.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    tmp_path.unlink()  # writers (GDAL, openpyxl) want to create the file themselves
    try:
        yield tmp_path
        os.replace(tmp_path, path)
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


def write_text(path: str | Path, text: str, *, encoding: str = "utf-8") -> None:
    """Write ``text`` atomically."""
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding=encoding)


def write_csv(frame, path: str | Path) -> None:
    """Write a DataFrame as CSV in UTF-8 with BOM (so Excel shows Chinese), atomically."""
    with atomic_path(path) as tmp:
        frame.to_csv(tmp, index=False, encoding="utf-8-sig")


def write_json(path: str | Path, data: object) -> None:
    """Write ``data`` as indented UTF-8 JSON, atomically; never NaN or Infinity.

    Raises :class:`OutputError` naming the first non-finite number (JSON has none, and
    ``report`` and other readers would fail on ``NaN``/``Infinity``).
    """
    try:
        text = json.dumps(data, ensure_ascii=False, indent=2, allow_nan=False)
    except ValueError:
        where = _non_finite(data, "") or "a value"
        raise OutputError(
            f"{Path(path).name}: {where} is not a finite number; nothing was written "
            "(JSON cannot hold NaN or Infinity) / 数值非有限，未写出"
        ) from None
    write_text(path, text + "\n")


def _non_finite(value: object, where: str) -> str | None:
    """The key path of the first NaN/Infinity in ``value`` (None if there is none)."""
    if isinstance(value, float) and not math.isfinite(value):
        return where or "the value"
    if isinstance(value, dict):
        for key, item in value.items():
            found = _non_finite(item, f"{where}.{key}" if where else str(key))
            if found:
                return found
    if isinstance(value, list | tuple):
        for i, item in enumerate(value):
            found = _non_finite(item, f"{where}[{i}]")
            if found:
                return found
    return None


def read_toml(path: Path) -> dict:
    """The tables of a UTF-8 TOML file; a :class:`ConfigError` naming the file if it is not one."""
    if path.is_dir():
        raise ConfigError(
            f"{path} is a folder; give the .toml file in it / 这是文件夹，请给出 .toml 文件"
        )
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: not a valid UTF-8 TOML file ({exc})") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot be read ({exc.strerror or exc})") from None
