"""Attention-caching operations: ``freeze_pattern`` and the shipped LSAC methods as interventions.

All three use the one frozen-pattern primitive (:mod:`latentflow.acceleration.frozen`):

* ``freeze_pattern`` (a pattern operation, any attention-pattern site): one
  :class:`~latentflow.acceleration.frozen.FrozenPattern` per site;
* ``lsac`` (a controller operation): the :class:`~latentflow.acceleration.lsac.LSACController`
  that ``sample_lsac`` and ``latentflow bench lsac`` run, with a preset (the bench's
  tuning of the model ``tuned_on``, :mod:`latentflow.acceleration.presets`), an
  explicit ``plan: {layer: step}``, or ``from_step`` for every selected layer;
* ``lsac_adaptive``: the :class:`~latentflow.acceleration.adaptive.AdaptiveController`.

A controller operation acts on the model as a whole, for the layers its sites select; it
builds a controller, which ``applied`` attaches for the ``with`` block (and lists in
``InterventionContext.controllers``, whose ``record()`` says what each run computed).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

# (model, selected layers) -> a SamplingController, attached by ``applied``
ControllerFactory = Callable[[Any, Sequence[int]], Any]


def freeze_pattern(args: Mapping[str, Any]):
    from latentflow.acceleration.frozen import FrozenPattern, FrozenPatternConfig

    frozen = FrozenPattern(FrozenPatternConfig(int(args["from_step"])), name="freeze_pattern")

    def fn(compute, call, active, ctx):
        state = ctx.model.sampling
        return None if state is None else frozen(state, compute, call)

    return fn


def _plan_layers(plan: Mapping[Any, Any]) -> dict[int, int]:
    steps = {}
    for layer, step in plan.items():
        try:
            number = int(layer)
        except (TypeError, ValueError):
            raise ValueError(f"operation 'lsac' plan: layer {layer!r} is not an integer") from None
        if isinstance(step, bool) or not isinstance(step, int) or step < 0:
            raise ValueError(f"operation 'lsac' plan: freeze step {step!r} of layer {layer} must be an integer >= 0")
        steps[number] = step
    return steps


def lsac(args: Mapping[str, Any]) -> ControllerFactory:
    given = [name for name in ("preset", "plan", "from_step") if args.get(name) is not None]
    if len(given) != 1:
        raise ValueError(f"operation 'lsac' takes exactly one of preset, plan, from_step; got {given or 'none'}")
    if (args.get("tier") is not None or args.get("tuned_on") != "fixture") and given != ["preset"]:
        raise ValueError("operation 'lsac': tier and tuned_on name the tuning of a preset; "
                         "they go with preset only")
    if given == ["preset"] and args.get("tier") is None:
        raise ValueError("operation 'lsac' with a preset needs tier: the tier it was tuned on (clean, "
                         "noisy, env)")

    def build(model, layers: Sequence[int]):
        from latentflow.acceleration.lsac import LSACController, LSACPlan
        from latentflow.acceleration.presets import stored_tuning

        if args.get("preset") is not None:
            plan = stored_tuning(args["tuned_on"], args["tier"]).plan(args["preset"])
        elif args.get("plan") is not None:
            plan = LSACPlan(_plan_layers(args["plan"]), name="plan")
        else:
            plan = LSACPlan({layer: int(args["from_step"]) for layer in layers}, name=f"from step {args['from_step']}")
        outside = sorted(set(plan.freeze_steps) - set(layers))
        if outside:
            raise ValueError(f"operation 'lsac' ({plan.name}): layers {outside} of the plan are not among the "
                             f"sites' layers {list(layers)}")
        return LSACController(model, plan)

    return build


def lsac_adaptive(args: Mapping[str, Any]) -> ControllerFactory:
    def build(model, layers: Sequence[int]):
        from latentflow.acceleration.adaptive import AdaptiveConfig, AdaptiveController

        config = AdaptiveConfig({layer: int(args["start_step"]) for layer in layers}, float(args["threshold"]))
        return AdaptiveController(model, config)

    return build
