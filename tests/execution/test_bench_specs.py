"""``latentflow bench specs`` shows pytest's progress while it runs and still reports its summary."""

from __future__ import annotations

import io
import json

from latentflow.execution.benchmark import main, time_pytest


def _suite(tmp_path):
    (tmp_path / "test_three.py").write_text(
        "import pytest\n\n@pytest.mark.parametrize('i', range(3))\ndef test_ok(i):\n    assert i < 3\n"
    )
    return str(tmp_path)


def test_time_pytest_passes_the_progress_through(tmp_path):
    echo = io.BytesIO()
    seconds, summary, status = time_pytest([_suite(tmp_path)], 0, ["-p", "no:latentflow"], echo)
    shown = echo.getvalue().decode()
    assert "..." in shown and "[100%]" in shown  # pytest -q's dots and percentage, as they came
    assert summary.startswith("3 passed") and status == 0 and seconds > 0
    assert summary in shown


def test_bench_specs_prints_each_repeat_and_writes_json(tmp_path, capfd):
    out = tmp_path / "bench.json"
    assert main([_suite(tmp_path), "--workers", "0", "--repeats", "2", "--json", str(out)]) == 0
    captured = capfd.readouterr()
    assert "repeat 1/2" in captured.err and "repeat 2/2" in captured.err and captured.err.count("[100%]") == 2
    assert "3 passed" in captured.out
    written = json.loads(out.read_text())
    assert written["summary"].startswith("3 passed")
    # the CPU time of each run (pytest is a child process: its own and its workers' seconds)
    assert len(written["cpu_seconds"]) == 2 and all(c > 0 for c in written["cpu_seconds"])
    assert written["load_average_1min"] >= 0 and written["target_seconds"] == 60.0
    assert written["controls"] == "on"  # passed on as --latentflow-controls
