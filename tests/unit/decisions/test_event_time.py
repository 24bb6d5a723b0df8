"""The launch event's time never starts a join later than now, whatever it says."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from winnodes.decisions.join import event_time_seen, join_started_at

_ANY_TIME = st.datetimes(
    min_value=datetime(2000, 1, 1), max_value=datetime(9999, 12, 31, 23, 59), timezones=st.just(UTC)
)
_NOW = st.datetimes(
    min_value=datetime(2025, 1, 1), max_value=datetime(2030, 1, 1), timezones=st.just(UTC)
)


@given(event=st.none() | _ANY_TIME, now=_NOW)
def test_the_event_time_seen_is_never_later_than_now(event: datetime | None, now: datetime) -> None:
    seen = event_time_seen(event, now=now)
    if event is None:
        assert seen is None
    else:
        assert seen == min(event, now)


@given(launch=_NOW, stamped=st.none() | _ANY_TIME, event=st.none() | _ANY_TIME, now=_NOW)
def test_no_event_time_starts_a_join_after_now_or_its_launch(
    launch: datetime, stamped: datetime | None, event: datetime | None, now: datetime
) -> None:
    started = join_started_at(
        launch_time=launch, stamped=stamped, event_time=event, now=now, may_come_from_pool=True
    )

    assert launch <= started <= max(launch, now)
    # A deadline counted from it is a date a datetime holds.
    assert started + timedelta(hours=48) > started
