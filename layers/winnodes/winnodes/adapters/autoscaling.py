"""EC2 Auto Scaling: groups, lifecycle hooks and actions."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import TYPE_CHECKING, Any

import botocore.exceptions

from winnodes.adapters.aws import all_pages, aws_call, error_code
from winnodes.errors import AwsError
from winnodes.ports import AutoScalingGroup, GroupInstance, LifecycleHook

if TYPE_CHECKING:
    from mypy_boto3_autoscaling import AutoScalingClient


_NO_ACTIVE_ACTION = "No active Lifecycle Action"
_SERVER_ERROR = 500  # and above: the request reached AWS, what became of it is unknown
# DescribeWarmPool's MaxRecords: "The maximum value is 50."
# https://docs.aws.amazon.com/autoscaling/ec2/APIReference/API_DescribeWarmPool.html
_WARM_POOL_PAGE = 50


class AutoScalingGroups:
    def __init__(self, client: AutoScalingClient) -> None:
        self._client = client
        self._completion = _Attempts()
        client.meta.events.register(
            "needs-retry.auto-scaling.CompleteLifecycleAction", self._completion.judged
        )

    def describe_group(self, name: str) -> AutoScalingGroup | None:
        groups = list(self._describe(AutoScalingGroupNames=[name]))
        if groups and groups[0].warm_pool_error is not None:
            # One group asked for: its caller cannot act on it without its pool.
            raise AwsError(groups[0].warm_pool_error)
        return groups[0] if groups else None

    def groups_tagged(self, tag_key: str) -> Iterator[AutoScalingGroup]:
        return self._describe(Filters=[{"Name": "tag-key", "Values": [tag_key]}])

    def _describe(self, **arguments: Any) -> Iterator[AutoScalingGroup]:
        paginator = self._client.get_paginator("describe_auto_scaling_groups")
        for page in all_pages("DescribeAutoScalingGroups", paginator, **arguments):
            for group in page["AutoScalingGroups"]:
                # DescribeAutoScalingGroups leaves a warm pool's instances out (they are in
                # Warmed:* states, held by the launch hook in Warmed:Pending:Wait); only
                # DescribeWarmPool lists them, so it is asked only of groups that have a pool.
                pooled: tuple[GroupInstance, ...] = ()
                error = None
                if "WarmPoolConfiguration" in group:
                    try:
                        pooled = self._warm_pool_members(group["AutoScalingGroupName"])
                    except AwsError as failed:  # throttled past the retries, say
                        error = str(failed)
                yield _group(group, pooled, warm_pool_error=error)

    def _warm_pool_members(self, name: str) -> tuple[GroupInstance, ...]:
        paginator = self._client.get_paginator("describe_warm_pool")
        pages = paginator.paginate(
            AutoScalingGroupName=name, PaginationConfig={"PageSize": _WARM_POOL_PAGE}
        )
        try:
            return tuple(
                _member(i)
                for page in aws_call("DescribeWarmPool", lambda: list(pages))
                for i in page.get("Instances", [])
            )
        except botocore.exceptions.ClientError as error:
            # The group was deleted since it was listed: it has no pool left to act on.
            if error_code(error) == "ValidationError":
                return ()
            raise AwsError(f"DescribeWarmPool {name} failed: {error}") from error

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
        self._completion.begin()
        return self._lifecycle_call(
            "CompleteLifecycleAction",
            lambda: self._client.complete_lifecycle_action(**arguments),
            refused_is_ours=self._completion.may_have_taken_effect,
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
    def _lifecycle_call(
        name: str, call: Any, *, refused_is_ours: Callable[[], bool] = lambda: False
    ) -> bool:
        """True when the call took effect. `refused_is_ours`: whether a refusal as no longer
        active still means the call took effect (CompleteLifecycleAction is not idempotent: an
        earlier attempt of this call may have completed the action, its answer lost); taken as
        ours, so its metrics and log line are not lost with the answer."""
        try:
            aws_call(name, call)
        except botocore.exceptions.ClientError as error:
            # "No active Lifecycle Action found with instance ID ...": already completed, timed
            # out, or never ours; a duplicate event lands here and is not a failure.
            if error_code(error) == "ValidationError" and _NO_ACTIVE_ACTION in str(error):
                return refused_is_ours()
            raise AwsError(f"{name} failed: {error}") from error
        return True


class _Attempts:
    """What botocore's retries of one call leave unknown: whether an attempt that failed may yet
    have taken effect. One whose answer was lost (a read timeout, a connection closed
    unanswered) or was a 5xx may have; one that never reached AWS (no connection) or that AWS
    refused with a 4xx (throttling among them: a throttled call is not carried out) has not.
    Kept per thread, as the client may be shared between threads."""

    def __init__(self) -> None:
        self._local = threading.local()

    def begin(self) -> None:
        self._local.unknown = False

    def may_have_taken_effect(self) -> bool:
        return bool(getattr(self._local, "unknown", False))

    def judged(
        self,
        response: tuple[Any, Any] | None = None,
        caught_exception: Exception | None = None,
        **_: Any,
    ) -> None:
        """botocore's `needs-retry` event, emitted after every attempt; returns None so as to
        leave the retry decision to botocore's own handler."""
        if caught_exception is not None:
            # botocore's ConnectionError: no connection was made (refused, timed out, the
            # proxy's or TLS's failure), so nothing was sent.
            if not isinstance(caught_exception, botocore.exceptions.ConnectionError):
                self._local.unknown = True
        elif response is not None and response[0].status_code >= _SERVER_ERROR:
            self._local.unknown = True


def _group(
    group: Any, pooled: Sequence[GroupInstance], *, warm_pool_error: str | None = None
) -> AutoScalingGroup:
    return AutoScalingGroup(
        name=group["AutoScalingGroupName"],
        tags={tag["Key"]: tag.get("Value", "") for tag in group.get("Tags", [])},
        instances=merge_members((_member(i) for i in group.get("Instances", [])), pooled),
        desired_capacity=int(group.get("DesiredCapacity", 0)),
        has_warm_pool="WarmPoolConfiguration" in group,
        reuse_on_scale_in=bool(
            group.get("WarmPoolConfiguration", {})
            .get("InstanceReusePolicy", {})
            .get("ReuseOnScaleIn", False)
        ),
        warm_pool_error=warm_pool_error,
    )


def _member(instance: Any) -> GroupInstance:
    return GroupInstance(
        instance_id=instance["InstanceId"], lifecycle_state=instance["LifecycleState"]
    )


def merge_members(
    in_group: Iterable[GroupInstance], in_pool: Iterable[GroupInstance]
) -> tuple[GroupInstance, ...]:
    """The group's instances and its warm pool's, each instance once. The pool is read after
    the group, so an instance both lists show (it moved between the two reads) is as the pool,
    the later read, shows it."""
    members = {m.instance_id: m for m in in_group}
    members.update((m.instance_id, m) for m in in_pool)
    return tuple(members.values())
