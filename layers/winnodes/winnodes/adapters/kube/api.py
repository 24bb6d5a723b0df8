"""JSON over the Kubernetes API with the official client's REST layer, errors mapped to ours."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import tempfile
from collections.abc import Iterator, Mapping
from typing import Any

from winnodes.adapters.kube.official import ApiException, Configuration, RESTClientObject
from winnodes.adapters.kube.token import BearerToken
from winnodes.errors import (
    KubernetesConflictError,
    KubernetesError,
    KubernetesNotFoundError,
    KubernetesTooManyRequestsError,
)

JsonObject = dict[str, Any]
MERGE_PATCH = "application/merge-patch+json"
STRATEGIC_MERGE_PATCH = "application/strategic-merge-patch+json"
_PAGE_SIZE = 500
_TIMEOUT = (5.0, 30.0)  # connect, read
_RETRIES = 1
_UNAUTHORIZED = 401


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
        self._token = token
        self._page_size = page_size
        configuration = Configuration()
        configuration.host = self.endpoint
        configuration.ssl_ca_cert = _ca_file(ca_base64)
        configuration.verify_ssl = True
        # One retry (urllib3's default is three) covers a pooled connection the server dropped;
        # a cluster out of reach then costs each read two connect timeouts, not four.
        configuration.retries = _RETRIES
        self._rest = RESTClientObject(configuration)

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
            headers = {
                "Accept": "application/json",
                "Authorization": f"Bearer {self._token()}",
                "Content-Type": content_type,
            }
            try:
                response = self._rest.request(
                    method,
                    self.endpoint + path,
                    query_params=list((query or {}).items()),
                    headers=headers,
                    body=body,
                    _preload_content=True,
                    _request_timeout=_TIMEOUT,
                )
            except ApiException as error:
                if error.status == _UNAUTHORIZED and not retried:
                    # Refused before anything was done: once, with a newly signed token.
                    self._token.invalidate()
                    retried = True
                    continue
                raise _mapped(error, method, path) from error
            except Exception as error:  # urllib3 connection and TLS errors
                raise KubernetesError(f"{method} {path}: {error}") from error
            text = response.data.decode("utf-8") if response.data else ""
            return json.loads(text) if text else {}


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
        return str(body)[:200]
    return str(status.get("message", "")) if isinstance(status, dict) else ""


def _ca_file(ca_base64: str) -> str:
    """urllib3 takes the CA as a file path; one file per CA, reused across warm invocations."""
    pem = base64.b64decode(ca_base64)
    directory = os.path.join(tempfile.gettempdir(), "winnodes-ca")
    os.makedirs(directory, exist_ok=True)
    path = os.path.join(directory, hashlib.sha256(pem).hexdigest()[:16] + ".pem")
    if not os.path.exists(path):
        with tempfile.NamedTemporaryFile(dir=directory, delete=False) as handle:
            handle.write(pem)
        os.replace(handle.name, path)
    return path
