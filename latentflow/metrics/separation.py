"""Separation quality of an estimated source: SI-SNR, its improvement, SAR, and a full report.

Every metric takes batched waveforms, (B, N) numpy arrays or torch tensors (a 1-D input is
one example), computes in float64 and returns a (B,) float64 numpy array. The ``*_result``
variants return a :class:`~latentflow.metrics.result.MetricResult` that also says, per
example, why a value is NaN.

NaN policy (the same for every metric here and in :mod:`latentflow.metrics.perceptual`):
    * ValueError for whole-call mistakes: wrong rank, shapes that differ, an empty signal, a
      non-real dtype, a sample rate the metric cannot use.
    * NaN with a reason for one example that cannot be scored: a NaN or infinite sample in
      any input, a silent target, estimate or mixture (RMS below ``SILENCE_RMS``; none of
      these metrics is defined for silence), a clip too short for the metric, or the
      reference library refusing the clip (PESQ's "no utterances detected").
    * An estimate that is an exact scaled copy of the target has SI-SNR = +inf (no error
      at all); that is a correct value, not NaN.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

import numpy as np

from latentflow.metrics._inputs import (
    Reasons,
    as_batch,
    check_same_shape,
    check_sample_rate,
    mark_nonfinite,
    mark_silent,
    zero_bad_rows,
)
from latentflow.metrics.bss import DEFAULT_FILTER_LENGTH, bss_eval
from latentflow.metrics.perceptual import PESQ_MODES, pesq_result, stoi_result
from latentflow.metrics.result import MetricResult
from latentflow.vocabulary import REPORT_METRICS


def si_snr_result(estimate, target) -> MetricResult:
    """Scale-invariant SNR in dB (zero-mean signals), per example.

    With ``e`` and ``s`` the zero-mean estimate and target, ``s_t = (<e, s> / ||s||^2) s``
    and ``SI-SNR = 10 log10(||s_t||^2 / ||e - s_t||^2)``.
    """
    est = as_batch(estimate, "estimate")
    tgt = as_batch(target, "target")
    check_same_shape(estimate=est, target=tgt)
    reasons = Reasons(est.shape[0])
    mark_nonfinite(reasons, estimate=est, target=tgt)
    est = _zero_mean(zero_bad_rows(est, reasons.bad()))
    tgt = _zero_mean(zero_bad_rows(tgt, reasons.bad()))
    # Silence is judged after removing the mean: a constant offset carries no signal here.
    mark_silent(reasons, estimate=est, target=tgt)
    bad = reasons.bad()
    est, tgt = zero_bad_rows(est, bad), zero_bad_rows(tgt, bad)
    tgt[bad] = 1.0  # any non-zero row keeps the division quiet; the value is replaced by NaN

    scale = np.sum(est * tgt, axis=1) / np.sum(tgt * tgt, axis=1)
    projection = scale[:, None] * tgt
    noise = est - projection
    with np.errstate(divide="ignore", invalid="ignore"):
        values = 10.0 * np.log10(np.sum(projection**2, axis=1) / np.sum(noise**2, axis=1))
    values[bad] = np.nan
    return MetricResult("si_snr", values, reasons.as_tuple())


def si_snr_improvement_result(estimate, target, mixture) -> MetricResult:
    """SI-SNR of the estimate minus SI-SNR of the unprocessed mixture, both against the target (dB)."""
    est = as_batch(estimate, "estimate")
    mix = as_batch(mixture, "mixture")
    tgt = as_batch(target, "target")
    check_same_shape(estimate=est, target=tgt, mixture=mix)
    separated = si_snr_result(est, tgt)
    unprocessed = si_snr_result(mix, tgt)
    reasons = tuple(
        a if a is not None else _as_mixture_reason(b)
        for a, b in zip(separated.reasons, unprocessed.reasons, strict=True)
    )
    return MetricResult("si_snr_improvement", separated.values - unprocessed.values, reasons)


def _as_mixture_reason(reason: str | None) -> str | None:
    # si_snr_result(mixture, target) calls the mixture "estimate" in its reasons.
    return None if reason is None else reason.replace("estimate", "mixture", 1)


def sar_result(estimate, target, interference=None, *,
               filter_length: int = DEFAULT_FILTER_LENGTH) -> MetricResult:
    """BSS Eval v3 signal-to-artifacts ratio in dB (see :mod:`latentflow.metrics.bss`)."""
    return bss_eval(estimate, target, interference, filter_length=filter_length).sar


def si_snr(estimate, target) -> np.ndarray:
    """SI-SNR (dB) per example, shape (B,); see :func:`si_snr_result`."""
    return np.array(si_snr_result(estimate, target).values)


def si_snr_improvement(estimate, target, mixture) -> np.ndarray:
    """SI-SNR improvement over the mixture (dB) per example, shape (B,)."""
    return np.array(si_snr_improvement_result(estimate, target, mixture).values)


def sar(estimate, target, interference=None, *,
        filter_length: int = DEFAULT_FILTER_LENGTH) -> np.ndarray:
    """SAR (dB) per example, shape (B,); see :func:`sar_result`."""
    return np.array(sar_result(estimate, target, interference, filter_length=filter_length).values)


def _zero_mean(batch: np.ndarray) -> np.ndarray:
    return batch - np.mean(batch, axis=1, keepdims=True)


@dataclass(frozen=True)
class SeparationReport:
    """All separation metrics for a batch, one (B,) float64 array per metric.

    ``reasons[name][i]`` says why ``getattr(report, name)[i]`` is NaN (None where it is a
    number). ``sar`` used ``interference_source``: "given" or "mixture - target".
    """

    si_snr: np.ndarray
    si_snr_improvement: np.ndarray
    sar: np.ndarray
    stoi: np.ndarray
    pesq: np.ndarray
    reasons: Mapping[str, tuple[str | None, ...]] = field(repr=False)
    sample_rate: int = 16000
    interference_source: str = "mixture - target"

    @property
    def n_examples(self) -> int:
        return int(self.si_snr.shape[0])

    def as_dict(self) -> dict:
        """Plain, JSON-ready dict (NaN becomes None, with its reason alongside)."""
        return {
            "sample_rate": self.sample_rate,
            "interference_source": self.interference_source,
            "metrics": {
                name: {
                    "values": [None if np.isnan(v) else float(v) for v in getattr(self, name)],
                    "reasons": list(self.reasons[name]),
                }
                for name in REPORT_METRICS
            },
        }


def separation_report(estimate, target, mixture, interference=None, sample_rate: int = 16000,
                      *, workers: int = 1,
                      filter_length: int = DEFAULT_FILTER_LENGTH) -> SeparationReport:
    """Every separation metric for a batch of estimates.

    ``interference`` defaults to ``mixture - target`` (what the tiers' mixtures are made
    of), so SAR projects on the target and the rest of the mixture, as bss_eval_sources does
    with two sources. ``workers`` > 1 computes STOI and PESQ in that many processes.
    """
    # PESQ's constraint is checked first so that a wrong rate fails before any slow work.
    rate = check_sample_rate(sample_rate, PESQ_MODES["wb"], what="PESQ mode 'wb'")
    est = as_batch(estimate, "estimate")
    tgt = as_batch(target, "target")
    mix = as_batch(mixture, "mixture")
    check_same_shape(estimate=est, target=tgt, mixture=mix)
    source = "given"
    if interference is None:
        interference, source = mix - tgt, "mixture - target"
    results: dict[str, MetricResult] = {
        "si_snr": si_snr_result(est, tgt),
        "si_snr_improvement": si_snr_improvement_result(est, tgt, mix),
        "sar": sar_result(est, tgt, interference, filter_length=filter_length),
        "stoi": stoi_result(est, tgt, rate, workers=workers),
        "pesq": pesq_result(est, tgt, rate, workers=workers),
    }
    return SeparationReport(
        **{name: np.array(result.values) for name, result in results.items()},
        reasons=MappingProxyType({name: result.reasons for name, result in results.items()}),
        sample_rate=rate,
        interference_source=source,
    )
