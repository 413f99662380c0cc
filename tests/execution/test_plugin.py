"""The pytest plugin end to end: specs collected, run, judged, explained and recorded.

The specs here run on ``random:fixture`` (the fixture architecture with seeded random weights,
the real bench, codec and text encoder) with few examples and steps, so they stay fast.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import transformers  # noqa: F401

# pytester's in-process runs forget modules first imported during a run; torch and the
# tokenizers' compiled extensions cannot be imported twice, so import them up front.
import latentflow.execution
import latentflow.pipeline  # noqa: F401
from latentflow.audio.text import encoder_from_name

encoder_from_name("minilm").encode(["warm up the tokenizer and model modules"])

HEADER = """\
latentflow: 1
claim: {id: engine, title: Engine checks, source: tests}
model: "random:fixture"
data: {tier: clean, n: 4, seed: 0}
sampler: {method: euler, steps: 2}
"""

TEXT_ZERO = """\
  - id: text_zero_changes_output
    title: Zeroing the text projection changes the output
    interventions: [{site: hook_text_proj, op: zero}]
    measure: {metric: si_snr, compare: baseline}
    expect: {direction: decrease, test: paired_t, null_value: 60.0}
"""

SCALE_ONE = """\
  - id: scale_one_changes_nothing
    title: Scaling by one is recorded as making no difference
    interventions: [{site: blocks.*.hook_cross_out, op: scale, args: {factor: 1.0}}]
    measure: {metric: si_snr, compare: target}
    expect: {direction: decrease, test: paired_t}
    outcome: fails
    reason: "scaling by 1 is the identity: every difference is zero"
"""


def write_spec(pytester, body: str, name: str = "engine.yaml"):
    return pytester.makefile(".yaml", **{name.removesuffix(".yaml"): HEADER + body})


def test_verdicts_outcomes_results_and_junit(pytester):
    write_spec(pytester, "hypotheses:\n" + TEXT_ZERO + SCALE_ONE)
    result = pytester.runpytest("-p", "no:cacheprovider", "-rx", "--latentflow-results=r.json", "--junitxml=j.xml")
    # a claim recorded as not holding is an expected failure, counted as such (not as a pass)
    result.assert_outcomes(passed=1, xfailed=1)
    result.stdout.fnmatch_lines([
        "XFAIL engine.yaml::scale_one_changes_nothing - recorded as outcome: fails: scaling by 1 is the identity*",
        "*1 passed, 1 xfailed*",
    ])
    results = json.loads((pytester.path / "r.json").read_text())
    # what ran, gathered from the worker that ran it, and each example of both arms
    assert results["model"] == {"name": "random:fixture", "kind": "random", "preset": "fixture", "weights_seed": 0}
    assert results["codec"]["name"] == "mel" and results["text_encoder"] == {"name": "minilm", "dim": 384}
    assert results["seeds"] == {"override": None, "data_seeds": [0]}
    verdicts = {v["hypothesis"]: v for v in results["verdicts"]}
    assert len(verdicts["text_zero_changes_output"]["examples"]["x"]) == 4
    held = verdicts["text_zero_changes_output"]
    assert held["holds"] and held["passed"] and held["stats"]["n"] == 4
    assert held["x_mean"] < 60.0 and held["stats"]["pvalue"] < 0.05
    recorded = verdicts["scale_one_changes_nothing"]
    assert not recorded["holds"] and recorded["passed"] and recorded["expected"] == "fails"
    assert "cannot be tested" in recorded["stats"]["reason"]  # all differences are exactly zero
    props = {p.get("name"): p.get("value") for p in ET.parse(pytester.path / "j.xml").iter("property")}
    assert {"claim_holds", "effect_size", "pvalue", "ci_low", "ci_high", "latentflow_verdict"} <= set(props)


INTERNAL = """\
  - id: cross_entropy_under_zeroed_text
    title: Zeroing the text projection changes the entropy of cross-attention at block 0
    interventions: [{site: hook_text_proj, op: zero}]
    measure: {metric: attention_entropy, compare: internal, site: blocks.0.cross_attn.hook_pattern}
    expect: {direction: two-sided, test: paired_t}
