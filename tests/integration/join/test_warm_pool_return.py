"""A scale-in that returns the instance to a Running warm pool (ReuseOnScaleIn), end to end
through the lifecycle handler: the terminate event drains the Node and keeps it, cordoned and
marked as the join holds a Node for the pool (the instance's kubelet keeps running, and a
running kubelet does not register a Node deleted under it again); a scale-out then draws the
instance, and the join lifts that cordon once the Node is Ready and completes with CONTINUE."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from localcloud.deployment import Product, deploy
from localcloud.kube import KubeCloud
from localcloud.kube.clients import raw_json
from tests.helpers.waiting import wait_for
from tests.helpers.workloads import TEST_GROUP_LABEL, Workloads
from tests.integration.join.helpers import (
    Recorder,
    all_in_service,
    lifecycle_events,
    ready_nodes_by_instance,
    warm_pool,
)
from winnodes.adapters.kube.cluster import WARM_POOL_HOLD_ANNOTATION
from winnodes.adapters.kube.drain import (
    DRAIN_STARTED_ANNOTATION,
    EXCLUDE_FROM_LOAD_BALANCERS_LABEL,
)

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def product() -> Iterator[Product]:
    with deploy(authentication_mode="API_AND_CONFIG_MAP") as product:
        yield product


@pytest.fixture(scope="module")
def kube(product: Product) -> KubeCloud:
    """The deployed product's cluster, so that `namespace` is made there."""
    return product.kube


@pytest.fixture
def lifecycle(product: Product) -> Iterator[Recorder]:
    with lifecycle_events(product) as recorder:
        yield recorder


def node_of(product: Product, instance_id: str) -> dict[str, Any] | None:
    for node in raw_json(product.kube.core_v1().list_node)["items"]:
        if node["spec"].get("providerID", "").endswith(f"/{instance_id}"):
            found: dict[str, Any] = node
            return found
    return None


def held_for_warm_pool(node: dict[str, Any]) -> bool:
    annotations = node["metadata"].get("annotations") or {}
    return bool(node["spec"].get("unschedulable")) and WARM_POOL_HOLD_ANNOTATION in annotations


def launch_steps(recorder: Recorder, instance_id: str) -> list[str]:
    return [
        r["step"]
        for r in recorder.results
        if r.get("instance_id") == instance_id and "remaining" not in r
    ]


def leave_steps(recorder: Recorder, instance_id: str) -> list[str]:
    return [
        r["step"]
        for r in recorder.results
        if r.get("instance_id") == instance_id and "remaining" in r
    ]


def test_a_return_to_a_running_pool_keeps_the_node_held_and_the_draw_serves_it_again(
    product: Product, lifecycle: Recorder, node_role: tuple[str, str], namespace: str
) -> None:
    _, profile_arn = node_role
    autoscaling = product.client("autoscaling")
    group = product.make_group(desired=0, profile_arn=profile_arn)
    autoscaling.put_warm_pool(
        AutoScalingGroupName=group,
        MaxGroupPreparedCapacity=1,
        PoolState="Running",
        InstanceReusePolicy={"ReuseOnScaleIn": True},
    )
    try:
        (instance,) = wait_for(
            lambda: [i for i, s in warm_pool(product, group).items() if s == "Warmed:Running"],
            message="the pool filled",
        )
        autoscaling.set_desired_capacity(AutoScalingGroupName=group, DesiredCapacity=1)
        assert wait_for(lambda: all_in_service(product, group, 1), message="drawn") == [instance]
        name = ready_nodes_by_instance(product)[instance]
        product.kube.core_v1().patch_node(
            name, {"metadata": {"labels": {TEST_GROUP_LABEL: namespace}}}
        )
        workloads = Workloads(product.kube, namespace)
        workloads.deployment("web", replicas=2)
        assert {p["spec"]["nodeName"] for p in workloads.wait_running("web", 2)} == {name}
        kubelet = product.kube.nodes.get(instance)
        assert kubelet is not None

        autoscaling.set_desired_capacity(AutoScalingGroupName=group, DesiredCapacity=0)

        wait_for(
            lambda: warm_pool(product, group) == {instance: "Warmed:Running"},
            message="returned to the pool, running",
        )
        wait_for(lambda: leave_steps(lifecycle, instance), message="the leave's result")
        assert leave_steps(lifecycle, instance) == ["FinishDrain"]  # drained, then CONTINUE
        kept = node_of(product, instance)
        assert kept is not None, "the Node was deleted: its running kubelet never registers again"
        assert kept["metadata"]["uid"]  # the same Node the kubelet posts its status to
        assert held_for_warm_pool(kept)
        assert DRAIN_STARTED_ANNOTATION not in (kept["metadata"].get("annotations") or {})
        assert EXCLUDE_FROM_LOAD_BALANCERS_LABEL not in kept["metadata"]["labels"]
        # Drained: its pods were evicted and their replacements have nowhere to go.
        assert workloads.running("web") == []
        assert all(p["spec"].get("nodeName") != name for p in workloads.pods("web"))
        assert product.kube.nodes.get(instance) is kubelet  # the kubelet ran on in the pool

        autoscaling.set_desired_capacity(AutoScalingGroupName=group, DesiredCapacity=1)

        assert wait_for(lambda: all_in_service(product, group, 1), message="drawn") == [instance]
        wait_for(
            lambda: launch_steps(lifecycle, instance)[-1:] == ["CompleteContinue"],
            message="the draw's join completed",
        )
        assert "Abandon" not in launch_steps(lifecycle, instance)
        served = node_of(product, instance)
        assert served is not None and served["metadata"]["uid"] == kept["metadata"]["uid"]
        assert not served["spec"].get("unschedulable")
        assert WARM_POOL_HOLD_ANNOTATION not in (served["metadata"].get("annotations") or {})
        assert instance in ready_nodes_by_instance(product)
        assert {p["spec"]["nodeName"] for p in workloads.wait_running("web", 2)} == {name}
        assert not lifecycle.errors
    finally:
        autoscaling.delete_warm_pool(AutoScalingGroupName=group)
        autoscaling.set_desired_capacity(AutoScalingGroupName=group, DesiredCapacity=0)
