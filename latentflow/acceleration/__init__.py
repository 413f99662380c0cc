"""Sampling acceleration: LSAC (layer-selective attention caching), its adaptive variant, and
the baselines it is compared with (step truncation, DeepCache-style Skip-2), with analytic FLOP
counts and a benchmark (``latentflow bench lsac``). See docs/lsac.md.

    from latentflow.acceleration import measure_entropy_profile, sample_lsac, tune_lsac
    profile = measure_entropy_profile(model, tuning_conds, steps=16, method="euler")
    plan = tune_lsac(profile).plan("balanced")
    result = sample_lsac(model, cond, plan, steps=16, method="euler", seeds=[0])
    result.final, result.record
"""

from __future__ import annotations

from .adaptive import DEFAULT_DRIFT_THRESHOLD, AdaptiveConfig, AdaptiveController, relative_drift, sample_adaptive
from .baselines import DeepCacheConfig, DeepCacheController, sample_deepcache, sample_truncated
from .flops import (
    RunFlops,
    attention_flops,
    block_flops,
    count_for,
    count_run,
    evaluation_flops,
    pattern_share,
    self_attention_saving,
)
from .frozen import FrozenPattern, FrozenPatternConfig
from .lsac import AcceleratedSample, LSACController, LSACPlan, lsac_caching, sample_controlled, sample_lsac
from .record import ComputeRecord, EvaluationRecord
from .tuning import (
    PRESET_NAMES,
    EntropyProfile,
    LSACTuning,
    ThresholdTuning,
    measure_entropy_profile,
    preset_plans,
    tune_drift_threshold,
    tune_lsac,
)

__all__ = [
    "DEFAULT_DRIFT_THRESHOLD",
    "PRESET_NAMES",
    "AcceleratedSample",
    "AdaptiveConfig",
    "AdaptiveController",
    "ComputeRecord",
    "DeepCacheConfig",
    "DeepCacheController",
    "EntropyProfile",
    "EvaluationRecord",
    "FrozenPattern",
    "FrozenPatternConfig",
    "LSACController",
    "LSACPlan",
    "LSACTuning",
    "RunFlops",
    "ThresholdTuning",
    "attention_flops",
    "block_flops",
    "count_for",
    "count_run",
    "evaluation_flops",
    "lsac_caching",
    "measure_entropy_profile",
    "pattern_share",
    "preset_plans",
    "relative_drift",
    "sample_adaptive",
    "sample_controlled",
    "sample_deepcache",
    "sample_lsac",
    "sample_truncated",
    "self_attention_saving",
    "tune_drift_threshold",
    "tune_lsac",
]
