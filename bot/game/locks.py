"""Per-channel FIFO locks: questions in one channel are answered one at a time, in arrival order,
while channels never wait for each other."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager


class QueueFull(Exception):
    """Too many questions are already waiting in this channel."""


class AtCapacity(Exception):
    """The process already has as many questions in flight as it may."""


class InFlightLimit:
    """Admission control for one process: at most `limit` questions between acceptance and their
    final reply. Refusing at the door is cheap; a question let in holds Redis connections and
    model time, and under overload an unbounded crowd of them starves every one."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.in_flight = 0

    def enter(self) -> None:
        if self.in_flight >= self.limit:
            raise AtCapacity(f"{self.in_flight} questions are already in flight")
        self.in_flight += 1

    def leave(self) -> None:
        self.in_flight -= 1


class ChannelLocks:
    def __init__(self, max_waiting: int) -> None:
        self.max_waiting = max_waiting
        self._locks: dict[int, asyncio.Lock] = {}
        self._users: dict[int, int] = {}  # holder plus waiters, per channel

    @asynccontextmanager
    async def hold(self, key: int) -> AsyncIterator[Callable[[], Awaitable[None]] | None]:
        """Yield None once the lock is held, or, when others are ahead, a function to await for
        the turn (so the caller can say "queued" first). The place in the queue is taken on entry,
        so whatever the caller does before awaiting its turn cannot reorder questions.
        Locks of idle channels are dropped."""
        ahead = self._users.get(key, 0)
        if ahead and ahead > self.max_waiting:
            raise QueueFull(f"{ahead} questions are ahead in this channel")
        lock = self._locks.setdefault(key, asyncio.Lock())
        self._users[key] = ahead + 1
        place = asyncio.ensure_future(lock.acquire()) if ahead else None
        acquired = False

        async def turn() -> None:
            nonlocal acquired
            assert place is not None
            await place
            acquired = True

        try:
            if place is not None:
                yield turn
            else:
                await lock.acquire()
                acquired = True
                yield None
        finally:
            if place is not None and not acquired:
                if place.done() and not place.cancelled():
                    acquired = True  # the turn came but was never taken: pass it on
                else:
                    place.cancel()
            if acquired:
                lock.release()
            self._users[key] -= 1
            if not self._users[key]:
                del self._users[key]
                del self._locks[key]
