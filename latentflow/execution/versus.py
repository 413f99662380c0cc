"""Measuring a case whose measure names a ``versus`` run (latentflow.spec.versus): the second
arm of its paired test is another intervened run of the same examples instead of the baseline.

Each arm is measured as ``compare`` says, and the test reads their difference per example:

- ``target``: metric(intervened, truth) and metric(versus run, truth);
- ``baseline``: metric(intervened, baseline output) and metric(versus run, baseline output):
  which of the two moves the output less from the full run;
- ``internal``: the statistic of the intervened run's and of the versus run's activations.

The versus run is an ordinary run of the case's model, data and sampler, memoised like every run
(a sequential case grows it on its chunk grid like the intervened one): when another case or a
control runs the same interventions on the same examples, it is computed once. On a control's
model (a counter-model) both arms run on that model.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..interventions import OPERATIONS
from .internal import INTERNAL_MEASURES
from .sampling import rows


def versus_source(case: Any) -> Any:
    """The patch source of the versus run: the case's, when one of its operations reads one
    (else None, so that the run is shared with any case running the same interventions)."""
    reads = any(OPERATIONS.get(iv.op).requires_source for iv in case.measure.versus.interventions)
    return case.source if reads else None


def measure_versus(measurer: Any, case: Any, upto: int | None) -> Any:
    """Both arms' per-example values (a `Measurements`: ``x`` the intervened run, ``y`` the
    versus run) on all examples, or the first ``upto`` of a sequential case."""
    from .measurement import Measurements, only_sites  # measurement calls this module

    measure = case.measure
    treated = measurer._run(case, case.interventions, case.source, upto)
    other = measurer._run(case, measure.versus.interventions, versus_source(case), upto)
    if measure.compare == "internal":
        info = INTERNAL_MEASURES.get(measure.metric)
        own = set(measurer._own_sites(case.model, measure))
        x = info.aggregate(only_sites(treated, own), dict(measure.args))
        y = info.aggregate(only_sites(other, own), dict(measure.args))
        return Measurements(np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64))
    inputs = measurer.runs.inputs(case.model, case.data)
    if upto is not None:
        inputs = rows(inputs, 0, upto)
    base = measurer._run(case, (), None, upto) if measure.compare == "baseline" else None
    reasons: list[str] = []
    x_reasons: list[str | None] = []
    y_reasons: list[str | None] = []
    x = measurer.metric_values(measure, treated, inputs, reference_run=base, reasons=reasons, each=x_reasons)
    y = measurer.metric_values(measure, other, inputs, reference_run=base, reasons=reasons, each=y_reasons)
    return Measurements(np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64), tuple(reasons),
                        tuple(x_reasons), tuple(y_reasons))
