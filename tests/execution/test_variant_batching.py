"""Independent intervention variants share forward passes, and give the numbers they give alone."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from latentflow.execution import SpecSession
from latentflow.interventions import Intervention, InterventionContext, NotBatchable, applied, batchable
from latentflow.model import build_model, preset, sample
from latentflow.model.random_inputs import random_conditioning

SPEC = """\
latentflow: 1
claim: {id: batching, title: Variant batching, source: tests}
model: "random:fixture"
data: {tier: clean, n: 5, seed: 2}
sampler: {method: euler, steps: 3}
hypotheses:
  - id: text_zero
    title: zero the text projection
    interventions: [{site: hook_text_proj, op: zero}]
    measure: {metric: si_snr, compare: target}
    expect: {direction: decrease, test: paired_t}
  - id: cross_scaled
    title: scale the cross-attention outputs of two layers from step 1
    interventions: [{site: blocks.*.hook_cross_out, op: scale, args: {factor: 0.5}, layers: [1, 3], steps: {from: 1}}]
    measure: {metric: si_snr, compare: baseline}
    expect: {direction: decrease, test: paired_t, null_value: 60.0}
  - id: examples_mean
    title: mean-ablate the MLP output of layer 2 over the examples
    interventions: [{site: blocks.2.hook_mlp_out, op: mean_ablate, args: {over: examples}}]
    measure: {metric: si_snr, compare: target}
    expect: {direction: decrease, test: paired_t}
  - id: noise
    title: seeded noise on the stream
    interventions: [{site: blocks.0.hook_resid_post, op: add_noise, args: {std: 0.3, seed: 4}}]
    measure: {metric: sar, compare: target}
    expect: {direction: decrease, test: paired_t}
  - id: temporal_mean_removed
    title: remove the temporal mean of the cross-attention outputs
    interventions: [{site: blocks.*.hook_cross_out, op: remove_subspace}]
    measure: {metric: si_snr, compare: target}
    expect: {direction: decrease, test: paired_t}
  - id: uniform
    title: uniform attention, a pattern operation that runs on its own
    interventions: [{site: blocks.*.attn.hook_pattern, op: uniform_attention}]
    measure: {metric: si_snr, compare: target}
    expect: {direction: decrease, test: paired_t}
"""


@pytest.fixture(autouse=True)
def one_thread():
    # as spec runs do (--latentflow-threads 1): with several threads, how a matmul is split
    # depends on the batch size, and float sums then round differently
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def run_all(path, **kwargs):
    session = SpecSession(**kwargs)
    plan = session.plan(path)
    return session, {case.case_id: session.runner.case_result(case) for case in plan.cases}


def test_variants_run_alone_by_default():
    # a case's numbers must not depend on which other cases share its forward passes
    assert SpecSession().runner.batch_variants is False


def test_batched_variants_agree_with_the_sequential_numbers_to_float_rounding(tmp_path):
    # A matmul kernel may block a 20-row batch differently from a 5-row one: on one CPU the
    # numbers were bitwise equal, on the CI machine they differed in the 8th digit. Both are
    # rounding; the verdicts are the same.
    path = tmp_path / "batching.yaml"
    path.write_text(SPEC)
    batched, together = run_all(path, batch_variants=True)
    sequential, alone = run_all(path)
    assert sequential.runner.batch_log == []
    # baseline + 5 activation variants, at most 4 per forward pass: two batched passes
    assert [(n, how) for _, n, how in batched.runner.batch_log] == [(4, "batched"), (2, "batched")]
    for case_id, result in alone.items():
        assert together[case_id].x == pytest.approx(result.x, rel=1e-5, abs=1e-5), case_id
        if result.y is not None:
            assert together[case_id].y == pytest.approx(result.y, rel=1e-5, abs=1e-5), case_id
        assert together[case_id].result.passed == result.result.passed, case_id
        assert together[case_id].result.pvalue == pytest.approx(result.result.pvalue, rel=1e-3), case_id


def test_tiny_chunks_agree_to_float_rounding(tmp_path):
    path = tmp_path / "batching.yaml"
    path.write_text(SPEC)
    _, together = run_all(path, batch_size=2, batch_variants=True)
    _, alone = run_all(path, batch_size=2)
    for case_id, result in alone.items():
        assert together[case_id].x == pytest.approx(result.x, rel=1e-5, abs=1e-5), case_id


def test_a_variant_without_a_batch_dimension_falls_back_to_its_own_run(tmp_path):
    spec = SPEC.split("  - id: cross_scaled", maxsplit=1)[0] + """\
  - id: gate_zero
    title: zero the span-anchor gate (a 1-element site)
    interventions: [{site: hook_anchor_gate, op: zero}]
    measure: {metric: si_snr, compare: target}
    expect: {direction: decrease, test: paired_t}
