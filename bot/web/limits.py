"""A per-session limit on actions (questions and button presses) in a sliding minute.

The game's own question cooldown still applies; this bounds everything a page can make the
server do, so one open tab cannot keep Redis or the model busy.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable

WINDOW_SECONDS = 60.0
SWEEP_SIZE = 10_000  # forget idle sessions once this many are tracked


class RateLimiter:
    def __init__(self, per_minute: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.per_minute = per_minute
        self.clock = clock
        self._recent: dict[int, deque[float]] = {}

    def allow(self, key: int) -> float:
        """0 when the action may go ahead (and it is counted); else seconds until it may."""
        now = self.clock()
        recent = self._recent.setdefault(key, deque())
        while recent and recent[0] <= now - WINDOW_SECONDS:
            recent.popleft()
        if len(recent) >= self.per_minute:
            return recent[0] + WINDOW_SECONDS - now
        recent.append(now)
        if len(self._recent) > SWEEP_SIZE:
            self._sweep(now)
        return 0.0

    def _sweep(self, now: float) -> None:
        self._recent = {key: times for key, times in self._recent.items() if times and times[-1] > now - WINDOW_SECONDS}
