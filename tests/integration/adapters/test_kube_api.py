"""The Kubernetes adapter against the local cloud's real kube-apiserver, authenticated the way
the Lambda functions are on EKS: an STS-presigned token mapped through aws-auth."""

from __future__ import annotations

import secrets
import time
from typing import TYPE_CHECKING

import boto3
import pytest
from kubernetes.client.exceptions import ApiException

from localcloud.kube import DEFAULT_ACCOUNT_ID, AwsCredentials, IdentityRegistry, KubeCloud
from localcloud.kube.clients import allowed, raw_json
from localcloud.kube.waiting import wait_until
from winnodes.adapters.kube.api import KubeApi
from winnodes.adapters.kube.token import CachedToken, eks_token
from winnodes.errors import KubernetesConflictError, KubernetesError, KubernetesNotFoundError

if TYPE_CHECKING:
    from mypy_boto3_sts import STSClient

pytestmark = pytest.mark.integration


def sts_client(access_key_id: str, secret_access_key: str) -> STSClient:
    # Presigning needs no network; the host is the real regional STS one, as in Lambda.
    return boto3.session.Session(
        aws_access_key_id=access_key_id,
        aws_secret_access_key=secret_access_key,
        region_name="us-east-1",
    ).client("sts", endpoint_url="https://sts.us-east-1.amazonaws.com")


@pytest.fixture
def function_identity(
    kube: KubeCloud, identity_registry: IdentityRegistry, namespace: str
) -> AwsCredentials:
    """An IAM role mapped in aws-auth to a user allowed to manage ConfigMaps in `namespace`."""
    role = f"winnodes-fn-{secrets.token_hex(3)}"
    creds = identity_registry.add(arn=f"arn:aws:sts::{DEFAULT_ACCOUNT_ID}:assumed-role/{role}/s1")
    core = kube.core_v1()
    rbac_body = {
        "metadata": {"name": "cm-admin", "namespace": namespace},
        "subjects": [
            {"kind": "User", "name": f"fn-{role}", "apiGroup": "rbac.authorization.k8s.io"}
        ],
        "roleRef": {
            "kind": "ClusterRole",
            "name": "admin",
            "apiGroup": "rbac.authorization.k8s.io",
        },
    }
    kube.api_client().call_api(
        f"/apis/rbac.authorization.k8s.io/v1/namespaces/{namespace}/rolebindings",
        "POST",
        body=rbac_body,
        auth_settings=["BearerToken"],
        _preload_content=False,
    )
    wait_until(
        lambda: allowed(
            kube.api_client(),
            user=f"fn-{role}",
            verb="create",
            resource="configmaps",
            namespace=namespace,
        ),
        message=f"the role binding for fn-{role} to take effect",
    )
    mapping = f"- rolearn: arn:aws:iam::{DEFAULT_ACCOUNT_ID}:role/{role}\n  username: fn-{role}\n"
    try:
        aws_auth = raw_json(core.read_namespaced_config_map, "aws-auth", "kube-system")
    except ApiException as error:
        assert error.status == 404
        body = {"metadata": {"name": "aws-auth"}, "data": {"mapRoles": mapping}}
        raw_json(core.create_namespaced_config_map, "kube-system", body)
    else:
        aws_auth["data"]["mapRoles"] = aws_auth["data"].get("mapRoles", "") + mapping
        raw_json(core.replace_namespaced_config_map, "aws-auth", "kube-system", aws_auth)
    return creds


