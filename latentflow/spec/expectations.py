"""A hypothesis's ``expect:``: direction, test, alpha, effect size, equivalence margin,
null value and resamples, and which of them fit together."""

from __future__ import annotations

from latentflow.spec import schema as s
from latentflow.spec.errors import listing
from latentflow.spec.grammar import EXPECT_KEYS
from latentflow.spec.reader import Reader
from latentflow.spec.yaml_loader import LineDict, LineList
from latentflow.vocabulary import DIFFERENCE_TESTS, EQUIVALENCE_TESTS, RESAMPLING_TESTS, TESTS


def read_expect(node: LineDict, field: str, r: Reader) -> s.Expect | None:
    section = node["expect"]
    path = f"{field}.expect"
    start = r.mark()
    if not r.check_keys(section, path, EXPECT_KEYS, ("direction",), parent=node, key="expect"):
        return None
    direction = r.choice(section, "direction", path, s.DIRECTIONS)
    equivalence = direction == "equivalent"
    default_test = "tost" if equivalence else "paired_t"
    test = r.choice(section, "test", path, TESTS, default_test)
    if direction is not None and test is not None:
        fitting = EQUIVALENCE_TESTS if equivalence else DIFFERENCE_TESTS
        if test not in fitting:
            r.report(
                section,
                "test",
                f"{path}.test",
                f"test {test} does not test direction {direction}",
                value=test,
                allowed=f"with direction {direction}: {listing(fitting)}",
            )
    alpha = r.number(
        section, "alpha", path, s.DEFAULT_ALPHA, low=0.0, high=0.5, open_low=True, open_high=True
    )
    min_effect = r.number(section, "min_effect_size", path, low=0.0)
    if equivalence and "min_effect_size" in section:
        r.report(
            section,
            "min_effect_size",
            f"{path}.min_effect_size",
            "a minimum effect contradicts an equivalence claim",
            value=section["min_effect_size"],
            allowed="margin (the equivalence bounds) instead",
        )
    margin = _margin(section, path, r) if "margin" in section else None
    if equivalence and "margin" not in section:
        r.report(
            section,
            "direction",
            f"{path}.margin",
            "direction equivalent needs a margin",
            allowed="margin: 0.2 (meaning [-0.2, 0.2]) or margin: [low, high]",
        )
    if direction is not None and not equivalence and "margin" in section:
        r.report(
            section,
            "margin",
            f"{path}.margin",
            f"a margin only applies to direction equivalent, not {direction}",
            value=section["margin"],
            allowed="min_effect_size for a difference claim",
        )
    null_value = r.number(section, "null_value", path, 0.0)
    resamples = r.integer(section, "resamples", path, low=100, high=10_000_000)
    if "resamples" in section and test is not None and test not in RESAMPLING_TESTS:
        r.report(
            section,
            "resamples",
            f"{path}.resamples",
            f"resamples only applies to resampling tests, not {test}",
            value=section["resamples"],
            allowed=f"test: {listing(RESAMPLING_TESTS)}",
        )
    if r.failed_since(start):
        return None
    return s.Expect(direction, test, alpha, min_effect, margin, null_value, resamples)


def _margin(section: LineDict, path: str, r: Reader) -> tuple[float, float] | None:
    value = section["margin"]
    allowed = "a positive number m (meaning [-m, m]) or [low, high] with low < high"
    if isinstance(value, LineList):
        if len(value) != 2:
            r.report(
                section,
                "margin",
                f"{path}.margin",
                "expected two bounds",
                value=value,
                allowed=allowed,
            )
            return None
        low = r.check_number(value[0], value, 0, f"{path}.margin[0]")
        high = r.check_number(value[1], value, 1, f"{path}.margin[1]")
        if low is None or high is None:
            return None
        if not low < high:
            r.report(
                section,
                "margin",
                f"{path}.margin",
                "the lower bound must be below the upper",
                value=value,
                allowed=allowed,
            )
            return None
        return (low, high)
    width = r.check_number(value, section, "margin", f"{path}.margin", low=0.0, open_low=True)
    return None if width is None else (-width, width)
