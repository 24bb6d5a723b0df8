"""Join on a CONFIG_MAP cluster: the node role is authorized through aws-auth, which is merged,
never clobbered, and never written when it cannot be read."""

from __future__ import annotations

import secrets
from collections.abc import Iterator

import pytest
import yaml

from localcloud.deployment import Product, deploy
from tests.helpers.waiting import wait_for
from tests.integration.join.helpers import (
    Recorder,
    all_in_service,
    assert_continued_once_ready,
    aws_auth_data,
    emitted_metric,
    instance_tags,
    map_roles,
    one_instance_with_a_short_deadline,
    ready_nodes_by_instance,
    scale_out_with_every_event_twice,
    states,
    wait_for_abandon,
)

pytestmark = pytest.mark.integration

LAUNCH_PATTERN = {
    "source": ["aws.autoscaling"],
    "detail-type": ["EC2 Instance-launch Lifecycle Action"],
}


def windows_node_entry(role_arn: str) -> dict[str, object]:
    """The mapRoles entry EKS documents for a Windows node role."""
    return {
        "rolearn": role_arn,
        "username": "system:node:{{EC2PrivateDNSName}}",
        "groups": ["system:bootstrappers", "system:nodes", "eks:kube-proxy-windows"],
    }


@pytest.fixture(scope="module")
def product() -> Iterator[Product]:
    with deploy(authentication_mode="CONFIG_MAP") as product:
        yield product


@pytest.fixture(scope="module")
def launches(product: Product) -> Iterator[Recorder]:
    recorder = Recorder(product.lifecycle)
    product.aws.events.put_rule("join", event_pattern=LAUNCH_PATTERN)
    product.aws.events.put_target("join", recorder)
    yield recorder
    product.aws.events.remove_rule("join")
    recorder.wait_idle()


def test_scale_out_by_three_joins_every_node_and_keeps_foreign_entries(
    product: Product, launches: Recorder, node_role: tuple[str, str]
) -> None:
    role_arn, profile_arn = node_role
    core = product.kube.core_v1()
    # What a ConfigMap carries besides data, which a write of ours must leave as it is.
    owner = {
        "labels": {"app.kubernetes.io/managed-by": "Helm"},
        "annotations": {"meta.helm.sh/release-name": "aws-auth"},
    }
    core.patch_namespaced_config_map(
        "aws-auth", "kube-system", {"metadata": owner, "binaryData": {"note": "AAE="}}
    )
    before = aws_auth_data(product)
    group = product.make_group(desired=0, profile_arn=profile_arn)
    product.client("autoscaling").set_desired_capacity(
        AutoScalingGroupName=group, DesiredCapacity=3
    )
    instances = wait_for(lambda: all_in_service(product, group, 3), message="3 InService")

    ready = ready_nodes_by_instance(product)
    assert_continued_once_ready(product, instances)
    for instance_id in instances:
        assert instance_id in ready, f"{instance_id} has no Ready node"
        assert (
            instance_tags(product, instance_id)[f"kubernetes.io/cluster/{product.aws.cluster_name}"]
            == "owned"
        )

    entries = [e for e in map_roles(product) if e["rolearn"] == role_arn]
    assert entries == [windows_node_entry(role_arn)]
    after = aws_auth_data(product)
    # Everything that was there before is still there, byte for byte outside mapRoles.
    for key in ("mapUsers", "mapAccounts", "x-operator-note"):
        assert after[key] == before[key]
    # mapRoles as the operator wrote it, comments included, with our entry after it.
    assert after["mapRoles"].startswith(before["mapRoles"])
    roles_before = {e["rolearn"] for e in yaml.safe_load(before["mapRoles"])}
    assert roles_before <= {e["rolearn"] for e in map_roles(product)}
    written = core.read_namespaced_config_map("aws-auth", "kube-system")
    assert owner["labels"].items() <= (written.metadata.labels or {}).items()
    assert owner["annotations"].items() <= (written.metadata.annotations or {}).items()
    assert written.binary_data == {"note": "AAE="}

    vpc_cni = product.kube.core_v1().read_namespaced_config_map("amazon-vpc-cni", "kube-system")
    assert vpc_cni.data["enable-windows-ipam"] == "true"
    finished = [r for r in launches.results if r.get("status") == "finished"]
    assert {r["instance_id"] for r in finished} >= set(instances)
    assert not launches.errors


