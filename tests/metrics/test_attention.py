"""Attention statistics: entropy of attention maps, its rate of change, stable / fast layers."""

from __future__ import annotations

import math
import re

import numpy as np
import pytest
import scipy.stats
import torch

from latentflow.metrics.attention import (
    DEFAULT_STABLE_THRESHOLD,
    classify_stable,
    entropy_rate,
    entropy_trajectory,
    pattern_entropy,
    settling_steps,
    summarize_convergence,
)


def random_pattern(shape, seed=0, key_mask=None):
    scores = torch.randn(shape, generator=torch.Generator().manual_seed(seed))
    if key_mask is not None:
        scores = scores.masked_fill(~key_mask[:, None, None, :], float("-inf"))
    return scores.softmax(-1)


def test_uniform_is_one_and_one_hot_is_zero():
    uniform = torch.full((2, 3, 5, 8), 1 / 8)
    torch.testing.assert_close(pattern_entropy(uniform), torch.ones(2, 3))
    torch.testing.assert_close(pattern_entropy(uniform, normalized=False), torch.full((2, 3), math.log(8)))
    one_hot = torch.zeros(2, 3, 5, 8)
    one_hot[..., 2] = 1.0
    assert torch.equal(pattern_entropy(one_hot), torch.zeros(2, 3))


def test_matches_scipy_per_row():
    pattern = random_pattern((2, 3, 4, 6), seed=1)
    expected = np.array(
        [
            [np.mean([scipy.stats.entropy(pattern[b, h, q].double().numpy()) for q in range(4)]) for h in range(3)]
            for b in range(2)
        ]
    )
    np.testing.assert_allclose(pattern_entropy(pattern, normalized=False).numpy(), expected, rtol=1e-5)
    np.testing.assert_allclose(pattern_entropy(pattern).numpy(), expected / math.log(6), rtol=1e-5)


def test_masks_normalise_by_real_keys_and_skip_padded_queries():
    mask = torch.tensor([[True] * 6, [True, True, True, True, False, False]])
    uniform = mask.float() / mask.float().sum(-1, keepdim=True)
    pattern = uniform[:, None, None, :].expand(2, 2, 6, 6).clone()
    pattern[1, :, 4:] = 0.0
    pattern[1, :, 4:, 0] = 1.0  # padded queries: a point mass that must not enter the mean
    entropy = pattern_entropy(pattern, key_mask=mask, query_mask=mask)
    torch.testing.assert_close(entropy, torch.ones(2, 2))
    unmasked_queries = pattern_entropy(pattern, key_mask=mask)
    torch.testing.assert_close(unmasked_queries[1], torch.full((2,), 4 / 6))


