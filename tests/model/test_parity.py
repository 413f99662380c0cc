"""The implementation reproduces the official SAM Audio computation (fixtures/parity)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file

from latentflow.model import build_model, sample
from latentflow.model.config import SamAudioConfig
from latentflow.model.parity import check_parity
from latentflow.model.random_inputs import random_conditioning as make_conditioning

PARITY = Path(__file__).resolve().parents[2] / "fixtures" / "parity" / "samaudio_dit_parity.safetensors"


def test_official_vector_matches_to_float32_roundoff():
    result = check_parity(PARITY)
    names = [e.name for e in result.errors]
    assert names == [
        "output.sample_midpoint16",
        "output.velocity_t0.0",
        "output.velocity_t0.37",
        "output.velocity_t0.9",
    ]
    assert result.max_abs_err < 1e-5, result.errors
    assert result.passed


def _write_vector(path: Path, cfg: SamAudioConfig, *, corrupt: float = 0.0) -> None:
    """A vector of the official layout made by this implementation (other sizes, padding mask)."""
    model = build_model(cfg, seed=3)
    cond = make_conditioning(cfg, batch=3, frames=9, tokens=4, seed=4)
    noisy = torch.randn(3, 9, cfg.state_channels, generator=torch.Generator().manual_seed(6))
    with torch.no_grad():
        velocity = model(noisy, 0.5, cond)
    final = sample(model, cond, steps=4, method="euler", noise=noisy).final
    tensors = {f"param.{k}": v.contiguous() for k, v in model.state_dict().items()}
    tensors.update(
        {
            "input.noisy_audio": noisy,
            "input.audio_features": cond.mixture,
            "input.text_features": cond.text,
            "input.text_mask": cond.text_mask,
            "input.masked_video_features": cond.video,
            "input.anchor_ids": cond.anchor_ids,
            "input.anchor_alignment": cond.anchor_alignment,
            "input.audio_pad_mask": cond.audio_mask,
            "output.velocity_t0.5": velocity + corrupt,
            "output.sample_euler4": final,
        }
    )
    tc = {"dim": cfg.dim, "n_heads": cfg.n_heads, "n_layers": cfg.n_layers, "qk_norm": True, "use_rope": True,
          "max_positions": cfg.max_positions, "multiple_of": cfg.multiple_of, "ffn_exp": cfg.ffn_exp,
          "ffn_dim_multiplier": cfg.ffn_dim_multiplier, "out_channels": cfg.state_channels}
    meta = {"transformer_config": json.dumps(tc), "latent_channels": str(cfg.latent_channels),
            "text_dim": str(cfg.text_dim), "vision_dim": str(cfg.vision_dim), "num_anchors": "3",
            "anchor_embedding_dim": str(cfg.anchor_embedding_dim)}
    save_file({k: v.contiguous() for k, v in tensors.items()}, str(path), metadata=meta)


def test_other_sizes_and_padding_mask(tmp_path):
    cfg = SamAudioConfig(dim=48, n_heads=3, n_layers=2, latent_channels=4, text_dim=10, vision_dim=6,
                         anchor_embedding_dim=8)
    path = tmp_path / "vector.safetensors"
    _write_vector(path, cfg)
    result = check_parity(path)
    assert {e.name for e in result.errors} == {"output.velocity_t0.5", "output.sample_euler4"}
    assert result.passed and result.max_abs_err < 1e-6


def test_a_wrong_output_fails(tmp_path):
    cfg = SamAudioConfig(dim=48, n_heads=3, n_layers=2, latent_channels=4, text_dim=10, vision_dim=6,
                         anchor_embedding_dim=8)
    path = tmp_path / "vector.safetensors"
    _write_vector(path, cfg, corrupt=1e-3)
    result = check_parity(path)
    assert not result.passed
    assert result.max_abs_err == pytest.approx(1e-3, rel=1e-2)
