"""The demo: the product's main job on the local cloud, narrated while it happens.

`python -m localcloud demo` deploys the product onto the local cloud (`localcloud.deployment`: a
real kube-apiserver, moto-based AWS with Auto Scaling lifecycle hooks, the handlers loaded from
functions/*/app.py), routes lifecycle events to the lifecycle handler and a `rate(1 minute)`
schedule to the reconciler as template.yaml does, and then acts only as an operator would:
it creates a managed Windows node group, scales it out, runs a replicated workload under a
PodDisruptionBudget, scales in by one. Everything in between is the handlers' work. The
narration is read from AWS and Kubernetes while it happens (plus what the handlers return and
the metrics they emit); nothing in this module tags, authorizes, drains or completes anything.
"""

from __future__ import annotations

import base64
import contextlib
import io
import json
import logging
import math
import os
import queue
import sys
import threading
import time
import traceback
import warnings
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

if TYPE_CHECKING:
    from mypy_boto3_eks.literals import AuthenticationModeType

    from localcloud.deployment import Product

LIFECYCLE_PATTERN = {
    "source": ["aws.autoscaling"],
    "detail-type": [
        "EC2 Instance-launch Lifecycle Action",
        "EC2 Instance-terminate Lifecycle Action",
    ],
}
RECONCILE_SCHEDULE = "rate(1 minute)"  # template.yaml's ReconcileSchedule default
NODE_ROLE = "demo-windows-node"
NAMESPACE = "demo"
APP = "iis"
IMAGE = "mcr.microsoft.com/windows/servercore/iis:windowsservercore-ltsc2022"
POLL_SECONDS = 0.25
# An invocation waits at most its wait budget (JOIN_WAIT_BUDGET_SECONDS=30 in the deployment).
QUIESCE_SECONDS = 60
# The kubelet stand-ins count simulated seconds a hundred times faster (Timing.fast()).
KUBE_TIME_SCALE = 0.01
# Past the terminate hook: the action was completed and the instance is on its way out.
RELEASED = (None, "Terminating:Proceed", "Terminated")
# Metrics the handlers emit (EMF on stdout) that the narration reports.
REPORTED_METRICS = (
    "NodeJoined",
    "JoinAbandoned",
    "AccessEntryCreated",
    "AwsAuthUpdated",
    "PodsEvicted",
    "EvictionsBlockedByPDB",
    "DrainTimedOut",
)


class NodeAuth(StrEnum):
    """How the cluster authorizes the node role: an access entry, or the aws-auth ConfigMap."""

    ACCESS_ENTRY = "access-entry"
    AWS_AUTH = "aws-auth"

    @property
    def authentication_mode(self) -> AuthenticationModeType:
        return "API_AND_CONFIG_MAP" if self is NodeAuth.ACCESS_ENTRY else "CONFIG_MAP"


@dataclass(frozen=True)
class DemoOptions:
    nodes: int = 3
    replicas: int = 6
    auth: NodeAuth = NodeAuth.ACCESS_ENTRY
    boot_seconds: float = 3.0
    join_timeout: float = 120.0
    workload_timeout: float = 60.0
    drain_timeout: float = 120.0
    handler_log: Path | None = None
    report: Path | None = None

    def problems(self) -> list[str]:
        found = []
        if not 2 <= self.nodes <= 10:
            found.append("--nodes must be between 2 and 10 (one leaves, the group's max is 10)")
        if self.replicas < 2:
            found.append("--replicas must be at least 2 (the budget allows one disruption)")
        if not (math.isfinite(self.boot_seconds) and self.boot_seconds >= 0):
            found.append("--boot-seconds must be a number, not negative")
        for name in ("join_timeout", "workload_timeout", "drain_timeout"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value > 0):
                found.append(f"--{name.replace('_', '-')} must be a positive number")
        # Checked before the run, not when a converged demo comes to write them; the demo
        # makes a missing directory, so the nearest one that exists must take it.
        for option, path in (("--handler-log", self.handler_log), ("--report", self.report)):
            if path is not None and (path.is_dir() or not _may_create(path)):
                found.append(f"{option}: cannot write {path}")
        return found


def _may_create(path: Path) -> bool:
    """Whether `path` can be written, its missing directories made on the way."""
    existing = path.parent
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    return existing.is_dir() and os.access(existing, os.W_OK | os.X_OK)


class DemoFailedError(Exception):
    """A stage did not converge in time, or a handler failed."""

    def __init__(self, stage: str, message: str, details: list[str] | None = None) -> None:
        super().__init__(f"{stage}: {message}")
        self.stage = stage
        self.message = message
        self.details = details or []


# -- narration ------------------------------------------------------------------------------


class Narrator:
    """Lines with the seconds since the demo started, flushed at once (it is watched live)."""

    def __init__(self, out: TextIO) -> None:
        self.out = out
        self.started = time.monotonic()

    def elapsed(self, at: float | None = None) -> float:
        return (time.monotonic() if at is None else at) - self.started

    def say(self, text: str, *, at: float | None = None) -> None:
        self.write(f"[{self.elapsed(at):6.1f}s] {text}")

    def heading(self, text: str) -> None:
        self.write(f"\n== {text}")

    def write(self, text: str = "") -> None:
        self.out.write(text + "\n")
        self.out.flush()


