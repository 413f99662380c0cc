"""``latentflow gate``: compare two ``--latentflow-results`` files and fail on regressions.

A model update (a new checkpoint, a fine-tune, a refactor of the model code) is gated by
running the same specs on it and comparing its results file (the *candidate*) with the
committed results of the model it replaces (the *baseline*), case by case (``case_id``):

* a claim that held in the baseline (``holds``: its statistical expectation was met) and no
  longer holds in the candidate is a regression;
* an effect size (``stats.effect_size``, Cohen's d) that moved by more than ``tolerance``
  in either direction is a regression; an effect that was measured before and cannot be
  computed now (NaN, degenerate data) is one too. Improvements count: a mechanism that
  became much stronger is a changed model, and the baseline is refreshed deliberately by
  committing the new results file;
* with ``tolerance_mean``, the same for the raw mean difference (``stats.mean_difference``)
  in the measure's own unit: one number for every case, or one per metric (``si_snr=1.0``),
  since dB, STOI and ratios have no common scale. Off by default for that reason;
* a case of the baseline that the candidate lacks is a regression (a claim cannot pass by
  disappearing); a case only the candidate has is reported and is not a failure.

`compare` is the library form (dicts in, a frozen `GateReport` out); `main` is the command.
Exit status: 0 no regression, 1 at least one regression, 2 unreadable or invalid input.
This module is pure Python (json, argparse, math): the gate runs in a second, not after a
torch import.
"""

from __future__ import annotations

import argparse
import math
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

# the format has one home: latentflow/results.py (ResultsError is re-exported for callers of the gate)
from .results import ResultsError, model_label, read_results, results_verdicts
from .sequential_summary import stop_sentence

# Half a standard deviation of the paired differences: Cohen's conventional "medium" effect.
# An effect that moves less than this between two models of the same architecture on the
# same seeded data is within what retraining noise produces on the bundled world; a larger
# move means the mechanism the claim measures changed.
DEFAULT_TOLERANCE = 0.5

EXIT_OK, EXIT_REGRESSION, EXIT_INVALID = 0, 1, 2

MeanTolerance = float | Mapping[str, float] | None

# Row statuses, in the order the summary lists them.
BROKE = "claim broke"
EFFECT_MOVED = "effect moved"
EFFECT_LOST = "effect lost"
MEAN_MOVED = "mean moved"
MISSING = "missing"
NEW = "new"
NOW_HOLDS = "now holds"
OK = "ok"
FAILING_STATUSES = frozenset({BROKE, EFFECT_MOVED, EFFECT_LOST, MEAN_MOVED, MISSING})


# -- reading results (the format and its checks live in latentflow/results.py) ---------------------


@dataclass(frozen=True)
class CaseNumbers:
    """What the gate reads from one verdict of a results file."""

    case_id: str
    metric: str  # the measure's metric name ("si_snr")
    holds: bool
    expected: str
    effect_size: float | None
    effect_size_name: str
    mean_difference: float | None
    reason: str  # what decided the case (a sequential stop, else the test's sentence), shown when it broke


load_results = read_results  # the gate's name for it: read and check a file, ResultsError naming the problem


def read_cases(data: Any, *, source: str) -> dict[str, CaseNumbers]:
    """The verdicts of one results object by case_id (checked by `results_verdicts`)."""
    cases = {}
    for verdict in results_verdicts(data, source=source):
        stats = verdict["stats"]
        cases[verdict["case_id"]] = CaseNumbers(
            case_id=verdict["case_id"],
            metric=verdict["measure"]["metric"],
            holds=verdict["holds"],
            expected=verdict["expected"],
            effect_size=_number(stats["effect_size"]),
            effect_size_name=stats["effect_size_name"],
            mean_difference=_number(stats["mean_difference"]),
            reason=_deciding_reason(verdict),
        )
    return cases


def _number(value: float | None) -> float | None:
    return None if value is None else float(value)


def _deciding_reason(verdict: dict) -> str:
    """The reason of what decided the case: a sequential case's stop (n used, where, why),
    else the fixed-n test's sentence."""
    if isinstance(verdict.get("sequential"), dict):
        return stop_sentence(verdict["sequential"])
    reason = verdict["stats"].get("reason")
    return reason if isinstance(reason, str) else ""


