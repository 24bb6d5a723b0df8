"""The lifecycle handler refuses bad input and skips test notifications before touching AWS."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from localcloud.deployment import Handler, lambda_context, load_handler
from tests.helpers.events import load_event
from winnodes import wiring
from winnodes.errors import AwsError


@pytest.fixture
def handler(monkeypatch: pytest.MonkeyPatch) -> Iterator[Handler]:
    # Nothing listens on port 9: any AWS call would fail loudly instead of passing silently.
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")
    wiring.reset()
    yield load_handler("lifecycle")
    wiring.reset()


def test_malformed_event_is_rejected_naming_the_field(
    handler: Handler, capsys: pytest.CaptureFixture[str]
) -> None:
    result = handler(load_event("lifecycle-launch-malformed"), lambda_context("lifecycle"))
    assert result["status"] == "rejected"
    assert result["field"] == "detail.EC2InstanceId"
    emitted = [json.loads(line) for line in capsys.readouterr().out.splitlines() if "{" in line]
    metric_names = {
        m["Name"]
        for record in emitted
        for directive in record.get("_aws", {}).get("CloudWatchMetrics", [])
        for m in directive["Metrics"]
    }
    assert "EventRejected" in metric_names


@pytest.mark.parametrize(
    "mutate",
    [
        lambda e: e.__setitem__("detail-type", "Something Else"),
        lambda e: e["detail"].__setitem__("LifecycleActionToken", "short"),
        lambda e: e["detail"].__setitem__("AutoScalingGroupName", "x" * 256),
        lambda e: e["detail"].__setitem__("EC2InstanceId", "i-0'; DROP"),
        lambda e: e.__setitem__("detail", "not an object"),
    ],
)
def test_hostile_or_broken_events_are_rejected_without_aws_calls(
    handler: Handler, mutate: Callable[[dict[str, Any]], object]
) -> None:
    event = load_event("lifecycle-launch")
    mutate(event)
    assert handler(event, lambda_context("lifecycle"))["status"] == "rejected"


# A group name AWS would refuse (a control character, by a direct invoke): rejected before any
# call, not a DescribeAutoScalingGroups ValidationError failing the invocation, its two retries
# and a message in the failed-invocations queue.
@pytest.mark.parametrize("name", ["prod\x01windows", "prod\x1b[31mwindows", "prod\uffff"])
def test_a_group_name_aws_refuses_is_rejected_naming_the_field(handler: Handler, name: str) -> None:
    event = load_event("lifecycle-launch")
    event["detail"]["AutoScalingGroupName"] = name
    result = handler(event, lambda_context("lifecycle"))
    assert (result["status"], result["field"]) == ("rejected", "detail.AutoScalingGroupName")


def test_test_notification_is_skipped(handler: Handler) -> None:
    result = handler(load_event("lifecycle-test-notification"), lambda_context("lifecycle"))
    assert result == {"status": "skipped", "reason": "autoscaling:TEST_NOTIFICATION"}


def test_a_test_notification_with_a_faulty_envelope_is_skipped_not_rejected(
    handler: Handler, capsys: pytest.CaptureFixture[str]
) -> None:
    event = load_event("lifecycle-test-notification")
    del event["version"], event["account"], event["detail-type"]
    event["time"] = "not a date"
    event["extra"] = {"added": "by a tool"}
    result = handler(event, lambda_context("lifecycle"))
    assert result == {"status": "skipped", "reason": "autoscaling:TEST_NOTIFICATION"}
    emitted = [json.loads(line) for line in capsys.readouterr().out.splitlines() if "{" in line]
    assert not [record for record in emitted if record.get("level") == "ERROR"]
    assert not [record for record in emitted if "EventRejected" in record]


def test_a_real_launch_event_does_reach_aws(handler: Handler) -> None:
    # The counterpart of the tests above: a valid event is not rejected, it goes to AWS, which
    # here is unreachable, so the call fails. This proves the others stopped before AWS.
    with pytest.raises(AwsError, match=r"127\.0\.0\.1:9"):
        handler(load_event("lifecycle-launch"), lambda_context("lifecycle"))
