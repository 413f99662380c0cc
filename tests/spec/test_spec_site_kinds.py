"""Operations that act only on some sites, and step arguments, are checked at load time.

Before, these loaded and then failed deep inside sampling (a negative from_step, a pattern
operation on an activation site, two pattern operations on one site) or silently acted like
`set` (override_scalar on a tensor site). The allowed sites come from the operation's own
declaration (latentflow.interventions.sites), the same one the engine applies.
"""

from __future__ import annotations

import pytest

from latentflow.interventions import OPERATIONS
from latentflow.spec import SpecError, load_spec

I0 = "hypotheses[0].interventions[0]"
ONE_OP = "      - site: hook_text_proj\n        op: zero\n"


def _rejected(write, h, registries, interventions: str):
    text = h.edit(ONE_OP, interventions)
    path = write(text)
    with pytest.raises(SpecError) as info:
        load_spec(path, **registries)
    return text, path, info.value


@pytest.mark.parametrize("use_real_operations", [False, True])
def test_negative_from_step_is_refused_with_the_allowed_range(write, h, registries, use_real_operations):
    if use_real_operations:
        registries = {**registries, "operations": OPERATIONS}
    text, path, error = _rejected(write, h, registries,
        "      - site: blocks.*.attn.hook_pattern\n        op: freeze_pattern\n        args: {from_step: -1}\n")
    h.assert_reported(error, path, h.lineno(text, "from_step: -1"), f"{I0}.args.from_step", "-1",
                      ["wrong value for argument 'from_step' of operation 'freeze_pattern'", "integer >= 0"])


@pytest.mark.parametrize("use_real_operations", [False, True])
@pytest.mark.parametrize("op", ["uniform_attention", "freeze_pattern"])
def test_a_pattern_operation_on_an_activation_site_names_the_pattern_sites(write, h, registries, op,
                                                                           use_real_operations):
    if use_real_operations:
        registries = {**registries, "operations": OPERATIONS}
    args = "        args: {from_step: 2}\n" if op == "freeze_pattern" else ""
    text, path, error = _rejected(write, h, registries,
                                  f"      - site: blocks.0.hook_cross_out\n        op: {op}\n{args}")
    h.assert_reported(error, path, h.lineno(text, "blocks.0.hook_cross_out"), f"{I0}.site",
                      "'blocks.0.hook_cross_out'",
                      [f"operation {op!r} cannot act on this site",
                       "attention-pattern sites: blocks.<i>.attn.hook_pattern, blocks.<i>.cross_attn.hook_pattern"])


def test_a_wildcard_pattern_site_that_matches_activation_sites_is_refused(write, h, registries):
    text, _path, error = _rejected(write, h, registries,
                                  "      - site: blocks.*.hook_*\n        op: uniform_attention\n        layers: [2]\n")
    issue = h.find_issue(error, h.lineno(text, "blocks.*.hook_*"), f"{I0}.site")
    assert "blocks.2.hook_" in str(issue) and "attention-pattern sites" in str(issue)


def test_override_scalar_on_a_tensor_site_names_the_scalar_sites(write, h, registries):
    text, path, error = _rejected(write, h, registries,
        "      - site: blocks.0.hook_resid_pre\n        op: override_scalar\n        args: {value: 5.0}\n")
    h.assert_reported(error, path, h.lineno(text, "hook_resid_pre"), f"{I0}.site", "'blocks.0.hook_resid_pre'",
                      ["operation 'override_scalar' cannot act on this site",
                       "scalar sites: hook_anchor_gate, hook_video_gate"])


def test_two_pattern_operations_on_one_site_are_refused_naming_both(write, h, registries):
    text, path, error = _rejected(write, h, registries,
        "      - site: blocks.*.attn.hook_pattern\n        op: uniform_attention\n        layers: [0, 1]\n"
        "      - site: blocks.1.attn.hook_pattern\n        op: freeze_pattern\n        args: {from_step: 3}\n")
    first = h.lineno(text, "blocks.*.attn.hook_pattern")
    h.assert_reported(error, path, h.lineno(text, "blocks.1.attn.hook_pattern"),
                      "hypotheses[0].interventions[1].site", "'blocks.1.attn.hook_pattern'",
                      [f"two pattern operations on blocks.1.attn.hook_pattern ('uniform_attention' at line {first} "
                       "and 'freeze_pattern')", "one pattern operation per attention site"])


def test_pattern_operations_on_different_layers_and_scalar_overrides_still_load(write, h, registries):
    text = h.edit(ONE_OP,
        "      - site: blocks.*.attn.hook_pattern\n        op: uniform_attention\n        layers: [0, 1]\n"
        "      - site: blocks.2.attn.hook_pattern\n        op: freeze_pattern\n        args: {from_step: 0}\n"
        "      - site: blocks.3.cross_attn.hook_pattern\n        op: uniform_attention\n"
        "      - site: hook_anchor_gate\n        op: override_scalar\n        args: {value: 5.0}\n")
    spec = load_spec(write(text), **{**registries, "operations": OPERATIONS})
    assert [i.op for i in spec.hypotheses[0].interventions] == [
        "uniform_attention", "freeze_pattern", "uniform_attention", "override_scalar"]


def test_layers_on_a_site_without_its_blocks_prefix_suggests_the_prefix(write, h, registries):
    text, path, error = _rejected(write, h, registries,
                                  "      - site: hook_cross_out\n        op: zero\n        layers: [1]\n")
    h.assert_reported(error, path, h.lineno(text, "layers: [1]"), f"{I0}.layers", "'hook_cross_out'",
                      ["layers selects the blocks of a blocks.* site", "did you mean 'blocks.*.hook_cross_out'?"])
