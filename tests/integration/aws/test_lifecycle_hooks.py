"""Lifecycle hooks that fire: scale-out and scale-in through Pending:Wait / Terminating:Wait, the
EventBridge events, CompleteLifecycleAction and heartbeats with their errors, timeouts; instances
terminated through EC2 (an operator, a Spot interruption) found by the group's health check."""

from __future__ import annotations

import json
import secrets
from typing import TYPE_CHECKING

import pytest
from botocore.exceptions import ClientError

from localcloud.aws import AwsCloud
from localcloud.aws.autoscaling import TERMINATED_VISIBLE_FOR
from tests.helpers.waiting import wait_for
from tests.integration.aws.helpers import (
    LAUNCH,
    TERMINATE,
    Clients,
    MakeGroup,
    Recorder,
    health,
    in_state,
    instances,
)

if TYPE_CHECKING:
    from tests.integration.aws.conftest import SimTime

pytestmark = pytest.mark.integration


def test_scale_out_waits_for_the_launch_hook_then_goes_in_service(
    aws: AwsCloud, clients: Clients, make_group: MakeGroup, sim_time: SimTime
) -> None:
    group = make_group(desired=0)
    rec = Recorder(aws, group.name)
    clients.autoscaling.set_desired_capacity(AutoScalingGroupName=group.name, DesiredCapacity=2)

    # The launches happen within SetDesiredCapacity; the events follow asynchronously.
    waiting = in_state(clients, group.name, "Pending:Wait")
    assert len(waiting) == 2
    launches = wait_for(
        lambda: found if len(found := rec.of("EC2 Instance-launch Lifecycle Action")) == 2 else None
    )
    assert sorted(e["detail"]["EC2InstanceId"] for e in launches) == waiting
    event = launches[0]
    assert event["source"] == "aws.autoscaling"
    assert event["account"] == aws.account_id and event["region"] == aws.region
    assert event["resources"][0].endswith(f"autoScalingGroupName/{group.name}")
    detail = event["detail"]
    assert detail["LifecycleTransition"] == LAUNCH
    assert detail["LifecycleHookName"] == "launch"
    assert detail["AutoScalingGroupName"] == group.name
    assert json.loads(detail["NotificationMetadata"]) == {"group": group.name}
    assert (detail["Origin"], detail["Destination"]) == ("EC2", "AutoScalingGroup")
    assert len(detail["LifecycleActionToken"]) == 36
    assert rec.contexts[0].function_name == f"recorder-{group.name}"
    assert rec.contexts[0].get_remaining_time_in_millis() > 0

    # The instances stay in Pending:Wait until their action completes: by token, by instance id.
    first, second = (e["detail"] for e in launches)
    clients.autoscaling.complete_lifecycle_action(
        AutoScalingGroupName=group.name,
        LifecycleHookName="launch",
        LifecycleActionToken=first["LifecycleActionToken"],
        LifecycleActionResult="CONTINUE",
    )
    assert instances(clients, group.name)[first["EC2InstanceId"]] == "InService"
    assert instances(clients, group.name)[second["EC2InstanceId"]] == "Pending:Wait"
    clients.autoscaling.complete_lifecycle_action(
        AutoScalingGroupName=group.name,
        LifecycleHookName="launch",
        InstanceId=second["EC2InstanceId"],
        LifecycleActionResult="CONTINUE",
    )
    described = clients.autoscaling.describe_auto_scaling_instances(
        InstanceIds=[first["EC2InstanceId"], second["EC2InstanceId"]]
    )["AutoScalingInstances"]
    assert {i["LifecycleState"] for i in described} == {"InService"}

    # A completed action is gone: completing it again is the documented ValidationError.
    with pytest.raises(ClientError) as error:
        clients.autoscaling.complete_lifecycle_action(
            AutoScalingGroupName=group.name,
            LifecycleHookName="launch",
            LifecycleActionToken=first["LifecycleActionToken"],
            LifecycleActionResult="CONTINUE",
        )
    assert error.value.response["Error"]["Code"] == "ValidationError"
    assert "No active Lifecycle Action found with token" in error.value.response["Error"]["Message"]


