"""The probe hypothesis kind: read with line numbers and clear errors, run through latentflow.bmld,
judged on paired bootstrap intervals, recorded for the results file, the gate and the report."""

from __future__ import annotations

import json

import numpy as np
import pytest

import latentflow.bmld.references
import latentflow.execution  # noqa: F401  (pytester: torch is imported once, up front)
from latentflow.bmld.probe import bmld, detection_curve
from latentflow.bmld.references import REFERENCE_MODELS
from latentflow.bmld.stimuli import StimulusConfig, make_pair
from latentflow.execution import probe as run_probe
from latentflow.execution import probe_cache
from latentflow.spec import SpecError, loads_spec
from latentflow.spec.plan import Overrides
from latentflow.spec.probe import ProbeSpec
from latentflow.spec.probe_plan import compile_probe_plan
from latentflow.xdist_scheduling import scope_of

# A small protocol: 6 rungs, 8 trials per class, 0.25 s trials (the shapes of tests/bmld's SMALL).
SMALL = {"tnr_db": [-50.0, -40.0, -30.0, -20.0, -10.0, 0.0], "trials_per_class": 8, "duration_s": 0.25}
HEADER = """\
latentflow: 1
claim: {id: probe_demo, title: Probe demo, source: tests}
probe: {stimuli: {tnr_db: [-50.0, -40.0, -30.0, -20.0, -10.0, 0.0], trials_per_class: 8, duration_s: 0.25}, resamples: 40, folds: 2}
hypotheses:
"""
GCC_ABOVE = """\
  - id: gcc_above
    title: GCC-PHAT unmasks the tone
    probe: {model: gcc_phat}
    expect: {direction: increase, null_value: 0}
"""


@pytest.fixture(autouse=True)
def _private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("LATENTFLOW_CACHE_DIR", str(tmp_path / "cache"))
    run_probe.curves.cache_clear()
    run_probe.result.cache_clear()


def load(body: str) -> ProbeSpec:
    return loads_spec(HEADER + body, "probe.yaml")


def errors(body: str) -> str:
    with pytest.raises(SpecError) as caught:
        load(body)
    return str(caught.value)


# --- reading ---------------------------------------------------------------------------------


def test_a_probe_spec_reads_into_setups_with_file_defaults_merged():
    spec = load(GCC_ABOVE + """\
  - id: near_ec
    title: t
    parametrize: {model: [binaural_phase, binaural_magnitude]}
    probe: {model: "{model}", stimuli: {target: speech}}
    expect: {direction: equivalent, margin: 3, versus: {model: ec, params: {centres_hz: [250, 500]}}}
    outcome: fails
    reason: measured
""")
    assert isinstance(spec, ProbeSpec) and [h.variant for h in spec.hypotheses] == [None, "binaural_phase",
                                                                                     "binaural_magnitude"]
    near = spec.hypotheses[1]
    assert dict(near.probe.stimuli) == {**{k: tuple(v) if isinstance(v, list) else v for k, v in SMALL.items()},
                                        "target": "speech"}
    assert near.probe.resamples == 40 and near.probe.folds == 2
    assert near.expect.versus.model == "ec" and dict(near.expect.versus.params) == {"centres_hz": (250, 500)}
    assert near.expect.versus.stimuli == near.probe.stimuli and near.outcome == "fails"


