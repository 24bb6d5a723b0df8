"""Sample events parse into the models a handler uses; bad ones fail naming the field."""

from __future__ import annotations

import copy
from datetime import datetime
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
    parse_event,
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


# The three moves of an instance in a group with a warm pool, as Auto Scaling reports them:
# https://docs.aws.amazon.com/autoscaling/ec2/userguide/warm-pools-eventbridge-events.html
@pytest.mark.parametrize(
    ("name", "model", "transition", "origin", "destination", "hook"),
    [
        (
            "lifecycle-launch-into-warm-pool",
            LaunchLifecycleEvent,
            LifecycleTransition.LAUNCHING,
            InstanceLocation.EC2,
            InstanceLocation.WARM_POOL,
            "eks-windows-nodes-join",
        ),
        (
            "lifecycle-launch-from-warm-pool",
            LaunchLifecycleEvent,
            LifecycleTransition.LAUNCHING,
            InstanceLocation.WARM_POOL,
            InstanceLocation.AUTO_SCALING_GROUP,
            "eks-windows-nodes-join",
        ),
        (
            "lifecycle-terminate-into-warm-pool",
            TerminateLifecycleEvent,
            LifecycleTransition.TERMINATING,
            InstanceLocation.AUTO_SCALING_GROUP,
            InstanceLocation.WARM_POOL,
            "eks-windows-nodes-leave",
        ),
    ],
)
def test_warm_pool_samples_say_where_the_instance_comes_from_and_goes(
    name: str,
    model: type[LaunchLifecycleEvent | TerminateLifecycleEvent],
    transition: LifecycleTransition,
    origin: InstanceLocation,
    destination: InstanceLocation,
    hook: str,
) -> None:
    evt = classify_lifecycle_event(load_event(name))
    assert isinstance(evt, model)
    assert evt.detail.lifecycle_transition is transition
    assert (evt.detail.origin, evt.detail.destination) == (origin, destination)
    assert evt.detail.lifecycle_hook_name == hook
    # One instance's story: launched into the pool, drawn from it, returned to it.
    assert evt.detail.ec2_instance_id == "i-0f1e2d3c4b5a69788"
    assert evt.time.tzinfo is not None and evt.time.microsecond > 0  # AWS's shape: milliseconds


def test_each_warm_pool_sample_carries_its_own_action_token() -> None:
    names = [
        "lifecycle-launch-into-warm-pool",
        "lifecycle-launch-from-warm-pool",
        "lifecycle-terminate-into-warm-pool",
    ]
    tokens = {load_event(name)["detail"]["LifecycleActionToken"] for name in names}
    assert len(tokens) == len(names)


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
            "lifecycle-launch-from-warm-pool",
            "lifecycle-launch-into-warm-pool",
            "lifecycle-launch-malformed",
            "lifecycle-terminate",
            "lifecycle-terminate-into-warm-pool",
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


def launch_with(**detail: Any) -> dict[str, Any]:
    raw = load_event("lifecycle-launch")
    raw["detail"].update(detail)
    return raw


def launch(raw: dict[str, Any]) -> LaunchLifecycleEvent:
    evt = classify_lifecycle_event(raw)
    assert isinstance(evt, LaunchLifecycleEvent)
    return evt


# Parameter limits of CompleteLifecycleAction, which these values are passed back to:
# https://docs.aws.amazon.com/autoscaling/ec2/APIReference/API_CompleteLifecycleAction.html
# LifecycleActionToken: exactly 36 characters; AutoScalingGroupName: 1-255, of the characters
# below; LifecycleHookName: 1-255 of [A-Za-z0-9-_/].
@pytest.mark.parametrize(
    ("token", "reason"),
    [
        ("8" * 35, "String should have at least 36 characters"),
        ("8" * 37, "String should have at most 36 characters"),
        ("", "String should have at least 36 characters"),
    ],
)
def test_a_lifecycle_action_token_not_36_characters_long_is_refused(
    token: str, reason: str
) -> None:
    error = refused(launch_with(LifecycleActionToken=token))
    assert (error.field, error.reason) == ("detail.LifecycleActionToken", reason)


def test_a_lifecycle_action_token_of_36_characters_is_kept() -> None:
    evt = classify_lifecycle_event(launch_with(LifecycleActionToken="c" * 36))
    assert isinstance(evt, LaunchLifecycleEvent)
    assert evt.detail.lifecycle_action_token == "c" * 36


