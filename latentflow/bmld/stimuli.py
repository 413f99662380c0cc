"""Binaural masking-level-difference (BMLD) stimuli, generated deterministically from a seed.

A stimulus set is one detection experiment: on each rung of a ladder of target-to-noise ratios
(TNR), ``trials_per_class`` trials with the target and as many without it, every trial a
binaural waveform ``(2, S)`` (row 0 left ear, row 1 right ear) at ``sample_rate``:

* the masker is diotic Gaussian noise (the same samples in both ears, "N0"), flat in
  ``noise_band_hz`` and zero outside it, scaled to ``noise_rms``;
* the target is a tone (``tone_hz``, random starting phase) or a stretch of the tiers'
  espeak-ng speech (``fixtures/audio``, read through :func:`latentflow.audio.speech.load_pool`;
  espeak-ng itself is never needed) band-limited to ``noise_band_hz`` (outside the masker's
  band a target would be detected in silence), with raised-cosine ramps of ``ramp_s``, scaled so that
  ``20 log10(rms(target) / rms(noise)) = TNR`` in each ear;
* ``condition="N0S0"`` puts the target in phase in both ears, ``"N0Spi"`` inverts it in the
  right ear. The noise, the target and every random draw depend only on (seed, rung, trial),
  never on the condition, so the two conditions of one seed differ only in the interaural
  phase of the target (tests/bmld checks this numerically).

The paper ("Spectro-Temporal Interference Confounds Phase Encoding in Spatial Audio Foundation
Models") is known only by its abstract, so every protocol detail here is a documented default
of :class:`StimulusConfig` that a caller can override.

Physical ablations (:data:`ABLATIONS`) are transforms applied while a set is built, at one of
three stages: ``source`` (the mono target before the interaural configuration), ``target``
(the binaural target before mixing) or ``mixture`` (both ears after mixing, every trial, with
or without target, so the transform itself is never a cue).

Why not ``slab``: slab (MIT, 0.8 MB) draws its noise from numpy's global random state
(``numpy.random.randn``), so seeding it per set would mean mutating process-global state,
which is neither xdist- nor thread-safe; the few generators needed here are a handful of
numpy/scipy lines each.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from dataclasses import dataclass, field, replace

import numpy as np
from scipy import signal

from latentflow.registry import Registry
from latentflow.vocabulary import SPLITS

CONDITIONS = ("N0S0", "N0Spi")
TARGETS = ("tone", "speech")
STAGES = ("source", "target", "mixture")

# Stream ids inside one trial's SeedSequence: each random draw of a trial has its own stream,
# so adding a draw never shifts another.
_NOISE, _TARGET, _ABLATION = 0, 1, 2


def _check_choice(name: str, value, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        raise ValueError(f"{name} must be one of {', '.join(allowed)}; got {value!r}")


def _check_positive(name: str, value) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
        raise ValueError(f"StimulusConfig.{name} must be a positive number, got {value!r}")


@dataclass(frozen=True)
class StimulusConfig:
    """Every protocol detail of a BMLD stimulus set (defaults chosen here, see module doc)."""

    target: str = "tone"
    sample_rate: int = 16000
    duration_s: float = 0.5
    tone_hz: float = 500.0
    noise_band_hz: tuple[float, float] = (100.0, 4000.0)
    noise_rms: float = 0.05
    # The ladder spans chance to ceiling for the tone in both conditions for the EC model, and
    # reaches low enough for noise-free binaural front ends (GCC-PHAT) to fall to chance.
    tnr_db: tuple[float, ...] = tuple(float(v) for v in range(-62, -6, 5))  # -62 .. -7 dB
    trials_per_class: int = 20
    ramp_s: float = 0.02
    speech_split: str = "test"

    def __post_init__(self) -> None:
        _check_choice("target", self.target, TARGETS)
        _check_choice("speech_split", self.speech_split, SPLITS)  # the speech pools of latentflow.audio.speech
        _check_positive("sample_rate", self.sample_rate)
        _check_positive("duration_s", self.duration_s)
        _check_positive("noise_rms", self.noise_rms)
        if not isinstance(self.trials_per_class, int) or self.trials_per_class < 2:
            raise ValueError(f"StimulusConfig.trials_per_class must be an int >= 2, got {self.trials_per_class!r}")
        nyquist = self.sample_rate / 2
        low, high = self.noise_band_hz
        if not 0 <= low < high <= nyquist:
            raise ValueError(
                f"StimulusConfig.noise_band_hz must satisfy 0 <= low < high <= {nyquist:g} Hz "
                f"(Nyquist), got {self.noise_band_hz!r}"
            )
        if not 0 < self.tone_hz < nyquist:
            raise ValueError(f"StimulusConfig.tone_hz must lie in (0, {nyquist:g}) Hz, got {self.tone_hz!r}")
        if not self.tnr_db or any(not math.isfinite(v) for v in self.tnr_db):
            raise ValueError("StimulusConfig.tnr_db must be a non-empty ladder of finite dB values, got "
                             f"{self.tnr_db!r}")
        if list(self.tnr_db) != sorted(set(self.tnr_db)):
            raise ValueError(f"StimulusConfig.tnr_db must rise strictly, got {self.tnr_db!r}")
        if not 0 <= 2 * self.ramp_s <= self.duration_s:
            raise ValueError(
                f"StimulusConfig.ramp_s must be >= 0 and at most half of duration_s={self.duration_s:g}, "
                f"got {self.ramp_s!r}"
            )

    @property
    def n_samples(self) -> int:
        return int(round(self.duration_s * self.sample_rate))


@dataclass(frozen=True, eq=False)
class StimulusSet:
    """One condition's trials. Arrays are read-only.

    waves: (N, 2, S) float32 binaural trials; labels: (N,) 1 = target present;
    tnr_db: (N,) the rung of each trial (target-absent trials carry their rung too, so a
    detector is trained per rung on equal numbers of both classes).
    """

    config: StimulusConfig
    condition: str
    seed: int
    ablation: str | None
    waves: np.ndarray
    labels: np.ndarray
    tnr_db: np.ndarray

    @property
    def key(self) -> tuple:
        """What identifies the set's content (for feature caches)."""
        return (self.config, self.condition, self.seed, self.ablation)

    def __repr__(self) -> str:
        return (
            f"StimulusSet({self.config.target}, {self.condition}, seed={self.seed}, "
            f"ablation={self.ablation}, trials={len(self.labels)}, rungs={len(self.config.tnr_db)})"
        )


