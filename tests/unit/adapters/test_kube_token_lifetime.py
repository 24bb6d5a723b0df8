"""An EKS token's URL says X-Amz-Expires=60, as aws-iam-authenticator and `aws eks get-token`
write it (authenticators 0.3.0 and older refuse more than 60). STS ignores it: the token lasts
15 minutes from its X-Amz-Date, and the cache reuses it until a minute before then."""

from __future__ import annotations

import base64
from typing import TYPE_CHECKING, Any, cast
from urllib.parse import parse_qsl, urlsplit

import botocore.session

from winnodes.adapters.kube.token import TOKEN_PREFIX, CachedToken, eks_token

if TYPE_CHECKING:
    from mypy_boto3_sts import STSClient


def sts_client() -> STSClient:
    session = botocore.session.Session()
    session.set_credentials("AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG")
    return cast("STSClient", session.create_client("sts", region_name="us-east-1"))


def query(token: str) -> dict[str, str]:
    encoded = token.removeprefix(TOKEN_PREFIX)
    url = base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4)).decode("utf-8")
    return dict(parse_qsl(urlsplit(url).query))


def test_the_token_url_says_60_seconds_as_the_reference_generators_write_it() -> None:
    assert query(eks_token(sts_client(), "prod"))["X-Amz-Expires"] == "60"


def test_a_cached_token_is_reused_until_a_minute_before_15_minutes_from_signing() -> None:
    sts = sts_client()
    signed: list[str] = []

    def count(**_: Any) -> None:
        signed.append("presign")

    sts.meta.events.register("before-sign.sts.GetCallerIdentity", count)
    clock = [1000.0]
    token = CachedToken(sts, "prod", wall_clock=lambda: clock[0])
    first = token()
    clock[0] += 14 * 60 - 1
    assert token() == first
    assert len(signed) == 1
    clock[0] += 1  # 14 minutes after signing: one minute before the API server refuses it
    token()
    assert len(signed) == 2
