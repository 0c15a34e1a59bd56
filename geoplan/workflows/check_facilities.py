"""``geoplan check-facilities``: a facility file read and checked, its findings (``qa.csv``)
and rejected records (``rejects.csv``) written into a result folder, and a summary to print.

The checks are :func:`geoplan.analysis.qa.qa_facilities`; this module reads the files
(facilities, boundary, network) and writes the result folder.
"""

from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from .._io import write_csv
from ..analysis.duplicates import KEEP_HINT_CLI, reject_duplicates
from ..analysis.qa import (
    DECLARED_WGS84,
    MIN_POINTS,
    QA_CHECKS,
    SEVERITIES,
    qa_facilities,
)
from ..errors import DataQualityWarning
from ..readers.boundaries import read_boundary
from ..readers.facilities import FacilityTable, read_facilities, write_rejects
from ..results import output_folder

__all__ = ["QaReport", "check_facilities_file"]

logger = logging.getLogger(__name__)

_SHOWN_PER_CHECK = 3
"""Findings shown per check in the printed summary (qa.csv lists them all)."""


@dataclass(frozen=True)
class QaReport:
    """The result of :func:`check_facilities_file`.

    Attributes
    ----------
    table : FacilityTable
        The records as read.
    findings : pandas.DataFrame
        :func:`qa_facilities` of the table.
    written : tuple of Path
        ``qa.csv`` and ``rejects.csv``.
    notes : tuple of str
        What the reading said (sheet, header rows, encoding) and which checks did not run.
    """

    table: FacilityTable
    findings: pd.DataFrame
    written: tuple[Path, ...] = ()
    notes: tuple[str, ...] = ()

    def text(self) -> str:
        """The report printed by ``geoplan check-facilities`` (Chinese and English)."""
        t, f = self.table, self.findings
        counts = {s: int((f["severity"] == s).sum()) for s in SEVERITIES}
        lines = [
            f"facility check / 设施数据检查: {t.source}",
            f"records: read {t.read}, used {len(t.used)}, rejected {t.n_rejected} / "
            f"记录：读入 {t.read}，使用 {len(t.used)}，拒绝 {t.n_rejected}",
            f"findings: {_plural(counts['error'], 'error')}, "
            f"{_plural(counts['warning'], 'warning')}, "
            f"{counts['info']} info / 问题：错误 {counts['error']}，警告 {counts['warning']}，"
            f"提示 {counts['info']}",
        ]
        lines += [f"  · {note}" for note in self.notes]
        order = {c: i for i, c in enumerate(QA_CHECKS)}
        groups = sorted(
            f.groupby("check", sort=False),
            key=lambda item: (SEVERITIES.index(item[1]["severity"].iloc[0]), order[item[0]]),
        )
        for check, group in groups:
            _, title_zh, title_en = QA_CHECKS[check]
            severity = group["severity"].iloc[0]
            lines += ["", f"[{severity}] {check} — {title_zh} / {title_en}: {len(group)}"]
            for r in group.head(_SHOWN_PER_CHECK).itertuples(index=False):
                lines += [f"  - {r.message_zh}", f"    {r.message_en}"]
            if len(group) > _SHOWN_PER_CHECK:
                more = len(group) - _SHOWN_PER_CHECK
                lines.append(f"  … {more} more / 另有 {more} 条 (qa.csv)")
        if f.empty and any(_NOT_CHECKED in note for note in self.notes):
            lines += ["", "no findings among the checks that ran / 已运行的检查未发现问题"]
        elif f.empty:
            lines += ["", "no findings / 未发现问题"]
        if self.written:
            lines += [""] + [f"wrote {p}" for p in self.written]
        return "\n".join(lines)


_NOT_CHECKED = "not checked"


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" + ("" if n == 1 else "s")


