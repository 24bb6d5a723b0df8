"""What services need from the outside world, as Protocols the adapters implement, and the
facts they report. Adapters raise only winnodes.errors."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, Protocol

from winnodes.decisions.smoke import ListedSmokePod, SmokePod
from winnodes.errors import KubernetesError


class Clock(Protocol):
    """Wall time for decisions, monotonic time and sleep for bounded waits."""

    def now(self) -> datetime: ...

    def monotonic(self) -> float: ...

    def sleep(self, seconds: float) -> None: ...


@dataclass(frozen=True)
class ClusterConnection:
    """How nodes reach a cluster, as eks:DescribeCluster reports it."""

    name: str
    endpoint: str
    ca_base64: str
    service_cidr: str | None
    kubernetes_version: str | None = None
    authentication_mode: str = "CONFIG_MAP"
    arn: str | None = None  # arn:<partition>:eks:<region>:<account>:cluster/<name>

    @property
    def uses_access_entries(self) -> bool:
        return self.authentication_mode in ("API", "API_AND_CONFIG_MAP")


class ClusterDirectory(Protocol):
    def describe_cluster(self, name: str) -> ClusterConnection:
        """Raises ClusterNotFoundError, AwsCredentialsError or AwsError."""
        ...


@dataclass(frozen=True, slots=True)
class AccessEntry:
    type: str  # EC2_WINDOWS, EC2_LINUX, STANDARD, ...
    created_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class InstanceProfileRole:
    arn: str
    created_at: datetime | None = None  # the role's CreateDate


class AccessEntries(Protocol):
    def entry(self, cluster: str, principal_arn: str) -> AccessEntry | None:
        """The principal's access entry, None when it has none."""
        ...

    def ensure_windows_node_entry(self, cluster: str, role_arn: str) -> bool:
        """Creates the EC2_WINDOWS access entry for `role_arn` unless one exists; True if
        created."""
        ...


@dataclass(frozen=True)
class GroupInstance:
    instance_id: str
    lifecycle_state: str


@dataclass(frozen=True)
class LifecycleHook:
    name: str
    transition: str
    heartbeat_timeout_seconds: int
    default_result: str


@dataclass(frozen=True)
class AutoScalingGroup:
    name: str
    tags: Mapping[str, str]
    instances: Sequence[GroupInstance] = ()  # its warm pool's included
    desired_capacity: int = 0
    has_warm_pool: bool = False
    # Its warm pool's InstanceReusePolicy.ReuseOnScaleIn: scale-in returns instances to the pool.
    reuse_on_scale_in: bool = False
    # Why its warm pool's instances are missing from `instances`, when they could not be read.
    warm_pool_error: str | None = None


class AutoScaling(Protocol):
    def describe_group(self, name: str) -> AutoScalingGroup | None: ...

    def groups_tagged(self, tag_key: str) -> Iterator[AutoScalingGroup]:
        """Every group carrying `tag_key`, page by page. One whose warm pool cannot be read
        comes with `warm_pool_error` instead of failing the listing of the others."""
        ...

    def lifecycle_hooks(self, group: str) -> Sequence[LifecycleHook]: ...

    def complete_lifecycle_action(
        self, *, group: str, hook: str, instance_id: str, result: str, token: str | None = None
    ) -> bool:
        """False when there was no action to complete (already completed or timed out)."""
        ...

    def record_heartbeat(
        self, *, group: str, hook: str, instance_id: str, token: str | None = None
    ) -> bool: ...


class InstancePlatform(StrEnum):
    WINDOWS = "windows"
    LINUX = "linux"


@dataclass(frozen=True)
class Instance:
    instance_id: str
    state: str
    platform: InstancePlatform
    availability_zone: str
    private_dns_name: str
    launch_time: datetime
    tags: Mapping[str, str] = field(default_factory=dict)
    instance_profile_arn: str | None = None

    @property
    def auto_scaling_group(self) -> str | None:
        return self.tags.get("aws:autoscaling:groupName")

    @property
    def terminating(self) -> bool:
        """EC2 is shutting it down or has: no node will come from it."""
        return self.state in {"shutting-down", "terminated"}


