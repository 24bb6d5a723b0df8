"""In-memory stand-ins for the ports a JoinService reads and writes, for what the local cloud
cannot show deterministically: which steps one invocation takes, in what order, and when it
pauses. Every call that reaches AWS or Kubernetes, and every sleep of the clock, is written to one
journal in order. Return values follow the port contracts (winnodes.ports), which follow the
AWS and Kubernetes APIs they stand for."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from winnodes.decisions.drain import PodPhase
from winnodes.decisions.smoke import ListedSmokePod, SmokePod, SmokeTestPolicy
from winnodes.errors import AwsError, ClusterNotFoundError, KubernetesError
from winnodes.models.groups import ManagedGroup
from winnodes.models.identifiers import ClusterName
from winnodes.ports import (
    AccessEntry,
    AutoScalingGroup,
    AwsAuthConfigMap,
    ClusterConnection,
    GroupInstance,
    Instance,
    InstancePlatform,
    InstanceProfileRole,
    LifecycleHook,
    NodeDrain,
    NodeState,
)
from winnodes.services.fleet import Fleet
from winnodes.services.join import JoinService, JoinSettings, LaunchAction
from winnodes.services.leave import LeaveService
from winnodes.services.reconcile import ReconcileService

CLUSTER = ClusterName("prod")
GROUP = "win-a"
INSTANCE = "i-0123456789abcdef0"
NODE = "ip-10-0-1-23.ec2.internal"
POD = f"winnodes-smoke-{INSTANCE}"
NAMESPACE = "eks-windows-nodes"
NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
HOOK = LifecycleHook("join", "autoscaling:EC2_INSTANCE_LAUNCHING", 600, "ABANDON")
OWNED = {f"kubernetes.io/cluster/{CLUSTER}": "owned"}
ROLE = "arn:aws:iam::111122223333:role/win"
CLUSTER_ARN = f"arn:aws:eks:us-east-1:111122223333:cluster/{CLUSTER}"


@dataclass
class FakeAutoScaling:
    journal: list[str]
    state: str = "Pending:Wait"
    completed: list[str] = field(default_factory=list)
    tags: dict[str, str] = field(
        default_factory=lambda: {"eks-windows-nodes/managed": "true", "eks:cluster-name": CLUSTER}
    )
    hooks: list[LifecycleHook] = field(default_factory=lambda: [HOOK])
    # Tokens of actions that are over while the instance is held again (a later action): AWS
    # refuses calls naming them, "No active Lifecycle Action found with token".
    ended_tokens: set[str] = field(default_factory=set)
    has_warm_pool: bool = False

    def describe_group(self, name: str) -> AutoScalingGroup:
        self.journal.append("autoscaling.describe_group")
        return self._group(name)

    def groups_tagged(self, tag_key: str) -> Iterator[AutoScalingGroup]:
        # A reconciler pass lists the managed groups: the world has one.
        self.journal.append("autoscaling.describe_groups")
        yield self._group(GROUP)

    def _group(self, name: str) -> AutoScalingGroup:
        return AutoScalingGroup(
            name,
            self.tags,
            (GroupInstance(INSTANCE, self.state),),
            has_warm_pool=self.has_warm_pool,
        )

    def lifecycle_hooks(self, group: str) -> list[LifecycleHook]:
        return self.hooks

    def complete_lifecycle_action(
        self, *, result: str, hook: str = HOOK.name, token: str | None = None, **_: Any
    ) -> bool:
        # CompleteLifecycleAction on an action no longer pending is refused (ValidationError).
        if self.state not in ("Pending:Wait", "Warmed:Pending:Wait") or token in self.ended_tokens:
            return False
        self.journal.append(
            f"autoscaling.complete {result}" + ("" if hook == HOOK.name else f" {hook}")
        )
        self.completed.append(result)
        self.state = "InService" if result == "CONTINUE" else "Terminating"
        return True

    def record_heartbeat(self, *, token: str | None = None, **_: Any) -> bool:
        # Refused, like CompleteLifecycleAction, once the action is no longer pending.
        if self.state not in ("Pending:Wait", "Warmed:Pending:Wait") or token in self.ended_tokens:
            self.journal.append("autoscaling.heartbeat refused")
            return False
        self.journal.append("autoscaling.heartbeat")
        return True


@dataclass
class FakeCompute:
    journal: list[str]
    tags: dict[str, str] = field(default_factory=lambda: dict(OWNED))
    role: str | None = ROLE
    # How many CreateTags calls EC2 refuses first: a new instance is not visible everywhere yet.
    refusals: int = 0
    visible: bool = True  # False: DescribeInstances does not show the instance (yet)
    state: str = "running"  # the EC2 state DescribeInstances shows
    platform: InstancePlatform = InstancePlatform.WINDOWS  # from the AMI
    # The instance's private DNS name; the Node is named NODE (another name: a hostname override)
    private_dns_name: str = NODE

    def describe_instances(self, instance_ids: Sequence[str]) -> dict[str, Instance]:
        self.journal.append("ec2.describe_instances")
        instance = Instance(
            instance_id=INSTANCE,
            state=self.state,
            platform=self.platform,
            availability_zone="us-east-1a",
            private_dns_name=self.private_dns_name,
            launch_time=NOW - timedelta(minutes=5),
            tags=dict(self.tags),
            instance_profile_arn="arn:aws:iam::111122223333:instance-profile/win",
        )
        return {INSTANCE: instance} if self.visible and INSTANCE in instance_ids else {}

    def tag_instances(self, instance_ids: Sequence[str], tags: Mapping[str, str]) -> list[str]:
        if self.refusals:
            self.refusals -= 1
            self.journal.append("ec2.create_tags refused")
            return []
        self.journal.append("ec2.create_tags")
        self.tags |= tags
        return list(instance_ids)

    def role_of_instance_profile(self, profile: str) -> InstanceProfileRole | None:
        return InstanceProfileRole(self.role) if self.role else None


@dataclass
class FakeClusters:
    journal: list[str]

    def describe_cluster(self, name: str) -> ClusterConnection:
        self.journal.append("eks.describe_cluster")
        return ClusterConnection(
            name, "https://k8s", "Q0E=", None, authentication_mode="API", arn=CLUSTER_ARN
        )


DESCRIBE_CLUSTER_REFUSED = "DescribeCluster failed: Rate exceeded (ThrottlingException)"


class RefusedClusters(FakeClusters):
    """The cluster is there, but DescribeCluster is refused past the SDK's retries."""

    def describe_cluster(self, name: str) -> ClusterConnection:
        self.journal.append("eks.describe_cluster refused")
        raise AwsError(DESCRIBE_CLUSTER_REFUSED)


