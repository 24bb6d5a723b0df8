"""Fixtures for the leave capability on the whole local cloud: the product deployed once per
module (localcloud.deployment: its functions' IAM role mapped into the cluster and bound to
winnodes.rbac), each test's group on moto's Auto Scaling with real lifecycle hooks, and a
LeaveService wired as the function wires it, but with a clock tests can move forward and a record
of what it asked of Auto Scaling and the cluster.

The lifecycle handler joins a group's nodes when the test asks for it; terminate events reach no
handler, so each test drives the drain engine itself, one step or one invocation at a time."""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

import pytest

from localcloud.deployment import Product, deploy
from localcloud.kube import KubeCloud, SimulatedNode
from localcloud.kube.clients import raw_json
from tests.helpers.waiting import wait_for
from tests.helpers.workloads import TEST_GROUP_LABEL, Workloads
from tests.integration.join.helpers import (
    Recorder,
    all_in_service,
    ready_nodes_by_instance,
    states,
)
from winnodes.adapters.autoscaling import AutoScalingGroups
from winnodes.adapters.aws import (
    AwsSession,
    autoscaling_client,
    ec2_client,
    eks_client,
    iam_client,
    sts_client,
)
from winnodes.adapters.ec2 import Ec2Instances
from winnodes.adapters.eks import EksClusters
from winnodes.adapters.kube.cluster import KubeClusters
from winnodes.decisions.drain import DrainPolicy
from winnodes.errors import KubernetesError
from winnodes.models.groups import ManagedGroup
from winnodes.models.identifiers import ClusterName
from winnodes.models.lifecycle import LifecycleTransition
from winnodes.ports import (
    AutoScaling,
    AutoScalingGroup,
    ClusterConnection,
    ClusterDirectory,
    EvictionAnswer,
    LeavingNode,
    LifecycleHook,
    NodeDrain,
    PodOnNode,
)
from winnodes.services.fleet import Fleet
from winnodes.services.leave import LeaveService, LeaveSettings, TerminateAction

# Past the terminate hook: the action was completed and the instance is on its way out.
GONE = (None, "Terminating:Proceed", "Terminated")


@pytest.fixture(scope="module")
def product() -> Iterator[Product]:
    with deploy(authentication_mode="API_AND_CONFIG_MAP") as product:
        yield product


@pytest.fixture(scope="module")
def kube(product: Product) -> KubeCloud:
    """The deployed product's cluster, so that `namespace` and `core` are made there."""
    return product.kube


@pytest.fixture
def workloads(kube: KubeCloud, namespace: str) -> Workloads:
    return Workloads(kube, namespace)


@dataclass(frozen=True)
class Member:
    """An instance of a test's group and its Node."""

    instance_id: str
    name: str


@dataclass
class Pool:
    """One managed group of a test: launches go through the group's launch hook (joined by the
    lifecycle handler when `joins` records them), Nodes are labelled for the test's workloads."""

    product: Product
    name: str
    namespace: str
    joins: Recorder | None

    def states(self) -> dict[str, str]:
        return states(self.product, self.name)

    def state(self, instance_id: str) -> str | None:
        return self.states().get(instance_id)

    def scale_to(self, count: int) -> list[Member]:
        """Desired capacity `count` (joined by the handler); the members that launched for it."""
        assert self.joins is not None, "a pool without joins: use launch()"
        before = set(self.states())
        self._set_desired(count)
        in_service = wait_for(
            lambda: all_in_service(self.product, self.name, count), message=f"{count} InService"
        )
        ready = ready_nodes_by_instance(self.product)
        return [self.member(i, ready[i]) for i in in_service if i not in before]

    def launch(self, count: int) -> list[str]:
        """Desired capacity `count` with nobody handling the launches: the instances held in
        Pending:Wait by the launch hook."""
        assert self.joins is None, "the handler would complete these launches"
        self._set_desired(count)

        def held() -> list[str]:
            current = self.states()
            waiting = sorted(i for i, s in current.items() if s == "Pending:Wait")
            return waiting if len(waiting) == len(current) == count else []

        return wait_for(held, message=f"{count} in Pending:Wait")

    def wait_node(self, instance_id: str) -> Member:
        """The instance's Node, once Ready."""
        ready = wait_for(
            lambda: ready_nodes_by_instance(self.product).get(instance_id),
            message=f"Node of {instance_id} Ready",
        )
        return self.member(instance_id, ready)

    def member(self, instance_id: str, node: str) -> Member:
        labels = {"metadata": {"labels": {TEST_GROUP_LABEL: self.namespace}}}
        self.product.kube.core_v1().patch_node(node, labels)
        return Member(instance_id, node)

    def kubelet(self, instance_id: str) -> SimulatedNode:
        node = wait_for(
            lambda: self.product.kube.nodes.get(instance_id), message=f"{instance_id} boots"
        )
        assert isinstance(node, SimulatedNode)
        return node

    def complete_launch(self, instance_id: str) -> None:
        self.product.client("autoscaling").complete_lifecycle_action(
            AutoScalingGroupName=self.name,
            LifecycleHookName="join",
            InstanceId=instance_id,
            LifecycleActionResult="CONTINUE",
        )
        wait_for(lambda: self.state(instance_id) == "InService", message="InService")

    def terminate(self, instance_id: str) -> None:
        """Scale in this instance: the terminate hook holds it in Terminating:Wait."""
        self.product.client("autoscaling").terminate_instance_in_auto_scaling_group(
            InstanceId=instance_id, ShouldDecrementDesiredCapacity=True
        )
        wait_for(
            lambda: self.state(instance_id) == "Terminating:Wait",
            message=f"{instance_id} in Terminating:Wait",
        )

    def terminate_token(self, instance_id: str) -> str:
        """LifecycleActionToken of the instance's terminate event, as EventBridge published it."""
        (token,) = [
            e["detail"]["LifecycleActionToken"]
            for e in self.product.aws.events.published
            if e.get("detail-type") == "EC2 Instance-terminate Lifecycle Action"
            and e["detail"].get("EC2InstanceId") == instance_id
        ]
        return str(token)

    def _set_desired(self, count: int) -> None:
        self.product.client("autoscaling").set_desired_capacity(
            AutoScalingGroupName=self.name, DesiredCapacity=count
        )


