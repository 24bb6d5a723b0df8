"""A managed group may carry other tools' lifecycle hooks: their actions are theirs to end. Ours
is the hook the group's tag names, else the group's only hook for the transition; an event for
any other hook is ignored without a call that changes anything."""

from __future__ import annotations

from typing import Any

from tests.helpers.events import load_event
from tests.helpers.join_world import GROUP, HOOK, INSTANCE, JoinWorld
from winnodes.ports import LifecycleHook
from winnodes.services.join import JoinSettings
from winnodes.services.lifecycle import LifecycleEvents

OTHER = LifecycleHook("log-shipper", HOOK.transition, 300, "CONTINUE")


def launch_event(hook: str) -> dict[str, Any]:
    event = load_event("lifecycle-launch")
    event["detail"] |= {
        "AutoScalingGroupName": GROUP,
        "EC2InstanceId": INSTANCE,
        "LifecycleHookName": hook,
    }
    return event


def handle(world: JoinWorld, hook: str) -> dict[str, Any]:
    events = LifecycleEvents(
        fleet=world.fleet(),
        clock=world.clock,
        join=world.service(settings=JoinSettings()),
        # None on purpose: a launch event must not reach the leave service.
        leave=None,  # type: ignore[arg-type]
    )
    return events.handle(launch_event(hook))


def writes(world: JoinWorld) -> list[str]:
    return [e for e in world.journal if e.startswith(("autoscaling.complete", "ec2.create"))]


def test_the_hook_the_group_names_is_ours_and_the_other_is_left_alone() -> None:
    world = JoinWorld()
    world.autoscaling.hooks = [OTHER, HOOK]
    world.autoscaling.tags["eks-windows-nodes/launch-hook"] = HOOK.name

    other = handle(world, OTHER.name)
    assert other == {"status": "ignored", "reason": "lifecycle hook 'log-shipper' is not ours"}
    assert writes(world) == []

    ours = handle(world, HOOK.name)
    assert ours["status"] == "finished" and ours["step"] == "CompleteContinue"
    assert writes(world) == ["autoscaling.complete CONTINUE"]


def test_with_several_hooks_and_no_tag_no_action_is_ended() -> None:
    world = JoinWorld()
    world.autoscaling.hooks = [OTHER, HOOK]

    for hook in (OTHER.name, HOOK.name):
        assert handle(world, hook)["status"] == "ignored"
    assert writes(world) == []


def test_the_only_hook_of_a_transition_is_ours_without_a_tag() -> None:
    world = JoinWorld()
    assert handle(world, HOOK.name)["step"] == "CompleteContinue"


def test_an_event_of_a_group_not_marked_managed_is_ignored() -> None:
    # The EventBridge rule matches every group of the account: the others' events end quietly.
    for tags in ({"eks:cluster-name": "prod"}, {"eks-windows-nodes/managed": "false"}):
        world = JoinWorld()
        world.autoscaling.tags = dict(tags)

        result = handle(world, HOOK.name)

        assert result["status"] == "ignored", tags
        assert writes(world) == []
