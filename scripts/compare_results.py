"""Compare two ``--latentflow-results`` files: verdicts and every number, case by case.

    python scripts/compare_results.py BEFORE.json AFTER.json [--rel-tol 0]

For a refactor that must not change behaviour: every field of every verdict (holds, passed,
why, stats, sequential, x/y means, each example's values and NaN reasons, extra) and of the
file's header (model, codec, seeds, ...) must be equal (numbers exactly, or within
``--rel-tol``). Ignored: ``location`` up to its file name (the checkout's path) and the format
version. When one file is of a format whose interventions, measure and expectation are display
text (1, 2) and the other holds them as the spec's dicts (3), the dicts are rendered with the
verdict's own display functions and the texts compared; a difference there is listed as a
display difference, apart from the verdicts and numbers.

Exit status: 0 identical verdicts and numbers, 1 a difference, 2 unreadable input.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

DESCRIBED = ("interventions", "measure", "expectation")
IGNORED_HEADER = ("latentflow_results", "verdicts")


def differences(a: Any, b: Any, where: str, rel_tol: float) -> Iterator[str]:
    """Every path at which ``a`` and ``b`` differ (numbers within ``rel_tol`` count as equal)."""
    if isinstance(a, dict) and isinstance(b, dict):
        for key in sorted(set(a) | set(b)):
            if key not in a or key not in b:
                yield f"{where}.{key}: only in {'after' if key not in a else 'before'}"
            else:
                yield from differences(a[key], b[key], f"{where}.{key}", rel_tol)
    elif isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            yield f"{where}: {len(a)} items before, {len(b)} after"
        for index, (x, y) in enumerate(zip(a, b, strict=False)):  # a length difference is reported above
            yield from differences(x, y, f"{where}[{index}]", rel_tol)
    elif _number(a) and _number(b):
        if not (a == b or (math.isfinite(a) and math.isfinite(b) and math.isclose(a, b, rel_tol=rel_tol))):
            yield f"{where}: {a!r} before, {b!r} after"
    elif a != b or type(a) is not type(b):
        yield f"{where}: {a!r} before, {b!r} after"


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _display(verdict: dict) -> dict:
    """A verdict's interventions, measure and expectation as display text (rendered from the
    spec's dicts where the file holds dicts)."""
    from latentflow.execution.verdict import describe_expectation, describe_intervention, describe_measure

    out = {}
    interventions = verdict.get("interventions")
    out["interventions"] = [iv if isinstance(iv, str) else describe_intervention(iv) for iv in interventions or []]
    measure, expectation = verdict.get("measure"), verdict.get("expectation")
    out["measure"] = measure if isinstance(measure, str) else describe_measure(measure)
    out["expectation"] = expectation if isinstance(expectation, str) else describe_expectation(expectation)
    return out


def _location(verdict: dict) -> str | None:
    location = verdict.get("location")
    if not isinstance(location, str):
        return location
    file, _, line = location.rpartition(":")
    return f"{Path(file).name}:{line}"


def compare_files(before: dict, after: dict, rel_tol: float = 0.0) -> tuple[list[str], list[str], int]:
    """(differences of verdicts and numbers, display differences, cases compared)."""
    found: list[str] = []
    display: list[str] = []
    header_a = {k: v for k, v in before.items() if k not in IGNORED_HEADER}
    header_b = {k: v for k, v in after.items() if k not in IGNORED_HEADER}
    found += differences(header_a, header_b, "header", rel_tol)
    cases_a = {v["case_id"]: v for v in before["verdicts"]}
    cases_b = {v["case_id"]: v for v in after["verdicts"]}
    for case_id in sorted(set(cases_a) ^ set(cases_b)):
        found.append(f"{case_id}: only {'before' if case_id in cases_a else 'after'}")
    for case_id in sorted(set(cases_a) & set(cases_b)):
        a, b = dict(cases_a[case_id]), dict(cases_b[case_id])
        if _location(a) != _location(b):
            found.append(f"{case_id}.location: {a['location']!r} before, {b['location']!r} after")
        a.pop("location", None)
        b.pop("location", None)
        if isinstance(a.get("measure"), str) != isinstance(b.get("measure"), str):  # text vs the spec's dicts
            display += differences(_display(a), _display(b), case_id, rel_tol)
            for key in DESCRIBED:
                a.pop(key, None)
                b.pop(key, None)
        found += differences(a, b, case_id, rel_tol)
    return found, display, len(set(cases_a) & set(cases_b))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("before")
    parser.add_argument("after")
    parser.add_argument("--rel-tol", type=float, default=0.0, help="relative tolerance of numbers (default: exact)")
    args = parser.parse_args(argv)
    try:
        before, after = (json.loads(Path(p).read_text(encoding="utf-8")) for p in (args.before, args.after))
    except (OSError, ValueError) as error:
        print(f"compare_results: {error}", file=sys.stderr)
        return 2
    found, display, compared = compare_files(before, after, args.rel_tol)
    print(f"before: {args.before} (format {before.get('latentflow_results')}, {len(before['verdicts'])} verdicts)")
    print(f"after:  {args.after} (format {after.get('latentflow_results')}, {len(after['verdicts'])} verdicts)")
    holds = sum(v["holds"] for v in after["verdicts"])
    passed = sum(v["passed"] for v in after["verdicts"])
    print(f"compared {compared} cases; after: {holds} hold, {passed} as the spec expects")
    for line in display:
        print(f"display text: {line}")
    for line in found:
        print(f"DIFFERENT: {line}")
    print("identical verdicts and numbers" if not found else f"{len(found)} differences in verdicts or numbers")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
