"""Authorizing a Windows instance's node role in its cluster: the role behind the instance profile
gets an EC2_WINDOWS access entry (clusters with access entries) or its entry merged into
kube-system/aws-auth. (Windows IPAM, the cluster's other prerequisite, is services.join's.)
Only a role the operator's NODE_ROLE_ARNS allows (decisions.node_roles); any other is BLOCKED,
in both modes, and nothing is written for it.

Reads are memoised in the pass's FleetView: a group's instances share their role, so a pass looks
once per role and cluster."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta

from winnodes.decisions.aws_auth import MalformedAwsAuthError, merge_node_role, node_role_authorized
from winnodes.decisions.join import NodeAuthorization
from winnodes.decisions.node_roles import NODE_ROLES_SETTING, NodeRoleAllowList
from winnodes.errors import KubernetesConflictError
from winnodes.models.groups import ManagedGroup
from winnodes.models.identifiers import RoleArn
from winnodes.observability import logger, metrics
from winnodes.ports import (
    AccessEntries,
    AccessEntry,
    ClusterConnection,
    ClusterKube,
    Compute,
    Instance,
    InstancePlatform,
    InstanceProfileRole,
)
from winnodes.services.fleet import FleetView

_AWS_AUTH_WRITE_ATTEMPTS = 5
WINDOWS_ACCESS_ENTRY_TYPE = "EC2_WINDOWS"
# IAM's and EKS's clocks and second-rounded dates: an entry made right after its role was
# created must never look older than the role.
_RECREATED_ROLE_MARGIN = timedelta(minutes=1)


class NodeRoleAuthorization:
    def __init__(
        self,
        *,
        compute: Compute,
        access_entries: AccessEntries,
        node_roles: NodeRoleAllowList | None = None,
    ) -> None:
        self._compute = compute
        self._access_entries = access_entries
        self._node_roles = node_roles or NodeRoleAllowList()

    def status(
        self,
        connection: ClusterConnection,
        kube: ClusterKube,
        group: ManagedGroup,
        instance: Instance,
        view: FleetView,
    ) -> NodeAuthorization:
        role = self._node_role(group, instance, view)
        if role is None:
            return NodeAuthorization.MISSING
        if not self._allowed(group, role, connection, view):
            return NodeAuthorization.BLOCKED
        # One look per role and cluster per pass: a group's instances share their role.
        created = self._role_created_at(group, instance, view)
        return view.memo(
            ("authorization", connection.name, str(role)),
            lambda: self._read(connection, kube, role, created),
        )

    def authorize(
        self,
        connection: ClusterConnection,
        kube: ClusterKube,
        group: ManagedGroup,
        instance: Instance,
        *,
        view: FleetView,
        log: dict[str, str | None],
    ) -> NodeAuthorization:
        role = self._node_role(group, instance, view)
        if role is None:
            # Decided as MISSING again on the next step, and abandoned at the deadline. Said once
            # per instance in a pass (or invocation), not at every poll.
            view.memo(
                ("no-role-said", instance.instance_id),
                lambda: logger.warning("instance has no IAM role to authorize", extra=log),
            )
            return NodeAuthorization.MISSING
        if not self._allowed(group, role, connection, view):
            return NodeAuthorization.BLOCKED  # nothing written: only an operator can change it
        if connection.uses_access_entries:
            if self._access_entries.ensure_windows_node_entry(connection.name, role.principal_arn):
                metrics.add_metric(name="AccessEntryCreated", unit="Count", value=1)
                logger.info(
                    "created EC2_WINDOWS access entry", extra=log | {"role": role.principal_arn}
                )
                authorization = NodeAuthorization.AUTHORIZED
            else:  # there already (created meanwhile?): it serves a Windows node only as one
                created = self._role_created_at(group, instance, view)
                authorization = self._access_entry_authorization(connection, role, created)
        else:
            authorization = self._merge_aws_auth(kube, role, log)
        view.remember(("authorization", connection.name, str(role)), authorization)
        return authorization

    def repair(self, group: ManagedGroup, instance_id: str, view: FleetView) -> bool:
        """Re-authorizes the role of an in-service Windows instance whose access entry or
        aws-auth entry went missing; True if it did. A malformed aws-auth stays untouched, and
        a role NODE_ROLE_ARNS does not allow is BLOCKED by status(): never authorized here."""
        instance = view.instance(instance_id)
        if instance is None or instance.platform != InstancePlatform.WINDOWS:
            return False
        connection = view.connection(group.cluster)
        kube = view.kube(group.cluster)
        if self.status(connection, kube, group, instance, view) is not NodeAuthorization.MISSING:
            return False
        log = {
            "cluster": str(group.cluster),
            "asg": group.auto_scaling_group_name,
            "instance_id": instance_id,
            "node": None,
        }
        repaired = self.authorize(connection, kube, group, instance, view=view, log=log)
        if repaired is NodeAuthorization.AUTHORIZED:
            logger.info("repaired node role authorization", extra=log)
        return repaired is NodeAuthorization.AUTHORIZED

    def _node_role(
        self, group: ManagedGroup, instance: Instance, view: FleetView
    ) -> RoleArn | None:
        if group.node_role is not None:
            return group.node_role  # named by the operator: no IAM call
        found = self._profile_role(instance, view)
        return RoleArn.parse(found.arn) if found else None

    def _role_created_at(
        self, group: ManagedGroup, instance: Instance, view: FleetView
    ) -> datetime | None:
        """When IAM created the node role; None for a role named by the group's tag (no IAM
        call is made for it)."""
        if group.node_role is not None:
            return None
        found = self._profile_role(instance, view)
        return found.created_at if found else None

    def _profile_role(self, instance: Instance, view: FleetView) -> InstanceProfileRole | None:
        profile = instance.instance_profile_arn
        if not profile:
            return None
        # A profile without a role yet (IAM's eventual consistency, an operator fixing it) is
        # asked again at the next poll's refresh.
        return view.memo(
            ("role", profile),
            lambda: self._compute.role_of_instance_profile(profile),
            none_may_change=True,
        )

    def _allowed(
        self, group: ManagedGroup, role: RoleArn, connection: ClusterConnection, view: FleetView
    ) -> bool:
        # An aws-auth entry maps a role by name, whatever its path and letter case, so a role
        # only a tag spells (IAM did not) proves nothing there but its name: the path-less ARN
        # must be allowed in every case, or a tag naming `role/<allowed path>/<any role>`, or
        # `role/Win<...>` for the role `winadmin`, would map a role the setting refuses.
        # Access entries name the principal itself: EKS refuses an ARN with a wrong path.
        unproven = group.node_role is not None and not connection.uses_access_entries
        allowed = self._node_roles.for_cluster(connection.arn)
        # Said once per group and role in a pass (or invocation), not once per poll.
        return view.memo(
            ("node-role-allowed", group.auto_scaling_group_name, role.principal_arn, unproven),
            lambda: self._check_allowed(group, role, allowed, unproven=unproven),
        )

    def _check_allowed(
        self, group: ManagedGroup, role: RoleArn, allowed: NodeRoleAllowList, *, unproven: bool
    ) -> bool:
        why = _refusal(role, allowed, unproven=unproven)
        if why is None:
            return True
        # Whoever may tag the group (or edit its launch template) names its role; only the
        # operator's setting may make a role a Kubernetes node.
        metrics.add_metric(name="NodeRoleRefused", unit="Count", value=1)
        logger.error(
            f"the node role is not allowed by {NODE_ROLES_SETTING}; not authorized. {why}",
            extra={
                "cluster": str(group.cluster),
                "asg": group.auto_scaling_group_name,
                "role": role.principal_arn,
                "setting": NODE_ROLES_SETTING,
                "allowed_patterns": ",".join(allowed.patterns or ()),
            },
        )
        return False

    def _read(
        self,
        connection: ClusterConnection,
        kube: ClusterKube,
        role: RoleArn,
        role_created_at: datetime | None,
    ) -> NodeAuthorization:
        if connection.uses_access_entries:
            return self._access_entry_authorization(connection, role, role_created_at)
        document = kube.read_aws_auth()
        try:
            authorized = node_role_authorized(document.data if document else None, role)
        except MalformedAwsAuthError as error:
            # Memoised per pass (or invocation): said once there, not once per poll.
            _refuse_malformed_aws_auth(error, {"cluster": connection.name, "role": str(role)})
            return NodeAuthorization.BLOCKED
        return NodeAuthorization.AUTHORIZED if authorized else NodeAuthorization.MISSING

    def _access_entry_authorization(
        self, connection: ClusterConnection, role: RoleArn, role_created_at: datetime | None
    ) -> NodeAuthorization:
        entry = self._access_entries.entry(connection.name, role.principal_arn)
        if entry is None:
            return NodeAuthorization.MISSING
        entry_type = entry.type
        if entry_type == WINDOWS_ACCESS_ENTRY_TYPE:
            if _made_for_an_earlier_role(entry, role_created_at):
                # EKS stored the principal ID of the role the entry was made for; a role
                # deleted and created again under the same ARN has a new one, and the entry
                # no longer matches it (EKS API reference, AccessEntry principalArn).
                metrics.add_metric(name="AccessEntryStale", unit="Count", value=1)
                logger.error(
                    "the node role was created again after its access entry was made, so the "
                    "entry no longer matches it. Delete the access entry; the next join step "
                    "creates it for the role as it is now",
                    extra={
                        "cluster": connection.name,
                        "role": role.principal_arn,
                        "access_entry_created_at": str(entry.created_at),
                        "role_created_at": str(role_created_at),
                    },
                )
                return NodeAuthorization.BLOCKED
            return NodeAuthorization.AUTHORIZED
        # EC2_LINUX leaves out eks:kube-proxy-windows, STANDARD the node groups; an entry's type
        # cannot be changed, so only an operator can replace it.
        metrics.add_metric(name="AccessEntryWrongType", unit="Count", value=1)
        logger.error(
            "the node role's access entry is not of type EC2_WINDOWS; Windows nodes need one. "
            "If Linux nodes use the role (EKS makes an EC2_LINUX entry for a managed node "
            "group's role, and deleting it cuts those nodes off), give the Windows nodes a role "
            "of their own; otherwise delete the entry and let the next join create it, or "
            "recreate it as EC2_WINDOWS",
            extra={
                "cluster": connection.name,
                "role": role.principal_arn,
                "access_entry_type": entry_type,
            },
        )
        return NodeAuthorization.BLOCKED

    def _merge_aws_auth(
        self, kube: ClusterKube, role: RoleArn, log: dict[str, str | None]
    ) -> NodeAuthorization:
        for _ in range(_AWS_AUTH_WRITE_ATTEMPTS):
            document = kube.read_aws_auth()
            try:
                merge = merge_node_role(document.data if document else None, role)
            except MalformedAwsAuthError as error:
                _refuse_malformed_aws_auth(error, log)
                return NodeAuthorization.BLOCKED
            for warning in merge.warnings:
                logger.warning(warning.message, extra=log | {"warning": warning.kind})
            if not merge.changed:
                return NodeAuthorization.AUTHORIZED
            try:
                kube.write_aws_auth(
                    merge.data, resource_version=document.resource_version if document else None
                )
            except KubernetesConflictError:
                continue  # someone else wrote meanwhile: read again, merge again
            metrics.add_metric(name="AwsAuthUpdated", unit="Count", value=1)
            logger.info("authorized node role in aws-auth", extra=log | {"role": str(role)})
            return NodeAuthorization.AUTHORIZED
        logger.warning("aws-auth kept changing; will retry", extra=log)
        return NodeAuthorization.MISSING


def _made_for_an_earlier_role(entry: AccessEntry, role_created_at: datetime | None) -> bool:
    if entry.created_at is None or role_created_at is None:
        return False
    return entry.created_at < role_created_at - _RECREATED_ROLE_MARGIN


def _refuse_malformed_aws_auth(error: MalformedAwsAuthError, log: Mapping[str, str | None]) -> None:
    # Safety rule 1: never write a document we could not read completely; an operator must fix it.
    metrics.add_metric(name="AwsAuthMalformed", unit="Count", value=1)
    logger.error("aws-auth is malformed; not written", extra=dict(log) | {"error": str(error)})


def _refusal(role: RoleArn, allowed: NodeRoleAllowList, *, unproven: bool) -> str | None:
    """What the operator must change for NODE_ROLE_ARNS to allow `role`; None if it does."""
    if not allowed.allows(role):
        return (
            f"Add a pattern for it to {NODE_ROLES_SETTING} (the stack's NodeRoleArns "
            "parameter; unset, it allows the roles of the account the cluster's ARN names), "
            "or give the group an allowed role"
        )
    if unproven and not allowed.allows_every_spelling(role.path_less):
        return (
            "aws-auth maps a role by name, whatever its path and letter case, and only the "
            f"group's tag spells this role: {NODE_ROLES_SETTING} must also allow "
            f"{role.path_less.principal_arn} in every letter case (a * for the name "
            "does), or the group must leave out the role tag so that the instance "
            "profile's role, as IAM spells it, is used"
        )
    return None