class UnknownClusters(FakeClusters):
    """No cluster of that name: DescribeCluster answers ResourceNotFoundException."""

    def describe_cluster(self, name: str) -> ClusterConnection:
        self.journal.append("eks.describe_cluster")
        raise ClusterNotFoundError(name, "us-east-1")


@dataclass
class FakeAccessEntries:
    journal: list[str]
    entries: set[str] = field(default_factory=lambda: {ROLE})

    def entry(self, cluster: str, principal_arn: str) -> AccessEntry | None:
        return AccessEntry("EC2_WINDOWS") if principal_arn in self.entries else None

    def ensure_windows_node_entry(self, cluster: str, role_arn: str) -> bool:
        if role_arn in self.entries:
            return False
        self.journal.append("eks.create_access_entry")
        self.entries.add(role_arn)
        return True


@dataclass
class FakeKube:
    journal: list[str]
    # The node is registered, and Ready, from these reads of the node list on (0: at once).
    registered_from_read: int = 0
    ready_from_read: int = 0
    reads: int = 0
    windows_ipam: bool = True  # kube-system/amazon-vpc-cni enable-windows-ipam
    # The looks at the node (counted like `reads`) the API server answers with a 503.
    outage: range = range(0)
    unschedulable: bool = False  # cordoned
    held_for_warm_pool: bool = False  # by the join (our annotation)
    # The Ready condition's lastHeartbeatTime; None: the Node does not say.
    ready_reported_at: datetime | None = None

    def nodes_by_instance(self) -> dict[str, NodeState]:
        self.journal.append("kube.list_nodes")
        node = self._look()
        return {INSTANCE: node} if node else {}

    def node_named(self, name: str) -> NodeState | None:
        self.journal.append("kube.get_node")
        return self._look() if name == NODE else None

    def _look(self) -> NodeState | None:
        look = self.reads
        self.reads += 1
        if look in self.outage:
            raise KubernetesError("GET /api/v1/nodes: 503 Service Unavailable", 503)
        if look < self.registered_from_read:
            return None
        return self._node(ready=look >= self.ready_from_read)

    def _node(self, *, ready: bool) -> NodeState:
        return NodeState(
            NODE,
            INSTANCE,
            ready=ready,
            windows_build="10.0.20348",
            unschedulable=self.unschedulable,
            held_for_warm_pool=self.held_for_warm_pool,
            ready_reported_at=self.ready_reported_at,
        )

    def hold_for_warm_pool(self, name: str) -> NodeState | None:
        assert name == NODE
        self.journal.append("kube.cordon_for_warm_pool")
        self.unschedulable = self.held_for_warm_pool = True
        return self._node(ready=self.reads > self.ready_from_read)

    def return_from_warm_pool(self, name: str) -> NodeState | None:
        assert name == NODE
        self.journal.append("kube.uncordon_from_warm_pool")
        self.unschedulable = self.held_for_warm_pool = False
        return self._node(ready=self.reads > self.ready_from_read)

    def read_aws_auth(self) -> AwsAuthConfigMap | None:
        raise NotImplementedError("the cluster is in API mode: aws-auth is not read")

    def write_aws_auth(self, data: Mapping[str, str], *, resource_version: str | None) -> None:
        raise NotImplementedError("the cluster is in API mode: aws-auth is not written")

    def windows_ipam_enabled(self) -> bool:
        self.journal.append("kube.read_vpc_cni")
        return self.windows_ipam

    def ensure_windows_ipam(self) -> bool:
        if self.windows_ipam:
            return False
        self.journal.append("kube.enable_windows_ipam")
        self.windows_ipam = True
        return True


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

    def listed(self, *, namespace: str) -> list[ListedSmokePod]:
        raise NotImplementedError("a join reads its own pod; listing is the reconciler's")

    def finish(self, phase: PodPhase, exit_code: int) -> None:
        self.pods[POD] = replace(self.pods[POD], phase=phase, exit_code=exit_code)


