"""Family corrections for sequential cases, and which corrections each design allows.

A family's alpha must be split before any case stops. Each case stops at its own first
crossing of its level, so its anytime p-value sits just under that level; correcting
afterwards (Bonferroni: p * m) then rejects almost nothing. So a family of m sequential
cases is run with ``SequentialDesign(..., alpha=<family alpha>, family_size=m)``: each case
decides at alpha / m, and `correct_sequential` refuses results that were not planned for
the family they are corrected in.

Under optional stopping a correction must stay valid at data-dependent stopping times:

- "bonferroni": an anytime-valid p-value is valid at *any* random time
  (P(p_tau <= a) <= P(exists n: p_n <= a) <= a, Ville's inequality on the whole path), so
  p * m stays a valid family-wise bound whatever the dependence between cases.
- "holm": Holm's step-down needs only valid p-values (any dependence), so it holds on
  anytime-valid p-values too.
- "e_bh": e-BH (Wang & Ramdas 2022, JRSSB): reject the k largest e-values where k is the
  largest with e_(k) >= m / (alpha k); controls the false discovery rate under any
  dependence, *if* each case's value at its stopping time is an e-value, E[E_tau] <= 1.
  That holds for betting (a test martingale in the data's own filtration, and the
  infimum over a composite null is below the true mean's). The t mixture is a test
  martingale only in the filtration of the scale invariants of z = x - m for the true
  mean m (Wang & Ramdas, arXiv 2310.03722; Choe & Ramdas, arXiv 2402.09698): the stopping
  time is adapted to it only when the tested point m is the truth, i.e. a point null.
  So e-BH is allowed for betting and for two-sided t-mixture cases (null mean exactly 0),
  and refused for one-sided and equivalence t-mixture cases (composite nulls: the truth
  m' differs from the tested edge, and the stop depends on x - edge). The anytime
  p-values of those cases stay valid (Ville bounds the path); use bonferroni or holm.
- "bh": Benjamini-Hochberg needs independent or PRDS p-values; anytime-valid p-values at
  data-dependent stopping times are neither in general. Refused for sequential designs.

Fixed-n results (TestResult) carry p-values but no e-values, so "e_bh" is refused there.
`latentflow.correction_rules.CORRECTION_VALIDITY` holds this as data, so the spec layer can
refuse an invalid pairing with `check_correction` before anything runs.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence

import numpy as np

# the rules of which correction fits which design (numpy-free: the spec layer checks them)
from latentflow.correction_rules import CORRECTION_VALIDITY, SEQUENTIAL_CORRECTIONS, check_correction  # noqa: F401
from latentflow.stats.corrections import adjust_pvalues
from latentflow.stats.result import CORRECTION_LABELS, fmt
from latentflow.stats.sequential import SequentialResult

_LABELS = {**CORRECTION_LABELS, "e_bh": "e-BH"}


def correct_sequential(results: Sequence[SequentialResult], method: str) -> list[SequentialResult]:
    """Correct a family of finished sequential cases, each run with the design's
    ``family_size`` equal to the family's size (so it decided at alpha / m); returns new
    results with ``pvalue_corrected``, ``correction``, ``family_size`` set and
    ``passed``/``reason`` re-derived at the family's alpha. A case that did not hold never
    starts to hold.

    ``pvalue_corrected``: for bonferroni and holm the adjusted p-value; for e_bh the
    e-BH-adjusted level, the smallest family alpha at which e-BH would reject the case,
    min over k >= its rank of m / (k e_(k)) (capped at 1; 1 for a NaN e-value)."""
    name = check_correction(method, sequential=True)
    m = len(results)
    for position, result in enumerate(results):
        _check_member(position, result, m)
        if name == "e_bh":
            check_correction(name, sequential=True, method=result.method,
                             alternative=result.alternative)
    family_alphas = {_family_alpha(result, m) for result in results}
    if len(family_alphas) > 1:
        raise ValueError(f"a family must share one alpha; got {sorted(family_alphas)}")
    alpha = family_alphas.pop() if family_alphas else 0.05
    if name == "e_bh":
        adjusted = _e_bh_levels(np.array([r.e_value for r in results], dtype=np.float64))
    else:
        adjusted = adjust_pvalues([r.pvalue for r in results], name).tolist()
    corrected = []
    for result, level in zip(results, adjusted, strict=True):
        passed = bool(result.status == "holds" and level <= alpha)
        updated = dataclasses.replace(result, pvalue_corrected=float(level), correction=name,
                                      family_size=m, family_alpha=alpha, passed=passed)
        corrected.append(dataclasses.replace(updated, reason=_corrected_reason(updated)))
    return corrected


def _check_member(position: int, result: SequentialResult, m: int) -> None:
    if not isinstance(result, SequentialResult):
        raise ValueError(f"results[{position}] is a {type(result).__name__}, not a "
                         f"SequentialResult")
    if result.status == "continue":
        raise ValueError(f"results[{position}] is still running (status 'continue'); "
                         f"correct a family only once every case has stopped")
    planned = result.family_size if result.family_alpha is not None else 1
    if m > 1 and planned != m:
        raise ValueError(
            f"results[{position}] was run at alpha {fmt(result.alpha)} for a family of "
            f"{planned}, but is corrected in a family of {m}: a sequential case stops at its "
            f"first crossing of its own alpha, so its anytime p-value sits just under it, and "
            f"a correction after stopping (p x {m}) rejects almost nothing. Set the family "
            f"before running: SequentialDesign(..., alpha=<family alpha>, family_size={m}) "
            f"for every case, so each decides at alpha / {m}")


def _family_alpha(result: SequentialResult, m: int) -> float:
    if result.family_alpha is None:
        return float(result.alpha)
    if not math.isclose(result.alpha * m, result.family_alpha, rel_tol=1e-12):
        raise ValueError(f"a case decided at alpha {fmt(result.alpha)} does not belong to a "
                         f"family of {m} at alpha {fmt(result.family_alpha)}")
    return float(result.family_alpha)


def _e_bh_levels(e_values: np.ndarray) -> list[float]:
    """e-BH rejects the cases of the k largest e-values, k the largest with
    e_(k) >= m / (alpha k); so case i (rank r_i) is rejected at level alpha iff some
    k >= r_i has m / (k e_(k)) <= alpha. Written by hand: scipy has BH, not e-BH."""
    m = e_values.shape[0]
    clean = np.where(np.isnan(e_values), 0.0, e_values)  # untestable cases never reject
    order = np.argsort(-clean, kind="stable")
    ranks = np.arange(1, m + 1)
    with np.errstate(divide="ignore"):
        level = np.minimum(1.0, m / (ranks * clean[order]))
    # min over k >= rank: a reversed running minimum.
    smallest_from = np.minimum.accumulate(level[::-1])[::-1]
    levels = np.empty(m)
    levels[order] = smallest_from
    return levels.tolist()


def _corrected_reason(result: SequentialResult) -> str:
    if result.correction is None:
        raise ValueError("only a corrected result has a corrected reason")
    label = _LABELS[result.correction]
    if result.correction == "e_bh":
        rule = (f"e-BH over a family of {result.family_size} at alpha "
                f"{fmt(result.family_alpha)} (e = {fmt(result.e_value)} at the stopping time; "
                f"smallest e-BH level that rejects it {fmt(result.pvalue_corrected)})")
    else:
        rule = (f"{label}-corrected anytime p = {fmt(result.pvalue_corrected)} (raw "
                f"{fmt(result.pvalue)}, family of {result.family_size} at alpha "
                f"{fmt(result.family_alpha)})")
    if result.passed:
        return f"{result.reason}; still holds after {rule}"
    if result.status == "holds":
        return f"held at alpha {fmt(result.alpha)} alone, but not after {rule}: {result.reason}"
    return f"{result.reason}; {rule}"
