"""What one drain costs: an invocation describes its cluster once and discovers the policy API
version once, however long it polls, reads the pods again after each pause and the group's
lifecycle states every 15 s (Auto Scaling throttles Describe calls account-wide). A reconciler
pass lists a cluster's nodes once, however many of its instances are terminating. Heartbeats,
PDB retries and the deadline pace as before. When EC2 refuses the pass's read of every group's
instances, each group reads its own in one call, not one per instance."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import timedelta

import pytest

from tests.helpers.leave_world import (
    HOOK,
    INSTANCE,
    FakeCompute,
    LeaveWorld,
    instance_id,
    node_name,
    terminate_action,
)
from winnodes.decisions.drain import ContinueDraining, DrainPolicy, DrainTimedOut, FinishDrain
from winnodes.errors import AwsError
from winnodes.observability import metrics
from winnodes.ports import Instance
from winnodes.services.reconcile import ReconcileService


def writes_and_sleeps(journal: list[str]) -> list[str]:
    reads = ("describe", "kube.get", "kube.list")
    return [entry for entry in journal if not any(read in entry for read in reads)]


def test_a_long_drain_describes_the_cluster_once_and_the_group_every_fifteen_seconds() -> None:
    world = LeaveWorld()
    world.kube.add_node(INSTANCE, pods=3)  # evicted, they never finish terminating

    result = world.service(wait_budget=30).leave(terminate_action())

    assert isinstance(result.step, ContinueDraining) and result.remaining == 3
    polls = world.journal.count("kube.list pods")
    assert polls == 31  # at 0 s, then once a second until the budget is spent
    assert world.journal.count("sleep 1") == 30
    assert world.journal.count("eks.describe_cluster") == 1  # was once per poll
    assert world.journal.count("autoscaling.describe_group") == 3  # at 0, 15 and 30 s
    assert world.journal.count("kube.get /apis/policy") == 1
    assert world.drains_built == 1  # was once per poll
    # The first look finds the node in the node list; later ones read it by name.
    assert world.journal.count("kube.list nodes") == 1
    assert world.journal.count("kube.get node") == polls
    assert world.journal.count("kube.evict web/web-def0-0") == 1  # evicted once, then waited for


def test_budget_refusals_are_retried_with_one_policy_discovery_and_one_describe_cluster() -> None:
    world = LeaveWorld()
    world.kube.add_node(INSTANCE, pods=2)
    world.kube.kubelet = True
    world.kube.pdb_refusals = 6  # the budget refuses both pods three times

    result = world.service().leave(terminate_action())

    assert result.finished and result.step == FinishDrain(delete_node=True)
    # kubectl's pace: every 5 s while only the budget holds pods back, then every second.
    assert [e for e in world.journal if e.startswith("sleep")] == ["sleep 5"] * 3 + ["sleep 1"]
    assert world.journal.count("kube.list pdbs") == 3  # each refusal names its budget
    assert world.journal.count("kube.get /apis/policy") == 1  # was once per poll
    assert world.journal.count("eks.describe_cluster") == 1  # was once per poll
    assert world.journal.count("autoscaling.describe_group") == 2  # at 0 and 15 s
    assert world.drains_built == 1
    assert writes_and_sleeps(world.journal)[-2:] == [
        "kube.delete node",
        "autoscaling.complete CONTINUE",
    ]
    assert world.autoscaling.completed == [(INSTANCE, "CONTINUE")]
    assert world.kube.nodes == {}


def test_heartbeats_and_the_deadline_hold_across_polls_of_one_view() -> None:
    world = LeaveWorld()
    world.kube.add_node(INSTANCE, pods=1)
    action = replace(terminate_action(), hook=replace(HOOK, heartbeat_timeout_seconds=8))

    result = world.service(policy=DrainPolicy(timeout=timedelta(seconds=10))).leave(action)

    assert isinstance(result.step, DrainTimedOut) and result.finished
    assert writes_and_sleeps(world.journal) == [
        "kube.patch node",  # cordoned, the drain's start written on the node
        "kube.evict web/web-def0-0",
        # At once: the action may have waited since before the cordon, for all we can read.
        "autoscaling.heartbeat",
        *["sleep 1"] * 4,
        "autoscaling.heartbeat",  # half the hook's 8 s timeout after the first
        *["sleep 1"] * 4,
        "autoscaling.heartbeat",
        *["sleep 1"] * 2,
        "autoscaling.complete CONTINUE",  # 10 s after the drain started; the node stays
    ]
    assert world.journal.count("eks.describe_cluster") == 1
    assert world.journal.count("autoscaling.describe_group") == 1  # over before the next read
    assert node_name(INSTANCE) in world.kube.nodes


def test_a_reconciler_pass_lists_the_nodes_once_for_every_terminating_instance() -> None:
    world = LeaveWorld()
    leaving = [instance_id(n) for n in range(1, 6)]
    world.autoscaling.states = dict.fromkeys(leaving, "Terminating:Wait")
    for instance in leaving[:4]:
        world.kube.add_node(instance, pods=1)
    # The fifth never joined: the node list shows no node for it, nothing reads one.

    report = ReconcileService(
        fleet=world.fleet(),
        join=world.join_service(),
        leave=world.service(),
        clock=world.clock,
    ).reconcile()

    assert report.terminate_actions == 5 and not report.errors
    assert report.outcomes == {"ContinueDraining": 4, "FinishDrain": 1}
    assert world.journal.count("kube.list nodes") == 1  # was one per terminating instance
    assert world.journal.count("kube.get node") == 4  # its uid and drain annotation
    assert world.journal.count("kube.get /apis/policy") == 1  # was one per instance
    assert world.journal.count("eks.describe_cluster") == 1
    assert world.drains_built == 1
    assert world.journal.count("kube.patch node") == 4
    assert world.autoscaling.completed == [(leaving[4], "CONTINUE")]


THROTTLED = "DescribeInstances failed: Rate exceeded (RequestLimitExceeded)"


@dataclass
class ThrottledCompute(FakeCompute):
    """DescribeInstances refused past the SDK's retries `refusals` times, then answering."""

    refusals: int = 0

    def describe_instances(self, instance_ids: Sequence[str]) -> dict[str, Instance]:
        if self.refusals:
            self.refusals -= 1
            self.journal.append("ec2.describe_instances refused")
            raise AwsError(THROTTLED)
        return super().describe_instances(instance_ids)


