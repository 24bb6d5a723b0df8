"""Leave end to end: a managed group scales in, the terminate hook fires, the lifecycle handler
drains the node (pods move to the remaining node), deletes it and completes the action. An
instance terminated through EC2 (a Spot interruption) goes the same way, its node dead."""

from __future__ import annotations

import functools
from collections.abc import Iterator
from typing import Any

import pytest

from localcloud.aws.events import Chaos
from localcloud.deployment import Product, deploy
from tests.helpers.waiting import wait_for
from tests.integration.join.helpers import (
    Recorder,
    all_in_service,
    emitted_metric,
    lifecycle_events,
    ready_nodes_by_instance,
    scale_out,
    states,
    warm_pool,
)

pytestmark = pytest.mark.integration

# Past the terminate hook: the action was completed and the instance is on its way out.
GONE = (None, "Terminating:Proceed", "Terminated")


@pytest.fixture(scope="module")
def product() -> Iterator[Product]:
    with deploy(authentication_mode="API_AND_CONFIG_MAP") as product:
        yield product


@pytest.fixture
def lifecycle(product: Product) -> Iterator[Recorder]:
    with lifecycle_events(product) as recorder:
        yield recorder


def pin(product: Product, node_names: list[str], group: str) -> dict[str, str]:
    """Label this test's nodes: other tests' nodes share the cluster."""
    selector = {"test.eks-windows-nodes/pool": group}
    for name in node_names:
        product.kube.core_v1().patch_node(name, {"metadata": {"labels": selector}})
    return selector


def deployment(
    product: Product, namespace: str, replicas: int, node_selector: dict[str, str]
) -> None:
    core = product.kube.core_v1()
    core.create_namespace({"metadata": {"name": namespace}})
    product.kube.api_client().call_api(
        f"/apis/apps/v1/namespaces/{namespace}/deployments",
        "POST",
        body={
            "metadata": {"name": "iis"},
            "spec": {
                "replicas": replicas,
                "selector": {"matchLabels": {"app": "iis"}},
                "template": {
                    "metadata": {"labels": {"app": "iis"}},
                    "spec": {
                        "nodeSelector": node_selector,
                        "terminationGracePeriodSeconds": 1,
                        "containers": [{"name": "iis", "image": "mcr.microsoft.com/iis"}],
                    },
                },
            },
        },
        auth_settings=["BearerToken"],
        _preload_content=False,
    )


def running_pods_by_node(product: Product, namespace: str) -> dict[str, int]:
    pods = product.kube.core_v1().list_namespaced_pod(namespace).items
    counts: dict[str, int] = {}
    for pod in pods:
        if pod.status.phase == "Running" and not pod.metadata.deletion_timestamp:
            counts[pod.spec.node_name] = counts.get(pod.spec.node_name, 0) + 1
    return counts


def test_scale_in_drains_the_node_deletes_it_and_completes_the_action(
    product: Product, lifecycle: Recorder, node_role: tuple[str, str]
) -> None:
    _, profile_arn = node_role
    group, instances, nodes = scale_out(product, profile_arn, 2)
    autoscaling = product.client("autoscaling")
    selector = pin(product, [nodes[i] for i in instances], group)
    deployment(product, "shop", replicas=4, node_selector=selector)
    wait_for(lambda: sum(running_pods_by_node(product, "shop").values()) == 4, message="4 pods run")

    leaving = max(instances)  # any one: scale in names it explicitly below
    autoscaling.terminate_instance_in_auto_scaling_group(
        InstanceId=leaving, ShouldDecrementDesiredCapacity=True
    )
    wait_for(lambda: states(product, group).get(leaving) in GONE, message="action completed")

    assert nodes[leaving] not in {n.metadata.name for n in product.kube.core_v1().list_node().items}
    staying = nodes[min(instances)]
    wait_for(
        lambda: running_pods_by_node(product, "shop") == {staying: 4},
        message="all pods on the remaining node",
    )
    finished = [r for r in leave_results(lifecycle, leaving) if r["status"] == "finished"]
    assert finished and finished[-1]["step"] == "FinishDrain"
    assert not lifecycle.errors


