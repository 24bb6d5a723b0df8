"""EC2 Auto Scaling: groups, lifecycle hooks and actions."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

import botocore.exceptions

from winnodes.adapters.aws import all_pages, aws_call, error_code
from winnodes.errors import AwsError
from winnodes.ports import AutoScalingGroup, GroupInstance, LifecycleHook

if TYPE_CHECKING:
    from mypy_boto3_autoscaling import AutoScalingClient


_NO_ACTIVE_ACTION = "No active Lifecycle Action"


class AutoScalingGroups:
    def __init__(self, client: AutoScalingClient) -> None:
        self._client = client

    def describe_group(self, name: str) -> AutoScalingGroup | None:
        groups = list(self._describe(AutoScalingGroupNames=[name]))
        return groups[0] if groups else None

    def groups_tagged(self, tag_key: str) -> Iterator[AutoScalingGroup]:
        return self._describe(Filters=[{"Name": "tag-key", "Values": [tag_key]}])

    def _describe(self, **arguments: Any) -> Iterator[AutoScalingGroup]:
        paginator = self._client.get_paginator("describe_auto_scaling_groups")
        for page in all_pages("DescribeAutoScalingGroups", paginator, **arguments):
            for group in page["AutoScalingGroups"]:
                yield _group(group)

    def lifecycle_hooks(self, group: str) -> Sequence[LifecycleHook]:
        try:
            response = aws_call(
                "DescribeLifecycleHooks",
                lambda: self._client.describe_lifecycle_hooks(AutoScalingGroupName=group),
            )
        except botocore.exceptions.ClientError as error:
            raise AwsError(f"DescribeLifecycleHooks {group} failed: {error}") from error
        return [
            LifecycleHook(
                name=hook["LifecycleHookName"],
                transition=hook["LifecycleTransition"],
                heartbeat_timeout_seconds=int(hook.get("HeartbeatTimeout", 3600)),
                default_result=hook.get("DefaultResult", "ABANDON"),
            )
            for hook in response["LifecycleHooks"]
        ]

    def complete_lifecycle_action(
        self, *, group: str, hook: str, instance_id: str, result: str, token: str | None = None
    ) -> bool:
        arguments: dict[str, str] = {
            "AutoScalingGroupName": group,
            "LifecycleHookName": hook,
            "InstanceId": instance_id,
            "LifecycleActionResult": result,
        }
        if token:
            arguments["LifecycleActionToken"] = token
        return self._lifecycle_call(
            "CompleteLifecycleAction", lambda: self._client.complete_lifecycle_action(**arguments)
        )

    def record_heartbeat(
        self, *, group: str, hook: str, instance_id: str, token: str | None = None
    ) -> bool:
        arguments: dict[str, str] = {
            "AutoScalingGroupName": group,
            "LifecycleHookName": hook,
            "InstanceId": instance_id,
        }
        if token:
            arguments["LifecycleActionToken"] = token
        return self._lifecycle_call(
            "RecordLifecycleActionHeartbeat",
            lambda: self._client.record_lifecycle_action_heartbeat(**arguments),
        )

    @staticmethod
    def _lifecycle_call(name: str, call: Any) -> bool:
        try:
            aws_call(name, call)
        except botocore.exceptions.ClientError as error:
            # "No active Lifecycle Action found with instance ID ...": already completed, timed
            # out, or never ours; a duplicate event lands here and is not a failure.
            if error_code(error) == "ValidationError" and "No active Lifecycle Action" in str(
                error
            ):
                return False
            raise AwsError(f"{name} failed: {error}") from error
        return True


def _group(group: Any) -> AutoScalingGroup:
    return AutoScalingGroup(
        name=group["AutoScalingGroupName"],
        tags={tag["Key"]: tag.get("Value", "") for tag in group.get("Tags", [])},
        instances=tuple(
            GroupInstance(instance_id=i["InstanceId"], lifecycle_state=i["LifecycleState"])
            for i in group.get("Instances", [])
        ),
        desired_capacity=int(group.get("DesiredCapacity", 0)),
    )