class HandlerOutput(io.TextIOBase):
    """The handlers' stdout while the demo runs, as CloudWatch Logs would receive it: every line
    goes to the log file; the metrics (EMF records) are added up; warnings and errors the
    handlers log become notes for the narration."""

    def __init__(self, path: Path, notes: queue.Queue[str]) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._file = path.open("w", encoding="utf-8")
        self._notes = notes
        self._lock = threading.Lock()
        self._pending = threading.local()
        self.metrics: Counter[str] = Counter()

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        # print() writes the text and the newline separately; handlers run on several threads.
        buffered = getattr(self._pending, "text", "") + text
        *lines, self._pending.text = buffered.split("\n")
        for line in lines:
            self._line(line)
        return len(text)

    def flush(self) -> None:
        with self._lock:
            if not self._file.closed:
                self._file.flush()

    def close(self) -> None:
        with self._lock:
            self._file.close()

    def _line(self, line: str) -> None:
        with self._lock:
            if self._file.closed:  # an invocation outlived the demo; its cloud is gone too
                return
            self._file.write(line + "\n")
            try:
                record = json.loads(line)
            except ValueError:
                return
            if not isinstance(record, dict):
                return
            if "_aws" in record:
                for name in REPORTED_METRICS:
                    value = record.get(name)
                    if isinstance(value, list):
                        value = sum(value)
                    if isinstance(value, int | float):
                        self.metrics[name] += int(value)
                return
        if record.get("level") in ("WARNING", "ERROR", "CRITICAL"):
            where = record.get("instance_id") or record.get("asg") or ""
            self._notes.put(f"{where}  λ {record['level'].lower()}: {record['message']}")


class Invocations:
    """The lifecycle and reconcile handlers as EventBridge targets: each delivery is handed to
    the real handler; what it was given and what it returned become notes."""

    def __init__(self, notes: queue.Queue[str]) -> None:
        self._notes = notes
        self._lock = threading.Lock()
        self._in_flight = 0
        self.results: list[dict[str, Any]] = []
        self.errors: list[str] = []

    def target(
        self, name: str, handler: Callable[[dict[str, Any], Any], dict[str, Any]]
    ) -> Callable[[dict[str, Any], Any], dict[str, Any]]:
        def invoke(event: dict[str, Any], context: Any) -> dict[str, Any]:
            detail = event.get("detail") or {}
            who = detail.get("EC2InstanceId", "")
            self._note(f"{who}  λ EventBridge → {name}: {event.get('detail-type')}")
            with self._lock:
                self._in_flight += 1
            try:
                result = handler(event, context)
            except Exception as error:
                with self._lock:
                    self.errors.append(f"{name}: {error!r}")
                self._note(f"{who}  λ {name} raised {error!r} (EventBridge retries)")
                raise
            finally:
                with self._lock:
                    self._in_flight -= 1
            with self._lock:
                self.results.append(result)
            self._note(f"{who}  λ {name} returned {_outcome(result)}")
            return result

        return invoke

    def idle(self) -> bool:
        with self._lock:
            return self._in_flight == 0

    def _note(self, text: str) -> None:
        self._notes.put(text)


def _outcome(result: dict[str, Any]) -> str:
    if "step" in result:
        text = f"{result.get('status')}: {result['step']}"
        if result.get("remaining"):
            text += f" ({result['remaining']} pods left, {result.get('blocked_by_pdb', 0)} held"
            text += " by the budget)"
        return text
    if "groups" in result:  # the reconciler's report
        return (
            f"{result['groups']} groups, {result['launch_actions']} launch and "
            f"{result['terminate_actions']} terminate actions driven"
        )
    return json.dumps(result, sort_keys=True)


@contextlib.contextmanager
def handler_output(path: Path, notes: queue.Queue[str]) -> Iterator[HandlerOutput]:
    """Send what the handlers print (Powertools logs and EMF metrics) to `path` meanwhile."""
    from winnodes.observability import logger

    tap = HandlerOutput(path, notes)
    handler = logger.registered_handler
    stream_handler = handler if isinstance(handler, logging.StreamHandler) else None
    previous_stream = stream_handler.setStream(tap) if stream_handler is not None else None
    saved_stdout = sys.stdout
    sys.stdout = tap
    try:
        with warnings.catch_warnings():
            # An invocation that only waited emits no metric; Powertools warns about that.
            warnings.filterwarnings("ignore", message="No application metrics to publish")
            yield tap
    finally:
        sys.stdout = saved_stdout
        if stream_handler is not None and previous_stream is not None:
            stream_handler.setStream(previous_stream)
        tap.close()


# -- what is observed -----------------------------------------------------------------------


