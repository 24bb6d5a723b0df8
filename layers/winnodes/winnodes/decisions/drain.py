"""Draining a leaving node, planned like `kubectl drain --ignore-daemonsets --delete-emptydir-data`.

Pod filters follow kubectl's drain helper (k8s.io/kubectl/pkg/drain/filters.go): skip DaemonSet and
mirror pods, refuse unmanaged pods unless forced, refuse emptyDir pods unless their data may be
deleted, and let completed pods go without an eviction. Draining never blocks: the service evicts,
asks `decide_drain_step` again, and heartbeats meanwhile (as karpenter's terminator does).
Give-up time matches managed node groups: 15 minutes
(https://docs.aws.amazon.com/eks/latest/userguide/managed-node-update-behavior.html).

A scale-in that returns the instance to its warm pool (ReuseOnScaleIn) drains the node the same
way but keeps it: cordoned for the pool, it serves again when the instance is drawn."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Final

from winnodes.decisions.heartbeat import heartbeat_due, hook_deadline_limit

DEFAULT_DRAIN_TIMEOUT: Final = timedelta(minutes=15)
# Managed node groups label the node so load balancers stop sending it traffic before eviction.
EXCLUDE_FROM_LOAD_BALANCERS_LABEL: Final = "node.kubernetes.io/exclude-from-external-load-balancers"
MIRROR_POD_ANNOTATION: Final = "kubernetes.io/config.mirror"
# kubectl retries a PDB-refused eviction every 5 s.
PDB_RETRY_INTERVAL: Final = timedelta(seconds=5)


class PodPhase(StrEnum):
    PENDING = "Pending"
    RUNNING = "Running"
    SUCCEEDED = "Succeeded"
    FAILED = "Failed"
    UNKNOWN = "Unknown"


@dataclass(frozen=True, slots=True, order=True)
class PodRef:
    namespace: str
    name: str

    def __str__(self) -> str:
        return f"{self.namespace}/{self.name}"


@dataclass(frozen=True, slots=True, kw_only=True)
class Pod:
    """What drain needs to know about a pod on the node."""

    namespace: str
    name: str
    owner_kinds: tuple[str, ...] = ()  # kinds of owner references marked `controller: true`
    is_mirror: bool = False  # has the `kubernetes.io/config.mirror` annotation (static pod)
    deletion_timestamp: datetime | None = None
    has_emptydir: bool = False
    phase: PodPhase = PodPhase.RUNNING

    @property
    def ref(self) -> PodRef:
        return PodRef(self.namespace, self.name)


@dataclass(frozen=True, slots=True)
class DrainPolicy:
    force: bool = False  # evict pods without a controller; at the deadline delete what is left
    delete_emptydir_data: bool = True
    timeout: timedelta = DEFAULT_DRAIN_TIMEOUT
    # Like kubectl --skip-wait-for-delete-timeout: stop waiting for pods terminating this long.
    skip_wait_for_delete_timeout: timedelta | None = None


# A node whose kubelet stopped reporting (Ready False or Unknown) never confirms that a pod has
# terminated, so its terminating pods would hold every drain of a dead node to the deadline.
# Past this grace they are no longer waited for, as with `kubectl drain
# --skip-wait-for-delete-timeout`; once the Node is deleted, the pod garbage collector removes
# them. Their controllers have replaced them already: a terminating pod no longer counts.
NOT_READY_TERMINATION_GRACE: Final = timedelta(minutes=1)


def policy_for_node(policy: DrainPolicy, *, node_ready: bool) -> DrainPolicy:
    """The policy for draining one node: on a node that is not Ready, terminating pods are
    waited for at most NOT_READY_TERMINATION_GRACE."""
    if node_ready:
        return policy
    configured = policy.skip_wait_for_delete_timeout
    grace = NOT_READY_TERMINATION_GRACE
    return replace(
        policy, skip_wait_for_delete_timeout=grace if configured is None else min(configured, grace)
    )


class SkipReason(StrEnum):
    DAEMONSET = "daemonset"  # the DaemonSet controller would recreate it on the node anyway
    MIRROR = "mirror"  # a static pod: the API cannot delete it, the kubelet owns it
    TERMINATING = "terminating"  # already being deleted; wait for it to go
    TERMINATING_TOO_LONG = "terminating-too-long"  # no longer waited for


class RefuseReason(StrEnum):
    UNMANAGED = "unmanaged"  # no controller would recreate it elsewhere
    LOCAL_STORAGE = "local-storage"  # emptyDir data would be lost


@dataclass(frozen=True, slots=True)
class SkippedPod:
    pod: Pod
    reason: SkipReason


@dataclass(frozen=True, slots=True)
class RefusedPod:
    pod: Pod
    reason: RefuseReason


@dataclass(frozen=True, slots=True)
class EvictionPlan:
    evict: tuple[Pod, ...] = ()  # through the Eviction API, honouring PDBs
    delete: tuple[Pod, ...] = ()  # completed pods: no PDB counts them, delete directly
    skipped: tuple[SkippedPod, ...] = ()
    refused: tuple[RefusedPod, ...] = ()


def plan_evictions(pods: Iterable[Pod], policy: DrainPolicy, now: datetime) -> EvictionPlan:
    """Sort every pod into exactly one bucket, as kubectl's filters do."""
    evict: list[Pod] = []
    delete: list[Pod] = []
    skipped: list[SkippedPod] = []
    refused: list[RefusedPod] = []
    for pod in pods:
        # DaemonSet and mirror pods before terminating ones: kubectl neither evicts nor waits
        # for them, terminating or not, and one stuck terminating would hold the drain.
        if "DaemonSet" in pod.owner_kinds:
            skipped.append(SkippedPod(pod, SkipReason.DAEMONSET))
        elif pod.is_mirror:
            skipped.append(SkippedPod(pod, SkipReason.MIRROR))
        elif pod.deletion_timestamp is not None:
            stale = (
                policy.skip_wait_for_delete_timeout is not None
                and now - pod.deletion_timestamp > policy.skip_wait_for_delete_timeout
            )
            reason = SkipReason.TERMINATING_TOO_LONG if stale else SkipReason.TERMINATING
            skipped.append(SkippedPod(pod, reason))
        elif pod.phase in {PodPhase.SUCCEEDED, PodPhase.FAILED}:
            delete.append(pod)
        elif pod.has_emptydir and not policy.delete_emptydir_data:
            refused.append(RefusedPod(pod, RefuseReason.LOCAL_STORAGE))
        elif not pod.owner_kinds and not policy.force:
            refused.append(RefusedPod(pod, RefuseReason.UNMANAGED))
        else:
            evict.append(pod)
    return EvictionPlan(tuple(evict), tuple(delete), tuple(skipped), tuple(refused))