class Compute(Protocol):
    def describe_instances(self, instance_ids: Sequence[str]) -> dict[str, Instance]:
        """The instances EC2 shows, terminated ones included, by id (missing ids are simply
        absent: unknown, long gone, or too new to be shown everywhere yet)."""
        ...

    def tag_instances(self, instance_ids: Sequence[str], tags: Mapping[str, str]) -> list[str]:
        """Adds or overwrites `tags` on the instances; returns those tagged, leaving out any that
        no longer exist (or are not visible yet: EC2 is eventually consistent)."""
        ...

    def role_of_instance_profile(self, instance_profile_arn: str) -> InstanceProfileRole | None:
        """The IAM role of an instance profile, None when it has none."""
        ...


JsonObject = dict[str, Any]


class Kubernetes(Protocol):
    """One cluster's API, as JSON objects."""

    def get(self, path: str, *, query: Mapping[str, str] | None = None) -> JsonObject: ...

    def list(
        self, path: str, *, query: Mapping[str, str] | None = None
    ) -> Iterator[JsonObject]: ...

    def create(self, path: str, body: JsonObject) -> JsonObject: ...

    def replace(self, path: str, body: JsonObject) -> JsonObject: ...

    def patch(self, path: str, body: JsonObject, *, content_type: str = ...) -> JsonObject: ...

    def delete(self, path: str, body: JsonObject | None = None) -> JsonObject: ...


@dataclass(frozen=True)
class NodeState:
    name: str
    instance_id: str | None
    ready: bool
    unschedulable: bool = False
    windows_build: str | None = None  # label node.kubernetes.io/windows-build
    # Cordoned by the join for the instance's stay in the warm pool (our annotation): only
    # such a cordon is lifted when the instance is drawn, never an operator's.
    held_for_warm_pool: bool = False
    # When the kubelet last reported the Ready condition (its lastHeartbeatTime), if it says.
    ready_reported_at: datetime | None = None


@dataclass(frozen=True)
class AwsAuthConfigMap:
    """The kube-system/aws-auth ConfigMap's data, with the resourceVersion it was read at."""

    data: Mapping[str, str]
    resource_version: str


class ClusterKube(Protocol):
    """What the lifecycle services do in one cluster's Kubernetes API."""

    def windows_ipam_enabled(self) -> bool:
        """kube-system/amazon-vpc-cni has enable-windows-ipam "true"."""
        ...

    def ensure_windows_ipam(self) -> bool:
        """kube-system/amazon-vpc-cni has enable-windows-ipam "true"; True if it changed."""
        ...

    def read_aws_auth(self) -> AwsAuthConfigMap | None: ...

    def write_aws_auth(self, data: Mapping[str, str], *, resource_version: str | None) -> None:
        """Writes `data` at `resource_version` (KubernetesConflictError when stale), leaving the
        rest of the object (labels, annotations, binaryData) as it is; or creates the ConfigMap
        when `resource_version` is None."""
        ...

    def nodes_by_instance(self) -> dict[str, NodeState]:
        """Every Node whose providerID names an EC2 instance, by instance id."""
        ...

    def node_named(self, name: str) -> NodeState | None:
        """The Node of that name, None when there is none."""
        ...

    def hold_for_warm_pool(self, name: str) -> NodeState | None:
        """Cordons the Node, marked as held for the warm pool; the Node as it now is, None when
        it is gone."""
        ...

    def return_from_warm_pool(self, name: str) -> NodeState | None:
        """Uncordons a Node held for the warm pool and drops the mark; the Node as it now is,
        None when it is gone."""
        ...


