"""One catalogue of geoplan's (中文, English) texts, keyed by reason codes.

Every row geoplan leaves out (``rejects.csv``), every finding of ``check-facilities``
(``qa.csv``) and every gap area (``gaps.csv``) carries a reason code; its title in both
languages is here, once (:data:`REASONS`). So are the phrases the readers and checks compose
their row messages from: how a record is named (:func:`record_label`) and the one
far-from-road message (:func:`far_from_road`), which a project run, a scenario and
``check-facilities`` all give.

A core module: plain text, no I/O; every layer may import it.
"""

from __future__ import annotations

import math
from pathlib import Path

__all__ = [
    "PRECISION_ZH",
    "REASONS",
    "VECTOR_SUFFIXES",
    "coordinate_text",
    "duplicate_id",
    "far_from_road",
    "geocode_failed",
    "geocoded_outside_area",
    "outside_area",
    "percent_text",
    "reason",
    "record_kind",
    "record_label",
]

REASONS: dict[str, tuple[str, str]] = {
    # facility records rejected when read (readers.facilities.REASON_CODES, in that order)
    "notes_row": ("注释或标题行", "note or heading row"),
    "total_row": ("合计行", "total row"),
    "missing_name": ("名称为空", "name missing"),
    "missing_category": ("类型为空", "category missing"),
    "unknown_category": ("类型无法识别", "unknown category"),
    "missing_coordinates": ("缺少坐标", "coordinates missing"),
    "bad_coordinates": ("坐标不是数字", "coordinates not numbers"),
    "unknown_crs": ("坐标系无法识别", "unknown coordinate system"),
    "swapped_coordinates": ("经纬度颠倒", "longitude and latitude swapped"),
    "out_of_range": ("坐标超出范围", "coordinates out of range"),
    "duplicate_id": ("编号重复", "duplicate id"),
    "outside_area": ("在研究区外", "outside the study area"),
    "geocode_failed": ("地理编码失败或过粗", "geocoding failed or too coarse"),
    # records left out by the checks of a run (analysis.duplicates, analysis.preflight)
    "duplicate": ("重复记录（同名同类且相距很近）", "repeated record (same name and type)"),
    "far_from_road": ("远离道路", "far from any road"),
    # check-facilities: the whole file, and records that are used
    "gcj02_suspected": ("疑似 GCJ-02 坐标", "looks like GCJ-02 coordinates"),
    "bd09_suspected": ("疑似 BD-09 坐标", "looks like BD-09 coordinates"),
    "duplicate_name_nearby": ("同名且相距很近", "same name close by"),
    "duplicate_coordinates": ("坐标完全相同", "identical coordinates"),
    "capacity_not_number": ("床位/人员数不是数字", "capacity not a number"),
    "capacity_implausible": ("床位/人员数不合理", "capacity implausible"),
    "tier_mismatch": ("类型层级与地点不符", "tier does not fit the place"),
    "outside_china": ("在中国范围外", "outside China"),
    # why residents are in a gap area (analysis.gaps)
    "beyond_threshold": (
        "超出阈值：最近设施的出行时间超过规则阈值",
        "beyond the threshold: the nearest facility is farther than the rule's minutes",
    ),
    "unreachable": (
        "不可达：沿该出行方式可用的道路无法到达任何设施",
        "unreachable: no facility can be reached on the streets this mode may use",
    ),
}
"""Reason code → (title_zh, title_en): every code of a rejects, QA or gaps table."""

VECTOR_SUFFIXES = frozenset({".geojson", ".json", ".gpkg", ".shp", ".fgb"})
"""GIS layers: their records are 'features' in messages, a table's are 'rows'."""


def reason(code: str) -> tuple[str, str]:
    """The (中文, English) title of a reason code (KeyError names the unknown code)."""
    try:
        return REASONS[code]
    except KeyError:
        raise KeyError(f"reason code {code!r} is not in geoplan.messages.REASONS") from None


def record_kind(source: str | Path) -> str:
    """How the records of ``source`` are named in messages: 'feature' for GIS layers, else
    'row'."""
    return "feature" if Path(str(source)).suffix.lower() in VECTOR_SUFFIXES else "row"


def record_label(kind: str, source_row: int, name: str = "") -> tuple[str, str]:
    """('第 12 行（名称=…）', 'row 12 (name=…)'): one record in messages (``kind`` from
    :func:`record_kind`; without ``name``, the row alone)."""
    if kind == "feature":
        zh, en = f"第 {source_row} 个要素", f"feature {source_row}"
    else:
        zh, en = f"第 {source_row} 行", f"row {source_row}"
    if name:
        zh, en = f"{zh}（名称={name}）", f"{en} (name={name})"
    return zh, en


def coordinate_text(value: float) -> str:
    """A coordinate for messages: up to 6 decimals, no trailing zeros."""
    return f"{value:.6f}".rstrip("0").rstrip(".")


