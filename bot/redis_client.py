"""The bot's Redis client: one bounded pool for a single server, or a cluster client."""

from __future__ import annotations

import redis.asyncio as aioredis
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
    return aioredis.Redis.from_pool(pool)  # owns the pool: aclose() closes it