@dataclass
class InstanceStory:
    """One instance of the group, as seen from outside: when each thing first became true."""

    instance_id: str
    az: str = ""
    launched: float = 0.0
    held: float | None = None
    tagged: float | None = None
    node: str | None = None
    registered: float | None = None
    ready: float | None = None
    continued: float | None = None
    abandoned: float | None = None
    in_service: float | None = None
    terminating: float | None = None
    cordoned: float | None = None
    evicted: list[str] = field(default_factory=list)
    node_deleted: float | None = None
    released: float | None = None
    terminated: float | None = None
    state: str | None = None

    @property
    def join_seconds(self) -> float | None:
        return None if self.in_service is None else self.in_service - self.launched

    @property
    def ready_seconds(self) -> float | None:
        return None if self.ready is None else self.ready - self.launched

    @property
    def outcome(self) -> str:
        if self.abandoned is not None:
            return "launch ABANDONed"
        if self.in_service is None:
            return f"not joined ({self.state or 'gone'})"
        if self.terminating is None:
            return "joined, InService"
        parts = ["joined", f"drained ({len(self.evicted)} pods evicted)"]
        if self.node_deleted is not None:
            parts.append("Node deleted")
        if self.released is not None:
            parts.append("CONTINUE")
        if self.terminated is not None:
            parts.append("terminated")
        return ", ".join(parts)

    def status(self) -> str:
        """Where it stands, for a failure message."""
        facts = [self.state or "not in the group"]
        facts.append("tagged" if self.tagged else "not tagged")
        if self.node is None:
            facts.append("no Node registered")
        else:
            facts.append(f"Node {self.node} {'Ready' if self.ready else 'not Ready'}")
        if self.terminating is not None:
            facts.append(f"{len(self.evicted)} pods evicted")
            facts.append("Node deleted" if self.node_deleted else "Node still there")
        return ", ".join(facts)


@dataclass(frozen=True)
class PodView:
    node: str | None
    ready: bool
    deleting: bool


@dataclass(frozen=True)
class BudgetView:
    allowed: int
    healthy: int
    desired: int


