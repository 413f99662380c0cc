from __future__ import annotations

import pytest

from latentflow.spec import SpecError, is_spec_file, load_yaml, load_yaml_text
from latentflow.spec.yaml_loader import LineDict, LineList


def test_lines_of_keys_items_and_nested_mappings():
    data = load_yaml_text("a: 1\nb:\n  - x: 2\n    y: [1, 2]\n  - 3\nc: {d: 4}\n", "f.yaml")
    assert isinstance(data, LineDict) and data.line == 1
    assert data.lines == {"a": 1, "b": 2, "c": 6}
    assert isinstance(data["b"], LineList) and data["b"].lines == [3, 5]
    assert data["b"][0].lines == {"x": 3, "y": 4}
    assert data["c"].line_of("d") == 6
    assert data == {"a": 1, "b": [{"x": 2, "y": [1, 2]}, 3], "c": {"d": 4}}


def test_duplicate_keys_name_both_lines():
    with pytest.raises(SpecError) as info:
        load_yaml_text("claim:\n  id: a\n  title: t\n  id: b\n", "spec.yaml")
    (issue,) = info.value.issues
    assert (issue.line, issue.field) == (4, "claim.id")
    assert str(issue).startswith("spec.yaml:4: claim.id: duplicate key 'id' (first at line 2)")


def test_every_duplicate_in_a_file_is_reported():
    with pytest.raises(SpecError) as info:
        load_yaml_text("a: 1\na: 2\nb:\n  c: 1\n  c: 2\n", "spec.yaml")
    assert [(i.line, i.field) for i in info.value.issues] == [(2, "a"), (5, "b.c")]


@pytest.mark.parametrize(
    "text",
    [
        "x: !!python/object/apply:os.system ['echo hi']\n",
        "x: !!set {a, b}\n",
        "x: !custom 3\n",
        "x: !!binary aGk=\n",
    ],
)
def test_only_plain_yaml_is_constructed(text):
    with pytest.raises(SpecError) as info:
        load_yaml_text(text, "spec.yaml")
    (issue,) = info.value.issues
    assert issue.line == 1 and issue.field == "x"
    assert "YAML tag not allowed" in str(issue)
    assert "allowed: plain YAML values" in str(issue)


def test_dates_stay_text_and_merge_keys_work():
    data = load_yaml_text("when: 2026-06-10\nbase: &b {p: 1, q: 2}\nm:\n  <<: *b\n  q: 3\n")
    assert data["when"] == "2026-06-10"
    assert data["m"] == {"p": 1, "q": 3}


def test_syntax_error_names_the_line():
    with pytest.raises(SpecError) as info:
        load_yaml_text("a: 1\nb: [1, 2\nc: 3\n", "broken.yaml")
    (issue,) = info.value.issues
    assert issue.file == "broken.yaml" and issue.field == "(yaml syntax)"
    assert issue.line == 3
    assert "flow sequence" in issue.message


def test_several_documents_are_an_error():
    with pytest.raises(SpecError, match="single document"):
        load_yaml_text("a: 1\n---\nb: 2\n", "two.yaml")


def test_undecodable_file_names_the_line(tmp_path):
    path = tmp_path / "latin1.yaml"
    path.write_bytes("latentflow: 1\nclaim: caf\xe9\n".encode("latin-1"))
    with pytest.raises(SpecError) as info:
        load_yaml(path)
    (issue,) = info.value.issues
    assert issue.line == 2 and "not UTF-8" in issue.message and issue.value == "byte 0xe9"


