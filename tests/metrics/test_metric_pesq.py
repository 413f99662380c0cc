from __future__ import annotations

import numpy as np
import pesq as pesq_package
import pytest

from latentflow.metrics import pesq, pesq_result

# The ``pesq`` package is the ITU-T P.862 reference C code; these tests check that the
# wrapper feeds it correctly (order of arguments, batching, parallelism, failures) and that
# its numbers behave as PESQ must on real speech.


@pytest.fixture(scope="module")
def noisy_batch(clips):
    """The male clip with white noise at 50, 40 and 30 dB SNR (wideband PESQ is harsh on
    white noise: it is already near its floor at 20 dB)."""
    rng = np.random.default_rng(3)
    clip = clips["male"]
    power = np.mean(clip**2)
    estimates = np.stack([
        clip + rng.standard_normal(clip.size) * np.sqrt(power / 10 ** (snr / 10))
        for snr in (50.0, 40.0, 30.0)
    ])
    return estimates, np.stack([clip] * 3)


@pytest.fixture(scope="module")
def noisy_scores(noisy_batch):
    estimates, targets = noisy_batch
    return pesq(estimates, targets, 16000)


def test_identical_signals_reach_the_wideband_maximum(clips):
    clip = clips["female"]
    assert pesq(clip, clip, 16000)[0] == pytest.approx(4.644, abs=0.01)


def test_more_noise_scores_lower(noisy_scores):
    # Measured: about 3.9, 3.3 and 2.1.
    assert np.all(np.diff(noisy_scores) < -0.4)
    assert noisy_scores[-1] > 1.5 and noisy_scores[0] < 4.3


def test_batch_equals_the_reference_package_called_per_example(noisy_batch, noisy_scores):
    estimates, targets = noisy_batch
    # Reference order: pesq(fs, ref, deg, mode): the clean target first.
    direct = [pesq_package.pesq(16000, t, e, "wb") for e, t in zip(estimates, targets, strict=True)]
    np.testing.assert_array_equal(noisy_scores, direct)
    assert noisy_scores.dtype == np.float64 and noisy_scores.shape == (3,)


def test_parallel_equals_serial(noisy_batch, noisy_scores):
    estimates, targets = noisy_batch
    np.testing.assert_array_equal(pesq(estimates, targets, 16000, workers=2), noisy_scores)


def test_library_failures_become_nan_with_reasons(clips, noisy_batch):
    estimates, targets = noisy_batch
    estimates = estimates.copy()
    estimates[1] = 0.0
    estimates[2, :5] = np.inf
    result = pesq_result(estimates, targets, 16000)
    assert np.isfinite(result.values[0]) and result.reasons[0] is None
    assert "estimate is silent" in result.reasons[1]
    assert "non-finite" in result.reasons[2]

    clip = clips["male"][8000:11200]  # 0.2 s: under PESQ's 1/4 s minimum
    short = pesq_result(clip, clip, 16000)
    assert np.isnan(short.values[0])
    assert "BufferTooShortError" in short.reasons[0] and "1/4 of a second" in short.reasons[0]

    # A 20 Hz hum is not silent, but it lies below PESQ's speech band, so PESQ finds no
    # utterance in the reference and refuses it.
    hum = 0.1 * np.sin(2 * np.pi * 20 * np.arange(16000) / 16000)
    refused = pesq_result(hum, hum, 16000)
    assert np.isnan(refused.values[0]) and "NoUtterancesError" in refused.reasons[0]


@pytest.mark.parametrize("rate", [8000, 22050, 44100])
def test_wideband_needs_16_khz(clips, rate):
    with pytest.raises(ValueError, match="needs sample_rate 16000 Hz"):
        pesq(clips["male"], clips["male"], rate)


def test_narrowband_mode_is_available_at_8_khz(clips):
    clip = clips["male"][::2]  # crude decimation is fine: the reference equals the estimate
    assert pesq(clip, clip, 8000, mode="nb")[0] == pytest.approx(4.549, abs=0.01)
    with pytest.raises(ValueError, match="mode"):
        pesq(clip, clip, 8000, mode="fb")
