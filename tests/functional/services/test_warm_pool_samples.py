"""The warm-pool samples in events/, handled as the lifecycle function handles them: a launch
into the pool is released to it once its node has registered, a draw from it joins the node and
lifts the pool's cordon, and a scale-in that returns the instance to the pool drains it. The last
depends on the event itself (its Destination), so the sample's field is what is tested there."""

from __future__ import annotations

from typing import Any

from tests.helpers import join_world, leave_world
from tests.helpers.events import lifecycle_action
from tests.helpers.join_world import JoinWorld
from tests.helpers.leave_world import LeaveWorld
from winnodes.decisions.smoke import SmokeTestPolicy
from winnodes.models.groups import RETURNED_TO_POOL_TAG
from winnodes.services.join import JoinSettings
from winnodes.services.lifecycle import LifecycleEvents


def join_sample(name: str) -> dict[str, Any]:
    return lifecycle_action(
        name, group=join_world.GROUP, instance=join_world.INSTANCE, hook=join_world.HOOK.name
    )


def handled_by_join(world: JoinWorld, event: dict[str, Any]) -> dict[str, Any]:
    events = LifecycleEvents(
        fleet=world.fleet(),
        join=world.service(settings=JoinSettings(smoke_test=SmokeTestPolicy(enabled=False))),
        leave=None,  # type: ignore[arg-type]
        clock=world.clock,
    )
    return dict(events.handle(event))


def test_a_launch_into_the_warm_pool_is_released_to_the_pool_with_its_node_cordoned() -> None:
    world = JoinWorld()
    world.autoscaling.state = "Warmed:Pending:Wait"
    world.kube.ready_from_read = 1_000  # registered, never Ready: stopped once released

    outcome = handled_by_join(world, join_sample("lifecycle-launch-into-warm-pool"))

    assert (outcome["status"], outcome["step"]) == ("finished", "ReleaseToWarmPool")
    assert world.kube.held_for_warm_pool and world.autoscaling.completed == ["CONTINUE"]


def test_a_launch_drawn_from_the_warm_pool_lifts_the_pools_cordon_and_continues() -> None:
    world = JoinWorld()
    world.kube.unschedulable = world.kube.held_for_warm_pool = True

    outcome = handled_by_join(world, join_sample("lifecycle-launch-from-warm-pool"))

    assert (outcome["status"], outcome["step"]) == ("finished", "CompleteContinue")
    assert not world.kube.unschedulable and world.autoscaling.completed == ["CONTINUE"]


def returning_world() -> LeaveWorld:
    """Scale-in with ReuseOnScaleIn: the terminate hook holds the instance at
    Warmed:Pending:Wait, its Node still in the cluster with pods."""
    world = LeaveWorld()
    world.autoscaling.reuse_on_scale_in = True
    world.autoscaling.states = {leave_world.INSTANCE: "Warmed:Pending:Wait"}
    world.autoscaling.returning = {leave_world.INSTANCE}
    world.kube.add_node(leave_world.INSTANCE, pods=2)
    world.kube.kubelet = True
    return world


def handled_by_leave(world: LeaveWorld, event: dict[str, Any]) -> dict[str, Any]:
    events = LifecycleEvents(
        fleet=world.fleet(),
        join=None,  # type: ignore[arg-type]
        leave=world.service(),
        clock=world.clock,
    )
    return dict(events.handle(event))


def terminate_sample() -> dict[str, Any]:
    return lifecycle_action(
        "lifecycle-terminate-into-warm-pool",
        group=leave_world.GROUP,
        instance=leave_world.INSTANCE,
        hook=leave_world.HOOK.name,
    )


def test_a_scale_in_into_the_warm_pool_drains_the_node_and_marks_the_return() -> None:
    world = returning_world()

    outcome = handled_by_leave(world, terminate_sample())

    assert (outcome["status"], outcome["step"]) == ("finished", "FinishDrain")
    assert world.kube.pods == {}  # evicted before the instance goes back to the pool
    assert world.autoscaling.completed == [(leave_world.INSTANCE, "CONTINUE")]
    assert RETURNED_TO_POOL_TAG in world.compute.tags[leave_world.INSTANCE]


def test_without_the_samples_warm_pool_destination_the_same_instance_is_not_drained() -> None:
    # Warmed:Pending:Wait alone may be a launch into the pool: only the event says "returning".
    world = returning_world()
    event = terminate_sample()
    event["detail"]["Destination"] = "EC2"

    outcome = handled_by_leave(world, event)

    assert outcome["step"] == "NotTerminating"
    assert world.autoscaling.completed == []
    assert len(world.kube.pods) == 2 and RETURNED_TO_POOL_TAG not in world.compute.tags.get(
        leave_world.INSTANCE, {}
    )
