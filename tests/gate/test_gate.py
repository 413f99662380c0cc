"""`latentflow gate`: exit status, the markdown summary, and errors for bad input."""

from __future__ import annotations

import copy
import dataclasses
import json
import re
import subprocess
import sys

import pytest

from latentflow import cli, gate
from latentflow.gate import DEFAULT_TOLERANCE, compare


def run_gate(capsys, *argv: str) -> tuple[int, str, str]:
    status = cli.main(["gate", *argv])
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def candidate_with(g, case_index: int, **changes) -> dict:
    verdicts = g.baseline_verdicts()
    case_id = verdicts[case_index]["case_id"]
    current = verdicts[case_index]
    settings = dict(holds=current["holds"], effect=current["stats"]["effect_size"],
                    mean=current["stats"]["mean_difference"], metric=current["measure"]["metric"],
                    expected=current["expected"])
    settings.update(changes)
    verdicts[case_index] = g.verdict(case_id, **settings)
    return g.results(*verdicts, model="candidate.safetensors")


@pytest.fixture
def gate_run(g, write_results, capsys):
    """gate_run(candidate, *options): the gate of the baseline verdicts against ``candidate`` (a results
    object), through the CLI; returns (status, stdout, stderr)."""

    def run(candidate: dict, *options: str) -> tuple[int, str, str]:
        a = write_results("a.json", g.results(*g.baseline_verdicts()))
        b = write_results("b.json", candidate)
        return run_gate(capsys, "--baseline", str(a), "--candidate", str(b), *options)

    return run


def table_row(out: str, case_id: str) -> str:
    return next(line for line in out.splitlines() if line.startswith(f"| {case_id} |"))


# -- exit status -----------------------------------------------------------------------------


def test_identical_files_pass(g, gate_run):
    status, out, err = gate_run(g.results(*g.baseline_verdicts()))
    assert status == 0, out + err
    assert "**PASS**: no regression in 3 cases" in out
    assert err == ""


def test_held_claim_that_breaks_fails(g, gate_run):
    # The effect barely moves (within tolerance): the broken claim alone must fail the gate.
    status, out, _ = gate_run(candidate_with(g, 0, holds=False, effect=-0.9))
    assert status == 1
    assert "**FAIL**: 1 of 3 cases regressed" in out
    row = table_row(out, "dual_pathway::ca_zero[noisy]")
    assert "yes → no" in row and "**CLAIM BROKE**" in row


def test_claim_that_did_not_hold_and_now_holds_is_reported_not_failed(g, gate_run):
    status, out, _ = gate_run(candidate_with(g, 2, holds=True, effect=-0.4))
    assert status == 0
    assert table_row(out, "segmentation_cues::gate_hijack_sisnr") == (
        "| segmentation_cues::gate_hijack_sisnr | no → yes | d_z -0.3 → -0.4 | -0.1 | -1 → -1 | now holds |")


@pytest.mark.parametrize("after, tolerance, expected_status", [
    (-1.06 + 0.51, None, 1),   # moved 0.51 > default 0.5
    (-1.06 - 0.51, None, 1),   # a stronger effect is a changed model too
    (-1.06 + 0.49, None, 0),   # within the default
    (-1.06 + 0.51, "0.6", 0),  # within a wider tolerance
    (-1.06 + 0.2, "0.1", 1),   # past a narrower one
])
def test_effect_moved_past_tolerance(g, gate_run, after, tolerance, expected_status):
    options = ("--tolerance", tolerance) if tolerance else ()
    status, out, _ = gate_run(candidate_with(g, 0, effect=after), *options)
    assert status == expected_status, out
    row = table_row(out, "dual_pathway::ca_zero[noisy]")
    assert f"{after - (-1.06):+.3g}" in row
    assert ("**EFFECT MOVED**" in row) == (expected_status == 1)


def test_tolerance_is_inclusive(g):
    a = g.results(g.verdict("c::h", effect=0.25))
    b = g.results(g.verdict("c::h", effect=0.75))  # both exact in binary: the move is exactly 0.5
    assert not compare(a, b, tolerance=0.5).failed
    assert compare(a, b, tolerance=0.49).failed


