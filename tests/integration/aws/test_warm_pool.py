"""Warm pools in the local Auto Scaling: PutWarmPool fills the pool through the launch hook
(Warmed:Pending:Wait, then Warmed:Stopped or Warmed:Running), scale-out draws on it
(Pending:Wait, then InService), DescribeWarmPool lists and pages its instances while
DescribeAutoScalingGroups does not, ABANDON and timeouts terminate a warming instance."""

from __future__ import annotations

from functools import partial
from typing import Any, Literal

import pytest
from botocore.exceptions import ClientError

from localcloud.aws import AwsCloud
from tests.helpers.waiting import wait_for
from tests.integration.aws.helpers import LAUNCH, TERMINATE, Clients, Recorder, instances

pytestmark = pytest.mark.integration

LAUNCH_ACTION = "EC2 Instance-launch Lifecycle Action"
TERMINATE_ACTION = "EC2 Instance-terminate Lifecycle Action"


def pool(clients: Clients, group: str) -> dict[str, str]:
    """Instance id → LifecycleState, as DescribeWarmPool shows the pool (every page)."""
    pages = clients.autoscaling.get_paginator("describe_warm_pool").paginate(
        AutoScalingGroupName=group
    )
    return {i["InstanceId"]: i["LifecycleState"] for p in pages for i in p["Instances"]}


def ec2_state(clients: Clients, instance_id: str) -> tuple[str, Any]:
    found = clients.ec2.describe_instances(InstanceIds=[instance_id])
    raw = found["Reservations"][0]["Instances"][0]
    return raw["State"]["Name"], raw["LaunchTime"]


def complete(clients: Clients, group: str, instance_id: str, result: str = "CONTINUE") -> None:
    clients.autoscaling.complete_lifecycle_action(
        AutoScalingGroupName=group,
        LifecycleHookName="launch",
        InstanceId=instance_id,
        LifecycleActionResult=result,
    )


def origins(rec: Recorder, instance_id: str) -> list[tuple[str, str]]:
    return [
        (e["detail"]["Origin"], e["detail"]["Destination"])
        for e in rec.of(LAUNCH_ACTION)
        if e["detail"]["EC2InstanceId"] == instance_id
    ]


def test_a_stopped_pool_is_filled_through_the_launch_hook_and_scale_out_draws_on_it(
    aws: AwsCloud, clients: Clients, make_group: Any, sim_time: Any
) -> None:
    group = make_group(desired=0, hooks=(LAUNCH,))
    rec = Recorder(aws, group.name)
    clients.autoscaling.put_warm_pool(
        AutoScalingGroupName=group.name, MaxGroupPreparedCapacity=2, PoolState="Stopped"
    )

    warming = pool(clients, group.name)
    assert sorted(warming.values()) == ["Warmed:Pending:Wait"] * 2
    # The group's own instance list leaves the pool out; its size and settings are shown.
    described = clients.autoscaling.describe_auto_scaling_groups(
        AutoScalingGroupNames=[group.name]
    )["AutoScalingGroups"][0]
    assert described["Instances"] == []
    assert described["WarmPoolSize"] == 2
    assert described["WarmPoolConfiguration"]["PoolState"] == "Stopped"
    for instance_id in warming:
        wait_for(partial(origins, rec, instance_id), message="launch event")
        assert origins(rec, instance_id) == [("EC2", "WarmPool")]
        complete(clients, group.name, instance_id)
    assert set(pool(clients, group.name).values()) == {"Warmed:Stopped"}
    assert {ec2_state(clients, i)[0] for i in warming} == {"stopped"}
    launched_at = max(ec2_state(clients, i)[1] for i in warming)

    clients.autoscaling.set_desired_capacity(AutoScalingGroupName=group.name, DesiredCapacity=1)

    (drawn,) = instances(clients, group.name)
    assert drawn in warming  # no new instance from EC2: the pool's oldest
    assert instances(clients, group.name)[drawn] == "Pending:Wait"
    state, launch_time = ec2_state(clients, drawn)
    assert state == "running"
    assert launch_time >= launched_at  # "the time that the instance was last launched"
    wait_for(lambda: len(origins(rec, drawn)) == 2, message="second launch event")
    assert origins(rec, drawn) == [("EC2", "WarmPool"), ("WarmPool", "AutoScalingGroup")]
    # The pool keeps MaxGroupPreparedCapacity - desired = 1, and has one left.
    assert list(pool(clients, group.name).values()) == ["Warmed:Stopped"]
    complete(clients, group.name, drawn)
    assert instances(clients, group.name) == {drawn: "InService"}


