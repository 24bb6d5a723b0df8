"""JoinService with the smoke test, against in-memory fakes of its ports: one pod per node,
CONTINUE only after it succeeded, the pod removed after the action completed, and no second pod
when a duplicate already completed the action and removed the first."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from winnodes.decisions.drain import PodPhase
from winnodes.decisions.join import Abandon, CompleteContinue, NothingToDo, StartSmokeTest
from winnodes.decisions.smoke import SmokePod, SmokeTestPolicy
from winnodes.errors import KubernetesError
from winnodes.models.groups import ManagedGroup
from winnodes.models.identifiers import ClusterName
from winnodes.ports import (
    AutoScalingGroup,
    ClusterConnection,
    GroupInstance,
    Instance,
    InstancePlatform,
    LifecycleHook,
    NodeState,
)
from winnodes.services.fleet import Fleet
from winnodes.services.join import JoinService, JoinSettings, LaunchAction

CLUSTER = ClusterName("prod")
GROUP = "win-a"
INSTANCE = "i-0123456789abcdef0"
NODE = "ip-10-0-1-23.ec2.internal"
POD = f"winnodes-smoke-{INSTANCE}"
NAMESPACE = "eks-windows-nodes"
NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
HOOK = LifecycleHook("join", "autoscaling:EC2_INSTANCE_LAUNCHING", 600, "ABANDON")


@dataclass
class FakeAutoScaling:
    state: str = "Pending:Wait"
    completed: list[str] = field(default_factory=list)

    def describe_group(self, name: str) -> AutoScalingGroup:
        return AutoScalingGroup(name, {}, (GroupInstance(INSTANCE, self.state),))

    def lifecycle_hooks(self, group: str) -> list[LifecycleHook]:
        return [HOOK]

    def complete_lifecycle_action(self, *, result: str, **_: Any) -> bool:
        if self.state != "Pending:Wait":
            return False
        self.completed.append(result)
        self.state = "InService" if result == "CONTINUE" else "Terminating"
        return True

    def record_heartbeat(self, **_: Any) -> bool:
        return True


class FakeCompute:
    def describe_instances(self, instance_ids: list[str]) -> dict[str, Instance]:
        instance = Instance(
            instance_id=INSTANCE,
            state="running",
            platform=InstancePlatform.WINDOWS,
            availability_zone="us-east-1a",
            private_dns_name=NODE,
            launch_time=NOW - timedelta(minutes=5),
            tags={f"kubernetes.io/cluster/{CLUSTER}": "owned"},
            instance_profile_arn="arn:aws:iam::111122223333:instance-profile/win",
        )
        return {INSTANCE: instance} if INSTANCE in instance_ids else {}

    def role_of_instance_profile(self, profile: str) -> str:
        return "arn:aws:iam::111122223333:role/win"


class FakeClusters:
    def describe_cluster(self, name: str) -> ClusterConnection:
        return ClusterConnection(name, "https://k8s", "Q0E=", None, authentication_mode="API")


class FakeAccessEntries:
    def has_entry(self, cluster: str, principal_arn: str) -> bool:
        return True


class FakeKube:
    def nodes_by_instance(self) -> dict[str, NodeState]:
        return {INSTANCE: NodeState(NODE, INSTANCE, ready=True, windows_build="10.0.20348")}


@dataclass
class FakeSmokePods:
    pods: dict[str, SmokePod] = field(default_factory=dict)
    created: list[dict[str, Any]] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    delete_fails: bool = False
    reads: int = 0

    def read(self, *, namespace: str, name: str) -> SmokePod | None:
        assert namespace == NAMESPACE
        self.reads += 1
        return self.pods.get(name)

    def create(self, manifest: dict[str, Any]) -> bool:
        name = manifest["metadata"]["name"]
        if name in self.pods:
            return False
        self.created.append(manifest)
        self.pods[name] = SmokePod(node_name=manifest["spec"]["nodeName"], phase=PodPhase.PENDING)
        return True

    def delete(self, *, namespace: str, name: str) -> bool:
        if self.delete_fails:
            raise KubernetesError(f"DELETE {name}: 503", 503)
        self.deleted.append(name)
        return self.pods.pop(name, None) is not None

    def finish(self, phase: PodPhase, exit_code: int) -> None:
        self.pods[POD] = replace(self.pods[POD], phase=phase, exit_code=exit_code)


class FixedClock:
    def now(self) -> datetime:
        return NOW

    def monotonic(self) -> float:
        return 0.0

    def sleep(self, seconds: float) -> None:
        pass


@dataclass
class World:
    autoscaling: FakeAutoScaling = field(default_factory=FakeAutoScaling)
    pods: FakeSmokePods = field(default_factory=FakeSmokePods)

    def service(self, policy: SmokeTestPolicy | None = None) -> JoinService:
        return JoinService(
            fleet=fleet(self.autoscaling),
            access_entries=FakeAccessEntries(),  # type: ignore[arg-type]
            clock=FixedClock(),
            settings=JoinSettings(smoke_test=policy or SmokeTestPolicy(enabled=True)),
            smoke_pods_for=lambda connection: self.pods,
        )


def fleet(autoscaling: FakeAutoScaling) -> Fleet:
    return Fleet(
        autoscaling=autoscaling,  # type: ignore[arg-type]
        compute=FakeCompute(),  # type: ignore[arg-type]
        clusters=FakeClusters(),
        kube_for=lambda connection: FakeKube(),  # type: ignore[arg-type,return-value]
    )


def action() -> LaunchAction:
    return LaunchAction(group=ManagedGroup(GROUP, CLUSTER), instance_id=INSTANCE, hook=HOOK)


def test_one_pod_pinned_to_the_node_and_continue_only_once_it_succeeded() -> None:
    world = World()
    service = world.service()
    assert service.advance(action()).step == StartSmokeTest(
        "mcr.microsoft.com/windows/nanoserver:ltsc2022"
    )
    (manifest,) = world.pods.created
    assert manifest["metadata"]["name"] == POD and manifest["spec"]["nodeName"] == NODE

    waiting = service.advance(action())
    assert not waiting.finished and world.autoscaling.completed == []
    assert len(world.pods.created) == 1

    world.pods.finish(PodPhase.SUCCEEDED, 0)
    done = service.advance(action())
    assert done.step == CompleteContinue() and done.finished
    assert world.autoscaling.completed == ["CONTINUE"]
    assert world.pods.deleted == [POD]


def test_a_failed_pod_abandons_the_action_and_is_removed() -> None:
    world = World()
    service = world.service()
    service.advance(action())
    world.pods.finish(PodPhase.FAILED, 1)
    result = service.advance(action())
    assert isinstance(result.step, Abandon) and result.step.smoke_test_failed
    assert "exit code 1" in result.step.reason
    assert world.autoscaling.completed == ["ABANDON"]
    assert world.pods.deleted == [POD]


def test_a_pod_found_gone_because_a_duplicate_completed_the_action_is_not_started_again() -> None:
    # A reconciler pass listed the group while the action was pending; meanwhile the lifecycle
    # handler completed it and removed the pod. The pass must not start a second pod.
    world = World(autoscaling=FakeAutoScaling(state="InService"))
    service = world.service()
    view = service.view()
    view.remember_groups([AutoScalingGroup(GROUP, {}, (GroupInstance(INSTANCE, "Pending:Wait"),))])
    result = service.advance(action(), view)
    assert isinstance(result.step, NothingToDo)
    assert world.pods.created == []


def test_a_pod_that_cannot_be_removed_does_not_fail_the_completed_action() -> None:
    world = World()
    service = world.service()
    service.advance(action())
    world.pods.finish(PodPhase.SUCCEEDED, 0)
    world.pods.delete_fails = True
    result = service.advance(action())
    assert result.finished and world.autoscaling.completed == ["CONTINUE"]


def test_with_the_smoke_test_disabled_no_pod_is_read_or_made() -> None:
    world = World()
    service = world.service(SmokeTestPolicy(enabled=False))
    result = service.advance(action())
    assert result.step == CompleteContinue()
    assert world.pods.reads == 0
    assert world.pods.created == [] and world.pods.deleted == []


def test_enabling_the_smoke_test_without_smoke_pods_is_refused() -> None:
    with pytest.raises(ValueError, match="smoke test"):
        JoinService(
            fleet=fleet(FakeAutoScaling()),
            access_entries=FakeAccessEntries(),  # type: ignore[arg-type]
            clock=FixedClock(),
            settings=JoinSettings(smoke_test=SmokeTestPolicy(enabled=True)),
        )
