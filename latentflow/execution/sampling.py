"""Sampling: a cache of runs. A run is the data's examples sampled on one model with one set of
interventions (and, if asked, reduced activations recorded at some sites); it is memoised by
everything that determines it, so hypotheses share their baselines.

Runs go in chunks of ``batch_size`` examples with one noise seed per example, so an example's
numbers do not depend on how many workers or which other hypotheses ran.

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
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor

from ..interventions import OPERATIONS, InterventionContext, applied, batchable, check_fired, resolve_sites
from ..model import SamAudioModel, sample
from ..spec import Case, Data, IndexSelection, Intervention, PatchSource, Sampler
from .internal import RecordContext
from .world import CaseInputs, World, load_world

Interventions = tuple[Intervention, ...]
# (site, step, evaluation) -> (n, ...) reduced values
RunRecords = dict[tuple[str, int | None, int | None], Tensor]


@dataclass
class RunOutput:
    """One sampling run over a case's examples."""

    final: Tensor  # (n, T, 2C)
    estimate: Tensor  # (n, N) decoded target waveforms
    records: RunRecords = field(default_factory=dict)
    key: tuple = ()  # what determined the run (memo key)
    # the first examples of a growing run (RunCache.run_prefix): that run's key; None for a whole run
    prefix_of: tuple | None = None

    @property
    def rows_key(self) -> tuple:
        """What determines each row of this output: its example i is example i of every output
        with the same rows_key (a prefix shares it with the run it grows into), so per-example
        values computed on one may be reused on the other."""
        return self.key if self.prefix_of is None else self.prefix_of


@dataclass(frozen=True)
class Recording:
    """What a run records at its hook sites: each site's activation reduced per example
    (``reduce(tensor, site, context)``), on the sampler steps ``steps`` selects (all if None)."""

    sites: tuple[str, ...]
    reduce: Callable[[Tensor, str, RecordContext], Tensor]
    steps: IndexSelection | None = None


def example_seeds(data_seed: int, n: int) -> list[int]:
    """One noise seed per example, fixed by the data seed and the example's index alone."""
    return [int(data_seed) * 100_003 + i for i in range(n)]


def run_key(model_name: str, data: Data, sampler: Sampler, interventions: Sequence[Intervention],
            source: PatchSource | None = None, recording: Recording | None = None) -> tuple:
    """What determines a run: the memo key of :meth:`RunCache.run`. The reducer is part of it:
    two internal measures that reduce the same sites differently must not share records."""
    if recording is None:
        return (model_name, data, sampler, tuple(interventions), source, (), None, None)
    return (model_name, data, sampler, tuple(interventions), source, recording.sites, recording.steps,
            recording.reduce)


def rows(inputs: CaseInputs, first: int, stop: int) -> CaseInputs:
    """The examples first..stop-1 of ``inputs`` (what decoding and the metrics read; the
    conditioning stays whole, as sampling selects its rows itself)."""
    return dataclasses.replace(
        inputs, mixtures=inputs.mixtures[first:stop], targets=inputs.targets[first:stop],
        residuals=inputs.residuals[first:stop], spans=inputs.spans[first:stop],
        span_frames=None if inputs.span_frames is None else inputs.span_frames[first:stop],
        noise_seeds=inputs.noise_seeds[first:stop])