@pytest.mark.parametrize(
    "name",
    [
        "a",
        "n" * 255,
        "prod windows (2022) é",
        "prod\twindows\r\n",
        "prod\x7f\x80windows\x9f",  # DEL and the C1 controls are AWS's to take
        "prod \U0001f600",
    ],
)
def test_a_group_name_of_1_to_255_characters_is_kept(name: str) -> None:
    evt = classify_lifecycle_event(launch_with(AutoScalingGroupName=name))
    assert evt.detail.auto_scaling_group_name == name


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("", "String should have at least 1 character"),
        ("n" * 256, "String should have at most 255 characters"),
    ],
)
def test_a_group_name_outside_1_to_255_characters_is_refused(name: str, reason: str) -> None:
    error = refused(launch_with(AutoScalingGroupName=name))
    assert (error.field, error.reason) == ("detail.AutoScalingGroupName", reason)


# A group name's characters as botocore's autoscaling model has them (shape ResourceName):
# [\u0020-\uD7FF\uE000-\uFFFD\uD800\uDC00-\uDBFF\uDFFF\r\n\t], the pair of surrogates being
# Java's spelling of U+10000 to U+10FFFF. AWS refuses any other (DescribeAutoScalingGroups answers
# ValidationError): such a name is malformed input, refused before any call.
GROUP_NAME_CHARACTERS = st.characters(
    min_codepoint=0x20, exclude_categories=["Cs"], exclude_characters="\ufffe\uffff"
) | st.sampled_from("\t\n\r")
REFUSED_GROUP_NAME_CHARACTERS = st.one_of(
    st.characters(max_codepoint=0x1F, exclude_characters="\t\n\r"),
    st.sampled_from("\ufffe\uffff"),
    st.integers(0xD800, 0xDFFF).map(chr),  # a lone surrogate, as json.loads reads "\ud800"
)
MISMATCH = "String should match pattern"


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("prod\x01windows", MISMATCH),
        ("\x00", MISMATCH),
        ("prod\x1b[31mwindows", MISMATCH),
        ("prod\ufffe", MISMATCH),
        ("prod\uffff", MISMATCH),
        ("prod\ud800", "Input should be a valid string"),
    ],
)
def test_a_group_name_with_a_character_aws_refuses_is_refused(name: str, reason: str) -> None:
    error = refused(launch_with(AutoScalingGroupName=name))
    assert error.field == "detail.AutoScalingGroupName"
    assert error.reason.startswith(reason)


@given(st.text(GROUP_NAME_CHARACTERS, min_size=1, max_size=255))
def test_every_group_name_aws_takes_is_kept(name: str) -> None:
    assert launch(launch_with(AutoScalingGroupName=name)).detail.auto_scaling_group_name == name


@given(
    st.text(GROUP_NAME_CHARACTERS, max_size=254),
    st.integers(min_value=0, max_value=254),
    REFUSED_GROUP_NAME_CHARACTERS,
)
def test_every_group_name_with_a_character_aws_refuses_is_refused(
    name: str, at: int, character: str
) -> None:
    error = refused(launch_with(AutoScalingGroupName=name[:at] + character + name[at:]))
    assert error.field == "detail.AutoScalingGroupName"


@pytest.mark.parametrize("name", ["a", "h" * 255, "eks/windows-nodes_Join-2"])
def test_a_hook_name_of_1_to_255_allowed_characters_is_kept(name: str) -> None:
    evt = launch(launch_with(LifecycleHookName=name))
    assert evt.detail.lifecycle_hook_name == name


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("", "String should have at least 1 character"),
        ("h" * 256, "String should have at most 255 characters"),
        ("hook.name", "String should match pattern '^[A-Za-z0-9\\-_/]+$'"),
        ("hook name", "String should match pattern '^[A-Za-z0-9\\-_/]+$'"),
        ("hook\n", "String should match pattern '^[A-Za-z0-9\\-_/]+$'"),
    ],
)
def test_a_hook_name_outside_the_api_rule_is_refused(name: str, reason: str) -> None:
    error = refused(launch_with(LifecycleHookName=name))
    assert (error.field, error.reason) == ("detail.LifecycleHookName", reason)


