"""Presets and parameter counts (counted on the meta device: nothing is allocated)."""

from __future__ import annotations

import pytest
import torch

from latentflow.model import SamAudioModel, preset, preset_names


def dit_parameters(name):
    with torch.device("meta"):
        model = SamAudioModel(preset(name))
    return sum(p.numel() for p in model.transformer.parameters())


def test_large_and_base_sizes_match_the_published_counts():
    assert dit_parameters("large") == pytest.approx(2.93e9, rel=0.01)
    assert dit_parameters("base") == pytest.approx(1.15e9, rel=0.01)


def test_presets_and_errors():
    assert {"parity", "fixture", "small", "base", "large"} <= set(preset_names())
    assert preset("large").head_dim == 128 and preset("large").ffn_hidden == 7552
    with pytest.raises(ValueError, match=r"unknown model preset 'huge'; allowed: \["):
        preset("huge")
    with pytest.raises(ValueError, match="not divisible by n_heads"):
        preset("fixture", n_heads=5)


def test_conditioning_errors_name_the_input(tiny_model, tiny_inputs):
    x_t, cond = tiny_inputs
    with pytest.raises(ValueError, match=r"mixture has shape \(2, 11, 16\); expected \(2, 12, 16\)"):
        tiny_model(x_t, 0.1, cond.replace(mixture=cond.mixture[:, :11]))
    with pytest.raises(ValueError, match=r"anchor_ids must lie in \[0, 3\]"):
        tiny_model(x_t, 0.1, cond.replace(anchor_ids=cond.anchor_ids + 5))
    mask = cond.text_mask.clone()
    mask[1] = False
    with pytest.raises(ValueError, match=r"text_mask has no real token for batch rows \[1\]"):
        tiny_model(x_t, 0.1, cond.replace(text_mask=mask))
    with pytest.raises(ValueError, match=r"t has shape \(3,\)"):
        tiny_model(x_t, torch.zeros(3), cond)
