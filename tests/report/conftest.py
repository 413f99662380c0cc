"""Hand-built verdict dicts in the schema of ``Verdict.to_dict()`` (see test_report_real_verdicts.py,
which checks that schema against verdicts made by the real statistics)."""

from __future__ import annotations

import types
from typing import Any

import pytest

# Normalised self-attention entropy per layer changes linearly over the steps with these slopes,
# so each layer's rate of change (mean |step-to-step change|) is exactly |slope|. Against the
# default threshold 0.01: layers 0 and 2 are stable, 1 and 3 fast.
ENTROPY_SLOPES = (0.002, -0.03, 0.004, 0.05)
ENTROPY_START = (0.80, 0.70, 0.60, 0.30)
N_STEPS = 16
ALL_LAYERS = range(len(ENTROPY_SLOPES))


def measure_of(metric: str, compare: str = "target", site: str | None = None) -> dict:
    """A measure as a verdict carries it (``Measure.to_yaml()``)."""
    return {"metric": metric, "compare": compare, **({"site": site} if site else {}), "steps": "all"}


def intervention(op: str, site: str, **args: Any) -> dict:
    """An intervention as a verdict carries it (``Intervention.to_yaml()``)."""
    return {"site": site, "op": op, **({"args": args} if args else {}), "steps": "all"}


def make_verdict(case_id: str, *, measure: dict | None = None, holds: bool = True,
                 expected: str = "holds", effect: float | None = -0.9,
                 effect_ci: tuple[float, float] | None = (-1.3, -0.5), mean_diff: float | None = -2.1,
                 mean_ci: tuple[float, float] | None = (-2.9, -1.3), x_mean: float | None = 5.2,
                 y_mean: float | None = 7.3, paper: Any = "SI-SNR -2.0 dB (d=-0.8)", params: dict | None = None,
                 interventions: list[dict] | None = None, alternative: str = "less",
                 min_effect: float | None = 0.5, extra: dict | None = None,
                 reason: str | None = None) -> dict:
    claim, _, rest = case_id.partition("::")
    if reason is None:
        claimed = {"less": "decrease (x - y < 0)", "greater": "increase (x - y > 0)"}.get(alternative, "difference")
        reason = f"{claimed} {'supported' if holds else 'not supported'}"
    passed = holds == (expected == "holds")
    verdict = {
        "case_id": case_id,
        "claim": claim,
        "claim_title": f"title of claim {claim}",
        "claim_paper": None,
        "order": None,
        "hypothesis": rest.split("[", 1)[0],
        "title": f"title of {rest}",
        "location": "specs/example.yaml:12",
        "model": "fixture",
        "interventions": [intervention("zero", "hook_text_proj")] if interventions is None else interventions,
        "measure": measure_of("si_snr") if measure is None else measure,
        "expectation": {"direction": {"less": "decrease", "greater": "increase"}.get(alternative, "two-sided"),
                        "test": "paired_t", "alpha": 0.05, "null_value": 0.0},
        "expected": expected,
        "holds": holds,
        "passed": passed,
        "why": f"the claim {'holds' if holds else 'does not hold'}: {reason}",
        "x_mean": x_mean,
        "y_mean": y_mean,
        "paper": paper,
        "params": params or {},
        "nan_reasons": [],
        "stats": {
            "test": "paired_t", "alternative": alternative, "n": 24, "statistic": -4.1, "statistic_name": "t",
            "pvalue": 0.0004, "alpha": 0.05, "mean_difference": mean_diff,
            "confidence_interval": list(mean_ci) if mean_ci else [None, None], "confidence": 0.95,
            "interval_method": "Student t", "effect_size": effect, "effect_size_name": "d_z",
            "effect_size_interval": list(effect_ci) if effect_ci else [None, None],
            "effect_size_method": "noncentral t", "passed": holds, "reason": reason,
            "pvalue_corrected": 0.0012, "correction": "bonferroni", "family_size": 3,
            "min_effect_size": min_effect, "margin": None, "n_resamples": None, "seed": None, "details": {},
        },
    }
    if extra:
        verdict["extra"] = extra
    return verdict


