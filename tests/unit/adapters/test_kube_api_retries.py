"""How often KubeApi tries a request the network refuses: once more, not urllib3's default three
times more. A cluster out of reach then costs a reconciler pass two connection attempts per
read, not four, and a connection dropped by an idle timeout still gets its one retry.

The server is a real TCP listener that closes every connection it accepts."""

from __future__ import annotations

import base64
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import certifi
import pytest

from tests.helpers.local_http import StaticToken
from winnodes.adapters.kube.api import KubeApi
from winnodes.errors import KubernetesError


@pytest.fixture
def closing_server() -> Iterator[tuple[int, list[int]]]:
    accepted: list[int] = []
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.2)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                connection, _ = listener.accept()
            except TimeoutError:
                continue
            accepted.append(1)
            connection.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield listener.getsockname()[1], accepted
    stop.set()
    thread.join()
    listener.close()


def test_a_refused_request_is_tried_twice_then_fails_as_ours(
    closing_server: tuple[int, list[int]],
) -> None:
    port, accepted = closing_server
    # Any CA will do: the server closes the connection before a certificate is shown.
    ca = base64.b64encode(Path(certifi.where()).read_bytes()).decode()
    api = KubeApi(endpoint=f"https://127.0.0.1:{port}", ca_base64=ca, token=StaticToken())

    with pytest.raises(KubernetesError, match="GET /api/v1/nodes"):
        api.get("/api/v1/nodes")

    assert len(accepted) == 2
