"""The BMLD probe: a linear detector per target-to-noise ratio, a psychometric fit, the BMLD.

For one stimulus set and one model's features:

1. :func:`detection_curve`: on each rung of the TNR ladder, a standardised L2 logistic
   regression (scikit-learn, liblinear) separates target-present from target-absent trials under
   stratified k-fold cross-validation (shuffled with ``seed``); each trial is scored by the
   fold that did not train on it, and the curve keeps, per rung, which trials were scored
   correctly (in trial order) and their share.
2. :func:`fit_psychometric`: ``p(x) = 0.5 + 0.5 / (1 + exp(-(x - threshold) / width))`` (a
   logistic with guess rate 0.5, so ``threshold`` is the 75 %-correct point) fitted by binomial
   maximum likelihood (``scipy.optimize.minimize``, L-BFGS-B within bounds, on the binomial
   log-likelihood of the correct counts). A fit whose threshold stops at a bound (two ladder
   spans beyond either end), whose width reaches its largest allowed value, or whose optimiser
   reports failure is ``converged=False``; a threshold outside the ladder is ``censored``
   ("above" / "below"): the data only say it lies beyond that end.
3. :func:`bmld`: ``BMLD = threshold(N0S0) - threshold(N0Spi)`` (dB; positive = binaural
   unmasking) with a seeded, *paired* bootstrap interval: the two conditions share noise and
   targets trial by trial (same seed, rung, trial index), so each replicate draws one set of
   trial indices per rung, with replacement, applies it to both conditions' correct/incorrect
   scores, and refits both curves. A model that cannot tell the conditions apart thus gets
   identical replicates and an interval of exactly [0, 0].

   The cross-validated scores stay fixed across replicates (the probe is not refitted per
   replicate): one detection curve (5 folds x 12 rungs of liblinear fits) took 0.27 s for the
   32-dim binaural embedding on 480 trials here (2 shared cores), so refitting both conditions
   per replicate would cost about 110 s per row at 200 resamples, about 53 minutes for the
   29-row table, against under a second per row for the refits of the psychometric function.
   The interval therefore omits the probe's refitting variance and the stimulus-seed variance
   (one seed); rungs scored all-correct contribute no variance.

Results are small immutable objects, like scipy's.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np
from scipy.optimize import minimize
from scipy.special import expit, log_expit
from sklearn import config_context
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits

from latentflow.bmld.stimuli import StimulusSet

GUESS_RATE = 0.5


@dataclass(frozen=True)
class DetectionCurve:
    """Cross-validated detection accuracy on each rung of a TNR ladder."""

    tnr_db: tuple[float, ...]
    correct: tuple[tuple[bool, ...], ...]  # per rung, per trial (trial order): scored correctly?
    n_splits: int
    seed: int

    @property
    def n_trials(self) -> tuple[int, ...]:
        return tuple(len(rung) for rung in self.correct)

    @property
    def n_correct(self) -> tuple[int, ...]:
        return tuple(int(sum(rung)) for rung in self.correct)

    @property
    def accuracy(self) -> tuple[float, ...]:
        return tuple(c / n for c, n in zip(self.n_correct, self.n_trials, strict=True))


@dataclass(frozen=True)
class PsychometricFit:
    threshold_db: float  # the 75 %-correct point
    width_db: float  # logistic scale: accuracy goes 0.62 -> 0.87 over threshold -+ 1.1 width
    censored: str | None  # "above" / "below" the ladder, or None
    converged: bool

    def predict(self, tnr_db) -> np.ndarray:
        return psychometric(np.asarray(tnr_db, dtype=float), self.threshold_db, self.width_db)


@dataclass(frozen=True)
class BmldResult:
    """BMLD of one model on one (N0S0, N0Spi) pair; ``bmld_db`` is NaN when undefined."""

    model: str
    site: str
    bmld_db: float
    confidence_interval: tuple[float, float]
    confidence: float
    n_resamples: int
    seed: int
    threshold_n0s0_db: float
    threshold_n0spi_db: float
    censored_n0s0: str | None
    censored_n0spi: str | None
    converged_n0s0: bool
    converged_n0spi: bool
    n_failed_resamples: int  # replicates whose refit did not converge (left out of the interval)
    curve_n0s0: DetectionCurve
    curve_n0spi: DetectionCurve
    # The replicates' thresholds (NaN where a refit failed), kept so that rows on stimulus sets
    # drawn with the same seed can be compared trial-paired (see table.py's speech_envelopes).
    replicates_n0s0_db: tuple[float, ...] = ()
    replicates_n0spi_db: tuple[float, ...] = ()
    ablation: str | None = None
    target: str = "tone"

    # More failed replicates than this share make the interval untrustworthy.
    MAX_FAILED_SHARE = 0.05

    @property
    def converged(self) -> bool:
        """Both point fits converged and at most MAX_FAILED_SHARE of the replicate refits failed."""
        return bool(self.converged_n0s0 and self.converged_n0spi
                    and self.n_failed_resamples <= self.MAX_FAILED_SHARE * self.n_resamples)

    @property
    def censored(self) -> bool:
        return bool(self.censored_n0s0 or self.censored_n0spi)

    @property
    def judgeable(self) -> bool:
        """A verdict may rest on this result: nothing censored, every fit converged."""
        return self.converged and not self.censored

    @property
    def interval_covers_zero(self) -> bool:
        low, high = self.confidence_interval
        return bool(low <= 0.0 <= high)

    def interval_within(self, margin_db: float) -> bool:
        """The whole interval lies inside +-margin_db: evidence of a BMLD near zero, not just no evidence against."""
        low, high = self.confidence_interval
        return bool(-margin_db <= low and high <= margin_db)

    def summary(self) -> str:
        low, high = self.confidence_interval
        note = ""
        if self.censored:
            note = f" (threshold censored: N0S0 {self.censored_n0s0 or '-'}, N0Spi {self.censored_n0spi or '-'})"
        if not self.converged:
            note += (f" (not converged: N0S0 {self.converged_n0s0}, N0Spi {self.converged_n0spi}, "
                     f"{self.n_failed_resamples} failed resamples)")
        return (f"{self.model}: BMLD {self.bmld_db:.1f} dB [{low:.1f}, {high:.1f}] "
                f"({self.confidence:.0%} bootstrap, {self.n_resamples} resamples){note}")


def psychometric(x: np.ndarray, threshold: float, width: float) -> np.ndarray:
    return GUESS_RATE + (1 - GUESS_RATE) * expit((x - threshold) / width)


def detection_curve(features: np.ndarray, labels: np.ndarray, tnr_db: np.ndarray, *, seed: int = 0,
                    n_splits: int = 5, regularisation: float = 1.0) -> DetectionCurve:
    """Cross-validated linear detection accuracy per rung (see the module docstring)."""
    features = np.asarray(features, dtype=np.float64)
    labels = np.asarray(labels)
    tnr_db = np.asarray(tnr_db, dtype=np.float64)
    if features.ndim != 2 or len(features) != len(labels) or len(labels) != len(tnr_db):
        raise ValueError(f"need features (N, D), labels (N,), tnr_db (N,); got {features.shape}, "
                         f"{labels.shape}, {tnr_db.shape}")
    if not np.all(np.isfinite(features)):
        raise ValueError("features must be finite (a model gave NaN or infinite values)")
    rungs = np.unique(tnr_db)
    per_rung = []
    splits: dict[bytes, list] = {}  # the folds depend only on the labels' order (and the seed)
    # The scaler and the detector are fitted as a Pipeline of the two would fit them (same
    # numbers), without its per-call overhead: a curve is 60 fits of tens of trials, where
    # sklearn's parameter validation and finiteness checks (done once above) cost more than
    # the fits themselves (measured: about half of a curve's time).
    with config_context(assume_finite=True, skip_parameter_validation=True):
        for rung in rungs:
            rows = tnr_db == rung
            x, y = features[rows], labels[rows]
            if min(np.sum(y == 0), np.sum(y == 1)) < n_splits:
                raise ValueError(f"rung {rung:g} dB has {np.sum(y == 1)} target and {np.sum(y == 0)} no-target "
                                 f"trials; {n_splits}-fold cross-validation needs at least {n_splits} of each")
            key = y.tobytes()
            if key not in splits:
                folds = StratifiedKFold(n_splits=n_splits, shuffle=True, random_state=seed)
                splits[key] = list(folds.split(x, y))
            correct = np.zeros(len(y), dtype=bool)
            for train, test in splits[key]:
                # liblinear: about 8x faster than lbfgs on these small rung-sized problems (measured);
                # it also penalises the intercept, which is harmless on standardised features.
                scaler = StandardScaler().fit(x[train])
                detector = LogisticRegression(C=regularisation, solver="liblinear", max_iter=2000, random_state=seed)
                detector.fit(scaler.transform(x[train]), y[train])
                correct[test] = detector.predict(scaler.transform(x[test])) == y[test]
            per_rung.append(tuple(bool(c) for c in correct))
    return DetectionCurve(tuple(float(r) for r in rungs), tuple(per_rung), n_splits, seed)


def fit_psychometric(tnr_db, n_correct, n_trials, start: tuple[float, float] | None = None) -> PsychometricFit:
    """Binomial maximum-likelihood logistic fit with guess rate 0.5 (see the module docstring)."""
    x = np.asarray(tnr_db, dtype=np.float64)
    k = np.asarray(n_correct, dtype=np.float64)
    n = np.asarray(n_trials, dtype=np.float64)
    if not (x.shape == k.shape == n.shape) or np.any(k < 0) or np.any(k > n):
        raise ValueError(f"need tnr_db, n_correct, n_trials of one shape with 0 <= n_correct <= n_trials; "
                         f"got {x.shape}, {k.shape}, {n.shape}")
    low, high = float(x.min()), float(x.max())
    span = max(high - low, 1.0)
    # The threshold may sit up to two ladder spans beyond either end (then it is censored); the
    # width is searched on a log scale between a fraction of a rung and two spans.
    threshold_bounds = (low - 2 * span, high + 2 * span)
    log_width_bounds = (math.log(0.05 * span / len(x)), math.log(2 * span))
    if start is None:
        above = np.nonzero(k >= 0.75 * n)[0]
        start = (float(x[above[0]]) if len(above) else high + 0.25 * span, span / 8)
    start_vector = np.array([np.clip(start[0], *threshold_bounds), np.clip(math.log(start[1]), *log_width_bounds)])

    def negative_log_likelihood(params: np.ndarray) -> tuple[float, np.ndarray]:
        threshold, log_width = params
        width = math.exp(log_width)
        z = (x - threshold) / width
        # p = 0.5 + 0.5 sigmoid(z): log p = log(1 + sigmoid(z)) - log 2, log(1 - p) = log_expit(-z) - log 2.
        sigmoid = expit(z)
        log_p = np.log1p(sigmoid)
        log_q = log_expit(-z)
        value = -float(np.sum(k * log_p + (n - k) * log_q))
        # d/dz: k * s(1-s)/(1+s) - (n - k) * s
        d_z = k * sigmoid * (1 - sigmoid) / (1 + sigmoid) - (n - k) * sigmoid
        grad_threshold = float(np.sum(d_z)) / width  # dz/dthreshold = -1/width, and the sign of -LL
        grad_log_width = float(np.sum(d_z * z))  # dz/dlog_width = -z
        return value, np.array([grad_threshold, grad_log_width])

    outcome = minimize(negative_log_likelihood, start_vector, jac=True, method="L-BFGS-B",
                       bounds=[threshold_bounds, log_width_bounds], options={"maxiter": 500})
    threshold, log_width = (float(v) for v in outcome.x)
    # A fit resting on a threshold bound, or on the widest width, is a maximum of the box, not of
    # the likelihood. The narrowest width is different: it is the resolution floor of the ladder
    # (a curve that jumps from guessing to ceiling between two rungs), and the threshold is then
    # still the likelihood's maximum between those rungs, so a fit there counts as converged.
    at_bound = (min(threshold - threshold_bounds[0], threshold_bounds[1] - threshold) < 1e-6 * span
                or log_width_bounds[1] - log_width < 1e-6)
    converged = bool(outcome.success) and not at_bound
    censored = "above" if threshold > high else "below" if threshold < low else None
    return PsychometricFit(threshold, math.exp(log_width), censored, converged)


def bmld(curve_n0s0: DetectionCurve, curve_n0spi: DetectionCurve, *, model: str = "", site: str = "",
         seed: int = 0, n_resamples: int = 400, confidence: float = 0.95, ablation: str | None = None,
         target: str = "tone") -> BmldResult:
    """BMLD = threshold(N0S0) - threshold(N0Spi) with a seeded, paired bootstrap interval."""
    if curve_n0s0.tnr_db != curve_n0spi.tnr_db or curve_n0s0.n_trials != curve_n0spi.n_trials:
        raise ValueError("the N0S0 and N0Spi curves must share one TNR ladder and trial count per rung "
                         "(their trials are paired)")
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must lie in (0, 1), got {confidence}")
    if n_resamples < 10:
        raise ValueError(f"n_resamples must be >= 10, got {n_resamples}")
    fit_s0 = _fit(curve_n0s0)
    fit_spi = _fit(curve_n0spi)
    replicates = paired_bootstrap_thresholds(curve_n0s0, curve_n0spi, fits=(fit_s0, fit_spi), seed=seed,
                                             n_resamples=n_resamples)
    difference = replicates[:, 0] - replicates[:, 1]
    interval = percentile_interval(difference, confidence)
    value = fit_s0.threshold_db - fit_spi.threshold_db
    return BmldResult(
        model=model, site=site, bmld_db=float(value) if math.isfinite(value) else math.nan,
        confidence_interval=interval, confidence=confidence, n_resamples=n_resamples, seed=seed,
        threshold_n0s0_db=fit_s0.threshold_db, threshold_n0spi_db=fit_spi.threshold_db,
        censored_n0s0=fit_s0.censored, censored_n0spi=fit_spi.censored,
        converged_n0s0=fit_s0.converged, converged_n0spi=fit_spi.converged,
        n_failed_resamples=int(np.sum(~np.isfinite(difference))),
        curve_n0s0=curve_n0s0, curve_n0spi=curve_n0spi,
        replicates_n0s0_db=tuple(float(v) for v in replicates[:, 0]),
        replicates_n0spi_db=tuple(float(v) for v in replicates[:, 1]),
        ablation=ablation, target=target,
    )


def percentile_interval(values: np.ndarray, confidence: float) -> tuple[float, float]:
    """The central ``confidence`` percentile interval of the finite values (NaN, NaN if none)."""
    finite = np.asarray(values, dtype=np.float64)
    finite = finite[np.isfinite(finite)]
    if len(finite) == 0:
        return math.nan, math.nan
    tail = (1 - confidence) / 2
    return float(np.quantile(finite, tail)), float(np.quantile(finite, 1 - tail))


def paired_bootstrap_thresholds(*curves: DetectionCurve, fits: tuple[PsychometricFit, ...], seed: int,
                                n_resamples: int) -> np.ndarray:
    """(n_resamples, len(curves)) refitted thresholds; NaN where a refit did not converge.

    Every replicate draws one set of trial indices per rung (with replacement, from ``seed``)
    and applies it to all curves, whose trials must be paired index by index.
    """
    if len({curve.n_trials for curve in curves}) > 1:
        raise ValueError("paired curves need the same number of trials on every rung")
    thresholds = np.empty((n_resamples, len(curves)))
    # L-BFGS-B calls BLAS on 2-vectors; a multi-threaded BLAS spends 20x longer waking its threads
    # than computing (measured 17 ms vs 0.8 ms per fit on 2 shared cores), so refit on one thread.
    with threadpool_limits(limits=1):
        for j, (curve, fit) in enumerate(zip(curves, fits, strict=True)):
            thresholds[:, j] = _curve_replicates(curve, fit, seed, n_resamples)
    return thresholds


# The draws depend only on the seed and the trials per rung, and a curve's refits only on the
# draws, its correct/incorrect scores and its point fit (the start): so a curve that recurs (a
# one-ear model's curve in both conditions, the same run judged by several hypotheses or
# controls, an ablation that leaves a condition's features unchanged) is refitted once per
# process, with the same numbers. 64 curves of replicates: at most 51 MB at the largest
# resamples a spec allows (100000).
@functools.lru_cache(maxsize=64)
def _curve_replicates(curve: DetectionCurve, fit: PsychometricFit, seed: int, n_resamples: int) -> np.ndarray:
    scores = [np.asarray(rung, dtype=np.int64) for rung in curve.correct]
    n_trials = np.asarray(curve.n_trials)
    rng = np.random.default_rng(seed)
    out = np.empty(n_resamples)
    for i in range(n_resamples):  # on one BLAS thread (paired_bootstrap_thresholds)
        picks = [rng.integers(0, n, size=n) for n in n_trials]
        counts = [int(rung[pick].sum()) for rung, pick in zip(scores, picks, strict=True)]
        refit = fit_psychometric(curve.tnr_db, counts, n_trials, start=(fit.threshold_db, fit.width_db))
        out[i] = refit.threshold_db if refit.converged else math.nan
    out.setflags(write=False)
    return out


def _fit(curve: DetectionCurve) -> PsychometricFit:
    return fit_psychometric(curve.tnr_db, curve.n_correct, curve.n_trials)


def probe_bmld(reference: str, n0s0: StimulusSet, n0spi: StimulusSet, *, seed: int = 0, n_resamples: int = 400,
               confidence: float = 0.95, **model_params) -> BmldResult:
    """Features of a registered reference model on both sets -> curves -> :class:`BmldResult`."""
    from latentflow.bmld.references import REFERENCE_MODELS

    if (n0s0.condition, n0spi.condition) != ("N0S0", "N0Spi"):
        raise ValueError(f"probe_bmld needs an N0S0 and an N0Spi set, got {n0s0.condition} and {n0spi.condition}")
    entry = REFERENCE_MODELS.get(reference)
    curves = [
        detection_curve(entry.features(s, **model_params), s.labels, s.tnr_db, seed=seed) for s in (n0s0, n0spi)
    ]
    return bmld(*curves, model=reference, site=entry.site, seed=seed, n_resamples=n_resamples,
                confidence=confidence, ablation=n0s0.ablation, target=n0s0.config.target)


__all__ = ["BmldResult", "DetectionCurve", "PsychometricFit", "bmld", "detection_curve", "fit_psychometric",
           "paired_bootstrap_thresholds", "percentile_interval", "probe_bmld", "psychometric"]
