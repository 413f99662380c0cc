"""E-processes for the mean of paired differences: the evidence behind sequential verdicts.

An e-process E_n(m) for a null mean m is a nonnegative process with E_0 = 1 that, under
the null, is a (super)martingale; Ville's inequality then gives
P(exists n: E_n(m) >= 1/a) <= a, whatever rule decides when to look or stop. Two
families live here, each as "log evidence that the mean is below m" (side -1) and "above
m" (side +1):

t mixture (unbounded measures: SI-SNR, SAR differences)
    Assumes the differences are i.i.d. normal with unknown mean and unknown variance;
    nothing else (no bound, no known variance). Its e-process for the null mean m is the
    Bayes factor of the scale-invariant (right Haar 1/sigma) model: a N(0, g) prior on the
    standardised effect delta = (mean - m) / sigma, cut to one sign and doubled for a
    one-sided claim. By Wijsman's representation it is the likelihood ratio of the maximal
    scale invariant of z = x - m, hence a test martingale under every N(m, sigma^2)
    (Lai 1976, "On confidence sequences"; Perez-Ortiz, Lardy, de Heide & Grunwald 2024,
    "E-statistics, group invariance and anytime-valid testing"; Wang & Ramdas 2025,
    "Anytime-valid t-tests and confidence sequences for Gaussian means with unknown
    variance"). With S1 = sum z, S2 = sum z^2, r = S1 / sqrt(S2) (a monotone function of
    the t statistic), it has the closed form

        E_n = 2 (1 + n g)^(-1/2) a^(-n/2) T_n(side * b sqrt(n / a)),
        a = 1 - g r^2 / (1 + n g),   b = r sqrt(g / (1 + n g)),

    where T_n is Student's t cdf with n degrees of freedom: the integral over the scale is
    a scaled chi variable, and E[Phi(c chi_n)] is a t cdf. (The two sides sum to twice
    the two-sided Rouder et al. 2009 Bayes factor with fixed g.) `tests/stats` checks the
    closed form against numerical integration of the defining integral.

betting (bounded measures: STOI, detection rates)
    Assumes only that every difference lies in declared bounds [low, high] and that the
    conditional mean given the past is the same m (i.i.d. suffices). The hedged-capital
    process of Waudby-Smith & Ramdas (2024, JRSSB, "Estimating means of bounded random
    variables by betting"), on y = (d - low) / (high - low) in [0, 1]:

        K_n(m) = prod_i (1 + side * lambda_i(m) (y_i - m)),

    with the predictable plug-in bet lambda_i = sqrt(2 log(1/alpha) / (s2_{i-1} i log(1+i)))
    (s2 a regularised running variance: prior mean 1/2, variance 1/4, one pseudo
    observation) truncated at 1/2 / m (side +1) or 1/2 / (1 - m) (side -1) so every
    factor stays >= 1/2. Each factor has conditional mean 1 under the null, so K is a test
    martingale. Written here rather than taken from ``confseq`` (same authors, same
    formulas): see docs/sequential.md for why that package cannot be a dependency.
"""

from __future__ import annotations

import functools
import math

import numpy as np
from scipy import optimize, special, stats

DEFAULT_PRIOR_SCALE = 0.7  # prior sd of the standardised effect d_z (g = 0.49)
BETTING_TRUNCATION = 0.5  # every betting factor stays >= 1 - 0.5
BETTING_GRID_POINTS = 1001  # candidate means in (low, high) for betting bounds
_PRIOR_MEAN, _PRIOR_VARIANCE, _PSEUDO_OBSERVATIONS = 0.5, 0.25, 1.0


# ----- t mixture -------------------------------------------------------------------------


def t_mixture_log_e(n: np.ndarray, r: np.ndarray, side: int, prior_scale: float) -> np.ndarray:
    """log E of the one-sided t mixture at sample size(s) n and self-normalised sum(s) r."""
    g = prior_scale**2
    n = np.asarray(n, dtype=np.float64)
    r = np.asarray(r, dtype=np.float64)
    a = 1.0 - g * r**2 / (1.0 + n * g)
    b = r * np.sqrt(g / (1.0 + n * g))
    return (math.log(2.0) - 0.5 * np.log1p(n * g) - 0.5 * n * np.log(a)
            + _log_t_cdf(n, side * b * np.sqrt(n / a)))


