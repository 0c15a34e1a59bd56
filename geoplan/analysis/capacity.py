"""Capacity-aware access: two-step floating catchment (2SFCA / E2SFCA) and ratios per unit.

Two questions the plans ask about capacity (``plans_digest.md`` §3):

* **How much supply can each resident reach?** :func:`two_step_fca` — the classic 2SFCA of
  Luo & Wang (2003) and its enhanced variants (stepped weights, Luo & Qi 2009; Gaussian decay,
  Dai 2010) on a long facility × demand travel-time table such as
  :func:`geoplan.analysis.engine.travel_time_matrix` returns (see :func:`travel_times_by_id`).
  :func:`access_by_unit` summarises the result per administrative unit.
* **How much capacity does each unit hold per resident?** :func:`capacity_ratios` — beds,
  doctors, nurses … per 1,000 residents of each unit, with 医护比 and 床护比.

Conventions (identical to PySAL ``access`` 1.1, which the tests check to 1e-9):

* A pair counts when ``travel_time_s <= cutoff_s`` (inclusive, like ``access``'s ``max_cost``
  and the engine's coverage rules).
* The weight multiplies both steps: a facility's ratio is
  ``R_j = S_j / Σ_i w(t_ij) P_i`` and a resident's access ``A_i = Σ_j w(t_ij) R_j``.
* Access is supply per resident, not normalised (``access``'s ``normalize=False``): 0.002 beds
  per resident is 2 beds per 1,000.

Where geoplan differs from ``access`` on purpose: residents who reach no facility get access
**0** (``access`` gives NaN), and a facility whose catchment holds no weighted population
(only zero-population points, or only pairs of weight 0) has an undefined ratio that
contributes **nothing** (``access`` divides by zero and passes inf/NaN on to those points).
"""

from __future__ import annotations

import logging
import math
import warnings
from collections.abc import Callable, Mapping, Sequence
from typing import Any, NamedTuple

import geopandas as gpd
import numpy as np
import pandas as pd

from ..errors import ConfigError, DataQualityWarning, InputError

__all__ = [
    "DEFAULT_CAPACITY_COLUMNS",
    "access_by_unit",
    "capacity_ratios",
    "facility_ratios",
    "gaussian_weight",
    "per_thousand",
    "travel_times_by_id",
    "two_step_fca",
    "weight_function",
]

logger = logging.getLogger(__name__)

#: Capacity columns :func:`capacity_ratios` looks for (those present in the facilities are used).
DEFAULT_CAPACITY_COLUMNS: tuple[str, ...] = (
    "beds",
    "doctors",
    "nurses",
    "pharmacists",
    "general_practitioners",
    "childcare_places",
)

TRAVEL_TIME_COLUMNS: tuple[str, ...] = ("demand_id", "facility_id", "travel_time_s")

_E_HALF = math.exp(-0.5)
_MAX_NAMED = 5

WeightFn = Callable[[np.ndarray], np.ndarray]


# ----------------------------------------------------------------------------- weights


def gaussian_weight(travel_time_s: np.ndarray, *, cutoff_s: float) -> np.ndarray:
    """Gaussian distance decay of Dai (2010), 1 at 0 s and 0 at ``cutoff_s``.

    ``w(t) = (exp(-½ (t/β)²) − exp(-½)) / (1 − exp(-½))`` with ``β = cutoff_s``; clipped at 0
    beyond the cutoff (pairs there are ignored anyway).
    """
    t = np.asarray(travel_time_s, dtype=np.float64)
    w = (np.exp(-0.5 * (t / cutoff_s) ** 2) - _E_HALF) / (1.0 - _E_HALF)
    return np.maximum(w, 0.0)


