"""Draining a simulated Windows node: controllers re-create the pods on another node."""

from __future__ import annotations

import os
import subprocess
from typing import TYPE_CHECKING, Any

import pytest
from kubernetes.client import CoreV1Api

from localcloud.kube import KubeCloud
from localcloud.kube.clients import raw_json
from localcloud.kube.waiting import wait_until
from tests.helpers.workloads import Workloads

if TYPE_CHECKING:
    from tests.integration.conftest import WindowsNodeFactory

pytestmark = pytest.mark.integration


def _nodes_of(pods: list[dict[str, Any]]) -> set[str]:
    return {p["spec"]["nodeName"] for p in pods}


def test_evicted_pods_of_a_cordoned_node_are_recreated_on_another_windows_node(
    core: CoreV1Api, windows_node: WindowsNodeFactory, workloads: Workloads
) -> None:
    old = windows_node()
    workloads.deployment("iis", replicas=3)
    assert _nodes_of(workloads.wait_running("iis", 3)) == {old.name}
    new = windows_node()

    raw_json(core.patch_node, old.name, {"spec": {"unschedulable": True}})
    for pod in workloads.pods("iis"):
        workloads.evict(pod["metadata"]["name"])

    def all_on_new_node() -> list[dict[str, Any]] | None:
        pods = workloads.running("iis")
        return pods if len(pods) == 3 and _nodes_of(pods) == {new.name} else None

    moved = wait_until(all_on_new_node, timeout=60, message="all iis pods on the new node")
    assert all(p["metadata"]["ownerReferences"][0]["kind"] == "ReplicaSet" for p in moved)


def test_kubectl_drain_completes_against_a_simulated_node(
    kube: KubeCloud, core: CoreV1Api, windows_node: WindowsNodeFactory, workloads: Workloads
) -> None:
    old = windows_node()
    workloads.daemonset("node-agent")
    workloads.deployment("web", replicas=2)
    workloads.wait_running("web", 2)
    workloads.wait_running("node-agent", 1)
    workloads.pdb("web", min_available=1)
    workloads.wait_pdb_allows("web", 1)
    new = windows_node()

    drain = subprocess.run(
        [
            "kubectl",
            "drain",
            old.name,
            "--ignore-daemonsets",
            "--delete-emptydir-data",
            "--timeout=120s",
        ],
        env={**os.environ, "KUBECONFIG": str(kube.admin_kubeconfig)},
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )

    assert drain.returncode == 0, drain.stderr
    assert f"node/{old.name} drained" in drain.stdout
    assert raw_json(core.read_node, old.name)["spec"]["unschedulable"] is True
    web = workloads.wait_running("web", 2)
    assert _nodes_of(web) == {new.name}
    # DaemonSet pods stay where they are; the new node got its own.
    agents = workloads.wait_running("node-agent", 2)
    assert _nodes_of(agents) == {old.name, new.name}
