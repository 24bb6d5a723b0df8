"""Deadlines capped by a lifecycle hook's global timeout (the smaller of 100 × its heartbeat
timeout and 48 h): https://docs.aws.amazon.com/autoscaling/ec2/userguide/lifecycle-hooks-overview.html.
The join and drain deadlines end 10 minutes (decisions.heartbeat HOOK_LIMIT_MARGIN) before it,
so that our ABANDON, or the drain's DrainTimedOut and forced deletes, come before the hook's
default result."""

from __future__ import annotations

# (heartbeat timeout, configured deadline, effective deadline), all in seconds.
CAPPED_DEADLINE_CASES = [
    (30, 2_399, 2_399),  # under 100 × 30 s - 600 s: the configured deadline
    (30, 2_400, 2_400),
    (30, 2_401, 2_400),  # would leave the hook's default result less than the margin: capped
    (30, 3_000, 2_400),  # exactly the hook's global timeout: capped too
    (30, 7_200, 2_400),
    (7_200, 172_199, 172_199),  # 48 h is the hook's limit
    (7_200, 172_200, 172_200),
    (7_200, 172_800, 172_200),  # a 48 h deadline ends 10 minutes before the hook's
]
