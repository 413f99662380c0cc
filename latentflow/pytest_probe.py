"""pytest items for probe cases (the probe hypothesis kind, latentflow/spec/probe.py).

A probe spec's cases are collected in one group per stimulus target
(``<file>::stimuli-<target>::<hypothesis>``): cases that compare runs on shared trials (a model
versus the EC model, ablated versus intact stimuli) always share a target and so a group, and
the xdist scheduler (latentflow/xdist_scheduling.py) sends each group to one worker, where its
features, curves and BMLDs are computed once. Verdicts travel exactly as separation cases' do.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import pytest

from latentflow.pytest_plugin import (
    VERDICT_PROPERTY,
    ClaimDoesNotHold,
    ClaimFailure,
    _smoke_note,
    mark_spec_item,
    settle_verdict,
)
from latentflow.xdist_scheduling import PROBE_GROUP_PREFIX

if TYPE_CHECKING:
    from latentflow.execution.verdict import Verdict


def is_probe_plan(plan) -> bool:
    from latentflow.spec.probe_plan import ProbePlan

    return isinstance(plan, ProbePlan)


def probe_collectors(parent: pytest.File, plan):
    groups: dict[str, list] = {}
    for case in plan.cases:
        groups.setdefault(case.group, []).append(case)
    for group, cases in groups.items():
        yield ProbeGroup.from_parent(parent, name=f"{PROBE_GROUP_PREFIX}{group}", plan=plan, cases=cases)


class ProbeGroup(pytest.Collector):
    def __init__(self, *, plan, cases, **kwargs) -> None:
        super().__init__(**kwargs)
        self.plan = plan
        self.cases = cases

    def collect(self):
        for case in self.cases:
            yield ProbeItem.from_parent(self, name=case.case_id.split("::", 1)[1], plan=self.plan, case=case)


class ProbeItem(pytest.Item):
    def __init__(self, *, plan, case, **kwargs) -> None:
        super().__init__(**kwargs)
        self.plan = plan
        self.case = case
        self.verdict: Verdict | None = None
        mark_spec_item(self, "probe", case, ClaimDoesNotHold)

    def runtest(self) -> None:
        from latentflow.execution.probe import run_probe_case

        controls = self.config.getoption("latentflow_controls") == "on"
        verdict = self.verdict = run_probe_case(self.case, controls=controls)
        r = verdict.result
        self.user_properties.extend([
            ("claim_holds", verdict.holds),
            ("expected", verdict.expected),
            ("bmld_db", verdict.extra["probe"]["bmld_db"]),
            ("value", r.mean_difference),
            ("ci_low", r.confidence_interval[0]),
            ("ci_high", r.confidence_interval[1]),
            (VERDICT_PROPERTY, json.dumps(verdict.to_dict(), sort_keys=True)),
        ])
        settle_verdict(verdict)

    def explain_unexpected_hold(self) -> str:
        return self.verdict.explain() + _smoke_note(self.config) if self.verdict is not None else ""

    def repr_failure(self, excinfo, style=None):
        if isinstance(excinfo.value, (ClaimFailure, ClaimDoesNotHold)):
            return excinfo.value.verdict.explain() + _smoke_note(self.config)
        return super().repr_failure(excinfo, style=style)

    def reportinfo(self):
        return self.path, (self.case.line or 1) - 1, self.case.case_id
