"""Seeded random inputs that exercise every path of the model (tests, benchmarks, random weights)."""

from __future__ import annotations

import torch

from .conditioning import Conditioning
from .config import SamAudioConfig


def random_conditioning(
    cfg: SamAudioConfig,
    batch: int = 2,
    frames: int = 12,
    tokens: int = 5,
    *,
    seed: int = 0,
    video: bool = True,
    anchors: bool = True,
    audio_mask: bool = True,
    dtype: torch.dtype = torch.float32,
    device: torch.device | str | None = None,
) -> Conditioning:
    """Text with padded tokens in row 0, video, span anchors, and padded frames in the last row."""
    g = torch.Generator().manual_seed(seed)
    latent = torch.randn(batch, frames, cfg.latent_channels, generator=g)
    text_mask = torch.ones(batch, tokens, dtype=torch.bool)
    if tokens > 2:
        text_mask[0, tokens - 2 :] = False
    mask = None
    if audio_mask:
        mask = torch.ones(batch, frames, dtype=torch.bool)
        mask[-1, max(1, frames - 3) :] = False
    cond = Conditioning(
        mixture=torch.cat([latent, latent], -1),
        text=torch.randn(batch, tokens, cfg.text_dim, generator=g),
        text_mask=text_mask,
        video=torch.randn(batch, cfg.vision_dim, frames, generator=g) if video else None,
        anchor_ids=torch.tensor([[0, 1, cfg.num_anchors]] * batch) if anchors else None,
        anchor_alignment=(torch.arange(frames)[None].repeat(batch, 1) * 3 // frames) if anchors else None,
        audio_mask=mask,
    )
    return cond.to(device=device, dtype=dtype)


def random_state(cfg: SamAudioConfig, batch: int, frames: int, *, seed: int = 0) -> torch.Tensor:
    return torch.randn(batch, frames, cfg.state_channels, generator=torch.Generator().manual_seed(seed))