@dataclass
class StepClock:
    """Time moves only when the service sleeps, by exactly what it asked for."""

    journal: list[str]
    elapsed: float = 0.0

    def now(self) -> datetime:
        return NOW + timedelta(seconds=self.elapsed)

    def monotonic(self) -> float:
        return self.elapsed

    def sleep(self, seconds: float) -> None:
        self.journal.append(f"sleep {seconds:g}")
        self.elapsed += seconds


@dataclass
class JoinWorld:
    journal: list[str] = field(default_factory=list)
    autoscaling: FakeAutoScaling = field(init=False)
    compute: FakeCompute = field(init=False)
    access_entries: FakeAccessEntries = field(init=False)
    kube: FakeKube = field(init=False)
    clock: StepClock = field(init=False)
    clusters: FakeClusters = field(init=False)
    pods: FakeSmokePods = field(default_factory=FakeSmokePods)

    def __post_init__(self) -> None:
        self.autoscaling = FakeAutoScaling(self.journal)
        self.compute = FakeCompute(self.journal)
        self.access_entries = FakeAccessEntries(self.journal)
        self.kube = FakeKube(self.journal)
        self.clock = StepClock(self.journal)
        self.clusters = FakeClusters(self.journal)

    def fleet(self) -> Fleet:
        return Fleet(
            autoscaling=self.autoscaling,
            compute=self.compute,
            clusters=self.clusters,
            kube_for=lambda connection: self.kube,
        )

    def service(
        self, policy: SmokeTestPolicy | None = None, settings: JoinSettings | None = None
    ) -> JoinService:
        settings = settings or JoinSettings(smoke_test=policy or SmokeTestPolicy(enabled=True))
        return JoinService(
            fleet=self.fleet(),
            access_entries=self.access_entries,
            clock=self.clock,
            settings=settings,
            smoke_pods_for=lambda connection: self.pods,
        )

    def reconciler(self, settings: JoinSettings | None = None) -> ReconcileService:
        """A reconciler over the world's group. Its instance is held for a launch: the leave
        service is there because a pass needs one, and is never asked to drain."""
        leave = LeaveService(fleet=self.fleet(), drain_for=_no_drain, clock=self.clock)
        return ReconcileService(
            fleet=self.fleet(),
            join=self.service(settings=settings),
            leave=leave,
            clock=self.clock,
        )


def _no_drain(connection: ClusterConnection) -> NodeDrain:
    raise AssertionError("no drain in a world of launches")


def launch_action() -> LaunchAction:
    return LaunchAction(group=ManagedGroup(GROUP, CLUSTER), instance_id=INSTANCE, hook=HOOK)
