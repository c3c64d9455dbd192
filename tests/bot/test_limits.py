"""Difficulty, question and time limits, and the end-of-game summary, through the real bot on real Redis.

The time limit is kept by a timer in the cog; SimCord's clock is virtual, so the tests move it with
env.advance_time (no question asked), across a restart, and by a deadline already past when a question comes.
"""

from __future__ import annotations

import re
import time
from pathlib import Path

import discord
import pytest
import redis.asyncio as aioredis

from common.config import Config
from tests.bot.depth_pack import write_pack
from tests.bot.test_hints import mark_found
from tests.bot_fixtures import Table, restart
from tests.fakes.redis_state import only_game
from tests.fakes.upstream import FakeUpstream, Reply

LIGHTHOUSE_GUESS = "Did a supply vessel hit the rocks because the keeper switched off the beam?"


@pytest.fixture
def config_overrides(tmp_path: Path) -> dict[str, dict]:
    return {
        "game": {
            "puzzle_files": [write_pack(tmp_path)],
            "include_builtin": False,
            "max_questions": 5,
            "time_limit_minutes": 10,
            "limits": {"easy": {"max_questions": 2, "time_limit_minutes": 1}, "hard": {"max_questions": None}},
        }
    }


async def play(table: Table, difficulty: str, language: str = "en") -> discord.Embed:
    result = await table.alice.slash(table.channel, "play", difficulty=difficulty, language=language)
    assert not result.ephemeral
    return result.response.embeds[0]


def bot_messages(table: Table) -> list[discord.Message]:
    return [message for message in table.channel.history() if message.author.id == table.env.bot.user.id]


def summary_of(message: discord.Message) -> str:
    [summary] = [embed for embed in message.embeds if embed.title in ("📊 Game summary", "📊 本局总结")]
    return summary.description or ""


async def set_field(redis_url: str, field: str, value: str) -> None:
    client = aioredis.from_url(redis_url)
    try:
        [key] = [key async for key in client.scan_iter("soup:*:game")]
        await client.hset(key, field, value)
    finally:
        await client.aclose()


async def test_play_picks_the_difficulty_asked_for(table: Table, redis_url: str) -> None:
    story = await play(table, "hard")
    assert story.title == "🐢 The Empty Orchard"
    game = await only_game(redis_url)
    assert game["difficulty"] == "hard" and "max_questions" not in game  # hard overrides the limit to none
    assert game["time_limit"] == "600.0"  # the game-wide ten minutes

    await table.alice.slash(table.channel, "stop")
    medium = await play(table, "medium")
    assert medium.title == "🐢 The Silent Violin"
    assert (await only_game(redis_url))["max_questions"] == "5"

    await table.alice.slash(table.channel, "stop")
    none = await table.alice.slash(table.channel, "play", difficulty="hard", language="zh")
    assert none.ephemeral and none.response.content == "No hard puzzles in that language are loaded here."


async def test_the_question_limit_reveals_the_answer_with_a_summary(
    table: Table, fake_upstream: FakeUpstream, redis_url: str
) -> None:
    await play(table, "easy")  # easy: two questions
    fake_upstream.default = Reply.text("No.")
    await table.bob.send(table.channel, "Was the keeper asleep?")
    assert (await only_game(redis_url))["status"] == "active"
    await table.alice.send(table.channel, "Was it a storm?")

    ending = table.channel.last_message
    notice, rating = ending.content.splitlines()
    assert notice == "🛑 That was the last of the 2 questions this game allows. Here is the answer."
    assert rating.startswith("Played “The Dark Lighthouse”? Rate it")  # alice asked: she may rate it
    assert ending.embeds[0].title == "🐢 The answer to “The Dark Lighthouse”"
    assert "supply vessel" in ending.embeds[0].description
    summary = summary_of(ending)
    assert "Ended: question limit reached" in summary and "Questions asked: 2/2" in summary
    game = await only_game(redis_url)
    assert game["status"] == "stopped" and game["ended_reason"] == "question_limit" and game["questions"] == "2"

    await table.bob.send(table.channel, "Was it a whale?")
    assert len(fake_upstream.requests) == 2  # the game is over: not asked
    assert bot_messages(table)[-1].id == ending.id  # and not answered


async def test_the_time_limit_ends_a_game_nobody_asks_about(table: Table, redis_url: str) -> None:
    await play(table, "easy")  # easy: one minute
    await table.env.advance_time(50)
    assert (await only_game(redis_url))["status"] == "active"
    await table.env.advance_time(15)

    ending = table.channel.last_message
    assert ending.content == "⏰ Time is up: this game's 1 minute(s) have run out. Here is the answer."
    assert "supply vessel" in ending.embeds[0].description
    assert "Ended: time ran out" in summary_of(ending)
    game = await only_game(redis_url)
    assert game["status"] == "stopped" and game["ended_reason"] == "time_limit"


