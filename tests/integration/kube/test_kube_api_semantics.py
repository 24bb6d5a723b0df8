"""The real API server's semantics the product relies on: conflicts, PDB-guarded evictions."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
from kubernetes.client import CoreV1Api, RbacAuthorizationV1Api, V1ConfigMap, V1ObjectMeta
from kubernetes.client.exceptions import ApiException

from localcloud.kube import KubeCloud
from localcloud.kube.clients import allowed, raw_json
from localcloud.kube.waiting import wait_until
from tests.helpers.workloads import Workloads

if TYPE_CHECKING:
    from tests.integration.conftest import WindowsNodeFactory

pytestmark = pytest.mark.integration
RBAC_GROUP = "rbac.authorization.k8s.io"


def test_replacing_a_configmap_with_a_stale_resource_version_is_a_conflict(
    core: CoreV1Api, namespace: str
) -> None:
    created = core.create_namespaced_config_map(
        namespace, V1ConfigMap(metadata=V1ObjectMeta(name="aws-auth"), data={"mapRoles": ""})
    )
    stale = created.metadata.resource_version
    created.data = {"mapRoles": "- rolearn: arn:aws:iam::123456789012:role/a\n"}
    core.replace_namespaced_config_map("aws-auth", namespace, created)

    stale_copy = V1ConfigMap(
        metadata=V1ObjectMeta(name="aws-auth", resource_version=stale), data={"mapRoles": ""}
    )
    with pytest.raises(ApiException) as conflict:
        core.replace_namespaced_config_map("aws-auth", namespace, stale_copy)

    assert conflict.value.status == 409
    kept = core.read_namespaced_config_map("aws-auth", namespace)
    assert "role/a" in kept.data["mapRoles"]


def test_eviction_is_refused_while_the_pdb_allows_no_disruption_and_allowed_after(
    windows_node: WindowsNodeFactory, workloads: Workloads
) -> None:
    windows_node()
    workloads.deployment("web", replicas=2)
    pods = workloads.wait_running("web", 2)
    workloads.pdb("web", min_available=2)
    workloads.wait_pdb_allows("web", 0)

    with pytest.raises(ApiException) as refused:
        workloads.evict(pods[0]["metadata"]["name"])
    assert refused.value.status == 429

    workloads.set_pdb_min_available("web", 1)
    workloads.wait_pdb_allows("web", 1)
    workloads.evict(pods[0]["metadata"]["name"])

    # The evicted pod goes away (the kubelet stand-in ends it) and the ReplicaSet replaces it.
    replacements = workloads.wait_running("web", 2)
    names = {p["metadata"]["name"] for p in replacements}
    assert pods[0]["metadata"]["name"] not in names


def test_allowed_reports_what_a_new_role_binding_grants(kube: KubeCloud, namespace: str) -> None:
    api = kube.api_client()
    group = f"readers-{namespace}"

    def can_list_config_maps(where: str) -> bool:
        return allowed(api, groups=(group,), verb="list", resource="configmaps", namespace=where)

    assert not can_list_config_maps(namespace)
    raw_json(
        RbacAuthorizationV1Api(api).create_namespaced_role_binding,
        namespace,
        {
            "metadata": {"name": "readers"},
            "subjects": [{"kind": "Group", "name": group, "apiGroup": RBAC_GROUP}],
            "roleRef": {"kind": "ClusterRole", "name": "view", "apiGroup": RBAC_GROUP},
        },
    )

    wait_until(lambda: can_list_config_maps(namespace), message="the binding to take effect")
    assert not can_list_config_maps("kube-system")  # only where it was bound
