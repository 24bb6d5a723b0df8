"""What one reconciler pass does when part of the fleet fails: a group whose cluster cannot be
described is left untouched, and within a group one instance's failure holds up neither its
neighbours' lifecycle actions nor them behind a failing repair. The ReconcileService and Fleet
are the real ones; the ports and the join and leave services it drives are stand-ins that
record what was asked of them."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

import pytest

from winnodes.errors import AwsError, ClusterNotFoundError
from winnodes.models.groups import ManagedGroup
from winnodes.ports import (
    AutoScalingGroup,
    ClusterConnection,
    GroupInstance,
    Instance,
    LifecycleHook,
)
from winnodes.services.fleet import Fleet, FleetView
from winnodes.services.reconcile import ReconcileService

LAUNCH = LifecycleHook("join", "autoscaling:EC2_INSTANCE_LAUNCHING", 600, "ABANDON")
TERMINATE = LifecycleHook("leave", "autoscaling:EC2_INSTANCE_TERMINATING", 600, "CONTINUE")
NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def group(name: str, cluster: str, members: dict[str, str]) -> AutoScalingGroup:
    tags = {"eks-windows-nodes/managed": "true", "eks:cluster-name": cluster}
    return AutoScalingGroup(name, tags, tuple(GroupInstance(i, s) for i, s in members.items()))


@dataclass
class Groups:
    groups: Sequence[AutoScalingGroup]
    launch_hooks: Sequence[LifecycleHook] = (LAUNCH,)

    def groups_tagged(self, tag_key: str) -> Iterator[AutoScalingGroup]:
        return iter(self.groups)

    def lifecycle_hooks(self, group: str) -> list[LifecycleHook]:
        return [*self.launch_hooks, TERMINATE]


class Instances:
    def describe_instances(self, instance_ids: Sequence[str]) -> dict[str, Instance]:
        return {}


@dataclass
class Clusters:
    known: set[str]
    described: list[str] = field(default_factory=list)

    def describe_cluster(self, name: str) -> ClusterConnection:
        self.described.append(name)
        # eks:DescribeCluster of a cluster not there: ResourceNotFoundException.
        if name not in self.known:
            raise ClusterNotFoundError(name, "us-east-1")
        return ClusterConnection(name, f"https://{name}.eks", "Q0E=", None)


@dataclass
class Step:
    name: str


@dataclass
class Result:
    step: Step


@dataclass
class Services:
    """Stand-in for the join and leave services: records each call, fails where told to."""

    failing: set[str] = field(default_factory=set)
    tagging_fails: bool = False
    calls: list[str] = field(default_factory=list)
    hooks_used: list[str] = field(default_factory=list)

    def _call(self, what: str, instance_id: str) -> None:
        self.calls.append(f"{what} {instance_id}")
        if instance_id in self.failing:
            raise AwsError(f"{what} {instance_id}: throttled")

    def tag_instances(
        self, group: ManagedGroup, ids: Sequence[str], view: FleetView, **_: Any
    ) -> list[str]:
        self.calls.append(f"tag {','.join(ids)}")
        if self.tagging_fails:
            # CreateTags refuses a whole request for one bad instance (TagLimitExceeded).
            raise AwsError("tagging: TagLimitExceeded")
        return []

    def advance(self, action: Any, view: FleetView) -> Result:
        self._call("advance", action.instance_id)
        self.hooks_used.append(action.hook.name)
        return Result(Step(type(action).__name__))

    def repair_windows_ipam(self, cluster: str, view: FleetView) -> bool:
        self.calls.append(f"repair-ipam {cluster}")
        return False

    def repair_authorization(self, group: ManagedGroup, instance_id: str, view: FleetView) -> bool:
        self._call("repair", instance_id)
        return True

    def remove_leftover_smoke_pods(self, cluster: str, view: FleetView, **_: Any) -> int:
        return 0


class Clock:
    def now(self) -> datetime:
        return NOW


def reconciler(
    groups: Sequence[AutoScalingGroup],
    services: Services,
    clusters: set[str] | Clusters,
    launch_hooks: Sequence[LifecycleHook] = (LAUNCH,),
) -> ReconcileService:
    # The stand-ins offer only what a pass asks of them (ReconcileService takes the concrete
    # JoinService and LeaveService): partial on purpose.
    fleet = Fleet(
        autoscaling=Groups(groups, launch_hooks),  # type: ignore[arg-type]
        compute=Instances(),  # type: ignore[arg-type]
        clusters=clusters if isinstance(clusters, Clusters) else Clusters(clusters),
        kube_for=lambda connection: None,  # type: ignore[arg-type,return-value]
    )
    return ReconcileService(
        fleet=fleet,
        join=services,  # type: ignore[arg-type]
        leave=services,  # type: ignore[arg-type]
        clock=Clock(),  # type: ignore[arg-type]
    )


def test_a_group_whose_cluster_is_not_there_is_left_untouched() -> None:
    services = Services()
    groups = [
        group("gone", "deleted", {"i-0000000000000000a": "Pending:Wait"}),
        group("live", "prod", {"i-0000000000000000b": "Pending:Wait"}),
    ]

    report = reconciler(groups, services, {"prod"}).reconcile()

    # Not even tagged: the tag would claim the instance for a cluster that is not there.
    assert services.calls == ["tag i-0000000000000000b", "advance i-0000000000000000b"]
    assert report.errors == ["gone: EKS cluster 'deleted' not found in region us-east-1"]
    assert report.launch_actions == 1


def test_one_failing_instance_holds_up_none_of_its_neighbours() -> None:
    services = Services(failing={"i-0000000000000000a", "i-0000000000000000d"})
    members = {
        "i-0000000000000000d": "InService",  # its repair fails
        "i-0000000000000000e": "InService",
        "i-0000000000000000a": "Pending:Wait",  # its join step fails
        "i-0000000000000000b": "Pending:Wait",
        "i-0000000000000000c": "Terminating:Wait",
    }

    report = reconciler([group("win", "prod", members)], services, {"prod"}).reconcile()

    assert services.calls[1:] == [
        # Every held instance, the failing one's neighbours included, before any repair.
        "advance i-0000000000000000a",
        "advance i-0000000000000000b",
        "advance i-0000000000000000c",
        # The first failed repair ends the group's repairs until the next pass.
        "repair-ipam prod",
        "repair i-0000000000000000d",
    ]
    assert report.launch_actions == 2 and report.terminate_actions == 1
    assert report.outcomes == {"Step": 2}  # the failed step has no outcome
    assert report.errors == [
        "win i-0000000000000000a: advance i-0000000000000000a: throttled",
        "win i-0000000000000000d: repair i-0000000000000000d: throttled",
    ]


def test_a_launch_hook_defaulting_to_continue_is_reported(caplog: pytest.LogCaptureFixture) -> None:
    continue_by_default = replace(LAUNCH, default_result="CONTINUE")
    groups = [group("win", "prod", {"i-0000000000000000b": "Pending:Wait"})]

    reconciler(groups, Services(), {"prod"}, [continue_by_default]).reconcile()
    warned = [r for r in caplog.records if "defaults to CONTINUE" in r.getMessage()]
    # Logging's `extra` fields are set on the record: read them from its __dict__.
    assert [(r.levelname, vars(r)["asg"], vars(r)["hook"]) for r in warned] == [
        ("WARNING", "win", "join")
    ]

    caplog.clear()
    reconciler(groups, Services(), {"prod"}).reconcile()
    assert not [r for r in caplog.records if "defaults to CONTINUE" in r.getMessage()]


def test_a_cluster_that_cannot_be_described_is_asked_for_once_per_pass() -> None:
    # Each ask can take its retries' time; the cluster's other groups get the same answer.
    clusters = Clusters(known={"prod"})
    groups = [
        group(f"gone-{n}", "deleted", {f"i-000000000000000{n}a": "Pending:Wait"}) for n in range(3)
    ]

    report = reconciler(groups, Services(), clusters).reconcile()

    assert clusters.described == ["deleted"]
    assert len(report.errors) == 3


def test_with_another_tools_launch_hook_only_the_named_one_is_driven(
    caplog: pytest.LogCaptureFixture,
) -> None:
    other = LifecycleHook("log-shipper", LAUNCH.transition, 300, "CONTINUE")
    members = {"i-0000000000000000b": "Pending:Wait"}
    unnamed = group("win", "prod", members)
    named = AutoScalingGroup(
        "win", {**unnamed.tags, "eks-windows-nodes/launch-hook": "join"}, unnamed.instances
    )

    services = Services()
    reconciler([unnamed], services, {"prod"}, [other, LAUNCH]).reconcile()
    assert not [c for c in services.calls if c.startswith("advance")]  # which one is ours?
    warned = [r for r in caplog.records if "which lifecycle hook is ours" in r.getMessage()]
    assert [vars(r)["hooks"] for r in warned] == [["join", "log-shipper"]]

    services = Services()
    reconciler([named], services, {"prod"}, [other, LAUNCH]).reconcile()
    assert services.hooks_used == ["join"]


def test_a_failed_tagging_request_holds_up_none_of_the_groups_held_instances() -> None:
    services = Services(tagging_fails=True)
    members = {
        "i-0000000000000000a": "Pending:Wait",
        "i-0000000000000000b": "Terminating:Wait",
        "i-0000000000000000c": "InService",
    }

    report = reconciler([group("win", "prod", members)], services, {"prod"}).reconcile()

    assert services.calls == [
        "tag i-0000000000000000a,i-0000000000000000c",
        "advance i-0000000000000000a",  # its join tags it as a step of its own
        "advance i-0000000000000000b",
        "repair-ipam prod",
        "repair i-0000000000000000c",
    ]
    assert report.errors == ["win: tagging: TagLimitExceeded"]


def test_every_groups_held_instances_come_before_any_repair() -> None:
    # A repair against a cluster out of reach may take its timeouts; no group's held instances
    # wait behind another group's repairs.
    services = Services()
    groups = [
        group(
            "a", "slow", {"i-0000000000000000a": "InService", "i-0000000000000000b": "Pending:Wait"}
        ),
        group(
            "b", "prod", {"i-0000000000000000c": "InService", "i-0000000000000000d": "Pending:Wait"}
        ),
    ]

    reconciler(groups, services, {"slow", "prod"}).reconcile()

    assert services.calls == [
        "tag i-0000000000000000a,i-0000000000000000b",
        "advance i-0000000000000000b",
        "tag i-0000000000000000c,i-0000000000000000d",
        "advance i-0000000000000000d",
        "repair-ipam slow",
        "repair i-0000000000000000a",
        "repair-ipam prod",
        "repair i-0000000000000000c",
    ]


def test_a_group_marked_managed_without_a_cluster_is_named_in_the_report() -> None:
    # A by-hand run shows it in the report, not only in a log line on stderr.
    services = Services()
    no_cluster = AutoScalingGroup(
        "win-typo",
        {"eks-windows-nodes/managed": "true"},
        (GroupInstance("i-0000000000000000a", "Pending:Wait"),),
    )

    report = reconciler([no_cluster], services, {"prod"}).reconcile()

    assert [entry.split(":")[0] for entry in report.misconfigured] == ["win-typo"]
    assert report.groups == 0 and services.calls == [] and report.errors == []


def test_with_another_tools_terminate_hook_no_terminating_instance_is_touched() -> None:
    # Two terminate hooks, none named ours by a tag: draining for either would end another
    # tool's step early, so the pass leaves them, and still drives the launch it can.
    other = LifecycleHook("log-flush", TERMINATE.transition, 300, "CONTINUE")
    members = {"i-0000000000000000a": "Terminating:Wait", "i-0000000000000000b": "Pending:Wait"}
    services = Services()

    # The stand-in lists these hooks and then TERMINATE.
    hooks = [LAUNCH, other]
    report = reconciler([group("win", "prod", members)], services, {"prod"}, hooks).reconcile()

    assert services.calls[1:] == ["advance i-0000000000000000b"]
    assert report.terminate_actions == 0 and report.errors == []
