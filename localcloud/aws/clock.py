"""Simulated time for the AWS half: AWS durations (heartbeat timeouts, warm-up, schedules)
pass ``1 / time_scale`` times faster than real time, and tests may jump ahead."""

from __future__ import annotations

import threading
import time


class SimClock:
    """Monotonic simulated seconds. ``time_scale=0.01`` makes a 300 s heartbeat timeout last
    3 real seconds; ``advance(300)`` makes it expire at once."""

    def __init__(self, time_scale: float = 1.0) -> None:
        if time_scale <= 0:
            raise ValueError("time_scale must be positive")
        self.time_scale = time_scale
        self._origin = time.monotonic()
        self._offset = 0.0
        self._lock = threading.Lock()

    def now(self) -> float:
        """Simulated seconds since the clock was made."""
        with self._lock:
            return (time.monotonic() - self._origin) / self.time_scale + self._offset

    def advance(self, seconds: float) -> None:
        """Jump simulated time forward (never back)."""
        if seconds < 0:
            raise ValueError("time only moves forward")
        with self._lock:
            self._offset += seconds

    def real_seconds(self, simulated: float) -> float:
        return max(0.0, simulated * self.time_scale)
