"""The bot's Redis client: one bounded pool for a single server, or a cluster client."""

from __future__ import annotations

import redis.asyncio as aioredis
from redis.asyncio.cluster import RedisCluster

from common.config import RedisConfig

CONNECTIONS = 64


def connect(config: RedisConfig) -> aioredis.Redis | RedisCluster:
    """A client that callers share; a burst of commands waits for a connection instead of opening thousands."""
    options = {"decode_responses": True, "socket_connect_timeout": 3, "socket_timeout": 10}
    if config.cluster:
        # Every key of a channel carries one hash tag, so each script and pipeline stays on one node.
        return RedisCluster.from_url(config.url, max_connections=CONNECTIONS, **options)
    pool = aioredis.BlockingConnectionPool.from_url(
        config.url, max_connections=CONNECTIONS, timeout=10, health_check_interval=30, **options
    )
    return aioredis.Redis.from_pool(pool)  # owns the pool: aclose() closes it
