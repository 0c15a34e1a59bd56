"""Duplicate facility records: one is used, the others are rejected, nothing counts twice.

Two used records are the same facility when

* they have the same id (possible across several facility files, or for a geocoded record;
  within one file :func:`~geoplan.readers.facilities.read_facilities` already rejects a repeated id
  as ``duplicate_id``), or
* they have the same name (after :func:`geoplan.taxonomy.normalize_text`) and category and lie
  within :data:`DUPLICATE_M` (50 m) of each other, as a 卫健委 export listing the county
  hospital under two 序号 does.

**Which record is kept**: the one with the most capacity cells filled (beds, doctors,
nurses), then the first in input order (the first file, then the lowest row). The others
leave ``used`` for ``rejects`` with reason ``duplicate_id`` (same id) or ``duplicate`` (same
name and category nearby), and a zh/en message naming the row kept. The same-name rule can
be switched off (``[facilities] keep_duplicates = true``, command line
``--keep-duplicates``): both records are then used; ids must stay unique in any case.

:func:`find_duplicates` is the one detection; :mod:`geoplan.analysis.qa` reports with it too.
"""

from __future__ import annotations

import dataclasses
import logging
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import shapely

from ..messages import duplicate_id, record_kind, record_label
from ..readers.facilities import CAPACITY_FIELDS, REJECT_COLUMNS, FacilityTable
from ..taxonomy import CATEGORIES, normalize_text

__all__ = [
    "DUPLICATE_M",
    "KEEP_HINT_CLI",
    "KEEP_HINT_PROJECT",
    "KEEP_HINT_PYTHON",
    "duplicate_messages",
    "find_duplicates",
    "reject_duplicates",
    "reject_repeats_of",
]

logger = logging.getLogger(__name__)

DUPLICATE_M = 50.0
"""Records with the same name and category closer than this (metres) are one facility."""

KEEP_HINT_PROJECT = (
    "或在项目文件 [facilities] 中设置 keep_duplicates = true",
    "or set keep_duplicates = true in the project's [facilities] table",
)
KEEP_HINT_CLI = ("或在命令行加 --keep-duplicates", "or add --keep-duplicates")
KEEP_HINT_PYTHON = ("或调用时设置 keep_duplicates=True", "or pass keep_duplicates=True")
"""How to keep both records, per context (zh, en)."""

_GEOD = pyproj.Geod(ellps="WGS84")


def _priority(used: pd.DataFrame) -> np.ndarray:
    """Positions of ``used`` in keeping order: most capacity cells filled, then input order."""
    filled = np.zeros(len(used), dtype=np.int64)
    for name in CAPACITY_FIELDS:
        if name in used:
            filled += used[name].notna().to_numpy()
    return np.lexsort((np.arange(len(used)), -filled))


def find_duplicates(
    used: gpd.GeoDataFrame, *, within_m: float = DUPLICATE_M, by_category: bool = True
) -> pd.DataFrame:
    """Records that repeat another one: same name (and category) within ``within_m`` metres.

    Parameters
    ----------
    used : GeoDataFrame
        Facilities (``name``, ``category``, points; any CRS, none = WGS84).
    within_m : float
        Greatest distance between two records of one facility (geodesic, metres).
    by_category : bool
        Whether the category must be equal too (False: the name alone, as a QA warning).

    Returns
    -------
    DataFrame
        One row per repeating record: ``position`` (its row in ``used``), ``kept`` (the row
        it repeats, kept by the order of the module docstring) and ``distance_m``.
    """
    empty = pd.DataFrame({"position": [], "kept": [], "distance_m": []}).astype(
        {"position": "int64", "kept": "int64", "distance_m": "float64"}
    )
    if len(used) < 2:
        return empty
    geometry = used.geometry.to_crs(4326) if used.crs is not None else used.geometry
    lon, lat = shapely.get_x(geometry.to_numpy()), shapely.get_y(geometry.to_numpy())
    keys = pd.DataFrame({"name": [normalize_text(n) for n in used["name"]]})
    if by_category:
        keys["category"] = used["category"].astype(str).to_numpy()
    keys = keys[keys["name"] != ""]
    groups = keys.groupby(list(keys.columns), sort=False).indices
    order = np.empty(len(used), dtype=np.int64)
    order[_priority(used)] = np.arange(len(used))  # rank of each position
    rows = []
    for members in groups.values():
        if len(members) < 2:
            continue
        members = keys.index.to_numpy()[members]
        members = members[np.argsort(order[members], kind="stable")]
        kept: list[int] = []
        for i in members:
            if kept:
                dist = _GEOD.inv(
                    np.full(len(kept), lon[i]),
                    np.full(len(kept), lat[i]),
                    lon[kept],
                    lat[kept],
                )[2]
                k = int(np.argmin(dist))
                if dist[k] <= within_m:
                    rows.append((int(i), kept[k], float(dist[k])))
                    continue
            kept.append(int(i))
    if not rows:
        return empty
    out = pd.DataFrame(rows, columns=["position", "kept", "distance_m"])
    return out.sort_values("position", ignore_index=True)


