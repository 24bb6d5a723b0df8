"""Join on the local cloud: latency from node Ready to CONTINUE, API calls per launch event, and
one reconciler pass over many groups. Prints the figures and writes bench/results/join.json.

    .venv/bin/python bench/join.py [--nodes 5] [--groups 50] [--instances-per-group 10]

Targets (join issue): Ready -> CONTINUE median <= 3 s; a reconciler pass over 50 groups / 500
instances well under a minute, its calls growing with pages rather than instances squared.
The handler polls every 2 s (JOIN_POLL_SECONDS), the code's default: the template leaves it
unset."""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).parents[1]
sys.path.insert(0, str(ROOT))

from localcloud.aws.events import LambdaContext  # noqa: E402
from localcloud.deployment import Product, deploy, lambda_context  # noqa: E402
from winnodes import wiring  # noqa: E402
from winnodes.adapters.kube.api import JsonObject, KubeApi  # noqa: E402
from winnodes.services.fleet import FleetView  # noqa: E402
from winnodes.services.join import JoinResult, JoinService, LaunchAction  # noqa: E402

RESULTS = ROOT / "bench" / "results"
LAUNCH_PATTERN = {
    "source": ["aws.autoscaling"],
    "detail-type": ["EC2 Instance-launch Lifecycle Action"],
}


def progress(message: str) -> None:
    print(f"[bench] {message}", file=sys.stderr, flush=True)


class CallCounter:
    """AWS calls (botocore before-call events) and Kubernetes requests, tagged with the kind of
    join step they served."""

    def __init__(self) -> None:
        self.calls: Counter[tuple[str, str]] = Counter()
        self.phase = "setup"

    def aws(self, event_name: str = "", **_: Any) -> None:
        self.calls[(self.phase, "aws:" + event_name.removeprefix("before-call."))] += 1

    def kube(self, method: str, path: str) -> None:
        self.calls[(self.phase, f"kube:{method} {path.split('?', 1)[0]}")] += 1

    def total(self, phase: str | None = None) -> int:
        return sum(n for (p, _), n in self.calls.items() if phase is None or p == phase)


@contextmanager
def counting(counter: CallCounter) -> Iterator[None]:
    clients = list(wiring.aws_clients().values())
    for client in clients:
        client.meta.events.register("before-call", counter.aws)
    original_request = KubeApi._request
    original_advance = JoinService.advance

    def request(self: KubeApi, method: str, path: str, **kwargs: Any) -> JsonObject:
        counter.kube(method, path)
        return original_request(self, method, path, **kwargs)

    def advance(
        self: JoinService, action: LaunchAction, view: FleetView | None = None
    ) -> JoinResult:
        counter.phase = "step"
        result = original_advance(self, action, view)
        # Calls made by a step that only waited are readiness polls.
        if type(result.step).__name__ == "WaitForNode":
            for (phase, name), n in list(counter.calls.items()):
                if phase == "step":
                    counter.calls[("poll", name)] += n
                    del counter.calls[(phase, name)]
        else:
            for (phase, name), n in list(counter.calls.items()):
                if phase == "step":
                    counter.calls[("work", name)] += n
                    del counter.calls[(phase, name)]
        counter.phase = "setup"
        return result

    # Counting wraps the product's own methods while the benchmark runs: patched on purpose.
    KubeApi._request = request  # type: ignore[method-assign]
    JoinService.advance = advance  # type: ignore[method-assign]
    try:
        yield
    finally:
        KubeApi._request = original_request  # type: ignore[method-assign]
        JoinService.advance = original_advance  # type: ignore[method-assign]
        for client in clients:
            client.meta.events.unregister("before-call", counter.aws)


def ready_to_continue(product: Product, nodes: int) -> dict[str, Any]:
    _, profile_arn = product.aws.create_node_role("bench-latency")
    product.aws.events.put_rule("join", event_pattern=LAUNCH_PATTERN)
    product.aws.events.put_target("join", product.lifecycle, target_id="lifecycle")
    group = product.make_group(desired=0, profile_arn=profile_arn)
    autoscaling = product.client("autoscaling")
    autoscaling.set_desired_capacity(AutoScalingGroupName=group, DesiredCapacity=nodes)
    ready_at: dict[str, float] = {}
    continued_at: dict[str, float] = {}
    deadline = time.monotonic() + 300
    while len(continued_at) < nodes and time.monotonic() < deadline:
        now = time.monotonic()
        for node in product.kube.core_v1().list_node().items:
            conditions = {c.type: c.status for c in node.status.conditions or []}
            instance = (node.spec.provider_id or "").rsplit("/", 1)[-1]
            if conditions.get("Ready") == "True":
                ready_at.setdefault(instance, now)
        found = autoscaling.describe_auto_scaling_groups(AutoScalingGroupNames=[group])
        for member in found["AutoScalingGroups"][0]["Instances"]:
            if member["LifecycleState"] != "Pending:Wait" and member["InstanceId"] in ready_at:
                continued_at.setdefault(member["InstanceId"], now)
        time.sleep(0.05)
    product.aws.events.remove_rule("join")
    latencies = [continued_at[i] - ready_at[i] for i in continued_at]
    return {
        "nodes": nodes,
        "joined": len(continued_at),
        "ready_to_continue_median_s": statistics.median(latencies) if latencies else None,
        "ready_to_continue_max_s": max(latencies) if latencies else None,
        "target_median_s": 3.0,
    }


