"""An endpoint that is no AWS API (a proxy's page, AWS_ENDPOINT_URL naming another server) is
our AwsError, whatever the page: botocore raises ResponseParserError quoting the whole page when
it is no XML, and a bare KeyError when it is XML without the result element. The message quotes
only the page's start: it is logged, traced (X-Ray drops documents past 64 KB) and kept."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, cast

import botocore.config
import botocore.session
import pytest

from tests.helpers.local_http import FixedAnswerServers, http_answer
from winnodes.adapters.aws import all_pages, aws_call
from winnodes.errors import QUOTE_LIMIT, AwsError

if TYPE_CHECKING:
    from mypy_boto3_autoscaling import AutoScalingClient

LARGE_PAGE = b"<html><body>" + b"<p>not an AWS API " * 5000 + b"</body>"  # unclosed: no XML
WELL_FORMED_PAGE = b"<html><body><p>Sign in to continue</p></body></html>"


def html(page: bytes) -> bytes:
    return http_answer(page, content_type=b"text/html")


def autoscaling(endpoint: str) -> AutoScalingClient:
    session = botocore.session.Session()
    session.set_credentials("AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG")
    config = botocore.config.Config(retries={"total_max_attempts": 1})
    client = session.create_client(
        "autoscaling", region_name="us-east-1", endpoint_url=endpoint, config=config
    )
    return cast("AutoScalingClient", client)


def describe(client: AutoScalingClient) -> object:
    return aws_call("DescribeAutoScalingGroups", client.describe_auto_scaling_groups)


def describe_pages(client: AutoScalingClient) -> object:
    paginator = client.get_paginator("describe_auto_scaling_groups")
    return list(all_pages("DescribeAutoScalingGroups", paginator))


@pytest.mark.parametrize("call", [describe, describe_pages], ids=["call", "pages"])
def test_a_large_page_is_quoted_only_in_part(
    answer_servers: FixedAnswerServers, call: Callable[[AutoScalingClient], object]
) -> None:
    with pytest.raises(AwsError, match="not an AWS API response") as raised:
        call(autoscaling(answer_servers.start(html(LARGE_PAGE))))
    assert len(str(raised.value)) < QUOTE_LIMIT + 200
    assert str(raised.value).endswith(" characters)")


@pytest.mark.parametrize("call", [describe, describe_pages], ids=["call", "pages"])
def test_a_well_formed_page_is_no_bare_key_error(
    answer_servers: FixedAnswerServers, call: Callable[[AutoScalingClient], object]
) -> None:
    with pytest.raises(AwsError) as raised:
        call(autoscaling(answer_servers.start(html(WELL_FORMED_PAGE))))
    assert str(raised.value).endswith(
        "the endpoint's answer is not an AWS API response: no DescribeAutoScalingGroupsResult in it"
    )


def test_a_key_error_of_our_own_is_not_taken_for_an_answer() -> None:
    def ours() -> object:
        reservation: dict[str, object] = {}
        return reservation["Instances"]

    with pytest.raises(KeyError):
        aws_call("DescribeInstances", ours)