def _same_ids(used: pd.DataFrame) -> pd.DataFrame:
    """Records whose id an earlier-kept record already has (across files)."""
    ids = used["facility_id"].astype(str).to_numpy()
    order = _priority(used)
    seen: dict[str, int] = {}
    rows = []
    for i in order:
        first = seen.setdefault(ids[i], int(i))
        if first != i:
            rows.append((int(i), first, np.nan))
    return pd.DataFrame(rows, columns=["position", "kept", "distance_m"])


def _label(
    used: pd.DataFrame, i: int, kind: str, *, with_file: bool, named: bool = True
) -> tuple[str, str]:
    row = used.iloc[i]
    zh, en = record_label(kind, int(row["source_row"]), str(row["name"]) if named else "")
    if with_file:
        name = Path(str(row["source_file"])).name
        zh, en = f"{name} {zh}", f"{name} {en}"
    return zh, en


def duplicate_messages(
    used: pd.DataFrame,
    found: pd.DataFrame,
    *,
    kind: str = "row",
    code: str = "duplicate",
    keep_hint: tuple[str, str] = KEEP_HINT_PROJECT,
) -> tuple[list[str], list[str]]:
    """The zh and en message of each repeating record of ``found`` (naming the row kept)."""
    with_file = "source_file" in used and used["source_file"].nunique() > 1
    zh_out, en_out = [], []
    for r in found.itertuples(index=False):
        zh, en = _label(used, r.position, kind, with_file=with_file)
        # the kept record has the same name (not repeated) unless only its id is the same
        named = code == "duplicate_id"
        kept_zh, kept_en = _label(used, r.kept, kind, with_file=with_file, named=named)
        kept_row = used.iloc[r.kept]
        if code == "duplicate_id":
            fid = str(kept_row["facility_id"])
            texts = duplicate_id((zh, en), fid, (kept_zh, kept_en), kept=True)
            zh_out.append(texts[0])
            en_out.append(texts[1])
            continue
        category = CATEGORIES.get(str(kept_row["category"]))
        cat_zh = category.name_zh if category else str(kept_row["category"])
        cat_en = category.name_en if category else str(kept_row["category"])
        zh_out.append(
            f"{zh}：与{kept_zh}同名同类（{cat_zh}），相距 {r.distance_m:,.0f} 米，"
            "视为同一设施的重复"
            f"记录，保留{kept_zh}，本行不计入；如确为两个设施，请区分名称，{keep_hint[0]}。"
        )
        en_out.append(
            f"{en}: same name and category ({cat_en}) as {kept_en}, {r.distance_m:,.0f} m away: "
            f"a repeated record of one facility; {kept_en} is kept and this one is not counted. "
            f"If they are two facilities, give them distinct names, {keep_hint[1]}."
        )
    return zh_out, en_out


