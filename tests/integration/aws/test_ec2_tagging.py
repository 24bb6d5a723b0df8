"""Ec2Instances.tag_instances against EC2 over HTTP: many instances per CreateTags call, and an
instance EC2 does not know does not cost the others their tags."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from localcloud.aws import AwsCloud
from tests.integration.aws.helpers import Clients, Group, ec2_requests, instances
from winnodes.adapters.ec2 import Ec2Instances

TAGS = {"kubernetes.io/cluster/prod": "owned", "team": "windows"}
UNKNOWN = "i-0123456789abcdef0"  # well formed, never launched


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
    # The whole batch is refused once, then each instance is tagged on its own.
    assert create_tags_calls == [
        [ids[0], UNKNOWN, *ids[1:]],
        [ids[0]],
        [UNKNOWN],
        *[[i] for i in ids[1:]],
    ]
    for tags in tags_of(clients, ids).values():
        assert tags.items() >= TAGS.items()


def test_a_single_unknown_instance_is_reported_untagged_not_raised(
    aws: AwsCloud, clients: Clients, create_tags_calls: list[list[str]]
) -> None:
    compute = Ec2Instances(clients.ec2, clients.iam)

    assert compute.tag_instances([UNKNOWN], TAGS) == []
    assert create_tags_calls == [[UNKNOWN]]
