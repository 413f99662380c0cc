"""Multiple-comparison families: ``family:``, ``families:``, which hypotheses use them, and
whether each correction fits its family's design."""

from __future__ import annotations

from latentflow.spec import schema as s
from latentflow.spec.errors import did_you_mean, listing
from latentflow.spec.grammar import FAMILY_KEYS, NAME, NAME_HELP
from latentflow.spec.reader import Reader
from latentflow.spec.sections import key_line
from latentflow.spec.yaml_loader import LineDict
from latentflow.vocabulary import CORRECTIONS


def read_family(
    node: LineDict, key: str, field: str, r: Reader, name: str | None = None
) -> s.FamilySpec | None:
    section = node[key]
    if not r.check_keys(section, field, FAMILY_KEYS, FAMILY_KEYS, parent=node, key=key):
        return None
    correction = r.choice(section, "correction", field, CORRECTIONS)
    return None if correction is None else s.FamilySpec(name=name, correction=correction, line=section.line)


def read_families(raw: LineDict, r: Reader) -> tuple[s.FamilySpec, ...]:
    node = r.mapping(raw, "families", "")
    if node is None:
        return ()
    out = []
    for name in node:
        if not isinstance(name, str) or not NAME.match(name):
            r.report(
                node, name, f"families.{name}", "not a family name", value=name, allowed=NAME_HELP
            )
            continue
        family = read_family(node, name, f"families.{name}", r, name)
        if family is not None:
            out.append(family)
    return tuple(out)


def check_families(
    hypotheses: list[s.Hypothesis],
    family: s.FamilySpec | None,
    families: tuple[s.FamilySpec, ...],
    raw: LineDict,
    r: Reader,
) -> None:
    names = [f.name for f in families]
    used = set()
    default_used = False
    for h in hypotheses:
        if h.family is None:
            default_used = True
        elif h.family in names:
            used.add(h.family)
        else:
            r.report(
                None,
                None,
                f"{h.path}.family",
                "unknown family",
                value=h.family,
                allowed=f"families declared under families: {listing(names) or 'none'}",
                hint=did_you_mean(h.family, names),
                line=key_line(h, "family"),
            )
    for f in families:
        if f.name not in used and hypotheses:
            r.report(
                None,
                None,
                f"families.{f.name}",
                "family has no hypotheses",
                value=f.name,
                allowed="name it in some hypothesis (family: NAME) or remove it",
                line=f.line,
            )
    if family is not None and not default_used and hypotheses:
        r.report(
            raw,
            "family",
            "family",
            "every hypothesis names its own family, so the file-level family is empty",
            allowed="remove the file-level family, or leave some hypotheses without family:",
        )


def check_family_designs(
    hypotheses: list[s.Hypothesis],
    family: s.FamilySpec | None,
    families: tuple[s.FamilySpec, ...],
    r: Reader,
) -> None:
    """A correction must stay valid for the family's design (sequential or fixed n), and one
    family cannot correct both kinds together (their p-values mean different things)."""
    from latentflow.correction_rules import check_correction

    declared = ([family] if family is not None else []) + list(families)
    for f in declared:
        members = [h for h in hypotheses if h.family == f.name]
        kinds = {h.sequential is not None for h in members}
        if f.correction == "none" or not members:
            continue
        field = "family" if f.name is None else f"families.{f.name}"
        if len(kinds) > 1:
            r.report(
                None,
                None,
                f"{field}.correction",
                "the family mixes sequential and fixed-n hypotheses; a correction needs one "
                "kind of p-value",
                value=f.correction,
                allowed="put the sequential hypotheses in a family of their own (families:)",
                line=f.line,
            )
            continue
        designs: set[tuple[str | None, str | None]]  # (method, alternative); (None, None): no sequential member
        designs = {(h.sequential.method, "equivalence" if h.expect.direction == "equivalent" else h.expect.direction)
                   for h in members if h.sequential is not None and h.expect is not None} or {(None, None)}
        for method, alternative in sorted(designs, key=str):  # e_bh holds for some designs only
            try:
                check_correction(f.correction, sequential=kinds == {True}, method=method, alternative=alternative)
            except ValueError as why:
                r.report(None, None, f"{field}.correction", str(why), value=f.correction, line=f.line)
                break
