"""The token webhook's decision, without HTTP (localcloud/kube/webhook.py)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Protocol

import yaml

from localcloud.kube.identity import IdentityRegistry, InMemoryAccessEntries
from localcloud.kube.mapping import AccessEntry, AccessEntryType
from localcloud.kube.token import presign_token
from localcloud.kube.webhook import EksAuthenticator

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
ACCOUNT = "123456789012"


class TokenFor(Protocol):
    def __call__(self, cluster: str = "prod", at: datetime = NOW) -> str: ...


def _setup(
    aws_auth: Mapping[str, str] | None = None,
) -> tuple[EksAuthenticator, InMemoryAccessEntries, TokenFor, list[datetime]]:
    registry = IdentityRegistry()
    entries = InMemoryAccessEntries()
    creds = registry.add_instance_role(
        account_id=ACCOUNT,
        role_name="WinNodeRole",
        instance_id="i-0abc1234def567890",
        private_dns_name="ip-10-0-1-23.ec2.internal",
    )
    clock = [NOW]
    authenticator = EksAuthenticator(
        cluster_name="prod",
        identity_source=registry,
        access_entries=entries,
        aws_auth=lambda: aws_auth,
        clock=lambda: clock[0],
    )

    def token(cluster: str = "prod", at: datetime = NOW) -> str:
        return presign_token(
            cluster_name=cluster,
            access_key_id=creds.access_key_id,
            secret_access_key=creds.secret_access_key,
            now=at,
        )

    return authenticator, entries, token, clock


def test_an_unmapped_node_is_refused_and_the_reason_recorded() -> None:
    authenticator, _, token, _ = _setup()

    assert authenticator.authenticate(token()) is None
    decision = authenticator.decisions[-1]
    assert decision.reason == "identity is not mapped"
    assert (
        decision.caller_arn
        == f"arn:aws:sts::{ACCOUNT}:assumed-role/WinNodeRole/i-0abc1234def567890"
    )


def test_a_node_with_an_access_entry_is_authenticated_as_itself() -> None:
    authenticator, entries, token, _ = _setup()
    entries.put(
        "prod",
        AccessEntry(
            principal_arn=f"arn:aws:iam::{ACCOUNT}:role/WinNodeRole",
            type=AccessEntryType.EC2_WINDOWS,
        ),
    )

    user = authenticator.authenticate(token())

    assert user is not None and user.username == "system:node:ip-10-0-1-23.ec2.internal"
    # Entries of another cluster do not count.
    entries.delete("prod", f"arn:aws:iam::{ACCOUNT}:role/WinNodeRole")
    entries.add_windows_node_role("other", f"arn:aws:iam::{ACCOUNT}:role/WinNodeRole")
    assert authenticator.authenticate(token()) is None


def test_aws_auth_maps_the_node_and_a_token_for_another_cluster_is_refused() -> None:
    map_roles = yaml.safe_dump(
        [
            {
                "rolearn": f"arn:aws:iam::{ACCOUNT}:role/WinNodeRole",
                "username": "system:node:{{EC2PrivateDNSName}}",
                "groups": ["system:nodes"],
            }
        ]
    )
    authenticator, _, token, _ = _setup({"mapRoles": map_roles})

    assert authenticator.authenticate(token()) is not None
    assert authenticator.authenticate(token(cluster="staging")) is None
    assert authenticator.decisions[-1].reason == "STS refused the presigned request"


def test_expired_and_malformed_tokens_are_refused() -> None:
    authenticator, entries, token, clock = _setup()
    entries.add_windows_node_role("prod", f"arn:aws:iam::{ACCOUNT}:role/WinNodeRole")
    fresh = token()
    clock[0] = NOW + timedelta(minutes=15, seconds=1)  # 15 minutes from its date, as EKS

    assert authenticator.authenticate(fresh) is None
    assert "expired" in authenticator.decisions[-1].reason
    assert authenticator.authenticate("k8s-aws-v1.bm9wZQ") is None
    assert authenticator.authenticate("some-other-token") is None


def test_a_mapRoles_that_is_not_yaml_maps_none_of_its_roles() -> None:
    authenticator, _, token, _ = _setup({"mapRoles": "- rolearn: [unclosed"})

    assert authenticator.authenticate(token()) is None
    assert authenticator.decisions[-1].reason == "identity is not mapped"


def test_a_malformed_aws_auth_does_not_lock_out_access_entries() -> None:
    authenticator, entries, token, _ = _setup({"mapRoles": "- rolearn: [unclosed"})
    entries.add_windows_node_role("prod", f"arn:aws:iam::{ACCOUNT}:role/WinNodeRole")

    assert authenticator.authenticate(token()) is not None
