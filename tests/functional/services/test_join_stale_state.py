"""The reconciler completes actions by instance id (it has no token), on a group state it read at
the start of its pass. In a group with a warm pool one instance sees several launch actions: the
one its pass saw may have ended meanwhile and another begun, which a completion by instance id
would end instead. Such a completion, and the warm-pool cordon set or lifted, is decided again
on a fresh read of the group. Likewise a Node's Ready outlives its instance's stop: only one
reported since the instance's last start counts."""

from __future__ import annotations

from datetime import timedelta

from tests.helpers.join_world import CLUSTER, GROUP, INSTANCE, NOW, JoinWorld, launch_action
from winnodes.decisions.join import (
    NothingToDo,
    ReleaseToWarmPool,
    TagInstance,
    UncordonFromWarmPool,
    WaitForNode,
)
from winnodes.decisions.smoke import SmokeTestPolicy
from winnodes.ports import AutoScalingGroup, GroupInstance
from winnodes.services.fleet import FleetView
from winnodes.services.join import JoinService, JoinSettings

TAGS = {"eks-windows-nodes/managed": "true", "eks:cluster-name": CLUSTER}
NO_SMOKE_TEST = JoinSettings(smoke_test=SmokeTestPolicy(enabled=False))


def read_at_pass_start(state: str) -> AutoScalingGroup:
    return AutoScalingGroup(GROUP, TAGS, (GroupInstance(INSTANCE, state),), has_warm_pool=True)


def pass_with_stale_read(
    state_now: str, *, node_held_for_pool: bool = True
) -> tuple[JoinWorld, JoinService, FleetView]:
    """A group with a warm pool whose instance is at `state_now`, and a reconciler pass's view
    that read it at Warmed:Pending:Wait when the pass started."""
    world = JoinWorld()
    world.autoscaling.has_warm_pool = True
    world.autoscaling.state = state_now
    world.kube.unschedulable = world.kube.held_for_warm_pool = node_held_for_pool
    service = world.service(settings=NO_SMOKE_TEST)
    view = service.view()
    view.remember_groups([read_at_pass_start("Warmed:Pending:Wait")])
    return world, service, view


def test_a_release_seen_in_a_stale_read_is_not_applied_to_the_draw_that_followed() -> None:
    # Running pool: the event's invocation released the instance, scale-out drew it at once.
    # The node Ready, cordoned for the pool.
    world, service, view = pass_with_stale_read("Pending:Wait")

    result = service.advance(launch_action(), view)

    # On the stale read: ReleaseToWarmPool, a CONTINUE that Auto Scaling would have applied to
    # the draw, putting the node in service still cordoned and untested.
    # Decided on the fresh read instead: the draw's join begins, its start stamped on the
    # instance first; uncordon and CONTINUE follow once that join is through.
    assert result.step == TagInstance()
    assert world.autoscaling.completed == []
    assert world.journal.count("autoscaling.describe_group") == 1


def test_a_pool_cordon_seen_in_a_stale_read_is_not_set_on_a_node_drawn_into_service() -> None:
    # Running pool: released, drawn, uncordoned and CONTINUEd while the pass went on.
    world, service, view = pass_with_stale_read("InService", node_held_for_pool=False)

    result = service.advance(launch_action(), view)

    # On the stale read: CordonForWarmPool, taking an in-service node out of scheduling.
    assert result.step == NothingToDo("no launch action pending (state InService)")
    assert "kube.cordon_for_warm_pool" not in world.journal
    assert not world.kube.unschedulable
    assert world.journal.count("autoscaling.describe_group") == 1


def test_a_release_the_fresh_read_confirms_goes_ahead() -> None:
    world, service, view = pass_with_stale_read("Warmed:Pending:Wait")

    result = service.advance(launch_action(), view)

    assert result.step == ReleaseToWarmPool()
    assert world.autoscaling.completed == ["CONTINUE"]


def test_an_action_with_its_token_is_completed_without_reading_the_group_again() -> None:
    # The token names the action: nothing else can be completed by mistake.
    world, service, view = pass_with_stale_read("Warmed:Pending:Wait")
    action = launch_action()
    action.token = "token-of-the-launch-into-the-pool"

    result = service.advance(action, view)

    assert result.step == ReleaseToWarmPool()
    assert world.journal.count("autoscaling.describe_group") == 0


def test_a_ready_left_over_from_before_the_pools_stop_does_not_complete_the_draw() -> None:
    # Drawn from a Stopped pool seconds after the stop: the Node still shows the Ready its
    # kubelet reported before the stop (the instance started again 5 minutes ago).
    world = JoinWorld()
    world.kube.ready_reported_at = NOW - timedelta(minutes=5, seconds=40)
    world.kube.unschedulable = world.kube.held_for_warm_pool = True
    action = launch_action()

    result = world.service(settings=NO_SMOKE_TEST).advance(action)

    assert isinstance(result.step, WaitForNode) and result.step.reason == "node not Ready"
    assert world.autoscaling.completed == []

    # The restarted kubelet reports: the draw's join goes on.
    world.kube.ready_reported_at = NOW - timedelta(seconds=30)
    result = world.service(settings=NO_SMOKE_TEST).advance(action)

    assert result.step == UncordonFromWarmPool()
