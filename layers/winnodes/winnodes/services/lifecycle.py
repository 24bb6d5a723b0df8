"""Routes Auto Scaling lifecycle events: launch → join. Test notifications are skipped, events of
groups we do not manage are ignored, malformed events are refused without side effects."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from winnodes.errors import InvalidInputError
from winnodes.models.events import (
    LaunchLifecycleEvent,
    LifecycleTestNotification,
    classify_lifecycle_event,
)
from winnodes.models.groups import UnmanagedGroup, discover_managed_group
from winnodes.observability import logger, metrics
from winnodes.services.join import JoinService, LaunchAction

type Outcome = dict[str, Any]


class LifecycleEvents:
    def __init__(self, *, join: JoinService) -> None:
        self._join = join

    def handle(self, raw: Mapping[str, Any]) -> Outcome:
        try:
            event = classify_lifecycle_event(raw)
        except InvalidInputError as error:
            metrics.add_metric(name="EventRejected", unit="Count", value=1)
            logger.error(
                "malformed lifecycle event", extra={"field": error.field, "reason": error.reason}
            )
            return {"status": "rejected", "field": error.field, "reason": error.reason}
        if isinstance(event, LifecycleTestNotification):
            return {"status": "skipped", "reason": "autoscaling:TEST_NOTIFICATION"}
        if isinstance(event, LaunchLifecycleEvent):
            return self._launch(event)
        # The terminate path (drain) is not handled here yet; the hook's default applies.
        return {"status": "ignored", "reason": "terminate lifecycle actions are not handled"}

    def _launch(self, event: LaunchLifecycleEvent) -> Outcome:
        detail = event.detail
        log = {"asg": detail.auto_scaling_group_name, "instance_id": str(detail.ec2_instance_id)}
        if detail.into_warm_pool:
            # Warm-pool instances are stopped after launch; they join when they leave the pool.
            return {"status": "ignored", "reason": "instance is going to the warm pool"}
        view = self._join.view()
        group = view.group(detail.auto_scaling_group_name)
        if group is None:
            logger.info("group no longer exists", extra=log)
            return {"status": "ignored", "reason": "group not found"}
        managed = discover_managed_group(group.name, group.tags)
        if isinstance(managed, UnmanagedGroup):
            logger.info("event for an unmanaged group", extra=log | {"reason": managed.detail})
            return {"status": "ignored", "reason": managed.detail}
        hook = self._join.launch_hook(group.name, detail.lifecycle_hook_name, view=view)
        if hook is None:
            return {"status": "ignored", "reason": "lifecycle hook not found"}
        action = LaunchAction(
            group=managed,
            instance_id=str(detail.ec2_instance_id),
            hook=hook,
            token=detail.lifecycle_action_token,
        )
        result = self._join.join(action)
        return {
            "status": "finished" if result.finished else "waiting",
            "step": type(result.step).__name__,
            "instance_id": result.instance_id,
        }
