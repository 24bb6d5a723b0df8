"""Ec2Instances.tag_instances against EC2 over HTTP: many instances per CreateTags call, and an
instance EC2 does not know costs the others neither their tags nor a call each."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from botocore.stub import Stubber

from localcloud.aws import AwsCloud
from tests.integration.aws.helpers import (
    NOT_FOUND_NAMING_NONE_ASKED,
    UNKNOWN,
    Clients,
    Group,
    ec2_requests,
    instances,
)
from winnodes.adapters.ec2 import Ec2Instances
from winnodes.errors import AwsError

TAGS = {"kubernetes.io/cluster/prod": "owned", "team": "windows"}


@pytest.fixture
def create_tags_calls(clients: Clients) -> Iterator[list[list[str]]]:
    """The Resources of every CreateTags request the test's EC2 client sends."""
    with ec2_requests(clients.ec2, "CreateTags", "Resources") as calls:
        yield calls


def tags_of(clients: Clients, instance_ids: list[str]) -> dict[str, dict[str, str]]:
    found = clients.ec2.describe_instances(InstanceIds=instance_ids)["Reservations"]
    return {
        raw["InstanceId"]: {t["Key"]: t["Value"] for t in raw.get("Tags", [])}
        for reservation in found
        for raw in reservation["Instances"]
    }


def test_instances_are_tagged_in_batches(
    aws: AwsCloud,
    clients: Clients,
    make_group: Callable[..., Group],
    create_tags_calls: list[list[str]],
) -> None:
    ids = sorted(instances(clients, make_group(desired=5, hooks=()).name))
    compute = Ec2Instances(clients.ec2, clients.iam, tag_batch=2)

    tagged = compute.tag_instances(ids, TAGS)

    assert tagged == ids
    assert create_tags_calls == [ids[0:2], ids[2:4], ids[4:5]]
    for tags in tags_of(clients, ids).values():
        assert tags.items() >= TAGS.items()


def test_an_unknown_instance_is_left_out_and_the_rest_of_its_batch_still_tagged(
    aws: AwsCloud,
    clients: Clients,
    make_group: Callable[..., Group],
    create_tags_calls: list[list[str]],
) -> None:
    ids = sorted(instances(clients, make_group(desired=3, hooks=()).name))
    compute = Ec2Instances(clients.ec2, clients.iam)

    tagged = compute.tag_instances([ids[0], UNKNOWN, *ids[1:]], TAGS)

    assert tagged == ids
    # The whole batch is refused once, naming the unknown id; the rest go in one more call,
    # not one each (a large scale-out would cost as many calls as instances).
    assert create_tags_calls == [[ids[0], UNKNOWN, *ids[1:]], ids]
    for tags in tags_of(clients, ids).values():
        assert tags.items() >= TAGS.items()


def test_a_single_unknown_instance_is_reported_untagged_not_raised(
    aws: AwsCloud, clients: Clients, create_tags_calls: list[list[str]]
) -> None:
    compute = Ec2Instances(clients.ec2, clients.iam)

    assert compute.tag_instances([UNKNOWN], TAGS) == []
    assert create_tags_calls == [[UNKNOWN]]


# moto names one unknown id per CreateTags answer (AWS names them all) and fails CreateTags no
# other way: these answers are stubbed on a client of the same cloud (botocore's Stubber answers
# before anything is sent).


@pytest.fixture
def stubbed(aws: AwsCloud) -> Iterator[tuple[Stubber, Ec2Instances]]:
    ec2 = aws.client("ec2")
    with Stubber(ec2) as stubber:
        yield stubber, Ec2Instances(ec2, aws.client("iam"))
        stubber.assert_no_pending_responses()


def expect_create_tags(stubber: Stubber, asked: list[str], *, refused: str | None = None) -> None:
    params = {"Resources": asked, "Tags": [{"Key": k, "Value": v} for k, v in TAGS.items()]}
    if refused is None:
        stubber.add_response("create_tags", {}, expected_params=params)
    else:
        stubber.add_client_error(
            "create_tags",
            service_error_code="InvalidInstanceID.NotFound",
            service_message=refused,
            http_status_code=400,
            expected_params=params,
        )


def test_a_full_batch_with_unknown_ids_costs_one_call_more_not_one_per_instance(
    stubbed: tuple[Stubber, Ec2Instances],
) -> None:
    stubber, compute = stubbed
    ids = [f"i-{n:017x}" for n in range(200)]
    unknown = [ids[17], ids[150]]
    expect_create_tags(
        stubber, ids, refused=f"The instance IDs '{unknown[0]}, {unknown[1]}' do not exist"
    )
    visible = [i for i in ids if i not in unknown]
    expect_create_tags(stubber, visible)

    assert compute.tag_instances(ids, TAGS) == visible


@pytest.mark.parametrize("message", NOT_FOUND_NAMING_NONE_ASKED)
def test_a_not_found_naming_none_of_the_ids_is_an_error(
    stubbed: tuple[Stubber, Ec2Instances], message: str
) -> None:
    # Which id it meant cannot be told: guessing would cost a call per instance.
    stubber, compute = stubbed
    expect_create_tags(stubber, [UNKNOWN, "i-0aaaaaaaaaaaaaaaa"], refused=message)

    with pytest.raises(AwsError, match=r"CreateTags .* failed"):
        compute.tag_instances([UNKNOWN, "i-0aaaaaaaaaaaaaaaa"], TAGS)
