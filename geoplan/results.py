"""Result folders: each holds one run of one command, written whole or not at all.

Every command that writes a folder does it through :func:`output_folder`::

    with output_folder(out, command="run", overwrite=overwrite, inputs=paths) as staged:
        _io.write_csv(table, staged.path / "gaps.csv")

* **Checked before any work.** ``--out`` must be a folder that can be created and written: a
  file, a read-only place or a path that cannot be made is one line before anything is
  computed. No input may lie inside it (an input is never overwritten or deleted).
* **One writer.** ``<out>/.geoplan.lock`` is held (``flock``) for the whole command and names
  its pid, host, command and start. A second command refuses with one line. A lock whose
  process died is reported and cleared, with the files that process left unfinished.
* **Staged, then swapped in.** The command writes into ``<out>/.geoplan-staging-…/``. Only when
  its block ends without error are the previous outputs removed and the new ones moved in:
  renames on one file system, Ctrl-C held back meanwhile, and a journal
  (``.geoplan-commit.json``) that the next command on the folder completes should the
  process die midway. An error or Ctrl-C leaves the previous result whole, or, in a new
  folder, nothing.
* **A manifest, written last.** ``manifest.json`` names the command (and its command line),
  every file written (path, bytes, sha256; found by walking what was written, not from a
  list), the result folders written inside it, and ``finished: true``.

What belongs to a result, and so what ``--overwrite`` replaces: the files its manifest lists;
the result folders its command wrote inside it (a batch's areas, ``results``); the reports
``geoplan report`` wrote from it (``reports``, added to the manifest); and the results written
later into its immediate subfolders (a ``check/`` or ``scenario/`` inside a run folder: their
manifest names it as ``parent``). All of that is removed; nothing else is touched. A file in
the way that no manifest lists is never replaced: the command refuses. An ``init`` project
folder is a working folder, not a result: results written inside it are not attached to it.

Folders written before manifests existed (no ``manifest.json``, but an earlier geoplan's
``run.json`` or ``*summary.json``) are migrated once: with ``--overwrite`` the files earlier
versions wrote (:data:`LEGACY_OUTPUTS`, top level only) are removed or replaced; anything
else stays.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import errno
import hashlib
import json
import logging
import os
import shutil
import signal
import socket
import threading
import uuid
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from ._version import __version__
from .errors import InputError, Interrupted, OutputError, OutputExistsError

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: O_EXCL locks, stale ones removed by hand
    fcntl = None

logger = logging.getLogger(__name__)

__all__ = [
    "LEGACY_OUTPUTS",
    "LOCK",
    "MANIFEST",
    "Staging",
    "output_files",
    "output_folder",
    "read_manifest",
    "report_output",
    "require_complete",
    "set_invocation",
]

MANIFEST = "manifest.json"
LOCK = ".geoplan.lock"
JOURNAL = ".geoplan-commit.json"
STAGING_PREFIX = ".geoplan-staging-"
FORMAT = 1
"""``geoplan_manifest`` value of the manifests this version writes."""
NOT_A_PARENT = frozenset({"init"})
"""Commands whose folders do not own results written into their subfolders."""
LEGACY_MARKERS = (
    "run.json",
    "summary.json",
    "scenario_summary.json",
    "catchments_summary.json",
    "batch_summary.json",
    "qa.csv",
)
"""Files that mark a folder written by geoplan before manifests existed."""
LEGACY_OUTPUTS = frozenset(
    {
        *LEGACY_MARKERS,
        "coverage_by_unit.csv",
        "coverage_points.csv",
        "gaps.csv",
        "gaps.xlsx",
        "gaps.gpkg",
        "map.html",
        "map_zh.html",
        "map_en.html",
        "rejects.csv",
        "report.html",
        "report.pdf",
        "report_en.html",
        "report_en.pdf",
        "index.html",
        "index_en.html",
        "checks.csv",
        "indicators.csv",
        "presence_gaps.csv",
        "scenario_by_unit.csv",
        "changed_points.csv",
        "changed_points.gpkg",
        "scenario_map.html",
        "candidates.csv",
        "selected.csv",
        "sites.xlsx",
        "sites.gpkg",
        "sites_map.html",
        "catchment_facilities.csv",
        "catchment_points.csv",
        "catchments.gpkg",
        "catchments_map.html",
        "batch_summary.csv",
    }
)
"""The outputs of geoplan before manifests (frozen: only to migrate such folders once)."""

_invocation: list[str] | None = None


def set_invocation(argv: Sequence[str] | None) -> None:
    """Record the command line (``geoplan …``) that manifests written from now on name."""
    global _invocation
    _invocation = None if argv is None else ["geoplan", *argv]


def _now() -> str:
    return dt.datetime.now().astimezone().isoformat(timespec="seconds")


# --------------------------------------------------------------------------- staging


@dataclass(frozen=True)
class Staging:
    """Where a command writes (``path``) and where its files will be once swapped in."""

    path: Path
    final: Path

    def record(self, value: str | Path) -> str:
        """A path as a record (run.json) names it: relative if it was written here."""
        try:
            return Path(value).resolve().relative_to(self.path.resolve()).as_posix()
        except ValueError:
            return str(value)


# --------------------------------------------------------------------------- manifests


def read_manifest(folder: str | Path) -> dict | None:
    """The manifest of ``folder``, or None when it has none or it is not geoplan's."""
    path = Path(folder) / MANIFEST
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return None
    if not isinstance(data, dict) or "geoplan_manifest" not in data or not _well_formed(data):
        return None
    return data


