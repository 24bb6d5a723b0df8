"""Bootstrap settings for a cluster: what the operator gave, completed from DescribeCluster."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace

from winnodes.errors import AwsError, InvalidInputError
from winnodes.ports import ClusterDirectory
from winnodes.userdata import BootstrapSettings, Taint, bootstrap_settings

_FROM_DESCRIBE_CLUSTER = frozenset({"endpoint", "ca", "service-cidr"})


@dataclass(frozen=True)
class UserdataRequest:
    """The operator's choices; endpoint, CA and service CIDR may be left to DescribeCluster."""

    cluster_name: str
    endpoint: str | None = None
    ca_base64: str | None = None
    service_cidr: str | None = None
    dns_cluster_ip: str | None = None
    node_labels: tuple[tuple[str, str], ...] = ()
    taints: tuple[Taint, ...] = field(default=())
    kubelet_extra_args: str | None = None
    kube_proxy_extra_args: str | None = None
    excluded_snat_cidrs: tuple[str, ...] = ()
    pre_bootstrap: str | None = None
    post_bootstrap: str | None = None


def settings_for(
    request: UserdataRequest, clusters: Callable[[], ClusterDirectory]
) -> BootstrapSettings:
    """Validates the request first, so bad input never reaches AWS; asks DescribeCluster only
    when the endpoint and CA were not given (they come as a pair)."""
    given = bootstrap_settings(**vars(request))
    if request.endpoint is not None:
        return given
    connection = clusters().describe_cluster(request.cluster_name)
    completed = replace(
        request,
        endpoint=connection.endpoint,
        ca_base64=connection.ca_base64,
        service_cidr=request.service_cidr or connection.service_cidr,
    )
    try:
        return bootstrap_settings(**vars(completed))
    except InvalidInputError as error:
        if error.field not in _FROM_DESCRIBE_CLUSTER:
            raise
        raise AwsError(
            f"eks:DescribeCluster {request.cluster_name} returned an unusable {error.field}: "
            f"{error.reason}"
        ) from error