def test_scale_in_waits_for_the_terminate_hook_then_terminates(
    aws: AwsCloud, clients: Clients, make_group: MakeGroup, sim_time: SimTime
) -> None:
    group = make_group(desired=2, hooks=(TERMINATE,))
    in_service = in_state(clients, group.name, "InService")  # no launch hook: at once
    assert len(in_service) == 2
    rec = Recorder(aws, group.name)

    clients.autoscaling.set_desired_capacity(AutoScalingGroupName=group.name, DesiredCapacity=1)
    (leaving,) = in_state(clients, group.name, "Terminating:Wait")
    (staying,) = set(in_service) - {leaving}
    (event,) = wait_for(lambda: rec.of("EC2 Instance-terminate Lifecycle Action"))
    detail = event["detail"]
    assert detail["EC2InstanceId"] == leaving
    assert detail["LifecycleTransition"] == TERMINATE
    assert (detail["Origin"], detail["Destination"]) == ("AutoScalingGroup", "EC2")
    reservation = clients.ec2.describe_instances(InstanceIds=[leaving])["Reservations"][0]
    assert reservation["Instances"][0]["State"]["Name"] == "running"

    clients.autoscaling.record_lifecycle_action_heartbeat(
        AutoScalingGroupName=group.name,
        LifecycleHookName="terminate",
        LifecycleActionToken=detail["LifecycleActionToken"],
    )
    clients.autoscaling.complete_lifecycle_action(
        AutoScalingGroupName=group.name,
        LifecycleHookName="terminate",
        LifecycleActionToken=detail["LifecycleActionToken"],
        LifecycleActionResult="CONTINUE",
    )
    state = clients.ec2.describe_instances(InstanceIds=[leaving])["Reservations"][0]
    assert state["Instances"][0]["State"]["Name"] == "terminated"
    assert instances(clients, group.name) == {leaving: "Terminated", staying: "InService"}
    sim_time.advance(TERMINATED_VISIBLE_FOR)  # then the group forgets it
    assert instances(clients, group.name) == {staying: "InService"}


def test_terminate_instance_in_group_goes_through_the_hook(
    clients: Clients, make_group: MakeGroup, sim_time: SimTime
) -> None:
    group = make_group(desired=1, hooks=(TERMINATE,))
    (instance,) = in_state(clients, group.name, "InService")
    clients.autoscaling.terminate_instance_in_auto_scaling_group(
        InstanceId=instance, ShouldDecrementDesiredCapacity=True
    )
    assert instances(clients, group.name)[instance] == "Terminating:Wait"
    clients.autoscaling.complete_lifecycle_action(
        AutoScalingGroupName=group.name,
        LifecycleHookName="terminate",
        InstanceId=instance,
        LifecycleActionResult="ABANDON",
    )
    assert instances(clients, group.name) == {instance: "Terminated"}  # desired was decremented


def test_heartbeat_timeout_applies_the_default_result(
    aws: AwsCloud, clients: Clients, make_group: MakeGroup, sim_time: SimTime
) -> None:
    # DefaultResult ABANDON on launch: the instance is terminated and replaced.
    group = make_group(desired=1, hooks=(LAUNCH,), heartbeat=30, default_result="ABANDON")
    (first,) = in_state(clients, group.name, "Pending:Wait")
    sim_time.advance(29)
    assert instances(clients, group.name) == {first: "Pending:Wait"}
    sim_time.advance(1)
    (replacement,) = in_state(clients, group.name, "Pending:Wait")
    assert instances(clients, group.name) == {first: "Terminated", replacement: "Pending:Wait"}
    terminated = clients.ec2.describe_instances(InstanceIds=[first])["Reservations"][0]
    assert terminated["Instances"][0]["State"]["Name"] == "terminated"

    # DefaultResult CONTINUE: the instance goes InService when the hook times out.
    group2 = make_group(desired=1, hooks=(LAUNCH,), heartbeat=30, default_result="CONTINUE")
    (waiting,) = in_state(clients, group2.name, "Pending:Wait")
    sim_time.advance(29)
    assert instances(clients, group2.name) == {waiting: "Pending:Wait"}
    sim_time.advance(1)
    assert instances(clients, group2.name) == {waiting: "InService"}


