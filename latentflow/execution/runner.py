"""Running compiled cases: sampling runs (shared baselines), per-example measures, statistics.

A ``Runner`` holds a model and its world per model name, and memoises everything that several
hypotheses share: the examples of a data section, the baseline run of a (model, data, sampler,
recorded sites), and each case's raw test result (families are corrected over those). Runs
go in chunks of ``batch_size`` examples with one noise seed per example, so an example's numbers
do not depend on how many workers or which other hypotheses ran.

Variant batching (opt-in, ``batch_variants=True``; the plugin's ``--latentflow-batch-variants``):
the intervention runs that ``prepare`` sees for the same (model, data, sampler), with
activation operations only and no source run (``batchable``), are independent variants of one
computation, and may be sampled together: each chunk of examples is repeated once per variant
along the batch, every variant's hooks act on its own rows only, and the outputs are split back
into the runs ``run`` would have made (same memo keys). Each variant's rows see exactly the
inputs and noise of its sequential run, but a CPU or GPU matmul kernel may block a 20-row batch
differently from a 5-row one, so the numbers agree to float rounding (about 1e-7 relative), not
bit for bit: on the project's CI machine they differed in the 8th digit while this machine gave
equal bits. It is off by default because a case's numbers must not depend on which other cases
share its run (``pytest -k`` changes that), and on a 2-core CPU it brought no speed-up (85 s vs
83 s for ``pytest specs/ -n 2``). ``variants_per_forward`` bounds memory.
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
from dataclasses import asdict, dataclass, field
from typing import Any, Iterable, Mapping, Optional, Sequence

import numpy as np
import torch
from torch import Tensor

from .. import metrics as _metrics  # noqa: F401 - registers the built-in metrics
from ..interventions import OPERATIONS, InterventionContext, applied, batchable, check_fired, resolve_sites
from ..metrics import get_metric
from ..model import SamAudioModel, sample
from ..spec.parse import stats_design
from ..stats import TestResult, correct, evaluate
from ..stats.sequential import SequentialResult, sequential_test
from ..stats.sequential_corrections import correct_sequential
from .internal import INTERNAL_MEASURES, RecordContext
from .verdict import Verdict
from .world import CaseInputs, World, load_world

DIRECTIONS = {"decrease": "less", "increase": "greater", "two-sided": "two-sided", "equivalent": "two-sided"}


@dataclass
class RunOutput:
    """One sampling run over a case's examples."""

    final: Tensor  # (n, T, 2C)
    estimate: Tensor  # (n, N) decoded target waveforms
    records: dict = field(default_factory=dict)  # (site, step, evaluation) -> (n, ...) reduced values
    key: tuple = ()  # what determined the run (memo key)


@dataclass(frozen=True)
class CaseResult:
    """The uncorrected statistics of one case, with the numbers behind them.

    ``x_reasons`` / ``y_reasons``: per example, why its value is NaN (None where it is not).
    """

    result: TestResult
    x: np.ndarray
    y: Optional[np.ndarray]
    nan_reasons: tuple[str, ...]
    x_reasons: tuple[Optional[str], ...] = ()
    y_reasons: tuple[Optional[str], ...] = ()
    sequential: Optional[SequentialResult] = None  # a sequential case's decision (result: fixed-n numbers)


def _run_key(model_name: str, data: Any, sampler: Any, interventions: Sequence[Any], source: Any = None,
             record: tuple = (), steps_filter: Any = None) -> tuple:
    """What determines a run: the memo key of :meth:`Runner.run`."""
    return (model_name, data, sampler, tuple(interventions), source, record, steps_filter)