@dataclass(frozen=True, slots=True)
class DrainProgress:
    remaining: tuple[PodRef, ...]  # pods that must still leave before the node is empty
    blocked_by_pdb: tuple[PodRef, ...] = ()
    blocking_pdbs: tuple[str, ...] = ()  # "namespace/name" of PDBs that refused evictions
    refused: tuple[PodRef, ...] = ()

    @property
    def done(self) -> bool:
        return not self.remaining


def drain_progress(
    pods: Iterable[Pod],
    policy: DrainPolicy,
    now: datetime,
    *,
    pdb_refusals: Mapping[PodRef, str | None] | None = None,
) -> DrainProgress:
    """Progress from the pods still on the node. `pdb_refusals` maps pods whose last eviction got
    429 to the PDB that refused it, when the response named one."""
    plan = plan_evictions(pods, policy, now)
    refusals = pdb_refusals or {}
    waiting = [s.pod for s in plan.skipped if s.reason is SkipReason.TERMINATING]
    remaining = [*plan.evict, *plan.delete, *(r.pod for r in plan.refused), *waiting]
    blocked = [pod.ref for pod in plan.evict if pod.ref in refusals]
    pdbs = {name for ref in blocked if (name := refusals[ref]) is not None}
    return DrainProgress(
        remaining=tuple(sorted(pod.ref for pod in remaining)),
        blocked_by_pdb=tuple(sorted(blocked)),
        blocking_pdbs=tuple(sorted(pdbs)),
        refused=tuple(sorted(r.pod.ref for r in plan.refused)),
    )


@dataclass(frozen=True, slots=True)
class ContinueDraining:
    remaining: int
    blocked_by_pdb: int
    heartbeat_due: bool
    deadline_at: datetime


@dataclass(frozen=True, slots=True)
class FinishDrain:
    """Node empty (or already gone): delete the Node if it exists, or keep it for the warm pool
    the instance returns to, then complete CONTINUE."""

    delete_node: bool
    keep_for_warm_pool: bool = False


@dataclass(frozen=True, slots=True)
class DrainTimedOut:
    """Complete CONTINUE anyway: a terminate hook cannot save the instance, only delay it (NTH#535).
    In force mode the service first deletes `blocking_pods` (bypassing PDBs) and the Node."""

    blocking_pods: tuple[PodRef, ...]
    blocking_pdbs: tuple[str, ...]
    delete_remaining_pods: bool
    delete_node: bool
    keep_for_warm_pool: bool = False


type DrainStep = ContinueDraining | FinishDrain | DrainTimedOut


@dataclass(frozen=True, slots=True, kw_only=True)
class DrainClock:
    started_at: datetime
    heartbeat_timeout: timedelta
    last_heartbeat_at: datetime | None = None
    policy: DrainPolicy = field(default_factory=DrainPolicy)

    @property
    def deadline_at(self) -> datetime:
        # Counted from the cordon, which comes after the action's start: the margin covers that.
        limit = min(self.policy.timeout, hook_deadline_limit(self.heartbeat_timeout))
        return self.started_at + limit


