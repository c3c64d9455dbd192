"""What the bot left in the test Redis: games and transcripts, read the way tests check them."""

from __future__ import annotations

import json
from typing import Any

import redis.asyncio as aioredis


async def game_hashes(redis_url: str) -> dict[str, dict[str, str]]:
    """Every game hash, by key."""
    client = aioredis.from_url(redis_url, decode_responses=True)
    try:
        return {key: await client.hgetall(key) async for key in client.scan_iter("soup:*:game")}
    finally:
        await client.aclose()


async def only_game(redis_url: str) -> dict[str, str]:
    """The one game a test started."""
    [game] = (await game_hashes(redis_url)).values()
    return game


async def transcript(redis_url: str) -> list[str]:
    """The one game's stored exchanges, as the raw JSON entries (empty before the first)."""
    client = aioredis.from_url(redis_url, decode_responses=True)
    try:
        keys = [key async for key in client.scan_iter("soup:*:log")]
        assert len(keys) <= 1, keys
        return await client.lrange(keys[0], 0, -1) if keys else []
    finally:
        await client.aclose()


async def exchanges(redis_url: str) -> list[dict[str, Any]]:
    """The one game's stored exchanges, decoded."""
    return [json.loads(raw) for raw in await transcript(redis_url)]
