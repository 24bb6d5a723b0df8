"""Both halves together: an instance launched by the group boots, reads its user data and joins
the real kube-apiserver with its instance role's token, only when an EC2_WINDOWS access entry
maps the role and the user data names this cluster, endpoint and CA."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

from localcloud.aws import AwsCloud
from localcloud.cloud import LocalCloud
from localcloud.kube import NodeState, Timing
from tests.helpers.waiting import wait_for
from tests.integration.aws.helpers import LAUNCH, Clients, MakeGroup, bootstrap_script, in_state

if TYPE_CHECKING:
    from tests.integration.aws.conftest import SimTime

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def local() -> Iterator[LocalCloud]:
    with LocalCloud(timing=Timing.fast(), with_aws=True) as cloud:
        yield cloud


@pytest.fixture(scope="module")
def aws(local: LocalCloud) -> AwsCloud:
    assert isinstance(local.aws, AwsCloud)
    return local.aws


def cluster_script(clients: Clients, cluster_name: str, **override: str) -> str:
    described = clients.eks.describe_cluster(name=cluster_name)["cluster"]
    values = {
        "cluster": cluster_name,
        "endpoint": described["endpoint"],
        "ca": described["certificateAuthority"]["data"],
        **override,
    }
    return bootstrap_script(values["cluster"], values["endpoint"], values["ca"])


def test_eks_points_at_the_local_api_server(local: LocalCloud, clients: Clients) -> None:
    assert local.kube is not None
    cluster = clients.eks.describe_cluster(name=local.cluster_name)["cluster"]
    assert cluster["endpoint"] == local.kube.endpoint
    assert cluster["certificateAuthority"]["data"] == local.kube.ca_data


def test_an_ec2_windows_access_entry_lets_the_node_join(
    local: LocalCloud, aws: AwsCloud, clients: Clients, make_group: MakeGroup, sim_time: SimTime
) -> None:
    assert local.kube is not None
    nodes = local.kube.nodes
    role_arn, profile_arn = aws.create_node_role(f"win-{secrets.token_hex(3)}")
    clients.eks.create_access_entry(
        clusterName=local.cluster_name, principalArn=role_arn, type="EC2_WINDOWS"
    )
    group = make_group(
        desired=1,
        hooks=(LAUNCH,),
        script=cluster_script(clients, local.cluster_name),
        profile_arn=profile_arn,
    )
    # The launch action (heartbeat 600 s) cannot time out while the kubelet boots: the AWS
    # clock is frozen (sim_time); the kubelet runs on real time.
    (instance,) = in_state(clients, group.name, "Pending:Wait")
    node = wait_for(lambda: nodes.get(instance), message="kubelet started")
    assert node.wait_ready(timeout=30), node.registration_failures
    described = clients.ec2.describe_instances(InstanceIds=[instance])["Reservations"][0]
    dns = described["Instances"][0]["PrivateDnsName"]
    registered = local.kube.core_v1().read_node(dns)
    assert registered.spec.provider_id.endswith(f"/{instance}")
    assert registered.metadata.labels["kubernetes.io/os"] == "windows"
    decision = next(
        d
        for d in reversed(local.kube.authenticator.decisions)
        if d.username == f"system:node:{dns}"
    )
    assert decision.caller_arn is not None
    assert decision.caller_arn.endswith(f":assumed-role/{role_arn.rsplit('/', 1)[1]}/{instance}")

    # The product would now CONTINUE; then scale in: the kubelet stops with the instance.
    clients.autoscaling.complete_lifecycle_action(
        AutoScalingGroupName=group.name,
        LifecycleHookName="launch",
        InstanceId=instance,
        LifecycleActionResult="CONTINUE",
    )
    clients.autoscaling.set_desired_capacity(AutoScalingGroupName=group.name, DesiredCapacity=0)
    wait_for(lambda: node.state is NodeState.STOPPED, message="kubelet stopped")
    assert local.kube.nodes.get(instance) is None


def test_a_node_with_bad_user_data_or_an_unmapped_role_never_joins(
    local: LocalCloud, aws: AwsCloud, clients: Clients, make_group: MakeGroup, sim_time: SimTime
) -> None:
    assert local.kube is not None and aws.boot is not None
    nodes = local.kube.nodes
    role_arn, profile_arn = aws.create_node_role(f"win-{secrets.token_hex(3)}")
    clients.eks.create_access_entry(
        clusterName=local.cluster_name, principalArn=role_arn, type="EC2_WINDOWS"
    )
    wrong = {
        "wrong cluster": cluster_script(clients, local.cluster_name, cluster="someone-else"),
        "wrong CA": cluster_script(clients, local.cluster_name, ca="Zm9v"),
        "no bootstrap": "<powershell>Write-Output 'hello'</powershell>",
    }
    for why, script in wrong.items():
        group = make_group(desired=1, hooks=(LAUNCH,), script=script, profile_arn=profile_arn)
        (instance,) = in_state(clients, group.name, "Pending:Wait")
        outcome = aws.boot.outcomes[instance]
        assert not outcome.kubelet_started, why
        assert local.kube.nodes.get(instance) is None, why

    # Right user data, but the role has no access entry (nor aws-auth mapping): 401 forever.
    unmapped_role, unmapped_profile = aws.create_node_role(f"win-{secrets.token_hex(3)}")
    group = make_group(
        desired=1,
        hooks=(LAUNCH,),
        script=cluster_script(clients, local.cluster_name),
        profile_arn=unmapped_profile,
    )
    (instance,) = in_state(clients, group.name, "Pending:Wait")
    node = wait_for(lambda: nodes.get(instance))
    wait_for(lambda: len(node.registration_failures) >= 2, message="refused registrations")
    assert node.state is not NodeState.READY
    assert set(node.registration_failures) <= {401, 403}
    assert (
        unmapped_role
        not in clients.eks.list_access_entries(clusterName=local.cluster_name)["accessEntries"]
    )


def test_a_stop_into_the_warm_pool_cuts_an_unfinished_bootstrap_short_for_good(
    local: LocalCloud, aws: AwsCloud, clients: Clients, make_group: MakeGroup, sim_time: SimTime
) -> None:
    """User data runs on the first boot only: an instance stopped into the pool before its node
    registered never starts a kubelet again, one stopped after does on every start."""
    assert local.kube is not None and aws.boot is not None
    nodes = local.kube.nodes
    role_arn, profile_arn = aws.create_node_role(f"win-{secrets.token_hex(3)}")
    group = make_group(
        desired=0,
        hooks=(LAUNCH,),
        script=cluster_script(clients, local.cluster_name),
        profile_arn=profile_arn,
    )
    clients.autoscaling.put_warm_pool(
        AutoScalingGroupName=group.name, MaxGroupPreparedCapacity=2, PoolState="Stopped"
    )
    warming = clients.autoscaling.describe_warm_pool(AutoScalingGroupName=group.name)
    cut_short, finished = sorted(i["InstanceId"] for i in warming["Instances"])
    assert {i["LifecycleState"] for i in warming["Instances"]} == {"Warmed:Pending:Wait"}

    def release(instance: str) -> None:
        clients.autoscaling.complete_lifecycle_action(
            AutoScalingGroupName=group.name,
            LifecycleHookName="launch",
            InstanceId=instance,
            LifecycleActionResult="CONTINUE",
        )

    # The role is not mapped yet: this bootstrap cannot have registered its node.
    release(cut_short)
    clients.eks.create_access_entry(
        clusterName=local.cluster_name, principalArn=role_arn, type="EC2_WINDOWS"
    )
    finished_node = wait_for(lambda: nodes.get(finished), message="kubelet started")
    assert finished_node.wait_ready(timeout=30), finished_node.registration_failures
    release(finished)
    assert nodes.get(cut_short) is None and nodes.get(finished) is None  # both stopped

    clients.autoscaling.set_desired_capacity(AutoScalingGroupName=group.name, DesiredCapacity=2)

    assert sorted(in_state(clients, group.name, "Pending:Wait")) == [cut_short, finished]
    restarted = wait_for(lambda: nodes.get(finished), message="kubelet started again")
    assert restarted.wait_ready(timeout=30), restarted.registration_failures
    assert nodes.get(cut_short) is None
    assert "first boot only" in aws.boot.outcomes[cut_short].reason
