"""Sample events parse into the models a handler uses; bad ones fail naming the field."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from aws_lambda_powertools.utilities.parser import parse
from hypothesis import given
from hypothesis import strategies as st

from tests.helpers.events import load_event, sample_event_names
from winnodes.errors import InvalidInputError
from winnodes.models.events import (
    LaunchLifecycleEvent,
    LifecycleTestNotification,
    ScheduledEvent,
    TerminateLifecycleEvent,
    classify_lifecycle_event,
)
from winnodes.models.identifiers import InstanceId
from winnodes.models.lifecycle import InstanceLocation, LifecycleTransition


def refused(raw: Any) -> InvalidInputError:
    with pytest.raises(InvalidInputError) as raised:
        classify_lifecycle_event(raw)
    return raised.value


def test_launch_sample_parses_through_powertools_with_pythonic_names() -> None:
    evt = parse(event=load_event("lifecycle-launch"), model=LaunchLifecycleEvent)
    assert evt.detail.ec2_instance_id == "i-0a1b2c3d4e5f60718"
    assert evt.detail.auto_scaling_group_name == "prod-windows-2022"
    assert evt.detail.lifecycle_hook_name == "eks-windows-nodes-join"
    assert evt.detail.lifecycle_action_token == "87654321-4321-4321-4321-210987654321"
    assert evt.detail.lifecycle_transition is LifecycleTransition.LAUNCHING
    assert evt.detail.notification_metadata == '{"cluster": "prod"}'
    assert evt.detail.origin is InstanceLocation.EC2
    assert evt.detail.destination is InstanceLocation.AUTO_SCALING_GROUP
    assert evt.account == "111122223333"


def test_classifier_tells_the_kinds_apart() -> None:
    assert isinstance(
        classify_lifecycle_event(load_event("lifecycle-launch")), LaunchLifecycleEvent
    )
    terminate = classify_lifecycle_event(load_event("lifecycle-terminate"))
    assert isinstance(terminate, TerminateLifecycleEvent)
    assert terminate.detail.lifecycle_transition is LifecycleTransition.TERMINATING
    assert terminate.detail.notification_metadata is None
    test = classify_lifecycle_event(load_event("lifecycle-test-notification"))
    assert isinstance(test, LifecycleTestNotification)
    assert test.detail.auto_scaling_group_name == "prod-windows-2022"


def test_test_notification_is_recognised_under_either_detail_type() -> None:
    raw = load_event("lifecycle-test-notification")
    raw["detail-type"] = "EC2 Instance-terminate Lifecycle Action"
    assert isinstance(classify_lifecycle_event(raw), LifecycleTestNotification)


def test_test_notification_does_not_parse_as_a_launch_action() -> None:
    with pytest.raises(ValueError, match="LifecycleActionToken"):
        parse(event=load_event("lifecycle-test-notification"), model=LaunchLifecycleEvent)


def test_malformed_sample_names_the_missing_instance_id() -> None:
    error = refused(load_event("lifecycle-launch-malformed"))
    assert error.field == "detail.EC2InstanceId"
    assert "required" in error.reason.lower()


def test_older_deliveries_without_origin_and_destination_parse() -> None:
    raw = load_event("lifecycle-terminate")
    del raw["detail"]["Origin"], raw["detail"]["Destination"]
    evt = classify_lifecycle_event(raw)
    assert isinstance(evt, TerminateLifecycleEvent)
    assert evt.detail.origin is None


def test_warm_pool_destination_is_visible() -> None:
    raw = load_event("lifecycle-launch")
    raw["detail"]["Destination"] = "WarmPool"
    evt = classify_lifecycle_event(raw)
    assert isinstance(evt, LaunchLifecycleEvent)
    assert evt.detail.destination is InstanceLocation.WARM_POOL


@pytest.mark.parametrize(
    ("mutate", "field"),
    [
        (lambda e: e["detail"].__setitem__("EC2InstanceId", "i-XYZ"), "detail.EC2InstanceId"),
        (
            lambda e: e["detail"].__setitem__("LifecycleActionToken", "short"),
            "detail.LifecycleActionToken",
        ),
        (lambda e: e["detail"].pop("AutoScalingGroupName"), "detail.AutoScalingGroupName"),
        (
            lambda e: e["detail"].__setitem__("LifecycleHookName", "bad name;"),
            "detail.LifecycleHookName",
        ),
        (lambda e: e["detail"].__setitem__("Destination", "Moon"), "detail.Destination"),
        # A launch detail-type carrying a terminate transition is inconsistent: refuse it.
        (
            lambda e: e["detail"].__setitem__(
                "LifecycleTransition", "autoscaling:EC2_INSTANCE_TERMINATING"
            ),
            "detail.LifecycleTransition",
        ),
        (lambda e: e.__setitem__("source", "my.app"), "source"),
        (lambda e: e.__setitem__("detail-type", "EC2 Instance Launch Successful"), "detail-type"),
        (lambda e: e.pop("detail-type"), "detail-type"),
        (lambda e: e.__setitem__("detail", "not an object"), "detail"),
        (lambda e: e.pop("account"), "account"),
        # Without its zone the time cannot be compared with AWS's (the join deadline).
        (lambda e: e.__setitem__("time", "2026-03-02T09:00:00"), "time"),
    ],
)
def test_bad_lifecycle_events_name_the_field(mutate: Any, field: str) -> None:
    raw = load_event("lifecycle-launch")
    mutate(raw)
    assert refused(raw).field == field


def test_non_object_event_is_refused() -> None:
    assert refused(["not", "a", "dict"]).field == "event"


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=10), inner, max_size=3)
    ),
    max_leaves=10,
)


@given(key=st.sampled_from(sorted(load_event("lifecycle-launch")["detail"])), value=_JSON)
def test_any_detail_value_either_parses_or_names_a_detail_field(key: str, value: Any) -> None:
    raw = load_event("lifecycle-launch")
    raw["detail"][key] = value
    try:
        evt = classify_lifecycle_event(raw)
    except InvalidInputError as error:
        assert error.field == f"detail.{key}"
    else:
        assert isinstance(evt, LaunchLifecycleEvent)


def test_an_inconsistent_transition_names_the_value_expected() -> None:
    raw = load_event("lifecycle-launch")
    raw["detail"]["LifecycleTransition"] = "autoscaling:EC2_INSTANCE_TERMINATING"
    with pytest.raises(InvalidInputError) as raised:
        classify_lifecycle_event(raw)
    # The value an operator can write, not the enum's Python repr.
    assert raised.value.reason == "Input should be 'autoscaling:EC2_INSTANCE_LAUNCHING'"


@pytest.mark.parametrize("name", ["schedule-reconcile", "schedule-refresh"])
def test_schedule_samples_parse(name: str) -> None:
    evt = parse(event=load_event(name), model=ScheduledEvent)
    assert evt.detail_type == "Scheduled Event"
    assert evt.rule_name is not None and evt.rule_name.startswith("eks-windows-nodes-")


def test_eventbridge_scheduler_ticks_parse_too() -> None:
    raw = load_event("schedule-reconcile")
    raw["source"] = "aws.scheduler"
    raw["detail"] = "{}"  # Scheduler sends an empty detail as a string
    raw["resources"] = ["arn:aws:scheduler:us-east-1:111122223333:schedule/default/tick"]
    evt = parse(event=raw, model=ScheduledEvent)
    assert evt.detail == {}
    assert evt.rule_name is None


def test_a_lifecycle_event_is_not_a_schedule() -> None:
    with pytest.raises(ValueError, match="detail-type"):
        parse(event=load_event("lifecycle-launch"), model=ScheduledEvent)


def test_every_sample_event_is_covered_here() -> None:
    # A new sample must come with a parse test: this list is the inventory.
    assert sample_event_names() == sorted(
        [
            "lifecycle-launch",
            "lifecycle-launch-malformed",
            "lifecycle-terminate",
            "lifecycle-test-notification",
            "schedule-reconcile",
            "schedule-refresh",
        ]
    )


def test_load_event_returns_independent_copies() -> None:
    first = load_event("lifecycle-launch")
    first["detail"].clear()
    assert load_event("lifecycle-launch")["detail"]


def test_models_are_immutable() -> None:
    evt = classify_lifecycle_event(copy.deepcopy(load_event("lifecycle-launch")))
    assert isinstance(evt, LaunchLifecycleEvent)
    with pytest.raises(ValueError, match="frozen"):
        # Assigning to a frozen model is the point: mypy refuses it too.
        evt.detail.ec2_instance_id = InstanceId("i-00000000")  # type: ignore[misc]
