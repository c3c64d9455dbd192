"""What Redis holds for a game: key layout for Redis Cluster, expiry, recent puzzles, unclear replies;
and the zh-CN localisations sent to Discord."""

from __future__ import annotations

import json

import redis.asyncio as aioredis
from redis.crc import key_slot

from bot.game.puzzles import PuzzleBank
from bot.game.session import Player
from tests.bot.test_game_flow import bot_replies, start_game
from tests.bot_fixtures import Table
from tests.fakes.upstream import FakeUpstream, Reply


async def test_a_channels_keys_share_one_cluster_slot_and_expire(
    table: Table, fake_upstream: FakeUpstream, redis_url: str
) -> None:
    await start_game(table)
    fake_upstream.queue(Reply.text("No."))
    await table.alice.send(table.channel, "Is it raining?")
    client = aioredis.from_url(redis_url, decode_responses=True)
    keys = [key async for key in client.scan_iter(f"soup:{{ch{table.channel.id}}}:*")]
    assert {key.rsplit(":", 1)[1] for key in keys} == {"game", "log", "recent"}
    assert len({key_slot(key.encode()) for key in keys}) == 1
    week = 7 * 86400
    for key in keys:
        assert week - 60 <= await client.ttl(key) <= week
    await client.aclose()


async def test_an_unclear_reply_is_shown_as_such_and_changes_nothing(
    table: Table, fake_upstream: FakeUpstream, redis_url: str
) -> None:
    await start_game(table)
    fake_upstream.queue(Reply.text("Hmm, that is an interesting thought."))
    await table.alice.send(table.channel, "Is it about love?")
    shown = bot_replies(table)[-1].content
    assert shown.startswith("❔ Hmm") and "nothing was recorded" in shown
    client = aioredis.from_url(redis_url, decode_responses=True)
    game = await client.hgetall(f"soup:{{ch{table.channel.id}}}:game")
    assert game["questions"] == "0" and game["status"] == "active"
    assert await client.llen(f"soup:{{ch{table.channel.id}}}:log") == 0
    await client.aclose()


async def test_a_channel_does_not_get_one_of_its_recent_puzzles(table: Table, redis_url: str) -> None:
    games = table.env.bot.games
    english = [puzzle for puzzle in games.bank.by_id.values() if puzzle.language == "en"][:4]
    games.bank = PuzzleBank(english)
    games.config = games.config.model_copy(update={"recent_puzzles": 3})
    played = [(await games.start(table.channel.id, Player(1, "a"))).puzzle_id]
    for _ in range(12):
        played.append((await games.new_game(table.channel.id, Player(1, "a")))[1].puzzle_id)
    for index in range(3, len(played)):
        assert played[index] not in played[index - 3 : index]


async def test_commands_carry_zh_cn_descriptions(table: Table) -> None:
    [sync] = [r for r in table.env.http_requests if r.method == "PUT" and r.path.endswith("/commands")]
    commands = {command["name"]: command for command in sync.json}
    assert set(commands) >= {"play", "newgame", "stop", "ask"}
    assert commands["play"]["description_localizations"]["zh-CN"] == "在本频道开始一局海龟汤"
    option = commands["ask"]["options"][0]
    assert option["description_localizations"]["zh-CN"] == "你的是/否问题或猜测"
    assert json.dumps(sync.json)  # a plain JSON payload, as Discord receives it
