"""A join whose cluster cannot be read (its API endpoint out of reach, the cluster deleted)
still takes the steps the group and the instance decide alone, and takes no other: a duplicate
event is ignored and a Linux instance ABANDONed, quietly, while a join that needs the cluster
(also a launch into the warm pool, held until its node registers) fails with the cluster's
error, for Lambda to retry and the reconciler to carry on. The steps the group and the instance
decide alone ask the cluster nothing, so they cost no connect timeout."""

from __future__ import annotations

import pytest

from tests.helpers.join_world import FakeKube, JoinWorld, launch_action
from winnodes.decisions.join import Abandon, NothingToDo
from winnodes.errors import KubernetesError
from winnodes.ports import InstancePlatform, NodeState

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


@pytest.mark.parametrize("state", ["Pending:Wait", "Warmed:Pending:Wait"])
def test_a_join_that_needs_the_cluster_fails_with_its_error_and_changes_nothing(
    state: str,
) -> None:
    world = world_with_cluster_out_of_reach(state)

    with pytest.raises(KubernetesError, match="connect timeout"):
        world.service().advance(launch_action())

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
