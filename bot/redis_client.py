"""The bot's Redis client: one bounded pool for a single server, or a cluster client."""

from __future__ import annotations

import asyncio
from typing import Any

import redis.asyncio as aioredis
import redis.exceptions
from redis.asyncio.cluster import RedisCluster

from common.config import RedisConfig

CONNECTIONS = 64
COMMAND_HEADROOM = 32  # connections for slash commands and bookkeeping beside the questions in flight


def connect(config: RedisConfig, questions_in_flight: int = 0) -> aioredis.Redis | RedisCluster:
    """A client that callers share; a burst of commands waits for a connection instead of opening thousands.

    Admission control bounds the questions in flight, so a wait for a pooled connection needs no
    deadline of its own (each command keeps its socket timeout): admitted work never fails on the
    pool. The cluster client's per-node pools refuse past their size instead of waiting, so they
    get room for every admitted question (each uses one connection at a time) plus commands."""
    options = {"decode_responses": True, "socket_connect_timeout": 3, "socket_timeout": 10}
    if config.cluster:
        # Every key of a channel carries one hash tag, so each script and pipeline stays on one node.
        connections = max(CONNECTIONS, questions_in_flight + COMMAND_HEADROOM)
        return RedisCluster.from_url(config.url, max_connections=connections, **options)
    pool = aioredis.BlockingConnectionPool.from_url(
        config.url, max_connections=CONNECTIONS, timeout=None, health_check_interval=30, **options
    )
    # The URL chose the kind of connection (TCP, TLS, Unix socket); each writes the same way.
    pool.connection_class = type(pool.connection_class.__name__, (_BoundedWrite, pool.connection_class), {})
    return aioredis.Redis.from_pool(pool)  # owns the pool: aclose() closes it


class _BoundedWrite:
    """redis-py's write bounded by asyncio.timeout instead of asyncio.wait_for: on Python 3.11 wait_for runs every
    write in a task of its own (a task, a timer and two more turns of the event loop per command, the largest part
    of a question's final store; see docs/PERFORMANCE.md). The same bound, the same error, the connection dropped."""

    socket_timeout: float | None

    async def send_packed_command(self, command: Any, check_health: bool = True) -> None:
        bound, self.socket_timeout = self.socket_timeout, None  # unset, redis-py writes (and pings) without a task
        try:
            async with asyncio.timeout(bound):
                await super().send_packed_command(command, check_health)  # type: ignore[misc]
        except TimeoutError as error:  # redis-py disconnected on the cancellation, as on its own timeout
            raise redis.exceptions.TimeoutError("Timeout writing to socket") from error
        finally:
            self.socket_timeout = bound
