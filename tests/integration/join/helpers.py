"""Small readers of the local cloud's state for the join tests."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import yaml

from localcloud.aws.events import Chaos
from localcloud.deployment import Product


def wait_for(predicate: Callable[[], Any], *, timeout: float = 90.0, message: str = "") -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {message or predicate}")
        time.sleep(0.1)


def states(product: Product, group: str) -> dict[str, str]:
    found = product.client("autoscaling").describe_auto_scaling_groups(
        AutoScalingGroupNames=[group]
    )["AutoScalingGroups"][0]["Instances"]
    return {i["InstanceId"]: i["LifecycleState"] for i in found}


def all_in_service(product: Product, group: str, count: int) -> list[str]:
    current = states(product, group)
    in_service = sorted(i for i, s in current.items() if s == "InService")
    return in_service if len(in_service) == count else []


def scale_out(
    product: Product, profile_arn: str, count: int
) -> tuple[str, list[str], dict[str, str]]:
    """A managed group scaled from 0 to `count` through the lifecycle handler: its name, its
    InService instances and their nodes (instance id -> node name)."""
    group = product.make_group(desired=0, profile_arn=profile_arn)
    product.client("autoscaling").set_desired_capacity(
        AutoScalingGroupName=group, DesiredCapacity=count
    )
    instances = wait_for(lambda: all_in_service(product, group, count), message="InService")
    nodes = ready_nodes_by_instance(product)
    return group, instances, {i: nodes[i] for i in instances}


def instance_tags(product: Product, instance_id: str) -> dict[str, str]:
    reservations = product.client("ec2").describe_instances(InstanceIds=[instance_id])
    raw = reservations["Reservations"][0]["Instances"][0]
    return {t["Key"]: t["Value"] for t in raw.get("Tags", [])}


def ready_nodes_by_instance(product: Product) -> dict[str, str]:
    nodes = product.kube.core_v1().list_node().items
    ready = {}
    for node in nodes:
        conditions = {c.type: c.status for c in node.status.conditions or []}
        if conditions.get("Ready") == "True" and node.spec.provider_id:
            ready[node.spec.provider_id.rsplit("/", 1)[-1]] = node.metadata.name
    return ready


def aws_auth_data(product: Product) -> dict[str, str]:
    config_map = product.kube.core_v1().read_namespaced_config_map("aws-auth", "kube-system")
    return dict(config_map.data or {})


def map_roles(product: Product) -> list[dict[str, Any]]:
    return yaml.safe_load(aws_auth_data(product).get("mapRoles", "")) or []


class Recorder:
    """Wraps a handler to keep what it returned (and raised) per delivery."""

    def __init__(self, handler: Callable[[dict[str, Any], Any], dict[str, Any]]) -> None:
        self.handler = handler
        self.results: list[dict[str, Any]] = []
        self.errors: list[BaseException] = []
        self._in_flight = 0
        self._lock = threading.Lock()

    def __call__(self, event: dict[str, Any], context: Any) -> dict[str, Any]:
        with self._lock:
            self._in_flight += 1
        try:
            result = self.handler(event, context)
        except BaseException as error:
            self.errors.append(error)
            raise
        finally:
            with self._lock:
                self._in_flight -= 1
        self.results.append(result)
        return result

    def wait_idle(self, timeout: float = 90.0) -> None:
        """Until no invocation runs: one still running could act on the next test's cloud."""
        wait_for(lambda: self._in_flight == 0, timeout=timeout, message="handlers to finish")


def scale_out_with_every_event_twice(
    product: Product, launches: Recorder, profile_arn: str, count: int = 3
) -> list[str]:
    """Scale a managed group from 0 to `count` while EventBridge delivers every event twice,
    and check what must then hold whatever the cluster's authentication mode: every instance
    InService (its launch action completed with CONTINUE, never ABANDON), tagged for the
    cluster, its node Ready, and both copies of every event handled without an error. Returns
    the instances, for the mode's own checks of the node role's authorization."""
    product.aws.events.set_chaos(Chaos(duplicate=1.0, seed=7))
    try:
        group = product.make_group(desired=0, profile_arn=profile_arn)
        product.client("autoscaling").set_desired_capacity(
            AutoScalingGroupName=group, DesiredCapacity=count
        )
        instances: list[str] = wait_for(
            lambda: all_in_service(product, group, count), message=f"{count} InService"
        )

        def copies() -> dict[str, list[dict[str, Any]]]:
            return {
                i: [r for r in launches.results if r.get("instance_id") == i] for i in instances
            }

        wait_for(
            lambda: all(len(c) >= 2 for c in copies().values()),
            message="both copies of every launch event handled",
        )
    finally:
        product.aws.events.set_chaos(Chaos())
    assert not launches.errors  # the later copy finds the action completed: quiet, no failure
    assert all(s == "InService" for s in states(product, group).values())
    ready = ready_nodes_by_instance(product)
    cluster_tag = f"kubernetes.io/cluster/{product.aws.cluster_name}"
    for instance_id, results in copies().items():
        assert len(results) == 2, f"{instance_id}: {results}"
        assert all(r["status"] == "finished" for r in results), results
        steps = [r["step"] for r in results]
        assert "CompleteContinue" in steps and "Abandon" not in steps, steps
        assert instance_id in ready, f"{instance_id} has no Ready node"
        assert instance_tags(product, instance_id)[cluster_tag] == "owned"
    return instances