"""


def test_a_session_writes_the_results_file_the_plugin_writes(pytester, tmp_path):
    from latentflow.execution import SpecSession

    spec = write_spec(pytester, "hypotheses:\n" + TEXT_ZERO + SCALE_ONE + INTERNAL)
    result = pytester.runpytest("-p", "no:cacheprovider", "--latentflow-results=r.json", "--latentflow-seed=5")
    assert result.ret in (0, 1), result.stdout.str()
    by_plugin = json.loads((pytester.path / "r.json").read_text())
    session = SpecSession(seed=5)
    path = session.write_results(tmp_path / "r.json", session.verify(spec))
    by_session = json.loads(path.read_text())
    assert len(by_plugin["verdicts"]) == 3
    # the location may spell the spec's path differently (relative to where pytest ran): the same
    # file and line, and every other field equal
    for a, b in zip(by_plugin["verdicts"], by_session["verdicts"], strict=True):
        file_a, _, line_a = a.pop("location").rpartition(":")
        file_b, _, line_b = b.pop("location").rpartition(":")
        assert (pytester.path / file_a).resolve() == Path(file_b).resolve() and line_a == line_b
    assert by_session == by_plugin
    measure = {v["hypothesis"]: v["measure"] for v in by_session["verdicts"]}
    # the measure as the spec writes it (compiled: every step), not as text
    assert measure["cross_entropy_under_zeroed_text"] == {
        "metric": "attention_entropy", "compare": "internal", "site": "blocks.0.cross_attn.hook_pattern",
        "steps": "all"}


def test_a_failing_claim_explains_itself_on_one_screen(pytester):
    write_spec(pytester, "hypotheses:\n" + TEXT_ZERO.replace("decrease", "increase"))
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines([
        "FAIL: the claim does not hold: increase*",
        "claim       engine: Engine checks",
        "hypothesis  text_zero_changes_output: * (*engine.yaml:7)",
        "intervention zero() at hook_text_proj",
        "n           4*",
        "effect      mean difference * d_z=*",
        "test        paired_t (greater), t=*, p=*, alpha=0.05",
    ])
    assert "Traceback" not in result.stdout.str()


def test_a_recorded_failure_that_starts_holding_fails(pytester):
    body = TEXT_ZERO.replace("    expect:", "    outcome: fails\n    reason: believed broken\n    expect:")
    write_spec(pytester, "hypotheses:\n" + body)
    result = pytester.runpytest("-p", "no:cacheprovider", "--latentflow-results=r.json")
    result.assert_outcomes(failed=1)  # strict xfail: an unexpected hold fails the run
    result.stdout.fnmatch_lines([
        "[[]XPASS(strict)[]] recorded as outcome: fails: believed broken",
        "FAIL: the spec records that this claim fails on this model (believed broken), but it now holds*",
        "claim       engine: Engine checks",
    ])
    (verdict,) = json.loads((pytester.path / "r.json").read_text())["verdicts"]
    assert verdict["holds"] and verdict["expected"] == "fails" and not verdict["passed"]


def test_a_crash_in_a_recorded_failure_is_an_error_not_the_expected_failure(pytester):
    # xfail(raises=...): only the claim's own "does not hold" counts as the recorded failure
    write_spec(pytester, "hypotheses:\n" + SCALE_ONE)
    pytester.makeconftest("""
import pytest
from latentflow.execution.session import SpecSession

def boom(*args, **kwargs):
    raise RuntimeError("the runner crashed")

@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item):  # restored after the call: pytester runs share the module
    monkeypatch = pytest.MonkeyPatch()
    monkeypatch.setattr(SpecSession, "verdict", boom)
    try:
        return (yield)
    finally:
        monkeypatch.undo()
""")
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*RuntimeError: the runner crashed*"])


def test_family_correction_is_applied(pytester):
    body = "family: {correction: bonferroni}\nhypotheses:\n" + TEXT_ZERO + TEXT_ZERO.replace(
        "text_zero_changes_output", "text_zero_again")
    write_spec(pytester, body)
    pytester.runpytest("-p", "no:cacheprovider", "--latentflow-results=r.json").assert_outcomes(passed=2)
    for v in json.loads((pytester.path / "r.json").read_text())["verdicts"]:
        stats = v["stats"]
        assert stats["correction"] == "bonferroni" and stats["family_size"] == 2
        assert stats["pvalue_corrected"] == pytest.approx(min(1.0, 2 * stats["pvalue"]))


def test_a_failing_fuzz_example_is_reported_as_a_spec(pytester):
    body = """\
