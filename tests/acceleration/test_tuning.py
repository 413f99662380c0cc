"""Tuning: the entropy profile measured in hooks equals the one computed from cached
patterns, and the presets follow their documented rules."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from latentflow.acceleration import PRESET_NAMES, measure_entropy_profile, preset_plans, tune_lsac
from latentflow.acceleration.tuning import EntropyProfile
from latentflow.metrics.attention import entropy_trajectory, summarize_convergence
from latentflow.model import sample


@pytest.mark.parametrize("method", ["euler", "midpoint"])
def test_profile_equals_entropy_of_cached_patterns(model, cond, method):
    profile = measure_entropy_profile(model, [cond.select([0]), cond.select([1])], steps=4, method=method, seeds=[7, 8])
    names = [f"blocks.{i}.attn.hook_pattern" for i in range(4)]
    rows = []
    for row, seed in ((0, 7), (1, 8)):
        one = cond.select([row])
        out = sample(model, one, steps=4, method=method, seeds=[seed], cache=names)
        rows.append(entropy_trajectory(out.caches, out.evaluations, n_layers=4, key_mask=one.audio_mask))
    expected = np.concatenate(rows, axis=1)
    assert profile.entropy.shape == (4, 2, 4, model.cfg.n_heads)
    np.testing.assert_allclose(profile.entropy, expected, rtol=0, atol=1e-6)
    assert profile.n_steps == 4 and profile.method == method


def test_profile_is_deterministic_and_needs_matching_seeds(model, cond):
    a = measure_entropy_profile(model, cond, steps=3)
    b = measure_entropy_profile(model, cond, steps=3)
    np.testing.assert_array_equal(a.entropy, b.entropy)
    with pytest.raises(ValueError, match="got 3 seeds for 2 tuning examples"):
        measure_entropy_profile(model, cond, steps=3, seeds=[1, 2, 3])


def synthetic_profile(rates, jump_at=None, steps=16):
    """Linear entropy trajectories with given per-step rates; optionally one late jump in layer 0."""
    t = np.arange(steps, dtype=float)[:, None]
    trajectory = 0.5 + np.asarray(rates)[None, :] * t
    if jump_at is not None:
        trajectory[jump_at:, 0] += 0.3
    entropy = trajectory[:, None, :, None].repeat(2, axis=1).repeat(3, axis=3)
    return EntropyProfile(entropy=entropy, n_steps=steps, method="euler", evaluation=0)


def test_presets_follow_the_documented_rules():
    # Layers 0-2 stable (rate <= 0.01), 3-4 fast; layer 0 jumps at step 6 (total rate still small).
    profile = synthetic_profile([0.0, 0.002, 0.01, 0.02, 0.05], jump_at=6)
    tuning = tune_lsac(profile, threshold=0.03)
    summary = tuning.summary
    assert summary.stable_layers == (0, 1, 2, 3) and summary.fast_layers == (4,)
    assert summary.settling.tolist() == [6, 0, 0, 0, 15]
    plans = {name: dict(tuning.plan(name).freeze_steps) for name in PRESET_NAMES}
    assert plans["safe"] == {0: 8, 1: 8, 2: 8, 3: 8}
    assert plans["balanced"] == {0: 6, 1: 4, 2: 4, 3: 4}  # layer 0 waits until it has settled
    assert plans["aggressive"] == {0: 6, 1: 2, 2: 2, 3: 2, 4: 8}
    assert all(tuning.plan(name).n_steps == 16 for name in PRESET_NAMES)
    assert dict(tuning.adaptive.start_steps) == dict.fromkeys(range(5), 2)
    with pytest.raises(ValueError, match="unknown LSAC preset 'fast'; allowed: \\['safe', 'balanced', 'aggressive'\\]"):
        tuning.plan("fast")


def test_default_threshold_classifies_by_rate():
    summary = summarize_convergence(synthetic_profile([0.001, 0.02]).entropy)
    assert summary.stable_layers == (0,) and summary.fast_layers == (1,)
    plans = preset_plans(summary)
    assert dict(plans["balanced"].freeze_steps) == {0: 4}
    assert dict(plans["aggressive"].freeze_steps) == {0: 2, 1: 8}


def test_tuning_serialises(model, cond):
    tuning = tune_lsac(measure_entropy_profile(model, cond, steps=4))
    data = tuning.to_dict()
    assert set(data) == {"n_steps", "convergence", "presets", "adaptive"}
    assert set(data["presets"]) == set(PRESET_NAMES)
    assert len(data["convergence"]["rates"]) == 4


def test_drift_threshold_tuning_reaches_the_budget_with_the_smallest_threshold(model, cond):
    from latentflow.acceleration import AdaptiveConfig
    from latentflow.acceleration.tuning import tune_drift_threshold

    candidates = AdaptiveConfig.all_layers(4, 1)
    tuning = tune_drift_threshold(model, cond, candidates, target_saving=0.2, steps=6, iterations=6)
    assert tuning.reached and tuning.achieved_saving >= 0.2
    chosen = tuning.config.threshold
    assert dict(tuning.config.start_steps) == dict(candidates.start_steps) and tuning.config.n_steps == 6
    # Every smaller threshold tried fell short: the chosen one is the smallest that fits.
    assert all(saving < 0.2 for threshold, saving in tuning.evaluated if threshold < chosen)
    assert any(threshold < chosen for threshold, _ in tuning.evaluated)
    # Caching layers 0-3 from step 1 of 6 can reuse at most 4 of 6 steps: 0.9 is out of reach.
    hopeless = tune_drift_threshold(model, cond, candidates, target_saving=0.9, steps=6)
    assert not hopeless.reached and hopeless.config.threshold == 10.0
    with pytest.raises(ValueError, match=r"target_saving must lie in \(0, 1\)"):
        tune_drift_threshold(model, cond, candidates, target_saving=1.5)


def test_drift_threshold_tuning_needs_an_example(model):
    from latentflow.acceleration import AdaptiveConfig
    from latentflow.acceleration.tuning import tune_drift_threshold

    with pytest.raises(ValueError, match="threshold tuning needs at least one tuning example"):
        tune_drift_threshold(model, [], AdaptiveConfig.all_layers(4, 1), target_saving=0.2)


def test_the_two_entropy_rates_are_named_and_differ_as_documented():
    """layer_entropy_rate (LSAC tuning) averages over examples and heads before
    differencing; example_entropy_rate (the spec measure) differences each head per example."""
    from latentflow.metrics.attention import example_entropy_rate, layer_entropy_rate

    # 3 steps, 2 examples, 1 layer, 2 heads whose wiggles cancel in the mean.
    heads = np.array([[0.5, 0.7], [0.7, 0.5], [0.5, 0.7]])  # (steps, heads)
    entropy = np.stack([heads, heads + 0.1], axis=1)[:, :, None, :]  # (3, 2, 1, 2)
    np.testing.assert_allclose(layer_entropy_rate(entropy), [0.0], atol=1e-15)
    np.testing.assert_allclose(layer_entropy_rate(entropy), summarize_convergence(entropy).rates)
    per_example = example_entropy_rate(torch.tensor(entropy[:, :, 0, :]))
    torch.testing.assert_close(per_example, torch.tensor([0.2, 0.2]))
    with pytest.raises(ValueError, match="needs at least 2 steps"):
        example_entropy_rate(torch.zeros(1, 2, 2))
    with pytest.raises(ValueError, match="entropy must be \\(steps, examples, layers, heads\\)"):
        layer_entropy_rate(np.zeros((3, 2)))
