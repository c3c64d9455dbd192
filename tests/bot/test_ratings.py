"""Puzzle ratings through the real bot under SimCord, on a real redis-server: the buttons after a reveal,
who may vote, one changeable vote per player, a restart, bad buttons, /puzzle list and top, and /play
no longer picking a puzzle its players rated badly."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import discord
import pytest
import redis.asyncio as aioredis
import simcord

from bot.game.custom_puzzles import CustomPuzzles, puzzle_from_form
from common.config import Config
from tests.bot.depth_pack import write_pack
from tests.bot.test_limits import LIGHTHOUSE_GUESS, play
from tests.bot_fixtures import Table, restart
from tests.fakes.upstream import FakeUpstream, Reply

UP, DOWN = "👍", "👎"


@pytest.fixture
def config_overrides(tmp_path: Path) -> dict[str, dict]:
    return {
        "game": {
            "puzzle_files": [write_pack(tmp_path)],
            "include_builtin": False,
            "recent_puzzles": 0,
            "ratings": {"min_votes": 2, "retire_below": 0.5},
        }
    }


def buttons(message: Any) -> dict[str, str]:
    """The message's buttons, emoji -> custom id (a channel message's components, or a response's raw ones)."""
    found: dict[str, str] = {}
    for row in message.components:
        for child in row["components"] if isinstance(row, dict) else row.children:
            if isinstance(child, dict):
                found[child["emoji"]["name"]] = child["custom_id"]
            else:
                found[str(child.emoji)] = child.custom_id
    return found


async def rate(actor: simcord.MemberActor, message: Any, emoji: str) -> str:
    """Click a rating button; what the clicker alone was told."""
    result = await actor.click(message, custom_id=buttons(message)[emoji])
    assert result.ephemeral and result.response is not None
    return result.response.content


async def tallies(redis_url: str, guild_id: int) -> tuple[dict[str, str], dict[str, str]]:
    """This server's and every server's counts, as stored."""
    client = aioredis.from_url(redis_url, decode_responses=True)
    try:
        return await client.hgetall(f"soup:{{ratings}}:g{guild_id}"), await client.hgetall("soup:{ratings}:all")
    finally:
        await client.aclose()


async def stop_after_a_question(
    table: Table, fake_upstream: FakeUpstream, asker: simcord.MemberActor
) -> discord.Message:
    """`asker` asks one question (answered No), then alice stops: the reveal with its rating buttons."""
    fake_upstream.queue(Reply.text("No."))
    await asker.send(table.channel, "Was it about money?")
    stopped = await table.alice.slash(table.channel, "stop")
    assert stopped.response is not None
    return stopped.response


async def test_players_rate_once_each_and_may_change_their_vote(
    table: Table, fake_upstream: FakeUpstream, redis_url: str
) -> None:
    carol = table.channel.guild.add_member(table.env.create_user("carol"))
    await play(table, "easy")  # The Dark Lighthouse
    fake_upstream.queue(Reply.text("No."), Reply.text("Correct! The vessel hit the rocks."))
    await table.alice.send(table.channel, "Was the keeper asleep?")
    await table.bob.send(table.channel, LIGHTHOUSE_GUESS)

    solved = table.channel.last_message
    assert solved.embeds[0].title == "🎉 Solved: The Dark Lighthouse"
    assert "Played “The Dark Lighthouse”? Rate it with 👍 or 👎" in solved.content
    assert set(buttons(solved)) == {UP, DOWN}

    told = await rate(carol, solved, UP)  # watched, asked nothing
    assert told == "Only players who asked a question in this game can rate “The Dark Lighthouse”."
    assert await rate(table.alice, solved, UP) == (
        "Thanks! Your 👍 for “The Dark Lighthouse” is counted. This server: 👍 1 · 👎 0."
    )
    assert "already rated" in await rate(table.alice, solved, UP)  # a second click of the same: once
    assert await rate(table.alice, solved, DOWN) == "Changed to 👎 for “The Dark Lighthouse”. This server: 👍 0 · 👎 1."
    assert (await rate(table.bob, solved, UP)).endswith("This server: 👍 1 · 👎 1.")  # the solver played too

    here, overall = await tallies(redis_url, table.channel.guild.id)
    assert here == overall == {"up:t-lighthouse": "1", "down:t-lighthouse": "1"}


async def test_a_chinese_game_is_rated_in_chinese_after_a_restart(
    table: Table, fake_upstream: FakeUpstream, redis_url: str, bot_settings: Config
) -> None:
    await play(table, "easy", language="zh")  # 断桥
    fake_upstream.queue(Reply.text("否。"))
    await table.bob.send(table.channel, "他害怕水吗？")
    stopped = (await table.alice.slash(table.channel, "stop")).response
    assert stopped is not None and "玩过“断桥”了吗？用 👍 或 👎 评价" in stopped.content

    fresh = await restart(table.env, bot_settings)  # the button still works in a new process
    assert await rate(table.bob, stopped, DOWN) == "谢谢！你对“断桥”的 👎 已计入。本服务器：👍 0 · 👎 1。"
    assert (
        await rate(table.alice, stopped, UP) == "只有在这一局提过问的玩家才能评价“断桥”。"
    )  # started it, asked nothing
    assert (await tallies(redis_url, table.channel.guild.id))[1] == {"down:t-zh-bridge": "1"}
    await fresh.close()


