"""A launch event's `time` is the sender's word: one later than now is taken as the first
look's time. Trusted, the last date a datetime holds made the deadline overflow (a bare
OverflowError mid-join), and a year ahead, stamped on a warm-pool draw, moved its deadline a
year out for every later pass."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from tests.helpers.join_world import NOW, JoinWorld, launch_action
from winnodes.decisions.join import DEFAULT_JOIN_DEADLINE, TagInstance, WaitForNode
from winnodes.models.groups import JOIN_STARTED_TAG
from winnodes.services.join import LaunchAction

LAST_DATE = datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC)
AHEAD = [LAST_DATE, NOW + timedelta(days=365)]


def dated(event_time: datetime) -> LaunchAction:
    return replace(launch_action(), event_time=event_time)


@pytest.mark.parametrize("event_time", AHEAD, ids=["9999", "a year ahead"])
def test_an_instance_not_visible_waits_for_a_deadline_counted_from_now(
    event_time: datetime,
) -> None:
    world = JoinWorld()
    world.compute.visible = False

    result = world.service().advance(dated(event_time))

    assert isinstance(result.step, WaitForNode)
    assert result.step.deadline_at == NOW + DEFAULT_JOIN_DEADLINE
    assert world.autoscaling.completed == []


@pytest.mark.parametrize("event_time", AHEAD, ids=["9999", "a year ahead"])
def test_a_draw_from_the_warm_pool_is_stamped_with_now(event_time: datetime) -> None:
    world = JoinWorld()
    world.autoscaling.has_warm_pool = True  # held at Pending:Wait: maybe drawn from the pool

    result = world.service().advance(dated(event_time))

    assert result.step == TagInstance()
    assert world.compute.tags[JOIN_STARTED_TAG] == NOW.isoformat()


def test_the_first_looks_time_stays_the_start_at_later_looks() -> None:
    world = JoinWorld()
    world.compute.visible = False
    service, action = world.service(), dated(LAST_DATE)

    service.advance(action)
    world.clock.sleep(60)
    result = service.advance(action)

    # Not "now" at each look: the deadline would move on with every one and never come.
    assert isinstance(result.step, WaitForNode)
    assert result.step.deadline_at == NOW + DEFAULT_JOIN_DEADLINE


def test_an_event_time_in_the_past_is_kept() -> None:
    world = JoinWorld()
    world.compute.visible = False
    sent = NOW - timedelta(minutes=6)

    result = world.service().advance(dated(sent))

    assert isinstance(result.step, WaitForNode)
    assert result.step.deadline_at == sent + DEFAULT_JOIN_DEADLINE
