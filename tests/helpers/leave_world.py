"""In-memory stand-ins for what a LeaveService reads and writes, to count what one invocation or
one reconciler pass asks of AWS and Kubernetes. Every call that reaches AWS or the Kubernetes API,
and every sleep of the clock, is written to one journal in order.

The Kubernetes side is a fake API server under the real adapters (KubeDrain, KubeCluster), so the
journal shows requests, not port calls: the policy API discovery (`GET /apis/policy`) is one line
each time KubeDrain asks for it. The fake plays a cluster with no kubelet unless told otherwise:
an evicted pod stays Terminating, as it does on a node whose kubelet is stuck."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from tests.helpers.join_world import NOW, FakeClusters, StepClock
from winnodes.adapters.kube.cluster import KubeCluster
from winnodes.adapters.kube.drain import KubeDrain
from winnodes.adapters.kube.timestamps import format_time
from winnodes.decisions.drain import DrainPolicy
from winnodes.decisions.smoke import SmokeTestPolicy
from winnodes.errors import (
    KubernetesError,
    KubernetesNotFoundError,
    KubernetesTooManyRequestsError,
)
from winnodes.models.groups import KUBERNETES_CLUSTER_TAG_PREFIX, MANAGED_TAG, ManagedGroup
from winnodes.models.identifiers import ClusterName
from winnodes.ports import (
    AccessEntry,
    AutoScalingGroup,
    ClusterConnection,
    GroupInstance,
    Instance,
    InstancePlatform,
    InstanceProfileRole,
    LifecycleHook,
)
from winnodes.services.fleet import Fleet
from winnodes.services.join import JoinService, JoinSettings
from winnodes.services.leave import LeaveService, LeaveSettings, TerminateAction

CLUSTER = ClusterName("prod")
GROUP = "win-a"
INSTANCE = "i-0123456789abcdef0"
HOOK = LifecycleHook("leave", "autoscaling:EC2_INSTANCE_TERMINATING", 600, "CONTINUE")
GROUP_TAGS = {MANAGED_TAG: "true", f"{KUBERNETES_CLUSTER_TAG_PREFIX}{CLUSTER}": "owned"}
APP = {"app": "web"}

JsonObject = dict[str, Any]


def instance_id(number: int) -> str:
    return f"i-{number:017x}"


def node_name(instance: str) -> str:
    return f"ip-10-0-{int(instance[2:], 16) % 250}-1.ec2.internal"


@dataclass
class FakeAutoScaling:
    journal: list[str]
    # Lifecycle state by instance id: what DescribeAutoScalingGroups reports.
    states: dict[str, str] = field(default_factory=lambda: {INSTANCE: "Terminating:Wait"})
    completed: list[tuple[str, str]] = field(default_factory=list)
    # A warm pool with InstanceReusePolicy.ReuseOnScaleIn, and the instances it holds at
    # Warmed:Pending:Wait for the terminate hook (returning to it on scale in).
    reuse_on_scale_in: bool = False
    returning: set[str] = field(default_factory=set)

    def _group(self) -> AutoScalingGroup:
        members = tuple(GroupInstance(i, state) for i, state in self.states.items())
        return AutoScalingGroup(
            GROUP,
            dict(GROUP_TAGS),
            members,
            desired_capacity=0,
            has_warm_pool=self.reuse_on_scale_in,
            reuse_on_scale_in=self.reuse_on_scale_in,
        )

    def describe_group(self, name: str) -> AutoScalingGroup | None:
        self.journal.append("autoscaling.describe_group")
        return self._group() if name == GROUP else None

    def groups_tagged(self, tag_key: str) -> Iterator[AutoScalingGroup]:
        self.journal.append("autoscaling.describe_groups")
        yield self._group()

    def lifecycle_hooks(self, group: str) -> list[LifecycleHook]:
        self.journal.append("autoscaling.describe_lifecycle_hooks")
        return [HOOK]

    def complete_lifecycle_action(self, *, instance_id: str, result: str, **_: Any) -> bool:
        # CompleteLifecycleAction on an action no longer pending is refused (ValidationError).
        state = self.states.get(instance_id)
        returning = state == "Warmed:Pending:Wait" and instance_id in self.returning
        if state != "Terminating:Wait" and not returning:
            return False
        self.journal.append(f"autoscaling.complete {result}")
        self.completed.append((instance_id, result))
        self.states[instance_id] = "Warmed:Stopped" if returning else "Terminating:Proceed"
        return True

    def record_heartbeat(self, *, instance_id: str, **_: Any) -> bool:
        # Refused, like CompleteLifecycleAction, once the action is no longer pending.
        state = self.states.get(instance_id)
        returning = state == "Warmed:Pending:Wait" and instance_id in self.returning
        if state != "Terminating:Wait" and not returning:
            self.journal.append("autoscaling.heartbeat refused")
            return False
        self.journal.append("autoscaling.heartbeat")
        return True


@dataclass
class FakeCompute:
    journal: list[str]
    # Tags by instance beyond the cluster tag (those written by tag_instances included).
    tags: dict[str, dict[str, str]] = field(default_factory=dict)
    launch_time: datetime = NOW

    def describe_instances(self, instance_ids: Sequence[str]) -> dict[str, Instance]:
        self.journal.append("ec2.describe_instances")
        return {
            i: Instance(
                instance_id=i,
                state="running",
                platform=InstancePlatform.WINDOWS,
                availability_zone="us-east-1a",
                private_dns_name=node_name(i),
                launch_time=self.launch_time,
                tags={f"{KUBERNETES_CLUSTER_TAG_PREFIX}{CLUSTER}": "owned"} | self.tags.get(i, {}),
            )
            for i in instance_ids
        }

    def tag_instances(self, instance_ids: Sequence[str], tags: Mapping[str, str]) -> list[str]:
        self.journal.append("ec2.create_tags")
        for instance in instance_ids:
            self.tags.setdefault(instance, {}).update(tags)
        return list(instance_ids)

    def role_of_instance_profile(self, profile: str) -> InstanceProfileRole | None:
        return None


class NoAccessEntries:
    def entry(self, cluster: str, principal_arn: str) -> AccessEntry | None:
        return AccessEntry("EC2_WINDOWS")

    def ensure_windows_node_entry(self, cluster: str, role_arn: str) -> bool:
        return False


@dataclass
class FakeKubernetes:
    """One cluster's API server (winnodes.ports.Kubernetes), journaling each request as
    `kube.<verb> <what>`. Pods are `web` replicas guarded by one PodDisruptionBudget."""

    journal: list[str]
    now: Callable[[], datetime]
    nodes: dict[str, JsonObject] = field(default_factory=dict)
    pods: dict[str, JsonObject] = field(default_factory=dict)  # by "namespace/name"
    # How many evictions the budget refuses (429) before it allows them.
    pdb_refusals: int = 0
    # Whether evicted pods go away (a working kubelet) or stay Terminating.
    kubelet: bool = False
    # The pod lists (counted from 0) the API server answers with a 503.
    outage: range = range(0)
    pod_lists: int = 0
    # The status a list of PodDisruptionBudgets is answered with (403: no such verb granted).
    pdb_list_status: int | None = None

    def add_node(self, instance: str, *, pods: int = 0, ready: str = "True") -> str:
        """`ready`: the Ready condition's status; "Unknown" once the kubelet stops reporting."""
        name = node_name(instance)
        self.nodes[name] = {
            "metadata": {"name": name, "uid": f"uid-{name}", "labels": {}},
            "spec": {"providerID": f"aws:///us-east-1a/{instance}"},
            "status": {"conditions": [{"type": "Ready", "status": ready}]},
        }
        for index in range(pods):
            pod = f"web-{instance[-4:]}-{index}"
            self.pods[f"web/{pod}"] = {
                "metadata": {
                    "name": pod,
                    "namespace": "web",
                    "uid": f"uid-{pod}",
                    "labels": dict(APP),
                    "ownerReferences": [{"kind": "ReplicaSet", "controller": True}],
                },
                "spec": {"nodeName": name},
                "status": {"phase": "Running"},
            }
        return name

    # -- winnodes.ports.Kubernetes ----------------------------------------------------------

    def get(self, path: str, *, query: Mapping[str, str] | None = None) -> JsonObject:
        if path == "/apis/policy":
            self.journal.append("kube.get /apis/policy")
            return {"versions": [{"version": "v1"}, {"version": "v1beta1"}]}
        if path == "/api/v1/namespaces/kube-system/configmaps/amazon-vpc-cni":
            # Read by the reconciler's repairs under in-service nodes: Windows IPAM is on.
            self.journal.append("kube.get amazon-vpc-cni")
            return {"metadata": {"name": "amazon-vpc-cni"}, "data": {"enable-windows-ipam": "true"}}
        name = _node_path(path)
        self.journal.append("kube.get node")
        if name not in self.nodes:
            raise KubernetesNotFoundError(f"GET {path}: 404", 404)
        return self.nodes[name]

    def list(self, path: str, *, query: Mapping[str, str] | None = None) -> Iterator[JsonObject]:
        if path == "/api/v1/nodes":
            self.journal.append("kube.list nodes")
            return iter(list(self.nodes.values()))
        if path == "/api/v1/pods":
            self.journal.append("kube.list pods")
            self.pod_lists += 1
            if self.pod_lists - 1 in self.outage:
                raise KubernetesError(f"GET {path}: 503 Service Unavailable", 503)
            node = (query or {})["fieldSelector"].removeprefix("spec.nodeName=")
            return iter([p for p in self.pods.values() if p["spec"]["nodeName"] == node])
        if path == "/apis/policy/v1/namespaces/web/poddisruptionbudgets":
            self.journal.append("kube.list pdbs")
            if self.pdb_list_status is not None:
                raise KubernetesError(f"GET {path}: {self.pdb_list_status}", self.pdb_list_status)
            selector = {"matchLabels": APP}
            return iter([{"metadata": {"name": "web-budget"}, "spec": {"selector": selector}}])
        raise AssertionError(f"unexpected list {path}")

    def create(self, path: str, body: JsonObject) -> JsonObject:
        assert path.endswith("/eviction") and body["apiVersion"] == "policy/v1", (path, body)
        key = f"{body['metadata']['namespace']}/{body['metadata']['name']}"
        self.journal.append(f"kube.evict {key}")
        if self.pdb_refusals > 0:
            self.pdb_refusals -= 1
            raise KubernetesTooManyRequestsError("Cannot evict pod: disruption budget", 429)
        if self.kubelet:
            del self.pods[key]
        else:
            self.pods[key]["metadata"]["deletionTimestamp"] = format_time(self.now())
        return {}

    def replace(self, path: str, body: JsonObject) -> JsonObject:
        raise AssertionError(f"unexpected replace {path}")

    def patch(self, path: str, body: JsonObject, *, content_type: str = "") -> JsonObject:
        name = _node_path(path)
        self.journal.append("kube.patch node")
        if name not in self.nodes:
            raise KubernetesNotFoundError(f"PATCH {path}: 404", 404)
        node = self.nodes[name]
        # A merge patch of maps (strategic merge patch does the same to these): a key set to
        # null is removed, the others are set.
        for key in ("labels", "annotations"):
            if key in body["metadata"]:
                merged = {**node["metadata"].get(key, {}), **body["metadata"][key]}
                node["metadata"][key] = {k: v for k, v in merged.items() if v is not None}
        if body["spec"]["unschedulable"] is None:
            node["spec"].pop("unschedulable", None)
        else:
            node["spec"]["unschedulable"] = body["spec"]["unschedulable"]
        return node

    def delete(self, path: str, body: JsonObject | None = None) -> JsonObject:
        if path.startswith("/api/v1/nodes/"):
            self.journal.append("kube.delete node")
            self.nodes.pop(_node_path(path))
            return {}
        if path.startswith("/api/v1/namespaces/"):
            parts = path.split("/")  # /api/v1/namespaces/<ns>/pods/<name>
            key = f"{parts[4]}/{parts[6]}"
            self.journal.append(f"kube.delete pod {key}")
            if self.pods.pop(key, None) is None:
                raise KubernetesNotFoundError(f"DELETE {path}: 404", 404)
            return {}
        raise AssertionError(f"unexpected delete {path}")


