"""Routes Auto Scaling lifecycle events: launch → join, terminate → leave. Test notifications are
skipped, events of groups we do not manage are ignored, malformed events are refused without
side effects."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from winnodes.decisions.join import Abandon, NothingToDo, WaitForNode
from winnodes.errors import ClusterNotFoundError, InvalidInputError
from winnodes.models.events import (
    TEST_NOTIFICATION,
    LaunchLifecycleEvent,
    LifecycleActionDetail,
    LifecycleTestNotification,
    TerminateLifecycleEvent,
    classify_lifecycle_event,
)
from winnodes.models.groups import ManagedGroup, UnmanagedGroup, discover_managed_group
from winnodes.models.lifecycle import InstanceLocation
from winnodes.observability import logger, rejected_event
from winnodes.ports import Clock, LifecycleHook
from winnodes.services.fleet import Fleet, FleetView, work_deadline
from winnodes.services.join import JoinService, LaunchAction
from winnodes.services.leave import LeaveService, TerminateAction

type Outcome = dict[str, Any]


def skipped_test_notification() -> Outcome:
    """A test notification carries no action: skipped, before anything is asked of AWS."""
    return {"status": "skipped", "reason": TEST_NOTIFICATION}


def _unknown_cluster(error: ClusterNotFoundError) -> Outcome:
    """The group's cluster tag names no cluster: the action is left to its hook's default
    result; the reconciler names the group at every pass."""
    return rejected_event(
        "the group's cluster does not exist: its lifecycle action is left alone",
        "cluster",
        str(error),
        cluster=error.cluster,
    )


class LifecycleEvents:
    def __init__(
        self, *, fleet: Fleet, join: JoinService, leave: LeaveService, clock: Clock
    ) -> None:
        self._fleet = fleet
        self._join = join
        self._leave = leave
        self._clock = clock

    def handle(self, raw: Mapping[str, Any], *, time_left: timedelta | None = None) -> Outcome:
        """With `time_left` (a Lambda invocation's), a wait starts no new look once less than
        STEP_RESERVE of it remains, whatever the wait budgets say: an invocation that ran out
        of time would be retried, and the metrics of an action it completed lost."""
        wait_until = work_deadline(self._clock, time_left)
        try:
            event = classify_lifecycle_event(raw)
        except InvalidInputError as error:
            return rejected_event("malformed lifecycle event", error.field, error.reason)
        if isinstance(event, LifecycleTestNotification):
            return skipped_test_notification()
        try:
            if isinstance(event, LaunchLifecycleEvent):
                return self._launch(event, wait_until)
            return self._terminate(event, wait_until)
        except ClusterNotFoundError as error:
            return _unknown_cluster(error)

    def _holder(
        self, detail: LifecycleActionDetail, wait_until: float | None
    ) -> tuple[ManagedGroup, LifecycleHook, FleetView] | Outcome:
        """The managed group and its hook that hold the instance, with the view that read them
        (the action carries on with it, so the group is not read twice), or why the event is
        ignored."""
        view = self._fleet.view(wait_until=wait_until)
        log = {"asg": detail.auto_scaling_group_name, "instance_id": str(detail.ec2_instance_id)}
        group = view.group(detail.auto_scaling_group_name)
        if group is None:
            logger.info("group no longer exists", extra=log)
            return {"status": "ignored", "reason": "group not found"}
        managed = discover_managed_group(group.name, group.tags)
        if isinstance(managed, UnmanagedGroup):
            logger.info("event for an unmanaged group", extra=log | {"reason": managed.detail})
            return {"status": "ignored", "reason": managed.detail}
        hook = view.our_hook(managed, detail.lifecycle_transition)
        if hook is None or hook.name != detail.lifecycle_hook_name:
            # Another tool's hook, or one we cannot tell is ours: its action is not ours to end.
            reason = f"lifecycle hook {detail.lifecycle_hook_name!r} is not ours"
            logger.info("event for another lifecycle hook", extra=log | {"reason": reason})
            return {"status": "ignored", "reason": reason}
        return managed, hook, view

    def _launch(self, event: LaunchLifecycleEvent, wait_until: float | None) -> Outcome:
        detail = event.detail
        # A launch into the warm pool goes through the join too, which releases it once its
        # node registered: decided there, the reconciler does the same for a lost event.
        holder = self._holder(detail, wait_until)
        if not isinstance(holder, tuple):
            return holder
        managed, hook, view = holder
        action = LaunchAction(
            group=managed,
            instance_id=str(detail.ec2_instance_id),
            hook=hook,
            token=detail.lifecycle_action_token,
            event_time=event.time,
        )
        result = self._join.join(action, view)
        outcome: Outcome = {
            "status": "finished" if result.finished else "waiting",
            "step": type(result.step).__name__,
            "instance_id": result.instance_id,
        }
        if isinstance(result.step, Abandon | WaitForNode | NothingToDo):
            outcome["reason"] = result.step.reason
        return outcome

    def _terminate(self, event: TerminateLifecycleEvent, wait_until: float | None) -> Outcome:
        detail = event.detail
        holder = self._holder(detail, wait_until)
        if not isinstance(holder, tuple):
            return holder
        managed, hook, view = holder
        action = TerminateAction(
            group=managed,
            instance_id=str(detail.ec2_instance_id),
            hook=hook,
            token=detail.lifecycle_action_token,
            # Scale-in with ReuseOnScaleIn: the event says where the instance goes.
            returning_to_pool=detail.destination is InstanceLocation.WARM_POOL,
        )
        result = self._leave.leave(action, view)
        return {
            "status": "finished" if result.finished else "draining",
            "step": type(result.step).__name__,
            "instance_id": action.instance_id,
            "remaining": result.remaining,
            "blocked_by_pdb": result.blocked_by_pdb,
        }
