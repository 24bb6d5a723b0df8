"""Fixtures for the AWS half of the local cloud: one ``AwsCloud`` (moto over HTTP, extended) per
module, plain boto3 clients against it, and a factory for Windows node groups."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

from localcloud.aws import AwsCloud
from localcloud.aws.autoscaling import STATE_LOCK
from tests.integration.aws.helpers import (
    LAUNCH,
    TERMINATE,
    Clients,
    Group,
    MakeGroup,
    user_data,
)

if TYPE_CHECKING:
    from mypy_boto3_autoscaling.type_defs import LifecycleHookSpecificationTypeDef

# 1 simulated second = 10 ms: a 30 s heartbeat timeout lasts 0.3 s. Tests that depend on AWS
# durations (heartbeat timeouts, warm-up, checkpoints) use ``sim_time`` instead of racing it.
TIME_SCALE = 0.01


@pytest.fixture(scope="module")
def aws() -> Iterator[AwsCloud]:
    with AwsCloud(time_scale=TIME_SCALE) as cloud:
        yield cloud


class SimTime:
    """Simulated time that moves only when the test moves it: the clock is frozen, and
    ``advance`` jumps it and then runs the Auto Scaling engine's tick at once, so the timeouts,
    warm-ups and checkpoints due by then have been applied when ``advance`` returns."""

    def __init__(self, aws: AwsCloud) -> None:
        self._aws = aws

    def advance(self, seconds: float) -> None:
        self._aws.clock.advance(seconds)
        self.tick()

    def tick(self) -> None:
        """What the background ticker does every few milliseconds, done now."""
        assert self._aws.engine is not None
        with STATE_LOCK:
            self._aws.engine.tick()


@pytest.fixture
def sim_time(aws: AwsCloud) -> Iterator[SimTime]:
    """The AWS half's clock, frozen for the whole test: groups made in the test start their
    lifecycle actions on it, and nothing times out unless the test advances it."""
    with aws.clock.frozen():
        yield SimTime(aws)


@pytest.fixture(scope="module")
def clients(aws: AwsCloud) -> Clients:
    return Clients(
        autoscaling=aws.client("autoscaling"),
        ec2=aws.client("ec2"),
        eks=aws.client("eks"),
        ssm=aws.client("ssm"),
        iam=aws.client("iam"),
        sqs=aws.client("sqs"),
    )


@pytest.fixture
def make_group(aws: AwsCloud, clients: Clients) -> MakeGroup:
    def make(
        *,
        desired: int,
        hooks: tuple[str, ...] = (LAUNCH, TERMINATE),
        heartbeat: int = 600,
        default_result: str = "ABANDON",
        script: str | None = None,
        max_size: int = 10,
        profile_arn: str | None = None,
        name: str | None = None,
    ) -> Group:
        name = name or f"g-{secrets.token_hex(3)}"
        ami = clients.ssm.get_parameter(
            Name="/aws/service/ami-windows-latest/"
            "Windows_Server-2022-English-Core-EKS_Optimized-1.31/image_id"
        )["Parameter"]["Value"]
        template = clients.ec2.create_launch_template(
            LaunchTemplateName=name,
            LaunchTemplateData={
                "ImageId": ami,
                "InstanceType": "m5.large",
                "UserData": user_data(script or "<powershell>Write-Output hi</powershell>"),
                "IamInstanceProfile": {"Arn": profile_arn or aws.world.node_instance_profile_arn},
            },
        )["LaunchTemplate"]
        specs: list[LifecycleHookSpecificationTypeDef] = [
            {
                "LifecycleHookName": "launch" if transition == LAUNCH else "terminate",
                "LifecycleTransition": transition,
                "HeartbeatTimeout": heartbeat,
                "DefaultResult": default_result,
                "NotificationMetadata": f'{{"group": "{name}"}}',
            }
            for transition in hooks
        ]
        clients.autoscaling.create_auto_scaling_group(
            AutoScalingGroupName=name,
            MinSize=0,
            MaxSize=max_size,
            DesiredCapacity=desired,
            LaunchTemplate={"LaunchTemplateId": template["LaunchTemplateId"], "Version": "1"},
            VPCZoneIdentifier=",".join(aws.world.subnet_ids),
            LifecycleHookSpecificationList=specs,
        )
        return Group(name=name, template_id=template["LaunchTemplateId"])

    return make
