"""Bias-corrected and accelerated (BCa) bootstrap, written out so every step is visible.

Efron's BCa interval (Efron 1987; Efron & Tibshirani 1993, ch. 14) reads the bootstrap
distribution of a statistic at adjusted percentiles

    level(z) = Phi(z0 + (z0 + z) / (1 - a (z0 + z)))

where ``z0`` (bias correction) is the normal quantile of the share of bootstrap replicates
below the estimate (ties count half) and ``a`` (acceleration) comes from the skewness of
the jackknife (leave-one-out) estimates. Samples of several arrays (x and y of a paired
design) are resampled together, row by row, so the pairing survives.

Every draw comes from the numpy Generator the caller passes; resamples are drawn in
blocks of a fixed size, so the numbers depend only on the seed, the data and
``n_resamples``, and memory stays bounded for large n.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy.special import ndtr, ndtri

Statistic = Callable[..., np.ndarray | float]  # statistic(*samples, axis=-1), vectorised; a float for 1-D samples
_BLOCK_ELEMENTS = 1 << 20  # resample indices drawn per block (8 MiB of int64)


@dataclass(frozen=True)
class BcaBootstrap:
    """A fitted BCa bootstrap: the estimate, its sorted replicates and the two corrections.

    Query it for intervals at any level (`interval`) or for the p-value at which a null
    value sits on the edge of the interval (`pvalue`), all from the same replicates.
    """

    estimate: float
    replicates: np.ndarray  # sorted ascending
    bias_correction: float  # z0
    acceleration: float  # a

    @property
    def n_resamples(self) -> int:
        return int(self.replicates.shape[0])

    @property
    def defined(self) -> bool:
        """False when the corrections cannot be computed (e.g. every replicate lies on one
        side of the estimate, which makes z0 infinite)."""
        return math.isfinite(self.bias_correction) and math.isfinite(self.acceleration)

    def adjusted_level(self, level: float) -> float:
        """The percentile of the replicates that BCa uses for nominal level ``level``."""
        z0, a = self.bias_correction, self.acceleration
        shifted = z0 + ndtri(level)
        denominator = 1.0 - a * shifted
        if denominator <= 0.0:
            # Past the pole at shifted = 1/a the map would fold back; its limit is an end.
            return 1.0 if shifted > 0 else 0.0
        return float(ndtr(z0 + shifted / denominator))

    def quantile(self, level: float) -> float:
        return float(np.quantile(self.replicates, self.adjusted_level(level)))

    def interval(self, confidence: float, alternative: str = "two-sided") -> tuple[float, float]:
        """Two-sided interval, or a one-sided bound with the other end infinite:
        "greater" gives (lower bound, inf), "less" gives (-inf, upper bound)."""
        if alternative == "greater":
            return (self.quantile(1.0 - confidence), math.inf)
        if alternative == "less":
            return (-math.inf, self.quantile(confidence))
        tail = (1.0 - confidence) / 2.0
        return (self.quantile(tail), self.quantile(1.0 - tail))

    def pvalue(self, null: float = 0.0, alternative: str = "two-sided") -> float:
        """The achieved significance level: the alpha at which ``null`` is exactly an end
        of the one-sided (1 - alpha) BCa interval (Efron & Tibshirani 1993, sec. 15.4).

        So ``pvalue(null, alt) <= alpha`` exactly when the BCa interval of level 1 - alpha
        excludes ``null`` on that side, up to the interpolation between replicates. Its
        resolution is limited by ``n_resamples``: the share of replicates beyond ``null``
        is clipped to [1/(2B), 1 - 1/(2B)].
        """
        z0, a = self.bias_correction, self.acceleration
        count = self.n_resamples
        below = np.searchsorted(self.replicates, null, side="left")
        ties = np.searchsorted(self.replicates, null, side="right") - below
        share = (below + 0.5 * ties) / count
        share = min(max(share, 0.5 / count), 1.0 - 0.5 / count)
        offset = float(ndtri(share)) - z0
        denominator = 1.0 + a * offset
        if denominator <= 0.0:
            # null lies beyond every end the BCa map can reach (it saturates at -1/a).
            greater = 0.0 if offset < 0 else 1.0
        else:
            greater = float(ndtr(offset / denominator - z0))
        if alternative == "greater":
            return greater
        if alternative == "less":
            return 1.0 - greater
        return min(1.0, 2.0 * min(greater, 1.0 - greater))


def bca_bootstrap(samples: tuple[np.ndarray, ...], statistic: Statistic, *,
                  n_resamples: int, rng: np.random.Generator) -> BcaBootstrap:
    """Fit a BCa bootstrap of ``statistic`` over paired ``samples`` (equal lengths)."""
    n = samples[0].shape[0]
    if any(sample.shape != (n,) for sample in samples):
        raise ValueError(f"bootstrap samples must be 1-D of one length; got shapes "
                         f"{[sample.shape for sample in samples]}")
    if n < 2:
        raise ValueError(f"a bootstrap needs at least 2 observations; got {n}")
    if n_resamples < 1:
        raise ValueError(f"n_resamples must be a positive integer; got {n_resamples}")
    estimate = float(statistic(*samples, axis=-1))
    replicates = np.sort(_replicates(samples, statistic, n_resamples, rng))
    below = np.count_nonzero(replicates < estimate)
    ties = np.count_nonzero(replicates == estimate)
    with np.errstate(divide="ignore"):
        bias_correction = float(ndtri((below + 0.5 * ties) / n_resamples))
    return BcaBootstrap(estimate, replicates, bias_correction, _acceleration(samples, statistic))


def _replicates(samples: tuple[np.ndarray, ...], statistic: Statistic, n_resamples: int,
                rng: np.random.Generator) -> np.ndarray:
    n = samples[0].shape[0]
    rows = max(1, _BLOCK_ELEMENTS // n)
    out = np.empty(n_resamples)
    for start in range(0, n_resamples, rows):
        stop = min(start + rows, n_resamples)
        index = rng.integers(0, n, size=(stop - start, n))
        out[start:stop] = statistic(*(sample[index] for sample in samples), axis=-1)
    return out


def _acceleration(samples: tuple[np.ndarray, ...], statistic: Statistic) -> float:
    n = samples[0].shape[0]
    leave_one_out = np.empty(n)
    rows = max(1, _BLOCK_ELEMENTS // n)
    positions = np.arange(n - 1)
    for start in range(0, n, rows):
        left_out = np.arange(start, min(start + rows, n))
        # Row i lists every index but i: positions at or past i shift up by one.
        index = positions[None, :] + (positions[None, :] >= left_out[:, None])
        leave_one_out[left_out] = statistic(*(sample[index] for sample in samples), axis=-1)
    spread = leave_one_out.mean() - leave_one_out
    largest = np.max(np.abs(spread))
    if not (largest > 0.0 and math.isfinite(largest)):
        return math.nan
    # a is scale-free (cubes over squares to the 3/2), so scale to 1 to keep large
    # measures from overflowing.
    spread = spread / largest
    return float(np.sum(spread**3) / (6.0 * np.sum(spread**2) ** 1.5))
