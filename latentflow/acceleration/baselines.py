"""The methods LSAC is compared with: naive step truncation and DeepCache-style block skipping.

* **Truncation** (k of N): run the same sampler with k steps instead of N, from the same noise.
  Every evaluation is a full one; the saving is (N - k) / N of all compute.
* **Skip-2** (DeepCache-style, adapted to a DiT as in DeepCache's "reuse the deep features"):
  at full steps every block runs and the residual contribution of the deepest blocks,
  ``delta = x_out(last block) - x_in(first cached block)``, is kept; at the steps in between
  (every ``period``-th step is full: steps 0, 2, 4, ... for period 2) the shallow blocks run
  and the deep blocks are replaced by ``x + delta``. Nothing of the deep blocks runs on a
  skipped step (self- and cross-attention, MLP): their hooks do not fire. As for LSAC, the
  cache is kept per evaluation index (midpoint: grid-time and midpoint evaluations separately),
  per batch row, and dies with the sampling call.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass

from torch import Tensor

from latentflow.model import Conditioning, SamAudioModel, sample

from .control import SamplingController, layer_index
from .lsac import AcceleratedSample, sample_controlled
from .record import ComputeRecord


def sample_truncated(model: SamAudioModel, cond: Conditioning, steps: int, *, method: str,
                     **sample_kwargs) -> AcceleratedSample:
    """Plain sampling with ``steps`` steps (k of N truncation); pass the full run's ``noise``.
    ``method`` is required: the compute record counts its evaluations per step."""
    output = sample(model, cond, steps=steps, method=method, **sample_kwargs)
    record = ComputeRecord.full(model.cfg.n_layers, steps, method, cond.batch_size)
    return AcceleratedSample(final=output.final, record=record, output=output)


@dataclass(frozen=True)
class DeepCacheConfig:
    """Blocks ``first_cached_block .. n_layers-1`` are reused on all but every ``period``-th step."""

    first_cached_block: int
    period: int = 2
    name: str = "skip-2"

    def __post_init__(self) -> None:
        if isinstance(self.period, bool) or not isinstance(self.period, int) or self.period < 1:
            raise ValueError(f"DeepCache period must be an integer >= 1, got {self.period!r}")
        if isinstance(self.first_cached_block, bool) or not isinstance(self.first_cached_block, int):
            raise ValueError(f"first_cached_block must be an integer, got {self.first_cached_block!r}")

    @classmethod
    def deepest_half(cls, n_layers: int, period: int = 2) -> DeepCacheConfig:
        """Cache the deeper half of the blocks (the default Skip-2 of the benchmark)."""
        return cls(first_cached_block=n_layers // 2, period=period, name=f"skip-{period}")

    def is_full_step(self, step: int) -> bool:
        return step % self.period == 0

    def to_dict(self) -> dict:
        return {"name": self.name, "first_cached_block": self.first_cached_block, "period": self.period}


class DeepCacheController(SamplingController):
    """Applies a :class:`DeepCacheConfig` through the DiT's block runner while attached."""

    def __init__(self, model: SamAudioModel, config: DeepCacheConfig) -> None:
        super().__init__(model)
        layer_index(config.first_cached_block, self.n_layers, f"DeepCache config {config.name!r}")
        self.config = config
        self._deltas: dict[int, Tensor] = {}
        self._entry: Tensor | None = None

    def reset(self) -> None:
        self._deltas, self._entry = {}, None

    def begin_evaluation(self, stack: contextlib.ExitStack) -> None:
        state = self.running_state
        delta = self._deltas.get(state.evaluation)
        if self.config.is_full_step(state.step) or delta is None:
            runner = self._full_runner(state.evaluation)
        else:
            runner = self._skipping_runner(delta)
        stack.enter_context(self.model.transformer.running_blocks(runner))

    def _full_runner(self, evaluation: int) -> Callable[[int, Callable[[Tensor], Tensor], Tensor], Tensor]:
        first, last = self.config.first_cached_block, self.n_layers - 1

        def run_all(index: int, run: Callable[[Tensor], Tensor], x: Tensor) -> Tensor:
            if index == first:
                self._entry = x
            out = run(x)
            if index == last:
                if self._entry is None:
                    raise RuntimeError(f"DeepCache: block {last} ran without block {first}, whose input it needs")
                self._deltas[evaluation] = out - self._entry
                self._entry = None
            return out

        return run_all

    def _skipping_runner(self, delta: Tensor) -> Callable[[int, Callable[[Tensor], Tensor], Tensor], Tensor]:
        first = self.config.first_cached_block

        def run_shallow(index: int, run: Callable[[Tensor], Tensor], x: Tensor) -> Tensor:
            if index < first:
                return run(x)
            self.recorder.set_block_skipped(index)
            if tuple(delta.shape) != tuple(x.shape):
                raise RuntimeError(f"DeepCache: cached contribution has shape {tuple(delta.shape)}, the stream "
                                   f"{tuple(x.shape)}")
            return x + delta if index == first else x

        return run_shallow


def sample_deepcache(
    model: SamAudioModel, cond: Conditioning, config: DeepCacheConfig, **sample_kwargs
) -> AcceleratedSample:
    """``latentflow.model.sample`` with DeepCache-style block skipping."""
    return sample_controlled(DeepCacheController(model, config), cond, **sample_kwargs)
