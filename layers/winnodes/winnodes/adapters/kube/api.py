"""JSON over the Kubernetes API with the official client's REST layer, errors mapped to ours."""

from __future__ import annotations

import base64
import json
import ssl
from collections.abc import Iterator, Mapping
from datetime import timedelta
from types import TracebackType
from typing import Any, Final, Self
from urllib.request import getproxies_environment

from urllib3.connectionpool import ConnectionPool
from urllib3.exceptions import ReadTimeoutError
from urllib3.response import BaseHTTPResponse
from urllib3.util.retry import Retry
from urllib3.util.ssl_ import create_urllib3_context

from winnodes.adapters.kube.official import ApiException, Configuration, RESTClientObject
from winnodes.adapters.kube.token import BearerToken
from winnodes.errors import (
    KubernetesConflictError,
    KubernetesError,
    KubernetesNotFoundError,
    KubernetesTooManyRequestsError,
    WinNodesError,
    excerpt,
)

JsonObject = dict[str, Any]
MERGE_PATCH = "application/merge-patch+json"
STRATEGIC_MERGE_PATCH = "application/strategic-merge-patch+json"
_PAGE_SIZE = 500
_TIMEOUT = (5.0, 30.0)  # connect, read
_RETRIES = 1
# The longest a 429 or 503 with Retry-After is waited on before its one retry: API Priority and
# Fairness asks for 1 s and more as its queues fill (up to 32 s), a proxy for any length.
_RETRY_AFTER_LIMIT = 2
# One request against an API server that accepts connections but does not answer ends within
# this (services.fleet.STEP_RESERVE counts on it); a 401's new token aside.
REQUEST_TIME_LIMIT: Final = timedelta(
    seconds=(1 + _RETRIES) * sum(_TIMEOUT) + _RETRIES * _RETRY_AFTER_LIMIT
)
_UNAUTHORIZED = 401
# A patch (merge or strategic) is idempotent; a repeated POST (an eviction, a create) answers
# 201, 404 or 409, which every caller takes as done.
_RETRIED_WHEN_DROPPED = frozenset({"PATCH", "POST"})


class _OneRetry(Retry):
    """One more try of a request the network failed: a connection refused or timed out, or one
    the server closed unanswered (a pooled keep-alive connection an idle timeout dropped), which
    urllib3 alone retries only for GET, PUT, DELETE and the like. A POST or PATCH whose answer
    timed out is not tried again: the server may still be at work on it."""

    def increment(
        self,
        method: str | None = None,
        url: str | None = None,
        response: BaseHTTPResponse | None = None,
        error: Exception | None = None,
        _pool: ConnectionPool | None = None,
        _stacktrace: TracebackType | None = None,
    ) -> Self:
        if isinstance(error, ReadTimeoutError) and method in _RETRIED_WHEN_DROPPED:
            raise error.with_traceback(_stacktrace)
        return super().increment(method, url, response, error, _pool, _stacktrace)


class KubeApi:
    """One cluster's API server, authenticated with a bearer token from `token`."""

    def __init__(
        self,
        *,
        endpoint: str,
        ca_base64: str,
        token: BearerToken,
        page_size: int = _PAGE_SIZE,
    ) -> None:
        self.endpoint = endpoint.rstrip("/")
        ca_pem = _ca_pem(self.endpoint, ca_base64)
        self._token = token
        self._page_size = page_size
        configuration = Configuration()
        configuration.host = self.endpoint
        configuration.verify_ssl = True
        configuration.proxy = _https_proxy()
        # One retry, not urllib3's three: a cluster out of reach costs a request two connect
        # timeouts, not four. A throttled request (429, 503) is retried once, after what its
        # Retry-After asks but never more than _RETRY_AFTER_LIMIT: urllib3 would otherwise sleep
        # up to 6 h, past REQUEST_TIME_LIMIT. A refusal that persists comes back as ours.
        configuration.retries = _OneRetry(
            total=_RETRIES,
            allowed_methods=Retry.DEFAULT_ALLOWED_METHODS | _RETRIED_WHEN_DROPPED,
            retry_after_max=_RETRY_AFTER_LIMIT,
        )
        try:
            self._rest = RESTClientObject(configuration)
        except ValueError as error:  # urllib3's ProxySchemeUnknown: socks5://, say
            proxy = _without_credentials(configuration.proxy or "")
            raise KubernetesError(f"HTTPS_PROXY {proxy!r}: {error}") from error
        self._rest.pool_manager.connection_pool_kw["ssl_context"] = _tls_context(
            self.endpoint, ca_pem
        )

    def get(self, path: str, *, query: Mapping[str, str] | None = None) -> JsonObject:
        return self._request("GET", path, query=query)

    def list(self, path: str, *, query: Mapping[str, str] | None = None) -> Iterator[JsonObject]:
        """Every item of a collection, page by page (limit/continue)."""
        params = {**(query or {}), "limit": str(self._page_size)}
        while True:
            page = self._request("GET", path, query=params)
            yield from page.get("items") or []
            token = (page.get("metadata") or {}).get("continue")
            if not token:
                return
            params["continue"] = token

    def create(self, path: str, body: JsonObject) -> JsonObject:
        return self._request("POST", path, body=body)

    def replace(self, path: str, body: JsonObject) -> JsonObject:
        # The functions write by patch; their Role grants no `update` (winnodes.rbac).
        return self._request("PUT", path, body=body)

    def patch(self, path: str, body: JsonObject, *, content_type: str = MERGE_PATCH) -> JsonObject:
        return self._request("PATCH", path, body=body, content_type=content_type)

    def delete(self, path: str, body: JsonObject | None = None) -> JsonObject:
        return self._request("DELETE", path, body=body)

    def _request(
        self,
        method: str,
        path: str,
        *,
        query: Mapping[str, str] | None = None,
        body: JsonObject | None = None,
        content_type: str = "application/json",
    ) -> JsonObject:
        retried = False
        while True:
            try:
                headers = {
                    "Accept": "application/json",
                    "Authorization": f"Bearer {self._token()}",
                    "Content-Type": content_type,
                }
                response = self._rest.request(
                    method,
                    self.endpoint + path,
                    query_params=list((query or {}).items()),
                    headers=headers,
                    body=body,
                    _preload_content=True,
                    _request_timeout=_TIMEOUT,
                )
            except WinNodesError:
                raise  # the token's: no AWS credentials, STS out of reach
            except ApiException as error:
                if error.status == _UNAUTHORIZED and not retried:
                    # Refused before anything was done: once, with a newly signed token.
                    self._token.invalidate()
                    retried = True
                    continue
                raise _mapped(error, method, path) from error
            except Exception as error:  # urllib3 connection and TLS errors, a token's failure
                raise KubernetesError(f"{method} {path}: {error}") from error
            return _json_object(response.data, method, path)


