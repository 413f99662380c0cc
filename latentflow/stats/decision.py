"""From a result's numbers to its verdict: ``passed`` and the sentence that says why.

Kept apart from the tests so that a correction (which changes only the p-value that
counts) re-derives the verdict by the very same rules, and so the reason can never
disagree with the fields next to it.

Rules
-----
- paired_t, wilcoxon, permutation: the p-value in force (corrected once a correction ran)
  is <= alpha; for "less"/"greater" the mean difference points that way (a rank test can
  reject towards a side the mean does not share); and, when ``min_effect_size`` is set, the
  effect reaches it (two-sided: |d| >= min; "less": d <= -min; "greater": d >= min).
- bootstrap: before correction, the BCa interval at level 1 - alpha (one-sided bound for
  "less"/"greater") excludes 0 on the stated side; after correction, the corrected BCa
  p-value (see `BcaBootstrap.pvalue`) is <= alpha. The effect rule applies as above.
- tost: both one-sided tests reject at alpha (max p <= alpha); after correction, the
  corrected max p. No effect-size rule: equivalence is about the margin.
- Data that could not be tested (pvalue NaN) never pass; the reason set when the test
  was attempted is kept.
"""

from __future__ import annotations

import math

from latentflow.stats.result import CORRECTION_LABELS, TestResult, fmt, fmt_interval

_CLAIMS = {
    "two-sided": "difference (x - y != 0)",
    "less": "decrease (x - y < 0)",
    "greater": "increase (x - y > 0)",
}


def decide(result: TestResult) -> tuple[bool, str]:
    if math.isnan(result.pvalue):
        return False, result.reason
    if result.test == "tost":
        return _decide_equivalence(result)
    significant, evidence = _significance(result)
    effect_ok, effect_text = _effect_rule(result)
    failures = [] if significant else [evidence]
    failures.extend(_direction_failures(result))
    if not effect_ok:
        failures.append(effect_text)
    claim = _CLAIMS[result.alternative]
    if failures and significant:
        reason = f"{claim} not supported: {evidence}, but {'; '.join(failures)}"
    elif failures:
        reason = f"{claim} not supported: {'; '.join(failures)}"
    else:
        reason = f"{claim} supported: {evidence}"
        if result.min_effect_size is not None:
            reason += f" and {effect_text}"
    summary = f"mean difference {fmt(result.mean_difference)}"
    if not effect_text or effect_text not in reason:  # say the effect once, not twice
        summary += f", {result.effect_size_name} {fmt(result.effect_size)}"
    return not failures, f"{reason} ({summary})"


def _pvalue_text(result: TestResult, name: str = "p") -> str:
    if result.correction is None:
        return f"{name} = {fmt(result.pvalue)}"
    return (f"{CORRECTION_LABELS[result.correction]}-corrected {name} = {fmt(result.pvalue_corrected)} "
            f"(raw {fmt(result.pvalue)}, family of {result.family_size})")


def _significance(result: TestResult) -> tuple[bool, str]:
    if result.test == "bootstrap" and result.correction is None:
        return _bootstrap_interval_rule(result)
    p = result.pvalue_for_decision
    ok = p <= result.alpha
    return ok, f"{_pvalue_text(result)} {'<=' if ok else '>'} alpha {fmt(result.alpha)}"


def _bootstrap_interval_rule(result: TestResult) -> tuple[bool, str]:
    level = f"{100 * (1 - result.alpha):g}%"
    if result.alternative == "less":
        high = result.number("bca_decision_high")
        ok = high < 0
        return ok, (f"the one-sided {level} BCa upper bound of the mean difference "
                    f"{fmt(high)} {'<' if ok else '>='} 0")
    if result.alternative == "greater":
        low = result.number("bca_decision_low")
        ok = low > 0
        return ok, (f"the one-sided {level} BCa lower bound of the mean difference "
                    f"{fmt(low)} {'>' if ok else '<='} 0")
    interval = (result.number("bca_decision_low"),
                result.number("bca_decision_high"))
    ok = interval[0] > 0 or interval[1] < 0
    return ok, (f"the {level} BCa interval of the mean difference {fmt_interval(interval)} "
                f"{'excludes' if ok else 'contains'} 0")


def _direction_failures(result: TestResult) -> list[str]:
    mean = result.mean_difference
    if result.alternative == "less" and not mean < 0:
        return [f"the mean difference {fmt(mean)} is not negative"]
    if result.alternative == "greater" and not mean > 0:
        return [f"the mean difference {fmt(mean)} is not positive"]
    return []


def _effect_rule(result: TestResult) -> tuple[bool, str]:
    minimum = result.min_effect_size
    if minimum is None:
        return True, ""
    name, value = result.effect_size_name, result.effect_size
    if math.isnan(value):
        return False, f"{name} is undefined"
    if result.alternative == "less":
        ok = value <= -minimum
        return ok, f"{name} = {fmt(value)} {'<=' if ok else '>'} -{fmt(minimum)}"
    if result.alternative == "greater":
        ok = value >= minimum
        return ok, f"{name} = {fmt(value)} {'>=' if ok else '<'} {fmt(minimum)}"
    ok = abs(value) >= minimum
    return ok, f"|{name}| = {fmt(abs(value))} {'>=' if ok else '<'} {fmt(minimum)}"


def _decide_equivalence(result: TestResult) -> tuple[bool, str]:
    if result.margin is None:
        raise ValueError(f"an equivalence result needs its margin; this {result.test} result has none")
    margin = fmt_interval(result.margin)
    interval = (result.number("equivalence_interval_low"),
                result.number("equivalence_interval_high"))
    level = f"{100 * (1 - 2 * result.alpha):g}%"
    where = f"the {level} CI {fmt_interval(interval)}"
    if result.correction is not None:
        ok = result.pvalue_for_decision <= result.alpha
        verdict = "equivalent" if ok else "not shown equivalent"
        return ok, (f"{verdict} within {margin}: {_pvalue_text(result, 'TOST p')} "
                    f"{'<=' if ok else '>'} alpha {fmt(result.alpha)} ({where})")
    p_lower = result.number("pvalue_lower")
    p_upper = result.number("pvalue_upper")
    pair = f"p_lower = {fmt(p_lower)}, p_upper = {fmt(p_upper)}"
    if max(p_lower, p_upper) <= result.alpha:
        return True, (f"equivalent within {margin}: both one-sided tests reject ({pair} <= "
                      f"alpha {fmt(result.alpha)}); {where} lies inside the margin")
    low, high = result.margin
    crossed = []
    if p_lower > result.alpha:
        crossed.append(f"reaches down past {fmt(low)}")
    if p_upper > result.alpha:
        crossed.append(f"reaches up past {fmt(high)}")
    return False, (f"not shown equivalent within {margin}: {pair}, not both <= alpha "
                   f"{fmt(result.alpha)}; {where} {' and '.join(crossed)}")
