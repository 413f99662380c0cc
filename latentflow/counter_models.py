"""Counter-models: copies of a model in which one claimed mechanism is broken.

A spec is only worth running if it can fail. Each counter-model here breaks one mechanism
that a claim in ``specs/`` relies on; running the claim on it must give a failing verdict
(``tests/specs/test_specs_can_fail.py`` checks this for every hypothesis). They are models like
any other: ``--latentflow-model counter:no_text_injection`` runs every spec on one.

A counter-model is built from a fresh copy of the bundled fixture model (loaded anew from its
file); the fixture's weights and files are never touched.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch

from .model import SamAudioModel
from .model.blocks import AttentionCall
from .registry import Registry


@dataclass(frozen=True)
class CounterModel:
    name: str
    breaks: str  # the mechanism that no longer works
    build: Callable[[SamAudioModel], None]  # edits the (copied) model in place


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
                 _no_text_injection),
    CounterModel("no_cross_attention", "cross-attention outputs are zero in every block", _no_cross_attention),
    CounterModel("no_anchor_path", "span anchors never reach the stream", _no_anchor_path),
    CounterModel("uniform_self_attention", "self-attention is uniform in every block", _uniform_self_attention),
    CounterModel("oscillating_attention", "self-attention sharpness alternates every step; nothing converges",
                 _oscillating_attention),
    CounterModel("drifting_attention",
                 "self-attention patterns shift in time every step; no cached pattern stays valid",
                 _drifting_attention),
):
    COUNTER_MODELS.register(_counter.name, _counter)


def counter_name(name: str) -> str:
    """``counter:<name>`` -> ``<name>``, checked against the registry (errors list the others)."""
    counter = name.removeprefix("counter:")
    COUNTER_MODELS.get(counter)
    return counter


def apply_counter(model: SamAudioModel, counter: str) -> SamAudioModel:
    """Break ``counter``'s mechanism in ``model`` (a copy the caller owns) and return it."""
    COUNTER_MODELS.get(counter).build(model)
    model.counter_model = counter  # visible in reprs and reports
    return model


__all__ = ["COUNTER_MODELS", "CounterModel", "apply_counter", "counter_name"]