fuzz:
  - id: scale_two_is_not_identity
    invariant: identity_at_scale_1
    given: {layer: {integers: [0, 7]}}
    interventions: [{site: "blocks.{layer}.hook_mlp_out", op: scale, args: {factor: 2.0}}]
    max_examples: 2
"""
    write_spec(pytester, body)
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines([
        "fuzz check scale_two_is_not_identity (identity_at_scale_1) failed:",
        "*differs from the baseline by up to*",
        "a spec that reproduces the failing example:",
        "latentflow: 1",
        "*max_examples: 1",
    ])


def test_a_passing_fuzz_check(pytester):
    body = """\
fuzz:
  - id: freeze_past_end
    invariant: freeze_past_last_step_is_baseline
    given: {layer: {integers: [0, 7]}, k: {integers: [2, 9]}}
    interventions: [{site: "blocks.{layer}.attn.hook_pattern", op: freeze_pattern, args: {from_step: "{k}"}}]
    max_examples: 3
"""
    write_spec(pytester, body)
    pytester.runpytest("-p", "no:cacheprovider").assert_outcomes(passed=1)


SCALE_TWO_FUZZ = """\
fuzz:
  - id: scale_two_is_identity
    invariant: identity_at_scale_1
    given: {layer: {integers: [0, 7]}}
    interventions: [{site: "blocks.{layer}.hook_mlp_out", op: scale, args: {factor: FACTOR}}]
    max_examples: 2
    outcome: fails
    reason: scaling by 2 changes the output
