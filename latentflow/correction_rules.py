"""Which family correction is valid for which design: the rule the spec layer checks at load
time and ``latentflow.stats.sequential_corrections`` applies (its docstring gives the reasons).

Data and one check only, no numpy, so checking a spec's families loads no statistics.
"""

from __future__ import annotations

CORRECTION_VALIDITY: dict[str, dict[str, object]] = {
    "bonferroni": {"fixed_n": True, "sequential": True,
                   "why": "union bound; anytime-valid p-values are valid at any stopping time"},
    "holm": {"fixed_n": True, "sequential": True,
             "why": "needs only valid p-values under any dependence; anytime-valid p-values are"},
    "bh": {"fixed_n": True, "sequential": False,
           "why": "needs independent or PRDS p-values, which anytime-valid p-values at "
                  "data-dependent stopping times are not in general; use bonferroni or holm "
                  "(or e_bh where it is allowed)"},
    "e_bh": {"fixed_n": False, "sequential": True,
             # method -> the alternatives whose stopped evidence is an e-value
             "sequential_designs": {"betting": ("less", "greater", "two-sided", "equivalence"),
                                    "t_mixture": ("two-sided",)},
             "why": "needs e-values; a fixed-n test gives only a p-value (use bh or holm)",
             "why_design": "needs E[E_tau] <= 1 at the stopping time; the t mixture is a test "
                           "martingale only in the filtration of the scale invariants of "
                           "x - (true mean), so with a composite null (one-sided or "
                           "equivalence: the truth may differ from the tested edge) its "
                           "stopped value is not an e-value. Allowed: betting (any claim) "
                           "and t_mixture two-sided (point null); use bonferroni or holm"},
}
SEQUENTIAL_CORRECTIONS = tuple(name for name, rule in CORRECTION_VALIDITY.items()
                               if rule["sequential"])


def check_correction(correction: str, *, sequential: bool, method: str | None = None,
                     alternative: str | None = None) -> str:
    """The correction's name if it is valid for this kind of design; else ValueError saying
    why and what is allowed. With ``method`` and ``alternative`` (a sequential design's),
    also checks corrections that hold only for some designs (e_bh)."""
    name = str(correction).lower()
    if name not in CORRECTION_VALIDITY:
        raise ValueError(f"correction {correction!r} is not known; allowed: "
                         f"{', '.join(CORRECTION_VALIDITY)}")
    kind = "sequential" if sequential else "fixed_n"
    rule = CORRECTION_VALIDITY[name]
    design = "a sequential design" if sequential else "a fixed-n design"
    if not rule[kind]:
        allowed = [other for other, r in CORRECTION_VALIDITY.items() if r[kind]]
        raise ValueError(f"correction {name!r} is not valid with {design}: {rule['why']}. "
                         f"Allowed with {design}: {', '.join(allowed)}")
    designs = rule.get("sequential_designs")
    if sequential and isinstance(designs, dict) and method is not None and alternative not in designs.get(method, ()):
        raise ValueError(f"correction {name!r} is not valid with method {method!r} and "
                         f"alternative {alternative!r}: {rule['why_design']}")
    return name
