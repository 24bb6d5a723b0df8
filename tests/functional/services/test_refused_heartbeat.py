"""An action that ends while a function still waits on it (completed by hand or by a duplicate,
or timed out) refuses the next heartbeat. The function then reads the group again at its next
look and stops, instead of waiting on until the group's next scheduled read (every 15 s) and
heartbeating into the void meanwhile."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import replace
from datetime import timedelta

import pytest

from tests.helpers import join_world, leave_world
from tests.helpers.join_world import JoinWorld, StepClock, launch_action
from tests.helpers.leave_world import LeaveWorld, terminate_action
from winnodes.decisions.join import NothingToDo
from winnodes.decisions.smoke import SmokeTestPolicy
from winnodes.services.join import JoinSettings
from winnodes.services.leave import NotTerminating


def end_the_action_after(
    monkeypatch: pytest.MonkeyPatch, clock: StepClock, seconds: float, end: Callable[[], None]
) -> None:
    """What someone else does to the action while the function sleeps."""
    sleep = clock.sleep

    def sleep_while_the_action_ends(duration: float) -> None:
        sleep(duration)
        if clock.elapsed >= seconds:
            end()

    monkeypatch.setattr(clock, "sleep", sleep_while_the_action_ends)


def test_a_join_stops_at_the_look_after_a_refused_heartbeat(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    world = JoinWorld()
    world.kube.ready_from_read = 10**6  # never Ready

    def timed_out() -> None:
        world.autoscaling.state = "Terminating"  # the hook's default result, ABANDON

    end_the_action_after(monkeypatch, world.clock, 1, timed_out)
    action = replace(launch_action(), hook=replace(join_world.HOOK, heartbeat_timeout_seconds=8))
    settings = JoinSettings(
        poll_interval=timedelta(seconds=2), smoke_test=SmokeTestPolicy(enabled=False)
    )

    result = world.service(settings=settings).join(action)

    assert result.step == NothingToDo("no launch action pending (state Terminating)")
    assert [e for e in world.journal if e.startswith(("autoscaling", "sleep"))] == [
        "autoscaling.describe_group",
        "autoscaling.heartbeat",  # due at once: the instance launched 5 minutes ago
        "sleep 2",
        "sleep 2",
        "autoscaling.heartbeat refused",  # half the 8 s timeout later
        "sleep 2",
        "autoscaling.describe_group",  # at 6 s, not 16 s
    ]
    assert world.autoscaling.completed == []


def test_a_join_whose_token_is_refused_stops_though_the_instance_is_held_again() -> None:
    # A replayed or late event: its action ended, a later one (a draw from the warm pool, say)
    # holds the instance. Heartbeating with the old token would be refused at every look, each
    # refusal costing a DescribeAutoScalingGroups, for the whole wait budget.
    world = JoinWorld()
    world.kube.ready_from_read = 10**6  # never Ready
    world.autoscaling.ended_tokens = {"old-token"}
    action = replace(launch_action(), token="old-token")

    result = world.service().join(action)

    assert result.finished
    assert result.step == NothingToDo(
        "the event's lifecycle action is over (its token was refused)"
    )
    assert world.journal.count("autoscaling.heartbeat refused") == 1
    assert world.journal.count("autoscaling.describe_group") == 2  # the first look, one re-read
    assert world.autoscaling.completed == []


def test_a_drain_stops_at_the_look_after_a_refused_heartbeat(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    world = LeaveWorld()
    world.kube.add_node(leave_world.INSTANCE, pods=2)  # evicted, they never finish terminating

    def completed_by_hand() -> None:
        world.autoscaling.states[leave_world.INSTANCE] = "Terminating:Proceed"

    end_the_action_after(monkeypatch, world.clock, 1, completed_by_hand)
    action = replace(
        terminate_action(), hook=replace(leave_world.HOOK, heartbeat_timeout_seconds=8)
    )

    result = world.service(wait_budget=60).leave(action)

    assert result.finished and result.step == NotTerminating("Terminating:Proceed")
    assert [e for e in world.journal if e.startswith(("autoscaling", "sleep"))] == [
        "autoscaling.describe_group",
        "autoscaling.heartbeat",  # at once: the action may have waited since before the cordon
        *["sleep 1"] * 4,
        "autoscaling.heartbeat refused",  # half the 8 s timeout later
        "sleep 1",
        "autoscaling.describe_group",  # at 5 s, not 15 s
    ]
    assert world.autoscaling.completed == []
    assert world.clock.elapsed == 5


def test_a_refused_completion_is_said_with_what_was_not_applied(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # The node is Ready, but the action ended before the CONTINUE (a duplicate completed it,
    # say): nothing is counted, and the line says so rather than nothing at all.
    world = JoinWorld()
    world.autoscaling.ended_tokens = {"old-token"}
    action = replace(launch_action(), token="old-token")

    settings = JoinSettings(smoke_test=SmokeTestPolicy(enabled=False))
    with caplog.at_level(logging.INFO, logger="eks-windows-nodes"):
        result = world.service(settings=settings).join(action)

    assert result.finished
    assert world.autoscaling.completed == []
    (refused,) = [r for r in caplog.records if "completion refused" in r.getMessage()]
    assert vars(refused)["result"] == "CONTINUE"
    assert vars(refused)["instance_id"] == action.instance_id
    assert not [r for r in caplog.records if "completed with CONTINUE" in r.getMessage()]