def _log_t_cdf(df: np.ndarray, x: np.ndarray) -> np.ndarray:
    # scipy.special.stdtr is the t cdf without the distribution machinery (30x faster than
    # stats.t.logcdf); only far in the lower tail, where it loses digits or underflows,
    # is the slower, accurate logcdf used.
    df, x = np.broadcast_arrays(np.asarray(df, dtype=np.float64), np.asarray(x, dtype=np.float64))
    cdf = special.stdtr(df, x)
    out = np.empty_like(cdf)
    tail = cdf < 1e-100
    out[~tail] = np.log(cdf[~tail])
    out[tail] = stats.t.logcdf(x[tail], df[tail])
    return out


def self_normalised_sums(differences: np.ndarray, null: float) -> np.ndarray:
    """r_n = S1 / sqrt(S2) of z = x - null after each observation (0 while S2 is 0: data
    that sit exactly on the null carry no evidence either way)."""
    z = differences - null
    s1 = np.cumsum(z)
    s2 = np.cumsum(z * z)
    with np.errstate(invalid="ignore", divide="ignore"):
        r = np.where(s2 > 0, s1 / np.sqrt(s2), 0.0)
    # S1^2 <= n S2 holds exactly; rounding may overshoot by an ulp and make a <= 0.
    n = np.arange(1, z.shape[0] + 1)
    return np.clip(r, -np.sqrt(n), np.sqrt(n))


def t_mixture_log_evidence(differences: np.ndarray, null: float, side: int,
                           prior_scale: float) -> np.ndarray:
    """log E_n for the null mean ``null`` after each observation n = 1..len."""
    n = np.arange(1, differences.shape[0] + 1)
    return t_mixture_log_e(n, self_normalised_sums(differences, null), side, prior_scale)


@functools.lru_cache(maxsize=4096)
def t_mixture_threshold(n: int, side_alpha: float, prior_scale: float) -> float:
    """The |r| beyond which the one-sided evidence reaches 1/side_alpha at size n (inf when
    even r = +-sqrt(n), all observations equal, cannot reach it). The evidence for side -1
    falls monotonically in r (checked in tests/stats), so the rejection region is r <= -c."""
    target = math.log(1.0 / side_alpha)
    edge = math.sqrt(n)

    def excess(r: float) -> float:
        return float(t_mixture_log_e(n, -r, -1, prior_scale)) - target

    if excess(edge) < 0:
        return math.inf
    if excess(0.0) >= 0:
        return 0.0
    return float(optimize.brentq(excess, 0.0, edge, xtol=1e-13, rtol=1e-13))


def t_mixture_bounds(differences: np.ndarray, side_alpha: float,
                     prior_scale: float) -> tuple[np.ndarray, np.ndarray]:
    """Per-time (not yet intersected) lower and upper bounds of the mean, each one-sided at
    ``side_alpha``: the set of m whose one-sided evidence stays below 1/side_alpha."""
    count = differences.shape[0]
    n = np.arange(1, count + 1)
    mean = np.cumsum(differences) / n
    sd = running_sd(differences)
    threshold = np.array([t_mixture_threshold(int(k), side_alpha, prior_scale) for k in n])
    # r* -> t*: r = t sqrt(n) / sqrt(t^2 + n - 1)  =>  t = r sqrt(n - 1) / sqrt(n - r^2).
    with np.errstate(invalid="ignore", divide="ignore"):
        t_critical = threshold * np.sqrt(n - 1) / np.sqrt(n - threshold**2)
        half_width = np.where(np.isfinite(t_critical), t_critical * sd / np.sqrt(n), np.inf)
    half_width = np.where(np.isnan(half_width), np.inf, half_width)
    return mean - half_width, mean + half_width


def running_sd(values: np.ndarray) -> np.ndarray:
    """Sample sd (ddof 1) after each observation; NaN at n = 1. Sums are taken about the
    first value so a large common offset does not cancel catastrophically."""
    shifted = values - values[0]
    n = np.arange(1, values.shape[0] + 1)
    s1, s2 = np.cumsum(shifted), np.cumsum(shifted * shifted)
    with np.errstate(invalid="ignore", divide="ignore"):
        variance = (s2 - s1 * s1 / n) / (n - 1)
    return np.sqrt(np.maximum(variance, 0.0))


