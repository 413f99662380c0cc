"""The report's confidence-sequence panels: one per sequential case, next to its fixed-n numbers."""

from __future__ import annotations

import numpy as np

from latentflow.report import build_sections, write_report
from latentflow.stats import evaluate
from latentflow.stats.sequential import SequentialDesign, sequential_test


def _sequential_verdict(r, case_id, differences, alternative="decrease", margin=None):
    design = SequentialDesign(max_n=24, chunk=4, method="t_mixture", alternative=alternative, symmetric=True,
                              margin=margin)
    for k in design.default_looks:  # look by look, as the runner does
        decided = sequential_test(differences[:k], design)
        if decided.status != "continue":
            break
    used = differences[: decided.n_used]
    fixed = (evaluate(used, test="tost", margin=margin) if margin is not None
             else evaluate(used, test="paired_t", alternative="less"))
    verdict = r.make_verdict(case_id, holds=decided.passed)
    verdict["stats"] = fixed.to_dict()
    verdict["sequential"] = decided.to_dict()
    return verdict, decided, fixed


def test_each_sequential_case_gets_a_panel_and_its_fixed_n_numbers(r, tmp_path):
    rng = np.random.default_rng(5)
    strong, s1, f1 = _sequential_verdict(r, "c::strong", rng.normal(-2.0, 1.0, 24))
    null, s2, _ = _sequential_verdict(r, "c::null", rng.normal(0.0, 1.0, 24))
    same, s3, _ = _sequential_verdict(r, "c::same", rng.normal(0.0, 0.1, 24), alternative="equivalence",
                                      margin=0.5)
    assert (s1.status, s2.status, s3.status) == ("holds", "not_shown", "holds")  # held, and ran to max_n
    verdicts = [strong, null, same, r.make_verdict("c::fixed")]
    (section,) = [s for s in build_sections(verdicts) if s.key == "confidence_sequences"]
    assert section.png is not None and section.png.startswith(b"\x89PNG")
    assert "3 sequential cases" in section.caption and "90% confidence sequence" in section.caption
    assert len(section.summary) == 3 and not any("c::fixed" in line for line in section.summary)
    line = section.summary[0]
    assert line.startswith(f"- `c::strong`: HOLDS at n = {s1.n_used} of 24, 90% CS [")
    assert f"fixed-n on those {s1.n_used}: mean {f1.mean_difference:.3g}" in line
    files = write_report(verdicts, tmp_path / "report.html")
    assert "confidence_sequences" in files.plots
    assert "Confidence sequences over n" in (tmp_path / "report.md").read_text()


def test_a_fixed_n_run_has_no_confidence_sequence_section(r):
    assert "confidence_sequences" not in [s.key for s in build_sections([r.make_verdict("c::fixed")])]


def test_a_whole_results_object_gets_the_same_sequence_section(r):
    """build_sections and write_report also take a results object (read_results); its sequential
    verdicts are drawn as from the verdict list, not skipped as the object's keys."""
    from latentflow.results import results_payload

    strong, _, _ = _sequential_verdict(r, "c::strong", np.random.default_rng(5).normal(-2.0, 1.0, 24))
    listed = [s.key for s in build_sections([strong])]
    assert "confidence_sequences" in listed
    assert [s.key for s in build_sections(results_payload([strong]))] == listed
