"""The spec's vocabulary and its validated, immutable form.

Each dataclass is one YAML section: its fields are the section's keys, in order
(:mod:`latentflow.spec.fields` reads the allowed keys and writes the YAML back, ``to_yaml``,
which is how a compiled case is rendered as a snippet). ``line``/``lines``/``path`` record
provenance for error messages, are no keys and never take part in equality.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from latentflow.model_names import FIXTURE_NAME
from latentflow.site_patterns import site_for_layer
from latentflow.spec.fields import NOT_A_KEY, provenance, to_yaml, yaml_value
from latentflow.spec.yaml_loader import VERSION_KEY

SPEC_VERSIONS = (1,)

# pytest's own marks that take arguments or change how a test runs: a spec cannot declare them
# as plain marks (outcome: fails is the spec's xfail).
RESERVED_MARKS = ("skip", "skipif", "xfail", "parametrize", "usefixtures", "filterwarnings")
# Values the runtime shares live in latentflow.vocabulary; these are the spec language's own words.
REFERENCES = ("prompted", "alternative")
DIRECTIONS = ("decrease", "increase", "equivalent", "two-sided")
OUTCOMES = ("holds", "fails")
SOURCE_PROMPTS = ("alternative", "original")
STRATEGIES = ("integers", "floats", "sampled_from")

FIXTURE_MODEL = FIXTURE_NAME  # a spec without `model:` runs on the bundled model
DEFAULT_ALPHA = 0.05
DEFAULT_MAX_EXAMPLES = 20
OMIT_DEFAULT = {"omit": "default"}  # latentflow.spec.fields.to_yaml leaves the default out
OMIT_EMPTY = {"omit": "empty"}

ID_PATTERN = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]*\Z")


class FrozenDict(Mapping):
    """An immutable, hashable mapping that keeps insertion order (args, params)."""

    __slots__ = ("_hash", "_items")

    def __init__(self, items: Mapping[str, Any] | None = None):
        self._items = dict(items or {})
        self._hash: int | None = None

    def __getitem__(self, key: str) -> Any:
        return self._items[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def __hash__(self) -> int:
        if self._hash is None:
            self._hash = hash(frozenset(self._items.items()))
        return self._hash

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Mapping):
            return dict(self._items) == dict(other.items())
        return NotImplemented

    def __repr__(self) -> str:
        return f"FrozenDict({self._items!r})"


thaw = yaml_value  # the inverse of freeze, for writing YAML


def freeze(value: Any) -> Any:
    """Deep-convert YAML containers: mappings -> FrozenDict, lists -> tuples."""
    if isinstance(value, Mapping):
        return FrozenDict({k: freeze(v) for k, v in value.items()})
    if isinstance(value, (list, tuple)):
        return tuple(freeze(v) for v in value)
    return value


def present(**values: Any) -> dict[str, Any]:
    """The given entries that are set (not None), in order: a section's optional keys."""
    return {key: value for key, value in values.items() if value is not None}


@dataclass(frozen=True)
class IndexSelection:
    """Which layers or sampler steps: all, an explicit set, or an inclusive range.

    YAML forms: ``all``; ``3``; ``[1, 6, 9]``; ``{only: [0, 1]}``; ``{from: 4}``;
    ``{from: 4, to: 8}`` (both ends included).
    """

    only: tuple[int, ...] | None = None
    start: int = 0
    stop: int | None = None

    @property
    def is_all(self) -> bool:
        return self.only is None and self.start == 0 and self.stop is None

    def contains(self, index: int) -> bool:
        if self.only is not None:
            return index in self.only
        return index >= self.start and (self.stop is None or index <= self.stop)

    def resolve(self, count: int) -> tuple[int, ...]:
        """The selected indices among ``range(count)``."""
        return tuple(i for i in range(count) if self.contains(i))

    def endpoints(self) -> tuple[int, ...]:
        """Indices that must exist for the selection to make sense (for validation)."""
        if self.only is not None:
            return self.only
        return (self.start,) if self.stop is None else (self.start, self.stop)

    def to_yaml(self) -> Any:
        if self.is_all:
            return "all"
        if self.only is not None:
            return list(self.only)
        return {"from": self.start} if self.stop is None else {"from": self.start, "to": self.stop}


ALL = IndexSelection()


@dataclass(frozen=True)
class Claim:
    id: str
    title: str
    source: str
    paper: Any = None
    notes: str | None = None

    to_yaml = to_yaml


@dataclass(frozen=True)
class Data:
    """Which examples: the tier, how many, the seed of the draw, the split, the prompt."""

    tier: str
    n: int
    seed: int = 0
    split: str = "test"
    prompt: str = "text"
    spans: str = field(default="any", metadata=OMIT_DEFAULT)  # left out when default, as in most specs

    to_yaml = to_yaml


