"""DescribeCluster of a cluster that has no API server yet is a clear error, not a connection
that fails later with a TLS or host error.

The local cloud's EKS always serves an endpoint, so the answer is botocore's Stubber's, shaped as
the API reference gives it for a cluster being created: `endpoint` and `certificateAuthority.data`
are filled in once the control plane exists
(https://docs.aws.amazon.com/eks/latest/APIReference/API_Cluster.html)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import boto3
import pytest
from botocore.stub import Stubber

from winnodes.adapters.eks import EksClusters
from winnodes.errors import AwsError

if TYPE_CHECKING:
    from mypy_boto3_eks import EKSClient

CREATING: dict[str, Any] = {
    "name": "prod",
    "arn": "arn:aws:eks:us-east-1:111122223333:cluster/prod",
    "status": "CREATING",
    "version": "1.33",
    "certificateAuthority": {},
    "kubernetesNetworkConfig": {"serviceIpv4Cidr": "172.20.0.0/16", "ipFamily": "ipv4"},
}


@pytest.mark.parametrize(
    "cluster",
    [
        CREATING,
        CREATING | {"endpoint": "https://ABCDEF.gr7.us-east-1.eks.amazonaws.com"},
        CREATING | {"certificateAuthority": {"data": "LS0tLS1CRUdJTg=="}},
    ],
    ids=["neither", "no CA", "no endpoint"],
)
def test_a_cluster_without_its_api_server_yet_is_an_aws_error_naming_its_status(
    cluster: dict[str, Any],
) -> None:
    client: EKSClient = boto3.session.Session().client(
        "eks", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x"
    )
    with Stubber(client) as stub:
        stub.add_response("describe_cluster", {"cluster": cluster}, {"name": "prod"})
        with pytest.raises(AwsError) as raised:
            EksClusters(client).describe_cluster("prod")
    assert str(raised.value) == "EKS cluster 'prod' has no API endpoint or CA yet (status CREATING)"
