"""A group is managed only when marked and tied to exactly one valid cluster."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from winnodes.models.groups import (
    EKS_CLUSTER_NAME_TAG,
    KUBERNETES_CLUSTER_TAG_PREFIX,
    LAUNCH_HOOK_TAG,
    MANAGED_TAG,
    NODE_ROLE_TAG,
    TERMINATE_HOOK_TAG,
    ManagedGroup,
    UnmanagedGroup,
    UnmanagedReason,
    discover_managed_group,
)
from winnodes.models.identifiers import ClusterName, RoleArn
from winnodes.models.lifecycle import LifecycleState

MARK = {"eks-windows-nodes/managed": "true"}


def reason(tags: dict[str, str]) -> UnmanagedReason:
    found = discover_managed_group("asg", tags)
    assert isinstance(found, UnmanagedGroup), found
    return found.reason


def test_cluster_from_eks_tag() -> None:
    assert discover_managed_group("asg", MARK | {"eks:cluster-name": "prod"}) == ManagedGroup(
        "asg", ClusterName("prod")
    )


def test_cluster_from_kubernetes_io_tag() -> None:
    found = discover_managed_group("asg", MARK | {"kubernetes.io/cluster/prod": "owned"})
    assert isinstance(found, ManagedGroup)
    assert found.cluster == "prod"


def test_both_tags_agreeing_is_fine() -> None:
    tags = MARK | {"eks:cluster-name": "prod", "kubernetes.io/cluster/prod": "shared"}
    assert isinstance(discover_managed_group("asg", tags), ManagedGroup)


@pytest.mark.parametrize("marker", ["True", "TRUE", " true", "true "])
def test_a_marker_not_exactly_true_is_a_misconfiguration(marker: str) -> None:
    # The IAM policy's StringEquals on the tag is case-sensitive: managing such a group would
    # tag and authorize its instances and then be denied every lifecycle action.
    found = discover_managed_group(
        "asg", {"eks-windows-nodes/managed": marker, "eks:cluster-name": "p"}
    )
    assert isinstance(found, UnmanagedGroup) and found.misconfigured
    assert found.reason is UnmanagedReason.INEXACT_MARKER


def test_a_marker_other_than_true_is_not_ours() -> None:
    assert reason({"eks-windows-nodes/managed": "false", "eks:cluster-name": "p"}) is (
        UnmanagedReason.NOT_MARKED
    )


def test_unmarked_group_is_not_ours_and_not_misconfigured() -> None:
    found = discover_managed_group("asg", {"eks:cluster-name": "prod"})
    assert isinstance(found, UnmanagedGroup)
    assert found.reason is UnmanagedReason.NOT_MARKED
    assert not found.misconfigured


def test_marked_without_cluster() -> None:
    found = discover_managed_group("asg", MARK)
    assert isinstance(found, UnmanagedGroup) and found.misconfigured
    assert found.reason is UnmanagedReason.NO_CLUSTER


def test_two_clusters_are_ambiguous() -> None:
    assert reason(MARK | {"eks:cluster-name": "a", "kubernetes.io/cluster/b": "owned"}) is (
        UnmanagedReason.AMBIGUOUS_CLUSTER
    )
    assert reason(
        MARK | {"kubernetes.io/cluster/a": "owned", "kubernetes.io/cluster/b": "owned"}
    ) is (UnmanagedReason.AMBIGUOUS_CLUSTER)


def test_invalid_cluster_name_is_reported_with_its_tag() -> None:
    found = discover_managed_group("asg", MARK | {"kubernetes.io/cluster/bad.name": "owned"})
    assert isinstance(found, UnmanagedGroup)
    assert found.reason is UnmanagedReason.INVALID_CLUSTER_NAME
    assert "kubernetes.io/cluster/bad.name" in found.detail


@given(st.dictionaries(st.text(max_size=30), st.text(max_size=10), max_size=6))
def test_never_managed_without_the_marker(tags: dict[str, str]) -> None:
    tags.pop("eks-windows-nodes/managed", None)
    assert reason(tags) is UnmanagedReason.NOT_MARKED


# Tag sets as operators write them: the real tag keys (marker, cluster, node role, hooks) with
# valid and invalid values, mixed with other tags, so every branch of the decision is reached.
VALID_CLUSTERS = st.from_regex(r"\A[0-9A-Za-z][A-Za-z0-9\-_]{0,99}\Z")
INVALID_CLUSTERS = st.sampled_from(["", "-lead", "dot.ted", "has space", "a" * 101])
CLUSTERS = st.one_of(VALID_CLUSTERS, VALID_CLUSTERS, VALID_CLUSTERS, INVALID_CLUSTERS)
# "true" most of the time: only the exact marker gets past the first check.
MARKERS = st.sampled_from(["true"] * 6 + ["True", " true", "TRUE ", "false", ""])
ROLES = st.sampled_from(
    [
        "WinNode",
        "arn:aws:iam::111122223333:user/alice",
        "arn:aws:iam::111122223333:role/WinNode",
        "arn:aws:iam::111122223333:role/eks/WinNode",
    ]
)
NOISE = st.dictionaries(
    st.sampled_from(["Name", "team", "eks-windows-nodes/other", "kubernetes.io/role"])
    | st.text(max_size=20),
    st.text(max_size=10),
    max_size=3,
)


@st.composite
def group_tags(draw: st.DrawFn) -> dict[str, str]:
    tags = draw(NOISE)
    if draw(st.sampled_from([True] * 7 + [False])):  # mostly marked: unmarked is simple
        tags[MANAGED_TAG] = draw(MARKERS)
    cluster = draw(CLUSTERS)
    if draw(st.sampled_from([True, True, False])):
        tags[EKS_CLUSTER_NAME_TAG] = cluster
    # Often the same cluster again (agreeing tags), sometimes another one (ambiguous).
    for name in draw(st.lists(st.just(cluster) | st.just(cluster) | CLUSTERS, max_size=2)):
        tags[KUBERNETES_CLUSTER_TAG_PREFIX + name] = draw(st.sampled_from(["owned", "shared"]))
    if draw(st.booleans()):
        tags[NODE_ROLE_TAG] = draw(ROLES)
    for hook_tag in (LAUNCH_HOOK_TAG, TERMINATE_HOOK_TAG):
        if draw(st.booleans()):
            tags[hook_tag] = draw(st.sampled_from(["winnodes-launch", "other-tool"]))
    return tags


def is_role_arn(value: str) -> bool:
    return value.startswith("arn:aws:iam::111122223333:role/")


@given(group_tags())
def test_a_group_is_managed_exactly_when_marked_with_one_valid_cluster(
    tags: dict[str, str],
) -> None:
    found = discover_managed_group("asg", tags)
    marker = tags.get(MANAGED_TAG)
    clusters = {
        tags[key]
        if key == EKS_CLUSTER_NAME_TAG
        else key.removeprefix(KUBERNETES_CLUSTER_TAG_PREFIX)
        for key in tags
        if key == EKS_CLUSTER_NAME_TAG or key.startswith(KUBERNETES_CLUSTER_TAG_PREFIX)
    }
    role = tags.get(NODE_ROLE_TAG)
    if marker != "true":
        assert isinstance(found, UnmanagedGroup)
        inexact = marker is not None and marker.strip().lower() == "true"
        assert found.reason is (
            UnmanagedReason.INEXACT_MARKER if inexact else UnmanagedReason.NOT_MARKED
        )
    elif not clusters:
        assert reason(tags) is UnmanagedReason.NO_CLUSTER
    elif len(clusters) > 1:
        assert reason(tags) is UnmanagedReason.AMBIGUOUS_CLUSTER
    elif not re.fullmatch(r"[0-9A-Za-z][A-Za-z0-9\-_]{0,99}", (cluster := next(iter(clusters)))):
        assert reason(tags) is UnmanagedReason.INVALID_CLUSTER_NAME
    elif role is not None and not is_role_arn(role):
        assert reason(tags) is UnmanagedReason.INVALID_NODE_ROLE
    else:
        assert found == ManagedGroup(
            "asg",
            ClusterName(cluster),
            RoleArn.parse(role) if role is not None else None,
            launch_hook=tags.get(LAUNCH_HOOK_TAG),
            terminate_hook=tags.get(TERMINATE_HOOK_TAG),
        )
        assert isinstance(found, ManagedGroup)
        # The role keeps its path: it names the principal of an access entry.
        assert (found.node_role.principal_arn if found.node_role else None) == role


def test_lifecycle_wait_states() -> None:
    waiting_launch = {s for s in LifecycleState if s.awaits_launch_action}
    assert waiting_launch == {LifecycleState.PENDING_WAIT, LifecycleState.WARMED_PENDING_WAIT}
    waiting_terminate = {s for s in LifecycleState if s.awaits_terminate_action}
    assert waiting_terminate == {
        LifecycleState.TERMINATING_WAIT,
        LifecycleState.WARMED_TERMINATING_WAIT,
    }
    assert not LifecycleState.IN_SERVICE.awaits_launch_action


@pytest.mark.parametrize(
    ("reported", "parsed"),
    [
        ("Pending:Wait", LifecycleState.PENDING_WAIT),
        ("Warmed:Terminating:Wait", LifecycleState.WARMED_TERMINATING_WAIT),
        ("Pending:Paused", None),  # a state newer than our list is not an error
        (None, None),
    ],
)
def test_a_reported_lifecycle_state_parses_or_is_none(
    reported: str | None, parsed: LifecycleState | None
) -> None:
    assert LifecycleState.parse(reported) is parsed


def test_the_node_role_can_be_named_on_the_group() -> None:
    arn = "arn:aws:iam::111122223333:role/eks/WinNode"
    found = discover_managed_group(
        "asg", MARK | {"eks:cluster-name": "prod", "eks-windows-nodes/node-role-arn": arn}
    )
    assert isinstance(found, ManagedGroup)
    assert found.node_role is not None and found.node_role.principal_arn == arn
    unnamed = discover_managed_group("asg", MARK | {"eks:cluster-name": "prod"})
    assert isinstance(unnamed, ManagedGroup) and unnamed.node_role is None


def test_a_node_role_tag_that_is_no_role_arn_is_a_misconfiguration() -> None:
    tags = MARK | {"eks:cluster-name": "prod", "eks-windows-nodes/node-role-arn": "WinNode"}
    found = discover_managed_group("asg", tags)
    assert isinstance(found, UnmanagedGroup) and found.misconfigured
    assert found.reason is UnmanagedReason.INVALID_NODE_ROLE
    assert found.detail.startswith("eks-windows-nodes/node-role-arn: ")
