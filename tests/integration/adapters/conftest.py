"""The adapters against the local cluster's kube-apiserver, as its administrator."""

from __future__ import annotations

import pytest

from localcloud.kube import KubeCloud
from tests.helpers.local_http import StaticToken
from winnodes.adapters.kube.api import KubeApi


@pytest.fixture
def admin_api(kube: KubeCloud) -> KubeApi:
    return KubeApi(
        endpoint=kube.endpoint, ca_base64=kube.ca_data, token=StaticToken(kube.admin_token)
    )