class PoolFactory(Protocol):
    def __call__(
        self, *, joins: bool = True, authorized: bool = False, heartbeat: int = 600
    ) -> Pool: ...


LAUNCH_EVENTS = {
    "source": ["aws.autoscaling"],
    "detail-type": ["EC2 Instance-launch Lifecycle Action"],
}


@pytest.fixture
def pool(product: Product, namespace: str) -> Iterator[PoolFactory]:
    """``pool(joins=True, authorized=False, heartbeat=600)``: a managed group of this test with
    its own node role. With `joins` the lifecycle handler joins its launches (and authorizes the
    role); without, launches wait in Pending:Wait and the role is authorized only when asked."""
    rules: list[tuple[str, Recorder]] = []

    def make(*, joins: bool = True, authorized: bool = False, heartbeat: int = 600) -> Pool:
        role_arn, profile_arn = product.aws.create_node_role(f"win-node-{secrets.token_hex(3)}")
        if authorized:
            product.client("eks").create_access_entry(
                clusterName=product.aws.cluster_name, principalArn=role_arn, type="EC2_WINDOWS"
            )
        name = product.make_group(desired=0, profile_arn=profile_arn, heartbeat=heartbeat)
        recorder = None
        if joins:
            recorder = Recorder(product.lifecycle)
            rule = f"join-{name}"
            pattern = {**LAUNCH_EVENTS, "detail": {"AutoScalingGroupName": [name]}}
            product.aws.events.put_rule(rule, event_pattern=pattern)
            product.aws.events.put_target(rule, recorder, target_id="lifecycle")
            rules.append((rule, recorder))
        return Pool(product, name, namespace, recorder)

    yield make
    for rule, recorder in rules:
        product.aws.events.remove_rule(rule)
        recorder.wait_idle()
        assert not recorder.errors, recorder.errors


class ShiftedClock:
    """Real time, shifted forward on demand: deadlines pass without waiting for them."""

    def __init__(self) -> None:
        self.offset = timedelta()

    def now(self) -> datetime:
        return datetime.now(UTC) + self.offset

    def monotonic(self) -> float:
        return time.monotonic() + self.offset.total_seconds()

    def sleep(self, seconds: float) -> None:
        time.sleep(max(seconds, 0.0))


class RecordingAutoScaling:
    """The function's Auto Scaling adapter, keeping which lifecycle calls the group accepted."""

    def __init__(self, inner: AutoScaling) -> None:
        self._inner = inner
        self.completions: list[tuple[str, str]] = []
        self.refused_completions: list[str] = []
        self.heartbeats: list[str] = []
        self.group_reads = 0
        self._lock = threading.Lock()

    def describe_group(self, name: str) -> AutoScalingGroup | None:
        with self._lock:
            self.group_reads += 1
        return self._inner.describe_group(name)

    def groups_tagged(self, tag_key: str) -> Iterator[AutoScalingGroup]:
        return self._inner.groups_tagged(tag_key)

    def lifecycle_hooks(self, group: str) -> Sequence[LifecycleHook]:
        return self._inner.lifecycle_hooks(group)

    def complete_lifecycle_action(
        self, *, group: str, hook: str, instance_id: str, result: str, token: str | None = None
    ) -> bool:
        accepted = self._inner.complete_lifecycle_action(
            group=group, hook=hook, instance_id=instance_id, result=result, token=token
        )
        with self._lock:
            if accepted:
                self.completions.append((instance_id, result))
            else:
                self.refused_completions.append(instance_id)
        return accepted

    def record_heartbeat(
        self, *, group: str, hook: str, instance_id: str, token: str | None = None
    ) -> bool:
        accepted = self._inner.record_heartbeat(
            group=group, hook=hook, instance_id=instance_id, token=token
        )
        if accepted:
            with self._lock:
                self.heartbeats.append(instance_id)
        return accepted


