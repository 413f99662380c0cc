"""``latentflow bench seeds``: the specs' verdicts over several data seeds, and their agreement.

A claim whose verdict flips with the data seed is decided by the draw, not by the model. This
runs ``pytest PATHS --latentflow-seed S`` once per seed (in a subprocess, as a user would, with
``--latentflow-results``), reads each run's results file (structured JSON, never pytest's
printed output) and reports, per case, whether the claim held on each seed, the n it used
(sequential cases stop early), and the agreement: how many seeds gave the case's most common
verdict, and how many gave the verdict its spec records (which was measured on seed 0).
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import tempfile
from collections import Counter
from pathlib import Path
from typing import Any

from latentflow.execution.benchmark import cpu_seconds_of_children, time_pytest
from latentflow.model_names import MODEL_NAME_FORMS


def seed_outcomes(results: dict[int, dict[str, Any]]) -> list[dict[str, Any]]:
    """Per case (in the order of the first seed's results): its recorded outcome, and per seed
    whether it held, the n it used and, for a sequential case, where it stopped. ``results``
    maps a seed to that run's results file (``latentflow.results`` format)."""
    seeds = sorted(results)
    by_seed = {seed: {v["case_id"]: v for v in results[seed]["verdicts"]} for seed in seeds}
    case_ids = list(dict.fromkeys(cid for seed in seeds for cid in by_seed[seed]))
    rows = []
    for case_id in case_ids:
        runs: dict[int, dict[str, Any] | None] = {}
        expected = None
        for seed in seeds:
            verdict = by_seed[seed].get(case_id)
            if verdict is None:
                runs[seed] = None
                continue
            expected = verdict["expected"]
            sequential = verdict.get("sequential")
            runs[seed] = {
                "holds": bool(verdict["holds"]),
                "n": sequential["n_used"] if sequential else verdict["stats"]["n"],
                "stop": sequential["status"] if sequential else None,
            }
        verdicts = ["holds" if r["holds"] else "fails" for r in runs.values() if r is not None]
        majority, count = Counter(verdicts).most_common(1)[0]
        rows.append({
            "case_id": case_id,
            "recorded": expected,
            "seeds": {str(seed): runs[seed] for seed in seeds},
            "majority": majority,
            "agreement": count,
            "matches_record": sum(v == expected for v in verdicts),
            "ran_on": len(verdicts),
        })
    return rows


def format_table(rows: list[dict[str, Any]], seeds: list[int]) -> str:
    """One line per case: the recorded outcome, each seed's verdict and n, the agreement."""
    width = max([len(r["case_id"]) for r in rows] + [4])
    head = f"{'case':<{width}} {'recorded':>8} " + " ".join(f"{'seed ' + str(s):>10}" for s in seeds)
    lines = [head + f" {'agree':>6} {'= record':>8}"]
    for row in rows:
        cells = []
        for seed in seeds:
            run = row["seeds"][str(seed)]
            cells.append(f"{'-':>10}" if run is None else f"{run['n']:>4} {'holds' if run['holds'] else 'FAILS':>5}")
        lines.append(f"{row['case_id']:<{width}} {row['recorded']:>8} " + " ".join(cells)
                     + f" {row['agreement']:>3}/{row['ran_on']:<2} {row['matches_record']:>5}/{row['ran_on']:<2}")
    unanimous = sum(r["agreement"] == r["ran_on"] for r in rows)
    lines.append(f"{unanimous} of {len(rows)} cases give the same verdict on all {len(seeds)} seeds")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="latentflow bench seeds", description=__doc__.split("\n\n")[0])
    parser.add_argument("paths", nargs="*", default=["specs"], help="spec files or folders (default: specs)")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4], help="data seeds (default: 0-4)")
    parser.add_argument("--workers", type=int, default=2, help="pytest-xdist workers (0: serial)")
    parser.add_argument("--model", help=f"passed on as --latentflow-model: {MODEL_NAME_FORMS}")
    parser.add_argument("--json", dest="json_out", help="write the table's data here")
    parser.add_argument("--keep", help="folder to keep each seed's results file in (default: a temporary one)")
    parser.add_argument("--reuse", action="store_true",
                        help="read a seed's results file already in --keep instead of running it again")
    args = parser.parse_args(argv)
    if len(set(args.seeds)) != len(args.seeds) or any(s < 0 for s in args.seeds):
        parser.error(f"--seeds must be distinct non-negative integers; got {args.seeds}")
    if args.reuse and not args.keep:
        parser.error("--reuse needs --keep DIR (the folder holding results-seed<S>.json)")
    keep = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="latentflow-seeds-"))
    keep.mkdir(parents=True, exist_ok=True)
    results: dict[int, Any] = {}
    timings: dict[int, dict[str, Any]] = {}
    for seed in args.seeds:
        out = keep / f"results-seed{seed}.json"
        if args.reuse and out.is_file():
            results[seed] = json.loads(out.read_text())
            timings[seed] = {"seconds": None, "summary": f"read from {out}"}
            continue
        extra = [f"--latentflow-seed={seed}", f"--latentflow-results={out}"]
        extra += [f"--latentflow-model={args.model}"] if args.model else []
        print(f"seed {seed}: pytest {' '.join(args.paths)}", file=sys.stderr, flush=True)
        cpu_before = cpu_seconds_of_children()
        seconds, summary, code = time_pytest(args.paths, args.workers, extra)
        cpu = cpu_seconds_of_children() - cpu_before
        if code not in (0, 1) or not out.is_file():  # 1: some verdict differs from its spec
            print(f"seed {seed}: pytest exited {code} ({summary}); no results to compare", file=sys.stderr)
            return code or 2
        results[seed] = json.loads(out.read_text())
        timings[seed] = {"seconds": round(seconds, 1), "cpu_seconds": round(cpu, 1), "summary": summary}
    rows = seed_outcomes(results)
    print(format_table(rows, args.seeds))
    if args.json_out:
        payload = {
            "benchmark": "seeds",
            "machine": {"platform": platform.platform(), "cpus": __import__("os").cpu_count()},
            "paths": args.paths, "seeds": args.seeds, "workers": args.workers, "model": args.model,
            "runs": {str(s): timings[s] for s in args.seeds},
            "unanimous": sum(r["agreement"] == r["ran_on"] for r in rows), "cases": rows,
        }
        Path(args.json_out).write_text(json.dumps(payload, indent=2) + "\n")
        print(f"wrote {args.json_out}")
    return 0