def _node_path(path: str) -> str:
    assert path.startswith("/api/v1/nodes/"), path
    return path.removeprefix("/api/v1/nodes/")


@dataclass
class LeaveWorld:
    journal: list[str] = field(default_factory=list)
    autoscaling: FakeAutoScaling = field(init=False)
    kube: FakeKubernetes = field(init=False)
    clock: StepClock = field(init=False)
    drains_built: int = 0
    compute: FakeCompute = field(init=False)
    clusters: FakeClusters = field(init=False)

    def __post_init__(self) -> None:
        self.autoscaling = FakeAutoScaling(self.journal)
        self.compute = FakeCompute(self.journal)
        self.clock = StepClock(self.journal)
        self.kube = FakeKubernetes(self.journal, self.clock.now)
        self.clusters = FakeClusters(self.journal)

    def fleet(self) -> Fleet:
        return Fleet(
            autoscaling=self.autoscaling,
            compute=self.compute,
            clusters=self.clusters,
            # KubeCluster names the concrete KubeApi; the fake serves the protocol it uses.
            kube_for=lambda connection: KubeCluster(self.kube),  # type: ignore[arg-type]
        )

    def drain_for(self, connection: ClusterConnection) -> KubeDrain:
        self.drains_built += 1
        return KubeDrain(self.kube)

    def service(
        self, *, policy: DrainPolicy | None = None, wait_budget: float = 600
    ) -> LeaveService:
        return LeaveService(
            fleet=self.fleet(),
            drain_for=self.drain_for,
            clock=self.clock,
            settings=LeaveSettings(
                policy=policy or DrainPolicy(), wait_budget=timedelta(seconds=wait_budget)
            ),
        )

    def join_service(self) -> JoinService:
        return JoinService(
            fleet=self.fleet(),
            access_entries=NoAccessEntries(),
            clock=self.clock,
            settings=JoinSettings(smoke_test=SmokeTestPolicy(enabled=False)),
        )


def terminate_action(
    instance: str = INSTANCE, *, returning_to_pool: bool = False
) -> TerminateAction:
    return TerminateAction(
        group=ManagedGroup(GROUP, CLUSTER),
        instance_id=instance,
        hook=HOOK,
        returning_to_pool=returning_to_pool,
    )
