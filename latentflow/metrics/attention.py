"""Attention statistics: entropy of attention maps, how fast it changes over sampling steps,
and the stable / fast layer classification behind the paper's "asynchronous convergence".

Definitions (every function below follows them):

* **Entropy of one attention map** (``pattern_entropy``): for each head, the Shannon entropy
  (natural log) of each query's probability row, averaged over the real queries. Keys that a
  mask excludes carry probability 0 and add nothing. With ``normalized=True`` (the default)
  each example's value is divided by ``log(n_real_keys)``, the entropy of uniform attention,
  so 0 means every query attends to one key and 1 means uniform attention; this makes layers,
  clip lengths and models comparable. A clip with a single real key has normalised entropy 0.
* **Trajectory**: entropies stacked over sampling steps, shaped ``(steps, examples, layers,
  heads)`` (the layout :func:`entropy_trajectory` returns). For the midpoint sampler, which
  evaluates the model twice per step, a trajectory holds one chosen evaluation per step
  (default: the first, made at the step's grid time).
* **Rate of change** (``entropy_rate``): the mean absolute first difference along the step
  axis, ``mean_k |E[k+1] - E[k]|``, in entropy units per sampling step. It is taken at one of
  two levels, with two names (docs/lsac.md says when each is used):

  - :func:`layer_entropy_rate`: the rate of the *layer's* trajectory, averaged over examples
    and heads first (LSAC tuning, the stable/fast classification, the report's fallback);
  - :func:`example_entropy_rate`: per example, the rate of each head's trajectory, then the
    mean over heads (the spec measure ``entropy_rate``: one value per example, for paired
    tests). Head-to-head wiggles do not cancel here, so it is larger than the layer rate.
* **Stable / fast**: a layer is *stable* when its rate is at most ``threshold``, *fast*
  otherwise. The threshold is a parameter; :data:`DEFAULT_STABLE_THRESHOLD` (0.01 normalised
  entropy per step: over 16 steps a stable layer's entropy drifts by less than about 16% of
  its maximum) is a documented default, not a fitted constant.
* **Settling step** (``settling_steps``): the first step ``k`` from which every later
  step-to-step change stays within ``tolerance``; the last step always qualifies.

All functions are pure: tensors or arrays in, tensors or arrays out, no model access, so the
spec engine can use them as metrics.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np
import torch
from torch import Tensor

DEFAULT_STABLE_THRESHOLD = 0.01

# A probability below this is treated as zero in p*log(p): it changes no entropy by more than
# n_keys * 1e-30 * 69 nats, far below float32 resolution, and avoids log(0) = -inf.
_TINY = 1e-30


def pattern_entropy(
    pattern: Tensor,
    *,
    key_mask: Tensor | None = None,
    query_mask: Tensor | None = None,
    normalized: bool = True,
) -> Tensor:
    """Per-example, per-head entropy of attention probabilities, averaged over real queries.

    pattern: (B, H, Q, K) probabilities (rows sum to 1); key_mask: (B, K) bool, True = real key
    (used for the normaliser ``log(n_real_keys)``: masked keys must already have probability 0);
    query_mask: (B, Q) bool, True = real query (padded queries are left out of the mean).
    Returns a float32 tensor (B, H).
    """
    p = torch.as_tensor(pattern)
    if p.dim() != 4:
        raise ValueError(f"pattern must be (batch, heads, queries, keys); got shape {tuple(p.shape)}")
    B, _, Q, K = p.shape
    p = p.float()
    row_entropy = -(p * torch.log(p.clamp_min(_TINY))).sum(-1)  # (B, H, Q)
    if query_mask is None:
        per_head = row_entropy.mean(-1)
    else:
        query_mask = _check_mask(query_mask, "query_mask", (B, Q), p.device)
        weights = query_mask.float()[:, None, :]
        per_head = (row_entropy * weights).sum(-1) / weights.sum(-1)
    if not normalized:
        return per_head
    if key_mask is None:
        n_keys = torch.full((B,), float(K), device=p.device)
    else:
        n_keys = _check_mask(key_mask, "key_mask", (B, K), p.device).float().sum(-1)
    log_n = torch.log(n_keys)
    # One real key: the only possible distribution is a point mass, entropy 0 by definition.
    safe = torch.where(log_n > 0, log_n, torch.ones_like(log_n))
    return torch.where(log_n[:, None] > 0, per_head / safe[:, None], torch.zeros_like(per_head))


def _check_mask(mask: Tensor, name: str, shape: tuple[int, int], device: torch.device) -> Tensor:
    mask = torch.as_tensor(mask, device=device)
    if mask.dtype != torch.bool or tuple(mask.shape) != shape:
        raise ValueError(f"{name} must be a bool tensor of shape {shape}; got {mask.dtype} {tuple(mask.shape)}")
    if not bool(mask.any(-1).all()):
        rows = (~mask.any(-1)).nonzero().flatten().tolist()
        raise ValueError(f"{name} has no True entry for batch rows {rows}")
    return mask


class EvaluationIndex(Protocol):
    """Where in sampling a cache was taken (``latentflow.model.SamplingState`` is one)."""

    @property
    def step(self) -> int: ...

    @property
    def evaluation(self) -> int: ...


def entropy_trajectory(
    caches: Sequence[Mapping[str, Tensor]],
    evaluations: Sequence[EvaluationIndex],
    *,
    n_layers: int,
    kind: str = "attn",
    evaluation: int = 0,
    key_mask: Tensor | None = None,
    normalized: bool = True,
) -> np.ndarray:
    """Entropy per (step, example, layer, head) from a sampler's per-evaluation pattern caches.

    ``caches`` / ``evaluations`` are ``SampleOutput.caches`` / ``.evaluations`` of a run that
    cached ``blocks.{i}.{kind}.hook_pattern`` (kind ``"attn"`` or ``"cross_attn"``); only the
    evaluations whose ``evaluation`` index equals ``evaluation`` are used (midpoint: 0 = the
    grid-time evaluation, 1 = the midpoint one). ``key_mask`` is the (B, T) audio mask for
    self-attention (it is also the query mask there) or the text mask for cross-attention.
    """
    if kind not in ("attn", "cross_attn"):
        raise ValueError(f"kind must be 'attn' or 'cross_attn', got {kind!r}")
    if len(caches) != len(evaluations):
        raise ValueError(f"{len(caches)} caches but {len(evaluations)} evaluations")
    rows = []
    for cache, state in zip(caches, evaluations, strict=True):
        if state.evaluation != evaluation:
            continue
        per_layer = []
        for layer in range(n_layers):
            name = f"blocks.{layer}.{kind}.hook_pattern"
            if name not in cache:
                raise KeyError(f"cache of step {state.step} has no {name!r}; cache it when sampling")
            pattern = cache[name]
            query_mask = key_mask if (kind == "attn" and key_mask is not None) else None
            per_layer.append(pattern_entropy(pattern, key_mask=key_mask, query_mask=query_mask, normalized=normalized))
        rows.append(torch.stack(per_layer, dim=1))  # (B, L, H)
    if not rows:
        raise ValueError(f"no cached evaluation has evaluation index {evaluation}")
    return torch.stack(rows).cpu().numpy()


def entropy_rate(trajectory: np.ndarray | Tensor, *, axis: int = 0) -> np.ndarray:
    """Mean absolute step-to-step change along ``axis`` (the step axis); needs at least 2 steps."""
    values = _as_float_array(trajectory, "trajectory")
    if values.shape[axis] < 2:
        raise ValueError(f"a rate of change needs at least 2 steps along axis {axis}; got {values.shape[axis]}")
    return np.abs(np.diff(values, axis=axis)).mean(axis=axis)


def layer_entropy_rate(entropy: np.ndarray | Tensor) -> np.ndarray:
    """Per-layer rate of the mean trajectory: (steps, examples, layers, heads) -> (layers,),
    averaged over examples and heads before differencing (what LSAC tuning classifies)."""
    values = _as_float_array(entropy, "entropy")
    if values.ndim != 4:
        raise ValueError(f"entropy must be (steps, examples, layers, heads); got shape {values.shape}")
    return entropy_rate(values.mean(axis=(1, 3)), axis=0)


def example_entropy_rate(trajectory: Tensor) -> Tensor:
    """Per-example rate: (steps, examples, heads) -> (examples,), each head's mean absolute
    step-to-step change, then the mean over heads (the spec measure ``entropy_rate``).

    In float32 torch, as the recorded entropies are, so spec numbers do not depend on a cast.
    """
    values = torch.as_tensor(trajectory).float()
    if values.dim() != 3:
        raise ValueError(f"trajectory must be (steps, examples, heads); got shape {tuple(values.shape)}")
    if values.shape[0] < 2:
        raise ValueError(f"a rate of change needs at least 2 steps; got {values.shape[0]}")
    return values.diff(dim=0).abs().mean(dim=(0, 2))


def classify_stable(rates: np.ndarray | Sequence[float], threshold: float = DEFAULT_STABLE_THRESHOLD) -> np.ndarray:
    """True where a rate is at most ``threshold`` (stable), False where it is larger (fast)."""
    values = _as_float_array(rates, "rates")
    if not (isinstance(threshold, (int, float)) and math.isfinite(threshold) and threshold >= 0):
        raise ValueError(f"threshold must be a finite number >= 0, got {threshold!r}")
    if np.isnan(values).any():
        raise ValueError("rates contain NaN: a layer without a measured rate cannot be classified")
    return values <= threshold


def settling_steps(trajectory: np.ndarray | Tensor, tolerance: float, *, axis: int = 0) -> np.ndarray:
    """First step from which every later step-to-step change is at most ``tolerance``.

    For a trajectory of S steps the answer lies in [0, S-1] (the last step has no later change).
    """
    values = np.moveaxis(_as_float_array(trajectory, "trajectory"), axis, 0)
    if tolerance < 0:
        raise ValueError(f"tolerance must be >= 0, got {tolerance!r}")
    n_steps = values.shape[0]
    moving = np.abs(np.diff(values, axis=0)) > tolerance  # (S-1, ...): change from k to k+1
    # The settling step is one past the last change above tolerance (0 when there is none).
    last_move = np.where(moving.any(axis=0), n_steps - 2 - np.argmax(moving[::-1], axis=0), -1)
    return (last_move + 1).astype(np.int64)


@dataclass(frozen=True)
class ConvergenceSummary:
    """Per-layer convergence of attention entropy over the sampling steps.

    trajectory: (steps, layers) the layer entropy (mean over examples and heads) per step;
    rates: (layers,) mean |step-to-step change|; stable: (layers,) rate <= threshold;
    settling: (layers,) first step after which changes stay within ``tolerance``.
    """

    trajectory: np.ndarray
    rates: np.ndarray
    threshold: float
    stable: np.ndarray
    tolerance: float
    settling: np.ndarray

    @property
    def stable_layers(self) -> tuple[int, ...]:
        return tuple(int(i) for i in np.flatnonzero(self.stable))

    @property
    def fast_layers(self) -> tuple[int, ...]:
        return tuple(int(i) for i in np.flatnonzero(~self.stable))

    @property
    def n_steps(self) -> int:
        return int(self.trajectory.shape[0])

    def to_dict(self) -> dict:
        return {
            "trajectory": self.trajectory.tolist(),
            "rates": self.rates.tolist(),
            "threshold": self.threshold,
            "stable_layers": list(self.stable_layers),
            "fast_layers": list(self.fast_layers),
            "tolerance": self.tolerance,
            "settling": self.settling.tolist(),
        }


def summarize_convergence(
    entropy: np.ndarray | Tensor,
    threshold: float = DEFAULT_STABLE_THRESHOLD,
    *,
    tolerance: float | None = None,
) -> ConvergenceSummary:
    """Summarise a trajectory (steps, examples, layers, heads) or (steps, layers).

    The 4-D form is averaged over examples and heads first (the layer's entropy), so its rates
    are :func:`layer_entropy_rate`. The rate,
    classification and settling step are then computed per layer; ``tolerance`` defaults to
    ``threshold`` (a layer has settled once it changes no faster than a stable layer does).
    """
    values = _as_float_array(entropy, "entropy")
    if values.ndim == 4:
        values = values.mean(axis=(1, 3))
    elif values.ndim != 2:
        raise ValueError(
            f"entropy must be (steps, examples, layers, heads) or (steps, layers); got shape {values.shape}"
        )
    rates = entropy_rate(values, axis=0)
    stable = classify_stable(rates, threshold)
    tol = float(threshold if tolerance is None else tolerance)
    values.setflags(write=False)
    return ConvergenceSummary(
        trajectory=values,
        rates=_frozen(rates),
        threshold=float(threshold),
        stable=_frozen(stable),
        tolerance=tol,
        settling=_frozen(settling_steps(values, tol)),
    )


def _as_float_array(values: object, name: str) -> np.ndarray:
    if isinstance(values, Tensor):
        values = values.detach().cpu().numpy()
    array = np.array(values, dtype=np.float64, copy=True)
    if array.ndim == 0:
        raise ValueError(f"{name} must be an array, got a scalar")
    return array


def _frozen(array: np.ndarray) -> np.ndarray:
    array = np.array(array, copy=True)
    array.setflags(write=False)
    return array


__all__ = [
    "DEFAULT_STABLE_THRESHOLD",
    "ConvergenceSummary",
    "classify_stable",
    "entropy_rate",
    "entropy_trajectory",
    "example_entropy_rate",
    "layer_entropy_rate",
    "pattern_entropy",
    "settling_steps",
    "summarize_convergence",
]
