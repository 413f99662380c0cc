"""Hook points: documented names exist, fire once per forward, never leak, never touch weights."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import pytest
import torch

from latentflow.model import build_model, preset, sample

README = Path(__file__).resolve().parents[2] / "README.md"

PER_BLOCK = [
    "hook_resid_pre", "hook_mods", "hook_attn_out", "hook_resid_mid", "hook_cross_out",
    "hook_resid_cross", "hook_mlp_out", "hook_resid_post",
] + [f"{kind}.hook_{s}" for kind in ("attn", "cross_attn") for s in ("in", "q", "k", "v", "pattern", "z")]
WRAPPER = [
    "hook_text_proj", "hook_time_mem", "hook_memory", "hook_context", "hook_video_gate", "hook_video_add",
    "hook_anchor_gate", "hook_anchor_add", "hook_dit_in", "hook_embed", "hook_final", "hook_velocity",
]


def expected_names(n_layers):
    return set(WRAPPER) | {f"blocks.{i}.{s}" for i in range(n_layers) for s in PER_BLOCK}


def test_every_hook_name_exists_and_nothing_else(tiny_model):
    assert set(tiny_model.hook_dict) == expected_names(tiny_model.cfg.n_layers)


def test_readme_documents_exactly_the_hook_names():
    text = README.read_text()
    section = text.split("## Hook points", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("| `")]
    documented = {re.match(r"\| `([^`]+)`", row).group(1) for row in rows}
    documented = {d.replace("blocks.{i}.", "") for d in documented}
    assert documented == set(WRAPPER) | set(PER_BLOCK)


def test_every_hook_fires_exactly_once_per_forward(tiny_model, tiny_inputs):
    x_t, cond = tiny_inputs
    calls = Counter()

    def count(tensor, hook):
        calls[hook.name] += 1

    for needs_pattern in (False, True):
        calls.clear()
        hooks = [(n, count) for n in tiny_model.hook_dict if needs_pattern or not n.endswith("hook_pattern")]
        with torch.no_grad():
            tiny_model.run_with_hooks(x_t, 0.2, cond, fwd_hooks=hooks)
        assert set(calls) == {n for n, _ in hooks}
        assert set(calls.values()) == {1}


def test_a_hook_that_raises_leaves_no_hook_behind(tiny_model, tiny_inputs):
    x_t, cond = tiny_inputs

    def boom(tensor, hook):
        raise RuntimeError("intervention failed")

    with pytest.raises(RuntimeError, match="intervention failed"):
        tiny_model.run_with_hooks(x_t, 0.2, cond, fwd_hooks=[("blocks.1.attn.hook_pattern", boom)])
    assert all(not hp.fwd_hooks and not hp._forward_hooks for hp in tiny_model.hook_dict.values())
    def override(compute, call):
        raise RuntimeError("override failed")

    with (
        pytest.raises(RuntimeError, match="override failed"),
        tiny_model.blocks[0].attention.overriding_pattern(override),
    ):
        tiny_model(x_t, 0.2, cond)
    assert all(a.pattern_override is None for a in tiny_model.attention_modules("self"))


def test_weights_bitwise_unchanged_after_hooked_runs(tiny_model, tiny_inputs):
    x_t, cond = tiny_inputs
    before = {k: v.clone() for k, v in tiny_model.state_dict().items()}
    hooks = [
        ("hook_anchor_gate", lambda t, hook: torch.full_like(t, 5.0)),
        ("hook_text_proj", lambda t, hook: torch.zeros_like(t)),
        (lambda n: n.endswith("hook_cross_out"), lambda t, hook: t * 0),
        (lambda n: n.endswith("attn.hook_pattern"), lambda t, hook: t.flip(-1)),
    ]
    with torch.no_grad():
        out = tiny_model.run_with_hooks(x_t, 0.2, cond, fwd_hooks=hooks)
        tiny_model.run_with_cache(x_t, 0.2, cond)
    assert torch.isfinite(out).all()
    after = tiny_model.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)


def test_gate_override_through_a_hook_changes_the_output(tiny_model, tiny_inputs):
    x_t, cond = tiny_inputs
    with torch.no_grad():
        base = tiny_model(x_t, 0.2, cond)
        hijacked = tiny_model.run_with_hooks(
            x_t, 0.2, cond, fwd_hooks=[("hook_anchor_gate", lambda t, hook: torch.full_like(t, 5.0))]
        )
    assert (hijacked - base).abs().max() > 1e-3
    assert float(tiny_model.embed_anchors.gate.detach()) == pytest.approx(-0.14)


def test_two_runs_with_one_seed_are_bitwise_identical(tiny_inputs):
    _, cond = tiny_inputs
    a = sample(build_model(preset("parity"), seed=7), cond, steps=3, seeds=[11, 12]).final
    b = sample(build_model(preset("parity"), seed=7), cond, steps=3, seeds=[11, 12]).final
    c = sample(build_model(preset("parity"), seed=7), cond, steps=3, seeds=[11, 13]).final
    assert torch.equal(a, b)
    assert not torch.equal(a[1], c[1]) and torch.equal(a[0], c[0])
