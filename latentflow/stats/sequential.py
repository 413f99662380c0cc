"""Sequential, anytime-valid verdicts on paired differences: stop as soon as the evidence decides.

The examples arrive in a fixed order, chunk by chunk, up to ``max_n``. After each chunk
(a *look*) `sequential_test` says, from all the data so far:

- "holds": the anytime-valid test rejects the null, so the claim holds;
- "futility": no continuation of the data up to ``max_n`` could make it reject (a
  deterministic bound, see `latentflow.stats.eprocess`; stopping early for futility can
  only remove rejections, so it never costs validity);
- "continue": neither yet, and n < max_n: run the next chunk;
- "not_shown": max_n reached without rejecting (the case fails with that reason);
- "untestable": some difference is NaN or infinite (it never silently shrinks n).

Because the evidence is a nonnegative supermartingale under the null (for the t mixture:
in the filtration of the data's scale invariants), Ville's inequality bounds the chance
that it *ever* reaches 1/alpha by alpha, so looking after every chunk costs nothing;
repeated fixed-n t-tests on the same chunks do exceed alpha
(tests/stats/test_sequential_calibration.py measures both).

Claims (``alternative``):

- "less"/"decrease", "greater"/"increase": a one-sided confidence sequence (CS) at
  alpha; the claim holds when it excludes every mean on the null side of 0.
- "two-sided": both one-sided CSs at alpha / 2; holds when either excludes 0.
- "equivalence" within ``margin`` (low, high): both one-sided CSs at alpha (the
  sequential TOST); holds when the CS lies inside the margin.

Methods (``method``; assumptions in `latentflow.stats.eprocess` and docs/sequential.md):

- "t_mixture": unbounded measures, assumes i.i.d. normal differences (variance unknown),
  in particular symmetric ones: skewed nulls make it claim far more often than alpha
  (`METHOD_ASSUMPTIONS`), so a design must declare ``symmetric=True``.
- "betting": measures with known bounds (``bounds=(low, high)`` for the differences,
  e.g. (-1, 1) for a difference of two STOI values); assumes nothing beyond the bounds
  and a constant conditional mean.

The reported confidence sequence is the running intersection of the per-time CSs, every
n from 1 to the n used (so it does not depend on how the data were chunked); the
decisions are taken only at the looks.
"""

from __future__ import annotations

import itertools
import math
import numbers
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from typing import Any

import numpy as np

from latentflow.stats import eprocess
from latentflow.stats.data import normalize_alternative
from latentflow.stats.equivalence import equivalence_margin
from latentflow.stats.result import ComparedByJson, Interval, _json_safe, _nan_if_none, fmt, fmt_interval
from latentflow.vocabulary import SEQUENTIAL_METHODS

STATUSES = ("holds", "futility", "continue", "not_shown", "untestable")
METHOD_ASSUMPTIONS = {
    "t_mixture": "i.i.d. normal differences with unknown mean and variance (no bounds needed); "
                 "in particular symmetric about their mean: on skewed data it is not valid "
                 "(measured, max n 64, looks every 4, alpha 0.05, 1000 draws: a decrease "
                 "claimed on right-skewed nulls in 16.3% (centred exponential) and 26.4% "
                 "(centred lognormal) of draws, a difference (two-sided) in 10.8% and "
                 "23.2%; docs/sequential.md), so a design must declare symmetric=True",
    "betting": "differences inside the declared bounds with a constant conditional mean "
               "(i.i.d. suffices; no distributional shape assumed)",
}
_CLAIMS = {
    "less": "decrease (x - y < 0)",
    "greater": "increase (x - y > 0)",
    "two-sided": "difference (x - y != 0)",
}


