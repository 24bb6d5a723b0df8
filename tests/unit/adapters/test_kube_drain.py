"""How the drain reads a node's pods for kubectl's filters (mirror annotation, emptyDir volumes,
controller owner references), and which PodDisruptionBudgets stand in the way of an eviction:
their label selectors, read as Kubernetes reads them
(https://kubernetes.io/docs/concepts/overview/working-with-objects/labels/
#resources-that-support-set-based-requirements and the PodDisruptionBudgetSpec reference: "A null
selector will match no pods, while an empty ({}) selector will select all pods within the
namespace")."""

from __future__ import annotations

import base64
from collections.abc import Callable, Iterator, Mapping
from datetime import timedelta
from pathlib import Path
from typing import Any

import certifi
import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from tests.helpers.local_http import FixedAnswerServers, StaticToken, http_answer
from winnodes.adapters.kube.api import KubeApi
from winnodes.adapters.kube.drain import KubeDrain, selects
from winnodes.errors import KubernetesConflictError, KubernetesError, KubernetesNotFoundError
from winnodes.ports import EvictionAnswer, PodOnNode

# Few keys and values, so that selectors and labels meet often.
KEYS = st.sampled_from(["app", "tier", "example.com/team"])
VALUES = st.sampled_from(["web", "db", ""])
LABELS = st.dictionaries(KEYS, VALUES, max_size=3)
SET_OPERATORS = st.sampled_from(["In", "NotIn"])
PRESENCE_OPERATORS = st.sampled_from(["Exists", "DoesNotExist"])
EXPRESSIONS = st.one_of(
    st.fixed_dictionaries(
        {"key": KEYS, "operator": SET_OPERATORS, "values": st.lists(VALUES, min_size=1)}
    ),
    st.fixed_dictionaries({"key": KEYS, "operator": PRESENCE_OPERATORS}),
)


@st.composite
def selectors(draw: st.DrawFn) -> dict[str, Any]:
    selector: dict[str, Any] = {}
    if draw(st.booleans()):
        selector["matchLabels"] = draw(LABELS)
    if draw(st.booleans()):
        selector["matchExpressions"] = draw(st.lists(EXPRESSIONS, max_size=3))
    return selector


def requirement_holds(key: str, operator: str, values: list[str], labels: dict[str, str]) -> bool:
    """One requirement, as the Kubernetes documentation states it."""
    match operator:
        case "In":  # the label is there with one of the values
            return key in labels and labels[key] in values
        case "NotIn":  # the label is absent, or has none of the values
            return key not in labels or labels[key] not in values
        case "Exists":
            return key in labels
        case "DoesNotExist":
            return key not in labels
    raise AssertionError(operator)


def kubernetes_selects(selector: dict[str, Any], labels: dict[str, str]) -> bool:
    """matchLabels {k: v} is the requirement `k In (v)`; all requirements must hold."""
    requirements = [(k, "In", [v]) for k, v in selector.get("matchLabels", {}).items()] + [
        (e["key"], e["operator"], e.get("values", [])) for e in selector.get("matchExpressions", [])
    ]
    return all(requirement_holds(k, op, vs, labels) for k, op, vs in requirements)


@given(selectors(), LABELS)
@example({"matchExpressions": [{"key": "app", "operator": "NotIn", "values": ["web"]}]}, {})
@example({"matchExpressions": [{"key": "app", "operator": "In", "values": ["web"]}]}, {})
@example({"matchLabels": {"app": ""}}, {})  # an empty value is still a value to have
@example({"matchLabels": {"app": ""}}, {"app": ""})
@example({"matchExpressions": [{"key": "tier", "operator": "DoesNotExist"}]}, {"tier": ""})
def test_a_selector_selects_exactly_the_labels_kubernetes_would(
    selector: dict[str, Any], labels: dict[str, str]
) -> None:
    assert selects(selector, labels) is kubernetes_selects(selector, labels)


