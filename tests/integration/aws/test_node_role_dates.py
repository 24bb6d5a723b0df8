"""The dates the join compares to tell an access entry made for an earlier role of the same ARN:
the role's CreateDate through GetInstanceProfile, the entry's createdAt through
DescribeAccessEntry, as the adapters read them over HTTP."""

from __future__ import annotations

import secrets

import pytest

from localcloud.aws import AwsCloud
from tests.integration.aws.helpers import Clients
from winnodes.adapters.ec2 import Ec2Instances
from winnodes.adapters.eks import EksAccessEntries

pytestmark = pytest.mark.integration


def test_an_entry_made_for_the_role_as_it_is_is_not_taken_for_an_earlier_ones(
    aws: AwsCloud, clients: Clients
) -> None:
    role_arn, profile_arn = aws.create_node_role(f"win-{secrets.token_hex(3)}", path="/nodes/")
    clients.eks.create_access_entry(
        clusterName=aws.cluster_name, principalArn=role_arn, type="EC2_WINDOWS"
    )

    role = Ec2Instances(clients.ec2, clients.iam).role_of_instance_profile(profile_arn)
    entry = EksAccessEntries(clients.eks).entry(aws.cluster_name, role_arn)

    assert role is not None and entry is not None
    assert role.arn == role_arn
    assert entry.type == "EC2_WINDOWS"
    assert role.created_at is not None and role.created_at.tzinfo is not None
    assert entry.created_at is not None and entry.created_at.tzinfo is not None
    assert entry.created_at >= role.created_at  # made after its role: never taken for stale
    assert EksAccessEntries(clients.eks).entry(aws.cluster_name, role_arn + "x") is None