def test_deleting_a_hook_completes_its_outstanding_actions_first(
    clients: Clients, make_group: MakeGroup, sim_time: SimTime
) -> None:
    # API_DeleteLifecycleHook: ABANDON for launching instances, whatever the default result...
    group = make_group(desired=1, hooks=(LAUNCH,), heartbeat=600, default_result="CONTINUE")
    (waiting,) = in_state(clients, group.name, "Pending:Wait")
    clients.autoscaling.delete_lifecycle_hook(
        AutoScalingGroupName=group.name, LifecycleHookName="launch"
    )
    (replacement,) = in_state(clients, group.name, "InService")  # launched without the hook
    assert instances(clients, group.name) == {waiting: "Terminated", replacement: "InService"}

    # ... and CONTINUE for terminating ones.
    leaving_group = make_group(desired=2, hooks=(TERMINATE,), default_result="ABANDON")
    clients.autoscaling.set_desired_capacity(
        AutoScalingGroupName=leaving_group.name, DesiredCapacity=1
    )
    (leaving,) = in_state(clients, leaving_group.name, "Terminating:Wait")
    clients.autoscaling.delete_lifecycle_hook(
        AutoScalingGroupName=leaving_group.name, LifecycleHookName="terminate"
    )
    assert instances(clients, leaving_group.name)[leaving] == "Terminated"
    assert not clients.autoscaling.describe_lifecycle_hooks(
        AutoScalingGroupName=leaving_group.name
    )["LifecycleHooks"]


def test_heartbeats_extend_the_wait_up_to_the_global_timeout(
    aws: AwsCloud, clients: Clients, make_group: MakeGroup, sim_time: SimTime
) -> None:
    group = make_group(desired=1, hooks=(LAUNCH,), heartbeat=30, default_result="CONTINUE")
    (instance,) = in_state(clients, group.name, "Pending:Wait")
    hook = clients.autoscaling.describe_lifecycle_hooks(AutoScalingGroupName=group.name)[
        "LifecycleHooks"
    ][0]
    assert hook["GlobalTimeout"] == 3000  # min(100 × 30 s, 48 h)
    assert hook["DefaultResult"] == "CONTINUE"
    heartbeat, global_timeout = hook["HeartbeatTimeout"], hook["GlobalTimeout"]

    # A heartbeat every 29 s keeps the instance waiting, far past one heartbeat timeout...
    elapsed = 0
    while elapsed + heartbeat <= global_timeout:
        sim_time.advance(29)
        elapsed += 29
        assert instances(clients, group.name)[instance] == "Pending:Wait", elapsed
        clients.autoscaling.record_lifecycle_action_heartbeat(
            AutoScalingGroupName=group.name, LifecycleHookName="launch", InstanceId=instance
        )
    # ...but the last one cannot reach past the global timeout: that is when CONTINUE applies.
    sim_time.advance(global_timeout - elapsed - 1)
    assert instances(clients, group.name)[instance] == "Pending:Wait"
    sim_time.advance(1)
    assert instances(clients, group.name)[instance] == "InService"