def test_a_node_role_under_a_path_is_mapped_without_it_and_joins(
    product: Product, launches: Recorder
) -> None:
    # aws-auth matches the caller's role without its path (EKS user guide, auth-configmap):
    # an entry that kept the path would never authenticate the node.
    role_arn, profile_arn = product.aws.create_node_role(
        f"win-node-{secrets.token_hex(3)}", path="/eks/windows/"
    )
    path_less = role_arn.replace(":role/eks/windows/", ":role/")
    group = product.make_group(desired=0, profile_arn=profile_arn)
    product.client("autoscaling").set_desired_capacity(
        AutoScalingGroupName=group, DesiredCapacity=1
    )
    (instance_id,) = wait_for(lambda: all_in_service(product, group, 1), message="InService")
    assert instance_id in ready_nodes_by_instance(product)
    roles = [e["rolearn"] for e in map_roles(product)]
    assert path_less in roles
    assert role_arn not in roles
    assert not launches.errors


def test_every_event_delivered_twice_maps_the_node_role_once(
    product: Product, launches: Recorder, node_role: tuple[str, str]
) -> None:
    role_arn, profile_arn = node_role
    scale_out_with_every_event_twice(product, launches, profile_arn)
    # Every copy of every launch event merged the same role: one entry, not one per copy.
    entries = [e for e in map_roles(product) if e["rolearn"] == role_arn]
    assert entries == [windows_node_entry(role_arn)]


def test_an_instance_whose_node_never_becomes_ready_is_abandoned_at_the_deadline(
    product: Product, launches: Recorder, node_role: tuple[str, str]
) -> None:
    _, profile_arn = node_role
    # User data for another cluster: the instance boots but never registers.
    elsewhere = product.user_data(cluster="elsewhere")
    with one_instance_with_a_short_deadline(product, profile_arn, user_data=elsewhere) as (
        group,
        instance_id,
    ):
        wait_for_abandon(launches, instance_id)
        wait_for(
            lambda: states(product, group).get(instance_id) in (None, "Terminating", "Terminated"),
            message="abandoned instance leaves the group",
        )
        assert instance_id not in ready_nodes_by_instance(product)


def test_a_malformed_aws_auth_is_left_untouched_with_an_error_and_a_metric(
    product: Product,
    launches: Recorder,
    node_role: tuple[str, str],
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    _, profile_arn = node_role
    capsys.readouterr()
    core = product.kube.core_v1()
    config_map = core.read_namespaced_config_map("aws-auth", "kube-system")
    original = dict(config_map.data)
    # groups as text, not a list: the document does not say what it grants, so it is not written.
    config_map.data["mapRoles"] = original["mapRoles"] + "- username: orphan\n  groups: x\n"
    core.replace_namespaced_config_map("aws-auth", "kube-system", config_map)
    malformed = aws_auth_data(product)
    try:
        with one_instance_with_a_short_deadline(product, profile_arn) as (_, instance_id):
            wait_for_abandon(launches, instance_id)
            assert aws_auth_data(product) == malformed
            assert instance_id not in ready_nodes_by_instance(product)
        assert emitted_metric(capsys.readouterr().out, "AwsAuthMalformed") >= 1
        errors = [r.getMessage() for r in caplog.records if r.levelname == "ERROR"]
        assert "aws-auth is malformed; not written" in errors
    finally:
        config_map = core.read_namespaced_config_map("aws-auth", "kube-system")
        config_map.data = original
        core.replace_namespaced_config_map("aws-auth", "kube-system", config_map)
