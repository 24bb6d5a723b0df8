"""One AWS call or Kubernetes request that gets no usable answer ends within a known time, and
that time fits in services.fleet.STEP_RESERVE: an invocation whose work stops at the reserve
reports the failing call instead of running into the Lambda timeout."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import botocore.exceptions
import pytest

from tests.helpers.local_http import FixedAnswerServers
from winnodes.adapters import aws
from winnodes.adapters.kube import api as kube_api
from winnodes.services.fleet import STEP_RESERVE

# Retried by standard mode as transient (500, 502, 503 and 504 are).
UNAVAILABLE = (
    b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\n"
    b"Content-Length: 2\r\nConnection: close\r\n\r\n{}"
)


@pytest.fixture
def unavailable_endpoint(monkeypatch: pytest.MonkeyPatch) -> Iterator[FixedAnswerServers]:
    servers = FixedAnswerServers()
    monkeypatch.setenv("AWS_ENDPOINT_URL", servers.start(UNAVAILABLE))
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_CONFIG_FILE", "/dev/null")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
    yield servers
    servers.close()


def test_an_aws_call_the_endpoint_keeps_failing_is_tried_the_counted_number_of_times(
    unavailable_endpoint: FixedAnswerServers,
) -> None:
    eks = aws.eks_client(aws.AwsSession("eu-west-1"))

    with pytest.raises(botocore.exceptions.ClientError, match="503"):
        eks.describe_cluster(name="prod")

    assert unavailable_endpoint.requests == aws.ATTEMPTS


def test_aws_clients_wait_as_long_as_the_time_limit_counts(
    unavailable_endpoint: FixedAnswerServers,
) -> None:
    session = aws.AwsSession("eu-west-1")
    for client in (
        aws.eks_client(session),
        aws.autoscaling_client(session),
        aws.ec2_client(session),
    ):
        config: Any = client.meta.config  # the stubs leave the timeouts out
        assert (config.connect_timeout, config.read_timeout) == (
            aws.CONNECT_TIMEOUT,
            aws.READ_TIMEOUT,
        )


def test_the_step_reserve_outlasts_one_call_or_request_that_gets_no_answer() -> None:
    assert aws.CALL_TIME_LIMIT < STEP_RESERVE
    assert kube_api.REQUEST_TIME_LIMIT < STEP_RESERVE
