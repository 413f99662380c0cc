"""Judgement: a case's `Measurements` and its expectation -> the test result (fixed n, or
sequential look by look) -> corrected over its family -> the `Verdict`."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from ..spec import Case, Expect
from ..spec.parse import stats_design
from ..stats import TestResult, correct, evaluate
from ..stats.sequential import SequentialResult, sequential_test
from ..stats.sequential_corrections import correct_sequential
from .measurement import Measurements, Measurer
from .sampling import example_seeds
from .verdict import Verdict

DIRECTIONS = {"decrease": "less", "increase": "greater", "two-sided": "two-sided", "equivalent": "two-sided"}


@dataclass(frozen=True)
class CaseResult:
    """The uncorrected statistics of one case, with the measurements behind them.

    ``sequential``: a sequential case's decision (``result`` is then the fixed-n test on the
    examples it used).
    """

    result: TestResult
    measurements: Measurements
    sequential: SequentialResult | None = None

    @property
    def x(self) -> np.ndarray:
        return self.measurements.x

    @property
    def y(self) -> np.ndarray | None:
        return self.measurements.y

    @property
    def nan_reasons(self) -> tuple[str, ...]:
        return self.measurements.nan_reasons


def fixed_n_test(expect: Expect, measured: Measurements, seed: int) -> TestResult:
    """The spec's test of ``expect`` on the measurements (``seed``: the data seed, for resampling)."""
    data: Any = measured.differences(expect.null_value) if measured.y is None else (measured.x, measured.y)
    kwargs: dict[str, Any] = dict(test=expect.test, alpha=expect.alpha, seed=int(seed))
    if expect.test == "tost":
        if expect.margin is None:
            raise ValueError("a tost expectation needs a margin (the spec checks it; this one came unchecked)")
        kwargs["margin"] = tuple(expect.margin)
    else:
        kwargs["alternative"] = DIRECTIONS[expect.direction]
        kwargs["min_effect_size"] = expect.min_effect_size
    if expect.resamples is not None:
        kwargs["n_resamples"] = int(expect.resamples)
    return evaluate(data, **kwargs)


class Judge:
    """Judges cases measured by a `Measurer`; memoises each case's uncorrected result, so that a
    family is corrected over results computed once."""

    def __init__(self, measurer: Measurer) -> None:
        self.measurer = measurer
        self._results: dict[tuple[str | None, str], CaseResult] = {}

    def case_result(self, case: Case) -> CaseResult:
        # keyed by file and id: two spec files may use the same claim and hypothesis ids
        key = (case.source_file, case.case_id)
        if key not in self._results:
            if case.sequential is not None:
                self._results[key] = self._sequential_result(case)
            else:
                measured = self.measurer.measure(case)
                self._results[key] = CaseResult(fixed_n_test(case.expect, measured, case.data.seed), measured)
        return self._results[key]

    def _sequential_result(self, case: Case) -> CaseResult:
        """Run a sequential case look by look: the first k examples (k = chunk, 2 chunk, ...,
        max_n), decided after each; stops at the first look that is not "continue". The
        fixed-n test on the examples used is kept next to it (the decision is the sequential
        one)."""
        assert case.sequential is not None
        # a case of a corrected family of m stops at alpha / m (Bonferroni's share, fixed before
        # any data): stopping at alpha would stop near p = alpha, which a correction after
        # stopping then rejects (docs/sequential.md, "Families under optional stopping")
        family = case.family_size if case.correction != "none" else 1
        design = stats_design(case.sequential, case.expect, family_size=family)
        decided: SequentialResult | None = None
        measured: Measurements | None = None
        for k in design.default_looks:
            measured = self.measurer.measure(case, upto=k)
            decided = sequential_test(measured.differences(case.expect.null_value), design)
            if decided.status != "continue":
                break
        if decided is None or measured is None:
            raise ValueError(f"{case.case_id}: the sequential design has no look")
        if decided.status == "untestable" and measured.nan_reasons:  # say which measurement failed, and why
            decided = dataclasses.replace(
                decided,
                reason=f"{decided.reason}; the measure gave NaN: {'; '.join(sorted(set(measured.nan_reasons)))}")
        return CaseResult(fixed_n_test(case.expect, measured, case.data.seed), measured, decided)

    def verdict(self, case: Case, family: Iterable[Case] = ()) -> Verdict:
        """The case's verdict; with ``family`` (all cases of its family), corrected over it."""
        raw = self.case_result(case)
        result, decided = raw.result, raw.sequential
        members = list(family)
        if case.correction != "none" and len(members) > 1:
            position = [m.case_id for m in members].index(case.case_id)
            if decided is not None:  # the spec refuses families that mix the two designs
                # each stopped at alpha / m; the correction judges the family at the spec's alpha
                sequentials = []
                for member in members:
                    if (found := self.case_result(member).sequential) is None:
                        raise ValueError(f"{case.case_id}: its family mixes sequential and fixed-n cases")
                    sequentials.append(found)
                decided = correct_sequential(sequentials, case.correction)[position]
            else:
                result = correct([self.case_result(m).result for m in members], method=case.correction)[position]
        measured = raw.measurements
        return Verdict(
            case_id=case.case_id, claim_id=case.claim.id, claim_title=case.claim.title,
            hypothesis_id=case.hypothesis_id, title=case.title, location=case.location, model=case.model,
            interventions=tuple(plain(iv.to_yaml()) for iv in case.interventions),
            measure=plain(case.measure.to_yaml()), expectation=plain(case.expect.to_yaml()),
            result=result, expected=case.outcome, expected_reason=case.reason,
            x_mean=mean_of(measured.x), y_mean=None if measured.y is None else mean_of(measured.y),
            nan_reasons=measured.nan_reasons, paper=plain(case.paper), params=plain(dict(case.params)),
            extra=self.measurer.baseline_profile(case, None if raw.sequential is None else raw.sequential.n_used),
            examples=examples_record(case, raw), claim_paper=plain(case.claim.paper), order=case.index,
            sequential=decided, derived=plain(case.derived),
        )


def examples_record(case: Case, raw: CaseResult) -> dict:
    """Everything needed to re-analyse a case without re-running it: the data and sampler, each
    example's noise seed, and both arms' per-example values (NaN as None, with its reason)."""
    measured = raw.measurements

    def values(array: np.ndarray | None) -> list | None:
        return None if array is None else [float(v) if math.isfinite(v) else None for v in array.tolist()]

    def reasons(found: tuple, array: np.ndarray | None) -> list | None:
        return None if array is None else (list(found) if found else [None] * len(array))

    return {
        "data": asdict(case.data),
        "sampler": {"method": case.sampler.method, "steps": case.sampler.steps},
        # a sequential case: the first n_used of its max_n examples (data.n)
        "noise_seeds": example_seeds(case.data.seed, case.data.n if raw.sequential is None else raw.sequential.n_used),
        "null_value": float(case.expect.null_value),  # a one-sample test tests x - null_value
        "x": values(measured.x),
        "y": values(measured.y),
        "x_nan_reasons": reasons(measured.x_reasons, measured.x),
        "y_nan_reasons": reasons(measured.y_reasons, measured.y),
    }


def plain(value: Any) -> Any:
    """Frozen spec values (FrozenDict, tuples) as JSON-plain dicts (string keys) and lists."""
    if isinstance(value, Mapping):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    return value


def mean_of(values: np.ndarray) -> float | None:
    finite = values[np.isfinite(values)]
    return float(finite.mean()) if finite.size else None
