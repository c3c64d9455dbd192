"""game.max_questions holds across bot processes: the script that stores an exchange enforces it.

Each process checks the limit before asking and after storing, under a lock of its own; with one
question in flight at each process at once, both used to be answered and stored (questions=2 of 1).
"""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any

import pytest
import simcord

from tests.bot.test_game_flow import bot_replies
from tests.bot_fixtures import Table
from tests.fakes.redis_state import exchanges, only_game
from tests.fakes.upstream import FakeUpstream, Reply
from tests.scaling.test_two_bot_processes import OtherProcess


@pytest.fixture
def config_overrides() -> dict[str, dict]:
    return {"game": {"max_questions": 1, "question_cooldown": 0}}


def open_once_both_asked(upstream: FakeUpstream, gate: threading.Event) -> threading.Thread:
    """Hold both replies after their first piece until both requests have reached the model."""

    def watch() -> None:
        deadline = time.monotonic() + 30
        while len(upstream.requests) < 2 and time.monotonic() < deadline:
            time.sleep(0.01)  # the requests arrive on the upstream's own thread
        gate.set()

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    return watcher


async def test_one_question_at_each_process_at_once_stores_only_the_allowed_one(
    table: Table, other_process: OtherProcess, fake_upstream: FakeUpstream, redis_url: str
) -> None:
    await table.alice.slash(table.channel, "play")
    gate = threading.Event()
    fake_upstream.queue(*(Reply.text("No. Not that.", size=3, gate=gate) for _ in range(2)))
    watcher = open_once_both_asked(fake_upstream, gate)

    async def ask_there(env: simcord.Env, world: dict) -> list[str]:
        env.backend.create_message(world["channel"].id, world["bob"].id, "Asked there: was it raining?")
        await env.settle(timeout=60)
        bot_id = env.bot.user.id
        return [m.content for m in world["channel"].history() if m.author.id == bot_id and not m.embeds]

    table.env.backend.create_message(table.channel.id, table.alice.id, "Asked here: was he alone?")
    _, there = await asyncio.gather(table.env.settle(timeout=60), other_process.run(ask_there))
    watcher.join(5)
    assert len(fake_upstream.requests) == 2  # both processes asked the model at once

    stored = await exchanges(redis_url)
    game: dict[str, Any] = await only_game(redis_url)
    assert len(stored) == 1 and game["questions"] == "1"
    assert game["status"] == "stopped" and game["ended_reason"] == "question_limit"
    # One reply counted; whichever process lost the race marks its reply as not counted.
    replies = [message.content for message in bot_replies(table)] + there
    assert sum(text == "❌ No. Not that." for text in replies) == 1, replies
    late = "No. Not that.\n\n*This game ended before your question was answered.*"
    assert sum(text == late for text in replies) == 1, replies
