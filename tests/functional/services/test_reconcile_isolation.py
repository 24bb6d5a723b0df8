"""What one reconciler pass does when part of the fleet fails or is slow: a group whose cluster
is not there is left untouched (one that cannot be described now gets its held actions
driven, nothing else), within a group one instance's failure holds up neither its
neighbours' lifecycle actions nor them behind a failing repair, and a pass that runs short of its
invocation's time leaves the rest for the next one, which starts elsewhere. The ReconcileService
and Fleet are the real ones; the ports and the join and leave services it drives are stand-ins
that record what was asked of them."""

from __future__ import annotations

import logging
import random
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from winnodes.errors import AwsError, ClusterNotFoundError
from winnodes.models.groups import ManagedGroup
from winnodes.observability import metrics
from winnodes.ports import (
    AutoScalingGroup,
    ClusterConnection,
    GroupInstance,
    Instance,
    LifecycleHook,
)
from winnodes.services.fleet import STEP_RESERVE, Fleet, FleetView
from winnodes.services.join import JoinProgress
from winnodes.services.reconcile import ReconcileService, visiting_order

LAUNCH = LifecycleHook("join", "autoscaling:EC2_INSTANCE_LAUNCHING", 600, "ABANDON")
TERMINATE = LifecycleHook("leave", "autoscaling:EC2_INSTANCE_TERMINATING", 600, "CONTINUE")
NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
FORTY_SECONDS_OF_WORK = STEP_RESERVE + timedelta(seconds=40)


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


@dataclass
class Instances:
    described: list[str] = field(default_factory=list)

    def describe_instances(self, instance_ids: Sequence[str]) -> dict[str, Instance]:
        self.described.extend(instance_ids)
        return {}


@dataclass
class Clock:
    """Time moves only when a stand-in says a call took some."""

    elapsed: float = 0.0

    def now(self) -> datetime:
        return NOW + timedelta(seconds=self.elapsed)

    def monotonic(self) -> float:
        return self.elapsed


class StartAt(random.Random):
    """The pass's random first group, chosen by the test."""

    def __init__(self, start: int) -> None:
        super().__init__()
        self.start = start

    def randrange(self, start: int, stop: int | None = None, step: int = 1) -> int:
        return self.start


@dataclass
class Clusters:
    known: set[str]
    described: list[str] = field(default_factory=list)
    clock: Clock = field(default_factory=Clock)
    # Clusters whose answer takes this many seconds (a connect timeout and its retry).
    slow: dict[str, float] = field(default_factory=dict)
    # Clusters there, but DescribeCluster refused for now (throttled past the SDK's retries).
    refused: set[str] = field(default_factory=set)

    def describe_cluster(self, name: str) -> ClusterConnection:
        self.described.append(name)
        self.clock.elapsed += self.slow.get(name, 0.0)
        # eks:DescribeCluster of a cluster not there: ResourceNotFoundException.
        if name not in self.known:
            raise ClusterNotFoundError(name, "us-east-1")
        if name in self.refused:
            raise AwsError(f"DescribeCluster {name}: Rate exceeded (ThrottlingException)")
        return ClusterConnection(name, f"https://{name}.eks", "Q0E=", None)


@dataclass
class Step:
    name: str


@dataclass
class Result:
    step: Step
    progress: JoinProgress = JoinProgress.WAITING


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

    def repair_warm_pool_cordon(
        self, group: ManagedGroup, instance_id: str, view: FleetView
    ) -> bool:
        self._call("uncordon", instance_id)
        return False

    def remove_leftover_smoke_pods(self, cluster: str, view: FleetView, **_: Any) -> int:
        return 0


@dataclass
class SlowSteps(Services):
    """Each step takes 15 s: a drain evicting many pods, say."""

    clock: Clock = field(default_factory=Clock)

    def advance(self, action: Any, view: FleetView) -> Result:
        self.clock.elapsed += 15.0
        return super().advance(action, view)


