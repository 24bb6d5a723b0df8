"""A join whose cluster cannot be read (its API endpoint out of reach, the cluster deleted)
still takes the steps the group and the instance decide alone, and takes no other: a duplicate
event is ignored and a Linux instance ABANDONed, quietly, while a join that needs the cluster
(also a launch into the warm pool, held until its node registers) fails with the cluster's
error, for Lambda to retry and the reconciler to carry on. The steps the group and the instance
decide alone ask the cluster nothing, so they cost no connect timeout.

Meanwhile the join still owns its action: it heartbeats when one is due, so the hook does not
time out into its default result, and ABANDONs at the join deadline, with the reason; so does a
reconciler pass while DescribeCluster is refused, which still tags the instances (the join-start
stamp of a draw from the warm pool above all). Only an unknown cluster (bad input, safety
rule 5) is left alone altogether."""

from __future__ import annotations

from dataclasses import replace

import pytest

from tests.helpers.join_world import (
    DESCRIBE_CLUSTER_REFUSED,
    GROUP,
    HOOK,
    FakeKube,
    JoinWorld,
    RefusedClusters,
    UnknownClusters,
    launch_action,
)
from winnodes.decisions.join import Abandon, NothingToDo
from winnodes.errors import ClusterNotFoundError, KubernetesError
from winnodes.observability import metrics
from winnodes.ports import (
    InstancePlatform,
    LifecycleHook,
    NodeState,
)
from winnodes.services.join import LaunchAction

UNREACHABLE = "GET /api/v1/nodes: connect timeout"


class UnreachableKube(FakeKube):
    def nodes_by_instance(self) -> dict[str, NodeState]:
        self.journal.append("kube.list_nodes failed")
        raise KubernetesError(UNREACHABLE)

    def node_named(self, name: str) -> NodeState | None:
        raise KubernetesError(UNREACHABLE)

    def windows_ipam_enabled(self) -> bool:
        raise KubernetesError(UNREACHABLE)


def cluster_calls(world: JoinWorld) -> list[str]:
    return [e for e in world.journal if e.startswith(("eks.", "kube."))]


def world_with_cluster_out_of_reach(state: str) -> JoinWorld:
    world = JoinWorld()
    world.kube = UnreachableKube(world.journal)
    world.autoscaling.state = state
    return world


def test_an_action_no_longer_pending_is_left_alone_without_the_cluster() -> None:
    world = world_with_cluster_out_of_reach("InService")

    result = world.service().advance(launch_action())

    assert isinstance(result.step, NothingToDo)
    assert world.autoscaling.completed == []
    assert cluster_calls(world) == []


# The world's instance launched 5 minutes ago: with this hook, no heartbeat is due yet.
HOUR_HOOK = LifecycleHook("join", "autoscaling:EC2_INSTANCE_LAUNCHING", 3600, "ABANDON")
PAST_THE_DEADLINE = 16 * 60  # seconds on: 21 minutes after the launch, the deadline 20


def action_of(hook: LifecycleHook) -> LaunchAction:
    return replace(launch_action(), hook=hook)


@pytest.mark.parametrize("state", ["Pending:Wait", "Warmed:Pending:Wait"])
def test_a_join_that_needs_the_cluster_fails_with_its_error_and_changes_nothing(
    state: str,
) -> None:
    world = world_with_cluster_out_of_reach(state)

    with pytest.raises(KubernetesError, match="connect timeout"):
        world.service().advance(action_of(HOUR_HOOK))

    assert world.autoscaling.completed == []
    assert "ec2.create_tags" not in world.journal
    assert "autoscaling.heartbeat" not in world.journal


def test_a_linux_instance_is_abandoned_without_asking_the_cluster() -> None:
    world = world_with_cluster_out_of_reach("Pending:Wait")
    world.compute.platform = InstancePlatform.LINUX

    result = world.service().advance(launch_action())

    assert isinstance(result.step, Abandon)
    assert world.autoscaling.completed == ["ABANDON"]
    assert cluster_calls(world) == []


def test_a_duplicate_event_after_the_join_costs_a_reachable_cluster_no_call() -> None:
    world = JoinWorld()  # the cluster answers
    world.autoscaling.state = "InService"  # the first copy of the event completed the action

    result = world.service().advance(launch_action())

    assert result.step == NothingToDo("no launch action pending (state InService)")
    assert cluster_calls(world) == []
    assert world.journal == ["ec2.describe_instances", "autoscaling.describe_group"]