def weight_function(
    weight: str | Sequence[tuple[float, float]] | Mapping[float, float] | WeightFn,
    *,
    cutoff_s: float,
) -> WeightFn:
    """A vectorised weight on seconds for :func:`two_step_fca`'s ``weight`` option.

    Parameters
    ----------
    weight : "step", "gaussian", sequence of (upper_bound_s, weight), mapping or callable
        ``"step"``: 1 for every pair (classic 2SFCA). ``"gaussian"``: :func:`gaussian_weight`
        with ``β = cutoff_s``. Steps: the weight of the first (smallest) upper bound with
        ``t <= upper_bound_s``, 0 beyond the last bound — the rule of ``access.weights.step_fn``
        (a mapping ``{upper_bound_s: weight}`` is accepted as well). A callable is called once
        with a float array of seconds and must return non-negative finite weights of the same
        shape (wrap scalar-only functions with ``numpy.vectorize``).
    cutoff_s : float
        The catchment cutoff (seconds); sets the Gaussian's β.
    """
    if isinstance(weight, str):
        if weight == "step":
            return lambda t: np.ones(np.shape(t))
        if weight == "gaussian":
            return lambda t: gaussian_weight(t, cutoff_s=cutoff_s)
        raise ConfigError(
            f"weight {weight!r} is unknown; use 'step', 'gaussian', a list of "
            "(upper_bound_s, weight) steps or a function of seconds"
        )
    if callable(weight):
        return _checked_callable(weight)
    pairs = list(weight.items()) if isinstance(weight, Mapping) else list(weight)
    return _step_function(pairs)


