"""The cluster's CA, and only it, decides which API server KubeApi talks to: it is kept in
memory, so no file in a shared temporary directory (the CLI runs on shared hosts) can be planted
in its place or swapped.

The server is a local TLS listener with a certificate from a CA made for the test. The cluster's
CA comes in two kinds: one with key identifiers, and one without, like the CA of an EKS cluster
first created on Kubernetes 1.16 or earlier, which Python 3.13's strict X.509 checks (on by
default in urllib3 2.4 and later) refuse (kubernetes-client/python#2394)."""

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


@pytest.fixture(
    scope="module", params=[True, False], ids=["with key identifiers", "without key identifiers"]
)
def cluster_pki(tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest) -> RunPki:
    return create_pki(tmp_path_factory.mktemp("cluster-pki"), key_identifiers=request.param)


@pytest.fixture(scope="module")
def other_pki(tmp_path_factory: pytest.TempPathFactory) -> RunPki:
    return create_pki(tmp_path_factory.mktemp("other-pki"))


@pytest.fixture
def tls_server() -> Iterator[Callable[..., str]]:
    """An HTTPS server on `host` (127.0.0.1 unless told) with the serving certificate of the
    given PKI's CA, which names 127.0.0.1 and localhost, answering `{}`; gives its endpoint."""
    servers = FixedAnswerServers()

    def start(pki: RunPki, host: str = "127.0.0.1") -> str:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(pki.apiserver.cert, pki.apiserver.key)
        return servers.start(OK, tls=context, host=host)

    yield start
    servers.close()


def ca_base64(pki: RunPki) -> str:
    return base64.b64encode(pki.ca_pem).decode()


def test_the_api_server_is_trusted_by_the_cluster_ca(
    tls_server: Callable[..., str], cluster_pki: RunPki
) -> None:
    api = KubeApi(
        endpoint=tls_server(cluster_pki), ca_base64=ca_base64(cluster_pki), token=StaticToken()
    )

    assert api.get("/api/v1/nodes") == {}


def test_a_server_whose_certificate_another_ca_signed_is_refused(
    tls_server: Callable[..., str], cluster_pki: RunPki, other_pki: RunPki
) -> None:
    api = KubeApi(
        endpoint=tls_server(other_pki), ca_base64=ca_base64(cluster_pki), token=StaticToken()
    )

    with pytest.raises(KubernetesError, match="CERTIFICATE_VERIFY_FAILED"):
        api.get("/api/v1/nodes")


def test_a_server_whose_certificate_names_another_host_is_refused(
    tls_server: Callable[..., str], cluster_pki: RunPki
) -> None:
    api = KubeApi(
        endpoint=tls_server(cluster_pki, host="127.0.0.2"),
        ca_base64=ca_base64(cluster_pki),
        token=StaticToken(),
    )

    with pytest.raises(KubernetesError, match="CERTIFICATE_VERIFY_FAILED"):
        api.get("/api/v1/nodes")


def test_a_ca_file_planted_in_the_shared_temporary_directory_is_not_trusted(
    tls_server: Callable[..., str],
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


def test_a_ca_that_is_not_a_certificate_is_refused_before_any_request() -> None:
    with pytest.raises(KubernetesError, match="the cluster CA is not a PEM certificate"):
        KubeApi(
            endpoint="https://x.example",
            ca_base64=base64.b64encode(b"-----BEGIN CERTIFICATE-----\nnot one\n").decode(),
            token=StaticToken(),
        )


@pytest.mark.parametrize("ca", ["", "Cg=="], ids=["none", "blank"])
def test_a_cluster_without_a_ca_is_our_error(ca: str) -> None:
    # DescribeCluster gives no CA for a cluster still being created.
    with pytest.raises(KubernetesError) as raised:
        KubeApi(endpoint="https://127.0.0.1:1", ca_base64=ca, token=StaticToken())
    assert str(raised.value) == "https://127.0.0.1:1: the cluster has no CA"
