"""Fixtures for the leave capability against the local cloud's real kube-apiserver.

The functions' Kubernetes identity is an IAM role given exactly the drain verbs by an access
entry and a ClusterRole, and authenticated with a presigned STS token, as on EKS. The Auto
Scaling side is an in-memory group (`GroupDouble`) that answers like the API: an action can be
completed once, heartbeats only while it waits."""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from kubernetes.client import AppsV1Api, CustomObjectsApi, RbacAuthorizationV1Api

from localcloud.kube import DEFAULT_ACCOUNT_ID, AccessEntry, IdentityRegistry, KubeCloud
from localcloud.kube.clients import raw_json
from localcloud.kube.waiting import wait_until
from winnodes import rbac
from winnodes.adapters.kube.api import KubeApi
from winnodes.adapters.kube.drain import KubeDrain
from winnodes.adapters.kube.token import CachedToken
from winnodes.decisions.drain import DrainPolicy
from winnodes.models.groups import ManagedGroup
from winnodes.models.identifiers import ClusterName
from winnodes.ports import (
    AutoScalingGroup,
    ClusterConnection,
    GroupInstance,
    LeavingNode,
    LifecycleHook,
    PodOnNode,
)
from winnodes.services.leave import LeaveService, LeaveSettings, TerminateAction

TEST_GROUP_LABEL = "localcloud.test/group"
TERMINATING = "autoscaling:EC2_INSTANCE_TERMINATING"

# Exactly the verbs the leave capability uses (safety rule 6).


@pytest.fixture
def function_api(
    kube: KubeCloud, identity_registry: IdentityRegistry, access_entries: Any
) -> Iterator[KubeApi]:
    """KubeApi as the Lambda function: STS token, access entry, a ClusterRole of drain verbs."""
    role = f"winnodes-leave-{secrets.token_hex(3)}"
    username = f"fn-{role}"
    creds = identity_registry.add(arn=f"arn:aws:sts::{DEFAULT_ACCOUNT_ID}:assumed-role/{role}/s1")
    role_arn = f"arn:aws:iam::{DEFAULT_ACCOUNT_ID}:role/{role}"
    access_entries.put(kube.cluster_name, AccessEntry(principal_arn=role_arn, username=username))
    rbac_api = RbacAuthorizationV1Api(kube.api_client())
    raw_json(
        rbac_api.create_cluster_role,
        {"metadata": {"name": username}, "rules": rbac.CLUSTER_ROLE["rules"]},
    )
    raw_json(
        rbac_api.create_cluster_role_binding,
        {
            "metadata": {"name": username},
            "subjects": [
                {"kind": "User", "name": username, "apiGroup": "rbac.authorization.k8s.io"}
            ],
            "roleRef": {
                "kind": "ClusterRole",
                "name": username,
                "apiGroup": "rbac.authorization.k8s.io",
            },
        },
    )
    sts = boto3.session.Session(
        aws_access_key_id=creds.access_key_id,
        aws_secret_access_key=creds.secret_access_key,
        region_name="us-east-1",
    ).client("sts", endpoint_url="https://sts.us-east-1.amazonaws.com")
    yield KubeApi(
        endpoint=kube.endpoint,
        ca_base64=kube.ca_data,
        token=CachedToken(sts, kube.cluster_name, monotonic=lambda: 0.0),
    )
    raw_json(rbac_api.delete_cluster_role_binding, username)
    raw_json(rbac_api.delete_cluster_role, username)
    access_entries.delete(kube.cluster_name, role_arn)


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


@dataclass
class GroupDouble:
    """One Auto Scaling group as the lifecycle API answers: CompleteLifecycleAction and heartbeats
    only succeed while the instance waits in Terminating:Wait."""

    name: str
    hook: LifecycleHook
    states: dict[str, str] = field(default_factory=dict)
    completions: list[tuple[str, str]] = field(default_factory=list)
    refused_completions: list[str] = field(default_factory=list)
    heartbeats: list[str] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def describe_group(self, name: str) -> AutoScalingGroup | None:
        if name != self.name:
            return None
        with self._lock:
            members = tuple(GroupInstance(i, s) for i, s in self.states.items())
        return AutoScalingGroup(name=name, tags={}, instances=members)

    def groups_tagged(self, tag_key: str) -> Iterator[AutoScalingGroup]:
        group = self.describe_group(self.name)
        return iter([group] if group else [])

    def lifecycle_hooks(self, group: str) -> Sequence[LifecycleHook]:
        return [self.hook]

    def complete_lifecycle_action(
        self, *, group: str, hook: str, instance_id: str, result: str, token: str | None = None
    ) -> bool:
        with self._lock:
            if self.states.get(instance_id) != "Terminating:Wait":
                self.refused_completions.append(instance_id)
                return False
            self.states[instance_id] = "Terminating:Proceed"
            self.completions.append((instance_id, result))
            return True

    def record_heartbeat(
        self, *, group: str, hook: str, instance_id: str, token: str | None = None
    ) -> bool:
        with self._lock:
            if self.states.get(instance_id) != "Terminating:Wait":
                return False
            self.heartbeats.append(instance_id)
            return True

    def terminate(self, instance_id: str) -> None:
        with self._lock:
            self.states[instance_id] = "Terminating:Wait"


