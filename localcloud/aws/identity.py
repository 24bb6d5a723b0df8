"""Who signed a presigned ``sts:GetCallerIdentity`` request, answered from moto's STS/IAM state
(the ``localcloud.kube.IdentitySource`` of the token webhook), and the credentials an EC2
instance gets from its instance profile.

aws-iam-authenticator forwards the presigned URL to STS, which checks the SigV4 signature
(including the signed ``x-k8s-aws-id`` header, whose value the URL does not carry) and answers
with the caller's ARN (https://github.com/kubernetes-sigs/aws-iam-authenticator#how-does-it-work;
https://docs.aws.amazon.com/STS/latest/APIReference/API_GetCallerIdentity.html). moto in server
mode misroutes a presigned GET, so we do what STS does in-process: find the access key in moto's
IAM/STS state and recompute the signature with botocore's SigV4 signer and the key's secret.
"""

from __future__ import annotations

import datetime as dt
import hmac
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import boto3
from botocore.auth import SigV4QueryAuth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from moto.ec2.models import ec2_backends
from moto.ec2.models.instances import Instance
from moto.iam.models import iam_backends
from moto.sts.models import sts_backends

from localcloud.kube import PresignedCallerIdentity

log = logging.getLogger("localcloud.aws.identity")
CLUSTER_ID_HEADER = "x-k8s-aws-id"


@dataclass(frozen=True)
class InstanceCredentials:
    access_key_id: str
    secret_access_key: str
    session_token: str
    arn: str
    role_arn: str


def botocore_signature(
    request: PresignedCallerIdentity, *, secret_access_key: str, cluster_name: str
) -> str:
    """The signature botocore's SigV4 query signer gives this request with
    ``x-k8s-aws-id: <cluster_name>`` (the request's own date, scope and signed headers)."""
    parts = urlsplit(request.url)
    query = [
        (k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k != "X-Amz-Signature"
    ]
    url = urlunsplit((parts.scheme, parts.netloc, parts.path or "/", urlencode(query), ""))
    headers = (
        {CLUSTER_ID_HEADER: cluster_name} if CLUSTER_ID_HEADER in request.signed_headers else {}
    )
    aws_request = AWSRequest(method="GET", url=url, headers=headers)
    aws_request.context["timestamp"] = request.signed_at.strftime("%Y%m%dT%H%M%SZ")
    signer = SigV4QueryAuth(
        Credentials(request.access_key_id, secret_access_key),
        "sts",
        request.region,
        expires=int(request.expires_in.total_seconds()),
    )
    canonical = signer.canonical_request(aws_request)
    string_to_sign = signer.string_to_sign(aws_request, canonical)
    return signer.signature(string_to_sign, aws_request)


class MotoIdentitySource:
    """``localcloud.kube.IdentitySource`` backed by moto's IAM and STS backends."""

    def __init__(self, *, account_id: str, region: str) -> None:
        self.account_id = account_id
        self.region = region
        self.refusals: list[tuple[str, str]] = []
        self._lock = threading.Lock()

    def _secret_and_arn(self, access_key_id: str) -> tuple[str, str] | None:
        for account_id, account in list(iam_backends.items()):
            iam = account["aws"]
            key = iam.access_keys.get(access_key_id)
            if key is None:
                continue
            if getattr(key, "role_arn", None):
                assumed = sts_backends[account_id]["aws"].get_assumed_role_from_access_key(
                    access_key_id
                )
                if assumed is None:
                    return None
                if assumed.expiration.replace(tzinfo=dt.UTC) < dt.datetime.now(dt.UTC):
                    return None
                return assumed.secret_access_key, assumed.arn
            for user in iam.users.values():
                for user_key in user.access_keys:
                    if user_key.access_key_id == access_key_id and user_key.status == "Active":
                        return user_key.secret_access_key, user.arn
        return None

    def caller_arn(self, request: PresignedCallerIdentity, *, cluster_name: str) -> str | None:
        found = self._secret_and_arn(request.access_key_id)
        if found is None:
            self._refuse(request.access_key_id, "unknown access key")
            return None
        secret, arn = found
        expected = botocore_signature(request, secret_access_key=secret, cluster_name=cluster_name)
        if not hmac.compare_digest(expected, request.signature):
            self._refuse(request.access_key_id, "signature does not match")
            return None
        return arn

    def private_dns_name(self, instance_id: str) -> str | None:
        try:
            instance = ec2_backends[self.account_id][self.region].get_instance(instance_id)
        except Exception:  # noqa: BLE001 - moto's InvalidInstanceIdError: unknown instance
            return None
        return instance.private_dns_name

    def _refuse(self, key: str, reason: str) -> None:
        with self._lock:
            self.refusals.append((key, reason))
        log.info("STS refused presigned request key=%s: %s", key, reason)


def instance_role_arn(*, account_id: str, region: str, instance: Instance) -> str | None:
    """The role of the instance profile associated with an instance, if any."""
    ec2 = ec2_backends[account_id][region]
    association = ec2.iam_instance_profile_associations.get(instance.id)
    if association is None:
        return None
    profile = association.iam_instance_profile
    roles = getattr(profile, "roles", [])
    return roles[0].arn if roles else None


def assume_instance_role(
    *, account_id: str, region: str, instance_id: str, role_arn: str
) -> InstanceCredentials:
    """What the instance metadata service hands the instance: role credentials with the
    instance id as the session name (so the caller is ``assumed-role/<role>/<instance-id>``).
    https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/iam-roles-for-amazon-ec2.html"""
    sts = sts_backends[account_id]["aws"]
    role = sts.assume_role(
        region_name=region,
        role_session_name=instance_id,
        role_arn=role_arn,
        policy="",
        duration=6 * 3600,
        external_id="",
    )
    return InstanceCredentials(
        access_key_id=role.access_key_id,
        secret_access_key=role.secret_access_key,
        session_token=role.session_token,
        arn=role.arn,
        role_arn=role_arn,
    )


def token_provider(
    credentials: InstanceCredentials, *, cluster_name: str, region: str, endpoint_url: str
) -> Callable[[], str]:
    """Fresh ``k8s-aws-v1.`` tokens as aws-iam-authenticator / ``aws eks get-token`` make them:
    boto3 presigns GetCallerIdentity with the ``x-k8s-aws-id`` header."""
    from localcloud.kube.token import encode_token

    session = boto3.session.Session(
        aws_access_key_id=credentials.access_key_id,
        aws_secret_access_key=credentials.secret_access_key,
        aws_session_token=credentials.session_token,
        region_name=region,
    )
    sts = session.client("sts", endpoint_url=endpoint_url)

    def add_cluster_header(request: AWSRequest, **_: object) -> None:
        request.headers[CLUSTER_ID_HEADER] = cluster_name

    sts.meta.events.register("before-sign.sts.GetCallerIdentity", add_cluster_header)
    lock = threading.Lock()

    def provide() -> str:
        with lock:
            url = sts.generate_presigned_url(
                "get_caller_identity", Params={}, ExpiresIn=60, HttpMethod="GET"
            )
        return encode_token(url)

    return provide