@dataclass(frozen=True, slots=True)
class DrainStart:
    """Where the drain stands with the Node's cordon, as the Node was found."""

    started_at: datetime  # the drain's start: its deadline counts from here
    begins_now: bool  # a new drain: write `started_at` on the Node with the cordon
    # Cordon for the warm pool, marked as the join marks its own: the draw's join lifts it.
    hold_for_warm_pool: bool


def start_drain(
    *,
    recorded: datetime | None,
    node_unschedulable: bool,
    returning_to_pool: bool,
    now: datetime,
) -> DrainStart:
    """`recorded`: the drain start annotated on the Node. A drain keeps its Node cordoned to the
    end, so a start found on a schedulable Node is an earlier drain's (a return to the warm pool
    whose Node was uncordoned when drawn): this drain begins now, or it would be past its
    deadline before its first eviction.

    A return to the warm pool cordons a schedulable Node for the pool. One found cordoned
    already is an operator's (or this drain's own, marked when it began): not marked, it stays
    cordoned through the pool and the draw, as the join leaves an operator's cordon on a launch
    into the pool."""
    current = recorded if node_unschedulable else None
    return DrainStart(
        started_at=current or now,
        begins_now=current is None,
        hold_for_warm_pool=returning_to_pool and not node_unschedulable,
    )


def decide_drain_step(
    progress: DrainProgress,
    clock: DrainClock,
    *,
    node_exists: bool,
    now: datetime,
    returning_to_pool: bool = False,
) -> DrainStep:
    """`returning_to_pool`: a scale-in returns the instance to its warm pool. Its Node is kept:
    the instance goes on running (a Running pool) or resumes (Hibernated) with its kubelet,
    which does not register a Node deleted under it again (kubernetes/kubernetes#71398), so a
    deleted Node would never come back for the draw's join to wait for."""
    if not node_exists:
        # Someone already removed the Node: nothing to drain, don't fail on 404s (NTH#331).
        return FinishDrain(delete_node=False)
    if progress.done:
        return FinishDrain(delete_node=not returning_to_pool, keep_for_warm_pool=returning_to_pool)
    if now >= clock.deadline_at:
        force = clock.policy.force
        return DrainTimedOut(
            blocking_pods=progress.remaining,
            blocking_pdbs=progress.blocking_pdbs,
            delete_remaining_pods=force,
            # Without force the Node stays for the cloud controller to remove with the instance;
            # deleting it would garbage-collect the pods the PDBs protect.
            delete_node=force and not returning_to_pool,
            keep_for_warm_pool=returning_to_pool,
        )
    # With no heartbeat of ours on record, one is due at once: the action may have waited since
    # long before the cordon (a lost event the reconciler finds a minute later), and nothing we
    # can read says when its heartbeat timeout began.
    due = clock.last_heartbeat_at is None or heartbeat_due(
        last_heartbeat_at=clock.last_heartbeat_at,
        heartbeat_timeout=clock.heartbeat_timeout,
        now=now,
    )
    return ContinueDraining(
        remaining=len(progress.remaining),
        blocked_by_pdb=len(progress.blocked_by_pdb),
        heartbeat_due=due,
        deadline_at=clock.deadline_at,
    )


class EvictionOutcome(StrEnum):
    EVICTED = "evicted"
    GONE = "gone"  # nothing left to evict: done
    BLOCKED_BY_PDB = "blocked-by-pdb"  # retry after PDB_RETRY_INTERVAL
    RETRY = "retry"  # server trouble: retry after eviction_retry_delay(attempt)
    FAILED = "failed"  # our request is wrong or forbidden: retrying will not help


def classify_eviction_response(status: int) -> EvictionOutcome:
    """HTTP status of `POST .../pods/<name>/eviction`.

    409 means the pod with the UID we evicted was replaced by another of the same name, so ours is
    gone (karpenter treats 404 and 409 alike)."""
    if status in {200, 201}:
        return EvictionOutcome.EVICTED
    if status in {404, 409}:
        return EvictionOutcome.GONE
    if status == 429:
        return EvictionOutcome.BLOCKED_BY_PDB
    if 500 <= status <= 599:
        return EvictionOutcome.RETRY
    return EvictionOutcome.FAILED


def eviction_retry_delay(
    attempt: int,
    *,
    base: timedelta = timedelta(seconds=1),
    cap: timedelta = timedelta(seconds=30),
) -> timedelta:
    """Bounded exponential backoff: base, 2·base, 4·base, ... never above cap. `attempt` counts
    failures so far, from 0."""
    if attempt < 0:
        raise ValueError("attempt counts from 0")
    factor: int = 2 ** min(attempt, 32)
    return min(cap, base * factor)
