"""How long Auto Scaling keeps a lifecycle action at most: the smaller of 100 × the heartbeat
timeout and 48 hours (https://docs.aws.amazon.com/autoscaling/ec2/userguide/lifecycle-hooks-overview.html)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from winnodes.decisions.heartbeat import hook_global_timeout

FORTY_EIGHT_HOURS = timedelta(hours=48)
# Auto Scaling accepts a heartbeat timeout of 30 to 7200 seconds.
HEARTBEAT_SECONDS = st.integers(min_value=30, max_value=7200)


@pytest.mark.parametrize(
    ("heartbeat_seconds", "global_seconds"),
    [
        (30, 3_000),  # the shortest heartbeat timeout: 100 × 30 s
        (300, 30_000),
        (1_727, 172_700),  # just under 48 h: still 100 × the timeout
        (1_728, 172_800),  # 100 × 1728 s is exactly 48 h
        (1_729, 172_800),  # 100 × would be 48 h 1 min 40 s: the 48 h cap
        (3_600, 172_800),
        (7_200, 172_800),  # the longest: 100 × would be 200 h, capped at 48 h
    ],
)
def test_the_hook_gives_up_at_100_heartbeats_or_48_hours_whichever_is_sooner(
    heartbeat_seconds: int, global_seconds: int
) -> None:
    assert hook_global_timeout(timedelta(seconds=heartbeat_seconds)) == timedelta(
        seconds=global_seconds
    )


@given(HEARTBEAT_SECONDS)
def test_the_global_timeout_is_never_past_either_limit_and_reaches_one_of_them(
    heartbeat_seconds: int,
) -> None:
    heartbeat = timedelta(seconds=heartbeat_seconds)
    hundred_heartbeats = timedelta(seconds=100 * heartbeat_seconds)
    limit = hook_global_timeout(heartbeat)
    assert limit <= FORTY_EIGHT_HOURS
    assert limit <= hundred_heartbeats
    assert limit in {FORTY_EIGHT_HOURS, hundred_heartbeats}