def test_a_running_pool_keeps_its_instances_running_and_their_launch_time(
    aws: AwsCloud, clients: Clients, make_group: Any, sim_time: Any
) -> None:
    group = make_group(desired=0, hooks=(LAUNCH,))
    clients.autoscaling.put_warm_pool(
        AutoScalingGroupName=group.name, MaxGroupPreparedCapacity=1, PoolState="Running"
    )
    (warm,) = pool(clients, group.name)
    complete(clients, group.name, warm)
    assert pool(clients, group.name) == {warm: "Warmed:Running"}
    state, launched_at = ec2_state(clients, warm)
    assert state == "running"

    clients.autoscaling.set_desired_capacity(AutoScalingGroupName=group.name, DesiredCapacity=1)

    assert instances(clients, group.name) == {warm: "Pending:Wait"}
    assert ec2_state(clients, warm) == ("running", launched_at)
    assert pool(clients, group.name) == {}  # MaxGroupPreparedCapacity 1 is all in the group


def test_abandon_or_a_timeout_terminates_a_warming_instance_and_the_pool_replaces_it(
    aws: AwsCloud, clients: Clients, make_group: Any, sim_time: Any
) -> None:
    group = make_group(desired=0, hooks=(LAUNCH,), heartbeat=60)
    clients.autoscaling.put_warm_pool(
        AutoScalingGroupName=group.name, MinSize=1, MaxGroupPreparedCapacity=0
    )
    (first,) = pool(clients, group.name)

    complete(clients, group.name, first, "ABANDON")

    assert ec2_state(clients, first)[0] == "terminated"
    (second,) = pool(clients, group.name)
    assert second != first and pool(clients, group.name)[second] == "Warmed:Pending:Wait"
    sim_time.advance(61)  # the heartbeat timeout applies DefaultResult ABANDON
    assert ec2_state(clients, second)[0] == "terminated"
    assert list(pool(clients, group.name).values()) == ["Warmed:Pending:Wait"]
    assert second not in pool(clients, group.name)


def test_describe_warm_pool_pages_by_max_records_of_at_most_50(
    aws: AwsCloud, clients: Clients, make_group: Any, sim_time: Any
) -> None:
    group = make_group(desired=0, hooks=())
    plain = clients.autoscaling.describe_warm_pool(AutoScalingGroupName=group.name)
    assert plain["Instances"] == [] and "WarmPoolConfiguration" not in plain
    clients.autoscaling.put_warm_pool(AutoScalingGroupName=group.name, MinSize=5)

    first = clients.autoscaling.describe_warm_pool(AutoScalingGroupName=group.name, MaxRecords=2)
    assert len(first["Instances"]) == 2 and first["NextToken"]
    assert first["WarmPoolConfiguration"]["MinSize"] == 5
    every = pool(clients, group.name)
    assert len(every) == 10  # no MaxGroupPreparedCapacity: MaxSize 10 - desired 0
    assert set(every.values()) == {"Warmed:Stopped"}  # no launch hook: warmed at once
    with pytest.raises(ClientError) as error:
        clients.autoscaling.describe_warm_pool(AutoScalingGroupName=group.name, MaxRecords=51)
    assert error.value.response["Error"]["Code"] == "ValidationError"


def test_delete_warm_pool_terminates_its_instances(
    aws: AwsCloud, clients: Clients, make_group: Any, sim_time: Any
) -> None:
    group = make_group(desired=0, hooks=())
    clients.autoscaling.put_warm_pool(AutoScalingGroupName=group.name, MaxGroupPreparedCapacity=2)
    warm = sorted(pool(clients, group.name))

    clients.autoscaling.delete_warm_pool(AutoScalingGroupName=group.name)

    assert [ec2_state(clients, i)[0] for i in warm] == ["terminated", "terminated"]
    described = clients.autoscaling.describe_auto_scaling_groups(
        AutoScalingGroupNames=[group.name]
    )["AutoScalingGroups"][0]
    assert "WarmPoolConfiguration" not in described and "WarmPoolSize" not in described


