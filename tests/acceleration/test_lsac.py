"""LSAC correctness: bitwise equal to plain sampling where nothing is reused, exactly the
freeze-step patterns where something is, and no state shared between calls or batch rows."""

from __future__ import annotations

import re

import pytest
import torch

from latentflow.acceleration import LSACController, LSACPlan, lsac_caching, sample_lsac
from latentflow.model import build_model, preset, sample

STEPS = 6
METHODS = ("euler", "midpoint")


def kwargs(method: str, seeds=(0, 1), **extra) -> dict:
    return dict(steps=STEPS, method=method, seeds=list(seeds), **extra)


def pattern_names(model) -> list[str]:
    return [f"blocks.{i}.attn.hook_pattern" for i in range(model.cfg.n_layers)]


@pytest.mark.parametrize("method", METHODS)
def test_empty_plan_is_bitwise_plain_sampling(model, cond, method):
    baseline = sample(model, cond, **kwargs(method))
    result = sample_lsac(model, cond, {}, **kwargs(method))
    assert torch.equal(result.final, baseline.final)
    assert result.record.reused_pattern_fraction() == 0.0


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("freeze", [STEPS - 1, STEPS, STEPS + 7])
def test_freeze_at_or_past_last_step_is_bitwise_plain_sampling(model, cond, method, freeze):
    baseline = sample(model, cond, **kwargs(method))
    plan = dict.fromkeys(range(model.cfg.n_layers), freeze)
    result = sample_lsac(model, cond, plan, **kwargs(method))
    assert torch.equal(result.final, baseline.final)
    assert result.record.reused_pattern_fraction() == 0.0


@pytest.mark.parametrize("method", METHODS)
def test_reused_patterns_are_exactly_the_freeze_step_patterns(model, cond, method):
    freeze = {0: 2, 2: 1, 3: 4}
    result = sample_lsac(model, cond, freeze, **kwargs(method, cache=pattern_names(model)))
    out = result.output
    by_position = {(s.step, s.evaluation): c for s, c in zip(out.evaluations, out.caches, strict=True)}
    per_step = 2 if method == "midpoint" else 1
    for layer, k in freeze.items():
        name = f"blocks.{layer}.attn.hook_pattern"
        for evaluation in range(per_step):
            frozen = by_position[(k, evaluation)][name]
            for step in range(k + 1, STEPS):
                assert torch.equal(by_position[(step, evaluation)][name], frozen), (layer, step, evaluation)
            # Before the freeze the pattern still changes (the check above is not vacuous).
            assert not torch.equal(by_position[(k - 1, evaluation)][name], frozen)
    if method == "midpoint":  # the two evaluations of a step keep separate caches
        name = "blocks.0.attn.hook_pattern"
        assert not torch.equal(by_position[(STEPS - 1, 0)][name], by_position[(STEPS - 1, 1)][name])
    # Layers outside the plan are recomputed at every step.
    name = "blocks.1.attn.hook_pattern"
    assert not torch.equal(by_position[(STEPS - 1, 0)][name], by_position[(STEPS - 2, 0)][name])


@pytest.mark.parametrize("method", METHODS)
def test_run_up_to_the_freeze_step_matches_plain_sampling(model, cond, method):
    """Before and at the freeze step LSAC computes what plain sampling computes (same path:
    caching hook_pattern puts both runs on the explicit attention path)."""
    names = pattern_names(model)
    baseline = sample(model, cond, **kwargs(method, cache=names, return_states=True))
    result = sample_lsac(model, cond, {1: 3}, **kwargs(method, cache=names, return_states=True))
    states = result.output.states
    assert torch.equal(states[: 3 + 1], baseline.states[: 3 + 1])  # x after step 2 = input of step 3
    step3 = [i for i, s in enumerate(baseline.evaluations) if s.step == 3]
    for i in step3:
        site = "blocks.1.attn.hook_pattern"
        assert torch.equal(result.output.caches[i][site], baseline.caches[i][site])
    assert not torch.equal(states[-1], baseline.states[-1])


def test_reuse_skips_the_query_key_work(model, cond):
    """After the freeze step the cached layer computes no q or k (their hooks do not fire)
    but still computes v; other layers compute all three."""
    fired: dict[str, list[int]] = {}

    def counter(activation, hook):
        fired.setdefault(hook.name, []).append(model.sampling.step)

    names = [f"blocks.{i}.attn.hook_{x}" for i in (1, 2) for x in "qkv"]
    with model.hooks(fwd_hooks=[(n, counter) for n in names]):
        sample_lsac(model, cond, {1: 2}, **kwargs("euler"))
    assert fired["blocks.1.attn.hook_q"] == [0, 1, 2] == fired["blocks.1.attn.hook_k"]
    assert fired["blocks.1.attn.hook_v"] == list(range(STEPS))
    assert fired["blocks.2.attn.hook_q"] == list(range(STEPS))


