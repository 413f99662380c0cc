"""Paired input: turning what the caller hands over into differences, and judging whether
those differences can be tested at all.

Two kinds of trouble are told apart on purpose:

- a *usage* error (wrong shape, x and y of different lengths, text instead of numbers)
  raises ValueError at once: the caller's code is wrong;
- *degenerate data* (NaN or inf, too few pairs, no spread) is a legitimate outcome of an
  experiment. It must fail the hypothesis with an explanation, never raise and never pass,
  so `degeneracy` returns the explanation instead of raising.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

ALTERNATIVES = ("two-sided", "less", "greater")
# Specs speak of the direction of an effect; the tests speak of the sign of x - y.
DIRECTION_ALIASES = {"decrease": "less", "increase": "greater"}
_SHOWN_INDICES = 8


def normalize_alternative(alternative: str) -> str:
    """Map "decrease"/"increase" to "less"/"greater"; reject anything not listed."""
    name = DIRECTION_ALIASES.get(alternative, alternative)
    if name not in ALTERNATIVES:
        allowed = ", ".join(ALTERNATIVES + tuple(DIRECTION_ALIASES))
        raise ValueError(f"alternative {alternative!r} is not known; allowed: {allowed}")
    return name


def mirror_alternative(alternative: str) -> str:
    """The alternative that says the same thing about y - x."""
    return {"less": "greater", "greater": "less"}.get(alternative, alternative)


@dataclass(frozen=True)
class PairedData:
    """Differences d = x - y as float64, with x and y kept when the caller gave them."""

    differences: np.ndarray
    x: np.ndarray | None = None
    y: np.ndarray | None = None

    @property
    def n(self) -> int:
        return int(self.differences.shape[0])

    @property
    def has_pairs(self) -> bool:
        return self.x is not None


def as_paired(data: Any, y: Any = None) -> PairedData:
    """Accept differences ``d``, a tuple ``(x, y)``, or ``x`` with ``y=``.

    A tuple of exactly two array-likes of one dimension each is read as ``(x, y)``;
    anything else is read as the differences themselves.
    """
    if y is None and _is_pair(data):
        data, y = data
    if y is None:
        differences = _vector(data, "differences")
        return PairedData(differences)
    x = _vector(data, "x")
    y = _vector(y, "y")
    if x.shape != y.shape:
        raise ValueError(f"x and y must be paired (the same length); got len(x) = {x.shape[0]} "
                         f"and len(y) = {y.shape[0]}")
    with np.errstate(over="ignore", invalid="ignore"):
        differences = x - y
    return PairedData(differences, x, y)


def _is_pair(data: Any) -> bool:
    if not isinstance(data, tuple) or len(data) != 2:
        return False
    return all(np.ndim(part) == 1 for part in data)


def _vector(values: Any, name: str) -> np.ndarray:
    try:
        array = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError) as error:
        raise ValueError(f"{name} must be numbers; got {type(values).__name__}: {error}") from None
    if array.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional (one value per pair); got shape "
                         f"{array.shape}. Pass paired samples as a tuple (x, y).")
    return array


def degeneracy(data: PairedData, *, test: str, min_n: int) -> str | None:
    """Why these data cannot support any verdict, or None when they can be tested."""
    problem = _nonfinite(data)
    if problem is not None:
        return problem
    d = data.differences
    if data.n < min_n:
        return (f"only {data.n} pair{'s' if data.n != 1 else ''}; {test} needs at least "
                f"{min_n}")
    if np.all(d == d[0]):
        if d[0] == 0:
            return (f"all {data.n} differences are exactly 0: nothing changed, so the "
                    f"standard deviation is 0 and the test statistic and Cohen's d_z are "
                    f"undefined")
        return (f"all {data.n} differences equal {d[0]:.6g}: with standard deviation 0 the "
                f"test statistic and Cohen's d_z are undefined")
    with np.errstate(over="ignore", invalid="ignore"):
        spread = np.std(d, ddof=1)
    if not np.isfinite(spread):
        return (f"the differences are too large to square in float64 (max |d| = "
                f"{np.max(np.abs(d)):.3g}); rescale the measure")
    if spread == 0:
        return (f"the differences differ only by amounts whose square underflows float64 "
                f"(standard deviation 0, max |d| = {np.max(np.abs(d)):.3g}); rescale the "
                f"measure")
    return None


def _nonfinite(data: PairedData) -> str | None:
    parts: list[tuple[np.ndarray, str]] = []
    if data.x is not None and data.y is not None:  # has_pairs: as_paired keeps both or neither
        parts += [(data.x, "x"), (data.y, "y")]
    parts.append((data.differences, "x - y" if data.has_pairs else "differences"))
    for values, name in parts:
        bad = ~np.isfinite(values)
        if bad.any():
            what = name if name == "differences" else f"values of {name}"
            return (f"{int(bad.sum())} of {values.shape[0]} {what} are not finite "
                    f"({_describe_nonfinite(values, bad)}): a failed or missing measurement "
                    f"cannot support a claim")
    return None


def _describe_nonfinite(values: np.ndarray, bad: np.ndarray) -> str:
    described = []
    for label, mask in (("NaN", np.isnan(values)), ("inf", np.isinf(values) & bad)):
        where = np.flatnonzero(mask)
        if where.size:
            shown = ", ".join(str(i) for i in where[:_SHOWN_INDICES])
            more = f", ... ({where.size} in all)" if where.size > _SHOWN_INDICES else ""
            described.append(f"{label} at index {shown}{more}")
    return "; ".join(described)
