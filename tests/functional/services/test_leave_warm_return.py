"""Scale-in with ReuseOnScaleIn: the instance returns to the warm pool, held at
Warmed:Pending:Wait by the terminate hook. The leave drains it like a termination when the event
says so (Destination WarmPool) or when its facts prove a return (reconciler); an instance there
that may be a launch into the pool is never drained.

A return keeps the Node (a kubelet left running does not register a deleted Node again): it
stays cordoned and marked as the join marks a Node held for the pool, without the drain's
marks, so that the draw's join lifts the cordon and a later drain starts a clock of its own.
An operator's cordon stays theirs: not marked, so not lifted by the draw."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from tests.helpers.join_world import NOW
from tests.helpers.leave_world import INSTANCE, LeaveWorld, node_name, terminate_action
from winnodes.adapters.kube.cluster import WARM_POOL_HOLD_ANNOTATION, KubeCluster
from winnodes.adapters.kube.drain import (
    DRAIN_STARTED_ANNOTATION,
    EXCLUDE_FROM_LOAD_BALANCERS_LABEL,
)
from winnodes.adapters.kube.timestamps import format_time
from winnodes.decisions.drain import ContinueDraining, DrainPolicy, DrainTimedOut, FinishDrain
from winnodes.models.groups import JOIN_STARTED_TAG, RETURNED_TO_POOL_TAG
from winnodes.services.leave import NotTerminating
from winnodes.services.reconcile import ReconcileService

KEPT = FinishDrain(delete_node=False, keep_for_warm_pool=True)


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


def node(world: LeaveWorld) -> dict[str, Any]:
    found: dict[str, Any] = world.kube.nodes[node_name(INSTANCE)]
    return found


def assert_held_for_the_pool(world: LeaveWorld) -> None:
    """Cordoned and marked as the join holds a Node, and nothing of the drain left: what the
    draw's join lifts (it reads the Node through the same adapter)."""
    kept = node(world)
    assert kept["spec"]["unschedulable"] is True
    assert kept["metadata"]["annotations"] == {WARM_POOL_HOLD_ANNOTATION: "true"}
    assert EXCLUDE_FROM_LOAD_BALANCERS_LABEL not in kept["metadata"]["labels"]
    state = KubeCluster(world.kube).node_named(node_name(INSTANCE))  # type: ignore[arg-type]
    assert state is not None and state.unschedulable and state.held_for_warm_pool


def reconcile(world: LeaveWorld) -> None:
    report = ReconcileService(
        fleet=world.fleet(),
        join=world.join_service(),
        leave=world.service(),
        clock=world.clock,
    ).reconcile()
    assert not report.errors


def test_the_event_of_a_return_drains_the_node_keeps_it_held_for_the_pool_and_completes() -> None:
    world = returning_world()

    result = world.service().leave(terminate_action(returning_to_pool=True))

    assert result.finished and result.step == KEPT
    assert world.kube.pods == {}
    assert "kube.evict web/web-def0-0" in world.journal
    assert "kube.delete node" not in world.journal
    assert_held_for_the_pool(world)
    assert world.autoscaling.completed == [(INSTANCE, "CONTINUE")]
    # Marked before the drain: a later draw starts a join deadline of its own.
    assert RETURNED_TO_POOL_TAG in world.compute.tags[INSTANCE]
    assert world.journal.index("ec2.create_tags") < world.journal.index("kube.patch node")
    # Held for the pool when the drain began: no pod lands on it before the first eviction.
    assert world.journal.index("kube.patch node") < world.journal.index("kube.evict web/web-def0-0")


def test_a_return_whose_drain_times_out_keeps_the_node_held_for_the_pool() -> None:
    world = returning_world()
    world.kube.pdb_refusals = 10**9  # the budget never lets a pod go

    result = world.service(wait_budget=3600).leave(terminate_action(returning_to_pool=True))

    assert result.finished and isinstance(result.step, DrainTimedOut)
    assert result.step.keep_for_warm_pool and not result.step.delete_node
    assert world.clock.elapsed == DrainPolicy().timeout.total_seconds()
    assert len(world.kube.pods) == 2  # protected by their budget: left running
    assert_held_for_the_pool(world)  # the draw lifts it; the drain's start is gone with it
    assert world.autoscaling.completed == [(INSTANCE, "CONTINUE")]


