"""A tiny model and short runs: every property tested here holds at any size, so tests stay fast.

Every test in this folder also checks (autouse fixture) that it leaves the model exactly as it
found it: no pattern override, no block runner, no root-module hook, no hook on any hook point.
"""

from __future__ import annotations

import pytest

from latentflow.model import build_model, preset
from latentflow.model.random_inputs import random_conditioning

FRAMES = 20


@pytest.fixture(scope="module")
def model():
    return build_model(preset("parity", n_layers=4), seed=3)


@pytest.fixture
def cond(model):
    """Two examples: padded text tokens in row 0, padded frames in row 1, video and span anchors."""
    return random_conditioning(model.cfg, batch=2, frames=FRAMES, tokens=5, seed=11)


@pytest.fixture
def other_cond(model):
    """A different prompt and mixture of the same shapes."""
    return random_conditioning(model.cfg, batch=2, frames=FRAMES, tokens=5, seed=12)


def model_attachments(model) -> dict:
    attention = model.attention_modules("self") + model.attention_modules("cross")
    return {
        "overrides": [a.pattern_override for a in attention if a.pattern_override is not None],
        "block_runner": model.transformer.block_runner,
        "root_hooks": len(model._forward_pre_hooks) + len(model._forward_hooks),
        "hook_points": sorted(name for name, hp in model.hook_dict.items() if hp.fwd_hooks),
    }


CLEAN = {"overrides": [], "block_runner": None, "root_hooks": 0, "hook_points": []}


@pytest.fixture(autouse=True)
def leaves_model_clean(request):
    if "model" not in request.fixturenames:
        yield
        return
    model = request.getfixturevalue("model")
    assert model_attachments(model) == CLEAN
    yield
    assert model_attachments(model) == CLEAN, "an accelerator left something attached to the model"