@dataclass(frozen=True)
class SequentialDesign:
    """How a sequential case is run: at most ``max_n`` pairs, a look after every ``chunk``.

    alternative: "less"/"decrease", "greater"/"increase", "two-sided" or "equivalence".
    margin: equivalence only; delta > 0 for (-delta, +delta), or (low, high).
    bounds: betting only; (low, high) that every difference lies in.
    prior_scale: t_mixture only; the prior sd of the standardised effect (d_z) that the
        mixture spreads its bet over. Any value keeps validity; it tunes power.
    symmetric: t_mixture only, required True: the user's declaration that the differences
        are symmetric about their mean (e.g. the difference of two random seeds in random
        order). The t mixture is not valid on skewed data (`METHOD_ASSUMPTIONS`); a
        bounded measure should use "betting" instead, which needs no shape.
    family_size: the number of cases that share ``alpha`` as a family (Bonferroni split,
        fixed before any data): the case tests at ``alpha / family_size``
        (`case_alpha`). A correction after stopping cannot do this: each case stops just
        under its own alpha, so multiplying its p-value by m afterwards throws most of the
        power away; `correct_sequential` refuses such results.
    """

    max_n: int
    chunk: int
    method: str = "t_mixture"
    alternative: str = "two-sided"
    alpha: float = 0.05
    margin: Interval | None = None
    bounds: Interval | None = None
    prior_scale: float = eprocess.DEFAULT_PRIOR_SCALE
    symmetric: bool = False
    family_size: int = 1

    @property
    def betting_bounds(self) -> Interval:
        """The (low, high) a betting design declares (``__post_init__`` requires them)."""
        if self.bounds is None:
            raise ValueError(f"method {self.method!r} has no bounds; only betting declares them")
        return self.bounds

    def __post_init__(self) -> None:
        for name in ("max_n", "chunk", "family_size"):
            value = getattr(self, name)
            if not (isinstance(value, numbers.Integral) and not isinstance(value, bool)
                    and int(value) >= 1):
                raise ValueError(f"sequential {name} must be a positive integer; got {value!r}")
        if self.chunk > self.max_n:
            raise ValueError(f"sequential chunk {self.chunk} is larger than max_n {self.max_n}")
        if self.method not in SEQUENTIAL_METHODS:
            raise ValueError(f"sequential method {self.method!r} is not known; allowed: "
                             f"{', '.join(SEQUENTIAL_METHODS)}")
        if not (isinstance(self.alpha, numbers.Real) and 0.0 < self.alpha < 0.5):
            raise ValueError(f"sequential alpha must lie in (0, 0.5); got {self.alpha!r}")
        if self.alternative == "equivalence":
            object.__setattr__(self, "margin", equivalence_margin(self.margin))
        else:
            object.__setattr__(self, "alternative", normalize_alternative(self.alternative))
            if self.margin is not None:
                raise ValueError(f"margin is for alternative 'equivalence' only; got margin "
                                 f"{self.margin!r} with alternative {self.alternative!r}")
        if self.method == "betting":
            object.__setattr__(self, "bounds", _bounds(self.bounds))
            if self.margin is not None and not (self.bounds[0] < self.margin[0]
                                                and self.margin[1] < self.bounds[1]):
                raise ValueError(f"equivalence margin {self.margin} must lie inside the "
                                 f"bounds {self.bounds}")
        elif self.bounds is not None:
            raise ValueError(f"bounds are for method 'betting' only; method {self.method!r} "
                             f"needs none (got {self.bounds!r})")
        if not (isinstance(self.prior_scale, numbers.Real) and math.isfinite(self.prior_scale)
                and self.prior_scale > 0):
            raise ValueError(f"prior_scale must be a finite positive number; got "
                             f"{self.prior_scale!r}")
        if not isinstance(self.symmetric, bool):
            raise ValueError(f"symmetric must be true or false; got {self.symmetric!r}")
        if self.method == "t_mixture" and not self.symmetric:
            raise ValueError(
                f"method 't_mixture' (alternative {self.alternative!r}) assumes differences "
                f"symmetric about their mean, and is not valid on skewed ones: a decrease "
                f"was claimed on right-skewed nulls in 16-26% of draws at alpha 0.05 "
                f"(docs/sequential.md). Declare symmetric=True only if the differences are "
                f"symmetric (e.g. two random seeds in random order); for a bounded measure "
                f"(STOI, detection rates) use method 'betting' with bounds=(low, high), which "
                f"assumes no shape")
        if self.method != "t_mixture" and self.symmetric:
            raise ValueError(f"symmetric is for method 't_mixture' only; method "
                             f"{self.method!r} assumes no shape")

    @property
    def case_alpha(self) -> float:
        """The level this case decides at: its share alpha / family_size of the family's."""
        return self.alpha / self.family_size

    @property
    def side_alpha(self) -> float:
        """The level of each one-sided confidence sequence."""
        return self.case_alpha / 2.0 if self.alternative == "two-sided" else self.case_alpha

    @property
    def default_looks(self) -> tuple[int, ...]:
        """A look after every chunk, and one at max_n if the chunks do not end there."""
        looks = list(range(self.chunk, self.max_n + 1, self.chunk))
        if looks[-1] != self.max_n:
            looks.append(self.max_n)
        return tuple(looks)


