"""``latentflow bench specs``: wall-clock time of verifying the claims (``pytest specs/ -n 2``).

Target: at most 60 s on a 2-core CPU machine with the bundled model (issue 13, with the
sequential specs; issue 5's was 120 s). The table and JSON also give the CPU seconds pytest and
its workers used and the load average, since the wall clock of a shared machine measures the
other jobs as well. Runs pytest in a
subprocess (as a user would), repeats it, and reports the median with the verdict counts. While
it runs, pytest's own progress output (``-q``: a dot per case and the percentage) is passed
through to stderr as it arrives, under a ``repeat i/N`` line (``--no-progress`` hides it).
"""

from __future__ import annotations

import argparse
import io
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import BinaryIO

from latentflow.model_names import MODEL_NAME_FORMS

TARGET_SECONDS = 60.0


def cpu_seconds_of_children() -> float:
    """User + system CPU seconds of every finished child process (and theirs) so far. On a
    machine shared with other jobs the wall clock measures the load as much as the run; the
    CPU time the run itself used does not depend on it."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def time_pytest(
    paths: list[str], workers: int, extra: list[str], echo: BinaryIO | None = None
) -> tuple[float, str, int]:
    """Run pytest once: (seconds, its summary line, exit status). ``echo`` receives pytest's
    stdout as it is written (bytes as they arrive, so the progress dots show one by one)."""
    command = [sys.executable, "-m", "pytest", *paths, "-q", "-p", "no:cacheprovider", *extra]
    if workers > 0:
        command += ["-n", str(workers)]  # the default --dist load: what a user types
    output = bytearray()
    start = time.perf_counter()
    with subprocess.Popen(command, stdout=subprocess.PIPE) as process:
        assert isinstance(process.stdout, io.BufferedReader)  # stdout=PIPE, buffered: read1 returns what is there
        while chunk := process.stdout.read1(4096):
            output += chunk
            if echo is not None:
                echo.write(chunk)
                echo.flush()
        returncode = process.wait()
    elapsed = time.perf_counter() - start
    lines = [line for line in output.decode(errors="replace").strip().splitlines() if line.strip()]
    return elapsed, lines[-1] if lines else "", returncode


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="latentflow bench specs", description=__doc__.split("\n\n")[0])
    parser.add_argument("paths", nargs="*", default=["specs"], help="spec files or folders (default: specs)")
    parser.add_argument("--workers", type=int, default=2, help="pytest-xdist workers (0: serial)")
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--model", help=f"passed on as --latentflow-model: {MODEL_NAME_FORMS}")
    parser.add_argument("--controls", choices=("on", "off"), default="on",
                        help="passed on as --latentflow-controls: run the cases' declared controls (default on)")
    parser.add_argument("--json", dest="json_out", help="write the results here")
    parser.add_argument("--no-progress", action="store_true", help="do not pass pytest's progress output through")
    args = parser.parse_args(argv)
    extra = ([f"--latentflow-model={args.model}"] if args.model else []) + [f"--latentflow-controls={args.controls}"]
    runs, cpu = [], []
    for repeat in range(args.repeats):
        echo = None
        if not args.no_progress:
            print(f"repeat {repeat + 1}/{args.repeats}: pytest {' '.join(args.paths)}", file=sys.stderr, flush=True)
            echo = sys.stderr.buffer
        before = cpu_seconds_of_children()
        runs.append(time_pytest(args.paths, args.workers, extra, echo))
        cpu.append(cpu_seconds_of_children() - before)
    median = statistics.median(r[0] for r in runs)
    load = os.getloadavg()[0]
    print(f"{'paths':<24} {'workers':>7} {'runs':>4} {'median s':>9} {'cpu s':>7} {'load':>5} {'target s':>8}  outcome")
    print(f"{' '.join(args.paths):<24} {args.workers:>7} {len(runs):>4} {median:>9.1f} {statistics.median(cpu):>7.1f} "
          f"{load:>5.1f} {TARGET_SECONDS:>8.0f}  {runs[-1][1]}")
    if args.json_out:
        payload = {
            "benchmark": "specs",
            "machine": {"platform": platform.platform(), "cpus": os.cpu_count()},
            "paths": args.paths, "workers": args.workers, "model": args.model, "controls": args.controls,
            "seconds": [round(r[0], 2) for r in runs], "median_seconds": round(median, 2),
            # CPU seconds of pytest and its workers, and the 1-minute load average at the end:
            # on a shared machine the wall clock depends on the other jobs, the CPU time does not
            "cpu_seconds": [round(c, 2) for c in cpu], "load_average_1min": round(load, 2),
            "target_seconds": TARGET_SECONDS, "summary": runs[-1][1], "returncode": runs[-1][2],
        }
        Path(args.json_out).write_text(json.dumps(payload, indent=2) + "\n")
        print(f"wrote {args.json_out}")
    # 1 (a verdict differs from its spec) still times the run; anything else is a broken run
    return next((r[2] for r in runs if r[2] not in (0, 1)), 0)
