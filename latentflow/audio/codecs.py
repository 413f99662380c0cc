"""The bundled mel codec behind the codec interface (latentflow.audio.codec_protocol).

``LatentCodec`` keeps its own (B, T, C) signatures for the trainer and its tests; ``MelCodec``
is its face to the pipeline: (B, C, T) latents, a decode that needs the mixture and refuses a
watermark message (it has none), and the separation decode the bundled model was trained with
(one complementary mask from the target and residual latents, so the two sum to the mixture).
"""

from __future__ import annotations

import torch

from .codec import LatentCodec, split_target_residual
from .codec_protocol import AudioCodec, describe_codec

MEL_CODEC_NAME = "mel"


class MelCodec:
    name = MEL_CODEC_NAME
    needs_mixture = True
    watermarked = False

    def __init__(self, codec: LatentCodec | None = None) -> None:
        self.latent = codec if codec is not None else LatentCodec()

    @property
    def config(self):
        return self.latent.config

    @property
    def sample_rate(self) -> int:
        return self.latent.sample_rate

    @property
    def hop(self) -> int:
        return self.latent.hop

    @property
    def latent_channels(self) -> int:
        return self.latent.latent_channels

    def samples_to_frames(self, samples: int) -> int:
        return self.latent.samples_to_frames(samples)

    def frames_to_samples(self, frames: int) -> int:
        return self.latent.frames_to_samples(frames)

    def encode(self, waveforms: torch.Tensor) -> torch.Tensor:
        return self.latent.encode(waveforms).transpose(1, 2)

    def decode(self, latents: torch.Tensor, *, mixture: torch.Tensor | None = None,
               message: torch.Tensor | None = None) -> torch.Tensor:
        """Target latents (B, C, T) -> (B, S) through the mixture (the residual is the rest)."""
        self._no_message(message)
        if mixture is None:
            raise ValueError("the mel codec decodes through the mixture: pass mixture=(B, S) waveforms")
        return self.latent.decode(latents.transpose(1, 2), mixture)

    def decode_separation(self, state: torch.Tensor, *, mixture: torch.Tensor,
                          messages: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        self._no_message(messages)
        target_latent, residual_latent = split_target_residual(state.float())
        target = self.latent.decode(target_latent, mixture, residual_latent)
        return target, mixture.to(target.dtype) - target

    def describe(self) -> dict:
        return describe_codec(self, self.name)

    @staticmethod
    def _no_message(message) -> None:
        if message is not None:
            raise ValueError("the mel codec has no watermark: a message cannot be stamped into its output")


def as_codec(codec: AudioCodec | LatentCodec) -> AudioCodec:
    """A codec for the pipeline: a bare ``LatentCodec`` gets its ``MelCodec`` face."""
    return MelCodec(codec) if isinstance(codec, LatentCodec) else codec


__all__ = ["MEL_CODEC_NAME", "MelCodec", "as_codec"]
