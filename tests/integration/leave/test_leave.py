"""Leave on the local cloud: a terminating instance's Node is cordoned, drained with evictions
that honour PodDisruptionBudgets, deleted, and the terminate action completed; a drain never
outlives its deadline. Each test's group runs on moto's Auto Scaling, whose terminate hook holds
the instance in Terminating:Wait until the drain engine, driven here step by step, completes it."""

from __future__ import annotations

import threading
from datetime import timedelta
from typing import Any

import pytest

from localcloud.kube import KubeCloud
from localcloud.kube.waiting import wait_until
from tests.helpers.workloads import Workloads
from tests.integration.leave.conftest import (
    GONE,
    LeaveFactory,
    PoolFactory,
    node_exists,
    read_node,
)
from winnodes.adapters.kube.drain import (
    DRAIN_STARTED_ANNOTATION,
    EXCLUDE_FROM_LOAD_BALANCERS_LABEL,
)
from winnodes.decisions.drain import DrainPolicy, DrainTimedOut, FinishDrain
from winnodes.models.lifecycle import LifecycleTransition
from winnodes.services.leave import NotTerminating

pytestmark = pytest.mark.integration


def _nodes_of(pods: list[dict[str, Any]]) -> set[str]:
    return {p["spec"]["nodeName"] for p in pods}


def _blocked_by_pdb(workloads: Workloads, app: str, replicas: int) -> None:
    """`replicas` running pods of `app` under a budget that lets none of them go."""
    workloads.deployment(app, replicas=replicas)
    workloads.wait_running(app, replicas)
    workloads.pdb(app, min_available=replicas)
    workloads.wait_pdb_allows(app, 0)


def test_scale_in_drains_the_node_deletes_it_and_completes_continue(
    kube: KubeCloud, pool: PoolFactory, workloads: Workloads, leave_for: LeaveFactory
) -> None:
    group = pool()
    (old,) = group.scale_to(1)
    workloads.deployment("web", replicas=4)
    assert _nodes_of(workloads.wait_running("web", 4)) == {old.name}
    (new,) = group.scale_to(2)
    leave = leave_for(group)
    group.terminate(old.instance_id)

    result = leave.service.leave(leave.action(old.instance_id))

    assert result.finished and isinstance(result.step, FinishDrain)
    assert leave.autoscaling.completions == [(old.instance_id, "CONTINUE")]
    assert group.state(old.instance_id) in GONE
    assert group.state(new.instance_id) == "InService"
    assert not node_exists(kube, old.name)
    assert len(set(leave.drain.evicted)) == 4  # every pod went through the Eviction API
    assert leave.drain.deleted == []
    assert _nodes_of(workloads.wait_running("web", 4)) == {new.name}


def test_the_node_is_cordoned_labelled_and_stamped_before_any_eviction(
    kube: KubeCloud, pool: PoolFactory, workloads: Workloads, leave_for: LeaveFactory
) -> None:
    group = pool()
    (old,) = group.scale_to(1)
    _blocked_by_pdb(workloads, "web", 1)  # nothing may leave: the drain stays at its first step
    leave = leave_for(group)
    group.terminate(old.instance_id)

    result = leave.service.advance(leave.action(old.instance_id))

    assert not result.finished
    node = read_node(kube, old.name)
    assert node["spec"]["unschedulable"] is True
    assert node["metadata"]["labels"][EXCLUDE_FROM_LOAD_BALANCERS_LABEL] == "true"
    assert DRAIN_STARTED_ANNOTATION in node["metadata"]["annotations"]
    assert result.blocked_by_pdb == 1
    assert result.progress.blocking_pdbs == (f"{workloads.namespace}/web",)
    assert leave.autoscaling.completions == []
    assert group.state(old.instance_id) == "Terminating:Wait"


def test_pdb_blocked_evictions_are_retried_until_the_budget_allows(
    kube: KubeCloud, pool: PoolFactory, workloads: Workloads, leave_for: LeaveFactory
) -> None:
    group = pool()
    (old,) = group.scale_to(1)
    _blocked_by_pdb(workloads, "web", 2)
    (new,) = group.scale_to(2)
    leave = leave_for(group)
    group.terminate(old.instance_id)
    action = leave.action(old.instance_id)

    blocked = leave.service.advance(action)
    assert not blocked.finished
    assert blocked.blocked_by_pdb == 2
    assert 429 in leave.drain.statuses

    workloads.set_pdb_min_available("web", 1)  # the owner relaxes the budget
    before = (leave.autoscaling.group_reads, leave.clusters.described, leave.drain.drains_built)
    result = leave.service.leave(action)

    assert result.finished and isinstance(result.step, FinishDrain)
    # One invocation: the cluster described once and one drain (one policy API discovery) for
    # all its polls; the group read at the start and every 15 s after (test_leave_pacing).
    group_reads, described, drains = (
        leave.autoscaling.group_reads - before[0],
        leave.clusters.described - before[1],
        leave.drain.drains_built - before[2],
    )
    assert group_reads >= 1 and (described, drains) == (1, 1)
    assert leave.autoscaling.completions == [(old.instance_id, "CONTINUE")]
    assert group.state(old.instance_id) in GONE
    assert not node_exists(kube, old.name)
    assert _nodes_of(workloads.wait_running("web", 2)) == {new.name}


