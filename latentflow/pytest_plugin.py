"""pytest plugin for latentflow, registered through the ``pytest11`` entry point.

It adds the ``latentflow`` option group that spec runs are configured with. Values are
checked while the command line is parsed, so a typo fails before any model is loaded.
Read them with ``config.getoption("latentflow_device")`` and friends.
"""

from __future__ import annotations

import argparse
import re
import warnings
from typing import TYPE_CHECKING, Any

import pytest

from latentflow.model_names import MODEL_NAME_FORMS
from latentflow.sequential_summary import junit_properties

if TYPE_CHECKING:  # the plugin imports the execution layer lazily (pytest loads it early)
    from latentflow.execution.verdict import Verdict

DEVICE_CHOICES = "auto, cpu, cuda, cuda:N (N = GPU index)"
_DEVICE_PATTERN = re.compile(r"auto|cpu|cuda(:\d+)?")


def parse_device(value: str) -> str:
    """Accept ``auto``, ``cpu``, ``cuda`` or ``cuda:N``; anything else is a usage error."""
    if _DEVICE_PATTERN.fullmatch(value) is None:
        raise argparse.ArgumentTypeError(f"device {value!r} is not one of: {DEVICE_CHOICES}")
    return value


def parse_seed(value: str) -> int:
    """A seed is a non-negative integer (torch.Generator.manual_seed and numpy both accept it)."""
    try:
        seed = int(value)
    except ValueError:
        seed = -1
    if seed < 0:
        raise argparse.ArgumentTypeError(f"seed {value!r} is not a non-negative integer")
    return seed


def parse_threads(value: str) -> int:
    """A thread count is a non-negative integer; 0 leaves torch's own setting."""
    if not value.isdigit():
        raise argparse.ArgumentTypeError(f"thread count {value!r} is not a non-negative integer (0: torch's default)")
    return int(value)


def parse_positive(value: str) -> int:
    """A count of examples: a positive integer."""
    if not value.isdigit() or int(value) < 1:
        raise argparse.ArgumentTypeError(f"{value!r} is not a positive integer")
    return int(value)


def _path_with_suffix(*suffixes: str):
    def parse(value: str) -> str:
        if not value.lower().endswith(suffixes):
            raise argparse.ArgumentTypeError(
                f"path {value!r} must end in {' or '.join(suffixes)}"
            )
        return value

    return parse


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("latentflow", "latentflow claims (specs/*.yaml)")
    group.addoption(
        "--latentflow-model",
        metavar="MODEL",
        default=None,
        help=f"model the claims run on: {MODEL_NAME_FORMS} (default: the model each spec names)",
    )
    group.addoption(
        "--latentflow-text-encoder",
        metavar="PATH",
        default=None,
        help="local T5 folder for a SAM Audio model folder's text encoder (default: $LATENTFLOW_TEXT_ENCODER, "
        "<model>/<name>, or the offline Hugging Face cache)",
    )
    group.addoption(
        "--latentflow-device",
        metavar="DEVICE",
        type=parse_device,
        default="auto",
        help=f"where the model runs: {DEVICE_CHOICES} (default: auto)",
    )
    group.addoption(
        "--latentflow-seed",
        metavar="SEED",
        type=parse_seed,
        default=None,
        help="base seed for every random draw (default: each spec's own seed)",
    )
    # Float sums are split differently over different thread counts, so the numbers would
    # depend on how many xdist workers share the cores. One thread per process keeps them the
    # same for any -n, and n workers on n cores do not oversubscribe them.
    group.addoption(
        "--latentflow-threads",
        metavar="N",
        type=parse_threads,
        default=1,
        help="torch CPU threads per process while specs run (default 1: the same numbers for any "
             "number of xdist workers; 0: torch's default)",
    )
    # Off by default: batched variants agree with their own runs to float rounding only (a
    # matmul kernel may block 20 rows differently from 5), and a case's numbers must not depend
    # on which other cases were selected to share its forward passes.
    group.addoption(
        "--latentflow-batch-variants",
        action="store_true",
        default=False,
        help="sample independent activation-operation variants of one data section in one batch "
             "(faster where the device is not saturated; numbers agree to float rounding, not bitwise)",
    )
    group.addoption(
        "--latentflow-n",
        metavar="N",
        type=parse_positive,
        default=None,
        help="a quick smoke run: every case with at most N examples (the results file and the "
             "summary say so; the verdicts are not the claims' verdicts)",
    )
    # CI keeps them on; off is for a quick local run (verdicts and results say they were skipped)
    group.addoption(
        "--latentflow-controls",
        choices=("on", "off"),
        default="on",
        help="run each case's declared controls with it (default on; off: a quicker, untrusted run)",
    )
    group.addoption(
        "--latentflow-results",
        metavar="PATH.json",
        type=_path_with_suffix(".json"),
        default=None,
        help="write every verdict with its numbers to this JSON file",
    )
    group.addoption(
        "--latentflow-report",
        metavar="PATH.html",
        type=_path_with_suffix(".html", ".htm"),
        default=None,
        help="write a self-contained HTML report to this file",
    )


