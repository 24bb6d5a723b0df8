"""Windows workloads on the local cloud's cluster, created and watched over the admin identity.

Pods select `kubernetes.io/os=windows` and `localcloud.test/group=<namespace>`: tests share one
cluster, so each pins its workloads to the nodes it labelled as its own."""

from __future__ import annotations

from typing import Any

from kubernetes.client import AppsV1Api, CoreV1Api, CustomObjectsApi

from localcloud.kube import KubeCloud
from localcloud.kube.clients import raw_json
from localcloud.kube.waiting import wait_until

TEST_GROUP_LABEL = "localcloud.test/group"


class Workloads:
    """Deployments, DaemonSets, bare pods and PodDisruptionBudgets of one namespace."""

    def __init__(self, kube: KubeCloud, namespace: str) -> None:
        self.kube = kube
        self.namespace = namespace
        self.core: CoreV1Api = kube.core_v1()
        self.apps = AppsV1Api(kube.api_client())
        # policy/v1beta1 has no typed API in the current client: go through custom objects.
        self.custom = CustomObjectsApi(kube.api_client())

    def pod_template(self, app: str, *, node: str | None = None) -> dict[str, Any]:
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
                "apiVersion": "apps/v1",
                "kind": "Deployment",
                "metadata": {"name": app},
                "spec": {
                    "replicas": replicas,
                    "selector": {"matchLabels": {"app": app}},
                    "template": self.pod_template(app),
                },
            },
        )

    def daemonset(self, app: str) -> None:
        raw_json(
            self.apps.create_namespaced_daemon_set,
            self.namespace,
            {
                "apiVersion": "apps/v1",
                "kind": "DaemonSet",
                "metadata": {"name": app},
                "spec": {
                    "selector": {"matchLabels": {"app": app}},
                    "template": self.pod_template(app),
                },
            },
        )

    def bare_pod(self, name: str, node: str) -> None:
        """A pod no controller owns, on `node`: a drain refuses it unless forced."""
        body = self.pod_template(name, node=node)
        body["metadata"]["name"] = name
        raw_json(self.core.create_namespaced_pod, self.namespace, body)

    def static_pod(self, name: str, node: str) -> None:
        """The mirror pod a kubelet posts for a static pod on `node`: annotated
        `kubernetes.io/config.mirror`, controlled by its Node. A drain leaves it alone."""
        uid = raw_json(self.core.read_node, node)["metadata"]["uid"]
        body = self.pod_template(name, node=node)
        body["metadata"] |= {
            "name": name,
            "annotations": {"kubernetes.io/config.mirror": f"{name}-hash"},
            "ownerReferences": [
                {"apiVersion": "v1", "kind": "Node", "name": node, "uid": uid, "controller": True}
            ],
        }
        body["spec"]["nodeName"] = node
        raw_json(self.core.create_namespaced_pod, self.namespace, body)

    def pdb(self, app: str, *, min_available: int) -> None:
        self.custom.create_namespaced_custom_object(
            "policy",
            "v1beta1",
            self.namespace,
            "poddisruptionbudgets",
            {
                "apiVersion": "policy/v1beta1",
                "kind": "PodDisruptionBudget",
                "metadata": {"name": app},
                "spec": {"minAvailable": min_available, "selector": {"matchLabels": {"app": app}}},
            },
        )

    def set_pdb_min_available(self, app: str, min_available: int) -> None:
        self.custom.patch_namespaced_custom_object(
            "policy",
            "v1beta1",
            self.namespace,
            "poddisruptionbudgets",
            app,
            {"spec": {"minAvailable": min_available}},
        )

    def pods(self, app: str) -> list[dict[str, Any]]:
        listed = raw_json(
            self.core.list_namespaced_pod, self.namespace, label_selector=f"app={app}"
        )
        items: list[dict[str, Any]] = listed["items"]
        return items

    def running(self, app: str) -> list[dict[str, Any]]:
        """Pods of ``app`` that are Running, Ready and not terminating."""
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

    def evict(self, pod_name: str) -> None:
        # No apiVersion in the body: the server fills in the one it serves (policy/v1beta1).
        raw_json(
            self.core.create_namespaced_pod_eviction,
            pod_name,
            self.namespace,
            {"metadata": {"name": pod_name, "namespace": self.namespace}},
        )
