"""The three separation tiers: Clean, Noisy and Env mixtures with prompts and spans.

Tiers (after the paper's protocol, ../shared/PAPER.md):

- ``clean``: two espeak-ng speakers of different gender. The target (male or female, drawn
  from the example's seed) is prompted with a description of its gender ("a woman
  speaking"); the other speaker is the residual and its description is ``alt_prompt``.
- ``noisy``: the Clean example with the same index and seed, plus steady white noise at
  ``noisy_snr_db`` (5 dB) relative to the two-speaker mixture; the noise joins the residual.
- ``env``: one procedural environmental sound (``latentflow.audio.environmental``) as the
  target, over either another environmental class or one speaker (the residual), prompted
  with one of the class's labels.

In every example ``mixture == target + residual`` exactly (float32). A share
(``span_fraction``) of the examples hold the target only inside a sub-span of the clip that
starts and ends on the latent frame grid (25 frames/s), zero outside; ``span`` records the
active interval in seconds (``(0, duration)`` for the others).

Examples are pure functions of (tier, split, index, seed, config): ``make_examples`` returns
the first n indices on which every metric is defined (``latentflow.audio.validity``: STOI
needs about 0.4 s of non-silent target; sparse Env sounds sometimes lack it), so a longer
draw extends a shorter one. Training draws fresh mixtures from
the same committed utterance pool with :class:`MixtureSampler`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

import numpy as np
import torch

from latentflow.audio import environmental, speech
from latentflow.audio.validity import stoi_defined
from latentflow.vocabulary import SPAN_SELECTIONS, SPLITS, TIERS

SPEECH_PROMPTS: dict[str, tuple[str, ...]] = {
    "male": ("a man speaking", "male speech", "a man talking", "a male voice"),
    "female": ("a woman speaking", "female speech", "a woman talking", "a female voice"),
}

# Streams of the per-example random generator: Clean and Noisy share one, so that the Noisy
# example i is the Clean example i plus noise.
_STREAM = {"clean": 0, "noisy": 0, "env": 1}
_SPLIT_CODE = {"train": 0, "test": 1}
_SAMPLER_STREAM = 2


@dataclass(frozen=True)
class TierConfig:
    """How tier examples are built; every default is documented, none is hidden."""

    sample_rate: int = speech.SAMPLE_RATE
    duration: float = 4.0  # seconds: 100 latent frames at 25 frames/s
    frame_rate: float = 25.0  # latent frames/s; sub-spans start and end on this grid
    noisy_snr_db: float = 5.0  # speech mixture vs white noise, Noisy tier
    span_fraction: float = 0.5  # share of examples whose target occupies only a sub-span
    env_span_range: tuple[float, float] = (0.25, 0.6)  # Env sub-span length, share of the clip
    speech_span_max: float = 0.6  # longest speech sub-span, share of the clip (longer utterances are cropped)
    level_dbfs: float = -28.0  # gated RMS each source is normalised to before the relative gain
    sir_db_range: tuple[float, float] = (-2.5, 2.5)  # target-to-residual level difference (dB), uniform
    env_speech_background: float = 0.5  # probability that an Env target sits over speech, not another class
    pause_range: tuple[float, float] = (0.05, 0.3)  # seconds between chained utterances of one speaker
    fade_s: float = 0.01  # raised-cosine fade where a source is cropped
    peak_limit: float = 0.99  # all sources scaled down together if any waveform would exceed this

    def __post_init__(self) -> None:
        def fail(name: str, value: object, allowed: str) -> None:
            raise ValueError(f"TierConfig.{name}={value!r} is invalid; allowed: {allowed}")

        if not isinstance(self.sample_rate, int) or self.sample_rate <= 0:
            fail("sample_rate", self.sample_rate, "a positive integer (Hz)")
        if self.sample_rate != speech.SAMPLE_RATE:
            fail("sample_rate", self.sample_rate, f"{speech.SAMPLE_RATE} (the committed pool's rate)")
        if not self.duration > 0:
            fail("duration", self.duration, "a positive number of seconds")
        hop = self.sample_rate / self.frame_rate if self.frame_rate > 0 else 0.0
        if self.frame_rate <= 0 or abs(hop - round(hop)) > 1e-9:
            fail("frame_rate", self.frame_rate, "a positive rate dividing sample_rate into whole samples")
        frames = self.duration * self.frame_rate
        if abs(frames - round(frames)) > 1e-6 or round(frames) < 4:
            fail("duration", self.duration, "a whole number (>= 4) of latent frames (multiples of 1/frame_rate s)")
        if not 0.0 <= self.span_fraction <= 1.0:
            fail("span_fraction", self.span_fraction, "a share in [0, 1]")
        if not 0.0 < self.env_span_range[0] <= self.env_span_range[1] < 1.0:
            fail("env_span_range", self.env_span_range, "(low, high) with 0 < low <= high < 1")
        if not 0.0 < self.speech_span_max < 1.0:
            fail("speech_span_max", self.speech_span_max, "a share in (0, 1)")
        if self.sir_db_range[0] > self.sir_db_range[1]:
            fail("sir_db_range", self.sir_db_range, "(low, high) with low <= high")
        if not 0.0 <= self.env_speech_background <= 1.0:
            fail("env_speech_background", self.env_speech_background, "a probability in [0, 1]")
        if not 0.0 <= self.pause_range[0] <= self.pause_range[1]:
            fail("pause_range", self.pause_range, "(low, high) seconds with 0 <= low <= high")
        if not 0.0 < self.peak_limit <= 1.0:
            fail("peak_limit", self.peak_limit, "a level in (0, 1]")

    @property
    def n_samples(self) -> int:
        return int(round(self.duration * self.sample_rate))

    @property
    def n_frames(self) -> int:
        return int(round(self.duration * self.frame_rate))

    @property
    def hop(self) -> int:
        """Samples per latent frame (640 at 16 kHz and 25 frames/s)."""
        return int(round(self.sample_rate / self.frame_rate))


@dataclass(frozen=True)
class SourceInfo:
    """Where a source came from: enough to regenerate or audit it."""

    kind: str  # "speech" or "env"
    category: str  # "male" / "female" for speech, the class name for env
    voice: str | None = None
    sentence_ids: tuple[int, ...] = ()
    utterance_ids: tuple[str, ...] = ()
    gain_db: float = 0.0  # level relative to TierConfig.level_dbfs


@dataclass(frozen=True, eq=False)
class MixtureExample:
    """One tier mixture. Waveforms are float32 (n_samples,); mixture == target + residual."""

    mixture: torch.Tensor
    target: torch.Tensor
    residual: torch.Tensor
    prompt: str  # describes the target
    alt_prompt: str  # describes the main residual source (the other speaker / background)
    span: tuple[float, float]  # target's active interval, seconds
    sub_span: bool  # True when the target was placed in only part of the clip
    tier: str
    split: str
    index: int
    seed: int
    sample_rate: int
    target_info: SourceInfo
    residual_info: SourceInfo
    noise_snr_db: float | None = None  # Noisy tier: speech-mixture-to-noise ratio

    def span_frames(self, frame_rate: float = 25.0) -> tuple[int, int]:
        """The span as latent frame indices [start, end) (exact for sub-spans on the grid)."""
        return int(np.floor(self.span[0] * frame_rate + 1e-6)), int(np.ceil(self.span[1] * frame_rate - 1e-6))


@dataclass(frozen=True, eq=False)
class MixtureBatch:
    """Examples stacked for training: waveforms (B, n_samples) float32, spans (B, 2) seconds."""

    mixture: torch.Tensor
    target: torch.Tensor
    residual: torch.Tensor
    prompts: tuple[str, ...]
    alt_prompts: tuple[str, ...]
    spans: torch.Tensor
    sub_span: torch.Tensor  # (B,) bool
    tiers: tuple[str, ...]
    indices: tuple[int, ...] = field(default=())

    def span_mask(self, n_frames: int, frame_rate: float = 25.0) -> torch.Tensor:
        """(B, n_frames) bool: True on latent frames inside each example's span."""
        centres = (torch.arange(n_frames, dtype=torch.float64) + 0.5) / frame_rate
        spans = self.spans.to(torch.float64)
        return (centres[None, :] >= spans[:, :1]) & (centres[None, :] < spans[:, 1:])