@pytest.mark.parametrize("state", ["Pending:Wait", "Warmed:Pending:Wait"])
def test_the_hook_is_kept_alive_while_the_cluster_is_out_of_reach(state: str) -> None:
    # 600 s hook, launched 5 minutes ago: half its timeout is over. Without the heartbeat, the
    # hook would time out into its default result while every look failed.
    world = world_with_cluster_out_of_reach(state)

    with pytest.raises(KubernetesError, match="connect timeout"):
        world.service().advance(launch_action())

    assert world.journal[-2:] == ["kube.list_nodes failed", "autoscaling.heartbeat"]
    assert world.autoscaling.completed == []


@pytest.mark.parametrize("state", ["Pending:Wait", "Warmed:Pending:Wait"])
def test_past_the_deadline_a_join_is_abandoned_though_the_cluster_is_out_of_reach(
    state: str,
) -> None:
    world = world_with_cluster_out_of_reach(state)
    world.clock.elapsed = PAST_THE_DEADLINE

    result = world.service().advance(action_of(HOUR_HOOK))

    assert result.step == Abandon(
        f"not joined by the deadline: the cluster could not be read ({UNREACHABLE})"
    )
    assert world.autoscaling.completed == ["ABANDON"]
    assert metrics.metric_set["JoinAbandoned"]["Value"] == [1.0]
    assert "ec2.create_tags" not in world.journal


def test_a_join_for_an_unknown_cluster_is_left_alone_even_past_the_deadline() -> None:
    # Bad input (safety rule 5): not the join's to complete, however long it waited.
    world = JoinWorld()
    world.clock.elapsed = PAST_THE_DEADLINE
    world.clusters = UnknownClusters(world.journal)

    with pytest.raises(ClusterNotFoundError):
        world.service().advance(launch_action())

    assert world.autoscaling.completed == []
    assert "autoscaling.heartbeat" not in world.journal


def test_a_pass_keeps_the_hook_alive_while_describe_cluster_is_refused() -> None:
    # 600 s hook, launched 5 minutes ago: a heartbeat is due. Skipping the group, as for a
    # cluster that is gone, would leave the hook to time out into its default result.
    world = JoinWorld()
    world.clusters = RefusedClusters(world.journal)

    report = world.reconciler().reconcile()

    assert "autoscaling.heartbeat" in world.journal
    assert world.journal.count("eks.describe_cluster refused") == 1
    assert world.autoscaling.completed == []
    # Reported once, for the group, not again for each of its instances.
    assert report.errors == [f"{GROUP}: {DESCRIBE_CLUSTER_REFUSED}"]


def test_past_the_deadline_a_pass_abandons_while_describe_cluster_is_refused() -> None:
    world = JoinWorld()
    world.clusters = RefusedClusters(world.journal)
    world.autoscaling.hooks = [HOUR_HOOK]
    world.clock.elapsed = PAST_THE_DEADLINE

    report = world.reconciler().reconcile()

    assert world.autoscaling.completed == ["ABANDON"]
    assert report.outcomes == {"Abandon": 1}
    assert metrics.metric_set["JoinAbandoned"]["Value"] == [1.0]


def test_a_pool_draw_is_stamped_and_heartbeated_while_describe_cluster_is_refused() -> None:
    # LaunchTime is the launch into the pool: only the stamp the first pass writes tells later
    # passes when the draw's join began. Without it, each pass would start the join anew:
    # neither a heartbeat nor the deadline would ever come.
    world = JoinWorld()
    world.clusters = RefusedClusters(world.journal)
    world.autoscaling.has_warm_pool = True
    world.compute.tags = {}
    passes = world.reconciler()  # one warm container: it remembers its heartbeats

    passes.reconcile()
    assert world.journal.count("ec2.create_tags") == 1
    # The join is taken to begin at this first sight, but the draw may have waited since long
    # before: its hook gets a heartbeat at once.
    assert world.journal.count("autoscaling.heartbeat") == 1

    world.clock.elapsed += HOOK.heartbeat_timeout_seconds / 2 - 1
    passes.reconcile()
    assert world.journal.count("autoscaling.heartbeat") == 1  # remembered: not due yet
    world.clock.elapsed += 2
    passes.reconcile()
    assert world.journal.count("autoscaling.heartbeat") == 2

    world.clock.elapsed += 20 * 60
    passes.reconcile()
    assert world.autoscaling.completed == ["ABANDON"]
