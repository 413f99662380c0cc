"""Features of a frozen reference model per stimulus set, kept on disk between runs.

A probe case's costly part is the features (and building the stimuli they are computed from);
the detectors and the bootstrap are cheap. Features depend only on the model's weights and
code, its parameters and the stimulus set, so they are stored under a key made of all of
these: the stimulus set's identity (config, condition, seed, ablation and its parameters), the
model's name and parameters, and a fingerprint of the code and weights that produce them (the
sources of ``latentflow/bmld`` that make stimuli and features, the trained binaural checkpoints, the bundled SAM Audio
fixture's files, the speech pool, and the versions of torch, numpy, scipy and the packages whose weights are
read). Any change to one of them is a different key, never a stale hit.

Files are ``.npz`` written atomically (a temporary file renamed into place, so two xdist
workers never read half a file) and read with ``allow_pickle=False``. The folder is
``$LATENTFLOW_CACHE_DIR/bmld-features`` or ``~/.cache/latentflow/bmld-features``;
``LATENTFLOW_BMLD_CACHE=off`` turns the disk cache off (features are then computed in every
process; within one process they are still computed once per stimulus set).
"""

from __future__ import annotations

import functools
import hashlib
import os
import tempfile
from importlib import metadata
from pathlib import Path

import numpy as np

_PACKAGES = ("torch", "numpy", "scipy", "torchaudio", "silero-vad", "torchcrepe")


def cache_folder() -> Path | None:
    """Where features are kept, or None when the disk cache is off."""
    if os.environ.get("LATENTFLOW_BMLD_CACHE", "").strip().lower() in ("off", "0", "false", "no"):
        return None
    root = os.environ.get("LATENTFLOW_CACHE_DIR")
    base = Path(root) if root else Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "latentflow"
    return base / "bmld-features"


@functools.lru_cache(maxsize=1)
def code_fingerprint() -> str:
    """A digest of everything besides the key's own fields that features depend on."""
    import latentflow

    root = Path(latentflow.__file__).parent
    digest = hashlib.sha256()
    # the code that makes stimuli and features (not the probe's, which runs after the cache)
    files = [root / "bmld" / name for name in ("stimuli.py", "references.py", "binaural.py")]
    repo = root.parent
    for folder in (repo / "fixtures" / "bmld", repo / "fixtures" / "model", repo / "fixtures" / "audio"):
        if folder.is_dir():
            files += sorted(p for p in folder.iterdir() if p.is_file())
    for path in files:
        digest.update(path.name.encode())
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    for package in _PACKAGES:
        try:
            version = metadata.version(package)
        except metadata.PackageNotFoundError:
            version = "absent"
        digest.update(f"{package}={version};".encode())
    return digest.hexdigest()


def feature_key(model: str, params: tuple, stimulus_key: tuple, ablation_params: tuple) -> str:
    import torch

    # torch's thread count changes how float sums are split (the last bits of a feature), so
    # features computed with another --latentflow-threads are another entry, never reused.
    text = repr((model, params, stimulus_key, ablation_params, code_fingerprint(), torch.get_num_threads()))
    return hashlib.sha256(text.encode()).hexdigest()


def load(key: str) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """(features, labels, tnr_db) stored under ``key``, or None."""
    folder = cache_folder()
    if folder is None:
        return None
    path = folder / f"{key}.npz"
    try:
        with np.load(path, allow_pickle=False) as stored:
            return stored["features"], stored["labels"], stored["tnr_db"]
    except (OSError, KeyError, ValueError):  # absent, or unreadable: compute afresh
        return None


def store(key: str, features: np.ndarray, labels: np.ndarray, tnr_db: np.ndarray) -> None:
    folder = cache_folder()
    if folder is None:
        return
    folder.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=folder, suffix=".npz.part")
    try:
        with os.fdopen(handle, "wb") as stream:
            np.savez(stream, features=features, labels=labels, tnr_db=tnr_db)
        os.replace(temporary, folder / f"{key}.npz")
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


__all__ = ["cache_folder", "code_fingerprint", "feature_key", "load", "store"]
