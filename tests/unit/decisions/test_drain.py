"""Drain plan and progress: kubectl drain's filters, never blocking, a bounded give-up."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.helpers.deadlines import CAPPED_DEADLINE_CASES
from winnodes.decisions.drain import (
    DEFAULT_DRAIN_TIMEOUT,
    NOT_READY_TERMINATION_GRACE,
    ContinueDraining,
    DrainClock,
    DrainPolicy,
    DrainProgress,
    DrainTimedOut,
    EvictionOutcome,
    FinishDrain,
    Pod,
    PodPhase,
    PodRef,
    RefuseReason,
    SkipReason,
    classify_eviction_response,
    decide_drain_step,
    drain_progress,
    eviction_retry_delay,
    plan_evictions,
    policy_for_node,
)

NOW = datetime(2025, 6, 2, 11, 2, 5, tzinfo=UTC)
DEFAULT = DrainPolicy()

WEB = Pod(namespace="shop", name="web-1", owner_kinds=("ReplicaSet",))
AGENT = Pod(namespace="kube-system", name="kube-proxy-x", owner_kinds=("DaemonSet",))
STATIC = Pod(namespace="kube-system", name="static-x", is_mirror=True)
BARE = Pod(namespace="dev", name="debug")
CACHE = Pod(namespace="shop", name="cache-0", owner_kinds=("StatefulSet",), has_emptydir=True)
DONE = Pod(namespace="ci", name="job-1", owner_kinds=("Job",), phase=PodPhase.SUCCEEDED)
BARE_FAILED = Pod(namespace="dev", name="oops", phase=PodPhase.FAILED)
LEAVING = Pod(
    namespace="shop",
    name="web-0",
    owner_kinds=("ReplicaSet",),
    deletion_timestamp=NOW - timedelta(seconds=10),
)


def test_like_kubectl_drain_ignore_daemonsets_delete_emptydir_data() -> None:
    plan = plan_evictions(
        [WEB, AGENT, STATIC, BARE, CACHE, DONE, BARE_FAILED, LEAVING], DEFAULT, NOW
    )
    assert plan.evict == (WEB, CACHE)
    assert plan.delete == (DONE, BARE_FAILED)
    assert {(s.pod, s.reason) for s in plan.skipped} == {
        (AGENT, SkipReason.DAEMONSET),
        (STATIC, SkipReason.MIRROR),
        (LEAVING, SkipReason.TERMINATING),
    }
    assert [(r.pod, r.reason) for r in plan.refused] == [(BARE, RefuseReason.UNMANAGED)]


def test_force_evicts_bare_pods() -> None:
    plan = plan_evictions([BARE], DrainPolicy(force=True), NOW)
    assert plan.evict == (BARE,)
    assert plan.refused == ()


def test_emptydir_refused_when_its_data_must_be_kept_even_with_force() -> None:
    for force in (False, True):
        plan = plan_evictions([CACHE], DrainPolicy(force=force, delete_emptydir_data=False), NOW)
        assert [(r.pod, r.reason) for r in plan.refused] == [(CACHE, RefuseReason.LOCAL_STORAGE)]


def test_completed_daemonset_pod_is_still_skipped() -> None:
    finished = Pod(namespace="k", name="d", owner_kinds=("DaemonSet",), phase=PodPhase.SUCCEEDED)
    assert plan_evictions([finished], DEFAULT, NOW).skipped[0].reason is SkipReason.DAEMONSET


@pytest.mark.parametrize(
    ("pod", "reason"),
    [(AGENT, SkipReason.DAEMONSET), (STATIC, SkipReason.MIRROR)],
    ids=["daemonset", "mirror"],
)
def test_terminating_daemonset_and_mirror_pods_are_not_waited_for(
    pod: Pod, reason: SkipReason
) -> None:
    # kubectl's skipDeletedFilter passes a terminating pod on to the DaemonSet and mirror
    # filters, which skip it: one stuck terminating must not hold the drain to its deadline.
    terminating = replace(pod, deletion_timestamp=NOW - timedelta(seconds=10))
    assert plan_evictions([terminating], DEFAULT, NOW).skipped[0].reason is reason
    assert drain_progress([terminating], DEFAULT, NOW).done


def test_pods_terminating_too_long_stop_counting() -> None:
    policy = DrainPolicy(skip_wait_for_delete_timeout=timedelta(seconds=5))
    plan = plan_evictions([LEAVING], policy, NOW)
    assert plan.skipped[0].reason is SkipReason.TERMINATING_TOO_LONG
    assert drain_progress([LEAVING], policy, NOW).done
    assert not drain_progress([LEAVING], DEFAULT, NOW).done


def test_progress_counts_what_must_still_leave_and_names_pdbs() -> None:
    progress = drain_progress(
        [WEB, AGENT, STATIC, BARE, DONE],
        DEFAULT,
        NOW,
        pdb_refusals={WEB.ref: "shop/web-pdb", PodRef("gone", "x"): "gone/pdb"},
    )
    assert progress.remaining == tuple(sorted([WEB.ref, BARE.ref, DONE.ref]))
    assert progress.blocked_by_pdb == (WEB.ref,)
    assert progress.blocking_pdbs == ("shop/web-pdb",)
    assert progress.refused == (BARE.ref,)
    assert not progress.done


def test_only_daemonset_and_mirror_pods_left_means_done() -> None:
    assert drain_progress([AGENT, STATIC], DEFAULT, NOW).done


CLOCK = DrainClock(started_at=NOW, heartbeat_timeout=timedelta(minutes=5))


def test_default_timeout_is_fifteen_minutes_like_managed_node_groups() -> None:
    assert timedelta(minutes=15) == DEFAULT_DRAIN_TIMEOUT
    assert CLOCK.deadline_at == NOW + timedelta(minutes=15)


def test_drain_steps() -> None:
    busy = drain_progress([WEB], DEFAULT, NOW, pdb_refusals={WEB.ref: None})
    beaten = replace(CLOCK, last_heartbeat_at=NOW)
    step = decide_drain_step(busy, beaten, node_exists=True, now=NOW + timedelta(minutes=1))
    assert step == ContinueDraining(
        remaining=1, blocked_by_pdb=1, heartbeat_due=False, deadline_at=NOW + timedelta(minutes=15)
    )
    later = decide_drain_step(busy, beaten, node_exists=True, now=NOW + timedelta(minutes=3))
    assert isinstance(later, ContinueDraining) and later.heartbeat_due
    empty = DrainProgress(remaining=())
    assert decide_drain_step(empty, CLOCK, node_exists=True, now=NOW) == FinishDrain(True)


def test_node_already_gone_completes_without_deleting() -> None:
    busy = DrainProgress(remaining=(WEB.ref,))
    assert decide_drain_step(busy, CLOCK, node_exists=False, now=NOW) == FinishDrain(False)


def test_timeout_completes_anyway_and_names_the_blockers() -> None:
    busy = drain_progress([WEB, BARE], DEFAULT, NOW, pdb_refusals={WEB.ref: "shop/web-pdb"})
    step = decide_drain_step(busy, CLOCK, node_exists=True, now=NOW + DEFAULT_DRAIN_TIMEOUT)
    assert step == DrainTimedOut(
        blocking_pods=(BARE.ref, WEB.ref),
        blocking_pdbs=("shop/web-pdb",),
        delete_remaining_pods=False,
        delete_node=False,
    )


def test_forced_timeout_deletes_what_is_left() -> None:
    clock = DrainClock(
        started_at=NOW, heartbeat_timeout=timedelta(minutes=5), policy=DrainPolicy(force=True)
    )
    step = decide_drain_step(
        DrainProgress(remaining=(WEB.ref,)), clock, node_exists=True, now=NOW + timedelta(hours=1)
    )
    assert isinstance(step, DrainTimedOut)
    assert step.delete_remaining_pods and step.delete_node


@pytest.mark.parametrize(("heartbeat_s", "timeout_s", "effective_s"), CAPPED_DEADLINE_CASES)
@pytest.mark.parametrize("force", [False, True])
def test_the_drain_gives_up_no_later_than_the_hook_would(
    heartbeat_s: int, timeout_s: int, effective_s: int, force: bool
) -> None:
    clock = DrainClock(
        started_at=NOW,
        heartbeat_timeout=timedelta(seconds=heartbeat_s),
        policy=DrainPolicy(force=force, timeout=timedelta(seconds=timeout_s)),
    )
    busy = drain_progress([WEB], DEFAULT, NOW, pdb_refusals={WEB.ref: "shop/web-pdb"})
    deadline = NOW + timedelta(seconds=effective_s)
    assert clock.deadline_at == deadline
    before = decide_drain_step(busy, clock, node_exists=True, now=deadline - timedelta(seconds=1))
    assert before == ContinueDraining(
        remaining=1, blocked_by_pdb=1, heartbeat_due=True, deadline_at=deadline
    )
    at = decide_drain_step(busy, clock, node_exists=True, now=deadline)
    assert at == DrainTimedOut(
        blocking_pods=(WEB.ref,),
        blocking_pdbs=("shop/web-pdb",),
        delete_remaining_pods=force,
        delete_node=force,
    )


@given(
    heartbeat_s=st.integers(min_value=30, max_value=7_200),
    timeout_s=st.integers(min_value=1, max_value=60 * 3_600),
)
def test_the_drain_ends_at_its_timeout_or_before_the_hooks_limit_whichever_is_sooner(
    heartbeat_s: int, timeout_s: int
) -> None:
    clock = DrainClock(
        started_at=NOW,
        heartbeat_timeout=timedelta(seconds=heartbeat_s),
        policy=DrainPolicy(timeout=timedelta(seconds=timeout_s)),
    )
    busy = DrainProgress(remaining=(WEB.ref,))
    hook_limit = min(100 * heartbeat_s, 48 * 3_600)
    margin = min(600, hook_limit / 5)  # a fifth for a hook shorter than 50 minutes
    deadline = NOW + timedelta(seconds=min(timeout_s, hook_limit - margin))
    assert clock.deadline_at == deadline
    before = decide_drain_step(busy, clock, node_exists=True, now=deadline - timedelta(seconds=1))
    assert before == ContinueDraining(
        remaining=1, blocked_by_pdb=0, heartbeat_due=True, deadline_at=deadline
    )
    assert decide_drain_step(busy, clock, node_exists=True, now=deadline) == DrainTimedOut(
        blocking_pods=(WEB.ref,), blocking_pdbs=(), delete_remaining_pods=False, delete_node=False
    )


@pytest.mark.parametrize(
    ("status", "outcome"),
    [
        (200, EvictionOutcome.EVICTED),
        (201, EvictionOutcome.EVICTED),
        (404, EvictionOutcome.GONE),
        (409, EvictionOutcome.GONE),
        (429, EvictionOutcome.BLOCKED_BY_PDB),
        (500, EvictionOutcome.RETRY),
        (503, EvictionOutcome.RETRY),
        (400, EvictionOutcome.FAILED),
        (403, EvictionOutcome.FAILED),
        (422, EvictionOutcome.FAILED),
    ],
)
def test_eviction_responses(status: int, outcome: EvictionOutcome) -> None:
    assert classify_eviction_response(status) is outcome


def test_backoff_doubles_and_is_bounded() -> None:
    delays = [eviction_retry_delay(n).total_seconds() for n in range(7)]
    assert delays == [1, 2, 4, 8, 16, 30, 30]
    with pytest.raises(ValueError, match="attempt"):
        eviction_retry_delay(-1)


@given(
    st.integers(0, 10_000),
    st.timedeltas(timedelta(milliseconds=1), timedelta(minutes=1)),
    st.timedeltas(timedelta(seconds=1), timedelta(hours=1)),
)
def test_backoff_never_exceeds_cap_and_never_shrinks(
    attempt: int, base: timedelta, cap: timedelta
) -> None:
    delay = eviction_retry_delay(attempt, base=base, cap=cap)
    assert min(base, cap) <= delay <= cap
    assert delay <= eviction_retry_delay(attempt + 1, base=base, cap=cap)


PODS = st.builds(
    Pod,
    namespace=st.sampled_from(["a", "b"]),
    name=st.text("xyz0123", min_size=1, max_size=4),
    owner_kinds=st.lists(
        st.sampled_from(["ReplicaSet", "DaemonSet", "Job", "StatefulSet", "Node"]), max_size=2
    ).map(tuple),
    is_mirror=st.booleans(),
    deletion_timestamp=st.none() | st.timedeltas(timedelta(0), timedelta(hours=1)).map(NOW.__sub__),
    has_emptydir=st.booleans(),
    phase=st.sampled_from(PodPhase),
)
POLICIES = st.builds(
    DrainPolicy,
    force=st.booleans(),
    delete_emptydir_data=st.booleans(),
    skip_wait_for_delete_timeout=st.none() | st.timedeltas(timedelta(0), timedelta(minutes=30)),
)


@given(st.lists(PODS, max_size=12), POLICIES)
def test_every_pod_lands_in_exactly_one_bucket(pods: list[Pod], policy: DrainPolicy) -> None:
    plan = plan_evictions(pods, policy, NOW)
    buckets = [
        *plan.evict,
        *plan.delete,
        *(s.pod for s in plan.skipped),
        *(r.pod for r in plan.refused),
    ]
    assert sorted(buckets, key=id) == sorted(pods, key=id)


@given(st.lists(PODS, max_size=12), POLICIES)
def test_daemonset_mirror_and_terminating_pods_are_never_evicted_or_deleted(
    pods: list[Pod], policy: DrainPolicy
) -> None:
    plan = plan_evictions(pods, policy, NOW)
    for pod in (*plan.evict, *plan.delete):
        assert "DaemonSet" not in pod.owner_kinds
        assert not pod.is_mirror
        assert pod.deletion_timestamp is None
    for pod in plan.evict:
        assert pod.owner_kinds or policy.force
        assert not pod.has_emptydir or policy.delete_emptydir_data
        assert pod.phase not in {PodPhase.SUCCEEDED, PodPhase.FAILED}


@given(
    st.lists(PODS, max_size=12),
    POLICIES,
    st.timedeltas(timedelta(0), timedelta(hours=2)),
    st.booleans(),
)
def test_drain_ends_by_the_deadline_and_only_empty_nodes_are_deleted_unforced(
    pods: list[Pod], policy: DrainPolicy, elapsed: timedelta, node_exists: bool
) -> None:
    clock = DrainClock(started_at=NOW, heartbeat_timeout=timedelta(minutes=5), policy=policy)
    progress = drain_progress(pods, policy, NOW)
    step = decide_drain_step(progress, clock, node_exists=node_exists, now=NOW + elapsed)
    if NOW + elapsed >= clock.deadline_at:
        assert not isinstance(step, ContinueDraining)
    if isinstance(step, FinishDrain) and step.delete_node:
        assert progress.done
    if isinstance(step, DrainTimedOut):
        assert step.delete_node == policy.force


@given(configured=st.none() | st.timedeltas(timedelta(0), timedelta(hours=1)))
def test_a_not_ready_node_waits_for_terminating_pods_at_most_the_grace(
    configured: timedelta | None,
) -> None:
    policy = DrainPolicy(skip_wait_for_delete_timeout=configured)
    assert policy_for_node(policy, node_ready=True) == policy
    dead = policy_for_node(policy, node_ready=False)
    assert dead.skip_wait_for_delete_timeout is not None
    assert dead.skip_wait_for_delete_timeout <= NOT_READY_TERMINATION_GRACE
    if configured is not None:
        assert dead.skip_wait_for_delete_timeout == min(configured, NOT_READY_TERMINATION_GRACE)
    assert replace(dead, skip_wait_for_delete_timeout=configured) == policy


def test_without_a_heartbeat_on_record_one_is_due_at_once() -> None:
    # The reconciler may find a lost event's action minutes after it began and seconds after
    # the cordon: the cordon says nothing of when the hook's heartbeat timeout started.
    busy = DrainProgress(remaining=(WEB.ref,))
    step = decide_drain_step(busy, CLOCK, node_exists=True, now=NOW + timedelta(seconds=1))
    assert isinstance(step, ContinueDraining) and step.heartbeat_due
