"""An event's invocation stops waiting before its Lambda timeout, whatever the wait budget says:
no look starts once less than STEP_RESERVE is left of the invocation's time (a look against an
API server that does not answer can take that long), so the invocation returns in time and is
not retried, and the reconciler carries on from where it stopped."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from tests.helpers import join_world
from tests.helpers.events import lifecycle_action
from tests.helpers.join_world import JoinWorld
from winnodes.decisions.smoke import SmokeTestPolicy
from winnodes.services.fleet import STEP_RESERVE
from winnodes.services.join import JoinSettings
from winnodes.services.lifecycle import LifecycleEvents

LONG_BUDGET = JoinSettings(
    wait_budget=timedelta(minutes=13),
    poll_interval=timedelta(seconds=2),
    smoke_test=SmokeTestPolicy(enabled=False),
)


def launch_event() -> dict[str, Any]:
    return lifecycle_action(
        "lifecycle-launch",
        group=join_world.GROUP,
        instance=join_world.INSTANCE,
        hook=join_world.HOOK.name,
    )


def events(world: JoinWorld) -> LifecycleEvents:
    return LifecycleEvents(
        fleet=world.fleet(),
        join=world.service(settings=LONG_BUDGET),
        leave=None,  # type: ignore[arg-type]
        clock=world.clock,
    )


def test_a_join_stops_looking_when_the_invocation_is_about_to_run_out() -> None:
    world = JoinWorld()
    world.kube.ready_from_read = 10**6  # never Ready

    outcome = events(world).handle(launch_event(), time_left=STEP_RESERVE + timedelta(seconds=30))

    assert outcome["status"] == "waiting"
    # 30 s of looks, the last one at 30 s: the reserve is left for it to end and return.
    assert world.clock.elapsed == 30
    assert world.autoscaling.completed == []


def test_without_an_invocation_the_wait_budget_alone_bounds_the_wait() -> None:
    # `winnodes lifecycle`, run by hand: no Lambda timeout to keep to.
    world = JoinWorld()
    world.kube.ready_from_read = 10**6

    outcome = events(world).handle(launch_event())

    assert outcome["status"] == "waiting"
    assert world.clock.elapsed == LONG_BUDGET.wait_budget.total_seconds()
