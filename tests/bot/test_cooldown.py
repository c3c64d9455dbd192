"""The per-player cooldown through the real bot: taken once per accepted question, never by a question the
model did not answer because it was busy."""

from __future__ import annotations

import pytest

from tests.bot.test_game_flow import bot_replies, start_game
from tests.bot_fixtures import Table
from tests.fakes.redis_state import exchanges
from tests.fakes.upstream import FakeUpstream, Reply


@pytest.fixture
def config_overrides() -> dict[str, dict]:
    return {"game": {"question_cooldown": 5}, "model": {"max_retries": 1}}


async def test_two_quick_messages_from_one_player_pass_the_cooldown_once(
    table: Table, fake_upstream: FakeUpstream, redis_url: str
) -> None:
    await start_game(table)
    fake_upstream.default = Reply.text("No.")
    env = table.env
    # Both arrive before the bot runs: the second is checked while the first is still loading the game.
    env.backend.create_message(table.channel.id, table.bob.id, "Is it raining?")
    env.backend.create_message(table.channel.id, table.bob.id, "Is it snowing?")
    await env.settle()

    assert len(fake_upstream.requests) == 1
    assert [entry["q"] for entry in await exchanges(redis_url)] == ["Is it raining?"]
    shown = [message.content for message in bot_replies(table)]
    assert shown.count("❌ No.") == 1
    assert sum("Slow down a little" in content for content in shown) == 1


@pytest.mark.parametrize("retry_after", ["2", None])
async def test_a_busy_model_gets_the_busy_reply_and_starts_no_cooldown(
    table: Table, fake_upstream: FakeUpstream, redis_url: str, retry_after: str | None
) -> None:
    """The model service answers 429 when its queue is full (OpenAI when it rate-limits): after the retry,
    the player is told the host is busy, not that it failed, and may ask again at once."""
    await start_game(table)
    fake_upstream.queue(Reply(status=429, retry_after=retry_after), Reply(status=429, retry_after=retry_after))
    await table.bob.send(table.channel, "Is it raining?")
    assert (
        bot_replies(table)[-1].content
        == "⏳ The host is busy; ask again in a few seconds. Your question was not counted."
    )
    assert len(fake_upstream.requests) == 2  # the try and one retry
    assert await exchanges(redis_url) == []

    fake_upstream.queue(Reply.text("No."))
    await table.bob.send(table.channel, "Is it raining?")  # at once: the clock has not moved
    assert bot_replies(table)[-1].content == "❌ No."
    assert len(await exchanges(redis_url)) == 1


async def test_a_question_the_model_could_not_answer_starts_no_cooldown(
    table: Table, fake_upstream: FakeUpstream, redis_url: str
) -> None:
    """The model is down (500 on the try and the retry): "please ask again" must not be followed by "slow down"."""
    await start_game(table)
    fake_upstream.queue(Reply(status=500), Reply(status=500))
    await table.bob.send(table.channel, "Is it raining?")
    assert bot_replies(table)[-1].content.startswith("⚠️ The host can't answer right now.")

    fake_upstream.queue(Reply.text("No."))
    await table.bob.send(table.channel, "Is it raining?")  # at once: the clock has not moved
    assert bot_replies(table)[-1].content == "❌ No."
    assert len(await exchanges(redis_url)) == 1


async def test_an_interrupted_reply_starts_no_cooldown(
    table: Table, fake_upstream: FakeUpstream, redis_url: str
) -> None:
    await start_game(table)
    fake_upstream.queue(Reply.text("No, and that is not all", size=4, cut_after=2))
    await table.bob.send(table.channel, "Is it raining?")
    assert "Interrupted: the host stopped mid-reply" in bot_replies(table)[-1].content

    fake_upstream.queue(Reply.text("No."))
    await table.bob.send(table.channel, "Is it raining?")
    assert bot_replies(table)[-1].content == "❌ No."
    assert len(await exchanges(redis_url)) == 1

    # An answered question still starts it.
    await table.bob.send(table.channel, "Is it snowing?")
    assert "Slow down a little" in bot_replies(table)[-1].content
