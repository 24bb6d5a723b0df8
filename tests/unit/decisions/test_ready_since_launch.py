"""A Ready condition counts only when reported during the instance's current run: a Node outlives
its instance's stop (a warm pool's Stopped or Hibernated instance) and shows the old Ready until
the node controller's grace period ends, so a quick draw must not take it for a kubelet that is
back. A node that never stopped reports after its LaunchTime, however long ago that was."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from winnodes.decisions.join import ready_since_launch

STARTED = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)  # EC2 LaunchTime: the instance's last start
_OFFSETS = st.integers(min_value=-86_400, max_value=86_400).map(lambda s: timedelta(seconds=s))


def test_a_ready_reported_before_the_stop_is_the_previous_runs() -> None:
    before_the_stop = STARTED - timedelta(seconds=40)
    assert not ready_since_launch(before_the_stop, launch_time=STARTED)


def test_a_ready_reported_by_the_restarted_kubelet_counts() -> None:
    assert ready_since_launch(STARTED + timedelta(minutes=3), launch_time=STARTED)


def test_a_node_of_a_running_pool_reports_long_after_its_launch_and_counts() -> None:
    # Kept Running in the pool for days: LaunchTime is its launch into the pool.
    assert ready_since_launch(STARTED + timedelta(days=3), launch_time=STARTED)


def test_seconds_of_clock_difference_are_tolerated_and_no_more() -> None:
    assert ready_since_launch(STARTED - timedelta(seconds=5), launch_time=STARTED)
    assert not ready_since_launch(STARTED - timedelta(seconds=6), launch_time=STARTED)


def test_a_node_that_does_not_say_when_is_taken_at_its_word() -> None:
    assert ready_since_launch(None, launch_time=STARTED)


@given(offset=_OFFSETS)
def test_counts_exactly_when_reported_no_earlier_than_the_tolerance_before_the_start(
    offset: timedelta,
) -> None:
    assert ready_since_launch(STARTED + offset, launch_time=STARTED) == (
        offset >= timedelta(seconds=-5)
    )