def _safe(rel: object) -> bool:
    """A relative path that stays inside its folder (no ``..``, not absolute, not hidden)."""
    if not isinstance(rel, str) or not rel or "\\" in rel:
        return False
    parts = PurePosixPath(rel).parts
    return not PurePosixPath(rel).is_absolute() and all(
        part not in ("", ".", "..") and not part.startswith(".") for part in parts
    )


def _well_formed(manifest: dict) -> bool:
    """Every path a manifest names is a safe relative path (an overwrite deletes them)."""
    try:
        files = [f["path"] for f in manifest.get("files", [])]
        files += [f["path"] for e in manifest.get("reports", {}).values() for f in e["files"]]
        results = [r["path"] for r in manifest.get("results", [])]
        return all(_safe(rel) for rel in [*files, *results])
    except (TypeError, KeyError, AttributeError):
        return False


def _how_to_redo(manifest: dict | None, folder: Path) -> str:
    argv = (manifest or {}).get("argv")
    if argv:
        redo = " ".join(argv)
        return redo if "--overwrite" in argv else f"{redo} --overwrite"
    return f"geoplan run PROJECT.toml --out {folder} --overwrite (or demo, check, scenario, batch)"


def require_complete(
    folder: str | Path, *, commands: Iterable[str] | None = None, hashes: bool = True
) -> dict:
    """The manifest of a finished result whose files are all there as written.

    ``commands``: the commands whose results are accepted; ``hashes=False`` compares sizes
    only (a quick second look).

    Raises
    ------
    InputError
        One line naming what is missing or changed and the command that writes it again.
    """
    folder = Path(folder)
    manifest = read_manifest(folder)
    if manifest is None and (folder / JOURNAL).is_file():
        raise InputError(
            f"{folder}: geoplan stopped while replacing the result there; run the command again "
            "with --overwrite (it completes the swap first)"
        )
    if manifest is None:
        raise InputError(
            f"{folder} holds no complete geoplan result (no {MANIFEST}): pass the --out folder "
            "of geoplan run, demo, check, scenario or batch, or run one of them into it first"
        )
    redo = _how_to_redo(manifest, folder)
    if manifest.get("finished") is not True:
        raise InputError(f"{folder}: the result was not finished; run again: {redo}")
    if commands is not None and manifest.get("command") not in set(commands):
        raise InputError(
            f"{folder} holds the result of `geoplan {manifest.get('command')}`, which has no "
            f"report; report the --out folder of {', '.join(sorted(set(commands)))}"
        )
    for entry in manifest.get("files", []):
        path = folder / entry["path"]
        if not path.is_file():
            raise InputError(f"{path} is missing from the result; run again: {redo}")
        if path.stat().st_size != entry["bytes"] or (hashes and _sha256(path) != entry["sha256"]):
            raise InputError(
                f"{path} was changed after geoplan wrote it ({MANIFEST} has its sha256); "
                f"run again: {redo}"
            )
    return manifest


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _describe(root: Path, rel: str) -> dict:
    path = root / rel
    return {"path": rel, "bytes": path.stat().st_size, "sha256": _sha256(path)}


