"""The world a case runs in: a model, and the bench examples it separates, as tensors.

Model names: ``fixture`` (the bundled trained model), ``random:<preset>[:<seed>]`` (a preset with
deterministic random weights, e.g. for counter-model tests and benchmarks), or a checkpoint path.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Optional

import numpy as np
import torch
from torch import Tensor

from ..model import Conditioning, SamAudioModel, build_model, preset


@dataclass
class CaseInputs:
    """The examples of one data section, ready for the model and for the metrics."""

    mixtures: Tensor  # (n, N) waveforms
    targets: Tensor  # (n, N) the prompted source
    residuals: Tensor  # (n, N) everything else (the alternative prompt's source and any noise)
    spans: np.ndarray  # (n, 2) target span, seconds
    span_frames: Optional[Tensor]  # (n, 2) long, [start, end) latent frames
    sample_rate: int
    cond: Conditioning  # prompted
    _alternative: Callable[[], Conditioning] = field(repr=False, default=None)
    _alt_cache: Optional[Conditioning] = field(default=None, repr=False)

    def conditioning(self, which: str = "prompted") -> Conditioning:
        if which == "prompted":
            return self.cond
        if which == "alternative":
            if self._alt_cache is None:
                self._alt_cache = self._alternative()
            return self._alt_cache
        raise ValueError(f"unknown prompt {which!r}; allowed: 'prompted', 'alternative'")

    def reference(self, which: str = "prompted") -> Tensor:
        if which == "prompted":
            return self.targets
        if which == "alternative":
            return self.residuals
        raise ValueError(f"unknown reference {which!r}; allowed: 'prompted', 'alternative'")


class World:
    """A model plus the pipeline that maps bench examples to its inputs and its outputs to audio."""

    def __init__(self, model: SamAudioModel, name: str, device: str = "cpu") -> None:
        from ..pipeline import Separator

        self.name = name
        self.model = model.to(device).eval()
        self.separator = Separator(self.model, device=device)

    def inputs(self, data: Any) -> CaseInputs:
        from ..audio.bench import make_bench

        examples = make_bench(data.tier, data.split, data.n, data.seed)
        kind = data.prompt
        cond = self.separator.conditioning(examples, prompt_kind=kind)
        spans = np.array([ex.span for ex in examples], dtype=np.float64)
        frames_per_second = self.separator.frame_rate
        span_frames = torch.tensor(np.stack([np.floor(spans[:, 0] * frames_per_second),
                                             np.ceil(spans[:, 1] * frames_per_second)], 1), dtype=torch.long)
        return CaseInputs(
            mixtures=torch.stack([ex.mixture for ex in examples]),
            targets=torch.stack([ex.target for ex in examples]),
            residuals=torch.stack([ex.residual for ex in examples]),
            spans=spans,
            span_frames=span_frames,
            sample_rate=examples[0].sample_rate,
            cond=cond,
            _alternative=lambda: self.separator.conditioning(examples, prompt_kind=kind, use_alternative=True),
        )

    def decode(self, final: Tensor, inputs: CaseInputs) -> Tensor:
        target, _ = self.separator.decode(final, inputs.mixtures)
        return target.cpu()


def load_model_by_name(name: str, device: str = "cpu") -> SamAudioModel:
    if name.startswith("random:"):
        parts = name.split(":")
        seed = int(parts[2]) if len(parts) > 2 else 0
        return build_model(preset(parts[1]), seed=seed)
    from ..fixture import resolve_model

    return resolve_model(name)


def load_world(name: str, device: str = "cpu") -> World:
    return World(load_model_by_name(name, device), name, device=device)