@pytest.mark.parametrize(("body", "expected"), [
    ("probe: {model: gcc_phatt}\n    expect: {direction: increase}",
     ["probe.yaml:7", "hypotheses[0].probe.model", "not a registered reference model", "'gcc_phatt'",
      "did you mean 'gcc_phat'", "binaural_magnitude", "crepe", "ec"]),
    ("probe: {model: ec, stimuli: {tone_hertz: 400}}\n    expect: {direction: increase}",
     ["probe.yaml:7", "unknown stimulus field(s) ['tone_hertz']", "did you mean 'tone_hz'"]),
    ("probe: {model: ec, stimuli: {target: noise}}\n    expect: {direction: increase}",
     ["probe.yaml:7", "hypotheses[0].probe.stimuli", "target must be one of tone, speech"]),
    ("probe: {model: ec, site: blocks.4.hook_resid_post}\n    expect: {direction: increase}",
     ["probe.yaml:7", "hypotheses[0].probe.site", "has one fixed read-out", "site only for sam_audio"]),
    ("probe: {model: sam_audio, site: resid_post}\n    expect: {direction: increase}",
     ["probe.yaml:7", "not a hook site", "blocks.<layer>.hook_<name>"]),
    ("probe: {model: ec, params: {sigma: 1}}\n    expect: {direction: increase}",
     ["hypotheses[0].probe.params", "has no parameter(s) ['sigma']", "centres_hz"]),
    ("probe: {model: ec, ablation: ipd_removed}\n    expect: {direction: increase}",
     ["hypotheses[0].probe.ablation", "not a registered ablation", "mixture_ipd_removed", "none"]),
    ("probe: {model: ec}\n    expect: {direction: equivalent}",
     ["probe.yaml:8", "hypotheses[0].expect.margin", "needs a margin"]),
    ("probe: {model: ec}\n    expect: {direction: increase, margin: 3}",
     ["hypotheses[0].expect.margin", "only for direction: equivalent"]),
    ("probe: {model: ec}\n    expect: {direction: larger}",
     ["hypotheses[0].expect.direction", "increase, decrease, equivalent"]),
    ("probe: {model: ec}\n    expect: {direction: increase, quantity: threshold}",
     ["hypotheses[0].expect.quantity", "bmld, threshold_n0s0, threshold_n0spi"]),
    ("probe: {model: ec}\n    expect: {direction: increase, versus: {model: ec}}",
     ["hypotheses[0].expect.versus", "names the hypothesis' own setup"]),
    ("probe: {model: ec, folds: 9}\n    expect: {direction: increase}",
     ["hypotheses[0].probe.folds", "needs at least 9 trials per class", "folds <= stimuli.trials_per_class (8)"]),
    ("probe: {model: ec, resamples: 5}\n    expect: {direction: increase}",
     ["hypotheses[0].probe.resamples", "integers from 10 to 100000"]),
    ("probe: {model: ec}\n    expect: {direction: increase}\n    measure: {metric: stoi}",
     ["hypotheses[0].measure", "unknown key", "probe, expect"]),
])
def test_mistakes_are_reported_with_file_line_field_and_allowed_values(body, expected):
    message = errors(f"  - id: h\n    title: t\n    {body}\n")
    for piece in expected:
        assert piece in message, (piece, message)


def test_every_problem_of_a_file_is_reported_at_once():
    message = errors("  - id: a\n    title: t\n    probe: {model: nope}\n    expect: {direction: increase}\n"
                     "  - id: a\n    title: t\n    probe: {model: ec}\n    expect: {direction: sideways}\n")
    assert "probe.yaml:7" in message and "probe.yaml:12" in message


def test_duplicate_ids_are_refused():
    assert "duplicate hypothesis id" in errors(GCC_ABOVE + GCC_ABOVE)


def test_overrides_set_the_seed_and_limit_trials_of_setup_and_versus():
    spec = load("  - id: h\n    title: t\n    probe: {model: gcc_phat}\n"
                "    expect: {direction: increase, versus: {model: ec}}\n")
    (case,) = compile_probe_plan(spec, Overrides(seed=7, max_n=3, model="fixture")).cases
    assert case.setup.seed == case.expect.versus.seed == 7
    assert case.setup.stimuli["trials_per_class"] == 3 and case.expect.versus.stimuli["trials_per_class"] == 3
    assert case.model_override == "fixture" and case.group == "tone"


# --- running ---------------------------------------------------------------------------------


def _library_result(model: str, **params):
    """The same probe computed with latentflow.bmld alone, for comparison."""
    config = StimulusConfig(**{k: tuple(v) if isinstance(v, list) else v for k, v in SMALL.items()})
    pair = make_pair(config, seed=0)
    curves = [detection_curve(REFERENCE_MODELS.get(model).features(s, **params), s.labels, s.tnr_db, seed=0,
                              n_splits=2) for s in pair]
    return bmld(*curves, seed=0, n_resamples=40)


