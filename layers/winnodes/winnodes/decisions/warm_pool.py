"""Why an instance of a warm-pool group waits at Warmed:Pending:Wait, from facts the reconciler
can read (no AWS API says which lifecycle action holds an instance).

Two actions hold an instance there: the launch hook's, for a new instance launched into the
pool, and, when the pool's InstanceReusePolicy has ReuseOnScaleIn, the terminate hook's, for
an instance returning to the pool on scale in ("instances returning to the warm pool pause at
Warmed:Pending:Wait for the EC2_INSTANCE_TERMINATING lifecycle action",
https://docs.aws.amazon.com/autoscaling/ec2/userguide/warm-pool-instance-lifecycle.html).
The event says which (Origin/Destination); the reconciler has to tell from what it sees.

A launch into the pool is always a new EC2 instance, so what proves a return is that the
instance was in the group before: it carries a join-start stamp (written only while held in
Pending:Wait, on its way into the group) or a return mark; or it was launched longer ago than
any lifecycle action can last (48 h), so no launch action can still hold it. Without such proof
the reconciler must not drain (the node may be one that never served and is kept for a draw),
and only a pool that does not reuse instances makes it surely a launch."""

from __future__ import annotations

from datetime import datetime, timedelta
from enum import StrEnum
from typing import Final

from winnodes.decisions.heartbeat import hook_global_timeout

# No lifecycle action outlives 48 h (hook_global_timeout's cap); the margin absorbs clock skew
# between EC2's LaunchTime and ours.
_LONGEST_ACTION: Final = hook_global_timeout(timedelta(days=365))
_CLOCK_MARGIN: Final = timedelta(hours=1)


class WarmWait(StrEnum):
    LAUNCH = "launch"  # a new instance launched into the pool: the join prepares it
    RETURN = "return"  # back from the group on scale in: the leave drains it
    UNKNOWN = "unknown"  # either: only the event can tell; the reconciler does not drain it


def warm_wait_cause(
    *,
    reuse_on_scale_in: bool,
    was_in_group: bool,
    launch_time: datetime | None,
    now: datetime,
) -> WarmWait:
    """`was_in_group`: the instance carries a join-start stamp or a return mark. `launch_time`:
    EC2's LaunchTime, None when the instance is not visible."""
    if was_in_group:
        return WarmWait.RETURN
    if launch_time is not None and now - launch_time > _LONGEST_ACTION + _CLOCK_MARGIN:
        return WarmWait.RETURN
    return WarmWait.UNKNOWN if reuse_on_scale_in else WarmWait.LAUNCH
