"""``sequential:`` designs (the file's, and a hypothesis's over it), checked against the
expectation and against the statistics layer's own rules."""

from __future__ import annotations

from typing import Any

from latentflow.spec import schema as s
from latentflow.spec.errors import listing
from latentflow.spec.grammar import MAX_N, SEQUENTIAL_KEYS
from latentflow.spec.reader import Reader
from latentflow.spec.sections import FileContext, section_fields
from latentflow.spec.yaml_loader import LineDict, LineList
from latentflow.vocabulary import SEQUENTIAL_FIXED_N_TESTS, SEQUENTIAL_METHODS


def sequential_field(node: LineDict, name: str, field: str, r: Reader) -> Any:
    if name in ("max_n", "chunk"):
        return r.integer(node, name, field, low=1, high=MAX_N)
    if name == "method":
        return r.choice(node, name, field, SEQUENTIAL_METHODS)
    if name == "prior_scale":
        return r.number(node, name, field, low=0.0, open_low=True)
    if name == "symmetric":
        value = node[name]
        if not isinstance(value, bool):
            r.report(node, name, f"{field}.{name}", "expected true or false", value=value,
                     allowed="true: you declare the differences symmetric about their mean (t_mixture needs it)")
            return None
        return value
    return _bounds(node, field, r)


def _bounds(section: LineDict, path: str, r: Reader) -> tuple[float, float] | None:
    value = section["bounds"]
    allowed = "[low, high] with low < 0 < high: the range every difference lies in"
    if not isinstance(value, LineList) or len(value) != 2:
        r.report(section, "bounds", f"{path}.bounds", "expected two bounds", value=value, allowed=allowed)
        return None
    low = r.check_number(value[0], value, 0, f"{path}.bounds[0]")
    high = r.check_number(value[1], value, 1, f"{path}.bounds[1]")
    if low is None or high is None:
        return None
    if not low < 0.0 < high:
        r.report(
            section, "bounds", f"{path}.bounds", "the bounds must enclose 0", value=value, allowed=allowed
        )
        return None
    return (low, high)


# What a sequential design cannot express, per expect key: the reason given when it is refused.
SEQUENTIAL_REFUSED_EXPECT = {
    "min_effect_size": "the sequential methods test the mean difference against 0, not a "
    "minimum effect size",
    "resamples": "the sequential methods draw nothing at random",
}


def read_sequential(
    node: LineDict, field: str, r: Reader, ctx: FileContext, expect: s.Expect | None
) -> s.Sequential | None:
    """The hypothesis's sequential design (the file's, with this hypothesis's fields over it),
    checked against its expectation; None for a fixed-n hypothesis."""
    path = f"{field}.sequential"
    override = section_fields(node, "sequential", path, SEQUENTIAL_KEYS, sequential_field, r)
    if override is None or (not override and not ctx.sequential and "sequential" not in node):
        return None
    fields = {**ctx.sequential, **override}
    here = "sequential" in node
    line = node.lines.get("sequential") if here else ctx.sequential_line
    where = path if here else "sequential"
    start = r.mark()
    for key in ("max_n", "chunk"):
        if key not in fields:
            r.report(None, None, f"{where}.{key}", f"sequential needs {key!r}", line=line,
                     allowed="max_n: the most examples; chunk: examples between decisions")
    data = node.get("data")
    if isinstance(data, LineDict) and "n" in data:
        r.report(
            data,
            "n",
            f"{field}.data.n",
            "data.n conflicts with sequential: a sequential hypothesis runs up to "
            "sequential.max_n examples, chunk by chunk",
            value=data["n"],
            allowed="leave data.n out (sequential.max_n sets the number of examples)",
        )
    section = node.get("expect")
    if isinstance(section, LineDict):
        for key, why in SEQUENTIAL_REFUSED_EXPECT.items():
            if key in section:
                r.report(section, key, f"{field}.expect.{key}",
                         f"{key} cannot be used with sequential: {why}", value=section[key],
                         allowed=f"leave {key} out, or drop sequential:")
        if expect is not None and "test" in section and expect.test not in SEQUENTIAL_FIXED_N_TESTS:
            r.report(
                section,
                "test",
                f"{field}.expect.test",
                f"test {expect.test} cannot be used with sequential: the sequential method "
                "decides, and test only names the fixed-n test shown next to it, which must "
                "test the same mean difference",
                value=expect.test,
                allowed=f"{listing(SEQUENTIAL_FIXED_N_TESTS)}, or leave test out",
            )
    if r.failed_since(start) or expect is None:
        return None
    design = s.Sequential(
        fields["max_n"], fields["chunk"], fields.get("method", "t_mixture"), fields.get("bounds"),
        fields.get("prior_scale"), fields.get("symmetric", False), line=line,
    )
    problem = sequential_design_problem(design, expect)
    if problem is not None:
        r.report(None, None, where, problem, line=line,
                 allowed="see docs/sequential.md: max_n >= chunk; bounds (and only bounds) with "
                 "betting; symmetric: true (and only) with t_mixture; an equivalence margin inside the bounds")
        return None
    return design


def sequential_design_problem(design: s.Sequential, expect: s.Expect) -> str | None:
    """Why the statistics layer refuses this design for this expectation, or None."""
    # imported here: the stats layer owns the rules and pulls numpy/scipy, which specs without
    # sequential: never need
    from latentflow.stats.sequential import SequentialDesign

    try:
        stats_design(design, expect, SequentialDesign)
    except ValueError as why:
        return str(why)
    return None


def stats_design(design: s.Sequential, expect: s.Expect, factory: Any = None, family_size: int = 1) -> Any:
    """The ``latentflow.stats.sequential.SequentialDesign`` of a hypothesis's design;
    ``family_size``: the cases of its corrected family, which split alpha before any data."""
    if factory is None:
        from latentflow.stats.sequential import SequentialDesign as factory
    equivalence = expect.direction == "equivalent"
    extra = {} if design.prior_scale is None else {"prior_scale": design.prior_scale}
    return factory(
        max_n=design.max_n,
        chunk=design.chunk,
        method=design.method,
        alternative="equivalence" if equivalence else expect.direction,
        alpha=expect.alpha,
        margin=expect.margin if equivalence else None,
        bounds=design.bounds,
        symmetric=design.symmetric,
        family_size=family_size,
        **extra,
    )
