from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest
import torch

from latentflow.metrics import (
    SeparationReport,
    pesq,
    sar,
    separation_report,
    si_snr,
    si_snr_improvement,
    stoi,
)
from latentflow.vocabulary import REPORT_METRICS


@pytest.fixture(scope="module")
def report(separation_case):
    c = separation_case
    return separation_report(c["estimate"], c["target"], c["mixture"])


def test_report_equals_the_individual_metrics(separation_case, report):
    c = separation_case
    est, tgt, mix = c["estimate"], c["target"], c["mixture"]
    np.testing.assert_array_equal(report.si_snr, si_snr(est, tgt))
    np.testing.assert_array_equal(report.si_snr_improvement, si_snr_improvement(est, tgt, mix))
    np.testing.assert_array_equal(report.sar, sar(est, tgt, mix - tgt))
    np.testing.assert_array_equal(report.stoi, stoi(est, tgt, 16000))
    np.testing.assert_array_equal(report.pesq, pesq(est, tgt, 16000))
    assert report.interference_source == "mixture - target" and report.n_examples == 4
    for name in REPORT_METRICS:
        values = getattr(report, name)
        assert values.dtype == np.float64 and values.shape == (4,)
        assert np.isfinite(values).all() and report.reasons[name] == (None,) * 4


def test_given_interference_is_used_for_sar(separation_case, report):
    c = separation_case
    given = separation_report(c["estimate"][:1], c["target"][:1], c["mixture"][:1],
                              interference=c["interference"][:1])
    assert given.interference_source == "given"
    assert given.sar[0] == pytest.approx(report.sar[0], abs=1e-9)  # mixture - target == interference


def test_report_is_frozen_and_serialises_to_json(separation_case):
    c = separation_case
    est = c["estimate"][:2].copy()
    est[1] = 0.0
    report = separation_report(est, c["target"][:2], c["mixture"][:2])
    with pytest.raises(dataclasses.FrozenInstanceError):
        report.sar = np.zeros(2)  # type: ignore[misc]
    with pytest.raises(TypeError):
        report.reasons["sar"] = (None, None)  # type: ignore[index]
    data = json.loads(json.dumps(report.as_dict()))
    assert data["metrics"]["pesq"]["values"][1] is None
    assert "estimate is silent" in data["metrics"]["pesq"]["reasons"][1]
    assert data["metrics"]["si_snr"]["values"][0] == pytest.approx(report.si_snr[0])
    assert isinstance(report, SeparationReport)


def test_torch_inputs_give_the_same_report(separation_case, report):
    c = separation_case
    from_torch = separation_report(*(torch.from_numpy(c[k]) for k in ("estimate", "target", "mixture")))
    for name in REPORT_METRICS:
        np.testing.assert_allclose(getattr(from_torch, name), getattr(report, name), atol=1e-9)


def test_parallel_report_equals_serial(separation_case, report):
    c = separation_case
    parallel = separation_report(c["estimate"], c["target"], c["mixture"], workers=2)
    for name in REPORT_METRICS:
        np.testing.assert_array_equal(getattr(parallel, name), getattr(report, name))


def test_short_clip_report_has_a_reason_for_every_nan(separation_case):
    c = separation_case
    n = 1500  # 94 ms: SI-SNR is still defined, the others are not
    short = separation_report(c["estimate"][:, 4000:4000 + n], c["target"][:, 4000:4000 + n],
                              c["mixture"][:, 4000:4000 + n])
    assert np.isfinite(short.si_snr).all() and np.isfinite(short.si_snr_improvement).all()
    for name in ("sar", "stoi", "pesq"):
        values = getattr(short, name)
        assert np.isnan(values).all()
        assert all(reason for reason in short.reasons[name])


@pytest.mark.parametrize(
    ("shapes", "message"),
    [
        (((2, 1000), (2, 1000), (2, 999)), "mixture has shape"),
        (((2, 1000), (3, 1000), (3, 1000)), "target has shape"),
    ],
)
def test_mismatched_shapes_raise(shapes, message):
    arrays = [np.ones(shape) for shape in shapes]
    with pytest.raises(ValueError, match=message):
        separation_report(*arrays)


def test_unusable_sample_rate_raises_before_any_work(separation_case):
    c = separation_case
    with pytest.raises(ValueError, match="PESQ mode 'wb' needs sample_rate 16000 Hz; got 8000"):
        separation_report(c["estimate"][:1], c["target"][:1], c["mixture"][:1], sample_rate=8000)
