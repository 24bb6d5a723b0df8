"""A throttled request (429 or 503 with Retry-After, as API Priority and Fairness sends) is tried
once more after what the header asks, but never after more than 2 s: urllib3 alone would sleep
for the header's value (up to 32 s from the API server, any length from a proxy), past the time
a step is allowed (REQUEST_TIME_LIMIT). A refusal that persists comes back as our typed error.

urllib3's sleep is recorded, not slept: the tests say how long it was asked to wait."""

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


@pytest.fixture
def slept(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    asked: list[float] = []
    monkeypatch.setattr("urllib3.util.retry.time.sleep", asked.append)
    return asked


def answer(status: bytes, retry_after: bytes) -> bytes:
    body = b'{"kind":"Status","apiVersion":"v1","status":"Failure"}'
    return (
        b"HTTP/1.1 " + status + b"\r\nRetry-After: " + retry_after + b"\r\n"
        b"Content-Type: application/json\r\n"
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
@pytest.mark.parametrize(("retry_after", "waited"), [(b"1", 1.0), (b"3600", 2.0)])
def test_a_429_is_tried_once_more_after_at_most_2_s(
    servers: FixedAnswerServers,
    slept: list[float],
    call: str,
    retry_after: bytes,
    waited: float,
) -> None:
    endpoint = servers.start(answer(b"429 Too Many Requests", retry_after))
    api = KubeApi(endpoint=endpoint, ca_base64=CA, token=StaticToken())
    with pytest.raises(KubernetesTooManyRequestsError):
        CALLS[call](api)
    assert (servers.requests, slept) == (2, [waited])


def test_a_503_with_retry_after_is_tried_once_more_then_ours(
    servers: FixedAnswerServers, slept: list[float]
) -> None:
    endpoint = servers.start(answer(b"503 Service Unavailable", b"32"))
    api = KubeApi(endpoint=endpoint, ca_base64=CA, token=StaticToken())
    with pytest.raises(KubernetesError) as raised:
        api.get("/api/v1/nodes/n")
    assert (raised.value.status, servers.requests, slept) == (503, 2, [2.0])
