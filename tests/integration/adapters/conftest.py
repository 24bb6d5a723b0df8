"""The adapters against the local cluster's kube-apiserver, as its administrator."""

from __future__ import annotations

import pytest

from localcloud.kube import KubeCloud
from winnodes.adapters.kube.api import KubeApi


class AdminToken:
    def __init__(self, token: str) -> None:
        self._token = token

    def __call__(self) -> str:
        return self._token

    def invalidate(self) -> None:
        pass


@pytest.fixture
def admin_api(kube: KubeCloud) -> KubeApi:
    return KubeApi(
        endpoint=kube.endpoint, ca_base64=kube.ca_data, token=AdminToken(kube.admin_token)
    )