def test_a_probe_case_reproduces_the_library_and_records_what_the_gate_and_report_read():
    from latentflow.gate import read_cases as gate_cases
    from latentflow.report.bmld import bmld_section
    from latentflow.report.cases import read_cases

    plan = compile_probe_plan(load(GCC_ABOVE + """\
  - id: ec_minus_gcc
    title: t
    probe: {model: ec}
    expect: {direction: decrease, versus: {model: gcc_phat}}
"""))
    gcc, ec_minus_gcc = (run_probe.run_probe_case(case) for case in plan.cases)
    expected = _library_result("gcc_phat")
    record = gcc.extra["probe"]
    assert record["bmld_db"] == expected.bmld_db and tuple(record["interval"]) == expected.confidence_interval
    assert record["threshold_n0s0_db"] == expected.threshold_n0s0_db
    assert record["curve_n0spi"]["accuracy"] == list(expected.curve_n0spi.accuracy)
    assert gcc.holds == (expected.confidence_interval[0] > 0)
    # the comparison is paired: the difference of the replicates, not of the intervals
    ec = _library_result("ec")
    differences = (np.subtract(ec.replicates_n0s0_db, ec.replicates_n0spi_db)
                   - np.subtract(expected.replicates_n0s0_db, expected.replicates_n0spi_db))
    low, high = np.quantile(differences[np.isfinite(differences)], [0.025, 0.975])  # failed refits left out
    assert ec_minus_gcc.result.confidence_interval == pytest.approx((low, high))
    assert ec_minus_gcc.result.mean_difference == pytest.approx(ec.bmld_db - expected.bmld_db)
    assert ec_minus_gcc.holds == (high < 0)
    assert ec_minus_gcc.extra["probe"]["versus"]["model"] == "gcc_phat"
    payload = {"latentflow_results": 3, "verdicts": [json.loads(json.dumps(v.to_dict())) for v in (gcc, ec_minus_gcc)]}
    numbers = gate_cases(payload, source="r.json")
    assert numbers[gcc.case_id].metric == "bmld" and numbers[gcc.case_id].holds == gcc.holds
    from latentflow.gate import compare

    assert not compare(payload, payload, tolerance_mean={"bmld": 1.0}).failed  # the same run: no regression
    moved = json.loads(json.dumps(payload))
    moved["verdicts"][0]["stats"]["mean_difference"] += 2.0  # a BMLD 2 dB away
    assert compare(payload, moved, tolerance_mean={"bmld": 1.0}).row(gcc.case_id).failed
    section = bmld_section(read_cases(payload["verdicts"]))
    assert section.png is not None and len(section.table) == 1 + 2  # header, gcc_phat, ec (runs, not cases)
    from latentflow.report.write import build_sections

    assert [s.key for s in build_sections(payload["verdicts"])][-1] == "bmld"  # the report draws it


def test_monaural_front_ends_give_identical_curves_and_exactly_zero(tmp_path):
    plan = compile_probe_plan(load("  - id: zero\n    title: t\n    probe: {model: logmel}\n"
                                   "    expect: {direction: equivalent, margin: 0.5}\n"))
    verdict = run_probe.run_probe_case(plan.cases[0])
    assert verdict.holds and verdict.extra["probe"]["identical_curves"]
    assert verdict.result.confidence_interval == (0.0, 0.0) and verdict.result.mean_difference == 0.0


def test_features_persist_on_disk_and_come_back_identical(tmp_path):
    setup = compile_probe_plan(load(GCC_ABOVE)).cases[0].setup
    computed = run_probe._features(setup, "N0Spi")
    files = list((tmp_path / "cache" / "bmld-features").glob("*.npz"))
    assert len(files) == 1
    reloaded = run_probe._features(setup, "N0Spi")
    for a, b in zip(computed, reloaded, strict=True):
        np.testing.assert_array_equal(a, b)
    other = run_probe._features(setup, "N0S0")
    assert not np.array_equal(computed[0], other[0])  # the condition is part of the key


def test_the_disk_cache_can_be_turned_off(monkeypatch):
    monkeypatch.setenv("LATENTFLOW_BMLD_CACHE", "off")
    assert probe_cache.cache_folder() is None
    assert probe_cache.load("0" * 64) is None


def test_probe_groups_are_scheduled_per_file_and_target():
    assert scope_of("specs/bmld.yaml::stimuli-tone::ec_baseline") == "specs/bmld.yaml::stimuli-tone"
    assert scope_of("specs/bmld.yaml::stimuli-speech::x[ec]") == "specs/bmld.yaml::stimuli-speech"
    assert scope_of("specs/lsac.yaml::fuzz::balanced_saves_a_quarter") == "specs/lsac.yaml"


