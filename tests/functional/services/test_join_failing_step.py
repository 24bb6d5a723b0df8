"""A join step that fails (CreateTags denied, CreateAccessEntry refused, an admission webhook
rejecting the amazon-vpc-cni write) fails the look, for the next one to try again; meanwhile the
join still owns its action: it heartbeats when one is due, so the hook does not time out into
its default result before the join's deadline, and at the deadline it ABANDONs with the reason
instead of trying the step once more."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace

import pytest

from tests.helpers.join_world import (
    GROUP,
    FakeAccessEntries,
    FakeAutoScaling,
    FakeCompute,
    FakeKube,
    JoinWorld,
)
from tests.helpers.join_world import launch_action as default_launch_action
from winnodes.decisions.join import Abandon
from winnodes.errors import AwsError, KubernetesError, WinNodesError
from winnodes.ports import LifecycleHook
from winnodes.services.join import JoinSettings, LaunchAction

TAGS_DENIED = "CreateTags failed: UnauthorizedOperation"
ENTRY_REFUSED = "CreateAccessEntry failed: InvalidParameterException"
IPAM_REJECTED = "PATCH amazon-vpc-cni: 403 denied by admission webhook"


class TagsDenied(FakeCompute):
    def tag_instances(self, instance_ids: Sequence[str], tags: Mapping[str, str]) -> list[str]:
        self.journal.append("ec2.create_tags failed")
        raise AwsError(TAGS_DENIED)


class EntryRefused(FakeAccessEntries):
    def ensure_windows_node_entry(self, cluster: str, role_arn: str) -> bool:
        self.journal.append("eks.create_access_entry failed")
        raise AwsError(ENTRY_REFUSED)


class IpamRejected(FakeKube):
    def ensure_windows_ipam(self) -> bool:
        self.journal.append("kube.enable_windows_ipam failed")
        raise KubernetesError(IPAM_REJECTED, 403)


def tags_denied(world: JoinWorld) -> None:
    world.compute = TagsDenied(world.journal, tags={})


def entry_refused(world: JoinWorld) -> None:
    world.access_entries = EntryRefused(world.journal, entries=set())


def ipam_rejected(world: JoinWorld) -> None:
    world.kube = IpamRejected(world.journal, windows_ipam=False)


FAILING_STEPS: dict[str, tuple[Callable[[JoinWorld], None], str]] = {
    "tags": (tags_denied, "ec2.create_tags failed"),
    "access entry": (entry_refused, "eks.create_access_entry failed"),
    "windows ipam": (ipam_rejected, "kube.enable_windows_ipam failed"),
}
# The world's instance launched 5 minutes ago: with the default 600 s hook a heartbeat is due;
# with this one it is not.
HOUR_HOOK = LifecycleHook("join", "autoscaling:EC2_INSTANCE_LAUNCHING", 3600, "ABANDON")
PAST_THE_DEADLINE = 16 * 60  # seconds on: 21 minutes after the launch, the deadline 20


def world_failing(step: str) -> tuple[JoinWorld, str]:
    world = JoinWorld()
    fail, entry = FAILING_STEPS[step]
    fail(world)
    return world, entry


def launch_action(hook: LifecycleHook | None = None) -> LaunchAction:
    action = default_launch_action()
    return replace(action, hook=hook) if hook else action


@pytest.mark.parametrize("step", FAILING_STEPS)
def test_a_failing_step_heartbeats_the_hook_when_one_is_due(step: str) -> None:
    world, failed = world_failing(step)

    with pytest.raises(WinNodesError):
        world.service().advance(launch_action())

    assert world.journal[-2:] == [failed, "autoscaling.heartbeat"]
    assert world.autoscaling.completed == []


@pytest.mark.parametrize("step", FAILING_STEPS)
def test_a_failing_step_sends_no_heartbeat_before_one_is_due(step: str) -> None:
    world, failed = world_failing(step)

    with pytest.raises(WinNodesError):
        world.service().advance(launch_action(HOUR_HOOK))

    assert world.journal[-1] == failed
    assert "autoscaling.heartbeat" not in world.journal


@pytest.mark.parametrize("step", FAILING_STEPS)
def test_past_the_deadline_the_join_abandons_instead_of_failing_again(step: str) -> None:
    world, failed = world_failing(step)
    world.clock.elapsed = PAST_THE_DEADLINE

    result = world.service().advance(launch_action(HOUR_HOOK))

    assert isinstance(result.step, Abandon)
    assert world.autoscaling.completed == ["ABANDON"]
    assert failed not in world.journal


@pytest.mark.parametrize("step", FAILING_STEPS)
def test_a_pass_keeps_the_hook_alive_and_reports_the_failing_step(step: str) -> None:
    world, failed = world_failing(step)

    report = world.reconciler(JoinSettings()).reconcile()  # no smoke test: no pods to sweep

    assert world.journal[-2:] == [failed, "autoscaling.heartbeat"]
    assert world.autoscaling.completed == []
    assert report.errors
    assert all(error.startswith(GROUP) for error in report.errors)


AUTO_SCALING_DOWN = "RecordLifecycleActionHeartbeat failed: Read timeout"
COMPLETION_FAILED = "CompleteLifecycleAction failed: Read timeout"


class AutoScalingDown(FakeAutoScaling):
    """Auto Scaling's endpoint does not answer: every lifecycle call fails past the retries."""

    def record_heartbeat(self, **_: object) -> bool:
        self.journal.append("autoscaling.heartbeat failed")
        raise AwsError(AUTO_SCALING_DOWN)

    def complete_lifecycle_action(self, **_: object) -> bool:
        self.journal.append("autoscaling.complete failed")
        raise AwsError(COMPLETION_FAILED)


@pytest.mark.parametrize("step", FAILING_STEPS)
def test_the_steps_failure_is_raised_when_the_heartbeat_after_it_fails_too(
    step: str, caplog: pytest.LogCaptureFixture
) -> None:
    world, failed = world_failing(step)
    world.autoscaling = AutoScalingDown(world.journal)

    with pytest.raises(WinNodesError) as raised:
        world.service().advance(launch_action())

    assert world.journal[-2:] == [failed, "autoscaling.heartbeat failed"]
    assert str(raised.value) != AUTO_SCALING_DOWN  # what to fix is the step, not the heartbeat
    assert [vars(r).get("error") for r in caplog.records if r.levelname == "WARNING"] == [
        AUTO_SCALING_DOWN
    ]


def test_a_completion_that_failed_is_not_followed_by_a_heartbeat() -> None:
    world = JoinWorld()
    world.autoscaling = AutoScalingDown(world.journal)

    with pytest.raises(AwsError, match=COMPLETION_FAILED):
        world.service(settings=JoinSettings()).advance(launch_action())  # Ready, heartbeat due

    assert world.journal[-1] == "autoscaling.complete failed"
    assert "autoscaling.heartbeat failed" not in world.journal