def test_unknown_actions_and_hooks_are_validation_errors(
    clients: Clients, make_group: MakeGroup
) -> None:
    group = make_group(desired=0)
    cases = [
        ({"LifecycleActionToken": "11111111-2222-3333-4444-555555555555"}, "token"),
        ({"InstanceId": "i-0123456789abcdef0"}, "instance ID"),
    ]
    for arguments, what in cases:
        for call in (
            clients.autoscaling.complete_lifecycle_action,
            clients.autoscaling.record_lifecycle_action_heartbeat,
        ):
            extra = {"LifecycleActionResult": "CONTINUE"} if "complete" in call.__name__ else {}
            with pytest.raises(ClientError) as error:
                call(
                    AutoScalingGroupName=group.name,
                    LifecycleHookName="launch",
                    **arguments,
                    **extra,
                )
            assert error.value.response["Error"]["Code"] == "ValidationError"
            assert f"No active Lifecycle Action found with {what}" in str(error.value)
    with pytest.raises(ClientError, match="No Lifecycle Hook found"):
        clients.autoscaling.complete_lifecycle_action(
            AutoScalingGroupName=group.name,
            LifecycleHookName="nope",
            InstanceId="i-0123456789abcdef0",
            LifecycleActionResult="CONTINUE",
        )
    with pytest.raises(ClientError, match="Heartbeat timeout"):
        clients.autoscaling.put_lifecycle_hook(
            AutoScalingGroupName=group.name,
            LifecycleHookName="short",
            LifecycleTransition=LAUNCH,
            HeartbeatTimeout=10,
        )


def ec2_state(clients: Clients, instance_id: str) -> str:
    reservation = clients.ec2.describe_instances(InstanceIds=[instance_id])["Reservations"][0]
    return str(reservation["Instances"][0]["State"]["Name"])


def test_an_instance_terminated_through_ec2_still_goes_through_the_terminate_hook(
    aws: AwsCloud, clients: Clients, make_group: MakeGroup, sim_time: SimTime
) -> None:
    # AWS: an instance no longer running is marked Unhealthy at the next health check and
    # terminated through the group, terminate hooks included ("when a Spot Instance terminates,
    # you must still complete the lifecycle action"), while a replacement launches.
    group = make_group(desired=2, hooks=(TERMINATE,), heartbeat=600)
    gone, staying = in_state(clients, group.name, "InService")
    rec = Recorder(aws, group.name)

    clients.ec2.terminate_instances(InstanceIds=[gone])
    assert ec2_state(clients, gone) == "terminated"  # the machine is gone at once
    sim_time.tick()  # the group's health check

    (replacement,) = set(instances(clients, group.name)) - {gone, staying}
    assert instances(clients, group.name) == {
        gone: "Terminating:Wait",
        staying: "InService",
        replacement: "InService",  # no launch hook: at once; desired capacity is kept
    }
    assert health(clients, group.name)[gone] == "Unhealthy"
    (event,) = wait_for(lambda: rec.of("EC2 Instance-terminate Lifecycle Action"))
    detail = event["detail"]
    assert detail["EC2InstanceId"] == gone
    assert detail["LifecycleTransition"] == TERMINATE
    assert (detail["Origin"], detail["Destination"]) == ("AutoScalingGroup", "EC2")
    described = clients.autoscaling.describe_auto_scaling_groups(AutoScalingGroupNames=[group.name])
    assert described["AutoScalingGroups"][0]["DesiredCapacity"] == 2

    # Nothing ends the wait but the action: completed here, else its heartbeat timeout.
    sim_time.advance(599)
    assert instances(clients, group.name)[gone] == "Terminating:Wait"
    clients.autoscaling.complete_lifecycle_action(
        AutoScalingGroupName=group.name,
        LifecycleHookName="terminate",
        LifecycleActionToken=detail["LifecycleActionToken"],
        LifecycleActionResult="CONTINUE",
    )
    assert instances(clients, group.name)[gone] == "Terminated"
    sim_time.advance(TERMINATED_VISIBLE_FOR)
    assert instances(clients, group.name) == {staying: "InService", replacement: "InService"}
    assert len(rec.of("EC2 Instance-terminate Lifecycle Action")) == 1