class Observer:
    """Reads the group, its instances, the node role's authorization, the Nodes and the workload
    every poll, and narrates what changed since the last one."""

    def __init__(
        self, product: Product, narrator: Narrator, notes: queue.Queue[str], auth: NodeAuth
    ) -> None:
        self.product = product
        self.narrator = narrator
        self.notes = notes
        self.auth = auth
        self.cluster = product.aws.cluster_name
        self.cluster_tag = f"kubernetes.io/cluster/{self.cluster}"
        self.autoscaling = product.client("autoscaling")
        self.ec2 = product.client("ec2")
        self.eks = product.client("eks")
        self.core = product.kube.core_v1()
        self.group = ""
        self.role_arn = ""
        self.stories: dict[str, InstanceStory] = {}
        self.authorized: float | None = None
        self.ipam_enabled: float | None = None
        self.watch_workload = False
        self.leaving: str | None = None
        self.pods: dict[str, PodView] = {}
        self.budget: BudgetView | None = None
        self.min_ready_while_draining: int | None = None
        self.replicas = 0
        self.last_error: str | None = None

    # -- polling --------------------------------------------------------------------------

    def poll(self) -> None:
        """What changed since the last poll, then what the handlers did meanwhile, stamped with
        the poll's time: a handler's return is printed after the change it caused."""
        now = time.monotonic()
        lines: list[str] = []
        self._observe(lines.append)
        while True:
            try:
                lines.append(self.notes.get_nowait())
            except queue.Empty:
                break
        for text in lines:
            self.narrator.say(text, at=now)

    def wait(
        self,
        done: Callable[[], bool],
        *,
        timeout: float,
        stage: str,
        wanted: str,
        flag: str,
        failed: Callable[[], str | None] | None = None,
    ) -> None:
        """Poll and narrate until `done()`; a DemoFailedError after `timeout` seconds, or at
        once when `failed()` names a reason."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                self.poll()
            except Exception as error:  # noqa: BLE001 - a failed look is retried until the deadline
                self.last_error = repr(error)
            else:
                self.last_error = None
                if done():
                    return
            reason = failed() if failed else None
            if reason:
                raise DemoFailedError(stage, reason, self.diagnosis())
            if time.monotonic() >= deadline:
                raise DemoFailedError(
                    stage,
                    f"not converged within {timeout:g} s ({flag}); wanted: {wanted}",
                    self.diagnosis(),
                )
            time.sleep(POLL_SECONDS)

    def diagnosis(self) -> list[str]:
        boot = self.product.aws.boot
        lines = []
        for story in self.stories.values():
            line = f"{story.instance_id}: {story.status()}"
            outcome = boot.outcomes.get(story.instance_id) if boot is not None else None
            if outcome is not None and story.registered is None:
                line += f"; boot: {outcome.reason}"
            lines.append(line)
        if self.role_arn and self.authorized is None:
            lines.append(f"node role {self.role_arn} is not authorized in the cluster")
        if self.watch_workload:
            ready = self.ready_replicas()
            lines.append(f"workload {NAMESPACE}/{APP}: {ready} Ready replicas")
        if self.last_error:
            lines.append(f"the last look at the cloud failed: {self.last_error}")
        return lines

    # -- reading ---------------------------------------------------------------------------

    def group_states(self) -> dict[str, tuple[str, str]]:
        found = self.autoscaling.describe_auto_scaling_groups(AutoScalingGroupNames=[self.group])
        members = found["AutoScalingGroups"][0]["Instances"] if found["AutoScalingGroups"] else []
        return {m["InstanceId"]: (m["LifecycleState"], m["AvailabilityZone"]) for m in members}

    def instances(self, ids: list[str]) -> dict[str, tuple[str, dict[str, str]]]:
        if not ids:
            return {}
        found = self.ec2.describe_instances(InstanceIds=ids)
        return {
            i["InstanceId"]: (i["State"]["Name"], {t["Key"]: t["Value"] for t in i.get("Tags", [])})
            for r in found["Reservations"]
            for i in r["Instances"]
        }

    def windows_nodes(self) -> dict[str, tuple[str, bool, bool]]:
        """instance id -> (Node name, Ready, cordoned), for Windows Nodes with a providerID."""
        from localcloud.kube.clients import raw_json

        nodes = {}
        for node in raw_json(self.core.list_node)["items"]:
            labels = node["metadata"].get("labels") or {}
            provider = (node.get("spec") or {}).get("providerID") or ""
            if labels.get("kubernetes.io/os") != "windows" or not provider:
                continue
            conditions = {
                c["type"]: c["status"] for c in (node.get("status") or {}).get("conditions") or []
            }
            nodes[provider.rsplit("/", 1)[-1]] = (
                node["metadata"]["name"],
                conditions.get("Ready") == "True",
                bool(node["spec"].get("unschedulable")),
            )
        return nodes

    def role_authorized(self) -> str | None:
        """How the node role is authorized (for the narration), or None."""
        if self.auth is NodeAuth.ACCESS_ENTRY:
            entries = self.eks.list_access_entries(clusterName=self.cluster)["accessEntries"]
            if self.role_arn not in entries:
                return None
            entry = self.eks.describe_access_entry(
                clusterName=self.cluster, principalArn=self.role_arn
            )["accessEntry"]
            return f"access entry {entry['type']} (user {entry.get('username')})"
        import yaml

        from localcloud.kube.clients import ApiException, raw_json

        try:
            config_map = raw_json(self.core.read_namespaced_config_map, "aws-auth", "kube-system")
        except ApiException:
            return None
        roles = yaml.safe_load((config_map.get("data") or {}).get("mapRoles") or "") or []
        for role in roles:
            if isinstance(role, dict) and role.get("rolearn") == self.role_arn:
                groups = ", ".join(role.get("groups") or [])
                return (
                    f"aws-auth mapRoles entry (groups {groups}; {len(roles) - 1} other roles kept)"
                )
        return None

    def windows_ipam(self) -> bool:
        from localcloud.kube.clients import ApiException, raw_json

        try:
            config_map = raw_json(
                self.core.read_namespaced_config_map, "amazon-vpc-cni", "kube-system"
            )
        except ApiException:
            return False
        return (config_map.get("data") or {}).get("enable-windows-ipam") == "true"

    def workload_pods(self) -> dict[str, PodView]:
        from localcloud.kube.clients import raw_json

        pods = {}
        items = raw_json(self.core.list_namespaced_pod, NAMESPACE, label_selector=f"app={APP}")[
            "items"
        ]
        for pod in items:
            status = pod.get("status") or {}
            ready = status.get("phase") == "Running" and any(
                c["type"] == "Ready" and c["status"] == "True"
                for c in status.get("conditions") or []
            )
            deleting = bool(pod["metadata"].get("deletionTimestamp"))
            pods[pod["metadata"]["name"]] = PodView(
                pod["spec"].get("nodeName"), ready and not deleting, deleting
            )
        return pods

    def workload_budget(self) -> BudgetView | None:
        from kubernetes.client import CustomObjectsApi

        from localcloud.kube.clients import ApiException

        try:
            pdb = CustomObjectsApi(self.core.api_client).get_namespaced_custom_object(
                "policy", "v1beta1", NAMESPACE, "poddisruptionbudgets", APP
            )
        except ApiException:
            return None
        status = pdb.get("status") or {}
        if status.get("observedGeneration") != pdb["metadata"]["generation"]:
            return None
        return BudgetView(
            allowed=int(status.get("disruptionsAllowed", 0)),
            healthy=int(status.get("currentHealthy", 0)),
            desired=int(status.get("desiredHealthy", 0)),
        )

    def ready_replicas(self) -> int:
        return sum(1 for p in self.pods.values() if p.ready)

    # -- narrating --------------------------------------------------------------------------

    def _observe(self, say: Callable[[str], None]) -> None:
        if not self.group:
            return
        now = time.monotonic()
        # Each source is read before the one whose changes precede its own (EC2 tags and
        # termination follow lifecycle states, which follow Node changes): whatever this poll
        # sees happen, it also sees what happened before it, so the story keeps its order.
        ec2 = self.instances(list(self.stories))
        members = self.group_states()
        nodes = self.windows_nodes()
        for instance_id in members:
            if instance_id not in self.stories:
                first_state, az = members[instance_id]
                self.stories[instance_id] = InstanceStory(instance_id, az=az, launched=now)
                if first_state != "Pending:Wait":
                    say(f"{instance_id}  launched in {az} ({first_state})")
        if self.authorized is None and self.role_arn:
            how = self.role_authorized()
            if how is not None:
                self.authorized = now
                say(f"node role {self.role_arn.rsplit('/', 1)[-1]} authorized: {how}")
        if self.ipam_enabled is None and self.stories and self.windows_ipam():
            self.ipam_enabled = now
            say("Windows IPAM on: kube-system/amazon-vpc-cni enable-windows-ipam=true")
        for story in self.stories.values():
            iid = story.instance_id
            member = members.get(iid)
            state = member[0] if member else None
            story.state = state
            if state == "Pending:Wait" and story.held is None:
                story.held = now
                where = f"launched in {story.az}, " if story.launched == now else ""
                say(
                    f"{iid}  {where}held in Pending:Wait by the launch hook until its Node is Ready"
                )
            ec2_state, tags = ec2.get(iid, ("", {}))
            if story.tagged is None and tags.get(self.cluster_tag) == "owned":
                story.tagged = now
                say(f"{iid}  tagged {self.cluster_tag}=owned")
            node = nodes.get(iid)
            if node is not None and story.registered is None:
                story.node, story.registered = node[0], now
                say(f"{iid}  Node {node[0]} registered")
            if node is not None and node[1] and story.ready is None:
                story.ready = now
                say(f"{iid}  Node {node[0]} Ready")
            if story.held is not None and story.continued is None and story.abandoned is None:
                if state in ("Pending:Proceed", "InService"):
                    story.continued = now
                    say(f"{iid}  launch action completed: CONTINUE")
                elif state is None or state.startswith("Terminat"):
                    story.abandoned = now
                    say(f"{iid}  launch action completed: ABANDON ({state or 'gone'})")
            if state == "InService" and story.in_service is None:
                story.in_service = now
                say(f"{iid}  InService: joined in {now - story.launched:.1f} s")
            if state == "Terminating:Wait" and story.terminating is None:
                story.terminating = now
                self.leaving = self.leaving or iid
                say(f"{iid}  Terminating:Wait: the terminate hook holds it for the drain")
            if story.terminating is not None:
                self._narrate_leave(
                    story, node=node, state=state, ec2_state=ec2_state, now=now, say=say
                )
        if self.watch_workload:
            self._narrate_workload(now, say)

    def _narrate_leave(
        self,
        story: InstanceStory,
        *,
        node: tuple[str, bool, bool] | None,
        state: str | None,
        ec2_state: str,
        now: float,
        say: Callable[[str], None],
    ) -> None:
        iid = story.instance_id
        if node is not None and node[2] and story.cordoned is None:
            story.cordoned = now
            say(f"{iid}  Node {node[0]} cordoned (unschedulable)")
        if story.registered is not None and node is None and story.node_deleted is None:
            story.node_deleted = now
            say(f"{iid}  Node {story.node} deleted")
        if story.released is None and state in RELEASED:
            story.released = now
            say(f"{iid}  terminate action completed: CONTINUE ({state or 'left the group'})")
        if ec2_state == "terminated" and story.terminated is None:
            story.terminated = now
            seconds = now - (story.terminating or now)
            say(f"{iid}  instance terminated (EC2), {seconds:.1f} s after scale-in")

    def _narrate_workload(self, now: float, say: Callable[[str], None]) -> None:
        before = self.pods
        self.pods = self.workload_pods()
        budget = self.workload_budget()
        total = self.replicas
        ready = self.ready_replicas()
        leaving = self.stories.get(self.leaving) if self.leaving else None
        if leaving is None:
            self.budget = budget or self.budget
            return
        if self.min_ready_while_draining is None or ready < self.min_ready_while_draining:
            self.min_ready_while_draining = ready
        for name, was in sorted(before.items()):
            current = self.pods.get(name)
            gone = current is None or current.deleting
            if was.node == leaving.node and not was.deleting and gone:
                # Deleting, or already gone if its grace period ended between two polls.
                leaving.evicted.append(name)
                say(f"pod {name} evicted from {was.node}: {ready} of {total} Ready")
        for name, pod in sorted(self.pods.items()):
            old = before.get(name)
            if pod.ready and (old is None or not old.ready) and pod.node != leaving.node:
                say(f"pod {name} Ready on {pod.node}: {ready} of {total} Ready")
        if budget is not None and budget != self.budget:
            waiting = [
                n
                for n, p in self.pods.items()
                if p.node == leaving.node and not p.deleting and n not in leaving.evicted
            ]
            text = (
                f"PDB {APP}: {budget.healthy} healthy, {budget.desired} required, "
                f"{budget.allowed} disruption{'s' if budget.allowed != 1 else ''} allowed"
            )
            if budget.allowed == 0 and waiting:
                text += f": {', '.join(sorted(waiting))} waits on the leaving node"
            say(text)
            self.budget = budget


# -- stages ---------------------------------------------------------------------------------


@dataclass
class DemoRun:
    """What the stages share, and what the report is made of."""

    options: DemoOptions
    product: Product
    narrator: Narrator
    observer: Observer
    invocations: Invocations
    output: HandlerOutput
    group: str = ""
    stage: str = "deploy"
    metrics_by_stage: dict[str, dict[str, int]] = field(default_factory=dict)

    def metrics_since(self, before: Counter[str]) -> dict[str, int]:
        return {k: v for k, v in (self.output.metrics - before).items() if v}


def deploy_functions(run: DemoRun) -> None:
    product, say = run.product, run.narrator.say
    bus = product.aws.events
    assert bus is not None
    bus.put_rule("lifecycle", event_pattern=LIFECYCLE_PATTERN)
    bus.put_target(
        "lifecycle",
        run.invocations.target("LifecycleFunction", product.lifecycle),
        target_id="LifecycleFunction",
    )
    bus.put_rule("converge", schedule_expression=RECONCILE_SCHEDULE)
    bus.put_target(
        "converge",
        run.invocations.target("ReconcileFunction", product.reconcile),
        target_id="ReconcileFunction",
    )
    cluster = product.client("eks").describe_cluster(name=product.aws.cluster_name)["cluster"]
    vpc = cluster["resourcesVpcConfig"]
    access = "private only" if not vpc.get("endpointPublicAccess") else "public and private"
    say(
        f"cluster {cluster['name']}: Kubernetes {cluster['version']} on EKS "
        f"(kube-apiserver v1.20.2 serves it), endpoint {access}, "
        f"authentication mode {cluster['accessConfig']['authenticationMode']}"
    )
    say(
        "functions deployed: LifecycleFunction ← EventBridge rule "
        "'EC2 Instance-launch/-terminate Lifecycle Action'; "
        f"ReconcileFunction ← schedule {RECONCILE_SCHEDULE}"
    )


def create_group(run: DemoRun) -> str:
    product, narrator = run.product, run.narrator
    role_arn, profile_arn = product.aws.create_node_role(NODE_ROLE)
    run.observer.role_arn = role_arn
    # A real Windows instance takes minutes from launch to a running kubelet; here seconds.
    fleet = product.kube.nodes
    fleet.timing = _with_boot_delay(fleet.timing, run.options.boot_seconds / KUBE_TIME_SCALE)
    group = product.make_group(desired=0, profile_arn=profile_arn)
    run.group = run.observer.group = group
    ec2, autoscaling = product.client("ec2"), product.client("autoscaling")
    version = ec2.describe_launch_template_versions(LaunchTemplateName=group, Versions=["1"])[
        "LaunchTemplateVersions"
    ][0]
    data = version["LaunchTemplateData"]
    image = ec2.describe_images(ImageIds=[data["ImageId"]])["Images"][0]
    hooks = autoscaling.describe_lifecycle_hooks(AutoScalingGroupName=group)["LifecycleHooks"]
    narrator.say(f"managed Windows node group {group} created (desired 0)")
    narrator.write(f"  launch template {group} v1:")
    narrator.write(
        f"    image          {data['ImageId']} {image['Name']} (owner {image['OwnerId']})"
    )
    narrator.write(f"    instance type  {data['InstanceType']}")
    narrator.write(f"    node role      {role_arn}")
    for hook in sorted(hooks, key=lambda h: h["LifecycleTransition"]):
        narrator.write(
            f"    hook {hook['LifecycleHookName']:<9} {hook['LifecycleTransition']}, heartbeat "
            f"{hook['HeartbeatTimeout']} s, default {hook['DefaultResult']}"
        )
    narrator.write(
        "  tags: eks-windows-nodes/managed=true, "
        f"kubernetes.io/cluster/{product.aws.cluster_name}=owned"
    )
    narrator.write("  user data (rendered by winnodes, head):")
    script = base64.b64decode(data["UserData"]).decode()
    for line in script.splitlines()[:9]:
        narrator.write("    " + _shorten(line, 96))
    return group


def scale_out(run: DemoRun) -> None:
    options, observer = run.options, run.observer
    run.narrator.heading(f"scale out: desired capacity 0 → {options.nodes}")
    before = Counter(run.output.metrics)
    run.product.client("autoscaling").set_desired_capacity(
        AutoScalingGroupName=run.group, DesiredCapacity=options.nodes
    )

    def joined() -> bool:
        done = [
            s
            for s in observer.stories.values()
            if s.state == "InService" and s.ready is not None and s.tagged is not None
        ]
        return len(done) == options.nodes and run.invocations.idle()

    observer.wait(
        joined,
        timeout=options.join_timeout,
        stage="scale-out",
        wanted=f"{options.nodes} instances InService, tagged, each with a Ready Windows Node",
        flag="--join-timeout",
        failed=lambda: _abandoned(observer) or _handler_failed(run),
    )
    run.metrics_by_stage["scale-out"] = run.metrics_since(before)
    run.narrator.say(
        f"{options.nodes} of {options.nodes} instances InService with Ready Windows Nodes; "
        f"handler metrics: {_metrics_text(run.metrics_by_stage['scale-out'])}"
    )


def run_workload(run: DemoRun) -> None:
    from kubernetes.client import AppsV1Api, CustomObjectsApi

    from localcloud.kube.clients import ApiException, raw_json

    options, observer, kube = run.options, run.observer, run.product.kube
    run.narrator.heading(
        f"workload: Deployment {NAMESPACE}/{APP}, {options.replicas} replicas on the Windows "
        f"nodes, PodDisruptionBudget minAvailable {options.replicas - 1}"
    )
    core = kube.core_v1()
    raw_json(core.create_namespace, {"metadata": {"name": NAMESPACE}})

    def account_ready() -> bool:
        # The controller manager creates the account (then its token) shortly after the namespace.
        try:
            account = raw_json(core.read_namespaced_service_account, "default", NAMESPACE)
        except ApiException as error:
            if error.status == 404:
                return False
            raise
        return bool(account.get("secrets"))

    observer.wait(
        account_ready,
        timeout=options.workload_timeout,
        stage="workload",
        wanted=f"the service account {NAMESPACE}/default",
        flag="--workload-timeout",
    )
    raw_json(
        AppsV1Api(kube.api_client()).create_namespaced_deployment,
        NAMESPACE,
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": APP},
            "spec": {
                "replicas": options.replicas,
                "selector": {"matchLabels": {"app": APP}},
                "template": {
                    "metadata": {"labels": {"app": APP}},
                    "spec": {
                        "nodeSelector": {"kubernetes.io/os": "windows"},
                        "terminationGracePeriodSeconds": 30,
                        "containers": [{"name": APP, "image": IMAGE}],
                    },
                },
            },
        },
    )
    # Kubernetes 1.20 serves PodDisruptionBudgets only as policy/v1beta1.
    CustomObjectsApi(kube.api_client()).create_namespaced_custom_object(
        "policy",
        "v1beta1",
        NAMESPACE,
        "poddisruptionbudgets",
        {
            "apiVersion": "policy/v1beta1",
            "kind": "PodDisruptionBudget",
            "metadata": {"name": APP},
            "spec": {
                "minAvailable": options.replicas - 1,
                "selector": {"matchLabels": {"app": APP}},
            },
        },
    )
    observer.watch_workload = True
    observer.replicas = options.replicas

    def running() -> bool:
        budget = observer.budget
        return (
            observer.ready_replicas() == options.replicas
            and budget is not None
            and budget.allowed == 1
        )

    observer.wait(
        running,
        timeout=options.workload_timeout,
        stage="workload",
        wanted=f"{options.replicas} Ready replicas and a budget allowing 1 disruption",
        flag="--workload-timeout",
    )
    by_node = Counter(p.node for p in observer.pods.values() if p.ready)
    spread = ", ".join(f"{node} {count}" for node, count in sorted(by_node.items()))
    run.narrator.say(
        f"{options.replicas}/{options.replicas} Ready ({spread}); PDB {APP} allows 1 disruption"
    )


def scale_in(run: DemoRun) -> InstanceStory:
    options, observer = run.options, run.observer
    run.narrator.heading(f"scale in: desired capacity {options.nodes} → {options.nodes - 1}")
    before = Counter(run.output.metrics)
    run.product.client("autoscaling").set_desired_capacity(
        AutoScalingGroupName=run.group, DesiredCapacity=options.nodes - 1
    )

    def drained() -> bool:
        leaving = observer.stories.get(observer.leaving or "")
        if leaving is None:
            return False
        in_service = [s for s in observer.stories.values() if s.state == "InService"]
        return (
            leaving.node_deleted is not None
            and leaving.released is not None
            and leaving.terminated is not None
            and len(in_service) == options.nodes - 1
            and observer.ready_replicas() == options.replicas
            and run.invocations.idle()
        )

    observer.wait(
        drained,
        timeout=options.drain_timeout,
        stage="scale-in",
        wanted=(
            f"one instance drained, its Node deleted, its action completed and the instance "
            f"terminated; {options.nodes - 1} InService; {options.replicas} Ready replicas"
        ),
        flag="--drain-timeout",
        failed=lambda: _handler_failed(run),
    )
    leaving = observer.stories[observer.leaving or ""]
    run.metrics_by_stage["scale-in"] = run.metrics_since(before)
    lowest = observer.min_ready_while_draining
    run.narrator.say(
        f"drained {leaving.node}: {len(leaving.evicted)} pods evicted; the budget held "
        f"(at least {lowest} of {options.replicas} Ready at every look, minimum "
        f"{options.replicas - 1}); handler metrics: "
        f"{_metrics_text(run.metrics_by_stage['scale-in'])}"
    )
    if lowest is not None and lowest < options.replicas - 1:
        raise DemoFailedError(
            "scale-in", f"the budget was broken: only {lowest} replicas were Ready"
        )
    return leaving


@dataclass(frozen=True)
class FinalState:
    in_service: list[str]
    ready_windows_nodes: list[str]
    ready_replicas: int


def final_state(run: DemoRun) -> FinalState:
    """Read afresh from AWS and Kubernetes, not from the narration's memory."""
    observer = run.observer
    members = observer.group_states()
    in_service = sorted(i for i, (state, _) in members.items() if state == "InService")
    ready_nodes = sorted(name for name, ready, _ in observer.windows_nodes().values() if ready)
    observer.pods = observer.workload_pods()
    return FinalState(in_service, ready_nodes, observer.ready_replicas())