@given(LABELS)
def test_an_empty_selector_selects_every_pod_and_a_null_one_none(labels: dict[str, str]) -> None:
    assert selects({}, labels)
    assert selects({"matchLabels": {}, "matchExpressions": []}, labels)
    assert not selects(None, labels)


@given(selectors(), EXPRESSIONS, LABELS)
def test_another_requirement_never_selects_more(
    selector: dict[str, Any], expression: dict[str, Any], labels: dict[str, str]
) -> None:
    narrower = selector | {"matchExpressions": [*selector.get("matchExpressions", []), expression]}
    assert selects(narrower, labels) <= selects(selector, labels)


@given(KEYS, st.lists(VALUES, min_size=1), LABELS)
def test_not_in_and_does_not_exist_are_the_complements_of_in_and_exists(
    key: str, values: list[str], labels: dict[str, str]
) -> None:
    def one(operator: str, **values_if_any: list[str]) -> bool:
        return selects(
            {"matchExpressions": [{"key": key, "operator": operator, **values_if_any}]}, labels
        )

    assert one("NotIn", values=values) is not one("In", values=values)
    assert one("DoesNotExist") is not one("Exists")


@given(LABELS, KEYS, VALUES)
def test_match_labels_select_a_pod_with_those_labels_and_no_other(
    labels: dict[str, str], key: str, value: str
) -> None:
    assert selects({"matchLabels": labels}, labels)
    assert selects({"matchLabels": {key: value}}, labels) is (labels.get(key) == value)


