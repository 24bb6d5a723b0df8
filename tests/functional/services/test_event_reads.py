"""An event's invocation reads its group once to start: the read that tells whether the group is
managed and which hook is ours is the one the join or the drain starts from (Auto Scaling
throttles Describe calls account-wide)."""

from __future__ import annotations

from typing import Any

from tests.helpers import join_world, leave_world
from tests.helpers.events import load_event
from tests.helpers.join_world import JoinWorld
from tests.helpers.leave_world import LeaveWorld
from winnodes.services.join import JoinSettings
from winnodes.services.lifecycle import LifecycleEvents


def event(name: str, group: str, instance: str, hook: str) -> dict[str, Any]:
    raw = load_event(name)
    raw["detail"] |= {
        "AutoScalingGroupName": group,
        "EC2InstanceId": instance,
        "LifecycleHookName": hook,
    }
    return raw


def test_a_launch_event_reads_its_group_once_when_the_node_is_ready() -> None:
    world = JoinWorld()
    events = LifecycleEvents(
        fleet=world.fleet(),
        clock=world.clock,
        join=world.service(settings=JoinSettings()),
        leave=None,  # type: ignore[arg-type]
    )

    result = events.handle(
        event("lifecycle-launch", join_world.GROUP, join_world.INSTANCE, join_world.HOOK.name)
    )

    assert result["step"] == "CompleteContinue"
    assert world.journal.count("autoscaling.describe_group") == 1  # was two


def test_a_terminate_event_reads_its_group_once_when_there_is_nothing_to_drain() -> None:
    world = LeaveWorld()  # the instance never joined: no node to drain
    events = LifecycleEvents(
        fleet=world.fleet(),
        clock=world.clock,
        join=None,  # type: ignore[arg-type]
        leave=world.service(),
    )

    result = events.handle(
        event("lifecycle-terminate", leave_world.GROUP, leave_world.INSTANCE, leave_world.HOOK.name)
    )

    assert result["step"] == "FinishDrain"
    assert world.autoscaling.completed == [(leave_world.INSTANCE, "CONTINUE")]
    assert world.journal.count("autoscaling.describe_group") == 1  # was two