def leave_results(recorder: Recorder, instance_id: str) -> list[dict[str, Any]]:
    """The terminate handler's results for the instance, once there is one: the handler returns
    just after it completed the action, so a test that saw the action completed may be early."""

    def results() -> list[dict[str, Any]]:
        return [
            r for r in recorder.results if r.get("instance_id") == instance_id and "remaining" in r
        ]

    found: list[dict[str, Any]] = wait_for(results, message=f"the result for {instance_id}")
    return found


def node_ready(product: Product, name: str) -> str | None:
    """The Node's Ready condition status ("True", "False", "Unknown"); None once it is gone."""
    nodes = {n.metadata.name: n for n in product.kube.core_v1().list_node().items}
    node = nodes.get(name)
    if node is None:
        return None
    return next((c.status for c in node.status.conditions or [] if c.type == "Ready"), None)


def test_an_instance_terminated_through_ec2_is_drained_completed_and_replaced(
    product: Product, lifecycle: Recorder, node_role: tuple[str, str]
) -> None:
    # A Spot interruption: EC2 terminates the instance, its kubelet stops, and the group's
    # health check terminates it through the group, so the terminate hook still holds it and
    # the handler must complete the action; a replacement launches (desired capacity stays).
    _, profile_arn = node_role
    group, instances, nodes = scale_out(product, profile_arn, 2)
    selector = pin(product, [nodes[i] for i in instances], group)
    deployment(product, "spot", replicas=4, node_selector=selector)
    wait_for(lambda: sum(running_pods_by_node(product, "spot").values()) == 4, message="4 pods run")
    gone, staying = max(instances), min(instances)
    assert running_pods_by_node(product, "spot").get(nodes[gone], 0) >= 1

    product.client("ec2").terminate_instances(InstanceIds=[gone])
    # The dead kubelet posts no status: the Node turns NotReady while the drain goes on, and
    # the evicted pods never finish terminating there. The drain stops waiting for them after
    # NOT_READY_TERMINATION_GRACE (1 minute of the functions' real clock), so this takes a
    # minute: the timeouts below only bound a broken run.
    wait_for(lambda: node_ready(product, nodes[gone]) == "Unknown", message="Node NotReady")
    wait_for(
        lambda: states(product, group).get(gone) in GONE,
        timeout=240,
        message="terminate action completed",
    )

    (result,) = leave_results(lifecycle, gone)
    assert result["status"] == "finished"
    assert result["step"] == "FinishDrain"  # completed with CONTINUE
    assert node_ready(product, nodes[gone]) is None  # the handler deleted the dead Node
    wait_for(
        lambda: running_pods_by_node(product, "spot") == {nodes[staying]: 4},
        message="all pods on the remaining node",
    )
    # The group kept its desired capacity: a replacement joined through the launch hook.
    autoscaling = product.client("autoscaling")
    described = autoscaling.describe_auto_scaling_groups(AutoScalingGroupNames=[group])
    assert described["AutoScalingGroups"][0]["DesiredCapacity"] == 2
    in_service = wait_for(
        lambda: all_in_service(product, group, 2), message="replacement InService"
    )
    (replacement,) = set(in_service) - {staying}
    assert replacement != gone
    assert replacement in ready_nodes_by_instance(product)
    assert not lifecycle.errors


