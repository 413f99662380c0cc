from __future__ import annotations

from typing import ClassVar

import pytest

from latentflow.registry import REQUIRED, Param, Registry, UnknownNameError, arg_problems, declared_params


def test_register_directly_and_as_decorator():
    ops = Registry("operation")
    ops.register("zero", "ZERO")

    @ops.register("scale")
    def scale():
        return "scaled"

    assert ops.get("zero") == "ZERO"
    assert ops.get("scale") is scale
    assert ops.names() == ("scale", "zero")
    assert list(ops) == ["scale", "zero"]
    assert "zero" in ops and "nope" not in ops
    assert len(ops) == 2


def test_unknown_name_lists_registered_and_nearest():
    ops = Registry("operation")
    for name in ("zero", "scale", "mean_ablate", "uniform_attention"):
        ops.register(name, object())
    with pytest.raises(UnknownNameError) as info:
        ops.get("scael")
    message = str(info.value)
    assert "unknown operation 'scael'" in message
    assert "did you mean 'scale'?" in message
    assert "registered operations: mean_ablate, scale, uniform_attention, zero" in message
    assert info.value.suggestions == ("scale",)
    assert isinstance(info.value, LookupError)


def test_unknown_name_without_close_match_still_lists_registry():
    metrics = Registry("metric")
    metrics.register("si_snr", object())
    with pytest.raises(
        UnknownNameError, match=r"unknown metric 'xyz'; registered metrics: si_snr$"
    ):
        metrics.get("xyz")


def test_registering_a_taken_name_needs_replace():
    ops = Registry("operation")
    ops.register("zero", 1)
    with pytest.raises(ValueError, match="'zero' is already registered"):
        ops.register("zero", 2)
    ops.register("zero", 3, replace=True)
    assert ops.get("zero") == 3
    assert ops.unregister("zero") == 3
    assert "zero" not in ops


@pytest.mark.parametrize("name", ["", None, 3])
def test_register_rejects_bad_names(name):
    with pytest.raises(ValueError, match="non-empty text"):
        Registry("operation").register(name, object())


def test_param_type_rules():
    factor = Param(float)
    assert factor.required
    assert factor.accepts(2) and factor.accepts(0.5)
    assert not factor.accepts(True), "a YAML true must not pass as a number"
    assert not factor.accepts("2")
    count = Param(int, 0)
    assert count.accepts(3) and not count.accepts(3.0) and not count.accepts(False)
    over = Param(str, "examples", choices=("examples", "time"))
    assert over.accepts("time") and not over.accepts("space")
    seed = Param(int, None)
    assert seed.accepts(None) and not Param(int, 1).accepts(None)
    assert Param(list).accepts((1, 2)) and Param(list).accepts([1])


def test_declared_params_accepts_short_forms():
    class Op:
        params: ClassVar[dict] = {
            "from_step": (int, REQUIRED, "first frozen step"),
            "tag": str,
            "factor": Param(float, 1.0),
        }

    params = declared_params(Op())
    assert params["from_step"] == Param(int, REQUIRED, "first frozen step")
    assert params["tag"] == Param(str)
    assert params["factor"].default == 1.0
    assert declared_params({"params": {"x": (float, 0.0, "")}})["x"].type is float
    assert declared_params(object()) == {}


def test_arg_problems_is_the_one_rule_for_arguments():
    params = {"factor": Param(float), "over": Param(str, "time", choices=("time", "examples")), "seed": Param(int, 0)}
    problems = arg_problems(params, {"over": "space", "fctor": 2.0, "seed": 1})
    assert [(p.key, p.problem) for p in problems] == [("over", "wrong"), ("fctor", "unknown"), ("factor", "missing")]
    assert problems[0].param is params["over"] and problems[1].param is None
    assert arg_problems(params, {"factor": 2, "over": "examples"}) == []


def test_a_registry_can_word_its_own_unknown_name_error():
    class UnknownThing(LookupError):
        def __init__(self, name, registered):
            super().__init__(f"no thing {name!r} among {list(registered)}")

    things = Registry("thing", unknown=UnknownThing)
    things.register("a", 1)
    with pytest.raises(UnknownThing, match=r"no thing 'b' among \['a'\]"):
        things.get("b")
    with pytest.raises(UnknownThing):
        things.unregister("b")
