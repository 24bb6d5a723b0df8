"""EKS as our product sees it: a cluster whose endpoint and CA are the local kube-apiserver's,
``accessConfig`` (authentication mode) and access entries, grafted onto moto's EKS backend.

moto 5.2.5 drops ``accessConfig``, returns random bytes as ``certificateAuthority.data`` and has
no access-entry API. Rules follow the EKS API reference pages cited below.
"""

from __future__ import annotations

import base64
import datetime as dt
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from moto.eks.exceptions import (
    InvalidParameterException,
    InvalidRequestException,
    ResourceInUseException,
    ResourceNotFoundException,
)
from moto.eks.models import Cluster, EKSBackend, eks_backends
from moto.iam.models import iam_backends

from localcloud.kube import AccessEntry, AccessEntryType

AUTH_MODES = ("CONFIG_MAP", "API_AND_CONFIG_MAP", "API")
# One-way: https://docs.aws.amazon.com/eks/latest/APIReference/API_UpdateAccessConfigRequest.html
# ("you can't change it from API_AND_CONFIG_MAP to CONFIG_MAP, or from API to ...").
ALLOWED_MODE_CHANGES = {
    ("CONFIG_MAP", "API_AND_CONFIG_MAP"),
    ("CONFIG_MAP", "API"),
    ("API_AND_CONFIG_MAP", "API"),
}
ENTRY_TYPES = (
    "STANDARD",
    "FARGATE_LINUX",
    "EC2_LINUX",
    "EC2_WINDOWS",
    "HYBRID_LINUX",
    "HYPERPOD_LINUX",
)
NODE_ENTRY_TYPES = ("FARGATE_LINUX", "EC2_LINUX", "EC2_WINDOWS", "HYBRID_LINUX", "HYPERPOD_LINUX")
_ROLE_ARN = re.compile(r"^arn:aws[a-z-]*:iam::(\d{12}):role/(?:[\w+=,.@/-]+/)?([\w+=,.@-]+)$")
_USER_ARN = re.compile(r"^arn:aws[a-z-]*:iam::(\d{12}):user/(?:[\w+=,.@/-]+/)?([\w+=,.@-]+)$")


@dataclass
class AccessEntryRecord:
    cluster_name: str
    principal_arn: str
    type: str
    username: str
    kubernetes_groups: list[str]
    tags: dict[str, str]
    arn: str
    created_at: dt.datetime = field(default_factory=lambda: dt.datetime.now(dt.UTC))
    modified_at: dt.datetime = field(default_factory=lambda: dt.datetime.now(dt.UTC))

    def describe(self) -> dict[str, Any]:
        return {
            "clusterName": self.cluster_name,
            "principalArn": self.principal_arn,
            "kubernetesGroups": list(self.kubernetes_groups),
            "accessEntryArn": self.arn,
            "createdAt": self.created_at,
            "modifiedAt": self.modified_at,
            "tags": dict(self.tags),
            "username": self.username,
            "type": self.type,
        }


