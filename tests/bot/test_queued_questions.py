"""Questions that wait their turn: arrival order, their own game, their player's cooldown, and
silence in channels without a game."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import AsyncIterator, Callable

import discord
import pytest
import redis.asyncio as aioredis

from bot.game.session import CoolingDown, HostReply, NoActiveGame, Outcome, Player
from tests.bot.test_game_flow import start_game
from tests.bot_fixtures import Table
from tests.fakes.declared_http import declare_model_waits
from tests.fakes.redis_state import exchanges, only_game
from tests.fakes.upstream import FakeUpstream, Reply


async def drain(updates: AsyncIterator[HostReply]) -> list[HostReply]:
    return [reply async for reply in updates]


async def test_chat_in_a_channel_without_a_game_never_gets_a_placeholder(table: Table) -> None:
    games = table.env.bot.games
    first = games.ask(table.channel.id, Player(1, "a"), "hello")
    second = games.ask(table.channel.id, Player(2, "b"), "hi there")
    results = await asyncio.gather(drain(first), drain(second), return_exceptions=True)
    assert all(isinstance(result, NoActiveGame) for result in results)


async def test_queued_questions_are_answered_in_arrival_order(
    table: Table, fake_upstream: FakeUpstream, redis_url: str
) -> None:
    games = table.env.bot.games
    await games.start(table.channel.id, Player(1, "a"))
    fake_upstream.responder = lambda body: Reply.text("No.", first_delay=0.05)

    async def ask(index: int, delay_before_turn: float) -> None:
        updates = games.ask(table.channel.id, Player(10 + index, f"p{index}"), f"question {index}?")
        async for reply in updates:
            if reply.outcome is Outcome.QUEUED:
                await asyncio.sleep(delay_before_turn)  # a slow "queued" post must not lose the place

    await asyncio.gather(ask(0, 0), ask(1, 0.3), ask(2, 0))
    client = aioredis.from_url(redis_url, decode_responses=True)
    entries = [json.loads(raw)["q"] for raw in await client.lrange(f"soup:{{ch{table.channel.id}}}:log", 0, -1)]
    await client.aclose()
    assert entries == ["question 0?", "question 1?", "question 2?"]


async def test_a_question_queued_before_newgame_is_not_answered_in_the_new_game(
    table: Table, fake_upstream: FakeUpstream
) -> None:
    games = table.env.bot.games
    await games.start(table.channel.id, Player(1, "a"))
    fake_upstream.responder = lambda body: Reply.text("No.", first_delay=0.2)
    first = games.ask(table.channel.id, Player(2, "b"), "about the old puzzle?")
    queued = games.ask(table.channel.id, Player(3, "c"), "also about the old puzzle?")
    first_task = asyncio.ensure_future(drain(first))
    await asyncio.sleep(0.05)
    queued_task = asyncio.ensure_future(drain(queued))
    await asyncio.sleep(0.05)
    await games.new_game(table.channel.id, Player(1, "a"))
    await first_task
    replies = await queued_task
    assert [reply.outcome for reply in replies] == [Outcome.QUEUED, Outcome.GAME_CHANGED]
    assert len(fake_upstream.requests) == 1
    # The dropped question spent no cooldown (5 s here): its player may ask about the new puzzle at once.
    again = await drain(games.ask(table.channel.id, Player(3, "c"), "about the new puzzle?"))
    assert again[-1].outcome is Outcome.ANSWERED


@pytest.fixture
def config_overrides() -> dict[str, dict]:
    return {"game": {"question_cooldown": 5}}


async def test_the_cooldown_counts_queued_questions(table: Table, fake_upstream: FakeUpstream) -> None:
    games = table.env.bot.games
    await games.start(table.channel.id, Player(1, "a"))
    fake_upstream.responder = lambda body: Reply.text("No.", first_delay=0.1)
    other = asyncio.ensure_future(drain(games.ask(table.channel.id, Player(2, "b"), "first?")))
    await asyncio.sleep(0.02)
    queued = games.ask(table.channel.id, Player(3, "c"), "mine?")
    assert (await anext(queued)).outcome is Outcome.QUEUED
    with pytest.raises(CoolingDown):
        await anext(games.ask(table.channel.id, Player(3, "c"), "and again?"))
    await drain(queued)
    await other


def _reply_to(table: Table, question: discord.Message) -> str | None:
    """The bot's reply to ``question`` once it is final (no spinner), else None."""
    for message in table.channel.history():
        if message.reference and message.reference.message_id == question.id and "⏳" not in message.content:
            return message.content
    return None


async def wait_for(condition: Callable[[], bool], within: float = 10.0) -> None:
    """Let the bot run until ``condition()`` holds, without settling: a question waiting its turn behind a
    reply parked on the model is a wait SimCord cannot see through, so settling would fail until it ends."""
    deadline = time.perf_counter() + within  # the wall clock: SimCord holds time.monotonic still
    while not condition():
        assert time.perf_counter() < deadline, f"not done within {within} s"
        await asyncio.sleep(0.05)


async def test_a_question_asked_after_newgame_is_answered_in_the_new_game(
    table: Table, fake_upstream: FakeUpstream, redis_url: str
) -> None:
    """While a reply in G1 streams, Alice runs /newgame and Bob asks about G2's story. His question waits
    behind G1's reply, then is answered in G2: not dropped as "game over"."""
    await declare_model_waits(table.env, timeout=60)
    await start_game(table)
    first = await only_game(redis_url)
    gate = threading.Event()
    fake_upstream.queue(Reply.text("No, and it was not", size=6, gate=gate))
    fake_upstream.default = Reply.text("Yes.")
    await table.alice.send(table.channel, "Is the first one about a lamp?")  # streams until the gate opens
    started = await table.alice.slash(table.channel, "newgame")
    assert len(started.response.embeds) == 3  # the reveal, its summary and the new story
    late = table.env.backend.create_message(table.channel.id, table.bob.id, "About the new puzzle?")
    await wait_for(lambda: "Queued" in (table.channel.last_message.content or ""))
    gate.set()
    await wait_for(lambda: _reply_to(table, late) is not None)
    await table.env.settle()

    assert _reply_to(table, late) == "✅ Yes."
    second = await only_game(redis_url)
    assert second["game_id"] != first["game_id"] and second["status"] == "active"
    assert [entry["q"] for entry in await exchanges(redis_url)] == ["About the new puzzle?"]
    assert second["story"] in fake_upstream.requests[-1]["messages"][0]["content"]  # asked with G2's story