def _describe_all(root: Path, files: Sequence[str]) -> list[dict]:
    """:func:`_describe` of each file, hashed on every CPU (hashlib releases the GIL)."""
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=min(4, os.cpu_count() or 1)) as pool:
        return list(pool.map(lambda rel: _describe(root, rel), files))


def _walk(root: Path) -> tuple[list[str], list[str]]:
    """Files written below ``root`` and result folders (with a manifest) written there."""
    files: list[str] = []
    results: list[str] = []

    def visit(folder: Path) -> None:
        for entry in sorted(folder.iterdir()):
            if entry.name in (LOCK, JOURNAL) or entry.name.startswith(STAGING_PREFIX):
                continue
            rel = entry.relative_to(root).as_posix()
            if entry.is_dir() and not entry.is_symlink():
                if (entry / MANIFEST).is_file():
                    results.append(rel)
                else:
                    visit(entry)
            else:
                files.append(rel)

    visit(root)
    return files, results


def _report_files(manifest: dict) -> list[str]:
    return [f["path"] for entry in manifest.get("reports", {}).values() for f in entry["files"]]


def _attached(folder: Path, result_id: str) -> list[str]:
    """Immediate subfolders holding a result written into the result ``result_id``."""
    names = []
    for sub in sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith(".")):
        child = read_manifest(sub)
        if child is not None and (child.get("parent") or {}).get("id") == result_id:
            names.append(sub.name)
    return names


def _owned(folder: Path, manifest: dict) -> tuple[list[str], list[str]]:
    """``(files, result folders)`` that belong to the result ``manifest`` describes."""
    files = [f["path"] for f in manifest.get("files", [])] + _report_files(manifest)
    results = [r["path"] for r in manifest.get("results", [])]
    results += [name for name in _attached(folder, manifest.get("id")) if name not in results]
    return files, results


# --------------------------------------------------------------------------- the lock


class _Lock:
    """An advisory lock file naming its holder; the kernel frees it when the holder dies."""

    def __init__(self, path: Path, command: str) -> None:
        self.path = path
        self.command = command
        self.fd: int | None = None
        self.stale: dict | None = None

    def acquire(self) -> None:
        info = {
            "pid": os.getpid(),
            "host": socket.gethostname(),
            "command": self.command,
            "started_at": _now(),
        }
        for _ in range(10):
            try:
                flags = os.O_RDWR | os.O_CREAT | (0 if fcntl else os.O_EXCL)
                fd = os.open(self.path, flags, 0o644)
            except FileExistsError:  # no fcntl: an O_EXCL lock
                raise OutputError(self._busy(_holder_of(self.path))) from None
            except FileNotFoundError:  # the folder vanished (a failed writer removed it)
                self.path.parent.mkdir(parents=True, exist_ok=True)
                continue
            except OSError as exc:
                raise OutputError(
                    f"cannot write into {self.path.parent} ({exc.strerror}); choose another --out"
                ) from None
            if fcntl is not None:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except OSError:
                    holder = _holder(fd)
                    os.close(fd)
                    raise OutputError(self._busy(holder)) from None
                try:
                    same = os.stat(self.path).st_ino == os.fstat(fd).st_ino
                except FileNotFoundError:
                    same = False
                if not same:  # released and removed meanwhile: lock the new file
                    os.close(fd)
                    continue
            previous = _holder(fd)
            self.stale = previous or None
            os.ftruncate(fd, 0)
            os.pwrite(fd, json.dumps(info).encode("utf-8"), 0)
            self.fd = fd
            return
        raise OutputError(f"could not lock {self.path}; try again")

    def _busy(self, holder: dict) -> str:
        who = f"geoplan {holder.get('command', '?')} (pid {holder.get('pid', '?')}"
        if holder.get("host") and holder.get("host") != socket.gethostname():
            who += f" on {holder['host']}"
        who += f", since {holder.get('started_at', '?')})"
        hint = "" if fcntl else f"; if it is not running, delete {self.path}"
        return (
            f"{self.path.parent} is being written by {who}; wait for it to finish or choose "
            f"another --out{hint}"
        )

    def release(self) -> None:
        if self.fd is None:
            return
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()
        os.close(self.fd)
        self.fd = None


