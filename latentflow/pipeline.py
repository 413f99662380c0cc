"""Audio and prompts in, separated audio out: the one bridge between the tiers and the model.

A :class:`Separator` holds a model, the latent codec and a text encoder. It turns mixtures and
prompts into the model's :class:`~latentflow.model.Conditioning`, runs the flow-matching
sampler, and decodes the final state back into target and residual waveforms:

    sep = Separator.load("fixture")                       # or a checkpoint path
    cond = sep.conditioning(examples, prompt_kind="text+span")
    out = sep.separate(examples, steps=16, method="euler")
    out.target, out.residual                              # (B, S) float32 waveforms

Prompt kinds (``PROMPT_KINDS``):

* ``"text"``: text features of each prompt; every frame carries the ``<null>`` anchor.
* ``"span"``: no text (the memory is the time term alone); span anchors as below.
* ``"text+span"``: both.

Span anchors (SAM Audio's ``embed_anchors``): ``anchor_ids`` is always the (B, 3) row
``[0 <null>, 1 +, 2 -]`` and ``anchor_alignment`` (B, T) picks one of them per latent frame:
a frame whose centre ``(j + 0.5) / 25`` s lies in ``[start, end)`` of the span points at ``+``
(index 1), every other frame at ``-`` (index 2). An example without a span (``None``), and
every example under ``prompt_kind="text"``, has all frames at ``<null>`` (index 0). Anchors are
therefore always passed, so the anchor gate acts on every run, as in SAM Audio, where a prompt
without a span still embeds ``<null>`` tokens.

Noise: each example's starting noise is drawn from its own seed (``seeds``, default 0 for every
example), so an example's output never depends on which other examples share its batch.

Codec and rates: the separator works through the codec interface
(:mod:`latentflow.audio.codec_protocol`): the bundled 16 kHz mel codec or SAM Audio's 48 kHz
DAC-VAE. Waveforms go in and come out at the caller's ``sample_rate`` (default 16 kHz, the
tiers' rate); the separator resamples them to the codec's rate with torchaudio before encoding
and resamples the decoded estimates back, trimmed to the input length (DAC-VAE decodes whole
frames, up to hop - 1 samples past the input). Frames, spans and anchors follow the codec's hop.

Watermark: DAC-VAE stamps a message into every decode. Here it comes from each example's noise
seed (:func:`latentflow.audio.dacvae.separation_messages`), never from the global generator, so a
baseline and every intervened run of an example carry the same message.
"""

from __future__ import annotations

import json
import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
import torchaudio
from torch import Tensor

from latentflow.audio.codec import LatentCodec, mixture_features
from latentflow.audio.codec_protocol import AudioCodec, check_same_codec, codec_label
from latentflow.audio.codecs import MelCodec, as_codec
from latentflow.audio.dacvae import separation_messages
from latentflow.model import Conditioning, SamAudioModel, sample
from latentflow.vocabulary import PROMPT_KINDS

SAMPLE_RATE = 16_000  # the tiers' rate: waveforms go in and come out at it unless told otherwise

# SAM Audio's anchor vocabulary (the embedding's last row, 3, is padding and never used here).
ANCHOR_NULL, ANCHOR_POSITIVE, ANCHOR_NEGATIVE = 0, 1, 2
ANCHOR_TOKENS = (ANCHOR_NULL, ANCHOR_POSITIVE, ANCHOR_NEGATIVE)
# Positions inside ``anchor_ids`` that ``anchor_alignment`` points at.
ALIGN_NULL, ALIGN_INSIDE, ALIGN_OUTSIDE = 0, 1, 2

# Checkpoint metadata keys written by the trainer and read by ``Separator.load``.
META_TEXT_ENCODER = "latentflow_text_encoder"
META_CODEC = "latentflow_codec"

Span = tuple[float, float] | None


