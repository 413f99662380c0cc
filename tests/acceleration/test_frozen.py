"""The one frozen-pattern primitive: its per-call state and reset, and that the freeze_pattern
operation, LSAC (sample_lsac and the lsac operation) and adaptive refresh run on it, with the
same outputs and the same record of what was computed."""

from __future__ import annotations

import dataclasses
import re

import pytest
import torch

from latentflow.acceleration import AdaptiveConfig, LSACPlan, sample_adaptive, sample_lsac
from latentflow.acceleration.adaptive import AdaptiveController
from latentflow.acceleration.flops import pattern_share, self_attention_saving
from latentflow.acceleration.frozen import FrozenPattern, FrozenPatternConfig
from latentflow.acceleration.lsac import LSACController
from latentflow.interventions import Intervention, InterventionContext, applied
from latentflow.model import AttentionCall, sample
from latentflow.model.dit import SamplingState

STEPS = 6
METHODS = ("euler", "midpoint")


def kwargs(method: str) -> dict:
    return dict(steps=STEPS, method=method, seeds=[0, 1])


def state(step: int, evaluation: int = 0, n_steps: int = STEPS) -> SamplingState:
    return SamplingState(step=step, n_steps=n_steps, t=step / n_steps, evaluation=evaluation, method="euler")


CALL = AttentionCall(
    batch=1, n_heads=2, n_queries=3, n_keys=3, key_mask=None, dtype=torch.float32, device=torch.device("cpu")
)


def pattern(value: float) -> torch.Tensor:
    return torch.full((1, 2, 3, 3), value)


def sampled_with(model, cond, method, interventions):
    ctx = InterventionContext(model=model)
    with applied(model, interventions, ctx):
        out = sample(model, cond, **kwargs(method))
        records = [controller.record() for controller in ctx.controllers]
    return out.final, records, ctx


# -- the primitive ------------------------------------------------------------------------


def test_keeps_the_freeze_step_pattern_and_reuses_it_later():
    frozen = FrozenPattern(FrozenPatternConfig(2))
    computed = []

    def compute(value):
        def run():
            computed.append(value)
            return pattern(value)
        return run

    assert frozen(state(0), compute(0.0), CALL) is None  # before the freeze step: attention untouched
    assert frozen(state(1), compute(1.0), CALL) is None
    kept = frozen(state(2), compute(2.0), CALL)
    assert torch.equal(kept, pattern(2.0))
    assert frozen(state(3), compute(3.0), CALL) is kept
    assert frozen(state(5), compute(5.0), CALL) is kept
    assert computed == [2.0]  # later steps never computed a pattern


def test_keeps_one_pattern_per_evaluation_index():
    frozen = FrozenPattern(FrozenPatternConfig(1))
    frozen(state(1, 0), lambda: pattern(1.0), CALL)
    frozen(state(1, 1), lambda: pattern(1.5), CALL)
    assert torch.equal(frozen(state(2, 0), lambda: pattern(9.0), CALL), pattern(1.0))
    assert torch.equal(frozen(state(2, 1), lambda: pattern(9.0), CALL), pattern(1.5))


def test_reset_and_a_new_call_drop_every_kept_pattern():
    frozen = FrozenPattern(FrozenPatternConfig(0), name="layer 0")
    frozen(state(0), lambda: pattern(1.0), CALL)
    assert frozen.kept(0) is not None
    frozen.reset()
    assert frozen.kept(0) is None
    with pytest.raises(RuntimeError, match="layer 0: no pattern kept at the freeze step 0 for evaluation 0"):
        frozen(state(3), lambda: pattern(2.0), CALL)
    # A new sampling call (step 0, evaluation 0) starts from nothing, even without reset().
    frozen(state(0), lambda: pattern(1.0), CALL)
    frozen.keep(1, pattern(7.0))
    frozen(state(0), lambda: pattern(2.0), CALL)
    assert frozen.kept(1) is None and torch.equal(frozen.kept(0), pattern(2.0))


