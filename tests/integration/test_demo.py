"""The demo (`python -m localcloud demo`) on its own local cloud: it exits 0 only when the group
joined, the workload ran and one node was drained, and what it reports is what AWS and the
cluster show. It starts its own AwsCloud, so it runs after other modules' clouds have stopped
(module fixtures), like every module that calls `deploy()`."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path
from typing import Any

import pytest

from localcloud.cli import main
from localcloud.demo import DemoOptions, NodeAuth, run_demo
from localcloud.deployment import Product
from localcloud.kube import DEFAULT_CLUSTER_NAME
from localcloud.kube.clients import raw_json

pytestmark = pytest.mark.integration

LAUNCH = "EC2 Instance-launch Lifecycle Action"


def cloud_state(product: Product, group: str) -> dict[str, Any]:
    """What AWS and the cluster show, read with the test's own clients."""
    autoscaling, ec2 = product.client("autoscaling"), product.client("ec2")
    members = autoscaling.describe_auto_scaling_groups(AutoScalingGroupNames=[group])[
        "AutoScalingGroups"
    ][0]["Instances"]
    launched = sorted(
        {
            e["detail"]["EC2InstanceId"]
            for e in product.aws.events.published
            if e.get("detail-type") == LAUNCH and e["detail"]["AutoScalingGroupName"] == group
        }
    )
    reservations = ec2.describe_instances(InstanceIds=launched)["Reservations"]
    nodes = raw_json(product.kube.core_v1().list_node)["items"]
    return {
        "launched": launched,
        "in_service": sorted(
            m["InstanceId"] for m in members if m["LifecycleState"] == "InService"
        ),
        "ec2_states": {
            i["InstanceId"]: i["State"]["Name"] for r in reservations for i in r["Instances"]
        },
        "ready_windows_nodes": {
            n["spec"]["providerID"].rsplit("/", 1)[-1]
            for n in nodes
            if n["metadata"]["labels"].get("kubernetes.io/os") == "windows"
            and any(
                c["type"] == "Ready" and c["status"] == "True"
                for c in n["status"].get("conditions", [])
            )
        },
    }


def summary_rows(output: str) -> dict[str, str]:
    """Instance id -> its row of the summary table."""
    table = output.split("== summary", 1)[1]
    return {line.split()[0]: line for line in table.splitlines() if line.startswith("i-")}


def test_the_demo_joins_three_nodes_drains_one_and_reports_what_the_cloud_shows(
    tmp_path: Path,
) -> None:
    seen: dict[str, Any] = {}

    def inspect(product: Product, group: str) -> None:
        seen.update(cloud_state(product, group))

    out = io.StringIO()
    report_path = tmp_path / "demo.json"
    status = run_demo(
        DemoOptions(
            nodes=3,
            replicas=6,  # two pods per node: the budget holds one of the leaving node's back
            boot_seconds=0.5,
            handler_log=tmp_path / "handlers.log",
            report=report_path,
        ),
        out=out,
        on_converged=inspect,
    )
    output = out.getvalue()

    assert status == 0, output
    assert len(seen["launched"]) == 3
    assert len(seen["in_service"]) == 2
    assert set(seen["in_service"]) <= seen["ready_windows_nodes"]
    assert len(seen["ready_windows_nodes"]) == 2
    (left,) = set(seen["launched"]) - set(seen["in_service"])
    assert seen["ec2_states"][left] == "terminated"

    rows = summary_rows(output)
    assert set(rows) == set(seen["launched"])
    for instance_id, row in rows.items():
        assert "joined" in row
        assert ("drained" in row) == (instance_id == left), row
    assert "Node deleted, CONTINUE, terminated" in rows[left]
    assert "2 InService; cluster: 2 Ready Windows nodes" in output
    assert "demo passed" in output
    # The narration saw the handlers' steps, in order, for the instance that left.
    story = [line for line in output.splitlines() if left in line]
    steps = [
        r"held in Pending:Wait by the launch hook",
        rf"tagged kubernetes\.io/cluster/{DEFAULT_CLUSTER_NAME}=owned",
        r"Node ip-\S+ Ready$",
        r"launch action completed: CONTINUE",
        r"InService: joined",
        r"Terminating:Wait",
        r"Node ip-\S+ cordoned",
        r"Node ip-\S+ deleted",
        r"terminate action completed: CONTINUE",
        r"instance terminated",
    ]
    positions = [next(i for i, line in enumerate(story) if re.search(step, line)) for step in steps]
    assert positions == sorted(positions), story
    assert "authorized: access entry EC2_WINDOWS" in output

    report = json.loads(report_path.read_text())
    assert report["final"]["in_service"] == seen["in_service"]
    assert report["handler_errors"] == []
    assert report["budget_min_ready"] >= 5  # minAvailable: replicas - 1
    (drained,) = [i for i in report["instances"] if i["drained"]]
    assert drained["instance_id"] == left
    assert drained["pods_evicted"] == 2
    assert report["handler_metrics"]["scale-in"]["PodsEvicted"] == drained["pods_evicted"]
    assert (tmp_path / "handlers.log").read_text().strip()  # the handlers' own logs


def test_a_stage_that_does_not_converge_fails_with_the_reason(tmp_path: Path) -> None:
    out = io.StringIO()
    status = run_demo(
        DemoOptions(
            nodes=2,
            auth=NodeAuth.AWS_AUTH,
            boot_seconds=0.5,
            join_timeout=0.01,
            handler_log=tmp_path / "handlers.log",
        ),
        out=out,
    )
    output = out.getvalue()
    assert status == 1
    assert "demo FAILED during scale-out" in output
    assert "--join-timeout" in output
    assert "demo passed" not in output


def test_invalid_options_exit_2_before_starting_anything(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["demo", "--nodes", "1", "--replicas", "1"]) == 2
    err = capsys.readouterr().err
    assert "--nodes must be between 2 and 10" in err
    assert "--replicas must be at least 2" in err
