"""The spec schema lists allowed values itself (it stays free of torch and numpy); each list
must equal the one the code that runs the spec accepts, or a spec would validate and then fail."""

from __future__ import annotations

from latentflow.audio import bench
from latentflow.model import sampler
from latentflow.pipeline import PROMPT_KINDS
from latentflow.spec import schema as s
from latentflow.stats.corrections import CORRECTIONS
from latentflow.stats.sequential import SEQUENTIAL_METHODS
from latentflow.stats.sequential_corrections import SEQUENTIAL_CORRECTIONS
from latentflow.stats.evaluate import TESTS  # the module: latentflow.stats.evaluate is also a function


def test_the_schema_allows_exactly_what_runs():
    assert set(s.TIERS) == set(bench.TIERS)
    assert set(s.SPLITS) == set(bench.SPLITS)
    assert set(s.SPAN_SELECTIONS) == set(bench.SPAN_SELECTIONS)
    assert set(s.PROMPT_KINDS) == set(PROMPT_KINDS)
    assert set(s.SAMPLER_METHODS) == set(sampler.METHODS)
    assert set(s.TESTS) == set(TESTS)
    # "none": no family correction; e_bh: sequential families only
    assert set(s.CORRECTIONS) == {*CORRECTIONS, *SEQUENTIAL_CORRECTIONS, "none"}
    assert set(s.SEQUENTIAL_METHODS) == set(SEQUENTIAL_METHODS)