# -- comparing -------------------------------------------------------------------------------


@dataclass(frozen=True)
class GateRow:
    """One case, compared: before (baseline) and after (candidate); None where absent."""

    case_id: str
    status: str
    held_before: bool | None
    held_after: bool | None
    effect_before: float | None
    effect_after: float | None
    mean_before: float | None
    mean_after: float | None
    effect_size_name: str
    reasons: tuple[str, ...] = ()

    @property
    def failed(self) -> bool:
        return self.status in FAILING_STATUSES

    @property
    def effect_delta(self) -> float | None:
        return _delta(self.effect_before, self.effect_after)

    @property
    def mean_delta(self) -> float | None:
        return _delta(self.mean_before, self.mean_after)


@dataclass(frozen=True)
class GateReport:
    """The comparison of two results files: one row per case (sorted by case_id)."""

    rows: tuple[GateRow, ...]
    tolerance: float
    tolerance_mean: tuple[tuple[str, float], ...] | None  # (metric or "*", tolerance)
    baseline: str
    candidate: str
    baseline_model: str | None = None
    candidate_model: str | None = None
    failures: tuple[GateRow, ...] = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "failures", tuple(row for row in self.rows if row.failed))

    @property
    def failed(self) -> bool:
        # A gate that compared nothing proved nothing: two empty results files must not pass.
        return bool(self.failures) or not self.rows

    @property
    def exit_status(self) -> int:
        return EXIT_REGRESSION if self.failed else EXIT_OK

    def row(self, case_id: str) -> GateRow:
        for row in self.rows:
            if row.case_id == case_id:
                return row
        raise KeyError(f"no case {case_id!r} in this gate report; cases: {[r.case_id for r in self.rows]}")

    def to_markdown(self) -> str:
        return render_markdown(self)


def compare(baseline: Mapping[str, Any], candidate: Mapping[str, Any], tolerance: float = DEFAULT_TOLERANCE,
            *, tolerance_mean: MeanTolerance = None, baseline_name: str = "baseline",
            candidate_name: str = "candidate") -> GateReport:
    """Compare two results objects (as `load_results` returns them) case by case.

    tolerance: largest allowed |change| of the effect size (Cohen's d units), >= 0.
    tolerance_mean: None (mean differences are not gated), a number (largest allowed |change|
        of every case's mean difference, in its measure's unit), or a mapping metric name ->
        number ("*" for every other metric).
    baseline_name, candidate_name: how errors and the summary name the two inputs.
    """
    tolerance = _check_tolerance(tolerance, "tolerance")
    mean_limits = _mean_limits(tolerance_mean)
    before = read_cases(baseline, source=baseline_name)
    after = read_cases(candidate, source=candidate_name)
    smoke = {name: data.get("smoke_run") for name, data in ((baseline_name, baseline), (candidate_name, candidate))}
    if smoke[baseline_name] != smoke[candidate_name]:
        # a --latentflow-n run's verdicts are not the claims': its numbers move with n alone
        raise ResultsError(
            f"{baseline_name} and {candidate_name} ran different numbers of examples (smoke_run "
            f"{smoke[baseline_name]!r} vs {smoke[candidate_name]!r}); gate two full runs, or two smoke "
            "runs of the same --latentflow-n")
    rows = []
    for case_id in sorted(set(before) | set(after)):
        rows.append(_compare_case(before.get(case_id), after.get(case_id), tolerance, mean_limits))
    return GateReport(
        rows=tuple(rows), tolerance=tolerance,
        tolerance_mean=None if mean_limits is None else tuple(sorted(mean_limits.items())),
        baseline=baseline_name, candidate=candidate_name,
        baseline_model=model_label(baseline), candidate_model=model_label(candidate),
    )


