"""The functions' RBAC grants exactly what the Kubernetes adapters use (safety rule 6).

Every public method of KubeCluster, KubeDrain and KubeSmokePods runs against a stand-in for the
API that records each request. A request is read as the API server's authorizer reads it (verb,
API group, resource/subresource, namespace, name) and must be allowed by the rules bound to the
functions' group in winnodes.rbac; and each verb each rule grants must be used by some request."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pytest

from winnodes import rbac
from winnodes.adapters.kube.cluster import KubeCluster
from winnodes.adapters.kube.drain import KubeDrain
from winnodes.adapters.kube.smoke import KubeSmokePods
from winnodes.decisions.smoke import DEFAULT_SMOKE_TEST_NAMESPACE, smoke_pod_manifest
from winnodes.errors import KubernetesNotFoundError
from winnodes.models.identifiers import InstanceId
from winnodes.ports import LeavingNode, PodOnNode

JsonObject = dict[str, Any]
INSTANCE = "i-0123456789abcdef0"
NODE = "ip-10-0-1-23.ec2.internal"
SMOKE_NAMESPACE = DEFAULT_SMOKE_TEST_NAMESPACE
CONFIGMAPS = "/api/v1/namespaces/kube-system/configmaps"
# One object that reads as a Node, a Pod, a ConfigMap or a PodDisruptionBudget.
OBJECT: JsonObject = {
    "metadata": {"name": NODE, "namespace": "web", "uid": "uid-1", "resourceVersion": "7"},
    "spec": {"providerID": f"aws:///us-east-1a/{INSTANCE}", "nodeName": NODE},
    "data": {},
}
LEAVING = LeavingNode(
    name=NODE,
    uid="uid-1",
    instance_id=INSTANCE,
    unschedulable=False,
    excluded_from_load_balancers=False,
)
POD = PodOnNode(namespace="web", name="web-1", uid="uid-2")
SMOKE_POD = smoke_pod_manifest(
    instance_id=InstanceId(INSTANCE),
    node_name=NODE,
    namespace=SMOKE_NAMESPACE,
    image="mcr.microsoft.com/windows/nanoserver:ltsc2022",
)


@dataclass
class RecordingApi:
    """winnodes.ports.Kubernetes, answering every request with OBJECT (404 for `missing` paths)
    and recording it as (method, path)."""

    missing: frozenset[str] = frozenset()
    requests: list[tuple[str, str]] = field(default_factory=list)

    def get(self, path: str, *, query: Mapping[str, str] | None = None) -> JsonObject:
        self.requests.append(("GET", path))
        if path == "/apis/policy":
            return {"versions": [{"version": "v1"}]}
        if path in self.missing:
            raise KubernetesNotFoundError(f"GET {path}: 404", 404)
        return OBJECT

    def list(self, path: str, *, query: Mapping[str, str] | None = None) -> Iterator[JsonObject]:
        self.requests.append(("GET", path))
        return iter([OBJECT])

    def create(self, path: str, body: JsonObject) -> JsonObject:
        self.requests.append(("POST", path))
        return OBJECT

    def replace(self, path: str, body: JsonObject) -> JsonObject:
        self.requests.append(("PUT", path))
        return OBJECT

    def patch(self, path: str, body: JsonObject, *, content_type: str = "") -> JsonObject:
        self.requests.append(("PATCH", path))
        return OBJECT

    def delete(self, path: str, body: JsonObject | None = None) -> JsonObject:
        self.requests.append(("DELETE", path))
        return OBJECT


@dataclass(frozen=True)
class Call:
    adapter: type[KubeCluster | KubeDrain | KubeSmokePods]
    method: str
    kwargs: Mapping[str, Any] = field(default_factory=dict)
    missing: frozenset[str] = frozenset()  # paths that answer 404 (a branch that creates)

    def requests(self) -> list[tuple[str, str]]:
        api = RecordingApi(missing=self.missing)
        getattr(self.adapter(api), self.method)(**self.kwargs)  # type: ignore[arg-type]
        return api.requests

    def __str__(self) -> str:
        missing = " (none yet)" if self.missing else ""
        return f"{self.adapter.__name__}.{self.method}{missing}"


CALLS = [
    Call(KubeCluster, "windows_ipam_enabled"),
    Call(KubeCluster, "ensure_windows_ipam"),
    Call(KubeCluster, "ensure_windows_ipam", missing=frozenset({f"{CONFIGMAPS}/amazon-vpc-cni"})),
    Call(KubeCluster, "read_aws_auth"),
    Call(KubeCluster, "write_aws_auth", {"data": {"mapRoles": ""}, "resource_version": "7"}),
    Call(KubeCluster, "write_aws_auth", {"data": {"mapRoles": ""}, "resource_version": None}),
    Call(KubeCluster, "node_named", {"name": NODE}),
    Call(KubeCluster, "hold_for_warm_pool", {"name": NODE}),
    Call(KubeCluster, "return_from_warm_pool", {"name": NODE}),
    Call(KubeCluster, "nodes_by_instance"),
    Call(KubeDrain, "leaving_node", {"instance_id": INSTANCE, "name": NODE}),
    Call(KubeDrain, "leaving_node", {"instance_id": INSTANCE}),
    Call(
        KubeDrain, "cordon", {"node": LEAVING, "drain_started_at": datetime(2026, 1, 1, tzinfo=UTC)}
    ),
    Call(KubeDrain, "delete_node", {"node": LEAVING}),
    Call(KubeDrain, "pods_on", {"node": NODE}),
    Call(KubeDrain, "evict", {"pods": [POD]}),
    Call(KubeDrain, "delete_pods", {"pods": [POD]}),
    Call(KubeDrain, "disruption_budgets", {"pods": [POD]}),
    Call(KubeDrain, "policy_version"),
    Call(KubeSmokePods, "create", {"manifest": SMOKE_POD}),
    Call(KubeSmokePods, "read", {"namespace": SMOKE_NAMESPACE, "name": "winnodes-smoke-x"}),
    Call(KubeSmokePods, "listed", {"namespace": SMOKE_NAMESPACE}),
    Call(KubeSmokePods, "delete", {"namespace": SMOKE_NAMESPACE, "name": "winnodes-smoke-x"}),
]


@dataclass(frozen=True)
class Access:
    """A request as RBAC sees it (the API server's RequestInfo)."""

    verb: str
    group: str
    resource: str  # "pods/eviction" for a subresource
    namespace: str | None
    name: str | None

    def __str__(self) -> str:
        where = f" in {self.namespace}" if self.namespace else ""
        return f"{self.verb} {self.group or 'core'}/{self.resource}/{self.name or '*'}{where}"


def access_of(method: str, path: str) -> Access | None:
    """None for discovery (/apis/policy), which every authenticated user may read."""
    parts = path.strip("/").split("/")
    group, rest = ("", parts[2:]) if parts[0] == "api" else (parts[1], parts[3:])
    if not rest:
        return None
    namespace = None
    if rest[0] == "namespaces" and len(rest) > 2:
        namespace, rest = rest[1], rest[2:]
    name = rest[1] if len(rest) > 1 else None
    verb = {
        "GET": "get" if name else "list",
        "POST": "create",
        "PUT": "update",
        "PATCH": "patch",
        "DELETE": "delete" if name else "deletecollection",
    }[method]
    return Access(verb, group, "/".join([rest[0], *rest[2:]]), namespace, name)


@dataclass(frozen=True)
class Grant:
    """A rule bound to the functions' group; `namespace` None for a ClusterRole's."""

    namespace: str | None
    rule: Mapping[str, Any]

    def allows(self, access: Access) -> bool:
        names = self.rule.get("resourceNames") or []
        return (
            (self.namespace is None or access.namespace == self.namespace)
            and access.group in self.rule["apiGroups"]
            and access.resource in self.rule["resources"]
            and access.verb in self.rule["verbs"]
            and (not names or access.name in names)
        )


def functions_grants() -> list[Grant]:
    manifests = rbac.manifests(smoke_test_namespace=SMOKE_NAMESPACE)
    roles = {
        (m["kind"], m["metadata"].get("namespace"), m["metadata"]["name"]): m for m in manifests
    }
    grants = []
    for binding in manifests:
        if binding["kind"] not in {"RoleBinding", "ClusterRoleBinding"}:
            continue
        if {"kind": "Group", "name": rbac.FUNCTIONS_GROUP} not in [
            {"kind": s["kind"], "name": s["name"]} for s in binding["subjects"]
        ]:
            continue
        namespace = binding["metadata"].get("namespace")
        ref = binding["roleRef"]
        role = roles[(ref["kind"], namespace if ref["kind"] == "Role" else None, ref["name"])]
        grants += [Grant(namespace, rule) for rule in role["rules"]]
    return grants


def accesses(call: Call) -> list[Access]:
    return [a for method, path in call.requests() if (a := access_of(method, path)) is not None]


@pytest.mark.parametrize("call", CALLS, ids=str)
def test_every_request_of_the_adapters_is_allowed_by_the_functions_rbac(call: Call) -> None:
    grants = functions_grants()
    refused = [str(a) for a in accesses(call) if not any(g.allows(a) for g in grants)]
    assert refused == []


def test_every_verb_the_functions_rbac_grants_is_used_by_an_adapter() -> None:
    used = [access for call in CALLS for access in accesses(call)]
    unused = [
        f"{verb} {resource}/{name or '*'} in {grant.namespace or 'any namespace'}"
        for grant in functions_grants()
        for resource in grant.rule["resources"]
        for name in grant.rule.get("resourceNames") or [None]
        for verb in grant.rule["verbs"]
        if not any(
            (a.verb, a.resource) == (verb, resource)
            and (name is None or a.name == name)
            and grant.allows(a)
            for a in used
        )
    ]
    assert unused == []


@pytest.mark.parametrize("adapter", [KubeCluster, KubeDrain, KubeSmokePods])
def test_every_public_method_of_the_adapters_is_among_the_calls(adapter: type) -> None:
    public = {n for n in vars(adapter) if not n.startswith("_") and callable(getattr(adapter, n))}
    assert public == {c.method for c in CALLS if c.adapter is adapter}