@dataclass(frozen=True)
class Sampler:
    method: str = "euler"
    steps: int = 16

    to_yaml = to_yaml


@dataclass(frozen=True)
class Intervention:
    """An operation applied at every hook site the pattern names, on the selected steps.

    ``layers`` is None when the site has no ``blocks.*`` wildcard (a single site).
    """

    site: str
    op: str
    args: FrozenDict = field(default_factory=FrozenDict, metadata=OMIT_EMPTY)
    layers: IndexSelection | None = None
    steps: IndexSelection = ALL
    line: int | None = provenance()
    lines: FrozenDict | None = provenance()
    path: str | None = provenance()

    def sites(self) -> tuple[str, ...]:
        """Concrete site names for an explicit layer selection, else the pattern itself."""
        if self.layers is None or self.layers.only is None:
            return (self.site,)
        return tuple(site_for_layer(self.site, layer) for layer in self.layers.only)

    to_yaml = to_yaml


@dataclass(frozen=True)
class PatchSource:
    """The second run a patch takes its activations from: another prompt and/or noise seed."""

    prompt: str = "alternative"
    seed: int | None = None
    line: int | None = provenance()

    to_yaml = to_yaml


@dataclass(frozen=True)
class Versus:
    """The run a measure compares the intervened run with instead of the clean baseline: the
    same examples and noise seeds with other interventions (latentflow.spec.versus)."""

    title: str | None = None
    interventions: tuple[Intervention, ...] = ()
    line: int | None = provenance()
    path: str | None = provenance()

    to_yaml = to_yaml


@dataclass(frozen=True)
class Measure:
    """What is measured per example, and against what.

    compare=target: the metric of each run's output against the example's ground truth,
    intervened minus baseline. compare=baseline: the metric of the intervened output
    against the baseline output. compare=internal: a statistic of cached activations at
    ``site`` (intervened minus baseline, or the baseline's own value with no interventions).
    ``versus``: another intervened run takes the baseline's place in each of these.
    """

    metric: str
    compare: str = "target"
    reference: str | None = "prompted"
    args: FrozenDict = field(default_factory=FrozenDict, metadata=OMIT_EMPTY)
    site: str | None = None
    layers: IndexSelection | None = None
    steps: IndexSelection | None = None
    versus: Versus | None = None  # None: the intervened run is compared with the baseline
    line: int | None = provenance()
    lines: FrozenDict | None = provenance()
    path: str | None = provenance()

    to_yaml = to_yaml


@dataclass(frozen=True)
class Expect:
    """The statistical expectation on the per-example sample (H0: centre == null_value)."""

    direction: str
    test: str
    alpha: float = DEFAULT_ALPHA
    min_effect_size: float | None = None
    margin: tuple[float, float] | None = None
    null_value: float = 0.0
    resamples: int | None = None

    to_yaml = to_yaml


@dataclass(frozen=True)
class Sequential:
    """An anytime-valid design: examples run chunk by chunk, up to ``max_n``, a decision after
    every chunk (docs/sequential.md). ``bounds``: betting only; ``prior_scale`` and
    ``symmetric`` (the user's declaration that the differences are symmetric about their mean,
    which the t mixture's validity needs): t_mixture only."""

    max_n: int
    chunk: int
    method: str = "t_mixture"
    bounds: tuple[float, float] | None = None
    prior_scale: float | None = None
    symmetric: bool = field(default=False, metadata=OMIT_DEFAULT)
    line: int | None = provenance()

    to_yaml = to_yaml


@dataclass(frozen=True, kw_only=True)
class Hypothesis:
    """One expanded hypothesis (one per parameter combination), with data/sampler merged.

    Fields in the order of the keys a hypothesis may have; ``params`` (this variant's row of
    the ``parametrize`` table) stands for the ``parametrize`` key.
    """

    id: str
    title: str
    variant: str | None
    params: FrozenDict = field(default_factory=FrozenDict, compare=False, metadata={"key": "parametrize"})
    paper: Any = None
    notes: str | None = None
    family: str | None = None
    data: Data
    sampler: Sampler
    interventions: tuple[Intervention, ...]
    source: PatchSource | None = None
    measure: Measure
    expect: Expect
    outcome: str = "holds"
    reason: str | None = None
    marks: tuple[str, ...] = ()  # pytest marks (names), besides the file's
    sequential: Sequential | None = None  # None: a fixed-n hypothesis (data.n examples)
    # latentflow.spec.controls.Control: the file's `controls:` first, then the hypothesis's own
    controls: tuple[Any, ...] = ()
    # the `per_model:` entry that set this case's outcome/reason/sequential on the model the spec
    # was loaded for ({model: {key: value}}, latentflow.spec.per_model); empty when none did
    per_model: FrozenDict = field(default_factory=FrozenDict, compare=False, metadata=OMIT_EMPTY)
    # the {derived: NAME.QUANTITY} values the hypothesis used, NAME.QUANTITY -> value
    # (latentflow.spec.derived): what its verdict records
    derived: FrozenDict = field(default_factory=FrozenDict, compare=False, metadata=NOT_A_KEY)
    line: int | None = provenance()
    lines: FrozenDict | None = provenance()
    path: str | None = provenance()


