"""Workloads for the Kubernetes half's integration tests."""

from __future__ import annotations

import pytest

from localcloud.kube import KubeCloud
from tests.helpers.workloads import Workloads


@pytest.fixture
def workloads(kube: KubeCloud, namespace: str) -> Workloads:
    return Workloads(kube, namespace)
