"""Equity of access: population-weighted Gini and concentration indices.

Both take one value per person-group (a resident location, or a unit) and its population as
weight; values are "access" in any unit (minutes to the nearest facility, 2SFCA supply per
1,000 residents …), non-negative.

* :func:`gini` — the Gini coefficient from the Lorenz curve of the values (0: everyone has the
  same; towards 1: a few have all of it), computed as one minus twice the area under the
  population-weighted Lorenz curve (trapezoids between the sorted groups). It equals the
  mean-absolute-difference form Σᵢ Σⱼ pᵢ pⱼ |xᵢ − xⱼ| / (2 μ) exactly (the tests check both).
* :func:`concentration_index` — the concentration index of the values against a ranking
  variable (e.g. the units' population density or income): 2 cov(x, R) / μ, R the
  population-weighted fractional rank of the ranking variable (ties share their mid-rank).
  Positive: the values concentrate among the higher-ranked; negative: among the lower;
  0: no relation. It equals one minus twice the area under the concentration curve.
"""

from __future__ import annotations

import numpy as np

__all__ = ["concentration_index", "fractional_rank", "gini", "weighted_mean"]


def _prepare(values, weights) -> tuple[np.ndarray, np.ndarray]:
    x = np.asarray(values, dtype=np.float64)
    w = np.ones_like(x) if weights is None else np.asarray(weights, dtype=np.float64)
    if x.shape != w.shape or x.ndim != 1:
        raise ValueError("values and weights must be 1-d arrays of the same length")
    if not (np.isfinite(x).all() and np.isfinite(w).all()):
        raise ValueError("values and weights must be finite (leave out the unreachable first)")
    if (w < 0).any():
        raise ValueError("weights must be non-negative")
    return x, w


def weighted_mean(values, weights=None) -> float:
    """Population-weighted mean; NaN when the weights sum to 0."""
    x, w = _prepare(values, weights)
    total = w.sum()
    return float(np.dot(w, x) / total) if total > 0 else float("nan")


def gini(values, weights=None) -> float:
    """Population-weighted Gini coefficient of non-negative ``values`` (Lorenz-area form).

    NaN when the weights or the weighted values sum to 0 (no inequality to measure).
    """
    x, w = _prepare(values, weights)
    if (x < 0).any():
        raise ValueError("the Gini coefficient needs non-negative values")
    total = w.sum()
    if total <= 0:
        return float("nan")
    order = np.argsort(x, kind="stable")
    p = w[order] / total
    share = p * x[order]
    mean = share.sum()
    if mean <= 0:
        return float("nan")
    lorenz = np.cumsum(share) / mean
    before = np.concatenate([[0.0], lorenz[:-1]])
    return float(1.0 - np.dot(p, lorenz + before))


def fractional_rank(rank, weights=None) -> np.ndarray:
    """Population-weighted fractional rank in (0, 1) of each group by ``rank`` (ascending):
    the population below it plus half its own; tied groups share the mid-rank of the tie."""
    r, w = _prepare(rank, weights)
    total = w.sum()
    if total <= 0:
        return np.full(len(r), np.nan)
    keys, inverse = np.unique(r, return_inverse=True)
    tie_weight = np.bincount(inverse, weights=w, minlength=len(keys)) / total
    below = np.concatenate([[0.0], np.cumsum(tie_weight)[:-1]])
    return (below + tie_weight / 2.0)[inverse]


def concentration_index(values, rank, weights=None) -> float:
    """Concentration index of ``values`` against the ranking variable ``rank``.

    2 · cov(values, R) / mean(values), population-weighted, R = :func:`fractional_rank`. NaN
    when the weights or the weighted values sum to 0.
    """
    x, w = _prepare(values, weights)
    r, _ = _prepare(rank, weights)
    total = w.sum()
    if total <= 0:
        return float("nan")
    p = w / total
    mean = float(np.dot(p, x))
    if mean == 0:
        return float("nan")
    ranks = fractional_rank(r, w)
    covariance = float(np.dot(p, (x - mean) * (ranks - np.dot(p, ranks))))
    return 2.0 * covariance / mean
