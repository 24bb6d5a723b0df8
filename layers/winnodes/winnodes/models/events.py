"""Events our functions receive, as Powertools Parser models.

A handler with one event kind does `parse(event=event, model=LaunchLifecycleEvent)`; the lifecycle
handler, which receives launch and terminate actions and test notifications, calls
`classify_lifecycle_event(event)` and matches on the type.

Shapes: https://docs.aws.amazon.com/autoscaling/ec2/userguide/ec2-auto-scaling-event-reference.html
and https://docs.aws.amazon.com/autoscaling/ec2/userguide/warm-pools-eventbridge-events.html"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Annotated, Any, Final, Literal

from aws_lambda_powertools.utilities.parser.models import EventBridgeModel
from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    ValidationInfo,
    field_validator,
)

from winnodes.errors import InvalidInputError
from winnodes.models.identifiers import InstanceId
from winnodes.models.lifecycle import InstanceLocation, LifecycleTransition

LAUNCH_DETAIL_TYPE: Final = "EC2 Instance-launch Lifecycle Action"
TERMINATE_DETAIL_TYPE: Final = "EC2 Instance-terminate Lifecycle Action"
SCHEDULED_DETAIL_TYPE: Final = "Scheduled Event"
TEST_NOTIFICATION: Final = "autoscaling:TEST_NOTIFICATION"

# Limits from the Auto Scaling API reference (CompleteLifecycleAction parameters). A group name's
# characters are those of botocore's autoscaling model (shapes ResourceName, XmlStringMaxLen255:
# no control characters but tab, LF and CR, no lone surrogates, no U+FFFE or U+FFFF): a name AWS
# refuses is malformed input, refused here before any call, not a DescribeAutoScalingGroups
# ValidationError that fails the invocation and its retries.
AutoScalingGroupName = Annotated[
    str,
    StringConstraints(
        min_length=1,
        max_length=255,
        pattern=r"^[\u0020-\uD7FF\uE000-\uFFFD\U00010000-\U0010FFFF\t\n\r]+$",
    ),
]
LifecycleHookName = Annotated[
    str, StringConstraints(min_length=1, max_length=255, pattern=r"^[A-Za-z0-9\-_/]+$")
]
LifecycleActionToken = Annotated[str, StringConstraints(min_length=36, max_length=36)]


class _Detail(BaseModel):
    # Aliases are the AWS spelling; names are pythonic, and not accepted as keys: AWS never
    # sends `ec2_instance_id`, and an event carrying both spellings would be read ambiguously.
    # Unknown keys AWS may add are ignored.
    model_config = ConfigDict(
        frozen=True, validate_by_alias=True, validate_by_name=False, extra="ignore"
    )


class LifecycleActionDetail(_Detail):
    lifecycle_action_token: LifecycleActionToken = Field(alias="LifecycleActionToken")
    auto_scaling_group_name: AutoScalingGroupName = Field(alias="AutoScalingGroupName")
    lifecycle_hook_name: LifecycleHookName = Field(alias="LifecycleHookName")
    ec2_instance_id: InstanceId = Field(alias="EC2InstanceId")
    lifecycle_transition: LifecycleTransition = Field(alias="LifecycleTransition")
    notification_metadata: str | None = Field(default=None, alias="NotificationMetadata")
    # Older deliveries and groups without a warm pool may omit these two.
    origin: InstanceLocation | None = Field(default=None, alias="Origin")
    destination: InstanceLocation | None = Field(default=None, alias="Destination")

    @field_validator("origin", mode="before")
    @classmethod
    def _origin_aws_may_add(cls, value: object) -> object:
        # Nothing is decided on Origin (the join and the leave go by the lifecycle state, the
        # leave by Destination too): a location AWS adds later is read as none, not a reason to
        # refuse every event. Destination decides a return to the warm pool: it stays strict.
        if isinstance(value, str) and value not in InstanceLocation:
            return None
        return value

    @field_validator("origin")
    @classmethod
    def _origin_of_this_transition(
        cls, origin: InstanceLocation | None, info: ValidationInfo
    ) -> InstanceLocation | None:
        transition = info.data.get("lifecycle_transition")
        if origin is not None and transition is not None:
            origins = {o for o, _ in LifecycleTransition(transition).moves}
            if origin not in origins:
                raise ValueError(f"{_kind(transition)} never comes from {origin.value!r}")
        return origin

    @field_validator("destination")
    @classmethod
    def _destination_of_this_move(
        cls, destination: InstanceLocation | None, info: ValidationInfo
    ) -> InstanceLocation | None:
        transition = info.data.get("lifecycle_transition")
        if destination is None or transition is None:
            return destination
        origin = info.data.get("origin")
        moves = LifecycleTransition(transition).moves
        if not any(d is destination and origin in (None, o) for o, d in moves):
            source = f" from {origin.value!r}" if origin is not None else ""
            raise ValueError(f"{_kind(transition)}{source} never goes to {destination.value!r}")
        return destination


class LaunchLifecycleDetail(LifecycleActionDetail):
    lifecycle_transition: Literal[LifecycleTransition.LAUNCHING] = Field(
        alias="LifecycleTransition"
    )


class TerminateLifecycleDetail(LifecycleActionDetail):
    lifecycle_transition: Literal[LifecycleTransition.TERMINATING] = Field(
        alias="LifecycleTransition"
    )


class LifecycleTestNotificationDetail(_Detail):
    """Sent once when a hook or notification target is set up; carries no action to complete."""

    event: Literal["autoscaling:TEST_NOTIFICATION"] = Field(alias="Event")
    auto_scaling_group_name: str | None = Field(default=None, alias="AutoScalingGroupName")
    request_id: str | None = Field(default=None, alias="RequestId")

    @field_validator("auto_scaling_group_name", "request_id", mode="before")
    @classmethod
    def _informational(cls, value: object) -> object:
        # Read for the record only: a value that is not a string is read as none, so that a
        # test notification is skipped, never refused, whatever it says (LifecycleTestNotification).
        return value if isinstance(value, str) else None


def _kind(transition: LifecycleTransition) -> str:
    return "a launch" if transition is LifecycleTransition.LAUNCHING else "a termination"


class _EventBridgeEvent(EventBridgeModel):
    # As _Detail: the AWS spelling only (`detail-type`, never `detail_type`).
    model_config = ConfigDict(frozen=True, validate_by_alias=True, validate_by_name=False)
    # EventBridge writes UTC with a Z; a time without its zone cannot be compared with AWS's
    # (a join deadline counts from it), so it is refused rather than guessed.
    time: AwareDatetime


class LaunchLifecycleEvent(_EventBridgeEvent):
    source: Literal["aws.autoscaling"]
    detail_type: Literal["EC2 Instance-launch Lifecycle Action"] = Field(alias="detail-type")
    detail: LaunchLifecycleDetail


class TerminateLifecycleEvent(_EventBridgeEvent):
    source: Literal["aws.autoscaling"]
    detail_type: Literal["EC2 Instance-terminate Lifecycle Action"] = Field(alias="detail-type")
    detail: TerminateLifecycleDetail


class LifecycleTestNotification(BaseModel):
    """Told by its `detail.Event` alone. It asks for nothing to be done, so skipping it has no
    side effect whatever the rest says: the envelope is not required, and an envelope that is
    missing a field or garbled (hand-sent, or from a tool that writes its own) is skipped as the
    notification it says it is, not refused as a malformed lifecycle action. Hence not an
    EventBridgeModel, whose envelope fields are all required."""

    model_config = ConfigDict(
        frozen=True, validate_by_alias=True, validate_by_name=False, extra="ignore"
    )
    detail: LifecycleTestNotificationDetail


LifecycleEvent = LaunchLifecycleEvent | TerminateLifecycleEvent | LifecycleTestNotification


class ScheduledEvent(_EventBridgeEvent):
    """A schedule tick. `aws.events` from an EventBridge rule (SAM `Schedule`), `aws.scheduler`
    from EventBridge Scheduler (SAM `ScheduleV2`)."""

    source: Literal["aws.events", "aws.scheduler"]
    detail_type: Literal["Scheduled Event"] = Field(alias="detail-type")
    detail: dict[str, Any] = Field(default_factory=dict)

    @property
    def rule_name(self) -> str | None:
        """`arn:aws:events:<region>:<account>:rule/<name>` → `<name>` (first resource)."""
        for arn in self.resources:
            _, sep, name = arn.partition(":rule/")
            if sep:
                return name
        return None


class ScheduleTick(BaseModel):
    """What starts a reconciler pass: a schedule tick, told by its source and detail-type as
    ScheduledEvent tells it. The pass reads nothing else of the event, so the rest of the
    envelope is not required: the local cloud's scheduler (localcloud.deployment's
    Product.tick) and a hand-made `aws lambda invoke` send these two alone."""

    model_config = ConfigDict(
        frozen=True, validate_by_alias=True, validate_by_name=False, extra="ignore"
    )
    source: Literal["aws.events", "aws.scheduler"]
    detail_type: Literal["Scheduled Event"] = Field(alias="detail-type")


def parse_schedule_tick(raw: object) -> ScheduleTick:
    """The reconciler's event, or InvalidInputError naming the field (AWS spelling)."""
    if not isinstance(raw, Mapping):
        raise InvalidInputError("event", "must be a JSON object")
    return parse_event(raw, ScheduleTick)


