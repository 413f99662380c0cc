"""``latentflow bench specs``: wall-clock time of verifying the claims (``pytest specs/ -n 2``).

Issue 5's target: at most 120 s on a 2-core CPU machine with the bundled model. Runs pytest in a
subprocess (as a user would), repeats it, and reports the median with the verdict counts.
"""

from __future__ import annotations

import argparse
import json
import platform
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path

from latentflow.model_names import MODEL_NAME_FORMS

TARGET_SECONDS = 120.0


def time_pytest(paths: list[str], workers: int, extra: list[str]) -> tuple[float, str, int]:
    command = [sys.executable, "-m", "pytest", *paths, "-q", "-p", "no:cacheprovider", *extra]
    if workers > 0:
        command += ["-n", str(workers)]  # the default --dist load: what a user types
    start = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    lines = [line for line in done.stdout.strip().splitlines() if line.strip()]
    return elapsed, lines[-1] if lines else "", done.returncode


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="latentflow bench specs", description=__doc__.split("\n\n")[0])
    parser.add_argument("paths", nargs="*", default=["specs"], help="spec files or folders (default: specs)")
    parser.add_argument("--workers", type=int, default=2, help="pytest-xdist workers (0: serial)")
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--model", help=f"passed on as --latentflow-model: {MODEL_NAME_FORMS}")
    parser.add_argument("--json", dest="json_out", help="write the results here")
    args = parser.parse_args(argv)
    extra = [f"--latentflow-model={args.model}"] if args.model else []
    runs = [time_pytest(args.paths, args.workers, extra) for _ in range(args.repeats)]
    median = statistics.median(r[0] for r in runs)
    print(f"{'paths':<24} {'workers':>7} {'runs':>4} {'median s':>9} {'target s':>8}  outcome")
    print(f"{' '.join(args.paths):<24} {args.workers:>7} {len(runs):>4} {median:>9.1f} {TARGET_SECONDS:>8.0f}  {runs[-1][1]}")
    if args.json_out:
        payload = {
            "benchmark": "specs",
            "machine": {"platform": platform.platform(), "cpus": __import__("os").cpu_count()},
            "paths": args.paths, "workers": args.workers, "model": args.model,
            "seconds": [round(r[0], 2) for r in runs], "median_seconds": round(median, 2),
            "target_seconds": TARGET_SECONDS, "summary": runs[-1][1], "returncode": runs[-1][2],
        }
        Path(args.json_out).write_text(json.dumps(payload, indent=2) + "\n")
        print(f"wrote {args.json_out}")
    # 1 (a verdict differs from its spec) still times the run; anything else is a broken run
    return next((r[2] for r in runs if r[2] not in (0, 1)), 0)
