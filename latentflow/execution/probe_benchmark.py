"""``latentflow bench bmld-spec``: wall-clock and CPU time of ``pytest specs/bmld.yaml -n 2``.

Issue 14's target: at most 60 s on this 2-core machine. The run is timed twice in a fresh
feature cache (a temporary ``LATENTFLOW_CACHE_DIR``): *cold* (every stimulus set built and
every reference model's features computed) and *warm* (features read from the disk cache; the
detectors, psychometric fits and bootstraps still run). Besides the wall clock it records the
CPU seconds the pytest processes used (``resource.getrusage(RUSAGE_CHILDREN)``) and the load
average before and after, because on a shared machine the wall clock mostly measures the other
users: CPU seconds / 2 is what the run would take on the two cores alone.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import sys
import tempfile
from pathlib import Path

from latentflow.execution.benchmark import time_pytest

TARGET_SECONDS = 60.0
SPEC = "specs/bmld.yaml"


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def timed_run(workers: int) -> dict:
    load_before = os.getloadavg()[0]
    cpu_before = _cpu_seconds()
    seconds, summary, returncode = time_pytest([SPEC], workers, [])
    cpu = _cpu_seconds() - cpu_before
    return {"wall_seconds": round(seconds, 1), "cpu_seconds": round(cpu, 1),
            "cpu_seconds_per_core": round(cpu / max(workers, 1), 1), "load_average_before": round(load_before, 2),
            "load_average_after": round(os.getloadavg()[0], 2), "summary": summary, "returncode": returncode}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="latentflow bench bmld-spec", description=__doc__.split("\n\n")[0])
    parser.add_argument("--workers", type=int, default=2, help="pytest-xdist workers (default 2)")
    parser.add_argument("--json", dest="json_out", help="write the results here")
    args = parser.parse_args(argv)
    runs = {}
    with tempfile.TemporaryDirectory(prefix="latentflow-bmld-cache-") as cache:
        previous = os.environ.get("LATENTFLOW_CACHE_DIR")
        os.environ["LATENTFLOW_CACHE_DIR"] = cache  # the pytest subprocesses inherit it
        try:
            for name in ("cold", "warm"):
                print(f"{name}: pytest {SPEC} -n {args.workers}", file=sys.stderr, flush=True)
                runs[name] = timed_run(args.workers)
        finally:
            if previous is None:
                os.environ.pop("LATENTFLOW_CACHE_DIR", None)
            else:
                os.environ["LATENTFLOW_CACHE_DIR"] = previous
    print(f"{'run':<6} {'wall s':>7} {'CPU s':>7} {'CPU s/core':>10} {'load before/after':>18} {'target s':>8}  "
          "outcome")
    for name, run in runs.items():
        load = f"{run['load_average_before']:.1f} / {run['load_average_after']:.1f}"
        print(f"{name:<6} {run['wall_seconds']:>7.1f} {run['cpu_seconds']:>7.1f} {run['cpu_seconds_per_core']:>10.1f} "
              f"{load:>18} {TARGET_SECONDS:>8.0f}  {run['summary']}")
    if args.json_out:
        payload = {"benchmark": "bmld-spec", "spec": SPEC, "workers": args.workers,
                   "machine": {"platform": platform.platform(), "cpus": os.cpu_count()},
                   "target_seconds": TARGET_SECONDS, "runs": runs}
        Path(args.json_out).write_text(json.dumps(payload, indent=2) + "\n")
        print(f"wrote {args.json_out}")
    return next((run["returncode"] for run in runs.values() if run["returncode"] != 0), 0)


if __name__ == "__main__":
    raise SystemExit(main())
