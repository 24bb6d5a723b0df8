"""The join's smoke-test pods over KubeApi: create (409 means a duplicate already did), read the
pod's phase and why its container ended, list ours, delete."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

from winnodes.adapters.kube.api import KubeApi
from winnodes.adapters.kube.timestamps import parse_time
from winnodes.decisions.drain import PodPhase
from winnodes.decisions.smoke import (
    CONTAINER_NAME,
    INSTANCE_ID_LABEL,
    MANAGED_BY,
    MANAGED_BY_LABEL,
    ListedSmokePod,
    SmokePod,
)
from winnodes.errors import InvalidInputError, KubernetesConflictError, KubernetesNotFoundError
from winnodes.models.identifiers import InstanceId

JsonObject = dict[str, Any]


class KubeSmokePods:
    def __init__(self, api: KubeApi) -> None:
        self._api = api

    def read(self, *, namespace: str, name: str) -> SmokePod | None:
        try:
            pod = self._api.get(_pod_path(namespace, name))
        except KubernetesNotFoundError:
            return None
        return smoke_pod_of(pod)

    def create(self, manifest: JsonObject) -> bool:
        namespace = manifest["metadata"]["namespace"]
        try:
            self._api.create(f"/api/v1/namespaces/{quote(namespace, safe='')}/pods", manifest)
        except KubernetesConflictError:
            return False
        return True

    def delete(self, *, namespace: str, name: str) -> bool:
        try:
            self._api.delete(_pod_path(namespace, name))
        except KubernetesNotFoundError:
            return False
        return True

    def listed(self, *, namespace: str) -> list[ListedSmokePod]:
        pods = self._api.list(
            f"/api/v1/namespaces/{quote(namespace, safe='')}/pods",
            query={"labelSelector": f"{MANAGED_BY_LABEL}={MANAGED_BY}"},
        )
        return [listed_smoke_pod_of(pod) for pod in pods]


def listed_smoke_pod_of(pod: Mapping[str, Any]) -> ListedSmokePod:
    metadata = _object(pod.get("metadata"))
    labels = _object(metadata.get("labels"))
    return ListedSmokePod(
        name=str(metadata.get("name") or ""),
        instance_id=_instance_id(labels.get(INSTANCE_ID_LABEL)),
        created_at=parse_time(metadata.get("creationTimestamp")),
    )


def smoke_pod_of(pod: Mapping[str, Any]) -> SmokePod:
    """The facts of a pod object; tolerant of missing or unexpected status fields (a pod the
    kubelet has not touched yet has none)."""
    spec = _object(pod.get("spec"))
    status = _object(pod.get("status"))
    state = _object(_container_status(status).get("state"))
    ended = _object(state.get("terminated"))
    waiting = _object(state.get("waiting"))
    exit_code = ended.get("exitCode")
    return SmokePod(
        node_name=_text(spec.get("nodeName")),
        phase=_phase(status.get("phase")),
        exit_code=exit_code if isinstance(exit_code, int) else None,
        reason=_text(ended.get("reason") or waiting.get("reason") or status.get("reason")),
        message=_text(ended.get("message") or waiting.get("message") or status.get("message")),
    )


def _container_status(status: Mapping[str, Any]) -> Mapping[str, Any]:
    listed = status.get("containerStatuses")
    statuses = [s for s in listed if isinstance(s, Mapping)] if isinstance(listed, list) else []
    named = [s for s in statuses if s.get("name") == CONTAINER_NAME]
    return (named or statuses or [{}])[0]


def _phase(value: Any) -> PodPhase:
    try:
        return PodPhase(value)
    except ValueError:
        # No phase yet (just created) is Pending; anything newer than we know is Unknown.
        return PodPhase.PENDING if value in (None, "") else PodPhase.UNKNOWN


def _instance_id(value: Any) -> InstanceId | None:
    try:
        return InstanceId(value)
    except InvalidInputError:  # a label someone else set: not a pod of ours to judge
        return None


def _object(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _text(value: Any) -> str | None:
    return str(value) if value not in (None, "") else None


def _pod_path(namespace: str, name: str) -> str:
    return f"/api/v1/namespaces/{quote(namespace, safe='')}/pods/{quote(name, safe='')}"
