"""Properties of hooks for any site and any edit a user's hook may make, checked with hypothesis.

A TransformerLens user's hook often edits its input in place (``t.clamp_()``, ``t.mul_(0)``)
and returns nothing. Whatever the site, that may change this forward's output but never the
weights, and a later plain run must be bitwise the baseline.
"""

from __future__ import annotations

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from latentflow.model import build_model, preset
from latentflow.model.random_inputs import random_conditioning, random_state

IN_PLACE_EDITS = {
    "clamp_": lambda t: t.clamp_(min=0.5),
    "mul_": lambda t: t.mul_(3.0),
    "add_": lambda t: t.add_(1.0),
    "zero_": lambda t: t.zero_(),
    "fill_": lambda t: t.fill_(5.0),
    "neg_": lambda t: t.neg_(),
}
GATES = ["hook_anchor_gate", "hook_video_gate"]


@pytest.fixture(scope="module")
def model():
    return build_model(preset("parity"), seed=1)


@pytest.fixture(scope="module")
def inputs(model):
    # parity's video_gate_init is 0.3 and random_conditioning gives video and anchors, so both
    # gate hooks fire.
    cond = random_conditioning(model.cfg)
    assert cond.video is not None and cond.anchor_ids is not None
    return random_state(model.cfg, cond.batch_size, cond.n_frames, seed=5), cond


def _weights(model):
    return {k: v.clone() for k, v in model.state_dict().items()}


def _sites(model):
    # Patterns are edited through hooks too, but a frozen or uniform override can hand out a
    # shared or expanded tensor: that contract is the override's, not a weight's.
    return sorted(n for n in model.hook_dict if not n.endswith("hook_pattern"))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_in_place_edits_in_hooks_never_change_weights(model, inputs, data):
    x_t, cond = inputs
    site = data.draw(st.sampled_from(GATES + _sites(model)), label="site")
    edit = data.draw(st.sampled_from(sorted(IN_PLACE_EDITS)), label="edit")
    grad = data.draw(st.booleans(), label="grad enabled")
    before = _weights(model)
    with torch.no_grad():
        baseline = model(x_t, 0.2, cond)

    def hook(t, hook):
        IN_PLACE_EDITS[edit](t)  # returns None: TransformerLens keeps the (edited) input

    with torch.set_grad_enabled(grad):
        model.run_with_hooks(x_t, 0.2, cond, fwd_hooks=[(site, hook)])
    after = model.state_dict()
    changed = [k for k in before if not torch.equal(before[k], after[k])]
    assert not changed, f"{edit} at {site} changed weights {changed}"
    assert all(not hp._forward_hooks for hp in model.hook_dict.values())
    with torch.no_grad():
        assert torch.equal(model(x_t, 0.2, cond), baseline)


@pytest.mark.parametrize("site", GATES)
def test_gate_hooks_see_the_gate_value_and_an_in_place_edit_acts_on_this_run_only(model, inputs, site):
    x_t, cond = inputs
    gate = model.embed_anchors.gate if site == "hook_anchor_gate" else model.align_masked_video.gate
    seen = {}

    def clamp(t, hook):
        seen["value"] = t.clone()
        seen["is_parameter"] = isinstance(t, torch.nn.Parameter) or t.data_ptr() == gate.data_ptr()
        t.clamp_(min=2.0)

    with torch.no_grad():
        base = model(x_t, 0.2, cond)
        edited = model.run_with_hooks(x_t, 0.2, cond, fwd_hooks=[(site, clamp)])
        again = model(x_t, 0.2, cond)
    assert torch.equal(seen["value"], gate.detach())  # the hook sees exactly the gate's value
    assert not seen["is_parameter"]
    assert (edited - base).abs().max() > 1e-3  # the edit acted on that forward
    assert torch.equal(again, base)
    assert float(gate.detach().max()) < 2.0  # and never on the weight


def test_gate_gradients_still_reach_the_parameter(model, inputs):
    x_t, cond = inputs
    model.zero_grad(set_to_none=True)
    model(x_t, 0.2, cond).square().mean().backward()
    grads = [model.embed_anchors.gate.grad, model.align_masked_video.gate.grad]
    model.zero_grad(set_to_none=True)
    assert all(g is not None and torch.isfinite(g).all() and g.abs().sum() > 0 for g in grads)