def prompts_for(category: str) -> tuple[str, ...]:
    """All prompt texts for a source category ("male", "female" or an env class)."""
    if category in SPEECH_PROMPTS:
        return SPEECH_PROMPTS[category]
    if category in environmental.ENV_CLASSES:
        return environmental.ENV_CLASSES[category].labels
    allowed = list(SPEECH_PROMPTS) + list(environmental.ENV_CLASS_NAMES)
    raise ValueError(f"unknown source category {category!r}; allowed: {', '.join(allowed)}")


def all_prompts() -> tuple[str, ...]:
    """Every prompt text the tiers can emit (speech descriptions and env labels), e.g. to
    encode them once with a frozen text encoder and look the features up during training."""
    texts = [p for ps in SPEECH_PROMPTS.values() for p in ps]
    texts += [label for c in environmental.ENV_CLASSES.values() for label in c.labels]
    return tuple(dict.fromkeys(texts))



def make_examples(
    tier: str, split: str, n: int, seed: int = 0, config: TierConfig | None = None, spans: str = "any"
) -> list[MixtureExample]:
    """The first n examples of ``tier`` on ``split`` (in index order) on which every metric is
    defined (``latentflow.audio.validity``: the target is long enough for STOI), a pure
    function of the arguments; a longer draw extends a shorter one.

    ``spans="partial"`` takes only examples whose target is active in part of the clip:
    segmentation measures need audio inside and outside.
    """
    _check_count(n)
    speech.check_choice(spans, SPAN_SELECTIONS, "spans")
    fraction = (TierConfig() if config is None else config).span_fraction
    if spans == "partial" and fraction == 0.0:
        raise ValueError("spans='partial' needs span_fraction > 0 in the tier config; it is 0")
    chosen: list[MixtureExample] = []
    index = 0
    while len(chosen) < n:
        example = make_example(tier, split, index, seed, config)
        if (spans == "any" or example.sub_span) and stoi_defined(example.target.numpy(), example.sample_rate):
            chosen.append(example)
        index += 1
    return chosen