"""
    path = tmp_path / "gate.yaml"
    path.write_text(spec)
    batched, together = run_all(path, batch_variants=True)
    _, alone = run_all(path)
    ((_, n, how),) = batched.runner.batch_log
    assert n == 3 and how.startswith("sequential: hook_anchor_gate: activation of shape (1,)")
    for case_id, result in alone.items():
        # the fallback runs each variant alone, exactly as the default does: bitwise
        assert np.array_equal(together[case_id].x, result.x), case_id


def test_rows_limit_an_intervention_to_its_slice_of_the_batch():
    model = build_model(preset("parity"), seed=1)
    cond = random_conditioning(model.cfg, batch=4, frames=8)
    seeds = [0, 1, 2, 3]
    zero = [Intervention("hook_text_proj", "zero")]
    plain = sample(model, cond, steps=2, method="euler", seeds=seeds).final
    with applied(model, zero):
        ablated = sample(model, cond, steps=2, method="euler", seeds=seeds).final
    ctx = InterventionContext(model=model, example_keys=seeds, frame_mask=cond.audio_mask)
    with applied(model, zero, ctx, rows=slice(2, 4)):
        mixed = sample(model, cond, steps=2, method="euler", seeds=seeds).final
    assert torch.equal(mixed[:2], plain[:2]) and torch.equal(mixed[2:], ablated[2:])
    assert not torch.equal(plain[2:], ablated[2:])
    assert not model.hook_dict["hook_text_proj"]._forward_hooks  # nothing left behind


def test_only_activation_operations_without_a_source_are_batchable():
    assert batchable([Intervention("hook_text_proj", "zero"), Intervention("blocks.0.hook_mlp_out", "scale", {"factor": 2.0})])
    assert not batchable([Intervention("blocks.0.attn.hook_pattern", "uniform_attention")])
    assert not batchable([Intervention("hook_anchor_gate", "override_scalar", {"value": 5.0})])
    assert not batchable([Intervention("hook_text_proj", "patch")])
    model = build_model(preset("parity"), seed=1)
    with pytest.raises(NotBatchable, match="uniform_attention"), \
            applied(model, [Intervention("blocks.0.attn.hook_pattern", "uniform_attention")], rows=slice(0, 1)):
        pass


def test_each_variant_is_sampled_once_and_only_selected_cases_are_batched(tmp_path, monkeypatch):
    import latentflow.execution.sampling as sampling_module

    path = tmp_path / "batching.yaml"
    path.write_text(SPEC)
    session = SpecSession(batch_variants=True)
    plan = session.plan(path)
    batch_sizes = []
    real_sample = sampling_module.sample

    def counting_sample(model, cond, **kwargs):
        batch_sizes.append(cond.batch_size)
        return real_sample(model, cond, **kwargs)

    monkeypatch.setattr(sampling_module, "sample", counting_sample)
    for case in plan.cases:
        session.runner.case_result(case)
    # baseline + 4 activation variants share two passes of 4 and 2 variants x 5 examples;
    # uniform_attention runs alone: no variant is ever sampled twice
    assert batch_sizes == [20, 10, 5]
    batch_sizes.clear()
    selected = SpecSession(batch_variants=True)
    plan = selected.plan(path)
    (only,) = [c for c in plan.cases if c.hypothesis_id == "text_zero"]
    selected.runner.select([only])  # what the plugin does after pytest -k
    selected.runner.case_result(only)
    assert batch_sizes == [10]  # the baseline and text_zero only


def test_a_failing_variant_fails_only_its_own_case(tmp_path):
    from latentflow.interventions import OPERATIONS, Operation

    def broken(args):
        def fn(tensor, site, ctx):
            raise RuntimeError("user operation broke")
        return fn

    OPERATIONS.register("broken_op", Operation("broken_op", "activation", broken))
    try:
        spec = SPEC.split("  - id: cross_scaled", maxsplit=1)[0] + """\
  - id: broken
    title: a user operation that raises
    interventions: [{site: hook_text_proj, op: broken_op}]
    measure: {metric: si_snr, compare: target}
    expect: {direction: decrease, test: paired_t}
"""
        path = tmp_path / "broken.yaml"
        path.write_text(spec)
        session = SpecSession(batch_variants=True)
        plan = session.plan(path)
        by_id = {c.hypothesis_id: c for c in plan.cases}
        assert session.runner.case_result(by_id["text_zero"]).result.n == 5
        with pytest.raises(RuntimeError, match="user operation broke"):
            session.runner.case_result(by_id["broken"])
        assert session.runner.batch_log[0][2].startswith("sequential: user operation broke")
    finally:
        OPERATIONS.unregister("broken_op")


def test_rows_need_a_context_that_knows_the_batch():
    model = build_model(preset("parity"), seed=1)
    with pytest.raises(ValueError, match="example_keys"), \
            applied(model, [Intervention("hook_text_proj", "zero")], rows=slice(0, 1)):
        pass


def test_two_spec_files_with_the_same_ids_keep_their_own_numbers(tmp_path):
    # A serial session runs many files: a case's numbers are keyed by its file too, not by
    # claim::hypothesis alone (which two files may share).
    one, two = tmp_path / "one.yaml", tmp_path / "two.yaml"
    head = SPEC.split("  - id: cross_scaled", maxsplit=1)[0]
    one.write_text(head)
    two.write_text(head.replace("op: zero}]", "op: scale, args: {factor: 0.5}}]"))
    session = SpecSession()
    (first,) = session.plan(one).cases
    (second,) = session.plan(two).cases
    assert first.case_id == second.case_id
    a, b = session.runner.case_result(first), session.runner.case_result(second)
    assert not np.array_equal(a.x, b.x)
    alone = SpecSession()
    (again,) = alone.plan(two).cases
    assert np.array_equal(alone.runner.case_result(again).x, b.x)