async def test_a_restarted_bot_keeps_the_clock(table: Table, bot_settings: Config, redis_url: str) -> None:
    await play(table, "easy")
    fresh = await restart(table.env, bot_settings)  # the old process's timer goes with it
    await table.env.advance_time(61)
    assert table.channel.last_message.content.startswith("⏰ Time is up")
    assert (await only_game(redis_url))["ended_reason"] == "time_limit"
    await fresh.close()


async def test_a_question_after_the_deadline_ends_the_game_instead_of_being_asked(
    table: Table, fake_upstream: FakeUpstream, redis_url: str
) -> None:
    """A deadline already past (as when no process kept the clock) is seen by the next question."""
    await play(table, "medium")
    await set_field(redis_url, "started_at", repr(time.time() - 11 * 60))
    await table.bob.send(table.channel, "Was the violin real?")
    assert fake_upstream.requests == []
    messages = bot_messages(table)
    assert messages[-2].content == "This game ended before your question was answered."
    assert messages[-1].content.startswith("⏰ Time is up: this game's 10 minute(s)")
    assert (await only_game(redis_url))["ended_reason"] == "time_limit"


async def test_the_summary_of_a_solve_says_who_found_what(
    table: Table, fake_upstream: FakeUpstream, redis_url: str
) -> None:
    await play(table, "easy")
    fake_upstream.queue(Reply.text("No."))
    await table.alice.send(table.channel, "Was the keeper asleep?")
    await mark_found(redis_url, table.channel.id, 0, table.bob.id)
    await table.alice.slash(table.channel, "hint")
    fake_upstream.queue(Reply.text("Correct! The vessel hit the rocks."))
    await table.bob.send(table.channel, LIGHTHOUSE_GUESS)

    solved = table.channel.last_message
    assert solved.embeds[0].title == "🎉 Solved: The Dark Lighthouse"
    lines = summary_of(solved).splitlines()
    assert lines[0] == f"🎉 Solved by <@{table.bob.id}>"
    assert "❓ Questions asked: 2/2" in lines  # the solving guess was the last allowed question: solved wins
    assert "💡 Hints used: 1/3" in lines  # easy keeps the game-wide max_hints
    assert any(re.fullmatch(r"⏱️ Time taken: \d+ min \d+ s", line) for line in lines)
    assert "**Key facts found: 3/3**" in lines  # the solve covers the two facts nobody had found
    assert f"✅ A supply vessel was due that night. — found by <@{table.bob.id}>" in lines
    assert f"✅ Without the beam the captain hit the rocks. — found by <@{table.bob.id}>" in lines
    assert f"✅ The keeper caused the wreck. — found by <@{table.bob.id}>" in lines
    assert (await only_game(redis_url))["status"] == "solved"


async def test_stop_and_newgame_reveal_with_a_summary(table: Table, fake_upstream: FakeUpstream) -> None:
    await play(table, "medium")
    fake_upstream.queue(Reply.text("No."))
    await table.bob.send(table.channel, "Was the violin real?")
    stopped = await table.alice.slash(table.channel, "stop")
    assert "stopped by alice" in stopped.response.content
    summary = summary_of(stopped.response)
    assert "🛑 Ended before it was solved" in summary and "Questions asked: 1/5" in summary
    assert "**Key facts found: 0/2**" in summary and "⬜ He played a cheap copy that night." in summary

    await play(table, "easy", language="zh")
    replaced = await table.alice.slash(table.channel, "newgame", language="en", difficulty="hard")
    reveal, summary_embed, story = replaced.response.embeds
    assert reveal.title == "🐢 “断桥”的汤底"
    assert summary_embed.title == "📊 本局总结"
    assert "🛑 未破解即结束" in summary_embed.description and "❓ 提问数：0/2" in summary_embed.description
    assert "⬜ 河里漂着他的照片。" in summary_embed.description
    assert story.title == "🐢 The Empty Orchard"


async def test_a_hint_after_the_deadline_reveals_the_answer(
    table: Table, fake_upstream: FakeUpstream, redis_url: str
) -> None:
    await play(table, "medium")
    await set_field(redis_url, "started_at", repr(time.time() - 11 * 60))
    refused = await table.bob.slash(table.channel, "hint")
    assert refused.ephemeral and "No game is running" in refused.response.content
    ending = bot_messages(table)[-1]
    assert ending.content.startswith("⏰ Time is up") and "Ended: time ran out" in summary_of(ending)
    assert (await only_game(redis_url))["hints_used"] == "0"
