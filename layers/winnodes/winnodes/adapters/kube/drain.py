"""Draining Nodes over KubeApi: find, cordon, list pods, evict (policy/v1 or v1beta1, discovered
like kubectl's CheckEvictionSupport), delete pods and the Node, name the PodDisruptionBudgets
that stand in the way."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from typing import Any, Final
from urllib.parse import quote

from winnodes.adapters.kube.api import STRATEGIC_MERGE_PATCH
from winnodes.adapters.kube.timestamps import format_time, parse_time
from winnodes.errors import (
    InvalidInputError,
    KubernetesConflictError,
    KubernetesError,
    KubernetesNotFoundError,
)
from winnodes.models.identifiers import ProviderId
from winnodes.ports import EvictionAnswer, Kubernetes, LeavingNode, PodOnNode

DRAIN_STARTED_ANNOTATION: Final = "eks-windows-nodes/drain-started-at"
# Managed node groups label a leaving node so external load balancers stop sending it traffic.
EXCLUDE_FROM_LOAD_BALANCERS_LABEL: Final = "node.kubernetes.io/exclude-from-external-load-balancers"
MIRROR_POD_ANNOTATION: Final = "kubernetes.io/config.mirror"
# The urllib3 pool of the official client's configuration holds cpu_count × 5 connections;
# more threads than that would open and discard extra TLS connections.
DEFAULT_CONCURRENCY: Final = 8
_UNREACHABLE: Final = 503


class KubeDrain:
    """One cluster's drain operations. Thread-safe; evictions run on a bounded pool. Keep one
    for a pass or an invocation: it reads the policy API version once."""

    def __init__(
        self,
        api: Kubernetes,
        *,
        concurrency: int = DEFAULT_CONCURRENCY,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._api = api
        self._concurrency = max(1, concurrency)
        self._monotonic = monotonic  # for evict's window
        self._lock = threading.Lock()
        self._policy_version: str | None = None

    # -- the Node ---------------------------------------------------------------------------

    def leaving_node(self, instance_id: str, *, name: str | None = None) -> LeavingNode | None:
        if name is not None:
            try:
                node = self._api.get(f"/api/v1/nodes/{quote(name, safe='')}")
            except KubernetesNotFoundError:
                node = None
            if node is not None and _instance_id(node) == instance_id:
                return _leaving_node(node, instance_id)
        # The name is the DNS name, which a new instance can reuse: the providerID decides.
        for node in self._api.list("/api/v1/nodes"):
            if _instance_id(node) == instance_id:
                return _leaving_node(node, instance_id)
        return None

    def cordon(self, node: LeavingNode, *, drain_started_at: datetime | None) -> None:
        metadata: dict[str, Any] = {"labels": {EXCLUDE_FROM_LOAD_BALANCERS_LABEL: "true"}}
        if drain_started_at is not None:
            metadata["annotations"] = {DRAIN_STARTED_ANNOTATION: format_time(drain_started_at)}
        self._api.patch(
            f"/api/v1/nodes/{quote(node.name, safe='')}",
            {"metadata": metadata, "spec": {"unschedulable": True}},
            content_type=STRATEGIC_MERGE_PATCH,
        )

    def delete_node(self, node: LeavingNode) -> bool:
        try:
            self._api.delete(
                f"/api/v1/nodes/{quote(node.name, safe='')}",
                {"preconditions": {"uid": node.uid}},
            )
        except (KubernetesNotFoundError, KubernetesConflictError):
            return False
        return True

    # -- its pods ---------------------------------------------------------------------------

    def pods_on(self, node: str) -> Sequence[PodOnNode]:
        return [
            _pod(pod)
            for pod in self._api.list(
                "/api/v1/pods", query={"fieldSelector": f"spec.nodeName={node}"}
            )
        ]

    def evict(
        self, pods: Sequence[PodOnNode], *, start_within: timedelta | None = None
    ) -> Mapping[str, EvictionAnswer]:
        if not pods:
            return {}
        version = self.policy_version()
        answers = self._map(lambda pod: self._evict_one(pod, version), pods, start_within)
        return {
            pod.key: answer
            for pod, answer in zip(pods, answers, strict=True)
            if answer is not None  # not sent: the next look's
        }

    def _evict_one(self, pod: PodOnNode, version: str) -> EvictionAnswer:
        body = {
            "apiVersion": f"policy/{version}",
            "kind": "Eviction",
            "metadata": {"name": pod.name, "namespace": pod.namespace},
            # Pinned to the uid we planned for: a new pod of the same name is not ours (409).
            "deleteOptions": {"preconditions": {"uid": pod.uid}},
        }
        try:
            self._api.create(f"{_pod_path(pod)}/eviction", body)
        except KubernetesError as error:
            return EvictionAnswer(error.status or _UNREACHABLE, str(error))
        return EvictionAnswer(201)

    def delete_pods(
        self, pods: Sequence[PodOnNode], *, start_within: timedelta | None = None
    ) -> Mapping[str, KubernetesError]:
        def delete(pod: PodOnNode) -> KubernetesError | None:
            try:
                self._api.delete(_pod_path(pod), {"preconditions": {"uid": pod.uid}})
            except (KubernetesNotFoundError, KubernetesConflictError):
                pass  # gone already, or replaced by a pod that is not on this node: fine
            except KubernetesError as error:
                return error
            return None

        errors = self._map(delete, pods, start_within)
        return {
            pod.key: error for pod, error in zip(pods, errors, strict=True) if error is not None
        }

    def disruption_budgets(self, pods: Sequence[PodOnNode]) -> Mapping[str, str]:
        version = self.policy_version()
        budgets: dict[str, str] = {}
        for namespace in sorted({pod.namespace for pod in pods}):
            path = (
                f"/apis/policy/{version}/namespaces/{quote(namespace, safe='')}"
                "/poddisruptionbudgets"
            )
            pdbs = list(self._api.list(path))
            for pod in pods:
                if pod.namespace != namespace:
                    continue
                for pdb in pdbs:
                    if selects((pdb.get("spec") or {}).get("selector"), pod.labels):
                        budgets[pod.key] = f"{namespace}/{pdb['metadata']['name']}"
                        break
        return budgets

    def policy_version(self) -> str:
        """policy/v1 where the server has it (Kubernetes >= 1.22 for Eviction), else v1beta1."""
        with self._lock:
            if self._policy_version is None:
                group = self._api.get("/apis/policy")
                versions = {v.get("version") for v in group.get("versions") or []}
                self._policy_version = "v1" if "v1" in versions else "v1beta1"
            return self._policy_version

    def _map[T, R](
        self, call: Callable[[T], R], items: Sequence[T], start_within: timedelta | None = None
    ) -> list[R | None]:
        """`call` on each item, on the pool; None for an item whose call would start later than
        `start_within` after now, which is not made."""
        start_by = (
            None if start_within is None else self._monotonic() + start_within.total_seconds()
        )

        def in_time(item: T) -> R | None:
            if start_by is not None and self._monotonic() > start_by:
                return None
            return call(item)

        if len(items) <= 1:
            return [in_time(item) for item in items]
        workers = min(self._concurrency, len(items))
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="drain") as pool:
            return list(pool.map(in_time, items))


def selects(selector: Mapping[str, Any] | None, labels: Mapping[str, str]) -> bool:
    """A LabelSelector against a pod's labels. An empty selector of a PDB selects every pod of
    its namespace in policy/v1 (and none in v1beta1; treating it as all at worst names one
    blocker too many)."""
    if selector is None:
        return False
    if any(labels.get(k) != v for k, v in (selector.get("matchLabels") or {}).items()):
        return False
    return all(_matches(e, labels) for e in selector.get("matchExpressions") or [])


def _matches(expression: Mapping[str, Any], labels: Mapping[str, str]) -> bool:
    key, operator = expression.get("key"), expression.get("operator")
    present = isinstance(key, str) and key in labels
    value_in = present and labels[str(key)] in set(expression.get("values") or [])
    match operator:
        case "In":
            return value_in
        case "NotIn":
            return not value_in
        case "Exists":
            return present
        case "DoesNotExist":
            return not present
    return False


def _pod_path(pod: PodOnNode) -> str:
    return f"/api/v1/namespaces/{quote(pod.namespace, safe='')}/pods/{quote(pod.name, safe='')}"


def _instance_id(node: Mapping[str, Any]) -> str | None:
    try:
        return str(ProviderId.parse((node.get("spec") or {}).get("providerID", "")).instance_id)
    except InvalidInputError:
        return None


def _leaving_node(node: Mapping[str, Any], instance_id: str) -> LeavingNode:
    metadata = node["metadata"]
    labels = metadata.get("labels") or {}
    started = (metadata.get("annotations") or {}).get(DRAIN_STARTED_ANNOTATION)
    return LeavingNode(
        name=metadata["name"],
        uid=metadata["uid"],
        instance_id=instance_id,
        unschedulable=bool((node.get("spec") or {}).get("unschedulable")),
        excluded_from_load_balancers=labels.get(EXCLUDE_FROM_LOAD_BALANCERS_LABEL) == "true",
        ready=_ready(node),
        drain_started_at=parse_time(started),  # unknown: the drain restarts its clock
    )


def _ready(node: Mapping[str, Any]) -> bool:
    conditions = (node.get("status") or {}).get("conditions") or []
    ready = next((c for c in conditions if c.get("type") == "Ready"), None)
    return ready is None or ready.get("status") == "True"


def _pod(pod: Mapping[str, Any]) -> PodOnNode:
    metadata = pod["metadata"]
    owners = metadata.get("ownerReferences") or []
    volumes = (pod.get("spec") or {}).get("volumes") or []
    return PodOnNode(
        namespace=metadata["namespace"],
        name=metadata["name"],
        uid=metadata["uid"],
        labels=dict(metadata.get("labels") or {}),
        owner_kinds=tuple(o["kind"] for o in owners if o.get("controller")),
        is_mirror=MIRROR_POD_ANNOTATION in (metadata.get("annotations") or {}),
        deletion_timestamp=parse_time(metadata.get("deletionTimestamp")),
        has_emptydir=any("emptyDir" in volume for volume in volumes),
        phase=(pod.get("status") or {}).get("phase") or "Pending",
    )
