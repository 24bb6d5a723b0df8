"""A join whose node role NODE_ROLE_ARNS refuses writes no authorization, waits for an operator,
and ABANDONs at its deadline naming the setting; the wiring hands the setting to the join."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.helpers.join_world import JoinWorld, launch_action
from winnodes import wiring
from winnodes.decisions.join import Abandon
from winnodes.decisions.node_roles import NodeRoleAllowList
from winnodes.decisions.smoke import SmokeTestPolicy
from winnodes.services.join import JoinSettings

NODES_PATH_ONLY = NodeRoleAllowList(("arn:aws:iam::111122223333:role/nodes/*",))


def test_a_refused_role_is_never_authorized_and_the_join_abandons_at_its_deadline() -> None:
    world = JoinWorld()
    world.access_entries.entries = set()  # arn:aws:iam::111122223333:role/win: not authorized

    result = world.service(
        settings=JoinSettings(
            poll_interval=timedelta(seconds=2),
            join_deadline=timedelta(minutes=5, seconds=6),  # launched 5 minutes ago
            smoke_test=SmokeTestPolicy(enabled=False),
            node_roles=NODES_PATH_ONLY,
        )
    ).join(launch_action())

    assert isinstance(result.step, Abandon)
    assert "NODE_ROLE_ARNS does not allow it" in result.step.reason
    assert "eks.create_access_entry" not in world.journal
    assert world.autoscaling.completed == ["ABANDON"]


def test_the_wiring_passes_the_setting_to_the_join(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("NODE_ROLE_ARNS", "arn:aws:iam::111122223333:role/nodes/*")
    wiring.reset()
    try:
        join = wiring.join_service()
        assert join._settings.node_roles == NODES_PATH_ONLY  # what wiring built
    finally:
        wiring.reset()
