"""Conditional flow matching with the straight (rectified) path SAM Audio is sampled along.

x_t = (1 - t) x0 + t x1 with x0 ~ N(0, I), and the regression target is the path's constant
velocity x1 - x0; the sampler (``latentflow.model.sampler``) integrates from t = 0 to 1.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from latentflow.model import Conditioning, SamAudioModel

from .recipe import TrainingRecipe


def sample_times(n: int, recipe: TrainingRecipe, generator: torch.Generator) -> Tensor:
    """(n,) training times in (0, 1) drawn from the recipe's distribution."""
    if recipe.time_distribution == "uniform":
        return torch.rand(n, generator=generator)
    normal = torch.randn(n, generator=generator) * recipe.logit_std + recipe.logit_mean
    return torch.sigmoid(normal)


@dataclass(frozen=True, eq=False)
class FlowPair:
    """One flow-matching regression problem: model(x_t, t) should output ``velocity``."""

    x_t: Tensor
    t: Tensor
    velocity: Tensor


def flow_pair(x1: Tensor, recipe: TrainingRecipe, generator: torch.Generator) -> FlowPair:
    x0 = torch.randn(x1.shape, generator=generator, dtype=x1.dtype)
    t = sample_times(x1.shape[0], recipe, generator).to(x1.dtype)
    x_t = (1 - t)[:, None, None] * x0 + t[:, None, None] * x1
    return FlowPair(x_t=x_t, t=t, velocity=x1 - x0)


def flow_matching_loss(model: SamAudioModel, x1: Tensor, cond: Conditioning, recipe: TrainingRecipe,
                       generator: torch.Generator) -> Tensor:
    """Mean squared velocity error over every element of the batch."""
    pair = flow_pair(x1, recipe, generator)
    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=recipe.precision == "bf16"):
        predicted = model(pair.x_t, pair.t, cond)
    return torch.mean((predicted.float() - pair.velocity) ** 2)


__all__ = ["FlowPair", "flow_matching_loss", "flow_pair", "sample_times"]
