"""A poll that fails once the action has been seen (an API server restarting during a control
plane update, throttling beyond the SDK's retries) is tried again at the next poll, for up to a
minute of failures in a row; then, or when the very first look fails, the invocation fails, and
Lambda's retry or the reconciler carries on."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest

from tests.helpers.join_world import JoinWorld, launch_action
from tests.helpers.leave_world import INSTANCE, LeaveWorld, terminate_action
from winnodes.decisions.drain import FinishDrain
from winnodes.decisions.join import CompleteContinue, WaitForNode
from winnodes.decisions.smoke import SmokeTestPolicy
from winnodes.errors import KubernetesError
from winnodes.services.join import JoinSettings

SETTINGS = JoinSettings(
    poll_interval=timedelta(seconds=2), smoke_test=SmokeTestPolicy(enabled=False)
)


def failed_polls(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [vars(r)["error"] for r in caplog.records if r.getMessage().startswith("poll failed")]


def test_a_join_rides_out_a_short_api_server_outage(caplog: pytest.LogCaptureFixture) -> None:
    world = JoinWorld()
    world.kube.ready_from_read = 5
    world.kube.outage = range(1, 4)  # the second to fourth looks

    result = world.service(settings=SETTINGS).join(launch_action())

    assert result.step == CompleteContinue()
    assert world.autoscaling.completed == ["CONTINUE"]
    assert failed_polls(caplog) == ["GET /api/v1/nodes: 503 Service Unavailable"] * 3
    # A failed poll costs no extra reads: the next asks again for the node, by name as ever,
    # and the group is not read again within its 15 s.
    assert world.journal.count("kube.list_nodes") == 1
    assert world.journal.count("kube.get_node") == 5
    assert world.journal.count("autoscaling.describe_group") == 1
    assert world.clock.elapsed == 10


def test_a_join_fails_after_a_minute_of_failed_polls() -> None:
    world = JoinWorld()
    world.kube.ready_from_read = 10**6
    world.kube.outage = range(1, 10**6)

    with pytest.raises(KubernetesError, match="503"):
        world.service(settings=SETTINGS).join(launch_action())

    # Failing from 2 s on, given up at 62 s.
    assert world.clock.elapsed == 62
    assert world.autoscaling.completed == []


def test_a_look_failing_at_the_end_of_the_budget_leaves_the_join_waiting(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # Looks at 0, 2, 4, 6 and 8 s: the last, when the budget is spent, meets a 503. The join is
    # left waiting for the reconciler, as after a good look, not failed for Lambda to retry.
    world = JoinWorld()
    world.kube.ready_from_read = 10**6
    world.kube.outage = range(4, 5)
    settings = replace(SETTINGS, wait_budget=timedelta(seconds=8))

    result = world.service(settings=settings).join(launch_action())

    assert not result.finished
    assert isinstance(result.step, WaitForNode)
    assert world.clock.elapsed == 8
    assert world.autoscaling.completed == []
    assert failed_polls(caplog) == ["GET /api/v1/nodes: 503 Service Unavailable"]


def test_a_join_whose_first_look_fails_fails_at_once() -> None:
    # Nothing was ever seen: more likely a setting than a blip, and the caller should hear it.
    world = JoinWorld()
    world.kube.outage = range(0, 10**6)

    with pytest.raises(KubernetesError, match="503"):
        world.service(settings=SETTINGS).join(launch_action())

    assert world.clock.elapsed == 0


def test_a_drain_rides_out_a_short_api_server_outage(caplog: pytest.LogCaptureFixture) -> None:
    world = LeaveWorld()
    world.kube.add_node(INSTANCE, pods=2)
    world.kube.kubelet = True
    world.kube.outage = range(1, 3)  # the pod lists right after the evictions

    result = world.service().leave(terminate_action())

    assert result.finished and result.step == FinishDrain(delete_node=True)
    assert world.autoscaling.completed == [(INSTANCE, "CONTINUE")]
    assert len(failed_polls(caplog)) == 2
