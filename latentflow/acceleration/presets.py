"""LSAC presets outside the benchmark: the calibrations the bench makes, stored so that specs
(the ``lsac`` operation with ``preset:``) run exactly its plans.

A preset is a rule (:func:`latentflow.acceleration.calibration.preset_plans`, the one
definition) applied to a calibration: a model's per-layer entropy trajectory on the training
examples of a bench tier. ``latentflow bench lsac --tier T`` measures that trajectory on every
run. Re-measuring it inside every spec run would cost a calibration pass per case, so the
bundled model's calibrations are stored here (``calibrations/fixture.json``, written by
:func:`write_calibrations`: the same measurement the LSAC benchmark makes with its defaults, 4
examples, seed 0, 16 Euler steps, threshold 0.01), with the SHA-256 of the weights they were
measured on. tests/acceleration/test_presets.py re-measures them and fails when they are stale.

A stored calibration is named by the model it was measured on (``calibrated_on``, the file's
stem): the spec says whose plan it runs. Running the fixture's preset on another model (a
counter-model of the fixture) applies that same plan to it, as an explicit ``plan:`` would. A
spec that wants the plan of the model it runs on derives it instead (``derive:
lsac_calibration``, latentflow.derivation.lsac_plans: the same measurement, made per model);
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

from .calibration import PRESET_NAMES, measure_entropy_profile, preset_plans
from .lsac import LSACPlan

CALIBRATION_FOLDER = Path(__file__).with_name("calibrations")
CALIBRATIONS = CALIBRATION_FOLDER / "fixture.json"
FORMAT = 1

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
class StoredCalibration:
    """One model's calibration on one tier: the per-layer entropy trajectory (steps x layers,
    mean over the calibration examples and heads) and how it was measured."""

    model_sha256: str
    tier: str
    steps: int
    method: str
    n_calibration: int
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
            "n_calibration": self.n_calibration, "seed": self.seed, "stable_threshold": self.stable_threshold,
            "trajectory": [list(row) for row in self.trajectory],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], where: str) -> StoredCalibration:
        fields = ("model_sha256", "tier", "steps", "method", "n_calibration", "seed", "stable_threshold", "trajectory")
        missing = [f for f in fields if f not in data]
        if missing:
            raise ValueError(f"{where}: a stored calibration lacks {missing}")
        trajectory = tuple(tuple(float(v) for v in row) for row in data["trajectory"])
        return cls(**{f: data[f] for f in fields[:-1]}, trajectory=trajectory)


def load_calibrations(path: Path = CALIBRATIONS) -> list[StoredCalibration]:
    data = json.loads(path.read_text())
    if not isinstance(data, dict) or data.get("format") != FORMAT or not isinstance(data.get("calibrations"), list):
        raise ValueError(f"{path}: not a stored-calibration file of format {FORMAT}")
    return [
        StoredCalibration.from_dict(entry, f"{path} calibrations[{i}]") for i, entry in enumerate(data["calibrations"])
    ]


def stored_calibration(calibrated_on: str, tier: str, folder: Path = CALIBRATION_FOLDER) -> StoredCalibration:
    """The stored calibration of model ``calibrated_on`` on ``tier``; a clear error if none."""
    names = sorted(p.stem for p in folder.glob("*.json"))
    if calibrated_on not in names:
        raise ValueError(
            f"no stored LSAC calibration for model {calibrated_on!r}; stored: {names}. LSAC presets are "
            "calibrated per model: give the operation an explicit plan: {layer: freeze_step} "
            "(`latentflow bench lsac --model PATH` prints the calibrated plans)"
        )
    stored = load_calibrations(folder / f"{calibrated_on}.json")
    for entry in stored:
        if entry.tier == tier:
            return entry
    raise ValueError(f"no stored LSAC calibration of {calibrated_on!r} on tier {tier!r}; "
                     f"stored tiers: {sorted(e.tier for e in stored)}")


def measure_calibration(
    model: SamAudioModel, conds: Sequence, tier: str, *, steps: int = 16, method: str = "euler",
    seed: int = 0, stable_threshold: float = DEFAULT_STABLE_THRESHOLD,
) -> StoredCalibration:
    """The calibration ``latentflow bench lsac`` makes, as a storable record."""
    summary = measure_entropy_profile(model, list(conds), steps=steps, method=method).summary(stable_threshold)
    return StoredCalibration(
        model_sha256=weights_fingerprint(model), tier=tier, steps=steps, method=method, n_calibration=len(conds),
        seed=seed, stable_threshold=float(stable_threshold),
        trajectory=tuple(tuple(float(v) for v in row) for row in summary.trajectory),
    )


def measure_fixture_calibration(tier: str, n_calibration: int = 4, seed: int = 0) -> StoredCalibration:
    """The bundled model's calibration on ``tier`` with the LSAC benchmark's defaults."""
    from latentflow.pipeline import Separator

    from .bench import calibration_conditioning

    separator = Separator.load("fixture")
    conds = calibration_conditioning(separator, tier, n_calibration, seed)
    return measure_calibration(separator.model, conds, tier, seed=seed)


def write_calibrations(path: Path = CALIBRATIONS, tiers: Sequence[str] = TIERS) -> None:
    """Re-measure and store the bundled model's calibrations (after the fixture is retrained)."""
    entries = [measure_fixture_calibration(tier).to_dict() for tier in tiers]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"format": FORMAT, "calibrations": entries}, indent=1) + "\n")


if __name__ == "__main__":  # python -m latentflow.acceleration.presets
    write_calibrations()
    print(f"wrote {CALIBRATIONS}")
