"""Waiting in tests: poll until a condition holds. The condition decides; the timeout only bounds
how long a broken run hangs (tests assert behaviour, never time)."""

from __future__ import annotations

import time
from collections.abc import Callable


def wait_for[T](
    predicate: Callable[[], T | None],
    *,
    timeout: float = 90.0,
    interval: float = 0.05,
    message: str = "",
) -> T:
    """The first truthy value of `predicate()`. Its exceptions propagate at once: a broken
    predicate fails the test with its own error, not a timeout."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {message or predicate}")
        time.sleep(interval)
