"""Origin and Destination of a lifecycle event: only the moves Auto Scaling makes parse
(https://docs.aws.amazon.com/autoscaling/ec2/userguide/warm-pools-eventbridge-events.html).
Launch: EC2 → AutoScalingGroup, EC2 → WarmPool, WarmPool → AutoScalingGroup. Terminate:
AutoScalingGroup → EC2, AutoScalingGroup → WarmPool, WarmPool → EC2. Origin decides nothing, so
an Origin AWS may add later is read as none rather than refusing every event."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.helpers.events import load_event
from winnodes.errors import InvalidInputError
from winnodes.models.events import (
    LaunchLifecycleEvent,
    TerminateLifecycleEvent,
    classify_lifecycle_event,
)
from winnodes.models.lifecycle import InstanceLocation, LifecycleTransition

EC2, GROUP, POOL = "EC2", "AutoScalingGroup", "WarmPool"
REAL_MOVES = {
    "lifecycle-launch": {(EC2, GROUP), (EC2, POOL), (POOL, GROUP)},
    "lifecycle-terminate": {(GROUP, EC2), (GROUP, POOL), (POOL, EC2)},
}
SAMPLES = {"lifecycle-launch": LaunchLifecycleEvent, "lifecycle-terminate": TerminateLifecycleEvent}
# What the event may carry: the three places, none, and one AWS has not named (yet).
LOCATIONS = [EC2, GROUP, POOL, None, "Standby"]


def event(sample: str, origin: str | None, destination: str | None) -> dict[str, Any]:
    raw = load_event(sample)
    for key, value in (("Origin", origin), ("Destination", destination)):
        if value is None:
            raw["detail"].pop(key, None)
        else:
            raw["detail"][key] = value
    return raw


def test_the_moves_are_the_documented_ones() -> None:
    for sample, transition in (
        ("lifecycle-launch", LifecycleTransition.LAUNCHING),
        ("lifecycle-terminate", LifecycleTransition.TERMINATING),
    ):
        assert {(o.value, d.value) for o, d in transition.moves} == REAL_MOVES[sample]


@given(
    sample=st.sampled_from(sorted(SAMPLES)),
    origin=st.sampled_from(LOCATIONS),
    destination=st.sampled_from(LOCATIONS),
)
def test_only_a_real_move_parses_and_a_refusal_names_the_field(
    sample: str, origin: str | None, destination: str | None
) -> None:
    moves = REAL_MOVES[sample]
    known_origin = origin if origin in (EC2, GROUP, POOL) else None
    possible = (
        (known_origin is None or any(o == known_origin for o, _ in moves))
        and destination != "Standby"
        and (
            destination is None
            or any(d == destination and known_origin in (None, o) for o, d in moves)
        )
    )
    try:
        parsed = classify_lifecycle_event(event(sample, origin, destination))
    except InvalidInputError as error:
        assert not possible
        assert error.field in ("detail.Origin", "detail.Destination")
    else:
        assert possible
        assert isinstance(parsed, LaunchLifecycleEvent | TerminateLifecycleEvent)
        assert isinstance(parsed, SAMPLES[sample])
        detail = parsed.detail
        assert detail.origin == (InstanceLocation(known_origin) if known_origin else None)
        assert detail.destination == (InstanceLocation(destination) if destination else None)


@pytest.mark.parametrize(
    ("sample", "origin", "destination", "field", "reason"),
    [
        (
            "lifecycle-launch",
            GROUP,
            EC2,
            "detail.Origin",
            "a launch never comes from 'AutoScalingGroup'",
        ),
        (
            "lifecycle-launch",
            POOL,
            POOL,
            "detail.Destination",
            "a launch from 'WarmPool' never goes to 'WarmPool'",
        ),
        ("lifecycle-terminate", EC2, POOL, "detail.Origin", "a termination never comes from 'EC2'"),
        (
            "lifecycle-terminate",
            POOL,
            POOL,
            "detail.Destination",
            "a termination from 'WarmPool' never goes to 'WarmPool'",
        ),
        (
            "lifecycle-terminate",
            None,
            GROUP,
            "detail.Destination",
            "a termination never goes to 'AutoScalingGroup'",
        ),
    ],
)
def test_a_move_auto_scaling_never_makes_is_refused_saying_why(
    sample: str, origin: str | None, destination: str, field: str, reason: str
) -> None:
    with pytest.raises(InvalidInputError) as raised:
        classify_lifecycle_event(event(sample, origin, destination))
    assert (raised.value.field, raised.value.reason) == (field, reason)


def test_an_origin_aws_adds_later_does_not_refuse_the_event() -> None:
    parsed = classify_lifecycle_event(event("lifecycle-terminate", "Standby", POOL))
    assert isinstance(parsed, TerminateLifecycleEvent)
    assert (parsed.detail.origin, parsed.detail.destination) == (None, InstanceLocation.WARM_POOL)


def test_a_destination_decides_a_return_so_an_unknown_one_is_refused() -> None:
    with pytest.raises(InvalidInputError) as raised:
        classify_lifecycle_event(event("lifecycle-terminate", GROUP, "Standby"))
    assert raised.value.field == "detail.Destination"
