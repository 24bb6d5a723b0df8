"""Why an instance waits at Warmed:Pending:Wait, as the reconciler may tell it: a return to the
pool only when the instance's facts prove it, a launch only when the pool never reuses, else
unknown (and then it is never drained)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from winnodes.decisions.warm_pool import WarmWait, warm_wait_cause

NOW = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
_AGES = st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=30))


def test_a_new_instance_of_a_reusing_pool_is_unknown_and_of_another_pool_a_launch() -> None:
    just_launched = NOW - timedelta(minutes=3)

    assert (
        warm_wait_cause(
            reuse_on_scale_in=True, was_in_group=False, launch_time=just_launched, now=NOW
        )
        is WarmWait.UNKNOWN
    )
    assert (
        warm_wait_cause(
            reuse_on_scale_in=False, was_in_group=False, launch_time=just_launched, now=NOW
        )
        is WarmWait.LAUNCH
    )


def test_an_instance_stamped_by_its_join_or_launched_days_ago_is_returning() -> None:
    assert (
        warm_wait_cause(reuse_on_scale_in=True, was_in_group=True, launch_time=NOW, now=NOW)
        is WarmWait.RETURN
    )
    # No launch action lasts past 48 hours: what waits there now is a terminate action's.
    assert (
        warm_wait_cause(
            reuse_on_scale_in=True,
            was_in_group=False,
            launch_time=NOW - timedelta(hours=50),
            now=NOW,
        )
        is WarmWait.RETURN
    )
    assert (
        warm_wait_cause(
            reuse_on_scale_in=True,
            was_in_group=False,
            launch_time=NOW - timedelta(hours=48),
            now=NOW,
        )
        is WarmWait.UNKNOWN
    )


@given(reuse=st.booleans(), was_in_group=st.booleans(), age=st.none() | _AGES)
def test_a_return_only_on_proof_and_never_unknown_without_reuse(
    reuse: bool, was_in_group: bool, age: timedelta | None
) -> None:
    launch_time = None if age is None else NOW - age

    cause = warm_wait_cause(
        reuse_on_scale_in=reuse, was_in_group=was_in_group, launch_time=launch_time, now=NOW
    )

    # Safety: the reconciler drains (RETURN) only what the facts prove left the group.
    proof = was_in_group or (age is not None and age > timedelta(hours=49))
    assert (cause is WarmWait.RETURN) == proof
    if not proof:
        assert cause is (WarmWait.UNKNOWN if reuse else WarmWait.LAUNCH)
