"""Declared controls in probe specs: read and checked at load time, run with their case on the
case's stimuli (sharing its features), trusted only when they behave, recorded with numbers,
skipped (and said so) with --latentflow-controls off."""

from __future__ import annotations

import json

import pytest

import latentflow.execution  # noqa: F401  (pytester: torch is imported once, up front)
from latentflow.execution import probe as run_probe
from latentflow.execution import probe_cache
from latentflow.execution.probe import run_probe_case
from latentflow.spec import SpecError, loads_spec
from latentflow.spec.plan import Overrides
from latentflow.spec.probe_plan import compile_probe_plan

HEADER = """\
latentflow: 1
claim: {id: probe_controls_demo, title: Probe controls demo, source: tests}
probe:
  stimuli: {tnr_db: [-50.0, -40.0, -30.0, -20.0, -10.0, 0.0], trials_per_class: 8, duration_s: 0.25}
  resamples: 40
  folds: 2
hypotheses:
"""
GCC_WITH_CONTROLS = """\
  - id: gcc_above
    title: GCC-PHAT unmasks the tone
    probe: {model: gcc_phat}
    expect: {direction: increase, null_value: 0}
    controls:
      - {id: one_ear, title: a monaural front end cannot unmask, model: logmel, outcome: fails}
      - {id: scrambled, ablation: target_ipd_scrambled}
      - {id: ec_baseline, model: ec, params: {centres_hz: [500]}, outcome: holds}
"""


@pytest.fixture(autouse=True)
def _private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("LATENTFLOW_CACHE_DIR", str(tmp_path / "cache"))
    run_probe.curves.cache_clear()
    run_probe.result.cache_clear()


def errors(body: str) -> str:
    with pytest.raises(SpecError) as caught:
        loads_spec(HEADER + body, "probe.yaml")
    return str(caught.value)


def test_controls_read_into_what_they_replace():
    (h,) = loads_spec(HEADER + GCC_WITH_CONTROLS, "probe.yaml").hypotheses
    one_ear, scrambled, ec = h.controls
    assert (one_ear.kind, one_ear.outcome, one_ear.model, dict(one_ear.params)) == ("model", "fails", "logmel", {})
    # an ablation alone is a sham: like a paired spec's intervention-only control it must fail
    assert (scrambled.kind, scrambled.outcome, scrambled.model, scrambled.ablation) == (
        "ablation", "fails", None, "target_ipd_scrambled")
    assert (ec.kind, ec.outcome, dict(ec.params)) == ("model", "holds", {"centres_hz": (500,)})
    assert ec.to_yaml() == {"id": "ec_baseline", "model": "ec", "params": {"centres_hz": [500]}, "outcome": "holds"}


@pytest.mark.parametrize(("control", "expected"), [
    ("{id: x, model: logmle, outcome: fails}",
     ["probe.yaml:16", "controls[3].model", "not a registered reference model", "did you mean 'logmel'"]),
    ("{id: x, model: logmel}", ["controls[3].outcome", "must say which outcome", "holds, fails"]),
    ("{id: x, title: nothing}", ["controls[3]", "a control names what it changes"]),
    ("{id: x, model: gcc_phat, outcome: holds}", ["controls[3]", "the hypothesis's own setup"]),
    ("{id: one_ear, model: ec, outcome: holds}", ["share an id", "the other is at line 13"]),
    ("{id: x, model: ec, params: {foo: 1}, outcome: holds}", ["controls[3].params", "centres_hz"]),
    ("{id: x, ablation: nope}", ["controls[3].ablation", "not a registered ablation", "target_ipd_scrambled"]),
    ("{id: x, model: logmel, site: blocks.1.hook_resid_post, outcome: fails}",
     ["controls[3].site", "no hook sites", "site only for sam_audio"]),
    ("{id: x, params: {centres_hz: [500]}, ablation: none}", ["controls[3]", "belong to a control's model"]),
    ("{id: x, model: logmel, outcome: maybe}", ["controls[3].outcome", "not an allowed value"]),
    ("{id: x, model: logmel, outcome: fails, mechanism: none}", ["controls[3].mechanism", "unknown key"]),
])
def test_control_mistakes_are_refused_at_load_time_with_file_line_and_allowed_values(control, expected):
    message = errors(GCC_WITH_CONTROLS + f"      - {control}\n")
    for piece in expected:
        assert piece in message, (piece, message)


def test_file_level_controls_apply_to_every_holding_hypothesis_first():
    spec = loads_spec(HEADER.replace("hypotheses:\n", "controls:\n  - {id: one_ear, model: logmel, outcome: fails}\n"
                                     "hypotheses:\n") + """\
  - id: gcc_above
    title: t
    probe: {model: gcc_phat}
    expect: {direction: increase}
    controls: [{id: scrambled, ablation: target_ipd_scrambled}]
  - id: gcc_zero
    title: t
    probe: {model: gcc_phat}
    expect: {direction: equivalent, margin: 1}
    outcome: fails
    reason: it sees phase
""", "probe.yaml")
    assert [c.id for c in spec.hypotheses[0].controls] == ["one_ear", "scrambled"]
    assert spec.hypotheses[1].controls == ()


