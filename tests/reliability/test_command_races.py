"""Commands against a game that changes under them, a slow Redis, and an expired interaction.

The bot's Redis goes through a proxy (tests/fakes/redis_proxy.py) that can hold one command: the
test acts in the gap, as another player or an expiring key would, or moves SimCord's clock as a
slow Redis would.
"""

from __future__ import annotations

import asyncio

import pytest
import redis.asyncio as aioredis
import simcord

from bot.game.session import Player
from common.config import Config
from tests.bot.test_game_flow import bot_replies, start_game
from tests.bot_fixtures import Table, bot_config
from tests.fakes.redis_proxy import RedisProxy, script_call
from tests.fakes.redis_server import RedisServer
from tests.fakes.redis_state import game_hashes, only_game
from tests.fakes.upstream import FakeUpstream, Reply

MODERATOR = Player(999, "carol", moderator=True)


@pytest.fixture
def bot_settings(redis_proxy: RedisProxy, fake_upstream: FakeUpstream, config_overrides: dict) -> Config:
    return bot_config(redis_proxy.url, fake_upstream, **config_overrides)


def posted_text(table: Table) -> str:
    """Everything the channel shows: contents and embeds."""
    parts = []
    for message in table.channel.history():
        parts.append(message.content)
        parts.extend(f"{embed.title}\n{embed.description}" for embed in message.embeds)
    return "\n".join(parts)


# -- /stop and /newgame act on the game their caller saw -------------------------------------


async def test_stop_never_ends_a_game_started_after_the_caller_looked(
    table: Table, redis_proxy: RedisProxy, redis_url: str
) -> None:
    await start_game(table)
    hold = redis_proxy.hold(script_call)  # /stop's own script, after its permission check
    stopping = asyncio.ensure_future(table.alice.slash(table.channel, "stop"))
    await hold.wait_reached()
    _, newer = await table.env.bot.games.new_game(table.channel.id, MODERATOR)  # a moderator's /newgame
    hold.release()
    result = await stopping

    assert result.ephemeral and "changed" in result.response.content
    game = await only_game(redis_url)
    assert game["game_id"] == newer.game_id and game["status"] == "active"
    assert newer.answer not in posted_text(table)  # the new game's answer was never posted


async def test_newgame_never_replaces_a_game_started_after_the_caller_looked(
    table: Table, redis_proxy: RedisProxy, redis_url: str
) -> None:
    await start_game(table)
    hold = redis_proxy.hold(script_call)
    replacing = asyncio.ensure_future(table.alice.slash(table.channel, "newgame"))
    await hold.wait_reached()
    _, newer = await table.env.bot.games.new_game(table.channel.id, MODERATOR)
    hold.release()
    result = await replacing

    assert result.ephemeral and "Someone else just started" in result.response.content
    game = await only_game(redis_url)
    assert game["game_id"] == newer.game_id and game["status"] == "active"
    assert newer.answer not in posted_text(table)


async def test_newgame_after_the_game_expired_between_its_steps_starts_one(
    table: Table, redis_proxy: RedisProxy, redis_server: RedisServer, redis_url: str
) -> None:
    await start_game(table)
    old = await only_game(redis_url)
    hold = redis_proxy.hold(script_call)  # after /newgame loaded the game, before it replaces it
    replacing = asyncio.ensure_future(table.alice.slash(table.channel, "newgame"))
    await hold.wait_reached()
    direct = aioredis.from_url(redis_server.url)
    try:
        [key] = [key async for key in direct.scan_iter("soup:*:game")]
        await direct.pexpire(key, 1)  # the game's TTL runs out right now
        await asyncio.sleep(0.02)
        assert not await direct.exists(key)
    finally:
        await direct.aclose()
    hold.release()
    result = await replacing

    assert not result.ephemeral
    reveal, summary, story = result.response.embeds
    assert reveal.description == old["answer"] and summary.title == "📊 Game summary"
    game = await only_game(redis_url)
    assert game["status"] == "active" and game["game_id"] != old["game_id"] and story.description == game["story"]


