"""Results files for the gate tests, built by hand in the schema the pytest plugin writes
(``{"latentflow_results": 3, "model", "verdicts": [Verdict.to_dict(), ...]}``; the header fields
that say what ran, and each verdict's examples, are left out: the gate does not read them, see
latentflow/results.py). test_gate_real_verdicts.py checks that this schema matches verdicts made
by the real statistics; ``legacy`` turns a results object into the text form of formats 1 and 2,
which the gate still reads."""

from __future__ import annotations

import copy
import json
import types
from pathlib import Path

import pytest

# One verdict as it appears in a results file (a paired t-test on SI-SNR, Bonferroni-corrected).
TEMPLATE = {
    "case_id": "dual_pathway::ca_zero[noisy]",
    "claim": "dual_pathway",
    "claim_title": "Cross-attention refines acoustic structure",
    "claim_paper": None,
    "order": None,
    "hypothesis": "ca_zero",
    "title": "Zeroing every block's cross-attention output lowers SI-SNR",
    "location": "specs/dual_pathway.yaml:40",
    "model": "fixture",
    "interventions": [{"site": "blocks.*.hook_cross_out", "op": "zero", "layers": "all", "steps": "all"}],
    "measure": {"metric": "si_snr", "compare": "target", "reference": "prompted"},
    "expectation": {"direction": "decrease", "test": "paired_t", "alpha": 0.05, "min_effect_size": 0.5,
                    "null_value": 0.0},
    "expected": "holds",
    "holds": True,
    "passed": True,
    "why": "the claim holds: decrease (x - y < 0) supported",
    "x_mean": 4.1,
    "y_mean": 6.3,
    "paper": "SI-SNR -2.3 dB (d=-0.9)",
    "params": {"tier": "noisy"},
    "nan_reasons": [],
    "stats": {
        "test": "paired_t", "alternative": "less", "n": 24, "statistic": -5.2, "statistic_name": "t",
        "pvalue": 1.4e-05, "alpha": 0.05, "mean_difference": -2.2, "confidence_interval": [-3.1, -1.3],
        "confidence": 0.95, "interval_method": "Student t", "effect_size": -1.06, "effect_size_name": "d_z",
        "effect_size_interval": [-1.56, -0.55], "effect_size_method": "noncentral t", "passed": True,
        "reason": "decrease (x - y < 0) supported: p = 4.2e-05 <= alpha 0.05 and d_z = -1.06 <= -0.5",
        "pvalue_corrected": 4.2e-05, "correction": "bonferroni", "family_size": 3, "min_effect_size": 0.5,
        "margin": None, "n_resamples": None, "seed": None, "details": {},
    },
}


def verdict(case_id: str, *, holds: bool = True, effect: float | None = -1.06, mean: float | None = -2.2,
            metric: str = "si_snr", expected: str = "holds") -> dict:
    v = copy.deepcopy(TEMPLATE)
    v["measure"]["metric"] = metric
    v.update(case_id=case_id, holds=holds, expected=expected,
             passed=holds == (expected == "holds"))
    v["stats"].update(effect_size=effect, mean_difference=mean, passed=holds)
    return v


def results(*verdicts: dict, model: str = "fixture") -> dict:
    return {"latentflow_results": 3, "model": model, "verdicts": list(verdicts)}


def legacy(results_object: dict, version: int) -> dict:
    """The same results in format 1 or 2: interventions, measure and expectation as display text."""
    from latentflow.execution.verdict import describe_expectation, describe_intervention, describe_measure

    old = copy.deepcopy(results_object)
    old["latentflow_results"] = version
    for v in old["verdicts"]:
        v["interventions"] = [describe_intervention(iv) for iv in v["interventions"]]
        v["measure"] = describe_measure(v["measure"])
        v["expectation"] = describe_expectation(v["expectation"])
    return old


def baseline_verdicts() -> list[dict]:
    return [
        verdict("dual_pathway::ca_zero[noisy]"),
        verdict("dual_pathway::text_proj_zero[noisy]", metric="stoi", effect=-0.8, mean=-0.2),
        verdict("segmentation_cues::gate_hijack_sisnr", holds=False, expected="fails", effect=-0.3, mean=-1.0),
    ]


@pytest.fixture
def g():
    """The builders above, for test modules (conftest is not importable)."""
    return types.SimpleNamespace(TEMPLATE=TEMPLATE, verdict=verdict, results=results,
                                 baseline_verdicts=baseline_verdicts, legacy=legacy)


@pytest.fixture
def write_results(tmp_path: Path):
    """write_results(name, data) -> path of a JSON file under tmp_path (text written as is)."""

    def write(name: str, data) -> Path:
        path = tmp_path / name
        path.write_text(data if isinstance(data, str) else json.dumps(data, indent=2), encoding="utf-8")
        return path

    return write
