"""Running a probe case: features -> detection curves -> psychometric fits -> BMLD -> a Verdict.

Everything numeric is :mod:`latentflow.bmld` (stimuli, reference models, the cross-validated
linear detector, the binomial psychometric fit, the paired bootstrap); this module only wires a
:class:`~latentflow.spec.probe_plan.ProbeCase` to it and judges the expectation. Within a
process every stimulus set is built once, every (model, stimulus set) pair of detection curves
is computed once and every BMLD once, so the cases of one spec that share a model or stimuli
(a comparison ``versus`` the EC model, an ablation ``versus`` the intact stimuli) share the
work; features also persist on disk between runs (:mod:`latentflow.execution.probe_cache`).

The verdict is an ordinary :class:`~latentflow.execution.verdict.Verdict`, so the results file,
the gate and the report take it unchanged: its ``stats`` describe the quantity the expectation
is about (``mean_difference`` = its point value in dB, ``confidence_interval`` = its paired
bootstrap percentile interval, ``effect_size`` = value / bootstrap SD, "z_boot"), and
``extra["probe"]`` records the BMLD, its interval, both thresholds and fits, and the per-TNR
detection of both conditions (and of the ``versus`` run).
"""

from __future__ import annotations

import functools
import math
from typing import Any

import numpy as np

from latentflow.bmld.probe import (
    BmldResult,
    DetectionCurve,
    bmld,
    detection_curve,
    fit_psychometric,
    percentile_interval,
)
from latentflow.bmld.stimuli import CONDITIONS, StimulusConfig, make_stimuli
from latentflow.execution import probe_cache
from latentflow.spec.probe import ProbeExpect, ProbeSetup
from latentflow.spec.probe_plan import ProbeCase
from latentflow.stats import TestResult

from .verdict import Verdict

MEASURE = "bmld"  # the measure's first word: the gate's metric name for --tolerance-mean


# A set holds 960 trials x 2 ears x 8000 samples (61 MB at the defaults): keep two pairs.
@functools.lru_cache(maxsize=4)
def _stimulus_set(config: StimulusConfig, condition: str, seed: int, ablation: str | None, ablation_params: tuple):
    return make_stimuli(config, condition, seed, ablation, dict(ablation_params) or None)


def _config(setup: ProbeSetup) -> StimulusConfig:
    return StimulusConfig(**dict(setup.stimuli))


