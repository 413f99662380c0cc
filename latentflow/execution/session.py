"""Running spec files from Python: the same path the pytest plugin takes, without pytest.

    from latentflow.execution import SpecSession
    session = SpecSession(model="fixture")
    for verdict in session.verify("specs/dual_pathway.yaml"):
        print(verdict.explain())
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from ..derivation import SessionDerivations
from ..interventions import OPERATIONS
from ..metrics import available_metrics, get_metric
from ..spec import Case, Overrides, Plan, Spec, SpecError, compile_plan, load_spec, validate
from ..spec.probe import ProbeSpec
from ..spec.probe_plan import ProbeCase, ProbePlan, compile_probe_plan
from .controls import control_cases, control_model_issues, judge
from .fuzz import INVARIANTS, run_fuzz_check
from .internal import INTERNAL_MEASURES
from .probe import run_probe_case
from .runner import Runner
from .verdict import Verdict


def metric_catalog() -> dict[str, Any]:
    """Every measure a spec may name: audio metrics and internal (activation) measures."""
    catalog: dict[str, Any] = {name: get_metric(name) for name in available_metrics()}
    for name, info in INTERNAL_MEASURES.items():
        catalog[name] = {"compare": ("internal",), "params": info.params}
    return catalog


class ModelLoadError(Exception):
    """The model a spec runs on cannot be loaded: one line naming where the model was chosen
    (the spec's ``model:`` line or the override option) and why, instead of a traceback."""


class SpecSession:
    """Loads, validates and runs specs on one device, sharing baselines between them.

    ``model_option``: how the ``model`` override is spelled where it came from, for messages
    (the pytest plugin passes ``--latentflow-model``).
    """

    def __init__(self, *, model: str | None = None, seed: int | None = None, n: int | None = None,
                 max_n: int | None = None, device: str = "cpu", batch_size: int = 16,
                 batch_variants: bool = False, model_option: str = "the model override",
                 text_encoder: str | None = None, controls: bool = True) -> None:
        from ..extensions import load_extensions

        load_extensions()  # users' operations, metrics and invariants, before any spec is read
        self.overrides = Overrides(model=model, seed=seed, n=n, max_n=max_n)
        self.model_option = model_option
        self.controls = controls  # run the cases' declared controls (latentflow.execution.controls)
        self.runner = Runner(device=device, batch_size=batch_size, batch_variants=batch_variants,
                             text_encoder=text_encoder)

    def plan(self, path: str | Path) -> Plan | ProbePlan:
        """Load and validate ``path`` against the model the spec runs on, then compile it."""
        registries = dict(operations=OPERATIONS, metrics=metric_catalog(), invariants=INVARIANTS)
        # syntax, schema and registered names first: a typo must not need a model
        spec = load_spec(path, sites_when_broken=self._sites_if_loadable, model=self.overrides.model,
                         derived=SessionDerivations(self.runner, self.overrides), **registries)
        if isinstance(spec, ProbeSpec):  # reference models and stimuli, checked at load time
            return compile_probe_plan(spec, self.overrides)
        plan = compile_plan(spec, self.overrides)
        model_name = plan.cases[0].model if plan.cases else (plan.fuzz[0].model if plan.fuzz else None)
        world = self._world(spec, model_name) if model_name else None
        # then the sites it names against the model's hook points, and whether the model runs
        # them for the declared data (the text projection needs a text prompt)
        validate(spec, sites=world.model.hook_dict if world else None,
                 silent=world.why_silent if world else None, **registries)
        if self.controls and world is not None:  # counter-model controls are built from this model
            issues = control_model_issues(plan.cases, world)
            if issues:
                raise SpecError(issues)
        self.runner.prepare([*plan.cases, *(control_cases(plan.cases) if self.controls else ())])
        return plan

    def _world(self, spec: Spec, model_name: str):
        try:
            return self.runner.world(model_name)
        # Any failure to load counts (a missing file, an unknown name, a file that is not a
        # checkpoint, a corrupt one): the user gets its message and where the model was chosen;
        # the cause stays chained for debugging.
        except Exception as error:
            if self.overrides.model is not None:
                where = f"{self.model_option}={self.overrides.model}"
            elif spec.model_line is not None:
                where = f"{spec.file}:{spec.model_line}: model"
            else:
                where = f"{spec.file}: model (no model key: the default {spec.model!r})"
            reason = str(error) or type(error).__name__
            if model_name not in reason:
                reason = f"cannot load model {model_name!r}: {reason}"
            raise ModelLoadError(f"{where}: {reason}") from error

    def _sites_if_loadable(self, spec: Spec) -> dict | None:
        """The hook sites of a broken spec's model, so its unknown sites are reported with its
        other problems; None when the model itself cannot be loaded (that error comes once the
        spec is fixed, from :meth:`plan`)."""
        try:
            return self.runner.world(self.overrides.model_for(spec)).model.hook_dict
        except Exception:  # noqa: BLE001 - any model problem: report the spec's problems alone
            return None

    def verdict(self, plan: Plan | ProbePlan, case: Case | ProbeCase) -> Verdict:
        if isinstance(case, ProbeCase):  # latentflow/execution/probe.py
            return run_probe_case(case, controls=self.controls)
        family = [c for c in plan.cases if isinstance(c, Case) and case.family is not None and c.family == case.family]
        return judge(self.runner.verdict(case, family), self.runner, case, enabled=self.controls)

    def verify(self, path: str | Path) -> Iterator[Verdict]:
        plan = self.plan(path)
        for case in plan.cases:
            yield self.verdict(plan, case)

    def write_results(self, path: str | Path, verdicts: Iterable[Verdict]) -> Path:
        """Write ``verdicts`` as a results file, the one ``pytest --latentflow-results`` writes."""
        from ..results import write_results

        verdicts = list(verdicts)
        models = self.runner.describe_models()
        return write_results(path, [v.to_dict() for v in verdicts], model=self.overrides.model,
                             seed=self.overrides.seed, max_n=self.overrides.max_n,
                             setups={name: models[name] for name in {v.model for v in verdicts} if name in models})

    def fuzz(self, plan: Plan, check: Any, **settings: Any) -> int:
        return run_fuzz_check(self.runner, check, settings)
