"""Join with a warm pool: a launch into the pool is prepared (tagged, role authorized) and held
until its node registered, its bootstrap done, then its node is cordoned and the launch released
with CONTINUE; a scale-out draws on the pool and each instance then joins, its node uncordoned
and the action completed with CONTINUE once Ready, also one kept running in the pool for hours
(its EC2 LaunchTime that old). The local cloud's instances run their user data on the first
boot only, as EC2Launch does: released before its node registered, a Stopped pool instance
would never register once drawn."""

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
    warm_pool,
)
from winnodes.adapters.kube.cluster import WARM_POOL_HOLD_ANNOTATION

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def product() -> Iterator[Product]:
    with deploy(authentication_mode="API_AND_CONFIG_MAP") as product:
        yield product


@pytest.fixture
def launches(product: Product) -> Iterator[Recorder]:
    with launch_events(product) as recorder:
        yield recorder


def registered_nodes_by_instance(product: Product) -> dict[str, str]:
    return {
        node.spec.provider_id.rsplit("/", 1)[-1]: node.metadata.name
        for node in product.kube.core_v1().list_node().items
        if node.spec.provider_id
    }


def held_for_warm_pool(product: Product, instance_id: str) -> bool:
    """The instance's Node is cordoned, with the join's mark: it takes no pods."""
    name = registered_nodes_by_instance(product)[instance_id]
    node = product.kube.core_v1().read_node(name)
    marked = WARM_POOL_HOLD_ANNOTATION in (node.metadata.annotations or {})
    assert marked == bool(node.spec.unschedulable), (name, node.spec.unschedulable)
    return marked


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
    # Released only once bootstrapped: each stopped instance has its Node, cordoned, which
    # turns NotReady.
    assert set(warm) <= set(registered_nodes_by_instance(product))
    assert all(held_for_warm_pool(product, i) for i in warm)
    wait_for(
        lambda: not set(warm) & set(ready_nodes_by_instance(product)), message="nodes NotReady"
    )

    autoscaling.set_desired_capacity(AutoScalingGroupName=group, DesiredCapacity=2)

    joined = wait_for(lambda: all_in_service(product, group, 2), message="2 InService")
    assert joined == warm  # drawn from the pool, not launched anew
    assert set(joined) <= set(ready_nodes_by_instance(product))
    assert not any(held_for_warm_pool(product, i) for i in joined)  # uncordoned to serve
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
    # Its node turns Ready in the running pool (the launch into the pool completed once it
    # registered), but stays cordoned: no pods before it is drawn.
    wait_for(lambda: warm in ready_nodes_by_instance(product), message="Ready in the pool")
    assert held_for_warm_pool(product, warm)
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
    assert not held_for_warm_pool(product, warm)
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
    assert not held_for_warm_pool(product, warm)
    product.client("autoscaling").set_desired_capacity(
        AutoScalingGroupName=group, DesiredCapacity=0
    )


def test_the_reconciler_releases_a_launch_into_the_pool_once_its_node_registered(
    product: Product, launches: Recorder, node_role: tuple[str, str]
) -> None:
    _, profile_arn = node_role
    product.aws.events.set_chaos(Chaos(drop=1.0, seed=5))  # the launch event is lost
    group = product.make_group(desired=0, profile_arn=profile_arn)
    product.client("autoscaling").put_warm_pool(
        AutoScalingGroupName=group, MaxGroupPreparedCapacity=1, PoolState="Stopped"
    )

    def reconciled() -> list[str]:
        report = product.tick()
        assert "Abandon" not in report["outcomes"]
        return filled(product, group, 1, "Warmed:Stopped")

    (warm,) = wait_for(reconciled, message="the reconciler releases the launch into the pool")
    assert held_for_warm_pool(product, warm)
    assert steps(launches, warm) == []  # no event arrived
    product.client("autoscaling").delete_warm_pool(AutoScalingGroupName=group)


def test_a_launch_into_the_pool_never_bootstrapped_is_abandoned_at_its_launch_deadline(
    product: Product, launches: Recorder, node_role: tuple[str, str]
) -> None:
    # Its event lost, the reconciler alone sees it: its deadline counts from EC2's LaunchTime
    # (the launch into the pool), not from each pass's first sight, so it ends.
    _, profile_arn = node_role
    product.aws.events.set_chaos(Chaos(drop=1.0, seed=7))
    product.configure(JOIN_DEADLINE_SECONDS="4")
    group = product.make_group(
        desired=0,
        profile_arn=profile_arn,
        user_data=product.user_data(cluster="elsewhere"),  # its node never registers here
    )
    autoscaling = product.client("autoscaling")
    try:
        autoscaling.put_warm_pool(
            AutoScalingGroupName=group, MaxGroupPreparedCapacity=1, PoolState="Stopped"
        )
        (first,) = wait_for(lambda: list(warm_pool(product, group)), message="warming")

        def abandoned() -> bool:
            outcomes: dict[str, int] = product.tick()["outcomes"]
            return outcomes.get("Abandon", 0) > 0

        wait_for(abandoned, message="ABANDON at the deadline")
        # ABANDON terminates the warming instance; the pool launches another in its place.
        wait_for(
            lambda: first not in warm_pool(product, group) and len(warm_pool(product, group)),
            message="a replacement",
        )
        assert first not in registered_nodes_by_instance(product)
    finally:
        autoscaling.delete_warm_pool(AutoScalingGroupName=group)
        product.configure(JOIN_DEADLINE_SECONDS="1200")


def test_the_reconciler_lifts_a_warm_pool_cordon_left_on_a_node_in_service(
    product: Product, launches: Recorder, node_role: tuple[str, str]
) -> None:
    # As if the draw's action had ended without the join (timed out to CONTINUE, completed by
    # hand): the node serves nothing while the instance is in service. An operator's own cordon
    # (no mark) is theirs.
    _, profile_arn = node_role
    group = product.make_group(desired=2, profile_arn=profile_arn)
    ours, operators = wait_for(lambda: all_in_service(product, group, 2), message="2 InService")
    # A pool of no instances (prepared capacity = desired): the group has a warm pool, which
    # is where the reconciler looks for the mark.
    product.client("autoscaling").put_warm_pool(
        AutoScalingGroupName=group, MaxGroupPreparedCapacity=2, PoolState="Stopped"
    )
    assert warm_pool(product, group) == {}
    nodes = registered_nodes_by_instance(product)
    core = product.kube.core_v1()
    core.patch_node(
        nodes[ours],
        {
            "metadata": {"annotations": {WARM_POOL_HOLD_ANNOTATION: "true"}},
            "spec": {"unschedulable": True},
        },
    )
    core.patch_node(nodes[operators], {"spec": {"unschedulable": True}})

    report = product.tick()

    assert report["warm_pool_cordons_lifted"] == 1
    assert not held_for_warm_pool(product, ours)
    assert core.read_node(nodes[operators]).spec.unschedulable
    assert product.tick()["warm_pool_cordons_lifted"] == 0
    product.client("autoscaling").set_desired_capacity(
        AutoScalingGroupName=group, DesiredCapacity=0
    )