def make_example(tier: str, split: str, index: int, seed: int = 0, config: TierConfig | None = None) -> MixtureExample:
    """Example ``index`` of ``tier`` on ``split``; its random draws come only from (seed, index)."""
    config = TierConfig() if config is None else config
    speech.check_choice(tier, TIERS, "tier")
    speech.check_choice(split, SPLITS, "split")
    _check_seed(seed, "seed")
    _check_seed(index, "index")
    rng = np.random.default_rng([seed, _STREAM[tier], _SPLIT_CODE[split], index])
    builder = _MixtureBuilder(split, config, rng)
    if tier == "env":
        return builder.env(tier, index, seed)
    return builder.speech_pair(tier, index, seed)


class MixtureSampler:
    """An endless, reproducible stream of training batches drawn from the utterance pool.

    Example k of the stream is ``make_example(tier_k, split, k, seed)``, with ``tier_k`` drawn
    from ``weights`` by a generator seeded with (seed, k): the stream is resumable from any
    position (``start``) and independent of the batch size.
    """

    def __init__(
        self,
        split: str = "train",
        batch_size: int = 16,
        tiers: Sequence[str] = TIERS,
        weights: Sequence[float] | None = None,
        seed: int = 0,
        config: TierConfig | None = None,
        start: int = 0,
    ):
        speech.check_choice(split, SPLITS, "split")
        _check_count(batch_size)
        _check_seed(seed, "seed")
        _check_seed(start, "start")
        tiers = tuple(tiers)
        if not tiers:
            raise ValueError(f"tiers must name at least one of: {', '.join(TIERS)}")
        for tier in tiers:
            speech.check_choice(tier, TIERS, "tier")
        chances = np.ones(len(tiers)) if weights is None else np.asarray(weights, dtype=np.float64)
        if chances.shape != (len(tiers),) or (chances < 0).any() or chances.sum() <= 0:
            raise ValueError(f"weights must be {len(tiers)} non-negative numbers, not all zero; got {chances.tolist()}")
        self.split, self.batch_size, self.tiers, self.seed = split, batch_size, tiers, seed
        self.config = TierConfig() if config is None else config
        self.position = start
        self._cumulative = np.cumsum(chances / chances.sum())
        speech.load_pool(split)  # fail now, not at the first batch, if the pool is missing

    def tier_of(self, k: int) -> str:
        u = np.random.default_rng([self.seed, _SAMPLER_STREAM, _SPLIT_CODE[self.split], k]).random()
        return self.tiers[min(int(np.searchsorted(self._cumulative, u, side="right")), len(self.tiers) - 1)]

    def example(self, k: int) -> MixtureExample:
        return make_example(self.tier_of(k), self.split, k, self.seed, self.config)

    def __iter__(self) -> Iterator[MixtureBatch]:
        return self

    def __next__(self) -> MixtureBatch:
        ks = range(self.position, self.position + self.batch_size)
        self.position += self.batch_size
        return stack_examples([self.example(k) for k in ks])