def test_effect_that_can_no_longer_be_computed_fails(g):
    report = compare(g.results(g.verdict("c::h")), g.results(g.verdict("c::h", effect=None)))
    assert report.failed
    assert report.row("c::h").status == gate.EFFECT_LOST


def test_effect_that_becomes_computable_is_not_a_failure(g):
    report = compare(g.results(g.verdict("c::h", effect=None)), g.results(g.verdict("c::h", effect=0.3)))
    assert not report.failed and report.row("c::h").status == gate.OK


def test_mean_difference_is_gated_only_when_asked(g, gate_run):
    # SI-SNR mean moves by 1.5 dB and STOI by 0.05; effects unchanged.
    candidate = candidate_with(g, 0, mean=-2.2 + 1.5)
    candidate["verdicts"][1] = g.verdict("dual_pathway::text_proj_zero[noisy]", metric="stoi",
                                         effect=-0.8, mean=-0.2 + 0.05)
    assert gate_run(candidate)[0] == 0
    status, out, _ = gate_run(candidate, "--tolerance-mean", "1.0")
    assert status == 1 and out.count("**MEAN MOVED**") == 1 and "mean difference of si_snr moved by +1.5" in out
    # Per metric: dB for SI-SNR, STOI units for STOI.
    assert gate_run(candidate, "--tolerance-mean", "si_snr=2", "--tolerance-mean", "stoi=0.1")[0] == 0
    status, out, _ = gate_run(candidate, "--tolerance-mean", "si_snr=2", "--tolerance-mean", "stoi=0.01")
    assert status == 1
    assert "stoi moved by +0.05" in out and "si_snr moved" not in out


@pytest.mark.parametrize("version", [1, 2])
def test_an_older_text_format_baseline_is_gated_like_the_current_format(g, version):
    # A committed baseline of format 1 or 2 held the measure as text: its metric still selects
    # the per-metric tolerance, and the verdicts compare as the current format's do.
    baseline = g.results(*g.baseline_verdicts())
    candidate = candidate_with(g, 1, mean=-0.2 + 0.05)
    old = g.legacy(baseline, version)
    assert old["verdicts"][1]["measure"] == "stoi (target)"
    for tolerance in ({"stoi": 0.01}, {"stoi": 0.1}, {"si_snr": 0.01}):
        new_report = compare(baseline, candidate, tolerance_mean=tolerance)
        old_report = compare(old, candidate, tolerance_mean=tolerance)
        assert old_report.rows == new_report.rows
    assert compare(old, candidate, tolerance_mean={"stoi": 0.01}).failed
    assert not compare(old, candidate, tolerance_mean={"si_snr": 0.01}).failed


def test_missing_case_fails_and_new_case_does_not(g, gate_run):
    status, out, _ = gate_run(g.results(*g.baseline_verdicts()[:2]))
    assert status == 1
    assert table_row(out, "segmentation_cues::gate_hijack_sisnr").endswith("| **MISSING** |")

    status, out, _ = gate_run(g.results(*g.baseline_verdicts(), g.verdict("new_claim::h1")))
    assert status == 0
    row = table_row(out, "new_claim::h1")
    assert "— → yes" in row and row.endswith("| new |")


# -- the markdown summary ------------------------------------------------------------------


def test_markdown_table_and_file(g, gate_run, tmp_path):
    out_md = tmp_path / "summary" / "gate.md"
    status, out, _ = gate_run(candidate_with(g, 1, holds=False, effect=-0.1, mean=-0.02), "--markdown", str(out_md))
    assert status == 1
    assert out_md.read_text(encoding="utf-8") == out
    lines = out.splitlines()
    assert lines[0] == "## latentflow gate"
    assert f"- baseline: `{tmp_path / 'a.json'}` (model `fixture`)" in lines
    assert f"- candidate: `{tmp_path / 'b.json'}` (model `candidate.safetensors`)" in lines
    header = "| case | held (before → after) | effect (before → after) | Δ effect | mean diff (before → after) | status |"
    table = lines[lines.index(header) + 2:lines.index(header) + 5]
    assert table == [
        "| dual_pathway::ca_zero[noisy] | yes → yes | d_z -1.06 → -1.06 | +0 | -2.2 → -2.2 | ok |",
        "| dual_pathway::text_proj_zero[noisy] | yes → no | d_z -0.8 → -0.1 | +0.7 | -0.2 → -0.02 "
        "| **CLAIM BROKE** |",
        "| segmentation_cues::gate_hijack_sisnr | no → no | d_z -0.3 → -0.3 | +0 | -1 → -1 | ok |",
    ]
    why = lines[lines.index("### Why") + 1]
    assert why.startswith("- `dual_pathway::text_proj_zero[noisy]` (claim broke): held in the baseline")
    assert "d_z moved by +0.7, more than the tolerance 0.5" in why


