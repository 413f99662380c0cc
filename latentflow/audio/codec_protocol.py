"""The codec interface: what the pipeline, the bench world and the metrics may use of a codec.

``CodecGeometry`` is the rate and frame bookkeeping; ``WaveformCodec`` adds a decoder that maps
latents alone back to waveforms. DAC-VAE (``latentflow.audio.dacvae.DACVAE``) is a
``WaveformCodec`` with (B, C, T) latents. The bundled mel ``LatentCodec`` is only a
``CodecGeometry``: its latents are (B, T, C) and its decode needs the mixture waveform, so it
keeps its own encode/decode signatures.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import torch


@runtime_checkable
class CodecGeometry(Protocol):
    @property
    def sample_rate(self) -> int: ...

    @property
    def hop(self) -> int: ...

    @property
    def latent_channels(self) -> int: ...

    def samples_to_frames(self, samples: int) -> int: ...

    def frames_to_samples(self, frames: int) -> int: ...


@runtime_checkable
class WaveformCodec(CodecGeometry, Protocol):
    def encode(self, waveforms: torch.Tensor) -> torch.Tensor:
        """(B, 1, S) or (B, S) at ``sample_rate`` -> (B, C, T), T = samples_to_frames(S)."""
        ...

    def decode(self, latents: torch.Tensor, message: torch.Tensor | None = None) -> torch.Tensor:
        """(B, C, T) -> (B, 1, frames_to_samples(T)); deterministic for equal inputs."""
        ...
