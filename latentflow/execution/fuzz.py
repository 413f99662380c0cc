"""Fuzz checks: invariants that must hold for every drawn intervention (run with hypothesis)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from ..registry import Param, Registry


class InvariantViolation(AssertionError):
    """An invariant failed on a drawn example; ``snippet`` is a spec that reproduces it."""

    def __init__(self, example: Any, message: str):
        self.example = example
        self.snippet = example.to_snippet()
        super().__init__(f"{example.example_id}: {message}")


@dataclass(frozen=True)
class Invariant:
    name: str
    check: Callable[[Any, Any, Any], str | None]  # (runner, example, fuzz check) -> None or a failure message
    params: Mapping[str, Param] = field(default_factory=dict)
    requires_measure: bool = False
    doc: str = ""


INVARIANTS: Registry[Invariant] = Registry("invariant")


def _max_diff(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a - b).abs().max())


def _equals_baseline(runner, example, check) -> str | None:
    # A fresh baseline: a memoised one may come from a pass shared with other variants, which
    # is bitwise equal on CPU at the usual chunk sizes but not promised everywhere.
    base = runner.run(example.model, example.data, example.sampler, memo=False)
    out = runner.run(example.model, example.data, example.sampler, example.interventions)
    if torch.equal(base.final, out.final):
        return None
    return (f"the output differs from the baseline by up to {_max_diff(base.final, out.final):.3g} "
            "(expected bitwise equal)")


def _removal_restores(runner, example, check) -> str | None:
    base = runner.run(example.model, example.data, example.sampler, memo=False)
    runner.run(example.model, example.data, example.sampler, example.interventions, memo=False)
    again = runner.run(example.model, example.data, example.sampler, memo=False)
    if torch.equal(base.final, again.final):
        return None
    return ("after the intervention was removed, a run differs from the baseline by "
            f"{_max_diff(base.final, again.final):.3g}")


def effect_size_of(runner, example) -> float:
    """How far the intervened run moved the measure: the mean worsening (or absolute change)."""
    from ..metrics import get_metric

    measure = example.measure
    if measure.compare == "baseline":
        base = runner.run(example.model, example.data, example.sampler)
        out = runner.run(example.model, example.data, example.sampler, example.interventions)
        inputs = runner.inputs(example.model, example.data)
        values = runner.metric_values(measure, out, inputs, reference_run=base, reasons=[])
        sign = -1.0 if get_metric(measure.metric).higher_is_better else 1.0
        return float(sign * np.nanmean(values))
    raise ValueError(f"monotone_in_scale supports compare: baseline measures; got {measure.compare!r}")


def _monotone(runner, example, check) -> str | None:
    over = example.args["over"]
    tolerance = float(example.args.get("tolerance", 1e-6))
    low_value = check.given[over].low if check.given[over].kind != "sampled_from" else min(check.given[over].values)
    lower = check.example({**dict(example.values), over: low_value})
    high, low = effect_size_of(runner, example), effect_size_of(runner, lower)
    if high + tolerance >= low:
        return None
    return f"effect at {over}={example.values[over]} is {high:.4g}, smaller than {low:.4g} at {over}={low_value}"


def measured_self_attention_saving(runner, example) -> float:
    """Share of self-attention FLOPs a run of the example's data skipped, from what the run's
    LSAC controllers recorded (the ComputeRecord and FLOP count ``latentflow bench lsac`` uses)."""
    from ..acceleration.flops import self_attention_saving
    from ..interventions import InterventionContext, applied
    from ..model import sample
    from .sampling import example_seeds

    model = runner.world(example.model).model
    cond = runner.inputs(example.model, example.data).cond.to(runner.device)
    ctx = InterventionContext(model=model)
    with applied(model, example.interventions, ctx):
        sample(model, cond, steps=example.sampler.steps, method=example.sampler.method,
               seeds=example_seeds(example.data.seed, example.data.n))
        records = [controller.record() for controller in ctx.controllers]
    if len(records) != 1:
        raise ValueError(f"self_attention_saving_at_least measures one LSAC operation (lsac, lsac_adaptive); "
                         f"the interventions attach {len(records)}")
    return self_attention_saving(model.cfg, records[0], cond)


def _saving_at_least(runner, example, check) -> str | None:
    wanted = float(example.args["at_least"])
    saved = measured_self_attention_saving(runner, example)
    if saved + 1e-12 >= wanted:
        return None
    return f"the interventions skip {saved:.1%} of self-attention FLOPs; at least {wanted:.1%} was claimed"


INVARIANTS.register("self_attention_saving_at_least", Invariant(
    "self_attention_saving_at_least", _saving_at_least,
    params={"at_least": Param(float, doc="claimed share of self-attention FLOPs skipped (0-1)")},
    doc="the interventions (e.g. LSAC's reused patterns) skip at least this share of self-attention FLOPs"))
INVARIANTS.register("identity_at_scale_1", Invariant(
    "identity_at_scale_1", _equals_baseline, doc="scaling by 1 leaves the output bitwise unchanged"))
INVARIANTS.register("freeze_past_last_step_is_baseline", Invariant(
    "freeze_past_last_step_is_baseline", _equals_baseline,
    doc="freezing from a step past the last equals the baseline bitwise"))
INVARIANTS.register("equals_baseline", Invariant(
    "equals_baseline", _equals_baseline, doc="the intervened output equals the baseline bitwise"))
INVARIANTS.register("removal_restores_baseline", Invariant(
    "removal_restores_baseline", _removal_restores,
    doc="after the intervention is removed, a run equals the baseline bitwise"))
INVARIANTS.register("monotone_in_scale", Invariant(
    "monotone_in_scale", _monotone, requires_measure=True,
    params={"over": Param(str, doc="the drawn parameter the effect must grow with"),
            "tolerance": Param(float, 1e-6, "allowed decrease")},
    doc="the measured effect at the drawn value is at least the effect at the strategy's low end"))


def strategy_for(strategy: Any):
    from hypothesis import strategies as st

    if strategy.kind == "integers":
        return st.integers(strategy.low, strategy.high)
    if strategy.kind == "floats":
        return st.floats(strategy.low, strategy.high, allow_nan=False, allow_infinity=False)
    return st.sampled_from(list(strategy.values))


def run_fuzz_check(runner, check, settings_overrides: Mapping[str, Any] | None = None) -> int:
    """Run a compiled fuzz check with hypothesis; raises InvariantViolation on a failing draw.

    Returns the number of examples run.
    """
    from hypothesis import given, settings

    invariant = INVARIANTS.get(check.invariant)
    count = 0

    def one(values: Mapping[str, Any]) -> None:
        nonlocal count
        count += 1
        example = check.example(values)
        message = invariant.check(runner, example, check)
        if message is not None:
            raise InvariantViolation(example, message)

    if not check.given:
        one({})
        return count
    strategies = {name: strategy_for(s) for name, s in check.given.items()}
    options = {"max_examples": check.max_examples, "deadline": None}
    options.update(settings_overrides or {})

    @settings(**options)
    @given(**strategies)
    def property_(**values):
        one(values)

    property_()
    return count
