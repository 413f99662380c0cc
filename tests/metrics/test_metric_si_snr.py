from __future__ import annotations

import fast_bss_eval
import numpy as np
import pytest
import torch

from latentflow.metrics import si_snr, si_snr_improvement, si_snr_improvement_result, si_snr_result


def correlation_form(estimate: np.ndarray, target: np.ndarray) -> np.ndarray:
    """SI-SNR through the Pearson correlation rho of the signals: 10 log10(rho^2 / (1 - rho^2)).

    The projection of the zero-mean estimate on the zero-mean target keeps rho^2 of its
    energy and leaves 1 - rho^2 as noise, so this closed form is an independent route to
    the same number.
    """
    rho = np.array([np.corrcoef(e, t)[0, 1] for e, t in zip(estimate, target, strict=True)])
    return 10 * np.log10(rho**2 / (1 - rho**2))


def test_matches_correlation_closed_form_on_random_data():
    rng = np.random.default_rng(0)
    target = rng.standard_normal((16, 3000)) + rng.uniform(-1, 1, (16, 1))  # with DC offsets
    mixing = rng.uniform(0.05, 3.0, (16, 1))
    estimate = mixing * target + rng.standard_normal((16, 3000)) * rng.uniform(0.1, 4.0, (16, 1))
    got = si_snr(estimate, target)
    assert got.dtype == np.float64 and got.shape == (16,)
    # Measured agreement: 4e-14 dB.
    np.testing.assert_allclose(got, correlation_form(estimate, target), rtol=0, atol=1e-9)


def test_matches_fast_bss_eval_si_sdr_on_speech(separation_case):
    est, tgt = separation_case["estimate"], separation_case["target"]
    reference = fast_bss_eval.si_sdr(
        torch.from_numpy(tgt)[:, None, :], torch.from_numpy(est)[:, None, :], zero_mean=True
    ).numpy()[:, 0]
    got = si_snr(est, tgt)
    # Measured agreement: 1e-11 dB (fast_bss_eval normalises the signals first).
    np.testing.assert_allclose(got, reference, rtol=0, atol=1e-8)
    assert np.all(np.isfinite(got)) and got.min() > -5 and got.max() < 40


def test_torch_and_numpy_inputs_agree_and_single_example_is_a_batch_of_one(separation_case):
    est, tgt = separation_case["estimate"], separation_case["target"]
    from_numpy = si_snr(est, tgt)
    from_torch = si_snr(torch.from_numpy(est).float(), torch.from_numpy(tgt).float())
    np.testing.assert_allclose(from_torch, from_numpy, atol=1e-4)  # float32 storage
    single = si_snr(est[2], tgt[2])
    assert single.shape == (1,) and single[0] == pytest.approx(from_numpy[2], abs=1e-12)


def test_invariant_to_estimate_scale_and_offset(separation_case):
    est, tgt = separation_case["estimate"], separation_case["target"]
    base = si_snr(est, tgt)
    np.testing.assert_allclose(si_snr(-7.5 * est + 0.3, tgt), base, atol=1e-9)


def test_exact_scaled_copy_is_positive_infinity_or_huge():
    target = np.random.default_rng(1).standard_normal((1, 2000))
    assert si_snr(2.0 * target, target)[0] > 250  # float64 round-off floor, or +inf


def test_improvement_is_difference_against_mixture(separation_case):
    c = separation_case
    got = si_snr_improvement(c["estimate"], c["target"], c["mixture"])
    expected = si_snr(c["estimate"], c["target"]) - si_snr(c["mixture"], c["target"])
    np.testing.assert_allclose(got, expected, atol=1e-12)
    # Leaked interference at 0.3 and light noise improve clearly on the mixture; the echoed
    # rows barely do, since SI-SNR (unlike SDR) allows no filtering of the target.
    assert np.all(got[:2] > 5) and np.all(got[2:] < got[:2].min())


def test_silent_and_nonfinite_rows_are_nan_with_reasons_others_untouched(separation_case):
    est = separation_case["estimate"].copy()
    tgt = separation_case["target"].copy()
    clean = si_snr(est, tgt)
    est[0] = 0.0
    tgt[1] = 0.25  # a constant is silent once the mean is removed
    est[2, 100] = np.inf
    result = si_snr_result(est, tgt)
    assert np.isnan(result.values[:3]).all()
    assert result.values[3] == pytest.approx(clean[3], abs=1e-12)
    assert "estimate is silent" in result.reasons[0]
    assert "target is silent" in result.reasons[1]
    assert "estimate has 1 non-finite" in result.reasons[2]
    assert result.reasons[3] is None


def test_improvement_names_a_silent_mixture(separation_case):
    c = separation_case
    mixture = c["mixture"].copy()
    mixture[1] = 0.0
    result = si_snr_improvement_result(c["estimate"], c["target"], mixture)
    assert np.isnan(result.values[1]) and "mixture is silent" in result.reasons[1]
    assert np.isfinite(result.values[[0, 2, 3]]).all()


@pytest.mark.parametrize(
    ("estimate", "target", "message"),
    [
        (np.zeros((2, 100)), np.zeros((2, 99)), "same batch size and length"),
        (np.zeros((2, 1, 100)), np.zeros((2, 1, 100)), "expected (B, N)"),
        (np.zeros((2, 0)), np.zeros((2, 0)), "zero samples"),
        (np.zeros((1, 10), dtype=complex), np.zeros((1, 10)), "complex"),
        (np.array([["a", "b"]]), np.zeros((1, 2)), "dtype"),
    ],
)
def test_whole_call_mistakes_raise_clear_errors(estimate, target, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        si_snr(estimate, target)
