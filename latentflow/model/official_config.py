"""A SAM Audio model folder's ``config.json`` (as published with facebook/sam-audio-*).

Top-level fields read: ``transformer`` (the DiT), ``audio_codec`` (DAC-VAE), ``text_encoder``
(T5: ``name``, ``max_length``, ``pad_mode``, ``dim``), ``num_anchors``, ``anchor_embedding_dim``,
``in_channels``. The vision encoder and the rankers / span predictor are not modelled: their
fields are accepted and reported as skipped. Any other field is an error naming the file and
the field, so a typo or a format change is never silently ignored.

The skipped top-level names are a guess. No published config.json was available: SAMAUDIO.md
describes a vision encoder (Perception Encoder) and optional reranking by a CLAP / judge score,
the issue names "the vision encoder, rankers and span predictor", and neither SAMAUDIO.md nor
the parity vectors (whose metadata names only ``transformer_config``, ``latent_channels``,
``text_dim``, ``vision_dim``, ``num_anchors``, ``anchor_embedding_dim`` and ``solver``, and the
DAC-VAE config) show how config.json spells them. So an unknown top-level field is an error that
lists every known field and says that it may be a part latentflow does not know yet (add it to
SKIPPED_FIELDS if it is one). ``audio_codec.hop_length`` is accepted because the official
DACVAEConfig has it (parity/dacvae_keys_full.json); it must equal the product of the encoder
rates.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .config import SamAudioConfig

MODELLED_FIELDS = ("transformer", "audio_codec", "text_encoder", "num_anchors", "anchor_embedding_dim", "in_channels")
# Sub-models of SAMAudio that latentflow does not run, and bookkeeping written by exporters: the
# names are a guess (module docstring), not read from a published config.json.
SKIPPED_FIELDS = ("vision_encoder", "visual_ranker", "text_ranker", "span_predictor", "ranker", "judge",
                  "model_type", "architectures", "transformers_version", "torch_dtype", "_name_or_path")
# DiT fields of the official TransformerConfig, with the values latentflow implements for the
# ones that are choices rather than sizes.
TRANSFORMER_FIELDS = ("dim", "n_heads", "n_layers", "dropout", "norm_eps", "qk_norm", "fc_bias", "ffn_exp",
                      "ffn_dim_multiplier", "multiple_of", "non_linearity", "use_rope", "max_positions",
                      "frequency_embedding_dim", "timestep_non_linearity", "t_block_non_linearity", "t_block_bias",
                      "context_dim", "context_non_linearity", "context_embedder_dropout", "context_norm",
                      "out_channels", "in_channels")
FIXED_CHOICES = {"fc_bias": False, "non_linearity": "swiglu", "timestep_non_linearity": "swiglu",
                 "t_block_non_linearity": "silu", "t_block_bias": True, "context_non_linearity": "swiglu",
                 "context_norm": False}
CODEC_FIELDS = ("encoder_dim", "encoder_rates", "latent_dim", "decoder_dim", "decoder_rates", "n_codebooks",
                "codebook_size", "codebook_dim", "quantizer_dropout", "sample_rate", "mean", "std", "hop_length")
TEXT_FIELDS = ("name", "max_length", "pad_mode", "dim")
DEFAULT_VISION_DIM = 1024  # Perception Encoder width (SAMAUDIO.md)


class ConfigError(ValueError):
    """A config.json that latentflow cannot build; the message names the file and field."""


@dataclass(frozen=True)
class TextEncoderSpec:
    """What config.json says about the text encoder (official T5EncoderConfig defaults)."""

    name: str = "t5-base"
    max_length: int | None = 512
    pad_mode: str = "longest"
    dim: int = 768


@dataclass(frozen=True)
class OfficialConfig:
    model: SamAudioConfig
    codec: Any  # latentflow.audio.dacvae.DACVAEConfig
    text_encoder: TextEncoderSpec
    skipped: tuple[str, ...]  # top-level fields present but not modelled


def read_official_config(path: str | Path) -> OfficialConfig:
    path = Path(path)
    try:
        data = json.loads(path.read_text())
    except json.JSONDecodeError as err:
        raise ConfigError(f"{path}: not valid JSON (line {err.lineno}, column {err.colno}): {err.msg}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a JSON object, got {type(data).__name__}")
    return parse_official_config(data, source=str(path))


def parse_official_config(data: Mapping[str, Any], *, source: str) -> OfficialConfig:
    from latentflow.audio.dacvae import DACVAEConfig

    _known(data, MODELLED_FIELDS + SKIPPED_FIELDS, source, "")
    for name in ("transformer", "audio_codec"):
        if not isinstance(data.get(name), Mapping):
            raise ConfigError(f"{source}: field {name!r} is missing or not an object; a SAM Audio config.json has it")
    tc, cc = data["transformer"], data["audio_codec"]
    _known(tc, TRANSFORMER_FIELDS, source, "transformer.")
    _known(cc, CODEC_FIELDS, source, "audio_codec.")
    text = data.get("text_encoder") or {}
    if not isinstance(text, Mapping):
        raise ConfigError(f"{source}: field 'text_encoder' must be an object, got {text!r}")
    _known(text, TEXT_FIELDS, source, "text_encoder.")
    for key, allowed in FIXED_CHOICES.items():
        if key in tc and tc[key] != allowed:
            raise ConfigError(
                f"{source}: transformer.{key}={tc[key]!r} is not supported; latentflow implements {allowed!r}")
    for key in ("dim", "n_heads", "n_layers"):
        if not isinstance(tc.get(key), int) or isinstance(tc.get(key), bool) or tc[key] <= 0:
            raise ConfigError(f"{source}: transformer.{key}={tc.get(key)!r} must be a positive integer")
    if tc["dim"] % tc["n_heads"]:
        raise ConfigError(f"{source}: transformer.dim={tc['dim']} does not divide into transformer.n_heads="
                          f"{tc['n_heads']} heads (the head width dim / n_heads must be a whole number)")
    try:
        codec = DACVAEConfig(**{k: cc[k] for k in ("encoder_dim", "encoder_rates", "latent_dim", "codebook_dim",
                                                  "decoder_dim", "decoder_rates", "sample_rate") if k in cc})
    except (TypeError, ValueError) as err:
        raise ConfigError(f"{source}: audio_codec: {err}") from None
    if "hop_length" in cc and cc["hop_length"] != codec.hop:
        raise ConfigError(f"{source}: audio_codec.hop_length={cc['hop_length']!r} must be {codec.hop}, the product of "
                          f"audio_codec.encoder_rates {list(codec.encoder_rates)}")
    C = codec.codebook_dim
    checks = (("in_channels", data.get("in_channels"), 6 * C),
              ("transformer.out_channels", tc.get("out_channels"), 2 * C),
              ("transformer.context_dim", tc.get("context_dim"), tc["dim"]))
    for field, value, expected in checks:
        if value is not None and value != expected:
            raise ConfigError(f"{source}: {field}={value} must be {expected} for audio_codec.codebook_dim={C} and "
                              f"transformer.dim={tc['dim']}")
    spec = TextEncoderSpec(**dict(text))
    if not isinstance(spec.dim, int) or spec.dim <= 0:
        raise ConfigError(f"{source}: text_encoder.dim={spec.dim!r} must be a positive integer")
    if spec.pad_mode != "longest":
        raise ConfigError(f"{source}: text_encoder.pad_mode={spec.pad_mode!r} is not supported; only 'longest'")
    written_vision = data.get("vision_encoder")
    vision = written_vision if isinstance(written_vision, Mapping) else {}
    try:
        model = SamAudioConfig(
            dim=tc["dim"], n_heads=tc["n_heads"], n_layers=tc["n_layers"], latent_channels=C, text_dim=spec.dim,
            vision_dim=int(vision.get("dim", DEFAULT_VISION_DIM)),
            num_anchors=int(data.get("num_anchors", 3)),
            anchor_embedding_dim=int(data.get("anchor_embedding_dim", 128)),
            qk_norm=bool(tc.get("qk_norm", True)), use_rope=bool(tc.get("use_rope", True)),
            max_positions=int(tc.get("max_positions", 10000)), ffn_exp=int(tc.get("ffn_exp", 4)),
            ffn_dim_multiplier=float(tc.get("ffn_dim_multiplier") or 1.0), multiple_of=int(tc.get("multiple_of", 64)),
            norm_eps=float(tc.get("norm_eps", 1e-5)),
            frequency_embedding_dim=int(tc.get("frequency_embedding_dim", 256)),
            name=Path(source).parent.name or "sam-audio",
        )
    except ValueError as err:
        raise ConfigError(f"{source}: transformer: {err}") from None
    skipped = tuple(k for k in data if k in SKIPPED_FIELDS)
    return OfficialConfig(model=model, codec=codec, text_encoder=spec, skipped=skipped)


def official_config_dict(model: SamAudioConfig, codec: Any, text: TextEncoderSpec) -> dict:
    """The config.json of a folder holding ``model`` and ``codec`` (used by the test-model generator)."""
    transformer = {"dim": model.dim, "n_heads": model.n_heads, "n_layers": model.n_layers, "dropout": 0.1,
                   "norm_eps": model.norm_eps, "qk_norm": model.qk_norm, "fc_bias": False, "ffn_exp": model.ffn_exp,
                   "ffn_dim_multiplier": model.ffn_dim_multiplier, "multiple_of": model.multiple_of,
                   "non_linearity": "swiglu", "use_rope": model.use_rope, "max_positions": model.max_positions,
                   "frequency_embedding_dim": model.frequency_embedding_dim, "timestep_non_linearity": "swiglu",
                   "t_block_non_linearity": "silu", "t_block_bias": True, "context_dim": model.dim,
                   "context_non_linearity": "swiglu", "context_embedder_dropout": 0.0, "context_norm": False,
                   "out_channels": 2 * model.latent_channels}
    audio_codec = {"encoder_dim": codec.encoder_dim, "encoder_rates": list(codec.encoder_rates),
                   "latent_dim": codec.latent_dim, "decoder_dim": codec.decoder_dim,
                   "decoder_rates": list(codec.decoder_rates), "n_codebooks": 16, "codebook_size": 1024,
                   "codebook_dim": codec.codebook_dim, "quantizer_dropout": False, "sample_rate": codec.sample_rate,
                   "mean": 0.0, "std": 1.0}
    return {"in_channels": 6 * model.latent_channels, "audio_codec": audio_codec,
            "text_encoder": dataclasses.asdict(text), "transformer": transformer,
            "vision_encoder": {"dim": model.vision_dim}, "num_anchors": model.num_anchors,
            "anchor_embedding_dim": model.anchor_embedding_dim}


def _known(data: Mapping[str, Any], allowed: tuple[str, ...], source: str, prefix: str) -> None:
    unknown = sorted(set(data) - set(allowed))
    if not unknown:
        return
    head = f"{source}: unknown field {prefix}{unknown[0]}" + (f" (and {unknown[1:]})" if unknown[1:] else "")
    if prefix:
        raise ConfigError(f"{head}; known {prefix.rstrip('.')} fields: {sorted(allowed)}")
    raise ConfigError(
        f"{head}; known fields: built {list(MODELLED_FIELDS)}, skipped (parts latentflow does not run) "
        f"{list(SKIPPED_FIELDS)}. The skipped names are a guess (no published config.json was available), so the "
        "field may be new or a part latentflow does not know yet: if it is one, add it to SKIPPED_FIELDS in "
        "latentflow/model/official_config.py")