class RecordingDrain:
    """KubeDrain, recording which pods it was asked to evict or delete."""

    def __init__(self, inner: KubeDrain) -> None:
        self._inner = inner
        self.evicted: list[str] = []
        self.deleted: list[str] = []
        self.deleted_nodes: list[str] = []
        self.statuses: list[int] = []
        self._lock = threading.Lock()

    def leaving_node(self, instance_id: str, *, name: str | None = None) -> LeavingNode | None:
        return self._inner.leaving_node(instance_id, name=name)

    def cordon(self, node: LeavingNode, *, drain_started_at: datetime | None) -> None:
        self._inner.cordon(node, drain_started_at=drain_started_at)

    def pods_on(self, node: str) -> Sequence[PodOnNode]:
        return self._inner.pods_on(node)

    def evict(self, pods: Sequence[PodOnNode]) -> dict[str, int]:
        statuses = dict(self._inner.evict(pods))
        with self._lock:
            self.evicted.extend(p.key for p in pods)
            self.statuses.extend(statuses.values())
        return statuses

    def delete_pods(self, pods: Sequence[PodOnNode]) -> None:
        with self._lock:
            self.deleted.extend(p.key for p in pods)
        self._inner.delete_pods(pods)

    def disruption_budgets(self, pods: Sequence[PodOnNode]) -> dict[str, str]:
        return dict(self._inner.disruption_budgets(pods))

    def delete_node(self, node: LeavingNode) -> bool:
        with self._lock:
            self.deleted_nodes.append(node.name)
        return self._inner.delete_node(node)


class StaticClusters:
    def __init__(self, kube: KubeCloud) -> None:
        self._kube = kube

    def describe_cluster(self, name: str) -> ClusterConnection:
        return ClusterConnection(
            name=name,
            endpoint=self._kube.endpoint,
            ca_base64=self._kube.ca_data,
            service_cidr="10.100.0.0/16",
        )


@dataclass
class Leave:
    """A LeaveService over the real apiserver and a group double, with what tests look at."""

    service: LeaveService
    group: GroupDouble
    drain: RecordingDrain
    clock: ShiftedClock
    managed: ManagedGroup

    def action(self, instance_id: str, *, token: str | None = None) -> TerminateAction:
        return TerminateAction(
            group=self.managed, instance_id=instance_id, hook=self.group.hook, token=token
        )


LeaveFactory = Callable[..., Leave]


@pytest.fixture
def leave_for(kube: KubeCloud, function_api: KubeApi, namespace: str) -> LeaveFactory:
    def make(
        *,
        policy: DrainPolicy | None = None,
        heartbeat_timeout: int = 600,
        wait_budget: timedelta = timedelta(seconds=60),
        pdb_retry: timedelta = timedelta(seconds=0.5),
    ) -> Leave:
        hook = LifecycleHook(
            name="terminate",
            transition=TERMINATING,
            heartbeat_timeout_seconds=heartbeat_timeout,
            default_result="ABANDON",
        )
        group = GroupDouble(name=f"g-{namespace}", hook=hook)
        drain = RecordingDrain(KubeDrain(function_api))
        clock = ShiftedClock()

        def no_cluster_kube(connection: ClusterConnection) -> Any:
            raise AssertionError("leave needs no ClusterKube")

        service = LeaveService(
            autoscaling=group,
            compute=None,  # type: ignore[arg-type]
            clusters=StaticClusters(kube),
            kube_for=no_cluster_kube,
            drain_for=lambda connection: drain,
            clock=clock,
            settings=LeaveSettings(
                policy=policy or DrainPolicy(),
                wait_budget=wait_budget,
                poll_interval=timedelta(seconds=0.1),
                pdb_retry_interval=pdb_retry,
            ),
        )
        managed = ManagedGroup(group.name, ClusterName(kube.cluster_name))
        return Leave(service, group, drain, clock, managed)

    return make