class EksState:
    """Per-cloud EKS extensions: access entries and the kube-apiserver a cluster points to."""

    def __init__(self, *, account_id: str, region: str) -> None:
        self.account_id = account_id
        self.region = region
        self.entries: dict[str, dict[str, AccessEntryRecord]] = {}
        # cluster name → (endpoint, base64 CA); "*" applies to every cluster.
        self.api_servers: dict[str, tuple[str, str]] = {}
        self.on_mode_change: Callable[[str, str], None] | None = None

    @property
    def backend(self) -> EKSBackend:
        return eks_backends[self.account_id][self.region]

    def cluster(self, name: str) -> Cluster:
        cluster = self.backend.clusters.get(name)
        if cluster is None:
            raise ResourceNotFoundException(
                clusterName=name, message=f"No cluster found for name: {name}."
            )
        return cluster

    # -- clusters -----------------------------------------------------------------------------

    def decorate(self, cluster: Cluster, access_config: dict[str, Any] | None) -> None:
        """A new cluster: keep accessConfig (API default CONFIG_MAP) and serve the local
        API server's endpoint and CA.
        https://docs.aws.amazon.com/eks/latest/APIReference/API_CreateAccessConfigRequest.html"""
        mode = (access_config or {}).get("authenticationMode") or "CONFIG_MAP"
        if mode not in AUTH_MODES:
            raise InvalidParameterException(
                clusterName=cluster.name, message=f"Unsupported authentication mode: {mode}"
            )
        _set_access_config(
            cluster,
            {
                "authenticationMode": mode,
                "bootstrapClusterCreatorAdminPermissions": bool(
                    (access_config or {}).get("bootstrapClusterCreatorAdminPermissions", True)
                ),
            },
        )
        self.point_at_api_server(cluster)

    def point_at_api_server(self, cluster: Cluster) -> None:
        server = self.api_servers.get(cluster.name) or self.api_servers.get("*")
        if server is not None:
            cluster.endpoint, ca = server
            cluster.certificate_authority = {"data": ca}

    def set_api_server(self, cluster_name: str, *, endpoint: str, ca_data: str) -> None:
        base64.b64decode(ca_data, validate=True)
        self.api_servers[cluster_name] = (endpoint, ca_data)
        cluster = self.backend.clusters.get(cluster_name)
        if cluster is not None:
            self.point_at_api_server(cluster)

    def authentication_mode(self, cluster_name: str) -> str:
        mode: str = _access_config(self.cluster(cluster_name)).get(
            "authenticationMode", "CONFIG_MAP"
        )
        return mode

    def update_access_config(
        self, cluster_name: str, access_config: dict[str, Any]
    ) -> dict[str, Any]:
        """UpdateClusterConfig with accessConfig: the mode moves one way only.
        https://docs.aws.amazon.com/eks/latest/APIReference/API_UpdateClusterConfig.html"""
        cluster = self.cluster(cluster_name)
        current = self.authentication_mode(cluster_name)
        wanted = access_config.get("authenticationMode")
        if wanted is None:
            raise InvalidParameterException(
                clusterName=cluster_name, message="accessConfig.authenticationMode is required"
            )
        if wanted not in AUTH_MODES:
            raise InvalidParameterException(
                clusterName=cluster_name, message=f"Unsupported authentication mode: {wanted}"
            )
        if wanted == current:
            raise InvalidParameterException(
                clusterName=cluster_name,
                message=f"Unsupported authentication mode update from {current} to {wanted}",
            )
        if (current, wanted) not in ALLOWED_MODE_CHANGES:
            raise InvalidParameterException(
                clusterName=cluster_name,
                message=f"Unsupported authentication mode update from {current} to {wanted}",
            )
        _set_access_config(cluster, {**_access_config(cluster), "authenticationMode": wanted})
        if self.on_mode_change is not None:
            self.on_mode_change(cluster_name, wanted)
        now = dt.datetime.now(dt.UTC)
        return {
            "id": str(uuid.uuid4()),
            "status": "Successful",
            "type": "AccessConfigUpdate",
            "params": [{"type": "AuthenticationMode", "value": wanted}],
            "createdAt": now,
            "errors": [],
        }

    # -- access entries -----------------------------------------------------------------------

    def create_entry(
        self,
        cluster_name: str,
        *,
        principal_arn: str,
        entry_type: str | None,
        username: str | None,
        kubernetes_groups: list[str] | None,
        tags: dict[str, str] | None,
    ) -> AccessEntryRecord:
        """CreateAccessEntry.
        https://docs.aws.amazon.com/eks/latest/APIReference/API_CreateAccessEntry.html
        https://docs.aws.amazon.com/eks/latest/userguide/creating-access-entries.html"""
        self._require_access_entry_api(cluster_name)  # ResourceNotFoundException first
        entry_type = entry_type or "STANDARD"
        if entry_type not in ENTRY_TYPES:
            raise InvalidParameterException(
                clusterName=cluster_name, message=f"The type {entry_type} is not supported."
            )
        role = _ROLE_ARN.match(principal_arn)
        user = _USER_ARN.match(principal_arn)
        principal = role or user
        if principal is None:
            raise InvalidParameterException(
                clusterName=cluster_name,
                message=f"The specified principalArn is invalid: {principal_arn}",
            )
        account = principal.group(1)
        if entry_type in NODE_ENTRY_TYPES:
            if not role:
                raise InvalidParameterException(
                    clusterName=cluster_name,
                    message=f"The principalArn of a {entry_type} access entry must be an IAM role.",
                )
            if account != self.account_id:
                raise InvalidParameterException(
                    clusterName=cluster_name,
                    message=f"The IAM role of a {entry_type} access entry must be in the "
                    f"cluster's account {self.account_id}.",
                )
            if kubernetes_groups:
                raise InvalidParameterException(
                    clusterName=cluster_name,
                    message=f"Kubernetes groups cannot be specified for an access entry of type "
                    f"{entry_type}.",
                )
            if username:
                raise InvalidParameterException(
                    clusterName=cluster_name,
                    message=f"A username cannot be specified for an access entry of type "
                    f"{entry_type}.",
                )
        if account == self.account_id and not self._principal_exists(principal_arn, role, user):
            raise InvalidParameterException(
                clusterName=cluster_name,
                message=f"The specified principalArn is invalid: invalid principal {principal_arn}",
            )
        entries = self.entries.setdefault(cluster_name, {})
        key = _canonical(principal_arn)
        if key in entries:
            raise ResourceInUseException(
                clusterName=cluster_name,
                message="The specified access entry resource is already in use on this cluster.",
            )
        name = principal.group(2)
        kind = "role" if role else "user"
        if entry_type in {"EC2_WINDOWS", "EC2_LINUX"}:
            username = "system:node:{{EC2PrivateDNSName}}"
        elif entry_type == "FARGATE_LINUX":
            username = "system:node:{{SessionName}}"
        elif username is None:
            username = (
                f"arn:aws:sts::{account}:assumed-role/{name}/{{{{SessionName}}}}"
                if role
                else principal_arn
            )
        record = AccessEntryRecord(
            cluster_name=cluster_name,
            principal_arn=principal_arn,
            type=entry_type,
            username=username,
            kubernetes_groups=list(kubernetes_groups or []),
            tags=dict(tags or {}),
            arn=(
                f"arn:aws:eks:{self.region}:{self.account_id}:access-entry/{cluster_name}/"
                f"{kind}/{account}/{name}/{uuid.uuid4().hex[:24]}"
            ),
        )
        entries[key] = record
        return record

    def _require_access_entry_api(self, cluster_name: str) -> None:
        """Every access-entry operation on a CONFIG_MAP cluster is refused: the access-entry API
        exists only in API_AND_CONFIG_MAP and API modes.
        https://docs.aws.amazon.com/eks/latest/userguide/setting-up-access-entries.html
        https://docs.aws.amazon.com/eks/latest/APIReference/API_ListAccessEntries.html#API_ListAccessEntries_Errors"""
        if self.authentication_mode(cluster_name) == "CONFIG_MAP":
            raise InvalidRequestException(
                clusterName=cluster_name,
                message="The cluster's authentication mode must be set to one of "
                "[API, API_AND_CONFIG_MAP] to perform this operation.",
            )

    def _principal_exists(
        self, arn: str, role: re.Match[str] | None, user: re.Match[str] | None
    ) -> bool:
        """An existing principal with exactly this ARN: a role's path is part of its ARN, so the
        path-less ARN of a role with a path names no principal and EKS refuses it."""
        iam = iam_backends[self.account_id]["aws"]
        try:
            if role:
                found = iam.get_role(role.group(2)).arn
            elif user:
                found = iam.get_user(user.group(2)).arn
            else:
                return False
        except Exception:  # noqa: BLE001 - moto raises its own NoSuchEntity types
            return False
        return found == arn

    def get_entry(self, cluster_name: str, principal_arn: str) -> AccessEntryRecord:
        self._require_access_entry_api(cluster_name)
        record = self.entries.get(cluster_name, {}).get(_canonical(principal_arn))
        if record is None:
            raise ResourceNotFoundException(
                clusterName=cluster_name,
                message=f"The specified principalArn could not be found. You can view your "
                f"available access entries with 'list-access-entries'. ({principal_arn})",
            )
        return record

    def delete_entry(self, cluster_name: str, principal_arn: str) -> None:
        record = self.get_entry(cluster_name, principal_arn)
        del self.entries[cluster_name][_canonical(record.principal_arn)]

    def list_entries(self, cluster_name: str) -> list[str]:
        self._require_access_entry_api(cluster_name)
        return [r.principal_arn for r in self.entries.get(cluster_name, {}).values()]

    def forget_cluster(self, cluster_name: str) -> None:
        self.entries.pop(cluster_name, None)


