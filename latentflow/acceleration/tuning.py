"""Tuning: measure each layer's self-attention entropy over the sampling steps on a few
examples, classify layers stable or fast, and derive the LSAC presets.

Measure (the same as the convergence metrics, :mod:`latentflow.metrics.attention`): per
example, layer, head and step, the normalised entropy of the self-attention map averaged over
real queries; for midpoint sampling the grid-time evaluation of each step (``evaluation=0``).
A layer's trajectory is the mean over examples and heads; its rate is the mean absolute
step-to-step change of that trajectory (``layer_entropy_rate``, not the spec measure
``entropy_rate``, which is per example); it is *stable* when the rate is at most ``threshold``. Its settling step
is the first step after which every step-to-step change stays within ``threshold``.

Presets, for N sampling steps (N = 16: steps 8, 4, 2):

=========== ==================================================================================
Safe        stable layers, each from ``max(N // 2, settling step)``
Balanced    stable layers, each from ``max(N // 4, settling step)`` (the paper's "stable
            layers frozen from step 4")
Aggressive  stable layers from ``max(N // 8, settling step)``, and fast layers from ``N // 2``
            (the paper's "fast layers frozen at step 8")
=========== ==================================================================================

A freeze step at or past N - 1 caches nothing (see :mod:`latentflow.acceleration.lsac`).

Adaptive refresh: the candidates are all layers from step ``N // 8``. Its drift threshold is
either given, or tuned to a compute budget by :func:`tune_drift_threshold`: the smallest
threshold (the most refreshing, so the most faithful) whose self-attention saving on the
tuning examples reaches the target. A budget is the natural knob for a user ("save 35%"),
and it makes adaptive and static caching comparable at equal compute.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType

import numpy as np
import torch

from latentflow.metrics.attention import (
    DEFAULT_STABLE_THRESHOLD,
    ConvergenceSummary,
    pattern_entropy,
    summarize_convergence,
)
from latentflow.model import Conditioning, SamAudioModel, sample

from .adaptive import DEFAULT_DRIFT_THRESHOLD, AdaptiveConfig, sample_adaptive
from .flops import count_for
from .lsac import LSACPlan
from .record import ComputeRecord

PRESET_NAMES = ("safe", "balanced", "aggressive")


@dataclass(frozen=True)
class EntropyProfile:
    """Normalised self-attention entropy, shaped (steps, examples, layers, heads)."""

    entropy: np.ndarray
    n_steps: int
    method: str
    evaluation: int

    def summary(self, threshold: float = DEFAULT_STABLE_THRESHOLD) -> ConvergenceSummary:
        return summarize_convergence(self.entropy, threshold)


def measure_entropy_profile(
    model: SamAudioModel,
    conds: Conditioning | Sequence[Conditioning],
    *,
    steps: int = 16,
    method: str = "euler",
    seeds: Sequence[int] | None = None,
    evaluation: int = 0,
) -> EntropyProfile:
    """Run the sampler on tuning examples and record every layer's entropy per step.

    ``conds``: one batch or several; ``seeds``: one noise seed per example over all batches
    (default 10_000, 10_001, ...: tuning noise apart from the seeds benchmarks use).
    Entropies are computed inside the ``hook_pattern`` hooks, so no pattern is kept.
    """
    batches = [conds] if isinstance(conds, Conditioning) else list(conds)
    if not batches:
        raise ValueError("tuning needs at least one example")
    total = sum(b.batch_size for b in batches)
    seeds = list(range(10_000, 10_000 + total)) if seeds is None else list(seeds)
    if len(seeds) != total:
        raise ValueError(f"got {len(seeds)} seeds for {total} tuning examples")
    n_layers = model.cfg.n_layers
    per_batch = []
    offset = 0
    def recorder(found: dict[tuple[int, int], torch.Tensor], layer: int, mask: torch.Tensor | None) -> Callable:
        def hook(pattern: torch.Tensor, hook) -> None:
            state = model.sampling
            if state is not None and state.evaluation == evaluation:
                found[(state.step, layer)] = pattern_entropy(pattern, key_mask=mask, query_mask=mask).cpu()

        return hook

    for cond in batches:
        found: dict[tuple[int, int], torch.Tensor] = {}
        hooks: list[tuple[str | Callable, Callable]] = [
            (f"blocks.{layer}.attn.hook_pattern", recorder(found, layer, cond.audio_mask)) for layer in range(n_layers)
        ]
        with model.hooks(fwd_hooks=hooks):
            sample(model, cond, steps=steps, method=method, seeds=seeds[offset : offset + cond.batch_size])
        offset += cond.batch_size
        per_step = [torch.stack([found[(s, layer)] for layer in range(n_layers)], dim=1) for s in range(steps)]
        per_batch.append(torch.stack(per_step))  # (steps, B, L, H)
    entropy = torch.cat(per_batch, dim=1).numpy().astype(np.float64)
    entropy.setflags(write=False)
    return EntropyProfile(entropy=entropy, n_steps=steps, method=method, evaluation=evaluation)


@dataclass(frozen=True)
class LSACTuning:
    """The convergence summary of a tuning set and the plans derived from it."""

    summary: ConvergenceSummary
    n_steps: int
    presets: Mapping[str, LSACPlan]
    adaptive: AdaptiveConfig

    def plan(self, name: str) -> LSACPlan:
        try:
            return self.presets[name]
        except KeyError:
            raise ValueError(f"unknown LSAC preset {name!r}; allowed: {list(PRESET_NAMES)}") from None

    def to_dict(self) -> dict:
        return {
            "n_steps": self.n_steps,
            "convergence": self.summary.to_dict(),
            "presets": {name: plan.to_dict() for name, plan in self.presets.items()},
            "adaptive": self.adaptive.to_dict(),
        }


def preset_plans(summary: ConvergenceSummary) -> dict[str, LSACPlan]:
    """Safe / Balanced / Aggressive plans from a convergence summary (rules in the module doc)."""
    n = summary.n_steps
    settle = {layer: int(summary.settling[layer]) for layer in range(len(summary.rates))}
    stable, fast = summary.stable_layers, summary.fast_layers

    def from_step(layers: Sequence[int], step: int) -> dict[int, int]:
        return {layer: max(step, settle[layer]) for layer in layers}

    rules = {
        "safe": from_step(stable, n // 2),
        "balanced": from_step(stable, n // 4),
        "aggressive": {**from_step(stable, n // 8), **dict.fromkeys(fast, n // 2)},
    }
    return {name: LSACPlan(steps, n_steps=n, name=name) for name, steps in rules.items()}


def tune_lsac(
    profile: EntropyProfile,
    threshold: float = DEFAULT_STABLE_THRESHOLD,
    *,
    drift_threshold: float = DEFAULT_DRIFT_THRESHOLD,
) -> LSACTuning:
    """Classify layers by entropy rate and derive the presets and the adaptive candidates."""
    summary = profile.summary(threshold)
    n = profile.n_steps
    n_layers = len(summary.rates)
    adaptive = AdaptiveConfig.all_layers(n_layers, n // 8, drift_threshold, n_steps=n)
    return LSACTuning(
        summary=summary,
        n_steps=n,
        presets=MappingProxyType(preset_plans(summary)),
        adaptive=adaptive,
    )


@dataclass(frozen=True)
class ThresholdTuning:
    """The tuned adaptive config and the saving it reached on the tuning examples."""

    config: AdaptiveConfig
    target_saving: float
    achieved_saving: float
    evaluated: tuple[tuple[float, float], ...]  # (threshold, saving) pairs tried, in order

    @property
    def reached(self) -> bool:
        return self.achieved_saving >= self.target_saving


def tune_drift_threshold(
    model: SamAudioModel,
    conds: Conditioning | Sequence[Conditioning],
    candidates: AdaptiveConfig,
    *,
    target_saving: float,
    steps: int = 16,
    method: str = "euler",
    seeds: Sequence[int] | None = None,
    low: float = 1e-4,
    high: float = 10.0,
    iterations: int = 12,
) -> ThresholdTuning:
    """Bisect (in log space) for the smallest drift threshold whose self-attention saving on
    the tuning examples reaches ``target_saving``.

    Each example runs alone (batch 1), as refresh decisions are per example. The saving is
    the FLOP-weighted saving over all examples. If even ``high`` does not reach the target
    (the candidates cannot save that much), ``high`` is returned with ``reached`` False.
    """
    if not 0.0 < target_saving < 1.0:
        raise ValueError(f"target_saving must lie in (0, 1), got {target_saving!r}")
    if not 0.0 < low < high:
        raise ValueError(f"need 0 < low < high, got low={low!r}, high={high!r}")
    batches = [conds] if isinstance(conds, Conditioning) else list(conds)
    examples = [b.select([i]) for b in batches for i in range(b.batch_size)]
    if not examples:
        raise ValueError("threshold tuning needs at least one tuning example")
    seeds = list(range(10_000, 10_000 + len(examples))) if seeds is None else list(seeds)
    if len(seeds) != len(examples):
        raise ValueError(f"got {len(seeds)} seeds for {len(examples)} tuning examples")
    cfg = model.cfg
    tried: list[tuple[float, float]] = []

    counts = [count_for(cfg, ComputeRecord.full(cfg.n_layers, steps, method, 1), cond) for cond in examples]
    full = sum(counts[1:], counts[0])  # in example order, as the sums below

    def saving(threshold: float) -> float:
        config = AdaptiveConfig(candidates.start_steps, threshold, n_steps=steps, name=candidates.name)
        runs = [
            count_for(cfg, sample_adaptive(model, cond, config, steps=steps, method=method, seeds=[seed]).record, cond)
            for cond, seed in zip(examples, seeds, strict=True)
        ]
        value = sum(runs[1:], runs[0]).saved_vs(full)[0]
        tried.append((threshold, value))
        return value

    def result(threshold: float, value: float) -> ThresholdTuning:
        config = AdaptiveConfig(candidates.start_steps, threshold, n_steps=steps, name=candidates.name)
        return ThresholdTuning(config, target_saving, value, tuple(tried))

    high_saving = saving(high)
    if high_saving < target_saving:
        return result(high, high_saving)
    low_saving = saving(low)
    if low_saving >= target_saving:
        return result(low, low_saving)
    for _ in range(iterations):
        middle = math.sqrt(low * high)
        value = saving(middle)
        if value >= target_saving:
            high, high_saving = middle, value
        else:
            low = middle
    return result(high, high_saving)
