"""Helpers for the AWS half's integration tests (fixtures live in conftest.py)."""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import Any

LAUNCH = "autoscaling:EC2_INSTANCE_LAUNCHING"
TERMINATE = "autoscaling:EC2_INSTANCE_TERMINATING"


@dataclass
class Clients:
    autoscaling: Any
    ec2: Any
    eks: Any
    ssm: Any
    iam: Any
    sqs: Any


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


def _members(clients: Clients, group: str, field: str) -> dict[str, str]:
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
