"""The ``--latentflow-results`` file: its format version, and writing it.

One home for the format, so that the pytest plugin and `SpecSession.write_results` write the
same file that `latentflow gate` (gate.py) and the report read. Pure Python (json): the gate
imports it without torch.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Iterable, Mapping, Optional, Union

RESULTS_FORMAT = 1


def results_payload(verdicts: Iterable[Mapping[str, Any]], *, model: Optional[str] = None,
                    seed: Optional[int] = None, max_n: Optional[int] = None) -> dict:
    """The results object: verdict dicts (``Verdict.to_dict()``) sorted by case_id.

    ``max_n``: a smoke run's limit on examples per case (``--latentflow-n``), recorded so that
    nobody mistakes its verdicts for the claims'.
    """
    ordered = sorted((dict(v) for v in verdicts), key=lambda v: v["case_id"])
    return {"latentflow_results": RESULTS_FORMAT, "model": model, "seed": seed,
            "smoke_run": None if max_n is None else {"max_examples_per_case": max_n}, "verdicts": ordered}


def write_results(path: Union[str, Path], verdicts: Iterable[Mapping[str, Any]], *, model: Optional[str] = None,
                  seed: Optional[int] = None, max_n: Optional[int] = None) -> Path:
    """Write a results file (creating its folder); returns the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = results_payload(verdicts, model=model, seed=seed, max_n=max_n)
    path.write_text(json.dumps(payload, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return path
