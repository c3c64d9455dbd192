"""Two bot instances on one Redis, ending the same games at the same moment: each game is counted once."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest
import redis.asyncio as aioredis
import simcord

from common.config import Config
from tests.bot_fixtures import Table, bot_config
from tests.fakes.redis_proxy import RedisProxy, script_call
from tests.fakes.redis_state import only_game
from tests.fakes.upstream import FakeUpstream, Reply
from tests.scaling.test_two_bot_processes import OtherProcess


@pytest.fixture
def bot_settings(redis_proxy: RedisProxy, fake_upstream: FakeUpstream, config_overrides: dict) -> Config:
    """Both instances reach Redis through the proxy, so a test can hold one of them mid-command."""
    return bot_config(redis_proxy.url, fake_upstream, **config_overrides)


@pytest.fixture
def config_overrides() -> dict[str, dict]:
    return {"game": {"question_cooldown": 0, "end_game_by": "anyone"}}


def there(command: str, **options: Any) -> Any:
    async def action(env: simcord.Env, world: dict) -> Any:
        return await world["bob"].slash(world["channel"], command, **options)

    return action


async def test_games_ended_from_both_instances_at_once_are_counted_once(
    table: Table,
    other_process: OtherProcess,
    fake_upstream: FakeUpstream,
    redis_url: str,
    redis_proxy: RedisProxy,
) -> None:
    guild_id = table.alice.guild.id
    assert other_process.world["channel"].id == table.channel.id

    # /stop from both at once: one stops it.
    await table.alice.slash(table.channel, "play")
    await asyncio.gather(table.alice.slash(table.channel, "stop"), other_process.run(there("stop")))
    # /newgame from both at once over a running game: it is replaced once. The overlap is forced: this
    # instance is held after it loaded the game, while the other replaces that same game.
    await table.alice.slash(table.channel, "play")
    hold = redis_proxy.hold(script_call)
    replacing_here = asyncio.ensure_future(table.alice.slash(table.channel, "newgame"))
    await hold.wait_reached()
    await other_process.run(there("newgame"))
    hold.release()
    assert "Someone else just started" in (await replacing_here).response.content
    # A solve here while the other instance stops it: one of the two ends it.
    fake_upstream.queue(Reply.text("Correct! You got it.", size=2, chunk_delay=0.01))
    guess = (await only_game(redis_url))["answer"][:400]
    await asyncio.gather(table.alice.send(table.channel, f"Is it that {guess}?"), other_process.run(there("stop")))
    # Both instances sweep an expired game at the same moment.
    await table.alice.slash(table.channel, "play")
    client = aioredis.from_url(redis_url, decode_responses=True)
    try:
        game = await only_game(redis_url)
        await client.hset(f"soup:{{ch{table.channel.id}}}:game", "updated_at", repr(time.time() - 7 * 86400))
        await client.zadd(f"soup:{{g{guild_id}}}:live", {f"{table.channel.id}:{game['game_id']}": 0})

        async def sweep_there(env: simcord.Env, world: dict) -> Any:
            return await env.bot.get_cog("ScoresCog").keeper.sweep([guild_id])

        here = table.env.bot.get_cog("ScoresCog").keeper  # type: ignore[union-attr]
        swept = await asyncio.gather(here.sweep([guild_id]), other_process.run(sweep_there))
        assert sum(result.expired for result in swept) == 1

        totals = await client.hgetall(f"soup:{{g{guild_id}}}:totals")
        ended = {name: int(value) for name, value in totals.items() if name.startswith("ended_")}
        assert int(totals["games"]) == 4 == sum(ended.values())
        assert ended["ended_stopped"] + ended.get("ended_solved", 0) == 2
        assert ended["ended_replaced"] == 1 and ended["ended_expired"] == 1
        counted = [key async for key in client.scan_iter(f"soup:{{g{guild_id}}}:counted:*")]
        assert len(counted) == 4
        assert await client.exists(f"soup:{{ch{table.channel.id}}}:ended") == 0
    finally:
        await client.aclose()