def stack_examples(examples: Sequence[MixtureExample]) -> MixtureBatch:
    """Stack examples of equal length into a :class:`MixtureBatch`."""
    if not examples:
        raise ValueError("stack_examples needs at least one example")
    lengths = {len(e.mixture) for e in examples}
    if len(lengths) != 1:
        raise ValueError(f"examples differ in length ({sorted(lengths)} samples); use one TierConfig")
    return MixtureBatch(
        mixture=torch.stack([e.mixture for e in examples]),
        target=torch.stack([e.target for e in examples]),
        residual=torch.stack([e.residual for e in examples]),
        prompts=tuple(e.prompt for e in examples),
        alt_prompts=tuple(e.alt_prompt for e in examples),
        spans=torch.tensor([e.span for e in examples], dtype=torch.float32),
        sub_span=torch.tensor([e.sub_span for e in examples], dtype=torch.bool),
        tiers=tuple(e.tier for e in examples),
        indices=tuple(e.index for e in examples),
    )


# --- building one example --------------------------------------------------------------------


@dataclass
class _Track:
    """A source rendered into the clip, before gains."""

    wave: np.ndarray  # float64 (n_samples,)
    span: tuple[int, int]  # active samples [start, end)
    info: SourceInfo


class _MixtureBuilder:
    def __init__(self, split: str, config: TierConfig, rng: np.random.Generator):
        self.split, self.config, self.rng = split, config, rng
        self.n = config.n_samples

    # The order of random draws below is part of the tiers' definition: changing it changes
    # every example, so add new draws only at the end of a method.

    def speech_pair(self, tier: str, index: int, seed: int) -> MixtureExample:
        rng, cfg = self.rng, self.config
        target_gender = "female" if rng.random() < 0.5 else "male"
        other_gender = "male" if target_gender == "female" else "female"
        sub = bool(rng.random() < cfg.span_fraction)
        target = self._speech(target_gender, sub, exclude=())
        residual = self._speech(other_gender, False, exclude=target.info.sentence_ids)
        prompt = str(rng.choice(SPEECH_PROMPTS[target_gender]))
        alt_prompt = str(rng.choice(SPEECH_PROMPTS[other_gender]))
        sir = rng.uniform(*cfg.sir_db_range)
        t_wave, r_wave = self._levels(target, residual, sir)
        snr = None
        if tier == "noisy":
            noise = rng.standard_normal(self.n)
            speech_power = np.mean((t_wave + r_wave) ** 2)
            noise *= np.sqrt(speech_power / np.mean(noise**2) * 10.0 ** (-cfg.noisy_snr_db / 10.0))
            r_wave = r_wave + noise
            snr = cfg.noisy_snr_db
        return self._example(tier, index, seed, prompt, alt_prompt, target, residual, t_wave, r_wave, sir, snr)

    def env(self, tier: str, index: int, seed: int) -> MixtureExample:
        rng, cfg = self.rng, self.config
        names = environmental.ENV_CLASS_NAMES
        target_class = str(names[rng.integers(len(names))])
        sub = bool(rng.random() < cfg.span_fraction)
        target = self._environment(target_class, sub)
        if rng.random() < cfg.env_speech_background:
            gender = "female" if rng.random() < 0.5 else "male"
            residual = self._speech(gender, False, exclude=())
        else:
            others = [c for c in names if c != target_class]
            residual = self._environment(str(others[rng.integers(len(others))]), False)
        prompt = str(rng.choice(prompts_for(target_class)))
        alt_prompt = str(rng.choice(prompts_for(residual.info.category)))
        sir = rng.uniform(*cfg.sir_db_range)
        t_wave, r_wave = self._levels(target, residual, sir)
        return self._example(tier, index, seed, prompt, alt_prompt, target, residual, t_wave, r_wave, sir, None)

    # -- sources

    def _speech(self, gender: str, sub: bool, exclude: tuple[int, ...]) -> _Track:
        rng, cfg = self.rng, self.config
        pool = speech.load_pool(self.split)
        voice_ids = [v.id for v in speech.voices(self.split, gender)]
        voice = voice_ids[rng.integers(len(voice_ids))]
        # Utterances of this voice whose sentence the other source does not say.
        candidates = [i for i in pool.by_voice[voice] if pool.utterances[i].sentence_id not in exclude]
        if sub:
            utt = pool.utterances[candidates[rng.integers(len(candidates))]]
            max_len = self._grid_floor(int(cfg.speech_span_max * self.n))
            audio = utt.audio.astype(np.float64)
            if len(audio) > max_len:
                cut = int(rng.integers(len(audio) - max_len + 1))
                audio = self._fade(audio[cut : cut + max_len].copy())
            wave, span = self._place(audio)
            info = SourceInfo("speech", gender, voice, (utt.sentence_id,), (utt.id,))
            return _Track(wave, span, info)
        # Full clip: chain utterances of the voice with short pauses, then cut a window that
        # starts somewhere inside the first utterance, so clips do not all begin at an onset.
        pieces, used, length, previous = [], [], 0, None
        lead_in = None
        while lead_in is None or length < lead_in + self.n:
            choices = [i for i in candidates if i != previous] or candidates
            previous = choices[rng.integers(len(choices))]
            audio = pool.utterances[previous].audio
            if lead_in is None:
                lead_in = int(rng.integers(len(audio) // 2 + 1))
            pause = np.zeros(int(rng.uniform(*cfg.pause_range) * cfg.sample_rate))
            pieces += [audio, pause]
            used.append(previous)
            length += len(audio) + len(pause)
        wave = np.concatenate(pieces)[lead_in : lead_in + self.n].astype(np.float64)
        utts = [pool.utterances[i] for i in used]
        info = SourceInfo("speech", gender, voice, tuple(u.sentence_id for u in utts), tuple(u.id for u in utts))
        return _Track(wave, (0, self.n), info)

    def _environment(self, name: str, sub: bool) -> _Track:
        rng, cfg = self.rng, self.config
        info = SourceInfo("env", name)
        if not sub:
            wave = environmental.generate_env(name, self.n, cfg.sample_rate, rng)
            return _Track(wave, (0, self.n), info)
        low, high = (int(round(f * cfg.n_frames)) for f in cfg.env_span_range)
        frames = int(rng.integers(max(low, 1), max(high, 1) + 1))
        audio = environmental.generate_env(name, frames * cfg.hop, cfg.sample_rate, rng)
        wave, span = self._place(self._fade(audio))
        return _Track(wave, span, info)

    # -- placement and levels

    def _grid_floor(self, samples: int) -> int:
        return (samples // self.config.hop) * self.config.hop

    def _place(self, audio: np.ndarray) -> tuple[np.ndarray, tuple[int, int]]:
        """Put ``audio`` at a random frame-aligned start; the span covers whole frames."""
        hop, frames_total = self.config.hop, self.config.n_frames
        frames = -(-len(audio) // hop)
        start = int(self.rng.integers(frames_total - frames + 1)) * hop
        wave = np.zeros(self.n)
        wave[start : start + len(audio)] = audio
        return wave, (start, start + frames * hop)

    def _fade(self, audio: np.ndarray) -> np.ndarray:
        k = min(int(self.config.fade_s * self.config.sample_rate), len(audio) // 2)
        if k > 0:
            ramp = 0.5 - 0.5 * np.cos(np.pi * (np.arange(k) + 0.5) / k)
            audio[:k] *= ramp
            audio[len(audio) - k :] *= ramp[::-1]
        return audio

    def _levels(self, target: _Track, residual: _Track, sir_db: float) -> tuple[np.ndarray, np.ndarray]:
        """Normalise both sources' gated loudness, then split the level difference evenly."""
        cfg = self.config
        out = []
        for track, offset in ((target, sir_db / 2.0), (residual, -sir_db / 2.0)):
            start, end = track.span
            level = speech.gated_rms(track.wave[start:end], cfg.sample_rate)
            gain = 10.0 ** ((cfg.level_dbfs + offset) / 20.0) / level
            out.append(track.wave * gain)
        return out[0], out[1]

    def _example(
        self, tier, index, seed, prompt, alt_prompt, target, residual, t_wave, r_wave, sir, snr
    ) -> MixtureExample:
        cfg = self.config
        peak = max(np.abs(t_wave).max(), np.abs(r_wave).max(), np.abs(t_wave + r_wave).max())
        if peak > cfg.peak_limit:
            t_wave, r_wave = t_wave * (cfg.peak_limit / peak), r_wave * (cfg.peak_limit / peak)
        t32, r32 = t_wave.astype(np.float32), r_wave.astype(np.float32)
        mix32 = t32 + r32  # summed in float32 so that mixture == target + residual exactly
        span = (target.span[0] / cfg.sample_rate, target.span[1] / cfg.sample_rate)
        t_info = dataclasses.replace(target.info, gain_db=float(sir / 2.0))
        r_info = dataclasses.replace(residual.info, gain_db=float(-sir / 2.0))
        return MixtureExample(
            mixture=torch.from_numpy(mix32),
            target=torch.from_numpy(t32),
            residual=torch.from_numpy(r32),
            prompt=prompt,
            alt_prompt=alt_prompt,
            span=span,
            sub_span=target.span != (0, self.n),
            tier=tier,
            split=self.split,
            index=index,
            seed=seed,
            sample_rate=cfg.sample_rate,
            target_info=t_info,
            residual_info=r_info,
            noise_snr_db=snr,
        )


def _check_seed(value: int, name: str) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 0:
        raise ValueError(f"{name} must be a non-negative integer; got {value!r}")


def _check_count(value: int) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"count must be a positive integer; got {value!r}")
