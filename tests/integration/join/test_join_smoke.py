"""Join with the smoke test enabled: a Windows pod pinned to the new node must run to completion
before the launch action completes with CONTINUE; a node that cannot run it is ABANDONed; the pod
is removed afterwards (by the reconciler when it was left behind), and duplicated or lost events
still start exactly one pod per node."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from kubernetes.client.exceptions import ApiException

from localcloud.aws.events import Chaos
from localcloud.deployment import Product, deploy
from localcloud.kube import Workloads
from localcloud.kube.clients import raw_json
from tests.helpers.waiting import wait_for
from tests.integration.join.helpers import (
    PodHistory,
    Recorder,
    all_in_service,
    emitted_metric,
    launch_events,
    ready_nodes_by_instance,
    scale_out_with_every_event_twice,
    states,
)
from winnodes.adapters.clock import SystemClock
from winnodes.decisions.smoke import (
    DEFAULT_SMOKE_TEST_NAMESPACE,
    INSTANCE_ID_LABEL,
    LEFTOVER_MIN_AGE,
    smoke_pod_manifest,
)
from winnodes.models.identifiers import InstanceId

pytestmark = pytest.mark.integration

# The groups' AMI is Windows Server 2022: its nodes report build 10.0.20348.
LTSC2022 = "mcr.microsoft.com/windows/nanoserver:ltsc2022"


@pytest.fixture(scope="module")
def product() -> Iterator[Product]:
    with deploy(authentication_mode="API_AND_CONFIG_MAP") as product:
        product.configure(SMOKE_TEST_ENABLED="true")
        yield product


@pytest.fixture
def launches(product: Product) -> Iterator[Recorder]:
    with launch_events(product) as recorder:
        yield recorder


@pytest.fixture
def smoke_pods(product: Product) -> Iterator[PodHistory]:
    with PodHistory(product, DEFAULT_SMOKE_TEST_NAMESPACE) as history:
        yield history


def smoke_pod(product: Product, instance_id: str) -> dict[str, Any] | None:
    try:
        pod: dict[str, Any] = raw_json(
            product.kube.core_v1().read_namespaced_pod,
            f"winnodes-smoke-{instance_id}",
            DEFAULT_SMOKE_TEST_NAMESPACE,
        )
    except ApiException as error:
        if error.status == 404:
            return None
        raise
    return pod


def phase(pod: dict[str, Any] | None) -> str | None:
    return (pod.get("status") or {}).get("phase") if pod else None


def created(history: PodHistory, instance_id: str) -> list[dict[str, Any]]:
    return [pod for kind, pod in history.of(INSTANCE_ID_LABEL, instance_id) if kind == "ADDED"]


def ran_once_and_was_removed(
    product: Product, history: PodHistory, instance_id: str, ended: str
) -> dict[str, Any]:
    """The node's one smoke pod, which reached phase `ended` and is gone now."""
    wait_for(lambda: smoke_pod(product, instance_id) is None, message="smoke pod removed")
    (pod,) = created(history, instance_id)
    assert ended in history.phases(INSTANCE_ID_LABEL, instance_id)
    assert history.of(INSTANCE_ID_LABEL, instance_id)[-1][0] == "DELETED"
    return pod


def launch_one(product: Product, profile_arn: str, workloads: Workloads) -> tuple[str, str]:
    """A managed group whose nodes run pods as `workloads` says, scaled to one instance."""
    group = product.make_group(desired=0, profile_arn=profile_arn)
    product.aws.boot.workloads[group] = workloads
    product.client("autoscaling").set_desired_capacity(
        AutoScalingGroupName=group, DesiredCapacity=1
    )
    (instance_id,) = wait_for(lambda: list(states(product, group)), message="instance launched")
    return group, instance_id


def finished(launches: Recorder, instance_id: str) -> dict[str, Any] | None:
    return next(
        (
            r
            for r in launches.results
            if r.get("instance_id") == instance_id and r["status"] == "finished"
        ),
        None,
    )


def test_continue_waits_for_the_smoke_pod_pinned_to_the_node_which_is_then_removed(
    product: Product, launches: Recorder, node_role: tuple[str, str], smoke_pods: PodHistory
) -> None:
    _, profile_arn = node_role
    group, instance_id = launch_one(product, profile_arn, Workloads.HANG)

    pod = wait_for(
        lambda: p if (p := smoke_pod(product, instance_id)) and phase(p) == "Running" else None,
        message="the smoke pod runs",
    )
    spec = pod["spec"]
    assert spec["nodeName"] == ready_nodes_by_instance(product)[instance_id]
    assert spec["nodeSelector"] == {"kubernetes.io/os": "windows"}
    assert spec["tolerations"] == [{"operator": "Exists"}]
    assert spec["restartPolicy"] == "Never"
    assert spec["containers"][0]["image"] == LTSC2022
    # A reconciler tick decides while the pod still runs: the gate holds.
    product.tick()
    assert states(product, group)[instance_id] == "Pending:Wait"
    assert finished(launches, instance_id) is None

    node = product.kube.nodes.get(instance_id)
    assert node is not None
    node.workloads = Workloads.COMPLETE

    wait_for(lambda: all_in_service(product, group, 1), message="InService")
    result = wait_for(lambda: finished(launches, instance_id), message="the handler finished")
    assert result["step"] == "CompleteContinue"
    ran_once_and_was_removed(product, smoke_pods, instance_id, "Succeeded")
    assert not launches.errors


