"""The Kubernetes objects the lifecycle touches, over KubeApi."""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import quote

from winnodes.adapters.kube.api import KubeApi
from winnodes.adapters.kube.drain import (
    DRAIN_STARTED_ANNOTATION,
    EXCLUDE_FROM_LOAD_BALANCERS_LABEL,
    KubeDrain,
)
from winnodes.adapters.kube.smoke import KubeSmokePods
from winnodes.adapters.kube.timestamps import parse_time
from winnodes.adapters.kube.token import CachedToken
from winnodes.decisions.smoke import WINDOWS_BUILD_LABEL
from winnodes.errors import InvalidInputError, KubernetesConflictError, KubernetesNotFoundError
from winnodes.models.identifiers import ProviderId
from winnodes.ports import AwsAuthConfigMap, ClusterConnection, NodeState

if TYPE_CHECKING:
    from mypy_boto3_sts import STSClient

CONFIGMAPS = "/api/v1/namespaces/kube-system/configmaps"
VPC_CNI_CONFIGMAP = "amazon-vpc-cni"
WINDOWS_IPAM_KEY = "enable-windows-ipam"
AWS_AUTH = "aws-auth"
# On a Node the join cordoned for its instance's stay in the warm pool.
WARM_POOL_HOLD_ANNOTATION: Final = "eks-windows-nodes/held-for-warm-pool"


class KubeCluster:
    def __init__(self, api: KubeApi) -> None:
        self._api = api

    @property
    def api(self) -> KubeApi:
        return self._api

    def windows_ipam_enabled(self) -> bool:
        try:
            current = self._api.get(f"{CONFIGMAPS}/{VPC_CNI_CONFIGMAP}")
        except KubernetesNotFoundError:
            return False
        return _windows_ipam_on(current)

    def ensure_windows_ipam(self) -> bool:
        # EKS user guide, windows-support.html: the VPC resource controller hands out Windows
        # IPs only when this key is "true". Merge patch keeps every other key as it was.
        path = f"{CONFIGMAPS}/{VPC_CNI_CONFIGMAP}"
        for _ in range(3):
            try:
                current = self._api.get(path)
            except KubernetesNotFoundError:
                try:
                    self._api.create(
                        CONFIGMAPS,
                        {
                            "metadata": {"name": VPC_CNI_CONFIGMAP, "namespace": "kube-system"},
                            "data": {WINDOWS_IPAM_KEY: "true"},
                        },
                    )
                except KubernetesConflictError:
                    continue  # created meanwhile by someone else: read it again
                return True
            if _windows_ipam_on(current):
                return False
            self._api.patch(path, {"data": {WINDOWS_IPAM_KEY: "true"}})
            return True
        raise KubernetesConflictError(f"{path}: kept changing while being created")

    def read_aws_auth(self) -> AwsAuthConfigMap | None:
        try:
            config_map = self._api.get(f"{CONFIGMAPS}/{AWS_AUTH}")
        except KubernetesNotFoundError:
            return None
        return AwsAuthConfigMap(
            data=dict(config_map.get("data") or {}),
            resource_version=config_map["metadata"]["resourceVersion"],
        )

    def write_aws_auth(self, data: Mapping[str, str], *, resource_version: str | None) -> None:
        if resource_version is None:
            self._api.create(
                CONFIGMAPS,
                {"metadata": {"name": AWS_AUTH, "namespace": "kube-system"}, "data": dict(data)},
            )
            return
        # A merge patch, not a PUT: a PUT replaces the whole object, and with it the labels,
        # annotations (Helm's ownership, kubectl's last-applied) and binaryData we never read.
        # The resourceVersion makes it conditional (409 when written meanwhile); `data` holds
        # every key that was read, so the keys patched are all the keys.
        self._api.patch(
            f"{CONFIGMAPS}/{AWS_AUTH}",
            {"metadata": {"resourceVersion": resource_version}, "data": dict(data)},
        )

    def node_named(self, name: str) -> NodeState | None:
        try:
            return _node_state(self._api.get(_node_path(name)))
        except KubernetesNotFoundError:
            return None

    def hold_for_warm_pool(self, name: str) -> NodeState | None:
        # Without the marks of a drain (a return to the pool): the draw lifts only the cordon
        # and our mark, and the next drain must start a clock of its own.
        return self._patch_node(
            name,
            {
                "annotations": {WARM_POOL_HOLD_ANNOTATION: "true", DRAIN_STARTED_ANNOTATION: None},
                "labels": {EXCLUDE_FROM_LOAD_BALANCERS_LABEL: None},
            },
            unschedulable=True,
        )

    def return_from_warm_pool(self, name: str) -> NodeState | None:
        # null removes, as kubectl uncordon leaves spec.unschedulable unset.
        return self._patch_node(
            name, {"annotations": {WARM_POOL_HOLD_ANNOTATION: None}}, unschedulable=None
        )

    def _patch_node(
        self, name: str, metadata: dict[str, Any], *, unschedulable: bool | None
    ) -> NodeState | None:
        try:
            patched = self._api.patch(
                _node_path(name), {"metadata": metadata, "spec": {"unschedulable": unschedulable}}
            )
        except KubernetesNotFoundError:
            return None
        return _node_state(patched)

    def nodes_by_instance(self) -> dict[str, NodeState]:
        nodes = {}
        for node in self._api.list("/api/v1/nodes"):
            state = _node_state(node)
            if state.instance_id:
                nodes[state.instance_id] = state
        return nodes


