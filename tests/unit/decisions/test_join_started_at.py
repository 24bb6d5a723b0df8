"""The start of the join deadline: LaunchTime is not it for an instance kept Running in a warm
pool, drawn hours after its launch into the pool."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from winnodes.decisions.join import join_started_at, stamp_after_return, stamp_is_current

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
    assert not stamp_is_current(LAUNCHED, launch_time=restarted, now=restarted)
    started = join_started_at(
        launch_time=restarted,
        stamped=LAUNCHED,
        event_time=None,
        now=restarted,
        may_come_from_pool=True,
    )
    assert started == restarted


@given(offset=st.timedeltas(min_value=timedelta(minutes=-3), max_value=timedelta(0)))
def test_a_stamp_up_to_a_minute_before_launch_time_is_this_launchs(offset: timedelta) -> None:
    # Clocks disagree by seconds: our stamp may read a little before EC2's LaunchTime, and is
    # still this launch's; more than a minute before, it is an earlier launch's.
    current = stamp_is_current(LAUNCHED + offset, launch_time=LAUNCHED, now=DRAWN)
    assert current is (offset >= -timedelta(minutes=1))


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
    if stamped is not None and launch <= stamped <= now:
        assert started == stamped
    # No tag puts the deadline's start past what the join saw itself.
    assert started <= max(launch, event or now, now)


def test_a_stamp_dated_in_the_future_is_not_ours() -> None:
    # Tags are anyone's to write; taken for a stamp, this one would set the deadline past the
    # last date a datetime holds, and one in 2099 would set it out of reach.
    for future in (datetime(9999, 12, 31, 23, 59, tzinfo=UTC), datetime(2099, 1, 1, tzinfo=UTC)):
        assert not stamp_is_current(future, launch_time=LAUNCHED, now=DRAWN)
        started = join_started_at(
            launch_time=LAUNCHED,
            stamped=future,
            event_time=None,
            now=DRAWN,
            may_come_from_pool=True,
        )
        assert started == DRAWN
    # Seconds ahead is the clocks disagreeing: the stamp is ours, the start no later than now.
    ahead = DRAWN + timedelta(seconds=20)
    assert stamp_is_current(ahead, launch_time=LAUNCHED, now=DRAWN)
    started = join_started_at(
        launch_time=LAUNCHED, stamped=ahead, event_time=None, now=DRAWN, may_come_from_pool=True
    )
    assert started == DRAWN


def test_a_return_mark_dated_in_the_future_does_not_disown_the_stamp() -> None:
    stamped = DRAWN + timedelta(minutes=2)
    now = DRAWN + timedelta(minutes=5)
    bogus_return = datetime(2099, 1, 1, tzinfo=UTC)
    assert stamp_is_current(stamped, launch_time=LAUNCHED, now=now, returned_at=bogus_return)
    started = join_started_at(
        launch_time=LAUNCHED,
        stamped=stamped,
        event_time=None,
        now=now,
        may_come_from_pool=True,
        returned_at=bogus_return,
    )
    assert started == stamped


def test_a_return_to_a_running_pool_supersedes_the_stamp_of_the_previous_stay() -> None:
    # Drawn at DRAWN and stamped, returned an hour later, drawn again the next day; LaunchTime
    # never changes in a Running pool, so only the return tells the stamp is the old stay's.
    returned = DRAWN + timedelta(hours=1)
    drawn_again = returned + timedelta(days=1)
    assert not stamp_is_current(DRAWN, launch_time=LAUNCHED, now=drawn_again, returned_at=returned)
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
    assert stamp_is_current(
        drawn_again, launch_time=LAUNCHED, now=drawn_again, returned_at=returned
    )


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

    if stamped <= returned <= event:  # a return dated after now is no mark of ours
        assert started == max(event, launch)


@given(
    launched=_TIMES,
    started_after_launch=st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=2)),
    returned_before_now=st.timedeltas(
        min_value=-timedelta(minutes=1) + timedelta(microseconds=1), max_value=timedelta(days=3)
    ),
    now_after_start=st.timedeltas(min_value=timedelta(0), max_value=timedelta(minutes=30)),
)
def test_the_stamp_written_reads_as_current_on_the_next_look(
    launched: datetime,
    started_after_launch: timedelta,
    returned_before_now: timedelta,
    now_after_start: timedelta,
) -> None:
    # Else the join would stamp again at every look: with a return mark from a clock ahead of
    # ours (within the tolerance), a stamp of `now` would still read as the previous stay's.
    started = launched + started_after_launch
    now = started + now_after_start
    returned_at = now - returned_before_now

    stamp = stamp_after_return(started, returned_at, now=now)

    assert stamp_is_current(stamp, launch_time=launched, now=now, returned_at=returned_at)
    assert stamp >= started
    if started > returned_at:
        assert stamp == started


def test_a_stamp_is_written_just_after_a_return_mark_from_a_clock_ahead() -> None:
    ahead = DRAWN + timedelta(seconds=20)

    stamp = stamp_after_return(DRAWN, ahead, now=DRAWN)

    assert stamp == ahead + timedelta(microseconds=1)
    # A mark further ahead than clocks disagree is no mark of ours: the stamp is the start.
    assert stamp_after_return(DRAWN, DRAWN + timedelta(hours=1), now=DRAWN) == DRAWN
