"""Counter-models: copies of a model in which one claimed mechanism is broken.

A spec is only worth running if it can fail. Each counter-model here breaks one mechanism
that a claim in ``specs/`` relies on; running the claim on it must give a failing verdict
(``tests/specs/test_specs_can_fail.py`` checks this for every hypothesis). They are models like
any other: ``--latentflow-model counter:no_text_injection`` runs every spec on one.

A counter-model is built from a fresh copy of a model (loaded anew from its file): the bundled
fixture for ``counter:<name>``, any other model for ``counter:<name>@<model>``
(latentflow.model_names), which is how a declared control is built from the model its case runs
on. Each counter-model is a transformation of weights or attention hooks and names the parts it
edits (``needs``); a model that lacks one is refused with both names (CounterModelError), never
replaced by the fixture's counter-model. The original model's weights and files are never touched.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch

from .model import SamAudioModel
from .model.blocks import AttentionCall
from .registry import Registry


class CounterModelError(ValueError):
    """A counter-model cannot be built from a model (the model lacks a part it edits)."""


SELF_ATTENTION = "self-attention modules (attention_modules('self')) and the sampler state (sampling)"


@dataclass(frozen=True)
class CounterModel:
    name: str
    breaks: str  # the mechanism that no longer works
    build: Callable[[SamAudioModel], None]  # edits the (copied) model in place
    # dotted attribute paths the build edits (a tensor, or "blocks.*.<path>" in every block), or
    # SELF_ATTENTION for a pattern override
    needs: tuple[str, ...] = ()

    def missing(self, model: object) -> list[str]:
        """What of ``needs`` the model lacks (empty: the counter-model can be built from it)."""
        return [need for need in self.needs if not _has(model, need)]


def _has(model: object, need: str) -> bool:
    if need == SELF_ATTENTION:
        return callable(getattr(model, "attention_modules", None)) and hasattr(model, "sampling")
    if need.startswith("blocks.*."):
        blocks = getattr(model, "blocks", None)
        return blocks is not None and len(blocks) > 0 and all(_has(b, need[len("blocks.*."):]) for b in blocks)
    value: object = model
    for part in need.split("."):
        value = getattr(value, part, None)
        if value is None:
            return False
    return isinstance(value, torch.Tensor)


COUNTER_MODELS: Registry[CounterModel] = Registry("counter-model")


def _no_text_injection(model: SamAudioModel) -> None:
    # memory_proj(text) == 0 for every prompt: the memory is the time term alone, so the
    # text prompt cannot reach the stream by any path.
    with torch.no_grad():
        model.memory_proj.weight.zero_()
        model.memory_proj.bias.zero_()


def _no_cross_attention(model: SamAudioModel) -> None:
    # Every cross-attention writes nothing to the stream.
    with torch.no_grad():
        for attention in model.attention_modules("cross"):
            attention.wo.weight.zero_()


def _no_anchor_path(model: SamAudioModel) -> None:
    # Span anchors embed to zero, so no gate value can make them matter.
    with torch.no_grad():
        model.embed_anchors.proj.weight.zero_()


def _uniform_self_attention(model: SamAudioModel) -> None:
    # Self-attention is already uniform over real frames in every block and step.
    for attention in model.attention_modules("self"):
        attention.pattern_override = lambda compute, call: call.uniform_pattern()


def _oscillating_attention(model: SamAudioModel) -> None:
    """Self-attention sharpness alternates from step to step (temperature 0.25 / 4): no layer's
    attention settles, so no layer is stable and freezing any layer changes the output."""

    def override(compute: Callable[[], torch.Tensor], call: AttentionCall) -> torch.Tensor:
        state = model.sampling
        step = 0 if state is None else state.step
        exponent = 4.0 if step % 2 == 0 else 0.25
        p = compute().float().clamp_min(1e-30) ** exponent
        if call.key_mask is not None:
            p = p * call.key_mask[:, None, None, :].float()
        return (p / p.sum(-1, keepdim=True)).to(call.dtype)

    for attention in model.attention_modules("self"):
        attention.pattern_override = override


DRIFT_FRAMES_PER_STEP = 3


def _drifting_attention(model: SamAudioModel) -> None:
    """Self-attention drifts in time: at step s every query reads the keys its computed pattern
    points to, shifted by 3 s frames (circularly). Entropies are unchanged, but a pattern cached
    at one step is wrong at every later step, so caching or freezing it changes the output."""

    def override(compute: Callable[[], torch.Tensor], call: AttentionCall) -> torch.Tensor:
        state = model.sampling
        step = 0 if state is None else state.step
        p = torch.roll(compute(), shifts=DRIFT_FRAMES_PER_STEP * step, dims=-1)
        if call.key_mask is not None:  # weight shifted onto padding is dropped, the rest renormalised
            p = p * call.key_mask[:, None, None, :].to(p.dtype)
            p = p / p.sum(-1, keepdim=True).clamp_min(1e-30)
        return p

    for attention in model.attention_modules("self"):
        attention.pattern_override = override


for _counter in (
    CounterModel("no_text_injection", "the additive text injection memory_proj(text) carries nothing",
                 _no_text_injection, ("memory_proj.weight", "memory_proj.bias")),
    CounterModel("no_cross_attention", "cross-attention outputs are zero in every block", _no_cross_attention,
                 ("blocks.*.cross_attention.wo.weight",)),
    CounterModel("no_anchor_path", "span anchors never reach the stream", _no_anchor_path,
                 ("embed_anchors.proj.weight",)),
    CounterModel("uniform_self_attention", "self-attention is uniform in every block", _uniform_self_attention,
                 (SELF_ATTENTION,)),
    CounterModel("oscillating_attention", "self-attention sharpness alternates every step; nothing converges",
                 _oscillating_attention, (SELF_ATTENTION,)),
    CounterModel("drifting_attention",
                 "self-attention patterns shift in time every step; no cached pattern stays valid",
                 _drifting_attention, (SELF_ATTENTION,)),
):
    COUNTER_MODELS.register(_counter.name, _counter)


def counter_name(name: str) -> str:
    """``counter:<name>`` -> ``<name>``, checked against the registry (errors list the others)."""
    counter = name.removeprefix("counter:")
    COUNTER_MODELS.get(counter)
    return counter


def counter_problem(model: object, counter: str, model_name: str = "fixture") -> str | None:
    """Why ``counter`` cannot be built from ``model`` (named ``model_name``); None if it can."""
    missing = COUNTER_MODELS.get(counter).missing(model)
    if not missing:
        return None
    return (f"counter-model {counter!r} cannot be built from model {model_name!r}: it edits "
            f"{', '.join(missing)}, which that model lacks")


def apply_counter(model: SamAudioModel, counter: str, model_name: str = "fixture") -> SamAudioModel:
    """Break ``counter``'s mechanism in ``model`` (a copy the caller owns, named ``model_name``
    in messages) and return it; CounterModelError when the model lacks a part it edits."""
    problem = counter_problem(model, counter, model_name)
    if problem is not None:
        raise CounterModelError(problem)
    COUNTER_MODELS.get(counter).build(model)
    model.counter_model = counter  # visible in reprs and reports
    return model


__all__ = ["COUNTER_MODELS", "CounterModel", "CounterModelError", "apply_counter", "counter_name", "counter_problem"]
