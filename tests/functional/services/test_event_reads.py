"""An event's invocation reads its group once to start: the read that tells whether the group is
managed and which hook is ours is the one the join or the drain starts from (Auto Scaling
throttles Describe calls account-wide)."""

from __future__ import annotations

from tests.helpers import join_world, leave_world
from tests.helpers.events import lifecycle_action
from tests.helpers.join_world import JoinWorld
from tests.helpers.leave_world import LeaveWorld
from winnodes.services.join import JoinSettings
from winnodes.services.lifecycle import LifecycleEvents


def test_a_launch_event_reads_its_group_once_when_the_node_is_ready() -> None:
    world = JoinWorld()
    events = LifecycleEvents(
        fleet=world.fleet(),
        clock=world.clock,
        join=world.service(settings=JoinSettings()),
        leave=None,  # type: ignore[arg-type]
    )

    result = events.handle(
        lifecycle_action(
            "lifecycle-launch",
            group=join_world.GROUP,
            instance=join_world.INSTANCE,
            hook=join_world.HOOK.name,
        )
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
        lifecycle_action(
            "lifecycle-terminate",
            group=leave_world.GROUP,
            instance=leave_world.INSTANCE,
            hook=leave_world.HOOK.name,
        )
    )

    assert result["step"] == "FinishDrain"
    assert world.autoscaling.completed == [(leave_world.INSTANCE, "CONTINUE")]
    assert world.journal.count("autoscaling.describe_group") == 1  # was two
