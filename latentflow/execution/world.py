"""The world a case runs in: a model, and the tier examples it separates, as tensors.

Model names are resolved by ``latentflow.model_names`` (``fixture``, a checkpoint path, a SAM
Audio model folder, ``random:<preset>[:<seed>]``, ``counter:<name>``).

Rates: the tiers are 16 kHz. The separator resamples each mixture to its codec's rate
before encoding and each decoded estimate back to 16 kHz (trimmed to the mixture's length)
before the metrics, so STOI and wideband PESQ mean the same for every model. Span frames follow
the codec's hop. A decode's watermark message (DAC-VAE) comes from the example's noise seed, so
the baseline and every intervened run of an example share it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from ..model import CONDITIONED_SITES, Conditioning, SamAudioModel


@dataclass
class CaseInputs:
    """The examples of one data section, ready for the model and for the metrics."""

    mixtures: Tensor  # (n, N) waveforms
    targets: Tensor  # (n, N) the prompted source
    residuals: Tensor  # (n, N) everything else (the alternative prompt's source and any noise)
    spans: np.ndarray  # (n, 2) target span, seconds
    span_frames: Tensor | None  # (n, 2) long, [start, end) latent frames
    sample_rate: int
    cond: Conditioning  # prompted
    noise_seeds: tuple[int, ...] = ()  # one per example: the sampler's noise and the decode's watermark
    _alternative: Callable[[], Conditioning] | None = field(repr=False, default=None)
    _alt_cache: Conditioning | None = field(default=None, repr=False)

    def conditioning(self, which: str = "prompted") -> Conditioning:
        """The prompted conditioning, or the alternative prompt's (the other source's description)."""
        if which in ("prompted", "original"):
            return self.cond
        if which == "alternative":
            if self._alt_cache is None:
                if self._alternative is None:
                    raise ValueError("these inputs were made without an alternative prompt")
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
    """A model plus the pipeline that maps tier examples to its inputs and its outputs to audio."""

    def __init__(self, separator: Any, name: str, device: str = "cpu") -> None:
        self.name = name
        self.device = device
        self.separator = separator
        self.model: SamAudioModel = separator.model.to(device).eval()
        self._description: dict | None = None

    def inputs(self, data: Any) -> CaseInputs:
        from ..audio.tiers import make_examples
        from .sampling import example_seeds

        examples = make_examples(data.tier, data.split, data.n, data.seed, spans=data.spans)
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

    @staticmethod
    def conditioning_fields(data: Any) -> frozenset[str]:
        """The Conditioning fields that :meth:`inputs` fills for ``data``: the mixture, span
        anchors (every example has anchor ids, "no span" included), text only with a text
        prompt, and never video (the tiers have none)."""
        fields = {"mixture", "anchor_ids"}
        if "text" in data.prompt:
            fields.add("text")
        return frozenset(fields)

    def why_silent(self, site: str, data: Any) -> str | None:
        """Why the model never runs hook point ``site`` on ``data``'s inputs; None if it does."""
        needs = CONDITIONED_SITES.get(site)
        if needs is None or needs in self.conditioning_fields(data):
            return None
        if needs == "text":
            return (f"{site} runs only with a text prompt, and data.prompt is {data.prompt!r} "
                    "(text and text+span have one)")
        if needs == "video":
            return f"{site} runs only with video frames, and the tier examples have no video"
        return f"{site} runs only when the conditioning has {needs}, and data {data.prompt!r} gives none"

    def describe(self) -> dict:
        """What ran, for results files: the model's identity (:func:`model_identity`), the codec
        and the text encoder (``Separator.describe()``), and the spec constants derived on it
        (``derived``, latentflow.derivation; only when some were)."""
        if self._description is None:  # hashing a checkpoint once per world, not per case
            self._description = {"model": model_identity(self.name), **self.separator.describe()}
        from ..derivation import derived_records  # the spec constants derived on this model so far

        derived = derived_records(self.model)
        return {**self._description, "derived": derived} if derived else self._description

    def decode(self, final: Tensor, inputs: CaseInputs) -> Tensor:
        """The target estimate at the tiers' rate and length, (n, N)."""
        target, _ = self.separator.decode(final.cpu(), inputs.mixtures, seeds=list(inputs.noise_seeds),
                                          sample_rate=inputs.sample_rate)
        return target.cpu()


def _same_text_length(a: Conditioning, b: Conditioning) -> tuple[Conditioning, Conditioning]:
    def text_of(c: Conditioning) -> Tensor:
        if c.text is None:
            raise ValueError("both prompts need text features to be padded to one length")
        return c.text

    length = max(text_of(a).shape[1], text_of(b).shape[1])

    def pad(c: Conditioning) -> Conditioning:
        text = text_of(c)
        extra = length - text.shape[1]
        if not extra:
            return c
        # no mask means every token is real
        mask = c.text_mask if c.text_mask is not None else torch.ones(text.shape[:2], dtype=torch.bool,
                                                                       device=text.device)
        return c.replace(text=torch.nn.functional.pad(text, (0, 0, 0, extra)),
                         text_mask=torch.nn.functional.pad(mask, (0, extra), value=False))

    return pad(a), pad(b)


def sha256_of(path: Path) -> str:
    # read in blocks by hand: hashlib.file_digest is Python 3.11+, and the package supports 3.10
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def model_identity(name: str) -> dict:
    """Which weights a model name stands for: a checkpoint's (or the bundled fixture's) sha256,
    or the recipe of generated weights (``random:<preset>[:<seed>]``, ``counter:<name>`` on the
    fixture), so a results file says exactly what it was measured on."""
    from ..fixture import fixture_model_path
    from ..model_names import FIXTURE_NAME, parse_model_name

    parsed = parse_model_name(name)
    if parsed.preset is not None:
        return {"name": name, "kind": "random", "preset": parsed.preset, "weights_seed": parsed.seed}
    if parsed.counter is not None:
        return {"name": name, "kind": "counter-model", "counter": parsed.counter,
                "base": model_identity(parsed.base or FIXTURE_NAME)}
    if parsed.fixture:
        path = fixture_model_path()
        return {"name": name, "kind": "bundled fixture", "file": path.name, "sha256": sha256_of(path)}
    path = Path(name).expanduser()
    if path.is_dir():  # a SAM Audio model folder: its config and weights files
        files = sorted(f for f in path.iterdir() if f.is_file() and f.suffix in (".json", ".pt", ".safetensors"))
        return {"name": name, "kind": "model folder", "folder": str(path),
                "sha256": {f.name: sha256_of(f) for f in files}}
    return {"name": name, "kind": "checkpoint", "file": str(path), "sha256": sha256_of(path)}


def load_world(name: str, device: str = "cpu", text_encoder: Any = None) -> World:
    """A world for any model name ``latentflow.model_names`` accepts (``fixture``, a checkpoint
    path, a SAM Audio model folder, ``random:<preset>[:<seed>]``, ``counter:<name>``);
    ``text_encoder``: a local T5 folder for a SAM Audio folder (``--latentflow-text-encoder``)."""
    from ..model_names import load_separator

    return World(load_separator(name, text_encoder=text_encoder), name, device)