class SmokePods(Protocol):
    """The join's smoke-test pods in one cluster."""

    def read(self, *, namespace: str, name: str) -> SmokePod | None: ...

    def create(self, manifest: JsonObject) -> bool:
        """False when a pod of that name already exists (a duplicate started it)."""
        ...

    def delete(self, *, namespace: str, name: str) -> bool:
        """False when it was already gone."""
        ...

    def listed(self, *, namespace: str) -> list[ListedSmokePod]:
        """Every pod in `namespace` labelled as managed by us."""
        ...


# --- leave: draining the Node of an instance that terminates -------------------------------------


@dataclass(frozen=True)
class LeavingNode:
    """The Node of a terminating instance, as far as a drain cares."""

    name: str
    uid: str
    instance_id: str
    unschedulable: bool
    excluded_from_load_balancers: bool
    # False when the Ready condition is False or Unknown (a kubelet that stopped reporting);
    # True when Ready, or when the node reports no condition yet.
    ready: bool = True
    # When the drain began (our annotation, written at cordon time): the deadline survives
    # invocations without a database.
    drain_started_at: datetime | None = None

    @property
    def cordoned(self) -> bool:
        return (
            self.unschedulable
            and self.excluded_from_load_balancers
            and self.drain_started_at is not None
        )


@dataclass(frozen=True)
class PodOnNode:
    """A pod on a leaving node: the facts drain decisions read, plus the uid eviction pins and
    the labels PodDisruptionBudgets select on."""

    namespace: str
    name: str
    uid: str
    labels: Mapping[str, str] = field(default_factory=dict)
    owner_kinds: tuple[str, ...] = ()  # kinds of owner references marked `controller: true`
    is_mirror: bool = False
    deletion_timestamp: datetime | None = None
    has_emptydir: bool = False
    phase: str = "Running"

    @property
    def key(self) -> str:
        """ "namespace/name", as results are keyed."""
        return f"{self.namespace}/{self.name}"


@dataclass(frozen=True, slots=True)
class EvictionAnswer:
    """The API server's answer to one eviction."""

    status: int  # HTTP status; 503 when the API could not be reached
    error: str = ""  # for a refusal or failure, what the API said (its Status message)


class NodeDrain(Protocol):
    """Draining one cluster's Nodes. Evictions honour PodDisruptionBudgets."""

    def leaving_node(self, instance_id: str, *, name: str | None = None) -> LeavingNode | None:
        """The Node whose providerID names `instance_id` (`name`, when known, saves a list)."""
        ...

    def cordon(self, node: LeavingNode, *, drain_started_at: datetime | None) -> None:
        """Unschedulable, excluded from external load balancers, and annotated with
        `drain_started_at` when given, in one patch."""
        ...

    def pods_on(self, node: str) -> Sequence[PodOnNode]: ...

    def evict(
        self, pods: Sequence[PodOnNode], *, start_within: timedelta | None = None
    ) -> Mapping[str, EvictionAnswer]:
        """Evicts concurrently; the answer to each eviction by pod key. With `start_within`, an
        eviction that would start later than that after the call is not sent, and its pod is
        not in the result."""
        ...

    def delete_pods(
        self, pods: Sequence[PodOnNode], *, start_within: timedelta | None = None
    ) -> Mapping[str, KubernetesError]:
        """Deletes without the Eviction API (completed pods, forced drains after the deadline).
        Pods already gone are fine. The error of each delete that failed (refused by an
        admission webhook, forbidden, the API out of reach), by pod key: one pod's failure
        stops no other delete. With `start_within`, as for `evict`: a delete that would start
        later is not made, and its pod is not in the result."""
        ...

    def disruption_budgets(self, pods: Sequence[PodOnNode]) -> Mapping[str, str]:
        """By pod key, "namespace/name" of a PodDisruptionBudget selecting the pod."""
        ...

    def delete_node(self, node: LeavingNode) -> bool:
        """False when it was already gone (or replaced by another Node of that name)."""
        ...