# -- collecting and running specs ------------------------------------------------------------
#
# As in pytest's "YAML test file" example: spec files become File nodes, each compiled case an
# Item whose runtest calls the library and whose repr_failure explains the verdict. Verdicts
# travel to the controller as user_properties (so they survive pytest-xdist and land in JUnit
# XML); the controller writes --latentflow-results at the end of the session.

VERDICT_PROPERTY = "latentflow_verdict"
SETUP_PROPERTY = "latentflow_setup"  # the case's model, codec and text encoder (World.describe())


class ClaimFailure(Exception):
    """A verdict that contradicts what the spec expects."""

    def __init__(self, verdict):
        self.verdict = verdict
        super().__init__(verdict.why)


class ClaimDoesNotHold(Exception):
    """A claim recorded as ``outcome: fails`` that still does not hold: the expected failure
    of its strict xfail (any other exception is a real error, not the recorded failure)."""

    def __init__(self, verdict):
        self.verdict = verdict
        super().__init__(verdict.why)


def _recorded_failure_mark(reason: str | None, raises: type[BaseException]) -> pytest.MarkDecorator:
    """``outcome: fails`` as pytest users know it: a strict xfail with the spec's reason, so the
    summary counts it as xfailed and a claim that starts to hold fails the run (XPASS(strict))."""
    return pytest.mark.xfail(reason=f"recorded as outcome: fails: {reason}", strict=True, raises=raises)


@pytest.hookimpl(wrapper=True, tryfirst=True)  # outside pytest's skipping plugin: sees its XPASS(strict)
def pytest_runtest_makereport(item, call):
    report = yield
    explain = getattr(item, "explain_unexpected_hold", None)
    if (explain is not None and report.when == "call" and report.failed
            and isinstance(report.longrepr, str) and report.longrepr.startswith("[XPASS(strict)]")):
        report.longrepr = f"{report.longrepr}\n{explain()}"
    return report


def _worker_index(config: pytest.Config) -> int:
    worker = getattr(config, "workerinput", {}).get("workerid", "gw0")
    return int(worker[2:]) if worker.startswith("gw") and worker[2:].isdigit() else 0


def resolve_device(choice: str, worker_index: int = 0) -> str:
    """``auto``: CUDA when available, else CPU; under xdist each worker takes its own GPU."""
    import torch

    if choice == "auto":
        if not torch.cuda.is_available():
            return "cpu"
        return f"cuda:{worker_index % torch.cuda.device_count()}"
    if choice.startswith("cuda") and not torch.cuda.is_available():
        raise pytest.UsageError(f"--latentflow-device={choice}: CUDA is not available on this machine")
    if choice == "cuda":
        return f"cuda:{worker_index % torch.cuda.device_count()}"
    return choice


