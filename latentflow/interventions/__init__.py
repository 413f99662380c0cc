"""Deterministic, inference-time interventions at named hook sites (data, not code)."""

from __future__ import annotations

from .apply import Intervention, InterventionNeverFired, NotBatchable, applied, batchable, check_fired
from .operations import OPERATIONS, InterventionContext, Operation, register_operation
from .sites import UnknownSiteError, layer_of, resolve_sites, site_exists

__all__ = [
    "OPERATIONS",
    "Intervention",
    "InterventionContext",
    "InterventionNeverFired",
    "NotBatchable",
    "Operation",
    "UnknownSiteError",
    "applied",
    "batchable",
    "check_fired",
    "layer_of",
    "register_operation",
    "resolve_sites",
    "site_exists",
]