def _holder(fd: int) -> dict:
    try:
        data = json.loads(os.pread(fd, 4096, 0).decode("utf-8") or "{}")
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return {"command": "?"}
    return data if isinstance(data, dict) else {"command": "?"}


def _holder_of(path: Path) -> dict:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return {}
    try:
        return _holder(fd)
    finally:
        os.close(fd)


# --------------------------------------------------------------------------- interrupts


@contextlib.contextmanager
def _interrupts_deferred(done: str = "") -> Iterator[None]:
    """Hold Ctrl-C back while files are being swapped; raise it afterwards.

    ``done`` says what is in place by then (the message of the :class:`Interrupted` raised).
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    received: list[int] = []
    previous = signal.signal(signal.SIGINT, lambda signum, frame: received.append(signum))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
    if received:
        raise Interrupted(f"interrupted / 已中断: {done}") if done else KeyboardInterrupt


# --------------------------------------------------------------------------- the journal


def _unlink(path: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        path.unlink()


def _remove_file(root: Path, rel: str) -> None:
    """Remove ``root/rel`` and the folders it leaves empty, never following a link outside."""
    path = root / rel
    parent, top = path.parent.resolve(), root.resolve()
    if parent != top and top not in parent.parents:
        logger.warning("%s: reaches outside %s through a link; left alone", path, root)
        return
    _unlink(path)
    _prune(root, path.parent)


def _prune(root: Path, folder: Path) -> None:
    """Remove ``folder`` and its parents up to ``root`` while they are empty."""
    while folder != root and root in folder.parents:
        try:
            folder.rmdir()
        except OSError:
            return
        folder = folder.parent


def _remove_result(folder: Path) -> None:
    """Remove what belongs to the result in ``folder`` (its files, reports, inner results)."""
    manifest = None if folder.is_symlink() else read_manifest(folder)
    if manifest is None:
        return
    files, results = _owned(folder, manifest)
    for name in results:
        _remove_result(folder / name)
    for rel in files:
        _remove_file(folder, rel)
    _unlink(folder / MANIFEST)
    with contextlib.suppress(OSError):
        folder.rmdir()


def _merge(source: Path, target: Path) -> None:
    """Move every entry of ``source`` into ``target`` (renames), merging plain folders."""
    for entry in sorted(source.iterdir()):
        destination = target / entry.name
        if entry.is_dir() and destination.is_dir() and not (entry / MANIFEST).exists():
            _merge(entry, destination)
            entry.rmdir()
        else:
            os.replace(entry, destination)


def _write_json(path: Path, data: dict) -> None:
    """Write JSON atomically (a temporary file beside it, then a rename)."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(data, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    os.replace(tmp, path)


def _apply(folder: Path, journal: dict) -> None:
    """Carry out a commit journal; safe to repeat after a crash halfway through."""
    named = [*journal["remove"], *journal["remove_results"]]
    if not all(_safe(rel) for rel in named) or not journal["staging"].startswith(STAGING_PREFIX):
        raise OutputError(f"{folder / JOURNAL} names paths outside the folder; not used")
    if journal["remove_manifest"]:
        _unlink(folder / MANIFEST)
    for rel in journal["remove"]:
        _remove_file(folder, rel)
    for rel in journal["remove_results"]:
        _remove_result(folder / rel)
    staging = folder / journal["staging"]
    if staging.is_dir():
        _merge(staging, folder)
    _write_json(folder / MANIFEST, journal["manifest"])
    shutil.rmtree(staging, ignore_errors=True)
    _unlink(folder / JOURNAL)