def test_a_lost_terminate_event_is_finished_by_the_reconciler(
    product: Product, lifecycle: Recorder, node_role: tuple[str, str]
) -> None:
    _, profile_arn = node_role
    group, (instance_id,), nodes = scale_out(product, profile_arn, 1)
    node = nodes[instance_id]
    autoscaling = product.client("autoscaling")
    product.aws.events.set_chaos(Chaos(drop=1.0, seed=5))
    autoscaling.set_desired_capacity(AutoScalingGroupName=group, DesiredCapacity=0)
    wait_for(
        lambda: states(product, group).get(instance_id) == "Terminating:Wait",
        message="terminate hook holds the instance",
    )

    def reconciled() -> bool:
        product.tick()
        return states(product, group).get(instance_id) in GONE

    wait_for(reconciled, message="reconciler completes the terminate action")
    assert node not in {n.metadata.name for n in product.kube.core_v1().list_node().items}


def test_a_node_that_never_joined_completes_at_once(
    product: Product, node_role: tuple[str, str]
) -> None:
    _, profile_arn = node_role
    # Nobody handles the launch and the user data names another cluster: no Node ever exists.
    group = product.make_group(
        desired=1, profile_arn=profile_arn, user_data=product.user_data(cluster="elsewhere")
    )
    autoscaling = product.client("autoscaling")
    (instance_id,) = wait_for(lambda: list(states(product, group)), message="instance launched")
    wait_for(lambda: states(product, group)[instance_id] == "Pending:Wait", message="launch hook")
    autoscaling.complete_lifecycle_action(
        AutoScalingGroupName=group,
        LifecycleHookName="join",
        InstanceId=instance_id,
        LifecycleActionResult="CONTINUE",
    )
    wait_for(lambda: states(product, group)[instance_id] == "InService", message="InService")
    with lifecycle_events(product, rule="leave-only") as recorder:
        autoscaling.set_desired_capacity(AutoScalingGroupName=group, DesiredCapacity=0)
        wait_for(lambda: states(product, group).get(instance_id) in GONE, message="completed")
        (result,) = leave_results(recorder, instance_id)
        assert result["status"] == "finished"
        assert result["remaining"] == 0


def test_a_budget_that_never_allows_completes_at_the_drain_deadline(
    product: Product, lifecycle: Recorder, node_role: tuple[str, str]
) -> None:
    _, profile_arn = node_role
    group, (instance_id,), nodes = scale_out(product, profile_arn, 1)
    node = nodes[instance_id]
    autoscaling = product.client("autoscaling")
    deployment(product, "pinned", replicas=2, node_selector=pin(product, [node], group))
    wait_for(lambda: running_pods_by_node(product, "pinned").get(node) == 2, message="pods run")
    product.kube.api_client().call_api(
        "/apis/policy/v1beta1/namespaces/pinned/poddisruptionbudgets",
        "POST",
        body={
            "metadata": {"name": "all"},
            "spec": {"minAvailable": 2, "selector": {"matchLabels": {"app": "iis"}}},
        },
        auth_settings=["BearerToken"],
        _preload_content=False,
    )
    product.configure(DRAIN_DEADLINE_SECONDS="3")
    try:
        autoscaling.set_desired_capacity(AutoScalingGroupName=group, DesiredCapacity=0)
        wait_for(lambda: states(product, group).get(instance_id) in GONE, message="completed")
    finally:
        product.configure(DRAIN_DEADLINE_SECONDS="900")
    results = [r for r in leave_results(lifecycle, instance_id) if r["status"] == "finished"]
    assert len(results) == 1
    result = results[0]
    assert result["step"] == "DrainTimedOut"
    assert result["blocked_by_pdb"] >= 1
    # Not forced: the protected pods were not deleted behind the budget's back.
    assert running_pods_by_node(product, "pinned").get(node) == 2


def create(product: Product, path: str, body: dict[str, object]) -> None:
    product.kube.api_client().call_api(
        path, "POST", body=body, auth_settings=["BearerToken"], _preload_content=False
    )