def _next_block(start: int, block: Optional[int]) -> int:
    """Where the block holding ``start`` ends (batches never cross a block boundary)."""
    return math.inf if block is None else (start // block + 1) * block


def _batch_starts(first: int, stop: int, block: int, batch_size: int) -> list[int]:
    """Batch starts covering first..stop-1: each block [j*block, (j+1)*block) split into
    batch_size pieces, so an example's batch depends on the block grid alone."""
    starts = []
    for block_start in range(first - first % block, stop, block):
        starts.extend(range(max(block_start, first), min(block_start + block, stop), batch_size))
    return starts


def example_seeds(data_seed: int, n: int) -> list[int]:
    """One noise seed per example, fixed by the data seed and the example's index alone."""
    return [int(data_seed) * 100_003 + i for i in range(n)]


class Runner:
    def __init__(self, *, device: str = "cpu", batch_size: int = 16, batch_variants: bool = False,
                 variants_per_forward: int = 4, text_encoder: Any = None) -> None:
        if variants_per_forward < 1:
            raise ValueError(f"variants_per_forward={variants_per_forward} must be at least 1")
        self.device = device
        self.text_encoder = text_encoder  # a local T5 folder for SAM Audio model folders, or None
        self.batch_size = batch_size
        self.batch_variants = batch_variants
        self.variants_per_forward = variants_per_forward
        # (model, data, sampler) -> intervention tuples that may share forward passes
        self._variants: dict[tuple, list[tuple]] = {}
        self.batch_log: list[tuple[tuple, int, str]] = []  # (group, variants, "batched" or why not)
        self._worlds: dict[str, World] = {}
        self._inputs: dict[tuple, CaseInputs] = {}
        self._runs: dict[tuple, RunOutput] = {}
        self._results: dict[tuple[Optional[str], str], CaseResult] = {}
        self._metrics: dict[tuple, tuple[np.ndarray, tuple[str, ...]]] = {}
        # Sites that internal measures of several cases read from the same runs: recorded once.
        self._record_union: dict[tuple, frozenset[str]] = {}
        # (run key, examples it had, examples it has now): each extension of a sequential run
        self.prefix_log: list[tuple[tuple, int, int]] = []

    # -- shared state ----------------------------------------------------------------------

    def _model_name_of(self, model: SamAudioModel) -> str:
        return next(name for name, world in self._worlds.items() if world.model is model)

    def world(self, model: str) -> World:
        if model not in self._worlds:
            self._worlds[model] = load_world(model, device=self.device, text_encoder=self.text_encoder)
        return self._worlds[model]

    def describe_models(self) -> dict[str, dict]:
        """Model name -> ``World.describe()`` of every model loaded so far (for results files)."""
        return {name: world.describe() for name, world in sorted(self._worlds.items())}

    def inputs(self, model: str, data: Any) -> CaseInputs:
        key = (model, data.tier, data.split, data.n, data.seed, data.prompt, data.spans)
        if key not in self._inputs:
            self._inputs[key] = self.world(model).inputs(data)
        return self._inputs[key]

    # -- runs ------------------------------------------------------------------------------

    def prepare(self, cases: Iterable[Any]) -> None:
        """Declare the cases about to run, so that internal measures which read different sites of
        the same runs (e.g. one hypothesis per layer) are recorded in one run instead of many."""
        groups: dict[tuple, set[str]] = {}
        for case in cases:
            if case.measure.compare != "internal":
                self._add_variant(case)
                continue
            model = self.world(case.model).model
            sites = self._record_sites(model, case.measure, union=False)
            groups.setdefault(self._record_group(case.model, case.measure), set()).update(sites)
        for group, sites in groups.items():
            self._record_union[group] = self._record_union.get(group, frozenset()) | frozenset(sites)

    def _add_variant(self, case: Any) -> None:
        # grouped per spec file: a file's cases run on one xdist worker, so a shared pass only
        # holds variants that this worker will use
        # a sequential case grows its own runs chunk by chunk (run_prefix), never a full run
        if case.source is None and getattr(case, "sequential", None) is None and batchable(case.interventions):
            variants = self._variants.setdefault((case.source_file, case.model, case.data, case.sampler), [()])
            if tuple(case.interventions) not in variants:
                variants.append(tuple(case.interventions))

    def select(self, cases: Iterable[Any]) -> None:
        """Only these cases will run (e.g. after ``pytest -k``): batch only their variants."""
        self._variants = {}
        for case in cases:
            if case.measure.compare != "internal":
                self._add_variant(case)

    @staticmethod
    def _record_group(model_name: str, measure: Any) -> tuple:
        return (model_name, measure.metric, measure.steps)

    def _record_sites(self, model: SamAudioModel, measure: Any, union: bool = True) -> tuple[str, ...]:
        """Hook sites to record for ``measure``: its own, or (``union``) all sites declared for
        its group by ``prepare``, so that runs are shared."""
        if measure.compare != "internal":
            return ()
        info = INTERNAL_MEASURES.get(measure.metric)
        site = measure.site or "blocks.*.attn.hook_pattern"
        layers = None if measure.layers is None else measure.layers.resolve(model.cfg.n_layers)
        names = tuple(resolve_sites(site, model.hook_dict, layers))
        bad = [n for n in names if not n.endswith(info.site_suffixes)]
        if bad:
            raise ValueError(f"internal measure {measure.metric!r} reads sites ending in {list(info.site_suffixes)}; got {bad}")
        if union:
            shared = self._record_union.get(self._record_group(self._model_name_of(model), measure), frozenset())
            if set(names) <= shared:
                return tuple(sorted(shared))
        return names

    def run(
        self,
        model_name: str,
        data: Any,
        sampler: Any,
        interventions: Sequence[Any] = (),
        *,
        measure: Any = None,
        source: Any = None,
        memo: bool = True,
    ) -> RunOutput:
        """Sample the data's examples with ``interventions``; ``measure`` says what to record.

        Results are memoised by everything that determines them; ``memo=False`` forces a fresh
        run (used to check that removing an intervention restores the baseline).
        """
        world = self.world(model_name)
        model = world.model
        inputs = self.inputs(model_name, data)
        record = self._record_sites(model, measure) if measure is not None else ()
        reducer = INTERNAL_MEASURES.get(measure.metric).reduce if record else None
        steps_filter = measure.steps if (measure is not None and record) else None
        key = _run_key(model_name, data, sampler, interventions, source, record, steps_filter)
        if memo and key in self._runs:
            return self._runs[key]
        if memo and self.batch_variants and not record and source is None:
            pending = self._pending_variants(model_name, data, sampler, tuple(interventions))
            if len(pending) > 1:
                self._run_variants(model_name, data, sampler, pending)
                if key in self._runs:
                    return self._runs[key]
        ((final, records),) = self._sample_chunks(model_name, data, sampler, [tuple(interventions)], source=source,
                                                  record=record, reducer=reducer, steps_filter=steps_filter)
        run = RunOutput(final=final, estimate=world.decode(final, inputs), records=records, key=key)
        if memo:
            self._runs[key] = run
        return run

    def _sample_chunks(self, model_name: str, data: Any, sampler: Any, variants: Sequence[tuple], *,
                       source: Any = None, record: tuple = (), reducer: Any = None,
                       steps_filter: Any = None, first: int = 0, stop: Optional[int] = None,
                       block: Optional[int] = None) -> list[tuple[Tensor, dict]]:
        """Sample the data's examples ``first..stop-1`` (default: all) once per intervention
        variant, in batches that start every ``block`` examples from 0 (default: batch_size) and
        hold at most batch_size, all variants in the same forward passes (each one's
        interventions act on its own rows; one variant runs alone). Returns (final, records)
        per variant; sources and records need one variant."""
        world = self.world(model_name)
        model = world.model
        inputs = self.inputs(model_name, data)
        shared = len(variants) > 1
        if shared and (source is not None or record):
            raise ValueError("patching sources and recorded sites need a run of their own")
        interventions = variants[0]
        needs_source = any(OPERATIONS.get(iv.op).requires_source for iv in interventions)
        patch_sites = sorted({n for iv in interventions if OPERATIONS.get(iv.op).requires_source
                              for n in resolve_sites(iv.site, model.hook_dict)})
        seeds = example_seeds(data.seed, data.n)
        finals: list[list[Tensor]] = [[] for _ in variants]
        fired: list[set[int]] = [set() for _ in variants]
        records: dict = {}
        stop = data.n if stop is None else stop
        for start in _batch_starts(first, stop, block or self.batch_size, self.batch_size):
            index = list(range(start, min(start + self.batch_size, stop, _next_block(start, block))))
            m = len(index)
            cond = inputs.cond.select(index * len(variants)).to(self.device)
            chunk_seeds = [seeds[i] for i in index] * len(variants)
            ctx = InterventionContext(model=model, example_keys=chunk_seeds, frame_mask=cond.audio_mask)
            if needs_source:
                ctx.source = self._source_activations(world, inputs, data, sampler, source, index, patch_sites)
            chunk_records: dict = {}
            hooks = []
            if record:
                rc = RecordContext(cond.audio_mask, cond.text_mask,
                                   None if inputs.span_frames is None else inputs.span_frames[index])
                hooks = [(name, _recorder(model, name, reducer, rc, chunk_records, steps_filter)) for name in record]
            with contextlib.ExitStack() as stack:
                for k, variant in enumerate(variants):
                    rows = slice(k * m, (k + 1) * m) if shared else None
                    stack.enter_context(applied(model, variant, ctx, rows=rows, fired=fired[k]))
                stack.enter_context(model.hooks(fwd_hooks=hooks))
                out = sample(model, cond, steps=sampler.steps, method=sampler.method, seeds=chunk_seeds)
            for k in range(len(variants)):
                finals[k].append(out.final[k * m:(k + 1) * m].cpu())
            for name, value in chunk_records.items():
                records.setdefault(name, []).append(value.cpu())
        # an intervention whose site never ran left the run equal to the baseline: an error, not
        # a result (with outcome: fails it would otherwise pass without testing anything)
        for variant, seen in zip(variants, fired):
            check_fired(model, variant, seen, why=lambda name: world.why_silent(name, data))
        joined = {name: torch.cat(values) for name, values in records.items()}
        return [(torch.cat(parts), joined) for parts in finals]

    def run_prefix(self, model_name: str, data: Any, sampler: Any, interventions: Sequence[Any] = (), *,
                   upto: int, block: int, measure: Any = None, source: Any = None) -> RunOutput:
        """The first ``upto`` examples of the data's run, for a sequential case: a run grows by
        sampling only the examples it lacks (a baseline run for 8 examples is extended, not
        recomputed, when a case needs 16), in batches on a grid of ``block`` examples, so its
        numbers do not depend on which case asked first or how far. Memoised per ``block``."""
        world = self.world(model_name)
        inputs = self.inputs(model_name, data)
        record = self._record_sites(world.model, measure) if measure is not None else ()
        reducer = INTERNAL_MEASURES.get(measure.metric).reduce if record else None
        steps_filter = measure.steps if (measure is not None and record) else None
        key = _run_key(model_name, data, sampler, interventions, source, record, steps_filter) + (("block", block),)
        grown = self._runs.get(key)
        done = 0 if grown is None else grown.final.shape[0]
        if upto > done:
            ((final, records),) = self._sample_chunks(
                model_name, data, sampler, [tuple(interventions)], source=source, record=record,
                reducer=reducer, steps_filter=steps_filter, first=done, stop=upto, block=block)
            estimate = world.decode(final, _rows(inputs, done, upto))
            if grown is not None:
                final = torch.cat([grown.final, final])
                estimate = torch.cat([grown.estimate, estimate])
                records = {name: torch.cat([grown.records[name], value]) for name, value in records.items()}
            grown = RunOutput(final=final, estimate=estimate, records=records, key=key)
            self._runs[key] = grown
            self.prefix_log.append((key, done, upto))
        return RunOutput(final=grown.final[:upto], estimate=grown.estimate[:upto],
                         records={name: value[:upto] for name, value in grown.records.items()},
                         key=key + (("upto", upto),))

    def _pending_variants(self, model_name: str, data: Any, sampler: Any, interventions: tuple) -> list[tuple]:
        """The not yet sampled variants of the spec file group that ``interventions`` belongs to."""
        for (_, *group), variants in self._variants.items():
            if tuple(group) == (model_name, data, sampler) and interventions in variants:
                return [v for v in variants if _run_key(model_name, data, sampler, v) not in self._runs]
        return []

    def _run_variants(self, model_name: str, data: Any, sampler: Any, variants: Sequence[tuple]) -> None:
        """Sample several intervention variants in shared forward passes and memoise each one's
        run under the key ``run`` gives it (see the module docstring)."""
        world = self.world(model_name)
        inputs = self.inputs(model_name, data)
        group = (model_name, data, sampler)
        for first in range(0, len(variants), self.variants_per_forward):
            batch = list(variants[first:first + self.variants_per_forward])
            try:
                outputs = self._sample_chunks(model_name, data, sampler, batch)
            except Exception as why:  # noqa: BLE001 - each variant then runs on its own and raises there
                # e.g. a 1-element site such as the anchor gate (NotBatchable), or a broken
                # user operation: its error then belongs to the case that uses it, not to all
                self.batch_log.append((group, len(batch), f"sequential: {why}"))
                for key in self._variants:
                    self._variants[key] = [v for v in self._variants[key] if v not in batch]
                continue
            self.batch_log.append((group, len(batch), "batched"))
            for interventions, (final, _) in zip(batch, outputs):
                key = _run_key(model_name, data, sampler, interventions)
                self._runs[key] = RunOutput(final=final, estimate=world.decode(final, inputs), records={}, key=key)

    def _source_activations(self, world, inputs, data, sampler, source, index, sites):
        which = "alternative" if source is None else source.prompt
        cond = inputs.conditioning(which).select(index).to(self.device)
        seed = data.seed if (source is None or source.seed is None) else source.seed
        seeds = [example_seeds(seed, data.n)[i] for i in index]
        out = sample(world.model, cond, steps=sampler.steps, method=sampler.method, seeds=seeds, cache=sites)
        return {(site, e.step, e.evaluation): c[site] for e, c in zip(out.evaluations, out.caches) for site in sites}

    # -- measures and statistics -------------------------------------------------------------

    def case_result(self, case: Any) -> CaseResult:
        # keyed by file and id: two spec files may use the same claim and hypothesis ids
        key = (case.source_file, case.case_id)
        if key in self._results:
            return self._results[key]
        if case.sequential is not None:
            out = self._sequential_result(case)
        else:
            inputs = self.inputs(case.model, case.data)
            base = self.run(case.model, case.data, case.sampler, measure=case.measure)
            treated = (
                self.run(case.model, case.data, case.sampler, case.interventions, measure=case.measure,
                         source=case.source)
                if case.interventions else None
            )
            x, y, reasons, x_reasons, y_reasons = self._values(case, base, treated, inputs)
            out = CaseResult(self._fixed_n_test(case, x, y), x, y, reasons, x_reasons, y_reasons)
        self._results[key] = out
        return out

    def _sequential_result(self, case: Any) -> CaseResult:
        """Run a sequential case look by look: the first k examples (k = chunk, 2 chunk, ...,
        max_n), decided after each; stops at the first look that is not "continue". The
        fixed-n test on the examples used is kept next to it (the decision is the sequential
        one)."""
        # a case of a corrected family of m stops at alpha / m (Bonferroni's share, fixed before
        # any data): stopping at alpha would stop near p = alpha, which a correction after
        # stopping then rejects (docs/sequential.md, "Families under optional stopping")
        family = case.family_size if case.correction != "none" else 1
        design = stats_design(case.sequential, case.expect, family_size=family)
        inputs = self.inputs(case.model, case.data)
        block = case.sequential.chunk
        for k in design.default_looks:
            base = self.run_prefix(case.model, case.data, case.sampler, upto=k, block=block, measure=case.measure)
            treated = (
                self.run_prefix(case.model, case.data, case.sampler, case.interventions, upto=k, block=block,
                                measure=case.measure, source=case.source)
                if case.interventions else None
            )
            x, y, reasons, x_reasons, y_reasons = self._values(case, base, treated, _rows(inputs, 0, k))
            decided = sequential_test(_differences(case, x, y), design)
            if decided.status != "continue":
                break
        if decided.status == "untestable" and reasons:  # say which measurement failed, and why
            decided = dataclasses.replace(
                decided, reason=f"{decided.reason}; the measure gave NaN: {'; '.join(sorted(set(reasons)))}")
        return CaseResult(self._fixed_n_test(case, x, y), x, y, reasons, x_reasons, y_reasons, decided)

    def _values(self, case: Any, base: RunOutput, treated: Optional[RunOutput], inputs: CaseInputs) -> tuple:
        """Both arms' per-example values of the case's measure: (x, y or None, NaN reasons,
        x's per-example reasons, y's)."""
        measure = case.measure
        reasons: list[str] = []
        x_reasons: list[Optional[str]] = []
        y_reasons: list[Optional[str]] = []
        if measure.compare == "internal":
            info = INTERNAL_MEASURES.get(measure.metric)
            own = set(self._record_sites(self.world(case.model).model, measure, union=False))
            x = info.aggregate(_only(treated or base, own), dict(measure.args))
            y = info.aggregate(_only(base, own), dict(measure.args)) if treated is not None else None
        elif measure.compare == "baseline":
            if treated is None:
                raise ValueError(f"{case.case_id}: compare: baseline needs interventions (nothing to compare)")
            x = self.metric_values(measure, treated, inputs, reference_run=base, reasons=reasons, each=x_reasons)
            y = None
        else:
            y_source = base if treated is not None else None
            x = self.metric_values(measure, treated or base, inputs, reasons=reasons, each=x_reasons)
            y = (self.metric_values(measure, y_source, inputs, reasons=reasons, each=y_reasons)
                 if y_source is not None else None)
        x = np.asarray(x, dtype=np.float64)
        y = None if y is None else np.asarray(y, dtype=np.float64)
        return x, y, tuple(reasons), tuple(x_reasons), tuple(y_reasons)

    @staticmethod
    def _fixed_n_test(case: Any, x: np.ndarray, y: Optional[np.ndarray]) -> TestResult:
        expect = case.expect
        data = x - float(expect.null_value) if y is None else (x, y)
        kwargs: dict[str, Any] = dict(test=expect.test, alpha=expect.alpha, seed=int(case.data.seed))
        if expect.test == "tost":
            kwargs["margin"] = tuple(expect.margin)
        else:
            kwargs["alternative"] = DIRECTIONS[expect.direction]
            kwargs["min_effect_size"] = expect.min_effect_size
        if expect.resamples is not None:
            kwargs["n_resamples"] = int(expect.resamples)
        return evaluate(data, **kwargs)

    def metric_values(self, measure: Any, run: RunOutput, inputs: CaseInputs, *, reference_run: RunOutput | None = None,
                      reasons: list[str], each: Optional[list] = None) -> np.ndarray:
        """Per-example values of an audio metric on a run's output (memoised: baselines are shared).

        ``reasons`` receives the NaN reasons; ``each`` (if given) one entry per example: its NaN
        reason, or None."""
        reference_name = measure.reference or "prompted"
        key = (run.key, measure.metric, reference_run.key if reference_run is not None else reference_name,
               tuple(sorted(dict(measure.args).items())))
        if key not in self._metrics:
            info = get_metric(measure.metric)
            reference = reference_run.estimate if reference_run is not None else inputs.reference(reference_name)
            available = {
                "estimate": run.estimate.numpy(),
                "reference": reference.numpy(),
                "mixture": inputs.mixtures.numpy(),
                "interference": (inputs.mixtures - reference).numpy(),
                "sample_rate": inputs.sample_rate,
                "span": inputs.spans,
            }
            args = {k: v for k, v in available.items() if k in info.inputs}
            args.update(dict(measure.args))
            result = info(**args)
            self._metrics[key] = (np.asarray(result.values, dtype=np.float64), tuple(r or None for r in result.reasons))
        values, found = self._metrics[key]
        reasons.extend(r for r in found if r)
        if each is not None:
            each.extend(found)
        return values

    # -- verdicts --------------------------------------------------------------------------

    def verdict(self, case: Any, family: Iterable[Any] = ()) -> Verdict:
        """The case's verdict; with ``family`` (all cases of its family), corrected over it."""
        raw = self.case_result(case)
        result, decided = raw.result, raw.sequential
        members = list(family)
        if case.correction != "none" and len(members) > 1:
            position = [m.case_id for m in members].index(case.case_id)
            if decided is not None:  # the spec refuses families that mix the two designs
                # each stopped at alpha / m; the correction judges the family at the spec's alpha
                decided = correct_sequential([self.case_result(m).sequential for m in members],
                                             case.correction)[position]
            else:
                result = correct([self.case_result(m).result for m in members], method=case.correction)[position]
        return Verdict(
            case_id=case.case_id, claim_id=case.claim.id, claim_title=case.claim.title,
            hypothesis_id=case.hypothesis_id, title=case.title, location=case.location, model=case.model,
            interventions=tuple(_describe(iv) for iv in case.interventions),
            measure=_describe_measure(case.measure), expectation=_describe_expect(case.expect),
            result=result, expected=case.outcome, expected_reason=case.reason,
            x_mean=_mean(raw.x), y_mean=None if raw.y is None else _mean(raw.y),
            nan_reasons=raw.nan_reasons, paper=_plain(case.paper), params=_plain(dict(case.params)),
            extra=self._extra(case, raw), examples=_examples(case, raw),
            claim_paper=_plain(case.claim.paper), order=case.index, sequential=decided,
        )

    def _extra(self, case: Any, raw: CaseResult) -> dict:
        """Per-site, per-step means of an internal measure's records (for reports: heatmaps);
        for ``entropy_rate`` also each site's baseline rate (the measure itself, averaged over
        the examples) and the spec's threshold, so a report classifies layers as the spec does."""
        if case.measure.compare != "internal":
            return {}
        if raw.sequential is None:
            base = self.run(case.model, case.data, case.sampler, measure=case.measure)
        else:  # the examples the case used, from its grown run
            base = self.run_prefix(case.model, case.data, case.sampler, upto=raw.sequential.n_used,
                                   block=case.sequential.chunk, measure=case.measure)
        own = set(self._record_sites(self.world(case.model).model, case.measure, union=False))
        records = _only(base, own)
        profile: dict[str, dict[str, float]] = {}
        for (site, step, evaluation), value in sorted(records.items(), key=lambda kv: str(kv[0])):
            if evaluation in (None, 0):
                profile.setdefault(site, {})[str(step)] = float(value.float().mean())
        extra: dict[str, Any] = {"baseline_profile": profile}
        if case.measure.metric == "entropy_rate":
            aggregate = INTERNAL_MEASURES.get("entropy_rate").aggregate
            extra["baseline_rates"] = {
                site: float(np.mean(aggregate({k: v for k, v in records.items() if k[0] == site}, dict(case.measure.args))))
                for site in sorted(profile)
            }
            if case.expect.null_value is not None:
                extra["stable_threshold"] = float(case.expect.null_value)
        return extra


def _examples(case: Any, raw: CaseResult) -> dict:
    """Everything needed to re-analyse a case without re-running it: the data and sampler, each
    example's noise seed, and both arms' per-example values (NaN as None, with its reason)."""
    def values(array: Optional[np.ndarray]) -> Optional[list]:
        return None if array is None else [float(v) if math.isfinite(v) else None for v in array.tolist()]

    def reasons(found: tuple, array: Optional[np.ndarray]) -> Optional[list]:
        return None if array is None else (list(found) if found else [None] * len(array))

    return {
        "data": asdict(case.data),
        "sampler": {"method": case.sampler.method, "steps": case.sampler.steps},
        # a sequential case: the first n_used of its max_n examples (data.n)
        "noise_seeds": example_seeds(case.data.seed, case.data.n if raw.sequential is None else raw.sequential.n_used),
        "null_value": float(case.expect.null_value),  # a one-sample test tests x - null_value
        "x": values(raw.x),
        "y": values(raw.y),
        "x_nan_reasons": reasons(raw.x_reasons, raw.x),
        "y_nan_reasons": reasons(raw.y_reasons, raw.y),
    }


def _rows(inputs: CaseInputs, first: int, stop: int) -> CaseInputs:
    """The examples first..stop-1 of ``inputs`` (what decoding and the metrics read; the
    conditioning stays whole, as sampling selects its rows itself)."""
    return dataclasses.replace(
        inputs, mixtures=inputs.mixtures[first:stop], targets=inputs.targets[first:stop],
        residuals=inputs.residuals[first:stop], spans=inputs.spans[first:stop],
        span_frames=None if inputs.span_frames is None else inputs.span_frames[first:stop],
        noise_seeds=inputs.noise_seeds[first:stop])


def _differences(case: Any, x: np.ndarray, y: Optional[np.ndarray]) -> np.ndarray:
    """What a sequential test decides on: x - y, or x - null_value for a one-sample measure
    (as the fixed-n tests read them)."""
    return x - float(case.expect.null_value) if y is None else x - y


def _only(run: RunOutput, sites: set[str]) -> dict:
    """A run's records of the given sites (a shared run may have recorded more)."""
    return {k: v for k, v in run.records.items() if k[0] in sites}


def _plain(value: Any) -> Any:
    """Frozen spec values (FrozenDict, tuples) as JSON-friendly dicts and lists."""
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def _recorder(model, name, reducer, rc, store, steps_filter):
    def hook(tensor, hook):
        state = model.sampling
        step, evaluation = (None, None) if state is None else (state.step, state.evaluation)
        if steps_filter is not None and step is not None and not steps_filter.contains(step):
            return None
        store[(name, step, evaluation)] = reducer(tensor.detach(), name, rc)
        return None

    return hook


def _mean(values: np.ndarray) -> Optional[float]:
    finite = values[np.isfinite(values)]
    return float(finite.mean()) if finite.size else None


def _describe(iv: Any) -> str:
    args = ", ".join(f"{k}={v}" for k, v in dict(iv.args).items())
    text = f"{iv.op}({args}) at {iv.site}"
    if iv.layers is not None and not iv.layers.is_all:
        text += f" layers {iv.layers.to_yaml()}"
    if iv.steps is not None and not iv.steps.is_all:
        text += f" steps {iv.steps.to_yaml()}"
    return text


def _describe_measure(m: Any) -> str:
    text = f"{m.metric} ({m.compare}"
    if m.compare == "target" and m.reference not in (None, "prompted"):
        text += f", against the {m.reference} source"
    if m.site is not None:
        text += f", at {m.site}"
    return text + ")"


def _describe_expect(e: Any) -> str:
    if e.test == "tost":
        return f"equivalent within {list(e.margin)} ({e.test}, alpha {e.alpha})"
    text = f"{e.direction} ({e.test}, alpha {e.alpha}"
    if e.min_effect_size is not None:
        text += f", |d| >= {e.min_effect_size}"
    if not math.isclose(e.null_value, 0.0):
        text += f", null {e.null_value}"
    return text + ")"
