"""Kubelet stand-ins: one thread per simulated Windows node, talking as that node.

Every request a node makes carries a ``k8s-aws-v1.`` token from the node's token provider, so a
node whose IAM role is not authorized really cannot register (401 from the apiserver, or 403 if
it is mapped to a user that is not ``system:node:<its name>``) and keeps retrying, as a kubelet
does.
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import re
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Any

from localcloud.kube.clients import (
    ApiException,
    RotatingToken,
    core_v1,
    raw_json,
    token_configuration,
)
from localcloud.kube.timing import Timing

log = logging.getLogger("localcloud.kubelet")

DEFAULT_WINDOWS_BUILD = "10.0.20348"
KUBELET_VERSION = "v1.20.2"


class NodeState(StrEnum):
    BOOTING = "Booting"
    REGISTERING = "Registering"
    NOT_READY = "NotReady"  # registered, its network not up yet (Timing.not_ready_for)
    READY = "Ready"
    STOPPED = "Stopped"


class Workloads(StrEnum):
    """How the containers of a node's run-to-completion pods (restartPolicy Never) end."""

    COMPLETE = "complete"  # exit code 0 after the run time: the pod Succeeded
    FAIL = "fail"  # exit code 1: the pod Failed (a node that cannot run the workload)
    HANG = "hang"  # never exit: the pod stays Running until this changes


@dataclass(frozen=True)
class NodeSpec:
    instance_id: str
    private_dns_name: str
    az: str
    instance_type: str = "m5.large"
    windows_build: str = DEFAULT_WINDOWS_BUILD
    labels: dict[str, str] = field(default_factory=dict)
    taints: tuple[dict[str, str], ...] = ()
    workloads: Workloads = Workloads.COMPLETE

    @property
    def node_name(self) -> str:
        return self.private_dns_name

    @property
    def provider_id(self) -> str:
        return f"aws:///{self.az}/{self.instance_id}"

    @property
    def internal_ip(self) -> str:
        match = re.match(r"^ip-(\d+)-(\d+)-(\d+)-(\d+)\b", self.private_dns_name)
        if match:
            return ".".join(match.groups())
        digest = hashlib.sha256(self.instance_id.encode()).digest()
        return f"10.0.{digest[0]}.{digest[1] or 1}"

    def node_labels(self) -> dict[str, str]:
        return {
            "kubernetes.io/os": "windows",
            "kubernetes.io/arch": "amd64",
            "kubernetes.io/hostname": self.node_name,
            "node.kubernetes.io/windows-build": self.windows_build,
            "node.kubernetes.io/instance-type": self.instance_type,
            "topology.kubernetes.io/zone": self.az,
            "topology.kubernetes.io/region": self.az[:-1],
            **self.labels,
        }


