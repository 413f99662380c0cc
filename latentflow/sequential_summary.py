"""One sentence for a sequential verdict: the design, the n it used, where it stopped and why.

Read from the verdict's ``sequential`` object of a results file (``SequentialResult.to_dict``),
so the gate and the report say the same thing without parsing what the failure screen prints.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def stop_sentence(sequential: Mapping[str, Any]) -> str:
    """E.g. "sequential t_mixture (decrease): NOT_SHOWN at n = 24 of at most 24 (look 6 of 6):
    <the statistics' reason>"."""
    looks = sequential.get("looks") or ()
    look = sequential.get("stopped_at_look")
    where = f"look {look} of {len(looks)}" if look else "no look: untestable"
    return (f"sequential {sequential.get('method')} ({sequential.get('alternative')}): "
            f"{str(sequential.get('status')).upper()} at n = {sequential.get('n_used')} of at most "
            f"{sequential.get('max_n')} ({where}): {sequential.get('reason')}")


def junit_properties(sequential: Mapping[str, Any] | None) -> list[tuple[str, Any]]:
    """The sequential decision as JUnit properties (name, value): the design, the n used, where
    and why it stopped, the anytime p-value and the confidence sequence at the n used. Empty for
    a fixed-n case."""
    if sequential is None:
        return []
    n = sequential.get("n_used") or 0
    lower, upper = sequential.get("cs_lower") or (), sequential.get("cs_upper") or ()
    return [
        ("sequential_method", sequential.get("method")),
        ("sequential_status", sequential.get("status")),
        ("sequential_n_used", n),
        ("sequential_max_n", sequential.get("max_n")),
        ("sequential_stopped_at_look", sequential.get("stopped_at_look")),
        ("sequential_pvalue", sequential.get("pvalue")),
        ("sequential_cs_low", lower[n - 1] if n and len(lower) >= n else None),
        ("sequential_cs_high", upper[n - 1] if n and len(upper) >= n else None),
        ("sequential_reason", sequential.get("reason")),
    ]
