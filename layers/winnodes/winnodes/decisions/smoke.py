"""The optional smoke gate of a join: a Windows pod pinned to the new node must run to completion
before the launch action completes with CONTINUE (safety rule 3).

Pure: which image the node can run, the pod to create, and what an observed pod means. The pod's
name is derived from the instance id, so a duplicated event or a reconciler tick that starts it
again gets 409 AlreadyExists instead of a second pod."""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, Final

from winnodes.decisions.drain import PodPhase
from winnodes.models.identifiers import InstanceId
from winnodes.models.windows import WindowsRelease

DEFAULT_SMOKE_TEST_NAMESPACE: Final = "eks-windows-nodes"
WINDOWS_BUILD_LABEL: Final = "node.kubernetes.io/windows-build"
MANAGED_BY_LABEL: Final = "app.kubernetes.io/managed-by"
MANAGED_BY: Final = "eks-windows-nodes"
INSTANCE_ID_LABEL: Final = "eks-windows-nodes/instance-id"
POD_NAME_PREFIX: Final = "winnodes-smoke-"
CONTAINER_NAME: Final = "smoke"
NANOSERVER: Final = "mcr.microsoft.com/windows/nanoserver"

# Process-isolated Windows containers start only on a host of the same build: "Windows Server
# containers are blocked from starting when the build number between the container host and the
# container image are different" (Microsoft, Windows container version compatibility:
# https://learn.microsoft.com/en-us/virtualization/windowscontainers/deploy-containers/version-compatibility).
# EKS runs containerd with process isolation, so the image must follow the node's build.
_RELEASE_BY_BUILD: Final = {
    17763: WindowsRelease.WS2019,
    20348: WindowsRelease.WS2022,
    26100: WindowsRelease.WS2025,
}
# The kubelet sets the label to major.minor.build ("10.0.20348"); tolerate a revision.
_WINDOWS_BUILD = re.compile(r"10\.0\.(?P<build>\d{1,6})(?:\.\d{1,6})?")

# Docker's reference grammar (distribution/reference): [domain[:port]/]path[:tag][@digest].
_DOMAIN = (
    r"(?:[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*"
)
_PATH = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
IMAGE_REFERENCE: Final = re.compile(
    rf"(?:{_DOMAIN}(?::[0-9]+)?/)?{_PATH}(?:/{_PATH})*"
    r"(?::[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?"
    r"(?:@[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,})?"
)
_IMAGE_NAME_MAX = 255
_IMAGE_REFERENCE_MAX = 1024  # name, tag (128) and digest: bounds the match

# A younger pod may be the smoke test of an instance launched after the groups were read, and the
# function's clock and the API server's may disagree by seconds: such pods are left alone.
LEFTOVER_MIN_AGE: Final = timedelta(minutes=5)


_NAMESPACE_NAME = re.compile(r"[a-z0-9](?:[-a-z0-9]{0,61}[a-z0-9])?")


class SmokeTest(StrEnum):
    DISABLED = "disabled"
    NOT_STARTED = "not-started"
    PENDING = "pending"
    PASSED = "passed"
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class SmokeTestPolicy:
    enabled: bool = False
    image: str | None = None  # the operator's choice; None: by the node's Windows build
    namespace: str = DEFAULT_SMOKE_TEST_NAMESPACE


@dataclass(frozen=True, slots=True, kw_only=True)
class SmokePod:
    """The smoke pod as the API server reports it."""

    node_name: str | None
    phase: PodPhase
    exit_code: int | None = None  # of the terminated container
    reason: str | None = None  # the container's terminated/waiting reason, else the pod's
    message: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class ListedSmokePod:
    """A pod labelled as ours in the smoke-test namespace, as a list of them reports it."""

    name: str
    instance_id: InstanceId | None  # its instance-id label; None when absent or not an id
    created_at: datetime | None  # its creationTimestamp


@dataclass(frozen=True, slots=True)
class SmokeVerdict:
    state: SmokeTest
    detail: str | None = None  # for logs and the ABANDON reason


def smoke_test_namespace_problem(value: str) -> str | None:
    """Why `value` cannot hold the smoke pods, or None when it can: it must be a namespace name
    (a lowercase RFC 1123 label of at most 63 characters) outside the kube- prefix Kubernetes
    reserves for its system namespaces
    (https://kubernetes.io/docs/concepts/overview/working-with-objects/namespaces/), where our
    Namespace manifest would relabel kube-system and its Role would grant pod creation."""
    if _NAMESPACE_NAME.fullmatch(value) is None:
        return f"{value!r} is not a namespace name (lowercase RFC 1123 label, at most 63)"
    if value.startswith("kube-"):
        return f"{value!r}: the kube- prefix is reserved for Kubernetes system namespaces"
    return None


