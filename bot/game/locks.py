"""Per-channel FIFO locks: questions in one channel are answered one at a time, in arrival order,
while channels never wait for each other."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager


class QueueFull(Exception):
    """Too many questions are already waiting in this channel."""


class ChannelLocks:
    def __init__(self, max_waiting: int) -> None:
        self.max_waiting = max_waiting
        self._locks: dict[int, asyncio.Lock] = {}
        self._users: dict[int, int] = {}  # holder plus waiters, per channel

    def waiting(self, key: int) -> int:
        return max(self._users.get(key, 0) - 1, 0)

    @asynccontextmanager
    async def hold(self, key: int) -> AsyncIterator[Callable[[], Awaitable[None]] | None]:
        """Yield None once the lock is held, or, when others are ahead, a function to await
        for the turn (so the caller can say "queued" first). Locks of idle channels are dropped."""
        ahead = self._users.get(key, 0)
        if ahead and ahead > self.max_waiting:
            raise QueueFull(f"{ahead} questions are ahead in this channel")
        lock = self._locks.setdefault(key, asyncio.Lock())
        self._users[key] = ahead + 1
        acquired = False

        async def acquire() -> None:
            nonlocal acquired
            await lock.acquire()
            acquired = True

        try:
            if ahead:
                yield acquire
            else:
                await acquire()
                yield None
        finally:
            if acquired:
                lock.release()
            self._users[key] -= 1
            if not self._users[key]:
                del self._users[key]
                del self._locks[key]
