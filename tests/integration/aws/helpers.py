"""Helpers for the AWS half's integration tests (fixtures live in conftest.py)."""

from __future__ import annotations

import base64
import contextlib
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, Protocol

if TYPE_CHECKING:
    from mypy_boto3_autoscaling import AutoScalingClient
    from mypy_boto3_ec2 import EC2Client
    from mypy_boto3_eks import EKSClient
    from mypy_boto3_iam import IAMClient
    from mypy_boto3_ssm import SSMClient

from localcloud.aws import AwsCloud

LAUNCH = "autoscaling:EC2_INSTANCE_LAUNCHING"
TERMINATE = "autoscaling:EC2_INSTANCE_TERMINATING"
UNKNOWN = "i-0123456789abcdef0"  # well formed, never launched
OTHER_UNKNOWN = "i-0123456789abcdef1"
# InvalidInstanceID.NotFound messages from which the ids asked for that EC2 does not know
# cannot be told: DescribeInstances and CreateTags take them as errors, not as those ids.
NOT_FOUND_NAMING_NONE_ASKED = (
    f"The instance ID '{OTHER_UNKNOWN}' does not exist",  # another id than those asked for
    "The instance ID does not exist",
    "",
)


@dataclass
class Clients:
    autoscaling: AutoScalingClient
    ec2: EC2Client
    eks: EKSClient
    ssm: SSMClient
    iam: IAMClient
    sqs: Any  # boto3's stubs for SQS are not installed


@contextlib.contextmanager
def ec2_requests(ec2: EC2Client, operation: str, parameter: str) -> Iterator[list[list[str]]]:
    """The list `parameter` of every `operation` request `ec2` sends while open, in order."""
    calls: list[list[str]] = []

    def record(params: dict[str, Any], **_: Any) -> None:
        calls.append(list(params[parameter]))

    event = f"provide-client-params.ec2.{operation}"
    ec2.meta.events.register(event, record)
    try:
        yield calls
    finally:
        ec2.meta.events.unregister(event, record)


def user_data(script: str) -> str:
    return base64.b64encode(script.encode()).decode()


def bootstrap_script(cluster: str, endpoint: str, ca: str) -> str:
    def q(value: str) -> str:
        return "'" + value.replace("'", "''") + "'"

    return (
        "<powershell>\n"
        "[string]$EKSBootstrapScriptFile = "
        '"$env:ProgramFiles\\Amazon\\EKS\\Start-EKSBootstrap.ps1"\n'
        f"& $EKSBootstrapScriptFile -EKSClusterName {q(cluster)} -APIServerEndpoint {q(endpoint)} "
        f"-Base64ClusterCA {q(ca)} 3>&1 4>&1 5>&1 6>&1\n"
        "</powershell>\n"
    )


@dataclass
class Group:
    name: str
    template_id: str


class MakeGroup(Protocol):
    """The ``make_group`` fixture: a Windows node group on its own launch template."""

    def __call__(
        self,
        *,
        desired: int,
        hooks: tuple[str, ...] = ...,
        heartbeat: int = 600,
        default_result: str = "ABANDON",
        script: str | None = None,
        max_size: int = 10,
        profile_arn: str | None = None,
        name: str | None = None,
    ) -> Group: ...


def _members(
    clients: Clients, group: str, field: Literal["LifecycleState", "HealthStatus"]
) -> dict[str, str]:
    """Instance id → one field of each instance, as DescribeAutoScalingGroups shows them."""
    found = clients.autoscaling.describe_auto_scaling_groups(AutoScalingGroupNames=[group])
    return {i["InstanceId"]: i[field] for i in found["AutoScalingGroups"][0]["Instances"]}


def instances(clients: Clients, group: str) -> dict[str, str]:
    """Instance id → LifecycleState."""
    return _members(clients, group, "LifecycleState")


def health(clients: Clients, group: str) -> dict[str, str]:
    """Instance id → HealthStatus."""
    return _members(clients, group, "HealthStatus")


def in_state(clients: Clients, group: str, state: str) -> list[str]:
    return sorted(i for i, s in instances(clients, group).items() if s == state)


class Recorder:
    """An in-process event-bus target collecting lifecycle events for one group."""

    def __init__(self, aws: AwsCloud, group: str) -> None:
        self.events: list[dict[str, Any]] = []
        self.contexts: list[Any] = []
        self._lock = threading.Lock()
        assert aws.events is not None
        aws.events.put_rule(
            f"rec-{group}",
            event_pattern={
                "source": ["aws.autoscaling"],
                "detail-type": [{"prefix": "EC2 Instance-"}],
                "detail": {"AutoScalingGroupName": [group]},
            },
        )
        aws.events.put_target(f"rec-{group}", self, target_id=f"recorder-{group}")

    def __call__(self, event: dict[str, Any], context: Any) -> None:
        with self._lock:
            self.events.append(event)
            self.contexts.append(context)

    def of(self, detail_type: str) -> list[dict[str, Any]]:
        with self._lock:
            return [e for e in self.events if e["detail-type"] == detail_type]
