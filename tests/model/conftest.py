from __future__ import annotations

import pytest

from latentflow.model import build_model, preset
from latentflow.model.random_inputs import random_conditioning, random_state


@pytest.fixture(scope="module")
def tiny_model():
    return build_model(preset("parity"), seed=1)


@pytest.fixture
def tiny_inputs(tiny_model):
    cond = random_conditioning(tiny_model.cfg)
    return random_state(tiny_model.cfg, cond.batch_size, cond.n_frames, seed=5), cond
