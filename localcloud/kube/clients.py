"""Official kubernetes client, configured for the local control plane."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kubernetes.client import ApiClient, Configuration, CoreV1Api
from kubernetes.client.exceptions import ApiException

TokenSupplier = Callable[[], str]


def admin_configuration(*, endpoint: str, ca_file: Path, token: str) -> Configuration:
    config = Configuration(host=endpoint)
    config.ssl_ca_cert = str(ca_file)
    config.api_key = {"BearerToken": token}
    config.api_key_prefix = {"BearerToken": "Bearer"}
    return config


@dataclass
class RotatingToken:
    """Calls a token provider at most every ``refresh_after`` seconds (tokens live 15 min)."""

    provider: TokenSupplier
    refresh_after: float = 60.0
    _token: str | None = None
    _at: float = 0.0

    def __post_init__(self) -> None:
        self._lock = threading.Lock()

    def current(self) -> str:
        with self._lock:
            if self._token is None or time.monotonic() - self._at > self.refresh_after:
                self._token = self.provider()
                self._at = time.monotonic()
            return self._token

    def invalidate(self) -> None:
        with self._lock:
            self._token = None


def token_configuration(*, endpoint: str, ca_file: Path, token: RotatingToken) -> Configuration:
    config = Configuration(host=endpoint)
    config.ssl_ca_cert = str(ca_file)
    config.api_key_prefix = {"BearerToken": "Bearer"}
    config.api_key = {"BearerToken": ""}

    def refresh(cfg: Configuration) -> None:
        cfg.api_key["BearerToken"] = token.current()

    config.refresh_api_key_hook = refresh
    return config


def core_v1(config: Configuration) -> CoreV1Api:
    return CoreV1Api(ApiClient(config))


def raw_json(call: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """Call a client method without model deserialization (faster, camelCase dicts)."""
    response = call(*args, _preload_content=False, **kwargs)
    try:
        return json.loads(response.data or b"null")
    finally:
        response.release_conn()


def allowed(
    api: ApiClient,
    *,
    verb: str,
    resource: str,
    user: str | None = None,
    groups: tuple[str, ...] = (),
    namespace: str | None = None,
    api_group: str = "",
    name: str | None = None,
) -> bool:
    """What the API server's authorizer answers now for `user`/`groups` (a SubjectAccessReview).

    RBAC decides from an informer cache of Roles and bindings: a binding just created can take a
    moment to count, so whoever creates one and then acts as its subject waits on this first."""
    attributes = {"verb": verb, "resource": resource, "group": api_group}
    attributes |= {"namespace": namespace} if namespace else {}
    attributes |= {"name": name} if name else {}
    spec: dict[str, Any] = {"resourceAttributes": attributes, "groups": list(groups)}
    if user:
        spec["user"] = user
    response = api.call_api(
        "/apis/authorization.k8s.io/v1/subjectaccessreviews",
        "POST",
        body={"apiVersion": "authorization.k8s.io/v1", "kind": "SubjectAccessReview", "spec": spec},
        auth_settings=["BearerToken"],
        _preload_content=False,
    )
    try:
        return bool(json.loads(response.data)["status"].get("allowed"))
    finally:
        response.release_conn()


__all__ = [
    "ApiException",
    "RotatingToken",
    "admin_configuration",
    "allowed",
    "core_v1",
    "raw_json",
    "token_configuration",
]
