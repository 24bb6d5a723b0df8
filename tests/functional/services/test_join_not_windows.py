"""A managed group's instance that is not Windows (a launch template with a Linux AMI) is
ABANDONed at once, with nothing done for it first: no tags, no authorization, no IPAM."""

from __future__ import annotations

from tests.helpers.join_world import JoinWorld, launch_action
from winnodes.decisions.join import Abandon
from winnodes.ports import InstancePlatform


def test_a_linux_instance_is_abandoned_before_anything_is_done_for_it() -> None:
    world = JoinWorld()
    world.compute.platform = InstancePlatform.LINUX
    world.compute.tags = {}

    result = world.service().join(launch_action())

    assert isinstance(result.step, Abandon) and "not a Windows instance" in result.step.reason
    assert world.autoscaling.completed == ["ABANDON"]
    assert not [
        call
        for call in world.journal
        if call.startswith(("ec2.create_tags", "eks.create", "kube.enable", "kube.write"))
    ]
