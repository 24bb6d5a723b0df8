"""Reading the smoke pod's facts from the pod object the API server returns."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from winnodes.adapters.kube.smoke import listed_smoke_pod_of, smoke_pod_of
from winnodes.decisions.drain import PodPhase
from winnodes.decisions.smoke import INSTANCE_ID_LABEL, ListedSmokePod, SmokePod
from winnodes.models.identifiers import InstanceId

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


def listed_object(labels: Any, created: Any) -> dict[str, Any]:
    return {
        "metadata": {
            "name": "winnodes-smoke-i-0123456789abcdef0",
            "labels": labels,
            "creationTimestamp": created,
        }
    }


def test_a_listed_pod_gives_its_instance_label_and_creation_time() -> None:
    pod = listed_smoke_pod_of(
        listed_object({INSTANCE_ID_LABEL: "i-0123456789abcdef0"}, "2026-03-02T09:00:00Z")
    )
    assert pod == ListedSmokePod(
        name="winnodes-smoke-i-0123456789abcdef0",
        instance_id=InstanceId("i-0123456789abcdef0"),
        created_at=datetime(2026, 3, 2, 9, 0, tzinfo=UTC),
    )


@pytest.mark.parametrize(
    ("labels", "created"),
    [
        ({INSTANCE_ID_LABEL: "node-7"}, "yesterday"),  # someone else's label, no timestamp
        (None, None),
        ({INSTANCE_ID_LABEL: 7}, "2026-03-02T09:00:00"),  # no zone: not the API server's
    ],
)
def test_labels_and_timestamps_not_ours_are_read_as_unknown(labels: Any, created: Any) -> None:
    pod = listed_smoke_pod_of(listed_object(labels, created))
    assert pod.instance_id is None and pod.created_at is None


INSTANCE_IDS = st.from_regex(r"i-(?:[0-9a-f]{8}|[0-9a-f]{17})", fullmatch=True)
MOMENTS = st.datetimes(
    min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)
).map(lambda moment: moment.replace(microsecond=0))
JUNK = st.none() | st.integers() | st.text(max_size=20) | st.lists(st.integers(), max_size=2)


@st.composite
def listed_objects(draw: st.DrawFn) -> tuple[dict[str, Any], ListedSmokePod]:
    """A listed pod object, well formed or not field by field, with what must be read from it."""
    metadata: dict[str, Any] = {}
    name, instance_id, created_at = "", None, None
    if draw(st.booleans()):
        metadata["name"] = name = draw(st.from_regex(r"[a-z0-9-]{1,30}", fullmatch=True))
    labels: dict[str, Any] = draw(st.dictionaries(st.text(max_size=10), JUNK, max_size=2))
    match draw(st.sampled_from(["ours", "foreign", "absent"])):
        case "ours":
            labels[INSTANCE_ID_LABEL] = instance_id = InstanceId(draw(INSTANCE_IDS))
        case "foreign":  # near misses: upper case, a node name, a number
            labels[INSTANCE_ID_LABEL] = draw(
                INSTANCE_IDS.map(str.upper) | st.just("node-7") | st.integers()
            )
    metadata["labels"] = draw(st.just(labels) | JUNK) if labels else labels
    if metadata["labels"] is not labels:
        instance_id = None
    match draw(st.sampled_from(["utc", "zoneless", "junk"])):
        case "utc":
            created_at = draw(MOMENTS)
            metadata["creationTimestamp"] = created_at.strftime("%Y-%m-%dT%H:%M:%SZ")
        case "zoneless":
            metadata["creationTimestamp"] = draw(MOMENTS).strftime("%Y-%m-%dT%H:%M:%S")
        case _:
            metadata["creationTimestamp"] = draw(JUNK.filter(lambda v: not isinstance(v, str)))
    return {"metadata": metadata}, ListedSmokePod(
        name=name, instance_id=instance_id, created_at=created_at
    )


@given(listed_objects())
def test_a_listed_object_gives_exactly_its_well_formed_fields(
    case: tuple[dict[str, Any], ListedSmokePod],
) -> None:
    pod_object, expected = case
    assert listed_smoke_pod_of(pod_object) == expected


@given(JUNK | st.dictionaries(st.text(max_size=5), JUNK, max_size=3))
def test_metadata_without_fields_of_ours_reads_as_nothing_known(metadata: Any) -> None:
    pod = listed_smoke_pod_of({"metadata": metadata})
    known_name = str(metadata.get("name") or "") if isinstance(metadata, dict) else ""
    assert pod == ListedSmokePod(name=known_name, instance_id=None, created_at=None)