def _compare_case(a: CaseNumbers | None, b: CaseNumbers | None, tolerance: float,
                  mean_limits: dict[str, float] | None) -> GateRow:
    shown = b if b is not None else a
    if shown is None:
        raise ValueError("a compared case needs a baseline or a candidate verdict")
    row = GateRow(case_id=shown.case_id, status=OK, effect_size_name=shown.effect_size_name,
                  held_before=None if a is None else a.holds, held_after=None if b is None else b.holds,
                  effect_before=None if a is None else a.effect_size,
                  effect_after=None if b is None else b.effect_size,
                  mean_before=None if a is None else a.mean_difference,
                  mean_after=None if b is None else b.mean_difference)
    if a is None:
        return replace(row, status=NEW, reasons=("only in the candidate: not gated until it is in the baseline",))
    if b is None:
        return replace(row, status=MISSING, reasons=("in the baseline but not in the candidate",))
    problems: list[tuple[str, str]] = []
    if a.holds and not b.holds:
        problems.append((BROKE, f"held in the baseline, does not hold in the candidate: {b.reason}"))
    if a.effect_size_name != b.effect_size_name:
        problems.append((EFFECT_MOVED, f"the effect size changed kind ({a.effect_size_name} -> "
                                       f"{b.effect_size_name}): the two are not comparable"))
    elif a.effect_size is not None and b.effect_size is None:
        problems.append((EFFECT_LOST, f"effect size {_num(a.effect_size)} in the baseline, none in the "
                                      f"candidate: {b.reason}"))
    elif a.effect_size is not None and b.effect_size is not None and abs(b.effect_size - a.effect_size) > tolerance:
        problems.append((EFFECT_MOVED, f"{a.effect_size_name} moved by {_signed(b.effect_size - a.effect_size)}, "
                                       f"more than the tolerance {_num(tolerance)}"))
    limit = _mean_limit(mean_limits, b.metric)
    if limit is not None and a.mean_difference is not None:
        if b.mean_difference is None:
            problems.append((EFFECT_LOST, f"mean difference {_num(a.mean_difference)} in the baseline, none "
                                          f"in the candidate: {b.reason}"))
        elif abs(b.mean_difference - a.mean_difference) > limit:
            problems.append((MEAN_MOVED, f"mean difference of {b.metric} moved by "
                                         f"{_signed(b.mean_difference - a.mean_difference)}, more than the "
                                         f"tolerance {_num(limit)}"))
    if problems:
        return replace(row, status=problems[0][0], reasons=tuple(text for _, text in problems))
    if b.holds and not a.holds:
        return replace(row, status=NOW_HOLDS, reasons=("did not hold in the baseline, holds in the candidate",))
    return row