"""


def test_a_fuzz_check_recorded_as_failing_is_xfailed_while_it_fails(pytester):
    write_spec(pytester, SCALE_TWO_FUZZ.replace("FACTOR", "2.0"))
    result = pytester.runpytest("-p", "no:cacheprovider", "-rx")
    result.assert_outcomes(xfailed=1)
    result.stdout.fnmatch_lines(["XFAIL engine.yaml::fuzz::scale_two_is_identity - recorded as outcome: fails: "
                                 "scaling by 2 changes the output"])


def test_a_fuzz_check_recorded_as_failing_that_starts_holding_fails(pytester):
    write_spec(pytester, SCALE_TWO_FUZZ.replace("FACTOR", "1.0"))
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["[[]XPASS(strict)[]] recorded as outcome: fails: scaling by 2 changes the output",
                                 "*scale_two_is_identity (identity_at_scale_1) is recorded as outcome: fails "
                                 "(scaling by 2 changes the output), but the invariant held on all 2 examples*"])


def test_a_fuzz_check_recorded_as_failing_needs_a_reason(pytester):
    write_spec(pytester, SCALE_TWO_FUZZ.replace("FACTOR", "2.0").replace("    reason: scaling by 2 changes the output\n", ""))
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.stdout.fnmatch_lines(["*engine.yaml:*fuzz[[]0[]].reason*outcome: fails needs a reason*"])
    assert result.ret != 0


def test_bad_specs_fail_collection_with_file_line_and_allowed_values(pytester):
    write_spec(pytester, "hypotheses:\n" + TEXT_ZERO.replace("hook_text_proj", "hook_text_prj"))
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.stdout.fnmatch_lines(["*engine.yaml:9*hook_text_prj*hook_text_proj*"])
    assert result.ret != 0


def test_other_yaml_is_ignored(pytester):
    pytester.makefile(".yaml", config="name: not a spec\nlist: [1, 2]\n")
    result = pytester.runpytest("-p", "no:cacheprovider")
    assert result.ret == pytest.ExitCode.NO_TESTS_COLLECTED
    assert "SpecMarkerWarning" not in result.stdout.str()


@pytest.mark.parametrize("marker", ["", "latentflo: 1\n", "LatentFlow: 1\n"])
def test_a_spec_without_its_marker_is_skipped_with_a_warning_naming_file_and_marker(pytester, marker):
    spec = (HEADER + "hypotheses:\n" + TEXT_ZERO).replace("latentflow: 1\n", marker)
    path = pytester.makefile(".yaml", engine=spec)
    result = pytester.runpytest("-p", "no:cacheprovider")
    assert result.ret == pytest.ExitCode.NO_TESTS_COLLECTED
    found = f"; found {marker.split(':')[0]!r} instead" if marker else ""
    result.stdout.fnmatch_lines(["*warnings summary*", f"*SpecMarkerWarning: {path}: has a top-level 'claim' key "
                                 f"like a spec but no `latentflow: 1` marker{found}, so it is not collected*"])


def test_two_workers_give_the_same_verdicts_and_numbers_as_one(pytester):
    write_spec(pytester, "hypotheses:\n" + TEXT_ZERO + SCALE_ONE, name="a.yaml")
    write_spec(pytester, "hypotheses:\n" + TEXT_ZERO.replace("text_zero_changes_output", "other"), name="b.yaml")
    serial = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--latentflow-results=serial.json")
    parallel = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-n", "2", "--latentflow-results=parallel.json")
    serial.assert_outcomes(passed=2, xfailed=1)
    parallel.assert_outcomes(passed=2, xfailed=1)
    a = json.loads((pytester.path / "serial.json").read_text())
    b = json.loads((pytester.path / "parallel.json").read_text())
    assert a == b


def test_two_workers_keep_each_spec_file_on_one_worker(pytester):
    # latentflow.xdist_scheduling: a file's cases share baselines, so they are not scattered
    for name in ("a", "b"):
        cases = "".join(TEXT_ZERO.replace("text_zero_changes_output", f"h{i}") for i in range(3))
        write_spec(pytester, "hypotheses:\n" + cases, name=f"{name}.yaml")
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-n", "2", "-v")
    result.assert_outcomes(passed=6)
    workers: dict[str, set[str]] = {}
    for line in result.outlines:  # "[gw0] [ 16%] PASSED a.yaml::h0"
        if "PASSED" in line and ".yaml::" in line:
            worker, rest = line.split("]", 1)
            workers.setdefault(rest.split("::")[0].split()[-1], set()).add(worker)
    assert set(workers) == {"a.yaml", "b.yaml"} and all(len(w) == 1 for w in workers.values()), workers


def test_every_model_problem_is_one_collection_error_line_naming_the_model_line(pytester):
    pytester.path.joinpath("junk.safetensors").write_text("not a checkpoint\n")
    pytester.path.joinpath("junk.pt").write_bytes(b"\x80\x02not a torch archive")
    from latentflow.fixture import fixture_model_path

    pytester.path.joinpath("corrupt.safetensors").write_bytes(fixture_model_path().read_bytes()[:2000])
    models = {"missing": '"missing.safetensors"', "typo": "fixtrue", "junk": '"junk.safetensors"',
              "junk_pt": '"junk.pt"', "corrupt": '"corrupt.safetensors"', "preset": '"random:nope"'}
    for name, model in models.items():
        pytester.makefile(".yaml", **{name: HEADER.replace('model: "random:fixture"', f"model: {model}")
                                      + "hypotheses:\n" + TEXT_ZERO})
    result = pytester.runpytest("-p", "no:cacheprovider")
    assert result.ret == pytest.ExitCode.INTERRUPTED
    out = result.stdout.str()
    assert "Traceback" not in out and "latentflow/" not in out.replace(str(pytester.path), "")
    for name in models:
        errors = [line for line in out.splitlines() if line.startswith(f"{pytester.path}/{name}.yaml:3: model: ")]
        assert len(errors) == 1, out
    result.stdout.fnmatch_lines([
        "*junk_pt.yaml:3: model: *junk.pt: cannot be read as a PyTorch weights file*",
        "*missing.yaml:3: model: model '*missing.safetensors': no such file*",
        "*preset.yaml:3: model: model 'random:nope': unknown preset 'nope'; allowed: *",
        "*typo.yaml:3: model: model 'fixtrue': no such file or folder; give 'fixture'*",
    ])
    # the command-line option is named when it chose the model
    result = pytester.runpytest("-p", "no:cacheprovider", "typo.yaml", "--latentflow-model=fixtrue")
    result.stdout.fnmatch_lines(["--latentflow-model=fixtrue: model 'fixtrue': no such file or folder*"])


PARAMETRISED = """\
  - id: scaled
    title: Scaling the text projection by {factor}
    parametrize: {factor: [0.5, 2.0], tier: [clean, noisy]}
    data: {tier: "{tier}"}
    marks: [slow]
    interventions: [{site: hook_text_proj, op: scale, args: {factor: "{factor}"}}]
    measure: {metric: si_snr, compare: baseline}
    expect: {direction: decrease, null_value: 60.0}
