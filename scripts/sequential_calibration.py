"""Print the sequential calibration table and write it to docs/benchmarks/sequential-calibration.json.

Runs every scenario of latentflow.stats.sequential_simulation.SCENARIOS with the draws and
seeds the tests use (tests/stats/test_sequential_calibration.py), so the table in
docs/sequential.md is exactly what the tests assert on. Usage (about a minute on 2 cores):

    python scripts/sequential_calibration.py [--out docs/benchmarks/sequential-calibration.json]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from latentflow.stats.sequential_simulation import SCENARIOS, run_scenario


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path,
                        default=Path("docs/benchmarks/sequential-calibration.json"))
    args = parser.parse_args()
    rows = []
    print(f"{'scenario':80s} {'max_n':>5s} {'held':>10s} {'99% CI':>15s} {'mean n':>6s} "
          f"{'futile':>6s} {'repeated t':>10s}")
    for index, scenario in enumerate(SCENARIOS):
        summary = run_scenario(index)
        row = {"scenario": scenario.name, "kind": scenario.kind,
               "method": scenario.design.method, "alternative": scenario.design.alternative,
               "alpha": scenario.design.alpha, "max_n": scenario.design.max_n,
               "chunk": scenario.design.chunk, "draws": summary.draws, "held": summary.holds,
               "rate": summary.rate, "rate_ci99": list(summary.rate_interval),
               "mean_n": summary.mean_n, "futility": summary.futility,
               "repeated_t_rate": summary.trap_rate,
               "repeated_t_ci99": None if summary.trap_interval is None
               else list(summary.trap_interval)}
        rows.append(row)
        trap = "-" if summary.trap_rate is None else f"{summary.trap_rate:.3f}"
        print(f"{scenario.name:80s} {scenario.design.max_n:5d} "
              f"{summary.holds:4d}/{summary.draws:<5d} "
              f"[{summary.rate_interval[0]:.3f}, {summary.rate_interval[1]:.3f}] "
              f"{summary.mean_n:6.1f} {summary.futility:6d} {trap:>10s}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"benchmark": "sequential-calibration", "results": rows},
                                   indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
