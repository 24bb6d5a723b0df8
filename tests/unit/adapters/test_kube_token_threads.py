"""EKS tokens signed on threads that share the container's one STS client: each names its own
cluster, and a missing credential is our typed error.

The cluster is bound to a token only by the signature over `x-k8s-aws-id` (the URL does not carry
its value), so each token is checked by recomputing the signature with the secret key."""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, cast
from urllib.parse import parse_qs, urlsplit

import botocore.credentials
import botocore.session
import pytest

from localcloud.kube.token import decode_token, verify_signature
from winnodes.adapters.kube.token import CachedToken, eks_token
from winnodes.errors import AwsCredentialsError

if TYPE_CHECKING:
    from mypy_boto3_sts import STSClient

SECRET = "wJalrXUtnFEMI/K7MDENG"
CLUSTERS = ("alpha", "beta", "gamma", "delta")
TOKENS_PER_THREAD = 150


def sts_client(*, credentials: bool = True) -> STSClient:
    session = botocore.session.Session()
    if credentials:
        session.set_credentials("AKIAIOSFODNN7EXAMPLE", SECRET)
    else:
        session.register_component(
            "credential_provider", botocore.credentials.CredentialResolver(providers=[])
        )
    return cast("STSClient", session.create_client("sts", region_name="us-east-1"))


def signed_for(token: str) -> list[str]:
    """The clusters among CLUSTERS whose name the token's signature covers."""
    request = decode_token(token)
    return [
        c for c in CLUSTERS if verify_signature(request, secret_access_key=SECRET, cluster_name=c)
    ]


def test_tokens_signed_at_once_on_one_client_each_name_their_own_cluster() -> None:
    sts = sts_client()
    start = threading.Barrier(len(CLUSTERS))
    signed: dict[str, list[str]] = {c: [] for c in CLUSTERS}

    def sign(cluster: str) -> None:
        start.wait()
        for _ in range(TOKENS_PER_THREAD):
            signed[cluster].append(CachedToken(sts, cluster, wall_clock=lambda: 0.0)())

    threads = [threading.Thread(target=sign, args=(c,)) for c in CLUSTERS]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    wrong = [
        (cluster, signed_for(token))
        for cluster, tokens in signed.items()
        for token in tokens
        if signed_for(token) != [cluster]
    ]
    assert sum(map(len, signed.values())) == len(CLUSTERS) * TOKENS_PER_THREAD
    assert wrong == []


def test_a_get_caller_identity_of_someone_else_on_the_client_gets_no_cluster_header() -> None:
    sts = sts_client()
    eks_token(sts, "alpha")
    url = sts.generate_presigned_url("get_caller_identity", HttpMethod="GET")
    assert parse_qs(urlsplit(url).query)["X-Amz-SignedHeaders"] == ["host"]


def test_signing_without_credentials_is_a_credentials_error() -> None:
    with pytest.raises(AwsCredentialsError, match="no AWS credentials"):
        CachedToken(sts_client(credentials=False), "alpha", wall_clock=lambda: 0.0)()
