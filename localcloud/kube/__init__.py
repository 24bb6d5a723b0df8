"""The Kubernetes half of the local cloud. See localcloud/README.md."""

from localcloud.kube.cluster import DEFAULT_ACCOUNT_ID, DEFAULT_CLUSTER_NAME, KubeCloud
from localcloud.kube.identity import (
    AccessEntrySource,
    AwsCredentials,
    IdentityRegistry,
    IdentitySource,
    InMemoryAccessEntries,
)
from localcloud.kube.kubelet import NodeFleet, NodeState, SimulatedNode, Workloads
from localcloud.kube.mapping import AccessEntry, AccessEntryType, AuthenticationMode
from localcloud.kube.timing import Timing
from localcloud.kube.token import PresignedCallerIdentity, presign_token

__all__ = [
    "DEFAULT_ACCOUNT_ID",
    "DEFAULT_CLUSTER_NAME",
    "AccessEntry",
    "AccessEntrySource",
    "AccessEntryType",
    "AuthenticationMode",
    "AwsCredentials",
    "IdentityRegistry",
    "IdentitySource",
    "InMemoryAccessEntries",
    "KubeCloud",
    "NodeFleet",
    "NodeState",
    "PresignedCallerIdentity",
    "SimulatedNode",
    "Timing",
    "Workloads",
    "presign_token",
]
