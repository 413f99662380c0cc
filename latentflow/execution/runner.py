"""The `Runner`: sampling, measurement and judgement of compiled cases, behind one object.

Each job has its own module, along the data flow: ``sampling`` (a `RunCache` of runs, with
variant batching) -> ``measurement`` (a case's runs -> `Measurements`) -> ``judgement``
(measurements + expectation -> test result, corrected over the family -> `Verdict`). The Runner
wires one of each together and keeps the entry points that the session, the fuzz checks and
the tests call.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np

from ..spec import Case, Data, Intervention, Measure, PatchSource, Sampler
from .judgement import CaseResult, Judge
from .measurement import Measurements, Measurer
from .sampling import RunCache, RunOutput, example_seeds, prepare_variants
from .verdict import Verdict
from .world import CaseInputs, World

__all__ = ["CaseResult", "Measurements", "RunOutput", "Runner", "example_seeds"]


class Runner:
    def __init__(self, *, device: str = "cpu", batch_size: int = 16, batch_variants: bool = False,
                 variants_per_forward: int = 4, text_encoder: str | None = None) -> None:
        self.runs = RunCache(device=device, batch_size=batch_size, batch_variants=batch_variants,
                             variants_per_forward=variants_per_forward, text_encoder=text_encoder)
        self.measurer = Measurer(self.runs)
        self.judge = Judge(self.measurer)

    # -- settings and logs of the run cache ------------------------------------------------------

    @property
    def device(self) -> str:
        return self.runs.device

    @property
    def batch_variants(self) -> bool:
        return self.runs.batch_variants

    @property
    def batch_log(self) -> list[tuple[tuple, int, str]]:
        return self.runs.batch_log

    @property
    def prefix_log(self) -> list[tuple[tuple, int, int]]:
        return self.runs.prefix_log

    # -- worlds, examples, runs --------------------------------------------------------------------

    def world(self, model: str) -> World:
        return self.runs.world(model)

    def describe_models(self) -> dict[str, dict]:
        return self.runs.describe_models()

    def inputs(self, model: str, data: Data) -> CaseInputs:
        return self.runs.inputs(model, data)

    def prepare(self, cases: Iterable[Case]) -> None:
        """Declare the cases about to run: variants that may share forward passes, and the
        sites internal measures read from the same runs (recorded once)."""
        cases = list(cases)
        prepare_variants(self.runs, cases)
        self.measurer.declare(cases)

    def select(self, cases: Iterable[Case]) -> None:
        """Only these cases will run (e.g. after ``pytest -k``): batch only their variants."""
        self.runs.forget_variants()
        prepare_variants(self.runs, cases)

    def run(self, model_name: str, data: Data, sampler: Sampler, interventions: Sequence[Intervention] = (), *,
            measure: Measure | None = None, source: PatchSource | None = None, memo: bool = True) -> RunOutput:
        """Sample the data's examples with ``interventions``, recording what ``measure`` reads."""
        return self.runs.run(model_name, data, sampler, interventions, source=source, memo=memo,
                             recording=self.measurer.recording(model_name, measure))

    def run_prefix(self, model_name: str, data: Data, sampler: Sampler, interventions: Sequence[Intervention] = (),
                   *, upto: int, block: int, measure: Measure | None = None,
                   source: PatchSource | None = None) -> RunOutput:
        """The first ``upto`` examples of the data's run, grown on a grid of ``block`` examples."""
        return self.runs.run_prefix(model_name, data, sampler, interventions, upto=upto, block=block, source=source,
                                    recording=self.measurer.recording(model_name, measure))

    # -- measures and verdicts ---------------------------------------------------------------------

    def metric_values(self, measure: Measure, run: RunOutput, inputs: CaseInputs, *,
                      reference_run: RunOutput | None = None, reasons: list[str],
                      each: list[str | None] | None = None) -> np.ndarray:
        return self.measurer.metric_values(measure, run, inputs, reference_run=reference_run, reasons=reasons,
                                           each=each)

    def case_result(self, case: Case) -> CaseResult:
        return self.judge.case_result(case)

    def verdict(self, case: Case, family: Iterable[Case] = ()) -> Verdict:
        return self.judge.verdict(case, family)
