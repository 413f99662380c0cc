from __future__ import annotations

import math

import numpy as np
import pytest

from latentflow.metrics import (
    MetricResult,
    UnknownMetricError,
    available_metrics,
    compute_metric,
    get_metric,
    register_metric,
    si_snr,
    unregister_metric,
)

BUILT_IN = ("pesq", "sar", "si_snr", "si_snr_improvement", "stoi")


@pytest.fixture
def scratch_names():
    """Names a test registers; removed afterwards so tests stay independent."""
    names: list[str] = []
    yield names
    for name in names:
        if name in available_metrics():
            unregister_metric(name)


def test_built_in_metrics_are_registered_with_metadata():
    assert set(BUILT_IN) <= set(available_metrics())
    assert list(available_metrics()) == sorted(available_metrics())
    units = {name: get_metric(name).unit for name in BUILT_IN}
    assert units == {"pesq": "MOS-LQO", "sar": "dB", "si_snr": "dB",
                     "si_snr_improvement": "dB", "stoi": ""}
    assert all(get_metric(name).higher_is_better for name in BUILT_IN)
    assert get_metric("si_snr_improvement").requires == ("estimate", "reference", "mixture")
    assert get_metric("si_snr_improvement").compare == ("target",)
    assert get_metric("stoi").compare == ("target", "baseline")
    assert get_metric("stoi").bounds == (-1.0, 1.0)
    assert get_metric("sar").params["filter_length"][:2] == (int, 512)
    assert len({get_metric(name) for name in BUILT_IN}) == len(BUILT_IN)  # usable as keys


def test_unknown_name_lists_registry_and_nearest_match():
    with pytest.raises(UnknownMetricError) as caught:
        get_metric("si_snri")
    error = caught.value
    assert error.suggestion == "si_snr"
    assert isinstance(error, LookupError)
    message = str(error)
    assert "unknown metric 'si_snri'" in message and "Did you mean 'si_snr'?" in message
    for name in BUILT_IN:
        assert name in message
    with pytest.raises(UnknownMetricError, match="Did you mean 'pesq'"):
        compute_metric("PESQ", estimate=np.ones(10), reference=np.ones(10))
    with pytest.raises(UnknownMetricError) as far:
        get_metric("zzzz")
    assert far.value.suggestion is None and "Did you mean" not in str(far.value)


def test_compute_metric_routes_inputs_and_ignores_ones_the_metric_does_not_use(separation_case):
    c = separation_case
    inputs = dict(estimate=c["estimate"], reference=c["target"], mixture=c["mixture"],
                  sample_rate=16000)
    result = compute_metric("si_snr", **inputs)
    assert isinstance(result, MetricResult) and result.name == "si_snr"
    np.testing.assert_array_equal(result.values, si_snr(c["estimate"], c["target"]))
    # SAR takes its interference from mixture - reference when only a mixture is given.
    from_mixture = compute_metric("sar", **inputs).values
    explicit = compute_metric("sar", estimate=c["estimate"], reference=c["target"],
                              interference=c["mixture"] - c["target"]).values
    np.testing.assert_allclose(from_mixture, explicit, atol=1e-9)
    short_filter = get_metric("sar")(estimate=c["estimate"][2], reference=c["target"][2],
                                     filter_length=32).values
    assert short_filter[0] < from_mixture[2] - 10


def test_compute_metric_rejects_missing_and_misspelt_inputs(separation_case):
    c = separation_case
    with pytest.raises(TypeError, match=r"needs input\(s\) \['mixture'\]"):
        compute_metric("si_snr_improvement", estimate=c["estimate"], reference=c["target"])
    with pytest.raises(TypeError, match="sample_rte"):
        compute_metric("stoi", estimate=c["estimate"], reference=c["target"], sample_rte=16000)


def test_user_metric_registration_and_result_normalisation(scratch_names, separation_case):
    c = separation_case
    scratch_names.append("peak_ratio")

    def peak_ratio(*, estimate, reference, floor=0.0):
        return 20 * np.log10(np.max(np.abs(estimate), axis=-1) / np.max(np.abs(reference), axis=-1)) + floor

    info = register_metric("peak_ratio", peak_ratio, higher_is_better=False, unit="dB",
                           requires=("estimate", "reference"),
                           params={"floor": (float, 0.0, "added to every value")},
                           description="peak level of the estimate relative to the reference")
    assert get_metric("peak_ratio") is info and "peak_ratio" in available_metrics()
    result = compute_metric("peak_ratio", estimate=c["estimate"], reference=c["target"], floor=1.0)
    assert result.values.shape == (4,) and result.reasons == (None,) * 4
    assert result.values[0] == pytest.approx(
        20 * np.log10(np.abs(c["estimate"][0]).max() / np.abs(c["target"][0]).max()) + 1.0)
    # Results are immutable.
    with pytest.raises(ValueError):
        result.values[0] = 0.0

    with pytest.raises(ValueError, match="already registered"):
        register_metric("peak_ratio", peak_ratio, higher_is_better=False, unit="dB",
                        requires=("estimate", "reference"))
    replaced = register_metric("peak_ratio", peak_ratio, higher_is_better=True, unit="dB",
                               requires=("estimate", "reference"), replace=True)
    assert get_metric("peak_ratio") is replaced and replaced.higher_is_better


def test_user_metric_nan_without_reason_gets_one_and_wrong_length_is_caught(scratch_names):
    scratch_names.extend(["always_nan", "wrong_length"])
    register_metric("always_nan", lambda *, estimate: np.full(np.shape(estimate)[0], np.nan),
                    higher_is_better=True, unit="", requires=("estimate",), compare=("internal",))
    result = compute_metric("always_nan", estimate=np.ones((3, 8)))
    assert np.isnan(result.values).all() and result.n_nan == 3
    assert all("without giving a reason" in r for r in result.reasons)

    register_metric("wrong_length", lambda *, estimate: np.zeros(2), higher_is_better=True,
                    unit="", requires=("estimate",))
    with pytest.raises(ValueError, match="returned 2 values for 3 examples"):
        compute_metric("wrong_length", estimate=np.ones((3, 8)))


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        (dict(name="Bad-Name"), ValueError, "lowercase letters"),
        (dict(requires=("estimate", "target")), TypeError, "cannot be called"),
        (dict(compare=("groundtruth",)), ValueError, "compare must list"),
        (dict(bounds=(1.0, 0.0)), ValueError, "low < high"),
        (dict(params={"floor": 0.0}), ValueError, r"\(type, default, doc\)"),
        (dict(accepts=("estimate",)), ValueError, "more than once"),
        (dict(higher_is_better="yes"), TypeError, "True or False"),
    ],
)
def test_registration_mistakes_are_reported(kwargs, error, message, scratch_names):
    def metric(*, estimate, reference):
        return np.zeros(np.shape(estimate)[0])

    arguments = dict(name="my_metric", function=metric, higher_is_better=True, unit="dB",
                     requires=("estimate", "reference"))
    arguments.update(kwargs)
    scratch_names.append(arguments["name"])
    with pytest.raises(error, match=message):
        register_metric(arguments.pop("name"), arguments.pop("function"), **arguments)


def test_bounds_default_to_the_whole_line(scratch_names):
    scratch_names.append("unbounded")
    info = register_metric("unbounded", lambda *, estimate: np.zeros(1), higher_is_better=True,
                           unit="", requires=("estimate",))
    assert info.bounds == (-math.inf, math.inf) and info.compare == ("target", "baseline")
