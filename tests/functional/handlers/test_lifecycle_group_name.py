"""A lifecycle event whose group name AWS would refuse (a control character, sent by a direct
invoke) is rejected as malformed before any AWS call: not a DescribeAutoScalingGroups
ValidationError failing the invocation, its two retries and a message in the failed-invocations
queue."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from localcloud.deployment import Handler, lambda_context, load_handler
from tests.helpers.events import load_event
from winnodes import wiring


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


@pytest.mark.parametrize("name", ["prod\x01windows", "prod\x1b[31mwindows", "prod\uffff"])
def test_a_group_name_aws_refuses_is_rejected_without_aws_calls(
    handler: Handler, name: str
) -> None:
    event = load_event("lifecycle-launch")
    event["detail"]["AutoScalingGroupName"] = name
    result = handler(event, lambda_context("lifecycle"))
    assert (result["status"], result["field"]) == ("rejected", "detail.AutoScalingGroupName")