def test_without_a_terminate_hook_an_instance_terminated_through_ec2_is_replaced(
    aws: AwsCloud, clients: Clients, make_group: MakeGroup, sim_time: SimTime
) -> None:
    group = make_group(desired=1, hooks=())
    (gone,) = in_state(clients, group.name, "InService")
    rec = Recorder(aws, group.name)

    clients.ec2.terminate_instances(InstanceIds=[gone])
    sim_time.tick()

    (replacement,) = set(instances(clients, group.name)) - {gone}
    assert instances(clients, group.name) == {gone: "Terminated", replacement: "InService"}
    assert ec2_state(clients, replacement) == "running"
    sim_time.advance(TERMINATED_VISIBLE_FOR)
    assert instances(clients, group.name) == {replacement: "InService"}
    assert not rec.of("EC2 Instance-terminate Lifecycle Action")


def test_ec2_terminating_an_instance_in_a_transition(
    aws: AwsCloud, clients: Clients, make_group: MakeGroup, sim_time: SimTime
) -> None:
    # Already in Terminating:Wait: the action stays pending until it is completed.
    group = make_group(desired=1, hooks=(TERMINATE,))
    (leaving,) = in_state(clients, group.name, "InService")
    clients.autoscaling.set_desired_capacity(AutoScalingGroupName=group.name, DesiredCapacity=0)
    assert instances(clients, group.name) == {leaving: "Terminating:Wait"}
    clients.ec2.terminate_instances(InstanceIds=[leaving])
    sim_time.tick()
    assert instances(clients, group.name) == {leaving: "Terminating:Wait"}
    clients.autoscaling.complete_lifecycle_action(
        AutoScalingGroupName=group.name,
        LifecycleHookName="terminate",
        InstanceId=leaving,
        LifecycleActionResult="CONTINUE",
    )
    assert instances(clients, group.name) == {leaving: "Terminated"}

    # Still launching (Pending:Wait): it ends at once, its launch action dropped, and is
    # replaced.
    group2 = make_group(desired=1, hooks=(LAUNCH, TERMINATE))
    (launching,) = in_state(clients, group2.name, "Pending:Wait")
    clients.ec2.terminate_instances(InstanceIds=[launching])
    sim_time.tick()
    (replacement,) = in_state(clients, group2.name, "Pending:Wait")
    assert instances(clients, group2.name) == {
        launching: "Terminated",
        replacement: "Pending:Wait",
    }
    with pytest.raises(ClientError, match="No active Lifecycle Action found"):
        clients.autoscaling.complete_lifecycle_action(
            AutoScalingGroupName=group2.name,
            LifecycleHookName="launch",
            InstanceId=launching,
            LifecycleActionResult="CONTINUE",
        )


def test_a_group_on_a_launch_configuration_launches_with_its_instance_profile(
    aws: AwsCloud, clients: Clients, sim_time: SimTime
) -> None:
    name = f"lc-{secrets.token_hex(3)}"
    ami = clients.ssm.get_parameter(
        Name="/aws/service/ami-windows-latest/"
        "Windows_Server-2022-English-Core-EKS_Optimized-1.31/image_id"
    )["Parameter"]["Value"]
    clients.autoscaling.create_launch_configuration(
        LaunchConfigurationName=name,
        ImageId=ami,
        InstanceType="m5.large",
        IamInstanceProfile=aws.world.node_instance_profile_name,
    )
    clients.autoscaling.create_auto_scaling_group(
        AutoScalingGroupName=name,
        LaunchConfigurationName=name,
        MinSize=0,
        MaxSize=1,
        DesiredCapacity=1,
        VPCZoneIdentifier=",".join(aws.world.subnet_ids),
        LifecycleHookSpecificationList=[
            {"LifecycleHookName": "launch", "LifecycleTransition": LAUNCH}
        ],
    )

    (instance,) = in_state(clients, name, "Pending:Wait")
    associations = clients.ec2.describe_iam_instance_profile_associations(
        Filters=[{"Name": "instance-id", "Values": [instance]}]
    )["IamInstanceProfileAssociations"]
    assert [a["IamInstanceProfile"]["Arn"] for a in associations] == [
        aws.world.node_instance_profile_arn
    ]
