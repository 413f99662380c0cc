"""Running compiled specs: interventions on the model, measures, statistics, verdicts."""

from __future__ import annotations

from .fuzz import INVARIANTS, Invariant, InvariantViolation, run_fuzz_check
from .internal import INTERNAL_MEASURES, InternalMeasure
from .runner import CaseResult, Measurements, Runner, RunOutput, example_seeds
from .session import ModelLoadError, SpecSession, metric_catalog
from .verdict import Verdict

__all__ = [
    "INTERNAL_MEASURES",
    "INVARIANTS",
    "CaseResult",
    "InternalMeasure",
    "Invariant",
    "InvariantViolation",
    "Measurements",
    "ModelLoadError",
    "RunOutput",
    "Runner",
    "SpecSession",
    "Verdict",
    "example_seeds",
    "metric_catalog",
    "run_fuzz_check",
]