class MotoAccessEntries:
    """``localcloud.kube.AccessEntrySource`` backed by the EKS access entries above."""

    def __init__(self, state: EksState) -> None:
        self._state = state

    def access_entries(self, cluster_name: str) -> list[AccessEntry]:
        from localcloud.aws.autoscaling import STATE_LOCK

        with STATE_LOCK:
            records = list(self._state.entries.get(cluster_name, {}).values())
        out = []
        for r in records:
            entry_type = AccessEntryType(r.type) if r.type in AccessEntryType.__members__ else None
            if entry_type is None:
                continue
            out.append(
                AccessEntry(
                    principal_arn=r.principal_arn,
                    type=entry_type,
                    username=r.username if entry_type is AccessEntryType.STANDARD else None,
                    kubernetes_groups=tuple(r.kubernetes_groups),
                )
            )
        return out


def _access_config(cluster: Cluster) -> dict[str, Any]:
    """The accessConfig ``decorate`` gave the cluster (none: a cluster moto made alone)."""
    config: dict[str, Any] = getattr(cluster, "access_config", {})
    return config


def _set_access_config(cluster: Cluster, config: dict[str, Any]) -> None:
    # moto's Cluster has no accessConfig; DescribeCluster serializes this attribute by name.
    cluster.access_config = config  # type: ignore[attr-defined]


def _canonical(arn: str) -> str:
    """EKS keys entries by the principal's ARN as created, path included: looking one up by
    another ARN of the same role (without its path) finds nothing."""
    return arn.lower()
