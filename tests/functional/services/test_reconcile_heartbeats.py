"""Passes a minute apart heartbeat a held instance once per half of its hook's heartbeat timeout,
counting from the last heartbeat an earlier pass of the same container sent, not at every pass
once half the timeout since the action began is over (500 instances in an instance refresh would
otherwise cost 500 RecordLifecycleActionHeartbeat calls a minute). A new container knows no
earlier heartbeat and sends one when due by what it can read, as before."""

from __future__ import annotations

from tests.helpers.join_world import JoinWorld
from tests.helpers.leave_world import INSTANCE, LeaveWorld
from winnodes.services.join import JoinSettings
from winnodes.services.reconcile import ReconcileService

MINUTES = range(11)  # passes at these minutes after the first


def heartbeat_minutes(world: JoinWorld | LeaveWorld, reconciler: ReconcileService) -> list[int]:
    """The minutes (of MINUTES) whose pass sent a heartbeat."""
    minutes = []
    start = world.clock.elapsed
    for minute in MINUTES:
        world.clock.elapsed = start + minute * 60
        before = world.journal.count("autoscaling.heartbeat")
        reconciler.reconcile()
        if world.journal.count("autoscaling.heartbeat") > before:
            minutes.append(minute)
    return minutes


def test_a_waiting_launch_is_heartbeated_once_per_half_timeout_not_at_every_pass() -> None:
    # Launched 5 minutes before the first pass, with a 600 s hook: a heartbeat is due at once,
    # then every 300 s. The deadline (20 minutes) is not reached.
    world = JoinWorld()
    world.kube.ready_from_read = 10**6  # never Ready

    assert heartbeat_minutes(world, world.reconciler(JoinSettings())) == [0, 5, 10]
    assert world.autoscaling.completed == []


def test_a_new_container_heartbeats_when_due_by_the_actions_start() -> None:
    world = JoinWorld()
    world.kube.ready_from_read = 10**6
    world.reconciler(JoinSettings()).reconcile()
    world.clock.elapsed += 60

    world.reconciler(JoinSettings()).reconcile()  # a new service: no earlier heartbeat known

    assert world.journal.count("autoscaling.heartbeat") == 2


def test_a_draining_instance_is_heartbeated_once_per_half_timeout_not_at_every_pass() -> None:
    # With no heartbeat on record one is due at once (nothing says when the action began), then
    # every 300 s of the 600 s hook. The evicted pod stays Terminating: the drain goes on, short
    # of its 15-minute deadline.
    world = LeaveWorld()
    world.kube.add_node(INSTANCE, pods=1)
    reconciler = ReconcileService(
        fleet=world.fleet(), join=world.join_service(), leave=world.service(), clock=world.clock
    )

    assert heartbeat_minutes(world, reconciler) == [0, 5, 10]
    assert world.autoscaling.completed == []
