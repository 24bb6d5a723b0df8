"""Small readers of the local cloud's state for the join tests."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import yaml
from kubernetes import watch

from localcloud.aws.autoscaling import LAUNCHING
from localcloud.aws.events import Chaos
from localcloud.deployment import Product
from tests.helpers.waiting import wait_for

LAUNCH_PATTERN = {
    "source": ["aws.autoscaling"],
    "detail-type": ["EC2 Instance-launch Lifecycle Action"],
}
# What the template's rule matches: launch and terminate actions.
LIFECYCLE_PATTERN = {
    "source": ["aws.autoscaling"],
    "detail-type": [
        "EC2 Instance-launch Lifecycle Action",
        "EC2 Instance-terminate Lifecycle Action",
    ],
}


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


def assert_continued_once_ready(product: Product, instances: list[str]) -> None:
    """Safety rule 3: each launch action was completed with CONTINUE once, and only after its
    node turned Ready; the simulated kubelets report NotReady for a while first, as Windows
    kubelets do while their network comes up."""
    for instance_id in instances:
        continued = [
            c
            for c in product.aws.engine.completions
            if c.instance_id == instance_id and c.transition == LAUNCHING and c.result == "CONTINUE"
        ]
        node = product.kube.nodes.get(instance_id)
        assert node is not None and node.ready_since is not None, instance_id
        assert len(continued) == 1, (instance_id, continued)
        assert continued[0].at >= node.ready_since, (instance_id, continued[0], node.ready_since)


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


@contextmanager
def launch_events(product: Product) -> Iterator[Recorder]:
    """The lifecycle handler receives the launch events while this lasts; it records them."""
    with lifecycle_events(product, pattern=LAUNCH_PATTERN, rule="join") as recorder:
        yield recorder


@contextmanager
def lifecycle_events(
    product: Product, *, pattern: dict[str, Any] = LIFECYCLE_PATTERN, rule: str = "lifecycle"
) -> Iterator[Recorder]:
    """The lifecycle handler receives the events `pattern` matches (by default the launch and
    terminate actions, as the template's rule) while this lasts; it records them."""
    recorder = Recorder(product.lifecycle)
    product.aws.events.put_rule(rule, event_pattern=pattern)
    product.aws.events.put_target(rule, recorder, target_id="lifecycle")
    try:
        yield recorder
    finally:
        product.aws.events.remove_rule(rule)
        recorder.wait_idle()
        product.aws.events.set_chaos(Chaos())


def warm_pool(product: Product, group: str) -> dict[str, str]:
    """Instance id -> lifecycle state, as DescribeWarmPool lists the group's pool."""
    pages = (
        product.client("autoscaling")
        .get_paginator("describe_warm_pool")
        .paginate(AutoScalingGroupName=group)
    )
    return {i["InstanceId"]: i["LifecycleState"] for p in pages for i in p["Instances"]}


@contextmanager
def one_instance_with_a_short_deadline(
    product: Product, profile_arn: str, *, deadline_seconds: int = 4, user_data: str | None = None
) -> Iterator[tuple[str, str]]:
    """A managed group of one instance whose join deadline is `deadline_seconds`: its name and
    the instance. Afterwards the group is scaled to 0 (replacements for an abandoned instance
    would keep the handler busy) and the default deadline is back."""
    product.configure(JOIN_DEADLINE_SECONDS=str(deadline_seconds))
    group = product.make_group(desired=1, profile_arn=profile_arn, user_data=user_data)
    try:
        wait_for(lambda: states(product, group), message="instance launched")
        (instance_id,) = states(product, group)
        yield group, instance_id
    finally:
        product.client("autoscaling").set_desired_capacity(
            AutoScalingGroupName=group, DesiredCapacity=0
        )
        product.configure(JOIN_DEADLINE_SECONDS="1200")


def wait_for_abandon(launches: Recorder, instance_id: str) -> None:
    wait_for(
        lambda: any(
            r.get("instance_id") == instance_id and r.get("step") == "Abandon"
            for r in launches.results
        ),
        message=f"ABANDON of {instance_id}",
    )


def scale_out_with_every_event_lost(
    product: Product, profile_arn: str, count: int, *, seed: int = 3
) -> tuple[str, list[str]]:
    """A managed group scaled from 0 to `count` while EventBridge drops every event (the launch
    actions stay pending for the reconciler): its name and its instances, sorted."""
    product.aws.events.set_chaos(Chaos(drop=1.0, seed=seed))
    group = product.make_group(desired=0, profile_arn=profile_arn)
    product.client("autoscaling").set_desired_capacity(
        AutoScalingGroupName=group, DesiredCapacity=count
    )

    def launched() -> list[str]:
        current = sorted(states(product, group))
        return current if len(current) == count else []

    return group, wait_for(launched, message=f"{count} instances launched")


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


def emitted_metric(output: str, name: str) -> float:
    """Sum of one metric over the EMF records the handlers printed."""
    total = 0.0
    for line in output.splitlines():
        if not line.startswith("{") or '"_aws"' not in line:
            continue
        record = json.loads(line)
        value = record.get(name)
        if value is not None:
            total += sum(value) if isinstance(value, list) else value
    return total


class PodHistory:
    """Every change to the pods of one namespace while it watches, as (event type, pod object)
    in the API server's order. A watch from the namespace's current resourceVersion misses no
    pod, however short-lived."""

    def __init__(self, product: Product, namespace: str) -> None:
        self._core = product.kube.core_v1()
        self._namespace = namespace
        self.events: list[tuple[str, dict[str, Any]]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, name="pod-history", daemon=True)
        self._resource_version = ""
        self.error: str | None = None

    def __enter__(self) -> PodHistory:
        listed = self._core.list_namespaced_pod(self._namespace)
        self._resource_version = listed.metadata.resource_version
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def _watch(self) -> None:
        while not self._stop.is_set():
            stream = watch.Watch().stream(
                self._core.list_namespaced_pod,
                self._namespace,
                resource_version=self._resource_version,
                timeout_seconds=1,
            )
            for event in stream:
                if event["type"] == "ERROR":  # e.g. 410 Gone: the history would have a gap
                    self.error = str(event["raw_object"])
                    return
                pod = event["raw_object"]
                self._resource_version = pod["metadata"]["resourceVersion"]
                self.events.append((event["type"], pod))

    def of(self, label: str, value: str) -> list[tuple[str, dict[str, Any]]]:
        """The events of pods labelled `label=value`."""
        assert self.error is None, f"pod watch failed: {self.error}"
        return [
            (kind, pod)
            for kind, pod in list(self.events)
            if (pod["metadata"].get("labels") or {}).get(label) == value
        ]

    def phases(self, label: str, value: str) -> list[str]:
        return [(pod.get("status") or {}).get("phase", "") for _, pod in self.of(label, value)]
