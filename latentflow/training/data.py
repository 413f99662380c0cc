"""Training batches for the fixture: tier examples -> latents, prompt features, span anchors.

Each batch is a pure function of (recipe, batch index): the tier stream resumes at example
``index * batch_size`` and the per-batch draws (window, which examples get span anchors) come
from a generator seeded with (seed, index), so batches do not depend on what ran before.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from latentflow.audio.codec import LatentCodec, mixture_features
from latentflow.audio.text import TextFeatures, encoder_from_name
from latentflow.audio.tiers import MixtureSampler, all_prompts
from latentflow.model import Conditioning
from latentflow.pipeline import span_anchors
from latentflow.vocabulary import TIERS

from .recipe import TrainingRecipe

_DRAW_STREAM = 11  # the per-batch generator's stream, apart from the tier sampler's


@dataclass(frozen=True, eq=False)
class TrainingBatch:
    """x1: (B, T, 2C) clean data [target | residual]; cond: the model's conditioning."""

    x1: Tensor
    cond: Conditioning
    tiers: tuple[str, ...]
    with_span: Tensor  # (B,) bool: which examples got span anchors


class PromptTable:
    """Token features of a finite prompt set, encoded once (padded to the longest prompt)."""

    def __init__(self, prompts: tuple[str, ...], features: TextFeatures) -> None:
        self.index = {p: i for i, p in enumerate(prompts)}
        self.features = features

    @classmethod
    def build(cls, encoder_name: str, prompts: tuple[str, ...] | None = None) -> PromptTable:
        prompts = all_prompts() if prompts is None else tuple(prompts)
        return cls(prompts, encoder_from_name(encoder_name).encode(list(prompts)))

    def lookup(self, prompts: tuple[str, ...]) -> tuple[Tensor, Tensor]:
        try:
            rows = torch.tensor([self.index[p] for p in prompts])
        except KeyError as error:
            raise KeyError(f"prompt {error.args[0]!r} is not in the training prompt table") from None
        mask = self.features.mask[rows]
        length = int(mask.any(0).nonzero().max()) + 1  # trim padding no row in this batch uses
        return self.features.features[rows, :length], mask[:, :length]


class TrainingBatches:
    """Indexable source of :class:`TrainingBatch` for one recipe."""

    def __init__(self, recipe: TrainingRecipe, prompts: PromptTable, codec: LatentCodec | None = None) -> None:
        self.recipe = recipe
        self.prompts = prompts
        self.codec = codec if codec is not None else LatentCodec()
        self.sampler = MixtureSampler(
            split="train", batch_size=recipe.batch_size, tiers=TIERS, weights=recipe.tier_weights, seed=recipe.seed
        )

    def __getitem__(self, index: int) -> TrainingBatch:
        r = self.recipe
        self.sampler.position = index * r.batch_size
        drawn = next(self.sampler)
        B = r.batch_size
        latents = self.codec.encode(torch.cat([drawn.mixture, drawn.target, drawn.residual]))
        mixture, target, residual = latents.split(B)
        rng = np.random.default_rng([r.seed, _DRAW_STREAM, index])
        with_span = rng.random(B) < r.span_probability
        n_frames = latents.shape[1]
        spans: list[tuple[float, float] | None] = [
            (float(drawn.spans[i, 0]), float(drawn.spans[i, 1])) if with_span[i] else None for i in range(B)
        ]
        anchor_ids, alignment = span_anchors(spans, n_frames)
        start = int(rng.integers(n_frames - r.clip_frames + 1))
        window = slice(start, start + r.clip_frames)
        text, text_mask = self.prompts.lookup(drawn.prompts)
        cond = Conditioning(
            mixture=mixture_features(mixture[:, window]).contiguous(),
            text=text,
            text_mask=text_mask,
            anchor_ids=anchor_ids,
            anchor_alignment=alignment[:, window].contiguous(),
        )
        x1 = torch.cat([target[:, window], residual[:, window]], dim=-1).contiguous()
        return TrainingBatch(x1=x1, cond=cond, tiers=drawn.tiers, with_span=torch.from_numpy(with_span))


__all__ = ["PromptTable", "TrainingBatch", "TrainingBatches"]
