"""Instance refresh replaces instances through the lifecycle hooks, within the healthy-capacity
bounds: terminate-first (MaxHealthyPercentage 100) and launch-first (> 100), checkpoints,
SkipMatching, a pinned DesiredConfiguration, auto-rollback when replacements fail, and the
API's refusals."""

from __future__ import annotations

import math
import secrets
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import pytest
from botocore.exceptions import ClientError

from localcloud.aws import AwsCloud
from tests.helpers.waiting import wait_for
from tests.integration.aws.helpers import Clients, MakeGroup, in_state

if TYPE_CHECKING:
    from mypy_boto3_autoscaling.type_defs import (
        DesiredConfigurationTypeDef,
        InstanceRefreshTypeDef,
    )

    from tests.integration.aws.conftest import SimTime

pytestmark = pytest.mark.integration

Decide = Callable[[dict[str, Any], str], str]


class Operator:
    """Plays the product: completes every lifecycle action of one group as ``decide`` says
    (given the event detail and the instance's launch template version)."""

    def __init__(self, aws: AwsCloud, clients: Clients, group: str, decide: Decide) -> None:
        self.clients = clients
        self.decide = decide
        self.decisions: list[tuple[str, str, str]] = []
        self._lock = threading.Lock()
        assert aws.events is not None
        rule = f"operator-{group}"
        aws.events.put_rule(
            rule,
            event_pattern={
                "source": ["aws.autoscaling"],
                "detail": {"AutoScalingGroupName": [group]},
            },
        )
        aws.events.put_target(rule, self)

    def __call__(self, event: dict[str, Any], context: Any) -> None:
        detail = event["detail"]
        described = self.clients.autoscaling.describe_auto_scaling_instances(
            InstanceIds=[detail["EC2InstanceId"]]
        )["AutoScalingInstances"]
        version = described[0]["LaunchTemplate"]["Version"] if described else "?"
        result = self.decide(detail, version)
        with self._lock:
            self.decisions.append((detail["LifecycleTransition"], detail["EC2InstanceId"], result))
        try:
            self.clients.autoscaling.complete_lifecycle_action(
                AutoScalingGroupName=detail["AutoScalingGroupName"],
                LifecycleHookName=detail["LifecycleHookName"],
                LifecycleActionToken=detail["LifecycleActionToken"],
                LifecycleActionResult=result,
            )
        except ClientError as error:  # a duplicate delivery: the action is already complete
            if "No active Lifecycle Action" not in str(error):
                raise


def always_continue(detail: dict[str, Any], version: str) -> str:
    return "CONTINUE"


def new_version(aws: AwsCloud, clients: Clients, template_id: str) -> str:
    """A launch-template version on a newly released AMI (inherits the rest from version 1)."""
    image = aws.release_ami(kubernetes_version="1.31")
    created = clients.ec2.create_launch_template_version(
        LaunchTemplateId=template_id,
        SourceVersion="1",
        LaunchTemplateData={"ImageId": image.image_id},
    )["LaunchTemplateVersion"]
    assert created["LaunchTemplateData"]["ImageId"] == image.image_id
    assert created["LaunchTemplateData"]["UserData"]  # inherited from the source version
    return str(created["VersionNumber"])


def refresh_state(clients: Clients, group: str) -> InstanceRefreshTypeDef:
    return clients.autoscaling.describe_instance_refreshes(AutoScalingGroupName=group)[
        "InstanceRefreshes"
    ][0]


def versions(clients: Clients, group: str) -> list[str]:
    found = clients.autoscaling.describe_auto_scaling_groups(AutoScalingGroupNames=[group])
    return sorted(
        i["LaunchTemplate"]["Version"]
        for i in found["AutoScalingGroups"][0]["Instances"]
        if i["LifecycleState"] == "InService"
    )


def log_position(aws: AwsCloud) -> int:
    assert aws.engine is not None
    return len(aws.engine.capacity_log)


def samples_since(aws: AwsCloud, group: str, position: int) -> list[Any]:
    """The group's capacity samples logged after ``log_position`` returned ``position`` (by
    position, not time: on a frozen clock the samples before the refresh share its start time)."""
    assert aws.engine is not None
    return [s for s in aws.engine.capacity_log[position:] if s.group == group]


