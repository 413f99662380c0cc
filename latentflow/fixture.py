"""Where the bundled fixture model lives, and how a model name or checkpoint path is resolved.

The fixture is a small SAM Audio-architecture separator trained by ``latentflow train-fixture``
(see ``fixtures/MODEL_CARD.md``) and committed as ``fixtures/model/fixture.safetensors``.
Model names (``fixture``, a path, ``random:``, ``counter:``) are resolved by
``latentflow.model_names``, which calls :func:`resolve_model` for the first two.
"""

from __future__ import annotations

from pathlib import Path

from latentflow.model import CheckpointError, SamAudioModel, load_model
from latentflow.model_names import FIXTURE_NAME, is_fixture

FIXTURE_FOLDER = "model"
FIXTURE_FILE = "fixture.safetensors"


def fixture_model_path() -> Path:
    """Path of the bundled checkpoint (it may not exist yet in a fresh checkout)."""
    from latentflow.audio.io import fixtures_root

    return fixtures_root() / FIXTURE_FOLDER / FIXTURE_FILE


def load_fixture_model() -> SamAudioModel:
    """The bundled model in eval mode (a fresh copy on every call: callers may hook or edit it)."""
    return resolve_model(FIXTURE_NAME)[0]


def resolve_model(name_or_path: str | Path) -> tuple[SamAudioModel, dict[str, str]]:
    """``"fixture"`` or a checkpoint path -> (model in eval mode, the checkpoint's metadata).

    Raises FileNotFoundError / CheckpointError with the path and what is wrong.
    """
    path = model_path(name_or_path)
    if path.is_dir():
        raise CheckpointError(f"model {str(path)!r} is a directory; give a checkpoint file")
    return load_model(path), _metadata(path)


def model_path(name_or_path: str | Path) -> Path:
    """``"fixture"`` -> the bundled checkpoint; anything else -> that existing file or folder.

    Raises FileNotFoundError naming the path and what is accepted.
    """
    if is_fixture(name_or_path):
        path = fixture_model_path()
        if not path.is_file():
            raise FileNotFoundError(
                f"the bundled fixture model is missing: {path} does not exist; "
                "regenerate it with `latentflow train-fixture --out " + str(path) + "`"
            )
        return path
    path = Path(name_or_path).expanduser()
    if not path.exists():
        raise FileNotFoundError(
            f"model {str(name_or_path)!r}: no such file or folder; give 'fixture', the path of a "
            ".safetensors / .pt checkpoint, or a SAM Audio model folder (config.json + weights)"
        )
    return path


def _metadata(path: Path) -> dict[str, str]:
    """A safetensors file's metadata (PyTorch files carry none); load_model has checked the file."""
    if path.suffix.lower() != ".safetensors":
        return {}
    from safetensors import safe_open

    with safe_open(str(path), framework="pt") as handle:
        return dict(handle.metadata() or {})


__all__ = ["FIXTURE_FILE", "FIXTURE_NAME", "fixture_model_path", "load_fixture_model", "model_path", "resolve_model"]
