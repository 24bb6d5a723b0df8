"""Nothing secret reaches the logs when the root logger is at DEBUG, as Lambda's own log level
(ApplicationLogLevel=DEBUG) sets it: not the signature and query string from which anyone could
rebuild a cluster token, not the session token, not a Kubernetes response body."""

from __future__ import annotations

import base64
import logging
from pathlib import Path
from typing import TYPE_CHECKING, cast

import botocore.session
import certifi
import pytest

import winnodes.observability  # noqa: F401 - what every handler and the CLI import first
from tests.helpers.local_http import FixedAnswerServers, StaticToken, http_answer
from winnodes.adapters.kube.api import KubeApi
from winnodes.adapters.kube.token import TOKEN_PREFIX, eks_token

if TYPE_CHECKING:
    from mypy_boto3_sts import STSClient

SESSION_TOKEN = "SESSIONTOKENdoNotLog" + "x" * 40
POD_SECRET = "hunter2-from-a-pod-spec"
CA = base64.b64encode(Path(certifi.where()).read_bytes()).decode()


def sts_client() -> STSClient:
    session = botocore.session.Session()
    session.set_credentials("AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG", SESSION_TOKEN)
    return cast("STSClient", session.create_client("sts", region_name="us-east-1"))


def test_signing_a_cluster_token_logs_nothing_it_could_be_rebuilt_from(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    token = eks_token(sts_client(), "prod")
    encoded = token.removeprefix(TOKEN_PREFIX)
    url = base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4)).decode()
    signature = url.rsplit("X-Amz-Signature=", 1)[1]
    logged = "\n".join(f"{r.name}: {r.getMessage()}" for r in caplog.records)
    assert signature not in logged
    assert "CanonicalRequest" not in logged
    assert SESSION_TOKEN not in logged


def test_a_kubernetes_response_body_is_not_logged(
    answer_servers: FixedAnswerServers, caplog: pytest.LogCaptureFixture
) -> None:
    body = b'{"kind":"PodList","items":[{"spec":{"containers":[{"env":[{"name":"DB_PASSWORD",'
    body += b'"value":"' + POD_SECRET.encode() + b'"}]}]}}]}'
    endpoint = answer_servers.start(http_answer(body))
    api = KubeApi(endpoint=endpoint, ca_base64=CA, token=StaticToken())
    caplog.set_level(logging.DEBUG)
    pods = api.get("/api/v1/pods")
    assert POD_SECRET in str(pods)  # it was read
    logged = "\n".join(f"{r.name}: {r.getMessage()}" for r in caplog.records)
    assert POD_SECRET not in logged
