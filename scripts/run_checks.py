"""The README's two jobs, run with the interpreter of the project venv.

    python scripts/run_checks.py verify [PYTEST ARGS...]   # the claims (main job)
    python scripts/run_checks.py test [PYTEST ARGS...]     # the whole test suite

``verify`` checks the official parity vectors (DiT and DAC-VAE codec) with ``latentflow check-parity`` (once that
subcommand exists) and then runs ``pytest specs/``; ``test`` runs ``pytest tests/ specs/``.
Both use LATENTFLOW_TEST_WORKERS pytest-xdist workers (default 2; 0 runs serially). A fixed
worker count keeps runs comparable between machines; ``--dist loadfile`` keeps each file's
tests in one worker (pytest 9.2 with xdist 3.8 silently ignores ``loadgroup``).

For ``test``, pytest's exit status 5 ("no tests collected") only means that no spec or test
exists yet; it is reported and treated as success. For ``verify`` it is a failure: the job's
purpose is to check the claims, and a specs/ folder that yields none (a missing or misspelled
``latentflow: 1`` marker skips a file, with a warning) checked nothing. Every other status
passes through unchanged.
"""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PARITY_VECTORS = (
    "fixtures/parity/samaudio_dit_parity.safetensors",
    "fixtures/parity/dacvae_parity.safetensors",
)
NO_TESTS_COLLECTED = 5  # pytest.ExitCode.NO_TESTS_COLLECTED
DEFAULT_WORKERS = 2


def _run(command: list[str]) -> int:
    print("+ " + shlex.join(command), flush=True)
    return subprocess.call(command, cwd=ROOT)


def run_pytest(folders: list[str], options: list[str], *, nothing_is_failure: bool = False) -> int:
    """pytest on ``folders``; ``nothing_is_failure``: no folder or no collected test fails."""
    present = [folder for folder in folders if (ROOT / folder).is_dir()]
    if not present:
        if nothing_is_failure:
            print(f"FAILED: no {' or '.join(f + '/' for f in folders)} folder: no claim was checked")
            return NO_TESTS_COLLECTED
        print(f"no {' or '.join(f + '/' for f in folders)} folder yet: nothing to run")
        return 0
    status = _run([sys.executable, "-m", "pytest", *present, *options])
    if status == NO_TESTS_COLLECTED:
        if nothing_is_failure:
            print(f"FAILED: pytest collected no claims from {', '.join(f + '/' for f in present)}: nothing was "
                  "checked. A spec file needs `latentflow: 1` as its first line (see the warnings above for "
                  "files that look like specs without it)")
            return NO_TESTS_COLLECTED
        print(f"pytest found no tests in {', '.join(present)}: none exist yet, nothing failed")
        return 0
    return status


def worker_count(environ: dict[str, str]) -> int:
    text = environ.get("LATENTFLOW_TEST_WORKERS", str(DEFAULT_WORKERS))
    if not text.isdigit():
        raise SystemExit(f"LATENTFLOW_TEST_WORKERS={text!r} is not allowed; use 0 (serial) or a positive integer")
    return int(text)


def verify(pytest_options: list[str]) -> int:
    from latentflow.cli import available_subcommands

    if "check-parity" in available_subcommands():
        latentflow = str(Path(sys.executable).parent / "latentflow")
        parity_status = 0
        for vector in PARITY_VECTORS:
            parity_status = _run([latentflow, "check-parity", vector]) or parity_status
    else:
        print("latentflow check-parity does not exist yet: parity check skipped")
        parity_status = 0
    workers = worker_count(dict(os.environ))
    # xdist's default --dist load: latentflow's plugin keeps each spec file on one worker
    parallel = ["-n", str(workers)] if workers else []
    specs_status = run_pytest(["specs"], parallel + pytest_options, nothing_is_failure=True)
    return parity_status or specs_status


def test(pytest_options: list[str]) -> int:
    workers = worker_count(dict(os.environ))
    parallel = ["-n", str(workers), "--dist", "loadfile"] if workers else []
    return run_pytest(["tests", "specs"], parallel + pytest_options)


def main(argv: list[str]) -> int:
    jobs = {"verify": verify, "test": test}
    if not argv or argv[0] not in jobs:
        print(f"usage: {Path(__file__).name} {{verify,test}} [PYTEST ARGS...]", file=sys.stderr)
        return 2
    return jobs[argv[0]](argv[1:])


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