def summary(run: DemoRun, final: FinalState) -> None:
    narrator = run.narrator
    narrator.heading("summary")
    header = f"{'instance':<21} {'zone':<11} {'node':<27} {'Ready s':>7} {'join s':>6}  outcome"
    narrator.write(header)
    narrator.write("-" * len(header))
    for story in sorted(run.observer.stories.values(), key=lambda s: s.launched):
        narrator.write(
            f"{story.instance_id:<21} {story.az:<11} {story.node or '-':<27} "
            f"{_seconds(story.ready_seconds):>7} {_seconds(story.join_seconds):>6}  "
            f"{story.outcome}"
        )
    narrator.write(
        "(seconds from launch: Node Ready, and join = InService, its launch action completed)"
    )
    narrator.write()
    narrator.write(
        f"group {run.group}: {len(final.in_service)} InService; cluster: "
        f"{len(final.ready_windows_nodes)} Ready Windows nodes; {NAMESPACE}/{APP}: "
        f"{final.ready_replicas}/{run.options.replicas} Ready"
    )
    narrator.write(
        f"handler invocations: {len(run.invocations.results)} returned, "
        f"{len(run.invocations.errors)} failed; handler logs and metrics: {run.output.path}"
    )


def write_report(run: DemoRun, final: FinalState, path: Path) -> None:
    report = {
        "cluster": run.product.aws.cluster_name,
        "group": run.group,
        "auth": run.options.auth.value,
        "instances": [
            {
                "instance_id": s.instance_id,
                "availability_zone": s.az,
                "node": s.node,
                "join_seconds": s.join_seconds,
                "ready_seconds": s.ready_seconds,
                "outcome": s.outcome,
                "joined": s.in_service is not None,
                "drained": s.terminating is not None and s.node_deleted is not None,
                "pods_evicted": len(s.evicted),
                "terminated": s.terminated is not None,
            }
            for s in sorted(run.observer.stories.values(), key=lambda s: s.launched)
        ],
        "final": {
            "in_service": final.in_service,
            "ready_windows_nodes": final.ready_windows_nodes,
            "ready_replicas": final.ready_replicas,
        },
        "budget_min_ready": run.observer.min_ready_while_draining,
        "handler_metrics": run.metrics_by_stage,
        "handler_errors": run.invocations.errors,
        "elapsed_seconds": round(run.narrator.elapsed(), 1),
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, indent=2) + "\n")


