"""LSAC presets as interventions: the stored tunings are the bench's, and the lsac
operation with a preset runs exactly the bench's plan."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from latentflow.acceleration import sample_lsac
from latentflow.acceleration.presets import (
    StoredTuning,
    load_tunings,
    measure_fixture_tuning,
    stored_tuning,
    weights_fingerprint,
)
from latentflow.fixture import resolve_model
from latentflow.interventions import Intervention, InterventionContext, applied
from latentflow.model import sample
from latentflow.model.random_inputs import random_conditioning

BALANCED_NOISY = {0: 4, 1: 4, 2: 13, 3: 15, 4: 15, 5: 15, 6: 15, 7: 15}  # what `bench lsac --tier noisy` prints


@pytest.fixture(scope="module")
def fixture_model():
    return resolve_model("fixture")[0]


def test_the_stored_noisy_tuning_gives_the_bench_presets():
    tuning = stored_tuning("fixture", "noisy")
    assert dict(tuning.plan("balanced").freeze_steps) == BALANCED_NOISY
    assert dict(tuning.plan("safe").freeze_steps) == {**BALANCED_NOISY, 0: 8, 1: 8}
    assert dict(tuning.plan("aggressive").freeze_steps) == {**BALANCED_NOISY, 0: 2, 1: 2}
    assert tuning.plan("balanced").n_steps == 16
    with pytest.raises(ValueError, match="unknown LSAC preset 'fast'; allowed: \\['safe', 'balanced', 'aggressive'\\]"):
        tuning.plan("fast")


def test_the_stored_tuning_is_what_the_bench_measures_now():
    """Fails when the fixture, the audio bench or the tuning code changed: rewrite the file
    with ``python -m latentflow.acceleration.presets``."""
    fresh = measure_fixture_tuning("noisy")
    (stored,) = [c for c in load_tunings() if c.tier == "noisy"]
    assert fresh.model_sha256 == stored.model_sha256
    assert (fresh.steps, fresh.method, fresh.n_tuning, fresh.seed, fresh.stable_threshold) == (
        stored.steps, stored.method, stored.n_tuning, stored.seed, stored.stable_threshold)
    # float32 entropies of about 0.8: a full-suite run (another torch thread count in the xdist
    # worker than when the file was written) moved them by up to 2.5e-8, i.e. rounding; a changed
    # fixture, bench or tuning moves them by orders of magnitude more, and the plans below
    # must match exactly.
    np.testing.assert_allclose(np.array(fresh.trajectory), np.array(stored.trajectory), rtol=0, atol=1e-6)
    for preset in ("safe", "balanced", "aggressive"):
        assert fresh.plan(preset).freeze_steps == stored.plan(preset).freeze_steps


def test_the_preset_operation_runs_the_bench_plan_bitwise(fixture_model):
    cond = random_conditioning(fixture_model.cfg, batch=1, frames=12, tokens=4, seed=5)
    kw = dict(steps=16, method="euler", seeds=[3])
    ctx = InterventionContext(model=fixture_model)
    iv = Intervention("blocks.*.attn.hook_pattern", "lsac", {"preset": "balanced", "tier": "noisy"})
    with applied(fixture_model, [iv], ctx):
        out = sample(fixture_model, cond, **kw).final
        record = ctx.controllers[0].record()
    shipped = sample_lsac(fixture_model, cond, BALANCED_NOISY, **kw)
    assert torch.equal(out, shipped.final)
    assert record == shipped.record
    assert ctx.controllers[0].plan.name == "balanced"
    with applied(fixture_model, [iv]), pytest.raises(
        ValueError, match="was made for 16 sampling steps but the sampler runs 8"
    ):
        sample(fixture_model, cond, steps=8, method="euler", seeds=[3])


def test_stored_tunings_were_measured_on_the_bundled_weights(fixture_model, tmp_path):
    from latentflow.model import build_model

    assert {c.model_sha256 for c in load_tunings()} == {weights_fingerprint(fixture_model)}
    assert {c.tier for c in load_tunings()} == {"clean", "noisy", "env"}
    assert weights_fingerprint(build_model(fixture_model.cfg, seed=0)) != weights_fingerprint(fixture_model)
    with pytest.raises(ValueError, match="no stored LSAC tuning of 'fixture' on tier 'loud'"):
        stored_tuning("fixture", "loud")
    with pytest.raises(ValueError, match="no stored LSAC tuning for model 'large'; stored: \\['fixture'\\]"):
        stored_tuning("large", "noisy")
    (tmp_path / "other.json").write_text(json.dumps({"format": 1, "calibrations": []}))
    with pytest.raises(ValueError, match="not a stored-tuning file of format 2"):
        stored_tuning("other", "noisy", tmp_path)
    with pytest.raises(ValueError, match="lacks \\['trajectory'\\]"):
        StoredTuning.from_dict(
            dict.fromkeys(("model_sha256", "tier", "steps", "method", "n_tuning", "seed", "stable_threshold"), 0),
            "entry",
        )