@pytest.mark.parametrize(
    ("instance", "ok"),
    [
        ("i-01234567", True),
        ("i-0123456789abcdef0", True),
        ("i-012345678", False),
        ("i-0123456789abcdef", False),
        ("i-0123456", False),
    ],
)
def test_an_event_instance_id_must_have_8_or_17_hex_digits(instance: str, ok: bool) -> None:
    raw = launch_with(EC2InstanceId=instance)
    if ok:
        assert launch(raw).detail.ec2_instance_id == instance
    else:
        error = refused(raw)
        assert (error.field, error.reason) == (
            "detail.EC2InstanceId",
            f"{instance!r} does not match i-<8 or 17 lowercase hex digits>",
        )


# EventBridge writes `time` as UTC with a Z (events reference: "time": "2019-11-20T21:27:37Z").
@pytest.mark.parametrize(
    ("time", "utc"),
    [
        ("2026-03-02T09:00:00Z", "2026-03-02T09:00:00+00:00"),
        ("2026-03-02T09:00:00+00:00", "2026-03-02T09:00:00+00:00"),
        ("2026-03-02T11:00:00+02:00", "2026-03-02T09:00:00+00:00"),
    ],
)
def test_an_event_time_with_a_zone_is_kept_as_that_instant(time: str, utc: str) -> None:
    raw = load_event("lifecycle-launch")
    raw["time"] = time
    evt = launch(raw)
    assert evt.time.tzinfo is not None
    assert evt.time == datetime.fromisoformat(utc)


@pytest.mark.parametrize("time", ["2026-03-02T09:00:00", "2026-03-02 09:00:00"])
def test_an_event_time_without_a_zone_is_refused(time: str) -> None:
    raw = load_event("lifecycle-launch")
    raw["time"] = time
    error = refused(raw)
    assert (error.field, error.reason) == ("time", "Input should have timezone info")


@pytest.mark.parametrize(
    "detail_type",
    [
        "ec2 instance-launch lifecycle action",
        "EC2 Instance-launch Lifecycle Action ",
        "EC2 Instance Launch Successful",
        None,
        "",
    ],
)
def test_a_detail_type_other_than_launch_or_terminate_is_refused_naming_both(
    detail_type: str | None,
) -> None:
    raw = load_event("lifecycle-launch")
    raw["detail-type"] = detail_type
    error = refused(raw)
    assert (error.field, error.reason) == (
        "detail-type",
        f"{detail_type!r} is not 'EC2 Instance-launch Lifecycle Action' or "
        "'EC2 Instance-terminate Lifecycle Action'",
    )


@pytest.mark.parametrize(
    ("model", "detail_type", "expected"),
    [
        (
            LaunchLifecycleEvent,
            "EC2 Instance-terminate Lifecycle Action",
            "EC2 Instance-launch Lifecycle Action",
        ),
        (
            TerminateLifecycleEvent,
            "EC2 Instance-launch Lifecycle Action",
            "EC2 Instance-terminate Lifecycle Action",
        ),
        (ScheduledEvent, "EC2 Instance-launch Lifecycle Action", "Scheduled Event"),
    ],
)
def test_each_model_takes_only_its_own_detail_type(
    model: type[LaunchLifecycleEvent | TerminateLifecycleEvent | ScheduledEvent],
    detail_type: str,
    expected: str,
) -> None:
    raw = load_event(
        "lifecycle-terminate" if model is TerminateLifecycleEvent else "lifecycle-launch"
    )
    if model is ScheduledEvent:
        raw = load_event("schedule-reconcile")
    raw["detail-type"] = detail_type
    with pytest.raises(InvalidInputError) as raised:
        parse_event(raw, model)
    assert (raised.value.field, raised.value.reason) == (
        "detail-type",
        f"Input should be {expected!r}",
    )


def test_a_terminate_detail_type_with_a_launch_transition_is_refused() -> None:
    raw = load_event("lifecycle-terminate")
    raw["detail"]["LifecycleTransition"] = "autoscaling:EC2_INSTANCE_LAUNCHING"
    error = refused(raw)
    assert (error.field, error.reason) == (
        "detail.LifecycleTransition",
        "Input should be 'autoscaling:EC2_INSTANCE_TERMINATING'",
    )
