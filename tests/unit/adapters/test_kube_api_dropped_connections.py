"""A pooled keep-alive connection the server dropped (an idle timeout, a Lambda container thawed
after minutes): every request on it is tried once more, on a new connection, POST and PATCH
included. A request whose answer times out is tried again only when repeating it cannot
surprise: a GET, not a POST or PATCH the server may still be at work on.

The server is plain HTTP/1.1 on a local socket, scripted per connection."""

from __future__ import annotations

import base64
import socket
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import certifi
import pytest

from tests.helpers.local_http import StaticToken
from winnodes.adapters.kube import api as kube_api
from winnodes.adapters.kube.api import KubeApi
from winnodes.errors import KubernetesError

OK = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}"


@dataclass
class Server:
    """Answers `{}` to every request, except that the first connection answers one request and
    then closes after reading the next (`drop_second`), or no request is ever answered
    (`silent`). `requests` is every request line read, in order."""

    drop_second: bool = False
    silent: bool = False
    requests: list[str] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)

    def serve(self, listener: socket.socket) -> None:
        first = True
        while not self._stop.is_set():
            try:
                connection, _ = listener.accept()
            except TimeoutError:
                continue
            threading.Thread(target=self._converse, args=(connection, first), daemon=True).start()
            first = False

    def _converse(self, connection: socket.socket, first: bool) -> None:
        with connection:
            connection.settimeout(5)
            if self.silent:
                self._read(connection)
                self._stop.wait()
            elif first and self.drop_second:
                self._read(connection)
                connection.sendall(OK)
                self._read(connection)  # and close without an answer
            else:
                while self._read(connection):
                    connection.sendall(OK)

    def stop(self) -> None:
        self._stop.set()

    def _read(self, connection: socket.socket) -> bool:
        data = b""
        while b"\r\n\r\n" not in data:
            try:
                chunk = connection.recv(65536)
            except OSError:
                return False
            if not chunk:
                return False
            data += chunk
        head, _, body = data.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        length = next(
            (
                int(v)
                for k, _, v in (h.partition(":") for h in lines[1:])
                if k.lower() == "content-length"
            ),
            0,
        )
        while len(body) < length:
            body += connection.recv(65536)
        self.requests.append(" ".join(lines[0].split()[:2]))
        return True


@pytest.fixture
def serve() -> Iterator[Callable[[Server], KubeApi]]:
    running: list[tuple[Server, threading.Thread, socket.socket]] = []

    def start(server: Server) -> KubeApi:
        listener = socket.create_server(("127.0.0.1", 0))
        listener.settimeout(0.1)
        thread = threading.Thread(target=server.serve, args=(listener,), daemon=True)
        thread.start()
        running.append((server, thread, listener))
        # Plain HTTP: the CA is never used.
        ca = base64.b64encode(Path(certifi.where()).read_bytes()).decode()
        port = listener.getsockname()[1]
        return KubeApi(endpoint=f"http://127.0.0.1:{port}", ca_base64=ca, token=StaticToken())

    yield start
    for server, thread, listener in running:
        server.stop()
        thread.join()
        listener.close()


CALLS: dict[str, Callable[[KubeApi], object]] = {
    "GET": lambda api: api.get("/api/v1/nodes/a"),
    "PATCH": lambda api: api.patch("/api/v1/nodes/a", {"spec": {"unschedulable": True}}),
    "POST": lambda api: api.create("/api/v1/namespaces/n/pods/p/eviction", {"kind": "Eviction"}),
    "DELETE": lambda api: api.delete("/api/v1/nodes/a"),
}


@pytest.mark.parametrize("method", CALLS)
def test_a_request_on_a_pooled_connection_the_server_dropped_is_tried_again_on_a_new_one(
    serve: Callable[[Server], KubeApi], method: str
) -> None:
    server = Server(drop_second=True)
    api = serve(server)
    api.get("/api/v1/nodes/a")  # leaves its connection in the pool

    assert CALLS[method](api) == {}

    assert [r.split()[0] for r in server.requests] == ["GET", method, method]


@pytest.mark.parametrize(
    ("method", "tries"), [("GET", 2), ("DELETE", 2), ("PATCH", 1), ("POST", 1)]
)
def test_a_request_whose_answer_times_out_is_tried_again_only_when_idempotent(
    serve: Callable[[Server], KubeApi],
    monkeypatch: pytest.MonkeyPatch,
    method: str,
    tries: int,
) -> None:
    monkeypatch.setattr(kube_api, "_TIMEOUT", (2.0, 0.3))
    server = Server(silent=True)
    api = serve(server)

    with pytest.raises(KubernetesError, match=method):
        CALLS[method](api)

    assert [r.split()[0] for r in server.requests] == [method] * tries
