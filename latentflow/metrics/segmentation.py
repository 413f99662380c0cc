"""Temporal selectivity of a separated output: the Block Ratio (BR).

The paper's gate-hijack experiment reports a "Block Ratio" without defining it; latentflow reads
it as the ratio of the output's mean power per second inside the anchored span to that outside:

    BR = (E_in / duration_in) / (E_out / duration_out)

BR = 1 means no temporal selectivity; larger values mean the output is concentrated in the
span. Examples whose span covers (almost) the whole clip or nothing have no outside or inside
and get NaN with that reason.

``block_ratio_db`` is the same ratio in decibels, 10 log10 BR. Use it for paired tests and
effect sizes: a near-silent output outside the span makes BR itself arbitrarily large (1e7 and
more), so raw differences of BR are dominated by a few examples, while the log ratio is not.
"""

from __future__ import annotations

import numpy as np

from latentflow.metrics.registry import register_metric
from latentflow.metrics.result import MetricResult

MIN_REGION_SECONDS = 0.1


def block_ratio(*, estimate, span, sample_rate: int = 16000) -> MetricResult:
    """BR per example; ``estimate`` (B, N) waveforms, ``span`` (B, 2) start/end seconds."""
    x = np.asarray(estimate, dtype=np.float64)
    spans = np.asarray(span, dtype=np.float64)
    if x.ndim != 2 or spans.shape != (x.shape[0], 2):
        raise ValueError(f"block_ratio needs estimate (B, N) and span (B, 2); got {x.shape} and {spans.shape}")
    values: list[float] = []
    reasons: list[str | None] = []
    n = x.shape[1]
    for row, (start, end) in zip(x, spans, strict=True):
        a, b = int(round(start * sample_rate)), int(round(end * sample_rate))
        a, b = max(0, min(a, n)), max(0, min(b, n))
        inside, outside = b - a, n - (b - a)
        if min(inside, outside) < MIN_REGION_SECONDS * sample_rate:
            values.append(np.nan)
            reasons.append(f"span {start:.2f}-{end:.2f} s leaves less than {MIN_REGION_SECONDS} s inside or outside")
            continue
        power = row**2
        p_in = power[a:b].mean()
        p_out = np.concatenate([power[:a], power[b:]]).mean()
        if p_out <= 0:
            values.append(np.nan)
            reasons.append("the output is exactly silent outside the span (ratio undefined)")
            continue
        values.append(p_in / p_out)
        reasons.append(None)
    return MetricResult("block_ratio", np.array(values), tuple(reasons))


def block_ratio_db(*, estimate, span, sample_rate: int = 16000) -> MetricResult:
    """10 log10 BR per example (NaN with BR's reason where BR is undefined)."""
    ratio = block_ratio(estimate=estimate, span=span, sample_rate=sample_rate)
    with np.errstate(divide="ignore"):
        values = 10.0 * np.log10(ratio.values)
    silent = "the output is exactly silent inside the span"
    reasons = tuple(reason if reason is not None or np.isfinite(value) else silent
                    for reason, value in zip(ratio.reasons, values, strict=True))
    values = np.where(np.isfinite(values), values, np.nan)
    return MetricResult("block_ratio_db", values, reasons)


register_metric(
    "block_ratio", block_ratio, higher_is_better=True, unit="ratio", requires=("estimate", "span"),
    accepts=("sample_rate",), compare=("target",),
    description="output power per second inside the anchored span over that outside (temporal selectivity)",
)

register_metric(
    "block_ratio_db", block_ratio_db, higher_is_better=True, unit="dB", requires=("estimate", "span"),
    accepts=("sample_rate",), compare=("target",),
    description="the block ratio in decibels, 10 log10 BR (for paired tests: robust to near-silent outsides)",
)
