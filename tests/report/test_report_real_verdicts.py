"""The report on verdicts made by the real statistics (`latentflow.stats.evaluate`) and the real Verdict
class, through JSON as the pytest plugin writes them; and the hand-built verdicts of the other report
tests checked against that schema, so the two cannot drift apart."""

from __future__ import annotations

import json

import numpy as np
import pytest

from latentflow.execution.verdict import Verdict
from latentflow.report import write_report
from latentflow.report.cases import read_cases
from latentflow.stats import evaluate

N = 20


def _verdict(case_id: str, measure: dict, result, x: np.ndarray, y, *, paper, params=None, interventions=(),
             extra=None) -> dict:
    claim, _, rest = case_id.partition("::")
    verdict = Verdict(
        case_id=case_id, claim_id=claim, claim_title=claim.replace("_", " "), hypothesis_id=rest.split("[")[0],
        title=f"{rest} as the paper says", location="specs/synthetic.yaml:1", model="fixture",
        interventions=tuple(interventions), measure=measure, result=result,
        expectation={"direction": "two-sided", "test": result.test, "alpha": result.alpha, "null_value": 0.0},
        expected="holds", expected_reason=None, x_mean=float(np.mean(x)),
        y_mean=None if y is None else float(np.mean(y)), paper=paper, params=params or {}, extra=extra or {},
    )
    return json.loads(json.dumps(verdict.to_dict(), sort_keys=True))  # as in a results file


@pytest.fixture(scope="module")
def real_verdicts() -> list[dict]:
    rng = np.random.default_rng(20240611)
    out = []
    # A paired drop of STOI (planted d_z about -1.5).
    base = rng.uniform(0.6, 0.9, N)
    ablated = base - 0.15 + rng.normal(0.0, 0.1, N)
    out.append(_verdict("dual_pathway::text_proj_zero", {"metric": "stoi", "compare": "target"},
                        evaluate((ablated, base), test="paired_t", alternative="less", min_effect_size=0.5),
                        ablated, base, paper="STOI -0.219 (d=-0.89)", interventions=[{"site": "hook_text_proj", "op": "zero"}]))
    # Block ratio rising with the gate override (Wilcoxon), one case per gate value.
    br_base = rng.lognormal(1.7, 0.2, N)
    for gate, gain in ((2.0, 1.1), (5.0, 1.6)):
        br = br_base * gain * rng.lognormal(0.0, 0.05, N)
        out.append(_verdict(f"segmentation_cues::br[{gate}]", {"metric": "block_ratio", "compare": "target"},
                            evaluate((br, br_base), test="wilcoxon", alternative="greater", n_resamples=999),
                            br, br_base, paper="BR 5.76 -> 9.55", params={"gate": gate},
                            interventions=[{"site": "hook_anchor_gate", "op": "override_scalar", "args": {"value": gate}}]))
    # Entropy rates against a null value (one-sample), with the baseline profile the runner attaches.
    rates = rng.normal(0.02, 0.004, N)
    steps = np.arange(16)
    profile = {f"blocks.{layer}.attn.hook_pattern": {str(k): float(0.9 - slope * k) for k in steps}
               for layer, slope in enumerate((0.001, 0.002, 0.03, 0.04))}
    out.append(_verdict("async_convergence::fast_layers_move",
                        {"metric": "entropy_rate", "compare": "internal", "site": "blocks.*.attn.hook_pattern"},
                        evaluate(rates - 0.01, test="paired_t", alternative="greater"), rates, None,
                        paper="fast layers 6-11", extra={"baseline_profile": profile}))
    return out


def test_hand_built_verdicts_have_the_real_schema(r, real_verdicts):
    real = real_verdicts[0]
    hand = r.make_verdict("dual_pathway::text_proj_zero")
    assert set(hand) == set(real)
    assert set(hand["stats"]) == set(real["stats"])
    with_extra = r.full_verdicts()[2]
    assert set(with_extra["extra"]) == set(real_verdicts[-1]["extra"]) == {"baseline_profile"}


def test_report_from_real_verdicts(tmp_path, real_verdicts):
    cases = read_cases(real_verdicts)
    assert [c.holds for c in cases] == [True, True, True, True]
    files = write_report(real_verdicts, tmp_path / "real.html")
    assert files.plots == ("effect_sizes", "attention_entropy", "gate_sweep")
    md = files.markdown_path.read_text(encoding="utf-8")
    stoi = real_verdicts[0]["stats"]
    lo, hi = stoi["effect_size_interval"]
    assert f"d_z = {stoi['effect_size']:.3g} [{lo:.3g}, {hi:.3g}] (PASS)" in md
    assert "stable layers [0, 1], fast layers [2, 3]" in md
    br5 = real_verdicts[2]
    assert f"gate 5 -> block_ratio {br5['x_mean']:.3g} (learned gate: {br5['y_mean']:.3g})" in md
    html = files.html_path.read_text(encoding="utf-8")
    assert html.count('<td class="verdict">PASS</td>') == 4