@dataclass
class DrainRecord:
    """What the drain asked of the cluster, over every invocation of one Leave."""

    evicted: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    deleted_nodes: list[str] = field(default_factory=list)
    statuses: list[int] = field(default_factory=list)
    drains_built: int = 0  # KubeDrains asked of KubeClusters (each discovers the policy API once)
    lock: threading.Lock = field(default_factory=threading.Lock)


class CountingClusters:
    """The function's EKS adapter, counting DescribeCluster calls."""

    def __init__(self, inner: ClusterDirectory) -> None:
        self._inner = inner
        self.described = 0

    def describe_cluster(self, name: str) -> ClusterConnection:
        self.described += 1
        return self._inner.describe_cluster(name)


class RecordingDrain:
    """The function's KubeDrain, writing what it is asked to do into a DrainRecord."""

    def __init__(self, inner: NodeDrain, record: DrainRecord) -> None:
        self._inner = inner
        self._record = record

    def leaving_node(self, instance_id: str, *, name: str | None = None) -> LeavingNode | None:
        return self._inner.leaving_node(instance_id, name=name)

    def cordon(self, node: LeavingNode, *, drain_started_at: datetime | None) -> None:
        self._inner.cordon(node, drain_started_at=drain_started_at)

    def pods_on(self, node: str) -> Sequence[PodOnNode]:
        return self._inner.pods_on(node)

    def evict(
        self, pods: Sequence[PodOnNode], *, start_within: timedelta | None = None
    ) -> dict[str, EvictionAnswer]:
        answers = dict(self._inner.evict(pods, start_within=start_within))
        with self._record.lock:
            self._record.evicted.extend(p.key for p in pods if p.key in answers)
            self._record.statuses.extend(a.status for a in answers.values())
        return answers

    def delete_pods(
        self, pods: Sequence[PodOnNode], *, start_within: timedelta | None = None
    ) -> dict[str, KubernetesError]:
        with self._record.lock:
            self._record.deleted.extend(p.key for p in pods)
        return dict(self._inner.delete_pods(pods, start_within=start_within))

    def disruption_budgets(self, pods: Sequence[PodOnNode]) -> dict[str, str]:
        return dict(self._inner.disruption_budgets(pods))

    def delete_node(self, node: LeavingNode) -> bool:
        with self._record.lock:
            self._record.deleted_nodes.append(node.name)
        return self._inner.delete_node(node)


@dataclass
class Leave:
    """A LeaveService as the function builds it, over one test's group, with what tests look at."""

    service: LeaveService
    autoscaling: RecordingAutoScaling
    clusters: CountingClusters
    drain: DrainRecord
    clock: ShiftedClock
    managed: ManagedGroup
    hook: LifecycleHook

    def action(self, instance_id: str, *, token: str | None = None) -> TerminateAction:
        return TerminateAction(
            group=self.managed, instance_id=instance_id, hook=self.hook, token=token
        )


class LeaveFactory(Protocol):
    def __call__(
        self,
        group: Pool,
        *,
        policy: DrainPolicy | None = None,
        wait_budget: timedelta = ...,
        pdb_retry: timedelta = ...,
    ) -> Leave: ...


@pytest.fixture
def leave_for(product: Product) -> LeaveFactory:
    def make(
        group: Pool,
        *,
        policy: DrainPolicy | None = None,
        wait_budget: timedelta = timedelta(seconds=60),
        pdb_retry: timedelta = timedelta(seconds=0.5),
    ) -> Leave:
        # The functions' own credentials: deploy() put them in the environment.
        session = AwsSession(product.aws.region)
        autoscaling = RecordingAutoScaling(AutoScalingGroups(autoscaling_client(session)))
        kube_for = KubeClusters(sts_client(session), wall_clock=time.time)
        record = DrainRecord()
        clock = ShiftedClock()

        clusters = CountingClusters(EksClusters(eks_client(session)))

        def drain_for(connection: ClusterConnection) -> NodeDrain:
            with record.lock:
                record.drains_built += 1
            return RecordingDrain(kube_for.drain(connection), record)

        service = LeaveService(
            fleet=Fleet(
                autoscaling=autoscaling,
                compute=Ec2Instances(ec2_client(session), iam_client(session)),
                clusters=clusters,
                kube_for=kube_for,
            ),
            drain_for=drain_for,
            clock=clock,
            settings=LeaveSettings(
                policy=policy or DrainPolicy(),
                wait_budget=wait_budget,
                poll_interval=timedelta(seconds=0.1),
                pdb_retry_interval=pdb_retry,
            ),
        )
        managed = ManagedGroup(group.name, ClusterName(product.aws.cluster_name))
        hook = service.view().our_hook(managed, LifecycleTransition.TERMINATING)
        assert hook is not None, f"{group.name} has no terminate hook of ours"
        return Leave(service, autoscaling, clusters, record, clock, managed, hook)

    return make


def node_exists(kube: KubeCloud, name: str) -> bool:
    return any(n["metadata"]["name"] == name for n in raw_json(kube.core_v1().list_node)["items"])


def read_node(kube: KubeCloud, name: str) -> dict[str, Any]:
    node: dict[str, Any] = raw_json(kube.core_v1().read_node, name)
    return node