def _commit(folder: Path, journal: dict) -> None:
    """Write the journal, then carry it out (Ctrl-C waits until it is done)."""
    with _interrupts_deferred(f"{folder} was already written completely"):
        _write_json(folder / JOURNAL, journal)
        try:
            _apply(folder, journal)
        except OSError as exc:
            raise OutputError(
                f"could not finish replacing the result in {folder} ({exc}); the next geoplan "
                "command writing there completes it"
            ) from None


def _recover(folder: Path, stale: dict | None) -> None:
    """With the lock held: finish a commit a dead process left, remove its staging folders."""
    journal_path = folder / JOURNAL
    if journal_path.is_file():
        try:
            journal = json.loads(journal_path.read_text(encoding="utf-8"))
            _apply(folder, journal)
            logger.warning(
                "%s: finished replacing the result that geoplan (pid %s) left halfway",
                folder,
                journal.get("pid", "?"),
            )
        except (OSError, KeyError, TypeError, json.JSONDecodeError) as exc:
            raise OutputError(
                f"{journal_path}: an interrupted commit cannot be completed ({exc}); move the "
                "folder away or choose another --out"
            ) from None
    leftovers = [p for p in folder.glob(f"{STAGING_PREFIX}*") if p.is_dir()]
    for path in leftovers:
        shutil.rmtree(path, ignore_errors=True)
    if stale:
        logger.warning(
            "%s: cleared a stale lock of geoplan %s (pid %s, started %s), which ended without "
            "finishing%s",
            folder,
            stale.get("command", "?"),
            stale.get("pid", "?"),
            stale.get("started_at", "?"),
            "; its unfinished files were removed" if leftovers else "",
        )


# --------------------------------------------------------------------------- guards


def _refuse_inputs_inside(folder: Path, inputs: Iterable[str | Path | None]) -> None:
    root = folder.resolve()
    for value in inputs:
        if value is None:
            continue
        path = Path(value).resolve()
        if path == root or root in path.parents:
            raise OutputError(
                f"input {value} lies inside the output folder {folder}; geoplan never writes "
                "where its inputs are (they could be replaced): choose another --out"
            )


def _make_folders(folder: Path) -> list[Path]:
    """Create ``folder`` and missing parents; return those created, outermost first."""
    missing = []
    current = folder.absolute()
    while not current.exists():
        missing.append(current)
        current = current.parent
    if not current.is_dir():
        raise OutputError(f"cannot create {folder}: {current} is a file; choose another --out")
    created = []
    for path in reversed(missing):
        try:
            path.mkdir()
        except FileExistsError:
            continue
        except OSError as exc:
            _remove_empty(created)
            raise OutputError(
                f"cannot create {folder} ({exc.strerror}); choose another --out"
            ) from None
        created.append(path)
    return created


def _remove_empty(created: Sequence[Path]) -> None:
    for path in reversed(created):
        try:
            path.rmdir()
        except OSError:
            return


def _output_error(exc: BaseException, folder: Path) -> OutputError | None:
    """A one-line error for a full disk or a place that cannot be written; else None."""
    text = str(exc)
    if (isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT)) or (
        "No space left on device" in text
    ):
        return OutputError(
            f"no space left on the device of {folder}: nothing was written there; free some "
            "space or choose another --out"
        )
    denied = isinstance(exc, OSError) and exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS)
    if denied and exc.filename and folder.resolve() in Path(exc.filename).resolve().parents:
        return OutputError(
            f"cannot write into {folder} ({exc.strerror}): nothing was written there; choose "
            "another --out"
        )
    return None


