"""Block ratio: output power per second inside the anchored span over that outside."""

from __future__ import annotations

import numpy as np
import pytest

from latentflow.metrics import compute_metric
from latentflow.metrics.segmentation import block_ratio, block_ratio_db

SR = 16000


def signal(inside_amplitude: float, outside_amplitude: float, span=(1.0, 2.0), seconds=4.0) -> np.ndarray:
    t = np.arange(int(seconds * SR)) / SR
    tone = np.sin(2 * np.pi * 440 * t)
    inside = (t >= span[0]) & (t < span[1])
    return tone * np.where(inside, inside_amplitude, outside_amplitude)


def test_block_ratio_is_the_power_ratio_per_second():
    x = np.stack([signal(1.0, 0.5), signal(1.0, 1.0)])
    result = block_ratio(estimate=x, span=np.array([[1.0, 2.0], [1.0, 2.0]]), sample_rate=SR)
    np.testing.assert_allclose(result.values, [4.0, 1.0], rtol=1e-3)
    db = block_ratio_db(estimate=x, span=np.array([[1.0, 2.0], [1.0, 2.0]]), sample_rate=SR)
    np.testing.assert_allclose(db.values, [10 * np.log10(4.0), 0.0], atol=1e-2)


def test_undefined_ratios_are_nan_with_a_reason():
    x = np.stack([signal(1.0, 0.0), signal(0.0, 1.0), signal(1.0, 1.0)])
    spans = np.array([[1.0, 2.0], [1.0, 2.0], [0.0, 4.0]])
    ratio = block_ratio(estimate=x, span=spans, sample_rate=SR)
    db = block_ratio_db(estimate=x, span=spans, sample_rate=SR)
    assert np.isnan(ratio.values[0]) and "silent outside" in ratio.reasons[0]
    assert ratio.values[1] == 0.0 and np.isnan(db.values[1]) and "silent inside" in db.reasons[1]
    assert np.isnan(db.values[2]) and "inside or outside" in db.reasons[2]


def test_block_ratio_db_is_registered_for_specs():
    x = signal(2.0, 1.0)[None]
    result = compute_metric("block_ratio_db", estimate=x, span=np.array([[1.0, 2.0]]), sample_rate=SR)
    assert result.values[0] == pytest.approx(10 * np.log10(4.0), abs=1e-2)
