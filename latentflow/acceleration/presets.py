"""LSAC presets outside the benchmark: the tunings the bench makes, stored so that specs
(the ``lsac`` operation with ``preset:``) run exactly its plans.

A preset is a rule (:func:`latentflow.acceleration.tuning.preset_plans`, the one
definition) applied to a tuning: a model's per-layer entropy trajectory on the training
examples of a bench tier. ``latentflow bench lsac --tier T`` measures that trajectory on every
run. Re-measuring it inside every spec run would cost a tuning pass per case, so the
bundled model's tunings are stored here (``tunings/fixture.json``, written by
:func:`write_tunings`: the same measurement the LSAC benchmark makes with its defaults, 4
examples, seed 0, 16 Euler steps, threshold 0.01), with the SHA-256 of the weights they were
measured on. tests/acceleration/test_presets.py re-measures them and fails when they are stale.

A stored tuning is named by the model it was measured on (``tuned_on``, the file's
stem): the spec says whose plan it runs. Running the fixture's preset on another model (a
counter-model of the fixture) applies that same plan to it, as an explicit ``plan:`` would. A
spec that wants the plan of the model it runs on derives it instead (``derive:
lsac_tuning``, latentflow.derivation.lsac_plans: the same measurement, made per model);
specs/lsac.yaml does.
"""

from __future__ import annotations

import hashlib
import json
import weakref
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from latentflow.metrics.attention import DEFAULT_STABLE_THRESHOLD, ConvergenceSummary, summarize_convergence
from latentflow.model import SamAudioModel
from latentflow.vocabulary import TIERS

from .lsac import LSACPlan
from .tuning import PRESET_NAMES, measure_entropy_profile, preset_plans

TUNING_FOLDER = Path(__file__).with_name("tunings")
TUNINGS = TUNING_FOLDER / "fixture.json"
FORMAT = 2  # 2: the keys say "tuning" (format 1 said "calibration", issue 11)

_FINGERPRINTS: weakref.WeakKeyDictionary[SamAudioModel, str] = weakref.WeakKeyDictionary()


def weights_fingerprint(model: SamAudioModel) -> str:
    """SHA-256 of the model's parameters and buffers (name, dtype, shape, bytes), memoised per
    model object (weights are never changed in place)."""
    if model not in _FINGERPRINTS:
        digest = hashlib.sha256()
        for name, tensor in sorted(model.state_dict().items()):
            value = tensor.detach().cpu().contiguous()
            digest.update(f"{name}|{value.dtype}|{tuple(value.shape)}|".encode())
            digest.update(value.view(-1).view(torch.uint8).numpy().tobytes())
        _FINGERPRINTS[model] = digest.hexdigest()
    return _FINGERPRINTS[model]


@dataclass(frozen=True)
class StoredTuning:
    """One model's tuning on one tier: the per-layer entropy trajectory (steps x layers,
    mean over the tuning examples and heads) and how it was measured."""

    model_sha256: str
    tier: str
    steps: int
    method: str
    n_tuning: int
    seed: int
    stable_threshold: float
    trajectory: tuple[tuple[float, ...], ...]

    def summary(self) -> ConvergenceSummary:
        return summarize_convergence(np.array(self.trajectory, dtype=np.float64), self.stable_threshold)

    def plan(self, preset: str) -> LSACPlan:
        if preset not in PRESET_NAMES:
            raise ValueError(f"unknown LSAC preset {preset!r}; allowed: {list(PRESET_NAMES)}")
        return preset_plans(self.summary())[preset]

    def to_dict(self) -> dict[str, Any]:
        return {
            "model_sha256": self.model_sha256, "tier": self.tier, "steps": self.steps, "method": self.method,
            "n_tuning": self.n_tuning, "seed": self.seed, "stable_threshold": self.stable_threshold,
            "trajectory": [list(row) for row in self.trajectory],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], where: str) -> StoredTuning:
        fields = ("model_sha256", "tier", "steps", "method", "n_tuning", "seed", "stable_threshold", "trajectory")
        missing = [f for f in fields if f not in data]
        if missing:
            raise ValueError(f"{where}: a stored tuning lacks {missing}")
        trajectory = tuple(tuple(float(v) for v in row) for row in data["trajectory"])
        return cls(**{f: data[f] for f in fields[:-1]}, trajectory=trajectory)


def load_tunings(path: Path = TUNINGS) -> list[StoredTuning]:
    data = json.loads(path.read_text())
    if not isinstance(data, dict) or data.get("format") != FORMAT or not isinstance(data.get("tunings"), list):
        raise ValueError(f"{path}: not a stored-tuning file of format {FORMAT}")
    return [
        StoredTuning.from_dict(entry, f"{path} tunings[{i}]") for i, entry in enumerate(data["tunings"])
    ]


def stored_tuning(tuned_on: str, tier: str, folder: Path = TUNING_FOLDER) -> StoredTuning:
    """The stored tuning of model ``tuned_on`` on ``tier``; a clear error if none."""
    names = sorted(p.stem for p in folder.glob("*.json"))
    if tuned_on not in names:
        raise ValueError(
            f"no stored LSAC tuning for model {tuned_on!r}; stored: {names}. LSAC presets are "
            "tuned per model: give the operation an explicit plan: {layer: freeze_step} "
            "(`latentflow bench lsac --model PATH` prints the tuned plans)"
        )
    stored = load_tunings(folder / f"{tuned_on}.json")
    for entry in stored:
        if entry.tier == tier:
            return entry
    raise ValueError(f"no stored LSAC tuning of {tuned_on!r} on tier {tier!r}; "
                     f"stored tiers: {sorted(e.tier for e in stored)}")


def measure_tuning(
    model: SamAudioModel, conds: Sequence, tier: str, *, steps: int = 16, method: str = "euler",
    seed: int = 0, stable_threshold: float = DEFAULT_STABLE_THRESHOLD,
) -> StoredTuning:
    """The tuning ``latentflow bench lsac`` makes, as a storable record."""
    summary = measure_entropy_profile(model, list(conds), steps=steps, method=method).summary(stable_threshold)
    return StoredTuning(
        model_sha256=weights_fingerprint(model), tier=tier, steps=steps, method=method, n_tuning=len(conds),
        seed=seed, stable_threshold=float(stable_threshold),
        trajectory=tuple(tuple(float(v) for v in row) for row in summary.trajectory),
    )


def measure_fixture_tuning(tier: str, n_tuning: int = 4, seed: int = 0) -> StoredTuning:
    """The bundled model's tuning on ``tier`` with the LSAC benchmark's defaults."""
    from latentflow.pipeline import Separator

    from .bench import tuning_conditioning

    separator = Separator.load("fixture")
    conds = tuning_conditioning(separator, tier, n_tuning, seed)
    return measure_tuning(separator.model, conds, tier, seed=seed)


def write_tunings(path: Path = TUNINGS, tiers: Sequence[str] = TIERS) -> None:
    """Re-measure and store the bundled model's tunings (after the fixture is retrained)."""
    entries = [measure_fixture_tuning(tier).to_dict() for tier in tiers]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"format": FORMAT, "tunings": entries}, indent=1) + "\n")


if __name__ == "__main__":  # python -m latentflow.acceleration.presets
    write_tunings()
    print(f"wrote {TUNINGS}")
