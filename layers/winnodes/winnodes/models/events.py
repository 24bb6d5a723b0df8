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
)

from winnodes.errors import InvalidInputError
from winnodes.models.identifiers import InstanceId
from winnodes.models.lifecycle import InstanceLocation, LifecycleTransition

LAUNCH_DETAIL_TYPE: Final = "EC2 Instance-launch Lifecycle Action"
TERMINATE_DETAIL_TYPE: Final = "EC2 Instance-terminate Lifecycle Action"
SCHEDULED_DETAIL_TYPE: Final = "Scheduled Event"
TEST_NOTIFICATION: Final = "autoscaling:TEST_NOTIFICATION"

# Limits from the Auto Scaling API reference (CompleteLifecycleAction parameters).
AutoScalingGroupName = Annotated[str, StringConstraints(min_length=1, max_length=255)]
LifecycleHookName = Annotated[
    str, StringConstraints(min_length=1, max_length=255, pattern=r"^[A-Za-z0-9\-_/]+$")
]
LifecycleActionToken = Annotated[str, StringConstraints(min_length=36, max_length=36)]


class _Detail(BaseModel):
    # Aliases are the AWS spelling; names are pythonic. Unknown keys AWS may add are ignored.
    model_config = ConfigDict(
        frozen=True, validate_by_alias=True, validate_by_name=True, extra="ignore"
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


class _EventBridgeEvent(EventBridgeModel):
    model_config = ConfigDict(frozen=True, validate_by_alias=True, validate_by_name=True)
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


class LifecycleTestNotification(_EventBridgeEvent):
    source: Literal["aws.autoscaling"]
    detail_type: str = Field(alias="detail-type")
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


def classify_lifecycle_event(raw: Mapping[str, Any]) -> LifecycleEvent:
    """Parse an Auto Scaling lifecycle event into its kind, or raise InvalidInputError naming the
    offending field in the AWS spelling (e.g. `detail.EC2InstanceId`)."""
    if not isinstance(raw, Mapping):
        raise InvalidInputError("event", "must be a JSON object")
    detail = raw.get("detail")
    model: type[LifecycleEvent]
    if isinstance(detail, Mapping) and detail.get("Event") == TEST_NOTIFICATION:
        model = LifecycleTestNotification
    elif raw.get("detail-type") == LAUNCH_DETAIL_TYPE:
        model = LaunchLifecycleEvent
    elif raw.get("detail-type") == TERMINATE_DETAIL_TYPE:
        model = TerminateLifecycleEvent
    else:
        expected = f"{LAUNCH_DETAIL_TYPE!r} or {TERMINATE_DETAIL_TYPE!r}"
        raise InvalidInputError("detail-type", f"{raw.get('detail-type')!r} is not {expected}")
    return parse_event(raw, model)


def parse_event[E: BaseModel](raw: Mapping[str, Any], model: type[E]) -> E:
    """Validate `raw` as `model`; the first validation error becomes an InvalidInputError whose
    field is the dotted path in the event (`detail.LifecycleActionToken`)."""
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        field = ".".join(str(part) for part in first["loc"]) or "event"
        message = _ENUM_REPR.sub(r"\1", first["msg"].removeprefix("Value error, "))
        raise InvalidInputError(field, message) from None


# pydantic names an expected enum member by its repr, `<LifecycleTransition.LAUNCHING: 'x'>`:
# the operator wants the value, `'x'`.
_ENUM_REPR = re.compile(r"<\w+\.\w+: ('[^']*')>")