# -- entry point ----------------------------------------------------------------------------


def run_demo(
    options: DemoOptions,
    *,
    out: TextIO | None = None,
    on_converged: Callable[[Product, str], None] | None = None,
) -> int:
    """The demo; 0 when everything converged, 1 (with the reason on `out`) otherwise.
    `on_converged(product, group)` runs before the local cloud stops (tests read it there)."""
    out = out or sys.stdout
    narrator = Narrator(out)
    problems = options.problems()
    if problems:
        for problem in problems:
            narrator.write(f"demo: {problem}")
        return 2
    narrator.heading("eks-windows-nodes demo: join and leave of a Windows node group")
    narrator.say(
        "starting the local cloud: kube-apiserver v1.20.2 + etcd + kube-controller-manager, "
        "moto-based AWS, the functions deployed"
    )
    from localcloud.deployment import deploy

    notes: queue.Queue[str] = queue.Queue()  # what the handlers did, for the next poll
    log_path = options.handler_log or _default_handler_log()
    run: DemoRun | None = None
    try:
        with (
            deploy(authentication_mode=options.auth.authentication_mode) as product,
            handler_output(log_path, notes) as output,
        ):
            narrator.say("local cloud ready")
            run = DemoRun(
                options=options,
                product=product,
                narrator=narrator,
                observer=Observer(product, narrator, notes, options.auth),
                invocations=Invocations(notes),
                output=output,
            )
            try:
                _stages(run, on_converged)
            finally:
                _quiesce(run)
    except DemoFailedError as failure:
        narrator.write()
        narrator.write(f"demo FAILED during {failure.stage}: {failure.message}")
        for line in failure.details:
            narrator.write(f"  {line}")
        narrator.write(f"handler logs and metrics: {log_path}")
        return 1
    except KeyboardInterrupt:
        narrator.write("demo interrupted; the local cloud is stopped")
        return 130
    except Exception as error:  # noqa: BLE001 - reported with its stage, traceback on stderr
        narrator.write()
        stage = run.stage if run is not None else "start-up"
        narrator.write(f"demo FAILED during {stage}: {error!r} (traceback on stderr)")
        traceback.print_exc()
        return 1
    narrator.say("local cloud stopped; demo passed")
    return 0


