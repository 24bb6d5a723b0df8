"""EKS bearer tokens: a presigned STS GetCallerIdentity URL that names the cluster.

As aws-iam-authenticator (pkg/token) and `aws eks get-token` build them: the request carries the
signed header `x-k8s-aws-id: <cluster>`, the token is `k8s-aws-v1.` + URL-safe base64 of the URL
without padding, and the API server accepts it for 15 minutes from its X-Amz-Date."""

from __future__ import annotations

import base64
import threading
from collections.abc import Callable
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any, Protocol

from winnodes.adapters.aws import aws_call

if TYPE_CHECKING:
    from mypy_boto3_sts import STSClient

TOKEN_PREFIX = "k8s-aws-v1."  # noqa: S105 - a public prefix, not a secret
CLUSTER_HEADER = "x-k8s-aws-id"
TOKEN_LIFETIME_SECONDS = 900
# X-Amz-Expires, which STS ignores: the token lasts TOKEN_LIFETIME_SECONDS from X-Amz-Date
# whatever it says. 60 as aws-iam-authenticator (pkg/token requestPresignParam) and
# `aws eks get-token` (URL_TIMEOUT) send it; authenticators up to 0.3.0 refuse more than 60.
PRESIGN_EXPIRES_SECONDS = 60
# Refresh a minute early so no request goes out with a token about to expire.
REFRESH_MARGIN_SECONDS = 60
_BEFORE_SIGN = "before-sign.sts.GetCallerIdentity"
_HANDLER_ID = "winnodes-eks-cluster-header"
_SIGNING_FOR: ContextVar[str | None] = ContextVar("winnodes_eks_token_cluster", default=None)


def eks_token(sts: STSClient, cluster_name: str) -> str:
    """A fresh token; `sts` must be a regional STS client. Safe on threads sharing `sts`."""
    # One handler per client, reading the cluster from a context variable: a handler registered
    # and unregistered per call would sign another thread's token with this cluster's name.
    sts.meta.events.register(_BEFORE_SIGN, _add_cluster_header, unique_id=_HANDLER_ID)
    signing = _SIGNING_FOR.set(cluster_name)
    try:
        url = aws_call(
            "STS GetCallerIdentity presign",
            lambda: sts.generate_presigned_url(
                "get_caller_identity", ExpiresIn=PRESIGN_EXPIRES_SECONDS, HttpMethod="GET"
            ),
        )
    finally:
        _SIGNING_FOR.reset(signing)
    encoded = base64.urlsafe_b64encode(url.encode("utf-8")).decode("ascii").rstrip("=")
    return TOKEN_PREFIX + encoded


def _add_cluster_header(request: Any, **_: Any) -> None:
    cluster = _SIGNING_FOR.get()
    if cluster is not None:  # a GetCallerIdentity of someone else's: left as it is
        request.headers[CLUSTER_HEADER] = cluster


class BearerToken(Protocol):
    """A bearer token for one cluster, and a way to drop it once the server refuses it."""

    def __call__(self) -> str: ...

    def invalidate(self) -> None: ...


class CachedToken:
    """One token per cluster, reused until shortly before it expires.

    Expiry is judged by the wall clock (`wall_clock`, seconds since the epoch), as the API
    server judges it from the URL's X-Amz-Date: a monotonic clock can stand still while Lambda
    has the container frozen between invocations, and would reuse a token long expired."""

    def __init__(
        self, sts: STSClient, cluster_name: str, *, wall_clock: Callable[[], float]
    ) -> None:
        self._sts = sts
        self._cluster = cluster_name
        self._wall_clock = wall_clock
        self._lock = threading.Lock()
        self._token: str | None = None
        self._expires_at = 0.0

    def __call__(self) -> str:
        with self._lock:
            now = self._wall_clock()
            if self._token is None or now >= self._expires_at:
                self._token = eks_token(self._sts, self._cluster)
                self._expires_at = now + TOKEN_LIFETIME_SECONDS - REFRESH_MARGIN_SECONDS
            return self._token

    def invalidate(self) -> None:
        """The server refused the token (a clock jumped, credentials rotated): sign anew."""
        with self._lock:
            self._token = None