class Workloads:
    """Windows workloads pinned to this test's nodes, over the admin identity."""

    def __init__(self, kube: KubeCloud, namespace: str) -> None:
        self.namespace = namespace
        self.core = kube.core_v1()
        self.apps = AppsV1Api(kube.api_client())
        self.custom = CustomObjectsApi(kube.api_client())

    def template(self, app: str, *, node: str | None = None) -> dict[str, Any]:
        selector = {"kubernetes.io/os": "windows", TEST_GROUP_LABEL: self.namespace}
        if node:
            selector["kubernetes.io/hostname"] = node
        return {
            "metadata": {"labels": {"app": app}},
            "spec": {
                "nodeSelector": selector,
                "terminationGracePeriodSeconds": 30,
                "containers": [
                    {"name": "iis", "image": "mcr.microsoft.com/windows/servercore/iis:ltsc2022"}
                ],
            },
        }

    def deployment(self, app: str, replicas: int) -> None:
        raw_json(
            self.apps.create_namespaced_deployment,
            self.namespace,
            {
                "metadata": {"name": app},
                "spec": {
                    "replicas": replicas,
                    "selector": {"matchLabels": {"app": app}},
                    "template": self.template(app),
                },
            },
        )

    def daemonset(self, app: str) -> None:
        raw_json(
            self.apps.create_namespaced_daemon_set,
            self.namespace,
            {
                "metadata": {"name": app},
                "spec": {
                    "selector": {"matchLabels": {"app": app}},
                    "template": self.template(app),
                },
            },
        )

    def bare_pod(self, name: str, node: str) -> None:
        body = self.template(name, node=node)
        body["metadata"]["name"] = name
        raw_json(self.core.create_namespaced_pod, self.namespace, body)

    def pdb(self, app: str, **spec: Any) -> None:
        self.custom.create_namespaced_custom_object(
            "policy",
            "v1beta1",
            self.namespace,
            "poddisruptionbudgets",
            {
                "apiVersion": "policy/v1beta1",
                "kind": "PodDisruptionBudget",
                "metadata": {"name": app},
                "spec": {**spec, "selector": {"matchLabels": {"app": app}}},
            },
        )

    def patch_pdb(self, app: str, **spec: Any) -> None:
        self.custom.patch_namespaced_custom_object(
            "policy", "v1beta1", self.namespace, "poddisruptionbudgets", app, {"spec": spec}
        )

    def wait_pdb_allows(self, app: str, disruptions: int, *, timeout: float = 30) -> None:
        def allowed() -> bool:
            pdb = self.custom.get_namespaced_custom_object(
                "policy", "v1beta1", self.namespace, "poddisruptionbudgets", app
            )
            status = pdb.get("status") or {}
            return (
                status.get("observedGeneration") == pdb["metadata"]["generation"]
                and status.get("disruptionsAllowed") == disruptions
            )

        wait_until(allowed, timeout=timeout, message=f"PDB {app} allows {disruptions}")

    def pods(self, app: str | None = None) -> list[dict[str, Any]]:
        selector = f"app={app}" if app else ""
        return raw_json(self.core.list_namespaced_pod, self.namespace, label_selector=selector)[
            "items"
        ]

    def running(self, app: str) -> list[dict[str, Any]]:
        return [
            p
            for p in self.pods(app)
            if p.get("status", {}).get("phase") == "Running"
            and not p["metadata"].get("deletionTimestamp")
            and any(
                c["type"] == "Ready" and c["status"] == "True"
                for c in p["status"].get("conditions", [])
            )
        ]

    def wait_running(self, app: str, count: int, *, timeout: float = 60) -> list[dict[str, Any]]:
        def enough() -> list[dict[str, Any]] | None:
            pods = self.running(app)
            return pods if len(pods) == count and len(self.pods(app)) == count else None

        return wait_until(enough, timeout=timeout, message=f"{count} running pods of {app}")


@pytest.fixture
def workloads(kube: KubeCloud, namespace: str) -> Workloads:
    return Workloads(kube, namespace)


def node_exists(kube: KubeCloud, name: str) -> bool:
    return any(n["metadata"]["name"] == name for n in raw_json(kube.core_v1().list_node)["items"])


def read_node(kube: KubeCloud, name: str) -> dict[str, Any]:
    return raw_json(kube.core_v1().read_node, name)