def test_pipes_in_case_ids_do_not_break_the_table(g):
    report = compare(g.results(g.verdict("c::a|b")), g.results(g.verdict("c::a|b")))
    assert "| c::a\\|b |" in report.to_markdown()


# -- the library object ----------------------------------------------------------------------


def test_compare_returns_a_frozen_report(g):
    report = compare(g.results(*g.baseline_verdicts()), candidate_with(g, 0, holds=False))
    assert report.failed and report.exit_status == 1
    assert [r.case_id for r in report.failures] == ["dual_pathway::ca_zero[noisy]"]
    assert report.tolerance == DEFAULT_TOLERANCE == 0.5
    row = report.row("dual_pathway::ca_zero[noisy]")
    assert (row.held_before, row.held_after, row.effect_delta) == (True, False, 0.0)
    with pytest.raises(dataclasses.FrozenInstanceError):
        report.rows = ()
    with pytest.raises(dataclasses.FrozenInstanceError):
        row.status = "ok"
    with pytest.raises(KeyError, match="no case 'nope'"):
        report.row("nope")


def test_compare_does_not_change_its_inputs(g):
    a, b = g.results(*g.baseline_verdicts()), candidate_with(g, 0, effect=0.0)
    a_copy, b_copy = copy.deepcopy(a), copy.deepcopy(b)
    compare(a, b)
    assert (a, b) == (a_copy, b_copy)


@pytest.mark.parametrize("kwargs, message", [
    ({"tolerance": -0.1}, "tolerance must be a finite number >= 0; got -0.1"),
    ({"tolerance": float("nan")}, "tolerance must be a finite number >= 0"),
    ({"tolerance_mean": {"si_snr": -1}}, "tolerance_mean\\['si_snr'\\] must be a finite number >= 0"),
    ({"tolerance_mean": {}}, "empty mapping"),
])
def test_compare_rejects_bad_tolerances(g, kwargs, message):
    with pytest.raises(ValueError, match=message):
        compare(g.results(), g.results(), **kwargs)


def test_compare_names_the_invalid_side(g):
    bad = g.results(g.verdict("c::h"))
    bad["verdicts"][0]["holds"] = "yes"
    with pytest.raises(gate.ResultsError, match=r"^candidate: verdicts\[0\] \(c::h\)\.holds: 'yes' is not allowed"):
        compare(g.results(g.verdict("c::h")), bad)


# -- bad input -------------------------------------------------------------------------------