def reconciler(
    groups: Sequence[AutoScalingGroup],
    services: Services,
    clusters: set[str] | Clusters,
    launch_hooks: Sequence[LifecycleHook] = (LAUNCH,),
    *,
    start: int = 0,
    instances: Instances | None = None,
) -> ReconcileService:
    # The stand-ins offer only what a pass asks of them (ReconcileService takes the concrete
    # JoinService and LeaveService): partial on purpose.
    clusters = clusters if isinstance(clusters, Clusters) else Clusters(clusters)
    fleet = Fleet(
        autoscaling=Groups(groups, launch_hooks),  # type: ignore[arg-type]
        compute=instances or Instances(),  # type: ignore[arg-type]
        clusters=clusters,
        kube_for=lambda connection: None,  # type: ignore[arg-type,return-value]
    )
    return ReconcileService(
        fleet=fleet,
        join=services,  # type: ignore[arg-type]
        leave=services,  # type: ignore[arg-type]
        clock=clusters.clock,  # type: ignore[arg-type]
        rng=StartAt(start),
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
    assert report.groups == 1  # the one reconciled


def test_a_group_whose_cluster_cannot_be_described_now_still_has_its_held_actions_driven() -> None:
    # The cluster is likely there: its held launches still owe their hooks a heartbeat, and an
    # ABANDON past their deadline, which the join decides without the cluster. Tags need only
    # EC2; the repairs, which need the cluster, are not tried.
    services = Services()
    members = {
        "i-0000000000000000a": "Pending:Wait",
        "i-0000000000000000b": "Terminating:Wait",
        "i-0000000000000000c": "InService",
    }
    groups = [
        group("win", "busy", members),
        group("live", "prod", {"i-0000000000000000d": "InService"}),
    ]
    clusters = Clusters(known={"busy", "prod"}, refused={"busy"})

    report = reconciler(groups, services, clusters).reconcile()

    assert services.calls == [
        "tag i-0000000000000000a,i-0000000000000000c",
        "advance i-0000000000000000a",
        "advance i-0000000000000000b",
        # The other group's, its cluster described.
        "tag i-0000000000000000d",
        "repair-ipam prod",
        "repair i-0000000000000000d",
    ]
    assert report.launch_actions == 1 and report.terminate_actions == 1
    assert report.errors == ["win: DescribeCluster busy: Rate exceeded (ThrottlingException)"]
    assert report.groups == 2  # both reconciled, the first in part


def test_the_errors_a_pass_survives_are_counted_in_a_metric() -> None:
    # The pass returns normally, so Lambda's Errors metric never counts them: this one does.
    services = Services(failing={"i-0000000000000000a"})
    groups = [
        group("gone", "deleted", {"i-0000000000000000c": "Pending:Wait"}),
        group("win", "prod", {"i-0000000000000000a": "Pending:Wait"}),
    ]

    report = reconciler(groups, services, {"prod"}).reconcile()

    assert len(report.errors) == 2
    assert metrics.metric_set["ReconcileErrors"]["Value"] == [2.0]


@dataclass
class ThrottledFirstRead(Instances):
    """DescribeInstances throttled past the SDK's retries once, then answering."""

    def describe_instances(self, instance_ids: Sequence[str]) -> dict[str, Instance]:
        if not self.described:
            self.described.extend(instance_ids)
            raise AwsError("DescribeInstances failed: Rate exceeded (Throttling)")
        return super().describe_instances(instance_ids)


def test_a_failed_read_of_every_groups_instances_stops_no_group() -> None:
    services = Services()
    groups = [
        group("win-a", "prod", {"i-0000000000000000a": "Pending:Wait"}),
        group("win-b", "prod", {"i-0000000000000000b": "Terminating:Wait"}),
    ]

    report = reconciler(groups, services, {"prod"}, instances=ThrottledFirstRead()).reconcile()

    assert [c for c in services.calls if c.startswith("advance")] == [
        "advance i-0000000000000000a",
        "advance i-0000000000000000b",
    ]
    assert report.errors == [
        "describing the groups' instances: DescribeInstances failed: Rate exceeded (Throttling)"
    ]


def test_a_pass_without_errors_emits_no_error_count() -> None:
    groups = [group("win", "prod", {"i-0000000000000000a": "Pending:Wait"})]

    report = reconciler(groups, Services(), {"prod"}).reconcile()

    assert report.errors == []
    assert "ReconcileErrors" not in metrics.metric_set


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
    pooled = replace(group("win", "prod", members), has_warm_pool=True)

    report = reconciler([pooled], services, {"prod"}).reconcile()

    assert services.calls == [
        "tag i-0000000000000000a,i-0000000000000000c",
        "advance i-0000000000000000a",  # its join tags it as a step of its own
        "advance i-0000000000000000b",
        "repair-ipam prod",
        "repair i-0000000000000000c",
        "uncordon i-0000000000000000c",
    ]
    assert report.errors == ["win: tagging: TagLimitExceeded"]


def test_every_groups_held_instances_come_before_any_repair() -> None:
    # A repair against a cluster out of reach may take its timeouts; no group's held instances
    # wait behind another group's repairs.
    services = Services()
    groups = [
        replace(
            group(
                "a",
                "slow",
                {"i-0000000000000000a": "InService", "i-0000000000000000b": "Pending:Wait"},
            ),
            has_warm_pool=True,
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
        "uncordon i-0000000000000000a",
        "repair-ipam prod",
        "repair i-0000000000000000c",  # no warm pool: no warm-pool cordon to look for
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


def one_held_instance_each(clusters: Sequence[str]) -> list[AutoScalingGroup]:
    return [
        group(f"g{n}", cluster, {f"i-{n:017x}": "Pending:Wait"})
        for n, cluster in enumerate(clusters)
    ]


def advanced(services: Services) -> list[str]:
    return [call.removeprefix("advance ") for call in services.calls if call.startswith("advance")]


def test_a_pass_short_of_time_defers_the_groups_it_cannot_start_in_time() -> None:
    # Four clusters out of reach, 10 s each to give up on, then two that answer at once. With
    # 40 s more than the reserve left, no group is started after 40 s.
    clusters = Clusters(
        known={"dead0", "dead1", "dead2", "dead3", "live"},
        slow={f"dead{n}": 10.0 for n in range(4)},
    )
    groups = one_held_instance_each(["dead0", "dead1", "dead2", "dead3", "live", "live"])
    services = Services()

    report = reconciler(groups, services, clusters).reconcile(time_left=FORTY_SECONDS_OF_WORK)

    assert clusters.described == ["dead0", "dead1", "dead2", "dead3"]
    # The fourth group was started at 30 s; its instance's turn came at 40 s.
    assert advanced(services) == [f"i-{n:017x}" for n in range(3)]
    assert report.deferred == [
        "g3: held instances (1)",
        "g4: held instances and repairs",
        "g5: held instances and repairs",
        # Swept only by a pass with time to spare: the clusters it reached.
        "dead0: leftover smoke pods",
        "dead1: leftover smoke pods",
        "dead2: leftover smoke pods",
        "dead3: leftover smoke pods",
    ]
    # Counted: the four groups started, the fourth in part; not the two deferred whole.
    assert report.groups == 4 and report.launch_actions == 3
    assert metrics.metric_set["ReconciledGroups"]["Value"] == [4.0]


def test_the_next_pass_starts_at_another_group_and_reaches_the_deferred_ones() -> None:
    clusters = ["dead0", "dead1", "dead2", "dead3", "live", "live"]

    def one_pass(start: int) -> tuple[list[str], list[str]]:
        slow = Clusters(known=set(clusters), slow={f"dead{n}": 10.0 for n in range(4)})
        services = Services()
        report = reconciler(
            one_held_instance_each(clusters), services, slow, start=start
        ).reconcile(time_left=FORTY_SECONDS_OF_WORK)
        return advanced(services), report.deferred

    first, _ = one_pass(start=0)
    second, deferred = one_pass(start=4)

    assert f"i-{4:017x}" not in first
    # The groups the first pass deferred first, then the rest until 40 s.
    assert second == [f"i-{n:017x}" for n in (4, 5, 0, 1, 2)]
    assert [d for d in deferred if "held" in d] == ["g3: held instances (1)"]


def test_repairs_wait_for_the_next_pass_when_the_held_instances_used_the_time() -> None:
    clusters = Clusters(known={"prod"})
    services = SlowSteps(clock=clusters.clock)
    groups = [
        group(f"g{n}", "prod", {f"i-{n:016x}a": "InService", f"i-{n:016x}b": "Pending:Wait"})
        for n in range(3)
    ]

    report = reconciler(groups, services, clusters).reconcile(time_left=FORTY_SECONDS_OF_WORK)

    # Held instances at 0, 15 and 30 s; at 45 s less than the reserve is left.
    assert [c for c in services.calls if c.startswith("repair")] == []
    assert report.deferred == [
        "g0: repairs",
        "g1: repairs",
        "g2: repairs",
        "prod: leftover smoke pods",
    ]
    assert report.launch_actions == 3


@dataclass
class SlowSweeps(Services):
    """Each cluster's sweep for leftover smoke pods takes 30 s: an API server that accepts
    connections and does not answer."""

    clock: Clock = field(default_factory=Clock)
    swept: list[str] = field(default_factory=list)

    def remove_leftover_smoke_pods(self, cluster: str, view: FleetView, **_: Any) -> int:
        self.swept.append(cluster)
        self.clock.elapsed += 30.0
        return 0


def test_the_sweep_for_leftover_smoke_pods_stops_when_the_time_is_spent() -> None:
    clusters = Clusters(known={"blue", "green", "red"})
    services = SlowSweeps(clock=clusters.clock)
    groups = [group(f"win-{c}", c, {}) for c in ("blue", "green", "red")]

    report = reconciler(groups, services, clusters).reconcile(time_left=FORTY_SECONDS_OF_WORK)

    # Swept at 0 and 30 s; at 60 s less than the reserve is left.
    assert services.swept == ["blue", "green"]
    assert report.deferred == ["red: leftover smoke pods"]


def test_without_a_time_limit_a_pass_does_everything_in_the_groups_order() -> None:
    # A pass run by hand: no invocation's timeout to keep to, nothing deferred, nothing rotated.
    clusters = Clusters(known={"dead", "live"}, slow={"dead": 1000.0})
    groups = one_held_instance_each(["dead", "live", "live"])
    services = Services()

    report = reconciler(groups, services, clusters, start=2).reconcile()

    assert advanced(services) == [f"i-{n:017x}" for n in range(3)]
    assert report.deferred == []


def test_less_time_than_the_reserve_starts_nothing() -> None:
    services = Services()
    groups = one_held_instance_each(["prod"])

    report = reconciler(groups, services, {"prod"}).reconcile(time_left=STEP_RESERVE)

    assert services.calls == []
    assert report.deferred == ["g0: held instances and repairs"]


@given(
    st.lists(st.text(min_size=1, max_size=3), max_size=8), st.integers(min_value=0, max_value=100)
)
def test_the_visiting_order_is_the_groups_rotated_to_start_at_the_chosen_one(
    names: list[str], start: int
) -> None:
    groups = [AutoScalingGroup(name, {}, ()) for name in names]

    order = visiting_order(groups, start)

    assert sorted(g.name for g in order) == sorted(names)  # every group, once
    if groups:
        first = start % len(groups)
        assert order == groups[first:] + groups[:first]


def test_a_pass_describes_only_the_instances_it_may_act_on() -> None:
    # A warm pool's idle instances and those on their way out need no look, every minute.
    members = {
        "i-0000000000000000a": "Pending:Wait",
        "i-0000000000000000b": "InService",
        "i-0000000000000000c": "Terminating:Wait",
        "i-0000000000000000d": "Warmed:Pending:Wait",
        "i-0000000000000000e": "Warmed:Stopped",
        "i-0000000000000000f": "Warmed:Running",
        "i-00000000000000010": "Terminating:Proceed",
        "i-00000000000000011": "Pending",
        "i-00000000000000012": "Some:Future:State",
    }
    instances = Instances()

    reconciler(
        [group("win", "prod", members)], Services(), {"prod"}, instances=instances
    ).reconcile()

    assert instances.described == [
        "i-0000000000000000a",
        "i-0000000000000000b",
        "i-0000000000000000c",
        "i-0000000000000000d",
    ]


def test_only_the_instances_of_managed_groups_are_described() -> None:
    # Marked but not managed (managed=false), marked but unusable (no cluster tag): a pass
    # leaves these alone, so it need not read their instances either.
    off = AutoScalingGroup(
        "off",
        {"eks-windows-nodes/managed": "false", "eks:cluster-name": "prod"},
        (GroupInstance("i-0000000000000000b", "Pending:Wait"),),
    )
    unusable = AutoScalingGroup(
        "unusable",
        {"eks-windows-nodes/managed": "true"},
        (GroupInstance("i-0000000000000000c", "Pending:Wait"),),
    )
    # Its warm pool unreadable: left for the next pass.
    no_pool = replace(
        group("pool", "prod", {"i-0000000000000000d": "Pending:Wait"}),
        warm_pool_error="DescribeWarmPool failed: throttled",
    )
    managed = group("win", "prod", {"i-0000000000000000a": "Pending:Wait"})
    instances = Instances()

    reconciler(
        [off, unusable, no_pool, managed], Services(), {"prod"}, instances=instances
    ).reconcile()

    assert instances.described == ["i-0000000000000000a"]


def test_within_a_group_no_held_instance_is_started_once_the_time_is_spent() -> None:
    clusters = Clusters(known={"prod"})
    services = SlowSteps(clock=clusters.clock)
    held = {f"i-{n:017x}": "Terminating:Wait" for n in range(5)}

    report = reconciler([group("g0", "prod", held)], services, clusters).reconcile(
        time_left=FORTY_SECONDS_OF_WORK
    )

    # Steps at 0, 15 and 30 s; at 45 s less than the reserve is left for the other two.
    assert advanced(services) == [f"i-{n:017x}" for n in range(3)]
    assert report.deferred[0] == "g0: held instances (2)"


def test_the_next_pass_reaches_the_held_instances_a_pass_deferred() -> None:
    # Five slow drains and time for three: in the same order every pass, the last two would
    # be deferred every pass, and their hooks would time out.
    held = {f"i-{n:017x}": "Terminating:Wait" for n in range(5)}

    def one_pass(start: int) -> list[str]:
        clusters = Clusters(known={"prod"})
        services = SlowSteps(clock=clusters.clock)
        reconciler([group("g0", "prod", held)], services, clusters, start=start).reconcile(
            time_left=FORTY_SECONDS_OF_WORK
        )
        return advanced(services)

    assert one_pass(start=0) == [f"i-{n:017x}" for n in (0, 1, 2)]
    assert one_pass(start=3) == [f"i-{n:017x}" for n in (3, 4, 0)]


@dataclass
class EndlessSteps(SlowSteps):
    """Every look takes a step that takes effect: the next look follows at once."""

    def advance(self, action: Any, view: FleetView) -> Result:
        result = super().advance(action, view)
        return replace(result, progress=JoinProgress.ADVANCED)


def test_looks_that_follow_a_step_at_once_stop_when_the_time_is_spent() -> None:
    clusters = Clusters(known={"prod"})
    services = EndlessSteps(clock=clusters.clock)
    held = {f"i-{n:017x}": "Pending:Wait" for n in range(2)}

    report = reconciler([group("g0", "prod", held)], services, clusters).reconcile(
        time_left=FORTY_SECONDS_OF_WORK
    )

    # Looks at 0, 15 and 30 s; at 45 s less than the reserve is left.
    assert advanced(services) == [f"i-{0:017x}"] * 3
    assert report.deferred[0] == "g0: held instances (1)"


def test_looks_that_never_stop_taking_effect_end_at_a_bound_in_a_pass_run_by_hand() -> None:
    # A defect, or tags someone keeps changing: with no time limit, only the bound ends them.
    clusters = Clusters(known={"prod"})
    services = EndlessSteps(clock=clusters.clock)
    held = {f"i-{n:017x}": "Pending:Wait" for n in range(2)}

    report = reconciler([group("g0", "prod", held)], services, clusters).reconcile()

    assert advanced(services) == [f"i-{0:017x}"] * 7 + [f"i-{1:017x}"] * 7
    assert report.outcomes == {"Step": 14}  # every look's step


def test_a_group_whose_warm_pool_cannot_be_read_waits_for_the_next_pass() -> None:
    services = Services()
    unread = replace(
        group("pooled", "prod", {"i-0000000000000000a": "Pending:Wait"}),
        has_warm_pool=True,
        warm_pool_error="DescribeWarmPool pooled failed: Rate exceeded (Throttling)",
    )
    groups = [unread, group("plain", "prod", {"i-0000000000000000b": "Pending:Wait"})]

    report = reconciler(groups, services, {"prod"}).reconcile()

    assert advanced(services) == ["i-0000000000000000b"]
    assert report.errors == ["pooled: DescribeWarmPool pooled failed: Rate exceeded (Throttling)"]
    # Skipped, so not counted as reconciled.
    assert report.groups == 1
    assert metrics.metric_set["ReconciledGroups"]["Value"] == [1.0]


def test_an_unexpected_error_in_one_instance_stops_neither_its_neighbours_nor_other_groups() -> (
    None
):
    @dataclass
    class Defective(Services):
        def advance(self, action: Any, view: FleetView) -> Result:
            if action.instance_id == "i-0000000000000000a":
                self.calls.append(f"advance {action.instance_id}")
                raise OverflowError("date value out of range")
            return super().advance(action, view)

    services = Defective()
    groups = [
        group(
            "g0",
            "prod",
            {"i-0000000000000000a": "Pending:Wait", "i-0000000000000000b": "Pending:Wait"},
        ),
        group("g1", "prod", {"i-0000000000000000c": "Pending:Wait"}),
    ]

    report = reconciler(groups, services, {"prod"}).reconcile()

    assert advanced(services) == [f"i-{0:016x}{c}" for c in "abc"]
    assert report.errors == [
        "g0 i-0000000000000000a: unexpected error: OverflowError('date value out of range')"
    ]


def test_an_unexpected_error_in_repairs_or_a_sweep_stops_no_other_group_or_cluster() -> None:
    @dataclass
    class Defective(Services):
        swept: list[str] = field(default_factory=list)

        def repair_authorization(
            self, group: ManagedGroup, instance_id: str, view: FleetView
        ) -> bool:
            if instance_id == "i-0000000000000000a":
                raise KeyError("rolearn")
            return super().repair_authorization(group, instance_id, view)

        def remove_leftover_smoke_pods(self, cluster: str, view: FleetView, **_: Any) -> int:
            self.swept.append(cluster)
            if cluster == "blue":
                raise TypeError("'NoneType' object is not subscriptable")
            return 0

    services = Defective()
    groups = [
        group("g0", "blue", {"i-0000000000000000a": "InService"}),
        group("g1", "green", {"i-0000000000000000b": "InService"}),
    ]

    report = reconciler(groups, services, {"blue", "green"}).reconcile()

    assert "repair i-0000000000000000b" in services.calls
    assert services.swept == ["blue", "green"]
    assert report.errors == [
        "g0: repairs: unexpected error: KeyError('rolearn')",
        "blue: leftover smoke pods: unexpected error: "
        "TypeError(\"'NoneType' object is not subscriptable\")",
    ]


@dataclass
class FailingEverywhere(Services):
    """Fails wherever a pass can fail and carry on: refused calls, and defects (an unexpected
    exception) in steps, repairs and a group's own reads."""

    ipam_fails: bool = False
    defective: set[str] = field(default_factory=set)

    def advance(self, action: Any, view: FleetView) -> Result:
        if action.instance_id in self.defective:
            raise OverflowError("date value out of range")
        return super().advance(action, view)

    def repair_windows_ipam(self, cluster: str, view: FleetView) -> bool:
        if self.ipam_fails:
            raise AwsError("GET amazon-vpc-cni: 403 Forbidden")
        return super().repair_windows_ipam(cluster, view)

    def repair_authorization(self, group: ManagedGroup, instance_id: str, view: FleetView) -> bool:
        if instance_id in self.defective:
            raise KeyError("rolearn")
        return super().repair_authorization(group, instance_id, view)


@dataclass
class DefectiveHooks(Groups):
    """A group whose hooks cannot be read for a defect of ours (a field we did not expect)."""

    defective: str = ""

    def lifecycle_hooks(self, group: str) -> list[LifecycleHook]:
        if group == self.defective:
            raise TypeError("'NoneType' object is not iterable")
        return super().lifecycle_hooks(group)


def test_every_warning_and_error_about_a_group_or_instance_names_its_cluster(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # An operator filters the logs by cluster: a line without it is missed.
    continue_by_default = replace(LAUNCH, default_result="CONTINUE")
    another_launch_hook = LifecycleHook("log-shipper", LAUNCH.transition, 300, "CONTINUE")
    pooled = replace(
        group("pooled", "blue", {"i-0000000000000000a": "Pending:Wait"}),
        has_warm_pool=True,
        warm_pool_error="DescribeWarmPool pooled failed: Rate exceeded (Throttling)",
    )
    passes: list[tuple[list[AutoScalingGroup], Services, Sequence[LifecycleHook]]] = [
        (
            [
                group("gone", "deleted", {"i-0000000000000000b": "Pending:Wait"}),
                pooled,
                group(
                    "win",
                    "prod",
                    {
                        "i-0000000000000000c": "Pending:Wait",
                        "i-0000000000000000d": "InService",
                    },
                ),
            ],
            FailingEverywhere(failing={"i-0000000000000000c"}, tagging_fails=True, ipam_fails=True),
            [continue_by_default],
        ),
        (
            [
                group(
                    "win",
                    "prod",
                    {
                        "i-0000000000000000c": "Pending:Wait",
                        "i-0000000000000000d": "InService",
                    },
                )
            ],
            FailingEverywhere(defective={"i-0000000000000000c", "i-0000000000000000d"}),
            [LAUNCH],
        ),
        ([group("win", "prod", {})], Services(), [LAUNCH, another_launch_hook]),
    ]
    with caplog.at_level(logging.WARNING, logger="eks-windows-nodes"):
        for groups, services, hooks in passes:
            reconciler(groups, services, {"prod", "blue"}, hooks).reconcile()
        groups_read = DefectiveHooks([group("odd", "prod", {})], defective="odd")
        fleet = Fleet(
            autoscaling=groups_read,  # type: ignore[arg-type]
            compute=Instances(),  # type: ignore[arg-type]
            clusters=Clusters({"prod"}),
            kube_for=lambda connection: None,  # type: ignore[arg-type,return-value]
        )
        ReconcileService(
            fleet=fleet,
            join=Services(),  # type: ignore[arg-type]
            leave=Services(),  # type: ignore[arg-type]
            clock=Clock(),  # type: ignore[arg-type]
        ).reconcile()

    # Logging's `extra` fields are set on the record: read them from its __dict__.
    logged = [vars(r) for r in caplog.records if r.levelno >= logging.WARNING]
    keys = [
        (re.split("[:;]", r["message"])[0], r.get("cluster"), r.get("asg"), r.get("instance_id"))
        for r in logged
    ]
    assert sorted(keys) == sorted(
        [
            ("reconciling group failed", "deleted", "gone", None),
            ("reading the group's warm pool failed", "blue", "pooled", None),
            ("launch hook defaults to CONTINUE", "prod", "win", None),
            ("tagging the group's instances failed", "prod", "win", None),
            ("reconciling instance failed", "prod", "win", "i-0000000000000000c"),
            ("repairing Windows IPAM failed", "prod", "win", None),
            ("reconciling instance failed unexpectedly", "prod", "win", "i-0000000000000000c"),
            ("repairing group failed unexpectedly", "prod", "win", "i-0000000000000000d"),
            ("cannot tell which lifecycle hook is ours", "prod", "win", None),
            ("reconciling group failed unexpectedly", "prod", "odd", None),
        ]
    )
    # A line about an instance names its Node, or says it is not known (no request for it).
    assert all("node" in r for r in logged if "instance_id" in r)
