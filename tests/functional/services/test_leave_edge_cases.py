"""Drain edge cases: completed pods are deleted rather than waited for, terminating DaemonSet and
mirror pods are not waited for, evictions the API server fails are retried with exponential
backoff rather than every poll, a drain start found on a schedulable node is an earlier drain's
(the clock starts again), a cordoned node that lost its label is labelled again without moving
the deadline its annotation holds, a reconciler pass that cannot describe the cluster leaves the
drain for a pass that can, and evictions a slow API server kept from being sent in a look are
the next look's, not failures."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from itertools import pairwise
from typing import Any

import pytest

from tests.helpers.join_world import DESCRIBE_CLUSTER_REFUSED, RefusedClusters
from tests.helpers.leave_world import (
    GROUP,
    INSTANCE,
    FakeKubernetes,
    LeaveWorld,
    terminate_action,
)
from winnodes.adapters.kube.drain import (
    DRAIN_STARTED_ANNOTATION,
    EXCLUDE_FROM_LOAD_BALANCERS_LABEL,
    KubeDrain,
)
from winnodes.adapters.kube.timestamps import format_time
from winnodes.decisions.drain import (
    ContinueDraining,
    DrainPolicy,
    DrainTimedOut,
    FinishDrain,
    PodRef,
    eviction_retry_delay,
)
from winnodes.errors import KubernetesError
from winnodes.ports import EvictionAnswer, PodOnNode
from winnodes.services.leave import EVICTIONS_START_WITHIN
from winnodes.services.reconcile import ReconcileService

JsonObject = dict[str, Any]
JOB_POD = "web/report-1234"
EVICTION_PATH = "POST /api/v1/namespaces/web/pods/web-def0-0/eviction"
WEBHOOK_REFUSAL = 'admission webhook "pods.policy.example.com" denied the request'


@dataclass
class EdgeKubernetes(FakeKubernetes):
    """The fake API server, plus pod deletion (`kube.delete pod <key>`) and an API server that
    answers the first `server_errors` evictions with 500, and every pod or Node delete with
    `pod_delete_status` or `node_delete_status` when set (an admission webhook refusing it, or
    down). Records when each eviction was asked."""

    server_errors: int = 0
    server_error: str = "Internal error"  # the message of the API's Status
    pod_delete_status: int | None = None
    node_delete_status: int | None = None
    evicted_at: list[datetime] = field(default_factory=list)

    def add_completed_pod(self, node: str, key: str = JOB_POD, phase: str = "Succeeded") -> None:
        namespace, name = key.split("/")
        self.pods[key] = {
            "metadata": {
                "name": name,
                "namespace": namespace,
                "uid": f"uid-{name}",
                "labels": {"job-name": "report"},
                "ownerReferences": [{"kind": "Job", "controller": True}],
            },
            "spec": {"nodeName": node},
            "status": {"phase": phase},
        }

    def create(self, path: str, body: JsonObject) -> JsonObject:
        self.evicted_at.append(self.now())
        if self.server_errors > 0:
            key = f"{body['metadata']['namespace']}/{body['metadata']['name']}"
            self.journal.append(f"kube.evict {key}")
            self.server_errors -= 1
            raise KubernetesError(f"POST {path}: 500 {self.server_error}", 500)
        return super().create(path, body)

    def delete(self, path: str, body: JsonObject | None = None) -> JsonObject:
        if path.startswith("/api/v1/namespaces/"):
            parts = path.split("/")  # /api/v1/namespaces/<ns>/pods/<name>
            key = f"{parts[4]}/{parts[6]}"
            self.journal.append(f"kube.delete pod {key}")
            if self.pod_delete_status is not None:
                status = self.pod_delete_status
                raise KubernetesError(f"DELETE {path}: {status} {WEBHOOK_REFUSAL}", status)
            self.pods.pop(key)
            return {}
        if self.node_delete_status is not None:
            self.journal.append("kube.delete node refused")
            status = self.node_delete_status
            raise KubernetesError(f"DELETE {path}: {status} {WEBHOOK_REFUSAL}", status)
        return super().delete(path, body)


def edge_world() -> tuple[LeaveWorld, EdgeKubernetes]:
    world = LeaveWorld()
    kube = EdgeKubernetes(world.journal, world.clock.now)
    world.kube = kube  # the world's fleet and drains read it when they are built
    return world, kube


def test_a_completed_pod_is_deleted_and_the_drain_finishes() -> None:
    world, kube = edge_world()
    node = kube.add_node(INSTANCE, pods=1)
    kube.kubelet = True
    kube.add_completed_pod(node)  # a Job's pod: Succeeded, nothing evicts it

    policy = DrainPolicy(timeout=timedelta(seconds=30))
    result = world.service(policy=policy).leave(terminate_action())

    assert result.finished and result.step == FinishDrain(delete_node=True)
    assert f"kube.delete pod {JOB_POD}" in world.journal
    assert f"kube.evict {JOB_POD}" not in world.journal  # deleted, not evicted
    assert "kube.evict web/web-def0-0" in world.journal
    assert kube.pods == {}
    assert world.autoscaling.completed == [(INSTANCE, "CONTINUE")]
    assert world.clock.elapsed < 30  # not held to the deadline


def test_a_failed_pod_alone_is_deleted_on_the_first_step() -> None:
    world, kube = edge_world()
    node = kube.add_node(INSTANCE)
    kube.add_completed_pod(node, phase="Failed")

    service = world.service()
    action = terminate_action()
    first = service.advance(action)
    second = service.advance(action)

    assert isinstance(first.step, ContinueDraining) and first.remaining == 1
    assert world.journal.count(f"kube.delete pod {JOB_POD}") == 1
    assert second.step == FinishDrain(delete_node=True)
    assert world.autoscaling.completed == [(INSTANCE, "CONTINUE")]


def refused_deletes(caplog: pytest.LogCaptureFixture, message: str) -> list[tuple[str, str]]:
    """(pod, error) of each warning `message` logged."""
    return [(vars(r)["pod"], vars(r)["error"]) for r in caplog.records if r.getMessage() == message]


@pytest.mark.parametrize("status", [403, 500])
def test_a_refused_delete_of_a_completed_pod_holds_up_no_eviction_heartbeat_or_deadline(
    status: int, caplog: pytest.LogCaptureFixture
) -> None:
    # A kubelet-evicted pod (Failed) and a webhook on pod DELETE that refuses, or is down: the
    # other pods are evicted, the hook heartbeated, and the deadline completes the action.
    world, kube = edge_world()
    node = kube.add_node(INSTANCE, pods=2)
    kube.kubelet = True
    kube.add_completed_pod(node, phase="Failed")
    kube.pod_delete_status = status

    result = world.service(wait_budget=3600).leave(terminate_action())

    assert result.finished and isinstance(result.step, DrainTimedOut)
    assert result.step.blocking_pods == (PodRef("web", "report-1234"),)
    assert world.clock.elapsed == DrainPolicy().timeout.total_seconds()
    assert sorted(kube.pods) == [JOB_POD]  # both replicas evicted
    assert world.journal.count("autoscaling.heartbeat") >= 3  # every 5 of the 15 minutes
    assert world.autoscaling.completed == [(INSTANCE, "CONTINUE")]
    # Tried again at later looks, backing off as failed evictions do: not at every poll.
    deletes = world.journal.count(f"kube.delete pod {JOB_POD}")
    assert 10 < deletes < 60
    warned = refused_deletes(caplog, "could not delete a completed pod; retrying later")
    assert len(warned) == deletes
    expected_error = f"DELETE /api/v1/namespaces/web/pods/report-1234: {status} {WEBHOOK_REFUSAL}"
    assert set(warned) == {(JOB_POD, expected_error)}


def test_a_forced_drain_completes_at_its_deadline_though_its_pod_deletes_are_refused(
    caplog: pytest.LogCaptureFixture,
) -> None:
    world, kube = edge_world()
    node = kube.add_node(INSTANCE, pods=1)  # no kubelet: the evicted pod stays Terminating
    kube.add_completed_pod(node, phase="Failed")
    kube.pod_delete_status = 403

    result = world.service(policy=DrainPolicy(force=True), wait_budget=3600).leave(
        terminate_action()
    )

    assert result.finished and isinstance(result.step, DrainTimedOut)
    assert result.step.delete_remaining_pods
    assert world.autoscaling.completed == [(INSTANCE, "CONTINUE")]
    assert node not in kube.nodes
    warned = refused_deletes(caplog, "could not delete a pod at the drain deadline")
    assert sorted(pod for pod, _ in warned) == [JOB_POD, "web/web-def0-0"]


@pytest.mark.parametrize("status", [403, 500])
def test_a_refused_node_delete_does_not_keep_the_drained_node_s_action_from_completing(
    status: int, caplog: pytest.LogCaptureFixture
) -> None:
    # The Node goes with its instance; the action must not wait for it to the hook's timeout.
    world, kube = edge_world()
    node = kube.add_node(INSTANCE)
    kube.node_delete_status = status

    result = world.service().advance(terminate_action())

    assert result.finished and result.step == FinishDrain(delete_node=True)
    assert "kube.delete node refused" in world.journal
    assert node in kube.nodes
    assert world.autoscaling.completed == [(INSTANCE, "CONTINUE")]
    warned = [
        vars(r)["error"]
        for r in caplog.records
        if r.getMessage() == "could not delete the node; the action is completed all the same"
    ]
    assert warned == [f"DELETE /api/v1/nodes/{node}: {status} {WEBHOOK_REFUSAL}"]


def test_a_forced_drain_completes_at_its_deadline_though_its_node_delete_is_refused() -> None:
    world, kube = edge_world()
    node = kube.add_node(INSTANCE, pods=1)  # no kubelet: the evicted pod stays Terminating
    kube.node_delete_status = 403

    result = world.service(policy=DrainPolicy(force=True), wait_budget=3600).leave(
        terminate_action()
    )

    assert result.finished and isinstance(result.step, DrainTimedOut) and result.step.delete_node
    assert "kube.delete node refused" in world.journal and node in kube.nodes
    assert world.autoscaling.completed == [(INSTANCE, "CONTINUE")]


def test_evictions_the_api_server_fails_are_retried_with_exponential_backoff() -> None:
    world, kube = edge_world()
    kube.add_node(INSTANCE, pods=1)
    kube.kubelet = True
    kube.server_errors = 3  # 500 three times, then the eviction succeeds

    result = world.service().leave(terminate_action())

    assert result.finished and result.step == FinishDrain(delete_node=True)
    assert world.journal.count("kube.evict web/web-def0-0") == 4
    gaps = [later - earlier for earlier, later in pairwise(kube.evicted_at)]
    assert gaps == [eviction_retry_delay(attempt) for attempt in range(3)]
    assert gaps == [timedelta(seconds=1), timedelta(seconds=2), timedelta(seconds=4)]
    assert world.clock.elapsed == 8  # evicted at 7 s, seen gone at the next poll
    assert world.autoscaling.completed == [(INSTANCE, "CONTINUE")]


MULTIPLE_BUDGETS = (
    "This pod has more than one PodDisruptionBudget, which the eviction subresource does not "
    "support."
)
# A page of 5000 characters, logged as its first 300 and its length.
_FAILED = f"{EVICTION_PATH}: 500 "
LONG_PAGE_LOGGED = f"{_FAILED}{'x' * (300 - len(_FAILED))}... ({len(_FAILED) + 5000} characters)"


@pytest.mark.parametrize(
    ("message", "logged"),
    [(MULTIPLE_BUDGETS, f"{_FAILED}{MULTIPLE_BUDGETS}"), ("x" * 5000, LONG_PAGE_LOGGED)],
    ids=["two-budgets", "bounded"],
)
def test_a_failed_eviction_is_logged_with_what_the_api_said(
    message: str, logged: str, caplog: pytest.LogCaptureFixture
) -> None:
    # A status alone hides the cause: a 500 for a pod two PDBs select reads as server trouble.
    world, kube = edge_world()
    kube.add_node(INSTANCE, pods=1)
    kube.server_errors = 1
    kube.server_error = message

    world.service().advance(terminate_action())

    (warning,) = [
        vars(r) for r in caplog.records if r.getMessage() == "eviction failed; retrying later"
    ]
    assert (warning["pod"], warning["status"]) == ("web/web-def0-0", "500")
    assert warning["error"] == logged


def test_a_reconciler_tick_retries_a_failed_eviction_only_when_its_backoff_is_due() -> None:
    world, kube = edge_world()
    kube.add_node(INSTANCE, pods=1)
    kube.server_errors = 10
    service = world.service()
    action = terminate_action()

    for _ in range(8):  # one step a second for 8 s
        service.advance(action)
        world.clock.sleep(1)

    seconds = [(at - kube.evicted_at[0]).total_seconds() for at in kube.evicted_at]
    assert seconds == [0, 1, 3, 7]
    assert action.failures == {"web/web-def0-0": 4}


def add_stuck_terminating_pod(
    kube: EdgeKubernetes, node: str, name: str, *, owner: str | None, mirror: bool = False
) -> None:
    """A kube-system pod that stays Terminating (a finalizer, or its kubelet's long grace)."""
    metadata: JsonObject = {
        "name": name,
        "namespace": "kube-system",
        "uid": f"uid-{name}",
        "deletionTimestamp": format_time(kube.now()),
        "finalizers": ["example.com/flush"],
    }
    if owner is not None:
        metadata["ownerReferences"] = [{"kind": owner, "controller": True}]
    if mirror:
        metadata["annotations"] = {"kubernetes.io/config.mirror": "checksum"}
    kube.pods[f"kube-system/{name}"] = {
        "metadata": metadata,
        "spec": {"nodeName": node},
        "status": {"phase": "Running"},
    }


def test_terminating_daemonset_and_mirror_pods_do_not_hold_the_drain() -> None:
    # Like kubectl drain: neither evicted nor waited for, terminating or not.
    world, kube = edge_world()
    node = kube.add_node(INSTANCE, pods=1)
    kube.kubelet = True
    add_stuck_terminating_pod(kube, node, "log-agent-x", owner="DaemonSet")
    add_stuck_terminating_pod(kube, node, "kube-proxy-static", owner="Node", mirror=True)

    result = world.service(wait_budget=3600).leave(terminate_action())

    assert result.finished and result.step == FinishDrain(delete_node=True)
    assert world.clock.elapsed < 60  # not held to the deadline
    assert not any(e.startswith("kube.evict kube-system/") for e in world.journal)
    assert world.autoscaling.completed == [(INSTANCE, "CONTINUE")]


def annotated_node(kube: EdgeKubernetes, started: datetime, *, unschedulable: bool) -> str:
    """A node carrying a drain's start, cordoned or schedulable (as one is again once an earlier
    drain's node was uncordoned: a return to the warm pool, drawn since)."""
    name = kube.add_node(INSTANCE, pods=1)
    metadata = kube.nodes[name]["metadata"]
    metadata["annotations"] = {DRAIN_STARTED_ANNOTATION: format_time(started)}
    kube.nodes[name]["spec"]["unschedulable"] = unschedulable
    return name


def test_a_drain_start_on_a_schedulable_node_is_an_earlier_drains_the_clock_starts_now() -> None:
    world, kube = edge_world()
    started = world.clock.now() - timedelta(minutes=5)
    name = annotated_node(kube, started, unschedulable=False)

    result = world.service().advance(terminate_action())

    assert isinstance(result.step, ContinueDraining)
    assert world.journal.count("kube.patch node") == 1  # cordoned, stamped, in one patch
    node = kube.nodes[name]
    assert node["spec"]["unschedulable"] is True
    now = world.clock.now()
    assert node["metadata"]["annotations"] == {DRAIN_STARTED_ANNOTATION: format_time(now)}
    assert result.step.deadline_at == now + DrainPolicy().timeout
    assert "kube.evict web/web-def0-0" in world.journal


def test_a_drain_start_past_the_deadline_on_a_schedulable_node_does_not_end_the_drain() -> None:
    # The review's reproduction: the node of a return whose drain timed out, drawn and
    # uncordoned since, terminates a day later. Its pods are evicted; no CONTINUE at once.
    world, kube = edge_world()
    timeout = DrainPolicy().timeout
    name = annotated_node(kube, world.clock.now() - timedelta(days=1), unschedulable=False)
    kube.kubelet = True

    result = world.service(wait_budget=600).leave(terminate_action())

    assert result.finished and result.step == FinishDrain(delete_node=True)
    assert "kube.evict web/web-def0-0" in world.journal
    assert kube.pods == {} and name not in kube.nodes
    assert world.autoscaling.completed == [(INSTANCE, "CONTINUE")]
    assert world.clock.elapsed < timeout.total_seconds()


def test_a_restarted_drain_holds_to_its_own_deadline() -> None:
    world, kube = edge_world()
    timeout = DrainPolicy().timeout
    annotated_node(kube, world.clock.now() - timedelta(days=1), unschedulable=False)

    result = world.service(wait_budget=3600).leave(terminate_action())  # no kubelet: pods stay

    assert isinstance(result.step, DrainTimedOut) and result.finished
    assert world.clock.elapsed == timeout.total_seconds()
    assert world.autoscaling.completed == [(INSTANCE, "CONTINUE")]


def test_a_cordoned_node_that_lost_its_label_is_labelled_again_and_keeps_its_drain_start() -> None:
    world, kube = edge_world()
    started = world.clock.now() - timedelta(minutes=5)
    name = annotated_node(kube, started, unschedulable=True)  # the label removed by someone

    result = world.service().advance(terminate_action())

    assert isinstance(result.step, ContinueDraining)
    assert world.journal.count("kube.patch node") == 1
    node = kube.nodes[name]
    assert node["metadata"]["labels"] == {EXCLUDE_FROM_LOAD_BALANCERS_LABEL: "true"}
    assert node["metadata"]["annotations"] == {DRAIN_STARTED_ANNOTATION: format_time(started)}
    # The deadline counts from the annotated start, not from the re-cordon.
    assert result.step.deadline_at == started + DrainPolicy().timeout


def test_re_labelling_does_not_move_the_deadline() -> None:
    world, kube = edge_world()
    timeout = DrainPolicy().timeout
    started = world.clock.now() - timeout + timedelta(seconds=20)
    name = annotated_node(kube, started, unschedulable=True)

    result = world.service(wait_budget=600).leave(terminate_action())

    assert isinstance(result.step, DrainTimedOut) and result.finished
    assert world.clock.elapsed == 20  # what was left of the original deadline
    assert world.autoscaling.completed == [(INSTANCE, "CONTINUE")]
    assert kube.nodes[name]["spec"]["unschedulable"] is True
    annotations = kube.nodes[name]["metadata"]["annotations"]
    assert annotations[DRAIN_STARTED_ANNOTATION] == format_time(started)


@pytest.mark.parametrize("status", [403, 429])
def test_a_refused_budget_list_holds_up_neither_heartbeats_nor_the_deadline(status: int) -> None:
    # The budgets are listed only to name them: without them the drain goes on, unnamed.
    world, kube = edge_world()
    kube.add_node(INSTANCE, pods=1)
    kube.pdb_refusals = 10**9
    kube.pdb_list_status = status

    result = world.service(wait_budget=3600).leave(terminate_action())

    assert result.finished and isinstance(result.step, DrainTimedOut)
    assert result.progress.blocking_pdbs == ()
    assert world.clock.elapsed == DrainPolicy().timeout.total_seconds()
    assert world.journal.count("autoscaling.heartbeat") >= 3  # every 5 of the 15 minutes
    assert "kube.list pdbs" in world.journal
    assert world.autoscaling.completed == [(INSTANCE, "CONTINUE")]


def test_a_reconciler_tick_at_the_deadline_completes_without_the_budgets_names() -> None:
    world, kube = edge_world()
    annotated_node(kube, world.clock.now() - DrainPolicy().timeout, unschedulable=True)
    kube.pdb_list_status = 403

    result = world.service().advance(terminate_action())

    assert isinstance(result.step, DrainTimedOut)
    assert world.autoscaling.completed == [(INSTANCE, "CONTINUE")]


def test_a_pass_that_cannot_describe_the_cluster_leaves_the_drain_and_reports_it_once() -> None:
    world = LeaveWorld()
    world.kube.add_node(INSTANCE, pods=1)
    world.clusters = RefusedClusters(world.journal)

    report = ReconcileService(
        fleet=world.fleet(), join=world.join_service(), leave=world.service(), clock=world.clock
    ).reconcile()

    assert report.terminate_actions == 1
    assert report.errors == [f"{GROUP}: {DESCRIBE_CLUSTER_REFUSED}"]
    assert not any(e.startswith(("kube.", "autoscaling.complete")) for e in world.journal)


class FirstEvictionInTime(KubeDrain):
    """The real drain, as when the API server answers evictions slowly: of each look's due pods
    only the first is sent within the window (adapters.kube.drain), the others are left out of
    the result. Records the window it was given."""

    def __init__(self, kube: EdgeKubernetes) -> None:
        super().__init__(kube)
        self.windows: list[timedelta | None] = []

    def evict(
        self, pods: Sequence[PodOnNode], *, start_within: timedelta | None = None
    ) -> Mapping[str, EvictionAnswer]:
        self.windows.append(start_within)
        return super().evict(pods[:1])


def test_evictions_not_sent_in_a_look_s_window_are_the_next_look_s_without_a_failure() -> None:
    world, kube = edge_world()
    kube.add_node(INSTANCE, pods=3)
    drain = FirstEvictionInTime(kube)
    world.drain_for = lambda connection: drain  # type: ignore[method-assign]
    service = world.service()
    action = terminate_action()

    service.advance(action)

    evictions = [entry for entry in world.journal if entry.startswith("kube.evict")]
    assert len(evictions) == 1
    assert drain.windows == [EVICTIONS_START_WITHIN]
    # Not sent is not failed: no backoff, no failure counted, due again at once.
    assert (action.failures, action.retry_at) == ({}, {})

    world.clock.sleep(1)
    service.advance(action)
    assert len([e for e in world.journal if e.startswith("kube.evict")]) == 2
    assert action.failures == {}