@dataclass(frozen=True, eq=False)
class Separation:
    """The result of :meth:`Separator.separate`.

    target / residual: (B, S) float32 waveforms at the input's rate and length (with the mel
    codec their sum is the mixture).
    state: (B, T, 2C) the sampler's final latent state, [target C | residual C].
    conditioning: what the model was run on.
    """

    target: Tensor
    residual: Tensor
    state: Tensor
    conditioning: Conditioning


def span_anchors(spans: Sequence[Span], n_frames: int, frame_rate: float = 25.0) -> tuple[Tensor, Tensor]:
    """SAM Audio span anchors for a batch: ``anchor_ids`` (B, 3) and ``anchor_alignment`` (B, T).

    ``spans[i]`` is ``(start, end)`` in seconds or None (no span: all frames ``<null>``).
    A frame is inside the span when its centre lies in ``[start, end)``.
    """
    if n_frames < 1:
        raise ValueError(f"n_frames must be >= 1, got {n_frames}")
    centres = (torch.arange(n_frames, dtype=torch.float64) + 0.5) / frame_rate
    alignment = torch.full((len(spans), n_frames), ALIGN_NULL, dtype=torch.long)
    duration = n_frames / frame_rate
    for row, span in enumerate(spans):
        if span is None:
            continue
        start, end = check_span(span, duration, where=f"span {row}", warn_past_end=False)
        inside = (centres >= start) & (centres < end)
        alignment[row] = torch.where(inside, ALIGN_INSIDE, ALIGN_OUTSIDE)
    anchor_ids = torch.tensor([ANCHOR_TOKENS] * len(spans), dtype=torch.long)
    return anchor_ids, alignment


def check_span(
    span: Sequence[float], duration: float, where: str = "span", *, warn_past_end: bool = True
) -> tuple[float, float]:
    """Validate ``(start, end)`` seconds against a clip of ``duration`` seconds; returns floats.

    An end past the clip's end is clipped to it, with a warning naming the span and the clip's
    length (``warn_past_end=False`` where the caller's duration is a frame grid, not the clip).
    """
    try:
        start, end = (float(v) for v in span)
    except (TypeError, ValueError):
        raise ValueError(f"{where}: expected (start, end) in seconds, got {span!r}") from None
    if not (math.isfinite(start) and math.isfinite(end)):
        raise ValueError(f"{where}: start and end must be finite numbers, got ({start}, {end})")
    if start < 0 or end <= start:
        raise ValueError(f"{where}: need 0 <= start < end, got ({start:g}, {end:g}) s")
    if start >= duration:
        raise ValueError(
            f"{where}: starts at {start:g} s, at or after the end of the {duration:g} s mixture"
        )
    if end > duration and warn_past_end:
        warnings.warn(f"{where}: ({start:g}, {end:g}) s runs past the end of the {duration:g} s mixture; "
                      f"clipped to ({start:g}, {duration:g}) s", stacklevel=2)
    return start, min(end, duration)


