"""The analytic FLOP count: matrix products agree exactly with torch's own FLOP counter on real
runs (plain, LSAC, adaptive, Skip-2), and the element-wise terms follow the documented costs."""

from __future__ import annotations

import pytest
import torch
from torch.utils.flop_counter import FlopCounterMode

from latentflow.acceleration import (
    AdaptiveConfig,
    ComputeRecord,
    DeepCacheConfig,
    LSACPlan,
    sample_adaptive,
    sample_deepcache,
    sample_lsac,
    sample_truncated,
)
from latentflow.acceleration.flops import (
    DEFAULT_COSTS,
    MATMUL_ONLY,
    attention_flops,
    count_run,
    evaluation_flops,
    pattern_share,
)
from latentflow.model import preset

STEPS = 6
FRAMES = 20
TOKENS = 5


def counted_by_torch(fn) -> int:
    with FlopCounterMode(display=False) as counter:
        fn()
    return counter.get_total_flops()


def test_one_forward_matches_torch_flop_counter(model, cond):
    x = torch.randn(2, FRAMES, model.cfg.state_channels, generator=torch.Generator().manual_seed(0))
    expected = counted_by_torch(lambda: model(x, 0.3, cond))
    ours = evaluation_flops(model.cfg, FRAMES, TOKENS, 2, video=True, anchors=True, costs=MATMUL_ONLY)
    assert ours.total == expected


@pytest.mark.parametrize("method", ["euler", "midpoint"])
@pytest.mark.parametrize(
    "accelerate",
    [
        lambda m, c, kw: sample_truncated(m, c, STEPS, **kw),
        lambda m, c, kw: sample_lsac(m, c, LSACPlan({0: 1, 2: 2, 3: 4}), steps=STEPS, **kw),
        lambda m, c, kw: sample_adaptive(m, c, AdaptiveConfig.all_layers(4, 1, threshold=0.03), steps=STEPS, **kw),
        lambda m, c, kw: sample_deepcache(m, c, DeepCacheConfig(2), steps=STEPS, **kw),
    ],
    ids=["full", "lsac", "adaptive", "skip-2"],
)
def test_counted_runs_match_torch_flop_counter(model, cond, method, accelerate):
    """The count comes from the run's record; torch counts what actually ran."""
    results = []
    expected = counted_by_torch(lambda: results.append(accelerate(model, cond, dict(method=method, seeds=[0, 1]))))
    record = results[0].record
    ours = count_run(model.cfg, record, FRAMES, TOKENS, video=True, anchors=True, costs=MATMUL_ONLY)
    assert ours.total == expected


def test_attention_count_by_hand():
    cfg = preset("parity").replace(dim=8, n_heads=2)  # head_dim 4
    sa = attention_flops(cfg, batch=1, n_queries=3, n_keys=3, rope=True)
    assert (sa.q_proj, sa.k_proj, sa.v_proj, sa.o_proj) == (384, 384, 384, 384)  # 2*3*8*8
    assert sa.qk_norm == 4 * 8 * 6  # 4 per element of q and k
    assert sa.rope == 3 * 8 * 6
    assert sa.scores == 2 * 2 * 9 * 4 + 2 * 9  # 2 H Q K hd + scale
    assert sa.softmax == 5 * 2 * 9
    assert sa.pv == 2 * 2 * 9 * 4
    assert sa.pattern == 384 + 384 + 192 + 144 + 162 + 90
    assert sa.total == sa.pattern + 384 + 384 + 144
    cross = attention_flops(cfg, batch=2, n_queries=3, n_keys=5, rope=False)
    assert cross.k_proj == 2 * 10 * 8 * 8 and cross.rope == 0
    assert cross.scores == 2 * 2 * 2 * 15 * 4 + 2 * 2 * 15  # 2 B H Q K hd + B H Q K


def test_element_wise_costs_are_counted_on_top_of_products(model):
    full = evaluation_flops(model.cfg, FRAMES, TOKENS, 1)
    products = evaluation_flops(model.cfg, FRAMES, TOKENS, 1, costs=MATMUL_ONLY)
    d, H = model.cfg.dim, model.cfg.n_heads
    sa_extra = full.block.self_attention.total - products.block.self_attention.total
    c = DEFAULT_COSTS
    assert sa_extra == (c.rmsnorm + c.rope) * d * 2 * FRAMES + (c.score_scale + c.softmax) * H * FRAMES**2


@pytest.mark.parametrize("k", [12, 10, 1])
def test_truncation_saves_its_share_of_everything(model, k):
    full = count_run(model.cfg, ComputeRecord.full(4, 16, "euler", 1), FRAMES, TOKENS)
    short = count_run(model.cfg, ComputeRecord.full(4, k, "euler", 1), FRAMES, TOKENS)
    sa_saved, total_saved = short.saved_vs(full)
    assert sa_saved == pytest.approx((16 - k) / 16, abs=1e-12)
    assert total_saved == pytest.approx((16 - k) / 16, abs=1e-12)


def test_lsac_saving_is_reused_share_times_pattern_share(model, cond):
    plan = LSACPlan({0: 1, 1: 2, 3: 3})
    result = sample_lsac(model, cond, plan, steps=STEPS, method="midpoint", seeds=[0, 1])
    full = count_run(model.cfg, ComputeRecord.full(4, STEPS, "midpoint", 2), FRAMES, TOKENS)
    ours = count_run(model.cfg, result.record, FRAMES, TOKENS)
    sa_saved, total_saved = ours.saved_vs(full)
    expected = plan.reused_evaluation_fraction(4, STEPS) * pattern_share(model.cfg, FRAMES)
    assert sa_saved == pytest.approx(expected, rel=1e-12)
    assert 0 < total_saved < sa_saved


def test_record_from_another_model_is_rejected(model):
    with pytest.raises(ValueError, match="record has 8 layers, the config 4"):
        count_run(model.cfg, ComputeRecord.full(8, 4, "euler", 1), FRAMES, TOKENS)