@pytest.mark.parametrize("freeze", [STEPS - 1, STEPS, STEPS + 7])
def test_a_freeze_at_or_past_the_last_step_keeps_nothing(freeze):
    frozen = FrozenPattern(FrozenPatternConfig(freeze))
    assert not frozen.config.reuses_in(STEPS)
    assert all(frozen(state(step), lambda: pattern(1.0), CALL) is None for step in range(STEPS))
    assert frozen.kept(0) is None


def test_a_kept_pattern_of_another_shape_is_an_error():
    frozen = FrozenPattern(FrozenPatternConfig(0), name="layer 3")
    frozen(state(0), lambda: pattern(1.0), CALL)
    other = dataclasses.replace(CALL, batch=2)
    mismatch = r"layer 3: the kept pattern has shape \(1, 2, 3, 3\), the call needs \(2, 2, 3, 3\)"
    with pytest.raises(RuntimeError, match=mismatch):
        frozen(state(1), lambda: pattern(1.0), other)


@pytest.mark.parametrize("step", [-1, 1.5, True, "2"])
def test_bad_freeze_steps_are_named(step):
    with pytest.raises(ValueError, match="freeze step must be an integer >= 0, got"):
        FrozenPatternConfig(step)


# -- one primitive behind the operation, LSAC and adaptive ---------------------------------


def test_lsac_and_adaptive_keep_their_patterns_in_the_primitive(model):
    lsac = LSACController(model, LSACPlan({0: 2, 3: 1}))
    adaptive = AdaptiveController(model, AdaptiveConfig({1: 2}, 0.1))
    assert {type(f) for f in lsac.frozen.values()} == {FrozenPattern} == {type(f) for f in adaptive.frozen.values()}
    assert {layer: f.config.freeze_step for layer, f in lsac.frozen.items()} == {0: 2, 3: 1}


@pytest.mark.parametrize("method", METHODS)
def test_freeze_pattern_operation_lsac_and_the_lsac_operation_are_bitwise_equal(model, cond, method):
    plan = {0: 2, 1: 2, 3: 4}
    shipped = sample_lsac(model, cond, plan, **kwargs(method))
    as_operation, (record,), _ = sampled_with(
        model, cond, method, [Intervention("blocks.*.attn.hook_pattern", "lsac", {"plan": plan})]
    )
    per_site, records, _ = sampled_with(model, cond, method, [
        Intervention("blocks.*.attn.hook_pattern", "freeze_pattern", {"from_step": 2}, layers=[0, 1]),
        Intervention("blocks.3.attn.hook_pattern", "freeze_pattern", {"from_step": 4}),
    ])
    plain = sample(model, cond, **kwargs(method)).final
    assert not torch.equal(shipped.final, plain)  # something was reused
    assert torch.equal(as_operation, shipped.final)
    assert torch.equal(per_site, shipped.final)
    assert record == shipped.record and records == []  # freeze_pattern attaches no controller


def test_lsac_from_step_freezes_every_selected_layer(model, cond):
    out, (record,), _ = sampled_with(
        model, cond, "euler", [Intervention("blocks.*.attn.hook_pattern", "lsac", {"from_step": 3}, layers=[1, 2])]
    )
    assert torch.equal(out, sample_lsac(model, cond, {1: 3, 2: 3}, **kwargs("euler")).final)
    reused = [(e.step, layer) for e in record.evaluations for layer in range(4) if e.pattern_rows[layer] == 0]
    assert reused == [(step, layer) for step in (4, 5) for layer in (1, 2)]


