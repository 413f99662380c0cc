"""Layers of DAC-VAE under the official state-dict names (see /work/shared/DACVAE.md, P1-P5).

Weight-normed convolutions hold ``bias``, ``weight_g`` and ``weight_v`` (the legacy
``torch.nn.utils.weight_norm`` names, in that state-dict order) and compute the weight with
``torch._weight_norm`` in forward; new-style parametrizations would rename the entries.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn


class Snake(nn.Module):
    """``x + sin(alpha x)^2 / (alpha + 1e-9)``, one alpha per channel (P2)."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.alpha = nn.Parameter(torch.ones(1, channels, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + torch.sin(self.alpha * x).pow(2) * torch.reciprocal(self.alpha + 1e-9)


class _WeightNormed(nn.Module):
    """Shared parameters of a weight-normed (transposed) convolution; norm over dim 0 (P1)."""

    def __init__(self, v_shape: tuple[int, int, int], bias: int) -> None:
        super().__init__()
        self.bias = nn.Parameter(torch.empty(bias))
        self.weight_g = nn.Parameter(torch.empty(v_shape[0], 1, 1))
        self.weight_v = nn.Parameter(torch.empty(*v_shape))
        if self.weight_v.device.type != "meta":
            nn.init.kaiming_uniform_(self.weight_v, a=math.sqrt(5))
            with torch.no_grad():
                self.weight_g.copy_(self.weight_v.flatten(1).norm(dim=1)[:, None, None])
                bound = 1 / math.sqrt(v_shape[1] * v_shape[2])
                self.bias.uniform_(-bound, bound)

    def weight(self) -> torch.Tensor:
        return torch._weight_norm(self.weight_v, self.weight_g, 0)


class WNConv1d(_WeightNormed):
    """Weight-normed "same" Conv1d: pad ``((k - s) * d) // 2`` at both ends (P4)."""

    def __init__(self, cin: int, cout: int, kernel: int, stride: int = 1, dilation: int = 1) -> None:
        super().__init__((cout, cin, kernel), cout)
        self.stride, self.dilation = stride, dilation
        self.padding = ((kernel - stride) * dilation) // 2

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.conv1d(x, self.weight(), self.bias, self.stride, self.padding, self.dilation)


class WNConvTranspose1d(_WeightNormed):
    """Weight-normed "same" ConvTranspose1d, k = 2s; weight_v is (in, out, k), normed per input."""

    def __init__(self, cin: int, cout: int, stride: int) -> None:
        super().__init__((cin, cout, 2 * stride), cout)
        self.stride = stride

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s = self.stride
        return F.conv_transpose1d(x, self.weight(), self.bias, s, (s + 1) // 2, s % 2)


class CausalConv1d(nn.Conv1d):
    """Plain Conv1d padded on the left by ``k - s`` and on the right up to a multiple of s."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        k, s = self.kernel_size[0], self.stride[0]
        right = -(-x.shape[-1] // s) * s - x.shape[-1]
        return super().forward(F.pad(x, (k - s, right)))


class CausalConvTranspose1d(nn.ConvTranspose1d):
    """Plain ConvTranspose1d without padding whose last ``s`` output samples are dropped."""

    def forward(self, input: torch.Tensor, output_size: list[int] | None = None) -> torch.Tensor:
        return super().forward(input, output_size)[..., : -self.stride[0]]


class ResidualUnit(nn.Module):
    """RU(ch, d): ``x + conv1(snake(conv7_d(snake(x))))`` (P5)."""

    def __init__(self, channels: int, dilation: int) -> None:
        super().__init__()
        self.block = nn.Sequential(
            Snake(channels),
            WNConv1d(channels, channels, 7, dilation=dilation),
            Snake(channels),
            WNConv1d(channels, channels, 1),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.block(x)


class EluResidualUnit(nn.Module):
    """RU_elu(ch): ``x + conv1(elu(causal_conv3(elu(x))))`` with hidden width ch // 2 (P5)."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        hidden = channels // 2
        self.block = nn.Sequential(
            nn.ELU(), CausalConv1d(channels, hidden, 3), nn.ELU(), nn.Conv1d(hidden, channels, 1)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.block(x)


class LSTMBlock(nn.Module):
    """Two-layer LSTM over time with a skip connection: (B, H, t) -> (B, H, t)."""

    def __init__(self, hidden: int, layers: int = 2) -> None:
        super().__init__()
        self.lstm = nn.LSTM(hidden, hidden, num_layers=layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        seq = x.permute(2, 0, 1)
        out, _ = self.lstm(seq)
        return (out + seq).permute(1, 2, 0)


class EncoderBlock(nn.Module):
    def __init__(self, channels: int, rate: int) -> None:
        super().__init__()
        self.block = nn.Sequential(
            ResidualUnit(channels, 1),
            ResidualUnit(channels, 3),
            ResidualUnit(channels, 9),
            Snake(channels),
            WNConv1d(channels, 2 * channels, 2 * rate, stride=rate),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.block(x)


class DecoderBlock(nn.Module):
    """The 12-entry list of DACVAE.md: main path 0,1,4,5,8; wm-down 2,3,6; wm-up 7,10,11."""

    def __init__(self, cin: int, cout: int, rate: int, wm_rate: int) -> None:
        super().__init__()
        a, b = cin // 3, cout // 3
        self.block = nn.Sequential(
            Snake(cin),
            WNConvTranspose1d(cin, cout, rate),
            nn.ELU(),
            CausalConvTranspose1d(a, b, 2 * wm_rate, stride=wm_rate),
            ResidualUnit(cout, 1),
            ResidualUnit(cout, 3),
            EluResidualUnit(b),
            EluResidualUnit(b),
            ResidualUnit(cout, 9),
            nn.Identity(),
            nn.ELU(),
            CausalConv1d(b, a, 2 * wm_rate, stride=wm_rate),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for index in (0, 1, 4, 5, 8):
            x = self.block[index](x)
        return x

    def wm_down(self, h: torch.Tensor) -> torch.Tensor:
        """Raises the frame rate by wm_rate (the code's ``downsample_group``)."""
        return self.block[6](self.block[3](self.block[2](h)))

    def wm_up(self, h: torch.Tensor) -> torch.Tensor:
        """Lowers the frame rate by wm_rate (the code's ``upsample_group``)."""
        return self.block[11](self.block[10](self.block[7](h)))
