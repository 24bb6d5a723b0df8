"""EKS bearer tokens (``k8s-aws-v1.``): decoding, validation and SigV4 checking. Pure: no I/O.

A token is ``k8s-aws-v1.`` followed by the URL-safe base64 (no padding) of a presigned STS
``GetCallerIdentity`` URL whose signed headers include ``x-k8s-aws-id`` (the cluster name). The
header's value is not in the URL: only the signature binds the token to a cluster, so
``verify_signature`` recomputes it with the cluster name when the secret key is known.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qsl, quote, urlsplit

TOKEN_PREFIX = "k8s-aws-v1."
CLUSTER_ID_HEADER = "x-k8s-aws-id"
MAX_TOKEN_LIFETIME = timedelta(minutes=15)
# A token dated this far in the future is refused: clocks drift, but not by more.
MAX_CLOCK_SKEW = timedelta(minutes=5)
_AMZ_DATE_FORMAT = "%Y%m%dT%H%M%SZ"


class TokenError(ValueError):
    """The bearer token is not a valid EKS token; the message says why."""


@dataclass(frozen=True)
class PresignedCallerIdentity:
    """A decoded, structurally valid presigned ``sts:GetCallerIdentity`` request."""

    url: str
    host: str
    path: str
    query: tuple[tuple[str, str], ...]
    access_key_id: str
    credential_scope: str
    region: str
    signed_at: datetime
    expires_in: timedelta
    signed_headers: tuple[str, ...]
    signature: str
    session_token: str | None

    @property
    def expires_at(self) -> datetime:
        # 15 minutes from X-Amz-Date, whatever X-Amz-Expires says (only its range is checked):
        # aws-iam-authenticator pkg/token Verify, as STS ignores the parameter.
        return self.signed_at + MAX_TOKEN_LIFETIME


def encode_token(url: str) -> str:
    """The token for a presigned URL (the inverse of ``decode_token``'s first step)."""
    return TOKEN_PREFIX + base64.urlsafe_b64encode(url.encode()).decode().rstrip("=")


def decode_token(token: str) -> PresignedCallerIdentity:
    """Parse a ``k8s-aws-v1.`` token; raises ``TokenError`` for anything malformed."""
    if not token.startswith(TOKEN_PREFIX):
        raise TokenError("token does not start with k8s-aws-v1.")
    payload = token[len(TOKEN_PREFIX) :]
    if not payload or "=" in payload:
        raise TokenError("token payload is empty or padded")
    try:
        raw = base64.b64decode(payload + "=" * (-len(payload) % 4), altchars=b"-_", validate=True)
        url = raw.decode("utf-8")
    except (binascii.Error, ValueError) as exc:
        raise TokenError("token payload is not URL-safe base64 of a UTF-8 URL") from exc
    return parse_presigned_url(url)


def parse_presigned_url(url: str) -> PresignedCallerIdentity:
    try:
        parts = urlsplit(url)
    except ValueError as exc:
        raise TokenError("not a URL") from exc
    if parts.scheme != "https" and not (parts.scheme == "http" and _is_loopback(parts.hostname)):
        raise TokenError("presigned URL must use https")
    if not parts.hostname:
        raise TokenError("presigned URL has no host")
    if parts.path not in ("", "/"):
        raise TokenError("presigned URL path must be /")
    query = tuple(parse_qsl(parts.query, keep_blank_values=True, strict_parsing=False))
    params: dict[str, str] = {}
    for key, value in query:
        if key in params:
            raise TokenError(f"query parameter {key} is repeated")
        params[key] = value
    if params.get("Action") != "GetCallerIdentity":
        raise TokenError("presigned URL is not for GetCallerIdentity")
    if params.get("X-Amz-Algorithm") != "AWS4-HMAC-SHA256":
        raise TokenError("unsupported X-Amz-Algorithm")
    for required in (
        "X-Amz-Credential",
        "X-Amz-Date",
        "X-Amz-Expires",
        "X-Amz-SignedHeaders",
        "X-Amz-Signature",
    ):
        if not params.get(required):
            raise TokenError(f"presigned URL lacks {required}")
    credential = params["X-Amz-Credential"].split("/")
    if len(credential) != 5 or credential[3] != "sts" or credential[4] != "aws4_request":
        raise TokenError("X-Amz-Credential is not an STS credential scope")
    access_key_id, day, region = credential[0], credential[1], credential[2]
    if not access_key_id or not region:
        raise TokenError("X-Amz-Credential lacks the access key id or region")
    try:
        signed_at = datetime.strptime(params["X-Amz-Date"], _AMZ_DATE_FORMAT).replace(tzinfo=UTC)
    except ValueError as exc:
        raise TokenError("X-Amz-Date is not yyyymmddThhmmssZ") from exc
    if day != signed_at.strftime("%Y%m%d"):
        raise TokenError("credential scope date does not match X-Amz-Date")
    expires = params["X-Amz-Expires"]
    if not expires.isascii() or not expires.isdigit() or len(expires) > 6:
        raise TokenError("X-Amz-Expires is not a number of seconds")
    expires_in = timedelta(seconds=int(expires))
    if expires_in > MAX_TOKEN_LIFETIME:
        raise TokenError("X-Amz-Expires is longer than 15 minutes")
    signed_headers = tuple(params["X-Amz-SignedHeaders"].split(";"))
    if CLUSTER_ID_HEADER not in signed_headers:
        raise TokenError("x-k8s-aws-id is not a signed header")
    if "host" not in signed_headers:
        raise TokenError("host is not a signed header")
    return PresignedCallerIdentity(
        url=url,
        host=parts.netloc,
        path=parts.path or "/",
        query=query,
        access_key_id=access_key_id,
        credential_scope="/".join(credential[1:]),
        region=region,
        signed_at=signed_at,
        expires_in=expires_in,
        signed_headers=signed_headers,
        signature=params["X-Amz-Signature"],
        session_token=params.get("X-Amz-Security-Token"),
    )


def check_validity(request: PresignedCallerIdentity, *, now: datetime) -> None:
    """Raise ``TokenError`` unless ``now`` lies in the token's validity window."""
    if request.signed_at - MAX_CLOCK_SKEW > now:
        raise TokenError("token is dated in the future")
    if now > request.expires_at:
        raise TokenError("token has expired")


def check_host(request: PresignedCallerIdentity, *, allowed_hosts: frozenset[str]) -> None:
    """aws-iam-authenticator only sends tokens to STS hosts; so do we (plus configured ones)."""
    host = request.host.lower()
    hostname = host.rsplit(":", 1)[0] if not host.endswith("]") else host
    if host in allowed_hosts or _is_sts_hostname(hostname) or _is_loopback(hostname):
        return
    raise TokenError(f"token is presigned for a host that is not STS: {request.host}")


def signature_for(
    request: PresignedCallerIdentity, *, secret_access_key: str, cluster_name: str
) -> str:
    """The SigV4 query signature the request would carry with header x-k8s-aws-id=cluster_name."""
    header_values = {"host": request.host, CLUSTER_ID_HEADER: cluster_name}
    unknown = [h for h in request.signed_headers if h not in header_values]
    if unknown:
        raise TokenError(f"cannot verify signed headers {unknown}")
    canonical_query = "&".join(
        f"{_uri_encode(k)}={_uri_encode(v)}"
        for k, v in sorted(request.query)
        if k != "X-Amz-Signature"
    )
    canonical_headers = "".join(
        f"{name}:{header_values[name].strip()}\n" for name in request.signed_headers
    )
    canonical_request = "\n".join(
        [
            "GET",
            request.path,
            canonical_query,
            canonical_headers,
            ";".join(request.signed_headers),
            hashlib.sha256(b"").hexdigest(),
        ]
    )
    amz_date = request.signed_at.strftime(_AMZ_DATE_FORMAT)
    string_to_sign = "\n".join(
        [
            "AWS4-HMAC-SHA256",
            amz_date,
            request.credential_scope,
            hashlib.sha256(canonical_request.encode()).hexdigest(),
        ]
    )
    key = ("AWS4" + secret_access_key).encode()
    for part in request.credential_scope.split("/"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    return hmac.new(key, string_to_sign.encode(), hashlib.sha256).hexdigest()


def verify_signature(
    request: PresignedCallerIdentity, *, secret_access_key: str, cluster_name: str
) -> bool:
    expected = signature_for(
        request, secret_access_key=secret_access_key, cluster_name=cluster_name
    )
    return hmac.compare_digest(expected, request.signature)


def _uri_encode(value: str) -> str:
    return quote(value, safe="-_.~")


def _is_loopback(hostname: str | None) -> bool:
    return hostname in ("127.0.0.1", "localhost", "::1", "[::1]")


def _is_sts_hostname(hostname: str) -> bool:
    # sts.amazonaws.com, sts.<region>.amazonaws.com(.cn), sts-fips.<region>.amazonaws.com
    labels = hostname.split(".")
    return (
        len(labels) >= 3
        and labels[0] in ("sts", "sts-fips")
        and (hostname.endswith(".amazonaws.com") or hostname.endswith(".amazonaws.com.cn"))
    )


def presign_token(
    *,
    cluster_name: str,
    access_key_id: str,
    secret_access_key: str,
    session_token: str | None = None,
    region: str = "us-east-1",
    host: str | None = None,
    now: datetime,
    expires_in: int = 60,
) -> str:
    """A ``k8s-aws-v1.`` token, signed like botocore's presigned GetCallerIdentity URL."""
    host = host or f"sts.{region}.amazonaws.com"
    scope = f"{now:%Y%m%d}/{region}/sts/aws4_request"
    query = [
        ("Action", "GetCallerIdentity"),
        ("Version", "2011-06-15"),
        ("X-Amz-Algorithm", "AWS4-HMAC-SHA256"),
        ("X-Amz-Credential", f"{access_key_id}/{scope}"),
        ("X-Amz-Date", now.strftime(_AMZ_DATE_FORMAT)),
        ("X-Amz-Expires", str(expires_in)),
        ("X-Amz-SignedHeaders", f"host;{CLUSTER_ID_HEADER}"),
    ]
    if session_token:
        query.append(("X-Amz-Security-Token", session_token))
    unsigned = (
        "https://" + host + "/?" + "&".join(f"{_uri_encode(k)}={_uri_encode(v)}" for k, v in query)
    )
    # Parsing with a placeholder signature gives the canonical pieces the signer needs.
    draft = parse_presigned_url(unsigned + "&X-Amz-Signature=0")
    signature = signature_for(draft, secret_access_key=secret_access_key, cluster_name=cluster_name)
    return encode_token(unsigned + "&X-Amz-Signature=" + signature)