async def test_bad_buttons_and_closed_ratings_count_nothing(
    table: Table, fake_upstream: FakeUpstream, redis_url: str
) -> None:
    await play(table, "medium")
    nobody = await table.alice.slash(table.channel, "stop")
    assert nobody.response is not None and not nobody.response.components  # nobody played: nothing to rate

    await play(table, "medium")
    revealed = await stop_after_a_question(table, fake_upstream, table.bob)
    client = aioredis.from_url(redis_url, decode_responses=True)
    try:
        [ballot] = [key async for key in client.scan_iter("soup:{ratings}:ballot:*")]
        assert await client.ttl(ballot) > 23 * 3600  # the window: 24 hours by default
        await client.delete(ballot)  # the window closed (or the game is long gone)
    finally:
        await client.aclose()
    assert await rate(table.bob, revealed, UP) == (
        "Rating for this game has closed (or the game is unknown); nothing was counted."
    )

    # Buttons this bot never made, or made wrong: each gets a clear private answer and changes nothing.
    view = discord.ui.View(timeout=None)
    for number, custom_id in enumerate(["rate:", "rate:zz-not-a-game:up", "rate:abc123:sideways", "rate:abc123"]):
        view.add_item(discord.ui.Button(label=f"bad {number}", custom_id=custom_id))
    channel = table.env.bot.get_channel(table.channel.id)
    assert isinstance(channel, discord.TextChannel)
    stale = await channel.send("stale buttons", view=view)
    for number in range(4):
        result = await table.bob.click(stale, label=f"bad {number}")
        assert result.ephemeral and result.response is not None
        assert "nothing was counted" in result.response.content
    assert await tallies(redis_url, table.channel.guild.id) == ({}, {})


async def test_puzzle_list_and_top_show_ratings(
    table: Table, admin: simcord.MemberActor, fake_upstream: FakeUpstream, redis_url: str
) -> None:
    guild = table.channel.guild
    own = puzzle_from_form(
        "test",
        title="The Locked Greenhouse",
        story="A gardener locked herself inside her own greenhouse every night in winter.",
        answer="Her heater had broken and the compost kept the greenhouse warm enough for her to sleep in it.",
        key_facts="Her heater had broken.\nThe compost gave off heat.",
        hints="",
        language="en",
        difficulty="easy",
        puzzle_id="own-greenhouse",
    )
    bot = table.env.bot
    await CustomPuzzles(bot.redis, bot.games.store.prefix, 10).add(guild.id, [own])

    await play(table, "hard")  # The Empty Orchard: two players like it
    revealed = await stop_after_a_question(table, fake_upstream, table.bob)
    await rate(table.bob, revealed, UP)
    await play(table, "medium")  # The Silent Violin: one player dislikes it
    revealed = await stop_after_a_question(table, fake_upstream, table.bob)
    await rate(table.bob, revealed, DOWN)

    listed = await admin.slash(table.channel, "puzzle list")
    assert "`own-greenhouse` · en · easy · The Locked Greenhouse · 👍 0 👎 0 here · 👍 0 👎 0 overall" in (
        listed.response.content
    )

    top = await table.bob.slash(table.channel, "puzzle top")  # anyone may look: no answers in it
    assert top.ephemeral
    lines = top.response.content.splitlines()
    assert lines[0] == "⭐ Best-rated puzzles in this server"
    assert lines[1].startswith("**1.** The Empty Orchard (`t-orchard`, en) · here 👍 1 👎 0")
    assert lines[2].startswith("**2.** The Silent Violin (`t-violin`, en) · here 👍 0 👎 1")
    assert "Blight" not in top.response.content and "blight" not in top.response.content

    zh = await table.bob.slash(table.channel, "puzzle top", language="zh")
    assert zh.response.content.startswith("No puzzle has been rated yet.")


async def test_play_stops_picking_a_puzzle_its_players_rated_badly(
    table: Table, fake_upstream: FakeUpstream, redis_url: str
) -> None:
    await play(table, "easy")  # The Dark Lighthouse: both players dislike it (min_votes 2, retire below 50 %)
    fake_upstream.queue(Reply.text("No."))
    await table.alice.send(table.channel, "Was the keeper asleep?")
    revealed = await stop_after_a_question(table, fake_upstream, table.bob)
    await rate(table.alice, revealed, DOWN)
    await rate(table.bob, revealed, DOWN)

    table.env.bot.games.rng = random.Random(11)  # which puzzles: reproducible
    picked = []
    for _ in range(12):
        story = (await table.alice.slash(table.channel, "play", language="en")).response.embeds[0]
        picked.append(story.title)
        await table.alice.slash(table.channel, "stop")
    assert "🐢 The Dark Lighthouse" not in picked
    assert {"🐢 The Silent Violin", "🐢 The Empty Orchard"} <= set(picked)

    top = await table.bob.slash(table.channel, "puzzle top", language="en")
    assert "The Dark Lighthouse (`t-lighthouse`, en) · here 👍 0 👎 2 · overall 👍 0 👎 2 · retired" in (
        top.response.content
    )


async def test_newgame_offers_the_replaced_puzzle_for_rating(table: Table, fake_upstream: FakeUpstream) -> None:
    await play(table, "hard")  # The Empty Orchard
    fake_upstream.queue(Reply.text("No."))
    await table.bob.send(table.channel, "Was the farmer poor?")
    replaced = (await table.alice.slash(table.channel, "newgame", language="en", difficulty="easy")).response
    assert replaced is not None
    reveal, _summary, story = replaced.embeds
    assert reveal.title == "🐢 The answer to “The Empty Orchard”" and story.title == "🐢 The Dark Lighthouse"
    assert replaced.content.startswith("Played “The Empty Orchard”? Rate it")  # the old puzzle, not the new
    assert (await rate(table.bob, replaced, UP)).startswith("Thanks! Your 👍 for “The Empty Orchard” is counted.")