def _check_tolerance(value: Any, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not (0 <= value < math.inf):
        raise ValueError(f"{name} must be a finite number >= 0; got {value!r}")
    return float(value)


def _mean_limits(tolerance_mean: MeanTolerance) -> dict[str, float] | None:
    if tolerance_mean is None:
        return None
    if isinstance(tolerance_mean, Mapping):
        if not tolerance_mean:
            raise ValueError("tolerance_mean is an empty mapping; give metric -> tolerance pairs or None")
        return {str(metric): _check_tolerance(value, f"tolerance_mean[{metric!r}]")
                for metric, value in tolerance_mean.items()}
    return {"*": _check_tolerance(tolerance_mean, "tolerance_mean")}


def _mean_limit(limits: dict[str, float] | None, metric: str) -> float | None:
    if limits is None:
        return None
    return limits.get(metric, limits.get("*"))


def _delta(before: float | None, after: float | None) -> float | None:
    return None if before is None or after is None else after - before


# -- the markdown summary ---------------------------------------------------------------------


def render_markdown(report: GateReport) -> str:
    failures = report.failures
    counts: dict[str, int] = {}
    for row in report.rows:
        counts[row.status] = counts.get(row.status, 0) + 1
    if not report.rows:
        verdict = "**FAIL**: no cases to compare: both results files hold no verdicts"
    elif report.failed:
        verdict = f"**FAIL**: {len(failures)} of {len(report.rows)} cases regressed"
    else:
        verdict = f"**PASS**: no regression in {len(report.rows)} cases"
    lines = [
        "## latentflow gate",
        "",
        f"- baseline: `{report.baseline}`" + (f" (model `{report.baseline_model}`)" if report.baseline_model else ""),
        f"- candidate: `{report.candidate}`"
        + (f" (model `{report.candidate_model}`)" if report.candidate_model else ""),
        f"- tolerance: |change of effect size| <= {_num(report.tolerance)}"
        + ("" if report.tolerance_mean is None else "; |change of mean difference| <= "
           + ", ".join(f"{_num(v)} ({'any metric' if k == '*' else k})" for k, v in report.tolerance_mean)),
        "- cases: " + ", ".join(f"{n} {status}" for status, n in sorted(counts.items())) if counts else "- cases: none",
        "",
        verdict,
        "",
        "| case | held (before → after) | effect (before → after) | Δ effect | mean diff (before → after) | status |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for row in report.rows:
        status = f"**{row.status.upper()}**" if row.failed else row.status
        lines.append(
            f"| {_cell(row.case_id)} | {_held(row.held_before)} → {_held(row.held_after)} "
            f"| {row.effect_size_name} {_num(row.effect_before)} → {_num(row.effect_after)} "
            f"| {_signed(row.effect_delta)} | {_num(row.mean_before)} → {_num(row.mean_after)} | {status} |"
        )
    notes = [row for row in report.rows if row.reasons and row.status != OK]
    if notes:
        lines += ["", "### Why"]
        for row in notes:
            lines.append(f"- `{row.case_id}` ({row.status}): " + "; ".join(_cell(r) for r in row.reasons))
    return "\n".join(lines) + "\n"


def _held(value: bool | None) -> str:
    return "—" if value is None else ("yes" if value else "no")


def _num(value: float | None) -> str:
    return "—" if value is None else f"{value:.3g}"


def _signed(value: float | None) -> str:
    return "—" if value is None else f"{value:+.3g}"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


# -- the command -----------------------------------------------------------------------------


def _tolerance_arg(value: str) -> float:
    try:
        number = float(value)
    except ValueError:
        number = -1.0
    if not (0 <= number < math.inf):
        raise argparse.ArgumentTypeError(f"tolerance {value!r} is not a finite number >= 0")
    return number


def _mean_tolerance_arg(value: str) -> tuple[str, float]:
    metric, sep, number = value.rpartition("=")
    if sep and not metric:
        raise argparse.ArgumentTypeError(f"{value!r}: give METRIC=NUMBER (e.g. si_snr=1.0) or NUMBER")
    return (metric if sep else "*"), _tolerance_arg(number)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="latentflow gate",
        description="Compare two --latentflow-results files case by case and exit 1 on a regression: a claim "
                    "that held no longer holds, an effect size moved by more than the tolerance, or a case "
                    "disappeared. New cases are listed, not failed. Prints a markdown summary.",
        epilog="exit status: 0 no regression, 1 regression, 2 unreadable or invalid input",
    )
    parser.add_argument("--baseline", required=True, metavar="A.json", help="results of the model in use (committed)")
    parser.add_argument("--candidate", required=True, metavar="B.json", help="results of the new model")
    parser.add_argument("--tolerance", type=_tolerance_arg, default=DEFAULT_TOLERANCE, metavar="EFFECT",
                        help=f"largest allowed change of an effect size, in Cohen's d units "
                             f"(default {DEFAULT_TOLERANCE})")
    parser.add_argument("--tolerance-mean", type=_mean_tolerance_arg, action="append", default=None,
                        metavar="[METRIC=]VALUE",
                        help="also gate the mean difference: largest allowed absolute change in the measure's "
                             "unit, for every metric (VALUE) or one metric (si_snr=1.0); repeatable. "
                             "Default: not gated")
    parser.add_argument("--markdown", metavar="OUT.md", default=None, help="also write the summary to this file")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(sys.argv[1:] if argv is None else list(argv))
    tolerance_mean = None if args.tolerance_mean is None else dict(args.tolerance_mean)
    try:
        baseline = load_results(args.baseline)
        candidate = load_results(args.candidate)
    except ResultsError as error:
        print(f"latentflow gate: {error}", file=sys.stderr)
        return EXIT_INVALID
    report = compare(baseline, candidate, args.tolerance, tolerance_mean=tolerance_mean,
                     baseline_name=args.baseline, candidate_name=args.candidate)
    text = report.to_markdown()
    sys.stdout.write(text)
    if args.markdown:
        try:
            Path(args.markdown).parent.mkdir(parents=True, exist_ok=True)
            Path(args.markdown).write_text(text, encoding="utf-8")
        except OSError as error:
            print(f"latentflow gate: cannot write {args.markdown}: {error}", file=sys.stderr)
            return EXIT_INVALID
    return report.exit_status


if __name__ == "__main__":
    sys.exit(main())