# --- physical ablations ----------------------------------------------------------------------

Transform = Callable[..., np.ndarray]  # fn(x, rng=..., config=..., **params) -> x


@dataclass(frozen=True)
class Ablation:
    name: str
    stage: str  # "source" (mono target), "target" (binaural target) or "mixture"
    removes: str  # the cue the transform takes away
    transform: Transform
    params: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        _check_choice(f"ablation {self.name!r} stage", self.stage, STAGES)


ABLATIONS: Registry[Ablation] = Registry("ablation")

# STFT used by the phase-editing ablations: 32 ms Hann windows, 75 % overlap; istft is
# scipy's least-squares overlap-add, so the edited magnitudes are kept up to STFT consistency.
_STFT_SEGMENT = 512
_STFT_HOP = 128


def _stft(x: np.ndarray, sample_rate: int) -> np.ndarray:
    return signal.stft(x, fs=sample_rate, nperseg=_STFT_SEGMENT, noverlap=_STFT_SEGMENT - _STFT_HOP)[2]


def _istft(spec: np.ndarray, sample_rate: int, n: int) -> np.ndarray:
    out = signal.istft(spec, fs=sample_rate, nperseg=_STFT_SEGMENT, noverlap=_STFT_SEGMENT - _STFT_HOP)[1]
    return out[..., :n]


def mixture_ipd_removed(x: np.ndarray, *, rng: np.random.Generator, config: StimulusConfig) -> np.ndarray:
    """Each ear keeps its magnitude spectrogram; the right ear takes the left ear's phase.

    The per-ear spectro-temporal interference textures (|N+S| vs |N-S|) stay, the
    interaural phase difference becomes zero in every time-frequency bin.
    """
    spec = _stft(x, config.sample_rate)
    phase = np.exp(1j * np.angle(spec[0]))
    edited = np.stack([spec[0], np.abs(spec[1]) * phase])
    return _istft(edited, config.sample_rate, x.shape[-1])


def target_ipd_scrambled(x: np.ndarray, *, rng: np.random.Generator, config: StimulusConfig) -> np.ndarray:
    """The target's interaural phase is replaced by a uniform random one in every bin.

    Each ear's target magnitude spectrogram stays, so N0S0 and N0Spi become the same
    distribution: any BMLD left afterwards did not come from the target's interaural phase.
    """
    spec = _stft(x, config.sample_rate)
    ipd = rng.uniform(-np.pi, np.pi, size=spec.shape[1:])
    edited = np.stack([spec[0], np.abs(spec[1]) * np.exp(1j * (np.angle(spec[0]) + ipd))])
    return _istft(edited, config.sample_rate, x.shape[-1])


