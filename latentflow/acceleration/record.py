"""What one accelerated sampling run actually computed, evaluation by evaluation.

The FLOP count of a method (:mod:`latentflow.acceleration.flops`) is taken from this record,
not from the method's plan, so a count can never claim work was skipped that was in fact done.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class EvaluationRecord:
    """One velocity evaluation of the model.

    pattern_rows[l]: batch rows for which layer l's self-attention ran q/k projections, QK^T and
    softmax (the whole batch, or 0 when the cached pattern was reused for every row).
    pattern_rows_needed[l]: rows that needed a fresh pattern (differs from ``pattern_rows`` only
    for adaptive refresh in a batch where some rows refresh: the batch is computed as a whole).
    blocks_run[l]: False when block l did not run and its cached contribution was reused.
    """

    step: int
    evaluation: int
    batch: int
    pattern_rows: tuple[int, ...]
    pattern_rows_needed: tuple[int, ...]
    blocks_run: tuple[bool, ...]


@dataclass(frozen=True)
class ComputeRecord:
    """All evaluations of one sampling call, in order."""

    n_layers: int
    n_steps: int
    method: str
    batch: int
    evaluations: tuple[EvaluationRecord, ...]

    @classmethod
    def full(cls, n_layers: int, n_steps: int, method: str, batch: int) -> ComputeRecord:
        """The record of a plain run: every block and every pattern computed."""
        from latentflow.model.sampler import EVALUATIONS_PER_STEP

        per_step = EVALUATIONS_PER_STEP[method]
        everything = EvaluationRecord(0, 0, batch, (batch,) * n_layers, (batch,) * n_layers, (True,) * n_layers)
        evaluations = tuple(
            _at(everything, step, index) for step in range(n_steps) for index in range(per_step)
        )
        return cls(n_layers=n_layers, n_steps=n_steps, method=method, batch=batch, evaluations=evaluations)

    @property
    def n_evaluations(self) -> int:
        return len(self.evaluations)

    def reused_pattern_fraction(self) -> float:
        """Share of (layer, evaluation, row) self-attention patterns not computed (blocks skipped
        entirely count as not computed too)."""
        total = self.n_layers * sum(e.batch for e in self.evaluations)
        computed = sum(sum(e.pattern_rows) for e in self.evaluations)
        return 1.0 - computed / total if total else 0.0


def _at(record: EvaluationRecord, step: int, evaluation: int) -> EvaluationRecord:
    return EvaluationRecord(
        step=step,
        evaluation=evaluation,
        batch=record.batch,
        pattern_rows=record.pattern_rows,
        pattern_rows_needed=record.pattern_rows_needed,
        blocks_run=record.blocks_run,
    )


class RecordBuilder:
    """Mutable collector used while a sampling call runs; ``freeze()`` gives the record."""

    def __init__(self, n_layers: int) -> None:
        self.n_layers = n_layers
        self._done: list[EvaluationRecord] = []
        self._current: dict | None = None
        self.n_steps = 0
        self.method = ""
        self.batch = 0

    def start_call(self, n_steps: int, method: str, batch: int) -> None:
        self._done = []
        self._current = None
        self.n_steps, self.method, self.batch = n_steps, method, batch

    def start_evaluation(self, step: int, evaluation: int, batch: int) -> None:
        self._current = {
            "step": step,
            "evaluation": evaluation,
            "batch": batch,
            "pattern_rows": [batch] * self.n_layers,
            "pattern_rows_needed": [batch] * self.n_layers,
            "blocks_run": [True] * self.n_layers,
        }

    def set_pattern_rows(self, layer: int, computed: int, needed: int) -> None:
        self._require_current()["pattern_rows"][layer] = computed
        self._require_current()["pattern_rows_needed"][layer] = needed

    def set_block_skipped(self, layer: int) -> None:
        current = self._require_current()
        current["blocks_run"][layer] = False
        current["pattern_rows"][layer] = 0
        current["pattern_rows_needed"][layer] = 0

    def end_evaluation(self) -> None:
        current = self._require_current()
        self._done.append(
            EvaluationRecord(
                step=current["step"],
                evaluation=current["evaluation"],
                batch=current["batch"],
                pattern_rows=tuple(current["pattern_rows"]),
                pattern_rows_needed=tuple(current["pattern_rows_needed"]),
                blocks_run=tuple(current["blocks_run"]),
            )
        )
        self._current = None

    def freeze(self) -> ComputeRecord:
        return ComputeRecord(
            n_layers=self.n_layers,
            n_steps=self.n_steps,
            method=self.method,
            batch=self.batch,
            evaluations=tuple(self._done),
        )

    def _require_current(self) -> dict:
        if self._current is None:
            raise RuntimeError("no model evaluation is in progress: the record was updated outside a forward pass")
        return self._current

