"""The official `kubernetes` client's REST layer, loaded without its package initialisers.

`import kubernetes` (and any `kubernetes.client.*` submodule) runs package `__init__`s that
import all API groups and ~770 generated models: ~0.35 s of a Lambda cold start. We only need
`Configuration` (TLS, auth, proxy settings) and `RESTClientObject` (urllib3 with them), ~0.1 s,
and speak JSON ourselves. When the full client is already imported (tests, tools), we use it.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
import types
from typing import Any

_PACKAGES = ("kubernetes", "kubernetes.client")


def _load_without_package_init() -> tuple[Any, Any, Any]:
    installed: list[str] = []
    try:
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
        # Leave no half-initialised package behind: a later `import kubernetes` runs the real one
        # and finds these submodules already loaded.
        for name in installed:
            del sys.modules[name]
    return configuration, rest, exceptions


_configuration, _rest, _exceptions = _load_without_package_init()
Configuration = _configuration.Configuration
RESTClientObject = _rest.RESTClientObject
ApiException = _exceptions.ApiException
