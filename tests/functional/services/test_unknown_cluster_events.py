"""A lifecycle event of a managed group whose cluster tag names no cluster is bad input (safety
rule 5): refused with a structured outcome and the EventRejected metric, returned rather than
raised (Lambda's retries would find no cluster either), and nothing is changed: no tag, no
heartbeat, no completion, no drain."""

from __future__ import annotations

from datetime import timedelta

from tests.helpers import join_world, leave_world
from tests.helpers.events import lifecycle_action
from tests.helpers.join_world import JoinWorld, UnknownClusters
from tests.helpers.leave_world import LeaveWorld
from winnodes.decisions.smoke import SmokeTestPolicy
from winnodes.observability import metrics
from winnodes.services.join import JoinSettings
from winnodes.services.lifecycle import LifecycleEvents

REJECTED = {
    "status": "rejected",
    "field": "cluster",
    "reason": "EKS cluster 'prod' not found in region us-east-1",
}


def test_a_launch_for_an_unknown_cluster_is_rejected_and_changes_nothing() -> None:
    world = JoinWorld()
    world.clusters = UnknownClusters(world.journal)
    world.compute.tags = {}  # untagged: a join would tag it first
    world.clock.elapsed = 16 * 60  # past the join deadline: no ABANDON either
    events = LifecycleEvents(
        fleet=world.fleet(),
        join=world.service(
            settings=JoinSettings(
                wait_budget=timedelta(minutes=13), smoke_test=SmokeTestPolicy(enabled=False)
            )
        ),
        leave=None,  # type: ignore[arg-type]
        clock=world.clock,
    )
    event = lifecycle_action(
        "lifecycle-launch",
        group=join_world.GROUP,
        instance=join_world.INSTANCE,
        hook=join_world.HOOK.name,
    )

    outcome = events.handle(event)

    assert outcome == REJECTED
    assert metrics.metric_set["EventRejected"]["Value"] == [1.0]
    assert world.autoscaling.completed == []
    assert not any(
        e.startswith(("ec2.create_tags", "autoscaling.heartbeat")) for e in world.journal
    )


def test_a_termination_for_an_unknown_cluster_is_rejected_and_changes_nothing() -> None:
    world = LeaveWorld()
    world.clusters = UnknownClusters(world.journal)
    events = LifecycleEvents(
        fleet=world.fleet(),
        join=None,  # type: ignore[arg-type]
        leave=world.service(),
        clock=world.clock,
    )
    event = lifecycle_action(
        "lifecycle-terminate",
        group=leave_world.GROUP,
        instance=leave_world.INSTANCE,
        hook=leave_world.HOOK.name,
    )

    outcome = events.handle(event)

    assert outcome == REJECTED
    assert metrics.metric_set["EventRejected"]["Value"] == [1.0]
    assert world.autoscaling.completed == []
    assert world.drains_built == 0
