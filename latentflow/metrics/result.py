"""The value a metric returns when asked through the registry: numbers plus why some are NaN."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


def frozen_values(values: object) -> np.ndarray:
    """A read-only float64 1-D copy, so a result cannot be changed after the fact."""
    array = np.array(values, dtype=np.float64, copy=True)
    if array.ndim != 1:
        raise ValueError(f"metric values must be one number per example (1-D); got shape {array.shape}")
    array.setflags(write=False)
    return array


@dataclass(frozen=True)
class MetricResult:
    """Per-example values of one metric.

    ``values[i]`` is NaN exactly when ``reasons[i]`` is a string saying why (silent target,
    too-short clip, a library error, ...); otherwise ``reasons[i]`` is None.
    """

    name: str
    values: np.ndarray
    reasons: tuple[str | None, ...]

    def __post_init__(self) -> None:
        object.__setattr__(self, "values", frozen_values(self.values))
        reasons = tuple(self.reasons)
        if len(reasons) != self.values.shape[0]:
            raise ValueError(
                f"metric {self.name!r}: {self.values.shape[0]} values but {len(reasons)} reasons"
            )
        nan = np.isnan(self.values)
        for index, reason in enumerate(reasons):
            if reason is not None and not nan[index]:
                raise ValueError(
                    f"metric {self.name!r}: example {index} has value {self.values[index]!r} "
                    f"and a NaN reason {reason!r}; a reason belongs only to a NaN value"
                )
        # A NaN must never travel without an explanation (statistics downstream print it).
        reasons = tuple(
            "the metric returned NaN without giving a reason" if nan[i] and r is None else r
            for i, r in enumerate(reasons)
        )
        object.__setattr__(self, "reasons", reasons)

    def __len__(self) -> int:
        return int(self.values.shape[0])

    def __array__(self, dtype=None, copy=None) -> np.ndarray:
        return np.array(self.values, dtype=dtype)

    @property
    def n_nan(self) -> int:
        return int(np.count_nonzero(np.isnan(self.values)))

    def nan_reasons(self) -> dict[int, str]:
        """Index -> reason for every example whose value is NaN."""
        return {i: r for i, r in enumerate(self.reasons) if r is not None}
