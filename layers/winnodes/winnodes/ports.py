"""What services need from the outside world, as Protocols the adapters implement."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class ClusterConnection:
    """How nodes reach a cluster, as eks:DescribeCluster reports it."""

    name: str
    endpoint: str
    ca_base64: str
    service_cidr: str | None
    kubernetes_version: str | None = None


class ClusterDirectory(Protocol):
    def describe_cluster(self, name: str) -> ClusterConnection:
        """Raises ClusterNotFoundError, AwsCredentialsError or AwsError."""
        ...
