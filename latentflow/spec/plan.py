"""A spec compiled into the cases an executor runs.

A :class:`Case` is one expanded hypothesis with everything needed to run it resolved: the
model (bundled fixture, a named model, or an absolute checkpoint path), the data and
sampler (file defaults, then hypothesis overrides, then command-line overrides), the
interventions, the measure, the expectation and its multiple-comparison family. Cases keep
the file's order (hypotheses top to bottom, parameter grids first-name-slowest), so a plan
is the same on every run and every worker.
"""

from __future__ import annotations

import dataclasses
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from latentflow.model_names import COUNTER_BASE
from latentflow.registry import nearest_names
from latentflow.spec import schema as s
from latentflow.spec.errors import listing, show
from latentflow.spec.expand import format_value
from latentflow.spec.fuzz_template import fill_example
from latentflow.spec.grammar import MAX_N, MAX_SEED, NAME
from latentflow.spec.snippet import dump
from latentflow.spec.yaml_loader import VERSION_KEY

MODEL_SCHEME = re.compile(r"[a-z]+:[A-Za-z0-9_]+(:[0-9]+)?\Z")


def is_model_name(model: str) -> bool:
    """A bare name (``fixture``) or a scheme name (``random:fixture:3``, ``counter:no_text``)
    rather than a path (anything with / or a suffix)."""
    return NAME.match(model) is not None or MODEL_SCHEME.match(model) is not None


def resolve_model(model: str, relative_to: str | Path) -> str:
    """Names stay names; a relative path is resolved against ``relative_to`` (a folder). A
    bare word that names a file or folder beside the spec (a SAM Audio model folder has no
    suffix) is that path; otherwise it stays as written, so a typo is reported as typed. In
    ``counter:<name>@<model>`` the model after ``@`` is resolved so."""
    head, at, base = model.partition(COUNTER_BASE)
    if at and head.startswith("counter:"):
        return f"{head}{at}{resolve_model(base, relative_to)}"
    if is_model_name(model):
        beside = Path(relative_to).resolve() / model
        if model.strip().lower() != "fixture" and MODEL_SCHEME.match(model) is None and beside.exists():
            return os.path.normpath(beside)
        return model
    path = Path(model).expanduser()
    if not path.is_absolute():
        path = Path(relative_to).resolve() / path
    return os.path.normpath(path)


@dataclass(frozen=True)
class Overrides:
    """What the command line may replace in every case: model, seed and number of examples.

    A relative ``model`` path is taken relative to the current folder (where the command
    runs), unlike a spec's own ``model``, which is relative to the spec file.
    """

    model: str | None = None
    seed: int | None = None
    n: int | None = None
    max_n: int | None = None  # at most this many examples per case (a quick smoke run)

    def __post_init__(self) -> None:
        if self.model is not None and (not isinstance(self.model, str) or not self.model.strip()):
            raise ValueError(f"override model must be a name or a path, not {self.model!r}")
        for name, value, low, high in (("seed", self.seed, 0, MAX_SEED), ("n", self.n, 1, MAX_N),
                                       ("max_n", self.max_n, 1, MAX_N)):
            if value is not None and (
                isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high
            ):
                raise ValueError(
                    f"override {name} must be an integer from {low} to {high}, not {value!r}"
                )

    def apply(self, data: s.Data) -> s.Data:
        changes: dict[str, Any] = {k: v for k, v in (("seed", self.seed), ("n", self.n)) if v is not None}
        n = changes.get("n", data.n)
        if self.max_n is not None and n > self.max_n:
            changes["n"] = self.max_n
        return dataclasses.replace(data, **changes) if changes else data

    def model_for(self, spec: s.Spec) -> str:
        if self.model is not None:
            return resolve_model(self.model, Path.cwd())
        return resolve_model(spec.model, Path(spec.file).parent)


@dataclass(frozen=True)
class Family:
    """Cases whose p-values are corrected together (``correction`` over ``case_ids``)."""

    id: str
    correction: str
    case_ids: tuple[str, ...]


