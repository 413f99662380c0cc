"""Adaptive refresh: threshold 0 is plain sampling, an unreachable threshold is LSAC, refresh
decisions are per batch row, and the drift signal ignores padded frames."""

from __future__ import annotations

import contextlib

import pytest
import torch

from latentflow.acceleration import AdaptiveConfig, AdaptiveController, relative_drift, sample_adaptive, sample_lsac
from latentflow.model import sample

STEPS = 6
METHODS = ("euler", "midpoint")


def kwargs(method: str, seeds=(0, 1), **extra) -> dict:
    return dict(steps=STEPS, method=method, seeds=list(seeds), **extra)


def materialised(model):
    """Plain attention, but on the explicit path (patterns computed as probabilities)."""
    stack = contextlib.ExitStack()
    for attention in model.attention_modules("self"):
        stack.enter_context(attention.overriding_pattern(lambda compute, call: compute()))
    return stack


@pytest.mark.parametrize("method", METHODS)
def test_threshold_zero_refreshes_every_step_and_equals_plain_sampling(model, cond, method):
    config = AdaptiveConfig.all_layers(model.cfg.n_layers, 0, threshold=0.0)
    result = sample_adaptive(model, cond, config, **kwargs(method))
    with materialised(model):
        explicit = sample(model, cond, **kwargs(method)).final
    assert torch.equal(result.final, explicit)  # bitwise: the same computation
    plain = sample(model, cond, **kwargs(method)).final  # fast path: equal to round-off
    torch.testing.assert_close(result.final, plain, rtol=0, atol=1e-5)
    assert result.record.reused_pattern_fraction() == 0.0


@pytest.mark.parametrize("method", METHODS)
def test_unreachable_threshold_is_lsac_frozen_at_the_start_step(model, cond, method):
    starts = {0: 1, 2: 3}
    result = sample_adaptive(model, cond, AdaptiveConfig(starts, threshold=1e30), **kwargs(method))
    lsac = sample_lsac(model, cond, starts, **kwargs(method))
    assert torch.equal(result.final, lsac.final)
    assert result.record.evaluations == lsac.record.evaluations


def test_start_at_or_past_last_step_is_bitwise_plain_sampling(model, cond):
    config = AdaptiveConfig.all_layers(model.cfg.n_layers, STEPS - 1, threshold=0.5)
    result = sample_adaptive(model, cond, config, **kwargs("euler"))
    assert torch.equal(result.final, sample(model, cond, **kwargs("euler")).final)


def test_intermediate_threshold_refreshes_some_patterns(model, cond):
    """Find the drifts the run sees, then put the threshold among them: some reuse, some refresh."""
    probe = AdaptiveController(model, AdaptiveConfig.all_layers(4, 1, threshold=1e30))
    with probe.attached():
        sample(model, cond, **kwargs("euler"))
        drifts = torch.cat([d for *_, d in probe.drifts])
    threshold = float(drifts.median())
    result = sample_adaptive(model, cond, AdaptiveConfig.all_layers(4, 1, threshold), **kwargs("euler"))
    needed = [n for e in result.record.evaluations if e.step > 1 for n in e.pattern_rows_needed]
    assert 0 < sum(needed) < len(needed) * 2
    assert 0.0 < result.record.reused_pattern_fraction() < 1.0


@pytest.mark.parametrize("method", METHODS)
def test_refresh_decisions_are_per_example(model, cond, other_cond, method):
    """Row 0's output is bitwise independent of its batch partner, also when the partner
    refreshes at other steps (the batch is then computed whole and row 0 keeps its cache)."""
    # At the first reuse step the drift is measured from the start step whatever the
    # threshold: a threshold between the two rows' drifts there makes them decide differently.
    probe = AdaptiveController(model, AdaptiveConfig({0: 1}, threshold=1e30))
    with probe.attached():
        sample(model, cond, **kwargs(method))
        first_drift = probe.drifts[0][3]
    config = AdaptiveConfig.all_layers(model.cfg.n_layers, 1, threshold=float(first_drift.mean()))
    swapped = cond.concat([cond.select([0]), other_cond.select([1])])
    a = sample_adaptive(model, cond, config, **kwargs(method))
    b = sample_adaptive(model, swapped, config, **kwargs(method))
    assert torch.equal(a.final[0], b.final[0])
    assert not torch.equal(a.final[1], b.final[1])
    rows = [e.pattern_rows_needed for e in a.record.evaluations + b.record.evaluations]
    assert any(1 in r for r in rows), "no evaluation where rows decided differently: the test would be vacuous"


def test_relative_drift_uses_real_frames_only():
    reference = torch.ones(2, 4, 3)
    x = reference.clone()
    x[:, 3] = 100.0  # only the last frame changes
    mask = torch.tensor([[True, True, True, False], [True, True, True, True]])
    drift = relative_drift(x, reference, mask.float())
    assert drift[0] == 0.0
    assert drift[1] == pytest.approx(((99.0**2 * 3) / (4 * 3)) ** 0.5)
    assert torch.equal(relative_drift(reference, reference), torch.zeros(2))


@pytest.mark.parametrize(
    "kwargs_, message",
    [
        (dict(start_steps={0: 1}, threshold=-0.1), "threshold must be a finite number >= 0, got -0.1"),
        (dict(start_steps={0: 1}, threshold=float("nan")), "threshold must be a finite number"),
        (dict(start_steps={0: -1}), "start step -1 of layer 0"),
        (dict(start_steps={1.0: 1}), "layer 1.0 must be an integer"),
    ],
)
def test_bad_configs_are_rejected(kwargs_, message):
    with pytest.raises(ValueError, match=message):
        AdaptiveConfig(**kwargs_)


def test_layer_outside_the_model_is_rejected(model):
    with pytest.raises(ValueError, match="layer 4 does not exist"):
        AdaptiveController(model, AdaptiveConfig({4: 1}))
