"""Seams through which the token webhook learns who a caller is and which access entries exist.

The in-memory implementations here are what tests fill; the AWS half of the local cloud plugs in
moto-backed ones with the same shape.
"""

from __future__ import annotations

import secrets
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol

from localcloud.kube.mapping import AccessEntry, AccessEntryType, canonical_principal_arn
from localcloud.kube.token import PresignedCallerIdentity, presign_token, verify_signature

TokenProvider = Callable[[], str]


class IdentitySource(Protocol):
    """Answers what STS would: who signed this presigned GetCallerIdentity request."""

    def caller_arn(self, request: PresignedCallerIdentity, *, cluster_name: str) -> str | None:
        """The caller's ARN (``arn:aws:sts::<acct>:assumed-role/<role>/<session>``), or None
        when the request is not valid for ``cluster_name`` (unknown key, bad signature)."""
        ...

    def private_dns_name(self, instance_id: str) -> str | None:
        """The EC2 instance's private DNS name (for ``{{EC2PrivateDNSName}}``), or None."""
        ...


class AccessEntrySource(Protocol):
    """The cluster's EKS access entries (``ListAccessEntries`` + ``DescribeAccessEntry``)."""

    def access_entries(self, cluster_name: str) -> Sequence[AccessEntry]: ...


@dataclass(frozen=True)
class AwsCredentials:
    access_key_id: str
    secret_access_key: str
    arn: str
    session_token: str | None = None


class IdentityRegistry:
    """In-memory STS: access key id → (secret, ARN), instance id → private DNS name.

    A request is accepted only when its access key is registered and its SigV4 signature
    verifies with the secret and ``x-k8s-aws-id`` = the cluster name. Thread safe.
    """

    def __init__(self, *, region: str = "us-east-1") -> None:
        self.region = region
        self._lock = threading.Lock()
        self._credentials: dict[str, AwsCredentials] = {}
        self._instances: dict[str, str] = {}

    def add(
        self, *, arn: str, access_key_id: str | None = None, secret_access_key: str | None = None
    ) -> AwsCredentials:
        creds = AwsCredentials(
            access_key_id=access_key_id or "ASIA" + secrets.token_hex(8).upper(),
            secret_access_key=secret_access_key or secrets.token_urlsafe(30),
            arn=arn,
        )
        with self._lock:
            self._credentials[creds.access_key_id] = creds
        return creds

    def add_instance_role(
        self, *, account_id: str, role_name: str, instance_id: str, private_dns_name: str
    ) -> AwsCredentials:
        """Credentials an EC2 instance gets from its instance profile (session = instance id)."""
        with self._lock:
            self._instances[instance_id] = private_dns_name
        return self.add(arn=f"arn:aws:sts::{account_id}:assumed-role/{role_name}/{instance_id}")

    def remove(self, access_key_id: str) -> None:
        with self._lock:
            self._credentials.pop(access_key_id, None)

    def caller_arn(self, request: PresignedCallerIdentity, *, cluster_name: str) -> str | None:
        with self._lock:
            creds = self._credentials.get(request.access_key_id)
        if creds is None:
            return None
        if not verify_signature(
            request, secret_access_key=creds.secret_access_key, cluster_name=cluster_name
        ):
            return None
        return creds.arn

    def private_dns_name(self, instance_id: str) -> str | None:
        with self._lock:
            return self._instances.get(instance_id)

    def token_provider(self, creds: AwsCredentials, *, cluster_name: str) -> TokenProvider:
        """A callable returning a fresh ``k8s-aws-v1.`` token for ``creds`` on each call."""

        def provide() -> str:
            return presign_token(
                cluster_name=cluster_name,
                access_key_id=creds.access_key_id,
                secret_access_key=creds.secret_access_key,
                session_token=creds.session_token,
                region=self.region,
                now=datetime.now(UTC),
            )

        return provide


class InMemoryAccessEntries:
    """EKS access entries kept in memory, per cluster. Thread safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: dict[str, dict[str, AccessEntry]] = {}

    def put(self, cluster_name: str, entry: AccessEntry) -> None:
        with self._lock:
            by_arn = self._entries.setdefault(cluster_name, {})
            by_arn[canonical_principal_arn(entry.principal_arn)] = entry

    def add_windows_node_role(self, cluster_name: str, role_arn: str) -> AccessEntry:
        entry = AccessEntry(principal_arn=role_arn, type=AccessEntryType.EC2_WINDOWS)
        self.put(cluster_name, entry)
        return entry

    def delete(self, cluster_name: str, principal_arn: str) -> None:
        with self._lock:
            self._entries.get(cluster_name, {}).pop(canonical_principal_arn(principal_arn), None)

    def access_entries(self, cluster_name: str) -> Sequence[AccessEntry]:
        with self._lock:
            return tuple(self._entries.get(cluster_name, {}).values())
