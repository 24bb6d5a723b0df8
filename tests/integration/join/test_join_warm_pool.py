"""Join with a warm pool: launches into the pool are released with CONTINUE without joining; a
scale-out draws on the pool and each instance then joins and is completed with CONTINUE, also
one kept running in the pool for hours (its EC2 LaunchTime that old)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from moto.ec2.models import ec2_backends

from localcloud.aws.autoscaling import STATE_LOCK
from localcloud.aws.events import Chaos
from localcloud.deployment import Product, deploy
from tests.helpers.waiting import wait_for
from tests.integration.join.helpers import (
    Recorder,
    all_in_service,
    launch_events,
    ready_nodes_by_instance,
    states,
)

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def product() -> Iterator[Product]:
    with deploy(authentication_mode="API_AND_CONFIG_MAP") as product:
        yield product


@pytest.fixture
def launches(product: Product) -> Iterator[Recorder]:
    with launch_events(product) as recorder:
        yield recorder


def warm_pool(product: Product, group: str) -> dict[str, str]:
    pages = (
        product.client("autoscaling")
        .get_paginator("describe_warm_pool")
        .paginate(AutoScalingGroupName=group)
    )
    return {i["InstanceId"]: i["LifecycleState"] for p in pages for i in p["Instances"]}


def filled(product: Product, group: str, count: int, state: str) -> list[str]:
    pool = warm_pool(product, group)
    ready = sorted(i for i, s in pool.items() if s == state)
    return ready if len(ready) == count else []


def steps(launches: Recorder, instance_id: str) -> list[str]:
    return [r["step"] for r in launches.results if r.get("instance_id") == instance_id]


def wait_for_steps(launches: Recorder, instance_id: str, *, last: list[str]) -> None:
    """The handler records its result only after completing the action, which moves the
    instance on at once: a test that saw the move waits for the record."""
    wait_for(
        lambda: steps(launches, instance_id)[-len(last) :] == last,
        message=f"{instance_id}: {last}",
    )


def launched_hours_ago(product: Product, instance_id: str, hours: int) -> None:
    """As if the instance had been launched `hours` ago (EC2's LaunchTime)."""
    with STATE_LOCK:
        backend = ec2_backends[product.aws.account_id][product.aws.region]
        instance = backend.get_instance_by_id(instance_id)
        assert instance is not None, instance_id
        instance.launch_time = (datetime.now(UTC) - timedelta(hours=hours)).replace(tzinfo=None)


def test_a_stopped_pool_is_filled_without_joining_and_scale_out_joins_its_instances(
    product: Product, launches: Recorder, node_role: tuple[str, str]
) -> None:
    _, profile_arn = node_role
    group = product.make_group(desired=0, profile_arn=profile_arn)
    autoscaling = product.client("autoscaling")
    autoscaling.put_warm_pool(
        AutoScalingGroupName=group, MaxGroupPreparedCapacity=2, PoolState="Stopped"
    )

    warm = wait_for(lambda: filled(product, group, 2, "Warmed:Stopped"), message="pool filled")
    for instance_id in warm:
        wait_for_steps(launches, instance_id, last=["ReleaseToWarmPool"])
    assert all(steps(launches, i) == ["ReleaseToWarmPool"] for i in warm)
    assert not set(warm) & set(ready_nodes_by_instance(product))

    autoscaling.set_desired_capacity(AutoScalingGroupName=group, DesiredCapacity=2)

    joined = wait_for(lambda: all_in_service(product, group, 2), message="2 InService")
    assert joined == warm  # drawn from the pool, not launched anew
    assert set(joined) <= set(ready_nodes_by_instance(product))
    for instance_id in joined:
        wait_for_steps(launches, instance_id, last=["CompleteContinue"])
    assert not launches.errors
    autoscaling.delete_warm_pool(AutoScalingGroupName=group)
    autoscaling.set_desired_capacity(AutoScalingGroupName=group, DesiredCapacity=0)


def running_pool_instance_hours_old(
    product: Product, launches: Recorder, profile_arn: str
) -> tuple[str, str]:
    """A managed group with a Running warm pool of one instance, launched three hours ago and
    released into the pool: the group's name and the instance."""
    group = product.make_group(desired=0, profile_arn=profile_arn)
    product.client("autoscaling").put_warm_pool(
        AutoScalingGroupName=group, MaxGroupPreparedCapacity=1, PoolState="Running"
    )
    (warm,) = wait_for(lambda: filled(product, group, 1, "Warmed:Running"), message="pool filled")
    wait_for_steps(launches, warm, last=["ReleaseToWarmPool"])
    launched_hours_ago(product, warm, 3)
    return group, warm


def test_a_running_pool_instance_drawn_hours_after_its_launch_joins(
    product: Product, launches: Recorder, node_role: tuple[str, str]
) -> None:
    _, profile_arn = node_role
    group, warm = running_pool_instance_hours_old(product, launches, profile_arn)

    product.client("autoscaling").set_desired_capacity(
        AutoScalingGroupName=group, DesiredCapacity=1
    )

    assert wait_for(lambda: all_in_service(product, group, 1), message="InService") == [warm]
    wait_for_steps(launches, warm, last=["CompleteContinue"])
    assert steps(launches, warm) == ["ReleaseToWarmPool", "CompleteContinue"]
    assert warm in ready_nodes_by_instance(product)
    product.client("autoscaling").set_desired_capacity(
        AutoScalingGroupName=group, DesiredCapacity=0
    )


def test_the_reconciler_joins_a_running_pool_instance_whose_launch_event_was_lost(
    product: Product, launches: Recorder, node_role: tuple[str, str]
) -> None:
    _, profile_arn = node_role
    group, warm = running_pool_instance_hours_old(product, launches, profile_arn)
    product.aws.events.set_chaos(Chaos(drop=1.0, seed=11))

    product.client("autoscaling").set_desired_capacity(
        AutoScalingGroupName=group, DesiredCapacity=1
    )

    def reconciled() -> bool:
        report = product.tick()
        assert "Abandon" not in report["outcomes"]
        return states(product, group).get(warm) == "InService"

    wait_for(reconciled, message="the reconciler completes the launch action")
    assert steps(launches, warm) == ["ReleaseToWarmPool"]  # the later event never arrived
    assert warm in ready_nodes_by_instance(product)
    product.client("autoscaling").set_desired_capacity(
        AutoScalingGroupName=group, DesiredCapacity=0
    )