def test_blocked_evictions_wait_for_the_budget_and_daemonset_pods_stay(
    product: Product,
    lifecycle: Recorder,
    node_role: tuple[str, str],
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    _, profile_arn = node_role
    group, instances, nodes = scale_out(product, profile_arn, 2)
    autoscaling = product.client("autoscaling")
    leaving, staying = max(instances), min(instances)
    core = product.kube.core_v1()
    mine = pin(product, [nodes[i] for i in instances], group)
    deployment(product, "blocked", replicas=4, node_selector=mine)
    create(
        product,
        "/apis/apps/v1/namespaces/blocked/daemonsets",
        {
            "metadata": {"name": "agent"},
            "spec": {
                "selector": {"matchLabels": {"app": "agent"}},
                "template": {
                    "metadata": {"labels": {"app": "agent"}},
                    "spec": {
                        "nodeSelector": mine,
                        "containers": [{"name": "agent", "image": "agent"}],
                    },
                },
            },
        },
    )
    create(
        product,
        "/apis/policy/v1beta1/namespaces/blocked/poddisruptionbudgets",
        {
            "metadata": {"name": "iis"},
            "spec": {"minAvailable": 4, "selector": {"matchLabels": {"app": "iis"}}},
        },
    )
    wait_for(
        lambda: sum(running_pods_by_node(product, "blocked").values()) == 6,
        message="4 iis pods and 2 agents run",
    )
    on_leaving = running_pods_by_node(product, "blocked")[nodes[leaving]]
    capsys.readouterr()

    autoscaling.terminate_instance_in_auto_scaling_group(
        InstanceId=leaving, ShouldDecrementDesiredCapacity=True
    )
    wait_for(lambda: core.read_node(nodes[leaving]).spec.unschedulable, message="cordoned")

    def refused_by_the_budget() -> bool:
        return any(
            r.getMessage() == "draining" and getattr(r, "blocked_by_pdb", "0") != "0"
            for r in caplog.records
        )

    wait_for(refused_by_the_budget, message="an eviction round refused by the budget")
    assert running_pods_by_node(product, "blocked")[nodes[leaving]] == on_leaving
    core.api_client.call_api(
        "/apis/policy/v1beta1/namespaces/blocked/poddisruptionbudgets/iis",
        "PATCH",
        body={"spec": {"minAvailable": 0}},
        header_params={"Content-Type": "application/merge-patch+json"},
        auth_settings=["BearerToken"],
        _preload_content=False,
    )
    wait_for(lambda: states(product, group).get(leaving) in GONE, message="completed")

    (result,) = leave_results(lifecycle, leaving)
    assert result["step"] == "FinishDrain"
    output = capsys.readouterr().out
    assert emitted_metric(output, "EvictionsBlockedByPDB") >= 1
    # Only the Deployment's pods were evicted: the DaemonSet's agent was left alone.
    assert emitted_metric(output, "PodsEvicted") == on_leaving - 1
    assert running_pods_by_node(product, "blocked").get(nodes[staying]) == 5


def test_every_terminate_event_delivered_twice_completes_once(
    product: Product, lifecycle: Recorder, node_role: tuple[str, str]
) -> None:
    _, profile_arn = node_role
    group, instances, nodes = scale_out(product, profile_arn, 2)
    autoscaling = product.client("autoscaling")
    product.aws.events.set_chaos(Chaos(duplicate=1.0, seed=11))
    autoscaling.set_desired_capacity(AutoScalingGroupName=group, DesiredCapacity=0)

    def completed(instance_id: str) -> bool:
        return states(product, group).get(instance_id) in GONE

    for instance_id in instances:
        wait_for(functools.partial(completed, instance_id), message="completed")
    wait_for(
        lambda: sum(1 for r in lifecycle.results if "remaining" in r) >= 4,
        message="both copies of both events handled",
    )
    assert not lifecycle.errors
    remaining_nodes = {n.metadata.name for n in product.kube.core_v1().list_node().items}
    for instance_id in instances:
        assert nodes[instance_id] not in remaining_nodes
        copies = [
            r for r in lifecycle.results if r.get("instance_id") == instance_id and "remaining" in r
        ]
        assert len(copies) == 2
        assert all(r["status"] == "finished" for r in copies)


def join_steps(recorder: Recorder, instance_id: str) -> list[str]:
    return [
        r["step"]
        for r in recorder.results
        if r.get("instance_id") == instance_id and "remaining" not in r
    ]


def test_scale_in_into_a_reusing_warm_pool_drains_the_node_and_a_draw_joins_it_again(
    product: Product, lifecycle: Recorder, node_role: tuple[str, str]
) -> None:
    # ReuseOnScaleIn: the scaled-in instance returns to the pool, held at Warmed:Pending:Wait
    # by the terminate hook (event Destination WarmPool), and must be drained like a
    # termination; drawn again (its join-start stamp from its first stay superseded), it joins.
    _, profile_arn = node_role
    group = product.make_group(desired=0, profile_arn=profile_arn)
    autoscaling = product.client("autoscaling")
    autoscaling.put_warm_pool(
        AutoScalingGroupName=group,
        MaxGroupPreparedCapacity=2,
        PoolState="Stopped",
        InstanceReusePolicy={"ReuseOnScaleIn": True},
    )
    # The pool's two launches released and stopped first: the scale-out draws them. Drawn
    # while still held, they would stay in the pool beside two new launches, and the return
    # below would not be the only instance there.
    wait_for(
        lambda: sorted(warm_pool(product, group).values()) == ["Warmed:Stopped"] * 2,
        message="the pool filled and stopped",
    )
    autoscaling.set_desired_capacity(AutoScalingGroupName=group, DesiredCapacity=2)
    instances = wait_for(lambda: all_in_service(product, group, 2), message="2 InService")
    nodes = {i: n for i, n in ready_nodes_by_instance(product).items() if i in instances}
    selector = pin(product, list(nodes.values()), group)
    deployment(product, "reuse", replicas=4, node_selector=selector)
    wait_for(lambda: sum(running_pods_by_node(product, "reuse").values()) == 4, message="4 run")

    autoscaling.set_desired_capacity(AutoScalingGroupName=group, DesiredCapacity=1)

    (leaving,) = wait_for(lambda: list(warm_pool(product, group)), message="a return")
    (staying,) = set(instances) - {leaving}
    wait_for(
        lambda: warm_pool(product, group) == {leaving: "Warmed:Stopped"},
        message="returned and stopped",
    )
    finished = [r for r in leave_results(lifecycle, leaving) if r["status"] == "finished"]
    assert finished and finished[-1]["step"] == "FinishDrain"  # drained, then CONTINUE
    # Kept, held for the pool as the join holds one: a kubelet that keeps running (a Running
    # or Hibernated pool) never registers a deleted Node again.
    kept = product.kube.core_v1().read_node(nodes[leaving])
    assert kept.spec.unschedulable
    assert (kept.metadata.annotations or {}).get("eks-windows-nodes/held-for-warm-pool") == "true"
    wait_for(
        lambda: running_pods_by_node(product, "reuse") == {nodes[staying]: 4},
        message="all pods on the remaining node",
    )

    autoscaling.set_desired_capacity(AutoScalingGroupName=group, DesiredCapacity=2)

    assert wait_for(lambda: all_in_service(product, group, 2), message="drawn") == instances
    wait_for(lambda: join_steps(lifecycle, leaving)[-1:] == ["CompleteContinue"], message="join")
    assert "Abandon" not in join_steps(lifecycle, leaving)
    assert leaving in ready_nodes_by_instance(product)
    assert not product.kube.core_v1().read_node(nodes[leaving]).spec.unschedulable
    assert not lifecycle.errors
    autoscaling.delete_warm_pool(AutoScalingGroupName=group)
    autoscaling.set_desired_capacity(AutoScalingGroupName=group, DesiredCapacity=0)
