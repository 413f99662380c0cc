"""Tests of the latent codec on synthetic signals (no fixture audio needed)."""

from __future__ import annotations

import math
from dataclasses import replace

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from latentflow.audio.codec import (
    DEFAULT_CODEC_CONFIG,
    LATENT_HOP,
    LATENT_RATE,
    SAMPLE_RATE,
    CodecConfig,
    LatentCodec,
    fit_channel_normalisation,
    mixture_features,
    num_latent_frames,
    split_target_residual,
)

SR = SAMPLE_RATE


def harmonic_tone(f0: float, seconds: float, vibrato_hz: float, harmonics: int = 10) -> torch.Tensor:
    """Voice-like source: harmonics of a pitch with 3% vibrato, at -26 dBFS RMS."""
    t = torch.arange(int(seconds * SR), dtype=torch.float64) / SR
    freq = f0 * (1 + 0.03 * torch.sin(2 * math.pi * vibrato_hz * t))
    phase = 2 * math.pi * torch.cumsum(freq, 0) / SR
    x = sum(torch.sin(k * phase) / k for k in range(1, harmonics + 1))
    return (x / x.pow(2).mean().sqrt() * 0.05).to(torch.float32)


def noise_burst(seconds: float, start: float, stop: float, seed: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    x = torch.zeros(int(seconds * SR))
    a, b = int(start * SR), int(stop * SR)
    x[a:b] = torch.randn(b - a, generator=g) * 0.05
    return x


def si_snr(estimate: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    estimate = estimate - estimate.mean(-1, keepdim=True)
    target = target - target.mean(-1, keepdim=True)
    scale = (estimate * target).sum(-1, keepdim=True) / target.pow(2).sum(-1, keepdim=True)
    projection = scale * target
    return 10 * torch.log10(projection.pow(2).sum(-1) / (estimate - projection).pow(2).sum(-1))


@pytest.fixture(scope="module")
def codec() -> LatentCodec:
    return LatentCodec()


# ---------------------------------------------------------------- frame rule and shapes


def test_world_constants():
    assert (SR, LATENT_HOP, LATENT_RATE) == (16000, 640, 25)
    assert DEFAULT_CODEC_CONFIG.channels == 64
    assert len(DEFAULT_CODEC_CONFIG.channel_mean) == len(DEFAULT_CODEC_CONFIG.channel_std) == 64


@pytest.mark.parametrize(
    "samples, frames", [(640, 1), (641, 2), (1279, 2), (1280, 2), (16000, 25), (64005, 101)]
)
def test_frame_count_is_ceil_of_samples_over_hop(codec, samples, frames):
    assert num_latent_frames(samples) == frames
    z = codec.encode(torch.zeros(2, samples))
    assert z.shape == (2, frames, 64)
    assert z.dtype == torch.float32


def test_one_dimensional_input_is_a_batch_of_one(codec):
    x = harmonic_tone(200.0, 0.5, 5.0)
    assert torch.equal(codec.encode(x), codec.encode(x[None]))


def test_batched_encode_matches_one_at_a_time(codec):
    batch = torch.stack([harmonic_tone(f, 1.0, 5.0) for f in (110.0, 220.0, 330.0)])
    together = codec.encode(batch)
    alone = torch.cat([codec.encode(x[None]) for x in batch])
    torch.testing.assert_close(together, alone, rtol=0, atol=1e-5)


def test_encode_is_deterministic(codec):
    x = noise_burst(1.0, 0.1, 0.9, seed=3)
    assert torch.equal(codec.encode(x), LatentCodec().encode(x))


def test_silence_sits_at_the_normalised_floor(codec):
    z = codec.encode(torch.zeros(1, 3200))
    mean = torch.tensor(DEFAULT_CODEC_CONFIG.channel_mean)
    std = torch.tensor(DEFAULT_CODEC_CONFIG.channel_std)
    expected = (math.log(DEFAULT_CODEC_CONFIG.power_floor) - mean) / std
    torch.testing.assert_close(z[0], expected.expand(5, 64), rtol=0, atol=1e-5)


def test_latent_frame_j_covers_samples_640j_to_640j_plus_640(codec):
    # A click train confined to one latent frame's interval peaks in that frame.
    for frame in (0, 3, 7):
        x = torch.zeros(1, 10 * LATENT_HOP)
        x[0, frame * LATENT_HOP + 100 : (frame + 1) * LATENT_HOP - 100 : 40] = 1.0
        energy = codec.mel_power(codec.encode(x)).sum(-1)[0]
        assert int(energy.argmax()) == frame


def test_tone_lights_the_band_around_its_frequency(codec):
    fb = codec.mel_scale.fb  # (freqs, mels)
    centre_bins = fb.argmax(0)
    for freq in (300.0, 1000.0, 3000.0):
        t = torch.arange(SR) / SR
        z = codec.encode(torch.sin(2 * math.pi * freq * t)[None])
        band = int(codec.mel_power(z)[0, 5:-5].mean(0).argmax())
        centre_hz = float(centre_bins[band]) * SR / DEFAULT_CODEC_CONFIG.n_fft
        assert abs(centre_hz - freq) / freq < 0.1, (freq, band, centre_hz)


def test_doubling_amplitude_adds_log4_to_raw_log_power(codec):
    x = harmonic_tone(150.0, 1.0, 4.0)
    std = torch.tensor(DEFAULT_CODEC_CONFIG.channel_std)
    z1, z2 = codec.encode(x), codec.encode(2 * x)
    loud = codec.mel_power(z1) > 1000 * DEFAULT_CODEC_CONFIG.power_floor
    shift = ((z2 - z1) * std)[loud]
    assert loud.sum() > 100
    torch.testing.assert_close(shift, torch.full_like(shift, math.log(4)), rtol=0, atol=5e-3)


# ---------------------------------------------------------------- decoding


def two_voices(seconds: float = 2.0):
    low = harmonic_tone(110.0, seconds, 4.5)
    high = harmonic_tone(290.0, seconds, 6.0)
    return low + high, low, high


def test_decoding_the_whole_mixture_returns_the_mixture(codec):
    mix, _, _ = two_voices()
    mix = mix + noise_burst(2.0, 0.5, 1.2, seed=1)
    out = codec.decode(codec.encode(mix), mix[None])
    assert out.shape == (1, mix.shape[0]) and out.dtype == torch.float32
    assert float(si_snr(out, mix[None])) > 30.0


def test_oracle_separates_two_harmonic_voices(codec):
    mix, low, high = two_voices()
    for target, other in ((low, high), (high, low)):
        est = codec.oracle(mix[None], target[None], other[None])
        assert float(si_snr(mix[None], target[None])) < 0.5
        assert float(si_snr(est, target[None])) > 12.0


def test_oracle_separates_voice_from_noise_burst(codec):
    voice = harmonic_tone(180.0, 2.0, 5.0)
    burst = noise_burst(2.0, 0.2, 1.8, seed=7)
    mix = (voice + burst)[None]
    with_residual = codec.oracle(mix, voice[None], burst[None])
    without_residual = codec.oracle(mix, voice[None])
    assert float(si_snr(mix, voice[None])) < 2.0
    assert float(si_snr(with_residual, voice[None])) > 10.0
    assert float(si_snr(without_residual, voice[None])) > 10.0


def test_target_and_residual_estimates_sum_to_the_mixture(codec):
    mix, low, high = two_voices(1.3)
    zl, zh = codec.encode(low), codec.encode(high)
    target = codec.decode(zl, mix[None], zh)
    residual = codec.decode(zh, mix[None], zl)
    torch.testing.assert_close(target + residual, mix[None], rtol=0, atol=1e-5)


_SHARED_CODEC = LatentCodec()


@settings(max_examples=30)
@given(
    samples=st.integers(min_value=640, max_value=4000),
    seed=st.integers(min_value=0, max_value=2**31 - 1),
)
def test_masks_partition_the_mixture_for_any_latents(samples, seed):
    codec = _SHARED_CODEC
    g = torch.Generator().manual_seed(seed)
    mix = torch.randn(2, samples, generator=g) * 0.1
    frames = num_latent_frames(samples)
    zt = torch.randn(2, frames, 64, generator=g)
    zr = torch.randn(2, frames, 64, generator=g)
    out = codec.decode(zt, mix, zr) + codec.decode(zr, mix, zt)
    assert out.shape == mix.shape
    torch.testing.assert_close(out, mix, rtol=0, atol=1e-5)


def test_decode_is_deterministic_and_batched(codec):
    mix, low, high = two_voices(1.0)
    batch_mix = torch.stack([mix, mix.flip(0)])
    zt = codec.encode(torch.stack([low, low.flip(0)]))
    zr = codec.encode(torch.stack([high, high.flip(0)]))
    out = codec.decode(zt, batch_mix, zr)
    assert torch.equal(out, codec.decode(zt, batch_mix, zr))
    torch.testing.assert_close(out[1:], codec.decode(zt[1:], batch_mix[1:], zr[1:]), rtol=0, atol=1e-5)


def test_griffin_lim_fallback_reproduces_the_envelope(codec):
    voice = harmonic_tone(150.0, 1.0, 5.0) + noise_burst(1.0, 0.3, 0.6, seed=2)
    z = codec.encode(voice)
    wave = codec.decode_magnitude(z)
    assert wave.shape == (1, z.shape[1] * LATENT_HOP)
    assert torch.equal(wave, codec.decode_magnitude(z))  # zero-phase start: no randomness
    again = codec.encode(wave)
    correlation = torch.corrcoef(torch.stack([z.flatten(), again.flatten()]))[0, 1]
    unrelated = codec.encode(harmonic_tone(600.0, 1.0, 2.0))
    baseline = torch.corrcoef(torch.stack([z.flatten(), unrelated.flatten()]))[0, 1]
    assert correlation > 0.85
    assert correlation > baseline + 0.2


# ---------------------------------------------------------------- model-side helpers


def test_mixture_features_and_split():
    z = torch.randn(2, 5, 64, generator=torch.Generator().manual_seed(0))
    features = mixture_features(z)
    assert features.shape == (2, 5, 128)
    target, residual = split_target_residual(features)
    assert torch.equal(target, z) and torch.equal(residual, z)
    with pytest.raises(ValueError, match=r"\(B, T, C\)"):
        mixture_features(z[0])
    with pytest.raises(ValueError, match="even last dim"):
        split_target_residual(torch.zeros(2, 5, 3))


# ---------------------------------------------------------------- normalisation


def test_fitted_normalisation_standardises_its_own_data():
    clips = [harmonic_tone(f, 1.0, v) for f, v in ((100.0, 4.0), (210.0, 5.0), (330.0, 6.0))]
    clips += [noise_burst(1.0, 0.2, 0.8, seed=s) for s in range(3)]
    mean, std = fit_channel_normalisation(clips)
    assert len(mean) == len(std) == 64
    codec = LatentCodec(replace(DEFAULT_CODEC_CONFIG, channel_mean=mean, channel_std=std))
    z = torch.cat([codec.encode(c)[0] for c in clips])
    torch.testing.assert_close(z.mean(0), torch.zeros(64), rtol=0, atol=1e-3)
    torch.testing.assert_close(z.std(0), torch.ones(64), rtol=0, atol=1e-3)


def test_normalisation_does_not_change_decoded_audio():
    mix, low, high = two_voices(1.0)
    plain = LatentCodec(replace(DEFAULT_CODEC_CONFIG, channel_mean=(), channel_std=()))
    default = LatentCodec()
    a = plain.oracle(mix[None], low[None], high[None])
    b = default.oracle(mix[None], low[None], high[None])
    torch.testing.assert_close(a, b, rtol=0, atol=1e-5)


# ---------------------------------------------------------------- errors


def test_wrong_sample_rate_is_refused(codec):
    with pytest.raises(ValueError, match=r"44100 Hz is not the codec's 16000 Hz.*resample"):
        codec.encode(torch.zeros(1, 16000), sample_rate=44100)
    with pytest.raises(ValueError, match="mixture_waveform: sample rate 8000"):
        codec.decode(torch.zeros(1, 2, 64), torch.zeros(1, 1280), sample_rate=8000)


@pytest.mark.parametrize(
    "waveform, error, message",
    [
        (torch.zeros(1, 1, 1600), ValueError, r"expected shape \(B, S\) or \(S,\).*\(1, 1, 1600\)"),
        (torch.zeros(1, 639), ValueError, r"639 samples is too short.*at least 640 samples \(40 ms"),
        (torch.zeros(1, 0), ValueError, "too short"),
        (torch.zeros(0, 1600), ValueError, "empty batch"),
        (torch.zeros(1, 1600, dtype=torch.int16), TypeError, "floating-point.*int16"),
        (torch.tensor([[0.0] * 700 + [float("nan")]]), ValueError, "NaN or infinite"),
    ],
)
def test_bad_waveforms_are_refused(codec, waveform, error, message):
    with pytest.raises(error, match=message):
        codec.encode(waveform)


def test_bad_latents_are_refused(codec):
    mix = torch.zeros(2, 1300)  # 3 frames
    good = torch.zeros(2, 3, 64)
    with pytest.raises(ValueError, match=r"target_latent: expected shape \(B, T, C=64\), got \(2, 3, 32\)"):
        codec.decode(torch.zeros(2, 3, 32), mix)
    with pytest.raises(ValueError, match=r"target_latent: 4 frames, but the mixture needs ceil\(samples / 640\) = 3"):
        codec.decode(torch.zeros(2, 4, 64), mix)
    with pytest.raises(ValueError, match="residual_latent: batch size 1 != mixture batch size 2"):
        codec.decode(good, mix, torch.zeros(1, 3, 64))
    with pytest.raises(ValueError, match="target_latent: contains NaN"):
        codec.decode(torch.full((2, 3, 64), float("inf")), mix)
    with pytest.raises(ValueError, match="zero frames"):
        codec.decode_magnitude(torch.zeros(1, 0, 64))


@pytest.mark.parametrize(
    "changes, message",
    [
        ({"stft_hop": 300}, r"stft_hop=300 is invalid: must be an even divisor of latent_hop=640"),
        ({"n_fft": 128}, r"n_fft=128 is invalid: must be >= stft_hop=320"),
        ({"f_max": 9000.0}, r"f_min/f_max=\(0.0, 9000.0\).*<= 8000"),
        ({"mel_scale": "bark"}, r"mel_scale='bark' is invalid: 'htk' or 'slaney'"),
        ({"channel_mean": (0.0,) * 3, "channel_std": (1.0,) * 3}, r"channel_mean.*n_mels=64"),
        ({"power_floor": 0.0}, "power_floor=0.0 is invalid"),
    ],
)
def test_bad_configs_are_refused(changes, message):
    with pytest.raises(ValueError, match=message):
        replace(DEFAULT_CODEC_CONFIG, **changes)


def test_other_configs_work_end_to_end():
    config = CodecConfig(n_fft=1280, stft_hop=640, n_mels=32, mel_scale="slaney")
    codec = LatentCodec(config)
    mix, low, high = two_voices(1.0)
    z = codec.encode(mix)
    assert z.shape == (1, 25, 32)
    assert float(si_snr(codec.oracle(mix[None], low[None], high[None]), low[None])) > 8.0
