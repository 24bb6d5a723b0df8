"""Reading the smoke pod's facts from the pod object the API server returns."""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from winnodes.adapters.kube.smoke import smoke_pod_of
from winnodes.decisions.drain import PodPhase
from winnodes.decisions.smoke import SmokePod

NODE = "ip-10-0-1-23.ec2.internal"


def pod_object(status: dict[str, Any] | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {
        "metadata": {"name": "winnodes-smoke-i-0123456789abcdef0", "namespace": "n"},
        "spec": {"nodeName": NODE, "containers": [{"name": "smoke", "image": "x"}]},
    }
    if status is not None:
        body["status"] = status
    return body


def test_a_pod_no_kubelet_has_touched_is_pending() -> None:
    assert smoke_pod_of(pod_object()) == SmokePod(node_name=NODE, phase=PodPhase.PENDING)


def test_a_completed_container_reports_its_exit_code() -> None:
    status = {
        "phase": "Failed",
        "containerStatuses": [
            {"name": "smoke", "state": {"terminated": {"exitCode": 1, "reason": "Error"}}}
        ],
    }
    assert smoke_pod_of(pod_object(status)) == SmokePod(
        node_name=NODE, phase=PodPhase.FAILED, exit_code=1, reason="Error"
    )


def test_a_waiting_container_says_why() -> None:
    status = {
        "phase": "Pending",
        "containerStatuses": [
            {
                "name": "smoke",
                "state": {"waiting": {"reason": "ImagePullBackOff", "message": "not found"}},
            }
        ],
    }
    found = smoke_pod_of(pod_object(status))
    assert (found.phase, found.reason, found.message) == (
        PodPhase.PENDING,
        "ImagePullBackOff",
        "not found",
    )


def test_a_pod_the_kubelet_rejected_reports_the_pods_reason() -> None:
    status = {"phase": "Failed", "reason": "NodeAffinity", "message": "Predicate failed"}
    found = smoke_pod_of(pod_object(status))
    assert (found.phase, found.exit_code, found.reason) == (PodPhase.FAILED, None, "NodeAffinity")


def test_a_phase_newer_than_we_know_is_unknown() -> None:
    assert smoke_pod_of(pod_object({"phase": "Evicting"})).phase is PodPhase.UNKNOWN


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=5),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=12,
)
STATUS = st.fixed_dictionaries(
    {},
    optional={
        "phase": JSON | st.sampled_from([p.value for p in PodPhase]),
        "reason": JSON,
        "containerStatuses": st.lists(
            st.fixed_dictionaries(
                {"name": st.just("smoke")},
                optional={
                    "state": st.dictionaries(st.sampled_from(["terminated", "waiting"]), JSON)
                },
            )
            | JSON,
            max_size=2,
        )
        | JSON,
    },
)


@given(STATUS)
def test_any_status_reads_without_raising(status: dict[str, Any]) -> None:
    found = smoke_pod_of(pod_object(status))
    assert isinstance(found.phase, PodPhase)
    assert found.exit_code is None or isinstance(found.exit_code, int)
    assert found.node_name == NODE