@dataclass
class _Writer:
    """The lock, the created folders and the staging folder of one command on one folder."""

    folder: Path
    command: str
    lock_name: str = LOCK
    created: list[Path] = field(default_factory=list)
    staging: Path | None = None
    lock: _Lock | None = None
    result: bool = True

    def __enter__(self) -> _Writer:
        try:
            self.created = _make_folders(self.folder)
            self.lock = _Lock(self.folder / self.lock_name, self.command)
            self.lock.acquire()
            if self.result:
                _recover(self.folder, self.lock.stale)
        except BaseException:
            self._cleanup()
            raise
        return self

    def stage(self) -> Path:
        """A new, empty staging folder inside the folder."""
        path = self.folder / f"{STAGING_PREFIX}{os.getpid()}-{uuid.uuid4().hex[:8]}"
        try:
            path.mkdir()
        except OSError as exc:
            raise OutputError(
                f"cannot write into {self.folder} ({exc.strerror}); choose another --out"
            ) from None
        self.staging = path
        return path

    def _cleanup(self) -> None:
        if self.staging is not None and not (self.folder / JOURNAL).exists():
            shutil.rmtree(self.staging, ignore_errors=True)
        if self.lock is not None:
            self.lock.release()
        _remove_empty(self.created)

    def __exit__(self, kind, exc, traceback) -> bool:
        try:
            with _interrupts_deferred():
                self._cleanup()
        except KeyboardInterrupt:
            if exc is None:
                raise Interrupted(
                    f"interrupted / 已中断: {self.folder} was already written completely"
                ) from None
            exc = exc if isinstance(exc, KeyboardInterrupt) else KeyboardInterrupt()
        if exc is None:
            return False
        if isinstance(exc, KeyboardInterrupt) and not isinstance(exc, Interrupted):
            kept = (
                "; its earlier contents are unchanged"
                if self.folder.exists() and not self.created
                else ""
            )
            raise Interrupted(
                f"interrupted / 已中断: nothing was written to {self.folder}{kept}"
            ) from None
        converted = _output_error(exc, self.folder)
        if converted is not None:
            raise converted from None
        return False


# --------------------------------------------------------------------------- a result folder


@contextlib.contextmanager
def output_folder(
    path: str | Path,
    *,
    command: str,
    overwrite: bool = False,
    inputs: Iterable[str | Path | None] = (),
) -> Iterator[Staging]:
    """Write one result into the folder ``path``: checked, locked, staged, swapped in whole.

    Parameters
    ----------
    path
        The result folder (``--out``); created with its parents when missing.
    command
        The command's name, recorded in the manifest (``run``, ``check`` …).
    overwrite
        Replace the result already there (what its manifest lists, see the module text);
        without it a folder holding a result is refused before any work.
    inputs
        Every input file of the command: none may lie inside ``path``.

    Yields
    ------
    Staging
        Write every output below ``staging.path``; the files appear in ``path`` when the
        block ends without an error, with ``manifest.json`` written last.

    Raises
    ------
    OutputError
        ``path`` is a file, cannot be created or written, is locked by another command, holds
        an input, or the disk filled up while writing (nothing is left half-written).
    OutputExistsError
        A result is there and ``overwrite`` is False, or a file no manifest lists is in the
        way of an output.
    Interrupted
        Ctrl-C: nothing was written (a KeyboardInterrupt with a one-line message).
    """
    folder = Path(path)
    if folder.exists() and not folder.is_dir():
        raise OutputError(f"--out {folder} is a file, not a folder; choose a folder")
    _refuse_inputs_inside(folder, inputs)
    started = _now()
    with _Writer(folder, command) as writer:
        previous, legacy = _previous(folder, overwrite=overwrite)
        staging = writer.stage()
        yield Staging(staging, folder)
        files, results = _walk(staging)
        remove: list[str] = []
        remove_results: list[str] = []
        if previous is not None:
            remove, remove_results = _owned(folder, previous)
        elif legacy:  # written before manifests: its known outputs, and same-named files
            remove = [p.name for p in folder.iterdir() if p.name in LEGACY_OUTPUTS and p.is_file()]
            remove += [rel for rel in files if rel not in remove and (folder / rel).is_file()]
        locks = _lock_results(folder, remove_results)
        try:
            _refuse_in_the_way(
                folder, files, results, removed=set(remove), removed_results=set(remove_results)
            )
            manifest = {
                "geoplan_manifest": FORMAT,
                "id": uuid.uuid4().hex,
                "command": command,
                "argv": _invocation,
                "geoplan_version": __version__,
                "started_at": started,
                "finished_at": _now(),
                "finished": True,
                "files": _describe_all(staging, files),
                "results": [_result_entry(staging, rel) for rel in results],
                "reports": {},
            }
            parent = _parent(folder)
            if parent is not None:
                manifest["parent"] = parent
            journal = {
                "pid": os.getpid(),
                "staging": staging.name,
                "remove_manifest": True,
                "remove": remove,
                "remove_results": remove_results,
                "manifest": manifest,
            }
            _commit(folder, journal)
        finally:
            for lock in locks:
                lock.release()
                _prune(folder, lock.path.parent)


