"""Input-side modules of SAM Audio: time sinusoids, the ResNet patch embedder, and the wrapper's
video and span-anchor alignment (SAMAUDIO.md steps 2-6)."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .blocks import SwiGLU


def sinusoid(t: Tensor, n_frequencies: int, period_scale: float) -> Tensor:
    """``cat(cos(t * f), sin(t * f))`` with ``f_i = exp(-ln(10000) * i / period_scale)``; cos first.

    SAM Audio uses it twice on the raw time value in [0, 1] (no x1000 rescaling): for the time
    embedder (256 frequencies over 128) and for the memory's time term (d/2 over d/2).
    """
    i = torch.arange(n_frequencies, dtype=torch.float32, device=t.device)
    freqs = torch.exp(-math.log(10000.0) * i / period_scale)
    angles = t.float()[:, None] * freqs[None, :]
    return torch.cat((angles.cos(), angles.sin()), dim=-1)


class TimestepEmbedder(nn.Module):
    """``t_embedder``: 256-frequency sinusoid of t, then a SwiGLU projection to ``tvec`` (B, d)."""

    def __init__(self, dim: int, frequency_dim: int = 256) -> None:
        super().__init__()
        self.frequency_dim = frequency_dim
        self.projection = SwiGLU(frequency_dim, dim, dim)

    def forward(self, t: Tensor) -> Tensor:
        half = self.frequency_dim // 2
        emb = sinusoid(t, half, float(half))
        return self.projection(emb.to(self.projection.w1.weight.dtype))


class ContextEmbedder(nn.Module):
    """``y_embedder``: a SwiGLU on the memory; its output feeds every block's cross-attention."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.projection = SwiGLU(dim, dim, dim)

    def forward(self, memory: Tensor) -> Tensor:
        return self.projection(memory)


class _NormConvBlock(nn.Module):
    """GroupNorm(1 group) -> SiLU -> Conv1d(k=3, 'same' zero padding)."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.groupnorm = nn.GroupNorm(1, dim)
        self.project = nn.Conv1d(dim, dim, kernel_size=3, padding=1)

    def forward(self, x: Tensor) -> Tensor:
        return self.project(F.silu(self.groupnorm(x)))


class _ResnetBlock(nn.Module):
    def __init__(self, dim: int) -> None:
        super().__init__()
        self.block1 = _NormConvBlock(dim)
        self.block2 = _NormConvBlock(dim)

    def forward(self, x: Tensor) -> Tensor:
        return self.block2(self.block1(x)) + x


class PatchEmbedder(nn.Module):
    """``x_embedder``: a 1-D ResNet block over time, on (B, T, d) in and out."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.block = _ResnetBlock(dim)

    def forward(self, x: Tensor) -> Tensor:
        return self.block(x.transpose(1, 2)).transpose(1, 2)


class VideoAligner(nn.Module):
    """``align_masked_video``: 1x1 conv of (B, Dv, T) video features, LayerNorm, tanh-gated add."""

    def __init__(self, vision_dim: int, dim: int, gate_init: float) -> None:
        super().__init__()
        self.conv = nn.Conv1d(vision_dim, dim, kernel_size=1)
        self.layer_norm = nn.LayerNorm(dim)
        self.gate = nn.Parameter(torch.full((1,), float(gate_init)))

    def features(self, video: Tensor) -> Tensor:
        return self.layer_norm(self.conv(video).transpose(1, 2))


class AnchorEmbedder(nn.Module):
    """``embed_anchors``: per-frame span-anchor tokens (0 <null>, 1 +, 2 -, last row = padding)."""

    def __init__(self, num_anchors: int, embedding_dim: int, dim: int, gate_init: float) -> None:
        super().__init__()
        self.num_anchors = num_anchors
        self.embed = nn.Embedding(num_anchors + 1, embedding_dim, padding_idx=num_anchors)
        self.proj = nn.Linear(embedding_dim, dim, bias=False)
        self.gate = nn.Parameter(torch.full((1,), float(gate_init)))

    def features(self, anchor_ids: Tensor, alignment: Tensor) -> Tensor:
        """anchor_ids (B, A) and alignment (B, T) -> projected per-frame embeddings (B, T, d)."""
        per_frame = torch.gather(anchor_ids, 1, alignment)
        return self.proj(self.embed(per_frame))
