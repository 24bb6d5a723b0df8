"""A warm pool that cannot be read (DescribeWarmPool throttled past botocore's retries, say) is
one group's problem: the listing of managed groups goes on, the group comes marked. Auto
Scaling's answers are played by botocore's own Stubber on a real client, since the local cloud
cannot be made to throttle one call; the error shape is AWS's
(https://docs.aws.amazon.com/autoscaling/ec2/APIReference/CommonErrors.html)."""

from __future__ import annotations

import pytest
from botocore.stub import Stubber

from winnodes.adapters.autoscaling import AutoScalingGroups
from winnodes.errors import AwsError

_TAG_FILTER = {"Filters": [{"Name": "tag-key", "Values": ["eks-windows-nodes/managed"]}]}


def described(name: str, *, warm_pool: bool) -> dict[str, object]:
    group: dict[str, object] = {
        "AutoScalingGroupName": name,
        "MinSize": 0,
        "MaxSize": 4,
        "DesiredCapacity": 1,
        "DefaultCooldown": 300,
        "AvailabilityZones": ["us-east-1a"],
        "HealthCheckType": "EC2",
        "CreatedTime": "2026-03-02T09:00:00Z",
        "Instances": [
            {
                "InstanceId": f"i-{name}",
                "AvailabilityZone": "us-east-1a",
                "LifecycleState": "Pending:Wait",
                "HealthStatus": "Healthy",
                "ProtectedFromScaleIn": False,
            }
        ],
        "Tags": [{"Key": "eks-windows-nodes/managed", "Value": "true"}],
    }
    if warm_pool:
        group["WarmPoolConfiguration"] = {"PoolState": "Stopped"}
    return group


def test_a_pool_that_cannot_be_read_marks_its_group_and_the_listing_goes_on(
    stubbed_autoscaling: tuple[AutoScalingGroups, Stubber],
) -> None:
    groups, stubber = stubbed_autoscaling
    stubber.add_response(
        "describe_auto_scaling_groups",
        {"AutoScalingGroups": [described("a", warm_pool=True), described("b", warm_pool=False)]},
        _TAG_FILTER,
    )
    stubber.add_client_error(
        "describe_warm_pool", service_error_code="Throttling", service_message="Rate exceeded"
    )

    listed = list(groups.groups_tagged("eks-windows-nodes/managed"))

    assert [g.name for g in listed] == ["a", "b"]
    assert listed[0].warm_pool_error is not None and "Throttling" in listed[0].warm_pool_error
    assert [m.instance_id for m in listed[0].instances] == ["i-a"]  # the pool's are missing
    assert listed[1].warm_pool_error is None


def test_the_one_group_asked_for_fails_without_its_pool(
    stubbed_autoscaling: tuple[AutoScalingGroups, Stubber],
) -> None:
    groups, stubber = stubbed_autoscaling
    stubber.add_response(
        "describe_auto_scaling_groups",
        {"AutoScalingGroups": [described("a", warm_pool=True)]},
        {"AutoScalingGroupNames": ["a"]},
    )
    stubber.add_client_error(
        "describe_warm_pool", service_error_code="Throttling", service_message="Rate exceeded"
    )

    with pytest.raises(AwsError, match="DescribeWarmPool a failed"):
        groups.describe_group("a")
