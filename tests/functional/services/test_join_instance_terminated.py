"""An instance terminated through EC2 (an operator, a Spot interruption, a failed host) while a
launch hook holds it: no node will come from it, and Auto Scaling checks no health before
InService, so the join ABANDONs its action at once, on the event path and in a pass alike,
without asking the cluster, and the group replaces it."""

from __future__ import annotations

import pytest

from tests.helpers.join_world import JoinWorld, launch_action
from winnodes.decisions.join import Abandon
from winnodes.services.join import JoinSettings

TERMINATED = Abandon("instance was terminated in EC2 before it joined")


@pytest.mark.parametrize("state", ["shutting-down", "terminated"])
def test_the_event_path_abandons_a_terminated_instance_at_once(state: str) -> None:
    world = JoinWorld()
    world.compute.state = state

    result = world.service().advance(launch_action())

    assert result.step == TERMINATED
    assert world.autoscaling.completed == ["ABANDON"]
    # Decided on the group and EC2 alone: the cluster is not asked, nothing is tagged.
    assert not [c for c in world.journal if not c.startswith(("autoscaling.", "ec2.describe"))]


def test_a_pass_abandons_a_terminated_instance_it_finds_held() -> None:
    world = JoinWorld()
    world.compute.state = "terminated"

    world.reconciler(JoinSettings()).reconcile()

    assert world.autoscaling.completed == ["ABANDON"]


def test_a_stopped_instance_is_still_waited_for() -> None:
    world = JoinWorld()
    world.compute.state = "stopped"

    result = world.service().advance(launch_action())

    assert not isinstance(result.step, Abandon)
    assert world.autoscaling.completed == []
