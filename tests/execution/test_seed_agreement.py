"""``latentflow bench seeds``: per case, the verdict on each data seed and the agreement."""

from __future__ import annotations

import pytest

from latentflow.execution.seed_agreement import format_table, main, seed_outcomes


def _verdict(case_id, holds, expected="holds", n=12, sequential=None):
    out = {"case_id": case_id, "holds": holds, "expected": expected, "stats": {"n": n}}
    if sequential is not None:
        out["sequential"] = sequential
    return out


def _results():
    stop = lambda status, n: {"status": status, "n_used": n}  # noqa: E731
    return {
        0: {"verdicts": [_verdict("c::steady", True, sequential=stop("holds", 8)),
                         _verdict("c::flips", True, n=12), _verdict("c::absent", False, "fails")]},
        1: {"verdicts": [_verdict("c::steady", True, sequential=stop("holds", 12)),
                         _verdict("c::flips", False, n=12), _verdict("c::absent", False, "fails")]},
        2: {"verdicts": [_verdict("c::steady", True, sequential=stop("holds", 8)),
                         _verdict("c::flips", False, n=12), _verdict("c::absent", True, "fails")]},
    }


def test_each_case_gets_its_verdict_n_and_stop_per_seed_and_the_agreement():
    rows = {r["case_id"]: r for r in seed_outcomes(_results())}
    steady, flips, absent = rows["c::steady"], rows["c::flips"], rows["c::absent"]
    assert steady["seeds"]["1"] == {"holds": True, "n": 12, "stop": "holds"}
    assert (steady["majority"], steady["agreement"], steady["matches_record"]) == ("holds", 3, 3)
    assert flips["seeds"]["0"] == {"holds": True, "n": 12, "stop": None}  # fixed n: no stop
    # two of three seeds fail a claim recorded as holding: the majority is not the record
    assert (flips["majority"], flips["agreement"], flips["matches_record"]) == ("fails", 2, 1)
    assert (absent["recorded"], absent["majority"], absent["agreement"], absent["matches_record"]) == ("fails", "fails", 2, 2)


def test_a_case_missing_on_a_seed_is_shown_and_not_counted():
    results = _results()
    results[2]["verdicts"] = results[2]["verdicts"][:1]
    rows = {r["case_id"]: r for r in seed_outcomes(results)}
    assert rows["c::flips"]["seeds"]["2"] is None and rows["c::flips"]["ran_on"] == 2
    table = format_table(list(rows.values()), [0, 1, 2])
    assert "c::flips" in table and "1/2" in table
    assert table.splitlines()[-1] == "2 of 3 cases give the same verdict on all 3 seeds"  # steady, absent


def test_the_table_shows_each_seed_verdict_and_n():
    table = format_table(seed_outcomes(_results()), [0, 1, 2])
    line = next(row for row in table.splitlines() if row.startswith("c::flips"))
    assert line.split()[1:] == ["holds", "12", "holds", "12", "FAILS", "12", "FAILS", "2/3", "1/3"]


def test_repeated_seeds_are_refused(capsys):
    with pytest.raises(SystemExit):
        main(["specs", "--seeds", "0", "0"])
    assert "--seeds must be distinct non-negative integers; got [0, 0]" in capsys.readouterr().err
