"""Polling with a deadline, for tests and the demo: the condition decides, not the clock."""

from __future__ import annotations

import time
from collections.abc import Callable


class WaitTimeoutError(AssertionError):
    """The condition did not hold before the deadline."""


def wait_until[T](
    condition: Callable[[], T | None],
    *,
    timeout: float = 30.0,
    interval: float = 0.1,
    message: str = "condition",
) -> T:
    """Return the first truthy value of ``condition()``; raise ``WaitTimeoutError`` after
    ``timeout`` seconds with the last value (or exception) in the message."""
    deadline = time.monotonic() + timeout
    last: object = None
    while True:
        try:
            value = condition()
        except Exception as exc:  # noqa: BLE001 - retried until the deadline, then reported
            value, last = None, exc
        else:
            last = value
        if value:
            return value
        if time.monotonic() >= deadline:
            raise WaitTimeoutError(f"timed out waiting for {message}; last: {last!r}")
        time.sleep(interval)
