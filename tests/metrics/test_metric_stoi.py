from __future__ import annotations

import numpy as np
import pytest
import scipy.signal
import torch

from latentflow.metrics import stoi, stoi_result

# --- An independent STOI, written from Taal, Hendriks, Heusdens & Jensen (IEEE TASLP 2011)
# and its reference MATLAB description: 10 kHz, 256-sample Hann frames with 50% overlap,
# silent frames (40 dB below the loudest target frame) dropped and the rest overlap-added,
# 512-point DFT, 15 one-third-octave bands from 150 Hz, 30-frame segments, the degraded
# envelope scaled to the clean one and clipped at -15 dB SDR, correlations averaged. It
# resamples with scipy's default Kaiser polyphase filter (pystoi uses an Octave-style
# filter), so the two differ in that step as well as in code.

RATE = 10_000
FRAME = 256
HOP = 128
NFFT = 512
BANDS = 15
LOWEST_CENTRE = 150.0
SEGMENT = 30
CLIP_DB = -15.0
DYNAMIC_RANGE_DB = 40.0


def matlab_hanning(n: int) -> np.ndarray:
    # MATLAB's hanning(n) leaves out the zero end points.
    k = np.arange(1, n + 1)
    return 0.5 * (1 - np.cos(2 * np.pi * k / (n + 1)))


def frame_starts(length: int) -> np.ndarray:
    # As MATLAB's 1:HOP:(length - FRAME), converted to 0-based starts.
    return np.arange(0, length - FRAME, HOP)


