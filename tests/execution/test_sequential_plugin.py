"""Sequential specs through the pytest plugin: the same verdicts and numbers, bit for bit, on one
worker and on two, a family corrected under optional stopping, and the failure screen."""

from __future__ import annotations

import json

import transformers  # noqa: F401

# pytester's in-process runs forget modules first imported during a run; torch and the
# tokenizers' compiled extensions cannot be imported twice, so import them up front.
import latentflow.execution
import latentflow.pipeline  # noqa: F401

HEADER = """\
latentflow: 1
claim: {id: engine, title: Engine checks, source: tests}
model: "random:fixture"
data: {tier: clean, seed: 0}
sampler: {method: euler, steps: 2}
sequential: {max_n: 12, chunk: 4, symmetric: true}
"""

TEXT_ZERO = """\
  - id: text_zero
    title: Zeroing the text projection lowers SI-SNR against the baseline
    interventions: [{site: hook_text_proj, op: zero}]
    measure: {metric: si_snr, compare: baseline}
    expect: {direction: DIRECTION, null_value: 60.0}
"""

SCALE_TINY = """\
  - id: scale_tiny
    title: Scaling cross-attention by 1.01 lowers SI-SNR
    interventions: [{site: blocks.*.hook_cross_out, op: scale, args: {factor: 1.01}}]
    measure: {metric: si_snr, compare: target}
    expect: {direction: decrease}
    outcome: fails
    reason: "a 1% scale changes nothing measurable"
"""


def test_one_and_two_workers_give_identical_sequential_results(pytester):
    pytester.makefile(".yaml", a=HEADER + "family: {correction: holm}\nhypotheses:\n"
                      + TEXT_ZERO.replace("DIRECTION", "decrease") + SCALE_TINY)
    # another claim id: the runner memoises a case's numbers by its id
    pytester.makefile(".yaml", b=HEADER.replace("id: engine", "id: engine_b") + "hypotheses:\n"
                      + TEXT_ZERO.replace("DIRECTION", "increase"))
    serial = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--latentflow-results=serial.json",
                                           "--junitxml=serial.xml")
    parallel = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-n", "2", "--latentflow-results=parallel.json")
    for run in (serial, parallel):
        run.assert_outcomes(passed=1, xfailed=1, failed=1)
    a = json.loads((pytester.path / "serial.json").read_text())
    b = json.loads((pytester.path / "parallel.json").read_text())
    assert a == b
    verdicts = {(v["claim"], v["hypothesis"]): v for v in a["verdicts"]}
    held = verdicts[("engine", "text_zero")]["sequential"]
    assert (held["status"], held["n_used"], held["correction"], held["family_size"]) == ("holds", 8, "holm", 2)
    assert held["pvalue_corrected"] == 2 * held["pvalue"]  # Holm's smallest of two
    # in a corrected family of 2 each case stops at alpha / 2; the family is judged at alpha
    assert (held["alpha"], held["family_alpha"]) == (0.025, 0.05) and "<= alpha 0.025" in held["reason"]
    # the decision as JUnit properties too: the n used, where and why it stopped
    import xml.etree.ElementTree as ET

    case = next(c for c in ET.parse(pytester.path / "serial.xml").iter("testcase") if c.get("name") == "text_zero"
                and "a.yaml" in (c.get("classname", "") + c.get("file", "")))
    props = {p.get("name"): p.get("value") for p in case.iter("property")}
    assert (props["sequential_status"], props["sequential_n_used"], props["sequential_stopped_at_look"]) == (
        "holds", "8", "2")
    assert props["sequential_reason"] == held["reason"] and props["sequential_method"] == "t_mixture"
    assert float(props["sequential_cs_high"]) == held["cs_upper"][7]
    assert "still holds after Holm-corrected anytime p" in held["reason"]
    assert verdicts[("engine", "scale_tiny")]["sequential"]["status"] == "futility"
    assert len(verdicts[("engine", "text_zero")]["examples"]["x"]) == 8
    # a claim that does not hold explains its sequential decision next to the fixed-n test
    serial.stdout.fnmatch_lines([
        "FAIL: the claim does not hold: increase (x - y > 0) stopped for futility after * pairs*",
        "n           *",
        "fixed-n     paired_t (greater), t=*  (on the examples used; not the decision)",
        "sequential  t_mixture (greater), alpha=0.05: FUTILITY at n=* of at most 12 (look * of 3)*",
        "conf. seq.  90% at each look: n=4 *",
    ])
