"""The world a case runs in: a model, and the bench examples it separates, as tensors.

Model names: ``fixture`` (the bundled trained model), ``random:<preset>[:<seed>]`` (a preset with
deterministic random weights, e.g. for counter-model tests and benchmarks), a checkpoint path, or a
SAM Audio model folder.

Rates: the bench tiers are 16 kHz. The separator resamples each mixture to its codec's rate
before encoding and each decoded estimate back to 16 kHz (trimmed to the mixture's length)
before the metrics, so STOI and wideband PESQ mean the same for every model. Span frames follow
the codec's hop. A decode's watermark message (DAC-VAE) comes from the example's noise seed, so
the baseline and every intervened run of an example share it.
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
    noise_seeds: tuple[int, ...] = ()  # one per example: the sampler's noise and the decode's watermark
    _alternative: Callable[[], Conditioning] = field(repr=False, default=None)
    _alt_cache: Optional[Conditioning] = field(default=None, repr=False)

    def conditioning(self, which: str = "prompted") -> Conditioning:
        """The prompted conditioning, or the alternative prompt's (the other source's description)."""
        if which in ("prompted", "original"):
            return self.cond
        if which == "alternative":
            if self._alt_cache is None:
                self._alt_cache = self._alternative()
            return self._alt_cache
        raise ValueError(f"unknown prompt {which!r}; allowed: 'prompted' (or 'original'), 'alternative'")

    def reference(self, which: str = "prompted") -> Tensor:
        if which == "prompted":
            return self.targets
        if which == "alternative":
            return self.residuals
        raise ValueError(f"unknown reference {which!r}; allowed: 'prompted', 'alternative'")


class World:
    """A model plus the pipeline that maps bench examples to its inputs and its outputs to audio."""

    def __init__(self, separator: Any, name: str, device: str = "cpu") -> None:
        self.name = name
        self.device = device
        self.separator = separator
        self.model: SamAudioModel = separator.model.to(device).eval()

    def inputs(self, data: Any) -> CaseInputs:
        from ..audio.bench import make_bench
        from .runner import example_seeds

        examples = make_bench(data.tier, data.split, data.n, data.seed, spans=data.spans)
        kind = data.prompt
        sep = self.separator
        mixtures = torch.stack([ex.mixture for ex in examples])
        spans_s = [tuple(ex.span) for ex in examples]
        features = sep.encode_mixtures(mixtures, examples[0].sample_rate)
        cond = sep.conditioning_from_features(features, [ex.prompt for ex in examples], spans_s, kind)
        alternative = [ex.alt_prompt for ex in examples]
        alt_cache = None
        if cond.text is not None and getattr(sep.text_encoder, "pads_to_batch", False):
            # Patching the alternative prompt's activations into a prompted run needs both text
            # sequences equally long. A T5 run as SAM Audio runs it pads each prompt list to its
            # own longest prompt, so pad the shorter one with masked positions (zero features,
            # mask False): masked keys take no attention weight. Encoders that encode prompts one
            # by one (the bundled model's MiniLM) are left exactly as they were.
            alt_cache = sep.conditioning_from_features(features, alternative, spans_s, kind)
            cond, alt_cache = _same_text_length(cond, alt_cache)
        spans = np.array([ex.span for ex in examples], dtype=np.float64)
        span_frames = torch.tensor([ex.span_frames(sep.frame_rate) for ex in examples], dtype=torch.long)
        return CaseInputs(
            mixtures=mixtures,
            targets=torch.stack([ex.target for ex in examples]),
            residuals=torch.stack([ex.residual for ex in examples]),
            spans=spans,
            span_frames=span_frames,
            sample_rate=examples[0].sample_rate,
            cond=cond,
            noise_seeds=tuple(example_seeds(data.seed, data.n)),
            _alternative=lambda: sep.conditioning_from_features(features, alternative, spans_s, kind),
            _alt_cache=alt_cache,
        )

    def decode(self, final: Tensor, inputs: CaseInputs) -> Tensor:
        """The target estimate at the bench's rate and length, (n, N)."""
        target, _ = self.separator.decode(final.cpu(), inputs.mixtures, seeds=list(inputs.noise_seeds),
                                          sample_rate=inputs.sample_rate)
        return target.cpu()

    def describe(self) -> dict:
        """The codec and text encoder this world runs on (``Separator.describe``)."""
        return self.separator.describe()


def _same_text_length(a: Conditioning, b: Conditioning) -> tuple[Conditioning, Conditioning]:
    length = max(a.text.shape[1], b.text.shape[1])

    def pad(c: Conditioning) -> Conditioning:
        extra = length - c.text.shape[1]
        if not extra:
            return c
        text = torch.nn.functional.pad(c.text, (0, 0, 0, extra))
        return c.replace(text=text, text_mask=torch.nn.functional.pad(c.text_mask, (0, extra), value=False))

    return pad(a), pad(b)


def load_world(name: str, device: str = "cpu") -> World:
    """``fixture``, a checkpoint path or SAM Audio folder, ``random:<preset>[:<seed>]`` (random
    weights, MiniLM text), or ``counter:<name>`` (the fixture with one mechanism broken, latentflow.counter_models)."""
    from ..pipeline import Separator

    if name.startswith("random:"):
        from ..audio.codecs import MelCodec
        from ..audio.text import encoder_from_name

        parts = name.split(":")
        if len(parts) not in (2, 3) or (len(parts) == 3 and not parts[2].isdigit()):
            raise ValueError(f"model {name!r}: write random:<preset> or random:<preset>:<seed>")
        model = build_model(preset(parts[1]), seed=int(parts[2]) if len(parts) == 3 else 0)
        return World(Separator(model, MelCodec(), encoder_from_name("minilm")), name, device)
    if name.startswith("counter:"):
        from ..counter_models import apply_counter, counter_name

        separator = Separator.load("fixture")  # a fresh copy: the counter edits only this one
        apply_counter(separator.model, counter_name(name))
        return World(separator, name, device)
    return World(Separator.load(name), name, device)