@dataclass(frozen=True)
class FamilySpec:
    """A multiple-comparison family; ``name`` None is the file's default family."""

    name: str | None = field(metadata=NOT_A_KEY)  # the key under families:, not inside
    correction: str
    line: int | None = provenance()


@dataclass(frozen=True)
class Strategy:
    """How the fuzzer draws one parameter: integers/floats in [low, high], or from values."""

    kind: str
    low: Any = None
    high: Any = None
    values: tuple[Any, ...] = ()

    def corners(self) -> tuple[Any, ...]:
        """Values that validation instantiates: both ends of a range, every listed value."""
        if self.kind == "sampled_from":
            return self.values
        return (self.low,) if self.low == self.high else (self.low, self.high)

    def contains(self, value: Any) -> bool:
        if self.kind == "sampled_from":
            return any(value == v and type(value) is type(v) for v in self.values)
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return False
        if self.kind == "integers" and not isinstance(value, int):
            return False
        return self.low <= value <= self.high

    def to_yaml(self) -> dict[str, Any]:
        if self.kind == "sampled_from":
            return {"sampled_from": thaw(self.values)}
        return {self.kind: [self.low, self.high]}


@dataclass(frozen=True, kw_only=True)
class FuzzSpec:
    """A property-based check: an invariant over interventions drawn from ``given``.

    ``template`` is the check compiled at load: a :class:`FuzzInstance` whose fields hold
    typed placeholders where the YAML wrote ``{name}`` (:mod:`latentflow.spec.fuzz_template`);
    :meth:`latentflow.spec.plan.FuzzCheck.example` substitutes drawn values into it. The keys
    of a check are :class:`FuzzInstance`'s (``values`` stands for ``given``), then this class's.
    """

    id: str
    title: str | None = None
    notes: str | None = None
    invariant: str
    given: FrozenDict
    max_examples: int = DEFAULT_MAX_EXAMPLES
    outcome: str = "holds"  # "fails": the invariant is known to be violated (reason says how)
    reason: str | None = None
    marks: tuple[str, ...] = ()  # pytest marks (names), besides the file's
    template: FuzzInstance | None = provenance()
    line: int | None = provenance()
    lines: FrozenDict | None = provenance()  # key lines, with args.NAME lines
    path: str | None = provenance()


@dataclass(frozen=True, kw_only=True)
class FuzzInstance:
    """One concrete example of a fuzz check: its template with drawn values filled in."""

    id: str
    title: str | None = None
    notes: str | None = None
    variant: str | None
    invariant: str
    args: FrozenDict
    values: FrozenDict = field(default_factory=FrozenDict, compare=False, metadata={"key": "given"})
    interventions: tuple[Intervention, ...]
    measure: Measure | None
    data: Data
    sampler: Sampler
    line: int | None = provenance()
    path: str | None = provenance()


@dataclass(frozen=True, kw_only=True)
class Spec:
    """A loaded, validated spec file; fields in the order of the file's keys."""

    file: str = field(metadata=NOT_A_KEY)
    version: int = field(metadata={"key": VERSION_KEY})
    claim: Claim
    model: str = FIXTURE_MODEL
    data: Data
    sampler: Sampler
    family: FamilySpec | None = None
    families: tuple[FamilySpec, ...] = ()
    # the file's `sequential:` fields, which every hypothesis inherits (hypotheses carry the
    # merged design)
    sequential: FrozenDict = field(default_factory=FrozenDict, compare=False)
    hypotheses: tuple[Hypothesis, ...]
    fuzz: tuple[FuzzSpec, ...] = ()
    marks: tuple[str, ...] = ()  # pytest marks (names) of every hypothesis and fuzz check
    # `derive:` is read by latentflow.spec.derived before the rest of the file and its
    # references are substituted into the hypotheses, so the typed spec keeps it empty (a
    # case's snippet then needs none)
    derive: FrozenDict = field(default_factory=FrozenDict, compare=False, metadata={"omit": "empty"})
    # the file's `controls:` (latentflow.spec.controls.Control), which every hypothesis recorded to
    # hold inherits before its own
    controls: tuple[Any, ...] = ()
    model_line: int | None = provenance()  # None: no model key
    # the model (as Overrides.model_for resolves it) whose `per_model:` entries the hypotheses
    # took; None when the file has none (compile_plan refuses to compile it for another model)
    per_model_for: str | None = provenance()
