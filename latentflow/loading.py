"""From a model name or path to the three parts of a separator: model, codec, text encoder.

Accepted: ``"fixture"`` (the bundled model), a checkpoint file (.safetensors / .pt), or a SAM
Audio model folder as published (``config.json`` + ``checkpoint.pt`` or ``model.safetensors``).

Which codec a checkpoint needs: a folder's config.json ``audio_codec`` or a file's
``audio_codec.*`` tensors mean DAC-VAE, built from that config (or, for a single file, from its
``codec_config`` metadata or else the tensor shapes) and loaded strictly; otherwise the bundled
mel codec, checked against the ``latentflow_codec`` metadata the trainer writes. A file that
claims both is refused, naming both.

Big checkpoints are not copied a second time: the model and the codec are built on the meta
device and the checkpoint's tensors are assigned to them (PyTorch files memory-mapped).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from latentflow.model import CheckpointError, SamAudioModel
from latentflow.model.checkpoint import (
    LoadReport,
    build_on_meta,
    infer_config,
    load_state_dict_into,
    materialise_buffers,
    read_tensors,
)
from latentflow.model.official_config import ConfigError, TextEncoderSpec, read_official_config

CONFIG_FILE = "config.json"
WEIGHT_FILES = ("model.safetensors", "checkpoint.pt")
CODEC_PREFIX = "audio_codec."
TEXT_ENCODER_ENV = "LATENTFLOW_TEXT_ENCODER"


@dataclass
class SeparatorParts:
    model: SamAudioModel
    codec: Any  # an AudioCodec
    text_encoder: Any  # a TextEncoder
    report: LoadReport
    source: str


def load_separator_parts(name_or_path: str | Path, *, text_encoder: Any = None) -> SeparatorParts:
    """``text_encoder``: a TextEncoder, a path / name for one, or None (the checkpoint's own,
    found as :func:`latentflow.audio.text_resolve.resolve_text_encoder` says)."""
    from latentflow.fixture import model_path

    path = model_path(name_or_path)
    if path.is_dir():
        return _load_folder(path, text_encoder)
    return _load_file(path, text_encoder)


def load_folder_model(folder: str | Path) -> SamAudioModel:
    """Only the DiT and wrapper of a SAM Audio model folder (``latentflow.load(folder)``): no codec
    is built and no text encoder is looked for, so a folder without its T5 loads."""
    return _folder_model(Path(folder))[0].eval()


def _folder_model(folder: Path):
    """(model, load report, the checkpoint's tensors, config, weights file) of a model folder."""
    config_file = folder / CONFIG_FILE
    if not config_file.is_file():
        raise CheckpointError(f"{folder}: no {CONFIG_FILE}; a SAM Audio model folder holds config.json and "
                              f"one of {list(WEIGHT_FILES)}")
    official = read_official_config(config_file)
    weights = next((folder / name for name in WEIGHT_FILES if (folder / name).is_file()), None)
    if weights is None:
        raise CheckpointError(f"{folder}: no weights; expected one of {list(WEIGHT_FILES)} beside {CONFIG_FILE}")
    tensors, _ = read_tensors(weights, mmap=True)
    model = build_on_meta(official.model)
    report = load_state_dict_into(model, tensors, source=str(weights), assign=True)
    materialise_buffers(model)
    return model, report, tensors, official, weights


def _load_folder(folder: Path, text_encoder: Any) -> SeparatorParts:
    from latentflow.audio.dacvae import DACVAE
    from latentflow.audio.text_resolve import resolve_text_encoder

    model, report, tensors, official, weights = _folder_model(folder)
    config_file = folder / CONFIG_FILE
    with torch.device("meta"):
        codec = DACVAE(official.codec)
    _load_codec(codec, tensors, str(weights))
    skipped = dict(report.skipped_submodules)
    skipped.pop(CODEC_PREFIX.rstrip("."), None)
    report = LoadReport(source=str(weights), loaded=report.loaded + len(codec.state_dict()), skipped_submodules=skipped)
    del tensors
    encoder = resolve_text_encoder(official.text_encoder, explicit=text_encoder, model_dir=folder,
                                   source=str(config_file))
    return SeparatorParts(model.eval(), codec.eval(), encoder, report, str(folder))


def _load_file(path: Path, text_encoder: Any) -> SeparatorParts:
    from latentflow.audio.codecs import MelCodec
    from latentflow.audio.text_resolve import resolve_text_encoder
    from latentflow.pipeline import META_CODEC, META_TEXT_ENCODER, check_codec_metadata

    tensors, metadata = read_tensors(path, mmap=True)
    cfg = infer_config(tensors, metadata, source=str(path))
    model = build_on_meta(cfg)
    report = load_state_dict_into(model, tensors, source=str(path), assign=True)
    materialise_buffers(model)
    has_dacvae = any(k.startswith(CODEC_PREFIX) for k in tensors)
    if has_dacvae:
        if META_CODEC in metadata:
            raise CheckpointError(f"{path}: metadata {META_CODEC!r} names the mel codec {metadata[META_CODEC]}, "
                                  f"but the file also holds DAC-VAE weights ({CODEC_PREFIX}*); it cannot need both")
        codec = _dacvae_from_file(tensors, metadata, str(path))
        # a SAM Audio checkpoint's text encoder is T5 (t5-base unless the metadata names another)
        spec = TextEncoderSpec(name=metadata.get(META_TEXT_ENCODER, "t5-base"), dim=cfg.text_dim)
        encoder = resolve_text_encoder(spec, explicit=text_encoder, model_dir=path.parent, source=str(path))
    else:
        check_codec_metadata(metadata, str(path))
        codec = MelCodec()
        # LATENTFLOW_TEXT_ENCODER is for the T5 of SAM Audio checkpoints, not for the bundled model's MiniLM
        encoder = _plain_encoder(
            text_encoder if text_encoder is not None else metadata.get(META_TEXT_ENCODER, "minilm"))
    return SeparatorParts(model.eval(), codec, encoder, report, str(path))


def _plain_encoder(value: Any):
    from latentflow.audio.text import TextEncoder, encoder_from_name

    return value if isinstance(value, TextEncoder) else encoder_from_name(value)


def _dacvae_from_file(tensors: Mapping[str, torch.Tensor], metadata: Mapping[str, str], source: str):
    from latentflow.audio.dacvae import DACVAE, DACVAEConfig, config_from_metadata

    if "codec_config" in metadata:
        cfg = config_from_metadata(metadata, source=source)
    else:
        cfg = _codec_config_from_shapes(tensors, source, DACVAEConfig)
    with torch.device("meta"):
        codec = DACVAE(cfg)
    _load_codec(codec, tensors, source)
    return codec.eval()


def _codec_config_from_shapes(tensors, source: str, config_class):
    """The widths of a DAC-VAE from its weights (rates and rate are the official fixed ones)."""
    def width(name: str, dim: int) -> int:
        key = CODEC_PREFIX + name
        if key not in tensors:
            raise CheckpointError(f"{source}: no tensor {key!r}; a DAC-VAE's widths are read from it "
                                  "(or give a 'codec_config' metadata entry)")
        return int(tensors[key].shape[dim])

    try:
        return config_class(encoder_dim=width("encoder.block.0.weight_v", 0),
                            latent_dim=width("quantizer.out_proj.weight_v", 0),
                            codebook_dim=width("quantizer.out_proj.weight_v", 1),
                            decoder_dim=width("decoder.model.0.weight_v", 0))
    except ValueError as err:
        raise CheckpointError(f"{source}: {CODEC_PREFIX}*: {err}") from None


def _load_codec(codec, tensors: Mapping[str, torch.Tensor], source: str) -> None:
    from latentflow.model.checkpoint import state_dict_problems

    own = {k[len(CODEC_PREFIX):]: v.float() for k, v in tensors.items() if k.startswith(CODEC_PREFIX)}
    if not own:
        raise CheckpointError(f"{source}: no {CODEC_PREFIX}* tensors; the DAC-VAE codec's weights must be in the "
                              "checkpoint")
    expected = {CODEC_PREFIX + k: v for k, v in codec.state_dict().items()}
    problems = state_dict_problems(expected, {CODEC_PREFIX + k: v for k, v in own.items()})
    if problems:
        listing = " ".join(line.strip() for problem in problems for line in problem.splitlines())
        raise CheckpointError(
            f"{source}: {CODEC_PREFIX}* weights do not fit the DAC-VAE config {codec.config}: {listing}")
    codec.load_state_dict(own, strict=True, assign=True)


__all__ = ["TEXT_ENCODER_ENV", "ConfigError", "SeparatorParts", "load_folder_model", "load_separator_parts"]
