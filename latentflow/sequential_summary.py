"""One sentence for a sequential verdict: the design, the n it used, where it stopped and why.

Read from the verdict's ``sequential`` object of a results file (``SequentialResult.to_dict``),
so the gate and the report say the same thing without parsing what the failure screen prints.
"""

from __future__ import annotations

from typing import Any, Mapping


def stop_sentence(sequential: Mapping[str, Any]) -> str:
    """E.g. "sequential t_mixture (decrease): NOT_SHOWN at n = 24 of at most 24 (look 6 of 6):
    <the statistics' reason>"."""
    looks = sequential.get("looks") or ()
    look = sequential.get("stopped_at_look")
    where = f"look {look} of {len(looks)}" if look else "no look: untestable"
    return (f"sequential {sequential.get('method')} ({sequential.get('alternative')}): "
            f"{str(sequential.get('status')).upper()} at n = {sequential.get('n_used')} of at most "
            f"{sequential.get('max_n')} ({where}): {sequential.get('reason')}")
