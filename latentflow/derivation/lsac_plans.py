"""LSAC's freeze steps for one model: the calibration ``latentflow bench lsac`` makes.

The same measurement as :func:`latentflow.acceleration.presets.measure_calibration` (which stores
the bundled model's calibrations): examples 0..n-1 of the tier's TRAIN split, one at a time, the
LSAC benchmark's calibration noise seeds, the per-layer entropy trajectory and the preset rules of
:mod:`latentflow.acceleration.calibration`. A plan entry at or past the last step caches nothing
(latentflow.acceleration.lsac), so it is left out: the derived plan is what the preset caches.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def derive_lsac_plans(separator: Any, model: Any, device: str, settings: Mapping[str, Any]) -> dict:
    """``{"values": {preset: {layer: freeze_step}}, "measured": {...}}`` (TRAIN split)."""
    from latentflow.acceleration.bench import calibration_conditioning
    from latentflow.acceleration.calibration import PRESET_NAMES
    from latentflow.acceleration.presets import measure_calibration

    steps = int(settings["steps"])
    conds = [cond.to(device) for cond in
             calibration_conditioning(separator, settings["tier"], int(settings["n"]), int(settings["seed"]))]
    calibration = measure_calibration(model, conds, settings["tier"], steps=steps, method=settings["sampler"],
                                      seed=int(settings["seed"]), stable_threshold=float(settings["threshold"]))
    summary = calibration.summary()
    plans = {}
    for preset in PRESET_NAMES:
        full = calibration.plan(preset).freeze_steps
        plans[preset] = {int(layer): int(step) for layer, step in sorted(full.items()) if step < steps - 1}
    return {
        "values": plans,
        "measured": {"stable_layers": [int(x) for x in summary.stable_layers],
                     "settling_steps": [int(x) for x in summary.settling],
                     "layer_rates": [float(x) for x in summary.rates]},
    }
