"""A Node as the kube-apiserver returns it, read by the adapter: the Ready condition and when the
kubelet last reported it (its lastHeartbeatTime), which tells a Ready left over from before the
instance's stop from one its restarted kubelet reported."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime

import pytest

from localcloud.kube import KubeCloud
from localcloud.kube.clients import raw_json
from winnodes.adapters.kube.api import KubeApi
from winnodes.adapters.kube.cluster import KubeCluster

pytestmark = pytest.mark.integration

REPORTED = datetime(2026, 3, 2, 9, 0, 30, tzinfo=UTC)


class AdminToken:
    def __init__(self, token: str) -> None:
        self._token = token

    def __call__(self) -> str:
        return self._token

    def invalidate(self) -> None:
        pass


def test_the_ready_condition_and_when_it_was_reported_are_read(kube: KubeCloud) -> None:
    instance_id = f"i-{secrets.token_hex(9)[:17]}"
    name = f"ip-10-9-{secrets.randbelow(250)}-1.ec2.internal"
    core = kube.core_v1()
    raw_json(
        core.create_node,
        {"metadata": {"name": name}, "spec": {"providerID": f"aws:///us-east-1a/{instance_id}"}},
    )
    try:
        ready = {
            "type": "Ready",
            "status": "True",
            "reason": "KubeletReady",
            "message": "kubelet is posting ready status",
            "lastHeartbeatTime": "2026-03-02T09:00:30Z",
            "lastTransitionTime": "2026-03-02T09:00:10Z",
        }
        raw_json(core.patch_node_status, name, {"status": {"conditions": [ready]}})
        api = KubeApi(
            endpoint=kube.endpoint, ca_base64=kube.ca_data, token=AdminToken(kube.admin_token)
        )

        state = KubeCluster(api).node_named(name)

        assert state is not None
        assert state.instance_id == instance_id
        assert state.ready
        assert state.ready_reported_at == REPORTED
    finally:
        core.delete_node(name)
