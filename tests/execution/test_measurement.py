"""Measurement on ``random:fixture`` (seeded random weights, the real bench, codec and text
encoder), 2 sampler steps: internal measures that reduce the same hook sites differently each
get their own records, whichever ran first; `Measurements` holds both arms and the NaN reasons."""

from __future__ import annotations

import numpy as np
import torch

from latentflow.execution.internal import INTERNAL_MEASURES, InternalMeasure
from latentflow.execution.measurement import Measurements
from latentflow.execution.runner import Runner
from latentflow.spec import compile_plan, loads_spec

SPEC = """\
latentflow: 1
claim: {id: engine, title: Engine checks, source: tests}
model: "random:fixture"
data: {tier: clean, n: 4, seed: 0}
sampler: {method: euler, steps: 2}
hypotheses:
  - id: entropy
    title: Self-attention entropy at block 0 is above 0
    measure: {metric: attention_entropy, compare: internal, site: blocks.0.attn.hook_pattern}
    expect: {direction: increase}
  - id: peak
    title: The largest attention probability at block 0 is above 0
    measure: {metric: attention_peak, compare: internal, site: blocks.0.attn.hook_pattern}
    expect: {direction: increase}
"""


def _peak(pattern: torch.Tensor, site: str, context) -> torch.Tensor:
    """Per example, the largest attention probability of the site (another reduction of the same
    activation than the entropy's)."""
    return pattern.flatten(1).max(dim=1).values


def _mean(records, args) -> np.ndarray:
    return torch.stack(list(records.values())).double().mean(0).numpy()


def test_two_reductions_of_one_site_do_not_share_records():
    INTERNAL_MEASURES.register("attention_peak", InternalMeasure("attention_peak", ("hook_pattern",), _peak, _mean))
    try:
        entropy, peak = compile_plan(loads_spec(SPEC, "engine.yaml")).cases
        shared = Runner()
        shared.prepare([entropy, peak])
        after_entropy = {c.hypothesis_id: shared.case_result(c).x for c in (entropy, peak)}
        alone = Runner()
        alone.prepare([peak])
        peak_alone = alone.case_result(peak).x
    finally:
        INTERNAL_MEASURES.unregister("attention_peak")
    # a peak probability lies in (0, 1] and is not the normalised entropy of the same maps
    assert np.all((after_entropy["peak"] > 0) & (after_entropy["peak"] <= 1))
    assert not np.allclose(after_entropy["peak"], after_entropy["entropy"])
    assert np.array_equal(after_entropy["peak"], peak_alone)


def test_measurements_differences_are_what_the_tests_read():
    paired = Measurements(np.array([1.0, 4.0]), np.array([0.5, 1.0]))
    one_sample = Measurements(np.array([1.0, np.nan]), None, ("silent target",), (None, "silent target"))
    assert paired.differences(null_value=10.0).tolist() == [0.5, 3.0]  # paired: the null value is not used
    assert one_sample.differences(null_value=0.25)[0] == 0.75 and np.isnan(one_sample.differences(0.25)[1])
    assert one_sample.x_reasons == (None, "silent target")
