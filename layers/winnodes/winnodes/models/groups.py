"""Which Auto Scaling groups we manage, decided from the group's tags alone."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Final

from winnodes.errors import InvalidInputError
from winnodes.models.identifiers import ClusterName, RoleArn

MANAGED_TAG: Final = "eks-windows-nodes/managed"
MANAGED_VALUE: Final = "true"
# The node role, named by the operator: the functions then need no IAM call to find it, which
# matters in private subnets, as IAM's interface endpoint exists only in us-east-1.
NODE_ROLE_TAG: Final = "eks-windows-nodes/node-role-arn"
# Which of the group's lifecycle hooks are ours, when it has several for a transition (another
# tool's hook must be left for that tool to complete).
LAUNCH_HOOK_TAG: Final = "eks-windows-nodes/launch-hook"
TERMINATE_HOOK_TAG: Final = "eks-windows-nodes/terminate-hook"
EKS_CLUSTER_NAME_TAG: Final = "eks:cluster-name"
# When the join first saw the instance held in Pending:Wait (ISO 8601, UTC): the start of its
# join deadline, kept on the instance because no AWS API reports when a launch action began.
JOIN_STARTED_TAG: Final = "eks-windows-nodes/join-started-at"
# When the leave first saw the instance returning to the warm pool on scale in (ISO 8601, UTC):
# a join-start stamp from before it belongs to the instance's previous stay in the group.
RETURNED_TO_POOL_TAG: Final = "eks-windows-nodes/returned-to-pool-at"
# `kubernetes.io/cluster/<name>` = owned | shared, the tag the EKS user guide asks nodes to carry.
KUBERNETES_CLUSTER_TAG_PREFIX: Final = "kubernetes.io/cluster/"


@dataclass(frozen=True, slots=True)
class ManagedGroup:
    auto_scaling_group_name: str
    cluster: ClusterName
    node_role: RoleArn | None = None  # from NODE_ROLE_TAG; None: found from the instance profile
    launch_hook: str | None = None  # from LAUNCH_HOOK_TAG; None: the group's only launch hook
    terminate_hook: str | None = None  # from TERMINATE_HOOK_TAG; None: its only terminate hook


class UnmanagedReason(StrEnum):
    NOT_MARKED = "not-marked"  # no `eks-windows-nodes/managed=true`: not ours, silently skip
    # `True`, ` true `: meant as the marker, but the functions' IAM policy matches the tag value
    # `true` exactly, so lifecycle actions on the group would be denied.
    INEXACT_MARKER = "inexact-marker"
    NO_CLUSTER = "no-cluster"  # marked, but no cluster tag: misconfigured
    AMBIGUOUS_CLUSTER = "ambiguous-cluster"  # cluster tags name more than one cluster
    INVALID_CLUSTER_NAME = "invalid-cluster-name"
    INVALID_NODE_ROLE = "invalid-node-role"


@dataclass(frozen=True, slots=True)
class UnmanagedGroup:
    auto_scaling_group_name: str
    reason: UnmanagedReason
    detail: str

    @property
    def misconfigured(self) -> bool:
        """Marked for management but unusable: worth a warning, unlike an unmarked group."""
        return self.reason is not UnmanagedReason.NOT_MARKED


def discover_managed_group(
    auto_scaling_group_name: str, tags: Mapping[str, str]
) -> ManagedGroup | UnmanagedGroup:
    """`tags` is the group's tags as key → value (ASG tag keys are unique per group)."""

    def unmanaged(reason: UnmanagedReason, detail: str) -> UnmanagedGroup:
        return UnmanagedGroup(auto_scaling_group_name, reason, detail)

    marker = tags.get(MANAGED_TAG)
    if marker != MANAGED_VALUE:
        if marker is not None and marker.strip().lower() == MANAGED_VALUE:
            return unmanaged(
                UnmanagedReason.INEXACT_MARKER,
                f"{MANAGED_TAG} is {marker!r}: write exactly {MANAGED_VALUE!r}, the value the "
                "functions' IAM policy allows lifecycle actions for",
            )
        return unmanaged(UnmanagedReason.NOT_MARKED, f"{MANAGED_TAG} is {marker!r}, not 'true'")

    named: dict[str, str] = {}  # cluster name → tag it came from
    if (value := tags.get(EKS_CLUSTER_NAME_TAG)) is not None:
        named.setdefault(value, EKS_CLUSTER_NAME_TAG)
    for key in tags:
        if key.startswith(KUBERNETES_CLUSTER_TAG_PREFIX):
            named.setdefault(key.removeprefix(KUBERNETES_CLUSTER_TAG_PREFIX), key)

    if not named:
        return unmanaged(
            UnmanagedReason.NO_CLUSTER,
            f"needs {EKS_CLUSTER_NAME_TAG} or {KUBERNETES_CLUSTER_TAG_PREFIX}<name>",
        )
    if len(named) > 1:
        return unmanaged(
            UnmanagedReason.AMBIGUOUS_CLUSTER,
            "tags name several clusters: " + ", ".join(sorted(named)),
        )
    (name,) = named
    role = tags.get(NODE_ROLE_TAG)
    try:
        cluster = ClusterName(name)
        node_role = RoleArn.parse(role) if role is not None else None
    except InvalidInputError as exc:
        bad_role = exc.field == "role-arn"
        return unmanaged(
            UnmanagedReason.INVALID_NODE_ROLE if bad_role else UnmanagedReason.INVALID_CLUSTER_NAME,
            f"{NODE_ROLE_TAG if bad_role else named[name]}: {exc.reason}",
        )
    return ManagedGroup(
        auto_scaling_group_name,
        cluster,
        node_role,
        launch_hook=tags.get(LAUNCH_HOOK_TAG),
        terminate_hook=tags.get(TERMINATE_HOOK_TAG),
    )