class _State:
    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        self._session = None

    @property
    def session(self):
        if self._session is None:
            import torch

            from latentflow.execution import SpecSession

            threads = self.config.getoption("latentflow_threads")
            if threads:
                torch.set_num_threads(threads)
            self._session = SpecSession(
                model=self.config.getoption("latentflow_model"),
                model_option="--latentflow-model",
                seed=self.config.getoption("latentflow_seed"),
                max_n=self.config.getoption("latentflow_n"),
                device=resolve_device(self.config.getoption("latentflow_device"), _worker_index(self.config)),
                batch_variants=self.config.getoption("latentflow_batch_variants"),
                text_encoder=self.config.getoption("latentflow_text_encoder"),
                controls=self.config.getoption("latentflow_controls") == "on",
            )
        return self._session


_STATE = pytest.StashKey[_State]()


def pytest_configure(config: pytest.Config) -> None:
    config.stash[_STATE] = _State(config)
    if not hasattr(config, "workerinput"):  # workers send their reports; the controller writes files
        config.pluginmanager.register(ResultsCollector(config), "latentflow-results")
        if config.pluginmanager.hasplugin("xdist"):
            from latentflow.xdist_scheduling import SpecFileSchedulerPlugin

            config.pluginmanager.register(SpecFileSchedulerPlugin(), "latentflow-xdist-scheduling")
    for name, doc in builtin_marks():
        config.addinivalue_line("markers", f"{name}: {doc}")


def builtin_marks() -> list[tuple[str, str]]:
    """The marks every spec case can be selected by (``-m``); per-claim ones (``claim_<id>``)
    and those a spec declares (``marks:``) are registered as their files are collected."""
    from latentflow.vocabulary import TIERS

    return [("latentflow", "a case compiled from a latentflow spec file"),
            ("fuzz", "a latentflow fuzz check (property-based)"),
            ("holds", "a latentflow claim expected to hold"),
            ("recorded_fails", "a latentflow claim recorded as outcome: fails (a strict xfail)")] + [
        (f"tier_{tier}", f"a latentflow case on the {tier} tier") for tier in TIERS]


def _register_mark(config: pytest.Config, name: str, doc: str) -> None:
    # registered before any item carries it, so --strict-markers accepts it
    known = {line.split(":", 1)[0].split("(", 1)[0].strip() for line in config.getini("markers")}
    if name not in known:
        config.addinivalue_line("markers", f"{name}: {doc}")


def _add_marks(item: pytest.Item, names: list[str], source: str) -> None:
    for name in names:
        _register_mark(item.config, name, f"declared in {source}")
        item.add_marker(name)


def mark_spec_item(item: pytest.Item, kind: str, spec_item: Any, recorded_failure: type[BaseException]) -> None:
    """The marks every item of a spec carries (``latentflow``, its kind, its claim, holds or
    recorded_fails, the spec's own marks); an item recorded to fail gets the strict xfail that
    expects ``recorded_failure`` (CaseItem, FuzzItem, and the probe plugin's ProbeItem)."""
    recorded = spec_item.outcome == "fails"
    _add_marks(item, ["latentflow", kind, f"claim_{spec_item.claim.id}", "recorded_fails" if recorded else "holds"],
               "latentflow")
    _add_marks(item, list(spec_item.marks), spec_item.source_file)
    if recorded:
        item.add_marker(_recorded_failure_mark(spec_item.reason, recorded_failure))


CONTROLS_OFF = ("latentflow: declared controls skipped (--latentflow-controls off): no verdict is trusted "
                "by its controls; CI runs with them on")


def settle_verdict(verdict: Verdict) -> None:
    """A spec item's outcome from its verdict (case and probe items alike): a recorded failure
    that does not hold is the strict xfail's expected failure; one that holds now returns, and
    the strict xfail reports XPASS(strict); any other verdict that did not pass fails the item."""
    if verdict.expected == "fails":
        if not verdict.holds:
            raise ClaimDoesNotHold(verdict)
        if verdict.controls_skipped:  # its recorded failure may be a control's: cannot judge
            pytest.skip(f"{verdict.why}; the recorded failure may come from its skipped controls")
        return
    if not verdict.passed:
        raise ClaimFailure(verdict)


