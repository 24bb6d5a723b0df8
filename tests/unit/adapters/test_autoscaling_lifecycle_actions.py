"""CompleteLifecycleAction is not idempotent: once the action is over, any further call is refused
with "ValidationError: No active Lifecycle Action found with instance ID ..."
(https://docs.aws.amazon.com/autoscaling/ec2/APIReference/API_CompleteLifecycleAction.html).
When botocore retries a completion whose first attempt may have taken effect (its answer lost,
or a 5xx) and the retry is refused so, the completion counts as ours. When every earlier attempt
certainly failed (throttled: AWS does not carry out a throttled call), the refusal means someone
else ended the action, and it does not count; nor does a refusal on the first attempt (a
duplicate event), nor a refused heartbeat. Auto Scaling's answers are played over HTTP by a
local server, so that botocore's own retries (standard mode, as the functions' clients have
them) run; the local cloud cannot lose an answer."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import pytest
from botocore.stub import Stubber

from tests.helpers.local_http import FixedAnswerServers, http_answer
from winnodes.adapters.autoscaling import AutoScalingGroups
from winnodes.adapters.aws import AwsSession, autoscaling_client
from winnodes.errors import AwsError

INSTANCE_ID = "i-0123456789abcdef0"
ACTION = {"group": "win", "hook": "launch", "instance_id": INSTANCE_ID}
NAMESPACE = b"http://autoscaling.amazonaws.com/doc/2011-01-01/"


def aws_error(status: bytes, code: bytes, message: bytes) -> bytes:
    # The query protocol's error document, as Auto Scaling answers.
    return http_answer(
        b'<ErrorResponse xmlns="' + NAMESPACE + b'"><Error><Type>Sender</Type><Code>' + code
        + b"</Code><Message>" + message + b"</Message></Error>"
        + b"<RequestId>7c6e1f3b-0000-4000-8000-000000000000</RequestId></ErrorResponse>",
        status=status,
        content_type=b"text/xml",
    )  # fmt: skip


def done(operation: bytes) -> bytes:
    return http_answer(
        b"<" + operation + b'Response xmlns="' + NAMESPACE + b'"><' + operation + b"Result/>"
        + b"<ResponseMetadata><RequestId>7c6e1f3b-0000-4000-8000-000000000001</RequestId>"
        + b"</ResponseMetadata></" + operation + b"Response>",
        content_type=b"text/xml",
    )  # fmt: skip


# As AWS words it.
NO_ACTIVE_ACTION = aws_error(
    b"400 Bad Request",
    b"ValidationError",
    b"No active Lifecycle Action found with instance ID " + INSTANCE_ID.encode(),
)
THROTTLED = aws_error(b"400 Bad Request", b"Throttling", b"Rate exceeded")
UNAVAILABLE = aws_error(b"503 Service Unavailable", b"ServiceUnavailable", b"Service unavailable")
LOST = b""  # the connection closed unanswered


@pytest.fixture
def auto_scaling_at(
    answer_servers: FixedAnswerServers, monkeypatch: pytest.MonkeyPatch
) -> Callable[..., AutoScalingGroups]:
    """The adapter on a client made as the functions make theirs, talking to a local server that
    gives `first` answers in turn, then `answer`."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAIOSFODNN7EXAMPLE")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "wJalrXUtnFEMI/K7MDENG")
    monkeypatch.delenv("AWS_SESSION_TOKEN", raising=False)

    def make(answer: bytes, first: Sequence[bytes] = ()) -> AutoScalingGroups:
        monkeypatch.setenv("AWS_ENDPOINT_URL", answer_servers.start(answer, first=first))
        return AutoScalingGroups(autoscaling_client(AwsSession("us-east-1")))

    return make


@pytest.mark.parametrize(
    ("first", "ours"),
    [
        pytest.param((), False, id="refused at once"),
        pytest.param((LOST,), True, id="after an answer lost"),
        pytest.param((UNAVAILABLE,), True, id="after a 5xx"),
        pytest.param((THROTTLED,), False, id="after a throttled attempt"),
        pytest.param((THROTTLED, THROTTLED), False, id="after two throttled attempts"),
        pytest.param((LOST, THROTTLED), True, id="after an answer lost, then throttled"),
    ],
)
def test_a_refused_completion_counts_as_ours_only_when_an_attempt_may_have_completed_it(
    auto_scaling_at: Callable[..., AutoScalingGroups], first: tuple[bytes, ...], ours: bool
) -> None:
    groups = auto_scaling_at(NO_ACTIVE_ACTION, first)
    assert groups.complete_lifecycle_action(**ACTION, result="CONTINUE") is ours


def test_what_one_call_left_unknown_does_not_carry_over_to_the_next(
    answer_servers: FixedAnswerServers, auto_scaling_at: Callable[..., AutoScalingGroups]
) -> None:
    groups = auto_scaling_at(NO_ACTIVE_ACTION, (LOST,))
    assert groups.complete_lifecycle_action(**ACTION, result="CONTINUE") is True
    # The next completion, refused at its first attempt, is someone else's ending.
    assert groups.complete_lifecycle_action(**ACTION, result="ABANDON") is False
    assert answer_servers.requests == 3


def test_a_completion_throttled_then_done_took_effect(
    auto_scaling_at: Callable[..., AutoScalingGroups],
) -> None:
    groups = auto_scaling_at(done(b"CompleteLifecycleAction"), (THROTTLED,))
    assert groups.complete_lifecycle_action(**ACTION, result="CONTINUE") is True


@pytest.mark.parametrize("first", [(), (LOST,)], ids=["refused at once", "after an answer lost"])
def test_a_refused_heartbeat_never_counts(
    auto_scaling_at: Callable[..., AutoScalingGroups], first: tuple[bytes, ...]
) -> None:
    groups = auto_scaling_at(NO_ACTIVE_ACTION, first)
    assert groups.record_heartbeat(**ACTION) is False


def test_another_validation_error_is_a_failure(
    stubbed_autoscaling: tuple[AutoScalingGroups, Stubber],
) -> None:
    groups, stubber = stubbed_autoscaling
    stubber.add_client_error(
        "complete_lifecycle_action",
        service_error_code="ValidationError",
        service_message="Invalid hook name",
        http_status_code=400,
    )
    with pytest.raises(AwsError, match="CompleteLifecycleAction failed"):
        groups.complete_lifecycle_action(**ACTION, result="ABANDON")
