"""Concurrency: racing game starts, and many channels asking at once."""

from __future__ import annotations

import asyncio
import json
import re

import pytest
import redis.asyncio as aioredis

from bot.game.session import GameAlreadyRunning, Player
from tests.bot_fixtures import Table
from tests.fakes.redis_state import only_game
from tests.fakes.upstream import FakeUpstream, Reply


async def test_fifty_racing_plays_start_exactly_one_game(table: Table, redis_url: str) -> None:
    games = table.env.bot.games
    outcomes = await asyncio.gather(
        *(games.start(table.channel.id, Player(i, f"p{i}")) for i in range(50)), return_exceptions=True
    )
    started = [o for o in outcomes if not isinstance(o, BaseException)]
    assert len(started) == 1
    assert all(isinstance(o, GameAlreadyRunning) for o in outcomes if o not in started)
    assert all(o.game.game_id == started[0].game_id for o in outcomes if isinstance(o, GameAlreadyRunning))
    game = await only_game(redis_url)
    assert game["game_id"] == started[0].game_id and game["status"] == "active"


async def test_fifty_racing_newgames_replace_the_game_once(table: Table, redis_url: str) -> None:
    games = table.env.bot.games
    first = await games.start(table.channel.id, Player(1, "starter"))
    outcomes = await asyncio.gather(
        *(games.new_game(table.channel.id, Player(1, "starter")) for _ in range(50)), return_exceptions=True
    )
    assert not [o for o in outcomes if isinstance(o, BaseException)]
    replaced = [revealed.game_id for revealed, _ in outcomes if revealed is not None]
    assert first.game_id in replaced
    assert len(replaced) == len(set(replaced))  # no game was replaced twice, whoever saw it
    assert len(replaced) < 50  # calls that saw the same game lost the race instead of replacing it
    game = await only_game(redis_url)
    assert game["status"] == "active" and game["game_id"] not in replaced


@pytest.fixture
def config_overrides() -> dict[str, dict]:
    return {"game": {"max_questions_in_flight": 256}}  # room for the 200-question burst below


@pytest.mark.simcord(settle_timeout=120)  # 200 streamed replies on a 2-core machine
async def test_twenty_channels_ten_questions_each_at_once(
    table: Table, fake_upstream: FakeUpstream, redis_url: str
) -> None:
    env = table.env
    guild = table.channel.guild
    channels = [guild.create_text_channel(f"table-{n}") for n in range(20)]
    stories = {}
    for channel in channels:
        result = await table.alice.slash(channel, "play")
        stories[channel.id] = result.response.embeds[0].description

    def answer(body: dict) -> Reply:
        question = body["messages"][-1]["content"].split("\n")[0]
        return Reply.text(f"Yes. ({question})", size=5, chunk_delay=0.002)

    fake_upstream.responder = answer
    for index in range(10):  # ten rounds of one message per channel, all before the bot runs
        for channel in channels:
            env.backend.create_message(channel.id, table.bob.id, f"c{channel.id} q{index}?")
    await env.settle()

    assert len(fake_upstream.requests) == 200
    for request in fake_upstream.requests:
        channel_id = int(re.match(r"c(\d+) ", request["messages"][-1]["content"]).group(1))
        assert stories[channel_id] in request["messages"][0]["content"]  # its own game's story
    client = aioredis.from_url(redis_url, decode_responses=True)
    for channel in channels:
        entries = [json.loads(raw) for raw in await client.lrange(f"soup:{{ch{channel.id}}}:log", 0, -1)]
        assert [entry["q"] for entry in entries] == [f"c{channel.id} q{n}?" for n in range(10)]  # arrival order
        assert all(entry["r"] == f"Yes. ({entry['q']})" for entry in entries)  # each exchange whole
        # Each question got its own reply (queued ones show a placeholder first, so reply
        # messages are not in question order; their references are).
        history = channel.history()
        questions = {m.id: m.content for m in history if m.author.id == table.bob.id}
        replies = {m.reference.message_id: m.content for m in history if m.reference is not None}
        assert replies == {mid: f"✅ Yes. ({question})" for mid, question in questions.items()}
    await client.aclose()
