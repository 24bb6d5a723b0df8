"""When to send RecordLifecycleActionHeartbeat, and how long a hook can be held at most.

A hook waits until its heartbeat timeout, each heartbeat resets it, and the whole wait is capped at
48 hours or 100 × the heartbeat timeout, whichever is smaller:
https://docs.aws.amazon.com/autoscaling/ec2/userguide/lifecycle-hooks-overview.html"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Final

# Heartbeat at half the timeout: one missed reconciler tick or a slow call still leaves margin.
HEARTBEAT_AT_FRACTION: Final = 0.5
_GLOBAL_TIMEOUT_CAP: Final = timedelta(hours=48)
_GLOBAL_TIMEOUT_MULTIPLE: Final = 100
# Our deadlines (the join's, the drain's) end this long before the hook's global timeout at the
# latest (a fifth of it for a hook that short: AWS's 30 s heartbeat minimum gives 50 minutes):
# the hook's clock starts with its wait, which we may learn of late (a lost event the reconciler
# finds, a drain counted from its cordon), a pass may look at an action minutes apart (README,
# ReconcileFunction), and a hook that gives up first ends the action with its default result,
# with no reason logged, no JoinAbandoned or DrainTimedOut, and no forced drain.
HOOK_LIMIT_MARGIN: Final = timedelta(minutes=10)


def heartbeat_due(
    *, last_heartbeat_at: datetime, heartbeat_timeout: timedelta, now: datetime
) -> bool:
    """`last_heartbeat_at` is the last heartbeat, or when the action started if none was sent."""
    return now - last_heartbeat_at >= heartbeat_timeout * HEARTBEAT_AT_FRACTION


def hook_global_timeout(heartbeat_timeout: timedelta) -> timedelta:
    """The longest a lifecycle action can be kept waiting, heartbeats or not."""
    return min(_GLOBAL_TIMEOUT_CAP, heartbeat_timeout * _GLOBAL_TIMEOUT_MULTIPLE)


def hook_deadline_limit(heartbeat_timeout: timedelta) -> timedelta:
    """The longest a deadline of ours may run: the hook's global timeout less the margin."""
    limit = hook_global_timeout(heartbeat_timeout)
    return limit - min(HOOK_LIMIT_MARGIN, limit / 5)
