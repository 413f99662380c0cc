from __future__ import annotations

import numpy as np
import pytest
import torch

from latentflow.metrics import MetricResult, si_snr, stoi


def test_int16_pcm_and_float_give_the_same_scale_invariant_scores(separation_case):
    c = separation_case
    est = np.round(c["estimate"][:2] * 20000).astype(np.int16)
    tgt = np.round(c["target"][:2] * 20000).astype(np.int16)
    np.testing.assert_allclose(si_snr(est, tgt), si_snr(est / 20000.0, tgt / 20000.0), atol=1e-9)
    np.testing.assert_allclose(stoi(est, tgt, 16000), stoi(est / 20000.0, tgt / 20000.0, 16000),
                               atol=1e-9)


def test_torch_tensors_of_any_float_dtype_and_with_grad_are_accepted(separation_case):
    c = separation_case
    est = torch.from_numpy(c["estimate"][:2]).requires_grad_(True)
    half = torch.from_numpy(c["estimate"][:2]).to(torch.bfloat16)
    tgt = torch.from_numpy(c["target"][:2])
    expected = si_snr(c["estimate"][:2], c["target"][:2])
    np.testing.assert_allclose(si_snr(est, tgt), expected, atol=1e-12)
    np.testing.assert_allclose(si_snr(half, tgt), expected, atol=0.5)  # bfloat16 keeps ~3 digits


def test_lists_are_accepted_and_booleans_are_not():
    target = [0.0, 1.0, 0.0, -1.0] * 50
    assert si_snr([target], [target])[0] > 250
    with pytest.raises(ValueError, match="dtype bool"):
        si_snr(np.ones((1, 8), dtype=bool), np.ones((1, 8)))
    with pytest.raises(ValueError, match="complex tensor"):
        si_snr(torch.ones(1, 8, dtype=torch.complex64), np.ones((1, 8)))


def test_metric_result_keeps_values_and_reasons_consistent():
    result = MetricResult("x", [1.0, np.nan], (None, "target is silent"))
    assert result.n_nan == 1 and result.nan_reasons() == {1: "target is silent"}
    assert np.asarray(result).tolist()[0] == 1.0 and len(result) == 2
    with pytest.raises(ValueError, match="a reason belongs only to a NaN value"):
        MetricResult("x", [1.0], ("made up",))
    with pytest.raises(ValueError, match="2 values but 1 reasons"):
        MetricResult("x", [1.0, 2.0], (None,))
    with pytest.raises(ValueError, match="1-D"):
        MetricResult("x", [[1.0]], (None,))
