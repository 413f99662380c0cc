"""The scaffolding every caching method shares: follow the sampler evaluation by evaluation,
keep caches for one sampling call only, and leave the model exactly as it was found.

A controller attaches two PyTorch hooks to the model's root module: a forward pre-hook that
reads ``model.sampling`` (step, evaluation index) before each velocity evaluation, and a
forward hook after it. Whatever a method installs for one evaluation (pattern overrides, a
block runner) is entered on an ``ExitStack`` in the pre-hook and closed in the post-hook; the
``attached()`` context closes it too if a forward pass raised, and removes both hooks.

Cache lifetime: a new sampling call is recognised by its first evaluation (step 0,
evaluation 0), and every cache is dropped there, and again when the controller detaches. So
nothing computed for one call, prompt or batch can reach another call.
"""

from __future__ import annotations

import abc
import contextlib
from collections.abc import Callable, Iterator, Mapping
from types import MappingProxyType

from torch import Tensor

from latentflow.model import Conditioning, PatternOverride, SamAudioModel, SamplingState

from .frozen import FrozenPattern
from .record import ComputeRecord, RecordBuilder


class SamplingController(abc.ABC):
    """Base class: subclasses implement ``reset``, ``begin_evaluation`` (and may use ``stack``)."""

    def __init__(self, model: SamAudioModel) -> None:
        self.model = model
        self.n_layers = model.cfg.n_layers
        self.recorder = RecordBuilder(self.n_layers)
        self.state: SamplingState | None = None
        self.cond: Conditioning | None = None
        self.batch = 0
        self._call_shape: tuple | None = None
        self._stack: contextlib.ExitStack | None = None
        self._attached = False

    # -- to implement ------------------------------------------------------------------------

    @abc.abstractmethod
    def reset(self) -> None:
        """Drop every cache (a new sampling call starts, or the controller detaches)."""

    @abc.abstractmethod
    def begin_evaluation(self, stack: contextlib.ExitStack) -> None:
        """Install what this evaluation needs on ``stack``; ``self.state`` / ``self.cond`` are set."""

    def extra_contexts(self) -> list[contextlib.AbstractContextManager]:
        """Contexts held for the whole attachment (e.g. observation hooks); none by default."""
        return []

    # -- for subclasses ----------------------------------------------------------------------

    @property
    def running_state(self) -> SamplingState:
        """``self.state`` of the evaluation being run (from ``begin_evaluation`` on)."""
        if self.state is None:
            raise RuntimeError(f"{type(self).__name__}: no sampling evaluation is running")
        return self.state

    @property
    def running_cond(self) -> Conditioning:
        """``self.cond`` of the evaluation being run (from ``begin_evaluation`` on)."""
        if self.cond is None:
            raise RuntimeError(f"{type(self).__name__}: no sampling evaluation is running")
        return self.cond

    def override_frozen_layers(
        self,
        stack: contextlib.ExitStack,
        frozen: Mapping[int, FrozenPattern],
        override: Callable[[int, FrozenPattern, PatternOverride | None], PatternOverride],
    ) -> None:
        """For this evaluation, each self-attention layer of ``frozen`` whose freeze step has come
        takes ``override(layer, its pattern, the override it had)``; before that step the layer
        keeps the model's own (fused) path, and nothing is reused if caching starts at the last."""
        state = self.running_state
        modules = self.model.attention_modules("self")
        for layer, pattern in frozen.items():
            if pattern.config.active_at(state):
                attention = modules[layer]
                stack.enter_context(
                    attention.overriding_pattern(override(layer, pattern, attention.pattern_override))
                )

    # -- machinery ---------------------------------------------------------------------------

    @contextlib.contextmanager
    def attached(self) -> Iterator[SamplingController]:
        """Active inside the ``with`` block only; the model is restored on exit or error."""
        if self._attached:
            raise RuntimeError(f"{type(self).__name__} is already attached to a model")
        self._attached = True
        self.reset()
        self._call_shape = None
        handles = [
            self.model.register_forward_pre_hook(self._before, with_kwargs=True),
            self.model.register_forward_hook(self._after, with_kwargs=True),
        ]
        try:
            with contextlib.ExitStack() as whole:
                for context in self.extra_contexts():
                    whole.enter_context(context)
                yield self
        finally:
            for handle in handles:
                handle.remove()
            self._close_evaluation()
            self.reset()
            self.state = self.cond = None
            self._attached = False

    def record(self) -> ComputeRecord:
        """What the latest (or current) sampling call computed."""
        return self.recorder.freeze()

    def _before(self, module, args: tuple, kwargs: dict) -> None:
        self._close_evaluation()  # a previous forward that raised left its stack open
        state = self.model.sampling
        if state is None:
            raise RuntimeError(
                f"{type(self).__name__} acts per sampling step, but the model was called outside "
                "the sampler (model.sampling is None); run it through latentflow.model.sample"
            )
        x_t, cond = _forward_inputs(args, kwargs)
        shape = (tuple(x_t.shape), state.n_steps, state.method)
        if state.step == 0 and state.evaluation == 0:
            self.reset()
            self._call_shape = shape
            self.recorder.start_call(state.n_steps, state.method, x_t.shape[0])
        elif self._call_shape is None:
            raise RuntimeError(
                f"{type(self).__name__} was attached in the middle of a sampling call "
                f"(first evaluation seen: step {state.step}, evaluation {state.evaluation}); "
                "attach it before the call starts"
            )
        elif shape != self._call_shape:
            raise RuntimeError(
                f"the sampling call changed shape mid-way: started as (x_t shape, steps, method) = "
                f"{self._call_shape}, now {shape}"
            )
        self.state, self.cond, self.batch = state, cond, x_t.shape[0]
        self.recorder.start_evaluation(state.step, state.evaluation, self.batch)
        self._stack = contextlib.ExitStack()
        try:
            self.begin_evaluation(self._stack)
        except BaseException:
            self._close_evaluation()
            raise

    def _after(self, module, args: tuple, kwargs: dict, output: Tensor) -> None:
        self._close_evaluation()
        self.recorder.end_evaluation()

    def _close_evaluation(self) -> None:
        stack, self._stack = self._stack, None
        if stack is not None:
            stack.close()


