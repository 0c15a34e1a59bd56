"""Quality checks of facility records: what to fix before trusting a coverage result.

:func:`qa_facilities` lists every finding about a
:class:`~geoplan.readers.facilities.FacilityTable`, one row per finding (``source_row``,
``facility_id``, ``name``, ``check``, ``severity``, ``message_zh``, ``message_en``). Rejected
records appear with their reason code as the check
(:data:`geoplan.readers.facilities.REASON_CODES`); used records are checked further:

``duplicate``
    the same name and category as another record within ``same_name_m`` metres (50): one
    facility listed twice; a project run keeps one (see :mod:`geoplan.analysis.duplicates`)
    and rejects the other, and ``check_facilities_file`` lists it in ``rejects.csv`` likewise.
``duplicate_name_nearby``
    the same name (after :func:`geoplan.taxonomy.normalize_text`) as another record within
    ``same_name_m`` metres but another category, or a duplicate kept on purpose
    (``keep_duplicates``).
``duplicate_coordinates``
    exactly the coordinates of an earlier record with another name (a placeholder, or two
    records geocoded to one point such as a town centre).
``capacity_not_number``
    a beds/doctors/nurses cell that is not a non-negative number (read as missing).
``tier_mismatch``
    the category's tier does not fit the place; see :func:`tier_findings` for the rules.
``outside_area``
    with ``boundary``: the point lies outside the study area (the distance is given).
``outside_china``
    the point is outside China's longitude/latitude ranges (73–136°E, 3–54°N).
``far_from_road``
    with ``network``: farther than ``max_snap_m`` from any road; a project run leaves such
    facilities out.
``gcj02_suspected`` / ``bd09_suspected``
    with ``network``: the file is read as WGS84 but its points lie on the roads only after a
    GCJ-02 (Amap/Tencent) or BD-09 (Baidu) conversion; see :func:`detect_gcj02`. With fewer
    than 5 points read as WGS84 the test cannot judge and says "not checked"
    (:func:`check_coordinate_system`), never "no findings".
``capacity_implausible``
    a beds/doctors/nurses value above the plausible maximum per facility
    (:data:`geoplan.readers.facilities.CAPACITY_MAX`): read as missing.

Severity: ``error`` — the record is not used (rejected, or left out by a project run) or all
positions are off; ``warning`` — used, but probably wrong: check it; ``info`` — nothing lost
(notes and total rows under a table).

The ``geoplan check-facilities`` command (read, check, write ``qa.csv`` and ``rejects.csv``)
is :func:`geoplan.workflows.check_facilities.check_facilities_file`: this module writes no
file.
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import shapely

from .. import coords
from ..messages import (
    coordinate_text,
    far_from_road,
    outside_area,
    reason,
    record_kind,
    record_label,
)
from ..readers.facilities import (
    FacilityTable,
    capacity_problem_text,
    distance_outside_m,
    in_china_ranges,
)
from ..taxonomy import CATEGORIES, TIER_LABELS, resolve_category
from .duplicates import KEEP_HINT_CLI, duplicate_messages, find_duplicates
from .engine import snap_points

__all__ = [
    "DECLARE",
    "DECLARED_WGS84",
    "MIN_POINTS",
    "QA_CHECKS",
    "QA_COLUMNS",
    "CoordinateCheck",
    "Finding",
    "check_coordinate_system",
    "detect_gcj02",
    "qa_facilities",
    "tier_findings",
]

logger = logging.getLogger(__name__)

QA_COLUMNS: tuple[str, ...] = (
    "source_row",
    "facility_id",
    "name",
    "check",
    "severity",
    "message_zh",
    "message_en",
)
"""Columns of the :func:`qa_facilities` table, in order."""

SEVERITIES: tuple[str, ...] = ("error", "warning", "info")

_SEVERITY: dict[str, str] = {
    # file level
    "gcj02_suspected": "error",
    "bd09_suspected": "error",
    # rejects (facilities.REASON_CODES and the checks of a run)
    "notes_row": "info",
    "total_row": "info",
    "missing_name": "error",
    "missing_category": "error",
    "unknown_category": "error",
    "missing_coordinates": "error",
    "bad_coordinates": "error",
    "unknown_crs": "error",
    "swapped_coordinates": "error",
    "out_of_range": "error",
    "duplicate_id": "error",
    "duplicate": "error",
    # used records
    "duplicate_name_nearby": "warning",
    "duplicate_coordinates": "warning",
    "capacity_not_number": "warning",
    "capacity_implausible": "warning",
    "tier_mismatch": "warning",
    "outside_area": "error",
    "outside_china": "warning",
    "far_from_road": "error",
}

QA_CHECKS: dict[str, tuple[str, str, str]] = {
    code: (severity, *reason(code)) for code, severity in _SEVERITY.items()
}
"""Every check code → (severity, title_zh, title_en); the titles are
:data:`geoplan.messages.REASONS`. ``outside_area`` is an error when the
record was rejected and a warning when it is used (within the reading tolerance, or read
without a boundary)."""

_CAPACITY_ZH = {"beds": "床位数", "doctors": "医师数", "nurses": "护士数"}
DECLARED_WGS84 = frozenset({"wgs84", "cgcs2000"})
"""Coordinate sources read as WGS84 (the GCJ-02/BD-09 detection judges only these)."""
MIN_POINTS = 5
"""Fewest points read as WGS84 the GCJ-02/BD-09 detection judges."""
_GEOD = pyproj.Geod(ellps="WGS84")


@dataclass(frozen=True)
class Finding:
    """One QA finding: a row of the :func:`qa_facilities` table.

    ``source_row`` is None for findings about the whole file; ``values`` holds measured
    numbers (for the GCJ-02/BD-09 detection: the medians in metres, the share of points
    that came closer and the number of points).
    """

    check: str
    severity: str
    message_zh: str
    message_en: str
    source_row: int | None = None
    facility_id: str = ""
    name: str = ""
    values: Mapping[str, float] = field(default_factory=dict)


# --------------------------------------------------------------------------- helpers


def _text(value: Any) -> str:
    """A cell as text; missing values as ''."""
    if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA:
        return ""
    return str(value)


def _kind(table: FacilityTable) -> str:
    """'feature' for GIS layers, else 'row' (how records are named in messages)."""
    return record_kind(table.source)


def _finding(
    check: str, zh: str, en: str, *, row: Any = None, severity: str | None = None, **values: float
) -> Finding:
    """A finding about a used record (``row``: a row of ``table.used``, as a Series or an
    ``itertuples`` tuple) or, without ``row``, about the whole file."""
    if row is None:
        return Finding(check, severity or QA_CHECKS[check][0], zh, en, values=values)
    cells = row._asdict() if hasattr(row, "_asdict") else row  # Series.name is its label
    return Finding(
        check,
        severity or QA_CHECKS[check][0],
        zh,
        en,
        source_row=int(cells["source_row"]),
        facility_id=_text(cells["facility_id"]),
        name=_text(cells["name"]),
        values=values,
    )


def _lonlat(used: gpd.GeoDataFrame) -> tuple[np.ndarray, np.ndarray]:
    geom = used.geometry.to_crs("EPSG:4326") if used.crs is not None else used.geometry
    return shapely.get_x(geom.to_numpy()), shapely.get_y(geom.to_numpy())


# --------------------------------------------------------------------------- GCJ-02 / BD-09


_SYSTEMS = {
    "gcj02": (
        coords.gcj02_to_wgs84,
        coords.wgs84_to_gcj02,
        "GCJ-02（高德/腾讯）",
        "GCJ-02 (Amap/Tencent)",
        "GCJ-02",
    ),
    "bd09": (coords.bd09_to_wgs84, coords.wgs84_to_bd09, "BD-09（百度）", "BD-09 (Baidu)", "BD-09"),
}


def _snap_m(network: Any, *positions: tuple[np.ndarray, np.ndarray]) -> list[np.ndarray]:
    """Straight distance (m) of each WGS84 point to the nearest edge of ``network``, per
    ``(lon, lat)`` set: one snap of them all (each point's distance is its own)."""
    to_net = pyproj.Transformer.from_crs("EPSG:4326", network.crs, always_xy=True)
    lon = np.concatenate([np.asarray(p[0], dtype=float) for p in positions])
    lat = np.concatenate([np.asarray(p[1], dtype=float) for p in positions])
    x, y = to_net.transform(lon, lat)
    distance_m = snap_points(network, np.asarray(x), np.asarray(y)).snap_distance_m
    return np.split(distance_m, np.cumsum([len(p[0]) for p in positions])[:-1])


def detect_gcj02(
    facilities_wgs84: gpd.GeoDataFrame | gpd.GeoSeries,
    network: Any,
    *,
    ratio: float = 0.5,
    min_points: int = MIN_POINTS,
    min_share: float = 0.7,
    systems: Sequence[str] = ("gcj02", "bd09"),
    declare: tuple[str, str] | None = None,
) -> Finding | None:
    """Whether points read as WGS84 are in fact GCJ-02 (or BD-09), judged by the roads.

    Amap/Tencent (GCJ-02) and Baidu (BD-09) positions are shifted from WGS84 by a few hundred
    metres in most of China (GCJ-02 300–600 m, BD-09 about 1 km), so facilities read with the
    wrong system sit off the streets they front. The points are snapped to ``network`` three
    times: as given, converted from the suspected system to WGS84, and shifted the opposite
    way (a control that moves them as far in the wrong direction). The system is suspected
    when, over at least ``min_points`` points, the converted median distance to the nearest
    road is below ``ratio`` times both other medians, and at least ``min_share`` of the
    points come closer. For a correct file the conversion moves points off their roads about
    as much as the control does, so it rarely passes: on the 团城山 network, sets of 10 correct
    points 5–60 m beside random streets never did (``tests/test_qa.py``), while the same
    points shifted to GCJ-02 were flagged in most draws. Points far from any road (random
    places) give weaker evidence; hence the share and the minimum count.

    Parameters
    ----------
    facilities_wgs84 : GeoDataFrame or GeoSeries
        Points (any CRS with a definition; taken as EPSG:4326 without one). Rows whose
        ``coord_source`` is neither ``wgs84`` nor ``cgcs2000`` are left out: they were
        declared in another system and already converted.
    network : Network
        The street network of the area.
    ratio, min_points, min_share
        Thresholds, as above.
    systems : sequence of {"gcj02", "bd09"}
        Systems to test; the one with the lowest converted median wins.
    declare : (str, str), optional
        How the user declares the system where the points came from (zh, en; ``{system}``
        is filled in), one of :data:`DECLARE`; default ``DECLARE["facilities"]``.

    Returns
    -------
    Finding or None
        A ``gcj02_suspected`` / ``bd09_suspected`` finding whose messages give the medians and
        the fix, with ``values`` ``median_snap_m_as_read``, ``median_snap_m_converted``,
        ``median_snap_m_opposite``, ``median_shift_m``, ``share_closer``, ``n_points``.
    """
    frame = facilities_wgs84
    if "coord_source" in getattr(frame, "columns", ()):
        frame = frame[frame["coord_source"].isin(DECLARED_WGS84)]
    geom = frame.geometry if isinstance(frame, gpd.GeoDataFrame) else frame
    if geom.crs is not None:
        geom = geom.to_crs("EPSG:4326")
    geom = geom[geom.notna() & ~geom.is_empty]
    lon, lat = shapely.get_x(geom.to_numpy()), shapely.get_y(geom.to_numpy())
    ok = np.isfinite(lon) & np.isfinite(lat)
    lon, lat = lon[ok], lat[ok]
    if len(lon) < min_points:
        return None
    shifted = {s: (_SYSTEMS[s][0](lon, lat), _SYSTEMS[s][1](lon, lat)) for s in systems}
    as_read, *distances = _snap_m(network, (lon, lat), *(p for s in systems for p in shifted[s]))
    best: tuple[float, str, dict[str, float]] | None = None
    for i, system in enumerate(systems):
        (c_lon, c_lat), _ = shifted[system]
        converted, opposite = distances[2 * i], distances[2 * i + 1]
        m_read, m_conv, m_opp = (float(np.median(d)) for d in (as_read, converted, opposite))
        share = float(np.mean(converted < as_read))
        if not (m_conv < ratio * m_read and m_conv < ratio * m_opp and share >= min_share):
            continue
        shift = float(np.median(_GEOD.inv(lon, lat, c_lon, c_lat)[2]))
        values = {
            "median_snap_m_as_read": m_read,
            "median_snap_m_converted": m_conv,
            "median_snap_m_opposite": m_opp,
            "median_shift_m": shift,
            "share_closer": share,
            "n_points": float(len(lon)),
        }
        if best is None or m_conv < best[0]:
            best = (m_conv, system, values)
    if best is None:
        return None
    _, system, v = best
    _, _, zh_name, en_name, short = _SYSTEMS[system]
    fix_zh, fix_en = declare or DECLARE["facilities"]
    n = int(v["n_points"])
    zh = (
        f"坐标疑似 {zh_name}，却按 WGS84 读入：{n} 个点到最近道路的距离中位数按原样为 "
        f"{v['median_snap_m_as_read']:,.0f} 米，由 {short} 换算为 WGS84 后为 "
        f"{v['median_snap_m_converted']:,.0f} 米（向反方向偏移时为 "
        f"{v['median_snap_m_opposite']:,.0f} 米；{v['share_closer']:.0%} 的点换算后更近；换算移动"
        f"约 {v['median_shift_m']:,.0f} 米）。请{fix_zh.format(system=system)}，或增加“坐标系”列"
        f"并填写 {short}。"
    )
    en = (
        f"the coordinates look like {en_name} but were read as WGS84: the median distance of "
        f"the {n} points to the nearest road is {v['median_snap_m_as_read']:,.0f} m as read "
        f"and {v['median_snap_m_converted']:,.0f} m after converting {short} to WGS84 "
        f"({v['median_snap_m_opposite']:,.0f} m when shifted the opposite way; "
        f"{v['share_closer']:.0%} of the points come closer; the conversion moves them about "
        f"{v['median_shift_m']:,.0f} m). {_capital(fix_en.format(system=system))}, or add a "
        f"坐标系 column with {short}."
    )
    return _finding(f"{system}_suspected", zh, en, **v)


def _capital(text: str) -> str:
    return text[:1].upper() + text[1:]


DECLARE: dict[str, tuple[str, str]] = {
    "project": (
        '在项目文件 [facilities] 中设置 crs = "{system}"',
        'set crs = "{system}" in the project\'s [facilities] table',
    ),
    "facilities": (
        '在项目文件 [facilities] 中设置 crs = "{system}"（命令行 --crs {system}）',
        'set crs = "{system}" in the project\'s [facilities] table (command line: --crs {system})',
    ),
    "option": ("在命令行加 --crs {system}", "add --crs {system} to the command"),
    "python": (
        '读取时声明坐标系：read_facilities(..., crs="{system}")',
        'read them with read_facilities(..., crs="{system}")',
    ),
    "candidates": (
        "在命令行加 --candidates-crs {system}",
        "add --candidates-crs {system} to the command",
    ),
    "scenario": (
        '在命令行加 --crs {system}（或在情景文件 [scenario] 中设置 crs = "{system}"）',
        'add --crs {system} to the command (or set crs = "{system}" in the scenario file\'s '
        "[scenario] table)",
    ),
}
"""How the coordinate system of a file of points is declared, per command (zh, en)."""


@dataclass(frozen=True)
class CoordinateCheck:
    """The GCJ-02/BD-09 check of one file of points.

    ``status``: ``suspected`` (``finding`` says which system and how to declare it),
    ``clear`` (tested, nothing found), ``not checked`` (fewer than ``min_points`` points read
    as WGS84: too few to judge) or ``declared`` (no point was read as WGS84: every one came
    in a declared system, or was geocoded).
    """

    input: str
    status: str
    points: int
    declared: str
    finding: Finding | None = None
    warning: dict | None = None

    def entry(self) -> dict:
        """The ``coordinate_checks`` entry of a summary."""
        return {
            "input": self.input,
            "status": self.status,
            "points": self.points,
            "declared": self.declared,
        }


def check_coordinate_system(
    points: gpd.GeoDataFrame | gpd.GeoSeries,
    network: Any,
    *,
    input: str,
    what: tuple[str, str],
    declare: tuple[str, str],
    declared: str | None = None,
    min_points: int = MIN_POINTS,
    quiet_when_few: bool = False,
) -> CoordinateCheck:
    """The GCJ-02/BD-09 check of one file of points, with a warning for the summary.

    Parameters
    ----------
    points : GeoDataFrame or GeoSeries
        The points as used (a ``coord_source`` column says which were declared WGS84).
    network : Network
        The street network.
    input : str
        Its name in the summary (``facilities``, ``candidates``, ``added``, ``move``).
    what : (str, str)
        The file in messages (zh, en).
    declare : (str, str)
        How the user declares the system in this command (a value of :data:`DECLARE`).
    declared : str, optional
        The system the points were declared in when they carry no ``coord_source``.
    min_points : int
        Fewest points read as WGS84 that the detection judges.
    quiet_when_few : bool
        Record "not checked" without a warning (points typed one by one, e.g. ``--move``).

    Returns
    -------
    CoordinateCheck
        Its ``warning`` (``check``, ``message_zh``, ``message_en``) is set when suspected or
        not checked; the warning is logged.
    """
    frame = points
    if "coord_source" in getattr(frame, "columns", ()):
        sources = frame["coord_source"].astype(str)
    else:
        sources = pd.Series([declared or "wgs84"] * len(frame), dtype=str)
    read_as_wgs84 = int(sources.isin(DECLARED_WGS84).sum())
    label = ",".join(sorted(set(sources) - {"geocoded"})) or "geocoded"
    if read_as_wgs84 == 0:
        return CoordinateCheck(input, "declared", 0, label)
    if read_as_wgs84 < min_points and quiet_when_few:
        return CoordinateCheck(input, "not checked", read_as_wgs84, label)
    if read_as_wgs84 < min_points:
        zh = (
            f"{what[0]}的坐标系未检查：按 WGS84 读入的点少于 {min_points} 个"
            f"（{read_as_wgs84} 个），"
            f"不足以判断是否为 GCJ-02/BD-09；如坐标取自高德、腾讯或百度地图，请"
            f"{declare[0].format(system='gcj02')}（百度为 bd09）。"
        )
        en = (
            f"{what[1]}: coordinate system not checked: fewer than {min_points} points read as "
            f"WGS84 ({read_as_wgs84}), too few to tell GCJ-02/BD-09 positions; if they come from "
            f"Amap, Tencent or Baidu maps, {declare[1].format(system='gcj02')} (bd09 for Baidu)."
        )
        logger.warning("%s", en)
        warning = {"check": "coordinates_not_checked", "message_zh": zh, "message_en": en}
        return CoordinateCheck(input, "not checked", read_as_wgs84, label, warning=warning)
    finding = detect_gcj02(frame, network, declare=declare)
    if finding is None:
        return CoordinateCheck(input, "clear", read_as_wgs84, label)
    zh, en = f"{what[0]}：{finding.message_zh}", f"{what[1]}: {finding.message_en}"
    logger.warning("%s", en)
    warning = {
        "check": finding.check,
        "message_zh": zh,
        "message_en": en,
        **{k: float(v) for k, v in finding.values.items()},
    }
    return CoordinateCheck(input, "suspected", read_as_wgs84, label, finding, warning)


# --------------------------------------------------------------------------- record checks


def _reject_findings(table: FacilityTable) -> list[Finding]:
    """Every rejected record as a finding (its reason code is the check)."""
    out = []
    for r in table.rejects.itertuples(index=False):
        code = str(r.reason_code)
        severity = QA_CHECKS.get(code, ("error",))[0]  # outside_area: error when rejected
        out.append(
            Finding(
                code,
                severity,
                str(r.message_zh),
                str(r.message_en),
                source_row=int(r.source_row),
                facility_id=_text(r.facility_id),
                name=_text(r.name),
            )
        )
    return out


def _capacity_findings(table: FacilityTable, kind: str) -> list[Finding]:
    out = []
    issues = table.capacity_issues
    problems = issues["problem"] if "problem" in issues else ["not_number"] * len(issues)
    for r, problem in zip(issues.itertuples(index=False), problems, strict=True):
        zh, en = record_label(kind, int(r.source_row), _text(r.name))
        field_zh = _CAPACITY_ZH.get(r.field, r.field)
        what = f"“{r.column}”" + ("" if field_zh in r.column else f"（{field_zh}）")
        why_zh, why_en = capacity_problem_text(r.field, problem)
        check = "capacity_implausible" if problem == "implausible" else "capacity_not_number"
        out.append(
            Finding(
                check,
                QA_CHECKS[check][0],
                f"{zh}：{what}为“{r.value}”，{why_zh}，已按缺失处理；"
                + ("请改为数字（如 20）。" if problem == "not_number" else "请核对并改正。"),
                f"{en}: {r.column!r} ({r.field}) is {r.value!r}, {why_en}; read as missing. "
                + ("Write a number (e.g. 20)." if problem == "not_number" else "Check it."),
                source_row=int(r.source_row),
                facility_id=_text(r.facility_id),
                name=_text(r.name),
            )
        )
    return out


def _duplicate_findings(
    used: gpd.GeoDataFrame, kind: str, same_name_m: float, *, keep_duplicates: bool = False
) -> list[Finding]:
    """Repeated records (:func:`geoplan.analysis.duplicates.find_duplicates`): same name and
    category nearby is ``duplicate`` (a run rejects it) unless kept on purpose; same name nearby
    otherwise ``duplicate_name_nearby``; else identical coordinates ``duplicate_coordinates``."""
    out: list[Finding] = []
    rows = list(used.itertuples(index=False))
    flagged: set[int] = set()
    if not keep_duplicates:
        same = find_duplicates(used, within_m=same_name_m)
        zh_all, en_all = duplicate_messages(used, same, kind=kind, keep_hint=KEEP_HINT_CLI)
        for r, zh, en in zip(same.itertuples(index=False), zh_all, en_all, strict=True):
            out.append(_finding("duplicate", zh, en, row=rows[r.position]))
            flagged.add(int(r.position))
    named = find_duplicates(used, within_m=same_name_m, by_category=False)
    for r in named.itertuples(index=False):
        if r.position in flagged:
            continue
        row = rows[r.position]
        zh, en = record_label(kind, int(row.source_row), _text(row.name))
        where_zh, where_en = record_label(kind, int(rows[r.kept].source_row), "")
        out.append(
            _finding(
                "duplicate_name_nearby",
                f"{zh}：与{where_zh}同名，相距 {r.distance_m:,.0f} 米；是否重复录入？"
                "如是请删除其中一行，"
                "如是两个机构请区分名称。",
                f"{en}: same name as {where_en}, {r.distance_m:,.0f} m away; a duplicate? Delete "
                "one of the rows, or give the two facilities distinct names.",
                row=row,
            )
        )
        flagged.add(int(r.position))
    lon, lat = _lonlat(used)
    by_point: dict[tuple[float, float], int] = {}
    for i, row in enumerate(rows):
        point = (round(float(lon[i]), 7), round(float(lat[i]), 7))
        j = by_point.setdefault(point, i)
        if j == i or i in flagged:
            continue
        zh, en = record_label(kind, int(row.source_row), _text(row.name))
        where_zh, where_en = record_label(kind, int(rows[j].source_row), _text(rows[j].name))
        out.append(
            _finding(
                "duplicate_coordinates",
                f"{zh}：坐标与{where_zh}完全相同；请核对是否为占位坐标，或两者被地理编码到"
                "同一点（如镇政府驻地）。",
                f"{en}: exactly the coordinates of {where_en}; check whether one is a "
                "placeholder or both were geocoded to one point (e.g. a town centre).",
                row=row,
            )
        )
    return sorted(out, key=lambda f: f.source_row or 0)


_TOWNSHIP_KEYS = ("township_hospital", "central_township_hospital")
_VILLAGE_TYPE_WORDS = re.compile(r"(卫生室|卫生所|卫生站)$")
_CHAIN_TIERS = ("county", "township", "village")


def tier_findings(used: gpd.GeoDataFrame, *, kind: str = "row") -> list[Finding]:
    """Records whose category's tier does not fit their name or address.

    The plans' chain is county (县级) → township (乡镇/街道) → village (村/社区). In a rural
    乡/镇 the township facility is the 乡镇卫生院 and the village one the 村卫生室; in an
    urban 街道 they are the 社区卫生服务中心 and 社区卫生服务站. Three rules, at most one
    ``tier_mismatch`` finding per record:

    1. The name reads as a type of another tier of the chain than the category (e.g. a
       ``村卫生室`` name with the category 乡镇卫生院): the category or the name is wrong.
    2. A 乡镇卫生院/中心卫生院 whose name or address says 街道 or 社区 while neither names a
       镇 or 乡: in an urban sub-district it is probably a 社区卫生服务中心.
    3. A 村卫生室 whose name or address says 街道 while, apart from the type word
       (卫生室/卫生所/卫生站), neither names a 村, 嘎查, 镇 or 乡: in an urban sub-district it
       is probably a 社区卫生服务站.

    Parameters
    ----------
    used : GeoDataFrame
        ``FacilityTable.used``.
    kind : {"row", "feature"}
        How records are named in the messages.

    Returns
    -------
    list of Finding
    """
    out = []
    for row in used.itertuples(index=False):
        name, address, category = _text(row.name), _text(row.address), str(row.category)
        cat = CATEGORIES[category]
        zh, en = record_label(kind, int(row.source_row), name)
        text = f"{name} {address}"
        named = resolve_category(name)
        if (
            named is not None
            and CATEGORIES[named].tier != cat.tier
            and {CATEGORIES[named].tier, cat.tier} <= set(_CHAIN_TIERS)
        ):
            other = CATEGORIES[named]
            out.append(
                _finding(
                    "tier_mismatch",
                    f"{zh}：名称像“{other.name_zh}”（{TIER_LABELS[other.tier][0]}），类型却是"
                    f"“{cat.name_zh}”（{TIER_LABELS[cat.tier][0]}）；请核对类型或名称。",
                    f"{en}: the name reads as {other.name_zh} ({other.name_en}, "
                    f"{TIER_LABELS[other.tier][1]}) but the category is {cat.name_zh} "
                    f"({cat.name_en}, {TIER_LABELS[cat.tier][1]}); check the category or the "
                    "name.",
                    row=row,
                )
            )
        elif (
            category in _TOWNSHIP_KEYS
            and ("街道" in text or "社区" in text)
            and not ("镇" in text or "乡" in text)
        ):
            out.append(
                _finding(
                    "tier_mismatch",
                    f"{zh}：类型为“{cat.name_zh}”（服务乡、镇），但名称或地址写的是街道/社区，"
                    "没有乡或镇；城市街道的基层机构通常是社区卫生服务中心，请核对类型。",
                    f"{en}: the category is {cat.name_zh} ({cat.name_en}), which serves a 乡 or "
                    "镇, but the name or address says 街道/社区 and names no 乡 or 镇; in an "
                    "urban sub-district this is usually a 社区卫生服务中心 (community health "
                    "centre). Check the category.",
                    row=row,
                )
            )
        elif category == "village_clinic" and "街道" in text:
            place = f"{_VILLAGE_TYPE_WORDS.sub('', name)} {address}"
            if not any(w in place for w in ("村", "嘎查", "镇", "乡")):
                out.append(
                    _finding(
                        "tier_mismatch",
                        f"{zh}：类型为“村卫生室”（服务行政村），但名称或地址写的是街道，没有村、"
                        "镇或乡；城市街道中对应的是社区卫生服务站，请核对类型。",
                        f"{en}: the category is 村卫生室 (village clinic), which serves a "
                        "village, but the name or address says 街道 and names no 村, 镇 or 乡; in "
                        "an urban sub-district this is usually a 社区卫生服务站 (community health "
                        "station). Check the category.",
                        row=row,
                    )
                )
    return out


def _outside_china(used: gpd.GeoDataFrame, kind: str) -> list[Finding]:
    lon, lat = _lonlat(used)
    out = []
    for i in np.flatnonzero(~in_china_ranges(lon, lat)):
        row = used.iloc[i]
        zh, en = record_label(kind, int(row["source_row"]), _text(row["name"]))
        where = f"{coordinate_text(lon[i])}, {coordinate_text(lat[i])}"
        out.append(
            _finding(
                "outside_china",
                f"{zh}：坐标 {where} 在中国范围（东经 73–136°、北纬 3–54°）之外；请核对坐标"
                "（是否录入错误或正负号错误）。",
                f"{en}: {where} lies outside China (longitude 73–136, latitude 3–54); check the "
                "coordinates (a typo or a sign error?).",
                row=row,
            )
        )
    return out


def _outside_area(used: gpd.GeoDataFrame, boundary: Any, kind: str) -> list[Finding]:
    """Used points at least 1 m outside the boundary, with the distance."""
    if used.empty:
        return []
    dist = distance_outside_m(boundary, *_lonlat(used))
    out = []
    for i in np.flatnonzero(dist >= 1.0):
        row = used.iloc[i]
        label = record_label(kind, int(row["source_row"]), _text(row["name"]))
        zh, en = outside_area(label, dist[i])
        out.append(_finding("outside_area", zh, en, row=row, severity="warning"))
    return out


def _far_from_road(
    used: gpd.GeoDataFrame, network: Any, max_snap_m: float, kind: str
) -> list[Finding]:
    if used.empty:
        return []
    lon, lat = _lonlat(used)
    (dist,) = _snap_m(network, (lon, lat))
    out = []
    for i in np.flatnonzero(dist > max_snap_m):
        row = used.iloc[i]
        label = record_label(kind, int(row["source_row"]), _text(row["name"]))
        zh, en = far_from_road(label, dist[i], max_snap_m)
        out.append(_finding("far_from_road", zh, en, row=row))
    return out


def qa_facilities(
    table: FacilityTable,
    *,
    boundary: Any = None,
    network: Any = None,
    max_snap_m: float = 500.0,
    same_name_m: float = 50.0,
    keep_duplicates: bool = False,
) -> pd.DataFrame:
    """Every finding about a facility table, one row per finding.

    Parameters
    ----------
    table : FacilityTable
        From :func:`geoplan.readers.facilities.read_facilities`.
    boundary : GeoDataFrame, GeoSeries or shapely geometry, optional
        Study area (bare geometries in WGS84): used points outside it are ``outside_area``.
    network : Network, optional
        Street network: enables ``far_from_road`` and the GCJ-02/BD-09 detection.
    max_snap_m : float, default 500
        Farthest distance from a road still accepted, metres (as ``facilities.max_snap_m``
        in a project).
    same_name_m : float, default 50
        Records with the same name (and category) closer than this are ``duplicate_name_nearby``
        (``duplicate``), metres.
    keep_duplicates : bool, default False
        Same name and category nearby is kept on purpose: a warning, not a ``duplicate``.

    Returns
    -------
    pandas.DataFrame
        Columns :data:`QA_COLUMNS`; ``source_row`` is a nullable integer (empty for findings
        about the whole file, which come first), then by row and check. The checks and
        severities are in :data:`QA_CHECKS` and the module docstring.
    """
    kind = _kind(table)
    used = table.used
    findings = _reject_findings(table) + _capacity_findings(table, kind)
    if not used.empty:
        findings += _duplicate_findings(used, kind, same_name_m, keep_duplicates=keep_duplicates)
        findings += tier_findings(used, kind=kind)
        findings += _outside_china(used, kind)
        if boundary is not None:
            findings += _outside_area(used, boundary, kind)
        if network is not None:
            findings += _far_from_road(used, network, max_snap_m, kind)
            suspected = detect_gcj02(used, network, declare=DECLARE["facilities"])
            if suspected is not None:
                findings.append(suspected)
    return _frame(findings)


def _frame(findings: list[Finding]) -> pd.DataFrame:
    order = {c: i for i, c in enumerate(QA_CHECKS)}
    frame = pd.DataFrame(
        {
            "source_row": pd.array([f.source_row for f in findings], dtype="Int64"),
            "facility_id": pd.Series([f.facility_id for f in findings], dtype="str"),
            "name": pd.Series([f.name for f in findings], dtype="str"),
            "check": pd.Series([f.check for f in findings], dtype="str"),
            "severity": pd.Series([f.severity for f in findings], dtype="str"),
            "message_zh": pd.Series([f.message_zh for f in findings], dtype="str"),
            "message_en": pd.Series([f.message_en for f in findings], dtype="str"),
        }
    )
    key = pd.DataFrame(
        {
            "file": frame["source_row"].notna().to_numpy(),
            "row": frame["source_row"].fillna(0).to_numpy(dtype=np.int64),
            "check": [order.get(c, len(order)) for c in frame["check"]],
        }
    )
    index = key.sort_values(["file", "row", "check"], kind="stable").index
    return frame.loc[index].reset_index(drop=True)[list(QA_COLUMNS)]
