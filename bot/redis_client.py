"""The bot's Redis client: one bounded pool for a single server, or a cluster client."""

from __future__ import annotations

import redis.asyncio as aioredis
from redis.asyncio.cluster import RedisCluster

from common.config import RedisConfig

CONNECTIONS = 64
COMMAND_HEADROOM = 32  # connections for slash commands and bookkeeping beside the questions in flight


def connect(config: RedisConfig, questions_in_flight: int = 0) -> aioredis.Redis | RedisCluster:
    """A client that callers share; a burst of commands waits for a connection instead of opening thousands.

    Each admitted question uses at most one connection at a time, so with room for
    `questions_in_flight` of them no admitted question ever waits on the pool for long, and
    none fails on it: a wait for a connection has no deadline (each command keeps its own)."""
    options = {"decode_responses": True, "socket_connect_timeout": 3, "socket_timeout": 10}
    connections = max(CONNECTIONS, questions_in_flight + COMMAND_HEADROOM)
    if config.cluster:
        # Every key of a channel carries one hash tag, so each script and pipeline stays on one node.
        # (The cluster client's per-node pools refuse past their size instead of waiting.)
        return RedisCluster.from_url(config.url, max_connections=connections, **options)
    pool = aioredis.BlockingConnectionPool.from_url(
        config.url, max_connections=connections, timeout=None, health_check_interval=30, **options
    )
    return aioredis.Redis.from_pool(pool)  # owns the pool: aclose() closes it
