"""Multiple-comparison corrections over a family of hypotheses.

- Bonferroni: p_i * m, capped at 1 (controls the family-wise error rate).
- Holm (1979): step-down Bonferroni. Sort ascending; the i-th smallest (1-based) gets
  (m - i + 1) p_(i), made non-decreasing by a running maximum; capped at 1. Uniformly more
  powerful than Bonferroni with the same family-wise guarantee.
- Benjamini-Hochberg (1995): step-up. The i-th smallest gets m p_(i) / i, made
  non-decreasing by a running minimum from the largest down; capped at 1 (controls the
  false discovery rate for independent or positively dependent tests).

NaN p-values (hypotheses whose data could not be tested) still count in the family size m
(they were attempted, and leaving them out would make the others look better); they are
ranked as p = 1, which never lowers another hypothesis' adjusted value, and stay NaN.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import numpy as np

from latentflow.stats.decision import decide
from latentflow.stats.result import TestResult
from latentflow.vocabulary import FIXED_N_CORRECTIONS

_ALIASES = {"benjamini-hochberg": "bh", "fdr_bh": "bh", "holm-bonferroni": "holm"}


def correction_name(method: str) -> str:
    name = _ALIASES.get(str(method).lower(), str(method).lower())
    if name not in FIXED_N_CORRECTIONS:
        allowed = ", ".join(FIXED_N_CORRECTIONS + tuple(_ALIASES))
        raise ValueError(f"correction {method!r} is not known; allowed: {allowed}")
    return name


def adjust_pvalues(pvalues: Sequence[float] | np.ndarray, method: str) -> np.ndarray:
    """Adjusted p-values in the input order."""
    name = correction_name(method)
    raw = np.asarray(pvalues, dtype=np.float64)
    if raw.ndim != 1:
        raise ValueError(f"p-values must be a flat sequence; got shape {raw.shape}")
    missing = np.isnan(raw)
    outside = ~missing & ((raw < 0) | (raw > 1))
    if outside.any():
        raise ValueError(f"p-values must lie in [0, 1]; got {raw[outside].tolist()} at index "
                         f"{np.flatnonzero(outside).tolist()}")
    m = raw.shape[0]
    if m == 0:
        return raw.copy()
    ranked = np.where(missing, 1.0, raw)
    if name == "bonferroni":
        adjusted = np.minimum(1.0, m * ranked)
    else:
        order = np.argsort(ranked, kind="stable")
        sorted_p = ranked[order]
        rank = np.arange(1, m + 1)
        if name == "holm":
            stepped = np.maximum.accumulate((m - rank + 1) * sorted_p)
        else:
            stepped = np.minimum.accumulate((m * sorted_p / rank)[::-1])[::-1]
        adjusted = np.empty(m)
        adjusted[order] = np.minimum(1.0, stepped)
    # m p / rank can round one ulp below p (3 * p / 3); adjusting never lowers a p-value.
    adjusted = np.maximum(adjusted, ranked)
    adjusted[missing] = np.nan
    return adjusted


def correct(results: Sequence[TestResult], method: str = "holm") -> list[TestResult]:
    """Correct a family of results; returns new results (the inputs are unchanged) with
    ``pvalue_corrected``, ``correction`` and ``family_size`` set and ``passed``/``reason``
    re-derived from the corrected p-value (the effect-size requirement still applies).
    Correcting an already corrected result starts again from its raw p-value."""
    name = correction_name(method)
    for position, result in enumerate(results):
        if not isinstance(result, TestResult):
            raise ValueError(f"results[{position}] is a {type(result).__name__}, not a "
                             f"TestResult")
    adjusted = adjust_pvalues([result.pvalue for result in results], name)
    corrected = []
    for result, pvalue in zip(results, adjusted, strict=True):
        updated = dataclasses.replace(result, pvalue_corrected=float(pvalue), correction=name,
                                      family_size=len(results))
        passed, reason = decide(updated)
        corrected.append(dataclasses.replace(updated, passed=passed, reason=reason))
    return corrected
