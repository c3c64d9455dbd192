"""Appeals end to end: the real bot under SimCord, real Redis, a scripted host for questions and appeal samples."""

from __future__ import annotations

import time

import discord
import pytest

from bot.game.puzzles import builtin_puzzles
from tests.bot.test_key_facts import found_in_redis, payload_texts, play, solved_announcements
from tests.bot_fixtures import Table, restart
from tests.fakes.redis_state import exchanges, only_game
from tests.fakes.upstream import FakeUpstream, Reply

HICCUPS = next(puzzle for puzzle in builtin_puzzles() if puzzle.id == "en-hiccup-bar")
TURTLE = next(puzzle for puzzle in builtin_puzzles() if puzzle.id == "zh-sea-turtle-soup")


@pytest.fixture
def config_overrides() -> dict[str, dict]:
    return {"game": {"question_cooldown": 0, "max_appeals": 2, "appeal_window": 300}, "appeal": {"samples": 3}}


def bot_replies(table: Table) -> list[discord.Message]:
    """The bot's replies to questions (not embeds, not appeal notices)."""
    bot_id = table.env.bot.user.id
    return [
        message
        for message in table.channel.history()
        if message.author.id == bot_id and not message.embeds and not message.content.startswith("⚖️")
    ]


def notices(table: Table) -> list[str]:
    bot_id = table.env.bot.user.id
    return [m.content for m in table.channel.history() if m.author.id == bot_id and m.content.startswith("⚖️")]


def button_ids(message: discord.Message) -> list[str]:
    return [child.custom_id for row in message.components for child in row.children]  # type: ignore[attr-defined]


async def found(table: Table, redis_url: str) -> dict[int, int]:
    """Who found each key fact, from Redis."""
    return {index: fact["by"] for index, fact in (await found_in_redis(table, redis_url)).items()}


def samples(fake_upstream: FakeUpstream, *texts: str) -> None:
    fake_upstream.queue(*(Reply.text(text) for text in texts))


async def test_a_wrong_no_turned_yes_edits_the_reply_and_credits_the_fact(
    table: Table, fake_upstream: FakeUpstream, redis_url: str
) -> None:
    await play(table, HICCUPS)
    samples(fake_upstream, "No.\n[facts: none]")
    await table.alice.send(table.channel, "Did he have hiccups?")
    [reply] = bot_replies(table)
    assert reply.content == "❌ No." and button_ids(reply) == [
        f"appeal:{(await only_game(redis_url))['game_id']}:1:{table.alice.id}"
    ]

    samples(fake_upstream, *["Yes, he did.\n[facts: 1]"] * 2, "No.\n[facts: none]")
    result = await table.alice.click(reply, label="Appeal")
    assert not result.ephemeral
    assert notices(table) == ["⚖️ **alice** contested the verdict on “Did he have hiccups?”: on a second look the host "
                              "changed it from **No** to **Yes**."]  # fmt: skip
    [reply] = bot_replies(table)
    assert reply.content == (
        "~~❌ No.~~\n✅ Yes, he did.\n🟩⬜⬜ 1/3 · 1 new key fact(s) found!\n*⚖️ Changed on appeal.*"
    )
    assert button_ids(reply) == []  # a verdict is contested once
    assert await found(table, redis_url) == {0: table.alice.id}
    [exchange] = await exchanges(redis_url)
    assert (exchange["v"], exchange["a"], exchange["f"]) == ("yes", "no", [0])
    # The summary records it.
    await table.alice.slash(table.channel, "stop")
    summaries = [embed for m in table.channel.history() for embed in m.embeds if embed.title == "📊 Game summary"]
    assert "⚖️ Appeals: 1 (1 verdict(s) changed)" in summaries[-1].description
    stats = (await table.alice.slash(table.channel, "stats")).response.embeds[0].description
    assert "**Score:** 1 (rank 1)" in stats and "**Key facts found:** 1" in stats  # the fact the appeal credited


async def test_a_reply_to_ask_carries_the_button_too(table: Table, fake_upstream: FakeUpstream, redis_url: str) -> None:
    await play(table, HICCUPS)
    samples(fake_upstream, "No.\n[facts: none]")
    asked = await table.alice.slash(table.channel, "ask", question="Did he have hiccups?")
    reply = asked.response
    assert reply is not None and reply.content == "**alice asked:** Did he have hiccups?\n❌ No."
    samples(fake_upstream, *["Yes.\n[facts: 1]"] * 3)
    await table.alice.click(reply, label="Appeal")
    edited = next(m for m in table.channel.history() if m.content.startswith("**alice asked:**"))
    assert edited.content == (
        "**alice asked:** Did he have hiccups?\n~~❌ No.~~\n✅ Yes.\n🟩⬜⬜ 1/3 · 1 new key fact(s) found!\n"
        "*⚖️ Changed on appeal.*"
    )
    assert await found(table, redis_url) == {0: table.alice.id}


async def test_a_guess_turned_correct_solves_under_the_solving_rule(
    table: Table, fake_upstream: FakeUpstream, redis_url: str
) -> None:
    await play(table, HICCUPS)
    samples(fake_upstream, "Yes.\n[facts: 1]", "Yes.\n[facts: 2]")
    await table.alice.send(table.channel, "Did he have hiccups?")
    await table.alice.send(table.channel, "He had hiccups and wanted the water to stop them?")
    samples(fake_upstream, "No.\n[facts: none]")
    await table.bob.send(table.channel, "The barman frightened the hiccups out of him with the pistol.")
    guess = bot_replies(table)[-1]
    assert guess.content == "❌ No." and not solved_announcements(table)

    explanation = f"Correct! {HICCUPS.answer}"
    samples(fake_upstream, *[f"{explanation}\n[facts: 3]"] * 3)
    await table.bob.click(guess, label="Appeal")
    game = await only_game(redis_url)
    assert game["status"] == "solved" and game["solver"] == str(table.bob.id)
    [announcement] = solved_announcements(table)
    assert "bob" in announcement.embeds[0].description
    assert any(custom_id.startswith("rate:") for custom_id in button_ids(announcement))  # as after any solve
    assert bot_replies(table)[-1].content.startswith(f"~~❌ No.~~\n🎉 {explanation}\n🟩🟩🟩 3/3")
    assert await found(table, redis_url) == {0: table.alice.id, 1: table.alice.id, 2: table.bob.id}
    stats = (await table.alice.slash(table.channel, "stats", member=table.bob)).response.embeds[0].description
    assert "**Score:** 4 (rank 1)" in stats and "**Solves:** 1" in stats  # the solve and the fact it found


