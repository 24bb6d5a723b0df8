"""Simulated time for the AWS half: AWS durations (heartbeat timeouts, warm-up, schedules)
pass ``1 / time_scale`` times faster than real time, and tests may jump ahead."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator


class SimClock:
    """Monotonic simulated seconds. ``time_scale=0.01`` makes a 300 s heartbeat timeout last
    3 real seconds; ``advance(300)`` makes it expire at once."""

    def __init__(self, time_scale: float = 1.0) -> None:
        if time_scale <= 0:
            raise ValueError("time_scale must be positive")
        self.time_scale = time_scale
        self._origin = time.monotonic()
        self._offset = 0.0
        self._frozen_at: float | None = None
        self._lock = threading.Lock()

    def now(self) -> float:
        """Simulated seconds since the clock was made."""
        with self._lock:
            return self._now_locked()

    def _now_locked(self) -> float:
        if self._frozen_at is not None:
            return self._frozen_at + self._offset
        return (time.monotonic() - self._origin) / self.time_scale + self._offset

    def freeze(self) -> None:
        """Stop simulated time (``advance`` still moves it): deterministic test steps."""
        with self._lock:
            if self._frozen_at is None:
                self._frozen_at = self._now_locked() - self._offset

    def unfreeze(self) -> None:
        with self._lock:
            if self._frozen_at is not None:
                # Resume from where the frozen clock stands, without a jump.
                frozen = self._frozen_at
                self._frozen_at = None
                self._origin = time.monotonic() - frozen * self.time_scale

    @contextlib.contextmanager
    def frozen(self) -> Iterator[None]:
        self.freeze()
        try:
            yield
        finally:
            self.unfreeze()

    def advance(self, seconds: float) -> None:
        """Jump simulated time forward (never back)."""
        if seconds < 0:
            raise ValueError("time only moves forward")
        with self._lock:
            self._offset += seconds

    def real_seconds(self, simulated: float) -> float:
        return max(0.0, simulated * self.time_scale)
