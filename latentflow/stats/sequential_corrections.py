"""Family corrections for sequential cases, and which corrections each design allows.

Under optional stopping a correction must stay valid at data-dependent stopping times:

- "bonferroni": an anytime-valid p-value is valid at *any* random time
  (P(p_tau <= a) <= P(exists n: p_n <= a) <= a), so p * m stays a valid family-wise
  bound whatever the dependence between cases. Equivalent to Bonferroni on e-values
  (reject when sup E >= m / alpha).
- "holm": Holm's step-down needs only valid p-values (any dependence), so it holds on
  anytime-valid p-values too.
- "e_bh": e-BH (Wang & Ramdas 2022, JRSSB): reject the k largest e-values where k is the
  largest with e_(k) >= m / (alpha k); controls the false discovery rate under any
  dependence. Each case contributes its e-value *at its stopping time* (a stopped test
  supermartingale is an e-value), never the running maximum (which is not).
- "bh": Benjamini-Hochberg needs independent or PRDS p-values; anytime-valid p-values at
  data-dependent stopping times are neither in general. Refused for sequential designs:
  use "e_bh".

Fixed-n results (TestResult) carry p-values but no e-values, so "e_bh" is refused there.
`CORRECTION_VALIDITY` holds this as data, so the spec layer can refuse an invalid pairing
with `check_correction` before anything runs.
"""

from __future__ import annotations

import dataclasses
from typing import Sequence

import numpy as np

from latentflow.stats.corrections import adjust_pvalues
from latentflow.stats.result import CORRECTION_LABELS, fmt
from latentflow.stats.sequential import SequentialResult

CORRECTION_VALIDITY: dict[str, dict[str, bool | str]] = {
    "bonferroni": {"fixed_n": True, "sequential": True,
                   "why": "union bound; anytime-valid p-values are valid at any stopping time"},
    "holm": {"fixed_n": True, "sequential": True,
             "why": "needs only valid p-values under any dependence; anytime-valid p-values are"},
    "bh": {"fixed_n": True, "sequential": False,
           "why": "needs independent or PRDS p-values, which anytime-valid p-values at "
                  "data-dependent stopping times are not in general; use e_bh"},
    "e_bh": {"fixed_n": False, "sequential": True,
             "why": "needs e-values; a fixed-n test gives only a p-value (use bh or holm)"},
}
SEQUENTIAL_CORRECTIONS = tuple(name for name, rule in CORRECTION_VALIDITY.items()
                               if rule["sequential"])
_LABELS = {**CORRECTION_LABELS, "e_bh": "e-BH"}


def check_correction(correction: str, *, sequential: bool) -> str:
    """The correction's name if it is valid for this kind of design; else ValueError saying
    why and what is allowed."""
    name = str(correction).lower()
    if name not in CORRECTION_VALIDITY:
        raise ValueError(f"correction {correction!r} is not known; allowed: "
                         f"{', '.join(CORRECTION_VALIDITY)}")
    kind = "sequential" if sequential else "fixed_n"
    rule = CORRECTION_VALIDITY[name]
    if not rule[kind]:
        allowed = [other for other, r in CORRECTION_VALIDITY.items() if r[kind]]
        design = "a sequential design" if sequential else "a fixed-n design"
        raise ValueError(f"correction {name!r} is not valid with {design}: {rule['why']}. "
                         f"Allowed with {design}: {', '.join(allowed)}")
    return name


def correct_sequential(results: Sequence[SequentialResult], method: str) -> list[SequentialResult]:
    """Correct a family of finished sequential cases; returns new results with
    ``pvalue_corrected``, ``correction``, ``family_size`` set and ``passed``/``reason``
    re-derived. A case that did not hold never starts to hold."""
    name = check_correction(method, sequential=True)
    for position, result in enumerate(results):
        if not isinstance(result, SequentialResult):
            raise ValueError(f"results[{position}] is a {type(result).__name__}, not a "
                             f"SequentialResult")
        if result.status == "continue":
            raise ValueError(f"results[{position}] is still running (status 'continue'); "
                             f"correct a family only once every case has stopped")
    alphas = {result.alpha for result in results}
    if len(alphas) > 1:
        raise ValueError(f"a family must share one alpha; got {sorted(alphas)}")
    m = len(results)
    if name == "e_bh":
        holds = _e_bh(np.array([r.e_value for r in results], dtype=np.float64),
                      alphas.pop() if alphas else 0.05)
        adjusted = [r.pvalue for r in results]
    else:
        adjusted = adjust_pvalues([r.pvalue for r in results], name).tolist()
        holds = [p <= r.alpha for p, r in zip(adjusted, results)]
    corrected = []
    for result, pvalue, ok in zip(results, adjusted, holds):
        passed = bool(result.status == "holds" and ok)
        updated = dataclasses.replace(result, pvalue_corrected=float(pvalue), correction=name,
                                      family_size=m, passed=passed)
        corrected.append(dataclasses.replace(updated, reason=_corrected_reason(updated)))
    return corrected


def _e_bh(e_values: np.ndarray, alpha: float) -> list[bool]:
    m = e_values.shape[0]
    clean = np.where(np.isnan(e_values), 0.0, e_values)  # untestable cases never reject
    order = np.argsort(-clean, kind="stable")
    ranks = np.arange(1, m + 1)
    passing = np.flatnonzero(clean[order] >= m / (alpha * ranks))
    rejected = np.zeros(m, dtype=bool)
    if passing.size:
        rejected[order[: passing[-1] + 1]] = True
    return rejected.tolist()


def _corrected_reason(result: SequentialResult) -> str:
    label = _LABELS[result.correction]
    if result.correction == "e_bh":
        rule = (f"e-BH over a family of {result.family_size} (e = {fmt(result.e_value)} at the "
                f"stopping time)")
    else:
        rule = (f"{label}-corrected anytime p = {fmt(result.pvalue_corrected)} (raw "
                f"{fmt(result.pvalue)}, family of {result.family_size})")
    if result.passed:
        return f"{result.reason}; still holds after {rule}"
    if result.status == "holds":
        return f"held at alpha {fmt(result.alpha)} alone, but not after {rule}: {result.reason}"
    return f"{result.reason}; {rule}"
