"""Baselines: truncation is plain sampling with fewer steps; Skip-2 reuses exactly the deep
blocks' residual contribution of the previous full step, and runs nothing deep in between."""

from __future__ import annotations

import pytest
import torch

from latentflow.acceleration import DeepCacheConfig, DeepCacheController, sample_deepcache, sample_truncated
from latentflow.model import initial_noise, sample

STEPS = 6
METHODS = ("euler", "midpoint")


def kwargs(method: str, seeds=(0, 1), **extra) -> dict:
    return dict(steps=STEPS, method=method, seeds=list(seeds), **extra)


@pytest.mark.parametrize("method", METHODS)
def test_truncation_is_plain_sampling_with_k_steps_from_the_same_noise(model, cond, method):
    noise = initial_noise((2, cond.n_frames, model.cfg.state_channels), seeds=[0, 1])
    result = sample_truncated(model, cond, 4, method=method, noise=noise)
    assert torch.equal(result.final, sample(model, cond, steps=4, method=method, noise=noise).final)
    assert result.record.n_steps == 4
    assert result.record.n_evaluations == 4 * (2 if method == "midpoint" else 1)


@pytest.mark.parametrize("method", METHODS)
def test_period_one_runs_every_block_and_is_bitwise_plain_sampling(model, cond, method):
    config = DeepCacheConfig(first_cached_block=2, period=1)
    result = sample_deepcache(model, cond, config, **kwargs(method))
    assert torch.equal(result.final, sample(model, cond, **kwargs(method)).final)
    assert all(all(e.blocks_run) for e in result.record.evaluations)


@pytest.mark.parametrize("method", METHODS)
def test_skipped_steps_add_the_cached_deep_contribution(model, cond, method):
    """On an odd step the stream after the blocks is exactly (stream entering block 2 now) +
    (block 3 output - block 2 input) of the previous step, per evaluation index."""
    first, last = 2, model.cfg.n_layers - 1
    final_inputs = []
    handle = model.transformer.norm.register_forward_hook(lambda m, args, out: final_inputs.append(args[0]))
    names = [f"blocks.{first - 1}.hook_resid_post", f"blocks.{last}.hook_resid_post", f"blocks.{first}.hook_resid_pre"]
    try:
        result = sample_deepcache(model, cond, DeepCacheConfig(first, period=2), **kwargs(method, cache=names))
    finally:
        handle.remove()
    out = result.output
    at = {(s.step, s.evaluation): i for i, s in enumerate(out.evaluations)}
    for (step, evaluation), i in at.items():
        if step % 2 == 0:
            assert names[1] in out.caches[i] and torch.equal(final_inputs[i], out.caches[i][names[1]])
            continue
        assert names[1] not in out.caches[i] and names[2] not in out.caches[i]  # deep blocks did not run
        previous = out.caches[at[(step - 1, evaluation)]]
        delta = previous[names[1]] - previous[names[0]]
        assert torch.equal(final_inputs[i], out.caches[i][names[0]] + delta)


@pytest.mark.parametrize("method", METHODS)
def test_skip_record_and_batch_isolation(model, cond, other_cond, method):
    config = DeepCacheConfig.deepest_half(model.cfg.n_layers)
    a = sample_deepcache(model, cond, config, **kwargs(method))
    for e in a.record.evaluations:
        expected = [True, True, e.step % 2 == 0, e.step % 2 == 0]
        assert list(e.blocks_run) == expected
    swapped = cond.concat([cond.select([0]), other_cond.select([1])])
    b = sample_deepcache(model, swapped, config, **kwargs(method))
    assert torch.equal(a.final[0], b.final[0])


def test_no_state_survives_a_call(model, cond, other_cond):
    config = DeepCacheConfig(1, period=3)
    controller = DeepCacheController(model, config)
    with controller.attached():
        sample(model, cond, **kwargs("euler"))
        second = sample(model, other_cond, **kwargs("euler")).final
    assert torch.equal(second, sample_deepcache(model, other_cond, config, **kwargs("euler")).final)


@pytest.mark.parametrize(
    "kwargs_, message",
    [
        (dict(first_cached_block=1, period=0), "period must be an integer >= 1, got 0"),
        (dict(first_cached_block=1.5), "integer"),
    ],
)
def test_bad_configs_are_rejected(kwargs_, message):
    with pytest.raises(ValueError, match=message):
        DeepCacheConfig(**kwargs_)


def test_block_outside_the_model_is_rejected(model):
    with pytest.raises(ValueError, match="layer 7 does not exist"):
        DeepCacheController(model, DeepCacheConfig(7))


def test_block_runner_that_raises_is_removed(model, cond):
    def broken(index, run, x):
        raise KeyError("runner failed")

    with pytest.raises(KeyError, match="runner failed"), model.transformer.running_blocks(broken):
        sample(model, cond, **kwargs("euler"))
    assert model.transformer.block_runner is None


def test_identity_runner_is_bitwise_plain_forward(model, cond):
    x = torch.randn(2, cond.n_frames, model.cfg.state_channels, generator=torch.Generator().manual_seed(0))
    plain = model(x, 0.3, cond)
    with model.transformer.running_blocks(lambda index, run, h: run(h)):
        assert torch.equal(model(x, 0.3, cond), plain)