def test_terminate_first_refresh_keeps_min_healthy_and_never_exceeds_desired(
    aws: AwsCloud, clients: Clients, make_group: MakeGroup, sim_time: SimTime
) -> None:
    name = f"g-{secrets.token_hex(3)}"
    Operator(aws, clients, name, always_continue)
    group = make_group(desired=4, name=name)
    wait_for(lambda: len(in_state(clients, group.name, "InService")) == 4, message="4 InService")
    version = new_version(aws, clients, group.template_id)
    position = log_position(aws)
    refresh_id = clients.autoscaling.start_instance_refresh(
        AutoScalingGroupName=group.name,
        DesiredConfiguration={
            "LaunchTemplate": {"LaunchTemplateId": group.template_id, "Version": version}
        },
        Preferences={
            "MinHealthyPercentage": 50,
            "MaxHealthyPercentage": 100,
            "InstanceWarmup": 60,
            "SkipMatching": True,
            "AutoRollback": True,
            "CheckpointPercentages": [50],
            "CheckpointDelay": 120,
        },
    )["InstanceRefreshId"]

    with pytest.raises(ClientError) as error:
        clients.autoscaling.start_instance_refresh(AutoScalingGroupName=group.name)
    assert error.value.response["Error"]["Code"] == "InstanceRefreshInProgress"

    # First batch: two replaced (ceil(4 × 50 %) stay InService), then warmed up for 60 s.
    half = sorted(["1", "1", version, version])
    wait_for(lambda: versions(clients, group.name) == half, message="first batch InService")
    sim_time.advance(59)
    assert not refresh_state(clients, group.name).get("StatusReason")
    sim_time.advance(1)
    # 50 % replaced: the checkpoint holds the refresh for CheckpointDelay (120 s).
    at_checkpoint = refresh_state(clients, group.name)
    assert "checkpoint" in at_checkpoint["StatusReason"]
    assert (at_checkpoint["Status"], at_checkpoint["PercentageComplete"]) == ("InProgress", 50)
    sim_time.advance(119)
    assert "checkpoint" in refresh_state(clients, group.name)["StatusReason"]
    assert versions(clients, group.name) == half
    sim_time.advance(1)
    wait_for(lambda: versions(clients, group.name) == [version] * 4, message="second batch")
    sim_time.advance(59)  # the second batch warms up too before the refresh succeeds
    assert refresh_state(clients, group.name)["Status"] == "InProgress"
    sim_time.advance(1)

    final = refresh_state(clients, group.name)
    assert final["Status"] == "Successful"
    assert final["InstanceRefreshId"] == refresh_id
    assert final["PercentageComplete"] == 100
    assert final["DesiredConfiguration"]["LaunchTemplate"]["Version"] == version
    assert versions(clients, group.name) == [version] * 4
    described = clients.autoscaling.describe_auto_scaling_groups(AutoScalingGroupNames=[group.name])
    assert described["AutoScalingGroups"][0]["LaunchTemplate"]["Version"] == version

    samples = samples_since(aws, group.name, position)
    assert samples
    assert min(s.in_service for s in samples) == 2  # ceil(4 × 50 %): two at a time
    assert max(s.total for s in samples) <= 4  # MaxHealthyPercentage 100: never above desired


def test_launch_first_refresh_launches_before_terminating(
    aws: AwsCloud, clients: Clients, make_group: MakeGroup, sim_time: SimTime
) -> None:
    name = f"g-{secrets.token_hex(3)}"
    Operator(aws, clients, name, always_continue)
    group = make_group(desired=2, name=name)
    wait_for(lambda: len(in_state(clients, group.name, "InService")) == 2)
    version = new_version(aws, clients, group.template_id)
    position = log_position(aws)
    clients.autoscaling.start_instance_refresh(
        AutoScalingGroupName=group.name,
        DesiredConfiguration={
            "LaunchTemplate": {"LaunchTemplateId": group.template_id, "Version": version}
        },
        Preferences={"MinHealthyPercentage": 100, "MaxHealthyPercentage": 200},
    )
    wait_for(lambda: refresh_state(clients, group.name)["Status"] == "Successful", timeout=30)
    assert versions(clients, group.name) == [version] * 2
    samples = samples_since(aws, group.name, position)
    assert min(s.in_service for s in samples) >= 2  # never below 100 % of desired
    assert max(s.total for s in samples) == math.floor(2 * 200 / 100)  # surged to 200 %


