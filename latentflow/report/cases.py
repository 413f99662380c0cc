"""Verdict dicts (``Verdict.to_dict()``, as in a results file) read into `ReportCase` objects.

The report must draw whatever a run produced, so only ``case_id`` is required; every other
field may be missing (a hand-made verdict) and is then None. A field that is present with the
wrong type is an error naming the verdict, the field and the value, because drawing it would
show a wrong number. A whole results file (any format `latentflow.results` reads) is checked and
converted there first.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from latentflow.results import results_verdicts

Interval = tuple[float, float] | None


@dataclass(frozen=True)
class ReportCase:
    """One verdict, with the numbers the report shows (None: absent or not computed)."""

    case_id: str
    claim: str
    hypothesis: str
    title: str
    model: str
    metric: str  # the measure's metric name ("si_snr")
    measure: Mapping[str, Any]  # Measure.to_yaml() ({} when absent)
    expectation: Mapping[str, Any]  # Expect.to_yaml() ({} when absent)
    expected: str  # "holds" / "fails" / "" when unknown
    holds: bool | None
    passed: bool | None
    why: str
    paper: Any
    params: Mapping[str, Any]
    interventions: tuple[Mapping[str, Any], ...]  # Intervention.to_yaml() of each
    x_mean: float | None
    y_mean: float | None
    test: str
    alternative: str
    n: int | None
    pvalue: float | None
    pvalue_corrected: float | None
    correction: str | None
    mean_difference: float | None
    mean_interval: Interval
    effect_size: float | None
    effect_size_name: str
    effect_interval: Interval
    min_effect_size: float | None
    reason: str
    extra: Mapping[str, Any] = field(default_factory=dict)
    claim_title: str = ""
    claim_paper: Any = None  # the claim's own paper numbers (claim.paper in the spec)
    location: str = ""  # file:line of the hypothesis
    order: int | None = None  # position in its spec file

    @property
    def label(self) -> str:
        """The case without its claim: ``hypothesis[variant]``."""
        return self.case_id.split("::", 1)[1] if "::" in self.case_id else self.case_id


def read_cases(verdicts: Sequence[Mapping[str, Any]] | Mapping[str, Any]) -> tuple[ReportCase, ...]:
    """Read every verdict (a list of verdict dicts, or a whole results object); ValueError names
    the verdict index, case and field of a bad value."""
    if isinstance(verdicts, Mapping) and "latentflow_results" in verdicts:
        verdicts = results_verdicts(verdicts, source="results")
    if isinstance(verdicts, (str, bytes, Mapping)) or not isinstance(verdicts, Iterable):
        raise ValueError(f"verdicts must be a list of verdict dicts (Verdict.to_dict()); got {type(verdicts).__name__}")
    return tuple(_read(verdict, index) for index, verdict in enumerate(verdicts))


def _read(v: Any, index: int) -> ReportCase:
    where = f"verdicts[{index}]"
    if not isinstance(v, Mapping):
        raise ValueError(f"{where}: expected a verdict dict, got {type(v).__name__}")
    case_id = v.get("case_id")
    if not isinstance(case_id, str) or not case_id:
        raise ValueError(f"{where}.case_id: expected a non-empty string, got {case_id!r}")
    where = f"{where} ({case_id})"
    stats = _typed(v, "stats", Mapping, where, "an object (TestResult.to_dict())") or {}
    sw = f"{where}.stats"
    measure = _typed(v, "measure", Mapping, where, "an object (Measure.to_yaml())") or {}
    metric = _typed(measure, "metric", str, f"{where}.measure", "a metric name") or ""
    claim, _, rest = case_id.partition("::")
    return ReportCase(
        case_id=case_id,
        claim=_typed(v, "claim", str, where, "a string") or (claim if rest else ""),
        hypothesis=_typed(v, "hypothesis", str, where, "a string") or (rest.split("[", 1)[0] if rest else case_id),
        title=_typed(v, "title", str, where, "a string") or "",
        model=_typed(v, "model", str, where, "a string") or "",
        metric=metric,
        measure=measure,
        expectation=_typed(v, "expectation", Mapping, where, "an object (Expect.to_yaml())") or {},
        expected=_typed(v, "expected", str, where, "'holds' or 'fails'") or "",
        holds=_typed(v, "holds", bool, where, "true or false"),
        passed=_typed(v, "passed", bool, where, "true or false"),
        why=_typed(v, "why", str, where, "a string") or "",
        paper=v.get("paper"),
        params=_typed(v, "params", Mapping, where, "an object") or {},
        interventions=_interventions(v, where),
        x_mean=_number(v, "x_mean", where),
        y_mean=_number(v, "y_mean", where),
        test=_typed(stats, "test", str, sw, "a string") or "",
        alternative=_typed(stats, "alternative", str, sw, "a string") or "",
        n=_typed(stats, "n", int, sw, "an integer"),
        pvalue=_number(stats, "pvalue", sw),
        pvalue_corrected=_number(stats, "pvalue_corrected", sw),
        correction=_typed(stats, "correction", str, sw, "a string or null"),
        mean_difference=_number(stats, "mean_difference", sw),
        mean_interval=_interval(stats, "confidence_interval", sw),
        effect_size=_number(stats, "effect_size", sw),
        effect_size_name=_typed(stats, "effect_size_name", str, sw, "a string") or "d",
        effect_interval=_interval(stats, "effect_size_interval", sw),
        min_effect_size=_number(stats, "min_effect_size", sw),
        reason=_typed(stats, "reason", str, sw, "a string") or "",
        extra=_typed(v, "extra", Mapping, where, "an object") or {},
        claim_title=_typed(v, "claim_title", str, where, "a string") or "",
        claim_paper=v.get("claim_paper"),
        location=_typed(v, "location", str, where, "a string") or "",
        order=_typed(v, "order", int, where, "an integer or null"),
    )


def report_order(cases: Sequence[ReportCase]) -> tuple[ReportCase, ...]:
    """Cases grouped by claim, in spec order (spec file, then position in it), failures first:
    claims with a case not as expected come first, and inside each claim such cases come first.
    Verdicts without a location or order (older files) keep the order they came in."""
    def spec_key(item: tuple[int, ReportCase]) -> tuple:
        index, case = item
        file = case.location.rsplit(":", 1)[0] if case.location else ""
        return (file, case.order if case.order is not None else index, index)

    ordered = sorted(enumerate(cases), key=spec_key)
    failing_claims = {c.claim for _, c in ordered if c.passed is False}
    first_seen: dict[str, int] = {}
    for position, (_, case) in enumerate(ordered):
        first_seen.setdefault(case.claim, position)
    ranked = sorted(enumerate(ordered), key=lambda item: (
        item[1][1].claim not in failing_claims, first_seen[item[1][1].claim],
        item[1][1].passed is not False, item[0]))
    return tuple(case for _, (_, case) in ranked)


def claims_of(cases: Sequence[ReportCase]) -> list[tuple[str, list[ReportCase]]]:
    """(claim, its cases) in the order the cases come."""
    groups: dict[str, list[ReportCase]] = {}
    for case in cases:
        groups.setdefault(case.claim, []).append(case)
    return list(groups.items())


def claim_heading(claim: str, cases: Sequence[ReportCase]) -> str:
    """``claim: title — paper: ... — 2 cases, 1 not as expected``."""
    title = next((c.claim_title for c in cases if c.claim_title), "")
    paper = next((c.claim_paper for c in cases if c.claim_paper is not None), None)
    failed = sum(c.passed is False for c in cases)
    parts = [f"{claim or '(no claim)'}" + (f": {title}" if title else "")]
    if paper is not None:
        parts.append(f"paper: {format_paper(paper)}")
    parts.append(count_text(len(cases), "case") + (f", {failed} not as expected" if failed else ""))
    return " — ".join(parts)


def _interventions(v: Mapping, where: str) -> tuple[Mapping[str, Any], ...]:
    found = _typed(v, "interventions", list, where, "a list of objects (Intervention.to_yaml())") or []
    for index, iv in enumerate(found):
        if not isinstance(iv, Mapping):
            raise ValueError(f"{where}.interventions[{index}]: {iv!r} is not allowed; expected an object "
                             f"(Intervention.to_yaml())")
    return tuple(found)


def _typed(obj: Mapping, name: str, kind: type, where: str, allowed: str) -> Any:
    value = obj.get(name)
    if value is None:
        return None
    if not isinstance(value, kind) or (kind is not bool and isinstance(value, bool)):
        raise ValueError(f"{where}.{name}: {value!r} is not allowed; expected {allowed}")
    return value


def _number(obj: Mapping, name: str, where: str) -> float | None:
    value = obj.get(name)
    if value is None:
        return None  # results files write NaN as null
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"{where}.{name}: {value!r} is not allowed; expected a number or null")
    return float(value) if math.isfinite(value) else None


def _interval(obj: Mapping, name: str, where: str) -> Interval:
    value = obj.get(name)
    if value is None:
        return None
    if not isinstance(value, (list, tuple)) or len(value) != 2:
        raise ValueError(f"{where}.{name}: {value!r} is not allowed; expected [low, high]")
    low, high = (_number({"v": item}, "v", f"{where}.{name}") for item in value)
    return None if low is None or high is None else (low, high)


def count_text(n: int, noun: str) -> str:
    return f"{n} {noun}" + ("" if n == 1 else "s")


def format_number(value: float | None, digits: int = 3) -> str:
    return "n/a" if value is None else f"{value:.{digits}g}"


def format_interval(interval: Interval) -> str:
    return "n/a" if interval is None else f"[{format_number(interval[0])}, {format_number(interval[1])}]"


def format_paper(paper: Any) -> str:
    """The paper's number as the spec wrote it: text, a number, or label -> value pairs."""
    if paper is None:
        return "—"
    if isinstance(paper, Mapping):
        return "; ".join(f"{key}: {format_paper(value)}" for key, value in paper.items())
    if isinstance(paper, (list, tuple)):
        return "; ".join(format_paper(item) for item in paper)
    return str(paper)


def verdict_word(case: ReportCase) -> str:
    if case.passed is None:
        return "n/a"
    return "PASS" if case.passed else "FAIL"


def held_word(case: ReportCase) -> str:
    if case.holds is None:
        return "n/a"
    return "holds" if case.holds else "does not hold"


def measured_text(case: ReportCase) -> str:
    """x̄ vs ȳ and the mean difference with its interval, as one short line."""
    parts = []
    if case.x_mean is not None and case.y_mean is not None:
        parts.append(f"{format_number(case.x_mean)} vs {format_number(case.y_mean)}")
    elif case.x_mean is not None:
        parts.append(f"mean {format_number(case.x_mean)}")
    if case.mean_difference is not None:
        parts.append(f"Δ {format_number(case.mean_difference)} {format_interval(case.mean_interval)}")
    return "; ".join(parts) or "n/a"


def effect_text(case: ReportCase) -> str:
    if case.effect_size is None:
        return "n/a"
    return f"{case.effect_size_name} {format_number(case.effect_size)} {format_interval(case.effect_interval)}"


def pvalue_text(case: ReportCase) -> str:
    if case.pvalue_corrected is not None:
        return f"{format_number(case.pvalue_corrected)} ({case.correction})"
    return format_number(case.pvalue)