class PolicyApi:
    """The two reads naming blockers makes: the policy API group and a namespace's budgets."""

    def __init__(self, budgets: Mapping[str, list[dict[str, Any]]]) -> None:
        self.budgets = budgets

    def get(self, path: str, *, query: Mapping[str, str] | None = None) -> dict[str, Any]:
        assert path == "/apis/policy"
        return {"versions": [{"version": "v1"}, {"version": "v1beta1"}]}

    def list(
        self, path: str, *, query: Mapping[str, str] | None = None
    ) -> Iterator[dict[str, Any]]:
        prefix, suffix = "/apis/policy/v1/namespaces/", "/poddisruptionbudgets"
        assert path.startswith(prefix) and path.endswith(suffix), path
        return iter(self.budgets.get(path.removeprefix(prefix).removesuffix(suffix), []))

    def create(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        raise AssertionError("naming blockers only reads")

    def replace(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        raise AssertionError("naming blockers only reads")

    def patch(self, path: str, body: dict[str, Any], *, content_type: str = "") -> dict[str, Any]:
        raise AssertionError("naming blockers only reads")

    def delete(self, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        raise AssertionError("naming blockers only reads")


def budget(name: str, spec: dict[str, Any]) -> dict[str, Any]:
    return {"metadata": {"name": name}, "spec": spec}


def test_the_budgets_named_are_those_of_the_pods_namespace_whose_selector_selects_it() -> None:
    web = PodOnNode("shop", "web-1", "u1", labels={"app": "web"})
    db = PodOnNode("shop", "db-1", "u2", labels={"app": "db"})
    other = PodOnNode("batch", "job-1", "u3", labels={"app": "web"})
    api = PolicyApi(
        {
            "shop": [
                budget("no-selector", {}),  # null selector: no pod
                budget("web", {"selector": {"matchLabels": {"app": "web"}}}),
            ],
            "batch": [budget("everything", {"selector": {}})],
        }
    )
    assert KubeDrain(api).disruption_budgets([web, db, other]) == {
        "shop/web-1": "shop/web",
        "batch/job-1": "batch/everything",
    }


# Every request is answered with the policy API group, which an eviction takes as 200: created.
_GROUP = b'{"versions":[{"version":"v1"}]}'
POLICY_GROUP = http_answer(_GROUP)
CERTIFI_CA = base64.b64encode(Path(certifi.where()).read_bytes()).decode()  # plain HTTP: unused


def pod(name: str) -> PodOnNode:
    return PodOnNode("web", name, f"uid-{name}")


@pytest.fixture
def policy_server() -> Iterator[tuple[KubeApi, FixedAnswerServers]]:
    servers = FixedAnswerServers()
    endpoint = servers.start(POLICY_GROUP)
    yield KubeApi(endpoint=endpoint, ca_base64=CERTIFI_CA, token=StaticToken()), servers
    servers.close()


def one_second_per_call() -> Callable[[], float]:
    """The drain's clock: the window opens at 0, and each call is about to start a second after
    the one before, the first at once."""
    ticks = iter([0.0, 0.0, 1.0, 2.0])
    return lambda: next(ticks)


def test_evictions_that_would_start_after_the_window_are_not_sent(
    policy_server: tuple[KubeApi, FixedAnswerServers],
) -> None:
    # One worker evicts: the first eviction starts at once, the others after the 0.5 s window.
    # They are not sent and not in the result, so the caller keeps them due.
    api, servers = policy_server
    drain = KubeDrain(api, concurrency=1, monotonic=one_second_per_call())
    pods = [pod(f"web-{index}") for index in range(3)]
    statuses = drain.evict(pods, start_within=timedelta(seconds=0.5))
    assert statuses == {"web/web-0": EvictionAnswer(201)}
    assert servers.requests == 2  # the API group, then one eviction


def test_without_a_window_every_eviction_is_sent(
    policy_server: tuple[KubeApi, FixedAnswerServers],
) -> None:
    api, servers = policy_server
    statuses = KubeDrain(api, concurrency=2).evict([pod(f"web-{i}") for i in range(3)])
    assert statuses == {f"web/web-{i}": EvictionAnswer(201) for i in range(3)}
    assert servers.requests == 4


def test_deletes_that_would_start_after_the_window_are_not_made(
    policy_server: tuple[KubeApi, FixedAnswerServers],
) -> None:
    api, servers = policy_server
    drain = KubeDrain(api, concurrency=1, monotonic=one_second_per_call())
    drain.delete_pods([pod(f"job-{i}") for i in range(3)], start_within=timedelta(seconds=0.5))
    assert servers.requests == 1


class PodListApi:
    """The one read listing a node's pods makes, answered with `pods` as the API server sends
    them."""

    def __init__(self, pods: list[dict[str, Any]]) -> None:
        self.pods = pods

    def get(self, path: str, *, query: Mapping[str, str] | None = None) -> dict[str, Any]:
        raise AssertionError("listing pods only lists")

    def list(
        self, path: str, *, query: Mapping[str, str] | None = None
    ) -> Iterator[dict[str, Any]]:
        assert path == "/api/v1/pods" and query == {"fieldSelector": "spec.nodeName=n1"}
        return iter(self.pods)

    def create(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        raise AssertionError("listing pods only lists")

    def replace(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        raise AssertionError("listing pods only lists")

    def patch(self, path: str, body: dict[str, Any], *, content_type: str = "") -> dict[str, Any]:
        raise AssertionError("listing pods only lists")

    def delete(self, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        raise AssertionError("listing pods only lists")


def listed_pod(name: str, *, metadata: dict[str, Any] | None = None, **spec: Any) -> dict[str, Any]:
    return {
        "metadata": {"name": name, "namespace": "web", "uid": f"uid-{name}", **(metadata or {})},
        "spec": {"nodeName": "n1", **spec},
        "status": {"phase": "Running"},
    }


def pods_on_n1(*pods: dict[str, Any]) -> dict[str, PodOnNode]:
    return {pod.name: pod for pod in KubeDrain(PodListApi(list(pods))).pods_on("n1")}


def test_a_pod_with_the_mirror_annotation_is_a_mirror_pod_whatever_its_value() -> None:
    # The kubelet sets the annotation to the static pod's hash; the key alone decides, as kubectl's
    # mirrorPodFilter reads it.
    pods = pods_on_n1(
        listed_pod("static", metadata={"annotations": {"kubernetes.io/config.mirror": ""}}),
        listed_pod("hashed", metadata={"annotations": {"kubernetes.io/config.mirror": "7f3c"}}),
        listed_pod("seen", metadata={"annotations": {"kubernetes.io/config.seen": "2025"}}),
        listed_pod("plain"),
    )
    assert {name: pod.is_mirror for name, pod in pods.items()} == {
        "static": True,
        "hashed": True,
        "seen": False,
        "plain": False,
    }


def test_a_pod_has_emptydir_data_when_any_of_its_volumes_is_an_emptydir() -> None:
    pods = pods_on_n1(
        listed_pod(
            "cache",
            volumes=[
                {"name": "config", "configMap": {"name": "web"}},
                {"name": "scratch", "emptyDir": {}},  # an empty emptyDir is still one
            ],
        ),
        listed_pod("memory", volumes=[{"name": "shm", "emptyDir": {"medium": "Memory"}}]),
        listed_pod(
            "host",
            volumes=[
                {"name": "logs", "hostPath": {"path": "C:\\var\\log"}},
                {"name": "token", "projected": {"sources": []}},
            ],
        ),
        listed_pod("none"),
    )
    assert {name: pod.has_emptydir for name, pod in pods.items()} == {
        "cache": True,
        "memory": True,
        "host": False,
        "none": False,
    }


def test_only_owner_references_marked_controller_count_as_its_controllers() -> None:
    # A pod owned by a DaemonSet only as a plain owner (controller false or unset) is not the
    # DaemonSet's to recreate: it is neither skipped as one nor counted as managed.
    def owned(name: str, *owners: dict[str, Any]) -> dict[str, Any]:
        return listed_pod(name, metadata={"ownerReferences": list(owners)})

    pods = pods_on_n1(
        owned("replica", {"kind": "ReplicaSet", "name": "web-1", "controller": True}),
        owned(
            "adopted",
            {"kind": "DaemonSet", "name": "agent", "controller": False},
            {"kind": "StatefulSet", "name": "db", "controller": True},
        ),
        owned("plain-owner", {"kind": "DaemonSet", "name": "agent"}),
        listed_pod("bare"),
    )
    assert {name: pod.owner_kinds for name, pod in pods.items()} == {
        "replica": ("ReplicaSet",),
        "adopted": ("StatefulSet",),
        "plain-owner": (),
        "bare": (),
    }


class PodDeleteApi(PodListApi):
    """Pod deletes, each answered as `answers` says by pod name (no entry: deleted)."""

    def __init__(self, answers: Mapping[str, KubernetesError]) -> None:
        super().__init__([])
        self.answers = answers
        self.deleted: list[str] = []

    def delete(self, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        name = path.rsplit("/", 1)[-1]
        self.deleted.append(name)
        if name in self.answers:
            raise self.answers[name]
        return {}


def test_a_refused_pod_delete_is_reported_and_stops_no_other() -> None:
    refused = KubernetesError("DELETE .../pods/job-1: 403 denied by policy", 403)
    down = KubernetesError("DELETE .../pods/job-2: 500 failed calling webhook", 500)
    api = PodDeleteApi(
        {
            "job-1": refused,
            "job-2": down,
            "gone": KubernetesNotFoundError("404", 404),
            "replaced": KubernetesConflictError("409: uid precondition", 409),
        }
    )
    names = ["job-0", "job-1", "job-2", "job-3", "gone", "replaced"]

    errors = KubeDrain(api, concurrency=1).delete_pods([pod(name) for name in names])

    assert errors == {"web/job-1": refused, "web/job-2": down}
    assert api.deleted == names  # every delete made, the refused ones' included
