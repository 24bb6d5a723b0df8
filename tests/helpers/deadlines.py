"""Deadlines capped by a lifecycle hook's global timeout (the smaller of 100 × its heartbeat
timeout and 48 h): https://docs.aws.amazon.com/autoscaling/ec2/userguide/lifecycle-hooks-overview.html.
The drain timeout is capped by it; the join deadline ends 10 minutes (decisions.join
HOOK_LIMIT_MARGIN) before it, so the join's ABANDON comes before the hook's default result."""

from __future__ import annotations

# (heartbeat timeout, configured deadline, effective deadline), all in seconds.
CAPPED_DEADLINE_CASES = [
    (30, 2_999, 2_999),  # under 100 × 30 s: the configured deadline
    (30, 3_000, 3_000),  # exactly the hook's global timeout
    (30, 3_001, 3_000),  # one second longer than the hook would wait: capped
    (30, 3_600, 3_000),
    (30, 7_200, 3_000),
    (7_200, 172_799, 172_799),  # 100 × 7200 s would be 200 h: 48 h is the hook's limit
    (7_200, 172_800, 172_800),
    (7_200, 176_400, 172_800),  # a 49 h deadline ends at 48 h
]

# The same for the join deadline: capped 600 s before the hook's global timeout.
JOIN_CAPPED_DEADLINE_CASES = [
    (30, 2_399, 2_399),  # under 100 × 30 s - 600 s: the configured deadline
    (30, 2_400, 2_400),
    (30, 2_401, 2_400),  # would leave the hook's default result less than the margin: capped
    (30, 3_000, 2_400),  # exactly the hook's global timeout: capped too
    (30, 7_200, 2_400),
    (7_200, 172_199, 172_199),  # 48 h is the hook's limit
    (7_200, 172_200, 172_200),
    (7_200, 172_800, 172_200),  # a 48 h deadline ends 10 minutes before the hook's
]