def _json_object(data: bytes, method: str, path: str) -> JsonObject:
    """A 2xx answer's body. Not JSON (a proxy's page) is an error, without a status: a caller must
    not take it for the API server's 200 or 201."""
    if not data:
        return {}
    try:
        body = json.loads(data)
    except ValueError as error:  # UnicodeDecodeError included
        raise KubernetesError(f"{method} {path}: the answer is not JSON: {error}") from error
    if not isinstance(body, dict):
        raise KubernetesError(f"{method} {path}: the answer is not a JSON object")
    return body


def _mapped(error: Any, method: str, path: str) -> KubernetesError:
    status = int(getattr(error, "status", 0) or 0)
    message = _status_message(getattr(error, "body", None)) or getattr(error, "reason", "")
    text = f"{method} {path}: {status} {message}".strip()
    by_status: dict[int, type[KubernetesError]] = {
        404: KubernetesNotFoundError,
        409: KubernetesConflictError,
        429: KubernetesTooManyRequestsError,
    }
    return by_status.get(status, KubernetesError)(text, status)


def _status_message(body: Any) -> str:
    if not body:
        return ""
    try:
        status = json.loads(body)
    except (TypeError, ValueError):
        return excerpt(str(body))
    return excerpt(str(status.get("message", ""))) if isinstance(status, dict) else ""


def _https_proxy() -> str | None:
    """The API server is https: its proxy is HTTPS_PROXY's, as for botocore, kubectl and urllib
    (the client's Configuration lets HTTP_PROXY, when also set, win instead). Without a scheme
    it is an http:// proxy, as botocore and curl read it."""
    proxy = getproxies_environment().get("https")
    if proxy and "://" not in proxy:
        return f"http://{proxy}"
    return proxy


def _without_credentials(proxy: str) -> str:
    """The proxy URL fit for an error message: its user and password, which would be logged and
    kept with the failed event, masked as botocore masks them (`mask_proxy_url`)."""
    scheme, separator, rest = proxy.partition("://")
    authority, slash, path = rest.partition("/")
    if "@" not in authority:
        return proxy
    return f"{scheme}{separator}***:***@{authority.rpartition('@')[2]}{slash}{path}"


def _tls_context(endpoint: str, ca_pem: str) -> ssl.SSLContext:
    """Trusts the cluster's CA alone, kept in memory, not in a file: a file in a shared
    temporary directory could be planted or swapped. One per API server: a context gathers every
    CA loaded into it.

    Not X.509 strict, which Python 3.13 and urllib3 2.4 turn on: strict refuses a CA without key
    identifiers, and the CA of an EKS cluster first created on Kubernetes 1.16 or earlier is one
    (kubernetes-client/python#2394); kubectl accepts it. Chain, signature, validity and host name
    are verified as before."""
    context = create_urllib3_context(cert_reqs=ssl.CERT_REQUIRED)
    context.verify_flags &= ~ssl.VERIFY_X509_STRICT
    try:
        context.load_verify_locations(cadata=ca_pem)
    except ssl.SSLError as error:
        raise KubernetesError(f"{endpoint}: the cluster CA is not a PEM certificate") from error
    return context


def _ca_pem(endpoint: str, ca_base64: str) -> str:
    try:
        pem = base64.b64decode(ca_base64).decode("ascii")
    except ValueError as error:  # not base64 (binascii.Error), not ASCII
        raise KubernetesError(f"{endpoint}: the cluster CA is not base64-encoded PEM") from error
    if not pem.strip():  # the ssl module would raise a bare ValueError
        raise KubernetesError(f"{endpoint}: the cluster has no CA")
    return pem