class Separator:
    """A model with the codec and text encoder it was trained with.

    ``codec`` is any codec of the codec interface (a bare ``LatentCodec`` is taken as the mel
    codec); default the bundled mel codec. ``text_encoder`` may be None for a separator used
    only with ``prompt_kind="span"``.
    """

    def __init__(self, model: SamAudioModel, codec: AudioCodec | LatentCodec | None = None, text_encoder=None) -> None:
        self.model = model.eval()
        self.codec: AudioCodec = as_codec(codec) if codec is not None else MelCodec()
        self.text_encoder = text_encoder
        C = model.cfg.latent_channels
        if self.codec.latent_channels != C:
            raise ValueError(
                f"the codec {codec_label(self.codec.describe())} has {self.codec.latent_channels} latent "
                f"channels but the model {model.cfg.name!r} expects C={C}"
            )
        if text_encoder is not None and text_encoder.dim != model.cfg.text_dim:
            raise ValueError(
                f"text encoder {text_encoder.name!r} gives {text_encoder.dim}-wide features but the "
                f"model's memory_proj expects text_dim={model.cfg.text_dim}"
            )

    # -- construction --------------------------------------------------------------------

    @classmethod
    def load(cls, name_or_path: str | Path = "fixture", text_encoder=None, codec=None) -> Separator:
        """A separator for ``"fixture"`` (the bundled model), a checkpoint file or a SAM Audio
        model folder (config.json + checkpoint.pt / model.safetensors).

        The checkpoint says which codec it needs (DAC-VAE when it holds ``audio_codec.*`` or its
        config.json has ``audio_codec``; the bundled mel codec otherwise); a ``codec`` passed
        here must be that one. The text encoder the checkpoint names is built unless one is
        passed (``text_encoder`` may also be a path, as for ``--text-encoder``).
        """
        from latentflow.loading import load_separator_parts

        parts = load_separator_parts(name_or_path, text_encoder=text_encoder)
        if codec is not None:
            check_same_codec(parts.codec.describe(), as_codec(codec).describe(), source=str(name_or_path))
        return cls(parts.model, parts.codec, parts.text_encoder)

    def describe(self) -> dict:
        """What this separator runs on, JSON-able: ``{"codec": {"name", "sample_rate", "hop",
        "latent_channels"}, "text_encoder": {"name", "dim"}}``."""
        encoder = self.text_encoder
        return {
            "codec": self.codec.describe(),
            "text_encoder": {"name": None if encoder is None else str(encoder.name),
                             "dim": None if encoder is None else int(encoder.dim)},
        }

    # -- conditioning --------------------------------------------------------------------

    def to_codec_rate(self, waveforms: Tensor, sample_rate: int) -> Tensor:
        """(B, S) at ``sample_rate`` -> (B, S') at the codec's rate (torchaudio's resampler)."""
        waves = _as_batch(waveforms)
        if int(sample_rate) == self.codec.sample_rate:
            return waves
        return torchaudio.functional.resample(waves, int(sample_rate), self.codec.sample_rate)

    def from_codec_rate(self, waveforms: Tensor, sample_rate: int, length: int) -> Tensor:
        """(B, S') at the codec's rate -> (B, length) at ``sample_rate`` (resampled, trimmed)."""
        if int(sample_rate) != self.codec.sample_rate:
            waveforms = torchaudio.functional.resample(waveforms, self.codec.sample_rate, int(sample_rate))
        if waveforms.shape[-1] < length:
            raise ValueError(f"decoded {waveforms.shape[-1]} samples, fewer than the input's {length}")
        return waveforms[..., :length]

    def encode_mixtures(self, mixtures: Tensor, sample_rate: int = SAMPLE_RATE) -> Tensor:
        """(B, S) or (S,) waveforms at ``sample_rate`` -> the model's mixture features (B, T, 2C)."""
        latents = self.codec.encode(self.to_codec_rate(mixtures, sample_rate))
        return mixture_features(latents.transpose(1, 2))

    def conditioning(
        self,
        examples: Sequence | None = None,
        *,
        mixtures: Tensor | None = None,
        prompts: Sequence[str] | None = None,
        spans: Sequence[Span] | None = None,
        prompt_kind: str = "text",
        sample_rate: int = SAMPLE_RATE,
    ) -> Conditioning:
        """The model's conditioning for tier examples or for (mixtures, prompts, spans).

        With ``examples`` (objects with ``mixture``, ``prompt``, ``span`` and ``sample_rate``,
        like :class:`~latentflow.audio.MixtureExample`), ``prompts`` / ``spans`` may still be given
        to replace the examples' own (e.g. the alternative prompt).
        """
        mixtures, prompts, spans, sample_rate = self._inputs(examples, mixtures, prompts, spans, prompt_kind,
                                                             sample_rate)
        features = self.encode_mixtures(mixtures, sample_rate)
        return self.conditioning_from_features(features, prompts, spans, prompt_kind)

    def conditioning_from_features(
        self,
        mixture_feats: Tensor,
        prompts: Sequence[str] | None,
        spans: Sequence[Span] | None,
        prompt_kind: str = "text",
    ) -> Conditioning:
        """Like :meth:`conditioning`, from precomputed mixture features (B, T, 2C)."""
        check_prompt_kind(prompt_kind)
        B, T = mixture_feats.shape[:2]
        text = mask = None
        if "text" in prompt_kind:
            if prompts is None or len(prompts) != B:
                raise ValueError(f"prompt_kind={prompt_kind!r} needs {B} prompts, got {_count(prompts)}")
            if self.text_encoder is None:
                raise ValueError("this Separator has no text encoder; use prompt_kind='span'")
            encoded = self.text_encoder.encode(list(prompts))
            text, mask = encoded.features, encoded.mask
        if "span" in prompt_kind:
            if spans is None or len(spans) != B:
                raise ValueError(f"prompt_kind={prompt_kind!r} needs {B} spans, got {_count(spans)}")
            anchor_spans = list(spans)
        else:
            anchor_spans = [None] * B
        anchor_ids, alignment = span_anchors(anchor_spans, T, frame_rate=self.frame_rate)
        return Conditioning(
            mixture=mixture_feats,
            text=text,
            text_mask=mask,
            anchor_ids=anchor_ids,
            anchor_alignment=alignment,
        )

    # -- running -------------------------------------------------------------------------

    @torch.no_grad()
    def separate(
        self,
        examples: Sequence | None = None,
        *,
        mixtures: Tensor | None = None,
        prompts: Sequence[str] | None = None,
        spans: Sequence[Span] | None = None,
        prompt_kind: str = "text",
        steps: int = 16,
        method: str = "euler",
        seeds: Sequence[int] | None = None,
        sample_rate: int = SAMPLE_RATE,
    ) -> Separation:
        """Separate each mixture into (target, residual) waveforms; see the module docstring."""
        mixtures, prompts, spans, sample_rate = self._inputs(examples, mixtures, prompts, spans, prompt_kind,
                                                             sample_rate)
        cond = self.conditioning_from_features(self.encode_mixtures(mixtures, sample_rate), prompts, spans,
                                               prompt_kind)
        seeds = [0] * cond.batch_size if seeds is None else list(seeds)
        state = sample(self.model, cond, steps=steps, method=method, seeds=seeds).final
        target, residual = self.decode(state, mixtures, seeds=seeds, sample_rate=sample_rate)
        return Separation(target=target, residual=residual, state=state, conditioning=cond)

    @torch.no_grad()
    def decode(self, final_state: Tensor, mixture_waveforms: Tensor, *, seeds: Sequence[int] | None = None,
               sample_rate: int = SAMPLE_RATE) -> tuple[Tensor, Tensor]:
        """(B, T, 2C) final state + (B, S) mixtures at ``sample_rate`` -> (target, residual),
        each (B, S) at ``sample_rate``.

        ``seeds`` are the examples' noise seeds (default 0 each): a watermarking codec's message
        comes from them. With the mel codec both come from one mask on the mixture and sum to it.
        """
        mix = _as_batch(mixture_waveforms)
        seeds = [0] * mix.shape[0] if seeds is None else list(seeds)
        if len(seeds) != mix.shape[0]:
            raise ValueError(f"decode: {len(seeds)} seeds for {mix.shape[0]} mixtures")
        codec_mix = self.to_codec_rate(mix, sample_rate)
        messages = separation_messages(seeds) if self.codec.watermarked else None
        target, residual = self.codec.decode_separation(final_state.float(), mixture=codec_mix, messages=messages)
        length = mix.shape[-1]
        return (self.from_codec_rate(target, sample_rate, length),
                self.from_codec_rate(residual, sample_rate, length))

    @torch.no_grad()
    def oracle(self, mixtures: Tensor, targets: Tensor, residuals: Tensor, sample_rate: int = SAMPLE_RATE) -> Tensor:
        """The codec's ceiling: the target decoded from the true target's and residual's latents."""
        encode = lambda w: self.codec.encode(self.to_codec_rate(w, sample_rate)).transpose(1, 2)  # noqa: E731
        state = torch.cat([encode(targets), encode(residuals)], dim=-1)
        return self.decode(state, mixtures, sample_rate=sample_rate)[0]

    # -- helpers -------------------------------------------------------------------------

    @property
    def frame_rate(self) -> float:
        """Latent frames per second: the codec's rate over its hop (25 for both codecs)."""
        return self.codec.sample_rate / self.codec.hop

    def _inputs(self, examples, mixtures, prompts, spans, prompt_kind, sample_rate):
        check_prompt_kind(prompt_kind)
        if examples is not None:
            if mixtures is not None:
                raise ValueError("give either examples or mixtures, not both")
            examples = list(examples)
            if not examples:
                raise ValueError("examples is empty")
            lengths = {int(e.mixture.shape[-1]) for e in examples}
            if len(lengths) != 1:
                raise ValueError(f"examples differ in length ({sorted(lengths)} samples); batch equal lengths")
            rates = {int(getattr(e, "sample_rate", sample_rate)) for e in examples}
            if len(rates) != 1:
                raise ValueError(f"examples differ in sample rate ({sorted(rates)} Hz)")
            sample_rate = rates.pop()
            mixtures = torch.stack([e.mixture for e in examples])
            prompts = [e.prompt for e in examples] if prompts is None else prompts
            spans = [tuple(e.span) for e in examples] if spans is None else spans
        if mixtures is None:
            raise ValueError("give examples or mixtures")
        mixtures = _as_batch(mixtures)
        return (mixtures, (None if prompts is None else list(prompts)), (None if spans is None else list(spans)),
                int(sample_rate))


