"""What a spec's keys, names and numbers may be: the allowed keys of every section (read off
the dataclasses of :mod:`latentflow.spec.schema`), name patterns and numeric limits.

The parser checks a file against these and :mod:`latentflow.spec.json_schema` describes them,
so the two cannot drift apart.
"""

from __future__ import annotations

import re

from latentflow.spec import schema as s
from latentflow.spec.fields import section_keys
from latentflow.spec.yaml_loader import VERSION_KEY

TOP_KEYS = section_keys(s.Spec)
CLAIM_KEYS = section_keys(s.Claim)
DATA_KEYS = section_keys(s.Data)
SAMPLER_KEYS = section_keys(s.Sampler)
FAMILY_KEYS = section_keys(s.FamilySpec)
SEQUENTIAL_KEYS = section_keys(s.Sequential)
HYPOTHESIS_KEYS = section_keys(s.Hypothesis)
INTERVENTION_KEYS = section_keys(s.Intervention)
SOURCE_KEYS = section_keys(s.PatchSource)
MEASURE_KEYS = section_keys(s.Measure)
EXPECT_KEYS = section_keys(s.Expect)
# a fuzz check's keys: those of one drawn example, then the check's own
FUZZ_KEYS = tuple(dict.fromkeys(section_keys(s.FuzzInstance) + section_keys(s.FuzzSpec)))

NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
NAME_HELP = "a name of letters, digits and _"
ID_HELP = "letters, digits, '_', '.', '-' (not starting with '.' or '-')"
VARIANT = re.compile(r"[\w.+-]+\Z")  # what `pytest -k` accepts in a name (expand.ID_UNSAFE)
MAX_N = 1_000_000
MAX_STEPS = 10_000
MAX_SEED = 2**63 - 1

__all__ = [
    "CLAIM_KEYS", "DATA_KEYS", "EXPECT_KEYS", "FAMILY_KEYS", "FUZZ_KEYS", "HYPOTHESIS_KEYS",
    "ID_HELP", "INTERVENTION_KEYS", "MAX_N", "MAX_SEED", "MAX_STEPS", "MEASURE_KEYS", "NAME",
    "NAME_HELP", "SAMPLER_KEYS", "SEQUENTIAL_KEYS", "SOURCE_KEYS", "TOP_KEYS", "VARIANT",
    "VERSION_KEY",
]
