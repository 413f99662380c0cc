"""run_with_cache returns TransformerLens' ActivationCache, with helpers that fit SAM Audio's block."""

from __future__ import annotations

import re

import pytest
import torch
from transformer_lens import ActivationCache

from latentflow.model import build_model, preset, sample
from latentflow.model.random_inputs import random_conditioning, random_state


@pytest.fixture(scope="module")
def run(tiny_model):
    cond = random_conditioning(tiny_model.cfg)
    x_t = random_state(tiny_model.cfg, cond.batch_size, cond.n_frames, seed=5)
    with torch.no_grad():
        out, cache = tiny_model.run_with_cache(x_t, 0.3, cond)
    return out, cache


def test_run_with_cache_returns_an_activation_cache_with_tl_helpers(tiny_model, run):
    _, cache = run
    assert isinstance(cache, ActivationCache)
    assert cache.model is tiny_model and cache.has_batch_dim
    assert torch.equal(cache["resid_pre", 1], cache["blocks.1.hook_resid_pre"])
    assert torch.equal(cache["pattern", 0, "attn"], cache["blocks.0.attn.hook_pattern"])
    assert torch.equal(cache["resid_post", -1], cache[f"blocks.{tiny_model.cfg.n_layers - 1}.hook_resid_post"])
    stacked = cache.stack_activation("resid_post")
    assert stacked.shape == (tiny_model.cfg.n_layers, *cache["resid_post", 0].shape)
    assert cache.to("cpu") is cache
    _, plain = tiny_model.run_with_cache(*_inputs(tiny_model), return_cache_object=False)
    assert type(plain) is dict


def _inputs(model):
    cond = random_conditioning(model.cfg)
    return random_state(model.cfg, cond.batch_size, cond.n_frames, seed=5), 0.3, cond


def test_remove_batch_dim_on_a_single_example(tiny_model, run):
    _, cache = run
    single = {k: v[:1].clone() for k, v in cache.items()}
    one = type(cache)(single, tiny_model).remove_batch_dim()
    assert not one.has_batch_dim
    assert torch.equal(one["resid_post", 2], cache["resid_post", 2][0])
    # the residual helpers still add up without the batch dimension
    assert torch.allclose(one.decompose_resid().sum(0), cache["resid_post", -1][0], atol=1e-5)
    second = cache.apply_slice_to_batch_dim(1)
    assert type(second) is type(cache) and not second.has_batch_dim
    assert torch.allclose(second.stack_head_results(incl_remainder=True).sum(0), cache["resid_post", -1][1], atol=1e-5)


def test_decompose_resid_components_sum_to_the_final_residual(tiny_model, run):
    _, cache = run
    n = tiny_model.cfg.n_layers
    components, labels = cache.decompose_resid(return_labels=True)
    parts = ("attn_out", "cross_out", "mlp_out")
    assert labels == ["embed"] + [f"{layer}_{part}" for layer in range(n) for part in parts]
    final = cache["resid_post", -1]
    assert final.abs().max() > 1.0  # a real stream, not zeros
    assert torch.allclose(components.sum(0), final, atol=1e-5)
    # into layer 2's MLP: embed + layers 0, 1 + layer 2's two attentions = resid_cross of layer 2
    mlp_in = cache.decompose_resid(layer=2, mlp_input=True).sum(0)
    assert torch.allclose(mlp_in, cache["blocks.2.hook_resid_cross"], atol=1e-5)
    # the gated self-attention term is the gate times hook_attn_out, not hook_attn_out itself
    gate = cache["mods", 1][:, 2][:, None, :]
    assert torch.allclose(cache.attention_contribution(1), gate * cache["attn_out", 1])
    assert not torch.allclose(cache.attention_contribution(1), cache["attn_out", 1], atol=1e-3)
    _, attn_labels = cache.decompose_resid(mode="attn", incl_embeds=False, return_labels=True)
    assert len(attn_labels) == 2 * n and "0_mlp_out" not in attn_labels
    with pytest.raises(ValueError, match="mode 'heads'"):
        cache.decompose_resid(mode="heads")


def test_accumulated_resid_keeps_the_cross_attention_residual(tiny_model, run):
    _, cache = run
    n = tiny_model.cfg.n_layers
    stack, labels = cache.accumulated_resid(incl_mid=True, return_labels=True)
    assert labels == [f"{layer}_{p}" for layer in range(n) for p in ("pre", "mid", "cross")] + ["final_post"]
    for layer in range(n):
        at = labels.index(f"{layer}_cross")
        assert torch.equal(stack[at], cache[f"blocks.{layer}.hook_resid_cross"])
        assert torch.equal(stack[labels.index(f"{layer}_mid")], cache["resid_mid", layer])
    assert torch.equal(stack[-1], cache["resid_post", -1])
    plain, plain_labels = cache.accumulated_resid(layer=2, return_labels=True)
    assert plain_labels == ["0_pre", "1_pre", "2_pre"] and plain.shape[0] == 3
    _, mlp_labels = cache.accumulated_resid(layer=1, mlp_input=True, return_labels=True)
    assert mlp_labels == ["0_pre", "1_pre", "1_mid", "1_cross"]


