"""The official `kubernetes` client's REST layer, loaded without its package initialisers.

`import kubernetes` (and any `kubernetes.client.*` submodule) runs package `__init__`s that
import all API groups and ~770 generated models: ~0.35 s of a Lambda cold start. We only need
`Configuration` (TLS, auth, proxy settings) and `RESTClientObject` (urllib3 with them), ~0.1 s,
and speak JSON ourselves. When the full client is already imported (tests, tools), we use it.

`rest` also imports all of `requests` (~25 ms) for one function, `should_bypass_proxies`, that
it calls only when a proxy is configured (HTTPS_PROXY and friends). It gets a stand-in that
imports the real one on its first call.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
import types
from typing import Any

_PACKAGES = ("kubernetes", "kubernetes.client")


def _should_bypass_proxies(url: str, no_proxy: str | None) -> bool:
    from requests.utils import should_bypass_proxies  # noqa: PLC0415 - only behind a proxy

    return bool(should_bypass_proxies(url, no_proxy=no_proxy))


def _deferred_requests_utils() -> dict[str, types.ModuleType]:
    """Stand-ins for `requests` and `requests.utils`, for as long as `rest` loads."""
    if "requests" in sys.modules:  # the real one is loaded already: nothing to save
        return {}
    package = types.ModuleType("requests")
    package.__path__ = []
    utils = types.ModuleType("requests.utils")
    utils.should_bypass_proxies = _should_bypass_proxies  # type: ignore[attr-defined]
    return {"requests": package, "requests.utils": utils}


def _load_without_package_init() -> tuple[Any, Any, Any]:
    installed: list[str] = []
    try:
        for name, stand_in in _deferred_requests_utils().items():
            sys.modules[name] = stand_in
            installed.append(name)
        for name in _PACKAGES:
            if name in sys.modules:
                continue
            spec = importlib.util.find_spec(name)
            if spec is None or spec.submodule_search_locations is None:
                raise ImportError(f"{name} is not installed")
            package = types.ModuleType(name)
            package.__path__ = list(spec.submodule_search_locations)
            package.__spec__ = spec
            sys.modules[name] = package
            installed.append(name)
        configuration = importlib.import_module("kubernetes.client.configuration")
        rest = importlib.import_module("kubernetes.client.rest")
        exceptions = importlib.import_module("kubernetes.client.exceptions")
    finally:
        # Leave no half-initialised package or stand-in behind: a later `import kubernetes` runs
        # the real one and finds these submodules already loaded; `import requests` is real.
        for name in installed:
            del sys.modules[name]
    return configuration, rest, exceptions


_configuration, _rest, _exceptions = _load_without_package_init()
Configuration = _configuration.Configuration
RESTClientObject = _rest.RESTClientObject
ApiException = _exceptions.ApiException
