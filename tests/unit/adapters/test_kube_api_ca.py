"""The cluster's CA, and only it, decides which API server KubeApi talks to: it is kept in
memory, so no file in a shared temporary directory (the CLI runs on shared hosts) can be planted
in its place or swapped.

The server is a local TLS listener with a certificate from a CA made for the test."""

from __future__ import annotations

import base64
import hashlib
import ssl
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from localcloud.kube.pki import RunPki, create_pki
from tests.helpers.local_http import FixedAnswerServers, StaticToken
from winnodes.adapters.kube.api import KubeApi
from winnodes.errors import KubernetesError

OK = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}"


@pytest.fixture(scope="module")
def cluster_pki(tmp_path_factory: pytest.TempPathFactory) -> RunPki:
    return create_pki(tmp_path_factory.mktemp("cluster-pki"))


@pytest.fixture(scope="module")
def other_pki(tmp_path_factory: pytest.TempPathFactory) -> RunPki:
    return create_pki(tmp_path_factory.mktemp("other-pki"))


@pytest.fixture
def tls_server() -> Iterator[Callable[[RunPki], str]]:
    """An HTTPS server for 127.0.0.1 with a serving certificate of the given PKI's CA, answering
    `{}`; gives its endpoint."""
    servers = FixedAnswerServers()

    def start(pki: RunPki) -> str:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(pki.apiserver.cert, pki.apiserver.key)
        return servers.start(OK, tls=context)

    yield start
    servers.close()


def ca_base64(pki: RunPki) -> str:
    return base64.b64encode(pki.ca_pem).decode()


def test_the_api_server_is_trusted_by_the_cluster_ca(
    tls_server: Callable[[RunPki], str], cluster_pki: RunPki
) -> None:
    api = KubeApi(
        endpoint=tls_server(cluster_pki), ca_base64=ca_base64(cluster_pki), token=StaticToken()
    )

    assert api.get("/api/v1/nodes") == {}


def test_a_server_whose_certificate_another_ca_signed_is_refused(
    tls_server: Callable[[RunPki], str], cluster_pki: RunPki, other_pki: RunPki
) -> None:
    api = KubeApi(
        endpoint=tls_server(other_pki), ca_base64=ca_base64(cluster_pki), token=StaticToken()
    )

    with pytest.raises(KubernetesError, match="CERTIFICATE_VERIFY_FAILED"):
        api.get("/api/v1/nodes")


def test_a_ca_file_planted_in_the_shared_temporary_directory_is_not_trusted(
    tls_server: Callable[[RunPki], str],
    cluster_pki: RunPki,
    other_pki: RunPki,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Where an earlier version kept the CA: /tmp/winnodes-ca/<sha256 of the CA>.pem, a name
    # anyone who knows the (public) cluster CA can compute and fill with a CA of theirs.
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    planted = (
        tmp_path / "winnodes-ca" / f"{hashlib.sha256(cluster_pki.ca_pem).hexdigest()[:16]}.pem"
    )
    planted.parent.mkdir()
    planted.write_bytes(other_pki.ca_pem)
    api = KubeApi(
        endpoint=tls_server(other_pki), ca_base64=ca_base64(cluster_pki), token=StaticToken()
    )

    with pytest.raises(KubernetesError, match="CERTIFICATE_VERIFY_FAILED"):
        api.get("/api/v1/nodes")


def test_no_file_is_written_for_the_ca(
    cluster_pki: RunPki, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))

    KubeApi(endpoint="https://x.example", ca_base64=ca_base64(cluster_pki), token=StaticToken())

    assert list(tmp_path.iterdir()) == []