def _smoke_note(config: pytest.Config) -> str:
    n = config.getoption("latentflow_n")
    return "" if n is None else f"\n(smoke run: at most {n} examples per case, --latentflow-n; not the claim's verdict)"


def pytest_report_header(config: pytest.Config) -> list[str]:
    n = config.getoption("latentflow_n")
    lines = [CONTROLS_OFF] if config.getoption("latentflow_controls") == "off" else []
    if n is None:
        return lines
    return [*lines, f"latentflow: smoke run, every case with at most {n} examples (--latentflow-n): "
            "verdicts are not the claims' verdicts"]


def pytest_terminal_summary(terminalreporter, exitstatus, config) -> None:
    if config.getoption("latentflow_controls") == "off":
        terminalreporter.write_line(CONTROLS_OFF, yellow=True)
    n = config.getoption("latentflow_n")
    if n is not None:
        terminalreporter.write_line(f"latentflow: smoke run with at most {n} examples per case (--latentflow-n); "
                                    "run without it for the claims' verdicts", yellow=True)


@pytest.hookimpl(trylast=True)  # after -k / -m / --lf have deselected
def pytest_collection_modifyitems(config, items):
    state = config.stash[_STATE]
    if state._session is not None:
        state.session.runner.select(item.case for item in items if isinstance(item, CaseItem))


class SpecMarkerWarning(pytest.PytestWarning):
    """A YAML file that looks like a spec (a top-level ``hypotheses:`` or ``claim:``) but lacks
    the ``latentflow: 1`` marker, so it is not collected."""


def pytest_collect_file(file_path, parent):
    if file_path.suffix in (".yaml", ".yml"):
        from latentflow.spec import is_spec_file, looks_like_spec

        if is_spec_file(file_path):
            return SpecFile.from_parent(parent, path=file_path)
        reason = looks_like_spec(file_path)
        if reason is not None:
            # collection-time warnings land in pytest's warnings summary, with the file named
            warnings.warn(SpecMarkerWarning(reason), stacklevel=1)
    return None


class SpecFile(pytest.File):
    def collect(self):
        from latentflow.execution import ModelLoadError
        from latentflow.pytest_probe import is_probe_plan, probe_collectors
        from latentflow.spec import SpecError

        state = self.config.stash[_STATE]
        try:
            plan = state.session.plan(self.path)
        except (SpecError, ModelLoadError) as error:  # the user's input: its message, no traceback
            raise self.CollectError(str(error)) from None
        _register_mark(self.config, f"claim_{plan.claim.id}", f"cases of the latentflow claim {plan.claim.id}")
        if is_probe_plan(plan):  # probe cases: latentflow/pytest_probe.py
            yield from probe_collectors(self, plan)
            return
        for case in plan.cases:
            yield CaseItem.from_parent(self, name=case.case_id.split("::", 1)[1], plan=plan, case=case)
        for check in plan.fuzz:
            yield FuzzItem.from_parent(self, name=f"fuzz::{check.check_id}", plan=plan, check=check)

    def repr_failure(self, excinfo):
        if isinstance(excinfo.value, self.CollectError):
            return str(excinfo.value.args[0])
        return super().repr_failure(excinfo)