# -- every command acknowledges within Discord's 3 seconds -----------------------------------


async def _slow_redis_command(
    table: Table, redis_proxy: RedisProxy, command: str, **options: str
) -> simcord.InteractionResult:
    """Run `command` while Redis takes 4.5 s (on SimCord's clock) to answer its first read."""
    env = table.env

    def callbacks() -> int:
        return sum(1 for r in env.http_requests if r.method == "POST" and r.path.endswith("/callback"))

    before = callbacks()
    hold = redis_proxy.hold(lambda cmd: cmd[0].upper() == b"HGETALL")
    running = asyncio.ensure_future(table.alice.slash(table.channel, command, **options))
    await hold.wait_reached()
    env.backend.advance_clock(2.5)  # 2.5 s in, Redis still silent
    for _ in range(500):  # the bot's own timer fires on the moved clock
        if callbacks() > before:
            break
        await asyncio.sleep(0.01)
    env.backend.advance_clock(2.0)  # 4.5 s: past Discord's deadline for a first response
    hold.release()
    result = await running
    [callback] = [r for r in env.http_requests if r.method == "POST" and r.path.endswith("/callback")][before:]
    assert callback.json["type"] == 5  # deferred ("thinking…") while Redis was silent
    return result


@pytest.mark.parametrize("command", ["play", "newgame"])
async def test_a_command_acknowledges_in_time_when_redis_is_slow(
    table: Table, redis_proxy: RedisProxy, redis_url: str, command: str
) -> None:
    result = await _slow_redis_command(table, redis_proxy, command)
    assert result.acknowledged and not result.ephemeral
    story = result.response.embeds[-1]
    assert story.description == (await only_game(redis_url))["story"]


async def test_stop_acknowledges_in_time_when_redis_is_slow(
    table: Table, redis_proxy: RedisProxy, redis_url: str
) -> None:
    await start_game(table)
    result = await _slow_redis_command(table, redis_proxy, "stop")
    assert "stopped by alice" in result.response.content
    assert (await only_game(redis_url))["status"] == "stopped"


async def test_ask_acknowledges_in_time_when_redis_is_slow(
    table: Table, redis_proxy: RedisProxy, fake_upstream: FakeUpstream
) -> None:
    await start_game(table)
    fake_upstream.queue(Reply.text("No. Think about the bartender."))
    result = await _slow_redis_command(table, redis_proxy, "ask", question="Was it raining?")
    assert result.response.content.endswith("❌ No. Think about the bartender.")


# -- an expired interaction falls back to the channel ----------------------------------------


def expire_interactions(table: Table) -> None:
    """What Discord answers a callback that came too late."""
    table.env.inject_error(
        "POST", "/interactions/*/*/callback", status=404, code=10062, message="Unknown interaction", times=None
    )


async def test_an_expired_play_still_shows_the_story_in_the_channel(table: Table, redis_url: str) -> None:
    expire_interactions(table)
    result = await table.alice.slash(table.channel, "play")
    assert not result.acknowledged
    story = table.channel.last_message.embeds[0]
    assert story.description == (await only_game(redis_url))["story"]


async def test_an_expired_ask_still_answers_in_the_channel(table: Table, fake_upstream: FakeUpstream) -> None:
    await start_game(table)
    expire_interactions(table)
    fake_upstream.queue(Reply.text("Yes. He was thirsty."))
    await table.bob.slash(table.channel, "ask", question="Was he thirsty?")
    assert bot_replies(table)[-1].content.endswith("✅ Yes. He was thirsty.")


async def test_an_expired_refusal_is_said_in_the_channel(table: Table, redis_url: str) -> None:
    await start_game(table)
    expire_interactions(table)
    await table.bob.slash(table.channel, "play")
    assert "already running" in table.channel.last_message.content
    assert len(await game_hashes(redis_url)) == 1
