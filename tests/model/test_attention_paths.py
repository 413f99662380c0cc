"""The SDPA fast path and the explicit (pattern-materialising) path compute the same function."""

from __future__ import annotations

import torch

from latentflow.model import sample


def _with_pattern_hooks(model, fn):
    """Run fn() with a no-op hook on every hook_pattern, which forces the explicit path."""
    hooks = [(name, lambda t, hook: None) for name in model.hook_dict if name.endswith("hook_pattern")]
    with model.hooks(fwd_hooks=hooks):
        return fn()


def test_explicit_path_matches_fast_path(tiny_model, tiny_inputs):
    x_t, cond = tiny_inputs
    with torch.no_grad():
        fast = tiny_model(x_t, 0.3, cond)
        explicit = _with_pattern_hooks(tiny_model, lambda: tiny_model(x_t, 0.3, cond))
    assert (fast - explicit).abs().max() <= 1e-6
    assert not torch.equal(fast, torch.zeros_like(fast))


def test_explicit_path_matches_over_a_whole_sampling_run(tiny_model, tiny_inputs):
    _, cond = tiny_inputs
    fast = sample(tiny_model, cond, steps=4, seeds=[1, 2]).final
    explicit = _with_pattern_hooks(tiny_model, lambda: sample(tiny_model, cond, steps=4, seeds=[1, 2]).final)
    assert (fast - explicit).abs().max() <= 1e-5


def test_patterns_are_probabilities_with_no_weight_on_masked_keys(tiny_model, tiny_inputs):
    x_t, cond = tiny_inputs
    with torch.no_grad():
        _, cache = tiny_model.run_with_cache(x_t, 0.3, cond, names_filter=lambda n: n.endswith("hook_pattern"))
    self_p, cross_p = cache["blocks.0.attn.hook_pattern"], cache["blocks.0.cross_attn.hook_pattern"]
    B, H, T, _ = self_p.shape
    assert (cond.batch_size, tiny_model.cfg.n_heads, cond.n_frames) == (B, H, T)
    assert torch.allclose(self_p.sum(-1), torch.ones(B, H, T), atol=1e-6)
    assert (self_p[-1, ..., ~cond.audio_mask[-1]] == 0).all()  # padded frames get no attention
    assert (cross_p[0, ..., ~cond.text_mask[0]] == 0).all()  # padded tokens get no attention
    assert (self_p[-1, ..., cond.audio_mask[-1]] > 0).all()


def test_uniform_override_changes_output_without_touching_weights(tiny_model, tiny_inputs):
    x_t, cond = tiny_inputs
    before = {k: v.clone() for k, v in tiny_model.state_dict().items()}
    attn = tiny_model.blocks[1].attention
    with torch.no_grad():
        base = tiny_model(x_t, 0.3, cond)
        with attn.overriding_pattern(lambda compute, call: call.uniform_pattern()):
            _, cache = tiny_model.run_with_cache(x_t, 0.3, cond, names_filter="blocks.1.attn.hook_pattern")
            uniform = tiny_model(x_t, 0.3, cond)
        after = tiny_model(x_t, 0.3, cond)
    pattern = cache["blocks.1.attn.hook_pattern"]
    real_frames = int(cond.audio_mask[-1].sum())
    assert torch.allclose(pattern[-1, 0, 0, :real_frames], torch.full((real_frames,), 1 / real_frames))
    assert (uniform - base).abs().max() > 1e-3
    assert torch.equal(after, base)
    assert attn.pattern_override is None
    assert all(torch.equal(before[k], v) for k, v in tiny_model.state_dict().items())


def test_padded_text_tokens_do_not_matter(tiny_model, tiny_inputs):
    x_t, cond = tiny_inputs
    text = cond.text.clone()
    text[0, ~cond.text_mask[0]] = 100.0  # garbage under the mask
    with torch.no_grad():
        base = tiny_model(x_t, 0.5, cond)
        garbled = tiny_model(x_t, 0.5, cond.replace(text=text))
    assert (base - garbled).abs().max() <= 1e-6


def _pattern_hook_flipping_keys(module, args, output):
    return output.flip(-1)


def test_a_plain_register_forward_hook_on_the_pattern_fires_and_acts(tiny_model, tiny_inputs):
    """nnsight, pyvene and baukit register plain torch hooks, not TransformerLens ones."""
    x_t, cond = tiny_inputs
    site = tiny_model.hook_dict["blocks.1.attn.hook_pattern"]
    seen = []
    with torch.no_grad():
        base = tiny_model(x_t, 0.3, cond)
        handle = site.register_forward_hook(lambda m, a, out: (seen.append(out.shape), out.flip(-1))[1])
        try:
            flipped = tiny_model(x_t, 0.3, cond)
        finally:
            handle.remove()
        after = tiny_model(x_t, 0.3, cond)
    assert seen == [(cond.batch_size, tiny_model.cfg.n_heads, cond.n_frames, cond.n_frames)]
    assert (flipped - base).abs().max() > 1e-3
    assert torch.equal(after, base)


def test_a_plain_forward_pre_hook_on_the_pattern_fires(tiny_model, tiny_inputs):
    x_t, cond = tiny_inputs
    site = tiny_model.hook_dict["blocks.0.cross_attn.hook_pattern"]
    seen = []
    handle = site.register_forward_pre_hook(lambda m, args: seen.append(args[0].shape))
    try:
        with torch.no_grad():
            tiny_model(x_t, 0.3, cond)
    finally:
        handle.remove()
    assert seen == [(cond.batch_size, tiny_model.cfg.n_heads, cond.n_frames, cond.text.shape[1])]


def test_a_global_module_hook_sees_the_pattern(tiny_model, tiny_inputs):
    x_t, cond = tiny_inputs
    names = []
    handle = torch.nn.modules.module.register_module_forward_hook(
        lambda m, a, out: names.append(m.name) if getattr(m, "name", None) and "hook_pattern" in m.name else None
    )
    try:
        with torch.no_grad():
            tiny_model(x_t, 0.3, cond)
    finally:
        handle.remove()
    assert names.count("blocks.2.attn.hook_pattern") == 1 and names.count("blocks.2.cross_attn.hook_pattern") == 1


def test_without_any_hook_the_fast_path_runs(tiny_model, tiny_inputs, monkeypatch):
    """No hook anywhere: the fused kernel runs (the pattern is never built) and the numbers are
    bitwise those of the unhooked model before hooks were added and removed."""
    x_t, cond = tiny_inputs
    with torch.no_grad():
        before = tiny_model(x_t, 0.3, cond)
        handle = tiny_model.hook_dict["blocks.0.attn.hook_pattern"].register_forward_hook(_pattern_hook_flipping_keys)
        handle.remove()
    calls = []
    real = torch.nn.functional.scaled_dot_product_attention
    monkeypatch.setattr(
        torch.nn.functional, "scaled_dot_product_attention", lambda *a, **k: calls.append(1) or real(*a, **k)
    )
    with torch.no_grad():
        after = tiny_model(x_t, 0.3, cond)
    assert len(calls) == 2 * tiny_model.cfg.n_layers  # self- and cross-attention of every block
    assert torch.equal(after, before)
