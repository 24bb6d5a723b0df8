"""EKS token decoding, validation and SigV4 checking (localcloud/kube/token.py)."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, TypedDict, Unpack, cast
from urllib.parse import parse_qsl, urlencode, urlsplit

import botocore.session
import pytest
from hypothesis import given
from hypothesis import strategies as st

from localcloud.kube.token import (
    TokenError,
    check_host,
    check_validity,
    decode_token,
    encode_token,
    presign_token,
    verify_signature,
)

if TYPE_CHECKING:
    from mypy_boto3_sts import STSClient

NOW = datetime(2026, 11, 24, 12, 0, 0, tzinfo=UTC)
cluster_names = st.from_regex(r"\A[0-9A-Za-z][A-Za-z0-9\-_]{0,99}\Z")
key_ids = st.from_regex(r"\A(AKIA|ASIA)[A-Z0-9]{16}\Z")
secrets_ = st.text(st.characters(min_codepoint=33, max_codepoint=126), min_size=1, max_size=40)
regions = st.sampled_from(["us-east-1", "eu-west-1", "ap-southeast-2", "us-gov-west-1"])


class _Overrides(TypedDict, total=False):
    host: str | None
    expires_in: int


def _token(**overrides: Unpack[_Overrides]) -> str:
    return presign_token(
        cluster_name="prod",
        access_key_id="AKIAEXAMPLE000000000",
        secret_access_key="s3cret",
        now=NOW,
        **overrides,
    )


def _with_query(token: str, **changes: str | None) -> str:
    url = decode_token(token).url
    parts = urlsplit(url)
    query = dict(parse_qsl(parts.query))
    for key, value in changes.items():
        if value is None:
            query.pop(key, None)
        else:
            query[key] = value
    return encode_token(parts._replace(query=urlencode(query)).geturl())


def test_a_botocore_presigned_url_verifies_for_its_cluster_only() -> None:
    session = botocore.session.get_session()
    session.set_credentials("AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG", "FwoGZX+/=")
    # botocore's own session types its clients BaseClient, without the STS operations.
    sts = cast(
        "STSClient",
        session.create_client(
            "sts", region_name="eu-west-1", endpoint_url="https://sts.eu-west-1.amazonaws.com"
        ),
    )
    sts.meta.events.register(
        "before-sign.sts.GetCallerIdentity",
        lambda request, **_: request.headers.__setitem__("x-k8s-aws-id", "prod"),
    )
    url = sts.generate_presigned_url(
        "get_caller_identity", Params={}, ExpiresIn=60, HttpMethod="GET"
    )

    request = decode_token(encode_token(url))

    assert request.access_key_id == "AKIAIOSFODNN7EXAMPLE"
    assert request.region == "eu-west-1"
    assert request.session_token == "FwoGZX+/="
    assert verify_signature(request, secret_access_key="wJalrXUtnFEMI/K7MDENG", cluster_name="prod")
    assert not verify_signature(
        request, secret_access_key="wJalrXUtnFEMI/K7MDENG", cluster_name="staging"
    )
    assert not verify_signature(request, secret_access_key="other", cluster_name="prod")


@given(
    cluster=cluster_names,
    other=cluster_names,
    key_id=key_ids,
    secret=secrets_,
    region=regions,
    token=st.none() | st.text(min_size=1, max_size=50),
)
def test_presigned_tokens_round_trip_and_bind_the_cluster(
    cluster: str, other: str, key_id: str, secret: str, region: str, token: str | None
) -> None:
    encoded = presign_token(
        cluster_name=cluster,
        access_key_id=key_id,
        secret_access_key=secret,
        session_token=token,
        region=region,
        now=NOW,
    )

    request = decode_token(encoded)

    assert encoded.startswith("k8s-aws-v1.") and "=" not in encoded
    assert (request.access_key_id, request.region, request.signed_at) == (key_id, region, NOW)
    assert request.session_token == token
    assert verify_signature(request, secret_access_key=secret, cluster_name=cluster)
    assert verify_signature(request, secret_access_key=secret, cluster_name=other) is (
        other == cluster
    )


@given(st.text(max_size=300))
def test_arbitrary_text_is_refused_with_a_token_error(text: str) -> None:
    with pytest.raises(TokenError):
        decode_token(text)


@given(st.binary(max_size=400))
def test_arbitrary_payloads_are_refused_with_a_token_error(payload: bytes) -> None:
    token = "k8s-aws-v1." + base64.urlsafe_b64encode(payload).decode().rstrip("=")
    with pytest.raises(TokenError):
        decode_token(token)


@given(
    st.text(st.characters(codec="ascii"), max_size=60),
    st.sampled_from(
        ["Action", "X-Amz-Date", "X-Amz-Expires", "X-Amz-Credential", "X-Amz-SignedHeaders"]
    ),
)
def test_a_mangled_parameter_is_refused_or_still_parses(value: str, parameter: str) -> None:
    token = _with_query(_token(), **{parameter: value})
    try:
        request = decode_token(token)
    except TokenError:
        return
    # Whatever still parses cannot verify any more unless the value was left as it was.
    original = dict(decode_token(_token()).query)
    assert verify_signature(request, secret_access_key="s3cret", cluster_name="prod") is (
        original[parameter] == value
    )


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"Action": "AssumeRole"}, "GetCallerIdentity"),
        ({"X-Amz-SignedHeaders": "host"}, "x-k8s-aws-id"),
        ({"X-Amz-Expires": "901"}, "15 minutes"),
        ({"X-Amz-Expires": "-1"}, "number"),
        ({"X-Amz-Date": "20261125T120000Z"}, "date"),
        ({"X-Amz-Signature": None}, "X-Amz-Signature"),
        ({"X-Amz-Algorithm": "AWS4-HMAC-SHA1"}, "X-Amz-Algorithm"),
        ({"X-Amz-Credential": "AKIA/20261124/us-east-1/s3/aws4_request"}, "STS"),
    ],
)
def test_structurally_invalid_tokens_are_refused(
    change: dict[str, str | None], reason: str
) -> None:
    with pytest.raises(TokenError, match=reason):
        decode_token(_with_query(_token(), **change))


@pytest.mark.parametrize(
    "token",
    [
        "k8s-aws-v2." + encode_token("https://sts.amazonaws.com/").removeprefix("k8s-aws-v1."),
        "k8s-aws-v1.",
        "k8s-aws-v1.aGk=",
        encode_token("http://sts.amazonaws.com/?Action=GetCallerIdentity"),
        encode_token("https://sts.amazonaws.com/evil?Action=GetCallerIdentity"),
        encode_token(
            "https://sts.amazonaws.com/?Action=GetCallerIdentity&Action=GetCallerIdentity"
        ),
    ],
)
def test_malformed_tokens_are_refused(token: str) -> None:
    with pytest.raises(TokenError):
        decode_token(token)


def test_a_token_is_valid_for_15_minutes_from_its_date_whatever_it_says() -> None:
    # X-Amz-Expires 60, as the reference generators send it: ignored, as by the authenticator.
    request = decode_token(_token(expires_in=60))

    check_validity(request, now=NOW)
    check_validity(request, now=NOW + timedelta(minutes=15))
    check_validity(request, now=NOW - timedelta(minutes=4))
    with pytest.raises(TokenError, match="expired"):
        check_validity(request, now=NOW + timedelta(minutes=15, seconds=1))
    with pytest.raises(TokenError, match="future"):
        check_validity(request, now=NOW - timedelta(minutes=6))


@pytest.mark.parametrize(
    ("host", "allowed"),
    [
        ("sts.amazonaws.com", True),
        ("sts.eu-west-1.amazonaws.com", True),
        ("sts-fips.us-east-1.amazonaws.com", True),
        ("sts.cn-north-1.amazonaws.com.cn", True),
        ("127.0.0.1:5000", True),
        ("sts.amazonaws.com.evil.example", False),
        ("evil.example", False),
        ("ec2.us-east-1.amazonaws.com", False),
    ],
)
def test_only_sts_and_local_hosts_are_trusted(host: str, allowed: bool) -> None:
    request = decode_token(_token(host=host))
    if allowed:
        check_host(request, allowed_hosts=frozenset())
    else:
        with pytest.raises(TokenError, match="not STS"):
            check_host(request, allowed_hosts=frozenset())
        check_host(request, allowed_hosts=frozenset({host}))