def t_mixture_best_log_e(differences: np.ndarray, null: float, side: int,
                         future_n: np.ndarray, prior_scale: float) -> np.ndarray:
    """Upper bounds on log E_N(null), N in ``future_n``, over every continuation of the data.

    On the claim's side s, s r_N = (A + f) / sqrt(S2 + F2) with A = s S1, f = s F1 the
    future sum and F2 >= f^2 / j (j = N - n future values). Over f this peaks at
    f = j S2 / A with value sqrt(A^2 / S2 + j) when A > 0 (Cauchy-Schwarz, attained);
    when A <= 0 it only approaches sqrt(j) as f grows. |r_N| <= sqrt(N) always. The
    evidence is monotone in r, so the bound is the evidence at that r.
    """
    z = differences - null
    lead, s2 = side * float(np.sum(z)), float(np.sum(z * z))
    future_n = np.asarray(future_n, dtype=np.float64)
    remaining = future_n - z.shape[0]
    if s2 > 0 and lead > 0:
        reach = np.sqrt(lead * lead / s2 + remaining)
    elif s2 > 0:
        reach = np.sqrt(remaining)
    else:
        reach = np.sqrt(future_n)
    reach = np.minimum(reach, np.sqrt(future_n))
    return t_mixture_log_e(future_n, side * reach, side, prior_scale)


# ----- betting -----------------------------------------------------------------------------


def betting_bets(y: np.ndarray, side_alpha: float) -> np.ndarray:
    """The predictable plug-in bets lambda_i (before truncation); bet i uses y_1..y_{i-1}."""
    t = np.arange(1, y.shape[0] + 1)
    mean = (_PSEUDO_OBSERVATIONS * _PRIOR_MEAN + np.cumsum(y)) / (t + _PSEUDO_OBSERVATIONS)
    variance = ((_PSEUDO_OBSERVATIONS * _PRIOR_VARIANCE + np.cumsum((y - mean) ** 2))
                / (t + _PSEUDO_OBSERVATIONS))
    previous = np.concatenate([[_PRIOR_VARIANCE], variance[:-1]])
    return np.sqrt(2.0 * math.log(1.0 / side_alpha) / (previous * t * np.log1p(t)))


def betting_log_capital(y: np.ndarray, nulls: np.ndarray, side: int,
                        side_alpha: float) -> np.ndarray:
    """log K_n(m) for each candidate mean m in ``nulls`` (rows) after each observation
    (columns); y and m in [0, 1] units, m strictly inside (0, 1)."""
    # Built time-major (time x candidates) so the running sum adds whole contiguous rows
    # (several times faster than summing along rows), returned as a transposed view.
    bets = betting_bets(y, side_alpha)[:, None]
    nulls = np.asarray(nulls, dtype=np.float64)[None, :]
    cap = BETTING_TRUNCATION / (nulls if side > 0 else 1.0 - nulls)
    factors = np.minimum(bets, cap)
    factors *= y[:, None] - nulls
    if side < 0:
        np.negative(factors, out=factors)
    np.log1p(factors, out=factors)
    return np.cumsum(factors, axis=0).T


def betting_best_log_growth(null: float, side: int) -> float:
    """The largest log factor one observation can contribute at null mean m (y in [0, 1]):
    with the bet truncated at c / m (side +1), 1 + lambda (y - m) <= 1 + c (1 - m) / m."""
    room = (1.0 - null) / null if side > 0 else null / (1.0 - null)
    return math.log1p(BETTING_TRUNCATION * room)


def betting_grid(low: float, high: float, extra: tuple[float, ...]) -> np.ndarray:
    """Candidate means strictly inside (low, high), with the decision points added so that a
    null or a margin end is tested exactly, not between grid points."""
    inner = np.linspace(low, high, BETTING_GRID_POINTS + 2)[1:-1]
    points = np.concatenate([inner, [value for value in extra if low < value < high]])
    return np.unique(points)
