"""Questions that wait their turn: arrival order, their own game, their player's cooldown, and
silence in channels without a game."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

import pytest
import redis.asyncio as aioredis

from bot.game.session import CoolingDown, HostReply, NoActiveGame, Outcome, Player
from tests.bot_fixtures import Table
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
    assert [reply.outcome for reply in replies] == [Outcome.QUEUED, Outcome.GAME_OVER]
    assert len(fake_upstream.requests) == 1


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
