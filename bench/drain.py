"""Drain on the local cloud: our LeaveService against `kubectl drain --ignore-daemonsets
--delete-emptydir-data` on identical nodes of the same run, and a PDB-guarded drain watched for
budget violations. Prints the figures and writes JSON to bench/results/drain.json.

    .venv/bin/python bench/drain.py [--pods 100] [--rounds 2]

Targets (leave issue): our wall time / kubectl's <= 1.0 for a node of 100 replicated pods without
a blocking PDB; with a PDB `maxUnavailable: 1` over 10 replicas on 3 nodes, the drain completes
and the watch never sees fewer than 9 healthy pods."""

from __future__ import annotations

import argparse
import json
import os
import secrets
import subprocess
import threading
import time
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
from kubernetes import watch
from kubernetes.client import AppsV1Api, CustomObjectsApi, RbacAuthorizationV1Api

from localcloud.kube import (
    DEFAULT_ACCOUNT_ID,
    AccessEntry,
    IdentityRegistry,
    InMemoryAccessEntries,
    KubeCloud,
    SimulatedNode,
    Timing,
)
from localcloud.kube.clients import allowed, raw_json
from localcloud.kube.waiting import wait_until
from winnodes import rbac
from winnodes.adapters.clock import SystemClock
from winnodes.adapters.kube.api import KubeApi
from winnodes.adapters.kube.cluster import KubeCluster
from winnodes.adapters.kube.drain import KubeDrain
from winnodes.adapters.kube.token import CachedToken
from winnodes.models.groups import ManagedGroup
from winnodes.models.identifiers import ClusterName
from winnodes.ports import AutoScalingGroup, ClusterConnection, GroupInstance, LifecycleHook
from winnodes.services.fleet import Fleet
from winnodes.services.leave import LeaveService, LeaveSettings, TerminateAction

ROOT = Path(__file__).parents[1]
RESULTS = ROOT / "bench" / "results"
GROUP = "bench-windows"
HOOK = LifecycleHook("terminate", "autoscaling:EC2_INSTANCE_TERMINATING", 600, "ABANDON")


class Group:
    """The Auto Scaling side in memory: instances waiting in Terminating:Wait."""

    def __init__(self) -> None:
        self.waiting: set[str] = set()
        self.completed: list[str] = []

    def describe_group(self, name: str) -> AutoScalingGroup:
        states = [GroupInstance(i, "Terminating:Wait") for i in self.waiting]
        return AutoScalingGroup(name=name, tags={}, instances=tuple(states))

    def groups_tagged(self, tag_key: str) -> Iterator[AutoScalingGroup]:
        return iter([self.describe_group(GROUP)])

    def lifecycle_hooks(self, group: str) -> Sequence[LifecycleHook]:
        return [HOOK]

    def complete_lifecycle_action(self, *, instance_id: str, **_: Any) -> bool:
        if instance_id not in self.waiting:
            return False
        self.waiting.discard(instance_id)
        self.completed.append(instance_id)
        return True

    def record_heartbeat(self, *, instance_id: str, **_: Any) -> bool:
        return instance_id in self.waiting