def _result_entry(root: Path, rel: str) -> dict:
    inner = read_manifest(root / rel) or {}
    return {"path": rel, "command": inner.get("command"), "id": inner.get("id")}


def _parent(folder: Path) -> dict | None:
    """The result this folder is written into (its immediate parent), if any."""
    manifest = read_manifest(folder.absolute().parent)
    if manifest is None or manifest.get("command") in NOT_A_PARENT:
        return None
    return {"id": manifest.get("id"), "command": manifest.get("command")}


def _previous(folder: Path, *, overwrite: bool) -> tuple[dict | None, bool]:
    """``(manifest of the result there, legacy?)``; refuses without ``overwrite``."""
    manifest = read_manifest(folder)
    if manifest is None and (folder / MANIFEST).exists():
        raise OutputExistsError(
            f"{folder / MANIFEST} is not a geoplan manifest; geoplan will not replace it: move "
            "it or choose another --out"
        )
    if manifest is not None:
        if not overwrite:
            raise OutputExistsError(
                f"{folder} already holds the result of `geoplan {manifest.get('command')}` "
                f"(finished {manifest.get('finished_at', '?')}); choose another --out or add "
                "--overwrite"
            )
        return manifest, False
    legacy = [name for name in LEGACY_MARKERS if (folder / name).is_file()]
    if legacy and not overwrite:
        raise OutputExistsError(
            f"{folder} already holds {', '.join(legacy)} (an earlier geoplan result); choose "
            "another --out or add --overwrite"
        )
    return None, bool(legacy)


def _lock_results(folder: Path, names: Sequence[str]) -> list[_Lock]:
    """Lock the result folders an overwrite will remove (none may be written meanwhile)."""
    locks: list[_Lock] = []
    try:
        for name in names:
            if (folder / name).is_dir():
                lock = _Lock(folder / name / LOCK, "remove")
                lock.acquire()
                locks.append(lock)
    except BaseException:
        for lock in locks:
            lock.release()
        raise
    return locks


def _refuse_in_the_way(
    folder: Path,
    files: Sequence[str],
    results: Sequence[str] = (),
    *,
    removed: set[str] = frozenset(),
    removed_results: set[str] = frozenset(),
) -> None:
    """Refuse, before anything moves, when an output would replace what no manifest lists.

    ``files`` and ``results`` are the new files and result folders (relative paths); what
    ``removed``/``removed_results`` name goes before the new result moves in.
    """
    for rel in [*files, *results]:
        if rel in removed or any(rel == r or rel.startswith(f"{r}/") for r in removed_results):
            continue
        parts = Path(rel).parts
        blocker = next(
            (
                folder.joinpath(*parts[:k])
                for k in range(1, len(parts))
                if folder.joinpath(*parts[:k]).exists() and not folder.joinpath(*parts[:k]).is_dir()
            ),
            None,
        )
        destination = folder / rel
        if blocker is None and os.path.lexists(destination):
            empty_folder = destination.is_dir() and not any(destination.iterdir())
            blocker = None if (rel in results and empty_folder) else destination
        if blocker is not None:
            raise OutputExistsError(
                f"{blocker} is in the way and no geoplan manifest lists it; geoplan never "
                "replaces such files: move it or choose another --out"
            )