def calls_per_launch(product: Product) -> dict[str, Any]:
    _, profile_arn = product.aws.create_node_role("bench-calls")
    counter = CallCounter()
    events: list[dict[str, Any]] = []
    product.aws.events.put_rule("capture", event_pattern=LAUNCH_PATTERN)

    def capture(event: dict[str, Any], _: LambdaContext) -> dict[str, Any]:
        events.append(event)
        return {}

    product.aws.events.put_target("capture", capture)
    group = product.make_group(desired=1, profile_arn=profile_arn)
    wait(lambda: events, "the launch event")
    product.aws.events.remove_rule("capture")
    wiring.reset()
    with counting(counter):
        result = product.lifecycle(events[0], lambda_context("lifecycle"))
    assert result["step"] == "CompleteContinue", result
    del group
    return {
        "result": result,
        "aws_calls_excluding_polls": sum(
            n for (p, name), n in counter.calls.items() if p != "poll" and name.startswith("aws:")
        ),
        "kube_calls_excluding_polls": sum(
            n for (p, name), n in counter.calls.items() if p != "poll" and name.startswith("kube:")
        ),
        "readiness_poll_calls": counter.total("poll"),
        "calls": {f"{p} {name}": n for (p, name), n in sorted(counter.calls.items())},
    }


def reconcile_pass(product: Product, groups: int, per_group: int) -> dict[str, Any]:
    _, profile_arn = product.aws.create_node_role("bench-scale")
    # User data for another cluster: instances stay in Pending:Wait with no kubelet, so the
    # pass has real work (tag, authorize, observe) for every one of them.
    user_data = product.user_data(cluster="not-this-cluster")
    names = []
    for index in range(groups):
        names.append(
            product.make_group(
                desired=per_group, profile_arn=profile_arn, heartbeat=7200, user_data=user_data
            )
        )
        if (index + 1) % 10 == 0:
            progress(f"created {index + 1}/{groups} groups")
    autoscaling = product.client("autoscaling")

    def all_waiting() -> bool:
        pages = autoscaling.get_paginator("describe_auto_scaling_groups").paginate(
            AutoScalingGroupNames=names
        )
        waiting = sum(
            1
            for page in pages
            for g in page["AutoScalingGroups"]
            for i in g["Instances"]
            if i["LifecycleState"] == "Pending:Wait"
        )
        return waiting == groups * per_group

    wait(all_waiting, "every instance in Pending:Wait", timeout=600)
    wiring.reset()
    counter = CallCounter()
    passes = []
    with counting(counter):
        for _ in range(2):  # first pass tags, authorizes and observes; the second observes
            started = time.perf_counter()
            report = product.tick()
            passes.append(
                {
                    "seconds": time.perf_counter() - started,
                    "launch_actions": report["launch_actions"],
                    "errors": len(report["errors"]),
                    # Work left for the next pass: the invocation's 120 s ran short.
                    "deferred": len(report["deferred"]),
                }
            )
    return {
        "groups": groups,
        "instances": groups * per_group,
        "passes": passes,
        "calls_over_both_passes": counter.total(),
        "calls_by_operation": Counter(
            {name: n for (_, name), n in counter.calls.items()}
        ).most_common(12),
    }


def wait(predicate: Callable[[], Any], what: str, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise SystemExit(f"timed out waiting for {what}")
        time.sleep(0.1)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],  # the first paragraph: the usage line follows
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument(
        "--nodes", type=int, default=5, help="nodes joined for the Ready → CONTINUE latency"
    )
    parser.add_argument("--groups", type=int, default=50, help="groups in the reconciler pass")
    parser.add_argument(
        "--instances-per-group", type=int, default=10, help="pending instances per group"
    )
    args = parser.parse_args()
    progress("starting the local cloud and deploying the product")
    with deploy(authentication_mode="API_AND_CONFIG_MAP") as product:
        product.configure(JOIN_POLL_SECONDS="2", JOIN_WAIT_BUDGET_SECONDS="120")
        progress(f"Ready -> CONTINUE over {args.nodes} nodes")
        latency = ready_to_continue(product, args.nodes)
        progress("calls for one launch event")
        calls = calls_per_launch(product)
        progress(f"reconciler pass over {args.groups} groups x {args.instances_per_group}")
        product.configure(JOIN_WAIT_BUDGET_SECONDS="1")
        scale = reconcile_pass(product, args.groups, args.instances_per_group)
    result = {"ready_to_continue": latency, "calls_per_launch": calls, "reconcile": scale}
    print(
        f"Ready -> CONTINUE: median {latency['ready_to_continue_median_s']:.2f} s, "
        f"max {latency['ready_to_continue_max_s']:.2f} s over {latency['joined']} nodes "
        "(target median <= 3 s)"
    )
    print(
        f"one launch event: {calls['aws_calls_excluding_polls']} AWS + "
        f"{calls['kube_calls_excluding_polls']} Kubernetes calls excluding readiness polls; "
        f"{calls['readiness_poll_calls']} calls in readiness polls"
    )
    for number, one in enumerate(scale["passes"], 1):
        print(
            f"reconciler pass {number}: {one['seconds']:.1f} s for {scale['instances']} "
            f"instances in {scale['groups']} groups ({one['launch_actions']} pending actions, "
            f"{one['errors']} errors, {one['deferred']} deferred)"
        )
    print(f"calls over both passes: {scale['calls_over_both_passes']}")
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "join.json").write_text(json.dumps(result, indent=2, default=str) + "\n")


if __name__ == "__main__":
    main()