class Bench:
    def __init__(
        self, kube: KubeCloud, registry: IdentityRegistry, entries: InMemoryAccessEntries
    ) -> None:
        self.kube = kube
        self.registry = registry
        self.entries = entries
        self.core = kube.core_v1()
        self.apps = AppsV1Api(kube.api_client())
        self.custom = CustomObjectsApi(kube.api_client())
        self.namespace = f"bench-{secrets.token_hex(3)}"
        raw_json(self.core.create_namespace, {"metadata": {"name": self.namespace}})
        wait_until(
            lambda: bool(
                raw_json(self.core.read_namespaced_service_account, "default", self.namespace).get(
                    "secrets"
                )
            ),
            timeout=30,
            message="service account",
        )
        self.group = Group()
        self.service = self._leave_service()

    def _function_api(self) -> KubeApi:
        role = f"winnodes-bench-{secrets.token_hex(3)}"
        user = f"fn-{role}"
        creds = self.registry.add(
            arn=f"arn:aws:sts::{DEFAULT_ACCOUNT_ID}:assumed-role/{role}/bench"
        )
        self.entries.put(
            self.kube.cluster_name,
            AccessEntry(
                principal_arn=f"arn:aws:iam::{DEFAULT_ACCOUNT_ID}:role/{role}", username=user
            ),
        )
        rbac_api = RbacAuthorizationV1Api(self.kube.api_client())
        raw_json(
            rbac_api.create_cluster_role,
            {"metadata": {"name": user}, "rules": rbac.CLUSTER_ROLE["rules"]},
        )
        raw_json(
            rbac_api.create_cluster_role_binding,
            {
                "metadata": {"name": user},
                "subjects": [
                    {"kind": "User", "name": user, "apiGroup": "rbac.authorization.k8s.io"}
                ],
                "roleRef": {
                    "kind": "ClusterRole",
                    "name": user,
                    "apiGroup": "rbac.authorization.k8s.io",
                },
            },
        )
        wait_until(
            lambda: allowed(self.kube.api_client(), user=user, verb="patch", resource="nodes"),
            message=f"the cluster role binding for {user} to take effect",
        )
        sts = boto3.session.Session(
            aws_access_key_id=creds.access_key_id,
            aws_secret_access_key=creds.secret_access_key,
            region_name="us-east-1",
        ).client("sts", endpoint_url="https://sts.us-east-1.amazonaws.com")
        return KubeApi(
            endpoint=self.kube.endpoint,
            ca_base64=self.kube.ca_data,
            token=CachedToken(sts, self.kube.cluster_name, wall_clock=time.time),
        )

    def _leave_service(self) -> LeaveService:
        api = self._function_api()
        kube = self.kube

        class Clusters:
            def describe_cluster(self, name: str) -> ClusterConnection:
                return ClusterConnection(name, kube.endpoint, kube.ca_data, None)

        return LeaveService(
            fleet=Fleet(
                autoscaling=self.group,
                compute=None,  # type: ignore[arg-type]  # a drain never reads EC2
                clusters=Clusters(),
                kube_for=lambda connection: KubeCluster(api),
            ),
            drain_for=lambda connection: KubeDrain(api),
            clock=SystemClock(),
            settings=LeaveSettings(),
        )

    def node(self) -> SimulatedNode:
        octets = secrets.token_bytes(3)
        role = f"bench-node-{secrets.token_hex(3)}"
        instance_id = "i-0" + secrets.token_hex(8)
        dns = f"ip-10-{octets[0]}-{octets[1]}-{octets[2]}.ec2.internal"
        creds = self.registry.add_instance_role(
            account_id=DEFAULT_ACCOUNT_ID,
            role_name=role,
            instance_id=instance_id,
            private_dns_name=dns,
        )
        self.entries.add_windows_node_role(
            self.kube.cluster_name, f"arn:aws:iam::{DEFAULT_ACCOUNT_ID}:role/{role}"
        )
        node = self.kube.nodes.start(
            instance_id=instance_id,
            private_dns_name=dns,
            az="us-east-1a",
            instance_type="m5.large",
            token_provider=self.registry.token_provider(creds, cluster_name=self.kube.cluster_name),
            labels={"bench/group": self.namespace},
        )
        assert node.wait_ready(30), node.registration_failures
        return node

    def deployment(self, app: str, replicas: int, *, node: str | None = None) -> None:
        selector = {"bench/group": self.namespace}
        if node:
            selector["kubernetes.io/hostname"] = node
        raw_json(
            self.apps.create_namespaced_deployment,
            self.namespace,
            {
                "metadata": {"name": app},
                "spec": {
                    "replicas": replicas,
                    "selector": {"matchLabels": {"app": app}},
                    "template": {
                        "metadata": {"labels": {"app": app}},
                        "spec": {
                            "nodeSelector": selector,
                            "terminationGracePeriodSeconds": 30,
                            "containers": [{"name": "iis", "image": "iis:ltsc2022"}],
                        },
                    },
                },
            },
        )

    def healthy(self, app: str) -> int:
        pods = raw_json(self.core.list_namespaced_pod, self.namespace, label_selector=f"app={app}")
        return sum(1 for p in pods["items"] if _healthy(p))

    def wait_healthy(self, app: str, count: int) -> None:
        wait_until(lambda: self.healthy(app) == count, timeout=180, message=f"{count} of {app}")

    def ours(self, node: SimulatedNode) -> float:
        self.group.waiting.add(node.spec.instance_id)
        action = TerminateAction(
            group=ManagedGroup(GROUP, ClusterName(self.kube.cluster_name)),
            instance_id=node.spec.instance_id,
            hook=HOOK,
        )
        started = time.perf_counter()
        result = self.service.leave(action)
        took = time.perf_counter() - started
        assert result.finished and node.spec.instance_id in self.group.completed, result
        return took

    def kubectl(self, node: SimulatedNode) -> float:
        started = time.perf_counter()
        subprocess.run(
            [
                "kubectl",
                "drain",
                node.name,
                "--ignore-daemonsets",
                "--delete-emptydir-data",
                "--timeout=600s",
            ],
            env={**os.environ, "KUBECONFIG": str(self.kube.admin_kubeconfig)},
            capture_output=True,
            text=True,
            check=True,
        )
        return time.perf_counter() - started


def _healthy(pod: dict[str, Any]) -> bool:
    status = pod.get("status") or {}
    return not pod["metadata"].get("deletionTimestamp") and any(
        c.get("type") == "Ready" and c.get("status") == "True"
        for c in status.get("conditions") or []
    )


