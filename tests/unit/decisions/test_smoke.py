"""Smoke gate: the image a node can run, the pod pinned to it, and what its phase means."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import TypedDict, Unpack

import pytest
from hypothesis import given
from hypothesis import strategies as st

from winnodes.decisions.drain import PodPhase
from winnodes.decisions.smoke import (
    INSTANCE_ID_LABEL,
    LEFTOVER_MIN_AGE,
    MANAGED_BY,
    MANAGED_BY_LABEL,
    ListedSmokePod,
    SmokePod,
    SmokeTest,
    SmokeVerdict,
    default_smoke_image,
    is_image_reference,
    judge_smoke_pod,
    leftover_smoke_pods,
    smoke_pod_manifest,
    smoke_pod_name,
    windows_build_number,
)
from winnodes.models.identifiers import InstanceId

NODE = "ip-10-0-1-23.ec2.internal"
INSTANCE = InstanceId("i-0123456789abcdef0")
# Kubernetes: object names are DNS-1123 subdomains; label values at most 63 characters.
DNS_SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")
LABEL_VALUE = re.compile(r"([A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)?")

INSTANCE_IDS = st.from_regex(r"i-(?:[0-9a-f]{8}|[0-9a-f]{17})", fullmatch=True).map(InstanceId)


@pytest.mark.parametrize(
    ("label", "image"),
    [
        ("10.0.17763", "mcr.microsoft.com/windows/nanoserver:ltsc2019"),
        ("10.0.20348", "mcr.microsoft.com/windows/nanoserver:ltsc2022"),
        ("10.0.26100", "mcr.microsoft.com/windows/nanoserver:ltsc2025"),
        ("10.0.20348.2113", "mcr.microsoft.com/windows/nanoserver:ltsc2022"),
    ],
)
def test_the_default_image_is_nano_server_of_the_nodes_own_release(label: str, image: str) -> None:
    assert default_smoke_image(label) == image


@pytest.mark.parametrize("label", [None, "", "10.0.19041", "10.0.14393", "20348", "10.0.x", "ltsc"])
def test_an_unknown_build_has_no_default_image(label: str | None) -> None:
    assert default_smoke_image(label) is None


@given(st.integers(0, 999_999), st.none() | st.integers(0, 999_999))
def test_a_build_label_parses_to_its_build_number(build: int, revision: int | None) -> None:
    label = f"10.0.{build}" + ("" if revision is None else f".{revision}")
    assert windows_build_number(label) == build


@given(st.text())
def test_any_label_value_parses_or_is_unknown_without_raising(label: str) -> None:
    number = windows_build_number(label)
    assert number is None or label.startswith(f"10.0.{number}")
    image = default_smoke_image(label)
    assert image is None or image.startswith("mcr.microsoft.com/windows/nanoserver:ltsc")


def test_the_pod_is_pinned_to_the_node_and_runs_once_without_credentials() -> None:
    image = "mcr.microsoft.com/windows/nanoserver:ltsc2022"
    pod = smoke_pod_manifest(
        instance_id=INSTANCE, node_name=NODE, namespace="eks-windows-nodes", image=image
    )
    assert pod["metadata"] == {
        "name": "winnodes-smoke-i-0123456789abcdef0",
        "namespace": "eks-windows-nodes",
        "labels": {MANAGED_BY_LABEL: MANAGED_BY, INSTANCE_ID_LABEL: INSTANCE},
    }
    spec = pod["spec"]
    assert spec["nodeName"] == NODE
    assert spec["nodeSelector"] == {"kubernetes.io/os": "windows"}
    assert spec["tolerations"] == [{"operator": "Exists"}]  # a tainted Windows node runs it too
    assert spec["restartPolicy"] == "Never"
    assert spec["automountServiceAccountToken"] is False
    (container,) = spec["containers"]
    assert container["image"] == image
    assert container["command"][:2] == ["cmd", "/c"]
    assert set(container["resources"]["requests"]) == {"cpu", "memory"}


@given(
    INSTANCE_IDS,
    st.sampled_from(["eks-windows-nodes", "smoke", "a" * 63]),
    st.sampled_from([NODE, "EC2AMAZ-ABC123"]),
    st.sampled_from(["smoke:1", "mcr.microsoft.com/windows/nanoserver:ltsc2022"]),
)
def test_the_name_is_a_valid_object_name_derived_from_the_instance_only(
    instance_id: InstanceId, namespace: str, node: str, image: str
) -> None:
    manifest = smoke_pod_manifest(
        instance_id=instance_id, node_name=node, namespace=namespace, image=image
    )
    name = manifest["metadata"]["name"]
    # Only the instance decides the name: a duplicate event, or one read with another node name
    # or image, asks for the very same pod and gets 409 instead of a second one.
    assert name == f"winnodes-smoke-{instance_id}" == smoke_pod_name(instance_id)
    assert len(name) <= 63 and DNS_SUBDOMAIN.fullmatch(name)
    assert manifest["metadata"]["labels"][INSTANCE_ID_LABEL] == instance_id
    assert all(LABEL_VALUE.fullmatch(v) for v in manifest["metadata"]["labels"].values())


@given(st.lists(INSTANCE_IDS, min_size=2, max_size=2, unique=True))
def test_different_instances_get_different_pods(instances: list[InstanceId]) -> None:
    assert smoke_pod_name(instances[0]) != smoke_pod_name(instances[1])


class _Status(TypedDict, total=False):
    exit_code: int | None
    reason: str | None
    message: str | None


def pod(phase: PodPhase, *, node: str | None = NODE, **status: Unpack[_Status]) -> SmokePod:
    return SmokePod(node_name=node, phase=phase, **status)


def test_no_pod_means_not_started() -> None:
    assert judge_smoke_pod(None, node_name=NODE) == SmokeVerdict(SmokeTest.NOT_STARTED)


def test_a_succeeded_pod_passes() -> None:
    verdict = judge_smoke_pod(pod(PodPhase.SUCCEEDED, exit_code=0), node_name=NODE)
    assert verdict == SmokeVerdict(SmokeTest.PASSED)


@pytest.mark.parametrize("phase", [PodPhase.PENDING, PodPhase.RUNNING, PodPhase.UNKNOWN])
def test_a_pod_not_finished_is_pending(phase: PodPhase) -> None:
    verdict = judge_smoke_pod(pod(phase, reason="ImagePullBackOff"), node_name=NODE)
    assert verdict.state is SmokeTest.PENDING
    assert verdict.detail is not None and "ImagePullBackOff" in verdict.detail


def test_a_failed_pod_fails_and_says_why() -> None:
    verdict = judge_smoke_pod(
        pod(PodPhase.FAILED, exit_code=1, reason="Error", message="boom"), node_name=NODE
    )
    assert verdict == SmokeVerdict(SmokeTest.FAILED, "smoke pod failed: exit code 1, Error, boom")
    rejected = judge_smoke_pod(pod(PodPhase.FAILED, reason="NodeAffinity"), node_name=NODE)
    assert rejected == SmokeVerdict(SmokeTest.FAILED, "smoke pod failed: NodeAffinity")


def test_a_pod_of_that_name_on_another_node_proves_nothing() -> None:
    verdict = judge_smoke_pod(pod(PodPhase.SUCCEEDED, node="other"), node_name=NODE)
    assert verdict.state is SmokeTest.FAILED
    assert verdict.detail is not None and "'other'" in verdict.detail


@pytest.mark.parametrize(
    "image",
    [
        "busybox",
        "mcr.microsoft.com/windows/nanoserver:ltsc2022",
        "123456789012.dkr.ecr.us-east-1.amazonaws.com/team/smoke:v1.2_3",
        "registry.internal:5000/smoke",
        "localhost:5000/a/b/c:latest",
        "mcr.microsoft.com/windows/nanoserver@sha256:" + "ab" * 32,
        "smoke:1@sha256:" + "0" * 64,
    ],
)
def test_image_references_a_kubelet_pulls_are_accepted(image: str) -> None:
    assert is_image_reference(image)


@pytest.mark.parametrize(
    "image",
    [
        "",
        "Smoke",  # repository paths are lowercase
        "mcr.microsoft.com/",
        ":ltsc2022",
        "smoke:",
        "smoke:a:b",
        "smoke test",
        "smoke\n",
        "smoke@sha256:short",
        "registry:port/smoke",
        "a" * 256,  # a name longer than 255 characters
    ],
)
def test_malformed_image_references_are_refused(image: str) -> None:
    assert not is_image_reference(image)


COMPONENT = st.from_regex(r"[a-z0-9]{1,8}(?:[._-][a-z0-9]{1,8}){0,2}", fullmatch=True)
DOMAIN = st.from_regex(r"[a-z0-9]{1,10}(?:\.[a-z0-9]{1,10}){1,3}(?::[0-9]{1,5})?", fullmatch=True)
TAG = st.from_regex(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,20}", fullmatch=True)


@given(st.none() | DOMAIN, st.lists(COMPONENT, min_size=1, max_size=4), st.none() | TAG)
def test_every_well_formed_reference_is_accepted(
    domain: str | None, path: list[str], tag: str | None
) -> None:
    name = "/".join(([domain] if domain else []) + path)
    assert is_image_reference(name + (f":{tag}" if tag else ""))


@st.composite
def spoiled_references(draw: st.DrawFn) -> str:
    """A well-formed reference with one thing wrong a person could type."""
    domain, path = draw(st.none() | DOMAIN), draw(st.lists(COMPONENT, min_size=1, max_size=4))
    tag = draw(st.none() | TAG)
    name = "/".join(([domain] if domain else []) + path)
    suffix = f":{tag}" if tag else ""
    match draw(st.sampled_from(["space", "upper", "empty", "colon", "slash", "digest", "long"])):
        case "space":  # whitespace anywhere
            reference = name + suffix
            at = draw(st.integers(0, len(reference)))
            return reference[:at] + draw(st.sampled_from([" ", "\t", "\n"])) + reference[at:]
        case "upper":  # the last path component is never a registry, so never upper case
            last = path[-1]
            at = draw(st.integers(0, len(last) - 1))
            spoiled = last[:at] + last[at].upper() + last[at + 1 :]
            if spoiled == last:  # a digit or separator: add an upper-case letter instead
                spoiled = last + "X"
            return name[: len(name) - len(last)] + spoiled + suffix
        case "empty":  # an empty path component
            return name + "/" + suffix if draw(st.booleans()) else "/" + name + suffix
        case "colon":  # an empty tag, or two
            return name + suffix + ":"
        case "slash":
            return name.replace("/", "//", 1) + suffix if "/" in name else name + "//x" + suffix
        case "digest":  # a digest of fewer than 32 hex digits
            return name + suffix + "@sha256:" + "a" * draw(st.just(31) | st.integers(0, 31))
        case _:  # a name longer than 255 characters
            padding = "/".join(["a" * 63] * 4)
            return name + "/" + padding + suffix
    raise AssertionError("unreachable")


@given(spoiled_references())
def test_a_reference_with_one_mistake_is_refused(reference: str) -> None:
    assert not is_image_reference(reference)


@st.composite
def names_near_the_limit(draw: st.DrawFn) -> str:
    """A repository name of 230-280 characters: components of up to 63 lowercase characters."""
    length = draw(st.integers(230, 280))
    letters = draw(
        st.text("abcdefghijklmnopqrstuvwxyz0123456789", min_size=length, max_size=length)
    )
    return "".join(
        "/" if (i + 1) % 64 == 0 and i != length - 1 else ch for i, ch in enumerate(letters)
    )


@given(names_near_the_limit(), st.none() | TAG)
def test_the_name_may_be_at_most_255_characters_whatever_the_tag(
    name: str, tag: str | None
) -> None:
    assert is_image_reference(name + (f":{tag}" if tag else "")) == (len(name) <= 255)


READ_AT = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
OLD = READ_AT - LEFTOVER_MIN_AGE


def listed(instance_id: InstanceId | None, created_at: datetime | None = OLD) -> ListedSmokePod:
    name = smoke_pod_name(instance_id) if instance_id else "winnodes-smoke-someone-elses"
    return ListedSmokePod(name=name, instance_id=instance_id, created_at=created_at)


def test_a_pod_whose_instance_no_longer_awaits_its_launch_action_is_left_over() -> None:
    done, waiting = InstanceId("i-0000000000000000a"), InstanceId("i-0000000000000000b")
    pods = [listed(done), listed(waiting)]
    assert leftover_smoke_pods(pods, awaiting_launch={waiting}, groups_read_at=READ_AT) == [
        listed(done)
    ]


@pytest.mark.parametrize(
    "pod",
    [
        listed(INSTANCE, created_at=OLD + timedelta(seconds=1)),  # may be a join's own
        listed(INSTANCE, created_at=None),
        listed(None),  # no instance-id label of ours
        ListedSmokePod(name="smoke-by-hand", instance_id=INSTANCE, created_at=OLD),
    ],
)
def test_young_undated_unlabelled_or_renamed_pods_are_kept(pod: ListedSmokePod) -> None:
    assert leftover_smoke_pods([pod], awaiting_launch=set(), groups_read_at=READ_AT) == []


LISTED_PODS = st.builds(
    ListedSmokePod,
    name=st.sampled_from(["winnodes-smoke-i-0000000000000000a", "winnodes-smoke-i-00000001", "x"]),
    instance_id=st.none()
    | st.sampled_from([InstanceId("i-0000000000000000a"), InstanceId("i-00000001")]),
    created_at=st.none()
    | st.datetimes(
        min_value=datetime(2026, 3, 2, 8, 50),
        max_value=datetime(2026, 3, 2, 9, 10),
        timezones=st.just(UTC),
    ),
)


@given(
    st.lists(LISTED_PODS, max_size=8),
    st.sets(st.sampled_from(["i-0000000000000000a", "i-00000001", "i-0000000000000000c"])),
)
def test_exactly_the_old_pods_we_made_for_instances_not_awaiting_are_left_over(
    pods: list[ListedSmokePod], awaiting: set[str]
) -> None:
    leftovers = leftover_smoke_pods(pods, awaiting_launch=awaiting, groups_read_at=READ_AT)
    for pod in pods:
        ours_and_done = (
            pod.instance_id is not None
            and pod.name == smoke_pod_name(pod.instance_id)
            and pod.instance_id not in awaiting
            and pod.created_at is not None
            and READ_AT - pod.created_at >= LEFTOVER_MIN_AGE
        )
        assert (pod in leftovers) is ours_and_done
    assert all(pod in pods for pod in leftovers)


def test_a_smoke_pod_is_a_leftover_from_five_minutes_old() -> None:
    assert timedelta(minutes=5) == LEFTOVER_MIN_AGE


@pytest.mark.parametrize(
    ("age_s", "left_over"),
    [
        (0, False),
        (299, False),  # one second short: may be the smoke pod of a join still running
        (300, True),  # exactly five minutes older than the read
        (301, True),
        (86_400, True),
    ],
)
def test_a_pod_of_an_instance_not_awaiting_is_removed_once_five_minutes_older_than_the_read(
    age_s: int, left_over: bool
) -> None:
    pod = listed(INSTANCE, created_at=READ_AT - timedelta(seconds=age_s))
    leftovers = leftover_smoke_pods([pod], awaiting_launch=set(), groups_read_at=READ_AT)
    assert leftovers == ([pod] if left_over else [])


@given(age=st.timedeltas(timedelta(0), timedelta(days=400)))
def test_the_pod_of_an_instance_awaiting_its_launch_action_is_kept_however_old(
    age: timedelta,
) -> None:
    pod = listed(INSTANCE, created_at=READ_AT - age)
    other = InstanceId("i-0000000000000000f")
    assert (
        leftover_smoke_pods([pod], awaiting_launch={INSTANCE, other}, groups_read_at=READ_AT) == []
    )
    # The same pod once its instance no longer awaits: the age alone decides.
    leftovers = leftover_smoke_pods([pod], awaiting_launch={other}, groups_read_at=READ_AT)
    assert leftovers == ([pod] if age >= timedelta(minutes=5) else [])
