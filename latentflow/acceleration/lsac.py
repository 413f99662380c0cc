"""Layer-Selective Attention Caching (LSAC): reuse a stable layer's self-attention probabilities
after its freeze step.

For each layer in the plan, at its freeze step k the self-attention pattern is computed as
usual and kept; at every later step the kept pattern is used instead of computing q/k
projections, qk-norm, RoPE, QK^T and softmax. V, the P@V product and the output projection
are computed at every step, so the layer still reads the current state through V.

Choices (documented because the paper leaves them open):

* Midpoint sampling evaluates the model twice per step. The cache is kept per evaluation
  index: the pattern of step k's first (grid-time) evaluation serves the first evaluation of
  every later step, the pattern of step k's midpoint evaluation serves later midpoint
  evaluations. The two evaluations of a step see different states at different times, so
  each is reused by the evaluation of the same kind.
* A layer whose freeze step is at or past the last step (``n_steps - 1``) would capture a
  pattern that is never reused; it is left on the model's own (fast) attention path, so such
  a plan is bitwise identical to plain sampling.
* Steps before a layer's freeze step also run on the model's own path: LSAC only installs a
  pattern override from the freeze step on, when the pattern has to be materialised.
* Caches are per sampling call and per batch row: a pattern is a (B, H, T, T) tensor whose row
  b only ever serves example b, and every cache is dropped when a new call starts.
* If another override is already set on a layer (an intervention), LSAC caches and reuses the
  pattern that override produces.
* Hooks on ``hook_pattern`` see the reused pattern at later steps; they must not modify it in
  place (return a new tensor instead), or the cache would change with them.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field

from torch import Tensor

from latentflow.model import AttentionCall, Conditioning, PatternOverride, SamAudioModel, pattern_of, sample

from .control import SamplingController, layer_index, layer_steps
from .frozen import FrozenPattern, FrozenPatternConfig
from .record import ComputeRecord


@dataclass(frozen=True)
class LSACPlan:
    """Which self-attention layers are cached, from which step: ``{layer: freeze_step}``.

    ``n_steps``, when set, is the step count the plan was made for (a tuned plan); using
    it with another step count is an error, since freeze steps are step indices.
    """

    freeze_steps: Mapping[int, int]
    n_steps: int | None = None
    name: str = "custom"

    def __post_init__(self) -> None:
        steps = layer_steps(self.freeze_steps, f"LSAC plan {self.name!r}", "freeze step")
        object.__setattr__(self, "freeze_steps", steps)
        if self.n_steps is not None and (not isinstance(self.n_steps, int) or self.n_steps < 1):
            raise ValueError(f"LSAC plan {self.name!r}: n_steps must be a positive integer, got {self.n_steps!r}")

    @classmethod
    def from_dict(cls, data: Mapping, name: str = "custom") -> LSACPlan:
        """From ``{"freeze_steps": {layer: step}, "n_steps": N, "name": ...}`` (JSON keys may be strings)."""
        unknown = sorted(set(data) - {"freeze_steps", "n_steps", "name"})
        if unknown:
            raise ValueError(f"unknown LSAC plan fields {unknown}; allowed: ['freeze_steps', 'n_steps', 'name']")
        if "freeze_steps" not in data:
            raise ValueError("an LSAC plan needs 'freeze_steps': {layer: step}")
        steps = {}
        for layer, step in dict(data["freeze_steps"]).items():
            try:
                steps[int(layer)] = step
            except (TypeError, ValueError):
                raise ValueError(f"LSAC plan: layer key {layer!r} is not an integer") from None
        return cls(steps, n_steps=data.get("n_steps"), name=str(data.get("name", name)))

    def to_dict(self) -> dict:
        freeze_steps = {str(k): v for k, v in self.freeze_steps.items()}
        return {"name": self.name, "n_steps": self.n_steps, "freeze_steps": freeze_steps}

    def effective(self, n_steps: int) -> dict[int, int]:
        """The layers that actually reuse a pattern in an ``n_steps`` run (freeze < n_steps - 1)."""
        self.check_steps(n_steps)
        return {
            layer: step for layer, step in self.freeze_steps.items() if FrozenPatternConfig(step).reuses_in(n_steps)
        }

    def check_steps(self, n_steps: int) -> None:
        if self.n_steps is not None and n_steps != self.n_steps:
            raise ValueError(
                f"LSAC plan {self.name!r} was made for {self.n_steps} sampling steps but the sampler "
                f"runs {n_steps}; freeze steps are step indices, so re-tune for {n_steps} steps"
            )

    def check_model(self, n_layers: int) -> None:
        for layer in self.freeze_steps:
            layer_index(layer, n_layers, f"LSAC plan {self.name!r}")

    def reused_evaluation_fraction(self, n_layers: int, n_steps: int) -> float:
        """Planned share of (layer, step) self-attention patterns that are reused, not computed."""
        reused = sum(n_steps - 1 - step for step in self.effective(n_steps).values())
        return reused / (n_layers * n_steps)


class LSACController(SamplingController):
    """Applies an :class:`LSACPlan` to a model while attached (see module docstring): one
    :class:`~latentflow.acceleration.frozen.FrozenPattern` per planned layer."""

    def __init__(self, model: SamAudioModel, plan: LSACPlan) -> None:
        super().__init__(model)
        plan.check_model(self.n_layers)
        self.plan = plan
        self.frozen = {
            layer: FrozenPattern(FrozenPatternConfig(step), name=f"LSAC layer {layer}")
            for layer, step in plan.freeze_steps.items()
        }

    def reset(self) -> None:
        for frozen in self.frozen.values():
            frozen.reset()

    def begin_evaluation(self, stack: contextlib.ExitStack) -> None:
        self.plan.check_steps(self.running_state.n_steps)
        self.override_frozen_layers(stack, self.frozen, self._override)

    def cached_pattern(self, layer: int, evaluation: int = 0) -> Tensor | None:
        """The pattern kept for ``layer`` / evaluation index in the current call (None if none)."""
        frozen = self.frozen.get(layer)
        return None if frozen is None else frozen.kept(evaluation)

    def _override(self, layer: int, frozen: FrozenPattern, previous: PatternOverride | None) -> PatternOverride:
        state = self.running_state

        def decide(compute: Callable[[], Tensor], call: AttentionCall) -> Tensor | None:
            pattern = frozen(state, lambda: pattern_of(previous, compute, call), call)
            if state.step > frozen.config.freeze_step:
                self.recorder.set_pattern_rows(layer, computed=0, needed=0)
            return pattern

        return decide


@dataclass(frozen=True)
class AcceleratedSample:
    """The sampler's output and what the run computed."""

    final: Tensor
    record: ComputeRecord
    output: object = field(repr=False)  # the SampleOutput (trajectory, caches) of the run


def sample_controlled(
    controller: SamplingController, cond: Conditioning, **sample_kwargs
) -> AcceleratedSample:
    """One sampling call with ``controller`` attached; its caches die with the call."""
    with controller.attached():
        output = sample(controller.model, cond, **sample_kwargs)
        record = controller.record()
    return AcceleratedSample(final=output.final, record=record, output=output)


def sample_lsac(
    model: SamAudioModel, cond: Conditioning, plan: LSACPlan | Mapping[int, int], **sample_kwargs
) -> AcceleratedSample:
    """``latentflow.model.sample`` with LSAC; ``plan`` may be a plain ``{layer: freeze_step}``."""
    if not isinstance(plan, LSACPlan):
        plan = LSACPlan(plan)
    return sample_controlled(LSACController(model, plan), cond, **sample_kwargs)


@contextlib.contextmanager
def lsac_caching(model: SamAudioModel, plan: LSACPlan | Mapping[int, int]) -> Iterator[LSACController]:
    """LSAC for every sampling call inside the ``with`` block (caches reset at each call)."""
    controller = LSACController(model, plan if isinstance(plan, LSACPlan) else LSACPlan(plan))
    with controller.attached():
        yield controller
