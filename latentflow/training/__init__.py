"""Training of the bundled fixture separator (``latentflow train-fixture``)."""

from __future__ import annotations

from .recipe import TIME_DISTRIBUTIONS, TrainingRecipe
from .trainer import TrainingResult, init_for_training, learning_rate, train

__all__ = ["TIME_DISTRIBUTIONS", "TrainingRecipe", "TrainingResult", "init_for_training", "learning_rate", "train"]
