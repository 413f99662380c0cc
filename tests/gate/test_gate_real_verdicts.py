"""The gate on verdicts made by the real statistics and Verdict class, through JSON as the plugin writes
them; and the hand-built template of the other gate tests checked against that real schema."""

from __future__ import annotations

import json

import numpy as np
import pytest

from latentflow.execution.verdict import Verdict
from latentflow.gate import compare, load_results
from latentflow.stats import correct, evaluate

N = 24


def real_results(shift: float, seed: int) -> dict:
    """One family of two SI-SNR hypotheses; the first has a planted drop of ``shift`` dB."""
    rng = np.random.default_rng(seed)
    baseline = rng.normal(8.0, 2.0, size=(2, N))
    treated = baseline + np.array([[shift], [0.0]]) + rng.normal(0.0, 1.0, size=(2, N))
    raw = [evaluate((treated[i], baseline[i]), test="paired_t", alternative="less", min_effect_size=0.5)
           for i in range(2)]
    family = correct(raw, method="bonferroni")
    verdicts = []
    for index, (name, result) in enumerate(zip(("text_proj_zero", "ca_zero"), family, strict=True)):
        verdict = Verdict(
            case_id=f"dual_pathway::{name}", claim_id="dual_pathway", claim_title="Dual pathway",
            hypothesis_id=name, title=f"{name} lowers SI-SNR", location=f"specs/dual_pathway.yaml:{10 + index}",
            model="fixture", interventions=({"site": f"hook_{name}", "op": "zero", "steps": "all"},),
            measure={"metric": "si_snr", "compare": "target", "reference": "prompted"},
            expectation={"direction": "decrease", "test": "paired_t", "alpha": 0.05, "min_effect_size": 0.5,
                         "null_value": 0.0}, result=result,
            expected="holds" if index == 0 else "fails", expected_reason=None if index == 0 else "no effect here",
            x_mean=float(treated[index].mean()), y_mean=float(baseline[index].mean()),
            paper="SI-SNR -2.3 dB", params={},
        )
        verdicts.append(json.loads(json.dumps(verdict.to_dict(), sort_keys=True)))
    return {"latentflow_results": 3, "model": "fixture", "verdicts": verdicts}


def test_template_has_the_schema_of_real_verdicts(g):
    real = real_results(-2.0, seed=1)["verdicts"][0]
    assert set(g.TEMPLATE) == set(real)
    assert set(g.TEMPLATE["stats"]) == set(real["stats"])
    for key, value in real.items():
        assert type(g.TEMPLATE[key]) is type(value) or value is None, key


def test_gate_on_real_verdicts(tmp_path):
    before = real_results(-2.0, seed=1)
    held = before["verdicts"][0]
    assert held["holds"] is True and held["stats"]["effect_size"] < -1.0  # the planted drop is found

    same = compare(before, real_results(-2.0, seed=1))
    assert not same.failed and {row.status for row in same.rows} == {"ok"}

    # The same planted drop on other seeded noise: the claim still holds and d_z moves by sampling noise only.
    resampled = compare(before, real_results(-2.0, seed=2))
    assert resampled.row("dual_pathway::text_proj_zero").held_after is True

    # The mechanism is gone in the candidate: the claim breaks and the effect collapses towards 0.
    broken = compare(before, real_results(0.0, seed=1))
    row = broken.row("dual_pathway::text_proj_zero")
    assert broken.failed and row.status == "claim broke"
    assert row.effect_delta == pytest.approx(row.effect_after - held["stats"]["effect_size"])
    assert row.effect_delta > 0.5
    assert broken.row("dual_pathway::ca_zero").status == "ok"

    path = tmp_path / "results.json"
    path.write_text(json.dumps(before, indent=2, sort_keys=True) + "\n")
    assert load_results(path) == before


def test_a_gate_that_compared_nothing_fails(tmp_path, capsys):
    empty = {"latentflow_results": 1, "model": None, "seed": None, "verdicts": []}
    for name in ("a.json", "b.json"):
        (tmp_path / name).write_text(json.dumps(empty))
    assert compare(empty, empty).failed
    status = __import__("latentflow.gate", fromlist=["main"]).main(
        ["--baseline", str(tmp_path / "a.json"), "--candidate", str(tmp_path / "b.json")])
    assert status == 1
    assert "**FAIL**: no cases to compare: both results files hold no verdicts" in capsys.readouterr().out
