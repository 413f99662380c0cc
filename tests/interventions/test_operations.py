"""Every registered operation: what it does, that it is removed afterwards, and its errors."""

from __future__ import annotations

import re

import pytest
import torch

from latentflow.interventions import OPERATIONS, Intervention, InterventionContext, UnknownSiteError, applied
from latentflow.model import build_model, preset, sample
from latentflow.model.random_inputs import random_conditioning

STEPS = 4


@pytest.fixture(scope="module")
def model():
    return build_model(preset("parity"), seed=1)


@pytest.fixture(scope="module")
def cond(model):
    return random_conditioning(model.cfg, batch=3, frames=10)


def run(model, cond, interventions=(), ctx=None, **kw):
    with applied(model, list(interventions), ctx):
        return sample(model, cond, steps=STEPS, method="euler", seeds=[0, 1, 2], **kw)


@pytest.fixture(scope="module")
def baseline(model, cond):
    return run(model, cond).final


def no_hooks_left(model):
    return not any(hp.fwd_hooks for hp in model.hook_dict.values()) and all(
        a.pattern_override is None for kind in ("self", "cross") for a in model.attention_modules(kind)
    ) and not (model._forward_pre_hooks or model._forward_hooks)  # controllers hook the root module


CHANGING = [
    Intervention("blocks.*.hook_cross_out", "zero"),
    Intervention("hook_text_proj", "zero"),
    Intervention("blocks.1.hook_resid_mid", "mean_ablate", {"over": "time"}),
    Intervention("blocks.1.hook_resid_mid", "mean_ablate", {"over": "examples"}),
    Intervention("blocks.*.hook_mlp_out", "scale", {"factor": 2.0}),
    Intervention("blocks.0.hook_attn_out", "set", {"value": 0.5}),
    Intervention("hook_anchor_gate", "override_scalar", {"value": 5.0}),
    Intervention("blocks.*.hook_cross_out", "keep_subspace"),
    Intervention("blocks.*.hook_cross_out", "remove_subspace"),
    Intervention("blocks.2.hook_resid_post", "add_noise", {"std": 0.1, "seed": 3}),
    Intervention("blocks.*.attn.hook_pattern", "uniform_attention"),
    Intervention("blocks.*.cross_attn.hook_pattern", "uniform_attention"),
    Intervention("blocks.*.attn.hook_pattern", "freeze_pattern", {"from_step": 1}),
    Intervention("blocks.*.attn.hook_pattern", "lsac", {"plan": {0: 1, 1: 1}}),
    Intervention("blocks.*.attn.hook_pattern", "lsac_adaptive", {"threshold": 1e9, "start_step": 1}),
]


@pytest.mark.parametrize("iv", CHANGING, ids=lambda iv: f"{iv.op}@{iv.site}")
def test_operation_changes_the_output_and_is_removed(model, cond, baseline, iv):
    weights = {k: v.clone() for k, v in model.state_dict().items()}
    out = run(model, cond, [iv]).final
    assert (out - baseline).abs().max() > 1e-4
    assert no_hooks_left(model)
    assert torch.equal(run(model, cond).final, baseline)  # removal restores the baseline bitwise
    assert all(torch.equal(weights[k], v) for k, v in model.state_dict().items())


def test_every_registered_operation_is_covered():
    covered = {iv.op for iv in CHANGING} | {"patch"}
    assert covered == set(OPERATIONS.names())


@pytest.mark.parametrize(
    "iv",
    [
        Intervention("blocks.*.hook_mlp_out", "scale", {"factor": 1.0}),
        Intervention("blocks.*.attn.hook_pattern", "freeze_pattern", {"from_step": STEPS - 1}),
        Intervention("blocks.*.hook_cross_out", "zero", steps=[STEPS + 3]),
    ],
    ids=["scale-by-1", "freeze-at-last-step", "steps-never-reached"],
)
def test_identities(model, cond, baseline, iv):
    assert torch.equal(run(model, cond, [iv]).final, baseline)


def test_steps_limit_where_an_operation_acts(model, cond):
    base = run(model, cond, return_states=True).states
    late = run(model, cond, [Intervention("blocks.*.hook_cross_out", "zero", steps=[2, 3])], return_states=True).states
    assert torch.equal(base[:3], late[:3]) and not torch.allclose(base[3], late[3])


def test_frozen_patterns_are_the_patterns_of_the_freeze_step(model, cond):
    site = "blocks.1.attn.hook_pattern"
    out = run(model, cond, [Intervention(site, "freeze_pattern", {"from_step": 1}, layers=None)], cache=[site])
    patterns = [c[site] for c in out.caches]
    assert not torch.equal(patterns[0], patterns[1])
    assert torch.equal(patterns[1], patterns[2]) and torch.equal(patterns[1], patterns[3])