# --------------------------------------------------------------------------- reports


@contextlib.contextmanager
def report_output(folder: str | Path, *, page: str, overwrite: bool = False) -> Iterator[Staging]:
    """Add a report (``page`` and the files staged with it) to the result in ``folder``.

    The report's files are listed under ``reports[page]`` of the result's manifest: an
    ``--overwrite`` report replaces exactly the files the earlier one with that page wrote
    (an old PDF goes when none is printed now), and a new run replaces them all.
    """
    folder = Path(folder)
    with _Writer(folder, "report") as writer:
        manifest = require_complete(folder, hashes=False)
        entry = manifest.get("reports", {}).get(page) or {"files": []}
        earlier = [f["path"] for f in entry["files"]]
        present = [rel for rel in dict.fromkeys([*earlier, page]) if (folder / rel).exists()]
        if present and not overwrite:
            raise OutputExistsError(
                f"{', '.join(str(folder / rel) for rel in present)} already exist(s); choose "
                "another --out or add --overwrite"
            )
        staging = writer.stage()
        yield Staging(staging, folder)
        files, _ = _walk(staging)
        others = {f["path"]: f"geoplan {manifest.get('command')}" for f in manifest["files"]}
        for key, other in manifest.get("reports", {}).items():
            if key != page:
                others.update({f["path"]: f"the report {key}" for f in other["files"]})
        for rel in files:
            if rel in others:
                raise OutputExistsError(
                    f"{folder / rel} was written by {others[rel]}; name the report otherwise "
                    "(--out)"
                )
        _refuse_in_the_way(folder, files, removed=set(earlier))
        updated = dict(manifest)
        updated["reports"] = {
            **manifest.get("reports", {}),
            page: {
                "argv": _invocation,
                "finished_at": _now(),
                "files": _describe_all(staging, files),
            },
        }
        journal = {
            "pid": os.getpid(),
            "staging": staging.name,
            "remove_manifest": False,
            "remove": [rel for rel in earlier if rel not in files],
            "remove_results": [],
            "manifest": updated,
        }
        _commit(folder, journal)


# --------------------------------------------------------------------------- single files


@contextlib.contextmanager
def output_files(
    paths: Sequence[str | Path],
    *,
    command: str,
    overwrite: bool = False,
    inputs: Iterable[str | Path | None] = (),
) -> Iterator[list[Path]]:
    """Write files named by the user (not a result folder) whole, or not at all.

    Checked before any work (not a folder, creatable, writable, not an input, absent unless
    ``overwrite``) and locked (``.<name>.geoplan.lock`` beside the first). Yields temporary
    paths beside the targets; they replace the targets together when the block succeeds.
    """
    targets = [Path(p) for p in paths]
    for target in targets:
        if target.is_dir():
            raise OutputError(f"--out {target} is a folder; give a file name")
    resolved = {t.resolve() for t in targets}
    for value in inputs:
        if value is not None and Path(value).resolve() in resolved:
            raise OutputError(f"--out {value} is also an input; choose another --out")
    existing = [str(t) for t in targets if t.exists()]
    if existing and not overwrite:
        raise OutputExistsError(
            f"{', '.join(existing)} already exist(s); choose another --out or add --overwrite"
        )
    folder = targets[0].parent
    with _Writer(folder, command, lock_name=f".{targets[0].name}.geoplan.lock", result=False):
        token = f"{os.getpid()}-{uuid.uuid4().hex[:8]}"
        temps = [t.with_name(f".{t.name}.{token}.tmp{t.suffix}") for t in targets]
        try:
            probe = temps[0]
            try:
                probe.touch()
                probe.unlink()
            except OSError as exc:
                raise OutputError(
                    f"cannot write into {folder} ({exc.strerror}); choose another --out"
                ) from None
            yield temps
            with _interrupts_deferred():
                for temp, target in zip(temps, targets, strict=True):
                    if temp.exists():
                        os.replace(temp, target)
        finally:
            for temp in temps:
                _unlink(temp)
