"""Keep each spec file's cases on one pytest-xdist worker.

The cases of a spec file share their baseline runs (the same model, data and sampler), which
a worker computes once and reuses. xdist's default ``--dist load`` scatters a file's cases
over all workers, so every worker would compute the same baselines again. Under ``load`` this
scheduler sends all cases of one spec file to the same worker and distributes every other test
one by one, as ``load`` does. ``--dist loadscope``, ``loadfile``, ``worksteal`` and the rest are
left as the user chose them.
"""

from __future__ import annotations

from xdist.scheduler import LoadScopeScheduling

SPEC_SUFFIXES = (".yaml", ".yml")
# Probe cases sit in one collector per stimulus group (nodeid <file>::stimuli-<target>::<case>):
# groups share no work, so each may go to its own worker.
PROBE_GROUP_PREFIX = "stimuli-"


def scope_of(nodeid: str) -> str:
    """A spec case's scope is its spec file (a probe case's: its file and stimulus group, see
    latentflow/pytest_probe.py); any other test is a scope of its own."""
    parts = nodeid.split("::")
    if not parts[0].endswith(SPEC_SUFFIXES):
        return nodeid
    if len(parts) > 2 and parts[1].startswith(PROBE_GROUP_PREFIX):
        return "::".join(parts[:2])
    return parts[0]


class SpecFileScheduling(LoadScopeScheduling):
    """``loadscope`` with one scope per spec file and one per ordinary test."""

    def _split_scope(self, nodeid: str) -> str:
        return scope_of(nodeid)


class SpecFileSchedulerPlugin:
    """Registered by latentflow's pytest plugin on the xdist controller."""

    def pytest_xdist_make_scheduler(self, config, log):
        if config.getvalue("dist") != "load":
            return None  # the user asked for a different distribution: xdist builds it
        return SpecFileScheduling(config, log)
