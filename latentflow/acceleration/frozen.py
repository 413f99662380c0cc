"""The frozen attention pattern: the one cache behind the ``freeze_pattern`` operation, LSAC and
adaptive refresh.

In the style of diffusers' cache hooks: a small config (:class:`FrozenPatternConfig`, what to
freeze) and a state class (:class:`FrozenPattern`, the patterns one attention module kept in
the current sampling call, with :meth:`FrozenPattern.reset`). One ``FrozenPattern`` serves one
attention module; the callers decide when it is consulted:

* the ``freeze_pattern`` operation consults it on every evaluation (it answers None before the
  freeze step, so attention runs untouched there);
* the LSAC controller installs it from the freeze step on (before that the layer stays on the
  model's fused path);
* adaptive refresh keeps its patterns in it and decides itself when to replace them.

Semantics (docs/lsac.md, "Semantics, precisely"): at the freeze step k the pattern is computed
as usual and kept; steps k+1 ... N-1 reuse it. The pattern is kept per evaluation index within
a step (midpoint sampling: the grid-time pattern serves later grid-time evaluations, the
midpoint pattern later midpoint ones). A freeze step at or past N - 1 keeps nothing, so such a
freeze is bitwise the plain run. State lives for one sampling call: it is dropped by
:meth:`FrozenPattern.reset` and whenever the first evaluation of a call (step 0, evaluation 0)
reaches it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from torch import Tensor

from latentflow.model import AttentionCall, SamplingState


@dataclass(frozen=True)
class FrozenPatternConfig:
    """Freeze one attention module's pattern from ``freeze_step`` on (a sampler step index)."""

    freeze_step: int

    def __post_init__(self) -> None:
        step = self.freeze_step
        if isinstance(step, bool) or not isinstance(step, int) or step < 0:
            raise ValueError(f"freeze step must be an integer >= 0, got {step!r}")

    def reuses_in(self, n_steps: int) -> bool:
        """Whether an ``n_steps`` run reuses anything (a later step follows the freeze step)."""
        return self.freeze_step < n_steps - 1

    def active_at(self, state: SamplingState) -> bool:
        """Whether the pattern is frozen (kept or reused) at this evaluation."""
        return self.reuses_in(state.n_steps) and state.step >= self.freeze_step


class FrozenPattern:
    """Per-call state of one frozen attention pattern; ``name`` appears in error messages."""

    def __init__(self, config: FrozenPatternConfig, name: str = "frozen pattern") -> None:
        self.config = config
        self.name = name
        self._patterns: dict[int, Tensor] = {}  # evaluation index within a step -> kept pattern

    def reset(self) -> None:
        """Drop every kept pattern (a new sampling call starts, or the owner detaches)."""
        self._patterns = {}

    def kept(self, evaluation: int = 0) -> Tensor | None:
        """The pattern kept for this evaluation index in the current call (None if none)."""
        return self._patterns.get(evaluation)

    def keep(self, evaluation: int, pattern: Tensor) -> None:
        self._patterns[evaluation] = pattern

    def __call__(
        self, state: SamplingState, compute: Callable[[], Tensor], call: AttentionCall
    ) -> Tensor | None:
        """The pattern for this evaluation: None (not frozen: attention runs as usual), the
        freshly computed pattern (the freeze step; kept), or the kept one (later steps)."""
        if state.step == 0 and state.evaluation == 0:
            self.reset()  # a new sampling call: nothing of the previous one may be reused
        if not self.config.active_at(state):
            return None
        if state.step == self.config.freeze_step:
            pattern = compute()
            self.keep(state.evaluation, pattern)
            return pattern
        return self.reused(state, call)

    def reused(self, state: SamplingState, call: AttentionCall) -> Tensor:
        """The kept pattern for a later step; an error if the freeze step was never seen or the
        call's shape differs from the kept pattern's."""
        kept = self.kept(state.evaluation)
        if kept is None:
            raise RuntimeError(
                f"{self.name}: no pattern kept at the freeze step {self.config.freeze_step} for "
                f"evaluation {state.evaluation} (now at step {state.step}); the sampler skipped the freeze step"
            )
        expected = (call.batch, call.n_heads, call.n_queries, call.n_keys)
        if tuple(kept.shape) != expected:
            raise RuntimeError(
                f"{self.name}: the kept pattern has shape {tuple(kept.shape)}, the call needs {expected}"
            )
        return kept
