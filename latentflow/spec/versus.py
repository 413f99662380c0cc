"""``measure.versus``: a paired test between two intervened runs of the same examples.

A measure compares the intervened run with the clean baseline; with ``versus`` the second arm
of the paired test is another intervened run (the same examples, prompts and noise seeds, other
interventions). Each arm is measured as ``compare`` says (against the truth, against the
baseline's output, or an internal statistic) and the test reads intervened minus versus, per
example. "Freezing the stable layers costs less than freezing the fast ones" is one paired test:

    interventions: [freeze the stable layers]
    measure: {metric: si_snr, versus: {interventions: [freeze the fast layers]}}
    expect: {direction: increase}

Rules checked here (the names of the versus interventions are checked with the hypothesis's own,
in latentflow.spec.validate):
- ``versus`` only in a hypothesis's measure (a fuzz invariant compares with the baseline);
- keys ``title`` and ``interventions`` (required, non-empty);
- the hypothesis has interventions of its own (else its run is the baseline, and the test would
  be the versus intervention's own effect with the sign turned: write that instead);
- the two intervention lists differ, and no intervention control replaces the hypothesis's
  interventions by the versus run's (both arms would be the same run: a difference of exactly 0
  that can never hold, so it would control nothing).
"""

from __future__ import annotations

from typing import Any

from latentflow.spec import schema as s
from latentflow.spec.errors import listing
from latentflow.spec.fields import section_keys
from latentflow.spec.interventions import read_interventions
from latentflow.spec.reader import Reader
from latentflow.spec.yaml_loader import LineDict

VERSUS_KEYS = section_keys(s.Versus)


def read_versus(section: LineDict, path: str, r: Reader, steps_count: int | None, *, allowed: bool,
                parsed: list[Any] | None = None) -> s.Versus | None:
    """The ``versus`` of a measure section (at ``path``), or None when absent or broken (the
    reader then has the problem). ``allowed``: False outside hypotheses. ``parsed`` receives its
    interventions, so their names are checked even when the rest is broken."""
    if "versus" not in section:
        return None
    field = f"{path}.versus"
    if not allowed:
        r.report(section, "versus", field,
                 "versus (a second intervened run to compare with) only applies to a hypothesis's measure; "
                 "a fuzz invariant compares with the baseline", value=section["versus"],
                 allowed="no versus key in a fuzz check")
        return None
    node = section["versus"]
    if not r.check_keys(node, field, VERSUS_KEYS, ("interventions",), parent=section, key="versus"):
        return None
    start = r.mark()
    title = r.text(node, "title", field)
    interventions = read_interventions(node, field, r, steps_count, required=True, parsed=parsed)
    if r.failed_since(start) or not interventions:
        return None
    return s.Versus(title, interventions, line=section.lines.get("versus", node.line), path=field)


def check_versus(node: LineDict, field: str, r: Reader, interventions: tuple[s.Intervention, ...] | None,
                 measure: s.Measure | None, controls: tuple[Any, ...] | None) -> None:
    """The rules across a hypothesis's fields (module docstring); ``node`` is its YAML."""
    versus = None if measure is None else measure.versus
    if versus is None:
        return
    if interventions == ():
        r.report(None, None, f"{versus.path}", "versus compares the hypothesis's intervened run with a second "
                 "intervened run, and this hypothesis has no interventions (its run is the baseline)",
                 line=versus.line,
                 allowed="interventions: [...] beside the measure (the run compared with the versus run)")
    elif interventions is not None and interventions == versus.interventions:
        r.report(None, None, f"{versus.path}.interventions", "the versus run is the hypothesis's own run "
                 "(the same interventions): both arms would be one run", line=versus.line,
                 allowed="versus interventions that differ from the hypothesis's")
    for control in controls or ():
        if control.interventions is not None and control.interventions == versus.interventions:
            r.report(None, None, f"{control.path}.interventions",
                     f"control {control.id} replaces the hypothesis's interventions by the versus run's, so "
                     "both of its arms are one run: a difference of exactly 0, which never holds and so "
                     "controls nothing", line=control.line,
                     allowed=f"other interventions, or a model control ({listing(('counter:<name>', 'a checkpoint'))})")
