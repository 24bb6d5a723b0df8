"""Composition root: builds adapters from configuration. Entry points (CLI, Lambda handlers)
call these; nothing else constructs boto3 or Kubernetes clients."""

from __future__ import annotations

from winnodes.adapters.aws import aws_session, eks_client
from winnodes.adapters.eks import EksClusters
from winnodes.ports import ClusterDirectory


def cluster_directory(region: str | None = None) -> ClusterDirectory:
    return EksClusters(eks_client(aws_session(region)))
