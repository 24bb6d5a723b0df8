"""A local HTTP(S) server that gives every request one fixed answer (after given first ones),
for the adapters' unit tests, and a bearer token that never changes."""

from __future__ import annotations

import itertools
import socket
import ssl
import threading
from collections.abc import Iterator, Sequence


class StaticToken:
    """A bearer token that never changes: a placeholder, or a cluster administrator's."""

    def __init__(self, token: str = "k8s-aws-v1.token") -> None:
        self._token = token

    def __call__(self) -> str:
        return self._token

    def invalidate(self) -> None:
        pass


def http_answer(
    body: bytes, *, status: bytes = b"200 OK", content_type: bytes = b"application/json"
) -> bytes:
    """A whole HTTP/1.1 answer with `body`, after which the server closes the connection."""
    return (
        b"HTTP/1.1 " + status + b"\r\nContent-Type: " + content_type
        + b"\r\nContent-Length: " + str(len(body)).encode()
        + b"\r\nConnection: close\r\n\r\n" + body
    )  # fmt: skip


class FixedAnswerServers:
    """Starts servers (on 127.0.0.1 unless told) that read a request and send `answer`, after
    the answers in `first`, one a request, when given (an empty one hangs up unanswered: the
    answer lost); TLS with `tls` (a server context). `close()` stops them all. `requests`: how
    many requests they read, all of them together, counted before the answer goes out, so that
    a client holding its answer sees its request counted."""

    def __init__(self) -> None:
        self.requests = 0
        self._stop = threading.Event()
        self._listeners: list[socket.socket] = []
        self._threads: list[threading.Thread] = []

    def start(
        self,
        answer: bytes,
        *,
        first: Sequence[bytes] = (),
        tls: ssl.SSLContext | None = None,
        host: str = "127.0.0.1",
    ) -> str:
        listener = socket.create_server((host, 0))
        listener.settimeout(0.1)
        self._listeners.append(listener)
        answers = itertools.chain(first, itertools.repeat(answer))
        thread = threading.Thread(target=self._serve, args=(listener, answers, tls), daemon=True)
        self._threads.append(thread)
        thread.start()
        scheme = "https" if tls else "http"
        return f"{scheme}://{host}:{listener.getsockname()[1]}"

    def close(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join()
        for listener in self._listeners:
            listener.close()

    def _serve(
        self, listener: socket.socket, answers: Iterator[bytes], tls: ssl.SSLContext | None
    ) -> None:
        while not self._stop.is_set():
            try:
                connection, _ = listener.accept()
            except TimeoutError:
                continue
            try:
                with tls.wrap_socket(connection, server_side=True) if tls else connection as peer:
                    peer.settimeout(5)
                    _read_request(peer)
                    self.requests += 1
                    answer = next(answers)
                    if answer:
                        peer.sendall(answer)
            except OSError:  # a client that refused our certificate, or hung up
                connection.close()


def _read_request(peer: socket.socket) -> None:
    """Reads a request's head and its body of Content-Length bytes: closing a socket with data
    unread would reset the connection under the client reading its answer."""
    request = b""
    while b"\r\n\r\n" not in request and (chunk := peer.recv(65536)):
        request += chunk
    head, _, body = request.partition(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    while len(body) < length and (chunk := peer.recv(65536)):
        body += chunk
