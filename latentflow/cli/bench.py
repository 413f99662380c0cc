"""``latentflow bench NAME``: benchmarks print a table and can write JSON (``--json OUT``)."""

from __future__ import annotations

import argparse
import importlib

BENCHMARKS = {
    "forward": ("latentflow.model.benchmark:main", "one velocity evaluation: hook and pattern overheads"),
    "lsac": ("latentflow.acceleration.bench:main", "LSAC and its baselines: FLOPs, speed, quality"),
    "specs": ("latentflow.execution.benchmark:main", "wall-clock time of pytest specs/ -n 2"),
    "seeds": ("latentflow.execution.seed_agreement:main",
              "verdicts of pytest specs/ on several data seeds, and their agreement"),
    "load": ("latentflow.model.load_benchmark:main", "peak RSS while loading a random SAM Audio folder on CPU"),
    "bmld-spec": ("latentflow.execution.probe_benchmark:main",
                  "wall-clock and CPU time of pytest specs/bmld.yaml -n 2"),
}


def main(argv: list[str] | None = None) -> int:
    listing = "\n".join(f"  {name:<10}{help_}" for name, (_, help_) in BENCHMARKS.items())
    parser = argparse.ArgumentParser(
        prog="latentflow bench",
        usage="latentflow bench [-h] NAME [ARGS ...]",
        epilog=f"benchmarks:\n{listing}",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("name", metavar="NAME", choices=sorted(BENCHMARKS), help="one of: " + ", ".join(BENCHMARKS))
    argv = list(argv or [])
    args = parser.parse_args(argv[:1])
    module, _, function = BENCHMARKS[args.name][0].partition(":")
    return int(getattr(importlib.import_module(module), function)(argv[1:]) or 0)