def envelope_only(
    x: np.ndarray, *, rng: np.random.Generator, config: StimulusConfig, cutoff_hz: float = 50.0
) -> np.ndarray:
    """The mono target's broadband Hilbert envelope (low-passed) on a fresh noise carrier.

    The carrier is flat in the noise band, so the target keeps its level and broadband
    envelope but loses its fine structure (pitch, formants).
    """
    envelope = np.abs(signal.hilbert(x))
    sos = signal.butter(4, cutoff_hz, fs=config.sample_rate, output="sos")
    envelope = np.maximum(signal.sosfiltfilt(sos, envelope), 0.0)
    carrier = band_noise(rng, x.shape[-1], config.sample_rate, config.noise_band_hz)
    out = envelope * carrier
    return out * (_rms(x) / max(_rms(out), 1e-20))


def band_limited(
    x: np.ndarray, *, rng: np.random.Generator, config: StimulusConfig, low_hz: float = 0.0, high_hz: float = 1500.0
) -> np.ndarray:
    """Both ears band-passed to [low_hz, high_hz] (FFT brick wall, zero phase)."""
    if not 0 <= low_hz < high_hz:
        raise ValueError(f"band_limited: need 0 <= low_hz < high_hz, got ({low_hz}, {high_hz})")
    return _brickwall(x, config.sample_rate, low_hz, high_hz)


for _ablation in (
    Ablation("mixture_ipd_removed", "mixture", "interaural phase (per-ear magnitude spectrograms kept)",
             mixture_ipd_removed),
    Ablation("target_ipd_scrambled", "target", "the target's interaural phase (randomised per bin)",
             target_ipd_scrambled),
    Ablation("envelope_only", "source", "the target's fine structure (broadband envelope kept)", envelope_only,
             {"cutoff_hz": 50.0}),
    Ablation("lowpass_1500", "mixture", "everything above 1500 Hz", band_limited, {"low_hz": 0.0, "high_hz": 1500.0}),
    Ablation("highpass_1500", "mixture", "everything below 1500 Hz", band_limited,
             {"low_hz": 1500.0, "high_hz": 8000.0}),
):
    ABLATIONS.register(_ablation.name, _ablation)


# --- building a set --------------------------------------------------------------------------


def make_stimuli(
    config: StimulusConfig | None = None,
    condition: str = "N0S0",
    seed: int = 0,
    ablation: str | None = None,
    ablation_params: dict | None = None,
) -> StimulusSet:
    """The trials of one condition (see the module docstring for every rule)."""
    config = StimulusConfig() if config is None else config
    _check_choice("condition", condition, CONDITIONS)
    if not isinstance(seed, int) or isinstance(seed, bool) or seed < 0:
        raise ValueError(f"seed must be a non-negative int, got {seed!r}")
    step = None
    if ablation is not None:
        step = ABLATIONS.get(ablation)
        params = dict(step.params)
        unknown = set(ablation_params or {}) - set(params)
        if unknown:
            raise ValueError(
                f"ablation {ablation!r} has no parameter(s) {sorted(unknown)}; it takes {sorted(params) or 'none'}"
            )
        params.update(ablation_params or {})
    elif ablation_params:
        raise ValueError("ablation_params given without an ablation")
    sign = 1.0 if condition == "N0S0" else -1.0
    n = config.n_samples
    waves, labels, rungs = [], [], []
    for rung, tnr in enumerate(config.tnr_db):
        for trial in range(2 * config.trials_per_class):
            present = trial % 2 == 0  # interleaved, so any prefix of a rung is balanced
            streams = np.random.SeedSequence([seed, rung, trial]).spawn(3)
            noise = band_noise(np.random.default_rng(streams[_NOISE]), n, config.sample_rate, config.noise_band_hz)
            noise *= config.noise_rms / _rms(noise)
            ablation_rng = np.random.default_rng(streams[_ABLATION])
            target = np.zeros((2, n))
            if present:
                source = _target_source(config, np.random.default_rng(streams[_TARGET]))
                if step is not None and step.stage == "source":
                    source = step.transform(source, rng=ablation_rng, config=config, **params)
                source *= config.noise_rms * 10 ** (tnr / 20) / _rms(source)
                target = np.stack([source, sign * source])
                if step is not None and step.stage == "target":
                    target = step.transform(target, rng=ablation_rng, config=config, **params)
            mixture = noise[None, :] + target
            if step is not None and step.stage == "mixture":
                mixture = step.transform(mixture, rng=ablation_rng, config=config, **params)
            waves.append(mixture.astype(np.float32))
            labels.append(int(present))
            rungs.append(tnr)
    return StimulusSet(
        config=config, condition=condition, seed=seed, ablation=ablation,
        waves=_readonly(np.stack(waves)), labels=_readonly(np.array(labels, dtype=np.int64)),
        tnr_db=_readonly(np.array(rungs, dtype=np.float64)),
    )