class SimulatedNode:
    """A kubelet stand-in. ``start`` boots it in a thread; ``stop`` ends the thread."""

    def __init__(
        self,
        spec: NodeSpec,
        *,
        endpoint: str,
        ca_file: Path,
        token_provider: Callable[[], str],
        timing: Timing,
    ) -> None:
        self.spec = spec
        self.timing = timing
        self._token = RotatingToken(token_provider)
        self._api = core_v1(
            token_configuration(endpoint=endpoint, ca_file=ca_file, token=self._token)
        )
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._run, name=f"kubelet-{spec.instance_id}", daemon=True
        )
        self.state = NodeState.BOOTING
        # Its Node was created (or found there): the bootstrap that started it is done.
        self.registered = False
        self.registration_failures: list[int | str] = []
        # May be changed while the node runs (a test releases a hanging pod).
        self.workloads = spec.workloads
        self._started_at = datetime.now(UTC)
        self._pod_seen: dict[str, float] = {}
        self._terminating_seen: dict[str, float] = {}
        self._running: dict[str, float] = {}  # uid -> when it became Running
        # When it turned Ready (time.monotonic()), and the same as the Node's transition time.
        self.ready_since: float | None = None
        self._ready_at = float("inf")
        self._ready_transition = self._started_at

    @property
    def name(self) -> str:
        return self.spec.node_name

    def start(self) -> SimulatedNode:
        self._thread.start()
        return self

    def stop(self, *, timeout: float = 5.0) -> None:
        self._stop.set()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(timeout=timeout)
        self.state = NodeState.STOPPED

    def wait_ready(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.state is NodeState.READY:
                return True
            if self._stop.wait(0.05):
                return False
        return self.state is NodeState.READY

    def _run(self) -> None:
        if self._stop.wait(self.timing.scaled(self.timing.node_boot_delay)):
            return
        self.state = NodeState.REGISTERING
        # Registers once per start, as a kubelet does: a Node deleted under a running kubelet
        # is not registered again (its status updates fail until a restart;
        # kubernetes/kubernetes#71398, still so in 2025: #116485). A warm pool kept Running
        # keeps its kubelet, so the leave must not delete the Node of a return to the pool.
        while not self._stop.is_set() and not self._register():
            self._stop.wait(self.timing.register_retry)
        if self._stop.is_set():
            return
        self.registered = True
        next_heartbeat = 0.0
        while not self._stop.is_set():
            now = time.monotonic()
            try:
                if self.ready_since is None and now >= self._ready_at:
                    self.ready_since, self._ready_transition = now, datetime.now(UTC)
                    next_heartbeat = now  # a kubelet posts a changed condition at once
                if now >= next_heartbeat:
                    self._heartbeat()
                    if self.ready_since is not None:  # the API server shows Ready now
                        self.state = NodeState.READY
                    next_heartbeat = now + self.timing.heartbeat_interval
                self._sync_pods()
            except ApiException as exc:
                if exc.status in (401, 403):
                    self._token.invalidate()
                log.info("kubelet %s: API error %s", self.name, exc.status)
            except Exception:  # a stand-in must keep running; log and carry on
                log.exception("kubelet %s: sync failed", self.name)
            self._stop.wait(self.timing.sync_interval)

    # -- registration and status -------------------------------------------------------------

    def _register(self) -> bool:
        body = {
            "apiVersion": "v1",
            "kind": "Node",
            "metadata": {"name": self.name, "labels": self.spec.node_labels()},
            "spec": {"providerID": self.spec.provider_id, "taints": list(self.spec.taints)},
        }
        try:
            raw_json(self._api.create_node, body)
        except ApiException as exc:
            if exc.status != 409:
                self.registration_failures.append(exc.status or 0)
                self._token.invalidate()
                log.info("kubelet %s: registration refused (%s)", self.name, exc.status)
                return False
        except Exception as exc:  # noqa: BLE001 - token provider or connection: retry
            self.registration_failures.append(type(exc).__name__)
            self._token.invalidate()
            log.info("kubelet %s: registration failed: %s", self.name, exc)
            return False
        self._ready_at = time.monotonic() + self.timing.scaled(self.timing.not_ready_for)
        self.state = NodeState.NOT_READY
        try:
            self._heartbeat()
        except ApiException as exc:
            self.registration_failures.append(exc.status or 0)
            return False
        return True

    def _heartbeat(self) -> None:
        now = _rfc3339(datetime.now(UTC))
        since = _rfc3339(self._started_at)
        conditions = [
            {
                "type": t,
                "status": "False",
                "reason": f"KubeletHas{r}",
                "message": m,
                "lastHeartbeatTime": now,
                "lastTransitionTime": since,
            }
            for t, r, m in (
                ("MemoryPressure", "SufficientMemory", "kubelet has sufficient memory"),
                ("DiskPressure", "NoDiskPressure", "kubelet has no disk pressure"),
                ("PIDPressure", "SufficientPID", "kubelet has sufficient PID available"),
            )
        ]
        ready = self.ready_since is not None
        conditions.append(
            {
                "type": "Ready",
                "status": "True" if ready else "False",
                "reason": "KubeletReady" if ready else "KubeletNotReady",
                "message": "kubelet is posting ready status (localcloud)"
                if ready
                else "container runtime network not ready: NetworkReady=false (localcloud)",
                "lastHeartbeatTime": now,
                "lastTransitionTime": _rfc3339(self._ready_transition),
            }
        )
        resources = {"cpu": "2", "memory": "8Gi", "pods": "110", "ephemeral-storage": "50Gi"}
        status = {
            "capacity": resources,
            "allocatable": resources,
            "conditions": conditions,
            "addresses": [
                {"type": "InternalIP", "address": self.spec.internal_ip},
                {"type": "Hostname", "address": self.name},
                {"type": "InternalDNS", "address": self.name},
            ],
            "nodeInfo": {
                "machineID": self.spec.instance_id,
                "systemUUID": self.spec.instance_id,
                "bootID": self.spec.instance_id,
                "kernelVersion": f"{self.spec.windows_build}.1000",
                "osImage": "Windows Server Datacenter (localcloud)",
                "containerRuntimeVersion": "containerd://1.6.6",
                "kubeletVersion": KUBELET_VERSION,
                "kubeProxyVersion": KUBELET_VERSION,
                "operatingSystem": "windows",
                "architecture": "amd64",
            },
            "daemonEndpoints": {"kubeletEndpoint": {"Port": 10250}},
        }
        raw_json(self._api.patch_node_status, self.name, {"status": status})

    # -- pods --------------------------------------------------------------------------------

    def _sync_pods(self) -> None:
        pods = raw_json(
            self._api.list_pod_for_all_namespaces, field_selector=f"spec.nodeName={self.name}"
        )["items"]
        now = time.monotonic()
        seen: set[str] = set()
        for pod in pods:
            meta = pod["metadata"]
            uid = meta["uid"]
            seen.add(uid)
            phase = pod.get("status", {}).get("phase")
            if meta.get("deletionTimestamp"):
                self._terminate(pod, now)
            elif uid not in self._running and phase in (None, "Pending"):
                first = self._pod_seen.setdefault(uid, now)
                if now - first >= self.timing.scaled(self.timing.pod_start_delay):
                    self._mark_running(pod)
                    self._running[uid] = now
            elif (
                uid in self._running
                and phase == "Running"
                and pod["spec"].get("restartPolicy") == "Never"
                and self.workloads is not Workloads.HANG
                and now - self._running[uid] >= self.timing.scaled(self.timing.pod_run_time)
            ):
                self._mark_completed(
                    pod, exit_code=0 if self.workloads is Workloads.COMPLETE else 1
                )
        for uid in set(self._pod_seen) - seen:
            self._pod_seen.pop(uid, None)
        for uid in set(self._terminating_seen) - seen:
            self._terminating_seen.pop(uid, None)
        self._running = {uid: at for uid, at in self._running.items() if uid in seen}

    def _terminate(self, pod: dict[str, Any], now: float) -> None:
        meta = pod["metadata"]
        first = self._terminating_seen.setdefault(meta["uid"], now)
        grace = meta.get("deletionGracePeriodSeconds") or 0
        if now - first < self.timing.scaled(grace):
            return
        try:
            raw_json(
                self._api.delete_namespaced_pod,
                meta["name"],
                meta["namespace"],
                body={"gracePeriodSeconds": 0, "preconditions": {"uid": meta["uid"]}},
            )
        except ApiException as exc:
            if exc.status not in (404, 409):
                raise

    def _mark_running(self, pod: dict[str, Any]) -> None:
        now = _rfc3339(datetime.now(UTC))
        status = {
            "phase": "Running",
            "hostIP": self.spec.internal_ip,
            "podIP": _pod_ip(pod["metadata"]["uid"]),
            "startTime": now,
            **_pod_conditions_and_containers(
                pod, ready=True, now=now, state={"running": {"startedAt": now}}
            ),
        }
        self._patch_pod_status(pod, status)

    def _mark_completed(self, pod: dict[str, Any], *, exit_code: int) -> None:
        """The containers exited: the pod ends Succeeded (all 0) or Failed, as a kubelet reports
        it (Ready False with reason PodCompleted, each container terminated)."""
        now = _rfc3339(datetime.now(UTC))
        started = (pod.get("status") or {}).get("startTime") or now
        terminated = {
            "exitCode": exit_code,
            "reason": "Completed" if exit_code == 0 else "Error",
            "startedAt": started,
            "finishedAt": now,
        }
        status = {
            "phase": "Succeeded" if exit_code == 0 else "Failed",
            **_pod_conditions_and_containers(
                pod, ready=False, now=now, state={"terminated": terminated}
            ),
        }
        self._patch_pod_status(pod, status)

    def _patch_pod_status(self, pod: dict[str, Any], status: dict[str, Any]) -> None:
        meta = pod["metadata"]
        try:
            raw_json(
                self._api.patch_namespaced_pod_status,
                meta["name"],
                meta["namespace"],
                {"status": status},
            )
        except ApiException as exc:
            if exc.status != 404:
                raise


def _pod_conditions_and_containers(
    pod: dict[str, Any], *, ready: bool, now: str, state: dict[str, Any]
) -> dict[str, Any]:
    meta = pod["metadata"]
    readiness = {"status": "True"} if ready else {"status": "False", "reason": "PodCompleted"}
    return {
        "conditions": [
            {
                "type": t,
                **(readiness if t in ("Ready", "ContainersReady") else {"status": "True"}),
                "lastProbeTime": None,
                "lastTransitionTime": now,
            }
            for t in ("Initialized", "Ready", "ContainersReady", "PodScheduled")
        ],
        "containerStatuses": [
            {
                "name": c["name"],
                "image": c.get("image", ""),
                "imageID": "",
                "containerID": f"containerd://{meta['uid']}-{c['name']}",
                "ready": ready,
                "started": ready,
                "restartCount": 0,
                "state": state,
            }
            for c in pod["spec"].get("containers", [])
        ],
    }


class NodeFleet:
    """The simulated nodes of one local cloud, by instance id."""

    def __init__(
        self,
        *,
        endpoint: Callable[[], str],
        ca_file: Callable[[], Path],
        timing: Timing,
        delete_node: Callable[[str], None],
        node_lost: Callable[[str, str], None] | None = None,
    ) -> None:
        """``node_lost(node name, instance id)`` is called ``Timing.node_monitor_grace_period``
        after a kubelet stopped without its Node being deleted (the node lifecycle
        controller's part: the Node's conditions turn Unknown)."""
        self._endpoint = endpoint
        self._ca_file = ca_file
        self.timing = timing
        self._delete_node = delete_node
        self._node_lost = node_lost
        self._lock = threading.Lock()
        self._nodes: dict[str, SimulatedNode] = {}
        self._monitors: dict[str, threading.Timer] = {}

    def start(
        self,
        *,
        instance_id: str,
        private_dns_name: str,
        az: str,
        token_provider: Callable[[], str],
        instance_type: str = "m5.large",
        windows_build: str = DEFAULT_WINDOWS_BUILD,
        labels: dict[str, str] | None = None,
        taints: tuple[dict[str, str], ...] = (),
        boot_delay: float | None = None,
        workloads: Workloads | str = Workloads.COMPLETE,
    ) -> SimulatedNode:
        """Boot a kubelet stand-in for an instance; it registers as ``private_dns_name``.

        ``boot_delay`` (simulated seconds, scaled by ``time_scale``) overrides the fleet's
        ``Timing.node_boot_delay`` for this node. ``workloads`` says how its run-to-completion
        pods end (``Workloads``: complete, fail, hang)."""
        spec = NodeSpec(
            instance_id=instance_id,
            private_dns_name=private_dns_name,
            az=az,
            instance_type=instance_type,
            windows_build=windows_build,
            labels=dict(labels or {}),
            taints=taints,
            workloads=Workloads(workloads),
        )
        node = SimulatedNode(
            spec,
            endpoint=self._endpoint(),
            ca_file=self._ca_file(),
            token_provider=token_provider,
            timing=self.timing
            if boot_delay is None
            else dataclasses.replace(self.timing, node_boot_delay=boot_delay),
        )
        with self._lock:
            if instance_id in self._nodes:
                raise ValueError(f"instance {instance_id} already has a kubelet")
            self._nodes[instance_id] = node
            # Started again (a stopped instance restarted): its Node is not lost any more.
            monitor = self._monitors.pop(instance_id, None)
        if monitor is not None:
            monitor.cancel()
        return node.start()

    def stop(self, instance_id: str, *, delete_node: bool = False) -> SimulatedNode | None:
        """The instance is gone: stop its kubelet (and delete its Node, as a cloud controller
        manager would, when ``delete_node``). A Node that stays turns NotReady (Ready
        ``Unknown``) once the node monitor's grace period has passed. Returns the stopped
        kubelet, None when the instance had none."""
        with self._lock:
            node = self._nodes.pop(instance_id, None)
        if node is None:
            return None
        node.stop()
        if delete_node:
            self._delete_node(node.name)
        elif self._node_lost is not None:
            self._monitor(node)
        return node

    def _monitor(self, node: SimulatedNode) -> None:
        """kube-controller-manager's node lifecycle controller (disabled in the local control
        plane) marks a Node whose kubelet stopped posting status: all its conditions Unknown
        after --node-monitor-grace-period. Counted here from the moment the kubelet stopped."""
        instance_id = node.spec.instance_id
        timer = threading.Timer(
            self.timing.scaled(self.timing.node_monitor_grace_period),
            self._lost,
            args=(node.name, instance_id),
        )
        timer.daemon = True
        timer.name = f"node-monitor-{instance_id}"
        with self._lock:
            self._monitors[instance_id] = timer
        timer.start()

    def _lost(self, node_name: str, instance_id: str) -> None:
        with self._lock:
            self._monitors.pop(instance_id, None)
        assert self._node_lost is not None
        try:
            self._node_lost(node_name, instance_id)
        except Exception:  # the control plane may be stopping: log, as a controller would
            log.exception("node monitor: marking %s (%s) Unknown failed", node_name, instance_id)

    def get(self, instance_id: str) -> SimulatedNode | None:
        with self._lock:
            return self._nodes.get(instance_id)

    def __iter__(self) -> Iterator[SimulatedNode]:
        with self._lock:
            return iter(list(self._nodes.values()))

    def stop_all(self) -> None:
        with self._lock:
            nodes = list(self._nodes.values())
            self._nodes.clear()
            monitors = list(self._monitors.values())
            self._monitors.clear()
        for timer in monitors:
            timer.cancel()
        for node in nodes:
            node._stop.set()
        for node in nodes:
            node.stop()


def _pod_ip(uid: str) -> str:
    digest = hashlib.sha256(uid.encode()).digest()
    return f"10.1.{digest[0]}.{digest[1] or 1}"


def _rfc3339(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
