"""The value a statistical test returns: `TestResult`, immutable, printable, serialisable.

Like scipy's result objects it is a bag of named numbers, but it also carries the verdict
(``passed``) and a sentence saying why, so a failing hypothesis explains itself without the
caller re-deriving anything. The numbers are the single source of truth: ``passed`` and
``reason`` are recomputed from them (see `latentflow.stats.decision`) whenever a
correction changes the p-value that counts.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

Interval = tuple[float, float]
DetailValue = float | int | str | bool | None | tuple[float, float]

CORRECTION_LABELS = {"bonferroni": "Bonferroni", "holm": "Holm", "bh": "Benjamini-Hochberg"}
_FLOAT_FIELDS = ("statistic", "pvalue", "alpha", "mean_difference", "confidence", "effect_size")
_INTERVAL_FIELDS = ("confidence_interval", "effect_size_interval")


class ComparedByJson:
    """Equality and hash through ``to_dict()``: NaN != NaN would make two identical
    degenerate results unequal, and in the JSON form every non-finite number is None.
    A dataclass using it must say ``eq=False`` (or the generated __eq__ would win)."""

    def to_dict(self) -> dict[str, Any]:
        raise NotImplementedError

    def _comparable(self) -> tuple:
        return tuple(sorted((key, repr(value)) for key, value in self.to_dict().items()))

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        return self._comparable() == other._comparable()

    def __hash__(self) -> int:
        return hash(self._comparable())


@dataclass(frozen=True, eq=False)
class TestResult(ComparedByJson):
    """One paired test on one hypothesis, and its verdict.

    Differences are always ``x - y`` with x the treatment (intervened) condition and y the
    baseline, so ``alternative="less"`` means "the intervention decreases the measure".

    Fields
    ------
    test: which test ran ("paired_t", "wilcoxon", "permutation", "bootstrap", "tost").
    alternative: "two-sided", "less", "greater", or "equivalence" for TOST.
    n: number of pairs given (including any a test sets aside, e.g. Wilcoxon zeros).
    statistic, statistic_name: the test statistic and what it is ("t", "W+", ...).
    pvalue: the raw p-value (NaN when the data could not be tested).
    pvalue_corrected, correction, family_size: set by `latentflow.stats.correct`; None
        until a multiple-comparison correction is applied.
    alpha: the significance level the verdict uses.
    mean_difference: mean of x - y.
    confidence_interval, confidence, interval_method: a two-sided interval for the mean
        difference at level ``confidence`` (descriptive; independent of ``alternative``).
    effect_size, effect_size_name, effect_size_interval, effect_size_method: Cohen's d
        (``d_z`` unless another variant was asked for) with its interval at ``confidence``.
    min_effect_size: the |effect| the hypothesis requires, or None.
    margin: the equivalence margin (low, high) for TOST, else None.
    n_resamples, seed: the resampling budget and seed when anything random was drawn.
    details: extra named numbers of a particular test (e.g. both TOST p-values), as
        ``(name, value)`` pairs so the object stays immutable and hashable.
    passed: whether the hypothesis holds. Never True for degenerate or NaN data.
    reason: why it passed or failed, in one human-readable line.
    """

    __test__ = False  # the name starts with "Test": keep pytest from collecting it

    test: str
    alternative: str
    n: int
    statistic: float
    statistic_name: str
    pvalue: float
    alpha: float
    mean_difference: float
    confidence_interval: Interval
    confidence: float
    interval_method: str
    effect_size: float
    effect_size_name: str
    effect_size_interval: Interval
    effect_size_method: str
    passed: bool
    reason: str
    pvalue_corrected: float | None = None
    correction: str | None = None
    family_size: int | None = None
    min_effect_size: float | None = None
    margin: Interval | None = None
    n_resamples: int | None = None
    seed: int | None = None
    details: tuple[tuple[str, DetailValue], ...] = ()

    @property
    def pvalue_for_decision(self) -> float:
        """The p-value the verdict rests on: the corrected one once a correction ran."""
        return self.pvalue if self.pvalue_corrected is None else self.pvalue_corrected

    def detail(self, name: str) -> DetailValue:
        """One value from ``details`` by name; KeyError lists the names present."""
        for key, value in self.details:
            if key == name:
                return value
        raise KeyError(f"{name!r} is not a detail of this {self.test} result; present: "
                       f"{', '.join(key for key, _ in self.details) or 'none'}")

    def number(self, name: str) -> float:
        """``detail(name)`` as a float; TypeError when that detail is not a number."""
        value = self.detail(name)
        if value is None or isinstance(value, (str, tuple)):
            raise TypeError(f"detail {name!r} of this {self.test} result is {value!r}, not a number")
        return float(value)

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dict: NaN and infinities become None (``reason`` says why they are
        missing), tuples become lists, ``details`` becomes a nested dict."""
        out: dict[str, Any] = {}
        for field in fields(self):
            value = getattr(self, field.name)
            if field.name == "details":
                value = {key: _json_safe(item) for key, item in value}
            else:
                value = _json_safe(value)
            out[field.name] = value
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TestResult:
        """Inverse of `to_dict`: None in a numeric field reads back as NaN."""
        known = {field.name for field in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"unknown TestResult fields {unknown}; allowed: {sorted(known)}")
        values = dict(data)
        for name in _FLOAT_FIELDS:
            values[name] = _nan_if_none(values.get(name))
        for name in _INTERVAL_FIELDS:
            low, high = values[name]
            values[name] = (_nan_if_none(low), _nan_if_none(high))
        if values.get("margin") is not None:
            values["margin"] = tuple(values["margin"])
        if values.get("correction") is not None:
            values["pvalue_corrected"] = _nan_if_none(values.get("pvalue_corrected"))
        values["details"] = tuple(
            (key, tuple(item) if isinstance(item, list) else item)
            for key, item in (values.get("details") or {}).items()
        )
        return cls(**values)

    def __str__(self) -> str:
        verdict = "PASSED" if self.passed else "FAILED"
        level = _percent(self.confidence)
        lines = [
            f"{self.test} ({self.alternative}): {verdict}",
            f"  n = {self.n} pairs; mean difference (x - y) = {fmt(self.mean_difference)}, "
            f"{level} CI {fmt_interval(self.confidence_interval)} ({self.interval_method})",
        ]
        pvalues = f"  {self.statistic_name} = {fmt(self.statistic)}, p = {fmt(self.pvalue)}"
        if self.correction is not None:
            pvalues += (f"; {CORRECTION_LABELS[self.correction]}-corrected p = {fmt(self.pvalue_corrected)}"
                        f" (family of {self.family_size})")
        lines.append(pvalues + f"; alpha = {fmt(self.alpha)}")
        effect = (f"  Cohen's {self.effect_size_name} = {fmt(self.effect_size)}, {level} CI "
                  f"{fmt_interval(self.effect_size_interval)} ({self.effect_size_method})")
        if self.min_effect_size is not None:
            effect += f"; required |{self.effect_size_name}| >= {fmt(self.min_effect_size)}"
        lines.append(effect)
        if self.margin is not None:
            lines.append(f"  equivalence margin {fmt_interval(self.margin)}")
        lines.append(f"  why: {self.reason}")
        return "\n".join(lines)


def fmt(value: float | None) -> str:
    """Three significant digits; NaN spelled out so it is never mistaken for a number."""
    if value is None:
        return "none"
    if isinstance(value, float) and math.isnan(value):
        return "NaN"
    return f"{value:.3g}"


def fmt_interval(interval: Interval | None) -> str:
    if interval is None:
        return "none"
    return f"[{fmt(interval[0])}, {fmt(interval[1])}]"


def _percent(level: float) -> str:
    return f"{100 * level:g}%"


def _json_safe(value: Any) -> Any:
    if isinstance(value, bool) or value is None or isinstance(value, (int, str)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, tuple):
        return [_json_safe(item) for item in value]
    raise TypeError(f"cannot serialise {type(value).__name__} {value!r} in a TestResult")


def _nan_if_none(value: float | None) -> float:
    return math.nan if value is None else float(value)
