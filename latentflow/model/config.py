"""Model configurations: SAM Audio's published sizes, the bundled fixture, and parity vectors.

Every field mirrors a key of the official ``transformer_config`` (plus the wrapper's widths), so a
config can be rebuilt from a checkpoint's or a parity vector's metadata without guessing.
"""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import torch

# Where a model's weights live: kept on the config for TransformerLens code that reads
# ``model.cfg.device`` / ``model.cfg.dtype``; the model keeps them current (``SamAudioModel._apply``).
# They describe one model's placement, not its shape: never compared, saved or read from a checkpoint.
PLACEMENT_FIELDS = ("device", "dtype")


@dataclass(frozen=True)
class SamAudioConfig:
    """Shape of one SAM Audio separation model (wrapper + DiT)."""

    dim: int
    n_heads: int
    n_layers: int
    latent_channels: int = 128  # C; the DiT state is 2C wide: [target | residual]
    text_dim: int = 768  # T5-base
    vision_dim: int = 1024  # Perception Encoder
    num_anchors: int = 3  # <null>, +, -; the embedding has one more row, the padding index
    anchor_embedding_dim: int = 128
    qk_norm: bool = True
    use_rope: bool = True
    max_positions: int = 10000
    ffn_exp: int = 4
    ffn_dim_multiplier: float = 1.0
    multiple_of: int = 64
    norm_eps: float = 1e-5
    frequency_embedding_dim: int = 256
    # Initial gate values for freshly built models; loaded checkpoints bring their own.
    video_gate_init: float = 0.0
    anchor_gate_init: float = -0.14
    name: str = "custom"
    notes: str = ""
    device: str | None = field(default=None, compare=False, repr=False)
    dtype: torch.dtype | None = field(default=None, compare=False, repr=False)

    def __post_init__(self) -> None:
        for name in ("dim", "n_heads", "n_layers", "latent_channels", "text_dim", "vision_dim"):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name}={getattr(self, name)} must be positive")
        if self.dim % self.n_heads:
            raise ValueError(
                f"dim={self.dim} is not divisible by n_heads={self.n_heads}: "
                "the head width dim / n_heads must be a whole number"
            )
        if self.head_dim % 2 and self.use_rope:
            raise ValueError(f"RoPE rotates pairs of channels: head_dim={self.head_dim} must be even")
        if self.dim % 2:
            raise ValueError(f"dim={self.dim} must be even (the memory time sinusoid has dim/2 frequencies)")

    @property
    def head_dim(self) -> int:
        return self.dim // self.n_heads

    # -- TransformerLens names (read-only aliases: TL's ActivationCache and TL users read them) ----

    @property
    def d_model(self) -> int:
        return self.dim

    @property
    def d_head(self) -> int:
        return self.head_dim

    @property
    def d_mlp(self) -> int:
        """The SwiGLU hidden width (``feed_forward.w1`` / ``w3`` outputs)."""
        return self.ffn_hidden

    @property
    def n_key_value_heads(self) -> int:
        return self.n_heads  # no grouped-query attention

    @property
    def attn_only(self) -> bool:
        return False  # every block has an MLP

    @property
    def positional_embedding_type(self) -> str:
        return "rotary" if self.use_rope else "none"

    @property
    def state_channels(self) -> int:
        """Width of x_t, the mixture features and the velocity: [target C | residual C]."""
        return 2 * self.latent_channels

    @property
    def ffn_hidden(self) -> int:
        """SwiGLU width: round_up(int(2 * ffn_exp * d / 3) * multiplier, multiple_of), as in Llama."""
        hidden = int(2 * self.ffn_exp * self.dim / 3)
        hidden = int(self.ffn_dim_multiplier * hidden)
        return self.multiple_of * math.ceil(hidden / self.multiple_of)

    @property
    def rope_theta(self) -> float:
        return float(max(10000, 2 * self.max_positions))

    def replace(self, **changes: Any) -> SamAudioConfig:
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        """The shape fields (what a checkpoint stores), without the placement fields."""
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.name not in PLACEMENT_FIELDS}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> SamAudioConfig:
        known = {f.name for f in dataclasses.fields(cls)} - set(PLACEMENT_FIELDS)
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"unknown config fields {unknown}; allowed: {sorted(known)}")
        return cls(**data)

    @classmethod
    def from_metadata(cls, metadata: Mapping[str, str], name: str = "parity") -> SamAudioConfig:
        """Build a config from a parity vector's or checkpoint's safetensors metadata."""
        try:
            tc = json.loads(metadata["transformer_config"])
        except KeyError:
            raise ValueError(
                "metadata has no 'transformer_config' entry; keys present: " f"{sorted(metadata)}"
            ) from None
        except json.JSONDecodeError as err:
            raise ValueError(f"metadata 'transformer_config' is not valid JSON: {err}") from None
        latent = int(metadata.get("latent_channels", tc.get("out_channels", 256) // 2))
        if tc.get("out_channels") not in (None, 2 * latent):
            raise ValueError(
                f"transformer_config out_channels={tc['out_channels']} does not equal "
                f"2 * latent_channels={2 * latent}"
            )
        if tc.get("context_dim", tc["dim"]) != tc["dim"]:
            raise ValueError(f"context_dim={tc['context_dim']} != dim={tc['dim']} is not supported")
        gates = json.loads(metadata.get("gates", "{}"))
        return cls(
            dim=int(tc["dim"]),
            n_heads=int(tc["n_heads"]),
            n_layers=int(tc["n_layers"]),
            latent_channels=latent,
            text_dim=int(metadata.get("text_dim", 768)),
            vision_dim=int(metadata.get("vision_dim", 1024)),
            num_anchors=int(metadata.get("num_anchors", 3)),
            anchor_embedding_dim=int(metadata.get("anchor_embedding_dim", 128)),
            qk_norm=bool(tc.get("qk_norm", True)),
            use_rope=bool(tc.get("use_rope", True)),
            max_positions=int(tc.get("max_positions", 10000)),
            ffn_exp=int(tc.get("ffn_exp", 4)),
            ffn_dim_multiplier=float(tc.get("ffn_dim_multiplier") or 1.0),
            multiple_of=int(tc.get("multiple_of", 64)),
            norm_eps=float(tc.get("norm_eps", 1e-5)),
            frequency_embedding_dim=int(tc.get("frequency_embedding_dim", 256)),
            video_gate_init=float(gates.get("align_masked_video.gate", 0.0)),
            anchor_gate_init=float(gates.get("embed_anchors.gate", -0.14)),
            name=name,
        )


# Published SAM Audio sizes (SAMAUDIO.md). Large and base come from public configs; "small" is not
# confirmed: the paper notes say 12 layers, and d=1536 / 12 heads is our assumption.
_PRESETS: dict[str, SamAudioConfig] = {
    "large": SamAudioConfig(dim=2816, n_heads=22, n_layers=22, name="large"),
    "base": SamAudioConfig(dim=2048, n_heads=16, n_layers=16, name="base"),
    "small": SamAudioConfig(
        dim=1536,
        n_heads=12,
        n_layers=12,
        name="small",
        notes="width and heads assumed (12 layers per the paper notes); not confirmed",
    ),
    # The bundled CPU model: SAM Audio's architecture at a width that keeps specs fast on 2 cores.
    # Latent width and encoder widths match latentflow.audio's codec (64 mel channels) and the
    # MiniLM text encoder (384); there is no video in the bundled world, so vision_dim stays small.
    "fixture": SamAudioConfig(
        dim=192,
        n_heads=6,
        n_layers=8,
        latent_channels=64,
        text_dim=384,
        vision_dim=16,
        anchor_embedding_dim=32,
        name="fixture",
    ),
    # The layout of the official parity vector (fixtures/parity), useful for tests.
    "parity": SamAudioConfig(
        dim=64,
        n_heads=4,
        n_layers=3,
        latent_channels=8,
        text_dim=32,
        vision_dim=16,
        anchor_embedding_dim=16,
        video_gate_init=0.3,
        name="parity",
    ),
}


def preset(name: str, **overrides: Any) -> SamAudioConfig:
    """A named configuration: one of ``preset_names()``, optionally with fields replaced."""
    try:
        cfg = _PRESETS[name]
    except KeyError:
        raise ValueError(f"unknown model preset {name!r}; allowed: {preset_names()}") from None
    return cfg.replace(**overrides) if overrides else cfg


def preset_names() -> list[str]:
    return sorted(_PRESETS)


__all__ = ["SamAudioConfig", "preset", "preset_names"]
