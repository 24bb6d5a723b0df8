"""EC2 instances (and the IAM role behind an instance profile)."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import botocore.exceptions

from winnodes.adapters.aws import aws_call, error_code
from winnodes.errors import AwsError
from winnodes.ports import Instance, InstancePlatform, InstanceProfileRole

if TYPE_CHECKING:
    from mypy_boto3_ec2 import EC2Client
    from mypy_boto3_iam import IAMClient

# CreateTags takes up to 1000 resource ids and AWS recommends smaller batches
# (https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_CreateTags.html).
_TAG_BATCH = 200
# A terminated instance, or one launched so recently that EC2 does not show it everywhere yet
# (https://docs.aws.amazon.com/ec2/latest/devguide/eventual-consistency.html).
_UNKNOWN_INSTANCE = "InvalidInstanceID.NotFound"
_MESSAGE_WORDS = re.compile(r"[\s'\",]+")


class Ec2Instances:
    def __init__(self, ec2: EC2Client, iam: IAMClient, *, tag_batch: int = _TAG_BATCH) -> None:
        self._ec2 = ec2
        self._iam = iam
        self._tag_batch = tag_batch

    def describe_instances(self, instance_ids: Sequence[str]) -> dict[str, Instance]:
        # InstanceIds, not an instance-id filter: while an Availability Zone is disrupted a call
        # without ids fails, one naming only ids in healthy zones still works
        # (https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_DescribeInstances.html).
        # Each id once: moto answers a repeated id with a 500.
        wanted = list(dict.fromkeys(instance_ids))
        # An unknown id fails the whole call, naming it: ask again without the ids named. Each
        # round drops at least one id, so there are at most as many calls as ids.
        while wanted:
            try:
                return self._describe(wanted)
            except botocore.exceptions.ClientError as error:
                unknown = _unknown_instances(error, wanted)
                if not unknown:
                    raise AwsError(f"DescribeInstances failed: {error}") from error
                wanted = [i for i in wanted if i not in unknown]
        return {}

    def _describe(self, instance_ids: list[str]) -> dict[str, Instance]:
        paginator = self._ec2.get_paginator("describe_instances")
        # No MaxResults: DescribeInstances refuses it together with InstanceIds.
        pages = aws_call(
            "DescribeInstances",
            lambda: list(
                paginator.paginate(
                    # Every state: a terminated instance stays listed for about an hour, and
                    # the services tell it from one EC2 does not show yet (Instance.terminating).
                    InstanceIds=instance_ids,
                )
            ),
        )
        found: dict[str, Instance] = {}
        for page in pages:
            for reservation in page["Reservations"]:
                for raw in reservation["Instances"]:
                    instance = _instance(raw)
                    found[instance.instance_id] = instance
        return found

    def tag_instances(self, instance_ids: Sequence[str], tags: Mapping[str, str]) -> list[str]:
        tagged: list[str] = []
        for start in range(0, len(instance_ids), self._tag_batch):
            batch = list(instance_ids[start : start + self._tag_batch])
            # An unknown id (one not visible yet, right after a scale-out) fails the whole
            # request, naming it: send the batch again without the ids named, as for
            # DescribeInstances, not each of the others on its own. Each round drops at least
            # one id, so there are at most as many calls as ids.
            while batch:
                unknown = self._create_tags(batch, tags)
                if not unknown:
                    tagged += batch
                    break
                batch = [i for i in batch if i not in unknown]
        return tagged

    def _create_tags(self, instance_ids: list[str], tags: Mapping[str, str]) -> set[str]:
        """The ids EC2 refused as unknown (then none was tagged); empty once all are tagged."""
        try:
            aws_call(
                "CreateTags",
                lambda: self._ec2.create_tags(
                    Resources=instance_ids,
                    Tags=[{"Key": k, "Value": v} for k, v in tags.items()],
                ),
            )
        except botocore.exceptions.ClientError as error:
            unknown = _unknown_instances(error, instance_ids)
            if not unknown:
                raise AwsError(f"CreateTags {' '.join(instance_ids)} failed: {error}") from error
            return unknown
        return set()

    def role_of_instance_profile(self, instance_profile_arn: str) -> InstanceProfileRole | None:
        name = instance_profile_arn.rsplit("/", 1)[-1]
        try:
            profile = aws_call(
                "GetInstanceProfile",
                lambda: self._iam.get_instance_profile(InstanceProfileName=name),
            )["InstanceProfile"]
        except botocore.exceptions.ClientError as error:
            if error_code(error) == "NoSuchEntity":
                return None
            raise AwsError(f"GetInstanceProfile {name} failed: {error}") from error
        roles = profile.get("Roles", [])
        return InstanceProfileRole(roles[0]["Arn"], roles[0].get("CreateDate")) if roles else None


def _unknown_instances(error: botocore.exceptions.ClientError, requested: list[str]) -> set[str]:
    """The requested ids an InvalidInstanceID.NotFound names. AWS and moto quote them: "The
    instance ID 'i-1' does not exist", "The instance IDs 'i-1, i-2' do not exist"."""
    if error_code(error) != _UNKNOWN_INSTANCE:
        return set()
    message = str(error.response.get("Error", {}).get("Message", ""))
    return set(_MESSAGE_WORDS.split(message)) & set(requested)


def _instance(raw: Any) -> Instance:
    platform = (raw.get("Platform") or raw.get("PlatformDetails") or "").lower()
    return Instance(
        instance_id=raw["InstanceId"],
        state=raw.get("State", {}).get("Name", ""),
        platform=(
            InstancePlatform.WINDOWS if platform.startswith("windows") else InstancePlatform.LINUX
        ),
        availability_zone=raw.get("Placement", {}).get("AvailabilityZone", ""),
        private_dns_name=raw.get("PrivateDnsName", ""),
        launch_time=raw["LaunchTime"],
        tags={tag["Key"]: tag.get("Value", "") for tag in raw.get("Tags", [])},
        instance_profile_arn=raw.get("IamInstanceProfile", {}).get("Arn"),
    )
