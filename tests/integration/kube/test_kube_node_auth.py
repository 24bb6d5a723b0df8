"""Nodes join only when their IAM role is authorized, as in EKS (aws-auth or access entry)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import pytest
import yaml
from kubernetes.client import CoreV1Api, V1ConfigMap, V1ObjectMeta
from kubernetes.client.exceptions import ApiException

from localcloud.kube import (
    DEFAULT_ACCOUNT_ID,
    AccessEntry,
    AccessEntryType,
    IdentityRegistry,
    InMemoryAccessEntries,
    KubeCloud,
    NodeState,
)
from localcloud.kube.clients import raw_json
from localcloud.kube.waiting import wait_until

if TYPE_CHECKING:
    from tests.integration.conftest import WindowsNodeFactory

MapRoles = list[dict[str, Any]]
AddMapRoles = Callable[[MapRoles], None]

pytestmark = pytest.mark.integration


def _node_exists(core: CoreV1Api, name: str) -> bool:
    try:
        raw_json(core.read_node, name)
    except ApiException as exc:
        if exc.status == 404:
            return False
        raise
    return True


def _edit_map_roles(core: CoreV1Api, edit: Callable[[MapRoles], MapRoles]) -> None:
    """Read-modify-write kube-system/aws-auth mapRoles with its resourceVersion; retry 409.
    Other tests share the cluster's aws-auth: only ever touch our own entries."""
    for _ in range(20):
        try:
            current = core.read_namespaced_config_map("aws-auth", "kube-system")
        except ApiException as exc:
            if exc.status != 404:
                raise
            current = None
        data = dict((current.data or {}) if current else {})
        data["mapRoles"] = yaml.safe_dump(edit(yaml.safe_load(data.get("mapRoles") or "[]") or []))
        try:
            if current is None:
                core.create_namespaced_config_map(
                    "kube-system",
                    V1ConfigMap(metadata=V1ObjectMeta(name="aws-auth"), data=data),
                )
            else:
                current.data = data
                core.replace_namespaced_config_map("aws-auth", "kube-system", current)
        except ApiException as exc:
            if exc.status != 409:
                raise
            continue
        return
    raise AssertionError("aws-auth kept conflicting")


@pytest.fixture
def aws_auth(core: CoreV1Api) -> Iterator[AddMapRoles]:
    """Add mapRoles entries to kube-system/aws-auth for this test; remove them afterwards."""
    added: list[str] = []

    def add(map_roles: MapRoles) -> None:
        added.extend(m["rolearn"] for m in map_roles)
        _edit_map_roles(core, lambda existing: [*existing, *map_roles])

    yield add
    if added:
        _edit_map_roles(
            core, lambda existing: [m for m in existing if m.get("rolearn") not in added]
        )


def test_a_node_whose_role_is_not_mapped_cannot_register_until_aws_auth_maps_it(
    kube: KubeCloud, core: CoreV1Api, windows_node: WindowsNodeFactory, aws_auth: AddMapRoles
) -> None:
    node = windows_node(role_name="unmapped-windows-node", authorize=False)

    wait_until(
        lambda: len(node.registration_failures) >= 2,
        timeout=30,
        message="two refused registrations",
    )
    assert set(node.registration_failures) == {401}
    assert node.state is NodeState.REGISTERING
    assert not _node_exists(core, node.name)

    role_arn = f"arn:aws:iam::{DEFAULT_ACCOUNT_ID}:role/unmapped-windows-node"
    aws_auth(
        [
            {
                "rolearn": role_arn,
                "username": "system:node:{{EC2PrivateDNSName}}",
                "groups": ["system:bootstrappers", "system:nodes", "eks:kube-proxy-windows"],
            }
        ]
    )

    assert node.wait_ready(30)
    registered = raw_json(core.read_node, node.name)
    assert registered["spec"]["providerID"] == f"aws:///us-east-1a/{node.spec.instance_id}"
    labels = registered["metadata"]["labels"]
    assert labels["kubernetes.io/os"] == "windows"
    assert labels["node.kubernetes.io/windows-build"] == "10.0.20348"
    assert labels["topology.kubernetes.io/zone"] == "us-east-1a"
    assert labels["node.kubernetes.io/instance-type"] == "m5.large"
    assert labels["kubernetes.io/hostname"] == node.name
    decision = [d for d in kube.authenticator.decisions if d.username][-1]
    assert decision.username == f"system:node:{node.name}"


def test_a_node_authorized_by_an_ec2_windows_access_entry_registers_as_itself(
    kube: KubeCloud, core: CoreV1Api, windows_node: WindowsNodeFactory
) -> None:
    node = windows_node(authorize=True)

    registered = raw_json(core.read_node, node.name)
    ready = [c for c in registered["status"]["conditions"] if c["type"] == "Ready"]
    assert ready[0]["status"] == "True"
    assert registered["status"]["nodeInfo"]["operatingSystem"] == "windows"


def test_a_role_mapped_to_another_username_is_forbidden_to_register(
    core: CoreV1Api, windows_node: WindowsNodeFactory, aws_auth: AddMapRoles
) -> None:
    node = windows_node(role_name="misnamed-windows-node", authorize=False)
    aws_auth(
        [
            {
                "rolearn": f"arn:aws:iam::{DEFAULT_ACCOUNT_ID}:role/misnamed-windows-node",
                "username": "system:node:someone-else",
                "groups": ["system:nodes"],
            }
        ]
    )

    wait_until(
        lambda: 403 in node.registration_failures, timeout=30, message="a 403 on registration"
    )
    assert node.state is NodeState.REGISTERING
    assert not _node_exists(core, node.name)


def test_a_token_signed_for_another_cluster_is_unauthorized(
    kube: KubeCloud, identity_registry: IdentityRegistry, access_entries: InMemoryAccessEntries
) -> None:
    creds = identity_registry.add(
        arn=f"arn:aws:sts::{DEFAULT_ACCOUNT_ID}:assumed-role/ops-admin/alice"
    )
    access_entries.put(kube.cluster_name, _standard_entry("ops-admin", ["system:masters"]))
    good = identity_registry.token_provider(creds, cluster_name=kube.cluster_name)()
    other = identity_registry.token_provider(creds, cluster_name="another-cluster")()

    ok = CoreV1Api(kube.api_client(token=good))
    assert raw_json(ok.list_namespace)["items"]
    refused = CoreV1Api(kube.api_client(token=other))
    with pytest.raises(ApiException) as unauthorized:
        raw_json(refused.list_namespace)
    assert unauthorized.value.status == 401


def _standard_entry(role_name: str, groups: list[str]) -> AccessEntry:
    return AccessEntry(
        principal_arn=f"arn:aws:iam::{DEFAULT_ACCOUNT_ID}:role/{role_name}",
        type=AccessEntryType.STANDARD,
        kubernetes_groups=tuple(groups),
    )
