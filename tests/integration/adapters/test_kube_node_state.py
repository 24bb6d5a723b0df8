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


@pytest.mark.parametrize(
    ("status", "ready"),
    [("True", True), ("False", False), ("Unknown", False)],
    ids=["Ready", "NotReady", "Unknown"],
)
def test_the_ready_condition_and_when_it_was_reported_are_read(
    kube: KubeCloud, admin_api: KubeApi, status: str, ready: bool
) -> None:
    # A Windows kubelet reports NotReady, with fresh heartbeats, while its network comes up:
    # only "True" is Ready, and only Ready lets a join complete with CONTINUE.
    instance_id = f"i-{secrets.token_hex(9)[:17]}"
    name = f"ip-10-9-{secrets.randbelow(250)}-1.ec2.internal"
    core = kube.core_v1()
    raw_json(
        core.create_node,
        {"metadata": {"name": name}, "spec": {"providerID": f"aws:///us-east-1a/{instance_id}"}},
    )
    try:
        condition = {
            "type": "Ready",
            "status": status,
            "reason": "KubeletReady" if ready else "KubeletNotReady",
            "message": "kubelet is posting ready status" if ready else "network not ready",
            "lastHeartbeatTime": "2026-03-02T09:00:30Z",
            "lastTransitionTime": "2026-03-02T09:00:10Z",
        }
        raw_json(core.patch_node_status, name, {"status": {"conditions": [condition]}})

        state = KubeCluster(admin_api).node_named(name)

        assert state is not None
        assert state.instance_id == instance_id
        assert state.ready is ready
        assert state.ready_reported_at == REPORTED
    finally:
        core.delete_node(name)
