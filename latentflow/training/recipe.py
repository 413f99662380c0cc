"""The fixture's training recipe: every number that decides the trained weights, in one place.

A recipe plus the committed data (the utterance pool, the procedural sound generators, the
MiniLM weights) determines the checkpoint bit for bit on a given machine and thread count.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from latentflow.vocabulary import TIERS

TIME_DISTRIBUTIONS = ("uniform", "logit_normal")
PRECISIONS = ("fp32", "bf16")


@dataclass(frozen=True)
class TrainingRecipe:
    """Flow-matching training of the fixture (defaults are the committed model's recipe).

    Data: a stream of fresh training-split tier examples (``MixtureSampler``, tiers drawn with
    ``tier_weights``), encoded by the latent codec; ``clip_frames`` latent frames are kept
    (a random window, drawn from the seeded generator, when shorter than the example).
    Prompts: text always; with probability ``span_probability`` per example the true target
    span is added as anchors (text+span), otherwise every frame carries ``<null>``.
    Flow matching: x0 ~ N(0, I), x1 = [target latent | residual latent],
    x_t = (1 - t) x0 + t x1, loss = mean squared error of v(x_t, t) against x1 - x0, with t
    from ``time_distribution`` ("uniform" on [0, 1], or "logit_normal": sigmoid(N(m, s^2)) with
    m = ``logit_mean``, s = ``logit_std``).
    Precision: "fp32", or "bf16": the forward pass under CPU bfloat16 autocast (matrix
    products in bfloat16, weights, optimiser state and the loss in float32).
    Optimiser: AdamW, linear warm-up over ``warmup_steps`` then cosine decay to
    ``lr * final_lr_ratio`` at ``steps``; gradients clipped to global norm ``grad_clip``.
    """

    seed: int = 0
    steps: int = 2400
    batch_size: int = 16
    clip_frames: int = 100
    tier_weights: tuple[float, float, float] = (1.0, 1.0, 1.0)  # clean, noisy, env
    span_probability: float = 0.5
    time_distribution: str = "uniform"
    logit_mean: float = 0.0
    logit_std: float = 1.0
    lr: float = 3e-3
    final_lr_ratio: float = 0.02
    warmup_steps: int = 100
    weight_decay: float = 0.01
    betas: tuple[float, float] = (0.9, 0.99)
    grad_clip: float = 1.0
    threads: int = 2
    precision: str = "fp32"
    model_preset: str = "fixture"
    text_encoder: str = "minilm"

    def __post_init__(self) -> None:
        def fail(name: str, allowed: str) -> None:
            raise ValueError(f"TrainingRecipe.{name}={getattr(self, name)!r} is invalid; allowed: {allowed}")

        for name in ("seed",):
            if not isinstance(getattr(self, name), int) or getattr(self, name) < 0:
                fail(name, "a non-negative integer")
        for name in ("steps", "batch_size", "threads"):
            if not isinstance(getattr(self, name), int) or getattr(self, name) < 1:
                fail(name, "a positive integer")
        if not isinstance(self.clip_frames, int) or not 4 <= self.clip_frames <= 100:
            fail("clip_frames", "an integer in [4, 100] (tier clips are 100 frames)")
        if len(self.tier_weights) != len(TIERS) or min(self.tier_weights) < 0 or sum(self.tier_weights) <= 0:
            fail("tier_weights", f"{len(TIERS)} non-negative weights for {TIERS}, not all zero")
        if not 0.0 <= self.span_probability <= 1.0:
            fail("span_probability", "a probability in [0, 1]")
        if self.time_distribution not in TIME_DISTRIBUTIONS:
            fail("time_distribution", ", ".join(TIME_DISTRIBUTIONS))
        if self.precision not in PRECISIONS:
            fail("precision", ", ".join(PRECISIONS))
        if not self.logit_std > 0:
            fail("logit_std", "a positive number")
        if not self.lr > 0:
            fail("lr", "a positive number")
        if not 0.0 <= self.final_lr_ratio <= 1.0:
            fail("final_lr_ratio", "a ratio in [0, 1]")
        if not 0 <= self.warmup_steps < self.steps:
            fail("warmup_steps", f"an integer in [0, steps={self.steps})")
        if self.weight_decay < 0:
            fail("weight_decay", "a non-negative number")
        if not all(0.0 <= b < 1.0 for b in self.betas) or len(self.betas) != 2:
            fail("betas", "two numbers in [0, 1)")
        if not self.grad_clip > 0:
            fail("grad_clip", "a positive number")

    def replace(self, **changes: Any) -> TrainingRecipe:
        return dataclasses.replace(self, **changes)

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self), sort_keys=True)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TrainingRecipe:
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"unknown recipe fields {unknown}; allowed: {sorted(known)}")
        values: dict[str, Any] = {k: tuple(v) if isinstance(v, list) else v for k, v in data.items()}
        return cls(**values)


__all__ = ["PRECISIONS", "TIME_DISTRIBUTIONS", "TrainingRecipe"]
