"""SAM Audio's audio codec DAC-VAE (48 kHz, hop 1920, C latent channels), from DACVAE.md.

State-dict names are the official ones behind ``audio_codec.`` (strip that prefix to load).
Float32 throughout, as the official code keeps it.

The watermark message. The official decode draws ``torch.randint(0, 2, (B, 16))`` from the
global CPU generator on every call, so two decodes of one latent differ and every decode
advances torch's global RNG. latentflow's interventions compare runs bit for bit, so
:meth:`DACVAE.decode` never touches the global generator: it takes an explicit message, or
derives one from ``seed`` (an int or a ``torch.Generator``) with :func:`watermark_message`;
with neither, seed ``DEFAULT_WATERMARK_SEED`` is used.
"""

from __future__ import annotations

import contextlib
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import cast

import torch
import torch.nn.functional as F
from torch import nn

from latentflow.model.checkpoint import CheckpointError, state_dict_problems

from .dacvae_layers import (
    CausalConv1d,
    DecoderBlock,
    EncoderBlock,
    LSTMBlock,
    Snake,
    WNConv1d,
)

WM_RATES = (8, 5, 4, 2)  # fixed in the reference code, not part of the config
NBITS = 16
DEFAULT_WATERMARK_SEED = 0


@dataclass(frozen=True)
class DACVAEConfig:
    """The official ``DACVAEConfig`` fields that shape the computation (defaults: full size)."""

    encoder_dim: int = 64
    encoder_rates: tuple[int, ...] = (2, 8, 10, 12)
    latent_dim: int = 1024
    codebook_dim: int = 128
    decoder_dim: int = 1536
    decoder_rates: tuple[int, ...] = (12, 10, 8, 2)
    sample_rate: int = 48_000

    def __post_init__(self) -> None:
        object.__setattr__(self, "encoder_rates", tuple(int(r) for r in self.encoder_rates))
        object.__setattr__(self, "decoder_rates", tuple(int(r) for r in self.decoder_rates))
        for name in ("encoder_dim", "latent_dim", "codebook_dim", "decoder_dim", "sample_rate"):
            if int(getattr(self, name)) <= 0:
                raise ValueError(f"DACVAEConfig.{name}={getattr(self, name)!r} must be > 0")
        if len(self.decoder_rates) != len(WM_RATES):
            raise ValueError(
                f"DACVAEConfig.decoder_rates={list(self.decoder_rates)} must have {len(WM_RATES)} entries "
                f"(one per watermark rate {list(WM_RATES)})"
            )
        if math.prod(self.encoder_rates) != math.prod(self.decoder_rates):
            raise ValueError(
                f"DACVAEConfig: encoder_rates {list(self.encoder_rates)} (hop {math.prod(self.encoder_rates)}) and "
                f"decoder_rates {list(self.decoder_rates)} (hop {math.prod(self.decoder_rates)}) "
                "must have equal products"
            )
        if self.wm_channels < 1 or self.decoder_dim % 16:
            raise ValueError(
                f"DACVAEConfig.decoder_dim={self.decoder_dim} must be a multiple of 16 "
                "with (decoder_dim // 16) // 3 >= 1"
            )

    @property
    def hop(self) -> int:
        return math.prod(self.encoder_rates)

    # Watermarker sizes: the reference hard-codes 96/32/512/128, which are these rules at D = 1536.
    @property
    def wm_dim(self) -> int:
        return self.decoder_dim // 16

    @property
    def wm_channels(self) -> int:
        return (self.decoder_dim // 16) // 3

    @property
    def wm_hidden(self) -> int:
        return self.decoder_dim // 3

    @property
    def wm_latent(self) -> int:
        return 4 * self.wm_channels

    @property
    def wm_alpha(self) -> float:
        return self.wm_channels / self.wm_latent

    @classmethod
    def from_dict(cls, data: Mapping, *, source: str = "codec_config") -> DACVAEConfig:
        """Build from an official config dict; checks fixed parts (wm_rates, watermarker sizes)."""
        names = (
            "encoder_dim", "encoder_rates", "latent_dim", "codebook_dim", "decoder_dim", "decoder_rates", "sample_rate"
        )
        missing = [n for n in names if n not in data]
        if missing:
            raise ValueError(f"{source}: missing key(s) {missing}; a DAC-VAE config needs {list(names)}")
        cfg = cls(**{n: data[n] for n in names})
        if "wm_rates" in data and tuple(data["wm_rates"]) != WM_RATES:
            raise ValueError(f"{source}: wm_rates={data['wm_rates']} is not supported; only {list(WM_RATES)}")
        if "hop_length" in data and int(data["hop_length"]) != cfg.hop:
            raise ValueError(f"{source}: hop_length={data['hop_length']} != product of encoder_rates {cfg.hop}")
        derived = {"dim": cfg.wm_dim, "channels": cfg.wm_channels, "hidden": cfg.wm_hidden,
                   "d_latent": cfg.wm_latent, "nbits": NBITS, "alpha": cfg.wm_alpha}
        for key, value in dict(data.get("watermarker") or {}).items():
            if key in derived and float(value) != float(derived[key]):
                raise ValueError(
                    f"{source}: watermarker.{key}={value} does not follow the size rule for decoder_dim "
                    f"{cfg.decoder_dim} (expected {derived[key]})"
                )
        return cfg


# The three holders below exist only to give submodules the official state-dict names
# (``encoder_block.pre.0.alpha``, ``msg_processor.msg_processor.weight``, ``encoder.block.0...``)
# with attributes the type checker knows.
class _PrePost(nn.Module):
    def __init__(self, pre: nn.Sequential, post: nn.Sequential) -> None:
        super().__init__()
        self.pre = pre
        self.post = post


class _MessageTable(nn.Module):
    def __init__(self, table: nn.Embedding) -> None:
        super().__init__()
        self.msg_processor = table


class _Encoder(nn.Module):
    def __init__(self, block: nn.Sequential) -> None:
        super().__init__()
        self.block = block


class Watermarker(nn.Module):
    """``decoder.wm_model``: the waveform head (``base``) plus the message branch h."""

    def __init__(self, cfg: DACVAEConfig) -> None:
        super().__init__()
        dim, ch, hidden, latent = cfg.wm_dim, cfg.wm_channels, cfg.wm_hidden, cfg.wm_latent
        self.alpha = cfg.wm_alpha  # a plain float, not in the state dict
        self.encoder_block = _PrePost(
            nn.Sequential(Snake(dim), WNConv1d(dim, 1, 7), nn.Tanh(), CausalConv1d(1, ch, 7)),
            nn.Sequential(LSTMBlock(hidden), nn.ELU(), CausalConv1d(hidden, latent, 7)),
        )
        self.msg_processor = _MessageTable(nn.Embedding(2 * NBITS, latent))
        self.decoder_block = _PrePost(
            nn.Sequential(CausalConv1d(latent, hidden, 7), LSTMBlock(hidden)),
            nn.Sequential(nn.ELU(), CausalConv1d(ch, 1, 7)),
        )

    def base(self, trunk: torch.Tensor) -> torch.Tensor:
        pre = self.encoder_block.pre
        return pre[2](pre[1](pre[0](trunk)))

    def message_embedding(self, message: torch.Tensor) -> torch.Tensor:
        """(B, nbits) 0/1 bits -> (B, d_latent, 1): ``sum_k E[2k + m_k]``."""
        index = 2 * torch.arange(NBITS, device=message.device) + message.long()
        return self.msg_processor.msg_processor.weight[index].sum(dim=1)[:, :, None]


class Decoder(nn.Module):
    def __init__(self, cfg: DACVAEConfig) -> None:
        super().__init__()
        widths = [cfg.decoder_dim // 2**i for i in range(len(cfg.decoder_rates) + 1)]
        blocks = [
            DecoderBlock(widths[i], widths[i + 1], rate, wm_rate)
            for i, (rate, wm_rate) in enumerate(zip(cfg.decoder_rates, WM_RATES, strict=True))
        ]
        self.model = nn.Sequential(WNConv1d(cfg.latent_dim, cfg.decoder_dim, 7), *blocks)
        self.wm_model = Watermarker(cfg)

    def forward(self, emb: torch.Tensor, message: torch.Tensor) -> torch.Tensor:
        trunk = self.model(emb)
        wm = self.wm_model
        base = wm.base(trunk)
        h = wm.encoder_block.pre[3](base)
        blocks = cast(list[DecoderBlock], list(self.model)[1:])  # __init__ puts DecoderBlocks after the first conv
        for block in reversed(blocks):
            h = block.wm_up(h)
        h = wm.encoder_block.post(h)
        h = h + wm.message_embedding(message)
        h = wm.decoder_block.pre(h)
        for block in blocks:
            h = block.wm_down(h)
        h = wm.decoder_block.post(h)
        return base + wm.alpha * h


class Bottleneck(nn.Module):
    def __init__(self, cfg: DACVAEConfig) -> None:
        super().__init__()
        self.in_proj = WNConv1d(cfg.latent_dim, 2 * cfg.codebook_dim, 1)
        self.out_proj = WNConv1d(cfg.codebook_dim, cfg.latent_dim, 1)


def separation_messages(seeds: Sequence[int]) -> torch.Tensor:
    """(2B, 16) messages for the 2B rows of a separation decode: item b's target and residual
    rows get ``watermark_message(seeds[b], 2)``. ``seeds`` are the examples' noise seeds, so a
    baseline and every intervened run of an example carry the same watermark, whatever the batch."""
    if not len(seeds):
        raise ValueError("separation_messages needs one noise seed per example, got none")
    return torch.cat([watermark_message(int(seed), 2) for seed in seeds])


def watermark_message(seed: int | torch.Generator, batch: int) -> torch.Tensor:
    """Deterministic (batch, 16) float32 0/1 bits from ``seed``, with its own generator."""
    generator = seed if isinstance(seed, torch.Generator) else torch.Generator().manual_seed(int(seed))
    return torch.randint(0, 2, (batch, NBITS), generator=generator).to(torch.float32)


class DACVAE(nn.Module):
    """The codec; ``state_dict()`` names equal a checkpoint's ``audio_codec.*`` names.

    It implements ``latentflow.audio.codec_protocol.AudioCodec``: it needs no mixture to decode,
    and every decode stamps a watermark message.
    """

    name = "dacvae"
    needs_mixture = False
    watermarked = True

    def __init__(self, config: DACVAEConfig | None = None) -> None:
        super().__init__()
        self.config = cfg = config if config is not None else DACVAEConfig()
        widths = [cfg.encoder_dim * 2**i for i in range(len(cfg.encoder_rates) + 1)]
        self.encoder = _Encoder(
            nn.Sequential(
                WNConv1d(1, cfg.encoder_dim, 7),
                *[EncoderBlock(widths[i], rate) for i, rate in enumerate(cfg.encoder_rates)],
                Snake(widths[-1]),
                WNConv1d(widths[-1], cfg.latent_dim, 3),
            )
        )
        self.quantizer = Bottleneck(cfg)
        self.decoder = Decoder(cfg)

    # --- the codec protocol (latentflow.audio.codec_protocol.WaveformCodec)
    @property
    def sample_rate(self) -> int:
        return self.config.sample_rate

    @property
    def hop(self) -> int:
        return self.config.hop

    @property
    def latent_channels(self) -> int:
        return self.config.codebook_dim

    def samples_to_frames(self, samples: int) -> int:
        """Latent frames for ``samples`` at the codec rate: ceil(samples / hop)."""
        return -(-int(samples) // self.hop)

    def frames_to_samples(self, frames: int) -> int:
        """Samples covered by ``frames`` latent frames: hop * frames (frame t is [hop t, hop (t+1)))."""
        return int(frames) * self.hop

    @torch.no_grad()
    def encode(self, waveforms: torch.Tensor) -> torch.Tensor:
        """(B, 1, S), (B, S) or (S,) at the codec rate -> (B, C, ceil(S / hop)): the in_proj mean."""
        wav = waveforms
        if wav.dim() == 1:
            wav = wav[None, None]
        elif wav.dim() == 2:
            wav = wav[:, None]
        if wav.dim() != 3 or wav.shape[1] != 1:
            raise ValueError(f"DACVAE.encode expects mono (B, 1, S), (B, S) or (S,), got {tuple(waveforms.shape)}")
        samples = wav.shape[-1]
        pad = (-samples) % self.hop
        if pad and pad >= samples:
            raise ValueError(
                f"DACVAE.encode: a clip of {samples} samples is too short for the reflect pad of {pad} samples "
                f"to a multiple of the hop {self.hop}; it needs more than {self.hop // 2} samples"
            )
        with _cudnn_off(wav):
            if pad:
                wav = F.pad(wav, (0, pad), mode="reflect")
            z = self.encoder.block(wav.to(torch.float32))
            return self.quantizer.in_proj(z)[:, : self.config.codebook_dim]

    def decode(
        self,
        latents: torch.Tensor,
        message: torch.Tensor | None = None,
        *,
        seed: int | torch.Generator | None = None,
        mixture: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """(B, C, T) -> (B, 1, hop * T), with the watermark stamped in.

        ``message`` is (B, 16) of 0/1; without it the bits come from ``watermark_message(seed)``
        (never from torch's global generator, unlike the official code). ``mixture`` is part of
        the codec interface for codecs that decode through it; DAC-VAE decodes latents alone.
        """
        if latents.dim() != 3 or latents.shape[1] != self.latent_channels:
            raise ValueError(f"DACVAE.decode expects (B, C={self.latent_channels}, T), got {tuple(latents.shape)}")
        if message is None:
            message = watermark_message(DEFAULT_WATERMARK_SEED if seed is None else seed, latents.shape[0])
        elif message.shape != (latents.shape[0], NBITS):
            raise ValueError(
                f"DACVAE.decode: message must be ({latents.shape[0]}, {NBITS}), got {tuple(message.shape)}"
            )
        message = message.to(latents.device)
        with _cudnn_off(latents):
            return self.decoder(self.quantizer.out_proj(latents), message)

    def decode_separation(
        self, state: torch.Tensor, *, mixture: torch.Tensor | None = None, messages: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """(B, T, 2C) final state -> (target, residual), each (B, hop * T), as SAM Audio's
        ``separate`` decodes them (one call on 2B rows; ``messages`` (2B, 16))."""
        batch, frames, _ = state.shape
        pairs = separation_outputs(self, state.float(), [frames] * batch, messages)
        return torch.stack([t for t, _ in pairs]), torch.stack([r for _, r in pairs])

    def describe(self) -> dict:
        from .codec_protocol import describe_codec

        return describe_codec(self, self.name)

    def load_official_state_dict(
        self, tensors: Mapping[str, torch.Tensor], *, prefix: str = "", source: str = "<tensors>"
    ) -> None:
        """Strict load of ``prefix + name`` entries; errors name every key and both shapes."""
        own = {k.removeprefix(prefix): v for k, v in tensors.items() if k.startswith(prefix)}
        problems = state_dict_problems(self.state_dict(), own)
        if problems:
            raise CheckpointError(
                f"{source}: weights do not fit the DAC-VAE config {self.config}:\n" + "\n".join(problems)
            )
        self.load_state_dict(own, strict=True)


def _cudnn_off(tensor: torch.Tensor):
    # The official wrapper switches cuDNN off for encode and decode; do the same for parity.
    return torch.backends.cudnn.flags(enabled=False) if tensor.is_cuda else contextlib.nullcontext()


def separation_outputs(
    codec: DACVAE,
    state: torch.Tensor,
    sizes: Sequence[int],
    message: torch.Tensor | None = None,
    *,
    seed: int | torch.Generator | None = None,
) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """SAM Audio's ``separate`` output (W4): (B, T, 2C) state -> per item (target, residual).

    Rows 2b / 2b+1 of the one decode are item b's target / residual; each is cut to
    ``hop * sizes[b]`` samples (whole frames, not the input length). ``message`` is (2B, 16).
    """
    batch, frames, channels = state.shape
    if channels != 2 * codec.latent_channels or len(sizes) != batch:
        raise ValueError(
            f"separation_outputs: state must be (B, T, 2C={2 * codec.latent_channels}) with one size per item; "
            f"got state {tuple(state.shape)} and {len(sizes)} sizes"
        )
    rows = state.transpose(1, 2).reshape(2 * batch, codec.latent_channels, frames)
    wave = codec.decode(rows, message, seed=seed).view(batch, 2, -1)
    cut = [codec.frames_to_samples(int(n)) for n in sizes]
    return [(wave[b, 0, : cut[b]], wave[b, 1, : cut[b]]) for b in range(batch)]


def wav_idx_to_feature_idx(n, sample_rate: int = 48_000, *, codec_rate: int = 48_000, hop: int = 1920):
    """Official W5 map: ``ceil(ceil(codec_rate n / sample_rate) / hop)``; int32 for tensor input."""
    if isinstance(n, torch.Tensor):
        return torch.ceil(torch.ceil(n * codec_rate / sample_rate) / hop).to(torch.int32)
    return math.ceil(math.ceil(codec_rate * n / sample_rate) / hop)


def feature_idx_to_wav_idx(t, sample_rate: int = 48_000, *, codec_rate: int = 48_000, hop: int = 1920):
    """Official W5 map: ``trunc(t hop sample_rate / codec_rate)``."""
    if isinstance(t, torch.Tensor):
        return torch.trunc(t * hop * sample_rate / codec_rate).to(torch.int32)
    return int(t * hop * sample_rate / codec_rate)


def config_from_metadata(metadata: Mapping[str, str], *, source: str) -> DACVAEConfig:
    try:
        data = json.loads(metadata["codec_config"])
    except KeyError:
        raise ValueError(f"{source}: metadata has no 'codec_config'; keys present: {sorted(metadata)}") from None
    except json.JSONDecodeError as err:
        raise ValueError(f"{source}: metadata 'codec_config' is not valid JSON: {err}") from None
    return DACVAEConfig.from_dict(data, source=f"{source}: codec_config")


__all__ = [
    "DACVAE",
    "DEFAULT_WATERMARK_SEED",
    "NBITS",
    "WM_RATES",
    "DACVAEConfig",
    "config_from_metadata",
    "feature_idx_to_wav_idx",
    "separation_messages",
    "separation_outputs",
    "watermark_message",
    "wav_idx_to_feature_idx",
]
