"""Scale-in with ReuseOnScaleIn: the instance returns to the warm pool, held at
Warmed:Pending:Wait by the terminate hook. The leave drains it like a termination when the event
says so (Destination WarmPool) or when its facts prove a return (reconciler); an instance there
that may be a launch into the pool is never drained."""

from __future__ import annotations

from datetime import timedelta

from tests.helpers.join_world import NOW
from tests.helpers.leave_world import INSTANCE, LeaveWorld, node_name, terminate_action
from winnodes.decisions.drain import FinishDrain
from winnodes.models.groups import JOIN_STARTED_TAG, RETURNED_TO_POOL_TAG
from winnodes.services.leave import NotTerminating
from winnodes.services.reconcile import ReconcileService


def returning_world(*, stamped: bool = False) -> LeaveWorld:
    world = LeaveWorld()
    world.autoscaling.reuse_on_scale_in = True
    world.autoscaling.states = {INSTANCE: "Warmed:Pending:Wait"}
    world.autoscaling.returning = {INSTANCE}
    world.kube.add_node(INSTANCE, pods=2)
    world.kube.kubelet = True
    if stamped:
        joined = (NOW - timedelta(hours=2)).isoformat()
        world.compute.tags[INSTANCE] = {JOIN_STARTED_TAG: joined}
    return world


def reconcile(world: LeaveWorld) -> None:
    report = ReconcileService(
        fleet=world.fleet(),
        join=world.join_service(),
        leave=world.service(),
        clock=world.clock,
    ).reconcile()
    assert not report.errors


def test_the_event_of_a_return_drains_the_node_and_completes_the_terminate_action() -> None:
    world = returning_world()

    result = world.service().leave(terminate_action(returning_to_pool=True))

    assert result.finished and result.step == FinishDrain(delete_node=True)
    assert world.kube.pods == {} and node_name(INSTANCE) not in world.kube.nodes
    assert world.autoscaling.completed == [(INSTANCE, "CONTINUE")]
    # Marked before the drain: a later draw starts a join deadline of its own.
    assert RETURNED_TO_POOL_TAG in world.compute.tags[INSTANCE]
    assert world.journal.index("ec2.create_tags") < world.journal.index("kube.patch node")


def test_warmed_pending_wait_without_a_return_is_not_a_terminate_action() -> None:
    world = returning_world()

    result = world.service().leave(terminate_action())

    assert result.step == NotTerminating("Warmed:Pending:Wait")
    assert "kube.patch node" not in world.journal and world.autoscaling.completed == []


def test_the_reconciler_drains_an_instance_that_was_in_the_group() -> None:
    world = returning_world(stamped=True)

    reconcile(world)
    reconcile(world)  # evicted pods gone: the node is deleted, the action completed

    assert world.autoscaling.completed == [(INSTANCE, "CONTINUE")]
    assert node_name(INSTANCE) not in world.kube.nodes


def test_the_reconciler_drains_an_instance_launched_longer_ago_than_any_action_lasts() -> None:
    world = returning_world()
    world.compute.launch_time = NOW - timedelta(days=3)

    reconcile(world)
    reconcile(world)

    assert world.autoscaling.completed == [(INSTANCE, "CONTINUE")]


def test_the_reconciler_never_drains_what_may_be_a_launch_into_the_pool() -> None:
    world = returning_world()  # no stamp, no mark, launched just now: the event must tell

    reconcile(world)

    assert "kube.patch node" not in world.journal
    assert not any(entry.startswith("kube.evict") for entry in world.journal)
    assert world.autoscaling.completed == []
    assert node_name(INSTANCE) in world.kube.nodes