def test_a_node_that_cannot_run_the_smoke_pod_is_abandoned_with_the_reason_and_a_metric(
    product: Product,
    launches: Recorder,
    node_role: tuple[str, str],
    smoke_pods: PodHistory,
    capsys: pytest.CaptureFixture[str],
) -> None:
    _, profile_arn = node_role
    capsys.readouterr()
    group, instance_id = launch_one(product, profile_arn, Workloads.FAIL)
    try:
        result = wait_for(lambda: finished(launches, instance_id), message="action finished")
    finally:
        # Every replacement would fail the same way: stop the group relaunching.
        product.client("autoscaling").set_desired_capacity(
            AutoScalingGroupName=group, DesiredCapacity=0
        )
    assert result["step"] == "Abandon"
    assert result["reason"] == (
        "smoke test failed on the new node: smoke pod failed: exit code 1, Error"
    )
    assert states(product, group).get(instance_id) != "InService"
    output = capsys.readouterr().out
    assert emitted_metric(output, "SmokeTestFailed") >= 1
    assert emitted_metric(output, "JoinAbandoned") >= 1
    assert emitted_metric(output, "NodeJoined") == 0
    ran_once_and_was_removed(product, smoke_pods, instance_id, "Failed")


def test_every_event_delivered_twice_starts_one_smoke_pod_per_node(
    product: Product, launches: Recorder, node_role: tuple[str, str], smoke_pods: PodHistory
) -> None:
    _, profile_arn = node_role
    instances = scale_out_with_every_event_twice(product, launches, profile_arn, count=2)
    for instance_id in instances:
        ran_once_and_was_removed(product, smoke_pods, instance_id, "Succeeded")


def test_a_lost_launch_event_is_smoke_tested_by_the_reconciler_with_the_operators_image(
    product: Product, launches: Recorder, node_role: tuple[str, str], smoke_pods: PodHistory
) -> None:
    _, profile_arn = node_role
    image = "registry.internal:5000/windows/smoke:ltsc2022"
    product.configure(SMOKE_TEST_IMAGE=image)
    product.aws.events.set_chaos(Chaos(drop=1.0, seed=3))
    try:
        group, instance_id = launch_one(product, profile_arn, Workloads.COMPLETE)

        def reconciled() -> bool:
            product.tick()
            return states(product, group).get(instance_id) == "InService"

        wait_for(reconciled, message="the reconciler completes the launch action")
    finally:
        product.configure(SMOKE_TEST_IMAGE="")
    assert launches.results == []  # the event never arrived
    # The tick that completed the action removed the pod before it returned.
    assert smoke_pod(product, instance_id) is None
    pod = ran_once_and_was_removed(product, smoke_pods, instance_id, "Succeeded")
    assert pod["spec"]["containers"][0]["image"] == image


def test_the_reconciler_removes_a_smoke_pod_left_behind_and_keeps_a_running_gate(
    product: Product,
    launches: Recorder,
    node_role: tuple[str, str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _, profile_arn = node_role
    done_group, done = launch_one(product, profile_arn, Workloads.COMPLETE)
    wait_for(lambda: all_in_service(product, done_group, 1), message="InService")
    wait_for(lambda: smoke_pod(product, done) is None, message="its smoke pod removed")
    waiting_group, waiting = launch_one(product, profile_arn, Workloads.HANG)
    try:
        wait_for(
            lambda: phase(smoke_pod(product, waiting)) == "Running", message="a gate that holds"
        )
        # The completed action's pod is back, as when deleting it had failed.
        left_behind = smoke_pod_manifest(
            instance_id=InstanceId(done),
            node_name=ready_nodes_by_instance(product)[done],
            namespace=DEFAULT_SMOKE_TEST_NAMESPACE,
            image=LTSC2022,
        )
        product.kube.core_v1().create_namespaced_pod(DEFAULT_SMOKE_TEST_NAMESPACE, left_behind)

        assert product.tick()["smoke_pods_removed"] == 0  # too young: it may be a join's own
        assert smoke_pod(product, done) is not None

        later = datetime.now(UTC) + LEFTOVER_MIN_AGE + timedelta(seconds=30)
        monkeypatch.setattr(SystemClock, "now", lambda self: later)
        report = product.tick()

        assert report["smoke_pods_removed"] == 1 and report["errors"] == []
        wait_for(lambda: smoke_pod(product, done) is None, message="the leftover deleted")
        assert phase(smoke_pod(product, waiting)) == "Running"  # its action still awaits
        assert states(product, waiting_group)[waiting] == "Pending:Wait"
    finally:
        monkeypatch.undo()
        waiting_node = product.kube.nodes.get(waiting)
        assert waiting_node is not None
        waiting_node.workloads = Workloads.COMPLETE
    wait_for(lambda: all_in_service(product, waiting_group, 1), message="the gate passes")