async def test_in_chinese_appeal_by_command_and_a_solve_by_button(
    table: Table, fake_upstream: FakeUpstream, redis_url: str
) -> None:
    await play(table, TURTLE)
    samples(fake_upstream, "否。\n[要点：无]")
    await table.alice.send(table.channel, "他和妻子是不是遇到海难，流落到了荒岛上？")
    samples(fake_upstream, *["是。\n[要点：1]"] * 3)
    result = await table.alice.slash(table.channel, "appeal")  # the caller's latest verdict
    assert not result.ephemeral
    assert "主持人复核后将判定由 **否** 改为 **是**" in notices(table)[-1]
    assert (
        bot_replies(table)[0].content == "~~❌ 否。~~\n✅ 是。\n🟩⬜⬜⬜ 1/4 · 新找到 1 个关键要点！\n*⚖️ 申诉后改判。*"
    )
    assert await found(table, redis_url) == {0: table.alice.id}

    samples(fake_upstream, "否。\n[要点：无]")
    await table.bob.send(table.channel, "妻子死在岛上，同伴骗他吃了妻子的肉，现在尝到真的海龟汤才明白。")
    samples(fake_upstream, *["正确！\n【要点：2、3、4】"] * 3)
    await table.bob.click(bot_replies(table)[-1], label="申诉")
    assert solved_announcements(table) and (await only_game(redis_url))["solver"] == str(table.bob.id)
    assert await found(table, redis_url) == {0: table.alice.id, 1: table.bob.id, 2: table.bob.id, 3: table.bob.id}


async def test_who_may_appeal_how_often_and_until_when(
    table: Table, fake_upstream: FakeUpstream, redis_url: str
) -> None:
    await play(table, HICCUPS)
    samples(fake_upstream, "No.", "No.", "No.")
    for question in ("Was it raining?", "Was he thirsty?", "Was it night?"):
        await table.alice.send(table.channel, question)
    first, second, third = bot_replies(table)

    refused = await table.bob.click(first, label="Appeal")
    assert refused.ephemeral and "Only the player who asked" in refused.response.content

    samples(fake_upstream, "No.", "No.", "No.")
    await table.alice.click(first, label="Appeal")
    assert "kept **No**" in notices(table)[-1] and button_ids(bot_replies(table)[0]) == []
    samples(fake_upstream, "No.", "No.", "No.")
    judged = await table.alice.slash(table.channel, "appeal")  # the caller's latest verdict: the third
    assert not judged.ephemeral and button_ids(third) and not button_ids(bot_replies(table)[2])
    refused = await table.alice.click(second, label="Appeal")
    assert refused.ephemeral and refused.response.content == "This game's appeals are used up (2 per game)."
    assert (await only_game(redis_url))["appeals"] == "2"

    # A later game: the window, measured from the verdict.
    await table.alice.slash(table.channel, "newgame")
    refused = await table.alice.click(second, label="Appeal")  # a button of the game that was replaced
    assert refused.ephemeral and "game that is over" in refused.response.content
    samples(fake_upstream, "No.")
    await table.alice.send(table.channel, "Was it raining?")
    table.env.bot.appeals.clock = lambda: time.time() + 301
    refused = await table.alice.click(bot_replies(table)[-1], label="Appeal")
    assert refused.response.content == "Too late: a verdict can be contested for 300 second(s) after it is given."


async def test_a_button_works_after_a_restart_and_not_after_the_game_ended(
    table: Table, fake_upstream: FakeUpstream, redis_url: str, bot_settings
) -> None:
    await play(table, HICCUPS)
    samples(fake_upstream, "No.", "No.")
    await table.alice.send(table.channel, "Did he have hiccups?")
    await table.alice.send(table.channel, "Was it raining?")
    first, second = bot_replies(table)
    fresh = await restart(table.env, bot_settings)
    samples(fake_upstream, *["Yes.\n[facts: 1]"] * 3)
    await table.alice.click(first, label="Appeal")
    assert await found(table, redis_url) == {0: table.alice.id}
    await table.alice.slash(table.channel, "stop")
    refused = await table.alice.click(second, label="Appeal")
    assert (
        refused.ephemeral
        and refused.response.content == "This game has ended, so its verdicts can no longer be contested."
    )
    await fresh.close()


async def test_the_appeal_reply_passes_the_leak_guard(table: Table, fake_upstream: FakeUpstream) -> None:
    await play(table, HICCUPS)
    samples(fake_upstream, "No.\n[facts: none]")
    await table.alice.send(table.channel, "Was something wrong with his body?")
    leaking = "Yes: the bartender noticed his hiccups and scared them away with the gun.\n[facts: 1]"
    samples(fake_upstream, leaking, leaking, leaking)
    await table.alice.click(bot_replies(table)[-1], label="Appeal")
    assert bot_replies(table)[-1].content.startswith("~~❌ No.~~\n✅ Yes\n")
    assert not any("bartender noticed" in payload for payload in payload_texts(table))
