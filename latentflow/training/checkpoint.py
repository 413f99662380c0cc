"""Writing a trained fixture: weights plus the metadata a Separator and the model card need.

Weights are stored as float16 by default (the fixture has 5.6 M parameters: 22 MB in float32,
over the 20 MB budget for committed fixtures, 11 MB in float16); ``load_model`` widens them
back to float32, and every measurement in ``fixtures/MODEL_CARD.md`` is of the stored file.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping
from pathlib import Path

import torch

from latentflow.audio.codec import LatentCodec
from latentflow.model import SamAudioModel, save_model
from latentflow.pipeline import META_CODEC, META_TEXT_ENCODER, codec_metadata

from .trainer import TrainingResult

META_RECIPE = "latentflow_recipe"
META_TRAINING = "latentflow_training"
META_STORED_DTYPE = "latentflow_stored_dtype"
STORED_DTYPES = {"float16": torch.float16, "float32": torch.float32}


def training_metadata(result: TrainingResult) -> dict[str, str]:
    """What a checkpoint records about its training (recipe, time, loss, codec, encoder)."""
    tail = result.losses[-50:]
    return {
        META_TEXT_ENCODER: result.recipe.text_encoder,
        META_CODEC: codec_metadata(LatentCodec()),
        META_RECIPE: result.recipe.to_json(),
        META_TRAINING: json.dumps(
            {
                "seconds": round(result.seconds, 1),
                "setup_seconds": round(result.setup_seconds, 1),
                "final_loss_mean_last_50": round(sum(tail) / len(tail), 5) if tail else None,
                "anchor_gate": round(result.anchor_gate, 5),
            },
            sort_keys=True,
        ),
    }


def write_checkpoint(model: SamAudioModel, path: str | Path, metadata: Mapping[str, str],
                     dtype: str = "float16") -> Path:
    """Save ``model``'s weights as safetensors in ``dtype`` ("float16" or "float32")."""
    if dtype not in STORED_DTYPES:
        raise ValueError(f"dtype {dtype!r} is not allowed; allowed: {', '.join(STORED_DTYPES)}")
    path = Path(path)
    stored = copy.deepcopy(model).to(STORED_DTYPES[dtype])
    save_model(stored, path, metadata={**metadata, META_STORED_DTYPE: dtype})
    return path


def save_trained(result: TrainingResult, path: str | Path, dtype: str = "float16") -> Path:
    """Save a training run's model with :func:`training_metadata`."""
    return write_checkpoint(result.model, path, training_metadata(result), dtype)


__all__ = ["META_RECIPE", "META_STORED_DTYPE", "META_TRAINING", "save_trained", "training_metadata", "write_checkpoint"]
