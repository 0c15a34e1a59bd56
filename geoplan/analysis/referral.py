"""Referral tables: each facility of a lower tier to its facility of the higher tier.

AccessMod's referral analysis (travel time between health facilities of successive levels)
adapted to 县乡村一体化: each 村卫生室 to its 乡镇卫生院, each 乡镇卫生院 to the county hospital.
"Its" higher-tier facility is the one of the same township when the township is known (the
nearest of them by travel time if there are several), else the nearest by travel time.

Facility-to-facility times come from one multi-source search per tier: the higher tier's
facilities are the sources of :func:`geoplan.analysis.engine.travel_time_matrix` (no cutoff),
the lower tier's the trips' origins, so each time runs lower → higher (one-way streets
respected) exactly as a resident's trip to a facility does: access leg, along the edge, the
streets, along the facility's edge and its access leg.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..readers.network import DEFAULT_WALK_SPEED_M_PER_MIN, ModeTimes
from . import engine

__all__ = ["ASSIGNED_BY", "REFERRAL_COLUMNS", "referral_times"]

ASSIGNED_BY: dict[str, tuple[str, str]] = {
    "same_unit": ("同一乡镇", "same township"),
    "nearest": ("最近", "nearest"),
    "nearest_no_unit_facility": ("最近（所属乡镇无上级设施）", "nearest (none in its township)"),
    "nearest_unit_unknown": ("最近（所属乡镇不明）", "nearest (township unknown)"),
}
"""How a lower-tier facility's higher-tier facility was chosen (zh, en)."""

REFERRAL_COLUMNS = ("lower", "upper", "time_s", "assigned_by", "nearest", "nearest_time_s")
"""Columns of :func:`referral_times`: positions into the two tiers (-1: none), seconds."""


def referral_times(
    network,
    times: ModeTimes,
    lower_xy: tuple[np.ndarray, np.ndarray],
    upper_xy: tuple[np.ndarray, np.ndarray],
    *,
    lower_unit: np.ndarray | None = None,
    upper_unit: np.ndarray | None = None,
    assign: str = "same_unit",
    access_speed_m_per_min: float = DEFAULT_WALK_SPEED_M_PER_MIN,
) -> pd.DataFrame:
    """Travel time from each lower-tier facility to its higher-tier facility.

    Parameters
    ----------
    network : Network
        The street network; ``lower_xy``/``upper_xy`` are x and y arrays in its CRS.
    times : ModeTimes
        The mode's edge times (``Network.mode_times``): lower-tier facilities join the
        network where residents may (``demand_edges``), higher-tier ones where facilities may.
    lower_unit, upper_unit : arrays of str, optional
        The township of each facility ("" or None: unknown), for ``assign = "same_unit"``.
    assign : {"same_unit", "nearest"}
        ``same_unit``: the higher-tier facility of the same township (the nearest of them),
        else the nearest overall; ``nearest``: always the nearest.

    Returns
    -------
    DataFrame
        One row per lower-tier facility, :data:`REFERRAL_COLUMNS`: ``upper`` and ``time_s``
        (NaN when it cannot be reached), ``assigned_by`` (a key of :data:`ASSIGNED_BY`), the
        nearest higher-tier facility and its time.
    """
    if assign not in ("same_unit", "nearest"):
        raise ValueError(f"assign must be 'same_unit' or 'nearest', got {assign!r}")
    n_lower, n_upper = len(lower_xy[0]), len(upper_xy[0])
    out = pd.DataFrame(
        {
            "lower": np.arange(n_lower),
            "upper": np.full(n_lower, -1, dtype=np.int64),
            "time_s": np.full(n_lower, np.nan),
            "assigned_by": np.full(n_lower, "nearest", dtype=object),
            "nearest": np.full(n_lower, -1, dtype=np.int64),
            "nearest_time_s": np.full(n_lower, np.nan),
        }
    )
    if n_lower == 0 or n_upper == 0:
        return out
    lower = engine.snap_points(network, *lower_xy, usable=times.demand_edges)
    upper = engine.snap_points(network, *upper_xy, usable=times.facility_edges)
    pairs = engine.travel_time_matrix(  # sources: the higher tier, in one search
        network,
        times.forward_s,
        times.backward_s,
        upper,
        lower,
        cutoff_s=np.inf,
        access_speed_m_per_min=access_speed_m_per_min,
        private=times.private,
    )
    d = pairs["demand"].to_numpy()
    f = pairs["facility"].to_numpy()
    t = pairs["travel_time_s"].to_numpy()
    order = np.lexsort((f, t, d))  # per lower facility: fastest first (ties: lower position)
    d, f, t = d[order], f[order], t[order]
    first = np.ones(len(d), dtype=bool)
    first[1:] = d[1:] != d[:-1]
    nearest = out["nearest"].to_numpy(copy=True)
    nearest_s = out["nearest_time_s"].to_numpy(copy=True)
    nearest[d[first]], nearest_s[d[first]] = f[first], t[first]
    upper_pos, time_s = nearest.copy(), nearest_s.copy()
    assigned = out["assigned_by"].to_numpy(copy=True)
    if assign == "same_unit":
        lower_unit = _units(lower_unit, n_lower)
        upper_unit = _units(upper_unit, n_upper)
        known = lower_unit != ""
        has_own = known & np.isin(lower_unit, upper_unit[upper_unit != ""])
        assigned[~known] = "nearest_unit_unknown"
        assigned[known & ~has_own] = "nearest_no_unit_facility"
        assigned[has_own] = "same_unit"
        # its own township's facilities: the fastest reachable one, else unreachable
        upper_pos[has_own], time_s[has_own] = -1, np.nan
        same = has_own[d] & (lower_unit[d] == upper_unit[f])
        ds, fs, ts = d[same], f[same], t[same]
        own_first = np.ones(len(ds), dtype=bool)
        own_first[1:] = ds[1:] != ds[:-1]
        upper_pos[ds[own_first]], time_s[ds[own_first]] = fs[own_first], ts[own_first]
        unreachable = has_own & (upper_pos < 0)
        if unreachable.any():  # name its township's facility all the same (time NaN)
            first_of = {u: i for i, u in reversed(list(enumerate(upper_unit))) if u}
            upper_pos[unreachable] = [first_of[u] for u in lower_unit[unreachable]]
    out["upper"], out["time_s"], out["assigned_by"] = upper_pos, time_s, assigned
    out["nearest"], out["nearest_time_s"] = nearest, nearest_s
    return out


def _units(values: np.ndarray | None, n: int) -> np.ndarray:
    """Townships as text, "" where unknown."""
    if values is None:
        return np.full(n, "", dtype=object)
    text = ["" if v is None or pd.isna(v) else str(v).strip() for v in values]
    out = np.array(text, dtype=object)
    if len(out) != n:
        raise ValueError("one township per facility is needed")
    return out
