"""Scheduler stand-in: binds pending pods to Ready, schedulable nodes, fewest pods first.

It also lifts the ``node.kubernetes.io/not-ready`` taint from Ready nodes, the one part of the
(disabled) node-lifecycle controller that scheduling needs.

Honours nodeSelector, required node affinity (matchExpressions, matchFields on metadata.name),
taints with NoSchedule/NoExecute and ``spec.unschedulable`` (cordon). No resources, no
preemption, no pod (anti-)affinity.
"""

from __future__ import annotations

import logging
import threading
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

from kubernetes.client import CoreV1Api

from localcloud.kube.clients import ApiException, raw_json
from localcloud.kube.timing import Timing

log = logging.getLogger("localcloud.scheduler")

Json = dict[str, Any]
NOT_READY_TAINT_KEY = "node.kubernetes.io/not-ready"
UNSCHEDULABLE_TAINT = {"key": "node.kubernetes.io/unschedulable", "effect": "NoSchedule"}


def node_is_ready(node: Json) -> bool:
    return any(
        c.get("type") == "Ready" and c.get("status") == "True"
        for c in node.get("status", {}).get("conditions", []) or []
    )


def tolerates(tolerations: Sequence[Json], taint: Mapping[str, Any]) -> bool:
    for tol in tolerations:
        if tol.get("effect") and tol["effect"] != taint.get("effect"):
            continue
        operator = tol.get("operator", "Equal")
        if not tol.get("key"):
            if operator == "Exists":
                return True
            continue
        if tol["key"] != taint.get("key"):
            continue
        if operator == "Exists" or (tol.get("value") or "") == (taint.get("value") or ""):
            return True
    return False


def _expression_matches(expr: Json, values: Mapping[str, str]) -> bool:
    key, operator = expr.get("key", ""), expr.get("operator")
    wanted = expr.get("values") or []
    match operator:
        case "In":
            return key in values and values[key] in wanted
        case "NotIn":
            return key not in values or values[key] not in wanted
        case "Exists":
            return key in values
        case "DoesNotExist":
            return key not in values
        case _:
            return False  # Gt/Lt: not simulated


def fits(pod: Json, node: Json) -> bool:
    """Whether ``pod`` may run on ``node`` (ignoring readiness and load)."""
    spec = pod.get("spec", {})
    labels = node.get("metadata", {}).get("labels", {}) or {}
    for key, value in (spec.get("nodeSelector") or {}).items():
        if labels.get(key) != value:
            return False
    tolerations = spec.get("tolerations") or []
    node_spec = node.get("spec", {})
    if node_spec.get("unschedulable") and not tolerates(tolerations, UNSCHEDULABLE_TAINT):
        return False
    for taint in node_spec.get("taints") or []:
        if taint.get("effect") in ("NoSchedule", "NoExecute") and not tolerates(tolerations, taint):
            return False
    required = ((spec.get("affinity") or {}).get("nodeAffinity") or {}).get(
        "requiredDuringSchedulingIgnoredDuringExecution"
    )
    if required:
        fields = {"metadata.name": node["metadata"]["name"]}
        terms = required.get("nodeSelectorTerms") or []
        if not any(
            all(_expression_matches(e, labels) for e in term.get("matchExpressions") or [])
            and all(_expression_matches(e, fields) for e in term.get("matchFields") or [])
            for term in terms
        ):
            return False
    return True


def choose_node(pod: Json, nodes: Sequence[Json], load: Mapping[str, int]) -> str | None:
    candidates: list[str] = [
        n["metadata"]["name"] for n in nodes if node_is_ready(n) and fits(pod, n)
    ]
    if not candidates:
        return None
    return min(candidates, key=lambda name: (load.get(name, 0), name))


class Scheduler:
    def __init__(self, api: CoreV1Api, *, timing: Timing) -> None:
        self._api = api
        self._timing = timing
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="localcloud-scheduler", daemon=True)

    def start(self) -> Scheduler:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=5)

    def _run(self) -> None:
        while not self._stop.wait(self._timing.scheduler_interval):
            try:
                self.schedule_once()
            except Exception:  # keep scheduling whatever one pass hit
                log.exception("scheduler pass failed")

    def lift_not_ready_taints(self, nodes: Sequence[Json]) -> None:
        """The node-lifecycle controller's part we need: the apiserver taints new nodes
        ``node.kubernetes.io/not-ready`` (TaintNodesByCondition); lift it once Ready."""
        for node in nodes:
            taints = node.get("spec", {}).get("taints") or []
            kept = [t for t in taints if t.get("key") != NOT_READY_TAINT_KEY]
            if len(kept) == len(taints) or not node_is_ready(node):
                continue
            meta = node["metadata"]
            patch = {
                "metadata": {"resourceVersion": meta["resourceVersion"]},
                "spec": {"taints": kept or None},
            }
            try:
                raw_json(self._api.patch_node, meta["name"], patch)
            except ApiException as exc:
                if exc.status not in (404, 409):
                    raise
            node["spec"]["taints"] = kept

    def schedule_once(self) -> int:
        nodes = raw_json(self._api.list_node)["items"]
        self.lift_not_ready_taints(nodes)
        pods = raw_json(
            self._api.list_pod_for_all_namespaces,
            field_selector="status.phase!=Succeeded,status.phase!=Failed",
        )["items"]
        pending = [
            p
            for p in pods
            if not p["spec"].get("nodeName") and not p["metadata"].get("deletionTimestamp")
        ]
        if not pending:
            return 0
        load = Counter(p["spec"]["nodeName"] for p in pods if p["spec"].get("nodeName"))
        bound = 0
        for pod in sorted(pending, key=lambda p: p["metadata"]["creationTimestamp"]):
            node = choose_node(pod, nodes, load)
            if node is None:
                continue
            meta = pod["metadata"]
            body = {
                "apiVersion": "v1",
                "kind": "Binding",
                "metadata": {"name": meta["name"], "uid": meta["uid"]},
                "target": {"apiVersion": "v1", "kind": "Node", "name": node},
            }
            try:
                raw_json(
                    self._api.create_namespaced_pod_binding, meta["name"], meta["namespace"], body
                )
            except ApiException as exc:
                if exc.status not in (404, 409):
                    raise
                continue
            load[node] += 1
            bound += 1
        return bound
