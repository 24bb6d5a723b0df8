"""A terminate event's Destination WarmPool is believed only while the instance waits where a
return waits (Warmed:Pending:Wait). At Terminating:Wait the instance is going away whatever the
event says: its Node is drained and deleted, no return mark is written, and the action is
completed as any termination's. Kept, the Node would wait cordoned for a draw that never
comes."""

from __future__ import annotations

from typing import Any

import pytest

from tests.helpers import leave_world
from tests.helpers.events import lifecycle_action
from tests.helpers.leave_world import INSTANCE, LeaveWorld, node_name, terminate_action
from winnodes.decisions.drain import FinishDrain
from winnodes.models.groups import RETURNED_TO_POOL_TAG
from winnodes.services.lifecycle import LifecycleEvents

TERMINATED = FinishDrain(delete_node=True, keep_for_warm_pool=False)


@pytest.fixture
def world() -> LeaveWorld:
    """A group without a warm pool, its instance held at Terminating:Wait with a busy Node."""
    world = LeaveWorld()
    world.kube.add_node(INSTANCE, pods=2)
    world.kube.kubelet = True
    return world


@pytest.mark.parametrize("state", ["Terminating:Wait", "Warmed:Terminating:Wait"])
def test_a_return_claimed_for_a_terminating_instance_is_drained_as_a_termination(
    world: LeaveWorld, state: str
) -> None:
    world.autoscaling.states = {INSTANCE: state}

    result = world.service().leave(terminate_action(returning_to_pool=True))

    assert result.finished and result.step == TERMINATED
    assert world.kube.pods == {}
    assert node_name(INSTANCE) not in world.kube.nodes
    assert RETURNED_TO_POOL_TAG not in world.compute.tags.get(INSTANCE, {})
    if state == "Terminating:Wait":  # the fake completes only what it holds
        assert world.autoscaling.completed == [(INSTANCE, "CONTINUE")]


def test_the_event_path_goes_by_the_state_too(world: LeaveWorld) -> None:
    event: dict[str, Any] = lifecycle_action(
        "lifecycle-terminate-into-warm-pool",  # Destination WarmPool
        group=leave_world.GROUP,
        instance=INSTANCE,
        hook=leave_world.HOOK.name,
    )
    events = LifecycleEvents(
        fleet=world.fleet(),
        join=None,  # type: ignore[arg-type]
        leave=world.service(),
        clock=world.clock,
    )

    outcome = events.handle(event)

    assert (outcome["status"], outcome["step"]) == ("finished", "FinishDrain")
    assert node_name(INSTANCE) not in world.kube.nodes
    assert RETURNED_TO_POOL_TAG not in world.compute.tags.get(INSTANCE, {})
    assert world.autoscaling.completed == [(INSTANCE, "CONTINUE")]
