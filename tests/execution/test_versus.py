"""``measure.versus`` runs: the versus run takes the baseline's place example by example, is
shared with every case (and control) that runs the same interventions, and works with
sequential designs and controls.

At 4 Clean examples and 2 Euler steps the bundled model is fast enough for a unit test; the
numbers compared here are the runs' own, so the test checks the pairing, not a claim.
"""

from __future__ import annotations

import numpy as np
import pytest
import transformers  # noqa: F401

import latentflow.pipeline  # noqa: F401
from latentflow.execution import SpecSession

SPEC = """\
latentflow: 1
claim: {id: vs, title: Versus, source: tests}
model: fixture
data: {tier: clean, n: 4, seed: 0}
sampler: {method: euler, steps: 2}
hypotheses:
  - id: zero_costs_more_than_half
    title: Zeroing the text projection costs more SI-SNR than halving it
    interventions: [{site: hook_text_proj, op: zero}]
    measure:
      metric: si_snr
      versus:
        title: the text projection halved
        interventions: [{site: hook_text_proj, op: scale, args: {factor: 0.5}}]
    expect: {direction: decrease}
    controls:
      - {id: no_text, model: "counter:no_text_injection", outcome: fails}
  - id: zero_alone
    title: Zeroing the text projection lowers SI-SNR
    interventions: [{site: hook_text_proj, op: zero}]
    measure: {metric: si_snr}
    expect: {direction: decrease}
  - id: half_alone
    title: Halving the text projection lowers SI-SNR
    interventions: [{site: hook_text_proj, op: scale, args: {factor: 0.5}}]
    measure: {metric: si_snr}
    expect: {direction: decrease}
  - id: zero_moves_the_output_more_than_half
    title: The zeroed output is further from the full run than the halved one
    interventions: [{site: hook_text_proj, op: zero}]
    measure:
      metric: si_snr
      compare: baseline
      versus: {interventions: [{site: hook_text_proj, op: scale, args: {factor: 0.5}}]}
    expect: {direction: decrease}
"""


def _verdicts(folder, text: str = SPEC):
    path = folder / "vs.yaml"
    path.write_text(text, encoding="utf-8")
    session = SpecSession()
    plan = session.plan(str(path))
    return session, plan, {case.hypothesis_id: session.verdict(plan, case) for case in plan.cases}


@pytest.fixture(scope="module")
def fixed(tmp_path_factory):
    return _verdicts(tmp_path_factory.mktemp("fixed"))


def test_the_versus_run_is_paired_example_by_example_and_computed_once(fixed):
    session, _, verdicts = fixed
    versus, zero, half = (verdicts[k] for k in ("zero_costs_more_than_half", "zero_alone", "half_alone"))
    assert versus.examples["x"] == zero.examples["x"]  # the intervened arm: the zeroed run
    assert versus.examples["y"] == half.examples["x"]  # the other arm: the halved run, not the baseline
    assert versus.examples["y"] != zero.examples["y"]
    difference = np.array(versus.examples["x"]) - np.array(versus.examples["y"])
    assert versus.result.n == 4
    assert np.isclose(versus.result.mean_difference, difference.mean())
    assert versus.to_dict()["measure"]["versus"]["title"] == "the text projection halved"
    assert "versus the text projection halved" in versus.explain()
    assert "versus/y=" in versus.explain()
    # one run per intervention list and model: the versus runs are the other cases' runs
    runs = sorted((key[0], tuple(iv.op for iv in key[3])) for key in session.runner.runs.run_keys)
    assert runs == [("counter:no_text_injection", ("scale",)), ("counter:no_text_injection", ("zero",)),
                    ("fixture", ()), ("fixture", ("scale",)), ("fixture", ("zero",))]
    # on the counter-model the text projection carries nothing: both arms are the same output
    (control,) = versus.controls
    assert control.behaved and not control.holds and control.result.mean_difference == 0.0


def test_compare_baseline_scores_both_arms_against_the_full_run(fixed):
    session, plan, verdicts = fixed
    between = verdicts["zero_moves_the_output_more_than_half"]
    case = next(c for c in plan.cases if c.hypothesis_id == "zero_moves_the_output_more_than_half")
    runner = session.runner
    inputs = runner.inputs("fixture", case.data)
    full, zero, half = (runner.run("fixture", case.data, case.sampler, ivs)
                        for ivs in ((), case.interventions, case.measure.versus.interventions))
    assert between.examples["x"] == runner.metric_values(case.measure, zero, inputs, reference_run=full,
                                                         reasons=[]).tolist()
    assert between.examples["y"] == runner.metric_values(case.measure, half, inputs, reference_run=full,
                                                         reasons=[]).tolist()
    # halving the projection leaves the output nearer the full run than zeroing it, on every example
    assert all(x < y for x, y in zip(between.examples["x"], between.examples["y"], strict=True))
    assert between.holds


def test_a_sequential_versus_case_uses_the_same_pairs(tmp_path, fixed):
    _, _, verdicts = fixed
    text = SPEC.replace("data: {tier: clean, n: 4, seed: 0}",
                        "data: {tier: clean, seed: 0}\nsequential: {max_n: 4, chunk: 2, symmetric: true}")
    text = text[:text.index("  - id: zero_alone")]  # the versus case alone
    session, _, sequential = _verdicts(tmp_path, text)
    case = sequential["zero_costs_more_than_half"]
    assert case.sequential is not None and case.controls[0].behaved
    used = case.sequential.n_used
    assert used in (2, 4) and len(case.examples["y"]) == used
    # the same pairs as the fixed-n run (sampled in other batches: equal to float rounding)
    assert np.allclose(case.examples["x"], verdicts["zero_costs_more_than_half"].examples["x"][:used], atol=1e-4)
    assert np.allclose(case.examples["y"], verdicts["half_alone"].examples["x"][:used], atol=1e-4)
    assert not np.allclose(case.examples["y"], verdicts["zero_alone"].examples["y"][:used], atol=1e-4)
    # the versus run grows on the case's chunk grid like the intervened one
    assert any(key[3] and key[3][0].op == "scale" and key[-1] == ("block", 2)
               for key in session.runner.runs.run_keys)