def _next_block(start: int, block: int | None) -> float:
    """Where the block holding ``start`` ends (batches never cross a block boundary)."""
    return math.inf if block is None else (start // block + 1) * block


def _batch_starts(first: int, stop: int, block: int, batch_size: int) -> list[int]:
    """Batch starts covering first..stop-1: each block [j*block, (j+1)*block) split into
    batch_size pieces, so an example's batch depends on the block grid alone."""
    starts: list[int] = []
    for block_start in range(first - first % block, stop, block):
        starts.extend(range(max(block_start, first), min(block_start + block, stop), batch_size))
    return starts


class RunCache:
    """The worlds (model + data pipeline) by model name, the examples of each data section, and
    every run made so far."""

    def __init__(self, *, device: str = "cpu", batch_size: int = 16, batch_variants: bool = False,
                 variants_per_forward: int = 4, text_encoder: str | None = None) -> None:
        if variants_per_forward < 1:
            raise ValueError(f"variants_per_forward={variants_per_forward} must be at least 1")
        self.device = device
        self.text_encoder = text_encoder  # a local T5 folder for SAM Audio model folders, or None
        self.batch_size = batch_size
        self.batch_variants = batch_variants
        self.variants_per_forward = variants_per_forward
        # (spec file, model, data, sampler) -> intervention tuples that may share forward passes
        self._variants: dict[tuple, list[Interventions]] = {}
        self.batch_log: list[tuple[tuple, int, str]] = []  # (group, variants, "batched" or why not)
        self._worlds: dict[str, World] = {}
        self._inputs: dict[tuple, CaseInputs] = {}
        self._runs: dict[tuple, RunOutput] = {}
        # (run key, examples it had, examples it has now): each extension of a sequential run
        self.prefix_log: list[tuple[tuple, int, int]] = []

    @property
    def run_keys(self) -> tuple[tuple, ...]:
        """The keys (:func:`run_key`) of the runs made so far, in order: what was shared."""
        return tuple(self._runs)

    # -- worlds and examples -----------------------------------------------------------------

    def world(self, model: str) -> World:
        if model not in self._worlds:
            self._worlds[model] = load_world(model, device=self.device, text_encoder=self.text_encoder)
        return self._worlds[model]

    def describe_models(self) -> dict[str, dict]:
        """Model name -> ``World.describe()`` of every model loaded so far (for results files)."""
        return {name: world.describe() for name, world in sorted(self._worlds.items())}

    def inputs(self, model: str, data: Data) -> CaseInputs:
        key = (model, data.tier, data.split, data.n, data.seed, data.prompt, data.spans)
        if key not in self._inputs:
            self._inputs[key] = self.world(model).inputs(data)
        return self._inputs[key]

    # -- which variants may share forward passes ----------------------------------------------

    def add_variant(self, case: Case) -> None:
        # grouped per spec file: a file's cases run on one xdist worker, so a shared pass only
        # holds variants that this worker will use
        # a sequential case grows its own runs chunk by chunk (run_prefix), never a full run
        if case.source is None and case.sequential is None and batchable(case.interventions):
            variants = self._variants.setdefault((case.source_file, case.model, case.data, case.sampler), [()])
            if tuple(case.interventions) not in variants:
                variants.append(tuple(case.interventions))

    def forget_variants(self) -> None:
        self._variants = {}

    # -- runs ----------------------------------------------------------------------------------

    def run(self, model_name: str, data: Data, sampler: Sampler, interventions: Sequence[Intervention] = (), *,
            recording: Recording | None = None, source: PatchSource | None = None,
            memo: bool = True) -> RunOutput:
        """Sample the data's examples with ``interventions``, recording what ``recording`` says.

        Results are memoised by everything that determines them; ``memo=False`` forces a fresh
        run (used to check that removing an intervention restores the baseline).
        """
        world = self.world(model_name)
        inputs = self.inputs(model_name, data)
        key = run_key(model_name, data, sampler, interventions, source, recording)
        if memo and key in self._runs:
            return self._runs[key]
        if memo and self.batch_variants and recording is None and source is None:
            pending = self._pending_variants(model_name, data, sampler, tuple(interventions))
            if len(pending) > 1:
                self._run_variants(model_name, data, sampler, pending)
                if key in self._runs:
                    return self._runs[key]
        ((final, records),) = self._sample_chunks(model_name, data, sampler, [tuple(interventions)], source=source,
                                                  recording=recording)
        run = RunOutput(final=final, estimate=world.decode(final, inputs), records=records, key=key)
        if memo:
            self._runs[key] = run
        return run

    def run_prefix(self, model_name: str, data: Data, sampler: Sampler, interventions: Sequence[Intervention] = (),
                   *, upto: int, block: int, recording: Recording | None = None,
                   source: PatchSource | None = None) -> RunOutput:
        """The first ``upto`` examples of the data's run, for a sequential case: a run grows by
        sampling only the examples it lacks (a baseline run for 8 examples is extended, not
        recomputed, when a case needs 16), in batches on a grid of ``block`` examples, so its
        numbers do not depend on which case asked first or how far. Memoised per ``block``."""
        world = self.world(model_name)
        inputs = self.inputs(model_name, data)
        key = (*run_key(model_name, data, sampler, interventions, source, recording), ("block", block))
        grown = self._runs.get(key)
        done = 0 if grown is None else grown.final.shape[0]
        if upto > done:
            ((final, records),) = self._sample_chunks(
                model_name, data, sampler, [tuple(interventions)], source=source, recording=recording,
                first=done, stop=upto, block=block)
            estimate = world.decode(final, rows(inputs, done, upto))
            if grown is not None:
                final = torch.cat([grown.final, final])
                estimate = torch.cat([grown.estimate, estimate])
                records = {name: torch.cat([grown.records[name], value]) for name, value in records.items()}
            grown = RunOutput(final=final, estimate=estimate, records=records, key=key)
            self._runs[key] = grown
            self.prefix_log.append((key, done, upto))
        if grown is None:
            raise ValueError(f"a run prefix needs at least one example; got upto={upto}")
        return RunOutput(final=grown.final[:upto], estimate=grown.estimate[:upto],
                         records={name: value[:upto] for name, value in grown.records.items()},
                         key=(*key, ("upto", upto)), prefix_of=key)

    def _sample_chunks(self, model_name: str, data: Data, sampler: Sampler, variants: Sequence[Interventions], *,
                       source: PatchSource | None = None, recording: Recording | None = None,
                       first: int = 0, stop: int | None = None,
                       block: int | None = None) -> list[tuple[Tensor, RunRecords]]:
        """Sample the data's examples ``first..stop-1`` (default: all) once per intervention
        variant, in batches that start every ``block`` examples from 0 (default: batch_size) and
        hold at most batch_size, all variants in the same forward passes (each one's
        interventions act on its own rows; one variant runs alone). Returns (final, records)
        per variant; sources and records need one variant."""
        world = self.world(model_name)
        model = world.model
        inputs = self.inputs(model_name, data)
        shared = len(variants) > 1
        if shared and (source is not None or recording is not None):
            raise ValueError("patching sources and recorded sites need a run of their own")
        interventions = variants[0]
        needs_source = any(OPERATIONS.get(iv.op).requires_source for iv in interventions)
        patch_sites = sorted({n for iv in interventions if OPERATIONS.get(iv.op).requires_source
                              for n in resolve_sites(iv.site, model.hook_dict)})
        seeds = example_seeds(data.seed, data.n)
        finals: list[list[Tensor]] = [[] for _ in variants]
        fired: list[set[int]] = [set() for _ in variants]
        records: dict[tuple, list[Tensor]] = {}
        stop = data.n if stop is None else stop
        for start in _batch_starts(first, stop, block or self.batch_size, self.batch_size):
            index = list(range(start, int(min(start + self.batch_size, stop, _next_block(start, block)))))
            m = len(index)
            cond = inputs.cond.select(index * len(variants)).to(self.device)
            chunk_seeds = [seeds[i] for i in index] * len(variants)
            ctx = InterventionContext(model=model, example_keys=chunk_seeds, frame_mask=cond.audio_mask)
            if needs_source:
                ctx.source = self._source_activations(world, inputs, data, sampler, source, index, patch_sites)
            chunk_records: RunRecords = {}
            hooks: list[tuple[str | Callable[..., Any], Callable[..., Any]]] = []
            if recording is not None:
                rc = RecordContext(cond.audio_mask, cond.text_mask,
                                   None if inputs.span_frames is None else inputs.span_frames[index])
                hooks = [(name, _recorder(model, name, recording, rc, chunk_records)) for name in recording.sites]
            with contextlib.ExitStack() as stack:
                for k, variant in enumerate(variants):
                    selected = slice(k * m, (k + 1) * m) if shared else None
                    stack.enter_context(applied(model, variant, ctx, rows=selected, fired=fired[k]))
                stack.enter_context(model.hooks(fwd_hooks=hooks))
                out = sample(model, cond, steps=sampler.steps, method=sampler.method, seeds=chunk_seeds)
            for k in range(len(variants)):
                finals[k].append(out.final[k * m:(k + 1) * m].cpu())
            for name, value in chunk_records.items():
                records.setdefault(name, []).append(value.cpu())
        # an intervention whose site never ran left the run equal to the baseline: an error, not
        # a result (with outcome: fails it would otherwise pass without testing anything)
        for variant, seen in zip(variants, fired, strict=True):
            check_fired(model, variant, seen, why=lambda name: world.why_silent(name, data))
        joined = {name: torch.cat(values) for name, values in records.items()}
        return [(torch.cat(parts), joined) for parts in finals]

    def _pending_variants(self, model_name: str, data: Data, sampler: Sampler,
                          interventions: Interventions) -> list[Interventions]:
        """The not yet sampled variants of the spec file group that ``interventions`` belongs to."""
        for (_, *group), variants in self._variants.items():
            if tuple(group) == (model_name, data, sampler) and interventions in variants:
                return [v for v in variants if run_key(model_name, data, sampler, v) not in self._runs]
        return []

    def _run_variants(self, model_name: str, data: Data, sampler: Sampler, variants: Sequence[Interventions]) -> None:
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
            for interventions, (final, _) in zip(batch, outputs, strict=True):
                key = run_key(model_name, data, sampler, interventions)
                self._runs[key] = RunOutput(final=final, estimate=world.decode(final, inputs), records={}, key=key)

    def _source_activations(self, world: World, inputs: CaseInputs, data: Data, sampler: Sampler,
                            source: PatchSource | None, index: list[int], sites: list[str]) -> dict:
        which = "alternative" if source is None else source.prompt
        cond = inputs.conditioning(which).select(index).to(self.device)
        seed = data.seed if (source is None or source.seed is None) else source.seed
        seeds = [example_seeds(seed, data.n)[i] for i in index]
        out = sample(world.model, cond, steps=sampler.steps, method=sampler.method, seeds=seeds, cache=sites)
        return {(site, e.step, e.evaluation): c[site]
                for e, c in zip(out.evaluations, out.caches, strict=True) for site in sites}


def _recorder(model: SamAudioModel, name: str, recording: Recording, rc: RecordContext, store: RunRecords):
    def hook(tensor: Tensor, hook: object) -> None:
        state = model.sampling
        step, evaluation = (None, None) if state is None else (state.step, state.evaluation)
        if recording.steps is not None and step is not None and not recording.steps.contains(step):
            return None
        store[(name, step, evaluation)] = recording.reduce(tensor.detach(), name, rc)
        return None

    return hook


def prepare_variants(runs: RunCache, cases: Iterable[Case]) -> None:
    """Declare the cases that will run (e.g. after ``pytest -k``): only their variants are batched."""
    for case in cases:
        if case.measure.compare != "internal":
            runs.add_variant(case)