def test_is_spec_file(tmp_path):
    spec = tmp_path / "claim.yaml"
    spec.write_text("# a claim\nlatentflow: 1\nclaim: {id: x}\n")
    other = tmp_path / "config.yaml"
    other.write_text("name: not a spec\nlatentflow_version: 2\nnested:\n  latentflow: 1\n")
    broken = tmp_path / "broken.yml"
    broken.write_text("latentflow: 1\nclaim: [unclosed\n")
    quoted = tmp_path / "quoted.yml"
    quoted.write_text('"latentflow": 1\n')
    text_file = tmp_path / "claim.txt"
    text_file.write_text("latentflow: 1\n")
    assert is_spec_file(spec)
    assert not is_spec_file(other), "a nested or prefixed key does not make a spec"
    assert is_spec_file(broken), "a spec with a syntax error must be reported, not skipped"
    assert is_spec_file(quoted)
    assert not is_spec_file(text_file)
    assert not is_spec_file(tmp_path / "missing.yaml")
    assert not is_spec_file(tmp_path)


def _alias_bomb(levels: int) -> str:
    lines = ["latentflow: 1", 'a0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for i in range(1, levels + 1):
        lines.append(f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 9) + "]")
    lines.append(f"claim: *a{levels}")
    return "\n".join(lines) + "\n"


def test_an_alias_bomb_is_refused_naming_the_file_line_and_limit():
    # 9 levels of 9 aliases: about 8e9 values written out; this used to hang while the
    # error message rendered the expanded tree.
    from latentflow.spec.yaml_loader import MAX_EXPANDED_NODES

    with pytest.raises(SpecError) as info:
        load_yaml_text(_alias_bomb(9), "bomb.yaml")
    (issue,) = info.value.issues
    assert (issue.file, issue.line, issue.field) == ("bomb.yaml", 6, "a4")  # the first entry over the limit
    assert f"the YAML aliases expand to more than {MAX_EXPANDED_NODES:,} values" in str(issue)
    assert "got about 8,335,593,970 values" in str(issue)


def test_a_spec_with_a_few_aliases_and_merge_keys_still_loads():
    text = (
        "latentflow: 1\n"
        "defaults: &d {tier: clean, n: 4}\n"
        "data: {<<: *d, seed: 2}\n"
        "also: [*d, *d, *d]\n"
    )
    data = load_yaml_text(text)
    assert dict(data["data"]) == {"tier": "clean", "n": 4, "seed": 2}
    assert [dict(x) for x in data["also"]] == [{"tier": "clean", "n": 4}] * 3


def test_a_huge_value_in_a_message_is_truncated_without_rendering_it_whole():
    from latentflow.spec.errors import show

    nested: list = ["x" * 1000]
    for _ in range(40):  # a shared tree of 2**40 leaves: rendering it whole would never end
        nested = [nested, nested]
    text = show(nested)
    assert len(text) == 60 and text.endswith("...") and text.startswith("[[[[")
    assert show({"key": "v" * 500}, limit=20) == "{key: 'vvvvvvvvvv..."


@pytest.mark.parametrize(
    "text, found",
    [
        ("claim:\n  id: x\nhypotheses: []\n", None),
        ("latentflwo: 1\nclaim: {id: x}\n", "latentflwo"),
        ("LatentFlow: 1\nhypotheses: []\n", "LatentFlow"),
    ],
)
def test_a_file_that_looks_like_a_spec_without_the_marker_is_named(tmp_path, text, found):
    from latentflow.spec import looks_like_spec

    path = tmp_path / "claim.yaml"
    path.write_text(text, encoding="utf-8")
    reason = looks_like_spec(path)
    assert reason is not None and reason.startswith(f"{path}: has a top-level ")
    assert "no `latentflow: 1` marker" in reason and "not collected" in reason
    assert (f"found {found!r} instead" in reason) if found else ("found" not in reason)


@pytest.mark.parametrize(
    "name, text",
    [
        ("spec.yaml", "latentflow: 1\nclaim: {id: x}\n"),  # a spec: collected, nothing to warn
        ("ci.yaml", "jobs:\n  test: {runs-on: ubuntu}\n"),  # other YAML
        ("notes.txt", "claim: not yaml by suffix\n"),
        ("nested.yaml", "config:\n  claim: x\n"),  # not top level
    ],
)
def test_specs_and_other_yaml_are_not_flagged(tmp_path, name, text):
    from latentflow.spec import looks_like_spec

    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    assert looks_like_spec(path) is None