def test_token_authenticates_and_errors_map_to_typed_exceptions(
    kube: KubeCloud,
    function_identity: AwsCredentials,
    namespace: str,
) -> None:
    sts = sts_client(function_identity.access_key_id, function_identity.secret_access_key)
    api = KubeApi(
        endpoint=kube.endpoint,
        ca_base64=kube.ca_data,
        token=CachedToken(sts, kube.cluster_name, wall_clock=lambda: 0.0),
        page_size=2,
    )
    path = f"/api/v1/namespaces/{namespace}/configmaps"
    for i in range(5):
        api.create(
            path,
            {"metadata": {"name": f"cm-{i}", "labels": {"t": "paging"}}, "data": {"i": str(i)}},
        )
    items = api.list(path, query={"labelSelector": "t=paging"})
    names = sorted(item["metadata"]["name"] for item in items)
    assert names == [f"cm-{i}" for i in range(5)]  # five items over three pages of two

    current = api.get(f"{path}/cm-0")
    api.patch(f"{path}/cm-0", {"data": {"i": "changed"}})
    with pytest.raises(KubernetesConflictError):
        api.replace(f"{path}/cm-0", current)  # stale resourceVersion
    with pytest.raises(KubernetesNotFoundError):
        api.get(f"{path}/missing")


class RefusedFirst:
    """A token source whose cached token the server refuses (say, it expired while Lambda had
    the container frozen): a token for another cluster until invalidated, then a good one."""

    def __init__(self, sts: STSClient, cluster: str) -> None:
        self._sts, self._cluster = sts, cluster
        self.invalidated = 0

    def __call__(self) -> str:
        cluster = self._cluster if self.invalidated else "some-other-cluster"
        return eks_token(self._sts, cluster)

    def invalidate(self) -> None:
        self.invalidated += 1


def test_token_for_another_cluster_is_refused(
    kube: KubeCloud, function_identity: AwsCredentials
) -> None:
    sts = sts_client(function_identity.access_key_id, function_identity.secret_access_key)
    token = CachedToken(sts, "some-other-cluster", wall_clock=time.time)
    api = KubeApi(endpoint=kube.endpoint, ca_base64=kube.ca_data, token=token)
    with pytest.raises(KubernetesError) as raised:
        api.get("/api/v1/namespaces/default")
    assert raised.value.status == 401  # after one retry with a newly signed token


def test_a_refused_token_is_signed_anew_and_the_request_retried_once(
    kube: KubeCloud,
    function_identity: AwsCredentials,
    namespace: str,
) -> None:
    sts = sts_client(function_identity.access_key_id, function_identity.secret_access_key)
    token = RefusedFirst(sts, kube.cluster_name)
    api = KubeApi(endpoint=kube.endpoint, ca_base64=kube.ca_data, token=token)
    path = f"/api/v1/namespaces/{namespace}/configmaps"
    api.create(path, {"metadata": {"name": "after-refusal"}, "data": {"k": "v"}})
    assert api.get(f"{path}/after-refusal")["data"] == {"k": "v"}
    assert token.invalidated == 1  # the first request only; the next used the new token


def test_invalidate_drops_the_cached_token(
    kube: KubeCloud, function_identity: AwsCredentials
) -> None:
    sts = sts_client(function_identity.access_key_id, function_identity.secret_access_key)
    signed: list[str] = []
    sts.meta.events.register(
        "before-sign.sts.GetCallerIdentity", lambda **kwargs: signed.append("presign")
    )
    token = CachedToken(sts, kube.cluster_name, wall_clock=lambda: 1000.0)
    token()
    token()
    token.invalidate()
    token()
    assert len(signed) == 2


def test_cached_token_is_reused_until_near_expiry(
    kube: KubeCloud, function_identity: AwsCredentials
) -> None:
    sts = sts_client(function_identity.access_key_id, function_identity.secret_access_key)
    signed: list[str] = []
    sts.meta.events.register(
        "before-sign.sts.GetCallerIdentity", lambda **kwargs: signed.append("presign")
    )
    clock = [1000.0]
    token = CachedToken(sts, kube.cluster_name, wall_clock=lambda: clock[0])
    first = token()
    clock[0] += 13 * 60
    assert token() == first
    assert len(signed) == 1
    clock[0] += 60  # 14 minutes: within a minute of the 15-minute lifetime
    token()
    assert len(signed) == 2
