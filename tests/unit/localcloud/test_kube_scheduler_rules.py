"""Placement rules of the scheduler stand-in (localcloud/kube/scheduler.py)."""

from __future__ import annotations

from typing import Any

from localcloud.kube.scheduler import Json, choose_node, fits, tolerates

READY = {"conditions": [{"type": "Ready", "status": "True"}]}


def _node(
    name: str,
    *,
    labels: dict[str, str] | None = None,
    taints: list[Json] | None = None,
    unschedulable: bool = False,
    ready: bool = True,
) -> Json:
    return {
        "metadata": {"name": name, "labels": {"kubernetes.io/os": "windows", **(labels or {})}},
        "spec": {"taints": taints or [], "unschedulable": unschedulable},
        "status": READY if ready else {"conditions": [{"type": "Ready", "status": "False"}]},
    }


def _pod(**spec: Any) -> Json:
    return {"metadata": {"name": "p"}, "spec": spec}


def test_node_selector_must_match() -> None:
    pod = _pod(nodeSelector={"kubernetes.io/os": "windows"})
    assert fits(pod, _node("a"))
    assert not fits(_pod(nodeSelector={"kubernetes.io/os": "linux"}), _node("a"))


def test_taints_need_tolerations() -> None:
    taint = {"key": "os", "value": "windows", "effect": "NoSchedule"}
    assert not fits(_pod(), _node("a", taints=[taint]))
    assert fits(_pod(tolerations=[{"key": "os", "value": "windows"}]), _node("a", taints=[taint]))
    assert fits(_pod(tolerations=[{"operator": "Exists"}]), _node("a", taints=[taint]))
    assert not fits(_pod(tolerations=[{"key": "os", "value": "linux"}]), _node("a", taints=[taint]))
    assert fits(_pod(), _node("a", taints=[taint | {"effect": "PreferNoSchedule"}]))


def test_cordoned_nodes_take_only_pods_tolerating_unschedulable() -> None:
    daemon_pod = _pod(
        tolerations=[
            {
                "key": "node.kubernetes.io/unschedulable",
                "operator": "Exists",
                "effect": "NoSchedule",
            }
        ]
    )
    assert not fits(_pod(), _node("a", unschedulable=True))
    assert fits(daemon_pod, _node("a", unschedulable=True))


def test_required_node_affinity_with_match_fields() -> None:
    pod = _pod(
        affinity={
            "nodeAffinity": {
                "requiredDuringSchedulingIgnoredDuringExecution": {
                    "nodeSelectorTerms": [
                        {
                            "matchFields": [
                                {"key": "metadata.name", "operator": "In", "values": ["b"]}
                            ]
                        }
                    ]
                }
            }
        }
    )
    assert not fits(pod, _node("a"))
    assert fits(pod, _node("b"))


def test_fewest_pods_on_ready_nodes_first() -> None:
    nodes = [_node("a"), _node("b"), _node("c", ready=False)]
    assert choose_node(_pod(), nodes, {"a": 2, "b": 1}) == "b"
    assert choose_node(_pod(), nodes, {"a": 0, "b": 1}) == "a"
    assert choose_node(_pod(nodeSelector={"x": "y"}), nodes, {}) is None


def test_tolerations_are_matched_by_key_value_and_effect() -> None:
    taint = {"key": "k", "value": "v", "effect": "NoExecute"}
    assert tolerates([{"key": "k", "operator": "Exists"}], taint)
    assert not tolerates([{"key": "k", "operator": "Exists", "effect": "NoSchedule"}], taint)
    assert not tolerates([], taint)
