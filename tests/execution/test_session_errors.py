"""A spec run through SpecSession (the pytest plugin's path) reports every problem of the file at
once, its hook sites checked against the spec's model even when other fields are broken."""

from __future__ import annotations

import pytest

from latentflow.execution import SpecSession
from latentflow.spec import SpecError

BROKEN = """\
latentflow: 1
claim: {id: demo, title: Demo, source: tests}
model: "random:fixture"
data: {tier: clean, n: 2}
hypotheses:
  - id: h
    title: t
    interventions:
      - {site: hook_text_prj, op: zeroo}
    measure: {metric: stoii}
    expect: {direction: decrease, alpha: 0.9}
  - id: h2
    title: t
    interventions:
      - {site: hook_cross_out, op: zero, layers: [1, 2]}
    measure: {metric: stoi}
    expect: {direction: decrease}
"""


def test_an_out_of_range_alpha_hides_no_unknown_site_op_or_metric(tmp_path):
    path = tmp_path / "broken.yaml"
    path.write_text(BROKEN)
    with pytest.raises(SpecError) as info:
        SpecSession().plan(path)
    found = {(i.line, i.field, i.message) for i in info.value.issues}
    assert found == {
        (9, "hypotheses[0].interventions[0].site", "unknown hook site"),
        (9, "hypotheses[0].interventions[0].op", "unknown operation"),
        (10, "hypotheses[0].measure.metric", "unknown metric"),
        (11, "hypotheses[0].expect.alpha", "out of range"),
        (15, "hypotheses[1].interventions[0].layers",
         "layers selects the blocks of a blocks.* site; this site names no open block index"),
        (15, "hypotheses[1].interventions[0].site", "unknown hook site"),
    }, str(info.value)
    assert "nearest real sites: hook_text_proj" in str(info.value)
    assert str(info.value).count("did you mean 'blocks.*.hook_cross_out'?") == 2
