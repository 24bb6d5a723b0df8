"""A drain acts on the pods and the Node it planned for, not on newer ones of the same name: each
eviction and delete carries the planned object's uid as a precondition, and the kube-apiserver
refuses it (409) when the name now belongs to another object, a StatefulSet's recreated `web-0`
or a Node registered again under a reused DNS name."""

from __future__ import annotations

import secrets
from typing import Any

import pytest
from kubernetes.client import CoreV1Api
from kubernetes.client.rest import ApiException

from localcloud.kube.clients import raw_json
from localcloud.kube.waiting import wait_until
from winnodes.adapters.kube.api import KubeApi
from winnodes.adapters.kube.drain import KubeDrain
from winnodes.ports import LeavingNode, PodOnNode

pytestmark = pytest.mark.integration


def pending_pod(name: str) -> dict[str, Any]:
    """A pod no node can take: it stays Pending, and goes at once when deleted."""
    return {
        "metadata": {"name": name},
        "spec": {
            "nodeSelector": {"example.com/nowhere": "true"},
            "containers": [{"name": "c", "image": "example.invalid/none:1"}],
        },
    }


def replaced_pod(core: CoreV1Api, namespace: str, name: str) -> tuple[PodOnNode, str]:
    """The pod as a drain planned for it, and the uid of the pod that has its name now."""
    old = raw_json(core.create_namespaced_pod, namespace, pending_pod(name))
    planned = PodOnNode(namespace, name, old["metadata"]["uid"])
    raw_json(core.delete_namespaced_pod, name, namespace, grace_period_seconds=0)

    def recreated() -> dict[str, Any] | None:
        try:
            created: dict[str, Any] = raw_json(
                core.create_namespaced_pod, namespace, pending_pod(name)
            )
        except ApiException as error:
            if error.status == 409:  # the old one is still going
                return None
            raise
        return created

    new = wait_until(recreated, timeout=30, message=f"{name} recreated")
    return planned, new["metadata"]["uid"]


def assert_untouched(core: CoreV1Api, namespace: str, name: str, uid: str) -> None:
    after = raw_json(core.read_namespaced_pod, name, namespace)
    assert after["metadata"]["uid"] == uid
    assert after["metadata"].get("deletionTimestamp") is None


def test_an_eviction_planned_for_a_replaced_pod_leaves_the_new_pod(
    core: CoreV1Api, namespace: str, admin_api: KubeApi
) -> None:
    planned, new_uid = replaced_pod(core, namespace, "web-0")

    answers = KubeDrain(admin_api).evict([planned])

    assert {key: answer.status for key, answer in answers.items()} == {f"{namespace}/web-0": 409}
    assert_untouched(core, namespace, "web-0", new_uid)


def test_a_forced_delete_planned_for_a_replaced_pod_leaves_the_new_pod(
    core: CoreV1Api, namespace: str, admin_api: KubeApi
) -> None:
    planned, new_uid = replaced_pod(core, namespace, "web-0")

    KubeDrain(admin_api).delete_pods([planned])

    assert_untouched(core, namespace, "web-0", new_uid)


def test_a_node_delete_planned_for_a_replaced_node_leaves_the_new_node(
    core: CoreV1Api, admin_api: KubeApi
) -> None:
    name = f"ip-10-7-{secrets.randbelow(250)}-3.ec2.internal"
    old = raw_json(core.create_node, {"metadata": {"name": name}})
    planned = LeavingNode(name, old["metadata"]["uid"], "i-0123456789abcdef0", True, True)
    core.delete_node(name)
    new = raw_json(core.create_node, {"metadata": {"name": name}})
    try:
        assert KubeDrain(admin_api).delete_node(planned) is False
        assert raw_json(core.read_node, name)["metadata"]["uid"] == new["metadata"]["uid"]
    finally:
        core.delete_node(name)
