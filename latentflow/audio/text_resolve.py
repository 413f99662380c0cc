"""Finding the T5 that a SAM Audio config.json names (``text_encoder.name``, e.g. ``t5-base``).

latentflow never downloads at run time. In this order it takes:

1. an explicit path (``--latentflow-text-encoder PATH`` in pytest, ``--text-encoder PATH`` on the
   CLI commands, or ``Separator.load(..., text_encoder=PATH)``);
2. the environment variable ``LATENTFLOW_TEXT_ENCODER`` (a path);
3. a folder named like the encoder inside the model folder (``<model>/t5-base``);
4. the Hugging Face cache, offline (``huggingface_hub.snapshot_download(local_files_only=True)``
   for the id and for ``google-t5/<id>``).

If none has it, one error says what to download and where to put it. The encoder found must
give ``text_encoder.dim``-wide features; otherwise the error names the config's field.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

ENV_VAR = "LATENTFLOW_TEXT_ENCODER"


class TextEncoderNotFound(FileNotFoundError):
    """No local copy of the text encoder a config names."""


def resolve_text_encoder(
    spec: Any, *, explicit: Any = None, model_dir: Path | None = None, source: str = "config.json"
):
    """A :class:`~latentflow.audio.text.OfficialT5TextEncoder` for ``spec`` (a TextEncoderSpec)."""
    from .text import OfficialT5TextEncoder, TextEncoder

    if isinstance(explicit, TextEncoder):
        encoder = explicit
    else:
        path = find_text_encoder(spec.name, explicit=explicit, model_dir=model_dir)
        encoder = OfficialT5TextEncoder(path, max_length=spec.max_length)
    if encoder.dim != spec.dim:
        raise ValueError(f"{source}: text_encoder.dim={spec.dim}, but the text encoder {encoder.name} gives "
                         f"{encoder.dim}-wide features; use the T5 the model was trained with ({spec.name})")
    return encoder


def find_text_encoder(name: str, *, explicit: Any = None, model_dir: Path | None = None) -> Path:
    if explicit is not None:
        return _folder(explicit, "--text-encoder / text_encoder")
    if os.environ.get(ENV_VAR):
        return _folder(os.environ[ENV_VAR], f"environment variable {ENV_VAR}")
    if model_dir is not None and (Path(model_dir) / name).is_dir():
        return Path(model_dir) / name
    cached = _from_hf_cache(name)
    if cached is not None:
        return cached
    where = f" or into the model folder as {Path(model_dir) / name}" if model_dir is not None else ""
    raise TextEncoderNotFound(
        f"the text encoder {name!r} is not available offline: download it once (e.g. `huggingface-cli download "
        f"google-t5/{name} --local-dir ~/{name}`) and pass its folder with --text-encoder (pytest: "
        f"--latentflow-text-encoder) or {ENV_VAR}{where}; latentflow never downloads at run time"
    )


def _folder(value: Any, what: str) -> Path:
    path = Path(value).expanduser()
    if not path.is_dir():
        raise TextEncoderNotFound(f"{what}: {str(path)!r} is not a folder; give a local T5 folder "
                                  "(config.json, weights and tokenizer, as save_pretrained writes them)")
    return path


def _from_hf_cache(name: str) -> Path | None:
    try:
        from huggingface_hub import snapshot_download
        from huggingface_hub.errors import LocalEntryNotFoundError
    except ImportError:
        return None
    for repo in dict.fromkeys([name, f"google-t5/{name}"]):
        try:
            return Path(snapshot_download(repo, local_files_only=True))
        except (LocalEntryNotFoundError, ValueError, OSError):
            continue
    return None
