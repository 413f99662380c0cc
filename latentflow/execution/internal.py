"""Internal measures: statistics of activations recorded during sampling, per example.

Caching whole attention maps for every layer and step does not fit in memory for long
trajectories, so an internal measure is a *reducer* (applied at the hook, keeps a small
per-example tensor) plus an *aggregate* (records of the selected sites and steps -> one number
per example). Only the sites a hypothesis measures are recorded.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import Tensor

from ..metrics.attention import example_entropy_rate, pattern_entropy
from ..registry import Param, Registry

# (site, step, evaluation) -> reduced tensor of shape (B, ...)
Records = Mapping[tuple[str, int | None, int | None], Tensor]


@dataclass(frozen=True)
class RecordContext:
    """What reducers may need: masks, and each example's target span in frames."""

    audio_mask: Tensor | None  # (B, T) bool
    text_mask: Tensor | None  # (B, L) bool
    span_frames: Tensor | None = None  # (B, 2) long, [start, end) in latent frames


@dataclass(frozen=True)
class InternalMeasure:
    name: str
    site_suffixes: tuple[str, ...]  # which hook points it reads, e.g. ("hook_pattern",)
    reduce: Callable[[Tensor, str, RecordContext], Tensor]
    aggregate: Callable[[Records, Mapping[str, Any]], np.ndarray]
    params: Mapping[str, Param] = field(default_factory=dict)
    higher_is_better: bool = True
    doc: str = ""


INTERNAL_MEASURES: Registry[InternalMeasure] = Registry("internal measure")


def _entropy(pattern: Tensor, site: str, rc: RecordContext) -> Tensor:
    self_attention = ".attn." in site
    mask = rc.audio_mask if self_attention else rc.text_mask
    if mask is not None and mask.shape[-1] != pattern.shape[-1]:
        mask = None  # memory without text: one key, no mask
    return pattern_entropy(pattern, key_mask=mask, query_mask=rc.audio_mask if self_attention else None)


def _by_site(records: Records, evaluation: int = 0) -> dict[str, list[tuple[int, Tensor]]]:
    out: dict[str, list[tuple[int, Tensor]]] = {}
    for (site, step, ev), value in records.items():
        if ev in (None, evaluation):
            out.setdefault(site, []).append((-1 if step is None else step, value))
    return {site: sorted(values, key=lambda sv: sv[0]) for site, values in sorted(out.items())}


def _mean_entropy(records: Records, args: Mapping[str, Any]) -> np.ndarray:
    per_site = [torch.stack([v for _, v in values]).float().mean(dim=(0, 2)) for values in _by_site(records).values()]
    return torch.stack(per_site).mean(0).double().numpy()


def _entropy_rate(records: Records, args: Mapping[str, Any]) -> np.ndarray:
    rates = []
    for site, values in _by_site(records).items():
        if len(values) < 2:
            raise ValueError(f"entropy_rate at {site!r} needs at least 2 sampler steps, got {len(values)}")
        rates.append(example_entropy_rate(torch.stack([v for _, v in values])))  # (steps, B, H) -> (B,)
    return torch.stack(rates).mean(0).double().numpy()


def _boundary_contrast(activation: Tensor, site: str, rc: RecordContext) -> Tensor:
    """How far the stream's frames inside the target span sit from those outside, per example:
    the distance of the two temporal means over the mean per-frame spread (a Fisher-like ratio)."""
    if rc.span_frames is None:
        raise ValueError("boundary_contrast needs each example's span "
                         "(data with span prompts or targets in a sub-span)")
    B, T = activation.shape[:2]
    frames = torch.arange(T, device=activation.device)[None, :]
    inside = (frames >= rc.span_frames[:, :1]) & (frames < rc.span_frames[:, 1:])
    if rc.audio_mask is not None:
        real = rc.audio_mask
    else:
        real = torch.ones(B, T, dtype=torch.bool, device=activation.device)
    x = activation.float()
    values = []
    for b in range(B):
        a, o = x[b][inside[b] & real[b]], x[b][~inside[b] & real[b]]
        if len(a) < 2 or len(o) < 2:
            values.append(torch.tensor(float("nan")))
            continue
        spread = 0.5 * (a.var(0).mean() + o.var(0).mean()).sqrt()
        values.append((a.mean(0) - o.mean(0)).norm() / (spread * x.shape[-1] ** 0.5 + 1e-12))
    return torch.stack(values)


def _mean_over_records(records: Records, args: Mapping[str, Any]) -> np.ndarray:
    per_site = [torch.stack([v for _, v in values]).float().mean(0) for values in _by_site(records).values()]
    return torch.stack(per_site).mean(0).double().numpy()


INTERNAL_MEASURES.register("attention_entropy", InternalMeasure(
    "attention_entropy", ("hook_pattern",), _entropy, _mean_entropy,
    doc="entropy of attention probabilities (normalised by log of the real keys), mean over queries, "
        "heads, the selected sites and steps"))
INTERNAL_MEASURES.register("entropy_rate", InternalMeasure(
    "entropy_rate", ("hook_pattern",), _entropy, _entropy_rate, higher_is_better=False,
    doc="mean absolute step-to-step change of attention entropy over the sampling trajectory "
        "(grid-time evaluations), mean over heads and the selected sites"))
INTERNAL_MEASURES.register("boundary_contrast", InternalMeasure(
    "boundary_contrast", ("hook_resid_pre", "hook_resid_post", "hook_resid_mid", "hook_resid_cross",
                          "hook_cross_out", "hook_attn_out", "hook_mlp_out", "hook_dit_in", "hook_embed"),
    _boundary_contrast, _mean_over_records,
    doc="separation of in-span and out-of-span frames of an activation (B, T, d): distance of their "
        "temporal means over their spread; how strongly span boundaries are represented"))