def throttled_group(*, refusals: int) -> tuple[LeaveWorld, ReconcileService]:
    """Five instances leaving, five in service: the pass checks the tags of those in service
    and repairs under them, and so reads each of them."""
    world = LeaveWorld()
    world.compute = ThrottledCompute(world.journal, refusals=refusals)
    leaving = [instance_id(n) for n in range(1, 6)]
    serving = [instance_id(n) for n in range(6, 11)]
    world.autoscaling.states = dict.fromkeys(leaving, "Terminating:Wait") | dict.fromkeys(
        serving, "InService"
    )
    for instance in leaving + serving:
        world.kube.add_node(instance)
    reconciler = ReconcileService(
        fleet=world.fleet(), join=world.join_service(), leave=world.service(), clock=world.clock
    )
    return world, reconciler


def test_after_a_refused_read_of_every_groups_instances_a_group_reads_its_own_at_once() -> None:
    world, reconciler = throttled_group(refusals=1)

    report = reconciler.reconcile()

    # While EC2 throttles, one call for the group's page of instances, not one per instance.
    assert world.journal.count("ec2.describe_instances") == 1
    assert report.terminate_actions == 5
    assert report.errors == [f"describing the groups' instances: {THROTTLED}"]


def test_a_group_whose_own_read_is_refused_too_waits_for_the_next_pass() -> None:
    world, reconciler = throttled_group(refusals=2)

    report = reconciler.reconcile()

    assert world.journal.count("ec2.describe_instances refused") == 2
    assert world.journal.count("ec2.describe_instances") == 0  # nor instance by instance
    assert report.terminate_actions == 0
    assert report.errors == [
        f"describing the groups' instances: {THROTTLED}",
        f"win-a: {THROTTLED}",
    ]


