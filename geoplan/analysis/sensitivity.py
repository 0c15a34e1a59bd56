"""Sensitivity: every rule rerun with other speeds, each share reported as a band (min–max).

Chinese plans assume walking at 60–80 m/min and geoplan's vehicle speeds are judgement
(:mod:`geoplan.readers.network`); ``[sensitivity]`` says how much the shares hang on them.
Every combination of ``walk_speed_m_per_min`` and ``speed_factor`` values is one run. A
uniform change of speed scales every edge time of a mode by one ratio, so a run reuses the
network, its snaps and each mode's street graph (:meth:`ModeSetup.scaled`): only the engine
passes repeat, one per rule and mode, and a pass whose parameters an earlier run had (a walk
rule under another speed factor) is not repeated. The access legs walk at the run's walking
speed, in every mode, as in the main run.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Sequence

import numpy as np

from .coverage import Coverage, ModeSetup, rule_pass

__all__ = ["sensitivity_bands"]

logger = logging.getLogger(__name__)


def sensitivity_bands(
    coverage: Coverage,
    *,
    walk_speeds: Sequence[float] | None,
    speed_factors: Sequence[float] | None,
    walk_speed_m_per_min: float,
) -> dict:
    """Each rule's share covered under every combination of walking speed and speed factor.

    Parameters
    ----------
    coverage : Coverage
        The main run (its network, mode setups, each rule's facilities, points and unit types
        are reused).
    walk_speeds : sequence of float, optional
        Walking speeds (m/min) to try; None: the main run's.
    speed_factors : sequence of float, optional
        Factors of every vehicle speed table; None: 1.
    walk_speed_m_per_min : float
        The main run's walking speed (the setups' times were computed with it).

    Returns
    -------
    dict
        summary.json's ``sensitivity``: the values tried, ``runs`` (one per combination:
        ``walk_speed_m_per_min``, ``speed_factor``, per rule ``share_covered`` and
        ``population_covered``) and per rule ``share_min``/``share_max`` (the band) with
        ``population_covered_min``/``_max``.
    """
    walks = [float(w) for w in (walk_speeds or [walk_speed_m_per_min])]
    factors = [float(f) for f in (speed_factors or [1.0])]
    population = coverage.table["population"].to_numpy(dtype=float)
    total = float(population.sum())
    types = None if coverage.unit_types is None else coverage.unit_types.points
    memo: dict[tuple, np.ndarray] = {}
    scaled: dict[tuple, ModeSetup] = {}

    def setup_at(travel: tuple, walk: float, factor: float) -> ModeSetup:
        """A travel's setup at this walking speed and speed factor (scaled once)."""
        setup = coverage.setups[travel]
        ratio = walk_speed_m_per_min / walk if setup.mode == "walk" else 1.0 / factor
        if (travel, ratio) not in scaled:
            scaled[travel, ratio] = setup.scaled(ratio)
        return scaled[travel, ratio]

    passes = 0
    runs = []
    for walk, factor in itertools.product(walks, factors):
        shares = {}
        for rule in coverage.rules:
            # what the pass depends on: the rule, each mode's scale, the access legs' speed
            key = (
                rule.id,
                tuple((m, walk if m == "walk" else factor) for m in rule.modes),
                walk,
            )
            if key not in memo:
                found = rule_pass(
                    coverage.network,
                    rule,
                    {t: setup_at(t, walk, factor) for t in rule.travels},
                    coverage.searches[rule.id].chosen,
                    walk,
                    coverage.unit_types,
                )
                memo[key] = found.travel_time_s <= rule.thresholds_s(types, len(population))
                passes += len(rule.modes)
            covered = float(population[memo[key]].sum())
            shares[rule.id] = {
                "population_covered": covered,
                "share_covered": covered / total if total > 0 else float("nan"),
            }
        runs.append({"walk_speed_m_per_min": walk, "speed_factor": factor, "rules": shares})
    bands = []
    for rule in coverage.rules:
        values = [run["rules"][rule.id] for run in runs]
        share = [v["share_covered"] for v in values]
        people = [v["population_covered"] for v in values]
        bands.append(
            {
                "id": rule.id,
                "share_min": min(share),
                "share_max": max(share),
                "population_covered_min": min(people),
                "population_covered_max": max(people),
            }
        )
        logger.info(
            "sensitivity %s: %.1f%%–%.1f%% over %d runs",
            rule.id,
            100 * min(share),
            100 * max(share),
            len(runs),
        )
    return {
        "walk_speed_m_per_min": walks,
        "speed_factor": factors,
        "engine_passes": passes,
        "runs": runs,
        "rules": bands,
    }
