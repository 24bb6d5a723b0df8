"""What services need from the outside world, as Protocols the adapters implement, and the
facts they report. Adapters raise only winnodes.errors."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any, Protocol


@dataclass(frozen=True)
class ClusterConnection:
    """How nodes reach a cluster, as eks:DescribeCluster reports it."""

    name: str
    endpoint: str
    ca_base64: str
    service_cidr: str | None
    kubernetes_version: str | None = None
    authentication_mode: str = "CONFIG_MAP"

    @property
    def uses_access_entries(self) -> bool:
        return self.authentication_mode in ("API", "API_AND_CONFIG_MAP")


class ClusterDirectory(Protocol):
    def describe_cluster(self, name: str) -> ClusterConnection:
        """Raises ClusterNotFoundError, AwsCredentialsError or AwsError."""
        ...


class AccessEntries(Protocol):
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
    instances: Sequence[GroupInstance] = ()
    desired_capacity: int = 0


class AutoScaling(Protocol):
    def describe_group(self, name: str) -> AutoScalingGroup | None: ...

    def groups_tagged(self, tag_key: str) -> Iterator[AutoScalingGroup]:
        """Every group carrying `tag_key`, page by page."""
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


class Compute(Protocol):
    def describe_instances(self, instance_ids: Sequence[str]) -> dict[str, Instance]:
        """The instances that exist, by id (missing ids are simply absent)."""
        ...

    def tag_instance(self, instance_id: str, tags: Mapping[str, str]) -> None: ...

    def role_of_instance_profile(self, instance_profile_arn: str) -> str | None:
        """The IAM role ARN of an instance profile."""
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


@dataclass(frozen=True)
class AwsAuthConfigMap:
    """The kube-system/aws-auth ConfigMap's data, with the resourceVersion it was read at."""

    data: Mapping[str, str]
    resource_version: str


class ClusterKube(Protocol):
    """What the lifecycle services do in one cluster's Kubernetes API."""

    def ensure_windows_ipam(self) -> bool:
        """kube-system/amazon-vpc-cni has enable-windows-ipam "true"; True if it changed."""
        ...

    def read_aws_auth(self) -> AwsAuthConfigMap | None: ...

    def write_aws_auth(self, data: Mapping[str, str], *, resource_version: str | None) -> None:
        """Replaces at `resource_version` (KubernetesConflictError when stale), or creates the
        ConfigMap when `resource_version` is None."""
        ...

    def nodes_by_instance(self) -> dict[str, NodeState]:
        """Every Node whose providerID names an EC2 instance, by instance id."""
        ...