def test_the_plugin_runs_probe_cases_with_recorded_failures(pytester):
    pytester.makefile(".yaml", demo=HEADER + GCC_ABOVE + """\
  - id: gcc_near_zero
    title: GCC-PHAT's BMLD is near zero (it is not)
    probe: {model: gcc_phat}
    expect: {direction: equivalent, margin: 1}
    outcome: fails
    reason: GCC-PHAT sees the interaural phase
""")
    result = pytester.runpytest("-p", "no:cacheprovider", "-rx", "--collect-only", "-q")
    result.stdout.fnmatch_lines(["demo.yaml::stimuli-tone::gcc_above", "demo.yaml::stimuli-tone::gcc_near_zero"])
    result = pytester.runpytest("-p", "no:cacheprovider", "-rx", "--latentflow-results=r.json")
    result.assert_outcomes(passed=1, xfailed=1)
    verdicts = json.loads((pytester.path / "r.json").read_text())["verdicts"]
    assert [v["expected"] for v in verdicts] == ["holds", "fails"]
    assert all(v["measure"]["metric"] == "bmld" and v["measure"]["probe"]["model"] == "gcc_phat"
               and "curve_n0s0" in v["extra"]["probe"] for v in verdicts)


def test_the_json_schema_takes_probe_specs_and_catches_their_mistakes():
    jsonschema = pytest.importorskip("jsonschema")
    from latentflow.spec import load_yaml_text
    from latentflow.spec.json_schema import spec_json_schema

    validator = jsonschema.Draft202012Validator(spec_json_schema())

    def problems(text: str) -> list[str]:
        return ["/".join(map(str, e.absolute_path)) for e in validator.iter_errors(load_yaml_text(text, "p.yaml"))]

    good = HEADER + GCC_ABOVE
    assert problems(good) == []
    assert "hypotheses/0/expect/direction" in problems(good.replace("direction: increase", "direction: up"))
    assert "hypotheses/0/probe" in problems(good.replace("{model: gcc_phat}", "{model: gcc_phat, sight: x}"))
    assert "probe/stimuli" in problems(good.replace("trials_per_class: 8", "trials: 8"))
    controls = good + "    controls: [{id: one_ear, model: logmel, outcome: fails}, {id: sham, ablation: none}]\n"
    assert problems(controls) == []
    assert "hypotheses/0/controls/0" in problems(controls.replace("model: logmel, outcome: fails", "model: logmel"))
    assert "hypotheses/0/controls/1" in problems(controls.replace("ablation: none", "abl: x"))


def test_the_documented_probe_example_loads_and_compiles():
    import re
    from pathlib import Path

    page = (Path(__file__).resolve().parents[2] / "docs" / "spec-language.md").read_text(encoding="utf-8")
    (body,) = re.findall(r"```probe\n(.*?)```", page, re.DOTALL)  # not `yaml`: tests/spec load those as bench specs
    plan = compile_probe_plan(loads_spec(body, "docs.yaml"))
    assert [c.hypothesis_id for c in plan.cases] == ["ec_is_the_baseline", "sam_audio_stream_is_monaural",
                                                     "phase_blind_below_ec", "keeps_half_without_ipd", "envelopes"]
    assert dict(plan.cases[1].setup.params)["hook"] == "blocks.4.hook_resid_post"
    assert [(c.id, c.kind, c.outcome) for c in plan.cases[0].controls] == [("one_ear", "model", "fails"),
                                                                           ("scrambled", "ablation", "fails")]


def test_spec_session_verifies_a_probe_spec_without_pytest(tmp_path):
    from latentflow.execution import SpecSession

    path = tmp_path / "probe.yaml"
    path.write_text(HEADER + GCC_ABOVE)
    (verdict,) = SpecSession().verify(path)
    assert verdict.model == "bmld:gcc_phat" and verdict.extra["probe"]["model"] == "gcc_phat"
    written = json.loads(SpecSession().write_results(tmp_path / "r.json", [verdict]).read_text())
    assert written["verdicts"][0]["extra"]["probe"]["bmld_db"] == verdict.extra["probe"]["bmld_db"]