@pytest.mark.parametrize("method", METHODS)
def test_record_counts_the_reused_patterns(model, cond, method):
    plan = LSACPlan({0: 1, 3: 3})
    result = sample_lsac(model, cond, plan, **kwargs(method))
    per_step = 2 if method == "midpoint" else 1
    assert result.record.n_evaluations == STEPS * per_step
    for e in result.record.evaluations:
        expected = [
            0 if (layer in plan.freeze_steps and e.step > plan.freeze_steps[layer]) else 2 for layer in range(4)
        ]
        assert list(e.pattern_rows) == expected, (e.step, e.evaluation)
    planned = plan.reused_evaluation_fraction(4, STEPS)
    assert planned == pytest.approx(((STEPS - 2) + (STEPS - 4)) / (4 * STEPS))
    assert result.record.reused_pattern_fraction() == pytest.approx(planned)


@pytest.mark.parametrize("method", METHODS)
def test_batch_partner_never_changes_an_example(model, cond, other_cond, method):
    """Row 0 of a batch comes out bitwise the same whatever example shares its batch."""
    plan = {0: 1, 1: 2, 3: 1}
    swapped = cond.concat([cond.select([0]), other_cond.select([1])])
    a = sample_lsac(model, cond, plan, **kwargs(method)).final
    b = sample_lsac(model, swapped, plan, **kwargs(method)).final
    assert torch.equal(a[0], b[0])
    assert not torch.equal(a[1], b[1])


@pytest.mark.parametrize("method", METHODS)
def test_example_alone_equals_example_in_batch(model, cond, method):
    """Run alone, each example gives its batched output. CPU matmul kernels may block a
    batch of 1 differently from a batch of 2, so this compares to float round-off (1e-5;
    the values are O(1)), not bitwise; the bitwise batch-isolation check is the test above."""
    plan = {0: 1, 2: 2}
    batched = sample_lsac(model, cond, plan, **kwargs(method)).final
    for row in range(2):
        alone = sample_lsac(model, cond.select([row]), plan, **kwargs(method, seeds=[row])).final
        torch.testing.assert_close(alone[0], batched[row], rtol=0, atol=1e-5)


@pytest.mark.parametrize("method", METHODS)
def test_no_state_survives_a_call(model, cond, other_cond, method):
    """Inside one lsac_caching block, a call after another equals a fresh model's call."""
    plan = {0: 1, 1: 1, 2: 3}
    with lsac_caching(model, plan) as controller:
        sample(model, cond, **kwargs(method))
        second = sample(model, other_cond, **kwargs(method, seeds=(5, 6))).final
        assert controller.cached_pattern(0) is not None
    assert controller.cached_pattern(0) is None  # dropped on detach
    fresh = build_model(preset("parity", n_layers=4), seed=3)
    expected = sample_lsac(fresh, other_cond, plan, **kwargs(method, seeds=(5, 6))).final
    assert torch.equal(second, expected)


def test_padding_masks_stay_masked_in_reused_patterns(model, cond):
    assert cond.audio_mask is not None and not bool(cond.audio_mask[1].all())
    result = sample_lsac(model, cond, {0: 1, 3: 2}, **kwargs("midpoint", cache=pattern_names(model)))
    masked_keys = ~cond.audio_mask[1]
    for state, cache in zip(result.output.evaluations, result.output.caches, strict=True):
        if state.step > 2:
            pattern = cache["blocks.3.attn.hook_pattern"]
            assert torch.all(pattern[1][..., masked_keys] == 0)
            torch.testing.assert_close(pattern.sum(-1), torch.ones_like(pattern.sum(-1)))
    assert torch.isfinite(result.final).all()


def test_weights_unchanged(model, cond):
    before = {k: v.clone() for k, v in model.state_dict().items()}
    sample_lsac(model, cond, {0: 1, 1: 1, 2: 1, 3: 1}, **kwargs("midpoint"))
    after = model.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)


def test_error_mid_run_leaves_model_clean_and_next_call_exact(model, cond):
    class Boom(RuntimeError):
        pass

    def explode(activation, hook):
        if model.sampling.step == 3:
            raise Boom

    with pytest.raises(Boom), model.hooks(fwd_hooks=[("blocks.2.hook_resid_post", explode)]):
        sample_lsac(model, cond, {0: 1, 2: 1}, **kwargs("euler"))
    # (the autouse fixture checks nothing is left attached)
    plain, empty_plan = sample(model, cond, **kwargs("euler")), sample_lsac(model, cond, {}, **kwargs("euler"))
    assert torch.equal(plain.final, empty_plan.final)