def _features(setup: ProbeSetup, condition: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(features, labels, tnr_db) of one condition: from the disk cache, else computed and stored."""
    from latentflow.bmld.references import REFERENCE_MODELS

    config = _config(setup)
    ablation_params = tuple(sorted(setup.ablation_params.items()))
    params = tuple(sorted(setup.params.items()))
    key = probe_cache.feature_key(setup.model, params, (config, condition, setup.seed, setup.ablation),
                                  ablation_params)
    stored = probe_cache.load(key)
    if stored is not None:
        return stored
    stimuli = _stimulus_set(config, condition, setup.seed, setup.ablation, ablation_params)
    features = REFERENCE_MODELS.get(setup.model).features(stimuli, **dict(setup.params))
    probe_cache.store(key, features, stimuli.labels, stimuli.tnr_db)
    return features, stimuli.labels, stimuli.tnr_db


@functools.lru_cache(maxsize=64)
def curves(setup: ProbeSetup) -> tuple[DetectionCurve, DetectionCurve]:
    """The cross-validated detection curves of N0S0 and N0Spi (resamples/confidence ignored)."""
    out = []
    for condition in CONDITIONS:
        features, labels, tnr_db = _features(setup, condition)
        out.append(detection_curve(features, labels, tnr_db, seed=setup.seed, n_splits=setup.folds,
                                   regularisation=setup.regularisation))
    return out[0], out[1]


@functools.lru_cache(maxsize=64)
def result(setup: ProbeSetup) -> BmldResult:
    """The BMLD with its paired bootstrap (seeded by the setup's seed: setups of one seed and
    ladder draw the same trial indices per replicate, so their replicates pair)."""
    from latentflow.bmld.references import REFERENCE_MODELS

    curve_s0, curve_spi = curves(setup)
    return bmld(curve_s0, curve_spi, model=setup.model, site=setup.site or REFERENCE_MODELS.get(setup.model).site,
                seed=setup.seed, n_resamples=setup.resamples, confidence=setup.confidence,
                ablation=setup.ablation, target=setup.target)


def _quantity(outcome: BmldResult, quantity: str) -> tuple[float, np.ndarray]:
    """The point value and the bootstrap replicates of ``quantity``."""
    s0, spi = np.asarray(outcome.replicates_n0s0_db), np.asarray(outcome.replicates_n0spi_db)
    if quantity == "bmld":
        return outcome.bmld_db, s0 - spi
    if quantity == "threshold_n0s0":
        return outcome.threshold_n0s0_db, s0
    return outcome.threshold_n0spi_db, spi


def _margin(expect: ProbeExpect) -> float:
    """An equivalence claim's margin (the spec reader refuses one without)."""
    if expect.margin is None:
        raise ValueError("an equivalence probe claim needs a margin")
    return expect.margin


def _judge(expect: ProbeExpect, value: float, interval: tuple[float, float]) -> bool:
    low, high = interval
    if expect.direction == "increase":
        return low > expect.null_value
    if expect.direction == "decrease":
        return high < expect.null_value
    return expect.null_value - _margin(expect) <= low and high <= expect.null_value + _margin(expect)


def _bootstrap_pvalue(expect: ProbeExpect, replicates: np.ndarray) -> float:
    """Share of the replicates on the null side (the larger side for equivalence): reported
    beside the interval decision, which it matches up to the percentile's interpolation."""
    if len(replicates) == 0:
        return math.nan
    null = expect.null_value
    if expect.direction == "increase":
        return float(np.mean(replicates <= null))
    if expect.direction == "decrease":
        return float(np.mean(replicates >= null))
    return float(max(np.mean(replicates <= null - _margin(expect)), np.mean(replicates >= null + _margin(expect))))


def _not_judgeable(name: str, outcome: BmldResult) -> str | None:
    if outcome.judgeable:
        return None
    parts = []
    if outcome.censored:
        parts.append(f"threshold censored at the ladder's end (N0S0 {outcome.censored_n0s0 or '-'}, "
                     f"N0Spi {outcome.censored_n0spi or '-'})")
    if not outcome.converged:
        parts.append(f"psychometric fit not converged (N0S0 {outcome.converged_n0s0}, N0Spi "
                      f"{outcome.converged_n0spi}, {outcome.n_failed_resamples}/{outcome.n_resamples} "
                      "bootstrap refits failed)")
    return f"{name}: " + "; ".join(parts)


def probe_record(setup: ProbeSetup, outcome: BmldResult) -> dict[str, Any]:
    """What the results file keeps of one probe run (JSON-safe)."""
    from latentflow.bmld.references import REFERENCE_MODELS

    def curve(c: DetectionCurve) -> dict[str, Any]:
        fit = fit_psychometric(c.tnr_db, c.n_correct, c.n_trials)
        return {"tnr_db": list(c.tnr_db), "n_correct": list(c.n_correct), "n_trials": list(c.n_trials),
                "accuracy": list(c.accuracy), "threshold_db": _finite(fit.threshold_db),
                "width_db": _finite(fit.width_db), "censored": fit.censored, "converged": fit.converged}

    return {
        "model": setup.model, "role": REFERENCE_MODELS.get(setup.model).role, "site": outcome.site,
        "params": {k: list(v) if isinstance(v, tuple) else v for k, v in setup.params.items()},
        "target": setup.target, "ablation": setup.ablation,
        "stimuli": {k: list(v) if isinstance(v, tuple) else v for k, v in setup.stimuli.items()},
        "seed": setup.seed, "resamples": setup.resamples, "confidence": setup.confidence, "folds": setup.folds,
        "bmld_db": _finite(outcome.bmld_db), "interval": [_finite(v) for v in outcome.confidence_interval],
        "threshold_n0s0_db": _finite(outcome.threshold_n0s0_db),
        "threshold_n0spi_db": _finite(outcome.threshold_n0spi_db),
        "converged": outcome.converged, "censored": outcome.censored, "judgeable": outcome.judgeable,
        "n_failed_resamples": outcome.n_failed_resamples,
        # A model whose input is the same in both conditions (one ear; or an ablation that makes
        # the conditions alike) gives identical curves: a BMLD of exactly 0 by construction.
        "identical_curves": outcome.curve_n0s0 == outcome.curve_n0spi,
        "curve_n0s0": curve(outcome.curve_n0s0), "curve_n0spi": curve(outcome.curve_n0spi),
    }


def judge_probe(setup: ProbeSetup, expect: ProbeExpect) -> tuple[TestResult, dict[str, Any], BmldResult]:
    """The expectation judged on the setup's (paired) bootstrap: the test's result, what the
    results file keeps of the run (``extra.probe``), and the BMLD result."""
    outcome = result(setup)
    value, replicates = _quantity(outcome, expect.quantity)
    record = probe_record(setup, outcome)
    problems = [p for p in (_not_judgeable(setup.describe(), outcome),) if p]
    if expect.versus is not None:
        other = result(expect.versus)
        other_value, other_replicates = _quantity(other, expect.quantity)
        value = value - expect.scale * other_value
        replicates = replicates - expect.scale * other_replicates
        record["versus"] = {**probe_record(expect.versus, other), "scale": expect.scale}
        problem = _not_judgeable(expect.versus.describe(), other)
        if problem:
            problems.append(problem)
    interval = percentile_interval(replicates, setup.confidence)
    finite = replicates[np.isfinite(replicates)]
    judged = not problems and all(math.isfinite(v) for v in (value, *interval))
    passed = judged and _judge(expect, value, interval)
    record.update(quantity=expect.quantity, value=_finite(value), value_interval=[_finite(v) for v in interval])
    spread = float(np.std(finite, ddof=1)) if len(finite) > 1 else math.nan
    reason = _reason(expect, value, interval, passed, problems)
    stats = TestResult(
        test="bootstrap", alternative={"increase": "greater", "decrease": "less"}.get(expect.direction, "equivalence"),
        n=int(sum(outcome.curve_n0s0.n_trials)), statistic=value, statistic_name=f"{expect.quantity}_db",
        pvalue=_bootstrap_pvalue(expect, finite), alpha=round((1 - setup.confidence) / 2, 12), mean_difference=value,
        confidence_interval=interval, confidence=setup.confidence,
        interval_method="paired percentile bootstrap over trials (probe not refitted)",
        effect_size=value / spread if spread > 0 else math.nan, effect_size_name="z_boot",
        effect_size_interval=(math.nan, math.nan), effect_size_method="point value / bootstrap SD",
        passed=passed, reason=reason,
        margin=(None if expect.margin is None
                else (expect.null_value - expect.margin, expect.null_value + expect.margin)),
        n_resamples=setup.resamples, seed=setup.seed,
        details=(("n_finite_replicates", int(len(finite))),),
    )
    return stats, record, outcome


def run_probe_case(case: ProbeCase, *, controls: bool = True) -> Verdict:
    """The case's verdict, with its declared controls run and judged (``controls=False``:
    recorded as skipped, --latentflow-controls off)."""
    from .probe_controls import judge_probe_controls

    setup, expect = case.setup, case.expect
    stats, record, outcome = judge_probe(setup, expect)
    if case.model_override is not None:
        record["model_override_ignored"] = case.model_override
    verdict = Verdict(
        case_id=case.case_id, claim_id=case.claim.id, claim_title=case.claim.title,
        hypothesis_id=case.hypothesis_id, title=case.title, location=case.location,
        # a probe changes stimuli (measure.probe.ablation), not the model
        model=f"bmld:{setup.model}", interventions=(),
        measure={"metric": MEASURE, "quantity": expect.quantity, "unit": "dB", "probe": setup.to_yaml()},
        expectation=expect.to_yaml(),
        result=stats, expected=case.outcome, expected_reason=case.reason,
        x_mean=_finite(outcome.threshold_n0s0_db), y_mean=_finite(outcome.threshold_n0spi_db),
        paper=case.paper, params=dict(case.params), extra={"probe": record}, claim_paper=case.claim.paper,
        order=case.index,
    )
    return judge_probe_controls(verdict, case, enabled=controls)


def _reason(expect: ProbeExpect, value: float, interval: tuple[float, float], passed: bool,
            problems: list[str]) -> str:
    measured = f"{expect.quantity} {value:.1f} dB [{interval[0]:.1f}, {interval[1]:.1f}]"
    if problems:
        return f"not judgeable: {'; '.join(problems)} ({measured})"
    if expect.versus is not None:
        measured = f"difference {measured} versus {expect.versus.describe()}"
    null = expect.null_value
    if expect.direction == "equivalent":
        where = "inside" if passed else "not inside"
        return f"{measured}: interval {where} [{null - _margin(expect):g}, {null + _margin(expect):g}] dB"
    side = "above" if expect.direction == "increase" else "below"
    return f"{measured}: interval {'' if passed else 'not '}wholly {side} {null:g} dB"


def _finite(value: float) -> float | None:
    return float(value) if value is not None and math.isfinite(value) else None


__all__ = ["MEASURE", "curves", "judge_probe", "probe_record", "result", "run_probe_case"]
