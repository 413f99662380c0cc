"""scripts/compare_results.py: two results files compared on verdicts and every number, the
checkout's path and the format's text-or-dict spelling of what ran set aside."""

from __future__ import annotations

import copy
import importlib.util
import json
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "compare_results.py"


def _script():
    spec = importlib.util.spec_from_file_location("compare_results", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_identical_runs_compare_equal_across_paths_and_formats(g, tmp_path, capsys):
    compare = _script()
    before = g.results(*g.baseline_verdicts())
    after = copy.deepcopy(before)
    for verdict in after["verdicts"]:
        verdict["location"] = "/elsewhere/" + verdict["location"]
    assert compare.compare_files(before, after) == ([], [], 3)
    # a format-2 file held the same interventions, measure and expectation as text
    assert compare.compare_files(g.legacy(before, 2), after) == ([], [], 3)
    paths = []
    for name, data in (("a.json", g.legacy(before, 2)), ("b.json", after)):
        paths.append(tmp_path / name)
        paths[-1].write_text(json.dumps(data))
    assert compare.main([str(p) for p in paths]) == 0
    assert capsys.readouterr().out.endswith("identical verdicts and numbers\n")


def test_a_changed_verdict_number_or_display_is_reported(g):
    compare = _script()
    before = g.results(*g.baseline_verdicts())
    after = copy.deepcopy(before)
    after["verdicts"][0]["stats"]["pvalue"] *= 1 + 1e-12
    after["verdicts"][1]["holds"] = False
    after["verdicts"][2]["location"] = "specs/other.yaml:40"
    found, display, compared = compare.compare_files(before, after)
    assert compared == 3 and len(found) == 3
    assert found[0].startswith("dual_pathway::ca_zero[noisy].stats.pvalue: 1.4e-05 before")
    assert found[1] == "dual_pathway::text_proj_zero[noisy].holds: True before, False after"
    assert "location" in found[2]
    assert compare.compare_files(before, after, rel_tol=1e-9)[0] == found[1:]
    old = g.legacy(before, 2)
    old["verdicts"][0]["measure"] = "si_snr (baseline)"
    found, display, _ = compare.compare_files(old, before)
    assert found == [] and display == ["dual_pathway::ca_zero[noisy].measure: 'si_snr (baseline)' before, "
                                       "'si_snr (target)' after"]
