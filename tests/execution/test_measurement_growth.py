"""A sequential case's measure grows with its runs: at each look the metric scores only the
examples no earlier look (or case) scored, and the values equal a from-scratch computation on the
whole prefix, bit for bit.

On ``random:fixture`` (seeded random weights, the real tiers, codec and text encoder), 2 sampler
steps. The counted metric is the real SI-SNR behind a wrapper that records how many examples
each call receives; SAR (512-tap BSS Eval, the costly one) is checked against a direct call.
"""

from __future__ import annotations

import numpy as np
import pytest

from latentflow.execution.runner import Runner
from latentflow.metrics import sar_result, si_snr_result
from latentflow.metrics.registry import available_metrics, register_metric, unregister_metric
from latentflow.spec import compile_plan, loads_spec

SPEC = """\
latentflow: 1
claim: {id: growth, title: Measure growth checks, source: tests}
model: "random:fixture"
data: {tier: clean, seed: 0}
sampler: {method: euler, steps: 2}
sequential: {max_n: 12, chunk: 4, symmetric: true}
hypotheses:
  - id: counted
    title: Scaling cross-attention by 1.01 lowers SI-SNR (counted)
    interventions: [{site: blocks.*.hook_cross_out, op: scale, args: {factor: 1.01}}]
    measure: {metric: si_snr_counted, compare: target}
    expect: {direction: decrease}
  - id: counted_again
    title: Scaling cross-attention by 0.99 lowers SI-SNR (counted; the same baseline arm)
    interventions: [{site: blocks.*.hook_cross_out, op: scale, args: {factor: 0.99}}]
    measure: {metric: si_snr_counted, compare: target}
    expect: {direction: decrease}
  - id: sar
    title: Scaling cross-attention by 1.01 lowers SAR
    interventions: [{site: blocks.*.hook_cross_out, op: scale, args: {factor: 1.01}}]
    measure: {metric: sar, compare: target}
    expect: {direction: decrease}
"""

CALLS: list[int] = []  # examples per call of si_snr_counted


def _si_snr_counted(*, estimate, reference):
    CALLS.append(int(np.shape(estimate)[0]))
    return si_snr_result(estimate, reference)


@pytest.fixture(scope="module")
def ran():
    if "si_snr_counted" not in available_metrics():
        register_metric("si_snr_counted", _si_snr_counted, higher_is_better=True, unit="dB",
                        requires=("estimate", "reference"))
    CALLS.clear()
    plan = compile_plan(loads_spec(SPEC, "growth.yaml"))
    runner = Runner(batch_size=4)
    verdicts = {c.hypothesis_id: runner.verdict(c) for c in plan.cases}
    yield plan, runner, verdicts, list(CALLS)
    unregister_metric("si_snr_counted")


def test_each_example_is_scored_once_per_arm_however_many_looks(ran):
    _, _, verdicts, calls = ran
    used = [verdicts[h].sequential.n_used for h in ("counted", "counted_again")]
    looks = [verdicts[h].sequential.stopped_at_look for h in ("counted", "counted_again")]
    assert looks[0] >= 2, "the test needs a case that grows past its first look"
    # every call scores one new chunk of 4; the treated arms are scored once each, the shared
    # baseline arm once up to the longer case (scoring the whole prefix at each look would
    # send 4, 4, 8, 8, ... examples)
    assert set(calls) == {4}
    assert sum(calls) == used[0] + used[1] + max(used)


def test_the_metric_log_shows_chunks_not_prefixes(ran):
    _, runner, _, _ = ran
    grown: dict[tuple, list[tuple[int, int]]] = {}
    for key, first, stop in runner.measurer.metric_log:
        grown.setdefault(key, []).append((first, stop))
    for steps in grown.values():  # each key extended from where it stopped, never from 0 again
        assert steps == [(4 * i, 4 * i + 4) for i in range(len(steps))]


@pytest.mark.parametrize("hypothesis", ["counted", "sar"])
def test_grown_values_equal_a_from_scratch_computation_bit_for_bit(ran, hypothesis):
    plan, runner, verdicts, _ = ran
    (case,) = [c for c in plan.cases if c.hypothesis_id == hypothesis]
    n = verdicts[hypothesis].sequential.n_used
    assert n > 4, "the case must have grown past its first chunk"
    # the same runs (memoised, not sampled again), the metric called once on all n examples
    base = runner.run_prefix(case.model, case.data, case.sampler, (), upto=n, block=4)
    treated = runner.run_prefix(case.model, case.data, case.sampler, case.interventions, upto=n, block=4)
    targets = runner.inputs(case.model, case.data).targets[:n].numpy()
    if hypothesis == "sar":
        mixtures = runner.inputs(case.model, case.data).mixtures[:n].numpy()

        def score(run):
            return sar_result(run.estimate.numpy(), targets, mixtures - targets).values
    else:
        def score(run):
            return si_snr_result(run.estimate.numpy(), targets).values
    record = verdicts[hypothesis].examples
    assert np.array_equal(np.asarray(record["x"], dtype=np.float64), score(treated))
    assert np.array_equal(np.asarray(record["y"], dtype=np.float64), score(base))
    assert len(record["x"]) == n