def entropy_profile(layers=ALL_LAYERS, kind: str = "attn") -> dict:
    return {
        f"blocks.{layer}.{kind}.hook_pattern": {
            str(step): ENTROPY_START[layer] + ENTROPY_SLOPES[layer] * step for step in range(N_STEPS)
        }
        for layer in layers
    }


def full_verdicts() -> list[dict]:
    """A run with every kind of data the report draws: paired claims, entropy, a gate sweep."""
    return [
        make_verdict("dual_pathway::text_proj_zero[clean]", measure=measure_of("stoi", "target"), effect=-0.92,
                     effect_ci=(-1.4, -0.45), mean_diff=-0.21, mean_ci=(-0.3, -0.12), x_mean=0.55, y_mean=0.76,
                     paper="STOI -0.219 (d=-0.89)", params={"tier": "clean"}),
        make_verdict("dual_pathway::ca_zero[clean]", measure=measure_of("sar", "target"), holds=False, expected="fails",
                     effect=-0.12, effect_ci=(-0.5, 0.25), mean_diff=-0.4, mean_ci=(-1.5, 0.7), x_mean=3.1,
                     y_mean=3.5, paper={"sar_db": -9.85, "d": -0.82}, params={"tier": "clean"}),
        make_verdict("async_convergence::entropy_rates", measure=measure_of("entropy_rate", "internal", site="blocks.*.attn.hook_pattern"),
                     interventions=[], effect=1.8, effect_ci=(1.1, 2.5), mean_diff=0.021, mean_ci=(0.015, 0.027),
                     x_mean=0.021, y_mean=None, alternative="greater", paper="fast layers 6-11",
                     extra={"baseline_profile": entropy_profile()}),
        make_verdict("segmentation_cues::gate_hijack_block_ratio[2.0]", measure=measure_of("block_ratio", "target"),
                     interventions=[intervention("override_scalar", "hook_anchor_gate", value=2.0)], params={"gate": 2.0},
                     effect=0.7, effect_ci=(0.3, 1.1), mean_diff=0.9, mean_ci=(0.4, 1.4), x_mean=6.6, y_mean=5.7,
                     alternative="greater", paper="layer 6 BR 5.76 -> 9.55 (+66%)"),
        make_verdict("segmentation_cues::gate_hijack_block_ratio[5.0]", measure=measure_of("block_ratio", "target"),
                     interventions=[intervention("override_scalar", "hook_anchor_gate", value=5.0)], params={"gate": 5.0},
                     effect=1.4, effect_ci=(0.9, 1.9), mean_diff=3.6, mean_ci=(2.5, 4.7), x_mean=9.3, y_mean=5.7,
                     alternative="greater", paper="layer 6 BR 5.76 -> 9.55 (+66%)"),
        make_verdict("segmentation_cues::gate_hijack_sisnr", measure=measure_of("si_snr", "target"),
                     interventions=[intervention("override_scalar", "hook_anchor_gate", value=5.0)], effect=-1.1,
                     effect_ci=(-1.6, -0.6), mean_diff=-6.2, mean_ci=(-8.0, -4.4), x_mean=1.5, y_mean=7.7,
                     paper="about -14.6 dB"),
    ]


@pytest.fixture
def verdicts() -> list[dict]:
    return full_verdicts()


@pytest.fixture
def r():
    """The builders above, for test modules (conftest is not importable)."""
    return types.SimpleNamespace(make_verdict=make_verdict, entropy_profile=entropy_profile,
                                 full_verdicts=full_verdicts, ENTROPY_SLOPES=ENTROPY_SLOPES, N_STEPS=N_STEPS,
                                 measure_of=measure_of, intervention=intervention)
