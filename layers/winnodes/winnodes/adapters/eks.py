"""Amazon EKS control-plane API."""

from __future__ import annotations

from typing import TYPE_CHECKING

import botocore.exceptions

from winnodes.adapters.aws import aws_call, error_code
from winnodes.errors import AwsError, ClusterNotFoundError
from winnodes.ports import AccessEntry, ClusterConnection

if TYPE_CHECKING:
    from mypy_boto3_eks import EKSClient


class EksClusters:
    """ClusterDirectory over eks:DescribeCluster."""

    def __init__(self, client: EKSClient) -> None:
        self._client = client

    def describe_cluster(self, name: str) -> ClusterConnection:
        region = self._client.meta.region_name
        description = f"eks:DescribeCluster {name} failed"
        try:
            response = aws_call(description, lambda: self._client.describe_cluster(name=name))
        except botocore.exceptions.ClientError as error:
            if error_code(error) == "ResourceNotFoundException":
                raise ClusterNotFoundError(name, region) from error
            raise AwsError(f"{description}: {error}") from error
        cluster = response["cluster"]
        endpoint = cluster.get("endpoint") or ""
        ca_base64 = (cluster.get("certificateAuthority") or {}).get("data") or ""
        if not endpoint or not ca_base64:
            # A cluster still CREATING (or FAILED) has neither yet: say so, rather than leave a
            # TLS or host error to the first request.
            raise AwsError(
                f"EKS cluster {name!r} has no API endpoint or CA yet "
                f"(status {cluster.get('status', 'unknown')})"
            )
        network = cluster.get("kubernetesNetworkConfig", {})
        service_cidr = network.get("serviceIpv4Cidr") or network.get("serviceIpv6Cidr")
        return ClusterConnection(
            name=name,
            endpoint=endpoint,
            ca_base64=ca_base64,
            service_cidr=service_cidr,
            kubernetes_version=cluster.get("version"),
            # Clusters created before access entries existed report no accessConfig.
            authentication_mode=cluster.get("accessConfig", {}).get(
                "authenticationMode", "CONFIG_MAP"
            ),
            arn=cluster.get("arn"),
        )


class EksAccessEntries:
    """AccessEntries over eks:CreateAccessEntry."""

    def __init__(self, client: EKSClient) -> None:
        self._client = client

    def entry(self, cluster: str, principal_arn: str) -> AccessEntry | None:
        try:
            response = aws_call(
                "DescribeAccessEntry",
                lambda: self._client.describe_access_entry(
                    clusterName=cluster, principalArn=principal_arn
                ),
            )
        except botocore.exceptions.ClientError as error:
            if error_code(error) == "ResourceNotFoundException":
                return None
            raise AwsError(f"eks:DescribeAccessEntry {principal_arn} failed: {error}") from error
        entry = response["accessEntry"]
        return AccessEntry(entry.get("type", "STANDARD"), entry.get("createdAt"))

    def ensure_windows_node_entry(self, cluster: str, role_arn: str) -> bool:
        # EC2_WINDOWS entries take no username, groups or policies: EKS fills in
        # system:node:{{EC2PrivateDNSName}} and the node groups itself (EKS user guide,
        # creating-access-entries.html).
        try:
            aws_call(
                "CreateAccessEntry",
                lambda: self._client.create_access_entry(
                    clusterName=cluster, principalArn=role_arn, type="EC2_WINDOWS"
                ),
            )
        except botocore.exceptions.ClientError as error:
            if error_code(error) == "ResourceInUseException":
                return False  # one entry per principal: it is there already
            raise AwsError(f"eks:CreateAccessEntry {role_arn} failed: {error}") from error
        return True
