"""The fixture trainer: recipe checks, schedule, flow-matching pairs, batches, determinism."""

from __future__ import annotations

import itertools
import math

import pytest
import torch

from latentflow.pipeline import ALIGN_INSIDE, ALIGN_NULL, ALIGN_OUTSIDE
from latentflow.training import TrainingRecipe, learning_rate, train
from latentflow.training.data import PromptTable, TrainingBatches
from latentflow.training.flow import flow_pair, sample_times
from latentflow.training.trainer import seeded_generator

TINY = dict(steps=3, batch_size=2, clip_frames=12, warmup_steps=1, threads=1)


@pytest.fixture(scope="module")
def prompts():
    return PromptTable.build("minilm")


def test_recipe_rejects_bad_values_by_name():
    with pytest.raises(ValueError, match=r"TrainingRecipe.span_probability=1.5 is invalid"):
        TrainingRecipe(span_probability=1.5)
    with pytest.raises(ValueError, match=r"TrainingRecipe.time_distribution='beta'.*uniform, logit_normal"):
        TrainingRecipe(time_distribution="beta")
    with pytest.raises(ValueError, match=r"warmup_steps=10 is invalid.*\[0, steps=10\)"):
        TrainingRecipe(steps=10, warmup_steps=10)
    with pytest.raises(ValueError, match=r"clip_frames=200"):
        TrainingRecipe(clip_frames=200)


def test_recipe_round_trips_through_json():
    import json

    recipe = TrainingRecipe(seed=4, betas=(0.8, 0.95))
    assert TrainingRecipe.from_dict(json.loads(recipe.to_json())) == recipe
    with pytest.raises(ValueError, match="unknown recipe fields \\['lr_max'\\]"):
        TrainingRecipe.from_dict({"lr_max": 1.0})


def test_learning_rate_warms_up_then_decays_to_the_floor():
    r = TrainingRecipe(steps=100, warmup_steps=10, lr=1e-3, final_lr_ratio=0.1)
    rates = [learning_rate(s, r) for s in range(100)]
    assert rates[0] == pytest.approx(1e-4)
    assert rates[9] == pytest.approx(1e-3)
    assert all(a >= b for a, b in itertools.pairwise(rates[9:]))  # monotone decay after warm-up
    assert rates[-1] == pytest.approx(1e-4 + 0.9e-3 * 0.5 * (1 + math.cos(math.pi * 89 / 90)))
    assert learning_rate(100, r) == pytest.approx(1e-4)


def test_flow_pair_is_the_straight_path():
    recipe = TrainingRecipe(time_distribution="uniform")
    x1 = torch.randn(5, 7, 4, generator=torch.Generator().manual_seed(0))
    pair = flow_pair(x1, recipe, torch.Generator().manual_seed(1))
    # Recover x0 from the draw order: noise first, then times.
    g = torch.Generator().manual_seed(1)
    x0 = torch.randn(x1.shape, generator=g)
    t = torch.rand(5, generator=g)
    torch.testing.assert_close(pair.t, t)
    torch.testing.assert_close(pair.x_t, (1 - t)[:, None, None] * x0 + t[:, None, None] * x1)
    torch.testing.assert_close(pair.velocity, x1 - x0)


def test_time_distributions():
    g = torch.Generator().manual_seed(0)
    uniform = sample_times(20000, TrainingRecipe(time_distribution="uniform"), g)
    logit = sample_times(20000, TrainingRecipe(time_distribution="logit_normal", logit_mean=1.0), g)
    assert float(uniform.min()) >= 0 and float(uniform.max()) <= 1
    assert abs(float(uniform.mean()) - 0.5) < 0.01
    # sigmoid(N(1, 1)): the median is sigmoid(1) = 0.731.
    assert abs(float(logit.median()) - 1 / (1 + math.exp(-1))) < 0.01


def test_seeded_generators_are_independent_streams():
    a = torch.rand(4, generator=seeded_generator(0, 1))
    assert torch.equal(a, torch.rand(4, generator=seeded_generator(0, 1)))
    assert not torch.equal(a, torch.rand(4, generator=seeded_generator(0, 2)))
    assert not torch.equal(a, torch.rand(4, generator=seeded_generator(1, 1)))


def test_training_batches_carry_text_always_and_spans_on_some(prompts):
    recipe = TrainingRecipe(batch_size=8, clip_frames=100, span_probability=0.5)
    batches = TrainingBatches(recipe, prompts)
    batch = batches[3]
    assert batch.x1.shape == (8, 100, 128)
    assert batch.cond.mixture.shape == (8, 100, 128)
    assert batch.cond.text.shape[0] == 8 and batch.cond.text_mask.any(1).all()
    with_span = batch.with_span
    assert 0 < int(with_span.sum()) < 8  # this batch has both kinds (seeded)
    alignment = batch.cond.anchor_alignment
    assert (alignment[~with_span] == ALIGN_NULL).all()
    spanned = alignment[with_span]
    assert ((spanned == ALIGN_INSIDE) | (spanned == ALIGN_OUTSIDE)).all()
    assert (spanned == ALIGN_INSIDE).any(1).all()
    again = batches[3]
    assert torch.equal(again.x1, batch.x1) and torch.equal(again.cond.anchor_alignment, alignment)
    assert not torch.equal(batches[4].x1, batch.x1)


def test_training_batches_crop_a_window(prompts):
    batches = TrainingBatches(TrainingRecipe(batch_size=2, clip_frames=20), prompts)
    batch = batches[0]
    assert batch.x1.shape == (2, 20, 128)
    assert batch.cond.anchor_alignment.shape == (2, 20)


def test_training_is_bitwise_deterministic(prompts):
    recipe = TrainingRecipe(seed=5, **TINY)
    first = train(recipe, prompts=prompts)
    second = train(recipe, prompts=prompts)
    assert first.losses == second.losses
    a, b = first.model.state_dict(), second.model.state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)
    # Training moved the weights (the output head starts at zero) and the anchor gate.
    assert first.model.transformer.output.weight.abs().sum() > 0
    assert first.anchor_gate != pytest.approx(-0.14, abs=1e-7)
    other = train(recipe.replace(seed=6), prompts=prompts)
    assert other.losses != first.losses


def test_saved_model_loads_as_a_separator(tmp_path, prompts):
    from latentflow.pipeline import Separator
    from latentflow.training.checkpoint import save_trained

    result = train(TrainingRecipe(seed=1, **TINY), prompts=prompts)
    path = save_trained(result, tmp_path / "tiny.safetensors")
    separator = Separator.load(path)
    state = separator.model.state_dict()
    # Stored as float16 by default: loading widens exactly the float16-rounded weights.
    assert all(torch.equal(state[k], v.to(torch.float16).to(v.dtype)) for k, v in result.model.state_dict().items())
    assert separator.text_encoder.name == "minilm"