def test_chains_an_existing_override(model, cond):
    """An intervention already overriding a layer is what gets cached and reused."""
    uniform_calls = []

    def uniform(compute, call):
        uniform_calls.append(model.sampling.step)
        return call.uniform_pattern()

    attention = model.attention_modules("self")[1]
    with attention.overriding_pattern(uniform):
        result = sample_lsac(model, cond, {1: 2}, **kwargs("euler", cache=["blocks.1.attn.hook_pattern"]))
    assert uniform_calls == [0, 1, 2]
    last = result.output.caches[-1]["blocks.1.attn.hook_pattern"]
    assert torch.equal(last, result.output.caches[2]["blocks.1.attn.hook_pattern"])
    valid = cond.audio_mask.float()
    expected = (valid / valid.sum(-1, keepdim=True))[:, None, None, :].expand_as(last)
    torch.testing.assert_close(last, expected)


def test_model_called_outside_the_sampler_is_an_error(model, cond):
    x = torch.zeros(cond.batch_size, cond.n_frames, model.cfg.state_channels)
    with lsac_caching(model, {0: 1}), pytest.raises(RuntimeError, match="outside the sampler"):
        model(x, 0.5, cond)


@pytest.mark.parametrize(
    "plan, message",
    [
        ({-1: 2}, "layer -1 must be an integer >= 0"),
        ({0: -2}, "freeze step -2 of layer 0"),
        ({"1": 2}, "layer '1' must be an integer"),
        ({0: 1.5}, "freeze step 1.5"),
    ],
)
def test_bad_plans_are_rejected_with_the_value(plan, message):
    with pytest.raises(ValueError, match=message):
        LSACPlan(plan)


def test_the_running_evaluation_exists_only_during_one(model):
    controller = LSACController(model, LSACPlan({0: 1}))
    for name in ("running_state", "running_cond"):
        with pytest.raises(RuntimeError, match="LSACController: no sampling evaluation is running"):
            getattr(controller, name)


def test_layer_outside_the_model_is_rejected(model):
    with pytest.raises(ValueError, match=re.escape("layer 9 does not exist; the model has layers 0..3")):
        LSACController(model, LSACPlan({9: 1}))


def test_tuned_plan_refuses_another_step_count(model, cond):
    plan = LSACPlan({0: 2}, n_steps=16, name="balanced")
    with pytest.raises(ValueError, match="made for 16 sampling steps but the sampler runs 6"):
        sample_lsac(model, cond, plan, **kwargs("euler"))


def test_plan_round_trips_through_a_dict():
    plan = LSACPlan({3: 4, 1: 2}, n_steps=16, name="balanced")
    data = plan.to_dict()
    assert data == {"name": "balanced", "n_steps": 16, "freeze_steps": {"1": 2, "3": 4}}
    assert LSACPlan.from_dict(data) == plan
    with pytest.raises(ValueError, match=r"unknown LSAC plan fields \['layers'\]"):
        LSACPlan.from_dict({"layers": {}})


def test_bfloat16(cond):
    """The same guarantees in bfloat16 (the dtype of large models on GPU)."""
    model = build_model(preset("parity", n_layers=4), seed=3, dtype=torch.bfloat16)
    cond = cond.to(dtype=torch.bfloat16)
    baseline = sample(model, cond, **kwargs("midpoint"))
    assert torch.equal(sample_lsac(model, cond, {0: STEPS - 1, 2: STEPS}, **kwargs("midpoint")).final, baseline.final)
    result = sample_lsac(model, cond, {0: 1}, **kwargs("midpoint", cache=["blocks.0.attn.hook_pattern"]))
    caches = result.output.caches  # midpoint: index 2 s + e is step s, evaluation e
    assert caches[-1]["blocks.0.attn.hook_pattern"].dtype == torch.bfloat16
    assert torch.equal(caches[-1]["blocks.0.attn.hook_pattern"], caches[3]["blocks.0.attn.hook_pattern"])
    assert torch.equal(caches[-2]["blocks.0.attn.hook_pattern"], caches[2]["blocks.0.attn.hook_pattern"])
    assert not torch.equal(result.final, baseline.final)


@pytest.mark.parametrize("method", METHODS)
def test_an_override_that_declines_is_read_through_as_no_override(model, cond, method):
    # A model's own pattern override may return None ("not overriding this call"); LSAC and
    # adaptive refresh stacked on it must then cache the computed pattern, as without it.
    from latentflow.acceleration import AdaptiveConfig, sample_adaptive

    plan = {1: 2, 3: 1}
    adaptive = AdaptiveConfig({1: 1, 3: 1}, threshold=0.05, n_steps=STEPS)
    plain_lsac = sample_lsac(model, cond, plan, **kwargs(method)).final
    plain_adaptive = sample_adaptive(model, cond, adaptive, **kwargs(method)).final
    for attention in model.attention_modules("self"):
        attention.pattern_override = lambda compute, call: None
    try:
        assert torch.equal(sample_lsac(model, cond, plan, **kwargs(method)).final, plain_lsac)
        assert torch.equal(sample_adaptive(model, cond, adaptive, **kwargs(method)).final, plain_adaptive)
    finally:
        for attention in model.attention_modules("self"):
            attention.pattern_override = None
