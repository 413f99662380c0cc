"""Measurement: a case's runs -> its `Measurements`, per-example values of both arms with the
reason each NaN has.

An audio metric reads a run's decoded estimates (memoised per run: baselines are shared); an
internal measure reads what its runs recorded at the hook sites it names. Internal measures of
several cases that read different sites of the same runs (one hypothesis per layer) declare
their sites first (`Measurer.declare`), so the union is recorded in one run instead of many.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from .. import metrics as _metrics  # noqa: F401 - registers the built-in metrics
from ..interventions import resolve_sites
from ..metrics import get_metric
from ..spec import Case, Intervention, Measure, PatchSource
from .internal import INTERNAL_MEASURES
from .sampling import Recording, RunCache, RunOutput, RunRecords, rows
from .versus import measure_versus
from .world import CaseInputs

DEFAULT_INTERNAL_SITE = "blocks.*.attn.hook_pattern"


@dataclass(frozen=True)
class Measurements:
    """Per-example values of a case's measure: ``x`` the intervened (or only) arm, ``y`` the
    baseline arm when the case is paired (None when one-sample).

    ``nan_reasons``: every NaN's reason; ``x_reasons`` / ``y_reasons``: per example, why its
    value is NaN (None where it is not; empty when the measure never gives NaN).
    """

    x: np.ndarray
    y: np.ndarray | None
    nan_reasons: tuple[str, ...] = ()
    x_reasons: tuple[str | None, ...] = ()
    y_reasons: tuple[str | None, ...] = ()

    def differences(self, null_value: float) -> np.ndarray:
        """What a test of the case reads as one sample: x - y, or x - null_value when unpaired."""
        return self.x - float(null_value) if self.y is None else self.x - self.y


class Measurer:
    """Measures cases on the runs of a `RunCache`."""

    def __init__(self, runs: RunCache) -> None:
        self.runs = runs
        # (model, metric, steps) -> sites that internal measures of several cases read from the
        # same runs: recorded once
        self._record_union: dict[tuple, frozenset[str]] = {}
        # (rows key of the run, metric, reference, args) -> values and NaN reasons of its first examples
        self._metrics: dict[tuple, tuple[np.ndarray, tuple[str | None, ...]]] = {}
        # (that key, examples scored before, examples scored now): each evaluation of a metric
        self.metric_log: list[tuple[tuple, int, int]] = []

    # -- what runs record ----------------------------------------------------------------------

    def declare(self, cases: Iterable[Case]) -> None:
        """Declare the internal measures of the cases about to run (see the module docstring)."""
        groups: dict[tuple, set[str]] = {}
        for case in cases:
            if case.measure.compare == "internal":
                sites = self._own_sites(case.model, case.measure)
                groups.setdefault(_record_group(case.model, case.measure), set()).update(sites)
        for group, wanted in groups.items():
            self._record_union[group] = self._record_union.get(group, frozenset()) | frozenset(wanted)

    def recording(self, model_name: str, measure: Measure | None) -> Recording | None:
        """What the runs of a case with ``measure`` record: None for an audio metric; for an
        internal measure its sites, or all sites declared for its group when they include them
        (so that runs are shared)."""
        if measure is None or measure.compare != "internal":
            return None
        names = self._own_sites(model_name, measure)
        shared = self._record_union.get(_record_group(model_name, measure), frozenset())
        if set(names) <= shared:
            names = tuple(sorted(shared))
        return Recording(names, INTERNAL_MEASURES.get(measure.metric).reduce, measure.steps)

    def _own_sites(self, model_name: str, measure: Measure) -> tuple[str, ...]:
        """The hook sites an internal measure reads itself."""
        info = INTERNAL_MEASURES.get(measure.metric)
        model = self.runs.world(model_name).model
        layers = None if measure.layers is None else measure.layers.resolve(model.cfg.n_layers)
        names = tuple(resolve_sites(measure.site or DEFAULT_INTERNAL_SITE, model.hook_dict, layers))
        bad = [n for n in names if not n.endswith(info.site_suffixes)]
        if bad:
            raise ValueError(f"internal measure {measure.metric!r} reads sites ending in "
                             f"{list(info.site_suffixes)}; got {bad}")
        return names

    # -- runs of a case ------------------------------------------------------------------------

    def case_runs(self, case: Case, upto: int | None = None) -> tuple[RunOutput, RunOutput | None]:
        """The case's baseline run and its intervened run (None without interventions): all its
        examples, or (``upto``, a sequential case) the first ``upto`` on its chunk grid."""
        base = self._run(case, (), None, upto)
        treated = self._run(case, case.interventions, case.source, upto) if case.interventions else None
        return base, treated

    def _run(self, case: Case, interventions: Sequence[Intervention], source: PatchSource | None,
             upto: int | None) -> RunOutput:
        recording = self.recording(case.model, case.measure)
        if upto is None:
            return self.runs.run(case.model, case.data, case.sampler, interventions, recording=recording,
                                 source=source)
        if case.sequential is None:
            raise ValueError(f"{case.case_id}: only a sequential case is measured on its first examples")
        return self.runs.run_prefix(case.model, case.data, case.sampler, interventions, upto=upto,
                                    block=case.sequential.chunk, recording=recording, source=source)

    # -- values --------------------------------------------------------------------------------

    def measure(self, case: Case, upto: int | None = None) -> Measurements:
        """Both arms' per-example values of the case's measure (on the first ``upto`` examples)."""
        if case.measure.versus is not None:  # the second arm is another intervened run
            return measure_versus(self, case, upto)
        base, treated = self.case_runs(case, upto)
        inputs = self.runs.inputs(case.model, case.data)
        if upto is not None:
            inputs = rows(inputs, 0, upto)
        measure = case.measure
        reasons: list[str] = []
        x_reasons: list[str | None] = []
        y_reasons: list[str | None] = []
        if measure.compare == "internal":
            info = INTERNAL_MEASURES.get(measure.metric)
            own = set(self._own_sites(case.model, measure))
            x = info.aggregate(only_sites(treated or base, own), dict(measure.args))
            y = info.aggregate(only_sites(base, own), dict(measure.args)) if treated is not None else None
        elif measure.compare == "baseline":
            if treated is None:
                raise ValueError(f"{case.case_id}: compare: baseline needs interventions (nothing to compare)")
            x = self.metric_values(measure, treated, inputs, reference_run=base, reasons=reasons, each=x_reasons)
            y = None
        else:
            x = self.metric_values(measure, treated or base, inputs, reasons=reasons, each=x_reasons)
            y = (self.metric_values(measure, base, inputs, reasons=reasons, each=y_reasons)
                 if treated is not None else None)
        return Measurements(np.asarray(x, dtype=np.float64), None if y is None else np.asarray(y, dtype=np.float64),
                            tuple(reasons), tuple(x_reasons), tuple(y_reasons))

    def metric_values(self, measure: Measure, run: RunOutput, inputs: CaseInputs, *,
                      reference_run: RunOutput | None = None, reasons: list[str],
                      each: list[str | None] | None = None) -> np.ndarray:
        """Per-example values of an audio metric on a run's output, ``inputs`` its examples.

        Memoised per example: baselines are shared, and a sequential case's runs grow by a chunk
        at each look, so the metric runs only on the examples no earlier call has scored (a
        metric's value for an example depends on that example alone; see docs/metrics.md).
        ``reasons`` receives the NaN reasons; ``each`` (if given) one entry per example: its NaN
        reason, or None."""
        reference_name = measure.reference or "prompted"
        key = (run.rows_key, measure.metric,
               reference_run.rows_key if reference_run is not None else reference_name,
               tuple(sorted(dict(measure.args).items())))
        n = run.estimate.shape[0]
        values, found = self._metrics.get(key, (np.empty(0, dtype=np.float64), ()))
        if values.shape[0] < n:
            first = values.shape[0]
            new_values, new_found = self._evaluate(measure, run, inputs, reference_run, first, n)
            values, found = np.concatenate([values, new_values]), found + new_found
            self._metrics[key] = (values, found)
            self.metric_log.append((key, first, n))
        values, found = values[:n], found[:n]
        reasons.extend(r for r in found if r)
        if each is not None:
            each.extend(found)
        return values

    def _evaluate(self, measure: Measure, run: RunOutput, inputs: CaseInputs, reference_run: RunOutput | None,
                  first: int, stop: int) -> tuple[np.ndarray, tuple[str | None, ...]]:
        """The metric's values and NaN reasons on examples first..stop-1 of ``run``."""
        info = get_metric(measure.metric)
        part = rows(inputs, first, stop)
        reference = (reference_run.estimate[first:stop] if reference_run is not None
                     else part.reference(measure.reference or "prompted"))
        available = {
            "estimate": run.estimate[first:stop].numpy(),
            "reference": reference.numpy(),
            "mixture": part.mixtures.numpy(),
            "sample_rate": part.sample_rate,
            "span": part.spans,
        }
        if "interference" in info.inputs:  # the only input that costs a computation
            available["interference"] = (part.mixtures - reference).numpy()
        args = {k: v for k, v in available.items() if k in info.inputs}
        args.update(dict(measure.args))
        result = info(**args)
        return np.asarray(result.values, dtype=np.float64), tuple(r or None for r in result.reasons)

    def baseline_profile(self, case: Case, upto: int | None = None) -> dict[str, Any]:
        """Per-site, per-step means of an internal measure's baseline records (for reports:
        heatmaps); for ``entropy_rate`` also each site's baseline rate (the measure itself,
        averaged over the examples) and the spec's threshold, so a report classifies layers as
        the spec does. Empty for an audio metric. ``upto``: a sequential case's examples used."""
        if case.measure.compare != "internal":
            return {}
        base = self._run(case, (), None, upto)
        records = only_sites(base, set(self._own_sites(case.model, case.measure)))
        profile: dict[str, dict[str, float]] = {}
        for (site, step, evaluation), value in sorted(records.items(), key=lambda kv: str(kv[0])):
            if evaluation in (None, 0):
                profile.setdefault(site, {})[str(step)] = float(value.float().mean())
        extra: dict[str, Any] = {"baseline_profile": profile}
        if case.measure.metric == "entropy_rate":
            aggregate = INTERNAL_MEASURES.get("entropy_rate").aggregate
            extra["baseline_rates"] = {
                site: float(np.mean(aggregate({k: v for k, v in records.items() if k[0] == site},
                                              dict(case.measure.args))))
                for site in sorted(profile)
            }
            if case.expect.null_value is not None:
                extra["stable_threshold"] = float(case.expect.null_value)
        return extra


def _record_group(model_name: str, measure: Measure) -> tuple:
    return (model_name, measure.metric, measure.steps)


def only_sites(run: RunOutput, sites: set[str]) -> RunRecords:
    """A run's records of the given sites (a shared run may have recorded more)."""
    return {k: v for k, v in run.records.items() if k[0] in sites}