def test_stack_head_results_sum_to_each_attention_contribution(tiny_model, run):
    _, cache = run
    n, H = tiny_model.cfg.n_layers, tiny_model.cfg.n_heads
    heads, labels = cache.stack_head_results(return_labels=True)
    assert heads.shape[0] == n * H and labels[:2] == ["L0H0", "L0H1"]
    for layer in range(n):
        assert torch.allclose(heads[layer * H:(layer + 1) * H].sum(0), cache.attention_contribution(layer), atol=1e-5)
    cross = cache.stack_head_results(attention="cross")
    for layer in range(n):
        assert torch.allclose(cross[layer * H:(layer + 1) * H].sum(0), cache["cross_out", layer], atol=1e-5)
    both, both_labels = cache.stack_head_results(attention="both", incl_remainder=True, return_labels=True)
    assert both_labels[H:H + 2] == ["L0C0", "L0C1"] and both_labels[-1] == "remainder"
    assert torch.allclose(both.sum(0), cache["resid_post", -1], atol=1e-5)
    # TL's compute_head_results path: the cached per-head results are the same tensors
    cache.compute_head_results()
    assert torch.allclose(cache["result", 0, "attn"].sum(-2), cache.attention_contribution(0), atol=1e-5)


def test_per_head_weights_follow_the_strided_head_split(tiny_model, run):
    _, cache = run
    attn = tiny_model.blocks[1].attn
    assert attn is tiny_model.blocks[1].attention
    v = torch.einsum("btm,hmd->bthd", cache["blocks.1.attn.hook_in"], attn.W_V)
    assert torch.allclose(v, cache["v", 1, "attn"], atol=1e-5)
    assert attn.W_Q.shape == (tiny_model.cfg.n_heads, tiny_model.cfg.d_model, tiny_model.cfg.d_head)
    assert "transformer.layers.0.attn.wq.weight" not in tiny_model.state_dict()


@pytest.mark.parametrize("call", [
    lambda c: c.accumulated_resid(apply_ln=True),
    lambda c: c.decompose_resid(apply_ln=True),
    lambda c: c.apply_ln_to_stack(torch.zeros(1)),
    lambda c: c.logit_lens(),
    lambda c: c.stack_neuron_results(1),
    lambda c: c.get_full_resid_decomposition(),
])
def test_helpers_that_do_not_apply_say_why(run, call):
    _, cache = run
    with pytest.raises(NotImplementedError, match=r"adaLN|velocity|SwiGLU"):
        call(cache)


def test_config_has_the_fields_transformer_lens_reads():
    model = build_model(preset("parity"), seed=0)
    cfg = model.cfg
    assert (cfg.d_model, cfg.d_head, cfg.n_layers, cfg.n_heads, cfg.d_mlp) == (64, 16, 3, 4, cfg.ffn_hidden)
    assert cfg.attn_only is False
    assert (cfg.device, cfg.dtype) == ("cpu", torch.float32)
    model.to(torch.float64)
    assert model.cfg.dtype == torch.float64
    assert model.cfg == preset("parity")  # placement is not part of the shape
    assert "device" not in model.cfg.to_dict() and "dtype" not in model.cfg.to_dict()
    with pytest.raises(AttributeError):
        cfg.d_model = 3


def test_sample_cache_takes_a_name_a_list_or_a_filter(tiny_model):
    cond = random_conditioning(tiny_model.cfg)
    for spec in ("hook_text_proj", ["hook_text_proj"], lambda name: name == "hook_text_proj"):
        out = sample(tiny_model, cond, steps=2, method="euler", seeds=[0] * cond.batch_size, cache=spec)
        assert [set(c) for c in out.caches] == [{"hook_text_proj"}] * 2
    with pytest.raises(ValueError, match=r"unknown hook name 'hook_txt_proj' \(nearest: hook_text_proj"):
        sample(tiny_model, cond, steps=1, seeds=[0] * cond.batch_size, cache="hook_txt_proj")
    with pytest.raises(ValueError, match=re.escape("blocks.0.attn.hook_pattern")):
        tiny_model.run_with_cache(*_inputs(tiny_model), names_filter=["blocks.0.attn.hook_patern"])