def test_controls_that_behave_are_recorded_with_their_numbers_and_share_features(monkeypatch):
    stored = []
    real_store = probe_cache.store
    monkeypatch.setattr(probe_cache, "store", lambda key, *a: (stored.append(key), real_store(key, *a)))
    plan = compile_probe_plan(loads_spec(HEADER + GCC_WITH_CONTROLS + """\
  - id: logmel_zero
    title: one ear's log-mel has no BMLD
    probe: {model: logmel}
    expect: {direction: equivalent, margin: 3}
    controls: [{id: gcc, model: gcc_phat, outcome: fails}]
""", "probe.yaml"))
    first, second = (run_probe_case(case) for case in plan.cases)
    assert first.holds and first.passed and not first.misbehaved
    assert [(c.id, c.expected, c.holds, c.behaved) for c in first.controls] == [
        ("one_ear", "fails", False, True), ("scrambled", "fails", False, True), ("ec_baseline", "holds", True, True)]
    record = first.to_dict()["controls"]
    assert record[0]["stats"]["confidence_interval"] == [0.0, 0.0]  # one ear: identical curves, exactly 0
    assert record[0]["probe"]["model"] == "logmel" and record[1]["probe"]["ablation"] == "target_ipd_scrambled"
    assert record[2]["stats"]["confidence_interval"][0] > 0 and "failed as declared" in record[0]["why"]
    # every (model, params, stimulus set) was computed once: the second case's run and its control
    # (logmel, gcc_phat) are the first case's control and run, read from the caches
    assert len(stored) == len(set(stored)) == 2 * 4  # gcc, logmel, gcc scrambled, ec; two conditions each
    assert second.controls[0].probe["bmld_db"] == first.extra["probe"]["bmld_db"] and second.holds


def test_a_control_that_misbehaves_makes_the_case_fail_with_the_test_cannot_tell():
    plan = compile_probe_plan(loads_spec(HEADER + """\
  - id: gcc_above
    title: GCC-PHAT unmasks the tone
    probe: {model: gcc_phat}
    expect: {direction: increase, null_value: 0}
    controls:
      - {id: ec_as_negative, model: ec, params: {centres_hz: [500]}, outcome: fails}
      - {id: logmel_as_positive, model: logmel, outcome: holds}
""", "probe.yaml"))
    verdict = run_probe_case(plan.cases[0])
    assert verdict.result.passed and not verdict.holds and not verdict.passed
    assert verdict.why.startswith("the test cannot tell: control ec_as_negative held although its mechanism is "
                                  "removed (ec on tone (intact))")
    assert "control logmel_as_positive failed although its mechanism is present" in verdict.why
    assert "MISBEHAVED" in verdict.explain()


def test_a_versus_comparison_follows_the_control_where_it_followed_the_case():
    plan = compile_probe_plan(loads_spec(HEADER + """\
  - id: keeps_half
    title: t
    probe: {model: gcc_phat, ablation: mixture_ipd_removed}
    expect: {direction: increase, versus: {ablation: none, scale: 0.5}}
    controls: [{id: one_ear, model: logmel, outcome: fails}]
  - id: near_ec
    title: t
    probe: {model: binaural_phase}
    expect: {direction: equivalent, margin: 3, versus: {model: ec}}
    controls: [{id: one_ear, model: logmel, outcome: fails}]
""", "probe.yaml"), Overrides(seed=3))
    from latentflow.spec.probe_controls import control_setups

    keeps, near = plan.cases
    setup, versus = control_setups(keeps.setup, keeps.expect, keeps.controls[0])
    assert (setup.model, setup.ablation, versus.model, versus.ablation, setup.seed) == (
        "logmel", "mixture_ipd_removed", "logmel", None, 3)
    setup, versus = control_setups(near.setup, near.expect, near.controls[0])
    assert (setup.model, versus.model, versus.seed) == ("logmel", "ec", 3)


def test_the_plugin_runs_controls_and_skips_them_when_asked(pytester):
    pytester.makefile(".yaml", demo=HEADER + GCC_WITH_CONTROLS)
    result = pytester.runpytest("-p", "no:cacheprovider", "--latentflow-results=on.json")
    result.assert_outcomes(passed=1)
    (verdict,) = json.loads((pytester.path / "on.json").read_text())["verdicts"]
    assert [c["id"] for c in verdict["controls"]] == ["one_ear", "scrambled", "ec_baseline"]
    assert all(c["behaved"] for c in verdict["controls"])
    result = pytester.runpytest("-p", "no:cacheprovider", "--latentflow-controls", "off",
                                "--latentflow-results=off.json")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["*declared controls skipped (--latentflow-controls off)*"])
    (verdict,) = json.loads((pytester.path / "off.json").read_text())["verdicts"]
    assert verdict["controls_skipped"] is True and "controls" not in verdict
    assert "(controls skipped: --latentflow-controls off)" in verdict["why"]
