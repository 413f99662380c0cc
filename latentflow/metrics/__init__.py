"""Separation-quality metrics and the registry that names them.

Each metric takes batched waveforms ((B, N) numpy arrays or torch tensors) and returns a
(B,) float64 array; the ``*_result`` forms also give per-example reasons for NaN values.
The registry (:func:`get_metric`, :func:`compute_metric`, :func:`register_metric`) is how
specs refer to metrics by name. Modules that add metrics register them when imported; add
their import below to make them part of the built-in set.
"""

from __future__ import annotations

from latentflow.metrics._inputs import SILENCE_RMS
from latentflow.metrics.bss import DEFAULT_FILTER_LENGTH, BssEvalResult, bss_eval
from latentflow.metrics.perceptual import pesq, pesq_result, stoi, stoi_result
from latentflow.metrics.registry import (
    MetricInfo,
    UnknownMetricError,
    available_metrics,
    compute_metric,
    get_metric,
    register_metric,
    unregister_metric,
)
from latentflow.metrics.result import MetricResult
from latentflow.metrics.segmentation import block_ratio, block_ratio_db
from latentflow.metrics.separation import (
    SeparationReport,
    sar,
    sar_result,
    separation_report,
    si_snr,
    si_snr_improvement,
    si_snr_improvement_result,
    si_snr_result,
)

__all__ = [
    "DEFAULT_FILTER_LENGTH",
    "SILENCE_RMS",
    "BssEvalResult",
    "MetricInfo",
    "MetricResult",
    "SeparationReport",
    "UnknownMetricError",
    "available_metrics",
    "block_ratio",
    "block_ratio_db",
    "bss_eval",
    "compute_metric",
    "get_metric",
    "pesq",
    "pesq_result",
    "register_metric",
    "sar",
    "sar_result",
    "separation_report",
    "si_snr",
    "si_snr_improvement",
    "si_snr_improvement_result",
    "si_snr_result",
    "stoi",
    "stoi_result",
    "unregister_metric",
]
