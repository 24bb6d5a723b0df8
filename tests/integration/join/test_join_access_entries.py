"""Join on an API_AND_CONFIG_MAP cluster: the node role gets an EC2_WINDOWS access entry; events
that arrive twice or not at all end in the same state."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from typing import Any

import pytest
from kubernetes.client.exceptions import ApiException

from localcloud.aws.events import Chaos
from localcloud.deployment import Product, deploy
from tests.helpers.waiting import wait_for
from tests.integration.join.helpers import (
    LAUNCH_PATTERN,
    Recorder,
    all_in_service,
    assert_continued_once_ready,
    emitted_metric,
    instance_tags,
    one_instance_with_a_short_deadline,
    ready_nodes_by_instance,
    scale_out_with_every_event_lost,
    scale_out_with_every_event_twice,
    states,
    wait_for_abandon,
)
from winnodes import wiring

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def product() -> Iterator[Product]:
    with deploy(authentication_mode="API_AND_CONFIG_MAP") as product:
        yield product


@pytest.fixture
def launches(product: Product) -> Iterator[Recorder]:
    recorder = Recorder(product.lifecycle)
    product.aws.events.put_rule("join", event_pattern=LAUNCH_PATTERN)
    product.aws.events.put_target("join", recorder, target_id="lifecycle")
    yield recorder
    product.aws.events.remove_rule("join")
    recorder.wait_idle()
    product.aws.events.set_chaos(Chaos())


def windows_entries(product: Product, role_arn: str) -> list[str]:
    eks = product.client("eks")
    principals = eks.list_access_entries(clusterName=product.aws.cluster_name)["accessEntries"]
    return [
        p
        for p in principals
        if p == role_arn
        and eks.describe_access_entry(clusterName=product.aws.cluster_name, principalArn=p)[
            "accessEntry"
        ]["type"]
        == "EC2_WINDOWS"
    ]


def test_scale_out_by_three_creates_one_access_entry_and_joins_every_node(
    product: Product, launches: Recorder, node_role: tuple[str, str]
) -> None:
    role_arn, profile_arn = node_role
    group = product.make_group(desired=0, profile_arn=profile_arn)
    product.client("autoscaling").set_desired_capacity(
        AutoScalingGroupName=group, DesiredCapacity=3
    )
    instances = wait_for(lambda: all_in_service(product, group, 3), message="3 InService")
    assert_continued_once_ready(product, instances)
    assert windows_entries(product, role_arn) == [role_arn]
    ready = ready_nodes_by_instance(product)
    assert set(instances) <= set(ready)
    for instance_id in instances:
        tags = instance_tags(product, instance_id)
        assert tags[f"kubernetes.io/cluster/{product.aws.cluster_name}"] == "owned"
    assert not launches.errors


def test_every_event_delivered_twice_ends_in_the_same_state(
    product: Product, launches: Recorder, node_role: tuple[str, str]
) -> None:
    role_arn, profile_arn = node_role
    scale_out_with_every_event_twice(product, launches, profile_arn)
    assert windows_entries(product, role_arn) == [role_arn]


def test_a_lost_launch_event_is_finished_by_the_reconciler(
    product: Product,
    launches: Recorder,
    node_role: tuple[str, str],
    capsys: pytest.CaptureFixture[str],
) -> None:
    role_arn, profile_arn = node_role
    group, (instance_id,) = scale_out_with_every_event_lost(product, profile_arn, 1)
    assert launches.results == []  # the event never arrived

    # A tick whose invocation has less time left than one step may take starts nothing.
    capsys.readouterr()
    cut_short = product.tick(time_left=10)
    assert f"{group}: held instances and repairs" in cut_short["deferred"]
    deferred = emitted_metric(capsys.readouterr().out, "ReconcileDeferred")
    assert deferred == len(cut_short["deferred"])
    assert states(product, group)[instance_id] == "Pending:Wait"
    assert f"kubernetes.io/cluster/{product.aws.cluster_name}" not in instance_tags(
        product, instance_id
    )

    def reconciled() -> bool:
        product.tick()
        return states(product, group).get(instance_id) == "InService"

    wait_for(reconciled, message="reconciler completes the launch action")
    assert windows_entries(product, role_arn) == [role_arn]
    assert instance_id in ready_nodes_by_instance(product)
    assert launches.results == []


def test_a_reconciler_pass_tags_a_groups_joining_instances_in_one_call(
    product: Product, launches: Recorder, node_role: tuple[str, str]
) -> None:
    _, profile_arn = node_role
    _, ids = scale_out_with_every_event_lost(product, profile_arn, 3, seed=5)
    create_tags: list[list[str]] = []

    def record(params: dict[str, Any], **_: Any) -> None:
        create_tags.append(sorted(params["Resources"]))

    events = wiring.aws_clients()["ec2"].meta.events
    events.register("provide-client-params.ec2.CreateTags", record)
    try:
        report = product.tick()
    finally:
        events.unregister("provide-client-params.ec2.CreateTags", record)

    assert [call for call in create_tags if set(call) & set(ids)] == [ids]
    assert report["instances_tagged"] == 3
    cluster_tag = f"kubernetes.io/cluster/{product.aws.cluster_name}"
    assert all(instance_tags(product, i)[cluster_tag] == "owned" for i in ids)
    # Tagged, the same pass went on to the next step for each instance.
    assert "TagInstance" not in report["outcomes"]


def test_the_reconciler_repairs_drifted_tags_and_a_deleted_access_entry(
    product: Product, launches: Recorder, node_role: tuple[str, str]
) -> None:
    role_arn, profile_arn = node_role
    group = product.make_group(desired=1, profile_arn=profile_arn)
    (instance_id,) = wait_for(lambda: all_in_service(product, group, 1), message="InService")
    cluster_tag = f"kubernetes.io/cluster/{product.aws.cluster_name}"
    product.client("ec2").delete_tags(Resources=[instance_id], Tags=[{"Key": cluster_tag}])
    product.client("eks").delete_access_entry(
        clusterName=product.aws.cluster_name, principalArn=role_arn
    )
    assert windows_entries(product, role_arn) == []

    report = product.tick()

    assert report["tags_repaired"] == 1
    assert report["instances_tagged"] == 1
    assert report["authorizations_repaired"] >= 1
    assert instance_tags(product, instance_id)[cluster_tag] == "owned"
    assert windows_entries(product, role_arn) == [role_arn]
    assert product.tick()["authorizations_repaired"] == 0  # nothing left to repair


def test_a_node_role_with_a_path_gets_its_entry_under_its_own_arn(
    product: Product, launches: Recorder
) -> None:
    # An access entry names its principal by the role's ARN, path included; the path-less ARN
    # (what aws-auth takes) names no principal, and EKS refuses it.
    role_arn, profile_arn = product.aws.create_node_role(
        f"win-node-{secrets.token_hex(3)}", path="/eks/windows/"
    )
    assert ":role/eks/windows/" in role_arn
    group = product.make_group(desired=0, profile_arn=profile_arn)
    product.client("autoscaling").set_desired_capacity(
        AutoScalingGroupName=group, DesiredCapacity=1
    )
    (instance_id,) = wait_for(lambda: all_in_service(product, group, 1), message="InService")
    assert windows_entries(product, role_arn) == [role_arn]
    assert instance_id in ready_nodes_by_instance(product)
    assert not launches.errors


def test_a_node_role_whose_entry_is_not_ec2_windows_is_never_continued(
    product: Product, launches: Recorder, node_role: tuple[str, str]
) -> None:
    # EC2_LINUX lets the node register but leaves out eks:kube-proxy-windows; a type cannot be
    # changed, so the join waits for an operator and ends in ABANDON at its deadline.
    role_arn, profile_arn = node_role
    eks = product.client("eks")
    eks.create_access_entry(
        clusterName=product.aws.cluster_name, principalArn=role_arn, type="EC2_LINUX"
    )
    with one_instance_with_a_short_deadline(product, profile_arn, deadline_seconds=8) as (
        _,
        instance_id,
    ):
        wait_for_abandon(launches, instance_id)
    entry = eks.describe_access_entry(clusterName=product.aws.cluster_name, principalArn=role_arn)
    assert entry["accessEntry"]["type"] == "EC2_LINUX"
    steps = {r.get("step") for r in launches.results if r.get("instance_id") == instance_id}
    assert "CompleteContinue" not in steps


def set_windows_ipam(product: Product, value: str) -> None:
    core = product.kube.core_v1()
    data = {"data": {"enable-windows-ipam": value}}
    try:
        core.patch_namespaced_config_map("amazon-vpc-cni", "kube-system", data)
    except ApiException as error:
        if error.status != 404:
            raise
        core.create_namespaced_config_map(
            "kube-system", {"metadata": {"name": "amazon-vpc-cni"}} | data
        )


def windows_ipam(product: Product) -> str | None:
    config_map = product.kube.core_v1().read_namespaced_config_map("amazon-vpc-cni", "kube-system")
    return (config_map.data or {}).get("enable-windows-ipam")


def test_windows_ipam_is_switched_on_even_for_a_role_authorized_beforehand(
    product: Product, launches: Recorder, node_role: tuple[str, str]
) -> None:
    # Infrastructure code often creates the node role's entry itself: nothing to authorize, but
    # without Windows IPAM the Ready node's pods would never get an IP.
    role_arn, profile_arn = node_role
    product.client("eks").create_access_entry(
        clusterName=product.aws.cluster_name, principalArn=role_arn, type="EC2_WINDOWS"
    )
    set_windows_ipam(product, "false")
    group = product.make_group(desired=0, profile_arn=profile_arn)
    product.client("autoscaling").set_desired_capacity(
        AutoScalingGroupName=group, DesiredCapacity=1
    )
    wait_for(lambda: all_in_service(product, group, 1), message="InService")
    assert windows_ipam(product) == "true"

    # Switched off under nodes in service, the next reconciler pass switches it back on.
    set_windows_ipam(product, "false")
    report = product.tick()
    assert report["windows_ipam_repaired"] == 1
    assert windows_ipam(product) == "true"


def test_a_node_role_named_on_the_group_needs_no_iam_call(
    product: Product, launches: Recorder, node_role: tuple[str, str]
) -> None:
    # In private subnets IAM is often out of reach (its interface endpoint exists only in
    # us-east-1): the group's tag names the role instead of iam:GetInstanceProfile.
    role_arn, profile_arn = node_role
    iam_calls: list[str] = []

    def record(**kwargs: Any) -> None:
        iam_calls.append(kwargs["event_name"])

    events = wiring.aws_clients()["iam"].meta.events
    events.register("before-call.iam", record)
    try:
        group = product.make_group(
            desired=0, profile_arn=profile_arn, tags={"eks-windows-nodes/node-role-arn": role_arn}
        )
        product.client("autoscaling").set_desired_capacity(
            AutoScalingGroupName=group, DesiredCapacity=1
        )
        (instance_id,) = wait_for(lambda: all_in_service(product, group, 1), message="InService")
        launches.wait_idle()
    finally:
        events.unregister("before-call.iam", record)
    assert windows_entries(product, role_arn) == [role_arn]
    assert instance_id in ready_nodes_by_instance(product)
    assert iam_calls == []
