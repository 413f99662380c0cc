"""Each counter-model really breaks its mechanism (checked on random weights: fast, and the
breakage is structural, so it does not depend on training)."""

from __future__ import annotations

import pytest
import torch

from latentflow.counter_models import COUNTER_MODELS, apply_counter, counter_name
from latentflow.model import build_model, preset, sample
from latentflow.model.random_inputs import random_conditioning


@pytest.fixture
def model():
    return build_model(preset("parity"), seed=4)


@pytest.fixture
def cond(model):
    return random_conditioning(model.cfg, batch=2, frames=10)


def run(model, cond, **kw):
    return sample(model, cond, steps=3, method="euler", seeds=[0, 1], **kw).final


def test_no_text_injection_makes_the_prompt_irrelevant(model, cond):
    other = cond.replace(text=cond.text.flip(0))
    assert not torch.equal(run(model, cond), run(model, other))
    apply_counter(model, "no_text_injection")
    assert torch.equal(run(model, cond), run(model, other))


def test_no_cross_attention_makes_zeroing_it_a_no_op(model, cond):
    zero = [(lambda n: n.endswith("hook_cross_out"), lambda t, hook: torch.zeros_like(t))]
    with model.hooks(fwd_hooks=zero):
        before = run(model, cond)
    assert not torch.equal(before, run(model, cond))  # zeroing matters on the intact model
    apply_counter(model, "no_cross_attention")
    with model.hooks(fwd_hooks=zero):
        ablated = run(model, cond)
    assert torch.equal(ablated, run(model, cond))


def test_no_anchor_path_makes_the_gate_irrelevant(model, cond):
    hijack = [("hook_anchor_gate", lambda t, hook: torch.full_like(t, 5.0))]
    with model.hooks(fwd_hooks=hijack):
        before = run(model, cond)
    assert not torch.equal(before, run(model, cond))
    apply_counter(model, "no_anchor_path")
    with model.hooks(fwd_hooks=hijack):
        after = run(model, cond)
    assert torch.equal(after, run(model, cond))


def test_uniform_self_attention_patterns_are_uniform(model, cond):
    apply_counter(model, "uniform_self_attention")
    out = sample(model, cond, steps=2, method="euler", seeds=[0, 1], cache=["blocks.1.attn.hook_pattern"])
    pattern = out.caches[0]["blocks.1.attn.hook_pattern"]
    assert torch.allclose(pattern[0], torch.full_like(pattern[0], 1 / cond.n_frames))


def test_oscillating_attention_changes_entropy_every_step(model, cond):
    from latentflow.metrics.attention import pattern_entropy

    def entropies(m):
        out = sample(m, cond, steps=4, method="euler", seeds=[0, 1], cache=["blocks.0.attn.hook_pattern"])
        return torch.stack([pattern_entropy(c["blocks.0.attn.hook_pattern"]).mean() for c in out.caches])

    calm = entropies(model).diff().abs().mean()
    apply_counter(model, "oscillating_attention")
    assert entropies(model).diff().abs().mean() > 5 * calm


def test_drifting_attention_keeps_the_first_step_and_moves_later_patterns(model, cond):
    site = "blocks.0.attn.hook_pattern"
    plain = sample(model, cond, steps=3, method="euler", seeds=[0, 1], cache=[site])
    apply_counter(model, "drifting_attention")
    drifting = sample(model, cond, steps=3, method="euler", seeds=[0, 1], cache=[site])
    # step 0 is unshifted, so the first evaluation matches; every later pattern is the
    # computed one (of the drifted stream) rolled by 3 frames per step
    assert torch.allclose(drifting.caches[0][site], plain.caches[0][site], atol=1e-6)
    later = drifting.caches[2][site]
    assert torch.allclose(later.sum(-1), torch.ones_like(later.sum(-1)), atol=1e-5)
    assert not torch.allclose(later, plain.caches[2][site], atol=1e-3)


def test_names_are_checked():
    assert counter_name("counter:no_anchor_path") == "no_anchor_path"
    with pytest.raises(LookupError, match=r"unknown counter-model 'no_anchors' \(did you mean 'no_anchor_path'\?\)"):
        counter_name("counter:no_anchors")
    assert len(COUNTER_MODELS) == 6
