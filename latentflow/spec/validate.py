"""Check a spec's names against what exists: hook sites, operations, metrics, invariants.

Nothing here imports the model or the intervention engine: callers inject what exists.

- ``sites``: the real hook names (any iterable of text; patterns with ``*`` must match at
  least one), or a predicate ``pattern -> bool`` (suggestions then come from its optional
  ``names`` attribute).
- ``silent``: optional ``(hook name, Data) -> reason or None``: why the model never runs a
  hook point for a data section (e.g. the text projection with a span-only prompt); an
  intervention or measure there is an error, since it would test nothing.
- ``operations``, ``metrics``, ``invariants``: :class:`latentflow.registry.Registry`
  objects (or any mapping name -> entry). An entry may declare, as attributes or mapping
  keys:

  - ``params``: name -> :class:`latentflow.registry.Param` (or ``(type, default, doc)``);
    the spec's ``args`` are checked against it.
  - operations: ``requires_source = True`` for operations that read a second run (patch).
  - metrics: ``compare``, the compare modes the metric supports (e.g.
    ``("target", "baseline")`` for an audio metric, ``("internal",)`` for an attention
    statistic), as :class:`latentflow.metrics.MetricInfo` declares it.
  - invariants: ``requires_measure = True`` when the invariant compares a metric.

Any of them left as None is not checked.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from latentflow.registry import Param, arg_problems, declared_flag, declared_params, nearest_names
from latentflow.site_patterns import layer_of, pattern_regex, probe, site_for_layer
from latentflow.spec import schema as s
from latentflow.spec.derived import beyond_depth
from latentflow.spec.errors import SpecError, SpecIssue, did_you_mean, listing, show
from latentflow.spec.expand import variant_label
from latentflow.spec.fuzz import corner_values
from latentflow.spec.fuzz_template import checked_draws, fill_example
from latentflow.spec.reader import Reader
from latentflow.vocabulary import RENAMED

Sites = Iterable[str] | Callable[[str], bool] | None


class SiteCatalog:
    """Answers whether a site pattern names real hook sites, and which real names are near."""

    def __init__(self, sites: Iterable[str] | Callable[[str], bool]):
        if callable(sites) and not isinstance(sites, (list, tuple, set, frozenset, dict)):
            self._predicate = sites
            self.names = tuple(sorted(getattr(sites, "names", ()) or ()))
        else:
            self.names = tuple(sorted(set(sites)))
            self._predicate = self._match_names

    def _match_names(self, pattern: str) -> bool:
        regex = pattern_regex(pattern)
        return any(regex.fullmatch(name) for name in self.names)

    def matches(self, pattern: str) -> bool:
        return bool(self._predicate(pattern))

    def nearest(self, pattern: str) -> list[str]:
        return nearest_names(probe(pattern), self.names, n=3)


def find_issues(
    spec: s.Spec,
    *,
    sites: Sites = None,
    operations: Mapping[str, Any] | Any = None,
    metrics: Mapping[str, Any] | Any = None,
    invariants: Mapping[str, Any] | Any = None,
    silent: Callable[[str, s.Data], str | None] | None = None,
) -> tuple[SpecIssue, ...]:
    """Every name problem in ``spec``; empty when everything exists."""
    checker = _Checker(
        spec.file,
        SiteCatalog(sites) if sites is not None else None,
        operations,
        metrics,
        invariants,
        silent,
    )
    for h in spec.hypotheses:
        label = variant_label(h.params) if h.params else h.variant  # as parsing names it
        r = checker.reader.within(f"variant {label}" if label else None)
        checker.interventions(h.interventions, r, has_source=h.source is not None)
        checker.fires(h.interventions, h.measure, h.data, r)
        checker.source(h, r)
        checker.measure(h.measure, r)
        if h.measure.versus is not None:  # the second intervened run's names, like the hypothesis's own
            checker.interventions(h.measure.versus.interventions, r, has_source=h.source is not None)
            checker.fires(h.measure.versus.interventions, None, h.data, r)
        for control in h.controls:  # an intervention control's names, like the hypothesis's own
            if control.interventions is not None:
                checker.interventions(control.interventions, r, has_source=h.source is not None)
                checker.fires(control.interventions, h.measure, h.data, r)
    for check in spec.fuzz:
        checker.invariant(check)
        checker.fuzz_draws(check)
    return tuple(checker.reader.issues)


def find_orphan_issues(
    file: str,
    orphans: Iterable[tuple[Any, str | None]],
    *,
    sites: Sites = None,
    operations: Any = None,
    metrics: Any = None,
    invariants: Any = None,
) -> tuple[SpecIssue, ...]:
    """Name problems of interventions/measures whose hypothesis failed to parse."""
    checker = _Checker(
        file, SiteCatalog(sites) if sites is not None else None, operations, metrics, invariants
    )
    for piece, context in orphans:
        r = checker.reader.within(context)
        if isinstance(piece, s.Intervention):
            checker.interventions((piece,), r, has_source=True)  # the source is unknown here
        else:
            checker.measure(piece, r)
    return tuple(checker.reader.issues)


def validate(spec: s.Spec, **registries: Any) -> s.Spec:
    """``spec`` unchanged if all its names exist; otherwise SpecError with every problem.

    Keyword arguments as for :func:`find_issues`.
    """
    issues = find_issues(spec, **registries)
    if issues:
        raise SpecError(issues)
    return spec


class _Checker:
    def __init__(
        self,
        file: str,
        sites: SiteCatalog | None,
        operations: Any,
        metrics: Any,
        invariants: Any,
        silent: Callable[[str, s.Data], str | None] | None = None,
    ):
        self.reader = Reader(file)
        self.sites = sites
        self.operations = operations
        self.metrics = metrics
        self.invariants = invariants
        self.silent = silent

    # -- sites the data never runs ------------------------------------------------------------

    def fires(
        self,
        interventions: tuple[s.Intervention, ...],
        measure: s.Measure | None,
        data: s.Data,
        r: Reader,
    ) -> None:
        """An intervention (or an internal measure) at a hook point the model never runs for
        this data would leave the run equal to the baseline: refuse it, saying why."""
        if self.silent is None:
            return
        pieces: list[Any] = list(interventions)
        if measure is not None and measure.site is not None:
            pieces.append(measure)
        for item in pieces:
            why = next(
                (reason for name in self._concrete(item) if (reason := self.silent(name, data))),
                None,
            )
            if why is None:
                continue
            lines: Mapping[str, int | None] = item.lines or {}
            what = "intervention" if isinstance(item, s.Intervention) else "measure"
            r.report(
                None,
                None,
                f"{item.path}.site",
                f"this {what}'s site never runs for the declared data: {why}",
                value=item.site,
                allowed="a site the model runs for this data, or data that makes it run",
                line=lines.get("site", item.line),
            )

    # -- sites ------------------------------------------------------------------------------

    def site(
        self, site: str, layers: s.IndexSelection | None, path: str, line: int | None, r: Reader
    ) -> None:
        if self.sites is None:
            return
        concrete = [site]
        if layers is not None and not layers.is_all:
            concrete = [site_for_layer(site, layer) for layer in layers.endpoints()]
        for name in concrete:
            if self.sites.matches(name):
                continue
            near = self.sites.nearest(name)
            if near:
                allowed = "nearest real sites: " + listing(near)
            elif self.sites.names:
                allowed = (
                    f"{len(self.sites.names)} real sites, e.g. {listing(self.sites.names[:4])}"
                )
            else:
                allowed = "a site the model defines"
            # `hook_cross_out` for `blocks.*.hook_cross_out`: the block prefix was forgotten
            prefixed = f"blocks.*.{name}"
            hint = (
                f"did you mean {prefixed!r}?"
                if not name.startswith("blocks.") and self.sites.matches(prefixed)
                else beyond_depth(name, self.sites.names)
            )
            what = (
                "hook site"
                if name == site
                else f"hook site (with layer filled in from {path.rsplit('.', 1)[0]}.layers)"
            )
            r.report(
                None, None, path, f"unknown {what}", value=name, allowed=allowed, hint=hint, line=line
            )
            return

    # -- operations -------------------------------------------------------------------------

    def interventions(
        self, interventions: tuple[s.Intervention, ...], r: Reader, has_source: bool
    ) -> None:
        for item in interventions:
            lines: Mapping[str, int | None] = item.lines or {}
            self.site(item.site, item.layers, f"{item.path}.site", lines.get("site", item.line), r)
            entry = self._entry(
                self.operations,
                "operation",
                item.op,
                f"{item.path}.op",
                lines.get("op", item.line),
                r,
            )
            if entry is None:
                continue
            self._args(entry, "operation", item.op, item.args, item.path, lines, item.line, r)
            self._acts_on(entry, item, r)
            if declared_flag(entry, "requires_source", False) and not has_source:
                r.report(
                    None,
                    None,
                    f"{item.path}.op",
                    f"operation {item.op!r} takes activations from a second run, and there is none",
                    value=item.op,
                    allowed="add source: {prompt: alternative} to the hypothesis (fuzz checks cannot patch)",
                    line=lines.get("op", item.line),
                )
        self._one_pattern_op_per_site(interventions, r)

    def _concrete(self, item: s.Intervention) -> list[str]:
        """The hook names an intervention acts on, as far as they are known without a model."""
        if self.sites is not None and self.sites.names:
            regex = pattern_regex(item.site)
            names = [n for n in self.sites.names if regex.fullmatch(n)]
            if item.layers is not None and not item.layers.is_all:
                names = [n for n in names if (layer := layer_of(n)) is None or item.layers.contains(layer)]
            return names
        if item.layers is not None and not item.layers.is_all and item.layers.only is not None:
            return [site_for_layer(item.site, layer) for layer in item.layers.only]
        return [site_for_layer(item.site, 0)]

    def _acts_on(self, entry: Any, item: s.Intervention, r: Reader) -> None:
        # The operation declares which sites it can act on (latentflow.interventions.sites),
        # so the engine and this check read the same definition.
        kind = declared_flag(entry, "acts_on", None)
        if kind is None:
            return
        wrong = [name for name in self._concrete(item) if "*" not in name and not kind.accepts(name)]
        if wrong:
            lines: Mapping[str, int | None] = item.lines or {}
            r.report(
                None,
                None,
                f"{item.path}.site",
                f"operation {item.op!r} cannot act on this site",
                value=item.site if wrong == [item.site] else f"{item.site} ({wrong[0]})",
                allowed=f"operation {item.op!r} acts only on {kind.describe()}",
                line=lines.get("site", item.line),
            )

    def _one_pattern_op_per_site(self, interventions: tuple[s.Intervention, ...], r: Reader) -> None:
        # An attention module takes one pattern override at a time: a second would replace
        # the first, so the engine refuses the pair; say so here, with the line.
        if self.operations is None:
            return
        taken: dict[str, s.Intervention] = {}
        for item in interventions:
            entry = self._get(self.operations, item.op) if item.op in self.operations else None
            if declared_flag(entry, "kind", None) != "pattern":
                continue
            for name in self._concrete(item):
                first = taken.get(name)
                if first is None:
                    taken[name] = item
                    continue
                lines: Mapping[str, int | None] = item.lines or {}
                r.report(
                    None,
                    None,
                    f"{item.path}.site",
                    f"two pattern operations on {name} ({first.op!r} at line "
                    f"{_line_of(first, 'site')} and {item.op!r})",
                    value=item.site,
                    allowed="one pattern operation per attention site in one intervention list",
                    line=lines.get("site", item.line),
                )
                break

    def source(self, h: s.Hypothesis, r: Reader) -> None:
        if h.source is None or self.operations is None:
            return
        versus = h.measure.versus.interventions if h.measure.versus is not None else ()
        if any(
            declared_flag(self._get(self.operations, i.op), "requires_source", False)
            for i in h.interventions + versus
        ):
            return
        patching = [
            name
            for name in _names(self.operations)
            if declared_flag(self._get(self.operations, name), "requires_source", False)
        ]
        r.report(
            None,
            None,
            f"{h.path}.source",
            "no intervention reads the source run, so it would be ignored",
            value=h.source.to_yaml(),
            allowed=f"a source with an operation that uses it: {listing(patching) or 'none registered'}",
            line=h.source.line,
        )

    # -- metrics ----------------------------------------------------------------------------

    def measure(self, measure: s.Measure, r: Reader) -> None:
        lines: Mapping[str, int | None] = measure.lines or {}
        if measure.site is not None:
            self.site(
                measure.site,
                measure.layers,
                f"{measure.path}.site",
                lines.get("site", measure.line),
                r,
            )
        entry = self._entry(
            self.metrics,
            "metric",
            measure.metric,
            f"{measure.path}.metric",
            lines.get("metric", measure.line),
            r,
        )
        if entry is None:
            return
        self._args(
            entry, "metric", measure.metric, measure.args, measure.path, lines, measure.line, r
        )
        fits = declared_flag(entry, "compare", None)
        if fits is not None and measure.compare not in tuple(fits):
            r.report(
                None,
                None,
                f"{measure.path}.compare",
                f"metric {measure.metric!r} cannot compare {measure.compare}",
                value=measure.compare,
                allowed=f"compare: {listing(fits)}",
                line=lines.get("compare", lines.get("metric", measure.line)),
            )

    # -- fuzz checks ------------------------------------------------------------------------

    def fuzz_draws(self, check: s.FuzzSpec) -> None:
        """The corners of the check's strategies, then (if they pass) the other draws a run may
        make, up to the first that fails: the compiled template filled, no YAML read."""
        assert check.template is not None
        corners = corner_values(check.given)
        start = self.reader.mark()
        for values in corners:
            self.fuzz_example(check, values)
        if self.reader.failed_since(start):
            return
        for values in checked_draws(check.given):
            if values not in corners:
                self.fuzz_example(check, values)
                if self.reader.failed_since(start):
                    return

    def fuzz_example(self, check: s.FuzzSpec, values: dict[str, Any]) -> None:
        assert check.template is not None
        instance = fill_example(check.template, values)
        r = self.reader.within(f"example {variant_label(values)}" if values else None)
        self.interventions(instance.interventions, r, has_source=False)
        self.fires(instance.interventions, instance.measure, instance.data, r)
        if instance.measure is not None:
            self.measure(instance.measure, r)
        self.invariant_measure(check, instance, r)

    # -- invariants -------------------------------------------------------------------------

    def invariant(self, check: s.FuzzSpec) -> None:
        lines: Mapping[str, int] = check.lines or {}
        self._entry(
            self.invariants,
            "invariant",
            check.invariant,
            f"{check.path}.invariant",
            lines.get("invariant", check.line),
            self.reader,
        )

    def invariant_measure(self, check: s.FuzzSpec, instance: s.FuzzInstance, r: Reader) -> None:
        entry = self._get(self.invariants, check.invariant) if self.invariants is not None else None
        if entry is None:
            return
        self._args(
            entry,
            "invariant",
            check.invariant,
            instance.args,
            check.path,
            check.lines or {},
            check.line,
            r,
        )
        needs = bool(declared_flag(entry, "requires_measure", False))
        if needs and instance.measure is None:
            r.report(
                None,
                None,
                f"{check.path}.measure",
                f"invariant {check.invariant!r} compares a metric: add a measure",
                allowed="measure: {metric: ..., compare: baseline}",
                line=check.line,
            )
        if not needs and instance.measure is not None:
            r.report(
                None,
                None,
                f"{check.path}.measure",
                f"invariant {check.invariant!r} uses no measure, so it would be ignored",
                value=instance.measure.metric,
                allowed="no measure key for this invariant",
                line=check.lines.get("measure", check.line) if check.lines else check.line,
            )

    # -- helpers ----------------------------------------------------------------------------

    @staticmethod
    def _get(registry: Any, name: str) -> Any:
        try:
            return registry.get(name) if not isinstance(registry, Mapping) else registry[name]
        except LookupError:
            return None

    def _entry(
        self, registry: Any, kind: str, name: str, path: str, line: int | None, r: Reader
    ) -> Any:
        if registry is None:
            return None
        if name in registry:
            return self._get(registry, name)
        names = _names(registry)
        r.report(
            None,
            None,
            path,
            f"unknown {kind}",
            value=name,
            allowed=f"registered {kind}s: {listing(names) or 'none'}",
            hint=did_you_mean(name, names),
            line=line,
        )
        return None

    def _args(
        self,
        entry: Any,
        kind: str,
        name: str,
        args: Mapping[str, Any],
        path: str | None,
        lines: Mapping[str, int | None],
        line: int | None,
        r: Reader,
    ) -> None:
        params = declared_params(entry)
        described = listing(f"{key} ({_describe(p)})" for key, p in params.items()) or "none"
        for problem in arg_problems(params, args):
            key = problem.key
            where = lines.get(f"args.{key}", lines.get("args", line))
            if problem.problem == "unknown" and RENAMED.get(key) in params:
                r.report(None, None, f"{path}.args.{key}", f"argument {key!r} of {kind} {name!r} was renamed "
                         f"{RENAMED[key]!r}", value=key, allowed=described, line=where)
            elif problem.problem == "unknown":
                r.report(
                    None,
                    None,
                    f"{path}.args.{key}",
                    f"{kind} {name!r} has no argument {key!r}",
                    value=key,
                    allowed=described,
                    hint=did_you_mean(key, list(params)),
                    line=where,
                )
            elif problem.problem == "wrong":
                r.report(
                    None,
                    None,
                    f"{path}.args.{key}",
                    f"wrong value for argument {key!r} of {kind} {name!r}",
                    value=args[key],
                    allowed=_describe(params[key]),
                    line=where,
                )
            else:
                r.report(
                    None,
                    None,
                    f"{path}.args.{key}",
                    f"{kind} {name!r} needs argument {key!r}",
                    allowed=described,
                    line=lines.get("args", lines.get("op", line)),
                )


def _names(registry: Any) -> list[str]:
    if hasattr(registry, "names"):
        return list(registry.names())
    return sorted(registry)


def _line_of(item: s.Intervention, key: str) -> int | None:
    """The line of one of an intervention's keys, else of the intervention."""
    lines: Mapping[str, int | None] = item.lines or {}
    return lines.get(key, item.line)


def _describe(param: Param) -> str:
    text = param.type_name()
    if param.choices is not None:
        text += ", one of " + "|".join(str(c) for c in param.choices)
    text += ", required" if param.required else f", default {show(param.default)}"
    if param.doc:
        text += f": {param.doc}"
    return text