def far_from_road(label: tuple[str, str], distance_m: float, max_snap_m: float) -> tuple[str, str]:
    """The far-from-road message of one facility (``label``: its (zh, en) name, e.g. from
    :func:`record_label`), as every command gives it: how far, the limit, that it is not used,
    and the fixes."""
    zh, en = label
    return (
        f"{zh}：距最近道路 {distance_m:,.0f} 米，超过 {max_snap_m:,.0f} 米，不纳入计算；请核对"
        "坐标（是否有 GCJ-02/BD-09 偏移、录入错误）、路网是否覆盖该处，或调大 "
        "[facilities] max_snap_m。",
        f"{en}: {distance_m:,.0f} m from the nearest road, more than {max_snap_m:,.0f} m, so it "
        "is not used; check the coordinates (a GCJ-02/BD-09 offset or a typo?) and whether the "
        "network covers the place, or raise [facilities] max_snap_m.",
    )


def percent_text(share: float) -> str:
    """A share (0..1) as a percentage with one decimal, '—' when undefined (NaN)."""
    return "—" if not math.isfinite(share) else f"{share * 100:.1f}%"


def duplicate_id(
    label: tuple[str, str], fid: str, where: tuple[str, str], *, kept: bool = False
) -> tuple[str, str]:
    """A record whose id ``fid`` already belongs to ``where`` (a record label, or
    ("其他记录", "another record")); ``kept``: that record is kept as the one facility."""
    kept_zh = f"，视为同一设施，保留{where[0]}" if kept else ""
    kept_en = ", which is kept" if kept else ""
    return (
        f"{label[0]}：编号“{fid}”已被{where[0]}使用{kept_zh}；请为每个设施使用不同编号，"
        "或删除重复的行。",
        f"{label[1]}: id {fid!r} is already used by {where[1]}{kept_en}; give each facility "
        "its own id, or delete the repeated row.",
    )


def outside_area(
    label: tuple[str, str], distance_m: float, tolerance_m: float | None = None
) -> tuple[str, str]:
    """A point ``distance_m`` outside the study area: rejected when beyond ``tolerance_m``
    (given), else a finding about a record that is used."""
    fix_zh = "请核对坐标（是否有 GCJ-02/BD-09 偏移、录入错误）或研究区边界"
    fix_en = "check the coordinates (a GCJ-02/BD-09 offset or a typo?) or the boundary"
    if tolerance_m is None:
        return (
            f"{label[0]}：位置在研究区边界外 {distance_m:,.0f} 米；{fix_zh}。",
            f"{label[1]}: the point lies {distance_m:,.0f} m outside the study area; {fix_en}.",
        )
    return (
        f"{label[0]}：位置在研究区边界外 {distance_m:,.0f} 米（容差 {tolerance_m:,.0f} 米）；"
        f"{fix_zh}，或删除该行。",
        f"{label[1]}: the point lies {distance_m:,.0f} m outside the study area (tolerance "
        f"{tolerance_m:,.0f} m); {fix_en}, or delete the row.",
    )


PRECISION_ZH = {
    "exact": "精确点位",
    "street": "街路",
    "village": "村/社区",
    "township": "乡镇/街道",
    "county": "县/区",
    "failed": "无",
}
"""Geocoding precisions in Chinese (``failed``: no place found)."""


def geocode_failed(
    label: tuple[str, str],
    text: str,
    provider: str,
    precision: str,
    min_precision: str,
    note: str = "",
) -> tuple[str, str]:
    """A record without coordinates whose address ``text`` geocoded too coarsely (or not at
    all: ``precision`` ``failed``); ``note`` is the geocoder's own remark."""
    coarse = precision != "failed"
    zh_what = (
        f"只定位到{PRECISION_ZH[precision]}级，粗于要求的{PRECISION_ZH[min_precision]}级"
        if coarse
        else "未找到唯一匹配的地点"
    )
    en_what = (
        f"only reached {precision} precision, coarser than the required {min_precision}"
        if coarse
        else "found no unique place"
    )
    return (
        f"{label[0]}：经纬度为空，按“{text}”地理编码（{provider}）{zh_what}；请填写经纬度，"
        "或写明更具体的地址（县、乡镇、村）。",
        f"{label[1]}: no coordinates, and geocoding {text!r} with {provider} {en_what}"
        + (f" ({note})" if note else "")
        + "; fill in the longitude/latitude, or give a more specific address "
        "(county, township, village).",
    )


def geocoded_outside_area(
    label: tuple[str, str], text: str, matched: str, distance_m: float
) -> tuple[str, str]:
    """A record placed by geocoding ``text`` (at ``matched``) outside the study area."""
    return (
        f"{label[0]}：按“{text}”地理编码得到的位置（{matched}）"
        f"在研究区边界外 {distance_m:,.0f} 米；请填写经纬度或核对地址。",
        f"{label[1]}: the place geocoded from {text!r} ({matched}) lies {distance_m:,.0f} m "
        "outside the study area; fill in the coordinates or check the address.",
    )
