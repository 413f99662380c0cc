"""Reproducing every ``output.*`` of a DAC-VAE parity vector (fixtures/parity/README.md)."""

from __future__ import annotations

import re
from collections.abc import Mapping

import torch

from latentflow.model.checkpoint import CheckpointError

from .dacvae import DACVAE, config_from_metadata, separation_outputs

_SEPARATION = re.compile(r"^output\.separation_(?P<part>target|residual)\.(?P<b>\d+)$")


def _need(tensors: Mapping[str, torch.Tensor], name: str, source: str) -> torch.Tensor:
    if name not in tensors:
        raise CheckpointError(f"{source}: DAC-VAE parity vector has no {name!r}")
    return tensors[name]


def codec_output_errors(
    tensors: Mapping[str, torch.Tensor], metadata: Mapping[str, str], *, source: str
) -> list[tuple[str, float]]:
    """(output name, max abs error) for every ``output.*`` tensor, sorted by name."""
    try:
        cfg = config_from_metadata(metadata, source=source)
    except (TypeError, ValueError) as err:
        raise CheckpointError(str(err)) from None
    codec = DACVAE(cfg).eval()
    codec.load_official_state_dict(tensors, prefix="param.audio_codec.", source=source)
    got: dict[str, torch.Tensor] = {}
    with torch.no_grad():
        waveform = _need(tensors, "input.waveform", source)
        encoded = codec.encode(waveform)
        got["output.encoded"] = encoded
        got["output.audio_features"] = torch.cat([encoded.transpose(1, 2)] * 2, dim=-1)
        if "output.decoded" in tensors:
            got["output.decoded"] = codec.decode(tensors["output.encoded"], _need(tensors, "input.message", source))
        if "output.decoded_from_random_latent" in tensors:
            got["output.decoded_from_random_latent"] = codec.decode(
                _need(tensors, "input.latent", source), _need(tensors, "input.message_random_latent", source)
            )
        if any(_SEPARATION.match(k) for k in tensors):
            pairs = separation_outputs(
                codec,
                _need(tensors, "input.separation_state", source),
                [int(n) for n in _need(tensors, "input.separation_sizes", source)],
                _need(tensors, "input.separation_message", source),
            )
            for b, (target, residual) in enumerate(pairs):
                got[f"output.separation_target.{b}"] = target
                got[f"output.separation_residual.{b}"] = residual
    errors = []
    for name in sorted(k for k in tensors if k.startswith("output.")):
        if name not in got:
            raise CheckpointError(
                f"{source}: unknown output {name!r}; a DAC-VAE vector has output.encoded, output.audio_features, "
                "output.decoded, output.decoded_from_random_latent, output.separation_{target,residual}.<b>"
            )
        expected = tensors[name]
        if got[name].shape != expected.shape:
            raise CheckpointError(f"{source}: {name}: computed shape {tuple(got[name].shape)} vs stored "
                                  f"{tuple(expected.shape)}")
        errors.append((name, float((got[name] - expected).abs().max())))
    return errors
