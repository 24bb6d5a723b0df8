"""Which proxy the API server's requests go through: HTTPS_PROXY's (or https_proxy's), as for
botocore, kubectl and urllib, never HTTP_PROXY's, which is for plain-http hosts. The client's own
Configuration reads both and lets HTTP_PROXY win when both are set."""

from __future__ import annotations

import base64
from pathlib import Path

import certifi
import pytest
from urllib3 import PoolManager, ProxyManager

from tests.helpers.local_http import StaticToken
from winnodes.adapters.kube.api import KubeApi
from winnodes.errors import KubernetesError

CA = base64.b64encode(Path(certifi.where()).read_bytes()).decode()
ENDPOINT = "https://ABCDEF0123456789.gr7.us-east-1.eks.amazonaws.com"
PROXY_VARIABLES = ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "NO_PROXY", "no_proxy")


def pool_manager(monkeypatch: pytest.MonkeyPatch, **environment: str) -> PoolManager:
    for name in PROXY_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    api = KubeApi(endpoint=ENDPOINT, ca_base64=CA, token=StaticToken())
    manager: PoolManager = api._rest.pool_manager
    return manager


def test_https_proxy_wins_over_http_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    manager = pool_manager(
        monkeypatch, HTTPS_PROXY="http://https-proxy:3128", HTTP_PROXY="http://http-proxy:8080"
    )
    assert isinstance(manager, ProxyManager)
    assert manager.proxy is not None
    assert (manager.proxy.host, manager.proxy.port) == ("https-proxy", 3128)


def test_http_proxy_alone_is_not_for_the_api_server(monkeypatch: pytest.MonkeyPatch) -> None:
    manager = pool_manager(monkeypatch, HTTP_PROXY="http://http-proxy:8080")
    assert not isinstance(manager, ProxyManager)


def test_no_proxy_still_bypasses_the_https_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    manager = pool_manager(
        monkeypatch, HTTPS_PROXY="http://https-proxy:3128", NO_PROXY=".eks.amazonaws.com"
    )
    assert not isinstance(manager, ProxyManager)


def test_a_proxy_without_a_scheme_is_an_http_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    # As botocore and curl read it: HTTPS_PROXY=proxy.corp:3128 is common.
    manager = pool_manager(monkeypatch, HTTPS_PROXY="proxy.corp:3128")
    assert isinstance(manager, ProxyManager)
    assert manager.proxy is not None
    assert (manager.proxy.scheme, manager.proxy.host, manager.proxy.port) == (
        "http",
        "proxy.corp",
        3128,
    )


def test_a_proxy_the_client_cannot_use_is_our_error(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(KubernetesError) as raised:
        pool_manager(monkeypatch, HTTPS_PROXY="ftp://proxy.corp:21")
    assert str(raised.value).startswith("HTTPS_PROXY 'ftp://proxy.corp:21': ")


@pytest.mark.parametrize(
    ("proxy", "quoted"),
    [
        ("socks5://user:Pr0xyS3cret@proxy.corp:1080", "socks5://***:***@proxy.corp:1080"),
        ("ftp://p%40ss@proxy.corp/path", "ftp://***:***@proxy.corp/path"),
        ("ftp://a:b@c@proxy.corp:21", "ftp://***:***@proxy.corp:21"),
    ],
)
def test_a_refused_proxy_is_quoted_without_its_credentials(
    monkeypatch: pytest.MonkeyPatch, proxy: str, quoted: str
) -> None:
    # The message is logged, traced and kept with the failed event for 14 days.
    with pytest.raises(KubernetesError) as raised:
        pool_manager(monkeypatch, HTTPS_PROXY=proxy)
    assert str(raised.value).startswith(f"HTTPS_PROXY {quoted!r}: ")
    assert "Pr0xyS3cret" not in str(raised.value)
    assert "ss@" not in str(raised.value)
