"""Identifiers are valid by construction and round-trip through their text form."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import BaseModel, ValidationError

from winnodes.errors import InvalidInputError
from winnodes.models.identifiers import ClusterName, InstanceId, ProviderId, RoleArn

CLUSTER_NAMES = st.from_regex(r"\A[0-9A-Za-z][A-Za-z0-9\-_]{0,99}\Z")
INSTANCE_IDS = st.from_regex(r"\Ai-([0-9a-f]{8}|[0-9a-f]{17})\Z")
ROLE_NAMES = st.from_regex(r"\A[\w+=,.@-]{1,64}\Z", alphabet=st.characters(codec="ascii"))
ACCOUNTS = st.from_regex(r"\A[0-9]{12}\Z")
# IAM paths hold any printable ASCII (API_CreateRole): `#`, `:`, `*` and the like included.
PATHS = st.lists(st.from_regex(r"\A[\x21-\x2e\x30-\x7e]{1,12}\Z"), max_size=3).map(
    lambda parts: "".join(f"{p}/" for p in parts)
)


@given(CLUSTER_NAMES)
def test_valid_cluster_names_are_kept_verbatim_and_used_as_text(name: str) -> None:
    cluster = ClusterName(name)
    assert cluster == name
    # Passed as is to boto3 and into f-strings and JSON: it must behave as the plain text.
    assert f"cluster/{cluster}" == f"cluster/{name}"
    assert json.dumps({"name": cluster}) == json.dumps({"name": name})


@pytest.mark.parametrize("name", ["a", "0", "prod-win_2", "A" * 100])
def test_cluster_names_within_the_eks_rule_are_accepted(name: str) -> None:
    assert ClusterName(name) == name


@pytest.mark.parametrize(
    "name", ["", "-lead", "_lead", "has space", "dot.ted", "é", "a" * 101, "prod\n"]
)
def test_cluster_names_outside_the_eks_rule_are_refused(name: str) -> None:
    with pytest.raises(InvalidInputError) as raised:
        ClusterName(name)
    assert raised.value.field == "cluster-name"


@given(INSTANCE_IDS)
def test_instance_ids(value: str) -> None:
    assert InstanceId(value) == value


@pytest.mark.parametrize(
    "value",
    ["", "i-", "i-123", "i-0123456789ABCDEF0", "x-01234567", "i-0123456789abcdef01", " i-01234567"],
)
def test_bad_instance_ids_are_refused(value: str) -> None:
    with pytest.raises(InvalidInputError) as raised:
        InstanceId(value)
    assert raised.value.field == "instance-id"


# An instance id is `i-` and 8 (older) or 17 (since 2016) lowercase hex digits, nothing between:
# https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/resource-ids.html and
# https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_Instance.html (InstanceId).
@given(st.integers(0, 19), st.data())
def test_an_instance_id_is_accepted_with_exactly_8_or_17_hex_digits(
    digits: int, data: st.DataObject
) -> None:
    hex_digits = data.draw(st.text(alphabet="0123456789abcdef", min_size=digits, max_size=digits))
    value = f"i-{hex_digits}"
    if digits in (8, 17):
        assert InstanceId(value) == value
        return
    with pytest.raises(InvalidInputError) as raised:
        InstanceId(value)
    assert raised.value.field == "instance-id"
    if digits > 17:
        assert raised.value.reason == "at most 19 characters"
    else:
        assert raised.value.reason == f"{value!r} does not match i-<8 or 17 lowercase hex digits>"


@pytest.mark.parametrize(
    "value",
    [
        "i-0123456",
        "i-012345678",
        "i-0123456789abcdef",
        "i-0123456789ABCDEF0",
        "i-ABCDEF01",
        "i-0123456g",
    ],
)
def test_an_instance_id_next_to_the_aws_shapes_is_refused_naming_the_rule(value: str) -> None:
    with pytest.raises(InvalidInputError) as raised:
        InstanceId(value)
    assert (raised.value.field, raised.value.reason) == (
        "instance-id",
        f"{value!r} does not match i-<8 or 17 lowercase hex digits>",
    )


@pytest.mark.parametrize("value", ["i-01234567", "i-0123456789abcdef0", "i-ffffffff"])
def test_an_instance_id_of_either_aws_shape_is_kept(value: str) -> None:
    assert InstanceId(value) == value


def test_an_instance_id_longer_than_19_characters_is_refused_before_the_pattern() -> None:
    with pytest.raises(InvalidInputError) as raised:
        InstanceId("i-0123456789abcdef01")
    assert (raised.value.field, raised.value.reason) == ("instance-id", "at most 19 characters")


def test_a_provider_id_with_a_9_digit_instance_id_is_refused_naming_the_instance_id() -> None:
    with pytest.raises(InvalidInputError) as raised:
        ProviderId.parse("aws:///us-east-1a/i-012345678")
    assert raised.value.field == "instance-id"


def test_identifiers_validate_inside_pydantic_models() -> None:
    class Holder(BaseModel):
        cluster: ClusterName

    assert type(Holder(cluster="prod").cluster) is ClusterName
    with pytest.raises(ValidationError, match="does not match"):
        Holder(cluster="-bad")


def test_role_arn_path_is_stripped() -> None:
    arn = RoleArn.parse("arn:aws:iam::111122223333:role/path/to/NodeRole")
    assert str(arn) == "arn:aws:iam::111122223333:role/NodeRole"
    assert (arn.partition, arn.account, arn.name) == ("aws", "111122223333", "NodeRole")


def test_sso_role_with_service_path_is_stripped() -> None:
    arn = RoleArn.parse(
        "arn:aws:iam::111122223333:role/aws-reserved/sso.amazonaws.com/eu-west-1/AWSReservedSSO_Admin_1"
    )
    assert str(arn) == "arn:aws:iam::111122223333:role/AWSReservedSSO_Admin_1"


def test_assumed_role_becomes_the_role() -> None:
    arn = RoleArn.parse("arn:aws:sts::111122223333:assumed-role/NodeRole/i-0a1b2c3d4e5f60718")
    assert str(arn) == "arn:aws:iam::111122223333:role/NodeRole"


def test_other_partitions_are_kept() -> None:
    assert str(RoleArn.parse("arn:aws-cn:iam::111122223333:role/x/NodeRole")) == (
        "arn:aws-cn:iam::111122223333:role/NodeRole"
    )
    assert RoleArn.parse("arn:aws-us-gov:iam::111122223333:role/N").partition == "aws-us-gov"


@pytest.mark.parametrize(
    "value",
    [
        "",
        "NodeRole",
        "arn:aws:iam::111122223333:user/alice",
        "arn:aws:iam::11112222333:role/N",
        "arn:aws:iam::111122223333:role/",
        "arn:aws:iam::111122223333:role/path/",
        "arn:aws:sts::111122223333:assumed-role/NodeRole",
        "arn:aws:iam::111122223333:role/a b",
        "arn:aws:iam::111122223333:role/a b/NodeRole",
        "arn:aws:iam::111122223333:role/Nöde",
        "arn:aws:iam::111122223333:role/" + "n" * 65,
    ],
)
def test_non_role_arns_are_refused(value: str) -> None:
    with pytest.raises(InvalidInputError) as raised:
        RoleArn.parse(value)
    assert raised.value.field == "role-arn"


@given(account=ACCOUNTS, path=PATHS, name=ROLE_NAMES)
def test_role_arn_normal_form_is_a_fixed_point(account: str, path: str, name: str) -> None:
    arn = RoleArn.parse(f"arn:aws:iam::{account}:role/{path}{name}")
    assert arn.name == name
    assert RoleArn.parse(str(arn)) == arn


@given(account=ACCOUNTS, path=PATHS, name=ROLE_NAMES)
def test_principal_arn_is_the_arn_as_given(account: str, path: str, name: str) -> None:
    given_arn = f"arn:aws:iam::{account}:role/{path}{name}"
    arn = RoleArn.parse(given_arn)
    assert arn.principal_arn == given_arn
    assert RoleArn.parse(arn.principal_arn).path == arn.path


@given(account=ACCOUNTS, name=ROLE_NAMES)
def test_same_role_ignores_case_of_the_name_only(account: str, name: str) -> None:
    arn = RoleArn.parse(f"arn:aws:iam::{account}:role/{name}")
    assert arn.same_role(RoleArn.parse(f"arn:aws:iam::{account}:role/p/{name.swapcase()}"))
    other_account = f"{(int(account[0]) + 1) % 10}{account[1:]}"
    assert not arn.same_role(RoleArn.parse(f"arn:aws:iam::{other_account}:role/{name}"))
    assert not arn.same_role(RoleArn.parse(f"arn:aws-cn:iam::{account}:role/{name}"))


@given(zone=st.from_regex(r"\A[a-z]{2}-[a-z]+-[0-9][a-z]\Z"), instance=INSTANCE_IDS)
def test_provider_id_round_trips(zone: str, instance: str) -> None:
    text = f"aws:///{zone}/{instance}"
    parsed = ProviderId.parse(text)
    assert (parsed.availability_zone, parsed.instance_id) == (zone, instance)
    assert str(parsed) == text


def test_provider_id_with_empty_zone_is_accepted() -> None:
    assert ProviderId.parse("aws:////i-0123456789abcdef0").instance_id == "i-0123456789abcdef0"


@pytest.mark.parametrize(
    "value",
    [
        "",
        "i-0123456789abcdef0",
        "aws://us-east-1a/i-01234567",
        "aws:///us-east-1a/",
        "gce:///us-east-1a/i-01234567",
        "aws:///us-east-1a/i-0123",
    ],
)
def test_bad_provider_ids_are_refused(value: str) -> None:
    with pytest.raises(InvalidInputError) as raised:
        ProviderId.parse(value)
    assert raised.value.field in {"provider-id", "instance-id"}


def test_role_arn_keeps_its_path_for_access_entries() -> None:
    arn = RoleArn.parse("arn:aws:iam::111122223333:role/eks/windows/NodeRole")
    assert arn.principal_arn == "arn:aws:iam::111122223333:role/eks/windows/NodeRole"
    assert RoleArn.parse("arn:aws:iam::111122223333:role/NodeRole").principal_arn == (
        "arn:aws:iam::111122223333:role/NodeRole"
    )
    # The same role whatever path an ARN names it with: names are unique in an account.
    assert arn == RoleArn.parse("arn:aws:iam::111122223333:role/NodeRole")