def _bounds(bounds: Any) -> Interval:
    try:
        low, high = (float(end) for end in bounds)
    except (TypeError, ValueError):
        raise ValueError(f"method 'betting' needs bounds=(low, high) that every difference "
                         f"lies in (e.g. (-1, 1) for a difference of two [0, 1] measures); "
                         f"got {bounds!r}") from None
    if not (math.isfinite(low) and math.isfinite(high) and low < 0.0 < high):
        raise ValueError(f"betting bounds (low, high) need finite low < 0 < high; got {bounds!r}")
    return (low, high)


@dataclass(frozen=True, eq=False)
class SequentialResult(ComparedByJson):
    """One sequential case: where it stopped, why, and the evidence over n.

    status: one of `STATUSES`; passed is True exactly for "holds" (and, once a family
        correction ran, only if the corrected decision still holds).
    n_used: pairs used; stopped_at_look: 1-based index of the look that decided (0 when
        the data were untestable); looks: the sample sizes at which decisions were checked.
    alpha: the level the case decided at (the family's alpha / family_size when the
        design split it; then family_alpha is the family's and family_size its size).
    pvalue: the anytime-valid p-value at n_used: 1 / the running maximum of the evidence,
        valid at any stopping time by Ville's inequality (whatever the stopping rule).
    e_value: the evidence at n_used for the claim's null. An e-value (E[E_tau] <= 1) only
        where the stopping time is adapted to the filtration in which the process is a
        test martingale: always for betting; for the t mixture only for a point null
        (two-sided), see `latentflow.stats.sequential_corrections`.
    confidence: level of the band (1 - 2 * side alpha); cs_lower / cs_upper: the running
        intersection of the confidence sequence for n = 1..n_used (inf before any bound).
    """

    method: str
    alternative: str
    alpha: float
    max_n: int
    looks: tuple[int, ...]
    status: str
    passed: bool
    reason: str
    n_used: int
    stopped_at_look: int
    pvalue: float
    e_value: float
    mean_difference: float
    confidence: float
    cs_lower: tuple[float, ...]
    cs_upper: tuple[float, ...]
    margin: Interval | None = None
    bounds: Interval | None = None
    prior_scale: float | None = None
    pvalue_corrected: float | None = None
    correction: str | None = None
    family_size: int | None = None
    family_alpha: float | None = None

    @property
    def pvalue_for_decision(self) -> float:
        return self.pvalue if self.pvalue_corrected is None else self.pvalue_corrected

    @property
    def confidence_sequence(self) -> tuple[tuple[int, float, float], ...]:
        """(n, lower, upper) for every n up to n_used, for plots."""
        return tuple((n, low, high) for n, low, high
                     in zip(range(1, self.n_used + 1), self.cs_lower, self.cs_upper, strict=True))

    def to_dict(self) -> dict[str, Any]:
        return {field.name: _json_safe(getattr(self, field.name)) for field in fields(self)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> SequentialResult:
        known = {field.name for field in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"unknown SequentialResult fields {unknown}; allowed: {sorted(known)}")
        values = dict(data)
        for name in ("alpha", "pvalue", "e_value", "mean_difference", "confidence"):
            values[name] = _nan_if_none(values.get(name))
        for name in ("cs_lower", "cs_upper"):
            values[name] = tuple(_nan_if_none(v) for v in values[name])
        values["looks"] = tuple(values["looks"])
        for name in ("margin", "bounds"):
            if values.get(name) is not None:
                values[name] = tuple(values[name])
        return cls(**values)

    def __str__(self) -> str:
        last = (self.cs_lower[-1], self.cs_upper[-1]) if self.n_used else (math.nan, math.nan)
        return "\n".join([
            f"sequential {self.method} ({self.alternative}): {self.status.upper()}",
            f"  n used {self.n_used} of at most {self.max_n} (look {self.stopped_at_look} of "
            f"{len(self.looks)}); mean difference {fmt(self.mean_difference)}",
            f"  {100 * self.confidence:g}% confidence sequence at n = {self.n_used}: "
            f"{fmt_interval(last)}; anytime p = {fmt(self.pvalue)}, e = {fmt(self.e_value)}",
            f"  why: {self.reason}",
        ])


@dataclass(frozen=True)
class _Evidence:
    """Everything the decisions need, for every n = 1..len(d)."""

    lower: np.ndarray  # per-time one-sided lower bound (side alpha), not intersected
    upper: np.ndarray
    log_e_above: np.ndarray  # log e against "mean <= claim's lower null" (side +1)
    log_e_below: np.ndarray  # log e against "mean >= claim's upper null" (side -1)
    # log e at the null-edge point itself (side +1, side -1): futility bounds grow from it.
    # For the t mixture these equal the two above (the infimum sits on the edge).
    edge_above: np.ndarray
    edge_below: np.ndarray


def sequential_test(differences: Any, design: SequentialDesign,
                    looks: Sequence[int] | None = None) -> SequentialResult:
    """Decide a sequential case from the differences observed so far, in their fixed order.

    ``looks`` are the sample sizes after which a decision is checked (default: every
    ``design.chunk``, and ``max_n``); data past ``max_n`` are a usage error. The result
    is a pure function of the data and the looks up to the one that decided.
    """
    d = np.asarray(differences, dtype=np.float64)
    if d.ndim != 1:
        raise ValueError(f"differences must be one-dimensional; got shape {d.shape}")
    if d.shape[0] > design.max_n:
        raise ValueError(f"{d.shape[0]} differences exceed max_n {design.max_n}")
    looks = _checked_looks(design, looks)
    bad = np.flatnonzero(~np.isfinite(d))
    if bad.size:
        shown = ", ".join(str(i) for i in bad[:8])
        return _untestable(design, looks, d, (
            f"{bad.size} of {d.shape[0]} differences are not finite (index {shown}): a failed "
            f"measurement cannot support a claim, and dropping it would shrink n"))
    if design.method == "t_mixture" and d.shape[0] == design.max_n and np.all(d == d[0]):
        return _untestable(design, looks, d, (
            f"all {d.shape[0]} differences equal {d[0]:.6g}: with no spread the t mixture's "
            f"normal model carries no evidence (identical values come from a measure that did "
            f"not change or is quantised); use method 'betting' with bounds"))
    if design.method == "betting":
        _check_inside_bounds(d, design.betting_bounds)
    evidence = _evidence(d, design)
    for index, look in enumerate(looks, start=1):
        if look > d.shape[0]:
            return _result(design, looks, d, evidence, d.shape[0], index - 1, "continue")
        pvalue = _pvalue(evidence, design, look)
        if pvalue <= design.case_alpha:
            return _result(design, looks, d, evidence, look, index, "holds")
        if look < design.max_n and _futile(d[:look], design, evidence):
            return _result(design, looks, d, evidence, look, index, "futility")
    return _result(design, looks, d, evidence, looks[-1], len(looks), "not_shown")


def sequential_test_chunks(chunks: Sequence[Any], design: SequentialDesign) -> SequentialResult:
    """`sequential_test` with a look after each given chunk (the chunk sizes may differ)."""
    arrays = [np.atleast_1d(np.asarray(chunk, dtype=np.float64)) for chunk in chunks]
    looks = tuple(int(n) for n in np.cumsum([a.shape[0] for a in arrays]))
    if looks and looks[-1] < design.max_n:
        looks = (*looks, design.max_n)
    data = np.concatenate(arrays) if arrays else np.empty(0)
    return sequential_test(data, design, looks)


def _checked_looks(design: SequentialDesign, looks: Sequence[int] | None) -> tuple[int, ...]:
    if looks is None:
        return design.default_looks
    looks = tuple(int(n) for n in looks)
    if not looks or any(b <= a for a, b in itertools.pairwise(looks)) or looks[0] < 1:
        raise ValueError(f"looks must be increasing positive sample sizes; got {looks}")
    if looks[-1] != design.max_n:
        raise ValueError(f"the last look must be at max_n {design.max_n}; got looks {looks}")
    return looks


def _check_inside_bounds(d: np.ndarray, bounds: Interval) -> None:
    outside = np.flatnonzero((d < bounds[0]) | (d > bounds[1]))
    if outside.size:
        shown = ", ".join(f"{d[i]:.6g} at index {i}" for i in outside[:8])
        raise ValueError(f"{outside.size} differences lie outside the declared betting bounds "
                         f"{bounds}: {shown}; the betting method is valid only inside them")


def _null_points(design: SequentialDesign) -> tuple[float, float]:
    """The null means at the edge of each side's null region: (for the lower bound, for the
    upper bound). A claim of increase rejects mean <= 0; decrease rejects mean >= 0;
    equivalence rejects mean <= low and mean >= high."""
    if design.alternative == "equivalence" and design.margin is not None:  # __post_init__ requires it
        return design.margin
    return (0.0, 0.0)


def _evidence(d: np.ndarray, design: SequentialDesign) -> _Evidence:
    above_null, below_null = _null_points(design)
    if d.shape[0] == 0:
        empty = np.empty(0)
        return _Evidence(empty, empty, empty, empty, empty, empty)
    if design.method == "t_mixture":
        lower, upper = eprocess.t_mixture_bounds(d, design.side_alpha, design.prior_scale)
        above = eprocess.t_mixture_log_evidence(d, above_null, +1, design.prior_scale)
        below = eprocess.t_mixture_log_evidence(d, below_null, -1, design.prior_scale)
        # While every difference so far is the same, the normal model would read the zero
        # spread as overwhelming evidence (a probability-0 event for it); real measures
        # produce ties by not changing or by quantisation, so such a prefix counts as no
        # evidence. Lowering an e-process never adds a rejection, so validity is kept.
        tied = eprocess.running_sd(d) == 0
        above, below = (np.where(tied, np.minimum(e, 0.0), e) for e in (above, below))
        lower, upper = np.where(tied, -np.inf, lower), np.where(tied, np.inf, upper)
        return _Evidence(lower, upper, above, below, above, below)
    return _betting_evidence(d, design, above_null, below_null)


def _betting_evidence(d: np.ndarray, design: SequentialDesign, above_null: float,
                      below_null: float) -> _Evidence:
    low, high = design.betting_bounds
    width = high - low
    y = (d - low) / width
    grid = eprocess.betting_grid(low, high, (above_null, below_null))
    units = (grid - low) / width
    threshold = math.log(1.0 / design.side_alpha)
    log_above = eprocess.betting_log_capital(y, units, +1, design.side_alpha)
    log_below = eprocess.betting_log_capital(y, units, -1, design.side_alpha)
    # Bounds at each time: the hull of the candidate means not rejected. Below the lowest
    # kept mean every grid point up to it is rejected by the "above" process, so the
    # bound sits on the last rejected point (conservative by at most one grid step).
    lower = _edge_below(grid, log_above < threshold, low)
    upper = _edge_above(grid, log_below < threshold, high)
    # The e-value against a composite null is the infimum over it (each point's e-value is
    # valid when that point is the truth); taken over the grid, nulls included exactly.
    against_low = grid <= above_null
    against_high = grid >= below_null
    return _Evidence(lower, upper, np.min(log_above[against_low], axis=0),
                     np.min(log_below[against_high], axis=0),
                     log_above[np.flatnonzero(grid == above_null)[0]],
                     log_below[np.flatnonzero(grid == below_null)[0]])


def _edge_below(grid: np.ndarray, kept: np.ndarray, low: float) -> np.ndarray:
    """Per column (time) of ``kept`` (grid x time): the grid point just below the lowest
    kept candidate, ``low`` if that is the first; NaN where nothing is kept (the CS is
    empty at that time)."""
    first = np.argmax(kept, axis=0)
    edge = np.where(first > 0, grid[np.maximum(first - 1, 0)], low)
    return np.where(kept.any(axis=0), edge, np.nan)


def _edge_above(grid: np.ndarray, kept: np.ndarray, high: float) -> np.ndarray:
    last = grid.shape[0] - 1 - np.argmax(kept[::-1], axis=0)
    edge = np.where(last < grid.shape[0] - 1, grid[np.minimum(last + 1, grid.shape[0] - 1)],
                    high)
    return np.where(kept.any(axis=0), edge, np.nan)


def _side_pvalues(evidence: _Evidence, n: int) -> tuple[float, float]:
    """Anytime p-values of the two sides after n observations: 1 / the running maximum."""
    above = float(np.max(evidence.log_e_above[:n])) if n else 0.0
    below = float(np.max(evidence.log_e_below[:n])) if n else 0.0
    return min(1.0, math.exp(-above)), min(1.0, math.exp(-below))


def _pvalue(evidence: _Evidence, design: SequentialDesign, n: int) -> float:
    p_above, p_below = _side_pvalues(evidence, n)
    if design.alternative == "greater":
        return p_above
    if design.alternative == "less":
        return p_below
    if design.alternative == "two-sided":
        return min(1.0, 2.0 * min(p_above, p_below))
    return max(p_above, p_below)  # equivalence: both sides must reject (intersection-union)


def _e_value(evidence: _Evidence, design: SequentialDesign, n: int) -> float:
    if n == 0:
        return 1.0
    above = math.exp(float(evidence.log_e_above[n - 1]))
    below = math.exp(float(evidence.log_e_below[n - 1]))
    if design.alternative == "greater":
        return above
    if design.alternative == "less":
        return below
    if design.alternative == "two-sided":
        return (above + below) / 2.0  # a mixture of e-values is an e-value
    return min(above, below)  # under either half of the null one of the two is valid


def _futile(d: np.ndarray, design: SequentialDesign, evidence: _Evidence) -> bool:
    """True when no continuation up to max_n can reach the claim: every side the claim
    needs is out of reach (equivalence needs both, two-sided either, one-sided its own).
    Every future n counts, not only the looks: a look decides on the running maximum of
    the evidence, which includes the sizes between looks."""
    needed = {"greater": [+1], "less": [-1], "two-sided": [+1, -1],
              "equivalence": [+1, -1]}[design.alternative]
    above_null, below_null = _null_points(design)
    target = math.log(1.0 / design.side_alpha)
    reachable = []
    for side in needed:
        null = above_null if side > 0 else below_null
        future = np.arange(d.shape[0] + 1, design.max_n + 1)
        now = (evidence.edge_above if side > 0 else evidence.edge_below)[d.shape[0] - 1]
        best = _best_log_e(d, design, null, side, future, float(now))
        reachable.append(float(np.max(best)) >= target)
    if design.alternative == "equivalence":
        return not all(reachable)
    return not any(reachable)


def _best_log_e(d: np.ndarray, design: SequentialDesign, null: float, side: int,
                future_n: np.ndarray, now: float) -> np.ndarray:
    """Upper bounds on the log evidence at the null edge at each future n; ``now`` is its
    value after the data so far (the betting bound grows from it)."""
    if design.method == "t_mixture":
        return eprocess.t_mixture_best_log_e(d, null, side, future_n, design.prior_scale)
    low, high = design.betting_bounds
    unit = (null - low) / (high - low)
    return now + (future_n - d.shape[0]) * eprocess.betting_best_log_growth(unit, side)


def _running(values: np.ndarray, n: int, keep) -> tuple[float, ...]:
    # NaN (an empty per-time CS) must not poison the running bound: it is skipped.
    cleaned = np.where(np.isnan(values[:n]), -np.inf if keep is np.maximum else np.inf,
                       values[:n])
    return tuple(float(v) for v in keep.accumulate(cleaned)) if n else ()


def _result(design: SequentialDesign, looks: tuple[int, ...], d: np.ndarray,
            evidence: _Evidence, n: int, look_index: int, status: str) -> SequentialResult:
    lower = _running(evidence.lower, n, np.maximum)
    upper = _running(evidence.upper, n, np.minimum)
    pvalue = _pvalue(evidence, design, n)
    mean = float(np.mean(d[:n])) if n else math.nan
    result = SequentialResult(
        method=design.method, alternative=design.alternative, alpha=float(design.case_alpha),
        max_n=design.max_n, looks=looks, status=status, passed=status == "holds", reason="",
        n_used=n, stopped_at_look=look_index, pvalue=pvalue,
        e_value=_e_value(evidence, design, n), mean_difference=mean,
        confidence=1.0 - 2.0 * design.side_alpha, cs_lower=lower, cs_upper=upper,
        margin=design.margin, bounds=design.bounds,
        prior_scale=design.prior_scale if design.method == "t_mixture" else None,
        **_planned_family(design))
    return _with_reason(result, _reason(result, status))


def _planned_family(design: SequentialDesign) -> dict[str, Any]:
    if design.family_size == 1:
        return {}
    return {"family_size": design.family_size, "family_alpha": float(design.alpha)}


def _with_reason(result: SequentialResult, reason: str) -> SequentialResult:
    values = {field.name: getattr(result, field.name) for field in fields(result)}
    values["reason"] = reason
    return SequentialResult(**values)


def _claim(result: SequentialResult) -> str:
    if result.alternative == "equivalence":
        return f"equivalence within {fmt_interval(result.margin)}"
    return _CLAIMS[result.alternative]


def _band(result: SequentialResult) -> str:
    if not result.n_used:
        return "no data yet"
    return (f"the {100 * result.confidence:g}% confidence sequence at n = {result.n_used} is "
            f"{fmt_interval((result.cs_lower[-1], result.cs_upper[-1]))}")


def _share(result: SequentialResult) -> str:
    if result.family_alpha is None:
        return ""
    return f" = {fmt(result.family_alpha)} / {result.family_size} (family of {result.family_size})"


def _reason(result: SequentialResult, status: str) -> str:
    claim = _claim(result)
    evidence = (f"anytime-valid p = {fmt(result.pvalue_for_decision)} "
                f"{'<=' if result.pvalue_for_decision <= result.alpha else '>'} alpha "
                f"{fmt(result.alpha)}{_share(result)} ({result.method}); {_band(result)}")
    if status == "holds":
        return f"{claim} holds after {result.n_used} of at most {result.max_n} pairs: {evidence}"
    if status == "futility":
        return (f"{claim} stopped for futility after {result.n_used} pairs: no continuation "
                f"up to max_n {result.max_n} can reach 1/alpha; {evidence}")
    if status == "continue":
        return f"{claim} undecided after {result.n_used} pairs, continue: {evidence}"
    return f"{claim} not shown within max_n {result.max_n}: {evidence}"


def _untestable(design: SequentialDesign, looks: tuple[int, ...], d: np.ndarray,
                reason: str) -> SequentialResult:
    return SequentialResult(
        method=design.method, alternative=design.alternative, alpha=float(design.case_alpha),
        max_n=design.max_n, looks=looks, status="untestable", passed=False, reason=reason,
        n_used=int(d.shape[0]), stopped_at_look=0, pvalue=math.nan, e_value=math.nan,
        mean_difference=math.nan, confidence=1.0 - 2.0 * design.side_alpha, cs_lower=(),
        cs_upper=(), margin=design.margin, bounds=design.bounds,
        prior_scale=design.prior_scale if design.method == "t_mixture" else None,
        **_planned_family(design))
