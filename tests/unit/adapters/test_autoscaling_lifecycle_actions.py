"""CompleteLifecycleAction is not idempotent: once the action is over, any further call is refused
with "ValidationError: No active Lifecycle Action found with instance ID ..."
(https://docs.aws.amazon.com/autoscaling/ec2/APIReference/API_CompleteLifecycleAction.html).
botocore retries a call whose answer was lost (a read timeout, a 5xx); when that retry is refused
so, the first attempt most likely completed the action, and it counts as ours. A refusal on the
first attempt (a duplicate event) does not, nor does a refused heartbeat: a heartbeat is refused
only once the action is over. Auto Scaling's answers are played by botocore's Stubber, since
the local cloud cannot lose an answer; `RetryAttempts` is what botocore records of its retries."""

from __future__ import annotations

import pytest
from botocore.stub import Stubber

from winnodes.adapters.autoscaling import AutoScalingGroups
from winnodes.errors import AwsError

NO_ACTIVE_ACTION = (
    "No active Lifecycle Action found with instance ID i-0123456789abcdef0"  # as AWS words it
)
ACTION = {"group": "win", "hook": "launch", "instance_id": "i-0123456789abcdef0"}


def refuse(stubber: Stubber, method: str, *, retries: int, message: str = NO_ACTIVE_ACTION) -> None:
    stubber.add_client_error(
        method,
        service_error_code="ValidationError",
        service_message=message,
        http_status_code=400,
        response_meta={"RetryAttempts": retries},
    )


@pytest.mark.parametrize(("retries", "ours"), [(0, False), (1, True), (3, True)])
def test_a_completion_refused_on_a_retry_counts_as_ours(
    stubbed_autoscaling: tuple[AutoScalingGroups, Stubber], retries: int, ours: bool
) -> None:
    groups, stubber = stubbed_autoscaling
    refuse(stubber, "complete_lifecycle_action", retries=retries)
    assert groups.complete_lifecycle_action(**ACTION, result="CONTINUE") is ours


@pytest.mark.parametrize("retries", [0, 1])
def test_a_refused_heartbeat_never_counts(
    stubbed_autoscaling: tuple[AutoScalingGroups, Stubber], retries: int
) -> None:
    groups, stubber = stubbed_autoscaling
    refuse(stubber, "record_lifecycle_action_heartbeat", retries=retries)
    assert groups.record_heartbeat(**ACTION) is False


def test_another_validation_error_is_a_failure(
    stubbed_autoscaling: tuple[AutoScalingGroups, Stubber],
) -> None:
    groups, stubber = stubbed_autoscaling
    refuse(stubber, "complete_lifecycle_action", retries=1, message="Invalid hook name")
    with pytest.raises(AwsError, match="CompleteLifecycleAction failed"):
        groups.complete_lifecycle_action(**ACTION, result="ABANDON")