def check_prompt_kind(prompt_kind: str) -> None:
    if prompt_kind not in PROMPT_KINDS:
        raise ValueError(f"unknown prompt_kind {prompt_kind!r}; allowed: {', '.join(PROMPT_KINDS)}")


def codec_metadata(codec: LatentCodec) -> str:
    """The codec facts a checkpoint depends on, as stored in its metadata (JSON)."""
    cfg = codec.config
    return json.dumps(
        {"sample_rate": cfg.sample_rate, "latent_hop": cfg.latent_hop, "n_mels": cfg.n_mels, "n_fft": cfg.n_fft,
         "stft_hop": cfg.stft_hop, "channel_mean_sum": round(sum(cfg.channel_mean), 4)},
        sort_keys=True,
    )


def check_codec_metadata(metadata: dict, source: str) -> None:
    """Refuse a checkpoint trained on a different codec than the one this package ships."""
    stored = metadata.get(META_CODEC)
    if stored is None:
        return  # not written by the latentflow trainer: nothing to compare
    current = codec_metadata(LatentCodec())
    if json.loads(stored) != json.loads(current):
        raise ValueError(
            f"{source}: trained with codec {stored}, but this latentflow's codec is {current}; "
            "its latents would not match"
        )


def _as_batch(waves: Tensor) -> Tensor:
    if not isinstance(waves, Tensor):
        raise TypeError(f"mixtures must be a torch.Tensor, got {type(waves).__name__}")
    if waves.dim() == 1:
        waves = waves[None]
    if waves.dim() != 2:
        raise ValueError(f"mixtures must be (B, S) or (S,) mono waveforms, got shape {tuple(waves.shape)}")
    return waves.float()


def _count(values) -> str:
    return "none" if values is None else str(len(values))


__all__ = [
    "ALIGN_INSIDE",
    "ALIGN_NULL",
    "ALIGN_OUTSIDE",
    "ANCHOR_NEGATIVE",
    "ANCHOR_NULL",
    "ANCHOR_POSITIVE",
    "ANCHOR_TOKENS",
    "Separation",
    "Separator",
    "check_span",
    "span_anchors",
]