class CaseItem(pytest.Item):
    def __init__(self, *, plan, case, **kwargs) -> None:
        super().__init__(**kwargs)
        self.plan = plan
        self.case = case
        self.verdict = None
        mark_spec_item(self, f"tier_{case.data.tier}", case, ClaimDoesNotHold)

    def runtest(self) -> None:
        import json

        session = self.config.stash[_STATE].session
        verdict = self.verdict = session.verdict(self.plan, self.case)
        r = verdict.result
        ci = r.confidence_interval or (None, None)
        self.user_properties.extend([
            ("claim_holds", verdict.holds),
            ("expected", verdict.expected),
            ("n", r.n),
            ("mean_difference", r.mean_difference),
            ("ci_low", ci[0]),
            ("ci_high", ci[1]),
            ("effect_size", r.effect_size),
            ("pvalue", r.pvalue),
            ("pvalue_corrected", r.pvalue_corrected),
            *junit_properties(verdict.sequential.to_dict() if verdict.sequential is not None else None),
            (VERDICT_PROPERTY, json.dumps(verdict.to_dict(), sort_keys=True)),
            (SETUP_PROPERTY, json.dumps({self.case.model: session.runner.world(self.case.model).describe()})),
        ])
        settle_verdict(verdict)

    def explain_unexpected_hold(self) -> str:
        return self.verdict.explain() + _smoke_note(self.config) if self.verdict is not None else ""

    def repr_failure(self, excinfo, style=None):
        from latentflow.interventions import InterventionNeverFired

        if isinstance(excinfo.value, (ClaimFailure, ClaimDoesNotHold)):
            return excinfo.value.verdict.explain() + _smoke_note(self.config)
        if isinstance(excinfo.value, InterventionNeverFired):  # a spec problem: no traceback
            return f"{self.case.location}: {excinfo.value}"
        return super().repr_failure(excinfo, style=style)

    def reportinfo(self):
        return self.path, (self.case.line or 1) - 1, self.case.case_id


class FuzzItem(pytest.Item):
    def __init__(self, *, plan, check, **kwargs) -> None:
        super().__init__(**kwargs)
        self.plan = plan
        self.check = check
        self.examples = None
        # A recorded violation must still be found (InvariantViolation: xfailed); a check that
        # now holds on every example is XPASS(strict), so that the spec is updated.
        from latentflow.execution import InvariantViolation

        mark_spec_item(self, "fuzz", check, InvariantViolation)

    def runtest(self) -> None:
        self.examples = self.config.stash[_STATE].session.fuzz(self.plan, self.check)
        self.user_properties.append(("fuzz_examples", self.examples))

    def explain_unexpected_hold(self) -> str:
        return (f"fuzz check {self.check.check_id} ({self.check.invariant}) is recorded as outcome: fails "
                f"({self.check.reason}), but the invariant held on all {self.examples} examples: the claim "
                "now holds; update the spec")

    def repr_failure(self, excinfo, style=None):
        from latentflow.execution import InvariantViolation

        if isinstance(excinfo.value, InvariantViolation):
            return (f"fuzz check {self.check.check_id} ({self.check.invariant}) failed:\n{excinfo.value}\n\n"
                    f"a spec that reproduces the failing example:\n{excinfo.value.snippet}")
        return super().repr_failure(excinfo, style=style)

    def reportinfo(self):
        return self.path, (self.check.line or 1) - 1, f"fuzz {self.check.check_id}"


class ResultsCollector:
    """Gathers verdicts on the controller (reports from xdist workers arrive here too) and
    writes --latentflow-results / --latentflow-report at the end. One per config, so runs
    in one process (pytester) never see each other's verdicts."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        self.verdicts: dict[str, dict] = {}
        self.setups: dict[str, dict] = {}

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        import json

        if report.when != "call":
            return
        for key, value in report.user_properties:
            if key == VERDICT_PROPERTY:
                data = json.loads(str(value))  # written by this plugin as JSON text
                self.verdicts[data["case_id"]] = data
            elif key == SETUP_PROPERTY:
                self.setups.update(json.loads(str(value)))

    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        from latentflow.results import write_results

        config = self.config
        verdicts = [self.verdicts[k] for k in sorted(self.verdicts)]
        results = config.getoption("latentflow_results")
        if results:
            write_results(results, verdicts, model=config.getoption("latentflow_model"),
                          seed=config.getoption("latentflow_seed"), max_n=config.getoption("latentflow_n"),
                          setups=self.setups)
        report = config.getoption("latentflow_report")
        if report:
            from latentflow.report import write_report

            write_report(verdicts, report)
