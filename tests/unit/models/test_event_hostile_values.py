"""Events are anyone's to send. What an error quotes of a value is bounded (it is printed,
logged and returned whole), and only the AWS spelling of a key is read: AWS never sends
`ec2_instance_id`, and a Python name taken for a key would let one event say two things."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.helpers.events import load_event
from winnodes.errors import InvalidInputError
from winnodes.models.events import (
    ECHO_LIMIT,
    LaunchLifecycleEvent,
    classify_lifecycle_event,
    echo,
    parse_schedule_tick,
)

# The longest an error's field or reason can be: a capped text and the length it says it had.
LONGEST = 4 * ECHO_LIMIT + 40
DETAIL_KEYS = sorted(load_event("lifecycle-launch")["detail"])


def refused(raw: Any) -> InvalidInputError:
    with pytest.raises(InvalidInputError) as raised:
        classify_lifecycle_event(raw)
    return raised.value


def test_a_long_detail_type_is_quoted_shortened_saying_its_length() -> None:
    raw = load_event("lifecycle-launch")
    raw["detail-type"] = "x" * 100_000
    error = refused(raw)
    assert error.reason.startswith("'" + "x" * (ECHO_LIMIT - 1) + "... (100002 characters) is not")
    assert len(error.reason) < LONGEST


@given(
    key=st.sampled_from([*DETAIL_KEYS, "detail-type", "source", "time", "id", "account"]),
    value=st.text(max_size=3000) | st.text(min_size=ECHO_LIMIT, max_size=3000),
)
def test_no_error_says_more_than_a_bounded_line(key: str, value: str) -> None:
    raw = load_event("lifecycle-launch")
    (raw["detail"] if key in DETAIL_KEYS else raw)[key] = value
    try:
        classify_lifecycle_event(raw)
    except InvalidInputError as error:
        assert len(error.field) < LONGEST and len(error.reason) < LONGEST


@given(st.text(max_size=1000))
def test_echo_is_repr_up_to_the_limit(value: str) -> None:
    shown = echo(value)
    if len(repr(value)) <= ECHO_LIMIT:
        assert shown == repr(value)
    else:
        assert shown == f"{repr(value)[:ECHO_LIMIT]}... ({len(repr(value))} characters)"


def test_python_names_of_detail_keys_are_not_read() -> None:
    raw = load_event("lifecycle-launch")
    raw["detail"] = {
        "lifecycle_action_token": "87654321-4321-4321-4321-210987654321",
        "auto_scaling_group_name": "g",
        "lifecycle_hook_name": "h",
        "ec2_instance_id": "i-0a1b2c3d4e5f60718",
        "lifecycle_transition": "autoscaling:EC2_INSTANCE_LAUNCHING",
    }
    error = refused(raw)
    assert (error.field, error.reason) == ("detail.LifecycleActionToken", "Field required")


def test_a_python_name_beside_the_aws_key_changes_nothing() -> None:
    raw = load_event("lifecycle-launch")
    raw["detail"]["ec2_instance_id"] = "i-99999999"
    parsed = classify_lifecycle_event(raw)
    assert isinstance(parsed, LaunchLifecycleEvent)
    assert parsed.detail.ec2_instance_id == "i-0a1b2c3d4e5f60718"


def test_python_names_of_envelope_keys_are_not_read() -> None:
    tick = {"source": "aws.events", "detail_type": "Scheduled Event"}
    with pytest.raises(InvalidInputError) as raised:
        parse_schedule_tick(tick)
    assert raised.value.field == "detail-type"
    raw = load_event("lifecycle-launch")
    raw["replay_name"] = 5  # no key of EventBridge's: ignored, not read as replay-name
    assert isinstance(classify_lifecycle_event(raw), LaunchLifecycleEvent)
