from __future__ import annotations

import pytest

from latentflow.audio.text import MiniLMTextEncoder
from latentflow.fixture import load_fixture_model
from latentflow.model import build_model, preset
from latentflow.pipeline import Separator


@pytest.fixture(scope="session")
def minilm():
    return MiniLMTextEncoder()


@pytest.fixture(scope="session")
def random_separator(minilm):
    """The fixture architecture with random weights: for shape and plumbing checks only."""
    return Separator(build_model(preset("fixture"), seed=3), text_encoder=minilm)


@pytest.fixture(scope="session")
def fixture_separator(minilm):
    """The bundled, trained model."""
    return Separator(load_fixture_model(), text_encoder=minilm)