def make_pair(config: StimulusConfig | None = None, seed: int = 0, ablation: str | None = None,
              ablation_params: dict | None = None) -> tuple[StimulusSet, StimulusSet]:
    """(N0S0, N0Spi) sets of one seed: the same noise and targets, only the target's IPD differs."""
    return tuple(make_stimuli(config, c, seed, ablation, ablation_params) for c in CONDITIONS)  # type: ignore[return-value]


def with_config(base: StimulusConfig | None = None, **overrides) -> StimulusConfig:
    """A copy of ``base`` (default config) with fields replaced; unknown names are an error."""
    base = StimulusConfig() if base is None else base
    known = set(StimulusConfig.__dataclass_fields__)
    unknown = set(overrides) - known
    if unknown:
        raise ValueError(f"StimulusConfig has no field(s) {sorted(unknown)}; fields: {sorted(known)}")
    return replace(base, **overrides)


# --- sources ---------------------------------------------------------------------------------


def band_noise(rng: np.random.Generator, n: int, sample_rate: int, band_hz: tuple[float, float]) -> np.ndarray:
    """Gaussian noise, flat inside ``band_hz`` and zero outside (FFT brick wall)."""
    return _brickwall(rng.standard_normal(n), sample_rate, *band_hz)


def _target_source(config: StimulusConfig, rng: np.random.Generator) -> np.ndarray:
    n = config.n_samples
    if config.target == "tone":
        t = np.arange(n) / config.sample_rate
        source = np.sin(2 * np.pi * config.tone_hz * t + rng.uniform(0, 2 * np.pi))
    else:
        # Band-limited to the masker's band: outside it the target would be heard in silence.
        source = _brickwall(_speech_excerpt(config, rng), config.sample_rate, *config.noise_band_hz)
    return source * _ramp(n, int(round(config.ramp_s * config.sample_rate)))


def _speech_excerpt(config: StimulusConfig, rng: np.random.Generator) -> np.ndarray:
    """``duration_s`` of one pooled utterance, from a random offset (the pool is 16 kHz)."""
    utterances = _speech_pool(config.speech_split, config.sample_rate)
    n = config.n_samples
    long_enough = [u for u in utterances if len(u) >= n]
    if not long_enough:
        raise ValueError(f"no {config.speech_split} utterance lasts {config.duration_s:g} s; shorten duration_s")
    audio = long_enough[int(rng.integers(len(long_enough)))]
    start = int(rng.integers(len(audio) - n + 1))
    return np.asarray(audio[start : start + n], dtype=np.float64)


@functools.lru_cache(maxsize=4)
def _speech_pool(split: str, sample_rate: int) -> tuple[np.ndarray, ...]:
    from latentflow.audio.speech import load_pool

    pool = load_pool(split)
    if pool.sample_rate != sample_rate:
        raise ValueError(
            f"speech targets need sample_rate={pool.sample_rate} (the pool's rate); got {sample_rate}"
        )
    return tuple(u.audio for u in pool.utterances)


# --- helpers ---------------------------------------------------------------------------------


def _brickwall(x: np.ndarray, sample_rate: int, low: float, high: float) -> np.ndarray:
    spectrum = np.fft.rfft(x, axis=-1)
    freqs = np.fft.rfftfreq(x.shape[-1], 1 / sample_rate)
    spectrum[..., (freqs < low) | (freqs > high)] = 0
    return np.fft.irfft(spectrum, n=x.shape[-1], axis=-1)


def _ramp(n: int, ramp: int) -> np.ndarray:
    window = np.ones(n)
    if ramp > 0:
        rise = 0.5 - 0.5 * np.cos(np.pi * (np.arange(ramp) + 0.5) / ramp)
        window[:ramp] = rise
        window[n - ramp :] = rise[::-1]
    return window


def _rms(x: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(x))))


def _readonly(a: np.ndarray) -> np.ndarray:
    a.flags.writeable = False
    return a


__all__ = [
    "ABLATIONS",
    "CONDITIONS",
    "Ablation",
    "StimulusConfig",
    "StimulusSet",
    "band_noise",
    "make_pair",
    "make_stimuli",
    "with_config",
]
