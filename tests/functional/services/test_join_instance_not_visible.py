"""An instance EC2 does not show (yet, or ever: terminated through EC2 while held) has no
LaunchTime; on the event path its join deadline counts from the launch event's time, so the
"never became visible" ABANDON comes at the deadline instead of the deadline moving on forever."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from tests.helpers.join_world import NOW, JoinWorld, launch_action
from winnodes.decisions.join import Abandon, WaitForNode


def test_an_instance_never_visible_is_abandoned_at_the_deadline_counted_from_the_event() -> None:
    world = JoinWorld()
    world.compute.visible = False
    action = replace(launch_action(), event_time=NOW - timedelta(minutes=30))

    result = world.service().advance(action)

    assert result.step == Abandon("instance never became visible in EC2")
    assert world.autoscaling.completed == ["ABANDON"]


def test_before_the_deadline_it_waits_and_heartbeats_on_the_events_schedule() -> None:
    world = JoinWorld()
    world.compute.visible = False
    # Half the hook's 600 s heartbeat timeout has passed since the event.
    action = replace(launch_action(), event_time=NOW - timedelta(minutes=6))

    result = world.service().advance(action)

    assert isinstance(result.step, WaitForNode) and result.step.heartbeat_due
    assert result.step.deadline_at == NOW - timedelta(minutes=6) + timedelta(minutes=20)
    assert world.autoscaling.completed == []
