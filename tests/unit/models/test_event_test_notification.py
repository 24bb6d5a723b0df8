"""A test notification is told by its `detail.Event` alone and skipped whatever its envelope says:
it asks for nothing to be done. A lifecycle action missing the same envelope fields is still
refused, naming the field."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from aws_lambda_powertools.utilities.parser import parse
from hypothesis import given
from hypothesis import strategies as st

from tests.helpers.events import load_event
from winnodes.errors import InvalidInputError
from winnodes.models.events import (
    TEST_NOTIFICATION,
    LifecycleTestNotification,
    classify_lifecycle_event,
)

# version, id, detail-type, source, account, time, region, resources: the same in both samples.
ENVELOPE_KEYS = sorted(set(load_event("lifecycle-launch")) - {"detail"})

Mutation = Callable[[dict[str, Any]], object]

# What a hand-sent or tool-written event may lack or get wrong of the EventBridge envelope.
ENVELOPE_FAULTS = [
    pytest.param(lambda e: e.pop("version"), "version", id="no version"),
    pytest.param(lambda e: e.pop("id"), "id", id="no id"),
    pytest.param(lambda e: e.pop("account"), "account", id="no account"),
    pytest.param(lambda e: e.pop("region"), "region", id="no region"),
    pytest.param(lambda e: e.pop("resources"), "resources", id="no resources"),
    pytest.param(lambda e: e.pop("time"), "time", id="no time"),
    pytest.param(lambda e: e.__setitem__("time", "not a date"), "time", id="time not a date"),
    pytest.param(
        lambda e: e.__setitem__("time", "2026-03-02T09:00:00"), "time", id="time without zone"
    ),
    pytest.param(
        lambda e: e.__setitem__("account", 111122223333), "account", id="account a number"
    ),
    pytest.param(
        lambda e: e.__setitem__("resources", "arn:aws:autoscaling:..."),
        "resources",
        id="resources not a list",
    ),
    pytest.param(lambda e: e.__setitem__("source", "my.app"), "source", id="another source"),
    pytest.param(lambda e: e.pop("source"), "source", id="no source"),
]


@pytest.mark.parametrize(("mutate", "field"), ENVELOPE_FAULTS)
def test_a_test_notification_with_a_faulty_envelope_is_still_one(
    mutate: Mutation, field: str
) -> None:
    raw = load_event("lifecycle-test-notification")
    mutate(raw)
    evt = classify_lifecycle_event(raw)
    assert isinstance(evt, LifecycleTestNotification), field


@pytest.mark.parametrize(("mutate", "field"), ENVELOPE_FAULTS)
def test_a_launch_action_with_the_same_fault_is_refused_naming_the_field(
    mutate: Mutation, field: str
) -> None:
    raw = load_event("lifecycle-launch")
    mutate(raw)
    with pytest.raises(InvalidInputError) as raised:
        classify_lifecycle_event(raw)
    assert raised.value.field == field


@pytest.mark.parametrize(
    "mutate",
    [
        pytest.param(lambda e: e.pop("detail-type"), id="no detail-type"),
        pytest.param(lambda e: e.__setitem__("detail-type", None), id="detail-type null"),
    ],
)
def test_a_test_notification_needs_no_detail_type(mutate: Mutation) -> None:
    raw = load_event("lifecycle-test-notification")
    mutate(raw)
    assert isinstance(classify_lifecycle_event(raw), LifecycleTestNotification)


def test_a_test_notification_of_a_detail_alone_is_one() -> None:
    raw = {"detail": {"Event": TEST_NOTIFICATION}, "something": ["else"]}
    evt = classify_lifecycle_event(raw)
    assert isinstance(evt, LifecycleTestNotification)
    assert evt.detail.auto_scaling_group_name is None
    # The model is a Parser model like the others: Powertools parses it the same way.
    assert parse(event=raw, model=LifecycleTestNotification).detail.event == TEST_NOTIFICATION


def test_what_a_test_notification_says_besides_is_read_as_none_when_not_a_string() -> None:
    raw = load_event("lifecycle-test-notification")
    raw["detail"] |= {"AutoScalingGroupName": 42, "RequestId": {"not": "a string"}}
    evt = classify_lifecycle_event(raw)
    assert isinstance(evt, LifecycleTestNotification)
    assert (evt.detail.auto_scaling_group_name, evt.detail.request_id) == (None, None)


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=10), inner, max_size=3)
    ),
    max_leaves=10,
)


@given(
    removed=st.sets(st.sampled_from(ENVELOPE_KEYS)),
    garbled=st.dictionaries(st.sampled_from(ENVELOPE_KEYS), _JSON),
    extra=st.dictionaries(st.text(max_size=10).filter(lambda k: k != "detail"), _JSON, max_size=3),
)
def test_any_envelope_around_a_test_notification_is_skipped(
    removed: set[str], garbled: dict[str, Any], extra: dict[str, Any]
) -> None:
    raw = load_event("lifecycle-test-notification") | extra | garbled
    for key in removed:
        raw.pop(key, None)
    assert isinstance(classify_lifecycle_event(raw), LifecycleTestNotification)


@given(removed=st.sets(st.sampled_from(ENVELOPE_KEYS), min_size=1))
def test_any_envelope_field_removed_from_a_launch_action_is_named(removed: set[str]) -> None:
    raw = load_event("lifecycle-launch")
    for key in removed:
        del raw[key]
    with pytest.raises(InvalidInputError) as raised:
        classify_lifecycle_event(raw)
    assert raised.value.field in removed


@pytest.mark.parametrize(
    "detail",
    [
        TEST_NOTIFICATION,  # the detail must be an object
        [{"Event": TEST_NOTIFICATION}],
        {"Event": "autoscaling:test_notification"},  # the value exactly
        {"event": TEST_NOTIFICATION},  # the AWS spelling of the key
    ],
)
def test_only_a_detail_object_saying_so_is_a_test_notification(detail: Any) -> None:
    raw = load_event("lifecycle-test-notification")
    raw["detail"] = detail
    del raw["version"]
    with pytest.raises(InvalidInputError):
        classify_lifecycle_event(raw)
