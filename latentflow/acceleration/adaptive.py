"""Adaptive refresh: LSAC whose cached patterns are recomputed when the layer's input drifts.

The paper's LSAC freezes a layer's pattern at a fixed step chosen from tuning data (the
notes list the static thresholds as a limitation). Here every candidate layer caches its
pattern from a start step on, and at each later evaluation measures a cheap drift signal: the
relative change of the layer's self-attention input (``blocks.{i}.attn.hook_in``, the
adaLN-modulated stream that q and k are projected from) since the evaluation whose pattern is
cached,

    drift_b = ||x_b - x_ref,b|| / ||x_ref,b||     (Frobenius norm over the real frames of row b)

When ``drift_b > threshold`` the pattern of row b is recomputed and becomes the new cache
(with ``x_b`` the new reference); otherwise the cached pattern is reused. The signal costs
one subtraction and two norms of a (T, d) tensor, against the q/k projections and the T x T
scores it can save. The pattern is a deterministic function of that input, so a drift of
exactly zero guarantees the reused pattern equals the one that would be computed.

Per-row decisions keep batch rows independent (one example's drift never makes another
refresh). When some but not all rows of a batch refresh, the batch's pattern is computed as a
whole and the stale rows are replaced: the record notes both the rows computed and the rows
that needed it. With ``threshold=0`` every changed input refreshes: the run equals plain
sampling with materialised patterns. As in LSAC, caches are kept per evaluation index
(midpoint: grid-time and midpoint evaluations separately) and die with the sampling call.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import torch
from torch import Tensor

from latentflow.model import AttentionCall, Conditioning, PatternOverride, SamAudioModel, pattern_of

from .control import SamplingController, layer_index, layer_steps
from .frozen import FrozenPattern, FrozenPatternConfig
from .lsac import AcceleratedSample, sample_controlled

DEFAULT_DRIFT_THRESHOLD = 0.05


@dataclass(frozen=True)
class AdaptiveConfig:
    """Candidate layers with the step from which each may reuse its pattern, and the drift
    threshold (relative change of the attention input) above which a pattern is recomputed."""

    start_steps: Mapping[int, int]
    threshold: float = DEFAULT_DRIFT_THRESHOLD
    n_steps: int | None = None
    name: str = "adaptive"

    def __post_init__(self) -> None:
        steps = layer_steps(self.start_steps, f"adaptive config {self.name!r}", "start step")
        object.__setattr__(self, "start_steps", steps)
        t = self.threshold
        if isinstance(t, bool) or not isinstance(t, (int, float)) or not math.isfinite(t) or t < 0:
            raise ValueError(f"adaptive config {self.name!r}: threshold must be a finite number >= 0, got {t!r}")

    @classmethod
    def all_layers(
        cls, n_layers: int, start_step: int, threshold: float = DEFAULT_DRIFT_THRESHOLD, **kw
    ) -> AdaptiveConfig:
        return cls(dict.fromkeys(range(n_layers), start_step), threshold, **kw)

    def to_dict(self) -> dict:
        return {
            "name": self.name,
            "threshold": self.threshold,
            "n_steps": self.n_steps,
            "start_steps": {str(k): v for k, v in self.start_steps.items()},
        }

    def check_steps(self, n_steps: int) -> None:
        if self.n_steps is not None and n_steps != self.n_steps:
            raise ValueError(
                f"adaptive config {self.name!r} was made for {self.n_steps} sampling steps but the "
                f"sampler runs {n_steps}; start steps are step indices"
            )


def relative_drift(x: Tensor, reference: Tensor, frame_mask: Tensor | None = None) -> Tensor:
    """Per-row ``||x - ref|| / ||ref||`` over the real frames: x, reference (B, T, d) -> (B,)."""
    diff = (x.float() - reference.float()).pow(2).sum(-1)
    ref = reference.float().pow(2).sum(-1)
    if frame_mask is not None:
        diff, ref = diff * frame_mask, ref * frame_mask
    return diff.sum(-1).sqrt() / ref.sum(-1).sqrt().clamp_min(torch.finfo(torch.float32).tiny)


class AdaptiveController(SamplingController):
    """Applies an :class:`AdaptiveConfig` while attached (see module docstring)."""

    def __init__(self, model: SamAudioModel, config: AdaptiveConfig) -> None:
        super().__init__(model)
        for layer in config.start_steps:
            layer_index(layer, self.n_layers, f"adaptive config {config.name!r}")
        self.config = config
        # The patterns live in the same per-call store LSAC and freeze_pattern use; the
        # references (inputs the kept patterns were computed from) are adaptive's own.
        self.frozen = {
            layer: FrozenPattern(FrozenPatternConfig(start), name=f"adaptive refresh layer {layer}")
            for layer, start in config.start_steps.items()
        }
        self._references: dict[tuple[int, int], Tensor] = {}
        self._inputs: dict[int, Tensor] = {}
        self.drifts: list[tuple[int, int, int, Tensor]] = []  # (step, evaluation, layer, drift per row)

    def reset(self) -> None:
        for frozen in self.frozen.values():
            frozen.reset()
        self._references, self._inputs = {}, {}
        self.drifts = []

    def extra_contexts(self) -> list[contextlib.AbstractContextManager]:
        hooks: list[tuple[str | Callable, Callable]] = [
            (f"blocks.{layer}.attn.hook_in", self._observe(layer)) for layer in self.config.start_steps
        ]
        return [self.model.hooks(fwd_hooks=hooks)]

    def _observe(self, layer: int) -> Callable:
        def keep_input(x: Tensor, hook) -> None:
            if self.state is not None:
                self._inputs[layer] = x

        return keep_input

    def begin_evaluation(self, stack: contextlib.ExitStack) -> None:
        self.config.check_steps(self.running_state.n_steps)
        self._inputs = {}
        self.override_frozen_layers(stack, self.frozen, self._override)

    def _override(self, layer: int, frozen: FrozenPattern, previous: PatternOverride | None) -> PatternOverride:
        state, cond = self.running_state, self.running_cond
        audio_mask = None if cond.audio_mask is None else cond.audio_mask.float()

        def decide(compute: Callable[[], Tensor], call: AttentionCall) -> Tensor:
            def fresh() -> Tensor:
                return pattern_of(previous, compute, call)

            key = (layer, state.evaluation)
            x = self._inputs.get(layer)
            if x is None:
                raise RuntimeError(f"adaptive refresh: the input of layer {layer} was not observed at hook_in")
            cached = frozen.kept(state.evaluation)
            if state.step == frozen.config.freeze_step or cached is None:
                pattern = fresh()
                frozen.keep(state.evaluation, pattern)
                self._references[key] = x
                return pattern
            drift = relative_drift(x, self._references[key], audio_mask)
            self.drifts.append((state.step, state.evaluation, layer, drift))
            refresh = drift > self.config.threshold
            n_refresh = int(refresh.sum())
            if n_refresh == 0:
                self.recorder.set_pattern_rows(layer, computed=0, needed=0)
                return cached
            if n_refresh == call.batch:
                pattern, reference = fresh(), x
            else:
                rows = refresh[:, None, None, None]
                pattern = torch.where(rows, fresh(), cached)
                reference = torch.where(refresh[:, None, None], x, self._references[key])
            self.recorder.set_pattern_rows(layer, computed=call.batch, needed=n_refresh)
            frozen.keep(state.evaluation, pattern)
            self._references[key] = reference
            return pattern

        return decide


def sample_adaptive(
    model: SamAudioModel, cond: Conditioning, config: AdaptiveConfig, **sample_kwargs
) -> AcceleratedSample:
    """``latentflow.model.sample`` with adaptive refresh."""
    return sample_controlled(AdaptiveController(model, config), cond, **sample_kwargs)
