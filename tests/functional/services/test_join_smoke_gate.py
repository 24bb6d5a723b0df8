"""JoinService with the smoke test, against in-memory fakes of its ports: one pod per node,
CONTINUE only after it succeeded, the pod removed after the action completed, and no second pod
when a duplicate already completed the action and removed the first."""

from __future__ import annotations

import pytest

from tests.helpers.join_world import (
    CLUSTER,
    GROUP,
    INSTANCE,
    NODE,
    NOW,
    POD,
    JoinWorld,
    launch_action,
)
from winnodes.decisions.drain import PodPhase
from winnodes.decisions.join import Abandon, CompleteContinue, NothingToDo, StartSmokeTest
from winnodes.decisions.smoke import SmokeTestPolicy
from winnodes.ports import AutoScalingGroup, GroupInstance
from winnodes.services.join import JoinService, JoinSettings


def test_one_pod_pinned_to_the_node_and_continue_only_once_it_succeeded() -> None:
    world = JoinWorld()
    service = world.service()
    assert service.advance(launch_action()).step == StartSmokeTest(
        "mcr.microsoft.com/windows/nanoserver:ltsc2022"
    )
    (manifest,) = world.pods.created
    assert manifest["metadata"]["name"] == POD and manifest["spec"]["nodeName"] == NODE

    waiting = service.advance(launch_action())
    assert not waiting.finished and world.autoscaling.completed == []
    assert len(world.pods.created) == 1

    world.pods.finish(PodPhase.SUCCEEDED, 0)
    done = service.advance(launch_action())
    assert done.step == CompleteContinue() and done.finished
    assert world.autoscaling.completed == ["CONTINUE"]
    assert world.pods.deleted == [POD]


def test_a_failed_pod_abandons_the_action_and_is_removed() -> None:
    world = JoinWorld()
    service = world.service()
    service.advance(launch_action())
    world.pods.finish(PodPhase.FAILED, 1)
    result = service.advance(launch_action())
    assert isinstance(result.step, Abandon) and result.step.smoke_test_failed
    assert "exit code 1" in result.step.reason
    assert world.autoscaling.completed == ["ABANDON"]
    assert world.pods.deleted == [POD]


def test_a_pod_found_gone_because_a_duplicate_completed_the_action_is_not_started_again() -> None:
    # A reconciler pass listed the group while the action was pending; meanwhile the lifecycle
    # handler completed it and removed the pod. The pass must not start a second pod.
    world = JoinWorld()
    world.autoscaling.state = "InService"
    service = world.service()
    view = service.view()
    view.remember_groups([AutoScalingGroup(GROUP, {}, (GroupInstance(INSTANCE, "Pending:Wait"),))])
    result = service.advance(launch_action(), view)
    assert isinstance(result.step, NothingToDo)
    assert world.pods.created == []


def test_a_pod_that_cannot_be_removed_does_not_fail_the_completed_action() -> None:
    world = JoinWorld()
    service = world.service()
    service.advance(launch_action())
    world.pods.finish(PodPhase.SUCCEEDED, 0)
    world.pods.delete_fails = True
    result = service.advance(launch_action())
    assert result.finished and world.autoscaling.completed == ["CONTINUE"]


def test_with_the_smoke_test_disabled_no_pod_is_read_or_made() -> None:
    world = JoinWorld()
    service = world.service(SmokeTestPolicy(enabled=False))
    result = service.advance(launch_action())
    assert result.step == CompleteContinue()
    assert world.pods.reads == 0
    assert world.pods.created == [] and world.pods.deleted == []


def test_enabling_the_smoke_test_without_smoke_pods_is_refused() -> None:
    world = JoinWorld()
    with pytest.raises(ValueError, match="smoke test"):
        JoinService(
            fleet=world.fleet(),
            access_entries=world.access_entries,
            clock=world.clock,
            settings=JoinSettings(smoke_test=SmokeTestPolicy(enabled=True)),
        )


def test_with_the_smoke_test_disabled_looking_for_leftover_pods_makes_no_call() -> None:
    world = JoinWorld()
    service = world.service(SmokeTestPolicy(enabled=False))
    removed = service.remove_leftover_smoke_pods(
        CLUSTER, service.view(), awaiting_launch=set(), groups_read_at=NOW
    )
    assert removed == 0 and world.journal == [] and world.pods.reads == 0