def test_a_long_drain_logs_its_progress_when_it_changes_not_every_poll(
    caplog: pytest.LogCaptureFixture,
) -> None:
    world = LeaveWorld()
    world.kube.add_node(INSTANCE, pods=3)

    with caplog.at_level(logging.INFO, logger="eks-windows-nodes"):
        world.service(wait_budget=30).leave(terminate_action())

    draining = [r for r in caplog.records if r.getMessage() == "draining"]
    assert [r.levelname for r in draining if r.levelno >= logging.INFO] == ["INFO"]
    progress = vars(draining[0])  # logging's `extra` fields
    assert (progress["remaining"], progress["blocked_by_pdb"]) == ("3", "0")


def test_a_dead_nodes_terminating_pods_hold_the_drain_for_a_minute_not_the_deadline() -> None:
    world = LeaveWorld()
    # The kubelet stopped reporting: evicted pods stay Terminating, nothing confirms them.
    world.kube.add_node(INSTANCE, pods=3, ready="Unknown")

    result = world.service(wait_budget=600).leave(terminate_action())

    assert isinstance(result.step, FinishDrain)
    assert world.autoscaling.completed == [(INSTANCE, "CONTINUE")]
    assert "kube.delete node" in world.journal  # and the pod garbage collector takes the pods
    assert 60 <= world.clock.elapsed <= 62  # the grace, not the 15-minute deadline


def test_a_ready_nodes_terminating_pods_are_waited_for() -> None:
    world = LeaveWorld()
    world.kube.add_node(INSTANCE, pods=3)  # Ready, but the pods never finish terminating

    result = world.service(wait_budget=120).leave(terminate_action())

    assert isinstance(result.step, ContinueDraining) and result.remaining == 3
    assert world.autoscaling.completed == []


def test_each_timed_out_drain_names_its_own_pods_in_its_log_line(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A reconciler pass can time out several drains; the metrics document is the pass's."""
    policy = DrainPolicy(timeout=timedelta(seconds=2))
    caplog.set_level(logging.WARNING)
    for number, pods in ((1, 1), (2, 2)):
        world = LeaveWorld()
        world.autoscaling.states = {instance_id(number): "Terminating:Wait"}
        world.kube.add_node(instance_id(number), pods=pods)
        result = world.service(policy=policy).leave(terminate_action(instance_id(number)))
        assert isinstance(result.step, DrainTimedOut) and result.finished

    assert metrics.metric_set["DrainTimedOut"]["Value"] == [1.0, 1.0]
    assert "blocking_pods" not in metrics.metadata_set
    timed_out = [r for r in caplog.records if r.getMessage().startswith("drain deadline reached")]
    named = [(vars(r)["instance_id"], vars(r)["blocking_pods"].count(",") + 1) for r in timed_out]
    assert named == [
        (instance_id(1), 1),
        (instance_id(2), 2),
    ]


def test_a_long_drain_says_at_info_every_minute_how_long_it_has_drained(
    caplog: pytest.LogCaptureFixture,
) -> None:
    world = LeaveWorld()
    world.kube.add_node(INSTANCE, pods=3)  # evicted, they never finish terminating
    caplog.set_level(logging.INFO)

    world.service(wait_budget=150).leave(terminate_action())

    draining = [vars(r) for r in caplog.records if r.getMessage() == "draining"]
    assert [record["draining_s"] for record in draining] == ["0", "60", "120"]
    assert all(record["remaining"] == "3" for record in draining)
    assert len({record["deadline"] for record in draining}) == 1