@dataclass(frozen=True)
class Case:
    """One runnable hypothesis. ``source_file``/``line``/``params`` are provenance only."""

    case_id: str
    claim: s.Claim
    hypothesis_id: str
    variant: str | None
    title: str
    model: str
    data: s.Data
    sampler: s.Sampler
    interventions: tuple[s.Intervention, ...]
    measure: s.Measure
    expect: s.Expect
    source: s.PatchSource | None = None
    paper: Any = None
    notes: str | None = None
    outcome: str = "holds"
    reason: str | None = None
    family: str | None = None
    correction: str = "none"
    family_size: int = 1
    params: s.FrozenDict = field(default_factory=s.FrozenDict, compare=False)
    source_file: str | None = field(default=None, compare=False)
    line: int | None = field(default=None, compare=False)
    marks: tuple[str, ...] = field(default=(), compare=False)  # the file's and the hypothesis's
    index: int = field(default=0, compare=False)  # position in the spec file's plan (spec order)
    # None: fixed n. Else run chunk by chunk up to data.n (= max_n, or less in a smoke run)
    sequential: s.Sequential | None = None
    controls: tuple[Any, ...] = ()  # latentflow.spec.controls.Control: run with the case
    # the {derived: NAME.QUANTITY} values the case used (its verdict records them)
    derived: s.FrozenDict = field(default_factory=s.FrozenDict, compare=False)

    @property
    def location(self) -> str:
        return f"{self.source_file}:{self.line}"

    def to_snippet(self) -> str:
        """A minimal spec that reproduces this case (as its only hypothesis).

        A family correction needs the whole family, so it is recorded as a comment only.
        """
        hypothesis: dict[str, Any] = {"id": self.hypothesis_id}
        if self.variant is not None:
            hypothesis["variant"] = self.variant
        hypothesis["title"] = self.title
        hypothesis.update(s.present(paper=s.thaw(self.paper), notes=self.notes))
        if self.interventions:
            hypothesis["interventions"] = [i.to_yaml() for i in self.interventions]
        if self.source is not None:
            hypothesis["source"] = self.source.to_yaml()
        hypothesis["measure"] = self.measure.to_yaml()
        hypothesis["expect"] = self.expect.to_yaml()
        if self.sequential is not None:
            hypothesis["sequential"] = self.sequential.to_yaml()
        if self.outcome != "holds":
            hypothesis["outcome"] = self.outcome
            hypothesis["reason"] = self.reason
        if self.controls:
            hypothesis["controls"] = [c.to_yaml() for c in self.controls]
        comments = [f"reproduces {self.case_id} (from {self.location})"]
        if self.family is not None:
            comments.append(
                f"in {self.source_file} it is corrected with {self.correction} over family "
                f"{self.family} ({self.family_size} cases); alone here it is uncorrected"
            )
        return dump(
            _document(self.claim, self.model, self.data, self.sampler, "hypotheses", hypothesis),
            comments,
        )


@dataclass(frozen=True)
class FuzzExample:
    """One concrete example of a fuzz check, ready to run or to report."""

    example_id: str
    check_id: str
    claim: s.Claim
    variant: str | None
    invariant: str
    args: s.FrozenDict
    interventions: tuple[s.Intervention, ...]
    measure: s.Measure | None
    model: str
    data: s.Data
    sampler: s.Sampler
    title: str | None = None
    notes: str | None = None
    values: s.FrozenDict = field(default_factory=s.FrozenDict, compare=False)
    source_file: str | None = field(default=None, compare=False)
    line: int | None = field(default=None, compare=False)

    def to_snippet(self) -> str:
        """A spec whose only fuzz check runs exactly this example (values filled in)."""
        check: dict[str, Any] = {"id": self.check_id}
        if self.variant is not None:
            check["variant"] = self.variant
        check.update(s.present(title=self.title, notes=self.notes))
        check["invariant"] = self.invariant
        if self.args:
            check["args"] = s.thaw(self.args)
        check["interventions"] = [i.to_yaml() for i in self.interventions]
        if self.measure is not None:
            check["measure"] = self.measure.to_yaml()
        check["max_examples"] = 1
        comments = [f"reproduces {self.example_id} (from {self.source_file}:{self.line})"]
        if self.values:
            comments.append(
                "drawn values: "
                + ", ".join(f"{k}={format_value(v)}" for k, v in self.values.items())
            )
        return dump(
            _document(self.claim, self.model, self.data, self.sampler, "fuzz", check), comments
        )


@dataclass(frozen=True)
class FuzzCheck:
    """A compiled fuzz check: strategies to draw from, and :meth:`example` to build a draw."""

    check_id: str
    claim: s.Claim
    spec: s.FuzzSpec
    model: str
    spec_data: s.Data
    spec_sampler: s.Sampler
    overrides: Overrides = Overrides()
    source_file: str | None = field(default=None, compare=False)
    line: int | None = field(default=None, compare=False)
    marks: tuple[str, ...] = field(default=(), compare=False)  # the file's and the check's

    @property
    def given(self) -> s.FrozenDict:
        return self.spec.given

    @property
    def invariant(self) -> str:
        return self.spec.invariant

    @property
    def max_examples(self) -> int:
        return self.spec.max_examples

    @property
    def outcome(self) -> str:
        return self.spec.outcome

    @property
    def reason(self) -> str | None:
        return self.spec.reason

    def example(self, values: Mapping[str, Any] | None = None) -> FuzzExample:
        """The example for drawn ``values`` (one per ``given`` name, each within its strategy)."""
        values = dict(values or {})
        if set(values) != set(self.given):
            raise ValueError(
                f"fuzz check {self.check_id!r} draws {listing(self.given) or 'nothing'}; "
                f"got values for {listing(values) or 'nothing'}"
            )
        for name, value in values.items():
            strategy = self.given[name]
            if not strategy.contains(value):
                raise ValueError(
                    f"value {show(value)} for {name!r} is outside its strategy {strategy.to_yaml()}"
                )
        ordered = {name: values[name] for name in self.given}
        # the template compiled at load, where every draw a run may make was read and checked
        assert self.spec.template is not None
        instance = fill_example(self.spec.template, ordered)
        return FuzzExample(
            example_id=case_id(self.claim.id, instance.id, instance.variant),
            check_id=instance.id,
            claim=self.claim,
            variant=instance.variant,
            invariant=instance.invariant,
            args=instance.args,
            interventions=instance.interventions,
            measure=instance.measure,
            model=self.model,
            data=self.overrides.apply(instance.data),
            sampler=instance.sampler,
            title=instance.title,
            notes=instance.notes,
            values=instance.values,
            source_file=self.source_file,
            line=self.line,
        )


