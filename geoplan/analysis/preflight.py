"""What a run checks of its inputs before computing anything, in this order.

1. **Duplicates** (:mod:`geoplan.analysis.duplicates`): repeated facility records are rejected
   (``duplicate_id``, ``duplicate``) unless kept on purpose, which is then a warning.
2. **One place** (:mod:`geoplan.analysis.overlap`): network, demand, facilities, boundary and units
   overlap; refused when they do not, a warning when only partly.
3. **Coordinate systems** (:func:`geoplan.analysis.qa.check_coordinate_system`): facilities read as
   WGS84 that sit where GCJ-02/BD-09 positions would, or too few to tell: a warning.
4. **Far from road**: facilities farther than ``max_snap_m`` from every street are rejected
   (``far_from_road``); each used facility keeps its ``snap_distance_m``.
5. **Capacity values** (:data:`geoplan.readers.facilities.CAPACITY_MAX`): cells read as missing
   because they are not numbers or not plausible: a warning naming the rows.
6. **Something to compute with**: no usable facility at all is refused.

Every warning is a dict (``check``, ``message_zh``, ``message_en`` …) for ``summary.json``
``warnings``, and is logged (printed even with ``-q``).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field

import geopandas as gpd
import numpy as np
import pandas as pd

from ..errors import InputError
from ..messages import far_from_road, record_label
from ..readers.facilities import FacilityTable, capacity_problem_text
from .duplicates import KEEP_HINT_PROJECT, find_duplicates, reject_duplicates
from .engine import road_distance_m
from .overlap import check_overlap
from .qa import DECLARE, check_coordinate_system

__all__ = ["Checked", "check_inputs", "reject_far_from_road"]

logger = logging.getLogger(__name__)

_SHOWN = 10  # rows named in one warning


@dataclass
class Checked:
    """The facilities as the computation uses them, and what the checks found."""

    used: gpd.GeoDataFrame
    rejects: pd.DataFrame
    read: int
    warnings: list[dict] = field(default_factory=list)
    overlap: dict[str, float] = field(default_factory=dict)
    coordinate_checks: list[dict] = field(default_factory=list)
    capacity_issues: int = 0


def check_inputs(
    *,
    network,
    demand: gpd.GeoDataFrame,
    table: FacilityTable,
    max_snap_m: float | Mapping[str, float],
    boundary: gpd.GeoDataFrame | None = None,
    boundary_tolerance_m: float = 500.0,
    units: gpd.GeoDataFrame | None = None,
    keep_duplicates: bool = False,
    keep_hint: tuple[str, str] = KEEP_HINT_PROJECT,
    declare: tuple[str, str] = DECLARE["project"],
    files: dict[str, str] | None = None,
    area: str = "",
    demand_xy: tuple[np.ndarray, np.ndarray] | None = None,
) -> Checked:
    """Run the checks of the module docstring on a run's inputs.

    ``max_snap_m`` is one distance, or one per facility file (keys: the ``source_file`` of
    the rows, as several facility files label them). ``boundary_tolerance_m``: residents this
    close outside the boundary still belong to the area. ``demand_xy``: the demand points'
    coordinates in the network CRS when known (:func:`geoplan.analysis.coverage.point_xy`).

    Raises
    ------
    InputError
        Inputs of different places (:func:`geoplan.analysis.overlap.check_overlap`), or no usable
        facility record.
    """
    files = files or {}
    warnings_: list[dict] = []
    table = reject_duplicates(table, keep=keep_duplicates, keep_hint=keep_hint)
    if keep_duplicates:
        warnings_ += _kept_duplicates(table.used)
    used = table.used.reset_index(drop=True)
    snap_m = road_distance_m(network, used.geometry)
    if isinstance(max_snap_m, Mapping):
        limits = used["source_file"].astype(str).map(max_snap_m).to_numpy(dtype=float)
    else:
        limits = np.full(len(used), float(max_snap_m))
    outside = int((table.rejects["reason_code"] == "outside_area").sum())
    overlap = check_overlap(
        network=network,
        demand=demand,
        facilities=used,
        facility_snap_m=snap_m,
        max_snap_m=limits,
        facilities_outside=outside,
        boundary=boundary,
        boundary_tolerance_m=boundary_tolerance_m,
        units=units,
        files=files,
        area=area,
        demand_xy=demand_xy,
    )
    warnings_ += overlap.warnings
    if used.empty:
        counts = ", ".join(f"{k}: {v}" for k, v in table.reason_counts().items())
        name = files.get("facilities", table.source)
        raise InputError(
            f"设施文件 {name} 中没有可用的记录（读入 {table.read}，全部拒绝：{counts}）/ no usable "
            f"facility record in {name}: {table.read} read, all rejected ({counts}); run geoplan "
            "check-facilities on it to see each row's reason"
        )
    check = check_coordinate_system(
        used,
        network,
        input="facilities",
        what=("设施文件", f"facilities ({files.get('facilities', table.source)})"),
        declare=declare,
    )
    if check.warning is not None:
        warnings_.append(check.warning)
    used = used.assign(snap_distance_m=snap_m)
    used, rejects = reject_far_from_road(used, table.rejects, limits)
    issues = _capacity_issues(table, used)
    warnings_ += _capacity_warnings(issues)
    return Checked(
        used,
        rejects,
        table.read,
        warnings_,
        overlap.shares,
        [check.entry()],
        len(issues),
    )


def reject_far_from_road(
    used: gpd.GeoDataFrame, rejects: pd.DataFrame, max_snap_m: float | np.ndarray
) -> tuple[gpd.GeoDataFrame, pd.DataFrame]:
    """Move facilities farther than ``max_snap_m`` (one value, or one per row) from any road
    (``used["snap_distance_m"]``, see :func:`geoplan.analysis.engine.road_distance_m`) into
    the rejects (``far_from_road``, message :func:`geoplan.messages.far_from_road`); with
    several facility files (``source_file`` of more than one file) the messages name each
    row's file. The one far-from-road rule: a run, a scenario's added facilities and
    ``check-facilities`` all apply it."""
    limits = np.broadcast_to(np.asarray(max_snap_m, dtype=float), (len(used),))
    far = used["snap_distance_m"].to_numpy() > limits
    if not far.any():
        return used, rejects
    out = used[far]
    ids = out["facility_id"].astype(str).to_numpy()
    names = out["name"].astype(str).to_numpy() if "name" in out else ids
    rows = out["source_row"].to_numpy() if "source_row" in out else np.full(len(out), np.nan)
    several = "source_file" in used and used["source_file"].nunique() > 1
    files = out["source_file"].astype(str).to_numpy() if several else np.full(len(out), "")
    texts = [
        far_from_road(_record(file, row, fid, name), distance, limit)
        for file, row, fid, name, distance, limit in zip(
            files, rows, ids, names, out["snap_distance_m"], limits[far], strict=True
        )
    ]
    extra = pd.DataFrame(
        {
            "source_row": rows,
            **({"source_file": out["source_file"].to_numpy()} if "source_file" in out else {}),
            "reason_code": "far_from_road",
            "message_zh": [zh for zh, _ in texts],
            "message_en": [en for _, en in texts],
            "facility_id": ids,
            "name": names,
        }
    )
    parts = [frame for frame in (rejects, extra) if len(frame.columns)]
    return used[~far].reset_index(drop=True), pd.concat(parts, ignore_index=True)


def _record(file: str, row: float, fid: str, name: str) -> tuple[str, str]:
    """A facility in a far-from-road message: its file (when there are several) and row, or
    its id when it has no row (a table built in memory)."""
    if pd.isna(row):
        return f"设施 {fid}（{name}）", f"facility {fid} ({name})"
    zh, en = record_label("row", int(row), name)
    return (f"{file} {zh}", f"{file} {en}") if file else (zh, en)


def _kept_duplicates(used: gpd.GeoDataFrame) -> list[dict]:
    """The warning that repeated records are counted because the user asked to keep them."""
    found = find_duplicates(used)
    if found.empty:
        return []
    rows = used["source_row"].to_numpy()
    pairs = [f"{rows[r.position]}/{rows[r.kept]}" for r in found.itertuples(index=False)]
    shown = ", ".join(pairs[:_SHOWN]) + (" …" if len(pairs) > _SHOWN else "")
    rows_en = ", ".join(f"row {rows[r.position]}" for r in found.head(_SHOWN).itertuples())
    message_en = (
        f"{len(found)} facility record(s) repeat another of the same name and type within 50 m "
        f"({rows_en}; rows {shown}) and are all counted, because keep_duplicates = true; "
        "capacity ratios count each of them."
    )
    logger.warning("%s", message_en)
    return [
        {
            "check": "duplicates_kept",
            "message_zh": f"{len(found)} 条设施记录与同名同类、相距 50 米以内的记录重复"
            f"（行 {shown}），"
            "因 keep_duplicates = true 均被计入；床位等配置指标按每条记录累计。",
            "message_en": message_en,
        }
    ]


def _capacity_issues(table: FacilityTable, used: gpd.GeoDataFrame) -> pd.DataFrame:
    """The capacity issues of the records still used."""
    issues = table.capacity_issues
    keys = set(zip(used["facility_id"].astype(str), used["source_row"], strict=True))
    mask = [
        (str(f), r) in keys
        for f, r in zip(issues["facility_id"], issues["source_row"], strict=True)
    ]
    return issues[np.asarray(mask, dtype=bool)] if len(issues) else issues


def _capacity_warnings(issues: pd.DataFrame) -> list[dict]:
    """One warning per problem (not a number / implausible), naming the rows."""
    out = []
    problems = issues["problem"] if "problem" in issues else pd.Series("not_number", issues.index)
    for problem, group in issues.groupby(problems, sort=True):
        cells_en = [
            f"row {r.source_row} ({r.name}) {r.field} {r.value!r}"
            for r in group.head(_SHOWN).itertuples(index=False)
        ]
        cells_zh = [
            f"第 {r.source_row} 行（{r.name}）{r.column}“{r.value}”"
            for r in group.head(_SHOWN).itertuples(index=False)
        ]
        more = f" and {len(group) - _SHOWN} more" if len(group) > _SHOWN else ""
        why_zh, why_en = capacity_problem_text(str(group["field"].iloc[0]), str(problem))
        check = "capacity_implausible" if problem == "implausible" else "capacity_not_number"
        message_en = (
            f"{len(group)} capacity cell(s) {why_en.split(' (')[0]}, read as missing: "
            f"{'; '.join(cells_en)}{more}. Per-1,000 ratios count them as unknown."
        )
        logger.warning("%s", message_en)
        out.append(
            {
                "check": check,
                "message_zh": f"{len(group)} 个床位/人员数单元格{why_zh.split('（')[0]}，"
                "按缺失处理："
                f"{'；'.join(cells_zh)}{'等' if more else ''}。每千人指标按未知计。",
                "message_en": message_en,
            }
        )
    return out
