"""片区: residents grouped by the hub they reach first, with their travel-time percentiles.

The hubs are facilities (a county's 县域医疗次中心); one multi-source search
(:func:`geoplan.analysis.engine.nearest_facility`) gives every resident's first hub and time.
Percentiles are population-weighted and "lower": the p-th percentile is the smallest time
within which at least p % of the 片区's residents live, so "the 90th percentile is at most 30
minutes" means exactly "at least 90 % of the residents are within 30 minutes" (inclusive).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .equity import weighted_mean

__all__ = ["catchment_table", "percentile_column", "weighted_percentile"]


def weighted_percentile(values, weights, q: float) -> float:
    """The smallest value within which at least ``q`` % (0 < q ≤ 100) of the weight lies.

    NaN when the weights sum to 0. Values must be finite.
    """
    x = np.asarray(values, dtype=np.float64)
    w = np.asarray(weights, dtype=np.float64)
    if not 0 < q <= 100:
        raise ValueError(f"percentile must be in (0, 100], got {q}")
    if not np.isfinite(x).all():
        raise ValueError("values must be finite")
    total = w.sum()
    if len(x) == 0 or total <= 0:
        return float("nan")
    order = np.argsort(x, kind="stable")
    cumulative = np.cumsum(w[order])
    need = q / 100.0 * total * (1.0 - 1e-12)
    k = int(np.searchsorted(cumulative, need, side="left"))
    return float(x[order][min(k, len(x) - 1)])


def catchment_table(
    hub: np.ndarray,
    time_s: np.ndarray,
    population: np.ndarray,
    n_hubs: int,
    *,
    percentiles=(50.0, 90.0),
    threshold_s: float | None = None,
) -> pd.DataFrame:
    """Per hub (position 0..n_hubs-1): ``population``, ``points``, ``p<q>_min`` for each
    percentile, ``mean_min``, ``max_min`` and, with ``threshold_s``, ``share_within`` (0..1,
    inclusive). ``hub`` is -1 for residents who reach none (left out: count them apart)."""
    hub = np.asarray(hub, dtype=np.int64)
    time_s = np.asarray(time_s, dtype=np.float64)
    population = np.asarray(population, dtype=np.float64)
    rows = []
    for h in range(n_hubs):
        mine = hub == h
        t, w = time_s[mine], population[mine]
        total = float(w.sum())
        row = {"hub": h, "population": total, "points": int(mine.sum())}
        for q in percentiles:
            row[percentile_column(q)] = weighted_percentile(t, w, q) / 60.0
        row["mean_min"] = weighted_mean(t, w) / 60.0
        row["max_min"] = float(t.max() / 60.0) if len(t) else np.nan
        if threshold_s is not None:
            inside = float(w[t <= threshold_s].sum())
            row["share_within"] = inside / total if total > 0 else np.nan
        rows.append(row)
    return pd.DataFrame(rows)


def percentile_column(q: float) -> str:
    """The column of the ``q``-th percentile in :func:`catchment_table` (``p90_min``)."""
    return f"p{q:g}_min".replace(".", "_")
