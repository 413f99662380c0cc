"""Sequential cases in the runner: chunk by chunk on the examples of a fixed-n run, decided after
each chunk, with baselines that grow instead of being resampled, and NaN never shrinking n.

On ``random:fixture`` (seeded random weights, the real bench, codec and text encoder), 2 sampler
steps: zeroing the text projection moves SI-SNR against the baseline by about -48 dB (decided
at the second look), scaling cross-attention by 1.01 changes nothing measurable (futility).
"""

from __future__ import annotations

import numpy as np
import pytest

import latentflow.execution.sampling as sampling_module
from latentflow.audio.tiers import make_examples
from latentflow.execution.runner import Runner, example_seeds
from latentflow.metrics.registry import available_metrics, register_metric, unregister_metric
from latentflow.metrics.result import MetricResult
from latentflow.spec import compile_plan, loads_spec

SPEC = """\
latentflow: 1
claim: {id: engine, title: Engine checks, source: tests}
model: "random:fixture"
data: {tier: clean, seed: 0}
sampler: {method: euler, steps: 2}
sequential: {max_n: 16, chunk: 4, symmetric: true}
hypotheses:
  - id: text_zero
    title: Zeroing the text projection lowers SI-SNR against the baseline
    interventions: [{site: hook_text_proj, op: zero}]
    measure: {metric: si_snr, compare: baseline}
    expect: {direction: decrease, null_value: 60.0}
  - id: scale_tiny
    title: Scaling cross-attention by 1.01 lowers SI-SNR
    interventions: [{site: blocks.*.hook_cross_out, op: scale, args: {factor: 1.01}}]
    measure: {metric: si_snr, compare: target}
    expect: {direction: decrease}
  - id: loud_nan
    title: A measure undefined on loud targets
    interventions: [{site: hook_text_proj, op: zero}]
    measure: {metric: rms_unless_loud, args: {loud: LOUD}}
    expect: {direction: decrease}
"""


def _rms(reference: np.ndarray) -> np.ndarray:
    return np.sqrt(np.mean(np.square(reference.astype(np.float64)), axis=-1))


def _rms_unless_loud(*, estimate, reference, loud=1.0):
    """A real, if contrived, measure with a validity rule: undefined where the target is loud."""
    bad = _rms(reference) >= loud
    return MetricResult("rms_unless_loud", np.where(bad, np.nan, _rms(estimate)),
                        tuple(f"target RMS at or above {loud:.6g}" if b else None for b in bad))


@pytest.fixture(scope="module")
def ran():
    """Every verdict of SPEC on one runner with batches of 4, counting the sampler's calls."""
    first = _rms(np.stack([ex.target.numpy() for ex in make_examples("clean", "test", 4, 0)]))
    loud = float(first.max())  # only the loudest of the first chunk is undefined
    if "rms_unless_loud" not in available_metrics():
        register_metric("rms_unless_loud", _rms_unless_loud, higher_is_better=True, unit="",
                        requires=("reference", "estimate"), params={"loud": (float, 1.0, "threshold")})
    plan = compile_plan(loads_spec(SPEC.replace("LOUD", repr(loud)), "engine.yaml"))
    runner = Runner(batch_size=4)
    calls: list[int] = []
    real = sampling_module.sample

    def counting(model, cond, **kwargs):
        calls.append(len(kwargs["seeds"]))
        return real(model, cond, **kwargs)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(sampling_module, "sample", counting)
        verdicts = {c.hypothesis_id: runner.verdict(c) for c in plan.cases}
    yield plan, runner, verdicts, calls, int(first.argmax())
    unregister_metric("rms_unless_loud")


def test_each_case_stops_where_its_evidence_decides(ran):
    _, _, verdicts, _, _ = ran
    held, futile = verdicts["text_zero"].sequential, verdicts["scale_tiny"].sequential
    assert (held.status, held.n_used, held.stopped_at_look, held.looks) == ("holds", 8, 2, (4, 8, 12, 16))
    assert verdicts["text_zero"].holds and held.pvalue <= 0.05 and held.cs_upper[-1] < 0
    assert (futile.status, futile.n_used, futile.stopped_at_look) == ("futility", 12, 3)
    assert not verdicts["scale_tiny"].holds and futile.pvalue > 0.05
    # the fixed-n numbers next to it are the default test on the examples used
    assert verdicts["text_zero"].result.test == "paired_t" and verdicts["text_zero"].result.n == 8


def test_shared_baselines_grow_instead_of_being_resampled(ran):
    _plan, runner, _, calls, _ = ran
    # text_zero: baseline + treated for examples 0-3, 4-7; scale_tiny: its treated run 0-3, 4-7,
    # 8-11, and the baseline only 8-11 (0-7 reused); loud_nan: both runs reused (stops at 4)
    assert calls == [4] * 8
    base = [(done, upto) for key, done, upto in runner.prefix_log if key[3] == ()]
    assert base == [(0, 4), (4, 8), (8, 12)]


def test_the_first_k_examples_are_those_of_a_fixed_n_run(ran):
    plan, runner, verdicts, _, _ = ran
    case = plan.cases[0]
    fixed = runner.run(case.model, case.data, case.sampler, case.interventions)  # n = max_n = 16
    grown = runner.run_prefix(case.model, case.data, case.sampler, case.interventions, upto=8, block=4)
    assert fixed.final.shape[0] == 16
    assert bool((fixed.final[:8] == grown.final).all()) and bool((fixed.estimate[:8] == grown.estimate).all())
    assert verdicts["text_zero"].examples["noise_seeds"] == example_seeds(0, 16)[:8]


def test_a_nan_makes_the_case_untestable_instead_of_shrinking_n(ran):
    _, _, verdicts, _, loudest = ran
    v = verdicts["loud_nan"]
    s = v.sequential
    assert (s.status, s.n_used, s.passed) == ("untestable", 4, False)
    assert f"1 of 4 differences are not finite (index {loudest})" in s.reason
    assert "the measure gave NaN: target RMS at or above" in s.reason
    assert v.examples["x"][loudest] is None and v.examples["x_nan_reasons"][loudest].startswith("target RMS")
    assert len(v.examples["x"]) == 4 and not v.holds


def test_the_verdict_records_and_explains_the_design(ran):
    _, _, verdicts, _, _ = ran
    v = verdicts["text_zero"]
    record = v.to_dict()["sequential"]
    assert (record["status"], record["n_used"], record["stopped_at_look"]) == ("holds", 8, 2)
    assert len(record["cs_lower"]) == len(record["cs_upper"]) == 8
    screen = v.explain().splitlines()
    assert any(line.startswith("fixed-n     paired_t (less)") and "not the decision" in line for line in screen)
    assert any(line.startswith("sequential  t_mixture (less), alpha=0.05: HOLDS at n=8 of at most 16 (look 2 of 4)")
               for line in screen)
    assert any(line.startswith("conf. seq.  90% at each look: n=4 [n/a, n/a]  n=8 [") for line in screen)
