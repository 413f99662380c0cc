"""The flow-matching sampler: grids, methods, step state seen by hooks, trajectories, caches."""

from __future__ import annotations

import pytest
import torch

from latentflow.model import initial_noise, sample
from latentflow.model.sampler import time_grid


def test_grid_and_errors():
    assert time_grid(4) == [0.0, 0.25, 0.5, 0.75, 1.0]
    with pytest.raises(ValueError, match="positive integer"):
        time_grid(0)


def test_unknown_method_is_rejected(tiny_model, tiny_inputs):
    with pytest.raises(ValueError, match=r"unknown sampler method 'rk4'; allowed: \['euler', 'midpoint'\]"):
        sample(tiny_model, tiny_inputs[1], method="rk4", seeds=[0, 1])


def test_euler_is_the_explicit_update(tiny_model, tiny_inputs):
    _, cond = tiny_inputs
    noise = initial_noise((2, cond.n_frames, tiny_model.cfg.state_channels), seeds=[3, 4])
    with torch.no_grad():
        x = noise + 0.5 * tiny_model(noise, 0.0, cond)
        x = x + 0.5 * tiny_model(x, 0.5, cond)
    assert torch.equal(sample(tiny_model, cond, steps=2, method="euler", noise=noise).final, x)


def test_midpoint_is_the_explicit_update(tiny_model, tiny_inputs):
    _, cond = tiny_inputs
    noise = initial_noise((2, cond.n_frames, tiny_model.cfg.state_channels), seeds=[3, 4])
    with torch.no_grad():
        k1 = tiny_model(noise, 0.0, cond)
        x = noise + 1.0 * tiny_model(noise + 0.5 * k1, 0.5, cond)
    assert torch.equal(sample(tiny_model, cond, steps=1, method="midpoint", noise=noise).final, x)


def test_hooks_see_the_current_step(tiny_model, tiny_inputs):
    _, cond = tiny_inputs
    seen = []
    def hook(t, hook):
        seen.append((tiny_model.sampling.step, tiny_model.sampling.evaluation, tiny_model.sampling.t))

    with tiny_model.hooks(fwd_hooks=[("hook_velocity", hook)]):
        sample(tiny_model, cond, steps=3, method="midpoint", seeds=[0, 1])
    assert [s[:2] for s in seen] == [(0, 0), (0, 1), (1, 0), (1, 1), (2, 0), (2, 1)]
    assert [s[2] for s in seen] == pytest.approx([0.0, 1 / 6, 1 / 3, 0.5, 2 / 3, 5 / 6])
    assert tiny_model.sampling is None


def test_an_intervention_from_a_step_on(tiny_model, tiny_inputs):
    """Zeroing the cross-attention output only from step 2 leaves steps 0-1 of the trajectory intact."""
    _, cond = tiny_inputs

    def zero_late(t, hook):
        return t * 0 if tiny_model.sampling.step >= 2 else None

    base = sample(tiny_model, cond, steps=4, method="euler", seeds=[0, 1], return_states=True)
    with tiny_model.hooks(fwd_hooks=[(lambda n: n.endswith("hook_cross_out"), zero_late)]):
        late = sample(tiny_model, cond, steps=4, method="euler", seeds=[0, 1], return_states=True)
    assert torch.equal(base.states[:3], late.states[:3])
    assert not torch.allclose(base.states[3], late.states[3])


def test_trajectory_and_bounded_caches(tiny_model, tiny_inputs):
    _, cond = tiny_inputs
    out = sample(tiny_model, cond, steps=3, method="euler", seeds=[0, 1], return_states=True,
                 cache=["blocks.0.attn.hook_pattern"])
    assert out.states.shape == (4, 2, cond.n_frames, tiny_model.cfg.state_channels)
    assert torch.equal(out.states[-1], out.final)
    assert len(out.caches) == 3 and all(set(c) == {"blocks.0.attn.hook_pattern"} for c in out.caches)
    assert [e.step for e in out.evaluations] == [0, 1, 2]
    assert not any(hp.fwd_hooks for hp in tiny_model.hook_dict.values())


def test_per_example_seeds_make_examples_independent_of_their_batch(tiny_model, tiny_inputs):
    _, cond = tiny_inputs
    both = sample(tiny_model, cond, steps=2, seeds=[5, 6]).final
    alone = sample(tiny_model, cond.select([1]), steps=2, seeds=[6]).final
    assert (both[1] - alone[0]).abs().max() <= 1e-5


def test_bad_noise_shape(tiny_model, tiny_inputs):
    with pytest.raises(ValueError, match="noise has shape"):
        sample(tiny_model, tiny_inputs[1], noise=torch.zeros(1, 2, 3))
    with pytest.raises(ValueError, match="exactly one of seeds"):
        sample(tiny_model, tiny_inputs[1])