def _windows_ipam_on(config_map: Mapping[str, Any]) -> bool:
    return (config_map.get("data") or {}).get(WINDOWS_IPAM_KEY) == "true"


def _node_path(name: str) -> str:
    return f"/api/v1/nodes/{quote(name, safe='')}"


def _node_state(node: Mapping[str, Any]) -> NodeState:
    spec = node.get("spec") or {}
    labels = node["metadata"].get("labels") or {}
    annotations = node["metadata"].get("annotations") or {}
    conditions = (node.get("status") or {}).get("conditions") or []
    ready: Mapping[str, Any] = next((c for c in conditions if c.get("type") == "Ready"), {})
    return NodeState(
        name=node["metadata"]["name"],
        instance_id=instance_id_of(spec.get("providerID", "")),
        ready=ready.get("status") == "True",
        unschedulable=bool(spec.get("unschedulable")),
        windows_build=labels.get(WINDOWS_BUILD_LABEL),
        held_for_warm_pool=WARM_POOL_HOLD_ANNOTATION in annotations,
        ready_reported_at=parse_time(ready.get("lastHeartbeatTime")),
    )


def instance_id_of(provider_id: str) -> str | None:
    # The node's name is its DNS name, which can be reused; the providerID ties it to one instance.
    try:
        return str(ProviderId.parse(provider_id).instance_id)
    except InvalidInputError:
        return None


class KubeClusters:
    """One authenticated client per cluster endpoint for the container's lifetime."""

    def __init__(self, sts: STSClient, *, wall_clock: Callable[[], float]) -> None:
        self._sts = sts
        self._wall_clock = wall_clock
        self._lock = threading.Lock()
        self._clusters: dict[tuple[str, str, str], KubeCluster] = {}

    def __call__(self, connection: ClusterConnection) -> KubeCluster:
        key = (connection.name, connection.endpoint, connection.ca_base64)
        with self._lock:
            if key not in self._clusters:
                token = CachedToken(self._sts, connection.name, wall_clock=self._wall_clock)
                api = KubeApi(
                    endpoint=connection.endpoint, ca_base64=connection.ca_base64, token=token
                )
                self._clusters[key] = KubeCluster(api)
            return self._clusters[key]

    def drain(self, connection: ClusterConnection) -> KubeDrain:
        """Drain operations over the same authenticated API as `self(connection)`. A fresh one per
        call, which the caller keeps for its pass or invocation (LeaveService does, in its
        FleetView): it discovers the policy API version once, and the next invocation again, so a
        cluster upgraded under a warm container is evicted with the version it serves now."""
        return KubeDrain(self(connection).api)

    def smoke_pods(self, connection: ClusterConnection) -> KubeSmokePods:
        """The join's smoke-test pods, over the same authenticated API as `self(connection)`."""
        return KubeSmokePods(self(connection).api)