def reusing_group(
    clients: Clients,
    make_group: Any,
    *,
    pool_state: Literal["Stopped", "Running"],
    heartbeat: int = 600,
) -> tuple[str, list[str]]:
    """Two instances in service, an empty pool (MaxGroupPreparedCapacity 2) that reuses them on
    scale in."""
    group = make_group(desired=2, hooks=(LAUNCH, TERMINATE), heartbeat=heartbeat).name
    for instance_id in instances(clients, group):
        complete(clients, group, instance_id)
    clients.autoscaling.put_warm_pool(
        AutoScalingGroupName=group,
        MaxGroupPreparedCapacity=2,
        PoolState=pool_state,
        InstanceReusePolicy={"ReuseOnScaleIn": True},
    )
    assert pool(clients, group) == {}
    return group, sorted(instances(clients, group))


def terminate_events(rec: Recorder, instance_id: str) -> list[tuple[str, str]]:
    return [
        (e["detail"]["Origin"], e["detail"]["Destination"])
        for e in rec.of(TERMINATE_ACTION)
        if e["detail"]["EC2InstanceId"] == instance_id
    ]


def test_scale_in_returns_an_instance_to_a_reusing_pool_through_the_terminate_hook(
    aws: AwsCloud, clients: Clients, make_group: Any, sim_time: Any
) -> None:
    group, in_service = reusing_group(clients, make_group, pool_state="Stopped")
    rec = Recorder(aws, group)
    described = clients.autoscaling.describe_auto_scaling_groups(AutoScalingGroupNames=[group])
    configuration = described["AutoScalingGroups"][0]["WarmPoolConfiguration"]
    assert configuration["InstanceReusePolicy"] == {"ReuseOnScaleIn": True}

    clients.autoscaling.set_desired_capacity(AutoScalingGroupName=group, DesiredCapacity=1)

    (returning,) = pool(clients, group)
    assert returning in in_service
    assert pool(clients, group) == {returning: "Warmed:Pending:Wait"}
    assert returning not in instances(clients, group)
    assert ec2_state(clients, returning)[0] == "running"  # held until the action completes
    wait_for(partial(terminate_events, rec, returning), message="terminate event")
    assert terminate_events(rec, returning) == [("AutoScalingGroup", "WarmPool")]
    # The launch hook has no action on it: completing it is refused, as AWS does.
    with pytest.raises(ClientError):
        complete(clients, group, returning)

    clients.autoscaling.complete_lifecycle_action(
        AutoScalingGroupName=group,
        LifecycleHookName="terminate",
        InstanceId=returning,
        LifecycleActionResult="CONTINUE",
    )

    assert pool(clients, group) == {returning: "Warmed:Stopped"}
    assert ec2_state(clients, returning)[0] == "stopped"
    # Scale-out draws it again, held by the launch hook (Origin WarmPool).
    clients.autoscaling.set_desired_capacity(AutoScalingGroupName=group, DesiredCapacity=2)
    assert instances(clients, group)[returning] == "Pending:Wait"
    assert ec2_state(clients, returning)[0] == "running"
    assert pool(clients, group) == {}


def test_a_return_that_times_out_still_enters_a_running_pool(
    aws: AwsCloud, clients: Clients, make_group: Any, sim_time: Any
) -> None:
    group, _ = reusing_group(clients, make_group, pool_state="Running", heartbeat=60)

    clients.autoscaling.set_desired_capacity(AutoScalingGroupName=group, DesiredCapacity=1)
    (returning,) = pool(clients, group)
    sim_time.advance(61)  # DefaultResult ABANDON: as for a termination, the instance goes on

    assert pool(clients, group) == {returning: "Warmed:Running"}
    assert ec2_state(clients, returning)[0] == "running"


def test_without_reuse_or_room_in_the_pool_scale_in_terminates(
    aws: AwsCloud, clients: Clients, make_group: Any, sim_time: Any
) -> None:
    group = make_group(desired=2, hooks=(LAUNCH, TERMINATE)).name
    for instance_id in instances(clients, group):
        complete(clients, group, instance_id)
    # Reuse, but MaxGroupPreparedCapacity 1 leaves the pool no room at desired 1.
    clients.autoscaling.put_warm_pool(
        AutoScalingGroupName=group,
        MaxGroupPreparedCapacity=1,
        InstanceReusePolicy={"ReuseOnScaleIn": True},
    )

    clients.autoscaling.set_desired_capacity(AutoScalingGroupName=group, DesiredCapacity=1)

    assert sorted(instances(clients, group).values()) == ["InService", "Terminating:Wait"]
    assert pool(clients, group) == {}