def third_octave_matrix() -> np.ndarray:
    freqs = np.linspace(0, RATE, NFFT + 1)[: NFFT // 2 + 1]
    matrix = np.zeros((BANDS, freqs.size))
    for band in range(BANDS):
        centre = LOWEST_CENTRE * 2 ** (band / 3)
        low = np.argmin(np.abs(freqs - centre * 2 ** (-1 / 6)))
        high = np.argmin(np.abs(freqs - centre * 2 ** (1 / 6)))
        matrix[band, low:high] = 1.0
    return matrix


def drop_silent_frames(clean: np.ndarray, degraded: np.ndarray):
    window = matlab_hanning(FRAME)
    starts = frame_starts(clean.size)
    energy_db = np.array([20 * np.log10(np.linalg.norm(clean[s:s + FRAME] * window) / np.sqrt(FRAME))
                          for s in starts])
    keep = starts[energy_db > energy_db.max() - DYNAMIC_RANGE_DB]
    out_clean = np.zeros(clean.size)
    out_degraded = np.zeros(clean.size)
    for slot, start in enumerate(keep):
        out_clean[slot * HOP: slot * HOP + FRAME] += clean[start:start + FRAME] * window
        out_degraded[slot * HOP: slot * HOP + FRAME] += degraded[start:start + FRAME] * window
    end = (len(keep) - 1) * HOP + FRAME
    return out_clean[:end], out_degraded[:end]


def band_envelopes(signal: np.ndarray) -> np.ndarray:
    window = matlab_hanning(FRAME)
    frames = np.stack([signal[s:s + FRAME] * window for s in frame_starts(signal.size)])
    power = np.abs(np.fft.rfft(frames, NFFT, axis=1)) ** 2
    return np.sqrt(third_octave_matrix() @ power.T)  # (bands, frames)


def reference_stoi(clean: np.ndarray, degraded: np.ndarray, rate: int) -> float:
    if rate != RATE:
        divisor = np.gcd(RATE, rate)
        clean = scipy.signal.resample_poly(clean, RATE // divisor, rate // divisor)
        degraded = scipy.signal.resample_poly(degraded, RATE // divisor, rate // divisor)
    clean, degraded = drop_silent_frames(clean, degraded)
    x, y = band_envelopes(clean), band_envelopes(degraded)
    bound = 10 ** (-CLIP_DB / 20)
    scores = []
    for end in range(SEGMENT, x.shape[1] + 1):
        xs, ys = x[:, end - SEGMENT:end], y[:, end - SEGMENT:end]
        scale = np.sqrt(np.sum(xs**2, axis=1, keepdims=True) / np.sum(ys**2, axis=1, keepdims=True))
        clipped = np.minimum(ys * scale, xs * (1 + bound))
        # Pearson correlation of each band's clean and clipped envelopes over the segment.
        xc = xs - xs.mean(axis=1, keepdims=True)
        yc = clipped - clipped.mean(axis=1, keepdims=True)
        scores.append(np.sum(xc * yc, axis=1) / np.sqrt(np.sum(xc**2, axis=1) * np.sum(yc**2, axis=1)))
    return float(np.mean(scores))


@pytest.fixture(scope="module")
def degraded_batch(clips):
    """Each clip under five conditions: clean, white noise at +10/0/-5 dB SNR, and a mask."""
    rng = np.random.default_rng(7)
    targets, estimates = [], []
    for clip in clips.values():
        power = np.mean(clip**2)
        for snr_db in (10.0, 0.0, -5.0):
            noise = rng.standard_normal(clip.size) * np.sqrt(power / 10 ** (snr_db / 10))
            targets.append(clip)
            estimates.append(clip + noise)
        # Zeroing every other 20 ms block: a time-frequency-weighting style distortion.
        gate = (np.arange(clip.size) // 320) % 2 == 0
        targets.append(clip)
        estimates.append(clip * gate)
    return np.stack(estimates), np.stack(targets)


@pytest.fixture(scope="module")
def scores_16k(degraded_batch):
    estimates, targets = degraded_batch
    return stoi(estimates, targets, 16000)


def test_agrees_with_independent_implementation_on_speech(degraded_batch, scores_16k):
    estimates, targets = degraded_batch
    got = scores_16k
    expected = np.array([reference_stoi(t, e, 16000) for e, t in zip(estimates, targets, strict=True)])
    # Measured: max |difference| 2.7e-5 over these 12 clips, all of it from the different
    # resampling filters (at 10 kHz input, where no resampling happens, they agree to 1e-16).
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-4)


def test_agrees_exactly_with_independent_implementation_without_resampling(degraded_batch):
    estimates, targets = degraded_batch
    estimates = scipy.signal.resample_poly(estimates, 5, 8, axis=1)
    targets = scipy.signal.resample_poly(targets, 5, 8, axis=1)
    got = stoi(estimates, targets, 10000)
    expected = np.array([reference_stoi(t, e, 10000) for e, t in zip(estimates, targets, strict=True)])
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-9)


def test_resampled_input_gives_nearly_the_same_score(degraded_batch, scores_16k):
    estimates, targets = degraded_batch
    at_16k = scores_16k
    at_10k = stoi(scipy.signal.resample_poly(estimates, 5, 8, axis=1),
                  scipy.signal.resample_poly(targets, 5, 8, axis=1), 10000)
    np.testing.assert_allclose(at_16k, at_10k, rtol=0, atol=1e-4)  # measured 2.7e-5


def test_identical_signals_score_one_and_noise_lowers_the_score(clips, scores_16k):
    clip = clips["female"]
    assert stoi(clip, clip, 16000)[0] == pytest.approx(1.0, abs=1e-9)
    scores = scores_16k.reshape(len(clips), 4)
    # +10 dB > 0 dB > -5 dB SNR, for every clip.
    assert np.all(np.diff(scores[:, :3], axis=1) < -0.05)
    assert np.all(scores[:, 0] > 0.85) and np.all(scores[:, 2] < 0.8)


def test_batch_equals_per_example_and_parallel_equals_serial(degraded_batch, scores_16k):
    estimates, targets = degraded_batch
    batch = scores_16k[:4]
    one_by_one = np.concatenate([stoi(e, t, 16000) for e, t in zip(estimates[:4], targets[:4], strict=True)])
    parallel = stoi(estimates[:4], targets[:4], 16000, workers=2)
    np.testing.assert_array_equal(batch, one_by_one)
    np.testing.assert_array_equal(parallel, batch)
    from_torch = stoi(torch.from_numpy(estimates[:2]), torch.from_numpy(targets[:2]), 16000)
    np.testing.assert_array_equal(from_torch, batch[:2])


def test_extended_stoi_is_available_and_differs(degraded_batch):
    estimates, targets = degraded_batch
    plain = stoi(estimates[:3], targets[:3], 16000)
    extended = stoi_result(estimates[:3], targets[:3], 16000, extended=True)
    assert extended.name == "estoi"
    assert np.all(np.abs(extended.values - plain) > 1e-3)
    assert np.all(np.diff(extended.values) < 0)


def test_too_short_silent_and_nonfinite_inputs_are_nan_with_reasons(clips):
    clip = clips["male"]
    target = np.stack([clip, clip, clip, clip])
    estimate = target + 0.01
    estimate[1] = 0.0
    estimate[2, 10] = np.nan
    target[3] = 0.0
    result = stoi_result(estimate, target, 16000)
    assert np.isfinite(result.values[0]) and result.reasons[0] is None
    assert "estimate is silent" in result.reasons[1]
    assert "non-finite" in result.reasons[2]
    assert "target is silent" in result.reasons[3]

    short = stoi_result(clip[4000:7000], clip[4000:7000], 16000)  # 0.19 s: pystoi warns
    assert np.isnan(short.values[0]) and "fewer than 30 STOI frames" in short.reasons[0]


@pytest.mark.parametrize("rate", [0, -16000, 16000.0, "16000", True])
def test_bad_sample_rate_raises(clips, rate):
    with pytest.raises(ValueError, match="sample_rate"):
        stoi(clips["male"], clips["male"], rate)
