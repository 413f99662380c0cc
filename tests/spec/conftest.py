"""Registries and hook names shaped like the real ones, for validating specs in tests.

The intervention, metric and fuzz engines register their entries elsewhere; the spec
package only needs each entry's declared ``params`` and flags, so these tests declare the
documented operation, metric and invariant names with the argument schemas of
docs/spec-language.md.
"""

from __future__ import annotations

import types
from pathlib import Path

import pytest

from latentflow.interventions.sites import PATTERN_SITES, SCALAR_SITES
from latentflow.registry import REQUIRED, Param, Registry
from latentflow.spec import SpecError, load_spec

N_LAYERS = 8  # as deep as the bundled fixture model
BLOCK_SITES = (
    "hook_resid_pre",
    "hook_mods",
    "attn.hook_q",
    "attn.hook_k",
    "attn.hook_v",
    "attn.hook_pattern",
    "attn.hook_z",
    "hook_attn_out",
    "cross_attn.hook_q",
    "cross_attn.hook_k",
    "cross_attn.hook_v",
    "cross_attn.hook_pattern",
    "cross_attn.hook_z",
    "hook_cross_out",
    "hook_resid_mid",
    "hook_mlp_out",
    "hook_resid_post",
)
WRAPPER_SITES = (
    "hook_text_proj",
    "hook_time_mem",
    "hook_memory",
    "hook_context",
    "hook_video_gate",
    "hook_video_add",
    "hook_anchor_gate",
    "hook_anchor_add",
    "hook_dit_in",
    "hook_velocity",
)
SITE_NAMES = (
    tuple(f"blocks.{i}.{name}" for i in range(N_LAYERS) for name in BLOCK_SITES) + WRAPPER_SITES
)


class Entry:
    """A registry entry as the spec validator sees it: declared params and flags only."""

    def __init__(self, params=None, **flags):
        self.params = params or {}
        for key, value in flags.items():
            setattr(self, key, value)


def make_operations() -> Registry:
    ops = Registry("operation")
    ops.register("zero", Entry())
    ops.register(
        "mean_ablate", Entry({"over": Param(str, "examples", "average over", ("examples", "time"))})
    )
    ops.register("scale", Entry({"factor": Param(float, REQUIRED, "multiplier")}))
    ops.register("set", Entry({"value": Param(float, REQUIRED)}))
    ops.register("patch", Entry(requires_source=True))
    pattern = {"kind": "pattern", "acts_on": PATTERN_SITES}
    ops.register("uniform_attention", Entry(**pattern))
    ops.register(
        "freeze_pattern",
        Entry({"from_step": Param(int, REQUIRED, "first frozen step", low=0)}, **pattern),
    )
    ops.register(
        "override_scalar", Entry({"value": Param(float, REQUIRED)}, kind="scalar", acts_on=SCALAR_SITES)
    )
    subspace = {"subspace": Param(str, "temporal_mean", choices=("temporal_mean",))}
    ops.register("keep_subspace", Entry(subspace))
    ops.register("remove_subspace", Entry(subspace))
    ops.register("add_noise", Entry({"std": Param(float, REQUIRED), "seed": Param(int, 0)}))
    return ops


def make_metrics() -> Registry:
    metrics = Registry("metric")
    for name in ("si_snr", "si_snr_improvement", "sar", "stoi", "pesq", "block_ratio", "block_ratio_db"):
        metrics.register(name, Entry(compare=("target", "baseline")))
    metrics.register(
        "attention_entropy",
        Entry({"reduce": Param(str, "mean", choices=("mean", "none"))}, compare=("internal",)),
    )
    metrics.register(
        "entropy_rate", Entry({"threshold": Param(float, None)}, compare=("internal",))
    )
    return metrics


def make_invariants() -> Registry:
    invariants = Registry("invariant")
    invariants.register("identity_at_scale_1", Entry())
    invariants.register("freeze_past_last_step_is_baseline", Entry())
    invariants.register("removal_restores_baseline", Entry())
    invariants.register(
        "monotone_in_scale",
        Entry({"over": Param(str, REQUIRED, "the given name that scales")}, requires_measure=True),
    )
    return invariants


@pytest.fixture
def registries() -> dict:
    return {
        "sites": SITE_NAMES,
        "operations": make_operations(),
        "metrics": make_metrics(),
        "invariants": make_invariants(),
    }


@pytest.fixture
def write(tmp_path: Path):
    """Write spec text to a file and return its path."""

    def _write(text: str, name: str = "claim.yaml") -> Path:
        path = tmp_path / name
        path.write_text(text, encoding="utf-8")
        return path

    return _write


# -- spec text builders and assertions ------------------------------------------------------

BASE = """\
latentflow: 1
claim:
  id: demo
  title: Demo claim
  source: docs
data:
  tier: clean
  n: 8
hypotheses:
  - id: h
    title: Zeroing the text projection lowers STOI
    interventions:
      - site: hook_text_proj
        op: zero
    measure:
      metric: stoi
    expect:
      direction: decrease
"""


def edit(old: str, new: str, text: str = BASE) -> str:
    """``text`` with the single occurrence of ``old`` replaced (fails loudly if ambiguous)."""
    assert text.count(old) == 1, f"{old!r} occurs {text.count(old)} times"
    return text.replace(old, new)


def lineno(text: str, needle: str) -> int:
    """1-based line of the first line containing ``needle``."""
    for number, line in enumerate(text.splitlines(), start=1):
        if needle in line:
            return number
    raise AssertionError(f"{needle!r} not in text")


def find_issue(error, line: int, field: str):
    matches = [i for i in error.issues if i.line == line and i.field == field]
    assert matches, f"no issue at line {line} for {field}; got:\n{error}"
    return matches[0]


def assert_reported(error, path, line: int, field: str, value: str | None, allowed: list[str]):
    """One issue names file:line, the field, the bad value and what is allowed, in that text."""
    issue = find_issue(error, line, field)
    text = str(issue)
    assert text.startswith(f"{path}:{line}: {field}: "), text
    if value is not None:
        assert f"got {value}" in text, text
    for fragment in allowed:
        assert fragment in text, f"{fragment!r} missing from: {text}"
    assert text in str(error), "the error message lists every issue"
    return issue


@pytest.fixture
def h():
    """The builders and assertions above, for test modules (conftest is not importable)."""
    return types.SimpleNamespace(
        BASE=BASE, edit=edit, lineno=lineno, find_issue=find_issue, assert_reported=assert_reported
    )


@pytest.fixture
def reject(write):
    """Apply (old, new) edits to a spec text, load it, and assert how the error is reported."""

    def _reject(base, edits, needle, field, value, allowed, **registries):
        text = base
        for old, new in edits:
            text = edit(old, new, text)
        path = write(text)
        with pytest.raises(SpecError) as info:
            load_spec(path, **registries)
        return assert_reported(info.value, path, lineno(text, needle), field, value, allowed)

    return _reject