def test_a_budget_that_never_allows_ends_at_the_deadline_with_continue(
    kube: KubeCloud, pool: PoolFactory, workloads: Workloads, leave_for: LeaveFactory
) -> None:
    group = pool()
    (old,) = group.scale_to(1)
    _blocked_by_pdb(workloads, "web", 1)
    leave = leave_for(group, policy=DrainPolicy(timeout=timedelta(minutes=15)))
    group.terminate(old.instance_id)

    first = leave.service.advance(leave.action(old.instance_id))
    assert not first.finished
    leave.clock.offset = timedelta(minutes=16)
    # A fresh action, as the reconciler's next tick builds: the deadline comes from the Node.
    result = leave.service.advance(leave.action(old.instance_id))

    assert result.finished and isinstance(result.step, DrainTimedOut)
    assert result.progress.blocking_pdbs == (f"{workloads.namespace}/web",)
    assert leave.autoscaling.completions == [(old.instance_id, "CONTINUE")]
    assert group.state(old.instance_id) in GONE
    # Not forced: the pod the budget protects was not evicted, and its Node was not deleted.
    assert node_exists(kube, old.name)
    assert leave.drain.deleted == [] and leave.drain.deleted_nodes == []
    assert len(workloads.running("web")) == 1


def test_forced_drain_deletes_what_is_left_at_the_deadline(
    kube: KubeCloud, pool: PoolFactory, workloads: Workloads, leave_for: LeaveFactory
) -> None:
    group = pool()
    (old,) = group.scale_to(1)
    _blocked_by_pdb(workloads, "web", 1)
    leave = leave_for(group, policy=DrainPolicy(force=True))
    group.terminate(old.instance_id)
    leave.service.advance(leave.action(old.instance_id))

    leave.clock.offset = timedelta(minutes=16)
    result = leave.service.advance(leave.action(old.instance_id))

    assert isinstance(result.step, DrainTimedOut) and result.step.delete_remaining_pods
    assert leave.autoscaling.completions == [(old.instance_id, "CONTINUE")]
    assert group.state(old.instance_id) in GONE
    assert not node_exists(kube, old.name)
    assert len(leave.drain.deleted) == 1


def test_an_instance_whose_node_never_joined_completes_at_once(
    pool: PoolFactory, leave_for: LeaveFactory
) -> None:
    # Nobody joins it and its role is not mapped: the API refuses its kubelet, no Node exists.
    group = pool(joins=False)
    (never,) = group.launch(1)
    kubelet = group.kubelet(never)
    wait_until(lambda: kubelet.registration_failures, timeout=30, message="kubelet refused")
    group.complete_launch(never)
    group.terminate(never)
    leave = leave_for(group)

    result = leave.service.advance(leave.action(never))

    assert result.finished and result.step == FinishDrain(delete_node=False)
    assert leave.autoscaling.completions == [(never, "CONTINUE")]
    assert group.state(never) in GONE
    assert leave.drain.evicted == [] and leave.drain.deleted_nodes == []


def test_daemonset_and_mirror_pods_are_left_alone(
    kube: KubeCloud, pool: PoolFactory, workloads: Workloads, leave_for: LeaveFactory
) -> None:
    group = pool()
    (old,) = group.scale_to(1)
    workloads.daemonset("agent")
    workloads.static_pod("proxy", old.name)
    workloads.deployment("web", replicas=2)
    workloads.wait_running("agent", 1)
    workloads.wait_running("proxy", 1)
    workloads.wait_running("web", 2)
    agent = workloads.pods("agent")[0]["metadata"]["name"]
    leave = leave_for(group)
    group.terminate(old.instance_id)

    result = leave.service.leave(leave.action(old.instance_id))

    assert result.finished and isinstance(result.step, FinishDrain)
    for name in (agent, "proxy"):
        key = f"{workloads.namespace}/{name}"
        assert key not in leave.drain.evicted and key not in leave.drain.deleted
    assert len(set(leave.drain.evicted)) == 2
    assert leave.autoscaling.completions == [(old.instance_id, "CONTINUE")]


