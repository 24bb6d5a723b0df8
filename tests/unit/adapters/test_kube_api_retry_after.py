"""A 429 or 503 with Retry-After comes back at once as our typed error, sent once: urllib3 would
otherwise sleep for the header's value (API Priority and Fairness sends up to 32 s, a proxy any
length) and send the request again, past the time a step is allowed (REQUEST_TIME_LIMIT). The
join's or drain's next look is the retry."""

from __future__ import annotations

import base64
from collections.abc import Callable, Iterator
from pathlib import Path

import certifi
import pytest

from tests.helpers.local_http import FixedAnswerServers, StaticToken
from winnodes.adapters.kube.api import KubeApi
from winnodes.errors import KubernetesError, KubernetesTooManyRequestsError

CA = base64.b64encode(Path(certifi.where()).read_bytes()).decode()  # plain HTTP: never used


@pytest.fixture
def servers() -> Iterator[FixedAnswerServers]:
    running = FixedAnswerServers()
    yield running
    running.close()


def answer(status: bytes) -> bytes:
    body = b'{"kind":"Status","apiVersion":"v1","status":"Failure","code":429}'
    return (
        b"HTTP/1.1 " + status + b"\r\nRetry-After: 2\r\nContent-Type: application/json\r\n"
        b"Content-Length: " + str(len(body)).encode() + b"\r\nConnection: close\r\n\r\n" + body
    )


CALLS: dict[str, Callable[[KubeApi], object]] = {
    "GET": lambda api: api.get("/api/v1/nodes/n"),
    "POST eviction": lambda api: api.create(
        "/api/v1/namespaces/default/pods/p/eviction", {"kind": "Eviction"}
    ),
    "PATCH": lambda api: api.patch("/api/v1/nodes/n", {"spec": {"unschedulable": True}}),
}


@pytest.mark.parametrize("call", sorted(CALLS))
def test_a_429_with_retry_after_is_answered_at_once_after_one_request(
    servers: FixedAnswerServers, call: str
) -> None:
    endpoint = servers.start(answer(b"429 Too Many Requests"))
    api = KubeApi(endpoint=endpoint, ca_base64=CA, token=StaticToken())
    with pytest.raises(KubernetesTooManyRequestsError):
        CALLS[call](api)
    assert servers.requests == 1


def test_a_503_with_retry_after_is_answered_at_once_after_one_request(
    servers: FixedAnswerServers,
) -> None:
    endpoint = servers.start(answer(b"503 Service Unavailable"))
    api = KubeApi(endpoint=endpoint, ca_base64=CA, token=StaticToken())
    with pytest.raises(KubernetesError) as raised:
        api.get("/api/v1/nodes/n")
    assert (raised.value.status, servers.requests) == (503, 1)
