"""`winnodes reconcile` on the local cloud: a pass run by hand prints its report as JSON, the
steps it took counted by name, as the scheduled function returns it."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator

import pytest

from localcloud.deployment import Product, deploy
from tests.helpers.cli import run
from tests.helpers.waiting import wait_for
from tests.integration.join.helpers import states
from winnodes.decisions.join import JoinStep

pytestmark = pytest.mark.integration

JOIN_STEPS = {step.__name__ for step in JoinStep.__value__.__args__}
LAST_LOOKS = {"WaitForNode", "CompleteContinue", "Abandon", "NothingToDo"}


@pytest.fixture(scope="module")
def product() -> Iterator[Product]:
    with deploy(authentication_mode="API_AND_CONFIG_MAP") as product:
        yield product


def test_a_pass_by_hand_prints_the_steps_it_took_by_name(
    product: Product, node_role: tuple[str, str]
) -> None:
    # No rule routes the launch events here: the actions wait for the reconciler.
    _, profile_arn = node_role
    group = product.make_group(desired=2, profile_arn=profile_arn)
    wait_for(lambda: list(states(product, group).values()) == ["Pending:Wait"] * 2)

    aws = {key: value for key, value in os.environ.items() if key.startswith("AWS_")}
    result = run("reconcile", env=aws)

    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["launch_actions"] == 2
    # Every look's step, by its name (the pass tags the group's instances first, in one call);
    # the steps that take effect are followed at once by the next look, so each action's last
    # look is one that waits or ends it.
    assert set(report["outcomes"]) <= JOIN_STEPS
    assert sum(n for step, n in report["outcomes"].items() if step in LAST_LOOKS) == 2
    assert report["instances_tagged"] == 2
    product.client("autoscaling").set_desired_capacity(
        AutoScalingGroupName=group, DesiredCapacity=0
    )