def reject_duplicates(
    table: FacilityTable,
    *,
    within_m: float = DUPLICATE_M,
    keep: bool = False,
    keep_hint: tuple[str, str] = KEEP_HINT_PROJECT,
) -> FacilityTable:
    """Move repeated records from ``table.used`` to ``table.rejects`` (see the module docstring).

    Same ids are always resolved (``duplicate_id``); same name and category within
    ``within_m`` unless ``keep``. ``keep_hint`` says in the messages how to keep both.
    ``read == len(used) + len(rejects)`` still holds; ``table`` is not modified.
    """
    used = table.used.reset_index(drop=True)
    kind = record_kind(table.source)
    parts = []
    same_id = _same_ids(used)
    if len(same_id):
        parts.append((same_id, "duplicate_id"))
    if not keep:
        rest = used.drop(index=same_id["position"]) if len(same_id) else used
        found = find_duplicates(rest, within_m=within_m)
        if len(found):
            index = rest.index.to_numpy()
            found = found.assign(position=index[found["position"]], kept=index[found["kept"]])
            parts.append((found, "duplicate"))
    if not parts:
        return table
    extra = []
    for found, code in parts:
        zh, en = duplicate_messages(used, found, kind=kind, code=code, keep_hint=keep_hint)
        rows = used.iloc[found["position"].to_numpy()]
        extra.append(
            pd.DataFrame(
                {
                    "source_row": rows["source_row"].to_numpy(dtype=np.int64),
                    "reason_code": code,
                    "message_zh": zh,
                    "message_en": en,
                    "facility_id": rows["facility_id"].astype(str).to_numpy(),
                    "name": rows["name"].astype(str).to_numpy(),
                    **(
                        {"source_file": rows["source_file"].to_numpy()}
                        if "source_file" in rows
                        else {}
                    ),
                }
            )
        )
    drop = np.concatenate([found["position"].to_numpy() for found, _ in parts])
    extra_rejects = pd.concat(extra, ignore_index=True)
    rejects = pd.concat([table.rejects, extra_rejects], ignore_index=True)
    rejects = rejects.sort_values("source_row", kind="stable", ignore_index=True)
    text = [c for c in rejects.columns if c not in ("source_row",)]
    rejects[text] = rejects[text].astype(object)
    kept = used.drop(index=drop).reset_index(drop=True)
    for code in ("duplicate_id", "duplicate"):
        n = int((extra_rejects["reason_code"] == code).sum())
        if n:
            logger.warning(
                "%s: %d repeated facility record(s) rejected as %s", table.source, n, code
            )
    return dataclasses.replace(table, used=kept, rejects=rejects[_column_order(rejects)])


def _column_order(rejects: pd.DataFrame) -> list[str]:
    return [*REJECT_COLUMNS, *(c for c in rejects.columns if c not in REJECT_COLUMNS)]


def reject_repeats_of(
    existing: gpd.GeoDataFrame,
    table: FacilityTable,
    *,
    within_m: float = DUPLICATE_M,
    keep: bool = False,
) -> FacilityTable:
    """Reject records of ``table`` (facilities to add) that repeat an ``existing`` facility,
    or each other (same name and category within ``within_m``; ``duplicate``): the existing
    one is always kept. ``keep`` keeps them all. ``table`` is not modified."""
    new = table.used.reset_index(drop=True)
    if keep or new.empty:
        return table
    old = existing.to_crs(4326)[["facility_id", "name", "category", "geometry"]]
    both = pd.concat([old, new.to_crs(4326)[old.columns]], ignore_index=True)
    both = gpd.GeoDataFrame(both, geometry="geometry", crs=4326)
    found = find_duplicates(both, within_m=within_m)
    n_old = len(old)
    kind = record_kind(table.source)
    reject: dict[int, tuple[str, str]] = {}
    for r in found.itertuples(index=False):
        one, other = (r.position, r.kept) if r.position >= n_old else (r.kept, r.position)
        if one < n_old or one - n_old in reject:
            continue  # two existing facilities (the run's business), or already rejected
        row = new.iloc[one - n_old]
        zh, en = record_label(kind, int(row["source_row"]), str(row["name"]))
        if other < n_old:
            fid, name = str(old["facility_id"].iloc[other]), str(old["name"].iloc[other])
            where_zh, where_en = (
                f"项目中已有的设施 {fid}（{name}）",
                f"the project's facility {fid} ({name})",
            )
        else:
            kept = new.iloc[other - n_old]
            where_zh, where_en = record_label(kind, int(kept["source_row"]), str(kept["name"]))
        reject[one - n_old] = (
            f"新增{zh}：与{where_zh}同名同类，相距 {r.distance_m:,.0f} 米，视为同一设施，未新增；"
            "如确为新设施，请区分名称。",
            f"added {en}: same name and category as {where_en}, {r.distance_m:,.0f} m away: "
            "the same facility, not added; if it is a new one, give it a distinct name.",
        )
    if not reject:
        return table
    positions = sorted(reject)
    rows = new.iloc[positions]
    extra = pd.DataFrame(
        {
            "source_row": rows["source_row"].to_numpy(dtype=np.int64),
            "reason_code": "duplicate",
            "message_zh": [reject[i][0] for i in positions],
            "message_en": [reject[i][1] for i in positions],
            "facility_id": rows["facility_id"].astype(str).to_numpy(),
            "name": rows["name"].astype(str).to_numpy(),
        }
    )
    rejects = pd.concat([table.rejects, extra], ignore_index=True)
    rejects = rejects.sort_values("source_row", kind="stable", ignore_index=True)
    used = new.drop(index=positions).reset_index(drop=True)
    return dataclasses.replace(table, used=used, rejects=rejects[_column_order(rejects)])
