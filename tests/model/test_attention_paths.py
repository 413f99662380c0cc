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
    assert (B, H, T) == (cond.batch_size, tiny_model.cfg.n_heads, cond.n_frames)
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