def compare(bench: Bench, pods: int, rounds: int) -> dict[str, Any]:
    ours: list[float] = []
    theirs: list[float] = []
    for round_ in range(rounds):
        a, b = bench.node(), bench.node()
        bench.deployment(f"ours-{round_}", pods, node=a.name)
        bench.deployment(f"kubectl-{round_}", pods, node=b.name)
        bench.wait_healthy(f"ours-{round_}", pods)
        bench.wait_healthy(f"kubectl-{round_}", pods)
        # Alternate who goes first so neither always meets a busier control plane.
        if round_ % 2 == 0:
            ours.append(bench.ours(a))
            theirs.append(bench.kubectl(b))
        else:
            theirs.append(bench.kubectl(b))
            ours.append(bench.ours(a))
        print(f"round {round_}: ours {ours[-1]:.2f} s, kubectl drain {theirs[-1]:.2f} s")
        for node in (a, b):
            bench.kube.nodes.stop(node.spec.instance_id, delete_node=True)
    ratio = sum(ours) / sum(theirs)
    return {"pods": pods, "ours_s": ours, "kubectl_s": theirs, "ratio": ratio, "target": 1.0}


def pdb_guarded(bench: Bench) -> dict[str, Any]:
    nodes = [bench.node() for _ in range(3)]
    bench.deployment("guarded", 10)
    bench.wait_healthy("guarded", 10)
    bench.custom.create_namespaced_custom_object(
        "policy",
        "v1beta1",
        bench.namespace,
        "poddisruptionbudgets",
        {
            "apiVersion": "policy/v1beta1",
            "kind": "PodDisruptionBudget",
            "metadata": {"name": "guarded"},
            "spec": {"maxUnavailable": 1, "selector": {"matchLabels": {"app": "guarded"}}},
        },
    )
    wait_until(
        lambda: (
            (
                bench.custom.get_namespaced_custom_object(
                    "policy", "v1beta1", bench.namespace, "poddisruptionbudgets", "guarded"
                ).get("status")
                or {}
            ).get("disruptionsAllowed")
            == 1
        ),
        timeout=60,
        message="PDB allows 1",
    )
    spread = {n.name: 0 for n in nodes}
    pods = raw_json(bench.core.list_namespaced_pod, bench.namespace, label_selector="app=guarded")
    for p in pods["items"]:
        spread[p["spec"]["nodeName"]] += 1
    victim = max(nodes, key=lambda n: spread[n.name])

    healthy: dict[str, bool] = {p["metadata"]["uid"]: _healthy(p) for p in pods["items"]}
    lowest = [sum(healthy.values())]
    events = [0]
    stop = threading.Event()
    watcher = watch.Watch()

    def observe() -> None:
        try:
            follow()
        except Exception:  # noqa: BLE001 - the stream ends when the bench stops watching
            return

    def follow() -> None:
        core = bench.kube.core_v1()
        for event in watcher.stream(
            core.list_namespaced_pod,
            bench.namespace,
            label_selector="app=guarded",
            resource_version=pods["metadata"]["resourceVersion"],
            _preload_content=False,
        ):
            pod = event["raw_object"]
            uid = pod["metadata"]["uid"]
            if event["type"] == "DELETED":
                healthy.pop(uid, None)
            else:
                healthy[uid] = _healthy(pod)
            events[0] += 1
            lowest[0] = min(lowest[0], sum(healthy.values()))
            if stop.is_set():
                return

    thread = threading.Thread(target=observe, daemon=True)
    thread.start()
    took = bench.ours(victim)
    bench.wait_healthy("guarded", 10)
    stop.set()
    watcher.stop()
    thread.join(5)
    print(
        f"PDB maxUnavailable 1 over 10 replicas on 3 nodes: drained {spread[victim.name]} pods in "
        f"{took:.2f} s; fewest healthy pods seen {lowest[0]} (budget: 9) over {events[0]} events"
    )
    return {
        "drain_s": took,
        "pods_on_drained_node": spread[victim.name],
        "fewest_healthy_seen": lowest[0],
        "watch_events": events[0],
        "budget_respected": lowest[0] >= 9,
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],  # the first paragraph: the usage line follows
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--pods", type=int, default=100, help="replicated pods on the drained node")
    parser.add_argument(
        "--rounds", type=int, default=2, help="drains by each tool (who goes first alternates)"
    )
    args = parser.parse_args()
    registry, entries = IdentityRegistry(), InMemoryAccessEntries()
    with KubeCloud(identity_source=registry, access_entries=entries, timing=Timing.fast()) as kube:
        bench = Bench(kube, registry, entries)
        plain = compare(bench, args.pods, args.rounds)
        print(f"ratio ours/kubectl: {plain['ratio']:.2f} (target <= 1.0)")
        guarded = pdb_guarded(bench)
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / "drain.json"
    payload = {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "kubernetes": "v1.20.2 (localcloud, Timing.fast)",
        "no_pdb": plain,
        "pdb_max_unavailable_1": guarded,
    }
    out.write_text(json.dumps(payload, indent=2) + "\n")
    print(f"wrote {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
