"""Spec cases stay together per spec file under xdist's default distribution."""

from __future__ import annotations

from latentflow.xdist_scheduling import scope_of


def test_spec_cases_are_scoped_by_their_file():
    assert scope_of("specs/dual_pathway.yaml::text_projection_zero[clean-stoi]") == "specs/dual_pathway.yaml"
    assert scope_of("specs/lsac.yaml::fuzz::balanced_saves_a_quarter") == "specs/lsac.yaml"
    assert scope_of("specs/x.yml::h") == "specs/x.yml"


def test_other_tests_are_scheduled_one_by_one():
    for nodeid in ("tests/a/test_b.py::test_c", "tests/a/test_b.py::TestD::test_e[1]", "tests/a/test_b.py"):
        assert scope_of(nodeid) == nodeid