"""


def _selected(result) -> list[str]:
    return sorted(line.split("::", 1)[1] for line in result.stdout.lines if line.startswith("engine.yaml::"))


def test_case_ids_select_with_k_and_marks_with_m_under_strict_markers(pytester):
    write_spec(pytester, "marks: [nightly]\nhypotheses:\n" + TEXT_ZERO + SCALE_ONE + PARAMETRISED
               + SCALE_TWO_FUZZ.replace("FACTOR", "2.0"))

    def collect(*args):
        result = pytester.runpytest("-p", "no:cacheprovider", "--collect-only", "-q", "--strict-markers", *args)
        assert result.ret == pytest.ExitCode.OK, result.stdout.str()
        assert "PytestUnknownMarkWarning" not in result.stdout.str()
        return _selected(result)

    everything = collect()
    assert everything == sorted(["text_zero_changes_output", "scale_one_changes_nothing", "scaled[0.5-clean]",
                                 "scaled[0.5-noisy]", "scaled[2.0-clean]", "scaled[2.0-noisy]",
                                 "fuzz::scale_two_is_identity"])
    assert collect("-k", "0.5-noisy") == ["scaled[0.5-noisy]"]
    assert collect("-k", "scaled and clean") == ["scaled[0.5-clean]", "scaled[2.0-clean]"]
    assert collect("-m", "slow") == [c for c in everything if c.startswith("scaled")]
    assert collect("-m", "tier_noisy") == ["scaled[0.5-noisy]", "scaled[2.0-noisy]"]
    assert collect("-m", "fuzz") == ["fuzz::scale_two_is_identity"]
    assert collect("-m", "recorded_fails") == ["fuzz::scale_two_is_identity", "scale_one_changes_nothing"]
    assert collect("-m", "nightly and claim_engine and not slow") == [
        "fuzz::scale_two_is_identity", "scale_one_changes_nothing", "text_zero_changes_output"]
    markers = pytester.runpytest("-p", "no:cacheprovider", "--markers").stdout.str()
    for name in ("latentflow:", "fuzz:", "tier_clean:", "tier_noisy:", "tier_env:", "holds:", "recorded_fails:"):
        assert f"@pytest.mark.{name}" in markers


def test_a_spec_cannot_declare_pytest_own_marks(pytester):
    write_spec(pytester, "marks: [xfail, 'not a name']\nhypotheses:\n" + TEXT_ZERO)
    result = pytester.runpytest("-p", "no:cacheprovider", "--collect-only")
    result.stdout.fnmatch_lines(["*engine.yaml:6: marks[[]0[]]: 'xfail' is pytest's own mark*",
                                 "*engine.yaml:6: marks[[]1[]]: expected a mark name*"])


def test_a_smoke_run_uses_at_most_n_examples_and_says_so(pytester):
    write_spec(pytester, "hypotheses:\n" + TEXT_ZERO)
    result = pytester.runpytest("-p", "no:cacheprovider", "--latentflow-n=2", "--latentflow-results=r.json")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["latentflow: smoke run, every case with at most 2 examples (--latentflow-n)*",
                                 "latentflow: smoke run with at most 2 examples per case*"])
    data = json.loads((pytester.path / "r.json").read_text())
    assert data["smoke_run"] == {"max_examples_per_case": 2}
    (verdict,) = data["verdicts"]
    assert verdict["stats"]["n"] == 2  # the spec asks for 4
    full = pytester.runpytest("-p", "no:cacheprovider", "--latentflow-results=full.json")
    assert "smoke run" not in full.stdout.str()
    assert json.loads((pytester.path / "full.json").read_text())["smoke_run"] is None
    assert pytester.runpytest("-p", "no:cacheprovider", "--latentflow-n=0").ret == pytest.ExitCode.USAGE_ERROR

