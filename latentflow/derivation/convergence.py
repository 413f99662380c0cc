"""The paper's convergence classification of one model's layers, measured on the TRAIN split.

Each layer's self-attention entropy rate is the spec measure ``entropy_rate``
(latentflow.execution.internal: per example and head, the mean |step-to-step change| of the
normalised attention entropy over the trajectory, then the mean over heads), averaged over the
training examples. The threshold is the median of the layer rates (the paper does not give its
own), rounded to ``digits`` significant digits, or a given number; a layer is *stable* when its
rate is below the threshold and *fast* otherwise. Examples 0..n-1 of the tier's TRAIN split
(drawn with ``seed``) run in one batch with noise seeds 0..n-1, as
``scripts/derive_convergence.py`` always did, so the bundled model's derived values are the
ones its specs recorded by hand (tests/derivation/test_derived_values.py).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

SPLIT = "train"


def derive_convergence(separator: Any, model: Any, device: str, settings: Mapping[str, Any]) -> dict:
    """``{"values": {threshold, stable_layers, fast_layers, rates}, "measured": {...}}``."""
    from latentflow.acceleration.tuning import measure_entropy_profile
    from latentflow.audio.tiers import make_examples
    from latentflow.metrics.attention import entropy_rate

    n = int(settings["n"])
    examples = make_examples(settings["tier"], SPLIT, n, int(settings["seed"]))
    cond = separator.conditioning(examples).to(device)
    profile = measure_entropy_profile(model, cond, steps=int(settings["steps"]), method=settings["sampler"],
                                      seeds=list(range(n)))
    rates = entropy_rate(profile.entropy).mean(axis=(0, 2))  # (steps, B, L, H) -> (B, L, H) -> per layer
    median = float(np.median(rates))
    if settings["threshold"] == "median":
        threshold = float(f"{median:.{int(settings['digits'])}g}")
    else:
        threshold = float(settings["threshold"])
    stable = [layer for layer, rate in enumerate(rates) if rate < threshold]
    fast = [layer for layer, rate in enumerate(rates) if rate >= threshold]
    return {
        "values": {"threshold": threshold, "stable_layers": stable, "fast_layers": fast,
                   "rates": [float(rate) for rate in rates]},
        "measured": {"median_rate": median, "n_layers": len(rates), "noise_seeds": f"0..{n - 1}"},
    }
