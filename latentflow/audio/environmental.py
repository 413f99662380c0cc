"""Procedural environmental sounds for the Env tier, each class with natural labels.

Every sound is synthesised from an explicit ``numpy.random.Generator`` (so the same seed gives
the same samples) and is never stored. The classes differ in ways a separator (and a simple
classifier) can hear: siren (a loud tone sweeping between two pitches), engine (a low
harmonic hum with rumble), rain (broadband hiss with droplet clicks), birds (fast high
chirps in phrases), alarm (steady-pitch beeps on a fixed rhythm), knocking (low damped thuds
in groups), dog (short harmonic barks with formants), clock (short high ticks at a steady
period). Each generator places its first event within the first 0.15 s, so even a short
sub-span clip contains the sound.

Generators return float64 at an arbitrary level; the tiers normalise loudness.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

Generator = Callable[[int, int, np.random.Generator], np.ndarray]


@dataclass(frozen=True)
class EnvClass:
    name: str
    labels: tuple[str, ...]  # natural-language prompts; the tiers pick one per example
    generate: Generator  # (n_samples, sample_rate, rng) -> float64 (n_samples,)


def _time(n: int, sr: int) -> np.ndarray:
    return np.arange(n) / sr


def _harmonic_limit(f: float, sr: int) -> int:
    """Number of harmonics of ``f`` that stay below 90% of Nyquist (no aliasing)."""
    return max(1, int(0.45 * sr / f))


def _event_times(n: int, sr: int, rng: np.random.Generator, group: tuple[int, int],
                 inner_gap: tuple[float, float], outer_gap: tuple[float, float]) -> list[float]:
    """Onsets (s) of events that come in groups: first onset within 0.15 s, then fill the clip."""
    duration, times, t = n / sr, [], rng.uniform(0.0, 0.15)
    while t < duration:
        for _ in range(int(rng.integers(group[0], group[1] + 1))):
            if t >= duration:
                break
            times.append(t)
            t += rng.uniform(*inner_gap)
        t += rng.uniform(*outer_gap)
    return times


def _impulses(n: int, sr: int, times: list[float], amplitudes: np.ndarray) -> np.ndarray:
    train = np.zeros(n)
    idx = np.minimum((np.asarray(times) * sr).astype(int), n - 1)
    np.add.at(train, idx, amplitudes[: len(idx)])
    return train


def _render(train: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    """Convolve a sparse impulse train with ``kernel`` (overlap-add: events are few)."""
    out = np.zeros(len(train) + len(kernel))
    for i in np.flatnonzero(train):
        out[i : i + len(kernel)] += train[i] * kernel
    return out[: len(train)]


def _bandlimit(x: np.ndarray, sr: int, low: float, high: float) -> np.ndarray:
    """Zero-phase band-pass by FFT mask with 1-octave cosine skirts (keeps spectra smooth)."""
    spec = np.fft.rfft(x)
    f = np.fft.rfftfreq(len(x), 1.0 / sr)
    octaves_below = np.log2(np.maximum(f, 1e-3) / low)
    octaves_above = np.log2(np.maximum(f, 1e-3) / high)
    gain = np.clip(octaves_below + 1.0, 0.0, 1.0) * np.clip(1.0 - octaves_above, 0.0, 1.0)
    gain = 0.5 - 0.5 * np.cos(np.pi * gain)
    return np.fft.irfft(spec * gain, n=len(x))


def siren(n: int, sr: int, rng: np.random.Generator) -> np.ndarray:
    t = _time(n, sr)
    low = rng.uniform(550.0, 850.0)
    high = low * rng.uniform(1.5, 2.0)
    mode = rng.integers(3)
    phase0 = rng.uniform(0.0, 1.0)
    if mode == 0:  # wail: slow smooth sweep up and down
        cycle = t / rng.uniform(2.0, 4.0) + phase0
        sweep = 0.5 - 0.5 * np.cos(2 * np.pi * cycle)
    elif mode == 1:  # yelp: fast rising sweeps
        sweep = ((t / rng.uniform(0.18, 0.35) + phase0) % 1.0) ** 0.7
    else:  # hi-lo: two tones alternating, with a short glide
        sweep = 0.5 + 0.5 * np.tanh(12.0 * np.sin(2 * np.pi * (t / rng.uniform(0.9, 1.4) + phase0)))
    freq = low + (high - low) * sweep
    phase = 2 * np.pi * np.cumsum(freq) / sr
    wave = np.sin(phase)
    for k, amp in ((2, rng.uniform(0.2, 0.5)), (3, rng.uniform(0.1, 0.3))):
        if k * high < 0.45 * sr:
            wave += amp * np.sin(k * phase)
    # A slow swell, as when the vehicle approaches and recedes.
    return wave * (1.0 + 0.2 * np.sin(2 * np.pi * rng.uniform(0.1, 0.3) * t + rng.uniform(0, 2 * np.pi)))


def engine(n: int, sr: int, rng: np.random.Generator) -> np.ndarray:
    t = _time(n, sr)
    f0 = rng.uniform(28.0, 60.0)
    wobble = 1.0 + 0.03 * np.sin(2 * np.pi * rng.uniform(0.2, 0.8) * t + rng.uniform(0, 2 * np.pi))
    phase = 2 * np.pi * np.cumsum(f0 * wobble) / sr
    tilt = rng.uniform(0.7, 1.2)
    # One period of the harmonic waveform in a table, read at the running phase: as exact
    # as summing the harmonics sample by sample, at a fraction of the cost.
    table_phase = np.linspace(0.0, 2 * np.pi, 4096, endpoint=False)
    table = np.zeros(4096)
    for k in range(1, min(_harmonic_limit(f0 * 1.03, sr), int(1500.0 / f0)) + 1):
        table += k**-tilt * rng.uniform(0.5, 1.5) * np.sin(k * table_phase + rng.uniform(0, 2 * np.pi))
    position = (phase % (2 * np.pi)) / (2 * np.pi) * 4096
    wave = np.interp(position, np.arange(4097), np.append(table, table[0]))
    # Uneven cylinders: amplitude modulation at half the firing rate.
    wave *= 1.0 + rng.uniform(0.1, 0.3) * np.sin(0.5 * phase)
    rumble = _bandlimit(rng.standard_normal(n), sr, 30.0, 300.0)
    rumble *= rng.uniform(0.2, 0.4) * wave.std() / max(rumble.std(), 1e-12)
    return wave + rumble


def rain(n: int, sr: int, rng: np.random.Generator) -> np.ndarray:
    hiss = _bandlimit(rng.standard_normal(n), sr, rng.uniform(500.0, 1200.0), 7000.0)
    rate = rng.uniform(150.0, 400.0)  # droplets per second
    count = rng.poisson(rate * n / sr)
    times = np.sort(rng.uniform(0.0, n / sr, count))
    drops = _impulses(n, sr, list(times), rng.lognormal(0.0, 0.6, count))
    k = np.arange(int(0.01 * sr)) / sr
    tau = rng.uniform(0.001, 0.003)
    kernel = np.sin(2 * np.pi * rng.uniform(2500.0, 5000.0) * k) * np.exp(-k / tau)
    drops = _render(drops, kernel)
    drops *= rng.uniform(0.6, 1.2) * hiss.std() / max(drops.std(), 1e-12)
    # Intensity drifts slowly, as gusts come and go.
    drift = 1.0 + 0.25 * np.sin(2 * np.pi * rng.uniform(0.1, 0.4) * _time(n, sr) + rng.uniform(0, 2 * np.pi))
    return (hiss + drops) * drift


def birds(n: int, sr: int, rng: np.random.Generator) -> np.ndarray:
    wave = np.zeros(n)
    base = rng.uniform(2500.0, 5000.0)  # one bird per clip: its own register and contour
    ratio_range = (0.6, 0.9) if rng.random() < 0.5 else (1.1, 1.5)
    for onset in _event_times(n, sr, rng, (3, 8), (0.06, 0.14), (0.2, 0.7)):
        length = int(rng.uniform(0.04, 0.12) * sr)
        start = int(onset * sr)
        length = min(length, n - start)
        if length < 8:
            continue
        tau = np.arange(length) / sr
        f_start = base * rng.uniform(0.85, 1.15)
        f_end = f_start * rng.uniform(*ratio_range)
        freq = f_start + (f_end - f_start) * tau / tau[-1]
        freq = freq + rng.uniform(0.0, 300.0) * np.sin(2 * np.pi * rng.uniform(20.0, 60.0) * tau)
        phase = 2 * np.pi * np.cumsum(freq) / sr
        envelope = np.sin(np.pi * np.arange(length) / length) ** 2
        chirp = np.sin(phase) + (0.15 * np.sin(2 * phase) if 2 * freq.max() < 0.45 * sr else 0.0)
        wave[start : start + length] += envelope * chirp
    return wave


def alarm(n: int, sr: int, rng: np.random.Generator) -> np.ndarray:
    freq = rng.uniform(900.0, 3200.0)
    on, off = rng.uniform(0.08, 0.25), rng.uniform(0.05, 0.25)
    group = int(rng.integers(1, 5))
    # A fixed rhythm: ``group`` beeps, then a longer pause, repeated exactly.
    times = _event_times(n, sr, rng, (group, group), (on + off, on + off), (rng.uniform(0.2, 0.6),) * 2)
    length = int(on * sr)
    tau = np.arange(length) / sr
    beep = np.zeros(length)
    for k in range(1, min(_harmonic_limit(freq, sr), 5) + 1, 2):  # odd harmonics: square-ish
        beep += np.sin(2 * np.pi * k * freq * tau) / k
    ramp = min(int(0.003 * sr), length // 2)
    envelope = np.ones(length)
    envelope[:ramp] = np.linspace(0.0, 1.0, ramp)
    envelope[length - ramp :] = np.linspace(1.0, 0.0, ramp)
    return _render(_impulses(n, sr, times, np.ones(len(times))), beep * envelope)


def knocking(n: int, sr: int, rng: np.random.Generator) -> np.ndarray:
    times = _event_times(n, sr, rng, (2, 4), (0.12, 0.3), (0.6, 1.4))
    k = np.arange(int(0.15 * sr)) / sr
    kernel = np.zeros(len(k))
    for freq in np.sort(rng.uniform(120.0, 700.0, 3)):  # the door's resonant modes
        kernel += rng.uniform(0.5, 1.0) * np.sin(2 * np.pi * freq * k) * np.exp(-k / rng.uniform(0.01, 0.04))
    click = _bandlimit(rng.standard_normal(len(k)), sr, 200.0, 2000.0) * np.exp(-k / 0.003)
    kernel += 0.3 * click / max(np.abs(click).max(), 1e-12)
    return _render(_impulses(n, sr, times, rng.uniform(0.8, 1.2, len(times))), kernel)


def dog(n: int, sr: int, rng: np.random.Generator) -> np.ndarray:
    wave = np.zeros(n)
    pitch = rng.uniform(350.0, 650.0)
    formants = (rng.uniform(600.0, 900.0), rng.uniform(1400.0, 2000.0))
    for onset in _event_times(n, sr, rng, (1, 3), (0.25, 0.45), (0.6, 1.5)):
        start = int(onset * sr)
        length = min(int(rng.uniform(0.12, 0.28) * sr), n - start)
        if length < 8:
            continue
        tau = np.arange(length) / sr
        shape = tau / tau[-1]
        f0 = pitch * rng.uniform(0.9, 1.1) * (1.0 + 0.3 * np.sin(np.pi * shape)) * (1.0 - 0.3 * shape)
        phase = 2 * np.pi * np.cumsum(f0) / sr
        bark = np.zeros(length)
        for k in range(1, _harmonic_limit(f0.max(), sr) + 1):
            centre = k * f0.mean()
            amp = 0.05 + sum(np.exp(-0.5 * ((centre - fm) / 300.0) ** 2) for fm in formants)
            bark += amp * np.sin(k * phase)
        # Slow random amplitude jitter makes the bark rough rather than a clean tone.
        jitter = _bandlimit(rng.standard_normal(length), sr, 30.0, 200.0)
        roughness = 1.0 + 0.4 * jitter / max(jitter.std(), 1e-12)
        envelope = np.minimum(1.0, tau / 0.01) * np.exp(-tau / rng.uniform(0.06, 0.12))
        wave[start : start + length] += bark * np.clip(roughness, 0.0, None) * envelope
    return wave


def clock(n: int, sr: int, rng: np.random.Generator) -> np.ndarray:
    period = float(rng.choice([0.5, 1.0])) * rng.uniform(0.98, 1.02)
    first = rng.uniform(0.0, 0.15)
    times = np.arange(first, n / sr, period)
    k = np.arange(int(0.03 * sr)) / sr
    tick_freq = rng.uniform(2500.0, 4500.0)
    decay = rng.uniform(0.002, 0.005)
    tick = np.sin(2 * np.pi * tick_freq * k) * np.exp(-k / decay)
    tock = np.sin(2 * np.pi * tick_freq * rng.uniform(0.75, 0.9) * k) * np.exp(-k / decay)
    # Tick and tock alternate, each rendered from its own impulse train.
    return (_render(_impulses(n, sr, list(times[0::2]), np.ones(len(times))), tick)
            + _render(_impulses(n, sr, list(times[1::2]), np.ones(len(times))), tock))


ENV_CLASSES: dict[str, EnvClass] = {
    c.name: c
    for c in (
        EnvClass("siren", ("a siren wailing", "an ambulance siren", "a police siren", "an emergency siren"), siren),
        EnvClass("engine", ("an engine humming", "a car engine idling", "the hum of a motor", "engine noise"), engine),
        EnvClass("rain", ("rain falling", "the sound of rain", "rain on a roof", "a rain shower"), rain),
        EnvClass("birds", ("birds chirping", "a bird singing", "birdsong", "chirping birds"), birds),
        EnvClass("alarm", ("an alarm beeping", "a beeping alarm", "an alarm clock beeping", "electronic beeps"), alarm),
        EnvClass("knocking", ("knocking on a door", "someone knocking", "a knock at the door", "wooden knocks"),
                 knocking),
        EnvClass("dog", ("a dog barking", "a barking dog", "dog barks", "a dog bark"), dog),
        EnvClass("clock", ("a clock ticking", "a ticking clock", "the tick of a clock", "clock ticks"), clock),
    )
}
ENV_CLASS_NAMES: tuple[str, ...] = tuple(ENV_CLASSES)


def generate_env(name: str, n_samples: int, sample_rate: int, rng: np.random.Generator) -> np.ndarray:
    """One clip of class ``name`` (float64, ``n_samples`` long, arbitrary level)."""
    if name not in ENV_CLASSES:
        raise ValueError(f"unknown environmental class {name!r}; allowed: {', '.join(ENV_CLASS_NAMES)}")
    if n_samples <= 0:
        raise ValueError(f"n_samples must be positive; got {n_samples}")
    wave = ENV_CLASSES[name].generate(n_samples, sample_rate, rng)
    if wave.shape != (n_samples,) or not np.isfinite(wave).all() or not np.any(wave):
        raise RuntimeError(f"generator for {name!r} returned an invalid clip (shape {wave.shape})")
    return wave
