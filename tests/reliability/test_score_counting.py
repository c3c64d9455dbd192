"""Each ended game is counted once: racing enders, two keepers delivering at once, and a retried delivery
(as after a crash between counting and clearing the outbox), on a real redis-server."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import pytest
import redis.asyncio as aioredis

from bot.game.scores import ScoreKeeper, iso_week
from bot.game.store import GameStore
from bot.game.tally import outbox_key

GUILD, CHANNEL = 555, 777
TTL = 7 * 86400


@pytest.fixture
async def clients(redis_url: str) -> AsyncIterator[list[aioredis.Redis]]:
    """Two connections, as two bot processes would have."""
    made = [aioredis.from_url(redis_url, decode_responses=True) for _ in range(2)]
    yield made
    for client in made:
        await client.aclose()


def fields(player: int) -> dict[str, str]:
    return {
        "guild_id": str(GUILD),
        "puzzle_id": "p1",
        "language": "en",
        "title": "T",
        "story": "S",
        "answer": "A",
        "started_by": str(player),
    }


async def test_racing_stops_leave_one_tally_and_racing_deliveries_count_it_once(
    clients: list[aioredis.Redis],
) -> None:
    stores = [GameStore(client, "soup", TTL, 32, 10) for client in clients]  # no keeper attached: nothing delivered
    keepers = [ScoreKeeper(client, "soup", TTL) for client in clients]
    await stores[0].start(CHANNEL, fields(1))
    changed = await asyncio.gather(*(store.stop(CHANNEL, 1) for store in stores))
    assert sorted(done for done, _ in changed) == [False, True]
    waiting = await clients[0].hgetall(outbox_key("soup", CHANNEL))
    assert len(waiting) == 1

    counted = await asyncio.gather(*(keeper.deliver(CHANNEL) for keeper in keepers))
    assert sorted(counted) in ([0, 1], [1, 1])  # both may see the entry; only one applies it
    totals = await clients[0].hgetall(f"soup:{{g{GUILD}}}:totals")
    assert totals == {"games": "1", "solves": "0", "facts": "0", "questions": "0", "hints": "0", "ended_stopped": "1"}

    # A retry of the counting step (the entry back in the outbox, as if the process died before clearing it).
    await clients[1].hset(outbox_key("soup", CHANNEL), mapping=waiting)
    assert await keepers[1].deliver(CHANNEL) == 0
    assert await clients[0].hget(f"soup:{{g{GUILD}}}:totals", "games") == "1"
    assert await clients[0].exists(outbox_key("soup", CHANNEL)) == 0
    assert await clients[0].hget(f"soup:{{g{GUILD}}}:player:1", "games") == "1"


async def test_a_game_ended_in_an_earlier_week_counts_all_time_only(clients: list[aioredis.Redis]) -> None:
    keeper = ScoreKeeper(clients[0], "soup", TTL)
    last_week = time.time() - 8 * 86400
    record = {
        "game": "g-old",
        "guild": str(GUILD),
        "status": "solved",
        "reason": "solved",
        "ended_at": repr(last_week),
        "questions": 4,
        "hints": 0,
        "facts": 0,
        "players": {"42": {"asked": 4, "facts": 0, "hints": 0, "solved": 1}},
    }
    assert await keeper.apply(CHANNEL, record)
    assert not await keeper.apply(CHANNEL, record)
    assert (await keeper.board(GUILD, "all", 42)).top == [(42, 3)]
    week = await keeper.board(GUILD, "week", 42)
    assert week.top == [] and week.rank is None and week.label == iso_week(time.time())
    assert await clients[0].zscore(f"soup:{{g{GUILD}}}:board:week:{iso_week(last_week)}", "42") == 3


async def test_a_game_outside_any_server_is_not_scored(clients: list[aioredis.Redis]) -> None:
    store = GameStore(clients[0], "soup", TTL, 32, 10)
    store.events = ScoreKeeper(clients[0], "soup", TTL)
    await store.start(CHANNEL, {**fields(1), "guild_id": ""})
    await store.stop(CHANNEL, 1)
    assert await clients[0].exists(outbox_key("soup", CHANNEL)) == 0  # delivered, and dropped
    assert [key async for key in clients[0].scan_iter("soup:{g*")] == []
