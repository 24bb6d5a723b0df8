"""Fixtures shared by the adapters' unit tests."""

from __future__ import annotations

from collections.abc import Iterator

import botocore.session
import pytest
from botocore.stub import Stubber

from tests.helpers.local_http import FixedAnswerServers
from winnodes.adapters.autoscaling import AutoScalingGroups


@pytest.fixture
def stubbed_autoscaling() -> Iterator[tuple[AutoScalingGroups, Stubber]]:
    """The Auto Scaling adapter on a real botocore client whose answers botocore's Stubber plays,
    for the errors the local cloud cannot be made to give."""
    client = botocore.session.Session().create_client(
        "autoscaling",
        region_name="us-east-1",
        aws_access_key_id="AKIAEXAMPLE",
        aws_secret_access_key="example",
    )
    with Stubber(client) as stubber:
        yield AutoScalingGroups(client), stubber  # type: ignore[arg-type]


@pytest.fixture
def answer_servers() -> Iterator[FixedAnswerServers]:
    """Local servers giving every request one fixed answer (`http_answer`), stopped after."""
    servers = FixedAnswerServers()
    yield servers
    servers.close()