@dataclass(frozen=True)
class Plan:
    source_file: str
    claim: s.Claim
    cases: tuple[Case, ...]
    families: tuple[Family, ...]
    fuzz: tuple[FuzzCheck, ...]

    def case(self, case_id: str) -> Case:
        for case in self.cases:
            if case.case_id == case_id:
                return case
        ids = [c.case_id for c in self.cases]
        near = nearest_names(case_id, ids)
        raise KeyError(
            f"no case {case_id!r} in {self.source_file}"
            + (f"; did you mean {listing(near)}?" if near else "")
        )


def _within(design: s.Sequential | None, n: int) -> s.Sequential | None:
    """The design with max_n = the case's examples, which an override may change
    (``--latentflow-n`` sets a sequential case's max_n; a smoke run cuts it)."""
    if design is None or n == design.max_n:
        return design
    return dataclasses.replace(design, max_n=n, chunk=min(design.chunk, n))


def case_id(claim_id: str, hypothesis_id: str, variant: str | None) -> str:
    return f"{claim_id}::{hypothesis_id}" + (f"[{variant}]" if variant else "")


def compile_plan(spec: s.Spec, overrides: Overrides | None = None) -> Plan:
    """The ordered cases of ``spec`` with overrides applied and families resolved."""
    overrides = overrides or Overrides()
    model = overrides.model_for(spec)
    if spec.per_model_for is not None and spec.per_model_for != model:
        raise ValueError(
            f"{spec.file}: its per_model: entries were applied for model {spec.per_model_for!r} when it "
            f"was loaded; load it for {model!r} (load_spec(..., model=...)) to compile it for that model"
        )
    family_of = {h: _family_id(spec, h) for h in range(len(spec.hypotheses))}
    members: dict[str, list[str]] = {}
    ids = []
    for index, h in enumerate(spec.hypotheses):
        cid = case_id(spec.claim.id, h.id, h.variant)
        ids.append(cid)
        if (family := family_of[index]) is not None:
            members.setdefault(family, []).append(cid)
    corrections = {_named_id(spec, f.name): f.correction for f in spec.families}
    if spec.family is not None:
        corrections[spec.claim.id] = spec.family.correction
    families = tuple(Family(fid, corrections[fid], tuple(cids)) for fid, cids in members.items())
    cases = []
    for index, h in enumerate(spec.hypotheses):
        fid = family_of[index]
        data = overrides.apply(h.data)
        cases.append(
            Case(
                case_id=ids[index],
                claim=spec.claim,
                hypothesis_id=h.id,
                variant=h.variant,
                title=h.title,
                model=model,
                data=data,
                sampler=h.sampler,
                interventions=h.interventions,
                measure=h.measure,
                expect=h.expect,
                source=h.source,
                paper=h.paper,
                notes=h.notes,
                outcome=h.outcome,
                reason=h.reason,
                family=fid,
                correction=corrections[fid] if fid else "none",
                family_size=len(members[fid]) if fid else 1,
                params=h.params,
                source_file=spec.file,
                line=h.line,
                marks=_joined(spec.marks, h.marks),
                index=index,
                sequential=_within(h.sequential, data.n),
                controls=h.controls,
                derived=h.derived,
            )
        )
    fuzz = tuple(
        FuzzCheck(
            check.id,
            spec.claim,
            check,
            model,
            spec.data,
            spec.sampler,
            overrides,
            spec.file,
            check.line,
            _joined(spec.marks, check.marks),
        )
        for check in spec.fuzz
    )
    return Plan(spec.file, spec.claim, tuple(cases), families, fuzz)


def _joined(*marks: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(name for group in marks for name in group))


def _named_id(spec: s.Spec, name: str | None) -> str:
    return spec.claim.id if name is None else f"{spec.claim.id}:{name}"


def _family_id(spec: s.Spec, index: int) -> str | None:
    name = spec.hypotheses[index].family
    if name is not None:
        return _named_id(spec, name)
    return spec.claim.id if spec.family is not None else None


def _document(
    claim: s.Claim, model: str, data: s.Data, sampler: s.Sampler, section: str, item: dict[str, Any]
) -> dict[str, Any]:
    return {
        VERSION_KEY: s.SPEC_VERSIONS[-1],
        "claim": claim.to_yaml(),
        "model": model,
        "data": data.to_yaml(),
        "sampler": sampler.to_yaml(),
        section: [item],
    }