def test_failed_replacements_roll_back(
    aws: AwsCloud, clients: Clients, make_group: MakeGroup, sim_time: SimTime
) -> None:
    name = f"g-{secrets.token_hex(3)}"
    version_holder: dict[str, str] = {}

    def refuse_new_version(detail: dict[str, Any], launched_version: str) -> str:
        if detail["LifecycleTransition"].endswith(
            "LAUNCHING"
        ) and launched_version == version_holder.get("new"):
            return "ABANDON"  # the new AMI never becomes a Ready node
        return "CONTINUE"

    Operator(aws, clients, name, refuse_new_version)
    group = make_group(desired=2, name=name)
    wait_for(lambda: len(in_state(clients, group.name, "InService")) == 2)
    version_holder["new"] = new_version(aws, clients, group.template_id)
    clients.autoscaling.start_instance_refresh(
        AutoScalingGroupName=group.name,
        DesiredConfiguration={
            "LaunchTemplate": {
                "LaunchTemplateId": group.template_id,
                "Version": version_holder["new"],
            }
        },
        Preferences={"MinHealthyPercentage": 50, "AutoRollback": True},
    )
    wait_for(
        lambda: refresh_state(clients, group.name)["Status"] == "RollbackSuccessful", timeout=30
    )
    final = refresh_state(clients, group.name)
    assert "ABANDON" in final["RollbackDetails"]["RollbackReason"]
    assert versions(clients, group.name) == ["1", "1"]
    described = clients.autoscaling.describe_auto_scaling_groups(AutoScalingGroupNames=[group.name])
    assert described["AutoScalingGroups"][0]["LaunchTemplate"]["Version"] == "1"


def test_refresh_api_refusals_cancel_and_manual_rollback(
    aws: AwsCloud, clients: Clients, make_group: MakeGroup, sim_time: SimTime
) -> None:
    group = make_group(desired=2)
    assert len(in_state(clients, group.name, "Pending:Wait")) == 2  # launched by the create call
    for call in (
        clients.autoscaling.cancel_instance_refresh,
        clients.autoscaling.rollback_instance_refresh,
    ):
        with pytest.raises(ClientError) as error:
            call(AutoScalingGroupName=group.name)
        assert error.value.response["Error"]["Code"] == "ActiveInstanceRefreshNotFound"
    with pytest.raises(ClientError, match="AutoRollback"):
        clients.autoscaling.start_instance_refresh(
            AutoScalingGroupName=group.name,
            DesiredConfiguration={
                "LaunchTemplate": {"LaunchTemplateId": group.template_id, "Version": "$Latest"}
            },
            Preferences={"AutoRollback": True},
        )
    version = new_version(aws, clients, group.template_id)
    desired: DesiredConfigurationTypeDef = {
        "LaunchTemplate": {"LaunchTemplateId": group.template_id, "Version": version}
    }
    clients.autoscaling.start_instance_refresh(
        AutoScalingGroupName=group.name, DesiredConfiguration=desired
    )
    clients.autoscaling.rollback_instance_refresh(AutoScalingGroupName=group.name)
    assert refresh_state(clients, group.name)["Status"] == "RollbackInProgress"
    clients.autoscaling.cancel_instance_refresh(AutoScalingGroupName=group.name)
    assert refresh_state(clients, group.name)["Status"] == "Cancelling"
    # Cancelling waits for instances in transition; the operator lets them through.
    Operator(aws, clients, group.name, always_continue)
    for instance in in_state(clients, group.name, "Pending:Wait"):
        clients.autoscaling.complete_lifecycle_action(
            AutoScalingGroupName=group.name,
            LifecycleHookName="launch",
            InstanceId=instance,
            LifecycleActionResult="CONTINUE",
        )
    wait_for(lambda: refresh_state(clients, group.name)["Status"] == "Cancelled")
