"""The spec's vocabulary and its validated, immutable form.

Each dataclass mirrors one YAML section field for field and can write itself back
(``to_yaml``), which is how a compiled case is rendered as a snippet. ``line``/``lines``/
``path`` record provenance for error messages and never take part in equality.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

SPEC_VERSIONS = (1,)

# pytest's own marks that take arguments or change how a test runs: a spec cannot declare them
# as plain marks (outcome: fails is the spec's xfail).
RESERVED_MARKS = ("skip", "skipif", "xfail", "parametrize", "usefixtures", "filterwarnings")
TIERS = ("clean", "noisy", "env")
SPLITS = ("test", "train")
PROMPT_KINDS = ("text", "span", "text+span")
# any: examples 0..n-1; partial: the first n whose target is active in only part of the clip
SPAN_SELECTIONS = ("any", "partial")
SAMPLER_METHODS = ("euler", "midpoint")
COMPARES = ("target", "baseline", "internal")
REFERENCES = ("prompted", "alternative")
DIRECTIONS = ("decrease", "increase", "equivalent", "two-sided")
TESTS = ("paired_t", "wilcoxon", "permutation", "bootstrap", "tost")
EQUIVALENCE_TESTS = ("tost",)
DIFFERENCE_TESTS = ("paired_t", "wilcoxon", "permutation", "bootstrap")
# Tests whose p-value or interval comes from resampling (latentflow.stats uses BCa
# intervals for all three), so `resamples` means something for them.
RESAMPLING_TESTS = ("wilcoxon", "permutation", "bootstrap")
# e_bh: sequential families only (it needs e-values); parse checks each family's design
CORRECTIONS = ("bonferroni", "holm", "bh", "none", "e_bh")
# latentflow.stats.sequential.SEQUENTIAL_METHODS (mirrored: the schema stays free of numpy)
SEQUENTIAL_METHODS = ("t_mixture", "betting")
# the fixed-n test whose numbers a sequential case shows next to its own (expect.test)
SEQUENTIAL_FIXED_N_TESTS = ("paired_t", "tost")
OUTCOMES = ("holds", "fails")
SOURCE_PROMPTS = ("alternative", "original")
STRATEGIES = ("integers", "floats", "sampled_from")

FIXTURE_MODEL = "fixture"
DEFAULT_ALPHA = 0.05
DEFAULT_MAX_EXAMPLES = 20

ID_PATTERN = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]*\Z")
SITE_SEGMENT = re.compile(r"[A-Za-z0-9_*]+\Z")


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


def _yaml_or_none(selection: IndexSelection | None) -> Any:
    return None if selection is None else selection.to_yaml()


def thaw(value: Any) -> Any:
    """The inverse of :func:`freeze`, for writing YAML."""
    if isinstance(value, Mapping):
        return {k: thaw(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [thaw(v) for v in value]
    return value


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


def has_layer_wildcard(site: str) -> bool:
    """Whether the site pattern leaves the block index open (``blocks.*....``)."""
    segments = site.split(".")
    return any(a == "blocks" and b == "*" for a, b in itertools.pairwise(segments))


def site_for_layer(site: str, layer: int) -> str:
    """Fill the block-index wildcard of ``blocks.*...`` with one layer."""
    segments = site.split(".")
    for i in range(len(segments) - 1):
        if segments[i] == "blocks" and segments[i + 1] == "*":
            segments[i + 1] = str(layer)
    return ".".join(segments)


@dataclass(frozen=True)
class Claim:
    id: str
    title: str
    source: str
    paper: Any = None
    notes: str | None = None

    def to_yaml(self) -> dict[str, Any]:
        return present(
            id=self.id,
            title=self.title,
            source=self.source,
            paper=thaw(self.paper),
            notes=self.notes,
        )


@dataclass(frozen=True)
class Data:
    """Which examples: the bench tier, how many, the seed of the draw, the split, the prompt."""

    tier: str
    n: int
    seed: int = 0
    split: str = "test"
    prompt: str = "text"
    spans: str = "any"

    def to_yaml(self) -> dict[str, Any]:
        out = {
            "tier": self.tier,
            "n": self.n,
            "seed": self.seed,
            "split": self.split,
            "prompt": self.prompt,
        }
        if self.spans != "any":  # the default is left out, as in most specs
            out["spans"] = self.spans
        return out


@dataclass(frozen=True)
class Sampler:
    method: str = "euler"
    steps: int = 16

    def to_yaml(self) -> dict[str, Any]:
        return {"method": self.method, "steps": self.steps}


@dataclass(frozen=True)
class Intervention:
    """An operation applied at every hook site the pattern names, on the selected steps.

    ``layers`` is None when the site has no ``blocks.*`` wildcard (a single site).
    """

    site: str
    op: str
    args: FrozenDict = field(default_factory=FrozenDict)
    layers: IndexSelection | None = None
    steps: IndexSelection = ALL
    line: int | None = field(default=None, compare=False, repr=False)
    lines: FrozenDict | None = field(default=None, compare=False, repr=False)
    path: str | None = field(default=None, compare=False, repr=False)

    def sites(self) -> tuple[str, ...]:
        """Concrete site names for an explicit layer selection, else the pattern itself."""
        if self.layers is None or self.layers.only is None:
            return (self.site,)
        return tuple(site_for_layer(self.site, layer) for layer in self.layers.only)

    def to_yaml(self) -> dict[str, Any]:
        return present(
            site=self.site,
            op=self.op,
            args=thaw(self.args) or None,
            layers=_yaml_or_none(self.layers),
            steps=self.steps.to_yaml(),
        )


@dataclass(frozen=True)
class PatchSource:
    """The second run a patch takes its activations from: another prompt and/or noise seed."""

    prompt: str = "alternative"
    seed: int | None = None
    line: int | None = field(default=None, compare=False, repr=False)

    def to_yaml(self) -> dict[str, Any]:
        return present(prompt=self.prompt, seed=self.seed)


@dataclass(frozen=True)
class Measure:
    """What is measured per example, and against what.

    compare=target: the metric of each run's output against the example's ground truth,
    intervened minus baseline. compare=baseline: the metric of the intervened output
    against the baseline output. compare=internal: a statistic of cached activations at
    ``site`` (intervened minus baseline, or the baseline's own value with no interventions).
    """

    metric: str
    compare: str = "target"
    reference: str | None = "prompted"
    args: FrozenDict = field(default_factory=FrozenDict)
    site: str | None = None
    layers: IndexSelection | None = None
    steps: IndexSelection | None = None
    line: int | None = field(default=None, compare=False, repr=False)
    lines: FrozenDict | None = field(default=None, compare=False, repr=False)
    path: str | None = field(default=None, compare=False, repr=False)

    def to_yaml(self) -> dict[str, Any]:
        return present(
            metric=self.metric,
            compare=self.compare,
            reference=self.reference,
            args=thaw(self.args) or None,
            site=self.site,
            layers=_yaml_or_none(self.layers),
            steps=_yaml_or_none(self.steps),
        )


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

    def to_yaml(self) -> dict[str, Any]:
        return present(
            direction=self.direction,
            test=self.test,
            alpha=self.alpha,
            min_effect_size=self.min_effect_size,
            margin=None if self.margin is None else list(self.margin),
            null_value=self.null_value,
            resamples=self.resamples,
        )


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
    symmetric: bool = False
    line: int | None = field(default=None, compare=False, repr=False)

    def to_yaml(self) -> dict[str, Any]:
        return present(
            max_n=self.max_n,
            chunk=self.chunk,
            method=self.method,
            bounds=None if self.bounds is None else list(self.bounds),
            prior_scale=self.prior_scale,
            symmetric=self.symmetric or None,
        )


@dataclass(frozen=True)
class Hypothesis:
    """One expanded hypothesis (one per parameter combination), with data/sampler merged."""

    id: str
    title: str
    variant: str | None
    interventions: tuple[Intervention, ...]
    measure: Measure
    expect: Expect
    data: Data
    sampler: Sampler
    source: PatchSource | None = None
    paper: Any = None
    notes: str | None = None
    outcome: str = "holds"
    reason: str | None = None
    family: str | None = None
    params: FrozenDict = field(default_factory=FrozenDict, compare=False)
    line: int | None = field(default=None, compare=False, repr=False)
    lines: FrozenDict | None = field(default=None, compare=False, repr=False)
    path: str | None = field(default=None, compare=False, repr=False)
    marks: tuple[str, ...] = ()  # pytest marks (names), besides the file's
    sequential: Sequential | None = None  # None: a fixed-n hypothesis (data.n examples)
    controls: tuple[Any, ...] = ()  # latentflow.spec.controls.Control, the file's ones first


@dataclass(frozen=True)
class FamilySpec:
    """A multiple-comparison family; ``name`` None is the file's default family."""

    name: str | None
    correction: str
    line: int | None = field(default=None, compare=False, repr=False)


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


@dataclass(frozen=True)
class FuzzSpec:
    """A property-based check: an invariant over interventions drawn from ``given``.

    ``template`` is the raw YAML of the check (placeholders unfilled); concrete examples
    are built from it by :meth:`latentflow.spec.plan.FuzzCheck.example`.
    """

    id: str
    invariant: str
    given: FrozenDict
    max_examples: int = DEFAULT_MAX_EXAMPLES
    title: str | None = None
    notes: str | None = None
    outcome: str = "holds"  # "fails": the invariant is known to be violated (reason says how)
    reason: str | None = None
    template: Any = field(default=None, compare=False, repr=False)
    line: int | None = field(default=None, compare=False, repr=False)
    path: str | None = field(default=None, compare=False, repr=False)
    marks: tuple[str, ...] = ()  # pytest marks (names), besides the file's


@dataclass(frozen=True)
class FuzzInstance:
    """One concrete example of a fuzz check: its template with drawn values filled in."""

    id: str
    variant: str | None
    invariant: str
    args: FrozenDict
    interventions: tuple[Intervention, ...]
    measure: Measure | None
    data: Data
    sampler: Sampler
    title: str | None = None
    notes: str | None = None
    values: FrozenDict = field(default_factory=FrozenDict, compare=False)
    line: int | None = field(default=None, compare=False, repr=False)
    path: str | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class Spec:
    """A loaded, validated spec file."""

    file: str
    version: int
    claim: Claim
    model: str
    data: Data
    sampler: Sampler
    hypotheses: tuple[Hypothesis, ...]
    family: FamilySpec | None = None
    families: tuple[FamilySpec, ...] = ()
    fuzz: tuple[FuzzSpec, ...] = ()
    model_line: int | None = field(default=None, compare=False, repr=False)  # None: no model key
    marks: tuple[str, ...] = ()  # pytest marks (names) of every hypothesis and fuzz check