# Each bad candidate: raw text, or a change applied to a valid results object.
BAD_CANDIDATES = [
    ('{"latentflow_results": 1,\n "verdicts": [}', r"b\.json:2:15: not valid JSON: Expecting value"),
    ("[1, 2]", r"b\.json: expected a JSON object .* got a list"),
    (lambda d: d.pop("latentflow_results"),
     r"b\.json: not a latentflow results file: the key 'latentflow_results' is missing"),
    (lambda d: d.update(latentflow_results=4), r"b\.json: latentflow_results format 4 is not supported; this "
                                                 r"latentflow reads formats 1, 2, 3"),
    (lambda d: d["verdicts"][0].update(measure="si_snr (target)"),
     r"verdicts\[0\] \(dual_pathway::ca_zero\[noisy\]\)\.measure: 'si_snr \(target\)' is not allowed; expected an "
     r"object \(Measure\.to_yaml\(\)\)"),
    (lambda d: d["verdicts"][0].update(interventions=["zero() at hook_text_proj"]),
     r"\.interventions\[0\]: 'zero\(\) at hook_text_proj' is not allowed; expected an object with 'op' and 'site'"),
    (lambda d: d.update(verdicts={}), r"b\.json: 'verdicts' must be a list, got an object"),
    (lambda d: d["verdicts"][1]["stats"].pop("effect_size"),
     r"b\.json: verdicts\[1\] \(dual_pathway::text_proj_zero\[noisy\]\)\.stats: the field 'effect_size' is missing"),
    (lambda d: d["verdicts"][0].update(holds="true"),
     r"verdicts\[0\] \(dual_pathway::ca_zero\[noisy\]\)\.holds: 'true' is not allowed; expected true or false"),
    (lambda d: d["verdicts"][0]["stats"].update(effect_size="big"),
     r"\.stats\.effect_size: 'big' is not allowed; expected a finite number or null"),
    (lambda d: d["verdicts"][0].update(expected="maybe"),
     r"\.expected: 'maybe' is not allowed; allowed: 'holds', 'fails'"),
    (lambda d: d["verdicts"][2].pop("case_id"), r"verdicts\[2\]: the field 'case_id' is missing"),
    (lambda d: d["verdicts"].append(d["verdicts"][0]),
     r"verdicts\[3\]: case_id 'dual_pathway::ca_zero\[noisy\]' appears twice"),
]


@pytest.mark.parametrize("bad, message", BAD_CANDIDATES, ids=[f"bad{i}" for i in range(len(BAD_CANDIDATES))])
def test_invalid_candidate_exits_2_naming_file_and_problem(g, gate_run, tmp_path, bad, message):
    if callable(bad):
        data = g.results(*g.baseline_verdicts())
        bad(data)
        bad = json.dumps(data)
    status, out, err = gate_run(bad)
    assert status == 2
    assert out == ""
    assert err.startswith(f"latentflow gate: {tmp_path / 'b.json'}")
    assert re.search(message, err), err


def test_missing_file_exits_2(g, write_results, capsys, tmp_path):
    b = write_results("b.json", g.results(*g.baseline_verdicts()))
    status, _, err = run_gate(capsys, "--baseline", str(tmp_path / "nope.json"), "--candidate", str(b))
    assert status == 2
    assert err == f"latentflow gate: {tmp_path / 'nope.json'}: no such file\n"


@pytest.mark.parametrize("argv, message", [
    (("--tolerance", "-1"), "tolerance '-1' is not a finite number >= 0"),
    (("--tolerance", "nan"), "tolerance 'nan' is not a finite number >= 0"),
    (("--tolerance-mean", "=1"), "give METRIC=NUMBER"),
    ((), "the following arguments are required: --baseline, --candidate"),
])
def test_bad_arguments_are_usage_errors(g, capsys, argv, message):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["gate", *argv])
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err


def test_gate_runs_without_importing_torch(g, write_results):
    a = write_results("a.json", g.results(*g.baseline_verdicts()))
    b = write_results("b.json", candidate_with(g, 0, holds=False))
    script = ("import sys; from latentflow.cli import main; status = main(['gate', '--baseline', sys.argv[1], "
              "'--candidate', sys.argv[2]]); assert 'torch' not in sys.modules, 'torch was imported'; "
              "assert 'numpy' not in sys.modules, 'numpy was imported'; sys.exit(status)")
    done = subprocess.run([sys.executable, "-c", script, str(a), str(b)], capture_output=True, text=True, timeout=60,
                          check=False)
    assert done.returncode == 1, done.stderr
    assert "**CLAIM BROKE**" in done.stdout


def test_a_smoke_run_is_not_gated_against_a_full_run(g):
    from latentflow.gate import ResultsError, compare

    full = g.results(*g.baseline_verdicts())
    smoke = {**g.results(*g.baseline_verdicts()), "smoke_run": {"max_examples_per_case": 2}}
    with pytest.raises(ResultsError, match=r"ran different numbers of examples \(smoke_run None vs "
                                           r"\{'max_examples_per_case': 2\}\); gate two full runs"):
        compare(full, smoke)
    assert not compare(smoke, dict(smoke)).failed  # two smoke runs of the same size are comparable