def test_a_forced_return_deletes_the_pods_left_at_the_deadline_but_keeps_the_node() -> None:
    world = returning_world()
    world.kube.pdb_refusals = 10**9

    result = world.service(policy=DrainPolicy(force=True), wait_budget=3600).leave(
        terminate_action(returning_to_pool=True)
    )

    assert isinstance(result.step, DrainTimedOut) and result.step.delete_remaining_pods
    assert world.kube.pods == {}
    assert "kube.delete node" not in world.journal
    assert_held_for_the_pool(world)
    assert world.autoscaling.completed == [(INSTANCE, "CONTINUE")]


def test_a_node_an_operator_cordoned_is_drained_and_kept_with_their_cordon_unmarked() -> None:
    # As the join leaves an operator's cordon on a launch into the pool: the draw keeps it.
    world = returning_world()
    node(world)["spec"]["unschedulable"] = True

    result = world.service().leave(terminate_action(returning_to_pool=True))

    assert result.step == KEPT and world.kube.pods == {}
    assert node(world)["spec"]["unschedulable"] is True
    assert WARM_POOL_HOLD_ANNOTATION not in node(world)["metadata"].get("annotations", {})
    state = KubeCluster(world.kube).node_named(node_name(INSTANCE))  # type: ignore[arg-type]
    assert state is not None and not state.held_for_warm_pool
    assert world.autoscaling.completed == [(INSTANCE, "CONTINUE")]


def test_after_a_timed_out_return_and_a_draw_the_next_terminate_drains_afresh() -> None:
    # The review's reproduction (stale drain start): a return whose drain timed out, the
    # instance drawn a day later, its cordon lifted by the join, then a scale-in terminates it.
    world = returning_world()
    world.kube.pdb_refusals = 10**9
    world.service(wait_budget=3600).leave(terminate_action(returning_to_pool=True))
    world.clock.sleep(86400)
    # The draw: the join lifts the cordon it finds marked, through the same adapter.
    cluster = KubeCluster(world.kube)  # type: ignore[arg-type]
    assert cluster.return_from_warm_pool(node_name(INSTANCE)) is not None
    assert "unschedulable" not in node(world)["spec"]
    world.kube.pdb_refusals = 0
    world.autoscaling.states = {INSTANCE: "Terminating:Wait"}
    world.autoscaling.returning = set()
    evictions_before = sum(e.startswith("kube.evict") for e in world.journal)

    result = world.service().leave(terminate_action())

    assert result.step == FinishDrain(delete_node=True)
    assert sum(e.startswith("kube.evict") for e in world.journal) - evictions_before == 2
    assert world.kube.pods == {} and node_name(INSTANCE) not in world.kube.nodes
    assert world.autoscaling.completed == [(INSTANCE, "CONTINUE")] * 2


def test_a_drain_start_left_on_an_uncordoned_node_is_not_this_drains() -> None:
    # A drain start kept on the Node another way (an operator's cordon, or a version that did
    # not clear it), the Node uncordoned since: the next drain's clock starts when it begins.
    world = returning_world()
    world.autoscaling.states = {INSTANCE: "Terminating:Wait"}
    world.autoscaling.returning = set()
    stale = format_time(NOW - timedelta(days=1))
    node(world)["metadata"]["annotations"] = {DRAIN_STARTED_ANNOTATION: stale}

    result = world.service().advance(terminate_action())

    assert isinstance(result.step, ContinueDraining)
    started = node(world)["metadata"]["annotations"][DRAIN_STARTED_ANNOTATION]
    assert started == format_time(world.clock.now())
    assert world.autoscaling.completed == []


def test_warmed_pending_wait_without_a_return_is_not_a_terminate_action() -> None:
    world = returning_world()

    result = world.service().leave(terminate_action())

    assert result.step == NotTerminating("Warmed:Pending:Wait")
    assert "kube.patch node" not in world.journal and world.autoscaling.completed == []


def test_the_reconciler_drains_an_instance_that_was_in_the_group() -> None:
    world = returning_world(stamped=True)

    reconcile(world)
    reconcile(world)  # evicted pods gone: the node is kept for the pool, the action completed

    assert world.autoscaling.completed == [(INSTANCE, "CONTINUE")]
    assert "kube.delete node" not in world.journal
    assert_held_for_the_pool(world)


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