def _forward_inputs(args: tuple, kwargs: dict) -> tuple[Tensor, Conditioning]:
    """(x_t, cond) of ``SamAudioModel.forward(x_t, t, cond)`` however they were passed."""
    names = ("x_t", "t", "cond")
    values = dict(zip(names, args, strict=False))
    values.update({k: v for k, v in kwargs.items() if k in names})
    return values["x_t"], values["cond"]


def layer_index(layer: object, n_layers: int, what: str) -> int:
    """Validate a layer number (an int in [0, n_layers)) and return it."""
    if isinstance(layer, bool) or not isinstance(layer, int):
        raise ValueError(f"{what}: layer {layer!r} is not an integer")
    if not 0 <= layer < n_layers:
        raise ValueError(f"{what}: layer {layer} does not exist; the model has layers 0..{n_layers - 1}")
    return layer


def layer_steps(mapping: Mapping, what: str, step_name: str) -> Mapping[int, int]:
    """Validate ``{layer: step}`` (integers >= 0) and return it read-only, sorted by layer."""
    checked = {}
    for layer, step in dict(mapping).items():
        if isinstance(layer, bool) or not isinstance(layer, int) or layer < 0:
            raise ValueError(f"{what}: layer {layer!r} must be an integer >= 0")
        if isinstance(step, bool) or not isinstance(step, int) or step < 0:
            raise ValueError(f"{what}: {step_name} {step!r} of layer {layer} must be an integer >= 0")
        checked[layer] = step
    return MappingProxyType(dict(sorted(checked.items())))
