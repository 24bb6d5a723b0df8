"""Leave against the real kube-apiserver: a terminating instance's Node is cordoned, drained with
evictions that honour PodDisruptionBudgets, deleted, and the terminate action completed; a drain
never outlives its deadline. The Auto Scaling side is the in-memory group double."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest

from localcloud.kube import KubeCloud
from localcloud.kube.waiting import wait_until
from tests.integration.leave.conftest import node_exists, read_node
from winnodes.adapters.kube.drain import (
    DRAIN_STARTED_ANNOTATION,
    EXCLUDE_FROM_LOAD_BALANCERS_LABEL,
)
from winnodes.decisions.drain import DrainPolicy, DrainTimedOut, FinishDrain
from winnodes.services.leave import NotTerminating

pytestmark = pytest.mark.integration


def _nodes_of(pods: list[dict]) -> set[str]:
    return {p["spec"]["nodeName"] for p in pods}


def test_scale_in_drains_the_node_deletes_it_and_completes_continue(
    kube: KubeCloud, windows_node, workloads, leave_for
) -> None:
    old = windows_node()
    workloads.deployment("web", replicas=4)
    assert _nodes_of(workloads.wait_running("web", 4)) == {old.name}
    new = windows_node()
    leave = leave_for()
    leave.group.terminate(old.spec.instance_id)

    result = leave.service.leave(leave.action(old.spec.instance_id))

    assert result.finished and isinstance(result.step, FinishDrain)
    assert leave.group.completions == [(old.spec.instance_id, "CONTINUE")]
    assert not node_exists(kube, old.name)
    assert len(set(leave.drain.evicted)) == 4  # every pod went through the Eviction API
    assert leave.drain.deleted == []
    assert _nodes_of(workloads.wait_running("web", 4)) == {new.name}


def test_the_node_is_cordoned_labelled_and_stamped_before_any_eviction(
    kube: KubeCloud, windows_node, workloads, leave_for
) -> None:
    old = windows_node()
    workloads.deployment("web", replicas=1)
    workloads.wait_running("web", 1)
    workloads.pdb("web", minAvailable=1)  # nothing may leave: the drain stays at its first step
    workloads.wait_pdb_allows("web", 0)
    leave = leave_for()
    leave.group.terminate(old.spec.instance_id)

    result = leave.service.advance(leave.action(old.spec.instance_id))

    assert not result.finished
    node = read_node(kube, old.name)
    assert node["spec"]["unschedulable"] is True
    assert node["metadata"]["labels"][EXCLUDE_FROM_LOAD_BALANCERS_LABEL] == "true"
    assert DRAIN_STARTED_ANNOTATION in node["metadata"]["annotations"]
    assert result.blocked_by_pdb == 1
    assert result.progress.blocking_pdbs == (f"{workloads.namespace}/web",)
    assert leave.group.completions == []


def test_pdb_blocked_evictions_are_retried_until_the_budget_allows(
    kube: KubeCloud, windows_node, workloads, leave_for
) -> None:
    old = windows_node()
    workloads.deployment("web", replicas=2)
    workloads.wait_running("web", 2)
    workloads.pdb("web", minAvailable=2)
    workloads.wait_pdb_allows("web", 0)
    new = windows_node()
    leave = leave_for()
    leave.group.terminate(old.spec.instance_id)
    action = leave.action(old.spec.instance_id)

    blocked = leave.service.advance(action)
    assert not blocked.finished
    assert blocked.blocked_by_pdb == 2
    assert 429 in leave.drain.statuses

    workloads.patch_pdb("web", minAvailable=1)  # the owner relaxes the budget
    result = leave.service.leave(action)

    assert result.finished and isinstance(result.step, FinishDrain)
    assert leave.group.completions == [(old.spec.instance_id, "CONTINUE")]
    assert not node_exists(kube, old.name)
    assert _nodes_of(workloads.wait_running("web", 2)) == {new.name}


def test_a_budget_that_never_allows_ends_at_the_deadline_with_continue(
    kube: KubeCloud, windows_node, workloads, leave_for
) -> None:
    old = windows_node()
    workloads.deployment("web", replicas=1)
    workloads.wait_running("web", 1)
    workloads.pdb("web", minAvailable=1)
    workloads.wait_pdb_allows("web", 0)
    leave = leave_for(policy=DrainPolicy(timeout=timedelta(minutes=15)))
    leave.group.terminate(old.spec.instance_id)

    first = leave.service.advance(leave.action(old.spec.instance_id))
    assert not first.finished
    leave.clock.offset = timedelta(minutes=16)
    # A fresh action, as the reconciler's next tick builds: the deadline comes from the Node.
    result = leave.service.advance(leave.action(old.spec.instance_id))

    assert result.finished and isinstance(result.step, DrainTimedOut)
    assert result.progress.blocking_pdbs == (f"{workloads.namespace}/web",)
    assert leave.group.completions == [(old.spec.instance_id, "CONTINUE")]
    # Not forced: the pod the budget protects stays, and so does its Node.
    assert node_exists(kube, old.name)
    assert len(workloads.running("web")) == 1


def test_forced_drain_deletes_what_is_left_at_the_deadline(
    kube: KubeCloud, windows_node, workloads, leave_for
) -> None:
    old = windows_node()
    workloads.deployment("web", replicas=1)
    workloads.wait_running("web", 1)
    workloads.pdb("web", minAvailable=1)
    workloads.wait_pdb_allows("web", 0)
    leave = leave_for(policy=DrainPolicy(force=True))
    leave.group.terminate(old.spec.instance_id)
    leave.service.advance(leave.action(old.spec.instance_id))

    leave.clock.offset = timedelta(minutes=16)
    result = leave.service.advance(leave.action(old.spec.instance_id))

    assert isinstance(result.step, DrainTimedOut) and result.step.delete_remaining_pods
    assert leave.group.completions == [(old.spec.instance_id, "CONTINUE")]
    assert not node_exists(kube, old.name)
    assert len(leave.drain.deleted) == 1


def test_an_instance_whose_node_never_joined_completes_at_once(
    kube: KubeCloud, windows_node, leave_for
) -> None:
    never = windows_node(authorize=False, wait=False)  # refused by the API: no Node
    leave = leave_for()
    leave.group.terminate(never.spec.instance_id)

    result = leave.service.advance(leave.action(never.spec.instance_id))

    assert result.finished and result.step == FinishDrain(delete_node=False)
    assert leave.group.completions == [(never.spec.instance_id, "CONTINUE")]
    assert leave.drain.evicted == [] and leave.drain.deleted_nodes == []


def test_daemonset_and_mirror_pods_are_left_alone(
    kube: KubeCloud, windows_node, workloads, leave_for
) -> None:
    old = windows_node()
    workloads.daemonset("agent")
    workloads.deployment("web", replicas=2)
    workloads.wait_running("agent", 1)
    workloads.wait_running("web", 2)
    agent = workloads.pods("agent")[0]["metadata"]["name"]
    leave = leave_for()
    leave.group.terminate(old.spec.instance_id)

    result = leave.service.leave(leave.action(old.spec.instance_id))

    assert result.finished and isinstance(result.step, FinishDrain)
    key = f"{workloads.namespace}/{agent}"
    assert key not in leave.drain.evicted and key not in leave.drain.deleted
    assert len(set(leave.drain.evicted)) == 2


def test_bare_pods_are_refused_unless_forced(
    kube: KubeCloud, windows_node, workloads, leave_for
) -> None:
    old = windows_node()
    workloads.bare_pod("lonely", old.name)
    workloads.wait_running("lonely", 1)
    leave = leave_for()
    leave.group.terminate(old.spec.instance_id)

    kept = leave.service.advance(leave.action(old.spec.instance_id))
    assert not kept.finished
    assert [str(r) for r in kept.progress.refused] == [f"{workloads.namespace}/lonely"]
    assert leave.drain.evicted == []

    forced = leave_for(policy=DrainPolicy(force=True))
    forced.group.terminate(old.spec.instance_id)
    result = forced.service.leave(forced.action(old.spec.instance_id))
    assert result.finished and forced.drain.evicted == [f"{workloads.namespace}/lonely"]
    assert not node_exists(kube, old.name)


def test_duplicated_events_end_in_one_completion_and_no_node(
    kube: KubeCloud, windows_node, workloads, leave_for
) -> None:
    old = windows_node()
    workloads.deployment("web", replicas=3)
    workloads.wait_running("web", 3)
    windows_node()
    leave = leave_for()
    leave.group.terminate(old.spec.instance_id)
    results = []

    def deliver() -> None:
        results.append(leave.service.leave(leave.action(old.spec.instance_id, token="t" * 36)))

    threads = [threading.Thread(target=deliver) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)

    assert len(results) == 2 and all(r.finished for r in results)
    assert leave.group.completions == [(old.spec.instance_id, "CONTINUE")]
    assert not node_exists(kube, old.name)
    workloads.wait_running("web", 3)
    # A third, late copy of the event finds nothing to do and touches nothing.
    late = leave.service.advance(leave.action(old.spec.instance_id))
    assert late.finished and isinstance(late.step, NotTerminating)


def test_terminate_event_while_the_launch_was_still_pending(
    kube: KubeCloud, windows_node, leave_for
) -> None:
    # Scale-in hit an instance still in Pending:Wait: its Node registered, the join never
    # completed. The terminate action still ends consistently: Node gone, action completed.
    booting = windows_node()
    leave = leave_for()
    leave.group.states[booting.spec.instance_id] = "Pending:Wait"

    early = leave.service.advance(leave.action(booting.spec.instance_id))
    assert isinstance(early.step, NotTerminating)  # not ours to drain yet
    assert read_node(kube, booting.name)["spec"].get("unschedulable") is not True

    leave.group.terminate(booting.spec.instance_id)
    result = leave.service.leave(leave.action(booting.spec.instance_id))
    assert result.finished and isinstance(result.step, FinishDrain)
    assert leave.group.completions == [(booting.spec.instance_id, "CONTINUE")]
    assert not node_exists(kube, booting.name)


def test_the_reconciler_finishes_a_drain_whose_event_was_lost(
    kube: KubeCloud, windows_node, workloads, leave_for
) -> None:
    old = windows_node()
    workloads.deployment("web", replicas=3)
    workloads.wait_running("web", 3)
    windows_node()
    leave = leave_for(heartbeat_timeout=60)
    leave.group.terminate(old.spec.instance_id)  # no event ever arrives

    def tick() -> bool:
        # Each tick: a fresh view and action, one non-blocking step.
        view = leave.service.view()
        hook = leave.service.terminate_hook(leave.group.name, view=view)
        assert hook is not None
        return leave.service.advance(leave.action(old.spec.instance_id), view).finished

    assert not tick()  # cordons and evicts
    leave.clock.offset = timedelta(seconds=45)  # past half the heartbeat timeout
    wait_until(tick, timeout=60, message="drain finished by reconciler ticks")

    assert leave.group.completions == [(old.spec.instance_id, "CONTINUE")]
    assert leave.group.heartbeats  # the hook was kept alive while it drained
    assert not node_exists(kube, old.name)