@pytest.mark.parametrize("method", METHODS)
def test_lsac_adaptive_operation_is_the_adaptive_controller(model, cond, method):
    # The median drift of the run: some patterns are reused, some refreshed.
    probe = AdaptiveController(model, AdaptiveConfig.all_layers(4, 1, threshold=1e30))
    with probe.attached():
        sample(model, cond, **kwargs(method))
        threshold = float(torch.cat([d for *_, d in probe.drifts]).median())
    shipped = sample_adaptive(model, cond, AdaptiveConfig.all_layers(4, 1, threshold), **kwargs(method))
    out, (record,), _ = sampled_with(
        model, cond, method,
        [Intervention("blocks.*.attn.hook_pattern", "lsac_adaptive", {"threshold": threshold, "start_step": 1})],
    )
    assert torch.equal(out, shipped.final)
    assert record == shipped.record
    assert 0.0 < record.reused_pattern_fraction() < 1.0


# -- the recorder -------------------------------------------------------------------------


def test_recorded_saving_is_reuse_share_times_pattern_share(model, cond):
    plan = LSACPlan({0: 1, 2: 3})
    result = sample_lsac(model, cond, plan, **kwargs("euler"))
    reused = (STEPS - 1 - 1) + (STEPS - 1 - 3)  # steps after each freeze step
    assert result.record.reused_pattern_fraction() == pytest.approx(reused / (4 * STEPS))
    saving = self_attention_saving(model.cfg, result.record, cond)
    assert saving == pytest.approx(reused / (4 * STEPS) * pattern_share(model.cfg, cond.n_frames), rel=1e-12)
    full = sample_lsac(model, cond, {}, **kwargs("euler"))
    assert self_attention_saving(model.cfg, full.record, cond) == 0.0


# -- errors -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "layers", "message"),
    [
        ({"plan": {0: 1}, "from_step": 2}, None,
         "exactly one of preset, plan, from_step; got \\['plan', 'from_step'\\]"),
        ({}, None, "exactly one of preset, plan, from_step; got none"),
        ({"preset": "balanced"}, None, "with a preset needs tier"),
        ({"plan": {0: 1}, "tier": "noisy"}, None, "tier and tuned_on name the tuning of a preset"),
        ({"from_step": 1, "tuned_on": "large"}, None, "they go with preset only"),
        ({"preset": "balanced", "tier": "noisy", "calibrated_on": "fixture"}, None,
         "operation 'lsac': renamed argument: 'calibrated_on' is now 'tuned_on'"),
        ({"plan": {3: 1}}, [0, 1], "layers \\[3\\] of the plan are not among the sites' layers \\[0, 1\\]"),
        ({"plan": {"x": 1}}, None, "plan: layer 'x' is not an integer"),
        ({"plan": {0: -1}}, None, "freeze step -1 of layer 0 must be an integer >= 0"),
        ({"preset": "balanced", "tier": "noisy", "tuned_on": "large"}, None,
         "no stored LSAC tuning for model 'large'; stored: \\['fixture'\\]"),
        # The fixture's plan names layers 0-7; this model has 4.
        ({"preset": "balanced", "tier": "noisy"}, None, "layers \\[4, 5, 6, 7\\] of the plan are not among"),
    ],
)
def test_lsac_operation_errors_name_the_problem(model, cond, args, layers, message):
    with pytest.raises(ValueError, match=message):
        sampled_with(model, cond, "euler", [Intervention("blocks.*.attn.hook_pattern", "lsac", args, layers=layers)])


def test_lsac_operation_acts_on_self_attention_only_and_takes_no_steps(model, cond):
    with pytest.raises(ValueError, match=re.escape("cannot act on 'blocks.0.cross_attn.hook_pattern'")):
        sampled_with(model, cond, "euler", [Intervention("blocks.0.cross_attn.hook_pattern", "lsac", {"from_step": 1})])
    with pytest.raises(ValueError, match="takes no steps selection"):
        lsac_on_step_2 = Intervention("blocks.0.attn.hook_pattern", "lsac", {"from_step": 1}, steps=[2])
        sampled_with(model, cond, "euler", [lsac_on_step_2])
