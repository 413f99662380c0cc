"""Checking the implementation against a parity vector from the official SAM Audio code.

A vector holds ``param.*`` (wrapper-level state dict), ``input.*`` and ``output.*`` tensors, and
the config in its safetensors metadata (see fixtures/parity/README.md). Outputs named
``output.velocity_t<t>`` are single velocity evaluations; ``output.sample_<method><steps>`` is a
fixed-grid integration from ``input.noisy_audio`` at t=0 to t=1.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import torch

from .checkpoint import CheckpointError, load_state_dict_into, read_tensors
from .conditioning import Conditioning
from .config import SamAudioConfig
from .dit import SamAudioModel
from .sampler import sample

DEFAULT_TOLERANCE = 1e-4
_VELOCITY = re.compile(r"^output\.velocity_t(?P<t>[0-9.eE+-]+)$")
_SAMPLE = re.compile(r"^output\.sample_(?P<method>euler|midpoint)(?P<steps>\d+)$")


@dataclass(frozen=True)
class OutputError:
    name: str
    max_abs_err: float


@dataclass(frozen=True)
class ParityResult:
    path: str
    errors: tuple[OutputError, ...]
    tolerance: float

    @property
    def max_abs_err(self) -> float:
        return max(e.max_abs_err for e in self.errors)

    @property
    def passed(self) -> bool:
        return all(e.max_abs_err <= self.tolerance for e in self.errors)


def conditioning_from_inputs(inputs: dict[str, torch.Tensor]) -> Conditioning:
    def get(name: str):
        return inputs.get(name)

    return Conditioning(
        mixture=inputs["audio_features"],
        text=get("text_features"),
        text_mask=None if get("text_mask") is None else get("text_mask").bool(),
        video=get("masked_video_features"),
        anchor_ids=None if get("anchor_ids") is None else get("anchor_ids").long(),
        anchor_alignment=None if get("anchor_alignment") is None else get("anchor_alignment").long(),
        audio_mask=None if get("audio_pad_mask") is None else get("audio_pad_mask").bool(),
    )


def is_codec_vector(tensors: dict[str, torch.Tensor]) -> bool:
    """A DAC-VAE vector holds ``param.audio_codec.*`` weights and ``output.encoded``."""
    return "output.encoded" in tensors and any(k.startswith("param.audio_codec.") for k in tensors)


def check_parity(path: str | Path, tolerance: float = DEFAULT_TOLERANCE) -> ParityResult:
    tensors, metadata = read_tensors(path)
    if is_codec_vector(tensors):
        from latentflow.audio.dacvae_parity import codec_output_errors

        errors = codec_output_errors(tensors, metadata, source=str(path))
        return ParityResult(path=str(path), errors=tuple(OutputError(n, e) for n, e in errors), tolerance=tolerance)
    if "transformer_config" not in metadata:
        raise CheckpointError(
            f"{path}: not a parity vector: expected either a DiT vector (metadata 'transformer_config', "
            "tensors param.*, input.noisy_audio, output.velocity_t*) or a DAC-VAE vector "
            "(tensors param.audio_codec.* and output.encoded)"
        )
    try:
        cfg = SamAudioConfig.from_metadata(metadata, name=f"parity:{Path(path).name}")
    except KeyError as err:
        raise CheckpointError(f"{path}: metadata 'transformer_config' has no key {err.args[0]!r}") from None
    model = SamAudioModel(cfg)
    load_state_dict_into(model, tensors, prefix="param.", source=str(path))
    inputs = {k.removeprefix("input."): v for k, v in tensors.items() if k.startswith("input.")}
    for required in ("noisy_audio", "audio_features"):
        if required not in inputs:
            raise CheckpointError(f"{path}: parity vector has no 'input.{required}'")
    cond = conditioning_from_inputs(inputs)
    outputs = sorted(k for k in tensors if k.startswith("output."))
    if not outputs:
        raise CheckpointError(f"{path}: parity vector has no 'output.*' tensors")

    output_errors: list[OutputError] = []
    with torch.no_grad():
        for name in outputs:
            expected = tensors[name]
            if match := _VELOCITY.match(name):
                got = model(inputs["noisy_audio"], float(match["t"]), cond)
            elif match := _SAMPLE.match(name):
                got = sample(
                    model, cond, steps=int(match["steps"]), method=match["method"], noise=inputs["noisy_audio"]
                ).final
            else:
                raise CheckpointError(
                    f"{path}: unknown output {name!r}; expected output.velocity_t<t> or "
                    "output.sample_<euler|midpoint><steps>"
                )
            output_errors.append(OutputError(name, float((got - expected).abs().max())))
    return ParityResult(path=str(path), errors=tuple(output_errors), tolerance=tolerance)


def main(argv: list[str] | None = None) -> int:
    """``latentflow check-parity FILE``: exit 0 only if every output is within tolerance."""
    import argparse

    parser = argparse.ArgumentParser(
        prog="latentflow check-parity",
        description="Compare this implementation with a parity vector from the official SAM Audio code.",
    )
    parser.add_argument("file", help="a parity vector (.safetensors) with param.*, input.* and output.* tensors")
    parser.add_argument("--tolerance", type=float, default=DEFAULT_TOLERANCE,
                        help="max abs error allowed (default 1e-4)")
    args = parser.parse_args(argv)
    try:
        result = check_parity(args.file, tolerance=args.tolerance)
    except (CheckpointError, ValueError) as err:
        print(f"check-parity: {err}")
        return 2
    width = max(len(e.name) for e in result.errors)
    for e in result.errors:
        verdict = "ok" if e.max_abs_err <= result.tolerance else "FAIL"
        print(f"{e.name:<{width}}  max_abs_err={e.max_abs_err:.3e}  {verdict}")
    print(f"tolerance={result.tolerance:g}  {'PASS' if result.passed else 'FAIL'}")
    print(f"max_abs_err={result.max_abs_err:.3e}")
    return 0 if result.passed else 1