def is_image_reference(value: str) -> bool:
    """`value` is an image reference a kubelet can pull: [registry[:port]/]path[:tag][@digest],
    its name (registry and path) at most 255 characters."""
    if len(value) > _IMAGE_REFERENCE_MAX or IMAGE_REFERENCE.fullmatch(value) is None:
        return False
    name = value.split("@", 1)[0]
    last = name.rsplit("/", 1)[-1]
    if ":" in last:  # a tag, not a registry port: ports only come before a "/"
        name = name[: len(name) - len(last) + last.index(":")]
    return len(name) <= _IMAGE_NAME_MAX


def windows_build_number(label: str | None) -> int | None:
    """The build of a `node.kubernetes.io/windows-build` label value ("10.0.20348" → 20348)."""
    match = _WINDOWS_BUILD.fullmatch(label or "")
    return int(match["build"]) if match else None


def default_smoke_image(windows_build: str | None) -> str | None:
    """Nano Server of the node's own release; None for a build we do not know (the operator
    must name an image)."""
    build = windows_build_number(windows_build)
    release = _RELEASE_BY_BUILD.get(build) if build is not None else None
    return f"{NANOSERVER}:ltsc{release}" if release is not None else None


def smoke_pod_name(instance_id: InstanceId) -> str:
    return f"{POD_NAME_PREFIX}{instance_id}"


def smoke_pod_manifest(
    *, instance_id: InstanceId, node_name: str, namespace: str, image: str
) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": smoke_pod_name(instance_id),
            "namespace": namespace,
            "labels": {MANAGED_BY_LABEL: MANAGED_BY, INSTANCE_ID_LABEL: str(instance_id)},
        },
        "spec": {
            # Bound by us, not the scheduler: exactly this node, even while it is still tainted.
            "nodeName": node_name,
            "nodeSelector": {"kubernetes.io/os": "windows"},
            "tolerations": [{"operator": "Exists"}],
            "restartPolicy": "Never",
            "automountServiceAccountToken": False,
            "enableServiceLinks": False,
            "terminationGracePeriodSeconds": 5,
            "containers": [
                {
                    "name": CONTAINER_NAME,
                    "image": image,
                    "command": ["cmd", "/c", "echo eks-windows-nodes smoke test"],
                    "resources": {
                        "requests": {"cpu": "50m", "memory": "64Mi"},
                        "limits": {"cpu": "500m", "memory": "256Mi"},
                    },
                }
            ],
        },
    }


def judge_smoke_pod(pod: SmokePod | None, *, node_name: str) -> SmokeVerdict:
    """What the pod says about the node: absent → not started, still running → pending,
    completed → passed or failed."""
    if pod is None:
        return SmokeVerdict(SmokeTest.NOT_STARTED)
    if pod.node_name != node_name:
        # Not the pod we made for this node (we always bind it): it proves nothing about it.
        return SmokeVerdict(
            SmokeTest.FAILED, f"smoke pod is bound to node {pod.node_name!r}, not {node_name!r}"
        )
    match pod.phase:
        case PodPhase.SUCCEEDED:
            return SmokeVerdict(SmokeTest.PASSED)
        case PodPhase.FAILED:
            return SmokeVerdict(SmokeTest.FAILED, f"smoke pod failed: {_describe(pod)}")
    return SmokeVerdict(SmokeTest.PENDING, f"smoke pod {pod.phase}: {_describe(pod)}")


def _describe(pod: SmokePod) -> str:
    parts = []
    if pod.exit_code is not None:
        parts.append(f"exit code {pod.exit_code}")
    if pod.reason:
        parts.append(pod.reason)
    if pod.message:
        parts.append(pod.message)
    return ", ".join(parts) or "no details"


def leftover_smoke_pods(
    pods: Iterable[ListedSmokePod], *, awaiting_launch: Collection[str], groups_read_at: datetime
) -> list[ListedSmokePod]:
    """The smoke pods whose launch action is over but which are still there: removing one after
    completing the action failed, or the hook timed out by itself before a join completed it.

    `awaiting_launch` holds every instance the groups listed (read at `groups_read_at`) as
    waiting for its launch action, or in a state we do not know. A pod is a leftover only when it
    is the one we would have made for its instance (name and label agree), that instance is not
    awaiting, and the pod is at least LEFTOVER_MIN_AGE older than the read."""
    cutoff = groups_read_at - LEFTOVER_MIN_AGE
    return [
        pod
        for pod in pods
        if pod.instance_id is not None
        and pod.name == smoke_pod_name(pod.instance_id)
        and pod.instance_id not in awaiting_launch
        and pod.created_at is not None
        and pod.created_at <= cutoff
    ]
