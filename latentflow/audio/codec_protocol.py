"""The codec interface: all that the pipeline, the example world, the metrics and the report use.

Two codecs implement it: DAC-VAE (``latentflow.audio.dacvae.DACVAE``, SAM Audio's own, 48 kHz)
and the bundled 16 kHz mel codec (``latentflow.audio.codecs.MelCodec`` around
``latentflow.audio.codec.LatentCodec``).

Why ``decode`` takes an optional ``mixture`` and ``decode_separation`` exists. The two codecs
turn latents into audio in genuinely different ways, and the interface says so instead of
hiding it:

* DAC-VAE decodes a latent alone: it ignores nothing, needs no mixture, and stamps a 16-bit
  watermark ``message`` into every waveform (``watermarked`` is True). SAM Audio decodes the
  target and the residual as two independent rows of one call.
* The mel codec's latent is only a power envelope: it cannot make a waveform without the
  mixture, which it masks (``needs_mixture`` is True); it has no watermark, so a ``message``
  is refused rather than ignored. Its target and residual come from one complementary mask,
  so the two sum to the mixture.

``decode(latents, *, mixture=None, message=None)`` therefore takes both as keywords, each codec
refusing the one it cannot use, and ``decode_separation`` maps a final ODE state
(B, T, 2C) = [target C | residual C] to (target, residual) the way each codec's model expects.

Layouts: waveforms are (B, S) float32 at ``sample_rate``; latents are (B, C, T) as in SAM Audio
(the DiT itself reads (B, T, C): transpose at the model boundary). Decoded waveforms have
``frames_to_samples(T)`` samples (DAC-VAE; whole frames, as the official ``separate`` cuts
them) or the mixture's length (mel); callers trim to the input length for their measures.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import torch

# The keys of ``describe()``; results files record exactly these.
CODEC_DESCRIPTION_KEYS = ("name", "sample_rate", "hop", "latent_channels")


@runtime_checkable
class CodecGeometry(Protocol):
    """Rate and frame bookkeeping."""

    @property
    def sample_rate(self) -> int: ...

    @property
    def hop(self) -> int: ...

    @property
    def latent_channels(self) -> int: ...

    def samples_to_frames(self, samples: int) -> int: ...

    def frames_to_samples(self, frames: int) -> int: ...


@runtime_checkable
class AudioCodec(CodecGeometry, Protocol):
    """A codec the pipeline can separate with (see the module docstring)."""

    name: str
    needs_mixture: bool
    watermarked: bool

    def encode(self, waveforms: torch.Tensor) -> torch.Tensor:
        """(B, S) or (S,) at ``sample_rate`` -> (B, C, samples_to_frames(S))."""
        ...

    def decode(
        self, latents: torch.Tensor, *, mixture: torch.Tensor | None = None, message: torch.Tensor | None = None
    ) -> torch.Tensor:
        """(B, C, T) -> (B, S'); deterministic for equal inputs (a watermark needs ``message``)."""
        ...

    def decode_separation(
        self, state: torch.Tensor, *, mixture: torch.Tensor, messages: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Final state (B, T, 2C) -> (target, residual), each (B, S'); ``messages`` (2B, 16)."""
        ...

    def describe(self) -> dict: ...


def describe_codec(codec: CodecGeometry, name: str) -> dict:
    """``{"name", "sample_rate", "hop", "latent_channels"}`` of a codec, JSON-able."""
    return {"name": name, "sample_rate": int(codec.sample_rate), "hop": int(codec.hop),
            "latent_channels": int(codec.latent_channels)}


def codec_label(description: dict) -> str:
    """One line naming a codec, e.g. ``dacvae (48000 Hz, hop 1920, C=128)``."""
    return (f"{description['name']} ({description['sample_rate']} Hz, hop {description['hop']}, "
            f"C={description['latent_channels']})")


def check_same_codec(needed: dict, given: dict, *, source: str) -> None:
    """Refuse a codec other than the one a checkpoint needs; the error names both."""
    if needed != given:
        raise ValueError(f"{source} needs the codec {codec_label(needed)}, but the codec given is "
                         f"{codec_label(given)}; its latents would not match")


