"""The official client's REST layer as the functions load it: without the `kubernetes` package
initialisers and without `requests`, yet with the same proxy behaviour.

Each case runs in a fresh interpreter, since this test session has imported both already."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

LAYER = Path(__file__).parents[3] / "layers" / "winnodes"

PROBE = """
import json, sys
from winnodes.adapters.kube import official
loaded_at_import = sorted(m for m in ("kubernetes", "requests") if m in sys.modules)
configuration = official.Configuration()
configuration.host = sys.argv[1]
rest = official.RESTClientObject(configuration)
print(json.dumps({
    "loaded_at_import": loaded_at_import,
    "pool": type(rest.pool_manager).__name__,
    "requests_loaded": "requests" in sys.modules,
}))
"""


def probe(host: str, **proxy_env: str) -> dict[str, object]:
    env = {
        key: value
        for key, value in os.environ.items()
        if key.lower() not in {"https_proxy", "http_proxy", "no_proxy"}
    }
    env |= proxy_env | {"PYTHONPATH": str(LAYER)}
    out = subprocess.run(
        [sys.executable, "-c", PROBE, host], env=env, capture_output=True, text=True, check=True
    )
    result: dict[str, object] = json.loads(out.stdout)
    return result


def test_loading_the_rest_layer_imports_neither_the_kubernetes_package_nor_requests() -> None:
    result = probe("https://api.cluster.example")

    assert result["loaded_at_import"] == []
    assert result["pool"] == "PoolManager"
    assert result["requests_loaded"] is False


@pytest.mark.parametrize(
    ("host", "pool"),
    [
        ("https://api.cluster.example", "ProxyManager"),
        ("https://abc.gr7.eu-west-1.eks.amazonaws.com", "PoolManager"),
    ],
)
def test_a_proxy_from_the_environment_is_used_unless_no_proxy_excludes_the_host(
    host: str, pool: str
) -> None:
    result = probe(host, HTTPS_PROXY="http://proxy.internal:3128", NO_PROXY=".amazonaws.com")

    assert result["pool"] == pool
    assert result["requests_loaded"] is True  # the real should_bypass_proxies decided