def _stages(run: DemoRun, on_converged: Callable[[Product, str], None] | None) -> None:
    options = run.options
    run.narrator.heading("deploy")
    deploy_functions(run)
    create_group(run)
    run.stage = "scale-out"
    scale_out(run)
    run.stage = "workload"
    run_workload(run)
    run.stage = "scale-in"
    scale_in(run)
    run.stage = "the final check"
    final = final_state(run)
    expected = options.nodes - 1
    if len(final.in_service) != expected or len(final.ready_windows_nodes) != expected:
        raise DemoFailedError(
            "the final check",
            f"{len(final.in_service)} InService instances and "
            f"{len(final.ready_windows_nodes)} Ready Windows nodes, expected {expected} of each",
        )
    summary(run, final)
    if options.report is not None:
        write_report(run, final, options.report)
        run.narrator.write(f"report: {options.report}")
    if on_converged is not None:
        on_converged(run.product, run.group)


def _quiesce(run: DemoRun) -> None:
    """No handler may still be running when the local cloud stops under it."""
    bus = run.product.aws.events
    if bus is not None:
        bus.remove_rule("lifecycle")
        bus.remove_rule("converge")
    if run.invocations.idle():
        return
    run.narrator.say(
        f"waiting (at most {QUIESCE_SECONDS} s) for handler invocations still running to return"
    )
    deadline = time.monotonic() + QUIESCE_SECONDS
    while not run.invocations.idle() and time.monotonic() < deadline:
        time.sleep(0.1)


def _abandoned(observer: Observer) -> str | None:
    for story in observer.stories.values():
        if story.abandoned is not None:
            return f"{story.instance_id}'s launch action was ABANDONed"
    return None


def _handler_failed(run: DemoRun) -> str | None:
    if run.invocations.errors:
        return "a handler failed: " + "; ".join(run.invocations.errors)
    return None


def _default_handler_log() -> Path:
    from localcloud.kube.controlplane import cache_dir

    return cache_dir() / "demo" / "handlers.log"


def _with_boot_delay(timing: Any, simulated_seconds: float) -> Any:
    import dataclasses

    return dataclasses.replace(timing, node_boot_delay=simulated_seconds)


def _shorten(line: str, width: int) -> str:
    if len(line) <= width:
        return line
    return f"{line[:width]}… ({len(line) - width} more characters)"


def _seconds(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


def _metrics_text(metrics: dict[str, int]) -> str:
    return ", ".join(f"{k}={v}" for k, v in sorted(metrics.items())) or "none"
