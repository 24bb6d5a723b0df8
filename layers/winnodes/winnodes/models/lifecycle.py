"""EC2 Auto Scaling lifecycle vocabulary.

States: https://docs.aws.amazon.com/autoscaling/ec2/APIReference/API_Instance.html
Warm-pool states: https://docs.aws.amazon.com/autoscaling/ec2/userguide/warm-pool-instance-lifecycle.html"""

from __future__ import annotations

from enum import StrEnum


class LifecycleState(StrEnum):
    PENDING = "Pending"
    PENDING_WAIT = "Pending:Wait"
    PENDING_PROCEED = "Pending:Proceed"
    QUARANTINED = "Quarantined"
    IN_SERVICE = "InService"
    TERMINATING = "Terminating"
    TERMINATING_WAIT = "Terminating:Wait"
    TERMINATING_PROCEED = "Terminating:Proceed"
    TERMINATED = "Terminated"
    DETACHING = "Detaching"
    DETACHED = "Detached"
    ENTERING_STANDBY = "EnteringStandby"
    STANDBY = "Standby"
    WARMED_PENDING = "Warmed:Pending"
    WARMED_PENDING_WAIT = "Warmed:Pending:Wait"
    WARMED_PENDING_PROCEED = "Warmed:Pending:Proceed"
    WARMED_TERMINATING = "Warmed:Terminating"
    WARMED_TERMINATING_WAIT = "Warmed:Terminating:Wait"
    WARMED_TERMINATING_PROCEED = "Warmed:Terminating:Proceed"
    WARMED_TERMINATED = "Warmed:Terminated"
    WARMED_STOPPED = "Warmed:Stopped"
    WARMED_RUNNING = "Warmed:Running"
    WARMED_HIBERNATED = "Warmed:Hibernated"

    @classmethod
    def parse(cls, value: str | None) -> LifecycleState | None:
        """The state Auto Scaling reports, or None for none or one newer than this list."""
        try:
            return cls(value) if value is not None else None
        except ValueError:
            return None

    @property
    def awaits_launch_action(self) -> bool:
        """A launch hook holds the instance here until CompleteLifecycleAction or timeout."""
        return self in {LifecycleState.PENDING_WAIT, LifecycleState.WARMED_PENDING_WAIT}

    @property
    def awaits_terminate_action(self) -> bool:
        return self in {LifecycleState.TERMINATING_WAIT, LifecycleState.WARMED_TERMINATING_WAIT}

    def awaits_terminate_action_to(self, *, returning_to_pool: bool) -> bool:
        """A terminate hook holds the instance here. One returning to the warm pool on scale in
        (ReuseOnScaleIn) waits at Warmed:Pending:Wait, where a launch into the pool waits too:
        only a caller that knows it is a return may say so: the event's Destination, or the
        reconciler from what proves the instance was in the group (decisions.warm_pool)."""
        if returning_to_pool and self is LifecycleState.WARMED_PENDING_WAIT:
            return True
        return self.awaits_terminate_action

    def returns_to_pool(self, *, returning_to_pool: bool) -> bool:
        """Whether a terminate action holding the instance here returns it to the warm pool: the
        caller says so and the state agrees. A claim of return for an instance at
        Terminating:Wait is wrong (an event's Destination is anyone's to write): it is going
        away, and its Node must go too rather than be kept for a draw that never comes."""
        return returning_to_pool and self is LifecycleState.WARMED_PENDING_WAIT


class LifecycleTransition(StrEnum):
    LAUNCHING = "autoscaling:EC2_INSTANCE_LAUNCHING"
    TERMINATING = "autoscaling:EC2_INSTANCE_TERMINATING"

    @property
    def moves(self) -> frozenset[tuple[InstanceLocation, InstanceLocation]]:
        """The (Origin, Destination) pairs Auto Scaling reports for this transition."""
        return _MOVES[self]


class LifecycleActionResult(StrEnum):
    """`LifecycleActionResult` of CompleteLifecycleAction. On a terminate hook both results
    terminate the instance; ABANDON additionally skips any remaining hooks."""

    CONTINUE = "CONTINUE"
    ABANDON = "ABANDON"


class InstanceLocation(StrEnum):
    """`Origin` / `Destination` of a lifecycle event: where the instance comes from and goes to.
    https://docs.aws.amazon.com/autoscaling/ec2/userguide/warm-pools-eventbridge-events.html"""

    EC2 = "EC2"
    AUTO_SCALING_GROUP = "AutoScalingGroup"
    WARM_POOL = "WarmPool"


_EC2, _GROUP, _POOL = (
    InstanceLocation.EC2,
    InstanceLocation.AUTO_SCALING_GROUP,
    InstanceLocation.WARM_POOL,
)
# warm-pools-eventbridge-events.html shows four (a launch into the pool, a draw, a launch into the
# group, a return on scale in); a termination from the group and one of a pool instance (the
# pool shrinks, or an instance refresh replaces it) leave for EC2.
_MOVES: dict[LifecycleTransition, frozenset[tuple[InstanceLocation, InstanceLocation]]] = {
    LifecycleTransition.LAUNCHING: frozenset({(_EC2, _GROUP), (_EC2, _POOL), (_POOL, _GROUP)}),
    LifecycleTransition.TERMINATING: frozenset({(_GROUP, _EC2), (_GROUP, _POOL), (_POOL, _EC2)}),
}
