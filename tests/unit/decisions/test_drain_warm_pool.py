"""Drain decisions for a return to the warm pool (the Node is kept, held for the pool) and for
when a drain begins (a drain start found on a schedulable Node is an earlier drain's)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from winnodes.decisions.drain import (
    DEFAULT_DRAIN_TIMEOUT,
    DrainClock,
    DrainPolicy,
    DrainProgress,
    DrainStart,
    DrainTimedOut,
    FinishDrain,
    PodRef,
    decide_drain_step,
    start_drain,
)

NOW = datetime(2025, 6, 2, 11, 2, 5, tzinfo=UTC)
EARLIER = NOW - timedelta(days=1)
WEB = PodRef("shop", "web-1")
CLOCK = DrainClock(started_at=NOW, heartbeat_timeout=timedelta(minutes=5))
FORCED = DrainClock(
    started_at=NOW, heartbeat_timeout=timedelta(minutes=5), policy=DrainPolicy(force=True)
)
EMPTY = DrainProgress(remaining=())
BUSY = DrainProgress(remaining=(WEB,), blocked_by_pdb=(WEB,), blocking_pdbs=("shop/web",))


def test_a_drained_return_keeps_its_node_for_the_pool() -> None:
    step = decide_drain_step(EMPTY, CLOCK, node_exists=True, now=NOW, returning_to_pool=True)
    assert step == FinishDrain(delete_node=False, keep_for_warm_pool=True)
    # A termination deletes it, as before.
    assert decide_drain_step(EMPTY, CLOCK, node_exists=True, now=NOW) == FinishDrain(
        delete_node=True, keep_for_warm_pool=False
    )


def test_a_return_whose_node_is_gone_has_nothing_to_keep() -> None:
    step = decide_drain_step(BUSY, CLOCK, node_exists=False, now=NOW, returning_to_pool=True)
    assert step == FinishDrain(delete_node=False, keep_for_warm_pool=False)


def test_a_return_past_its_deadline_keeps_the_node_forced_or_not() -> None:
    late = NOW + DEFAULT_DRAIN_TIMEOUT
    step = decide_drain_step(BUSY, CLOCK, node_exists=True, now=late, returning_to_pool=True)
    assert step == DrainTimedOut(
        blocking_pods=(WEB,),
        blocking_pdbs=("shop/web",),
        delete_remaining_pods=False,
        delete_node=False,
        keep_for_warm_pool=True,
    )
    forced = decide_drain_step(BUSY, FORCED, node_exists=True, now=late, returning_to_pool=True)
    assert isinstance(forced, DrainTimedOut)
    assert forced.delete_remaining_pods and not forced.delete_node and forced.keep_for_warm_pool


@given(
    done=st.booleans(),
    node_exists=st.booleans(),
    force=st.booleans(),
    elapsed=st.timedeltas(timedelta(0), timedelta(hours=2)),
    returning=st.booleans(),
)
def test_a_return_never_deletes_its_node_and_a_termination_never_keeps_one(
    done: bool, node_exists: bool, force: bool, elapsed: timedelta, returning: bool
) -> None:
    clock = FORCED if force else CLOCK
    progress = EMPTY if done else BUSY
    step = decide_drain_step(
        progress, clock, node_exists=node_exists, now=NOW + elapsed, returning_to_pool=returning
    )
    if isinstance(step, FinishDrain | DrainTimedOut):
        assert not (step.delete_node and step.keep_for_warm_pool)
        assert step.keep_for_warm_pool == (returning and node_exists)
        if returning:
            assert not step.delete_node


def test_a_first_drain_starts_now() -> None:
    start = start_drain(recorded=None, node_unschedulable=False, returning_to_pool=False, now=NOW)
    assert start == DrainStart(started_at=NOW, begins_now=True, hold_for_warm_pool=False)


def test_a_drain_start_on_a_cordoned_node_is_this_drains() -> None:
    start = start_drain(recorded=EARLIER, node_unschedulable=True, returning_to_pool=False, now=NOW)
    assert start == DrainStart(started_at=EARLIER, begins_now=False, hold_for_warm_pool=False)


def test_a_drain_start_on_a_schedulable_node_is_an_earlier_drains() -> None:
    # Left by a return whose Node the draw's join (or an operator) uncordoned since: kept, it
    # would put this drain past its deadline before its first eviction.
    start = start_drain(
        recorded=EARLIER, node_unschedulable=False, returning_to_pool=False, now=NOW
    )
    assert start == DrainStart(started_at=NOW, begins_now=True, hold_for_warm_pool=False)


def test_a_return_holds_a_schedulable_node_for_the_pool() -> None:
    start = start_drain(recorded=None, node_unschedulable=False, returning_to_pool=True, now=NOW)
    assert start.hold_for_warm_pool and start.begins_now


def test_a_return_leaves_a_cordon_it_finds_unmarked() -> None:
    # An operator's (or this drain's own, marked already when it began).
    start = start_drain(recorded=None, node_unschedulable=True, returning_to_pool=True, now=NOW)
    assert not start.hold_for_warm_pool and start.begins_now
    ongoing = start_drain(
        recorded=EARLIER, node_unschedulable=True, returning_to_pool=True, now=NOW
    )
    assert not ongoing.hold_for_warm_pool and ongoing.started_at == EARLIER


@given(
    recorded=st.none() | st.timedeltas(timedelta(0), timedelta(days=3)).map(NOW.__sub__),
    unschedulable=st.booleans(),
    returning=st.booleans(),
)
def test_a_drain_starts_no_later_than_now_and_keeps_only_a_cordoned_nodes_start(
    recorded: datetime | None, unschedulable: bool, returning: bool
) -> None:
    start = start_drain(
        recorded=recorded, node_unschedulable=unschedulable, returning_to_pool=returning, now=NOW
    )
    assert start.started_at <= NOW
    assert start.begins_now == (recorded is None or not unschedulable)
    if not unschedulable:
        assert start.begins_now and start.started_at == NOW
    if recorded is not None and unschedulable:
        assert not start.begins_now and start.started_at == recorded
    assert start.hold_for_warm_pool == (returning and not unschedulable)
