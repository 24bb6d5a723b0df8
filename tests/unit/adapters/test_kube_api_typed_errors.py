"""Whatever goes wrong in a KubeApi call is one of our typed errors, which the services and the
CLI handle: no AWS credentials to sign the token with, a token source that fails, a 2xx answer
that is not the API server's JSON (a proxy's page)."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, cast

import botocore.credentials
import botocore.session
import certifi
import pytest

from tests.helpers.local_http import FixedAnswerServers, StaticToken, http_answer
from winnodes.adapters.kube.api import KubeApi
from winnodes.adapters.kube.token import BearerToken, CachedToken
from winnodes.errors import QUOTE_LIMIT, AwsCredentialsError, KubernetesError

if TYPE_CHECKING:
    from mypy_boto3_sts import STSClient

# Plain HTTP below: the CA is never used.
CA = base64.b64encode(Path(certifi.where()).read_bytes()).decode()


class BrokenToken(StaticToken):
    def __call__(self) -> str:
        raise RuntimeError("the token source broke")


@pytest.fixture
def answering() -> Iterator[Callable[[bytes, bytes], str]]:
    """A server answering every request with status 200, the given content type and body; gives
    its endpoint."""
    servers = FixedAnswerServers()

    def start(content_type: bytes, body: bytes) -> str:
        return servers.start(http_answer(body, content_type=content_type))

    yield start
    servers.close()


def sts_without_credentials() -> STSClient:
    session = botocore.session.Session()
    session.register_component(
        "credential_provider", botocore.credentials.CredentialResolver(providers=[])
    )
    return cast("STSClient", session.create_client("sts", region_name="us-east-1"))


def test_no_aws_credentials_to_sign_the_token_with_is_a_credentials_error() -> None:
    token = CachedToken(sts_without_credentials(), "prod", wall_clock=lambda: 0.0)
    api = KubeApi(endpoint="https://127.0.0.1:1", ca_base64=CA, token=token)

    with pytest.raises(AwsCredentialsError, match="no AWS credentials"):
        api.get("/api/v1/nodes")


def test_a_token_source_that_fails_is_a_kubernetes_error() -> None:
    token: BearerToken = BrokenToken()
    api = KubeApi(endpoint="https://127.0.0.1:1", ca_base64=CA, token=token)

    with pytest.raises(KubernetesError, match="GET /api/v1/nodes: the token source broke"):
        api.get("/api/v1/nodes")


@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        (b"text/html", b"<html><body>Access denied by proxy</body></html>"),
        (b"application/json", b'{"kind": "Status", "message": "\xff\xfe not UTF-8"}'),
        (b"application/json", b'["not", "an", "object"]'),
    ],
    ids=["html", "not-utf-8", "json-array"],
)
def test_a_2xx_answer_that_is_no_json_object_is_a_kubernetes_error_without_a_status(
    answering: Callable[[bytes, bytes], str], content_type: bytes, body: bytes
) -> None:
    api = KubeApi(endpoint=answering(content_type, body), ca_base64=CA, token=StaticToken())

    with pytest.raises(KubernetesError, match="POST /api/v1/namespaces/n/pods") as raised:
        api.create("/api/v1/namespaces/n/pods", {"metadata": {"name": "p"}})

    # No 200 or 201: a drain would take an eviction answered so for done.
    assert raised.value.status is None


def test_a_cluster_ca_that_is_not_base64_pem_is_a_kubernetes_error() -> None:
    with pytest.raises(KubernetesError, match="the cluster CA is not base64-encoded PEM"):
        KubeApi(endpoint="https://x.example", ca_base64="bm90IGFzY2lp/w==", token=StaticToken())


def test_a_refusal_with_a_huge_message_is_quoted_only_in_part() -> None:
    # An admission webhook's denial, say: its message is the webhook's to choose.
    message = "denied: " + "x" * 100_000
    body = json.dumps({"kind": "Status", "code": 403, "message": message}).encode()
    servers = FixedAnswerServers()
    endpoint = servers.start(http_answer(body, status=b"403 Forbidden"))
    try:
        api = KubeApi(endpoint=endpoint, ca_base64=CA, token=StaticToken())
        with pytest.raises(KubernetesError) as raised:
            api.get("/api/v1/nodes")
    finally:
        servers.close()
    assert raised.value.status == 403
    assert str(raised.value).startswith("GET /api/v1/nodes: 403 denied: xxx")
    assert len(str(raised.value)) < QUOTE_LIMIT + 100
