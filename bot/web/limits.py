"""Limits on what browsers can make the server do, each over a sliding window.

Per session: actions (questions and button presses) a minute. A session token is the client's own
choice, though, so the same actions are also counted per client address, and so are new games (each
is two Redis keys kept for days): made-up tokens from one address share that address's limits.
The game's own question cooldown still applies on top.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Hashable
from dataclasses import dataclass

WINDOW_SECONDS = 60.0
GAMES_WINDOW_SECONDS = 3600.0
SWEEP_SIZE = 10_000  # forget idle keys once this many are tracked


class RateLimiter:
    def __init__(self, limit: int, clock: Callable[[], float] = time.monotonic, window: float = WINDOW_SECONDS) -> None:
        self.limit = limit
        self.clock = clock
        self.window = window
        self._recent: dict[Hashable, deque[float]] = {}

    def allow(self, key: Hashable) -> float:
        """0 when the action may go ahead (and it is counted); else seconds until it may."""
        now = self.clock()
        recent = self._recent.setdefault(key, deque())
        while recent and recent[0] <= now - self.window:
            recent.popleft()
        if len(recent) >= self.limit:
            return recent[0] + self.window - now
        recent.append(now)
        if len(self._recent) > SWEEP_SIZE:
            self._sweep(now)
        return 0.0

    def _sweep(self, now: float) -> None:
        self._recent = {key: times for key, times in self._recent.items() if times and times[-1] > now - self.window}


@dataclass(frozen=True)
class AddressLimits:
    """What one client address may do, across all the sessions it opens."""

    actions: RateLimiter  # questions and button presses a minute
    new_games: RateLimiter  # games started an hour

    @classmethod
    def of(cls, actions_per_minute: int, new_games_per_hour: int) -> AddressLimits:
        return cls(RateLimiter(actions_per_minute), RateLimiter(new_games_per_hour, window=GAMES_WINDOW_SECONDS))