def test_single_real_key_has_zero_normalised_entropy():
    mask = torch.tensor([[True, False, False]])
    pattern = torch.tensor([1.0, 0.0, 0.0]).expand(1, 1, 3, 3)
    assert torch.equal(pattern_entropy(pattern, key_mask=mask), torch.zeros(1, 1))


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: pattern_entropy(torch.ones(2, 3, 4)), r"\(batch, heads, queries, keys\)"),
        (lambda: pattern_entropy(torch.ones(1, 1, 2, 2) / 2, key_mask=torch.ones(1, 3, dtype=torch.bool)),
         "key_mask must be a bool tensor of shape"),
        (lambda: pattern_entropy(torch.ones(1, 1, 2, 2) / 2, query_mask=torch.zeros(1, 2, dtype=torch.bool)),
         "no True entry for batch rows"),
    ],
)
def test_bad_inputs_name_the_problem(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_rate_is_mean_absolute_step_change():
    trajectory = np.array([[0.5, 0.9], [0.7, 0.9], [0.6, 0.9], [0.6, 0.8]])  # (steps, layers)
    np.testing.assert_allclose(entropy_rate(trajectory), [(0.2 + 0.1 + 0.0) / 3, 0.1 / 3])
    np.testing.assert_allclose(entropy_rate(trajectory.T, axis=1), entropy_rate(trajectory))
    with pytest.raises(ValueError, match="at least 2 steps"):
        entropy_rate(np.ones((1, 3)))


def test_classification_threshold_is_inclusive():
    assert classify_stable([0.01, 0.0100001, 0.0], 0.01).tolist() == [True, False, True]
    assert DEFAULT_STABLE_THRESHOLD == 0.01
    with pytest.raises(ValueError, match="threshold must be a finite number >= 0"):
        classify_stable([0.1], -1.0)
    with pytest.raises(ValueError, match="rates contain NaN"):
        classify_stable([np.nan], 0.1)


def test_settling_step_is_where_the_last_large_change_arrives():
    trajectory = np.array([0.0, 0.5, 0.52, 0.8, 0.81, 0.81])
    assert int(settling_steps(trajectory, 0.05)) == 3  # the large 0.52 -> 0.8 change arrives at step 3
    assert int(settling_steps(trajectory, 1.0)) == 0
    assert int(settling_steps(np.array([0.0, 0.0, 0.0, 1.0]), 0.1)) == 3  # only the last step qualifies
    both = np.stack([trajectory, np.zeros(6)], axis=1)
    assert settling_steps(both, 0.05).tolist() == [3, 0]


def test_summary_of_a_four_dimensional_trajectory():
    rng = np.random.default_rng(0)
    steps, examples, layers, heads = 5, 3, 4, 2
    base = rng.uniform(0.3, 0.9, size=(1, examples, layers, heads))
    slopes = np.array([0.0, 0.001, 0.05, 0.2])[None, None, :, None]
    entropy = base + slopes * np.arange(steps)[:, None, None, None]
    summary = summarize_convergence(entropy, threshold=0.01)
    np.testing.assert_allclose(summary.rates, [0.0, 0.001, 0.05, 0.2], atol=1e-12)
    assert summary.stable_layers == (0, 1) and summary.fast_layers == (2, 3)
    assert summary.settling.tolist() == [0, 0, 4, 4]
    assert summary.n_steps == 5 and summary.trajectory.shape == (5, 4)
    with pytest.raises(ValueError):
        summary.rates[0] = 1.0  # results are read-only
    assert summary.to_dict()["stable_layers"] == [0, 1]
    with pytest.raises(ValueError, match=r"\(steps, examples, layers, heads\) or \(steps, layers\)"):
        summarize_convergence(np.ones((2, 3, 4)))


def test_trajectory_from_sampler_caches_selects_one_evaluation_per_step():
    from latentflow.model import build_model, preset, sample
    from latentflow.model.random_inputs import random_conditioning

    model = build_model(preset("parity"), seed=2)
    cond = random_conditioning(model.cfg, batch=2, frames=10, seed=3)
    names = [f"blocks.{i}.attn.hook_pattern" for i in range(3)]
    out = sample(model, cond, steps=3, method="midpoint", seeds=[0, 1], cache=names)
    trajectory = entropy_trajectory(out.caches, out.evaluations, n_layers=3, key_mask=cond.audio_mask)
    assert trajectory.shape == (3, 2, 3, model.cfg.n_heads)
    midpoints = entropy_trajectory(out.caches, out.evaluations, n_layers=3, key_mask=cond.audio_mask, evaluation=1)
    second = out.caches[3]["blocks.1.attn.hook_pattern"]  # step 1, evaluation 1
    expected = pattern_entropy(second, key_mask=cond.audio_mask, query_mask=cond.audio_mask)
    np.testing.assert_array_equal(midpoints[1, :, 1], expected.numpy())
    assert ((trajectory > 0) & (trajectory <= 1)).all()
    with pytest.raises(KeyError, match=re.escape("blocks.0.cross_attn.hook_pattern")):
        entropy_trajectory(out.caches, out.evaluations, n_layers=3, kind="cross_attn")
