"""LSAC's freeze steps for one model: the tuning ``latentflow bench lsac`` makes.

The same measurement as :func:`latentflow.acceleration.presets.measure_tuning` (which stores
the bundled model's tunings): examples 0..n-1 of the tier's TRAIN split, one at a time, the
LSAC benchmark's tuning noise seeds, the per-layer entropy trajectory and the preset rules of
:mod:`latentflow.acceleration.tuning`. A plan entry at or past the last step caches nothing
(latentflow.acceleration.lsac), so it is left out: the derived plan is what the preset caches.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def derive_lsac_plans(separator: Any, model: Any, device: str, settings: Mapping[str, Any]) -> dict:
    """``{"values": {preset: {layer: freeze_step}}, "measured": {...}}`` (TRAIN split)."""
    from latentflow.acceleration.bench import tuning_conditioning
    from latentflow.acceleration.presets import measure_tuning
    from latentflow.acceleration.tuning import PRESET_NAMES

    steps = int(settings["steps"])
    conds = [cond.to(device) for cond in
             tuning_conditioning(separator, settings["tier"], int(settings["n"]), int(settings["seed"]))]
    tuning = measure_tuning(model, conds, settings["tier"], steps=steps, method=settings["sampler"],
                                      seed=int(settings["seed"]), stable_threshold=float(settings["threshold"]))
    summary = tuning.summary()
    plans = {}
    for preset in PRESET_NAMES:
        full = tuning.plan(preset).freeze_steps
        plans[preset] = {int(layer): int(step) for layer, step in sorted(full.items()) if step < steps - 1}
    return {
        "values": plans,
        "measured": {"stable_layers": [int(x) for x in summary.stable_layers],
                     "settling_steps": [int(x) for x in summary.settling],
                     "layer_rates": [float(x) for x in summary.rates]},
    }
