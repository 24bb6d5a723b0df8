"""Which states hold an instance for a terminate action: Warmed:Pending:Wait only for a return to
the warm pool, which only the caller can know (the event's Destination)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from winnodes.models.lifecycle import LifecycleState


@given(state=st.sampled_from(LifecycleState), returning=st.booleans())
def test_a_return_adds_warmed_pending_wait_and_nothing_else(
    state: LifecycleState, returning: bool
) -> None:
    held = state.awaits_terminate_action_to(returning_to_pool=returning)

    if returning and state is LifecycleState.WARMED_PENDING_WAIT:
        assert held
    else:
        assert held == state.awaits_terminate_action


@given(state=st.sampled_from(LifecycleState), returning=st.booleans())
def test_a_return_is_believed_only_where_a_return_waits(
    state: LifecycleState, returning: bool
) -> None:
    # Destination WarmPool for an instance at Terminating:Wait is wrong: it is terminated.
    assert state.returns_to_pool(returning_to_pool=returning) == (
        returning and state is LifecycleState.WARMED_PENDING_WAIT
    )