def test_bare_pods_are_refused_unless_forced(
    kube: KubeCloud, pool: PoolFactory, workloads: Workloads, leave_for: LeaveFactory
) -> None:
    group = pool()
    (old,) = group.scale_to(1)
    workloads.bare_pod("lonely", old.name)
    workloads.wait_running("lonely", 1)
    leave = leave_for(group)
    group.terminate(old.instance_id)

    kept = leave.service.advance(leave.action(old.instance_id))
    assert not kept.finished
    assert [str(r) for r in kept.progress.refused] == [f"{workloads.namespace}/lonely"]
    assert leave.drain.evicted == []
    assert group.state(old.instance_id) == "Terminating:Wait"

    forced = leave_for(group, policy=DrainPolicy(force=True))
    result = forced.service.leave(forced.action(old.instance_id))
    assert result.finished and forced.drain.evicted == [f"{workloads.namespace}/lonely"]
    assert forced.autoscaling.completions == [(old.instance_id, "CONTINUE")]
    assert not node_exists(kube, old.name)


def test_duplicated_events_end_in_one_completion_and_no_node(
    kube: KubeCloud, pool: PoolFactory, workloads: Workloads, leave_for: LeaveFactory
) -> None:
    group = pool()
    (old,) = group.scale_to(1)
    workloads.deployment("web", replicas=3)
    workloads.wait_running("web", 3)
    group.scale_to(2)
    leave = leave_for(group)
    group.terminate(old.instance_id)
    token = group.terminate_token(old.instance_id)
    results = []

    def deliver() -> None:
        results.append(leave.service.leave(leave.action(old.instance_id, token=token)))

    threads = [threading.Thread(target=deliver) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)

    assert len(results) == 2 and all(r.finished for r in results)
    assert leave.autoscaling.completions == [(old.instance_id, "CONTINUE")]
    assert group.state(old.instance_id) in GONE
    assert not node_exists(kube, old.name)
    workloads.wait_running("web", 3)
    # A third, late copy of the event finds nothing to do and touches nothing.
    late = leave.service.advance(leave.action(old.instance_id, token=token))
    assert late.finished and isinstance(late.step, NotTerminating)
    assert leave.autoscaling.completions == [(old.instance_id, "CONTINUE")]


def test_terminate_event_while_the_launch_was_still_pending(
    kube: KubeCloud, pool: PoolFactory, leave_for: LeaveFactory
) -> None:
    # Scale-in hit an instance still in Pending:Wait: its Node registered (its role is mapped),
    # the join never completed. The terminate action still ends consistently: Node gone,
    # action completed.
    group = pool(joins=False, authorized=True)
    (instance_id,) = group.launch(1)
    booting = group.wait_node(instance_id)
    leave = leave_for(group)

    early = leave.service.advance(leave.action(instance_id))
    assert isinstance(early.step, NotTerminating)  # not ours to drain yet
    assert early.step.lifecycle_state == "Pending:Wait"
    assert read_node(kube, booting.name)["spec"].get("unschedulable") is not True
    assert leave.autoscaling.completions == []

    group.terminate(instance_id)  # the pending launch action ends; the terminate hook holds it
    result = leave.service.leave(leave.action(instance_id))
    assert result.finished and isinstance(result.step, FinishDrain)
    assert leave.autoscaling.completions == [(instance_id, "CONTINUE")]
    assert group.state(instance_id) in GONE
    assert not node_exists(kube, booting.name)


def test_the_reconciler_finishes_a_drain_whose_event_was_lost(
    kube: KubeCloud, pool: PoolFactory, workloads: Workloads, leave_for: LeaveFactory
) -> None:
    group = pool(heartbeat=60)
    (old,) = group.scale_to(1)
    workloads.deployment("web", replicas=3)
    workloads.wait_running("web", 3)
    group.scale_to(2)
    leave = leave_for(group)
    group.terminate(old.instance_id)  # its event reaches no handler

    def tick() -> bool:
        # Each tick: a fresh view and action, one non-blocking step.
        view = leave.service.view()
        hook = view.our_hook(leave.managed, LifecycleTransition.TERMINATING)
        assert hook == leave.hook
        return leave.service.advance(leave.action(old.instance_id), view).finished

    assert not tick()  # cordons and evicts
    leave.clock.offset = timedelta(seconds=45)  # past half the heartbeat timeout
    wait_until(tick, timeout=60, message="drain finished by reconciler ticks")

    assert leave.autoscaling.completions == [(old.instance_id, "CONTINUE")]
    assert leave.autoscaling.heartbeats  # the hook was kept alive while it drained
    assert group.state(old.instance_id) in GONE
    assert not node_exists(kube, old.name)
