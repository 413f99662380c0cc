"""The fixture trainer: seeded initialisation, AdamW with warm-up + cosine decay, clipping.

``train(recipe)`` is deterministic: the initial weights, the data stream and every flow
draw come from generators seeded by ``recipe.seed``, and the thread count is fixed by the
recipe, so two runs with the same recipe on the same machine give bitwise-identical weights.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from latentflow.audio.codec import LatentCodec
from latentflow.model import SamAudioModel, build_model, preset
from latentflow.model.blocks import RMSNorm

from .data import PromptTable, TrainingBatches
from .flow import flow_matching_loss
from .recipe import TrainingRecipe

_INIT_STREAM, _FLOW_STREAM = 21, 22

# progress(step, n_steps, loss, lr) after every optimiser step.
Progress = Callable[[int, int, float, float], None]


@dataclass(frozen=True, eq=False)
class TrainingResult:
    """A trained model (eval mode) and how it got there."""

    model: SamAudioModel
    recipe: TrainingRecipe
    losses: tuple[float, ...]  # per optimiser step
    seconds: float  # wall-clock time of the whole run, data and text encoding included
    setup_seconds: float  # building the prompt table and the model, before step 1

    @property
    def anchor_gate(self) -> float:
        return float(self.model.embed_anchors.gate.detach()[0])


def seeded_generator(seed: int, stream: int) -> torch.Generator:
    """A torch generator for one independent random stream of a seeded run."""
    state = np.random.SeedSequence([seed, stream]).generate_state(1, dtype=np.uint64)[0]
    return torch.Generator().manual_seed(int(state) & ((1 << 63) - 1))


@torch.no_grad()
def init_for_training(model: SamAudioModel, seed: int) -> SamAudioModel:
    """DiT-style initialisation from one seeded generator.

    Linear and conv weights: Xavier-uniform; biases zero; norms one; the adaLN tables small
    (N(0, 1/d)); ``t_block`` zero so every block starts from its table alone (adaLN-Zero in
    spirit: small gates); the output head zero, so the first velocity is zero. The anchor and
    video gates keep the config's values (SAM Audio's -0.14 for anchors).
    """
    generator = seeded_generator(seed, _INIT_STREAM)
    d = model.cfg.dim
    for _, module in sorted(model.named_modules()):  # by name, so the draws are in a fixed order
        if isinstance(module, (nn.Linear, nn.Conv1d)):
            nn.init.xavier_uniform_(module.weight, generator=generator)
            if module.bias is not None:
                module.bias.zero_()
        elif isinstance(module, nn.Embedding):
            nn.init.normal_(module.weight, std=1.0, generator=generator)
            if module.padding_idx is not None:
                module.weight[module.padding_idx].zero_()
        elif isinstance(module, (RMSNorm, nn.LayerNorm, nn.GroupNorm)):
            module.weight.fill_(1.0)
            bias = getattr(module, "bias", None)  # RMSNorm has none
            if bias is not None:
                bias.zero_()
    for name, param in sorted(model.named_parameters()):
        if "scale_shift_table" in name:
            nn.init.normal_(param, std=d**-0.5, generator=generator)
    model.transformer.t_block.weight.zero_()
    model.transformer.t_block.bias.zero_()
    model.transformer.output.weight.zero_()
    model.embed_anchors.gate.fill_(model.cfg.anchor_gate_init)
    model.align_masked_video.gate.fill_(model.cfg.video_gate_init)
    return model


def learning_rate(step: int, recipe: TrainingRecipe) -> float:
    """LR for optimiser step ``step`` (0-based): linear warm-up, then cosine to the floor."""
    if step < recipe.warmup_steps:
        return recipe.lr * (step + 1) / recipe.warmup_steps
    span = max(recipe.steps - recipe.warmup_steps, 1)
    progress = min((step - recipe.warmup_steps) / span, 1.0)
    floor = recipe.lr * recipe.final_lr_ratio
    return floor + (recipe.lr - floor) * 0.5 * (1.0 + math.cos(math.pi * progress))


def train(
    recipe: TrainingRecipe,
    *,
    progress: Progress | None = None,
    prompts: PromptTable | None = None,
) -> TrainingResult:
    """Train a model from scratch with ``recipe``; see the module docstring."""
    started = time.perf_counter()
    previous_threads = torch.get_num_threads()
    torch.set_num_threads(recipe.threads)
    try:
        prompts = PromptTable.build(recipe.text_encoder) if prompts is None else prompts
        cfg = preset(recipe.model_preset)
        model = init_for_training(build_model(cfg, seed=None), recipe.seed)
        batches = TrainingBatches(recipe, prompts, LatentCodec())
        optimizer = _optimizer(model, recipe)
        flow_generator = seeded_generator(recipe.seed, _FLOW_STREAM)
        setup_seconds = time.perf_counter() - started
        model.train()
        losses = []
        for step in range(recipe.steps):
            lr = learning_rate(step, recipe)
            for group in optimizer.param_groups:
                group["lr"] = lr
            batch = batches[step]
            loss = flow_matching_loss(model, batch.x1, batch.cond, recipe, flow_generator)
            if not torch.isfinite(loss):
                raise FloatingPointError(f"training loss is {loss.item()} at step {step}; lower TrainingRecipe.lr")
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), recipe.grad_clip)
            optimizer.step()
            losses.append(float(loss.detach()))
            if progress is not None:
                progress(step + 1, recipe.steps, losses[-1], lr)
        model.eval()
    finally:
        torch.set_num_threads(previous_threads)
    return TrainingResult(
        model=model,
        recipe=recipe,
        losses=tuple(losses),
        seconds=time.perf_counter() - started,
        setup_seconds=setup_seconds,
    )


def _optimizer(model: SamAudioModel, recipe: TrainingRecipe) -> torch.optim.AdamW:
    # Weight decay on matrices only: norms, biases, tables, embeddings' scale and gates keep
    # their values unless the loss moves them.
    decay: list[nn.Parameter] = []
    keep: list[nn.Parameter] = []
    for name, param in sorted(model.named_parameters()):
        (decay if param.dim() >= 2 and "table" not in name and "embed." not in name else keep).append(param)
    groups = [{"params": decay, "weight_decay": recipe.weight_decay}, {"params": keep, "weight_decay": 0.0}]
    return torch.optim.AdamW(groups, lr=recipe.lr, betas=recipe.betas, foreach=False)


__all__ = ["TrainingResult", "init_for_training", "learning_rate", "seeded_generator", "train"]