def test_patch_from_a_recorded_source_run(model, cond, baseline):
    site = "hook_text_proj"
    other = cond.replace(text=cond.text.flip(0), text_mask=cond.text_mask.flip(0))
    source_run = sample(model, other, steps=STEPS, method="euler", seeds=[0, 1, 2], cache=[site])
    source = {
        (site, e.step, e.evaluation): c[site] for e, c in zip(source_run.evaluations, source_run.caches, strict=True)
    }
    # Patching a run with its own activations changes nothing; with another prompt's, it follows that prompt.
    own_run = sample(model, cond, steps=STEPS, method="euler", seeds=[0, 1, 2], cache=[site])
    own = {(site, e.step, e.evaluation): c[site] for e, c in zip(own_run.evaluations, own_run.caches, strict=True)}
    iv = Intervention(site, "patch")
    assert torch.equal(run(model, cond, [iv], InterventionContext(model, source=own)).final, baseline)
    patched = run(model, cond, [iv], InterventionContext(model, source=source)).final
    other_mask = cond.replace(text_mask=other.text_mask)  # the mask travels with the prompt
    expected = run(model, other_mask, [iv], InterventionContext(model, source=source)).final
    assert (patched - baseline).abs().max() > 1e-4
    assert torch.equal(patched[1], expected[1])  # rows with the same mask match exactly


def test_patch_without_a_source_is_a_clear_error(model, cond):
    with pytest.raises(RuntimeError, match="patch at 'hook_text_proj': no source run was recorded"):
        run(model, cond, [Intervention("hook_text_proj", "patch")])
    assert no_hooks_left(model)


def test_add_noise_depends_on_the_example_not_its_batch_position(model, cond):
    iv = Intervention("blocks.2.hook_resid_post", "add_noise", {"std": 0.1, "seed": 3})
    both = run(model, cond, [iv], InterventionContext(model, example_keys=[10, 11, 12])).final
    with applied(model, [iv], InterventionContext(model, example_keys=[11])):
        alone = sample(model, cond.select([1]), steps=STEPS, method="euler", seeds=[1]).final
    assert (both[1] - alone[0]).abs().max() <= 1e-5


def test_errors_name_what_is_wrong(model, cond):
    nearest = r"unknown hook site 'blocks.\*.hook_crossout'; nearest: blocks.0.hook_cross_out"
    with pytest.raises(UnknownSiteError, match=nearest):
        run(model, cond, [Intervention("blocks.*.hook_crossout", "zero")])
    with pytest.raises(LookupError, match=r"unknown operation 'zeroo' \(did you mean 'zero'\?\)"):
        run(model, cond, [Intervention("hook_text_proj", "zeroo")])
    with pytest.raises(ValueError, match=r"operation 'scale' needs argument 'factor'"):
        run(model, cond, [Intervention("hook_text_proj", "scale")])
    with pytest.raises(ValueError, match=r"argument 'over'='space': expected one of \['time', 'examples'\]"):
        run(model, cond, [Intervention("hook_text_proj", "mean_ablate", {"over": "space"})])
    with pytest.raises(ValueError, match=re.escape("acts on attention-pattern sites: blocks.<i>.attn.hook_pattern")):
        run(model, cond, [Intervention("hook_text_proj", "uniform_attention")])
    with pytest.raises(ValueError, match="two pattern operations"):
        run(model, cond, [Intervention("blocks.0.attn.hook_pattern", "uniform_attention"),
                          Intervention("blocks.*.attn.hook_pattern", "freeze_pattern", {"from_step": 1})])
    assert no_hooks_left(model)


def test_site_patterns_match_within_a_segment(model):
    from latentflow.interventions import resolve_sites

    assert resolve_sites("blocks.1.attn.hook_*", model.hook_dict) == [
        f"blocks.1.attn.hook_{s}" for s in ("in", "k", "pattern", "q", "v", "z")]
    assert resolve_sites("blocks.*.hook_cross_out", model.hook_dict, [0, 2]) == [
        "blocks.0.hook_cross_out", "blocks.2.hook_cross_out"]
    with pytest.raises(UnknownSiteError):  # "*" never crosses a dot: hook_q lives under attn.
        resolve_sites("blocks.*.hook_q", model.hook_dict)


def test_pattern_operations_chain_onto_an_existing_override(model, cond):
    """On a model whose self-attention is already uniform, freezing it changes nothing."""
    site = "blocks.1.attn.hook_pattern"
    attention = model.blocks[1].attention
    attention.pattern_override = lambda compute, call: call.uniform_pattern()
    try:
        base = run(model, cond, cache=[site])
        frozen = run(model, cond, [Intervention(site, "freeze_pattern", {"from_step": 1})], cache=[site])
        assert torch.equal(base.final, frozen.final)
        assert all(torch.equal(a[site], b[site]) for a, b in zip(base.caches, frozen.caches, strict=True))
        assert attention.pattern_override is not None  # the model's own override is restored
    finally:
        attention.pattern_override = None
