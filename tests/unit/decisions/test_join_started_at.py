"""The start of the join deadline: LaunchTime is not it for an instance kept Running in a warm
pool, drawn hours after its launch into the pool."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from winnodes.decisions.join import join_started_at, stamp_is_current

LAUNCHED = datetime(2025, 1, 6, 8, 0, tzinfo=UTC)
DRAWN = LAUNCHED + timedelta(hours=3)  # the Running pool instance leaves the pool
_TIMES = st.datetimes(
    min_value=datetime(2025, 1, 1), max_value=datetime(2025, 2, 1), timezones=st.just(UTC)
)


def test_a_running_pool_instance_starts_its_join_when_it_leaves_the_pool() -> None:
    # The event path: the launch event's time.
    assert (
        join_started_at(
            launch_time=LAUNCHED, stamped=None, event_time=DRAWN, now=DRAWN, may_come_from_pool=True
        )
        == DRAWN
    )
    # The reconciler, the event lost: first sight, then the stamp it left.
    later = DRAWN + timedelta(minutes=1)
    assert (
        join_started_at(
            launch_time=LAUNCHED, stamped=None, event_time=None, now=later, may_come_from_pool=True
        )
        == later
    )
    stamped = join_started_at(
        launch_time=LAUNCHED,
        stamped=later,
        event_time=None,
        now=later + timedelta(minutes=9),
        may_come_from_pool=True,
    )
    assert stamped == later


def test_a_stamp_older_than_launch_time_is_an_earlier_launchs_and_ignored() -> None:
    restarted = LAUNCHED + timedelta(days=1)  # a Stopped pool instance started again
    assert not stamp_is_current(LAUNCHED, launch_time=restarted)
    started = join_started_at(
        launch_time=restarted,
        stamped=LAUNCHED,
        event_time=None,
        now=restarted,
        may_come_from_pool=True,
    )
    assert started == restarted


def test_an_action_that_cannot_follow_a_stay_in_the_pool_starts_at_launch_time() -> None:
    assert (
        join_started_at(
            launch_time=LAUNCHED,
            stamped=DRAWN,
            event_time=DRAWN,
            now=DRAWN,
            may_come_from_pool=False,
        )
        == LAUNCHED
    )


@given(launch=_TIMES, stamped=st.none() | _TIMES, event=st.none() | _TIMES, now=_TIMES)
def test_never_before_launch_time_and_a_current_stamp_wins(
    launch: datetime, stamped: datetime | None, event: datetime | None, now: datetime
) -> None:
    started = join_started_at(
        launch_time=launch, stamped=stamped, event_time=event, now=now, may_come_from_pool=True
    )

    assert started >= launch
    if stamped is not None and stamped >= launch:
        assert started == stamped


def test_a_return_to_a_running_pool_supersedes_the_stamp_of_the_previous_stay() -> None:
    # Drawn at DRAWN and stamped, returned an hour later, drawn again the next day; LaunchTime
    # never changes in a Running pool, so only the return tells the stamp is the old stay's.
    returned = DRAWN + timedelta(hours=1)
    drawn_again = returned + timedelta(days=1)
    assert not stamp_is_current(DRAWN, launch_time=LAUNCHED, returned_at=returned)
    started = join_started_at(
        launch_time=LAUNCHED,
        stamped=DRAWN,
        event_time=drawn_again,
        now=drawn_again,
        may_come_from_pool=True,
        returned_at=returned,
    )
    assert started == drawn_again  # not DRAWN: that deadline passed long ago
    # Once the new join stamps the instance, the new stamp is current.
    assert stamp_is_current(drawn_again, launch_time=LAUNCHED, returned_at=returned)


@given(launch=_TIMES, stamped=_TIMES, returned=_TIMES, event=_TIMES)
def test_a_stamp_from_before_the_last_return_never_starts_the_join(
    launch: datetime, stamped: datetime, returned: datetime, event: datetime
) -> None:
    started = join_started_at(
        launch_time=launch,
        stamped=stamped,
        event_time=event,
        now=event,
        may_come_from_pool=True,
        returned_at=returned,
    )

    if stamped <= returned:
        assert started == max(event, launch)