def _step_function(pairs: list[Any]) -> WeightFn:
    try:
        table = np.array([(float(b), float(w)) for b, w in pairs], dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ConfigError(
            f"weight steps must be (upper_bound_s, weight) number pairs, got {pairs!r}"
        ) from exc
    if len(table) == 0:
        raise ConfigError("weight steps are empty; give at least one (upper_bound_s, weight)")
    if not np.isfinite(table).all() or (table < 0).any():
        raise ConfigError(f"weight steps must be finite and non-negative, got {pairs!r}")
    table = table[np.argsort(table[:, 0], kind="stable")]
    bounds_s = table[:, 0]
    if (np.diff(bounds_s) == 0).any():
        raise ConfigError(f"weight steps repeat an upper bound: {pairs!r}")
    values = np.append(table[:, 1], 0.0)  # beyond the last bound: weight 0

    def step(t: np.ndarray) -> np.ndarray:
        return values[np.searchsorted(bounds_s, t, side="left")]

    return step


def _checked_callable(fn: Callable[..., Any]) -> WeightFn:
    def call(t: np.ndarray) -> np.ndarray:
        try:
            w = np.asarray(fn(t), dtype=np.float64)
        except (TypeError, ValueError) as exc:
            raise ConfigError(
                f"weight function {fn!r} failed on an array of seconds ({exc}); it must accept "
                "a numpy array (wrap scalar-only functions with numpy.vectorize)"
            ) from exc
        if w.shape != np.shape(t):
            raise ConfigError(
                f"weight function {fn!r} returned shape {w.shape} for {np.shape(t)} seconds; "
                "it must work element-wise on arrays (wrap scalar-only functions with "
                "numpy.vectorize)"
            )
        if len(w) and not (np.isfinite(w).all() and (w >= 0).all()):
            raise ConfigError(f"weight function {fn!r} returned negative or non-finite weights")
        return w

    return call


# ----------------------------------------------------------------------------- 2SFCA


def travel_times_by_id(
    matrix: pd.DataFrame, demand_ids: Sequence[Any], facility_ids: Sequence[Any]
) -> pd.DataFrame:
    """Name the rows of :func:`geoplan.analysis.engine.travel_time_matrix` by id.

    Parameters
    ----------
    matrix : DataFrame
        ``demand`` and ``facility`` (positions) and ``travel_time_s``.
    demand_ids, facility_ids : sequence
        Unique ids in the order of the snapped demand points and facilities.

    Returns
    -------
    DataFrame
        ``demand_id``, ``facility_id`` (categoricals over the given ids: cheap for millions of
        rows; ``.astype(str)`` gives plain strings) and ``travel_time_s``.
    """
    columns = {}
    for name, position, ids in (
        ("demand_id", "demand", demand_ids),
        ("facility_id", "facility", facility_ids),
    ):
        index = pd.Index(ids)
        _check_unique(index, name)
        codes = matrix[position].to_numpy()
        if len(codes) and (codes.min() < 0 or codes.max() >= len(index)):
            raise InputError(f"matrix column {position!r} points outside 0..{len(index) - 1}")
        columns[name] = pd.Categorical.from_codes(codes, categories=index)
    columns["travel_time_s"] = matrix["travel_time_s"].to_numpy(dtype=np.float64)
    return pd.DataFrame(columns)


def facility_ratios(
    travel_times: pd.DataFrame,
    supply: pd.Series,
    demand: pd.Series,
    *,
    cutoff_s: float,
    weight: str | Sequence[tuple[float, float]] | Mapping[float, float] | WeightFn = "step",
) -> pd.DataFrame:
    """First 2SFCA step: supply per weighted resident in each facility's catchment.

    Same parameters as :func:`two_step_fca`. Returns one row per facility (indexed like
    ``supply``): ``supply``, ``demand_reached`` (``Σ_i w(t_ij) P_i``, residents) and
    ``ratio`` (``supply / demand_reached``; NaN when ``demand_reached`` is 0, i.e. nobody
    lives within the cutoff).
    """
    pairs = _pairs(travel_times, supply, demand, cutoff_s=cutoff_s, weight=weight)
    reached = _demand_reached(pairs)
    ratio = np.divide(pairs.supply, reached, out=np.full(len(reached), np.nan), where=reached > 0)
    return pd.DataFrame(
        {"supply": pairs.supply, "demand_reached": reached, "ratio": ratio},
        index=supply.index.copy(),
    )


def two_step_fca(
    travel_times: pd.DataFrame,
    supply: pd.Series,
    demand: pd.Series,
    *,
    cutoff_s: float,
    weight: str | Sequence[tuple[float, float]] | Mapping[float, float] | WeightFn = "step",
) -> pd.Series:
    """Two-step floating catchment access: supply per resident within ``cutoff_s``.

    Step 1, per facility j: ``R_j = S_j / Σ_i w(t_ij) P_i``. Step 2, per demand point i:
    ``A_i = Σ_j w(t_ij) R_j``; both sums over pairs with ``t_ij <= cutoff_s``. Vectorised
    (two ``numpy.bincount`` passes over the pairs).

    Parameters
    ----------
    travel_times : DataFrame
        Long table ``demand_id``, ``facility_id``, ``travel_time_s`` (seconds); each pair at
        most once; pairs beyond ``cutoff_s`` are ignored. See :func:`travel_times_by_id`.
    supply : Series
        Capacity per facility (beds, doctors …), indexed by ``facility_id``; finite, ≥ 0.
    demand : Series
        Residents per demand point, indexed by ``demand_id``; finite, ≥ 0.
    cutoff_s : float
        Catchment size in seconds (inclusive).
    weight : "step", "gaussian", list of (upper_bound_s, weight) or callable
        Distance decay, see :func:`weight_function`: ``"step"`` is classic 2SFCA,
        ``"gaussian"`` and steps such as ``[(600, 1.0), (1200, 0.68), (1800, 0.22)]`` are
        E2SFCA.

    Returns
    -------
    Series
        ``access`` per demand point, indexed like ``demand``: supply units per resident (not
        normalised; × 1,000 for "per 1,000 residents"). **0** where a point reaches no
        facility. A facility whose catchment holds no weighted population has an undefined
        ratio (see :func:`facility_ratios`) and adds nothing to anyone's access; this can only
        matter to zero-population points or pairs of weight 0.
    """
    pairs = _pairs(travel_times, supply, demand, cutoff_s=cutoff_s, weight=weight)
    reached = _demand_reached(pairs)
    ratio = np.divide(pairs.supply, reached, out=np.zeros(len(reached)), where=reached > 0)
    access = np.bincount(pairs.d, weights=pairs.w * ratio[pairs.f], minlength=len(demand))
    reachers = np.bincount(pairs.f, minlength=len(supply))
    lonely = int(((reached == 0) & (reachers > 0) & (pairs.supply > 0)).sum())
    logger.info(
        "2SFCA: %d pairs within %.0f s, %d of %d facilities reached by nobody, %d with no "
        "weighted population in reach, %d of %d demand points with zero access",
        len(pairs.d),
        cutoff_s,
        int((reachers == 0).sum()),
        len(supply),
        lonely,
        int((access == 0).sum()),
        len(demand),
    )
    return pd.Series(access, index=demand.index.copy(), name="access")


class _Pairs(NamedTuple):
    """The pairs within the cutoff (positions, weights) with the supply and population arrays."""

    d: np.ndarray
    f: np.ndarray
    w: np.ndarray
    supply: np.ndarray
    population: np.ndarray


def _demand_reached(pairs: _Pairs) -> np.ndarray:
    return np.bincount(
        pairs.f, weights=pairs.w * pairs.population[pairs.d], minlength=len(pairs.supply)
    )


def _pairs(travel_times, supply, demand, *, cutoff_s, weight) -> _Pairs:
    cutoff_s = _positive_number(cutoff_s, "cutoff_s")
    weight_fn = weight_function(weight, cutoff_s=cutoff_s)
    supply_v = _values(supply, "supply")
    population = _values(demand, "demand")
    if not isinstance(travel_times, pd.DataFrame):
        raise InputError("travel_times must be a DataFrame (demand_id, facility_id, travel_time_s)")
    missing = [c for c in TRAVEL_TIME_COLUMNS if c not in travel_times.columns]
    if missing:
        raise InputError(
            f"travel_times lacks columns {missing}; it needs {list(TRAVEL_TIME_COLUMNS)} "
            "(engine.travel_time_matrix gives positions: see capacity.travel_times_by_id)"
        )
    time_s = travel_times["travel_time_s"].to_numpy(dtype=np.float64)
    bad = ~(time_s >= 0)  # NaN or negative
    if bad.any():
        raise InputError(
            f"travel_times has {int(bad.sum())} rows with a negative or missing travel_time_s"
        )
    d = _positions(travel_times["demand_id"], demand.index, "demand_id", "demand")
    f = _positions(travel_times["facility_id"], supply.index, "facility_id", "supply")
    _check_pairs_unique(d, f, len(supply))
    keep = time_s <= cutoff_s
    d, f, time_s = d[keep], f[keep], time_s[keep]
    return _Pairs(d, f, weight_fn(time_s), supply_v, population)


def _values(series: pd.Series, name: str) -> np.ndarray:
    if not isinstance(series, pd.Series):
        raise InputError(f"{name} must be a pandas Series indexed by id, got {type(series)}")
    _check_unique(series.index, f"{name} index")
    try:
        values = series.to_numpy(dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise InputError(f"{name} must be numeric: {exc}") from exc
    bad = ~(np.isfinite(values) & (values >= 0))
    if bad.any():
        named = ", ".join(map(str, series.index[bad][:_MAX_NAMED]))
        raise InputError(
            f"{name} has {int(bad.sum())} missing, negative or infinite values (ids {named}); "
            "drop those rows or fill them deliberately, they are never taken as 0"
        )
    return values


def _positions(ids: pd.Series, index: pd.Index, column: str, where: str) -> np.ndarray:
    """Positions of ``ids`` in ``index`` (categoricals: map the categories, then the codes)."""
    if isinstance(ids.dtype, pd.CategoricalDtype):
        categories = ids.cat.categories
        category_pos = (
            np.arange(len(index)) if categories.equals(index) else index.get_indexer(categories)
        )
        codes = ids.cat.codes.to_numpy()
        pos = np.where(codes >= 0, category_pos[codes], -1)
    else:
        pos = index.get_indexer(ids)
    bad = pos < 0
    if bad.any():
        named = ", ".join(map(str, pd.unique(ids[bad])[:_MAX_NAMED]))
        raise InputError(
            f"travel_times has {int(bad.sum())} rows whose {column} is not in the {where} "
            f"index ({named}); give every id a value or filter the table first"
        )
    return pos.astype(np.int64, copy=False)


def _check_pairs_unique(d: np.ndarray, f: np.ndarray, n_fac: int) -> None:
    key = d * max(n_fac, 1) + f
    if len(key) < 2 or (np.diff(key) > 0).all():  # the engine's order: already sorted
        return
    key = np.sort(key)
    dup = key[1:] == key[:-1]
    if dup.any():
        raise InputError(
            f"travel_times lists {int(dup.sum())} (demand_id, facility_id) pairs more than "
            "once; keep one travel time per pair (e.g. the minimum)"
        )


def _check_unique(index: pd.Index, name: str) -> None:
    if not index.is_unique:
        dups = index[index.duplicated()].unique()[:_MAX_NAMED]
        raise InputError(f"{name} has duplicate ids: {', '.join(map(str, dups))}")


def _positive_number(value: Any, name: str) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        number = math.nan
    if not (math.isfinite(number) and number > 0):
        raise ConfigError(f"{name} must be a positive number, got {value!r}")
    return number


# ----------------------------------------------------------------------------- per unit


def access_by_unit(access: pd.Series, demand: pd.Series, unit_of: pd.Series) -> pd.DataFrame:
    """Access summarised per administrative unit, weighted by population.

    Parameters
    ----------
    access : Series
        Access per demand point (:func:`two_step_fca`), indexed by ``demand_id``; no NaN.
    demand : Series
        Residents per demand point, indexed by ``demand_id``.
    unit_of : Series
        Unit (name or code) of each demand point, indexed by ``demand_id``.

    Returns
    -------
    DataFrame
        Indexed by unit (sorted; missing units grouped as NaN): ``population``, ``n_points``,
        ``access_mean`` (population-weighted mean), ``access_min`` (lowest access of a point
        with residents), ``share_zero_access`` (share of the population with access 0).
        Statistics are NaN in a unit without residents.
    """
    population = _values(demand, "demand")
    values = _aligned(access, demand.index, "access").astype(np.float64)
    units = _aligned(unit_of, demand.index, "unit_of")
    if not np.isfinite(values).all():
        raise InputError(
            "access has missing or infinite values; two_step_fca gives 0 for points that "
            "reach nothing (fill NaN from other tools deliberately)"
        )
    unit_name = unit_of.name if unit_of.name is not None else "unit"
    frame = pd.DataFrame(
        {
            "unit": units,
            "population": population,
            "n_points": 1,
            "weighted": values * population,
            "zero": np.where(values == 0, population, 0.0),
            "lived_in": np.where(population > 0, values, np.nan),
        }
    )
    grouped = frame.groupby("unit", sort=True, dropna=False)
    sums = grouped[["population", "n_points", "weighted", "zero"]].sum()
    pop = sums["population"].where(sums["population"] > 0)
    table = pd.DataFrame(
        {
            "population": sums["population"],
            "n_points": sums["n_points"].astype(np.int64),
            "access_mean": sums["weighted"] / pop,
            "access_min": grouped["lived_in"].min(),
            "share_zero_access": sums["zero"] / pop,
        }
    )
    table.index.name = unit_name
    return table


def _aligned(series: pd.Series, index: pd.Index, name: str) -> np.ndarray:
    """The values of ``series`` in the order of ``index`` (every id of ``index`` required).

    Positions come from ``get_indexer`` (a hash lookup), not ``isin``, which pandas runs
    element by element in Python for Arrow-backed strings (seconds per million ids).
    """
    if not isinstance(series, pd.Series):
        raise InputError(f"{name} must be a pandas Series indexed by demand_id")
    if series.index.equals(index):
        return series.to_numpy()
    _check_unique(series.index, f"{name} index")
    pos = series.index.get_indexer(index)
    absent = pos < 0
    if absent.any():
        named = ", ".join(map(str, index[absent][:_MAX_NAMED]))
        raise InputError(f"{name} lacks {int(absent.sum())} demand ids ({named})")
    return series.to_numpy()[pos]


def per_thousand(total: Any, population: Any, *, per: float = 1000) -> Any:
    """``total`` per ``per`` residents: ``total / population * per``.

    Scalars give a float, arrays an array, Series a Series (pandas aligns indexes). NaN where
    the population is 0 or missing; a negative population raises ``InputError``.
    """
    per = _positive_number(per, "per")
    if isinstance(population, pd.Series):
        pop = pd.to_numeric(population)
        if (pop < 0).any():
            raise InputError("population must not be negative")
        return total / pop.where(pop > 0) * per
    p = np.asarray(population, dtype=np.float64)
    if (p < 0).any():
        raise InputError("population must not be negative")
    p = np.where(p > 0, p, np.nan)
    p = p[()] if p.ndim == 0 else p
    if isinstance(total, pd.Series):
        return total / p * per
    result = np.asarray(total, dtype=np.float64) / p * per
    return float(result) if np.ndim(result) == 0 else result


def capacity_ratios(
    facilities: gpd.GeoDataFrame,
    population_by_unit: gpd.GeoDataFrame,
    *,
    columns: Sequence[str] = DEFAULT_CAPACITY_COLUMNS,
    per: float = 1000,
    population_column: str = "population",
) -> pd.DataFrame:
    """Capacity per ``per`` residents of each unit, with 医护比 and 床护比.

    Facilities are assigned to the first unit (in table order) whose polygon contains or
    touches them; facilities outside every unit are left out with a ``DataQualityWarning``.

    Parameters
    ----------
    facilities : GeoDataFrame
        Points with capacity columns (float, NaN = unknown), e.g. the Facilities table.
    population_by_unit : GeoDataFrame
        Units: ``unit_name``, ``unit_code``, the population column (residents) and polygons.
    columns : sequence of str
        Capacity columns to report; those absent from ``facilities`` are skipped.
    per : float
        Residents per reported unit of capacity: 1000 (每千人口), 10000 (每万人口 for GPs).
    population_column : str
        Column of ``population_by_unit`` with residents.

    Returns
    -------
    DataFrame
        One row per unit, indexed like ``population_by_unit``: ``unit_code``, ``unit_name``,
        ``population``, ``n_facilities``; per capacity column ``<col>`` (sum of the known
        values), ``<col>_missing`` (facilities whose value is NaN: the sum is then a lower
        bound; never taken as 0) and ``<col>_per_<per>`` (NaN without residents). With doctors
        and nurses ``nurses_per_doctor`` (医护比 1:x, "1:1.2" = 1.2 nurses per doctor); with
        beds and nurses ``nurses_per_bed`` (床护比 1:x). Both ratios use only facilities that
        report both numbers, and are NaN when the denominator is 0.
    """
    per = _positive_number(per, "per")
    for frame, name in ((facilities, "facilities"), (population_by_unit, "population_by_unit")):
        if not isinstance(frame, gpd.GeoDataFrame):
            raise InputError(f"{name} must be a GeoDataFrame, got {type(frame).__name__}")
    for col in ("unit_name", "unit_code", population_column):
        if col not in population_by_unit.columns:
            raise InputError(
                f"population_by_unit lacks column {col!r}; it needs unit_name, unit_code, "
                f"{population_column} and polygons"
            )
    present = [c for c in dict.fromkeys(columns) if c in facilities.columns]
    if not present:
        raise InputError(
            f"facilities have none of the capacity columns {list(columns)}; "
            f"columns: {list(facilities.columns)}"
        )
    unit = _unit_of_points(facilities, population_by_unit)
    inside = unit >= 0
    outside = int((~inside).sum())
    if outside:
        ids = facilities["facility_id"] if "facility_id" in facilities else facilities.index
        named = ", ".join(map(str, np.asarray(ids)[~inside][:_MAX_NAMED]))
        warnings.warn(
            f"{outside} of {len(facilities)} facilities lie outside every unit (or have no "
            f"geometry) and are not counted in any unit's ratios ({named})",
            DataQualityWarning,
            stacklevel=2,
        )
    n_units = len(population_by_unit)
    population = pd.to_numeric(population_by_unit[population_column], errors="coerce")
    population = population.to_numpy(dtype=np.float64)
    if (population < 0).any():
        raise InputError(f"population_by_unit[{population_column!r}] has negative values")
    table = pd.DataFrame(
        {
            "unit_code": population_by_unit["unit_code"].to_numpy(),
            "unit_name": population_by_unit["unit_name"].to_numpy(),
            "population": population,
            "n_facilities": np.bincount(unit[inside], minlength=n_units),
        },
        index=population_by_unit.index.copy(),
    )
    values = {c: _capacity_values(facilities, c) for c in present}
    label = f"per_{int(per)}" if per.is_integer() else f"per_{per:g}"
    for col, v in values.items():
        known = inside & ~np.isnan(v)
        table[col] = np.bincount(unit[known], weights=v[known], minlength=n_units)
        table[f"{col}_missing"] = np.bincount(unit[inside & np.isnan(v)], minlength=n_units)
        table[f"{col}_{label}"] = per_thousand(table[col].to_numpy(), population, per=per)
    for ratio, top, bottom in (
        ("nurses_per_doctor", "nurses", "doctors"),
        ("nurses_per_bed", "nurses", "beds"),
    ):
        if top in values and bottom in values:
            both = inside & ~np.isnan(values[top]) & ~np.isnan(values[bottom])
            num = np.bincount(unit[both], weights=values[top][both], minlength=n_units)
            den = np.bincount(unit[both], weights=values[bottom][both], minlength=n_units)
            table[ratio] = np.divide(num, den, out=np.full(n_units, np.nan), where=den > 0)
    return table


def _capacity_values(facilities: pd.DataFrame, column: str) -> np.ndarray:
    try:
        values = pd.to_numeric(facilities[column], errors="raise").to_numpy(dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise InputError(f"facility column {column!r} is not numeric: {exc}") from exc
    if (values < 0).any() or np.isinf(values).any():
        raise InputError(f"facility column {column!r} has negative or infinite values")
    return values


def _unit_of_points(points: gpd.GeoDataFrame, units: gpd.GeoDataFrame) -> np.ndarray:
    """Row position of the first unit containing or touching each point; -1 outside all."""
    geometry = points.geometry
    if (points.crs is None) != (units.crs is None):
        raise InputError("facilities and units must both have a CRS (or both none)")
    if points.crs is not None and not points.crs.equals(units.crs):
        geometry = geometry.to_crs(units.crs)
    unit = np.full(len(points), -1, dtype=np.int64)
    point_idx, unit_idx = units.sindex.query(geometry.values, predicate="intersects")
    order = np.lexsort((unit_idx, point_idx))
    point_idx, unit_idx = point_idx[order], unit_idx[order]
    first = np.ones(len(point_idx), dtype=bool)
    first[1:] = point_idx[1:] != point_idx[:-1]
    unit[point_idx[first]] = unit_idx[first]
    return unit
