"""A reconciler pass over a launch whose event was lost, with the real ReconcileService and
JoinService over in-memory ports (tests.helpers.join_world). A step that takes effect (the role
authorized, Windows IPAM switched on) is followed by the next look at once, through the same
reads, as in the event's invocation: a pass takes the join as far as it can go without waiting,
and the look that waits sends the heartbeat due. The report counts every look's step."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from tests.helpers.join_world import (
    CLUSTER,
    GROUP,
    INSTANCE,
    NODE,
    FakeAccessEntries,
    JoinWorld,
)
from winnodes.decisions.smoke import SmokeTestPolicy
from winnodes.errors import AwsError
from winnodes.ports import AutoScalingGroup
from winnodes.services.join import JoinSettings

NO_SMOKE = JoinSettings(smoke_test=SmokeTestPolicy(enabled=False))


def writes(journal: list[str]) -> list[str]:
    reads = ("describe", "list", "read", "get")
    return [e for e in journal if not any(read in e for read in reads)]


def lost_launch(*, node_ready: bool) -> JoinWorld:
    """Nothing done yet: no tags, no access entry, Windows IPAM off. The instance launched 5
    minutes ago under a 600 s hook: a heartbeat is due."""
    world = JoinWorld()
    world.compute.tags = {}
    world.access_entries.entries = set()
    world.kube.windows_ipam = False
    world.kube.ready_from_read = 0 if node_ready else 100
    return world


def test_a_pass_prepares_a_lost_launch_and_heartbeats_while_the_node_is_not_ready() -> None:
    world = lost_launch(node_ready=False)

    report = world.reconciler(NO_SMOKE).reconcile()

    assert writes(world.journal) == [
        "ec2.create_tags",  # the pass's tagging of the group's instances
        "eks.create_access_entry",
        "kube.enable_windows_ipam",
        "autoscaling.heartbeat",  # by the look that waits for the node
    ]
    # Every look's step: those that took effect, then the wait.
    assert report.outcomes == {"AuthorizeNodeRole": 1, "EnableWindowsIpam": 1, "WaitForNode": 1}
    assert world.autoscaling.completed == []


def test_a_pass_completes_a_lost_launch_whose_node_is_ready() -> None:
    world = lost_launch(node_ready=True)

    report = world.reconciler(NO_SMOKE).reconcile()

    assert world.autoscaling.completed == ["CONTINUE"]
    assert report.outcomes == {
        "AuthorizeNodeRole": 1,
        "EnableWindowsIpam": 1,
        "CompleteContinue": 1,
    }
    # Each step's effect is in the view: one read of each kind for the whole pass.
    assert world.journal.count("ec2.describe_instances") == 1
    assert world.journal.count("kube.list_nodes") == 1


def held_node_in_service() -> JoinWorld:
    """A node in service that still carries the join's warm-pool cordon: its draw's action ended
    without the join (timed out to CONTINUE, say)."""
    world = JoinWorld()
    world.autoscaling.has_warm_pool = True
    world.autoscaling.state = "InService"
    world.kube.unschedulable = world.kube.held_for_warm_pool = True
    return world


def test_a_pass_lifts_the_warm_pool_cordon_of_a_node_in_service() -> None:
    world = held_node_in_service()

    report = world.reconciler(NO_SMOKE).reconcile()

    assert report.warm_pool_cordons_lifted == 1
    assert not world.kube.unschedulable


def test_a_pass_leaves_the_cordon_of_a_node_returning_to_the_pool_since_the_groups_were_read(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Scale-in begins once the pass has listed the groups: the instance is held for its return
    # to the warm pool, and the drain holds its node with the same cordon.
    world = held_node_in_service()
    listed = world.autoscaling.groups_tagged

    def listed_then_scaled_in(tag_key: str) -> Iterator[AutoScalingGroup]:
        yield from listed(tag_key)
        world.autoscaling.state = "Warmed:Pending:Wait"

    monkeypatch.setattr(world.autoscaling, "groups_tagged", listed_then_scaled_in)

    report = world.reconciler(NO_SMOKE).reconcile()

    assert report.warm_pool_cordons_lifted == 0
    assert world.kube.unschedulable and world.kube.held_for_warm_pool
    assert "kube.uncordon_from_warm_pool" not in world.journal


@dataclass
class RefusedAccessEntries(FakeAccessEntries):
    """CreateAccessEntry refused: the function's role lost eks:CreateAccessEntry."""

    def ensure_windows_node_entry(self, cluster: str, role_arn: str) -> bool:
        self.journal.append("eks.create_access_entry refused")
        raise AwsError("CreateAccessEntry failed: AccessDeniedException")


def test_a_failed_step_is_logged_with_its_cluster_and_the_node_the_pass_read(
    caplog: pytest.LogCaptureFixture,
) -> None:
    world = lost_launch(node_ready=False)
    world.access_entries = RefusedAccessEntries(world.journal, entries=set())

    with caplog.at_level(logging.ERROR, logger="eks-windows-nodes"):
        report = world.reconciler(NO_SMOKE).reconcile()

    assert report.errors == [f"{GROUP} {INSTANCE}: CreateAccessEntry failed: AccessDeniedException"]
    (failed,) = [vars(r) for r in caplog.records if r.getMessage() == "reconciling instance failed"]
    # The keys of the join's own lines: the node from the list the look read, no request more.
    assert {key: failed[key] for key in ("cluster", "asg", "instance_id", "node")} == {
        "cluster": CLUSTER,
        "asg": GROUP,
        "instance_id": INSTANCE,
        "node": NODE,
    }
    assert world.journal.count("kube.list_nodes") == 1
    assert "kube.get_node" not in world.journal
