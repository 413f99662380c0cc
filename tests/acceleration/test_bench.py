"""The LSAC benchmark: its numbers are consistent with the FLOP model and with each other,
and the command writes JSON a machine can read (no bare Infinity / NaN)."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from latentflow.acceleration.bench import (
    main,
    matched_truncation_steps,
    mean_interval,
    random_workload,
    retention_ratio,
    run_lsac_bench,
)
from latentflow.acceleration.flops import pattern_share

STEPS = 8
EXPECTED_METHODS = [
    "full", "full-explicit", "lsac-safe", "lsac-balanced", "lsac-aggressive", "adaptive",
    "truncation-6", "truncation-5", "skip-2",
]


@pytest.fixture(scope="module")
def bench(model, tmp_path_factory):
    workload = random_workload(model, n=3, n_frames=12, n_text=4, n_tuning=2, seed=1)
    out = tmp_path_factory.mktemp("bench") / "lsac.json"
    result = run_lsac_bench("noisy", 3, "random", str(out), steps=STEPS, repeats=2, model=model, workload=workload)
    return result, out


def test_methods_and_compute_savings(bench, model):
    result, _ = bench
    assert [m.name for m in result.methods] == EXPECTED_METHODS
    full = result.method("full")
    assert (full.self_attention_saved, full.total_saved, full.speedup) == (0.0, 0.0, 1.0)
    assert result.method("truncation-6").self_attention_saved == pytest.approx(2 / 8, abs=1e-12)
    assert result.method("truncation-5").total_saved == pytest.approx(3 / 8, abs=1e-12)
    share = pattern_share(model.cfg, 12)
    for name in ("safe", "balanced", "aggressive"):
        plan = result.tuning["presets"][name]
        reused = sum(STEPS - 1 - s for s in plan["freeze_steps"].values() if s < STEPS - 1)
        expected = reused / (model.cfg.n_layers * STEPS) * share
        assert result.method(f"lsac-{name}").self_attention_saved == pytest.approx(expected, rel=1e-12)
    skip = result.method("skip-2")
    assert skip.self_attention_saved == pytest.approx(0.5 * 0.5, abs=1e-12)  # half the blocks, half the steps


def test_quality_and_retention_are_consistent(bench):
    result, _ = bench
    assert result.reference == "full_run"
    full = result.method("full")
    assert all(math.isinf(q) and q > 0 for q in full.quality)
    compared = [m for m in result.methods if m.retention is not None]
    assert len(compared) >= 3
    for method in compared:
        if method.name.startswith(("lsac", "adaptive", "skip")):
            k = method.matched_truncation_steps
            assert k == matched_truncation_steps(method.self_attention_saved, STEPS)
            trunc = result.method(f"truncation-{k}")
            expected, _ = retention_ratio("full_run", method.quality, (), trunc.quality, ())
            assert method.retention == pytest.approx(expected)
            mean, interval = mean_interval(method.quality)
            assert method.summary_mean == pytest.approx(mean) and interval[0] < mean < interval[1]


def test_json_is_strict(bench):
    result, path = bench
    text = path.read_text()
    data = json.loads(text, parse_constant=lambda name: pytest.fail(f"non-standard JSON constant {name}"))
    assert [m["name"] for m in data["methods"]] == EXPECTED_METHODS
    assert data["methods"][0]["quality_db"][0] == "inf"
    assert data["settings"]["steps"] == STEPS and data["quality"]["reference"] == "full_run"
    assert data == result.to_dict()


def test_table_lists_every_method(bench):
    table = bench[0].table()
    for name in EXPECTED_METHODS:
        assert f"\n{name} " in table


def test_matched_truncation_steps():
    assert matched_truncation_steps(0.25, 16) == 12
    assert matched_truncation_steps(0.35, 16) == 10  # 0.375 is nearer than 0.3125
    assert matched_truncation_steps(0.34375, 16) == 11  # a tie between 10 and 11 goes to 11
    assert matched_truncation_steps(0.01, 16) == 16


def test_retention_ratio_definitions():
    ratio, _ = retention_ratio("target", None, [0.1, 0.2], None, [0.9, 0.9])
    assert ratio == pytest.approx(0.9 / 0.15)
    ratio, note = retention_ratio("target", None, [0.0, -0.1], None, [0.9, 0.9])
    assert ratio is None and "undefined" in note
    ratio, _ = retention_ratio("full_run", [30.0, 30.0], (), [20.0, 20.0], ())
    assert ratio == pytest.approx(10.0)


def test_mean_interval():
    mean, (low, high) = mean_interval([1.0, 2.0, 3.0])
    half = 4.302652729911275 * 1.0 / math.sqrt(3)  # t(0.975, 2) * sd / sqrt(n)
    assert mean == 2.0 and low == pytest.approx(2.0 - half) and high == pytest.approx(2.0 + half)
    mean, interval = mean_interval([1.0, math.inf])
    assert math.isinf(mean) and all(np.isnan(interval))


def test_command_line(tmp_path, capsys):
    out = tmp_path / "cli.json"
    argv = ["--model", "random", "--n", "2", "--frames", "8", "--steps", "4", "--tuning", "1", "--repeats", "1",
            "--json", str(out)]
    assert main(argv) == 0
    printed = capsys.readouterr().out
    assert "lsac-balanced" in printed and "truncation-3" in printed and f"wrote {out}" in printed
    assert json.loads(out.read_text())["settings"]["n"] == 2


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--model", "random", "--n", "1"], "n must be an integer >= 2"),
        (["--model", "/nonexistent/model.safetensors"], "no such file"),
    ],
)
def test_command_line_errors(argv, message, capsys):
    assert main(argv) == 2
    assert message in capsys.readouterr().err


def test_the_old_flag_name_is_refused_with_the_new_one(capsys):
    with pytest.raises(SystemExit) as exited:
        main(["--model", "random", "--calibration", "2"])
    assert exited.value.code == 2
    assert "--calibration was renamed --tuning (the number of tuning examples)" in capsys.readouterr().err


def test_audio_workload_scores_decoded_audio_against_the_true_target(tmp_path):
    """The bench on real bench clips, through the separator's codec and text encoder (random
    fixture-sized weights saved as a checkpoint: the plumbing, not the separation, is tested)."""
    from latentflow.audio import make_examples
    from latentflow.metrics.separation import si_snr
    from latentflow.model import build_model, preset, sample, save_model
    from latentflow.pipeline import Separator

    path = tmp_path / "random_fixture.safetensors"
    save_model(build_model(preset("fixture"), seed=0), path)
    result = run_lsac_bench("env", 2, str(path), steps=4, repeats=1, n_tuning=1, drift_threshold=0.1)
    assert result.reference == "target" and result.settings["workload"] == "bench:env"
    full = result.method("full")
    assert full.degradation == (0.0, 0.0)
    separator = Separator.load(path)
    example = make_examples("env", "test", 1, 0)[0]
    cond = separator.conditioning([example], prompt_kind="text")
    state = sample(separator.model, cond, steps=4, method="euler", seeds=[0]).final
    target, _ = separator.decode(state, example.mixture[None])
    expected = si_snr(target.double().numpy(), example.target[None].double().numpy())[0]
    assert full.quality[0] == pytest.approx(expected, abs=1e-9)
    lsac = result.method("lsac-balanced")
    assert lsac.degradation == tuple(f - q for f, q in zip(full.quality, lsac.quality, strict=True))