class _Collect(logging.Handler):
    """Keeps the messages of a logger while a file is read."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


def _read_logged(path: Path, **options: Any) -> tuple[FacilityTable, list[str]]:
    """read_facilities, keeping its log messages for the report instead of printing them."""
    log = logging.getLogger("geoplan.readers.facilities")
    handler = _Collect()
    level, propagate = log.level, log.propagate
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    log.propagate = False
    try:
        with warnings.catch_warnings():  # capacity cells: listed as findings instead
            warnings.simplefilter("ignore", DataQualityWarning)
            table = read_facilities(path, **options)
    finally:
        log.removeHandler(handler)
        log.setLevel(level)
        log.propagate = propagate
    counts = ("see FacilityTable.rejects", "facility records read")  # in the report anyway
    notes = [m for m in handler.messages if not any(c in m for c in counts)]
    return table, notes


def check_facilities_file(
    path: str | Path,
    *,
    boundary: str | Path | None = None,
    network: str | Path | None = None,
    crs: str | None = None,
    sheet: str | int | None = None,
    out: str | Path | None = None,
    overwrite: bool = False,
    max_snap_m: float = 500.0,
    same_name_m: float = 50.0,
    keep_duplicates: bool = False,
) -> QaReport:
    """Read a facility file, check it and write ``qa.csv`` and ``rejects.csv``.

    Parameters
    ----------
    path : str or Path
        The facility file (any format :func:`~geoplan.readers.facilities.read_facilities` reads).
    boundary : str or Path, optional
        Study-area polygons (see :func:`read_boundary`); records farther outside than 100 m
        are rejected, nearer ones are ``outside_area`` warnings.
    network : str or Path, optional
        Street network (see :func:`geoplan.readers.network.read_network`): enables ``far_from_road``
        and the GCJ-02/BD-09 detection.
    crs : str, optional
        Coordinate system of the coordinates (as ``read_facilities(crs=)``).
    sheet : str or int, optional
        Worksheet of a workbook.
    out : str or Path, optional
        Output folder, a result folder (:mod:`geoplan.results`); default ``<file stem>_qa``
        in the current folder.
    overwrite : bool, default False
        Replace an earlier check's result in ``out``.
    max_snap_m, same_name_m
        As in :func:`qa_facilities`.
    keep_duplicates : bool, default False
        Keep records of the same name and category within ``same_name_m``; else the
        repeated ones are rejected as ``duplicate`` (as a project run does) and listed in
        ``rejects.csv``.

    Returns
    -------
    QaReport

    Raises
    ------
    OutputExistsError
        ``out`` holds a result and ``overwrite`` is False.
    """
    path = Path(path)
    out_dir = Path(f"{path.stem}_qa") if out is None else Path(out)
    targets = (out_dir / "qa.csv", out_dir / "rejects.csv")
    inputs = (path, boundary, network)
    with output_folder(
        out_dir, command="check-facilities", overwrite=overwrite, inputs=inputs
    ) as staged:
        area = read_boundary(boundary) if boundary is not None else None
        net = None
        if network is not None:
            from ..readers.network import read_network

            net = read_network(network)
        table, notes = _read_logged(path, crs=crs, sheet=sheet, boundary=area)
        table = reject_duplicates(
            table, within_m=same_name_m, keep=keep_duplicates, keep_hint=KEEP_HINT_CLI
        )
        findings = qa_facilities(
            table,
            boundary=area,
            network=net,
            max_snap_m=max_snap_m,
            same_name_m=same_name_m,
            keep_duplicates=keep_duplicates,
        )
        if net is None:
            notes.append(
                "not checked without --network / 未提供路网，未检查: far_from_road, "
                "gcj02_suspected, bd09_suspected"
            )
        elif len(table.used):
            read_as_wgs84 = int(table.used["coord_source"].isin(DECLARED_WGS84).sum())
            if 0 < read_as_wgs84 < MIN_POINTS:
                notes.append(
                    f"not checked: fewer than {MIN_POINTS} points read as WGS84 "
                    f"({read_as_wgs84}) / 按 WGS84 读入的点少于 {MIN_POINTS} 个，未检查: "
                    "gcj02_suspected, bd09_suspected (declare the system with --crs if the "
                    "points come from Amap, Tencent or Baidu / 如坐标取自高德、腾讯或百度地图，"
                    "请用 --crs 声明)"
                )
        if area is None:
            notes.append("not checked without --boundary / 未提供研究区边界，未检查: outside_area")
        write_csv(findings, staged.path / targets[0].name)
        write_rejects(table, staged.path / targets[1].name)
    logger.info("check_facilities_file: %d findings written to %s", len(findings), targets[0])
    return QaReport(table, findings, targets, tuple(notes))