def classify_lifecycle_event(raw: Mapping[str, Any]) -> LifecycleEvent:
    """Parse an Auto Scaling lifecycle event into its kind, or raise InvalidInputError naming the
    offending field in the AWS spelling (e.g. `detail.EC2InstanceId`)."""
    if not isinstance(raw, Mapping):
        raise InvalidInputError("event", "must be a JSON object")
    detail = raw.get("detail")
    model: type[LifecycleEvent]
    # A test notification is told first, by detail.Event alone, whatever its detail-type and
    # the rest of its envelope say: see LifecycleTestNotification.
    if isinstance(detail, Mapping) and detail.get("Event") == TEST_NOTIFICATION:
        model = LifecycleTestNotification
    elif raw.get("detail-type") == LAUNCH_DETAIL_TYPE:
        model = LaunchLifecycleEvent
    elif raw.get("detail-type") == TERMINATE_DETAIL_TYPE:
        model = TerminateLifecycleEvent
    else:
        expected = f"{LAUNCH_DETAIL_TYPE!r} or {TERMINATE_DETAIL_TYPE!r}"
        raise InvalidInputError("detail-type", f"{echo(raw.get('detail-type'))} is not {expected}")
    return parse_event(raw, model)


def parse_event[E: BaseModel](raw: Mapping[str, Any], model: type[E]) -> E:
    """Validate `raw` as `model`; the first validation error becomes an InvalidInputError whose
    field is the dotted path in the event (`detail.LifecycleActionToken`)."""
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        field = _capped(".".join(str(part) for part in first["loc"]) or "event")
        message = _ENUM_REPR.sub(r"\1", first["msg"].removeprefix("Value error, "))
        # A message that quotes the value (an instance id's) quotes it shortened.
        if isinstance(value := first.get("input"), str) and len(repr(value)) > ECHO_LIMIT:
            message = message.replace(repr(value), echo(value))
        raise InvalidInputError(field, _capped(message)) from None


# How much of a value an error quotes: events are anyone's to send, and what an error says is
# printed, logged and returned whole (EventBridge events reach 256 KB).
ECHO_LIMIT: Final = 200


def echo(value: object) -> str:
    """`repr(value)`, shortened to ECHO_LIMIT characters and saying how long it was."""
    shown = repr(value)
    if len(shown) <= ECHO_LIMIT:
        return shown
    return f"{shown[:ECHO_LIMIT]}... ({len(shown)} characters)"


def _capped(text: str) -> str:
    # Whatever else an error quotes (a pattern, a path of keys) stays bounded too.
    limit = 4 * ECHO_LIMIT
    return text if len(text) <= limit else f"{text[:limit]}... ({len(text)} characters)"


# pydantic names an expected enum member by its repr, `<LifecycleTransition.LAUNCHING: 'x'>`:
# the operator wants the value, `'x'`.
_ENUM_REPR = re.compile(r"<\w+\.\w+: ('[^']*')>")
